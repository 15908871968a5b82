"""Render the built documentation in headless Chromium and fail on broken pages.

Usage (after ``bash docs/build.sh``)::

    python docs/check_render.py [--build-dir docs/_build/html] [--out docs/_build/render]

Checks, exit status 1 if any fails:

1. every ``<img src>`` of every built HTML page that points into the build exists;
2. for the landing page and one gallery page (``auto_examples/plot_cross_entropy.html``,
   or the first gallery page with figures):

   * Chromium loads the page inside a checker page and reports, from the browser itself,
     every image that did not load or decode (``naturalWidth == 0``);
   * no uncaught JavaScript error is logged by the page's own (local) scripts;
   * MathJax typesets the page's formulas (the site serves MathJax itself);
   * the gallery page shows at least one figure;
   * Chromium takes a screenshot (written to ``--out``) of the page.

Chromium comes from the distribution (Debian: ``apt-get install -y chromium``); nothing
is downloaded. The site serves its own MathJax (sphinx-mathjax-offline); anything a page
would still fetch from the network is reported but does not fail the check, since the
build machine may be offline.
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT = 120  # seconds per Chromium run

CHECKER_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>render check</title></head>
<body>
<pre id="result">pending</pre>
<iframe id="page" src="{url}" width="1280" height="1600"></iframe>
<script>
function report(out) {{
  document.getElementById("result").textContent = JSON.stringify(out);
}}
document.getElementById("page").addEventListener("load", function () {{
  var doc;
  try {{
    doc = this.contentDocument;
  }} catch (e) {{
    report({{error: "cannot inspect the page: " + e}});
    return;
  }}
  if (!doc || !doc.body) {{
    report({{error: "page did not load"}});
    return;
  }}
  var imgs = Array.prototype.slice.call(doc.images);
  imgs.forEach(function (img) {{ img.loading = "eager"; }});
  var waited = 0;
  var nMath = doc.querySelectorAll("span.math, div.math").length;
  (function poll() {{
    var pending = imgs.filter(function (img) {{ return !img.complete; }});
    var nTypeset = doc.querySelectorAll("mjx-container").length;
    if ((pending.length || (nMath && !nTypeset)) && waited < 20000) {{
      waited += 100;
      setTimeout(poll, 100);
      return;
    }}
    report({{
      title: doc.title,
      text_length: doc.body.innerText.length,
      math: nMath,
      typeset: doc.querySelectorAll("mjx-container").length,
      images: imgs.map(function (img) {{
        return {{src: img.getAttribute("src"), complete: img.complete,
                 width: img.naturalWidth, height: img.naturalHeight}};
      }})
    }});
  }})();
}});
</script>
</body></html>
"""


class _ImgParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            src = dict(attrs).get("src")
            if src:
                self.sources.append(src)


def find_chromium():
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def missing_static_images(build_dir):
    """(page, src) for every local <img src> of every built page that does not exist."""
    missing = []
    for page in sorted(build_dir.rglob("*.html")):
        parser = _ImgParser()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        for src in parser.sources:
            parts = urlsplit(src)
            if parts.scheme or src.startswith("//"):
                continue  # data: URIs and remote images are not part of the build
            target = (page.parent / unquote(parts.path)).resolve()
            if not target.is_file():
                missing.append((page.relative_to(build_dir), src))
    return missing


def run_chromium(chromium, args):
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--hide-scrollbars", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)


def console_messages(stderr):
    """Console messages Chromium logged: (message, source)."""
    found = []
    for line in stderr.splitlines():
        m = re.search(r':CONSOLE[^\]]*\] "(.*)", source: (\S*)', line)
        if m:
            found.append((m.group(1), m.group(2)))
    return found


def check_page(chromium, page, out_dir, workdir, min_images):
    """Return a list of problems for one page; writes its screenshot to out_dir."""
    problems = []
    url = page.resolve().as_uri()
    checker = workdir / f"check_{page.stem}.html"
    checker.write_text(CHECKER_PAGE.format(url=url), encoding="utf-8")

    result = run_chromium(chromium, [
        "--allow-file-access-from-files", "--enable-logging=stderr", "--v=0",
        "--virtual-time-budget=30000", "--window-size=1400,1800", "--dump-dom",
        checker.as_uri(),
    ])
    if result.returncode != 0:
        problems.append(f"chromium exited with {result.returncode} loading the page")
    m = re.search(r'<pre id="result">(.*?)</pre>', result.stdout, re.S)
    report_text = m.group(1) if m else "pending"
    if report_text == "pending":
        problems.append("the page never finished loading in Chromium")
        report = {}
    else:
        report = json.loads(report_text.replace("&quot;", '"').replace("&amp;", "&")
                            .replace("&lt;", "<").replace("&gt;", ">"))
    if report.get("error"):
        problems.append(report["error"])
    images = report.get("images", [])
    broken = [img["src"] for img in images if not img["complete"] or img["width"] == 0]
    for src in broken:
        problems.append(f"image did not load in the browser: {src}")
    if report and len(images) < min_images:
        problems.append(f"expected at least {min_images} image(s), found {len(images)}")
    if report.get("math") and not report.get("typeset"):
        problems.append(f"{report['math']} formula(s) were not typeset by MathJax")
    if report and not report.get("title"):
        problems.append("page has no title")
    if report and report.get("text_length", 0) < 200:
        problems.append("page body is (nearly) empty")

    for message, source in console_messages(result.stderr):
        local = source.startswith("file://")
        if local and message.startswith("Uncaught"):
            problems.append(f"JavaScript error: {message} ({source})")
        elif not local or "ERR_" in message or "Failed to load" in message:
            print(f"    note (not fatal): {message} ({source or 'no source'})")

    shot = out_dir / f"{page.stem}.png"
    if shot.exists():
        shot.unlink()
    result = run_chromium(chromium, [
        f"--screenshot={shot}", "--window-size=1280,1600", "--virtual-time-budget=10000", url,
    ])
    if result.returncode != 0 or not shot.is_file() or shot.stat().st_size < 1000:
        problems.append(f"screenshot failed (exit {result.returncode})")
    elif shot.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        problems.append("screenshot is not a PNG")

    n_ok = len(images) - len(broken)
    print(f"  {page.name}: {n_ok}/{len(images)} images rendered, "
          f"{report.get('typeset', 0)} formulas typeset, screenshot {shot}")
    return problems


def main(argv=None):
    docs_dir = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, default=docs_dir / "_build" / "html")
    parser.add_argument("--out", type=Path, default=docs_dir / "_build" / "render")
    args = parser.parse_args(argv)

    build_dir = args.build_dir.resolve()
    index = build_dir / "index.html"
    if not index.is_file():
        print(f"FAIL: {index} does not exist; build the docs first (bash docs/build.sh)")
        return 1
    gallery = build_dir / "auto_examples" / "plot_cross_entropy.html"
    if not gallery.is_file():
        candidates = sorted((build_dir / "auto_examples").glob("plot_*.html"))
        gallery = candidates[0] if candidates else None
    if gallery is None:
        print("FAIL: no gallery page (auto_examples/plot_*.html) in the build")
        return 1

    chromium = find_chromium()
    if chromium is None:
        print("FAIL: no Chromium found; install it with: apt-get install -y chromium")
        return 1
    args.out.mkdir(parents=True, exist_ok=True)

    problems = []
    missing = missing_static_images(build_dir)
    for page, src in missing:
        problems.append(f"{page}: <img src={src!r}> does not exist in the build")
    print(f"static check: {len(missing)} missing image file(s) across the built pages")

    with tempfile.TemporaryDirectory() as tmp:
        for page, min_images in [(index, 0), (gallery, 1)]:
            problems += [f"{page.relative_to(build_dir)}: {p}"
                         for p in check_page(chromium, page, args.out, Path(tmp), min_images)]

    if problems:
        print("render check FAILED:")
        for p in problems:
            print("  -", p)
        return 1
    print("render check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Render the built documentation in headless Chromium and fail on broken pages.

Usage (after ``bash docs/build.sh``)::

    python docs/check_render.py [--build-dir docs/_build/html] [--out docs/_build/render]
    python docs/check_render.py benchmarks.html user_guide.html   # only these pages

Checks, exit status 1 if any fails:

1. every ``<img src>`` of every built HTML page that points into the build exists;
2. every built page (but those in ``SKIPPED_PAGES``) is loaded by Chromium at each width
   of ``WIDTHS`` (1280 and 1600 px, the common desktop windows, scrollbars shown), and
   the browser itself reports:

   * every image that did not load or decode (``naturalWidth == 0``);
   * formulas that MathJax did not typeset (the site serves MathJax itself);
   * uncaught JavaScript errors of the page's own (local) scripts;
   * the layout: nothing is cut and nothing sticks out.  Every piece of visible text,
     every image and every formula glyph must lie inside each box that clips it
     (``overflow: hidden``), and inside its column: the article, the side bars, the
     header and the footer never scroll sideways, and neither does the page.  A wide
     block may scroll sideways only inside a box of its own (code, a table's container,
     a display formula), where the reader gets a scrollbar next to it;

3. the landing page, one gallery page (``auto_examples/plot_cross_entropy.html``, or
   the first gallery page) with at least one figure, the benchmarks page and the first
   API page are also screenshotted at each width into ``--out``.

Chromium comes from the distribution (Debian: ``apt-get install -y chromium``); nothing
is downloaded. The site serves its own MathJax (sphinx-mathjax-offline); anything a page
would still fetch from the network is reported but does not fail the check, since the
build machine may be offline.
"""

import argparse
import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tempfile
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT = 120  # seconds per Chromium run
WIDTHS = (1280, 1600)  # window widths (CSS px) at which every page is laid out
HEIGHT = 1600
# Not laid out: the search page and the viewcode listings have no prose of ours, and
# sphinx-gallery's timing tables load jQuery from a CDN (an error when offline).
SKIPPED_PAGES = ("search.html", "_modules/*", "_static/*", "*sg_execution_times.html")

# Run by the checker page inside each frame once it has loaded: returns the layout
# problems of the frame's document (see the module docstring).  A "column" is a box of
# the page's grid; text wider than its column must scroll in a box of its own.
LAYOUT_SCRIPT = r"""
var COLUMNS = ".bd-article-container, .bd-sidebar-primary, .bd-sidebar-secondary, " +
              ".bd-header, .bd-footer, .bd-main, .bd-content, .bd-page-width";
var TOLERANCE = 2;  // px: glyph side bearings and sub-pixel rounding

function layoutProblems(doc, win) {
  var styles = new Map(), boxes = new Map(), hiddenCache = new Map(), found = new Map();
  function style(el) {
    if (!styles.has(el)) styles.set(el, win.getComputedStyle(el));
    return styles.get(el);
  }
  function box(el) {  // the padding box, in which a clipping box shows its content
    if (!boxes.has(el)) {
      var r = el.getBoundingClientRect();
      var left = r.left + el.clientLeft, top = r.top + el.clientTop;
      boxes.set(el, {left: left, right: left + el.clientWidth, top: top,
                     bottom: top + el.clientHeight});
    }
    return boxes.get(el);
  }
  function hidden(el) {  // not shown, or shown only to screen readers
    if (!el || el === doc.documentElement) return false;
    if (!hiddenCache.has(el)) {
      var s = style(el), r = el.getBoundingClientRect();
      var own = s.visibility === "hidden" || s.opacity === "0" || s.clip !== "auto" ||
                s.clipPath !== "none" || el.tagName === "MJX-ASSISTIVE-MML" ||
                ((r.width <= 1 || r.height <= 1) && s.overflow !== "visible");
      hiddenCache.set(el, own || hidden(el.parentElement));
    }
    return hiddenCache.get(el);
  }
  function describe(el) {
    var s = el.tagName.toLowerCase();
    if (el.id) return s + "#" + el.id;
    if (typeof el.className === "string" && el.className.trim()) {
      s += "." + el.className.trim().split(/\s+/).slice(0, 2).join(".");
    }
    return s;
  }
  function where(el) {  // the nearest ancestor with an id, then the element
    for (var a = el.parentElement; a && a !== doc.body; a = a.parentElement) {
      if (a.id) return describe(a) + " ... " + describe(el);
    }
    return describe(el);
  }
  function report(kind, container, px, sample) {
    var key = kind + " " + where(container);
    var entry = found.get(key);
    if (!entry) {
      entry = {kind: kind, where: where(container), px: 0, sample: sample, count: 0};
      found.set(key, entry);
    }
    entry.count += 1;
    if (px > entry.px) { entry.px = px; entry.sample = sample; }
  }
  function beyond(r, b) {  // how far rect r reaches outside box b, per direction
    return {x: Math.max(b.left - r.left, r.right - b.right, 0),
            y: Math.max(b.top - r.top, r.bottom - b.bottom, 0)};
  }
  function check(r, start, sample) {
    if (r.width === 0 || r.height === 0) return;
    for (var a = start; a && a !== doc.documentElement; a = a.parentElement) {
      var s = style(a), out = beyond(r, box(a));
      var isColumn = a.matches(COLUMNS);
      if (s.overflowX === "visible" && s.overflowY === "visible") {
        if (isColumn && out.x > TOLERANCE) {
          report("sticks out of its column", a, Math.round(out.x), sample);
          return;
        }
        continue;
      }
      var clipsX = s.overflowX === "hidden" || s.overflowX === "clip";
      var clipsY = s.overflowY === "hidden" || s.overflowY === "clip";
      if (out.x > TOLERANCE) {
        if (clipsX) report("cut off (overflow hidden)", a, Math.round(out.x), sample);
        else if (isColumn) report("makes its column scroll sideways", a, Math.round(out.x), sample);
        return;  // otherwise it scrolls inside a box of its own
      }
      if (out.y > TOLERANCE) {
        if (clipsY) report("cut off at the top or bottom", a, Math.round(out.y), sample);
        return;  // otherwise it scrolls (up and down) inside its box
      }
    }
    var viewport = doc.documentElement.clientWidth;
    var past = Math.max(r.right - viewport, -r.left);
    if (past > TOLERANCE) report("makes the page scroll sideways", doc.body, Math.round(past), sample);
  }

  doc.querySelectorAll("mjx-assistive-mml").forEach(function (e) { e.style.display = "none"; });
  var walker = doc.createTreeWalker(doc.body, NodeFilter.SHOW_TEXT);
  var range = doc.createRange();
  for (var node = walker.nextNode(); node; node = walker.nextNode()) {
    var text = node.nodeValue.trim();
    if (!text || hidden(node.parentElement)) continue;
    range.selectNodeContents(node);
    var rects = range.getClientRects();
    for (var i = 0; i < rects.length; i++) check(rects[i], node.parentElement, text.slice(0, 60));
  }
  // images, figures and MathJax glyphs (drawn by CSS, so not text nodes); boxes that
  // scroll by themselves must fit in their column as a whole
  var boxed = "img, svg, canvas, video, mjx-c, pre, table, mjx-container, " +
              ".pst-scrollable-table-container";
  doc.querySelectorAll(boxed).forEach(function (el) {
    var outerSvg = el.parentElement && el.parentElement.closest("svg");
    if (outerSvg || hidden(el)) return;
    var tag = el.tagName.toLowerCase();
    var label = tag === "mjx-c" ? "formula glyph" : "<" + tag + ">";
    check(el.getBoundingClientRect(), el.parentElement, label + " " + where(el));
  });
  return Array.from(found.values());
}
"""

CHECKER_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>render check</title></head>
<body>
<pre id="result">pending</pre>
<div style="display: flex; align-items: flex-start">
{frames}
</div>
<script>
{layout_script}
var reports = {{}}, frames = document.querySelectorAll("iframe");
function report(width, out) {{
  reports[width] = out;
  if (Object.keys(reports).length === frames.length) {{
    document.getElementById("result").textContent = JSON.stringify(reports);
  }}
}}
frames.forEach(function (frame) {{
  var width = frame.getAttribute("width");
  frame.addEventListener("load", function () {{
    var doc, win = frame.contentWindow;
    try {{
      doc = frame.contentDocument;
    }} catch (e) {{
      report(width, {{error: "cannot inspect the page: " + e}});
      return;
    }}
    if (!doc || !doc.body) {{
      report(width, {{error: "page did not load"}});
      return;
    }}
    var imgs = Array.prototype.slice.call(doc.images);
    imgs.forEach(function (img) {{ img.loading = "eager"; }});
    var waited = 0;
    var nMath = doc.querySelectorAll("span.math, div.math").length;
    function finish() {{
      var layout;
      try {{
        layout = layoutProblems(doc, win);
      }} catch (e) {{
        layout = [{{kind: "layout check failed: " + e, where: "", px: 0, sample: "", count: 1}}];
      }}
      report(width, {{
        title: doc.title,
        text_length: doc.body.innerText.length,
        math: nMath,
        typeset: doc.querySelectorAll("mjx-container").length,
        images: imgs.map(function (img) {{
          return {{src: img.getAttribute("src"), complete: img.complete,
                   width: img.naturalWidth, height: img.naturalHeight}};
        }}),
        layout: layout
      }});
    }}
    (function poll() {{
      var pending = imgs.filter(function (img) {{ return !img.complete; }});
      var nTypeset = doc.querySelectorAll("mjx-container").length;
      if ((pending.length || (nMath && !nTypeset)) && waited < 20000) {{
        waited += 100;
        setTimeout(poll, 100);
        return;
      }}
      // measure once MathJax has finished and the fonts are in
      var typesetting = win.MathJax && win.MathJax.startup && win.MathJax.startup.promise;
      Promise.all([typesetting || Promise.resolve(), doc.fonts.ready])
        .then(function () {{ setTimeout(finish, 200); }}, finish);
    }})();
  }});
}});
</script>
</body></html>
"""

FRAME = '<iframe src="{url}" width="{width}" height="{height}"></iframe>'


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


def pages_to_lay_out(build_dir):
    """Every built page except those matching SKIPPED_PAGES."""
    return [page for page in sorted(build_dir.rglob("*.html"))
            if not any(fnmatch.fnmatch(page.relative_to(build_dir).as_posix(), pattern)
                       for pattern in SKIPPED_PAGES)]


def run_chromium(chromium, args):
    # scrollbars shown: they take room from the layout, as in a desktop browser
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)


def console_messages(stderr):
    """Console messages Chromium logged: (message, source)."""
    found = []
    for line in stderr.splitlines():
        m = re.search(r':CONSOLE[^\]]*\] "(.*)", source: (\S*)', line)
        if m:
            found.append((m.group(1), m.group(2)))
    return found


def load_in_frames(chromium, page, workdir):
    """Load ``page`` in one frame per width; return ({width: report}, problems, stderr)."""
    url = page.resolve().as_uri()
    frames = "\n".join(FRAME.format(url=url, width=w, height=HEIGHT) for w in WIDTHS)
    checker = workdir / "check.html"
    checker.write_text(CHECKER_PAGE.format(frames=frames, layout_script=LAYOUT_SCRIPT),
                       encoding="utf-8")
    result = run_chromium(chromium, [
        "--allow-file-access-from-files", "--enable-logging=stderr", "--v=0",
        # every frame in view: Chromium does not keep the layout of hidden frames current
        "--virtual-time-budget=30000", f"--window-size={sum(WIDTHS) + 40},{HEIGHT + 200}",
        "--dump-dom", checker.as_uri(),
    ])
    problems = []
    if result.returncode != 0:
        problems.append(f"chromium exited with {result.returncode} loading the page")
    m = re.search(r'<pre id="result">(.*?)</pre>', result.stdout, re.S)
    report_text = unescape(m.group(1)) if m else "pending"
    if report_text == "pending":
        problems.append("the page never finished loading in Chromium")
        return {}, problems, result.stderr
    return {int(w): r for w, r in json.loads(report_text).items()}, problems, result.stderr


def layout_problems(layout, width):
    """Readable lines for the layout problems one frame reported."""
    return [f"at {width} px: {item['kind']} by {item['px']} px in {item['where']} "
            f"({item['count']} item(s), e.g. {item['sample']!r})" for item in layout]


def check_page(chromium, page, workdir, min_images):
    """Return a list of problems for one page at every width of WIDTHS."""
    reports, problems, stderr = load_in_frames(chromium, page, workdir)
    summary = []
    for width, report in sorted(reports.items()):
        if report.get("error"):
            problems.append(f"at {width} px: {report['error']}")
            continue
        images = report.get("images", [])
        broken = [img["src"] for img in images if not img["complete"] or img["width"] == 0]
        problems += [f"at {width} px: image did not load in the browser: {src}"
                     for src in broken]
        if len(images) < min_images:
            problems.append(f"expected at least {min_images} image(s), found {len(images)}")
        if report.get("math") and not report.get("typeset"):
            problems.append(f"{report['math']} formula(s) were not typeset by MathJax")
        if not report.get("title"):
            problems.append("page has no title")
        if report.get("text_length", 0) < 200:
            problems.append("page body is (nearly) empty")
        problems += layout_problems(report.get("layout", []), width)
        summary.append(f"{width} px: {len(images) - len(broken)}/{len(images)} images, "
                       f"{report.get('typeset', 0)} formulas, "
                       f"{len(report.get('layout', []))} layout problem(s)")

    for message, source in console_messages(stderr):
        local = source.startswith("file://")
        if local and message.startswith("Uncaught"):
            problems.append(f"JavaScript error: {message} ({source})")
        elif not local or "ERR_" in message or "Failed to load" in message:
            print(f"    note (not fatal): {message} ({source or 'no source'})")
    print(f"  {page.name}: " + "; ".join(summary))
    return sorted(set(problems), key=problems.index)


def screenshot(chromium, page, out_dir, name):
    """Screenshot ``page`` at each width into ``out_dir``; return a list of problems."""
    problems = []
    for width in WIDTHS:
        shot = out_dir / f"{name}-{width}.png"
        if shot.exists():
            shot.unlink()
        result = run_chromium(chromium, [
            f"--screenshot={shot}", f"--window-size={width},{HEIGHT}",
            "--virtual-time-budget=10000", page.resolve().as_uri(),
        ])
        if result.returncode != 0 or not shot.is_file() or shot.stat().st_size < 1000:
            problems.append(f"screenshot at {width} px failed (exit {result.returncode})")
        elif shot.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
            problems.append(f"screenshot at {width} px is not a PNG")
        else:
            print(f"    screenshot {shot}")
    return problems


def main(argv=None):
    docs_dir = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, default=docs_dir / "_build" / "html")
    parser.add_argument("--out", type=Path, default=docs_dir / "_build" / "render")
    parser.add_argument("pages", nargs="*", metavar="PAGE",
                        help="lay out only these pages (paths relative to the build)")
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

    pages = ([build_dir / p for p in args.pages] if args.pages
             else pages_to_lay_out(build_dir))
    print(f"layout check: {len(pages)} pages at {', '.join(map(str, WIDTHS))} px")
    with tempfile.TemporaryDirectory() as tmp:
        for page in pages:
            min_images = 1 if page == gallery else 0
            problems += [f"{page.relative_to(build_dir)}: {p}"
                         for p in check_page(chromium, page, Path(tmp), min_images)]

    shots = {"index": index, "gallery": gallery, "benchmarks": build_dir / "benchmarks.html"}
    api_pages = sorted((build_dir / "generated").glob("*.html"))
    if api_pages:
        shots["api"] = api_pages[0]
    for name, page in shots.items():
        if page.is_file():
            problems += [f"{page.relative_to(build_dir)}: {p}"
                         for p in screenshot(chromium, page, args.out, name)]

    if problems:
        print("render check FAILED:")
        for p in problems:
            print("  -", p)
        return 1
    print("render check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

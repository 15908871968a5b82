"""Sphinx configuration for the sklearn_mle documentation.

Build from the repository root with::

    bash docs/build.sh

which runs ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
The example gallery (``../examples``) is executed during the build.
"""

import os
import re
import shutil
import sys
import warnings
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parent
REPO_DIR = DOCS_DIR.parent

# Use the installed package (``pip install .``), not the source tree: ``python -m sphinx``
# run from the repository root puts the root on sys.path, and the source tree of a
# non-editable install has no compiled kernels. The examples, executed in this process,
# then import the same installed package. (An editable install works either way.)
_full_path = list(sys.path)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO_DIR]
try:
    import sklearn_mle
except ImportError:
    # e.g. a path-based editable install (`pip install -e .` in compat mode)
    sys.path[:] = _full_path
    try:
        import sklearn_mle
    except ImportError as exc:
        raise ImportError(
            "the docs document the installed sklearn_mle: run `pip install .` first"
        ) from exc

sys.path.insert(0, str(DOCS_DIR))  # for gallery_order

import matplotlib

matplotlib.use("agg")

# -- Project information -------------------------------------------------------

project = "sklearn_mle"
author = "sklearn_mle developers"
copyright = "sklearn_mle developers"
release = getattr(sklearn_mle, "__version__", "0.1.0")
version = ".".join(release.split(".")[:2])

# -- General configuration -----------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "sphinx_design",
    "sphinx-mathjax-offline",  # ships MathJax, so formulas render without a CDN
]

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "_generated",
    "_api_listing.rst",
    "Thumbs.db",
    ".DS_Store",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.md5",
    "auto_examples/*.json",
]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
default_role = "literal"
nitpicky = False
# the page's table of contents lists methods as "fit()", not "MLEClassifier.fit()"
toc_object_entries_show_parents = "hide"

# autodoc / autosummary
# api.rst includes a generated listing (see _write_api_listing); name both so stubs are made
autosummary_generate = ["api.rst", "_api_listing.rst"]
autodoc_default_options = {"show-inheritance": False}
autodoc_typehints = "none"

# numpydoc: the class template lists the methods itself
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = False

# doctest builder (python -m sphinx -b doctest docs docs/_build/doctest)
doctest_global_setup = """
import numpy as np
import warnings
"""

# myst: only used to include benchmarks/RESULTS.md, which is written in Markdown
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

# -- sphinx-gallery ------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # execute (and include) the plot_* scripts and the README's quickstart demo
    "filename_pattern": r"/(plot_.*|quickstart)\.py$",
    "ignore_pattern": r"__init__\.py|^_|/_",
    # the order of the user guide's ideas (docs/gallery_order.py)
    "within_subsection_order": "gallery_order.ExampleOrder",
    "doc_module": ("sklearn_mle",),
    "backreferences_dir": "generated/backreferences",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "remove_config_comments": True,
    "show_memory": False,
    "plot_gallery": "True",
    "min_reported_time": 1,
    "download_all_examples": False,
    "first_notebook_cell": None,
    "write_computation_times": True,
}

# -- Benchmarks: pull in ../benchmarks/RESULTS.md if another step produced it ---------

_BENCH_DIR = REPO_DIR / "benchmarks"
# SKLEARN_MLE_BENCH_RESULTS may point at a results file elsewhere (e.g. a CI artefact).
_RESULTS_MD = Path(os.environ.get("SKLEARN_MLE_BENCH_RESULTS", _BENCH_DIR / "RESULTS.md"))
_GENERATED = DOCS_DIR / "_generated"
_GENERATED.mkdir(exist_ok=True)


def _copy_markdown(source, target, missing_text):
    """Copy a Markdown file for the Benchmarks page, or write a note if it is missing."""
    if source.is_file():
        shutil.copyfile(source, target)
    else:
        target.write_text(missing_text)


_copy_markdown(
    _RESULTS_MD,
    _GENERATED / "benchmark_results.md",
    "*The results table has not been generated in this checkout "
    "(`benchmarks/RESULTS.md` is missing); run the benchmark to create it.*\n",
)
_copy_markdown(
    _BENCH_DIR / "README.md",
    _GENERATED / "benchmark_method.md",
    "*The benchmark's description (`benchmarks/README.md`) is missing in this checkout.*\n",
)

# -- API reference: one autosummary entry per public name in sklearn_mle.__all__ -----


def _write_api_listing():
    """Write the autosummary tables of api.rst from the package's ``__all__``.

    Generating them keeps the reference complete as public names are added, and keeps
    the ``-W`` build from failing on a name the installed version does not have yet.
    """
    public = getattr(sklearn_mle, "__all__", None) or [
        name for name in dir(sklearn_mle) if not name.startswith("_")
    ]
    groups = {"Estimators": [], "Warnings": [], "Other": []}
    for name in sorted(public):
        obj = getattr(sklearn_mle, name, None)
        if isinstance(obj, type) and issubclass(obj, Warning):
            groups["Warnings"].append(name)
        elif isinstance(obj, type) and hasattr(obj, "fit"):
            groups["Estimators"].append(name)
        elif callable(obj) or isinstance(obj, type):
            groups["Other"].append(name)
    lines = [".. currentmodule:: sklearn_mle", ""]
    for title, names in groups.items():
        if not names:
            continue
        lines += [title, "-" * len(title), "", ".. autosummary::", "   :toctree: generated/", ""]
        lines += [f"   {name}" for name in names]
        lines.append("")
    (DOCS_DIR / "_api_listing.rst").write_text("\n".join(lines))


_write_api_listing()

# -- HTML output ---------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = "sklearn_mle"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_prev_next": True,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {
    "index": [],
    "getting_started": [],
    "user_guide": [],
    "auto_examples/*": [],  # room for code and figures; prev/next links remain
    "api": [],
    "benchmarks": [],
}

# Matplotlib's agg backend is non-interactive; silence its "cannot show" warning
warnings.filterwarnings(
    "ignore",
    category=UserWarning,
    message="(?s).*FigureCanvasAgg is non-interactive",
)



# -- Hooks ---------------------------------------------------------------------

_SKLEARN_PLUMBING = {"get_metadata_routing"}


def _skip_sklearn_plumbing(app, what, name, obj, skip, options):
    """Leave scikit-learn's metadata-routing methods out of the API pages.

    ``set_fit_request`` and friends are generated on every estimator class by
    scikit-learn; their docstrings point into scikit-learn's own documentation.
    """
    if name in _SKLEARN_PLUMBING or (name.startswith("set_") and name.endswith("_request")):
        return True
    return skip


_SHAPE = re.compile(r"shape \(([^()]*)\)")
_TRAILING_UNDERSCORE_NAME = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?![`\w])")


def _quote_shape_names(app, what, name, obj, options, lines):
    """Quote attribute names in ``shape (n_features_in_,)``.

    In reST a word ending in ``_`` is a hyperlink reference, so a docstring saying
    ``ndarray of shape (n_features_in_,)`` fails the ``-W`` build. scikit-learn writes
    ``(`n_features_in_`,)``; this does the same for docstrings that do not.
    """
    for i, line in enumerate(lines):
        lines[i] = _SHAPE.sub(
            lambda m: "shape (" + _TRAILING_UNDERSCORE_NAME.sub(r"`\1`", m.group(1)) + ")",
            line,
        )


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_plumbing)
    # before numpydoc (priority 500) turns the docstring into reST
    app.connect("autodoc-process-docstring", _quote_shape_names, priority=100)

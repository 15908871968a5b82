#!/usr/bin/env bash
# Build the documentation, executing the example gallery, and fail on any warning.
#
#   pip install . && pip install -r docs/requirements.txt
#   bash docs/build.sh            # HTML in docs/_build/html
#   bash docs/build.sh --clean    # first remove earlier output (sphinx-gallery otherwise
#                                 # skips examples whose source did not change)
#   bash docs/build.sh --doctest  # also run the doctests of the pages (sphinx.ext.doctest)
#
# Then `python docs/check_render.py` renders pages in headless Chromium.
# Run from anywhere; paths are relative to the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

clean=0
doctest=0
for arg in "$@"; do
    case "$arg" in
        --clean) clean=1 ;;
        --doctest) doctest=1 ;;
        *) echo "usage: bash docs/build.sh [--clean] [--doctest]" >&2; exit 2 ;;
    esac
done

export MPLBACKEND=agg

if [[ $clean == 1 ]]; then
    rm -rf docs/_build docs/auto_examples docs/generated docs/_generated \
        docs/_api_listing.rst docs/sg_execution_times.rst
fi

python -m sphinx -W --keep-going -b html docs docs/_build/html

if [[ $doctest == 1 ]]; then
    python -m sphinx -W --keep-going -b doctest docs docs/_build/doctest
fi
echo "docs built: docs/_build/html/index.html"

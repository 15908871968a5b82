#!/usr/bin/env bash
# Build the documentation, executing the example gallery, and fail on any warning.
#
#   pip install . && pip install -r docs/requirements.txt
#   bash docs/build.sh            # HTML in docs/_build/html
#   bash docs/build.sh --doctest  # also run the doctests of the pages (sphinx.ext.doctest)
#
# Run from anywhere; paths are relative to the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

export MPLBACKEND=agg

python -m sphinx -W --keep-going -b html docs docs/_build/html

if [[ "${1:-}" == "--doctest" ]]; then
    python -m sphinx -W --keep-going -b doctest docs docs/_build/doctest
fi
echo "docs built: docs/_build/html/index.html"

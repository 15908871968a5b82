#!/usr/bin/env bash
# CI: run the test suite against the OLDEST numpy / scipy / scikit-learn that the
# package metadata allows, in a second fresh virtual environment (.venv-oldest) inside
# the clone, so that the declared minimums in pyproject.toml are known to be true.
#
# The minimums are read from [project] dependencies ("name>=X.Y") and installed as
# exactly "name==X.Y", from wheels only.  If a declared minimum has no wheel for this
# Python (or does not work), this script fails and names the oldest version that does
# install, so that pyproject.toml can be corrected.  The package itself is built
# without build isolation, against those oldest versions.
#
# Exit status: non-zero when anything fails to install, when a test fails, or when
# pytest ran no test.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
venv=.venv-oldest
rm -rf "$venv"
"$PYTHON" -m venv "$venv"
# shellcheck disable=SC1091
source "$venv/bin/activate"
python -m pip install --upgrade pip >/dev/null

# ---------------------------------------------------------------- declared minimums
pyproject_list() {
    # The strings of the array "$2" in the table [$1] of pyproject.toml, one a line.
    python - "$1" "$2" <<'EOF'
import re
import sys

table, key = sys.argv[1:]
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None

if tomllib is not None:
    with open("pyproject.toml", "rb") as f:
        values = tomllib.load(f)[table][key]
else:
    text = open("pyproject.toml").read()
    section = re.search(rf"^\[{re.escape(table)}\]\s*$(.*?)(?=^\[|\Z)", text, re.S | re.M)[1]
    values = re.findall(r'"([^"]+)"', re.search(rf"^{key}\s*=\s*\[(.*?)\]", section,
                                                  re.S | re.M)[1])
print("\n".join(values))
EOF
}

mapfile -t deps < <(pyproject_list project dependencies)
mapfile -t pins < <(python - "${deps[@]}" <<'EOF'
import re
import sys

for dep in sys.argv[1:]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][0-9A-Za-z.]*)\s*(,.*)?", dep)
    if not match:
        sys.exit(f"oldest_versions.sh: cannot read a minimum version from {dep!r}")
    print(f"{match[1]}=={match[2]}")
EOF
)
if [ "${#pins[@]}" -eq 0 ]; then
    echo "oldest_versions.sh: no dependencies found in pyproject.toml" >&2
    exit 1
fi
echo "+ oldest allowed: ${pins[*]}"
constraints="$venv/constraints.txt"
printf '%s\n' "${pins[@]}" > "$constraints"

oldest_installable() {
    # Oldest version >= $2 of package $1 with a wheel for this interpreter.
    local name=$1 minimum=$2 version tmp
    tmp=$(mktemp -d)
    for version in $(python -m pip index versions "$name" 2>/dev/null \
            | sed -n 's/^Available versions: //p' | tr ',' '\n' | tr -d ' ' \
            | python -c '
import sys
from packaging.version import Version
minimum = Version(sys.argv[1])
versions = [Version(v) for v in sys.stdin.read().split() if v]
print("\n".join(str(v) for v in sorted(v for v in versions
                                         if v >= minimum and not v.is_prerelease)))
' "$minimum"); do
        if python -m pip download --no-deps --only-binary=:all: -q -d "$tmp" \
                "$name==$version" >/dev/null 2>&1; then
            echo "$version"
            rm -rf "$tmp"
            return 0
        fi
    done
    rm -rf "$tmp"
    echo "none"
}

if ! python -m pip install --only-binary=:all: -c "$constraints" "${pins[@]}"; then
    echo "oldest_versions.sh: a declared minimum does not install from wheels on" \
         "Python $(python -c 'import platform; print(platform.python_version())')." >&2
    python -m pip install -q packaging >/dev/null 2>&1 || true
    for pin in "${pins[@]}"; do
        name=${pin%%==*}
        minimum=${pin##*==}
        if ! python -m pip download --no-deps --only-binary=:all: -q \
                -d "$(mktemp -d)" "$pin" >/dev/null 2>&1; then
            echo "  $pin: no wheel; oldest installable is" \
                 "$(oldest_installable "$name" "$minimum") -- raise the minimum in" \
                 "pyproject.toml" >&2
        fi
    done
    exit 1
fi

# ------------------------------------------------- build tools, package, test tools
# The build requirements as [build-system] declares them (setuptools>=77 reads the SPDX
# license string), numpy and scipy held at the oldest versions by the constraints.
mapfile -t build_requires < <(pyproject_list build-system requires)
python -m pip install -c "$constraints" "${build_requires[@]}"
python -m pip install --no-build-isolation -c "$constraints" .
# Test tools: the newest versions compatible with the pinned oldest libraries.
python -m pip install -c "$constraints" "pytest>=7" "pytest-cov>=4" "pandas>=1.5" "hypothesis>=6" threadpoolctl
if ! python -m pip install -c "$constraints" "statsmodels>=0.14"; then
    # statsmodels >= 0.14 declares scipy!=1.9.2 (it avoids one bug of that release);
    # the tests only compare fitted models with it, so take the newest 0.14.x (which
    # supports numpy >= 1.22.3) without that exclusion, and its pure-Python deps.
    echo "+ statsmodels refuses the pinned versions: installing 0.14.x with --no-deps" >&2
    python -m pip install -c "$constraints" patsy packaging
    python -m pip install --no-deps "statsmodels>=0.14,<0.15"
fi

echo "+ installed versions:"
python - <<'EOF'
import numpy, scipy, sklearn, pandas, statsmodels, hypothesis, pytest
for module in (numpy, scipy, sklearn, pandas, statsmodels, hypothesis, pytest):
    print(f"    {module.__name__} {module.__version__}")
EOF
python -m pip check || true
# The installed copy (built against the oldest numpy), not the source tree, is tested.
(cd /tmp && python -c "import sklearn_mle, sys; print('+ testing', sklearn_mle.__file__)")

set +e
(cd /tmp && python - <<EOF
import sys, os
import sklearn_mle
root = os.path.realpath("$PWD")
sys.exit(1 if os.path.realpath(sklearn_mle.__file__).startswith(os.path.join(root, "sklearn_mle")) else 0)
EOF
)
[ $? -eq 0 ] || { echo "oldest_versions.sh: sklearn_mle resolves to the source tree" >&2; exit 1; }

echo "+ pytest (oldest versions)"
"$venv/bin/pytest" -p no:cacheprovider -q "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "oldest_versions.sh: pytest collected no tests: failing" >&2
    exit 1
fi
exit "$status"

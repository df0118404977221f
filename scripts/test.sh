#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite under ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Test oracles from PyPI (datatrove reads our export); a test whose oracle is missing is skipped.
python3 -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt 2>/dev/null ||
  echo "test oracles (tests/requirements.txt) not installed: their tests will be skipped"
# transformers for Debian's python3-torch, which only /usr/bin/python3 sees: into a folder of its
# own (tests/tools/system_python.py appends it to sys.path, after Debian's packages, so numpy and
# torch stay Debian's and nothing else on the machine changes).
pydir="${XDG_CACHE_HOME:-$HOME/.cache}/winnow/python-system"
stamp="$pydir/.installed-$(sha1sum tests/requirements-system-python.txt | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  rm -rf "$pydir"
  if /usr/bin/python3 -m pip install --quiet --disable-pip-version-check --target "$pydir" \
    -r tests/requirements-system-python.txt 2>/dev/null; then
    touch "$stamp"
  else
    echo "transformers (tests/requirements-system-python.txt) not installed: the HF export test will be skipped"
  fi
fi
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"

#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite under ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Test oracles from PyPI (datatrove reads our export); a test whose oracle is missing is skipped.
python3 -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt 2>/dev/null ||
  echo "test oracles (tests/requirements.txt) not installed: their tests will be skipped"
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"

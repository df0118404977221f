#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite under ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Test oracles from PyPI (datatrove reads our export); a test whose oracle is missing is skipped.
python3 -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt 2>/dev/null ||
  echo "test oracles (tests/requirements.txt) not installed: their tests will be skipped"
# transformers for Debian's python3-torch, which only /usr/bin/python3 sees (a user install: the
# system's packages stay as Debian left them).
/usr/bin/python3 -m pip install --quiet --disable-pip-version-check --user --break-system-packages \
  --no-warn-script-location -r tests/requirements-system-python.txt 2>/dev/null ||
  echo "transformers (tests/requirements-system-python.txt) not installed: the HF export test will be skipped"
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"

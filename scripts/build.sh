#!/usr/bin/env bash
# Configures and builds Winnow into ./build (Release with debug info, ccache when present).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
# ccache hits across clones in different folders (CI clones afresh each time).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
fi
cmake --build build -j "$jobs"

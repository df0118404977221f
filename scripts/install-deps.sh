#!/usr/bin/env bash
# Installs every build and test dependency of Winnow from Debian's packages (and the Python
# peers used by bench/ and tests/tools/ from PyPI when --with-python is given).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config clang-format
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev libtbb-dev libre2-dev libgumbo-dev libfasttext-dev
  libboost-all-dev libcurl4-openssl-dev libzstd-dev zlib1g-dev libisal-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libpsl-dev libicu-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev python3
  chromium chromium-driver python3-selenium python3-torch
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "${1:-}" = "--with-python" ]; then
  python3 -m pip install -q -r "$(dirname "$0")/../bench/requirements.txt"
fi

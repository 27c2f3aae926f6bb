#!/usr/bin/env bash
# Installs every Debian package physc needs to build, test and benchmark.
# The one place where the LLVM/MLIR version is pinned.
set -euo pipefail
LLVM_VERSION=19
PKGS=(
  cmake ninja-build ccache g++ python3 python3-venv
  llvm-${LLVM_VERSION}-dev libmlir-${LLVM_VERSION}-dev mlir-${LLVM_VERSION}-tools
  llvm-${LLVM_VERSION}-tools clang-${LLVM_VERSION} lld-${LLVM_VERSION}
  libclang-rt-${LLVM_VERSION}-dev
  libboost-dev libeigen3-dev libgtest-dev nlohmann-json3-dev libfmt-dev
  libzstd-dev zlib1g-dev libcurl4-openssl-dev libedit-dev libxml2-dev
  libpng-dev
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all ${#PKGS[@]} packages present"

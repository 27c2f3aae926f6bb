#!/usr/bin/env bash
# README command (1): installs the Debian packages physc needs, builds it,
# and trains the Burgers example on the CPU (summary in out/burgers/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
mkdir -p out
build/bin/physc train examples/burgers.phys --device cpu \
  --out out/burgers --summary out/burgers/summary.json "$@"

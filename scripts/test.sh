#!/usr/bin/env bash
# README command (2): installs what is missing, builds, and runs the whole
# test suite (lit: frontend, dialect, passes, conversions, integration;
# GoogleTest: runtime). Ends with ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
ctest --test-dir "${PHYSC_BUILD_DIR:-build}" --output-on-failure

#!/usr/bin/env bash
# README command (2): installs what is missing, builds, and runs the whole
# test suite:
#   1. the release build: lit (frontend, dialect, passes, conversions,
#      integration) and GoogleTest (runtime);
#   2. the frontend fuzzed for PHYSC_FUZZ_SECONDS (default 120) by
#      scripts/fuzz.sh (preset `fuzz`, libFuzzer + ASan + UBSan): any crash,
#      hang or leak fails the run;
#   3. the same code built with AddressSanitizer + UBSan (preset `asan`):
#      everything but the integration suite's training runs.
# Parts 1 and 3 end with ctest's summary. PHYSC_SKIP_FUZZ=1 skips part 2,
# PHYSC_SKIP_ASAN=1 part 3.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
ctest --test-dir "${PHYSC_BUILD_DIR:-build}" --output-on-failure
if [ "${PHYSC_SKIP_FUZZ:-0}" != 1 ]; then
  scripts/fuzz.sh "${PHYSC_FUZZ_SECONDS:-120}"
fi
if [ "${PHYSC_SKIP_ASAN:-0}" != 1 ]; then
  PHYSC_BUILD_DIR=build-asan PHYSC_PRESET=asan scripts/build.sh
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -E lit-Integration
fi

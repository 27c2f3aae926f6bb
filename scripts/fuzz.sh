#!/usr/bin/env bash
# Fuzzes the frontend (parse, Sema, MLIRGen, verifier) with libFuzzer for
# SECONDS (default 120): builds only physc-fuzz-frontend in build-fuzz/
# (preset `fuzz`, clang-19, ASan + UBSan), starts from a copy of the seed
# corpus test/Fuzz/corpus/ in build-fuzz/corpus/ (new inputs go there, never
# into the checkout) and fails on any crash, sanitizer report, leak, or input
# that takes more than 2 s. Reproducers are written to build-fuzz/artifacts/.
# Prints libFuzzer's final statistics (executions, coverage).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-120}"
BUILD=build-fuzz
PHYSC_BUILD_DIR=$BUILD PHYSC_PRESET=fuzz PHYSC_TARGETS=physc-fuzz-frontend \
  scripts/build.sh
mkdir -p "$BUILD/corpus" "$BUILD/artifacts"
cp test/Fuzz/corpus/* "$BUILD/corpus/"
log="$BUILD/fuzz.log"
status=0
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
  "$BUILD/bin/physc-fuzz-frontend" "$BUILD/corpus" \
    -max_total_time="$SECONDS_TO_RUN" -timeout=2 -rss_limit_mb=2048 \
    -dict=test/Fuzz/phys.dict -detect_leaks=1 -print_final_stats=1 \
    -artifact_prefix="$BUILD/artifacts/" > "$log" 2>&1 || status=$?
# The final stats line of the run and libFuzzer's counters.
grep -E '^#[0-9]+[[:space:]]+DONE|^Done [0-9]+ runs' "$log" || tail -n 3 "$log"
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb):' "$log" || true
if [ "$status" -ne 0 ] || grep -qE '^==[0-9]+==ERROR|runtime error:|ALARM: working on the last Unit' "$log"; then
  echo "fuzz: FAILED (exit status $status); see $log" >&2
  grep -E '^==[0-9]+==ERROR|runtime error:|ALARM|SUMMARY|Test unit written' "$log" >&2 || true
  exit 1
fi
echo "fuzz: no crash, hang or leak in ${SECONDS_TO_RUN}s ($log)"

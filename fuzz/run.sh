#!/usr/bin/env bash
# Builds the libFuzzer harness for the manifest loader and fuzzes it.
#
#   fuzz/run.sh [SECONDS]     fuzz for SECONDS of wall time (default 600), one process
#   fuzz/run.sh FILE...       build, then re-run the harness on saved inputs (reproduce a finding)
#
# Everything happens inside fuzz/: the build in fuzz/.build, the working corpus in
# fuzz/.build/corpus (seeded from fuzz/corpus, which stays small), the log in fuzz/.build/fuzz.log,
# and crash / timeout / OOM inputs in fuzz/findings/. Exit status: 0 when nothing was found.
#
# FUZZ_ARGS adds libFuzzer flags, e.g. FUZZ_ARGS="-len_control=0" fuzz/run.sh 600 to try inputs up
# to -max_len (64 KiB) from the start: by default libFuzzer grows the length limit slowly (~6 KiB
# after 10 minutes), and a quadratic-time path needs big inputs to exceed -timeout.
set -euo pipefail
cd "$(dirname "$0")"

BUILD_FLAGS=(-c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)
echo "==> swift build ${BUILD_FLAGS[*]}" >&2
swift build "${BUILD_FLAGS[@]}" >&2
BIN="$(swift build "${BUILD_FLAGS[@]}" --show-bin-path)/LoaderFuzzer"

# ASan/LSan defaults: memory errors and leaks (e.g. libyaml events not deleted) are fatal.

if [[ $# -gt 0 && -e "$1" ]]; then
    exec "$BIN" -timeout=2 -rss_limit_mb=1024 "$@"
fi

SECONDS_TO_RUN="${1:-600}"
WORK=.build/corpus
mkdir -p "$WORK" findings
cp corpus/* "$WORK"/   # refresh the seeds; what the fuzzer added stays

LOG=.build/fuzz.log
echo "==> fuzzing for ${SECONDS_TO_RUN}s; corpus $WORK ($(ls "$WORK" | wc -l) files), log $LOG" >&2
set +e
"$BIN" "$WORK" \
    -max_total_time="$SECONDS_TO_RUN" \
    -timeout=2 \
    -rss_limit_mb=1024 \
    -malloc_limit_mb=1024 \
    -max_len=65536 \
    -dict=yaml.dict \
    -artifact_prefix=findings/ \
    -print_final_stats=1 \
    ${FUZZ_ARGS:-} \
    2>&1 | tee "$LOG" | grep --line-buffered -E "(pulse|NEW|REDUCE)" | awk 'NR % 50 == 1' >&2
status=${PIPESTATUS[0]}
set -e

echo "==> result (exit $status)"
grep -E "^#[0-9]+[[:space:]]+(DONE|INITED)|^Done|^stat::|ERROR:|SUMMARY:|Test unit written|deadly signal|ALARM|libFuzzer: (timeout|out-of-memory)|Fatal error" "$LOG" | tail -20
echo "==> corpus: $(ls "$WORK" | wc -l) files, $(du -sh "$WORK" | cut -f1)"
exit "$status"

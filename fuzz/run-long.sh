#!/bin/sh
# The long runs recorded in TESTING.md: each target to RUNS executions (default 10^7) from its
# committed corpus, then the corpus minimized (libFuzzer's -merge=1, what `cargo fuzz cmin`
# runs) back into fuzz/corpus/<target>.
#
#   [RUNS=N] [MAX_SECONDS=S] fuzz/run-long.sh BIN_DIR WORK_DIR target...
# BIN_DIR holds the targets built by `cargo fuzz build -s none` (or `make fuzz-build`).
set -eu
bin_dir=$1 work=$2
shift 2
runs=${RUNS:-10000000}
# A cap in seconds for the slow targets (0: none); TESTING.md says which ran short.
max_seconds=${MAX_SECONDS:-0}
here=$(cd "$(dirname "$0")" && pwd)
for target in "$@"; do
    mkdir -p "$work/$target" "$work/artifacts" "$here/corpus/$target"
    log="$work/$target.log"
    start=$(date +%s)
    "$bin_dir/$target" -runs="$runs" -max_total_time="$max_seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/$target-" \
        "$work/$target" "$here/corpus/$target" >"$log" 2>&1 || {
        echo "$target: FAILED, see $log"; continue; }
    seconds=$(( $(date +%s) - start ))
    minimized="$work/$target.min"
    rm -rf "$minimized" && mkdir -p "$minimized"
    "$bin_dir/$target" -merge=1 -max_len=4096 -timeout=10 "$minimized" \
        "$here/corpus/$target" "$work/$target" >"$work/$target.merge.log" 2>&1
    rm -rf "$here/corpus/$target" && mv "$minimized" "$here/corpus/$target"
    done_line=$(grep -E '^#[0-9]+ .* cov: ' "$log" | tail -n 1 | sed 's/ *lim:.*//')
    echo "$target: ${seconds}s | $done_line | corpus $(ls "$here/corpus/$target" | wc -l) files"
done

#!/usr/bin/env bash
# Instructions per cache lookup, drfgate's cache against quick_cache (bare and wrapped), counted
# by callgrind: unlike times, the counts do not depend on what else the machine is doing.
# Each (side, case) runs its lookup loop twice (100,000 and 1,100,000 lookups) on an identically
# filled cache; the difference over 1,000,000 removes start-up and the fill.
# Run after `cargo bench -p drfgate --bench cache_compare_footprint --no-run` (or a full run).
set -euo pipefail

target="${CARGO_TARGET_DIR:-$(dirname "$0")/../../../target}/release"
bench=$(ls -t "${target}"/deps/cache_compare_footprint-* | grep -v '\.d$' | head -n 1)
work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT

count() { # count NAME COMMAND...: instructions callgrind collected
    valgrind --tool=callgrind --callgrind-out-file="${work}/$1.out" "${@:2}" >"${work}/$1.stdout" 2>"${work}/$1.err"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "${work}/$1.err"
}

echo "| lookup | drfgate | quick_cache_wrapped | quick_cache_bare |"
echo "|---|---:|---:|---:|"
for case in hit_1000 hit_100000 miss; do
    row="| ${case}"
    for side in drfgate quick_cache_wrapped quick_cache_bare; do
        small=$(count "${side}-${case}-small" "${bench}" ops "${side}" "${case}" 100000)
        large=$(count "${side}-${case}-large" "${bench}" ops "${side}" "${case}" 1100000)
        row="${row} | $(((large - small) / 1000000))"
    done
    echo "${row} |"
done

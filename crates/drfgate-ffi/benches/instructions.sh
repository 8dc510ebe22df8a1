#!/usr/bin/env bash
# Instructions per cached decision, Rust `Gate::decide` against the C ABI, counted by
# callgrind: unlike times, the counts do not depend on what else the machine is doing.
# Each side runs its loop twice (1,000 and 11,000 decisions); the difference over 10,000
# removes start-up (config, SQLite, the first load into the cache).
# Run after `cargo bench -p drfgate-ffi --bench c_abi` (make bench-c-abi does both).
set -euo pipefail

target="${CARGO_TARGET_DIR:-$(dirname "$0")/../../../target}/release"
bench=$(ls -t "${target}"/deps/c_abi-* | grep -v '\.d$' | head -n 1)
work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT

count() { # count NAME COMMAND...: instructions callgrind collected
    valgrind --tool=callgrind --callgrind-out-file="${work}/$1.out" "${@:2}" >"${work}/$1.stdout" 2>"${work}/$1.err"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "${work}/$1.err"
}

rust_small=$(DRFGATE_BENCH_RUST_LOOP=1000 count rust-1000 "${bench}")
rust_large=$(DRFGATE_BENCH_RUST_LOOP=11000 count rust-11000 "${bench}")
decide_loop=$(cat "${work}/rust-1000.stdout")
config="$(dirname "${decide_loop}")/bench.toml"
c_small=$(count c-1000 "${decide_loop}" "${config}" 1000)
c_large=$(count c-11000 "${decide_loop}" "${config}" 11000)

rust=$(((rust_large - rust_small) / 10000))
c=$(((c_large - c_small) / 10000))
echo "instructions per cached Token decision: Rust ${rust}, C ABI ${c}, ratio $(awk "BEGIN { printf \"%.2f\", ${c} / ${rust} }")"

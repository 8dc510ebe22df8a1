#!/usr/bin/env bash
# Instructions per decision on the hot paths, counted by callgrind: unlike times, the counts
# do not move with the machine's load, so a change that makes a hot path costlier shows
# here whatever else the machine does.
#
#   bench/instructions.sh check    compare with bench/instructions-baseline.toml (make bench-check)
#   bench/instructions.sh record   write that file anew, on purpose (make bench-baseline)
#   bench/instructions.sh table    every path, as BENCHMARKS.md's table (make bench)
#
# Each path runs the release example `hot_loop` (crates/drfgate/examples/hot_loop.rs) twice,
# with 2,000 and 4,000 decisions: the difference ÷ 2,000 is one decision, start-up and the
# first (uncached) decision cancelling out. `c_abi` is the same as `token` decided by a C
# program through libdrfgate.so (crates/drfgate-ffi/benches/decide_loop.c): a new decision
# per request, freed (`drfgate_gate_decide`); `c_abi_into` refills one decision the program
# made once (`drfgate_gate_decide_into`). The table shows what each adds. More than 10 % growth on a checked path
# fails; a baseline recorded with another rustc is not compared (a warning), as the
# compiler alone moves the counts.
#
# `table` (and `frontends`, which counts only these) also counts the front ends per request, with
# 2,000 and 4,000 requests the same way: the tower Layer (crates/drfgate-tower/examples/
# layer_loop.rs: `layer` through the Layer, `layer_bare` the same request without it,
# `layer_core` the core's `decide_cached` alone) and `drfgate serve`'s connection handling
# in-process over an in-memory stream (crates/drfgate-cli/examples/serve_loop.rs: `serve`, and
# `serve_fixed` the fixed_200 baseline on the same stream). Not checked: they count hyper's and
# tokio's code as well, which moves with their versions.
set -euo pipefail

mode="${1:-check}"
root="$(cd "$(dirname "$0")/.." && pwd)"
baseline="${root}/bench/instructions-baseline.toml"
target="${CARGO_TARGET_DIR:-${root}/target}/release"
db="${root}/build/django/db.sqlite3"
cargo="${CARGO:-cargo}"
checked_paths="token basic none unknown c_abi c_abi_into"
all_paths="token basic session jwt handoff none unknown c_abi c_abi_into"
small=2000
large=4000
# More growth than this, in percent, fails a check.
tolerance=10

frontend_paths="layer_bare layer layer_core serve_fixed serve"
declare -A frontend_mode=([layer_bare]=bare [layer]=layer [layer_core]=core [serve_fixed]=fixed [serve]=serve)
case "${mode}" in
check | record) paths="${checked_paths}" ;;
table) paths="${all_paths} ${frontend_paths}" ;;
frontends) paths="${frontend_paths}" ;;
*)
    echo "usage: $0 check|record|table|frontends" >&2
    exit 2
    ;;
esac

if [ "${mode}" = frontends ]; then
    # Their own users (in memory, or a scratch database): no fixture needed.
    "${cargo}" build --release --quiet -p drfgate-tower --example layer_loop
    "${cargo}" build --release --quiet -p drfgate-cli --example serve_loop
fi

skipped() { [[ ",${DRFGATE_SKIP:-}," == *",$1,"* ]]; }
if [ "${mode}" != frontends ] && [ ! -f "${db}" ]; then
    if skipped django; then
        echo "bench-check: skipped, no fixture database (DRFGATE_SKIP=django)" >&2
        exit 0
    fi
    echo "bench-check: ${db} is missing (make fixture-db)" >&2
    exit 1
fi
if ! command -v valgrind >/dev/null; then
    if skipped valgrind; then
        echo "bench-check: skipped, no valgrind (DRFGATE_SKIP=valgrind)" >&2
        exit 0
    fi
    echo "bench-check: valgrind is missing (scripts/debian-packages.sh installs it)" >&2
    exit 1
fi

if [ "${mode}" = table ]; then
    # Separate builds: the examples' dev-dependencies change features.
    "${cargo}" build --release --quiet -p drfgate-tower --example layer_loop
    "${cargo}" build --release --quiet -p drfgate-cli --example serve_loop
fi
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

if [ "${mode}" != frontends ]; then
    "${cargo}" build --release --quiet -p drfgate -p drfgate-ffi --lib --example hot_loop
    # The C side links the release libdrfgate.so under its soname (build.rs: before 1.0 the
    # minor version is part of it).
    version="$(sed -n 's/^version = "\(.*\)"/\1/p' "${root}/Cargo.toml" | head -n 1)"
    minor="$(echo "${version}" | cut -d. -f2)"
    mkdir -p "${work}/lib"
    ln -s "${target}/libdrfgate.so" "${work}/lib/libdrfgate.so.0.${minor}"
    gcc -O2 -std=c11 -D_GNU_SOURCE -I "${root}/include" "${root}/crates/drfgate-ffi/benches/decide_loop.c" \
        -o "${work}/decide_loop" -L"${target}" -ldrfgate -Wl,-rpath,"${work}/lib"
    "${target}/examples/hot_loop" "${db}" 0 config >"${work}/gate.toml"
fi

collected() { # collected NAME COMMAND...: the instructions callgrind counted
    valgrind --tool=callgrind --callgrind-out-file="${work}/$1.out" "${@:2}" >"${work}/$1.stdout" 2>"${work}/$1.err" || {
        cat "${work}/$1.err" >&2
        echo "bench-check: $1 failed" >&2
        exit 1
    }
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "${work}/$1.err"
}

per_decision() { # per_decision PATH: instructions per decision
    local path="$1" run
    for rounds in "${small}" "${large}"; do
        if [ "${path}" = c_abi ]; then
            run=("${work}/decide_loop" "${work}/gate.toml" "${rounds}" new)
        elif [ "${path}" = c_abi_into ]; then
            run=("${work}/decide_loop" "${work}/gate.toml" "${rounds}" into)
        elif [ "${path}" = layer ] || [ "${path}" = layer_bare ] || [ "${path}" = layer_core ]; then
            run=("${target}/examples/layer_loop" "${rounds}" "${frontend_mode[${path}]}")
        elif [ "${path}" = serve ] || [ "${path}" = serve_fixed ]; then
            run=("${target}/examples/serve_loop" "${rounds}" "${frontend_mode[${path}]}")
        else
            run=("${target}/examples/hot_loop" "${db}" "${rounds}" "${path}")
        fi
        collected "${path}-${rounds}" "${run[@]}" >"${work}/${path}-${rounds}.count" &
    done
    wait
    echo $((($(cat "${work}/${path}-${large}.count") - $(cat "${work}/${path}-${small}.count")) / (large - small)))
}

frontends_table() {
    local layer_added=$((measured[layer] - measured[layer_bare]))
    local serve_added=$((measured[serve] - measured[serve_fixed]))
    echo "| Front end (one request, cached Token allow) | instructions |"
    echo "|---|---:|"
    echo "| tower service without the Layer (\`layer_loop bare\`) | ${measured[layer_bare]} |"
    echo "| the same through the Layer (\`layer_loop layer\`) | ${measured[layer]} |"
    echo "| the Layer's added instructions | ${layer_added} |"
    echo "| core decision alone (\`Gate::decide_cached\`, \`layer_loop core\`) | ${measured[layer_core]} |"
    echo "| the Layer's added − core decision | $((layer_added - measured[layer_core])) |"
    echo "| hyper answering a fixed 200 (\`serve_loop fixed\`) | ${measured[serve_fixed]} |"
    echo "| \`drfgate serve\` (\`serve_loop serve\`) | ${measured[serve]} |"
    echo "| serve's added instructions | ${serve_added} |"
    echo "| fixed 200 ÷ serve | $(awk "BEGIN { printf \"%.2f\", ${measured[serve_fixed]} / ${measured[serve]} }") |"
    echo
}

declare -A measured
for path in ${paths}; do
    measured[${path}]="$(per_decision "${path}")"
done
rustc_version="$(rustc --version)"

case "${mode}" in
record)
    {
        echo "# Instructions per decision on the hot paths (callgrind), what \`make bench-check\` compares"
        echo "# with; more than ${tolerance} % growth fails. Re-recorded on purpose only: \`make bench-baseline\`."
        echo "# Counts move with the compiler: a different rustc is not compared."
        echo "rustc = \"${rustc_version}\""
        echo
        echo "[instructions]"
        for path in ${paths}; do
            echo "${path} = ${measured[${path}]}"
        done
    } >"${baseline}"
    echo "bench-baseline: recorded in ${baseline#"${root}"/}:"
    sed -n '/^\[instructions\]/,$p' "${baseline}"
    ;;
table)
    echo "| Path (one decision, \`hot_loop\`) | instructions |"
    echo "|---|---:|"
    for path in ${paths}; do
        echo "| ${path} | ${measured[${path}]} |"
    done
    echo "| C ABI adds to \`token\` (\`drfgate_gate_decide\`, free) | $((measured[c_abi] - measured[token])) |"
    echo "| C ABI adds to \`token\` (\`drfgate_gate_decide_into\`) | $((measured[c_abi_into] - measured[token])) |"
    echo
    frontends_table
    echo "(${rustc_version}, $(valgrind --version))"
    ;;
frontends)
    frontends_table
    echo "(${rustc_version}, $(valgrind --version))"
    ;;
check)
    if [ ! -f "${baseline}" ]; then
        echo "bench-check: ${baseline#"${root}"/} is missing (make bench-baseline records it)" >&2
        exit 1
    fi
    recorded_rustc="$(sed -n 's/^rustc = "\(.*\)"$/\1/p' "${baseline}")"
    if [ "${recorded_rustc}" != "${rustc_version}" ]; then
        echo "bench-check: warning: the baseline was recorded with ${recorded_rustc:-no rustc}, this is" \
            "${rustc_version}: not compared (make bench-baseline re-records it)" >&2
        for path in ${paths}; do echo "bench-check: ${path}: ${measured[${path}]} instructions per decision"; done
        exit 0
    fi
    failed=0
    for path in ${paths}; do
        now="${measured[${path}]}"
        recorded="$(sed -n "s/^${path} = \([0-9]*\)$/\1/p" "${baseline}")"
        if [ -z "${recorded}" ]; then
            echo "bench-check: ${path}: ${now} instructions per decision, no baseline (make bench-baseline)" >&2
            failed=1
        elif [ $((now * 100)) -gt $((recorded * (100 + tolerance))) ]; then
            echo "bench-check: ${path}: ${now} instructions per decision, baseline ${recorded}:" \
                "more than ${tolerance} % growth" >&2
            failed=1
        else
            echo "bench-check: ${path}: ${now} instructions per decision (baseline ${recorded})"
        fi
    done
    exit "${failed}"
    ;;
esac

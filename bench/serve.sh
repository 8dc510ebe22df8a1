#!/usr/bin/env bash
# Requests/s of `drfgate serve` (release build) with wrk, against two baselines on the same
# machine in the same run:
#   1. real DRF under gunicorn answering the same requests over the same database (a cached
#      allow and a refusal without credentials);
#   2. a minimal hyper server answering a fixed 200 (crates/drfgate-cli/examples/fixed_200.rs)
#      to the same allowed request: issue 16's target is serve ≥ 90 % of it.
# Writes $BENCH_RESULTS/serve.md and a line of ratios.tsv (bench/lib.sh has the settings).
#   DRFGATE_BIN  the drfgate binary (default $CARGO_TARGET_DIR/release/drfgate)
# Needs `make fixture-db` (the Django-made database and the .venv with gunicorn) and
# the release drfgate binary and the fixed_200 example (make bench-serve builds both).
set -euo pipefail
shopt -s inherit_errexit
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
target="${CARGO_TARGET_DIR:-$root/target}/release"
drfgate="${DRFGATE_BIN:-$target/drfgate}"
fixed_200="$target/examples/fixed_200"
for f in "$drfgate" "$fixed_200"; do
    [[ -x $f ]] || { echo "bench: no $f (make bench-serve builds it)" >&2; exit 2; }
done

bench_start serve
bench_gate_config ""
serve_port="$(bench_free_port)"
gunicorn_port="$(bench_free_port)"
hyper_port="$(bench_free_port)"
load_before="$(bench_load)"
DRFGATE_LOG=error bench_spawn "$drfgate" serve --config "$run/drfgate.toml" --listen "127.0.0.1:$serve_port" >/dev/null 2>&1
bench_port_pids[$serve_port]="${bench_pids[-1]}"
bench_spawn "$fixed_200" "127.0.0.1:$hyper_port" >/dev/null
bench_port_pids[$hyper_port]="${bench_pids[-1]}"
bench_gunicorn "$gunicorn_port"
bench_port_pids[$gunicorn_port]="${bench_pids[-1]}"
bench_wait "$serve_port" "$hyper_port" "$gunicorn_port"

path=/api/token-ia/
token="Token abcd1234"
echo "serve (cached allow) vs DRF under gunicorn" >&2
read -r serve_allow drf_allow serve_allow_cpu drf_allow_cpu < <(bench_alternate "$serve_port" $path "$token" 200 "$gunicorn_port" $path "$token" 200)
echo "serve (401, no credentials) vs DRF under gunicorn" >&2
read -r serve_deny drf_deny serve_deny_cpu drf_deny_cpu < <(bench_alternate "$serve_port" $path "" 401 "$gunicorn_port" $path "" 401)
echo "serve (cached allow) vs a minimal hyper server answering a fixed 200" >&2
read -r serve_hyper hyper serve_hyper_cpu hyper_cpu < <(bench_alternate "$serve_port" $path "$token" 200 "$hyper_port" $path "$token" 200)
load_after="$(bench_load)"
bench_record "serve vs minimal hyper (fixed 200), requests/s" "$serve_hyper" "$hyper" "$(bench_ratio "$serve_hyper" "$hyper")" "≥ 0.90"
bench_record "serve vs minimal hyper (fixed 200), server CPU µs per request (baseline ÷ serve)" "$serve_hyper_cpu" "$hyper_cpu" "$(bench_ratio "$hyper_cpu" "$serve_hyper_cpu")" "≥ 0.90"

cat >"$bench_results/serve.md" <<EOF
\`GET /api/token-ia/\` (TokenAuthentication, IsAuthenticated) from \`drfgate serve\` (release build, its cache
warmed by the first request), from the reference project under gunicorn (2 sync workers) over the same
database copy, and from \`fixed_200\` (\`crates/drfgate-cli/examples/fixed_200.rs\`: tokio's multi-threaded
runtime and hyper's HTTP/1.1 as \`serve\` uses them, answering an empty 200 without reading the request).
\`wrk -t2 -c$bench_connections -d${bench_seconds}s\`, $bench_rounds runs per side alternating with the other side, medians
in requests/s, and the server processes' own CPU time (user + system, from \`/proc\`; gunicorn's workers included) per
request, which waiting for a core on a loaded machine does not inflate. Load average (1/5/15 min) $load_before before,
$load_after after.

| request | drfgate serve req/s | baseline | baseline req/s | serve / baseline | serve CPU µs/req | baseline CPU µs/req |
|---|---:|---|---:|---:|---:|---:|
| allowed, \`Authorization: Token abcd1234\` (cached) | $serve_allow | DRF under gunicorn | $drf_allow | $(bench_ratio "$serve_allow" "$drf_allow")× | $serve_allow_cpu | $drf_allow_cpu |
| denied, no credentials (401) | $serve_deny | DRF under gunicorn | $drf_deny | $(bench_ratio "$serve_deny" "$drf_deny")× | $serve_deny_cpu | $drf_deny_cpu |
| allowed, \`Authorization: Token abcd1234\` (cached) | $serve_hyper | minimal hyper, fixed 200 | $hyper | **$(bench_ratio "$serve_hyper" "$hyper")** | $serve_hyper_cpu | $hyper_cpu |
EOF
cat "$bench_results/serve.md"

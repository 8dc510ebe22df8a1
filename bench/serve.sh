#!/usr/bin/env bash
# Requests/s of `drfgate serve` for a cached allow and a deny, measured with wrk (installed
# from Debian if missing), next to real DRF under gunicorn answering the same requests over the
# same database. One run of each; prints a Markdown table for BENCHMARKS.md.
#   DRFGATE_BIN    the drfgate binary (default target/release/drfgate)
#   BENCH_SECONDS  duration of each wrk run (default 10)
#   BENCH_CONNECTIONS  wrk connections (default 32)
# Needs `make fixture-db` (the Django-made database and its .venv with gunicorn).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
drfgate="${DRFGATE_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/drfgate}"
seconds="${BENCH_SECONDS:-10}"
connections="${BENCH_CONNECTIONS:-32}"
db="$root/build/django/db.sqlite3"

if ! command -v wrk >/dev/null; then
    echo "bench: installing wrk" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends wrk >/dev/null 2>&1 || {
        apt-get update >/dev/null && apt-get install -y --no-install-recommends wrk >/dev/null
    }
fi
[[ -x $drfgate ]] || { echo "bench: no drfgate binary at $drfgate (make build)" >&2; exit 2; }
[[ -f $db ]] || { echo "bench: no fixture database (make fixture-db)" >&2; exit 2; }

run="$(mktemp -d /tmp/drfgate-bench.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$run"
}
trap cleanup EXIT

cp "$db" "$run/db.sqlite3"
cat >"$run/drfgate.toml" <<EOF
[django]
DATABASE = "sqlite://$run/db.sqlite3"
[[routes]]
path = "api/token-ia/"
methods = ["GET", "POST", "PUT", "DELETE"]
authentication_classes = ["TokenAuthentication"]
permission_classes = ["IsAuthenticated"]
EOF

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
serve_port="$(free_port)"
gunicorn_port="$(free_port)"
DRFGATE_LOG=error "$drfgate" serve --config "$run/drfgate.toml" --listen "127.0.0.1:$serve_port" >/dev/null 2>&1 &
pids+=($!)
(cd "$root/tests/django" && DRFGATE_DJANGO_DB="$run/db.sqlite3" exec "$root/.venv/bin/gunicorn" \
    refproj.wsgi:application --bind "127.0.0.1:$gunicorn_port" --workers 2 --log-level warning) &
pids+=($!)
for port in "$serve_port" "$gunicorn_port"; do
    for _ in $(seq 200); do
        curl -s -o /dev/null "http://127.0.0.1:$port/api/token-ia/" && break
        sleep 0.1
    done
done

# wrk's requests/s for one run; the command is printed as run.
measure() {
    local port=$1
    shift
    local command=(wrk -t2 -c"$connections" -d"${seconds}s" "$@" "http://127.0.0.1:$port/api/token-ia/")
    printf '$' >&2
    printf ' %q' "${command[@]}" >&2
    echo >&2
    "${command[@]}" >"$run/wrk.out"
    sed 's/^/    /' "$run/wrk.out" >&2
    awk '/^Requests\/sec:/ { print $2 }' "$run/wrk.out"
}
token=(-H "Authorization: Token abcd1234")
# The first request looks the token up; every later one is a cache hit.
curl -s -o /dev/null "${token[@]}" "http://127.0.0.1:$serve_port/api/token-ia/"

serve_allow="$(measure "$serve_port" "${token[@]}")"
serve_deny="$(measure "$serve_port")"
drf_allow="$(measure "$gunicorn_port" "${token[@]}")"
drf_deny="$(measure "$gunicorn_port")"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
cat <<EOF

| request (GET /api/token-ia/, TokenAuthentication + IsAuthenticated) | drfgate serve req/s | DRF under gunicorn req/s | drfgate / DRF |
|---|---|---|---|
| allowed, \`Authorization: Token abcd1234\` (cached) | $serve_allow | $drf_allow | $(ratio "$serve_allow" "$drf_allow")× |
| denied, no credentials (401) | $serve_deny | $drf_deny | $(ratio "$serve_deny" "$drf_deny")× |

deny / allow for drfgate serve: $(ratio "$serve_deny" "$serve_allow")×
EOF

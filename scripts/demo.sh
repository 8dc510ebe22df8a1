#!/usr/bin/env bash
# `make demo`: serves the demo config with `drfgate serve` on localhost, shows the guide's
# scenario as ready-to-paste curl commands with their answers, then keeps serving until Ctrl-C.
#   DEMO_LISTEN=127.0.0.1:9180   where to listen
#   DEMO_ONCE=1                  stop after showing the answers (for scripts and CI)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
drfgate="${DRFGATE_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/drfgate}"
config="$root/examples/demo/drfgate.toml"
listen="${DEMO_LISTEN:-127.0.0.1:9180}"
base="http://$listen"
alice=9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b
boss=b0557ac27e6e4fa5a1a83a8b1b5d1d8e2f3c4b5a
# alice's browser, logged in through Django (examples/demo/make_demo_db.py): its two cookies.
browser="sessionid=alicedemosession0000000000000001; csrftoken=DemoCsrfSecret0123456789abcdefAB"
csrf=DemoCsrfSecret0123456789abcdefAB

if ! command -v curl >/dev/null; then
    echo "demo: installing curl" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl >/dev/null 2>&1 || {
        apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl >/dev/null
    }
fi

run() {
    printf '\n$ drfgate explain --config examples/demo/drfgate.toml'
    printf ' %q' "$@"
    printf '\n'
    "$drfgate" explain --config "$config" "$@"
}

"$drfgate" check --config "$config"
echo
DRFGATE_LOG=error "$drfgate" serve --config "$config" --listen "$listen" &
serve_pid=$!
stopped=0
stop() {
    if [[ $stopped == 0 ]]; then
        stopped=1
        kill -TERM "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
    fi
}
trap 'echo; stop; exit 0' INT TERM
trap stop EXIT

for _ in $(seq 100); do
    kill -0 "$serve_pid" 2>/dev/null || { echo "demo: drfgate serve did not start" >&2; exit 1; }
    curl -fsS -o /dev/null "$base/.drfgate/health" 2>/dev/null && break
    sleep 0.1
done

show() {
    local shown=() arg
    for arg in "$@"; do
        if [[ $arg == *" "* ]]; then shown+=("'$arg'"); else shown+=("$arg"); fi
    done
    printf '\n$ curl -i %s\n' "${shown[*]}"
    # Date and length headers add nothing to the story.
    curl -sS -i "$@" | tr -d '\r' | grep -viE '^(date|content-length):'
    echo
}

echo "The guide's OrderViewSet (TokenAuthentication + SessionAuthentication, IsAuthenticated):"
show "$base/api/orders/"
show -H "Authorization: Token $alice" "$base/api/orders/"
show -H "Authorization: Bearer $alice" "$base/api/orders/"
echo "Why was Bearer refused? drfgate explain tells, step by step:"
run -H "Authorization: Bearer $alice" /api/orders/
show -X POST -H "Authorization: Token $alice" "$base/api/orders/7/"
echo "alice's browser, logged in to Django (SessionAuthentication): a POST that sends the CSRF token"
echo "in X-CSRFToken is allowed; a JavaScript client that forgot the header is refused as DRF refuses it:"
show -X POST -H "Cookie: $browser" -H "X-CSRFToken: $csrf" "$base/api/orders/"
show -X POST -H "Cookie: $browser" "$base/api/orders/"
echo "An admin-only route (IsAdminUser): alice is not staff, boss is:"
show -H "Authorization: Token $alice" "$base/api/admin/report/"
show -H "Authorization: Token $boss" "$base/api/admin/report/"

if [[ ${DEMO_ONCE:-0} == 1 ]]; then
    exit 0
fi
echo "drfgate serve is answering on $base — paste the commands above to try them; Ctrl-C stops it."
wait "$serve_pid"

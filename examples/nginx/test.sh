#!/usr/bin/env bash
# Debian's nginx in front of `drfgate serve`, configured with examples/nginx/drfgate.conf:
# DRF's refusals reach the client unchanged, the app behind nginx gets the identity headers,
# and a client cannot forge them. nginx runs on loopback high ports with its own config, pid
# and log files, and is stopped at the end. Installs nginx (and curl) with apt-get if missing.
#   DRFGATE_BIN   the drfgate binary (default target/debug/drfgate)
set -euo pipefail
# A missing nginx is installed; one that cannot be, or a missing demo database, fails the
# suite unless DRFGATE_SKIP names it (README, "How it is tested").
for name in nginx django; do
    case ",${DRFGATE_SKIP:-}," in *",$name,"*)
        echo "test-nginx: skipped (DRFGATE_SKIP=$name)" >&2
        exit 0
    esac
done
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
drfgate="${DRFGATE_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/drfgate}"
nginx=/usr/sbin/nginx
alice="Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
boss="Token b0557ac27e6e4fa5a1a83a8b1b5d1d8e2f3c4b5a"

install() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 || {
        apt-get update >/dev/null
        apt-get install -y --no-install-recommends "$@" >/dev/null
    }
}
[[ -x $nginx ]] || { echo "test-nginx: installing nginx" >&2; install nginx; }
command -v curl >/dev/null || install curl
[[ -x $drfgate ]] || { echo "test-nginx: no drfgate binary at $drfgate" >&2; exit 2; }
[[ -f $root/.demo/db.sqlite3 ]] || { echo "test-nginx: no demo database (make demo-db)" >&2; exit 2; }

run="$(mktemp -d /tmp/drfgate-nginx.XXXXXX)"
pids=()
cleanup() {
    [[ -f $run/nginx.pid ]] && kill -QUIT "$(cat "$run/nginx.pid")" 2>/dev/null
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    [[ -n ${KEEP_RUN:-} ]] || rm -rf "$run"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
nginx_port="$(free_port)"
serve_port="$(free_port)"
app_port="$(free_port)"

python3 "$root/examples/nginx/echo_app.py" "$app_port" &
pids+=($!)
DRFGATE_LOG=error "$drfgate" serve --config "$root/examples/nginx/drfgate.toml" \
    --listen "127.0.0.1:$serve_port" >"$run/serve.log" 2>&1 &
pids+=($!)

mkdir -p "$run/temp"
{
    [[ $(id -u) == 0 ]] && echo "user root;"
    cat <<EOF
worker_processes 1;
pid $run/nginx.pid;
error_log $run/error.log warn;
events { worker_connections 64; }
http {
    access_log $run/access.log;
    client_body_temp_path $run/temp/body;
    proxy_temp_path $run/temp/proxy;
    fastcgi_temp_path $run/temp/fastcgi;
    uwsgi_temp_path $run/temp/uwsgi;
    scgi_temp_path $run/temp/scgi;
EOF
    sed -e "s/127.0.0.1:9180/127.0.0.1:$serve_port/" \
        -e "s/127.0.0.1:8000/127.0.0.1:$app_port/" \
        -e "s/listen 80;/listen 127.0.0.1:$nginx_port;/" \
        "$root/examples/nginx/drfgate.conf"
    echo "}"
} >"$run/nginx.conf"
"$nginx" -t -q -p "$run" -c "$run/nginx.conf"
"$nginx" -p "$run" -c "$run/nginx.conf" -g "daemon off;" 2>>"$run/error.log" &
pids+=($!)

for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$serve_port/.drfgate/health" 2>/dev/null &&
        curl -fsS -o /dev/null "http://127.0.0.1:$app_port/" 2>/dev/null &&
        curl -sS -o /dev/null "http://127.0.0.1:$nginx_port/" 2>/dev/null && break
    sleep 0.1
done

passed=0
failed=0
# check NAME STATUS BODY [Header:value]... -- CURL-ARGS...
check() {
    local name=$1 want_status=$2 want_body=$3
    shift 3
    local want_headers=()
    while [[ $1 != -- ]]; do want_headers+=("$1"); shift; done
    shift
    local status body problems=()
    status="$(curl -sS -o "$run/body" -D "$run/headers" -w '%{http_code}' "$@" "http://127.0.0.1:$nginx_port$path")"
    body="$(cat "$run/body")"
    [[ $status == "$want_status" ]] || problems+=("status $status, wanted $want_status")
    # "-": a HEAD request, whose headers curl writes where the body would go.
    [[ $want_body == - || $body == "$want_body" ]] || problems+=("body $body, wanted $want_body")
    local header count
    for header in "${want_headers[@]}"; do
        count="$(grep -ciF -- "${header%%:*}:" "$run/headers" || true)"
        grep -qixF -- "$header"$'\r' "$run/headers" || problems+=("no header '$header'")
        [[ $count == 1 ]] || problems+=("${header%%:*} appears $count times")
    done
    if ((${#problems[@]})); then
        failed=$((failed + 1))
        printf 'FAIL %s: %s\n' "$name" "$(IFS=';'; echo "${problems[*]}")"
        sed 's/^/     /' "$run/headers"
    else
        passed=$((passed + 1))
        printf 'ok   %s\n' "$name"
    fi
}

NP='{"detail":"Authentication credentials were not provided."}'
DEF='{"detail":"You do not have permission to perform this action."}'

path=/api/orders/
check "no credentials: DRF's 401" 401 "$NP" \
    "Content-Type: application/json" "WWW-Authenticate: Token" "Allow: GET, POST, HEAD, OPTIONS" --
check "Bearer instead of Token: 401" 401 "$NP" "WWW-Authenticate: Token" -- \
    -H "Authorization: Bearer ${alice#Token }"
check "unknown token: 401 Invalid token." 401 '{"detail":"Invalid token."}' "WWW-Authenticate: Token" -- \
    -H "Authorization: Token nope"
check "alice: the app sees her" 200 '{"auth": "token", "method": "GET", "path": "/api/orders/", "user": "alice", "user_id": "1"}' -- \
    -H "Authorization: $alice"
check "alice cannot pose as boss" 200 '{"auth": "token", "method": "GET", "path": "/api/orders/", "user": "alice", "user_id": "1"}' -- \
    -H "Authorization: $alice" -H "X-Drfgate-User: boss" -H "X-Drfgate-User-Id: 2"
check "POST is allowed on the list" 200 '{"auth": "token", "method": "POST", "path": "/api/orders/", "user": "alice", "user_id": "1"}' -- \
    -X POST -H "Authorization: $alice" -d 'x=1'
check "HEAD without credentials: 401, no body" 401 - "WWW-Authenticate: Token" "Content-Length: 58" -- -I
path=/api/orders/7/
check "POST on the detail route: DRF's 405" 405 '{"detail":"Method \"POST\" not allowed."}' \
    "Allow: GET, PUT, PATCH, DELETE, HEAD, OPTIONS" -- -X POST -H "Authorization: $alice"
path="/api/orders/7/?page=2"
check "the query string reaches the app" 200 '{"auth": "token", "method": "DELETE", "path": "/api/orders/7/?page=2", "user": "alice", "user_id": "1"}' -- \
    -X DELETE -H "Authorization: $alice"
path=/api/admin/report/
check "alice is not staff: DRF's 403" 403 "$DEF" "Allow: GET, HEAD, OPTIONS" -- -H "Authorization: $alice"
check "boss is staff" 200 '{"auth": "token", "method": "GET", "path": "/api/admin/report/", "user": "boss", "user_id": "2"}' -- \
    -H "Authorization: $boss"
path=/api/public/
check "anonymous on an AllowAny route; forged identity dropped" 200 '{"auth": "anonymous", "method": "GET", "path": "/api/public/", "user": null, "user_id": null}' -- \
    -H "X-Drfgate-User: boss" -H "X-Drfgate-Auth: token"

# $http_host, not $host: the case and the port as the client sent them (Django's ALLOWED_HOSTS,
# Origin and Referer checks judge this Host).
path=/api/public/
check "the client's Host reaches the app unchanged" 200 - "X-Echo-Host: API.Example.TEST:8443" -- \
    -H "Host: API.Example.TEST:8443"

echo "test-nginx: $passed passed, $failed failed"
((failed == 0))

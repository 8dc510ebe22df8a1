#!/usr/bin/env bash
# Requests/s through Debian's nginx in front of DRF under gunicorn, three ways: the decision in
# nginx (ngx_http_drfgate_module), auth_request to `drfgate serve`, and no gate (gunicorn + DRF
# refuse); for a bad token (401) and for a cached allowed token (200, reaching gunicorn). Plus
# the module's refusal against nginx answering the same 401 itself (`return 401`). One wrk run
# of each, on one machine; prints a Markdown table for BENCHMARKS.md.
#   BENCH_SECONDS      duration of each wrk run (default 10)
#   BENCH_CONNECTIONS  wrk connections (default 32)
#   NGINX_PROFILE      which libdrfgate the module and serve come from (default debug: what
#                      `make test` builds; release for `make nginx-module build`)
# Needs `make fixture-db nginx-module` (and the drfgate binary of the same profile).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
profile="${NGINX_PROFILE:-debug}"
target="${CARGO_TARGET_DIR:-$root/target}/$profile"
drfgate="$target/drfgate"
module="$root/build/nginx/src/objs/ngx_http_drfgate_module.so"
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
for f in "$drfgate" "$module" "$db"; do
    [[ -e $f ]] || { echo "bench: missing $f (make fixture-db nginx-module, cargo build -p drfgate-cli)" >&2; exit 2; }
done

run="$(mktemp -d /tmp/drfgate-bench-nginx.XXXXXX)"
pids=()
cleanup() {
    [[ -f $run/nginx.pid ]] && kill -QUIT "$(cat "$run/nginx.pid")" 2>/dev/null
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$run"
}
trap cleanup EXIT

cp "$db" "$run/db.sqlite3"
cat >"$run/drfgate.toml" <<EOF
[django]
DATABASE = "sqlite://$run/db.sqlite3"
[serve]
trusted_forwarded = ["x-original"]
[[routes]]
path = "api/token-ia/"
methods = ["GET", "POST", "PUT", "DELETE"]
authentication_classes = ["TokenAuthentication"]
permission_classes = ["IsAuthenticated"]
EOF

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
serve_port="$(free_port)"; gunicorn_port="$(free_port)"
module_port="$(free_port)"; authreq_port="$(free_port)"; plain_port="$(free_port)"; return_port="$(free_port)"

DRFGATE_LOG=error "$drfgate" serve --config "$run/drfgate.toml" --listen "127.0.0.1:$serve_port" >/dev/null 2>&1 &
pids+=($!)
(cd "$root/tests/django" && DRFGATE_DJANGO_DB="$run/db.sqlite3" exec "$root/.venv/bin/gunicorn" \
    refproj.wsgi:application --bind "127.0.0.1:$gunicorn_port" --workers 2 --log-level warning) &
pids+=($!)

mkdir -p "$run/temp"
cat >"$run/nginx.conf" <<EOF
$([[ $(id -u) == 0 ]] && echo "user root;")
worker_processes 2;
pid $run/nginx.pid;
error_log $run/error.log warn;
load_module $module;
thread_pool drfgate threads=4;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $run/temp/body;
    proxy_temp_path $run/temp/proxy;
    fastcgi_temp_path $run/temp/fastcgi;
    uwsgi_temp_path $run/temp/uwsgi;
    scgi_temp_path $run/temp/scgi;
    drfgate_config $run/drfgate.toml;
    drfgate_thread_pool drfgate;
    upstream app { server 127.0.0.1:$gunicorn_port; keepalive 32; }
    upstream drfgate { server 127.0.0.1:$serve_port; keepalive 32; }
    server {
        listen 127.0.0.1:$module_port;
        drfgate on;
        location / {
            proxy_set_header X-Drfgate-User \$drfgate_user;
            proxy_set_header Host \$http_host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://app;
        }
    }
    server {
        listen 127.0.0.1:$authreq_port;
        location / {
            auth_request /_drfgate;
            auth_request_set \$u \$upstream_http_x_drfgate_user;
            error_page 401 403 500 = @refusal;
            proxy_set_header X-Drfgate-User \$u;
            proxy_set_header Host \$http_host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://app;
        }
        location = /_drfgate {
            internal;
            proxy_pass http://drfgate;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-Method \$request_method;
            proxy_set_header X-Original-URI \$request_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location @refusal {
            internal;
            proxy_pass http://drfgate;
            proxy_hide_header WWW-Authenticate;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-Method \$request_method;
            proxy_set_header X-Original-URI \$request_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
    server {
        listen 127.0.0.1:$plain_port;
        location / {
            proxy_set_header Host \$http_host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://app;
        }
    }
    server {
        listen 127.0.0.1:$return_port;
        location / {
            default_type application/json;
            add_header WWW-Authenticate Token always;
            return 401 '{"detail":"Invalid token."}';
        }
    }
}
EOF
/usr/sbin/nginx -t -q -p "$run" -c "$run/nginx.conf"
/usr/sbin/nginx -p "$run" -c "$run/nginx.conf"
for port in "$serve_port" "$gunicorn_port" "$module_port"; do
    for _ in $(seq 200); do
        curl -s -o /dev/null "http://127.0.0.1:$port/api/token-ia/" && break
        sleep 0.1
    done
done

# rps PORT AUTH EXPECTED_STATUS: requests/s of one wrk run (after checking the answer).
rps() {
    local status
    status="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $2" "http://127.0.0.1:$1/api/token-ia/")"
    [[ $status == "$3" ]] || { echo "bench: port $1 answered $status, wanted $3" >&2; exit 1; }
    wrk -t2 -c"$connections" -d"${seconds}s" -H "Authorization: $2" "http://127.0.0.1:$1/api/token-ia/" |
        awk '/Requests\/sec/ {printf "%.0f", $2}'
}
bad="Token nope"
good="Token abcd1234"
m_bad="$(rps "$module_port" "$bad" 401)"
a_bad="$(rps "$authreq_port" "$bad" 401)"
p_bad="$(rps "$plain_port" "$bad" 401)"
r_bad="$(rps "$return_port" "$bad" 401)"
m_good="$(rps "$module_port" "$good" 200)"
a_good="$(rps "$authreq_port" "$good" 200)"
p_good="$(rps "$plain_port" "$good" 200)"

echo "| Request (wrk -t2 -c$connections, ${seconds} s each; $profile libdrfgate) | nginx + module | nginx auth_request → drfgate serve | nginx → gunicorn + DRF refusing/allowing |"
echo "|---|---:|---:|---:|"
echo "| \`Token nope\` → 401 \`Invalid token.\` | $m_bad | $a_bad | $p_bad |"
echo "| \`Token abcd1234\` (cached) → 200, through to gunicorn | $m_good | $a_good | $p_good |"
echo
echo "Module refusal vs nginx's own \`return 401\` (same JSON body and WWW-Authenticate): $m_bad vs $r_bad requests/s, ratio $(awk "BEGIN {printf \"%.2f\", $m_bad / $r_bad}")."

#!/usr/bin/env bash
# Requests/s through Debian's nginx in front of DRF under gunicorn, three ways: the decision in
# nginx (ngx_http_drfgate_module), auth_request to `drfgate serve`, and no gate (gunicorn + DRF
# refuse); for a bad token (401) and for a cached allowed token (200, reaching gunicorn). And
# issue 16's ratio: the module's refusal against nginx answering the same 401 itself (`return
# 401`, same body and WWW-Authenticate), target ≥ 90 %, measured in alternating rounds.
# Writes $BENCH_RESULTS/nginx.md and a line of ratios.tsv (bench/lib.sh has the settings).
#   NGINX_PROFILE  which libdrfgate the module and serve come from (default release, what
#                  `make bench-nginx` builds; debug for the builds `make test` makes)
# Needs `make fixture-db nginx-module` (and the drfgate binary of the same profile).
set -euo pipefail
shopt -s inherit_errexit
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
profile="${NGINX_PROFILE:-release}"
drfgate="${CARGO_TARGET_DIR:-$root/target}/$profile/drfgate"
module="$root/build/nginx/src/objs/ngx_http_drfgate_module.so"
for f in "$drfgate" "$module"; do
    [[ -e $f ]] || { echo "bench: missing $f (make bench-nginx builds it)" >&2; exit 2; }
done

bench_start nginx
bench_gate_config '[serve]
trusted_forwarded = ["x-original"]'
serve_port="$(bench_free_port)"; gunicorn_port="$(bench_free_port)"
module_port="$(bench_free_port)"; authreq_port="$(bench_free_port)"
plain_port="$(bench_free_port)"; return_port="$(bench_free_port)"
load_before="$(bench_load)"
DRFGATE_LOG=error bench_spawn "$drfgate" serve --config "$run/drfgate.toml" --listen "127.0.0.1:$serve_port" >/dev/null 2>&1
bench_gunicorn "$gunicorn_port"

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
bench_wait "$serve_port" "$gunicorn_port" "$module_port" "$return_port"
# One nginx serves both sides of the ratio, one after the other: its master and workers' CPU.
bench_port_pids[$module_port]="$(cat "$run/nginx.pid")"
bench_port_pids[$return_port]="$(cat "$run/nginx.pid")"

path=/api/token-ia/
bad="Token nope"
good="Token abcd1234"
echo "module refusing vs nginx's own return 401" >&2
read -r m_bad r_bad m_bad_cpu r_bad_cpu < <(bench_alternate "$module_port" $path "$bad" 401 "$return_port" $path "$bad" 401)
measured="$(bench_rps "$authreq_port" $path "$bad" 401)"
a_bad="${measured%% *}"
measured="$(bench_rps "$plain_port" $path "$bad" 401)"
p_bad="${measured%% *}"
measured="$(bench_rps "$module_port" $path "$good" 200)"
m_good="${measured%% *}"
measured="$(bench_rps "$authreq_port" $path "$good" 200)"
a_good="${measured%% *}"
measured="$(bench_rps "$plain_port" $path "$good" 200)"
p_good="${measured%% *}"
load_after="$(bench_load)"
bench_record "nginx module refusing vs nginx return 401, requests/s" "$m_bad" "$r_bad" "$(bench_ratio "$m_bad" "$r_bad")" "≥ 0.90"
bench_record "nginx module refusing vs nginx return 401, nginx CPU µs per request (baseline ÷ module)" "$m_bad_cpu" "$r_bad_cpu" "$(bench_ratio "$r_bad_cpu" "$m_bad_cpu")" "≥ 0.90"

cat >"$bench_results/nginx.md" <<EOF
Debian's nginx $(/usr/sbin/nginx -v 2>&1 | sed 's|.*nginx/||') (2 workers) in front of the reference project under gunicorn (2 sync
workers), the route \`api/token-ia/\` (\`TokenAuthentication\`, \`IsAuthenticated\`); the module and \`serve\` from the
$profile libdrfgate. \`wrk -t2 -c$bench_connections -d${bench_seconds}s\`, requests/s; the module's refusal and nginx's own
\`return 401 '{"detail":"Invalid token."}'\` (same \`WWW-Authenticate\`) in $bench_rounds alternating runs each (medians),
the other cells one run each. Load average (1/5/15 min) $load_before before, $load_after after.

| Request | nginx + module | nginx \`auth_request\` → \`drfgate serve\` | nginx → gunicorn + DRF | nginx \`return 401\` |
|---|---:|---:|---:|---:|
| \`Token nope\` → 401 \`Invalid token.\` | $m_bad | $a_bad | $p_bad | $r_bad |
| \`Token abcd1234\` (cached) → 200, through to gunicorn | $m_good | $a_good | $p_good | |

Module refusal / nginx's own \`return 401\`: **$(bench_ratio "$m_bad" "$r_bad")** in requests/s (target ≥ 0.90); nginx's CPU
time (master and workers, user + system) per request: $m_bad_cpu µs refusing in the module, $r_bad_cpu µs for \`return 401\`
(ratio $(bench_ratio "$r_bad_cpu" "$m_bad_cpu")).
EOF
cat "$bench_results/nginx.md"

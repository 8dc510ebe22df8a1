# Shared by the wrk benchmarks (bench/serve.sh, bench/nginx.sh): a private run directory whose
# servers are stopped by pid on exit, the gate's config for the one benchmarked route, free
# loopback ports, waiting for a server, and requests/s measured in alternating rounds so that a
# burst of other work on the shared machine lands on both sides of a ratio, not on one.
#   BENCH_SECONDS      duration of each wrk run (default 5)
#   BENCH_ROUNDS       wrk runs per side, alternating; the median is reported (default 3)
#   BENCH_CONNECTIONS  wrk connections (default 32)
#   BENCH_RESULTS      directory the scripts write their Markdown and ratios into (default
#                      build/bench); bench/write_tables.py puts them into BENCHMARKS.md
# Source it after setting `root`; `bench_start NAME` makes the run directory.

bench_seconds="${BENCH_SECONDS:-5}"
bench_rounds="${BENCH_ROUNDS:-3}"
bench_connections="${BENCH_CONNECTIONS:-32}"
bench_results="${BENCH_RESULTS:-$root/build/bench}"
bench_pids=()

# wrk from Debian when missing (scripts/debian-packages.sh installs as root, else says what to do).
"$root/scripts/debian-packages.sh" bench wrk

bench_cleanup() {
    if [[ -n ${run:-} && -f $run/nginx.pid ]]; then
        kill -QUIT "$(cat "$run/nginx.pid")" 2>/dev/null || true
    fi
    local pid
    for pid in "${bench_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${bench_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    [[ -n ${run:-} ]] && rm -rf "$run"
}

# bench_start NAME: the run directory ($run) with a copy of the fixture database, removed with
# every server started through bench_spawn when the script exits.
bench_start() {
    local db="$root/build/django/db.sqlite3"
    [[ -f $db ]] || { echo "bench: no fixture database $db (make fixture-db)" >&2; exit 2; }
    run="$(mktemp -d "/tmp/drfgate-bench-$1.XXXXXX")"
    trap bench_cleanup EXIT
    cp "$db" "$run/db.sqlite3"
    mkdir -p "$bench_results"
}

# bench_spawn COMMAND...: started in the background, stopped (by its pid) on exit.
bench_spawn() {
    "$@" &
    bench_pids+=($!)
}

# The route every wrk benchmark asks for: GET /api/token-ia/, TokenAuthentication +
# IsAuthenticated, over the run's database; extra lines (a [serve] section) before the route.
bench_gate_config() {
    cat >"$run/drfgate.toml" <<EOF
[django]
DATABASE = "sqlite://$run/db.sqlite3"
$1
[[routes]]
path = "api/token-ia/"
methods = ["GET", "POST", "PUT", "DELETE"]
authentication_classes = ["TokenAuthentication"]
permission_classes = ["IsAuthenticated"]
EOF
}

bench_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# bench_gunicorn PORT: the reference DRF project under gunicorn (2 sync workers), run database.
bench_gunicorn() {
    (cd "$root/tests/django" && DRFGATE_DJANGO_DB="$run/db.sqlite3" exec "$root/.venv/bin/gunicorn" \
        refproj.wsgi:application --bind "127.0.0.1:$1" --workers 2 --log-level warning) &
    bench_pids+=($!)
}

# bench_wait PORT...: until each answers HTTP at all (20 s at most).
bench_wait() {
    local port
    for port in "$@"; do
        for _ in $(seq 200); do
            curl -s -o /dev/null "http://127.0.0.1:$port/" && continue 2
            sleep 0.1
        done
        echo "bench: nothing answers on port $port" >&2
        exit 1
    done
}

# The pids whose CPU time counts for a port's server: set by the script once they run
# (bench_port_pids[PORT]="PID..."; their child processes count too, e.g. nginx's workers).
declare -A bench_port_pids=()

# bench_cpu_ticks PID...: user + system CPU time of those processes and their children, in
# clock ticks (the kernel's per-process accounting: load-robust where throughput is not, since
# time spent waiting for a core is not in it).
bench_cpu_ticks() {
    local pids=("$@") pid child total=0
    for pid in "$@"; do
        for child in $(pgrep -P "$pid" 2>/dev/null || true); do pids+=("$child"); done
    done
    for pid in "${pids[@]}"; do
        [[ -r /proc/$pid/stat ]] || continue
        # Fields 14 and 15, counted after the command name (which may contain spaces).
        total=$((total + $(sed 's/^.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')))
    done
    echo "$total"
}

# bench_rps PORT PATH AUTH EXPECTED_STATUS: one wrk run, after checking that one request gets
# the expected status (AUTH empty: no Authorization header); prints "REQUESTS_PER_S
# SERVER_CPU_US_PER_REQUEST" (the second "-" without bench_port_pids for the port). The
# command goes to stderr as run.
bench_rps() {
    local port=$1 path=$2 auth=$3 expected=$4 status before after
    local header=()
    [[ -n $auth ]] && header=(-H "Authorization: $auth")
    status="$(curl -s -o /dev/null -w '%{http_code}' "${header[@]}" "http://127.0.0.1:$port$path")"
    [[ $status == "$expected" ]] || { echo "bench: port $port $path answered $status, wanted $expected" >&2; exit 1; }
    local command=(wrk -t2 -c"$bench_connections" -d"${bench_seconds}s" "${header[@]}" "http://127.0.0.1:$port$path")
    echo "\$ ${command[*]}" >&2
    local pids="${bench_port_pids[$port]:-}"
    # shellcheck disable=SC2086 # a list of pids
    [[ -n $pids ]] && before="$(bench_cpu_ticks $pids)"
    "${command[@]}" >"$run/wrk.out"
    # shellcheck disable=SC2086
    [[ -n $pids ]] && after="$(bench_cpu_ticks $pids)"
    awk -v before="${before:-}" -v after="${after:-}" -v hz="$(getconf CLK_TCK)" '
        / requests in / { requests = $1 }
        /^Requests\/sec:/ { rps = $2 }
        END {
            cpu = before == "" ? "-" : sprintf("%.2f", (after - before) * 1e6 / hz / requests)
            printf "%.0f %s\n", rps, cpu
        }' "$run/wrk.out"
}

# The median of numbers ("-" when they are "-": not measured).
bench_median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# bench_alternate PORT_A PATH_A AUTH_A STATUS_A PORT_B PATH_B AUTH_B STATUS_B: bench_rps for two
# sides, BENCH_ROUNDS times each, A then B then A…; prints "rps_a rps_b cpu_a cpu_b", medians of
# requests/s and of server CPU µs per request (every run goes to stderr).
bench_alternate() {
    local rps_a=() rps_b=() cpu_a=() cpu_b=() measured rps cpu
    for _ in $(seq "$bench_rounds"); do
        # Assigned first: a failed run stops the script (set -e), where a here-string would not.
        measured="$(bench_rps "$1" "$2" "$3" "$4")"
        read -r rps cpu <<<"$measured"
        echo "  a: $rps requests/s, server CPU $cpu µs/request" >&2
        rps_a+=("$rps"); cpu_a+=("$cpu")
        measured="$(bench_rps "$5" "$6" "$7" "$8")"
        read -r rps cpu <<<"$measured"
        echo "  b: $rps requests/s, server CPU $cpu µs/request" >&2
        rps_b+=("$rps"); cpu_b+=("$cpu")
    done
    echo "$(bench_median "${rps_a[@]}") $(bench_median "${rps_b[@]}") $(bench_median "${cpu_a[@]}") $(bench_median "${cpu_b[@]}")"
}

bench_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# bench_load: the 1-, 5- and 15-minute load averages, as the tables record them.
bench_load() { cut -d' ' -f1-3 /proc/loadavg; }

# bench_record KEY MEASURED BASELINE RATIO TARGET: one line of $bench_results/ratios.tsv, the
# summary table bench/write_tables.py writes (the load average at the time goes with it).
bench_record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$(bench_load)" >>"$bench_results/ratios.tsv"
}

#!/usr/bin/env bash
# Starts the database servers the network stores' tests use, each only if it is down:
# PostgreSQL (127.0.0.1:5432, trust), MariaDB (127.0.0.1:3306, root without a password), Redis
# (127.0.0.1:6379). This kind of machine installs and starts them before a session; CI and a
# machine whose service stopped need them started again. The commands are the machine's own
# (see docs/testing.md). Waits until each answers, at most 30 s each.
set -euo pipefail

wait_for() {
    local what="$1"; shift
    for _ in $(seq 1 60); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.5
    done
    echo "services: $what did not come up" >&2
    return 1
}

if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    echo "services: starting PostgreSQL" >&2
    for version in $(ls /etc/postgresql); do
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432 -q
fi

if command -v mariadb-admin >/dev/null && ! mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1; then
    echo "services: starting MariaDB" >&2
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_for MariaDB mariadb-admin -h 127.0.0.1 -u root ping
fi

if command -v redis-cli >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "services: starting Redis" >&2
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
fi

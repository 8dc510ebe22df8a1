#!/usr/bin/env python3
"""Revocation across gate processes (issue 12 part 4), against the real servers: three
`drfgate serve` processes with a 300 s cache read one database; a change made through Django
(token.delete(), a token replaced by a new one, set_password, is_active=False, user.delete())
must reach all three within one second, through PostgreSQL's LISTEN/NOTIFY (the triggers of drfgate_django's migration) or
through Redis pub/sub (drfgate_django's signal handlers, for MariaDB). Then the listeners'
connections are killed on the server (pg_terminate_backend, CLIENT KILL) and revocation must
work again once they are back. Last, the connections the gates hold on the database server are
counted (pg_stat_activity, information_schema.PROCESSLIST, matched to each gate's sockets) during
a burst of concurrent first lookups: at most POOL_SIZE + the listener per process, as
docs/configuration.md ("Connections per host") says.

Usage: revocation.py --drfgate PATH --engine postgres|mysql [--bench N]
  --bench N  no test: N times, the time from token.delete() to the first refusal by another
             gate process (BENCHMARKS.md), median and worst.

The one deadline is the requirement itself (a revocation reaches every gate within one second);
the figures measured are printed.
"""
import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from server_side import (
    PASSWORD,
    SERVERS,
    Failure,
    basic_header,
    count_redis_connections,
    count_server_connections,
    database_url,
    free_port,
    gate_config,
    make_user,
    raw_delete_token,
    redis_clients,
    redis_call,
    setup_django,
    token_header,
    wait_for,
)

DATABASE_NAME = "drfgate_revocation"
REQUIREMENT_SECONDS = 1.0
GATES = 3
# The gates' pool (set in their DATABASE, the store's default), to which a PostgreSQL revocation
# source adds one listener connection per process (a Redis source's goes to Redis instead).
POOL_SIZE = 4
BURST_TOKENS = 16


class Gate:
    def __init__(self, drfgate, config, scratch, number):
        self.port = free_port()
        self.log = scratch / f"gate-{number}.log"
        self.process = subprocess.Popen(
            [drfgate, "serve", "--config", str(config), "--listen", f"127.0.0.1:{self.port}"],
            stdout=open(self.log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(os.environ, DRFGATE_LOG="info"),
        )
        self.connection = None

    def wait_serving(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Failure(f"gate exited: {self.log.read_text(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise Failure(f"gate on {self.port} did not start")

    def status(self, authorization):
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.connection.request("GET", "/api/thing/", headers={"Authorization": authorization})
                response = self.connection.getresponse()
                response.read()
                return response.status
            except (OSError, http.client.HTTPException):
                self.connection.close()
                self.connection = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def log_text(self):
        return self.log.read_text(errors="replace")

    def stop(self):
        if self.connection is not None:
            self.connection.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def listening_count(gate):
    return len(re.findall(r"revocation: (LISTEN|SUBSCRIBE) |revocation: .* is back", gate.log_text()))


def wait_listening(gates, at_least=1):
    for gate in gates:
        wait_for(lambda: listening_count(gate) >= at_least, f"the listener of the gate on {gate.port}")


def expect_allowed(gates, header):
    for gate in gates:
        status = gate.status(header)
        if status != 200:
            raise Failure(f"gate {gate.port} answered {status}, expected 200")


def time_to_refusal(gates, header, changed_at):
    """Seconds from `changed_at` until every gate refuses `header` (each gate's own figure)."""
    figures = {}
    deadline = changed_at + REQUIREMENT_SECONDS
    while len(figures) < len(gates):
        for gate in gates:
            if gate.port in figures:
                continue
            if gate.status(header) != 200:
                figures[gate.port] = time.monotonic() - changed_at
        if len(figures) < len(gates) and time.monotonic() > deadline:
            late = [g.port for g in gates if g.port not in figures]
            raise Failure(f"gates {late} still allow {REQUIREMENT_SECONDS} s after the change")
    return max(figures.values())


def kill_listeners(engine, channel):
    if engine == "postgres":
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'drfgate-revocation' AND datname = current_database()"
            )
            return cursor.fetchone()[0]
    name = f"drfgate-revocation:{channel}"
    killed = 0
    for fields in redis_clients():
        if fields.get("name") == name:
            redis_call("CLIENT", "KILL", "ID", fields["id"])
            killed += 1
    return killed


def run_test(engine, gates, channel, control):
    from django.contrib.auth.models import User

    figures = {}
    wait_listening(gates)

    # Control: a token deleted without a notification is still allowed from the cache.
    expect_allowed(gates, token_header(control.key))
    raw_delete_token(engine, control.key)
    expect_allowed(gates, token_header(control.key))

    cases = []
    user, token = make_user("deleted_token")
    cases.append(("token.delete()", token_header(token.key), token.delete))
    user, token = make_user("password_changed")

    def change_password(user=user):
        user.set_password("another-password")
        user.save()

    cases.append(("set_password()", basic_header("password_changed", PASSWORD), change_password))
    user, token = make_user("deactivated")

    def deactivate(user=user):
        user.is_active = False
        user.save()

    cases.append(("is_active = False", token_header(token.key), deactivate))
    user, token = make_user("deleted_user")
    cases.append(("user.delete()", token_header(token.key), user.delete))

    for name, header, change in cases:
        expect_allowed(gates, header)
        expect_allowed(gates, header)  # now from the cache
        changed_at = time.monotonic()
        change()
        figures[name] = time_to_refusal(gates, header, changed_at)

    # A token replaced (DRF's way to rotate one: the key deleted, a new one made for the same
    # user): the old key is refused within the second, and the new one is allowed everywhere.
    from rest_framework.authtoken.models import Token

    user, token = make_user("replaced_token")
    old = token_header(token.key)
    expect_allowed(gates, old)
    expect_allowed(gates, old)  # now from the cache
    changed_at = time.monotonic()
    token.delete()
    replacement = Token.objects.create(user=user)
    figures["token replaced"] = time_to_refusal(gates, old, changed_at)
    expect_allowed(gates, token_header(replacement.key))

    # The listeners' connections killed on the server: each gate reconnects by itself.
    before = [listening_count(g) for g in gates]
    killed = kill_listeners(engine, channel)
    if killed < len(gates):
        raise Failure(f"killed {killed} listener connection(s), expected {len(gates)}")
    for gate, count in zip(gates, before):
        wait_for(lambda g=gate, c=count: listening_count(g) > c, f"gate {gate.port} to reconnect")
        if "revocation: lost" not in gate.log_text():
            raise Failure(f"gate {gate.port} did not log the lost listener")
    user, token = make_user("after_reconnect")
    header = token_header(token.key)  # the key is gone from the instance once deleted
    expect_allowed(gates, header)
    expect_allowed(gates, header)
    changed_at = time.monotonic()
    token.delete()
    figures["token.delete() after reconnecting"] = time_to_refusal(gates, header, changed_at)
    if User.objects.filter(username="control").count() != 1:
        raise Failure("the control user vanished")
    for gate in gates:
        if gate.process.poll() is not None:
            raise Failure(f"gate {gate.port} exited")
    return figures


def check_connections(engine, gates):
    """A burst of concurrent first lookups (new tokens, so every gate asks the database) while
    the server's connections are sampled: each process stays within POOL_SIZE + its listener."""
    import threading
    from django.db import connection

    bound = POOL_SIZE + (1 if engine == "postgres" else 0)
    pids = [gate.process.pid for gate in gates]
    peak = [0] * len(gates)
    done = threading.Event()
    failures = []

    def sample():
        try:
            while not done.is_set():
                for index, count in enumerate(count_server_connections(engine, pids)):
                    peak[index] = max(peak[index], count)
        except Exception as error:  # reported by the main thread
            failures.append(f"sampling: {error!r}")
        finally:
            connection.close()

    def ask(gate, key):
        try:
            client = http.client.HTTPConnection("127.0.0.1", gate.port, timeout=30)
            client.request("GET", "/api/thing/", headers={"Authorization": token_header(key)})
            status = client.getresponse().status
            client.close()
            if status != 200:
                failures.append(f"gate {gate.port} answered {status} to a fresh token")
        except (OSError, http.client.HTTPException) as error:
            failures.append(f"gate {gate.port}: {error!r}")

    sampler = threading.Thread(target=sample)
    sampler.start()
    for round_number in range(2):  # two rounds of new tokens: more samples inside a burst
        tokens = [make_user(f"burst_{round_number}_{n}")[1].key for n in range(BURST_TOKENS)]
        askers = [threading.Thread(target=ask, args=(g, k)) for g in gates for k in tokens]
        for asker in askers:
            asker.start()
        for asker in askers:
            asker.join()
    done.set()
    sampler.join()
    after = count_server_connections(engine, pids)
    for index, count in enumerate(after):
        peak[index] = max(peak[index], count)
    if failures:
        raise Failure("; ".join(failures[:5]))
    if max(peak) == 0:
        raise Failure("no gate connection seen on the database server: the count is broken")
    if any(count > bound for count in peak):
        raise Failure(f"connections per gate process {peak} exceed POOL_SIZE + listener = {bound}")
    redis = count_redis_connections(pids) if engine == "mysql" else None
    if redis is not None and redis != [1] * len(gates):
        raise Failure(f"Redis connections per gate process {redis}, expected one listener each")
    return peak, after, bound, redis


def run_bench(gates, tries):
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    user = User.objects.create_user("bench", password=PASSWORD)
    first, other = gates[0], gates[1]
    times, deletes, round_trips = [], [], []
    for _ in range(tries):
        token = Token.objects.create(user=user)
        header = token_header(token.key)
        if first.status(header) != 200 or other.status(header) != 200:
            raise Failure("a fresh token was refused")
        asked_at = time.monotonic()
        other.status(header)  # a cached allow: the poll's own resolution
        round_trips.append(time.monotonic() - asked_at)
        changed_at = time.monotonic()
        token.delete()
        deletes.append(time.monotonic() - changed_at)
        while other.status(header) == 200:
            if time.monotonic() - changed_at > 10:
                raise Failure("no refusal 10 s after token.delete()")
        times.append(time.monotonic() - changed_at)
    return times, deletes, round_trips


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drfgate", required=True)
    parser.add_argument("--engine", choices=sorted(SERVERS), required=True)
    parser.add_argument("--bench", type=int, default=0)
    arguments = parser.parse_args()
    channel = f"drfgate_revocation_test_{os.getpid()}"
    url = database_url(arguments.engine, DATABASE_NAME)
    setup_django(url, arguments.engine, channel)
    scratch = Path(tempfile.mkdtemp(prefix="drfgate-revocation-"))
    config = scratch / "drfgate.toml"
    config.write_text(gate_config(url, arguments.engine, channel, POOL_SIZE))
    # The control user is made before the gates listen: on MariaDB Django publishes every user
    # saved, created too, and that revocation must not reach a gate after it cached the token.
    control = make_user("control")[1]
    gates = [Gate(arguments.drfgate, config, scratch, n) for n in range(GATES)]
    try:
        for gate in gates:
            gate.wait_serving()
        for gate in gates:
            gate.status("Token none")  # the first decision starts the listener
        if arguments.bench:
            wait_listening(gates)
            times, deletes, round_trips = run_bench(gates, arguments.bench)
            ms = lambda seconds: f"{seconds * 1000:.1f} ms"  # noqa: E731
            delete_median = statistics.median(deletes)
            print(
                f"revocation bench ({arguments.engine}, "
                f"{'LISTEN/NOTIFY' if arguments.engine == 'postgres' else 'Redis pub/sub'}), "
                f"{len(times)} tries: token.delete() -> first refusal by another gate process: "
                f"median {ms(statistics.median(times))}, worst {ms(max(times))}; baseline, same run: "
                f"the token.delete() call itself median {ms(delete_median)} "
                f"(ratio {statistics.median(times) / delete_median:.1f}x), one cached request to the "
                f"gate median {ms(statistics.median(round_trips))}"
            )
            return 0
        figures = run_test(arguments.engine, gates, channel, control)
        peak, after, bound, redis = check_connections(arguments.engine, gates)
    except Failure as failure:
        for gate in gates:
            print(f"--- gate {gate.port} log:\n{gate.log_text()}", file=sys.stderr)
        print(f"revocation ({arguments.engine}): FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        for gate in gates:
            gate.stop()
    shown = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in figures.items())
    print(f"revocation ({arguments.engine}): {GATES} gates refused within: {shown}")
    print(
        f"connections ({arguments.engine}): two rounds of {GATES * BURST_TOKENS} concurrent first "
        f"lookups; on the database server per gate process: peak {peak}, after {after} "
        f"(bound POOL_SIZE + listener = {bound}; total peak {sum(peak)} <= {GATES * bound})"
        + (f"; on Redis per gate process: {redis}" if redis is not None else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

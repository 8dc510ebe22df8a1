#!/usr/bin/env python3
"""Connections and revocation behind the Apache and nginx modules on a server database (issue 12
part 4): real Apache with the prefork MPM and APACHE_CHILDREN children, and real nginx with
NGINX_WORKERS workers, each with its module reading one database made by Django's `migrate`,
revocation on (`[revocation]`: LISTEN on PostgreSQL, SUBSCRIBE on Redis for MariaDB).

For each front end:
  revocation   kept-alive client connections pin every gate process (an Apache prefork child
               serves one connection at a time, so APACHE_CHILDREN connections reach all the
               children; an nginx connection stays with the worker that accepted it, and
               connections are opened until every worker has some; the access log names the
               process of each client port). A token deleted behind Django's back without a
               notification is still allowed by every process (its cache answers), then
               `token.delete()` and `is_active = False` through Django are refused (401) by
               every process within one second.
  connections  two bursts of concurrent first lookups (new tokens, so every process asks the
               database) while the connections on the database server are sampled and told to
               belong to each process by their client ports (/proc): at most POOL_SIZE + the
               PostgreSQL listener per gate process, none held by Apache's parent or nginx's
               master, and every connection to the test database is the test's own or a gate
               process's; on MariaDB, exactly one Redis connection (the listener) per process.
               When the front end stops, its connections are gone from the server.

Usage: frontends.py --engine postgres|mysql [--only apache,nginx]
                    [--apache-module PATH] [--nginx-module PATH]
Needs root (Apache starts as root and serves as www-data). The figures measured are printed.
"""
import argparse
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from server_side import (
    REPO,
    SERVERS,
    Failure,
    count_redis_connections,
    database_url,
    free_port,
    gate_config,
    listening_pids,
    make_user,
    process_socket_ports,
    raw_delete_token,
    server_connections,
    setup_django,
    token_header,
    wait_for,
)

DATABASE_NAME = "drfgate_frontends"
APACHE_BIN = "/usr/sbin/apache2"
APACHE_MODULES = Path("/usr/lib/apache2/modules")
NGINX_BIN = "/usr/sbin/nginx"
APACHE_MODULE = REPO / "build" / "apache" / ".libs" / "mod_drfgate.so"
NGINX_MODULE = REPO / "build" / "nginx" / "src" / "objs" / "ngx_http_drfgate_module.so"
REQUIREMENT_SECONDS = 1.0
# Prefork's children are fixed at this many (StartServers = MinSpareServers = MaxRequestWorkers),
# so that the count measured is the count configured.
APACHE_CHILDREN = 8
NGINX_WORKERS = 2
# nginx runs the decisions that need the database in this many threads per worker: enough to
# use the whole pool.
NGINX_THREADS = 4
POOL_SIZE = 4
BURST_TOKENS = 24
BURST_ROUNDS = 2
# The gated path: a static file, so that an allowed request is answered by the server itself.
PATH = "/api/thing.txt"


class Frontend:
    """A web server started with its module: a parent holding no gate, and `processes` children
    (Apache's) or workers (nginx's), each with its own gate, listener and pool."""
    processes = 0
    stop_signal = signal.SIGTERM

    def gate_pids(self):
        return children_of(self.process.pid)

    def expected_processes(self):
        return self.processes

    def logs(self):
        return read(self.error_log) + read(self.dir / "stdout.log")

    def listener_pids(self):
        """The processes whose listener logged that it is listening: after it dropped what the
        process had cached before (a credential cached earlier may have missed a revocation)."""
        return {int(pid) for pid in self.listener_line.findall(read(self.error_log))}

    def stop(self):
        stop_process(self.process, self.stop_signal)


class Apache(Frontend):
    name = "apache"
    processes = APACHE_CHILDREN
    # The listener's first message in a child's error log line: `[pid N:tid T] drfgate: ...`.
    listener_line = re.compile(r"\[pid (\d+)[^]]*\] drfgate: revocation: (?:LISTEN|SUBSCRIBE) ")

    def __init__(self, scratch, module, config):
        self.dir = scratch / "apache"
        self.dir.mkdir()
        self.port = free_port()
        self.access_log = self.dir / "access.log"
        self.error_log = self.dir / "error.log"
        self.conf = self.dir / "httpd.conf"
        site = scratch / "site" / "api"
        self.conf.write_text(f"""# written by tests/revocation/frontends.py
ServerRoot "{self.dir}"
ServerName 127.0.0.1
Listen 127.0.0.1:{self.port}
PidFile "{self.dir}/httpd.pid"
DefaultRuntimeDir "{self.dir}"
ErrorLog "{self.error_log}"
LogLevel warn drfgate:info
LogFormat "%P %{{remote}}p %>s" pids
CustomLog "{self.access_log}" pids
User www-data
Group www-data
LoadModule mpm_prefork_module "{APACHE_MODULES}/mod_mpm_prefork.so"
LoadModule authz_core_module "{APACHE_MODULES}/mod_authz_core.so"
LoadModule alias_module "{APACHE_MODULES}/mod_alias.so"
LoadModule drfgate_module "{module}"
StartServers {APACHE_CHILDREN}
MinSpareServers {APACHE_CHILDREN}
MaxSpareServers {APACHE_CHILDREN + 1}
ServerLimit {APACHE_CHILDREN}
MaxRequestWorkers {APACHE_CHILDREN}
MaxConnectionsPerChild 0
KeepAlive On
KeepAliveTimeout 120
MaxKeepAliveRequests 0
DrfgateConfig "{config}"
<Directory />
    Require all denied
</Directory>
<Directory "{site}">
    Require all granted
</Directory>
Alias /api/ "{site}/"
<Location /api/>
    Drfgate On
</Location>
""")
        # Its own session: Apache signals its whole process group on a restart.
        self.process = subprocess.Popen(
            [APACHE_BIN, "-f", str(self.conf), "-DFOREGROUND"],
            stdout=open(self.dir / "stdout.log", "wb"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)


class Nginx(Frontend):
    name = "nginx"
    processes = NGINX_WORKERS
    # nginx's graceful stop: workers finish their requests, as in production.
    stop_signal = signal.SIGQUIT
    # The listener's first message in a worker's error log line: `PID#TID: drfgate: ...`.
    listener_line = re.compile(r" (\d+)#\d+: drfgate: revocation: (?:LISTEN|SUBSCRIBE) ")

    def __init__(self, scratch, module, config):
        self.dir = scratch / "nginx"
        (self.dir / "temp").mkdir(parents=True)
        self.port = free_port()
        self.access_log = self.dir / "access.log"
        self.error_log = self.dir / "error.log"
        self.conf = self.dir / "nginx.conf"
        temp = self.dir / "temp"
        # reuseport: the kernel spreads new connections over the workers, so that a few
        # connections reach each of them (without it one idle worker may accept them all).
        self.conf.write_text(f"""# written by tests/revocation/frontends.py
user root;
worker_processes {NGINX_WORKERS};
pid {self.dir}/nginx.pid;
error_log {self.error_log} info;
load_module {module};
thread_pool drfgate threads={NGINX_THREADS};
events {{ worker_connections 256; }}
http {{
    log_format pids '$pid $remote_port $status';
    access_log {self.access_log} pids;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    keepalive_timeout 120s;
    keepalive_requests 100000;
    drfgate_config {config};
    drfgate_thread_pool drfgate;
    server {{
        listen 127.0.0.1:{self.port} reuseport;
        location /api/ {{
            drfgate on;
            root {scratch / "site"};
        }}
    }}
}}
""")
        test = subprocess.run([NGINX_BIN, "-t", "-q", "-p", str(self.dir), "-c", str(self.conf)],
                              capture_output=True, text=True)
        if test.returncode != 0:
            raise Failure(f"nginx -t: {test.stderr}")
        self.process = subprocess.Popen(
            [NGINX_BIN, "-p", str(self.dir), "-c", str(self.conf), "-g", "daemon off;"],
            stdout=open(self.dir / "stdout.log", "wb"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)


def read(path):
    return path.read_text(errors="replace") if path.exists() else ""


def children_of(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)],
                         capture_output=True, text=True).stdout
    return sorted(int(line) for line in out.split())


def stop_process(process, sig):
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def status_once(port, authorization=None):
    """One request on a connection of its own."""
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Authorization": authorization} if authorization else {}
        client.request("GET", PATH, headers=headers)
        response = client.getresponse()
        response.read()
        return response.status
    finally:
        client.close()


class Pinned:
    """A kept-alive client connection, and so one gate process: never reopened (a new
    connection could reach another process)."""

    def __init__(self, port):
        self.client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.client.connect()
        self.local_port = self.client.sock.getsockname()[1]
        self.pid = None

    def status(self, authorization):
        self.client.request("GET", PATH, headers={"Authorization": authorization})
        response = self.client.getresponse()
        response.read()
        if response.will_close:
            raise Failure(f"the server closed the kept-alive connection from {self.local_port}")
        return response.status

    def close(self):
        self.client.close()


def logged_pid(access_log, local_port):
    """The process that served the client port `local_port` (the access log: pid, port, status)."""
    for line in read(access_log).splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] == str(local_port):
            return int(fields[0])
    return None


def pin_every_process(frontend, gate_pids):
    """Kept-alive connections, opened until each gate process serves at least one; each first
    request is a new token's, so each process looks it up and starts its listener."""
    pinned = []
    for number in range(64):
        connection = Pinned(frontend.port)
        key = make_user(f"{frontend.name}_pin_{number}")[1].key
        if connection.status(token_header(key)) != 200:
            raise Failure(f"{frontend.name}: a fresh token was refused")
        wait_for(lambda: logged_pid(frontend.access_log, connection.local_port) is not None,
                 f"{frontend.name}'s access log line for port {connection.local_port}")
        connection.pid = logged_pid(frontend.access_log, connection.local_port)
        pinned.append(connection)
        if {c.pid for c in pinned} >= set(gate_pids):
            return pinned
    raise Failure(f"{frontend.name}: 64 connections reached processes "
                  f"{sorted({c.pid for c in pinned})}, not all of {gate_pids}")


def expect_everywhere(frontend, pinned, header, expected, when):
    for connection in pinned:
        status = connection.status(header)
        if status != expected:
            raise Failure(f"{frontend.name} process {connection.pid} answered {status} {when}, "
                          f"expected {expected}")


def time_to_refusal(frontend, pinned, header, changed_at):
    """Seconds from `changed_at` until every pinned process refuses `header` with 401."""
    refused = {}
    deadline = changed_at + REQUIREMENT_SECONDS
    while len(refused) < len(pinned):
        for connection in pinned:
            if connection.local_port in refused:
                continue
            status = connection.status(header)
            if status == 401:
                refused[connection.local_port] = time.monotonic() - changed_at
            elif status != 200:
                raise Failure(f"{frontend.name} process {connection.pid} answered {status}")
        if len(refused) < len(pinned) and time.monotonic() > deadline:
            late = sorted({c.pid for c in pinned if c.local_port not in refused})
            raise Failure(f"{frontend.name} processes {late} still allow "
                          f"{REQUIREMENT_SECONDS} s after the change")
    return max(refused.values())


def revocation_users(frontend):
    """Made before the front end starts: on MariaDB, Django publishes every user saved, created
    too, and that revocation must not reach a process after it cached the new token."""
    return {name: make_user(f"{frontend}_{name}") for name in ("control", "deleted_token",
                                                              "deactivated")}


def check_revocation(frontend, engine, channel, gate_pids, users):
    pinned = pin_every_process(frontend, gate_pids)
    try:
        wait_for(lambda: frontend.listener_pids() >= set(gate_pids),
                 f"the listeners of {frontend.name}'s processes {gate_pids} in its error log")
        listening = listening_pids(engine, channel, gate_pids, DATABASE_NAME)
        if listening != set(gate_pids):
            raise Failure(f"{frontend.name}: listeners on the server for processes "
                          f"{sorted(listening)}, expected {gate_pids}")
        # Control: deleted without a notification, a cached token is still allowed everywhere.
        control = users["control"][1]
        expect_everywhere(frontend, pinned, token_header(control.key), 200, "to a new token")
        raw_delete_token(engine, control.key)
        expect_everywhere(frontend, pinned, token_header(control.key), 200,
                          "to a cached token deleted without a notification")

        figures = {}
        token = users["deleted_token"][1]
        header = token_header(token.key)
        expect_everywhere(frontend, pinned, header, 200, "to a new token")
        changed_at = time.monotonic()
        token.delete()
        figures["token.delete()"] = time_to_refusal(frontend, pinned, header, changed_at)

        user, token = users["deactivated"]
        header = token_header(token.key)
        expect_everywhere(frontend, pinned, header, 200, "to a new token")
        changed_at = time.monotonic()
        user.is_active = False
        user.save()
        figures["is_active = False"] = time_to_refusal(frontend, pinned, header, changed_at)
        return figures, len(pinned)
    finally:
        for connection in pinned:
            connection.close()


def database_connections_by_owner(engine, pids):
    """{pid: connections} on the test database for `pids`, and the test database's connections
    that belong to none of them nor to this test (which must be none)."""
    mine = process_socket_ports(os.getpid())
    ports_of = {pid: process_socket_ports(pid) for pid in pids}
    counts = dict.fromkeys(pids, 0)
    strays = []
    for port, name in server_connections(engine, DATABASE_NAME):
        owner = next((pid for pid, ports in ports_of.items() if port in ports), None)
        if owner is not None:
            counts[owner] += 1
        elif port not in mine:
            strays.append((port, name))
    return counts, strays


def check_connections(frontend, engine, gate_pids):
    """Bursts of concurrent first lookups while the connections of every process are sampled."""
    from django.db import connection

    listener = 1 if engine == "postgres" else 0
    bound = POOL_SIZE + listener
    pids = [frontend.process.pid] + gate_pids
    peak = dict.fromkeys(pids, 0)
    done = threading.Event()
    failures = []
    samples = [0]

    def sample():
        try:
            while not done.is_set():
                counts, _ = database_connections_by_owner(engine, pids)
                for pid, count in counts.items():
                    peak[pid] = max(peak[pid], count)
                samples[0] += 1
        except Exception as error:  # reported by the main thread
            failures.append(f"sampling: {error!r}")
        finally:
            connection.close()

    def ask(key):
        try:
            status = status_once(frontend.port, token_header(key))
            if status != 200:
                failures.append(f"{frontend.name} answered {status} to a fresh token")
        except (OSError, http.client.HTTPException) as error:
            failures.append(f"{frontend.name}: {error!r}")

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        for round_number in range(BURST_ROUNDS):
            keys = [make_user(f"{frontend.name}_burst_{round_number}_{n}")[1].key
                    for n in range(BURST_TOKENS)]
            askers = [threading.Thread(target=ask, args=(key,)) for key in keys]
            for asker in askers:
                asker.start()
            for asker in askers:
                asker.join()
    finally:
        done.set()
        sampler.join()
    after, strays = database_connections_by_owner(engine, pids)
    for pid, count in after.items():
        peak[pid] = max(peak[pid], count)
    if failures:
        raise Failure("; ".join(failures[:5]))
    if children_of(frontend.process.pid) != gate_pids:
        raise Failure(f"{frontend.name}'s processes changed during the burst: "
                      f"{gate_pids} -> {children_of(frontend.process.pid)}")
    if strays:
        raise Failure(f"connections to {DATABASE_NAME} that belong to no {frontend.name} "
                      f"process (client port, name): {strays}")
    master = frontend.process.pid
    if peak[master]:
        raise Failure(f"{frontend.name}'s parent process held {peak[master]} connection(s)")
    gate_peaks = [peak[pid] for pid in gate_pids]
    if min(after[pid] for pid in gate_pids) < 1 + listener:
        raise Failure(f"{frontend.name}: a process holds no pool connection after its lookups "
                      f"({[after[pid] for pid in gate_pids]}): the count is broken")
    if max(gate_peaks) > bound:
        raise Failure(f"{frontend.name}: connections per process {gate_peaks} exceed "
                      f"POOL_SIZE {'+ listener ' if listener else ''}= {bound}")
    redis = None
    if engine == "mysql":
        redis = count_redis_connections(pids)
        if redis != [0] + [1] * len(gate_pids):
            raise Failure(f"{frontend.name}: Redis connections per process (parent first) "
                          f"{redis}, expected one listener per gate process and none in the parent")
    return {
        "peak": gate_peaks,
        "after": [after[pid] for pid in gate_pids],
        "bound": bound,
        "redis": redis,
        "samples": samples[0],
    }


def check_closed_on_stop(frontend, engine):
    """Once the front end is gone, so are its connections (the server sees them closed)."""
    wait_for(lambda: not database_connections_by_owner(engine, [])[1],
             f"{frontend.name}'s connections to close on the server", seconds=15)


def run(kind, engine, channel, scratch, config, module):
    users = revocation_users(kind)
    frontend = (Apache if kind == "apache" else Nginx)(scratch, module, config)
    try:
        wait_for(lambda: frontend.process.poll() is not None
                 or len(frontend.gate_pids()) == frontend.expected_processes(),
                 f"{kind}'s {frontend.expected_processes()} processes", seconds=60)
        if frontend.process.poll() is not None:
            raise Failure(f"{kind} exited: {frontend.logs()[-3000:]}")
        gate_pids = frontend.gate_pids()
        wait_for(lambda: ready(frontend), f"{kind} answering on {frontend.port}", seconds=60)
        figures, pinned = check_revocation(frontend, engine, channel, gate_pids, users)
        connections = check_connections(frontend, engine, gate_pids)
    except Failure:
        print(f"--- {kind} logs:\n{frontend.logs()[-5000:]}", file=sys.stderr)
        raise
    finally:
        frontend.stop()
    check_closed_on_stop(frontend, engine)
    return gate_pids, figures, pinned, connections


def ready(frontend):
    try:
        return status_once(frontend.port) == 401
    except OSError:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=sorted(SERVERS), required=True)
    parser.add_argument("--only", default="apache,nginx")
    parser.add_argument("--apache-module", default=str(APACHE_MODULE))
    parser.add_argument("--nginx-module", default=str(NGINX_MODULE))
    arguments = parser.parse_args()
    if os.getuid() != 0:
        print("frontends.py: needs root (Apache starts as root and serves as www-data)",
              file=sys.stderr)
        return 1
    kinds = [kind for kind in arguments.only.split(",") if kind]
    modules = {"apache": arguments.apache_module, "nginx": arguments.nginx_module}
    channel = f"drfgate_frontends_test_{os.getpid()}"
    url = database_url(arguments.engine, DATABASE_NAME)
    setup_django(url, arguments.engine, channel)
    # Readable by Apache's children (www-data): the config, and the static file they serve.
    scratch = Path(tempfile.mkdtemp(prefix="drfgate-frontends-"))
    (scratch / "site" / "api").mkdir(parents=True)
    (scratch / "site" / "api" / "thing.txt").write_text("allowed\n")
    config = scratch / "drfgate.toml"
    config.write_text(gate_config(url, arguments.engine, channel, POOL_SIZE))
    for path in (scratch, scratch / "site", scratch / "site" / "api"):
        path.chmod(0o755)
    for path in (config, scratch / "site" / "api" / "thing.txt"):
        path.chmod(0o644)
    source = "LISTEN/NOTIFY" if arguments.engine == "postgres" else "Redis pub/sub"
    try:
        for kind in kinds:
            gate_pids, figures, pinned, c = run(kind, arguments.engine, channel, scratch, config,
                                                modules[kind])
            shown = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in figures.items())
            bound_name = "POOL_SIZE + listener" if arguments.engine == "postgres" else "POOL_SIZE"
            what = (f"Apache prefork, {len(gate_pids)} children" if kind == "apache"
                    else f"nginx, {len(gate_pids)} workers")
            print(f"frontends ({arguments.engine}, {source}): {what}: {pinned} kept-alive "
                  f"connections on every process refused within: {shown}")
            print(
                f"frontends ({arguments.engine}): {what}: {BURST_ROUNDS} rounds of {BURST_TOKENS} "
                f"concurrent first lookups; on the database server per process: peak {c['peak']}, "
                f"after {c['after']}, parent 0 (bound {bound_name} = {c['bound']}; "
                f"total peak {sum(c['peak'])} <= {len(gate_pids) * c['bound']}; "
                f"{c['samples']} samples)"
                + (f"; on Redis per process: {c['redis'][1:]}" if c["redis"] else "")
            )
    except Failure as failure:
        print(f"frontends ({arguments.engine}): FAILED: {failure} (configs and logs kept in "
              f"{scratch})", file=sys.stderr)
        return 1
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

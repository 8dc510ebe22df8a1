#!/usr/bin/env python3
"""A database restart in the middle of a load run (issue 12 part 5): a private PostgreSQL
(initdb into a scratch folder, a loopback high port, run as the postgres user) or MariaDB
(mariadb-install-db into a scratch folder, a loopback high port, run as the mysql user) — the
shared servers on 5432 and 3306 are left alone — with Django's schema and users made by `migrate`
and the ORM, one `drfgate serve` reading it, and client threads sending valid, revoked, inactive
and unknown tokens while the server is stopped (PostgreSQL's fast shutdown, SIGTERM for
mariadbd) and started again.

Passes when: no request with a credential DRF refuses is ever allowed (200); every answer is
DRF's refusal, an allow of a valid token, or the outage's 503; the gate never exits; the gate's
log has one error line for the restart (not one per refused request) and one line saying the
lookups are answered again; and once the server is back every valid token is allowed again (the
gate recovered by itself).

Usage: db_restart.py --drfgate PATH [--engine postgres|mysql]
"""
import argparse
import glob
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DJANGO_DIR = REPO / "tests" / "django"
CLIENT_THREADS = 4


class Failure(Exception):
    pass


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise Failure("no PostgreSQL server binaries under /usr/lib/postgresql")
    return Path(found[-1]).parent


class PrivatePostgres:
    def __init__(self, scratch):
        self.bin = postgres_bin()
        self.port = free_port()
        self.data = scratch / "pgdata"
        self.log = scratch / "postgres.log"
        self.as_root = os.geteuid() == 0

    def run(self, *argv):
        argv = [str(a) for a in argv]
        if self.as_root:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def init(self):
        self.data.mkdir()
        self.log.touch()
        if self.as_root:
            shutil.chown(self.data, "postgres", "postgres")
            shutil.chown(self.log, "postgres", "postgres")
            shutil.chown(self.data.parent, "postgres", "postgres")
        self.run(self.bin / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self):
        self.run(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-o",
                 f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data}", "start")

    def stop(self):
        self.run(self.bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def url(self, name):
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"


class PrivateMariadb:
    def __init__(self, scratch):
        self.port = free_port()
        self.data = scratch / "mariadb"
        self.log = scratch / "mariadb.log"
        self.as_root = os.geteuid() == 0
        self.process = None

    def init(self):
        self.data.mkdir()
        user = ["--user=mysql"] if self.as_root else []
        self.log.touch()
        if self.as_root:
            for path in (self.data, self.log, self.data.parent):
                shutil.chown(path, "mysql", "mysql")
        # root without a password, as on the shared server the suites use.
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.data}",
                        "--auth-root-authentication-method=normal", "--skip-test-db"] + user,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def start(self):
        user = ["--user=mysql"] if self.as_root else []
        self.process = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={self.data}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--socket={self.data / 'mariadbd.sock'}",
             f"--pid-file={self.data / 'mariadbd.pid'}", f"--log-error={self.log}",
             "--skip-name-resolve", "--innodb-buffer-pool-size=16M"] + user,
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while subprocess.run(["mariadb-admin", "--no-defaults", "-h", "127.0.0.1", "-P", str(self.port),
                              "-u", "root", "ping"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise Failure(f"mariadbd did not start: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            raise subprocess.CalledProcessError(1, "mariadbd is not running")
        self.process.terminate()  # a normal shutdown
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise Failure("mariadbd did not stop within 60 s of SIGTERM")

    def url(self, name):
        return f"mysql://root@127.0.0.1:{self.port}/{name}"


SERVERS = {"postgres": PrivatePostgres, "mysql": PrivateMariadb}


def setup_django(url):
    os.environ["DRFGATE_DJANGO_DB"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refproj.settings")
    sys.path.insert(0, str(DJANGO_DIR))
    import server_db

    server_db.recreate(url)
    import django
    from django.conf import settings

    django.setup()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from django.contrib.auth.models import User
    from django.db import connections
    from rest_framework.authtoken.models import Token

    valid = [Token.objects.create(user=User.objects.create_user(f"user{n}")).key for n in range(8)]
    inactive = Token.objects.create(user=User.objects.create_user("inactive", is_active=False)).key
    revoked = Token.objects.create(user=User.objects.create_user("revoked")).key
    Token.objects.filter(key=revoked).delete()
    connections.close_all()
    return valid, [inactive, revoked, "0" * 40, "unknown-token"]


GATE_CONFIG = """
[django]
DATABASE = "{url}"

[django.DATABASES.default]

[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["rest_framework.authentication.TokenAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["rest_framework.permissions.IsAuthenticated"]

[cache]
ttl_seconds = 1
negative_ttl_seconds = 1
stale_if_error_seconds = {grace}
"""


def status(connection_box, port, key):
    for attempt in range(2):
        if connection_box[0] is None:
            connection_box[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection_box[0].request("GET", "/api/thing/", headers={"Authorization": f"Token {key}"})
            response = connection_box[0].getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            connection_box[0].close()
            connection_box[0] = None
            if attempt:
                raise
    raise AssertionError("unreachable")


def load(port, valid, refused, stop, tally, wrong, lock):
    box = [None]
    n = 0
    while not stop.is_set():
        n += 1
        good = n % 2 == 0
        key = valid[n % len(valid)] if good else refused[n % len(refused)]
        code = status(box, port, key)
        with lock:
            tally[(good, code)] = tally.get((good, code), 0) + 1
            if (good and code not in (200, 503)) or (not good and code not in (401, 503)):
                wrong.append((good, key[:6], code))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drfgate", required=True)
    parser.add_argument("--engine", choices=sorted(SERVERS), default="postgres")
    arguments = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="drfgate-db-restart-"))
    server = SERVERS[arguments.engine](scratch)
    gate = None
    try:
        server.init()
        server.start()
        url = server.url("drfgate_restart")
        valid, refused = setup_django(url)
        results = []
        for grace in (0, 30):
            config = scratch / f"drfgate-{grace}.toml"
            config.write_text(GATE_CONFIG.replace("{url}", url).replace("{grace}", str(grace))
                              .replace("\n[django.DATABASES.default]\n", "\n"))
            port = free_port()
            gate_log = scratch / f"gate-{grace}.log"
            gate = subprocess.Popen(
                [arguments.drfgate, "serve", "--config", str(config), "--listen", f"127.0.0.1:{port}"],
                stdout=open(gate_log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=dict(os.environ, DRFGATE_LOG="warn"),
            )
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if gate.poll() is not None or time.monotonic() > deadline:
                        raise Failure(f"gate did not start: {gate_log.read_text(errors='replace')}")
                    time.sleep(0.05)
            stop, lock = threading.Event(), threading.Lock()
            tally, wrong = {}, []
            threads = [threading.Thread(target=load, args=(port, valid, refused, stop, tally, wrong, lock))
                       for _ in range(CLIENT_THREADS)]
            for thread in threads:
                thread.start()
            time.sleep(1.0)
            server.stop()
            time.sleep(1.5)
            server.start()
            time.sleep(1.0)
            stop.set()
            for thread in threads:
                thread.join()
            if gate.poll() is not None:
                raise Failure(f"the gate exited during the restart: {gate_log.read_text(errors='replace')}")
            # Recovered by itself: every valid token allowed again (a poll: the pool reconnects).
            box = [None]
            for key in valid:
                deadline = time.monotonic() + 30
                while status(box, port, key) != 200:
                    if time.monotonic() > deadline:
                        raise Failure("a valid token is still refused after the database came back")
                    time.sleep(0.05)
            if wrong:
                raise Failure(f"grace {grace}: wrong answers: {wrong[:10]}")
            if (False, 200) in tally:
                raise Failure(f"grace {grace}: a refused credential was allowed")
            if not any(code == 503 for (_, code) in tally) and grace == 0:
                raise Failure("no request met the outage: the restart was not under load")
            # One incident (the restart), so one error line: only token lookups run here.
            log_lines = gate_log.read_text(errors="replace").splitlines()
            errors = [line for line in log_lines if line.startswith("drfgate: error:")]
            recoveries = [line for line in log_lines if "answered again" in line]
            if len(errors) != 1 or len(recoveries) != 1:
                raise Failure(f"grace {grace}: expected one error line and one recovery line for the "
                              f"restart, got {len(errors)} and {len(recoveries)}:\n" + "\n".join(log_lines))
            results.append(f"grace {grace} s: " + ", ".join(
                f"{'valid' if good else 'refused'} {code}: {count}" for (good, code), count in sorted(tally.items())
            ) + "; 1 error line, 1 recovery line logged")
            gate.terminate()
            gate.wait(timeout=20)
            gate = None
        print(f"db restart under load ({arguments.engine}): " + " | ".join(results))
        return 0
    except Failure as failure:
        print(f"db restart under load ({arguments.engine}): FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if gate is not None and gate.poll() is None:
            gate.terminate()
            gate.wait(timeout=20)
        try:
            server.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

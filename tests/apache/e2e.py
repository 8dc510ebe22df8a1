#!/usr/bin/python3
"""End-to-end tests of mod_drfgate: real Apache (private foreground instances on loopback high
ports), mod_wsgi in daemon mode, and the reference Django + DRF project (tests/django).

Run by tests/apache/run.sh (`make test-apache`), which installs the Debian packages and builds
the module first. Standard library only: this runs with Debian's python3 as root and starts
Apache as root with User/Group www-data.

Usage: e2e.py [--only a,b,c,e,f,configtest,restarts,paths,throttle,jwt,sessions,aroundauth] [--python VENV_PYTHON]
"""
import argparse
import base64
import concurrent.futures
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "conformance"))
import around_auth_e2e  # noqa: E402  (hosts, negotiation, request targets, through the module and without)
import gate_configs  # noqa: E402  (the conformance table's gate configs, as every suite writes them)
import jwt_e2e  # noqa: E402  (the minted JWT and knox requests, through the module and without)
import module_bodies  # noqa: E402  (session POST bodies read for the gate, shared with tests/nginx)
import session_e2e  # noqa: E402  (the other session engines and settings variants, through the module)
import session_variants  # noqa: E402  (the Redis keys of the cache engines' sessions)
import throttle_e2e  # noqa: E402  (AnonRateThrottle through the module, histories in Redis)

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "build" / "apache" / "run"
MODULE = ROOT / "build" / "apache" / ".libs" / "mod_drfgate.so"
VENV = ROOT / ".venv"
FIXTURE_DB = ROOT / "build" / "django" / "db.sqlite3"
FIXTURE_JSON = ROOT / "build" / "django" / "fixture.json"
ORACLE = ROOT / "build" / "conformance" / "oracle.json"
CASES = ROOT / "tests" / "conformance" / "cases.json"
APACHE_MODULES = Path("/usr/lib/apache2/modules")
APACHE_BIN = "/usr/sbin/apache2"

# Apache's own password for john in the AuthUserFile (not his Django password).
APACHE_PASSWORD = "apache-only-pw"
# [handoff] SECRET_FILE: the key the module signs with and GateAuthentication checks.
HANDOFF_KEY = b"apache-e2e-handoff-key-0123456789abcdef"
# The venv's python, for `manage.py drfgate_export` (--python); None: hand-written configs.
EXPORT_PYTHON = None
sys.path.insert(0, str(ROOT / "python" / "drfgate-django" / "src"))
from drfgate_django import handoff  # noqa: E402  (to forge signatures a client might send)


class Failure(AssertionError):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


# ---------------------------------------------------------------------------------------------
# The gate's config: the conformance views Apache can reproduce, plus the deployment's own routes

def apache_views(cases):
    """Views whose cases a client can reproduce through Apache: those with the default backend
    (the remote-user views need the server variable REMOTE_USER, which no client can send)."""
    return {
        name: cases["views"][name] for name in gate_configs.expressible_views(cases)
        if gate_configs.group_key(cases, name) == gate_configs.DEFAULT_BACKENDS
    }


# The deployment's own routes (after the export's; before the table's in the hand-written config).
# A DRF setting drfgate ignores, with a warning: check_config_warnings finds it in Apache's
# error log.
DEPLOYMENT_SETTINGS = [
    "[rest_framework]",
    "PAGE_SIZE = 10",
]
DEPLOYMENT_ROUTES = [
    # Never reached as such: a per-directory rewrite sends it to api/token-admin/ by an
    # internal redirect, which the gate must judge again.
    "[[routes]]",
    'name = "legacy-admin"',
    'path = "api/legacy-admin/"',
    'authentication_classes = ["TokenAuthentication"]',
    'permission_classes = ["AllowAny"]',
    # Apache authenticates (mod_auth_basic, AuthUserFile); DRF trusts REMOTE_USER.
    "[[routes]]",
    'name = "apache-user"',
    'path = "api/apache-user/"',
    'authentication_classes = ["RemoteUserAuthentication"]',
    'permission_classes = ["IsAuthenticated"]',
    "[[routes]]",
    'name = "whoami"',
    'path = "api/whoami/"',
    'authentication_classes = ["TokenAuthentication", "BasicAuthentication"]',
    'permission_classes = ["IsAuthenticated"]',
    'methods = ["GET"]',
    "[[routes]]",
    'name = "static"',
    'path = "static/<path:name>"',
    'authentication_classes = ["TokenAuthentication"]',
    'permission_classes = ["IsAuthenticated"]',
]


def gate_config(db, cases, python=None):
    """The reference project's config as `manage.py drfgate_export` writes it, run by `python`
    (the venv's: tests/conformance/gate_configs.py, as every suite gets it), with the deployment's
    settings and routes after the table's, and RemoteUserBackend added to the backends: it
    accepts no username/password, so Basic logins are unchanged, and it lets the gate trust
    r->user set by Apache's own authentication (api/apache-user/). Without `python` (a run by
    hand without the venv), the table's hand-written config for its default-backend views."""
    backends = [gate_configs.MODEL_BACKEND, gate_configs.REMOTE_USER_BACKEND]
    if python is None:
        text = gate_configs.config_text(
            cases, db, list(apache_views(cases)), backends=backends,
            extra_routes=DEPLOYMENT_SETTINGS + DEPLOYMENT_ROUTES)
    else:
        text = gate_configs.exported_config(CASES, db, python, backends)
        text = gate_configs.add_to_section(text, "rest_framework", DEPLOYMENT_SETTINGS[1:])
        text += "\n".join(DEPLOYMENT_ROUTES) + "\n"
    return text + f'[handoff]\nSECRET_FILE = "{RUN / "data" / "handoff.key"}"\n'


# ---------------------------------------------------------------------------------------------
# Apache test instances

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_run_dir():
    """ServerRoot with the app entry point, static files, a copy of the fixture database (logins
    with an old hasher rewrite it) and the gate's config, all readable by www-data."""
    if RUN.exists():
        shutil.rmtree(RUN)
    (RUN / "site" / "static").mkdir(parents=True)
    (RUN / "data").mkdir()
    shutil.copy(FIXTURE_DB, RUN / "data" / "db.sqlite3")
    (RUN / "site" / "static" / "hello.txt").write_text("hello from a static file\n")
    reached = RUN / "data" / "reached.jsonl"
    reached.touch()
    (RUN / "site" / "app.wsgi").write_text(
        "import os\n"
        f"os.environ['DRFGATE_DJANGO_DB'] = {str(RUN / 'data' / 'db.sqlite3')!r}\n"
        f"os.environ['DRFGATE_E2E_REACHED_LOG'] = {str(reached)!r}\n"
        f"os.environ['DRFGATE_HANDOFF_SECRET_FILE'] = {str(RUN / 'data' / 'handoff.key')!r}\n"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'e2e_settings'\n"
        "from reached_log import application  # noqa: E402,F401\n"
    )
    sha1 = base64.b64encode(hashlib.sha1(APACHE_PASSWORD.encode()).digest()).decode()
    (RUN / "htpasswd").write_text(f"john:{{SHA}}{sha1}\n")
    cases = json.loads(CASES.read_text())
    (RUN / "data" / "handoff.key").write_bytes(HANDOFF_KEY + b"\n")
    (RUN / "drfgate.toml").write_text(gate_config(RUN / "data" / "db.sqlite3", cases, EXPORT_PYTHON))
    subprocess.run(["chown", "-R", "www-data:www-data", str(RUN / "data")], check=True)


def describe_process(pid):
    """What a process that outlived its server is doing: its state, the kernel function it
    waits in and, where gdb is installed, every thread's stack."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().split()
        wchan = Path(f"/proc/{pid}/wchan").read_text()
        parent, state = stat[3], stat[2]
    except OSError as e:
        return f"  {pid}: gone ({e})"
    text = f"  {pid}: state {state}, parent {parent}, waiting in {wchan or '-'}"
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        text += "; " + ", ".join(line.replace("\t", " ") for line in status
                                 if line.startswith(("Sig", "ShdPnd", "Threads")))
    except OSError:
        pass
    if shutil.which("gdb"):
        stacks = subprocess.run(["gdb", "-batch", "-p", str(pid), "-ex", "thread apply all bt 25"],
                                capture_output=True, text=True, timeout=60).stdout
        text += "\n" + "\n".join("    " + line for line in stacks.splitlines()
                                  if line.startswith(("#", "Thread")))
    return text


class Apache:
    """One private Apache: `apache2 -f <conf> -DFOREGROUND`, its own port, pid and logs."""

    def __init__(self, name, mpm="event", with_module=True, pass_authorization=True,
                 config_path=None, wsgi_daemon="processes=2 threads=10"):
        self.name = name
        self.wsgi_daemon = wsgi_daemon
        self.mpm = mpm
        self.with_module = with_module
        self.pass_authorization = pass_authorization
        self.config_path = config_path or (RUN / "drfgate.toml")
        self.port = free_port()
        self.dir = RUN / name
        self.conf = self.dir / "httpd.conf"
        self.process = None

    def preamble(self):
        """What every instance's httpd.conf starts with: its own root, port, pid, logs, MPM."""
        mods = APACHE_MODULES
        return f"""# {self.name}: written by tests/apache/e2e.py
ServerRoot "{self.dir}"
ServerName 127.0.0.1
Listen 127.0.0.1:{self.port}
PidFile "{self.dir}/httpd.pid"
DefaultRuntimeDir "{self.dir}"
ErrorLog "{self.dir}/error.log"
LogLevel warn
LogFormat "%h \\"%r\\" %>s %b %D" timed
CustomLog "{self.dir}/access.log" timed
User www-data
Group www-data
LoadModule mpm_{self.mpm}_module "{mods}/mod_mpm_{self.mpm}.so"
LoadModule authz_core_module "{mods}/mod_authz_core.so"
LoadModule alias_module "{mods}/mod_alias.so"
"""

    def conf_text(self):
        mods = APACHE_MODULES
        gate = ""
        if self.with_module:
            gate = (
                f'LoadModule drfgate_module "{MODULE}"\n'
                f'DrfgateConfig "{self.config_path}"\n'
                "<Location /api/>\n    Drfgate On\n</Location>\n"
                "<Location /static/>\n    Drfgate On\n</Location>\n"
                # An application mounted below /: routes match without the mount point.
                "<Location /mounted/>\n    Drfgate On\n    DrfgateStripPrefix /mounted\n</Location>\n"
                "<Location /unstripped/>\n    Drfgate On\n</Location>\n"
                # Rewrites: the gate judges where the request ends up, not what was sent.
                "RewriteEngine On\n"
                "RewriteRule ^/short/admin/?$ /api/token-admin/ [PT]\n"
                f'<Directory "{RUN}/site">\n'
                "    RewriteEngine On\n"
                "    RewriteCond %{REQUEST_URI} ^/api/legacy-admin/$\n"
                "    RewriteRule ^ /api/token-admin/ [L,DPI]\n"
                "</Directory>\n"
            )
        return f"""{self.preamble()}LoadModule mime_module "{mods}/mod_mime.so"
LoadModule wsgi_module "{mods}/mod_wsgi.so"
LoadModule rewrite_module "{mods}/mod_rewrite.so"
LoadModule auth_basic_module "{mods}/mod_auth_basic.so"
LoadModule authn_core_module "{mods}/mod_authn_core.so"
LoadModule authn_file_module "{mods}/mod_authn_file.so"
LoadModule authz_user_module "{mods}/mod_authz_user.so"
TypesConfig /etc/mime.types
<IfModule mpm_prefork_module>
    StartServers 4
    MinSpareServers 4
    MaxRequestWorkers 64
</IfModule>
<IfModule mpm_event_module>
    StartServers 2
    ThreadsPerChild 25
    MaxRequestWorkers 100
</IfModule>
<Directory />
    Require all denied
</Directory>
<Directory "{RUN}/site">
    Require all granted
</Directory>
WSGISocketPrefix "{self.dir}/wsgi"
WSGIDaemonProcess refproj {self.wsgi_daemon} python-home="{VENV}" python-path="{ROOT}/tests/apache/app:{ROOT}/tests/django:{ROOT}/examples/apache:{ROOT}/python/drfgate-django/src"
WSGIProcessGroup refproj
WSGIApplicationGroup %{{GLOBAL}}
WSGIPassAuthorization {"On" if self.pass_authorization else "Off"}
Alias /static/ "{RUN}/site/static/"
Alias /mounted/static/ "{RUN}/site/static/"
Alias /unstripped/static/ "{RUN}/site/static/"
WSGIScriptAlias / "{RUN}/site/app.wsgi"
# The view that trusts REMOTE_USER never sees the Authorization header.
<Location /api/whoami/>
    WSGIPassAuthorization Off
</Location>
# Apache's own authentication in front of a RemoteUserAuthentication route.
<Location /api/apache-user/>
    AuthType Basic
    AuthName "apache"
    AuthBasicProvider file
    AuthUserFile "{RUN}/htpasswd"
    Require valid-user
    WSGIPassAuthorization Off
</Location>
{gate}"""

    def write(self):
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        self.conf.write_text(self.conf_text())

    def configtest(self):
        self.write()
        return subprocess.run([APACHE_BIN, "-t", "-f", str(self.conf)],
                              capture_output=True, text=True)

    def start(self, timeout=60):
        self.write()
        self.stdout = open(self.dir / "stdout.log", "wb")
        # Its own session: on restart Apache signals its whole process group, which would
        # otherwise include this test.
        # glibc's tcache off, as for nginx (tests/nginx/e2e.py, NO_TCACHE): the parent loads a
        # gate at every restart, and the allocator's per-thread cache alone grows its RSS.
        self.process = subprocess.Popen([APACHE_BIN, "-f", str(self.conf), "-DFOREGROUND"],
                                        stdout=self.stdout, stderr=subprocess.STDOUT,
                                        start_new_session=True,
                                        env=dict(os.environ,
                                                 GLIBC_TUNABLES="glibc.malloc.tcache_count=0"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            check(self.process.poll() is None,
                  f"{self.name}: apache2 exited with {self.process.returncode}: "
                  + (self.dir / "stdout.log").read_text(errors="replace")
                  + self.error_log()[-2000:])
            try:
                # A path outside the gated locations: Django's own 404 means mod_wsgi's daemon is up.
                if request(self.port, "GET", "/ready/", timeout=10).status == 404:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise Failure(f"{self.name}: not ready after {timeout}s\n{self.error_log()[-2000:]}")

    def generations(self):
        return self.error_log().count("resuming normal operations")

    def signal_and_wait(self, sig, timeout=60):
        """Sends a restart signal and waits for the generation it starts. Restarts sent by
        the tests must not overlap: a second SIGUSR1 sent while the parent still reloads for
        the first is merged with it by the kernel (one pending signal), and a SIGTERM that
        arrives during a restart is forgotten by Apache itself (its pconf cleanup resets the
        pending shutdown before the next generation starts), which would leave `stop()`
        waiting. On a loaded machine a reload (the gate, mod_wsgi) takes seconds."""
        before = self.generations()
        os.kill(self.process.pid, sig)
        deadline = time.monotonic() + timeout
        while self.generations() <= before:
            check(self.process.poll() is None,
                  f"{self.name}: apache2 exited on {signal.Signals(sig).name}:\n"
                  + self.error_log()[-2000:])
            check(time.monotonic() < deadline,
                  f"{self.name}: no new generation {timeout}s after {signal.Signals(sig).name}\n"
                  + self.error_log()[-2000:])
            time.sleep(0.1)

    def graceful(self):
        self.signal_and_wait(signal.SIGUSR1)

    def restart(self):
        self.signal_and_wait(signal.SIGHUP)

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            hung = describe_process(self.process.pid)
            self.process.kill()
            self.process.wait()
            self.stdout.close()
            for pid in self.leftover_pids():
                os.kill(pid, signal.SIGKILL)
            raise Failure(f"{self.name}: apache2 still running 30 s after SIGTERM:\n{hung}\n"
                          + self.error_log()[-2000:])
        self.stdout.close()
        # Children and mod_wsgi daemons must go with the parent; none may outlive the test.
        deadline = time.monotonic() + 15
        while self.leftover_pids() and time.monotonic() < deadline:
            time.sleep(0.2)
        leftovers = self.leftover_pids()
        described = [describe_process(pid) for pid in leftovers]
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
        check(not leftovers, f"{self.name}: processes outlived apache2: {leftovers}\n"
                             + "\n".join(described))

    def leftover_pids(self):
        """Processes of this instance: their command line names its own config file."""
        mine = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(self.conf).encode() in cmdline:
                mine.append(int(entry.name))
        return mine

    def error_log(self):
        path = self.dir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ---------------------------------------------------------------------------------------------
# HTTP

class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:300]!r}>"


def request(port, method, path, headers=(), timeout=60):
    """One request on its own connection, header values as raw bytes (the table's octets)."""
    # A case's own Host replaces ours (two Host headers are Apache's 400).
    own_host = any(name.lower() == "host" for name, _ in headers)
    lines = [f"{method} {path} HTTP/1.1".encode("latin-1")]
    if not own_host:
        lines.append(f"Host: 127.0.0.1:{port}".encode())
    for name, value in headers:
        lines.append(name.encode("latin-1") + b": " + (value if isinstance(value, bytes) else value.encode()))
    lines.append(b"Connection: close")
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        response = http.client.HTTPResponse(sock, method=method.upper())
        response.begin()
        body = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return Answer(response.status, headers, body.decode("utf-8", errors="replace"))


def has_control_octet(value):
    return any(b < 0x20 and b != 0x09 or b == 0x7F for b in value)


def header_bytes(text):
    """The table's notation: \\xNN is one octet, every other character its UTF-8."""
    out = bytearray()
    i = 0
    while i < len(text):
        if text.startswith("\\x", i):
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        else:
            out += text[i].encode()
            i += 1
    return bytes(out)


class ReachedLog:
    """Requests that reached Python, as recorded by tests/apache/app/reached_log.py."""

    path = RUN / "data" / "reached.jsonl"

    def mark(self):
        return self.path.stat().st_size

    def since(self, mark):
        with open(self.path, "rb") as f:
            f.seek(mark)
            return [json.loads(line) for line in f.read().splitlines()]


# ---------------------------------------------------------------------------------------------
# The tests

def fixture_user(name):
    users = json.loads(FIXTURE_JSON.read_text())
    users = users.get("users", users)
    if isinstance(users, dict):
        return users[name]
    return next(u for u in users if u.get("username") == name)


def test_a_problem_without_module(log):
    """(a) The guide's problem: mod_wsgi hides Authorization, DRF sees no credentials."""
    with Apache("plain", with_module=False, pass_authorization=False) as apache:
        mark = log.mark()
        answer = request(apache.port, "GET", "/api/token-ia/", [("Authorization", "Token abcd1234")])
        check(answer.status == 401, f"(a) expected DRF's 401, got {answer}")
        check(answer.json() == {"detail": "Authentication credentials were not provided."},
              f"(a) body {answer.body!r}")
        check(answer.header("WWW-Authenticate") == "Token", f"(a) {answer}")
        reached = log.since(mark)
        check(len(reached) == 1 and not reached[0]["has_authorization"],
              f"(a) the app should have seen the request without Authorization: {reached}")
        # And the view that trusts REMOTE_USER sees nobody without the module.
        answer = request(apache.port, "GET", "/api/whoami/", [("Authorization", "Token abcd1234")])
        check(answer.status == 403, f"(a) whoami without module: {answer}")
        # Nor an identity a client claims in X-Drfgate-* headers: unsigned, signed with another
        # key or too long ago, GateAuthentication refuses it (403: the view's next class,
        # RemoteUserAuthentication, has no challenge).
        john = fixture_user("john")
        claim = [("X-Drfgate-User", "john"), ("X-Drfgate-User-Id", str(john["pk"])),
                 ("X-Drfgate-Auth", "token")]
        now = int(time.time())

        def signed(key, at):
            return [("X-Drfgate-Signature",
                     handoff.sign(key, at, "GET", "/api/whoami/", "token", str(john["pk"]), "john", ""))]

        for what, extra, detail in (
                ("unsigned", [], "Unsigned drfgate identity."),
                ("forged", signed(b"x" * 32, now), "Invalid drfgate identity signature."),
                ("stale", signed(HANDOFF_KEY, now - 300), "Invalid drfgate identity signature.")):
            answer = request(apache.port, "GET", "/api/whoami/", claim + extra)
            check(answer.status == 403 and answer.json() == {"detail": detail},
                  f"(a) {what} identity headers: {answer}")


def check_identity(apache, log):
    """(b) With the module, the same credentials reach the view as the right user."""
    john = fixture_user("john")
    mark = log.mark()
    answer = request(apache.port, "GET", "/api/whoami/", [("Authorization", "Token abcd1234")])
    check(answer.status == 200, f"(b) {answer}")
    seen = answer.json()
    check(seen["user"] == "john" and seen["pk"] == john["pk"], f"(b) {seen}")
    signature = seen["gate"].pop("DRFGATE_SIGNATURE", "")
    flags = seen["gate"].pop("DRFGATE_USER_FLAGS", "")
    check(seen["gate"] == {"DRFGATE_USER_ID": str(john["pk"]), "DRFGATE_USERNAME": "john",
                           "DRFGATE_AUTH": "token", "DRFGATE_IS_STAFF": "0",
                           "DRFGATE_ROUTE": "whoami"} and flags == "", f"(b) {seen}")
    # The hand-off is signed ([handoff]): GateAuthentication built john without a query.
    check(signature.startswith("t=") and seen["authenticator"] == "GateAuthentication"
          and answer.header("X-Queries") == "0", f"(b) signed hand-off: {answer}")
    reached = log.since(mark)
    check(len(reached) == 1, f"(b) reached {reached}")
    check(reached[0]["remote_user"] == "john" and reached[0]["auth_type"] == "drfgate"
          and not reached[0]["has_authorization"], f"(b) environ {reached[0]}")

    answer = request(apache.port, "GET", "/api/whoami/", [("Authorization", "Token admin123")])
    check(answer.status == 200 and answer.json()["gate"]["DRFGATE_IS_STAFF"] == "1"
          and answer.json()["staff"] is True and answer.json()["gate"]["DRFGATE_USER_FLAGS"] == "staff"
          and answer.header("X-Queries") == "0", f"(b) admin {answer}")
    # A client's X-Drfgate-* headers change nothing where the module signs: its environ wins.
    answer = request(apache.port, "GET", "/api/whoami/",
                     [("Authorization", "Token abcd1234"), ("X-Drfgate-User", "admin"),
                      ("X-Drfgate-User-Id", "2"), ("X-Drfgate-User-Flags", "staff,superuser"),
                      ("X-Drfgate-Signature", "t=1,v1=00")])
    check(answer.status == 200 and answer.json()["user"] == "john" and answer.json()["staff"] is False,
          f"(b) spoofed X-Drfgate-* headers: {answer}")

    # A non-ASCII username survives WSGI's ISO-8859-1 decoding through the documented backend.
    basic = "Basic " + __import__("base64").b64encode("walterwhité:pässwörd".encode()).decode()
    mark = log.mark()
    answer = request(apache.port, "GET", "/api/whoami/", [("Authorization", basic)])
    check(answer.status == 200 and answer.json()["user"] == "walterwhité"
          and answer.json()["authenticator"] == "GateAuthentication", f"(b) utf-8 user {answer}")
    check(answer.json()["gate"]["DRFGATE_AUTH"] == "basic", f"(b) {answer}")
    check(log.since(mark)[0]["remote_user"] == "walterwhité".encode().decode("latin-1"),
          "(b) REMOTE_USER should arrive as the UTF-8 bytes decoded as ISO-8859-1 (PEP 3333)")

    # A client header cannot pose as the server variable.
    mark = log.mark()
    answer = request(apache.port, "GET", "/api/whoami/", [("Remote-User", "admin")])
    check(answer.status == 401 and log.since(mark) == [], f"(b) spoof alone {answer}")
    answer = request(apache.port, "GET", "/api/whoami/",
                     [("Authorization", "Token abcd1234"), ("Remote-User", "admin")])
    check(answer.status == 200 and answer.json()["user"] == "john"
          and answer.json()["header_remote_user"] == "admin", f"(b) spoof with token {answer}")

    # Refusals: DRF's JSON and header, answered by Apache.
    mark = log.mark()
    answer = request(apache.port, "GET", "/api/whoami/", [("Authorization", "Token nope")])
    check(answer.status == 401 and answer.json() == {"detail": "Invalid token."}
          and answer.header("Content-Type") == "application/json"
          and answer.header("WWW-Authenticate") == "Token", f"(b) bad token {answer}")
    check(log.since(mark) == [], "(d) a refused request reached Python")

    # Spellings of a gated path that Apache or Django normalise: either the gate decides them,
    # or no DRF view runs (Django's 404, or its APPEND_SLASH redirect).
    for path in ("//api/whoami/", "/api//whoami/", "/api/./whoami/", "/api/x/../whoami/",
                 "/ap%69/whoami/", "/api/whoami", "/api/whoami/?x=1"):
        mark = log.mark()
        answer = request(apache.port, "GET", path, [("Authorization", "Token nope")])
        ran_view = log.since(mark) and answer.status not in (301, 404)
        check(not ran_view, f"(d) {path} reached a DRF view past the gate: {answer}")

    # Static files behind the gate.
    answer = request(apache.port, "GET", "/static/hello.txt", [("Authorization", "Token abcd1234")])
    check(answer.status == 200 and answer.body == "hello from a static file\n", f"static {answer}")
    answer = request(apache.port, "GET", "/static/hello.txt")
    check(answer.status == 401, f"static anonymous {answer}")
    answer = request(apache.port, "GET", "/mounted/static/hello.txt", [("Authorization", "Token abcd1234")])
    check(answer.status == 200, f"DrfgateStripPrefix: {answer}")
    answer = request(apache.port, "GET", "/mounted/static/hello.txt")
    check(answer.status == 401, f"DrfgateStripPrefix anonymous: {answer}")
    # Without the prefix stripped no route matches, and this config's `unmatched = "deny"` answers.
    answer = request(apache.port, "GET", "/unstripped/static/hello.txt", [("Authorization", "Token abcd1234")])
    check(answer.status == 404 and answer.header("Content-Type") == "application/json", f"unstripped: {answer}")


# Table cases whose answer depends on AUTHENTICATION_BACKENDS, which this deployment's gate
# extends with RemoteUserBackend (gate_config): the oracle answered them with ModelBackend alone.
BACKEND_DEPENDENT = {
    "s_other_backend": "a session logged in through RemoteUserBackend, which this deployment lists",
}


def check_conformance(apache, log, label):
    """(c) The conformance cases through Apache give DRF's exact answers; (d) refusals never
    reach Python, allowed requests reach it once."""
    cases = json.loads(CASES.read_text())
    oracle = json.loads(ORACLE.read_text())
    oracle = oracle.get("answers", oracle)
    views = apache_views(cases)
    compared, skipped, failures, unsendable = 0, [], [], []
    for case in cases["cases"]:
        view = views.get(case["view"])
        if view is None or case.get("remote_user") is not None:
            skipped.append(case["id"])
            continue
        if case["id"] in BACKEND_DEPENDENT:
            continue
        theirs = oracle[case["id"]]
        headers = [(name, header_bytes(value)) for name, value in case["headers"]]
        mark = log.mark()
        ours = request(apache.port, case["method"], "/" + view["path"], headers)
        reached = log.since(mark)
        is_head = case["method"].upper() == "HEAD"
        problems = []
        if any(has_control_octet(value) for _, value in headers):
            # HTTP/1.1 forbids control characters in field values; Apache (HttpProtocolOptions
            # Strict, the default) answers 400 before any module runs. DRF's answer to such a
            # header is for servers that pass it on.
            unsendable.append(case["id"])
            if ours.status != 400 or reached:
                failures.append(f"{case['id']}: control octet in a header: expected Apache's 400 "
                                f"without reaching Python, got {ours.status}, reached {len(reached)}")
            continue
        if ours.status != theirs["status"]:
            problems.append(f"status {ours.status} != {theirs['status']}")
        if not is_head and ours.body != (theirs["body"] or ""):
            problems.append(f"body {ours.body!r} != {theirs['body']!r}")
        if ours.header("WWW-Authenticate") != theirs["www_authenticate"]:
            problems.append(f"WWW-Authenticate {ours.header('WWW-Authenticate')!r} != "
                            f"{theirs['www_authenticate']!r}")
        allowed = 200 <= theirs["status"] < 300
        if allowed and len(reached) != 1:
            problems.append(f"allowed, but reached Python {len(reached)} times")
        if not allowed and reached:
            problems.append("refused, but reached Python")
        # DRF's JSON, or Django's HTML 400 page for a host ALLOWED_HOSTS refuses.
        wanted_type = "text/html; charset=utf-8" if theirs["status"] == 400 else "application/json"
        if not allowed and not is_head and ours.header("Content-Type") != wanted_type:
            problems.append(f"Content-Type {ours.header('Content-Type')!r}")
        compared += 1
        if problems:
            failures.append(f"{case['id']} {case['method']} /{view['path']}: " + "; ".join(problems))
    print(f"  [{label}] conformance: {compared} cases give DRF's answer through Apache; "
          f"{len(unsendable)} have a control octet in a header, refused by Apache with 400 "
          f"({', '.join(unsendable)}); {len(skipped)} not sendable by a client (REMOTE_USER "
          "server-variable cases, views with a custom Python authenticate()); left out: "
          + "; ".join(f"{k} ({v})" for k, v in BACKEND_DEPENDENT.items()))
    check(compared >= 250, f"too few cases compared: {compared}")
    check(not failures, f"{len(failures)} differences from DRF:\n" + "\n".join(failures))


def check_rewrites(apache, log):
    """(b) The gate judges the request mod_wsgi will run: after a `[PT]` rewrite, and again after a
    per-directory rewrite's internal redirect (for which Apache skips the access hooks)."""
    tokens = {"anonymous": [], "john": [("Authorization", "Token abcd1234")],
              "admin": [("Authorization", "Token admin123")]}
    for who, headers in tokens.items():
        direct = request(apache.port, "GET", "/api/token-admin/", headers)
        for spelling in ("/short/admin", "/api/legacy-admin/"):
            mark = log.mark()
            answer = request(apache.port, "GET", spelling, headers)
            reached = log.since(mark)
            check((answer.status, answer.body) == (direct.status, direct.body),
                  f"(b) {who} {spelling}: {answer}, but /api/token-admin/ answers {direct}")
            if answer.status == 200:
                check(len(reached) == 1 and reached[0]["gate"].get("DRFGATE_ROUTE") == "token_admin",
                      f"(b) {who} {spelling} reached {reached}")
            else:
                check(not reached, f"(b) {who} {spelling}: refused, yet reached Python: {reached}")
    # What the module hands the core under mod_wsgi is PATH_INFO, already decoded by Apache: a
    # `%3F` is judged as the `?` Django routes on, not cut off as a query.
    mark = log.mark()
    answer = request(apache.port, "GET", "/api/token-admin%3F/")
    check(answer.status == 404 and not log.since(mark), f"(b) %3F: {answer}")


def check_apache_authentication(apache, log):
    """(b) RemoteUserAuthentication behind Apache's own authentication: the gate decides after
    mod_auth_basic has set r->user, so the route sees the user; AllowAny routes elsewhere still
    let anonymous requests through."""
    basic = "Basic " + base64.b64encode(f"john:{APACHE_PASSWORD}".encode()).decode()
    mark = log.mark()
    answer = request(apache.port, "GET", "/api/apache-user/", [("Authorization", basic)])
    check(answer.status == 200, f"(b) Apache-authenticated remote user: {answer}")
    seen = answer.json()
    check(seen["user"] == "john" and seen["gate"].get("DRFGATE_AUTH") == "remote_user"
          and seen["gate"].get("DRFGATE_ROUTE") == "apache-user", f"(b) {seen}")
    check(len(log.since(mark)) == 1, "(b) apache-user reached Python more than once")
    # Apache refuses a wrong password itself; the gate never runs.
    wrong = "Basic " + base64.b64encode(b"john:wrong").decode()
    answer = request(apache.port, "GET", "/api/apache-user/", [("Authorization", wrong)])
    check(answer.status == 401 and "apache" in (answer.header("WWW-Authenticate") or ""),
          f"(b) wrong Apache password: {answer}")
    mark = log.mark()
    answer = request(apache.port, "GET", "/api/token-allow-any/")
    check(answer.status == 200 and len(log.since(mark)) == 1, f"(b) AllowAny anonymous: {answer}")


# What the gate's config warns about when it is loaded (libdrfgate logs it through the module).
CONFIG_WARNINGS = (
    "rest_framework.PAGE_SIZE is not used by drfgate and is ignored",
)


def check_config_warnings(apache):
    """(b) libdrfgate's log callback: the config's warnings reach Apache's error log at level
    warn with the drfgate prefix, once per start (not once per child), and nothing else of
    drfgate's is logged at warn or above."""
    config = apache.config_path
    page_size_line = config.read_text().splitlines().index("PAGE_SIZE = 10") + 1
    expected = [
        f"drfgate: {config}:{page_size_line}: {CONFIG_WARNINGS[0]}",
    ]
    lines = apache.error_log().splitlines()
    for text in expected:
        found = [line for line in lines if text in line]
        check(len(found) == 1 and "[drfgate:warn]" in found[0],
              f"(b) expected one [drfgate:warn] line with {text!r} in the error log, found "
              f"{found}:\n" + "\n".join(lines[-40:]))
    unexpected = [line for line in lines
                  if "drfgate" in line and not any(w in line for w in CONFIG_WARNINGS)]
    check(not unexpected, "unexpected drfgate messages in the error log:\n" + "\n".join(unexpected))


def check_bodies(apache, log):
    """Session POSTs whose CSRF check needs the body: the module reads it in the fixups hook for
    the gate and replays it to mod_wsgi (DRFGATE_KEPT_BODY), which must hand Django the very
    bytes sent; refusals are DRF's, what the gate does not reproduce is deferred, nothing hangs,
    and a client that goes away mid-body leaves the server up."""
    checked, failures, statuses = module_bodies.run(
        apache.port, log, lambda record: record["gate"].get("DRFGATE_USERNAME"),
        big_form_outcome=module_bodies.ANSWERED)
    crashes = [line for line in apache.error_log().splitlines()
               if "exit signal" in line or "AH00052" in line]
    check(not crashes, "an Apache child crashed:\n" + "\n".join(crashes))
    check(not failures, f"{len(failures)} of {checked} body cases wrong:\n" + "\n".join(failures))
    print(f"  bodies: {checked} session POST body cases as DRF answers them (a chunked body: "
          f"{statuses['chunked']} from mod_wsgi, no identity; a body cut short: "
          f"{statuses['cut short']}, not passed on)")


def test_b_to_e(log, mpms):
    for mpm in mpms:
        with Apache(f"gated-{mpm}", mpm=mpm) as apache:
            started = time.monotonic()
            check_identity(apache, log)
            check_rewrites(apache, log)
            check_apache_authentication(apache, log)
            check_conformance(apache, log, mpm)
            check_bodies(apache, log)
            check_config_warnings(apache)
            print(f"  [{mpm}] identity, refusals, conformance: ok ({time.monotonic() - started:.1f}s)")


def test_f_graceful_under_load(log, mpm="event", seconds=6.0, restarts=3):
    """(f) Graceful restarts while clients keep sending: every request the module answers
    (refusals) or lets Apache serve (a static file) is answered correctly, in every generation.

    Requests handed on to mod_wsgi's daemon are counted apart: on a graceful restart mod_wsgi
    replaces its daemon and an old-generation child may find the old socket gone ("Unable to
    connect to WSGI daemon process", 503). Each such 503 must match that error-log line."""
    with Apache(f"graceful-{mpm}", mpm=mpm) as apache:
        stop = threading.Event()
        results = []
        lock = threading.Lock()
        token = [("Authorization", "Token abcd1234")]
        requests_cycle = [
            ("gate", "/api/whoami/", [("Authorization", "Token nope")], 401),
            ("gate", "/api/whoami/", [], 401),
            ("gate", "/static/hello.txt", token, 200),
            ("wsgi", "/api/whoami/", token, 200),
        ]

        def client():
            i = 0
            while not stop.is_set():
                kind, path, headers, expected = requests_cycle[i % len(requests_cycle)]
                i += 1
                try:
                    got = request(apache.port, "GET", path, headers, timeout=30).status
                except OSError as e:
                    got = repr(e)
                with lock:
                    results.append((kind, path, expected, got))

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for _ in range(restarts):
            time.sleep(seconds / (restarts + 1))
            apache.graceful()
        time.sleep(seconds / (restarts + 1))
        stop.set()
        for t in threads:
            t.join()
        errors = apache.error_log()
        wrong_gate = [r for r in results if r[0] == "gate" and r[2] != r[3]]
        wrong_wsgi = [r for r in results if r[0] == "wsgi" and r[2] != r[3]]
        # mod_wsgi's own losses while it replaces its daemon: a connect that finds no socket yet
        # (503), and a daemon stopped in the middle of a response (500, "Truncated or oversized
        # response headers"). Each is one error-log line of mod_wsgi's, each one request.
        connect_races = errors.count("Unable to connect to WSGI daemon process")
        truncated = errors.count("Truncated or oversized response headers received from daemon")
        wsgi_races = connect_races + truncated
        generations = errors.count("resuming normal operations")
        gate_total = sum(1 for r in results if r[0] == "gate")
        check(not wrong_gate, f"(f) {len(wrong_gate)} of {gate_total} gate-answered requests "
                              f"lost or wrong: {wrong_gate[:10]}")
        check(sum(r[3] == 503 for r in wrong_wsgi) <= connect_races
              and sum(r[3] == 500 for r in wrong_wsgi) <= truncated
              and all(r[3] in (500, 503) for r in wrong_wsgi),
              f"(f) requests to the app lost other than by mod_wsgi's daemon restart: "
              f"{wrong_wsgi[:10]} ({connect_races} mod_wsgi connect errors and {truncated} "
              f"truncated daemon responses logged)")
        check(generations >= restarts + 1, f"(f) only {generations} generations:\n{errors[-3000:]}")
        for bad in ("exit signal", "Segmentation", "AddressSanitizer", "panic"):
            check(bad not in errors, f"(f) '{bad}' in the error log:\n{errors[-3000:]}")
        # A full restart (SIGHUP) too: children and their gates are replaced, nothing crashes.
        apache.restart()
        deadline = time.monotonic() + 30
        while True:
            try:
                if request(apache.port, "GET", "/api/whoami/", token).status == 200:
                    break
            except OSError:
                pass
            check(time.monotonic() < deadline, "(f) not answering after restart")
            time.sleep(0.2)
        errors = apache.error_log()
        for bad in ("exit signal", "Segmentation", "panic"):
            check(bad not in errors, f"(f) '{bad}' after restart:\n{errors[-3000:]}")
        wsgi_total = len(results) - gate_total
        print(f"  [{mpm}] graceful x{restarts} under load: {gate_total} gate-answered requests, "
              f"none lost; {wsgi_total} passed on to mod_wsgi, {len(wrong_wsgi)} got mod_wsgi's "
              "503 or 500 while its daemon restarted; SIGHUP restart: ok")


class JwtApache(Apache):
    """The gated Apache with a virtual host (its own port) per drfgate config of the JWT and
    knox views (jwt_e2e.configs: SIMPLE_JWT is global in a config, DrfgateConfig is per server),
    each inheriting the main server's locations and mod_wsgi daemon. One request per daemon
    process at a time: the reference project swaps simplejwt's settings per request."""

    def __init__(self, name, configs, with_module=True):
        super().__init__(name, with_module=with_module, wsgi_daemon="processes=4 threads=1")
        self.vhosts = [(free_port(), config) for config in configs]

    def conf_text(self):
        text = super().conf_text()
        for port, config in self.vhosts if self.with_module else ():
            text += (f"Listen 127.0.0.1:{port}\n<VirtualHost 127.0.0.1:{port}>\n"
                     f'    DrfgateConfig "{config}"\n</VirtualHost>\n')
        return text


def test_jwt(log):
    """(jwt) The tokens simplejwt and knox minted (tests/django/jwt_fixtures.py), every algorithm
    family, expired and future, blacklisted, alg confusion, knox expiry, on every JWT and knox
    view: the module answers what DRF + simplejwt / knox answer behind Apache without it."""
    cases = json.loads(CASES.read_text())
    paths = []
    port_of_view = {}
    for number, (text, members) in enumerate(
            jwt_e2e.configs(cases, RUN / "data" / "db.sqlite3", EXPORT_PYTHON)):
        path = RUN / f"jwt-{number}.toml"
        path.write_text(text)
        paths.append((path, members))
    with JwtApache("jwt-gated", [p for p, _ in paths]) as gated, \
            JwtApache("jwt-reference", [], with_module=False) as reference:
        for (port, _), (_, members) in zip(gated.vhosts, paths):
            port_of_view.update(dict.fromkeys(members, port))

        def reached_cases():
            return Counter(r.get("case") for r in log.since(0) if r.get("case"))

        counts, failures = jwt_e2e.run(
            cases,
            lambda view, path, headers: request(port_of_view[view], "GET", path, headers),
            lambda path, headers: request(reference.port, "GET", path, headers),
            reached_cases)
        errors = gated.error_log()
    for bad in ("exit signal", "Segmentation", "panic"):
        check(bad not in errors, f"(jwt) '{bad}' in the error log:\n{errors[-3000:]}")
    check(counts["simplejwt"] + counts["knox"] >= 500 and counts["allowed"] >= 50,
          f"(jwt) too few requests: {dict(counts)}")
    check(not failures, f"(jwt) {len(failures)} differences from DRF:\n" + "\n".join(failures[:40]))
    print(f"  jwt: {counts['simplejwt']} simplejwt and {counts['knox']} knox requests "
          f"({counts['allowed']} allowed) on "
          f"{len(port_of_view)} views ({len(paths)} configs) give DRF's answers through Apache")


class SessionApache(Apache):
    """One Apache serving each session variant (session_e2e: an engine or a settings module of
    refproj) on two virtual hosts over the same mod_wsgi daemon: one without the module (DRF's
    reference answer), one with the module and the variant's drfgate config. One request per
    daemon process at a time, as in JwtApache."""

    def __init__(self, name, variants):
        super().__init__(name, wsgi_daemon="processes=2 threads=1")
        # name -> (reference port, gated port, WSGI script, drfgate config)
        self.variants = {v: (free_port(), free_port(), script, config)
                         for v, script, config in variants}

    def conf_text(self):
        mods = APACHE_MODULES
        text = f"""{self.preamble()}LoadModule wsgi_module "{mods}/mod_wsgi.so"
LoadModule drfgate_module "{MODULE}"
StartServers 2
ThreadsPerChild 25
MaxRequestWorkers 100
# The main server answers 404 from the site's files: Apache is up (start()).
DocumentRoot "{RUN}/site"
<Directory />
    Require all denied
</Directory>
<Directory "{RUN}/site">
    Require all granted
</Directory>
WSGISocketPrefix "{self.dir}/wsgi"
WSGIApplicationGroup %{{GLOBAL}}
WSGIPassAuthorization On
"""
        for name, (reference, gated, script, config) in self.variants.items():
            text += f"""WSGIDaemonProcess session-{name} {self.wsgi_daemon} python-home="{VENV}" python-path="{ROOT}/tests/apache/app:{ROOT}/tests/django:{ROOT}/python/drfgate-django/src"
Listen 127.0.0.1:{reference}
<VirtualHost 127.0.0.1:{reference}>
    WSGIProcessGroup session-{name}
    WSGIScriptAlias / "{script}"
</VirtualHost>
Listen 127.0.0.1:{gated}
<VirtualHost 127.0.0.1:{gated}>
    DrfgateConfig "{config}"
    WSGIProcessGroup session-{name}
    WSGIScriptAlias / "{script}"
    <Location /api/>
        Drfgate On
    </Location>
</VirtualHost>
"""
        return text

    def start(self, timeout=60):
        super().start(timeout)
        # Each variant's daemon: Django's own 404 means it has loaded the project.
        deadline = time.monotonic() + timeout
        for name, (reference, *_) in self.variants.items():
            while True:
                try:
                    if request(reference, "GET", "/ready/", timeout=30).status == 404:
                        break
                except OSError:
                    pass
                check(time.monotonic() < deadline,
                      f"{self.name}: {name}'s daemon not ready\n{self.error_log()[-2000:]}")
                time.sleep(0.2)
        return self


def test_sessions(log):
    """(sessions) The differential's other session engines (signed_cookies, cached_db and cache
    on Redis) and settings variants (csrf_sessions, csrf_domain), sessions made by Django for
    each: the module, with each variant's config, answers what DRF answers behind Apache
    without it (tests/conformance/session_e2e.py), and defers nothing."""
    cases = json.loads(CASES.read_text())
    db = RUN / "data" / "db.sqlite3"
    scratch = RUN / "session-variants"
    scratch.mkdir(exist_ok=True)
    python = VENV / "bin" / "python"
    names = session_e2e.variant_names()
    default_views = [v for v in gate_configs.expressible_views(cases)
                     if gate_configs.group_key(cases, v) == gate_configs.DEFAULT_BACKENDS]
    try:
        return sessions_through_apache(log, cases, db, scratch, python, names, default_views)
    finally:
        # The cache engines' sessions, under this run's key prefix.
        session_variants.forget_cached_sessions(python)


def sessions_through_apache(log, cases, db, scratch, python, names, default_views):
    # Django runs for the exported config and for each variant's sessions, three at a time.
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        exported = pool.submit(gate_configs.exported_configs, cases, CASES, db, python, default_views)
        made = {name: pool.submit(session_e2e.make_sessions, name, python, ROOT / "tests" / "django", db)
                for name in names}
        try:
            default_text = exported.result()[gate_configs.DEFAULT_BACKENDS][0]
            sessions = {name: future.result() for name, future in made.items()}
        except gate_configs.ConfigError as error:
            raise Failure(f"(sessions) {error}")
        except subprocess.CalledProcessError as error:
            raise Failure(f"(sessions) making sessions failed:\n{error.stderr.decode(errors='replace')}")
    variants = []
    for name in names:
        config = scratch / f"{name}.toml"
        config.write_text(session_e2e.config_text(name, default_text, scratch))
        script = RUN / "site" / f"session-{name}.wsgi"
        script.write_text(
            "import os\n"
            f"os.environ['DRFGATE_DJANGO_DB'] = {str(db)!r}\n"
            f"os.environ['DRFGATE_E2E_REACHED_LOG'] = {str(log.path)!r}\n"
            + "".join(f"os.environ[{k!r}] = {v!r}\n" for k, v in session_e2e.environment(name).items())
            + "from reached_log import application  # noqa: E402,F401\n")
        variants.append((name, script, config))
    # Sessions written by root (rows, a journal): the daemons run as www-data.
    subprocess.run(["chown", "-R", "www-data:www-data", str(RUN / "data"), str(scratch)], check=True)
    all_requests = session_e2e.requests(cases, sessions)
    with SessionApache("sessions", variants) as apache:
        mark = log.mark()

        def reached_cases():
            out = {}
            for record in log.since(mark):
                if record.get("case"):
                    out.setdefault(record["case"], []).append(record)
            return out

        # Nothing deferred: the module gives the gate Apache's SERVER_PORT (what mod_wsgi hands
        # Django), so even the CSRF_COOKIE_DOMAIN Referers the Layer defers are decided.
        counts, failures = session_e2e.run(
            all_requests, lambda name: apache.variants[name][1],
            lambda name: apache.variants[name][0], reached_cases, may_defer=lambda request: False)
        errors = apache.error_log()
    for bad in ("exit signal", "Segmentation", "panic"):
        check(bad not in errors, f"(sessions) '{bad}' in the error log:\n{errors[-3000:]}")
    check(all(counts[name] >= 40 for name in names) and counts["allowed"] >= 50,
          f"(sessions) too few requests: {dict(counts)}")
    check(not failures, f"(sessions) {len(failures)} differences from DRF:\n" + "\n".join(failures[:40]))
    layer_defers = sum(map(session_e2e.layer_may_defer, all_requests))
    print(f"  sessions: {sum(counts[n] for n in names)} requests ("
          + ", ".join(f"{n} {counts[n]}" for n in names)
          + f"; {counts['allowed']} allowed by DRF; none deferred, {layer_defers} that the Layer "
          "may defer) give DRF's answers through Apache")


def test_around_auth(log):
    """(aroundauth) The differential's requests around authentication (hosts, Accept, ?format=,
    format suffixes, fragments, absolute-form targets; and X-Forwarded-Host/-Port under
    refproj's `forwarded_hosts` settings): the module answers what DRF answers behind Apache
    without it, or passes on only what may pass (tests/conformance/around_auth_e2e.py)."""
    cases = json.loads(CASES.read_text())
    db = RUN / "data" / "db.sqlite3"
    scratch = RUN / "around-auth-configs"  # not the Apache instance's own folder, which it empties
    scratch.mkdir(exist_ok=True)
    python = VENV / "bin" / "python"
    default_views = [v for v in gate_configs.expressible_views(cases)
                     if gate_configs.group_key(cases, v) == gate_configs.DEFAULT_BACKENDS]
    try:
        default_text = gate_configs.exported_configs(
            cases, CASES, db, python, default_views)[gate_configs.DEFAULT_BACKENDS][0]
    except gate_configs.ConfigError as error:
        raise Failure(f"(aroundauth) {error}")
    names = [around_auth_e2e.DEFAULT] + list(session_variants.HOST_SETTINGS_VARIANTS)
    variants = []
    for name in names:
        config = scratch / f"{name}.toml"
        if name == around_auth_e2e.DEFAULT:
            config.write_text(default_text)
            environment = {"DJANGO_SETTINGS_MODULE": "refproj.settings"}
        else:
            config.write_text(session_e2e.config_text(name, default_text, scratch))
            environment = session_variants.settings_env(name)
        script = RUN / "site" / f"around-{name}.wsgi"
        script.write_text(
            "import os\n"
            f"os.environ['DRFGATE_DJANGO_DB'] = {str(db)!r}\n"
            f"os.environ['DRFGATE_E2E_REACHED_LOG'] = {str(log.path)!r}\n"
            + "".join(f"os.environ[{k!r}] = {v!r}\n" for k, v in environment.items())
            + "from reached_log import application  # noqa: E402,F401\n")
        variants.append((name, script, config))
    subprocess.run(["chown", "-R", "www-data:www-data", str(RUN / "data"), str(scratch)], check=True)
    all_requests = around_auth_e2e.requests(cases, names[1:])
    with SessionApache("around-auth", variants) as apache:
        mark = log.mark()

        def reached_identities():
            out = {}
            for record in log.since(mark):
                if record.get("case"):
                    out.setdefault(record["case"], []).append(record["gate"].get("DRFGATE_USERNAME"))
            return out

        counts, failures = around_auth_e2e.run(
            all_requests, lambda name: apache.variants[name][1],
            lambda name: apache.variants[name][0], reached_identities)
        errors = apache.error_log()
    for bad in ("exit signal", "Segmentation", "panic"):
        check(bad not in errors, f"(aroundauth) '{bad}' in the error log:\n{errors[-3000:]}")
    check(counts["requests"] >= 300 and counts["answered"] >= 100 and counts["allowed"] >= 30,
          f"(aroundauth) too few requests: {dict(counts)}")
    check(not failures, f"(aroundauth) {len(failures)} differences from DRF:\n" + "\n".join(failures[:60]))
    print(f"  around auth: {around_auth_e2e.summary(counts)}, through Apache")


def test_bad_reload():
    """A graceful restart (SIGUSR1) and a restart (SIGHUP) with a drfgate config that no longer
    loads: Apache keeps running, the module logs once per restart why the file was refused,
    the new children judge by the version loaded before, and `apache2 -t` (what `apachectl
    graceful` runs first) names the file and line; once fixed, a graceful restart takes it."""
    config = RUN / "badreload.toml"
    good = (RUN / "drfgate.toml").read_text()
    config.write_text(good)
    with Apache("badreload", config_path=config) as apache:
        def answers_as_before(when):
            for headers, status in (([("Authorization", "Token abcd1234")], 200),
                                    ([("Authorization", "Token nope")], 401), ([], 401)):
                got = request(apache.port, "GET", "/api/whoami/", headers).status
                check(got == status, f"(badreload) {when}: {headers} answered {got}, not {status}")

        def restarted(signal_name):
            getattr(apache, signal_name)()

        answers_as_before("before")
        # An unknown class (what a typo in the file does), then a TOML syntax error.
        for what, text, signal_name in (
                ("an unknown class", good.replace('"IsAuthenticated"', '"IsAuthenticatd"', 1),
                 "graceful"),
                ("a syntax error", good + "\n[[routes]\n", "restart")):
            config.write_text(text)
            check(text != good, f"(badreload) {what}: the config was not changed")
            test = subprocess.run([APACHE_BIN, "-t", "-f", str(apache.conf)],
                                  capture_output=True, text=True)
            check(test.returncode != 0 and str(config) in test.stderr,
                  f"(badreload) {what}: apache2 -t did not refuse it: {test.stderr}")
            refused = apache.error_log().count("not reloaded")
            restarted(signal_name)
            told = apache.error_log().count("not reloaded") - refused
            check(told == 1, f"(badreload) {what}: {told} lines say the file was not reloaded")
            answers_as_before(f"after a {signal_name} with {what}")
        last = [line for line in apache.error_log().splitlines() if "not reloaded" in line][-1]
        check(str(config) in last, f"(badreload) the line does not name the file: {last}")
        # Fixed: the next graceful restart loads it, and says nothing about it.
        config.write_text(good.replace('"AllowAny"', '"IsAuthenticated"'))
        refused = apache.error_log().count("not reloaded")
        restarted("graceful")
        check(apache.error_log().count("not reloaded") == refused,
              "(badreload) a good config was refused")
        answers_as_before("after the fix")
        for bad in ("exit signal", "Segmentation", "panic"):
            check(bad not in apache.error_log(), f"(badreload) '{bad}' in the error log")
    print("  a broken config at graceful and SIGHUP restarts: Apache kept running on the "
          "version loaded before, one line each naming the file; apache2 -t refused it; "
          "the fixed file reloaded")


def test_throttle():
    """AnonRateThrottle at 3/min through the module, histories in Redis shared by Apache's
    processes: the fourth request gets DRF's 429 and Retry-After from the gate."""
    config = RUN / "throttle.toml"
    config.write_text(throttle_e2e.config_text(RUN / "data" / "db.sqlite3"))
    with Apache("throttle", config_path=config) as apache:
        throttle_e2e.check_throttled(request, apache.port, check, "(throttle)")
        for bad in ("exit signal", "Segmentation", "panic"):
            check(bad not in apache.error_log(), f"(throttle) '{bad}' in the error log")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


def test_restart_memory(warmup=15, measured=20):
    """Every restart re-reads the config, so the parent loads and frees a gate each time: its
    memory must level off (the allocator warms up over the first restarts), not grow per restart."""
    with Apache("restarts") as apache:
        pid = apache.process.pid
        for i in range(warmup + measured):
            if i == warmup:
                before = rss_kib(pid)
            apache.signal_and_wait(signal.SIGUSR1 if i % 2 else signal.SIGHUP)
        after = rss_kib(pid)
        errors = apache.error_log()
        check("exit signal" not in errors and "Segmentation" not in errors, errors[-3000:])
        check(after - before < 1024, f"parent grew {after - before} KiB over {measured} restarts "
                                     f"({before} -> {after} KiB)")
        print(f"  parent RSS over {measured} restarts after {warmup} warm-up: {before} -> {after} KiB")


def test_configtest():
    """A broken config stops `apache2 -t` and startup with a clear message."""
    broken = RUN / "broken.toml"
    broken.write_text((RUN / "drfgate.toml").read_text().replace(
        'permission_classes = ["IsAuthenticated"]', 'permission_classes = ["IsAuthenticatd"]', 1))
    result = Apache("configtest-bad", config_path=broken).configtest()
    out = result.stdout + result.stderr
    check(result.returncode != 0, f"configtest passed a broken config: {out}")
    check("DrfgateConfig" in out and "IsAuthenticatd" in out and "did you mean" in out,
          f"unclear configtest message: {out}")
    result = Apache("configtest-ok").configtest()
    check(result.returncode == 0, f"configtest failed on the good config: {result.stderr}")
    # The example site config, as shipped, with only its drfgate config path replaced.
    example = (ROOT / "examples" / "apache" / "drfgate-site.conf").read_text()
    site = RUN / "example-site"
    site.mkdir(exist_ok=True)
    (site / "site.conf").write_text(example.replace("/etc/drfgate/drfgate.toml", str(RUN / "drfgate.toml")))
    (site / "httpd.conf").write_text(
        f'ServerRoot "{site}"\nListen 127.0.0.1:{free_port()}\nDefine APACHE_LOG_DIR "{site}"\n'
        f'ErrorLog "{site}/error.log"\nPidFile "{site}/httpd.pid"\n'
        f'LoadModule mpm_event_module "{APACHE_MODULES}/mod_mpm_event.so"\n'
        f'LoadModule authz_core_module "{APACHE_MODULES}/mod_authz_core.so"\n'
        f'LoadModule alias_module "{APACHE_MODULES}/mod_alias.so"\n'
        f'LoadModule wsgi_module "{APACHE_MODULES}/mod_wsgi.so"\n'
        f'LoadModule drfgate_module "{MODULE}"\nInclude "{site}/site.conf"\n')
    result = subprocess.run([APACHE_BIN, "-t", "-f", str(site / "httpd.conf")],
                            capture_output=True, text=True)
    check(result.returncode == 0, f"examples/apache/drfgate-site.conf: {result.stderr}")
    print("  configtest: a broken config is refused: "
          + next(line for line in out.splitlines() if "DrfgateConfig" in line).strip())


class ProbeApache(Apache):
    """Apache + mod_wsgi serving tests/paths' probe project at /: with the module deciding every
    request and the app trusting it (`trusting`), or without the module, each view guarded by
    its own DRF classes (the reference). The gate's route reaches the app as DRFGATE_ROUTE."""

    def __init__(self, name, trusting, config_path):
        super().__init__(name, with_module=trusting, config_path=config_path)
        self.trusting = trusting

    def conf_text(self):
        mods = APACHE_MODULES
        script = RUN / "site" / f"{self.name}.wsgi"
        script.write_text(
            "import os\n"
            f"os.environ['DRFGATE_DJANGO_DB'] = {str(RUN / 'data' / 'db.sqlite3')!r}\n"
            "os.environ['DJANGO_SETTINGS_MODULE'] = 'pathprobe.settings'\n"
            "os.environ['PATHPROBE_ROUTE_SOURCE'] = 'environ'\n"
            + ("os.environ['PATHPROBE_TRUST_GATE'] = '1'\n" if self.trusting else "")
            + "from pathprobe.wsgi import application  # noqa: E402,F401\n")
        gate = ""
        if self.with_module:
            gate = (f'LoadModule drfgate_module "{MODULE}"\n'
                    f'DrfgateConfig "{self.config_path}"\n'
                    "<Location />\n    Drfgate On\n</Location>\n")
        return f"""{self.preamble()}LoadModule wsgi_module "{mods}/mod_wsgi.so"
LoadModule rewrite_module "{mods}/mod_rewrite.so"
StartServers 2
ThreadsPerChild 25
MaxRequestWorkers 100
<Directory />
    Require all denied
</Directory>
<Directory "{RUN}/site">
    Require all granted
</Directory>
WSGISocketPrefix "{self.dir}/wsgi"
WSGIDaemonProcess pathprobe processes=2 threads=10 python-home="{VENV}" python-path="{ROOT}/tests/paths:{ROOT}/tests/django"
WSGIProcessGroup pathprobe
WSGIApplicationGroup %{{GLOBAL}}
WSGIPassAuthorization On
WSGIScriptAlias / "{script}"
# The gate must judge the rewritten path, which is what mod_wsgi hands Django.
RewriteEngine On
RewriteRule ^/legacy/(.*)$ /api/$1 [PT]
{gate}"""


def test_paths():
    """(paths) tests/paths/differential.py through Apache + mod_wsgi: every path spelling is
    judged by the route Django resolves (DRFGATE_ROUTE = resolver_match.url_name), and no
    request DRF refuses reaches a view of the app behind the module."""
    sys.path.insert(0, str(ROOT / "tests" / "paths"))
    import differential as paths

    config = RUN / "paths.toml"
    config.write_text(paths.gate_config(RUN / "data" / "db.sqlite3", python=EXPORT_PYTHON), "utf-8")
    with ProbeApache("paths-gated", trusting=True, config_path=config) as gated, \
            ProbeApache("paths-reference", trusting=False, config_path=config) as reference:
        rewritten = [("mod_rewrite [PT] /legacy/ → /api/", "GET", target) for target in (
            "/legacy/reports/q1/", "/legacy/reports/q1%3F/", "/legacy/reports/q1%252F2024/",
            "/legacy/orders/7/", "/legacy/orders/%2B7/", "/legacy/files/a/b.txt",
            "/legacy/files/a%3Fb", "/legacy/re/x1%23/", "/legacy/caf%C3%A9/", "/legacy/open/",
            "/legacy/./reports/q1/", "/legacy/x/../reports/q1/", "/legacy/reports/q1")]
        failures = paths.run("apache", gated.port, reference.port, RUN / "paths-results.jsonl",
                             extra_spellings=rewritten)
        errors = gated.error_log()
    for bad in ("exit signal", "Segmentation", "panic"):
        check(bad not in errors, f"(paths) '{bad}' in the error log:\n{errors[-3000:]}")
    check(not failures, f"{len(failures)} requests judged by another route than Django's, or "
                        f"past the gate to a view DRF refuses (details above; every request in "
                        f"{RUN / 'paths-results.jsonl'})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only",
                        default="a,b,c,e,f,configtest,badreload,restarts,paths,throttle,jwt,sessions,aroundauth")
    parser.add_argument("--python", type=Path,
                        help="the venv's python: the gate configs are drfgate_export's (make passes it)")
    args = parser.parse_args()
    global EXPORT_PYTHON
    EXPORT_PYTHON = args.python.absolute() if args.python else None
    only = set(args.only.split(","))
    for needed in (MODULE, FIXTURE_DB, FIXTURE_JSON, ORACLE, VENV / "bin" / "python"):
        check(needed.exists(), f"missing {needed}: run `make test-apache`")
    started = time.monotonic()
    prepare_run_dir()
    if "jwt" in only:
        jwt_e2e.prefetch(RUN / "data" / "db.sqlite3", EXPORT_PYTHON)  # while (a)-(paths) run
    log = ReachedLog()
    steps = [
        ("configtest", "configtest", test_configtest),
        ("a", "(a) without the module: DRF never sees the token", lambda: test_a_problem_without_module(log)),
        ("b", "(b)-(e) identity, conformance, refusals (event and prefork)",
         lambda: test_b_to_e(log, ["event", "prefork"] if "e" in only else ["event"])),
        ("f", "(f) graceful restart under load",
         lambda: [test_f_graceful_under_load(log, mpm) for mpm in
                  (["event", "prefork"] if "e" in only else ["event"])]),
        ("badreload", "(badreload) restarts with a broken drfgate config keep the old policy",
         test_bad_reload),
        ("restarts", "restarts: no growth of the parent per restart", test_restart_memory),
        ("throttle", "(throttle) AnonRateThrottle 3/min: the fourth request gets DRF's 429",
         test_throttle),
        ("paths", "(paths) path spellings: the route judged is the route Django resolves",
         test_paths),
        ("jwt", "(jwt) minted simplejwt and knox tokens: DRF's answers through the module",
         lambda: test_jwt(log)),
        ("sessions", "(sessions) other session engines and settings variants: DRF's answers through "
                     "the module", lambda: test_sessions(log)),
        ("aroundauth", "(aroundauth) hosts, negotiation, request targets, X-Forwarded-Host: DRF's "
                       "answers through the module", lambda: test_around_auth(log)),
    ]
    failed = 0
    for key, title, step in steps:
        if key not in only and not (key == "b" and "c" in only):
            continue
        print(f"{title}")
        t = time.monotonic()
        try:
            step()
            print(f"  ok ({time.monotonic() - t:.1f}s)")
        except Failure as e:
            failed += 1
            print(f"  FAILED: {e}")
    print(f"apache e2e: {'FAILED' if failed else 'passed'} in {time.monotonic() - started:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

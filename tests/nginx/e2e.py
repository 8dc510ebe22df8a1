#!/usr/bin/env python3
"""End-to-end tests of ngx_http_drfgate_module: Debian's nginx with the module
(build/nginx/src/objs), in front of the reference Django + DRF project (tests/django) under
gunicorn from the venv, both on loopback high ports with their own prefix, pid and logs, and
stopped by pid. nginx is configured with examples/nginx/drfgate-module.conf as written (only
the ports and paths swapped in).

  conformance  the conformance cases (tests/conformance) through nginx give DRF's exact
               answers (real DRF's, build/conformance/oracle.json); refusals never reach
               gunicorn, allowed requests reach it once
  identity     the app gets the identity in X-Drfgate-* signed by the module ([handoff]) and
               reads it with GateAuthentication (drfgate_django) with zero queries; a client's
               spoofed X-Drfgate-* never reaches it; a forged, unsigned, stale or replayed
               identity sent around nginx is refused; the client's Host reaches it unchanged
  host         the issue's Host case: a session POST with `Host: API.EXAMPLE.TEST:8443` and a
               lowercase Origin is DRF's 403 through the module and through auth_request →
               `drfgate serve` (examples/nginx/drfgate.conf), as gunicorn's own; lowercase, allowed
  threads      a decision that needs the database runs in the thread pool and the request
               resumes; without drfgate_thread_pool, in nginx's "default" pool (a Basic
               request's hash too); the uWSGI example passes `nginx -t`
  off          `drfgate off` in a location under the server's `drfgate on`: unjudged, and no
               identity reaches gunicorn
  logs         libdrfgate's messages at their level in nginx's error log: a config warning at
               [warn], an unreadable SQLite file at [error]
  install      `make install-nginx` with DESTDIR, and into directories of our own: nginx -t loads
               the installed module through the generated load_module conf
  uwsgi        examples/nginx/drfgate-module-uwsgi.conf as written in front of uWSGI (from PyPI,
               `make nginx-uwsgi`) serving the reference project: signed identity, spoofs
               ignored, refusals never reach the app, Host unchanged
  prefix       drfgate_strip_prefix: an application mounted below / (proxy_pass with a URI part)
               is judged by its routes without the mount point, and its signed identity holds;
               without the directive no route matches
  reload       `nginx -s reload` (SIGHUP) 50 times under light load: no request lost, and the
               master's and the workers' anonymous memory flat over the second half
  badreload    a reload with a broken drfgate config: nginx logs why (the file and line), keeps
               its workers and the policy loaded before; the fixed config reloads
  bodies       session POSTs whose CSRF check needs the body (tests/conformance/module_bodies.py):
               DRF's answers (compared with gunicorn's own), the body reaches gunicorn
               unchanged, a body over client_body_buffer_size is deferred, a client that goes
               away mid-body leaves the worker up
  throttle     AnonRateThrottle 3/min on a view, histories in Redis shared by the workers: the
               fourth request gets DRF's 429 and Retry-After from the gate
  valgrind     nginx with `master_process off` under Valgrind memcheck: no error (body
               requests included)
  aroundauth   the differential's requests around authentication (hosts, Accept, ?format=,
               format suffixes, fragments, absolute form; X-Forwarded-Host under a settings
               variant): DRF's answers behind nginx without the module, or passed on where DRF
               answers with a page the gate does not write (tests/conformance/around_auth_e2e.py)
  sessions     the differential's settings variants with sessions (CSRF_USE_SESSIONS, other
               names, a fallback key; CSRF_COOKIE_DOMAIN with X-Forwarded-Port): DRF's answers
               behind nginx without the module, deferred only where the Layer may defer
               (tests/conformance/session_e2e.py)
  jwt          the tokens simplejwt and knox minted (tests/django/jwt_fixtures.py) on every JWT
               and knox view, through an nginx per SIMPLE_JWT config: DRF's answers (gunicorn's
               own), refusals never reach gunicorn (tests/conformance/jwt_e2e.py)

Run by `make test-nginx-module` (in `make test`). Usage: e2e.py [--only a,b] [--reloads N] [--python VENV_PYTHON]
"""
import argparse
import base64
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

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "conformance"))
import around_auth_e2e  # noqa: E402  (hosts, negotiation, request targets, through the module and without)
import gate_configs  # noqa: E402  (the conformance table's gate configs, as every suite writes them)
import jwt_e2e  # noqa: E402  (the minted JWT and knox requests, through the module and without)
import module_bodies  # noqa: E402  (session POST bodies read for the gate, shared with tests/apache)
import session_e2e  # noqa: E402  (the settings variants' gate configs)
import session_variants  # noqa: E402  (the host settings variants: refproj's settings modules)
import throttle_e2e  # noqa: E402  (AnonRateThrottle through the module, histories in Redis)

RUN = ROOT / "build" / "nginx" / "run"
MODULE = ROOT / "build" / "nginx" / "src" / "objs" / "ngx_http_drfgate_module.so"
VENV_BIN = ROOT / ".venv" / "bin"
FIXTURE_DB = ROOT / "build" / "django" / "db.sqlite3"
ORACLE = ROOT / "build" / "conformance" / "oracle.json"
CASES = ROOT / "tests" / "conformance" / "cases.json"
EXAMPLE = ROOT / "examples" / "nginx" / "drfgate-module.conf"
EXAMPLE_UWSGI = ROOT / "examples" / "nginx" / "drfgate-module-uwsgi.conf"
AUTH_REQUEST_EXAMPLE = ROOT / "examples" / "nginx" / "drfgate.conf"
# uWSGI from PyPI in a venv of its own (`make nginx-uwsgi`): it compiles at install.
UWSGI = ROOT / "build" / "nginx" / "uwsgi-venv" / "bin" / "uwsgi"
NGINX = "/usr/sbin/nginx"
PYTHON_PATH = [ROOT / "tests" / "nginx" / "app", ROOT / "tests" / "apache" / "app",
               ROOT / "tests" / "django", ROOT / "python" / "drfgate-django" / "src"]
sys.path.insert(0, str(ROOT / "python" / "drfgate-django" / "src"))
from drfgate_django import handoff  # noqa: E402  (to forge and replay signatures)

# [handoff] SECRET_FILE: the key the module signs with and GateAuthentication checks.
HANDOFF_KEY = b"nginx-e2e-handoff-key-0123456789abcdef"
# Fixture tokens (tests/django/make_fixture_db.py): john is a plain user, admin is staff.
JOHN = b"Token abcd1234"
ADMIN = b"Token admin123"

# The venv's python, for `manage.py drfgate_export` (--python); None: hand-written configs.
EXPORT_PYTHON = None

# The deployment's own route (after the export's; before the table's in the hand-written
# config): the identity view, open to anyone at the
# gate (its view then requires the user nginx names).
EXTRA_ROUTES = [
    "[[routes]]",
    'name = "whoami"',
    'path = "api/whoami/"',
    'authentication_classes = ["TokenAuthentication"]',
    'permission_classes = ["AllowAny"]',
]


class Failure(AssertionError):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def module_views(cases):
    """Views a client can reproduce through nginx: the default backend's (the remote-user
    views need a server variable no client sends)."""
    return [name for name in gate_configs.expressible_views(cases)
            if gate_configs.backends_of(cases, name) == gate_configs.DEFAULT_BACKENDS]


# ---------------------------------------------------------------------------------------------
# Processes


def wait_listening(port, process, log, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        if process is not None and process.poll() is not None:
            raise Failure(f"exited with {process.returncode}:\n"
                          + log.read_text(errors="replace")[-3000:])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            check(time.monotonic() < deadline, f"nothing listening on {port} after {seconds} s")
            time.sleep(0.1)


def stop(process, sig=signal.SIGTERM):
    if process is not None and process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Gunicorn:
    def __init__(self, reached, settings="nginx_settings", name="gunicorn"):
        self.port = free_port()
        self.log = RUN / f"{name}.log"
        env = dict(os.environ, DRFGATE_DJANGO_DB=str(RUN / "db.sqlite3"),
                   DRFGATE_E2E_REACHED_LOG=str(reached),
                   DRFGATE_HANDOFF_SECRET_FILE=str(RUN / "handoff.key"),
                   DJANGO_SETTINGS_MODULE=settings,
                   PYTHONPATH=os.pathsep.join(str(p) for p in PYTHON_PATH))
        self.process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "reached_log:application", "--bind",
             f"127.0.0.1:{self.port}", "--workers", "2", "--threads", "4", "--worker-class",
             "gthread", "--no-control-socket", "--log-level", "warning"],
            stdout=open(self.log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True)
        wait_listening(self.port, self.process, self.log)


# Appended to the example's server (site_config(mounts=True)): the app mounted below /mounted/,
# with the prefix stripped before matching, the same without the directive, and the app below
# /ungated/ with `drfgate off` under the server's `drfgate on` (the identity headers set as in
# the example, so that what reaches gunicorn is the module's empty identity, not a client's).
MOUNTS = """
    location /mounted/ {
        drfgate_strip_prefix /mounted;
        proxy_set_header X-Drfgate-Signature  $drfgate_signature;
        proxy_set_header X-Drfgate-User       $drfgate_user;
        proxy_set_header X-Drfgate-User-Id    $drfgate_user_id;
        proxy_set_header X-Drfgate-Auth       $drfgate_auth;
        proxy_set_header X-Drfgate-User-Flags $drfgate_user_flags;
        proxy_set_header X-Drfgate-Route      $drfgate_route;
        proxy_set_header Host                 $http_host;
        proxy_pass http://django_app/;
    }

    location /unstripped/ {
        proxy_pass http://django_app/;
    }

    location /ungated/ {
        drfgate off;
        proxy_set_header X-Drfgate-Signature  $drfgate_signature;
        proxy_set_header X-Drfgate-User       $drfgate_user;
        proxy_set_header X-Drfgate-User-Id    $drfgate_user_id;
        proxy_set_header X-Drfgate-Auth       $drfgate_auth;
        proxy_set_header X-Drfgate-User-Flags $drfgate_user_flags;
        proxy_set_header Host                 $http_host;
        proxy_pass http://django_app/;
    }
"""


def site_config(app_port, port, config, example=EXAMPLE, mounts=False):
    """The example as written, with this run's ports and config file swapped in."""
    text = example.read_text()
    if mounts:
        check("    location / {" in text, f"{example.name} has no `location /`")
        text = text.replace("    location / {", MOUNTS.lstrip("\n") + "\n    location / {", 1)
    upstream = "127.0.0.1:8000" if example == EXAMPLE else "127.0.0.1:8001"
    for old, new in ((upstream, f"127.0.0.1:{app_port}"),
                     ("listen 80;", f"listen 127.0.0.1:{port};"),
                     ("/etc/drfgate/drfgate.toml", str(config))):
        check(old in text, f"{example.name} no longer has {old!r}")
        text = text.replace(old, new)
    return text


def nginx_conf(name, site, master_process=True, log_level="info", workers=2, module=True):
    """A private nginx: its own prefix folder, pid, logs and temp folders; with the module
    loaded unless `module` is false (the auth_request example sets $drfgate_* itself)."""
    prefix = RUN / name
    (prefix / "temp").mkdir(parents=True, exist_ok=True)
    user = "user root;\n" if os.getuid() == 0 else ""
    main = "" if master_process else "master_process off;\n"
    return f"""{user}{main}worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log {log_level};
{f"load_module {MODULE};" if module else ""}
thread_pool drfgate threads=4;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/access.log;
    # Above DATA_UPLOAD_MAX_MEMORY_SIZE, so that the gate (not nginx's 413) answers an
    # oversized form (tests/conformance/module_bodies.py).
    client_max_body_size 4m;
    client_body_temp_path {prefix}/temp/body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
{site}
}}
"""


# glibc keeps freed chunks in a per-thread cache (tcache) that counts as in use and pins heap
# fragments around it: nginx's master, which loads a gate to check the config at every reload,
# grew 1.5 to 6 MiB over the first reloads with it on and stayed flat with it off (nothing
# leaked: tests/c/reloads.c measures the library's heap exactly). Off here, so that the
# reload test's memory figures show leaks, not the allocator's caching.
NO_TCACHE = "glibc.malloc.tcache_count=0"


class Nginx:
    def __init__(self, name, site, master_process=True, wrapper=(), log_level="info", workers=2,
                 module=True):
        self.name = name
        self.prefix = RUN / name
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.conf = self.prefix / "nginx.conf"
        self.conf.write_text(nginx_conf(name, site, master_process, log_level, workers, module))
        self.log = self.prefix / "stderr.log"
        test = subprocess.run([NGINX, "-t", "-q", "-p", str(self.prefix), "-c", str(self.conf)],
                              capture_output=True, text=True)
        check(test.returncode == 0, f"nginx -t ({name}): {test.stderr}")
        self.process = subprocess.Popen(
            list(wrapper) + [NGINX, "-p", str(self.prefix), "-c", str(self.conf),
                             "-g", "daemon off;"],
            stdout=open(self.log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=dict(os.environ, GLIBC_TUNABLES=NO_TCACHE))

    def wait(self, port, seconds=60):
        wait_listening(port, self.process, self.log, seconds)

    def error_log(self):
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def workers(self):
        """The master's worker processes (not the ones shutting down)."""
        out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(self.process.pid)],
                             capture_output=True, text=True).stdout
        return [int(line.split()[0]) for line in out.splitlines()
                if "worker process" in line and "is shutting down" not in line]

    def stop(self):
        stop(self.process, signal.SIGQUIT)


# ---------------------------------------------------------------------------------------------
# Requests


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


def request(port, method, path, headers=(), timeout=60, host=None):
    """One request on its own connection, header values as raw bytes (the table's octets)."""
    # A case's own Host replaces ours (two Host headers are nginx's 400).
    own_host = any(name.lower() == "host" for name, _ in headers)
    lines = [f"{method} {path} HTTP/1.1".encode("latin-1")]
    if not own_host:
        lines.append(b"Host: " + (host or f"127.0.0.1:{port}").encode())
    for name, value in headers:
        lines.append(name.encode("latin-1") + b": "
                     + (value if isinstance(value, bytes) else value.encode()))
    lines.append(b"Connection: close")
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        response = http.client.HTTPResponse(sock, method=method.upper())
        response.begin()
        body = response.read()
        headers = {}
        for k, v in response.getheaders():
            headers[k.lower()] = headers[k.lower()] + ", " + v if k.lower() in headers else v
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
    """Requests that reached Python, recorded by tests/apache/app/reached_log.py."""

    def __init__(self, path):
        self.path = path

    def mark(self):
        return self.path.stat().st_size

    def since(self, mark):
        with open(self.path, "rb") as f:
            f.seek(mark)
            return [json.loads(line) for line in f.read().splitlines()]


# ---------------------------------------------------------------------------------------------
# The tests


def test_conformance(port, reached):
    cases = json.loads(CASES.read_text())
    oracle = json.loads(ORACLE.read_text())
    oracle = oracle.get("answers", oracle)
    views = {name: cases["views"][name] for name in module_views(cases)}
    compared, skipped, failures, unsendable, by_nginx = 0, 0, [], [], []
    for case in cases["cases"]:
        view = views.get(case["view"])
        if view is None or case.get("remote_user") is not None:
            skipped += 1
            continue
        theirs = oracle[case["id"]]
        headers = [(name, header_bytes(value)) for name, value in case["headers"]]
        mark = reached.mark()
        ours = request(port, case["method"], "/" + view["path"], headers)
        got_there = reached.since(mark)
        is_head = case["method"].upper() == "HEAD"
        allowed = 200 <= theirs["status"] < 300
        if ours.status in (400, 405) and "<center>nginx" in ours.body and not got_there:
            # nginx's own answer, before any module runs: TRACE (405), a lowercase method, a
            # NUL in a header, a repeated Authorization (400). DRF's answer is for servers
            # that pass such requests on (docs/differences.md).
            by_nginx.append(case["id"])
            continue
        if any(has_control_octet(value) for _, value in headers):
            # DRF's answer to a control octet in a header is for servers that pass it on:
            # nginx cuts a header at a bare LF, gunicorn (≥ 22) refuses the rest with 400.
            # Either gunicorn's 400, or the gate refused what nginx passed (never the view).
            unsendable.append(case["id"])
            refused_here = ours.status in (401, 403) and not got_there
            if not (refused_here or ours.status == 400):
                failures.append(f"{case['id']}: control octet in a header: expected gunicorn's "
                                f"400 or a refusal by the gate, got {ours.status}")
            continue
        problems = []
        if ours.status != theirs["status"]:
            problems.append(f"status {ours.status} != {theirs['status']}")
        if not is_head and ours.body != (theirs["body"] or ""):
            problems.append(f"body {ours.body!r} != {theirs['body']!r}")
        if ours.header("WWW-Authenticate") != theirs["www_authenticate"]:
            problems.append(f"WWW-Authenticate {ours.header('WWW-Authenticate')!r} != "
                            f"{theirs['www_authenticate']!r}")
        if allowed and len(got_there) != 1:
            problems.append(f"allowed, but reached gunicorn {len(got_there)} times")
        if not allowed and got_there:
            problems.append("refused, but reached gunicorn")
        # DRF's JSON, or Django's HTML 400 page for a host ALLOWED_HOSTS refuses.
        wanted_type = "text/html; charset=utf-8" if theirs["status"] == 400 else "application/json"
        if not allowed and not is_head and ours.header("Content-Type") != wanted_type:
            problems.append(f"Content-Type {ours.header('Content-Type')!r}")
        if not allowed and theirs.get("allow") is not None and ours.header("Allow") != theirs["allow"]:
            problems.append(f"Allow {ours.header('Allow')!r} != {theirs['allow']!r}")
        compared += 1
        if problems:
            failures.append(f"{case['id']} {case['method']} /{view['path']}: " + "; ".join(problems))
    print(f"  conformance: {compared} cases give DRF's answer through nginx + the module; "
          f"{len(by_nginx)} answered by nginx itself before any module ({', '.join(by_nginx)}); "
          f"{len(unsendable)} with a control octet in a header refused by gunicorn or the gate "
          f"({', '.join(unsendable)}); {skipped} not sendable by a client (REMOTE_USER cases, "
          "views left out of the table's configs)")
    check(compared >= 250, f"too few cases compared: {compared}")
    check(len(by_nginx) <= 20, f"nginx answered {len(by_nginx)} cases itself: {by_nginx}")
    check(not failures, f"{len(failures)} differences from DRF:\n" + "\n".join(failures[:40]))


def test_identity(port, app_port, reached):
    # john by his token: the app's view (GateAuthentication) sees john, whatever the client
    # claims in X-Drfgate-* headers, and builds him without a query.
    spoof = [("X-Drfgate-User", "admin"), ("X-Drfgate-User-Id", "2"),
             ("X-Drfgate-Auth", "basic"), ("X-Drfgate-Is-Staff", "1"),
             ("X-Drfgate-User-Flags", "staff,superuser"),
             ("X-Drfgate-Signature", "t=1,v1=" + "0" * 64), ("X-Drfgate-Route", "spoofed")]
    a = request(port, "GET", "/api/whoami/", [("Authorization", JOHN)] + spoof,
                host="API.Example.TEST:8443")
    check(a.status == 200, f"john: {a}")
    who = a.json()
    check(who["user"] == "john" and who["staff"] is False, f"john's request seen as {who}")
    check(a.header("X-Queries") == "0", f"john's request cost {a.header('X-Queries')} queries")
    gate = who["gate"]
    check(gate.get("HTTP_X_DRFGATE_USER") == "john" and gate.get("HTTP_X_DRFGATE_AUTH") == "token"
          and gate.get("HTTP_X_DRFGATE_IS_STAFF") == "0"
          and "HTTP_X_DRFGATE_USER_FLAGS" not in gate  # empty: not sent
          and gate.get("HTTP_X_DRFGATE_SIGNATURE", "").startswith("t=")
          and gate.get("HTTP_X_DRFGATE_ROUTE") == "whoami", f"identity headers: {gate}")
    check(who["host"] == "API.Example.TEST:8443", f"Host reached the app as {who['host']!r}")
    # Anonymous (allowed at the gate) claiming to be admin: the view sees nobody.
    mark = reached.mark()
    a = request(port, "GET", "/api/whoami/", spoof)
    check(a.status in (401, 403), f"spoofed anonymous request: {a}")
    seen = reached.since(mark)
    check(len(seen) == 1, f"the anonymous request reached gunicorn {len(seen)} times")
    # The refused one: never reaches gunicorn.
    mark = reached.mark()
    a = request(port, "GET", "/api/whoami/", [("Authorization", b"Token nope")] + spoof)
    check(a.status == 401 and a.json() == {"detail": "Invalid token."}, f"bad token: {a}")
    check(not reached.since(mark), "a refused request reached gunicorn")
    # admin is staff: signed as such (X-Drfgate-User-Flags), still no query.
    a = request(port, "GET", "/api/whoami/", [("Authorization", ADMIN)])
    admin = a.json()
    check(admin["user"] == "admin" and admin["staff"] is True
          and admin["gate"].get("HTTP_X_DRFGATE_USER_FLAGS") == "staff"
          and a.header("X-Queries") == "0", f"admin: {a}")
    # Around nginx, straight to gunicorn: an identity nobody signed, one signed with another
    # key, an old one, and one signed for another path, all refused.
    john = [("X-Drfgate-User", "john"), ("X-Drfgate-User-Id", gate["HTTP_X_DRFGATE_USER_ID"]),
            ("X-Drfgate-Auth", "token")]
    now = int(time.time())

    def signed(key, at, path="/api/whoami/"):
        return handoff.sign(key, at, "GET", path, "token", gate["HTTP_X_DRFGATE_USER_ID"], "john", "")

    attempts = {
        "unsigned": [],
        "forged": [("X-Drfgate-Signature", signed(b"x" * 32, now))],
        "stale": [("X-Drfgate-Signature", signed(HANDOFF_KEY, now - 300))],
        "replayed from another path": [("X-Drfgate-Signature", signed(HANDOFF_KEY, now, "/api/other/"))],
    }
    # 403, not 401: GateAuthentication alone gives no challenge (it defers to the next class's).
    for what, extra in attempts.items():
        a = request(app_port, "GET", "/api/whoami/", john + extra)
        wanted = "Unsigned drfgate identity." if what == "unsigned" else "Invalid drfgate identity signature."
        check(a.status == 403 and a.json() == {"detail": wanted}, f"{what} identity around nginx: {a}")
    # The control: a fresh signature with the right key is accepted, so the refusals above
    # were for the signature alone.
    a = request(app_port, "GET", "/api/whoami/",
                john + [("X-Drfgate-Signature", signed(HANDOFF_KEY, now))])
    check(a.status == 200 and a.json()["user"] == "john", f"a good signature around nginx: {a}")
    print("  identity: the app reads the identity nginx signs (GateAuthentication, zero queries); "
          "spoofed X-Drfgate-* ignored; unsigned, forged, stale and replayed identities refused; "
          "the client's Host unchanged; refusals never reach gunicorn")


def test_threads(nginx, port, app_port):
    """A token never seen needs the database: decided in the pool, the request resumed (the
    debug log says where). Then the same token from the cache, inline, and so is a request
    without credentials."""
    for _ in range(3):
        a = request(port, "GET", "/api/whoami/", [("Authorization", ADMIN)])
        check(a.status == 200, f"admin: {a}")
    # One worker (each has its own gate and caches) with nginx's debug log (Debian builds nginx --with-debug).
    debug_port = free_port()
    debug = Nginx("debug", site_config(app_port, debug_port, RUN / "drfgate.toml"),
                  log_level="debug", workers=1)
    try:
        debug.wait(debug_port)
        for headers, status in (([("Authorization", ADMIN)], 200), ([("Authorization", ADMIN)], 200),
                                ([], 403), ([("Authorization", b"Token nope")], 401)):
            a = request(debug_port, "GET", "/api/whoami/", headers)
            check(a.status == status, f"debug instance: {a}")
    finally:
        debug.stop()
    lines = [line for line in debug.error_log().splitlines() if "drfgate: /api/whoami/" in line]
    posted = [line for line in lines if "posted to the thread pool" in line]
    back = [line for line in lines if "back from the thread pool" in line]
    inline = [line for line in lines if "decided inline" in line]
    # admin's first request (not cached yet) and the unknown token (not cached either) go to the
    # pool; admin's second and the anonymous one are answered inline.
    check(len(posted) == 2 and len(back) == 2 and len(inline) == 2,
          f"pool/inline decisions: {len(posted)} posted, {len(back)} back, {len(inline)} inline:"
          + "\n" + "\n".join(lines))
    check("no drfgate_thread_pool" not in nginx.error_log(),
          "fell back to the \"default\" thread pool, with drfgate_thread_pool configured")
    # Without drfgate_thread_pool: nginx's "default" pool, never the event loop. A Basic
    # request (a PBKDF2 hash) and a token never seen are posted to it (nginx's own debug line
    # names the pool); nginx -t has nothing to warn about.
    nopool_port = free_port()
    site = site_config(app_port, nopool_port, RUN / "drfgate.toml")
    check("drfgate_thread_pool drfgate;" in site, "the example has no drfgate_thread_pool")
    site = site.replace("drfgate_thread_pool drfgate;", "")
    nopool = Nginx("nopool", site, log_level="debug", workers=1)
    test = subprocess.run([NGINX, "-t", "-p", str(nopool.prefix), "-c", str(nopool.conf)],
                          capture_output=True, text=True)
    check(test.returncode == 0 and "[warn]" not in test.stderr,
          f"nginx -t without drfgate_thread_pool: {test.stderr}")
    basic = b"Basic " + base64.b64encode(b"john:password")
    try:
        nopool.wait(nopool_port)
        for path, headers, status in (("/api/basic-ia/", [("Authorization", basic)], 200),
                                      ("/api/whoami/", [("Authorization", ADMIN)], 200)):
            a = request(nopool_port, "GET", path, headers)
            check(a.status == status, f"without drfgate_thread_pool, {path}: {a}")
    finally:
        nopool.stop()
    log = nopool.error_log().splitlines()
    for path in ("/api/basic-ia/", "/api/whoami/"):
        posted = [line for line in log if f"drfgate: {path}: decision posted to the thread pool" in line]
        back = [line for line in log if f"drfgate: {path}: decision back from the thread pool" in line]
        check(len(posted) == 1 and len(back) == 1,
              f"without drfgate_thread_pool, {path}: {len(posted)} posted, {len(back)} back")
    # nginx logs the task it queued just before the module says it posted it.
    posted = [i for i, line in enumerate(log) if "decision posted to the thread pool" in line]
    check(posted and all(i > 0 and 'added to thread pool "default"' in log[i - 1] for i in posted),
          "without drfgate_thread_pool, not nginx's default pool:\n"
          + "\n".join(log[i - 1] for i in posted if i > 0))
    check(not any("drfgate: /api/" in line and "decided inline" in line for line in log),
          "without drfgate_thread_pool, a decision was made on the event loop:\n" + "\n".join(log))
    uwsgi = RUN / "uwsgi-check"
    uwsgi.mkdir(exist_ok=True)
    site = site_config(free_port(), free_port(), RUN / "drfgate.toml", EXAMPLE_UWSGI)
    conf = uwsgi / "nginx.conf"
    conf.write_text(nginx_conf("uwsgi-check", site))
    (uwsgi / "uwsgi_params").write_text(Path("/etc/nginx/uwsgi_params").read_text())
    test = subprocess.run([NGINX, "-t", "-q", "-p", str(uwsgi), "-c", str(conf)],
                          capture_output=True, text=True)
    check(test.returncode == 0, f"nginx -t with the uWSGI example: {test.stderr}")
    print("  threads: decisions that need the database go to the pool and their request resumes; "
          "cached and credential-less ones are answered inline (nginx's debug log); without "
          "drfgate_thread_pool a Basic request and a new token go to nginx's \"default\" pool; "
          "the uWSGI example passes nginx -t")


def test_uwsgi(reached):
    """examples/nginx/drfgate-module-uwsgi.conf as written (ports and paths swapped in) in front
    of the reference project under uWSGI (build/nginx/uwsgi-venv, `make nginx-uwsgi`): an allowed
    request's identity arrives signed and GateAuthentication reads it without a query, a client's
    X-Drfgate-* never reaches the app, a refusal never reaches it, the client's Host unchanged."""
    check(UWSGI.exists(), f"missing {UWSGI}: make nginx-uwsgi")
    app_port, port = free_port(), free_port()
    log = RUN / "uwsgi.log"
    env = dict(os.environ, DRFGATE_DJANGO_DB=str(RUN / "db.sqlite3"),
               DRFGATE_E2E_REACHED_LOG=str(reached.path),
               DRFGATE_HANDOFF_SECRET_FILE=str(RUN / "handoff.key"),
               DJANGO_SETTINGS_MODULE="nginx_settings",
               PYTHONPATH=os.pathsep.join(str(p) for p in PYTHON_PATH))
    # uWSGI's embedded Python runs with the project's venv (Django, DRF), not uWSGI's own.
    app = subprocess.Popen(
        [str(UWSGI), "--socket", f"127.0.0.1:{app_port}", "--home", str(VENV_BIN.parent),
         "--module", "reached_log:application", "--master", "--processes", "1",
         "--threads", "4", "--die-on-term", "--need-app", "--disable-logging"],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=env, start_new_session=True)
    nginx = None
    try:
        wait_listening(app_port, app, log)
        site = site_config(app_port, port, RUN / "drfgate.toml", EXAMPLE_UWSGI)
        # The example's `include uwsgi_params;`: Debian's, beside the config.
        (RUN / "uwsgi").mkdir(parents=True, exist_ok=True)
        (RUN / "uwsgi" / "uwsgi_params").write_text(Path("/etc/nginx/uwsgi_params").read_text())
        nginx = Nginx("uwsgi", site)
        nginx.wait(port)
        spoof = [("X-Drfgate-User", "admin"), ("X-Drfgate-User-Id", "2"),
                 ("X-Drfgate-Auth", "basic"), ("X-Drfgate-User-Flags", "staff,superuser"),
                 ("X-Drfgate-Signature", "t=1,v1=" + "0" * 64)]
        a = request(port, "GET", "/api/whoami/", [("Authorization", JOHN)] + spoof,
                    host="API.Example.TEST:8443")
        check(a.status == 200, f"uWSGI, john: {a}")
        who = a.json()
        gate = who["gate"]
        check(who["user"] == "john" and who["staff"] is False and a.header("X-Queries") == "0"
              and gate.get("HTTP_X_DRFGATE_USER") == "john"
              and gate.get("HTTP_X_DRFGATE_AUTH") == "token"
              and gate.get("HTTP_X_DRFGATE_SIGNATURE", "").startswith("t=")
              and not gate.get("HTTP_X_DRFGATE_USER_FLAGS"),
              f"uWSGI, john's identity: {who}")
        check(who["host"] == "API.Example.TEST:8443", f"uWSGI: Host reached the app as {who['host']!r}")
        a = request(port, "GET", "/api/whoami/", [("Authorization", ADMIN)])
        check(a.status == 200 and a.json()["user"] == "admin" and a.json()["staff"] is True,
              f"uWSGI, admin: {a}")
        # Anonymous, allowed at the gate, claiming to be admin: the view sees nobody.
        mark = reached.mark()
        a = request(port, "GET", "/api/whoami/", spoof)
        seen = reached.since(mark)
        # uwsgi_param sends its variable even when empty: no user is an empty one.
        check(a.status in (401, 403) and len(seen) == 1 and not seen[0]["x_drfgate_user"],
              f"uWSGI, a spoofed anonymous request: {a}, reached the app as {seen}")
        mark = reached.mark()
        a = request(port, "GET", "/api/whoami/", [("Authorization", b"Token nope")] + spoof)
        check(a.status == 401 and a.json() == {"detail": "Invalid token."}, f"uWSGI, bad token: {a}")
        check(not reached.since(mark), "uWSGI: a refused request reached the app")
    finally:
        if nginx is not None:
            nginx.stop()
        stop(app, signal.SIGINT)
    print("  uwsgi: the uWSGI example in front of uWSGI: the identity arrives signed "
          "(GateAuthentication, zero queries), spoofed X-Drfgate-* ignored, refusals never reach "
          "the app, the client's Host unchanged")


def test_prefix(port, reached):
    """drfgate_strip_prefix /mounted: /mounted/api/whoami/ is judged as api/whoami/ (the route
    whose view it reaches once proxy_pass drops the prefix), and the signature covers that path."""
    a = request(port, "GET", "/mounted/api/whoami/", [("Authorization", JOHN)])
    check(a.status == 200 and a.json()["user"] == "john" and a.header("X-Queries") == "0"
          and a.json()["gate"].get("HTTP_X_DRFGATE_ROUTE") == "whoami", f"mounted, john: {a}")
    mark = reached.mark()
    a = request(port, "GET", "/mounted/api/whoami/", [("Authorization", b"Token nope")])
    check(a.status == 401 and a.json() == {"detail": "Invalid token."}, f"mounted, bad token: {a}")
    check(not reached.since(mark), "a request refused below the mount point reached gunicorn")
    # Another route's policy below the mount point: token_ia needs a valid token.
    a = request(port, "GET", "/mounted/api/token-ia/")
    check(a.status == 401 and a.json() == {"detail": "Authentication credentials were not provided."},
          f"mounted, token_ia without credentials: {a}")
    # Without the directive the mount point is part of the path: no route matches (deny).
    a = request(port, "GET", "/unstripped/api/whoami/", [("Authorization", JOHN)])
    check(a.status == 404 and a.header("Content-Type") == "application/json", f"unstripped: {a}")
    print("  prefix: below drfgate_strip_prefix the app's routes judge, the signed identity holds "
          "(zero queries), refusals never reach gunicorn; without it no route matches")


def test_off(port, reached):
    """`drfgate off` in a location under the server's `drfgate on`: nothing judged there (a bad
    token reaches gunicorn, whose DRF answers it), and no identity goes with the request, even
    a client's own X-Drfgate-* (the location sets them from the module's empty variables)."""
    mark = reached.mark()
    a = request(port, "GET", "/ungated/api/token-ia/", [("Authorization", b"Token nope")])
    seen = reached.since(mark)
    check(a.status == 401 and a.json() == {"detail": "Invalid token."} and len(seen) == 1
          and seen[0]["path"] == "/api/token-ia/" and seen[0]["x_drfgate_user"] is None,
          f"drfgate off, a bad token: {a}, reached gunicorn as {seen}")
    mark = reached.mark()
    a = request(port, "GET", "/ungated/api/whoami/",
                [("Authorization", JOHN), ("X-Drfgate-User", "admin"), ("X-Drfgate-Auth", "token")])
    seen = reached.since(mark)
    # GateAuthentication finds no identity: DRF's own refusal, from gunicorn.
    check(a.status == 403 and len(seen) == 1 and seen[0]["x_drfgate_user"] is None,
          f"drfgate off, john's token and a spoofed identity: {a}, reached gunicorn as {seen}")
    # The same request where the server's `drfgate on` holds: judged, john signed.
    a = request(port, "GET", "/api/whoami/", [("Authorization", JOHN)])
    check(a.status == 200 and a.json()["user"] == "john", f"drfgate on, john: {a}")
    print("  off: under the server's `drfgate on`, a `drfgate off` location passes requests to "
          "gunicorn unjudged (its DRF answers a bad token) and without any identity")


def drfgate_binary():
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug" / "drfgate"


def auth_request_site(config, port, serve_port, app_port):
    """examples/nginx/drfgate.conf (auth_request to `drfgate serve`) as written, with this
    run's ports swapped in."""
    text = AUTH_REQUEST_EXAMPLE.read_text()
    for old, new in (("127.0.0.1:9180", f"127.0.0.1:{serve_port}"),
                     ("127.0.0.1:8000", f"127.0.0.1:{app_port}"),
                     ("listen 80;", f"listen 127.0.0.1:{port};")):
        check(old in text, f"{AUTH_REQUEST_EXAMPLE.name} no longer has {old!r}")
        text = text.replace(old, new)
    return text


def test_host(port, app_port, reached):
    """The issue's Host case: a session POST (john's session made by Django's login(), its CSRF
    token in X-CSRFToken) with `Host: API.EXAMPLE.TEST:8443` and a lowercase Origin. Django
    compares the Origin with the Host as sent, so DRF refuses it (403, Origin checking failed);
    the module and auth_request → `drfgate serve` (examples/nginx/drfgate.conf, which passes
    $http_host) refuse it the same, and neither lets it reach gunicorn. With the Host in lower
    case all three let john in: the refusal is for the Host alone."""
    serve_port, auth_port = free_port(), free_port()
    config = RUN / "serve.toml"
    config.write_text((RUN / "drfgate.toml").read_text()
                      + '\n[serve]\ntrusted_forwarded = ["x-original"]\n')
    binary = drfgate_binary()
    check(binary.exists(), f"missing {binary}: cargo build -p drfgate-cli")
    serve_log = RUN / "serve.log"
    serve = subprocess.Popen(
        [str(binary), "serve", "--config", str(config), "--listen", f"127.0.0.1:{serve_port}"],
        stdout=open(serve_log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True, env=dict(os.environ, DRFGATE_LOG="error"))
    auth = None
    try:
        wait_listening(serve_port, serve, serve_log)
        auth = Nginx("auth-request", auth_request_site(config, auth_port, serve_port, app_port),
                     workers=1, module=False)
        auth.wait(auth_port)
        fronts = {"gunicorn": app_port, "the module": port, "auth_request": auth_port}
        for host, wanted in (("API.EXAMPLE.TEST:8443", 403), ("api.example.test:8443", 200)):
            headers = [("Host", host), ("Origin", "http://api.example.test:8443"),
                       ("Cookie", module_bodies.COOKIE),
                       ("X-CSRFToken", module_bodies.CSRF_SECRET), ("Content-Length", "0")]
            answers = {}
            for name, front in fronts.items():
                mark = reached.mark()
                answers[name] = request(front, "POST", module_bodies.SESSION_PATH, headers)
                seen = reached.since(mark)
                if wanted == 403 and name != "gunicorn":
                    check(not seen, f"Host {host}: refused by {name}, but reached gunicorn")
                else:
                    check(len(seen) == 1, f"Host {host} through {name}: reached gunicorn "
                                          f"{len(seen)} times")
            drf = answers["gunicorn"]
            check(drf.status == wanted, f"Host {host}: DRF answered {drf}")
            if wanted == 403:
                check(drf.json() == {"detail": "CSRF Failed: Origin checking failed - "
                                               "http://api.example.test:8443 does not match any "
                                               "trusted origins."}, f"DRF's refusal: {drf}")
            for name in ("the module", "auth_request"):
                a = answers[name]
                check((a.status, a.body, a.header("Content-Type"))
                      == (drf.status, drf.body, drf.header("Content-Type")),
                      f"Host {host} through {name}: {a}, DRF: {drf}")
    finally:
        if auth is not None:
            auth.stop()
        stop(serve)
    print("  host: a session POST with Host API.EXAMPLE.TEST:8443 and a lowercase Origin is DRF's "
          "403 (Origin checking failed) through the module and through auth_request → drfgate "
          "serve, never reaching gunicorn; lowercase, all three let john in")


def test_install():
    """`make install-nginx`: with DESTDIR (as a package build runs it) the module and its
    load_module line land under it; into directories of our own, nginx -t loads the installed
    module through the generated conf, with the example site."""
    base = RUN / "install"
    shutil.rmtree(base, ignore_errors=True)
    destdir = base / "destdir"

    def install(*assignments):
        done = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "install-nginx",
                               "NGINX_PROFILE=debug", *assignments],
                              capture_output=True, text=True)
        check(done.returncode == 0, f"make install-nginx {' '.join(assignments)}:\n"
                                    f"{done.stdout[-2000:]}{done.stderr[-2000:]}")

    install(f"DESTDIR={destdir}")
    so = destdir / "usr/lib/nginx/modules/ngx_http_drfgate_module.so"
    load = destdir / "usr/share/nginx/modules-available/mod-http-drfgate.conf"
    check(so.is_file() and load.is_file(), f"make install-nginx DESTDIR: {sorted(destdir.rglob('*'))}")
    check(load.read_text() == "load_module /usr/lib/nginx/modules/ngx_http_drfgate_module.so;\n",
          f"the installed load conf: {load.read_text()!r}")
    sections = subprocess.run(["readelf", "-S", str(so)], capture_output=True, text=True).stdout
    check(".debug_info" not in sections, "the installed module keeps its debug sections")
    modules, available = base / "modules", base / "modules-available"
    install(f"NGINX_MODULES_DIR={modules}", f"NGINX_MODULES_CONF_DIR={available}")
    conf = base / "nginx.conf"
    text = nginx_conf("install", site_config(free_port(), free_port(), RUN / "drfgate.toml"))
    check(f"load_module {MODULE};" in text, "nginx_conf no longer loads the module")
    conf.write_text(text.replace(f"load_module {MODULE};",
                                 f"include {available / 'mod-http-drfgate.conf'};"))
    test = subprocess.run([NGINX, "-t", "-p", str(base), "-c", str(conf)],
                          capture_output=True, text=True)
    check(test.returncode == 0, f"nginx -t with the installed module: {test.stderr}")
    print("  install: make install-nginx puts the stripped module and its load_module conf under "
          "DESTDIR; installed, nginx -t loads it through that conf with the example site")


def test_logs(gunicorn_port):
    """libdrfgate's messages reach nginx's error log at their own level: a config warning at
    [warn] (from nginx -t, and in the error log at a reload), a database SQLite cannot read
    at [error] (from the worker that needed it)."""
    good = (RUN / "drfgate.toml").read_text()
    lines = [line for line in good.splitlines() if line.startswith("AUTHENTICATION_BACKENDS = ")]
    check(len(lines) == 1, "drfgate.toml: no AUTHENTICATION_BACKENDS line")
    warned = RUN / "warned.toml"
    warned.write_text(good.replace(lines[0], "AUTHENTICATION_BACKENDS = []", 1))
    warning = "drfgate: django.AUTHENTICATION_BACKENDS is empty"
    port = free_port()
    nginx = Nginx("logs", site_config(gunicorn_port, port, warned), log_level="info")
    try:
        test = subprocess.run([NGINX, "-t", "-p", str(nginx.prefix), "-c", str(nginx.conf)],
                              capture_output=True, text=True)
        told = [line for line in test.stderr.splitlines() if warning in line]
        check(test.returncode == 0 and len(told) == 1 and "[warn]" in told[0],
              f"nginx -t with a config warning: {test.stderr}")
        nginx.wait(port)
        before = set(nginx.workers())
        os.kill(nginx.process.pid, signal.SIGHUP)
        deadline = time.monotonic() + 60
        while not (set(nginx.workers()) and not set(nginx.workers()) & before):
            check(time.monotonic() < deadline, "logs: no new workers after the reload")
            time.sleep(0.05)
        told = [line for line in nginx.error_log().splitlines() if warning in line]
        check(len(told) == 1 and " [warn] " in told[0],
              f"the reload's config warning in the error log: {told}")
    finally:
        nginx.stop()
    # The SQLite file turned unreadable under running workers (one that is unreadable or
    # missing already stops nginx -t): the token lookup fails in the pool, the request gets a
    # 503, and libdrfgate's error is nginx's [error].
    lines = [line for line in good.splitlines() if line.startswith("DATABASE = ")]
    check(len(lines) == 1, "drfgate.toml: no DATABASE line")
    spoiled = RUN / "spoiled.sqlite3"
    shutil.copy(RUN / "db.sqlite3", spoiled)
    missing = RUN / "spoiled.toml"
    missing.write_text(good.replace(lines[0], f'DATABASE = "sqlite://{spoiled}"', 1))
    port = free_port()
    nginx = Nginx("logs-spoiled", site_config(gunicorn_port, port, missing), log_level="info")
    try:
        nginx.wait(port)
        with open(spoiled, "r+b") as f:
            f.write(b"not a database\n" * 512)
        a = request(port, "GET", "/api/whoami/", [("Authorization", JOHN)])
        check(a.status == 503, f"a token with the database missing: {a}")
    finally:
        nginx.stop()
    told = [line for line in nginx.error_log().splitlines()
            if "drfgate: database" in line and "failing" in line]
    check(len(told) == 1 and " [error] " in told[0],
          f"the database failure in the error log: {told}\n{nginx.error_log()[-2000:]}")
    print("  logs: a config warning is nginx's [warn] (nginx -t, and the error log at a reload); "
          "an unreadable SQLite file is [error] in the error log")


def rss_kib(pid, field="VmRSS"):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def test_reload(nginx, port, reloads):
    """SIGHUP (`nginx -s reload`) N times while clients keep asking: every request answered as
    expected; memory flat over the second half of the reloads (a gate, a config or a cache
    left behind per reload would grow it)."""
    stop_load = threading.Event()
    counts = {"ok": 0, "lost": []}
    lock = threading.Lock()
    expected = [("GET", "/api/whoami/", [("Authorization", JOHN)], 200),
                ("GET", "/api/whoami/", [("Authorization", b"Token nope")], 401)]

    def load():
        i = 0
        while not stop_load.is_set():
            method, path, headers, status = expected[i % len(expected)]
            i += 1
            try:
                a = request(port, method, path, headers, timeout=30)
                good = a.status == status
                problem = None if good else f"{a.status}"
            except OSError as error:
                good, problem = False, repr(error)
            with lock:
                if good:
                    counts["ok"] += 1
                else:
                    counts["lost"].append(problem)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    rss, master_rss = [], []
    try:
        for n in range(reloads):
            before = set(nginx.workers())
            os.kill(nginx.process.pid, signal.SIGHUP)
            # The reload is done when the master runs a new set of workers that answer.
            deadline = time.monotonic() + 60
            while True:
                workers = set(nginx.workers())
                if workers and not workers & before:
                    break
                check(time.monotonic() < deadline, f"reload {n + 1}: no new workers")
                time.sleep(0.05)
            for _ in range(4):
                request(port, "GET", "/api/whoami/", [("Authorization", JOHN)])
            rss.append(sum(rss_kib(pid, "RssAnon") for pid in workers))
            # Anonymous memory only: the module's code pages fault in as they are first run.
            master_rss.append(rss_kib(nginx.process.pid, "RssAnon"))
    finally:
        stop_load.set()
        for t in threads:
            t.join()
    check(not counts["lost"], f"{len(counts['lost'])} requests lost or wrong during reloads: "
                              f"{counts['lost'][:5]}")
    # The master reads the config (and loads a gate to check it) at every reload, and each
    # new worker starts as a copy of it: anything a reload leaks shows in the master. The
    # workers' own RSS moves with the requests each happened to serve (caches, malloc arenas
    # of the pool's threads), so their medians are compared, with slack.
    def median(values):
        return sorted(values)[len(values) // 2]

    # With glibc's tcache off (NO_TCACHE) the master's heap is flat from the first reload on
    # (±8 KiB when measured), so any growth is compared; a gate left behind per reload would be
    # ≥ 50 KiB each. The workers' anonymous memory settles over the first reloads (the
    # module's code pages fault in as they first run): their second half is compared.
    half = len(master_rss) // 2
    early, late = median(rss[half - 5:half + 1]), median(rss[-5:])
    check(master_rss[-1] <= master_rss[0] + 512,
          f"the master's RSS grew over {reloads} reloads: {master_rss} KiB")
    check(late <= early + 2048, f"worker RSS grew over {reloads} reloads: {rss} KiB")
    print(f"  reload: {reloads} reloads under load, {counts['ok']} requests all answered; "
          f"master's anonymous RSS {master_rss[0]} → {master_rss[half]} (reload {half + 1}) → "
          f"{master_rss[-1]} KiB; workers' (median of 5) "
          f"{early} → {late} KiB")


# [emerg] lines a test caused on purpose (a broken config reloaded), not failures.
EXPECTED_ERRORS = []


def test_throttle(gunicorn):
    """AnonRateThrottle at 3/min through the module, histories in Redis shared by nginx's two
    workers: the fourth request gets DRF's 429 and Retry-After from the gate."""
    config = RUN / "throttle.toml"
    config.write_text(throttle_e2e.config_text(RUN / "db.sqlite3"))
    port = free_port()
    nginx = Nginx("throttle", site_config(gunicorn.port, port, config))
    try:
        nginx.wait(port)
        throttle_e2e.check_throttled(request, port, check, "throttle")
    finally:
        nginx.stop()


def test_bad_reload(nginx, port):
    """SIGHUP with a drfgate config that does not load: nginx refuses the new configuration
    (the module loads the config at `drfgate_config`), says why in its error log, and its
    workers keep answering with the policy loaded before; once fixed, a reload takes."""
    config = RUN / "drfgate.toml"
    good = config.read_text()
    expected = [("GET", "/api/whoami/", [("Authorization", JOHN)], 200),
                ("GET", "/api/whoami/", [("Authorization", b"Token nope")], 401)]

    def answers_as_before(when):
        for method, path, headers, status in expected:
            a = request(port, method, path, headers)
            check(a.status == status, f"{when}: {method} {path} answered {a.status}, not {status}")

    broken = [("a syntax error", good + "\n[[routes]\n"),
              ("an unknown class", good + '\n[[routes]]\npath = "zz/"\n'
                                          'permission_classes = ["IsAdminUsr"]\n')]
    try:
        for what, text in broken:
            before = set(nginx.workers())
            seen = len(nginx.error_log())
            config.write_text(text)
            os.kill(nginx.process.pid, signal.SIGHUP)
            deadline = time.monotonic() + 30
            while "drfgate_config" not in nginx.error_log()[seen:]:
                check(time.monotonic() < deadline, f"{what}: the failed reload was not logged")
                time.sleep(0.05)
            told = [line for line in nginx.error_log()[seen:].splitlines()
                    if "drfgate_config" in line]
            check(len(told) == 1 and "drfgate.toml" in told[0],
                  f"{what}: expected one line naming the file: {told}")
            check(what != "an unknown class" or "IsAdminUsr" in told[0],
                  f"{what}: the line does not name the class: {told[0]}")
            EXPECTED_ERRORS.extend(told)
            check(set(nginx.workers()) == before, f"{what}: the workers were replaced")
            answers_as_before(f"after {what}")
    finally:
        config.write_text(good)
    before = set(nginx.workers())
    os.kill(nginx.process.pid, signal.SIGHUP)
    deadline = time.monotonic() + 60
    while not (set(nginx.workers()) and not set(nginx.workers()) & before):
        check(time.monotonic() < deadline, "the fixed config: no new workers")
        time.sleep(0.05)
    answers_as_before("after the fixed config")
    print("  badreload: a syntax error and an unknown class each refused at reload with one "
          "[emerg] line naming the file; the old workers kept answering; the fix reloaded")


def session_user(record):
    return record.get("x_drfgate_user")


def test_bodies(nginx, port, app_port, reached):
    checked, failures, statuses = module_bodies.run(
        port, reached, session_user, big_form_outcome=module_bodies.DEFERRED,
        oracle_port=app_port)
    crashes = [line for line in nginx.error_log().splitlines() if "exited on signal" in line]
    check(not crashes, "an nginx worker crashed:\n" + "\n".join(crashes))
    check(not failures, f"{len(failures)} of {checked} body cases wrong:\n" + "\n".join(failures))
    print(f"  bodies: {checked} session POST body cases as DRF answers them (a chunked body: "
          f"{statuses['chunked']} from gunicorn, no identity; a body cut short: "
          f"{statuses['cut short']}, not passed on)")


def jwt_site(config, port, app_port):
    """A bare site for one JWT config: everything gated, then proxied to gunicorn."""
    return f"""drfgate_config {config};
drfgate_thread_pool drfgate;
server {{
    listen 127.0.0.1:{port};
    drfgate on;
    location / {{
        proxy_set_header Host $http_host;
        proxy_pass http://127.0.0.1:{app_port};
    }}
}}"""


# DRF behind nginx without the module: the same proxying as the example's location, to the
# same upstream (the reference of test_around_auth).
REFERENCE_SERVER = """
server {{
    listen 127.0.0.1:{port};
    location / {{
        proxy_set_header Host $http_host;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass http://django_app;
    }}
}}
"""


class VariantServers:
    """For each variant of refproj (a settings module), nginx with the example's gated server
    (that variant's drfgate config) and a reference server without the module (REFERENCE_SERVER)
    in front of a gunicorn of the variant's; one nginx each, as drfgate_config is per http block.
    The variant "default" is the suite's own gunicorn and config. `ports[name]`: (gated,
    reference)."""

    def __init__(self, gunicorn, reached, names):
        self.gunicorn, self.reached, self.names = gunicorn, reached, names
        self.started, self.ports = [], {}

    def __enter__(self):
        default_text = (RUN / "drfgate.toml").read_text()
        try:
            for name in self.names:
                if name == around_auth_e2e.DEFAULT:
                    app, config = self.gunicorn, RUN / "drfgate.toml"
                else:
                    app = Gunicorn(self.reached.path, session_variants.settings_spec(name)["module"],
                                   f"gunicorn-{name}")
                    self.started.append(app)
                    config = RUN / f"variant-{name}.toml"
                    config.write_text(session_e2e.config_text(name, default_text, RUN))
                gated, reference = free_port(), free_port()
                site = site_config(app.port, gated, config) + REFERENCE_SERVER.format(port=reference)
                nginx = Nginx(f"variant-{name}", site)
                self.started.append(nginx)
                nginx.wait(gated)
                nginx.wait(reference)
                self.ports[name] = (gated, reference)
        except BaseException:
            self.__exit__()
            raise
        return self

    def crashes(self):
        return [line for server in self.started if isinstance(server, Nginx)
                for line in server.error_log().splitlines() if "exited on signal" in line]

    def __exit__(self, *exc):
        for server in reversed(self.started):
            server.stop() if isinstance(server, Nginx) else stop(server.process)


def tagged_records(reached, mark):
    """{case: [record, ...]} of the tagged requests that reached gunicorn since `mark`."""
    out = {}
    for record in reached.since(mark):
        if record.get("case"):
            out.setdefault(record["case"], []).append(record)
    return out


def test_around_auth(gunicorn, reached):
    """The differential's requests around authentication (hosts, Accept, ?format=, format
    suffixes, fragments, absolute-form targets; and X-Forwarded-Host/-Port under refproj's
    `forwarded_hosts` settings, on a gunicorn of its own): the module answers what DRF answers
    behind nginx without it, or passes on only what may pass (tests/conformance/
    around_auth_e2e.py)."""
    cases = json.loads(CASES.read_text())
    names = [around_auth_e2e.DEFAULT] + list(session_variants.HOST_SETTINGS_VARIANTS)
    with VariantServers(gunicorn, reached, names) as servers:
        mark = reached.mark()
        counts, failures = around_auth_e2e.run(
            around_auth_e2e.requests(cases, names[1:]), lambda name: servers.ports[name][0],
            lambda name: servers.ports[name][1],
            lambda: {case: [r.get("x_drfgate_user") for r in records]
                     for case, records in tagged_records(reached, mark).items()})
        crashes = servers.crashes()
    check(not crashes, "an nginx worker crashed:\n" + "\n".join(crashes))
    check(counts["requests"] >= 300 and counts["answered"] >= 100 and counts["allowed"] >= 30,
          f"too few requests: {dict(counts)}")
    check(not failures, f"{len(failures)} differences from DRF:\n" + "\n".join(failures[:60]))
    print(f"  around auth: {around_auth_e2e.summary(counts)}, through nginx")


def test_session_settings(gunicorn, reached):
    """The differential's settings variants with sessions (session_variants.SETTINGS_VARIANTS:
    csrf_sessions, csrf_domain: CSRF_USE_SESSIONS, other names, a fallback key,
    CSRF_COOKIE_DOMAIN with X-Forwarded-Port under USE_X_FORWARDED_PORT), sessions made by
    Django for each: the module answers what DRF answers behind nginx without it, and defers
    only what the Layer may defer (the port of a Referer without X-Forwarded-Port is the
    application server's, which nginx does not know) (tests/conformance/session_e2e.py)."""
    cases = json.loads(CASES.read_text())
    names = list(session_variants.SETTINGS_VARIANTS)
    python = EXPORT_PYTHON or VENV_BIN / "python"
    try:
        sessions = {name: session_e2e.make_sessions(name, python, ROOT / "tests" / "django",
                                                    RUN / "db.sqlite3") for name in names}
    except subprocess.CalledProcessError as error:
        raise Failure(f"making sessions failed:\n{error.stderr.decode(errors='replace')}")
    all_requests = session_e2e.requests(cases, sessions)
    with VariantServers(gunicorn, reached, names) as servers:
        mark = reached.mark()
        # session_e2e reads the identity as Apache's DRFGATE_USERNAME; nginx's is a header.
        counts, failures = session_e2e.run(
            all_requests, lambda name: servers.ports[name][0], lambda name: servers.ports[name][1],
            lambda: {case: [{"gate": {"DRFGATE_USERNAME": r.get("x_drfgate_user")}} for r in records]
                     for case, records in tagged_records(reached, mark).items()})
        crashes = servers.crashes()
    check(not crashes, "an nginx worker crashed:\n" + "\n".join(crashes))
    check(all(counts[name] >= 100 for name in names) and counts["allowed"] >= 50,
          f"too few requests: {dict(counts)}")
    check(not failures, f"{len(failures)} differences from DRF:\n" + "\n".join(failures[:60]))
    print(f"  session settings: {sum(counts[n] for n in names)} requests ("
          + ", ".join(f"{n} {counts[n]}" for n in names)
          + f"; {counts['allowed']} allowed by DRF, {counts['deferred']} deferred where the Layer may "
          "defer) give DRF's answers through nginx")


def test_jwt(app_port, reached):
    """One nginx (one worker) per drfgate config of the JWT and knox views, as drfgate_config is
    per http block and SIMPLE_JWT global in a config. One request at a time: the reference
    project swaps simplejwt's settings per request, which gunicorn's threads would race on."""
    cases = json.loads(CASES.read_text())
    instances, port_of_view = [], {}
    try:
        for number, (text, members) in enumerate(
                jwt_e2e.configs(cases, RUN / "db.sqlite3", EXPORT_PYTHON)):
            config = RUN / f"jwt-{number}.toml"
            config.write_text(text)
            port = free_port()
            instances.append((Nginx(f"jwt-{number}", jwt_site(config, port, app_port), workers=1), port))
            port_of_view.update(dict.fromkeys(members, port))
        for instance, port in instances:
            instance.wait(port)

        def reached_cases():
            return Counter(r.get("case") for r in reached.since(0) if r.get("case"))

        counts, failures = jwt_e2e.run(
            cases,
            lambda view, path, headers: request(port_of_view[view], "GET", path, headers),
            lambda path, headers: request(app_port, "GET", path, headers),
            reached_cases, workers=1)
        crashes = [line for instance, _ in instances for line in instance.error_log().splitlines()
                   if "exited on signal" in line or "[alert]" in line or "[emerg]" in line]
    finally:
        for instance, _ in instances:
            instance.stop()
    check(not crashes, "(jwt) nginx's error log:\n" + "\n".join(crashes[:10]))
    check(counts["simplejwt"] + counts["knox"] >= 500 and counts["allowed"] >= 50,
          f"(jwt) too few requests: {dict(counts)}")
    check(not failures, f"(jwt) {len(failures)} differences from DRF:\n" + "\n".join(failures[:40]))
    print(f"  jwt: {counts['simplejwt']} simplejwt and {counts['knox']} knox requests "
          f"({counts['allowed']} allowed) on "
          f"{len(port_of_view)} views ({len(instances)} configs) give DRF's answers through nginx")


def test_valgrind(app_port):
    """One nginx process (`master_process off`) under memcheck: allowed (cached and through
    the pool), refused and HEAD requests, then a graceful stop; no error."""
    if shutil.which("valgrind") is None:
        raise Failure("valgrind missing (apt-get install valgrind; DRFGATE_SKIP=valgrind skips)")
    port = free_port()
    site = site_config(app_port, port, RUN / "drfgate.toml")
    vlog = RUN / "valgrind" / "memcheck.log"
    (RUN / "valgrind").mkdir(parents=True, exist_ok=True)
    nginx = Nginx("valgrind", site, master_process=False,
                  wrapper=["valgrind", "--tool=memcheck", "--error-exitcode=99",
                           "--leak-check=no", "--trace-children=no", f"--log-file={vlog}"])
    try:
        nginx.wait(port, seconds=180)
        for auth, status in ((JOHN, 200), (JOHN, 200), (ADMIN, 200), (b"Token nope", 401),
                             (None, 403)):
            headers = [("Authorization", auth)] if auth else []
            a = request(port, "GET", "/api/whoami/", headers, timeout=120)
            check(a.status == status, f"under valgrind: {a}")
        request(port, "HEAD", "/api/whoami/", [("Authorization", b"Token nope")], timeout=120)
        # Bodies: read for the gate (resumed from the body callback), refused with the body
        # unread, over client_body_buffer_size, and a client gone mid-body.
        by_name = {case.name: case for case in module_bodies.cases(module_bodies.DEFERRED)}
        for name in ("slow_form", "form_token", "form_wrong_token", "text_plain", "big_form"):
            a = module_bodies.send(port, by_name[name], timeout=120)
            check(a.status == by_name[name].status, f"under valgrind, {name}: {a}")
        module_bodies.send_cut_short(port)
        a = module_bodies.send(port, by_name["form_token"], timeout=120)
        check(a.status == 200, f"under valgrind, after a client went away mid-body: {a}")
    finally:
        nginx.stop()
    summary = [line for line in vlog.read_text().splitlines() if "ERROR SUMMARY" in line]
    check(summary and " 0 errors" in summary[-1],
          f"valgrind: {summary[-1] if summary else 'no summary'} (see {vlog})")
    check(nginx.process.returncode == 0, f"nginx under valgrind exited {nginx.process.returncode}")
    print(f"  valgrind: {summary[-1].split('==')[-1].strip()}")


def prepare():
    if RUN.exists():
        shutil.rmtree(RUN)
    RUN.mkdir(parents=True)
    for path, what in ((MODULE, "make nginx-module"), (FIXTURE_DB, "make fixture-db"),
                       (ORACLE, "make oracle"), (VENV_BIN / "gunicorn", "make python-env")):
        check(path.exists(), f"missing {path}: {what}")
    shutil.copy(FIXTURE_DB, RUN / "db.sqlite3")
    cases = json.loads(CASES.read_text())
    if EXPORT_PYTHON is None:
        # By hand without --python: the table's hand-written config for its default-backend views.
        text = gate_configs.config_text(
            cases, RUN / "db.sqlite3", module_views(cases), backends=gate_configs.DEFAULT_BACKENDS,
            extra_routes=EXTRA_ROUTES)
    else:
        # The reference project's export (as every suite gets it), then the deployment's route.
        text = gate_configs.exported_config(CASES, RUN / "db.sqlite3", EXPORT_PYTHON,
                                            gate_configs.DEFAULT_BACKENDS)
        text += "\n".join(EXTRA_ROUTES) + "\n"
    # nginx_settings.py's ALLOWED_HOSTS: the reference project's and the identity test's host.
    hosts = gate_configs.toml_value(gate_configs.ALLOWED_HOSTS + ["api.example.test"], "hosts")
    allowed = f"ALLOWED_HOSTS = {gate_configs.toml_value(gate_configs.ALLOWED_HOSTS, 'hosts')}\n"
    check(allowed in text, f"the gate config has no line {allowed!r}")
    text = text.replace(allowed, f"ALLOWED_HOSTS = {hosts}\n", 1)
    (RUN / "handoff.key").write_bytes(HANDOFF_KEY + b"\n")
    text += f'[handoff]\nSECRET_FILE = "{RUN / "handoff.key"}"\n'
    (RUN / "drfgate.toml").write_text(text)
    reached = RUN / "reached.jsonl"
    reached.touch()
    return ReachedLog(reached)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only",
                        default="conformance,identity,host,prefix,off,threads,logs,install,"
                                "uwsgi,bodies,reload,badreload,throttle,jwt,aroundauth,sessions,valgrind")
    parser.add_argument("--reloads", type=int, default=50)
    parser.add_argument("--python", type=Path,
                        help="the venv's python: the gate configs are drfgate_export's (make passes it)")
    args = parser.parse_args()
    global EXPORT_PYTHON
    EXPORT_PYTHON = args.python.absolute() if args.python else None
    skip = os.environ.get("DRFGATE_SKIP", "").split(",")
    for name in ("nginx", "django"):
        if name in skip:
            print(f"tests/nginx: skipped (DRFGATE_SKIP={name})")
            return 0
    only = args.only.split(",")
    if "valgrind" in skip and "valgrind" in only:
        only.remove("valgrind")
        print("tests/nginx: valgrind part skipped (DRFGATE_SKIP=valgrind)")
    started = time.monotonic()
    gunicorn = nginx = None
    try:
        reached = prepare()
        if "jwt" in only:
            jwt_e2e.prefetch(RUN / "db.sqlite3", EXPORT_PYTHON)  # while the parts before run
        gunicorn = Gunicorn(reached.path)
        port = free_port()
        nginx = Nginx("main", site_config(gunicorn.port, port, RUN / "drfgate.toml", mounts=True))
        nginx.wait(port)
        for name in only:
            if name == "conformance":
                test_conformance(port, reached)
            elif name == "identity":
                test_identity(port, gunicorn.port, reached)
            elif name == "host":
                test_host(port, gunicorn.port, reached)
            elif name == "prefix":
                test_prefix(port, reached)
            elif name == "off":
                test_off(port, reached)
            elif name == "logs":
                test_logs(gunicorn.port)
            elif name == "install":
                test_install()
            elif name == "uwsgi":
                test_uwsgi(reached)
            elif name == "threads":
                test_threads(nginx, port, gunicorn.port)
            elif name == "bodies":
                test_bodies(nginx, port, gunicorn.port, reached)
            elif name == "reload":
                test_reload(nginx, port, args.reloads)
            elif name == "badreload":
                test_bad_reload(nginx, port)
            elif name == "valgrind":
                test_valgrind(gunicorn.port)
            elif name == "throttle":
                test_throttle(gunicorn)
            elif name == "jwt":
                test_jwt(gunicorn.port, reached)
            elif name == "aroundauth":
                test_around_auth(gunicorn, reached)
            elif name == "sessions":
                test_session_settings(gunicorn, reached)
            else:
                raise Failure(f"no part {name!r}")
        errors = [line for line in nginx.error_log().splitlines()
                  if ("[alert]" in line or "[emerg]" in line or "[crit]" in line)
                  and line not in EXPECTED_ERRORS]
        check(not errors, "nginx's error log:\n" + "\n".join(errors[:10]))
    except Failure as failure:
        print(f"tests/nginx: FAILED: {failure}")
        print(f"  logs in {RUN}")
        return 1
    finally:
        if nginx is not None:
            nginx.stop()
        if gunicorn is not None:
            stop(gunicorn.process)
    print(f"tests/nginx: passed in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Differential conformance: real DRF served by gunicorn and `drfgate serve`, over the same
Django database, answer the same raw requests; every answer is compared.

Usage: differential.py --drfgate BIN [--cases PATH] [--db PATH|URL] [--hand-written] [--table-only]
                       [--with-jwt] [--only-variants NAME,...] [--layer-proxy BIN] [--verbose]

--db URL (postgres://… or mysql://…, tests/django/server_db.py): Django and drfgate both read a
copy of that server database (<name>_differential); the export writes the project's DATABASES
into the configs as [django.DATABASES.default] (with --hand-written, DATABASE = URL).
`make differential-engines` sends every request but the Layer's this way on each server.
DRFGATE_JWT_DIR names the fixture's keys and tokens.json (the server fixture's own,
build/engines/<engine>/jwt: its knox digests and blacklisted jtis are in that database).
--table-only: the conformance table's requests alone, without the generated variants and the
other session engines (a quick run).
--with-jwt: with --table-only, the requests to JWT and knox views too (every minted token of
variants.jwt_requests on each): on a server, the JWT blacklist, knox token and user-by-id
lookups of its store.
--only-variants NAME,...: only the requests of these other session engines (signed_cookies,
cached_db, cache) and settings variants (session_variants.SETTINGS_VARIANTS: csrf_sessions,
csrf_domain), each served by its own gunicorn, serve and (with --layer-proxy) Layer.
--layer-proxy BIN (crates/drfgate-tower/examples/path_proxy): the session body requests
(session_variants.py) also go through the tower Layer, which reads bodies, as a reverse proxy
in front of the same gunicorn, and so do all requests of the other engines and settings variants
(a Layer in front of each one's gunicorn). It must answer what DRF answers, defer only what
"layer_may_defer" allows (whose answer then comes from DRF behind it), and hand DRF the body
intact (an allowed form POST is checked again by DRF behind it, from the replayed body). The
requests to JWT and knox views (the minted tokens of variants.jwt_requests, the methods) go
through the Layer as well, where it must decide every one itself.

Configs: what `manage.py drfgate_export` (python/drfgate-django) writes for the reference project,
one per AUTHENTICATION_BACKENDS; with --hand-written, the table's own (gate_configs.config_text),
which the Rust and C conformance tests use.

Requests: the conformance table's cases, plus generated variants of the spec §11 rows
(variants.py): every method × credential state on every view, every Token, Bearer and Basic
header variant, header-name spellings, repeated headers, path encodings and unmatched paths.
They go over real sockets as raw bytes, one connection each, to drfgate first and then to DRF:
DRF may write what both read (knox deletes the expired tokens of the user it authenticates, a
login with an old hasher rewrites the hash), and drfgate, which never writes, must judge the
database DRF judged.

Compared: for a refusal, status, body, WWW-Authenticate and Allow; for a request DRF lets
through (2xx), drfgate must answer 200 with X-Drfgate-User naming the same user (or
X-Drfgate-Auth: anonymous). Unmatched paths: status only (Django's 404 is its HTML page); so is
a 500 from DRF on a request marked "may_raise" (a value some database refuses, such as a NUL on
PostgreSQL: Django's HTML 500 page against drfgate's JSON one, docs/differences.md).

Not drivable over HTTP, and left out (listed at the end): views using REMOTE_USER (a server
variable, not a header), views with a custom Python authenticate() (AlwaysFails), and table
cases that set REMOTE_USER. A request gunicorn's own HTTP parser refuses before Django sees it
is compared with drfgate only if hyper refuses it too (both 400); otherwise it is reported as
not comparable (lower-case methods: gunicorn ≥ 22 refuses them, Django would upper-case them;
the in-process oracle covers those cases).

Exit status: 0 when every compared request agrees, 1 on any difference, 2 on a setup failure.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import OrderedDict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import around_auth_variants  # noqa: E402
import gate_configs  # noqa: E402
import rawhttp  # noqa: E402
import session_variants  # noqa: E402
from variants import Generator, jwt_feature  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DJANGO_DIR = REPO_ROOT / "tests" / "django"
VENV_BIN = REPO_ROOT / ".venv" / "bin"
HOST = b"127.0.0.1"
DEFAULT_BACKENDS = gate_configs.DEFAULT_BACKENDS
# Session engines besides the default db, each with its own gunicorn and drfgate serve.
OTHER_ENGINES = ("django.contrib.sessions.backends.signed_cookies", "django.contrib.sessions.backends.cached_db",
                 "django.contrib.sessions.backends.cache")


# The features of around_auth_variants.add_around_auth_requests' requests.
AROUND_AUTH_FEATURES = ("hosts", "negotiation", "request targets")


class SetupError(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------------
# Which views the suite can drive, and their features


def auth_base(document, name):
    spec = document["classes"]["authentication"].get(name)
    return (spec or {}).get("base", name), spec or {}


def why_view_not_drivable(document, view):
    for name in document["views"][view]["authentication_classes"]:
        base, spec = auth_base(document, name)
        if base == "BaseAuthentication":
            return f"{name} has a custom Python authenticate(), which drfgate cannot express"
        if base == "RemoteUserAuthentication" and spec.get("header", "REMOTE_USER") == "REMOTE_USER":
            return "REMOTE_USER is a server variable, which no HTTP request can set"
    return None


def feature_of(document, view):
    spec = document["views"][view]
    classes = [auth_base(document, n)[0] for n in spec["authentication_classes"]]
    permissions = " ".join(spec["permission_classes"])
    if view.startswith("x_remote"):
        return "RemoteUser via a header"
    if any(c.startswith("rest_framework_simplejwt.") for c in classes):
        return "simplejwt"
    if "knox.auth.TokenAuthentication" in classes:
        return "knox"
    if spec.get("model"):
        return "DjangoModelPermissions"
    if any(op in permissions for op in "~&|") or len(spec["permission_classes"]) > 1:
        return "permission expressions"
    if any(n in document["classes"]["permission"] for n in spec["permission_classes"]):
        return "permission messages"
    if len(classes) > 1 or "SessionAuthentication" in classes or not classes:
        return "authenticator order, none, Session"
    if spec["permission_classes"] != ["IsAuthenticated"] or spec.get("methods") != ["GET", "POST", "PUT", "DELETE"]:
        return "permission classes, methods"
    names = spec["authentication_classes"]
    if classes == ["TokenAuthentication"]:
        return "Token" if names == ["TokenAuthentication"] else "custom keyword (Bearer)"
    return "Basic"


# ---------------------------------------------------------------------------------------------
# Servers


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(port, process, name, log):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SetupError(f"{name} exited with {process.returncode}:\n{Path(log).read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SetupError(f"{name} did not start listening on {port} within 60 s")


class Servers:
    def __init__(self, scratch, drfgate, cases_path, db, configs, engines=(), layer_proxy=None,
                 settings_variants=()):
        self.engines = engines
        self.settings_variants = settings_variants
        # engine or settings variant -> (gunicorn port, serve port, Layer port or None)
        self.variant_ports = {}
        self.processes = []
        self.scratch = scratch
        self.drfgate = drfgate
        self.cases_path = cases_path
        self.db = db
        self.configs = configs
        self.gunicorn_port = None
        self.serve_ports = {}  # backends -> port
        self.layer_proxy = layer_proxy
        self.layer_ports = {}  # backends -> port of path_proxy (the Layer) before gunicorn

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def spawn(self, name, argv, env=None, cwd=None):
        log = self.scratch / f"{name}.log"
        process = subprocess.Popen(
            argv, stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env, cwd=cwd, stdin=subprocess.DEVNULL
        )
        self.processes.append(process)
        return process, log

    def start_gunicorn(self, name, engine=None, settings_variant=None):
        port = free_port()
        env = dict(os.environ, DRFGATE_DJANGO_DB=str(self.db), DRFGATE_CASES=str(self.cases_path))
        if engine:
            env.update(session_variants.engine_env(engine))
        if settings_variant:
            env.update(session_variants.settings_env(settings_variant))
        # Sync workers run one request at a time, as the views' per-request settings override needs.
        gunicorn, log = self.spawn(
            name,
            [str(VENV_BIN / "gunicorn"), "refproj.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--worker-class", "sync", "--timeout", "120", "--log-level", "warning"],
            env=env,
            cwd=str(DJANGO_DIR),
        )
        return port, gunicorn, log

    def start_serve(self, name, text):
        port = free_port()
        config = self.scratch / f"{name}.toml"
        config.write_text(text, "utf-8")
        serve, serve_log = self.spawn(
            name,
            [self.drfgate, "serve", "--config", str(config), "--listen", f"127.0.0.1:{port}"],
            env=dict(os.environ, DRFGATE_LOG="error"),
        )
        wait_until_serving(port, serve, "drfgate serve", serve_log)
        return port

    def start(self):
        self.gunicorn_port, gunicorn, log = self.start_gunicorn("gunicorn")
        waiting = [(self.gunicorn_port, gunicorn, log)]
        for backends, (text, _) in self.configs.items():
            self.serve_ports[backends] = self.start_serve(f"drfgate-serve-{len(self.serve_ports)}", text)
        # Each other engine and settings variant: its own gunicorn, serve and (with
        # --layer-proxy) Layer, over the default backends' config.
        default_text = self.configs[DEFAULT_BACKENDS][0]
        variants = [(f"engine-{number}", engine, None,
                     session_variants.engine_config(default_text, engine, gate_configs.toml_string))
                    for number, engine in enumerate(self.engines)]
        variants += [(f"settings-{variant}", None, variant,
                      session_variants.settings_config(default_text, variant, self.scratch,
                                                       gate_configs.SECRET_KEY,
                                                       gate_configs.ALLOWED_HOSTS, gate_configs.toml_string))
                     for variant in self.settings_variants]
        variant_texts = {}
        for name, engine, settings_variant, text in variants:
            port, process, variant_log = self.start_gunicorn(f"gunicorn-{name}", engine, settings_variant)
            waiting.append((port, process, variant_log))
            variant_texts[engine or settings_variant] = (name, port, text)
            self.variant_ports[engine or settings_variant] = (
                port, self.start_serve(f"drfgate-serve-{name}", text), None)
        for port, process, process_log in waiting:
            wait_until_serving(port, process, "gunicorn", process_log)
        if self.layer_proxy:
            for backends, (text, _) in self.configs.items():
                self.layer_ports[backends] = self.start_layer(f"layer-{len(self.layer_ports)}", text,
                                                              self.gunicorn_port)
            for key, (name, port, text) in variant_texts.items():
                serve_port = self.variant_ports[key][1]
                self.variant_ports[key] = (port, serve_port, self.start_layer(f"layer-{name}", text, port))

    def start_layer(self, name, text, upstream_port):
        """path_proxy (the Layer, reading bodies) with config `text`, in front of `upstream_port`."""
        port = free_port()
        config = self.scratch / f"{name}.toml"
        config.write_text(text, "utf-8")
        proxy, proxy_log = self.spawn(
            name,
            [self.layer_proxy, f"127.0.0.1:{port}", f"127.0.0.1:{upstream_port}", str(config)],
            env=dict(os.environ, DRFGATE_LOG="error"),
        )
        wait_until_serving(port, proxy, "path_proxy (the Layer)", proxy_log)
        return port

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# ---------------------------------------------------------------------------------------------
# Comparison


def is_gunicorn_parser_refusal(response):
    # Django's answers carry its security headers; gunicorn's own 400 page has none.
    return response.status == 400 and response.header("x-content-type-options") is None


def drf_user(response):
    try:
        return json.loads(response.body.decode("utf-8")).get("user")
    except (ValueError, AttributeError):
        return None


def page_text(response):
    """The body, with the CSRF tokens of a browsable API page (masked anew for every answer)
    blanked out."""
    if (response.header("content-type") or "").startswith("text/html"):
        return re.sub(rb"\b[A-Za-z0-9]{64}\b", b"<csrf token>", response.body)
    return response.body


def compare(request, drf, gate):
    """("agree" | "parsers agree" | "deferred" | "not comparable" | "differ", details)."""
    via_proxy = request.get("via_proxy")
    if gate.header("x-drfgate-decision") == "pass" and (via_proxy or gate.status == 200):
        # Passed on without an identity: the application's DRF answers, which is `drf` itself
        # (through the Layer, the answer of DRF behind it, which must be the same).
        if not (request.get("may_defer") or request.get("may_pass")):
            return "differ", f"drfgate deferred, DRF answered {drf.status} {drf.body!r}"
        if gate.header("x-drfgate-user") is not None:
            return "differ", "drfgate deferred but handed on a user"
        same = (gate.status == drf.status if request["compare"] == "status"
                else (gate.status, page_text(gate)) == (drf.status, page_text(drf)))
        if via_proxy and not same:
            return "differ", (f"deferred, but DRF behind the Layer answered {gate.status} {gate.body!r} "
                              f"where DRF answers {drf.status} {drf.body!r}")
        return "deferred", f"the application's DRF answered {drf.status}"
    if request.get("may_defer"):
        return "differ", f"expected a deferral, drfgate answered {gate.status} {gate.body!r}"
    if is_gunicorn_parser_refusal(drf):
        if gate.status == 400 and not gate.body:
            return "parsers agree", ""
        return "not comparable", f"gunicorn's parser refused it; drfgate answered {gate.status}"
    is_head = request["method"].upper() == b"HEAD"
    problems = []
    # Where Django raised on a value some database refuses ("may_raise"), its HTML 500 page
    # against the gate's JSON 500 (docs/differences.md): the status must agree.
    if request["compare"] == "status" or (request.get("may_raise") and drf.status == 500):
        if drf.status != gate.status:
            problems.append(f"status DRF {drf.status} drfgate {gate.status}")
    elif 200 <= drf.status < 300:
        if gate.status != 200:
            problems.append(f"DRF allowed ({drf.status}), drfgate answered {gate.status} {gate.body!r}")
        elif (drf.header("content-type") or "").startswith("text/html"):
            pass  # the browsable API's page: no JSON user to compare; allowed is what matters
        elif not is_head:
            user = drf_user(drf)
            expected = urllib.parse.quote(user, safe="@+") if user is not None else None
            if gate.header("x-drfgate-user") != expected:
                problems.append(f"user DRF {user!r} drfgate {gate.header('x-drfgate-user')!r}")
            if user is None and gate.header("x-drfgate-auth") != "anonymous":
                problems.append(f"DRF anonymous, drfgate X-Drfgate-Auth {gate.header('x-drfgate-auth')!r}")
    else:
        for what, ours, theirs in (
            ("status", gate.status, drf.status),
            ("body", gate.body, drf.body),
            ("WWW-Authenticate", gate.header("www-authenticate"), drf.header("www-authenticate")),
            ("Allow", gate.header("allow"), drf.header("allow")),
            ("Content-Type", gate.header("content-type"), drf.header("content-type")),
        ):
            if ours != theirs:
                problems.append(f"{what}: DRF {theirs!r} drfgate {ours!r}")
    return ("differ", "; ".join(problems)) if problems else ("agree", "")


def run_one(request, servers, backends_of_view, drf_answers):
    """Sends `request` to DRF and to the front end it names, and compares. A request with
    "drf_of" reuses DRF's answer to that earlier request (the same bytes) instead of asking
    again; one with "keep_drf" leaves its DRF answer in `drf_answers` for them."""
    # A table case's own Host replaces the suite's (two Host headers are gunicorn's 400).
    own_host = [value for name, value in request["headers"] if name.lower() == b"host"]
    headers = [(name, value) for name, value in request["headers"] if name.lower() != b"host"]
    host = request.get("host", own_host[-1] if own_host else HOST)
    raw = rawhttp.request_bytes(request["method"], request["target"], headers, host)
    raw += request.get("body", b"")
    is_head = request["method"].upper() == b"HEAD"
    variant = request.get("engine") or request.get("settings_variant")
    if variant:
        drf_port, serve_port, layer_port = servers.variant_ports[variant]
        port = layer_port if request.get("via_proxy") else serve_port
    elif request.get("via_proxy"):
        drf_port = servers.gunicorn_port
        port = servers.layer_ports[backends_of_view.get(request["view"], DEFAULT_BACKENDS)]
    else:
        drf_port = servers.gunicorn_port
        port = servers.serve_ports[backends_of_view.get(request["view"], DEFAULT_BACKENDS)]
    # drfgate first, so that it judges the database DRF judges, not what DRF wrote (docstring).
    gate = rawhttp.send(port, raw, is_head)
    if "drf_of" in request:
        drf = drf_answers[request["drf_of"]]
    else:
        drf = rawhttp.send(drf_port, raw, is_head)
        if request.get("keep_drf"):
            drf_answers[request["id"]] = drf
    outcome, detail = compare(request, drf, gate)
    return outcome, detail or f"DRF {drf.status}, drfgate {gate.status}"


def report(results, excluded, elapsed, verbose):
    outcomes = ("agree", "parsers agree", "deferred", "not comparable", "differ")
    table = OrderedDict()
    for request, (outcome, _) in results:
        row = table.setdefault(request["feature"], dict.fromkeys(outcomes, 0))
        row[outcome] += 1
    width = max(len(f) for f in table) + 2
    print(f"{'feature':<{width}}{'requests':>9}{'agree':>8}{'both 400':>10}{'deferred':>10}{'n/c':>6}{'differ':>8}")
    totals = dict.fromkeys(outcomes, 0)
    for feature, row in table.items():
        for k in outcomes:
            totals[k] += row[k]
        print(f"{feature:<{width}}{sum(row.values()):>9}{row['agree']:>8}{row['parsers agree']:>10}"
              f"{row['deferred']:>10}{row['not comparable']:>6}{row['differ']:>8}")
    print(f"{'total':<{width}}{sum(totals.values()):>9}{totals['agree']:>8}{totals['parsers agree']:>10}"
          f"{totals['deferred']:>10}{totals['not comparable']:>6}{totals['differ']:>8}")
    print("both 400: refused by gunicorn's and hyper's HTTP parsers alike; n/c: refused by gunicorn's "
          "parser only, before Django (not comparable); deferred: drfgate passed the request on without "
          "an identity (X-Drfgate-Decision: pass) because DRF's answer depends on the body, so the "
          "application's DRF answered")
    for request, (outcome, detail) in results:
        if outcome == "differ" or (outcome == "not comparable") or verbose:
            print(f"  {outcome.upper()}: {request['id']}: {request['method'].decode('latin-1')} "
                  f"{request['target'].decode('latin-1')} {request['headers']!r}: {detail}")
    reasons = OrderedDict()
    for case_id, reason in excluded:
        reasons.setdefault(reason, []).append(case_id)
    for reason, ids in reasons.items():
        print(f"left out ({len(ids)}): {reason}: {', '.join(ids)}")
    print(f"differential: {len(results)} requests to DRF (gunicorn) and drfgate serve in {elapsed:.1f} s")
    print(f"{totals['agree'] + totals['parsers agree'] + totals['deferred']} passed, {totals['differ']} failed, "
          f"{totals['not comparable']} skipped")
    return totals["differ"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drfgate", required=True, help="the drfgate binary")
    parser.add_argument("--cases", default=str(REPO_ROOT / "tests" / "conformance" / "cases.json"))
    parser.add_argument("--db", default=str(REPO_ROOT / "build" / "django" / "db.sqlite3"))
    parser.add_argument("--verbose", action="store_true", help="print every request's outcome")
    parser.add_argument("--layer-proxy", help="path_proxy: the body requests through the Layer too")
    parser.add_argument("--hand-written", action="store_true",
                        help="the table's configs (gate_configs.config_text) instead of drfgate_export's")
    parser.add_argument("--table-only", action="store_true",
                        help="the table's requests only, no generated variants")
    parser.add_argument("--with-jwt", action="store_true",
                        help="with --table-only, the JWT and knox requests (variants.jwt_requests) too")
    parser.add_argument("--only-variants", metavar="NAME,...",
                        help="only the requests of these session engines and settings variants ("
                             + ", ".join([e.rsplit(".", 1)[-1] for e in OTHER_ENGINES]
                                         + list(session_variants.SETTINGS_VARIANTS)
                                         + list(session_variants.HOST_SETTINGS_VARIANTS)) + ")")
    parser.add_argument("--only-features", metavar="PREFIX,...",
                        help="only the requests whose feature starts with one of these (e.g. "
                             "hosts,negotiation,request targets), besides --only-variants' ones")
    arguments = parser.parse_args()
    only = set(arguments.only_variants.split(",")) if arguments.only_variants else set()
    known = ({e.rsplit(".", 1)[-1] for e in OTHER_ENGINES} | set(session_variants.SETTINGS_VARIANTS)
             | set(session_variants.HOST_SETTINGS_VARIANTS))
    features = tuple(arguments.only_features.split(",")) if arguments.only_features else ()
    if only - known:
        parser.error(f"--only-variants: unknown {', '.join(sorted(only - known))}")
    sys.path.insert(0, str(DJANGO_DIR))
    import server_db

    on_server = server_db.is_server(arguments.db)

    # A missing fixture or venv fails the run, unless DRFGATE_SKIP names them (README, "How it
    # is tested").
    if "django" in os.environ.get("DRFGATE_SKIP", "").split(","):
        print("differential: skipped (DRFGATE_SKIP=django)")
        return 0
    document = json.loads(Path(arguments.cases).read_text("utf-8"))
    if not on_server and not Path(arguments.db).is_file():
        print(f"differential: no fixture database at {arguments.db} (make fixture-db)", file=sys.stderr)
        return 2
    if not (VENV_BIN / "gunicorn").exists():
        print(f"differential: no gunicorn in {VENV_BIN} (make python-env)", file=sys.stderr)
        return 2

    drivable, excluded = [], []
    for view in document["views"]:
        reason = why_view_not_drivable(document, view)
        if reason:
            excluded += [(c["id"], reason) for c in document["cases"] if c["view"] == view]
        else:
            drivable.append(view)

    def why_case_not_drivable(case):
        if case["view"] not in drivable:
            return "view not drivable"  # already listed with its reason
        if case["remote_user"] is not None:
            return "sets REMOTE_USER, a server variable that no HTTP request can set"
        return None

    generator = Generator(document, drivable, lambda view: feature_of(document, view))
    generator.table_cases(why_case_not_drivable)
    excluded += [(i, r) for i, r in generator.excluded if r != "view not drivable"]
    if not arguments.table_only:
        generator.method_matrix()
        generator.token_headers()
        generator.jwt_headers()
        generator.header_spellings()
        generator.basic_headers()
        generator.remote_user_headers()
        generator.routing()
        session_variants.add_session_requests(generator)
        around_auth_variants.add_around_auth_requests(generator)
    elif arguments.with_jwt:
        generator.jwt_headers()
    for request in generator.requests:
        if request["id"].startswith("table:"):
            request["feature"] = "table: " + request["feature"]

    with tempfile.TemporaryDirectory(prefix="drfgate-differential-") as scratch:
        scratch = Path(scratch)
        # One copy for both servers: a Basic login with an old hasher makes Django rewrite the
        # hash, and drfgate must then read the same new one.
        if on_server:
            db = server_db.copy(arguments.db, server_db.parts(arguments.db)["name"] + "_differential")
        else:
            db = scratch / "db.sqlite3"
            shutil.copyfile(arguments.db, db)
        # The same configs as every other suite's (tests/conformance/gate_configs.py), over this copy.
        try:
            if arguments.hand_written:
                configs = gate_configs.configs(document, db, drivable)
            else:
                # On a server, the export writes the project's DATABASES ([django.DATABASES.default]).
                configs = gate_configs.exported_configs(
                    document, Path(arguments.cases).resolve(), db, VENV_BIN / "python", drivable, scratch)
        except gate_configs.ConfigError as error:
            print(f"differential: {error}", file=sys.stderr)
            return 2
        backends_of_view = {v: b for b, (_, members) in configs.items() for v in members}
        # Sessions made by Django itself for the other engines and settings variants, over this copy.
        with_variants = "session_ia" in drivable and not arguments.table_only
        engines = [e for e in OTHER_ENGINES if with_variants]
        settings_variants = [v for v in session_variants.SETTINGS_VARIANTS if with_variants]
        # Settings variants without sessions: refproj under other host settings.
        host_variants = [v for v in session_variants.HOST_SETTINGS_VARIANTS
                         if "token_ia" in drivable and not arguments.table_only]
        if only or features:
            engines = [e for e in engines if e.rsplit(".", 1)[-1] in only]
            settings_variants = [v for v in settings_variants if v in only]
            host_variants = [v for v in host_variants if v in only]
        for variant in host_variants:
            around_auth_variants.add_host_variant_requests(generator, variant)
        try:
            for engine in engines:
                made = engine
                cookies = session_variants.engine_cookies(VENV_BIN / "python", DJANGO_DIR, db, engine)
                session_variants.add_engine_requests(generator, engine, cookies)
            for variant in settings_variants:
                made = variant
                cookies = session_variants.settings_cookies(VENV_BIN / "python", DJANGO_DIR, db, variant)
                session_variants.add_settings_requests(generator, variant, cookies)
        except subprocess.CalledProcessError as error:
            print(f"differential: making {made} sessions failed:\n{error.stderr.decode(errors='replace')}",
                  file=sys.stderr)
            return 2
        settings_variants += host_variants
        if only or features:
            generator.requests = [r for r in generator.requests
                                  if r.get("engine") or r.get("settings_variant")
                                  or (features and r["feature"].startswith(features))]
        if arguments.layer_proxy:
            # The body requests, and every request of another engine or settings variant, through
            # the Layer in front of the same gunicorn.
            generator.requests += [
                dict(r, feature=r["feature"] + " (Layer)", id=r["id"] + " (Layer)",
                     may_defer=r.get("layer_may_defer", False), via_proxy=True)
                for r in generator.requests
                if "layer_may_defer" in r or r.get("engine") or r.get("settings_variant")
            ]
            # Every request to a JWT or knox view too (the minted tokens, and the methods): no
            # body involved, so the Layer decides them all itself (never defers), as `drfgate
            # serve` does. DRF's answer does not change when asked again (nothing in these
            # requests writes what a later one reads: knox's deleting an expired token leaves
            # the same "Invalid token."), so each reuses the one DRF gave for `serve`.
            originals = [r for r in generator.requests
                         if r["view"] and jwt_feature(document, r["view"])
                         and not (r.get("via_proxy") or r.get("engine") or "layer_may_defer" in r)]
            generator.requests += [
                dict(r, feature=r["feature"] + " (Layer)", id=r["id"] + " (Layer)",
                     may_defer=False, via_proxy=True, drf_of=r["id"])
                for r in originals
            ]
            # The requests around authentication (around_auth_variants: hosts, negotiation,
            # request targets) too, under the same `may_pass` rule: passed on, DRF behind the
            # Layer must answer what DRF answers. Each reuses DRF's answer to the same request.
            around = [r for r in generator.requests
                      if r["feature"].startswith(AROUND_AUTH_FEATURES) and not r.get("via_proxy")
                      and not r.get("settings_variant")]
            generator.requests += [
                dict(r, feature=r["feature"] + " (Layer)", id=r["id"] + " (Layer)",
                     may_defer=False, via_proxy=True, drf_of=r["id"])
                for r in around
            ]
            originals += around
            kept = [r["id"] for r in originals]
            if len(set(kept)) != len(kept):
                print("differential: two requests share an id, so a Layer copy would take another's "
                      "DRF answer", file=sys.stderr)
                return 2
            for request in originals:
                request["keep_drf"] = True
        started = time.monotonic()
        try:
            with Servers(scratch, arguments.drfgate, Path(arguments.cases).resolve(), db, configs,
                         engines, arguments.layer_proxy, settings_variants) as servers:
                # Requests that reuse another's DRF answer go second, once every answer is in.
                drf_answers = {}
                first = [r for r in generator.requests if "drf_of" not in r]
                second = [r for r in generator.requests if "drf_of" in r]
                generator.requests = first + second
                outcomes = []
                for batch in (first, second):
                    batch_started = time.monotonic()
                    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
                        outcomes += pool.map(lambda r: run_one(r, servers, backends_of_view, drf_answers),
                                             batch)
                second_seconds = time.monotonic() - batch_started
        except SetupError as error:
            print(f"differential: {error}", file=sys.stderr)
            return 2
        finally:
            if engines:
                session_variants.forget_cached_sessions(VENV_BIN / "python")
        results = list(zip(generator.requests, outcomes))
        differences = report(results, excluded, time.monotonic() - started, arguments.verbose)
        if second:
            print(f"of which {len(second)} requests through the Layer (to JWT and knox views, and around "
                  f"authentication), compared with DRF's answer to the same request for serve, in "
                  f"{second_seconds:.1f} s")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())

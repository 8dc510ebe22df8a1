#!/usr/bin/env python3
"""Differential on the drfgate-django package's sample project: its own `manage.py drfgate_export`
drives `drfgate serve`, and every exported route is asked of it and of the same project under real
DRF (gunicorn), over one database.

Usage: sampleproj_differential.py --drfgate BIN [--scratch DIR] [--verbose]

The sample project (python/drfgate-django/tests/sampleproj and sampleapp) has every URLconf shape
the export walks: include() prefixes and namespaces, path() and re_path(), a DefaultRouter with
viewsets and extra actions, format suffixes, keyword/realm/header subclasses, operator
permissions, DjangoModelPermissions, a Python authenticator and a plain Django view.

Setup, in --scratch (default build/sampleproj-differential, made again each run): Django's own
`migrate` on a SQLite file, users, a group, permissions, tokens and a Book made by Django
(sampleproj_fixture.py), the project's SECRET_KEY in a file, then `manage.py drfgate_export
--secret-key-file …` as a deployment would run it. The project runs under gunicorn through
sampleproj_wsgi.py, which only adds who DRF authenticated as a response header.

Requests: every exported route, at a concrete path made from its pattern (path() converters and
re_path() groups filled with a sample each matches: pk 1, year 2024, format json, …) × GET, HEAD,
OPTIONS, POST, PUT, PATCH, DELETE × no credentials, each user's token (with the keyword of the
route's token class: Bearer on the books), an unknown token, Basic for one user (GET and POST
only: BASIC_METHODS), and on routes with a RemoteUserAuthentication subclass reading a header,
that header naming a user. Raw bytes over real sockets, one connection each, Host: testserver
(the project's ALLOWED_HOSTS).
Then near misses of each sample path (the trailing slash dropped or added, a segment more), a GET
without credentials and with a token each: judged by the first exported pattern that matches
them, as Django's resolver would, or passed on unmatched (`[gate] unmatched = "pass"`).

Compared:
- a route exported `pass = true`: drfgate passes it on (200, X-Drfgate-Decision: pass) without an
  identity (no X-Drfgate-User); DRF's answer is then the application's, whatever it is;
- a refusal by drfgate: DRF's status, body, WWW-Authenticate, Allow and Content-Type, exactly;
- an allow by drfgate: DRF did not refuse it with 401, 403 or 405, drfgate names the user DRF
  authenticated (or says anonymous where DRF's user was AnonymousUser), and X-Drfgate-Route is the
  route asked (its name, or its pattern when it has none).
A request drfgate passes on from a route it judges is a difference, and so is an unmatched near
miss that reached a DRF view (DRF authenticated it): a path the gate lets through unjudged.

Exit status: 0 when every request agrees, 1 on any difference, 2 on a setup failure.
"""
import argparse
import base64
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections import OrderedDict
from pathlib import Path

try:
    from re import _parser as sre_parse
except ImportError:  # Python < 3.11
    import sre_parse

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rawhttp  # noqa: E402
from differential import SetupError, free_port, wait_until_serving  # noqa: E402

CONFORMANCE_DIR = Path(__file__).resolve().parent
REPO_ROOT = CONFORMANCE_DIR.parent.parent
PACKAGE_DIR = REPO_ROOT / "python" / "drfgate-django"
VENV_BIN = REPO_ROOT / ".venv" / "bin"
HOST = b"testserver"
SCRATCH_MARKER = ".sampleproj-differential"
METHODS = [b"GET", b"HEAD", b"OPTIONS", b"POST", b"PUT", b"PATCH", b"DELETE"]
# Basic with a safe and an unsafe method only: DRF hashes the password (PBKDF2, 1,000,000
# iterations) on every Basic request to a Basic route, a third of a second of CPU each, and the
# tokens already take every method through the same permissions.
BASIC_METHODS = [b"GET", b"POST"]
TOKEN = "rest_framework.authentication.TokenAuthentication"
REMOTE_USER = "rest_framework.authentication.RemoteUserAuthentication"
BAD_TOKEN = "notarealtoken0"
# The user a RemoteUserAuthentication header names.
REMOTE_USERNAME = "john"
# Who DRF authenticated, as sampleproj_wsgi.py (which imports Django, so not here) answers it.
USER_HEADER = "x-differential-drf-user"


# ---------------------------------------------------------------------------------------------
# Concrete paths from the exported patterns

# Samples for a group or converter by its name, tried in order before a generated one; each is
# used only where it matches what the pattern allows there.
NAMED_SAMPLES = {"pk": ["1"], "year": ["2024"], "format": ["json", ".json"], "team": ["blue-team"]}
CONVERTER_SAMPLES = {"int": "1", "str": "x", "slug": "blue-team", "path": "a/b",
                     "uuid": "12345678-1234-5678-1234-567812345678"}
CONVERTER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
# A character class is satisfied by the first of these it accepts.
CLASS_CANDIDATES = "1aA-_x.~"
CATEGORY_REGEX = {
    sre_parse.CATEGORY_DIGIT: r"\d", sre_parse.CATEGORY_NOT_DIGIT: r"\D",
    sre_parse.CATEGORY_WORD: r"\w", sre_parse.CATEGORY_NOT_WORD: r"\W",
    sre_parse.CATEGORY_SPACE: r"\s", sre_parse.CATEGORY_NOT_SPACE: r"\S",
}


def in_class(char, items):
    code = ord(char)
    negate = False
    found = False
    for op, value in items:
        if op is sre_parse.NEGATE:
            negate = True
        elif op is sre_parse.LITERAL:
            found |= code == value
        elif op is sre_parse.RANGE:
            found |= value[0] <= code <= value[1]
        elif op is sre_parse.CATEGORY:
            found |= re.fullmatch(CATEGORY_REGEX[value], char) is not None
    return found != negate


def emit(items, names, chosen):
    """The shortest text the parsed regex `items` matches, with each named group's text taken
    from `chosen` where it names one."""
    out = []
    for op, value in items:
        if op is sre_parse.LITERAL:
            out.append(chr(value))
        elif op is sre_parse.AT:
            pass
        elif op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT):
            low, _, sub = value
            out.append(emit(sub, names, chosen) * low)
        elif op is sre_parse.SUBPATTERN:
            group, _, _, sub = value
            name = names.get(group)
            out.append(chosen[name] if name in chosen else emit(sub, names, chosen))
        elif op is sre_parse.IN:
            out.append(next(c for c in CLASS_CANDIDATES if in_class(c, value)))
        elif op is sre_parse.ANY:
            out.append("a")
        elif op is sre_parse.BRANCH:
            out.append(emit(value[1][0], names, chosen))
        else:
            raise ValueError(f"no sample for {op} in a route's regex")
    return "".join(out)


def path_for_regex(regex):
    """A path (without the leading /) that `regex` matches, its named groups filled with their
    NAMED_SAMPLES where one fits, else the shortest text the group matches."""
    parsed = sre_parse.parse(regex)
    names = {number: name for name, number in parsed.state.groupdict.items()}
    chosen = {}
    for name in names.values():
        for candidate in NAMED_SAMPLES.get(name, []):
            trial = emit(parsed, names, dict(chosen, **{name: candidate}))
            match = re.search(regex, trial)
            if match and match.group(name) == candidate:
                chosen[name] = candidate
                break
    text = emit(parsed, names, chosen)
    if not re.search(regex, text):
        raise ValueError(f"the sample {text!r} does not match {regex!r}")
    return text


def path_for_route(route):
    if "regex" in route:
        return "/" + path_for_regex(route["regex"])

    def fill(match):
        converter, name = match.group("converter") or "str", match.group("name")
        default = CONVERTER_SAMPLES[converter]
        return next((s for s in NAMED_SAMPLES.get(name, []) if converter != "int" or s.isdigit()), default)

    return "/" + CONVERTER.sub(fill, route["path"])


# Django's path() converters as regexes (django.urls.converters).
CONVERTER_REGEXES = {"int": "[0-9]+", "str": "[^/]+", "slug": "[-a-zA-Z0-9_]+", "path": ".+",
                     "uuid": "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"}


def route_regex(route):
    """The exported route's pattern as a regex over the path without its leading /."""
    if "regex" in route:
        return route["regex"]
    parts, last = ["^"], 0
    for match in CONVERTER.finditer(route["path"]):
        parts += [re.escape(route["path"][last:match.start()]),
                  f"(?P<{match.group('name')}>{CONVERTER_REGEXES[match.group('converter') or 'str']})"]
        last = match.end()
    return "".join(parts + [re.escape(route["path"][last:]), r"\Z"])


def first_route(config, path):
    """The first exported route whose pattern matches `path`, or None."""
    return next((r for r in config["routes"] if re.search(route_regex(r), path[1:])), None)


# ---------------------------------------------------------------------------------------------
# Credentials per route


def base_of(config, name):
    """(the DRF class `name` is or subclasses, its exported attributes)."""
    spec = config.get("authentication_classes", {}).get(name, {})
    return spec.get("base", name), spec


def credentials_for(config, route, users, basic_user):
    """[(label, [(header name, value)])] for this route: the token keyword and the RemoteUser
    header come from the route's own authentication classes, as the export wrote them."""
    keywords = []
    remote_headers = []
    for name in route.get("authentication_classes", []):
        base, spec = base_of(config, name)
        if base == TOKEN:
            keywords.append(spec.get("keyword", "Token"))
        if base == REMOTE_USER and spec.get("header", "REMOTE_USER").startswith("HTTP_"):
            remote_headers.append(spec["header"][len("HTTP_"):].replace("_", "-").title())
    keyword = (keywords or ["Token"])[0]
    out = [("no credentials", [])]
    for user in users:
        out.append((f"{keyword} {user['username']}", [("Authorization", f"{keyword} {user['token']}")]))
    basic = next(u for u in users if u["username"] == basic_user)
    pair = base64.b64encode(f"{basic['username']}:{basic['password']}".encode()).decode()
    out.append((f"Basic {basic_user}", [("Authorization", f"Basic {pair}")]))
    out.append((f"{keyword} unknown", [("Authorization", f"{keyword} {BAD_TOKEN}")]))
    for header in remote_headers:
        out.append((f"{header} {REMOTE_USERNAME}", [(header, REMOTE_USERNAME)]))
    return out


def requests_for(config, users, basic_user):
    requests = []
    for number, route in enumerate(config["routes"]):
        pattern = route.get("path") or route["regex"]
        path = path_for_route(route)
        if first_route(config, path) is not route:
            raise ValueError(f"the sample path {path} of {pattern} is matched by an earlier route first")
        for label, headers in credentials_for(config, route, users, basic_user):
            for method in BASIC_METHODS if label.startswith("Basic ") else METHODS:
                requests.append({
                    "route": route, "route_number": number, "pattern": pattern, "credentials": label,
                    "method": method, "target": path.encode(),
                    "headers": [(n.encode(), v.encode()) for n, v in headers],
                })
    # Near misses of every sample path: what the gate matches there (or passes on, unmatched) must
    # be what Django resolves, so no route's pattern reaches further than Django's.
    seen = set()
    for number, route in enumerate(config["routes"]):
        path = path_for_route(route)
        for near in (path.rstrip("/") if path.endswith("/") else path + "/", path + "x/", path + "/x"):
            if near in seen or near.rstrip("/") == "":
                continue
            seen.add(near)
            # Judged as the first exported pattern that matches it, as Django's resolver would.
            matched = first_route(config, near)
            pattern = "near miss" + (f" of {matched.get('path') or matched['regex']}" if matched else ", unmatched")
            # No credentials, and the first user's token (john's) with the keyword of the route
            # that judges it.
            for label, headers in credentials_for(config, matched or route, users, basic_user)[:2]:
                requests.append({
                    "route": matched, "route_number": number, "pattern": pattern, "credentials": label,
                    "method": b"GET", "target": near.encode(),
                    "headers": [(n.encode(), v.encode()) for n, v in headers],
                })
    return requests


# ---------------------------------------------------------------------------------------------
# Setup and servers


def project_env(db, secret_key_file=None):
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="sampleproj.settings", SAMPLEPROJ_DB=str(db),
               PYTHONPATH=os.pathsep.join([str(PACKAGE_DIR / "src"), str(PACKAGE_DIR / "tests")]))
    env.pop("SAMPLEPROJ_URLCONF", None)
    if secret_key_file:
        env["SECRET_KEY_FILE"] = str(secret_key_file)
    return env


def run_checked(what, argv, env):
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=str(PACKAGE_DIR / "tests"))
    if done.returncode != 0:
        raise SetupError(f"{what} failed ({done.returncode}):\n{done.stderr.strip()}")
    return done


def make_project(scratch, python):
    """(export text, fixture summary): the database, the users and the export, in `scratch`."""
    db = scratch / "db.sqlite3"
    secret_key_file = scratch / "secret_key"
    done = run_checked("sampleproj_fixture.py", [str(python), str(CONFORMANCE_DIR / "sampleproj_fixture.py")],
                       project_env(db, secret_key_file))
    fixture = json.loads(done.stdout)
    config_path = scratch / "drfgate.toml"
    done = run_checked("drfgate_export", [str(python), "manage.py", "drfgate_export", "--output", str(config_path),
                                          "--secret-key-file", str(secret_key_file)], project_env(db))
    fixture["warnings"] = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    return config_path, fixture


class Servers:
    """gunicorn with the sample project and `drfgate serve` with its export, on loopback ports."""

    def __init__(self, scratch, drfgate, config_path):
        self.scratch, self.drfgate, self.config_path = scratch, drfgate, config_path
        self.processes = []
        self.gunicorn_port = self.serve_port = None

    def spawn(self, name, argv, env):
        log = self.scratch / f"{name}.log"
        process = subprocess.Popen(argv, stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env,
                                   stdin=subprocess.DEVNULL, cwd=str(self.scratch))
        self.processes.append(process)
        return process, log

    def __enter__(self):
        try:
            self.gunicorn_port = free_port()
            pythonpath = ",".join(str(p) for p in (CONFORMANCE_DIR, PACKAGE_DIR / "src", PACKAGE_DIR / "tests"))
            gunicorn, gunicorn_log = self.spawn("gunicorn", [
                str(VENV_BIN / "gunicorn"), "sampleproj_wsgi:application", "--pythonpath", pythonpath,
                "--bind", f"127.0.0.1:{self.gunicorn_port}", "--workers", "2", "--worker-class", "sync",
                "--timeout", "120", "--log-level", "warning",
            ], project_env(self.scratch / "db.sqlite3"))
            self.serve_port = free_port()
            serve, serve_log = self.spawn("drfgate-serve", [
                self.drfgate, "serve", "--config", str(self.config_path), "--listen", f"127.0.0.1:{self.serve_port}",
            ], dict(os.environ, DRFGATE_LOG="error"))
            wait_until_serving(self.serve_port, serve, "drfgate serve", serve_log)
            wait_until_serving(self.gunicorn_port, gunicorn, "gunicorn", gunicorn_log)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
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

REFUSED_FOR_AUTH = (401, 403, 405)


def compare(request, drf, gate):
    """("passed on" | "allowed" | "refused" | "differ", details)."""
    route = request["route"]
    decision = gate.header("x-drfgate-decision")
    if route is None:
        # A near miss no exported pattern matches: passed on, and Django's resolver did not
        # reach a DRF view either (DRF never authenticated).
        if decision != "pass":
            return "differ", (f"no exported route matches, yet drfgate answered {gate.status} {gate.body!r} "
                              f"as route {gate.header('x-drfgate-route')!r}")
        if drf.header(USER_HEADER) is not None:
            return "differ", f"drfgate found no route, but a DRF view answered {drf.status} {drf.body!r}"
        return "passed on", f"unmatched; the application answered {drf.status}"
    if route.get("pass"):
        if gate.status == 200 and decision == "pass" and gate.header("x-drfgate-user") is None:
            return "passed on", f"the application's DRF answered {drf.status}"
        return "differ", (f"a pass = true route must be passed on without an identity; drfgate answered "
                          f"{gate.status} {gate.body!r}, decision {decision!r}, user "
                          f"{gate.header('x-drfgate-user')!r}")
    if decision == "pass":
        return "differ", f"drfgate passed on a route it judges; DRF answered {drf.status} {drf.body!r}"
    problems = []
    if gate.status == 200:
        if drf.status in REFUSED_FOR_AUTH:
            problems.append(f"drfgate allowed, DRF refused {drf.status} {drf.body!r}")
        drf_user = drf.header(USER_HEADER)
        if drf_user is not None:
            if gate.header("x-drfgate-user") != (drf_user or None):
                problems.append(f"user DRF {drf_user!r} drfgate {gate.header('x-drfgate-user')!r}")
            if not drf_user and gate.header("x-drfgate-auth") != "anonymous":
                problems.append(f"DRF anonymous, drfgate X-Drfgate-Auth {gate.header('x-drfgate-auth')!r}")
        judged_by = gate.header("x-drfgate-route")
        if judged_by != route.get("name", route.get("path") or route.get("regex")):
            problems.append(f"judged by route {judged_by!r}, not this one")
        outcome = "allowed"
        detail = f"DRF {drf.status}, user {drf.header(USER_HEADER)!r}"
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
        outcome = "refused"
        detail = f"{drf.status} {drf.body!r}"
    return ("differ", "; ".join(problems)) if problems else (outcome, detail)


def run_one(request, servers):
    raw = rawhttp.request_bytes(request["method"], request["target"], request["headers"], HOST)
    is_head = request["method"] == b"HEAD"
    drf = rawhttp.send(servers.gunicorn_port, raw, is_head)
    gate = rawhttp.send(servers.serve_port, raw, is_head)
    return compare(request, drf, gate)


def report(results, fixture, elapsed, verbose):
    outcomes = ("allowed", "refused", "passed on", "differ")
    table = OrderedDict()
    for request, (outcome, _) in results:
        name = (request["route"] or {}).get("name", "")
        if request["pattern"].startswith("near miss"):
            name = f"(near miss) {name}".rstrip()
        key = (request["route_number"], name, request["target"].decode())
        table.setdefault(key, dict.fromkeys(outcomes, 0))[outcome] += 1
    width = max(len(f"{name} {target}") for _, name, target in table) + 2
    print(f"{'route (sample path)':<{width}}{'requests':>9}{'allowed':>9}{'refused':>9}{'passed on':>11}{'differ':>8}")
    totals = dict.fromkeys(outcomes, 0)
    for (_, name, target), row in table.items():
        for k in outcomes:
            totals[k] += row[k]
        print(f"{name + ' ' + target:<{width}}{sum(row.values()):>9}{row['allowed']:>9}{row['refused']:>9}"
              f"{row['passed on']:>11}{row['differ']:>8}")
    print(f"{'total':<{width}}{sum(totals.values()):>9}{totals['allowed']:>9}{totals['refused']:>9}"
          f"{totals['passed on']:>11}{totals['differ']:>8}")
    for request, (outcome, detail) in results:
        if outcome == "differ" or verbose:
            print(f"  {outcome.upper()}: {request['method'].decode()} {request['target'].decode()} "
                  f"({request['pattern']}) with {request['credentials']}: {detail}")
    for warning in fixture["warnings"]:
        print(f"export {warning}")
    print(f"sampleproj differential: {len(results)} requests to DRF (gunicorn) and drfgate serve in "
          f"{elapsed:.1f} s, {totals['differ']} differences")
    return totals["differ"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drfgate", required=True, help="the drfgate binary")
    parser.add_argument("--scratch", default=str(REPO_ROOT / "build" / "sampleproj-differential"),
                        help="made again each run: the database, the export, the servers' logs")
    parser.add_argument("--verbose", action="store_true", help="print every request's outcome")
    arguments = parser.parse_args()
    if "django" in os.environ.get("DRFGATE_SKIP", "").split(","):
        print("sampleproj differential: skipped (DRFGATE_SKIP=django)")
        return 0
    if not (VENV_BIN / "gunicorn").exists():
        print(f"sampleproj differential: no gunicorn in {VENV_BIN} (make python-env)", file=sys.stderr)
        return 2
    scratch = Path(arguments.scratch).resolve()
    # Removed only when an earlier run made it (its marker is there), never another folder.
    if scratch.exists() and any(scratch.iterdir()) and not (scratch / SCRATCH_MARKER).exists():
        print(f"sampleproj differential: {scratch} is not empty and no earlier run made it", file=sys.stderr)
        return 2
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    (scratch / SCRATCH_MARKER).write_text("made by tests/conformance/sampleproj_differential.py\n", "utf-8")
    try:
        config_path, fixture = make_project(scratch, VENV_BIN / "python")
        config = tomllib.loads(config_path.read_text("utf-8"))
        requests = requests_for(config, fixture["users"], fixture["basic_user"])
        started = time.monotonic()
        with Servers(scratch, arguments.drfgate, config_path) as servers:
            with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
                outcomes = list(pool.map(lambda r: run_one(r, servers), requests))
    except (SetupError, ValueError) as error:
        print(f"sampleproj differential: {error}", file=sys.stderr)
        return 2
    differences = report(list(zip(requests, outcomes)), fixture, time.monotonic() - started, arguments.verbose)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())

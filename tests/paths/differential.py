#!/usr/bin/env python3
"""Path differential: for many spellings of request paths, the route the gate judged is the
route Django resolved, and no request DRF refuses reaches a view. One runner per front end:

  apache  Apache + mod_wsgi + mod_drfgate      tests/apache/e2e.py --only paths (as root)
  nginx   nginx auth_request → drfgate serve,  differential.py nginx --drfgate BIN
          nginx → gunicorn
  module  nginx + ngx_http_drfgate_module      differential.py module --module SO
          → gunicorn                           (SO: make nginx-module)
  layer   hyper + the tower Layer as a         differential.py layer --proxy BIN
          reverse proxy → gunicorn             (BIN: cargo build -p drfgate-tower --example path_proxy)

make passes --python (the venv's python, before the front end) so that the gate's config is the
probe's own `manage.py drfgate_export`; without it, the routes of pathprobe/routes.py by hand.

Each front end runs twice over the same Django project (tests/paths/pathprobe), on loopback
high ports: the GATED deployment (the gate in front; the app trusts it: its views authenticate
nobody and allow everything, PATHPROBE_TRUST_GATE=1), and the REFERENCE (the same front end
without the gate; each view with its real DRF classes). Both get the same raw request (a
generated path spelling × method × credentials: anonymous, a user's token, a staff user's
token, an unknown token) over a socket. Every response Django makes reports, in X-Probe-*
headers, whether it reached Django, the url_name it resolved, the route the gate said it
judged (DRFGATE_ROUTE from mod_drfgate; X-Drfgate-Route from the proxies), and whether a
view's handler ran.

Checked for every request (a failure names the check):
  route       GATED reached Django: the route the gate judged is the url_name Django resolved
              (both none when Django resolved nothing).
  refused     REFERENCE: DRF refused (401/403/405 from a resolved view): GATED ran no view,
              with DRF's status and body.
  allowed     REFERENCE: a view ran: GATED ran the same view (the gate did not refuse).
  no view     REFERENCE: no view ran (the server's own 400/404, Django's 404 or APPEND_SLASH
              301): GATED ran no view, with the same status. Only where the server refused
              the request before Django (gunicorn's 400 for raw octets in the target) may the
              gate refuse it instead (counted as "stricter"), and then with DRF's answer to
              the same path spelt with escapes (its reference answer in this run). A gate
              refusal where Django answered (its 404, APPEND_SLASH's 301) is a failure.
  same path   both reached Django: Django resolved the same url_name behind both (the gate
              does not change what the application sees).

Standard library only (tests/apache/e2e.py imports it with Debian's python3).
Exit status: 0 when every request passes, 1 on any failure, 2 on a setup failure.
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import OrderedDict
from pathlib import Path
from urllib.parse import unquote

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
FIXTURE_DB = ROOT / "build" / "django" / "db.sqlite3"
# What mod_wsgi and gunicorn put on sys.path for the probe (refproj.settings is its base).
PYTHON_PATH = [HERE, ROOT / "tests" / "django"]

sys.path.insert(0, str(HERE))
from pathprobe.routes import ROUTES  # noqa: E402
sys.path.insert(0, str(ROOT / "tests" / "conformance"))
import gate_configs  # noqa: E402  (refproj's SECRET_KEY, for the export's SECRET_KEY_FILE)

# Fixture users (tests/django/make_fixture_db.py): john is a plain user, admin is staff.
CREDENTIALS = [
    ("anonymous", None),
    ("user", b"Token abcd1234"),
    ("staff", b"Token admin123"),
    ("bad-token", b"Token nope"),
]
TIMEOUT_SECONDS = 60


class SetupError(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------------
# The gate's config: the probe's own export, or its routes by the same names written by hand


def toml_string(text):
    return json.dumps(text, ensure_ascii=False)


def gate_config(db, trusted_forwarded=(), python=None):
    """The probe's config as `drfgate_export` writes it for pathprobe.settings, run by `python`
    (the venv's; make passes it), or, without, as written by hand from pathprobe/routes.py.
    Either names each route as Django does (the url_name), for the `route` check.
    `trusted_forwarded`: the [serve] headers `drfgate serve` takes the original request from."""
    text = exported_config(db, python) if python is not None else hand_written_config(db)
    if trusted_forwarded:
        text += f"\n[serve]\ntrusted_forwarded = {json.dumps(list(trusted_forwarded))}\n"
    return text


def exported_config(db, python):
    """`drfgate_export` of the guarded probe (PATHPROBE_TRUST_GATE unset: each view with its real
    classes), the database being `db`. Unmatched paths pass, the export's default: a path the
    gate matches to no route while Django resolves it then fails the `route` check."""
    # refproj's SECRET_KEY (simplejwt's default SIGNING_KEY), in a file as a deployment gives it.
    secret_key_file = Path(db).parent / "secret_key"
    secret_key_file.write_text(gate_configs.SECRET_KEY + "\n", "utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PATHPROBE_TRUST_GATE"}
    env.update(DJANGO_SETTINGS_MODULE="pathprobe.settings", DRFGATE_DJANGO_DB=str(db),
               PYTHONPATH=os.pathsep.join(map(str, PYTHON_PATH)))
    done = subprocess.run([str(python), "-m", "django", "drfgate_export",
                           "--database", "sqlite://" + str(db),
                           "--secret-key-file", str(secret_key_file)],
                          env=env, capture_output=True, text=True, cwd=str(HERE))
    if done.returncode != 0:
        raise SetupError(f"drfgate_export of the probe failed: {done.stderr.strip()}")
    return done.stdout


def hand_written_config(db):
    lines = [
        "[django]",
        f"DATABASE = {toml_string('sqlite://' + str(db))}",
        # pathprobe.settings: CommonMiddleware checks every host against ["*"].
        'ALLOWED_HOSTS = ["*"]',
        "[rest_framework]",
        'DEFAULT_AUTHENTICATION_CLASSES = ["rest_framework.authentication.TokenAuthentication"]',
        'DEFAULT_PERMISSION_CLASSES = ["rest_framework.permissions.AllowAny"]',
    ]
    for name, kind, pattern, permission, methods in ROUTES:
        lines += [
            "[[routes]]",
            f"name = {toml_string(name)}",
            f"{'path' if kind == 'path' else 'regex'} = {toml_string(pattern)}",
            f'permission_classes = ["{permission}"]',
            f"methods = {json.dumps(methods)}",
        ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# The spellings. Templates are text whose every character is one octet on the wire (raw UTF-8
# is written as its octets, "\xc3\xa9"); "{A}" is replaced by the server's host:port.

BASES = {
    "report": ("/api/", "reports/q1/"),
    "order": ("/api/", "orders/7/"),
    "file": ("/api/", "files/a/b.txt"),
}
# Escapes (and raw octets) put inside a route parameter.
ESCAPES = [
    "%3F", "%3f", "%3Fx=1", "%23", "%23x", "%25", "%2525", "%252F", "%252F2024", "%2F", "%2f",
    "%2F..%2F", "%2E%2E", "%2E", "%00", "%0A", "%0D", "%20", "+", "%2B", ";p=1", "%3B",
    "%C0%AF", "%FF", "%FF%FE", "%ED%A0%80", "%C3", "%C3%28", "%C3%A9", "\xc3\xa9", "%E9",
    "%F0%9F%98%80", "%5C", "\\", "%7E", "~", "%", "%zz", "%2", "%u2215",
]


def structural(base):
    """Dot segments, slashes, `;`, case, a missing trailing slash, queries, fragments and
    absolute-form targets around one path."""
    prefix, rest = BASES[base]
    path = prefix + rest
    spellings = [
        path,
        "/" + path,
        "/api//" + rest,
        "/./" + path[1:],
        "/api/./" + rest,
        "/x/../" + path[1:],
        "/../" + path[1:],
        "/api/x/../" + rest,
        "/api/x/%2E%2E/" + rest,
        "/api/x/%2e%2e/" + rest,
        "/api/x/.%2E/" + rest,
        "/api/x/%C0%AE%C0%AE/" + rest,
        "/api/%2E/" + rest,
        "/api%2F" + rest,
        "/api%2f" + rest,
        "/ap%69/" + rest,
        "/API/" + rest,
        "/api;p=1/" + rest,
        path + "/",
        path + ".",
        path + "/..",
        path + "?x=1",
        path + "?",
        path + "#x",
        path + "?a=1#x",
        "http://{A}" + path,
        "HTTP://{A}" + path,
        "https://{A}" + path,
        "http://other.example" + path,
        "http://{A}/api%2F" + rest,
        "//{A}" + path,
    ]
    if path.endswith("/"):
        spellings += [path[:-1], path[:-1] + "#/", path[:-1] + "%2F", path[:-1] + "?/"]
    return spellings


def spellings():
    """(group, method, template), in a stable order."""
    out = []
    for path in ("/api/reports/q1/", "/api/orders/7/", "/api/files/a/b.txt", "/api/re/x1/",
                 "/api/num/7/", "/api/caf%C3%A9/", "/api/open/"):
        out.append(("base", "GET", path))
    for escape in ESCAPES:
        out.append(("escape in <str:slug>", "GET", f"/api/reports/q1{escape}/"))
        out.append(("escape in re_path [^/]+", "GET", f"/api/re/x1{escape}/"))
        out.append(("escape in <path:rest>", "GET", f"/api/files/a{escape}b"))
    for base in BASES:
        for template in structural(base):
            out.append((f"dots, slashes, forms: {base}", "GET", template))
    for pk in ("+7", "%2B7", "%207", " 7", "%37", "07", "7%20", "-7", "7.0", "%EF%BC%97",
               "%D9%A7", "99999999999999999999999", "7%0A", "7/%0A", "7%00"):
        out.append(("<int:pk>", "GET", f"/api/orders/{pk}/"))
    for target in ("/api/num/%EF%BC%97/", "/api/num/%D9%A7/", "/api/num/7%0A/", "/api/num/7/%0A",
                   "/api/num/%37/", "/api/num/+7/", "/api/re/x1/%0A", "/api/re/x1%0A/"):
        out.append(("re_path \\d and $", "GET", target))
    for target in ("/api/caf%c3%a9/", "/api/caf\xc3\xa9/", "/api/cafe%CC%81/", "/api/caf%E9/",
                   "/api/CAF%C3%89/", "/api/caf%C3%A9", "/api/caf%25C3%25A9/", "/api/caf%C3%A9%2F",
                   "http://{A}/api/caf%C3%A9/"):
        out.append(("non-ASCII route", "GET", target))
    # What Django and DRF answer before authentication: a Host ALLOWED_HOSTS = ["*"] still
    # refuses (400), an Accept nothing satisfies (406), an unknown ?format= (404). Only answers
    # the gate writes itself: behind it the probe's views trust it, so a request it passes on
    # would run (Accept: text/html is the differential suite's, tests/conformance/).
    for host in (b"a_b.example", b"evil,example", b"localhost.."):
        out.append(("hosts", "GET", "/api/orders/7/", ((b"Host", host),)))
    for accept in (b"image/png", b"", b"application/json; indent=4", b"*/*;q=0.1, image/png"):
        for target in ("/api/orders/7/", "/api/reports/q1/"):
            out.append(("negotiation", "GET", target, ((b"Accept", accept),)))
    for target in ("/api/orders/7/?format=xml", "/api/orders/7/?format=json", "/api/reports/q1/?format=JSON",
                   "/api/orders/7/?format=api&format=xml", "/api/orders/7/#?format=xml",
                   "http://{A}/api/orders/7/?format=xml"):
        out.append(("negotiation", "GET", target))
    out.append(("negotiation", "DELETE", "/api/orders/7/", ((b"Accept", b"image/png"),)))
    for method, target in (("DELETE", "/api/orders/7/"), ("PUT", "/api/orders/7/"),
                           ("DELETE", "/api/orders/%37/"), ("POST", "/api/reports/q1/"),
                           ("POST", "/api/reports/q1%3F/"), ("DELETE", "/api/reports/q1%252F2024/"),
                           ("POST", "/api/open/"), ("POST", "/api/open"), ("POST", "/api/open%3F/"),
                           ("DELETE", "/api/files/a%3Fb")):
        out.append(("methods", method, target))
    return out


def probes(extra_spellings=()):
    """Every request of the run: (id, group, method, template, credential name, header value,
    other headers). `extra_spellings`: (group, method, template) a front end adds (e.g. Apache's
    rewrites). A spelling may carry a fourth item, other headers as (name, value) octets (a
    Host there replaces the server's)."""
    out = []
    for spelling in spellings() + list(extra_spellings):
        group, method, template = spelling[:3]
        headers = spelling[3] if len(spelling) > 3 else ()
        for credential, authorization in CREDENTIALS:
            out.append((len(out), group, method, template, credential, authorization, headers))
    return out


# ---------------------------------------------------------------------------------------------
# Raw HTTP


class Answer:
    def __init__(self, status, headers=(), body=b"", error=None):
        self.status = status
        self.headers = list(headers)
        self.body = body
        self.error = error

    def header(self, name):
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None

    def probe(self, name):
        """An X-Probe-* value, decoded; None when absent or "-"."""
        value = self.header(f"x-probe-{name}")
        return None if value in (None, "-") else unquote(value)

    @property
    def reached_django(self):
        return self.header("x-probe-reached") == "1"

    @property
    def view_ran(self):
        return self.header("x-probe-view-ran") == "1"

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def summary(self):
        if self.error:
            return f"no answer ({self.error})"
        if not self.reached_django:
            return f"{self.status}, did not reach Django"
        text = (f"{self.status}, path_info {self.probe('path-info')!r}, "
                f"resolved {self.probe('resolved')!r}, judged {self.probe('judged')!r}")
        return text + (", VIEW RAN" if self.view_ran else ", no view")


def send(port, method, target, authorization, headers=()):
    host = next((value for name, value in headers if name.lower() == b"host"), b"127.0.0.1:%d" % port)
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: " + host,
             # Never believed: mod_drfgate's route is a server variable, and the proxies
             # overwrite the header.
             b"X-Drfgate-Route: spoofed"]
    lines += [name + b": " + value for name, value in headers if name.lower() != b"host"]
    if authorization is not None:
        lines.append(b"Authorization: " + authorization)
    if method in ("POST", "PUT", "DELETE"):
        lines.append(b"Content-Length: 0")
    lines.append(b"Connection: close")
    raw = b"\r\n".join(lines) + b"\r\n\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_SECONDS) as sock:
            sock.sendall(raw)
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except OSError as error:
        return Answer(0, error=repr(error))
    return parse(b"".join(chunks))


def parse(raw):
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status_line = lines[0].split(b" ", 2)
    if len(status_line) < 2 or not status_line[1].isdigit():
        return Answer(0, error=f"not an HTTP response: {raw[:80]!r}")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.append((name.strip().lower().decode("latin-1"), value.strip()))
    answer = Answer(int(status_line[1]), headers)
    if (answer.header("transfer-encoding") or "").lower() == "chunked":
        body = b""
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            body += rest[:size]
            rest = rest[size + 2:]
        answer.body = body
    else:
        length = answer.header("content-length")
        answer.body = rest[: int(length)] if length is not None else rest
    return answer


# ---------------------------------------------------------------------------------------------
# The checks


DRF_REFUSALS = (401, 403, 405)


def percent_encoded(template):
    """The template with every octet above 0x7F as its %XX escape: the same path_info for
    Django (WSGI decodes the escapes to the same octets), which servers that refuse raw
    octets in a target (gunicorn) do let through."""
    return "".join(f"%{ord(c):02X}" if ord(c) > 0x7F else c for c in template)


def judge(reference, gated, equivalent=None):
    """(outcome, [failures]); outcome is what the reference did: "view", "refused", "no view",
    and "stricter" when the gate refused a request the server in front of Django refused
    itself, so DRF never ran. `equivalent`: the reference's answer to the same path spelt
    with escapes (percent_encoded), which is what DRF answers to it where the server lets
    it through: the gate's refusal must be that one."""
    failures = []
    if gated.reached_django and gated.probe("judged") != gated.probe("resolved"):
        failures.append(("route", f"the gate judged {gated.probe('judged')!r}, Django resolved "
                                  f"{gated.probe('resolved')!r}"))
    if (reference.reached_django and gated.reached_django
            and reference.probe("resolved") != gated.probe("resolved")):
        failures.append(("same path", f"Django resolved {reference.probe('resolved')!r} without "
                                      f"the gate, {gated.probe('resolved')!r} behind it"))
    if reference.view_ran:
        outcome = "view"
        if not gated.view_ran:
            failures.append(("allowed", "DRF ran the view; behind the gate no view ran"))
        elif gated.status != reference.status:
            failures.append(("allowed", f"status {gated.status} behind the gate"))
    elif (reference.reached_django and reference.probe("resolved") is not None
          and reference.status in DRF_REFUSALS):
        outcome = "refused"
        if gated.view_ran:
            failures.append(("refused", "DRF refused, but behind the gate the view RAN"))
        elif gated.status != reference.status:
            failures.append(("refused", f"DRF refused with {reference.status}, behind the gate "
                                        f"{gated.status}"))
        elif reference.json() != gated.json():
            failures.append(("refused", f"DRF's body {reference.body!r}, behind the gate "
                                        f"{gated.body!r}"))
    else:
        outcome = "no view"
        if gated.view_ran:
            failures.append(("no view", "no view ran without the gate, but one RAN behind it"))
        elif gated.status != reference.status:
            if (not reference.reached_django and not gated.reached_django
                    and gated.status in (401, 403)):
                # The server refused it before Django (gunicorn's 400 for raw octets): the gate
                # answers what DRF answers to the same path where a server passes it on.
                outcome = "stricter"
                if equivalent is None:
                    failures.append(("no view", "the server refused it and the gate answered "
                                                f"{gated.status}; no escaped spelling of this "
                                                "path to know DRF's answer by"))
                elif (equivalent.view_ran or (gated.status, gated.json())
                        != (equivalent.status, equivalent.json())):
                    failures.append(("no view", "the server refused it; the gate answered "
                                                f"{gated.status} {gated.body!r}, DRF answers its "
                                                f"escaped spelling {equivalent.summary()}"))
            else:
                failures.append(("no view", f"status {reference.status} without the gate, "
                                            f"{gated.status} behind it"))
    return outcome, failures


def run(front_end, gated_port, reference_port, results_file=None, extra_spellings=(),
        workers=8, show=12):
    """Sends every probe to both deployments; prints a summary; returns the failures as text.
    `results_file`: where to write every request and both answers, one JSON line each."""
    started = time.monotonic()
    all_probes = probes(extra_spellings)

    def one(probe):
        _, _, method, template, _, authorization, headers = probe
        answers = []
        for port in (reference_port, gated_port):
            target = template.replace("{A}", f"127.0.0.1:{port}").encode("latin-1")
            answers.append(send(port, method, target, authorization, headers))
        return probe, answers

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(one, all_probes))

    table = OrderedDict()
    failures = OrderedDict()
    lines = []
    references = {(p[2], p[3], p[4], p[6]): reference for p, (reference, _) in results}
    for probe, (reference, gated) in results:
        _, group, method, template, credential, _, headers = probe
        escaped = percent_encoded(template)
        equivalent = references.get((method, escaped, credential, headers)) if escaped != template else None
        outcome, problems = judge(reference, gated, equivalent)
        lines.append(json.dumps({
            "group": group, "method": method, "target": template, "credential": credential,
            "outcome": outcome, "failures": problems,
            "reference": reference.summary(), "gated": gated.summary(),
        }, ensure_ascii=False))
        row = table.setdefault(group, OrderedDict(
            (k, 0) for k in ("requests", "view", "refused", "no view", "stricter", "failed")))
        row["requests"] += 1
        row[outcome] += 1
        row["failed"] += bool(problems)
        for kind, detail in problems:
            failures.setdefault(kind, []).append(
                f"{method} {template!r} as {credential}: {detail}\n"
                f"        without the gate: {reference.summary()}\n"
                f"        behind the gate:  {gated.summary()}")

    if results_file is not None:
        Path(results_file).write_text("\n".join(lines) + "\n", "utf-8")
    width = max(len(g) for g in table) + 2
    print(f"  [{front_end}] {'group':<{width}}" + "".join(f"{k:>10}" for k in next(iter(table.values()))))
    for group, row in table.items():
        print(f"  [{front_end}] {group:<{width}}" + "".join(f"{v:>10}" for v in row.values()))
    totals = [sum(row[k] for row in table.values()) for k in next(iter(table.values()))]
    print(f"  [{front_end}] {'total':<{width}}" + "".join(f"{v:>10}" for v in totals))
    print(f"  [{front_end}] view: DRF ran the view (so must the gated app); refused: DRF refused "
          "(the gate must too); no view: neither did; stricter: the gate refused a request no "
          f"view would have answered; {len(all_probes)} requests to each side in "
          f"{time.monotonic() - started:.1f}s")
    texts = []
    gravity = ["refused", "allowed", "no view", "same path", "route"]
    for kind, items in sorted(failures.items(), key=lambda item: gravity.index(item[0])):
        print(f"  [{front_end}] FAILED {kind}: {len(items)} requests")
        for item in items[:show]:
            print(f"      {item}")
        if len(items) > show:
            print(f"      … and {len(items) - show} more")
        texts += [f"{kind}: {item}" for item in items]
    return texts


# ---------------------------------------------------------------------------------------------
# Processes for the nginx and Layer runners (the Apache runner is tests/apache/e2e.py's)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """Started processes, each in its own session, stopped by pid (TERM, then KILL)."""

    def __init__(self, scratch):
        self.scratch = scratch
        self.started = []

    def spawn(self, name, argv, env=None, port=None, stop_signal=signal.SIGTERM):
        log = self.scratch / f"{name}.log"
        process = subprocess.Popen(argv, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.started.append((name, process, stop_signal))
        if port is not None:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise SetupError(f"{name} exited with {process.returncode}:\n"
                                     + log.read_text(errors="replace")[-3000:])
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SetupError(f"{name} not listening on {port} after 60 s")
                    time.sleep(0.1)
        return process

    def stop(self):
        for _, process, stop_signal in reversed(self.started):
            if process.poll() is None:
                process.send_signal(stop_signal)
        for name, process, _ in self.started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                print(f"  {name} (pid {process.pid}) ignored its stop signal; killing it")
                process.kill()
                process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def scratch_dir(name):
    scratch = ROOT / "build" / "paths" / name
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    if not FIXTURE_DB.exists():
        raise SetupError(f"missing {FIXTURE_DB}: run `make fixture-db`")
    shutil.copy(FIXTURE_DB, scratch / "db.sqlite3")
    return scratch


def gunicorn(processes, name, db, trust_gate):
    """The probe under gunicorn (gthread: the concurrent probes need no more workers)."""
    port = free_port()
    env = dict(os.environ, DRFGATE_DJANGO_DB=str(db), PATHPROBE_ROUTE_SOURCE="header",
               PYTHONPATH=os.pathsep.join(str(p) for p in PYTHON_PATH),
               DJANGO_SETTINGS_MODULE="pathprobe.settings")
    env.pop("PATHPROBE_TRUST_GATE", None)
    if trust_gate:
        env["PATHPROBE_TRUST_GATE"] = "1"
    processes.spawn(name, [str(VENV_BIN / "gunicorn"), "pathprobe.wsgi:application",
                           "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
                           "--worker-class", "gthread", "--no-control-socket",
                           "--log-level", "warning"], env=env, port=port)
    return port


NGINX = "/usr/sbin/nginx"


def ensure_nginx():
    """Debian's nginx, installed as examples/nginx/test.sh does when missing."""
    if os.path.exists(NGINX):
        return
    print("  installing nginx (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    argv = ["apt-get", "install", "-y", "--no-install-recommends", "nginx"]
    if subprocess.run(argv, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
        installed = subprocess.run(argv, env=env, capture_output=True, text=True)
        if installed.returncode != 0:
            raise SetupError(f"no {NGINX}, and apt-get could not install nginx "
                             f"(as root: apt-get install nginx):\n{installed.stderr[-2000:]}")


def nginx_conf(scratch, gated_port, reference_port, serve_port, trusting_port, guarded_port):
    """Two servers: GATED asks drfgate serve about every request (auth_request, as
    examples/nginx/drfgate.conf does for /api/) and passes the route it judged upstream;
    REFERENCE proxies the same way with no gate. proxy_pass without a URI part passes the
    client's target on unchanged."""
    user = "user root;\n" if os.getuid() == 0 else ""
    return f"""{user}worker_processes 1;
pid {scratch}/nginx.pid;
error_log {scratch}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {scratch}/nginx-access.log;
    client_body_temp_path {scratch}/temp/body;
    proxy_temp_path {scratch}/temp/proxy;
    fastcgi_temp_path {scratch}/temp/fastcgi;
    uwsgi_temp_path {scratch}/temp/uwsgi;
    scgi_temp_path {scratch}/temp/scgi;

    upstream drfgate {{ server 127.0.0.1:{serve_port}; keepalive 16; }}
    upstream trusting {{ server 127.0.0.1:{trusting_port}; }}
    upstream guarded {{ server 127.0.0.1:{guarded_port}; }}

    server {{
        listen 127.0.0.1:{gated_port};
        location / {{
            auth_request /_drfgate;
            auth_request_set $drfgate_route $upstream_http_x_drfgate_route;
            error_page 401 403 500 = @drfgate_refusal;
            # Set here, so never taken from the client (left out when empty: no route).
            proxy_set_header X-Drfgate-Route $drfgate_route;
            proxy_set_header Host $http_host;
            proxy_pass http://trusting;
        }}
        location = /_drfgate {{
            internal;
            proxy_pass http://drfgate;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Original-URI $request_uri;
            # The client's Host, for ALLOWED_HOSTS (else the gate would judge "drfgate").
            proxy_set_header Host $http_host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
        location @drfgate_refusal {{
            internal;
            proxy_pass http://drfgate;
            proxy_hide_header WWW-Authenticate;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Original-URI $request_uri;
            # The client's Host, for ALLOWED_HOSTS (else the gate would judge "drfgate").
            proxy_set_header Host $http_host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}

    server {{
        listen 127.0.0.1:{reference_port};
        location / {{
            proxy_set_header X-Drfgate-Route "";
            proxy_set_header Host $http_host;
            proxy_pass http://guarded;
        }}
    }}
}}
"""


def run_nginx(args):
    ensure_nginx()
    drfgate = Path(args.drfgate)
    if not drfgate.exists():
        raise SetupError(f"no drfgate binary at {drfgate}")
    scratch = scratch_dir("nginx")
    (scratch / "temp").mkdir()
    db = scratch / "db.sqlite3"
    config = scratch / "drfgate.toml"
    config.write_text(gate_config(db, trusted_forwarded=["x-original"], python=args.python), "utf-8")
    with Processes(scratch) as processes:
        trusting = gunicorn(processes, "gunicorn-trusting", db, trust_gate=True)
        guarded = gunicorn(processes, "gunicorn-guarded", db, trust_gate=False)
        serve_port = free_port()
        processes.spawn("drfgate-serve", [str(drfgate), "serve", "--config", str(config),
                                          "--listen", f"127.0.0.1:{serve_port}"],
                        env=dict(os.environ, DRFGATE_LOG="warn"), port=serve_port)
        gated_port, reference_port = free_port(), free_port()
        conf = scratch / "nginx.conf"
        conf.write_text(nginx_conf(scratch, gated_port, reference_port, serve_port, trusting, guarded))
        check = subprocess.run([NGINX, "-t", "-q", "-p", str(scratch), "-c", str(conf)],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise SetupError(f"nginx -t: {check.stderr}")
        processes.spawn("nginx", [NGINX, "-p", str(scratch), "-c", str(conf), "-g", "daemon off;"],
                        port=gated_port, stop_signal=signal.SIGQUIT)
        return run("nginx", gated_port, reference_port, scratch / "results.jsonl")


def module_conf(scratch, module, config, gated_port, reference_port, trusting_port, guarded_port):
    """GATED decides in nginx itself (the module, judging the raw target proxy_pass passes on)
    and passes the route it judged upstream; REFERENCE is the same nginx without the gate."""
    user = "user root;\n" if os.getuid() == 0 else ""
    return f"""{user}worker_processes 1;
pid {scratch}/nginx.pid;
error_log {scratch}/nginx-error.log warn;
load_module {module};
thread_pool drfgate threads=4;
events {{ worker_connections 256; }}
http {{
    access_log {scratch}/nginx-access.log;
    client_body_temp_path {scratch}/temp/body;
    proxy_temp_path {scratch}/temp/proxy;
    fastcgi_temp_path {scratch}/temp/fastcgi;
    uwsgi_temp_path {scratch}/temp/uwsgi;
    scgi_temp_path {scratch}/temp/scgi;
    drfgate_config {config};
    drfgate_thread_pool drfgate;

    upstream trusting {{ server 127.0.0.1:{trusting_port}; }}
    upstream guarded {{ server 127.0.0.1:{guarded_port}; }}

    server {{
        listen 127.0.0.1:{gated_port};
        drfgate on;
        location / {{
            # Set here, so never taken from the client (left out when empty: no route).
            proxy_set_header X-Drfgate-Route $drfgate_route;
            proxy_set_header Host $http_host;
            proxy_pass http://trusting;
        }}
    }}

    server {{
        listen 127.0.0.1:{reference_port};
        location / {{
            proxy_set_header X-Drfgate-Route "";
            proxy_set_header Host $http_host;
            proxy_pass http://guarded;
        }}
    }}
}}
"""


def run_module(args):
    ensure_nginx()
    module = Path(args.module).resolve()
    if not module.exists():
        raise SetupError(f"no nginx module at {module} (make nginx-module)")
    scratch = scratch_dir("module")
    (scratch / "temp").mkdir()
    db = scratch / "db.sqlite3"
    config = scratch / "drfgate.toml"
    config.write_text(gate_config(db, python=args.python), "utf-8")
    with Processes(scratch) as processes:
        trusting = gunicorn(processes, "gunicorn-trusting", db, trust_gate=True)
        guarded = gunicorn(processes, "gunicorn-guarded", db, trust_gate=False)
        gated_port, reference_port = free_port(), free_port()
        conf = scratch / "nginx.conf"
        conf.write_text(module_conf(scratch, module, config, gated_port, reference_port,
                                    trusting, guarded))
        check = subprocess.run([NGINX, "-t", "-q", "-p", str(scratch), "-c", str(conf)],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise SetupError(f"nginx -t: {check.stderr}")
        processes.spawn("nginx", [NGINX, "-p", str(scratch), "-c", str(conf), "-g", "daemon off;"],
                        port=gated_port, stop_signal=signal.SIGQUIT)
        return run("module", gated_port, reference_port, scratch / "results.jsonl")


def run_layer(args):
    proxy = Path(args.proxy)
    if not proxy.exists():
        raise SetupError(f"no path_proxy binary at {proxy} "
                         "(cargo build -p drfgate-tower --example path_proxy)")
    scratch = scratch_dir("layer")
    db = scratch / "db.sqlite3"
    config = scratch / "drfgate.toml"
    config.write_text(gate_config(db, python=args.python), "utf-8")
    with Processes(scratch) as processes:
        trusting = gunicorn(processes, "gunicorn-trusting", db, trust_gate=True)
        guarded = gunicorn(processes, "gunicorn-guarded", db, trust_gate=False)
        gated_port, reference_port = free_port(), free_port()
        processes.spawn("proxy-gated", [str(proxy), f"127.0.0.1:{gated_port}",
                                        f"127.0.0.1:{trusting}", str(config)],
                        port=gated_port)
        processes.spawn("proxy-reference", [str(proxy), f"127.0.0.1:{reference_port}",
                                            f"127.0.0.1:{guarded}"], port=reference_port)
        return run("layer", gated_port, reference_port, scratch / "results.jsonl")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", type=Path,
                        help="the venv's python: the gate config is the probe's drfgate_export "
                             "(make passes it; without, the hand-written one)")
    sub = parser.add_subparsers(dest="front_end", required=True)
    nginx = sub.add_parser("nginx", help="nginx auth_request → drfgate serve; nginx → gunicorn")
    nginx.add_argument("--drfgate", required=True, help="the drfgate binary")
    module = sub.add_parser("module", help="nginx + ngx_http_drfgate_module; nginx → gunicorn")
    module.add_argument("--module", required=True, help="ngx_http_drfgate_module.so")
    layer = sub.add_parser("layer", help="hyper + the tower Layer as a reverse proxy → gunicorn")
    layer.add_argument("--proxy", required=True, help="the path_proxy example binary")
    args = parser.parse_args()
    # A missing fixture or nginx fails the run, unless DRFGATE_SKIP names it (README, "How it
    # is tested").
    needs = ["django"] + (["nginx"] if args.front_end in ("nginx", "module") else [])
    skipped = [n for n in needs if n in os.environ.get("DRFGATE_SKIP", "").split(",")]
    if skipped:
        print(f"path differential, {args.front_end}: skipped (DRFGATE_SKIP={','.join(skipped)})")
        return 0
    started = time.monotonic()
    print(f"path differential, {args.front_end}:")
    try:
        runner = {"nginx": run_nginx, "module": run_module, "layer": run_layer}[args.front_end]
        failures = runner(args)
    except SetupError as error:
        print(f"  setup failed: {error}")
        return 2
    verdict = "FAILED" if failures else "passed"
    print(f"path differential, {args.front_end}: {verdict} in {time.monotonic() - started:.1f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

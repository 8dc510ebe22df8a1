"""The minted JWT and knox requests (variants.jwt_requests: every token of
tests/django/jwt_fixtures.py on every simplejwt and knox view, and the header shapes) through a
web server module, compared with DRF + simplejwt / knox answering the same request behind the
same web server without the module. Shared by tests/apache/e2e.py and tests/nginx/e2e.py, as the
differential (tests/conformance/differential.py) sends them to `drfgate serve` and the Layer.

A module has one drfgate config per server (Apache: per virtual host; nginx: per instance), and
SIMPLE_JWT is global in a config, so each group of these views with its own SIMPLE_JWT
(gate_configs.groups) gets its own config and its own port; the caller starts them.

Compared: for a refusal, status, body, WWW-Authenticate and Content-Type, and it must not
reach the application; for an allowed request, status and body (the view's {"user": ...}, from
DRF behind the module), and it must reach the application exactly once. simplejwt's crashes
(variants.SERVER_ERROR_TOKENS, docs/differences.md) by status only.

Standard library only: the Apache suite runs under Debian's python3, without the venv.
"""
import concurrent.futures
import json
import threading
from collections import Counter
from pathlib import Path

import gate_configs
from variants import jwt_feature, jwt_requests

# The application's reached log records this header, so that requests sent in parallel can
# each be told apart there (tests/apache/app/reached_log.py).
CASE_HEADER = "X-E2e-Case"


def views(cases):
    """The table's simplejwt and knox views."""
    return [v for v in gate_configs.expressible_views(cases) if jwt_feature(cases, v)]


def configs(cases, db, python=None, cases_path=gate_configs.CASES):
    """[(config text, [view, ...])]: one drfgate config per SIMPLE_JWT group of the views, the
    reference project's export (gate_configs.exported_configs) when given the venv's `python`,
    else the hand-written one."""
    if python is not None:
        written = gate_configs.exported_configs(cases, cases_path, db, python, views(cases))
        return [(text, members) for text, members in written.values() if members]
    out = []
    for key, members in gate_configs.groups(cases, views(cases)).items():
        if members:
            backends, simple_jwt = gate_configs.split_key(key)
            out.append((gate_configs.config_text(cases, db, members, backends, simple_jwt=simple_jwt),
                        members))
    return out


def prefetch(db, python, cases_path=gate_configs.CASES):
    """Starts exporting `configs`' configs in the background (a daemon thread), so that the
    dozen exports overlap a suite's earlier parts; `configs` then waits for them (the exports
    are computed once per process). Nothing without `python`."""
    if python is None:
        return

    def export():
        try:
            configs(json.loads(Path(cases_path).read_text("utf-8")), db, python, cases_path)
        except Exception:  # noqa: BLE001  (the suite's own call to `configs` raises it again)
            pass

    threading.Thread(target=export, name="jwt-exports", daemon=True).start()


def has_control_octet(value):
    return any(b < 0x20 and b != 0x09 or b == 0x7F for b in value)


def differences(case_compare, ours, theirs, reached):
    """What differs between the module's answer (`ours`) and DRF's (`theirs`)."""
    problems = []
    if ours.status != theirs.status:
        problems.append(f"status {ours.status} != DRF's {theirs.status}")
    allowed = 200 <= theirs.status < 300
    if case_compare == "full":
        if ours.body != theirs.body:
            problems.append(f"body {ours.body!r} != DRF's {theirs.body!r}")
        for name in ("WWW-Authenticate", "Content-Type") if not allowed else ():
            if ours.header(name) != theirs.header(name):
                problems.append(f"{name} {ours.header(name)!r} != DRF's {theirs.header(name)!r}")
    if allowed and reached != 1:
        problems.append(f"allowed, but reached the application {reached} times")
    if not allowed and reached:
        problems.append("refused, but reached the application")
    return problems


def run(cases, send_gated, send_reference, reached_cases, path_of=None, workers=4):
    """Sends every request to the module (`send_gated(view, path, headers)`) and to DRF alone
    (`send_reference(path, headers)`), `workers` at a time; `reached_cases()` is a Counter of
    the CASE_HEADER values the application saw. Returns (Counter of requests by feature, and
    of "allowed" ones; [difference, ...])."""
    path_of = path_of or (lambda view: "/" + cases["views"][view]["path"])
    requests = jwt_requests(cases, views(cases))
    before = reached_cases()

    def one(numbered):
        number, (case_id, _, view, value, case_compare) = numbered
        headers = [] if value is None else [("Authorization", value)]
        if any(has_control_octet(v) for _, v in headers):
            raise ValueError(f"{case_id}: a control octet, which no server passes on")
        theirs = send_reference(path_of(view), headers)
        ours = send_gated(view, path_of(view), headers + [(CASE_HEADER, f"jwt-{number}")])
        return theirs, ours

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        answers = list(pool.map(one, enumerate(requests)))
    reached = reached_cases() - before
    failures = []
    counts = Counter()
    for number, ((case_id, feature, view, _, case_compare), (theirs, ours)) in enumerate(
            zip(requests, answers)):
        counts[feature] += 1
        counts["allowed"] += 200 <= theirs.status < 300
        problems = differences(case_compare, ours, theirs, reached[f"jwt-{number}"])
        if problems:
            failures.append(f"{case_id}: " + "; ".join(problems))
    return counts, failures

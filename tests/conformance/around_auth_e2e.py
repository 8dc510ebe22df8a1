"""The differential's requests around authentication (around_auth_variants.py: hosts against
ALLOWED_HOSTS, Accept, ?format= and format suffixes, request targets with fragments and in
absolute form; and the `forwarded_hosts` settings variant's X-Forwarded-Host and
X-Forwarded-Port) through a web server module, compared with DRF answering the same request
behind the same web server without the module. Used by tests/apache/e2e.py and
tests/nginx/e2e.py, as the differential (tests/conformance/differential.py) sends the same
requests to `drfgate serve` and the Layer.

The reference is DRF behind the same server, not gunicorn alone: what reaches Django depends on
the server (Apache answers a fragment with its own 400 and gives Django the authority of an
absolute-form target as its Host; nginx hands gunicorn the target as sent), and the module must
answer what that deployment's DRF answers.

Compared, per request: the status; the body (a browsable API page's CSRF tokens blanked, as
they change with every answer) unless the request is marked status-only; Content-Type,
WWW-Authenticate and Allow. A request DRF allows must reach the application once, with the
identity DRF found; one DRF refuses must not reach it, unless the request is marked `may_pass`:
then the module may pass it on without an identity (what reaches the application then answers,
and that answer must be DRF's).

Standard library only: the Apache suite runs under Debian's python3, without the venv.
"""
import concurrent.futures
import json
import re
from collections import Counter

import around_auth_variants
import rawhttp
from variants import Generator

# The application's reached log records it (tests/apache/app/reached_log.py), telling
# parallel requests apart.
CASE_HEADER = b"X-E2e-Case"
HOST = b"127.0.0.1"
VIEWS = ("token_ia", "neg_json_only", "neg_html_first", "neg_suffix", "session_ia")
DEFAULT = "default"


def requests(cases, variants=()):
    """The around-auth requests on refproj's settings (variant "default"), then those of each
    host settings variant in `variants` (session_variants.HOST_SETTINGS_VARIANTS)."""
    generator = Generator(cases, [v for v in VIEWS if v in cases["views"]], lambda view: None)
    around_auth_variants.add_around_auth_requests(generator)
    for variant in variants:
        around_auth_variants.add_host_variant_requests(generator, variant)
    for request in generator.requests:
        request["variant"] = request.get("settings_variant") or DEFAULT
    return generator.requests


def page_text(answer):
    """The body, a browsable API page's CSRF tokens (masked anew each time) blanked out."""
    if (answer.header("content-type") or "").startswith("text/html"):
        return re.sub(rb"\b[A-Za-z0-9]{64}\b", b"<csrf token>", answer.body)
    return answer.body


def drf_user(answer):
    try:
        return json.loads(answer.body.decode("utf-8")).get("user")
    except (ValueError, AttributeError):
        return None


def differences(request, theirs, ours, identities):
    """What differs between the module's answer (`ours`) and DRF's (`theirs`), given the
    identities the module handed the application with the gated request, one per time it
    reached it (None: passed on without one). Returns (problems, outcome): "answered" (the
    module refused, as DRF), "allowed" (reached the application with DRF's user) or "passed"."""
    problems = []
    allowed = 200 <= theirs.status < 300
    compared = [("status", ours.status, theirs.status)]
    if request.get("compare", "full") == "full" and request["method"] != b"HEAD":
        compared.append(("body", page_text(ours), page_text(theirs)))
    if request.get("compare", "full") == "full":
        compared += [(name, ours.header(name.lower()), theirs.header(name.lower()))
                     for name in ("Content-Type", "WWW-Authenticate", "Allow")]
    for what, mine, drf in compared:
        if mine != drf:
            problems.append(f"{what} {mine!r} != DRF's {drf!r}")
    passed = identities == [None]
    if passed:
        outcome = "passed"
        if not request.get("may_pass"):
            problems.append(f"passed on to the application without an identity (DRF answered "
                            f"{theirs.status})")
    elif allowed:
        outcome = "allowed"
        wanted = drf_user(theirs)
        # A browsable API page names no user in JSON: reaching the view as someone is enough.
        if wanted is None and (theirs.header("content-type") or "").startswith("text/html"):
            wanted = identities[0] if len(identities) == 1 else "someone"
        if identities != [wanted]:
            problems.append(f"allowed as {wanted!r} by DRF, reached the application "
                            f"{len(identities)} times with identities {identities}")
    else:
        outcome = "answered"
        if identities:
            problems.append(f"refused by DRF, but reached the application with identities "
                            f"{identities}")
    return problems, outcome


def run(all_requests, gated_port, reference_port, reached_identities, workers=4):
    """Sends each request to DRF behind the server alone (`reference_port(variant)`) and
    through the module (`gated_port(variant)`), `workers` at a time; `reached_identities()` is
    {case: [identity or None, ...]} of what the application saw of the gated requests.
    Returns (Counter of requests, "agree", "differ" and each outcome; [difference, ...])."""

    def one(numbered):
        number, request = numbered
        host = request.get("host", HOST)
        is_head = request["method"] == b"HEAD"
        raw = rawhttp.request_bytes(request["method"], request["target"], request["headers"], host)
        theirs = rawhttp.send(reference_port(request["variant"]), raw, is_head)
        tagged = request["headers"] + [(CASE_HEADER, f"around-{number}".encode())]
        raw = rawhttp.request_bytes(request["method"], request["target"], tagged, host)
        return theirs, rawhttp.send(gated_port(request["variant"]), raw, is_head)

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        answers = list(pool.map(one, enumerate(all_requests)))
    reached = reached_identities()
    counts, failures = Counter(), []
    for number, (request, (theirs, ours)) in enumerate(zip(all_requests, answers)):
        problems, outcome = differences(request, theirs, ours, reached.get(f"around-{number}", []))
        counts["requests"] += 1
        counts[outcome] += 1
        counts["differ" if problems else "agree"] += 1
        if problems:
            failures.append(f"{request['id']}: {request['method'].decode()} "
                            f"{request['target'].decode('latin-1')} Host "
                            f"{request.get('host', HOST).decode('latin-1')}: " + "; ".join(problems))
    return counts, failures


def summary(counts):
    return (f"{counts['requests']} requests, {counts['agree']} agree with DRF, "
            f"{counts['differ']} differ ({counts['answered']} answered by the module, "
            f"{counts['allowed']} allowed, {counts['passed']} passed on to the application)")

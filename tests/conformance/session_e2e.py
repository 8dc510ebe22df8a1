"""The differential's other session engines and settings variants (session_variants.py:
signed_cookies, cached_db and cache on Redis; csrf_sessions, csrf_domain) through a web server
module, compared with DRF answering the same request behind the same web server without it.
Used by tests/apache/e2e.py, as the differential (tests/conformance/differential.py) sends the
same requests to `drfgate serve` and the Layer.

Each variant is its own Django project (refproj under that engine or settings module): the
sessions are made by Django for it exactly as the differential makes them
(session_variants.engine_cookies / settings_cookies), and the gate's config is the
differential's for it (the exported default-backends config with the variant's [django] keys).
The caller serves each variant twice, one server block each (Apache: a virtual host per port):
without the module (DRF's reference answer) and with the module and that config.

Compared: status, body, and for a refusal WWW-Authenticate, Allow and Content-Type. A refusal
must not reach the application; an allowed request must reach it once, with the identity DRF
found. A module reads bodies, like the Layer, so a request may be deferred (reach the
application without an identity, which then gives DRF's answer) at most where the differential
lets the Layer defer ("layer_may_defer"); the Apache module, which gives the gate Apache's
SERVER_PORT, nowhere (its caller says so).

Standard library only: the Apache suite runs under Debian's python3, without the venv.
"""
import concurrent.futures
import json
from collections import Counter

import gate_configs
import rawhttp
import session_variants
from variants import Generator

# As in jwt_e2e: the application's reached log records it, telling parallel requests apart.
CASE_HEADER = b"X-E2e-Case"
HOST = b"127.0.0.1"
VIEWS = ("session_ia", "token_session_ia")
OTHER_ENGINES = ("django.contrib.sessions.backends.signed_cookies",
                 "django.contrib.sessions.backends.cached_db",
                 "django.contrib.sessions.backends.cache")


def variant_names():
    """Every engine and settings variant, by the name the differential's --only-variants uses."""
    return [e.rsplit(".", 1)[-1] for e in OTHER_ENGINES] + list(session_variants.SETTINGS_VARIANTS)


def engine_of(name):
    return next((e for e in OTHER_ENGINES if e.rsplit(".", 1)[-1] == name), None)


def environment(name):
    """The environment variables refproj reads for variant `name` (settings module, engine, cache)."""
    engine = engine_of(name)
    if engine:
        return dict(session_variants.engine_env(engine), DJANGO_SETTINGS_MODULE="refproj.settings")
    return session_variants.settings_env(name)


def make_sessions(name, python, django_dir, db):
    """The sessions Django makes for variant `name` (its cookies), as the differential does."""
    engine = engine_of(name)
    if engine:
        return session_variants.engine_cookies(python, django_dir, db, engine)
    return session_variants.settings_cookies(python, django_dir, db, name)


def config_text(name, default_text, scratch):
    """The gate's config for variant `name`, over `default_text` (the default backends' config)."""
    engine = engine_of(name)
    if engine:
        return session_variants.engine_config(default_text, engine, gate_configs.toml_string)
    return session_variants.settings_config(default_text, name, scratch, gate_configs.SECRET_KEY,
                                            gate_configs.ALLOWED_HOSTS, gate_configs.toml_string)


def requests(cases, sessions):
    """The differential's requests of every variant; `sessions`: {name: make_sessions(...)}."""
    generator = Generator(cases, [v for v in VIEWS if v in cases["views"]], lambda view: None)
    for name, made in sessions.items():
        engine = engine_of(name)
        if engine:
            session_variants.add_engine_requests(generator, engine, made)
        else:
            session_variants.add_settings_requests(generator, name, made)
    for request in generator.requests:
        request["variant"] = (request.get("engine") or "").rsplit(".", 1)[-1] or request["settings_variant"]
    return generator.requests


def drf_user(answer):
    try:
        return json.loads(answer.body.decode("utf-8")).get("user")
    except (ValueError, AttributeError):
        return None


def layer_may_defer(request):
    return request.get("layer_may_defer", False)


def differences(request, theirs, ours, reached, may_defer=layer_may_defer):
    """What differs between the module's answer (`ours`) and DRF's (`theirs`), given the
    application's records of the gated request (`reached`); and whether it was deferred."""
    problems = []
    allowed = 200 <= theirs.status < 300
    compared = [("status", ours.status, theirs.status), ("body", ours.body, theirs.body)]
    if not allowed:
        compared += [(name, ours.header(name.lower()), theirs.header(name.lower()))
                     for name in ("WWW-Authenticate", "Allow", "Content-Type")]
    for what, mine, drf in compared:
        if mine != drf:
            problems.append(f"{what} {mine!r} != DRF's {drf!r}")
    identities = [r["gate"].get("DRFGATE_USERNAME") for r in reached]
    deferred = len(reached) == 1 and identities == [None]
    if deferred and not may_defer(request):
        problems.append(f"deferred to the application (DRF answered {theirs.status})")
    if allowed and not deferred and identities != [drf_user(theirs)]:
        problems.append(f"allowed as {drf_user(theirs)!r} by DRF, reached the application "
                        f"{len(reached)} times with identities {identities}")
    if not allowed and reached and not deferred:
        problems.append(f"refused by DRF, but reached the application with identities {identities}")
    return problems, deferred


def run(all_requests, gated_port, reference_port, reached_cases, may_defer=layer_may_defer,
        workers=4):
    """Sends each request to DRF alone (`reference_port(variant)`) and through the module
    (`gated_port(variant)`), `workers` at a time; `reached_cases()` is {case: [record, ...]}
    of what the application saw; `may_defer(request)`: whether the module may defer it.
    Returns (Counter by variant, and of "allowed" and "deferred"; [difference, ...])."""

    def one(numbered):
        number, request = numbered
        host = request.get("host", HOST)
        body = request.get("body", b"")
        raw = rawhttp.request_bytes(request["method"], request["target"], request["headers"], host)
        theirs = rawhttp.send(reference_port(request["variant"]), raw + body)
        tagged = request["headers"] + [(CASE_HEADER, f"session-{number}".encode())]
        raw = rawhttp.request_bytes(request["method"], request["target"], tagged, host)
        return theirs, rawhttp.send(gated_port(request["variant"]), raw + body)

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        answers = list(pool.map(one, enumerate(all_requests)))
    reached = reached_cases()
    counts, failures = Counter(), []
    for number, (request, (theirs, ours)) in enumerate(zip(all_requests, answers)):
        problems, deferred = differences(request, theirs, ours, reached.get(f"session-{number}", []),
                                         may_defer)
        counts[request["variant"]] += 1
        counts["allowed"] += 200 <= theirs.status < 300
        counts["deferred"] += deferred
        if problems:
            failures.append(f"{request['id']} (Host {request.get('host', HOST).decode()}): "
                            + "; ".join(problems))
    return counts, failures

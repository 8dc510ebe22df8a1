"""Throttling through a web server's module (tests/apache/e2e.py, tests/nginx/e2e.py): a gate
config with one anonymous view under `AnonRateThrottle` at 3/min, histories in the local Redis
(the server's processes share them, as workers of one deployment do), and the check that the
fourth request gets DRF's 429 (body and Retry-After as DRF renders them) while another client
still gets through. The app's view (api/throttled/) allows everyone; the gate refuses first.
"""
import json
import os
import re
import time

from gate_configs import toml_string

RATE = 3
DETAIL = re.compile(r"Request was throttled\. Expected available in (\d+) seconds?\.")


def config_text(db):
    """The gate's config; a key prefix of this run's own keeps runs apart."""
    prefix = f"drfgate-e2e-throttle-{os.getpid()}-{time.time_ns()}:"
    return f"""[django]
DATABASE = {toml_string("sqlite://" + str(db))}
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

[rest_framework]
DEFAULT_THROTTLE_RATES = {{ anon = "{RATE}/min" }}

[throttle]
REDIS_URL = "redis://127.0.0.1:6379/0"
KEY_PREFIX = {toml_string(prefix)}

[[routes]]
name = "throttled"
path = "api/throttled/"
authentication_classes = []
permission_classes = ["AllowAny"]
throttle_classes = ["AnonRateThrottle"]
"""


def check_throttled(request, port, check, label):
    """`request(port, method, path, headers)` answers with .status, .header(name), .body."""
    for number in range(1, RATE + 1):
        answer = request(port, "GET", "/api/throttled/")
        check(answer.status == 200, f"{label}: request {number} of {RATE} answered "
                                    f"{answer.status} {answer.body[:200]!r}")
    refused = request(port, "GET", "/api/throttled/")
    check(refused.status == 429, f"{label}: request {RATE + 1} answered {refused.status}, not 429")
    try:
        detail = json.loads(refused.body)["detail"]
    except (ValueError, KeyError, TypeError):
        detail = None
    match = DETAIL.fullmatch(detail or "")
    check(match is not None, f"{label}: 429 body {refused.body!r} is not DRF's")
    seconds = int(match.group(1))
    # DRF: wait() rounded up, in the body and in Retry-After, within the minute's window.
    check(refused.header("retry-after") == str(seconds) and 1 <= seconds <= 60,
          f"{label}: Retry-After {refused.header('retry-after')!r} with {detail!r}")
    check((refused.header("content-type") or "").startswith("application/json"),
          f"{label}: 429 Content-Type {refused.header('content-type')!r}")
    # Without NUM_PROXIES, DRF's get_ident takes X-Forwarded-For as the client: another one.
    other = request(port, "GET", "/api/throttled/", [("X-Forwarded-For", "203.0.113.9")])
    check(other.status == 200, f"{label}: another client answered {other.status}")
    print(f"  {label}: requests 1-{RATE} passed, {RATE + 1} got 429 {detail!r} with "
          f"Retry-After {seconds}; another client passed")

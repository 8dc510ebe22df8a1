"""WSGI wrapper that records every request reaching Python (one JSON line each), so the tests
can tell which requests Apache answered alone, and what request body the application was
handed (its length and SHA-256, so a front end that read the body for the gate is seen to pass
it on unchanged). Never records credential values."""
import hashlib
import io
import json
import os

from django.core.wsgi import get_wsgi_application

django_application = get_wsgi_application()
REACHED_LOG = os.environ["DRFGATE_E2E_REACHED_LOG"]


def read_body(environ):
    """The body as the WSGI server hands it (None: no Content-Length), put back for Django."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length <= 0:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def application(environ, start_response):
    body = read_body(environ)
    record = {
        "method": environ.get("REQUEST_METHOD"),
        "path": environ.get("PATH_INFO"),
        "query": environ.get("QUERY_STRING"),
        "remote_user": environ.get("REMOTE_USER"),
        "auth_type": environ.get("AUTH_TYPE"),
        "has_authorization": "HTTP_AUTHORIZATION" in environ,
        "gate": {k: v for k, v in environ.items() if k.startswith("DRFGATE_")},
        # nginx hands the identity on in request headers (X-Drfgate-User).
        "x_drfgate_user": environ.get("HTTP_X_DRFGATE_USER"),
        # Which request of a batch sent in parallel (tests/conformance/jwt_e2e.py).
        "case": environ.get("HTTP_X_E2E_CASE"),
        "body_len": None if body is None else len(body),
        "body_sha256": None if body is None else hashlib.sha256(body).hexdigest(),
    }
    line = (json.dumps(record) + "\n").encode()
    fd = os.open(REACHED_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return django_application(environ, start_response)

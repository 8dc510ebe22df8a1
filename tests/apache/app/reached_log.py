"""WSGI wrapper that records every request reaching Python (one JSON line each), so the tests
can tell which requests Apache answered alone. Never records credential values."""
import json
import os

from django.core.wsgi import get_wsgi_application

django_application = get_wsgi_application()
REACHED_LOG = os.environ["DRFGATE_E2E_REACHED_LOG"]


def application(environ, start_response):
    record = {
        "method": environ.get("REQUEST_METHOD"),
        "path": environ.get("PATH_INFO"),
        "query": environ.get("QUERY_STRING"),
        "remote_user": environ.get("REMOTE_USER"),
        "auth_type": environ.get("AUTH_TYPE"),
        "has_authorization": "HTTP_AUTHORIZATION" in environ,
        "gate": {k: v for k, v in environ.items() if k.startswith("DRFGATE_")},
    }
    line = (json.dumps(record) + "\n").encode()
    fd = os.open(REACHED_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return django_application(environ, start_response)

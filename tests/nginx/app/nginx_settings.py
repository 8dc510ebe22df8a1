"""The reference project (tests/django/refproj) behind nginx + ngx_http_drfgate_module under
gunicorn: the conformance views, plus the documented way of trusting nginx's signed identity
(drfgate_django's GateAuthentication, docs/django.md)."""
import os

from refproj.settings import *  # noqa: F401,F403

ROOT_URLCONF = "nginx_urls"

# The key nginx's gate signs with (drfgate.toml's [handoff] SECRET_FILE), written by e2e.py.
DRFGATE = {"HANDOFF_SECRET_FILE": os.environ.get("DRFGATE_HANDOFF_SECRET_FILE", "")}

# The identity test sends Host: API.Example.TEST:8443 and checks it arrives unchanged.
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "api.example.test"]  # noqa: F405

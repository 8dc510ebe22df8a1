"""The reference project (tests/django/refproj) behind nginx + ngx_http_drfgate_module under
gunicorn: the conformance views, plus the documented way of trusting nginx's identity header
(examples/nginx/drfgate_headers.py)."""
from refproj.settings import *  # noqa: F401,F403

ROOT_URLCONF = "nginx_urls"

# The conformance views that need other backends set their own (expapp.views); this backend
# takes no username/password, so it changes nothing for Basic logins.
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "drfgate_headers.DrfgateUserBackend",
]

# The identity test sends Host: API.Example.TEST:8443 and checks it arrives unchanged.
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "api.example.test"]  # noqa: F405

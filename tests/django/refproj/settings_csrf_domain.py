"""refproj with CSRF_COOKIE_DOMAIN, for the differential suite's `csrf_domain` settings variant
(tests/conformance/session_variants.py): over HTTPS without an Origin, Django's Referer check
then accepts any host of the cookie's domain (a sibling subdomain) instead of the request's
own host, with request.get_port() when it is not 80 or 443. That port is SERVER_PORT (under
gunicorn over TCP, the port it listens on) or, with USE_X_FORWARDED_PORT, a proxy's
X-Forwarded-Port. Also other cookie names.
"""
from refproj.settings import *  # noqa: F401,F403
from refproj.settings import ALLOWED_HOSTS as BASE_ALLOWED_HOSTS

ALLOWED_HOSTS = BASE_ALLOWED_HOSTS + [".example.test"]
CSRF_COOKIE_DOMAIN = ".example.test"
CSRF_COOKIE_NAME = "xsrf"
SESSION_COOKIE_NAME = "appsession"
USE_X_FORWARDED_PORT = True

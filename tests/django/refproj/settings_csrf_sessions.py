"""refproj with the CSRF and session settings a project may change from Django's defaults, for
the differential suite's `csrf_sessions` settings variant (tests/conformance/session_variants.py):
the CSRF secret kept in the session (CSRF_USE_SESSIONS), other cookie and header names, sessions
in signed cookies, and a rotated SECRET_KEY whose old value is still a fallback. With
CSRF_USE_SESSIONS the HTTPS Referer check takes SESSION_COOKIE_DOMAIN, not CSRF_COOKIE_DOMAIN.

DRFGATE_SIGN_WITH_OLD_KEY=1 makes the old key the only one, so that a session signed with it
can be made (the suite's old-key session, which the served project must still accept).
"""
import os

from refproj.settings import *  # noqa: F401,F403
from refproj.settings import ALLOWED_HOSTS as BASE_ALLOWED_HOSTS
from refproj.settings import SECRET_KEY as OLD_SECRET_KEY

SECRET_KEY = "drfgate-test-rotated-secret-key-not-for-production-fedcba9876543210"
SECRET_KEY_FALLBACKS = [OLD_SECRET_KEY]
if os.environ.get("DRFGATE_SIGN_WITH_OLD_KEY"):
    SECRET_KEY, SECRET_KEY_FALLBACKS = OLD_SECRET_KEY, []

SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_NAME = "appsession"
CSRF_USE_SESSIONS = True
CSRF_COOKIE_NAME = "xsrf"  # unused with CSRF_USE_SESSIONS: a cookie of this name must not count
CSRF_HEADER_NAME = "HTTP_X_XSRF_TOKEN"
ALLOWED_HOSTS = BASE_ALLOWED_HOSTS + [".example.test"]
SESSION_COOKIE_DOMAIN = ".example.test"
CSRF_COOKIE_DOMAIN = ".other.test"  # unused with CSRF_USE_SESSIONS
USE_X_FORWARDED_PORT = True

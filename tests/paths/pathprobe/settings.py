"""refproj's settings (database, hashers, middleware) with the probe's URLconf and DRF defaults.

Environment:
  PATHPROBE_TRUST_GATE=1      the deployment behind the gate: every view lets every request
                              through (no authentication, AllowAny), so only the gate protects
                              it. Unset: the guarded reference, each view with its real
                              authentication and permission classes, and no gate.
  PATHPROBE_ROUTE_SOURCE      where the gate's judged route arrives: "environ" (mod_drfgate's
                              WSGI variable DRFGATE_ROUTE) or "header" (X-Drfgate-Route, set by
                              the proxy in front; percent-encoded). Default "environ".
"""
from refproj.settings import *  # noqa: F401,F403
from refproj.settings import MIDDLEWARE

ROOT_URLCONF = "pathprobe.urls"
# Absolute-form targets name their own authority, which Apache makes the Host.
ALLOWED_HOSTS = ["*"]
# Outermost, so it also reports on Django's 404 and CommonMiddleware's APPEND_SLASH 301.
MIDDLEWARE = ["pathprobe.report.report_middleware"] + MIDDLEWARE
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
}

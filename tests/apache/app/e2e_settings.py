"""The reference project (tests/django/refproj) as deployed behind mod_drfgate: the conformance
views, plus the documented way of trusting Apache's identity (examples/apache/drfgate_identity)."""
from refproj.settings import *  # noqa: F401,F403

ROOT_URLCONF = "e2e_urls"

# The conformance views that need other backends set their own (expapp.views); adding the
# remote-user backend here changes nothing for username/password logins, which it does not accept.
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "drfgate_identity.TrustedRemoteUserBackend",
]

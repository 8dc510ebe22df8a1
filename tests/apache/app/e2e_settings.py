"""The reference project (tests/django/refproj) as deployed behind mod_drfgate: the conformance
views, plus the documented way of trusting Apache's identity (examples/apache/drfgate_identity)."""
import os

from refproj.settings import *  # noqa: F401,F403

ROOT_URLCONF = "e2e_urls"

# The conformance views that need other backends set their own (expapp.views); adding the
# remote-user backend here changes nothing for username/password logins, which it does not accept.
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "drfgate_identity.TrustedRemoteUserBackend",
]

# The key mod_drfgate's gate signs with (drfgate.toml's [handoff]), written by e2e.py.
DRFGATE = {"HANDOFF_SECRET_FILE": os.environ.get("DRFGATE_HANDOFF_SECRET_FILE", "")}

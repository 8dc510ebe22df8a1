"""refproj with DEBUG on and ALLOWED_HOSTS empty, for the differential suite's `debug_hosts`
settings variant (tests/conformance/around_auth_variants.py): Django then allows only the local
names (.localhost, 127.0.0.1, [::1]) and answers any other host with its technical 400 page.
"""
from refproj.settings import *  # noqa: F401,F403

DEBUG = True
ALLOWED_HOSTS = []

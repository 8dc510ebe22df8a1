"""refproj behind a proxy that names the host: USE_X_FORWARDED_HOST and USE_X_FORWARDED_PORT on,
for the differential suite's `forwarded_hosts` settings variant (tests/conformance/
around_auth_variants.py). Django then validates X-Forwarded-Host, when the header is there at
all (even empty), whole, against ALLOWED_HOSTS instead of Host; the port header changes nothing
while a Host header is present.
"""
from refproj.settings import *  # noqa: F401,F403
from refproj.settings import ALLOWED_HOSTS as BASE_ALLOWED_HOSTS

ALLOWED_HOSTS = BASE_ALLOWED_HOSTS + [".example.test", "public.example"]
USE_X_FORWARDED_HOST = True
USE_X_FORWARDED_PORT = True

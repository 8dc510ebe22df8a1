"""Settings of the reference Django + DRF project that drfgate is tested against.

Environment:
  DRFGATE_DJANGO_DB        SQLite file (default <repo>/build/django/db.sqlite3), or a server
                           database as postgres://user[:password]@host:port/name or
                           mysql://… (tests/django/server_db.py)
  DRFGATE_DJANGO_SECRET    SECRET_KEY (default: a fixed, public test value)
  DRFGATE_DJANGO_BACKENDS  AUTHENTICATION_BACKENDS, comma-separated (default: ModelBackend)
  DRFGATE_CASES            conformance table whose views refproj.urls serves
                           (default <repo>/tests/conformance/cases.json)
"""
import json
import os
import sys
from pathlib import Path

DJANGO_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = DJANGO_DIR.parent.parent
# drfgate's own Django app (python/drfgate-django), from this checkout rather than installed, so
# that `manage.py drfgate_export` exports this project with the package under test.
sys.path.append(str(REPO_ROOT / "python" / "drfgate-django" / "src"))

# A fixed key keeps session/CSRF signatures reproducible for tests; never a real deployment's key.
SECRET_KEY = os.environ.get(
    "DRFGATE_DJANGO_SECRET", "drfgate-test-secret-key-not-for-production-0123456789abcdef"
)
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_simplejwt.token_blacklist",
    "knox",
    "expapp",
    "drfgate_django",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

# The session engine: db unless the differential suite runs another engine's gunicorn.
SESSION_ENGINE = os.environ.get("DRFGATE_SESSION_ENGINE", "django.contrib.sessions.backends.db")

# The cache session engine's runs keep sessions in Django's RedisCache on the local Redis, under a
# key prefix of the run's own (the gate's config names the same LOCATION and KEY_PREFIX).
if os.environ.get("DRFGATE_REDIS_CACHE"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["DRFGATE_REDIS_CACHE"],
            "KEY_PREFIX": os.environ.get("DRFGATE_CACHE_KEY_PREFIX", ""),
        }
    }

# The CSRF settings the session cases exercise (tests/conformance/gate_configs.py gives the gate the
# same values): trusted origins, exact and wildcard, and a TLS proxy's header.
CSRF_TRUSTED_ORIGINS = ["https://trusted.example", "https://*.wild.example"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# DRF's browsable API renders its pages from rest_framework's templates (content negotiation
# picks it for Accept: text/html and ?format=api).
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
STATIC_URL = "/static/"

ROOT_URLCONF = "refproj.urls"
WSGI_APPLICATION = "refproj.wsgi.application"

sys.path.insert(0, str(DJANGO_DIR))
import server_db  # noqa: E402  (tests/django/server_db.py)

DATABASES = {
    "default": server_db.django_database(
        os.environ.get("DRFGATE_DJANGO_DB", str(REPO_ROOT / "build" / "django" / "db.sqlite3"))
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

# Views that need other backends (RemoteUser) say so in the conformance table; see expapp.views.
# DRFGATE_DJANGO_BACKENDS (comma-separated) replaces them, for drfgate_export: one export per
# backends group of the table (tests/conformance/gate_configs.py, exported_configs).
AUTHENTICATION_BACKENDS = os.environ.get(
    "DRFGATE_DJANGO_BACKENDS", "django.contrib.auth.backends.ModelBackend"
).split(",")

# Django 5.2's defaults plus the two legacy hashers, so the fixture has a user for every format the
# gate may meet in a real auth_user table.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.BCryptPasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]

USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = True
LANGUAGE_CODE = "en-us"

# DRF's defaults are left alone on purpose: the conformance table names every view's classes.
REST_FRAMEWORK = {}

# simplejwt reads AUTH_HEADER_TYPES once at import: both types are on for every view. Views that
# need other settings (an algorithm, a key, CHECK_REVOKE_TOKEN) say so in the conformance table
# ("simple_jwt"); expapp.views applies them per request.
SIMPLE_JWT = {"AUTH_HEADER_TYPES": ("Bearer", "JWT")}
# Where make_fixture_db.py writes the JWT keys and the tokens it minted.
JWT_FIXTURE_DIR = Path(os.environ.get("DRFGATE_JWT_DIR", str(REPO_ROOT / "build" / "django" / "jwt")))
# DRFGATE_DJANGO_SIMPLE_JWT (JSON): a table group's own SIMPLE_JWT, made this project's global one
# for drfgate_export (tests/conformance/gate_configs.py, exported_configs), as a project with those
# settings would have them: a `*_FILE` key of JWT_FIXTURE_DIR becomes the key's text.
for _key, _value in json.loads(os.environ.get("DRFGATE_DJANGO_SIMPLE_JWT") or "{}").items():
    if _key.endswith("_FILE"):
        _key, _value = _key[: -len("_FILE")], (JWT_FIXTURE_DIR / _value).read_text("utf-8")
    SIMPLE_JWT[_key] = _value

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # 4xx answers are the point of these tests; only server errors are worth a log line.
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False}},
}

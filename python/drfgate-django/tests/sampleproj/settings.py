"""A small DRF project with every URLconf shape drfgate_export walks (tests only)."""
import os

SECRET_KEY = "drfgate-django-tests-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "rest_framework.authtoken",
    "drfgate_django",
    "sampleapp",
]
MIDDLEWARE = []
# SAMPLEPROJ_URLCONF: another URLconf for tests that run manage.py (test_check).
ROOT_URLCONF = os.environ.get("SAMPLEPROJ_URLCONF", "sampleproj.urls")
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SAMPLEPROJ_DB", "/srv/sample/db.sqlite3"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

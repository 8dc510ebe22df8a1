# Django settings for an application behind mod_drfgate (add to the project's settings.py).
# The gate has already authenticated the request and checked its permissions; Django trusts
# the user it names in REMOTE_USER. drfgate_identity.py (next to this file) goes on the
# project's python-path.

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",  # admin logins, management commands
    # RemoteUserBackend with create_unknown_user = False, and the WSGI Latin-1 fix for
    # non-ASCII usernames.
    "drfgate_identity.TrustedRemoteUserBackend",
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.RemoteUserAuthentication",
    ],
    # Keep the permission classes the gate's config mirrors: DRF checks them again (cheaply)
    # for allowed requests, and object permissions are still the views' job.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
    ],
}

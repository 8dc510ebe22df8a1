"""Django side of mod_drfgate: trust the user Apache authenticated.

mod_drfgate decides every request of a protected location before Python runs and, on an
allowed request, sets REMOTE_USER (Apache's r->user) and DRFGATE_USER_ID, DRFGATE_USERNAME,
DRFGATE_AUTH and DRFGATE_IS_STAFF. Client headers can never set these: a header
`Remote-User: admin` arrives as HTTP_REMOTE_USER.

Settings:

    AUTHENTICATION_BACKENDS = [
        "django.contrib.auth.backends.ModelBackend",
        "drfgate_identity.TrustedRemoteUserBackend",
    ]
    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "rest_framework.authentication.RemoteUserAuthentication",
        ],
    }
"""
from django.contrib.auth.backends import RemoteUserBackend


class TrustedRemoteUserBackend(RemoteUserBackend):
    """Django's RemoteUserBackend for a REMOTE_USER set by mod_drfgate."""

    # The gate only ever names users that exist in the database it shares with Django; never
    # create one from a server variable.
    create_unknown_user = False

    def clean_username(self, username):
        # WSGI (PEP 3333) hands server variables to Python as their bytes decoded as
        # ISO-8859-1, and mod_drfgate sends the username's UTF-8 bytes: "walterwhité" would
        # arrive as "walterwhitÃ©". Undo that; a name that is not such a round trip is kept.
        try:
            return username.encode("iso-8859-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return username

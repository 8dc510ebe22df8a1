"""Django side of ngx_http_drfgate_module (and of `drfgate serve` behind a proxy): trust the
user nginx names in X-Drfgate-User, a header nginx always overwrites (examples/nginx/).

Only safe when every way to the app goes through nginx with `proxy_set_header X-Drfgate-User
$drfgate_user;` in each location that proxies to it: bind gunicorn to 127.0.0.1 or a socket
nginx alone can reach.

Settings:

    AUTHENTICATION_BACKENDS = [
        "django.contrib.auth.backends.ModelBackend",
        "drfgate_headers.DrfgateUserBackend",
    ]
    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["drfgate_headers.DrfgateHeaderAuthentication"],
    }

Behind uWSGI (examples/nginx/drfgate-module-uwsgi.conf) use DrfgateUwsgiAuthentication: the
user is the uwsgi_param DRFGATE_USER there.
"""
from urllib.parse import unquote

from django.contrib.auth.backends import RemoteUserBackend
from rest_framework.authentication import RemoteUserAuthentication


class DrfgateUserBackend(RemoteUserBackend):
    """Django's RemoteUserBackend for a username nginx passes on, percent-encoded UTF-8
    (`walterwhité` arrives as `walterwhit%C3%A9`: a header carries no raw UTF-8 safely)."""

    # The gate only ever names users that exist in the database it shares with Django.
    create_unknown_user = False

    def clean_username(self, username):
        return unquote(username, errors="strict")


class DrfgateHeaderAuthentication(RemoteUserAuthentication):
    """DRF's RemoteUserAuthentication, reading X-Drfgate-User (WSGI: HTTP_X_DRFGATE_USER).
    No header, or an empty one (anonymous): not authenticated by this class."""

    header = "HTTP_X_DRFGATE_USER"


class DrfgateUwsgiAuthentication(RemoteUserAuthentication):
    """The same for uWSGI, where nginx sets the variable DRFGATE_USER (uwsgi_param)."""

    header = "DRFGATE_USER"

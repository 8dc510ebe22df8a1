"""GateAuthentication: DRF's request.user from the gate's signed identity, without a query.

Put it first in DEFAULT_AUTHENTICATION_CLASSES (`drfgate_django.defaults.gate_first`), the
project's own classes after it. A request the gate allowed arrives signed: its user is built from
the signed fields (pk, username, is_active, is_staff, is_superuser), every other field deferred,
loaded by Django on first access. A request without the gate's headers (a route the gate passes
unjudged, an anonymous request) is declined, and the next classes judge it as before. Claimed
identity headers without a valid signature are refused (AuthenticationFailed).

Where the identity comes from:
- `drfgate serve`, the tower Layer and nginx (`proxy_set_header`, or `uwsgi_param HTTP_X_DRFGATE_*`):
  the `X-Drfgate-*` headers, username and pk percent-encoded UTF-8;
- Apache's mod_drfgate under mod_wsgi: the `DRFGATE_*` WSGI environ variables it sets, which no
  client can send (a header arrives as `HTTP_*`), the username as it is (WSGI's latin-1 text).
Both are signed the same way; the environ is used whenever it carries a signature.

Settings: DRFGATE = {"HANDOFF_SECRET_FILE": "/etc/drfgate/handoff.key",
                     "HANDOFF_MAX_SKEW_SECONDS": 30}
"""
import time
from dataclasses import dataclass
from typing import Optional
from urllib.parse import unquote

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import router
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from . import handoff

SIGNATURE = "HTTP_X_DRFGATE_SIGNATURE"
AUTH = "HTTP_X_DRFGATE_AUTH"
USER = "HTTP_X_DRFGATE_USER"
USER_ID = "HTTP_X_DRFGATE_USER_ID"
USER_FLAGS = "HTTP_X_DRFGATE_USER_FLAGS"
ROUTE = "HTTP_X_DRFGATE_ROUTE"
DEFAULT_MAX_SKEW = 30


@dataclass(frozen=True)
class Claim:
    """The identity fields one request carries, decoded, and the signature over them."""

    signature: Optional[str]
    auth: str
    pk: str
    username: str
    flags: str
    route: Optional[str]
    claimed: bool  # an identity is named, signed or not


def _wsgi_text(value):
    """A WSGI environ value (latin-1 decoded bytes, PEP 3333) as the UTF-8 text it was."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _claim(meta):
    if "DRFGATE_SIGNATURE" in meta:
        # Apache's mod_drfgate: its own variables, never a client's headers.
        route = meta.get("DRFGATE_ROUTE")
        return Claim(meta["DRFGATE_SIGNATURE"], meta.get("DRFGATE_AUTH") or "anonymous",
                     _wsgi_text(meta.get("DRFGATE_USER_ID", "")),
                     _wsgi_text(meta.get("DRFGATE_USERNAME", "")),
                     meta.get("DRFGATE_USER_FLAGS", ""),
                     _wsgi_text(route) if route else None, True)
    route = meta.get(ROUTE)
    # nginx drops a header whose value is empty: no X-Drfgate-Auth is an anonymous request
    # (the signature covers `anonymous`, so this cannot promote anyone).
    # uwsgi_param passes empty values: an empty header is an absent one.
    return Claim(meta.get(SIGNATURE) or None, meta.get(AUTH) or "anonymous",
                 unquote(meta.get(USER_ID, "")), unquote(meta.get(USER, "")),
                 meta.get(USER_FLAGS, ""), unquote(route) if route else None,
                 bool(meta.get(USER) or meta.get(USER_ID)))


@dataclass(frozen=True)
class GateAuth:
    """request.auth: how the gate authenticated (`token`, `basic`, `remote_user`, …) and the
    route it judged. DRF would put the Token instance there for Token: that needs a query."""

    scheme: str
    route: Optional[str]

    def __str__(self):
        return self.scheme


class GateAuthentication(BaseAuthentication):
    def authenticate(self, request):
        claim = _claim(request.META)
        if claim.signature is None:
            if claim.claimed:
                raise exceptions.AuthenticationFailed("Unsigned drfgate identity.")
            return None
        config = getattr(settings, "DRFGATE", {})
        try:
            key = handoff.read_key(config["HANDOFF_SECRET_FILE"])
        except (KeyError, OSError, handoff.HandoffError) as error:
            raise ImproperlyConfigured(f"DRFGATE['HANDOFF_SECRET_FILE']: {error}") from None
        try:
            handoff.verify(key, claim.signature, int(time.time()),
                           int(config.get("HANDOFF_MAX_SKEW_SECONDS", DEFAULT_MAX_SKEW)),
                           request.method, request._request.path_info, claim.auth, claim.pk,
                           claim.username, claim.flags)
        except handoff.HandoffError:
            raise exceptions.AuthenticationFailed("Invalid drfgate identity signature.") from None
        if claim.auth == "anonymous" or not claim.pk:
            return None
        flags = set(claim.flags.split(",")) if claim.flags else set()
        return _user(claim.pk, claim.username, flags), GateAuth(claim.auth, claim.route)

    def authenticate_header(self, request):
        # DRF takes the first class's challenge for 401 vs 403: give the next class's, so that
        # putting this class first changes no refusal. (DRF asks fresh instances, so the
        # request's own list is searched by class.)
        authenticators = list(getattr(request, "authenticators", ()) or ())
        following = [a for a in authenticators if not isinstance(a, GateAuthentication)]
        return following[0].authenticate_header(request) if following else None


def _user(pk, username, flags):
    """The user model with the known fields set and every other deferred (Model.from_db)."""
    model = get_user_model()
    meta = model._meta
    try:
        known = {meta.pk.attname: meta.pk.to_python(pk)}
    except ValidationError:
        raise exceptions.AuthenticationFailed("Invalid drfgate identity.") from None
    known[meta.get_field(model.USERNAME_FIELD).attname] = username
    for name, value in (("is_active", True), ("is_staff", "staff" in flags),
                        ("is_superuser", "superuser" in flags)):
        if any(f.attname == name for f in meta.concrete_fields):
            known[name] = value
    fields = [f.attname for f in meta.concrete_fields if f.attname in known]
    return model.from_db(router.db_for_read(model), fields, [known[f] for f in fields])

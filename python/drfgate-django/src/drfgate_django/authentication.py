"""GateAuthentication: DRF's request.user from the gate's signed identity, without a query.

Put it first in DEFAULT_AUTHENTICATION_CLASSES (`drfgate_django.settings.gate_first`), the
project's own classes after it. A request the gate allowed arrives signed: its user is built from
the signed fields (pk, username, is_active, is_staff, is_superuser), every other field deferred,
loaded by Django on first access. A request without the gate's headers (a route the gate passes
unjudged, an anonymous request) is declined, and the next classes judge it as before. Claimed
identity headers without a valid signature are refused (AuthenticationFailed).

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
class GateAuth:
    """request.auth: how the gate authenticated (`token`, `basic`, `remote_user`, …) and the
    route it judged. DRF would put the Token instance there for Token: that needs a query."""

    scheme: str
    route: Optional[str]

    def __str__(self):
        return self.scheme


class GateAuthentication(BaseAuthentication):
    def authenticate(self, request):
        meta = request.META
        header = meta.get(SIGNATURE)
        claimed = USER in meta or USER_ID in meta
        if header is None:
            if claimed:
                raise exceptions.AuthenticationFailed("Unsigned drfgate identity.")
            return None
        config = getattr(settings, "DRFGATE", {})
        try:
            key = handoff.read_key(config["HANDOFF_SECRET_FILE"])
        except (KeyError, OSError, handoff.HandoffError) as error:
            raise ImproperlyConfigured(f"DRFGATE['HANDOFF_SECRET_FILE']: {error}") from None
        auth = meta.get(AUTH, "")
        pk = unquote(meta.get(USER_ID, ""))
        username = unquote(meta.get(USER, ""))
        flags = meta.get(USER_FLAGS, "")
        try:
            handoff.verify(key, header, int(time.time()),
                           int(config.get("HANDOFF_MAX_SKEW_SECONDS", DEFAULT_MAX_SKEW)),
                           request.method, request._request.path_info, auth, pk, username, flags)
        except handoff.HandoffError:
            raise exceptions.AuthenticationFailed("Invalid drfgate identity signature.") from None
        if auth == "anonymous" or not pk:
            return None
        route = meta.get(ROUTE)
        return (_user(pk, username, set(flags.split(",")) if flags else set()),
                GateAuth(auth, unquote(route) if route else None))

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

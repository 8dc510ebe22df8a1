"""The settings of the authentication packages the gate implements, key for key under their own
names: `[simple_jwt]` from djangorestframework-simplejwt's SIMPLE_JWT, `[rest_knox]` from
django-rest-knox's REST_KNOX (docs/configuration.md).

Only the keys the project sets are written: the gate's defaults are the packages'. A secret is
never written: SIMPLE_JWT's SIGNING_KEY becomes SIGNING_KEY_FILE (drfgate_export
--jwt-signing-key-file), or nothing when it is SECRET_KEY (the gate's default too, from
[django] SECRET_KEY_FILE). Values Python spells without a TOML twin are translated: a timedelta
as `{ seconds = … }`, None as `false` for the claim names simplejwt lets be None, a class as its
dotted path. A key the gate does not know, or a value it refuses, is left out with a warning.
"""
from datetime import timedelta

from django.apps import apps
from django.conf import settings

from . import tomlwrite

# SIMPLE_JWT keys the gate reads or accepts ([simple_jwt]), SIGNING_KEY apart.
SIMPLE_JWT_KEYS = (
    "ALGORITHM", "VERIFYING_KEY", "AUDIENCE", "ISSUER", "JWK_URL", "LEEWAY", "AUTH_HEADER_TYPES",
    "AUTH_HEADER_NAME", "USER_ID_FIELD", "USER_ID_CLAIM", "TOKEN_TYPE_CLAIM", "JTI_CLAIM",
    "AUTH_TOKEN_CLASSES", "CHECK_USER_IS_ACTIVE", "CHECK_REVOKE_TOKEN", "REVOKE_TOKEN_CLAIM",
    "TOKEN_USER_CLASS", "ACCESS_TOKEN_LIFETIME", "REFRESH_TOKEN_LIFETIME", "SLIDING_TOKEN_LIFETIME",
    "SLIDING_TOKEN_REFRESH_LIFETIME", "SLIDING_TOKEN_REFRESH_EXP_CLAIM", "ROTATE_REFRESH_TOKENS",
    "BLACKLIST_AFTER_ROTATION", "UPDATE_LAST_LOGIN",
)
# simplejwt keys that only matter where tokens are issued or refreshed (its views and
# serializers): nothing the gate judges, left out without a word.
SIMPLE_JWT_ISSUING_KEYS = {
    "USER_AUTHENTICATION_RULE", "TOKEN_OBTAIN_SERIALIZER", "TOKEN_REFRESH_SERIALIZER",
    "TOKEN_VERIFY_SERIALIZER", "TOKEN_BLACKLIST_SERIALIZER", "SLIDING_TOKEN_OBTAIN_SERIALIZER",
    "SLIDING_TOKEN_REFRESH_SERIALIZER", "ENCODER", "JSON_ENCODER", "CHECK_REVOKE_TOKEN_ON_REFRESH",
    "ON_LOGIN_SUCCESS", "ON_LOGIN_FAILED",
}
# Claim names simplejwt lets be None (the check skipped): `false` in TOML, which has no null.
NULLABLE_CLAIMS = {"TOKEN_TYPE_CLAIM", "JTI_CLAIM"}
HMAC_ALGORITHMS = {"HS256", "HS384", "HS512"}

# REST_KNOX keys the gate reads or accepts ([rest_knox]).
REST_KNOX_KEYS = (
    "AUTH_HEADER_PREFIX", "SECURE_HASH_ALGORITHM", "AUTO_REFRESH", "AUTO_REFRESH_MAX_TTL",
    "MIN_REFRESH_INTERVAL", "TOKEN_TTL", "TOKEN_MODEL", "TOKEN_PREFIX",
    "AUTH_TOKEN_CHARACTER_LENGTH", "TOKEN_LIMIT_PER_USER", "USER_SERIALIZER",
    "EXPIRY_DATETIME_FORMAT",
)


class Untranslatable(ValueError):
    pass


def toml_of(item):
    """A setting's value as the gate's config spells it."""
    if isinstance(item, timedelta):
        seconds = item.total_seconds()
        return {"seconds": int(seconds) if seconds == int(seconds) else seconds}
    if isinstance(item, (list, tuple)):
        return [toml_of(v) for v in item]
    if isinstance(item, (bool, int, float, str)):
        return item
    if isinstance(item, type) or callable(item):
        # A class or function setting (a serializer): its import path, as a string setting is.
        return f"{item.__module__}.{getattr(item, '__qualname__', item.__name__)}"
    raise Untranslatable(f"{item!r} has no spelling in the gate's config")


def _lines(section, keys, warnings, value_of):
    lines = []
    for key in keys:
        try:
            value = value_of(key)
        except Untranslatable as why:
            warnings.append(f"{section} {key}: left out: {why}")
            continue
        if value is not None:
            lines.append(f"{key} = {tomlwrite.value(value)}")
    return lines


def simple_jwt_section(options, warnings):
    user_settings = dict(getattr(settings, "SIMPLE_JWT", None) or {})
    blacklist = apps.is_installed("rest_framework_simplejwt.token_blacklist")
    if not user_settings and not blacklist:
        return []
    for key in sorted(set(user_settings) - set(SIMPLE_JWT_KEYS) - SIMPLE_JWT_ISSUING_KEYS - {"SIGNING_KEY"}):
        warnings.append(f"SIMPLE_JWT {key}: not a setting the gate knows; left out")
    lines = ["", "[simple_jwt]"]
    algorithm = user_settings.get("ALGORITHM", "HS256")
    signing_key = user_settings.get("SIGNING_KEY", settings.SECRET_KEY)
    if algorithm in HMAC_ALGORITHMS and signing_key != settings.SECRET_KEY:
        if options.jwt_signing_key_file:
            lines.append(f"SIGNING_KEY_FILE = {tomlwrite.string(options.jwt_signing_key_file)}")
        else:
            lines.append('# SIGNING_KEY is never written here: SIGNING_KEY_FILE = "…" '
                         "(drfgate_export --jwt-signing-key-file)")
            warnings.append("SIMPLE_JWT SIGNING_KEY: never written; give the gate its file with "
                            "--jwt-signing-key-file, or JWT tokens are checked against SECRET_KEY")

    def value_of(key):
        if key not in user_settings:
            return None
        value = user_settings[key]
        if key == "JWK_URL":
            if value:
                raise Untranslatable("the gate fetches no keys at request time; give it VERIFYING_KEY")
            return None
        if key == "VERIFYING_KEY" and algorithm in HMAC_ALGORITHMS:
            return None  # simplejwt ignores it for HS*: the signing key verifies
        if value is None:
            return False if key in NULLABLE_CLAIMS else None
        if key == "VERIFYING_KEY" and isinstance(value, bytes):
            value = value.decode("ascii")
        return toml_of(value)

    lines += _lines("SIMPLE_JWT", SIMPLE_JWT_KEYS, warnings, value_of)
    if blacklist:
        lines.append("token_blacklist_installed = true")
    return lines


def rest_knox_section(warnings):
    user_settings = dict(getattr(settings, "REST_KNOX", None) or {})
    if not user_settings:
        return []
    for key in sorted(set(user_settings) - set(REST_KNOX_KEYS)):
        warnings.append(f"REST_KNOX {key}: not a setting the gate knows; left out")

    def value_of(key):
        value = user_settings.get(key)
        if value is None:
            return None
        if key == "AUTO_REFRESH" and value:
            raise Untranslatable("the gate never writes the database, so it cannot move a token's "
                                 "expiry; Django refreshes tokens on the requests it sees")
        if key == "SECURE_HASH_ALGORITHM" and not isinstance(value, str):
            raise Untranslatable(f"{value!r}: the gate knows knox's default, 'hashlib.sha512'")
        return toml_of(value)

    return ["", "[rest_knox]"] + _lines("REST_KNOX", REST_KNOX_KEYS, warnings, value_of)

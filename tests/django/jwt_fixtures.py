"""JWT keys and tokens for the conformance suites, made by the real packages: keys by
`cryptography`, tokens by simplejwt (AccessToken/RefreshToken/SlidingToken.for_user, blacklist())
and by knox (AuthToken.objects.create). Called by make_fixture_db.py inside its Django setup;
writes <JWT_FIXTURE_DIR>/*.pem and tokens.json ({name: token}).

Lifetimes are long (a year) or clearly past (a day ago), so a token's verdict cannot change while
a suite runs; a token "issued in the future" is issued a day ahead.
"""
import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

# The expiries of knox_expired_1969 and knox_john_2040 (crates/drfgate/tests/knox_expiry.rs).
KNOX_EXPIRED_1969 = datetime(1969, 7, 20, 20, 17, 40, tzinfo=timezone.utc)
KNOX_JOHN_2040 = datetime(2040, 1, 1, tzinfo=timezone.utc)

# Keys, by file name: (kind, PEM of the private key written beside the public one).
KEY_FILES = {
    "rsa": "rsa.pub.pem",
    "rsa_other": "rsa_other.pub.pem",
    "p256": "p256.pub.pem",
    "p384": "p384.pub.pem",
    "ed25519": "ed25519.pub.pem",
}
YEAR = timedelta(days=365)
DAY = timedelta(days=1)


def make_keys(directory):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    private = {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "rsa_other": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "p256": ec.generate_private_key(ec.SECP256R1()),
        "p384": ec.generate_private_key(ec.SECP384R1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
    }
    pems = {}
    for name, key in private.items():
        private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        (directory / KEY_FILES[name]).write_text(public_pem, "utf-8")
        pems[name] = (private_pem, public_pem)
    return pems


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def tampered(token):
    """The last signature character changed (a different signature, still canonical base64)."""
    head, signature = token.rsplit(".", 1)
    first = signature[0]
    return f"{head}.{'B' if first == 'A' else 'A'}{signature[1:]}"


def mint(tokens, pems):
    from django.conf import settings
    from django.contrib.auth.models import User
    from knox.models import AuthToken
    from rest_framework_simplejwt import state
    from rest_framework_simplejwt.backends import TokenBackend
    from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, SlidingToken
    from rest_framework_simplejwt.utils import aware_utcnow, get_md5_hash_password

    john = User.objects.get(username="john")
    ina = User.objects.get(username="ina")
    admin = User.objects.get(username="admin")
    now = aware_utcnow()
    default_backend = state.token_backend

    def access(user, backend=None, **changes):
        """An AccessToken.for_user, valid for a year unless `changes` say otherwise; None
        deletes a claim."""
        state.token_backend = backend or default_backend
        try:
            token = AccessToken.for_user(user)
            token.set_exp(lifetime=YEAR)
            for claim, value in changes.items():
                if value is None:
                    del token[claim]
                else:
                    token[claim] = value
            return str(token)
        finally:
            state.token_backend = default_backend

    # HS256 with SECRET_KEY (simplejwt's defaults).
    tokens["access_john"] = access(john)
    tokens["access_john_int_id"] = access(john, user_id=john.pk)
    tokens["access_admin"] = access(admin)
    tokens["access_ina"] = access(ina)
    tokens["access_unknown_user"] = access(john, user_id="999999")
    tokens["access_non_numeric_id"] = access(john, user_id="john")
    tokens["access_expired"] = access(john, exp=int((now - DAY).timestamp()))
    tokens["access_future_iat"] = access(john, iat=int((now + DAY).timestamp()))
    tokens["access_future_nbf"] = access(john, nbf=int((now + DAY).timestamp()))
    tokens["access_string_exp"] = access(john, exp=str(int((now + YEAR).timestamp())))
    tokens["access_float_iat"] = access(john, iat=now.timestamp() - 10.5)
    tokens["access_bad_iat"] = access(john, iat="yesterday")
    tokens["access_int_jti"] = access(john, jti=7)
    tokens["access_no_user_id"] = access(john, user_id=None)
    tokens["access_no_jti"] = access(john, jti=None)
    tokens["access_no_type"] = access(john, token_type=None)
    tokens["access_no_exp"] = access(john, exp=None)
    tokens["access_sub_int"] = access(john, sub=5)
    tokens["access_aud_ignored"] = access(john, aud="elsewhere")
    tokens["access_tampered"] = tampered(tokens["access_john"])
    tokens["access_revoke_ok"] = access(john, hash_password=get_md5_hash_password(john.password))
    tokens["access_revoke_stale"] = access(john, hash_password="0" * 32)
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = tokens["access_john"].split(".")[1]
    tokens["access_alg_none"] = f"{header}.{payload}."
    tokens["access_padded_signature"] = tokens["access_john"] + "="

    refresh = RefreshToken.for_user(john)
    refresh.set_exp(lifetime=YEAR)
    tokens["refresh_john"] = str(refresh)
    refresh.outstand()
    banned = RefreshToken.for_user(john)
    banned.set_exp(lifetime=YEAR)
    banned.blacklist()
    tokens["refresh_blacklisted"] = str(banned)
    sliding = SlidingToken.for_user(john)
    sliding.set_exp(lifetime=YEAR)
    tokens["sliding_john"] = str(sliding)
    sliding_banned = SlidingToken.for_user(john)
    sliding_banned.set_exp(lifetime=YEAR)
    sliding_banned.blacklist()
    tokens["sliding_blacklisted"] = str(sliding_banned)

    # Audience, issuer, leeway.
    aud = TokenBackend("HS256", settings.SECRET_KEY, audience="drfgate-tests", issuer="drfgate-issuer")
    tokens["access_aud"] = access(john, aud)
    tokens["access_aud_expired_in_leeway"] = access(john, aud, exp=int((now - DAY).timestamp()))
    wrong = TokenBackend("HS256", settings.SECRET_KEY, audience="other", issuer="drfgate-issuer")
    tokens["access_aud_wrong"] = access(john, wrong)

    # Other algorithms.
    tokens["access_hs512"] = access(john, TokenBackend("HS512", settings.SECRET_KEY))
    families = {
        "rs256": ("RS256", "rsa"),
        "rs256_other_key": ("RS256", "rsa_other"),
        "ps512": ("PS512", "rsa"),
        "es256": ("ES256", "p256"),
        "es384": ("ES384", "p384"),
        "eddsa": ("EdDSA", "ed25519"),
    }
    for name, (algorithm, key) in families.items():
        private_pem, public_pem = pems[key]
        backend = TokenBackend(algorithm, private_pem, public_pem)
        tokens[f"access_{name}"] = access(john, backend)
    tokens["access_rs256_tampered"] = tampered(tokens["access_rs256"])
    tokens["access_es256_tampered"] = tampered(tokens["access_es256"])
    rs_expired = TokenBackend("RS256", pems["rsa"][0], pems["rsa"][1])
    tokens["access_rs256_expired"] = access(john, rs_expired, exp=int((now - DAY).timestamp()))
    # Algorithm confusion: an HS256 token whose HMAC key is the RS256 site's public key (PyJWT
    # refuses to sign with a PEM as an HMAC key, so it is signed here by hand).
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = tokens["access_rs256"].split(".")[1]
    signature = hmac.new(pems["rsa"][1].encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    tokens["access_alg_confusion"] = f"{header}.{payload}.{b64url(signature)}"

    # knox.
    _, tokens["knox_john"] = AuthToken.objects.create(user=john, expiry=YEAR)
    _, tokens["knox_admin_never_expires"] = AuthToken.objects.create(user=admin, expiry=None)
    _, tokens["knox_ina"] = AuthToken.objects.create(user=ina, expiry=YEAR)
    _, tokens["knox_expired"] = AuthToken.objects.create(user=admin, expiry=-DAY)
    # Expiries outside 1970-2038 (32-bit Unix time), which some databases' date functions do
    # not reach: one long past (an admin disabling a token by backdating it), one after 2038.
    # The first is super's only knox token: knox deletes a user's expired tokens whenever any
    # token of that user is used, and john's are used first.
    superuser = User.objects.get(username="super")
    for name, user, expiry in (("knox_expired_1969", superuser, KNOX_EXPIRED_1969),
                               ("knox_john_2040", john, KNOX_JOHN_2040)):
        row, tokens[name] = AuthToken.objects.create(user=user, expiry=YEAR)
        row.expiry = expiry
        row.save(update_fields=["expiry"])
    tokens["knox_unknown"] = "0" * 64
    tokens["knox_wrong_digest"] = tokens["knox_john"][:15] + "0" * 49


def write(directory):
    directory.mkdir(parents=True, exist_ok=True)
    pems = make_keys(directory)
    tokens = {}
    mint(tokens, pems)
    (directory / "tokens.json").write_text(json.dumps(tokens, indent=1) + "\n", "utf-8")
    return len(tokens)

"""The signed hand-off of an identity from the gate to the application.

The gate (`drfgate serve`, the tower Layer: crates/drfgate/src/handoff.rs) signs what it decided
for one request: HMAC-SHA256, keyed with a secret file both sides read, over a version tag and
the time, the method, Django's `path_info`, the scheme, the user's pk, username and flags, each
field length-prefixed so that no two field lists sign the same bytes. The application checks the
signature and the time (a short skew), so a request that reaches it around the proxy, or a copy
of the headers replayed later or on another path or method, carries no identity.

Headers: `X-Drfgate-Signature: t=<unix seconds>,v1=<hex>`, with `X-Drfgate-Auth`,
`X-Drfgate-User-Id`, `X-Drfgate-User` (percent-encoded UTF-8) and `X-Drfgate-User-Flags`
(`staff`, `superuser`, comma-separated) as `drfgate serve` sends them.
"""
import functools
import hashlib
import hmac
import os

VERSION = b"drfgate-handoff-v1"
FLAGS = ("staff", "superuser")


class HandoffError(ValueError):
    """The signature does not vouch for these headers on this request now."""


def message(timestamp, method, path_info, auth, pk, username, flags):
    out = [VERSION]
    for field in (str(timestamp), method, path_info, auth, pk, username, flags):
        data = field.encode("utf-8")
        out.append(b"\n%d:%s" % (len(data), data))
    return b"".join(out)


def sign(key, timestamp, method, path_info, auth, pk="", username="", flags=""):
    """The header value the gate sends (used by tests and the benchmark; the gate's own is Rust)."""
    digest = hmac.new(key, message(timestamp, method, path_info, auth, pk, username, flags),
                      hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(key, header, now, max_skew, method, path_info, auth, pk, username, flags):
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        raise HandoffError("malformed signature header") from None
    if abs(now - timestamp) > max_skew:
        raise HandoffError("signature outside the allowed clock skew")
    expected = sign(key, timestamp, method, path_info, auth, pk, username, flags).split("v1=", 1)[1]
    if not hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace")):
        raise HandoffError("bad signature")


def read_key(path):
    """The secret, re-read when the file changes (trailing newline dropped; at least 32 bytes)."""
    stat = os.stat(path)
    return _read_key(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _read_key(path, _mtime, _size):
    with open(path, "rb") as handle:
        key = handle.read().rstrip(b"\r\n")
    if len(key) < 32:
        raise HandoffError(f"{path}: the hand-off secret must be at least 32 bytes")
    return key

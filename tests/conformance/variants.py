"""The requests of the differential suite: the conformance table's cases, and variants of the
spec §11 rows generated over every view the suite can drive over HTTP (every method, header
spelling and credential variant).

Each request is a dict: id, feature, view, method (bytes), target (bytes), headers
([(name bytes, value bytes)]), compare ("full", or "status" where the two sides cannot give
the same body by design).
"""
import base64
import json
import os
from pathlib import Path

from oracle import table_bytes

METHODS = [b"GET", b"HEAD", b"OPTIONS", b"POST", b"PUT", b"PATCH", b"DELETE", b"TRACE", b"BREW"]

# Spec §11 rows 1-25 and friends: (label, Authorization value) with "Token" as the keyword;
# None sends no Authorization header at all.
TOKEN_VALUES = [
    ("no header", None),
    ("empty", b""),
    ("spaces only", b"    "),
    ("keyword only", b"Token"),
    ("keyword and space", b"Token "),
    ("valid", b"Token abcd1234"),
    ("lower-case keyword", b"token abcd1234"),
    ("upper-case keyword", b"TOKEN abcd1234"),
    ("padded", b"  Token   abcd1234  "),
    ("tab separator", b"Token\tabcd1234"),
    ("vertical tab separator", b"Token\x0babcd1234"),
    ("NBSP separator", b"Token\xa0abcd1234"),
    ("FS separator", b"Token\x1cabcd1234"),
    ("no separator", b"Tokenabcd1234"),
    ("colon after keyword", b"Token: abcd1234"),
    ("two words", b"Token  a  b"),
    ("extra word", b"Token abcd1234 extra"),
    ("key in upper case", b"Token ABCD1234"),
    ("unknown key", b"Token wxyz6789"),
    ("invalid UTF-8", b"Token abcd1234\xb8"),
    ("valid UTF-8 suffix", "Token abcd1234\u00b8".encode()),
    ("Cyrillic key", "Token ключ".encode()),
    ("60 characters", b"Token " + b"a" * 60),
    # MariaDB's default collation (utf8mb4_general_ci) ignores accents: john's key there.
    ("accented key", "Token ábcd1234".encode()),
    ("inactive user", b"Token inactive1"),
    ("staff user", b"Token admin123"),
    ("superuser, not staff", b"Token super123"),
    ("user with add_thing", b"Token adder123"),
    ("user with change_thing via group", b"Token grouped123"),
    ("user with unusable password", b"Token nopass123"),
    ("other keyword", b"Bearer abcd1234"),
]


JWT_CLASSES = (
    "rest_framework_simplejwt.authentication.JWTAuthentication",
    "rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication",
)
KNOX_CLASS = "knox.auth.TokenAuthentication"
# Where tests/django/jwt_fixtures.py wrote the tokens it minted ({name: token}).
JWT_TOKENS = Path(os.environ.get(
    "DRFGATE_JWT_DIR", str(Path(__file__).resolve().parents[2] / "build" / "django" / "jwt")
)) / "tokens.json"


# Tokens simplejwt (or Django under it) crashes on: a user_id an integer column cannot take,
# a string exp (datetime_from_epoch), no jti where the blacklist reads it. Django answers its
# HTML 500 page, drfgate a 500 of its own (docs/differences.md): compared by status.
SERVER_ERROR_TOKENS = {"access_non_numeric_id", "access_string_exp", "access_no_jti"}


def jwt_tokens():
    return json.loads(JWT_TOKENS.read_text("utf-8"))


def jwt_feature(document, view):
    """"simplejwt" or "knox" for a view authenticating with those packages' classes, else None."""
    classes = document["views"][view]["authentication_classes"]
    if any(c in JWT_CLASSES for c in classes):
        return "simplejwt"
    if KNOX_CLASS in classes:
        return "knox"
    return None


def jwt_requests(document, views):
    """[(id, feature, view, Authorization value or None, compare)]: every minted JWT and knox
    token (tests/django/jwt_fixtures.py) on every JWT and knox view of `views`, and the header
    shapes of spec §8.3 step 2 and §9.3 step 1, each a GET. The differential sends them to
    `drfgate serve` and the Layer, the Apache and nginx suites through their modules."""
    tokens = jwt_tokens()
    john = tokens["access_john"].encode()
    knox_john = tokens["knox_john"].encode()
    requests = []
    for view in views:
        feature = jwt_feature(document, view)
        if feature == "simplejwt":
            shapes = [
                ("no header", None), ("empty", b""), ("type only", b"Bearer"),
                ("three parts", b"Bearer a b"), ("lower-case type", b"bearer " + john),
                ("second type", b"JWT " + john), ("DRF keyword", b"Token " + john),
                ("padded", b"  Bearer   " + john + b"  "), ("tab", b"Bearer\t" + john),
                ("NBSP", b"Bearer\xa0" + john), ("extra word", b"Bearer " + john + b" x"),
                ("garbage", b"Bearer garbage"), ("two dots", b"Bearer a.b"),
                ("invalid UTF-8", b"Bearer " + john + b"\xb8"),
            ]
            shapes += [(name, b"Bearer " + t.encode()) for name, t in tokens.items()]
        elif feature == "knox":
            shapes = [
                ("no header", None), ("keyword only", b"Token"), ("lower-case", b"token " + knox_john),
                ("three parts", b"Token " + knox_john + b" x"), ("Bearer", b"Bearer " + knox_john),
                ("short", b"Token abc"),
                # Its token_key matches on MariaDB (case ignored), its digest nowhere.
                ("upper case", b"Token " + knox_john.upper()),
            ]
            shapes += [(name, b"Token " + t.encode()) for name, t in tokens.items()
                       if name.startswith("knox_")]
        else:
            continue
        for label, value in shapes:
            compare = "status" if label in SERVER_ERROR_TOKENS else "full"
            requests.append((f"{feature}:{view}:{label}", feature, view, value, compare))
    return requests


def b64(raw):
    return base64.b64encode(raw)


# Spec §11 rows 36-56. "cheap" ones are refused before any password check, so they can be
# sent many times; the others run Django's PBKDF2 (1,000,000 iterations) on every request.
BASIC_CHEAP = [
    ("no header", None),
    ("keyword only", b"Basic"),
    ("keyword and space", b"Basic "),
    ("two words", b"Basic foo bar"),
    ("not base64", b"Basic =a="),
    ("padding missing", b"Basic am9objpwYXNzd29yZA"),
    ("decodes to nothing", b"Basic !!!"),
    ("URL-safe alphabet", b"Basic am9objpwYXNzd29yZD8-"),
    ("no colon", b"Basic " + b64(b"john")),
    ("token instead", b"Token abcd1234"),
]
BASIC_HASHED = [
    ("valid", b"Basic " + b64(b"john:password")),
    ("lower-case keyword", b"basic " + b64(b"john:password")),
    ("trailing garbage after padding", b"Basic am9objpwYXNzd29yZA==garbage"),
    ("junk characters skipped", b"Basic am9o!*bjpwYXNzd29yZA=="),
    ("invalid UTF-8 after", b"Basic " + b64(b"john:password") + b"\xb8"),
    ("wrong password", b"Basic " + b64(b"john:wrong")),
    ("unknown user", b"Basic " + b64(b"nobody:password")),
    ("username case", b"Basic " + b64(b"JOHN:password")),
    ("empty password", b"Basic " + b64(b"john:")),
    ("colon in password", b"Basic " + b64(b"colon:pa:ss")),
    ("UTF-8 credentials", b"Basic " + b64("walterwhité:pässwörd".encode())),
    ("Latin-1 credentials", b"Basic " + b64("latin:pässwörd".encode("latin-1"))),
    ("undecodable bytes", b"Basic " + b64(b"\xff\xfe:\x00")),
    ("inactive user", b"Basic " + b64(b"ina:password")),
    ("staff user", b"Basic " + b64(b"admin:password")),
    ("md5-hashed user", b"Basic " + b64(b"h_md5:password")),
    # What the database compares: john on MariaDB (accents ignored); PostgreSQL refuses a NUL
    # in text, and Django raises (DATABASE_MAY_RAISE).
    ("accented username", b"Basic " + b64("jöhn:password".encode())),
    ("NUL in username", b"Basic " + b64(b"jo\x00hn:password")),
]
# Labels of values some database refuses, where Django raises and DRF answers its HTML 500 page:
# a 500 from DRF is compared by status (docs/differences.md), any other answer in full.
DATABASE_MAY_RAISE = {"NUL in username"}

X_REMOTE_USERS = [None, b"john", b"admin", b"ina", b"", b"nobody", b"JOHN", b"nopass"]


def with_keyword(value, keyword):
    """A Token variant for a subclass with another keyword (Bearer ↔ Token swapped)."""
    if value is None or keyword == b"Token":
        return value
    swapped = value.replace(b"Token", b"\0").replace(b"token", b"\1").replace(b"TOKEN", b"\2")
    swapped = swapped.replace(b"Bearer", b"Token")
    return (
        swapped.replace(b"\0", keyword)
        .replace(b"\1", keyword.lower())
        .replace(b"\2", keyword.upper())
    )


def authorization(value, name=b"Authorization"):
    return [] if value is None else [(name, value)]


class Generator:
    def __init__(self, document, drivable_views, feature_of):
        self.document = document
        self.views = drivable_views
        self.feature_of = feature_of
        self.requests = []
        self.excluded = []  # (case id, reason)

    def add(self, id_, feature, view, method, headers, target=None, compare="full"):
        self.requests.append(
            {
                "id": id_,
                "feature": feature,
                "view": view,
                "method": method,
                "target": target or ("/" + self.document["views"][view]["path"]).encode(),
                "headers": headers,
                "compare": compare,
            }
        )

    def keyword_of(self, view):
        classes = self.document["classes"]["authentication"]
        for name in self.document["views"][view]["authentication_classes"]:
            base = classes.get(name, {}).get("base", name)
            if base == "TokenAuthentication":
                return classes.get(name, {}).get("keyword", "Token").encode()
        return None

    def uses(self, view, base_name):
        classes = self.document["classes"]["authentication"]
        return any(
            classes.get(n, {}).get("base", n) == base_name
            for n in self.document["views"][view]["authentication_classes"]
        )

    def table_cases(self, why_not_drivable):
        for case in self.document["cases"]:
            reason = why_not_drivable(case)
            if reason:
                self.excluded.append((case["id"], reason))
                continue
            headers = [(n.encode("ascii"), table_bytes(v)) for n, v in case["headers"]]
            self.add(
                "table:" + case["id"],
                self.feature_of(case["view"]),
                case["view"],
                case["method"].encode("ascii"),
                headers,
            )

    def method_matrix(self):
        """Every drivable view × every method × a few credential states."""
        for view in self.views:
            if view.startswith("x_remote"):
                states = [("no user", [])] + [
                    ("X-Remote-User " + u.decode(), [(b"X-Remote-User", u)])
                    for u in (b"john", b"admin", b"ina")
                ]
            elif self.keyword_of(view) and not self.uses(view, "BasicAuthentication"):
                keyword = self.keyword_of(view)
                states = [
                    (label, authorization(with_keyword(value, keyword)))
                    for label, value in TOKEN_VALUES
                    if label in ("no header", "valid", "staff user", "unknown key", "inactive user",
                                 "user with add_thing", "user with change_thing via group")
                ]
            elif self.uses(view, "BasicAuthentication"):
                states = [("no header", []), ("not base64", authorization(b"Basic =a="))]
                if self.keyword_of(view):
                    states.append(("token", authorization(b"Token abcd1234")))
            else:
                states = [("no header", []), ("token", authorization(b"Token abcd1234"))]
            for method in METHODS:
                for label, headers in states:
                    self.add(
                        f"methods:{view}:{method.decode()}:{label}",
                        "methods × credentials",
                        view,
                        method,
                        headers,
                    )
        # Password checks are slow in Django: every method once, on the plain Basic view only.
        for method in METHODS:
            for label, value in (BASIC_HASHED[0], BASIC_HASHED[5], BASIC_HASHED[14]):
                self.add(
                    f"methods:basic_ia:{method.decode()}:{label}",
                    "methods × credentials",
                    "basic_ia",
                    method,
                    authorization(value),
                )

    def token_headers(self):
        """Every Token header variant on the Token views that differ in how they use it."""
        plain = [v for v in self.views if self.keyword_of(v) == b"Token"]
        for view in plain:
            methods = [b"GET", b"POST", b"HEAD", b"OPTIONS", b"BREW"] if view == "token_ia" else [b"GET"]
            for label, value in TOKEN_VALUES:
                if value is not None and self.uses(view, "BasicAuthentication") and b"Basic" in value:
                    continue
                for method in methods:
                    self.add(
                        f"token:{view}:{method.decode()}:{label}",
                        "Token headers",
                        view,
                        method,
                        authorization(value),
                    )
        for view in [v for v in self.views if self.keyword_of(v) not in (None, b"Token")]:
            keyword = self.keyword_of(view)
            for label, value in TOKEN_VALUES:
                for method in (b"GET", b"POST"):
                    self.add(
                        f"keyword:{view}:{method.decode()}:{label}",
                        "custom keyword (Bearer)",
                        view,
                        method,
                        authorization(with_keyword(value, keyword)),
                    )

    def jwt_headers(self):
        """Every minted JWT and knox token on every JWT and knox view (`jwt_requests`)."""
        for id_, feature, view, value, compare in jwt_requests(self.document, self.views):
            self.add(id_, feature, view, b"GET", authorization(value), compare=compare)

    def header_spellings(self):
        """Header names in any case, repeated headers (joined with ',' by both servers)."""
        for name in (b"authorization", b"AUTHORIZATION", b"aUtHoRiZaTiOn"):
            for value in (b"Token abcd1234", b"Token nope", b"Basic =a="):
                self.add(
                    f"spelling:{name.decode()}:{value.decode()}",
                    "header spellings",
                    "token_ia",
                    b"GET",
                    [(name, value)],
                )
        for first, second in (
            (b"Token abcd1234", b"Token x"),
            (b"Token abcd1234", b"Token abcd1234"),
            (b"Token", b"abcd1234"),
            (b"", b"Token abcd1234"),
        ):
            for view in ("token_ia", "token_allow_any", "session_token_ia"):
                self.add(
                    f"repeated:{view}:{first!r}+{second!r}",
                    "header spellings",
                    view,
                    b"GET",
                    [(b"Authorization", first), (b"Authorization", second)],
                )

    def basic_headers(self):
        basic_views = [v for v in self.views if self.uses(v, "BasicAuthentication")]
        for view in basic_views:
            for label, value in BASIC_CHEAP:
                for method in (b"GET", b"POST"):
                    self.add(
                        f"basic:{view}:{method.decode()}:{label}",
                        "Basic headers",
                        view,
                        method,
                        authorization(value),
                    )
        for label, value in BASIC_HASHED:
            self.add(f"basic:basic_ia:GET:{label}", "Basic headers", "basic_ia", b"GET", authorization(value))
            self.requests[-1]["may_raise"] = label in DATABASE_MAY_RAISE
        for view in basic_views:
            if view != "basic_ia":
                for label, value in (BASIC_HASHED[0], BASIC_HASHED[5]):
                    self.add(f"basic:{view}:GET:{label}", "Basic headers", view, b"GET", authorization(value))

    def remote_user_headers(self):
        for view in [v for v in self.views if v.startswith("x_remote")]:
            for user in X_REMOTE_USERS:
                headers = [] if user is None else [(b"X-Remote-User", user)]
                for method in (b"GET", b"POST", b"HEAD"):
                    self.add(
                        f"x-remote:{view}:{method.decode()}:{user!r}",
                        "RemoteUser via a header",
                        view,
                        method,
                        headers,
                    )

    def routing(self):
        """Paths as Django decodes them (path_info), query strings, and unmatched paths."""
        for view in ("token_ia", "token_allow_any", "token_dmp_list", "noauth_custom"):
            path = "/" + self.document["views"][view]["path"]
            variants = {
                "as is": path,
                "%2D for -": path.replace("-", "%2D"),
                "%2d for -": path.replace("-", "%2d"),
                "%61 for a": path.replace("a", "%61", 1),
                "query string": path + "?page=2&q=%20x",
                "empty query": path + "?",
            }
            for label, target in variants.items():
                for auth in (None, b"Token abcd1234"):
                    self.add(
                        f"routing:{view}:{label}:{'token' if auth else 'anonymous'}",
                        "routing",
                        view,
                        b"GET",
                        authorization(auth),
                        target=target.encode(),
                    )
        # No route: Django answers its own 404 page (HTML), the gate DRF's JSON 404 — the
        # status is what must agree.
        for target in (b"/api/nope/", b"/api/token-ia/extra/", b"/api/token-ia/%2F/", b"/api//token-ia/"):
            self.add(
                f"routing:unmatched:{target.decode()}",
                "routing (unmatched, status only)",
                None,
                b"GET",
                authorization(b"Token abcd1234"),
                target=target,
                compare="status",
            )

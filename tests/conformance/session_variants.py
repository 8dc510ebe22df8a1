"""Session and CSRF requests of the differential suite that the conformance table cannot hold:
request bodies (form fields, JSON, broken JSON, unknown content types), Origin and Referer
against the differential's own Host (127.0.0.1), and the signed_cookies and cached_db engines.

Requests are variants.py's dicts with two more keys:
- "body": bytes sent after the headers (Content-Length is among the headers);
- "may_defer": the gate may pass the request on without an identity (X-Drfgate-Decision:
  pass) because DRF's answer depends on the body, which `drfgate serve` never sees. The final
  answer then comes from the application's own DRF (gunicorn here, whose answer is DRF's by
  construction); a deferral anywhere else is a difference;
- "layer_may_defer": the same for a front end that reads the body (the Layer with
  reading_bodies, differential.py --layer-proxy): only what the gate does not reproduce
  (a JSON syntax error's Python message, a multipart body) is deferred there.
Sessions come from tests/django/make_fixture_db.py (fixed keys, made by Django's login()).
"""
import json
import os
import subprocess
from pathlib import Path

JOHN = b"sessionid=johnsessionkey000000000000000001"
SECRET = b"Zx8kq2LmN4pR7sTvW1yB3dF5gH6jK9cE"
MASKED = b"m3Pq8RtY2uI5oA7sD9fG1hJ4kL6zX0cVbqNAoJ4aFoXMlSQNp0D7UkeZqi2IxZep"
CSRF_COOKIE = b"csrftoken=" + SECRET
FORM = b"application/x-www-form-urlencoded"

FEATURE = "session: bodies, Origin, Referer"


def body_request(generator, id_, view, method, headers, content_type, body, may_defer,
                 layer_may_defer=None):
    headers = list(headers)
    if content_type is not None:
        headers.append((b"Content-Type", content_type))
    headers.append((b"Content-Length", str(len(body)).encode()))
    generator.add(id_, FEATURE, view, method, headers)
    generator.requests[-1]["body"] = body
    generator.requests[-1]["may_defer"] = may_defer
    generator.requests[-1]["layer_may_defer"] = may_defer if layer_may_defer is None else layer_may_defer


def multipart(field, value):
    boundary = b"drfgateboundary"
    body = (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"" + field + b"\"\r\n\r\n"
            + value + b"\r\n--" + boundary + b"--\r\n")
    return b"multipart/form-data; boundary=" + boundary, body


def add_session_requests(generator):
    """Bodies and same-host Origin/Referer requests, for the views using SessionAuthentication."""
    session = [(b"Cookie", JOHN + b"; " + CSRF_COOKIE)]
    header = [(b"X-CSRFToken", SECRET)]
    for view in ("session_ia", "session_token_ia", "token_session_ia"):
        if view not in generator.views:
            continue
        cases = [
            # POST with a body that reaches the token step: DRF parses it (the token may be
            # in it). serve never has the body and defers; the Layer reads it and answers.
            ("form field", b"POST", session, FORM, b"csrfmiddlewaretoken=" + SECRET, True, False),
            ("masked form field", b"POST", session, FORM, b"a=1&csrfmiddlewaretoken=" + MASKED, True, False),
            ("wrong form field", b"POST", session, FORM, b"csrfmiddlewaretoken=" + b"B" * 32, True, False),
            ("wrong form field, right header", b"POST", session + header, FORM,
             b"csrfmiddlewaretoken=" + b"B" * 32, True, False),
            ("short form field", b"POST", session, FORM, b"csrfmiddlewaretoken=abc", True, False),
            ("form field, invalid characters", b"POST", session, FORM,
             b"csrfmiddlewaretoken=" + b"%21" * 32, True, False),
            ("repeated form field, last wins", b"POST", session, FORM,
             b"csrfmiddlewaretoken=x&csrfmiddleware%74oken=" + SECRET, True, False),
            ("form field, charset utf-8", b"POST", session, FORM + b"; charset=utf-8",
             b"csrfmiddlewaretoken=" + SECRET, True, False),
            ("empty form field, header", b"POST", session + header, FORM, b"csrfmiddlewaretoken=", True, False),
            ("form without field", b"POST", session, FORM, b"a=1", True, False),
            ("form without field, header", b"POST", session + header, FORM, b"a=1", True, False),
            ("JSON, header", b"POST", session + header, b"application/json", b'{"a": 1}', True, False),
            ("JSON, no header", b"POST", session, b"application/json", b'{"a": 1}', True, False),
            ("JSON field named like the token", b"POST", session, b"application/json",
             b'{"csrfmiddlewaretoken": "' + SECRET + b'"}', True, False),
            # DRF's 400 carries Python's json error message: deferred everywhere.
            ("broken JSON, header", b"POST", session + header, b"application/json", b'{"a": ', True, True),
            # No parser for the content type: DRF's 415, known from the headers alone.
            ("unknown content type", b"POST", session + header, b"text/plain", b"hello", False, False),
            ("no content type", b"POST", session + header, None, b"hello", False, False),
            # Django's RequestDataTooBig (refproj: DATA_UPLOAD_MAX_MEMORY_SIZE default, 2.5 MiB):
            # its 400 page, known from Content-Length alone.
            ("oversized form", b"POST", session + header, FORM, b"a=" + b"x" * 2_621_440, False, False),
            ("multipart field", b"POST") + (session,) + multipart(b"csrfmiddlewaretoken", SECRET) + (True, True),
            # Decided before the body matters: the gate answers these itself.
            ("body, no CSRF cookie", b"POST", [(b"Cookie", JOHN)], FORM, b"csrfmiddlewaretoken=" + SECRET, False, False),
            ("body, bad Origin", b"POST", session + [(b"Origin", b"https://evil.example")], FORM,
             b"csrfmiddlewaretoken=" + SECRET, False, False),
            ("body, bad CSRF cookie", b"POST", [(b"Cookie", JOHN + b"; csrftoken=short")], FORM,
             b"csrfmiddlewaretoken=" + SECRET, False, False),
            ("PUT form field only", b"PUT", session, FORM, b"csrfmiddlewaretoken=" + SECRET, False, False),
            ("PUT JSON, header", b"PUT", session + header, b"application/json", b'{"a": 1}', False, False),
            ("PATCH broken JSON, header", b"PATCH", session + header, b"application/json", b"{", False, False),
            ("anonymous POST body", b"POST", [(b"Cookie", CSRF_COOKIE)], FORM, b"csrfmiddlewaretoken=x", False, False),
        ]
        for label, method, headers, content_type, body, may_defer, layer_may_defer in cases:
            # With Token first, a Token header decides before the session is looked at.
            body_request(generator, f"session body: {view}: {label}", view, method, headers,
                         content_type, body, may_defer, layer_may_defer)
        # Spec rows 80 and 81: a bad Token next to a session; which class comes first decides.
        for method in (b"GET", b"POST"):
            generator.add(f"session origin: {view}: session and bad token: {method.decode()}", FEATURE,
                          view, method, session + header + [(b"Authorization", b"Token bad")])
        body_request(generator, f"session body: {view}: token and form", view, b"POST",
                     session + [(b"Authorization", b"Token admin123")], FORM, b"a=1",
                     view == "session_token_ia" or view == "session_ia", False)
        same_host = [
            ("same-host Origin", [(b"Origin", b"http://127.0.0.1")]),
            ("https Origin over http", [(b"Origin", b"https://127.0.0.1")]),
            ("Origin with default port", [(b"Origin", b"http://127.0.0.1:80")]),
            ("Origin with a path", [(b"Origin", b"http://127.0.0.1/")]),
            ("https Origin, forwarded https", [(b"Origin", b"https://127.0.0.1"), (b"X-Forwarded-Proto", b"https")]),
            ("http Origin, forwarded https", [(b"Origin", b"http://127.0.0.1"), (b"X-Forwarded-Proto", b"https")]),
            ("same-host Referer", [(b"Referer", b"https://127.0.0.1/page"), (b"X-Forwarded-Proto", b"https")]),
            ("Referer other port", [(b"Referer", b"https://127.0.0.1:8443/"), (b"X-Forwarded-Proto", b"https")]),
            ("Referer upper case", [(b"Referer", b"https://127.0.0.1.EVIL/"), (b"X-Forwarded-Proto", b"https")]),
            ("Referer fragment", [(b"Referer", b"https://evil.example/a#frag"), (b"X-Forwarded-Proto", b"https")]),
            ("Referer unbalanced bracket", [(b"Referer", b"https://[::1/"), (b"X-Forwarded-Proto", b"https")]),
            ("Origin unbalanced bracket", [(b"Origin", b"https://[x.wild.example")]),
            ("wildcard with port", [(b"Origin", b"https://a.wild.example:8443")]),
            ("Origin and Referer", [(b"Origin", b"http://127.0.0.1"), (b"Referer", b"https://evil.example/")]),
            ("Latin-1 Origin", [(b"Origin", b"https://caf\xe9.example")]),
        ]
        for label, extra in same_host:
            generator.add(f"session origin: {view}: {label}", FEATURE, view, b"POST",
                          session + header + extra)
    add_session_key_requests(generator)


# The fixture's john session key spelled as a database may compare it: upper case and accents
# (equal to it under MariaDB's default collation, utf8mb4_general_ci), a trailing space (PAD
# SPACE) and octal escapes in a quoted cookie value (Django's parse_cookie unquotes them), and a
# NUL, which PostgreSQL refuses in text (Django raises; "may_raise").
SESSION_KEY_SPELLINGS = [
    ("upper-case key", b"sessionid=JOHNSESSIONKEY000000000000000001", False),
    ("accented key", "sessionid=jöhnsessionkey000000000000000001".encode(), False),
    ("quoted key, trailing space", b'sessionid="johnsessionkey000000000000000001 "', False),
    ("quoted key, octal escape", b'sessionid="\\152ohnsessionkey000000000000000001"', False),
    ("quoted key, escaped NUL", b'sessionid="johnsessionkey000000000000000001\\000"', True),
]


def add_session_key_requests(generator):
    """The session key as the database compares it, on the db engine."""
    feature = "session keys as the database compares them"
    for view in ("session_ia", "token_session_ia"):
        if view not in generator.views:
            continue
        for label, cookie, may_raise in SESSION_KEY_SPELLINGS:
            for method in (b"GET", b"POST"):
                generator.add(f"session key: {view}: {label}: {method.decode()}", feature, view, method,
                              [(b"Cookie", cookie + b"; " + CSRF_COOKIE), (b"X-CSRFToken", SECRET)])
                generator.requests[-1]["may_raise"] = may_raise


# The engines that keep sessions in Django's cache run with a RedisCache on the local Redis, under a
# key prefix of this run's own (removed at the end by forget_cached_sessions).
CACHE_ENGINES = ("django.contrib.sessions.backends.cache", "django.contrib.sessions.backends.cached_db")
REDIS_CACHE = "redis://127.0.0.1:6379/0"
CACHE_KEY_PREFIX = f"drfgate-differential-{os.getpid()}"


def engine_env(engine):
    """The environment refproj's settings read for `engine` (its CACHES)."""
    env = {"DRFGATE_SESSION_ENGINE": engine}
    if engine in CACHE_ENGINES:
        env.update(DRFGATE_REDIS_CACHE=REDIS_CACHE, DRFGATE_CACHE_KEY_PREFIX=CACHE_KEY_PREFIX)
    return env


def engine_config(text, engine, toml_string):
    """The gate's config for `engine`: SESSION_ENGINE and, for a cache engine, the same CACHES."""
    text = text.replace("[django]\n", f"[django]\nSESSION_ENGINE = {toml_string(engine)}\n", 1)
    if engine in CACHE_ENGINES:
        text += ("\n[django.CACHES.default]\n"
                 f"BACKEND = {toml_string('django.core.cache.backends.redis.RedisCache')}\n"
                 f"LOCATION = {toml_string(REDIS_CACHE)}\n"
                 f"KEY_PREFIX = {toml_string(CACHE_KEY_PREFIX)}\n")
    return text


def forget_cached_sessions(python):
    """Deletes this run's keys from Redis."""
    script = ("import redis, sys\n"
              "r = redis.Redis.from_url(sys.argv[1])\n"
              "keys = list(r.scan_iter(match=sys.argv[2] + ':*'))\n"
              "if keys:\n    r.delete(*keys)\n")
    subprocess.run([str(python), "-c", script, REDIS_CACHE, CACHE_KEY_PREFIX], check=False,
                   capture_output=True)


def engine_cookies(python, django_dir, db, engine):
    """Cookies made by Django itself for `engine`: {label: Cookie header value}. Runs in the test
    venv with refproj's settings, so the signing keys are the ones gunicorn uses."""
    script = r"""
import json, sys
import django
django.setup()
from importlib import import_module
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.models import User
from django.test import RequestFactory
store = import_module(settings.SESSION_ENGINE).SessionStore
out = {}
for label, username in (("john", "john"), ("admin", "admin"), ("inactive", "ina")):
    request = RequestFactory().get("/")
    request.session = store()
    login(request, User.objects.get(username=username),
          backend="django.contrib.auth.backends.ModelBackend")
    request.session.save()
    out[label] = settings.SESSION_COOKIE_NAME + "=" + request.session.session_key
print(json.dumps(out))
"""
    env = dict(os.environ, DRFGATE_DJANGO_DB=str(db), DJANGO_SETTINGS_MODULE="refproj.settings",
               **engine_env(engine))
    done = subprocess.run([str(python), "-c", script], cwd=str(django_dir), env=env,
                          capture_output=True, check=True)
    return json.loads(done.stdout)


def add_engine_requests(generator, engine, cookies):
    """The same session requests for another SESSION_ENGINE (its own gunicorn and serve)."""
    feature = f"session engine {engine.rsplit('.', 1)[-1]}"
    csrf = b"; " + CSRF_COOKIE
    john = cookies["john"].encode() + csrf
    fixed = JOHN + csrf
    states = [
        ("john", [(b"Cookie", john)]),
        ("john, token", [(b"Cookie", john), (b"X-CSRFToken", MASKED)]),
        ("admin, token", [(b"Cookie", cookies["admin"].encode() + csrf), (b"X-CSRFToken", SECRET)]),
        ("inactive", [(b"Cookie", cookies["inactive"].encode() + csrf), (b"X-CSRFToken", SECRET)]),
        ("tampered", [(b"Cookie", john[:-len(csrf) - 2] + b"xx" + csrf), (b"X-CSRFToken", SECRET)]),
        ("fixture db session", [(b"Cookie", fixed), (b"X-CSRFToken", SECRET)]),
        ("short", [(b"Cookie", b"sessionid=abc" + csrf)]),
        # As the database compares keys (SESSION_KEY_SPELLINGS): cached_db reads it on a miss.
        ("upper-case key", [(b"Cookie", upper_key(cookies["john"]).encode() + csrf),
                            (b"X-CSRFToken", SECRET)]),
        ("quoted key, escaped NUL", [(b"Cookie", nul_key(cookies["john"]).encode() + csrf),
                                     (b"X-CSRFToken", SECRET)]),
    ]
    for view in ("session_ia", "token_session_ia"):
        for label, headers in states:
            for method in (b"GET", b"POST", b"DELETE"):
                generator.add(f"{feature}: {view}: {label}: {method.decode()}", feature, view,
                              method, headers)
                generator.requests[-1]["engine"] = engine
                generator.requests[-1]["may_raise"] = label == "quoted key, escaped NUL"


def upper_key(cookie):
    """`name=key` with the key in upper case."""
    name, key = cookie.split("=", 1)
    return f"{name}={key.upper()}"


def nul_key(cookie):
    """`name="key\\000"`: the key and a NUL, as Django's parse_cookie unquotes it."""
    name, key = cookie.split("=", 1)
    return f'{name}="{key}\\000"'


# ---------------------------------------------------------------------------------------------
# Settings variants: refproj with non-default session and CSRF settings (its own settings module,
# gunicorn and serve), so that what those settings change is compared with real DRF too.

# refproj/settings_csrf_sessions.py's rotated SECRET_KEY; the old one (refproj's) is its fallback.
ROTATED_SECRET_KEY = "drfgate-test-rotated-secret-key-not-for-production-fedcba9876543210"

SETTINGS_VARIANTS = {
    # The CSRF secret in the session, other names, signed-cookie sessions, a rotated key.
    "csrf_sessions": {
        "module": "refproj.settings_csrf_sessions",
        "gate": {
            "SESSION_ENGINE": "django.contrib.sessions.backends.signed_cookies",
            "SESSION_COOKIE_NAME": "appsession",
            "CSRF_USE_SESSIONS": True,
            "CSRF_COOKIE_NAME": "xsrf",
            "CSRF_HEADER_NAME": "HTTP_X_XSRF_TOKEN",
            "SECRET_KEY": ROTATED_SECRET_KEY,
            "ALLOWED_HOSTS": None,  # None: gate_configs.ALLOWED_HOSTS + [".example.test"]
            "SESSION_COOKIE_DOMAIN": ".example.test",
            "CSRF_COOKIE_DOMAIN": ".other.test",
            "USE_X_FORWARDED_PORT": True,
        },
        # The old key, in the _FILE form a deployment would use for secrets.
        "fallbacks": [None],  # None: refproj's SECRET_KEY (gate_configs.SECRET_KEY)
    },
    # The HTTPS Referer checked against CSRF_COOKIE_DOMAIN instead of the request's host.
    "csrf_domain": {
        "module": "refproj.settings_csrf_domain",
        "gate": {
            "ALLOWED_HOSTS": None,  # None: gate_configs.ALLOWED_HOSTS + [".example.test"]
            "CSRF_COOKIE_DOMAIN": ".example.test",
            "USE_X_FORWARDED_PORT": True,
            "CSRF_COOKIE_NAME": "xsrf",
            "SESSION_COOKIE_NAME": "appsession",
        },
        "fallbacks": [],
    },
}


# Settings variants without sessions of their own: what Django answers before authentication
# under other settings (tests/conformance/around_auth_variants.py sends their requests).
HOST_SETTINGS_VARIANTS = {
    # A proxy's X-Forwarded-Host and X-Forwarded-Port trusted.
    "forwarded_hosts": {
        "module": "refproj.settings_forwarded_hosts",
        "gate": {
            "ALLOWED_HOSTS": ["public.example"],  # after gate_configs.ALLOWED_HOSTS + [".example.test"]
            "USE_X_FORWARDED_HOST": True,
            "USE_X_FORWARDED_PORT": True,
        },
        "fallbacks": [],
    },
    # DEBUG with an empty ALLOWED_HOSTS: the local names only.
    "debug_hosts": {
        "module": "refproj.settings_debug_hosts",
        "gate": {"ALLOWED_HOSTS": [], "DEBUG": True},
        "allowed_hosts_as_given": True,
        "fallbacks": [],
    },
}


def settings_spec(variant):
    return SETTINGS_VARIANTS.get(variant) or HOST_SETTINGS_VARIANTS[variant]


def settings_env(variant):
    """The environment of refproj under `variant`'s settings module."""
    return {"DJANGO_SETTINGS_MODULE": settings_spec(variant)["module"]}


def toml_value(value, toml_string):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_string(v) for v in value) + "]"
    return toml_string(value)


def settings_config(text, variant, scratch, secret_key, allowed_hosts, toml_string):
    """The gate's config for `variant`: `text` (a config of the default backends, hand-written
    or exported) with the variant's [django] keys in place of its own (a SECRET_KEY replaces
    SECRET_KEY_FILE too); fallback keys go to a SECRET_KEY_FALLBACKS_FILE in `scratch`."""
    spec = settings_spec(variant)
    values = dict(spec["gate"])
    if "ALLOWED_HOSTS" in values and not spec.get("allowed_hosts_as_given"):
        values["ALLOWED_HOSTS"] = list(allowed_hosts) + [".example.test"] + (values["ALLOWED_HOSTS"] or [])
    if spec["fallbacks"]:
        path = scratch / f"{variant}-secret-key-fallbacks"
        path.write_text("".join((k or secret_key) + "\n" for k in spec["fallbacks"]), "utf-8")
        values["SECRET_KEY_FALLBACKS_FILE"] = str(path)
    replaced = set(values) | ({"SECRET_KEY_FILE"} if "SECRET_KEY" in values else set())
    out, in_django = [], False
    for line in text.splitlines():
        if line.startswith("["):
            in_django = line.strip() == "[django]"
            out.append(line)
            if in_django:
                out += [f"{key} = {toml_value(value, toml_string)}" for key, value in values.items()]
            continue
        if in_django and line.split("=", 1)[0].strip() in replaced:
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def settings_cookies(python, django_dir, db, variant):
    """Sessions made by Django itself under `variant`'s settings: {label: {"cookie": the session
    cookie, "secret": the session's _csrftoken or None, "token": get_token()'s masked token}}.
    "john" and "admin" keep the CSRF secret in the session when CSRF_USE_SESSIONS is on (Django's
    login() and get_token(), then CsrfViewMiddleware.process_response, as a login view's answer
    would); "john, no CSRF secret" never had one; "john, old key" is signed with the key that is
    now a fallback."""
    script = r"""
import json, os, sys
import django
django.setup()
from importlib import import_module
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.test import RequestFactory
store = import_module(settings.SESSION_ENGINE).SessionStore
middleware = CsrfViewMiddleware(lambda request: HttpResponse())
out = {}
for label, username, with_secret in json.loads(sys.argv[1]):
    request = RequestFactory().get("/")
    request.session = store()
    middleware.process_request(request)
    login(request, User.objects.get(username=username),
          backend="django.contrib.auth.backends.ModelBackend")
    token = get_token(request)
    if with_secret:
        middleware.process_response(request, HttpResponse())
    request.session.save()
    secret = request.session.get("_csrftoken") if settings.CSRF_USE_SESSIONS else None
    out[label] = {"cookie": settings.SESSION_COOKIE_NAME + "=" + request.session.session_key,
                  "secret": secret, "token": token}
print(json.dumps(out))
"""
    env = dict(os.environ, DRFGATE_DJANGO_DB=str(db), **settings_env(variant))
    made = {}
    batches = [([("john", "john", True), ("admin", "admin", True), ("inactive", "ina", True),
                 ("john, no CSRF secret", "john", False)], {})]
    if SETTINGS_VARIANTS[variant]["fallbacks"]:
        batches.append(([("john, old key", "john", True)], {"DRFGATE_SIGN_WITH_OLD_KEY": "1"}))
    for users, extra in batches:
        done = subprocess.run([str(python), "-c", script, json.dumps(users)], cwd=str(django_dir),
                              env=dict(env, **extra), capture_output=True, check=True)
        made.update(json.loads(done.stdout))
    return made


def add_csrf_sessions_requests(generator, cookies):
    """CSRF_USE_SESSIONS, CSRF_HEADER_NAME, SESSION_COOKIE_NAME and SECRET_KEY_FALLBACKS."""
    variant, feature = "csrf_sessions", "settings: CSRF_USE_SESSIONS, names, fallback key"
    john, old = cookies["john"], cookies["john, old key"]

    def session(entry, extra=b""):
        return [(b"Cookie", entry["cookie"].encode() + extra)]

    def header(value, name=b"X-XSRF-Token"):
        return [(name, value.encode() if isinstance(value, str) else value)]

    states = [
        ("john, secret in the header", session(john) + header(john["secret"])),
        ("john, masked token in the header", session(john) + header(john["token"])),
        ("john, header missing", session(john)),
        ("john, header wrong", session(john) + header(b"B" * 32)),
        ("john, header masked wrong", session(john) + header(MASKED)),
        ("john, header short", session(john) + header(b"abc")),
        ("john, header invalid characters", session(john) + header(b"!" * 64)),
        ("john, header empty", session(john) + header(b"")),
        ("john, X-CSRFToken (not the configured header)",
         session(john) + header(john["secret"], b"X-CSRFToken")),
        ("john, both headers, configured one wrong",
         session(john) + header(b"B" * 32) + header(john["secret"], b"X-CSRFToken")),
        ("john, another session's secret", session(john) + header(cookies["admin"]["secret"])),
        ("john, a CSRF cookie (unused) and its token",
         session(john, b"; xsrf=" + SECRET + b"; csrftoken=" + SECRET) + header(SECRET)),
        ("john, no secret in the session, CSRF cookie",
         session(cookies["john, no CSRF secret"], b"; xsrf=" + SECRET) + header(SECRET)),
        ("admin, masked token", session(cookies["admin"]) + header(cookies["admin"]["token"])),
        ("inactive", session(cookies["inactive"]) + header(cookies["inactive"]["secret"])),
        ("old key, its secret", session(old) + header(old["secret"])),
        ("old key, masked token", session(old) + header(old["token"])),
        ("old key, header missing", session(old)),
        ("old key, tampered", [(b"Cookie", old["cookie"].encode()[:-2] + b"xx")] + header(old["secret"])),
        ("default session cookie name",
         [(b"Cookie", b"sessionid=" + john["cookie"].split("=", 1)[1].encode())] + header(john["secret"])),
        ("fixture db session under another name",
         [(b"Cookie", b"appsession=" + JOHN.split(b"=", 1)[1])] + header(SECRET)),
        ("https, no Referer", session(john) + header(john["secret"]) + [(b"X-Forwarded-Proto", b"https")]),
        ("bad Origin", session(john) + header(john["secret"]) + [(b"Origin", b"https://evil.example")]),
    ]
    # The HTTPS Referer against SESSION_COOKIE_DOMAIN (CSRF_COOKIE_DOMAIN is not used), on a host
    # of that domain: (label, Referer, X-Forwarded-Port or None, whether the gate may defer).
    https = [(b"X-Forwarded-Proto", b"https")]
    referers = [
        ("sibling subdomain", b"https://www.example.test/", b"443", False),
        ("CSRF_COOKIE_DOMAIN's subdomain", b"https://www.other.test/", b"443", False),
        ("another domain", b"https://evil.test/", b"443", False),
        ("port 8443, Referer with it", b"https://www.example.test:8443/", b"8443", False),
        ("unknown port, sibling subdomain", b"https://www.example.test/", None, True),
        ("unknown port, CSRF_COOKIE_DOMAIN's subdomain", b"https://www.other.test/", None, False),
    ]
    for view in ("session_ia", "token_session_ia"):
        if view not in generator.views:
            continue
        for label, headers in states:
            for method in (b"GET", b"POST", b"DELETE"):
                generator.add(f"{feature}: {view}: {label}: {method.decode()}", feature, view,
                              method, headers)
                generator.requests[-1]["settings_variant"] = variant
        for label, referer, port, may_defer in referers:
            headers = session(john) + header(john["secret"]) + https + [(b"Referer", referer)]
            if port is not None:
                headers.append((b"X-Forwarded-Port", port))
            for method in (b"POST", b"DELETE"):
                generator.add(f"{feature}: {view}: Referer, {label}: {method.decode()}", feature, view,
                              method, headers)
                generator.requests[-1].update(settings_variant=variant, host=b"api.example.test",
                                              may_defer=may_defer, layer_may_defer=may_defer)
        # The POST form field before the header: serve defers (no body), the Layer reads it.
        body_cases = [
            ("form field", session(john), b"csrfmiddlewaretoken=" + john["secret"].encode()),
            ("masked form field", session(john), b"csrfmiddlewaretoken=" + john["token"].encode()),
            ("wrong form field, right header", session(john) + header(john["secret"]),
             b"csrfmiddlewaretoken=" + b"B" * 32),
            ("form without field, header", session(john) + header(john["token"]), b"a=1"),
            ("form without field", session(john), b"a=1"),
        ]
        for label, headers, body in body_cases:
            body_request(generator, f"{feature}: {view}: {label}", view, b"POST", headers, FORM, body,
                         True, False)
            generator.requests[-1]["feature"] = feature
            generator.requests[-1]["settings_variant"] = variant


def add_csrf_domain_requests(generator, cookies):
    """CSRF_COOKIE_DOMAIN (and other cookie names): the HTTPS Referer against the cookie's
    domain and request.get_port(). With a proxy's X-Forwarded-Port (USE_X_FORWARDED_PORT) the
    port is known and the gate decides; without it the port is SERVER_PORT, the application
    server's own (here gunicorn's listening port), and the gate defers what depends on it."""
    variant, feature = "csrf_domain", "settings: CSRF_COOKIE_DOMAIN, names"
    john = cookies["john"]["cookie"].encode()
    fixture_john = b"appsession=" + JOHN.split(b"=", 1)[1]
    csrf = [(b"X-CSRFToken", SECRET)]
    https = [(b"X-Forwarded-Proto", b"https")]
    port_443 = https + [(b"X-Forwarded-Port", b"443")]
    api = b"api.example.test"
    cases = [
        # (label, Host, Referer or None, more headers, whether the gate may defer)
        ("sibling subdomain", api, b"https://www.example.test/page", port_443, False),
        ("the domain itself", api, b"https://example.test/", port_443, False),
        ("the request's own host", api, b"https://api.example.test/", port_443, False),
        ("deeper subdomain", api, b"https://a.b.example.test/", port_443, False),
        ("upper case", api, b"https://WWW.Example.Test/", port_443, False),
        ("another domain", api, b"https://evil.test/", port_443, False),
        ("suffix lookalike", api, b"https://www.example.test.evil/", port_443, False),
        ("prefix lookalike", api, b"https://notexample.test/", port_443, False),
        ("a trusted origin", api, b"https://trusted.example/x", port_443, False),
        ("a wildcard trusted origin", api, b"https://a.wild.example/", port_443, False),
        ("Referer with a port, port 443", api, b"https://www.example.test:8443/", port_443, False),
        ("Referer with port 443, port 443", api, b"https://www.example.test:443/", port_443, False),
        ("port 80", api, b"https://www.example.test/", https + [(b"X-Forwarded-Port", b"80")], False),
        ("port 8443, Referer with it", api, b"https://www.example.test:8443/",
         https + [(b"X-Forwarded-Port", b"8443")], False),
        ("port 8443, Referer without", api, b"https://www.example.test/",
         https + [(b"X-Forwarded-Port", b"8443")], False),
        ("port 8443, Referer with another", api, b"https://www.example.test:9443/",
         https + [(b"X-Forwarded-Port", b"8443")], False),
        ("port in Host, not the port", b"api.example.test:8443", b"https://www.example.test:8443/",
         port_443, False),
        ("insecure Referer", api, b"http://www.example.test/", port_443, False),
        ("no Referer", api, None, port_443, False),
        ("malformed Referer", api, b"https:///nohost", port_443, False),
        ("other host, sibling Referer", b"127.0.0.1", b"https://www.example.test/", port_443, False),
        ("other host, its own Referer", b"127.0.0.1", b"https://127.0.0.1/", port_443, False),
        ("plain http, foreign Referer", api, b"https://evil.test/", [], False),
        ("Origin of a sibling", api, None, port_443 + [(b"Origin", b"https://www.example.test")], False),
        ("Origin of the host", api, None, port_443 + [(b"Origin", b"https://api.example.test")], False),
        # SERVER_PORT unknown: refused when no port could make the Referer match, else deferred.
        ("unknown port, sibling subdomain", api, b"https://www.example.test/", https, True),
        ("unknown port, the domain itself", api, b"https://example.test/", https, True),
        ("unknown port, Referer with a port", api, b"https://www.example.test:8443/", https, True),
        ("unknown port, another domain", api, b"https://evil.test/", https, False),
        ("unknown port, another domain with a port", api, b"https://evil.test:8443/", https, False),
        ("unknown port, Referer with port 443", api, b"https://www.example.test:443/", https, False),
        ("unknown port, upper case", api, b"https://WWW.Example.Test/", https, False),
        ("unknown port, a trusted origin", api, b"https://trusted.example/x", https, False),
        ("unknown port, insecure Referer", api, b"http://www.example.test/", https, False),
    ]
    for view in ("session_ia", "token_session_ia"):
        if view not in generator.views:
            continue
        for label, host, referer, extra, may_defer in cases:
            headers = [(b"Cookie", john + b"; xsrf=" + SECRET)] + csrf + list(extra)
            if referer is not None:
                headers.append((b"Referer", referer))
            for method in (b"POST", b"DELETE"):
                generator.add(f"{feature}: {view}: {label}: {method.decode()}", feature, view,
                              method, headers)
                generator.requests[-1].update(settings_variant=variant, host=host,
                                              may_defer=may_defer, layer_may_defer=may_defer)
        cookie_cases = [
            ("fixture db session", [(b"Cookie", fixture_john + b"; xsrf=" + SECRET)] + csrf),
            ("default CSRF cookie name", [(b"Cookie", john + b"; csrftoken=" + SECRET)] + csrf),
            ("both CSRF cookies, configured one short",
             [(b"Cookie", john + b"; xsrf=short; csrftoken=" + SECRET)] + csrf),
            ("masked CSRF cookie", [(b"Cookie", john + b"; xsrf=" + MASKED)] + csrf),
            ("default session cookie name", [(b"Cookie", JOHN + b"; xsrf=" + SECRET)] + csrf),
            ("no CSRF token", [(b"Cookie", john + b"; xsrf=" + SECRET)]),
        ]
        for label, headers in cookie_cases:
            for method in (b"GET", b"POST"):
                generator.add(f"{feature}: {view}: {label}: {method.decode()}", feature, view,
                              method, headers)
                generator.requests[-1].update(settings_variant=variant, host=b"api.example.test")


def add_settings_requests(generator, variant, cookies):
    {"csrf_sessions": add_csrf_sessions_requests,
     "csrf_domain": add_csrf_domain_requests}[variant](generator, cookies)

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
    ]
    for view in ("session_ia", "token_session_ia"):
        for label, headers in states:
            for method in (b"GET", b"POST", b"DELETE"):
                generator.add(f"{feature}: {view}: {label}: {method.decode()}", feature, view,
                              method, headers)
                generator.requests[-1]["engine"] = engine

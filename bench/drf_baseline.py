"""DRF's own cost for what drfgate's criterion benches measure, on this machine, in the same run.

Usage: .venv/bin/python bench/drf_baseline.py [--results DIR]  (after `make fixture-db`)
With --results, also writes DIR/drf.tsv (name, microseconds) for bench/core_tables.py.
Prints median microseconds per operation for:
  - a full DRF dispatch of an IsAuthenticated + TokenAuthentication view with a valid token
    (Django's WSGI handler and middleware included, as a request reaching Python pays them);
  - TokenAuthentication.authenticate() alone (its one ORM query);
  - the same dispatch with a wrong token (DRF refusing it);
  - Django's check_password for the fixture's pbkdf2_sha256 hash (1,000,000 iterations);
  - a full dispatch of a SessionAuthentication + IsAuthenticated view with the fixture's
    logged-in session: GET, and PUT and POST with Origin, the CSRF cookie and a masked
    X-CSRFToken (SessionMiddleware, AuthenticationMiddleware and the CSRF checks included; the
    POST has an empty JSON body, as a JavaScript client's, so request.POST holds no form field).
  - simplejwt's JWTAuthentication.authenticate() with an HS256 and an RS256 access token, and knox's
    TokenAuthentication.authenticate() (tokens of tests/django/jwt_fixtures.py).
"""
import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "django"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refproj.settings")
os.environ.setdefault("DRFGATE_DJANGO_DB", str(REPO / "build" / "django" / "db.sqlite3"))

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import check_password  # noqa: E402
from django.test import Client, RequestFactory  # noqa: E402
from rest_framework.authentication import TokenAuthentication  # noqa: E402
from rest_framework.request import Request  # noqa: E402

from django.contrib.auth import get_user_model  # noqa: E402


def median_us(fn, rounds=7, per_round=200):
    fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            fn()
        samples.append((time.perf_counter() - start) / per_round * 1e6)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=Path, help="also write DIR/drf.tsv")
    args = parser.parse_args()
    client = Client()
    ok = lambda: client.get("/api/token-ia/", HTTP_AUTHORIZATION="Token abcd1234")  # noqa: E731
    assert ok().status_code == 200
    bad = lambda: client.get("/api/token-ia/", HTTP_AUTHORIZATION="Token wrongtoken")  # noqa: E731
    assert bad().status_code == 401
    factory = RequestFactory()
    raw = factory.get("/api/token-ia/", HTTP_AUTHORIZATION="Token abcd1234")
    auth = TokenAuthentication()
    authenticate = lambda: auth.authenticate(Request(raw))  # noqa: E731
    encoded = get_user_model().objects.get(username="john").password
    browser = Client(enforce_csrf_checks=True)
    browser.cookies["sessionid"] = "johnsessionkey000000000000000001"
    browser.cookies["csrftoken"] = "Zx8kq2LmN4pR7sTvW1yB3dF5gH6jK9cE"
    token = "m3Pq8RtY2uI5oA7sD9fG1hJ4kL6zX0cVbqNAoJ4aFoXMlSQNp0D7UkeZqi2IxZep"
    session_get = lambda: browser.get("/api/session-ia/")  # noqa: E731
    session_put = lambda: browser.put(  # noqa: E731
        "/api/session-ia/", HTTP_ORIGIN="http://testserver", HTTP_X_CSRFTOKEN=token
    )
    session_post = lambda: browser.generic(  # noqa: E731
        "POST", "/api/session-ia/", b"", content_type="application/json",
        HTTP_ORIGIN="http://testserver", HTTP_X_CSRFTOKEN=token,
    )
    assert session_get().status_code == 200
    assert session_put().status_code == 200
    assert session_post().status_code == 200
    from expapp.views import simple_jwt_settings
    from knox.auth import TokenAuthentication as KnoxAuthentication
    from rest_framework_simplejwt.authentication import JWTAuthentication

    tokens = json.loads((REPO / "build" / "django" / "jwt" / "tokens.json").read_text("utf-8"))
    jwt = JWTAuthentication()

    def jwt_authenticate(token):
        request = Request(factory.get("/", HTTP_AUTHORIZATION=f"Bearer {token}"))
        return lambda: jwt.authenticate(request)

    hs256 = jwt_authenticate(tokens["access_john"])
    rs256 = jwt_authenticate(tokens["access_rs256"])
    knox_request = Request(factory.get("/", HTTP_AUTHORIZATION=f"Token {tokens['knox_john']}"))
    knox = lambda: KnoxAuthentication().authenticate(knox_request)  # noqa: E731
    assert hs256()[0].username == "john" and knox()[0].username == "john"
    with simple_jwt_settings({"ALGORITHM": "RS256", "VERIFYING_KEY_FILE": "rsa.pub.pem"}):
        assert rs256()[0].username == "john"
        rs256_us = median_us(rs256)
    results = {
        "drf_dispatch_valid_token_us": median_us(ok),
        "drf_dispatch_bad_token_us": median_us(bad),
        "drf_token_authenticate_us": median_us(authenticate),
        "drf_dispatch_session_get_us": median_us(session_get),
        "drf_dispatch_session_put_csrf_us": median_us(session_put),
        "drf_dispatch_session_post_csrf_us": median_us(session_post),
        "django_check_password_pbkdf2_1M_us": median_us(
            lambda: check_password("password", encoded), rounds=3, per_round=2
        ),
        "simplejwt_authenticate_hs256_us": median_us(hs256),
        "simplejwt_authenticate_rs256_us": rs256_us,
        "knox_authenticate_us": median_us(knox),
    }
    for name, value in results.items():
        print(f"{name} {value:.1f}")
    if args.results:
        args.results.mkdir(parents=True, exist_ok=True)
        (args.results / "drf.tsv").write_text(
            "".join(f"{name}\t{value:.1f}\n" for name, value in results.items()))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Queries and time per allowed request in the application: DRF's TokenAuthentication and
RemoteUserAuthentication against drfgate_django's GateAuthentication, in one run.

Each view is IsAuthenticated and answers the username; requests are built with RequestFactory and
handed to the view (no middleware, no server), over a SQLite file made by `migrate` in a scratch
folder. Usage: bench/auth_per_request.py [--requests N]   (from python/drfgate-django, venv python)
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "src"), str(HERE.parent / "tests")]
SCRATCH = tempfile.mkdtemp(prefix="drfgate-bench-")
os.environ["SAMPLEPROJ_DB"] = str(Path(SCRATCH) / "db.sqlite3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproj.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import RequestFactory, override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework import authentication, permissions  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from drfgate_django import handoff  # noqa: E402
from drfgate_django.authentication import GateAuthentication  # noqa: E402


def view_with(auth_class):
    class View(APIView):
        authentication_classes = [auth_class]
        permission_classes = [permissions.IsAuthenticated]

        def get(self, request):
            return Response({"user": request.user.get_username()})

    return View.as_view()


def measure(view, make_request, count):
    factory = RequestFactory()
    with CaptureQueriesContext(connection) as queries:
        response = view(make_request(factory))
    assert response.status_code == 200, response.data
    per_request = len(queries)
    timings = []
    for _ in range(count):
        request = make_request(factory)
        started = time.perf_counter()
        view(request)
        timings.append(time.perf_counter() - started)
    return per_request, statistics.median(timings) * 1e6, statistics.mean(timings) * 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    count = parser.parse_args().requests
    call_command("migrate", verbosity=0, interactive=False)
    user = get_user_model().objects.create_user("alice", password="x")
    token = Token.objects.create(user=user)
    key_file = Path(SCRATCH) / "handoff.key"
    key_file.write_bytes(b"k" * 32)

    def gate_request(factory):
        signature = handoff.sign(b"k" * 32, int(time.time()), "GET", "/bench/", "token",
                                 str(user.pk), "alice", "")
        return factory.get("/bench/", HTTP_X_DRFGATE_SIGNATURE=signature, HTTP_X_DRFGATE_AUTH="token",
                           HTTP_X_DRFGATE_USER_ID=str(user.pk), HTTP_X_DRFGATE_USER="alice",
                           HTTP_X_DRFGATE_USER_FLAGS="")

    rows = []
    with override_settings(DRFGATE={"HANDOFF_SECRET_FILE": str(key_file)},
                           AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.RemoteUserBackend"]):
        for name, view, make in (
            ("TokenAuthentication", view_with(authentication.TokenAuthentication),
             lambda f: f.get("/bench/", HTTP_AUTHORIZATION=f"Token {token.key}")),
            ("RemoteUserAuthentication", view_with(authentication.RemoteUserAuthentication),
             lambda f: f.get("/bench/", REMOTE_USER="alice")),
            ("GateAuthentication", view_with(GateAuthentication), gate_request),
        ):
            rows.append((name, *measure(view, make, count)))
    import rest_framework

    print(f"Django {django.get_version()}, DRF {rest_framework.VERSION}, SQLite file, "
          f"{count} requests each, RequestFactory -> view")
    print(f"| {'authentication class':<26} | queries / request | median µs | mean µs |")
    print(f"|{'-' * 28}|-------------------|-----------|---------|")
    for name, queries, median, mean in rows:
        print(f"| {name:<26} | {queries:>17} | {median:>9.0f} | {mean:>7.0f} |")


if __name__ == "__main__":
    main()

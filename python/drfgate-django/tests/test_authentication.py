"""GateAuthentication: request.user from the gate's signed identity, with zero queries; any
header it cannot vouch for is refused."""
import re
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from drfgate_django import handoff
from exports import REPO_ROOT, run

KEY = b"k" * 32


def meta(signature, auth="token", pk="", user="", flags=""):
    headers = {"HTTP_X_DRFGATE_SIGNATURE": signature, "HTTP_X_DRFGATE_AUTH": auth}
    if pk:
        headers.update(HTTP_X_DRFGATE_USER_ID=pk, HTTP_X_DRFGATE_USER=user, HTTP_X_DRFGATE_USER_FLAGS=flags)
    return {k: v for k, v in headers.items() if v is not None}


class HandoffTestCase(TestCase):
    def setUp(self):
        scratch = tempfile.TemporaryDirectory()
        self.addCleanup(scratch.cleanup)
        self.key_file = Path(scratch.name) / "handoff.key"
        self.key_file.write_bytes(KEY + b"\n")
        settings = override_settings(ROOT_URLCONF="sampleproj.urls_handoff",
                                     DRFGATE={"HANDOFF_SECRET_FILE": str(self.key_file)})
        settings.enable()
        self.addCleanup(settings.disable)
        self.user = get_user_model().objects.create_user(
            "walterwhité", email="w@example.com", password="x", is_staff=True)

    def signed(self, method="GET", path="/whoami/", at=None, key=KEY, user=None, flags="staff"):
        user = user or self.user
        return meta(handoff.sign(key, int(time.time()) if at is None else at, method, path, "token",
                                 str(user.pk), user.username, flags),
                    pk=str(user.pk), user=user.username.replace("é", "%C3%A9"), flags=flags)


class GateAuthenticationTests(HandoffTestCase):
    def test_the_signature_is_the_gates(self):
        # The vectors crates/drfgate/src/handoff.rs asserts for its own signatures.
        self.assertEqual(
            handoff.sign(KEY, 1700000000, "GET", "/api/orders/1/", "token", "1", "walterwhité", "staff"),
            "t=1700000000,v1=bd9abe4e9079ea4b5e5221630a19a24f122f27da5534e4d21bfe65f566ed11ac")
        self.assertEqual(
            handoff.sign(KEY, 1700000000, "POST", "/api/open/", "anonymous"),
            "t=1700000000,v1=501dbc36ef61ef0e25b94c5e90ad69ab16490c9c9c5f644535c322dbec8c4837")

    def test_a_signed_identity_runs_the_view_without_a_query(self):
        with CaptureQueriesContext(connection) as queries:
            response = self.client.get("/whoami/", **self.signed())
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json(), {"user": "walterwhité", "pk": self.user.pk, "staff": True,
                                           "superuser": False, "auth": "token"})
        self.assertEqual(len(queries), 0, [q["sql"] for q in queries])

    def test_other_fields_load_on_first_access(self):
        from drfgate_django.authentication import GateAuthentication
        from rest_framework.request import Request
        from django.test import RequestFactory

        request = Request(RequestFactory().get("/whoami/", **self.signed()),
                          authenticators=[GateAuthentication()])
        with CaptureQueriesContext(connection) as queries:
            user = request.user
            self.assertEqual(len(queries), 0)
            self.assertEqual(user.email, "w@example.com")
        self.assertEqual(len(queries), 1)

    def assert_refused(self, response):
        self.assertEqual(response.status_code, 401, response.content)
        self.assertEqual(response.json(), {"detail": "Invalid drfgate identity signature."})
        self.assertEqual(response["WWW-Authenticate"], "Token")  # the next class's challenge

    def test_forged_stale_and_replayed_signatures_are_refused(self):
        now = int(time.time())
        self.assert_refused(self.client.get("/whoami/", **self.signed(key=b"x" * 32)))
        self.assert_refused(self.client.get("/whoami/", **self.signed(at=now - 120)))
        self.assert_refused(self.client.get("/whoami/", **self.signed(at=now + 120)))
        self.assert_refused(self.client.get("/elsewhere/", **self.signed(path="/whoami/")))
        self.assert_refused(self.client.post("/whoami/", **self.signed(method="GET")))
        other = get_user_model().objects.create_user("mallory", password="x")
        forged = self.signed(user=other)
        forged["HTTP_X_DRFGATE_USER_ID"] = str(self.user.pk)  # someone else's signature
        self.assert_refused(self.client.get("/whoami/", **forged))
        escalated = self.signed(flags="")
        escalated["HTTP_X_DRFGATE_USER_FLAGS"] = "staff,superuser"
        self.assert_refused(self.client.get("/whoami/", **escalated))
        self.assert_refused(self.client.get("/whoami/", HTTP_X_DRFGATE_SIGNATURE="t=1,v1=zz"))

    def test_unsigned_identity_headers_are_refused(self):
        response = self.client.get("/whoami/", HTTP_X_DRFGATE_USER="walterwhit%C3%A9",
                                   HTTP_X_DRFGATE_USER_ID=str(self.user.pk), HTTP_X_DRFGATE_AUTH="token")
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response.json(), {"detail": "Unsigned drfgate identity."})

    def test_without_the_gates_headers_the_projects_classes_judge(self):
        token = Token.objects.create(user=self.user)
        response = self.client.get("/whoami/", HTTP_AUTHORIZATION=f"Token {token.key}")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["auth"], token.key)
        # Nobody: DRF's own refusal, with the next class's challenge.
        response = self.client.get("/whoami/")
        self.assertEqual((response.status_code, response["WWW-Authenticate"]), (401, "Token"))
        # The gate let an anonymous request through: the next classes judge it (anonymous here).
        anonymous = meta(handoff.sign(KEY, int(time.time()), "GET", "/whoami/", "anonymous"), auth="anonymous")
        self.assertEqual(self.client.get("/whoami/", **anonymous).status_code, 401)

    def test_nginx_drops_empty_headers_an_anonymous_signature_still_holds(self):
        # nginx sends no X-Drfgate-Auth for an anonymous request ($drfgate_auth is empty).
        anonymous = {"HTTP_X_DRFGATE_SIGNATURE":
                     handoff.sign(KEY, int(time.time()), "GET", "/whoami/", "anonymous")}
        response = self.client.get("/whoami/", **anonymous)
        self.assertEqual((response.status_code, response["WWW-Authenticate"]), (401, "Token"))


class ApacheEnvironTests(HandoffTestCase):
    """mod_drfgate under mod_wsgi: DRFGATE_* environ variables, the username as WSGI text."""

    def environ(self, at=None, user=None, flags="staff", path="/whoami/"):
        user = user or self.user
        signature = handoff.sign(KEY, int(time.time()) if at is None else at, "GET", path, "token",
                                 str(user.pk), user.username, flags)
        return {"DRFGATE_SIGNATURE": signature, "DRFGATE_AUTH": "token", "DRFGATE_USER_ID": str(user.pk),
                # mod_wsgi hands Python the UTF-8 bytes as latin-1 text (PEP 3333).
                "DRFGATE_USERNAME": user.username.encode("utf-8").decode("latin-1"),
                "DRFGATE_USER_FLAGS": flags, "REMOTE_USER": user.username}

    def test_a_signed_environ_runs_the_view_without_a_query(self):
        with CaptureQueriesContext(connection) as queries:
            response = self.client.get("/whoami/", **self.environ())
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json()["user"], "walterwhité")
        self.assertEqual(len(queries), 0, [q["sql"] for q in queries])

    def test_a_stale_or_altered_environ_is_refused(self):
        stale = self.environ(at=int(time.time()) - 120)
        self.assertEqual(self.client.get("/whoami/", **stale).status_code, 401)
        escalated = self.environ(flags="")
        escalated["DRFGATE_USER_FLAGS"] = "superuser"
        self.assertEqual(self.client.get("/whoami/", **escalated).status_code, 401)

    def test_client_headers_never_replace_apaches_identity(self):
        environ = self.environ()
        other = get_user_model().objects.create_user("mallory", password="x")
        environ.update(HTTP_X_DRFGATE_USER="mallory", HTTP_X_DRFGATE_USER_ID=str(other.pk),
                       HTTP_X_DRFGATE_SIGNATURE="t=1,v1=00")
        response = self.client.get("/whoami/", **environ)
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json()["user"], "walterwhité")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThroughDrfgateServeTests(HandoffTestCase):
    """The gate's own signature (drfgate serve, Rust) accepted by GateAuthentication (Python)."""

    def test_serve_signs_what_gate_authentication_accepts(self):
        import os

        binary = os.environ.get("DRFGATE_BIN")
        if not binary:
            if "drfgate-bin" in os.environ.get("DRFGATE_SKIP", "").split(","):
                return
            self.fail("DRFGATE_BIN is not set (the drfgate binary; or DRFGATE_SKIP=drfgate-bin)")
        demo_db = REPO_ROOT / ".demo" / "db.sqlite3"
        boss_token = re.search(r'BOSS_TOKEN = "([0-9a-f]+)"',
                               (REPO_ROOT / "examples" / "demo" / "make_demo_db.py").read_text()).group(1)
        config = self.key_file.parent / "drfgate.toml"
        status, _, err = run("--urlconf", "sampleproj.urls_handoff", "--database", f"sqlite://{demo_db}",
                             "--output", str(config))
        self.assertEqual(status, 0, err)
        self.assertIn(f'[handoff]\nSECRET_FILE = "{self.key_file}"\n', config.read_text())
        port = free_port()
        server = subprocess.Popen([binary, "serve", "--config", str(config), "--listen", f"127.0.0.1:{port}"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(server.wait)
        self.addCleanup(server.terminate)
        self.assertIn("listening", server.stdout.readline())
        request = urllib.request.Request(f"http://127.0.0.1:{port}/whoami/",
                                         headers={"Authorization": f"Token {boss_token}"})
        with urllib.request.urlopen(request) as answer:
            headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in answer.headers.items()
                       if k.lower().startswith("x-drfgate-")}
        self.assertEqual(headers["HTTP_X_DRFGATE_USER_FLAGS"], "staff")
        get_user_model().objects.create_user("boss", is_staff=True, id=int(headers["HTTP_X_DRFGATE_USER_ID"]))
        with CaptureQueriesContext(connection) as queries:
            response = self.client.get("/whoami/", **headers)
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json()["user"], "boss")
        self.assertEqual(response.json()["staff"], True)
        self.assertEqual(len(queries), 0)
        # The same headers on another path are worth nothing.
        self.assertEqual(self.client.get("/elsewhere/", **headers).status_code, 401)


class CapturingUpstream:
    """An HTTP server standing in for the application behind a proxy: answers 200 and keeps
    each request's path and headers."""

    def __init__(self):
        import http.server
        import threading

        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append((self.path, dict(self.headers.items())))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class ThroughTheLayerTests(HandoffTestCase):
    """The tower Layer's signed hand-off (crates/drfgate-tower/examples/path_proxy.rs forwards it
    as `drfgate serve`'s X-Drfgate-* headers) accepted by GateAuthentication, and a client's own
    copy of those headers never reaching the application."""

    def test_the_layer_signs_what_gate_authentication_accepts(self):
        import os

        proxy = os.environ.get("DRFGATE_PATH_PROXY")
        if not proxy:
            if "drfgate-bin" in os.environ.get("DRFGATE_SKIP", "").split(","):
                return
            self.fail("DRFGATE_PATH_PROXY is not set (crates/drfgate-tower's example path_proxy; "
                      "or DRFGATE_SKIP=drfgate-bin)")
        demo_db = REPO_ROOT / ".demo" / "db.sqlite3"
        boss_token = re.search(r'BOSS_TOKEN = "([0-9a-f]+)"',
                               (REPO_ROOT / "examples" / "demo" / "make_demo_db.py").read_text()).group(1)
        config = self.key_file.parent / "drfgate.toml"
        status, _, err = run("--urlconf", "sampleproj.urls_handoff", "--database", f"sqlite://{demo_db}",
                             "--output", str(config))
        self.assertEqual(status, 0, err)
        upstream = CapturingUpstream()
        self.addCleanup(upstream.close)
        port = free_port()
        server = subprocess.Popen([proxy, f"127.0.0.1:{port}", upstream.address, str(config)],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(server.wait)
        self.addCleanup(server.terminate)
        self.assertIn("listening", server.stdout.readline())
        request = urllib.request.Request(f"http://127.0.0.1:{port}/whoami/", headers={
            "Authorization": f"Token {boss_token}",
            # A client's own claim: never passed on.
            "X-Drfgate-User": "mallory", "X-Drfgate-User-Flags": "staff,superuser",
            "X-Drfgate-Signature": "t=1,v1=00"})
        with urllib.request.urlopen(request) as answer:
            self.assertEqual(answer.status, 200)
        [(path, sent)] = upstream.seen
        self.assertEqual(path, "/whoami/")
        headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in sent.items()
                   if k.lower().startswith("x-drfgate-")}
        self.assertEqual(headers["HTTP_X_DRFGATE_USER"], "boss")
        self.assertEqual(headers["HTTP_X_DRFGATE_USER_FLAGS"], "staff")
        self.assertEqual(headers["HTTP_X_DRFGATE_AUTH"], "token")
        self.assertNotIn("mallory", str(sent))
        get_user_model().objects.create_user("boss", is_staff=True, id=int(headers["HTTP_X_DRFGATE_USER_ID"]))
        with CaptureQueriesContext(connection) as queries:
            response = self.client.get("/whoami/", **headers)
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json()["user"], "boss")
        self.assertEqual(response.json()["staff"], True)
        self.assertEqual(len(queries), 0)
        # The same headers on another path are worth nothing.
        self.assertEqual(self.client.get("/elsewhere/", **headers).status_code, 401)

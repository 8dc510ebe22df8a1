"""Session POST bodies through a front-end module that reads them for the gate (the Apache and
nginx modules: tests/apache/e2e.py, tests/nginx/e2e.py). Standard library only (the Apache
suite runs with Debian's python3).

Each case is one raw HTTP/1.1 request to refproj's session view (SessionAuthentication,
IsAuthenticated) with john's fixture session (made by Django: tests/django/make_fixture_db.py).
What is checked, per case: the status and body the client gets, whether the request reached the
application, with or without the identity the gate hands on (answered: john; deferred: none, the
application's own DRF decides), and that the application received the body byte for byte
(tests/apache/app/reached_log.py records its length and SHA-256).

The expected answers are DRF's: tests/nginx/e2e.py sends every case to gunicorn directly too and
compares, so the table below is checked against real Django on every run.
"""
import hashlib
import http.client
import re
import socket
import threading
import time

SESSION_PATH = "/api/session-ia/"
CSRF_SECRET = "Zx8kq2LmN4pR7sTvW1yB3dF5gH6jK9cE"
COOKIE = f"sessionid=johnsessionkey000000000000000001; csrftoken={CSRF_SECRET}"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
JOHN = '{"user":"john"}'
# [django] DATA_UPLOAD_MAX_MEMORY_SIZE, Django's default.
MAX_MEMORY_SIZE = 2621440

ANSWERED, DEFERRED, REFUSED = "answered", "deferred", "refused"


class Case:
    def __init__(self, name, content_type, body, status, answer=None, outcome=ANSWERED,
                 header_token=False, pieces=1, chunked=False):
        self.name = name
        self.content_type = content_type
        self.body = body
        self.status = status
        self.answer = answer          # the response body; None: not compared (checked by oracle)
        self.outcome = outcome
        self.header_token = header_token
        self.pieces = pieces          # the body sent in this many writes, a pause between
        self.chunked = chunked

    def headers(self):
        headers = [("Cookie", COOKIE)]
        if self.content_type is not None:
            headers.append(("Content-Type", self.content_type))
        if self.header_token:
            headers.append(("X-CSRFToken", CSRF_SECRET))
        if self.chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            headers.append(("Content-Length", str(len(self.body))))
        return headers


def form(fields):
    return "&".join(f"{k}={v}" for k, v in fields).encode()


def cases(big_form_outcome):
    """The cases; `big_form_outcome`: what the front end does with a 100 kB form (Apache reads
    it; nginx defers a body over client_body_buffer_size unread)."""
    padding = ("p", "x" * 100_000)
    return [
        # First, while the session is not yet in the gate's cache: nginx resumes from the body
        # callback, then decides in its thread pool.
        Case("slow_form", FORM, form([("csrfmiddlewaretoken", CSRF_SECRET), ("note", "slow")]),
             200, JOHN, pieces=4),
        Case("form_token", FORM, form([("csrfmiddlewaretoken", CSRF_SECRET), ("note", "h%C3%A9llo")]),
             200, JOHN),
        Case("form_wrong_token", FORM,
             form([("note", "1"), ("csrfmiddlewaretoken", "Q" * 32)]), 403,
             '{"detail":"CSRF Failed: CSRF token from POST incorrect."}', REFUSED),
        Case("form_short_token", FORM, form([("csrfmiddlewaretoken", "abc")]), 403,
             '{"detail":"CSRF Failed: CSRF token from POST has incorrect length."}', REFUSED),
        # An empty field falls back to the header.
        Case("form_empty_field_header", FORM, form([("csrfmiddlewaretoken", ""), ("a", "1")]),
             200, JOHN, header_token=True),
        Case("form_no_token", FORM, form([("a", "1")]), 403,
             '{"detail":"CSRF Failed: CSRF token missing."}', REFUSED),
        Case("json_header_token", JSON, '{"note": "h\u00e9llo", "n": [1, 2]}'.encode(), 200, JOHN,
             header_token=True),
        Case("json_no_token", JSON, b'{"a": 1}', 403,
             '{"detail":"CSRF Failed: CSRF token missing."}', REFUSED),
        # Python's json message in DRF's 400: the application's own answer.
        Case("json_broken", JSON, b'{"note": ', 400, None, DEFERRED, header_token=True),
        Case("text_plain", "text/plain", b"hello", 415,
             '{"detail":"Unsupported media type \\"text/plain\\" in request."}', REFUSED,
             header_token=True),
        Case("oversized_form", FORM,
             form([("csrfmiddlewaretoken", CSRF_SECRET), ("p", "x" * MAX_MEMORY_SIZE)]), 400, None,
             REFUSED),
        Case("big_form", FORM, form([("csrfmiddlewaretoken", CSRF_SECRET), padding]), 200, JOHN,
             big_form_outcome),
    ]


CHUNKED = Case("chunked_form", FORM, form([("csrfmiddlewaretoken", CSRF_SECRET)]), None,
               outcome=DEFERRED, chunked=True, pieces=2)


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


def case_named(name):
    return next(case for case in cases(ANSWERED) if case.name == name)


def send(port, case, timeout=60):
    """The case's request; the body written by a second thread (a refusal may come before the
    body is all sent, and a paced body must not hold up reading the answer)."""
    lines = [f"POST {SESSION_PATH} HTTP/1.1".encode(), f"Host: 127.0.0.1:{port}".encode()]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in case.headers()]
    lines.append(b"Connection: close")
    head = b"\r\n".join(lines) + b"\r\n\r\n"
    body = case.body
    step = max(1, -(-len(body) // case.pieces))
    pieces = [body[i:i + step] for i in range(0, len(body), step)]
    if case.chunked:
        pieces = [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]

    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)

    def write():
        try:
            sock.sendall(head)
            for i, piece in enumerate(pieces):
                if i:
                    time.sleep(0.2)  # pacing only: the outcome, never the time, is checked
                sock.sendall(piece)
        except OSError:
            pass  # answered and closed before the whole body was sent

    writer = threading.Thread(target=write)
    writer.start()
    try:
        response = http.client.HTTPResponse(sock, method="POST")
        response.begin()
        answer = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return Reply(response.status, headers, answer.decode("utf-8", errors="replace"))
    finally:
        writer.join()
        sock.close()


def send_cut_short(port, sent=10, announced=1000):
    """A client that announces a body, sends part of it and stops sending (half-closes). The
    status the front end answers with, or None (no answer: closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(
            f"POST {SESSION_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {COOKIE}\r\n"
            f"Content-Type: {FORM}\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n"
            .encode() + b"csrfmiddlewaretoken="[:sent])
        sock.shutdown(socket.SHUT_WR)
        received = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except ConnectionResetError:
            pass
    found = re.match(rb"HTTP/1\.1 (\d{3}) ", received)
    return int(found.group(1)) if found else None


def send_pipelined(port, case):
    """The case's request and a GET written at once on one connection: the front end must read
    exactly the body for the gate, leaving the next request to be parsed. The status lines."""
    head = "".join(f"{name}: {value}\r\n" for name, value in case.headers())
    host = f"Host: 127.0.0.1:{port}\r\n"
    data = (f"POST {SESSION_PATH} HTTP/1.1\r\n{host}{head}\r\n".encode() + case.body
            + f"GET {SESSION_PATH} HTTP/1.1\r\n{host}Cookie: {COOKIE}\r\n"
              f"Connection: close\r\n\r\n".encode())
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(data)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    return [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", received)]


def check_case(case, reply, reached, identity_of):
    """Problems with one case's reply and what reached the application (`identity_of(record)`:
    the user name the front end handed on, or None)."""
    problems = []
    if case.status is not None and reply.status != case.status:
        problems.append(f"status {reply.status} != {case.status}")
    if case.answer is not None and reply.body != case.answer:
        problems.append(f"body {reply.body[:200]!r} != {case.answer!r}")
    if case.outcome == REFUSED:
        if reached:
            problems.append(f"refused, but reached the application {len(reached)} times")
        return problems
    if len(reached) != 1:
        problems.append(f"{case.outcome}, but reached the application {len(reached)} times")
        return problems
    record = reached[0]
    user = identity_of(record)
    if case.outcome == ANSWERED and user != "john":
        problems.append(f"answered by the gate, but the identity handed on is {user!r}")
    if case.outcome == DEFERRED and user:
        problems.append(f"deferred, but an identity was handed on: {user!r}")
    if not case.chunked:
        digest = hashlib.sha256(case.body).hexdigest()
        if (record.get("body_len"), record.get("body_sha256")) != (len(case.body), digest):
            problems.append(f"the application got {record.get('body_len')} bytes "
                            f"(sha256 {str(record.get('body_sha256'))[:12]}…), not the "
                            f"{len(case.body)} sent")
    return problems


def run(port, reached_log, identity_of, big_form_outcome, oracle_port=None):
    """Every case through the front end on `port`; with `oracle_port` (the application served
    directly), each answer is compared with Django's too. Returns (checked, failures)."""
    failures = []
    checked = 0
    for case in cases(big_form_outcome):
        mark = reached_log.mark()
        reply = send(port, case)
        problems = check_case(case, reply, reached_log.since(mark), identity_of)
        if oracle_port is not None:
            theirs = send(oracle_port, case)
            if (theirs.status, theirs.body) != (reply.status, reply.body):
                problems.append(f"DRF answers {theirs!r}")
        if problems:
            failures.append(f"{case.name}: " + "; ".join(problems))
        checked += 1
    # Chunked: the length is the WSGI server's to know, so the gate defers; any answer but a
    # hang, and never an identity.
    mark = reached_log.mark()
    reply = send(port, CHUNKED)
    for record in reached_log.since(mark):
        if identity_of(record):
            failures.append(f"chunked_form: an identity was handed on ({reply!r})")
    checked += 1
    # Pipelined behind a body the gate read: both answered, the body handed on as sent.
    mark = reached_log.mark()
    statuses = send_pipelined(port, case_named("form_token"))
    seen = reached_log.since(mark)
    if statuses != [200, 200] or len(seen) != 2 or seen[0].get("body_len") != len(
            case_named("form_token").body):
        failures.append(f"pipelined after a body: {statuses}, reached {seen}")
    checked += 1
    # Cut short: never passed on (the body is not all there); the front end answers the request
    # itself (or closes) and answers the next one.
    mark = reached_log.mark()
    cut_status = send_cut_short(port)
    if reached_log.since(mark):
        failures.append("a body cut short reached the application")
    after = send(port, case_named("form_token"))
    if after.status != 200:
        failures.append(f"after a client went away mid-body: {after!r}")
    checked += 1
    return checked, failures, {"chunked": reply.status, "cut short": cut_status}

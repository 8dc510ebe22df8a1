#!/usr/bin/env python3
"""Answers every case of the conformance table with real Django + DRF and checks the table's
expectations against those answers.

Usage: oracle.py OUTPUT_JSON [--cases PATH] [--db PATH] [--quiet]
  --cases  default tests/conformance/cases.json
  --db     fixture database (default $DRFGATE_DJANGO_DB or build/django/db.sqlite3); it is copied
           first, because logins may rewrite password hashes and must not change the fixture.
           A postgres:// or mysql:// URL (tests/django/server_db.py) runs Django on that server,
           on a copy named <name>_oracle.
  --engine-answers  answers differing from the table's "expect" are recorded, not failures: the
           oracle of another database engine, whose comparisons may differ from SQLite's
           (MariaDB's collations); the differences are printed.

Each request goes through Django's whole WSGI stack (middleware included, CSRF enforced as in
production) with an environ built by hand, so header bytes reach DRF exactly: a WSGI environ holds
each header as its raw octets decoded as ISO-8859-1 (PEP 3333).

Output: {case id: {"status", "body", "www_authenticate", "user"}}; "body" is "" for HEAD (as a
server sends it), "user" is the username from a 2xx body (null otherwise or when anonymous).
Exit status 1 if any answer differs from the case's "expect" (spec drift), 2 on a malformed table.
"""
import argparse
import io
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DJANGO_DIR = REPO_ROOT / "tests" / "django"

CASE_KEYS = {"id", "spec_row", "view", "method", "headers", "remote_user", "expect"}
EXPECT_KEYS = {"status", "detail", "body", "www_authenticate", "user"}
_BYTE_ESCAPE = re.compile(r"\\x([0-9A-Fa-f]{2})")


class TableError(ValueError):
    pass


def table_bytes(text):
    """Decodes the table's byte notation: `\\xNN` is one raw octet, everything else UTF-8."""
    out = bytearray()
    position = 0
    for match in _BYTE_ESCAPE.finditer(text):
        out += text[position : match.start()].encode("utf-8")
        out.append(int(match.group(1), 16))
        position = match.end()
    out += text[position:].encode("utf-8")
    return bytes(out)


def as_wsgi_string(raw):
    return raw.decode("latin-1")


def compact_json(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def validate_table(document):
    views = document.get("views")
    cases = document.get("cases")
    if not isinstance(views, dict) or not isinstance(cases, list):
        raise TableError('the table needs a "views" object and a "cases" list')
    seen = set()
    for case in cases:
        case_id = case.get("id")
        if not isinstance(case_id, str) or case_id in seen:
            raise TableError(f"missing or repeated case id {case_id!r}")
        seen.add(case_id)
        if set(case) != CASE_KEYS:
            raise TableError(f"{case_id}: keys must be exactly {sorted(CASE_KEYS)}")
        if case["view"] not in views:
            raise TableError(f"{case_id}: unknown view {case['view']!r}")
        expect = case["expect"]
        if not set(expect) <= EXPECT_KEYS or "status" not in expect:
            raise TableError(f"{case_id}: expect keys must be within {sorted(EXPECT_KEYS)}")
        if "www_authenticate" not in expect:
            raise TableError(f"{case_id}: expect.www_authenticate is required (string or null)")
        if ("detail" in expect) == ("body" in expect):
            raise TableError(f"{case_id}: expect needs exactly one of detail/body")
        if case["method"].upper() == "HEAD" and expect.get("body") != "":
            raise TableError(f'{case_id}: a HEAD case expects "body": ""')
        for header in case["headers"]:
            if len(header) != 2 or not header[0].isascii():
                raise TableError(f"{case_id}: headers are [ascii name, value] pairs")


def build_environ(case, view_path):
    environ = {
        "REQUEST_METHOD": case["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": "/" + view_path.lstrip("/"),
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    joined = {}
    for name, value in case["headers"]:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        raw = table_bytes(value)
        # Repeated headers are joined with "," as Django's ASGI handler does.
        joined[key] = joined[key] + b"," + raw if key in joined else raw
    for key, raw in joined.items():
        environ[key] = as_wsgi_string(raw)
    if case["remote_user"] is not None:
        environ["REMOTE_USER"] = as_wsgi_string(table_bytes(case["remote_user"]))
    return environ


def call_wsgi(application, environ):
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = headers

    result = application(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return captured["status"], captured["headers"], body


def answer(application, case, view_path):
    status, headers, body = call_wsgi(application, build_environ(case, view_path))
    www_authenticate = next(
        (value for name, value in headers if name.lower() == "www-authenticate"), None
    )
    body_text = body.decode("utf-8", errors="replace")
    user = None
    if 200 <= status < 300:
        try:
            user = json.loads(body_text).get("user")
        except (ValueError, AttributeError):
            user = None
    if case["method"].upper() == "HEAD":
        body_text = ""  # what a server sends; the username above came from the full body
    return {
        "status": status,
        "body": body_text,
        "www_authenticate": www_authenticate,
        "user": user,
    }


def mismatches(expect, got):
    problems = []
    if got["status"] != expect["status"]:
        problems.append(f"status {got['status']} != {expect['status']}")
    wanted_body = compact_json({"detail": expect["detail"]}) if "detail" in expect else expect["body"]
    if got["body"] != wanted_body:
        problems.append(f"body {got['body']!r} != {wanted_body!r}")
    if got["www_authenticate"] != expect["www_authenticate"]:
        problems.append(f"www_authenticate {got['www_authenticate']!r} != {expect['www_authenticate']!r}")
    if "user" in expect and got["user"] != expect["user"]:
        problems.append(f"user {got['user']!r} != {expect['user']!r}")
    return problems


def short(text, width):
    text = "-" if text is None else str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def setup_django(cases_path, db_copy):
    os.environ["DRFGATE_CASES"] = str(cases_path)
    os.environ["DRFGATE_DJANGO_DB"] = str(db_copy)
    os.environ["DJANGO_SETTINGS_MODULE"] = "refproj.settings"
    sys.path.insert(0, str(DJANGO_DIR))
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("--cases", default=str(REPO_ROOT / "tests" / "conformance" / "cases.json"))
    parser.add_argument(
        "--db",
        default=os.environ.get(
            "DRFGATE_DJANGO_DB", str(REPO_ROOT / "build" / "django" / "db.sqlite3")
        ),
    )
    parser.add_argument("--quiet", action="store_true", help="print mismatches only")
    parser.add_argument("--engine-answers", action="store_true")
    arguments = parser.parse_args()
    sys.path.insert(0, str(DJANGO_DIR))
    import server_db

    on_server = server_db.is_server(arguments.db)

    cases_path = Path(arguments.cases).resolve()
    document = json.loads(cases_path.read_text("utf-8"))
    try:
        validate_table(document)
    except TableError as error:
        print(f"oracle: malformed table {cases_path}: {error}", file=sys.stderr)
        return 2
    if not on_server and not Path(arguments.db).is_file():
        print(f"oracle: no fixture database at {arguments.db} (make fixture-db)", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="drfgate-oracle-") as scratch:
        if on_server:
            db_copy = server_db.copy(arguments.db, server_db.parts(arguments.db)["name"] + "_oracle")
        else:
            db_copy = Path(scratch) / "db.sqlite3"
            shutil.copyfile(arguments.db, db_copy)
        application = setup_django(cases_path, db_copy)
        results = {}
        failures = 0
        if not arguments.quiet:
            print(f"{'case':<40} {'method':<7} {'view':<26} {'st':>3} {'www-authenticate':<20} outcome")
        for case in document["cases"]:
            view_path = document["views"][case["view"]]["path"]
            got = answer(application, case, view_path)
            results[case["id"]] = got
            problems = mismatches(case["expect"], got)
            failures += bool(problems)
            if problems or not arguments.quiet:
                outcome = (
                    "MISMATCH: " + "; ".join(problems)
                    if problems
                    else ("ok " + short(got["user"] if got["status"] < 300 else got["body"], 60))
                )
                print(
                    f"{case['id']:<40} {case['method']:<7} {case['view']:<26} {got['status']:>3} "
                    f"{short(got['www_authenticate'], 20):<20} {outcome}"
                )

    output = Path(arguments.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", "utf-8")
    total = len(document["cases"])
    if arguments.engine_answers:
        print(f"oracle: {total} answered on {server_db.parts(str(arguments.db))['scheme'] if on_server else 'sqlite'}, "
              f"{failures} differing from the table's expectations -> {output}")
        return 0
    print(f"oracle: {total - failures} passed, {failures} failed -> {output}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The drfgate configs for the conformance table (tests/conformance/cases.json), written in one
place for every suite that puts the table through the gate:

- `make gate-configs` runs this file to write build/conformance/configs/*.toml and index.json,
  which the Rust conformance test and the C tests read (drfgate-test-support): with `--python`
  (the venv's, as make passes it) each config is the one `manage.py drfgate_export` writes for the
  reference project (`exported_configs`), else the hand-written one (`configs`);
- tests/conformance/differential.py imports it for `drfgate serve` (exported configs, or
  hand-written ones with --hand-written);
- tests/apache/e2e.py and tests/nginx/e2e.py import it for the modules (`exported_config`, run by
  the venv's python that make passes them as --python), adding their deployment's own routes,
  and tests/conformance/jwt_e2e.py for their JWT and knox configs.

Standard library only: tests/apache/e2e.py runs under Debian's python3, without the venv (the
exports run the venv's python in a subprocess).

What the table means, decided here once:

- One config per AUTHENTICATION_BACKENDS, as Django's setting is global while a table view may
  name its own `backends`; the default backends' config comes first. Likewise one per
  SIMPLE_JWT: a view's "simple_jwt" settings go to its config's [simple_jwt] section (every
  config has one: the test project's SECRET_KEY as SIGNING_KEY, its AUTH_HEADER_TYPES, and the
  blacklist app, which it installs); `*_FILE` keys name files of the fixture's JWT directory. The test project's
  RemoteUserNoCreateBackend (which never creates users) is what drfgate's RemoteUserBackend does.
- Each entry under "classes" becomes `[authentication_classes."Name"]` or
  `[permission_classes."Name"]` with the same keys, except an authentication class with a Python
  `authenticate()` of its own (base BaseAuthentication): drfgate cannot express it, so it and
  the views using it are left out (listed in the index with the reason).
- JSON null is Python's None, as tests/django builds each class (`type(name, (base,), attrs)`).
  A permission's `message = None` is DRF's default message (APIView.permission_denied passes it
  to PermissionDenied, which takes a None detail as its default_detail), so the key is left out.
  A None inside a dict or list message is what DRF's force_str makes of it, "None", and is
  written as that string. A None anywhere else has no drfgate spelling and is refused.

Usage: gate_configs.py --db DB --out DIR [--cases PATH] [--python VENV_PYTHON]
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from collections import OrderedDict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
CASES = REPO_ROOT / "tests" / "conformance" / "cases.json"
MANAGE_PY = REPO_ROOT / "tests" / "django" / "manage.py"

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
REMOTE_USER_BACKEND = "django.contrib.auth.backends.RemoteUserBackend"
DEFAULT_BACKENDS = (MODEL_BACKEND,)
# The test project's backend that never creates users is what drfgate's RemoteUserBackend does.
BACKEND_SETTING = {"expapp.backends.RemoteUserNoCreateBackend": REMOTE_USER_BACKEND}
# Every hasher the fixture database has users for (tests/django/make_fixture_db.py).
HASHERS = [
    "PBKDF2PasswordHasher", "PBKDF2SHA1PasswordHasher", "Argon2PasswordHasher",
    "BCryptSHA256PasswordHasher", "BCryptPasswordHasher", "ScryptPasswordHasher",
    "MD5PasswordHasher",
]

# tests/django/refproj/settings.py's SECRET_KEY, ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS.
SECRET_KEY = "drfgate-test-secret-key-not-for-production-0123456789abcdef"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1", "[::1]"]
CSRF_TRUSTED_ORIGINS = ["https://trusted.example", "https://*.wild.example"]


# tests/django/refproj/settings.py: SECRET_KEY, SIMPLE_JWT and where the JWT fixtures are.
DJANGO_SECRET_KEY = os.environ.get(
    "DRFGATE_DJANGO_SECRET", "drfgate-test-secret-key-not-for-production-0123456789abcdef"
)
AUTH_HEADER_TYPES = ["Bearer", "JWT"]
# Classes of other packages than DRF, named by their dotted names in the table.
PACKAGE_CLASS_PREFIXES = ("rest_framework_simplejwt.", "knox.")
JWT_DIR = Path(os.environ.get("DRFGATE_JWT_DIR", str(REPO_ROOT / "build" / "django" / "jwt")))


class ConfigError(ValueError):
    """The table holds something drfgate's config cannot say."""


# ---------------------------------------------------------------------------------------------
# TOML values


def toml_string(text):
    """A TOML basic string: quote, backslash and the control characters TOML forbids escaped."""
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\t":
            out.append(char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def toml_value(value, where):
    """`value` as an inline TOML value; `where` names it in errors. A None here is refused: only
    `class_lines` knows where the table's nulls may stand."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v, f"{where}[{i}]") for i, v in enumerate(value)) + "]"
    if isinstance(value, dict):
        items = (f"{toml_string(k)} = {toml_value(v, f'{where}.{k}')}" for k, v in value.items())
        return "{ " + ", ".join(items) + " }"
    raise ConfigError(f"{where}: {value!r} has no drfgate spelling")


def message_value(value):
    """A permission's message below its top level: a None leaf is rendered by DRF's force_str,
    as the text "None"."""
    if value is None:
        return "None"
    if isinstance(value, list):
        return [message_value(v) for v in value]
    if isinstance(value, dict):
        return OrderedDict((k, message_value(v)) for k, v in value.items())
    return value


def class_lines(kind, name, spec):
    """The `[<kind>_classes."name"]` table for one of the table's classes."""
    lines = [f"[{kind}_classes.{toml_string(name)}]"]
    for key, value in spec.items():
        where = f'classes.{kind}."{name}".{key}'
        if kind == "permission" and key == "message":
            if value is None:
                continue  # DRF's default message
            value = message_value(value)
        lines.append(f"{key} = {toml_value(value, where)}")
    return lines


# ---------------------------------------------------------------------------------------------
# Which views, grouped how


def unsupported_auth_classes(cases):
    """Authentication classes with a Python authenticate() of their own."""
    return {
        name for name, spec in cases["classes"]["authentication"].items()
        if spec.get("base") == "BaseAuthentication"
    }


def left_out_views(cases):
    """{view: why} for the views no drfgate config can express."""
    unsupported = unsupported_auth_classes(cases)
    left_out = OrderedDict()
    for name, view in cases["views"].items():
        custom = [a for a in view["authentication_classes"] if a in unsupported]
        if custom:
            left_out[name] = (f"{custom[0]} has a custom Python authenticate(), which drfgate "
                              "cannot express")
    return left_out


def expressible_views(cases):
    left_out = left_out_views(cases)
    return [name for name in cases["views"] if name not in left_out]


def backends_of(cases, view):
    """The view's AUTHENTICATION_BACKENDS as drfgate's config names them."""
    backends = cases["views"][view].get("backends", DEFAULT_BACKENDS)
    return tuple(BACKEND_SETTING.get(b, b) for b in backends)


def simple_jwt_of(cases, view):
    """The view's own SIMPLE_JWT settings as canonical JSON, "" for none."""
    settings = cases["views"][view].get("simple_jwt")
    return json.dumps(settings, sort_keys=True) if settings else ""


def group_key(cases, view):
    """The view's config: its backends, and its SIMPLE_JWT when it has its own."""
    backends = backends_of(cases, view)
    jwt = simple_jwt_of(cases, view)
    if not jwt and any(c.startswith(PACKAGE_CLASS_PREFIXES)
                       for c in cases["views"][view]["authentication_classes"]):
        jwt = "{}"  # simplejwt's or knox's classes: a config of their own (see exported_configs)
    return (backends, jwt) if jwt else backends


def split_key(key):
    """(backends, simple_jwt settings or None) of a `groups` key."""
    if key and isinstance(key[0], tuple):
        return key[0], json.loads(key[1])
    return key, None


def groups(cases, views=None):
    """{key: [view, ...]} for `views` (default: every expressible view), the default
    backends first, even without views (a suite sends unmatched paths there). The key is the
    backends tuple, or (backends, SIMPLE_JWT json) for views with their own SIMPLE_JWT."""
    if views is None:
        views = expressible_views(cases)
    left_out = left_out_views(cases)
    grouped = OrderedDict()
    grouped[DEFAULT_BACKENDS] = []
    for view in views:
        if view in left_out:
            raise ConfigError(f"view {view}: {left_out[view]}")
        grouped.setdefault(group_key(cases, view), []).append(view)
    return grouped


# ---------------------------------------------------------------------------------------------
# Config text


def route_lines(cases, view):
    spec = cases["views"][view]
    lines = ["[[routes]]", f"name = {toml_string(view)}", f"path = {toml_string(spec['path'])}"]
    keys = ("authentication_classes", "permission_classes", "methods", "model", "renderer_classes")
    for key in keys:
        if key in spec:
            lines.append(f"{key} = {toml_value(spec[key], f'views.{view}.{key}')}")
    if spec.get("format_suffix"):
        # DRF's format_suffix_patterns: the same view at `<path minus its slash>.<format>/?`.
        regex = "^" + re.escape(spec["path"].rstrip("/")) + r"\.(?P<format>[a-z0-9]+)/?$"
        lines += ["", "[[routes]]", f"name = {toml_string(view + '-suffix')}", f"regex = {toml_string(regex)}"]
        lines += [line for line in lines[3:] if line.split(" = ")[0] in keys]
    return lines


def simple_jwt_lines(settings):
    """The [simple_jwt] section: the test project's global SIMPLE_JWT, then `settings`."""
    lines = [
        "[simple_jwt]",
        f"SIGNING_KEY = {toml_string(DJANGO_SECRET_KEY)}",
        f"AUTH_HEADER_TYPES = {toml_value(AUTH_HEADER_TYPES, 'AUTH_HEADER_TYPES')}",
        "token_blacklist_installed = true",
    ]
    for key, value in (settings or {}).items():
        if key.endswith("_FILE"):
            value = str(JWT_DIR / value)
        lines.append(f"{key} = {toml_value(value, f'simple_jwt.{key}')}")
    return lines


def config_text(cases, db, views, backends, extra_routes=(), simple_jwt=None):
    """A whole config: the database, `backends`, every hasher, unmatched paths denied, every
    class the table defines (but those drfgate cannot express), then `extra_routes` (lines of a
    suite's own routes) and a route per view of `views`."""
    unsupported = unsupported_auth_classes(cases)
    lines = [
        "[django]",
        # A server database's URL as it is (tests/django/server_db.py), else the SQLite file.
        f"DATABASE = {toml_string(str(db) if '://' in str(db) else 'sqlite://' + str(db))}",
        # tests/django/refproj/settings.py's values, for sessions and CSRF.
        f"SECRET_KEY = {toml_string(SECRET_KEY)}",
        f"ALLOWED_HOSTS = {toml_value(ALLOWED_HOSTS, 'hosts')}",
        f"CSRF_TRUSTED_ORIGINS = {toml_value(CSRF_TRUSTED_ORIGINS, 'origins')}",
        'SECURE_PROXY_SSL_HEADER = ["HTTP_X_FORWARDED_PROTO", "https"]',
        f"AUTHENTICATION_BACKENDS = {toml_value(list(backends), 'backends')}",
        f"PASSWORD_HASHERS = {toml_value(HASHERS, 'hashers')}",
        "[gate]",
        'unmatched = "deny"',
    ]
    for kind in ("authentication", "permission"):
        for name, spec in cases["classes"][kind].items():
            if name not in unsupported:
                lines += class_lines(kind, name, spec)
    lines += simple_jwt_lines(simple_jwt)
    lines += list(extra_routes)
    for view in views:
        lines += route_lines(cases, view)
    return "\n".join(lines) + "\n"


def configs(cases, db, views=None):
    """{key: (config text, [view, ...])}, one per AUTHENTICATION_BACKENDS and SIMPLE_JWT."""
    return OrderedDict(
        (key, (config_text(cases, db, members, split_key(key)[0],
                           simple_jwt=split_key(key)[1]), members))
        for key, members in groups(cases, views).items()
    )


# One export per set of arguments and process: a suite asks for the same config (the same
# database, backends and SIMPLE_JWT) once per virtual host or server instance, and each export
# starts Django, about a second.
_EXPORTS = {}
_EXPORTS_LOCK = threading.Lock()
# Exports run side by side: each is a process of its own, mostly waiting on Python's start-up.
EXPORT_WORKERS = 4


def exported_config(cases_path, db, python, django_backends, simple_jwt=None, scratch=None):
    """The config `manage.py drfgate_export` (python/drfgate-django) writes for the reference
    project (tests/django) serving `cases_path`, with AUTHENTICATION_BACKENDS `django_backends`
    as Django names them (the export maps the test project's backend itself) and `simple_jwt` as
    the project's own SIMPLE_JWT. Unmatched paths are denied, as in `config_text`. On a server
    database (a URL) the export writes the project's DATABASES itself, as
    [django.DATABASES.default]; `scratch` is then the folder for the SECRET_KEY file.
    Computed once per process for the same arguments."""
    simple_jwt = dict(simple_jwt or {})
    memo_key = (str(cases_path), str(db), str(python), tuple(django_backends),
                json.dumps(simple_jwt, sort_keys=True), str(scratch))
    with _EXPORTS_LOCK:
        done = _EXPORTS.get(memo_key)
        first = done is None
        if first:
            done = _EXPORTS[memo_key] = concurrent.futures.Future()
    if first:
        # The thread that asked first exports; any other waits for its answer.
        try:
            done.set_result(_export(cases_path, db, python, django_backends, simple_jwt, scratch))
        except Exception as error:  # noqa: BLE001  (given to every waiter, raised below)
            done.set_exception(error)
    return done.result()


def _export(cases_path, db, python, django_backends, simple_jwt, scratch):
    on_server = "://" in str(db)
    # The reference project's SECRET_KEY, in a file as a deployment would give it (the export
    # never writes the key itself).
    secret_key_file = Path(scratch if on_server else Path(db).parent) / "secret_key"
    # Replaced, not rewritten in place: exports running side by side may be reading it.
    written = secret_key_file.with_name(f".secret_key.{threading.get_ident()}")
    written.write_text(SECRET_KEY + "\n", "utf-8")
    written.replace(secret_key_file)
    database = [] if on_server else ["--database", "sqlite://" + str(db)]
    arguments = []
    if "SIGNING_KEY_FILE" in simple_jwt:
        arguments += ["--jwt-signing-key-file", str(JWT_DIR / simple_jwt["SIGNING_KEY_FILE"])]
    env = dict(os.environ, DRFGATE_CASES=str(cases_path), DRFGATE_DJANGO_DB=str(db),
               DRFGATE_DJANGO_BACKENDS=",".join(django_backends),
               DRFGATE_DJANGO_SIMPLE_JWT=json.dumps(simple_jwt))
    done = subprocess.run(
        [str(python), str(MANAGE_PY), "drfgate_export", "--unmatched", "deny", *database,
         "--secret-key-file", str(secret_key_file), *arguments],
        env=env, capture_output=True, text=True, cwd=str(MANAGE_PY.parent),
    )
    if done.returncode != 0:
        raise ConfigError(f"drfgate_export failed: {done.stderr.strip()}")
    return done.stdout


def exported_configs(cases, cases_path, db, python, views=None, scratch=None):
    """Like `configs`, but each config is `exported_config`'s for its group: the group's
    AUTHENTICATION_BACKENDS as Django names them, and its own SIMPLE_JWT as the project's
    (refproj.settings reads it), as a project with those settings would export them."""
    jobs = OrderedDict()
    for key, members in groups(cases, views).items():
        backends, simple_jwt = split_key(key)
        django_backends = next(
            (cases["views"][v]["backends"] for v in members if "backends" in cases["views"][v]),
            list(backends),
        )
        jobs[key] = (django_backends, simple_jwt, members)
    with concurrent.futures.ThreadPoolExecutor(EXPORT_WORKERS) as pool:
        texts = {key: pool.submit(exported_config, cases_path, db, python, backends, simple_jwt,
                                  scratch)
                 for key, (backends, simple_jwt, _) in jobs.items()}
        return OrderedDict((key, (texts[key].result(), members))
                           for key, (_, _, members) in jobs.items())


def add_to_section(text, section, lines):
    """`text` (a config) with `lines` added at the top of its `[section]` table: a suite's own
    settings in a table an export already has (TOML refuses a table defined twice)."""
    header = f"[{section}]\n"
    at = text.find(header)
    if at != 0 and (at < 0 or text[at - 1] != "\n"):
        raise ConfigError(f"the config has no [{section}] table")
    at += len(header)
    return text[:at] + "".join(line + "\n" for line in lines) + text[at:]


# ---------------------------------------------------------------------------------------------
# build/conformance/configs


def sha256_of(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write(cases_path, db, out, python=None):
    """Writes out/<n>.toml per config and out/index.json, which says which config has which
    view, which views are left out and why, and the hashes of the table and of this generator
    (so that a reader can tell a stale directory). With `python`, the configs are exports."""
    cases = json.loads(Path(cases_path).read_text("utf-8"), object_pairs_hook=OrderedDict)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.toml"):
        old.unlink()
    entries = []
    written = (exported_configs(cases, Path(cases_path).resolve(), db, python) if python
               else configs(cases, db))
    for number, (key, (text, members)) in enumerate(written.items()):
        name = f"{number}.toml"
        (out / name).write_text(text, "utf-8")
        backends, simple_jwt = split_key(key)
        entries.append(OrderedDict(file=name, backends=list(backends), simple_jwt=simple_jwt,
                                   views=members))
    index = OrderedDict(
        cases_sha256=sha256_of(cases_path),
        generator_sha256=sha256_of(__file__),
        database=str(db),
        configs=entries,
        left_out=left_out_views(cases),
    )
    temporary = out / "index.json.tmp"
    temporary.write_text(json.dumps(index, indent=1, ensure_ascii=False) + "\n", "utf-8")
    temporary.replace(out / "index.json")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=str(CASES))
    parser.add_argument("--db", required=True, help="the fixture database the configs name")
    parser.add_argument("--out", required=True, help="the directory to write")
    parser.add_argument("--python", help="the venv's python: write drfgate_export's configs")
    arguments = parser.parse_args()
    try:
        write(Path(arguments.cases), Path(arguments.db).resolve(), Path(arguments.out),
              Path(arguments.python).absolute() if arguments.python else None)
    except ConfigError as error:
        print(f"gate_configs: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

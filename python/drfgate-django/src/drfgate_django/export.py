"""The gate's config, from the project's URLconf and settings (what `drfgate_export` writes).

Every endpoint becomes a `[[routes]]` entry in resolver order, with the view's classes written out
(never left to the defaults, so that the file says what each view does). A view the gate cannot
model (not a DRF view, a class with Python logic, a pattern the gate cannot express exactly)
becomes `pass = true` (the application judges it, without an identity) and a warning.

The file starts with a header: the URLconf it came from and a fingerprint, the SHA-256 of every
byte after the fingerprint's line, so that `drfgate check` can tell a hand-edited export.
"""
import hashlib
import json
from dataclasses import dataclass, field
from typing import List

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import get_resolver
from rest_framework.generics import GenericAPIView
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from . import __version__, packages, tomlwrite
from .classes import TRANSPARENT, ClassTables, Unmodelable, dotted_name
from .urlwalk import Skipped, walk

FINGERPRINT_PREFIX = "# drfgate-export-fingerprint: sha256:"
ORIGIN_PREFIX = "# drfgate-export-origin: "
OPTIONS_PREFIX = "# drfgate-export-options: "

# APIView methods that decide authentication or permissions: a view overriding one decides in
# Python, which the gate cannot follow.
DECIDING_METHODS = (
    "initial", "initialize_request", "perform_authentication", "get_authenticators",
    "get_permissions", "check_permissions", "permission_denied", "get_authenticate_header",
)

# Django's backends and hashers the gate implements (docs/configuration.md, [django]).
BACKENDS = {
    "django.contrib.auth.backends.ModelBackend",
    "django.contrib.auth.backends.AllowAllUsersModelBackend",
    "django.contrib.auth.backends.RemoteUserBackend",
    "django.contrib.auth.backends.AllowAllUsersRemoteUserBackend",
}
HASHERS = {
    f"django.contrib.auth.hashers.{name}" for name in (
        "PBKDF2PasswordHasher", "PBKDF2SHA1PasswordHasher", "Argon2PasswordHasher",
        "BCryptSHA256PasswordHasher", "BCryptPasswordHasher", "ScryptPasswordHasher",
        "MD5PasswordHasher",
    )
}


@dataclass
class Options:
    urlconf: str = None  # default: ROOT_URLCONF
    unmatched: str = "pass"  # what the gate does with a path no route matches
    database: str = None  # DATABASE as the gate should open it; default: DATABASES["default"]
    # Where the gate reads a server database's password (never written itself): the name of an
    # environment variable, or a file; default: DRFGATE["DATABASE_PASSWORD_ENV" / "_FILE"].
    database_password_env: str = None
    database_password_file: str = None
    secret_key_file: str = None  # written as SECRET_KEY_FILE; the key itself never is
    # [simple_jwt] SIGNING_KEY_FILE, for a SIGNING_KEY other than SECRET_KEY (never written)
    jwt_signing_key_file: str = None

    def recorded(self):
        recorded = {"unmatched": self.unmatched, "database": self.database,
                    "secret_key_file": self.secret_key_file, "urlconf": self.urlconf}
        for name in ("jwt_signing_key_file", "database_password_env", "database_password_file"):
            if getattr(self, name) is not None:
                recorded[name] = getattr(self, name)
        return recorded


@dataclass
class Export:
    text: str
    warnings: List[str] = field(default_factory=list)


def export(options):
    warnings = []
    tables = ClassTables()
    renderers = Renderers()
    route_blocks = [_route_block(item, tables, renderers, warnings) for item in walk(_urlpatterns(options))]
    body = []
    body += _django_section(options, warnings)
    body += _rest_framework_section(tables, renderers, warnings)
    body += ["", "[gate]", f"unmatched = {tomlwrite.string(options.unmatched)}"]
    body += _handoff_section()
    body += packages.simple_jwt_section(options, warnings)
    body += packages.rest_knox_section(warnings)
    for kind, classes in (("authentication", tables.authentication), ("permission", tables.permission),
                          ("throttle", tables.throttle)):
        for name, table in sorted(classes.items()):
            body += ["", f"[{kind}_classes.{tomlwrite.string(name)}]"]
            body += [f"{key} = {tomlwrite.value(value)}" for key, value in table.items()]
    for name, table in sorted(renderers.custom.items()):
        body += ["", f"[renderer_classes.{tomlwrite.string(name)}]"]
        body += [f"{key} = {tomlwrite.value(value)}" for key, value in table.items()]
    for block in route_blocks:
        if block:
            body += [""] + block
    body_text = "\n".join(body) + "\n"
    header = (
        f"# The drfgate config of this Django project, written by `manage.py drfgate_export`\n"
        f"# (drfgate-django {__version__}). Do not edit: export again. In CI,\n"
        f"# `manage.py drfgate_export --check FILE` fails when the URLconf or settings changed.\n"
        f"{ORIGIN_PREFIX}{options.urlconf or settings.ROOT_URLCONF}\n"
        f"{OPTIONS_PREFIX}{json.dumps(options.recorded(), sort_keys=True)}\n"
    )
    fingerprint = hashlib.sha256(body_text.encode("utf-8")).hexdigest()
    return Export(f"{header}{FINGERPRINT_PREFIX}{fingerprint}\n{body_text}", warnings)


def recorded_options(text):
    """The options a previous export was made with (its header), or None."""
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        if line.startswith(OPTIONS_PREFIX):
            try:
                return json.loads(line[len(OPTIONS_PREFIX):])
            except ValueError:
                return None
    return None


def _urlpatterns(options):
    return get_resolver(options.urlconf).url_patterns


# ---------------------------------------------------------------------------------------------
# Routes


def _route_block(item, tables, renderers, warnings):
    if isinstance(item, Skipped):
        warnings.append(f"{item.source}: left out ({item.reason}); the gate treats it as unmatched")
        return [f"# left out: {item.source}: {item.reason}"]
    lines = ["[[routes]]"]
    if item.name:
        lines.append(f"name = {tomlwrite.string(item.name)}")
    if item.path is not None:
        lines.append(f"path = {tomlwrite.string(item.path)}")
    else:
        lines.append(f"regex = {tomlwrite.string(item.regex)}")
    try:
        lines += _view_keys(item.callback, tables, renderers)
    except Unmodelable as why:
        warnings.append(f"{item.name or item.source}: passed to the application unjudged: {why}")
        return [f"# passed to the application unjudged: {why}"] + lines + ["pass = true"]
    return lines


def _view_keys(callback, tables, renderers):
    cls = getattr(callback, "cls", None)
    if not (isinstance(cls, type) and issubclass(cls, APIView)):
        target = getattr(callback, "view_class", callback)
        name = getattr(target, "__qualname__", repr(target))
        raise Unmodelable(f"{getattr(target, '__module__', '?')}.{name} is not a DRF view")
    initkwargs = dict(getattr(callback, "initkwargs", {}) or {})
    actions = getattr(callback, "actions", None)

    def attribute(name):
        return initkwargs[name] if name in initkwargs else getattr(cls, name)

    view = f"{cls.__module__}.{cls.__qualname__}"
    for method in DECIDING_METHODS:
        definer = next(c for c in cls.__mro__ if method in vars(c))
        # DRF's own overrides (ViewSetMixin.initialize_request sets the action) are DRF's.
        if not definer.__module__.startswith("rest_framework."):
            raise Unmodelable(f"{view} overrides {method}()")
    authentication = _authentication(attribute("authentication_classes"), tables)
    ignore_model = bool(attribute("_ignore_model_permissions")) if hasattr(cls, "_ignore_model_permissions") else False
    permission_classes = list(attribute("permission_classes"))
    permissions = [tables.permission_expression(p, ignore_model) for p in permission_classes]
    lines = []
    methods = _methods(cls, actions, attribute("http_method_names"))
    lines.append(f"methods = {tomlwrite.value(methods)}")
    lines.append(f"authentication_classes = {tomlwrite.array(authentication)}")
    lines.append(f"permission_classes = {tomlwrite.array(permissions)}")
    lines.append(f"renderer_classes = {tomlwrite.array(renderers.names(attribute('renderer_classes')))}")
    # A session POST's CSRF check parses the body with the view's parsers; the defaults are
    # the config's DEFAULT_PARSER_CLASSES, so only a view with its own is written.
    parsers = [dotted_name(p) for p in attribute("parser_classes")]
    if parsers != [dotted_name(p) for p in api_settings.DEFAULT_PARSER_CLASSES]:
        lines.append(f"parser_classes = {tomlwrite.array(parsers)}")
    lines += _throttle_keys(cls, attribute, tables)
    if not ignore_model and any(tables.needs_model(p) for p in permission_classes):
        lines.append(f"model = {tomlwrite.string(_model_label(cls, attribute, view))}")
    return lines


def _throttle_keys(cls, attribute, tables):
    """The view's throttles where they are not the defaults (the config's
    DEFAULT_THROTTLE_CLASSES), and its throttle_scope (what ScopedRateThrottle reads)."""
    lines = []
    throttles = [tables.throttle_name(t) for t in attribute("throttle_classes")]
    if throttles != [dotted_name(t) for t in api_settings.DEFAULT_THROTTLE_CLASSES]:
        lines.append(f"throttle_classes = {tomlwrite.array(throttles)}")
    scope = attribute("throttle_scope") if hasattr(cls, "throttle_scope") else None
    if scope:
        lines.append(f"throttle_scope = {tomlwrite.string(scope)}")
    return lines


def _authentication(classes, tables):
    return [tables.authentication_name(c) for c in classes if dotted_name(c) not in TRANSPARENT]


def _methods(cls, actions, http_method_names):
    """DRF's allowed methods but OPTIONS (always allowed): the handlers, or a viewset's action
    map; HEAD only where it is not GET's alias (the gate adds it to GET)."""
    if actions is not None:
        present = {m for m in actions}
    else:
        present = {m for m in http_method_names if hasattr(cls, m)}
    if "get" in present and (actions is None or actions.get("head") in (None, actions.get("get"))):
        present.discard("head")
    return [m.upper() for m in http_method_names if m in present and m != "options"]


def _model_label(cls, attribute, view):
    """The model DjangoModelPermissions reads: `queryset`'s, as `app_label.model_name`."""
    queryset = attribute("queryset") if hasattr(cls, "queryset") else None
    if queryset is None:
        raise Unmodelable(f"{view}: DjangoModelPermissions needs a static queryset (get_queryset() is Python)")
    # DRF asks get_queryset() when the view has one; an override is taken to filter `queryset`
    # and keep its model (README: what the export assumes).
    return queryset.model._meta.label_lower


# ---------------------------------------------------------------------------------------------
# Settings


def _django_section(options, warnings):
    user = get_user_model()
    database_table = _server_database(options, warnings)
    lines = ["[django]"]
    if database_table is None:
        lines.append(f"DATABASE = {tomlwrite.string(_database(options, warnings))}")
    if options.secret_key_file:
        lines.append(f"SECRET_KEY_FILE = {tomlwrite.string(options.secret_key_file)}")
    else:
        lines.append("# SECRET_KEY is never written here: SECRET_KEY_FILE = \"…\" (drfgate_export --secret-key-file)")
    lines.append(f"AUTH_USER_TABLE = {tomlwrite.string(user._meta.db_table)}")
    lines.append(f"USERNAME_FIELD = {tomlwrite.string(user._meta.get_field(user.USERNAME_FIELD).column)}")
    token_table = _token_table()
    if token_table:
        lines.append(f"TOKEN_TABLE = {tomlwrite.string(token_table)}")
    backends = []
    for dotted in settings.AUTHENTICATION_BACKENDS:
        try:
            backends.append(_backend(dotted, warnings))
        except Unmodelable as why:
            warnings.append(f"AUTHENTICATION_BACKENDS: left out: {why}")
    lines.append(f"AUTHENTICATION_BACKENDS = {tomlwrite.array(backends)}")
    hashers = [h for h in settings.PASSWORD_HASHERS if h in HASHERS]
    for other in (h for h in settings.PASSWORD_HASHERS if h not in HASHERS):
        warnings.append(f"PASSWORD_HASHERS: {other} is not one the gate implements; left out")
    if hashers:
        lines.append(f"PASSWORD_HASHERS = {tomlwrite.array(hashers)}")
    lines += _session_lines(warnings)
    lines += _host_lines()
    # A sub-table closes [django]: it comes after every key of it.
    if database_table is not None:
        lines += ["", "[django.DATABASES.default]"]
        lines += [f"{key} = {tomlwrite.value(value)}" for key, value in database_table.items()]
    return lines


# The session and CSRF settings SessionAuthentication reads (docs/sessions.md), under Django's
# names; written when they differ from Django's defaults. Secrets (SECRET_KEY_FALLBACKS) never are.
SESSION_SETTINGS = (
    "SESSION_ENGINE", "SESSION_COOKIE_NAME", "SESSION_COOKIE_AGE", "SESSION_COOKIE_DOMAIN",
    "CSRF_COOKIE_NAME", "CSRF_HEADER_NAME", "CSRF_USE_SESSIONS", "CSRF_COOKIE_DOMAIN",
    "CSRF_TRUSTED_ORIGINS", "SECURE_PROXY_SSL_HEADER",
)

# What Django's CommonMiddleware checks before any view (docs/configuration.md, hosts):
# ALLOWED_HOSTS always (the gate checks hosts only when it has the list), the others when set.
HOST_SETTINGS = ("DEBUG", "USE_X_FORWARDED_HOST", "USE_X_FORWARDED_PORT")


def _host_lines():
    lines = [f"ALLOWED_HOSTS = {tomlwrite.value(list(settings.ALLOWED_HOSTS))}"]
    for name in HOST_SETTINGS:
        if getattr(settings, name, False):
            lines.append(f"{name} = true")
    lines.append(f"MIDDLEWARE = {tomlwrite.value(list(settings.MIDDLEWARE))}")
    return lines


def _session_lines(warnings):
    from django.conf import global_settings

    lines = []
    for name in SESSION_SETTINGS:
        value = getattr(settings, name, None)
        if value is None or value == getattr(global_settings, name, None):
            continue
        lines.append(f"{name} = {tomlwrite.value(list(value) if isinstance(value, tuple) else value)}")
    # What a session POST's body is judged by (docs/sessions.md): None is written as false.
    for name in ("DATA_UPLOAD_MAX_MEMORY_SIZE", "DATA_UPLOAD_MAX_NUMBER_FIELDS"):
        value = getattr(settings, name, None)
        if value != getattr(global_settings, name, None):
            lines.append(f"{name} = {'false' if value is None else int(value)}")
    if getattr(settings, "SECRET_KEY_FALLBACKS", None):
        warnings.append("SECRET_KEY_FALLBACKS: never written here; give the gate "
                        "SECRET_KEY_FALLBACKS_FILE = \"…\" (one key a line)")
    return lines


def _backend(dotted, warnings):
    """The gate's name for a backend: one of Django's, or a subclass that only turns off
    create_unknown_user (which the gate never does: it does not write to the database)."""
    from django.contrib.auth.backends import RemoteUserBackend
    from django.utils.module_loading import import_string

    if dotted in BACKENDS:
        if issubclass(import_string(dotted), RemoteUserBackend):
            warnings.append(f"AUTHENTICATION_BACKENDS: {dotted} creates unknown users; the gate "
                            "declines them (set create_unknown_user = False to match)")
        return dotted
    cls = import_string(dotted)
    ancestor = next((c for c in cls.__mro__ if f"{c.__module__}.{c.__qualname__}" in BACKENDS), None)
    if ancestor is None:
        raise Unmodelable(f"{dotted} is not a backend the gate implements")
    own = {n for layer in cls.__mro__[: cls.__mro__.index(ancestor)] for n in vars(layer)
           if not n.startswith("__")}
    if own - {"create_unknown_user"} or getattr(cls, "create_unknown_user", False):
        raise Unmodelable(f"{dotted} changes {', '.join(sorted(own)) or 'nothing'} of "
                          f"{ancestor.__qualname__} in Python")
    return f"{ancestor.__module__}.{ancestor.__qualname__}"


def _database(options, warnings):
    if options.database:
        return options.database
    default = settings.DATABASES.get("default", {})
    if default.get("ENGINE") not in SQLITE_ENGINES:
        warnings.append(f"DATABASES['default'] is {default.get('ENGINE')}: the gate opens SQLite, "
                        "PostgreSQL and MySQL/MariaDB only (--database)")
    return f"sqlite://{default.get('NAME')}" if str(default.get("NAME", "")).startswith("/") else str(default.get("NAME"))


# Django's engines the gate reads as a server database ([django.DATABASES.default]), by the
# OPTIONS keys it takes from them (docs/configuration.md, Server databases).
SQLITE_ENGINES = {"django.db.backends.sqlite3", "django.contrib.gis.db.backends.spatialite"}
SERVER_ENGINES = {
    "django.db.backends.postgresql": "postgres",
    "django.contrib.gis.db.backends.postgis": "postgres",
    "django.db.backends.mysql": "mysql",
    "django.contrib.gis.db.backends.mysql": "mysql",
}
SERVER_OPTIONS = {
    "postgres": {"sslmode", "sslrootcert", "connect_timeout"},
    "mysql": {"ssl_mode", "ssl", "unix_socket", "connect_timeout", "charset"},
}
# OPTIONS the gate refuses (it would connect otherwise than Django does): left out, with a warning.
REFUSED_OPTIONS = {"postgres": {"sslcert", "sslkey", "passfile", "service"}, "mysql": set()}


def _server_database(options, warnings):
    """DATABASES["default"] of a PostgreSQL or MySQL project as the gate's
    [django.DATABASES.default], or None (SQLite, or --database given). The password is never
    written: the table names where the gate reads it (PASSWORD_ENV or PASSWORD_FILE)."""
    default = settings.DATABASES.get("default", {})
    engine = SERVER_ENGINES.get(default.get("ENGINE"))
    if options.database or engine is None:
        return None
    table = {"ENGINE": default["ENGINE"]}
    for key in ("NAME", "USER", "HOST"):
        if default.get(key):
            table[key] = str(default[key])
    if default.get("PORT"):
        port = str(default["PORT"])
        table["PORT"] = int(port) if port.isdigit() else port
    chosen = _chosen_options(default, engine, warnings)
    if chosen:
        table["OPTIONS"] = chosen
    zone = default.get("TIME_ZONE")
    if zone:
        # The gate accepts UTC only; anything else is written for it to refuse, loudly.
        table["TIME_ZONE"] = str(zone)
    drfgate = getattr(settings, "DRFGATE", {}) or {}
    # The command line, when it names either, wins over the settings as a whole.
    if options.database_password_env or options.database_password_file:
        password_env, password_file = options.database_password_env, options.database_password_file
    else:
        password_env = drfgate.get("DATABASE_PASSWORD_ENV")
        password_file = drfgate.get("DATABASE_PASSWORD_FILE")
    if password_env and password_file:
        warnings.append("DATABASES['default'] PASSWORD: both an environment variable and a file "
                        "are named; the file is written (the gate takes one)")
        password_env = None
    if password_file:
        table["PASSWORD_FILE"] = str(password_file)
    elif password_env:
        table["PASSWORD_ENV"] = str(password_env)
    elif default.get("PASSWORD"):
        warnings.append("DATABASES['default'] PASSWORD is never written here: name where the gate "
                        "reads it (--database-password-env NAME or --database-password-file FILE, "
                        "or DRFGATE['DATABASE_PASSWORD_ENV' / 'DATABASE_PASSWORD_FILE'])")
    return table


def _chosen_options(default, engine, warnings):
    chosen = {}
    for name, value in (default.get("OPTIONS") or {}).items():
        if name in REFUSED_OPTIONS[engine] or (
                name == "ssl" and (not isinstance(value, dict) or set(value) - {"ca"})):
            warnings.append(f"DATABASES['default'] OPTIONS {name}: the gate does not support it; left out")
        elif name in SERVER_OPTIONS[engine]:
            chosen[name] = {k: str(v) for k, v in value.items()} if name == "ssl" else (
                value if isinstance(value, (int, str)) and not isinstance(value, bool) else str(value))
        # Other keys (init_command, isolation_level, pool, …) tune Django's own connection.
    return chosen


def _handoff_section():
    """The key GateAuthentication checks signatures with: the same file, named, never copied."""
    secret_file = getattr(settings, "DRFGATE", {}).get("HANDOFF_SECRET_FILE")
    if not secret_file:
        return []
    return ["", "[handoff]", f"SECRET_FILE = {tomlwrite.string(str(secret_file))}"]


def _token_table():
    from django.apps import apps

    if not apps.is_installed("rest_framework.authtoken"):
        return None
    return apps.get_model("authtoken", "Token")._meta.db_table


class Renderers:
    """Renderer classes as the config names them: DRF's by their short names, any other as a
    `[renderer_classes."…"]` table with its media_type and format (and base = "JSONRenderer"
    when it renders as DRF's JSON renderer does)."""

    def __init__(self):
        self.custom = {}

    def names(self, classes):
        return [self.name(c) for c in classes]

    def name(self, cls):
        from rest_framework import renderers

        dotted = dotted_name(cls)
        if cls.__module__ == "rest_framework.renderers" and getattr(renderers, cls.__name__, None) is cls:
            return cls.__name__
        table = {"media_type": str(cls.media_type or ""), "format": str(cls.format or "")}
        if issubclass(cls, renderers.JSONRenderer) and cls.render is renderers.JSONRenderer.render:
            table["base"] = "JSONRenderer"
        self.custom[dotted] = table
        return dotted


def _rest_framework_section(tables, renderers, warnings):
    lines = ["", "[rest_framework]"]
    lines.append(f"DEFAULT_RENDERER_CLASSES = {tomlwrite.array(renderers.names(api_settings.DEFAULT_RENDERER_CLASSES))}")
    parsers = [dotted_name(p) for p in api_settings.DEFAULT_PARSER_CLASSES]
    if parsers != ["rest_framework.parsers.JSONParser", "rest_framework.parsers.FormParser",
                   "rest_framework.parsers.MultiPartParser"]:
        lines.append(f"DEFAULT_PARSER_CLASSES = {tomlwrite.array(parsers)}")
    if api_settings.URL_FORMAT_OVERRIDE != "format":
        override = api_settings.URL_FORMAT_OVERRIDE
        lines.append(f"URL_FORMAT_OVERRIDE = {tomlwrite.value(override) if override else 'false'}")
    for key, getter in (
        ("DEFAULT_AUTHENTICATION_CLASSES", lambda: _authentication(api_settings.DEFAULT_AUTHENTICATION_CLASSES, tables)),
        ("DEFAULT_PERMISSION_CLASSES", lambda: [tables.permission_expression(p) for p in api_settings.DEFAULT_PERMISSION_CLASSES]),
        ("DEFAULT_THROTTLE_CLASSES", lambda: [tables.throttle_name(t) for t in api_settings.DEFAULT_THROTTLE_CLASSES]),
    ):
        if key == "DEFAULT_THROTTLE_CLASSES" and not api_settings.DEFAULT_THROTTLE_CLASSES:
            continue  # DRF's default, none: the gate's too
        try:
            lines.append(f"{key} = {tomlwrite.array(getter())}")
        except Unmodelable as why:
            # Every route names its own classes: the defaults only judge unmatched paths under
            # [gate] unmatched = "defaults", which the export does not write.
            warnings.append(f"REST_FRAMEWORK {key}: left out: {why}")
    rates = dict(api_settings.DEFAULT_THROTTLE_RATES)
    if rates != {"user": None, "anon": None}:
        # Python's None (that scope never throttles) is false in the config.
        table = {str(scope): False if rate is None else str(rate) for scope, rate in rates.items()}
        lines.append(f"DEFAULT_THROTTLE_RATES = {tomlwrite.value(table)}")
    if api_settings.NUM_PROXIES is not None:
        lines.append(f"NUM_PROXIES = {int(api_settings.NUM_PROXIES)}")
    return lines

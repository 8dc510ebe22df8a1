"""DRF views built from the conformance table (tests/conformance/cases.json).

Each entry of the table's "views" becomes one APIView whose authentication and permission classes
are real DRF classes (or thin subclasses described under "classes"), so the answers come from DRF
itself. On success every handler, OPTIONS included, answers {"user": <username or null>}.
"""
import json
import re
from contextlib import contextmanager

from django.apps import apps
from django.conf import settings
from django.test.utils import override_settings
from django.utils.module_loading import import_string
from django.urls import path
from rest_framework import authentication, exceptions, permissions, renderers
from rest_framework.urlpatterns import format_suffix_patterns
from rest_framework.metadata import BaseMetadata
from rest_framework.response import Response
from rest_framework.views import APIView

AUTHENTICATION_NAMES = (
    "BaseAuthentication",
    "BasicAuthentication",
    "SessionAuthentication",
    "TokenAuthentication",
    "RemoteUserAuthentication",
)
PERMISSION_NAMES = (
    "BasePermission",
    "AllowAny",
    "IsAuthenticated",
    "IsAdminUser",
    "IsAuthenticatedOrReadOnly",
    "DjangoModelPermissions",
    "DjangoModelPermissionsOrAnonReadOnly",
    "DjangoObjectPermissions",
)
# OPTIONS is answered by APIView itself (through the metadata class below).
HANDLER_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "TRACE")


class CaseTableError(ValueError):
    """The conformance table describes something this builder cannot turn into DRF classes."""


def load_cases(cases_path):
    with open(cases_path, encoding="utf-8") as cases_file:
        return json.load(cases_file)


def username_of(user):
    if user is not None and user.is_authenticated:
        return user.get_username()
    return None


class UserEchoMetadata(BaseMetadata):
    """Makes a successful OPTIONS answer like every other handler, instead of DRF's description of
    the view; the authentication and permission pipeline in front of it is unchanged."""

    def determine_metadata(self, request, view):
        return {"user": username_of(request.user)}


# ---------------------------------------------------------------------------------------------
# Permission expressions: names combined with ~ & | and parentheses, Python precedence
# (~ binds tighter than &, & tighter than |, binary operators associate to the left).

_EXPRESSION_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*)|([~&|()]))")


def _tokenize(expression):
    tokens = []
    position = 0
    expression = expression.rstrip()
    while position < len(expression):
        match = _EXPRESSION_TOKEN.match(expression, position)
        if not match:
            raise CaseTableError(f"bad permission expression {expression!r} at {position}")
        tokens.append(match.group(1) or match.group(2))
        position = match.end()
    return tokens


def evaluate_permission_expression(expression, resolve_name):
    """Builds DRF's own composed permission (via its & | ~ operators) for `expression`."""
    tokens = _tokenize(expression)
    position = 0

    def peek():
        return tokens[position] if position < len(tokens) else None

    def take(expected=None):
        nonlocal position
        token = peek()
        if token is None or (expected is not None and token != expected):
            raise CaseTableError(f"bad permission expression {expression!r}")
        position += 1
        return token

    def parse_or():
        result = parse_and()
        while peek() == "|":
            take("|")
            result = result | parse_and()
        return result

    def parse_and():
        result = parse_unary()
        while peek() == "&":
            take("&")
            result = result & parse_unary()
        return result

    def parse_unary():
        if peek() == "~":
            take("~")
            return ~parse_unary()
        if peek() == "(":
            take("(")
            inner = parse_or()
            take(")")
            return inner
        token = take()
        if token in ("~", "&", "|", "(", ")"):
            raise CaseTableError(f"bad permission expression {expression!r}")
        return resolve_name(token)

    result = parse_or()
    if position != len(tokens):
        raise CaseTableError(f"trailing tokens in permission expression {expression!r}")
    return result


# ---------------------------------------------------------------------------------------------
# Class registry: DRF's classes by short name plus the table's custom ones.


class ClassRegistry:
    def __init__(self, custom_classes):
        self._authentication_specs = dict(custom_classes.get("authentication", {}))
        self._permission_specs = dict(custom_classes.get("permission", {}))
        self._authentication = {
            name: getattr(authentication, name) for name in AUTHENTICATION_NAMES
        }
        self._permission = {name: getattr(permissions, name) for name in PERMISSION_NAMES}
        self._resolving = set()

    def authentication_class(self, name):
        if name in self._authentication:
            return self._authentication[name]
        if "." in name:
            # Another package's class by its dotted name (simplejwt, knox).
            self._authentication[name] = import_string(name)
            return self._authentication[name]
        spec = self._authentication_specs.get(name)
        if spec is None:
            raise CaseTableError(f"unknown authentication class {name!r}")
        built = self._build_authentication(name, spec)
        self._authentication[name] = built
        return built

    def _build_authentication(self, name, spec):
        attributes = dict(spec)
        base = self.authentication_class(attributes.pop("base"))
        failure_detail = attributes.pop("fails_with", None)
        if failure_detail is not None:
            # A custom authenticator that rejects every request, as DRF's own tests use.
            def authenticate(self, request):
                raise exceptions.AuthenticationFailed(failure_detail)

            attributes["authenticate"] = authenticate
        return type(name, (base,), attributes)

    def permission(self, expression):
        return evaluate_permission_expression(expression, self._permission_by_name)

    def _permission_by_name(self, name):
        if name in self._permission:
            return self._permission[name]
        spec = self._permission_specs.get(name)
        if spec is None:
            raise CaseTableError(f"unknown permission class {name!r}")
        if name in self._resolving:
            raise CaseTableError(f"permission class {name!r} is defined in terms of itself")
        self._resolving.add(name)
        try:
            built = self._build_permission(name, spec)
        finally:
            self._resolving.discard(name)
        self._permission[name] = built
        return built

    def _build_permission(self, name, spec):
        attributes = dict(spec)
        base = self.permission(attributes.pop("base"))
        if not attributes:
            return base
        if isinstance(base, type):
            return type(name, (base,), attributes)
        # A composed base is an operand holder, not a class: wrap it in a real class so that
        # attributes such as `message` sit where APIView.check_permissions looks for them.
        composed = base

        def has_permission(self, request, view):
            return composed().has_permission(request, view)

        def has_object_permission(self, request, view, obj):
            return composed().has_object_permission(request, view, obj)

        attributes["has_permission"] = has_permission
        attributes["has_object_permission"] = has_object_permission
        # Says to drfgate_export that this Python has_permission is the composed base's.
        attributes["drfgate_base"] = composed
        return type(name, (permissions.BasePermission,), attributes)


# ---------------------------------------------------------------------------------------------
# Views


def _answer_with_user(self, request, *args, **kwargs):
    return Response({"user": username_of(request.user)})


def build_view(view_name, spec, registry):
    methods = [method.upper() for method in spec.get("methods", ["GET"])]
    unsupported = [m for m in methods if m not in HANDLER_METHODS and m != "OPTIONS"]
    if unsupported:
        raise CaseTableError(f"view {view_name!r}: unsupported methods {unsupported}")
    attributes = {
        "authentication_classes": [
            registry.authentication_class(name) for name in spec["authentication_classes"]
        ],
        "permission_classes": [
            registry.permission(expression) for expression in spec["permission_classes"]
        ],
        "metadata_class": UserEchoMetadata,
        "backends": spec.get("backends"),
        "simple_jwt": spec.get("simple_jwt"),
        **({"renderer_classes": [getattr(renderers, name) for name in spec["renderer_classes"]]}
           if "renderer_classes" in spec else {}),
        "__doc__": f"Conformance view {view_name}.",
    }
    for method in methods:
        if method != "OPTIONS":
            attributes[method.lower()] = _answer_with_user
    if spec.get("model"):
        app_label, model_name = spec["model"].split(".")
        attributes["queryset"] = apps.get_model(app_label, model_name)._default_manager.all()
    return type(f"ConformanceView_{view_name}", (ConformanceView,), attributes)


# SIMPLE_JWT keys that make the token backend (the rest are simplejwt's api_settings).
TOKEN_BACKEND_KEYS = ("ALGORITHM", "SIGNING_KEY", "VERIFYING_KEY", "AUDIENCE", "ISSUER", "LEEWAY")


@contextmanager
def simple_jwt_settings(overrides):
    """SIMPLE_JWT as the table's view says, for one request. simplejwt reads its settings from
    `api_settings` at each request and its token backend from `state.token_backend` (looked up
    anew by each token), so both are swapped and put back; AUTH_HEADER_TYPES is read at import
    and stays global (refproj.settings). `*_FILE` keys name files of JWT_FIXTURE_DIR; the gate's
    own `token_blacklist_installed` is the app in INSTALLED_APPS here."""
    from rest_framework_simplejwt import state
    from rest_framework_simplejwt.backends import TokenBackend
    from rest_framework_simplejwt.settings import api_settings

    values = dict(overrides or {})
    values.pop("token_blacklist_installed", None)
    for file_key in ("VERIFYING_KEY_FILE", "SIGNING_KEY_FILE"):
        if file_key in values:
            path = settings.JWT_FIXTURE_DIR / values.pop(file_key)
            values[file_key[: -len("_FILE")]] = path.read_text("utf-8")
    backend_args = {key: values.pop(key, getattr(api_settings, key)) for key in TOKEN_BACKEND_KEYS}
    backend = TokenBackend(
        backend_args["ALGORITHM"], backend_args["SIGNING_KEY"], backend_args["VERIFYING_KEY"],
        backend_args["AUDIENCE"], backend_args["ISSUER"], None, backend_args["LEEWAY"],
    )
    if "AUTH_TOKEN_CLASSES" in values:
        values["AUTH_TOKEN_CLASSES"] = [import_string(c) for c in values["AUTH_TOKEN_CLASSES"]]
    saved = {key: getattr(api_settings, key) for key in values}
    saved_backend = state.token_backend
    for key, value in values.items():
        setattr(api_settings, key, value)
    state.token_backend = backend
    try:
        yield
    finally:
        state.token_backend = saved_backend
        for key, value in saved.items():
            setattr(api_settings, key, value)


class ConformanceView(APIView):
    # Django's AUTHENTICATION_BACKENDS is global; the table makes it per view (RemoteUser views need
    # RemoteUserBackend). Swapping the setting per request is fine for single-threaded test servers.
    # SIMPLE_JWT likewise ("simple_jwt").
    backends = None
    simple_jwt = None

    def dispatch(self, request, *args, **kwargs):
        with simple_jwt_settings(self.simple_jwt):
            if self.backends is None:
                return super().dispatch(request, *args, **kwargs)
            with override_settings(AUTHENTICATION_BACKENDS=list(self.backends)):
                return super().dispatch(request, *args, **kwargs)


def url_patterns(cases_document):
    registry = ClassRegistry(cases_document.get("classes", {}))
    patterns = []
    for name, spec in cases_document.get("views", {}).items():
        pattern = path(spec["path"], build_view(name, spec, registry).as_view(), name=name)
        # "format_suffix": also the view's `.json`-style routes, as DRF's format_suffix_patterns.
        patterns += format_suffix_patterns([pattern]) if spec.get("format_suffix") else [pattern]
    return patterns

"""Which DRF classes the gate models, and how a project's classes map onto them.

The two tables below are the whole knowledge of the exporter about authentication and permission
classes: a class the gate implements, with the attributes a subclass may change (each one is the
config key of the same name). A project class is modelled when its nearest ancestor is in a table
and nothing between them defines anything but those attributes; anything else (a Python
`authenticate()`, `has_permission()`, another attribute) cannot be modelled and raises
`Unmodelable`. Adding a class the gate learns is one row here.
"""
from rest_framework import permissions

# dotted name -> the attributes a subclass may set, each written as the config key of that name.
AUTHENTICATION = {
    "rest_framework.authentication.SessionAuthentication": (),
    "rest_framework.authentication.BasicAuthentication": ("www_authenticate_realm",),
    "rest_framework.authentication.TokenAuthentication": ("keyword",),
    "rest_framework.authentication.RemoteUserAuthentication": ("header",),
    # djangorestframework-simplejwt and django-rest-knox: their settings are [simple_jwt] and
    # [rest_knox] (packages.py), not class attributes.
    "rest_framework_simplejwt.authentication.JWTAuthentication": (),
    "rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication": (),
    "rest_framework_simplejwt.authentication.JWTTokenUserAuthentication": (),
    "knox.auth.TokenAuthentication": (),
}

# Classes the exporter leaves out of authentication lists: the application's side of the gate's
# own hand-off (GateAuthentication declines unless the gate signed the request, and gives the
# next class's challenge), which the gate itself never sees.
TRANSPARENT = {"drfgate_django.authentication.GateAuthentication"}

# dotted name -> whether the class needs the view's model (config key `model`).
PERMISSIONS = {
    "rest_framework.permissions.AllowAny": False,
    "rest_framework.permissions.IsAuthenticated": False,
    "rest_framework.permissions.IsAdminUser": False,
    "rest_framework.permissions.IsAuthenticatedOrReadOnly": False,
    "rest_framework.permissions.DjangoModelPermissions": True,
    "rest_framework.permissions.DjangoModelPermissionsOrAnonReadOnly": True,
}
# What a permission subclass may set: `message` is the config's key; `code` only changes the
# exception's code, which DRF does not render in the body.
PERMISSION_ATTRIBUTES = ("message", "code")

# DRF's throttles the gate runs ([throttle_classes], docs/configuration.md#throttling): a subclass
# may set its `scope` and `rate` (None written as false). Anything else (its own
# get_cache_key(), allow_request(), THROTTLE_RATES, cache, scope_attr, …) is Python.
THROTTLES = {
    "rest_framework.throttling.AnonRateThrottle",
    "rest_framework.throttling.UserRateThrottle",
    "rest_framework.throttling.ScopedRateThrottle",
}
THROTTLE_ATTRIBUTES = ("scope", "rate")

# A permission class whose has_permission is Python may declare the expression it is equal to,
# as a composed permission (IsAuthenticated & IsAdminUser) or a string in the config's syntax.
DECLARED_BASE = "drfgate_base"

ALLOW_ANY = "rest_framework.permissions.AllowAny"


class Unmodelable(Exception):
    """The gate cannot decide like this class would; the message says why."""


def dotted_name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def _own_names(cls):
    """What `cls` itself defines, but the bookkeeping every class has."""
    return {
        name for name in vars(cls)
        if not (name.startswith("__") and name.endswith("__")) and name != "_abc_impl"
    }


def _modelled_ancestor(cls, table):
    for ancestor in cls.__mro__:
        if dotted_name(ancestor) in table:
            return ancestor
    return None


def _chain(cls, ancestor):
    """The classes of cls's MRO before `ancestor` (the project's own layers)."""
    return cls.__mro__[: cls.__mro__.index(ancestor)]


class ClassTables:
    """Collects the `[authentication_classes."…"]` and `[permission_classes."…"]` tables the
    exported routes need, and gives each class its config name."""

    def __init__(self):
        self.authentication = {}  # dotted name -> {key: value}
        self.permission = {}
        self.throttle = {}

    # -- authentication ------------------------------------------------------------------

    def authentication_name(self, cls):
        name = dotted_name(cls)
        if name in AUTHENTICATION:
            return name
        ancestor = _modelled_ancestor(cls, AUTHENTICATION)
        if ancestor is None:
            raise Unmodelable(f"{name} has its own authenticate() in Python")
        allowed = set(AUTHENTICATION[dotted_name(ancestor)])
        table = {"base": dotted_name(ancestor)}
        for layer in reversed(_chain(cls, ancestor)):
            extra = sorted(_own_names(layer) - allowed)
            if extra:
                raise Unmodelable(f"{name}: {dotted_name(layer)} defines {', '.join(extra)} in Python")
            for key in sorted(_own_names(layer) & allowed):
                table[key] = getattr(cls, key)
        self.authentication[name] = table
        return name

    # -- throttles -----------------------------------------------------------------------

    def throttle_name(self, cls):
        name = dotted_name(cls)
        if name in THROTTLES:
            return name
        ancestor = _modelled_ancestor(cls, THROTTLES)
        if ancestor is None:
            raise Unmodelable(f"{name} is not a throttle the gate runs (its allow_request() is Python)")
        table = {"base": dotted_name(ancestor)}
        for layer in reversed(_chain(cls, ancestor)):
            extra = sorted(_own_names(layer) - set(THROTTLE_ATTRIBUTES))
            if extra:
                raise Unmodelable(f"{name}: {dotted_name(layer)} defines {', '.join(extra)} in Python")
        for key in THROTTLE_ATTRIBUTES:
            if any(key in vars(layer) for layer in _chain(cls, ancestor)):
                value = getattr(cls, key)
                if value is not None and not isinstance(value, str):
                    raise Unmodelable(f"{name}: {key} = {value!r} is not a string")
                table[key] = False if value is None else value
        self.throttle[name] = table
        return name

    # -- permissions ---------------------------------------------------------------------

    def permission_expression(self, permission, ignore_model=False):
        """`permission` (a class or DRF's composed operand holder) as an expression of the
        config; `ignore_model` is the view's `_ignore_model_permissions` (DRF's root view),
        under which DjangoModelPermissions always allows."""
        return self._expression(permission, 0, ignore_model)

    def needs_model(self, permission):
        if isinstance(permission, permissions.OperandHolder):
            return self.needs_model(permission.op1_class) or self.needs_model(permission.op2_class)
        if isinstance(permission, permissions.SingleOperandHolder):
            return self.needs_model(permission.op1_class)
        if isinstance(permission, type):
            declared = _declared_base(permission)
            if declared is not None and not isinstance(declared, str):
                return self.needs_model(declared)
            if isinstance(declared, str):
                return "DjangoModelPermissions" in declared
            ancestor = _modelled_ancestor(permission, PERMISSIONS)
            return ancestor is not None and PERMISSIONS[dotted_name(ancestor)]
        return False

    # Precedence as Python (and the config) parse: | lowest, then &, then ~.
    _PRECEDENCE = {"|": 1, "&": 2, "~": 3}

    def _expression(self, permission, outer, ignore_model):
        if isinstance(permission, permissions.OperandHolder):
            operator = {permissions.AND: "&", permissions.OR: "|"}.get(permission.operator_class)
            if operator is None:
                raise Unmodelable(f"unknown permission operator {permission.operator_class!r}")
            level = self._PRECEDENCE[operator]
            # Left-associative: a right operand of the same precedence keeps its parentheses,
            # so that the tree DRF built (and its messages) is the one the gate parses.
            left = self._expression(permission.op1_class, level, ignore_model)
            right = self._expression(permission.op2_class, level + 1, ignore_model)
            text = f"{left} {operator} {right}"
            return f"({text})" if level < outer else text
        if isinstance(permission, permissions.SingleOperandHolder):
            if permission.operator_class is not permissions.NOT:
                raise Unmodelable(f"unknown permission operator {permission.operator_class!r}")
            return "~" + self._expression(permission.op1_class, 3, ignore_model)
        if not isinstance(permission, type):
            raise Unmodelable(f"{permission!r} is not a permission class")
        if ignore_model and self.needs_model(permission) and _declared_base(permission) is None:
            return ALLOW_ANY
        return self._permission_name(permission)

    def _permission_name(self, cls):
        name = dotted_name(cls)
        if name in PERMISSIONS:
            return name
        declared = _declared_base(cls)
        if declared is not None:
            base = declared if isinstance(declared, str) else self._expression(declared, 0, False)
            ancestor = None
        else:
            ancestor = _modelled_ancestor(cls, PERMISSIONS)
            if ancestor is None:
                raise Unmodelable(f"{name} has its own has_permission() in Python")
            base = dotted_name(ancestor)
        table = {"base": base}
        allowed = set(PERMISSION_ATTRIBUTES)
        layers = _chain(cls, ancestor) if ancestor is not None else (cls,)
        for layer in layers:
            own = _own_names(layer) - {DECLARED_BASE}
            if declared is not None:
                # The declaration vouches for has_permission and what it calls.
                own = {n for n in own if not callable(vars(layer)[n])}
            extra = sorted(own - allowed)
            if extra:
                raise Unmodelable(f"{name}: {dotted_name(layer)} defines {', '.join(extra)} in Python")
        message = getattr(cls, "message", None)
        if message is not None and any("message" in vars(layer) for layer in layers):
            table["message"] = _message_value(message, top=True)
        self.permission[name] = table
        return name


def _declared_base(cls):
    return vars(cls).get(DECLARED_BASE) if isinstance(cls, type) else None


def _message_value(value, top=False):
    """A permission message as the config takes it: a string, or a table whose leaves DRF
    renders with force_str (None becomes "None")."""
    if isinstance(value, dict):
        return {str(k): _message_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_message_value(v) for v in value]
    if value is None:
        return "None"
    if isinstance(value, (bool, int, float)) and not top:
        return value
    return str(value)  # lazy translations included

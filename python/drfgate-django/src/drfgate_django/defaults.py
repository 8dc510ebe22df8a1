"""Settings help: GateAuthentication first, the project's own classes after it.

    from drfgate_django.defaults import gate_first

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": gate_first([
            "rest_framework.authentication.TokenAuthentication",
            "rest_framework.authentication.SessionAuthentication",
        ]),
    }

A request the gate allowed is then authenticated from its signed identity, with no query; one it
passed unjudged (or one that reached the application another way) is judged by the project's
classes as before. A view with its own `authentication_classes` needs `gate_first(...)` there too.
"""

GATE_AUTHENTICATION = "drfgate_django.authentication.GateAuthentication"


def gate_first(classes):
    """`classes` (dotted names or classes) with GateAuthentication first, and only once."""
    rest = [c for c in classes if c != GATE_AUTHENTICATION and getattr(c, "__module__", None) != "drfgate_django.authentication"]
    if any(not isinstance(c, str) for c in rest):
        from .authentication import GateAuthentication

        return [GateAuthentication, *rest]
    return [GATE_AUTHENTICATION, *rest]

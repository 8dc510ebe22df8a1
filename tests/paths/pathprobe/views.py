"""One DRF APIView per route. The guarded reference runs each with its real classes; behind the
gate (PATHPROBE_TRUST_GATE=1) they authenticate nobody and allow everything, so a request
that reaches a handler there got past the gate alone."""
import os

from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

TRUST_GATE = os.environ.get("PATHPROBE_TRUST_GATE") == "1"


def handler(request, *args, **kwargs):
    match = request.resolver_match
    response = Response({
        "url_name": match.url_name,
        "kwargs": {k: str(v) for k, v in match.kwargs.items()},
        "path_info": request.path_info,
    })
    response["X-Probe-View-Ran"] = "1"
    return response


def probe_view(permission_classes, methods):
    """An APIView implementing `methods` (lower-case names) with these permission classes;
    authentication is DRF's default (TokenAuthentication)."""
    attributes = {name: lambda self, request, *a, **k: handler(request, *a, **k) for name in methods}
    if TRUST_GATE:
        attributes["authentication_classes"] = []
        attributes["permission_classes"] = [AllowAny]
    else:
        attributes["permission_classes"] = permission_classes
    return type("ProbeView", (APIView,), attributes).as_view()

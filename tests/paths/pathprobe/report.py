"""Every response Django produces says what Django did with the request, in headers (so a 404
page or an empty 301 reports too). Values are percent-encoded UTF-8; "-" means none.

  X-Probe-Reached    always: the request reached Django
  X-Probe-Resolved   request.resolver_match.url_name, "-" when nothing resolved
  X-Probe-Judged     the route the gate said it judged ("-": none, or no gate)
  X-Probe-Path-Info  request.path_info
  X-Probe-View-Ran   set by a view's handler (views.py): DRF let the request through
"""
import os
from urllib.parse import quote, unquote

ROUTE_SOURCE = os.environ.get("PATHPROBE_ROUTE_SOURCE", "environ")
if ROUTE_SOURCE not in ("environ", "header"):
    raise RuntimeError(f"PATHPROBE_ROUTE_SOURCE must be environ or header, not {ROUTE_SOURCE!r}")


def judged_route(request):
    if ROUTE_SOURCE == "environ":
        # Only the server sets this; a client header would be HTTP_DRFGATE_ROUTE.
        return request.META.get("DRFGATE_ROUTE") or None
    value = request.META.get("HTTP_X_DRFGATE_ROUTE")
    return unquote(value) if value else None


def encode(value):
    return "-" if value is None else quote(value, safe="")


def report_middleware(get_response):
    def middleware(request):
        response = get_response(request)
        match = getattr(request, "resolver_match", None)
        response["X-Probe-Reached"] = "1"
        response["X-Probe-Resolved"] = encode(match.url_name if match else None)
        response["X-Probe-Judged"] = encode(judged_route(request))
        response["X-Probe-Path-Info"] = encode(request.path_info)
        return response

    return middleware

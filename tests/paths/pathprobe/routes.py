"""The probe's routes, read by urls.py (Django's URLconf) and by tests/paths/differential.py
(the gate's [[routes]], same names, so the route the gate judged compares directly with
Django's `resolver_match.url_name`). No Django imports: the harness runs without Django."""

# name, kind ("path" for django.urls.path, "regex" for re_path), pattern,
# DRF permission class, methods the view implements.
ROUTES = [
    ("report-detail", "path", "api/reports/<str:slug>/", "IsAdminUser", ["GET"]),
    ("order-detail", "path", "api/orders/<int:pk>/", "IsAuthenticated", ["GET", "DELETE"]),
    ("file", "path", "api/files/<path:rest>", "IsAdminUser", ["GET"]),
    ("re-detail", "regex", r"^api/re/(?P<x>[^/]+)/$", "IsAuthenticated", ["GET"]),
    # Python's \d is any Unicode digit: ７ (U+FF17) and ٧ (U+0667) match.
    ("re-num", "regex", r"^api/num/(?P<n>\d+)/$", "IsAdminUser", ["GET"]),
    ("cafe", "path", "api/café/", "IsAuthenticated", ["GET"]),
    ("open", "path", "api/open/", "AllowAny", ["GET", "POST"]),
]

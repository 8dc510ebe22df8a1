"""The probe's URLconf, built from routes.ROUTES."""
from django.urls import path, re_path
from rest_framework import permissions

from pathprobe.routes import ROUTES
from pathprobe.views import probe_view

urlpatterns = [
    (path if kind == "path" else re_path)(
        pattern,
        probe_view([getattr(permissions, permission)], [m.lower() for m in methods]),
        name=name,
    )
    for name, kind, pattern, permission, methods in ROUTES
]

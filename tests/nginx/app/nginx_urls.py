"""refproj's conformance views, and /api/whoami/: a DRF view that trusts only the identity
nginx signed (GateAuthentication), and says how many queries the request cost."""
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import path
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from drfgate_django.authentication import GateAuthentication
from refproj.urls import urlpatterns as conformance_patterns


class WhoAmI(APIView):
    authentication_classes = [GateAuthentication]
    permission_classes = [IsAuthenticated]

    def dispatch(self, request, *args, **kwargs):
        with CaptureQueriesContext(connection) as queries:
            response = super().dispatch(request, *args, **kwargs)
        response["X-Queries"] = str(len(queries))
        return response

    def get(self, request):
        meta = request.META
        return Response(
            {
                "user": request.user.get_username(),
                "pk": request.user.pk,
                "staff": request.user.is_staff,
                "gate": {k: v for k, v in meta.items() if k.startswith("HTTP_X_DRFGATE_")},
                "host": meta.get("HTTP_HOST"),
            }
        )


class Throttled(APIView):
    """Open to everyone: the gate in front throttles it (tests/conformance/throttle_e2e.py)."""
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"ok": True})


urlpatterns = conformance_patterns + [
    path("api/throttled/", Throttled.as_view()),
    path("api/whoami/", WhoAmI.as_view()),
]

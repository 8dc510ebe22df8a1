"""refproj's conformance views, and /api/whoami/: a DRF view that trusts REMOTE_USER only."""
from django.urls import path
from rest_framework.authentication import RemoteUserAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from refproj.urls import urlpatterns as conformance_patterns


class WhoAmI(APIView):
    authentication_classes = [RemoteUserAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        meta = request.META
        return Response(
            {
                "user": request.user.get_username(),
                "pk": request.user.pk,
                "gate": {k: v for k, v in meta.items() if k.startswith("DRFGATE_")},
                "header_remote_user": meta.get("HTTP_REMOTE_USER"),
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
    # Behind Apache's own authentication (mod_auth_basic): the same view, REMOTE_USER from Apache.
    path("api/apache-user/", WhoAmI.as_view()),
]

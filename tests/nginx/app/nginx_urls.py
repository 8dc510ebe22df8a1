"""refproj's conformance views, and /api/whoami/: a DRF view that trusts X-Drfgate-User only."""
from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from drfgate_headers import DrfgateHeaderAuthentication
from refproj.urls import urlpatterns as conformance_patterns


class WhoAmI(APIView):
    authentication_classes = [DrfgateHeaderAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        meta = request.META
        return Response(
            {
                "user": request.user.get_username(),
                "pk": request.user.pk,
                "gate": {k: v for k, v in meta.items() if k.startswith("HTTP_X_DRFGATE_")},
                "host": meta.get("HTTP_HOST"),
            }
        )


urlpatterns = conformance_patterns + [path("api/whoami/", WhoAmI.as_view())]

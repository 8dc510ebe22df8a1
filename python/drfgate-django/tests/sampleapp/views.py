from django.http import HttpResponse
from drfgate_django.defaults import gate_first
from rest_framework import parsers, permissions, renderers, serializers, throttling, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.authentication import TokenAuthentication
from rest_framework.views import APIView

from .auth import (BearerAuthentication, BookPermissions, HeaderKeyAuthentication,
                   ProxyRemoteUserAuthentication, ShopBasicAuthentication, StaffOnly)
from .models import Book


class BookSerializer(serializers.ModelSerializer):
    class Meta:
        model = Book
        fields = ["id", "title"]


# The handlers take the URL's keyword arguments (format among them, from the format suffixes):
# the differential (tests/conformance/sampleproj_differential.py) serves this project under DRF.
class BookViewSet(viewsets.ModelViewSet):
    queryset = Book.objects.all()
    serializer_class = BookSerializer
    authentication_classes = [BearerAuthentication, ShopBasicAuthentication]
    permission_classes = [BookPermissions]

    @action(detail=True, methods=["post"], permission_classes=[StaffOnly])
    def publish(self, request, pk=None, **kwargs):
        return Response({})

    @action(detail=False)
    def recent(self, request, **kwargs):
        return Response([])


class NoteViewSet(viewsets.ViewSet):
    authentication_classes = [ProxyRemoteUserAuthentication]
    permission_classes = [permissions.IsAuthenticated & (permissions.IsAdminUser | ~permissions.IsAuthenticatedOrReadOnly)]

    def list(self, request, **kwargs):
        return Response([])

    def retrieve(self, request, pk=None, **kwargs):
        return Response({})


class OrderDetail(APIView):
    permission_classes = [permissions.IsAdminUser | permissions.IsAuthenticatedOrReadOnly]
    parser_classes = [parsers.JSONParser]

    def get(self, request, pk, format=None):
        return Response({})

    def put(self, request, pk, format=None):
        return Response({})


class CSVRenderer(renderers.BaseRenderer):
    media_type = "text/csv"
    format = "csv"


class VendorJSONRenderer(renderers.JSONRenderer):
    media_type = "application/vnd.sample+json"
    format = "vnd"


class ReportView(APIView):
    authentication_classes = [ShopBasicAuthentication]
    permission_classes = [StaffOnly]
    renderer_classes = [renderers.JSONRenderer, CSVRenderer, VendorJSONRenderer]

    def get(self, request, year, format=None):
        return Response({})


class CustomAuthView(APIView):
    authentication_classes = [HeaderKeyAuthentication]

    def get(self, request, **kwargs):
        return Response({})


class OpsView(APIView):
    permission_classes = [permissions.AllowAny]

    def get(self, request, **kwargs):
        return Response({})

    def post(self, request, **kwargs):
        return Response({})


def plain(request):
    return HttpResponse("not DRF")


class WhoAmI(APIView):
    """Answers who DRF says the request is: test_authentication's view."""

    authentication_classes = gate_first([TokenAuthentication])
    permission_classes = [permissions.IsAuthenticated]

    def get(self, request):
        return Response({"user": request.user.get_username(), "pk": request.user.pk,
                         "staff": request.user.is_staff, "superuser": request.user.is_superuser,
                         "auth": str(request.auth)})

    def post(self, request):
        return self.get(request)


class BurstThrottle(throttling.UserRateThrottle):
    scope = "burst"


class PinnedRateThrottle(throttling.AnonRateThrottle):
    rate = "5/min"


class PythonThrottle(throttling.BaseThrottle):
    def allow_request(self, request, view):
        return True


class UploadView(APIView):
    """Throttled by its own classes and scope (exported as the route's throttle_classes and
    throttle_scope)."""
    throttle_classes = [throttling.ScopedRateThrottle, BurstThrottle, PinnedRateThrottle]
    throttle_scope = "uploads"

    def post(self, request):
        return Response({})


class PythonThrottledView(APIView):
    throttle_classes = [PythonThrottle]

    def get(self, request):
        return Response({})


class BooksByOwner(APIView):
    """DjangoModelPermissions with get_queryset() only: no static model for the gate."""
    permission_classes = [permissions.DjangoModelPermissions]

    def get_queryset(self):
        return Book.objects.filter(title__startswith=self.request.user.username)

    def get(self, request):
        return Response([])

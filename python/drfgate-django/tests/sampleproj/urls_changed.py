"""The sample URLconf with a stricter permission on one view (test_check)."""
from django.urls import include, path
from rest_framework import permissions

from sampleapp import views
from sampleproj import urls


class StricterOrderDetail(views.OrderDetail):
    permission_classes = [permissions.IsAdminUser]


urlpatterns = [
    p if getattr(p, "namespace", None) != "v1" else
    path("api/v1/", include(([path("orders/<int:pk>/", StricterOrderDetail.as_view(), name="order-detail")]
                             + p.url_patterns[2:], "v1"), namespace="v1"))
    for p in urls.urlpatterns
]

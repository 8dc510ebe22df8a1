from django.urls import include, path, re_path
from rest_framework.routers import DefaultRouter
from rest_framework.urlpatterns import format_suffix_patterns

from sampleapp import views

router = DefaultRouter()
router.register("books", views.BookViewSet)
router.register("notes", views.NoteViewSet, basename="note")

v1 = format_suffix_patterns([
    path("orders/<int:pk>/", views.OrderDetail.as_view(), name="order-detail"),
    re_path(r"^reports/(?P<year>[0-9]{4})/$", views.ReportView.as_view(), name="report"),
    path("custom/", views.CustomAuthView.as_view(), name="custom"),
])

urlpatterns = [
    path("api/", include((router.urls, "api"), namespace="api")),
    path("api/v1/", include((v1, "v1"), namespace="v1")),
    re_path(r"^nested/", include([
        path("deeper/<slug:team>/", include([path("ops/", views.OpsView.as_view(), name="ops")])),
    ])),
    path("plain/", views.plain, name="plain"),
]

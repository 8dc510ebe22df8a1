"""Views with their own throttles, and DjangoModelPermissions over get_queryset() only
(test_export)."""
from django.urls import path

from sampleapp import views

urlpatterns = [
    path("uploads/", views.UploadView.as_view(), name="uploads"),
    path("python-throttled/", views.PythonThrottledView.as_view(), name="python-throttled"),
    path("books-by-owner/", views.BooksByOwner.as_view(), name="books-by-owner"),
    path("ops/", views.OpsView.as_view(), name="ops"),
]

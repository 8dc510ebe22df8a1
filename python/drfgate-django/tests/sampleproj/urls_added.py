"""The sample URLconf with one more view (test_check)."""
from django.urls import path

from sampleapp import views
from sampleproj import urls

urlpatterns = urls.urlpatterns + [path("extra/", views.OpsView.as_view(), name="extra")]

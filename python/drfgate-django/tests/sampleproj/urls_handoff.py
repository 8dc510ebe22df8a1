"""The view test_authentication calls through GateAuthentication."""
from django.urls import path

from sampleapp import views

urlpatterns = [
    path("whoami/", views.WhoAmI.as_view(), name="whoami"),
    path("elsewhere/", views.WhoAmI.as_view(), name="elsewhere"),
]

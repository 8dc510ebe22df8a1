"""The project's own classes: subclasses the gate models, and one it cannot."""
from rest_framework import authentication, permissions


class BearerAuthentication(authentication.TokenAuthentication):
    keyword = "Bearer"


class ShopBasicAuthentication(authentication.BasicAuthentication):
    www_authenticate_realm = "shop"


class ProxyRemoteUserAuthentication(authentication.RemoteUserAuthentication):
    header = "HTTP_X_REMOTE_USER"


class HeaderKeyAuthentication(authentication.BaseAuthentication):
    """A Python authenticate(): the gate cannot follow it."""

    def authenticate(self, request):
        return None


class StaffOnly(permissions.IsAdminUser):
    message = "Staff only."


class BookPermissions(permissions.DjangoModelPermissions):
    pass

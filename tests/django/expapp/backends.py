from django.contrib.auth.backends import RemoteUserBackend


class RemoteUserNoCreateBackend(RemoteUserBackend):
    """Django's RemoteUserBackend without auto-creating unknown users: the gate only reads the
    database, so an unknown REMOTE_USER is not authenticated (drfgate's documented choice)."""

    create_unknown_user = False

from django.db import models


class Thing(models.Model):
    """Exists for its permissions: expapp.add_thing, change_thing, delete_thing, view_thing."""

    name = models.CharField(max_length=100)

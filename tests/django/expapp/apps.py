from django.apps import AppConfig


class ExpappConfig(AppConfig):
    name = "expapp"
    default_auto_field = "django.db.models.AutoField"

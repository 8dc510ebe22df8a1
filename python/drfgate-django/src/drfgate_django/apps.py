from django.apps import AppConfig


class DrfgateConfig(AppConfig):
    name = "drfgate_django"
    verbose_name = "drfgate"

from django.apps import AppConfig


class DrfgateConfig(AppConfig):
    name = "drfgate_django"
    verbose_name = "drfgate"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import checks, revocation  # noqa: F401 (checks registers the deploy check)

        revocation.connect_signals()
        post_migrate.connect(
            revocation.reinstall_after_migrate,
            sender=self,
            dispatch_uid="drfgate_revocation.reinstall_after_migrate",
        )

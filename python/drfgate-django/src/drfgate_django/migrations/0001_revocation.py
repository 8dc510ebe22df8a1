"""PostgreSQL: the revocation triggers (sql/revocation_postgres.sql); other engines: nothing
(their sites publish through Redis, drfgate_django.revocation)."""
from django.conf import settings
from django.db import migrations

from drfgate_django import revocation


def install(apps, schema_editor):
    revocation.install_triggers(schema_editor.connection)


def uninstall(apps, schema_editor):
    revocation.uninstall_triggers(schema_editor.connection)


def _dependencies():
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("auth", "__latest__"),
    ]
    installed = settings.INSTALLED_APPS
    if "rest_framework.authtoken" in installed:
        dependencies.append(("authtoken", "__latest__"))
    if "knox" in installed:
        dependencies.append(("knox", "__latest__"))
    return dependencies


class Migration(migrations.Migration):
    dependencies = _dependencies()
    operations = [migrations.RunPython(install, uninstall, elidable=False)]

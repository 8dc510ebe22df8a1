"""Revocation pushed to running gates (drfgate's `[revocation]` section).

On PostgreSQL, triggers do it (sql/revocation_postgres.sql, installed by migration
0001_revocation): nothing to configure here. On MariaDB/MySQL, or any engine, these signal
handlers publish on Redis when settings name a server:

    DRFGATE = {
        "REVOCATION_REDIS_URL": "redis://127.0.0.1:6379/0",
        "REVOCATION_CHANNEL": "drfgate_revocation",   # the default
    }

and the gates' configs say `[revocation] source = "redis://127.0.0.1:6379/0"`.

What is published is a user's primary key (never a token key), after the transaction commits,
on: a user saved (except a save of `last_login` alone) or deleted; a DRF token saved or deleted (a
new token publishes "+" and its user's pk: it revokes nothing, but tells the gates' token filters
that its key exists); a knox token deleted; a user's groups or permissions changed; a logout (user_logged_out). A group's
permissions changing publishes `*` (every user). Changes that send no signal (QuerySet.update(),
raw SQL) are not seen here; the PostgreSQL triggers see those too.

A failure to publish is logged, never raised: the change itself has been made, and gates still
drop the credential when their cache's ttl ends.
"""
import logging
import socket
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db import connections, transaction

logger = logging.getLogger("drfgate_django.revocation")

DEFAULT_CHANNEL = "drfgate_revocation"
TIMEOUT_SECONDS = 1.0
EVERYONE = "*"
NEW_TOKEN = "+"


def _settings():
    return getattr(settings, "DRFGATE", {}) or {}


def channel():
    return _settings().get("REVOCATION_CHANNEL", DEFAULT_CHANNEL)


def redis_url():
    return _settings().get("REVOCATION_REDIS_URL")


def _command(*args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _read_reply(stream):
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise OSError("Redis closed the connection")
    if line.startswith(b"-"):
        raise OSError("Redis refused: %s" % line[1:].strip().decode(errors="replace"))
    return line


def publish_to_redis(url, payload):
    """PUBLISH `payload` on the channel: a few lines of RESP rather than a dependency."""
    split = urlsplit(url)
    if split.scheme != "redis":
        raise ValueError("REVOCATION_REDIS_URL must be a redis:// URL")
    with socket.create_connection(
        (split.hostname or "127.0.0.1", split.port or 6379), timeout=TIMEOUT_SECONDS
    ) as sock:
        stream = sock.makefile("rb")
        commands = []
        if split.password is not None:
            auth = [b"AUTH"]
            if split.username:
                auth.append(unquote(split.username))
            auth.append(unquote(split.password))
            commands.append(_command(*auth))
        database = split.path.strip("/")
        if database and database != "0":
            commands.append(_command("SELECT", database))
        commands.append(_command("PUBLISH", channel(), payload))
        sock.sendall(b"".join(commands))
        for _ in commands:
            _read_reply(stream)


def publish(payload, using="default"):
    """Tells every gate that `payload` (a user's pk, or "*") changed, once the transaction on
    `using` commits (at once outside a transaction)."""
    payload = str(payload)

    def send():
        url = redis_url()
        if url:
            try:
                publish_to_redis(url, payload)
            except (OSError, ValueError) as error:
                logger.error("drfgate revocation: cannot publish to Redis: %s", error)
        elif connections[using].vendor == "postgresql":
            # What the triggers cannot see (a logout): the same channel, through the database.
            with connections[using].cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, %s)", [channel(), payload])

    transaction.on_commit(send, using=using)


# Signal handlers (connected in DrfgateConfig.ready).


def user_saved(sender, instance, update_fields=None, using="default", **kwargs):
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    if not redis_url():
        return
    publish(instance.pk, using)


def user_deleted(sender, instance, using="default", **kwargs):
    if redis_url():
        publish(instance.pk, using)


def token_deleted(sender, instance, using="default", **kwargs):
    if redis_url():
        publish(instance.user_id, using)


def token_saved(sender, instance, created=False, using="default", **kwargs):
    """A new DRF token ("+pk": nothing to revoke, the gates' token filters read the user's keys
    again); a token changed in place is revoked like a deleted one."""
    if redis_url():
        publish(NEW_TOKEN + str(instance.user_id) if created else instance.user_id, using)


def user_links_changed(sender, instance, action, reverse, pk_set, using="default", **kwargs):
    """A user's groups or permissions (either side of the relation)."""
    if not redis_url() or action not in ("post_add", "post_remove", "post_clear", "pre_clear"):
        return
    from django.contrib.auth import get_user_model

    if isinstance(instance, get_user_model()):
        if action != "pre_clear":
            publish(instance.pk, using)
    elif action == "pre_clear":
        # Clearing from the group/permission side: who was linked is known only before.
        for user in instance.user_set.all():
            publish(user.pk, using)
    elif pk_set:
        for pk in pk_set:
            publish(pk, using)


def group_permissions_changed(sender, action, using="default", **kwargs):
    if redis_url() and action in ("post_add", "post_remove", "post_clear"):
        publish(EVERYONE, using)


def user_logged_out(sender, request, user, **kwargs):
    if user is not None and user.pk is not None:
        using = getattr(user._state, "db", None) or "default"
        if redis_url() or connections[using].vendor == "postgresql":
            publish(user.pk, using)


def connect_signals():
    from django.apps import apps
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.contrib.auth.signals import user_logged_out as logged_out
    from django.db.models.signals import m2m_changed, post_delete, post_save

    user_model = get_user_model()
    uid = "drfgate_revocation"
    post_save.connect(user_saved, sender=user_model, dispatch_uid=uid + ".user_saved")
    post_delete.connect(user_deleted, sender=user_model, dispatch_uid=uid + ".user_deleted")
    if apps.is_installed("rest_framework.authtoken"):
        from rest_framework.authtoken.models import Token

        post_delete.connect(token_deleted, sender=Token, dispatch_uid=uid + ".token_deleted")
        post_save.connect(token_saved, sender=Token, dispatch_uid=uid + ".token_saved")
    if apps.is_installed("knox"):
        from knox.models import get_token_model

        post_delete.connect(
            token_deleted, sender=get_token_model(), dispatch_uid=uid + ".knox_deleted"
        )
    for field in ("groups", "user_permissions"):
        through = getattr(user_model, field, None)
        if through is not None and hasattr(through, "through"):
            m2m_changed.connect(
                user_links_changed, sender=through.through, dispatch_uid=uid + "." + field
            )
    m2m_changed.connect(
        group_permissions_changed,
        sender=Group.permissions.through,
        dispatch_uid=uid + ".group_permissions",
    )
    logged_out.connect(user_logged_out, dispatch_uid=uid + ".logged_out")


# PostgreSQL triggers.

SQL_FILE = "sql/revocation_postgres.sql"


def install_sql():
    from importlib import resources

    return resources.files("drfgate_django").joinpath(SQL_FILE).read_text()


def install_triggers(connection):
    """Creates (or re-creates) the triggers on `connection`, a PostgreSQL connection, for the
    tables that exist now; a no-op on other engines."""
    if connection.vendor != "postgresql":
        return
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    user_fk = user_model._meta.model_name + "_id"
    token_table = "authtoken_token"
    knox_table = "knox_authtoken"
    from django.apps import apps

    if apps.is_installed("knox"):
        from knox.models import get_token_model

        knox_table = get_token_model()._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(install_sql())
        cursor.execute(
            "SELECT drfgate_revocation_install(%s, %s, %s, %s, %s, %s)",
            [
                user_model._meta.db_table,
                user_model._meta.pk.column,
                user_fk,
                token_table,
                knox_table,
                channel(),
            ],
        )


def uninstall_triggers(connection):
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_proc WHERE proname = 'drfgate_revocation_uninstall'"
        )
        if cursor.fetchone():
            cursor.execute("SELECT drfgate_revocation_uninstall()")
            cursor.execute("DROP FUNCTION drfgate_revocation_uninstall()")


def reinstall_after_migrate(sender, using="default", **kwargs):
    """post_migrate: tables migrated after 0001_revocation (knox added later) get their trigger.
    Only where the migration ran, so `migrate drfgate_django zero` stays off."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return
    if ("drfgate_django", "0001_revocation") in recorder.applied_migrations():
        install_triggers(connection)

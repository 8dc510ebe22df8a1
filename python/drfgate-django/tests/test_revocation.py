"""drfgate_django.revocation's signal handlers publish a user's pk on Redis after commit, and only
when DRFGATE["REVOCATION_REDIS_URL"] is set; the PostgreSQL triggers' SQL ships in the package.
Against the local Redis (127.0.0.1:6379), unless DRFGATE_SKIP names "redis"."""
import os
import socket
import unittest
import uuid

from django.contrib.auth.models import Group, Permission, User
from django.test import TransactionTestCase, override_settings
from rest_framework.authtoken.models import Token

from drfgate_django import revocation

REDIS = ("127.0.0.1", 6379)
SKIP_REDIS = "redis" in os.environ.get("DRFGATE_SKIP", "").split(",")


class Subscriber:
    """SUBSCRIBE on a fresh channel with a raw socket, as a gate's listener does."""

    def __init__(self, channel):
        self.sock = socket.create_connection(REDIS, timeout=5)
        self.stream = self.sock.makefile("rb")
        self.sock.sendall(revocation._command("SUBSCRIBE", channel))
        self.read_message()  # the subscription's confirmation

    def read_item(self):
        line = self.stream.readline()
        if line.startswith(b"*"):
            return [self.read_item() for _ in range(int(line[1:]))]
        if line.startswith(b"$"):
            return self.stream.read(int(line[1:]) + 2)[:-2].decode()
        return line.strip().decode()

    def read_message(self):
        return self.read_item()

    def payloads(self):
        """Everything published so far: a PING marks the end."""
        self.sock.sendall(revocation._command("PING"))
        found = []
        while True:
            item = self.read_item()
            if item[0] == "pong":
                return found
            found.append(item[2])

    def close(self):
        self.sock.close()


@unittest.skipIf(SKIP_REDIS, "DRFGATE_SKIP=redis")
class RedisPublishingTests(TransactionTestCase):
    def setUp(self):
        self.channel = f"drfgate_test_{uuid.uuid4().hex}"
        self.subscriber = Subscriber(self.channel)
        self.addCleanup(self.subscriber.close)
        overriding = override_settings(DRFGATE={
            "REVOCATION_REDIS_URL": "redis://%s:%d/0" % REDIS,
            "REVOCATION_CHANNEL": self.channel,
        })
        overriding.enable()
        self.addCleanup(overriding.disable)

    def test_token_delete_publishes_its_user_not_its_key(self):
        user = User.objects.create_user("alice")
        token = Token.objects.create(user=user)
        self.subscriber.payloads()
        key = token.key
        token.delete()
        payloads = self.subscriber.payloads()
        self.assertEqual(payloads, [str(user.pk)])
        self.assertNotIn(key, "".join(payloads))

    def test_a_new_token_publishes_its_user_for_the_gates_token_filters(self):
        user = User.objects.create_user("frank")
        self.subscriber.payloads()
        token = Token.objects.create(user=user)
        payloads = self.subscriber.payloads()
        self.assertEqual(payloads, ["+%d" % user.pk])
        self.assertNotIn(token.key, "".join(payloads))

    def test_user_changes_publish_and_last_login_alone_does_not(self):
        user = User.objects.create_user("bob", password="x")
        self.assertEqual(self.subscriber.payloads(), [str(user.pk)])
        user.save(update_fields=["last_login"])
        self.assertEqual(self.subscriber.payloads(), [])
        user.set_password("y")
        user.save()
        user.is_active = False
        user.save()
        pk = user.pk
        user.delete()
        self.assertEqual(self.subscriber.payloads(), [str(pk)] * 3)

    def test_permissions_publish_the_user_or_everyone(self):
        user = User.objects.create_user("carol")
        group = Group.objects.create(name="g")
        permission = Permission.objects.first()
        self.subscriber.payloads()
        user.user_permissions.add(permission)
        user.groups.add(group)
        group.permissions.add(permission)
        self.assertEqual(self.subscriber.payloads(), [str(user.pk), str(user.pk), "*"])

    def test_published_after_commit_only(self):
        from django.db import transaction

        user = User.objects.create_user("dave")
        self.subscriber.payloads()
        with transaction.atomic():
            user.is_active = False
            user.save()
            self.assertEqual(self.subscriber.payloads(), [])
        self.assertEqual(self.subscriber.payloads(), [str(user.pk)])


@unittest.skipIf(SKIP_REDIS, "DRFGATE_SKIP=redis")
class NotConfiguredTests(TransactionTestCase):
    def test_nothing_is_published_without_the_setting(self):
        channel = f"drfgate_test_{uuid.uuid4().hex}"
        subscriber = Subscriber(channel)
        self.addCleanup(subscriber.close)
        with override_settings(DRFGATE={"REVOCATION_CHANNEL": channel}):
            Token.objects.create(user=User.objects.create_user("erin")).delete()
        self.assertEqual(subscriber.payloads(), [])


class PackagedSqlTests(unittest.TestCase):
    def test_the_trigger_sql_ships_with_the_package(self):
        sql = revocation.install_sql()
        self.assertIn("CREATE OR REPLACE FUNCTION drfgate_revocation_install", sql)
        self.assertIn("pg_notify", sql)

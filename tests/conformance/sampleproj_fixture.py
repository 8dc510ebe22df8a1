#!/usr/bin/env python3
"""Makes the database of python/drfgate-django's sample project for sampleproj_differential.py,
with Django's own tools: `migrate` (with --run-syncdb: sampleapp has no migrations) on the SQLite
file SAMPLEPROJ_DB names, then users, a group, permissions, DRF tokens and one Book through the ORM.
Writes the project's SECRET_KEY to SECRET_KEY_FILE (the export refers to it, never writes it) and
prints the users as JSON on standard output.

Run with DJANGO_SETTINGS_MODULE=sampleproj.settings, SAMPLEPROJ_DB and SECRET_KEY_FILE set, and
the package's src/ and tests/ on PYTHONPATH. Every credential here is a fixed, public test value.
"""
import json
import os
import sys
from pathlib import Path

import django

# (username, password or None for an unusable one, flags, token key, permissions, groups):
# the plain user, staff, a superuser who is not staff (IsAdminUser refuses, DjangoModelPermissions
# allows), one with model permissions (add directly, change through a group, no delete), inactive.
USERS = [
    ("john", None, {}, "johntoken0001", [], []),
    ("admin", "admin-pass", {"is_staff": True}, "admintoken001", [], []),
    ("super", None, {"is_superuser": True}, "supertoken001", [], []),
    ("adder", None, {}, "addertoken001", ["add_book"], ["book-editors"]),
    ("ina", None, {"is_active": False}, "inatoken00001", ["add_book"], []),
]
GROUPS = {"book-editors": ["change_book"]}
# The one user whose password the differential sends with Basic.
BASIC_USER = "admin"


def main():
    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import Group, Permission, User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from sampleapp.models import Book

    call_command("migrate", run_syncdb=True, verbosity=0)
    for name, codenames in GROUPS.items():
        group = Group.objects.create(name=name)
        group.permissions.set(Permission.objects.filter(content_type__app_label="sampleapp", codename__in=codenames))
    users = []
    for username, password, flags, key, codenames, groups in USERS:
        # create_user hashes with the project's first hasher (PBKDF2), as a real database would.
        user = User.objects.create_user(username, password=password, **flags)
        user.user_permissions.set(
            Permission.objects.filter(content_type__app_label="sampleapp", codename__in=codenames))
        user.groups.set(Group.objects.filter(name__in=groups))
        Token.objects.create(user=user, key=key)
        users.append({"username": username, "password": password, "token": key,
                      "active": flags.get("is_active", True)})
    # The detail routes are asked for pk 1: DRF then answers 200 rather than 404 where it allows.
    Book.objects.create(pk=1, title="Sample")
    Path(os.environ["SECRET_KEY_FILE"]).write_text(settings.SECRET_KEY + "\n", "utf-8")
    json.dump({"users": users, "basic_user": BASIC_USER}, sys.stdout)


if __name__ == "__main__":
    main()

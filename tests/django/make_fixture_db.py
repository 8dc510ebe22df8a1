#!/usr/bin/env python3
"""Builds drfgate's fixture database with Django's own tools: `migrate` on a fresh SQLite file, then
users, groups, permissions and DRF tokens through the ORM (create_user, make_password,
Token.objects.create). Also writes a JSON summary of the users for the Rust tests.

Usage: make_fixture_db.py [--db PATH|URL] [--json PATH]
  --db    default $DRFGATE_DJANGO_DB or <repo>/build/django/db.sqlite3; a postgres:// or mysql://
          URL (tests/django/server_db.py) makes the same database on that server instead (dropped
          and created again first), its JWT/knox fixtures beside --json rather than in
          build/django/jwt
  --json  default fixture.json beside the database (required with a URL)

Every credential here is a fixed, public test value (drf-compat.md §11).
"""
import argparse
import json
import os
import sys
from pathlib import Path

DJANGO_DIR = Path(__file__).resolve().parent
REPO_ROOT = DJANGO_DIR.parent.parent

# (username, password, flags, token key). Passwords use Django's default hasher
# (PBKDF2-SHA256, 1_000_000 iterations in Django 5.2), as a real database would.
MAIN_USERS = [
    ("john", "password", {}, "abcd1234"),
    ("ina", "password", {"is_active": False}, "inactive1"),
    ("admin", "password", {"is_staff": True}, "admin123"),
    ("super", "password", {"is_superuser": True}, "super123"),
    ("walterwhité", "pässwörd", {}, None),
    ("colon", "pa:ss", {}, None),
    ("latin", "pässwörd", {}, None),
    ("adder", "password", {}, "adder123"),
    ("grouped", "password", {}, "grouped123"),
]
DIRECT_PERMISSIONS = {"adder": ["expapp.add_thing"]}
GROUPS = {"thing-editors": {"permissions": ["expapp.change_thing"], "members": ["grouped"]}}
UNUSABLE_PASSWORD_USERS = [("nopass", "nopass123")]
# One user per non-default hasher, all with password "password".
HASHER_USERS = [
    ("h_pbkdf2_sha1", "pbkdf2_sha1"),
    ("h_argon2", "argon2"),
    ("h_bcrypt_sha256", "bcrypt_sha256"),
    ("h_bcrypt", "bcrypt"),
    ("h_scrypt", "scrypt"),
    ("h_md5", "md5"),
]
HASHER_USER_PASSWORD = "password"

# Logged-in sessions with fixed keys (the conformance table names them), each made by Django's own
# login() and SessionStore: (session key, username, what happens after login).
SESSION_USERS = [("sess_pw", "password"), ("sess_gone", "password")]
SESSIONS = [
    ("johnsessionkey000000000000000001", "john", None),
    ("inasessionkey0000000000000000001", "ina", None),
    ("adminsessionkey00000000000000001", "admin", None),
    ("pwchangedsessionkey0000000000001", "sess_pw", "change password"),
    ("deletedusersessionkey00000000001", "sess_gone", "delete user"),
    ("expiredsessionkey000000000000001", "john", "expire"),
    ("tamperedsessionkey00000000000001", "john", "tamper"),
    ("remotebackendsessionkey000000001", "john", "other backend"),
    ("csrfinsessionkey0000000000000001", "john", "csrf secret in session"),
]
# The CSRF secret the table's cookies and tokens use (django-formats.md §4.2's vector).
CSRF_SECRET = "Zx8kq2LmN4pR7sTvW1yB3dF5gH6jK9cE"


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_db = os.environ.get(
        "DRFGATE_DJANGO_DB", str(REPO_ROOT / "build" / "django" / "db.sqlite3")
    )
    parser.add_argument("--db", default=default_db)
    parser.add_argument("--json", default=None)
    arguments = parser.parse_args()
    sys.path.insert(0, str(DJANGO_DIR))
    import server_db

    if server_db.is_server(arguments.db):
        if not arguments.json:
            parser.error("--json is required with a database URL")
        arguments.json = Path(arguments.json).resolve()
        return arguments
    arguments.db = Path(arguments.db).resolve()
    arguments.json = (
        Path(arguments.json).resolve() if arguments.json else arguments.db.parent / "fixture.json"
    )
    return arguments


def remove_database_files(db_path):
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)


def permission_object(dotted_name):
    from django.contrib.auth.models import Permission

    app_label, codename = dotted_name.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def populate():
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    fixture_rows = []  # (user, password or None)

    for username, password, flags, token_key in MAIN_USERS:
        user = User.objects.create_user(username, password=password, **flags)
        if token_key:
            Token.objects.create(key=token_key, user=user)
        fixture_rows.append((user, password))

    for username, token_key in UNUSABLE_PASSWORD_USERS:
        user = User.objects.create_user(username, password=None)  # stores an unusable "!..." hash
        Token.objects.create(key=token_key, user=user)
        fixture_rows.append((user, None))

    for username, hasher_name in HASHER_USERS:
        user = User.objects.create_user(username)
        user.password = make_password(HASHER_USER_PASSWORD, hasher=hasher_name)
        user.save(update_fields=["password"])
        fixture_rows.append((user, HASHER_USER_PASSWORD))

    for username, perm_names in DIRECT_PERMISSIONS.items():
        User.objects.get(username=username).user_permissions.add(
            *[permission_object(name) for name in perm_names]
        )
    for group_name, spec in GROUPS.items():
        group = Group.objects.create(name=group_name)
        group.permissions.add(*[permission_object(name) for name in spec["permissions"]])
        for member in spec["members"]:
            User.objects.get(username=member).groups.add(group)

    populate_sessions()
    return fixture_rows


def populate_sessions():
    """The table's sessions: Django's login() writes the data (auth hash included), then the
    data is saved under the table's fixed key, and the case's change is made after login."""
    from datetime import timedelta

    from django.contrib.auth import login
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.test import RequestFactory
    from django.utils import timezone

    for username, password in SESSION_USERS:
        User.objects.create_user(username, password=password)
    for key, username, change in SESSIONS:
        user = User.objects.get(username=username)
        request = RequestFactory().get("/")
        request.session = SessionStore()
        backend = "django.contrib.auth.backends.ModelBackend"
        if change == "other backend":
            backend = "django.contrib.auth.backends.RemoteUserBackend"
        login(request, user, backend=backend)
        data = dict(request.session.items())
        if change == "csrf secret in session":
            data["_csrftoken"] = CSRF_SECRET
        session = SessionStore()
        session.update(data)
        # Set after the data: a SessionStore built with an unknown key forgets the key on load.
        session._session_key = key
        session.save(must_create=True)
        row = Session.objects.get(session_key=key)
        if change == "change password":
            user.set_password("changed")
            user.save()
        elif change == "delete user":
            user.delete()
        elif change == "expire":
            row.expire_date = timezone.now() - timedelta(seconds=1)
            row.save()
        elif change == "tamper":
            row.session_data = row.session_data[:-1] + ("A" if row.session_data[-1] != "A" else "B")
            row.save()


def describe(user, password):
    from django.contrib.auth.hashers import identify_hasher
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    user = User.objects.get(pk=user.pk)  # fresh: permission caches are filled per instance
    token = Token.objects.filter(user=user).values_list("key", flat=True).first()
    hasher = identify_hasher(user.password).algorithm if user.has_usable_password() else None
    return {
        "username": user.username,
        "pk": user.pk,
        "password": password,
        "hasher": hasher,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "token": token,
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "direct_permissions": sorted(
            f"{p.content_type.app_label}.{p.codename}" for p in user.user_permissions.all()
        ),
        # What Django's has_perm() grants (empty for inactive users, everything for superusers).
        "effective_permissions": sorted(user.get_all_permissions()),
    }


def main():
    arguments = parse_arguments()
    import server_db

    if server_db.is_server(arguments.db):
        return main_on_server(arguments)
    arguments.db.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename at the end, so an interrupted run leaves no half database.
    building_db = arguments.db.with_name(arguments.db.name + ".building")
    remove_database_files(building_db)

    os.environ["DRFGATE_DJANGO_DB"] = str(building_db)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refproj.settings")
    sys.path.insert(0, str(DJANGO_DIR))
    import django
    import rest_framework
    from django.core.management import call_command
    from django.db import connections, transaction

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    with transaction.atomic():
        fixture_rows = populate()
        from django.conf import settings

        import jwt_fixtures

        jwt_tokens = jwt_fixtures.write(settings.JWT_FIXTURE_DIR)
    users = [describe(user, password) for user, password in fixture_rows]
    connections.close_all()

    remove_database_files(arguments.db)
    os.replace(building_db, arguments.db)
    summary = {
        "django": django.get_version(),
        "djangorestframework": rest_framework.__version__,
        "users": users,
    }
    arguments.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"fixture: {len(users)} users -> {arguments.db}, {arguments.json}; "
          f"{jwt_tokens} JWT/knox tokens -> {settings.JWT_FIXTURE_DIR}")


def main_on_server(arguments):
    """The same fixture on PostgreSQL or MariaDB: a fresh database, Django's migrate, the same
    rows."""
    import server_db

    server_db.recreate(arguments.db)
    arguments.json.parent.mkdir(parents=True, exist_ok=True)
    os.environ["DRFGATE_DJANGO_DB"] = arguments.db
    os.environ.setdefault("DRFGATE_JWT_DIR", str(arguments.json.parent / "jwt"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refproj.settings")
    import django
    import rest_framework
    from django.core.management import call_command
    from django.db import connections, transaction

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    with transaction.atomic():
        fixture_rows = populate()
        from django.conf import settings

        import jwt_fixtures

        jwt_tokens = jwt_fixtures.write(settings.JWT_FIXTURE_DIR)
    users = [describe(user, password) for user, password in fixture_rows]
    connections.close_all()
    summary = {
        "django": django.get_version(),
        "djangorestframework": rest_framework.__version__,
        "database": server_db.parts(arguments.db)["scheme"],
        "users": users,
    }
    arguments.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"fixture: {len(users)} users -> {server_db.parts(arguments.db)['scheme']} database "
          f"{server_db.parts(arguments.db)['name']}, {arguments.json}; {jwt_tokens} JWT/knox tokens")


if __name__ == "__main__":
    main()

"""Creates the demo's Django database with Django's own migrate and create_user.

Usage: .venv/bin/python examples/demo/make_demo_db.py PATH
Users: alice (token below, password "alice-password"), boss (is_staff, token below), carol
(is_active False, token below: the troubleshooting page's inactive user). alice is also logged
in through Django's own login() under the session key below (a browser's sessionid cookie), with
the CSRF secret below as its csrftoken cookie.
The tokens are fixed so the docs' commands can be pasted; this is a demo, not a deployment.
"""
import os
import sys
from pathlib import Path

ALICE_TOKEN = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
BOSS_TOKEN = "b0557ac27e6e4fa5a1a83a8b1b5d1d8e2f3c4b5a"
CAROL_TOKEN = "c4a01e5d2b9f4e7a8c6d3b1f0e9a8d7c6b5a4f3e"
ALICE_SESSION = "alicedemosession0000000000000001"
CSRF_SECRET = "DemoCsrfSecret0123456789abcdefAB"


def main() -> None:
    db = Path(sys.argv[1]).resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    repo = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(repo / "tests" / "django"))
    os.environ["DRFGATE_DJANGO_DB"] = str(db)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refproj.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    User = get_user_model()
    for username, password, staff, active, key in [
        ("alice", "alice-password", False, True, ALICE_TOKEN),
        ("boss", "boss-password", True, True, BOSS_TOKEN),
        ("carol", "carol-password", False, False, CAROL_TOKEN),
    ]:
        if User.objects.filter(username=username).exists():
            continue
        user = User.objects.create_user(
            username=username, password=password, is_staff=staff, is_active=active
        )
        Token.objects.create(key=key, user=user)
    log_alice_in(User.objects.get(username="alice"))
    print(f"demo database: {db}")


def log_alice_in(alice) -> None:
    """A browser session for alice: login() writes the data (auth hash included) and the row is
    saved under the fixed key, so the docs can show it (a real key is random)."""
    from django.contrib.auth import login
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import RequestFactory

    if SessionStore().exists(ALICE_SESSION):
        return
    request = RequestFactory().get("/")
    request.session = SessionStore()
    login(request, alice, backend="django.contrib.auth.backends.ModelBackend")
    session = SessionStore()
    session.update(dict(request.session.items()))
    session._session_key = ALICE_SESSION
    session.save(must_create=True)


if __name__ == "__main__":
    main()

"""Helpers: run drfgate_export as manage.py would, and load what it wrote."""
import io
import os
import subprocess
import tomllib
from pathlib import Path

from django.core.management import call_command

REPO_ROOT = Path(__file__).resolve().parents[3]


def run(*arguments):
    """(exit status, stdout, stderr) of `manage.py drfgate_export ARGUMENTS`."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("drfgate_export", *arguments, stdout=out, stderr=err)
        status = 0
    except SystemExit as exit:
        status = exit.code
    return status, out.getvalue(), err.getvalue()


def exported(*arguments):
    status, out, err = run(*arguments)
    assert status == 0, err
    return out, tomllib.loads(out), [line for line in err.splitlines() if line.startswith("warning:")]


def skipped(name):
    return name in os.environ.get("DRFGATE_SKIP", "").split(",")


def drfgate_check(config_path, env=None, arguments=()):
    """`drfgate check --config PATH [ARGUMENTS]` (DRFGATE_BIN): (exit status, output)."""
    binary = os.environ.get("DRFGATE_BIN")
    if not binary:
        if skipped("drfgate-bin"):
            return None
        raise AssertionError("DRFGATE_BIN is not set (the drfgate binary; or DRFGATE_SKIP=drfgate-bin)")
    done = subprocess.run([binary, "check", "--config", str(config_path), *arguments], capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})))
    return done.returncode, done.stdout + done.stderr


def check_database():
    """A Django database the gate can open: the repository's fixture (make fixture-db)."""
    return os.environ.get("DRFGATE_CHECK_DB", str(REPO_ROOT / "build" / "django" / "db.sqlite3"))


# The network stores' fixtures on the local servers (tests/django/engines.mk, make fixture-engines):
# user, host, port and database as Django's DATABASES names them.
SERVER_DATABASES = {
    "postgres": {"ENGINE": "django.db.backends.postgresql", "NAME": "drfgate_fixture",
                 "USER": "postgres", "HOST": "127.0.0.1", "PORT": "5432"},
    "mysql": {"ENGINE": "django.db.backends.mysql", "NAME": "drfgate_fixture", "USER": "root",
              "HOST": "127.0.0.1", "PORT": "3306", "OPTIONS": {"charset": "utf8mb4"}},
}

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


def drfgate_check(config_path):
    """`drfgate check --config PATH` (DRFGATE_BIN): (exit status, output)."""
    binary = os.environ.get("DRFGATE_BIN")
    if not binary:
        if "drfgate-bin" in os.environ.get("DRFGATE_SKIP", "").split(","):
            return None
        raise AssertionError("DRFGATE_BIN is not set (the drfgate binary; or DRFGATE_SKIP=drfgate-bin)")
    done = subprocess.run([binary, "check", "--config", str(config_path)], capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def check_database():
    """A Django database the gate can open: the repository's fixture (make fixture-db)."""
    return os.environ.get("DRFGATE_CHECK_DB", str(REPO_ROOT / "build" / "django" / "db.sqlite3"))

#!/usr/bin/env python3
"""Runs the package's tests with Django's own test runner, against the sample project.

Usage: runtests.py [test labels]   (environment: DRFGATE_BIN, the drfgate binary, to load the
exports with `drfgate check`; the tests that need it fail without it unless DRFGATE_SKIP
names "drfgate-bin")
"""
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproj.settings")
# Tests run manage.py in other folders (drfgate check --manage-py): PYTHONPATH=src must hold there.
if os.environ.get("PYTHONPATH"):
    os.environ["PYTHONPATH"] = os.pathsep.join(
        str(Path(entry).resolve()) for entry in os.environ["PYTHONPATH"].split(os.pathsep) if entry)

import django  # noqa: E402
from django.conf import settings  # noqa: E402
from django.test.utils import get_runner  # noqa: E402


def main():
    django.setup()
    import rest_framework

    print(f"drfgate-django tests: Django {django.get_version()}, DRF {rest_framework.VERSION}")
    runner = get_runner(settings)(verbosity=1)
    failures = runner.run_tests(sys.argv[1:] or ["test_export", "test_check", "test_authentication", "test_revocation"])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

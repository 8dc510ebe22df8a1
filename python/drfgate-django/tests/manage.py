#!/usr/bin/env python3
"""The sample project's manage.py: what `drfgate check --manage-py` runs in test_check."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproj.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)

"""WSGI entry point (gunicorn refproj.wsgi, or mod_wsgi with python-home=<repo>/.venv)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refproj.settings")
application = get_wsgi_application()

"""WSGI entry point: gunicorn pathprobe.wsgi, or mod_wsgi (python-path tests/paths:tests/django)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pathprobe.settings")
application = get_wsgi_application()

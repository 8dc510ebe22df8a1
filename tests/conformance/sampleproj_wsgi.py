"""The sample project (python/drfgate-django/tests/sampleproj) as gunicorn serves it for
sampleproj_differential.py: Django's own WSGI handler, which also says in a response header who
DRF authenticated, since the sample views answer `{}` and do not say.

X-Differential-Drf-User: the username (percent-encoded as drfgate serve's X-Drfgate-User is) when
DRF set an authenticated user on the request, empty when it set AnonymousUser, absent when DRF
never authenticated (a non-DRF view, or a refusal before authentication). DRF's Request sets the
user it authenticated on Django's HttpRequest too, which is where this reads it. The project's
settings and middleware are untouched, so the export is the project's own.
"""
import logging
import os
import urllib.parse

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproj.settings")

import django  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402

USER_HEADER = "X-Differential-Drf-User"


class UserReportingHandler(WSGIHandler):
    def get_response(self, request):
        response = super().get_response(request)
        user = request.__dict__.get("user")
        if user is not None:
            name = user.get_username() if user.is_authenticated else ""
            response[USER_HEADER] = urllib.parse.quote(name, safe="@+")
        return response


django.setup(set_prefix=False)
# A 500's traceback in gunicorn's log (with DEBUG off, Django's default logging mails it to
# ADMINS and prints nothing).
logging.getLogger("django.request").addHandler(logging.StreamHandler())
application = UserReportingHandler()

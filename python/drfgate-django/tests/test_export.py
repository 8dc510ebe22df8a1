"""drfgate_export on the sample project: every URLconf shape, the classes, the settings."""
import tempfile
import warnings
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.test import SimpleTestCase, override_settings

from exports import check_database, drfgate_check, exported, run

IA = "rest_framework.permissions.IsAuthenticated"
TOKEN = "rest_framework.authentication.TokenAuthentication"
BOOK_AUTH = ["sampleapp.auth.BearerAuthentication", "sampleapp.auth.ShopBasicAuthentication"]
NOTES_PERMISSION = (
    "rest_framework.permissions.IsAuthenticated & (rest_framework.permissions.IsAdminUser"
    " | ~rest_framework.permissions.IsAuthenticatedOrReadOnly)"
)
FORMAT = r"\.(?P<format>[a-z0-9]+)/?$"


def routes_by_pattern(config):
    return {(r.get("path") or r.get("regex")): r for r in config["routes"]}


class RoutesTests(SimpleTestCase):
    def setUp(self):
        self.text, self.config, self.warnings = exported()
        self.routes = routes_by_pattern(self.config)

    def test_every_endpoint_in_resolver_order_with_prefixes_namespaces_and_suffixes(self):
        got = [(r.get("name"), r.get("path") or r.get("regex")) for r in self.config["routes"]]
        detail = r"^api/books/(?P<pk>[^/.]+)"
        notes = r"^api/notes/(?P<pk>[^/.]+)"
        self.assertEqual(got, [
            ("api:book-list", "^api/books/$"),
            ("api:book-list", "^api/books" + FORMAT),
            ("api:book-recent", "^api/books/recent/$"),
            ("api:book-recent", "^api/books/recent" + FORMAT),
            ("api:book-detail", detail + "/$"),
            ("api:book-detail", detail + FORMAT),
            ("api:book-publish", detail + "/publish/$"),
            ("api:book-publish", detail + "/publish" + FORMAT),
            ("api:note-list", "^api/notes/$"),
            ("api:note-list", "^api/notes" + FORMAT),
            ("api:note-detail", notes + "/$"),
            ("api:note-detail", notes + FORMAT),
            ("api:api-root", "api/"),
            ("api:api-root", r"^api/(?P<format>\.[a-z0-9]+/?)$"),
            ("v1:order-detail", "api/v1/orders/<int:pk>/"),
            ("v1:order-detail", r"^api/v1/orders/(?P<pk>[0-9]+)(?P<format>\.[a-z0-9]+/?)$"),
            ("v1:report", "^api/v1/reports/(?P<year>[0-9]{4})/$"),
            ("v1:report", "^api/v1/reports/(?P<year>[0-9]{4})" + FORMAT),
            ("v1:custom", "api/v1/custom/"),
            ("v1:custom", r"^api/v1/custom(?P<format>\.[a-z0-9]+/?)$"),
            ("ops", "^nested/deeper/(?P<team>[-a-zA-Z0-9_]+)/ops/$"),
            ("plain", "plain/"),
        ])

    def test_viewset_methods_and_classes_come_from_the_action_map_and_extra_actions(self):
        book_list = self.routes["^api/books/$"]
        self.assertEqual(book_list["methods"], ["GET", "POST"])
        self.assertEqual(book_list["authentication_classes"], BOOK_AUTH)
        self.assertEqual(book_list["permission_classes"], ["sampleapp.auth.BookPermissions"])
        self.assertEqual(book_list["model"], "sampleapp.book")
        detail = self.routes[r"^api/books/(?P<pk>[^/.]+)/$"]
        self.assertEqual(detail["methods"], ["GET", "PUT", "PATCH", "DELETE"])
        publish = self.routes[r"^api/books/(?P<pk>[^/.]+)/publish/$"]
        self.assertEqual(publish["methods"], ["POST"])
        self.assertEqual(publish["permission_classes"], ["sampleapp.auth.StaffOnly"])
        self.assertNotIn("model", publish)
        self.assertEqual(self.routes["^api/books/recent/$"]["methods"], ["GET"])
        self.assertEqual(self.routes["^api/notes/$"]["methods"], ["GET"])

    def test_operators_keep_drfs_tree(self):
        self.assertEqual(self.routes["^api/notes/$"]["permission_classes"], [NOTES_PERMISSION])
        self.assertEqual(
            self.routes["api/v1/orders/<int:pk>/"]["permission_classes"],
            ["rest_framework.permissions.IsAdminUser | rest_framework.permissions.IsAuthenticatedOrReadOnly"],
        )

    def test_api_views_get_their_handlers_and_the_defaults_written_out(self):
        order = self.routes["api/v1/orders/<int:pk>/"]
        self.assertEqual(order["methods"], ["GET", "PUT"])
        self.assertEqual(order["authentication_classes"], [TOKEN])
        root = self.routes["api/"]
        self.assertEqual((root["methods"], root["permission_classes"]), (["GET"], [IA]))

    def test_subclasses_are_tables_with_their_attributes(self):
        self.assertEqual(self.config["authentication_classes"], {
            "sampleapp.auth.BearerAuthentication": {"base": TOKEN, "keyword": "Bearer"},
            "sampleapp.auth.ShopBasicAuthentication": {
                "base": "rest_framework.authentication.BasicAuthentication",
                "www_authenticate_realm": "shop",
            },
            "sampleapp.auth.ProxyRemoteUserAuthentication": {
                "base": "rest_framework.authentication.RemoteUserAuthentication",
                "header": "HTTP_X_REMOTE_USER",
            },
        })
        self.assertEqual(self.config["permission_classes"], {
            "sampleapp.auth.StaffOnly": {"base": "rest_framework.permissions.IsAdminUser", "message": "Staff only."},
            "sampleapp.auth.BookPermissions": {"base": "rest_framework.permissions.DjangoModelPermissions"},
        })

    def test_what_the_gate_cannot_model_is_passed_unjudged_with_a_warning(self):
        for pattern in ("api/v1/custom/", "plain/"):
            route = self.routes[pattern]
            self.assertTrue(route["pass"])
            self.assertFalse({"methods", "authentication_classes", "permission_classes"} & set(route))
        self.assertEqual(len(self.warnings), 3, self.warnings)
        self.assertIn("HeaderKeyAuthentication has its own authenticate() in Python", self.warnings[0])
        self.assertIn("sampleapp.views.plain is not a DRF view", self.warnings[2])

    def test_strict_fails_on_them_and_writes_nothing(self):
        with tempfile.TemporaryDirectory() as scratch:
            target = Path(scratch) / "drfgate.toml"
            with self.assertRaisesMessage(CommandError, "3 warning(s) and --strict"):
                run("--strict", "--output", str(target))
            self.assertFalse(target.exists())

    def test_settings_the_gate_reads_and_no_secret(self):
        django = self.config["django"]
        # The test runner's database stands in for settings.DATABASES while tests run.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with override_settings(DATABASES={"default": {
                    "ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/sample/db.sqlite3"}}):
                self.assertEqual(exported()[1]["django"]["DATABASE"], "sqlite:///srv/sample/db.sqlite3")
        self.assertEqual(django["AUTH_USER_TABLE"], "auth_user")
        self.assertEqual(django["USERNAME_FIELD"], "username")
        self.assertEqual(django["TOKEN_TABLE"], "authtoken_token")
        self.assertEqual(django["PASSWORD_HASHERS"], settings.PASSWORD_HASHERS)
        self.assertEqual(django["AUTHENTICATION_BACKENDS"], ["django.contrib.auth.backends.ModelBackend"])
        self.assertNotIn("SECRET_KEY", django)
        self.assertNotIn(settings.SECRET_KEY, self.text)
        self.assertEqual(self.config["rest_framework"], {
            "DEFAULT_AUTHENTICATION_CLASSES": [TOKEN], "DEFAULT_PERMISSION_CLASSES": [IA],
            "DEFAULT_RENDERER_CLASSES": ["JSONRenderer", "BrowsableAPIRenderer"],
        })
        # What CommonMiddleware reads (none here: MIDDLEWARE is empty, so no host check).
        self.assertEqual(django["ALLOWED_HOSTS"], list(settings.ALLOWED_HOSTS))  # the runner adds testserver
        self.assertEqual(django["MIDDLEWARE"], [])
        self.assertNotIn("DEBUG", django)
        self.assertEqual(self.config["gate"], {"unmatched": "pass"})
        _, config, _ = exported("--secret-key-file", "secret_key.txt", "--unmatched", "deny")
        self.assertEqual(config["django"]["SECRET_KEY_FILE"], "secret_key.txt")
        self.assertEqual(config["gate"], {"unmatched": "deny"})

    def test_renderer_classes_per_view_and_custom_renderers_as_tables(self):
        report = self.routes["^api/v1/reports/(?P<year>[0-9]{4})/$"]
        self.assertEqual(report["renderer_classes"], [
            "JSONRenderer", "sampleapp.views.CSVRenderer", "sampleapp.views.VendorJSONRenderer"])
        self.assertEqual(self.config["renderer_classes"], {
            "sampleapp.views.CSVRenderer": {"media_type": "text/csv", "format": "csv"},
            "sampleapp.views.VendorJSONRenderer": {
                "media_type": "application/vnd.sample+json", "format": "vnd", "base": "JSONRenderer"},
        })
        self.assertEqual(self.routes["api/v1/orders/<int:pk>/"]["renderer_classes"], ["JSONRenderer", "BrowsableAPIRenderer"])

    def test_the_export_loads_in_drfgate_check(self):
        _, config, _ = exported("--database", "sqlite://" + check_database())
        with tempfile.TemporaryDirectory() as scratch:
            target = Path(scratch) / "drfgate.toml"
            self.assertEqual(run("--database", "sqlite://" + check_database(), "--output", str(target))[0], 0)
            checked = drfgate_check(target)
            if checked is None:
                return
            status, output = checked
            self.assertEqual(status, 0, output)
            self.assertIn("config: ok", output)
            self.assertIn("exported by drfgate_export from sampleproj.urls", output)
            self.assertEqual(output.count("\n  ["), len(config["routes"]), output)
            # Edited by hand: check says so.
            target.write_text(target.read_text().replace('"Staff only."', '"Staff!"'))
            status, output = drfgate_check(target)
            self.assertEqual(status, 0, output)
            self.assertIn("edited since it was exported", output)

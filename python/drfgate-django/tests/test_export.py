"""drfgate_export on the sample project: every URLconf shape, the classes, the settings."""
import tempfile
import warnings
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.test import SimpleTestCase, override_settings

from exports import SERVER_DATABASES, check_database, drfgate_check, exported, run, skipped

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

    def test_parser_classes_are_written_where_the_view_has_its_own(self):
        self.assertEqual(self.routes["api/v1/orders/<int:pk>/"]["parser_classes"],
                         ["rest_framework.parsers.JSONParser"])
        judged = [r for r in self.config["routes"] if not r.get("pass")]
        with_parsers = [r.get("path") or r["regex"] for r in judged if "parser_classes" in r]
        self.assertEqual(with_parsers, [
            "api/v1/orders/<int:pk>/",
            r"^api/v1/orders/(?P<pk>[0-9]+)(?P<format>\.[a-z0-9]+/?)$",
        ])

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


POSTGRES = {
    "ENGINE": "django.db.backends.postgresql", "NAME": "shop", "USER": "shop_app",
    "PASSWORD": "a-database-password-never-exported", "HOST": "db.internal", "PORT": "6432",
    "CONN_MAX_AGE": 60, "ATOMIC_REQUESTS": True,
    "OPTIONS": {"sslmode": "verify-full", "sslrootcert": "/etc/ssl/db-ca.pem",
                "isolation_level": 2, "sslcert": "/etc/ssl/client.pem"},
}
MYSQL = {
    "ENGINE": "django.db.backends.mysql", "NAME": "shop", "USER": "shop_app", "PASSWORD": "",
    "HOST": "/run/mysqld/mysqld.sock", "PORT": "",
    "OPTIONS": {"charset": "utf8mb4", "ssl": {"ca": "/etc/ssl/db-ca.pem"},
                "init_command": "SET sql_mode='STRICT_TRANS_TABLES'"},
}


def exported_with_database(database, *arguments, drfgate=None):
    """The export of the sample project on `database` (DATABASES["default"])."""
    overrides = {"DATABASES": {"default": database}}
    if drfgate is not None:
        overrides["DRFGATE"] = drfgate
    # The test runner's database stands in for settings.DATABASES while tests run.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with override_settings(**overrides):
            return exported(*arguments)


class ServerDatabaseTests(SimpleTestCase):
    """A PostgreSQL or MySQL project's DATABASES["default"] becomes [django.DATABASES.default], with
    the password referred to (PASSWORD_ENV or PASSWORD_FILE), never written."""

    def test_postgresql_keys_the_gate_reads_and_no_password(self):
        text, config, warns = exported_with_database(POSTGRES)
        django = config["django"]
        self.assertNotIn("DATABASE", django)
        self.assertEqual(django["DATABASES"], {"default": {
            "ENGINE": "django.db.backends.postgresql", "NAME": "shop", "USER": "shop_app",
            "HOST": "db.internal", "PORT": 6432,
            "OPTIONS": {"sslmode": "verify-full", "sslrootcert": "/etc/ssl/db-ca.pem"},
        }})
        self.assertNotIn(POSTGRES["PASSWORD"], text)
        self.assertTrue(any("PASSWORD is never written" in w and "--database-password-env" in w
                            for w in warns), warns)
        self.assertTrue(any("OPTIONS sslcert" in w for w in warns), warns)
        self.assertFalse(any("isolation_level" in w or "opens SQLite" in w for w in warns), warns)

    def test_the_password_is_referred_to_by_option_or_setting(self):
        _, config, warns = exported_with_database(POSTGRES, "--database-password-env", "SHOP_DB_PASSWORD")
        self.assertEqual(config["django"]["DATABASES"]["default"]["PASSWORD_ENV"], "SHOP_DB_PASSWORD")
        self.assertFalse(any("PASSWORD is never written" in w for w in warns), warns)
        _, config, _ = exported_with_database(
            POSTGRES, drfgate={"DATABASE_PASSWORD_FILE": "/run/secrets/db_password"})
        default = config["django"]["DATABASES"]["default"]
        self.assertEqual(default["PASSWORD_FILE"], "/run/secrets/db_password")
        self.assertNotIn("PASSWORD_ENV", default)
        # The command line wins over the setting, and both options are recorded for --check.
        text, config, _ = exported_with_database(
            POSTGRES, "--database-password-file", "db_password.txt",
            drfgate={"DATABASE_PASSWORD_FILE": "/run/secrets/db_password"})
        self.assertEqual(config["django"]["DATABASES"]["default"]["PASSWORD_FILE"], "db_password.txt")
        self.assertIn('"database_password_file": "db_password.txt"', text)
        _, config, warns = exported_with_database(
            POSTGRES, "--database-password-env", "SHOP_DB_PASSWORD",
            drfgate={"DATABASE_PASSWORD_FILE": "/run/secrets/db_password"})
        default = config["django"]["DATABASES"]["default"]
        self.assertEqual((default.get("PASSWORD_ENV"), default.get("PASSWORD_FILE")), ("SHOP_DB_PASSWORD", None))
        self.assertFalse(any("PASSWORD" in w for w in warns), warns)

    def test_mysql_socket_options_and_no_password_no_warning(self):
        _, config, warns = exported_with_database(MYSQL)
        self.assertEqual(config["django"]["DATABASES"]["default"], {
            "ENGINE": "django.db.backends.mysql", "NAME": "shop", "USER": "shop_app",
            "HOST": "/run/mysqld/mysqld.sock",
            "OPTIONS": {"charset": "utf8mb4", "ssl": {"ca": "/etc/ssl/db-ca.pem"}},
        })
        self.assertFalse(any("DATABASES" in w for w in warns), warns)

    def test_database_given_on_the_command_line_wins(self):
        _, config, _ = exported_with_database(POSTGRES, "--database", "postgres://gate@db.internal/shop")
        self.assertEqual(config["django"]["DATABASE"], "postgres://gate@db.internal/shop")
        self.assertNotIn("DATABASES", config["django"])

    def test_the_export_loads_in_drfgate_check_on_each_server(self):
        for engine, database in SERVER_DATABASES.items():
            if skipped(engine):
                print(f"drfgate check on {engine}: skipped (DRFGATE_SKIP={engine})")
                continue
            with self.subTest(engine=engine), tempfile.TemporaryDirectory() as scratch:
                # PostgreSQL's fixture server trusts 127.0.0.1, so any password does; MariaDB's
                # root has none, so none is named.
                arguments = ["--database-password-env", "DRFGATE_TEST_DB_PASSWORD"] if engine == "postgres" else []
                password = "unused-by-trust" if engine == "postgres" else ""
                text, config, _ = exported_with_database(dict(database, PASSWORD=password), *arguments)
                target = Path(scratch) / "drfgate.toml"
                target.write_text(text)
                checked = drfgate_check(target, env={"DRFGATE_TEST_DB_PASSWORD": password})
                if checked is None:
                    return
                status, output = checked
                self.assertEqual(status, 0, output)
                self.assertIn("config: ok", output)
                self.assertIn(f"database: {engine} {engine}://{database['USER']}@127.0.0.1:", output)
                self.assertNotIn("edited since it was exported", output)


SIMPLE_JWT = {
    "ALGORITHM": "HS512",
    "SIGNING_KEY": "a-jwt-key-that-is-not-the-secret-key-0123456789",
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "LEEWAY": 2.5,
    "AUDIENCE": "api",
    "ISSUER": None,
    "AUTH_HEADER_TYPES": ("Bearer", "JWT"),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "uid",
    "JTI_CLAIM": None,
    "AUTH_TOKEN_CLASSES": ("rest_framework_simplejwt.tokens.AccessToken",),
    "CHECK_REVOKE_TOKEN": True,
    "TOKEN_OBTAIN_SERIALIZER": "rest_framework_simplejwt.serializers.TokenObtainPairSerializer",
    "MADE_UP": 1,
}
REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Knox",
    "TOKEN_TTL": timedelta(hours=10),
    "AUTO_REFRESH": False,
    "TOKEN_LIMIT_PER_USER": None,
    "TOKEN_PREFIX": "kx_",
}


class PackageSettingsTests(SimpleTestCase):
    """[simple_jwt] and [rest_knox]: SIMPLE_JWT's and REST_KNOX's keys as the project sets them,
    the signing key referred to, never written."""

    @override_settings(SIMPLE_JWT=SIMPLE_JWT, REST_KNOX=REST_KNOX)
    def test_simple_jwt_and_rest_knox_keys_verbatim_and_no_signing_key(self):
        text, config, warnings = exported()
        self.assertEqual(config["simple_jwt"], {
            "ALGORITHM": "HS512", "AUDIENCE": "api", "LEEWAY": 2.5,
            "AUTH_HEADER_TYPES": ["Bearer", "JWT"], "USER_ID_FIELD": "id", "USER_ID_CLAIM": "uid",
            "JTI_CLAIM": False, "AUTH_TOKEN_CLASSES": ["rest_framework_simplejwt.tokens.AccessToken"],
            "CHECK_REVOKE_TOKEN": True, "ACCESS_TOKEN_LIFETIME": {"seconds": 300},
            "REFRESH_TOKEN_LIFETIME": {"seconds": 86400},
        })
        self.assertNotIn(SIMPLE_JWT["SIGNING_KEY"], text)
        self.assertIn("SIGNING_KEY is never written here", text)
        self.assertTrue(any("SIGNING_KEY" in w and "--jwt-signing-key-file" in w for w in warnings), warnings)
        self.assertTrue(any("MADE_UP" in w for w in warnings), warnings)
        self.assertFalse(any("TOKEN_OBTAIN_SERIALIZER" in w for w in warnings), warnings)
        self.assertEqual(config["rest_knox"], {
            "AUTH_HEADER_PREFIX": "Knox", "TOKEN_TTL": {"seconds": 36000}, "AUTO_REFRESH": False,
            "TOKEN_PREFIX": "kx_"})
        _, config, warnings = exported("--jwt-signing-key-file", "/etc/drfgate/jwt.key")
        self.assertEqual(config["simple_jwt"]["SIGNING_KEY_FILE"], "/etc/drfgate/jwt.key")
        self.assertFalse(any("SIGNING_KEY:" in w for w in warnings), warnings)

    @override_settings(SIMPLE_JWT={"SIGNING_KEY": settings.SECRET_KEY, "AUTH_HEADER_TYPES": ("JWT",)})
    def test_the_default_signing_key_is_secret_keys_and_left_to_secret_key_file(self):
        text, config, warnings = exported()
        self.assertEqual(config["simple_jwt"], {"AUTH_HEADER_TYPES": ["JWT"]})
        self.assertNotIn("SIGNING_KEY", text)
        self.assertEqual(warnings, [w for w in warnings if "SIGNING_KEY" not in w])

    @override_settings(SIMPLE_JWT={"JWK_URL": "https://example.test/jwks", "ALGORITHM": "RS256"},
                       REST_KNOX={"AUTO_REFRESH": True})
    def test_what_the_gate_refuses_is_left_out_with_a_warning(self):
        _, config, warnings = exported()
        self.assertEqual(config["simple_jwt"], {"ALGORITHM": "RS256"})
        self.assertEqual(config["rest_knox"], {})
        self.assertTrue(any("JWK_URL" in w for w in warnings), warnings)
        self.assertTrue(any("AUTO_REFRESH" in w for w in warnings), warnings)

    def test_without_the_settings_no_section(self):
        _, config, _ = exported()
        self.assertNotIn("simple_jwt", config)
        self.assertNotIn("rest_knox", config)

    @override_settings(SIMPLE_JWT=SIMPLE_JWT, REST_KNOX=REST_KNOX)
    def test_the_sections_load_in_drfgate_check(self):
        with tempfile.TemporaryDirectory() as scratch:
            for name, text in (("secret_key.txt", "not-a-real-secret-key\n"),
                               ("jwt.key", SIMPLE_JWT["SIGNING_KEY"] + "\n")):
                (Path(scratch) / name).write_text(text)
            target = Path(scratch) / "drfgate.toml"
            status, _, err = run("--database", "sqlite://" + check_database(), "--output", str(target),
                                 "--secret-key-file", str(Path(scratch) / "secret_key.txt"),
                                 "--jwt-signing-key-file", str(Path(scratch) / "jwt.key"))
            self.assertEqual(status, 0, err)
            checked = drfgate_check(target)
            if checked is None:
                return
            status, output = checked
            self.assertEqual(status, 0, output)
            self.assertIn("config: ok", output)


THROTTLED_SETTINGS = dict(
    settings.REST_FRAMEWORK,
    DEFAULT_THROTTLE_CLASSES=["rest_framework.throttling.AnonRateThrottle"],
    DEFAULT_THROTTLE_RATES={"anon": "100/day", "user": None, "uploads": "20/hour", "burst": "60/min"},
    NUM_PROXIES=1,
)


@override_settings(REST_FRAMEWORK=THROTTLED_SETTINGS)
class ThrottleTests(SimpleTestCase):
    """DRF's throttle settings and each view's throttle_classes / throttle_scope, as the gate
    reads them ([rest_framework], [[routes]], [throttle_classes."…"])."""

    def setUp(self):
        self.text, self.config, self.warnings = exported("--urlconf", "sampleproj.urls_throttled")
        self.routes = routes_by_pattern(self.config)

    def test_the_settings(self):
        rest_framework = self.config["rest_framework"]
        self.assertEqual(rest_framework["DEFAULT_THROTTLE_CLASSES"], ["rest_framework.throttling.AnonRateThrottle"])
        self.assertEqual(rest_framework["DEFAULT_THROTTLE_RATES"],
                         {"anon": "100/day", "user": False, "uploads": "20/hour", "burst": "60/min"})
        self.assertEqual(rest_framework["NUM_PROXIES"], 1)

    def test_a_views_own_throttles_scope_and_subclasses(self):
        uploads = self.routes["uploads/"]
        self.assertEqual(uploads["throttle_classes"], [
            "rest_framework.throttling.ScopedRateThrottle", "sampleapp.views.BurstThrottle",
            "sampleapp.views.PinnedRateThrottle"])
        self.assertEqual(uploads["throttle_scope"], "uploads")
        self.assertEqual(self.config["throttle_classes"], {
            "sampleapp.views.BurstThrottle": {"base": "rest_framework.throttling.UserRateThrottle", "scope": "burst"},
            "sampleapp.views.PinnedRateThrottle": {"base": "rest_framework.throttling.AnonRateThrottle", "rate": "5/min"},
        })
        # A view on DRF's defaults as they were at import (none): not the settings' now, so
        # written out, as DRF runs it.
        self.assertEqual(self.routes["ops/"]["throttle_classes"], [])

    def test_a_python_throttle_passes_the_view_unjudged(self):
        route = self.routes["python-throttled/"]
        self.assertTrue(route["pass"])
        self.assertTrue(any("python-throttled" in w and "PythonThrottle" in w for w in self.warnings), self.warnings)

    def test_django_model_permissions_over_get_queryset_only_passes_with_a_warning(self):
        route = self.routes["books-by-owner/"]
        self.assertTrue(route["pass"])
        self.assertNotIn("model", route)
        self.assertTrue(any("books-by-owner" in w and "static queryset" in w for w in self.warnings), self.warnings)

    def test_the_export_loads_in_drfgate_check(self):
        with tempfile.TemporaryDirectory() as scratch:
            target = Path(scratch) / "drfgate.toml"
            status, _, err = run("--urlconf", "sampleproj.urls_throttled", "--database",
                                 "sqlite://" + check_database(), "--output", str(target))
            self.assertEqual(status, 0, err)
            checked = drfgate_check(target)
            if checked is None:
                return
            status, output = checked
            self.assertEqual(status, 0, output)
            self.assertIn("config: ok", output)

"""manage.py drfgate_export [--output FILE] [--strict] [--check FILE]"""
import difflib
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from drfgate_django.export import Options, export, recorded_options


class Command(BaseCommand):
    help = ("Writes drfgate's config (routes, classes, settings) from the URLconf; with --check, "
            "fails with a diff when a file written before is stale.")

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", help="write here (default: standard output)")
        parser.add_argument("--check", metavar="FILE",
                            help="exit 1 with a diff when FILE is not what an export writes now "
                                 "(with the options recorded in FILE unless given again)")
        parser.add_argument("--strict", action="store_true",
                            help="fail on views the gate cannot model instead of passing them unjudged")
        parser.add_argument("--urlconf", help="default: ROOT_URLCONF")
        parser.add_argument("--unmatched", choices=("pass", "deny"),
                            help='[gate] unmatched: "pass" (default: Django answers paths no route '
                                 'matches) or "deny" (DRF\'s 404)')
        parser.add_argument("--database", help='DATABASE as the gate opens it, a URL (default: '
                                                'DATABASES["default"]: a SQLite NAME, or a PostgreSQL/'
                                                'MySQL database as [django.DATABASES.default])')
        parser.add_argument("--database-password-env", metavar="NAME",
                            help="a PostgreSQL/MySQL database's PASSWORD_ENV: the environment "
                                 "variable the gate reads the password from (default: "
                                 "DRFGATE['DATABASE_PASSWORD_ENV']; the password is never written)")
        parser.add_argument("--database-password-file", metavar="FILE",
                            help="a PostgreSQL/MySQL database's PASSWORD_FILE: the file the gate "
                                 "reads the password from (default: DRFGATE['DATABASE_PASSWORD_FILE'])")
        parser.add_argument("--secret-key-file", help="SECRET_KEY_FILE to write (the key itself never is)")
        parser.add_argument("--jwt-signing-key-file",
                            help="[simple_jwt] SIGNING_KEY_FILE to write, for a SIMPLE_JWT "
                                 "SIGNING_KEY other than SECRET_KEY (the key itself never is)")

    def handle(self, *args, **opts):
        if opts["check"] and opts["output"]:
            raise CommandError("--check and --output do not go together")
        previous = None
        if opts["check"]:
            try:
                previous = Path(opts["check"]).read_text("utf-8")
            except OSError as error:
                self.stderr.write(f"drfgate_export: {opts['check']}: {error.strerror}")
                sys.exit(1)
        recorded = (recorded_options(previous) if previous else None) or {}
        chosen = {key: opts[key] if opts[key] is not None else recorded.get(key)
                  for key in ("urlconf", "unmatched", "database", "secret_key_file",
                              "jwt_signing_key_file", "database_password_env",
                              "database_password_file")}
        options = Options(**{k: v for k, v in chosen.items() if v is not None})
        result = export(options)
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        if opts["strict"] and result.warnings:
            raise CommandError(f"{len(result.warnings)} warning(s) and --strict: nothing written")
        if previous is not None:
            self._check(opts["check"], previous, result.text)
        elif opts["output"]:
            Path(opts["output"]).write_text(result.text, "utf-8")
        else:
            self.stdout.write(result.text, ending="")

    def _check(self, name, previous, current):
        if previous == current:
            self.stdout.write(f"{name} is up to date.")
            return
        diff = difflib.unified_diff(
            previous.splitlines(keepends=True), current.splitlines(keepends=True),
            fromfile=f"{name} (as committed)", tofile=f"{name} (as exported now)",
        )
        self.stdout.write("".join(diff), ending="")
        self.stderr.write(f"{name} is stale: run manage.py drfgate_export --output {name}")
        sys.exit(1)

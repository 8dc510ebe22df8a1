"""drfgate_export --check: a committed export that no longer matches the URLconf fails CI."""
import tempfile
from pathlib import Path

from django.test import SimpleTestCase, override_settings

from exports import run


class CheckTests(SimpleTestCase):
    def setUp(self):
        scratch = tempfile.TemporaryDirectory()
        self.addCleanup(scratch.cleanup)
        self.file = Path(scratch.name) / "drfgate.toml"
        status, _, err = run("--unmatched", "deny", "--output", str(self.file))
        self.assertEqual(status, 0, err)

    def check(self):
        return run("--check", str(self.file))

    def test_an_up_to_date_file_passes_with_the_options_it_records(self):
        status, out, err = self.check()
        self.assertEqual(status, 0, out + err)
        self.assertIn("is up to date", out)

    def assert_stale(self, *expected_lines):
        status, out, err = self.check()
        self.assertEqual(status, 1, out)
        self.assertIn("is stale", err)
        self.assertIn("(as committed)", out)
        for line in expected_lines:
            self.assertIn(line, out)

    @override_settings(ROOT_URLCONF="sampleproj.urls_added")
    def test_an_added_view(self):
        self.assert_stale('+name = "extra"', '+path = "extra/"')

    @override_settings(ROOT_URLCONF="sampleproj.urls_removed")
    def test_a_removed_route(self):
        self.assert_stale('-name = "plain"', '-path = "plain/"')

    @override_settings(ROOT_URLCONF="sampleproj.urls_changed")
    def test_a_changed_permission(self):
        self.assert_stale('+permission_classes = ["rest_framework.permissions.IsAdminUser"]')

    def test_a_missing_file(self):
        status, _, err = run("--check", str(self.file) + ".missing")
        self.assertEqual(status, 1)
        self.assertIn("No such file", err)

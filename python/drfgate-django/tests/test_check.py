"""drfgate_export --check: a committed export that no longer matches the URLconf fails CI."""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from django.core import checks
from django.test import SimpleTestCase, override_settings

from exports import check_database, drfgate_check, run


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


class DeployCheckTests(SimpleTestCase):
    """`manage.py check --deploy`: DRFGATE["CONFIG_FILE"], the deployed export, against a fresh one."""

    def setUp(self):
        scratch = tempfile.TemporaryDirectory()
        self.addCleanup(scratch.cleanup)
        self.file = Path(scratch.name) / "drfgate.toml"
        status, _, err = run("--unmatched", "deny", "--output", str(self.file))
        self.assertEqual(status, 0, err)

    def deploy_check(self, config_file=None):
        with override_settings(DRFGATE={"CONFIG_FILE": str(config_file or self.file)}):
            return [(m.id, m.msg, m.hint) for m in checks.run_checks(tags=["drfgate"], include_deployment_checks=True)]

    def test_a_current_export_passes_and_without_the_setting_nothing_is_checked(self):
        self.assertEqual(self.deploy_check(), [])
        self.assertEqual(checks.run_checks(tags=["drfgate"], include_deployment_checks=True), [])

    def test_it_is_a_deploy_check_only(self):
        with override_settings(ROOT_URLCONF="sampleproj.urls_added"):
            with override_settings(DRFGATE={"CONFIG_FILE": str(self.file)}):
                self.assertEqual(checks.run_checks(tags=["drfgate"]), [])

    def assert_stale(self):
        [(check_id, message, hint)] = self.deploy_check()
        self.assertEqual(check_id, "drfgate.W004")
        self.assertIn("is stale", message)
        self.assertIn(f"manage.py drfgate_export --check {self.file}", hint)

    @override_settings(ROOT_URLCONF="sampleproj.urls_added")
    def test_an_added_view(self):
        self.assert_stale()

    @override_settings(ROOT_URLCONF="sampleproj.urls_changed")
    def test_a_changed_permission(self):
        self.assert_stale()

    @override_settings(ROOT_URLCONF="sampleproj.urls_removed")
    def test_a_removed_route(self):
        self.assert_stale()

    def test_a_missing_file_and_a_hand_written_config(self):
        [(check_id, message, _)] = self.deploy_check(str(self.file) + ".missing")
        self.assertEqual(check_id, "drfgate.W001")
        hand_written = self.file.with_name("hand.toml")
        hand_written.write_text('[gate]\nunmatched = "deny"\n')
        [(check_id, message, _)] = self.deploy_check(hand_written)
        self.assertEqual(check_id, "drfgate.W002")


class DrfgateCheckManagePyTests(SimpleTestCase):
    """`drfgate check --config FILE --manage-py manage.py`: the gate's own check asks the project
    whether FILE is still what it exports."""

    manage_py = Path(__file__).resolve().parent / "manage.py"

    def setUp(self):
        scratch = tempfile.TemporaryDirectory()
        self.addCleanup(scratch.cleanup)
        self.file = Path(scratch.name) / "drfgate.toml"
        # Exported by manage.py itself, as a project would (the test runner's own settings differ:
        # it adds "testserver" to ALLOWED_HOSTS), with a database drfgate check can open,
        # recorded in the file for the next export.
        done = subprocess.run([sys.executable, str(self.manage_py), "drfgate_export", "--database",
                               "sqlite://" + check_database(), "--output", str(self.file)],
                              capture_output=True, text=True, env=dict(os.environ, SAMPLEPROJ_URLCONF="sampleproj.urls"))
        self.assertEqual(done.returncode, 0, done.stderr)

    def check(self, urlconf):
        return drfgate_check(self.file, env={"SAMPLEPROJ_URLCONF": urlconf},
                             arguments=["--manage-py", str(self.manage_py), "--python", sys.executable])

    def test_the_same_urlconf_says_so(self):
        checked = self.check("sampleproj.urls")
        if checked is None:
            return
        status, output = checked
        self.assertEqual(status, 0, output)
        self.assertIn("config: ok", output)
        self.assertIn("still export this file", output)
        self.assertNotIn("warning: this file was exported", output)

    def test_a_changed_urlconf_is_a_warning_with_the_diff(self):
        for urlconf, line in (("sampleproj.urls_added", '+path = "extra/"'),
                              ("sampleproj.urls_changed", "+permission_classes = "),
                              ("sampleproj.urls_removed", '-path = "plain/"')):
            with self.subTest(urlconf=urlconf):
                checked = self.check(urlconf)
                if checked is None:
                    return
                status, output = checked
                self.assertEqual(status, 0, output)  # a warning: the config itself loads
                self.assertIn("warning: this file was exported from another URLconf or other settings", output)
                self.assertIn("manage.py drfgate_export --output", output)
                self.assertIn(line, output)

    def test_a_manage_py_that_fails_is_a_warning(self):
        checked = drfgate_check(self.file, arguments=["--manage-py", str(self.file.with_name("nowhere.py")),
                                                      "--python", sys.executable])
        if checked is None:
            return
        status, output = checked
        self.assertEqual(status, 0, output)
        self.assertIn("warning: `", output)
        self.assertIn("failed", output)

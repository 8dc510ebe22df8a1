"""A deploy check (`manage.py check --deploy`): the gate's config the project deploys, named by
DRFGATE["CONFIG_FILE"], still is what drfgate_export writes from the URLconf and settings now.

The gate judges every request by that file: a view added, or permission_classes changed, since
it was exported is judged by stale rules until it is exported again. The check exports afresh
(with the options the file records) and compares the fingerprints; CI's
`manage.py drfgate_export --check FILE` shows the difference itself.

A deploy check, not an everyday one: the test runner renames the database before it runs
checks, which would make every server-database export look stale there, and a development
server rarely has the gate in front of it.
"""
from pathlib import Path

from django.conf import settings
from django.core import checks


def _fingerprint(text):
    from .export import FINGERPRINT_PREFIX

    for line in text.splitlines():
        if not line.startswith("#"):
            return None
        if line.startswith(FINGERPRINT_PREFIX):
            return line[len(FINGERPRINT_PREFIX):].strip()
    return None


@checks.register("drfgate", deploy=True)
def exported_config_is_current(app_configs=None, **kwargs):
    from .export import Options, export, recorded_options

    config_file = (getattr(settings, "DRFGATE", {}) or {}).get("CONFIG_FILE")
    if not config_file:
        return []
    hint = f"run `manage.py drfgate_export --check {config_file}` to see what changed, and export " \
           f"again with `--output {config_file}`"
    try:
        text = Path(config_file).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return [checks.Warning(f"DRFGATE['CONFIG_FILE'] {config_file} cannot be read: {error}",
                               id="drfgate.W001")]
    recorded = recorded_options(text)
    fingerprint = _fingerprint(text)
    if recorded is None or fingerprint is None:
        return [checks.Warning(
            f"DRFGATE['CONFIG_FILE'] {config_file} was not written by drfgate_export: the gate's "
            "routes may not match the URLconf", hint="export it with `manage.py drfgate_export`",
            id="drfgate.W002")]
    known = set(Options.__dataclass_fields__)
    try:
        fresh = export(Options(**{k: v for k, v in recorded.items() if k in known and v is not None}))
    except Exception as error:  # a check reports, it never stops manage.py
        return [checks.Warning(f"DRFGATE['CONFIG_FILE'] {config_file}: the export failed "
                               f"({type(error).__name__}: {error})", id="drfgate.W003")]
    if _fingerprint(fresh.text) != fingerprint:
        return [checks.Warning(
            f"DRFGATE['CONFIG_FILE'] {config_file} is stale: it was exported from another URLconf "
            "or other settings than the project has now, so the gate judges by stale rules",
            hint=hint, id="drfgate.W004")]
    return []

"""Serves every view of the conformance table, so the same endpoints can be probed in-process by
the oracle or over HTTP behind the gate."""
import os

from expapp.views import load_cases, url_patterns
from refproj.settings import REPO_ROOT

CASES_PATH = os.environ.get(
    "DRFGATE_CASES", str(REPO_ROOT / "tests" / "conformance" / "cases.json")
)

urlpatterns = url_patterns(load_cases(CASES_PATH))

#!/usr/bin/env bash
# Creates .venv/ at the repo root with Debian's /usr/bin/python3 (so Apache's mod_wsgi, which is built
# for that interpreter, can use the same venv) and installs tests/django/requirements.txt into it.
# Idempotent: a stamp keyed on the requirements file's hash makes a re-run a no-op.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.venv"
requirements="$repo_root/tests/django/requirements.txt"
system_python=/usr/bin/python3
stamp="$venv/.drfgate-requirements.sha256"

wanted_hash="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted_hash" ]]; then
    exit 0
fi

if [[ ! -x "$system_python" ]]; then
    echo "python-env: $system_python is missing (install Debian's python3)" >&2
    exit 1
fi

# A venv made by another interpreter (e.g. pyenv's) would not be usable by mod_wsgi: start over.
if [[ -x "$venv/bin/python" ]]; then
    venv_base="$("$venv/bin/python" -c 'import sys; print(sys.base_prefix)' 2>/dev/null || true)"
    if [[ "$venv_base" != "/usr" ]]; then
        echo "python-env: $venv was not made by $system_python; recreating it" >&2
        rm -rf "$venv"
    fi
fi

if [[ ! -x "$venv/bin/python" ]]; then
    if ! "$system_python" -m venv "$venv" 2>/dev/null; then
        # Debian splits venv/ensurepip into python3-venv.
        rm -rf "$venv"
        echo "python-env: installing python3-venv" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y --no-install-recommends python3-venv >/dev/null 2>&1 || {
            apt-get update >/dev/null
            apt-get install -y --no-install-recommends python3-venv >/dev/null
        }
        "$system_python" -m venv "$venv"
    fi
fi

"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
echo "$wanted_hash" >"$stamp"
echo "python-env: $venv ready ($("$venv/bin/python" -c 'import django, rest_framework; print("Django", django.get_version(), "DRF", rest_framework.__version__)'))"

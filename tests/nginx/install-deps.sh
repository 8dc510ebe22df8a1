#!/bin/sh
# Debian packages the nginx module and its end-to-end tests need; apt-get only when one is
# missing. nginx-dev pins nginx's exact version, so both are installed together; python3-dev
# (Python.h) for uWSGI, which pip compiles (`make nginx-uwsgi`).
set -eu
exec "$(dirname "$0")/../../scripts/debian-packages.sh" tests/nginx nginx nginx-dev curl python3-dev

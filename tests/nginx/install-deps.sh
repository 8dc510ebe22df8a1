#!/bin/sh
# Debian packages the nginx module and its end-to-end tests need; apt-get only when one is
# missing. nginx-dev pins nginx's exact version, so both are installed together.
set -eu
exec "$(dirname "$0")/../../scripts/debian-packages.sh" tests/nginx nginx nginx-dev curl

#!/bin/sh
# Debian packages the Apache end-to-end tests need; apt-get only when one is missing.
set -eu
exec "$(dirname "$0")/../../scripts/debian-packages.sh" tests/apache apache2 apache2-dev libapache2-mod-wsgi-py3

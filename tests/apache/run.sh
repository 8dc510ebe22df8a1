#!/bin/sh
# The Apache end-to-end suite (`make test-apache` builds the module and the Django fixtures
# first). Needs root: Apache starts as root and serves as www-data, like a real deployment.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" != 0 ]; then
    echo "tests/apache: needs root (Apache switches to www-data)" >&2
    exit 1
fi
exec /usr/bin/python3 -u "$root/tests/apache/e2e.py" "$@"

#!/bin/sh
# The Apache end-to-end suite (`make test-apache` builds the module and the Django fixtures
# first). Needs root: Apache starts as root and serves as www-data, like a real deployment.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
# Missing packages are installed (install-deps.sh); a missing fixture fails, unless DRFGATE_SKIP
# names it (README, "How it is tested").
for name in apache django; do
    case ",${DRFGATE_SKIP:-}," in *",$name,"*)
        echo "tests/apache: skipped (DRFGATE_SKIP=$name)" >&2
        exit 0
    esac
done
if [ "$(id -u)" != 0 ]; then
    echo "tests/apache: needs root (Apache switches to www-data)" >&2
    exit 1
fi
exec /usr/bin/python3 -u "$root/tests/apache/e2e.py" "$@"

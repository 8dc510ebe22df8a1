#!/bin/sh
# Usage: scripts/debian-packages.sh WHO PACKAGE...
# Installs the Debian packages that are missing, with apt-get, and nothing when all are there;
# WHO names the suite in the error when packages are missing and we are not root.
set -eu
who="$1"
shift
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "$who: missing Debian packages:$missing (run as root, or install them)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

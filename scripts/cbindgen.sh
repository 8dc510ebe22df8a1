#!/usr/bin/env bash
# Runs the pinned cbindgen, installing it first when missing. The pin matters: the committed
# include/drfgate.h is compared byte for byte with a fresh generation, and another cbindgen
# version lays the same declarations out differently.
#
#   scripts/cbindgen.sh --path     print the binary's path (installing it if needed)
#   scripts/cbindgen.sh ARGS...    run it
#
# The install lives outside the work tree, keyed by version, so fresh clones on the same
# machine (CI) reuse it: DRFGATE_TOOLS (default ~/.cache/drfgate/tools).
set -euo pipefail

CBINDGEN_VERSION=0.29.4
tools="${DRFGATE_TOOLS:-${HOME}/.cache/drfgate/tools}"
root="${tools}/cbindgen-${CBINDGEN_VERSION}"
bin="${root}/bin/cbindgen"

if [[ ! -x "${bin}" ]]; then
    echo "cbindgen.sh: installing cbindgen ${CBINDGEN_VERSION} into ${root} (about 80 s)" >&2
    mkdir -p "${tools}"
    # Our own target dir would mix the tool's build with the project's.
    env -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET_DIR \
        cargo install cbindgen --version "=${CBINDGEN_VERSION}" --locked --root "${root}" --quiet >&2
fi

if [[ "${1:-}" == "--path" ]]; then
    echo "${bin}"
    exit 0
fi
exec "${bin}" "$@"

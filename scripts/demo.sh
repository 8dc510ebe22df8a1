#!/usr/bin/env bash
# Shows drfgate's decisions for the guide's scenario over the demo database.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
drfgate="$root/target/release/drfgate"
config="$root/examples/demo/drfgate.toml"
alice=9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b

run() {
    printf '\n$ drfgate explain --config examples/demo/drfgate.toml'
    printf ' %q' "$@"
    printf '\n'
    "$drfgate" explain --config "$config" "$@"
}

"$drfgate" check --config "$config"
run /api/orders/
run -H "Authorization: Token $alice" /api/orders/
run -H "Authorization: Bearer $alice" /api/orders/
run -X POST -H "Authorization: Token $alice" /api/orders/7/
run -H "Authorization: Token $alice" /api/admin/report/

"""The path probe: a Django + DRF project whose views report the route Django resolved
(`request.resolver_match`) and the route the gate in front said it judged. Used by
tests/paths/differential.py; see tests/paths/README.md."""

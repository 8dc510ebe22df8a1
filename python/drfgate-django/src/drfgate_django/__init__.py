"""drfgate's companion Django app (add "drfgate_django" to INSTALLED_APPS).

`manage.py drfgate_export` writes the gate's TOML config from the project's URLconf and
settings; `--check FILE` fails when FILE is stale, for CI.
"""

__version__ = "0.1.0"

"""A cold lookup on each database engine: drfgate's store (`user_by_token`, one prepared
statement, what the gate does on a cache miss) against Django's ORM doing the same lookup
(`Token.objects.select_related("user").get(key=…)`, what DRF's TokenAuthentication does), on the
same database, in the same run.

Usage: .venv/bin/python bench/store_lookup.py --store-lookup target/debug/examples/store_lookup
       (`make bench-stores` builds it and runs this after `make fixture-db fixture-engines`)
Prints a Markdown table of median microseconds per lookup (7 rounds; the ORM's 200 lookups a
round, the store's 500) and their ratio.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "django"))
TOKEN = "abcd1234"
DATABASES = [
    ("SQLite", str(REPO / "build" / "django" / "db.sqlite3"), None),
    ("PostgreSQL 15", "postgres://postgres@127.0.0.1:5432/drfgate_fixture", "postgres"),
    ("MariaDB 10.11", "mysql://root@127.0.0.1:3306/drfgate_fixture", "mysql"),
]


def orm_median_us(database, rounds=7, per_round=200):
    """Django's lookup, in a child process so each engine gets its own settings."""
    code = f"""
import os, statistics, sys, time
sys.path.insert(0, {str(REPO / "tests" / "django")!r})
os.environ["DJANGO_SETTINGS_MODULE"] = "refproj.settings"
os.environ["DRFGATE_DJANGO_DB"] = {database!r}
import django
django.setup()
from rest_framework.authtoken.models import Token
lookup = lambda: Token.objects.select_related("user").get(key={TOKEN!r}).user
assert lookup().username == "john"
samples = []
for _ in range({rounds}):
    start = time.perf_counter()
    for _ in range({per_round}):
        lookup()
    samples.append((time.perf_counter() - start) / {per_round} * 1e6)
print(round(statistics.median(samples), 1))
"""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store-lookup", required=True, help="the store_lookup example binary")
    arguments = parser.parse_args()
    print("| Database | drfgate store, µs | Django ORM, µs | Ratio |")
    print("|---|---:|---:|---:|")
    for name, database, _ in DATABASES:
        url = database if "://" in database else f"sqlite://{database}"
        ours = float(subprocess.run([arguments.store_lookup, url, TOKEN], check=True,
                                    capture_output=True, text=True).stdout.strip())
        theirs = orm_median_us(database)
        print(f"| {name} | {ours:.1f} | {theirs:.1f} | ≈ {theirs / ours:.0f}× |", flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The core's part of one `make bench` run as Markdown tables (DIR/core.md, for write_tables.py):
each criterion median of this run beside DRF's own figure for the same work from
bench/drf_baseline.py (DIR/drf.tsv, same run), and the cache's own operations.

Only criterion results written after DIR/started (touched by the Makefile before the benches)
are read, so a bench that did not run in this invocation is named as such instead of showing
an older run's figure.

Usage: core_tables.py [--results DIR] [--criterion target/criterion]
"""
import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (criterion id, what DRF does for the same request, drf.tsv key): one row each.
VERSUS_DRF = [
    ("cached Token decision (allow)", "full dispatch, test client", "drf_dispatch_valid_token_us"),
    ("uncached Token decision (SQLite each time)", "`TokenAuthentication.authenticate()` alone",
     "drf_token_authenticate_us"),
    ("cached unknown token (deny 401)", "full dispatch refusing it", "drf_dispatch_bad_token_us"),
    ("cached Basic decision (allow)", "`check_password`, PBKDF2-SHA256 at 1,000,000 iterations",
     "django_check_password_pbkdf2_1M_us"),
    ("no credentials (deny 401)", "", ""),
    ("tokenize Authorization: Token <40 hex>", "", ""),
    ("SQLite token lookup (store, no cache)", "`TokenAuthentication.authenticate()` (the ORM query)",
     "drf_token_authenticate_us"),
    ("cached Session decision, GET (allow)", "full dispatch, session", "drf_dispatch_session_get_us"),
    ("cached Session decision, PUT with Origin and X-CSRFToken (allow)",
     "full dispatch, session + CSRF", "drf_dispatch_session_put_csrf_us"),
    ("cached Session decision, POST with Origin and X-CSRFToken (allow)",
     "full dispatch, session + CSRF", "drf_dispatch_session_post_csrf_us"),
    ("cached HS256 JWT decision (allow)", "simplejwt `JWTAuthentication.authenticate()`",
     "simplejwt_authenticate_hs256_us"),
    ("uncached HS256 JWT decision (allow)", "simplejwt `JWTAuthentication.authenticate()`",
     "simplejwt_authenticate_hs256_us"),
    ("cached RS256 JWT decision (allow)", "simplejwt `JWTAuthentication.authenticate()`",
     "simplejwt_authenticate_rs256_us"),
    ("uncached RS256 JWT decision (allow)", "simplejwt `JWTAuthentication.authenticate()`",
     "simplejwt_authenticate_rs256_us"),
    ("cached knox decision (allow)", "knox `TokenAuthentication.authenticate()`", "knox_authenticate_us"),
]


def criterion_medians(directory, since):
    """{full id: median ns} for every benchmark criterion finished after `since` (a timestamp)."""
    medians = {}
    for described in directory.glob("**/new/benchmark.json"):
        estimates = described.with_name("estimates.json")
        if not estimates.exists() or estimates.stat().st_mtime < since:
            continue
        full_id = json.loads(described.read_text())["full_id"]
        medians[full_id] = json.loads(estimates.read_text())["median"]["point_estimate"]
    return medians


def duration(ns):
    """A median as the tables show it: ns below 10 µs, µs above."""
    if ns < 10_000:
        return f"{ns:,.0f} ns"
    return f"{ns / 1000:,.1f} µs"


def ratio(drf_us, ns):
    value = drf_us * 1000 / ns
    return f"{value:,.0f}×" if value >= 10 else f"{value:.2f}×"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--criterion", type=Path, default=ROOT / "target" / "criterion")
    args = parser.parse_args()
    started = args.results / "started"
    since = started.stat().st_mtime if started.exists() else 0
    medians = criterion_medians(args.criterion, since)
    drf_file = args.results / "drf.tsv"
    drf = {}
    if drf_file.exists():
        for line in drf_file.read_text().splitlines():
            name, value = line.split("\t")
            drf[name] = float(value)
    load = {}
    for name in ("load-before-core", "load-after-core"):
        path = args.results / name
        load[name] = path.read_text().strip() if path.exists() else "not recorded"

    out = [
        "`cargo bench -p drfgate --bench decisions --bench cache --bench jwt` (criterion medians) and "
        "`bench/drf_baseline.py` (DRF, Django, simplejwt and knox on CPython over the same fixture "
        "database, medians), one after the other in this invocation; load average (1/5/15 min) "
        f"{load['load-before-core']} before the core's benches, {load['load-after-core']} after DRF's. "
        "\"×\" is DRF's time ÷ drfgate's.",
        "",
        "| Operation (drfgate) | drfgate | DRF / Django, same run | DRF's time | DRF ÷ drfgate |",
        "|---|---:|---|---:|---:|",
    ]
    for bench, what, key in VERSUS_DRF:
        ns = medians.get(bench)
        mine = duration(ns) if ns is not None else "not run"
        theirs = f"{drf[key]:,.1f} µs" if key in drf else ("—" if not key else "not run")
        times = ratio(drf[key], ns) if key in drf and ns else ""
        out.append(f"| `{bench}` | {mine} | {what or '—'} | {theirs} | {times} |")
    cache = sorted((name, ns) for name, ns in medians.items() if name.startswith("cache/"))
    out += [
        "",
        "The cache alone (`crates/drfgate/benches/cache.rs`, same run; `2_threads` rows are wall time ÷ the",
        "operations of both threads):",
        "",
        "| Operation | median |",
        "|---|---:|",
    ]
    out += [f"| `{name}` | {duration(ns)} |" for name, ns in cache] or ["| not run | |"]
    (args.results / "core.md").write_text("\n".join(out) + "\n")
    print(f"core tables: {len(medians)} criterion medians, {len(drf)} DRF figures -> {args.results / 'core.md'}")


if __name__ == "__main__":
    main()

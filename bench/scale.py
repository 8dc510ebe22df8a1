#!/usr/bin/env python3
"""Issue 16's scale targets, one run: whole cached decisions on two threads against one
(`cargo bench -p drfgate --bench scaling`: spread tokens ≥ 1.8×, one hot token ≥ 1.7×) and the
cache's bytes per entry at 1,000,000 entries (`cache_compare_footprint memory drfgate`, the
drfgate side of issue 9's comparison: ≤ 200). Writes DIR/scale.md and appends to
DIR/ratios.tsv (bench/write_tables.py reads both).

Usage: scale.py [--results DIR]   (CARGO names cargo)
"""
import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CAPACITY = 1_000_000
# Every shard full and evicting: the steady state.
INSERTED = 1_250_000
TARGETS = {"spread_1000_tokens": 1.8, "one_hot_token": 1.7}


def bench(*args):
    command = [os.environ.get("CARGO", "cargo"), "bench", "-p", "drfgate", "--bench", *args]
    print("$ " + " ".join(command), file=sys.stderr)
    return subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT).stdout


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=Path, default=ROOT / "build" / "bench")
    args = parser.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    load_before = load()
    scaling = bench("scaling")
    load_scaling = load()
    footprint = bench("cache_compare_footprint", "--", "memory", "drfgate", str(CAPACITY),
                      str(INSERTED))
    load_after = load()
    table = [line for line in scaling.splitlines() if line.startswith(("scaling: ", "|"))]
    header = next(line for line in table if line.startswith("scaling: ") and " per thread" in line)
    rows = [line for line in table if line.startswith("|")]
    results = {m.group(1): m.groupdict() for m in re.finditer(
        r"^scaling: (\w+) one=(?P<one>[\d.]+) two=(?P<two>[\d.]+) speedup=(?P<speedup>[\d.]+)"
        r" clean=(?P<clean>\S+) rounds=(?P<rounds>\d+)$", scaling, re.M)}
    resident, live, peak, rss = (int(x) for x in footprint.split()[-4:])
    text = "\n".join([
        f"`cargo bench -p drfgate --bench scaling` ({header.removeprefix('scaling: ')}); load average "
        f"{load_before} before, {load_scaling} after. A cached Token allow on `api/orders/<int:pk>/` "
        "(`Gate::decide`, users from an in-memory store, every token cached before timing); throughput "
        "is decisions of all threads ÷ wall time, so 2.00× is perfect scaling.",
        "",
        *rows,
        "",
        f"Bytes per cached entry: `cargo bench -p drfgate --bench cache_compare_footprint -- memory drfgate "
        f"{CAPACITY} {INSERTED}` (`CredentialCache<Arc<User>>`, default proportions with the negative space, "
        f"capacity {CAPACITY:,} filled with {INSERTED:,} keys; load average after it {load_after}): "
        f"{resident:,} resident entries, **{live / resident:.0f} heap bytes per entry** (peak during the fill "
        f"{peak / resident:.0f}), {rss / resident:.0f} bytes of resident-set growth per entry (target ≤ 200).",
        "",
    ])
    (args.results / "scale.md").write_text(text)
    with open(args.results / "ratios.tsv", "a") as ratios:
        for name, target in TARGETS.items():
            r = results[name]
            ratios.write(f"2 threads vs 1, {name.replace('_', ' ')} (ns/decision, clean runs {r['clean']})"
                         f"\t{r['two']}\t{r['one']}\t{r['speedup']}\t≥ {target:.2f}\t{load_scaling}\n")
        ratios.write(f"heap bytes per cached entry at {CAPACITY:,} entries\t{live / resident:.0f}\t"
                     f"\t\t≤ 200\t{load_after}\n")
    print(text)


if __name__ == "__main__":
    main()

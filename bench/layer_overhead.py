#!/usr/bin/env python3
"""Issue 16's Layer target from `cargo bench -p drfgate-tower --bench layer` (criterion's
estimates of that run): the time the tower Layer adds to a request (with the Layer − without)
against the core decision alone on the same request head; the target is added ≤ core + 100 ns.
Writes DIR/layer.md and appends to DIR/ratios.tsv (bench/write_tables.py reads both).

Usage: layer_overhead.py [--results DIR]   (CARGO_TARGET_DIR locates criterion's output)
"""
import argparse
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GROUP = "tower_layer"


def median_ns(criterion, name):
    estimates = json.loads((criterion / GROUP / name / "new" / "estimates.json").read_text())
    return estimates["median"]["point_estimate"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=Path, default=ROOT / "build" / "bench")
    args = parser.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    criterion = target / "criterion"
    without = median_ns(criterion, "without_layer")
    with_layer = median_ns(criterion, "with_layer_cached_token_allow")
    core = median_ns(criterion, "core_decide_cached_token_allow")
    added = with_layer - without
    over = added - core
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    text = f"""`cargo bench -p drfgate-tower --bench layer` (criterion medians; load average after it {load}): the same
`http::Request` (`GET /api/orders/`, `Authorization: Token <40 hex>`, token cached) through `ServiceExt::oneshot` on
a one-worker tokio runtime, to a tiny service without and with `DrfGateLayer`, and the core's
`Gate::decide_cached` alone on the same request head (what the Layer asks).

| Measure | ns |
|---|---:|
| request without the Layer | {without:,.0f} |
| request with the Layer (cached Token allow) | {with_layer:,.0f} |
| the Layer's added time (with − without) | {added:,.0f} |
| core decision alone (`Gate::decide_cached`, same head) | {core:,.0f} |
| added time − core decision | **{over:+,.0f}** (target ≤ +100) |
"""
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "layer.md").write_text(text)
    with open(args.results / "ratios.tsv", "a") as ratios:
        ratios.write(f"tower Layer's added time vs core decision (ns)\t{added:.0f}\t{core:.0f}"
                     f"\t{over:+.0f} ns\t≤ +100 ns\t{load}\n")
    print(text)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Puts one `make bench` run into BENCHMARKS.md, each section between its own markers, replacing
what an earlier run wrote there:

* `--section frontends` (`make bench-frontends`): the summary of issue 16's ratios
  (DIR/ratios.tsv, one line per ratio with the load average when it was measured) and each
  part's table (DIR/{apache,serve,nginx,layer,scale}.md);
* `--section core` (`make bench-core`): the core's criterion medians beside DRF's own figures
  (DIR/core.md, from bench/core_tables.py) and the instruction counts (DIR/instructions.md,
  from `bench/instructions.sh table`).

Parts that did not run (skipped front ends) are named as such rather than kept from an earlier run.

Usage: write_tables.py [--section frontends|core] [--results DIR] [--benchmarks BENCHMARKS.md]
"""
import argparse
import datetime
import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START = "<!-- make bench writes from here: front ends and scale (bench/write_tables.py) -->"
END = "<!-- make bench writes up to here -->"
CORE_START = "<!-- make bench writes from here: the core (bench/write_tables.py --section core) -->"
CORE_END = "<!-- make bench writes the core up to here -->"
CORE_PARTS = [
    ("core", "The core vs DRF doing the same work, and the cache",
     "make bench-core     # criterion benches of crates/drfgate, bench/drf_baseline.py, bench/core_tables.py"),
    ("instructions", "Instructions per decision and per front-end request (callgrind, load-independent)",
     "bench/instructions.sh table    # part of make bench-core"),
]
PARTS = [
    ("apache", "Apache: mod_drfgate vs mod_auth_basic, and a static file with and without the module",
     "make bench-apache    # tests/apache/bench.py, as root"),
    ("serve", "`drfgate serve` vs a minimal hyper server, and vs DRF under gunicorn",
     "make bench-serve     # bench/serve.sh"),
    ("nginx", "nginx: ngx_http_drfgate_module vs nginx's own `return 401`",
     "make bench-nginx     # bench/nginx.sh"),
    ("layer", "The tower Layer's added time vs the core decision",
     "make bench-layer     # cargo bench -p drfgate-tower --bench layer; bench/layer_overhead.py"),
    ("scale", "Two threads vs one, and bytes per cached entry",
     "make bench-scale     # bench/scale.py"),
]


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def met(ratio, target):
    """'yes'/'no' for a numeric ratio against '≥ x' or '≤ x' (ns figures: '+12 ns')."""
    try:
        value = float(ratio.replace(" ns", ""))
        bound = float(target.split()[1])
    except (ValueError, IndexError):
        return ""
    return "yes" if (value >= bound if target.startswith("≥") else value <= bound) else "**no**"


def summary(ratios):
    lines = ["| Ratio (issue 16) | measured | baseline | ratio | target | met | load average (1/5/15 min) |",
             "|---|---:|---:|---:|---:|---|---|"]
    for line in ratios:
        key, measured, baseline, ratio, target, load = line.split("\t")
        lines.append(f"| {key} | {measured} | {baseline} | {ratio} | {target} | {met(ratio, target)} | {load} |")
    return lines


def parts(results, listed):
    out = []
    for name, title, command in listed:
        out += [f"### {title}", "", "```sh", command, "```", ""]
        part = results / f"{name}.md"
        out += ([part.read_text().rstrip(), ""] if part.exists()
                else ["Not run in this invocation (skipped or failed; see its output).", ""])
    return out


def replace_between(text, start, end, lines, first_time):
    """`text` with what lies between `start` and `end` replaced by `lines` (which carry both
    markers); `first_time(text, section)` places the section when the markers are not there yet."""
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        return before + "\n".join(lines) + after
    return first_time(text, "\n".join(lines))


def core_section(args, commit, today):
    out = [
        CORE_START,
        f"## The core: one `make bench` run ({today}, commit {commit})",
        "",
        "Written by `make bench` (this part alone: `make bench-core`). Machine: "
        f"{os.cpu_count()} × {cpu_model()}. Timings move with the machine's load (recorded below); the",
        "instruction counts do not, and `make bench-check` guards them in `make test`.",
        "",
        *parts(args.results, CORE_PARTS),
        CORE_END,
    ]

    def first_time(text, section):
        # Before the front ends' section, or at the end.
        if START in text:
            before, after = text.split(START, 1)
            return before + section + "\n\n" + START + after
        return text.rstrip("\n") + "\n\n" + section + "\n"

    text = replace_between(args.benchmarks.read_text(), CORE_START, CORE_END, out, first_time)
    args.benchmarks.write_text(text)
    print(f"BENCHMARKS.md: the core's tables written from {args.results}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--section", choices=["frontends", "core"], default="frontends")
    parser.add_argument("--results", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--benchmarks", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    if subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                      capture_output=True, text=True).stdout.strip():
        commit += " with uncommitted changes"
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if args.section == "core":
        core_section(args, commit, today)
        return
    ratios_file = args.results / "ratios.tsv"
    ratios = ratios_file.read_text().splitlines() if ratios_file.exists() else []
    out = [
        START,
        f"## Front ends and scale: issue 16's ratios, one run ({today}, commit {commit})",
        "",
        "Written by `make bench` (the front-end and scale part alone: `make bench-frontends`); every ratio is",
        "measured in the same run on the same machine, the two sides of a wrk ratio in alternating runs.",
        f"Machine: {os.cpu_count()} × {cpu_model()}, shared with other builds and test runs (the load average",
        "beside each figure says how much); wrk runs on the same cores as the servers. Requests/s on a loaded",
        "machine say as much about the scheduler as about the server, so the wrk ratios are given twice: in",
        "requests/s, and in the server processes' own CPU time per request (user + system, from `/proc`; for",
        "these the ratio is baseline ÷ gate, so above 1 the gate costs less).",
        "",
        *summary(ratios),
        "",
    ]
    out += parts(args.results, PARTS)
    out.append(END)

    def first_time(text, section):
        # After the instruction counts, the first section.
        first, *rest = text.split("\n## ", 2)
        return first + "\n## " + rest[0] + "\n" + section + "\n\n## " + rest[1]

    text = replace_between(args.benchmarks.read_text(), START, END, out, first_time)
    args.benchmarks.write_text(text)
    print(f"BENCHMARKS.md: front ends and scale written from {args.results}")


if __name__ == "__main__":
    main()

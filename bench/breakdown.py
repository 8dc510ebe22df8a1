#!/usr/bin/env python3
"""Where one decision's instructions go: callgrind's inclusive count per function, per decision.

    bench/breakdown.py PATH [--top N] [--collect FUNCTION]

Runs the release `hot_loop` (or, for `c_abi_into`, `decide_loop.c` through libdrfgate) under
`valgrind --tool=callgrind --toggle-collect=FUNCTION` with 2,000 and 4,000 decisions, reads both
with `callgrind_annotate --inclusive=yes`, and prints each function's difference / 2,000: its
inclusive instructions in one decision, start-up and the first (uncached) decision cancelling out
as in `bench/instructions.sh`. Inclusive counts nest (a caller includes its callees), so the rows
do not add up; the first row is the whole decision. Needs `make bench-check`'s release build
(`cargo build --release -p drfgate -p drfgate-ffi --lib --example hot_loop`) and the fixture
database (`make fixture-db`).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL, LARGE = 2000, 4000
# "  1,234 (12.3%)  path/file.rs:crate::function [object]": only rows with the object are a
# function's own inclusive count; rows without it are code inlined from another file.
LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*?)\s+\[[^\]]*\]$")


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"


def c_loop(work: Path) -> Path:
    """decide_loop.c linked against the release libdrfgate.so, as bench/instructions.sh does."""
    version = next(
        line.split('"')[1]
        for line in (ROOT / "Cargo.toml").read_text().splitlines()
        if line.startswith("version = ")
    )
    lib = work / "lib"
    lib.mkdir()
    (lib / f"libdrfgate.so.0.{version.split('.')[1]}").symlink_to(target_dir() / "libdrfgate.so")
    program = work / "decide_loop"
    subprocess.run(
        ["gcc", "-O2", "-std=c11", "-D_GNU_SOURCE", "-I", str(ROOT / "include"),
         str(ROOT / "crates/drfgate-ffi/benches/decide_loop.c"), "-o", str(program),
         f"-L{target_dir()}", "-ldrfgate", f"-Wl,-rpath,{lib}"],
        check=True,
    )
    return program


def inclusive(command: list, collect: str, out: Path) -> dict:
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--toggle-collect={collect}",
         f"--callgrind-out-file={out}", *command],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(out)],
        check=True, capture_output=True, text=True,
    ).stdout
    counts = {}
    started = False
    for line in text.splitlines():
        if "file:function" in line:
            started = True
            continue
        if started and line.startswith("-") and counts:
            break  # the per-line annotation of the sources follows
        match = LINE.match(line) if started else None
        if match:
            name = match.group(2)
            # "path/to/file.rs:crate::function": the function is what names the row.
            name = re.sub(r"^(?:\?\?\?|[^:\s]*\.(?:rs|c|h|S|s)):", "", name)
            if name.startswith(("(below main)", "std::rt::", "std::sys::backtrace", "main",
                                "__libc_start", "0x")):
                continue
            counts[name] = counts.get(name, 0) + int(match.group(1).replace(",", ""))
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="token, basic, none, unknown, session, jwt or c_abi_into")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--collect", help="the function counted (default: the decision)")
    args = parser.parse_args()
    db = ROOT / "build/django/db.sqlite3"
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        if args.path == "c_abi_into":
            config = work / "gate.toml"
            config.write_bytes(subprocess.run(
                [str(target_dir() / "examples/hot_loop"), str(db), "0", "config"],
                check=True, capture_output=True).stdout)
            program = c_loop(work)
            command = lambda n: [str(program), str(config), str(n), "into"]
            collect = args.collect or "drfgate_gate_decide_into"
        else:
            command = lambda n: [str(target_dir() / "examples/hot_loop"), str(db), str(n), args.path]
            collect = args.collect or "drfgate::gate::Gate::decide"
        small = inclusive(command(SMALL), collect, work / "small.out")
        large = inclusive(command(LARGE), collect, work / "large.out")
    per_decision = {
        name: (large[name] - small.get(name, 0)) / (LARGE - SMALL) for name in large
    }
    rows = sorted(per_decision.items(), key=lambda item: -item[1])[: args.top]
    print(f"| {args.path}: function (inclusive, per decision) | instructions |")
    print("|---|---:|")
    for name, count in rows:
        if count >= 1:
            print(f"| `{name[:110]}` | {count:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

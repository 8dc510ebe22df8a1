#!/usr/bin/python3
"""Apache's benchmarks for BENCHMARKS.md (`make bench-apache`, part of `make bench`), with wrk
(Debian's), on one machine in one run. Needs what e2e.py needs (root, the module, the fixtures).

Issue 16's two ratios, each measured inside one Apache (the e2e suite's config plus two
locations), the sides in alternating runs so that other work on the machine lands on both:
  a. refusing: mod_drfgate refusing a bad token vs Apache's own mod_auth_basic (with
     mod_authn_file) refusing an unknown user, target ≥ 1.0×;
  b. an allowed static file through the module (a cached Token decision) vs the same file
     where the module is off, the same request headers, target ≤ 3 % slower.
And for scale, one run of mod_wsgi + DRF refusing the bad token (a second Apache, no module).

Usage: bench.py [--seconds 5] [--rounds 3] [--connections 16] [--results DIR]
(--seconds and --rounds default to BENCH_SECONDS and BENCH_ROUNDS, as in bench/lib.sh.)
Writes DIR/apache.md and appends to DIR/ratios.tsv (bench/write_tables.py reads both).
"""
import argparse
import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import e2e

BAD_TOKEN = "Authorization: Token not-a-valid-token"
GOOD_TOKEN = "Authorization: Token abcd1234"
UNKNOWN_BASIC_USER = "Authorization: Basic " + base64.b64encode(b"nobody:not-a-password").decode()


class BenchApache(e2e.Apache):
    """The e2e suite's Apache with the baselines of issue 16 in the same server: the static
    files behind Apache's own Basic authentication, and the static files with the gate off."""

    def conf_text(self):
        return super().conf_text() + f"""# Baselines for tests/apache/bench.py, in the same server as the gate.
Alias /basic-static/ "{e2e.RUN}/site/static/"
<Location /basic-static/>
    AuthType Basic
    AuthName "bench"
    AuthBasicProvider file
    AuthUserFile "{e2e.RUN}/htpasswd"
    Require valid-user
</Location>
Alias /open-static/ "{e2e.RUN}/site/static/"
"""


def cpu_seconds(root):
    """User + system CPU time of process `root` and all its descendants (Apache's children,
    mod_wsgi's daemons), from /proc: time spent waiting for a core is not in it."""
    parents, times = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # Fields after the command name, which may contain spaces.
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
            times[int(entry.name)] = int(fields[11]) + int(fields[12])
    family, grown = {root}, True
    while grown:
        more = {pid for pid, parent in parents.items() if parent in family} - family
        family |= more
        grown = bool(more)
    return sum(times.get(pid, 0) for pid in family) / os.sysconf("SC_CLK_TCK")


def wrk(port, path, header, connections, seconds, server_pid):
    args = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds}s",
            "--latency", "-H", header, f"http://127.0.0.1:{port}{path}"]
    print("$ " + " ".join(args), file=sys.stderr)
    cpu_before = cpu_seconds(server_pid)
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    cpu = cpu_seconds(server_pid) - cpu_before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {m.group(1): m.group(2) for m in re.finditer(r"^\s+(50|99)%\s+(\S+)", out, re.M)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50": latency.get("50"), "p99": latency.get("99"), "total": total,
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "cpu_us": cpu * 1e6 / total}


def status(port, path, header):
    name, value = header.split(": ", 1)
    return e2e.request(port, "GET", path, [(name, value)]).status


def median(values):
    return sorted(values)[(len(values) - 1) // 2]


def alternate(sides, rounds, connections, seconds):
    """`sides` is [(label, apache, path, header, refused)]; each runs `rounds` times, in turn.
    Returns {label: [run, ...]}, each run checked to be all refusals or all successes."""
    runs = {label: [] for label, *_ in sides}
    for _ in range(rounds):
        for label, apache, path, header, refused in sides:
            r = wrk(apache.port, path, header, connections, seconds, apache.process.pid)
            wanted = r["total"] if refused else 0
            e2e.check(r["non2xx"] == wanted, f"{label}: {r['non2xx']} of {r['total']} refused")
            print(f"  {label}: {r['rps']:,.0f} requests/s, Apache CPU {r['cpu_us']:.1f} µs/request",
                  file=sys.stderr)
            runs[label].append(r)
    return runs


def slower_or_faster(ratio):
    """A throughput ratio (gate ÷ baseline) in words."""
    if ratio <= 1:
        return f"{(1 - ratio) * 100:.1f} % slower"
    return f"{(ratio - 1) * 100:.1f} % faster, within the noise of the machine"


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    parser = argparse.ArgumentParser()
    # The same settings as bench/lib.sh's wrk benchmarks, from the same variables.
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", 5)))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 3)))
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--results", type=Path, default=e2e.ROOT / "build" / "bench")
    args = parser.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    e2e.prepare_run_dir()
    load_before = load()
    with BenchApache("bench-gated") as gated, \
            e2e.Apache("bench-plain", with_module=False, pass_authorization=True) as plain:
        port = gated.port
        e2e.check(status(port, "/api/token-ia/", BAD_TOKEN) == 401, "bad token not refused")
        e2e.check(status(port, "/basic-static/hello.txt", UNKNOWN_BASIC_USER) == 401,
                  "mod_auth_basic did not refuse the unknown user")
        e2e.check(status(port, "/static/hello.txt", GOOD_TOKEN) == 200, "static not allowed")
        e2e.check(status(port, "/open-static/hello.txt", GOOD_TOKEN) == 200, "static not served")
        e2e.check(status(port, "/static/hello.txt", BAD_TOKEN) == 401, "the gate is off on /static/")
        e2e.check(status(plain.port, "/api/token-ia/", BAD_TOKEN) == 401, "DRF did not refuse")
        n, s = args.connections, args.seconds
        refusing = alternate([
            ("mod_drfgate refusing `Token not-a-valid-token` (cached unknown) on /api/token-ia/",
             gated, "/api/token-ia/", BAD_TOKEN, True),
            ("mod_auth_basic + mod_authn_file refusing an unknown user on /basic-static/hello.txt",
             gated, "/basic-static/hello.txt", UNKNOWN_BASIC_USER, True),
        ], args.rounds, n, s)
        static = alternate([
            ("/static/hello.txt through mod_drfgate, `Token abcd1234` (cached allow)",
             gated, "/static/hello.txt", GOOD_TOKEN, False),
            ("/open-static/hello.txt, the module off there, same header",
             gated, "/open-static/hello.txt", GOOD_TOKEN, False),
        ], args.rounds, n, s)
        drf = alternate([
            ("mod_wsgi + DRF refusing the same bad token (another Apache, no module)",
             plain, "/api/token-ia/", BAD_TOKEN, True),
        ], 1, n, s)
    load_after = load()

    lines = [
        f"Apache {apache_version()} (`mpm_event`, the e2e suite's config: mod_wsgi daemon mode, 2 processes × 10 "
        "threads) with mod_drfgate (release libdrfgate) and, in the same server, a location behind Apache's own "
        "Basic authentication and one where the module is off. "
        f"`wrk -t2 -c{n} -d{s}s`, {args.rounds} runs per side alternating with the other side (medians of requests/s, "
        "and of the Apache processes' own CPU time, user + system from `/proc`, per request: time spent waiting "
        "for a core on a loaded machine is not in it); "
        f"load average (1/5/15 min) {load_before} before, {load_after} after.",
        "",
        "| Request | Requests/s (median) | Apache CPU µs/request (median) | p50 | p99 |",
        "|---|---:|---:|---:|---:|",
    ]
    medians, cpus = {}, {}
    for runs in (refusing, static, drf):
        for label, rs in runs.items():
            best = median([r["rps"] for r in rs])
            medians[label] = best
            cpus[label] = median([r["cpu_us"] for r in rs])
            middle = min(rs, key=lambda r: abs(r["rps"] - best))
            lines.append(f"| {label} | {best:,.0f} | {cpus[label]:.1f} | {middle['p50']} | {middle['p99']} |")
    (gate_refusal, basic_refusal), (gated_static, open_static), (drf_refusal,) = (
        list(medians[k] for k in runs) for runs in (refusing, static, drf))
    (gate_refusal_cpu, basic_refusal_cpu), (gated_static_cpu, open_static_cpu) = (
        list(cpus[k] for k in runs) for runs in (refusing, static))
    refusal_ratio = gate_refusal / basic_refusal
    static_ratio = gated_static / open_static
    lines += [
        "",
        f"- mod_drfgate's refusal / mod_auth_basic's refusal: **{refusal_ratio:.2f}×** (target ≥ 1.0×); "
        f"mod_drfgate's refusal / DRF's in mod_wsgi: {gate_refusal / drf_refusal:,.0f}×.",
        f"- Allowed static file through the module / without it: **{static_ratio:.3f}** "
        f"({slower_or_faster(static_ratio)}; target ≤ 3 % slower).",
        f"- In Apache's CPU time per request: refusing {gate_refusal_cpu:.1f} µs in mod_drfgate vs "
        f"{basic_refusal_cpu:.1f} µs in mod_auth_basic (ratio {basic_refusal_cpu / gate_refusal_cpu:.2f}); "
        f"the static file {gated_static_cpu:.1f} µs through the module vs {open_static_cpu:.1f} µs without "
        f"({(gated_static_cpu / open_static_cpu - 1) * 100:.1f} % more).",
    ]
    (args.results / "apache.md").write_text("\n".join(lines) + "\n")
    with open(args.results / "ratios.tsv", "a") as ratios:
        for key, a, b, ratio, target in (
                ("Apache mod_drfgate refusing vs mod_auth_basic refusing", gate_refusal,
                 basic_refusal, refusal_ratio, "≥ 1.00"),
                ("Apache static allowed through the module vs module off", gated_static,
                 open_static, static_ratio, "≥ 0.97")):
            ratios.write(f"{key}, requests/s\t{a:.0f}\t{b:.0f}\t{ratio:.3f}\t{target}\t{load()}\n")
        for key, a, b, target in (
                ("Apache mod_drfgate refusing vs mod_auth_basic refusing", gate_refusal_cpu,
                 basic_refusal_cpu, "≥ 1.00"),
                ("Apache static allowed through the module vs module off", gated_static_cpu,
                 open_static_cpu, "≥ 0.97")):
            ratios.write(f"{key}, Apache CPU µs per request (baseline ÷ gate)\t{a:.1f}\t{b:.1f}\t"
                         f"{b / a:.3f}\t{target}\t{load()}\n")
    print("\n".join(lines))
    return 0


def apache_version():
    out = subprocess.run([e2e.APACHE_BIN, "-v"], capture_output=True, text=True).stdout
    found = re.search(r"Apache/(\S+)", out)
    return found.group(1) if found else "2.4"


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""One benchmark run for BENCHMARKS.md: Apache + mod_drfgate against Apache + mod_wsgi + DRF on
the same machine, in the same run, with wrk (Debian's). Needs what e2e.py needs, plus wrk.

  1. refusing a bad token: mod_drfgate answers vs mod_wsgi + DRF answers (requests/s, latency)
  2. an allowed request for a static file: with the module (a cached Token decision) vs without
     (the module's added latency, one connection at a time)

Usage: bench.py [--seconds 10]
"""
import argparse
import re
import subprocess
import sys

import e2e


def wrk(port, path, headers, connections, seconds):
    args = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds}s",
            "--latency"]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run(args + [f"http://127.0.0.1:{port}{path}"], check=True,
                         capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {m.group(1): m.group(2) for m in re.finditer(r"^\s+(50|99)%\s+(\S+)", out, re.M)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50": latency.get("50"), "p99": latency.get("99"), "total": total,
            "non2xx": int(non2xx.group(1)) if non2xx else 0}


def status(port, path, headers):
    pairs = [tuple(h.split(": ", 1)) for h in headers]
    return e2e.request(port, "GET", path, pairs).status


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    e2e.prepare_run_dir()
    bad = ["Authorization: Token not-a-valid-token"]
    good = ["Authorization: Token abcd1234"]
    rows = []
    with e2e.Apache("bench-gated") as gated, \
            e2e.Apache("bench-plain", with_module=False, pass_authorization=True) as plain:
        for port in (gated.port, plain.port):
            e2e.check(status(port, "/api/token-ia/", bad) == 401, "bad token not refused")
        e2e.check(status(gated.port, "/static/hello.txt", good) == 200, "static not allowed")
        e2e.check(status(plain.port, "/static/hello.txt", good) == 200, "static not served")
        for label, port in (("mod_drfgate refuses", gated.port),
                            ("mod_wsgi + DRF refuses", plain.port)):
            r = wrk(port, "/api/token-ia/", bad, 16, args.seconds)
            e2e.check(r["non2xx"] == r["total"], f"{label}: not all refused: {r}")
            rows.append(("bad token, 16 connections", label, r))
        for label, port, headers in (("with mod_drfgate (Token, cached)", gated.port, good),
                                     ("without module", plain.port, [])):
            r = wrk(port, "/static/hello.txt", headers, 1, args.seconds)
            e2e.check(r["non2xx"] == 0, f"{label}: refused: {r}")
            rows.append(("static file, 1 connection", label, r))
    print("| Request | Server | Requests/s | p50 | p99 |")
    print("|---|---|---:|---:|---:|")
    for what, label, r in rows:
        print(f"| {what} | {label} | {r['rps']:,.0f} | {r['p50']} | {r['p99']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

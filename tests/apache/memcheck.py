#!/usr/bin/python3
"""Valgrind memcheck of Apache with mod_drfgate (not part of `make test`: about a minute).

Runs `apache2 -X` (one process, no children) under valgrind, sends allowed, refused, HEAD,
TRACE and static-file requests through the module, stops it, and fails on any memcheck error in
the Apache process (mod_wsgi's daemon is not traced). Needs what e2e.py needs, plus valgrind.
Basic logins are left out: PBKDF2 at 1,000,000 iterations takes about a minute under valgrind.
"""
import os
import signal
import subprocess
import sys
import time

import e2e

REQUESTS = [
    ("GET", "/api/whoami/", [("Authorization", "Token abcd1234")], 200),
    ("GET", "/api/whoami/", [("Authorization", "Token nope")], 401),
    ("GET", "/api/token-ia/", [], 401),
    ("GET", "/static/hello.txt", [("Authorization", "Token abcd1234")], 200),
    ("HEAD", "/api/token-ia/", [], 401),
    ("TRACE", "/api/token-ia/", [], 401),
    ("OPTIONS", "/api/token-ia/", [("Authorization", "Token abcd1234")], 200),
]


def main():
    e2e.prepare_run_dir()
    apache = e2e.Apache("memcheck")
    apache.write()
    log_pattern = str(apache.dir / "valgrind.%p")
    process = subprocess.Popen(
        ["valgrind", "--error-exitcode=9", f"--log-file={log_pattern}",
         e2e.APACHE_BIN, "-X", "-f", str(apache.conf)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if e2e.request(apache.port, "GET", "/ready/", timeout=60).status == 404:
                    break
            except OSError:
                e2e.check(time.monotonic() < deadline, "apache under valgrind did not start")
                time.sleep(1)
        for _ in range(3):
            for method, path, headers, expected in REQUESTS:
                got = e2e.request(apache.port, method, path, headers, timeout=120).status
                e2e.check(got == expected, f"{method} {path}: {got} != {expected}")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=120)
    summaries = []
    for log in sorted(apache.dir.glob("valgrind.*")):
        summaries += [line for line in log.read_text().splitlines() if "ERROR SUMMARY" in line]
    print("\n".join(summaries))
    e2e.check(summaries and all(" 0 errors" in s for s in summaries), f"memcheck errors: see {apache.dir}")
    print("memcheck: no errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())

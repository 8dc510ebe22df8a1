#!/usr/bin/env python3
"""Every fenced snippet in README.md and docs/*.md is exercised, or listed here as not run.

Usage: check_snippets.py [--drfgate BIN] [--apache-module SO] [--nginx-module SO] [--self-test] [--keep] [-v] [FILE.md ...]

`make docs-check` runs it (and `make test` runs that). Standard library only; the Python
snippets are imported with the venv's Django (`.venv/bin/python`).

What each fence language gets:

  toml      Loaded by `drfgate check --config` (so the database is opened too). A snippet
            without a [django] table gets one appended (`DATABASE` = the demo database);
            the placeholder `sqlite:///srv/app/db.sqlite3` is replaced by the demo database.
            A snippet whose first line is `# NAME.toml` is a file the page's commands use:
            it is written, as it is, into the page's working folder, and a later `console`
            or `sh` block of the same page must name it.
  console   `$ command` lines are run with bash in the page's working folder (a scratch
            folder whose entries link to the repository's top level, plus the page's named
            files), `drfgate` being the binary under test; stdout and stderr together must
            equal the lines shown under the command. In the shown output, a line `...` stands
            for any number of lines, and a `date:` header matches any date. `drfgate serve
            ... [2>&1] &` is started in the background on a free port (the shown port is
            swapped in the block's later commands and back in their output) and stopped at the
            block's end; the lines shown under it must be its first lines on stdout (and
            stderr, with `2>&1`). `curl` needs such a server started earlier in the block.
  sh        Checked with `bash -n`; each command is then run (exit status 0) when it is a
            `drfgate check`/`explain` command, and otherwise must be listed in NOT_RUN with
            the reason. `make` commands are also dry-run (`make -n`), so a renamed target
            fails.
  apache    `apache2 -t` on a minimal server config that includes the snippet (mod_drfgate
            loaded from build/apache/.libs when the snippet uses a Drfgate directive;
            /etc/drfgate/drfgate.toml is the demo config).
  nginx     `nginx -t` on a minimal config (ngx_http_drfgate_module loaded from build/nginx,
            with `thread_pool drfgate` and the demo config, when the snippet uses a drfgate
            directive); a snippet of `location`s is put in a `server`,
            one of `server`s/`upstream`s in `http`.
  c         `cc -fsyntax-only` against include/drfgate.h; a fragment without `main` is put in
            a function `void snippet(const char *path, const char *auth)`.
  python    Compiled, executed, and every dotted class name in it imported under the
            reference project's settings (tests/django), with examples/apache and examples/nginx
            on the path.
  rust      Must start with `// from PATH`: its lines (split at `// …`) must appear, in order,
            in that file, which `cargo test` compiles (crates/drfgate-tower/examples/orders.rs is an example
            of drfgate-tower).
  Any block whose first line is `# from PATH` (`//`, `;`) is also checked to be an excerpt
  of that file.

Anything else (caddyfile, yaml, text, no language) must be in NOT_RUN with the reason. An
unlisted snippet that cannot be run fails, and so does a NOT_RUN entry that matches nothing.
Relative links must point at files that exist (and anchors at headings).
`--self-test` first checks that each kind of wrong snippet does fail (`make docs-check` runs it).

A missing tool or fixture fails, unless DRFGATE_SKIP (comma-separated) names it: `apache`
(apache2 and the module), `nginx`, `cc`, `django` (the venv and the demo database).
"""

import argparse
import os
import queue
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_DB = ROOT / ".demo" / "db.sqlite3"
DEMO_CONFIG = ROOT / "examples" / "demo" / "drfgate.toml"
PLACEHOLDER_DB = "sqlite:///srv/app/db.sqlite3"
# Paths a snippet names that are the reader's, and what the check uses in their place.
PATH_STANDINS = {"/etc/drfgate/drfgate.toml": str(DEMO_CONFIG)}

# A snippet configuring a PostgreSQL or MariaDB database (README's production setup) is loaded
# against the local server's Django-made fixture (`make fixture-engines`): the reader's host,
# port, database, user, password source and TLS settings are swapped for the local ones, line for
# line, and every other key is loaded as written.
SERVER_STANDINS = {
    "postgres": {"NAME": "drfgate_fixture", "USER": "postgres", "HOST": "127.0.0.1", "PORT": "5432",
                 "OPTIONS": '{ sslmode = "prefer" }',
                 "URL": "postgres://postgres@127.0.0.1:5432/drfgate_fixture"},
    "mysql": {"NAME": "drfgate_fixture", "USER": "root", "HOST": "127.0.0.1", "PORT": "3306",
              "OPTIONS": '{ ssl_mode = "DISABLED" }',
              "URL": "mysql://root@127.0.0.1:3306/drfgate_fixture"},
}
SERVER_ENGINES = {"django.db.backends.postgresql": "postgres", "django.db.backends.mysql": "mysql"}
# Query keys of a URL that name the reader's TLS files or password, dropped on the local server.
SERVER_URL_DROPPED = {"sslmode", "ssl_mode", "sslrootcert", "ssl_ca", "password_file", "password_env"}


def on_local_server(text):
    """(engine, text) with the database settings swapped for the local fixture's, or (None, text)
    when the snippet names no server database."""
    m = re.search(r'^ENGINE\s*=\s*"([^"]+)"', text, re.M)
    engine = SERVER_ENGINES.get(m.group(1)) if m else None
    if engine:
        standin = SERVER_STANDINS[engine]

        def swap(line):
            key = re.match(r"^\s*([A-Z_]+)\s*=", line)
            if not key:
                return line
            name = key.group(1)
            if name in ("NAME", "USER", "HOST"):
                return f'{name} = "{standin[name]}"'
            if name == "PORT":
                return f"PORT = {standin['PORT']}"
            if name == "OPTIONS":
                return f"OPTIONS = {standin['OPTIONS']}"
            if name in ("PASSWORD", "PASSWORD_FILE", "PASSWORD_ENV"):
                return "# (no password on the local test server)"
            return line

        return engine, "\n".join(swap(line) for line in text.split("\n"))
    m = re.search(r'^DATABASE\s*=\s*"((postgres|postgresql|mysql)://[^"]*)"', text, re.M)
    if not m:
        return None, text
    engine = "mysql" if m.group(2) == "mysql" else "postgres"
    query = m.group(1).partition("?")[2]
    kept = "&".join(p for p in query.split("&") if p and p.split("=")[0] not in SERVER_URL_DROPPED)
    url = SERVER_STANDINS[engine]["URL"] + (f"?{kept}" if kept else "")
    return engine, text[:m.start(1)] + url + text[m.end(1):]


# What is not run, and why: (page, language, what, reason). For an `sh` block `what` is one
# command, compared after shlex-splitting (spacing and trailing comments do not matter); for
# any other block it is the start of the block's first line. An entry that matches nothing
# fails the check, so the list stays the list of what is really not run.
NOT_RUN = [
    ("README.md", "sh", "make demo",
     "serves until Ctrl-C; scripts/demo.sh is the demo, the commands it shows are run in "
     "docs/command.md and docs/troubleshooting.md"),
    ("README.md", "sh", "make test",
     "the test command itself: .ci/run runs it, and it runs this check (the check also "
     "asserts that .ci/run calls exactly this command)"),
    ("docs/command.md", "text", "drfgate check   --config drfgate.toml",
     "a synopsis with placeholders; the `drfgate explain --help` shown on the same page is run"),
    ("README.md", "sh", "pip install ./python/drfgate-django",
     "installs into a project's venv; make test-django-pkg pip-installs it into build/venv-django42"),
    ("README.md", "sh", "python manage.py drfgate_export --output drfgate.toml",
     "needs a Django project; make test-django-pkg runs it on the sample project"),
    ("README.md", "sh", "python manage.py drfgate_export --check drfgate.toml",
     "needs a Django project; make test-django-pkg runs --check (python/drfgate-django/tests/test_check.py)"),
    ("docs/django.md", "sh", "pip install ./python/drfgate-django",
     "installs into a project's venv; make test-django-pkg pip-installs it into build/venv-django42"),
    ("docs/django.md", "sh", "python manage.py drfgate_export --output drfgate.toml",
     "needs a Django project; make test-django-pkg runs it on the sample project, and "
     "make differential on the reference project (tests/django)"),
    ("docs/django.md", "sh", "python manage.py drfgate_export --check drfgate.toml",
     "needs a Django project; make test-django-pkg runs --check (python/drfgate-django/tests/test_check.py)"),
    ("docs/forward-auth.md", "caddyfile", "forward_auth 127.0.0.1:9180 {",
     "Caddy is not packaged in Debian 12; examples/caddy/Caddyfile is untested too"),
    ("docs/forward-auth.md", "yaml", "http:",
     "Traefik is not packaged in Debian 12"),
    ("docs/tower.md", "sh", "make demo-db",
     "a prerequisite of make docs-check (and make test), so already made"),
    ("docs/tower.md", "sh", "cargo run -p drfgate-tower --example orders -- examples/demo/drfgate.toml 127.0.0.1:9181",
     "serves until Ctrl-C; crates/drfgate-tower/tests/axum_example.rs tests the same app "
     "in-process (cargo test)"),
    ("docs/tower.md", "sh", "curl -i -H 'Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b' http://127.0.0.1:9181/api/orders/",
     "needs the example above running; axum_example.rs sends the same request"),
    ("docs/c-library.md", "sh", "make",
     "a release build of the workspace (minutes); make test builds the same crates in debug"),
    ("docs/c-library.md", "sh", "make install PREFIX=/usr/local DESTDIR=/tmp/stage",
     "a release build; make test's c-abi-example-test runs the same install into a staging "
     "DESTDIR (debug profile)"),
    ("docs/c-library.md", "sh", "make uninstall PREFIX=/usr/local DESTDIR=/tmp/stage",
     "pairs with the install above; c-abi-example-test uninstalls and checks nothing is left"),
    ("docs/c-library.md", "sh", "cc app.c $(pkg-config --cflags --libs drfgate)",
     "app.c is the reader's program; c-abi-example-test builds examples/c this way"),
    ("docs/c-library.md", "sh", "cc app.c -Wl,-Bstatic $(pkg-config --static --cflags --libs drfgate)",
     "app.c is the reader's program; c-abi-example-test builds examples/c this way"),
    ("docs/apache.md", "sh", "apt-get install apache2 apache2-dev libapache2-mod-wsgi-py3",
     "installs packages; tests/apache/install-deps.sh installs the same ones for make test"),
    ("docs/apache.md", "sh", "make install-apache",
     "writes into the system's Apache; make test builds the same module (apache-module) and "
     "runs it from build/apache"),
    ("docs/apache.md", "sh", "a2enmod drfgate wsgi",
     "changes the system's Apache config; the Apache tests use a private ServerRoot"),
    ("docs/nginx.md", "sh", "apt-get install nginx nginx-dev",
     "installs packages; tests/nginx/install-deps.sh installs the same ones for make test"),
    ("docs/nginx.md", "sh", "make nginx-module",
     "a release build of libdrfgate (minutes); make test builds the same module from the debug "
     "library (NGINX_PROFILE=debug)"),
    ("docs/nginx.md", "sh", "make install-nginx",
     "writes into the system's nginx; make test runs it with DESTDIR and into directories of "
     "its own, then nginx -t loads what it installed (tests/nginx/e2e.py, install)"),
    ("docs/nginx.md", "sh", "make test-nginx-module",
     "root, ≈ 30 s; make test runs it"),
    ("docs/nginx.md", "text", "load_module modules/ngx_http_drfgate_module.so;",
     "main-context directives; tests/nginx/e2e.py and this check load the module and declare "
     "the pool exactly so"),
    ("docs/apache.md", "sh", "make test-apache",
     "≈ 1.5 min, root; make test runs its quick part (test-apache-quick)"),
]

APACHE_MODULES = "/usr/lib/apache2/modules"
# Loaded (when present) for every Apache snippet, so that ordinary directives parse.
APACHE_BASE_MODULES = [
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("authz_host_module", "mod_authz_host.so"),
    ("authz_user_module", "mod_authz_user.so"),
    ("authn_core_module", "mod_authn_core.so"),
    ("authn_file_module", "mod_authn_file.so"),
    ("auth_basic_module", "mod_auth_basic.so"),
    ("alias_module", "mod_alias.so"),
    ("rewrite_module", "mod_rewrite.so"),
    ("headers_module", "mod_headers.so"),
    ("log_config_module", "mod_log_config.so"),
    ("mime_module", "mod_mime.so"),
    ("proxy_module", "mod_proxy.so"),
    ("proxy_http_module", "mod_proxy_http.so"),
    ("wsgi_module", "mod_wsgi.so"),
]


class Failure(Exception):
    pass


@dataclass
class Block:
    page: str
    line: int
    lang: str
    text: str
    info: str = ""

    @property
    def lines(self):
        return self.text.split("\n")

    @property
    def first_line(self):
        return next((l.strip() for l in self.lines if l.strip()), "")

    def where(self):
        return f"{self.page}:{self.line}"


@dataclass
class Report:
    run: list = field(default_factory=list)  # (where, what)
    not_run: list = field(default_factory=list)  # (where, what, reason)
    skipped: list = field(default_factory=list)  # (where, why)
    failures: list = field(default_factory=list)  # (where, message)


def skip_names():
    names = {n.strip() for n in os.environ.get("DRFGATE_SKIP", "").split(",") if n.strip()}
    known = {"apache", "nginx", "cc", "django", "valgrind", "postgres", "mysql"}
    unknown = names - known
    if unknown:
        raise SystemExit(f"DRFGATE_SKIP: unknown name(s) {sorted(unknown)}; the names are {sorted(known)}")
    return names


SKIP = set()


def need(name, ok, what):
    """True when the tool/fixture is there; False when DRFGATE_SKIP names it; else fails."""
    if name in SKIP:
        return False
    if not ok:
        raise Failure(f"missing {what}; to skip the snippets that need it, set DRFGATE_SKIP={name}")
    return True


# ---------------------------------------------------------------------------------------
# Extraction

FENCE_RE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")


def page_name(path):
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def extract(path):
    page = page_name(path)
    blocks = []
    lines = path.read_text(encoding="utf-8").split("\n")
    i = 0
    while i < len(lines):
        m = FENCE_RE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m.group(1), m.group(2), m.group(3).strip()
        start = i + 1
        body = []
        i += 1
        while i < len(lines):
            close = lines[i].strip()
            if close.startswith(fence[0] * len(fence)) and set(close) == {fence[0]}:
                break
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        else:
            raise Failure(f"{page}:{start}: unclosed code fence")
        lang = info.split()[0].lower() if info else ""
        blocks.append(Block(page, start, lang, "\n".join(body), info))
        i += 1
    return blocks


# ---------------------------------------------------------------------------------------
# Helpers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv, cwd=None, env=None, timeout=60, input_text=None):
    return subprocess.run(argv, cwd=cwd, env=env, input=input_text, capture_output=True,
                          text=True, timeout=timeout)


def excerpt_source(block):
    """`# from PATH` / `// from PATH` on the first line: the file the snippet is part of."""
    m = re.match(r"^\s*(?:#|//|;|/\*)\s*from\s+(\S+?)(?:\s*\*/)?\s*$", block.lines[0])
    return m.group(1) if m else None


ELISION_RE = re.compile(r"^\s*(?:(?:#|//|;)\s*)?(?:…|\.\.\.)\s*$")


def check_excerpt(block, source):
    path = ROOT / source
    if not path.is_file():
        raise Failure(f"`from {source}`: no such file")
    file_lines = [l.strip() for l in path.read_text(encoding="utf-8").split("\n")]
    chunks, chunk = [], []
    for line in block.lines[1:]:
        if ELISION_RE.match(line):
            if chunk:
                chunks.append(chunk)
            chunk = []
        else:
            chunk.append(line.strip())
    if chunk:
        chunks.append(chunk)
    pos = 0
    for chunk in chunks:
        while chunk and not chunk[-1]:
            chunk.pop()
        found = None
        for i in range(pos, len(file_lines) - len(chunk) + 1):
            if file_lines[i:i + len(chunk)] == chunk:
                found = i
                break
        if found is None:
            raise Failure(f"not an excerpt of {source}: these lines are not in it (in this order):\n"
                          + "\n".join("    " + l for l in chunk))
        pos = found + len(chunk)


def command_key(command):
    try:
        return " ".join(shlex.split(command, comments=True))
    except ValueError:
        return command.strip()


def sh_commands(text):
    """The commands of a shell snippet: lines joined at trailing backslashes, comments and
    blank lines dropped."""
    commands, current = [], ""
    for line in text.split("\n"):
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if command_key(current):
            commands.append(current.strip())
        current = ""
    return commands


# ---------------------------------------------------------------------------------------
# The checker

class Checker:
    def __init__(self, args):
        self.args = args
        self.drfgate = Path(args.drfgate).resolve()
        self.report = Report()
        self.not_run = {(p, l, command_key(k) if l == "sh" else k): r for p, l, k, r in NOT_RUN}
        self.not_run_used = set()
        self.scratch_root = Path(tempfile.mkdtemp(prefix="drfgate-docs-"))
        self.page_dir = None
        self.named = {}  # name -> Block, for the current page
        self.named_used = set()

    # -- pages -------------------------------------------------------------------------

    def check_page(self, path, blocks):
        page = page_name(path)
        self.page_dir = self.scratch_root / re.sub(r"[^\w.-]", "_", page)
        self.page_dir.mkdir()
        for entry in ROOT.iterdir():
            if entry.name not in (".git",):
                (self.page_dir / entry.name).symlink_to(entry)
        self.named, self.named_used = {}, set()
        for block in blocks:
            try:
                self.check_block(block)
            except Failure as e:
                self.report.failures.append((block.where(), str(e)))
            except subprocess.TimeoutExpired as e:
                self.report.failures.append((block.where(), f"timed out: {e.cmd}"))
        for name, block in self.named.items():
            if name not in self.named_used:
                self.report.failures.append(
                    (block.where(), f"{name} is a named file (`# {name}`) that no command of the page uses"))

    def listed(self, block, key):
        """The reason a snippet is not run: a command of an `sh` block is listed as it is, any
        other block by the start of its first line."""
        for listed_key, reason in self.not_run.items():
            page, lang, text = listed_key
            if (page, lang) == (block.page, block.lang) and (
                    text == key if lang == "sh" else key.startswith(text)):
                self.not_run_used.add(listed_key)
                return reason
        return None

    def check_block(self, block):
        source = excerpt_source(block)
        if source:
            check_excerpt(block, source)
            self.report.run.append((block.where(), f"{block.lang}: excerpt of {source}"))
        handler = getattr(self, "lang_" + block.lang, None)
        if handler is None:
            reason = self.listed(block, block.first_line)
            if reason is None:
                raise Failure(f"a ```{block.lang or '(no language)'} block nobody checks: make it a checked "
                              "language, or list it in NOT_RUN (tests/docs/check_snippets.py) with the reason")
            self.report.not_run.append((block.where(), f"{block.lang}: {block.first_line}", reason))
            return
        handler(block)

    # -- toml --------------------------------------------------------------------------

    def lang_toml(self, block):
        m = re.match(r"^#\s*([\w.-]+\.toml)\s*$", block.lines[0])
        if m:
            name = m.group(1)
            if name in self.named:
                raise Failure(f"{name} is named twice on this page")
            self.named[name] = block
            (self.page_dir / name).write_text(block.text + "\n", encoding="utf-8")
            return
        if not need("django", DEMO_DB.is_file(), f"the demo database {DEMO_DB} (make demo-db)"):
            self.report.skipped.append((block.where(), "toml: DRFGATE_SKIP=django"))
            return
        text = block.text.replace(PLACEHOLDER_DB, f"sqlite://{DEMO_DB}")
        engine, text = on_local_server(text)
        if engine:
            fixture = ROOT / "build" / "engines" / engine / "fixture.json"
            if not need(engine, fixture.is_file(),
                        f"the {engine} fixture {fixture} (make fixture-engines)"):
                self.report.skipped.append((block.where(), f"toml: DRFGATE_SKIP={engine}"))
                return
        if not re.search(r"^\[django\]\s*(#.*)?$", text, re.M):
            # Appended, not prepended, so the snippet's line numbers stay the file's.
            text += f'\n\n[django]\nDATABASE = "sqlite://{DEMO_DB}"\n'
        config = self.page_dir / f"snippet-{block.line}.toml"
        config.write_text(text, encoding="utf-8")
        result = run([str(self.drfgate), "check", "--config", config.name], cwd=self.page_dir)
        if result.returncode != 0:
            raise Failure(f"drfgate check refused it (status {result.returncode}):\n{result.stderr}{result.stdout}")
        self.report.run.append((block.where(), "toml: drfgate check"
                                + (f" on the local {engine} server" if engine else "")))

    # -- shell -------------------------------------------------------------------------

    def env(self):
        env = dict(os.environ)
        env["PATH"] = f"{self.drfgate.parent}{os.pathsep}{env.get('PATH', '')}"
        for name in ("DRFGATE_LOG", "MAKEFLAGS", "MAKELEVEL", "MFLAGS"):
            env.pop(name, None)
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        return env

    def note_named_files(self, command):
        for name in self.named:
            if re.search(rf"(?<![\w./-]){re.escape(name)}(?![\w.-])", command):
                self.named_used.add(name)

    def lang_sh(self, block):
        result = run(["bash", "-n"], input_text=block.text + "\n")
        if result.returncode != 0:
            raise Failure(f"bash -n: {result.stderr}")
        for command in sh_commands(block.text):
            key = command_key(command)
            self.note_named_files(command)
            argv = shlex.split(command, comments=True)
            if argv[:1] == ["drfgate"] and argv[1:2] in (["check"], ["explain"]):
                if not need("django", DEMO_DB.is_file(), f"the demo database {DEMO_DB} (make demo-db)"):
                    self.report.skipped.append((block.where(), f"sh: {key}: DRFGATE_SKIP=django"))
                    continue
                result = run(["bash", "-c", command], cwd=self.page_dir, env=self.env())
                if result.returncode != 0:
                    raise Failure(f"`{command}` exited {result.returncode}:\n{result.stdout}{result.stderr}")
                self.report.run.append((block.where(), f"sh: {key}"))
                continue
            reason = self.listed(block, key)
            if reason is None:
                raise Failure(f"`{key}` is neither run by this check nor listed in NOT_RUN "
                              "(tests/docs/check_snippets.py) with the reason")
            if argv[:1] == ["make"]:
                dry = run(["make", "-n", *argv[1:]], cwd=ROOT, env=self.env(), timeout=120)
                if dry.returncode != 0:
                    raise Failure(f"`make -n {' '.join(argv[1:])}` failed:\n{dry.stderr[-2000:]}")
                reason += " [make -n: ok]"
            self.report.not_run.append((block.where(), f"sh: {key}", reason))

    def lang_console(self, block):
        if not need("django", DEMO_DB.is_file(), f"the demo database {DEMO_DB} (make demo-db)"):
            self.report.skipped.append((block.where(), "console: DRFGATE_SKIP=django"))
            self.note_named_files(block.text)
            return
        steps = []  # (command, expected lines)
        for line in block.lines:
            if line.startswith("$ "):
                steps.append([line[2:], []])
            elif steps and steps[-1][0].rstrip().endswith("\\") and not steps[-1][1]:
                steps[-1][0] = steps[-1][0].rstrip()[:-1] + " " + line.strip()
            elif steps:
                steps[-1][1].append(line)
            elif line.strip():
                raise Failure("a console block starts with output: begin it with `$ command`")
        if not steps:
            raise Failure("a console block without a `$ command`")
        ports = {}  # the port shown -> the port used
        servers = []
        try:
            for command, expected in steps:
                self.note_named_files(command)
                shown = command
                for doc_port, port in ports.items():
                    command = command.replace(f"127.0.0.1:{doc_port}", f"127.0.0.1:{port}")
                argv = shlex.split(command, comments=True)
                if argv[:2] == ["drfgate", "serve"] and command.rstrip().endswith("&"):
                    self.start_server(shown, argv, expected, ports, servers)
                    continue
                if "curl" in argv and not servers:
                    raise Failure(f"`{shown}`: start `drfgate serve ... &` earlier in the block")
                result = subprocess.run(["bash", "-c", command], cwd=self.page_dir, env=self.env(),
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, timeout=60)
                actual = result.stdout
                for doc_port, port in ports.items():
                    actual = actual.replace(f"127.0.0.1:{port}", f"127.0.0.1:{doc_port}")
                compare_output(shown, expected, actual)
                self.report.run.append((block.where(), f"console: {command_key(shown)}"))
        finally:
            for process, log in servers:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                log.close()

    def start_server(self, shown, argv, expected, ports, servers):
        """`drfgate serve ... [2>&1] &`: started on a free port; its first lines on stdout (and
        stderr, with `2>&1`) must be the lines the page shows, if it shows any."""
        merged = "2>&1" in argv
        argv = [a for a in argv if a not in ("&", "2>&1")]
        listen = None
        for i, a in enumerate(argv):
            if a in ("--listen", "-l") and i + 1 < len(argv):
                listen = i + 1
        if listen is None:
            argv += ["--listen", "127.0.0.1:9180"]
            listen = len(argv) - 1
        doc_port = argv[listen].rsplit(":", 1)[1]
        port = free_port()
        ports[doc_port] = port
        argv[listen] = f"127.0.0.1:{port}"
        argv[0] = str(self.drfgate)
        log = open(self.page_dir / f"serve-{port}.log", "w+")
        process = subprocess.Popen(argv, cwd=self.page_dir, env=self.env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT if merged else log, text=True)
        servers.append((process, log))
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in process.stdout], daemon=True).start()
        want = [l.rstrip() for l in expected]
        while want and not want[-1]:
            want.pop()
        got = []
        deadline = time.monotonic() + 10
        while len(got) < max(1, len(want)):
            try:
                got.append(lines.get(timeout=max(0.1, deadline - time.monotonic())).rstrip("\n"))
            except queue.Empty:
                log.seek(0)
                raise Failure(f"`{shown}` printed {got!r} and no more in 10 s\n{log.read()}")
        got = [l.replace(f"127.0.0.1:{port}", f"127.0.0.1:{doc_port}") for l in got]
        if not any(l.startswith("drfgate serve: listening on") for l in got):
            log.seek(0)
            raise Failure(f"`{shown}` did not start:\n" + "\n".join(got) + "\n" + log.read())
        if want:
            compare_output(shown, want, "\n".join(got))
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise Failure(f"`{shown}`: nothing listens on port {port}")
                time.sleep(0.05)

    # -- web servers -------------------------------------------------------------------

    def lang_apache(self, block):
        apache2 = shutil.which("apache2") or "/usr/sbin/apache2"
        uses_module = bool(re.search(r"^\s*<?Drfgate", block.text, re.M | re.I))
        module = Path(self.args.apache_module)
        if not need("apache", Path(apache2).exists(), "apache2 (apt-get install apache2)"):
            self.report.skipped.append((block.where(), "apache: DRFGATE_SKIP=apache"))
            return
        if uses_module and not need("apache", module.is_file(),
                                    f"{module} (APACHE_PROFILE=debug make apache-module)"):
            self.report.skipped.append((block.where(), "apache: DRFGATE_SKIP=apache"))
            return
        run_dir = self.page_dir / f"apache-{block.line}"
        run_dir.mkdir()
        text = block.text
        for placeholder, real in PATH_STANDINS.items():
            text = text.replace(placeholder, real)
        (run_dir / "snippet.conf").write_text(text + "\n", encoding="utf-8")
        conf = [
            f'ServerRoot "{run_dir}"',
            f"PidFile {run_dir}/httpd.pid",
            f"ErrorLog {run_dir}/error.log",
            f"Define APACHE_LOG_DIR {run_dir}",
            f"Listen 127.0.0.1:{free_port()}",
        ]
        for name, so in APACHE_BASE_MODULES:
            if Path(APACHE_MODULES, so).exists():
                conf.append(f"LoadModule {name} {APACHE_MODULES}/{so}")
        if uses_module:
            conf.append(f"LoadModule drfgate_module {module}")
        conf.append(f"Include {run_dir}/snippet.conf")
        (run_dir / "httpd.conf").write_text("\n".join(conf) + "\n", encoding="utf-8")
        result = run([apache2, "-t", "-f", str(run_dir / "httpd.conf")], cwd=run_dir)
        if result.returncode != 0:
            raise Failure(f"apache2 -t:\n{result.stderr}{result.stdout}")
        self.report.run.append((block.where(), "apache: apache2 -t" + (" with mod_drfgate" if uses_module else "")))

    def lang_nginx(self, block):
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not need("nginx", Path(nginx).exists(), "nginx (apt-get install nginx)"):
            self.report.skipped.append((block.where(), "nginx: DRFGATE_SKIP=nginx"))
            return
        uses_module = bool(re.search(r"^\s*drfgate(_\w+)?\s", block.text, re.M))
        module = Path(self.args.nginx_module)
        if uses_module and not need("nginx", module.is_file(),
                                    f"{module} (make nginx-module NGINX_PROFILE=debug)"):
            self.report.skipped.append((block.where(), "nginx: DRFGATE_SKIP=nginx"))
            return
        run_dir = self.page_dir / f"nginx-{block.line}"
        (run_dir / "temp").mkdir(parents=True)
        first = re.sub(r"#.*", "", block.text).split()
        context = first[0] if first else ""
        port = free_port()
        text = re.sub(r"^(\s*)listen\s+80;", rf"\1listen 127.0.0.1:{port};", block.text, flags=re.M)
        for placeholder, real in PATH_STANDINS.items():
            text = text.replace(placeholder, real)
        if context == "location":
            body = f"server {{\n    listen 127.0.0.1:{port};\n{text}\n}}"
        elif context in ("server", "upstream", "map", "include", "drfgate_config",
                         "drfgate_thread_pool"):
            body = text
        else:
            raise Failure(f"nginx snippet starting with {context!r}: expected location, server or upstream")
        main = ""
        if uses_module:
            # The module, the pool the pages name, and a config when the snippet has none.
            main = f"load_module {module};\nthread_pool drfgate threads=2;\n"
            if not re.search(r"^\s*drfgate_config\s", text, re.M):
                body = f"drfgate_config {DEMO_CONFIG};\n{body}"
        conf = f"""{main}pid {run_dir}/nginx.pid;
error_log {run_dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {run_dir}/temp/body;
    proxy_temp_path {run_dir}/temp/proxy;
    fastcgi_temp_path {run_dir}/temp/fastcgi;
    uwsgi_temp_path {run_dir}/temp/uwsgi;
    scgi_temp_path {run_dir}/temp/scgi;
{body}
}}
"""
        (run_dir / "nginx.conf").write_text(conf, encoding="utf-8")
        result = run([nginx, "-t", "-q", "-p", str(run_dir), "-c", str(run_dir / "nginx.conf")])
        if result.returncode != 0:
            raise Failure(f"nginx -t:\n{result.stderr}{result.stdout}")
        self.report.run.append((block.where(), f"nginx: nginx -t ({context})"
                                + (" with ngx_http_drfgate_module" if uses_module else "")))

    # -- languages ---------------------------------------------------------------------

    def lang_c(self, block):
        cc = os.environ.get("CC", "cc")
        if not need("cc", shutil.which(cc), f"a C compiler ({cc})"):
            self.report.skipped.append((block.where(), "c: DRFGATE_SKIP=cc"))
            return
        text = block.text
        if not re.search(r"\bmain\s*\(", text):
            text = ("#include <stdint.h>\n#include <string.h>\n#include <drfgate.h>\n"
                    "void snippet(const char *path, const char *auth);\n"
                    "void snippet(const char *path, const char *auth) {\n"
                    f"#line 1 \"{block.page}:{block.line}\"\n{text}\n}}\n")
        source = self.page_dir / f"snippet-{block.line}.c"
        source.write_text(text, encoding="utf-8")
        result = run([cc, "-fsyntax-only", "-std=c11", "-Wall", "-Wno-unused-variable",
                      f"-I{ROOT / 'include'}", str(source)])
        if result.returncode != 0 or "warning:" in result.stderr:
            raise Failure(f"{cc} -fsyntax-only:\n{result.stderr}")
        self.report.run.append((block.where(), f"c: {cc} -fsyntax-only with drfgate.h"))

    def lang_python(self, block):
        try:
            compile(block.text, block.where(), "exec")
        except SyntaxError as e:
            raise Failure(f"python: {e}")
        python = ROOT / ".venv" / "bin" / "python"
        if not need("django", python.exists(), f"{python} with Django (make python-env)"):
            self.report.skipped.append((block.where(), "python: compiled only, DRFGATE_SKIP=django"))
            return
        probe = r"""
import os, re, sys
root = sys.argv[1]
sys.path[:0] = [os.path.join(root, "examples", "apache"), os.path.join(root, "examples", "nginx"),
               os.path.join(root, "tests", "django")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refproj.settings")
os.environ.setdefault("DRFGATE_DJANGO_DB", os.path.join(root, ".demo", "db.sqlite3"))
import django
django.setup()
from django.utils.module_loading import import_string
namespace = {}
exec(compile(sys.stdin.read(), "snippet", "exec"), namespace)
names = []
def walk(value):
    if isinstance(value, str):
        if re.fullmatch(r"[A-Za-z_]\w*(\.\w+)+", value) and value.rsplit(".", 1)[1][:1].isupper():
            names.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            walk(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            walk(v)
for key, value in namespace.items():
    if not key.startswith("__"):
        walk(value)
for name in names:
    import_string(name)
print(len(names))
"""
        result = run([str(python), "-c", probe, str(ROOT)], input_text=block.text)
        if result.returncode != 0:
            raise Failure(f"python: executing it and importing its classes failed:\n{result.stderr[-3000:]}")
        self.report.run.append((block.where(), f"python: executed, {result.stdout.strip()} class names imported"))

    def lang_rust(self, block):
        if not excerpt_source(block):
            raise Failure("a rust snippet must start with `// from PATH`, PATH being a file cargo test "
                          "compiles (an example or a test), and be an excerpt of it")


def normalize(line):
    line = line.rstrip("\r").rstrip()
    return re.sub(r"^(date:\s*).*$", r"\1…", line, flags=re.I)


def compare_output(command, expected, actual):
    want = [normalize(l) for l in expected]
    got = [normalize(l) for l in actual.split("\n")]
    while want and not want[-1]:
        want.pop()
    while got and not got[-1]:
        got.pop()
    if not matches(want, got):
        raise Failure(f"`{command}`: the output differs from the page's.\n--- page\n"
                      + "\n".join(want) + "\n--- actual\n" + "\n".join(got))


def matches(want, got):
    if not want:
        return not got
    if want[0] == "...":
        return any(matches(want[1:], got[i:]) for i in range(len(got) + 1))
    return bool(got) and want[0] == got[0] and matches(want[1:], got[1:])

# Each of these must fail the check: proof that the check can fail for every kind of snippet.
SELF_TEST_CASES = {  # what: (the page, words of the failure it must cause)
    "an sh command neither run nor listed": (
        "```sh\ntouch /tmp/drfgate-docs-self-test\n```\n", "neither run by this check nor listed"),
    "a drfgate command that fails": (
        "```sh\ndrfgate check --config no-such-file.toml\n```\n", "exited 2"),
    "console output that differs": (
        "```console\n$ drfgate explain --config examples/demo/drfgate.toml /api/orders/\ndecision: allow\n```\n",
        "the output differs"),
    "curl without a server": (
        "```console\n$ curl -s http://127.0.0.1:9180/.drfgate/health\n{\"status\":\"ok\"}\n```\n",
        "start `drfgate serve"),
    "a config key that does not exist": ("```toml\n[cache]\nmax_entrie = 5\n```\n", "drfgate check refused it"),
    "a named config no command uses": (
        "```toml\n# unused.toml\n[gate]\nunmatched = \"deny\"\n```\n", "no command of the page uses"),
    "an nginx directive that does not exist": (
        "```nginx\nlocation / {\n    auth_requets /x;\n}\n```\n", "nginx -t"),
    "an Apache directive value mod_drfgate refuses": (
        "```apache\n<Location /api/>\n    Drfgate Maybe\n</Location>\n```\n", "apache2 -t"),
    "C that does not compile against drfgate.h": (
        "```c\ndrfgate_gate *gate = drfgate_no_such_call();\n```\n", "-fsyntax-only"),
    "Python naming a class that does not exist": (
        "```python\nAUTHENTICATION_BACKENDS = [\"django.contrib.auth.backends.NoSuchBackend\"]\n```\n",
        "importing its classes failed"),
    "Rust that is not an excerpt": ("```rust\nlet gate = 1;\n```\n", "must start with `// from PATH`"),
    "an excerpt of lines the file does not have": (
        "```rust\n// from crates/drfgate-tower/examples/orders.rs\nfn no_such_function() {}\n```\n", "not an excerpt of"),
    "a language nobody checks": ("```yaml\nkey: value\n```\n", "nobody checks"),
    "a link to a page that does not exist": ("See [the guide](no-such-page.md).\n", "no such file"),
}


def self_test(args):
    """Runs every SELF_TEST_CASES snippet on a page of its own; each must fail."""
    problems = []
    folder = Path(tempfile.mkdtemp(prefix="drfgate-docs-self-test-"))
    try:
        for i, (what, (text, expected)) in enumerate(SELF_TEST_CASES.items()):
            page = folder / f"case{i}.md"
            page.write_text(text, encoding="utf-8")
            checker = Checker(args)
            try:
                check_links(page, checker.report)
                checker.check_page(page, extract(page))
            finally:
                shutil.rmtree(checker.scratch_root, ignore_errors=True)
            if checker.report.skipped:
                continue
            messages = [message for _, message in checker.report.failures]
            if not any(expected in message for message in messages):
                problems.append(f"{what} (wanted a failure saying {expected!r}, got {messages!r})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return problems


LINK_RE = re.compile(r"\]\(([^)\s]+)\)")


def heading_anchors(path):
    """GitHub's anchors for a page's headings (outside code fences)."""
    anchors, fenced = set(), False
    for line in path.read_text(encoding="utf-8").split("\n"):
        if FENCE_RE.match(line):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            text = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return anchors


def check_links(path, report):
    """Relative links (outside code fences) point at files that exist, and anchors at headings."""
    fenced = False
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if FENCE_RE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        for target in LINK_RE.findall(line):
            if re.match(r"^[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            linked = (path.parent / file).resolve() if file else path
            where = f"{page_name(path)}:{number}"
            if not linked.exists():
                report.failures.append((where, f"link to {target}: no such file"))
            elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(linked):
                report.failures.append((where, f"link to {target}: no such heading"))


def check_ci_runs_readme_command(report):
    """The project rule: the README opens with the two commands, and .ci/run runs the second."""
    blocks = extract(ROOT / "README.md")
    first = blocks[0] if blocks else None
    commands = [command_key(c) for c in sh_commands(first.text)] if first and first.lang == "sh" else []
    if commands != ["make demo", "make test"]:
        report.failures.append(("README.md", f"the first snippet must be ```sh with `make demo` and `make test`, is {commands}"))
        return
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_commands = [l.strip() for l in ci.split("\n") if l.strip() and not l.strip().startswith("#")]
    if not ci_commands or ci_commands[-1] != "make test":
        report.failures.append((".ci/run", f"must end with the README's test command `make test`, ends with {ci_commands[-1:]}"))
        return
    report.run.append(("README.md", "the README opens with make demo / make test, .ci/run runs make test"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    parser.add_argument("--drfgate", default=str(target / "debug" / "drfgate"))
    parser.add_argument("--apache-module", default=str(ROOT / "build" / "apache" / ".libs" / "mod_drfgate.so"))
    parser.add_argument("--nginx-module", default=str(ROOT / "build" / "nginx" / "src" / "objs"
                                                      / "ngx_http_drfgate_module.so"))
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every snippet checked")
    parser.add_argument("--self-test", action="store_true",
                        help="first check that each kind of wrong snippet fails")
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()
    SKIP.update(skip_names())
    started = time.monotonic()
    if not Path(args.drfgate).is_file():
        raise SystemExit(f"docs-check: no drfgate binary at {args.drfgate} (cargo build -p drfgate-cli)")
    if args.self_test:
        problems = self_test(args)
        if problems:
            raise SystemExit("docs-check: self-test: these wrong snippets did not fail as they should: "
                             + "; ".join(problems))
        print(f"docs-check: self-test: all {len(SELF_TEST_CASES)} kinds of wrong snippet fail")
    files = [f.resolve() for f in args.files] or [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    checker = Checker(args)
    report = checker.report
    check_ci_runs_readme_command(report)
    count = 0
    try:
        for path in files:
            try:
                blocks = extract(path)
            except Failure as e:
                report.failures.append((str(path), str(e)))
                continue
            count += len(blocks)
            check_links(path, report)
            checker.check_page(path, blocks)
    finally:
        if args.keep or report.failures:
            print(f"docs-check: scratch folder kept: {checker.scratch_root}", file=sys.stderr)
        else:
            shutil.rmtree(checker.scratch_root, ignore_errors=True)
    if not args.files:
        for key in sorted(set(checker.not_run) - checker.not_run_used):
            report.failures.append(("tests/docs/check_snippets.py", f"NOT_RUN entry matches no snippet: {key}"))

    if args.verbose:
        for where, what in report.run:
            print(f"  ran      {where}: {what}")
    print(f"docs-check: {count} snippets in {len(files)} files; {len(report.run)} checks run, "
          f"{len(report.not_run)} not run (listed), {len(report.skipped)} skipped by DRFGATE_SKIP, "
          f"{len(report.failures)} failures ({time.monotonic() - started:.1f} s)")
    for where, what, reason in report.not_run:
        print(f"  not run  {where}: {what}\n           because: {reason}")
    for where, why in report.skipped:
        print(f"  skipped  {where}: {why}")
    for where, message in report.failures:
        print(f"FAIL {where}: {message}", file=sys.stderr)
    sys.exit(1 if report.failures else 0)


if __name__ == "__main__":
    main()

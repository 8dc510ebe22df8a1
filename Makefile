# drfgate — build, test, demo, bench. `make test` is what CI runs (.ci/run).

CARGO ?= cargo
PREFIX ?= /usr/local
DEMO_DB := $(CURDIR)/.demo/db.sqlite3
TARGET_DIR := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),$(CURDIR)/target)

comma := ,
include tests/django/django.mk
include tests/django/engines.mk
include crates/drfgate-ffi/c-abi.mk
include crates/drfgate-ffi/tsan.mk
include python/drfgate-django/django-pkg.mk
include fuzz/fuzz.mk

# The included files define targets of their own: `make` alone still means `make all`.
.DEFAULT_GOAL := all

.PHONY: build-deps all build lint test test-rust differential differential-paths test-nginx docs-check demo demo-db bench bench-core bench-check bench-baseline bench-tools bench-stores bench-serve bench-frontends bench-layer bench-scale clean

all: build

# The PostgreSQL and MySQL clients (on in the CLI and libdrfgate) link the system OpenSSL for
# database TLS: its headers and pkg-config must be there before the first cargo build.
build-deps:
	@scripts/debian-packages.sh build libssl-dev pkg-config

build: build-deps
	$(CARGO) build --release --workspace

lint: build-deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	# The core without its default features (no SQLite store) must still build.
	$(CARGO) clippy -p drfgate --no-default-features -- -D warnings

# The Django fixtures (a database made by `migrate`, real DRF's answers to the conformance
# table, the gate's configs for it) must exist: the Rust tests compare against them, and a
# missing fixture or tool fails a test unless DRFGATE_SKIP names it (docs/testing.md).
test: lint services fixture-db oracle gate-configs fixture-engines oracle-engines demo-db c-abi-debug-build c-test-tools cbindgen
	$(CARGO) test --workspace
	$(MAKE) --no-print-directory c-abi-example-test differential differential-engines test-revocation test-django-pkg test-nginx differential-paths docs-check fuzz-short bench-check

# Real DRF under gunicorn and `drfgate serve`, the same raw requests to both (tests/conformance/);
# the session body requests also through the tower Layer (path_proxy), which reads bodies.
differential: fixture-db python-env
	$(CARGO) build -p drfgate-cli
	$(CARGO) build -p drfgate-tower --example path_proxy
	$(DJANGO_MK_PYTHON) tests/conformance/differential.py --drfgate $(TARGET_DIR)/debug/drfgate \
		--layer-proxy $(TARGET_DIR)/debug/examples/path_proxy

# Path spellings through the Layer under hyper, through nginx + `drfgate serve` and through nginx +
# ngx_http_drfgate_module: the route the gate judged is the one Django resolved, and no request DRF refuses reaches a view
# (tests/paths/; Apache's runner is part of test-apache-quick). Installs nginx if missing.
differential-paths: fixture-db python-env
	$(CARGO) build -p drfgate-cli
	$(CARGO) build -p drfgate-tower --example path_proxy
	$(DJANGO_MK_PYTHON) tests/paths/differential.py --python $(DJANGO_MK_PYTHON) layer --proxy $(TARGET_DIR)/debug/examples/path_proxy
	$(DJANGO_MK_PYTHON) tests/paths/differential.py --python $(DJANGO_MK_PYTHON) nginx --drfgate $(TARGET_DIR)/debug/drfgate
	$(if $(NGINX_SKIPPED),,$(MAKE) --no-print-directory nginx-deps nginx-module NGINX_PROFILE=debug)
	$(DJANGO_MK_PYTHON) tests/paths/differential.py --python $(DJANGO_MK_PYTHON) module --module $(NGINX_MODULE)

# Debian's nginx in front of `drfgate serve` with examples/nginx/drfgate.conf.
test-nginx: demo-db
	$(CARGO) build -p drfgate-cli
	DRFGATE_BIN=$(TARGET_DIR)/debug/drfgate examples/nginx/test.sh

# Every fenced snippet of README.md and docs/*.md, exercised by its language: configs loaded,
# commands run and their output compared, apache2 -t / nginx -t, C and Python compiled, Rust
# excerpts matched to the files cargo test compiles (tests/docs/check_snippets.py, a few seconds).
# DRFGATE_SKIP=apache leaves out the Apache snippets (and the module build they need); nginx the same.
DOCS_SKIP_APACHE := $(filter apache,$(subst $(comma), ,$(DRFGATE_SKIP)))
DOCS_SKIP_NGINX := $(filter nginx,$(subst $(comma), ,$(DRFGATE_SKIP)))
docs-check: demo-db python-env $(if $(DOCS_SKIP_APACHE),,apache-deps)
	$(CARGO) build -p drfgate-cli
	$(if $(DOCS_SKIP_APACHE),,$(MAKE) --no-print-directory apache-module APACHE_PROFILE=debug)
	$(if $(DOCS_SKIP_NGINX),,$(MAKE) --no-print-directory nginx-deps nginx-module NGINX_PROFILE=debug)
	$(DJANGO_MK_PYTHON) tests/docs/check_snippets.py --self-test --drfgate $(TARGET_DIR)/debug/drfgate

demo-db: $(DEMO_DB)

$(DEMO_DB): $(DJANGO_MK_VENV_STAMP) examples/demo/make_demo_db.py
	$(DJANGO_MK_PYTHON) examples/demo/make_demo_db.py $@

demo: build demo-db
	./scripts/demo.sh

# Every benchmark, each writing its tables into BENCHMARKS.md with the machine's load at the time:
# the core (bench-core) and the front ends and scale (bench-frontends). Timings only: nothing
# here is in `make test` (bench-check, the callgrind guard, is).
bench: bench-core
	$(MAKE) --no-print-directory bench-frontends

# The core's criterion benches, then DRF's own figures for the same operations (same machine,
# same run), then the instruction counts of the hot paths and the front ends; written to
# BENCHMARKS.md ("The core: one `make bench` run"). The benches are named (not `cargo bench -p
# drfgate`) so that `scaling` runs once, in bench-scale.
CORE_BENCHES := decisions cache jwt cache_compare cache_compare_footprint
BENCH_CORE_RESULTS := $(CURDIR)/build/bench-core
bench-core: fixture-db bench-tools python-env
	rm -rf $(BENCH_CORE_RESULTS) && mkdir -p $(BENCH_CORE_RESULTS) && touch $(BENCH_CORE_RESULTS)/started
	cut -d' ' -f1-3 /proc/loadavg >$(BENCH_CORE_RESULTS)/load-before-core
	$(CARGO) bench -p drfgate $(addprefix --bench ,$(CORE_BENCHES))
	$(DJANGO_MK_PYTHON) bench/drf_baseline.py --results $(BENCH_CORE_RESULTS)
	cut -d' ' -f1-3 /proc/loadavg >$(BENCH_CORE_RESULTS)/load-after-core
	python3 bench/core_tables.py --results $(BENCH_CORE_RESULTS) --criterion $(TARGET_DIR)/criterion
	CARGO=$(CARGO) bench/instructions.sh table >$(BENCH_CORE_RESULTS)/instructions.md
	python3 bench/write_tables.py --section core --results $(BENCH_CORE_RESULTS)

# Issue 16's ratios, each in one run on this machine (BENCHMARKS.md, "Front ends and scale"):
# Apache's module vs mod_auth_basic and static with/without it, `serve` vs a minimal hyper server
# (and vs DRF under gunicorn), nginx's module vs `return 401`, the tower Layer vs the core, two
# threads vs one and bytes per entry. A front end in DRFGATE_SKIP (apache, nginx) is left out
# and its table says so. BENCH_SECONDS / BENCH_ROUNDS / BENCH_CONNECTIONS: bench/lib.sh.
BENCH_RESULTS := $(CURDIR)/build/bench
BENCH_SKIP := $(subst $(comma), ,$(DRFGATE_SKIP))
bench-frontends: fixture-db
	rm -rf $(BENCH_RESULTS)
	$(if $(filter apache,$(BENCH_SKIP)),,$(MAKE) --no-print-directory bench-apache)
	$(MAKE) --no-print-directory bench-serve
	$(if $(filter nginx,$(BENCH_SKIP)),,$(MAKE) --no-print-directory bench-nginx)
	$(MAKE) --no-print-directory bench-layer bench-scale
	python3 bench/write_tables.py --results $(BENCH_RESULTS)

bench-layer:
	$(CARGO) bench -p drfgate-tower --bench layer
	python3 bench/layer_overhead.py --results $(BENCH_RESULTS)

bench-scale:
	CARGO=$(CARGO) python3 bench/scale.py --results $(BENCH_RESULTS)

# Instructions per decision on the hot paths (cached Token and Basic allows, no credentials, an
# unknown token, the C ABI's decide), counted by callgrind and compared with
# bench/instructions-baseline.toml: more than 10 % growth fails, naming the path and both counts
# (bench/instructions.sh, about half a minute after the release build). `make bench-baseline`
# re-records the baseline, on purpose only. Valgrind and gcc are installed from Debian when missing.
bench-check: fixture-db bench-tools
	CARGO=$(CARGO) bench/instructions.sh check

bench-baseline: fixture-db bench-tools
	CARGO=$(CARGO) bench/instructions.sh record

bench-tools:
	@case ",$(DRFGATE_SKIP)," in *",valgrind,"*) ;; *) scripts/debian-packages.sh bench-check valgrind gcc;; esac

# A cold lookup (the store alone, cache miss) on SQLite, PostgreSQL and MariaDB against Django's
# ORM doing the same lookup on the same database, same run (bench/store_lookup.py, BENCHMARKS.md).
# The dev profile: the workspace builds the core at opt-level 2 and its dependencies at 3 there.
bench-stores: fixture-db fixture-engines
	$(CARGO) build -p drfgate --features postgres,mysql --example store_lookup
	$(DJANGO_MK_PYTHON) bench/store_lookup.py --store-lookup $(TARGET_DIR)/debug/examples/store_lookup

# Requests/s of `drfgate serve` against a minimal hyper server answering a fixed 200 and against
# DRF under gunicorn, with wrk (installed from Debian).
bench-serve: build-deps fixture-db
	@# Two builds: the example's dev-dependencies change features, and the drfgate binary must be
	@# the one bench-nginx builds (else each target rebuilds the other's).
	$(CARGO) build --release -p drfgate-cli --bin drfgate
	$(CARGO) build --release -p drfgate-cli --example fixed_200
	BENCH_RESULTS=$(BENCH_RESULTS) bench/serve.sh

clean:
	$(CARGO) clean
	rm -rf build .demo

# Apache httpd module (issue 5): apache-module, install-apache, test-apache.
include modules/apache/apache.mk

# nginx dynamic module (issue 13): nginx-module, install-nginx, test-nginx-module.
include modules/nginx/nginx.mk

# drfgate — build, test, demo, bench. `make test` is what CI runs (.ci/run).

CARGO ?= cargo
PREFIX ?= /usr/local
DEMO_DB := $(CURDIR)/.demo/db.sqlite3

include tests/django/django.mk

.PHONY: all build lint test test-rust demo demo-db bench clean

all: build

build:
	$(CARGO) build --release --workspace

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The Django fixtures (a database made by `migrate`, and real DRF's answers to the
# conformance table) must exist: the Rust tests compare against them.
test: lint fixture-db oracle
	DRFGATE_REQUIRE_DJANGO=1 $(CARGO) test --workspace

demo-db: $(DEMO_DB)

$(DEMO_DB): $(DJANGO_MK_VENV_STAMP) examples/demo/make_demo_db.py
	$(DJANGO_MK_PYTHON) examples/demo/make_demo_db.py $@

demo: build demo-db
	./scripts/demo.sh

# Criterion benches, then DRF's own figures for the same operations (same machine, same run).
bench: fixture-db
	$(CARGO) bench -p drfgate
	$(DJANGO_MK_PYTHON) bench/drf_baseline.py

clean:
	$(CARGO) clean
	rm -rf build .demo

# Apache httpd module (issue 5): apache-module, install-apache, test-apache.
include modules/apache/apache.mk

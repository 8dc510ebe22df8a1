# Real-Django side of drfgate's tests. Include from the top Makefile, or run directly:
#   make -f tests/django/django.mk oracle
# Targets: python-env (the .venv), fixture-db (build/django/db.sqlite3 + fixture.json),
#          oracle (build/conformance/oracle.json; fails when DRF disagrees with cases.json;
#          and build/conformance/throttle_oracle.json, DRF's answers to throttle_cases.json),
#          gate-configs (build/conformance/configs/: the gate's configs for cases.json).

DJANGO_MK_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/../..)
DJANGO_MK_PYTHON := $(DJANGO_MK_ROOT)/.venv/bin/python
DJANGO_MK_VENV_STAMP := $(DJANGO_MK_ROOT)/.venv/.drfgate-requirements.sha256
DJANGO_MK_FIXTURE_DB := $(DJANGO_MK_ROOT)/build/django/db.sqlite3
DJANGO_MK_FIXTURE_JSON := $(DJANGO_MK_ROOT)/build/django/fixture.json
DJANGO_MK_ORACLE_JSON := $(DJANGO_MK_ROOT)/build/conformance/oracle.json
DJANGO_MK_CASES := $(DJANGO_MK_ROOT)/tests/conformance/cases.json
DJANGO_MK_THROTTLE_ORACLE_JSON := $(DJANGO_MK_ROOT)/build/conformance/throttle_oracle.json
DJANGO_MK_THROTTLE_CASES := $(DJANGO_MK_ROOT)/tests/conformance/throttle_cases.json
DJANGO_MK_GATE_CONFIGS := $(DJANGO_MK_ROOT)/build/conformance/configs/index.json
DJANGO_MK_GATE_CONFIGS_PY := $(DJANGO_MK_ROOT)/tests/conformance/gate_configs.py
DJANGO_MK_PROJECT_SOURCES := $(shell find $(DJANGO_MK_ROOT)/tests/django -name '*.py' -not -path '*/__pycache__/*')
DJANGO_MK_PACKAGE_SOURCES := $(shell find $(DJANGO_MK_ROOT)/python/drfgate-django/src -name '*.py' -not -path '*/__pycache__/*')

.PHONY: python-env fixture-db oracle gate-configs

python-env: $(DJANGO_MK_VENV_STAMP)

# The script is a no-op when the stamp's hash matches; touch keeps make from re-running it.
$(DJANGO_MK_VENV_STAMP): $(DJANGO_MK_ROOT)/tests/django/requirements.txt $(DJANGO_MK_ROOT)/scripts/python-env.sh
	$(DJANGO_MK_ROOT)/scripts/python-env.sh
	touch $@

fixture-db: $(DJANGO_MK_FIXTURE_DB) $(DJANGO_MK_FIXTURE_JSON)

$(DJANGO_MK_FIXTURE_DB) $(DJANGO_MK_FIXTURE_JSON) &: $(DJANGO_MK_VENV_STAMP) $(DJANGO_MK_PROJECT_SOURCES)
	$(DJANGO_MK_PYTHON) $(DJANGO_MK_ROOT)/tests/django/make_fixture_db.py \
		--db $(DJANGO_MK_FIXTURE_DB) --json $(DJANGO_MK_FIXTURE_JSON)

oracle: $(DJANGO_MK_ORACLE_JSON) $(DJANGO_MK_THROTTLE_ORACLE_JSON)

# The throttling timelines through real DRF with its throttles' timer fixed (a few seconds).
$(DJANGO_MK_THROTTLE_ORACLE_JSON): $(DJANGO_MK_FIXTURE_DB) $(DJANGO_MK_THROTTLE_CASES) $(DJANGO_MK_ROOT)/tests/conformance/throttle_oracle.py
	$(DJANGO_MK_PYTHON) $(DJANGO_MK_ROOT)/tests/conformance/throttle_oracle.py $@.tmp \
		--cases $(DJANGO_MK_THROTTLE_CASES) --db $(DJANGO_MK_FIXTURE_DB)
	mv $@.tmp $@

# Written under a temporary name so that a run with mismatches is redone next time (and its
# answers stay inspectable in the .tmp file).
$(DJANGO_MK_ORACLE_JSON): $(DJANGO_MK_FIXTURE_DB) $(DJANGO_MK_CASES) $(DJANGO_MK_ROOT)/tests/conformance/oracle.py
	$(DJANGO_MK_PYTHON) $(DJANGO_MK_ROOT)/tests/conformance/oracle.py $@.tmp \
		--cases $(DJANGO_MK_CASES) --db $(DJANGO_MK_FIXTURE_DB) --quiet
	mv $@.tmp $@

gate-configs: $(DJANGO_MK_GATE_CONFIGS)

# One config per AUTHENTICATION_BACKENDS (and SIMPLE_JWT) and an index of their views, for the
# Rust and C conformance tests (the differential and Apache suites import the same generator).
# Each is what `manage.py drfgate_export` writes for the reference project, as the differential's:
# the export is what the tests judge, not a second hand-written table.
$(DJANGO_MK_GATE_CONFIGS): $(DJANGO_MK_CASES) $(DJANGO_MK_GATE_CONFIGS_PY) $(DJANGO_MK_FIXTURE_DB) \
		$(DJANGO_MK_PROJECT_SOURCES) $(DJANGO_MK_PACKAGE_SOURCES)
	$(DJANGO_MK_PYTHON) $(DJANGO_MK_GATE_CONFIGS_PY) --cases $(DJANGO_MK_CASES) --db $(DJANGO_MK_FIXTURE_DB) \
		--out $(dir $@) --python $(DJANGO_MK_PYTHON)

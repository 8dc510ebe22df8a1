# The network stores' fixtures (issue 12): the same Django fixture made by Django's own migrate on
# the local PostgreSQL and MariaDB, and real DRF's answers to the conformance table with Django on
# each (the reference the Rust conformance test compares the gate reading that server with).
# Included from the top Makefile after django.mk. Targets:
#   services         start PostgreSQL, MariaDB and Redis if they are down (scripts/services.sh)
#   fixture-engines  build/engines/<engine>/fixture.json, and the database drfgate_fixture on each
#   oracle-engines   build/conformance/<engine>/oracle.json
# DRFGATE_SKIP=postgres or mysql leaves that engine out (docs/testing.md).

ENGINES_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/drfgate_fixture
ENGINES_MYSQL_URL ?= mysql://root@127.0.0.1:3306/drfgate_fixture
ENGINES_ALL := postgres mysql
ENGINES := $(filter-out $(subst $(comma), ,$(DRFGATE_SKIP)),$(ENGINES_ALL))
ENGINES_URL_postgres = $(ENGINES_POSTGRES_URL)
ENGINES_URL_mysql = $(ENGINES_MYSQL_URL)
ENGINES_FIXTURES := $(foreach e,$(ENGINES),$(DJANGO_MK_ROOT)/build/engines/$(e)/fixture.json)
ENGINES_ORACLES := $(foreach e,$(ENGINES),$(DJANGO_MK_ROOT)/build/conformance/$(e)/oracle.json)

.PHONY: services fixture-engines oracle-engines

services:
	$(DJANGO_MK_ROOT)/scripts/services.sh

fixture-engines: $(ENGINES_FIXTURES)

# The fixture.json stands for the database on the server: a server that lost it (a new machine)
# comes with an empty build/ too. `rm -r build/engines` makes them again.
$(DJANGO_MK_ROOT)/build/engines/%/fixture.json: $(DJANGO_MK_VENV_STAMP) $(DJANGO_MK_PROJECT_SOURCES)
	$(DJANGO_MK_ROOT)/scripts/services.sh
	DRFGATE_JWT_DIR=$(dir $@)jwt $(DJANGO_MK_PYTHON) $(DJANGO_MK_ROOT)/tests/django/make_fixture_db.py \
		--db $(ENGINES_URL_$*) --json $@

oracle-engines: $(ENGINES_ORACLES)

$(DJANGO_MK_ROOT)/build/conformance/%/oracle.json: $(DJANGO_MK_ROOT)/build/engines/%/fixture.json $(DJANGO_MK_CASES) $(DJANGO_MK_ROOT)/tests/conformance/oracle.py
	$(DJANGO_MK_PYTHON) $(DJANGO_MK_ROOT)/tests/conformance/oracle.py $@.tmp \
		--cases $(DJANGO_MK_CASES) --db $(ENGINES_URL_$*) --quiet --engine-answers
	mv $@.tmp $@

# Real DRF under gunicorn with Django on each server, and `drfgate serve` reading the same
# database: every request `make differential` sends on SQLite except those through the Layer —
# the table, the generated Token, Bearer, Basic and method variants, every minted JWT and knox
# token (with that fixture's own keys and tokens), the session requests on the db engine and
# the signed_cookies, cached_db and cache engines, the settings variants, and the requests
# around authentication — about 6,100 an engine, so every store lookup is compared with DRF on
# that server, collations included. The whole set, not a subset: 1–2 min an engine (3.3 min for
# both with the machine's load at 8; docs/testing.md).
.PHONY: differential-engines
differential-engines: fixture-engines python-env
	$(CARGO) build -p drfgate-cli
	$(foreach e,$(ENGINES),DRFGATE_JWT_DIR=$(DJANGO_MK_ROOT)/build/engines/$(e)/jwt \
		$(DJANGO_MK_PYTHON) $(DJANGO_MK_ROOT)/tests/conformance/differential.py \
		--drfgate $(TARGET_DIR)/debug/drfgate --db $(ENGINES_URL_$(e)) &&) true

# Revocation across three `drfgate serve` processes reading one database (tests/revocation/):
# PostgreSQL's LISTEN/NOTIFY, and MariaDB with Redis pub/sub; the same behind Apache prefork
# (8 children) and nginx (2 workers) with their modules, with each process's connections on the
# server counted (tests/revocation/frontends.py, as root; ≈ 45 s for both engines;
# DRFGATE_SKIP=apache or nginx leaves that one out); then a database restart under load on a
# private PostgreSQL and a private MariaDB started by the test (tests/outage/db_restart.py).
# In `make test`.
REVOCATION_ENGINES := $(filter-out $(if $(filter redis,$(subst $(comma), ,$(DRFGATE_SKIP))),mysql),$(ENGINES))
REVOCATION_FRONTENDS := $(filter-out $(subst $(comma), ,$(DRFGATE_SKIP)),apache nginx)
REVOCATION_NOTHING :=
REVOCATION_FRONTENDS_LIST := $(subst $(REVOCATION_NOTHING) $(REVOCATION_NOTHING),$(comma),$(REVOCATION_FRONTENDS))
.PHONY: test-revocation bench-revocation
test-revocation: python-env
	$(DJANGO_MK_ROOT)/scripts/services.sh
	$(CARGO) build -p drfgate-cli
	$(foreach e,$(REVOCATION_ENGINES),$(DJANGO_MK_PYTHON) $(DJANGO_MK_ROOT)/tests/revocation/revocation.py \
		--drfgate $(TARGET_DIR)/debug/drfgate --engine $(e) &&) true
	$(if $(filter apache,$(REVOCATION_FRONTENDS)),$(MAKE) --no-print-directory apache-deps apache-module APACHE_PROFILE=debug)
	$(if $(filter nginx,$(REVOCATION_FRONTENDS)),$(MAKE) --no-print-directory nginx-deps nginx-module NGINX_PROFILE=debug)
	$(if $(REVOCATION_FRONTENDS),$(foreach e,$(REVOCATION_ENGINES),$(DJANGO_MK_PYTHON) \
		$(DJANGO_MK_ROOT)/tests/revocation/frontends.py --engine $(e) \
		--only $(REVOCATION_FRONTENDS_LIST) \
		--apache-module $(APACHE_MODULE) --nginx-module $(NGINX_MODULE) &&) true)
	$(foreach e,$(ENGINES),$(DJANGO_MK_PYTHON) $(DJANGO_MK_ROOT)/tests/outage/db_restart.py \
		--drfgate $(TARGET_DIR)/debug/drfgate --engine $(e) &&) true

# BENCHMARKS.md: the time from Django's token.delete() to the first refusal by another gate
# process, 100 tries on each engine. Not in `make test`. The dev profile, as bench-stores: the
# workspace builds the core at opt-level 2 and its dependencies at 3 there.
bench-revocation: python-env
	$(DJANGO_MK_ROOT)/scripts/services.sh
	$(CARGO) build -p drfgate-cli
	$(foreach e,$(REVOCATION_ENGINES),$(DJANGO_MK_PYTHON) $(DJANGO_MK_ROOT)/tests/revocation/revocation.py \
		--drfgate $(TARGET_DIR)/debug/drfgate --engine $(e) --bench 100 &&) true

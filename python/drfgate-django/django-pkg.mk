# The drfgate-django package's tests (python/drfgate-django/tests), on both Django versions it
# supports: 5.2 in the main venv (tests/django/requirements.txt), with the package from its source
# tree; 4.2 LTS with DRF 3.15 in build/venv-django42 (pinned in tests/requirements-django42.txt),
# with the package pip-installed, as a project would. Included from the top Makefile.

DJANGO_PKG_DIR := $(DJANGO_MK_ROOT)/python/drfgate-django
DJANGO42_VENV := $(DJANGO_MK_ROOT)/build/venv-django42
DJANGO42_REQUIREMENTS := $(DJANGO_PKG_DIR)/tests/requirements-django42.txt
DJANGO42_STAMP := $(DJANGO42_VENV)/.drfgate-requirements

.PHONY: test-django-pkg django42-env differential-sampleproj

django42-env: $(DJANGO42_STAMP)

$(DJANGO42_STAMP): $(DJANGO42_REQUIREMENTS)
	rm -rf $(DJANGO42_VENV)
	python3 -m venv $(DJANGO42_VENV)
	$(DJANGO42_VENV)/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

# `drfgate check` loads every export the tests write (DRFGATE_BIN), over the fixture database
# (and the server fixtures, for a PostgreSQL or MariaDB project's export; DRFGATE_SKIP=postgres
# or mysql leaves one out). `drfgate serve` and the Layer (examples/path_proxy,
# DRFGATE_PATH_PROXY) sign hand-offs over the demo database for GateAuthentication.
test-django-pkg: python-env fixture-db fixture-engines demo-db django42-env
	$(CARGO) build -p drfgate-cli
	$(CARGO) build -p drfgate-tower --example path_proxy
	cd $(DJANGO_PKG_DIR) && PYTHONPATH=src DRFGATE_BIN=$(TARGET_DIR)/debug/drfgate \
		DRFGATE_PATH_PROXY=$(TARGET_DIR)/debug/examples/path_proxy \
		$(DJANGO_MK_PYTHON) tests/runtests.py
	$(DJANGO42_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps \
		--no-build-isolation --force-reinstall $(DJANGO_PKG_DIR)
	cd $(DJANGO_PKG_DIR) && DRFGATE_BIN=$(TARGET_DIR)/debug/drfgate \
		DRFGATE_PATH_PROXY=$(TARGET_DIR)/debug/examples/path_proxy \
		$(DJANGO42_VENV)/bin/python tests/runtests.py
	$(MAKE) --no-print-directory differential-sampleproj

# The sample project's own export drives `drfgate serve`, and every exported route × method ×
# credential is asked of it and of the project under DRF (gunicorn, Django 5.2 in the main
# venv), over one database made by migrate (build/sampleproj-differential): zero differences.
differential-sampleproj: python-env
	$(CARGO) build -p drfgate-cli
	$(DJANGO_MK_PYTHON) $(DJANGO_MK_ROOT)/tests/conformance/sampleproj_differential.py \
		--drfgate $(TARGET_DIR)/debug/drfgate

# mod_drfgate: the Apache httpd module, built with apxs against libdrfgate's static library
# (Rust's symbols hidden, so nothing needs an rpath and Apache's global symbol table stays clean).
#   make apache-module     build/apache/.libs/mod_drfgate.so
#   make install-apache    into `apxs -q LIBEXECDIR`, plus drfgate.load/drfgate.conf for a2enmod
#   make test-apache       end-to-end tests with real Apache, mod_wsgi, Django and DRF (tests/apache/);
#                          APACHE_TEST_ARGS="--only a,b" picks parts

APXS ?= apxs
STRIP ?= strip
APACHE_MK_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/../..)
APACHE_BUILD_DIR := $(APACHE_MK_ROOT)/build/apache
APACHE_MODULE := $(APACHE_BUILD_DIR)/.libs/mod_drfgate.so
DRFGATE_TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(APACHE_MK_ROOT)/target)
# `make apache-module`/`install-apache` link the release library; the tests pass
# APACHE_PROFILE=debug to link the one `make test` already built (dependencies are optimised
# in debug builds too), so CI compiles the workspace once, not twice.
APACHE_PROFILE ?= release
DRFGATE_STATICLIB := $(DRFGATE_TARGET_DIR)/$(APACHE_PROFILE)/libdrfgate.a
# What Rust's std needs from the C library, and OpenSSL for the network stores' TLS
# (`cargo rustc --print native-static-libs`).
DRFGATE_NATIVE_LIBS := -lssl -lcrypto -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

.PHONY: apache-module apache-deps install-apache test-apache test-apache-quick bench-apache

apache-module: $(APACHE_MODULE)

# cargo decides whether anything changed; make then compares the archive's time.
$(DRFGATE_STATICLIB): FORCE
	$(CARGO) build $(if $(filter release,$(APACHE_PROFILE)),--release) -p drfgate-ffi

$(APACHE_MODULE): $(APACHE_MK_ROOT)/modules/apache/mod_drfgate.c $(APACHE_MK_ROOT)/include/drfgate.h $(DRFGATE_STATICLIB)
	@command -v $(APXS) >/dev/null || { echo "apxs not found: apt-get install apache2-dev" >&2; exit 1; }
	mkdir -p $(APACHE_BUILD_DIR)
	cp $(APACHE_MK_ROOT)/modules/apache/mod_drfgate.c $(APACHE_BUILD_DIR)/
	cd $(APACHE_BUILD_DIR) && $(APXS) -c -I$(APACHE_MK_ROOT)/include \
		-Wc,-Wall -Wc,-Wextra -Wc,-Werror -Wc,-Wno-unused-parameter -Wc,-Wno-missing-field-initializers \
		-Wl,-Wl,--exclude-libs,ALL -o mod_drfgate.la mod_drfgate.c \
		$(DRFGATE_STATICLIB) $(DRFGATE_NATIVE_LIBS)

APACHE_LIBEXECDIR = $(shell $(APXS) -q LIBEXECDIR)
APACHE_SYSCONFDIR = $(shell $(APXS) -q SYSCONFDIR)

install-apache: apache-module
	install -d $(DESTDIR)$(APACHE_LIBEXECDIR) $(DESTDIR)$(APACHE_SYSCONFDIR)/mods-available
	install -m 644 $(APACHE_MODULE) $(DESTDIR)$(APACHE_LIBEXECDIR)/mod_drfgate.so
	$(STRIP) --strip-debug $(DESTDIR)$(APACHE_LIBEXECDIR)/mod_drfgate.so
	sed 's|@LIBEXECDIR@|$(APACHE_LIBEXECDIR)|' $(APACHE_MK_ROOT)/modules/apache/drfgate.load.in \
		> $(DESTDIR)$(APACHE_SYSCONFDIR)/mods-available/drfgate.load
	test -e $(DESTDIR)$(APACHE_SYSCONFDIR)/mods-available/drfgate.conf || \
		install -m 644 $(APACHE_MK_ROOT)/modules/apache/drfgate.conf $(DESTDIR)$(APACHE_SYSCONFDIR)/mods-available/drfgate.conf
	@echo "installed; enable with: a2enmod drfgate"

apache-deps:
	$(APACHE_MK_ROOT)/tests/apache/install-deps.sh

# DRFGATE_SKIP=apache skips the Apache suites (README, "How it is tested"); otherwise missing
# packages are installed, and a failure to is a failure.
APACHE_MK_COMMA := ,
APACHE_SKIPPED := $(filter apache,$(subst $(APACHE_MK_COMMA), ,$(DRFGATE_SKIP)))

# apxs comes with the packages, so the module is built after they are installed.
test-apache: $(if $(APACHE_SKIPPED),,apache-deps fixture-db oracle python-env)
ifeq ($(APACHE_SKIPPED),)
	$(MAKE) -C $(APACHE_MK_ROOT) apache-module APACHE_PROFILE=debug
	$(APACHE_MK_ROOT)/tests/apache/run.sh --python $(DJANGO_MK_PYTHON) $(APACHE_TEST_ARGS)
else
	@echo "test-apache: skipped (DRFGATE_SKIP=apache)"
endif

# `make test` (CI, as root) runs the quick part: configtest, (a)-(d) under mpm_event, the
# path differential (tests/paths, ≈ 8 s), a throttled view (≈ 2 s) and the minted simplejwt and
# knox tokens against DRF behind Apache without the module (tests/conformance/jwt_e2e.py, ≈ 900
# requests, ≈ 20 s on a loaded machine), and the differential's other session engines and settings
# variants the same way (tests/conformance/session_e2e.py, ≈ 460 requests, ≈ 20 s), and the
# differential's requests around authentication (hosts, negotiation, request targets,
# X-Forwarded-Host: tests/conformance/around_auth_e2e.py, 322 requests, ≈ 10 s), ≈ 100 s;
# `make test-apache` adds prefork, graceful restarts under load and restart memory (≈ 100 s).
test: test-apache-quick

test-apache-quick: $(if $(APACHE_SKIPPED),,apache-deps fixture-db oracle python-env)
ifeq ($(APACHE_SKIPPED),)
	$(MAKE) -C $(APACHE_MK_ROOT) apache-module APACHE_PROFILE=debug
	$(APACHE_MK_ROOT)/tests/apache/run.sh --python $(DJANGO_MK_PYTHON) --only configtest,a,b,c,badreload,paths,throttle,jwt,sessions,aroundauth
else
	@echo "test-apache-quick: skipped (DRFGATE_SKIP=apache)"
endif

.PHONY: FORCE
FORCE:

# Requests/s (tests/apache/bench.py, as root; part of `make bench`): the module refusing vs Apache's
# own mod_auth_basic refusing, and a static file with and without the module, in one server.
# Release library; -B relinks the module, which may have been linked with the debug one.
bench-apache: apache-deps fixture-db
	$(APACHE_MK_ROOT)/scripts/debian-packages.sh bench-apache wrk
	$(MAKE) -C $(APACHE_MK_ROOT) -B apache-module APACHE_PROFILE=release
	/usr/bin/python3 $(APACHE_MK_ROOT)/tests/apache/bench.py --results $(APACHE_MK_ROOT)/build/bench

# ngx_http_drfgate_module: the nginx dynamic module, built against Debian's nginx-dev (the
# headers and build system in /usr/share/nginx/src, configured with Debian's own flags so that
# `load_module` accepts it) and linked with libdrfgate's static library, Rust's symbols hidden.
#   make nginx-module     build/nginx/src/objs/ngx_http_drfgate_module.so
#   make install-nginx    into /usr/lib/nginx/modules, plus a mod-available .conf that loads it
#   make test-nginx-module  end-to-end tests with real nginx, gunicorn, uWSGI, Django and DRF (tests/nginx/)
#   make nginx-uwsgi      build/nginx/uwsgi-venv: uWSGI from PyPI, for the uWSGI example's test

NGINX_MK_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/../..)
NGINX_SRC ?= /usr/share/nginx/src
NGINX_BUILD_DIR := $(NGINX_MK_ROOT)/build/nginx
NGINX_MODULE := $(NGINX_BUILD_DIR)/src/objs/ngx_http_drfgate_module.so
NGINX_MODULES_DIR ?= /usr/lib/nginx/modules
NGINX_MODULES_CONF_DIR ?= /usr/share/nginx/modules-available
NGINX_TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(NGINX_MK_ROOT)/target)
# As the Apache module: `make nginx-module` links the release library; the tests pass
# NGINX_PROFILE=debug to link the one `make test` already built.
NGINX_PROFILE ?= release
NGINX_STATICLIB := $(NGINX_TARGET_DIR)/$(NGINX_PROFILE)/libdrfgate.a
# --exclude-libs,ALL: the archive's symbols stay local to the module (nginx loads modules
# RTLD_GLOBAL-free, but a clean export table is the module's structure and nothing more).
NGINX_DRFGATE_LIBS := -Wl,--exclude-libs,ALL $(NGINX_STATICLIB) -lssl -lcrypto -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

.PHONY: nginx-module nginx-deps install-nginx test-nginx-module bench-nginx

nginx-module: $(NGINX_MODULE)

nginx-deps:
	$(NGINX_MK_ROOT)/tests/nginx/install-deps.sh

# cargo decides whether the library changed; the module is relinked every time (≈ 1 s), since
# nginx's own Makefile does not know about the archive. (Not a rule for the archive's path:
# apache.mk has one when both use the same profile.)
.PHONY: nginx-staticlib
nginx-staticlib:
	$(CARGO) build $(if $(filter release,$(NGINX_PROFILE)),--release) -p drfgate-ffi

# Configured once per library path (nginx's configure takes a few seconds); the module's own
# object is rebuilt by nginx's Makefile when the source or the header changes.
$(NGINX_BUILD_DIR)/configured-$(NGINX_PROFILE): $(NGINX_MK_ROOT)/modules/nginx/config
	@test -f $(NGINX_SRC)/conf_flags || { echo "no $(NGINX_SRC): apt-get install nginx nginx-dev" >&2; exit 1; }
	rm -rf $(NGINX_BUILD_DIR)/src && mkdir -p $(NGINX_BUILD_DIR)
	cp -r $(NGINX_SRC) $(NGINX_BUILD_DIR)/src
	cd $(NGINX_BUILD_DIR)/src && . ./conf_flags && \
		DRFGATE_INCLUDE='$(NGINX_MK_ROOT)/include' DRFGATE_LIBS='$(NGINX_DRFGATE_LIBS)' \
		./configure "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(NGINX_MK_ROOT)/modules/nginx >configure.log
	rm -f $(NGINX_BUILD_DIR)/configured-* && touch $@

$(NGINX_MODULE): SHELL := /bin/bash
$(NGINX_BUILD_DIR)/configured-$(NGINX_PROFILE): SHELL := /bin/bash
$(NGINX_MODULE): $(NGINX_BUILD_DIR)/configured-$(NGINX_PROFILE) $(NGINX_MK_ROOT)/modules/nginx/ngx_http_drfgate_module.c \
		$(NGINX_MK_ROOT)/include/drfgate.h nginx-staticlib
	rm -f $(NGINX_MODULE)
	$(MAKE) --no-print-directory -C $(NGINX_BUILD_DIR)/src -f objs/Makefile modules >$(NGINX_BUILD_DIR)/make.log 2>&1 || \
		{ cat $(NGINX_BUILD_DIR)/make.log >&2; exit 1; }
	@# Only nginx's module symbols are exported: no Rust (or drfgate_) symbol leaks.
	@if nm -D --defined-only $@ | grep -v ' ngx_http_drfgate_module$$\| ngx_modules$$\| ngx_module_names$$\| ngx_module_order$$\| _init$$\| _fini$$\| __bss_start$$\| _edata$$\| _end$$' | grep -q .; then \
		echo "$@ exports more than the module:" >&2; nm -D --defined-only $@ | head -20 >&2; exit 1; fi

install-nginx: nginx-module
	install -d $(DESTDIR)$(NGINX_MODULES_DIR) $(DESTDIR)$(NGINX_MODULES_CONF_DIR)
	install -m 644 $(NGINX_MODULE) $(DESTDIR)$(NGINX_MODULES_DIR)/ngx_http_drfgate_module.so
	strip --strip-debug $(DESTDIR)$(NGINX_MODULES_DIR)/ngx_http_drfgate_module.so
	echo 'load_module $(NGINX_MODULES_DIR)/ngx_http_drfgate_module.so;' \
		> $(DESTDIR)$(NGINX_MODULES_CONF_DIR)/mod-http-drfgate.conf
	@echo "installed; enable with: ln -s $(NGINX_MODULES_CONF_DIR)/mod-http-drfgate.conf /etc/nginx/modules-enabled/50-mod-http-drfgate.conf"

# uWSGI for the uWSGI example's end-to-end test: from PyPI, in a venv of its own (it compiles
# at install, ≈ 30 s of CPU, which every `make python-env` would otherwise pay); its embedded
# Python runs with the project's venv (uwsgi --home).
NGINX_UWSGI_VERSION := 2.0.31
NGINX_UWSGI_VENV := $(NGINX_BUILD_DIR)/uwsgi-venv
NGINX_UWSGI := $(NGINX_UWSGI_VENV)/bin/uwsgi

.PHONY: nginx-uwsgi
nginx-uwsgi: $(NGINX_UWSGI)

$(NGINX_UWSGI): $(NGINX_MK_ROOT)/modules/nginx/nginx.mk | python-env nginx-deps
	rm -rf $(NGINX_UWSGI_VENV)
	$(DJANGO_MK_PYTHON) -m venv $(NGINX_UWSGI_VENV)
	$(NGINX_UWSGI_VENV)/bin/python -m pip install --quiet --disable-pip-version-check uwsgi==$(NGINX_UWSGI_VERSION)
	touch $@

NGINX_MK_COMMA := ,
NGINX_SKIPPED := $(filter nginx,$(subst $(NGINX_MK_COMMA), ,$(DRFGATE_SKIP)))

test-nginx-module: $(if $(NGINX_SKIPPED),,nginx-deps fixture-db oracle gate-configs python-env nginx-uwsgi)
ifeq ($(NGINX_SKIPPED),)
	$(MAKE) -C $(NGINX_MK_ROOT) nginx-module NGINX_PROFILE=debug
	$(CARGO) build -p drfgate-cli
	$(DJANGO_MK_PYTHON) $(NGINX_MK_ROOT)/tests/nginx/e2e.py --python $(DJANGO_MK_PYTHON) $(NGINX_TEST_ARGS)
else
	@echo "test-nginx-module: skipped (DRFGATE_SKIP=nginx)"
endif

# `make test` runs the whole suite (≈ a minute, most of it Valgrind; the differential's
# around-auth requests and session settings variants through the module, ≈ 20 s of it).
test: test-nginx-module

# Requests/s: the module vs auth_request → drfgate serve vs DRF refusing, and the module's
# refusal vs nginx's own `return 401` (bench/nginx.sh; BENCHMARKS.md). Release builds: what a
# deployment runs (the nginx build dir is reconfigured when the profile changes).
bench-nginx: fixture-db nginx-deps
	$(MAKE) -C $(NGINX_MK_ROOT) nginx-module NGINX_PROFILE=release
	$(CARGO) build --release -p drfgate-cli --bin drfgate
	NGINX_PROFILE=release BENCH_RESULTS=$(NGINX_MK_ROOT)/build/bench $(NGINX_MK_ROOT)/bench/nginx.sh

# libdrfgate, the C ABI: its header, install/uninstall with pkg-config, and the check that
# the example program builds against an installed copy. Included from the top Makefile
# (which defines CARGO, PREFIX and `build`).
#
#   make header                      regenerate include/drfgate.h (pinned cbindgen)
#   make install [PREFIX=/usr/local] [DESTDIR=/staging] [PROFILE=release|debug]
#   make uninstall [PREFIX=...] [DESTDIR=...]
#   make c-abi-example-test          install into build/c-abi-install, build and run examples/c

C_ABI_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/../..)
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# The cargo profile `make install` copies from: release (what `make` builds), or debug (what
# the tests build, so `make test` compiles the library once).
PROFILE ?= release
C_ABI_TARGET := $(or $(CARGO_TARGET_DIR),$(C_ABI_ROOT)/target)/$(PROFILE)

C_ABI_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' $(C_ABI_ROOT)/Cargo.toml | head -n 1)
C_ABI_MAJOR := $(word 1,$(subst ., ,$(C_ABI_VERSION)))
C_ABI_MINOR := $(word 2,$(subst ., ,$(C_ABI_VERSION)))
# As build.rs: before 1.0 the minor version is part of the ABI name.
C_ABI_SONAME := $(if $(filter 0,$(C_ABI_MAJOR)),libdrfgate.so.0.$(C_ABI_MINOR),libdrfgate.so.$(C_ABI_MAJOR))
C_ABI_REALNAME := libdrfgate.so.$(C_ABI_VERSION)
C_ABI_NATIVE_STATIC_LIBS := -lssl -lcrypto -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
C_ABI_STAGE := $(C_ABI_ROOT)/build/c-abi-install

.PHONY: header cbindgen install uninstall c-abi-debug-build c-abi-example-test c-test-tools

cbindgen:
	$(C_ABI_ROOT)/scripts/cbindgen.sh --path >/dev/null

header:
	cd $(C_ABI_ROOT) && scripts/cbindgen.sh --quiet --config crates/drfgate-ffi/cbindgen.toml \
		--crate drfgate-ffi --output include/drfgate.h crates/drfgate-ffi

# The library and the CLI as the tests build them (the C tests link this libdrfgate.so;
# `cargo test` alone does not build a cdylib).
c-abi-debug-build:
	$(CARGO) build -p drfgate-ffi -p drfgate-cli

# The C tests (crates/drfgate-ffi/tests/c_tests.rs) fail without a C compiler or Valgrind:
# installed from Debian when missing, like the other suites' packages, unless DRFGATE_SKIP names
# them (`cc`, `valgrind`).
c-test-tools:
	@for tool in gcc:cc valgrind:valgrind; do \
		package=$${tool%%:*}; name=$${tool##*:}; \
		case ",$(DRFGATE_SKIP)," in *",$$name,"*) continue;; esac; \
		command -v $$package >/dev/null || { echo "installing $$package" >&2; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$package; }; \
	done

install: $(if $(filter debug,$(PROFILE)),c-abi-debug-build,build)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0755 $(C_ABI_TARGET)/libdrfgate.so $(DESTDIR)$(LIBDIR)/$(C_ABI_REALNAME)
	ln -sfn $(C_ABI_REALNAME) $(DESTDIR)$(LIBDIR)/$(C_ABI_SONAME)
	ln -sfn $(C_ABI_SONAME) $(DESTDIR)$(LIBDIR)/libdrfgate.so
	install -m 0644 $(C_ABI_TARGET)/libdrfgate.a $(DESTDIR)$(LIBDIR)/libdrfgate.a
	install -m 0644 $(C_ABI_ROOT)/include/drfgate.h $(DESTDIR)$(INCLUDEDIR)/drfgate.h
	install -m 0755 $(C_ABI_TARGET)/drfgate $(DESTDIR)$(BINDIR)/drfgate
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(C_ABI_VERSION)|' -e 's|@NATIVE_STATIC_LIBS@|$(C_ABI_NATIVE_STATIC_LIBS)|' \
		$(C_ABI_ROOT)/crates/drfgate-ffi/drfgate.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/drfgate.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/drfgate.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(C_ABI_REALNAME) $(DESTDIR)$(LIBDIR)/$(C_ABI_SONAME) \
		$(DESTDIR)$(LIBDIR)/libdrfgate.so $(DESTDIR)$(LIBDIR)/libdrfgate.a \
		$(DESTDIR)$(INCLUDEDIR)/drfgate.h $(DESTDIR)$(BINDIR)/drfgate $(DESTDIR)$(PKGCONFIGDIR)/drfgate.pc

# The issue's "done when": an install into a staging DESTDIR is enough to build and run the
# example, shared and static, with nothing but pkg-config; uninstall leaves no file behind.
c-abi-example-test:
	command -v pkg-config >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends pkgconf
	rm -rf $(C_ABI_STAGE)
	$(MAKE) --no-print-directory install PROFILE=debug DESTDIR=$(C_ABI_STAGE) PREFIX=/usr/local
	PKG_CONFIG_PATH=$(C_ABI_STAGE)/usr/local/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$(C_ABI_STAGE) \
		LD_LIBRARY_PATH=$(C_ABI_STAGE)/usr/local/lib \
		$(MAKE) --no-print-directory -C $(C_ABI_ROOT)/examples/c clean check
	$(MAKE) --no-print-directory -C $(C_ABI_ROOT)/examples/c clean
	$(MAKE) --no-print-directory uninstall DESTDIR=$(C_ABI_STAGE) PREFIX=/usr/local
	test -z "$$(find $(C_ABI_STAGE) -type f -o -type l)"
	rm -rf $(C_ABI_STAGE)

# A cached decision through the C ABI against the same decision in Rust (BENCHMARKS.md).
.PHONY: bench-c-abi
bench-c-abi: fixture-db
	$(CARGO) build --release -p drfgate-ffi
	$(CARGO) bench -p drfgate-ffi --bench c_abi
	$(C_ABI_ROOT)/crates/drfgate-ffi/benches/instructions.sh

# ThreadSanitizer on the C thread test (issue 15 part 6; TESTING.md, "Sanitizers on the C
# side"). Included by the Makefile.
#
#   make test-tsan      build libdrfgate with TSan (nightly, -Zbuild-std) and run
#                       tests/c/threads.c against it under TSan
#
# TSan only sees what is instrumented: a race inside the library, or the library's own locks
# and atomics, are invisible unless the library AND the standard library it is built on are
# compiled with -Zsanitizer=thread. That needs a nightly rustc and its `rust-src` component
# (to rebuild std); without them the target says so and succeeds without running anything
# (it never installs a toolchain: RUSTUP_AUTO_INSTALL=0).
# It is not part of `make test`: the cold build adds more than `make test` can afford on CI's
# two cores (TESTING.md has the figures).
#
# The build leaves out the network stores (`--no-default-features`: no tokio, MySQL client or
# TLS to rebuild instrumented); the thread test reads the SQLite fixture database. The bundled
# SQLite is compiled with -fsanitize=thread (CFLAGS). It has its own target dir, so it never
# invalidates the normal build.

TSAN_TOOLCHAIN ?= nightly
TSAN_TRIPLE := $(shell rustc -vV | sed -n 's/^host: //p')
TSAN_TARGET_DIR := $(TARGET_DIR)/tsan
TSAN_ARCHIVE := $(TSAN_TARGET_DIR)/$(TSAN_TRIPLE)/debug/libdrfgate.a

.PHONY: test-tsan

test-tsan: fixture-db c-test-tools
	@sysroot=$$(RUSTUP_AUTO_INSTALL=0 rustup run $(TSAN_TOOLCHAIN) rustc --print sysroot 2>/dev/null) || { \
		echo "test-tsan: SKIPPED, no $(TSAN_TOOLCHAIN) toolchain (rustup toolchain install $(TSAN_TOOLCHAIN) --component rust-src)"; exit 0; }; \
	[ -f "$$sysroot/lib/rustlib/src/rust/library/Cargo.lock" ] || { \
		echo "test-tsan: SKIPPED, the $(TSAN_TOOLCHAIN) toolchain has no rust-src to rebuild std with TSan (rustup component add rust-src --toolchain $(TSAN_TOOLCHAIN))"; exit 0; }; \
	runtime=$$(ls "$$sysroot"/lib/rustlib/$(TSAN_TRIPLE)/lib/librustc-*_rt.tsan.a 2>/dev/null | head -n 1); \
	[ -n "$$runtime" ] || { echo "test-tsan: SKIPPED, the $(TSAN_TOOLCHAIN) toolchain ships no TSan runtime for $(TSAN_TRIPLE)"; exit 0; }; \
	set -x; \
	RUSTFLAGS=-Zsanitizer=thread CFLAGS=-fsanitize=thread CARGO_TARGET_DIR=$(TSAN_TARGET_DIR) \
		rustup run $(TSAN_TOOLCHAIN) cargo build -Zbuild-std --target $(TSAN_TRIPLE) \
		-p drfgate-ffi --no-default-features --lib && \
	DRFGATE_TSAN_ARCHIVE=$(TSAN_ARCHIVE) DRFGATE_TSAN_RUNTIME=$$runtime \
		$(CARGO) test -p drfgate-ffi --test c_tests many_threads_under_thread_sanitizer -- --ignored --exact

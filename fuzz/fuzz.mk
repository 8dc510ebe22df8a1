# Fuzzing (issue 15 part 3; TESTING.md). Included by the Makefile.
#
# `make fuzz-short` (part of `make test`): builds every target of fuzz/ with libFuzzer and runs
# each for FUZZ_SECONDS on the committed corpus (fuzz/corpus/<target>), which is replayed
# first. New inputs go to a scratch folder, never into the repository; a crash fails the
# run and leaves its input under $(FUZZ_TARGET_DIR)/artifacts/.
#
# The build is a plain stable `cargo build` with the instrumentation flags cargo-fuzz passes
# for `--sanitizer none` (none of them needs a nightly), so a fresh machine needs no
# cargo-fuzz. The long runs (TESTING.md) use `cargo fuzz run` (`cargo install cargo-fuzz`);
# both build the same targets.

FUZZ_SECONDS ?= 10
FUZZ_TARGETS := $(sort $(basename $(notdir $(wildcard fuzz/fuzz_targets/*.rs))))
FUZZ_TRIPLE := $(shell rustc -vV | sed -n 's/^host: //p')
FUZZ_TARGET_DIR := $(TARGET_DIR)/fuzz-short
FUZZ_BIN := $(FUZZ_TARGET_DIR)/$(FUZZ_TRIPLE)/release
# cargo-fuzz 0.13's flags (src/project.rs) minus ASan: safe Rust plus -Cdebug-assertions,
# so overflows and debug_assert!s fail loudly. One codegen unit is left out: it makes
# fuzzing faster but the cold build much slower, and these runs are short.
FUZZ_RUSTFLAGS := -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
	-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
	-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing \
	-Cllvm-args=-simplifycfg-branch-fold-threshold=0 -Cllvm-args=-sanitizer-coverage-stack-depth \
	-Cdebug-assertions

.PHONY: fuzz-build fuzz-short

fuzz-build:
	cd fuzz && RUSTFLAGS="$(FUZZ_RUSTFLAGS)" CARGO_TARGET_DIR=$(FUZZ_TARGET_DIR) \
		$(CARGO) build --release --locked --target $(FUZZ_TRIPLE) --bins

# -rss_limit_mb and -timeout make a memory blow-up or a hang a failure too.
fuzz-short: fuzz-build
	@mkdir -p $(FUZZ_TARGET_DIR)/artifacts
	@set -e; for target in $(FUZZ_TARGETS); do \
		scratch=$$(mktemp -d); log=$(FUZZ_TARGET_DIR)/$$target.log; \
		if ! $(FUZZ_BIN)/$$target -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_TARGET_DIR)/artifacts/$$target- \
			$$scratch fuzz/corpus/$$target >$$log 2>&1; then \
			tail -n 40 $$log; rm -rf $$scratch; \
			echo "fuzz-short: $$target failed; the input is in $(FUZZ_TARGET_DIR)/artifacts/"; exit 1; \
		fi; \
		rm -rf $$scratch; \
		echo "fuzz-short: $$target: corpus replayed ($$(grep -E '^#[0-9]+[[:space:]]+INITED' $$log \
			| sed -e 's/.*INITED //' -e 's/ *lim:.*//' -e 's/ *exec\/s:.*//')), $$(sed -n 's/^stat::number_of_executed_units: *//p' $$log) \
runs in $(FUZZ_SECONDS) s"; \
	done

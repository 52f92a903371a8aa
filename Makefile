# The two commands of the README: `make demo` and `make test`. Everything a fresh machine
# needs (the Python venv with Tahoe-LAFS 1.20, the no_std target) is installed here,
# idempotently.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
NOSTD_TARGET := thumbv7em-none-eabihf
export CARGO_TERM_COLOR := never

.PHONY: test demo venv rust-targets fmt-check clippy test-rust doc nostd test-python golden clean \
	python-ext test-tahoe

test: fmt-check clippy test-rust doc nostd test-python test-tahoe
	@echo "make test: all checks passed"

# --- set-up -----------------------------------------------------------------------------

$(VENV)/.stamp: tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -r tests/requirements.txt
	touch $@

venv: $(VENV)/.stamp

rust-targets:
	@if rustup target list --installed 2>/dev/null | grep -qx $(NOSTD_TARGET); then :; \
	else rustup target add $(NOSTD_TARGET) || echo "!!! WARNING: cannot install $(NOSTD_TARGET); the no_std check falls back to a host build !!!"; fi

# --- checks -----------------------------------------------------------------------------

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p tahoe-shares --no-default-features --lib -- -D warnings
	$(CARGO) clippy -p tahoe-shares --no-default-features --features alloc --lib -- -D warnings
	$(CARGO) clippy -p tahoe-shares --features _testing --all-targets -- -D warnings

test-rust:
	$(CARGO) test --workspace --all-features

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

# Cross-checks against Tahoe-LAFS 1.20 itself: differential op scripts, both directions of
# reading, and reproducibility of the committed golden files.
test-python: venv python-ext
	$(CARGO) build -p tahoe-shares --example apply_script
	TS_APPLY=$(CURDIR)/target/debug/examples/apply_script $(VPY) -m pytest -q tests/python

# Builds the extension module into the venv (an editable install of ffi-python), then
# checks the type stubs against the module that was built.
python-ext: venv
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/maturin develop --quiet -m ffi-python/Cargo.toml
	$(VPY) -m mypy.stubtest tahoe_shares._native

# Tahoe-LAFS 1.20's own storage suites, with tahoe_shares.tahoe installed as its
# StorageServer (tests/tahoe/run_trial.py fails if the drop-in is not in use).
# tests.tahoe.test_local_client runs Tahoe's IStorageServer compliance mixins against
# tahoe_shares.tahoe.LocalStorageClient.
TAHOE_SUITES := allmydata.test.test_istorageserver allmydata.test.test_storage_http \
	tests.tahoe.test_local_client
test-tahoe: python-ext
	rm -rf target/tahoe-trial && mkdir -p target/tahoe-trial
	cd target/tahoe-trial && PYTHONPATH=$(CURDIR) $(CURDIR)/$(VPY) $(CURDIR)/tests/tahoe/run_trial.py $(TAHOE_SUITES)

# Regenerates the golden files with Tahoe's own classes (they are committed).
golden: venv
	$(VPY) tools/make_golden.py core/tests/golden

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

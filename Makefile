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

.PHONY: test demo venv rust-targets fmt-check clippy test-rust doc nostd test-python golden clean

test: fmt-check clippy test-rust doc nostd test-python
	@echo "make test: all checks passed"

# --- set-up -----------------------------------------------------------------------------

$(VENV)/.stamp: Makefile
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet tahoe-lafs==1.20.0 testtools==2.7.2 pytest hypothesis
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
test-python: venv
	$(CARGO) build -p tahoe-shares --example apply_script
	TS_APPLY=$(CURDIR)/target/debug/examples/apply_script $(VPY) -m pytest -q tests/python

# Regenerates the golden files with Tahoe's own classes (they are committed).
golden: venv
	$(VPY) tools/make_golden.py core/tests/golden

# --- the main job -------------------------------------------------------------------------

demo:
	$(CARGO) build -q -p tahoe-shares-cli -p tahoe-shares --example make_demo_store
	rm -rf target/demo-storage
	./target/debug/examples/make_demo_store target/demo-storage
	@echo; echo "== tahoe-shares catalog target/demo-storage"
	./target/debug/tahoe-shares catalog target/demo-storage
	@echo; echo "== tahoe-shares verify target/demo-storage"
	./target/debug/tahoe-shares verify target/demo-storage
	@echo; echo "== tahoe-shares dump-share (first share)"
	./target/debug/tahoe-shares dump-share "$$(find target/demo-storage/shares -type f -not -path '*/incoming/*' | sort | head -1)"

clean:
	$(CARGO) clean
	rm -rf $(VENV)

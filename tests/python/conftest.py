"""Shared fixtures for the Tahoe-compatibility tests.

Makes ``tools/`` importable (``tahoe_scripts``, ``make_golden``) and provides the inputs that
come from the Rust and C sides through the environment. A missing input fails the test that needs
it with a clear message; nothing is skipped.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))


def _env_path(name: str, what: str) -> Path:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"environment variable {name} is not set: it must name {what}")
    path = Path(value)
    if not path.exists():
        pytest.fail(f"{name}={value} does not exist: it must name {what}")
    return path


def _env_program(name: str, what: str) -> Path:
    path = _env_path(name, what)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{name}={path} is not executable")
    return path


@pytest.fixture(scope="session")
def ts_driver() -> Path:
    """The Rust driver of the differential scripts (docs/differential-scripts.md):
    ``TS_DRIVER SCRIPT.json OUT`` (cargo build -p tahoe-shares-drivers)."""
    return _env_program("TS_DRIVER", "the Rust driver of the differential scripts")


@pytest.fixture(scope="session")
def ts_c_driver() -> Path:
    """The C driver of the server scripts: ``TS_C_DRIVER SCRIPT.json STORAGE_DIR``
    (ffi-c/tests/differential.c, built by make test-python)."""
    return _env_program("TS_C_DRIVER", "the C driver of the server scripts")


@pytest.fixture(scope="session")
def crash_states() -> Path:
    """The crash states core/tests/syscall_crash.rs wrote (``TS_SYSCALL_CRASH_DUMP``)."""
    return _env_path("TS_CRASH_STATES", "the crash states written by core/tests/syscall_crash.rs")

"""Shared fixtures for the Tahoe-compatibility tests.

Makes ``tools/`` importable (``tahoe_ops``, ``make_golden``) and provides the two inputs that
come from the Rust side through the environment. A missing input fails the test that needs
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


@pytest.fixture(scope="session")
def ts_apply() -> Path:
    """The Rust op-script runner: ``TS_APPLY SCRIPT.json OUTFILE`` prints the outcomes."""
    path = _env_path("TS_APPLY", "the Rust binary that applies an op script")
    if not os.access(path, os.X_OK):
        pytest.fail(f"TS_APPLY={path} is not executable")
    return path


@pytest.fixture(scope="session")
def crash_states() -> Path:
    """The crash states core/tests/syscall_crash.rs wrote (``TS_SYSCALL_CRASH_DUMP``)."""
    return _env_path("TS_CRASH_STATES", "the crash states written by core/tests/syscall_crash.rs")

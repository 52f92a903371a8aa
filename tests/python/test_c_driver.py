"""The hand-written server script of the C tests, ``ffi-c/tests/differential.json``, against
Tahoe-LAFS 1.20's ``StorageServer``.

``tests/drivers/tests/c_differential.rs`` (run by make test-c) compares the whole script
through the C API with the Rust core. Here the ops Tahoe can run (``tahoe_subset``: all but
the C API's own ``cancel_lease``, its storage indexes of other than 16 bytes and its wrong
upload secret) run through Tahoe's server, the C driver (``TS_C_DRIVER``) and the Rust
driver (``TS_DRIVER``): the same normalised results, the same files byte for byte. The
random server scripts run through the C driver in ``test_server_compat.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tahoe_scripts import server as ops

SCRIPT = Path(__file__).resolve().parents[2] / "ffi-c" / "tests" / "differential.json"


def test_hand_written_script_matches_tahoe(
    ts_driver: Path, ts_c_driver: Path, tmp_path: Path
) -> None:
    script = json.loads(SCRIPT.read_text(encoding="utf-8"))
    subset, kept = ops.tahoe_subset(script)
    left_out = [op for i, op in enumerate(script["ops"]) if i not in set(kept)]
    # A guard against a subset that lost what matters: only the C API's own ops go.
    for op in left_out:
        assert (
            op["op"] == "cancel_lease"
            or "upload_secret" in op
            or len(bytes.fromhex(op.get("si") or script["ops"][op["alloc"]]["si"])) != 16
        ), op
    assert len(left_out) <= 13, f"only ops {kept} are Tahoe's"
    names = {op["op"] for op in subset["ops"]}
    assert {"restart", "expire", "advise_corrupt_share", "slot_testv_and_readv_and_writev"} <= names
    path = tmp_path / "subset.json"
    path.write_text(json.dumps(subset, indent=1), encoding="utf-8")
    tahoe = ops.run_script(subset, tmp_path / "tahoe")
    tahoe_tree = ops.snapshot(tmp_path / "tahoe")
    assert any(p.startswith("corruption-advisories/") for p in tahoe_tree)
    problems = []
    for name, program in (("c", ts_c_driver), ("rust", ts_driver)):
        results = ops.run_driver(program, path, tmp_path / name)
        problems += ops.result_differences(tahoe, results, subset["ops"], name)
        tree, renamed = ops.advisories_as_tahoe_names(ops.snapshot(tmp_path / name))
        assert renamed == 1, f"{name}: the script reports one share twice in one second"
        problems += [
            f"storage directories: {p}" for p in ops.tree_differences(tahoe_tree, tree, name)
        ]
    if problems:
        pytest.fail(f"differs from Tahoe 1.20 (script {path}):\n" + "\n".join(problems))

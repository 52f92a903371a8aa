"""Byte compatibility between tahoe-shares and Tahoe-LAFS 1.20's share containers.

* Differential: random op scripts (``tools/tahoe_ops.py``) replayed by Tahoe's classes and by
  the Rust runner named in ``TS_APPLY`` give the same outcomes and byte-identical files.
* Cross-read: every golden script applied by the Rust library (``TS_APPLY``) gives a file that
  Tahoe's classes read exactly as the golden ``manifest.json`` entry says, byte-identical to
  the file Tahoe wrote.
* Golden: ``tools/make_golden.py`` reproduces ``core/tests/golden/`` byte for byte.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from allmydata.storage.mutable import MutableShareFile

import make_golden
import tahoe_ops

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = REPO_ROOT / "tools"
GOLDEN_DIR = REPO_ROOT / "core" / "tests" / "golden"

N_OPS = 40
SEEDS = range(50)
CASES = [
    pytest.param(kind, schema, seed, id=f"{kind}-v{schema}-seed{seed}")
    for kind in tahoe_ops.KINDS
    for schema in tahoe_ops.SCHEMAS
    for seed in SEEDS
]


def _first_difference(a: bytes, b: bytes) -> int | None:
    """Offset of the first byte where ``a`` and ``b`` differ (or one ends), None if equal."""
    if a == b:
        return None
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def _describe_bytes_difference(label: str, expected: bytes, actual: bytes) -> str | None:
    offset = _first_difference(expected, actual)
    if offset is None:
        return None
    window = slice(max(0, offset - 8), offset + 24)
    return (
        f"{label}: first difference at offset {offset} (0x{offset:x}); "
        f"lengths {len(expected)} (expected) vs {len(actual)} (actual)\n"
        f"  expected[{window.start}:]: {expected[window].hex()}\n"
        f"  actual  [{window.start}:]: {actual[window].hex()}"
    )


def _describe_file_difference(expected: Path, actual: Path) -> str | None:
    if not expected.exists() or not actual.exists():
        if expected.exists() == actual.exists():
            return None
        present, absent = (expected, actual) if expected.exists() else (actual, expected)
        return f"{present.name} exists but {absent.name} does not"
    return _describe_bytes_difference(
        f"{expected.name} vs {actual.name}", expected.read_bytes(), actual.read_bytes()
    )


def _describe_dump_difference(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    problems = []
    for key in sorted(expected.keys() | actual.keys()):
        want, got = expected.get(key), actual.get(key)
        if want == got:
            continue
        if key == "data" and isinstance(want, str) and isinstance(got, str):
            difference = _describe_bytes_difference("data", bytes.fromhex(want), bytes.fromhex(got))
            problems.append(difference or f"data: hex spelled differently: {want}")
        else:
            problems.append(f"{key}: expected {json.dumps(want)}, Tahoe read {json.dumps(got)}")
    return problems


# --------------------------------------------------------------------------------------------
# Differential: Tahoe vs TS_APPLY


@pytest.mark.parametrize(("kind", "schema", "seed"), CASES)
def test_differential(kind: str, schema: int, seed: int, ts_apply: Path, tmp_path: Path) -> None:
    script = tahoe_ops.random_script(seed, kind, schema, N_OPS)
    script_path = tmp_path / "script.json"
    script_path.write_text(json.dumps(script), encoding="utf-8")
    tahoe_file, rust_file = tmp_path / "tahoe.bin", tmp_path / "rust.bin"

    expected = tahoe_ops.apply_to_file(script, tahoe_file)
    proc = subprocess.run(
        [str(ts_apply), str(script_path), str(rust_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    context = f"script ({script_path}):\n{json.dumps(script)}"
    if proc.returncode != 0:
        pytest.fail(f"TS_APPLY exited with status {proc.returncode}\n{proc.stderr}\n{context}")
    try:
        actual = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"TS_APPLY printed no JSON outcome list: {proc.stdout!r}\n{context}")

    problems = []
    if actual != expected:
        index = next(
            (i for i, (a, b) in enumerate(zip(expected, actual)) if a != b),
            min(len(expected), len(actual)),
        )
        problems.append(
            f"outcomes differ first at op {index}\n  tahoe: {expected}\n  rust:  {actual}"
        )
    file_problem = _describe_file_difference(tahoe_file, rust_file)
    if file_problem:
        problems.append(file_problem)
    if problems:
        pytest.fail("\n".join([*problems, context]))


def test_random_script_is_deterministic() -> None:
    for kind in tahoe_ops.KINDS:
        for schema in tahoe_ops.SCHEMAS:
            first = tahoe_ops.random_script(7, kind, schema, N_OPS)
            assert first == tahoe_ops.random_script(7, kind, schema, N_OPS)
            assert first != tahoe_ops.random_script(8, kind, schema, N_OPS)


def test_random_scripts_reach_edge_cases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards the differential test against a generator that drifted into easy cases."""
    relocations_with_extra_leases = 0
    change_container_size = MutableShareFile._change_container_size

    def counting(self: MutableShareFile, f: Any, new_size: int) -> None:
        nonlocal relocations_with_extra_leases
        old_offset = self._read_extra_lease_offset(f)
        extra_leases = self._read_num_extra_leases(f)
        change_container_size(self, f, new_size)
        if self._read_extra_lease_offset(f) != old_offset and extra_leases:
            relocations_with_extra_leases += 1

    monkeypatch.setattr(MutableShareFile, "_change_container_size", counting)
    for kind in tahoe_ops.KINDS:
        seen: Counter[str] = Counter()
        for schema in tahoe_ops.SCHEMAS:
            for seed in SEEDS:
                script = tahoe_ops.random_script(seed, kind, schema, N_OPS)
                seen.update(tahoe_ops.apply_to_file(script, tmp_path / "share"))
        wanted = {"ok", "IndexError", "DataTooLargeError", "deleted", "skipped"}
        assert wanted <= seen.keys(), f"{kind}: outcomes seen {dict(seen)}"
    assert relocations_with_extra_leases > 0


# --------------------------------------------------------------------------------------------
# Cross-read: files written by Rust, read by Tahoe


def test_rust_written_files_read_by_tahoe(ts_apply: Path, tmp_path: Path) -> None:
    """Every golden script, applied by the Rust library, gives a file that Tahoe reads as it
    reads its own golden file, and that is byte-identical to it."""
    manifest = json.loads((GOLDEN_DIR / "manifest.json").read_text(encoding="utf-8"))
    problems = []
    for name, entry in sorted(manifest.items()):
        script_path = tmp_path / f"{name}.json"
        script_path.write_text(json.dumps(entry["script"]), encoding="utf-8")
        out = tmp_path / name
        run = subprocess.run(
            [str(ts_apply), str(script_path), str(out)], capture_output=True, text=True, check=False
        )
        if run.returncode != 0:
            problems.append(f"{name}: TS_APPLY failed: {run.stderr.strip()}")
            continue
        if json.loads(run.stdout) != entry["outcomes"]:
            problems.append(f"{name}: outcomes {run.stdout.strip()} != {entry['outcomes']}")
        try:
            actual = tahoe_ops.dump(out)
        except Exception as e:  # report every unreadable file, not only the first
            problems.append(f"{name}: Tahoe cannot read it: {e!r}")
            continue
        problems.extend(f"{name}: {p}" for p in _describe_dump_difference(entry["dump"], actual))
        diff = _describe_file_difference(GOLDEN_DIR / name, out)
        if diff:
            problems.append(f"{name}: {diff}")
    if problems:
        pytest.fail("\n".join(problems))


# --------------------------------------------------------------------------------------------
# Golden files


def test_make_golden_reproduces_committed_files(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(TOOLS_DIR / "make_golden.py"), str(tmp_path)],
        check=True,
        timeout=300,
    )
    assert GOLDEN_DIR.is_dir(), f"{GOLDEN_DIR} is missing: run tools/make_golden.py there"
    committed = {p.name for p in GOLDEN_DIR.iterdir() if p.is_file()}
    fresh = {p.name for p in tmp_path.iterdir() if p.is_file()}
    assert fresh == committed, (
        f"only committed: {sorted(committed - fresh)}; "
        f"only regenerated: {sorted(fresh - committed)}"
    )
    problems = [
        _describe_bytes_difference(
            name, (GOLDEN_DIR / name).read_bytes(), (tmp_path / name).read_bytes()
        )
        for name in sorted(fresh)
    ]
    problems = [p for p in problems if p]
    if problems:
        pytest.fail(
            "regenerated golden files differ from core/tests/golden "
            "(expected = committed, actual = regenerated):\n" + "\n".join(problems)
        )


def test_golden_manifest_matches_tahoe_reading() -> None:
    manifest = json.loads((GOLDEN_DIR / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(manifest) == sorted(make_golden.golden_scripts())
    problems = []
    for name, entry in manifest.items():
        actual = tahoe_ops.dump(GOLDEN_DIR / name)
        problems.extend(f"{name}: {p}" for p in _describe_dump_difference(entry["dump"], actual))
    assert not problems, "\n".join(problems)

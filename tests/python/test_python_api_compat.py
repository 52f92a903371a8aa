"""Property-based differential tests of the Python bindings against Tahoe-LAFS 1.20.

Hypothesis draws a seed; ``tahoe_scripts.server.random_script`` turns it into a server script
(generated while running on Tahoe's own ``StorageServer``, so it reaches live uploads,
passing tests, expiry deadlines and the other states of ``test_server_compat.py``). The
script then runs three times, each over its own storage directory:

1. through Tahoe's ``allmydata.storage.server.StorageServer`` (the reference);
2. through the drop-in ``tahoe_shares.tahoe.StorageServer``, driven by the very same
   runner (it must be indistinguishable from Tahoe's class);
3. through the native API, ``tahoe_shares.Server``, with a runner of its own.

All three must give the same result for every op and the same regular files, byte for
byte. The generator avoids the documented deviations listed in ``test_server_compat.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tahoe_scripts import server as ops
import tahoe_shares
from tahoe_shares.tahoe import StorageServer as DropIn

N_OPS = 40
C_SCRIPT = Path(__file__).resolve().parents[2] / "ffi-c" / "tests" / "differential.json"


class DropInRunner(ops.TahoeServerRunner):
    """Tahoe's runner, with the drop-in in place of Tahoe's ``StorageServer``."""

    server_class = DropIn

    def __init__(self, script: ops.Script, storedir: str | os.PathLike[str]) -> None:
        super().__init__(script, storedir)
        assert isinstance(self.server, DropIn)


_KINDS: list[tuple[type, str]] = [
    (tahoe_shares.UnknownImmutableVersion, "unknown_immutable_container"),
    (tahoe_shares.UnknownMutableMagic, "unknown_mutable_container"),
    (tahoe_shares.DataTooLarge, "data_too_large"),
    (tahoe_shares.ConflictingWrite, "conflicting_write"),
    (tahoe_shares.NoSpace, "no_space"),
    (tahoe_shares.NoSuchLease, "no_such_lease"),
    (tahoe_shares.NoSuchShare, "no_such_share"),
    (tahoe_shares.NoSuchUpload, "no_such_upload"),
    (tahoe_shares.BadUploadSecret, "no_such_upload"),
    (tahoe_shares.UnsupportedOperator, "unsupported_operator"),
    (tahoe_shares.InvalidArgument, "invalid_argument"),
    (tahoe_shares.LimitReached, "limit_reached"),
    (tahoe_shares.AlreadyExists, "already_exists"),
]


class NativeRunner:
    """The script through ``tahoe_shares.Server``, normalised as the other runners do."""

    def __init__(self, script: ops.Script, storedir: str | os.PathLike[str]) -> None:
        self.script, self.storedir = script, os.fspath(storedir)
        self.server = self._start(int(script["start"]))
        self.uploads: dict[int, tuple[bytes, set[int]]] = {}
        self.ops: list[ops.Op] = []

    def apply(self, op: ops.Op) -> ops.Result:
        index = len(self.ops)
        self.ops.append(op)
        now = op["now"]
        # Tahoe's 30-minute timers fire when its clock moves; here the caller drives expiry.
        self.server.expire_stale_uploads(now)
        handler: Callable[[int, ops.Op, int], Any] = getattr(self, "_op_" + op["op"])
        try:
            return {"ok": handler(index, op, now)}
        except tahoe_shares.BadWriteEnabler as e:
            return {"error": "bad_write_enabler", "detail": str(e)}
        except tahoe_shares.Error as e:
            for cls, kind in _KINDS:
                if isinstance(e, cls):
                    return {"error": kind}
            return {"error": f"unexpected: {type(e).__name__}: {e}"}

    def _start(self, now: int) -> tahoe_shares.Server:
        config = self.script.get("config") or {}
        return tahoe_shares.Server(
            self.storedir,
            bytes.fromhex(self.script["nodeid"]),
            now=now,
            reserved_space=config.get("reserved_space", 0),
            readonly=config.get("readonly", False),
            durable=False,
        )

    def _upload(self, op: ops.Op) -> bytes:
        secret, shares = self.uploads.get(op["alloc"], (b"", set()))
        if op["shnum"] not in shares:
            raise tahoe_shares.NoSuchUpload("no writer")
        return bytes.fromhex(op["upload_secret"]) if "upload_secret" in op else secret

    def _op_allocate(self, index: int, op: ops.Op, now: int) -> Any:
        secret = bytes.fromhex(op.get("upload_secret") or (b"upload-%d" % index).hex())
        already, allocated = self.server.allocate_buckets(
            bytes.fromhex(op["si"]), bytes.fromhex(op["renew"]), bytes.fromhex(op["cancel"]),
            set(op["shnums"]), op["size"], secret, owner_num=op.get("owner", 0),
            renew_leases=op["renew_leases"], now=now)
        self.uploads[index] = (secret, set(allocated))
        return {"already_have": sorted(already), "allocated": sorted(allocated)}

    def _op_write(self, index: int, op: ops.Op, now: int) -> Any:
        return self.server.write(bytes.fromhex(self.ops[op["alloc"]]["si"]), op["shnum"],
                                 self._upload(op), op["offset"], bytes.fromhex(op["data"]), now=now)

    def _op_close(self, index: int, op: ops.Op, now: int) -> Any:
        self.server.close(bytes.fromhex(self.ops[op["alloc"]]["si"]), op["shnum"], self._upload(op))
        return None

    def _op_abort(self, index: int, op: ops.Op, now: int) -> Any:
        self.server.abort(bytes.fromhex(self.ops[op["alloc"]]["si"]), op["shnum"], self._upload(op))
        return None

    def _readers(self, si: bytes) -> dict[int, tahoe_shares.BucketReader]:
        return {n: self.server.open_bucket(si, n) for n in sorted(self.server.shares(si))}

    def _op_get_buckets(self, index: int, op: ops.Op, now: int) -> Any:
        return {str(n): r.length() for n, r in self._readers(bytes.fromhex(op["si"])).items()}

    def _op_read(self, index: int, op: ops.Op, now: int) -> Any:
        reader = self._readers(bytes.fromhex(op["si"])).get(op["shnum"])
        if reader is None:
            raise tahoe_shares.NoSuchShare("no reader")
        return reader.read(op["offset"], op["length"]).hex() if op["length"] > 0 else ""

    def _op_immutable_share_length(self, index: int, op: ops.Op, now: int) -> Any:
        return self.server.immutable_share_length(bytes.fromhex(op["si"]), op["shnum"])

    def _op_mutable_share_length(self, index: int, op: ops.Op, now: int) -> Any:
        return self.server.mutable_share_length(bytes.fromhex(op["si"]), op["shnum"])

    def _op_add_lease(self, index: int, op: ops.Op, now: int) -> Any:
        self.server.add_lease(bytes.fromhex(op["si"]), bytes.fromhex(op["renew"]),
                              bytes.fromhex(op["cancel"]), owner_num=op.get("owner", 1), now=now)
        return None

    def _op_cancel_lease(self, index: int, op: ops.Op, now: int) -> Any:
        self.server.cancel_lease(bytes.fromhex(op["si"]), bytes.fromhex(op["cancel"]))
        return None

    def _op_expire(self, index: int, op: ops.Op, now: int) -> Any:
        return None  # apply() expired the idle uploads, as before every op

    def _op_restart(self, index: int, op: ops.Op, now: int) -> Any:
        self.server.shutdown()
        self.server = self._start(now)
        return None

    def _op_renew_lease(self, index: int, op: ops.Op, now: int) -> Any:
        self.server.renew_lease(bytes.fromhex(op["si"]), bytes.fromhex(op["renew"]), now=now)
        return None

    def _op_slot_testv_and_readv_and_writev(self, index: int, op: ops.Op, now: int) -> Any:
        tw = [
            (e["shnum"], ([(o, n, c.encode(), bytes.fromhex(x)) for o, n, c, x in e["tests"]],
                          [(o, bytes.fromhex(d)) for o, d in e["writes"]], e["new_length"]))
            for e in op["tw"]
        ]
        secrets = (bytes.fromhex(op["we"]), bytes.fromhex(op["renew"]), bytes.fromhex(op["cancel"]))
        passed, reads = self.server.slot_testv_and_readv_and_writev(
            bytes.fromhex(op["si"]), secrets, tw, [tuple(r) for r in op["readv"]],
            renew_leases=op["renew_leases"], now=now)
        return {"passed": passed, "reads": ops._reads_json(reads)}

    def _op_slot_readv(self, index: int, op: ops.Op, now: int) -> Any:
        reads = self.server.slot_readv(bytes.fromhex(op["si"]), set(op["shnums"]),
                                       [tuple(r) for r in op["readv"]])
        return ops._reads_json(reads)

    def _op_shares(self, index: int, op: ops.Op, now: int) -> Any:
        return sorted(self.server.shares(bytes.fromhex(op["si"])))

    def _op_advise_corrupt_share(self, index: int, op: ops.Op, now: int) -> Any:
        self.server.advise_corrupt_share(bytes.fromhex(op["share_type"]), bytes.fromhex(op["si"]),
                                         op["shnum"], bytes.fromhex(op["reason"]), now=now)
        return None

    def _op_version(self, index: int, op: ops.Op, now: int) -> Any:
        v = self.server.version()
        return {
            "maximum-mutable-share-size": v["maximum-mutable-share-size"],
            "available-space-is-zero": v["available-space"] == 0,
            **{k: v[k] for k in ("tolerates-immutable-read-overrun",
                                 "delete-mutable-shares-with-zero-length-writev",
                                 "fills-holes-with-zero-bytes",
                                 "prevents-read-past-end-of-share-data")},
        }


def _run(runner: Any, script: ops.Script) -> list[ops.Result]:
    return [runner.apply(op) for op in script["ops"]]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_drop_in_and_native_api_match_tahoe(seed: int, tmp_path_factory: Any) -> None:
    tmp = tmp_path_factory.mktemp("diff")
    script = ops.random_script(seed, N_OPS)
    reference = ops.run_script(script, tmp / "tahoe")
    drop_in = _run(DropInRunner(script, tmp / "drop-in"), script)
    native = _run(NativeRunner(script, tmp / "native"), script)
    for name, results, tree in (("drop-in", drop_in, tmp / "drop-in"),
                                ("native", native, tmp / "native")):
        diffs = ops.result_differences(reference, results, script["ops"])
        assert not diffs, f"{name}, seed {seed}:\n" + "\n".join(diffs[:10])
        tree_diffs = ops.tree_differences(ops.snapshot(tmp / "tahoe"), ops.snapshot(tree))
        assert not tree_diffs, f"{name}, seed {seed}:\n" + "\n".join(tree_diffs[:10])


def test_the_runners_really_differ_from_each_other(tmp_path: Path) -> None:
    """A guard against a vacuous comparison: the drop-in runner uses the drop-in, and a
    script with uploads reaches the native server's upload table."""
    script = ops.random_script(7, N_OPS)
    runner = DropInRunner(script, tmp_path / "a")
    assert type(runner.server).__module__ == "tahoe_shares.tahoe"
    native = NativeRunner(script, tmp_path / "b")
    results = _run(native, script)
    assert any(op["op"] == "allocate" for op in script["ops"])
    assert any("ok" in r and isinstance(r["ok"], dict) and r["ok"].get("allocated") for r in results)


def test_hand_written_c_script(ts_driver: Path, tmp_path: Path) -> None:
    """``ffi-c/tests/differential.json``, the C tests' server script: the native API runs all
    of it as the Rust driver does; the ops Tahoe can run (``tahoe_subset``) give Tahoe's
    results and files through the native API and through the drop-in."""
    script = json.loads(C_SCRIPT.read_text(encoding="utf-8"))
    path = tmp_path / "script.json"
    path.write_text(json.dumps(script), encoding="utf-8")
    rust = ops.run_driver(ts_driver, path, tmp_path / "rust")
    native = _run(NativeRunner(script, tmp_path / "native"), script)
    diffs = ops.result_differences(rust, native, script["ops"], "native", "rust")
    rust_tree, native_tree = ops.snapshot(tmp_path / "rust"), ops.snapshot(tmp_path / "native")
    diffs += ops.tree_differences(rust_tree, native_tree, "native", "rust")
    assert not diffs, "native API against the Rust driver:\n" + "\n".join(diffs)

    subset, _ = ops.tahoe_subset(script)
    reference = ops.run_script(subset, tmp_path / "tahoe")
    tahoe_tree = ops.snapshot(tmp_path / "tahoe")
    for name, runner in (("drop-in", DropInRunner), ("native", NativeRunner)):
        results = _run(runner(subset, tmp_path / f"{name}-subset"), subset)
        tree, renamed = ops.advisories_as_tahoe_names(ops.snapshot(tmp_path / f"{name}-subset"))
        assert renamed == 1, f"{name}: the script reports one share twice in one second"
        diffs = ops.result_differences(reference, results, subset["ops"], name)
        diffs += ops.tree_differences(tahoe_tree, tree, name)
        assert not diffs, f"{name} against Tahoe:\n" + "\n".join(diffs)

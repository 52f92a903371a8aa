"""Server-level differential tests: tahoe-shares' ``Server<FsStore>``, through the Rust core
and through the C API, against Tahoe-LAFS 1.20's ``StorageServer``.

The same server script (docs/differential-scripts.md) runs through Tahoe's
``StorageServer`` with a ``twisted.internet.task.Clock`` set to each op's time, and through
the Rust driver (``tests/drivers``, the binary named in ``TS_DRIVER``) and the C driver
(``ffi-c/tests/differential.c``, named in ``TS_C_DRIVER``), each over a filesystem store.
Each must give the same normalised result per op (the results' ``extra``, which Tahoe's
interface does not return, left out) and storage directories with the same regular files,
byte for byte. Compared are all files; left out
are directories (Tahoe leaves empty ``shares/<prefix>/<si>/`` and ``incoming/<prefix>/``
directories behind, tahoe-shares removes them) and the state files of Tahoe's crawlers
(``lease_checker.history.json``; tahoe-shares has no crawler).

* ``test_random_script``: 100 seeded scripts of 60 ops each, generated while running on
  Tahoe (so they steer towards live uploads, tests that pass, exact timer deadlines).
* ``test_random_scripts_reach_edge_cases`` guards the generator against drifting into easy
  cases.
* Hand-written scripts pin edge cases of Tahoe's ``StorageServer`` first confirmed by
  running Tahoe itself, and other tricky cases, asserting Tahoe's results as well as
  equality.

What Tahoe does nondeterministically is pinned while its ops run: ``os.listdir`` in
``allmydata.storage.server`` returns shares in ascending order (tahoe-shares' order; the
filesystem's order would decide which shares a failing ``renew_lease`` or a ``NoSpace`` in
``add_lease`` reached first), and advisory file names take their time from the clock.

Known, intended deviations. The random scripts avoid them; each has a test below
(``test_deviation_*``) that asserts exactly the documented difference:

1. Mutable writes are validated before any is applied: a vector past the maximum size gives
   ``data_too_large`` and changes nothing, where Tahoe has already written the shares
   before it in the call (and a new share it was creating stays behind, empty). Alone, on
   an existing share, both change nothing.
2. A new mutable share is built in ``incoming/`` and published whole (final bytes
   identical, which every random script checks); so creating one while an immutable upload
   of the same share number is in progress fails with ``already_exists``, where Tahoe
   creates it and the upload's close then replaces it.
3. Advisory names: a name already taken gets a ``.N`` suffix (Tahoe overwrites the earlier
   report). Tahoe names them from ``time.time()``, which in real use adds microseconds
   (``...T083015.123456--...``); tahoe-shares has whole seconds only. With the whole-second
   clock used here the names are identical.
4. ``Config::default().max_advisory_size`` (256 KiB): a larger report is refused with
   ``limit_reached``; Tahoe records it.
5. An empty immutable write is accepted (a no-op returning whether the upload is
   complete); Tahoe 1.20 fails every one with ``ValueError: stop must be > start`` from its
   range map, an internal error.
6. Test operators are parsed before the call (``unsupported_operator`` for anything but
   ``eq``, changing nothing); Tahoe asserts only when it evaluates that test, so after a
   failing test it answers ``passed: false`` instead.
7. Foolscap has no upload secret. The runner gives every allocate a fresh one, so the GBS
   idempotence of tahoe-shares (a repeated allocate with the same secret gets its uploads
   back) is never exercised; a repeated allocate is a new request, which both answer with
   ``allocated: []`` while the first upload is in progress. Writing to a share with
   another allocate's secret (``BadUploadSecret``) and to a finished upload
   (``NoSuchUpload``) are both ``no_such_upload``: the Foolscap client holds no writer.
   Aborting a finished upload is a silent no-op in Tahoe and ``NoSuchUpload`` in
   tahoe-shares; the Python runner reports Tahoe's as ``no_such_upload``.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from allmydata.storage.common import si_b2a, storage_index_to_dir
from allmydata.storage.immutable import BucketWriter
from allmydata.storage.mutable import MutableShareFile
from allmydata.util import idlib

from tahoe_scripts import server as ops

N_OPS = 60
SEEDS = range(100)

T0 = 1_700_000_000
NODEID = bytes(range(1, 21))
SI = bytes.fromhex("00112233445566778899aabbccddeeff")
SI2 = bytes.fromhex("ffeeddccbbaa99887766554433221100")
R1, C1 = b"\x11" * 32, b"\x21" * 32
R2, C2 = b"\x12" * 32, b"\x22" * 32
WE, WE2 = b"\x31" * 32, b"\x32" * 32
MONTH = 31 * 24 * 60 * 60


@pytest.fixture(scope="session")
def drivers(ts_driver: Path, ts_c_driver: Path) -> dict[str, Path]:
    """The drivers compared with Tahoe: the Rust core's and the C API's."""
    return {"rust": ts_driver, "c": ts_c_driver}


# --------------------------------------------------------------------------------------------
# Running both sides


class Run:
    """The outcome of one script on Tahoe's server and through each driver."""

    def __init__(self, script: dict[str, Any], tmp_path: Path, drivers: Drivers) -> None:
        self.script = script
        self.script_path = tmp_path / "script.json"
        self.script_path.write_text(json.dumps(script, indent=1), encoding="utf-8")
        self.tahoe_dir = tmp_path / "tahoe"
        self.tahoe = ops.run_script(script, self.tahoe_dir)
        self.tahoe_tree = ops.snapshot(self.tahoe_dir)
        self.dirs = {name: tmp_path / name for name in drivers}
        try:
            self.results = {
                name: ops.run_driver(program, self.script_path, self.dirs[name])
                for name, program in drivers.items()
            }
        except ops.DriverError as e:
            pytest.fail(str(e))
        self.trees = {name: ops.snapshot(d) for name, d in self.dirs.items()}
        self.rust_dir, self.rust, self.rust_tree = (
            self.dirs["rust"], self.results["rust"], self.trees["rust"]
        )

    def problems(self) -> list[str]:
        problems = []
        for name, results in self.results.items():
            problems += ops.result_differences(self.tahoe, results, self.script["ops"], name)
            problems += [
                f"storage directories: {p}"
                for p in ops.tree_differences(self.tahoe_tree, self.trees[name], name)
            ]
        return problems

    def assert_identical(self) -> list[dict[str, Any]]:
        """Fails with a readable diff unless results and files are identical; returns the
        results."""
        problems = self.problems()
        if problems:
            pytest.fail(
                "tahoe-shares differs from Tahoe 1.20 (expected = tahoe):\n"
                + "\n".join(problems)
                + f"\nscript: {self.script_path} (Tahoe's directory {self.tahoe_dir}, "
                + ", ".join(f"{name}'s {d}" for name, d in self.dirs.items())
                + ")"
            )
        return self.tahoe


class Script:
    """A hand-written script; ``op`` returns the op's index (for ``alloc``)."""

    def __init__(self, **config: Any) -> None:
        self.now = T0
        self.script: dict[str, Any] = {
            "kind": "server", "nodeid": NODEID.hex(), "start": T0, "ops": []
        }
        if config:
            self.script["config"] = config

    def op(self, name: str, dt: int = 0, **fields: Any) -> int:
        self.now += dt
        for key, value in fields.items():
            if isinstance(value, bytes):
                fields[key] = value.hex()
        self.script["ops"].append({"op": name, "now": self.now, **fields})
        return len(self.script["ops"]) - 1

    def allocate(self, shnums: list[int], size: int, *, si: bytes = SI, renew: bytes = R1,
                 cancel: bytes = C1, renew_leases: bool = True, dt: int = 0) -> int:
        return self.op("allocate", dt, si=si, renew=renew, cancel=cancel, shnums=shnums,
                       size=size, renew_leases=renew_leases, owner=0)

    def upload(self, shnums: list[int], data: bytes, **kw: Any) -> int:
        """Allocate, write whole, close."""
        k = self.allocate(shnums, len(data), **kw)
        for n in shnums:
            self.op("write", alloc=k, shnum=n, offset=0, data=data)
            self.op("close", alloc=k, shnum=n)
        return k

    def slot(self, tw: list[dict[str, Any]], *, si: bytes = SI2, we: bytes = WE,
             renew: bytes = R1, cancel: bytes = C1, readv: list[list[int]] | None = None,
             renew_leases: bool = True, dt: int = 0) -> int:
        for entry in tw:
            entry.setdefault("tests", [])
            entry.setdefault("writes", [])
            entry.setdefault("new_length", None)
            entry["tests"] = [[o, n, c, s.hex()] for o, n, c, s in entry["tests"]]
            entry["writes"] = [[o, d.hex()] for o, d in entry["writes"]]
        return self.op("slot_testv_and_readv_and_writev", dt, si=si, we=we, renew=renew,
                       cancel=cancel, tw=tw, readv=readv or [], renew_leases=renew_leases)

    def run(self, tmp_path: Path, drivers: Drivers) -> Run:
        return Run(self.script, tmp_path, drivers)


def ok(value: Any = None) -> dict[str, Any]:
    return {"ok": value}


def err(kind: str) -> dict[str, Any]:
    return {"error": kind}


def tahoe_share(run: Run, si: bytes, n: int) -> Path:
    return run.tahoe_dir / "shares" / storage_index_to_dir(si) / str(n)


# --------------------------------------------------------------------------------------------
# Random scripts


@functools.lru_cache(maxsize=None)
def _random_script(seed: int) -> str:
    return json.dumps(ops.random_script(seed, N_OPS))


@pytest.mark.parametrize("seed", SEEDS)
def test_random_script(seed: int, drivers: Drivers, tmp_path: Path) -> None:
    Run(json.loads(_random_script(seed)), tmp_path, drivers).assert_identical()


def test_random_scripts_are_deterministic() -> None:
    assert _random_script(3) == json.dumps(ops.random_script(3, N_OPS))
    assert _random_script(3) != _random_script(4)


def test_random_scripts_reach_edge_cases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replays every random script on Tahoe, counting what happened."""
    seen: Counter[str] = Counter()
    timeout_abort = BucketWriter._abort_due_to_timeout
    change_size = MutableShareFile._change_container_size
    unlink = MutableShareFile.unlink

    def timed_out(self: BucketWriter) -> None:
        seen["upload expired"] += 1
        timeout_abort(self)

    def relocating(self: MutableShareFile, f: Any, new_size: int) -> None:
        extra = self._read_num_extra_leases(f)
        old = self._read_extra_lease_offset(f)
        change_size(self, f, new_size)
        if extra and self._read_extra_lease_offset(f) != old:
            seen["extra leases moved"] += 1

    def unlinking(self: MutableShareFile) -> None:
        seen["mutable share deleted"] += 1
        unlink(self)

    monkeypatch.setattr(BucketWriter, "_abort_due_to_timeout", timed_out)
    monkeypatch.setattr(MutableShareFile, "_change_container_size", relocating)
    monkeypatch.setattr(MutableShareFile, "unlink", unlinking)
    for seed in SEEDS:
        script = json.loads(_random_script(seed))
        seen[f"config {json.dumps(script.get('config'))}"] += 1
        results = ops.run_script(script, tmp_path / str(seed))
        for op, result in zip(script["ops"], results):
            name = op["op"]
            seen[f"{name}: {result.get('error', 'ok')}"] += 1
            value = result.get("ok")
            if name == "write" and value is True:
                seen["write completed an upload"] += 1
            if name == "allocate" and value:
                seen["allocate granted" if value["allocated"] else "allocate granted nothing"] += 1
                if value["already_have"]:
                    seen["allocate found shares"] += 1
            if name == "slot_testv_and_readv_and_writev" and value:
                seen["slot tests passed" if value["passed"] else "slot tests failed"] += 1
                if value["passed"] and any(e["new_length"] == 0 for e in op["tw"]):
                    seen["slot new_length 0"] += 1
            if name == "read" and value:
                seen["read data"] += 1
        times = [script["start"], *(o["now"] for o in script["ops"])]
        if any(later < earlier for earlier, later in zip(times, times[1:])):
            seen["clock went back"] += 1
    wanted = {
        "config null",
        'config {"readonly": true}',
        'config {"reserved_space": 4611686018427387904}',
        "upload expired", "extra leases moved", "mutable share deleted", "clock went back",
        "write completed an upload", "allocate granted", "allocate granted nothing",
        "allocate found shares", "slot tests passed", "slot tests failed", "slot new_length 0",
        "read data",
        "allocate: ok", "allocate: unknown_immutable_container", "allocate: no_space",
        "write: ok", "write: conflicting_write", "write: data_too_large", "write: no_such_upload",
        "close: ok", "close: no_such_upload", "abort: ok", "abort: no_such_upload",
        "add_lease: ok", "renew_lease: ok", "renew_lease: no_such_lease",
        "slot_testv_and_readv_and_writev: ok",
        "slot_testv_and_readv_and_writev: bad_write_enabler",
        "slot_testv_and_readv_and_writev: data_too_large",
        "slot_testv_and_readv_and_writev: unknown_mutable_container",
        "slot_readv: ok", "slot_readv: unknown_mutable_container",
        "read: ok", "read: no_such_share", "read: unknown_immutable_container",
        "get_buckets: ok", "get_buckets: unknown_immutable_container", "shares: ok",
        "immutable_share_length: ok", "immutable_share_length: no_such_share",
        "immutable_share_length: unknown_immutable_container",
        "mutable_share_length: ok", "mutable_share_length: no_such_share",
        "mutable_share_length: unknown_mutable_container",
        "advise_corrupt_share: ok", "advise_corrupt_share: invalid_argument", "version: ok",
    }
    missing = sorted(wanted - seen.keys())
    assert not missing, f"never reached: {missing}\nseen: {dict(sorted(seen.items()))}"


# --------------------------------------------------------------------------------------------
# Hand-written scripts: immutable uploads


def test_repeated_allocate_while_uploading(drivers: Drivers, tmp_path: Path) -> None:
    """[V] Repeating the identical call returns allocated={} for shares being uploaded."""
    s = Script()
    a = s.allocate([0, 1], 4)
    b = s.allocate([0, 1], 4)
    s.op("write", alloc=b, shnum=0, offset=0, data=b"abcd")
    s.op("write", alloc=a, shnum=0, offset=0, data=b"abcd")
    s.op("close", alloc=a, shnum=0)
    s.allocate([0, 1, 2], 4, renew=R2, cancel=C2, dt=10)
    s.op("abort", alloc=a, shnum=1)
    s.allocate([1], 4, dt=10)
    results = s.run(tmp_path, drivers).assert_identical()
    assert results == [
        ok({"already_have": [], "allocated": [0, 1]}),
        ok({"already_have": [], "allocated": []}),
        err("no_such_upload"),
        ok(True),
        ok(None),
        # Share 1 is still being uploaded: neither held nor allocated.
        ok({"already_have": [0], "allocated": [2]}),
        ok(None),
        ok({"already_have": [0], "allocated": [1]}),
    ]


def test_close_does_not_check_completeness(drivers: Drivers, tmp_path: Path) -> None:
    """[V] Holes read back as zeros; reads are truncated at the end of the data."""
    s = Script()
    k = s.allocate([3], 10)
    s.op("write", alloc=k, shnum=3, offset=2, data=b"abc")
    s.op("write", alloc=k, shnum=3, offset=8, data=b"yz")
    s.op("close", alloc=k, shnum=3)
    s.op("read", si=SI, shnum=3, offset=0, length=100)
    s.op("read", si=SI, shnum=3, offset=9, length=5)
    s.op("read", si=SI, shnum=3, offset=10, length=5)
    s.op("read", si=SI, shnum=3, offset=50, length=5)
    s.op("read", si=SI, shnum=4, offset=0, length=5)
    s.op("immutable_share_length", si=SI, shnum=3)
    s.op("get_buckets", si=SI)
    s.op("write", alloc=k, shnum=3, offset=0, data=b"xx")
    s.op("close", alloc=k, shnum=3)
    results = s.run(tmp_path, drivers).assert_identical()
    assert results[4:] == [
        ok((b"\0\0abc\0\0\0yz").hex()),
        ok(b"z".hex()),
        ok(""),
        ok(""),
        err("no_such_share"),
        ok(10),
        ok({"3": 10}),
        err("no_such_upload"),
        err("no_such_upload"),
    ]


def test_overlapping_writes(drivers: Drivers, tmp_path: Path) -> None:
    """Identical rewrites are accepted, different ones refused (#3801), also when the
    write runs past the end; completion is reported once every byte is written."""
    s = Script()
    k = s.allocate([0], 12)
    s.op("write", alloc=k, shnum=0, offset=4, data=b"4567")
    s.op("write", alloc=k, shnum=0, offset=2, data=b"234567")
    s.op("write", alloc=k, shnum=0, offset=3, data=b"3X5")
    s.op("write", alloc=k, shnum=0, offset=6, data=b"6Xabcdefgh")  # conflicts, too long
    s.op("write", alloc=k, shnum=0, offset=6, data=b"67abcdefgh")  # too long only
    s.op("write", alloc=k, shnum=0, offset=13, data=b"x")
    s.op("write", alloc=k, shnum=0, offset=8, data=b"89AB")
    s.op("write", alloc=k, shnum=0, offset=0, data=b"01")
    s.op("write", alloc=k, shnum=0, offset=0, data=b"0123456789AB")
    s.op("close", alloc=k, shnum=0)
    results = s.run(tmp_path, drivers).assert_identical()
    assert results[1:] == [
        ok(False), ok(False), err("conflicting_write"), err("conflicting_write"),
        err("data_too_large"), err("data_too_large"), ok(False), ok(True), ok(True), ok(None),
    ]


def test_upload_expires_after_thirty_idle_minutes(drivers: Drivers, tmp_path: Path) -> None:
    """Tahoe's 30-minute BucketWriter timer, reset by every write (even a failing one)."""
    s = Script()
    k = s.allocate([0, 1], 4)
    s.op("write", alloc=k, shnum=0, offset=0, data=b"ab", dt=1799)
    s.op("write", alloc=k, shnum=0, offset=3, data=b"XXXXXX", dt=1799)  # too large: resets
    s.op("write", alloc=k, shnum=0, offset=2, data=b"cd", dt=1799)
    s.op("write", alloc=k, shnum=1, offset=0, data=b"ab")  # 1 expired at 1800
    s.op("close", alloc=k, shnum=0, dt=1800)  # 0 expired too
    s.allocate([0, 1], 4, dt=1)
    results = s.run(tmp_path, drivers).assert_identical()
    assert results[1:] == [
        ok(False), err("data_too_large"), ok(True), err("no_such_upload"),
        err("no_such_upload"), ok({"already_have": [], "allocated": [0, 1]}),
    ]


def test_clock_going_back(drivers: Drivers, tmp_path: Path) -> None:
    """Renewal never back-dates (immutable.py:290, mutable.py:323); a timer reset at an
    earlier time moves the deadline back."""
    s = Script()
    s.upload([0], b"data")
    s.slot([{"shnum": 0, "writes": [(0, b"m")]}])
    s.op("add_lease", si=SI, renew=R1, cancel=C1, dt=-5000)
    s.op("renew_lease", si=SI2, renew=R1, dt=-5000)
    k = s.allocate([1], 1)
    s.op("write", alloc=k, shnum=1, offset=0, data=b"x", dt=-100)
    s.op("close", alloc=k, shnum=1, dt=1800)
    run = s.run(tmp_path, drivers)
    run.assert_identical()
    assert run.tahoe[-1] == err("no_such_upload")
    leases = list(MutableShareFile(str(tahoe_share(run, SI2, 0))).get_leases())
    assert [lease.get_expiration_time() for lease in leases] == [T0 + MONTH]


def test_renew_lease_stops_at_the_first_share_without_the_lease(
    drivers: Drivers, tmp_path: Path
) -> None:
    """Shares visited before the failing one stay renewed (in ascending share order)."""
    s = Script()
    s.upload([0], b"zero")
    s.upload([1], b"one", renew=R2, cancel=C2, renew_leases=False)
    s.upload([2], b"two", renew_leases=False)
    s.op("renew_lease", si=SI, renew=R1, dt=100)
    s.op("renew_lease", si=SI, renew=R2, dt=100)
    s.op("renew_lease", si=SI2, renew=R1, dt=100)
    s.op("add_lease", si=SI, renew=R2, cancel=C2, dt=100)
    s.op("renew_lease", si=SI, renew=R2, dt=100)
    results = s.run(tmp_path, drivers).assert_identical()
    assert results[-5:] == [
        err("no_such_lease"), err("no_such_lease"), err("no_such_lease"), ok(None), ok(None),
    ]


def test_allocate_renews_leases_of_every_held_share(drivers: Drivers, tmp_path: Path) -> None:
    """alreadygot holds every share held, not only those asked for; each gets the lease
    (owner 0) with renew_leases, none without."""
    s = Script()
    s.upload([0, 1], b"ab")
    s.allocate([5], 1, renew=R2, cancel=C2, renew_leases=False, dt=10)
    s.allocate([1, 4], 1, renew=R2, cancel=C2, dt=10)
    s.allocate([4], 1, renew=R1, cancel=C1, dt=10)
    results = s.run(tmp_path, drivers).assert_identical()
    assert results[-3:] == [
        ok({"already_have": [0, 1], "allocated": [5]}),
        ok({"already_have": [0, 1], "allocated": [4]}),
        ok({"already_have": [0, 1], "allocated": []}),
    ]


def test_readonly_server(drivers: Drivers, tmp_path: Path) -> None:
    """[V] A read-only server: no space for immutable shares (a 0-byte one still fits), a
    new lease record raises NoSpace (#3823), mutable writes are accepted (#390), advisories
    are dropped."""
    s = Script(readonly=True)
    s.allocate([0], 1)
    k = s.allocate([0], 0)
    s.op("close", alloc=k, shnum=0)
    s.allocate([1], 0)  # renews share 0's lease: no new record
    s.allocate([2], 0, renew=R2, cancel=C2)
    s.op("add_lease", si=SI, renew=R2, cancel=C2)
    s.slot([{"shnum": 0, "writes": [(0, b"mutable on a read-only server")]}])
    for i, r in enumerate((R2, b"\x13" * 32, b"\x14" * 32, b"\x15" * 32)):
        s.op("add_lease", si=SI2, renew=r, cancel=C2, dt=i)  # the fifth lease needs space
    s.op("advise_corrupt_share", si=SI, shnum=0, share_type=b"immutable", reason=b"bad")
    s.op("version")
    results = s.run(tmp_path, drivers).assert_identical()
    assert results[:6] == [
        ok({"already_have": [], "allocated": []}),
        ok({"already_have": [], "allocated": [0]}),
        ok(None),
        ok({"already_have": [0], "allocated": [1]}),
        err("no_space"),
        err("no_space"),
    ]
    assert results[6]["ok"]["passed"] is True
    assert results[7:12] == [ok(None), ok(None), ok(None), err("no_space"), ok(None)]
    assert results[12]["ok"]["available-space-is-zero"] is True


def test_reserved_space(drivers: Drivers, tmp_path: Path) -> None:
    s = Script(reserved_space=2**62)
    s.allocate([0, 1], 1)
    s.allocate([2], 0)
    s.op("version")
    results = s.run(tmp_path, drivers).assert_identical()
    assert results[:2] == [
        ok({"already_have": [], "allocated": []}),
        ok({"already_have": [], "allocated": [2]}),
    ]


# --------------------------------------------------------------------------------------------
# Hand-written scripts: mutable slots


def test_bad_write_enabler_is_checked_even_without_writes(
    drivers: Drivers, tmp_path: Path
) -> None:
    """[V] BadWriteEnablerError names the node that recorded the write enabler."""
    s = Script()
    s.slot([{"shnum": 0, "writes": [(0, b"x")]}])
    s.slot([], we=WE2, readv=[[0, 1]])
    s.slot([{"shnum": 1, "writes": [(0, b"y")]}], we=WE2)
    s.slot([], readv=[[0, 1]])
    results = s.run(tmp_path, drivers).assert_identical()
    message = f"The write enabler was recorded by nodeid '{idlib.nodeid_b2a(NODEID)}'."
    assert results[1:] == [
        {"error": "bad_write_enabler", "detail": message},
        {"error": "bad_write_enabler", "detail": message},
        ok({"passed": True, "reads": {"0": [b"x".hex()]}}),
    ]


def test_test_vectors(drivers: Drivers, tmp_path: Path) -> None:
    """[V] A missing share reads as empty; (0, 1, eq, b"") means absent or empty; test reads
    are truncated; evaluation stops at the first failure, and a failure anywhere writes
    nothing; reads come from every share, before the writes."""
    absent = (0, 1, "eq", b"")
    s = Script()
    s.slot([{"shnum": 0, "tests": [absent], "writes": [(0, b"")]}])  # creates, empty
    s.slot([{"shnum": 0, "tests": [absent], "writes": [(0, b"hello")]}], readv=[[0, 9]])
    s.slot([{"shnum": 0, "tests": [absent], "writes": [(0, b"bye")]}], readv=[[0, 9]])
    s.slot([{"shnum": 0, "tests": [(0, 9, "eq", b"hello"), (3, 9, "eq", b"lo")]},
            {"shnum": 1, "tests": [absent], "writes": [(0, b"one")]}], readv=[[1, 2]])
    s.slot([{"shnum": 1, "writes": [(0, b"ONE")]},
            {"shnum": 0, "tests": [(0, 5, "eq", b"HELLO")], "writes": [(0, b"x")]}],
           readv=[[0, 5], [4, 10]])
    s.slot([{"shnum": 2, "tests": [(5, 5, "eq", b"")]}])  # past the end of a missing share
    s.op("slot_readv", si=SI2, shnums=[], readv=[[0, 10]])
    s.op("slot_readv", si=SI2, shnums=[1, 7], readv=[[1, 1], [9, 1]])
    s.op("slot_readv", si=SI, shnums=[], readv=[[0, 1]])
    results = s.run(tmp_path, drivers).assert_identical()
    assert [r["ok"]["passed"] for r in results[:6]] == [True, True, False, True, False, True]
    assert results[2]["ok"]["reads"] == {"0": [b"hello".hex()]}
    assert results[4]["ok"]["reads"] == {
        "0": [b"hello".hex(), b"o".hex()],
        "1": [b"one".hex(), ""],
    }
    assert results[6:] == [
        ok({"0": [b"hello".hex()], "1": [b"one".hex()], "2": [""]}),
        ok({"1": [b"n".hex(), ""]}),
        ok({}),
    ]


def test_mutable_writes_and_new_length(drivers: Drivers, tmp_path: Path) -> None:
    """[V] An empty write vector creates a share of length 0; gaps are zero-filled; a
    zero-length write past the end extends the share; new_length applies after the writes,
    only if it shrinks; new_length=0 deletes and never creates."""
    s = Script()
    s.slot([{"shnum": 0}])
    s.op("mutable_share_length", si=SI2, shnum=0)
    s.slot([{"shnum": 0, "writes": [(4, b"abc"), (10, b"")]}])
    s.op("mutable_share_length", si=SI2, shnum=0)
    s.slot([{"shnum": 0, "writes": [(0, b"Z")], "new_length": 100}], readv=[[0, 20]])
    s.slot([{"shnum": 0, "writes": [(20, b"tail")], "new_length": 6}], readv=[[0, 30]])
    s.slot([{"shnum": 0}], readv=[[0, 30]])
    s.slot([{"shnum": 1, "new_length": 0}, {"shnum": 2, "writes": [(0, b"2")]}])
    s.op("shares", si=SI2)
    s.slot([{"shnum": 0, "writes": [(0, b"gone")], "new_length": 0},
            {"shnum": 2, "new_length": 0}])
    s.op("shares", si=SI2)
    s.op("mutable_share_length", si=SI2, shnum=0)
    s.slot([{"shnum": 0, "writes": [(0, b"again")]}], readv=[[0, 9]])
    results = s.run(tmp_path, drivers).assert_identical()
    assert results[1] == ok(0)
    assert results[3] == ok(10)
    assert results[5]["ok"]["reads"]["0"] == [(b"Z\0\0\0abc\0\0\0").hex()]
    assert results[6]["ok"]["reads"]["0"] == [(b"Z\0\0\0ab").hex()]
    assert results[8:12] == [ok([0, 2]), results[9], ok([]), err("no_such_share")]
    assert results[12] == ok({"passed": True, "reads": {}})


def test_mutable_leases(drivers: Drivers, tmp_path: Path) -> None:
    """Four header slots, then extra leases that growth moves; renewals in place; leases
    only with renew_leases, only for shares that survive."""
    s = Script()
    s.slot([{"shnum": 0, "writes": [(0, b"a" * 10)]}, {"shnum": 1}], renew_leases=False)
    for i in range(7):
        r = bytes([0x40 + i]) * 32
        s.slot([{"shnum": 0}], renew=r, cancel=r, dt=60)
    s.op("add_lease", si=SI2, renew=b"\x50" * 32, cancel=C1, dt=60)
    s.slot([{"shnum": 0, "writes": [(500, b"grown")]}], renew=b"\x42" * 32, dt=60)
    s.op("renew_lease", si=SI2, renew=b"\x46" * 32, dt=60)
    s.op("renew_lease", si=SI2, renew=b"\x41" * 32, dt=60)  # share 1 has no leases
    s.slot([{"shnum": 0, "writes": [(2000, b"more")]}, {"shnum": 1, "new_length": 0}], dt=60)
    run = s.run(tmp_path, drivers)
    results = run.assert_identical()
    assert results[-2:] == [err("no_such_lease"), ok({"passed": True, "reads": {"0": [], "1": []}})]
    assert len(list(MutableShareFile(str(tahoe_share(run, SI2, 0))).get_leases())) == 9


def test_new_share_after_a_lease_without_space(drivers: Drivers, tmp_path: Path) -> None:
    """Leases are added after all writes, in order; NoSpace at an existing share stops
    them, so a new share later in the call is published without a lease (a new share
    earlier in the call has one)."""
    s = Script(readonly=True)
    s.slot([{"shnum": 1, "writes": [(0, b"one")]}])
    for i in range(3):
        s.op("add_lease", si=SI2, renew=bytes([0x60 + i]) * 32, cancel=C2)
    s.slot([{"shnum": 0, "writes": [(0, b"zero")]}, {"shnum": 1, "writes": [(3, b"!")]},
            {"shnum": 2, "writes": [(0, b"two")]}], renew=R2, cancel=C2, dt=10)
    s.op("slot_readv", si=SI2, shnums=[], readv=[[0, 9]])
    run = s.run(tmp_path, drivers)
    results = run.assert_identical()
    assert results[4:] == [
        err("no_space"),
        ok({"0": [b"zero".hex()], "1": [b"one!".hex()], "2": [b"two".hex()]}),
    ]
    leases = [MutableShareFile(str(tahoe_share(run, SI2, n))).get_leases() for n in range(3)]
    assert [len(list(x)) for x in leases] == [1, 4, 0]


def test_kinds_do_not_mix(drivers: Drivers, tmp_path: Path) -> None:
    """Immutable operations on mutable shares and the reverse fail without changes; lease
    operations take either kind; missing shares' lengths differ in Tahoe's exception
    (FileNotFoundError, KeyError) but not in kind."""
    s = Script()
    s.upload([0], b"immutable")
    s.slot([{"shnum": 0, "writes": [(0, b"mutable")]}])
    s.allocate([1], 1, si=SI2)
    s.slot([{"shnum": 1, "writes": [(0, b"x")]}], si=SI)
    s.op("slot_readv", si=SI, shnums=[], readv=[[0, 1]])
    s.op("read", si=SI2, shnum=0, offset=0, length=1)
    s.op("get_buckets", si=SI2)
    s.op("immutable_share_length", si=SI2, shnum=0)
    s.op("mutable_share_length", si=SI, shnum=0)
    s.op("immutable_share_length", si=SI, shnum=5)
    s.op("mutable_share_length", si=SI2, shnum=5)
    s.op("add_lease", si=SI, renew=R2, cancel=C2, dt=5)
    s.op("add_lease", si=SI2, renew=R2, cancel=C2, dt=5)
    s.op("renew_lease", si=SI2, renew=R2, dt=5)
    s.op("shares", si=SI2)
    results = s.run(tmp_path, drivers).assert_identical()
    assert results[4:15] == [
        err("unknown_immutable_container"),
        err("unknown_mutable_container"),
        err("unknown_mutable_container"),
        err("unknown_immutable_container"),
        err("unknown_immutable_container"),
        err("unknown_immutable_container"),
        err("unknown_mutable_container"),
        err("no_such_share"),
        err("no_such_share"),
        ok(None),
        ok(None),
    ]


def test_advisories(drivers: Drivers, tmp_path: Path) -> None:
    """Recorded only for a share held (#3824), whatever its kind, as UTF-8 (#3879); text
    that is not UTF-8 is refused for a share held and ignored for one not held."""
    s = Script()
    s.upload([0], b"data")
    s.slot([{"shnum": 2, "writes": [(0, b"m")]}])
    s.op("advise_corrupt_share", si=SI, shnum=0, share_type=b"immutable",
         reason="bad hash ✓ é\nline two".encode())
    s.op("advise_corrupt_share", si=SI, shnum=1, share_type=b"immutable", reason=b"not held")
    s.op("advise_corrupt_share", si=SI2, shnum=2, share_type=b"immutable", reason=b"", dt=1)
    s.op("advise_corrupt_share", si=SI, shnum=3, share_type=b"immutable", reason=b"\xff")
    s.op("advise_corrupt_share", si=SI, shnum=0, share_type=b"\xc3", reason=b"r", dt=1)
    s.op("advise_corrupt_share", si=SI, shnum=0, share_type=b"mutable", reason=b"\xff", dt=1)
    run = s.run(tmp_path, drivers)
    results = run.assert_identical()
    assert results[-6:] == [ok()] * 4 + [err("invalid_argument")] * 2
    advisories = sorted(p for p in run.tahoe_tree if p.startswith("corruption-advisories/"))
    assert [p.split("--")[1] for p in advisories] == [
        f"{si_b2a(SI).decode()}-0",
        f"{si_b2a(SI2).decode()}-2",
    ]


# --------------------------------------------------------------------------------------------
# Deviations: each asserts exactly the documented difference


def _prefix_snapshot(script: Script, n_ops: int, path: Path) -> dict[str, bytes]:
    prefix = dict(script.script, ops=script.script["ops"][:n_ops])
    ops.run_script(prefix, path)
    return ops.snapshot(path)


def test_deviation_1_mutable_writes_validated_first(drivers: Drivers, tmp_path: Path) -> None:
    s = Script()
    s.slot([{"shnum": 0, "writes": [(0, b"zero")]}, {"shnum": 1, "writes": [(0, b"one")]}])
    s.slot([{"shnum": 0, "writes": [(0, b"ZERO")]},
            {"shnum": 1, "writes": [(0, b"ONE"), (2**60, b"x")]},
            {"shnum": 2, "writes": [(0, b"new")]}])
    s.slot([{"shnum": 3, "writes": [(2**60, b"x")]}])
    before = _prefix_snapshot(s, 1, tmp_path / "before")
    run = s.run(tmp_path, drivers)
    assert run.tahoe[1:] == run.rust[1:] == [err("data_too_large")] * 2
    assert run.rust_tree == before, "tahoe-shares changed something"
    changed = {p for p in run.tahoe_tree if before.get(p) != run.tahoe_tree[p]}
    share = f"shares/{storage_index_to_dir(SI2)}/"
    # Tahoe wrote share 0, and share 1 up to the oversize vector; it left share 3 behind.
    assert changed == {share + "0", share + "1", share + "3"}
    assert MutableShareFile(str(run.tahoe_dir / share / "1")).readv([(0, 9)]) == [b"ONE"]
    assert MutableShareFile(str(run.tahoe_dir / share / "3")).get_length() == 0


def test_deviation_2_mutable_share_created_whole(drivers: Drivers, tmp_path: Path) -> None:
    s = Script()
    k = s.allocate([0], 3, si=SI2)
    s.slot([{"shnum": 0, "writes": [(0, b"mutable")]}])
    s.op("write", alloc=k, shnum=0, offset=0, data=b"imm")
    s.op("close", alloc=k, shnum=0)
    s.op("read", si=SI2, shnum=0, offset=0, length=9)
    run = s.run(tmp_path, drivers)
    assert run.tahoe[1] == ok({"passed": True, "reads": {}})
    assert run.rust[1] == err("already_exists")
    # Tahoe's close renamed the immutable share over the mutable one: the same end state.
    assert run.tahoe[2:] == run.rust[2:] == [ok(True), ok(None), ok(b"imm".hex())]
    assert run.tahoe_tree == run.rust_tree


def test_deviation_3_advisory_name_taken(drivers: Drivers, tmp_path: Path) -> None:
    s = Script()
    s.upload([0], b"data")
    s.op("advise_corrupt_share", si=SI, shnum=0, share_type=b"immutable", reason=b"first")
    s.op("advise_corrupt_share", si=SI, shnum=0, share_type=b"immutable", reason=b"second")
    run = s.run(tmp_path, drivers)
    assert run.tahoe == run.rust
    name = "corruption-advisories/" + ops.advisory_name(s.now, SI, 0)
    assert {p for p in run.tahoe_tree if p.startswith("corruption-")} == {name}
    assert b"second" in run.tahoe_tree[name]
    assert {p for p in run.rust_tree if p.startswith("corruption-")} == {name, name + ".1"}
    assert b"first" in run.rust_tree[name] and b"second" in run.rust_tree[name + ".1"]
    assert run.rust_tree[name + ".1"] == run.tahoe_tree[name]


def test_deviation_4_advisory_size_limit(drivers: Drivers, tmp_path: Path) -> None:
    s = Script()
    s.upload([0], b"data")
    s.op("advise_corrupt_share", si=SI, shnum=0, share_type=b"immutable", reason=b"r" * 300_000)
    run = s.run(tmp_path, drivers)
    assert run.tahoe[-1] == ok() and run.rust[-1] == err("limit_reached")
    assert [p for p in run.tahoe_tree if p.startswith("corruption-")]
    assert not [p for p in run.rust_tree if p.startswith("corruption-")]


def test_deviation_5_empty_immutable_write(drivers: Drivers, tmp_path: Path) -> None:
    s = Script()
    k = s.allocate([0], 2)
    s.op("write", alloc=k, shnum=0, offset=0, data=b"ab")
    s.op("write", alloc=k, shnum=0, offset=1, data=b"")
    s.op("write", alloc=k, shnum=0, offset=5, data=b"")
    s.op("close", alloc=k, shnum=0)
    run = s.run(tmp_path, drivers)
    assert run.tahoe[2:4] == [err("unexpected: ValueError: stop must be > start")] * 2
    assert run.rust[2:4] == [ok(True), err("data_too_large")]
    assert run.tahoe[4] == run.rust[4] == ok()
    assert run.tahoe_tree == run.rust_tree


def test_deviation_6_operators_parsed_first(drivers: Drivers, tmp_path: Path) -> None:
    s = Script()
    s.slot([{"shnum": 0, "writes": [(0, b"data")]}])
    s.slot([{"shnum": 0, "tests": [(0, 4, "ne", b"xxxx")], "writes": [(0, b"X")]}])
    s.slot([{"shnum": 0, "tests": [(0, 4, "eq", b"xxxx"), (0, 4, "ne", b"")],
             "writes": [(0, b"X")]}])
    run = s.run(tmp_path, drivers)
    assert run.tahoe[1] == run.rust[1] == err("unsupported_operator")  # [V] only eq
    assert run.tahoe[2] == ok({"passed": False, "reads": {"0": []}})
    assert run.rust[2] == err("unsupported_operator")
    assert run.tahoe_tree == run.rust_tree


def test_deviation_7_finished_uploads(drivers: Drivers, tmp_path: Path) -> None:
    s = Script()
    k = s.allocate([0, 1], 1)
    s.op("write", alloc=k, shnum=0, offset=0, data=b"a")
    s.op("close", alloc=k, shnum=0)
    s.op("abort", alloc=k, shnum=0)  # Tahoe: a silent no-op, normalised
    s.op("abort", alloc=k, shnum=1)
    s.op("abort", alloc=k, shnum=1)
    s.op("close", alloc=k, shnum=1)
    s.op("write", alloc=k, shnum=1, offset=0, data=b"b")
    results = s.run(tmp_path, drivers).assert_identical()
    assert results[3:] == [err("no_such_upload"), ok(), *[err("no_such_upload")] * 3]

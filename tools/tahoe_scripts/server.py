"""The server vocabulary of the differential scripts, replayed by Tahoe-LAFS 1.20's own
``allmydata.storage.server.StorageServer`` over a storage directory, with a
``twisted.internet.task.Clock`` set to each op's ``now``: the results and the directory are
the reference that the Rust driver (tests/drivers), the C driver (ffi-c/tests/differential.c)
and the Python bindings must reproduce. The format, its ops, the normalised results and the
error kinds are described in docs/differential-scripts.md ("Server scripts").

Two sources of nondeterminism in Tahoe are pinned down while an op runs (only inside
``allmydata.storage.server``): ``os.listdir`` returns names in ascending share-number order
(the filesystem's order decides which shares a failing ``renew_lease`` or ``add_lease``
reached first; tahoe-shares goes in ascending order), and advisory file names take the time
from the clock instead of ``time.time()``.

:func:`run_script` replays a script, :func:`tahoe_subset` keeps the ops Tahoe can run,
:func:`snapshot`, :func:`tree_differences` and :func:`result_differences` compare runs,
:func:`random_script` generates a script while running it on Tahoe.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

from allmydata.interfaces import (
    BadWriteEnablerError,
    ConflictingWriteError,
    DataTooLargeError,
    NoSpace,
)
from allmydata.mutable.layout import MAX_MUTABLE_SHARE_SIZE
from allmydata.storage import server as server_module
from allmydata.storage.common import (
    UnknownImmutableContainerVersionError,
    UnknownMutableContainerVersionError,
    si_b2a,
    storage_index_to_dir,
)
from allmydata.storage.immutable import BucketWriter
from allmydata.storage.mutable import MutableShareFile
from allmydata.storage.server import StorageServer
from allmydata.util import time_format
from twisted.internet.error import AlreadyCalled, AlreadyCancelled
from twisted.internet.task import Clock

from ._common import Op, Script, ScriptError, describe_bytes_difference, field_bytes

Result = dict[str, Any]

VERSION_KEY = b"http://allmydata.org/tahoe/protocols/storage/v1"

#: Files Tahoe's (unstarted) crawlers keep in the storage directory; tahoe-shares has no
#: crawler. They are not share storage and are left out of the comparison.
CRAWLER_FILES = frozenset(
    {
        "lease_checker.history.json",
        "lease_checker.state.json",
        "lease_checker.history",
        "lease_checker.state",
        "bucket_counter.state.json",
        "bucket_counter.state",
    }
)

#: The lock file of a tahoe-shares writer and its write-ahead log (docs/format.md §8 and
#: §5a); Tahoe ignores both. They are not share storage and are left out of the comparison.
LOCK_FILE = "tahoe-shares.lock"
WAL_FILE = "tahoe-shares.wal"


def _error(kind: str, **extra: Any) -> Result:
    return {"error": kind, **extra}


# --------------------------------------------------------------------------------------------
# Determinism inside allmydata.storage.server


def _share_order(name: str) -> tuple[int, int, str]:
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


class _SortedListdirOs:
    """``os`` as seen by ``allmydata.storage.server``, with ``listdir`` in share order."""

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    @staticmethod
    def listdir(path: Any) -> list[str]:
        return sorted(os.listdir(path), key=_share_order)


class _ClockTimeFormat:
    """``time_format`` as seen by ``allmydata.storage.server``: "now" is the clock's."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        return getattr(time_format, name)

    def iso_utc(self, now: float | None = None, sep: str = "_") -> str:
        return time_format.iso_utc(self._clock.seconds() if now is None else now, sep)


@contextlib.contextmanager
def _deterministic(clock: Clock) -> Iterator[None]:
    saved = server_module.os, server_module.time_format
    server_module.os = _SortedListdirOs()  # type: ignore[assignment]
    server_module.time_format = _ClockTimeFormat(clock)  # type: ignore[assignment]
    try:
        yield
    finally:
        server_module.os, server_module.time_format = saved


# --------------------------------------------------------------------------------------------
# Running scripts


def _reads_json(reads: dict[int, list[bytes]]) -> dict[str, list[str]]:
    return {str(n): [d.hex() for d in data] for n, data in sorted(reads.items())}


def advisory_name(now: int, si: bytes, shnum: int) -> str:
    """The file name Tahoe gives an advisory recorded at ``now`` (whole seconds)."""
    stamp = time_format.iso_utc(now, sep="T")
    return f"{stamp}--{si_b2a(si).decode()}-{shnum}".replace(":", "")


class TahoeServerRunner:
    """One Tahoe ``StorageServer`` over ``storedir``, driven op by op."""

    #: The class of the server: Tahoe's, or one that must be indistinguishable from it.
    server_class: Any = StorageServer

    def __init__(self, script: Script, storedir: str | os.PathLike[str]) -> None:
        if script.get("kind") != "server":
            raise ScriptError('a server script needs "kind": "server"')
        self.storedir = os.fspath(storedir)
        self.nodeid = field_bytes(script, "nodeid", 20)
        self.config = script.get("config") or {}
        self.clock = Clock()
        self.clock.rightNow = int(script["start"])
        self.server = self._start()
        #: The bucket writers of each allocate op, by op index.
        self.writers: dict[int, dict[int, BucketWriter]] = {}
        self.ops: list[Op] = []

    def _start(self) -> StorageServer:
        with _deterministic(self.clock):
            return self.server_class(
                self.storedir,
                self.nodeid,
                reserved_space=self.config.get("reserved_space", 0),
                readonly_storage=self.config.get("readonly", False),
                clock=self.clock,
            )

    # ----- plumbing -------------------------------------------------------------------------

    def apply(self, op: Op) -> Result:
        """Run the next op and return its normalised result."""
        index = len(self.ops)
        self.ops.append(op)
        handler: Callable[[int, Op], Any] | None = getattr(self, "_op_" + str(op.get("op")), None)
        if handler is None:
            raise ScriptError(f"op {index}: unknown op {op.get('op')!r}")
        now = op.get("now")
        if not isinstance(now, int) or now < 0:
            raise ScriptError(f"op {index}: now must be a non-negative integer")
        with _deterministic(self.clock):
            # Set the clock (an int keeps lease expiry times integral) and fire due timers.
            self.clock.rightNow = now
            self.clock.advance(0)
            try:
                return {"ok": handler(index, op)}
            except _Outcome as e:
                return e.result
            except UnknownImmutableContainerVersionError:
                return _error("unknown_immutable_container")
            except UnknownMutableContainerVersionError:
                return _error("unknown_mutable_container")
            except DataTooLargeError:
                return _error("data_too_large")
            except ConflictingWriteError:
                return _error("conflicting_write")
            except BadWriteEnablerError as e:
                return _error("bad_write_enabler", detail=str(e))
            except NoSpace:
                return _error("no_space")
            except ScriptError:
                raise
            except Exception as e:  # any other is a difference worth seeing in the diff
                return _error(f"unexpected: {type(e).__name__}: {e}")

    def _writer(self, op: Op) -> BucketWriter:
        k = op["alloc"]
        if not (isinstance(k, int) and 0 <= k < len(self.ops) - 1):
            raise ScriptError(f"alloc {k!r} is not the index of an earlier op")
        if self.ops[k].get("op") != "allocate":
            raise ScriptError(f"op {k} is not an allocate op")
        if "upload_secret" in op:
            raise ScriptError("Tahoe has no upload secrets: an upload op cannot name one")
        bw = self.writers.get(k, {}).get(op["shnum"])
        if bw is None:
            raise _Outcome(_error("no_such_upload"))
        return bw

    # ----- immutable ------------------------------------------------------------------------

    def _op_allocate(self, index: int, op: Op) -> Any:
        self.writers[index] = {}
        already, writers = self.server.allocate_buckets(
            field_bytes(op, "si", 16),
            field_bytes(op, "renew", 32),
            field_bytes(op, "cancel", 32),
            set(op["shnums"]),
            op["size"],
            owner_num=op.get("owner", 0),
            renew_leases=op["renew_leases"],
        )
        self.writers[index] = writers
        return {"already_have": sorted(already), "allocated": sorted(writers)}

    def _op_write(self, index: int, op: Op) -> Any:
        bw = self._writer(op)
        try:
            return bw.write(op["offset"], field_bytes(op, "data"))
        except (AlreadyCancelled, AlreadyCalled):
            raise _Outcome(_error("no_such_upload")) from None
        except AssertionError:
            if bw.closed:
                raise _Outcome(_error("no_such_upload")) from None
            raise

    def _op_close(self, index: int, op: Op) -> Any:
        bw = self._writer(op)
        finished = bw.closed
        try:
            bw.close()
        except AssertionError:  # precondition(not self.closed)
            if finished:
                raise _Outcome(_error("no_such_upload")) from None
            raise
        return None

    def _op_abort(self, index: int, op: Op) -> Any:
        bw = self._writer(op)
        finished = bw.closed
        bw.abort()  # a silent no-op on a finished writer
        if finished:
            raise _Outcome(_error("no_such_upload"))
        return None

    def _buckets(self, op: Op) -> dict[int, Any]:
        return self.server.get_buckets(field_bytes(op, "si", 16))

    def _op_get_buckets(self, index: int, op: Op) -> Any:
        return {str(n): r.get_length() for n, r in sorted(self._buckets(op).items())}

    def _op_read(self, index: int, op: Op) -> Any:
        reader = self._buckets(op).get(op["shnum"])
        if reader is None:
            raise _Outcome(_error("no_such_share"))
        return reader.read(op["offset"], op["length"]).hex()

    def _op_immutable_share_length(self, index: int, op: Op) -> Any:
        try:
            return self.server.get_immutable_share_length(field_bytes(op, "si", 16), op["shnum"])
        except FileNotFoundError:
            raise _Outcome(_error("no_such_share")) from None

    # ----- leases ---------------------------------------------------------------------------

    def _op_add_lease(self, index: int, op: Op) -> Any:
        return self.server.add_lease(
            field_bytes(op, "si", 16),
            field_bytes(op, "renew", 32),
            field_bytes(op, "cancel", 32),
            owner_num=op.get("owner", 1),
        )

    def _op_renew_lease(self, index: int, op: Op) -> Any:
        try:
            return self.server.renew_lease(field_bytes(op, "si", 16), field_bytes(op, "renew", 32))
        except IndexError:
            raise _Outcome(_error("no_such_lease")) from None

    # ----- mutable --------------------------------------------------------------------------

    def _op_slot_testv_and_readv_and_writev(self, index: int, op: Op) -> Any:
        tw: dict[int, Any] = {}
        operators: set[bytes] = set()
        for entry in op["tw"]:
            n = entry["shnum"]
            if n in tw:
                raise ScriptError(f"op {index}: share {n} listed twice")
            tests = [(o, n_, c.encode(), bytes.fromhex(x)) for o, n_, c, x in entry["tests"]]
            operators.update(t[2] for t in tests)
            writes = [(o, bytes.fromhex(d)) for o, d in entry["writes"]]
            tw[n] = (tests, writes, entry["new_length"])
        secrets = (
            field_bytes(op, "we", 32),
            field_bytes(op, "renew", 32),
            field_bytes(op, "cancel", 32),
        )
        try:
            passed, reads = self.server.slot_testv_and_readv_and_writev(
                field_bytes(op, "si", 16),
                secrets,
                tw,
                [tuple(r) for r in op["readv"]],
                renew_leases=op["renew_leases"],
            )
        except AssertionError:
            if operators - {b"eq"}:
                raise _Outcome(_error("unsupported_operator")) from None
            raise
        return {"passed": passed, "reads": _reads_json(reads)}

    def _op_slot_readv(self, index: int, op: Op) -> Any:
        reads = self.server.slot_readv(
            field_bytes(op, "si", 16), set(op["shnums"]), [tuple(r) for r in op["readv"]]
        )
        return _reads_json(reads)

    def _op_mutable_share_length(self, index: int, op: Op) -> Any:
        try:
            return self.server.get_mutable_share_length(field_bytes(op, "si", 16), op["shnum"])
        except KeyError:
            raise _Outcome(_error("no_such_share")) from None

    # ----- the rest -------------------------------------------------------------------------

    def _op_shares(self, index: int, op: Op) -> Any:
        return sorted(n for n, _ in self.server.get_shares(field_bytes(op, "si", 16)))

    def _op_advise_corrupt_share(self, index: int, op: Op) -> Any:
        try:
            return self.server.advise_corrupt_share(
                field_bytes(op, "share_type"),
                field_bytes(op, "si", 16),
                op["shnum"],
                field_bytes(op, "reason"),
            )
        except UnicodeDecodeError:
            raise _Outcome(_error("invalid_argument")) from None

    def _op_expire(self, index: int, op: Op) -> Any:
        return None  # setting the clock to ``now`` fired the due timers

    def _op_restart(self, index: int, op: Op) -> Any:
        # The uploads in progress die with the old server (stopService aborts them, which
        # also stops their timers), and later ops naming them find no writer.
        self.server.stopService()
        self.writers = {k: {} for k in self.writers}
        self.server = self._start()
        return None

    def _op_version(self, index: int, op: Op) -> Any:
        v = self.server.get_version()[VERSION_KEY]
        flags = (
            b"tolerates-immutable-read-overrun",
            b"delete-mutable-shares-with-zero-length-writev",
            b"fills-holes-with-zero-bytes",
            b"prevents-read-past-end-of-share-data",
        )
        return {
            "maximum-mutable-share-size": v[b"maximum-mutable-share-size"],
            "available-space-is-zero": v[b"available-space"] == 0,
            **{f.decode(): v[f] for f in flags},
        }


class _Outcome(Exception):
    """Carries a normalised error result out of an op handler."""

    def __init__(self, result: Result) -> None:
        super().__init__(result)
        self.result = result


def run_script(script: Script, storedir: str | os.PathLike[str]) -> list[Result]:
    """Replay ``script`` with Tahoe's ``StorageServer`` over ``storedir``; one result per op."""
    runner = TahoeServerRunner(script, storedir)
    return [runner.apply(op) for op in script["ops"]]


class DriverError(RuntimeError):
    """A driver program failed, or printed something that is not one result per line."""


def run_driver(
    program: str | os.PathLike[str], script_path: str | os.PathLike[str],
    storedir: str | os.PathLike[str],
) -> list[Result]:
    """Runs a driver program (``PROGRAM SCRIPT.json STORAGE_DIR``: the Rust driver of
    tests/drivers, the C driver ffi-c/tests/differential.c) and returns its results, each in
    :func:`tahoe_view`."""
    proc = subprocess.run(
        [os.fspath(program), os.fspath(script_path), os.fspath(storedir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise DriverError(
            f"{program} exited with status {proc.returncode}\n{proc.stderr}\n"
            f"script: {script_path}"
        )
    try:
        return [tahoe_view(json.loads(line)) for line in proc.stdout.splitlines()]
    except json.JSONDecodeError:
        raise DriverError(f"{program} printed something that is not JSON lines:\n{proc.stdout}")


def advisories_as_tahoe_names(tree: dict[str, bytes]) -> tuple[dict[str, bytes], int]:
    """A snapshot of a tahoe-shares directory with its advisories named as Tahoe names them,
    and how many were renamed: a second report of a share in the same second is
    ``NAME.1`` in tahoe-shares, where Tahoe writes it over the first (deviation 3 of
    tests/python/test_server_compat.py)."""
    out = dict(tree)
    renamed = 0
    for rel in sorted(tree):
        base, _, suffix = rel.rpartition(".")
        if rel.startswith("corruption-advisories/") and suffix.isdigit() and base in tree:
            out[base] = out.pop(rel)
            renamed += 1
    return out, renamed


def tahoe_view(result: Result) -> Result:
    """A driver's result as Tahoe's runner gives it: without ``extra`` (what Tahoe's
    interface does not return)."""
    return {k: v for k, v in result.items() if k != "extra"}


def _tahoe_can_run(op: Op, dropped_allocs: set[int]) -> bool:
    if op.get("op") == "cancel_lease":  # a client cannot cancel a lease in Tahoe 1.20
        return False
    if "alloc" in op:
        return op["alloc"] not in dropped_allocs and "upload_secret" not in op
    return "si" not in op or len(bytes.fromhex(op["si"])) == 16


def tahoe_subset(script: Script) -> tuple[Script, list[int]]:
    """The ops of ``script`` that Tahoe's ``StorageServer`` can run, as a script of their own,
    and the index in ``script`` of each op kept.

    Left out: ``cancel_lease``; ops on storage indexes that are not 16 bytes; a ``write``,
    ``close`` or ``abort`` that names its own ``upload_secret`` or an allocate op left out.
    ``alloc`` indexes are renumbered. What the left-out ops changed is not in the subset's
    run, so its results and files are compared with other drivers' runs of the subset.
    """
    kept: list[int] = []
    dropped: set[int] = set()
    new_index: dict[int, int] = {}
    ops = []
    for i, op in enumerate(script["ops"]):
        if not _tahoe_can_run(op, dropped):
            dropped.add(i)
            continue
        op = dict(op)
        if "alloc" in op:
            op["alloc"] = new_index[op["alloc"]]
        new_index[i] = len(ops)
        ops.append(op)
        kept.append(i)
    return dict(script, ops=ops), kept


# --------------------------------------------------------------------------------------------
# Comparing storage directories


def snapshot(storedir: str | os.PathLike[str]) -> dict[str, bytes]:
    """Every regular file under ``storedir`` (relative POSIX path -> bytes), leaving out the
    crawler state files, tahoe-shares' lock file and any directory (Tahoe leaves empty ones
    behind)."""
    root = Path(storedir)
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        skipped = rel in CRAWLER_FILES or rel in (LOCK_FILE, WAL_FILE)
        if skipped or path.is_symlink() or not path.is_file():
            continue
        files[rel] = path.read_bytes()
    return files


def tree_differences(
    expected: dict[str, bytes],
    actual: dict[str, bytes],
    actual_name: str = "rust",
    expected_name: str = "tahoe",
) -> list[str]:
    """Readable differences between two snapshots (by default expected = Tahoe's, actual =
    the Rust driver's)."""
    problems = []
    for rel in sorted(expected.keys() - actual.keys()):
        problems.append(f"only in {expected_name}'s directory: {rel} ({len(expected[rel])} bytes)")
    for rel in sorted(actual.keys() - expected.keys()):
        problems.append(f"only in {actual_name}'s directory: {rel} ({len(actual[rel])} bytes)")
    for rel in sorted(expected.keys() & actual.keys()):
        difference = describe_bytes_difference(
            expected[rel], actual[rel], expected_name, actual_name
        )
        if difference:
            problems.append(f"{rel}: {difference}")
    return problems


def result_differences(
    expected: list[Result],
    actual: list[Result],
    ops: list[Op],
    actual_name: str = "rust",
    expected_name: str = "tahoe",
) -> list[str]:
    """Readable differences between two result lists (by default expected = Tahoe's, actual
    = the Rust driver's)."""
    problems = []
    if len(expected) != len(actual):
        problems.append(
            f"{len(expected)} results from {expected_name}, {len(actual)} from {actual_name}"
        )
    for i, (want, got) in enumerate(zip(expected, actual)):
        if want != got:
            op = json.dumps(ops[i]) if i < len(ops) else "?"
            if len(op) > 400:
                op = op[:400] + "..."
            problems.append(
                f"op {i}: {op}\n    {expected_name}: {json.dumps(want)}\n"
                f"    {actual_name}: {json.dumps(got)}"
            )
    return problems


# --------------------------------------------------------------------------------------------
# Random scripts

_EPOCH = 1_700_000_000
_DAY = 86_400
_TIMEOUT = 30 * 60
_N_SHARES = 5
_SECRETS = 8
#: Mutable share data stays below this many bytes (apart from the deliberately oversized
#: writes, which change nothing).
_MUTABLE_DATA_LIMIT = 1500
_TEXT = "abcdefghijklmnopqrstuvwxyz ABC.,:;-_\n\t0123456789éßø✓€"


class _Generator:
    """Builds a script op by op while running it on Tahoe, so every choice can look at the
    real state: live bucket writers, written ranges, share contents (tests that pass),
    timers (uploads expiring at exactly 30 minutes).

    The random choices stay clear of the known, documented deviations (see
    tests/python/test_server_compat.py): a mutable write vector past the maximum size is
    only sent alone, to an existing share; each allocate is new (fresh upload secret);
    advisories never share a name; test operators are always ``eq``; mutable and immutable
    shares use separate storage indexes, and a cross-kind op that writes is only sent where
    it fails without changing anything.
    """

    def __init__(self, seed: int, storedir: str) -> None:
        rng = self.rng = random.Random(f"tahoe-server-ops:{seed}")
        self.now = _EPOCH + rng.randrange(30 * _DAY)
        r = rng.random()
        config: dict[str, Any] = {}
        if r < 0.08:
            config = {"readonly": True}
        elif r < 0.12:
            config = {"reserved_space": 2**62}
        self.script: Script = {
            "kind": "server",
            "nodeid": rng.randbytes(20).hex(),
            "start": self.now,
            "ops": [],
        }
        if config:
            self.script["config"] = config
        # Storage indexes: the second of each kind shares the first's 2-character prefix
        # directory, and one mutable index shares an immutable one's.
        imm = [rng.randbytes(16) for _ in range(3)]
        imm[1] = imm[0][:1] + bytes([imm[0][1] & 0xC0 | imm[1][1] & 0x3F]) + imm[1][2:]
        mut = [rng.randbytes(16) for _ in range(3)]
        mut[1] = mut[0][:1] + bytes([mut[0][1] & 0xC0 | mut[1][1] & 0x3F]) + mut[1][2:]
        mut[2] = imm[2][:1] + bytes([imm[2][1] & 0xC0 | mut[2][1] & 0x3F]) + mut[2][2:]
        self.imm, self.mut = imm, mut
        self.unused_si = rng.randbytes(16)
        self.we = {si: rng.randbytes(32) for si in mut}
        self.renew = [rng.randbytes(32) for _ in range(_SECRETS)]
        self.cancel = [rng.randbytes(32) for _ in range(_SECRETS)]
        self.runner = TahoeServerRunner(self.script, storedir)
        self.sharedir = Path(storedir) / "shares"
        self.results: list[Result] = []
        # (alloc op index, shnum) -> [intended content, written ranges]
        self.uploads: dict[tuple[int, int], tuple[bytes, list[tuple[int, int]]]] = {}
        self.advisories: set[str] = set()

    # ----- state ----------------------------------------------------------------------------

    def share_path(self, si: bytes, n: int) -> Path:
        return self.sharedir / storage_index_to_dir(si) / str(n)

    def published(self, si: bytes) -> list[int]:
        d = self.sharedir / storage_index_to_dir(si)
        return sorted(int(p.name) for p in d.iterdir() if p.name.isdigit()) if d.is_dir() else []

    def mutable_data(self, si: bytes, n: int) -> bytes | None:
        path = self.share_path(si, n)
        if not path.exists():
            return None
        share = MutableShareFile(str(path))
        return share.readv([(0, share.get_length())])[0]

    def live_uploads(self) -> list[tuple[int, int]]:
        return [
            key
            for key in self.uploads
            if not self.runner.writers[key[0]][key[1]].closed
        ]

    def any_si(self) -> bytes:
        held = [si for si in (*self.imm, *self.mut) if self.published(si)]
        if held and self.rng.random() < 0.6:
            return self.rng.choice(held)
        r = self.rng.random()
        if r < 0.45:
            return self.rng.choice(self.imm)
        if r < 0.9:
            return self.rng.choice(self.mut)
        return self.unused_si

    def pair(self) -> tuple[bytes, bytes]:
        i = self.rng.randrange(_SECRETS)
        j = i if self.rng.random() < 0.9 else self.rng.randrange(_SECRETS)
        return self.renew[i], self.cancel[j]

    # ----- time -----------------------------------------------------------------------------

    def advance(self) -> None:
        rng = self.rng
        r = rng.random()
        if r < 0.4:
            return
        if r < 0.92:
            self.now += rng.randint(1, 30)
        elif r < 0.965:
            self.now += rng.randint(120, 600)
        elif r < 0.98:
            # Land exactly on, or one second before, a live upload's 30-minute deadline.
            live = self.live_uploads()
            if live:
                k, n = rng.choice(live)
                deadline = int(self.runner.writers[k][n]._timeout.getTime())
                self.now = max(self.now, deadline - rng.choice((0, 1)))
            else:
                self.now += _TIMEOUT
        elif r < 0.99:
            self.now += rng.randint(_DAY, 40 * _DAY)
        else:
            self.now = max(0, self.now - rng.randint(1, 3000))  # the clock goes back

    # ----- immutable ------------------------------------------------------------------------

    def allocate(self) -> Op:
        rng = self.rng
        si = rng.choice(self.imm)
        published = self.published(self.mut[0]) or self.published(self.mut[1])
        if published and rng.random() < 0.05:
            # An allocate at a storage index holding mutable shares fails before any change.
            si = self.mut[0] if self.published(self.mut[0]) else self.mut[1]
        renew, cancel = self.pair()
        r = rng.random()
        size = 0 if r < 0.04 else rng.randint(1, 60) if r < 0.5 else rng.randint(61, 700)
        return {
            "op": "allocate",
            "si": si.hex(),
            "renew": renew.hex(),
            "cancel": cancel.hex(),
            "shnums": sorted(rng.sample(range(_N_SHARES), rng.randint(1, 3))),
            "size": size,
            "renew_leases": rng.random() < 0.8,
            "owner": 0,
        }

    def pick_upload(self, dead_chance: float) -> tuple[int, int] | None:
        rng = self.rng
        live = self.live_uploads()
        if live and rng.random() >= dead_chance:
            return rng.choice(live)
        if not live and rng.random() < 0.8:
            return None  # rather something else than yet another dead writer
        allocs = [i for i, op in enumerate(self.script["ops"]) if op["op"] == "allocate"]
        if not allocs:
            return None
        return rng.choice(allocs), rng.randrange(_N_SHARES)

    def write(self) -> Op | None:
        rng = self.rng
        key = self.pick_upload(0.08)
        if key is None:
            return None
        k, n = key
        content, written = self.uploads.get(key, (rng.randbytes(64), []))
        size = len(content)
        r = rng.random()
        if not written and 0.62 <= r < 0.86:
            r = rng.random() * 0.62  # nothing to overlap yet: write in order or anywhere
        if r < 0.45:  # in order: the first byte not yet written
            start = 0
            for a, b in sorted(written):
                if a <= start:
                    start = max(start, b)
            if start < size:
                offset, data = start, content[start : start + rng.randint(1, 250)]
            else:  # complete: rewrite a piece identically
                offset = rng.randrange(size) if size else 0
                data = content[offset : offset + rng.randint(1, 100)]
        elif r < 0.62:  # anywhere inside
            offset = rng.randint(0, size)
            data = content[offset : offset + rng.randint(0, 200)]
        elif r < 0.72:  # identical rewrite overlapping what is written
            a, b = rng.choice(written)
            offset = max(0, a - rng.randint(0, 20))
            data = content[offset : min(size, b + rng.randint(0, 20))]
        elif r < 0.86:  # conflicting rewrite
            a, b = rng.choice(written)
            offset = max(0, a - rng.randint(0, 10))
            buf = bytearray(content[offset : min(size, b + rng.randint(0, 10))])
            flip = rng.randrange(a - offset, b - offset)
            buf[flip] ^= 1 << rng.randrange(8)
            data = bytes(buf)
        else:  # runs past the allocated size, or starts past it
            offset = rng.randint(max(0, size - 40), size + 5)
            data = content[offset:] + rng.randbytes(rng.randint(1, 20))
        if not data:
            # Tahoe 1.20 fails every empty write with ValueError (a deviation, see
            # tests/python/test_server_compat.py): write one byte instead.
            data = content[offset : offset + 1] or rng.randbytes(1)
        return {"op": "write", "alloc": k, "shnum": n, "offset": offset, "data": data.hex()}

    def close(self) -> Op | None:
        key = self.pick_upload(0.1)
        if key is None:
            return None
        return {"op": "close", "alloc": key[0], "shnum": key[1]}

    def abort(self) -> Op | None:
        key = self.pick_upload(0.2)
        if key is None:
            return None
        return {"op": "abort", "alloc": key[0], "shnum": key[1]}

    def share(self, kinds: list[bytes]) -> tuple[bytes, int]:
        """Mostly a share that exists, of a storage index in ``kinds``."""
        rng = self.rng
        held = [(si, n) for si in kinds for n in self.published(si)]
        if held and rng.random() < 0.7:
            return rng.choice(held)
        return rng.choice(kinds), rng.randrange(_N_SHARES)

    def read(self) -> Op:
        rng = self.rng
        si, n = self.share(self.imm if rng.random() < 0.85 else self.mut)
        return {
            "op": "read",
            "si": si.hex(),
            "shnum": n,
            "offset": rng.choice((0, rng.randint(0, 800))),
            "length": rng.randint(0, 800),
        }

    # ----- mutable --------------------------------------------------------------------------

    def vector(self, length: int) -> tuple[int, bytes]:
        rng = self.rng
        r = rng.random()
        if r < 0.35:  # overwrite inside, possibly running past the end
            offset, size = rng.randint(0, length), rng.randint(0, 100)
        elif r < 0.6:  # append
            offset, size = length, rng.randint(1, 150)
        elif r < 0.75:  # leave a gap that is filled with zeros
            offset, size = length + rng.randint(1, 100), rng.randint(0, 80)
        elif r < 0.85:  # a zero-length write past the end still extends the share
            offset, size = length + rng.randint(0, 50), 0
        else:  # large growth (moves the extra leases)
            offset, size = length + rng.randint(0, 50), rng.randint(150, 400)
        if offset + size > _MUTABLE_DATA_LIMIT:
            offset = rng.randint(0, min(length, _MUTABLE_DATA_LIMIT - 1))
            size = rng.randint(0, min(100, _MUTABLE_DATA_LIMIT - offset))
        return offset, rng.randbytes(size)

    def test_vector(self, data: bytes | None) -> list[Any]:
        rng = self.rng
        current = data or b""
        r = rng.random()
        offset = rng.randint(0, len(current))
        length = rng.randint(0, 64)
        specimen = current[offset : offset + length]
        if r < 0.55:  # passes
            pass
        elif r < 0.7:  # "absent or empty"
            offset, length, specimen = 0, 1, b""
        elif r < 0.8:  # past the end reads empty
            offset, length, specimen = len(current) + rng.randint(0, 9), 5, b""
        elif specimen and r < 0.9:  # one byte differs
            buf = bytearray(specimen)
            buf[rng.randrange(len(buf))] ^= 0x80
            specimen = bytes(buf)
        else:  # one byte too many
            specimen += b"\x00"
        return [offset, length, "eq", specimen.hex()]

    def slot_write(self) -> Op:
        rng = self.rng
        si = rng.choice(self.mut)
        we = self.we[si]
        imm_published = [s for s in self.imm if self.published(s)]
        if imm_published and rng.random() < 0.04:
            # At a storage index holding immutable shares: fails before any change.
            si = rng.choice(imm_published)
        elif rng.random() < 0.07:
            we = rng.randbytes(32)
        renew, cancel = self.pair()
        if rng.random() < 0.3:  # a new lease on every share written
            renew, cancel = rng.randbytes(32), rng.randbytes(32)
        tw = []
        existing = [n for n in self.published(si)]
        if existing and rng.random() < 0.03:
            # A vector past the maximum size, alone, on an existing share: both refuse it
            # before writing anything.
            tw.append(
                {
                    "shnum": rng.choice(existing),
                    "tests": [],
                    "writes": [[MAX_MUTABLE_SHARE_SIZE + rng.randrange(100), "00"]],
                    "new_length": None,
                }
            )
        else:
            for n in rng.sample(range(_N_SHARES), rng.choice((1, 1, 2, 2, 3))):
                data = self.mutable_data(si, n) if si in self.we else None
                tests = []
                if rng.random() < 0.6:
                    tests = [self.test_vector(data) for _ in range(rng.choice((1, 1, 2)))]
                length = len(data or b"")
                writes = []
                for _ in range(rng.choice((0, 1, 1, 2, 3))):
                    offset, chunk = self.vector(length)
                    length = max(length, offset + len(chunk))
                    writes.append([offset, chunk.hex()])
                r = rng.random()
                if r < 0.68:
                    new_length = None
                elif r < 0.82:
                    new_length = rng.randint(1, max(1, length))
                elif r < 0.92:
                    new_length = length + rng.randint(1, 50)
                else:
                    new_length = 0
                tw.append({"shnum": n, "tests": tests, "writes": writes, "new_length": new_length})
        readv = [
            [rng.randint(0, 400), rng.randint(0, 120)] for _ in range(rng.choice((0, 1, 1, 2)))
        ]
        return {
            "op": "slot_testv_and_readv_and_writev",
            "si": si.hex(),
            "we": we.hex(),
            "renew": renew.hex(),
            "cancel": cancel.hex(),
            "tw": tw,
            "readv": readv,
            "renew_leases": rng.random() < 0.85,
        }

    def slot_readv(self) -> Op:
        rng = self.rng
        si = rng.choice(self.mut) if rng.random() < 0.85 else rng.choice(self.imm)
        shnums = [] if rng.random() < 0.5 else sorted(rng.sample(range(_N_SHARES), 2))
        readv = [[rng.randint(0, 500), rng.randint(0, 150)] for _ in range(rng.randint(1, 2))]
        return {"op": "slot_readv", "si": si.hex(), "shnums": shnums, "readv": readv}

    # ----- leases, queries, advisories ------------------------------------------------------

    def add_lease(self) -> Op:
        renew, cancel = self.pair()
        if self.rng.random() < 0.3:
            renew, cancel = self.rng.randbytes(32), self.rng.randbytes(32)
        held = [si for si in self.mut if self.published(si)]
        # Mostly slots: their leases outgrow the four header slots, and growth moves them.
        si = self.rng.choice(held) if held and self.rng.random() < 0.5 else self.any_si()
        return {"op": "add_lease", "si": si.hex(), "renew": renew.hex(), "cancel": cancel.hex()}

    def renew_lease(self) -> Op:
        renew = self.pair()[0] if self.rng.random() < 0.8 else self.rng.randbytes(32)
        return {"op": "renew_lease", "si": self.any_si().hex(), "renew": renew.hex()}

    def query(self) -> Op:
        rng = self.rng
        name = rng.choice(
            ("get_buckets", "shares", "immutable_share_length", "mutable_share_length", "version")
        )
        if name == "version":
            return {"op": "version"}
        if not name.endswith("length"):
            return {"op": name, "si": self.any_si().hex()}
        kind = self.imm if (rng.random() < 0.8) == name.startswith("immutable") else self.mut
        si, n = self.share(kind)
        return {"op": name, "si": si.hex(), "shnum": n}

    def advise(self) -> Op:
        rng = self.rng
        si = self.any_si()
        held = self.published(si)
        n = rng.choice(held) if held and rng.random() < 0.8 else rng.randrange(_N_SHARES)
        if rng.random() < 0.05:
            reason = b"\xff\xfebad utf-8"
        else:
            reason = "".join(rng.choice(_TEXT) for _ in range(rng.randint(0, 60))).encode()
        share_type = rng.choice((b"immutable", b"mutable"))
        while advisory_name(self.now, si, n) in self.advisories:
            self.now += 1  # Tahoe would overwrite the earlier report; we append ".1"
        self.advisories.add(advisory_name(self.now, si, n))
        return {
            "op": "advise_corrupt_share",
            "si": si.hex(),
            "shnum": n,
            "share_type": share_type.hex(),
            "reason": reason.hex(),
        }

    # ----- driver ---------------------------------------------------------------------------

    def step(self) -> None:
        makers: list[tuple[float, Callable[[], Op | None]]] = [
            (10, self.allocate),
            (24, self.write),
            (8, self.close),
            (2, self.abort),
            (5, self.read),
            (18, self.slot_write),
            (4, self.slot_readv),
            (7, self.add_lease),
            (4, self.renew_lease),
            (5, self.query),
            (3, self.advise),
        ]
        self.advance()
        op = None
        while op is None:
            maker = self.rng.choices([m for _, m in makers], [w for w, _ in makers])[0]
            op = maker()
        op["now"] = self.now
        index = len(self.script["ops"])
        self.script["ops"].append(op)
        result = self.runner.apply(op)
        self.results.append(result)
        if "unexpected" in str(result.get("error", "")):
            raise AssertionError(f"generator made op {index} that Tahoe rejects: {op} -> {result}")
        self.learn(index, op, result)

    def learn(self, index: int, op: Op, result: Result) -> None:
        """Track what was allocated and written, to steer later writes."""
        if "ok" not in result:
            return
        if op["op"] == "allocate":
            for n in result["ok"]["allocated"]:
                self.uploads[(index, n)] = (self.rng.randbytes(op["size"]), [])
        elif op["op"] == "write":
            key = (op["alloc"], op["shnum"])
            if key in self.uploads:
                end = op["offset"] + len(op["data"]) // 2
                if end > op["offset"]:
                    self.uploads[key][1].append((op["offset"], end))


def random_script(seed: int, n_ops: int = 60) -> Script:
    """A deterministic pseudo-random script of ``n_ops`` ops.

    It is generated while being run on Tahoe in a scratch directory, so that choices can
    depend on the real state. The mix: allocations (0 to 700 bytes, renewing leases or
    not, of shares held, being uploaded or new; rarely at a mutable storage index); writes
    in order, anywhere, identical and conflicting overlaps, past the allocated size, and
    to finished or unknown writers (never empty: see ``_Generator.write``); closes of
    complete and incomplete uploads; aborts; uploads expiring at exactly 30 idle minutes
    (and surviving at 29:59); mutable writes to 1-3 shares with tests that pass, fail, or
    test absence, zero-filled gaps, zero-length extensions, growth that moves extra
    leases, truncation, deletion by ``new_length=0``, wrong write enablers, rare oversize
    vectors; reads of every kind, of both kinds of share; leases added and renewed with a
    pool of 8 secret pairs and fresh ones; advisories (a few not UTF-8, some for shares
    not held); the clock mostly advancing, sometimes jumping days, rarely going back.
    About 1 script in 12 runs on a read-only server and 1 in 25 with all space reserved.
    """
    with tempfile.TemporaryDirectory(prefix="tahoe-server-ops-") as tmp:
        gen = _Generator(seed, os.path.join(tmp, "storage"))
        for _ in range(n_ops):
            gen.step()
        return gen.script

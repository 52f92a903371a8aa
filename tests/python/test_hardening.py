"""Issue 12, Python side: the GIL and the server lock (item 1), I/O errors as OSError (5),
exceptions that live in ``tahoe_shares`` and pickle (6), the argument shapes Tahoe's own
callers use (8), and closing and listing (9)."""

from __future__ import annotations

import base64
import errno
import faulthandler
import gc
import inspect
import os
import pickle
import pydoc
import subprocess
import sys
import textwrap
import threading
import traceback
import weakref

import pytest

import tahoe_shares as ts
from tahoe_shares import _native
from tahoe_shares.store import MemoryStore

NODE = b"N" * 20
NOW = 1_800_000_000
RENEW, CANCEL, WE = b"r" * 32, b"c" * 32, b"w" * 32
SI = b"\x05" * 16


def _b32(si: bytes) -> str:
    return base64.b32encode(si).decode().rstrip("=").lower()


def _publish(s, si=SI, shnum=0, data=b"data"):
    s.allocate_buckets(si, RENEW, CANCEL, {shnum}, len(data), b"u", now=NOW)
    s.write(si, shnum, b"u", 0, data, now=NOW)
    s.close(si, shnum, b"u")


# ----- item 1: the GIL is released before any lock is taken ---------------------------

# Runs in a child process, so that a deadlock (a thread blocked on the server's mutex
# while holding the GIL) cannot hang the test run: faulthandler's watchdog thread needs
# no GIL, dumps every thread's stack and ends the child.
_DEADLOCK_CHILD = textwrap.dedent(
    r"""
    import faulthandler, sys, threading, time
    faulthandler.dump_traceback_later(float(sys.argv[2]), exit=True)

    import tahoe_shares as ts
    from tahoe_shares.store import MemoryStore

    NODE, NOW, R, C, WE = b"N" * 20, 1_800_000_000, b"r" * 32, b"c" * 32, b"w" * 32
    ROUNDS = 40

    def pause():
        # Called by the server with its mutex held and the GIL taken back: sleeping gives
        # the GIL to the other thread, which then calls into the same server.
        time.sleep(0.002)

    class SlowStore(MemoryStore):
        def available_space(self):
            pause()
            return super().available_space()

        def open(self, storage_index, shnum):
            handle = super().open(storage_index, shnum)
            if handle is not None:
                read = handle.read
                def slow_read(offset, length):
                    pause()
                    return read(offset, length)
                handle.read = slow_read
            return handle

    def space():
        pause()
        return 10**12

    servers = [
        ts.Server(SlowStore(capacity=10**12), NODE, now=NOW),
        ts.Server(sys.argv[1], NODE, now=NOW, available_space=space),
    ]
    shared = b"S" * 16
    readers = []
    for s in servers:
        s.allocate_buckets(shared, R, C, {0}, 4, b"u", now=NOW)
        s.write(shared, 0, b"u", 0, b"data", now=NOW)
        s.close(shared, 0, b"u")
        readers.append(s.open_bucket(shared, 0))

    covered = set()

    def exercise(s, tag, k):
        # Every public method of Server, in an order that makes each call valid.
        si = bytes([tag]) + k.to_bytes(4, "big") + b"i" * 11
        mi = bytes([tag]) + k.to_bytes(4, "big") + b"m" * 11
        def call(name, *args, **kw):
            covered.add(name)
            return getattr(s, name)(*args, **kw)
        for _ in range(3):
            call("allocated_size")
            call("upload_in_progress", si, 0)
            covered.add("closed")
            assert not s.closed
        call("available_space")
        call("version")
        call("allocate_buckets", si, R, C, {0, 1}, 4, b"u", now=NOW)
        call("uploads")
        call("write", si, 0, b"u", 0, b"abcd", now=NOW)
        call("required_ranges", si, 1, b"u")
        call("abort", si, 1, b"u")
        call("close", si, 0, b"u")
        call("expire_stale_uploads", now=NOW)
        call("shares", si)
        call("read", si, 0, 0, 4)
        call("open_bucket", si, 0).read(0, 4)
        call("immutable_share_length", si, 0)
        call("stat_share", si, 0)
        call("add_lease", si, b"R" * 32, b"K" * 32, now=NOW)
        call("renew_lease", si, R, now=NOW)
        call("leases", si)
        call("storage_indexes")
        call("slot_testv_and_readv_and_writev", mi, (WE, R, C), {0: ([], [(0, b"x")], None)},
             [(0, 1)], now=NOW)
        call("slot_readv", mi, [], [(0, 1)])
        call("mutable_share_length", mi, 0)
        call("advise_corrupt_share", b"immutable", si, 0, b"reason", now=NOW)
        call("cancel_lease", si, b"K" * 32)
        for r in readers:
            for _ in range(3):
                r.length()
            r.read(0, 4)
        covered.update({"BucketReader.length", "BucketReader.read"})

    failures = []

    def worker(tag):
        try:
            for k in range(ROUNDS):
                for s in servers:
                    exercise(s, tag, k)
        except BaseException as e:
            failures.append(repr(e))

    threads = [threading.Thread(target=worker, args=(tag,), daemon=True) for tag in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    faulthandler.cancel_dump_traceback_later()
    public = {n for n in dir(ts.Server) if not n.startswith("_")} - {"shutdown"}
    public |= {"BucketReader." + n for n in dir(ts.BucketReader) if not n.startswith("_")}
    if public - covered:
        print("not exercised:", sorted(public - covered))
    elif failures:
        print("failed:", failures)
    else:
        print("ok")
    """
)


def test_no_deadlock_between_the_gil_and_the_server_lock(tmp_path):
    # Two threads call every method (allocated_size, upload_in_progress and
    # BucketReader.length among them) of a server over a Python store and of one with a
    # Python space callable, each of which sleeps while the server's mutex is held.
    # Without the rule, a thread waiting for the mutex with the GIL held blocks the
    # holder, which waits for the GIL: the watchdog ends the child and dumps the stacks.
    watchdog = 120
    proc = subprocess.run(
        [sys.executable, "-c", _DEADLOCK_CHILD, str(tmp_path / "storage"), str(watchdog)],
        capture_output=True,
        text=True,
        timeout=watchdog * 2,
    )
    assert proc.stdout.strip() == "ok" and proc.returncode == 0, (
        f"exit status {proc.returncode}, stdout {proc.stdout!r}; a deadlock shows as "
        f"faulthandler's 'Timeout' dump of every thread:\n{proc.stderr}"
    )


def _in_thread(call, watchdog=60):
    """Runs ``call`` in a thread; returns what it returned or raised, failing if it is
    still running after ``watchdog`` seconds (a deadlock with the GIL released)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            outcome["error"] = e

    # A thread stuck with the GIL held would stop this thread's join too: faulthandler's
    # own thread then dumps every stack and ends the run.
    faulthandler.dump_traceback_later(watchdog * 2, exit=True)
    try:
        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join(watchdog)
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert not t.is_alive(), "the call deadlocked"
    return outcome


def test_a_store_calling_the_server_it_serves_gets_an_error_not_a_deadlock():
    server = {}

    class Recursive(MemoryStore):
        def list(self, storage_index):
            if "s" in server:
                server["s"].allocated_size()
            return super().list(storage_index)

        def open(self, storage_index, shnum):
            handle = super().open(storage_index, shnum)
            if handle is not None:
                read = handle.read

                def read_calling_the_server(offset, length):
                    # A reader reads through its server: calling the server from here
                    # re-enters the lock the read holds.
                    if "reader" in server:
                        server["s"].allocated_size()
                    return read(offset, length)

                handle.read = read_calling_the_server
            return handle

    s = ts.Server(Recursive(), NODE, now=NOW)
    _publish(s)
    server["s"] = s
    error = _in_thread(lambda: s.shares(SI))["error"]
    assert isinstance(error, ts.IoError) and isinstance(error.__cause__, RuntimeError)
    assert "re-entrant call" in str(error.__cause__)
    del server["s"]
    server["reader"] = s.open_bucket(SI, 0)
    server["s"] = s
    error = _in_thread(lambda: server["reader"].read(0, 4))["error"]
    assert isinstance(error, ts.IoError) and "re-entrant call" in str(error.__cause__)
    # Nothing is left locked.
    assert s.allocated_size() == 0 and server["reader"].length() == 4


# ----- item 5: I/O errors are OSErrors with errno, strerror and filename ---------------


def test_filesystem_io_error_carries_errno_strerror_and_the_path(tmp_path):
    storage = tmp_path / "storage"
    storage.mkdir()
    (storage / "shares").write_bytes(b"a file where a directory belongs")
    with pytest.raises(ts.IoError) as info:
        ts.Server(str(storage), NODE, now=NOW)
    e = info.value
    assert isinstance(e, OSError) and isinstance(e, ts.Error)
    assert e.errno == errno.ENOTDIR
    assert e.strerror == os.strerror(errno.ENOTDIR)
    # The path the filesystem store failed on, not only the storage directory.
    incoming = str(storage / "shares" / "incoming")
    assert e.filename == incoming
    assert str(e) == f"[Errno {errno.ENOTDIR}] {os.strerror(errno.ENOTDIR)}: {incoming!r}"

    # An error while serving: a bucket directory that is a symlink loop.
    storage = tmp_path / "loop"
    s = ts.Server(str(storage), NODE, now=NOW)
    prefix = storage / "shares" / _b32(SI)[:2]
    prefix.mkdir(parents=True)
    os.symlink(_b32(SI), prefix / _b32(SI))
    with pytest.raises(OSError) as info:
        s.shares(SI)
    assert isinstance(info.value, ts.IoError)
    assert (info.value.errno, info.value.filename) == (errno.ELOOP, str(prefix / _b32(SI)))
    assert info.value.strerror == os.strerror(errno.ELOOP)
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is ts.IoError
    assert (again.errno, again.strerror, again.filename) == (
        errno.ELOOP,
        os.strerror(errno.ELOOP),
        str(prefix / _b32(SI)),
    )


def test_python_store_oserror_keeps_its_errno_and_filename():
    class Failing(MemoryStore):
        def list(self, storage_index):
            raise OSError(errno.EIO, "the disk went away", "/srv/disk7/shares")

    s = ts.Server(Failing(), NODE, now=NOW)
    with pytest.raises(ts.IoError) as info:
        s.shares(SI)
    e = info.value
    assert (e.errno, e.strerror, e.filename) == (errno.EIO, "the disk went away", "/srv/disk7/shares")
    assert isinstance(e.__cause__, OSError) and e.__cause__.errno == errno.EIO
    # A subclass the standard library maps from an errno keeps it too.
    class Denied(MemoryStore):
        def list(self, storage_index):
            raise PermissionError(errno.EACCES, "Permission denied", "/srv/x")

    with pytest.raises(ts.IoError) as info:
        ts.Server(Denied(), NODE, now=NOW).shares(SI)
    assert (info.value.errno, info.value.filename) == (errno.EACCES, "/srv/x")


def test_python_store_other_exception_is_an_ioerror_without_errno():
    class Broken(MemoryStore):
        def list(self, storage_index):
            raise RuntimeError("list exploded")

    with pytest.raises(ts.IoError, match="storage callback failed: RuntimeError: list exploded") as info:
        ts.Server(Broken(), NODE, now=NOW).shares(SI)
    assert info.value.errno is None and info.value.filename is None
    assert isinstance(info.value.__cause__, RuntimeError)


# ----- item 6: exceptions live in tahoe_shares and pickle --------------------------------


def _exception_classes():
    found = {
        name: obj
        for name, obj in vars(_native).items()
        if isinstance(obj, type) and issubclass(obj, BaseException)
    }
    assert found, "no exception class found in tahoe_shares._native"
    return found


# Attributes each class carries beyond its message, with a sample value.
_ATTRIBUTES = {
    "IoError": {"errno": errno.EIO, "strerror": "Input/output error", "filename": "/srv/storage"},
    "StorageLocked": {"directory": "/srv/storage", "holder": "pid 7 on host, since 2026-12-01T00:00:00Z"},
    # The context the core's errors carry (tests/python/test_error_context.py).
    "UnknownImmutableVersion": {"share": 3, "version": 7},
    "UnknownMutableMagic": {"share": 0, "magic": b"Tahoe immutable"},
    "NoSuchLease": {"share": 2, "kind": "mutable", "accepted_by": [b"N" * 20]},
}


def _sample(cls):
    attrs = _ATTRIBUTES.get(cls.__name__, {})
    if issubclass(cls, OSError):
        return cls(attrs["errno"], attrs["strerror"], attrs["filename"])
    e = cls(f"a {cls.__name__} happened")
    for k, v in attrs.items():
        setattr(e, k, v)
    return e


@pytest.mark.parametrize("name", sorted(_exception_classes()))
def test_exception_lives_in_tahoe_shares_and_pickles(name):
    cls = _exception_classes()[name]
    assert cls.__module__ == "tahoe_shares"
    assert cls.__qualname__ == name and cls.__name__ == name
    assert getattr(ts, name) is cls and name in ts.__all__
    assert issubclass(cls, ts.Error)
    e = _sample(cls)
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is cls
    assert again.args == e.args and str(again) == str(e)
    for attr, value in _ATTRIBUTES.get(name, {}).items():
        assert getattr(again, attr) == value, attr
    line = traceback.format_exception_only(cls, e)[-1]
    assert line.startswith(f"tahoe_shares.{name}: "), line


def test_every_class_with_attributes_is_listed():
    # The attribute table above names real classes (a renamed class fails here).
    assert set(_ATTRIBUTES) <= set(_exception_classes())


def test_value_errors_and_os_errors():
    assert issubclass(ts.InvalidArgument, ValueError)
    assert issubclass(ts.ServerClosed, ValueError)
    assert issubclass(ts.IoError, OSError)


# ----- item 8: argument shapes ---------------------------------------------------------


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_bytes_like_data_and_secrets(kind):
    store = MemoryStore()
    s = ts.Server(store, kind(NODE), now=NOW)
    si, up = kind(SI), kind(b"upload")
    assert s.allocate_buckets(si, kind(RENEW), kind(CANCEL), {0}, 6, up, now=NOW) == (set(), {0})
    assert s.write(si, 0, up, 0, kind(b"abcdef"), now=NOW) is True
    s.close(si, 0, up)
    assert s.read(si, 0, 0, 10) == b"abcdef"
    assert s.add_lease(si, kind(b"R" * 32), kind(b"K" * 32), now=NOW) == 1
    s.renew_lease(si, kind(RENEW), now=NOW)
    passed, _ = s.slot_testv_and_readv_and_writev(
        kind(b"M" * 16),
        (kind(WE), kind(RENEW), kind(CANCEL)),
        {0: ([(0, 0, kind(b"eq"), kind(b""))], [(0, kind(b"mutable"))], None)},
        [],
        now=NOW,
    )
    assert passed and s.slot_readv(kind(b"M" * 16), [], [(0, 7)]) == {0: [b"mutable"]}
    assert s.advise_corrupt_share(kind(b"immutable"), si, 0, kind(b"bad"), now=NOW) == "recorded"
    # A slice of a larger buffer is its own bytes.
    big = bytearray(b"xx" + SI + b"yy")
    assert s.shares(memoryview(big)[2:18]) == {0}


def test_bytes_like_rejects_text_and_ints():
    s = ts.Server(MemoryStore(), NODE, now=NOW)
    for bad in ("x" * 16, 16, None):
        with pytest.raises(TypeError, match="storage_index"):
            s.shares(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make",
    [list, set, frozenset, tuple, lambda ns: (n for n in ns), lambda ns: dict.fromkeys(ns).keys(),
     lambda ns: dict.fromkeys(ns)],
    ids=["list", "set", "frozenset", "tuple", "generator", "dict_keys", "dict"],
)
def test_any_iterable_of_share_numbers(make):
    s = ts.Server(MemoryStore(), NODE, now=NOW)
    assert s.allocate_buckets(SI, RENEW, CANCEL, make([0, 2, 2]), 4, b"u", now=NOW) == (set(), {0, 2})
    for n in (0, 2):
        s.write(SI, n, b"u", 0, b"data", now=NOW)
        s.close(SI, n, b"u")
    mi = b"M" * 16
    tw = {n: ([], [(0, b"m%d" % n)], None) for n in (0, 1, 2)}
    s.slot_testv_and_readv_and_writev(mi, (WE, RENEW, CANCEL), tw, [], now=NOW)
    assert s.slot_readv(mi, make([1, 2]), [(0, 2)]) == {1: [b"m1"], 2: [b"m2"]}


def test_share_numbers_as_text_or_bytes_are_refused():
    s = ts.Server(MemoryStore(), NODE, now=NOW)
    for bad in ("01", b"\x00\x01"):
        with pytest.raises(TypeError, match="sharenums"):
            s.allocate_buckets(SI, RENEW, CANCEL, bad, 4, b"u", now=NOW)
    with pytest.raises(TypeError, match=r"sharenums\[1\]"):
        s.allocate_buckets(SI, RENEW, CANCEL, [0, "1"], 4, b"u", now=NOW)


def test_test_and_write_vectors_as_a_dict_or_pairs_agree():
    answers = []
    for form in (dict, lambda d: list(d.items()), lambda d: tuple(d.items())):
        store = MemoryStore()
        s = ts.Server(store, NODE, now=NOW)
        mi = b"M" * 16
        tw = {
            0: ([], [(0, b"hello"), (10, memoryview(b"world"))], None),
            3: ((), [[0, bytearray(b"x" * 20)]], 5),
        }
        first = s.slot_testv_and_readv_and_writev(mi, (WE, RENEW, CANCEL), form(tw), [[0, 5]], now=NOW)
        tw = {0: ([(0, 5, b"eq", b"hello")], [(0, b"HELLO")], None)}
        second = s.slot_testv_and_readv_and_writev(mi, (WE, RENEW, CANCEL), form(tw), [(0, 5)], now=NOW)
        answers.append((first, second, {k: bytes(v) for k, v in store.published.items()}))
    assert answers[0][1] == (True, {0: [b"hello"], 3: [b"xxxxx"]})
    assert answers[0] == answers[1] == answers[2]


def _out_of_range_calls(s):
    """(argument name, call) for every integer argument, each given a value out of range."""
    mi = b"M" * 16
    sec = (WE, RENEW, CANCEL)
    return [
        ("sharenum", lambda: s.read(SI, -1, 0, 1)),
        ("sharenum", lambda: s.write(SI, 256, b"u", 0, b"x", now=NOW)),
        ("offset", lambda: s.read(SI, 0, -1, 1)),
        ("length", lambda: s.read(SI, 0, 0, -5)),
        ("offset", lambda: s.write(SI, 0, b"u", 2**64, b"x", now=NOW)),
        ("allocated_size", lambda: s.allocate_buckets(SI, RENEW, CANCEL, {0}, -1, b"u", now=NOW)),
        ("owner_num", lambda: s.allocate_buckets(SI, RENEW, CANCEL, {0}, 1, b"u", owner_num=2**32, now=NOW)),
        ("owner_num", lambda: s.add_lease(SI, RENEW, CANCEL, owner_num=-1, now=NOW)),
        ("now", lambda: s.renew_lease(SI, RENEW, now=-1)),
        ("now", lambda: s.expire_stale_uploads(now=2**70)),
        ("sharenums", lambda: s.allocate_buckets(SI, RENEW, CANCEL, [0, -3], 1, b"u", now=NOW)),
        ("shares", lambda: s.slot_readv(mi, [300], [(0, 1)])),
        ("read_vector[1] offset", lambda: s.slot_readv(mi, [], [(0, 1), (-1, 1)])),
        ("read_vector[0] length", lambda: s.slot_readv(mi, [], [(0, 2**64)])),
        ("tw_vectors share number", lambda: s.slot_testv_and_readv_and_writev(mi, sec, {-1: ([], [], None)}, [], now=NOW)),
        ("tw_vectors[0] write 0 offset", lambda: s.slot_testv_and_readv_and_writev(mi, sec, {0: ([], [(-1, b"x")], None)}, [], now=NOW)),
        ("tw_vectors[0] test 0 length", lambda: s.slot_testv_and_readv_and_writev(mi, sec, {0: ([(0, -1, b"eq", b"")], [], None)}, [], now=NOW)),
        ("tw_vectors[0] new length", lambda: s.slot_testv_and_readv_and_writev(mi, sec, {0: ([], [], -1)}, [], now=NOW)),
        # advise_corrupt_share takes any integer, as Tahoe does: a share number that is not
        # 0 to 255 names no share held here (tests/python/test_error_context.py).
        ("offset", lambda: s.open_bucket(SI, 0).read(-1, 1)),
        ("lease_duration", lambda: ts.Server(MemoryStore(), NODE, lease_duration=-1)),
        ("lease_duration", lambda: ts.Server(MemoryStore(), NODE, lease_duration=2**32)),
        ("reserved_space", lambda: ts.Server(MemoryStore(), NODE, reserved_space=2**64)),
        ("max_uploads", lambda: ts.Server(MemoryStore(), NODE, max_uploads=-1)),
        ("upload_idle_timeout", lambda: ts.Server(MemoryStore(), NODE, upload_idle_timeout=-1)),
        ("max_ranges_per_upload", lambda: ts.Server(MemoryStore(), NODE, max_ranges_per_upload=-1)),
        ("max_advisory_size", lambda: ts.Server(MemoryStore(), NODE, max_advisory_size=-1)),
        ("now", lambda: ts.Server(MemoryStore(), NODE, now=-1)),
    ]


def test_out_of_range_integers_are_value_errors_naming_the_argument():
    store = MemoryStore()
    s = ts.Server(store, NODE, now=NOW)
    _publish(s)
    before = {k: bytes(v) for k, v in store.published.items()}
    for name, call in _out_of_range_calls(s):
        with pytest.raises(ValueError) as info:
            call()
        assert isinstance(info.value, ts.InvalidArgument), name
        assert str(info.value).startswith(name + " must be an integer from "), (name, str(info.value))
    assert {k: bytes(v) for k, v in store.published.items()} == before
    assert s.allocated_size() == 0 and s.uploads() == []


def test_signature_shows_the_core_defaults():
    sig = inspect.signature(ts.Server)
    defaults = {p.name: p.default for p in sig.parameters.values()}
    # Tahoe's values, which the core's Config::default() holds.
    assert defaults["reserved_space"] == 0
    assert defaults["readonly"] is False and defaults["discard_storage"] is False
    assert defaults["lease_duration"] == 31 * 24 * 60 * 60
    assert defaults["upload_idle_timeout"] == 30 * 60
    assert defaults["max_uploads"] == 65_536
    assert defaults["max_ranges_per_upload"] == 4096
    assert defaults["max_advisory_size"] == 256 * 1024
    assert defaults["resume_uploads"] is False
    assert defaults["mutable_writes_respect_space"] is False
    assert defaults["durable"] is True and defaults["now"] is None
    assert Ellipsis not in defaults.values()
    text = pydoc.render_doc(ts.Server, renderer=pydoc.plaintext)
    assert "lease_duration=2678400" in text and "max_advisory_size=262144" in text
    assert "owner_num=0, renew_leases=True" in text  # allocate_buckets
    assert "cancel_secret, *, owner_num=1, now=None" in text  # add_lease
    # Passing nothing behaves as the defaults say.
    s = ts.Server(MemoryStore(), NODE, now=NOW)
    s.add_lease(SI, RENEW, CANCEL, now=NOW)  # no shares: nothing happens
    _publish(s)
    assert [lease[3] for lease in s.leases(SI)] == [NOW + 31 * 24 * 60 * 60]


def test_every_keyword_is_documented():
    doc = ts.Server.__doc__ or ""
    for name in inspect.signature(ts.Server).parameters:
        assert f"``{name}``" in doc, f"Server({name}=...) is not documented"
    for name, method in inspect.getmembers(ts.Server, callable):
        if name.startswith("_"):
            continue
        sig = inspect.signature(method)
        assert method.__doc__, name
        for p in sig.parameters.values():
            if p.kind is p.KEYWORD_ONLY or p.default is not p.empty:
                assert f"``{p.name}``" in method.__doc__, f"{name}({p.name}=...) undocumented"


# ----- item 9: closing, the context manager, listing -----------------------------------


def test_context_manager_shuts_down_and_later_calls_raise_server_closed(tmp_path):
    with ts.Server(str(tmp_path / "storage"), NODE, now=NOW) as s:
        assert isinstance(s, ts.Server) and not s.closed
        _publish(s)
        s.allocate_buckets(SI, RENEW, CANCEL, {1}, 4, b"u", now=NOW)
    assert s.closed
    calls = [
        lambda: s.shares(SI),
        lambda: s.allocated_size(),
        lambda: s.upload_in_progress(SI, 1),
        lambda: s.uploads(),
        lambda: s.storage_indexes(),
        lambda: s.read(SI, 0, 0, 4),
        lambda: s.write(SI, 1, b"u", 0, b"data", now=NOW),
        lambda: s.version(),
        lambda: s.__enter__(),
    ]
    for call in calls:
        with pytest.raises(ts.ServerClosed, match="shut down"):
            call()
    with pytest.raises(ValueError):
        s.available_space()
    s.shutdown()  # again: nothing happens
    # The directory is free and its shares intact; the abandoned upload is gone, as
    # after a restart.
    s2 = ts.Server(str(tmp_path / "storage"), NODE, now=NOW)
    assert s2.shares(SI) == {0} and s2.uploads() == []


def test_exception_in_with_block_propagates_and_shuts_down():
    with pytest.raises(KeyError):
        with ts.Server(MemoryStore(), NODE, now=NOW) as s:
            raise KeyError("boom")
    assert s.closed


def test_shutdown_releases_a_python_store():
    class Store(MemoryStore):
        pass

    store = Store()
    ref = weakref.ref(store)
    s = ts.Server(store, NODE, now=NOW)
    del store
    gc.collect()
    assert ref() is not None
    s.shutdown()
    gc.collect()
    assert ref() is None, "the server still holds its store after shutdown()"


def test_readers_opened_before_shutdown_read_no_more():
    # A reader holds no open share: it reads through its server, so once the server has
    # let go of its store (and lock), the reader says so instead of reading.
    s = ts.Server(MemoryStore(), NODE, now=NOW)
    _publish(s, data=b"still here")
    reader = s.open_bucket(SI, 0)
    assert reader.read(0, 100) == b"still here"
    s.shutdown()
    assert reader.length() == 10
    with pytest.raises(ts.ServerClosed):
        reader.read(0, 100)


def test_second_writer_is_storage_locked_until_shutdown(tmp_path):
    storage = str(tmp_path / "storage")
    first = ts.Server(storage, NODE, now=NOW)
    _publish(first, SI)
    first.allocate_buckets(b"I" * 16, RENEW, CANCEL, {0}, 4, b"u", now=NOW)
    with pytest.raises(ts.StorageLocked) as info:
        ts.Server(storage, NODE, now=NOW)
    assert info.value.directory == storage
    assert info.value.holder is not None and f"pid {os.getpid()}" in info.value.holder
    assert storage in str(info.value) and info.value.holder in str(info.value)
    again = pickle.loads(pickle.dumps(info.value))
    assert (again.directory, again.holder, str(again)) == (storage, info.value.holder, str(info.value))
    # The refused writer changed nothing: the first one's upload in progress is intact.
    assert first.upload_in_progress(b"I" * 16, 0)
    assert first.write(b"I" * 16, 0, b"u", 0, b"abcd", now=NOW)
    first.shutdown()
    ts.Server(storage, NODE, now=NOW).shutdown()
    with ts.Server(storage, NODE, now=NOW) as s:
        assert s.read(SI, 0, 0, 100) == b"data"
    ts.Server(storage, NODE, now=NOW).shutdown()


def test_read_only_opening_beside_a_writer_changes_nothing(tmp_path):
    storage = tmp_path / "storage"
    writer = ts.Server(str(storage), NODE, now=NOW)
    _publish(writer, SI)
    writer.allocate_buckets(b"I" * 16, RENEW, CANCEL, {0}, 4, b"u", now=NOW)
    before = sorted(str(p.relative_to(storage)) for p in storage.rglob("*"))
    reader = ts.Server(str(storage), NODE, now=NOW, writable=False)
    assert reader.read(SI, 0, 0, 100) == b"data"
    assert reader.storage_indexes() == [SI]
    with pytest.raises(ts.ReadOnly):
        reader.add_lease(SI, RENEW, CANCEL, now=NOW)
    with pytest.raises(ts.ReadOnly):
        reader.allocate_buckets(b"J" * 16, RENEW, CANCEL, {0}, 4, b"v", now=NOW)
    reader.shutdown()
    assert sorted(str(p.relative_to(storage)) for p in storage.rglob("*")) == before
    assert writer.upload_in_progress(b"I" * 16, 0)
    writer.shutdown()


@pytest.mark.parametrize("kind", ["fs", "memory"])
def test_storage_indexes_lists_what_is_held(tmp_path, kind):
    s = ts.Server(str(tmp_path / "storage") if kind == "fs" else MemoryStore(), NODE, now=NOW)
    assert s.storage_indexes() == []
    sis = [bytes([i]) * 16 for i in (9, 1, 200)]
    for si in sis:
        _publish(s, si)
    s.slot_testv_and_readv_and_writev(b"M" * 16, (WE, RENEW, CANCEL), {0: ([], [(0, b"m")], None)}, [], now=NOW)
    s.allocate_buckets(b"I" * 16, RENEW, CANCEL, {0}, 4, b"u", now=NOW)  # in progress: not held
    expected = sorted(sis + [b"M" * 16], key=_b32)
    assert s.storage_indexes() == expected


def test_uploads_lists_the_uploads_in_progress():
    s = ts.Server(MemoryStore(), NODE, now=NOW)
    assert s.uploads() == []
    s.allocate_buckets(b"\x02" * 16, RENEW, CANCEL, {3, 1}, 10, b"secret-one", now=NOW)
    s.allocate_buckets(b"\x01" * 16, RENEW, CANCEL, {0}, 7, b"secret-two", now=NOW)
    s.write(b"\x02" * 16, 3, b"secret-one", 2, b"abcd", now=NOW + 5)
    got = [(u.storage_index, u.sharenum, u.allocated_size, u.written, u.last_activity) for u in s.uploads()]
    assert got == [
        (b"\x01" * 16, 0, 7, 0, NOW),
        (b"\x02" * 16, 1, 10, 0, NOW),
        (b"\x02" * 16, 3, 10, 4, NOW + 5),
    ]
    text = repr(s.uploads())
    assert "UploadInfo(storage_index=" in text and "secret" not in text
    s.write(b"\x01" * 16, 0, b"secret-two", 0, b"1234567", now=NOW)
    s.close(b"\x01" * 16, 0, b"secret-two")
    s.abort(b"\x02" * 16, 1, b"secret-one")
    assert [(u.storage_index, u.sharenum) for u in s.uploads()] == [(b"\x02" * 16, 3)]


def test_every_core_setting_is_a_keyword_of_server():
    """Config is #[non_exhaustive], so the binding cannot be made to fail to compile when the
    core gains a setting. The C mirror `ts_config` is checked against every field of the core's
    Config (ffi-c/src/types.rs, ts_config_mirrors_every_core_setting); each of its fields must
    be a keyword of Server() with the core's default, so a new setting reaches Python too."""
    import re
    from pathlib import Path

    header = (Path(__file__).resolve().parents[2] / "ffi-c/include/tahoe_shares.h").read_text()
    body = re.search(r"typedef struct ts_config \{(.*?)\} ts_config;", header, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    fields = re.findall(r"^\s*[a-z0-9_]+\s+([a-z_]+);", body, re.M)
    assert len(fields) >= 10, fields
    params = inspect.signature(ts.Server).parameters
    missing = [f for f in fields if f not in params]
    assert missing == [], f"settings of the core without a Server() keyword: {missing}"
    assert all(params[f].default is not inspect.Parameter.empty for f in fields)

"""The Python API of tahoe_shares: stores written in Python, threads, exceptions."""

import os
import threading

import pytest

import tahoe_shares as ts
from tahoe_shares.store import MemoryStore, ShareStore, SQLiteStore

NODE = b"N" * 20
NOW = 1_800_000_000
RENEW, CANCEL, WE = b"r" * 32, b"c" * 32, b"w" * 32


def _stores(tmp_path):
    return {
        "fs": str(tmp_path / "storage"),
        "memory": MemoryStore(),
        "sqlite": SQLiteStore(str(tmp_path / "shares.db")),
    }


def _share_bytes(kind, storage, si, shnum):
    if kind == "fs":
        b32 = ts_b32(si)
        with open(os.path.join(storage, "shares", b32[:2], b32, str(shnum)), "rb") as f:
            return f.read()
    handle = storage.open(si, shnum)
    return handle.read(0, handle.size())


def ts_b32(si):
    import base64

    return base64.b32encode(si).decode().rstrip("=").lower()


def _script(server):
    """A fixed mix of operations; returns every answer."""
    out = []
    si = bytes(range(16))
    out.append(server.allocate_buckets(si, RENEW, CANCEL, {0, 1, 2}, 20, b"up", now=NOW))
    out.append(server.write(si, 0, b"up", 10, b"B" * 10, now=NOW))
    out.append(server.required_ranges(si, 0, b"up"))
    out.append(server.write(si, 0, b"up", 0, b"A" * 10, now=NOW))
    out.append(server.close(si, 0, b"up"))
    server.abort(si, 1, b"up")
    out.append(server.write(si, 2, b"up", 0, b"C" * 20, now=NOW))
    out.append(server.close(si, 2, b"up"))
    out.append(server.add_lease(si, b"R" * 32, b"K" * 32, now=NOW + 5))
    server.renew_lease(si, RENEW, now=NOW + 10)
    out.append(sorted(server.leases(si)))
    out.append(server.read(si, 0, 5, 100))
    out.append(server.allocate_buckets(si, RENEW, CANCEL, {0, 1}, 20, b"up2", now=NOW))
    server.abort(si, 1, b"up2")
    slot = b"S" * 16
    tw = [(0, ([(0, 1, b"eq", b"")], [(0, b"hello"), (10, b"world")], None)),
          (3, ([], [(0, b"x" * 100)], None))]
    out.append(server.slot_testv_and_readv_and_writev(slot, (WE, RENEW, CANCEL), tw, [(0, 5)], now=NOW))
    tw2 = [(0, ([(0, 5, b"eq", b"hello")], [(0, b"HELLO")], 12)), (3, ([], [], 0))]
    out.append(server.slot_testv_and_readv_and_writev(slot, (WE, RENEW, CANCEL), tw2, [(0, 15)], now=NOW))
    out.append(server.slot_readv(slot, set(), [(0, 100), (5, 3)]))
    out.append(server.mutable_share_length(slot, 0))
    out.append(server.immutable_share_length(si, 2))
    out.append(server.advise_corrupt_share(b"immutable", si, 0, b"bad bits", now=NOW))
    out.append(server.advise_corrupt_share(b"immutable", si, 9, b"bad bits", now=NOW))
    out.append(sorted(server.shares(si)))
    out.append(server.stat_share(slot, 0))
    return out


def test_every_store_gives_the_same_answers_and_bytes(tmp_path):
    stores = _stores(tmp_path)
    answers = {}
    for kind, storage in stores.items():
        server = ts.Server(storage, NODE, now=NOW)
        answers[kind] = _script(server)
    assert answers["fs"] == answers["memory"] == answers["sqlite"]
    si, slot = bytes(range(16)), b"S" * 16
    for si_, shnum in [(si, 0), (si, 2), (slot, 0)]:
        reference = _share_bytes("fs", stores["fs"], si_, shnum)
        assert _share_bytes("memory", stores["memory"], si_, shnum) == reference
        assert _share_bytes("sqlite", stores["sqlite"], si_, shnum) == reference
    assert stores["memory"].advisories == stores["sqlite"].advisories()
    (name, body), = stores["memory"].advisories.items()
    assert name == "2027-01-15T080000--aaaqeayeaudaocajbifqydiob4-0"
    assert body.startswith(b"report: Share Corruption\ntype: immutable\n")
    assert os.listdir(os.path.join(stores["fs"], "corruption-advisories")) == [name]


def test_python_stores_satisfy_the_protocol(tmp_path):
    assert isinstance(MemoryStore(), ShareStore)
    assert isinstance(SQLiteStore(str(tmp_path / "a.db")), ShareStore)


def test_errors_form_one_tree(tmp_path):
    names = [n for n in ts.__all__ if n[0].isupper() and n not in ("Server", "BucketReader", "UploadInfo")]
    for name in names:
        assert issubclass(getattr(ts, name), ts.Error), name
    server = ts.Server(str(tmp_path), NODE, now=NOW)
    si = b"i" * 16
    server.allocate_buckets(si, RENEW, CANCEL, {0}, 4, b"s", now=NOW)
    server.write(si, 0, b"s", 0, b"abcd", now=NOW)
    with pytest.raises(ts.ConflictingWrite):
        server.write(si, 0, b"s", 0, b"abcX", now=NOW)
    with pytest.raises(ts.DataTooLarge):
        server.write(si, 0, b"s", 2, b"cdX", now=NOW)
    with pytest.raises(ts.BadUploadSecret):
        server.write(si, 0, b"other", 0, b"abcd", now=NOW)
    with pytest.raises(ts.NoSuchUpload):
        server.write(si, 1, b"s", 0, b"abcd", now=NOW)
    with pytest.raises(ts.InvalidArgument):
        server.shares(b"")
    with pytest.raises(ts.InvalidArgument):
        server.shares(b"x" * 33)
    with pytest.raises(ts.InvalidArgument):
        server.write(si, 256, b"s", 0, b"", now=NOW)
    server.close(si, 0, b"s")
    with pytest.raises(ts.UnknownMutableMagic):
        server.slot_readv(si, set(), [(0, 1)])
    with pytest.raises(ts.NoSuchShare):
        server.mutable_share_length(b"m" * 16, 0)
    with pytest.raises(ts.NoSuchLease):
        server.renew_lease(b"m" * 16, RENEW, now=NOW)
    with pytest.raises(ts.UnsupportedOperator):
        server.slot_testv_and_readv_and_writev(b"m" * 16, (WE, RENEW, CANCEL),
                                               [(0, ([(0, 1, b"lt", b"")], [], None))], [])


def test_a_failing_python_store_raises_ioerror_with_the_cause(tmp_path):
    class Broken(MemoryStore):
        def create_incoming(self, storage_index, shnum):
            raise RuntimeError("disk on fire")

    server = ts.Server(Broken(), NODE, now=NOW)
    with pytest.raises(ts.IoError) as info:
        server.allocate_buckets(b"b" * 16, RENEW, CANCEL, {0}, 4, b"s", now=NOW)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert server.allocated_size() == 0


def test_a_store_answering_impossible_lengths_is_an_error():
    class Liar(MemoryStore):
        def open(self, storage_index, shnum):
            handle = super().open(storage_index, shnum)
            if handle is not None:
                handle.read = lambda offset, length: b"short"
            return handle

    store = Liar()
    server = ts.Server(store, NODE, now=NOW)
    si = b"l" * 16
    server.allocate_buckets(si, RENEW, CANCEL, {0}, 100, b"s", now=NOW)
    server.close(si, 0, b"s")
    with pytest.raises(ts.IoError):
        server.read(si, 0, 0, 50)


def test_uploads_from_many_threads(tmp_path):
    server = ts.Server(str(tmp_path), NODE, now=NOW)
    size, chunk = 64 * 1024, 4096
    errors = []

    def upload(i):
        try:
            si = bytes([i]) * 16
            data = os.urandom(size)
            secret = b"secret-%d" % i
            _, allocated = server.allocate_buckets(si, RENEW, CANCEL, {0, 1}, size, secret, now=NOW)
            assert allocated == {0, 1}
            offsets = list(range(0, size, chunk))
            offsets.reverse()
            for n in (0, 1):
                done = False
                for off in offsets:
                    done = server.write(si, n, secret, off, data[off:off + chunk], now=NOW)
                assert done
                server.close(si, n, secret)
                assert server.read(si, n, 0, size) == data
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert server.allocated_size() == 0


def test_racing_writers_of_one_share_exactly_one_wins(tmp_path):
    server = ts.Server(str(tmp_path), NODE, now=NOW)
    si = b"r" * 16
    wins = []

    def race(i):
        _, allocated = server.allocate_buckets(si, RENEW, CANCEL, {0}, 8, b"s%d" % i, now=NOW)
        if allocated:
            wins.append(i)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1


def test_concurrent_test_and_write_with_one_test_vector_applies_once(tmp_path):
    server = ts.Server(str(tmp_path), NODE, now=NOW)
    slot = b"t" * 16
    results = []

    def attempt(i):
        tw = [(0, ([(0, 1, b"eq", b"")], [(0, b"writer %02d" % i)], None))]
        passed, _ = server.slot_testv_and_readv_and_writev(slot, (WE, RENEW, CANCEL), tw, [], now=NOW)
        results.append((passed, i))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for (passed, i) in results if passed]
    assert len(winners) == 1
    assert server.slot_readv(slot, set(), [(0, 100)]) == {0: [b"writer %02d" % winners[0]]}


def test_uploads_resume_after_restart_in_sqlite(tmp_path):
    path = str(tmp_path / "r.db")
    server = ts.Server(SQLiteStore(path), NODE, now=NOW, resume_uploads=True)
    si = b"u" * 16
    server.allocate_buckets(si, RENEW, CANCEL, {0}, 10, b"s", now=NOW)
    server.write(si, 0, b"s", 0, b"01234", now=NOW)
    del server
    again = ts.Server(SQLiteStore(path), NODE, now=NOW + 60, resume_uploads=True)
    assert again.required_ranges(si, 0, b"s") == [(5, 10)]
    assert again.write(si, 0, b"s", 5, b"56789", now=NOW + 61)
    again.close(si, 0, b"s")
    assert again.read(si, 0, 0, 10) == b"0123456789"
    # Without resume_uploads, a restart discards uploads in progress, as Tahoe does.
    again.allocate_buckets(si, RENEW, CANCEL, {1}, 10, b"t", now=NOW)
    del again
    third = ts.Server(SQLiteStore(path), NODE, now=NOW + 120)
    assert not third.upload_in_progress(si, 1)
    assert SQLiteStore(path).incoming() == []


def test_the_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    import re

    with open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")) as f:
        readme = f.read()
    section = re.search(r"## Python\n(.*?)\n## ", readme, re.S).group(1)
    first, second = re.findall(r"```python\n(.*?)```", section, re.S)[:2]
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(first, "README.md", "exec"), scope)
    assert scope["allocated"] == {0, 1}
    assert scope["server"].read(bytes(16), 0, 0, 100) == b"0123456789"
    assert scope["ok"] is True
    # The second example goes on from the first: the lock, read-only opening, shutdown.
    exec(compile(second, "README.md", "exec"), scope)
    assert scope["server"].closed
    # The second writer was refused, and the example printed the directory and holder.
    assert capsys.readouterr().out.startswith(f"storage pid {os.getpid()} on ")
    assert scope["reader"].read(bytes(16), 0, 0, 100) == b"0123456789"

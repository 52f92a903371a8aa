"""The bad-input catalogue of docs/bad-input.md against the Python binding: one
``test_row_NN_<input>`` per row (rows 1-38), each asserting its specific exception class.
Where the binding follows Tahoe 1.20 rather than refusing the input, the test asserts what
it does, and the table says so.

``test_catalogue_figure`` (last) prints ``RELIABILITY bad_inputs_python <N>``; run with
``pytest -s`` to see it.
"""

from __future__ import annotations

import base64
import errno
import os
import struct
import sys

import pytest

import tahoe_shares as ts
from tahoe_shares.store import MemoryStore

NODE = b"N" * 20
NOW = 1_800_000_000
RENEW, CANCEL, WE = b"r" * 32, b"c" * 32, b"w" * 32
SI = b"\x01" * 16
MSI = b"\x09" * 16
MAX_MUTABLE = 69_105 * 1000 * 1000 * 1000 * 1000


def _b32(si: bytes) -> str:
    return base64.b32encode(si).decode().rstrip("=").lower()


def _server(store=None, **kw):
    return ts.Server(MemoryStore() if store is None else store, NODE, now=NOW, **kw)


def _immutable_bytes(data: bytes = b"0123456789") -> bytes:
    """A published immutable container, as the server writes it (one lease)."""
    store = MemoryStore()
    s = _server(store)
    s.allocate_buckets(SI, RENEW, CANCEL, {0}, len(data), b"u", now=NOW)
    s.write(SI, 0, b"u", 0, data, now=NOW)
    s.close(SI, 0, b"u")
    return bytes(store.published[(SI, 0)])


def _mutable_bytes(extra_leases: int = 0) -> bytes:
    """A mutable container holding b"some data", with 1 + 4 + extra_leases leases."""
    store = MemoryStore()
    s = _server(store)
    s.slot_testv_and_readv_and_writev(MSI, (WE, RENEW, CANCEL), [(0, ([], [(0, b"some data")], None))], [], now=NOW)
    for i in range(4 + extra_leases):
        s.add_lease(MSI, bytes([i + 100]) * 32, CANCEL, now=NOW)
    return bytes(store.published[(MSI, 0)])


def _with_share(si: bytes, raw: bytes):
    store = MemoryStore()
    store.published[(si, 0)] = bytearray(raw)
    return _server(store), store


def _set(raw: bytes, at: int, value: bytes) -> bytes:
    b = bytearray(raw)
    b[at : at + len(value)] = value
    return bytes(b)


def _uploading(store=None):
    s = _server(store)
    assert s.allocate_buckets(SI, RENEW, CANCEL, {0}, 10, b"u", now=NOW) == (set(), {0})
    return s


# ----- containers ------------------------------------------------------------------------


def test_row_01_empty_or_short_immutable():
    for raw in (b"", b"\0\0\0\x02\0"):
        s, _ = _with_share(SI, raw)
        with pytest.raises(ts.CorruptShare, match="shorter than its header"):
            s.read(SI, 0, 0, 10)


def test_row_02_unknown_immutable_version():
    for v in (0, 3, 2**32 - 1):
        s, _ = _with_share(SI, struct.pack(">III", v, 0, 0))
        with pytest.raises(ts.UnknownImmutableVersion, match=str(v)):
            s.immutable_share_length(SI, 0)


def test_row_03_lease_count_exceeding_the_file():
    s, _ = _with_share(SI, struct.pack(">III", 2, 0, 3) + b"\0" * (10 + 72))
    with pytest.raises(ts.CorruptShare, match="lease count exceeds"):
        s.read(SI, 0, 0, 1)


def test_row_04_lease_count_u32_max():
    s, _ = _with_share(SI, struct.pack(">III", 2, 0, 2**32 - 1) + b"\0" * (10 + 72))
    with pytest.raises(ts.CorruptShare, match="lease count exceeds"):
        s.immutable_share_length(SI, 0)


def test_row_05_partial_trailing_lease():
    s, _ = _with_share(SI, _immutable_bytes(b"")[:-5])
    with pytest.raises(ts.CorruptShare, match="lease count exceeds"):
        s.read(SI, 0, 0, 1)
    s, _ = _with_share(MSI, _mutable_bytes(2)[:-5])
    with pytest.raises(ts.CorruptShare, match="lease count exceeds"):
        s.mutable_share_length(MSI, 0)


def test_row_06_legacy_length_field_disagreeing():
    # A v1 container, 100 data bytes, no lease, whose length field says 1000.
    raw = struct.pack(">III", 1, 1000, 0) + b"d" * 100
    s, _ = _with_share(SI, raw)
    assert s.immutable_share_length(SI, 0) == 100
    assert s.read(SI, 0, 0, 5000) == b"d" * 100


def test_row_07_wrong_mutable_magic():
    raw = bytearray(_mutable_bytes())
    raw[3] ^= 0x20
    s, _ = _with_share(MSI, bytes(raw))
    with pytest.raises(ts.UnknownMutableMagic):
        s.mutable_share_length(MSI, 0)
    with pytest.raises(ts.UnknownMutableMagic):
        s.slot_readv(MSI, set(), [(0, 10)])


def test_row_08_mutable_shorter_than_its_header():
    raw = _mutable_bytes()
    for cut, msg in ((60, "shorter than its header"), (120, "beyond end of file"), (467, "beyond end of file")):
        s, _ = _with_share(MSI, raw[:cut])
        with pytest.raises(ts.CorruptShare, match=msg):
            s.mutable_share_length(MSI, 0)


def test_row_09_data_length_beyond_the_container():
    s, _ = _with_share(MSI, _set(_mutable_bytes(), 84, struct.pack(">Q", MAX_MUTABLE + 1)))
    with pytest.raises(ts.CorruptShare, match="data length beyond"):
        s.slot_readv(MSI, set(), [(0, 10)])


def test_row_10_extra_lease_offset_overlapping_data():
    s, _ = _with_share(MSI, _set(_mutable_bytes(), 92, struct.pack(">Q", 468 + 2)))
    with pytest.raises(ts.CorruptShare, match="overlaps"):
        s.mutable_share_length(MSI, 0)


def test_row_11_extra_lease_offset_beyond_eof():
    s, _ = _with_share(MSI, _set(_mutable_bytes(), 92, struct.pack(">Q", 1 << 40)))
    with pytest.raises(ts.CorruptShare, match="beyond end of file"):
        s.mutable_share_length(MSI, 0)


def test_row_12_extra_lease_count_u32_max():
    raw = _mutable_bytes(1)
    (elo,) = struct.unpack(">Q", raw[92:100])
    s, _ = _with_share(MSI, _set(raw, elo, struct.pack(">I", 2**32 - 1)))
    with pytest.raises(ts.CorruptShare, match="lease count exceeds"):
        s.mutable_share_length(MSI, 0)


def test_row_13_lease_slot_of_owner_zero():
    raw = _mutable_bytes()
    s, _ = _with_share(MSI, raw)
    assert len(s.leases(MSI)) == 5
    s, _ = _with_share(MSI, _set(raw, 100, struct.pack(">I", 0)))
    assert len(s.leases(MSI)) == 4


# ----- the filesystem store --------------------------------------------------------------


def _fs_server(tmp_path):
    storage = str(tmp_path / "storage")
    s = ts.Server(storage, NODE, now=NOW)
    s.allocate_buckets(SI, RENEW, CANCEL, {3}, 4, b"u", now=NOW)
    s.write(SI, 3, b"u", 0, b"data", now=NOW)
    s.close(SI, 3, b"u")
    bucket = os.path.join(storage, "shares", _b32(SI)[:2], _b32(SI))
    return s, storage, bucket


def test_row_14_odd_share_file_names(tmp_path):
    s, _, bucket = _fs_server(tmp_path)
    for junk in ("007", "07", "4.tmp", "-1", "256", "abc", "+1"):
        with open(os.path.join(bucket, junk), "wb") as f:
            f.write(b"junk")
    assert s.shares(SI) == {3}
    with pytest.raises(ts.NoSuchShare):
        s.read(SI, 7, 0, 10)


def test_row_15_symlink_or_directory_as_a_share(tmp_path):
    s, _, bucket = _fs_server(tmp_path)
    os.symlink(os.path.join(bucket, "3"), os.path.join(bucket, "5"))
    os.mkdir(os.path.join(bucket, "6"))
    assert s.shares(SI) == {3}
    for n in (5, 6):
        with pytest.raises(ts.NotAShare):
            s.read(SI, n, 0, 10)
    assert s.read(SI, 3, 0, 10) == b"data"


# ----- the server --------------------------------------------------------------------------


def test_row_16_stale_incoming_share_at_startup(tmp_path):
    store = MemoryStore()
    store.incoming_shares[(SI, 2)] = bytearray(b"stale")
    s = _server(store)
    assert store.incoming_shares == {}
    assert s.shares(SI) == set()
    assert not s.upload_in_progress(SI, 2)
    # The filesystem store too.
    storage = str(tmp_path / "storage")
    incoming = os.path.join(storage, "shares", "incoming", _b32(SI)[:2], _b32(SI))
    os.makedirs(incoming)
    with open(os.path.join(incoming, "2"), "wb") as f:
        f.write(b"stale")
    s = ts.Server(storage, NODE, now=NOW)
    assert not os.path.exists(os.path.join(incoming, "2"))
    assert s.shares(SI) == set()


def test_row_17_storage_index_of_a_bad_length():
    s = _server()
    for bad in (b"", b"x" * 33, b"x" * 1000):
        with pytest.raises(ts.InvalidArgument):
            s.shares(bad)
        with pytest.raises(ts.InvalidArgument):
            s.allocate_buckets(bad, RENEW, CANCEL, {0}, 10, b"u", now=NOW)
    with pytest.raises(TypeError):
        s.shares("not bytes")  # type: ignore[arg-type]


def test_row_18_secret_of_a_bad_length():
    s = _server()
    for bad in (b"", b"r" * 31, b"r" * 33):
        # Secrets of any length are Tahoe's (test_lease_secret_lengths.py): a write
        # enabler of another length matches no slot, a lease secret is stored as Tahoe
        # stores it. Here there is no share: nothing to check, no lease to renew.
        assert s.slot_testv_and_readv_and_writev(MSI, (bad, RENEW, CANCEL), [], [], now=NOW) == (True, {})
        with pytest.raises(ts.NoSuchLease):
            s.renew_lease(SI, bad, now=NOW)
    with pytest.raises(ts.InvalidArgument, match="upload secret"):
        s.allocate_buckets(SI, RENEW, CANCEL, {0}, 10, b"", now=NOW)
    assert s.allocated_size() == 0


def test_row_19_share_number_above_255():
    s = _server()
    for bad in (256, 2**32, -1):
        with pytest.raises(ts.InvalidArgument, match="0 to 255"):
            s.allocate_buckets(SI, RENEW, CANCEL, {bad}, 10, b"u", now=NOW)
        with pytest.raises(ts.InvalidArgument, match="0 to 255"):
            s.read(SI, bad, 0, 1)
    with pytest.raises(ts.InvalidArgument, match="sharenum must be an integer from 0 to 255"):
        s.read(SI, 2**64, 0, 1)
    assert s.allocated_size() == 0


def test_row_20_too_many_or_duplicate_share_numbers():
    s = _server()
    with pytest.raises(ts.InvalidArgument):
        s.allocate_buckets(SI, RENEW, CANCEL, set(range(257)), 1, b"u", now=NOW)
    assert s.allocated_size() == 0
    # Share numbers are a set: duplicates in any iterable collapse, as in Tahoe's set().
    assert s.allocate_buckets(SI, RENEW, CANCEL, [4, 4, 4], 1, b"u", now=NOW) == (set(), {4})
    tw = [(1, ([], [(0, b"a")], None)), (1, ([], [(0, b"b")], None))]
    with pytest.raises(ts.InvalidArgument, match="twice"):
        s.slot_testv_and_readv_and_writev(MSI, (WE, RENEW, CANCEL), tw, [], now=NOW)
    assert s.shares(MSI) == set()


def test_row_21_oversized_allocation():
    store = MemoryStore(capacity=1000)
    s = _server(store)
    assert s.allocate_buckets(SI, RENEW, CANCEL, {0, 1}, 1001, b"u", now=NOW) == (set(), set())
    assert store.incoming_shares == {}
    assert s.allocated_size() == 0
    assert s.allocate_buckets(SI, RENEW, CANCEL, {0, 1}, 600, b"u", now=NOW) == (set(), {0})


def test_row_22_immutable_write_past_the_allocation():
    s = _uploading()
    with pytest.raises(ts.DataTooLarge, match="exceeds 10"):
        s.write(SI, 0, b"u", 5, b"123456", now=NOW)
    assert s.required_ranges(SI, 0, b"u") == [(0, 10)]


def test_row_23_offset_plus_length_overflowing():
    s = _uploading()
    with pytest.raises(ts.DataTooLarge):
        s.write(SI, 0, b"u", 2**64 - 1, b"xy", now=NOW)
    with pytest.raises(ts.InvalidArgument, match="offset must be an integer from 0 to"):
        s.write(SI, 0, b"u", 2**64, b"x", now=NOW)
    with pytest.raises(ValueError, match="offset must be an integer from 0 to .*; got -1"):
        s.write(SI, 0, b"u", -1, b"x", now=NOW)
    assert s.required_ranges(SI, 0, b"u") == [(0, 10)]
    tw = [(0, ([], [(2**64 - 2, b"xyz")], None))]
    with pytest.raises(ts.DataTooLarge):
        s.slot_testv_and_readv_and_writev(MSI, (WE, RENEW, CANCEL), tw, [], now=NOW)
    assert s.shares(MSI) == set()
    s.write(SI, 0, b"u", 0, b"0123456789", now=NOW)
    s.close(SI, 0, b"u")
    assert s.read(SI, 0, 3, 2**64 - 1) == b"3456789"
    assert s.read(SI, 0, 2**64 - 1, 2**64 - 1) == b""


def test_row_24_conflicting_immutable_write():
    store = MemoryStore()
    s = _uploading(store)
    s.write(SI, 0, b"u", 0, b"abcd", now=NOW)
    before = bytes(store.incoming_shares[(SI, 0)])
    with pytest.raises(ts.ConflictingWrite, match="2-4"):
        s.write(SI, 0, b"u", 2, b"cXef", now=NOW)
    assert bytes(store.incoming_shares[(SI, 0)]) == before
    assert s.required_ranges(SI, 0, b"u") == [(4, 10)]


def test_row_25_write_after_close_or_abort():
    s = _uploading()
    s.write(SI, 0, b"u", 0, b"0123456789", now=NOW)
    s.close(SI, 0, b"u")
    with pytest.raises(ts.NoSuchUpload):
        s.write(SI, 0, b"u", 0, b"X", now=NOW)
    with pytest.raises(ts.NoSuchUpload):
        s.close(SI, 0, b"u")
    assert s.read(SI, 0, 0, 100) == b"0123456789"
    store = MemoryStore()
    s = _uploading(store)
    s.abort(SI, 0, b"u")
    with pytest.raises(ts.NoSuchUpload):
        s.write(SI, 0, b"u", 0, b"X", now=NOW)
    with pytest.raises(ts.NoSuchUpload):
        s.abort(SI, 0, b"u")
    assert store.incoming_shares == {} and store.published == {}


def test_row_26_close_with_holes():
    s = _uploading()
    s.write(SI, 0, b"u", 2, b"ab", now=NOW)
    assert s.required_ranges(SI, 0, b"u") == [(0, 2), (4, 10)]
    s.close(SI, 0, b"u")
    assert s.read(SI, 0, 0, 100) == b"\0\0ab" + b"\0" * 6


def test_row_27_reads_past_the_end():
    s = _uploading()
    s.write(SI, 0, b"u", 0, b"0123456789", now=NOW)
    s.close(SI, 0, b"u")
    assert s.read(SI, 0, 1 << 62, 64) == b""
    assert s.read(SI, 0, 5, 64) == b"56789"
    r = s.open_bucket(SI, 0)
    assert r.read(8, 2**64 - 1) == b"89"
    s.slot_testv_and_readv_and_writev(MSI, (WE, RENEW, CANCEL), [(0, ([], [(0, b"abc")], None))], [], now=NOW)
    assert s.slot_readv(MSI, set(), [(1 << 62, 10), (1, 2**64 - 1)]) == {0: [b"", b"bc"]}


def test_row_28_test_operator_other_than_eq():
    s = _server()
    for op in (b"lt", b"ne", b"", b"EQ"):
        tw = [(0, ([(0, 1, op, b"")], [(0, b"x")], None))]
        with pytest.raises(ts.UnsupportedOperator):
            s.slot_testv_and_readv_and_writev(MSI, (WE, RENEW, CANCEL), tw, [], now=NOW)
    assert s.shares(MSI) == set()


def test_row_29_many_test_or_read_vectors():
    s = _server()
    tw = [(0, ([], [(i, b"z") for i in range(40)], None))]
    assert s.slot_testv_and_readv_and_writev(MSI, (WE, RENEW, CANCEL), tw, [], now=NOW)[0]
    tw = [(0, ([(i, 1, b"eq", b"z") for i in range(31)], [], None))]
    passed, reads = s.slot_testv_and_readv_and_writev(
        MSI, (WE, RENEW, CANCEL), tw, [(i, 1) for i in range(31)], now=NOW
    )
    assert passed and len(reads[0]) == 31


def test_row_30_mutable_write_past_the_maximum():
    s = _server()
    s.slot_testv_and_readv_and_writev(MSI, (WE, RENEW, CANCEL), [(0, ([], [(0, b"some data")], None))], [], now=NOW)
    tw = [(0, ([], [(0, b"ok"), (MAX_MUTABLE, b"x")], None))]
    with pytest.raises(ts.DataTooLarge):
        s.slot_testv_and_readv_and_writev(MSI, (WE, RENEW, CANCEL), tw, [], now=NOW)
    # Nothing of the call was applied (Tahoe applies the first vector).
    assert s.slot_readv(MSI, set(), [(0, 100)]) == {0: [b"some data"]}


def test_row_31_wrong_write_enabler():
    s = _server()
    s.slot_testv_and_readv_and_writev(MSI, (WE, RENEW, CANCEL), [(0, ([], [(0, b"abc")], None))], [], now=NOW)
    node_b32 = base64.b32encode(NODE).decode().lower()
    with pytest.raises(ts.BadWriteEnabler, match=node_b32):
        s.slot_testv_and_readv_and_writev(
            MSI, (b"W" * 32, RENEW, CANCEL), [(0, ([], [(0, b"XYZ")], None))], [], now=NOW
        )
    assert s.slot_readv(MSI, set(), [(0, 10)]) == {0: [b"abc"]}


def test_row_32_unknown_renew_or_cancel_secret():
    s = _uploading()
    s.close(SI, 0, b"u")
    before = s.leases(SI)
    with pytest.raises(ts.NoSuchLease):
        s.renew_lease(SI, b"?" * 32, now=NOW + 100)
    with pytest.raises(ts.NoSuchLease):
        s.cancel_lease(SI, b"?" * 32)
    with pytest.raises(ts.NoSuchLease):
        s.renew_lease(b"\x77" * 16, RENEW, now=NOW)
    assert s.leases(SI) == before


def test_row_33_wrong_upload_secret():
    store = MemoryStore()
    s = _uploading(store)
    s.write(SI, 0, b"u", 0, b"ab", now=NOW)
    before = bytes(store.incoming_shares[(SI, 0)])
    for call in (
        lambda: s.write(SI, 0, b"not u", 2, b"cd", now=NOW),
        lambda: s.required_ranges(SI, 0, b"not u"),
        lambda: s.close(SI, 0, b"not u"),
        lambda: s.abort(SI, 0, b"not u"),
    ):
        with pytest.raises(ts.BadUploadSecret):
            call()
    assert s.upload_in_progress(SI, 0)
    assert bytes(store.incoming_shares[(SI, 0)]) == before
    assert s.required_ranges(SI, 0, b"u") == [(2, 10)]


# ----- rows 34-38: a Python store that misbehaves -------------------------------------------


class _Handle:
    """Wraps a share handle of MemoryStore; `faults` says what goes wrong."""

    def __init__(self, inner, faults):
        self.inner, self.faults = inner, faults

    def size(self):
        if "size_str" in self.faults:
            return "ten"
        return self.inner.size()

    def read(self, offset, length):
        data = self.inner.read(offset, length)
        if "short_read" in self.faults:
            return data[: length // 2]
        if "long_read" in self.faults:
            return data + b"EXTRA"
        if "str_read" in self.faults:
            return data.decode("latin-1")
        if "raise_read" in self.faults:
            raise RuntimeError("read exploded")
        return data

    def write(self, offset, data):
        if "enospc" in self.faults and offset + len(data) > 100:
            raise OSError(errno.ENOSPC, "No space left on device")
        if "raise_write" in self.faults:
            self.inner.write(offset, data[: len(data) // 2])
            raise OSError(errno.EIO, "torn write")
        self.inner.write(offset, data)

    def truncate(self, length):
        if "enospc" in self.faults and length > 100:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.inner.truncate(length)

    def sync(self):
        if "sync" in self.faults:
            raise OSError(errno.EIO, "fsync failed")


class _FaultyStore(MemoryStore):
    def __init__(self):
        super().__init__()
        self.faults: set[str] = set()

    def open(self, storage_index, shnum):
        h = super().open(storage_index, shnum)
        return None if h is None else _Handle(h, self.faults)

    def create_incoming(self, storage_index, shnum):
        return _Handle(super().create_incoming(storage_index, shnum), self.faults)

    def open_incoming(self, storage_index, shnum):
        h = super().open_incoming(storage_index, shnum)
        return None if h is None else _Handle(h, self.faults)


def _published_on_faulty():
    store = _FaultyStore()
    s = _uploading(store)
    s.write(SI, 0, b"u", 0, b"0123456789", now=NOW)
    s.close(SI, 0, b"u")
    return s, store


def test_row_34_backend_short_read():
    s, store = _published_on_faulty()
    store.faults.add("short_read")
    with pytest.raises(ts.IoError, match="wrong number of bytes"):
        s.read(SI, 0, 0, 10)
    store.faults.clear()
    assert s.read(SI, 0, 0, 10) == b"0123456789"


def test_row_35_backend_partial_write():
    store = _FaultyStore()
    s = _uploading(store)
    store.faults.add("raise_write")
    with pytest.raises(ts.IoError) as info:
        s.write(SI, 0, b"u", 0, b"0123456789", now=NOW)
    assert isinstance(info.value.__cause__, OSError) and info.value.__cause__.errno == errno.EIO
    assert s.required_ranges(SI, 0, b"u") == [(0, 10)]
    store.faults.clear()
    assert s.write(SI, 0, b"u", 0, b"0123456789", now=NOW) is True


def test_row_36_backend_sync_error():
    store = _FaultyStore()
    s = _uploading(store)
    s.write(SI, 0, b"u", 0, b"0123456789", now=NOW)
    store.faults.add("sync")
    with pytest.raises(ts.IoError) as info:
        s.close(SI, 0, b"u")
    assert isinstance(info.value.__cause__, OSError)
    assert s.shares(SI) == set()
    store.faults.clear()
    with pytest.raises(ts.Poisoned):
        s.close(SI, 0, b"u")
    with pytest.raises(ts.Poisoned):
        s.write(SI, 0, b"u", 0, b"0", now=NOW)
    assert s.shares(SI) == set()
    s.abort(SI, 0, b"u")
    assert store.incoming_shares == {}


def test_row_37_enospc_during_upload():
    store = _FaultyStore()
    s = _server(store)
    store.faults.add("enospc")
    with pytest.raises(ts.NoSpace):
        s.allocate_buckets(SI, RENEW, CANCEL, {0, 1}, 500, b"u", now=NOW)
    assert store.incoming_shares == {}
    assert s.allocated_size() == 0 and not s.upload_in_progress(SI, 0)
    # Any other OSError of the store stays an IoError, with the store's error as cause.
    store.faults.discard("enospc")
    store.faults.add("raise_write")
    with pytest.raises(ts.IoError) as info:
        s.allocate_buckets(SI, RENEW, CANCEL, {0}, 500, b"u", now=NOW)
    cause = info.value.__cause__
    assert isinstance(cause, OSError) and cause.errno == errno.EIO
    assert store.incoming_shares == {}
    assert s.allocated_size() == 0 and not s.upload_in_progress(SI, 0)


def test_row_38_misbehaving_device_or_callbacks():
    s, store = _published_on_faulty()
    # A raising callback: IoError, with the very exception chained as its cause.
    store.faults.add("raise_read")
    with pytest.raises(ts.IoError) as info:
        s.read(SI, 0, 0, 10)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert str(info.value.__cause__) == "read exploded"
    # More bytes than asked for, or the wrong type: the documented protocol error.
    for fault, msg in (("long_read", "wrong number of bytes"), ("str_read", "must return bytes")):
        store.faults.clear()
        store.faults.add(fault)
        with pytest.raises(ts.IoError, match=msg):
            s.read(SI, 0, 0, 10)
    store.faults.clear()
    store.faults.add("size_str")
    with pytest.raises(ts.IoError):
        s.immutable_share_length(SI, 0)

    # A store method that raises, and one that answers with the wrong type.
    class Broken(MemoryStore):
        def list(self, storage_index):
            raise ValueError("list exploded")

    with pytest.raises(ts.IoError) as info:
        _server(Broken()).shares(SI)
    assert isinstance(info.value.__cause__, ValueError)

    class Nonsense(MemoryStore):
        def list(self, storage_index):
            return ["not", "numbers"]

    with pytest.raises(ts.IoError):
        _server(Nonsense()).shares(SI)

    class OutOfRange(MemoryStore):
        def list(self, storage_index):
            return [300]

    with pytest.raises(ts.IoError, match="broke its protocol: share number out of range"):
        _server(OutOfRange()).shares(SI)
    # Nothing was harmed: the faulty store still serves once it behaves.
    store.faults.clear()
    assert s.read(SI, 0, 0, 10) == b"0123456789"


# ----- the figure --------------------------------------------------------------------------


def test_catalogue_figure():
    rows = [name for name in vars(sys.modules[__name__]) if name.startswith("test_row")]
    assert len(rows) == 38
    print(f"\nRELIABILITY bad_inputs_python {len(rows)}")

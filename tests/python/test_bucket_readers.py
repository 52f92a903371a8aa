"""Bucket readers pin no file descriptors.

A ``tahoe_shares.BucketReader`` holds which share it reads and its length; each read
opens the share, as Tahoe's ``BucketReader`` opens its file per read. So readers cost no
descriptors, and a reader of a share deleted since raises ``NoSuchShare`` (through the
drop-in, Tahoe's ``FileNotFoundError``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from allmydata.storage.common import storage_index_to_dir

import tahoe_shares as ts
from tahoe_shares.tahoe import StorageServer

NODE = b"N" * 20
NOW = 1_800_000_000
SI = b"\x05" * 16


def _descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def _server_with_shares(storage: Path) -> ts.Server:
    s = ts.Server(str(storage), NODE, now=NOW)
    s.allocate_buckets(SI, b"r" * 32, b"c" * 32, {0, 1}, 10, b"u", now=NOW)
    for n in (0, 1):
        s.write(SI, n, b"u", 0, b"0123456789", now=NOW)
        s.close(SI, n, b"u")
    return s


def test_three_hundred_readers_hold_no_descriptor(tmp_path: Path) -> None:
    s = _server_with_shares(tmp_path / "storage")
    before = _descriptors()
    readers = [s.open_bucket(SI, i % 2) for i in range(300)]
    assert _descriptors() == before
    assert all(r.read(2, 3) == b"234" for r in readers)
    assert all(r.length() == 10 for r in readers)
    assert _descriptors() == before


def test_reader_of_a_deleted_share_raises_no_such_share(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    s = _server_with_shares(storage)
    r0, r1 = s.open_bucket(SI, 0), s.open_bucket(SI, 1)
    os.unlink(storage / "shares" / storage_index_to_dir(SI) / "1")
    with pytest.raises(ts.NoSuchShare):
        r1.read(0, 10)
    assert r1.length() == 10
    assert r1.read(10, 5) == b""
    assert r0.read(0, 10) == b"0123456789"


def test_drop_in_reader_of_a_deleted_share_raises_file_not_found(tmp_path: Path) -> None:
    storedir = tmp_path / "tahoe-storage"
    ss = StorageServer(str(storedir), NODE)
    _, writers = ss.allocate_buckets(SI, b"r" * 32, b"c" * 32, {0}, 4)
    writers[0].write(0, b"abcd")
    writers[0].close()
    readers = ss.get_buckets(SI)
    path = os.path.join(ss.sharedir, storage_index_to_dir(SI), "0")
    assert readers[0].read(0, 4) == b"abcd"
    os.unlink(path)
    with pytest.raises(FileNotFoundError) as info:
        readers[0].read(0, 4)
    assert info.value.filename == path
    assert readers[0].get_length() == 4


def test_reader_of_a_share_cut_short_since_reads_what_it_holds(tmp_path: Path) -> None:
    # A read is sized by the length the reader saw at opening; the share holds less now.
    storage = tmp_path / "storage"
    s = _server_with_shares(storage)
    r = s.open_bucket(SI, 0)
    path = storage / "shares" / storage_index_to_dir(SI) / "0"
    # The v1 header with no lease (its count at 0x08), then 4 of the 10 data bytes.
    with open(path, "r+b") as f:
        f.seek(0x08)
        f.write((0).to_bytes(4, "big"))
        f.truncate(0x0C + 4)
    assert r.length() == 10
    assert r.read(0, 10) == b"0123"
    assert r.read(2, 8) == b"23"
    assert r.read(4, 6) == b""

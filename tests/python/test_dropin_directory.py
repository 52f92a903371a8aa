"""The drop-in and the storage-directory lock.

One writer per storage directory: the drop-ins of one process on one directory share one
core server (Tahoe's own suites build several StorageServer objects on one directory and
use them side by side), a drop-in with other fixed settings takes the directory over, and
another process gets StorageLocked.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import tahoe_shares
from tahoe_shares.tahoe import StorageServer

NODE = b"N" * 20
SI = b"\x07" * 16
RENEW, CANCEL = b"r" * 32, b"c" * 32


def _upload(ss, si, data, finish=True):
    _, writers = ss.allocate_buckets(si, RENEW, CANCEL, {0}, len(data))
    bw = writers[0]
    bw.write(0, data)
    if finish:
        bw.close()
    return bw


def test_drop_ins_on_one_directory_share_one_core(tmp_path):
    storage = str(tmp_path / "storage")
    first = StorageServer(storage, NODE)
    in_progress = _upload(first, b"\x01" * 16, b"half", finish=False)
    second = StorageServer(storage, NODE)
    # The second did not discard the first one's upload in progress, and each sees the
    # other's shares.
    in_progress.close()
    assert second.get_buckets(b"\x01" * 16)[0].read(0, 10) == b"half"
    _upload(second, SI, b"from the second")
    assert first.get_buckets(SI)[0].read(0, 100) == b"from the second"
    # Stopping one keeps the other serving; stopping both lets go of the directory.
    first.stopService()
    assert second.get_buckets(SI)[0].read(0, 100) == b"from the second"
    with pytest.raises(tahoe_shares.StorageLocked):
        tahoe_shares.Server(storage, NODE)
    second.stopService()
    with tahoe_shares.Server(storage, NODE) as native:
        assert native.read(SI, 0, 0, 100) == b"from the second"
    # A stopped drop-in called again (Tahoe's HTTP front end answering a request in
    # flight) opens its directory again, as Tahoe's server still reads its files.
    assert first.get_buckets(SI)[0].read(0, 100) == b"from the second"
    with pytest.raises(tahoe_shares.StorageLocked):
        tahoe_shares.Server(storage, NODE)
    first.stopService()
    tahoe_shares.Server(storage, NODE).shutdown()


def test_a_drop_in_with_another_node_id_takes_the_directory_over(tmp_path):
    storage = str(tmp_path / "storage")
    old = StorageServer(storage, NODE)
    _upload(old, SI, b"kept")
    _upload(old, b"\x02" * 16, b"aborted", finish=False)
    new = StorageServer(storage, b"M" * 20)
    assert new.get_buckets(SI)[0].read(0, 10) == b"kept"
    assert new.get_buckets(b"\x02" * 16) == {}
    with pytest.raises(tahoe_shares.ServerClosed):
        old.get_buckets(SI)
    new.stopService()
    old.stopService()  # already retired: nothing more to release


def test_another_process_gets_storage_locked(tmp_path):
    storage = str(tmp_path / "storage")
    ss = StorageServer(storage, NODE)
    _upload(ss, SI, b"mine")
    child = (
        "import sys, tahoe_shares\n"
        "try:\n"
        "    tahoe_shares.Server(sys.argv[1], b'N' * 20)\n"
        "except tahoe_shares.StorageLocked as e:\n"
        "    print('locked', e.holder is not None)\n"
    )
    out = subprocess.run([sys.executable, "-c", child, storage], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "locked True"
    assert ss.get_buckets(SI)[0].read(0, 10) == b"mine"
    ss.stopService()
    out = subprocess.run([sys.executable, "-c", child, storage], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


_FSYNC_CHILD = r"""
import sys
import tahoe_shares.tahoe as t
mode, storage = sys.argv[1], sys.argv[2]
if mode == "installed-no-sync":
    t.install(durable=False)
    ss = t.StorageServer(storage, b"N" * 20)
else:
    ss = t.StorageServer(storage, b"N" * 20, durable=(mode == "durable"))
_, writers = ss.allocate_buckets(b"\x07" * 16, b"r" * 32, b"c" * 32, {0}, 4)
writers[0].write(0, b"data")
writers[0].close()
"""


def _fsyncs(tmp_path, mode):
    """fsync and fdatasync calls of one upload through the drop-in, counted by strace."""
    import shutil

    strace = shutil.which("strace")
    assert strace, "strace is needed (make strace-tool installs it)"
    out = tmp_path / f"{mode}.trace"
    subprocess.run(
        [strace, "-f", "-qq", "-e", "trace=fsync,fdatasync", "-o", str(out),
         sys.executable, "-c", _FSYNC_CHILD, mode, str(tmp_path / mode)],
        check=True,
    )
    return sum(1 for line in out.read_text().splitlines() if "fsync(" in line or "fdatasync(" in line)


def test_durable_false_skips_fsync_as_tahoe_does(tmp_path):
    """The drop-in is durable by default; durable=False (in the constructor, or for every
    node through install(durable=False)) calls no fsync at all, as Tahoe's own server."""
    assert _fsyncs(tmp_path, "durable") > 0
    assert _fsyncs(tmp_path, "no-sync") == 0
    assert _fsyncs(tmp_path, "installed-no-sync") == 0


_LOG_CHILD = r"""
import os, sys
import tahoe_shares.tahoe as t
storage, renew = sys.argv[1], sys.argv[2] == "renew"
ss = t.StorageServer(storage, b"N" * 20)
secrets = (b"w" * 32, b"r" * 32, b"c" * 32)
def write(data, renew_leases):
    ok, _ = ss.slot_testv_and_readv_and_writev(
        b"\x09" * 16, secrets, {0: ([], [(0, data)], None)}, [], renew_leases=renew_leases)
    assert ok
write(b"a" * 1000, True)
write(b"b" * 1000, False)  # creates the log: its file and directory are synced once
def mark(name):
    try:
        os.open(os.path.join(storage, name), os.O_RDONLY)
    except FileNotFoundError:
        pass
mark("mark-begin")
for i in range(3):
    write(bytes([i + 1]) * 1000, renew)
mark("mark-end")
"""


def _syncs_of_in_place_writes(tmp_path, renew):
    """The files fsynced or fdatasynced by three in-place test-and-writes of a 1000-byte
    slot through the drop-in, counted by strace between two marks."""
    import shutil

    strace = shutil.which("strace")
    assert strace, "strace is needed (make strace-tool installs it)"
    storage = tmp_path / ("renew" if renew else "plain")
    out = tmp_path / f"{storage.name}.trace"
    subprocess.run(
        [strace, "-f", "-qq", "-y", "-e", "trace=openat,fsync,fdatasync", "-o", str(out),
         sys.executable, "-c", _LOG_CHILD, str(storage), "renew" if renew else "plain"],
        check=True,
    )
    lines = out.read_text().splitlines()
    begin = next(i for i, l in enumerate(lines) if "mark-begin" in l)
    end = next(i for i, l in enumerate(lines) if "mark-end" in l)
    synced = []
    for l in lines[begin:end]:
        if "fsync(" in l or "fdatasync(" in l:
            synced.append(l.split("<", 1)[1].split(">", 1)[0].rsplit("/", 1)[-1])
    return synced


def test_an_in_place_test_and_write_is_one_fdatasync_of_the_log(tmp_path):
    """Through the drop-in as through the Rust server, an in-place test-and-write is one
    record in the store's write-ahead log (docs/format.md §5a): one fdatasync of
    tahoe-shares.wal, none of the share; a renewal with it is a second record (when the
    clock has moved on by a second: an expiry that does not move forward is not
    rewritten)."""
    assert _syncs_of_in_place_writes(tmp_path, renew=False) == ["tahoe-shares.wal"] * 3
    renewing = _syncs_of_in_place_writes(tmp_path, renew=True)
    assert set(renewing) == {"tahoe-shares.wal"} and 3 <= len(renewing) <= 6, renewing


def test_a_short_storage_index_goes_through_the_log(tmp_path):
    """Tahoe's own tests use 3-byte storage indexes (b"si1"); an in-place write of such a
    slot is a log record like any other (it once panicked in the record's encoding)."""
    ss = StorageServer(str(tmp_path / "storage"), NODE)
    secrets = (b"w" * 32, b"r" * 32, b"c" * 32)
    for fill in (b"a", b"b", b"c"):
        ok, _ = ss.slot_testv_and_readv_and_writev(
            b"si1", secrets, {0: ([], [(0, fill * 100)], None)}, [])
        assert ok
    assert ss.slot_readv(b"si1", [0], [(0, 100)]) == {0: [b"c" * 100]}
    assert (tmp_path / "storage" / "tahoe-shares.wal").exists()
    ss.stopService()

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

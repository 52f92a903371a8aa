"""Lease secrets that are not 32 bytes, against Tahoe's own share classes.

Tahoe 1.20 takes renew and cancel secrets of any length: a schema 1 record stores them
padded with zeros or cut to 32 bytes (``struct.pack(">32s")``) and matches only a 32-byte
secret equal to those bytes; a schema 2 record stores BLAKE2b-256 of the bytes given. Each
case starts from one share file written by Tahoe's ``ShareFile`` or ``MutableShareFile``
(schema 1 or 2), copied into a tahoe-shares storage directory, then applies the same lease
operations through Tahoe's class and through ``tahoe_shares.Server``: the outcomes (matched
or not) and the files, byte for byte, must agree after every step.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from allmydata.storage.common import si_b2a, storage_index_to_dir
from allmydata.storage.immutable import ShareFile
from allmydata.storage.immutable_schema import schema_from_version
from allmydata.storage.lease import LeaseInfo
from allmydata.storage.mutable import MutableShareFile
from allmydata.storage.mutable_schema import ALL_SCHEMAS as MUTABLE_SCHEMAS

import tahoe_shares as ts

T0 = 1_700_000_000
DURATION = 31 * 24 * 60 * 60
NODEID = bytes(range(1, 21))
WRITE_ENABLER = b"\x42" * 32
SI = b"\x07" * 16
LENGTHS = [(0, 0), (1, 5), (16, 16), (31, 33), (32, 32), (33, 31), (64, 1)]


def secret(n: int, salt: int) -> bytes:
    return bytes((i * 7 + salt) % 256 for i in range(n))


def mutable_schema(version: int):
    return next(s for s in MUTABLE_SCHEMAS if s.version == version)


def make_tahoe_share(path: Path, kind: str, version: int) -> None:
    if kind == "immutable":
        sf = ShareFile(str(path), max_size=5, create=True, schema=schema_from_version(version))
        sf.write_share_data(0, b"hello")
    else:
        msf = MutableShareFile(str(path), schema=mutable_schema(version))
        msf.create(NODEID, WRITE_ENABLER)
        msf.writev([(0, b"hello")], None)


def tahoe_share(path: Path, kind: str):
    return ShareFile(str(path)) if kind == "immutable" else MutableShareFile(str(path))


def outcome(f) -> str:
    try:
        f()
    except (IndexError, ts.NoSuchLease):
        return "no-match"
    return "ok"


@pytest.mark.parametrize("kind", ["immutable", "mutable"])
@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(("rlen", "clen"), LENGTHS)
def test_lease_records_match_tahoe(
    tmp_path: Path, kind: str, version: int, rlen: int, clen: int
) -> None:
    theirs = tmp_path / "tahoe-share"
    make_tahoe_share(theirs, kind, version)
    storage = tmp_path / "storage"
    ours = storage / "shares" / storage_index_to_dir(SI) / "0"
    ours.parent.mkdir(parents=True)
    shutil.copyfile(theirs, ours)
    server = ts.Server(str(storage), NODEID, now=T0, durable=False)
    renew, cancel = secret(rlen, 1), secret(clen, 101)

    def same_files(step: str) -> None:
        assert theirs.exists() == ours.exists(), step
        if theirs.exists():
            assert ours.read_bytes() == theirs.read_bytes(), step

    def tahoe_add(now: int) -> None:
        nodeid = None if kind == "immutable" else NODEID
        info = LeaseInfo(1, renew, cancel, now + DURATION, nodeid)
        tahoe_share(theirs, kind).add_or_renew_lease(2**64, info)

    # Adding twice: schema 2 renews the first record; schema 1 adds a second one unless
    # the secret is 32 bytes.
    for step, now in (("add", T0 + 10), ("add again", T0 + 20)):
        tahoe_add(now)
        assert server.add_lease(SI, renew, cancel, now=now) == 1
        same_files(step)
    ours_out = outcome(lambda: server.renew_lease(SI, renew, now=T0 + 30))
    theirs_out = outcome(lambda: tahoe_share(theirs, kind).renew_lease(renew, T0 + 30 + DURATION))
    assert ours_out == theirs_out
    assert ours_out == ("ok" if version == 2 or rlen == 32 else "no-match")
    same_files("renew")
    ours_out = outcome(lambda: server.cancel_lease(SI, cancel))
    theirs_out = outcome(lambda: tahoe_share(theirs, kind).cancel_lease(cancel))
    assert ours_out == theirs_out
    assert ours_out == ("ok" if version == 2 or clen == 32 else "no-match")
    same_files("cancel")


@pytest.mark.parametrize("we_len", [0, 5, 31, 33, 40])
def test_write_enablers_of_other_lengths_match_tahoe(tmp_path: Path, we_len: int) -> None:
    """A write enabler that is not 32 bytes creates a slot (stored padded or cut, as
    ``struct.pack("32s")`` stores it) and never matches again, with Tahoe's message."""
    from allmydata.interfaces import BadWriteEnablerError
    from allmydata.storage.server import StorageServer as TahoeServer
    from twisted.internet.task import Clock

    clock = Clock()
    clock.advance(T0)
    tahoe = TahoeServer(str(tmp_path / "tahoe"), NODEID, clock=clock)
    ours = ts.Server(str(tmp_path / "ours"), NODEID, now=T0, durable=False)
    we = secret(we_len, 50)
    secrets = (we, b"r" * 32, b"c" * 32)
    first = {0: ([], [(0, b"first")], None)}
    assert tahoe.slot_testv_and_readv_and_writev(SI, secrets, first, []) == (True, {})
    assert ours.slot_testv_and_readv_and_writev(
        SI, secrets, list(first.items()), [], now=T0) == (True, {})
    path = Path("shares") / storage_index_to_dir(SI) / "0"
    assert (tmp_path / "ours" / path).read_bytes() == (tmp_path / "tahoe" / path).read_bytes()
    again = {0: ([], [(0, b"again")], None)}
    with pytest.raises(BadWriteEnablerError) as theirs:
        tahoe.slot_testv_and_readv_and_writev(SI, secrets, again, [])
    with pytest.raises(ts.BadWriteEnabler) as mine:
        ours.slot_testv_and_readv_and_writev(SI, secrets, list(again.items()), [], now=T0)
    assert str(mine.value) == str(theirs.value)
    # The 32 stored bytes are the write enabler that matches.
    stored = (we + b"\0" * 32)[:32]
    ok = (stored, b"r" * 32, b"c" * 32)
    assert tahoe.slot_testv_and_readv_and_writev(SI, ok, again, [])[0]
    assert ours.slot_testv_and_readv_and_writev(SI, ok, list(again.items()), [], now=T0)[0]
    assert (tmp_path / "ours" / path).read_bytes() == (tmp_path / "tahoe" / path).read_bytes()

"""Errors carry their context from the core (the drop-in converts; the core decides): the
share number, the version or magic found, the share kind and the nodes that
accepted its leases, so that the drop-in only maps them to Tahoe's exceptions."""

from __future__ import annotations

from pathlib import Path

import pytest
from allmydata.util import idlib

import tahoe_shares as ts

NODE = b"N" * 20
NOW = 1_800_000_000
SI = b"\x06" * 16
SECRETS = (b"w" * 32, b"r" * 32, b"c" * 32)


def _server(tmp_path: Path) -> ts.Server:
    return ts.Server(str(tmp_path / "storage"), NODE, now=NOW)


def test_kind_errors_name_the_share_and_what_was_found(tmp_path: Path) -> None:
    s = _server(tmp_path)
    s.slot_testv_and_readv_and_writev(SI, SECRETS, [(3, ([], [(0, b"m")], None))], [], now=NOW)
    with pytest.raises(ts.UnknownImmutableVersion) as imm:
        s.open_bucket(SI, 3)
    assert imm.value.share == 3
    assert imm.value.version == int.from_bytes(b"Taho", "big")
    other = b"\x08" * 16
    s.allocate_buckets(other, b"r" * 32, b"c" * 32, {5}, 3, b"u", now=NOW)
    s.write(other, 5, b"u", 0, b"abc", now=NOW)
    s.close(other, 5, b"u")
    with pytest.raises(ts.UnknownMutableMagic) as mut:
        s.slot_readv(other, set(), [(0, 1)])
    assert mut.value.share == 5
    assert mut.value.magic[:8] == b"\0\0\0\x02\0\0\0\x03"


def test_no_such_lease_carries_the_accepting_nodes_and_tahoes_message(tmp_path: Path) -> None:
    s = _server(tmp_path)
    with pytest.raises(ts.NoSuchLease) as none:
        s.renew_lease(SI, b"x" * 32, now=NOW)
    assert (none.value.share, none.value.kind, none.value.accepted_by) == (None, None, [])
    assert str(none.value) == "no such lease to renew"
    s.slot_testv_and_readv_and_writev(SI, SECRETS, [(1, ([], [(0, b"m")], None))], [], now=NOW)
    with pytest.raises(ts.NoSuchLease) as mutable:
        s.renew_lease(SI, b"x" * 32, now=NOW)
    e = mutable.value
    assert (e.share, e.kind, e.accepted_by) == (1, "mutable", [NODE])
    assert str(e) == (
        "Unable to renew non-existent lease. I have leases accepted by nodeids: '%s' ."
        % idlib.nodeid_b2a(NODE)
    )


def test_write_enabler_of_another_length_is_refused_by_the_core(tmp_path: Path) -> None:
    s = _server(tmp_path)
    short = (b"short", b"r" * 32, b"c" * 32)
    assert s.slot_testv_and_readv_and_writev(SI, short, [(0, ([], [(0, b"m")], None))], [], now=NOW)[0]
    with pytest.raises(ts.BadWriteEnabler) as e:
        s.slot_testv_and_readv_and_writev(SI, short, [(0, ([], [(0, b"n")], None))], [], now=NOW)
    assert str(e.value) == "The write enabler was recorded by nodeid '%s'." % idlib.nodeid_b2a(NODE)


def test_advisories_about_impossible_share_numbers_are_not_held(tmp_path: Path) -> None:
    s = _server(tmp_path)
    for n in (256, 2**40, -1):
        assert s.advise_corrupt_share(b"immutable", SI, n, b"\xff") == "not-held"


def test_advisory_text_that_is_not_utf8_says_where(tmp_path: Path) -> None:
    """The core names the text and where it stops being UTF-8; the share type is checked
    first, as Tahoe decodes it first."""
    s = _server(tmp_path)
    s.allocate_buckets(SI, b"r" * 32, b"c" * 32, {0}, 1, b"u", now=NOW)
    s.write(SI, 0, b"u", 0, b"x", now=NOW)
    s.close(SI, 0, b"u")
    cases = [
        (b"immutable", b"ok \xff!", ("reason", 3, 1)),
        (b"\xc3", b"\xff", ("share_type", 0, None)),
    ]
    for share_type, reason, expected in cases:
        with pytest.raises(ts.InvalidArgument) as e:
            s.advise_corrupt_share(share_type, SI, 0, reason, now=NOW)
        assert (e.value.argument, e.value.start, e.value.length) == expected


def test_dropin_raises_the_unicode_error_tahoes_server_raises(tmp_path: Path) -> None:
    """Tahoe's server decodes advisory text and raises UnicodeDecodeError; the drop-in maps
    the core's error to the same exception, with the same text and positions."""
    from allmydata.storage.server import StorageServer as TahoeServer

    from tahoe_shares.tahoe import StorageServer as DropIn

    def raised(cls, where: Path, share_type: bytes, reason: bytes) -> UnicodeDecodeError:
        ss = cls(str(where), NODE)
        _, writers = ss.allocate_buckets(SI, b"r" * 32, b"c" * 32, {0}, 1)
        writers[0].write(0, b"x")
        writers[0].close()
        try:
            with pytest.raises(UnicodeDecodeError) as e:
                ss.advise_corrupt_share(share_type, SI, 0, reason)
        finally:
            ss.stopService() if ss.running else None
        return e.value

    cases = [(b"immutable", b"ok \xff!"), (b"\xc3", b"r"), (b"immutable", b"cut \xe2\x9c")]
    for i, (share_type, reason) in enumerate(cases):
        theirs = raised(TahoeServer, tmp_path / f"tahoe{i}", share_type, reason)
        ours = raised(DropIn, tmp_path / f"ours{i}", share_type, reason)
        assert (ours.encoding, ours.object, ours.start, ours.end) == (
            theirs.encoding, theirs.object, theirs.start, theirs.end)

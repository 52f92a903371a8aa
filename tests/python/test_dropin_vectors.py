"""The drop-in hands Tahoe's test-and-write and read vectors to the binding as the caller
built them; a malformed vector still raises what Tahoe's own server raises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from allmydata.storage.server import StorageServer as TahoeServer
from twisted.internet.task import Clock

from tahoe_shares.tahoe import StorageServer as DropIn

NODE = b"N" * 20
SI = b"\x09" * 16
SECRETS = (b"w" * 32, b"r" * 32, b"c" * 32)
GOOD_TEST = (0, 1, b"eq", b"a")  # passes on the slot the test creates

# (what is wrong, test-and-write vectors, read vector)
MALFORMED: list[tuple[str, dict[int, Any], list[Any]]] = [
    ("a test of three items", {0: ([(0, 1, b"eq")], [(0, b"x")], None)}, []),
    ("a test that is an integer", {0: ([7], [(0, b"x")], None)}, []),
    ("tests that are not a sequence", {0: (7, [(0, b"x")], None)}, []),
    ("a write of three items", {0: ([GOOD_TEST], [(0, b"x", 1)], None)}, []),
    ("a read of three items", {0: ([GOOD_TEST], [(0, b"x")], None)}, [(0, 1, 2)]),
]


def _servers(tmp_path: Path) -> tuple[Any, Any]:
    clock = Clock()
    clock.advance(1_800_000_000)
    tahoe = TahoeServer(str(tmp_path / "tahoe"), NODE, clock=clock)
    ours = DropIn(str(tmp_path / "ours"), NODE, clock=clock, durable=False)
    return tahoe, ours


@pytest.mark.parametrize("what,tw,readv", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_vectors_raise_what_tahoe_raises(
    what: str, tw: dict[int, Any], readv: list[Any], tmp_path: Path
) -> None:
    tahoe, ours = _servers(tmp_path)
    # On an existing slot: Tahoe's server reads nothing from a slot that does not exist,
    # so it never unpacks a read vector there (the drop-in has always checked it).
    for server in (tahoe, ours):
        server.slot_testv_and_readv_and_writev(SI, SECRETS, {0: ([], [(0, b"a")], None)}, [])
    with pytest.raises(Exception) as theirs:
        tahoe.slot_testv_and_readv_and_writev(SI, SECRETS, tw, readv)
    with pytest.raises(Exception) as mine:
        ours.slot_testv_and_readv_and_writev(SI, SECRETS, tw, readv)
    assert type(mine.value) is type(theirs.value), (what, theirs.value, mine.value)


def test_well_formed_vectors_of_any_sequence_type_still_work(tmp_path: Path) -> None:
    _, ours = _servers(tmp_path)
    tw = {0: [[[0, 1, b"eq", b""]], [[0, b"abc"]], None]}
    assert ours.slot_testv_and_readv_and_writev(SI, SECRETS, tw, [[0, 3]]) == (True, {})
    assert ours.slot_readv(SI, [0], [[1, 2]]) == {0: [b"bc"]}

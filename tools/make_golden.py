"""Write golden share containers with Tahoe-LAFS 1.20's own classes.

Usage: ``python tools/make_golden.py OUTDIR``

Every golden file is produced by replaying a fixed container script
(docs/differential-scripts.md) with fixed secrets, expiry times and data patterns, so running
this twice gives identical bytes. OUTDIR receives ``<name>.bin`` for each container and
``manifest.json``::

    {"<name>.bin": {"description": "...", "script": {...}, "outcomes": [...],
                    "dump": {...}}, ...}

``dump`` is ``tahoe_scripts.container.dump`` of the file (what Tahoe reads back), ``script``
and ``outcomes`` let another implementation replay the same operations and compare. Files are
overwritten; files of earlier runs that are no longer produced are left alone.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from tahoe_scripts import container

_EPOCH = 1_700_000_000
_DAY = 86_400
_NODEID = bytes(range(0xA0, 0xB4))
_OTHER_NODEID = bytes(range(0xC0, 0xD4))
_WRITE_ENABLER = bytes(range(0x40, 0x60))


def _secret(label: str, index: int) -> str:
    """A fixed 32-byte secret, hex."""
    return hashlib.sha256(f"tahoe-shares golden {label} {index}".encode()).hexdigest()


def _data(length: int, seed: int) -> str:
    """A fixed, recognisable data pattern of ``length`` bytes, hex."""
    return bytes((seed + 7 * i) % 251 for i in range(length)).hex()


def _lease_op(
    op: str, index: int, *, owner: int, day: int, nodeid: bytes | None = None
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "op": op,
        "owner": owner,
        "renew": _secret("renew", index),
        "cancel": _secret("cancel", index),
        "expiry": _EPOCH + day * _DAY,
    }
    if nodeid is not None:
        fields["nodeid"] = nodeid.hex()
    return fields


def _renew(index: int, day: int) -> dict[str, Any]:
    return {"op": "renew", "renew": _secret("renew", index), "expiry": _EPOCH + day * _DAY}


def _cancel(index: int) -> dict[str, Any]:
    return {"op": "cancel", "cancel": _secret("cancel", index)}


# --------------------------------------------------------------------------------------------
# Immutable containers


def _immutable_add(index: int, owner: int = 1) -> dict[str, Any]:
    return _lease_op("add_lease", index, owner=owner, day=31 + index)


def _write(offset: int, length: int, seed: int) -> dict[str, Any]:
    return {"op": "write", "offset": offset, "data": _data(length, seed)}


def _upload(max_size: int) -> list[dict[str, Any]]:
    """What BucketWriter does: create, add the uploader's lease (owner 0), write in two parts."""
    half = max_size // 2
    return [
        {"op": "create", "max_size": max_size},
        _immutable_add(0, owner=0),
        _write(0, half, 1),
        _write(half, max_size - half, 2),
    ]


_IMMUTABLE: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "0leases": (
        "complete data written before any lease (an incoming share), no lease",
        [{"op": "create", "max_size": 40}, _write(0, 40, 3)],
    ),
    "1lease": (
        "BucketWriter-style upload of 100 bytes: lease (owner 0) added first, then the data",
        _upload(100),
    ),
    "3leases": (
        "the 1lease upload plus two add_lease (owners 1 and 2)",
        _upload(100) + [_immutable_add(1, owner=1), _immutable_add(2, owner=2)],
    ),
    "renewed-cancelled": (
        "3 leases; lease 2 renewed later, lease 1 renewed earlier (no change, Tahoe never "
        "back-dates), lease 0 cancelled so the remaining records move up and the file shrinks",
        _upload(100)
        + [_immutable_add(1), _immutable_add(2), _renew(2, 90), _renew(1, 1), _cancel(0)],
    ),
    "maxsize0": (
        "max_size 0: header and one lease, no data",
        [{"op": "create", "max_size": 0}, _immutable_add(0)],
    ),
    "holes": (
        "lease added first, then only bytes 8..24 and 40..48 of 64 written: the rest reads "
        "as zeros and the lease sits at 12 + max_size",
        [
            {"op": "create", "max_size": 64},
            _immutable_add(0, owner=0),
            _write(8, 16, 4),
            _write(40, 8, 5),
        ],
    ),
}


# --------------------------------------------------------------------------------------------
# Mutable containers


def _mutable_create() -> dict[str, Any]:
    return {"op": "create", "nodeid": _NODEID.hex(), "we": _WRITE_ENABLER.hex()}


def _writev(*vectors: tuple[int, int, int], new_length: int | None = None) -> dict[str, Any]:
    """A writev of ``(offset, length, pattern seed)`` vectors."""
    datav = [[offset, _data(length, seed)] for offset, length, seed in vectors]
    return {"op": "writev", "datav": datav, "new_length": new_length}


def _mutable_add(index: int) -> dict[str, Any]:
    nodeid = _NODEID if index % 2 == 0 else _OTHER_NODEID
    return _lease_op("add_lease", index, owner=1 + index % 3, day=31 + index, nodeid=nodeid)


def _with_leases(count: int) -> list[dict[str, Any]]:
    return [_mutable_create(), _writev((0, 100, 10))] + [_mutable_add(i) for i in range(count)]


_MUTABLE: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "empty": ("just created: no data, no leases", [_mutable_create()]),
    "1lease": ("100 bytes of data, one lease", _with_leases(1)),
    "4leases": ("100 bytes, the four header lease slots filled", _with_leases(4)),
    "6leases": (
        "100 bytes, four slot leases plus two extra leases after the data",
        _with_leases(6),
    ),
    "6leases-grown": (
        "the 6leases share grown to 400 bytes: the extra lease block is zeroed and moved "
        "after the new data",
        _with_leases(6) + [_writev((100, 300, 11))],
    ),
    "6leases-cancelled-extra": (
        "the 6leases share with the fifth lease (first extra lease) cancelled: its record is "
        "blanked, never compacted",
        _with_leases(6) + [_cancel(4)],
    ),
    "truncated": (
        "300 bytes written then new_length 120: data length 120, the container keeps its size "
        "and the bytes past 120 stay on disk",
        [_mutable_create(), _writev((0, 300, 12)), _mutable_add(0), _writev(new_length=120)],
    ),
    "cancelled": (
        "three leases, the middle one cancelled: its slot is blanked (owner 0; in v2 the "
        "secrets are the BLAKE2b hashes of 32 zero bytes)",
        _with_leases(3) + [_cancel(1)],
    ),
    "cancelled-reused": (
        "the cancelled share, then a new lease that takes the first empty slot",
        _with_leases(3) + [_cancel(1), _mutable_add(5)],
    ),
    "gap": (
        "50 bytes at 0, then 30 bytes at 150: bytes 50..150 are zero-filled",
        [_mutable_create(), _writev((0, 50, 13)), _writev((150, 30, 14)), _mutable_add(0)],
    ),
}


def golden_scripts() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every golden file name with its description and op script."""
    scripts = {}
    for kind, table in (("immutable", _IMMUTABLE), ("mutable", _MUTABLE)):
        for schema in container.SCHEMAS:
            for suffix, (description, ops) in table.items():
                script = {"kind": kind, "schema": schema, "ops": ops}
                scripts[f"{kind}-v{schema}-{suffix}.bin"] = (description, script)
    return dict(sorted(scripts.items()))


def make_golden(outdir: Path) -> None:
    """Write every golden file and ``manifest.json`` into ``outdir``."""
    outdir.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for name, (description, script) in golden_scripts().items():
        outcomes = container.apply_to_file(script, outdir / name)
        if outcomes != ["ok"] * len(script["ops"]):
            raise RuntimeError(f"{name}: unexpected outcomes {outcomes}")
        manifest[name] = {
            "description": description,
            "script": script,
            "outcomes": outcomes,
            "dump": container.dump(outdir / name),
        }
    (outdir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    make_golden(Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

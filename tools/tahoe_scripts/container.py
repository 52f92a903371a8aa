"""The container vocabulary of the differential scripts, replayed by Tahoe-LAFS 1.20's own
share-file classes (``allmydata.storage.immutable.ShareFile``,
``allmydata.storage.mutable.MutableShareFile``): the resulting share file is the reference
that the Rust driver must reproduce byte for byte. The format, its ops and their outcomes
are described in docs/differential-scripts.md ("Container scripts").

:func:`apply_script` and :func:`apply_to_file` replay a script, :func:`dump` describes a
share file as Tahoe reads it, :func:`random_script` generates one.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any, Callable

from allmydata.interfaces import DataTooLargeError, NoSpace
from allmydata.mutable.layout import MAX_MUTABLE_SHARE_SIZE
from allmydata.storage import immutable_schema, mutable_schema
from allmydata.storage.immutable import ShareFile
from allmydata.storage.lease import HashedLeaseInfo, LeaseInfo
from allmydata.storage.mutable import MutableShareFile

from ._common import Op, Script, ScriptError, field_bytes

KINDS = ("immutable", "mutable")
SCHEMAS = (1, 2)

#: The space offered to operations that may allocate a lease record: "unlimited".
AVAILABLE_SPACE = 2**64

#: Exceptions that are outcomes of an op rather than script errors.
OUTCOME_ERRORS = (IndexError, DataTooLargeError, NoSpace)

_IMMUTABLE_SCHEMAS = {s.version: s for s in immutable_schema.ALL_SCHEMAS}
_MUTABLE_SCHEMAS = {s.version: s for s in mutable_schema.ALL_SCHEMAS}

# --------------------------------------------------------------------------------------------
# Applying scripts


def _lease(op: Op, with_nodeid: bool) -> LeaseInfo:
    return LeaseInfo(
        owner_num=op["owner"],
        renew_secret=field_bytes(op, "renew", 32),
        cancel_secret=field_bytes(op, "cancel", 32),
        expiration_time=op["expiry"],
        nodeid=field_bytes(op, "nodeid", 20) if with_nodeid else None,
    )


def _immutable_handlers(path: str, schema: int, create: Op) -> dict[str, Callable[[Op], Any]]:
    share = ShareFile(
        path, max_size=create["max_size"], create=True, schema=_IMMUTABLE_SCHEMAS[schema]
    )
    return {
        "write": lambda op: share.write_share_data(op["offset"], field_bytes(op, "data")),
        "add_lease": lambda op: share.add_lease(_lease(op, with_nodeid=False)),
        "renew": lambda op: share.renew_lease(field_bytes(op, "renew", 32), op["expiry"]),
        "add_or_renew": lambda op: share.add_or_renew_lease(
            AVAILABLE_SPACE, _lease(op, with_nodeid=False)
        ),
        "cancel": lambda op: share.cancel_lease(field_bytes(op, "cancel", 32)),
    }


def _writev(path: str, op: Op) -> None:
    datav = [(offset, bytes.fromhex(data)) for offset, data in op["datav"]]
    MutableShareFile(path).writev(datav, op["new_length"])


def _mutable_handlers(path: str, schema: int, create: Op) -> dict[str, Callable[[Op], Any]]:
    MutableShareFile(path, schema=_MUTABLE_SCHEMAS[schema]).create(
        field_bytes(create, "nodeid", 20), field_bytes(create, "we", 32)
    )
    return {
        "writev": lambda op: _writev(path, op),
        "add_lease": lambda op: MutableShareFile(path).add_lease(
            AVAILABLE_SPACE, _lease(op, with_nodeid=True)
        ),
        "renew": lambda op: MutableShareFile(path).renew_lease(
            field_bytes(op, "renew", 32), op["expiry"]
        ),
        "add_or_renew": lambda op: MutableShareFile(path).add_or_renew_lease(
            AVAILABLE_SPACE, _lease(op, with_nodeid=True)
        ),
        "cancel": lambda op: MutableShareFile(path).cancel_lease(field_bytes(op, "cancel", 32)),
    }


def apply_script(script: Script, path: str | os.PathLike[str]) -> list[str]:
    """Replay ``script`` with Tahoe's classes, creating the share file at ``path``.

    ``path`` must not exist. Returns one outcome per op; the file is absent afterwards if a
    ``cancel`` deleted it.
    """
    path = os.path.abspath(path)  # ShareFile(create=True) needs a directory part
    kind, schema, ops = script.get("kind"), script.get("schema"), script.get("ops")
    if kind not in KINDS or schema not in SCHEMAS or not isinstance(ops, list):
        raise ScriptError("script needs kind (immutable|mutable), schema (1|2) and ops")
    if not ops or ops[0].get("op") != "create":
        raise ScriptError("the first op must be create")
    make_handlers = _immutable_handlers if kind == "immutable" else _mutable_handlers
    try:
        handlers = make_handlers(path, schema, ops[0])
    except KeyError as e:
        raise ScriptError(f"op 0 (create) lacks field {e}") from None
    outcomes = ["ok"]
    for index, op in enumerate(ops[1:], start=1):
        handler = handlers.get(op.get("op"))
        if handler is None:
            raise ScriptError(f"op {index}: unknown or misplaced op {op.get('op')!r} for {kind}")
        if not os.path.exists(path):
            outcomes.append("skipped")
            continue
        try:
            handler(op)
        except OUTCOME_ERRORS as e:
            outcomes.append(type(e).__name__)
        except KeyError as e:
            raise ScriptError(f"op {index} ({op['op']}) lacks field {e}") from None
        else:
            outcomes.append("ok" if os.path.exists(path) else "deleted")
    return outcomes


def apply_to_file(script: Script, outfile: str | os.PathLike[str]) -> list[str]:
    """Like :func:`apply_script`, but replaces ``outfile`` (or removes it if deleted)."""
    outfile = Path(outfile)
    with tempfile.TemporaryDirectory(dir=outfile.parent, prefix=".tahoe-ops-") as tmp:
        share = Path(tmp) / "share"
        outcomes = apply_script(script, share)
        if share.exists():
            os.replace(share, outfile)
        else:
            outfile.unlink(missing_ok=True)
    return outcomes


# --------------------------------------------------------------------------------------------
# Reading share files


def _lease_json(lease: LeaseInfo | HashedLeaseInfo) -> dict[str, Any]:
    # A v2 lease is a HashedLeaseInfo whose wrapped LeaseInfo holds the secrets as stored
    # (hashed); its cancel_secret property would hand back an opaque wrapper instead.
    stored = lease._lease_info if isinstance(lease, HashedLeaseInfo) else lease
    return {
        "owner": stored.owner_num,
        "expiry": stored.get_expiration_time(),
        "renew": stored.renew_secret.hex(),
        "cancel": stored.cancel_secret.hex(),
        "nodeid": None if stored.nodeid is None else stored.nodeid.hex(),
    }


def dump(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe a share file as Tahoe's classes read it.

    Returns ``{"kind", "version", "data_length", "data" (hex of all share data), "leases"}``
    plus, for mutable shares, ``"nodeid"`` and ``"we"`` (the write enabler) in hex. Each lease
    is ``{"owner", "expiry", "renew", "cancel", "nodeid"}`` with the secrets as stored (BLAKE2b
    hashes in version 2) and ``nodeid`` null for immutable shares; leases come in
    ``get_leases()`` order, which skips empty mutable slots. The container type is sniffed
    the way ``StorageServer._iter_share_files`` does it.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        header = f.read(32)
    if MutableShareFile.is_valid_header(header):
        share = MutableShareFile(path)
        length = share.get_length()
        with open(path, "rb") as f:
            write_enabler, nodeid = share._read_write_enabler_and_nodeid(f)
        return {
            "kind": "mutable",
            "version": share._schema.version,
            "data_length": length,
            "data": share.readv([(0, length)])[0].hex(),
            "leases": [_lease_json(lease) for lease in share.get_leases()],
            "nodeid": nodeid.hex(),
            "we": write_enabler.hex(),
        }
    if len(header) >= 4 and ShareFile.is_valid_header(header):
        share = ShareFile(path)
        length = share.get_length()
        return {
            "kind": "immutable",
            "version": share._schema.version,
            "data_length": length,
            "data": share.read_share_data(0, length).hex(),
            "leases": [_lease_json(lease) for lease in share.get_leases()],
        }
    raise ScriptError(f"{path} is not a Tahoe share container")


# --------------------------------------------------------------------------------------------
# Random scripts

_SECRET_POOL = 8
_EPOCH = 1_700_000_000
_DAY = 86_400
_MAX_U32 = 2**32 - 1
_MAX_IMMUTABLE_SIZE = 1500
#: Mutable writes stay below this many bytes of share data, apart from the deliberately
#: oversized ones that provoke DataTooLargeError without touching the disk.
_MUTABLE_DATA_LIMIT = 2048


class _Generator:
    """State of one random script: secrets, clock and a rough model of the share.

    The model (data length, live leases) only steers the choices towards interesting
    cases; it does not need to track Tahoe exactly.
    """

    def __init__(self, seed: int, kind: str, schema: int) -> None:
        self.rng = random.Random(f"tahoe-ops:{kind}:{schema}:{seed}")
        self.kind = kind
        self.schema = schema
        self.renew = [self.rng.randbytes(32) for _ in range(_SECRET_POOL)]
        self.cancel = [self.rng.randbytes(32) for _ in range(_SECRET_POOL)]
        self.nodeids = [self.rng.randbytes(20) for _ in range(2)]
        self.now = _EPOCH + self.rng.randrange(_DAY)
        self.leases: list[tuple[int, int]] = []  # (renew index, cancel index) per lease
        self.length = 0
        self.max_size = 0
        # Some scripts end by cancelling their leases one after another until Tahoe deletes
        # the file; elsewhere the last lease is rarely cancelled, so that most scripts keep
        # their share to the end.
        self.drains = self.rng.random() < 0.2
        self.draining = False

    def expiry(self) -> int:
        """Mostly later than before, sometimes equal, sometimes earlier (a back-date)."""
        r = self.rng.random()
        if r < 0.7:
            self.now = min(_MAX_U32, self.now + self.rng.randrange(31 * _DAY))
            return self.now
        if r < 0.85:
            return self.now
        return max(0, self.now - self.rng.randrange(1, 40 * _DAY))

    def lease_fields(self) -> tuple[Op, tuple[int, int]]:
        """Fields of a lease op, and the (renew, cancel) pool indices it uses."""
        rng = self.rng
        i = rng.randrange(_SECRET_POOL)
        j = i if rng.random() < 0.85 else rng.randrange(_SECRET_POOL)
        fields: Op = {
            "owner": rng.randrange(4) if self.kind == "immutable" else rng.randrange(1, 4),
            "renew": self.renew[i].hex(),
            "cancel": self.cancel[j].hex(),
            "expiry": self.expiry(),
        }
        if self.kind == "mutable":
            fields["nodeid"] = rng.choice(self.nodeids).hex()
        return fields, (i, j)

    def add_lease(self) -> Op:
        fields, pair = self.lease_fields()
        self.leases.append(pair)
        return {"op": "add_lease", **fields}

    def add_or_renew(self) -> Op:
        fields, pair = self.lease_fields()
        if all(renew != pair[0] for renew, _ in self.leases):
            self.leases.append(pair)
        return {"op": "add_or_renew", **fields}

    def renew_op(self) -> Op:
        if self.leases and self.rng.random() < 0.8:
            secret = self.renew[self.rng.choice(self.leases)[0]]
        else:
            secret = self.rng.randbytes(32)
        return {"op": "renew", "renew": secret.hex(), "expiry": self.expiry()}

    def cancel_op(self) -> Op:
        rng = self.rng
        may_delete = self.draining or rng.random() < 0.05
        if self.leases and (len(self.leases) >= 2 or may_delete) and rng.random() < 0.8:
            j = rng.choice(self.leases)[1]
            self.leases = [lease for lease in self.leases if lease[1] != j]
            secret = self.cancel[j]
        else:
            secret = rng.randbytes(32)
        return {"op": "cancel", "cancel": secret.hex()}

    def immutable_create(self) -> Op:
        rng = self.rng
        self.max_size = 0 if rng.random() < 0.05 else rng.randint(1, _MAX_IMMUTABLE_SIZE)
        return {"op": "create", "max_size": self.max_size}

    def immutable_write(self) -> Op:
        rng, size = self.rng, self.max_size
        r = rng.random()
        offset = rng.randint(0, size)
        if r < 0.8:
            length = rng.randint(0, min(256, size - offset))
        elif r < 0.93:  # straddles max_size
            length = size - offset + rng.randint(1, 64)
        else:  # starts past max_size
            offset = size + rng.randint(1, 4096)
            length = rng.randint(0, 64)
        return {"op": "write", "offset": offset, "data": rng.randbytes(length).hex()}

    def mutable_create(self) -> Op:
        return {"op": "create", "nodeid": self.nodeids[0].hex(), "we": self.rng.randbytes(32).hex()}

    def mutable_vector(self) -> list[Any]:
        rng, length = self.rng, self.length
        r = rng.random()
        if r < 0.02:  # beyond Tahoe's maximum mutable share size
            return [MAX_MUTABLE_SHARE_SIZE + rng.randrange(1024), rng.randbytes(8).hex()]
        if r < 0.35:  # overwrite inside the data, possibly running past its end
            offset, size = rng.randint(0, length), rng.randint(0, 128)
        elif r < 0.6:  # append
            offset, size = length, rng.randint(0, 128)
        elif r < 0.8:  # leave a gap that Tahoe fills with zeros
            offset, size = length + rng.randint(1, 200), rng.randint(0, 128)
        else:  # large growth
            offset, size = length + rng.randint(0, 100), rng.randint(100, 300)
        if offset + size > _MUTABLE_DATA_LIMIT:
            offset = rng.randint(0, min(length, _MUTABLE_DATA_LIMIT - 1))
            size = rng.randint(0, min(128, _MUTABLE_DATA_LIMIT - offset))
        self.length = max(length, offset + size)
        return [offset, rng.randbytes(size).hex()]

    def mutable_writev(self) -> Op:
        rng = self.rng
        datav = [self.mutable_vector() for _ in range(rng.randint(1, 3))]
        oversize = [v for v in datav if v[0] >= MAX_MUTABLE_SHARE_SIZE]
        if oversize:
            # Tahoe writes the vectors before an oversize one, then raises; tahoe-shares
            # checks every vector first and writes nothing (a deliberate deviation, tested
            # on the Rust side). Alone in its call, an oversize vector behaves the same in both.
            datav = oversize[:1]
        r = rng.random()
        if r < 0.7:
            new_length = None
        elif r < 0.88:  # shrink
            new_length = rng.randint(0, self.length)
        elif r < 0.96:  # larger than the data: Tahoe ignores it
            new_length = self.length + rng.randint(1, 100)
        else:
            new_length = 0
        if new_length is not None:
            self.length = min(self.length, new_length)
        return {"op": "writev", "datav": datav, "new_length": new_length}

    def script(self, n_ops: int) -> Script:
        immutable = self.kind == "immutable"
        ops = [self.immutable_create() if immutable else self.mutable_create()]
        choices = [
            (0.35, self.immutable_write if immutable else self.mutable_writev),
            (0.20, self.add_lease),
            (0.12, self.renew_op),
            (0.25, self.add_or_renew),
            (0.08, self.cancel_op),
        ]
        makers = [maker for _, maker in choices]
        weights = [weight for weight, _ in choices]
        for index in range(1, n_ops):
            self.draining = self.drains and index >= n_ops * 2 // 3
            if self.draining and self.rng.random() < 0.6:
                ops.append(self.cancel_op())
            else:
                ops.append(self.rng.choices(makers, weights)[0]())
        return {"kind": self.kind, "schema": self.schema, "ops": ops}


def random_script(seed: int, kind: str, schema: int, n_ops: int) -> Script:
    """A deterministic pseudo-random script of ``n_ops`` ops, ``create`` first.

    The mix: immutable writes mostly within ``max_size`` and sometimes past it; mutable
    ``writev`` with 1-3 vectors (overwrites, appends, zero-filled gaps, large growth that
    relocates extra leases, rarely an offset past Tahoe's maximum) and ``new_length`` that
    shrinks, is ignored, or is absent; leases from a pool of 8 secret pairs so that renewals,
    duplicates and multi-lease cancels happen; renewals and cancels with unknown secrets;
    expiry times that mostly grow but sometimes repeat or go back. Share data stays below
    2 KiB.
    """
    if kind not in KINDS or schema not in SCHEMAS or n_ops < 1:
        raise ScriptError("need kind immutable|mutable, schema 1|2 and N_OPS >= 1")
    return _Generator(seed, kind, schema).script(n_ops)

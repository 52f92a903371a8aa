"""What both vocabularies of the differential scripts share."""

from __future__ import annotations

from typing import Any

Op = dict[str, Any]
Script = dict[str, Any]


class ScriptError(ValueError):
    """The script does not follow the format (docs/differential-scripts.md), or asks for
    something Tahoe cannot do."""


def field_bytes(op: Op, field: str, size: int | None = None) -> bytes:
    """The bytes of the hex field ``op[field]``, of exactly ``size`` bytes if given."""
    try:
        value = bytes.fromhex(op[field])
    except KeyError:
        raise ScriptError(f"{op.get('op')} lacks field {field}") from None
    if size is not None and len(value) != size:
        raise ScriptError(f"{field} must be {size} bytes, got {len(value)}")
    return value

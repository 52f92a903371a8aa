"""What both vocabularies of the differential scripts share."""

from __future__ import annotations

from typing import Any

Op = dict[str, Any]
Script = dict[str, Any]


class ScriptError(ValueError):
    """The script does not follow the format (docs/differential-scripts.md), or asks for
    something Tahoe cannot do."""


def describe_bytes_difference(
    expected: bytes, actual: bytes, expected_name: str = "tahoe", actual_name: str = "rust"
) -> str | None:
    """Where two byte strings first differ, with a window of each; None if equal."""
    if expected == actual:
        return None
    offset = next(
        (i for i, (x, y) in enumerate(zip(expected, actual)) if x != y),
        min(len(expected), len(actual)),
    )
    window = slice(max(0, offset - 8), offset + 24)
    width = max(len(expected_name), len(actual_name))
    return (
        f"first difference at offset {offset} (0x{offset:x}); lengths {len(expected)} "
        f"({expected_name}) vs {len(actual)} ({actual_name})\n"
        f"    {expected_name:<{width}}[{window.start}:]: {expected[window].hex()}\n"
        f"    {actual_name:<{width}}[{window.start}:]: {actual[window].hex()}"
    )


def field_bytes(op: Op, field: str, size: int | None = None) -> bytes:
    """The bytes of the hex field ``op[field]``, of exactly ``size`` bytes if given."""
    try:
        value = bytes.fromhex(op[field])
    except KeyError:
        raise ScriptError(f"{op.get('op')} lacks field {field}") from None
    if size is not None and len(value) != size:
        raise ScriptError(f"{field} must be {size} bytes, got {len(value)}")
    return value

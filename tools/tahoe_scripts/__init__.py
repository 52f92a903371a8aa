"""The differential scripts: one JSON format of operation sequences, replayed by Tahoe-LAFS
1.20 (here), by tahoe-shares' Rust core (tests/drivers), its C API
(ffi-c/tests/differential.c) and its Python bindings, whose results and files must agree.
docs/differential-scripts.md describes the format.

A script is a JSON object whose ``kind`` names its vocabulary:

* ``"immutable"`` or ``"mutable"``: ops on one share container (:mod:`.container`,
  replayed by Tahoe's ``ShareFile`` / ``MutableShareFile``);
* ``"server"``: ops on a storage server over a storage directory (:mod:`.server`,
  replayed by Tahoe's ``StorageServer``).

:func:`random_script` is the one generator of both (seeded, deterministic), :func:`run`
replays any script with Tahoe. ``python -m tahoe_scripts`` (with ``tools/`` on the path) is
the command line: ``random``, ``run``, ``dump``, ``compare``.
"""

from __future__ import annotations

import os
from typing import Any

from . import container, server
from ._common import Op, Script, ScriptError, describe_bytes_difference

__all__ = [
    "KINDS",
    "Op",
    "Script",
    "ScriptError",
    "container",
    "describe_bytes_difference",
    "random_script",
    "run",
    "server",
]

#: Every script kind: the two container kinds and the server.
KINDS = (*container.KINDS, "server")


def random_script(seed: int, kind: str, n_ops: int, schema: int = 2) -> Script:
    """A deterministic pseudo-random script of ``kind`` with ``n_ops`` ops (``schema``, the
    container version, only for the container kinds). See :func:`.container.random_script`
    and :func:`.server.random_script` for what each vocabulary's scripts reach."""
    if kind == "server":
        return server.random_script(seed, n_ops)
    if kind in container.KINDS:
        return container.random_script(seed, kind, schema, n_ops)
    raise ScriptError(f"kind must be one of {', '.join(KINDS)}")


def run(script: Script, out: str | os.PathLike[str]) -> list[Any]:
    """Replays ``script`` with Tahoe: a container script writes the share file ``out``
    (removed when deleted) and returns the outcomes; a server script runs over the storage
    directory ``out`` and returns one result per op."""
    if script.get("kind") == "server":
        return server.run_script(script, out)
    return container.apply_to_file(script, out)

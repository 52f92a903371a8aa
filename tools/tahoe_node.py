"""The ``tahoe`` command with tahoe_shares installed as the storage engine.

    python tools/tahoe_node.py run NODEDIR     # a node whose storage runs on tahoe_shares
    python tools/tahoe_node.py put FILE ...    # any other tahoe command, unchanged

``tahoe_shares.tahoe.install()`` runs before Tahoe builds the node, so the node's
``StorageServer`` is the Rust-backed drop-in. It makes every acknowledged change durable
(fsync); ``TAHOE_SHARES_DURABLE=0`` in the environment makes it skip fsync as Tahoe's own
server does (faster; a power failure can lose acknowledged writes).
"""

import os
import sys

import tahoe_shares.tahoe

tahoe_shares.tahoe.install(durable=os.environ.get("TAHOE_SHARES_DURABLE", "1") != "0")

from allmydata.scripts.runner import run  # noqa: E402

sys.argv[0] = "tahoe"
run()

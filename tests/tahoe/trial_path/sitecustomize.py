"""Installs the tahoe-shares drop-in in every Python process of a suite run that asks.

``tests/tahoe/full_suite.py`` puts this directory on ``PYTHONPATH`` and, for a run with
the drop-in, sets ``TAHOE_SHARES_DROP_IN=1``. Python imports ``sitecustomize`` at start-up,
so the drop-in is installed before any test module is imported: in trial's main process,
in each ``-j`` worker (trial hands its ``sys.path`` to the workers), and in any Tahoe node
a test starts as a subprocess. Each process that installed it leaves a marker file (its
pid and arguments) in ``TAHOE_SHARES_DROP_IN_MARKERS``, which the runner checks, because
Python only prints a warning when ``sitecustomize`` raises.

This shadows the system's ``sitecustomize`` (on Debian it only installs apport's
exception hook) for these processes only.
"""

import os
import sys


def _install_drop_in():
    import allmydata.client
    import allmydata.storage.server

    import tahoe_shares.tahoe as drop_in

    drop_in.install()
    if (
        allmydata.storage.server.StorageServer is not drop_in.StorageServer
        or allmydata.client.StorageServer is not drop_in.StorageServer
    ):
        raise RuntimeError("tahoe_shares.tahoe.install() did not replace StorageServer")
    markers = os.environ.get("TAHOE_SHARES_DROP_IN_MARKERS")
    if markers:
        with open(os.path.join(markers, str(os.getpid())), "w", encoding="utf-8") as f:
            f.write(" ".join(sys.orig_argv) + "\n")


if os.environ.get("TAHOE_SHARES_DROP_IN") == "1":
    _install_drop_in()

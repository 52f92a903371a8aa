"""Runs Tahoe-LAFS's own trial test suites with tahoe_shares.tahoe installed.

    python tests/tahoe/run_trial.py allmydata.test.test_istorageserver ...

``install()`` runs before any test module is imported, so every ``StorageServer`` the
suites create (directly, or through a node) is the Rust-backed drop-in. The run fails
if the drop-in was not the class in use.
"""

import sys

import tahoe_shares.tahoe as drop_in

drop_in.install()

import allmydata.storage.server as tahoe_server  # noqa: E402

assert tahoe_server.StorageServer is drop_in.StorageServer

from twisted.scripts.trial import run  # noqa: E402

sys.argv = ["trial", *sys.argv[1:]]
run()

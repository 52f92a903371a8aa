"""Tahoe's own IStorageServer compliance suite, run against
``tahoe_shares.tahoe.LocalStorageClient`` (in-process, no network)."""

import os
import tempfile

from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from allmydata.interfaces import IStorageServer
from allmydata.test.test_istorageserver import (
    IStorageServerImmutableAPIsTestsMixin,
    IStorageServerMutableAPIsTestsMixin,
    IStorageServerSharedAPIsTestsMixin,
)
from allmydata.util import fileutil

from tahoe_shares.tahoe import LocalStorageClient, StorageServer


class _LocalMixin(object):
    def setUp(self):
        self._clock = Clock()
        self._clock.advance(123456)
        self._dir = tempfile.mkdtemp(prefix="ts-local-")
        self.addCleanup(fileutil.rm_dir, self._dir)
        self.server = StorageServer(os.path.join(self._dir, "storage"), b"\x07" * 20, clock=self._clock)
        self.storage_client = LocalStorageClient(self.server)
        self.assertTrue(IStorageServer.providedBy(self.storage_client))

    def fake_time(self):
        return self._clock.seconds()

    def fake_sleep(self, seconds):
        self._clock.advance(seconds)

    def disconnect(self):
        """As a dropped Foolscap connection: uploads in progress are aborted, and a new
        client takes over."""
        current = self.storage_client
        current.disconnect()
        self.storage_client = LocalStorageClient(self.server)
        assert self.storage_client is not current


class LocalSharedAPIsTests(_LocalMixin, IStorageServerSharedAPIsTestsMixin, TestCase):
    pass


class LocalImmutableAPIsTests(_LocalMixin, IStorageServerImmutableAPIsTestsMixin, TestCase):
    def test_disconnection(self):
        """Disconnecting half-way through an upload wipes it (as the Foolscap suite
        checks; the mixin leaves this test to each transport)."""
        return self.abort_or_disconnect_half_way(lambda _: self.disconnect())


class LocalMutableAPIsTests(_LocalMixin, IStorageServerMutableAPIsTestsMixin, TestCase):
    pass

"""The share-store protocol, for stores written in Python, and two such stores.

A :class:`tahoe_shares.Server` keeps shares either in a storage directory (Tahoe's
layout) or in any object that implements :class:`ShareStore`. The server calls the
store's methods with the GIL held, from whichever thread made the server call, one call
at a time per server.

A *published* share is visible to readers; an *incoming* share is an upload in
progress, which :meth:`ShareStore.publish` makes published all at once. Storage indexes
are 16-byte ``bytes``, share numbers ``int`` from 0 to 255.

Two answers are part of the protocol: raise :class:`FileExistsError` when something to be
created exists already, and :class:`FileNotFoundError` when something to be changed does
not exist. Any other exception becomes :class:`tahoe_shares.IoError` (with the
original chained as its cause).
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Iterable, Optional, Protocol, runtime_checkable

__all__ = ["ShareHandle", "ShareStore", "MemoryStore", "SQLiteStore"]


@runtime_checkable
class ShareHandle(Protocol):
    """Positional I/O on one share's bytes."""

    def size(self) -> int:
        """The share's length in bytes."""

    def read(self, offset: int, length: int) -> bytes:
        """Exactly ``length`` bytes at ``offset`` (the server never reads past the end)."""

    def write(self, offset: int, data: bytes) -> None:
        """Writes ``data`` at ``offset``, zero-filling any gap past the end."""

    def truncate(self, length: int) -> None:
        """Sets the length, cutting or zero-extending."""

    def sync(self) -> None:
        """Makes every earlier write durable."""


@runtime_checkable
class ShareStore(Protocol):
    """Where a server keeps its shares (the ``ShareStore`` trait of the Rust core)."""

    def open(self, storage_index: bytes, shnum: int) -> Optional[ShareHandle]:
        """A published share, or None."""

    def list(self, storage_index: bytes) -> Iterable[int]:
        """The published share numbers of a storage index."""

    def create_incoming(self, storage_index: bytes, shnum: int) -> ShareHandle:
        """A new, empty incoming share; FileExistsError if it or a published one exists."""

    def open_incoming(self, storage_index: bytes, shnum: int) -> Optional[ShareHandle]:
        """An incoming share, or None."""

    def list_incoming(self, storage_index: bytes) -> Iterable[int]:
        """The incoming share numbers of a storage index."""

    def publish(self, storage_index: bytes, shnum: int) -> None:
        """Makes an incoming share published atomically and drops its upload record.
        FileExistsError if a published one exists, FileNotFoundError if no incoming."""

    def abort(self, storage_index: bytes, shnum: int) -> None:
        """Deletes an incoming share and its upload record; FileNotFoundError if none."""

    def remove(self, storage_index: bytes, shnum: int) -> None:
        """Deletes a published share; FileNotFoundError if none."""

    def available_space(self) -> Optional[int]:
        """Bytes free for shares, or None when unknown."""

    def write_advisory(self, name: str, body: bytes) -> None:
        """Stores a corruption advisory; FileExistsError if the name is taken."""

    def storage_indexes(self) -> Iterable[bytes]:
        """Every storage index with published shares."""

    def incoming(self) -> Iterable[tuple[bytes, int]]:
        """Every incoming share."""

    def put_upload_record(self, storage_index: bytes, shnum: int, record: bytes) -> None:
        """Replaces an incoming share's upload record atomically; FileNotFoundError if
        there is no such incoming share."""

    def get_upload_record(self, storage_index: bytes, shnum: int) -> Optional[bytes]:
        """An incoming share's upload record, or None."""


class _BytesHandle:
    """A share handle over a ``bytearray``."""

    def __init__(self, data: bytearray) -> None:
        self.data = data

    def size(self) -> int:
        return len(self.data)

    def read(self, offset: int, length: int) -> bytes:
        return bytes(self.data[offset : offset + length])

    def write(self, offset: int, data: bytes) -> None:
        end = offset + len(data)
        if end > len(self.data):
            self.data.extend(b"\0" * (end - len(self.data)))
        self.data[offset:end] = data

    def truncate(self, length: int) -> None:
        if length < len(self.data):
            del self.data[length:]
        else:
            self.data.extend(b"\0" * (length - len(self.data)))

    def sync(self) -> None:
        pass


class MemoryStore:
    """Shares in Python dictionaries: the smallest complete :class:`ShareStore`."""

    def __init__(self, capacity: Optional[int] = None) -> None:
        self.capacity = capacity
        self.published: dict[tuple[bytes, int], bytearray] = {}
        self.incoming_shares: dict[tuple[bytes, int], bytearray] = {}
        self.records: dict[tuple[bytes, int], bytes] = {}
        self.advisories: dict[str, bytes] = {}

    def open(self, storage_index: bytes, shnum: int) -> Optional[ShareHandle]:
        data = self.published.get((storage_index, shnum))
        return None if data is None else _BytesHandle(data)

    def list(self, storage_index: bytes) -> list[int]:
        return sorted(n for (si, n) in self.published if si == storage_index)

    def create_incoming(self, storage_index: bytes, shnum: int) -> ShareHandle:
        key = (storage_index, shnum)
        if key in self.published or key in self.incoming_shares:
            raise FileExistsError(key)
        data = self.incoming_shares[key] = bytearray()
        return _BytesHandle(data)

    def open_incoming(self, storage_index: bytes, shnum: int) -> Optional[ShareHandle]:
        data = self.incoming_shares.get((storage_index, shnum))
        return None if data is None else _BytesHandle(data)

    def list_incoming(self, storage_index: bytes) -> list[int]:
        return sorted(n for (si, n) in self.incoming_shares if si == storage_index)

    def publish(self, storage_index: bytes, shnum: int) -> None:
        key = (storage_index, shnum)
        if key in self.published:
            raise FileExistsError(key)
        if key not in self.incoming_shares:
            raise FileNotFoundError(key)
        self.records.pop(key, None)
        self.published[key] = self.incoming_shares.pop(key)

    def abort(self, storage_index: bytes, shnum: int) -> None:
        key = (storage_index, shnum)
        self.records.pop(key, None)
        if self.incoming_shares.pop(key, None) is None:
            raise FileNotFoundError(key)

    def remove(self, storage_index: bytes, shnum: int) -> None:
        if self.published.pop((storage_index, shnum), None) is None:
            raise FileNotFoundError((storage_index, shnum))

    def available_space(self) -> Optional[int]:
        if self.capacity is None:
            return None
        used = sum(len(d) for d in self.published.values())
        used += sum(len(d) for d in self.incoming_shares.values())
        return max(0, self.capacity - used)

    def write_advisory(self, name: str, body: bytes) -> None:
        if name in self.advisories:
            raise FileExistsError(name)
        self.advisories[name] = body

    def storage_indexes(self) -> list[bytes]:
        return sorted({si for (si, _) in self.published})

    def incoming(self) -> list[tuple[bytes, int]]:
        return sorted(self.incoming_shares)

    def put_upload_record(self, storage_index: bytes, shnum: int, record: bytes) -> None:
        key = (storage_index, shnum)
        if key not in self.incoming_shares:
            raise FileNotFoundError(key)
        self.records[key] = record

    def get_upload_record(self, storage_index: bytes, shnum: int) -> Optional[bytes]:
        return self.records.get((storage_index, shnum))


class _SQLiteHandle:
    """A share handle over one row of :class:`SQLiteStore`."""

    def __init__(self, store: "SQLiteStore", rowid: int) -> None:
        self._store = store
        self._rowid = rowid

    def _data(self) -> bytes:
        row = self._store._query("SELECT data FROM shares WHERE rowid = ?", (self._rowid,))
        if not row:
            raise FileNotFoundError(self._rowid)
        return bytes(row[0][0])

    def _set(self, data: bytes) -> None:
        self._store._execute("UPDATE shares SET data = ? WHERE rowid = ?", (data, self._rowid))

    def size(self) -> int:
        row = self._store._query("SELECT length(data) FROM shares WHERE rowid = ?", (self._rowid,))
        if not row:
            raise FileNotFoundError(self._rowid)
        return int(row[0][0])

    def read(self, offset: int, length: int) -> bytes:
        # substr() counts from 1; it reads without loading the whole blob.
        row = self._store._query(
            "SELECT substr(data, ?, ?) FROM shares WHERE rowid = ?",
            (offset + 1, length, self._rowid),
        )
        if not row:
            raise FileNotFoundError(self._rowid)
        return bytes(row[0][0])

    def write(self, offset: int, data: bytes) -> None:
        current = bytearray(self._data())
        handle = _BytesHandle(current)
        handle.write(offset, data)
        self._set(bytes(current))

    def truncate(self, length: int) -> None:
        current = bytearray(self._data())
        _BytesHandle(current).truncate(length)
        self._set(bytes(current))

    def sync(self) -> None:
        self._store._commit()


class SQLiteStore:
    """Shares as rows of a SQLite database (stdlib :mod:`sqlite3`): an example of a
    complete store written in Python. Every namespace change is committed at once;
    share writes are committed at each ``sync``."""

    def __init__(self, path: str, capacity: Optional[int] = None) -> None:
        self.capacity = capacity
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("BEGIN")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS shares (
                si BLOB NOT NULL, shnum INTEGER NOT NULL, incoming INTEGER NOT NULL,
                data BLOB NOT NULL, PRIMARY KEY (si, shnum, incoming));
            CREATE TABLE IF NOT EXISTS records (
                si BLOB NOT NULL, shnum INTEGER NOT NULL, record BLOB NOT NULL,
                PRIMARY KEY (si, shnum));
            CREATE TABLE IF NOT EXISTS advisories (name TEXT PRIMARY KEY, body BLOB NOT NULL);
            """
        )
        self._commit()

    def close(self) -> None:
        with self._lock:
            self._commit()
            self._db.close()

    def _query(self, sql: str, args: tuple = ()) -> list:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _execute(self, sql: str, args: tuple = ()) -> None:
        with self._lock:
            if not self._db.in_transaction:
                self._db.execute("BEGIN")
            self._db.execute(sql, args)

    def _commit(self) -> None:
        with self._lock:
            if self._db.in_transaction:
                self._db.execute("COMMIT")

    def _rowid(self, si: bytes, shnum: int, incoming: int) -> Optional[int]:
        row = self._query(
            "SELECT rowid FROM shares WHERE si = ? AND shnum = ? AND incoming = ?",
            (si, shnum, incoming),
        )
        return int(row[0][0]) if row else None

    def _numbers(self, si: bytes, incoming: int) -> list[int]:
        rows = self._query(
            "SELECT shnum FROM shares WHERE si = ? AND incoming = ? ORDER BY shnum", (si, incoming)
        )
        return [int(r[0]) for r in rows]

    def open(self, storage_index: bytes, shnum: int) -> Optional[ShareHandle]:
        rowid = self._rowid(storage_index, shnum, 0)
        return None if rowid is None else _SQLiteHandle(self, rowid)

    def list(self, storage_index: bytes) -> list[int]:
        return self._numbers(storage_index, 0)

    def create_incoming(self, storage_index: bytes, shnum: int) -> ShareHandle:
        with self._lock:
            if self._rowid(storage_index, shnum, 0) is not None or self._rowid(storage_index, shnum, 1) is not None:
                raise FileExistsError((storage_index, shnum))
            self._execute(
                "INSERT INTO shares (si, shnum, incoming, data) VALUES (?, ?, 1, x'')",
                (storage_index, shnum),
            )
            self._commit()
            rowid = self._rowid(storage_index, shnum, 1)
            assert rowid is not None
            return _SQLiteHandle(self, rowid)

    def open_incoming(self, storage_index: bytes, shnum: int) -> Optional[ShareHandle]:
        rowid = self._rowid(storage_index, shnum, 1)
        return None if rowid is None else _SQLiteHandle(self, rowid)

    def list_incoming(self, storage_index: bytes) -> list[int]:
        return self._numbers(storage_index, 1)

    def publish(self, storage_index: bytes, shnum: int) -> None:
        with self._lock:
            if self._rowid(storage_index, shnum, 0) is not None:
                raise FileExistsError((storage_index, shnum))
            rowid = self._rowid(storage_index, shnum, 1)
            if rowid is None:
                raise FileNotFoundError((storage_index, shnum))
            # One transaction: the share becomes published and loses its record at once.
            self._execute("UPDATE shares SET incoming = 0 WHERE rowid = ?", (rowid,))
            self._execute("DELETE FROM records WHERE si = ? AND shnum = ?", (storage_index, shnum))
            self._commit()

    def abort(self, storage_index: bytes, shnum: int) -> None:
        with self._lock:
            rowid = self._rowid(storage_index, shnum, 1)
            if rowid is None:
                raise FileNotFoundError((storage_index, shnum))
            self._execute("DELETE FROM shares WHERE rowid = ?", (rowid,))
            self._execute("DELETE FROM records WHERE si = ? AND shnum = ?", (storage_index, shnum))
            self._commit()

    def remove(self, storage_index: bytes, shnum: int) -> None:
        with self._lock:
            rowid = self._rowid(storage_index, shnum, 0)
            if rowid is None:
                raise FileNotFoundError((storage_index, shnum))
            self._execute("DELETE FROM shares WHERE rowid = ?", (rowid,))
            self._commit()

    def available_space(self) -> Optional[int]:
        if self.capacity is None:
            return None
        used = self._query("SELECT coalesce(sum(length(data)), 0) FROM shares")[0][0]
        return max(0, self.capacity - int(used))

    def write_advisory(self, name: str, body: bytes) -> None:
        with self._lock:
            try:
                self._execute("INSERT INTO advisories (name, body) VALUES (?, ?)", (name, body))
            except sqlite3.IntegrityError:
                raise FileExistsError(name) from None
            self._commit()

    def advisories(self) -> dict[str, bytes]:
        """Every advisory stored, by name."""
        return {str(n): bytes(b) for (n, b) in self._query("SELECT name, body FROM advisories")}

    def storage_indexes(self) -> list[bytes]:
        return [bytes(r[0]) for r in self._query("SELECT DISTINCT si FROM shares WHERE incoming = 0")]

    def incoming(self) -> list[tuple[bytes, int]]:
        return [(bytes(r[0]), int(r[1])) for r in self._query("SELECT si, shnum FROM shares WHERE incoming = 1")]

    def put_upload_record(self, storage_index: bytes, shnum: int, record: bytes) -> None:
        with self._lock:
            if self._rowid(storage_index, shnum, 1) is None:
                raise FileNotFoundError((storage_index, shnum))
            self._execute(
                "INSERT OR REPLACE INTO records (si, shnum, record) VALUES (?, ?, ?)",
                (storage_index, shnum, record),
            )
            self._commit()

    def get_upload_record(self, storage_index: bytes, shnum: int) -> Optional[bytes]:
        row = self._query(
            "SELECT record FROM records WHERE si = ? AND shnum = ?", (storage_index, shnum)
        )
        return bytes(row[0][0]) if row else None

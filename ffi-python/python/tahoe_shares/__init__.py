"""tahoe-shares: Tahoe-LAFS share storage with a Rust core.

``Server`` is a Tahoe-LAFS 1.20 storage server (the semantics of Tahoe's
``StorageServer``, ``BucketWriter`` and ``BucketReader``) over a storage directory
in Tahoe's own layout, or over any object that implements
:class:`tahoe_shares.store.ShareStore`. Every storage operation releases the GIL,
and a ``Server`` may be used from several threads at once.

Every error is a subclass of :class:`tahoe_shares.Error`, and every exception class
lives in this module (``__module__ == "tahoe_shares"``), so it pickles with its
attributes. :class:`IoError` is also an :class:`OSError` (``errno``, ``strerror``,
``filename``); :class:`InvalidArgument` (an integer out of range, named in the message)
and :class:`ServerClosed` are also subclasses of :class:`ValueError`.

**Threads and the GIL.** One rule holds for every method of ``Server`` and
``BucketReader``: it releases the GIL before it takes the object's lock, and takes the
GIL back only after releasing the lock. A Python store's methods and an
``available_space`` callable therefore run (taking the GIL themselves) while the lock is
held, and must not call the same ``Server``; any other thread may call any method at any
time without deadlock.

**Arguments.** Byte strings may be any bytes-like object (``bytes``, ``bytearray``,
``memoryview``); share numbers any iterable of integers; test-and-write vectors a
``dict`` ``{shnum: (tests, writes, new_length)}`` as Tahoe passes them, or a sequence of
pairs. ``inspect.signature(Server)`` (and ``help(Server)``) shows the defaults, which
are the Rust core's ``Config::default()``.

**Closing.** ``Server.shutdown()``, or leaving ``with Server(...) as s:``, drops the
server and its store (releasing the storage directory); later calls raise
:class:`ServerClosed`. ``Server.storage_indexes()`` lists the storage indexes held,
``Server.uploads()`` the uploads in progress (:class:`UploadInfo`).

``tahoe_shares.tahoe`` is a drop-in replacement for Tahoe's own
``allmydata.storage.server.StorageServer``.
"""

from ._native import (
    AlreadyExists,
    BadUploadSecret,
    BadWriteEnabler,
    BucketReader,
    ConflictingWrite,
    CorruptShare,
    DataTooLarge,
    Error,
    InternalError,
    InvalidArgument,
    IoError,
    LimitReached,
    NoSpace,
    NoSuchLease,
    NoSuchShare,
    NoSuchUpload,
    NotAShare,
    Poisoned,
    ReadOnly,
    Server,
    ServerClosed,
    StorageLocked,
    TooManyLeases,
    UnknownImmutableVersion,
    UnknownMutableMagic,
    UnsupportedOperator,
    UploadInfo,
    __version__,
)

__all__ = [
    "AlreadyExists",
    "BadUploadSecret",
    "BadWriteEnabler",
    "BucketReader",
    "ConflictingWrite",
    "CorruptShare",
    "DataTooLarge",
    "Error",
    "InternalError",
    "InvalidArgument",
    "IoError",
    "LimitReached",
    "NoSpace",
    "NoSuchLease",
    "NoSuchShare",
    "NoSuchUpload",
    "NotAShare",
    "Poisoned",
    "ReadOnly",
    "Server",
    "ServerClosed",
    "StorageLocked",
    "TooManyLeases",
    "UnknownImmutableVersion",
    "UnknownMutableMagic",
    "UnsupportedOperator",
    "UploadInfo",
    "__version__",
]

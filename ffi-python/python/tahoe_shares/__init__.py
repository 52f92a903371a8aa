"""tahoe-shares: Tahoe-LAFS share storage with a Rust core.

``Server`` is a Tahoe-LAFS 1.20 storage server (the semantics of Tahoe's
``StorageServer``, ``BucketWriter`` and ``BucketReader``) over a storage directory
in Tahoe's own layout, or over any object that implements
:class:`tahoe_shares.store.ShareStore`. Every storage operation releases the GIL,
and a ``Server`` may be used from several threads at once.

Every error is a subclass of :class:`tahoe_shares.Error`.

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
    TooManyLeases,
    UnknownImmutableVersion,
    UnknownMutableMagic,
    UnsupportedOperator,
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
    "TooManyLeases",
    "UnknownImmutableVersion",
    "UnknownMutableMagic",
    "UnsupportedOperator",
    "__version__",
]

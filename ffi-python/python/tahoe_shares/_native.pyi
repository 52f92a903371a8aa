"""Type stubs of the native module (checked against it with ``mypy.stubtest``)."""

import inspect
import os
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Callable, ClassVar, Literal, Optional, Union, final

from typing_extensions import Buffer, Self

from .store import ShareStore

__version__: str
__all__ = [
    "AlreadyExists", "BadUploadSecret", "BadWriteEnabler", "BucketReader", "ConflictingWrite",
    "CorruptShare", "DataTooLarge", "Error", "InternalError", "InvalidArgument", "IoError",
    "LimitReached", "NoSpace", "NoSuchLease", "NoSuchShare", "NoSuchUpload", "NotAShare",
    "Poisoned", "ReadOnly", "Server", "ServerClosed", "StorageLocked", "TooManyLeases",
    "UnknownImmutableVersion", "UnknownMutableMagic", "UnsupportedOperator", "UploadInfo",
    "__version__",
]

class Error(Exception): ...
class IoError(Error, OSError): ...
class CorruptShare(Error): ...
class UnknownImmutableVersion(Error):
    share: Optional[int]
    version: int

class UnknownMutableMagic(Error):
    share: Optional[int]
    magic: bytes

class NotAShare(Error): ...
class DataTooLarge(Error): ...
class ConflictingWrite(Error): ...
class BadWriteEnabler(Error): ...
class NoSpace(Error): ...
class NoSuchLease(Error):
    share: Optional[int]
    kind: Optional[Literal["immutable", "mutable"]]
    accepted_by: list[bytes]

class NoSuchShare(Error): ...
class AlreadyExists(Error): ...
class UnsupportedOperator(Error): ...
class TooManyLeases(Error): ...
class InvalidArgument(Error, ValueError):
    # Set only for text that must be UTF-8 and is not (advise_corrupt_share): the argument
    # ("share_type" or "reason"), where its bytes stop being UTF-8, and the length of the
    # bad sequence (None when the text is cut off inside a character).
    argument: str
    start: int
    length: Optional[int]

class Poisoned(Error): ...
class BadUploadSecret(Error): ...
class NoSuchUpload(Error): ...
class LimitReached(Error): ...
class ReadOnly(Error): ...

class StorageLocked(Error):
    directory: Optional[str]
    holder: Optional[str]

class ServerClosed(Error, ValueError): ...
class InternalError(Error): ...

_TestVector = tuple[int, int, Buffer, Buffer]
_WriteVector = tuple[int, Buffer]
_TestAndWrite = tuple[Iterable[_TestVector], Iterable[_WriteVector], Optional[int]]
_TwVectors = Union[Mapping[int, _TestAndWrite], Iterable[tuple[int, _TestAndWrite]]]

@final
class BucketReader:
    def length(self) -> int: ...
    def read(self, offset: int, length: int) -> bytes: ...

@final
class UploadInfo:
    @property
    def storage_index(self) -> bytes: ...
    @property
    def sharenum(self) -> int: ...
    @property
    def allocated_size(self) -> int: ...
    @property
    def written(self) -> int: ...
    @property
    def last_activity(self) -> int: ...

@final
class Server:
    # The #[new] signature with the defaults of the core's Config::default().
    __signature__: ClassVar[inspect.Signature]
    def __new__(
        cls,
        storage: Union[str, os.PathLike[str], ShareStore],
        nodeid: Buffer,
        *,
        now: Optional[int] = None,
        reserved_space: Optional[int] = ...,
        readonly: bool = ...,
        discard_storage: bool = ...,
        lease_duration: Optional[int] = ...,
        upload_idle_timeout: Optional[int] = ...,
        max_uploads: Optional[int] = ...,
        max_ranges_per_upload: Optional[int] = ...,
        max_advisory_size: Optional[int] = ...,
        resume_uploads: bool = ...,
        mutable_writes_respect_space: bool = ...,
        durable: bool = True,
        available_space: Optional[Callable[[], Optional[int]]] = None,
        writable: bool = True,
    ) -> Server: ...
    def shutdown(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> bool: ...
    def available_space(self) -> Optional[int]: ...
    def allocated_size(self) -> int: ...
    def storage_indexes(self) -> list[bytes]: ...
    def uploads(self) -> list[UploadInfo]: ...
    def version(self) -> dict[str, Any]: ...
    def allocate_buckets(
        self,
        storage_index: Buffer,
        renew_secret: Buffer,
        cancel_secret: Buffer,
        sharenums: Iterable[int],
        allocated_size: int,
        upload_secret: Buffer,
        *,
        owner_num: int = 0,
        renew_leases: bool = True,
        now: Optional[int] = None,
    ) -> tuple[set[int], set[int]]: ...
    def write(
        self,
        storage_index: Buffer,
        sharenum: int,
        upload_secret: Buffer,
        offset: int,
        data: Buffer,
        *,
        now: Optional[int] = None,
    ) -> bool: ...
    def required_ranges(
        self, storage_index: Buffer, sharenum: int, upload_secret: Buffer
    ) -> list[tuple[int, int]]: ...
    def close(self, storage_index: Buffer, sharenum: int, upload_secret: Buffer) -> int: ...
    def abort(self, storage_index: Buffer, sharenum: int, upload_secret: Buffer) -> None: ...
    def expire_stale_uploads(self, now: Optional[int] = None) -> list[tuple[bytes, int]]: ...
    def upload_in_progress(self, storage_index: Buffer, sharenum: int) -> bool: ...
    def shares(self, storage_index: Buffer) -> set[int]: ...
    def read(self, storage_index: Buffer, sharenum: int, offset: int, length: int) -> bytes: ...
    def open_bucket(self, storage_index: Buffer, sharenum: int) -> BucketReader: ...
    def immutable_share_length(self, storage_index: Buffer, sharenum: int) -> int: ...
    def mutable_share_length(self, storage_index: Buffer, sharenum: int) -> int: ...
    def stat_share(self, storage_index: Buffer, sharenum: int) -> dict[str, Any]: ...
    def add_lease(
        self,
        storage_index: Buffer,
        renew_secret: Buffer,
        cancel_secret: Buffer,
        *,
        owner_num: int = 1,
        now: Optional[int] = None,
    ) -> int: ...
    def renew_lease(
        self, storage_index: Buffer, renew_secret: Buffer, *, now: Optional[int] = None
    ) -> None: ...
    def cancel_lease(self, storage_index: Buffer, cancel_secret: Buffer) -> int: ...
    def leases(
        self, storage_index: Buffer
    ) -> list[tuple[int, Literal["immutable", "mutable"], int, int, Optional[bytes]]]: ...
    def slot_testv_and_readv_and_writev(
        self,
        storage_index: Buffer,
        secrets: tuple[Buffer, Buffer, Buffer],
        tw_vectors: _TwVectors,
        read_vector: Iterable[tuple[int, int]],
        *,
        renew_leases: bool = True,
        now: Optional[int] = None,
    ) -> tuple[bool, dict[int, list[bytes]]]: ...
    def slot_readv(
        self, storage_index: Buffer, shares: Iterable[int], read_vector: Iterable[tuple[int, int]]
    ) -> dict[int, list[bytes]]: ...
    def advise_corrupt_share(
        self,
        share_type: Buffer,
        storage_index: Buffer,
        sharenum: int,
        reason: Buffer,
        *,
        now: Optional[int] = None,
    ) -> Literal["recorded", "not-held", "no-space"]: ...

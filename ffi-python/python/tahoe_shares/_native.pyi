"""Type stubs of the native module (checked against it with ``mypy.stubtest``)."""

import os
from typing import Any, Callable, Literal, Optional, Union, final


from .store import ShareStore

__version__: str
__all__ = [
    "AlreadyExists", "BadUploadSecret", "BadWriteEnabler", "BucketReader", "ConflictingWrite",
    "CorruptShare", "DataTooLarge", "Error", "InternalError", "InvalidArgument", "IoError",
    "LimitReached", "NoSpace", "NoSuchLease", "NoSuchShare", "NoSuchUpload", "NotAShare",
    "Poisoned", "ReadOnly", "Server", "TooManyLeases", "UnknownImmutableVersion",
    "UnknownMutableMagic", "UnsupportedOperator", "__version__",
]

class Error(Exception): ...
class IoError(Error): ...
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
class InvalidArgument(Error): ...
class Poisoned(Error): ...
class BadUploadSecret(Error): ...
class NoSuchUpload(Error): ...
class LimitReached(Error): ...
class ReadOnly(Error): ...
class InternalError(Error): ...

_TestVector = tuple[int, int, bytes, bytes]
_WriteVector = tuple[int, bytes]
_TestAndWrite = tuple[list[_TestVector], list[_WriteVector], Optional[int]]

@final
class BucketReader:
    def length(self) -> int: ...
    def read(self, offset: int, length: int) -> bytes: ...

@final
class Server:
    def __new__(
        cls,
        storage: Union[str, os.PathLike[str], ShareStore],
        nodeid: bytes,
        *,
        now: Optional[int] = None,
        reserved_space: int = 0,
        readonly: bool = False,
        discard_storage: bool = False,
        lease_duration: int = ...,
        upload_idle_timeout: int = ...,
        max_uploads: int = 65536,
        max_ranges_per_upload: int = 4096,
        max_advisory_size: int = ...,
        resume_uploads: bool = False,
        mutable_writes_respect_space: bool = False,
        durable: bool = True,
        available_space: Optional[Callable[[], Optional[int]]] = None,
    ) -> Server: ...
    def available_space(self) -> Optional[int]: ...
    def allocated_size(self) -> int: ...
    def version(self) -> dict[str, Any]: ...
    def allocate_buckets(
        self,
        storage_index: bytes,
        renew_secret: bytes,
        cancel_secret: bytes,
        sharenums: set[int],
        allocated_size: int,
        upload_secret: bytes,
        *,
        owner_num: int = 0,
        renew_leases: bool = True,
        now: Optional[int] = None,
    ) -> tuple[set[int], set[int]]: ...
    def write(
        self,
        storage_index: bytes,
        sharenum: int,
        upload_secret: bytes,
        offset: int,
        data: bytes,
        *,
        now: Optional[int] = None,
    ) -> bool: ...
    def required_ranges(
        self, storage_index: bytes, sharenum: int, upload_secret: bytes
    ) -> list[tuple[int, int]]: ...
    def close(self, storage_index: bytes, sharenum: int, upload_secret: bytes) -> int: ...
    def abort(self, storage_index: bytes, sharenum: int, upload_secret: bytes) -> None: ...
    def expire_stale_uploads(self, now: Optional[int] = None) -> list[tuple[bytes, int]]: ...
    def upload_in_progress(self, storage_index: bytes, sharenum: int) -> bool: ...
    def shares(self, storage_index: bytes) -> set[int]: ...
    def read(self, storage_index: bytes, sharenum: int, offset: int, length: int) -> bytes: ...
    def open_bucket(self, storage_index: bytes, sharenum: int) -> BucketReader: ...
    def immutable_share_length(self, storage_index: bytes, sharenum: int) -> int: ...
    def mutable_share_length(self, storage_index: bytes, sharenum: int) -> int: ...
    def stat_share(self, storage_index: bytes, sharenum: int) -> dict[str, Any]: ...
    def add_lease(
        self,
        storage_index: bytes,
        renew_secret: bytes,
        cancel_secret: bytes,
        *,
        owner_num: int = 1,
        now: Optional[int] = None,
    ) -> int: ...
    def renew_lease(
        self, storage_index: bytes, renew_secret: bytes, *, now: Optional[int] = None
    ) -> None: ...
    def cancel_lease(self, storage_index: bytes, cancel_secret: bytes) -> int: ...
    def leases(
        self, storage_index: bytes
    ) -> list[tuple[int, Literal["immutable", "mutable"], int, int, Optional[bytes]]]: ...
    def slot_testv_and_readv_and_writev(
        self,
        storage_index: bytes,
        secrets: tuple[bytes, bytes, bytes],
        tw_vectors: list[tuple[int, _TestAndWrite]],
        read_vector: list[tuple[int, int]],
        *,
        renew_leases: bool = True,
        now: Optional[int] = None,
    ) -> tuple[bool, dict[int, list[bytes]]]: ...
    def slot_readv(
        self, storage_index: bytes, shares: set[int], read_vector: list[tuple[int, int]]
    ) -> dict[int, list[bytes]]: ...
    def advise_corrupt_share(
        self,
        share_type: bytes,
        storage_index: bytes,
        sharenum: int,
        reason: bytes,
        *,
        now: Optional[int] = None,
    ) -> Literal["recorded", "not-held", "no-space"]: ...

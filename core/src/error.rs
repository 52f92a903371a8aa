//! The server's error, [`Error`], and the details shared by every layer ([`Corruption`],
//! [`Limit`]).
//!
//! Each layer has the error it can actually produce, joined by `From` so that `?` carries
//! it upward: the codecs report [`Corruption`] (or `format`'s header errors), the
//! containers [`ContainerError`](crate::container::ContainerError), the stores
//! [`StoreError`](crate::store::StoreError), and the server [`Error`], the one the
//! bindings map. A lower layer's error becomes the server's error of the same name; the
//! server names the share a container cannot know ([`Error::in_share`]).
//!
//! Three kinds of failure are kept apart: [`Error::Corrupt`] (the bytes on the device are
//! wrong), [`Error::Io`] (the device failed) and misuse of the API or protocol violations
//! by a client (every other variant). Expected outcomes, such as a failed test vector, are
//! not errors.

use core::fmt;

use crate::types::{AcceptedBy, LeaseOp, Magic, NodeId, ShareKind, ShareNumber};

/// What is wrong with a container's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// The container is shorter than its fixed header.
    TruncatedHeader,
    /// The lease count claims more records than the file can hold.
    LeaseCountExceedsFile,
    /// A lease record is cut off by the end of the file.
    TruncatedLease,
    /// A mutable container's data length reaches past its extra-lease block or the maximum.
    DataLengthBeyondContainer,
    /// A mutable container's extra-lease offset lies inside the header or the data.
    OverlappingRegions,
    /// A mutable container's extra-lease offset (or its count field) lies past the end.
    LeaseOffsetBeyondEof,
    /// A record of our own (upload state, journal) failed its checksum or bounds.
    BadRecord,
    /// An immutable share's file ends before the data its header declares: the file was
    /// cut short (Tahoe infers the data length from the file size and reads such a share
    /// back short without complaint).
    TruncatedData {
        /// Bytes of data the header declares (its legacy length field).
        declared: u64,
        /// Bytes of data the file holds.
        present: u64,
    },
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Self::TruncatedData { declared, present } = self {
            return write!(
                f,
                "share data truncated: the header declares {declared} bytes, the file holds {present}"
            );
        }
        f.write_str(match self {
            Self::TruncatedHeader => "container shorter than its header",
            Self::LeaseCountExceedsFile => "lease count exceeds what the file holds",
            Self::TruncatedLease => "lease record cut off by end of file",
            Self::DataLengthBeyondContainer => "data length beyond the container",
            Self::OverlappingRegions => "extra-lease offset overlaps the header or data",
            Self::LeaseOffsetBeyondEof => "extra-lease offset beyond end of file",
            Self::BadRecord => "record failed its checksum or bounds",
            Self::TruncatedData { .. } => "share data truncated",
        })
    }
}

impl core::error::Error for Corruption {}

/// A configured limit of the server (see `server::Config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// Uploads in progress at once.
    Uploads,
    /// Separate written ranges tracked for one upload.
    RangesPerUpload,
    /// Bytes of one corruption advisory.
    AdvisorySize,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Uploads => "too many uploads in progress",
            Self::RangesPerUpload => "too many separate ranges written in one upload",
            Self::AdvisorySize => "corruption advisory too large",
        })
    }
}

impl core::error::Error for Limit {}

/// The error of the storage server (and of the bindings over it), generic over the
/// store's error type `E`, so that nothing here allocates. Its variants match Tahoe's
/// exceptions.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error<E> {
    /// The block device or share store failed.
    Io(E),
    /// The container's bytes are malformed.
    Corrupt(Corruption),
    /// An immutable container with a version other than 1 or 2 (Tahoe's
    /// `UnknownImmutableContainerVersionError`); also raised when an immutable operation
    /// meets a mutable container.
    UnknownImmutableVersion {
        /// The share, when the server opened it (a container alone does not know).
        share: Option<ShareNumber>,
        /// The version found: the file's first four bytes, big-endian.
        version: u32,
    },
    /// A mutable container whose magic is not one Tahoe wrote (Tahoe's
    /// `UnknownMutableContainerVersionError`); also raised when a mutable operation meets
    /// an immutable container.
    UnknownMutableMagic {
        /// The share, when the server opened it (a container alone does not know).
        share: Option<ShareNumber>,
        /// The file's first bytes, where the magic should be.
        magic: Magic,
    },
    /// Something that is not a regular share file stands where a share should be (a
    /// symbolic link, a directory).
    NotAShare,
    /// A write would pass the maximum size (Tahoe's `DataTooLargeError`).
    DataTooLarge {
        /// The largest size allowed.
        max: u64,
        /// Where the write starts.
        offset: u64,
        /// How long it is.
        length: u64,
    },
    /// A write overlaps bytes already written with different bytes (Tahoe's
    /// `ConflictingWriteError`). Nothing of that write was applied.
    ConflictingWrite {
        /// Start of the first conflicting range.
        start: u64,
        /// End (exclusive) of the first conflicting range.
        end: u64,
    },
    /// The write enabler given does not match the one recorded (Tahoe's
    /// `BadWriteEnablerError`).
    BadWriteEnabler {
        /// The node that recorded the write enabler.
        nodeid: NodeId,
    },
    /// Not enough space for the operation (Tahoe's `NoSpace`).
    NoSpace,
    /// No lease matches the secret given. Displays Tahoe's message for the same case.
    NoSuchLease {
        /// Renewing or cancelling.
        op: LeaseOp,
        /// The share without a matching lease (`None` from a container alone, and when
        /// the storage index holds no share at all).
        share: Option<ShareNumber>,
        /// Its kind (`None` when there is no share).
        kind: Option<ShareKind>,
        /// The nodes that accepted the leases it holds (mutable shares record them), for
        /// Tahoe's "I have leases accepted by nodeids" message.
        accepted_by: AcceptedBy,
    },
    /// The share does not exist.
    NoSuchShare,
    /// The share (or an upload of it) exists already.
    AlreadyExists,
    /// A test vector used an operator other than `eq`.
    UnsupportedOperator,
    /// Adding a lease would overflow the container's 32-bit lease count.
    TooManyLeases,
    /// An argument is out of its domain; the text names it.
    InvalidArgument(&'static str),
    /// Text that must be UTF-8 is not (Tahoe decodes it and raises `UnicodeDecodeError`):
    /// which argument, and where its bytes stop being UTF-8, so that a binding can raise its
    /// language's own decoding error without decoding again.
    NotUtf8 {
        /// The argument (`"share type"`, `"reason"`).
        field: &'static str,
        /// Where the text stops being UTF-8 and how long the bad sequence is.
        error: core::str::Utf8Error,
    },
    /// The caller's buffer is too small; `needed` bytes are required.
    BufferTooSmall {
        /// Bytes required.
        needed: usize,
    },
    /// An earlier sync failed: the handle accepts nothing more until reopened (a retried
    /// sync may report success with the data gone).
    Poisoned,
    /// The upload secret does not match the one the upload was allocated with.
    BadUploadSecret,
    /// No upload is in progress for that share (never allocated, finished, aborted or
    /// expired).
    NoSuchUpload,
    /// A configured limit is reached; nothing was changed.
    LimitReached(Limit),
    /// The server is read-only and the operation would write (only where the
    /// configuration asks for it; Tahoe itself lets mutable writes through).
    ReadOnly,
    /// The storage directory is held by another writer (another process, or another
    /// store object in this one): one writer per storage directory. Nothing was changed.
    StorageLocked,
    /// An internal invariant failed. This would otherwise have been a panic; please report
    /// it.
    Bug(&'static str),
}

impl<E> Error<E> {
    /// Names the share an error is about, where the variant carries one and it is not
    /// named yet (the server does this for what containers report).
    #[must_use]
    pub fn in_share(mut self, shnum: ShareNumber) -> Self {
        match &mut self {
            Self::UnknownImmutableVersion { share, .. }
            | Self::UnknownMutableMagic { share, .. }
            | Self::NoSuchLease { share, .. } => {
                share.get_or_insert(shnum);
            }
            _ => {}
        }
        self
    }

    /// Maps the device error type.
    pub fn map_io<F>(self, f: impl FnOnce(E) -> F) -> Error<F> {
        match self {
            Self::Io(e) => Error::Io(f(e)),
            Self::Corrupt(c) => Error::Corrupt(c),
            Self::UnknownImmutableVersion { share, version } => {
                Error::UnknownImmutableVersion { share, version }
            }
            Self::UnknownMutableMagic { share, magic } => {
                Error::UnknownMutableMagic { share, magic }
            }
            Self::NotAShare => Error::NotAShare,
            Self::DataTooLarge {
                max,
                offset,
                length,
            } => Error::DataTooLarge {
                max,
                offset,
                length,
            },
            Self::ConflictingWrite { start, end } => Error::ConflictingWrite { start, end },
            Self::BadWriteEnabler { nodeid } => Error::BadWriteEnabler { nodeid },
            Self::NoSpace => Error::NoSpace,
            Self::NoSuchLease {
                op,
                share,
                kind,
                accepted_by,
            } => Error::NoSuchLease {
                op,
                share,
                kind,
                accepted_by,
            },
            Self::NoSuchShare => Error::NoSuchShare,
            Self::AlreadyExists => Error::AlreadyExists,
            Self::UnsupportedOperator => Error::UnsupportedOperator,
            Self::TooManyLeases => Error::TooManyLeases,
            Self::InvalidArgument(a) => Error::InvalidArgument(a),
            Self::NotUtf8 { field, error } => Error::NotUtf8 { field, error },
            Self::BufferTooSmall { needed } => Error::BufferTooSmall { needed },
            Self::Poisoned => Error::Poisoned,
            Self::BadUploadSecret => Error::BadUploadSecret,
            Self::NoSuchUpload => Error::NoSuchUpload,
            Self::LimitReached(l) => Error::LimitReached(l),
            Self::ReadOnly => Error::ReadOnly,
            Self::StorageLocked => Error::StorageLocked,
            Self::Bug(b) => Error::Bug(b),
        }
    }
}

impl<E> From<Corruption> for Error<E> {
    fn from(c: Corruption) -> Self {
        Self::Corrupt(c)
    }
}

/// Tahoe's message for a lease operation that matched nothing (`StorageServer.renew_lease`,
/// `ShareFile` and `MutableShareFile`).
fn no_such_lease(
    f: &mut fmt::Formatter<'_>,
    op: LeaseOp,
    kind: Option<ShareKind>,
    accepted_by: &AcceptedBy,
) -> fmt::Result {
    let verb = match op {
        LeaseOp::Renew => "renew",
        LeaseOp::Cancel => "cancel",
    };
    match (op, kind) {
        (_, None) => write!(f, "no such lease to {verb}"),
        (LeaseOp::Renew, Some(ShareKind::Immutable)) => {
            f.write_str("unable to renew non-existent lease")
        }
        (LeaseOp::Cancel, Some(ShareKind::Immutable)) => {
            f.write_str("unable to find matching lease to cancel")
        }
        (_, Some(ShareKind::Mutable)) => write!(
            f,
            "Unable to {verb} non-existent lease. I have leases accepted by nodeids: {accepted_by} ."
        ),
    }
}

/// Shows the device error with its own `Display` (an `io::Error` reads "No space left on
/// device (os error 28)", not its `Debug` form).
impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "I/O error: {e}"),
            Self::Corrupt(c) => write!(f, "corrupt container: {c}"),
            Self::UnknownImmutableVersion { share, version } => {
                write!(f, "unknown immutable container version {version}")?;
                share.map_or(Ok(()), |n| write!(f, " (share {n})"))
            }
            Self::UnknownMutableMagic { share, .. } => {
                // The bytes found are in `magic` (and its Debug); the text stays short.
                f.write_str("unknown mutable container magic")?;
                share.map_or(Ok(()), |n| write!(f, " (share {n})"))
            }
            Self::NotAShare => f.write_str("not a share file"),
            Self::DataTooLarge {
                max,
                offset,
                length,
            } => write!(
                f,
                "data too large: offset {offset} + length {length} exceeds {max}"
            ),
            Self::ConflictingWrite { start, end } => {
                write!(f, "chunk {start}-{end} doesn't match already written data")
            }
            Self::BadWriteEnabler { nodeid } => {
                write!(f, "The write enabler was recorded by nodeid '{nodeid}'.")
            }
            Self::NoSpace => f.write_str("no space"),
            Self::NoSuchLease {
                op,
                kind,
                accepted_by,
                ..
            } => no_such_lease(f, *op, *kind, accepted_by),
            Self::NoSuchShare => f.write_str("no such share"),
            Self::AlreadyExists => f.write_str("share already exists"),
            Self::UnsupportedOperator => f.write_str("unsupported test operator (only eq)"),
            Self::TooManyLeases => f.write_str("lease count would overflow"),
            Self::InvalidArgument(a) => write!(f, "invalid argument: {a}"),
            Self::NotUtf8 { field, error } => {
                write!(f, "invalid argument: {field} is not UTF-8: {error}")
            }
            Self::BufferTooSmall { needed } => write!(f, "buffer too small: {needed} needed"),
            Self::Poisoned => f.write_str("handle poisoned by an earlier sync failure"),
            Self::BadUploadSecret => f.write_str("wrong upload secret"),
            Self::NoSuchUpload => f.write_str("no upload in progress for that share"),
            Self::LimitReached(l) => write!(f, "limit reached: {l}"),
            Self::ReadOnly => f.write_str("the server is read-only"),
            Self::StorageLocked => f.write_str("the storage directory is in use by another server"),
            Self::Bug(b) => write!(f, "internal error (please report): {b}"),
        }
    }
}

/// [`Error::Io`] gives its device error as its `source()`, so that error reporters (and
/// `std::io::Error::downcast`-style inspection) reach the operating system's error; the
/// variants that wrap a detail ([`Error::Corrupt`], [`Error::LimitReached`],
/// [`Error::NotUtf8`]) give that detail.
impl<E: core::error::Error + 'static> core::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Corrupt(c) => Some(c),
            Self::LimitReached(l) => Some(l),
            Self::NotUtf8 { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// The result of a core operation over a device with error type `E`.
pub type Result<T, E> = core::result::Result<T, Error<E>>;

//! The error of a share container: what an [`ImmutableContainer`](super::ImmutableContainer)
//! or a [`MutableContainer`](super::MutableContainer) operation can fail with. A container
//! knows its device and its bytes, not which share it is: the server names the share when
//! it turns this error into its own [`Error`](crate::Error) ([`ContainerError::in_share`],
//! or `From`).

use core::fmt;

use crate::error::{no_such_lease, Corruption};
use crate::types::{AcceptedBy, LeaseOp, Magic, NodeId, ShareKind, ShareNumber};

/// What a container operation can fail with, generic over the device's error type `E`, so
/// that nothing here allocates.
#[derive(Debug)]
#[non_exhaustive]
pub enum ContainerError<E> {
    /// The device failed.
    Io(E),
    /// The container's bytes are malformed.
    Corrupt(Corruption),
    /// An immutable container with a version other than 1 or 2 (Tahoe's
    /// `UnknownImmutableContainerVersionError`), or a mutable container opened as
    /// immutable.
    UnknownImmutableVersion {
        /// The version found: the file's first four bytes, big-endian.
        version: u32,
    },
    /// A mutable container whose magic is not one Tahoe wrote (Tahoe's
    /// `UnknownMutableContainerVersionError`), or an immutable container opened as
    /// mutable.
    UnknownMutableMagic {
        /// The file's first bytes, where the magic should be.
        magic: Magic,
    },
    /// A container is created on a device that is not empty.
    AlreadyExists,
    /// A write would pass the maximum size (Tahoe's `DataTooLargeError`).
    DataTooLarge {
        /// The largest size allowed.
        max: u64,
        /// Where the write starts.
        offset: u64,
        /// How long it is.
        length: u64,
    },
    /// The write enabler given does not match the one recorded (Tahoe's
    /// `BadWriteEnablerError`).
    BadWriteEnabler {
        /// The node that recorded the write enabler.
        nodeid: NodeId,
    },
    /// A test vector used an operator other than `eq`.
    UnsupportedOperator,
    /// Not enough of the space the caller says is available to add a lease record.
    NoSpace,
    /// No lease matches the secret given. Displays Tahoe's message for the same case.
    NoSuchLease {
        /// Renewing or cancelling.
        op: LeaseOp,
        /// The container's kind.
        kind: ShareKind,
        /// The nodes that accepted the leases it holds (mutable containers record them).
        accepted_by: AcceptedBy,
    },
    /// Adding a lease would overflow the container's 32-bit lease count.
    TooManyLeases,
    /// An argument is out of its domain; the text names it.
    InvalidArgument(&'static str),
    /// An earlier sync failed: the container accepts nothing more until reopened (a
    /// retried sync may report success with the data gone).
    Poisoned,
    /// An internal invariant failed. This would otherwise have been a panic; please report
    /// it.
    Bug(&'static str),
}

impl<E> ContainerError<E> {
    /// The server's error for this one, naming the share the container holds (where the
    /// variant carries a share).
    #[must_use]
    pub fn in_share(self, shnum: ShareNumber) -> crate::Error<E> {
        crate::Error::from(self).in_share(shnum)
    }

    /// Maps the device error type.
    pub fn map_io<F>(self, f: impl FnOnce(E) -> F) -> ContainerError<F> {
        match self {
            Self::Io(e) => ContainerError::Io(f(e)),
            Self::Corrupt(c) => ContainerError::Corrupt(c),
            Self::UnknownImmutableVersion { version } => {
                ContainerError::UnknownImmutableVersion { version }
            }
            Self::UnknownMutableMagic { magic } => ContainerError::UnknownMutableMagic { magic },
            Self::AlreadyExists => ContainerError::AlreadyExists,
            Self::DataTooLarge {
                max,
                offset,
                length,
            } => ContainerError::DataTooLarge {
                max,
                offset,
                length,
            },
            Self::BadWriteEnabler { nodeid } => ContainerError::BadWriteEnabler { nodeid },
            Self::UnsupportedOperator => ContainerError::UnsupportedOperator,
            Self::NoSpace => ContainerError::NoSpace,
            Self::NoSuchLease {
                op,
                kind,
                accepted_by,
            } => ContainerError::NoSuchLease {
                op,
                kind,
                accepted_by,
            },
            Self::TooManyLeases => ContainerError::TooManyLeases,
            Self::InvalidArgument(a) => ContainerError::InvalidArgument(a),
            Self::Poisoned => ContainerError::Poisoned,
            Self::Bug(b) => ContainerError::Bug(b),
        }
    }
}

impl<E> From<Corruption> for ContainerError<E> {
    fn from(c: Corruption) -> Self {
        Self::Corrupt(c)
    }
}

/// A container's error reads as the server's error of the same variant before the server
/// names the share.
impl<E: fmt::Display> fmt::Display for ContainerError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "I/O error: {e}"),
            Self::Corrupt(c) => write!(f, "corrupt container: {c}"),
            Self::UnknownImmutableVersion { version } => {
                write!(f, "unknown immutable container version {version}")
            }
            Self::UnknownMutableMagic { .. } => f.write_str("unknown mutable container magic"),
            Self::AlreadyExists => f.write_str("container created on a device that is not empty"),
            Self::DataTooLarge {
                max,
                offset,
                length,
            } => write!(
                f,
                "data too large: offset {offset} + length {length} exceeds {max}"
            ),
            Self::BadWriteEnabler { nodeid } => {
                write!(f, "The write enabler was recorded by nodeid '{nodeid}'.")
            }
            Self::UnsupportedOperator => f.write_str("unsupported test operator (only eq)"),
            Self::NoSpace => f.write_str("no space"),
            Self::NoSuchLease {
                op,
                kind,
                accepted_by,
            } => no_such_lease(f, *op, Some(*kind), accepted_by),
            Self::TooManyLeases => f.write_str("lease count would overflow"),
            Self::InvalidArgument(a) => write!(f, "invalid argument: {a}"),
            Self::Poisoned => f.write_str("handle poisoned by an earlier sync failure"),
            Self::Bug(b) => write!(f, "internal error (please report): {b}"),
        }
    }
}

/// [`ContainerError::Io`] gives its device error as its `source()`,
/// [`ContainerError::Corrupt`] what is wrong.
impl<E: core::error::Error + 'static> core::error::Error for ContainerError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Corrupt(c) => Some(c),
            _ => None,
        }
    }
}

/// The result of a container operation over a device with error type `E`.
pub type ContainerResult<T, E> = core::result::Result<T, ContainerError<E>>;

//! The error of a share container: what an [`ImmutableContainer`](super::ImmutableContainer)
//! or a [`MutableContainer`](super::MutableContainer) operation can fail with. A container
//! knows its device and its bytes, not which share it is: the server names the share when
//! it turns this error into its own [`Error`](crate::Error) ([`ContainerError::in_share`],
//! or `From`).

use core::convert::Infallible;
use core::fmt;

use crate::error::{Corruption, Error};
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

    /// The server's error for every variant but [`Self::Io`] (`None`), which needs no
    /// device error: what `From` and `Display` share.
    fn detail(&self) -> Option<Error<Infallible>> {
        Some(match *self {
            Self::Io(_) => return None,
            Self::Corrupt(c) => Error::Corrupt(c),
            Self::UnknownImmutableVersion { version } => Error::UnknownImmutableVersion {
                share: None,
                version,
            },
            Self::UnknownMutableMagic { magic } => {
                Error::UnknownMutableMagic { share: None, magic }
            }
            Self::AlreadyExists => Error::AlreadyExists,
            Self::DataTooLarge {
                max,
                offset,
                length,
            } => Error::DataTooLarge {
                max,
                offset,
                length,
            },
            Self::BadWriteEnabler { nodeid } => Error::BadWriteEnabler { nodeid },
            Self::UnsupportedOperator => Error::UnsupportedOperator,
            Self::NoSpace => Error::NoSpace,
            Self::NoSuchLease {
                op,
                kind,
                accepted_by,
            } => Error::NoSuchLease {
                op,
                share: None,
                kind: Some(kind),
                accepted_by,
            },
            Self::TooManyLeases => Error::TooManyLeases,
            Self::InvalidArgument(a) => Error::InvalidArgument(a),
            Self::Poisoned => Error::Poisoned,
            Self::Bug(b) => Error::Bug(b),
        })
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
        match (self, self.detail()) {
            (Self::Io(e), _) => Error::Io(e).fmt(f),
            (_, Some(detail)) => detail.fmt(f),
            (_, None) => Ok(()),
        }
    }
}

/// A container's error is the server's error of the same name, with no share named yet
/// (the server names it with [`Error::in_share`]).
impl<E> From<ContainerError<E>> for Error<E> {
    fn from(e: ContainerError<E>) -> Self {
        match (e.detail(), e) {
            (_, ContainerError::Io(e)) => Self::Io(e),
            (Some(detail), _) => detail.map_io(|never| match never {}),
            (None, _) => Self::Bug("container error without detail"),
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

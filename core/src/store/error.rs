//! The error of the share namespace: what a [`ShareStore`](super::ShareStore) method can
//! fail with. The server turns it into its own [`Error`](crate::Error) with `?` (through
//! `From`), variant for variant.

use core::convert::Infallible;
use core::fmt;

use crate::error::Error;

/// What a share store (or, for [`StoreError::Io`], one of its devices) can fail with,
/// generic over the store's error type `E`, so that nothing here allocates.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError<E> {
    /// The storage failed (the store's own error: an `io::Error`, a callback's status).
    Io(E),
    /// Something that is not a regular share file stands where a share should be (a
    /// symbolic link, a directory).
    NotAShare,
    /// The share (or its upload record) does not exist.
    NoSuchShare,
    /// The share (or an incoming share of that number, or an advisory of that name)
    /// exists already.
    AlreadyExists,
    /// The store refuses an argument; the text names it.
    InvalidArgument(&'static str),
    /// The caller's buffer is too small; `needed` bytes are required.
    BufferTooSmall {
        /// Bytes required.
        needed: usize,
    },
    /// The store was opened read-only and the operation would change it.
    ReadOnly,
    /// The storage directory is held by another writer (another process, or another
    /// store object in this one): one writer per storage directory. Nothing was changed.
    StorageLocked,
    /// An internal invariant failed. This would otherwise have been a panic; please report
    /// it.
    Bug(&'static str),
}

impl<E> StoreError<E> {
    /// Maps the store's error type.
    pub fn map_io<F>(self, f: impl FnOnce(E) -> F) -> StoreError<F> {
        match self {
            Self::Io(e) => StoreError::Io(f(e)),
            Self::NotAShare => StoreError::NotAShare,
            Self::NoSuchShare => StoreError::NoSuchShare,
            Self::AlreadyExists => StoreError::AlreadyExists,
            Self::InvalidArgument(a) => StoreError::InvalidArgument(a),
            Self::BufferTooSmall { needed } => StoreError::BufferTooSmall { needed },
            Self::ReadOnly => StoreError::ReadOnly,
            Self::StorageLocked => StoreError::StorageLocked,
            Self::Bug(b) => StoreError::Bug(b),
        }
    }

    /// The server's error for every variant but [`Self::Io`] (`None`), which needs no
    /// store error: what `From` and `Display` share.
    fn detail(&self) -> Option<Error<Infallible>> {
        Some(match *self {
            Self::Io(_) => return None,
            Self::NotAShare => Error::NotAShare,
            Self::NoSuchShare => Error::NoSuchShare,
            Self::AlreadyExists => Error::AlreadyExists,
            Self::InvalidArgument(a) => Error::InvalidArgument(a),
            Self::BufferTooSmall { needed } => Error::BufferTooSmall { needed },
            Self::ReadOnly => Error::ReadOnly,
            Self::StorageLocked => Error::StorageLocked,
            Self::Bug(b) => Error::Bug(b),
        })
    }
}

/// A store's error reads as the server's error of the same variant (the server reports
/// what its store said, unchanged).
impl<E: fmt::Display> fmt::Display for StoreError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.detail()) {
            (Self::Io(e), _) => Error::Io(e).fmt(f),
            (_, Some(detail)) => detail.fmt(f),
            (_, None) => Ok(()),
        }
    }
}

/// A store's error is the server's error of the same name: `?` on a store call in the
/// server reports what the store said.
impl<E> From<StoreError<E>> for Error<E> {
    fn from(e: StoreError<E>) -> Self {
        match (e.detail(), e) {
            (_, StoreError::Io(e)) => Self::Io(e),
            (Some(detail), _) => detail.map_io(|never| match never {}),
            (None, _) => Self::Bug("store error without detail"),
        }
    }
}

/// [`StoreError::Io`] gives the store's error as its `source()`.
impl<E: core::error::Error + 'static> core::error::Error for StoreError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// The result of a share store operation over a store with error type `E`.
pub type StoreResult<T, E> = core::result::Result<T, StoreError<E>>;

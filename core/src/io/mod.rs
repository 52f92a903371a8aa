//! The block I/O trait every container runs over, and its implementations.
//!
//! # Power-loss contract
//!
//! What a [`ShareIo`] implementation must promise, and what the containers assume:
//!
//! - A successful [`ShareIo::sync`] makes every write and length change before it durable.
//! - Writes not yet synced may be lost at a crash, in any combination; a write that is
//!   in flight at the crash may be applied in part.
//! - Nothing is ever *invented*: after a crash a byte holds a value that was written to it,
//!   or its value before.
//! - A failed `sync` poisons the state: the caller may not assume anything about unsynced
//!   writes, and must not retry the sync to get an acknowledgement (a retried `fsync` can
//!   succeed with the data gone). The containers stop accepting updates after one.
//!
//! Under this contract the containers order their writes so that a crash at any point
//! leaves the old container or the new one after recovery (see `docs/format.md`).

pub use embedded_io::{Error as IoError, ErrorKind, ErrorType};

mod adapter;
#[cfg(feature = "std")]
mod file;
mod slice;
#[cfg(feature = "alloc")]
mod vec;

pub use adapter::{AdapterError, SeekAdapter};
#[cfg(feature = "std")]
pub use file::FileIo;
pub use slice::{MemError, SliceIo};
#[cfg(feature = "alloc")]
pub use vec::VecIo;

/// Positional reads and writes on one share container.
// A device's `len` is fallible I/O, not a collection size: an `is_empty` would add nothing.
#[allow(clippy::len_without_is_empty)]
pub trait ShareIo: ErrorType {
    /// The current length in bytes.
    fn len(&mut self) -> Result<u64, Self::Error>;
    /// Fills `buf` exactly from `offset`; a short read is an error, never zero fill.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Self::Error>;
    /// Writes all of `data` at `offset`, extending the container (with zeros in any gap)
    /// when it ends past the current length.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), Self::Error>;
    /// Truncates or extends (with zeros) to `len` bytes.
    fn set_len(&mut self, len: u64) -> Result<(), Self::Error>;
    /// After `Ok`, everything written before is durable.
    fn sync(&mut self) -> Result<(), Self::Error>;

    /// Starts a record of `body_len` bytes in the device's update log, when it keeps one
    /// beside the container (the file store's write-ahead log, `docs/format.md` §5a), so
    /// that a multi-write update becomes atomic and durable with one sync of the log
    /// instead of a journal in the container and two syncs of it.
    ///
    /// `Ok(false)`, the default, when the device has no log or the record does not fit
    /// it: the container then journals in the share itself. After `Ok(true)` the
    /// container appends exactly `body_len` bytes ([`Self::log_append`]: journal entries,
    /// `format::journal`), seals the record ([`Self::log_commit`], the commit point),
    /// applies it with ordinary writes without syncing, reading it back with
    /// [`Self::log_read`], and calls [`Self::log_applied`]. The log keeps the record,
    /// and replays it after a crash, until the device's writes are durable.
    ///
    /// # Errors
    ///
    /// Device errors.
    fn log_begin(&mut self, body_len: u64) -> Result<bool, Self::Error> {
        let _ = body_len;
        Ok(false)
    }

    /// Appends bytes to the record [`Self::log_begin`] started. Only called after a
    /// `log_begin` that returned `Ok(true)`; the default does nothing.
    ///
    /// # Errors
    ///
    /// Device errors.
    fn log_append(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
        let _ = bytes;
        Ok(())
    }

    /// Seals the record (its `entries` and the container length `target_len` after it)
    /// and makes it durable. After `Ok` the update is committed: a crash from here on
    /// leaves it applied. A failure is ambiguous (the record may be durable), as a failed
    /// [`Self::sync`]. Only called after a `log_begin` that returned `Ok(true)`.
    ///
    /// # Errors
    ///
    /// Device errors.
    fn log_commit(&mut self, entries: u32, target_len: u64) -> Result<(), Self::Error> {
        let _ = (entries, target_len);
        Ok(())
    }

    /// Reads bytes of the sealed record's body at `offset` (to apply it). Only called
    /// after a `log_commit` that returned `Ok`; the default leaves `buf` as it is.
    ///
    /// # Errors
    ///
    /// Device errors.
    fn log_read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Self::Error> {
        let _ = (offset, buf);
        Ok(())
    }

    /// The sealed record has been applied to the device (not synced). Only called after a
    /// `log_commit` that returned `Ok`; the default does nothing.
    ///
    /// # Errors
    ///
    /// Device errors.
    fn log_applied(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl<T: ShareIo + ?Sized> ShareIo for &mut T {
    fn len(&mut self) -> Result<u64, Self::Error> {
        T::len(self)
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Self::Error> {
        T::read_at(self, offset, buf)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), Self::Error> {
        T::write_at(self, offset, data)
    }
    fn set_len(&mut self, len: u64) -> Result<(), Self::Error> {
        T::set_len(self, len)
    }
    fn sync(&mut self) -> Result<(), Self::Error> {
        T::sync(self)
    }
    fn log_begin(&mut self, body_len: u64) -> Result<bool, Self::Error> {
        T::log_begin(self, body_len)
    }
    fn log_append(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
        T::log_append(self, bytes)
    }
    fn log_commit(&mut self, entries: u32, target_len: u64) -> Result<(), Self::Error> {
        T::log_commit(self, entries, target_len)
    }
    fn log_read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Self::Error> {
        T::log_read(self, offset, buf)
    }
    fn log_applied(&mut self) -> Result<(), Self::Error> {
        T::log_applied(self)
    }
}

/// Why an access is out of bounds, for implementors' argument checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeError {
    /// `offset + length` overflows `u64`.
    Overflow,
    /// The range ends past `len` (reads) or `capacity` (writes).
    OutOfBounds,
}

impl core::fmt::Display for RangeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Overflow => "offset + length overflows",
            Self::OutOfBounds => "range out of bounds",
        })
    }
}

impl core::error::Error for RangeError {}

/// For implementors: checks that a read of `length` bytes at `offset` lies within `len`.
///
/// # Errors
///
/// [`RangeError`] when it does not.
pub fn check_read(len: u64, offset: u64, length: usize) -> Result<(), RangeError> {
    let end = offset
        .checked_add(length as u64)
        .ok_or(RangeError::Overflow)?;
    if end > len {
        return Err(RangeError::OutOfBounds);
    }
    Ok(())
}

/// For implementors: checks that a write of `length` bytes at `offset` fits `capacity`.
///
/// # Errors
///
/// [`RangeError`] when it does not.
pub fn check_write(capacity: u64, offset: u64, length: usize) -> Result<(), RangeError> {
    check_read(capacity, offset, length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_checks() {
        assert_eq!(check_read(10, 0, 10), Ok(()));
        assert_eq!(check_read(10, 1, 10), Err(RangeError::OutOfBounds));
        assert_eq!(check_read(10, u64::MAX, 1), Err(RangeError::Overflow));
        assert_eq!(check_write(10, 10, 0), Ok(()));
    }
}

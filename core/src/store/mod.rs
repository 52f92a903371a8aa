//! The share namespace: where containers live. This trait is what makes backends
//! pluggable (Tahoe ticket #999): a memory store, a filesystem store with Tahoe's exact
//! layout, and stores written in C or Python through the bindings.
//!
//! A share is *published* (visible to readers, listed) or *incoming* (being written).
//! Incoming shares become published all at once through [`ShareStore::publish`].

mod error;
#[cfg(feature = "_testing")]
mod faulty;
#[cfg(feature = "std")]
mod fs;
#[cfg(feature = "alloc")]
mod memory;
#[cfg(feature = "std")]
pub(crate) mod wal;

pub use error::{StoreError, StoreResult};
#[cfg(feature = "_testing")]
pub use faulty::{
    Change, Fault, FaultPlan, FaultyShare, FaultyStore, Pending, Persist, StoreFault, StoreOp,
    SECTOR,
};
#[cfg(feature = "std")]
pub use fs::{FsError, FsStore, LOCK_FILE_NAME};
#[cfg(feature = "alloc")]
pub use memory::{MemShare, MemStore};
#[cfg(feature = "std")]
pub use wal::WAL_FILE_NAME;

use crate::io::{IoError, ShareIo};
use crate::types::{ShareNumber, ShareSet, StorageIndex};

/// Whether a store makes each acknowledged change durable before returning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// fsync files and directories at every commit point (the default).
    #[default]
    Durable,
    /// No fsync at all: what Tahoe 1.20's own storage server does (it writes share files
    /// and never syncs them). For benchmarks that compare like with like; crash safety is
    /// then the operating system's.
    NoSync,
}

impl Durability {
    /// The old name of [`Durability::NoSync`] (it named whose behaviour, not what it does).
    #[deprecated(note = "renamed to `Durability::NoSync`, which says what it does")]
    #[allow(non_upper_case_globals)] // Spelled as the variant it stands in for.
    pub const Tahoe: Self = Self::NoSync;
}

/// The share namespace of a storage server.
pub trait ShareStore {
    /// The error of the store and of its devices (a store method wraps it in
    /// [`StoreError::Io`]).
    type Error: IoError;
    /// The device of one share.
    type Io: ShareIo<Error = Self::Error>;

    /// Opens a published share for reading and writing; `None` if there is none.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotAShare`] when something other than a regular file stands there.
    fn open(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> StoreResult<Option<Self::Io>, Self::Error>;

    /// The published shares of a storage index (empty if it is unknown).
    fn list(&mut self, si: &StorageIndex) -> StoreResult<ShareSet, Self::Error>;

    /// Creates an empty incoming share, exclusively.
    ///
    /// Nothing of an incoming share has to survive a crash (the server discards at startup
    /// every incoming share it does not resume), so a store may make the device's
    /// [`ShareIo::sync`] do nothing here, provided that [`Self::publish`] makes the share
    /// durable before its name, and [`Self::put_upload_record`] makes the share durable
    /// before the record (`FsStore` does this, saving every sync of an upload but the
    /// publish's).
    ///
    /// # Errors
    ///
    /// [`StoreError::AlreadyExists`] when an incoming or published share exists.
    fn create_incoming(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> StoreResult<Self::Io, Self::Error>;

    /// Opens an incoming share (after a restart, to resume an upload).
    fn open_incoming(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> StoreResult<Option<Self::Io>, Self::Error>;

    /// The incoming shares of a storage index.
    fn list_incoming(&mut self, si: &StorageIndex) -> StoreResult<ShareSet, Self::Error>;

    /// Makes an incoming share published, atomically and durably (per the store's
    /// durability), and deletes its upload record. Never replaces a published share.
    ///
    /// # Errors
    ///
    /// [`StoreError::AlreadyExists`] when a published share exists;
    /// [`StoreError::NoSuchShare`] when there is no such incoming share.
    fn publish(&mut self, si: &StorageIndex, shnum: ShareNumber) -> StoreResult<(), Self::Error>;

    /// Deletes an incoming share and its upload record, if any. The record's removal must
    /// be durable when this returns (a crash must not let an aborted upload be resumed);
    /// the share's need not be, since an incoming share without a record is discarded at
    /// startup.
    fn abort(&mut self, si: &StorageIndex, shnum: ShareNumber) -> StoreResult<(), Self::Error>;

    /// Deletes a published share (and its storage index's directory once empty).
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchShare`] when there is none.
    fn remove(&mut self, si: &StorageIndex, shnum: ShareNumber) -> StoreResult<(), Self::Error>;

    /// Saves the upload record of an incoming share (the state of a resumable upload),
    /// replacing the previous one atomically: after a crash, either record is found whole.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchShare`] when there is no such incoming share.
    fn put_upload_record(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
        record: &[u8],
    ) -> StoreResult<(), Self::Error>;

    /// Reads the upload record of an incoming share into `buf`; returns its length, or
    /// `None` when there is none.
    ///
    /// # Errors
    ///
    /// [`StoreError::BufferTooSmall`] when the record does not fit in `buf`.
    fn get_upload_record(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
        buf: &mut [u8],
    ) -> StoreResult<Option<usize>, Self::Error>;

    /// Bytes free for shares; `None` when the store cannot tell.
    fn available_space(&mut self) -> StoreResult<Option<u64>, Self::Error>;

    /// Stores a corruption advisory under `name` (Tahoe's file naming), never replacing
    /// one.
    ///
    /// # Errors
    ///
    /// [`StoreError::AlreadyExists`] when an advisory of that name exists.
    fn write_advisory(&mut self, name: &str, body: &[u8]) -> StoreResult<(), Self::Error>;

    /// Visits every storage index with published shares, in ascending order of their
    /// base32 names; stop early by returning `false`.
    fn for_each_storage_index(
        &mut self,
        f: &mut dyn FnMut(StorageIndex) -> bool,
    ) -> StoreResult<(), Self::Error>;

    /// Visits every incoming share.
    fn for_each_incoming(
        &mut self,
        f: &mut dyn FnMut(StorageIndex, ShareNumber) -> bool,
    ) -> StoreResult<(), Self::Error>;

    /// Whether the store refuses every change (opened read-only, e.g.
    /// `FsStore::open_read_only`). A server over it changes nothing: it leaves
    /// `incoming/` alone at startup and answers every write with
    /// [`crate::Error::ReadOnly`]. The default is `false`.
    fn is_read_only(&self) -> bool {
        false
    }

    /// Whether the writer before this one stopped without closing the store (it crashed,
    /// was killed, or the machine lost power), so that shares may hold an interrupted
    /// update that Tahoe's own classes cannot read as the old or the new share.
    /// [`crate::server::Server::new`] then recovers every share before anything reads it.
    /// The default is `false` (a store that cannot tell, or whose updates are atomic).
    fn previous_writer_interrupted(&self) -> bool {
        false
    }

    /// Whether `err`, an error of this store or of one of its devices, means the storage
    /// is full (a filesystem's ENOSPC or EDQUOT). The server reports such errors as
    /// [`crate::Error::NoSpace`] (embedded-io's error kinds have no such kind). The
    /// default is `false`.
    fn is_no_space(_err: &Self::Error) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::Durability;

    #[test]
    // The old name is what is tested.
    #[allow(deprecated)]
    fn the_old_name_of_no_sync_still_names_it() {
        assert_eq!(Durability::Tahoe, Durability::NoSync);
        assert_ne!(Durability::default(), Durability::NoSync);
    }
}

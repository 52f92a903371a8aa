//! The storage server (feature `alloc`): the semantics of Tahoe-LAFS 1.20's
//! `StorageServer`, `BucketWriter` and `BucketReader`, and what the Great Black Swamp
//! (GBS) protocol needs, as one synchronous, clock-free API over any [`ShareStore`].
//!
//! Time is an argument (`now`, seconds since the epoch) and storage is the store: the
//! server owns no clock, thread, path or socket. Front ends (Foolscap, HTTP, the C and
//! Python bindings) call it; it never calls them back.
//!
//! Where Tahoe 1.20 is right its behaviour is reproduced exactly, down to the bytes of
//! every share. Where Tahoe 1.20 has a known bug (its crash windows are listed in
//! `docs/format.md` §6; others are Tahoe tickets named where they apply), the fix is
//! described on the method. Improvements that a Tahoe client could notice are settings of
//! [`Config`] whose defaults are Tahoe's behaviour.
//!
//! ```
//! use tahoe_shares::server::{AllocateRequest, Config, Server};
//! use tahoe_shares::store::MemStore;
//! use tahoe_shares::{CancelSecret, NodeId, RenewSecret, ShareNumber, ShareSet, StorageIndex, UploadSecret};
//!
//! let now = 1_700_000_000;
//! let mut server = Server::new(MemStore::new(), NodeId([7; 20]), Config::default(), now)?;
//! let si = StorageIndex::new([1; 16]);
//! let secret = UploadSecret::new(b"upload secret").unwrap();
//! let alloc = server.allocate_buckets(
//!     &AllocateRequest {
//!         storage_index: si,
//!         renew_secret: RenewSecret::new([2; 32]),
//!         cancel_secret: CancelSecret::new([3; 32]),
//!         share_numbers: [ShareNumber(0)].into_iter().collect(),
//!         allocated_size: 5,
//!         owner_num: 0,
//!         renew_leases: true,
//!         upload_secret: secret.clone(),
//!     },
//!     now,
//! )?;
//! assert!(alloc.allocated.contains(ShareNumber(0)));
//! assert!(server.write(&si, ShareNumber(0), &secret, 0, b"hello", now)?);
//! server.close(&si, ShareNumber(0), &secret)?;
//! let reader = server.open_bucket(&si, ShareNumber(0))?;
//! assert_eq!(server.read_bucket_vec(&reader, 0, 100)?, b"hello");
//! # Ok::<(), tahoe_shares::Error<tahoe_shares::io::MemError>>(())
//! ```

mod advisories;
mod config;
mod leases;
mod mutable;
mod ranges;
mod reader;
mod recovery;
pub mod time;
mod types;
mod upload;

use alloc::collections::BTreeMap;

pub use config::Config;
pub use mutable::{ReadResults, SlotSecrets, SlotWrite, TestWriteOutcome};
pub use ranges::RangeSet;
pub use reader::BucketReader;
pub use recovery::Recovery;
pub use types::{AdviseOutcome, AllocateRequest, Allocation, LeaseUpdate, ShareStat, VersionInfo};
pub use upload::{UploadInfo, UPLOAD_RECORD_VERSION};

use crate::container::{ContainerError, ImmutableContainer, MutableContainer, NewLease};
use crate::error::{Error, Result};
use crate::format::mutable::MAX_MUTABLE_SHARE_SIZE;
use crate::format::{sniff, ShareKind, SNIFF_SIZE};
use crate::io::ShareIo;
use crate::store::ShareStore;
use crate::types::{CancelSecret, NodeId, RenewSecret, ShareNumber, StorageIndex};

use self::upload::Upload;

/// An opened share of either kind.
pub(crate) enum AnyShare<IO> {
    Immutable(ImmutableContainer<IO>),
    Mutable(MutableContainer<IO>),
}

/// Reads a device's first bytes and tells its kind.
fn sniff_io<IO: ShareIo>(io: &mut IO) -> Result<Option<ShareKind>, IO::Error> {
    let len = io.len().map_err(Error::Io)?;
    let mut start = [0u8; SNIFF_SIZE];
    let n = len.min(SNIFF_SIZE as u64) as usize;
    let head = start.get_mut(..n).ok_or(Error::Bug("sniff size"))?;
    io.read_at(0, head).map_err(Error::Io)?;
    Ok(sniff(head))
}

/// A Tahoe storage server over a share store.
pub struct Server<S: ShareStore> {
    store: S,
    nodeid: NodeId,
    config: Config,
    uploads: BTreeMap<(StorageIndex, ShareNumber), Upload<S::Io>>,
    /// What the startup recovered, if it had to.
    startup_recovery: Option<Recovery>,
}

impl<S: ShareStore> core::fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("nodeid", &self.nodeid)
            .field("config", &self.config)
            .field("uploads", &self.uploads.len())
            .finish_non_exhaustive()
    }
}

impl<S: ShareStore> Server<S> {
    /// Starts a server over `store`. When the store's previous writer was interrupted
    /// ([`ShareStore::previous_writer_interrupted`]: a crash, a kill, a power loss), every
    /// share is recovered first ([`Server::recover_interrupted`]), before anything reads
    /// it. Incoming shares left by an earlier run are discarded (Tahoe's startup), or, with
    /// [`Config::resume_uploads`], resumed from their records; resumed uploads count as
    /// active at `now`. Over a read-only store ([`ShareStore::is_read_only`]) nothing is
    /// changed.
    ///
    /// # Errors
    ///
    /// Store errors while cleaning up.
    pub fn new(store: S, nodeid: NodeId, config: Config, now: u64) -> Result<Self, S::Error> {
        Self::new_with_progress(store, nodeid, config, now, &mut |_| {})
    }

    /// As [`Server::new`], calling `progress` after each storage index the startup's
    /// recovery visits (when there is one: [`Server::startup_recovery`]), for an operator
    /// to watch a large store recover.
    ///
    /// # Errors
    ///
    /// As [`Server::new`].
    pub fn new_with_progress(
        store: S,
        nodeid: NodeId,
        config: Config,
        now: u64,
        progress: &mut dyn FnMut(&Recovery),
    ) -> Result<Self, S::Error> {
        let mut server = Self {
            store,
            nodeid,
            config,
            uploads: BTreeMap::new(),
            startup_recovery: None,
        };
        if !server.store.is_read_only() {
            if server.store.previous_writer_interrupted() {
                server.startup_recovery = Some(server.recover_interrupted(progress)?);
            }
            server.recover_incoming(now)?;
        }
        Ok(server)
    }

    /// What the startup recovered, when the store's previous writer was interrupted
    /// ([`ShareStore::previous_writer_interrupted`]); `None` when it was not, and the
    /// startup read no share.
    #[must_use]
    pub fn startup_recovery(&self) -> Option<Recovery> {
        self.startup_recovery
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, for operations the server does not mediate.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Stops the server and gives the store back. Uploads in progress stay in the store
    /// (a new server discards or resumes them).
    pub fn into_store(self) -> S {
        self.store
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This server's node id.
    #[must_use]
    pub fn nodeid(&self) -> NodeId {
        self.nodeid
    }

    /// Refuses a change over a read-only store, before anything is touched.
    fn check_writable(&self) -> Result<(), S::Error> {
        if self.store.is_read_only() {
            Err(Error::ReadOnly)
        } else {
            Ok(())
        }
    }

    /// Runs one operation that changes shares, reporting the store's "storage full" I/O
    /// errors (ENOSPC, EDQUOT: [`ShareStore::is_no_space`]) as [`Error::NoSpace`],
    /// whichever step of `op` met them (a store call or a share's device). Inside `op`,
    /// the raw I/O error is still seen, for the recovery it calls for.
    pub(crate) fn full_as_no_space<T>(
        &mut self,
        op: impl FnOnce(&mut Self) -> Result<T, S::Error>,
    ) -> Result<T, S::Error> {
        match op(self) {
            Err(Error::Io(e)) if S::is_no_space(&e) => Err(Error::NoSpace),
            r => r,
        }
    }

    /// When a lease added or renewed at `now` expires (Tahoe's u32 field, saturated).
    fn expiry(&self, now: u64) -> u32 {
        let expiry = now.saturating_add(u64::from(self.config.lease_duration));
        u32::try_from(expiry).unwrap_or(u32::MAX)
    }

    fn lease_for(
        &self,
        owner_num: u32,
        renew: &RenewSecret,
        cancel: &CancelSecret,
        now: u64,
    ) -> NewLease {
        NewLease {
            owner_num,
            renew: renew.clone(),
            cancel: cancel.clone(),
            expiration_time: self.expiry(now),
            nodeid: self.nodeid,
        }
    }

    // ----- space ---------------------------------------------------------------------

    /// Tahoe's `get_available_space`: the store's free space less the reserved space,
    /// 0 when read-only, `None` when the store cannot tell.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub fn available_space(&mut self) -> Result<Option<u64>, S::Error> {
        if self.config.readonly {
            return Ok(Some(0));
        }
        Ok(self
            .store
            .available_space()?
            .map(|a| a.saturating_sub(self.config.reserved_space)))
    }

    /// Bytes reserved by uploads in progress (Tahoe's `allocated_size`).
    #[must_use]
    pub fn allocated_size(&self) -> u64 {
        self.uploads
            .values()
            .map(|u| u.max_size)
            .fold(0, u64::saturating_add)
    }

    /// The version record.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub fn version(&mut self) -> Result<VersionInfo, S::Error> {
        Ok(VersionInfo {
            available_space: self.available_space()?,
            maximum_mutable_share_size: MAX_MUTABLE_SHARE_SIZE,
            tolerates_immutable_read_overrun: true,
            delete_mutable_shares_with_zero_length_writev: true,
            fills_holes_with_zero_bytes: true,
            prevents_read_past_end_of_share_data: true,
        })
    }

    // ----- opening shares --------------------------------------------------------------

    /// Opens a published share by the kind its header announces. `Ok(None)` when absent.
    ///
    /// A file of neither kind is opened as immutable, which is what Tahoe's `ShareFile`
    /// reports (see [`Server::for_each_lease`] for the cases). Every operation opens shares
    /// this way, so each reports such a file the same way.
    pub(crate) fn open_any(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> Result<Option<AnyShare<S::Io>>, S::Error> {
        let Some(mut io) = self.store.open(si, shnum)? else {
            return Ok(None);
        };
        let named = |e: ContainerError<S::Error>| e.in_share(shnum);
        Ok(match sniff_io(&mut io)? {
            Some(ShareKind::Mutable) => Some(AnyShare::Mutable(
                MutableContainer::open(io).map_err(named)?,
            )),
            Some(ShareKind::Immutable) | None => Some(AnyShare::Immutable(
                ImmutableContainer::open(io).map_err(named)?,
            )),
        })
    }

    fn open_immutable(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> Result<ImmutableContainer<S::Io>, S::Error> {
        let io = self.store.open(si, shnum)?.ok_or(Error::NoSuchShare)?;
        ImmutableContainer::open(io).map_err(|e| e.in_share(shnum))
    }

    pub(crate) fn open_mutable(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> Result<MutableContainer<S::Io>, S::Error> {
        let io = self.store.open(si, shnum)?.ok_or(Error::NoSuchShare)?;
        MutableContainer::open(io).map_err(|e| e.in_share(shnum))
    }
}

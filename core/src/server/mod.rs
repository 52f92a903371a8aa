//! The storage server (feature `alloc`): the semantics of Tahoe-LAFS 1.20's
//! `StorageServer`, `BucketWriter` and `BucketReader`, and what the Great Black Swamp
//! (GBS) protocol needs, as one synchronous, clock-free API over any [`ShareStore`].
//!
//! Time is an argument (`now`, seconds since the epoch) and storage is the store: the
//! server owns no clock, thread, path or socket. Front ends (Foolscap, HTTP, the C and
//! Python bindings) call it; it never calls them back.
//!
//! Where Tahoe 1.20 is right its behaviour is reproduced exactly, down to the bytes of
//! every share. Where reference/tahoe-semantics.md section 7 calls it a bug, the fix is
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

mod mutable;
mod ranges;
pub mod time;
mod upload;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt::Write as _;

pub use mutable::{ReadResults, SlotSecrets, SlotWrite, TestWriteOutcome};
pub use ranges::RangeSet;
pub use upload::{UploadInfo, UPLOAD_RECORD_VERSION};

use crate::container::{ImmutableContainer, MutableContainer, NewLease};
use crate::error::{Error, Limit, Result};
use crate::format::lease::{Lease, DEFAULT_LEASE_DURATION};
use crate::format::mutable::MAX_MUTABLE_SHARE_SIZE;
use crate::format::{sniff, ShareKind, SNIFF_SIZE};
use crate::io::ShareIo;
use crate::store::ShareStore;
use crate::types::{
    CancelSecret, LeaseOp, NodeId, RenewSecret, ShareNumber, ShareSet, StorageIndex,
};

use self::time::{AdvisoryTime, NameBuf};
use self::upload::Upload;

/// The settings of a server. `Config::default()` is Tahoe 1.20's behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
// Each flag is an independent Tahoe setting; an enum would not say more.
#[allow(clippy::struct_excessive_bools)]
pub struct Config {
    /// Bytes of the store's free space never given to shares (Tahoe's `reserved_space`).
    pub reserved_space: u64,
    /// Accept no new immutable shares (Tahoe's `readonly = True`): the available space
    /// reads as 0.
    pub readonly: bool,
    /// Throw away all immutable share data written, publishing zero-filled shares
    /// (Tahoe's `discard_storage`, for testing).
    pub discard_storage: bool,
    /// Seconds a lease lasts from the time it is added or renewed (Tahoe: 31 days).
    pub lease_duration: u32,
    /// Seconds an upload may go without a write before
    /// [`Server::expire_stale_uploads`] aborts it (Tahoe: 30 minutes).
    pub upload_idle_timeout: u64,
    /// Uploads in progress at once; allocations beyond fail with
    /// [`Limit::Uploads`].
    pub max_uploads: usize,
    /// Separate written ranges per upload; a write that would exceed it fails with
    /// [`Limit::RangesPerUpload`] (writing in order never needs more than one).
    pub max_ranges_per_upload: usize,
    /// Bytes of one corruption advisory report; larger ones fail with
    /// [`Limit::AdvisorySize`].
    pub max_advisory_size: usize,
    /// Keep uploads in progress across a restart (each keeps a small record beside its
    /// incoming share). Off, as in Tahoe, a new server discards `incoming/`.
    pub resume_uploads: bool,
    /// Apply read-only mode and the space check to mutable writes too (Tahoe ticket
    /// #390). Off, as in Tahoe 1.20, which accepts mutable writes on a read-only or full
    /// server.
    pub mutable_writes_respect_space: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            reserved_space: 0,
            readonly: false,
            discard_storage: false,
            lease_duration: DEFAULT_LEASE_DURATION,
            upload_idle_timeout: 30 * 60,
            max_uploads: 65_536,
            max_ranges_per_upload: 4096,
            max_advisory_size: 256 * 1024,
            resume_uploads: false,
            mutable_writes_respect_space: false,
        }
    }
}

/// An allocation request (the arguments of Tahoe's `allocate_buckets`).
#[derive(Clone)]
pub struct AllocateRequest {
    /// The storage index.
    pub storage_index: StorageIndex,
    /// The lease renew secret.
    pub renew_secret: RenewSecret,
    /// The lease cancel secret.
    pub cancel_secret: CancelSecret,
    /// The shares the client wants to upload.
    pub share_numbers: ShareSet,
    /// Bytes of each share.
    pub allocated_size: u64,
    /// The lease owner number (Tahoe's front ends pass 0).
    pub owner_num: u32,
    /// Add or renew the lease on shares already held (Foolscap and HTTP always do).
    pub renew_leases: bool,
    /// The secret that authorises writes to and aborts of the new uploads. Foolscap
    /// front ends, which have no such secret, pass a fresh random one per call.
    pub upload_secret: crate::types::UploadSecret,
}

/// What [`Server::allocate_buckets`] granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Allocation {
    /// Every share already held for the storage index (not only those asked for).
    pub already_have: ShareSet,
    /// Shares now being uploaded with this request's upload secret: new ones, and those
    /// of an earlier identical request still in progress (the GBS spec's idempotence).
    pub allocated: ShareSet,
}

/// The version record of `get_version` (Tahoe's
/// `http://allmydata.org/tahoe/protocols/storage/v1` dictionary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// The four flags are Tahoe's wire fields, one for one.
#[allow(clippy::struct_excessive_bools)]
pub struct VersionInfo {
    /// `available-space` and `maximum-immutable-share-size`; `None` when the store
    /// cannot tell, which Tahoe reports as 2^64.
    pub available_space: Option<u64>,
    /// `maximum-mutable-share-size`.
    pub maximum_mutable_share_size: u64,
    /// `tolerates-immutable-read-overrun` (always true).
    pub tolerates_immutable_read_overrun: bool,
    /// `delete-mutable-shares-with-zero-length-writev` (always true).
    pub delete_mutable_shares_with_zero_length_writev: bool,
    /// `fills-holes-with-zero-bytes` (always true).
    pub fills_holes_with_zero_bytes: bool,
    /// `prevents-read-past-end-of-share-data` (always true).
    pub prevents_read_past_end_of_share_data: bool,
}

impl VersionInfo {
    /// `maximum-immutable-share-size` and `available-space` as Tahoe reports them (2^64
    /// when unknown).
    #[must_use]
    pub fn reported_space(&self) -> u128 {
        self.available_space.map_or(1u128 << 64, u128::from)
    }
}

/// Facts about one share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareStat {
    /// The container kind.
    pub kind: ShareKind,
    /// Bytes of share data.
    pub data_length: u64,
    /// Bytes of the whole container.
    pub container_size: u64,
    /// Leases held.
    pub num_leases: u32,
    /// The earliest lease expiry, if any lease.
    pub earliest_expiration: Option<u32>,
    /// The latest lease expiry, if any lease.
    pub latest_expiration: Option<u32>,
    /// What is wrong with a share that opens and reads as Tahoe reads it: an immutable
    /// share cut before the data its header declares
    /// ([`crate::Corruption::TruncatedData`]; see `ImmutableContainer::damage`).
    pub damage: Option<crate::Corruption>,
}

/// What [`Server::advise_corrupt_share`] did with a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdviseOutcome {
    /// The report was stored.
    Recorded,
    /// The share is not held here; nothing was stored (Tahoe #3824).
    NotHeld,
    /// The report is larger than the available space, or the filesystem filled up while
    /// it was written; nothing was stored (Tahoe #3823).
    NoSpace,
}

/// A reader of one immutable share (Tahoe's `BucketReader`): which share, and its data
/// length when it was opened. It holds no device: each [`Server::read_bucket`] opens the
/// share through the store and closes it again, as Tahoe's `BucketReader` opens its file
/// per read, so that any number of readers pins no file descriptor and a share deleted
/// since (by an operator, by lease expiry) is no longer served: its readers then fail with
/// [`Error::NoSuchShare`] (Tahoe's raise `FileNotFoundError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketReader {
    storage_index: StorageIndex,
    share_number: ShareNumber,
    length: u64,
}

impl BucketReader {
    /// The storage index.
    #[must_use]
    pub fn storage_index(&self) -> StorageIndex {
        self.storage_index
    }

    /// The share number.
    #[must_use]
    pub fn share_number(&self) -> ShareNumber {
        self.share_number
    }

    /// Bytes of share data when the reader was opened (Tahoe's `get_length`, which also
    /// answers from what it read at opening).
    #[must_use]
    pub fn length(&self) -> u64 {
        self.length
    }
}

/// An opened share of either kind.
pub(crate) enum AnyShare<IO> {
    Immutable(ImmutableContainer<IO>),
    Mutable(MutableContainer<IO>),
}

/// No share held a lease to renew or cancel: Tahoe's "no such lease to renew".
fn no_shares<E>(op: LeaseOp) -> Error<E> {
    Error::NoSuchLease {
        op,
        share: None,
        kind: None,
        accepted_by: crate::types::AcceptedBy::default(),
    }
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
    /// Starts a server over `store`. Incoming shares left by an earlier run are discarded
    /// (Tahoe's startup), or, with [`Config::resume_uploads`], resumed from their records;
    /// resumed uploads count as active at `now`. Over a read-only store
    /// ([`ShareStore::is_read_only`]) `incoming/` is left alone.
    ///
    /// # Errors
    ///
    /// Store errors while cleaning up.
    pub fn new(store: S, nodeid: NodeId, config: Config, now: u64) -> Result<Self, S::Error> {
        let mut server = Self {
            store,
            nodeid,
            config,
            uploads: BTreeMap::new(),
        };
        if !server.store.is_read_only() {
            server.recover_incoming(now)?;
        }
        Ok(server)
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

    /// Reports the store's "storage full" I/O errors (ENOSPC, EDQUOT:
    /// [`ShareStore::is_no_space`]) as [`Error::NoSpace`].
    pub(crate) fn no_space<T>(r: Result<T, S::Error>) -> Result<T, S::Error> {
        match r {
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
        let named = |e: Error<S::Error>| e.in_share(shnum);
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

    // ----- queries ---------------------------------------------------------------------

    /// The share numbers held for a storage index, of either kind (Tahoe's
    /// `get_shares`, and both `enumerate` queries: Tahoe does not check the kind).
    ///
    /// # Errors
    ///
    /// Store errors.
    pub fn shares(&mut self, si: &StorageIndex) -> Result<ShareSet, S::Error> {
        self.store.list(si)
    }

    /// Opens a reader on one immutable share: checks the share and takes its length,
    /// then closes it again (the reader holds no device; see [`BucketReader`]).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchShare`]; [`Error::UnknownImmutableVersion`] when the share is not
    /// immutable; [`Error::Corrupt`]; store errors.
    pub fn open_bucket(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> Result<BucketReader, S::Error> {
        Ok(BucketReader {
            storage_index: *si,
            share_number: shnum,
            length: self.open_immutable(si, shnum)?.data_length(),
        })
    }

    /// Reads the reader's share at `offset` into `buf`, truncated at the end of the data
    /// (a read starting past the end reads nothing); returns the bytes read. The share is
    /// opened for this read and closed after it.
    ///
    /// Reads are bounded by the length the reader saw at opening, and by the share's
    /// current length. As in Tahoe, a read that can return nothing by that first bound
    /// does not look at the share, so it succeeds even after the share is gone.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchShare`] when the share was deleted since the reader was opened
    /// (Tahoe's reader raises `FileNotFoundError`); as [`Self::open_bucket`] when the file
    /// now there is not an immutable share; device errors. A share cut short reads what
    /// it holds, as in Tahoe ([`Self::stat_share`] reports the damage).
    pub fn read_bucket(
        &mut self,
        reader: &BucketReader,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, S::Error> {
        let n = (buf.len() as u64).min(reader.length.saturating_sub(offset));
        let Some(dst) = buf.get_mut(..usize::try_from(n).unwrap_or(0)) else {
            return Err(Error::Bug("read_bucket bounds"));
        };
        if dst.is_empty() {
            return Ok(0);
        }
        self.open_immutable(&reader.storage_index, reader.share_number)?
            .read_share_data(offset, dst)
    }

    /// Reads up to `length` bytes at `offset` of the reader's share into a new vector,
    /// allocating only what the share held when the reader was opened.
    ///
    /// # Errors
    ///
    /// As [`Self::read_bucket`].
    pub fn read_bucket_vec(
        &mut self,
        reader: &BucketReader,
        offset: u64,
        length: u64,
    ) -> Result<Vec<u8>, S::Error> {
        let n = length.min(reader.length.saturating_sub(offset));
        let mut buf = alloc::vec![0u8; usize::try_from(n).map_err(|_| Error::InvalidArgument("read length"))?];
        let got = self.read_bucket(reader, offset, &mut buf)?;
        buf.truncate(got);
        Ok(buf)
    }

    /// Readers for every share of a storage index (Tahoe's `get_buckets`, which fails as
    /// a whole when one share is not immutable).
    ///
    /// # Errors
    ///
    /// As [`Self::open_bucket`].
    pub fn get_buckets(&mut self, si: &StorageIndex) -> Result<Vec<BucketReader>, S::Error> {
        let set = self.store.list(si)?;
        let mut out = Vec::with_capacity(set.len());
        for n in set.iter() {
            out.push(self.open_bucket(si, n)?);
        }
        Ok(out)
    }

    /// Bytes of data in an immutable share.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchShare`] when absent (Tahoe raises `FileNotFoundError`); as
    /// [`Self::open_bucket`].
    pub fn immutable_share_length(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> Result<u64, S::Error> {
        Ok(self.open_immutable(si, shnum)?.data_length())
    }

    /// Bytes of data in a mutable share.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchShare`] when absent (Tahoe raises `KeyError`);
    /// [`Error::UnknownMutableMagic`] when the share is not mutable; store errors.
    pub fn mutable_share_length(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> Result<u64, S::Error> {
        Ok(self.open_mutable(si, shnum)?.data_length())
    }

    /// Facts about one share of either kind.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchShare`]; container and store errors.
    pub fn stat_share(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> Result<ShareStat, S::Error> {
        let share = self.open_any(si, shnum)?.ok_or(Error::NoSuchShare)?;
        let mut stat = ShareStat {
            kind: ShareKind::Immutable,
            data_length: 0,
            container_size: 0,
            num_leases: 0,
            earliest_expiration: None,
            latest_expiration: None,
            damage: None,
        };
        let mut visit = |_: u32, l: &Lease| {
            stat.num_leases = stat.num_leases.saturating_add(1);
            stat.earliest_expiration = Some(
                stat.earliest_expiration
                    .map_or(l.expiration_time, |e| e.min(l.expiration_time)),
            );
            stat.latest_expiration = Some(
                stat.latest_expiration
                    .map_or(l.expiration_time, |e| e.max(l.expiration_time)),
            );
            true
        };
        let (kind, data_length, size) = match share {
            AnyShare::Immutable(mut c) => {
                c.for_each_lease(&mut visit)?;
                stat.damage = c.damage();
                (
                    ShareKind::Immutable,
                    c.data_length(),
                    c.layout().container_size(),
                )
            }
            AnyShare::Mutable(mut c) => {
                c.for_each_lease(&mut visit)?;
                (ShareKind::Mutable, c.data_length(), c.container_end())
            }
        };
        stat.kind = kind;
        stat.data_length = data_length;
        stat.container_size = size;
        Ok(stat)
    }

    /// Visits every lease on every share of a storage index, with memory independent of
    /// the number of leases; stop early by returning `false`.
    ///
    /// # Errors
    ///
    /// Container and store errors. A share file that is neither kind of container fails
    /// this and every other lease operation as it fails a read: a file of 0 to 3 bytes,
    /// or an immutable header cut short, with [`Error::Corrupt`]
    /// ([`crate::Corruption::TruncatedHeader`]; Tahoe raises `struct.error`); a file whose
    /// first four bytes are neither version 1 or 2 nor a mutable magic (garbage, or a
    /// newer Tahoe's container) with [`Error::UnknownImmutableVersion`], where Tahoe's
    /// lease operations skip it silently. So a damaged share never reads as one without
    /// leases.
    pub fn for_each_lease(
        &mut self,
        si: &StorageIndex,
        mut f: impl FnMut(ShareNumber, ShareKind, &Lease) -> bool,
    ) -> Result<(), S::Error> {
        let mut go_on = true;
        for n in self.store.list(si)?.iter() {
            match self.open_lease_holder(si, n)? {
                Some(AnyShare::Immutable(mut c)) => c.for_each_lease(|_, l| {
                    go_on = f(n, ShareKind::Immutable, l);
                    go_on
                })?,
                Some(AnyShare::Mutable(mut c)) => c.for_each_lease(|_, l| {
                    go_on = f(n, ShareKind::Mutable, l);
                    go_on
                })?,
                None => {}
            }
            if !go_on {
                break;
            }
        }
        Ok(())
    }

    /// Opens a share for a lease operation: as [`Self::open_any`] (Tahoe's
    /// `_iter_share_files` skips files of neither kind; see [`Self::for_each_lease`]).
    fn open_lease_holder(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> Result<Option<AnyShare<S::Io>>, S::Error> {
        self.open_any(si, shnum)
    }

    // ----- leases ----------------------------------------------------------------------

    /// Adds a lease to every share of a storage index, or renews the one whose renew
    /// secret matches, to expire at `now` + the lease duration (Tahoe's `add_lease`;
    /// Foolscap passes owner 1). Returns how many shares now carry the lease; 0 when
    /// there are none (GBS answers 404).
    ///
    /// # Errors
    ///
    /// [`Error::NoSpace`] when a new record does not fit the available space, or the
    /// filesystem is full (shares visited before keep their new lease, as in Tahoe);
    /// [`Error::ReadOnly`] over a read-only store; container and store errors.
    pub fn add_lease(
        &mut self,
        si: &StorageIndex,
        renew: &RenewSecret,
        cancel: &CancelSecret,
        owner_num: u32,
        now: u64,
    ) -> Result<usize, S::Error> {
        self.check_writable()?;
        let r = self.add_lease_unmapped(si, renew, cancel, owner_num, now);
        Self::no_space(r)
    }

    fn add_lease_unmapped(
        &mut self,
        si: &StorageIndex,
        renew: &RenewSecret,
        cancel: &CancelSecret,
        owner_num: u32,
        now: u64,
    ) -> Result<usize, S::Error> {
        let lease = self.lease_for(owner_num, renew, cancel, now);
        let mut count = 0;
        for n in self.store.list(si)?.iter() {
            if let Some(share) = self.open_lease_holder(si, n)? {
                self.add_or_renew_at(si, n, share, &lease)?;
                count += 1;
            }
        }
        Ok(count)
    }

    /// [`Self::add_or_renew`] on share `n` of `si`, recovering the share at once when
    /// the filesystem filled up part-way.
    pub(crate) fn add_or_renew_at(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
        share: AnyShare<S::Io>,
        lease: &NewLease,
    ) -> Result<(), S::Error> {
        let r = self.add_or_renew(share, lease);
        if let Err(e) = &r {
            self.recover_after_no_space(si, n, e);
        }
        r
    }

    /// After the filesystem filled up in the middle of an update of a published share
    /// (a lease record or a journal written in part past its end), reopens the share to
    /// run its recovery now, which removes those bytes: the file is as before the update.
    pub(crate) fn recover_after_no_space(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
        e: &Error<S::Error>,
    ) {
        if !matches!(e, Error::Io(io) if S::is_no_space(io)) {
            return;
        }
        // A mutable container recovers as it opens; an immutable one when asked.
        if let Ok(Some(AnyShare::Immutable(mut c))) = self.open_any(si, n) {
            let _ = c.recover();
        }
    }

    pub(crate) fn add_or_renew(
        &mut self,
        share: AnyShare<S::Io>,
        lease: &NewLease,
    ) -> Result<(), S::Error> {
        let space = self.available_space()?.unwrap_or(u64::MAX);
        match share {
            AnyShare::Immutable(mut c) => {
                match c.renew_lease(&lease.renew, lease.expiration_time, false) {
                    Err(Error::NoSuchLease { .. }) => {
                        if crate::format::lease::IMMUTABLE_LEASE_SIZE as u64 > space {
                            return Err(Error::NoSpace);
                        }
                        c.add_lease(lease)
                    }
                    other => other,
                }
            }
            AnyShare::Mutable(mut c) => c.add_or_renew_lease(space, lease),
        }
    }

    /// Renews the lease whose renew secret matches on every share of a storage index
    /// (Tahoe's `renew_lease`, which never back-dates).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchLease`] when there are no shares, or a share has no matching lease
    /// (shares visited before stay renewed, as in Tahoe); [`Error::ReadOnly`] over a
    /// read-only store; [`Error::NoSpace`] when the filesystem is full; container and
    /// store errors.
    pub fn renew_lease(
        &mut self,
        si: &StorageIndex,
        renew: &RenewSecret,
        now: u64,
    ) -> Result<(), S::Error> {
        self.check_writable()?;
        let r = self.renew_lease_unmapped(si, renew, now);
        Self::no_space(r)
    }

    fn renew_lease_unmapped(
        &mut self,
        si: &StorageIndex,
        renew: &RenewSecret,
        now: u64,
    ) -> Result<(), S::Error> {
        let expiry = self.expiry(now);
        let mut found = false;
        for n in self.store.list(si)?.iter() {
            let renewed = match self.open_lease_holder(si, n)? {
                Some(AnyShare::Immutable(mut c)) => c.renew_lease(renew, expiry, false),
                Some(AnyShare::Mutable(mut c)) => c.renew_lease(renew, expiry, false),
                None => continue,
            };
            renewed.map_err(|e| e.in_share(n))?;
            found = true;
        }
        if found {
            Ok(())
        } else {
            Err(no_shares(LeaseOp::Renew))
        }
    }

    /// Cancels the leases whose cancel secret matches on every share of a storage index;
    /// a share left without leases is deleted (Tahoe's internal `cancel_lease`, used by
    /// the lease expirer; not a client operation). Returns the bytes freed.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchLease`] when no share had a matching lease; [`Error::ReadOnly`]
    /// over a read-only store; [`Error::NoSpace`] when the filesystem is full; container
    /// and store errors.
    pub fn cancel_lease(
        &mut self,
        si: &StorageIndex,
        cancel: &CancelSecret,
    ) -> Result<u64, S::Error> {
        self.check_writable()?;
        let r = self.cancel_lease_unmapped(si, cancel);
        Self::no_space(r)
    }

    fn cancel_lease_unmapped(
        &mut self,
        si: &StorageIndex,
        cancel: &CancelSecret,
    ) -> Result<u64, S::Error> {
        let mut freed = 0u64;
        let mut found = false;
        for n in self.store.list(si)?.iter() {
            let Some(mut share) = self.open_lease_holder(si, n)? else {
                continue;
            };
            // When every lease matches, the share goes in one step: rewriting the lease
            // records first would let a crash leave a published share with no lease,
            // which nothing would ever collect.
            let (mut total, mut matching) = (0u64, 0u64);
            let mut count = |_: u32, l: &Lease| {
                total += 1;
                matching += u64::from(l.secrets.matches_cancel(cancel));
                true
            };
            match &mut share {
                AnyShare::Immutable(c) => c.for_each_lease(&mut count)?,
                AnyShare::Mutable(c) => c.for_each_lease(&mut count)?,
            }
            if matching == 0 {
                continue;
            }
            found = true;
            if matching == total {
                freed = freed.saturating_add(match &share {
                    AnyShare::Immutable(c) => c.layout().container_size(),
                    AnyShare::Mutable(c) => c.container_end(),
                });
                drop(share);
                self.store.remove(si, n)?;
                continue;
            }
            match share {
                AnyShare::Immutable(mut c) => {
                    freed = freed.saturating_add(c.cancel_lease(cancel)?.freed);
                }
                AnyShare::Mutable(mut c) => {
                    c.cancel_lease(cancel)?;
                }
            }
        }
        if found {
            Ok(freed)
        } else {
            Err(no_shares(LeaseOp::Cancel))
        }
    }

    // ----- advisories ------------------------------------------------------------------

    /// Records a client's report that a share is corrupt, in Tahoe's text format, named
    /// `<ISO-8601 UTC time without colons>--<storage index>-<share number>` (a `.N`
    /// suffix is added if that name is taken; Tahoe would overwrite). Both texts must be
    /// UTF-8, as Tahoe decodes them, when the share is held.
    ///
    /// `shnum` is any share number a client may send (Tahoe's wire takes any integer): one
    /// above 255 names no share that can exist, so its report is not held, as Tahoe finds
    /// no such file.
    ///
    /// # Errors
    ///
    /// [`Error::NotUtf8`] for text that is not UTF-8 (the share type is checked first, as
    /// Tahoe decodes it first);
    /// [`Limit::AdvisorySize`] for a report over the configured size; store errors.
    pub fn advise_corrupt_share(
        &mut self,
        share_type: &[u8],
        si: &StorageIndex,
        shnum: impl Into<u64>,
        reason: &[u8],
        now: u64,
    ) -> Result<AdviseOutcome, S::Error> {
        let Ok(shnum) = ShareNumber::from_u64(shnum.into()) else {
            return Ok(AdviseOutcome::NotHeld);
        };
        // Tahoe looks for the share before decoding: a report about a share not held is
        // dropped whatever its text.
        if !self.store.list(si)?.contains(shnum) {
            return Ok(AdviseOutcome::NotHeld);
        }
        let share_type = core::str::from_utf8(share_type).map_err(|error| Error::NotUtf8 {
            field: "share type",
            error,
        })?;
        let reason = core::str::from_utf8(reason).map_err(|error| Error::NotUtf8 {
            field: "reason",
            error,
        })?;
        let si_s = si.to_base32();
        let si_s = si_s.as_str();
        let mut report = alloc::string::String::new();
        let _ = write!(
            report,
            "report: Share Corruption\ntype: {share_type}\nstorage_index: {si_s}\nshare_number: {}\n\n{reason}\n\n",
            shnum.0
        );
        if report.len() > self.config.max_advisory_size {
            return Err(Error::LimitReached(Limit::AdvisorySize));
        }
        if let Some(space) = self.available_space()? {
            if report.len() as u64 > space {
                return Ok(AdviseOutcome::NoSpace);
            }
        }
        for attempt in 0..100u32 {
            let mut name = NameBuf(heapless::String::new());
            let _ = write!(name, "{}--{si_s}-{}", AdvisoryTime(now), shnum.0);
            if attempt > 0 {
                let _ = write!(name, ".{attempt}");
            }
            match self.store.write_advisory(&name.0, report.as_bytes()) {
                Ok(()) => return Ok(AdviseOutcome::Recorded),
                Err(Error::AlreadyExists) => {}
                // A full filesystem drops the report, as too little space does above
                // (the store leaves no partial file).
                Err(Error::Io(e)) if S::is_no_space(&e) => return Ok(AdviseOutcome::NoSpace),
                Err(e) => return Err(e),
            }
        }
        Err(Error::AlreadyExists)
    }
}

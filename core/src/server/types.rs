//! The requests and results of the server's operations that are plain data.

use crate::format::ShareKind;
use crate::types::{CancelSecret, RenewSecret, ShareSet, StorageIndex};

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

/// Whether a mutable write adds or renews the writer's lease on the shares it writes
/// (Tahoe's `renew_leases` argument of `slot_testv_and_readv_and_writev`).
///
/// A yes-or-no choice that will not grow, so it is not `#[non_exhaustive]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseUpdate {
    /// Each share written and still present gets the lease (owner 1) added or renewed
    /// (Tahoe's `renew_leases=True`, what its Foolscap and HTTP front ends pass).
    AddOrRenew,
    /// The leases stay as they are (`renew_leases=False`).
    NoChange,
}

impl From<bool> for LeaseUpdate {
    /// From Tahoe's `renew_leases` flag, as the protocols and bindings carry it.
    fn from(renew_leases: bool) -> Self {
        if renew_leases {
            Self::AddOrRenew
        } else {
            Self::NoChange
        }
    }
}

/// What [`Server::allocate_buckets`](super::Server::allocate_buckets) granted.
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

/// What [`Server::advise_corrupt_share`](super::Server::advise_corrupt_share) did with a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdviseOutcome {
    /// The report was stored.
    Recorded,
    /// The share is not held here; nothing was stored (Tahoe #3824).
    NotHeld,
    /// The report is larger than the available space, or the filesystem filled up while
    /// it was written; nothing was stored (Tahoe #3823).
    NoSpace,
}

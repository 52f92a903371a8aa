//! Plain C structs: identifiers, secrets, share sets, the configuration, and the records
//! the server reports.

use tahoe_shares::format::ShareKind;
use tahoe_shares::server::{AdviseOutcome, Config, ShareStat, UploadInfo, VersionInfo};
use tahoe_shares::types::MAX_STORAGE_INDEX_LEN;
use tahoe_shares::WriteEnabler;
use tahoe_shares::{CancelSecret, NodeId, RenewSecret, ShareNumber, ShareSet, StorageIndex};

use crate::error::{ts_result, Fail};
use crate::ffi::{boundary, boundary_or, out, ref_in, slice_in};

/// The longest storage index, in bytes. Every storage index of Tahoe's protocols is 16
/// bytes; the library accepts 1 to 32 (Tahoe's own test suites use short ones).
pub const TS_STORAGE_INDEX_MAX_LEN: usize = 32;

const _: () = assert!(TS_STORAGE_INDEX_MAX_LEN == MAX_STORAGE_INDEX_LEN);

/// A storage index: the name of one file's shares, `len` bytes (1 to
/// `TS_STORAGE_INDEX_MAX_LEN`; 16 in every Tahoe protocol) held in the first `len` bytes
/// of `bytes`.
///
/// Every function taking one fails with `TS_INVALID_ARGUMENT` when `len` is 0 or above
/// `TS_STORAGE_INDEX_MAX_LEN`, and ignores the bytes past `len`. Every storage index the
/// library hands out (outputs, store callbacks, visitors) has its true length and zeros
/// past it, so two of them are equal exactly when the whole structs are (`memcmp`).
/// `ts_storage_index_from_bytes` fills one from a buffer and its length.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ts_storage_index {
    /// Bytes used in `bytes`: 1 to `TS_STORAGE_INDEX_MAX_LEN`.
    pub len: u8,
    /// The bytes (not base32); those past `len` are ignored.
    pub bytes: [u8; TS_STORAGE_INDEX_MAX_LEN],
}

/// A 32-byte secret: a lease renew or cancel secret, or a slot's write enabler.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ts_secret {
    /// The bytes.
    pub bytes: [u8; 32],
}

/// A storage node id (20 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ts_node_id {
    /// The bytes.
    pub bytes: [u8; 20],
}

/// A set of share numbers 0 to 255: share `n` is bit `n % 64` of `bits[n / 64]`. All zero
/// is the empty set. Build one with `ts_share_set_insert` or by setting bits.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ts_share_set {
    /// The 256 bits.
    pub bits: [u64; 4],
}

/// What is wrong with a storage index of `len` bytes.
pub(crate) fn bad_storage_index_len(len: usize) -> String {
    format!("a storage index is 1 to {TS_STORAGE_INDEX_MAX_LEN} bytes, not {len}")
}

/// The storage index a C caller passed.
///
/// # Errors
///
/// `TS_INVALID_ARGUMENT` for a length of 0 or above `TS_STORAGE_INDEX_MAX_LEN`.
pub(crate) fn storage_index_from(s: &ts_storage_index) -> Result<StorageIndex, Fail> {
    s.bytes
        .get(..usize::from(s.len))
        .filter(|b| !b.is_empty())
        .and_then(|b| StorageIndex::from_slice(b).ok())
        .ok_or_else(|| Fail::invalid(bad_storage_index_len(usize::from(s.len))))
}

/// Exact: the true length, zeros past it.
impl From<StorageIndex> for ts_storage_index {
    fn from(s: StorageIndex) -> Self {
        let src = s.as_bytes();
        let mut bytes = [0u8; TS_STORAGE_INDEX_MAX_LEN];
        for (dst, src) in bytes.iter_mut().zip(src) {
            *dst = *src;
        }
        Self {
            // A storage index holds at most 32 bytes.
            len: u8::try_from(src.len()).unwrap_or(u8::MAX),
            bytes,
        }
    }
}

/// Reads a storage index argument.
///
/// # Errors
///
/// `TS_NULL_PARAMETER`; `TS_INVALID_ARGUMENT` for a bad length.
///
/// # Safety
///
/// `ptr` must be NULL or point to a valid `ts_storage_index`.
pub(crate) unsafe fn storage_index_in(ptr: *const ts_storage_index) -> Result<StorageIndex, Fail> {
    // SAFETY: the caller's guarantee.
    storage_index_from(unsafe { ref_in(ptr)? })
}

/// Fills `*out_storage_index` with the `len` bytes at `bytes`: the true length, zeros
/// past it.
///
/// # Errors
///
/// `TS_INVALID_ARGUMENT` when `len` is 0 or above `TS_STORAGE_INDEX_MAX_LEN` (nothing is
/// written); `TS_NULL_PARAMETER`.
///
/// # Safety
///
/// `bytes` must be NULL or readable for `len` bytes; `out_storage_index` NULL or valid
/// for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_storage_index_from_bytes(
    bytes: *const u8,
    len: usize,
    out_storage_index: *mut ts_storage_index,
) -> ts_result {
    boundary(|| {
        let out_si = out(out_storage_index)?;
        if len == 0 || len > TS_STORAGE_INDEX_MAX_LEN {
            return Err(Fail::invalid(bad_storage_index_len(len)));
        }
        // SAFETY: the caller guarantees `bytes` readable for `len` bytes.
        let bytes = unsafe { slice_in(bytes, len)? };
        let si = StorageIndex::from_slice(bytes)
            .map_err(|_| Fail::invalid(bad_storage_index_len(len)))?;
        // SAFETY: checked by `out`; the caller guarantees it writable.
        unsafe { out_si.write(si.into()) };
        Ok(())
    })
}

impl From<ts_node_id> for NodeId {
    fn from(n: ts_node_id) -> Self {
        Self(n.bytes)
    }
}

impl From<NodeId> for ts_node_id {
    fn from(n: NodeId) -> Self {
        Self { bytes: n.0 }
    }
}

impl ts_secret {
    /// As a renew secret.
    pub(crate) fn renew(self) -> RenewSecret {
        RenewSecret::new(self.bytes)
    }
    /// As a cancel secret.
    pub(crate) fn cancel(self) -> CancelSecret {
        CancelSecret::new(self.bytes)
    }
    /// As a write enabler.
    pub(crate) fn write_enabler(self) -> WriteEnabler {
        WriteEnabler::new(self.bytes)
    }
}

impl From<ts_share_set> for ShareSet {
    fn from(s: ts_share_set) -> Self {
        (0..=255u8)
            .filter(|n| s.bits[usize::from(n / 64)] & (1 << (n % 64)) != 0)
            .map(ShareNumber)
            .collect()
    }
}

impl From<ShareSet> for ts_share_set {
    fn from(s: ShareSet) -> Self {
        let mut out = Self::default();
        for n in s.iter() {
            out.bits[usize::from(n.0 / 64)] |= 1 << (n.0 % 64);
        }
        out
    }
}

/// A share number from C.
///
/// # Errors
///
/// `TS_INVALID_ARGUMENT` above 255.
pub(crate) fn share_number(n: u32) -> Result<ShareNumber, Fail> {
    u8::try_from(n)
        .map(ShareNumber)
        .map_err(|_| Fail::invalid(format!("share number {n} is not 0 to 255")))
}

/// Adds share number `share_number` to `*set`.
///
/// # Errors
///
/// `TS_INVALID_ARGUMENT` when `share_number` is above 255 (the set is unchanged);
/// `TS_NULL_PARAMETER`.
///
/// # Safety
///
/// `set` must be NULL or point to a `ts_share_set` this thread may modify.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_share_set_insert(
    set: *mut ts_share_set,
    share_number: u32,
) -> ts_result {
    boundary(|| {
        let set = out(set)?;
        let n = self::share_number(share_number)?;
        // SAFETY: checked non-null and aligned; the caller guarantees it is a valid set
        // this thread may modify.
        let set = unsafe { &mut *set.as_ptr() };
        set.bits[usize::from(n.0 / 64)] |= 1 << (n.0 % 64);
        Ok(())
    })
}

/// Whether `*set` holds `share_number` (false for NULL and for numbers above 255).
///
/// # Safety
///
/// `set` must be NULL or point to a valid `ts_share_set`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_share_set_contains(
    set: *const ts_share_set,
    share_number: u32,
) -> bool {
    boundary_or(false, || {
        // SAFETY: the caller guarantees NULL or a valid set.
        let Ok(set) = (unsafe { ref_in(set) }) else {
            return false;
        };
        u8::try_from(share_number)
            .is_ok_and(|n| set.bits[usize::from(n / 64)] & (1 << (n % 64)) != 0)
    })
}

/// The number of shares in `*set` (0 for NULL).
///
/// # Safety
///
/// `set` must be NULL or point to a valid `ts_share_set`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_share_set_count(set: *const ts_share_set) -> u32 {
    boundary_or(0, || {
        // SAFETY: the caller guarantees NULL or a valid set.
        unsafe { ref_in(set) }.map_or(0, |s| s.bits.iter().map(|w| w.count_ones()).sum())
    })
}

/// The settings of a server. Fill one with `ts_config_default` (Tahoe 1.20's behaviour),
/// then change fields. New fields are only ever added in a new major version.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ts_config {
    /// Bytes of the store's free space never given to shares (Tahoe's `reserved_space`).
    pub reserved_space: u64,
    /// Accept no new immutable shares (Tahoe's `readonly`): the available space reads 0.
    pub readonly: bool,
    /// Throw away all immutable share data written, publishing zero-filled shares
    /// (Tahoe's `discard_storage`, for testing).
    pub discard_storage: bool,
    /// Seconds a lease lasts from when it is added or renewed (Tahoe: 31 days).
    pub lease_duration: u32,
    /// Seconds an upload may go without a write before `ts_server_expire_stale_uploads`
    /// aborts it (Tahoe: 30 minutes).
    pub upload_idle_timeout: u64,
    /// Uploads in progress at once; allocations beyond fail with `TS_LIMIT_UPLOADS`.
    pub max_uploads: usize,
    /// Separate written ranges per upload; a write beyond fails with
    /// `TS_LIMIT_RANGES_PER_UPLOAD` (writing in order never needs more than one).
    pub max_ranges_per_upload: usize,
    /// Bytes of one corruption advisory; larger ones fail with `TS_LIMIT_ADVISORY_SIZE`.
    pub max_advisory_size: usize,
    /// Keep uploads in progress across a restart (a small record beside each incoming
    /// share). Off, as in Tahoe, a new server discards the incoming shares.
    pub resume_uploads: bool,
    /// Apply read-only mode and the space check to mutable writes too (Tahoe ticket #390).
    /// Off, as in Tahoe 1.20.
    pub mutable_writes_respect_space: bool,
}

/// Both conversions between `ts_config` and the core's `Config`, from one list of the
/// fields they share. A `ts_config` field left out fails to compile; a `Config` field
/// left out keeps its default (the core's defaults are Tahoe's behaviour).
macro_rules! config_fields {
    ($($field:ident),* $(,)?) => {
        impl From<&ts_config> for Config {
            fn from(c: &ts_config) -> Self {
                let mut config = Config::default();
                $(config.$field = c.$field;)*
                config
            }
        }

        impl From<&Config> for ts_config {
            fn from(c: &Config) -> Self {
                Self { $($field: c.$field),* }
            }
        }
    };
}

config_fields!(
    reserved_space,
    readonly,
    discard_storage,
    lease_duration,
    upload_idle_timeout,
    max_uploads,
    max_ranges_per_upload,
    max_advisory_size,
    resume_uploads,
    mutable_writes_respect_space,
);

/// Fills `*out_config` with the defaults: Tahoe 1.20's behaviour.
///
/// # Safety
///
/// `out_config` must be NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_config_default(out_config: *mut ts_config) -> ts_result {
    boundary(|| {
        let out_config = out(out_config)?;
        // SAFETY: checked by `out`; the caller guarantees it writable.
        unsafe { out_config.write(ts_config::from(&Config::default())) };
        Ok(())
    })
}

/// The kind of a share container.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ts_share_kind {
    /// An immutable container (Tahoe's `ShareFile`).
    TS_SHARE_IMMUTABLE = 1,
    /// A mutable container (Tahoe's `MutableShareFile`).
    TS_SHARE_MUTABLE = 2,
}

impl From<ShareKind> for ts_share_kind {
    fn from(k: ShareKind) -> Self {
        match k {
            ShareKind::Mutable => Self::TS_SHARE_MUTABLE,
            ShareKind::Immutable => Self::TS_SHARE_IMMUTABLE,
        }
    }
}

/// Facts about one share (`ts_server_stat_share`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ts_share_stat {
    /// The container kind.
    pub kind: ts_share_kind,
    /// Bytes of share data.
    pub data_length: u64,
    /// Bytes of the whole container.
    pub container_size: u64,
    /// Leases held.
    pub num_leases: u32,
    /// The earliest lease expiry (seconds since the epoch); 0 without leases.
    pub earliest_expiration: u32,
    /// The latest lease expiry; 0 without leases.
    pub latest_expiration: u32,
}

impl From<ShareStat> for ts_share_stat {
    fn from(s: ShareStat) -> Self {
        Self {
            kind: s.kind.into(),
            data_length: s.data_length,
            container_size: s.container_size,
            num_leases: s.num_leases,
            earliest_expiration: s.earliest_expiration.unwrap_or(0),
            latest_expiration: s.latest_expiration.unwrap_or(0),
        }
    }
}

/// The version record of Tahoe's `get_version` (`ts_server_version`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// The flags are Tahoe's wire fields, one for one.
#[allow(clippy::struct_excessive_bools)]
pub struct ts_version_info {
    /// Whether the store could tell its free space. When false, Tahoe reports 2^64 as
    /// `available-space` and `maximum-immutable-share-size`.
    pub available_space_known: bool,
    /// `available-space` and `maximum-immutable-share-size` (when known).
    pub available_space: u64,
    /// `maximum-mutable-share-size`.
    pub maximum_mutable_share_size: u64,
    /// `tolerates-immutable-read-overrun`.
    pub tolerates_immutable_read_overrun: bool,
    /// `delete-mutable-shares-with-zero-length-writev`.
    pub delete_mutable_shares_with_zero_length_writev: bool,
    /// `fills-holes-with-zero-bytes`.
    pub fills_holes_with_zero_bytes: bool,
    /// `prevents-read-past-end-of-share-data`.
    pub prevents_read_past_end_of_share_data: bool,
}

impl From<VersionInfo> for ts_version_info {
    fn from(v: VersionInfo) -> Self {
        Self {
            available_space_known: v.available_space.is_some(),
            available_space: v.available_space.unwrap_or(0),
            maximum_mutable_share_size: v.maximum_mutable_share_size,
            tolerates_immutable_read_overrun: v.tolerates_immutable_read_overrun,
            delete_mutable_shares_with_zero_length_writev: v
                .delete_mutable_shares_with_zero_length_writev,
            fills_holes_with_zero_bytes: v.fills_holes_with_zero_bytes,
            prevents_read_past_end_of_share_data: v.prevents_read_past_end_of_share_data,
        }
    }
}

/// What `ts_server_advise_corrupt_share` did with a report.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ts_advise_outcome {
    /// The report was stored.
    TS_ADVISE_RECORDED = 0,
    /// The share is not held here; nothing was stored (Tahoe #3824).
    TS_ADVISE_NOT_HELD = 1,
    /// The report is larger than the available space; nothing was stored (Tahoe #3823).
    TS_ADVISE_NO_SPACE = 2,
}

impl TryFrom<AdviseOutcome> for ts_advise_outcome {
    type Error = ts_result;

    /// `TS_BUG` for an outcome the core added and this mapping does not know yet.
    fn try_from(a: AdviseOutcome) -> Result<Self, ts_result> {
        Ok(match a {
            AdviseOutcome::Recorded => Self::TS_ADVISE_RECORDED,
            AdviseOutcome::NotHeld => Self::TS_ADVISE_NOT_HELD,
            AdviseOutcome::NoSpace => Self::TS_ADVISE_NO_SPACE,
            _ => return Err(ts_result::TS_BUG),
        })
    }
}

/// An upload in progress (`ts_server_uploads`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ts_upload_info {
    /// The storage index.
    pub storage_index: ts_storage_index,
    /// The share number.
    pub share_number: u32,
    /// Bytes allocated.
    pub allocated_size: u64,
    /// Bytes written so far (overlaps counted once).
    pub written: u64,
    /// When it was last written, allocated or resumed (seconds since the epoch).
    pub last_activity: u64,
}

impl From<UploadInfo> for ts_upload_info {
    fn from(u: UploadInfo) -> Self {
        Self {
            storage_index: u.storage_index.into(),
            share_number: u32::from(u.share_number.0),
            allocated_size: u.allocated_size,
            written: u.written,
            last_activity: u.last_activity,
        }
    }
}

/// A byte range `[start, end)`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ts_range {
    /// The first byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field names a derived `Debug` shows, in order.
    fn field_names(debug: &str) -> Vec<String> {
        let body = debug
            .split_once('{')
            .map_or("", |(_, b)| b.trim_end_matches('}'));
        body.split(", ")
            .filter_map(|f| f.split_once(':').map(|(name, _)| name.trim().to_owned()))
            .collect()
    }

    /// `Config` is `#[non_exhaustive]`, so no struct literal here fails to compile when
    /// the core adds a setting: this test does instead, until `ts_config` mirrors it.
    #[test]
    fn ts_config_mirrors_every_core_setting() {
        let core = Config::default();
        let c = ts_config::from(&core);
        let names = field_names(&format!("{core:?}"));
        assert!(names.len() >= 10, "{names:?}");
        assert_eq!(names, field_names(&format!("{c:?}")));
        assert_eq!(Config::from(&c), core);
    }
}

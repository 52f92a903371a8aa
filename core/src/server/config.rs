//! The settings of a server.

use crate::format::lease::DEFAULT_LEASE_DURATION;

/// The settings of a server. `Config::default()` is Tahoe 1.20's behaviour.
///
/// Settings will be added, so other crates cannot build a `Config` with a struct literal:
/// start from [`Config::default()`] and change what differs, with the `with_*` methods or
/// by assigning the public fields.
///
/// ```
/// use tahoe_shares::server::Config;
///
/// let config = Config::default().with_readonly(true).with_reserved_space(1 << 30);
/// assert!(config.readonly);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
// Each flag is an independent Tahoe setting; an enum would not say more.
#[allow(clippy::struct_excessive_bools)]
#[non_exhaustive]
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
    /// [`Server::expire_stale_uploads`](super::Server::expire_stale_uploads) aborts it
    /// (Tahoe: 30 minutes).
    pub upload_idle_timeout: u64,
    /// Uploads in progress at once; allocations beyond fail with
    /// [`Limit::Uploads`](crate::error::Limit::Uploads).
    pub max_uploads: usize,
    /// Separate written ranges per upload; a write that would exceed it fails with
    /// [`Limit::RangesPerUpload`](crate::error::Limit::RangesPerUpload) (writing in order
    /// never needs more than one).
    pub max_ranges_per_upload: usize,
    /// Bytes of one corruption advisory report; larger ones fail with
    /// [`Limit::AdvisorySize`](crate::error::Limit::AdvisorySize).
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

/// Writes one `with_<field>` method per setting: `Config::default().with_readonly(true)`.
macro_rules! with_setters {
    ($($(#[$doc:meta])* $method:ident => $field:ident: $ty:ty;)*) => {
        impl Config {
            $(
                $(#[$doc])*
                #[must_use]
                pub const fn $method(mut self, $field: $ty) -> Self {
                    self.$field = $field;
                    self
                }
            )*
        }
    };
}

with_setters! {
    /// With [`Config::reserved_space`] set.
    with_reserved_space => reserved_space: u64;
    /// With [`Config::readonly`] set.
    with_readonly => readonly: bool;
    /// With [`Config::discard_storage`] set.
    with_discard_storage => discard_storage: bool;
    /// With [`Config::lease_duration`] set.
    with_lease_duration => lease_duration: u32;
    /// With [`Config::upload_idle_timeout`] set.
    with_upload_idle_timeout => upload_idle_timeout: u64;
    /// With [`Config::max_uploads`] set.
    with_max_uploads => max_uploads: usize;
    /// With [`Config::max_ranges_per_upload`] set.
    with_max_ranges_per_upload => max_ranges_per_upload: usize;
    /// With [`Config::max_advisory_size`] set.
    with_max_advisory_size => max_advisory_size: usize;
    /// With [`Config::resume_uploads`] set.
    with_resume_uploads => resume_uploads: bool;
    /// With [`Config::mutable_writes_respect_space`] set.
    with_mutable_writes_respect_space => mutable_writes_respect_space: bool;
}

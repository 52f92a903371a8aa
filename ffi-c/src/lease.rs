//! Leases: add, renew, cancel, enumerate.

use core::ffi::c_void;

use tahoe_shares::format::lease::Lease;
use tahoe_shares::format::ShareKind;
use tahoe_shares::ShareNumber;

use crate::error::ts_result;
use crate::ffi::{boundary, out, ref_in};
use crate::server::{server_ref, ts_server, with_server};
use crate::types::{storage_index_in, ts_node_id, ts_secret, ts_share_kind, ts_storage_index};

/// One lease, as `ts_server_for_each_lease` shows it (its secrets are not shown).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ts_lease {
    /// Tahoe's owner number.
    pub owner_num: u32,
    /// Expiry, seconds since the epoch.
    pub expiration_time: u32,
    /// Whether the secrets are stored hashed (BLAKE2b; container schema 2) rather than in
    /// clear text (schema 1).
    pub hashed_secrets: bool,
    /// Whether `nodeid` is set (leases of mutable shares record the accepting node).
    pub has_nodeid: bool,
    /// The node that accepted the lease, when `has_nodeid`; zeros otherwise.
    pub nodeid: ts_node_id,
}

impl From<&Lease> for ts_lease {
    fn from(l: &Lease) -> Self {
        Self {
            owner_num: l.owner_num,
            expiration_time: l.expiration_time,
            hashed_secrets: l.secrets.is_hashed(),
            has_nodeid: l.nodeid.is_some(),
            nodeid: l.nodeid.unwrap_or_default().into(),
        }
    }
}

/// Adds a lease to every share of a storage index, or renews the one whose renew secret
/// matches, to expire at `now` plus the lease duration (Tahoe's `add_lease`; Foolscap
/// passes owner 1). `*out_count` is how many shares now carry the lease (0 when there are
/// none: GBS answers 404).
///
/// # Errors
///
/// `TS_NO_SPACE` when a new lease record does not fit (shares visited before keep their
/// new lease, as in Tahoe).
///
/// # Safety
///
/// `server` must be a server handle or NULL; the other pointers NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_add_lease(
    server: *mut ts_server,
    storage_index: *const ts_storage_index,
    renew_secret: *const ts_secret,
    cancel_secret: *const ts_secret,
    owner_num: u32,
    now: u64,
    out_count: *mut usize,
) -> ts_result {
    boundary(|| {
        let out_count = out(out_count)?;
        // SAFETY: the caller guarantees valid or NULL pointers and no concurrent free.
        let (shared, si, renew, cancel) = unsafe {
            (
                server_ref(server)?,
                storage_index_in(storage_index)?,
                ref_in(renew_secret)?.renew(),
                ref_in(cancel_secret)?.cancel(),
            )
        };
        let count = with_server!(&mut *shared.lock()?, s => {
            s.add_lease(&si, &renew, &cancel, owner_num, now)
        })?;
        // SAFETY: checked by `out`; the caller guarantees it writable.
        unsafe { out_count.write(count) };
        Ok(())
    })
}

/// Renews the lease whose renew secret matches on every share of a storage index (Tahoe's
/// `renew_lease`, which never moves an expiry earlier).
///
/// # Errors
///
/// `TS_NO_SUCH_LEASE` when there are no shares or a share has no matching lease (shares
/// visited before stay renewed, as in Tahoe).
///
/// # Safety
///
/// As `ts_server_add_lease`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_renew_lease(
    server: *mut ts_server,
    storage_index: *const ts_storage_index,
    renew_secret: *const ts_secret,
    now: u64,
) -> ts_result {
    boundary(|| {
        // SAFETY: as in `ts_server_add_lease`.
        let (shared, si, renew) = unsafe {
            (
                server_ref(server)?,
                storage_index_in(storage_index)?,
                ref_in(renew_secret)?.renew(),
            )
        };
        with_server!(&mut *shared.lock()?, s => s.renew_lease(&si, &renew, now))
    })
}

/// Cancels the leases whose cancel secret matches on every share of a storage index; a
/// share left without leases is deleted (Tahoe's internal `cancel_lease`, used by lease
/// expiry; not a client operation). `*out_freed` is the bytes freed.
///
/// # Errors
///
/// `TS_NO_SUCH_LEASE` when no share had a matching lease.
///
/// # Safety
///
/// As `ts_server_add_lease`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_cancel_lease(
    server: *mut ts_server,
    storage_index: *const ts_storage_index,
    cancel_secret: *const ts_secret,
    out_freed: *mut u64,
) -> ts_result {
    boundary(|| {
        let out_freed = out(out_freed)?;
        // SAFETY: as in `ts_server_add_lease`.
        let (shared, si, cancel) = unsafe {
            (
                server_ref(server)?,
                storage_index_in(storage_index)?,
                ref_in(cancel_secret)?.cancel(),
            )
        };
        let freed = with_server!(&mut *shared.lock()?, s => s.cancel_lease(&si, &cancel))?;
        // SAFETY: checked by `out`; the caller guarantees it writable.
        unsafe { out_freed.write(freed) };
        Ok(())
    })
}

/// Called by `ts_server_for_each_lease` for each lease; return false to stop. `lease` is
/// valid during the call only. It runs while the server is locked: it must not call the
/// server.
pub type ts_lease_visit_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        share_number: u32,
        kind: ts_share_kind,
        lease: *const ts_lease,
    ) -> bool,
>;

/// Visits every lease on every share of a storage index, share by share, with memory
/// independent of their number. Files of neither container kind are skipped, as Tahoe's
/// lease operations skip them.
///
/// # Safety
///
/// As `ts_server_add_lease`; `visit` a function safe to call with `userdata`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_for_each_lease(
    server: *const ts_server,
    storage_index: *const ts_storage_index,
    visit: ts_lease_visit_fn,
    userdata: *mut c_void,
) -> ts_result {
    boundary(|| {
        let visit = visit.ok_or(ts_result::TS_NULL_PARAMETER)?;
        // SAFETY: as in `ts_server_add_lease`.
        let (shared, si) = unsafe { (server_ref(server)?, storage_index_in(storage_index)?) };
        let each = |n: ShareNumber, kind: ShareKind, lease: &Lease| {
            let l = ts_lease::from(lease);
            // SAFETY: the caller guarantees `visit` callable with `userdata`; `l` is a
            // local valid for the call.
            unsafe { visit(userdata, u32::from(n.0), kind.into(), &raw const l) }
        };
        with_server!(&mut *shared.lock()?, s => s.for_each_lease(&si, each))
    })
}

//! Immutable uploads: allocate, write, required ranges, close, abort, idle expiry, and the
//! uploads in progress.

use core::ffi::c_void;

use tahoe_shares::server::AllocateRequest;
use tahoe_shares::UploadSecret;

use crate::error::{ts_result, Fail};
use crate::ffi::{boundary, out, out_buf, ref_in, slice_in, too_small};
use crate::server::{server_ref, ts_server, with_server, AnyServer};
use crate::types::{
    share_number, storage_index_from, storage_index_in, ts_range, ts_secret, ts_share_set,
    ts_storage_index, ts_upload_info,
};

/// The arguments of Tahoe's `allocate_buckets`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ts_allocate_request {
    /// The storage index.
    pub storage_index: ts_storage_index,
    /// The lease renew secret.
    pub renew_secret: ts_secret,
    /// The lease cancel secret.
    pub cancel_secret: ts_secret,
    /// The shares the client wants to upload.
    pub share_numbers: ts_share_set,
    /// Bytes of each share.
    pub allocated_size: u64,
    /// The lease owner number (Tahoe's front ends pass 0).
    pub owner_num: u32,
    /// Add or renew the lease on shares already held (Foolscap and HTTP always do).
    pub renew_leases: bool,
    /// The secret that authorises writes to and aborts of the new uploads: any non-empty
    /// byte string (GBS's `upload-secret`; Foolscap front ends pass fresh random bytes).
    /// Only a digest of it is kept; it is read during the call only.
    pub upload_secret: *const u8,
    /// Bytes of `upload_secret`.
    pub upload_secret_len: usize,
}

/// What `ts_server_allocate_buckets` granted.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ts_allocation {
    /// Every share already held for the storage index (not only those asked for).
    pub already_have: ts_share_set,
    /// Shares now being uploaded with this request's upload secret.
    pub allocated: ts_share_set,
}

/// Reads an upload secret.
///
/// # Safety
///
/// `ptr` must be NULL or valid for `len` bytes.
unsafe fn upload_secret(ptr: *const u8, len: usize) -> Result<UploadSecret, Fail> {
    // SAFETY: the caller's guarantee.
    let bytes = unsafe { slice_in(ptr, len)? };
    UploadSecret::new(bytes).map_err(|_| Fail::invalid("the upload secret is empty"))
}

/// Allocates buckets for an immutable upload (Tahoe's `allocate_buckets`): reports the
/// shares held (adding or renewing the lease on them with `renew_leases`) and starts an
/// upload for each requested share that is neither held nor being uploaded, while the
/// available space covers `allocated_size` (others are skipped silently, as in Tahoe).
/// An identical earlier request still in progress is reported as allocated again.
///
/// # Errors
///
/// `TS_INVALID_ARGUMENT` for an empty upload secret; `TS_UNKNOWN_IMMUTABLE_VERSION` when
/// the storage index holds a mutable share; `TS_NO_SPACE` when a new lease on a held share
/// does not fit; `TS_LIMIT_UPLOADS` (nothing changed).
///
/// # Safety
///
/// `server` must be a server handle or NULL; `request` NULL or valid (with its
/// `upload_secret` valid for `upload_secret_len` bytes); `out_allocation` NULL or valid
/// for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_allocate_buckets(
    server: *mut ts_server,
    request: *const ts_allocate_request,
    now: u64,
    out_allocation: *mut ts_allocation,
) -> ts_result {
    boundary(|| {
        let out_allocation = out(out_allocation)?;
        // SAFETY: the caller guarantees valid or NULL pointers and no concurrent free.
        let (shared, req) = unsafe { (server_ref(server)?, ref_in(request)?) };
        let req = AllocateRequest {
            storage_index: storage_index_from(&req.storage_index)?,
            renew_secret: req.renew_secret.renew(),
            cancel_secret: req.cancel_secret.cancel(),
            share_numbers: req.share_numbers.into(),
            allocated_size: req.allocated_size,
            owner_num: req.owner_num,
            renew_leases: req.renew_leases,
            // SAFETY: the caller guarantees the secret valid for its length.
            upload_secret: unsafe { upload_secret(req.upload_secret, req.upload_secret_len)? },
        };
        let a = with_server!(&mut *shared.lock()?, s => s.allocate_buckets(&req, now))?;
        // SAFETY: checked by `out`; the caller guarantees it writable.
        unsafe {
            out_allocation.write(ts_allocation {
                already_have: a.already_have.into(),
                allocated: a.allocated.into(),
            });
        };
        Ok(())
    })
}

/// Writes share data to an upload (Tahoe's `BucketWriter.write`). `*out_complete` tells
/// whether every byte of the allocation is now written. Bytes overlapping earlier writes
/// must be identical; a write that conflicts or is too large changes nothing.
///
/// # Errors
///
/// `TS_NO_SUCH_UPLOAD`, `TS_BAD_UPLOAD_SECRET`, `TS_DATA_TOO_LARGE`,
/// `TS_CONFLICTING_WRITE`, `TS_LIMIT_RANGES_PER_UPLOAD`, `TS_INVALID_ARGUMENT` (share
/// number, empty secret).
///
/// # Safety
///
/// `server` must be a server handle or NULL; each buffer NULL or valid for its length;
/// `out_complete` NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_write(
    server: *mut ts_server,
    storage_index: *const ts_storage_index,
    share_number: u32,
    upload_secret: *const u8,
    upload_secret_len: usize,
    offset: u64,
    data: *const u8,
    data_len: usize,
    now: u64,
    out_complete: *mut bool,
) -> ts_result {
    boundary(|| {
        let out_complete = out(out_complete)?;
        // SAFETY: the caller guarantees valid or NULL pointers and no concurrent free.
        let (shared, si, secret, data) = unsafe {
            (
                server_ref(server)?,
                storage_index_in(storage_index)?,
                self::upload_secret(upload_secret, upload_secret_len)?,
                slice_in(data, data_len)?,
            )
        };
        let n = self::share_number(share_number)?;
        let complete = with_server!(&mut *shared.lock()?, s => {
            s.write(&si, n, &secret, offset, data, now)
        })?;
        // SAFETY: checked by `out`; the caller guarantees it writable.
        unsafe { out_complete.write(complete) };
        Ok(())
    })
}

/// The ranges of an upload not yet written (Tahoe's `required_ranges()`), in order, into
/// `out_ranges` (room for `out_ranges_len`); `*out_n` is how many.
///
/// # Errors
///
/// `TS_BUFFER_TOO_SMALL` with the number needed in `*out_n`; `TS_NO_SUCH_UPLOAD`,
/// `TS_BAD_UPLOAD_SECRET`.
///
/// # Safety
///
/// As `ts_server_write`; `out_ranges` NULL or writable for `out_ranges_len` ranges.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_required_ranges(
    server: *const ts_server,
    storage_index: *const ts_storage_index,
    share_number: u32,
    upload_secret: *const u8,
    upload_secret_len: usize,
    out_ranges: *mut ts_range,
    out_ranges_len: usize,
    out_n: *mut usize,
) -> ts_result {
    boundary(|| {
        let out_n = out(out_n)?;
        let out_ranges = out_buf(out_ranges, out_ranges_len)?;
        // SAFETY: as in `ts_server_write`.
        let (shared, si, secret) = unsafe {
            (
                server_ref(server)?,
                storage_index_in(storage_index)?,
                self::upload_secret(upload_secret, upload_secret_len)?,
            )
        };
        let n = self::share_number(share_number)?;
        let ranges = with_server!(&mut *shared.lock()?, s => s.required_ranges(&si, n, &secret))?;
        let ranges: Vec<ts_range> = ranges
            .into_iter()
            .map(|r| ts_range {
                start: r.start,
                end: r.end,
            })
            .collect();
        if ranges.len() > out_ranges.len() {
            // SAFETY: checked by `out`; the caller guarantees it writable.
            return unsafe { too_small(out_n, ranges.len()) };
        }
        // SAFETY: the caller guarantees the buffer writable for its length.
        unsafe {
            out_ranges.fill(&ranges)?;
            out_n.write(ranges.len());
        }
        Ok(())
    })
}

/// Finishes an upload (Tahoe's `BucketWriter.close`): the share is synced and published
/// atomically; `*out_size` is the size of the published container. As in Tahoe,
/// completeness is not checked (unwritten bytes read as zeros).
///
/// # Errors
///
/// `TS_NO_SUCH_UPLOAD`, `TS_BAD_UPLOAD_SECRET`, storage errors (the upload then stays in
/// progress: retry, or abort it).
///
/// # Safety
///
/// As `ts_server_write`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_close(
    server: *mut ts_server,
    storage_index: *const ts_storage_index,
    share_number: u32,
    upload_secret: *const u8,
    upload_secret_len: usize,
    out_size: *mut u64,
) -> ts_result {
    boundary(|| {
        let out_size = out(out_size)?;
        // SAFETY: as in `ts_server_write`.
        let (shared, si, secret) = unsafe {
            (
                server_ref(server)?,
                storage_index_in(storage_index)?,
                self::upload_secret(upload_secret, upload_secret_len)?,
            )
        };
        let n = self::share_number(share_number)?;
        let size = with_server!(&mut *shared.lock()?, s => s.close(&si, n, &secret))?;
        // SAFETY: checked by `out`; the caller guarantees it writable.
        unsafe { out_size.write(size) };
        Ok(())
    })
}

/// Abandons an upload (Tahoe's `BucketWriter.abort`): the incoming share is deleted.
///
/// # Errors
///
/// `TS_NO_SUCH_UPLOAD`, `TS_BAD_UPLOAD_SECRET`.
///
/// # Safety
///
/// As `ts_server_write`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_abort(
    server: *mut ts_server,
    storage_index: *const ts_storage_index,
    share_number: u32,
    upload_secret: *const u8,
    upload_secret_len: usize,
) -> ts_result {
    boundary(|| {
        // SAFETY: as in `ts_server_write`.
        let (shared, si, secret) = unsafe {
            (
                server_ref(server)?,
                storage_index_in(storage_index)?,
                self::upload_secret(upload_secret, upload_secret_len)?,
            )
        };
        let n = self::share_number(share_number)?;
        with_server!(&mut *shared.lock()?, s => s.abort(&si, n, &secret))
    })
}

/// Called for each upload `ts_server_expire_stale_uploads` aborts. It runs while the
/// server is locked: it must not call the server.
pub type ts_expired_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        storage_index: *const ts_storage_index,
        share_number: u32,
    ),
>;

/// Aborts every upload idle for at least `upload_idle_timeout` seconds at `now` (Tahoe's
/// 30-minute timer, driven by the caller's clock), calling `on_expired` (may be NULL) with
/// `userdata` for each; `*out_count` is how many.
///
/// # Errors
///
/// Storage errors (uploads handled before the failure stay aborted).
///
/// # Safety
///
/// As `ts_server_write`; `on_expired` NULL or a function safe to call with `userdata`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_expire_stale_uploads(
    server: *mut ts_server,
    now: u64,
    on_expired: ts_expired_fn,
    userdata: *mut c_void,
    out_count: *mut usize,
) -> ts_result {
    boundary(|| {
        let out_count = out(out_count)?;
        // SAFETY: as in `ts_server_write`.
        let shared = unsafe { server_ref(server)? };
        let notify = |si: tahoe_shares::StorageIndex, n: tahoe_shares::ShareNumber| {
            if let Some(f) = on_expired {
                let si = ts_storage_index::from(si);
                // SAFETY: the caller guarantees `on_expired` callable with `userdata`; the
                // storage index is a local valid for the call.
                unsafe { f(userdata, &raw const si, u32::from(n.0)) };
            }
        };
        let count = with_server!(&mut *shared.lock()?, s => s.expire_stale_uploads(now, notify))?;
        // SAFETY: checked by `out`; the caller guarantees it writable.
        unsafe { out_count.write(count) };
        Ok(())
    })
}

/// Whether an upload is in progress for a share.
///
/// # Safety
///
/// As `ts_server_write`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_upload_in_progress(
    server: *const ts_server,
    storage_index: *const ts_storage_index,
    share_number: u32,
    out_in_progress: *mut bool,
) -> ts_result {
    boundary(|| {
        let out_in_progress = out(out_in_progress)?;
        // SAFETY: as in `ts_server_write`.
        let (shared, si) = unsafe { (server_ref(server)?, storage_index_in(storage_index)?) };
        let n = self::share_number(share_number)?;
        let yes = match &*shared.lock()? {
            AnyServer::Fs(s) => s.upload_in_progress(&si, n),
            AnyServer::Callback(s) => s.upload_in_progress(&si, n),
        };
        // SAFETY: checked by `out`; the caller guarantees it writable.
        unsafe { out_in_progress.write(yes) };
        Ok(())
    })
}

/// Called by `ts_server_uploads` for each upload in progress; return false to stop. The
/// record is valid during the call only. It runs while the server is locked: it must not
/// call the server.
pub type ts_upload_visit_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, upload: *const ts_upload_info) -> bool>;

/// Visits the uploads in progress, ordered by storage index and share number.
///
/// # Safety
///
/// As `ts_server_write`; `visit` a function safe to call with `userdata`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_uploads(
    server: *const ts_server,
    visit: ts_upload_visit_fn,
    userdata: *mut c_void,
) -> ts_result {
    boundary(|| {
        let visit = visit.ok_or(ts_result::TS_NULL_PARAMETER)?;
        // SAFETY: as in `ts_server_write`.
        let shared = unsafe { server_ref(server)? };
        let guard = shared.lock()?;
        let mut each = |u: tahoe_shares::server::UploadInfo| {
            let info = ts_upload_info::from(u);
            // SAFETY: the caller guarantees `visit` callable with `userdata`; `info` is a
            // local valid for the call.
            unsafe { visit(userdata, &raw const info) }
        };
        match &*guard {
            AnyServer::Fs(s) => s.uploads().all(&mut each),
            AnyServer::Callback(s) => s.uploads().all(&mut each),
        };
        Ok(())
    })
}

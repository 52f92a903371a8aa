//! A share store written in C: a table of function pointers and a `userdata` pointer,
//! adapted to the core's `ShareStore` and `ShareIo` traits. Everything a callback hands
//! back is checked; an impossible answer becomes an I/O error, never undefined behaviour.

use core::ffi::{c_char, c_int, c_void};
use core::fmt;
use core::panic::AssertUnwindSafe;
use std::panic::catch_unwind;

use tahoe_shares::io::{ErrorKind, ErrorType, IoError, ShareIo};
use tahoe_shares::store::{ShareStore, StoreError, StoreResult};
use tahoe_shares::{ShareNumber, ShareSet, StorageIndex};

use crate::types::{share_number, ts_share_set, ts_storage_index, TS_STORAGE_INDEX_MAX_LEN};

/// What a store callback returns. `TS_CB_OK` is success; any value not listed here is a
/// failure of the storage (for example an `errno`) and reaches the caller of the server
/// function as `TS_IO`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ts_cb_status {
    /// Success.
    TS_CB_OK = 0,
    /// A failure of the storage (any value other than those below means the same).
    TS_CB_ERROR = 1,
    /// There is no such share (or upload record); `open`, `open_incoming` and
    /// `get_upload_record` report absence with it, `publish`, `abort`, `remove` and
    /// `put_upload_record` a missing share, `available_space` that the space is unknown.
    TS_CB_NOT_FOUND = 2,
    /// The share (or advisory name) exists already (`create_incoming`, `publish`,
    /// `write_advisory`).
    TS_CB_EXISTS = 3,
    /// Something that is not a share stands where the share should be.
    TS_CB_NOT_A_SHARE = 4,
    /// `get_upload_record` only: `buf` is too small; `*out_len` is the size needed.
    TS_CB_BUFFER_TOO_SMALL = 5,
    /// The store refuses an argument (for example an advisory name it cannot store).
    TS_CB_INVALID_ARGUMENT = 6,
    /// The storage is full (a filesystem's `ENOSPC` or `EDQUOT`), from any callback that
    /// writes or creates. The server reports `TS_NO_SPACE` (Tahoe's `NoSpace`), gives back
    /// the space an upload reserved, and answers a corruption advisory it could not store
    /// `TS_ADVISE_NO_SPACE`, as it does for a full filesystem.
    TS_CB_NO_SPACE = 7,
}

const OK: c_int = ts_cb_status::TS_CB_OK as c_int;
const NOT_FOUND: c_int = ts_cb_status::TS_CB_NOT_FOUND as c_int;
const EXISTS: c_int = ts_cb_status::TS_CB_EXISTS as c_int;
const NOT_A_SHARE: c_int = ts_cb_status::TS_CB_NOT_A_SHARE as c_int;
const BUFFER_TOO_SMALL: c_int = ts_cb_status::TS_CB_BUFFER_TOO_SMALL as c_int;
const INVALID_ARGUMENT: c_int = ts_cb_status::TS_CB_INVALID_ARGUMENT as c_int;
const NO_SPACE: c_int = ts_cb_status::TS_CB_NO_SPACE as c_int;

/// Opens, creates or opens-incoming a share: on `TS_CB_OK` the callback stores its own
/// handle for the share in `*out_share` (any value, NULL included; the library only passes
/// it back to the `share_*` callbacks and finally to `share_close`).
pub type ts_store_open_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        storage_index: *const ts_storage_index,
        share_number: u32,
        out_share: *mut *mut c_void,
    ) -> c_int,
>;

/// Lists the published (`list`) or incoming (`list_incoming`) shares of a storage index
/// into `*out_shares` (which the library zeroes before the call). An unknown storage index
/// has no shares: return `TS_CB_OK` with an empty set.
pub type ts_store_list_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        storage_index: *const ts_storage_index,
        out_shares: *mut ts_share_set,
    ) -> c_int,
>;

/// Acts on one share: `publish` (make the incoming share published, atomically, never
/// replacing a published one, and delete its upload record), `abort` (delete the incoming
/// share and its upload record) or `remove` (delete the published share).
pub type ts_store_share_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        storage_index: *const ts_storage_index,
        share_number: u32,
    ) -> c_int,
>;

/// Saves the upload record of an incoming share, replacing the previous one atomically.
pub type ts_store_put_record_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        storage_index: *const ts_storage_index,
        share_number: u32,
        record: *const u8,
        record_len: usize,
    ) -> c_int,
>;

/// Reads the upload record of an incoming share into `buf`: `TS_CB_OK` with its length in
/// `*out_len` (at most `buf_len`), `TS_CB_NOT_FOUND` when there is none, or
/// `TS_CB_BUFFER_TOO_SMALL` with the length needed in `*out_len` (more than `buf_len`).
pub type ts_store_get_record_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        storage_index: *const ts_storage_index,
        share_number: u32,
        buf: *mut u8,
        buf_len: usize,
        out_len: *mut usize,
    ) -> c_int,
>;

/// Stores the free space in bytes in `*out_bytes`, or returns `TS_CB_NOT_FOUND` when the
/// store cannot tell.
pub type ts_store_space_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, out_bytes: *mut u64) -> c_int>;

/// Stores a corruption advisory under `name` (UTF-8, not NUL-terminated, no `/`), never
/// replacing one (`TS_CB_EXISTS`).
pub type ts_store_advisory_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        name: *const c_char,
        name_len: usize,
        body: *const u8,
        body_len: usize,
    ) -> c_int,
>;

/// The visitor the library passes to `for_each_storage_index`: call it once per storage
/// index with published shares, with the `visit_ctx` given; stop when it returns false.
/// Call it only during the `for_each_storage_index` call.
pub type ts_visit_storage_index_fn =
    unsafe extern "C" fn(visit_ctx: *mut c_void, storage_index: *const ts_storage_index) -> bool;

/// The visitor the library passes to `for_each_incoming`: call it once per incoming share;
/// stop when it returns false. Call it only during the `for_each_incoming` call.
pub type ts_visit_incoming_fn = unsafe extern "C" fn(
    visit_ctx: *mut c_void,
    storage_index: *const ts_storage_index,
    share_number: u32,
) -> bool;

/// Visits every storage index with published shares (ascending order of their base32
/// names, if the store can).
pub type ts_store_for_each_storage_index_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        visit: ts_visit_storage_index_fn,
        visit_ctx: *mut c_void,
    ) -> c_int,
>;

/// Visits every incoming share (the server does this once, when it starts).
pub type ts_store_for_each_incoming_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        visit: ts_visit_incoming_fn,
        visit_ctx: *mut c_void,
    ) -> c_int,
>;

/// Stores the share's current length in bytes in `*out_len`.
pub type ts_share_len_fn = Option<
    unsafe extern "C" fn(userdata: *mut c_void, share: *mut c_void, out_len: *mut u64) -> c_int,
>;

/// Reads up to `len` bytes at `offset` into `buf` and stores how many in `*out_n` (1 to
/// `len`; the library calls again for the rest). Reading past the end is a failure: the
/// library never asks for bytes beyond the share's length.
pub type ts_share_read_at_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        share: *mut c_void,
        offset: u64,
        buf: *mut u8,
        len: usize,
        out_n: *mut usize,
    ) -> c_int,
>;

/// Writes up to `len` bytes of `data` at `offset`, extending the share (with zeros in any
/// gap) when it ends past the current length, and stores how many in `*out_n` (1 to
/// `len`; the library calls again for the rest).
pub type ts_share_write_at_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        share: *mut c_void,
        offset: u64,
        data: *const u8,
        len: usize,
        out_n: *mut usize,
    ) -> c_int,
>;

/// Truncates or extends (with zeros) the share to `len` bytes.
pub type ts_share_set_len_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, share: *mut c_void, len: u64) -> c_int>;

/// Makes every write and length change before it durable. After a failure the library
/// stops using the share (a retried sync may report success with the data gone).
pub type ts_share_sync_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, share: *mut c_void) -> c_int>;

/// Releases a share handle. Called exactly once for every handle `open`, `create_incoming`
/// or `open_incoming` gave out, when the library is done with it. A handle may outlive the
/// share's name (a share removed while a reader still holds it): keep its bytes until it
/// is closed.
pub type ts_share_close_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, share: *mut c_void)>;

/// A share store implemented in C, for `ts_server_new_callback`. Every field is required.
///
/// Every callback gets the `userdata` given to `ts_server_new_callback` first. Pointer
/// arguments are valid only during the call. A callback returns `TS_CB_OK` or another
/// `ts_cb_status` (any unknown value is a storage failure) and writes its outputs only
/// with `TS_CB_OK` (or as its description says). The library calls the callbacks of one
/// server one at a time, never concurrently, but not always from the same thread: from
/// whichever thread calls the server. A callback must not call back into the same server,
/// nor into a reader of it (those calls fail with `TS_REENTRANT_CALL`), and must not
/// unwind (no C++ exceptions, no `longjmp` out of it).
///
/// The store is Tahoe's share namespace: published shares (visible, listed) and incoming
/// shares (being written), keyed by storage index and share number (0 to 255), plus an
/// upload record per incoming share and the corruption advisories.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ts_store_callbacks {
    /// Opens a published share; `TS_CB_NOT_FOUND` when absent.
    pub open: ts_store_open_fn,
    /// Lists the published shares of a storage index.
    pub list: ts_store_list_fn,
    /// Creates an empty incoming share, exclusively: `TS_CB_EXISTS` when an incoming or a
    /// published share of that number exists.
    pub create_incoming: ts_store_open_fn,
    /// Opens an incoming share (to resume an upload after a restart); `TS_CB_NOT_FOUND`
    /// when absent.
    pub open_incoming: ts_store_open_fn,
    /// Lists the incoming shares of a storage index.
    pub list_incoming: ts_store_list_fn,
    /// Publishes an incoming share: `TS_CB_EXISTS` when a published one exists,
    /// `TS_CB_NOT_FOUND` when there is no such incoming share.
    pub publish: ts_store_share_fn,
    /// Deletes an incoming share and its upload record; `TS_CB_NOT_FOUND` when absent.
    pub abort: ts_store_share_fn,
    /// Deletes a published share; `TS_CB_NOT_FOUND` when absent.
    pub remove: ts_store_share_fn,
    /// Saves an upload record; `TS_CB_NOT_FOUND` when there is no such incoming share.
    pub put_upload_record: ts_store_put_record_fn,
    /// Reads an upload record.
    pub get_upload_record: ts_store_get_record_fn,
    /// Reports the free space.
    pub available_space: ts_store_space_fn,
    /// Stores a corruption advisory.
    pub write_advisory: ts_store_advisory_fn,
    /// Visits the storage indexes with published shares.
    pub for_each_storage_index: ts_store_for_each_storage_index_fn,
    /// Visits the incoming shares.
    pub for_each_incoming: ts_store_for_each_incoming_fn,
    /// The length of a share.
    pub share_len: ts_share_len_fn,
    /// Positional read from a share.
    pub share_read_at: ts_share_read_at_fn,
    /// Positional write to a share.
    pub share_write_at: ts_share_write_at_fn,
    /// Truncates or extends a share.
    pub share_set_len: ts_share_set_len_fn,
    /// Makes a share's writes durable.
    pub share_sync: ts_share_sync_fn,
    /// Releases a share handle.
    pub share_close: ts_share_close_fn,
}

/// Why a callback store failed. Its `Debug` is its `Display` text, so that the message C
/// callers read (`ts_last_error_message`) is the same sentence however the core formats
/// the I/O error inside its own.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CallbackError {
    /// A callback returned a failure status.
    Failed {
        /// The callback's field name in `ts_store_callbacks` (`share_write_at`...).
        callback: &'static str,
        /// The status it returned.
        status: c_int,
    },
    /// A callback reported a length it cannot have (more than its buffer, or more than a
    /// file can hold).
    ImpossibleLength,
    /// `share_read_at` made no progress before the end of the request.
    UnexpectedEof,
    /// `share_write_at` made no progress.
    WriteZero,
    /// A visitor was called with NULL or a share number above 255.
    BadVisit,
    /// A visitor was called with a storage index whose `len` is 0 or above 32.
    BadStorageIndex {
        /// The `len` it had.
        len: u8,
    },
    /// An offset plus a length overflows 64 bits.
    Overflow,
}

impl fmt::Display for CallbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed {
                callback,
                status: NO_SPACE,
            } => {
                write!(f, "store callback {callback} reported no space")
            }
            Self::Failed { callback, status } => {
                write!(f, "store callback {callback} failed with status {status}")
            }
            Self::ImpossibleLength => f.write_str("store callback returned an impossible length"),
            Self::UnexpectedEof => f.write_str("share_read_at made no progress"),
            Self::WriteZero => f.write_str("share_write_at made no progress"),
            Self::BadVisit => f.write_str("visitor called with an invalid argument"),
            Self::BadStorageIndex { len } => write!(
                f,
                "visitor called with a storage index of {len} bytes (1 to \
                 {TS_STORAGE_INDEX_MAX_LEN} accepted)"
            ),
            Self::Overflow => f.write_str("offset overflow"),
        }
    }
}

impl fmt::Debug for CallbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl core::error::Error for CallbackError {}

impl IoError for CallbackError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Failed { .. } => ErrorKind::Other,
            Self::ImpossibleLength
            | Self::BadVisit
            | Self::BadStorageIndex { .. }
            | Self::UnexpectedEof => ErrorKind::InvalidData,
            Self::WriteZero => ErrorKind::WriteZero,
            Self::Overflow => ErrorKind::InvalidInput,
        }
    }
}

/// The validated callbacks: every one present.
#[derive(Clone, Copy)]
struct StoreCallbacks {
    open:
        unsafe extern "C" fn(*mut c_void, *const ts_storage_index, u32, *mut *mut c_void) -> c_int,
    list: unsafe extern "C" fn(*mut c_void, *const ts_storage_index, *mut ts_share_set) -> c_int,
    create_incoming:
        unsafe extern "C" fn(*mut c_void, *const ts_storage_index, u32, *mut *mut c_void) -> c_int,
    open_incoming:
        unsafe extern "C" fn(*mut c_void, *const ts_storage_index, u32, *mut *mut c_void) -> c_int,
    list_incoming:
        unsafe extern "C" fn(*mut c_void, *const ts_storage_index, *mut ts_share_set) -> c_int,
    publish: unsafe extern "C" fn(*mut c_void, *const ts_storage_index, u32) -> c_int,
    abort: unsafe extern "C" fn(*mut c_void, *const ts_storage_index, u32) -> c_int,
    remove: unsafe extern "C" fn(*mut c_void, *const ts_storage_index, u32) -> c_int,
    put_upload_record:
        unsafe extern "C" fn(*mut c_void, *const ts_storage_index, u32, *const u8, usize) -> c_int,
    get_upload_record: unsafe extern "C" fn(
        *mut c_void,
        *const ts_storage_index,
        u32,
        *mut u8,
        usize,
        *mut usize,
    ) -> c_int,
    available_space: unsafe extern "C" fn(*mut c_void, *mut u64) -> c_int,
    write_advisory:
        unsafe extern "C" fn(*mut c_void, *const c_char, usize, *const u8, usize) -> c_int,
    for_each_storage_index:
        unsafe extern "C" fn(*mut c_void, ts_visit_storage_index_fn, *mut c_void) -> c_int,
    for_each_incoming:
        unsafe extern "C" fn(*mut c_void, ts_visit_incoming_fn, *mut c_void) -> c_int,
    io: IoCallbacks,
}

/// The callbacks of one share.
#[derive(Clone, Copy)]
struct IoCallbacks {
    len: unsafe extern "C" fn(*mut c_void, *mut c_void, *mut u64) -> c_int,
    read_at:
        unsafe extern "C" fn(*mut c_void, *mut c_void, u64, *mut u8, usize, *mut usize) -> c_int,
    write_at:
        unsafe extern "C" fn(*mut c_void, *mut c_void, u64, *const u8, usize, *mut usize) -> c_int,
    set_len: unsafe extern "C" fn(*mut c_void, *mut c_void, u64) -> c_int,
    sync: unsafe extern "C" fn(*mut c_void, *mut c_void) -> c_int,
    close: unsafe extern "C" fn(*mut c_void, *mut c_void),
}

impl StoreCallbacks {
    /// Checks that every callback is present.
    fn new(c: &ts_store_callbacks) -> Option<Self> {
        Some(Self {
            open: c.open?,
            list: c.list?,
            create_incoming: c.create_incoming?,
            open_incoming: c.open_incoming?,
            list_incoming: c.list_incoming?,
            publish: c.publish?,
            abort: c.abort?,
            remove: c.remove?,
            put_upload_record: c.put_upload_record?,
            get_upload_record: c.get_upload_record?,
            available_space: c.available_space?,
            write_advisory: c.write_advisory?,
            for_each_storage_index: c.for_each_storage_index?,
            for_each_incoming: c.for_each_incoming?,
            io: IoCallbacks {
                len: c.share_len?,
                read_at: c.share_read_at?,
                write_at: c.share_write_at?,
                set_len: c.share_set_len?,
                sync: c.share_sync?,
                close: c.share_close?,
            },
        })
    }
}

/// Maps a callback status with no special meaning for the operation.
fn check(callback: &'static str, status: c_int) -> StoreResult<(), CallbackError> {
    match status {
        OK => Ok(()),
        NOT_FOUND => Err(StoreError::NoSuchShare),
        EXISTS => Err(StoreError::AlreadyExists),
        NOT_A_SHARE => Err(StoreError::NotAShare),
        INVALID_ARGUMENT => Err(StoreError::InvalidArgument("refused by the store callback")),
        other => Err(StoreError::Io(CallbackError::Failed {
            callback,
            status: other,
        })),
    }
}

/// Maps a status of a share I/O callback: anything but success is a device failure.
fn check_io(callback: &'static str, status: c_int) -> core::result::Result<(), CallbackError> {
    if status == OK {
        Ok(())
    } else {
        Err(CallbackError::Failed { callback, status })
    }
}

/// A share store implemented by C callbacks.
pub(crate) struct CallbackStore {
    cb: StoreCallbacks,
    userdata: *mut c_void,
}

// SAFETY: the contract of `ts_server_new_callback` (in the header) lets the library call
// the callbacks with `userdata` from any thread; the server's mutex makes the calls of one
// server sequential.
unsafe impl Send for CallbackStore {}

impl CallbackStore {
    /// Validates a callback table; `None` when a callback is missing.
    pub(crate) fn new(callbacks: &ts_store_callbacks, userdata: *mut c_void) -> Option<Self> {
        Some(Self {
            cb: StoreCallbacks::new(callbacks)?,
            userdata,
        })
    }

    fn share(&self, handle: *mut c_void) -> CallbackShare {
        CallbackShare {
            cb: self.cb.io,
            userdata: self.userdata,
            handle,
        }
    }

    /// Calls an open-like callback: `Ok(None)` for `TS_CB_NOT_FOUND` when `absent_ok`.
    fn open_with(
        &mut self,
        name: &'static str,
        f: unsafe extern "C" fn(
            *mut c_void,
            *const ts_storage_index,
            u32,
            *mut *mut c_void,
        ) -> c_int,
        si: &StorageIndex,
        shnum: ShareNumber,
        absent_ok: bool,
    ) -> StoreResult<Option<CallbackShare>, CallbackError> {
        let si = ts_storage_index::from(*si);
        let mut handle: *mut c_void = core::ptr::null_mut();
        // SAFETY: `f` comes from the table given to `ts_server_new_callback`, whose
        // contract makes it callable with this userdata; the pointers are to locals valid
        // for the call.
        let status = unsafe {
            f(
                self.userdata,
                &raw const si,
                u32::from(shnum.0),
                &raw mut handle,
            )
        };
        if absent_ok && status == NOT_FOUND {
            return Ok(None);
        }
        check(name, status)?;
        Ok(Some(self.share(handle)))
    }

    fn list_with(
        &mut self,
        name: &'static str,
        f: unsafe extern "C" fn(*mut c_void, *const ts_storage_index, *mut ts_share_set) -> c_int,
        si: &StorageIndex,
    ) -> StoreResult<ShareSet, CallbackError> {
        let si = ts_storage_index::from(*si);
        let mut set = ts_share_set::default();
        // SAFETY: as in `open_with`; every bit pattern of the set is valid.
        let status = unsafe { f(self.userdata, &raw const si, &raw mut set) };
        check(name, status)?;
        Ok(set.into())
    }

    fn share_op(
        &mut self,
        name: &'static str,
        f: unsafe extern "C" fn(*mut c_void, *const ts_storage_index, u32) -> c_int,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> StoreResult<(), CallbackError> {
        let si = ts_storage_index::from(*si);
        // SAFETY: as in `open_with`.
        check(name, unsafe {
            f(self.userdata, &raw const si, u32::from(shnum.0))
        })
    }
}

/// The context of a visitor: the core's closure, and what went wrong.
struct Visit<'a, F: ?Sized> {
    f: &'a mut F,
    /// Why the visit failed (the visitor was called with something invalid, or panicked).
    failure: Option<CallbackError>,
    stopped: bool,
}

type SiVisit<'a> = Visit<'a, dyn FnMut(StorageIndex) -> bool + 'a>;
type IncomingVisit<'a> = Visit<'a, dyn FnMut(StorageIndex, ShareNumber) -> bool + 'a>;

/// The storage index a store callback handed to a visitor.
///
/// # Safety
///
/// `si` must be NULL or valid for this call.
unsafe fn visited_storage_index(
    si: *const ts_storage_index,
) -> core::result::Result<StorageIndex, CallbackError> {
    // SAFETY: the caller's guarantee.
    let si = unsafe { crate::ffi::ref_in(si) }.map_err(|_| CallbackError::BadVisit)?;
    crate::types::storage_index_from(si).map_err(|_| CallbackError::BadStorageIndex { len: si.len })
}

/// The visitor given to `for_each_storage_index`.
unsafe extern "C" fn visit_storage_index(ctx: *mut c_void, si: *const ts_storage_index) -> bool {
    let ctx = ctx.cast::<SiVisit<'_>>();
    let r = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `ctx` is the `Visit` that `for_each_storage_index` passed to the callback
        // together with this function, alive for the whole callback (the contract forbids
        // calling the visitor afterwards).
        let v = unsafe { &mut *ctx };
        if v.failure.is_some() || v.stopped {
            return false;
        }
        // SAFETY: the callback passes NULL or a storage index valid for this call.
        let si = match unsafe { visited_storage_index(si) } {
            Ok(si) => si,
            Err(e) => {
                v.failure = Some(e);
                return false;
            }
        };
        let go_on = (v.f)(si);
        v.stopped = !go_on;
        go_on
    }));
    r.unwrap_or_else(|_| {
        // SAFETY: as above; the closure's borrow ended with the panic.
        unsafe { (*ctx).failure = Some(CallbackError::BadVisit) };
        false
    })
}

/// The visitor given to `for_each_incoming`.
unsafe extern "C" fn visit_incoming(
    ctx: *mut c_void,
    si: *const ts_storage_index,
    shnum: u32,
) -> bool {
    let ctx = ctx.cast::<IncomingVisit<'_>>();
    let r = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as in `visit_storage_index`.
        let v = unsafe { &mut *ctx };
        if v.failure.is_some() || v.stopped {
            return false;
        }
        // SAFETY: the callback passes NULL or a storage index valid for this call.
        let si = unsafe { visited_storage_index(si) };
        let (si, n) = match (si, share_number(shnum)) {
            (Ok(si), Ok(n)) => (si, n),
            (Err(e), _) => {
                v.failure = Some(e);
                return false;
            }
            (Ok(_), Err(_)) => {
                v.failure = Some(CallbackError::BadVisit);
                return false;
            }
        };
        let go_on = (v.f)(si, n);
        v.stopped = !go_on;
        go_on
    }));
    r.unwrap_or_else(|_| {
        // SAFETY: as in `visit_storage_index`.
        unsafe { (*ctx).failure = Some(CallbackError::BadVisit) };
        false
    })
}

impl ShareStore for CallbackStore {
    type Error = CallbackError;
    type Io = CallbackShare;

    fn open(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> StoreResult<Option<CallbackShare>, CallbackError> {
        self.open_with("open", self.cb.open, si, shnum, true)
    }

    fn list(&mut self, si: &StorageIndex) -> StoreResult<ShareSet, CallbackError> {
        self.list_with("list", self.cb.list, si)
    }

    fn create_incoming(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> StoreResult<CallbackShare, CallbackError> {
        self.open_with("create_incoming", self.cb.create_incoming, si, shnum, false)?
            .ok_or(StoreError::Bug("create_incoming"))
    }

    fn open_incoming(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> StoreResult<Option<CallbackShare>, CallbackError> {
        self.open_with("open_incoming", self.cb.open_incoming, si, shnum, true)
    }

    fn list_incoming(&mut self, si: &StorageIndex) -> StoreResult<ShareSet, CallbackError> {
        self.list_with("list_incoming", self.cb.list_incoming, si)
    }

    fn publish(&mut self, si: &StorageIndex, shnum: ShareNumber) -> StoreResult<(), CallbackError> {
        self.share_op("publish", self.cb.publish, si, shnum)
    }

    fn abort(&mut self, si: &StorageIndex, shnum: ShareNumber) -> StoreResult<(), CallbackError> {
        self.share_op("abort", self.cb.abort, si, shnum)
    }

    fn remove(&mut self, si: &StorageIndex, shnum: ShareNumber) -> StoreResult<(), CallbackError> {
        self.share_op("remove", self.cb.remove, si, shnum)
    }

    fn put_upload_record(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
        record: &[u8],
    ) -> StoreResult<(), CallbackError> {
        let si = ts_storage_index::from(*si);
        // SAFETY: as in `open_with`; `record` is valid for its length during the call.
        check("put_upload_record", unsafe {
            (self.cb.put_upload_record)(
                self.userdata,
                &raw const si,
                u32::from(shnum.0),
                record.as_ptr(),
                record.len(),
            )
        })
    }

    fn get_upload_record(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
        buf: &mut [u8],
    ) -> StoreResult<Option<usize>, CallbackError> {
        let si = ts_storage_index::from(*si);
        // A value the callback must overwrite: left as is, it is impossible.
        let mut len = usize::MAX;
        // SAFETY: as in `open_with`; `buf` is writable for its length during the call.
        let status = unsafe {
            (self.cb.get_upload_record)(
                self.userdata,
                &raw const si,
                u32::from(shnum.0),
                buf.as_mut_ptr(),
                buf.len(),
                &raw mut len,
            )
        };
        match status {
            OK if len <= buf.len() => Ok(Some(len)),
            NOT_FOUND => Ok(None),
            BUFFER_TOO_SMALL if len > buf.len() && len != usize::MAX => {
                Err(StoreError::BufferTooSmall { needed: len })
            }
            OK | BUFFER_TOO_SMALL => Err(StoreError::Io(CallbackError::ImpossibleLength)),
            other => check("get_upload_record", other).map(|()| None),
        }
    }

    fn available_space(&mut self) -> StoreResult<Option<u64>, CallbackError> {
        let mut bytes = 0u64;
        // SAFETY: as in `open_with`.
        let status = unsafe { (self.cb.available_space)(self.userdata, &raw mut bytes) };
        if status == NOT_FOUND {
            return Ok(None);
        }
        check("available_space", status)?;
        Ok(Some(bytes))
    }

    fn write_advisory(&mut self, name: &str, body: &[u8]) -> StoreResult<(), CallbackError> {
        // SAFETY: as in `open_with`; both buffers are valid for their lengths.
        check("write_advisory", unsafe {
            (self.cb.write_advisory)(
                self.userdata,
                name.as_ptr().cast::<c_char>(),
                name.len(),
                body.as_ptr(),
                body.len(),
            )
        })
    }

    fn for_each_storage_index(
        &mut self,
        f: &mut dyn FnMut(StorageIndex) -> bool,
    ) -> StoreResult<(), CallbackError> {
        let mut visit: SiVisit<'_> = Visit {
            f,
            failure: None,
            stopped: false,
        };
        // SAFETY: as in `open_with`; `visit` outlives the call, and `visit_storage_index`
        // casts the context back to exactly this type.
        let status = unsafe {
            (self.cb.for_each_storage_index)(
                self.userdata,
                visit_storage_index,
                (&raw mut visit).cast::<c_void>(),
            )
        };
        check("for_each_storage_index", status)?;
        if let Some(e) = visit.failure {
            return Err(StoreError::Io(e));
        }
        Ok(())
    }

    fn for_each_incoming(
        &mut self,
        f: &mut dyn FnMut(StorageIndex, ShareNumber) -> bool,
    ) -> StoreResult<(), CallbackError> {
        let mut visit: IncomingVisit<'_> = Visit {
            f,
            failure: None,
            stopped: false,
        };
        // SAFETY: as in `for_each_storage_index`.
        let status = unsafe {
            (self.cb.for_each_incoming)(
                self.userdata,
                visit_incoming,
                (&raw mut visit).cast::<c_void>(),
            )
        };
        check("for_each_incoming", status)?;
        if let Some(e) = visit.failure {
            return Err(StoreError::Io(e));
        }
        Ok(())
    }

    /// A callback that returned `TS_CB_NO_SPACE` (a store's or a share handle's).
    fn is_no_space(err: &CallbackError) -> bool {
        matches!(
            err,
            CallbackError::Failed {
                status: NO_SPACE,
                ..
            }
        )
    }
}

/// One share of a callback store; `share_close` is called when it is dropped.
pub(crate) struct CallbackShare {
    cb: IoCallbacks,
    userdata: *mut c_void,
    handle: *mut c_void,
}

// SAFETY: as for `CallbackStore`: the contract allows any thread, and the server's mutex
// (which readers lock too) keeps the calls sequential.
unsafe impl Send for CallbackShare {}

impl Drop for CallbackShare {
    fn drop(&mut self) {
        // SAFETY: the handle came from `open`, `create_incoming` or `open_incoming` and is
        // closed exactly once, here.
        unsafe { (self.cb.close)(self.userdata, self.handle) };
    }
}

impl ErrorType for CallbackShare {
    type Error = CallbackError;
}

/// Bytes no share can exceed (the largest file offset of POSIX systems).
const MAX_LEN: u64 = i64::MAX.unsigned_abs();

impl ShareIo for CallbackShare {
    fn len(&mut self) -> core::result::Result<u64, CallbackError> {
        // Left unset, the length reads as impossible.
        let mut len = u64::MAX;
        // SAFETY: the callback table's contract; `len` is a local valid for the call.
        check_io("share_len", unsafe {
            (self.cb.len)(self.userdata, self.handle, &raw mut len)
        })?;
        if len > MAX_LEN {
            return Err(CallbackError::ImpossibleLength);
        }
        Ok(len)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> core::result::Result<(), CallbackError> {
        let mut done = 0usize;
        while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
            let at = offset
                .checked_add(done as u64)
                .ok_or(CallbackError::Overflow)?;
            let mut n = usize::MAX;
            // SAFETY: the callback table's contract; `rest` is writable for its length.
            check_io("share_read_at", unsafe {
                (self.cb.read_at)(
                    self.userdata,
                    self.handle,
                    at,
                    rest.as_mut_ptr(),
                    rest.len(),
                    &raw mut n,
                )
            })?;
            if n > rest.len() {
                return Err(CallbackError::ImpossibleLength);
            }
            if n == 0 {
                return Err(CallbackError::UnexpectedEof);
            }
            done += n;
        }
        Ok(())
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> core::result::Result<(), CallbackError> {
        let mut done = 0usize;
        while let Some(rest) = data.get(done..).filter(|r| !r.is_empty()) {
            let at = offset
                .checked_add(done as u64)
                .ok_or(CallbackError::Overflow)?;
            let mut n = usize::MAX;
            // SAFETY: the callback table's contract; `rest` is readable for its length.
            check_io("share_write_at", unsafe {
                (self.cb.write_at)(
                    self.userdata,
                    self.handle,
                    at,
                    rest.as_ptr(),
                    rest.len(),
                    &raw mut n,
                )
            })?;
            if n > rest.len() {
                return Err(CallbackError::ImpossibleLength);
            }
            if n == 0 {
                return Err(CallbackError::WriteZero);
            }
            done += n;
        }
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> core::result::Result<(), CallbackError> {
        // SAFETY: the callback table's contract.
        check_io("share_set_len", unsafe {
            (self.cb.set_len)(self.userdata, self.handle, len)
        })
    }

    fn sync(&mut self) -> core::result::Result<(), CallbackError> {
        // SAFETY: the callback table's contract.
        check_io("share_sync", unsafe {
            (self.cb.sync)(self.userdata, self.handle)
        })
    }
}

//! The server handle: creation over a directory or a C store, freeing, locking, and the
//! queries, advisories and version record.

use core::ffi::{c_char, c_void};
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::{Arc, Mutex, MutexGuard};

use tahoe_shares::server::{Config, Server};
use tahoe_shares::store::{Durability, FsStore};
use tahoe_shares::{ShareNumber, StorageIndex};

use crate::error::{ts_result, Fail};
use crate::ffi::{
    boundary, boundary_or, check_live, out, ref_in, register, slice_in, unregister, Entry, Kind,
};
use crate::store::{ts_store_callbacks, CallbackStore};
use crate::types::{
    share_number, storage_index_in, ts_advise_outcome, ts_config, ts_node_id, ts_share_set,
    ts_share_stat, ts_storage_index, ts_version_info,
};

/// A Tahoe storage server over one share store (Tahoe's `StorageServer`). Create it with
/// `ts_server_new_fs` or `ts_server_new_callback` and free it with `ts_server_free`.
///
/// Thread rules: a server may be called from any number of threads at once; its calls
/// take turns (an internal mutex), so each is atomic with respect to the others. It must
/// not be freed while another thread is still calling it.
pub struct ts_server {
    _private: [u8; 0],
}

/// A server over either kind of store.
pub(crate) enum AnyServer {
    /// Over a storage directory.
    Fs(Server<FsStore>),
    /// Over a store written in C.
    Callback(Server<CallbackStore>),
}

/// What a `ts_server` pointer points to (an `Arc`, shared with the server's readers).
pub(crate) struct Shared {
    server: Mutex<AnyServer>,
}

// The header promises that a server may be shared between threads.
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Shared>();
};

/// Runs `$body` with `$s` bound to the server of either kind, mapping core errors to
/// `ts_result`.
macro_rules! with_server {
    ($server:expr, $s:ident => $body:expr) => {
        match $server {
            $crate::server::AnyServer::Fs($s) => ($body).map_err($crate::error::Fail::from),
            $crate::server::AnyServer::Callback($s) => ($body).map_err($crate::error::Fail::from),
        }
    };
}
pub(crate) use with_server;

/// A locked server: this thread is inside a call on it until dropped.
pub(crate) struct Locked<'a> {
    // Dropped first: the lock is released before the thread is marked outside.
    guard: MutexGuard<'a, AnyServer>,
    _entry: Entry,
}

impl Deref for Locked<'_> {
    type Target = AnyServer;
    fn deref(&self) -> &AnyServer {
        &self.guard
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut AnyServer {
        &mut self.guard
    }
}

impl Shared {
    /// The address of the handle (the key of the re-entrancy guard).
    pub(crate) fn addr(&self) -> usize {
        core::ptr::from_ref(self) as usize
    }

    /// Locks the server for one call.
    ///
    /// # Errors
    ///
    /// `TS_REENTRANT_CALL` from inside one of its callbacks; `TS_PANIC` after a call that
    /// panicked while holding the lock.
    pub(crate) fn lock(&self) -> Result<Locked<'_>, ts_result> {
        let entry = Entry::enter(self.addr())?;
        let guard = self.server.lock().map_err(|_| ts_result::TS_PANIC)?;
        Ok(Locked {
            guard,
            _entry: entry,
        })
    }
}

/// Borrows the server behind a handle.
///
/// # Errors
///
/// `TS_NULL_PARAMETER`, `TS_INVALID_HANDLE`.
///
/// # Safety
///
/// The handle must not be freed during `'a` (the registry rejects handles freed before).
pub(crate) unsafe fn server_ref<'a>(ptr: *const ts_server) -> Result<&'a Shared, ts_result> {
    check_live(ptr, Kind::Server)?;
    // SAFETY: a live server handle is a pointer from `Arc::into_raw` of a `Shared` whose
    // reference is still held (it is removed from the registry before being released), and
    // the caller guarantees it is not freed during 'a.
    Ok(unsafe { &*ptr.cast::<Shared>() })
}

/// A new reference to the server behind a live handle (for readers).
///
/// # Safety
///
/// `ptr` must have passed `server_ref` and still be live.
pub(crate) unsafe fn server_arc(ptr: *const ts_server) -> Arc<Shared> {
    let ptr = ptr.cast::<Shared>();
    // SAFETY: `ptr` comes from `Arc::into_raw` and its reference is alive, so the count
    // may be raised and a second `Arc` made from it.
    unsafe {
        Arc::increment_strong_count(ptr);
        Arc::from_raw(ptr)
    }
}

fn give_out(server: AnyServer, out_server: NonNull<*mut ts_server>) {
    let ptr = Arc::into_raw(Arc::new(Shared {
        server: Mutex::new(server),
    }))
    .cast_mut()
    .cast::<ts_server>();
    register(ptr, Kind::Server);
    // SAFETY: `out_server` was checked by `out`; the caller guarantees it writable.
    unsafe { out_server.write(ptr) };
}

/// The shell of every constructor, inside the panic boundary: checks `out_server`, then
/// builds the server with `build` and gives it out.
fn construct(
    out_server: *mut *mut ts_server,
    build: impl FnOnce() -> Result<AnyServer, Fail>,
) -> ts_result {
    boundary(|| {
        let out_server = out(out_server)?;
        give_out(build()?, out_server);
        Ok(())
    })
}

/// The shell of a call with one answer, inside the panic boundary, in the order every
/// call checks its arguments: `out_answer`, the server, the other arguments (`args`);
/// then `query` runs on the locked server and its answer is written.
///
/// # Safety
///
/// `server` must be a server handle or NULL, not freed during the call; `out_answer` NULL
/// or valid for writes.
pub(crate) unsafe fn answer<A, T>(
    server: *const ts_server,
    out_answer: *mut T,
    args: impl FnOnce() -> Result<A, Fail>,
    query: impl FnOnce(&mut AnyServer, A) -> Result<T, Fail>,
) -> ts_result {
    boundary(|| {
        let out_answer = out(out_answer)?;
        // SAFETY: the caller guarantees a server handle or NULL, not freed meanwhile.
        let shared = unsafe { server_ref(server)? };
        let args = args()?;
        let answer = query(&mut *shared.lock()?, args)?;
        // SAFETY: checked by `out`; the caller guarantees it writable.
        unsafe { out_answer.write(answer) };
        Ok(())
    })
}

/// The `args` of [`answer`] for a call that takes none but the server.
#[allow(clippy::unnecessary_wraps)] // The shape `answer` takes.
pub(crate) fn no_args() -> Result<(), Fail> {
    Ok(())
}

/// The storage index and share number arguments of a call about one share.
///
/// # Errors
///
/// `TS_NULL_PARAMETER`; `TS_INVALID_ARGUMENT` for a bad storage index length or a share
/// number above 255.
///
/// # Safety
///
/// `storage_index` must be NULL or point to a valid `ts_storage_index`.
pub(crate) unsafe fn share_in(
    storage_index: *const ts_storage_index,
    share_number: u32,
) -> Result<(StorageIndex, ShareNumber), Fail> {
    // SAFETY: the caller's guarantee.
    let si = unsafe { storage_index_in(storage_index)? };
    Ok((si, self::share_number(share_number)?))
}

/// Reads an optional configuration (NULL means the defaults).
///
/// # Safety
///
/// `config` must be NULL or point to a valid `ts_config`.
unsafe fn config_in(config: *const ts_config) -> Result<Config, ts_result> {
    if config.is_null() {
        return Ok(Config::default());
    }
    // SAFETY: non-null; the caller guarantees a valid config.
    Ok(Config::from(unsafe { ref_in(config) }?))
}

/// The shell of both filesystem constructors: checks the directory (not empty), the node
/// id and the configuration, opens the store over the directory with `open`, and starts
/// the server.
///
/// # Safety
///
/// Each pointer must be NULL or valid for the length or type given.
unsafe fn construct_fs<E>(
    out_server: *mut *mut ts_server,
    (storage_dir, storage_dir_len): (*const c_char, usize),
    nodeid: *const ts_node_id,
    config: *const ts_config,
    now: u64,
    open: impl FnOnce(&OsStr) -> Result<FsStore, E>,
) -> ts_result
where
    Fail: From<E>,
{
    construct(out_server, || {
        // SAFETY: the caller guarantees each pointer NULL or valid for its length/type.
        let (dir, nodeid, config) = unsafe {
            (
                slice_in(storage_dir.cast::<u8>(), storage_dir_len)?,
                *ref_in(nodeid)?,
                config_in(config)?,
            )
        };
        if dir.is_empty() {
            return Err(Fail::invalid("the storage directory path is empty"));
        }
        let store = open(OsStr::from_bytes(dir))?;
        let server = Server::new(store, nodeid.into(), config, now)?;
        Ok(AnyServer::Fs(server))
    })
}

/// Starts a server over a Tahoe storage directory (`storage_dir`, `storage_dir_len` bytes,
/// not NUL-terminated; created if missing), with Tahoe's layout: `shares/`,
/// `shares/incoming/`, `corruption-advisories/`.
///
/// `durable` makes every acknowledged change durable (fsync of files and directories);
/// false skips the fsyncs, as Tahoe 1.20 does. `config` NULL means `ts_config_default`.
/// `now` is the time in seconds since the epoch. Incoming shares left by an earlier run
/// are discarded, or resumed with `config->resume_uploads`.
///
/// On success `*out_server` is a new server the caller owns and frees with
/// `ts_server_free`.
///
/// # Errors
///
/// `TS_INVALID_ARGUMENT` for an empty path; `TS_IO` when the directories cannot be
/// created or read (the last error has the operating system's text);
/// `TS_STORAGE_LOCKED` when another server (in this process or another) holds the
/// directory.
///
/// # Safety
///
/// Every pointer must be NULL or valid for the length or type given; `out_server` must be
/// valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_new_fs(
    storage_dir: *const c_char,
    storage_dir_len: usize,
    durable: bool,
    nodeid: *const ts_node_id,
    config: *const ts_config,
    now: u64,
    out_server: *mut *mut ts_server,
) -> ts_result {
    let durability = if durable {
        Durability::Durable
    } else {
        Durability::NoSync
    };
    // SAFETY: the caller guarantees each pointer NULL or valid for its length/type.
    unsafe {
        construct_fs(
            out_server,
            (storage_dir, storage_dir_len),
            nodeid,
            config,
            now,
            |dir| FsStore::open(dir, durability),
        )
    }
}

/// Starts a server that only reads a Tahoe storage directory (`storage_dir`,
/// `storage_dir_len` bytes, not NUL-terminated): it takes no lock, so it may run beside
/// the server that writes the directory; it creates and removes nothing (incoming shares
/// are left alone) and opens every file read-only, so a read-only mount or a user who may
/// only read will do. Every call that would change something fails with
/// `TS_READ_ONLY`; corruption advisories are answered `TS_ADVISE_NO_SPACE`.
///
/// On success `*out_server` is a new server the caller owns and frees with
/// `ts_server_free`.
///
/// # Errors
///
/// `TS_INVALID_ARGUMENT` for an empty path; `TS_IO` when the directory cannot be read
/// (the last error has the operating system's text and the path).
///
/// # Safety
///
/// Every pointer must be NULL or valid for the length or type given; `out_server` must be
/// valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_new_fs_read_only(
    storage_dir: *const c_char,
    storage_dir_len: usize,
    nodeid: *const ts_node_id,
    config: *const ts_config,
    now: u64,
    out_server: *mut *mut ts_server,
) -> ts_result {
    // SAFETY: the caller guarantees each pointer NULL or valid for its length/type.
    unsafe {
        construct_fs(
            out_server,
            (storage_dir, storage_dir_len),
            nodeid,
            config,
            now,
            |dir| FsStore::open_read_only(dir),
        )
    }
}

/// Starts a server over a share store implemented in C: `*callbacks` (copied; every
/// callback is required) called with `userdata`. See `ts_store_callbacks` for what each
/// callback must do and the thread rules. The server calls the store already during this
/// call (to discard or resume incoming shares).
///
/// `userdata` and the callbacks must stay usable until the server and every reader opened
/// from it are freed; the library never frees `userdata`.
///
/// # Errors
///
/// `TS_NULL_PARAMETER` when a callback is NULL; errors of the store while starting.
///
/// # Safety
///
/// `callbacks`, `nodeid` and `config` must be NULL or valid; `out_server` must be valid for
/// writes; the callbacks must behave as `ts_store_callbacks` describes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_new_callback(
    callbacks: *const ts_store_callbacks,
    userdata: *mut c_void,
    nodeid: *const ts_node_id,
    config: *const ts_config,
    now: u64,
    out_server: *mut *mut ts_server,
) -> ts_result {
    construct(out_server, || {
        // SAFETY: the caller guarantees each pointer NULL or valid for its type.
        let (callbacks, nodeid, config) =
            unsafe { (ref_in(callbacks)?, *ref_in(nodeid)?, config_in(config)?) };
        let store = CallbackStore::new(callbacks, userdata).ok_or(ts_result::TS_NULL_PARAMETER)?;
        let server = Server::new(store, nodeid.into(), config, now)?;
        Ok(AnyServer::Callback(server))
    })
}

/// Frees a server. NULL, and a server freed already, are ignored (a double free is
/// detected unless the memory was reused by a new server meanwhile). Uploads in progress
/// stay in the store as incoming shares (a new server discards or resumes them). The
/// store itself is released when the last reader opened from the server is freed too.
/// Called from one of the server's own callbacks, it does nothing.
///
/// # Safety
///
/// No other thread may be using the server.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_free(server: *mut ts_server) {
    boundary_or((), || {
        if server.is_null() || Entry::is_inside(server as usize) {
            return;
        }
        if !unregister(server, Kind::Server) {
            return;
        }
        // SAFETY: the handle was live (just unregistered, so this happens once) and comes
        // from `Arc::into_raw`; the caller guarantees nobody else is using it.
        drop(unsafe { Arc::from_raw(server.cast_const().cast::<Shared>()) });
    });
}

/// The share numbers held for a storage index, of either kind (Tahoe's `get_shares`; an
/// unknown storage index has none).
///
/// # Safety
///
/// `server` must be a server handle or NULL; the other pointers NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_shares(
    server: *const ts_server,
    storage_index: *const ts_storage_index,
    out_shares: *mut ts_share_set,
) -> ts_result {
    // SAFETY: the caller guarantees valid or NULL pointers and no concurrent free.
    unsafe {
        answer(
            server,
            out_shares,
            || storage_index_in(storage_index),
            |s, si| with_server!(s, s => s.shares(&si)).map(ts_share_set::from),
        )
    }
}

/// Bytes of data in an immutable share.
///
/// # Errors
///
/// `TS_NO_SUCH_SHARE`; `TS_UNKNOWN_IMMUTABLE_VERSION` for a mutable share.
///
/// # Safety
///
/// As `ts_server_shares`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_immutable_share_length(
    server: *const ts_server,
    storage_index: *const ts_storage_index,
    share_number: u32,
    out_length: *mut u64,
) -> ts_result {
    // SAFETY: as in `ts_server_shares`.
    unsafe {
        answer(
            server,
            out_length,
            || share_in(storage_index, share_number),
            |s, (si, n)| with_server!(s, s => s.immutable_share_length(&si, n)),
        )
    }
}

/// Bytes of data in a mutable share.
///
/// # Errors
///
/// `TS_NO_SUCH_SHARE`; `TS_UNKNOWN_MUTABLE_MAGIC` for an immutable share.
///
/// # Safety
///
/// As `ts_server_shares`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_mutable_share_length(
    server: *const ts_server,
    storage_index: *const ts_storage_index,
    share_number: u32,
    out_length: *mut u64,
) -> ts_result {
    // SAFETY: as in `ts_server_shares`.
    unsafe {
        answer(
            server,
            out_length,
            || share_in(storage_index, share_number),
            |s, (si, n)| with_server!(s, s => s.mutable_share_length(&si, n)),
        )
    }
}

/// Facts about one share of either kind: kind, lengths, leases.
///
/// # Errors
///
/// `TS_NO_SUCH_SHARE`; `TS_CORRUPT`.
///
/// # Safety
///
/// As `ts_server_shares`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_stat_share(
    server: *const ts_server,
    storage_index: *const ts_storage_index,
    share_number: u32,
    out_stat: *mut ts_share_stat,
) -> ts_result {
    // SAFETY: as in `ts_server_shares`.
    unsafe {
        answer(
            server,
            out_stat,
            || share_in(storage_index, share_number),
            |s, (si, n)| with_server!(s, s => s.stat_share(&si, n)).map(ts_share_stat::from),
        )
    }
}

/// Tahoe's `get_available_space`: the store's free space less the reserved space, 0 when
/// read-only. `*out_known` is false (and `*out_bytes` 0) when the store cannot tell.
///
/// # Safety
///
/// As `ts_server_shares`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_available_space(
    server: *const ts_server,
    out_known: *mut bool,
    out_bytes: *mut u64,
) -> ts_result {
    boundary(|| {
        let (out_known, out_bytes) = (out(out_known)?, out(out_bytes)?);
        // SAFETY: as in `ts_server_shares`.
        let shared = unsafe { server_ref(server)? };
        let space = with_server!(&mut *shared.lock()?, s => s.available_space())?;
        // SAFETY: checked by `out`; the caller guarantees them writable.
        unsafe {
            out_known.write(space.is_some());
            out_bytes.write(space.unwrap_or(0));
        }
        Ok(())
    })
}

/// Bytes reserved by the uploads in progress (Tahoe's `allocated_size`).
///
/// # Safety
///
/// As `ts_server_shares`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_allocated_size(
    server: *const ts_server,
    out_bytes: *mut u64,
) -> ts_result {
    // SAFETY: as in `ts_server_shares`.
    unsafe {
        answer(server, out_bytes, no_args, |s, ()| {
            Ok(match s {
                AnyServer::Fs(s) => s.allocated_size(),
                AnyServer::Callback(s) => s.allocated_size(),
            })
        })
    }
}

/// The version record (Tahoe's `get_version`).
///
/// # Safety
///
/// As `ts_server_shares`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_version(
    server: *const ts_server,
    out_version: *mut ts_version_info,
) -> ts_result {
    // SAFETY: as in `ts_server_shares`.
    unsafe {
        answer(server, out_version, no_args, |s, ()| {
            with_server!(s, s => s.version()).map(ts_version_info::from)
        })
    }
}

/// The server's node id.
///
/// # Safety
///
/// As `ts_server_shares`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_nodeid(
    server: *const ts_server,
    out_nodeid: *mut ts_node_id,
) -> ts_result {
    // SAFETY: as in `ts_server_shares`.
    unsafe {
        answer(server, out_nodeid, no_args, |s, ()| {
            Ok(ts_node_id::from(match s {
                AnyServer::Fs(s) => s.nodeid(),
                AnyServer::Callback(s) => s.nodeid(),
            }))
        })
    }
}

/// The server's configuration.
///
/// # Safety
///
/// As `ts_server_shares`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_config(
    server: *const ts_server,
    out_config: *mut ts_config,
) -> ts_result {
    // SAFETY: as in `ts_server_shares`.
    unsafe {
        answer(server, out_config, no_args, |s, ()| {
            Ok(match s {
                AnyServer::Fs(s) => ts_config::from(s.config()),
                AnyServer::Callback(s) => ts_config::from(s.config()),
            })
        })
    }
}

/// Records a client's report that a share is corrupt (Tahoe's `advise_corrupt_share`),
/// in Tahoe's text format, under a name made of `now` (UTC), the storage index and the
/// share number. `share_type` and `reason` are UTF-8, not NUL-terminated.
///
/// # Errors
///
/// `TS_INVALID_ARGUMENT` for text that is not UTF-8; `TS_LIMIT_ADVISORY_SIZE`. A share
/// number above 255 names no share that can exist: `TS_ADVISE_NOT_HELD`, as Tahoe drops
/// such a report.
///
/// # Safety
///
/// As `ts_server_shares`; each buffer valid for its length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_advise_corrupt_share(
    server: *mut ts_server,
    share_type: *const c_char,
    share_type_len: usize,
    storage_index: *const ts_storage_index,
    share_number: u32,
    reason: *const c_char,
    reason_len: usize,
    now: u64,
    out_outcome: *mut ts_advise_outcome,
) -> ts_result {
    boundary(|| {
        let out_outcome = out(out_outcome)?;
        // SAFETY: as in `ts_server_shares`; each buffer valid for its length.
        let (shared, si, share_type, reason) = unsafe {
            (
                server_ref(server)?,
                storage_index_in(storage_index)?,
                slice_in(share_type.cast::<u8>(), share_type_len)?,
                slice_in(reason.cast::<u8>(), reason_len)?,
            )
        };
        let outcome = with_server!(&mut *shared.lock()?, s => {
            s.advise_corrupt_share(share_type, &si, share_number, reason, now)
        })?;
        let outcome = ts_advise_outcome::try_from(outcome)?;
        // SAFETY: checked by `out`; the caller guarantees it writable.
        unsafe { out_outcome.write(outcome) };
        Ok(())
    })
}

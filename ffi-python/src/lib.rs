//! `tahoe_shares._native`: the Python binding of the tahoe-shares server.
//!
//! Each function checks and converts its arguments, calls one core function with the GIL
//! released, and converts the result. The Pythonic layer (`tahoe_shares`) and Tahoe's
//! drop-in (`tahoe_shares.tahoe`) are written in Python on top of it.

// The binding is a std crate: the core-over-std preferences of the no_std core do not
// apply here.
#![allow(clippy::std_instead_of_core, clippy::alloc_instead_of_core)]
// pyo3 hands each extracted argument to a method by value.
#![allow(clippy::needless_pass_by_value)]

mod args;
mod errors;
mod locked;
mod store;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyType};
use tahoe_shares::container::SlotWrites;
use tahoe_shares::format::ShareKind;
use tahoe_shares::server::{
    self, AdviseOutcome, AllocateRequest, Config, LeaseUpdate, SlotSecrets,
};
use tahoe_shares::store::{Durability, FsStore, ShareStore};
use tahoe_shares::{
    CancelSecret, NodeId, RenewSecret, ShareNumber, ShareSet, StorageIndex, UploadSecret,
    WriteEnabler,
};

use crate::args::{opt, shnum, BytesLike, Int};
use crate::errors::{invalid, new_err, to_py, Context, Kind};
use crate::locked::{LockError, Locked};
use crate::store::{NativeError, NativeStore};

type CoreServer = server::Server<NativeStore>;
type CoreError = tahoe_shares::Error<NativeError>;

fn si(bytes: &BytesLike<'_>) -> PyResult<StorageIndex> {
    StorageIndex::from_slice(bytes.as_slice())
        .map_err(|_| invalid("a storage index is 1 to 32 bytes"))
}

fn set_to_py(set: ShareSet) -> HashSet<u8> {
    set.iter().map(|n| n.0).collect()
}

fn to_upload_secret(bytes: &BytesLike<'_>) -> PyResult<UploadSecret> {
    UploadSecret::new(bytes.as_slice()).map_err(|_| invalid("an upload secret is not empty"))
}

/// The storage index and share number of a call about one share.
fn share_args(
    storage_index: &BytesLike<'_>,
    sharenum: &Int<'_>,
) -> PyResult<(StorageIndex, ShareNumber)> {
    Ok((si(storage_index)?, shnum(sharenum, "sharenum")?))
}

/// The storage index, share number and upload secret of a call about one upload.
fn upload_args(
    storage_index: &BytesLike<'_>,
    sharenum: &Int<'_>,
    upload_secret: &BytesLike<'_>,
) -> PyResult<(StorageIndex, ShareNumber, UploadSecret)> {
    let (si, n) = share_args(storage_index, sharenum)?;
    Ok((si, n, to_upload_secret(upload_secret)?))
}

/// `now`, or the system clock.
fn now_or(now: Option<&Int<'_>>) -> PyResult<u64> {
    Ok(opt::<u64>(now, "now")?.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }))
}

fn kind_name(kind: ShareKind) -> &'static str {
    match kind {
        ShareKind::Immutable => "immutable",
        ShareKind::Mutable => "mutable",
    }
}

/// Why a locked call did not reach its result.
enum Fail {
    /// The mutex could not be taken.
    Lock(LockError),
    /// `shutdown()` was called.
    Closed,
    /// The core failed.
    Core(CoreError),
}

impl From<LockError> for Fail {
    fn from(e: LockError) -> Self {
        Self::Lock(e)
    }
}

impl Fail {
    fn into_py(self, py: Python<'_>, ctx: Context<'_>) -> PyErr {
        match self {
            Self::Lock(LockError::Poisoned) => new_err(Kind::InternalError, "lock poisoned"),
            Self::Lock(LockError::Reentrant) => PyRuntimeError::new_err(
                "re-entrant call: a Python store or space callable called the server or \
                 reader it serves",
            ),
            Self::Closed => new_err(Kind::ServerClosed, "the server is shut down"),
            Self::Core(e) => to_py(py, e, ctx),
        }
    }
}

/// A Tahoe-LAFS 1.20 storage server over a storage directory or a Python share store.
///
/// ``Server(storage, nodeid, *, ...)``:
///
/// - ``storage``: a storage directory (Tahoe's ``storage/``: a ``str`` or
///   ``os.PathLike``), or an object implementing ``tahoe_shares.store.ShareStore``.
/// - ``nodeid``: the node's 20-byte id (bytes-like), recorded in mutable leases.
/// - ``now``: the time of opening, seconds since the epoch (default: the clock); it dates
///   uploads resumed at start-up.
/// - ``reserved_space``: bytes of free space never given to shares.
/// - ``readonly``: accept no new immutable shares (the available space reads as 0).
/// - ``discard_storage``: throw immutable share data away (Tahoe's testing option).
/// - ``lease_duration``: seconds a lease lasts from when it is added or renewed.
/// - ``upload_idle_timeout``: seconds an upload may go without a write before
///   ``expire_stale_uploads`` aborts it.
/// - ``max_uploads``: uploads in progress at once.
/// - ``max_ranges_per_upload``: separate written ranges one upload may have.
/// - ``max_advisory_size``: bytes of one corruption advisory.
/// - ``resume_uploads``: keep uploads in progress across a restart.
/// - ``mutable_writes_respect_space``: apply read-only mode and the space check to
///   mutable writes too (Tahoe 1.20 does not).
/// - ``durable``: fsync share files and directories before acknowledging (filesystem
///   stores; False syncs as little as Tahoe does).
/// - ``available_space``: a callable answering the free space in bytes (or None) instead
///   of ``statvfs`` (filesystem stores; a Python store answers its own).
/// - ``writable``: False opens a storage directory read-only: no lock is taken (it may be
///   opened beside the server that writes it), nothing is created or removed, every file
///   is opened ``O_RDONLY`` (so a user who may only read, or a read-only mount, will
///   do), and every change raises ``ReadOnly``. Unlike ``readonly`` (Tahoe's setting:
///   no new immutable shares, leases and mutable writes still accepted).
///
/// A writable filesystem server is the one writer of its directory: it holds a lock on
/// ``<storage>/tahoe-shares.lock`` until ``shutdown()`` (or until it is collected, or the
/// process ends), and a second writer raises ``StorageLocked`` at once.
///
/// Defaults are the core's ``Config::default()`` (see ``inspect.signature(Server)``).
///
/// Every method may be called from any thread; calls are serialised, and the GIL is
/// released while the server works (a Python store's methods take it back to run).
/// Integers out of range raise ``InvalidArgument`` (a ``ValueError``) naming the argument;
/// byte strings may be any bytes-like object.
///
/// ``shutdown()`` (or leaving a ``with Server(...) as s:`` block) releases the storage
/// directory and the store; later calls raise ``ServerClosed`` (a ``ValueError``).
#[pyclass(frozen, module = "tahoe_shares._native")]
struct Server {
    /// None once shut down.
    inner: Locked<Option<CoreServer>>,
    /// The storage directory of a filesystem store, for error messages.
    directory: Option<PathBuf>,
}

impl Server {
    /// The only way to the core server: releases the GIL, takes the mutex, runs `f`,
    /// releases the mutex, takes the GIL back and maps the error.
    ///
    /// [`Locked`] keeps the module's one locking rule (stated for users in
    /// `tahoe_shares.__doc__`).
    fn with_core<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut CoreServer) -> Result<T, CoreError> + Send,
    ) -> PyResult<T> {
        self.inner
            .with(py, |server| {
                f(server.as_mut().ok_or(Fail::Closed)?).map_err(Fail::Core)
            })
            .map_err(Fail::from)
            .and_then(|r| r)
            .map_err(|e| e.into_py(py, self.context()))
    }

    fn context(&self) -> Context<'_> {
        Context {
            directory: self.directory.as_deref(),
        }
    }
}

/// Sets `Server.__signature__` to the signature pyo3 derives from `#[new]`, with the
/// defaults of the core's `Config::default()` in place of the `...` it shows for them.
fn set_server_signature(py: Python<'_>, class: &Bound<'_, PyType>) -> PyResult<()> {
    let d = Config::default();
    let defaults = PyDict::new(py);
    defaults.set_item("reserved_space", d.reserved_space)?;
    defaults.set_item("readonly", d.readonly)?;
    defaults.set_item("discard_storage", d.discard_storage)?;
    defaults.set_item("lease_duration", d.lease_duration)?;
    defaults.set_item("upload_idle_timeout", d.upload_idle_timeout)?;
    defaults.set_item("max_uploads", d.max_uploads)?;
    defaults.set_item("max_ranges_per_upload", d.max_ranges_per_upload)?;
    defaults.set_item("max_advisory_size", d.max_advisory_size)?;
    defaults.set_item("resume_uploads", d.resume_uploads)?;
    defaults.set_item(
        "mutable_writes_respect_space",
        d.mutable_writes_respect_space,
    )?;
    let sig = py.import("inspect")?.call_method1("signature", (class,))?;
    let params = PyList::empty(py);
    for p in sig
        .getattr("parameters")?
        .call_method0("values")?
        .try_iter()?
    {
        let p = p?;
        match defaults.get_item(p.getattr("name")?)? {
            Some(v) => {
                let kw = PyDict::new(py);
                kw.set_item("default", v)?;
                params.append(p.call_method("replace", (), Some(&kw))?)?;
            }
            None => params.append(p)?,
        }
    }
    let kw = PyDict::new(py);
    kw.set_item("parameters", params)?;
    class.setattr("__signature__", sig.call_method("replace", (), Some(&kw))?)
}

/// A lease as Python sees it.
type LeaseTuple<'py> = (u8, &'static str, u32, u32, Option<Bound<'py, PyBytes>>);
/// Read results as Python sees them: `{share number: [bytes per read]}`.
type PyReads<'py> = HashMap<u8, Vec<Bound<'py, PyBytes>>>;

// Python signatures are Tahoe's (storage index, share number, secret, offset, data, now...).
#[allow(clippy::too_many_arguments)]
#[pymethods]
impl Server {
    /// Opens a server (the keywords are documented on the class).
    #[new]
    #[pyo3(signature = (
        storage, nodeid, *, now=None, reserved_space=None, readonly=Config::default().readonly,
        discard_storage=Config::default().discard_storage, lease_duration=None,
        upload_idle_timeout=None, max_uploads=None, max_ranges_per_upload=None,
        max_advisory_size=None, resume_uploads=Config::default().resume_uploads,
        mutable_writes_respect_space=Config::default().mutable_writes_respect_space,
        durable=true, available_space=None, writable=true
    ))]
    #[allow(clippy::too_many_arguments, clippy::fn_params_excessive_bools)]
    // `config` is assigned field by field, so that this keeps compiling when `Config`
    // becomes `#[non_exhaustive]` (outside the core only a default one can then be built).
    #[allow(clippy::field_reassign_with_default)]
    fn new(
        py: Python<'_>,
        storage: &Bound<'_, PyAny>,
        nodeid: BytesLike<'_>,
        now: Option<Int<'_>>,
        reserved_space: Option<Int<'_>>,
        readonly: bool,
        discard_storage: bool,
        lease_duration: Option<Int<'_>>,
        upload_idle_timeout: Option<Int<'_>>,
        max_uploads: Option<Int<'_>>,
        max_ranges_per_upload: Option<Int<'_>>,
        max_advisory_size: Option<Int<'_>>,
        resume_uploads: bool,
        mutable_writes_respect_space: bool,
        durable: bool,
        available_space: Option<Py<PyAny>>,
        writable: bool,
    ) -> PyResult<Self> {
        let nodeid = NodeId(
            nodeid
                .as_slice()
                .try_into()
                .map_err(|_| invalid("a node id is 20 bytes"))?,
        );
        // The core's defaults, with the keywords given in place of theirs.
        let mut config = Config::default();
        config.readonly = readonly;
        config.discard_storage = discard_storage;
        config.resume_uploads = resume_uploads;
        config.mutable_writes_respect_space = mutable_writes_respect_space;
        macro_rules! integer_keywords {
            ($($name:ident),*) => {$(
                if let Some(value) = opt($name.as_ref(), stringify!($name))? {
                    config.$name = value;
                }
            )*};
        }
        integer_keywords!(
            reserved_space,
            lease_duration,
            upload_idle_timeout,
            max_uploads,
            max_ranges_per_upload,
            max_advisory_size
        );
        let now = now_or(now.as_ref())?;
        let (store, directory) = if let Ok(path) = storage.extract::<PathBuf>() {
            let durability = if durable {
                Durability::Durable
            } else {
                Durability::NoSync
            };
            let ctx = Context {
                directory: Some(&path),
            };
            let fs = py
                .allow_threads(|| {
                    if writable {
                        FsStore::open(&path, durability)
                    } else {
                        FsStore::open_read_only(&path)
                    }
                })
                .map_err(|e| to_py(py, e.map_io(NativeError::Os).into(), ctx))?;
            let store = NativeStore::Fs {
                store: fs,
                space: available_space,
            };
            (store, Some(path))
        } else {
            (NativeStore::Python(storage.clone().unbind()), None)
        };
        let ctx = Context {
            directory: directory.as_deref(),
        };
        let server = py
            .allow_threads(|| CoreServer::new(store, nodeid, config, now))
            .map_err(|e| to_py(py, e, ctx))?;
        Ok(Self {
            inner: Locked::new(Some(server)),
            directory,
        })
    }

    /// Shuts the server down: drops the core server and its store, which releases the
    /// storage directory (and its lock) and a Python store. Uploads in progress are
    /// abandoned as at a restart (kept only with ``resume_uploads``). Readers opened
    /// earlier keep reading their share. Every later call raises ``ServerClosed``; calling
    /// ``shutdown()`` again does nothing. (Not named ``close``: that is an upload's.)
    fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        let taken = self
            .inner
            .with(py, Option::take)
            .map_err(|e| Fail::Lock(e).into_py(py, self.context()))?;
        // Dropped with the GIL held, so that a Python store is released now, not at the
        // next time some thread takes the GIL.
        drop(taken);
        Ok(())
    }

    /// Whether ``shutdown()`` was called.
    #[getter]
    fn closed(&self, py: Python<'_>) -> PyResult<bool> {
        self.inner
            .with(py, |s| s.is_none())
            .map_err(|e| Fail::Lock(e).into_py(py, self.context()))
    }

    /// ``with Server(...) as s:`` returns the server (``ServerClosed`` if shut down).
    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().with_core(slf.py(), |_| Ok(()))?;
        Ok(slf)
    }

    /// Leaving the ``with`` block shuts the server down; exceptions propagate.
    #[pyo3(signature = (exc_type, exc_value, traceback))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        exc_value: &Bound<'_, PyAny>,
        traceback: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let _ = (exc_type, exc_value, traceback);
        self.shutdown(py)?;
        Ok(false)
    }

    /// The free space for shares (after the reserve; 0 when read-only), or None.
    fn available_space(&self, py: Python<'_>) -> PyResult<Option<u64>> {
        self.with_core(py, server::Server::available_space)
    }

    /// Bytes reserved by uploads in progress.
    fn allocated_size(&self, py: Python<'_>) -> PyResult<u64> {
        self.with_core(py, |s| Ok(s.allocated_size()))
    }

    /// The storage indexes that hold shares, in the store's order (base32 order for the
    /// filesystem store).
    fn storage_indexes<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let mut found = Vec::new();
        self.with_core(py, |s| {
            Ok(s.store_mut().for_each_storage_index(&mut |si| {
                found.push(si);
                true
            })?)
        })?;
        Ok(found
            .iter()
            .map(|si| PyBytes::new(py, si.as_bytes()))
            .collect())
    }

    /// The uploads in progress, ordered by storage index and share number.
    fn uploads(&self, py: Python<'_>) -> PyResult<Vec<UploadInfo>> {
        let found: Vec<server::UploadInfo> = self.with_core(py, |s| Ok(s.uploads().collect()))?;
        Ok(found
            .into_iter()
            .map(|u| UploadInfo {
                storage_index: PyBytes::new(py, u.storage_index.as_bytes()).unbind(),
                sharenum: u.share_number.0,
                allocated_size: u.allocated_size,
                written: u.written,
                last_activity: u.last_activity,
            })
            .collect())
    }

    /// The version record, with Tahoe's keys.
    fn version<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let v = self.with_core(py, server::Server::version)?;
        let d = PyDict::new(py);
        let space = v.reported_space();
        d.set_item("maximum-immutable-share-size", space)?;
        d.set_item("maximum-mutable-share-size", v.maximum_mutable_share_size)?;
        d.set_item("available-space", space)?;
        d.set_item(
            "tolerates-immutable-read-overrun",
            v.tolerates_immutable_read_overrun,
        )?;
        d.set_item(
            "delete-mutable-shares-with-zero-length-writev",
            v.delete_mutable_shares_with_zero_length_writev,
        )?;
        d.set_item("fills-holes-with-zero-bytes", v.fills_holes_with_zero_bytes)?;
        d.set_item(
            "prevents-read-past-end-of-share-data",
            v.prevents_read_past_end_of_share_data,
        )?;
        Ok(d)
    }

    /// Allocates buckets; returns (shares already held, shares allocated to this upload
    /// secret). ``sharenums`` is any iterable of share numbers; ``owner_num`` the lease
    /// owner number (Tahoe's front ends pass 0); ``renew_leases`` whether to add or renew
    /// the lease on shares already held; ``now`` the time (default: the clock).
    #[pyo3(
        signature = (storage_index, renew_secret, cancel_secret, sharenums, allocated_size, upload_secret, *, owner_num=None, renew_leases=true, now=None),
        text_signature = "($self, storage_index, renew_secret, cancel_secret, sharenums, allocated_size, upload_secret, *, owner_num=0, renew_leases=True, now=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn allocate_buckets(
        &self,
        py: Python<'_>,
        storage_index: BytesLike<'_>,
        renew_secret: BytesLike<'_>,
        cancel_secret: BytesLike<'_>,
        sharenums: &Bound<'_, PyAny>,
        allocated_size: Int<'_>,
        upload_secret: BytesLike<'_>,
        owner_num: Option<Int<'_>>,
        renew_leases: bool,
        now: Option<Int<'_>>,
    ) -> PyResult<(HashSet<u8>, HashSet<u8>)> {
        let req = AllocateRequest {
            storage_index: si(&storage_index)?,
            renew_secret: RenewSecret::from_bytes(renew_secret.as_slice()),
            cancel_secret: CancelSecret::from_bytes(cancel_secret.as_slice()),
            share_numbers: args::share_set(sharenums, "sharenums")?,
            allocated_size: allocated_size.to("allocated_size")?,
            owner_num: opt(owner_num.as_ref(), "owner_num")?.unwrap_or(0),
            renew_leases,
            upload_secret: to_upload_secret(&upload_secret)?,
        };
        let now = now_or(now.as_ref())?;
        let a = self.with_core(py, |s| s.allocate_buckets(&req, now))?;
        Ok((set_to_py(a.already_have), set_to_py(a.allocated)))
    }

    /// Writes ``data`` at ``offset`` of an upload; returns whether every byte is now
    /// written. ``now`` is the time of the write (default: the clock).
    #[pyo3(signature = (storage_index, sharenum, upload_secret, offset, data, *, now=None))]
    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        py: Python<'_>,
        storage_index: BytesLike<'_>,
        sharenum: Int<'_>,
        upload_secret: BytesLike<'_>,
        offset: Int<'_>,
        data: BytesLike<'_>,
        now: Option<Int<'_>>,
    ) -> PyResult<bool> {
        let (si, n, secret) = upload_args(&storage_index, &sharenum, &upload_secret)?;
        let (offset, now) = (offset.to::<u64>("offset")?, now_or(now.as_ref())?);
        let data = data.as_slice();
        self.with_core(py, |s| s.write(&si, n, &secret, offset, data, now))
    }

    /// The ranges of an upload not yet written, as (start, end) pairs.
    fn required_ranges(
        &self,
        py: Python<'_>,
        storage_index: BytesLike<'_>,
        sharenum: Int<'_>,
        upload_secret: BytesLike<'_>,
    ) -> PyResult<Vec<(u64, u64)>> {
        let (si, n, secret) = upload_args(&storage_index, &sharenum, &upload_secret)?;
        let ranges = self.with_core(py, |s| s.required_ranges(&si, n, &secret))?;
        Ok(ranges.into_iter().map(|r| (r.start, r.end)).collect())
    }

    /// Publishes an upload; returns the size of the share file.
    fn close(
        &self,
        py: Python<'_>,
        storage_index: BytesLike<'_>,
        sharenum: Int<'_>,
        upload_secret: BytesLike<'_>,
    ) -> PyResult<u64> {
        let (si, n, secret) = upload_args(&storage_index, &sharenum, &upload_secret)?;
        self.with_core(py, |s| s.close(&si, n, &secret))
    }

    /// Abandons an upload.
    fn abort(
        &self,
        py: Python<'_>,
        storage_index: BytesLike<'_>,
        sharenum: Int<'_>,
        upload_secret: BytesLike<'_>,
    ) -> PyResult<()> {
        let (si, n, secret) = upload_args(&storage_index, &sharenum, &upload_secret)?;
        self.with_core(py, |s| s.abort(&si, n, &secret))
    }

    /// Aborts uploads idle for ``upload_idle_timeout`` at ``now`` (default: the clock);
    /// returns their (storage index, share number) pairs.
    #[pyo3(signature = (now=None))]
    fn expire_stale_uploads<'py>(
        &self,
        py: Python<'py>,
        now: Option<Int<'_>>,
    ) -> PyResult<Vec<(Bound<'py, PyBytes>, u8)>> {
        let now = now_or(now.as_ref())?;
        let mut expired = Vec::new();
        self.with_core(py, |s| {
            s.expire_stale_uploads(now, |si, n| expired.push((si, n)))
        })?;
        Ok(expired
            .into_iter()
            .map(|(si, n)| (PyBytes::new(py, si.as_bytes()), n.0))
            .collect())
    }

    /// Whether an upload of that share is in progress.
    fn upload_in_progress(
        &self,
        py: Python<'_>,
        storage_index: BytesLike<'_>,
        sharenum: Int<'_>,
    ) -> PyResult<bool> {
        let (si, n) = share_args(&storage_index, &sharenum)?;
        self.with_core(py, |s| Ok(s.upload_in_progress(&si, n)))
    }

    /// The share numbers held for a storage index.
    fn shares(&self, py: Python<'_>, storage_index: BytesLike<'_>) -> PyResult<HashSet<u8>> {
        let si = si(&storage_index)?;
        Ok(set_to_py(self.with_core(py, |s| s.shares(&si))?))
    }

    /// Reads up to ``length`` bytes at ``offset`` of an immutable share's data, truncated
    /// at its end.
    fn read<'py>(
        &self,
        py: Python<'py>,
        storage_index: BytesLike<'_>,
        sharenum: Int<'_>,
        offset: Int<'_>,
        length: Int<'_>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let (si, n) = share_args(&storage_index, &sharenum)?;
        let (offset, length) = (offset.to::<u64>("offset")?, length.to::<u64>("length")?);
        let data = self.with_core(py, |s| {
            let reader = s.open_bucket(&si, n)?;
            s.read_bucket_vec(&reader, offset, length)
        })?;
        Ok(PyBytes::new(py, &data))
    }

    /// Opens a reader on one immutable share. The reader holds no open file: each read
    /// opens the share, so a reader of a share deleted since raises `NoSuchShare`.
    fn open_bucket(
        slf: &Bound<'_, Self>,
        py: Python<'_>,
        storage_index: BytesLike<'_>,
        sharenum: Int<'_>,
    ) -> PyResult<BucketReader> {
        let (si, n) = share_args(&storage_index, &sharenum)?;
        let reader = slf.get().with_core(py, |s| s.open_bucket(&si, n))?;
        Ok(BucketReader {
            server: slf.clone().unbind(),
            reader,
        })
    }

    /// Bytes of data in an immutable share.
    fn immutable_share_length(
        &self,
        py: Python<'_>,
        storage_index: BytesLike<'_>,
        sharenum: Int<'_>,
    ) -> PyResult<u64> {
        let (si, n) = share_args(&storage_index, &sharenum)?;
        self.with_core(py, |s| s.immutable_share_length(&si, n))
    }

    /// Bytes of data in a mutable share.
    fn mutable_share_length(
        &self,
        py: Python<'_>,
        storage_index: BytesLike<'_>,
        sharenum: Int<'_>,
    ) -> PyResult<u64> {
        let (si, n) = share_args(&storage_index, &sharenum)?;
        self.with_core(py, |s| s.mutable_share_length(&si, n))
    }

    /// Facts about one share: `kind`, `data_length`, `container_size`, `num_leases`,
    /// `earliest_expiration`, `latest_expiration`, and `damage` (what is wrong with a share
    /// that still reads, e.g. an immutable share cut short; None when intact).
    fn stat_share<'py>(
        &self,
        py: Python<'py>,
        storage_index: BytesLike<'_>,
        sharenum: Int<'_>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (si, n) = share_args(&storage_index, &sharenum)?;
        let st = self.with_core(py, |s| s.stat_share(&si, n))?;
        let d = PyDict::new(py);
        d.set_item("kind", kind_name(st.kind))?;
        d.set_item("data_length", st.data_length)?;
        d.set_item("container_size", st.container_size)?;
        d.set_item("num_leases", st.num_leases)?;
        d.set_item("earliest_expiration", st.earliest_expiration)?;
        d.set_item("latest_expiration", st.latest_expiration)?;
        d.set_item("damage", st.damage.map(|c| c.to_string()))?;
        Ok(d)
    }

    /// Adds or renews a lease on every share; returns how many shares carry it.
    /// ``owner_num`` is the lease owner number (default 1); ``now`` the time (default:
    /// the clock).
    #[pyo3(
        signature = (storage_index, renew_secret, cancel_secret, *, owner_num=None, now=None),
        text_signature = "($self, storage_index, renew_secret, cancel_secret, *, owner_num=1, now=None)"
    )]
    fn add_lease(
        &self,
        py: Python<'_>,
        storage_index: BytesLike<'_>,
        renew_secret: BytesLike<'_>,
        cancel_secret: BytesLike<'_>,
        owner_num: Option<Int<'_>>,
        now: Option<Int<'_>>,
    ) -> PyResult<usize> {
        let si = si(&storage_index)?;
        let renew = RenewSecret::from_bytes(renew_secret.as_slice());
        let cancel = CancelSecret::from_bytes(cancel_secret.as_slice());
        let owner_num = opt(owner_num.as_ref(), "owner_num")?.unwrap_or(1);
        let now = now_or(now.as_ref())?;
        self.with_core(py, |s| s.add_lease(&si, &renew, &cancel, owner_num, now))
    }

    /// Renews the matching lease on every share; ``now`` is the time (default: the
    /// clock).
    #[pyo3(signature = (storage_index, renew_secret, *, now=None))]
    fn renew_lease(
        &self,
        py: Python<'_>,
        storage_index: BytesLike<'_>,
        renew_secret: BytesLike<'_>,
        now: Option<Int<'_>>,
    ) -> PyResult<()> {
        let si = si(&storage_index)?;
        let renew = RenewSecret::from_bytes(renew_secret.as_slice());
        let now = now_or(now.as_ref())?;
        self.with_core(py, |s| s.renew_lease(&si, &renew, now))
    }

    /// Cancels matching leases (deleting shares left without one); returns bytes freed.
    fn cancel_lease(
        &self,
        py: Python<'_>,
        storage_index: BytesLike<'_>,
        cancel_secret: BytesLike<'_>,
    ) -> PyResult<u64> {
        let si = si(&storage_index)?;
        let cancel = CancelSecret::from_bytes(cancel_secret.as_slice());
        self.with_core(py, |s| s.cancel_lease(&si, &cancel))
    }

    /// Every lease of a storage index, as (share number, kind, owner number, expiry,
    /// accepting node id or None; immutable leases record none).
    fn leases<'py>(
        &self,
        py: Python<'py>,
        storage_index: BytesLike<'_>,
    ) -> PyResult<Vec<LeaseTuple<'py>>> {
        let si = si(&storage_index)?;
        let mut out = Vec::new();
        self.with_core(py, |s| {
            s.for_each_lease(&si, |n, kind, l| {
                out.push((
                    n.0,
                    kind_name(kind),
                    l.owner_num,
                    l.expiration_time,
                    l.nodeid,
                ));
                true
            })
        })?;
        Ok(out
            .into_iter()
            .map(|(n, k, o, e, id)| (n, k, o, e, id.map(|id| PyBytes::new(py, &id.0))))
            .collect())
    }

    /// Tahoe's `slot_testv_and_readv_and_writev`. ``secrets`` is (write enabler, renew
    /// secret, cancel secret); ``tw_vectors`` maps share numbers to (test vector, write
    /// vector, new length), as a ``dict`` (Tahoe's form) or a sequence of pairs; tests
    /// are (offset, length, operator, specimen), writes (offset, data). ``renew_leases``
    /// says whether to add or renew the lease; ``now`` is the time (default: the clock).
    /// Returns (passed, {share number: [bytes per read]}).
    #[pyo3(signature = (storage_index, secrets, tw_vectors, read_vector, *, renew_leases=true, now=None))]
    fn slot_testv_and_readv_and_writev<'py>(
        &self,
        py: Python<'py>,
        storage_index: BytesLike<'_>,
        secrets: (BytesLike<'_>, BytesLike<'_>, BytesLike<'_>),
        tw_vectors: &Bound<'py, PyAny>,
        read_vector: &Bound<'py, PyAny>,
        renew_leases: bool,
        now: Option<Int<'_>>,
    ) -> PyResult<(bool, PyReads<'py>)> {
        let si = si(&storage_index)?;
        let secrets = SlotSecrets {
            write_enabler: WriteEnabler::from_bytes(secrets.0.as_slice()),
            renew: RenewSecret::from_bytes(secrets.1.as_slice()),
            cancel: CancelSecret::from_bytes(secrets.2.as_slice()),
        };
        let entries = args::tw_vectors(tw_vectors, "tw_vectors")?;
        let read_vector = args::read_vector(read_vector, "read_vector")?;
        let mut vectors = SlotWrites::new();
        for e in &entries {
            let mut share = vectors.share(u32::from(e.share.0), e.new_length);
            for t in &e.tests {
                share.test(t.offset, t.length, t.operator, t.specimen.as_slice());
            }
            for (offset, data) in &e.writes {
                share.write(*offset, data.as_slice());
            }
        }
        let writes = vectors
            .build()
            .map_err(|e| to_py(py, CoreError::from(e), self.context()))?;
        let now = now_or(now.as_ref())?;
        let outcome = self.with_core(py, |s| {
            s.slot_testv_and_readv_and_writev(
                &si,
                &secrets,
                &writes,
                &read_vector,
                LeaseUpdate::from(renew_leases),
                now,
            )
        })?;
        Ok((outcome.passed, reads_to_py(py, outcome.reads)))
    }

    /// Tahoe's `slot_readv`: {share number: [bytes per read]}. ``shares`` is any iterable
    /// of share numbers (empty means all); ``read_vector`` (offset, length) pairs.
    fn slot_readv<'py>(
        &self,
        py: Python<'py>,
        storage_index: BytesLike<'_>,
        shares: &Bound<'py, PyAny>,
        read_vector: &Bound<'py, PyAny>,
    ) -> PyResult<PyReads<'py>> {
        let si = si(&storage_index)?;
        let set = args::share_set(shares, "shares")?;
        let read_vector = args::read_vector(read_vector, "read_vector")?;
        let reads = self.with_core(py, |s| s.slot_readv(&si, &set, &read_vector))?;
        Ok(reads_to_py(py, reads))
    }

    /// Records a corruption advisory; returns "recorded", "not-held" or "no-space".
    /// ``now`` dates the report (default: the clock).
    #[pyo3(signature = (share_type, storage_index, sharenum, reason, *, now=None))]
    fn advise_corrupt_share(
        &self,
        py: Python<'_>,
        share_type: BytesLike<'_>,
        storage_index: BytesLike<'_>,
        sharenum: Int<'_>,
        reason: BytesLike<'_>,
        now: Option<Int<'_>>,
    ) -> PyResult<&'static str> {
        let (si, now) = (si(&storage_index)?, now_or(now.as_ref())?);
        // A negative number, or one past 64 bits, names no share, as one above 255 does:
        // the core answers that it is not held.
        let n = sharenum.to::<u64>("sharenum").unwrap_or(u64::MAX);
        let (share_type, reason) = (share_type.as_slice(), reason.as_slice());
        self.with_core(py, |s| {
            let outcome = s.advise_corrupt_share(share_type, &si, n, reason, now)?;
            match outcome {
                AdviseOutcome::Recorded => Ok("recorded"),
                AdviseOutcome::NotHeld => Ok("not-held"),
                AdviseOutcome::NoSpace => Ok("no-space"),
                // An outcome the core added and this mapping does not know yet.
                _ => Err(CoreError::Bug(
                    "advise outcome unknown to the Python binding",
                )),
            }
        })
    }
}

fn reads_to_py(py: Python<'_>, reads: server::ReadResults) -> PyReads<'_> {
    reads
        .into_iter()
        .map(|(n, v)| (n.0, v.iter().map(|b| PyBytes::new(py, b)).collect()))
        .collect()
}

/// An upload in progress, as ``Server.uploads()`` lists it.
#[pyclass(frozen, get_all, module = "tahoe_shares._native")]
struct UploadInfo {
    /// The storage index.
    storage_index: Py<PyBytes>,
    /// The share number.
    sharenum: u8,
    /// Bytes allocated.
    allocated_size: u64,
    /// Bytes written so far (overlaps counted once).
    written: u64,
    /// When it was last written (or allocated, or resumed), seconds since the epoch.
    last_activity: u64,
}

#[pymethods]
impl UploadInfo {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "UploadInfo(storage_index={}, sharenum={}, allocated_size={}, written={}, \
             last_activity={})",
            self.storage_index.bind(py).repr()?,
            self.sharenum,
            self.allocated_size,
            self.written,
            self.last_activity
        ))
    }
}

/// A reader of one immutable share. It holds no open file: each read opens the share
/// through its server (as Tahoe's reader opens its file per read), so readers pin no file
/// descriptors, and a share deleted since raises `NoSuchShare`; after the server's
/// `shutdown()` it raises `ServerClosed`.
#[pyclass(frozen, module = "tahoe_shares._native")]
struct BucketReader {
    server: Py<Server>,
    reader: server::BucketReader,
}

#[pymethods]
impl BucketReader {
    /// Bytes of share data when the reader was opened.
    fn length(&self) -> u64 {
        self.reader.length()
    }

    /// Reads up to `length` bytes at `offset`, truncated at the end of the data.
    fn read<'py>(
        &self,
        py: Python<'py>,
        offset: Int<'_>,
        length: Int<'_>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let (offset, length) = (offset.to::<u64>("offset")?, length.to::<u64>("length")?);
        let reader = self.reader;
        let server = self.server.get();
        // The bytes are read straight into the `bytes` object returned (sized by the
        // length the reader saw at opening, as `read_bucket_vec` sizes its vector), not
        // into a vector copied into one: a 128 KiB read saves an allocation and a copy.
        let wanted = length.min(reader.length().saturating_sub(offset));
        let wanted = usize::try_from(wanted).map_err(|_| {
            to_py(
                py,
                CoreError::InvalidArgument("read length"),
                server.context(),
            )
        })?;
        let mut got = 0;
        let data = PyBytes::new_with(py, wanted, |buf| {
            got = server.with_core(py, |s| s.read_bucket(&reader, offset, buf))?;
            Ok(())
        })?;
        if got == wanted {
            return Ok(data);
        }
        // A share cut short since it was opened reads what it holds.
        let held = data.as_bytes().get(..got).unwrap_or_default();
        Ok(PyBytes::new(py, held))
    }
}

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Server>()?;
    m.add_class::<BucketReader>()?;
    m.add_class::<UploadInfo>()?;
    set_server_signature(m.py(), &m.py().get_type::<Server>())?;
    errors::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

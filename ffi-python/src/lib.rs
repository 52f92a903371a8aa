//! `tahoe_shares._native`: the Python binding of the tahoe-shares server.
//!
//! Each function checks and converts its arguments, calls one core function with the GIL
//! released, and converts the result. The Pythonic layer (`tahoe_shares`) and Tahoe's
//! drop-in (`tahoe_shares.tahoe`) are written in Python on top of it.

// The binding is a std crate: the core-over-std preferences of the no_std core do not
// apply here.
#![allow(clippy::std_instead_of_core, clippy::alloc_instead_of_core)]

mod errors;
mod store;

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use tahoe_shares::container::{TestOperator, TestVector};
use tahoe_shares::format::ShareKind;
use tahoe_shares::server::{self, AdviseOutcome, AllocateRequest, Config, SlotSecrets, SlotWrite};
use tahoe_shares::store::{Durability, FsStore};
use tahoe_shares::{
    CancelSecret, NodeId, RenewSecret, ShareNumber, ShareSet, StorageIndex, UploadSecret,
    WriteEnabler,
};

use crate::errors::{to_py, InvalidArgument};
use crate::store::{NativeError, NativeStore};

type CoreServer = server::Server<NativeStore>;

fn invalid(what: &str) -> PyErr {
    InvalidArgument::new_err(what.to_owned())
}

fn si(bytes: &[u8]) -> PyResult<StorageIndex> {
    StorageIndex::from_slice(bytes).map_err(|_| invalid("a storage index is 16 bytes"))
}

fn shnum(n: i64) -> PyResult<ShareNumber> {
    u8::try_from(n)
        .map(ShareNumber)
        .map_err(|_| invalid("share numbers are 0 to 255"))
}

fn shares(ns: &HashSet<i64>) -> PyResult<ShareSet> {
    let mut set = ShareSet::new();
    for &n in ns {
        set.insert(shnum(n)?);
    }
    Ok(set)
}

fn set_to_py(set: ShareSet) -> HashSet<u8> {
    set.iter().map(|n| n.0).collect()
}

fn to_upload_secret(bytes: &[u8]) -> PyResult<UploadSecret> {
    UploadSecret::new(bytes).map_err(|_| invalid("an upload secret is not empty"))
}

fn now_or(now: Option<u64>) -> u64 {
    now.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    })
}

fn kind_name(kind: ShareKind) -> &'static str {
    match kind {
        ShareKind::Immutable => "immutable",
        ShareKind::Mutable => "mutable",
    }
}

/// A Tahoe storage server over a storage directory or a Python share store.
///
/// Every method may be called from any thread; calls are serialised, and the GIL is
/// released while the server works (a Python store's methods take it back to run).
#[pyclass(frozen, module = "tahoe_shares._native")]
struct Server {
    inner: Mutex<CoreServer>,
}

impl Server {
    fn lock(&self) -> PyResult<MutexGuard<'_, CoreServer>> {
        // A poisoned lock means a panic inside the core, which never happens by design;
        // refuse further work rather than continue on a state of unknown shape.
        self.inner
            .lock()
            .map_err(|_| errors::InternalError::new_err("server lock poisoned"))
    }

    fn run<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut CoreServer) -> tahoe_shares::Result<T, NativeError> + Send,
    ) -> PyResult<T> {
        py.allow_threads(|| {
            let mut guard = self.lock()?;
            f(&mut guard).map_err(to_py)
        })
    }
}

/// A lease as Python sees it.
type LeaseTuple<'py> = (u8, &'static str, u32, u32, Option<Bound<'py, PyBytes>>);
/// Read results as Python sees them: `{share number: [bytes per read]}`.
type PyReads<'py> = HashMap<u8, Vec<Bound<'py, PyBytes>>>;
type Testv = (u64, u64, Vec<u8>, Vec<u8>);
type Datav = (u64, Vec<u8>);
type TwEntry = (Vec<Testv>, Vec<Datav>, Option<u64>);

// Python signatures are Tahoe's (storage index, share number, secret, offset, data, now...).
#[allow(clippy::too_many_arguments)]
#[pymethods]
impl Server {
    /// Opens a server. `storage` is a storage directory (Tahoe's `storage/`) or an object
    /// implementing `tahoe_shares.store.ShareStore`.
    #[new]
    #[pyo3(signature = (
        storage, nodeid, *, now=None, reserved_space=0, readonly=false, discard_storage=false,
        lease_duration=31*24*60*60, upload_idle_timeout=30*60, max_uploads=65_536,
        max_ranges_per_upload=4096, max_advisory_size=256*1024, resume_uploads=false,
        mutable_writes_respect_space=false, durable=true, available_space=None
    ))]
    #[allow(clippy::too_many_arguments, clippy::fn_params_excessive_bools)]
    fn new(
        py: Python<'_>,
        storage: &Bound<'_, PyAny>,
        nodeid: &[u8],
        now: Option<u64>,
        reserved_space: u64,
        readonly: bool,
        discard_storage: bool,
        lease_duration: u32,
        upload_idle_timeout: u64,
        max_uploads: usize,
        max_ranges_per_upload: usize,
        max_advisory_size: usize,
        resume_uploads: bool,
        mutable_writes_respect_space: bool,
        durable: bool,
        available_space: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let nodeid = NodeId(
            nodeid
                .try_into()
                .map_err(|_| invalid("a node id is 20 bytes"))?,
        );
        let store = if let Ok(path) = storage.extract::<std::path::PathBuf>() {
            let durability = if durable {
                Durability::Durable
            } else {
                Durability::Tahoe
            };
            let fs = py
                .allow_threads(|| FsStore::open(path, durability))
                .map_err(|e| to_py(e.map_io(NativeError::Os)))?;
            NativeStore::Fs {
                store: fs,
                space: available_space,
            }
        } else {
            NativeStore::Python(storage.clone().unbind())
        };
        let config = Config {
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
        };
        let now = now_or(now);
        let server = py
            .allow_threads(|| CoreServer::new(store, nodeid, config, now))
            .map_err(to_py)?;
        Ok(Self {
            inner: Mutex::new(server),
        })
    }

    /// The free space for shares (after the reserve; 0 when read-only), or None.
    fn available_space(&self, py: Python<'_>) -> PyResult<Option<u64>> {
        self.run(py, server::Server::available_space)
    }

    /// Bytes reserved by uploads in progress.
    fn allocated_size(&self) -> PyResult<u64> {
        Ok(self.lock()?.allocated_size())
    }

    /// The version record, with Tahoe's keys.
    fn version<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let v = self.run(py, server::Server::version)?;
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
    /// secret).
    #[pyo3(signature = (storage_index, renew_secret, cancel_secret, sharenums, allocated_size, upload_secret, *, owner_num=0, renew_leases=true, now=None))]
    #[allow(clippy::too_many_arguments)]
    fn allocate_buckets(
        &self,
        py: Python<'_>,
        storage_index: &[u8],
        renew_secret: &[u8],
        cancel_secret: &[u8],
        sharenums: &Bound<'_, PyAny>,
        allocated_size: u64,
        upload_secret: &[u8],
        owner_num: u32,
        renew_leases: bool,
        now: Option<u64>,
    ) -> PyResult<(HashSet<u8>, HashSet<u8>)> {
        let req = AllocateRequest {
            storage_index: si(storage_index)?,
            renew_secret: RenewSecret::from_bytes(renew_secret),
            cancel_secret: CancelSecret::from_bytes(cancel_secret),
            share_numbers: shares(&sharenums.extract::<HashSet<i64>>()?)?,
            allocated_size,
            owner_num,
            renew_leases,
            upload_secret: to_upload_secret(upload_secret)?,
        };
        let now = now_or(now);
        let a = self.run(py, |s| s.allocate_buckets(&req, now))?;
        Ok((set_to_py(a.already_have), set_to_py(a.allocated)))
    }

    /// Writes to an upload; returns whether every byte is now written.
    #[pyo3(signature = (storage_index, sharenum, upload_secret, offset, data, *, now=None))]
    fn write(
        &self,
        py: Python<'_>,
        storage_index: &[u8],
        sharenum: i64,
        upload_secret: &[u8],
        offset: u64,
        data: &[u8],
        now: Option<u64>,
    ) -> PyResult<bool> {
        let (si, n, secret, now) = (
            si(storage_index)?,
            shnum(sharenum)?,
            to_upload_secret(upload_secret)?,
            now_or(now),
        );
        self.run(py, |s| s.write(&si, n, &secret, offset, data, now))
    }

    /// The ranges of an upload not yet written, as (start, end) pairs.
    fn required_ranges(
        &self,
        py: Python<'_>,
        storage_index: &[u8],
        sharenum: i64,
        upload_secret: &[u8],
    ) -> PyResult<Vec<(u64, u64)>> {
        let (si, n, secret) = (
            si(storage_index)?,
            shnum(sharenum)?,
            to_upload_secret(upload_secret)?,
        );
        let ranges = self.run(py, |s| s.required_ranges(&si, n, &secret))?;
        Ok(ranges.into_iter().map(|r| (r.start, r.end)).collect())
    }

    /// Publishes an upload; returns the size of the share file.
    fn close(
        &self,
        py: Python<'_>,
        storage_index: &[u8],
        sharenum: i64,
        upload_secret: &[u8],
    ) -> PyResult<u64> {
        let (si, n, secret) = (
            si(storage_index)?,
            shnum(sharenum)?,
            to_upload_secret(upload_secret)?,
        );
        self.run(py, |s| s.close(&si, n, &secret))
    }

    /// Abandons an upload.
    fn abort(
        &self,
        py: Python<'_>,
        storage_index: &[u8],
        sharenum: i64,
        upload_secret: &[u8],
    ) -> PyResult<()> {
        let (si, n, secret) = (
            si(storage_index)?,
            shnum(sharenum)?,
            to_upload_secret(upload_secret)?,
        );
        self.run(py, |s| s.abort(&si, n, &secret))
    }

    /// Aborts uploads idle for the configured time; returns their (storage index, share
    /// number) pairs.
    #[pyo3(signature = (now=None))]
    fn expire_stale_uploads<'py>(
        &self,
        py: Python<'py>,
        now: Option<u64>,
    ) -> PyResult<Vec<(Bound<'py, PyBytes>, u8)>> {
        let now = now_or(now);
        let mut expired = Vec::new();
        self.run(py, |s| {
            s.expire_stale_uploads(now, |si, n| expired.push((si, n)))
        })?;
        Ok(expired
            .into_iter()
            .map(|(si, n)| (PyBytes::new(py, si.as_bytes()), n.0))
            .collect())
    }

    /// Whether an upload of that share is in progress.
    fn upload_in_progress(&self, storage_index: &[u8], sharenum: i64) -> PyResult<bool> {
        Ok(self
            .lock()?
            .upload_in_progress(&si(storage_index)?, shnum(sharenum)?))
    }

    /// The share numbers held for a storage index.
    fn shares(&self, py: Python<'_>, storage_index: &[u8]) -> PyResult<HashSet<u8>> {
        let si = si(storage_index)?;
        Ok(set_to_py(self.run(py, |s| s.shares(&si))?))
    }

    /// Reads an immutable share's data, truncated at its end.
    fn read<'py>(
        &self,
        py: Python<'py>,
        storage_index: &[u8],
        sharenum: i64,
        offset: u64,
        length: u64,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let (si, n) = (si(storage_index)?, shnum(sharenum)?);
        let data = self.run(py, |s| {
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
        storage_index: &[u8],
        sharenum: i64,
    ) -> PyResult<BucketReader> {
        let (si, n) = (si(storage_index)?, shnum(sharenum)?);
        let reader = slf.get().run(py, |s| s.open_bucket(&si, n))?;
        Ok(BucketReader {
            server: slf.clone().unbind(),
            reader,
        })
    }

    /// Bytes of data in an immutable share.
    fn immutable_share_length(
        &self,
        py: Python<'_>,
        storage_index: &[u8],
        sharenum: i64,
    ) -> PyResult<u64> {
        let (si, n) = (si(storage_index)?, shnum(sharenum)?);
        self.run(py, |s| s.immutable_share_length(&si, n))
    }

    /// Bytes of data in a mutable share.
    fn mutable_share_length(
        &self,
        py: Python<'_>,
        storage_index: &[u8],
        sharenum: i64,
    ) -> PyResult<u64> {
        let (si, n) = (si(storage_index)?, shnum(sharenum)?);
        self.run(py, |s| s.mutable_share_length(&si, n))
    }

    /// Facts about one share: `kind`, `data_length`, `container_size`, `num_leases`,
    /// `earliest_expiration`, `latest_expiration`, and `damage` (what is wrong with a share
    /// that still reads, e.g. an immutable share cut short; None when intact).
    fn stat_share<'py>(
        &self,
        py: Python<'py>,
        storage_index: &[u8],
        sharenum: i64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (si, n) = (si(storage_index)?, shnum(sharenum)?);
        let st = self.run(py, |s| s.stat_share(&si, n))?;
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
    #[pyo3(signature = (storage_index, renew_secret, cancel_secret, *, owner_num=1, now=None))]
    fn add_lease(
        &self,
        py: Python<'_>,
        storage_index: &[u8],
        renew_secret: &[u8],
        cancel_secret: &[u8],
        owner_num: u32,
        now: Option<u64>,
    ) -> PyResult<usize> {
        let si = si(storage_index)?;
        let renew = RenewSecret::from_bytes(renew_secret);
        let cancel = CancelSecret::from_bytes(cancel_secret);
        let now = now_or(now);
        self.run(py, |s| s.add_lease(&si, &renew, &cancel, owner_num, now))
    }

    /// Renews the matching lease on every share.
    #[pyo3(signature = (storage_index, renew_secret, *, now=None))]
    fn renew_lease(
        &self,
        py: Python<'_>,
        storage_index: &[u8],
        renew_secret: &[u8],
        now: Option<u64>,
    ) -> PyResult<()> {
        let si = si(storage_index)?;
        let renew = RenewSecret::from_bytes(renew_secret);
        let now = now_or(now);
        self.run(py, |s| s.renew_lease(&si, &renew, now))
    }

    /// Cancels matching leases (deleting shares left without one); returns bytes freed.
    fn cancel_lease(
        &self,
        py: Python<'_>,
        storage_index: &[u8],
        cancel_secret: &[u8],
    ) -> PyResult<u64> {
        let si = si(storage_index)?;
        let cancel = CancelSecret::from_bytes(cancel_secret);
        self.run(py, |s| s.cancel_lease(&si, &cancel))
    }

    /// Every lease of a storage index, as (share number, kind, owner number, expiry,
    /// accepting node id or None; immutable leases record none).
    fn leases<'py>(&self, py: Python<'py>, storage_index: &[u8]) -> PyResult<Vec<LeaseTuple<'py>>> {
        let si = si(storage_index)?;
        let mut out = Vec::new();
        self.run(py, |s| {
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

    /// Tahoe's `slot_testv_and_readv_and_writev`. `tw_vectors` maps share numbers to
    /// (test vector, write vector, new length); tests are (offset, length, operator,
    /// specimen). Returns (passed, {share number: [bytes per read]}).
    #[pyo3(signature = (storage_index, secrets, tw_vectors, read_vector, *, renew_leases=true, now=None))]
    #[allow(clippy::needless_pass_by_value)]
    fn slot_testv_and_readv_and_writev<'py>(
        &self,
        py: Python<'py>,
        storage_index: &[u8],
        secrets: (Vec<u8>, Vec<u8>, Vec<u8>),
        tw_vectors: Vec<(i64, TwEntry)>,
        read_vector: Vec<(u64, u64)>,
        renew_leases: bool,
        now: Option<u64>,
    ) -> PyResult<(bool, PyReads<'py>)> {
        let si = si(storage_index)?;
        let secrets = SlotSecrets {
            write_enabler: WriteEnabler::from_bytes(&secrets.0),
            renew: RenewSecret::from_bytes(&secrets.1),
            cancel: CancelSecret::from_bytes(&secrets.2),
        };
        let mut tests: Vec<Vec<TestVector<'_>>> = Vec::with_capacity(tw_vectors.len());
        let mut datas: Vec<Vec<(u64, &[u8])>> = Vec::with_capacity(tw_vectors.len());
        for (_, (testv, datav, _)) in &tw_vectors {
            let mut t = Vec::with_capacity(testv.len());
            for (offset, length, op, specimen) in testv {
                t.push(TestVector {
                    offset: *offset,
                    length: *length,
                    operator: TestOperator::parse::<NativeError>(op).map_err(to_py)?,
                    specimen,
                });
            }
            tests.push(t);
            datas.push(datav.iter().map(|(o, d)| (*o, d.as_slice())).collect());
        }
        let mut writes = Vec::with_capacity(tw_vectors.len());
        for (i, (n, (_, _, new_length))) in tw_vectors.iter().enumerate() {
            writes.push(SlotWrite {
                share_number: shnum(*n)?,
                tests: tests.get(i).map_or(&[], Vec::as_slice),
                writes: datas.get(i).map_or(&[], Vec::as_slice),
                new_length: *new_length,
            });
        }
        let now = now_or(now);
        let outcome = self.run(py, |s| {
            s.slot_testv_and_readv_and_writev(
                &si,
                &secrets,
                &writes,
                &read_vector,
                renew_leases,
                now,
            )
        })?;
        Ok((outcome.passed, reads_to_py(py, outcome.reads)))
    }

    /// Tahoe's `slot_readv`: {share number: [bytes per read]}; an empty `shares` means all.
    #[allow(clippy::needless_pass_by_value)]
    fn slot_readv<'py>(
        &self,
        py: Python<'py>,
        storage_index: &[u8],
        shares: HashSet<i64>,
        read_vector: Vec<(u64, u64)>,
    ) -> PyResult<PyReads<'py>> {
        let si = si(storage_index)?;
        let set = self::shares(&shares)?;
        let reads = self.run(py, |s| s.slot_readv(&si, &set, &read_vector))?;
        Ok(reads_to_py(py, reads))
    }

    /// Records a corruption advisory; returns "recorded", "not-held" or "no-space".
    #[pyo3(signature = (share_type, storage_index, sharenum, reason, *, now=None))]
    fn advise_corrupt_share(
        &self,
        py: Python<'_>,
        share_type: &[u8],
        storage_index: &[u8],
        sharenum: i64,
        reason: &[u8],
        now: Option<u64>,
    ) -> PyResult<&'static str> {
        let (si, now) = (si(storage_index)?, now_or(now));
        // A negative number names no share, as one above 255 does: the core drops both.
        let n = u64::try_from(sharenum).unwrap_or(u64::MAX);
        let outcome = self.run(py, |s| {
            s.advise_corrupt_share(share_type, &si, n, reason, now)
        })?;
        Ok(match outcome {
            AdviseOutcome::Recorded => "recorded",
            AdviseOutcome::NotHeld => "not-held",
            AdviseOutcome::NoSpace => "no-space",
        })
    }
}

fn reads_to_py(py: Python<'_>, reads: server::ReadResults) -> PyReads<'_> {
    reads
        .into_iter()
        .map(|(n, v)| (n.0, v.iter().map(|b| PyBytes::new(py, b)).collect()))
        .collect()
}

/// A reader of one immutable share. It holds no open file: each read opens the share
/// through its server (as Tahoe's reader opens its file per read), so readers pin no file
/// descriptors, and a share deleted since raises `NoSuchShare`.
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
        offset: u64,
        length: u64,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let reader = self.reader;
        let data = self
            .server
            .get()
            .run(py, |s| s.read_bucket_vec(&reader, offset, length))?;
        Ok(PyBytes::new(py, &data))
    }
}

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Server>()?;
    m.add_class::<BucketReader>()?;
    errors::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

//! The store behind a Python `Server`: Tahoe's filesystem layout, or any Python object
//! that implements the share-store protocol of `tahoe_shares.store.ShareStore`.

use std::fmt;

use pyo3::exceptions::{PyFileExistsError, PyFileNotFoundError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tahoe_shares::io::{ErrorKind, ErrorType, FileIo, IoError, ShareIo};
use tahoe_shares::store::{FsStore, ShareStore, StoreError, StoreResult};
use tahoe_shares::{ShareNumber, ShareSet, StorageIndex};

/// Why the backend failed.
#[derive(Debug)]
pub enum NativeError {
    /// The operating system.
    Os(std::io::Error),
    /// A Python store or share handle raised.
    Python(PyErr),
    /// A Python store answered something impossible.
    Protocol(&'static str),
}

impl fmt::Display for NativeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Os(e) => write!(f, "{e}"),
            Self::Python(e) => write!(f, "{e}"),
            Self::Protocol(what) => write!(f, "the Python store broke its protocol: {what}"),
        }
    }
}

impl std::error::Error for NativeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Os(e) => Some(e),
            Self::Python(e) => Some(e),
            Self::Protocol(_) => None,
        }
    }
}

impl IoError for NativeError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

type Result<T> = StoreResult<T, NativeError>;

fn os<T>(r: StoreResult<T, std::io::Error>) -> Result<T> {
    r.map_err(|e| e.map_io(NativeError::Os))
}

/// Maps an exception of a Python store: `FileExistsError` and `FileNotFoundError` are
/// the protocol's two expected answers.
fn py_err(e: PyErr) -> StoreError<NativeError> {
    Python::with_gil(|py| {
        if e.is_instance_of::<PyFileExistsError>(py) {
            StoreError::AlreadyExists
        } else if e.is_instance_of::<PyFileNotFoundError>(py) {
            StoreError::NoSuchShare
        } else {
            StoreError::Io(NativeError::Python(e))
        }
    })
}

/// A share device: a file, or a Python share handle.
#[derive(Debug)]
pub enum NativeIo {
    /// A file of the filesystem store.
    File(FileIo),
    /// An object with `size`, `read`, `write`, `truncate` and `sync`.
    Python(Py<PyAny>),
}

impl ErrorType for NativeIo {
    type Error = NativeError;
}

fn call_handle<T>(
    obj: &Py<PyAny>,
    f: impl FnOnce(&Bound<'_, PyAny>) -> PyResult<T>,
) -> std::result::Result<T, NativeError> {
    Python::with_gil(|py| f(obj.bind(py)).map_err(NativeError::Python))
}

impl ShareIo for NativeIo {
    fn len(&mut self) -> std::result::Result<u64, NativeError> {
        match self {
            Self::File(f) => f.len().map_err(NativeError::Os),
            Self::Python(h) => call_handle(h, |h| h.call_method0("size")?.extract()),
        }
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::result::Result<(), NativeError> {
        match self {
            Self::File(f) => f.read_at(offset, buf).map_err(NativeError::Os),
            Self::Python(h) => Python::with_gil(|py| {
                let got = h
                    .bind(py)
                    .call_method1("read", (offset, buf.len()))
                    .map_err(NativeError::Python)?;
                let bytes = got
                    .downcast::<PyBytes>()
                    .map_err(|_| NativeError::Protocol("read() must return bytes"))?
                    .as_bytes();
                if bytes.len() != buf.len() {
                    return Err(NativeError::Protocol(
                        "read() returned the wrong number of bytes",
                    ));
                }
                buf.copy_from_slice(bytes);
                Ok(())
            }),
        }
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> std::result::Result<(), NativeError> {
        match self {
            Self::File(f) => f.write_at(offset, data).map_err(NativeError::Os),
            Self::Python(h) => call_handle(h, |h| {
                h.call_method1("write", (offset, PyBytes::new(h.py(), data)))
                    .map(drop)
            }),
        }
    }

    fn set_len(&mut self, len: u64) -> std::result::Result<(), NativeError> {
        match self {
            Self::File(f) => f.set_len(len).map_err(NativeError::Os),
            Self::Python(h) => call_handle(h, |h| h.call_method1("truncate", (len,)).map(drop)),
        }
    }

    fn sync(&mut self) -> std::result::Result<(), NativeError> {
        match self {
            Self::File(f) => f.sync().map_err(NativeError::Os),
            Self::Python(h) => call_handle(h, |h| h.call_method0("sync").map(drop)),
        }
    }

    // The file store's write-ahead log (docs/format.md §5a) is the file's; a Python store
    // has none, and its container journals in the share.
    fn log_begin(&mut self, body_len: u64) -> std::result::Result<bool, NativeError> {
        match self {
            Self::File(f) => f.log_begin(body_len).map_err(NativeError::Os),
            Self::Python(_) => Ok(false),
        }
    }

    fn log_append(&mut self, bytes: &[u8]) -> std::result::Result<(), NativeError> {
        match self {
            Self::File(f) => f.log_append(bytes).map_err(NativeError::Os),
            Self::Python(_) => Err(NativeError::Protocol("a Python store keeps no log")),
        }
    }

    fn log_commit(
        &mut self,
        entries: u32,
        target_len: u64,
    ) -> std::result::Result<(), NativeError> {
        match self {
            Self::File(f) => f.log_commit(entries, target_len).map_err(NativeError::Os),
            Self::Python(_) => Err(NativeError::Protocol("a Python store keeps no log")),
        }
    }

    fn log_read(&mut self, offset: u64, buf: &mut [u8]) -> std::result::Result<(), NativeError> {
        match self {
            Self::File(f) => f.log_read(offset, buf).map_err(NativeError::Os),
            Self::Python(_) => Err(NativeError::Protocol("a Python store keeps no log")),
        }
    }

    fn log_applied(&mut self) -> std::result::Result<(), NativeError> {
        match self {
            Self::File(f) => f.log_applied().map_err(NativeError::Os),
            Self::Python(_) => Err(NativeError::Protocol("a Python store keeps no log")),
        }
    }
}

/// The store of a server.
#[derive(Debug)]
pub enum NativeStore {
    /// Tahoe's directory layout; `space`, when set, is a Python callable that answers
    /// the free space instead of statvfs (the drop-in passes Tahoe's own measurement).
    Fs {
        /// The store.
        store: FsStore,
        /// The optional free-space callable.
        space: Option<Py<PyAny>>,
    },
    /// A Python object implementing the store protocol.
    Python(Py<PyAny>),
}

fn si_bytes<'py>(py: Python<'py>, si: &StorageIndex) -> Bound<'py, PyBytes> {
    PyBytes::new(py, si.as_bytes())
}

fn share_set(obj: &Bound<'_, PyAny>) -> Result<ShareSet> {
    let mut set = ShareSet::new();
    for item in obj.try_iter().map_err(py_err)? {
        let n: i64 = item.and_then(|i| i.extract()).map_err(py_err)?;
        let n = u8::try_from(n)
            .map_err(|_| StoreError::Io(NativeError::Protocol("share number out of range")))?;
        set.insert(ShareNumber(n));
    }
    Ok(set)
}

/// A free-space answer of Python code: bytes, or None when it cannot tell.
fn space_answer(v: &Bound<'_, PyAny>) -> Result<Option<u64>> {
    if v.is_none() {
        return Ok(None);
    }
    // Tahoe's measurement can be negative when the reserve exceeds the free space.
    let n: i128 = v.extract().map_err(py_err)?;
    Ok(Some(u64::try_from(n.max(0)).unwrap_or(u64::MAX)))
}

impl NativeStore {
    fn py_call<T>(
        obj: &Py<PyAny>,
        f: impl FnOnce(Python<'_>, &Bound<'_, PyAny>) -> PyResult<T>,
    ) -> Result<T> {
        Python::with_gil(|py| f(py, obj.bind(py))).map_err(py_err)
    }

    fn py_handle(obj: &Bound<'_, PyAny>) -> Option<NativeIo> {
        if obj.is_none() {
            None
        } else {
            Some(NativeIo::Python(obj.clone().unbind()))
        }
    }
}

impl ShareStore for NativeStore {
    type Error = NativeError;
    type Io = NativeIo;

    fn open(&mut self, si: &StorageIndex, shnum: ShareNumber) -> Result<Option<NativeIo>> {
        match self {
            Self::Fs { store, .. } => Ok(os(store.open(si, shnum))?.map(NativeIo::File)),
            Self::Python(o) => Python::with_gil(|py| {
                let got = o
                    .bind(py)
                    .call_method1("open", (si_bytes(py, si), shnum.0))
                    .map_err(py_err)?;
                Ok(Self::py_handle(&got))
            }),
        }
    }

    fn list(&mut self, si: &StorageIndex) -> Result<ShareSet> {
        match self {
            Self::Fs { store, .. } => os(store.list(si)),
            Self::Python(o) => Python::with_gil(|py| {
                share_set(
                    &o.bind(py)
                        .call_method1("list", (si_bytes(py, si),))
                        .map_err(py_err)?,
                )
            }),
        }
    }

    fn create_incoming(&mut self, si: &StorageIndex, shnum: ShareNumber) -> Result<NativeIo> {
        match self {
            Self::Fs { store, .. } => os(store.create_incoming(si, shnum)).map(NativeIo::File),
            Self::Python(o) => Python::with_gil(|py| {
                let got = o
                    .bind(py)
                    .call_method1("create_incoming", (si_bytes(py, si), shnum.0))
                    .map_err(py_err)?;
                Self::py_handle(&got).ok_or(StoreError::Io(NativeError::Protocol(
                    "create_incoming() returned None",
                )))
            }),
        }
    }

    fn open_incoming(&mut self, si: &StorageIndex, shnum: ShareNumber) -> Result<Option<NativeIo>> {
        match self {
            Self::Fs { store, .. } => Ok(os(store.open_incoming(si, shnum))?.map(NativeIo::File)),
            Self::Python(o) => Python::with_gil(|py| {
                let got = o
                    .bind(py)
                    .call_method1("open_incoming", (si_bytes(py, si), shnum.0))
                    .map_err(py_err)?;
                Ok(Self::py_handle(&got))
            }),
        }
    }

    fn list_incoming(&mut self, si: &StorageIndex) -> Result<ShareSet> {
        match self {
            Self::Fs { store, .. } => os(store.list_incoming(si)),
            Self::Python(o) => Python::with_gil(|py| {
                share_set(
                    &o.bind(py)
                        .call_method1("list_incoming", (si_bytes(py, si),))
                        .map_err(py_err)?,
                )
            }),
        }
    }

    fn publish(&mut self, si: &StorageIndex, shnum: ShareNumber) -> Result<()> {
        match self {
            Self::Fs { store, .. } => os(store.publish(si, shnum)),
            Self::Python(o) => Self::py_call(o, |py, o| {
                o.call_method1("publish", (si_bytes(py, si), shnum.0))
                    .map(drop)
            }),
        }
    }

    fn abort(&mut self, si: &StorageIndex, shnum: ShareNumber) -> Result<()> {
        match self {
            Self::Fs { store, .. } => os(store.abort(si, shnum)),
            Self::Python(o) => Self::py_call(o, |py, o| {
                o.call_method1("abort", (si_bytes(py, si), shnum.0))
                    .map(drop)
            }),
        }
    }

    fn remove(&mut self, si: &StorageIndex, shnum: ShareNumber) -> Result<()> {
        match self {
            Self::Fs { store, .. } => os(store.remove(si, shnum)),
            Self::Python(o) => Self::py_call(o, |py, o| {
                o.call_method1("remove", (si_bytes(py, si), shnum.0))
                    .map(drop)
            }),
        }
    }

    fn put_upload_record(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
        record: &[u8],
    ) -> Result<()> {
        match self {
            Self::Fs { store, .. } => os(store.put_upload_record(si, shnum, record)),
            Self::Python(o) => Self::py_call(o, |py, o| {
                o.call_method1(
                    "put_upload_record",
                    (si_bytes(py, si), shnum.0, PyBytes::new(py, record)),
                )
                .map(drop)
            }),
        }
    }

    fn get_upload_record(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
        buf: &mut [u8],
    ) -> Result<Option<usize>> {
        match self {
            Self::Fs { store, .. } => os(store.get_upload_record(si, shnum, buf)),
            Self::Python(o) => Python::with_gil(|py| {
                let got = o
                    .bind(py)
                    .call_method1("get_upload_record", (si_bytes(py, si), shnum.0))
                    .map_err(py_err)?;
                if got.is_none() {
                    return Ok(None);
                }
                let bytes = got
                    .downcast::<PyBytes>()
                    .map_err(|_| {
                        StoreError::Io(NativeError::Protocol(
                            "get_upload_record() must return bytes or None",
                        ))
                    })?
                    .as_bytes();
                let dst = buf
                    .get_mut(..bytes.len())
                    .ok_or(StoreError::BufferTooSmall {
                        needed: bytes.len(),
                    })?;
                dst.copy_from_slice(bytes);
                Ok(Some(bytes.len()))
            }),
        }
    }

    fn is_read_only(&self) -> bool {
        match self {
            Self::Fs { store, .. } => store.read_only(),
            Self::Python(_) => false,
        }
    }

    /// ENOSPC or EDQUOT from the filesystem, or an `OSError` with either errno raised by a
    /// Python store or share handle: the server answers `NoSpace` for both.
    fn is_no_space(err: &NativeError) -> bool {
        match err {
            NativeError::Os(e) => FsStore::error_is_no_space(e),
            NativeError::Python(e) => Python::with_gil(|py| {
                e.is_instance_of::<pyo3::exceptions::PyOSError>(py)
                    && e.value(py)
                        .getattr("errno")
                        .and_then(|n| n.extract::<Option<i32>>())
                        .ok()
                        .flatten()
                        .is_some_and(|n| {
                            FsStore::error_is_no_space(&std::io::Error::from_raw_os_error(n))
                        })
            }),
            NativeError::Protocol(_) => false,
        }
    }

    fn available_space(&mut self) -> Result<Option<u64>> {
        // One GIL acquisition for the call and the conversion of its answer: the drop-in
        // asks twice per mutable write, from a call that released the GIL.
        match self {
            Self::Fs { store, space: None } => os(store.available_space()),
            Self::Fs { space: Some(f), .. } => {
                Python::with_gil(|py| space_answer(&f.bind(py).call0().map_err(py_err)?))
            }
            Self::Python(o) => Python::with_gil(|py| {
                space_answer(&o.bind(py).call_method0("available_space").map_err(py_err)?)
            }),
        }
    }

    fn write_advisory(&mut self, name: &str, body: &[u8]) -> Result<()> {
        match self {
            Self::Fs { store, .. } => os(store.write_advisory(name, body)),
            Self::Python(o) => Self::py_call(o, |py, o| {
                o.call_method1("write_advisory", (name, PyBytes::new(py, body)))
                    .map(drop)
            }),
        }
    }

    fn for_each_storage_index(&mut self, f: &mut dyn FnMut(StorageIndex) -> bool) -> Result<()> {
        match self {
            Self::Fs { store, .. } => os(store.for_each_storage_index(f)),
            Self::Python(o) => {
                let sis: Vec<Vec<u8>> = Self::py_call(o, |_, o| {
                    o.call_method0("storage_indexes")?
                        .try_iter()?
                        .map(|i| i.and_then(|i| i.extract()))
                        .collect()
                })?;
                let mut parsed = Vec::with_capacity(sis.len());
                for si in sis {
                    parsed.push(StorageIndex::from_slice(&si).map_err(|_| {
                        StoreError::Io(NativeError::Protocol("storage index must be 16 bytes"))
                    })?);
                }
                parsed.sort_by_key(StorageIndex::to_base32);
                for si in parsed {
                    if !f(si) {
                        break;
                    }
                }
                Ok(())
            }
        }
    }

    fn for_each_incoming(
        &mut self,
        f: &mut dyn FnMut(StorageIndex, ShareNumber) -> bool,
    ) -> Result<()> {
        match self {
            Self::Fs { store, .. } => os(store.for_each_incoming(f)),
            Self::Python(o) => {
                let items: Vec<(Vec<u8>, i64)> = Self::py_call(o, |_, o| {
                    o.call_method0("incoming")?
                        .try_iter()?
                        .map(|i| i.and_then(|i| i.extract()))
                        .collect()
                })?;
                for (si, n) in items {
                    let si = StorageIndex::from_slice(&si).map_err(|_| {
                        StoreError::Io(NativeError::Protocol("storage index must be 16 bytes"))
                    })?;
                    let n = u8::try_from(n).map_err(|_| {
                        StoreError::Io(NativeError::Protocol("share number out of range"))
                    })?;
                    if !f(si, ShareNumber(n)) {
                        break;
                    }
                }
                Ok(())
            }
        }
    }
}

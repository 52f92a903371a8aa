//! The exception tree: `tahoe_shares.Error` and one subclass per core error.
//!
//! Every class is created here with `__module__ == "tahoe_shares"` and its plain name as
//! `__qualname__`, so that tracebacks name it where users import it and `pickle` finds it
//! (`tahoe_shares/__init__.py` re-exports each). Two classes also derive from a built-in
//! exception, so that code written for the standard library catches them:
//! `IoError` is an `OSError` (with `errno`, `strerror` and `filename`), and
//! `InvalidArgument` and `ServerClosed` are `ValueError`s. Attributes beyond those of the
//! built-in bases (`StorageLocked.directory`, `StorageLocked.holder`) live in the
//! instance's `__dict__`, which `BaseException.__reduce__` pickles.

use std::path::{Path, PathBuf};

use pyo3::exceptions::{PyException, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBytes, PyDict, PyTuple, PyType};
use tahoe_shares::store::{FsError, FsStore};
use tahoe_shares::{Error as CoreError, ShareKind};

use crate::store::NativeError;

/// A built-in exception a class derives from besides `tahoe_shares.Error`.
#[derive(Clone, Copy)]
enum Builtin {
    None,
    OsError,
    ValueError,
}

/// One exception class of the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Error,
    IoError,
    CorruptShare,
    UnknownImmutableVersion,
    UnknownMutableMagic,
    NotAShare,
    DataTooLarge,
    ConflictingWrite,
    BadWriteEnabler,
    NoSpace,
    NoSuchLease,
    NoSuchShare,
    AlreadyExists,
    UnsupportedOperator,
    TooManyLeases,
    InvalidArgument,
    Poisoned,
    BadUploadSecret,
    NoSuchUpload,
    LimitReached,
    ReadOnly,
    StorageLocked,
    ServerClosed,
    InternalError,
}

impl Kind {
    /// Every class, `Error` first (it is the parent of the others).
    const ALL: [Self; 24] = [
        Self::Error,
        Self::IoError,
        Self::CorruptShare,
        Self::UnknownImmutableVersion,
        Self::UnknownMutableMagic,
        Self::NotAShare,
        Self::DataTooLarge,
        Self::ConflictingWrite,
        Self::BadWriteEnabler,
        Self::NoSpace,
        Self::NoSuchLease,
        Self::NoSuchShare,
        Self::AlreadyExists,
        Self::UnsupportedOperator,
        Self::TooManyLeases,
        Self::InvalidArgument,
        Self::Poisoned,
        Self::BadUploadSecret,
        Self::NoSuchUpload,
        Self::LimitReached,
        Self::ReadOnly,
        Self::StorageLocked,
        Self::ServerClosed,
        Self::InternalError,
    ];

    /// The class's name, second base and docstring.
    // One table of every class: long, but splitting it would scatter the tree.
    #[allow(clippy::too_many_lines)]
    fn spec(self) -> (&'static str, Builtin, &'static str) {
        use Builtin::{None as Plain, OsError, ValueError};
        match self {
            Self::Error => ("Error", Plain, "Base of every tahoe_shares error."),
            Self::IoError => (
                "IoError",
                OsError,
                "The storage backend failed; an OSError. For an operating-system error (or \
                 an OSError raised by a Python store) `errno`, `strerror` and `filename` are \
                 set: `filename` is the storage directory of a filesystem store, or the \
                 Python store's own filename. Other failures of a Python store carry only a \
                 message (`errno` None). The original exception is chained as `__cause__`.",
            ),
            Self::CorruptShare => (
                "CorruptShare",
                Plain,
                "A share container's bytes are malformed.",
            ),
            Self::UnknownImmutableVersion => (
                "UnknownImmutableVersion",
                Plain,
                "Not an immutable container of version 1 or 2 (Tahoe's \
                 UnknownImmutableContainerVersionError).",
            ),
            Self::UnknownMutableMagic => (
                "UnknownMutableMagic",
                Plain,
                "Not a mutable container (Tahoe's UnknownMutableContainerVersionError).",
            ),
            Self::NotAShare => (
                "NotAShare",
                Plain,
                "Something other than a regular share file stands where a share should be.",
            ),
            Self::DataTooLarge => (
                "DataTooLarge",
                Plain,
                "A write passes the allocated or maximum size (Tahoe's DataTooLargeError).",
            ),
            Self::ConflictingWrite => (
                "ConflictingWrite",
                Plain,
                "A write overlaps written bytes with different bytes (Tahoe's \
                 ConflictingWriteError).",
            ),
            Self::BadWriteEnabler => (
                "BadWriteEnabler",
                Plain,
                "The write enabler does not match (Tahoe's BadWriteEnablerError).",
            ),
            Self::NoSpace => ("NoSpace", Plain, "Not enough space (Tahoe's NoSpace)."),
            Self::NoSuchLease => ("NoSuchLease", Plain, "No lease matches the secret."),
            Self::NoSuchShare => ("NoSuchShare", Plain, "The share does not exist."),
            Self::AlreadyExists => (
                "AlreadyExists",
                Plain,
                "The share, or an upload of it, exists already.",
            ),
            Self::UnsupportedOperator => (
                "UnsupportedOperator",
                Plain,
                "A test vector operator other than eq.",
            ),
            Self::TooManyLeases => ("TooManyLeases", Plain, "The lease count would overflow."),
            Self::InvalidArgument => (
                "InvalidArgument",
                ValueError,
                "An argument is out of its domain (a ValueError; the message names the \
                 argument).",
            ),
            Self::Poisoned => (
                "Poisoned",
                Plain,
                "An earlier sync failed; the share accepts nothing until reopened.",
            ),
            Self::BadUploadSecret => (
                "BadUploadSecret",
                Plain,
                "The upload secret does not match.",
            ),
            Self::NoSuchUpload => (
                "NoSuchUpload",
                Plain,
                "No upload is in progress for that share.",
            ),
            Self::LimitReached => (
                "LimitReached",
                Plain,
                "A configured limit is reached; nothing changed.",
            ),
            Self::ReadOnly => ("ReadOnly", Plain, "The server is read-only."),
            Self::StorageLocked => (
                "StorageLocked",
                Plain,
                "The storage directory is served by another writer (another process, or \
                 another Server in this one). `directory` is the storage directory (None \
                 for a Python store); `holder` describes the holder where known, else None.",
            ),
            Self::ServerClosed => (
                "ServerClosed",
                ValueError,
                "The server was shut down (Server.shutdown() or the end of its `with` \
                 block); a ValueError, as an operation on a closed file is.",
            ),
            Self::InternalError => (
                "InternalError",
                Plain,
                "An internal invariant failed; please report it.",
            ),
        }
    }

    /// The class object (created on first use).
    fn class(self, py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
        static CLASSES: GILOnceCell<Vec<Py<PyType>>> = GILOnceCell::new();
        let classes = CLASSES.get_or_try_init(py, || create_classes(py))?;
        Self::ALL
            .iter()
            .position(|k| *k == self)
            .and_then(|i| classes.get(i))
            .map(|c| c.bind(py).clone())
            .ok_or_else(|| PyRuntimeError::new_err("exception class missing from Kind::ALL"))
    }

    /// A new exception of this class with `args`.
    fn call<'py>(
        self,
        py: Python<'py>,
        args: impl IntoPyObject<'py, Target = PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.class(py)?.call1(args)
    }
}

fn create_classes(py: Python<'_>) -> PyResult<Vec<Py<PyType>>> {
    let type_ = py.get_type::<PyType>();
    let mut out: Vec<Py<PyType>> = Vec::with_capacity(Kind::ALL.len());
    for kind in Kind::ALL {
        let (name, builtin, doc) = kind.spec();
        let bases = match (out.first(), builtin) {
            (None, _) => PyTuple::new(py, [py.get_type::<PyException>()])?,
            (Some(root), Builtin::None) => PyTuple::new(py, [root.bind(py).clone()])?,
            (Some(root), Builtin::OsError) => {
                PyTuple::new(py, [root.bind(py).clone(), py.get_type::<PyOSError>()])?
            }
            (Some(root), Builtin::ValueError) => {
                PyTuple::new(py, [root.bind(py).clone(), py.get_type::<PyValueError>()])?
            }
        };
        let ns = PyDict::new(py);
        ns.set_item("__module__", "tahoe_shares")?;
        ns.set_item("__qualname__", name)?;
        ns.set_item("__doc__", doc)?;
        let class = type_.call1((name, bases, ns))?.downcast_into::<PyType>()?;
        out.push(class.unbind());
    }
    Ok(out)
}

/// An exception of class `kind` with one message argument.
pub fn new_err(kind: Kind, msg: impl Into<String>) -> PyErr {
    let msg = msg.into();
    Python::with_gil(|py| match kind.class(py) {
        Ok(class) => PyErr::from_type(class, (msg,)),
        Err(e) => e,
    })
}

/// `tahoe_shares.InvalidArgument` with `msg`.
pub fn invalid(msg: impl Into<String>) -> PyErr {
    new_err(Kind::InvalidArgument, msg)
}

/// Where a Python error raised by the server's work came from: what the mapping adds to
/// the core's error.
#[derive(Clone, Copy, Default)]
pub struct Context<'a> {
    /// The storage directory of a filesystem store.
    pub directory: Option<&'a Path>,
}

/// The path an I/O error of the filesystem store is reported with (`IoError.filename`):
/// the file or directory `FsStore` failed on, or else the storage directory.
fn io_error_path(err: &std::io::Error, ctx: Context<'_>) -> Option<PathBuf> {
    FsError::path_of(err)
        .map(Path::to_path_buf)
        .or_else(|| ctx.directory.map(Path::to_path_buf))
}

/// The errno an I/O error of the filesystem store is reported with (`IoError.errno`):
/// `FsStore` wraps the OS error with its path, so the errno is read through the wrapper.
fn os_errno(err: &std::io::Error) -> Option<i32> {
    FsError::errno(err).or_else(|| err.raw_os_error())
}

/// Sets attributes on an exception's value (the context an error carries, for callers
/// such as the Tahoe drop-in). An attribute that cannot be set leaves the exception as it
/// is: the message still says everything.
fn with_attrs(
    py: Python<'_>,
    err: PyErr,
    set: impl FnOnce(&Bound<'_, pyo3::exceptions::PyBaseException>) -> PyResult<()>,
) -> PyErr {
    let _ = set(err.value(py));
    err
}

/// Converts a core error into the matching Python exception (the GIL held).
pub fn to_py(py: Python<'_>, e: CoreError<NativeError>, ctx: Context<'_>) -> PyErr {
    let msg = e.to_string();
    let kind = match e {
        CoreError::Io(NativeError::Python(inner)) => return python_io_error(py, inner),
        CoreError::Io(NativeError::Os(os)) => return os_io_error(py, os, ctx),
        CoreError::StorageLocked => return storage_locked(py, &msg, ctx),
        CoreError::Io(other) => return new_err(Kind::IoError, other.to_string()),
        CoreError::Corrupt(_) => Kind::CorruptShare,
        CoreError::UnknownImmutableVersion { share, version } => {
            return with_attrs(py, new_err(Kind::UnknownImmutableVersion, msg), |v| {
                v.setattr("share", share.map(|n| n.0))?;
                v.setattr("version", version)
            })
        }
        CoreError::UnknownMutableMagic { share, magic } => {
            return with_attrs(py, new_err(Kind::UnknownMutableMagic, msg), |v| {
                v.setattr("share", share.map(|n| n.0))?;
                v.setattr("magic", PyBytes::new(py, magic.as_bytes()))
            })
        }
        CoreError::NotUtf8 { field, error } => {
            // Where the text stops being UTF-8, for a caller that raises Python's own
            // `UnicodeDecodeError` (the drop-in, as Tahoe's decode does): the argument's
            // Python name, the offset, and the bad sequence's length (None: cut short).
            return with_attrs(py, new_err(Kind::InvalidArgument, msg), |v| {
                v.setattr("argument", field.replace(' ', "_"))?;
                v.setattr("start", error.valid_up_to())?;
                v.setattr("length", error.error_len())
            });
        }
        CoreError::NotAShare => Kind::NotAShare,
        CoreError::DataTooLarge { .. } => Kind::DataTooLarge,
        CoreError::ConflictingWrite { .. } => Kind::ConflictingWrite,
        CoreError::BadWriteEnabler { .. } => Kind::BadWriteEnabler,
        CoreError::NoSpace => Kind::NoSpace,
        CoreError::NoSuchLease {
            share,
            kind,
            accepted_by,
            ..
        } => {
            return with_attrs(py, new_err(Kind::NoSuchLease, msg), |v| {
                v.setattr("share", share.map(|n| n.0))?;
                v.setattr("kind", kind.map(ShareKind::name))?;
                let ids: Vec<Bound<'_, PyBytes>> = accepted_by
                    .iter()
                    .map(|id| PyBytes::new(py, &id.0))
                    .collect();
                v.setattr("accepted_by", ids)
            })
        }
        CoreError::NoSuchShare => Kind::NoSuchShare,
        CoreError::AlreadyExists => Kind::AlreadyExists,
        CoreError::UnsupportedOperator => Kind::UnsupportedOperator,
        CoreError::TooManyLeases => Kind::TooManyLeases,
        CoreError::InvalidArgument(_) | CoreError::BufferTooSmall { .. } => Kind::InvalidArgument,
        CoreError::Poisoned => Kind::Poisoned,
        CoreError::BadUploadSecret => Kind::BadUploadSecret,
        CoreError::NoSuchUpload => Kind::NoSuchUpload,
        CoreError::LimitReached(_) => Kind::LimitReached,
        CoreError::ReadOnly => Kind::ReadOnly,
        _ => Kind::InternalError,
    };
    new_err(kind, msg)
}

/// An `IoError` built from `args` (an exception while building it is returned instead),
/// with `cause` chained.
fn io_error<'py>(
    py: Python<'py>,
    args: impl IntoPyObject<'py, Target = PyTuple>,
    cause: PyErr,
) -> PyErr {
    match Kind::IoError.call(py, args) {
        Ok(value) => {
            let err = PyErr::from_value(value);
            err.set_cause(py, Some(cause));
            err
        }
        Err(e) => e,
    }
}

/// The operating system failed: `IoError(errno, strerror, filename)`, Python's own
/// `strerror` text for the errno.
fn os_io_error(py: Python<'_>, os: std::io::Error, ctx: Context<'_>) -> PyErr {
    let errno = os_errno(&os);
    let path = io_error_path(&os, ctx);
    let strerror = errno
        .and_then(|n| {
            py.import("os")
                .and_then(|m| m.call_method1("strerror", (n,)))
                .and_then(|s| s.extract::<String>())
                .ok()
        })
        .unwrap_or_else(|| os.to_string());
    let cause = PyErr::from(os);
    if errno.is_none() && path.is_none() {
        io_error(py, (strerror,), cause)
    } else {
        io_error(py, (errno, strerror, path), cause)
    }
}

/// A Python store raised: an `OSError` keeps its errno, strerror and filename; anything
/// else becomes a message. The store's exception is the cause either way.
fn python_io_error(py: Python<'_>, inner: PyErr) -> PyErr {
    let value = inner.value(py).clone();
    if inner.is_instance_of::<PyOSError>(py) {
        let field = |name: &str| value.getattr(name).ok().filter(|v| !v.is_none());
        let (errno, strerror, filename) = (field("errno"), field("strerror"), field("filename"));
        if errno.is_some() || strerror.is_some() {
            return io_error(py, (errno, strerror, filename), inner);
        }
    }
    io_error(py, (format!("storage callback failed: {inner}"),), inner)
}

/// `StorageLocked` naming the directory (`holder` is not known yet: None).
fn storage_locked(py: Python<'_>, msg: &str, ctx: Context<'_>) -> PyErr {
    let holder = ctx.directory.and_then(FsStore::lock_holder);
    let text = match (ctx.directory, &holder) {
        (Some(d), Some(h)) => format!("{msg}: {} (held by {h})", d.display()),
        (Some(d), None) => format!("{msg}: {}", d.display()),
        (None, _) => msg.to_owned(),
    };
    let built = Kind::StorageLocked.call(py, (text,)).and_then(|value| {
        value.setattr("directory", ctx.directory)?;
        value.setattr("holder", holder)?;
        Ok(value)
    });
    match built {
        Ok(value) => PyErr::from_value(value),
        Err(e) => e,
    }
}

/// Registers the exception classes on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    for kind in Kind::ALL {
        m.add(kind.spec().0, kind.class(m.py())?)?;
    }
    Ok(())
}

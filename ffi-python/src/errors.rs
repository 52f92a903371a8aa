//! The exception tree: `tahoe_shares.Error` and one subclass per core error.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tahoe_shares::{Error as CoreError, ShareKind};

use crate::store::NativeError;

create_exception!(
    _native,
    Error,
    PyException,
    "Base of every tahoe_shares error."
);
create_exception!(
    _native,
    IoError,
    Error,
    "The storage backend failed (the cause is chained)."
);
create_exception!(
    _native,
    CorruptShare,
    Error,
    "A share container's bytes are malformed."
);
create_exception!(
    _native,
    UnknownImmutableVersion,
    Error,
    "Not an immutable container of version 1 or 2 (Tahoe's UnknownImmutableContainerVersionError)."
);
create_exception!(
    _native,
    UnknownMutableMagic,
    Error,
    "Not a mutable container (Tahoe's UnknownMutableContainerVersionError)."
);
create_exception!(
    _native,
    NotAShare,
    Error,
    "Something other than a regular share file stands where a share should be."
);
create_exception!(
    _native,
    DataTooLarge,
    Error,
    "A write passes the allocated or maximum size (Tahoe's DataTooLargeError)."
);
create_exception!(
    _native,
    ConflictingWrite,
    Error,
    "A write overlaps written bytes with different bytes (Tahoe's ConflictingWriteError)."
);
create_exception!(
    _native,
    BadWriteEnabler,
    Error,
    "The write enabler does not match (Tahoe's BadWriteEnablerError)."
);
create_exception!(
    _native,
    NoSpace,
    Error,
    "Not enough space (Tahoe's NoSpace)."
);
create_exception!(_native, NoSuchLease, Error, "No lease matches the secret.");
create_exception!(_native, NoSuchShare, Error, "The share does not exist.");
create_exception!(
    _native,
    AlreadyExists,
    Error,
    "The share, or an upload of it, exists already."
);
create_exception!(
    _native,
    UnsupportedOperator,
    Error,
    "A test vector operator other than eq."
);
create_exception!(
    _native,
    TooManyLeases,
    Error,
    "The lease count would overflow."
);
create_exception!(
    _native,
    InvalidArgument,
    Error,
    "An argument is out of its domain."
);
create_exception!(
    _native,
    Poisoned,
    Error,
    "An earlier sync failed; the share accepts nothing until reopened."
);
create_exception!(
    _native,
    BadUploadSecret,
    Error,
    "The upload secret does not match."
);
create_exception!(
    _native,
    NoSuchUpload,
    Error,
    "No upload is in progress for that share."
);
create_exception!(
    _native,
    LimitReached,
    Error,
    "A configured limit is reached; nothing changed."
);
create_exception!(_native, ReadOnly, Error, "The server is read-only.");
create_exception!(
    _native,
    InternalError,
    Error,
    "An internal invariant failed; please report it."
);

/// Sets attributes on an exception's value (the context an error carries, for callers
/// such as the Tahoe drop-in). An attribute that cannot be set leaves the exception as
/// it is: the message still says everything.
fn with_attrs(
    err: PyErr,
    set: impl FnOnce(Python<'_>, &Bound<'_, pyo3::exceptions::PyBaseException>) -> PyResult<()>,
) -> PyErr {
    Python::with_gil(|py| {
        let _ = set(py, err.value(py));
    });
    err
}

/// Converts a core error into the matching Python exception.
pub fn to_py(e: CoreError<NativeError>) -> PyErr {
    let msg = e.to_string();
    match e {
        CoreError::Io(NativeError::Python(inner)) => {
            let err = IoError::new_err(format!("storage callback failed: {inner}"));
            Python::with_gil(|py| err.set_cause(py, Some(inner)));
            err
        }
        CoreError::Io(NativeError::Os(os)) => {
            let err = IoError::new_err(format!("I/O error: {os}"));
            Python::with_gil(|py| err.set_cause(py, Some(PyErr::from(os))));
            err
        }
        CoreError::Io(other) => IoError::new_err(format!("{other}")),
        CoreError::Corrupt(_) => CorruptShare::new_err(msg),
        CoreError::UnknownImmutableVersion { share, version } => {
            with_attrs(UnknownImmutableVersion::new_err(msg), |_, v| {
                v.setattr("share", share.map(|n| n.0))?;
                v.setattr("version", version)
            })
        }
        CoreError::UnknownMutableMagic { share, magic } => {
            with_attrs(UnknownMutableMagic::new_err(msg), |py, v| {
                v.setattr("share", share.map(|n| n.0))?;
                v.setattr("magic", PyBytes::new(py, magic.as_bytes()))
            })
        }
        CoreError::NotAShare => NotAShare::new_err(msg),
        CoreError::DataTooLarge { .. } => DataTooLarge::new_err(msg),
        CoreError::ConflictingWrite { .. } => ConflictingWrite::new_err(msg),
        CoreError::BadWriteEnabler { .. } => BadWriteEnabler::new_err(msg),
        CoreError::NoSpace => NoSpace::new_err(msg),
        CoreError::NoSuchLease {
            share,
            kind,
            accepted_by,
            ..
        } => with_attrs(NoSuchLease::new_err(msg), |py, v| {
            v.setattr("share", share.map(|n| n.0))?;
            v.setattr("kind", kind.map(ShareKind::name))?;
            let ids: Vec<Bound<'_, PyBytes>> = accepted_by
                .iter()
                .map(|id| PyBytes::new(py, &id.0))
                .collect();
            v.setattr("accepted_by", ids)
        }),
        CoreError::NoSuchShare => NoSuchShare::new_err(msg),
        CoreError::AlreadyExists => AlreadyExists::new_err(msg),
        CoreError::UnsupportedOperator => UnsupportedOperator::new_err(msg),
        CoreError::TooManyLeases => TooManyLeases::new_err(msg),
        CoreError::InvalidArgument(_) | CoreError::BufferTooSmall { .. } => {
            InvalidArgument::new_err(msg)
        }
        CoreError::Poisoned => Poisoned::new_err(msg),
        CoreError::BadUploadSecret => BadUploadSecret::new_err(msg),
        CoreError::NoSuchUpload => NoSuchUpload::new_err(msg),
        CoreError::LimitReached(_) => LimitReached::new_err(msg),
        CoreError::ReadOnly => ReadOnly::new_err(msg),
        _ => InternalError::new_err(msg),
    }
}

/// Registers the exception classes on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<Error>())?;
    m.add("IoError", py.get_type::<IoError>())?;
    m.add("CorruptShare", py.get_type::<CorruptShare>())?;
    m.add(
        "UnknownImmutableVersion",
        py.get_type::<UnknownImmutableVersion>(),
    )?;
    m.add("UnknownMutableMagic", py.get_type::<UnknownMutableMagic>())?;
    m.add("NotAShare", py.get_type::<NotAShare>())?;
    m.add("DataTooLarge", py.get_type::<DataTooLarge>())?;
    m.add("ConflictingWrite", py.get_type::<ConflictingWrite>())?;
    m.add("BadWriteEnabler", py.get_type::<BadWriteEnabler>())?;
    m.add("NoSpace", py.get_type::<NoSpace>())?;
    m.add("NoSuchLease", py.get_type::<NoSuchLease>())?;
    m.add("NoSuchShare", py.get_type::<NoSuchShare>())?;
    m.add("AlreadyExists", py.get_type::<AlreadyExists>())?;
    m.add("UnsupportedOperator", py.get_type::<UnsupportedOperator>())?;
    m.add("TooManyLeases", py.get_type::<TooManyLeases>())?;
    m.add("InvalidArgument", py.get_type::<InvalidArgument>())?;
    m.add("Poisoned", py.get_type::<Poisoned>())?;
    m.add("BadUploadSecret", py.get_type::<BadUploadSecret>())?;
    m.add("NoSuchUpload", py.get_type::<NoSuchUpload>())?;
    m.add("LimitReached", py.get_type::<LimitReached>())?;
    m.add("ReadOnly", py.get_type::<ReadOnly>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    Ok(())
}

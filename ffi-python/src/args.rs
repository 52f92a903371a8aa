//! Arguments as Tahoe's own callers pass them, converted to core types.
//!
//! Byte strings may be any bytes-like object (`bytes`, `bytearray`, `memoryview`...);
//! share numbers any iterable of integers; test-and-write vectors a `dict` or a sequence
//! of pairs; vectors any iterable of sequences. An integer outside its type's range is
//! `InvalidArgument` (a `ValueError`) naming the argument; a value of the wrong type is a
//! `TypeError` naming it.

use std::fmt::Display;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyInt, PyIterator, PyMemoryView, PyString};
use tahoe_shares::container::TestOperator;
use tahoe_shares::{ShareNumber, ShareSet};

use crate::errors::invalid;
use crate::store::NativeError;

/// A bytes-like argument: a `bytes` object, or a copy of another buffer's bytes.
pub struct BytesLike<'py>(Bound<'py, PyBytes>);

impl BytesLike<'_> {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl<'py> FromPyObject<'py> for BytesLike<'py> {
    fn extract_bound(ob: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(bytes) = ob.downcast::<PyBytes>() {
            return Ok(Self(bytes.clone()));
        }
        // Any object with the buffer protocol (memoryview() refuses str, ints and the
        // rest with a TypeError); the copy is a `bytes` object whose bytes cannot change
        // while the GIL is released.
        let copy = PyMemoryView::from(ob)?.call_method0("tobytes")?;
        Ok(Self(copy.downcast_into::<PyBytes>()?))
    }
}

/// An integer argument, checked against its target type by [`Int::to`].
pub struct Int<'py>(Bound<'py, PyInt>);

impl<'py> FromPyObject<'py> for Int<'py> {
    fn extract_bound(ob: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(i) = ob.downcast::<PyInt>() {
            return Ok(Self(i.clone()));
        }
        // Objects with __index__ (numpy integers) are integers too.
        let index = ob
            .py()
            .import("operator")?
            .call_method1("index", (ob,))
            .map_err(|_| {
                PyTypeError::new_err(format!(
                    "an integer is required, not {}",
                    ob.get_type()
                        .name()
                        .map_or_else(|_| "?".into(), |n| n.to_string())
                ))
            })?;
        Ok(Self(index.downcast_into::<PyInt>()?))
    }
}

/// Integer types an argument converts to, with their ranges for messages.
pub trait Bounded: TryFrom<i128> + Display + Copy {
    /// The smallest value.
    const LOW: Self;
    /// The largest value.
    const HIGH: Self;
}

macro_rules! bounded {
    ($($t:ty),*) => {$(
        impl Bounded for $t {
            const LOW: Self = <$t>::MIN;
            const HIGH: Self = <$t>::MAX;
        }
    )*};
}
bounded!(u8, u32, u64, usize);

impl Int<'_> {
    /// The value as a `T`, or `InvalidArgument` naming `name`.
    pub fn to<T: Bounded>(&self, name: &str) -> PyResult<T> {
        self.to_named(&|| name.to_owned())
    }

    /// As [`Int::to`], the name built only for the error.
    fn to_named<T: Bounded>(&self, name: &dyn Fn() -> String) -> PyResult<T> {
        let value = self.0.extract::<i128>().ok();
        value.and_then(|v| T::try_from(v).ok()).ok_or_else(|| {
            let got = value.map_or_else(|| "an integer outside it".to_owned(), |v| v.to_string());
            invalid(format!(
                "{} must be an integer from {} to {}; got {got}",
                name(),
                T::LOW,
                T::HIGH
            ))
        })
    }
}

/// An optional integer argument.
pub fn opt<T: Bounded>(v: Option<&Int<'_>>, name: &str) -> PyResult<Option<T>> {
    v.map(|v| v.to(name)).transpose()
}

/// A share number argument.
pub fn shnum(v: &Int<'_>, name: &str) -> PyResult<ShareNumber> {
    v.to::<u8>(name).map(ShareNumber)
}

/// A `TypeError` naming the argument.
fn type_error(name: &dyn Fn() -> String, e: &PyErr, py: Python<'_>) -> PyErr {
    let err = PyTypeError::new_err(format!("{}: {}", name(), e.value(py)));
    err.set_cause(py, Some(e.clone_ref(py)));
    err
}

/// Extracts `T` from `ob`, a `TypeError` naming the argument if it is not one. Names are
/// closures, so that nothing is formatted unless an error needs it.
fn extract<'py, T: FromPyObject<'py>>(
    ob: &Bound<'py, PyAny>,
    name: &dyn Fn() -> String,
) -> PyResult<T> {
    ob.extract().map_err(|e| {
        if e.is_instance_of::<PyTypeError>(ob.py()) {
            type_error(name, &e, ob.py())
        } else {
            e
        }
    })
}

/// An integer item of a vector, as a `T`.
fn int<T: Bounded>(ob: &Bound<'_, PyAny>, name: &dyn Fn() -> String) -> PyResult<T> {
    extract::<Int<'_>>(ob, name)?.to_named(name)
}

/// The items of an iterable (not a string or a byte string, whose items are characters or
/// bytes, never what is meant).
fn iterate<'py>(
    ob: &Bound<'py, PyAny>,
    name: &dyn Fn() -> String,
) -> PyResult<Bound<'py, PyIterator>> {
    if ob.is_instance_of::<PyString>()
        || ob.is_instance_of::<PyBytes>()
        || ob.is_instance_of::<PyByteArray>()
        || ob.is_instance_of::<PyMemoryView>()
    {
        return Err(PyTypeError::new_err(format!(
            "{} must be an iterable of values, not {}",
            name(),
            ob.get_type().name()?
        )));
    }
    ob.try_iter().map_err(|e| type_error(name, &e, ob.py()))
}

/// Exactly `N` items of an iterable (a tuple or list of `N`).
fn fixed<'py, const N: usize>(
    ob: &Bound<'py, PyAny>,
    name: &dyn Fn() -> String,
) -> PyResult<[Bound<'py, PyAny>; N]> {
    let wrong = || PyTypeError::new_err(format!("{} must have {N} items", name()));
    let mut items = Vec::with_capacity(N);
    for item in iterate(ob, name)? {
        if items.len() == N {
            return Err(wrong());
        }
        items.push(item?);
    }
    items.try_into().map_err(|_| wrong())
}

/// A set of share numbers from any iterable of integers (duplicates collapse).
pub fn share_set(ob: &Bound<'_, PyAny>, name: &str) -> PyResult<ShareSet> {
    let mut set = ShareSet::new();
    for (i, item) in iterate(ob, &|| name.to_owned())?.enumerate() {
        let n: Int<'_> = extract(&item?, &|| format!("{name}[{i}]"))?;
        set.insert(ShareNumber(n.to::<u8>(name)?));
    }
    Ok(set)
}

/// A read vector: `(offset, length)` pairs.
pub fn read_vector(ob: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    for (i, item) in iterate(ob, &|| name.to_owned())?.enumerate() {
        let [offset, length] = fixed(&item?, &|| format!("{name}[{i}]"))?;
        out.push((
            int(&offset, &|| format!("{name}[{i}] offset"))?,
            int(&length, &|| format!("{name}[{i}] length"))?,
        ));
    }
    Ok(out)
}

/// A test vector entry, its specimen still in Python.
pub struct Test<'py> {
    pub offset: u64,
    pub length: u64,
    pub operator: TestOperator,
    pub specimen: BytesLike<'py>,
}

/// One share's entry of a test-and-write vector.
pub struct TestAndWrite<'py> {
    pub share: ShareNumber,
    pub tests: Vec<Test<'py>>,
    pub writes: Vec<(u64, BytesLike<'py>)>,
    pub new_length: Option<u64>,
}

/// Test-and-write vectors: a `dict` `{share number: (tests, writes, new length)}`
/// (Tahoe's own form) or any iterable of `(share number, (tests, writes, new length))`.
pub fn tw_vectors<'py>(ob: &Bound<'py, PyAny>, name: &str) -> PyResult<Vec<TestAndWrite<'py>>> {
    let pairs: Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)> = if let Ok(d) = ob.downcast::<PyDict>()
    {
        d.iter().collect()
    } else {
        let mut pairs = Vec::new();
        for (i, item) in iterate(ob, &|| name.to_owned())?.enumerate() {
            let [k, v] = fixed(&item?, &|| format!("{name}[{i}]"))?;
            pairs.push((k, v));
        }
        pairs
    };
    let mut out = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        let share = ShareNumber(int(&k, &|| format!("{name} share number"))?);
        let what = || format!("{name}[{}]", share.0);
        let [test_vector, write_vector, new_length] = fixed(&v, &what)?;
        let mut tests = Vec::new();
        for (j, t) in iterate(&test_vector, &|| format!("{} tests", what()))?.enumerate() {
            let at = || format!("{} test {j}", what());
            let [offset, length, operator, specimen] = fixed(&t?, &at)?;
            let operator: BytesLike<'_> = extract(&operator, &|| format!("{} operator", at()))?;
            tests.push(Test {
                offset: int(&offset, &|| format!("{} offset", at()))?,
                length: int(&length, &|| format!("{} length", at()))?,
                operator: TestOperator::parse::<NativeError>(operator.as_slice()).map_err(|e| {
                    crate::errors::to_py(ob.py(), e.into(), crate::errors::Context::default())
                })?,
                specimen: extract(&specimen, &|| format!("{} specimen", at()))?,
            });
        }
        let mut writes = Vec::new();
        for (j, w) in iterate(&write_vector, &|| format!("{} writes", what()))?.enumerate() {
            let at = || format!("{} write {j}", what());
            let [offset, data] = fixed(&w?, &at)?;
            writes.push((
                int(&offset, &|| format!("{} offset", at()))?,
                extract(&data, &|| format!("{} data", at()))?,
            ));
        }
        let new_length = if new_length.is_none() {
            None
        } else {
            Some(int(&new_length, &|| format!("{} new length", what()))?)
        };
        out.push(TestAndWrite {
            share,
            tests,
            writes,
            new_length,
        });
    }
    Ok(out)
}

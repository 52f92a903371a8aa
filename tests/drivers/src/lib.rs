//! The Rust drivers of the differential scripts: one JSON format, described in
//! `docs/differential-scripts.md`, in two vocabularies. A *container* script
//! (`"kind": "immutable"` or `"mutable"`) is replayed by [`container::run`] on one share
//! container in memory; a *server* script (`"kind": "server"`) by [`server::run`] on
//! `Server<FsStore>` over a storage directory. `tools/tahoe_scripts` replays the same
//! scripts with Tahoe-LAFS 1.20's own classes, `ffi-c/tests/differential.c` replays server
//! scripts through the C API, and the Python tests compare them all.
//!
//! The binary `script_driver SCRIPT.json OUT` runs either kind (see its docs). A malformed
//! script is a bug of the test that wrote it: the drivers panic with a message saying what
//! is wrong, which fails that test.

pub mod container;
pub mod server;

use core::fmt::Write as _;

use serde_json::Value;

/// The bytes of a hex string (either case).
///
/// # Panics
///
/// If `v` is not a string of hex digit pairs.
#[must_use]
pub fn hex(v: &Value) -> Vec<u8> {
    let s = v.as_str().expect("hex string");
    assert!(s.len() % 2 == 0, "odd-length hex string");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// `bytes` as lowercase hex.
#[must_use]
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A hex string of exactly `N` bytes.
///
/// # Panics
///
/// If `v` is not hex, or not `N` bytes long.
#[must_use]
pub fn arr<const N: usize>(v: &Value) -> [u8; N] {
    hex(v).try_into().expect("byte string of the wrong length")
}

/// The unsigned integer `op[field]`.
///
/// # Panics
///
/// If the field is missing or not an unsigned integer.
#[must_use]
pub fn uint(op: &Value, field: &str) -> u64 {
    op[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} must be an unsigned integer"))
}

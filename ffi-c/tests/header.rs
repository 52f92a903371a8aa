//! The committed header must be what cbindgen generates from the sources.
//!
//! `make header` (which sets `TS_BLESS_HEADER=1`) rewrites it instead of comparing.

use std::fs;
use std::path::Path;

#[test]
fn committed_header_is_up_to_date() {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/tahoe_shares.h"));
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/tahoe_shares.h");
    if std::env::var_os("TS_BLESS_HEADER").is_some() {
        fs::write(&committed, generated).expect("write include/tahoe_shares.h");
        return;
    }
    let current = fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        current == generated,
        "ffi-c/include/tahoe_shares.h is stale: run `make header` and commit the result"
    );
}

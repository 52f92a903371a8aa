//! The C API of tahoe-shares: `libtahoe_shares` and `include/tahoe_shares.h`.
//!
//! Every exported function checks its arguments, converts them, calls one function of the
//! core's `Server` and maps the result; a panic never unwinds into C. The header is
//! generated from these declarations by cbindgen (see `build.rs`), so the doc comments
//! here are written for C readers. The conventions (results, ownership, buffers, threads)
//! are stated once at the top of the header, in `cbindgen.toml`.

use core::ffi::c_char;

mod ffi;

// The order of these modules is the order of the header's functions.
mod error;

mod types;

mod server;

mod store;

mod upload;

mod reader;

mod lease;

mod mutable;

pub use error::{ts_result, ts_result_message};
pub use lease::*;
pub use mutable::*;
pub use reader::*;
pub use server::*;
pub use store::{ts_cb_status, ts_store_callbacks, CallbackError};
pub use store::{
    ts_share_close_fn, ts_share_len_fn, ts_share_read_at_fn, ts_share_set_len_fn, ts_share_sync_fn,
    ts_share_write_at_fn, ts_store_advisory_fn, ts_store_for_each_incoming_fn,
    ts_store_for_each_storage_index_fn, ts_store_get_record_fn, ts_store_list_fn, ts_store_open_fn,
    ts_store_put_record_fn, ts_store_share_fn, ts_store_space_fn, ts_visit_incoming_fn,
    ts_visit_storage_index_fn,
};
pub use types::*;
pub use upload::*;

/// The library's version, NUL-terminated (for example `"0.1.0"`). The string is static:
/// never free it.
#[unsafe(no_mangle)]
pub extern "C" fn ts_library_version() -> *const c_char {
    ffi::boundary_or(core::ptr::null(), || {
        concat!(env!("CARGO_PKG_VERSION"), "\0")
            .as_ptr()
            .cast::<c_char>()
    })
}

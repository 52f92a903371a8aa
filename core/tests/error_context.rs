//! Errors keep their context: the device error is the `source()` of `Error::Io`, and is
//! shown with its own `Display`.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use core::error::Error as _;
use std::fs::OpenOptions;
use std::io;

use tahoe_shares::container::ImmutableContainer;
use tahoe_shares::format::immutable::ImmutableVersion;
use tahoe_shares::io::FileIo;
use tahoe_shares::Error;

use common::TempDir;

/// A real failure from the operating system: writing a header through a file opened only
/// for reading fails with EBADF.
fn real_io_error(name: &str) -> Error<io::Error> {
    let dir = TempDir::new(name);
    let path = dir.path().join("share");
    std::fs::write(&path, b"").unwrap();
    let file = OpenOptions::new().read(true).open(&path).unwrap();
    ImmutableContainer::create(FileIo::new(file), ImmutableVersion::V2, 10).unwrap_err()
}

#[test]
fn io_error_is_the_source() {
    let err = real_io_error("source");
    let source = err.source().expect("Error::Io has a source");
    let os = source
        .downcast_ref::<io::Error>()
        .expect("the source is the io::Error");
    assert_eq!(os.raw_os_error(), Some(9), "{os}");
    // Errors other than Io have no source.
    assert!(Error::<io::Error>::NoSuchShare.source().is_none());
}

#[test]
fn io_error_is_displayed_with_display_not_debug() {
    let err = real_io_error("display");
    let text = err.to_string();
    let os = io::Error::from_raw_os_error(9).to_string();
    assert_eq!(text, format!("I/O error: {os}"));
    assert!(!text.contains("Os {"), "{text}");
    assert!(!text.contains("kind:"), "{text}");
}

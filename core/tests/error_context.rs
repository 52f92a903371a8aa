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
    ImmutableContainer::create(FileIo::new(file), ImmutableVersion::V2, 10)
        .unwrap_err()
        .into()
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

#[test]
fn a_store_error_becomes_the_server_error_of_the_same_name() {
    use tahoe_shares::store::{Durability, FsStore, ShareStore, StoreError};
    use tahoe_shares::{ShareNumber, StorageIndex};

    let dir = std::env::temp_dir().join(format!("ts-error-context-store-{}", std::process::id()));
    let mut store = FsStore::open(&dir, Durability::Durable).unwrap();
    let si = StorageIndex::new([4; 16]);
    store.create_incoming(&si, ShareNumber(1)).unwrap();
    let err = store.create_incoming(&si, ShareNumber(1)).unwrap_err();
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(err, StoreError::AlreadyExists), "{err:?}");
    let text = err.to_string();
    let server: Error<io::Error> = err.into();
    assert!(matches!(server, Error::AlreadyExists), "{server:?}");
    assert_eq!(server.to_string(), text);
}

#[test]
fn a_container_error_is_named_by_the_server_and_corruption_is_its_source() {
    use tahoe_shares::container::ContainerError;
    use tahoe_shares::io::VecIo;
    use tahoe_shares::{Corruption, ShareNumber};

    // Version 9 in the first four bytes of a full-size header.
    let mut bytes = vec![0u8; 12];
    bytes[3] = 9;
    let err = ImmutableContainer::open(VecIo::from_vec(bytes)).unwrap_err();
    assert!(
        matches!(err, ContainerError::UnknownImmutableVersion { version: 9 }),
        "{err:?}"
    );
    let named = err.in_share(ShareNumber(3));
    assert!(
        matches!(
            named,
            Error::UnknownImmutableVersion {
                share: Some(ShareNumber(3)),
                version: 9
            }
        ),
        "{named:?}"
    );
    assert_eq!(
        named.to_string(),
        "unknown immutable container version 9 (share 3)"
    );

    // Shorter than the header: corrupt, and the corruption is the source.
    let err = ImmutableContainer::open(VecIo::from_vec(vec![0, 0, 0, 2])).unwrap_err();
    let source = err.source().expect("Corrupt has a source");
    assert_eq!(
        source.downcast_ref::<Corruption>(),
        Some(&Corruption::TruncatedHeader)
    );
    let server: Error<_> = err.into();
    assert!(
        matches!(server, Error::Corrupt(Corruption::TruncatedHeader)),
        "{server:?}"
    );
    let source = server.source().expect("Corrupt has a source");
    assert_eq!(
        source.downcast_ref::<Corruption>(),
        Some(&Corruption::TruncatedHeader)
    );
}

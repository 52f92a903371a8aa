//! Regression tests for what the fuzz targets (fuzz/) found. Each keeps the input.

mod common;

use std::fs::OpenOptions;
use std::os::unix::fs::MetadataExt;

use tahoe_shares::container::MutableContainer;
use tahoe_shares::format::mutable::MutableVersion;
use tahoe_shares::io::FileIo;
use tahoe_shares::{NodeId, WriteEnabler};

use common::new_mutable;

/// fuzz target `request_decode`: a mutable write of one byte at offset 26554650148879156
/// (under `MAX_MUTABLE_SHARE_SIZE`) journalled a zero-fill entry for the whole gap, and
/// its replay wrote the gap out: O(offset) work and disk from a single request (Tahoe
/// writes one byte into a sparse file). Past the file's end the gap now stays a hole.
#[test]
fn mutable_write_far_past_the_end_is_o1() {
    let path = std::env::temp_dir().join(format!("ts-fuzz-regr-{}", std::process::id()));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    let io = FileIo::new(file);
    let mut c = MutableContainer::create(
        io,
        MutableVersion::V1,
        NodeId([1; 20]),
        WriteEnabler::new([2; 32]),
    )
    .unwrap();
    c.writev(&[(0, b"head")], None).unwrap();
    let far = 1u64 << 40;
    c.writev(&[(far, b"x")], None).unwrap();
    assert_eq!(c.data_length(), far + 1);
    let mut b = [9u8; 4];
    assert_eq!(c.read_share_data(far - 3, &mut b).unwrap(), 4);
    assert_eq!(&b, b"\0\0\0x");
    assert_eq!(c.read_share_data(0, &mut b).unwrap(), 4);
    assert_eq!(&b, b"head");
    let blocks = std::fs::metadata(&path).unwrap().blocks();
    drop(c);
    std::fs::remove_file(&path).unwrap();
    assert!(
        blocks < 1024,
        "{blocks} blocks allocated for a 5-byte share"
    );
}

/// The gap before a write past the data is still zeroed where the file holds stale
/// bytes (truncated data), as before the fix above.
#[test]
fn stale_bytes_before_a_far_write_are_zeroed() {
    let mut c = new_mutable();
    c.writev(&[(0, &[0xaa; 64])], None).unwrap();
    c.writev(&[], Some(8)).unwrap();
    c.writev(&[(100, b"z")], None).unwrap();
    let mut b = vec![0xffu8; 101];
    assert_eq!(c.read_share_data(0, &mut b).unwrap(), 101);
    assert_eq!(&b[..8], &[0xaa; 8]);
    assert!(b[8..100].iter().all(|&x| x == 0), "stale bytes exposed");
    assert_eq!(b[100], b'z');
}

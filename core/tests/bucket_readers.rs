//! Bucket readers pin no file descriptors: a reader holds which share
//! it reads and its length, and each read opens the share through the store.
//!
//! This binary holds one test on purpose: it counts this process's open descriptors
//! (`/proc/self/fd`), which another test running beside it would disturb.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::fs;

use tahoe_shares::server::AllocateRequest;
use tahoe_shares::store::Durability;
use tahoe_shares::{CancelSecret, Error, RenewSecret, ShareNumber, StorageIndex, UploadSecret};

use common::{fs_server, TempDir, NOW};

fn open_descriptors() -> usize {
    fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn three_hundred_readers_pin_no_descriptor_and_deleted_shares_are_not_served() {
    let dir = TempDir::new("readers");
    let mut s = fs_server(dir.path(), Durability::Durable);
    let si = StorageIndex::new([3; 16]);
    let up = UploadSecret::new(b"u").unwrap();
    let shares = [ShareNumber(0), ShareNumber(1)];
    s.allocate_buckets(
        &AllocateRequest {
            storage_index: si,
            renew_secret: RenewSecret::new([1; 32]),
            cancel_secret: CancelSecret::new([2; 32]),
            share_numbers: shares.into_iter().collect(),
            allocated_size: 10,
            owner_num: 0,
            renew_leases: true,
            upload_secret: up.clone(),
        },
        NOW,
    )
    .unwrap();
    for n in shares {
        s.write(&si, n, &up, 0, b"0123456789", NOW).unwrap();
        s.close(&si, n, &up).unwrap();
    }

    let before = open_descriptors();
    let readers: Vec<_> = (0..300)
        .map(|i| s.open_bucket(&si, shares[i % 2]).unwrap())
        .collect();
    assert_eq!(
        open_descriptors(),
        before,
        "300 open readers hold descriptors"
    );
    for r in &readers {
        assert_eq!(s.read_bucket_vec(r, 2, 3).unwrap(), b"234");
    }
    assert_eq!(open_descriptors(), before, "reads leave descriptors open");

    // An operator deletes share 1: its readers fail as Tahoe's do (FileNotFoundError
    // there, NoSuchShare here); share 0's readers still read.
    fs::remove_file(s.store().share_path(&si, ShareNumber(1))).unwrap();
    for r in &readers {
        let got = s.read_bucket_vec(r, 0, 10);
        if r.share_number() == ShareNumber(1) {
            assert!(matches!(got, Err(Error::NoSuchShare)), "{got:?}");
            // The length is the one seen at opening.
            assert_eq!(r.length(), 10);
        } else {
            assert_eq!(got.unwrap(), b"0123456789");
        }
    }
    assert_eq!(open_descriptors(), before);
    drop(s);
}

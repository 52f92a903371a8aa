//! Resource limits: memory that does not grow with the number of
//! leases, and declared sizes that allocate nothing. Memory is measured by an instrumented
//! global allocator (`stats_alloc`): the total heap bytes an operation allocates, which
//! bounds its peak. Nothing here is timed.

mod common;

use std::alloc::System;
use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::sync::Mutex;

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

use tahoe_shares::container::{Backdate, ImmutableContainer};
use tahoe_shares::format::immutable::{ImmutableHeader, ImmutableVersion};
use tahoe_shares::format::lease::{Lease, LeaseSchema, StoredSecrets};
use tahoe_shares::io::FileIo;
use tahoe_shares::server::{AllocateRequest, Config, Server};
use tahoe_shares::store::{Durability, FsStore, MemStore, ShareStore};
use tahoe_shares::{
    CancelSecret, Error, NodeId, RenewSecret, ShareNumber, StorageIndex, UploadSecret,
};

use common::TempDir;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The tests measure one process-wide counter: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Heap bytes `f` allocates in all (an upper bound of its peak).
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let region = Region::new(GLOBAL);
    let out = f();
    (out, region.change().bytes_allocated)
}

fn renew(i: u32) -> RenewSecret {
    let mut b = [0u8; 32];
    b[..4].copy_from_slice(&i.to_be_bytes());
    RenewSecret::new(b)
}

/// Writes an immutable share of 100 data bytes with `n` leases, the way Tahoe lays it out,
/// straight to disk (adding them one by one would take quadratic time).
fn share_with_leases(path: &std::path::Path, n: u32) {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .unwrap();
    let mut w = BufWriter::new(file);
    let mut header = ImmutableHeader::new(ImmutableVersion::V2, 100).encode();
    header[8..12].copy_from_slice(&n.to_be_bytes());
    w.write_all(&header).unwrap();
    w.write_all(&[7u8; 100]).unwrap();
    for i in 0..n {
        let lease = Lease {
            owner_num: 1,
            expiration_time: 1_000 + i,
            secrets: StoredSecrets::for_version(
                LeaseSchema::V2,
                &renew(i),
                &CancelSecret::new([9; 32]),
            ),
            nodeid: None,
        };
        w.write_all(&lease.encode_immutable()).unwrap();
    }
    w.flush().unwrap();
}

/// Renews the last of `n` leases (a full scan) and lists them all; returns the peak heap
/// growth of those two operations.
fn scan_peak(n: u32) -> usize {
    let dir = TempDir::new(&format!("leases-{n}"));
    let path = dir.path().join("share");
    share_with_leases(&path, n);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let mut c = ImmutableContainer::open(FileIo::new(file)).unwrap();
    assert_eq!(c.num_leases(), n);
    let ((), peak) = peak_during(|| {
        c.renew_lease(&renew(n - 1), 5_000_000, Backdate::Forbid)
            .unwrap();
        let mut seen = 0u32;
        let mut latest = 0u32;
        c.for_each_lease(|_, l| {
            seen += 1;
            latest = latest.max(l.expiration_time);
            true
        })
        .unwrap();
        assert_eq!(seen, n);
        assert_eq!(latest, 5_000_000);
    });
    peak
}

#[test]
fn a_million_leases_are_renewed_and_listed_in_constant_memory() {
    let _serial = SERIAL.lock().unwrap();
    // The measurement sees allocations at all.
    let (v, seen) = peak_during(|| vec![1u8; 10_000]);
    assert!(
        seen >= 10_000 && v.len() == 10_000,
        "instrumentation saw {seen} bytes"
    );
    let small = scan_peak(1_000);
    let large = scan_peak(1_000_000);
    eprintln!("heap allocated: 1,000 leases {small} B, 1,000,000 leases {large} B");
    // Neither grows with the count: no heap beyond a fixed bound, the same for both.
    assert!(
        large <= 4096,
        "renew+list of 1M leases allocated {large} bytes"
    );
    assert!(
        large <= small + 1024,
        "{large} B for 1M leases vs {small} B for 1k"
    );
}

#[test]
fn a_declared_size_of_two_to_the_63_allocates_nothing() {
    let _serial = SERIAL.lock().unwrap();
    let request = |si: u8| AllocateRequest {
        storage_index: StorageIndex::new([si; 16]),
        renew_secret: RenewSecret::new([1; 32]),
        cancel_secret: CancelSecret::new([2; 32]),
        share_numbers: [ShareNumber(0), ShareNumber(1)].into_iter().collect(),
        allocated_size: 1 << 63,
        owner_num: 0,
        renew_leases: true,
        upload_secret: UploadSecret::new(b"u").unwrap(),
    };

    // The memory store with unknown capacity: the space check passes, the device refuses.
    let mut server = Server::new(MemStore::new(), NodeId([3; 20]), Config::default(), 0).unwrap();
    let (result, peak) = peak_during(|| server.allocate_buckets(&request(1), 0));
    assert!(matches!(result, Err(Error::Io(_))), "{result:?}");
    assert!(
        peak < 64 * 1024,
        "allocating 2^63 bytes took {peak} bytes of heap"
    );
    assert_eq!(server.allocated_size(), 0);
    assert!(server
        .store_mut()
        .list_incoming(&StorageIndex::new([1; 16]))
        .unwrap()
        .is_empty());

    // The filesystem store: the file system refuses the size; nothing is left behind.
    let dir = TempDir::new("huge");
    let store = FsStore::open(dir.path(), Durability::NoSync).unwrap();
    let mut server = Server::new(store, NodeId([3; 20]), Config::default(), 0).unwrap();
    let (result, peak) = peak_during(|| server.allocate_buckets(&request(2), 0));
    match result {
        // Free space is known here, so the space check refuses the buckets quietly.
        Ok(a) => assert!(a.allocated.is_empty()),
        Err(e) => assert!(matches!(e, Error::Io(_)), "{e:?}"),
    }
    assert!(
        peak < 64 * 1024,
        "allocating 2^63 bytes took {peak} bytes of heap"
    );
    assert_eq!(server.allocated_size(), 0);
    let incoming = server
        .store_mut()
        .list_incoming(&StorageIndex::new([2; 16]))
        .unwrap();
    assert!(incoming.is_empty());
}

//! The `ShareStore` compliance kit (Tahoe ticket #3761 asks for one): one suite of the
//! contract that `tahoe_shares::store::ShareStore` documents, for every store of the project
//! (memory, filesystem, S3) and for third parties writing one.
//!
//! Call [`run`] from a test with a function that makes a new, empty store; each check gets
//! its own store. A broken promise panics with the check's name and what differed.
//!
//! ```
//! use tahoe_shares::store::MemStore;
//! tahoe_shares_store_kit::run(&mut MemStore::new);
//! ```

// A test kit: every check panics when the store breaks a promise (said once, here and on
// `run`), so a `# Panics` section on each would repeat it.
#![allow(clippy::missing_panics_doc)]

use core::fmt::Debug;

use tahoe_shares::io::ShareIo;
use tahoe_shares::store::{ShareStore, StoreError};
use tahoe_shares::types::{ShareNumber, ShareSet, StorageIndex};

/// The storage index most checks use.
const SI: StorageIndex = StorageIndex::new([1; 16]);

/// The names of the checks [`run`] makes, in order.
pub const CHECKS: &[&str] = &[
    "empty",
    "incoming_round_trip",
    "create_is_exclusive",
    "upload_records",
    "publish",
    "no_clobber",
    "abort",
    "remove",
    "published_updates",
    "storage_index_order",
    "advisories",
    "space",
];

fn sn(n: u8) -> ShareNumber {
    ShareNumber(n)
}

fn set(ns: &[u8]) -> ShareSet {
    ns.iter().map(|&n| sn(n)).collect()
}

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn read_all<IO: ShareIo>(io: &mut IO) -> Vec<u8>
where
    IO::Error: Debug,
{
    let len = io.len().expect("len");
    let mut buf = vec![0; usize::try_from(len).expect("share fits memory")];
    io.read_at(0, &mut buf).expect("read_at");
    buf
}

/// Creates, fills, syncs and publishes share `n` of `si` with `data`.
fn put_share<S: ShareStore>(store: &mut S, si: &StorageIndex, n: u8, data: &[u8])
where
    S::Error: Debug,
{
    let mut io = store.create_incoming(si, sn(n)).expect("create_incoming");
    io.write_at(0, data).expect("write_at");
    io.sync().expect("sync");
    drop(io);
    store.publish(si, sn(n)).expect("publish");
}

/// Runs every check of [`CHECKS`], each on a store from `make`.
///
/// # Panics
///
/// When a store breaks the contract (the message names the check).
pub fn run<S: ShareStore>(make: &mut dyn FnMut() -> S)
where
    S::Error: Debug,
{
    empty(&mut make());
    incoming_round_trip(&mut make());
    create_is_exclusive(&mut make());
    upload_records(&mut make());
    publish(&mut make());
    no_clobber(&mut make());
    abort(&mut make());
    remove(&mut make());
    published_updates(&mut make());
    storage_index_order(&mut make());
    advisories(&mut make());
    space(&mut make());
}

/// A new store holds nothing.
pub fn empty<S: ShareStore>(s: &mut S)
where
    S::Error: Debug,
{
    assert!(s.open(&SI, sn(0)).expect("open").is_none(), "empty: open");
    assert!(s
        .open_incoming(&SI, sn(0))
        .expect("open_incoming")
        .is_none());
    assert_eq!(s.list(&SI).expect("list"), set(&[]), "empty: list");
    assert_eq!(s.list_incoming(&SI).expect("list_incoming"), set(&[]));
    assert_eq!(
        s.get_upload_record(&SI, sn(0), &mut [0; 8])
            .expect("record"),
        None
    );
    let mut n = 0;
    s.for_each_storage_index(&mut |_| {
        n += 1;
        true
    })
    .expect("for_each_storage_index");
    s.for_each_incoming(&mut |_, _| {
        n += 1;
        true
    })
    .expect("for_each_incoming");
    assert_eq!(n, 0, "empty: visits");
}

/// An incoming share reads back what was written (gaps as zeros), is listed as incoming
/// only, and is visited by `for_each_incoming`.
pub fn incoming_round_trip<S: ShareStore>(s: &mut S)
where
    S::Error: Debug,
{
    let mut io = s.create_incoming(&SI, sn(2)).expect("create_incoming");
    assert_eq!(io.len().expect("len"), 0);
    io.write_at(10, b"world").expect("write_at");
    io.write_at(0, b"hello").expect("write_at");
    io.sync().expect("sync");
    assert_eq!(read_all(&mut io), b"hello\0\0\0\0\0world");
    io.set_len(7).expect("set_len");
    io.set_len(9).expect("set_len");
    assert_eq!(read_all(&mut io), b"hello\0\0\0\0");
    io.sync().expect("sync");
    drop(io);
    let mut again = s
        .open_incoming(&SI, sn(2))
        .expect("open_incoming")
        .expect("there");
    assert_eq!(read_all(&mut again), b"hello\0\0\0\0", "incoming: reopened");
    drop(again);
    assert_eq!(s.list_incoming(&SI).expect("list_incoming"), set(&[2]));
    assert_eq!(
        s.list(&SI).expect("list"),
        set(&[]),
        "incoming is not published"
    );
    assert!(s.open(&SI, sn(2)).expect("open").is_none());
    let mut seen = Vec::new();
    s.for_each_incoming(&mut |si, n| {
        seen.push((si, n));
        true
    })
    .expect("for_each_incoming");
    assert_eq!(seen, vec![(SI, sn(2))]);
}

/// A second `create_incoming` of a share is refused.
pub fn create_is_exclusive<S: ShareStore>(s: &mut S)
where
    S::Error: Debug,
{
    let _io = s.create_incoming(&SI, sn(0)).expect("create_incoming");
    assert!(
        matches!(
            s.create_incoming(&SI, sn(0)),
            Err(StoreError::AlreadyExists)
        ),
        "create_is_exclusive"
    );
}

/// Upload records replace each other whole and need an incoming share.
pub fn upload_records<S: ShareStore>(s: &mut S)
where
    S::Error: Debug,
{
    assert!(
        matches!(
            s.put_upload_record(&SI, sn(1), b"x"),
            Err(StoreError::NoSuchShare)
        ),
        "upload_records: without an incoming share"
    );
    drop(s.create_incoming(&SI, sn(1)).expect("create_incoming"));
    s.put_upload_record(&SI, sn(1), b"first record")
        .expect("put");
    s.put_upload_record(&SI, sn(1), b"second").expect("put");
    let mut buf = [0u8; 32];
    assert_eq!(
        s.get_upload_record(&SI, sn(1), &mut buf).expect("get"),
        Some(6)
    );
    assert_eq!(&buf[..6], b"second");
    assert!(matches!(
        s.get_upload_record(&SI, sn(1), &mut [0; 2]),
        Err(StoreError::BufferTooSmall { needed: 6 })
    ));
}

/// Publishing makes the share visible, whole, and removes the incoming share and record.
pub fn publish<S: ShareStore>(s: &mut S)
where
    S::Error: Debug,
{
    let data = pattern(3, 100_000);
    let mut io = s.create_incoming(&SI, sn(4)).expect("create_incoming");
    io.write_at(0, &data).expect("write_at");
    io.sync().expect("sync");
    drop(io);
    s.put_upload_record(&SI, sn(4), b"rec").expect("put");
    s.publish(&SI, sn(4)).expect("publish");
    assert_eq!(s.list(&SI).expect("list"), set(&[4]));
    assert_eq!(s.list_incoming(&SI).expect("list_incoming"), set(&[]));
    assert!(s
        .open_incoming(&SI, sn(4))
        .expect("open_incoming")
        .is_none());
    assert_eq!(
        s.get_upload_record(&SI, sn(4), &mut [0; 8]).expect("get"),
        None
    );
    let mut io = s.open(&SI, sn(4)).expect("open").expect("published");
    assert!(read_all(&mut io) == data, "publish: bytes");
    drop(io);
    // Both errors the trait names apply (no incoming share, a published one): either.
    assert!(
        matches!(
            s.publish(&SI, sn(4)),
            Err(StoreError::NoSuchShare | StoreError::AlreadyExists)
        ),
        "publish: twice"
    );
}

/// A published share is never replaced by a new upload.
pub fn no_clobber<S: ShareStore>(s: &mut S)
where
    S::Error: Debug,
{
    put_share(s, &SI, 5, b"original");
    assert!(
        matches!(
            s.create_incoming(&SI, sn(5)),
            Err(StoreError::AlreadyExists)
        ),
        "no_clobber: create over a published share"
    );
    let mut io = s.open(&SI, sn(5)).expect("open").expect("there");
    assert_eq!(read_all(&mut io), b"original");
}

/// Aborting leaves nothing; aborting nothing is `NoSuchShare`.
pub fn abort<S: ShareStore>(s: &mut S)
where
    S::Error: Debug,
{
    let mut io = s.create_incoming(&SI, sn(6)).expect("create_incoming");
    io.write_at(0, &pattern(6, 5000)).expect("write_at");
    io.sync().expect("sync");
    drop(io);
    s.put_upload_record(&SI, sn(6), b"rec").expect("put");
    s.abort(&SI, sn(6)).expect("abort");
    assert_eq!(s.list_incoming(&SI).expect("list_incoming"), set(&[]));
    assert_eq!(s.list(&SI).expect("list"), set(&[]));
    assert_eq!(
        s.get_upload_record(&SI, sn(6), &mut [0; 8]).expect("get"),
        None
    );
    assert!(
        matches!(s.abort(&SI, sn(6)), Err(StoreError::NoSuchShare)),
        "abort: nothing to abort"
    );
    // The share number is free again.
    put_share(s, &SI, 6, b"after abort");
}

/// Removing deletes the share; removing nothing is `NoSuchShare`.
pub fn remove<S: ShareStore>(s: &mut S)
where
    S::Error: Debug,
{
    put_share(s, &SI, 7, b"doomed");
    put_share(s, &SI, 8, b"kept");
    s.remove(&SI, sn(7)).expect("remove");
    assert_eq!(s.list(&SI).expect("list"), set(&[8]));
    assert!(s.open(&SI, sn(7)).expect("open").is_none());
    assert!(
        matches!(s.remove(&SI, sn(7)), Err(StoreError::NoSuchShare)),
        "remove: twice"
    );
    s.remove(&SI, sn(8)).expect("remove");
    let mut n = 0;
    s.for_each_storage_index(&mut |_| {
        n += 1;
        true
    })
    .expect("for_each_storage_index");
    assert_eq!(n, 0, "remove: the storage index is no longer visited");
}

/// Writes to a published share, once synced, are what the next open reads.
pub fn published_updates<S: ShareStore>(s: &mut S)
where
    S::Error: Debug,
{
    put_share(s, &SI, 9, &pattern(9, 20_000));
    let mut io = s.open(&SI, sn(9)).expect("open").expect("there");
    io.write_at(15_000, b"patched").expect("write_at");
    io.write_at(25_000, b"grown").expect("write_at");
    io.sync().expect("sync");
    drop(io);
    let mut want = pattern(9, 20_000);
    want[15_000..15_007].copy_from_slice(b"patched");
    want.resize(25_000, 0);
    want.extend_from_slice(b"grown");
    let mut io = s.open(&SI, sn(9)).expect("open").expect("there");
    assert!(read_all(&mut io) == want, "published_updates: bytes");
}

/// Storage indexes are visited in ascending order of their base32 names; returning
/// `false` stops; one with only incoming shares is not visited.
pub fn storage_index_order<S: ShareStore>(s: &mut S)
where
    S::Error: Debug,
{
    let sis = [
        StorageIndex::new([0xff; 16]),
        StorageIndex::new([0; 16]),
        StorageIndex::new([0x42; 16]),
    ];
    for si in &sis {
        put_share(s, si, 0, b"x");
    }
    drop(s.create_incoming(&SI, sn(3)).expect("create_incoming"));
    let mut seen = Vec::new();
    s.for_each_storage_index(&mut |si| {
        seen.push(si.to_base32().as_str().to_string());
        true
    })
    .expect("for_each_storage_index");
    let mut want: Vec<String> = sis
        .iter()
        .map(|si| si.to_base32().as_str().to_string())
        .collect();
    want.sort();
    assert_eq!(seen, want, "storage_index_order");
    let mut first = 0;
    s.for_each_storage_index(&mut |_| {
        first += 1;
        false
    })
    .expect("for_each_storage_index");
    assert_eq!(first, 1, "storage_index_order: stop early");
}

/// An advisory name is taken once.
pub fn advisories<S: ShareStore>(s: &mut S)
where
    S::Error: Debug,
{
    s.write_advisory("2026-12-01T000000--si-0", b"report")
        .expect("write_advisory");
    assert!(
        matches!(
            s.write_advisory("2026-12-01T000000--si-0", b"again"),
            Err(StoreError::AlreadyExists)
        ),
        "advisories: never replaced"
    );
}

/// Available space is answered (a number or unknown), before and after a share arrives.
/// Nothing more is asked: a filesystem store reports the file system's free space, which
/// other processes change at any time.
pub fn space<S: ShareStore>(s: &mut S)
where
    S::Error: Debug,
{
    s.available_space().expect("available_space");
    put_share(s, &SI, 1, &pattern(1, 10_000));
    s.available_space().expect("available_space");
}

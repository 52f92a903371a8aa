//! The server layer against Tahoe 1.20's `StorageServer`, `BucketWriter` and
//! `BucketReader`: one test per edge case of their behaviour (each confirmed against Tahoe
//! first), over `MemStore` and, for the layout on disk, `FsStore`.
//!
//! The `TAHOE_*` constants at the end are share files written by Tahoe 1.20's own
//! `StorageServer` (a twisted `Clock` at 1,700,000,000 and node id `07` * 20), driven
//! through the same calls as `immutable_shares_match_tahoe_bytes` and
//! `mutable_shares_match_tahoe_bytes` (`allocate_buckets`, `BucketWriter.write`/`close`,
//! `add_lease`, `slot_testv_and_readv_and_writev`, and `cancel_lease` on each file of
//! `_iter_share_files`; `TAHOE_DISCARDED` with `discard_storage=True`), so those tests
//! compare whole files byte for byte.

mod common;

use std::fs;

use tahoe_shares::container::{ContainerError, MutableContainer, TestOperator, TestVector};
use tahoe_shares::format::lease::DEFAULT_LEASE_DURATION;
use tahoe_shares::format::mutable::{MutableVersion, MAX_MUTABLE_SHARE_SIZE};
use tahoe_shares::format::ShareKind;
use tahoe_shares::io::MemError;
use tahoe_shares::server::{
    AdviseOutcome, AllocateRequest, Allocation, Config, LeaseUpdate, Server, SlotSecrets, SlotWrite,
};
use tahoe_shares::store::{Durability, FsStore, MemStore, ShareStore};
use tahoe_shares::{
    CancelSecret, Error, Limit, NodeId, RenewSecret, ShareSet, StorageIndex, WriteEnabler,
};

use common::{
    eq, lease_request, server_with, set, slot_secrets, sn, upload_secret, TempDir, NODE, NOW,
};

const DAYS31: u64 = DEFAULT_LEASE_DURATION as u64;
// Tahoe's DEFAULT_RENEWAL_TIME.
const _: () = assert!(DAYS31 == 31 * 24 * 60 * 60);
const SI: StorageIndex = StorageIndex::new([1; 16]);
const MSI: StorageIndex = StorageIndex::new([9; 16]);

type MemServer = Server<MemStore>;
type MemResult<T> = Result<T, Error<MemError>>;
/// What a slot call answers: whether the tests passed, and the reads by share.
type SlotAnswer = (bool, Vec<(u8, Vec<Vec<u8>>)>);

// ----- helpers ---------------------------------------------------------------------------

fn server() -> MemServer {
    server_with(MemStore::new(), Config::default())
}

/// An allocation at `SI` with the lease of seed `lease_seed`.
fn request(shares: &[u8], size: u64, lease_seed: u8, upload: &str) -> AllocateRequest {
    lease_request(SI, shares, size, lease_seed, upload)
}

fn allocate(s: &mut MemServer, shares: &[u8], size: u64, upload: &str) -> Allocation {
    s.allocate_buckets(&request(shares, size, 2, upload), NOW)
        .unwrap()
}

/// Uploads whole immutable shares of `SI` (lease seed 2, owner 0, at `NOW`).
fn upload_shares(s: &mut MemServer, shares: &[u8], data: &[u8]) {
    let alloc = allocate(s, shares, data.len() as u64, "setup");
    assert_eq!(alloc.allocated, set(shares));
    for &n in shares {
        assert!(s
            .write(&SI, sn(n), &upload_secret("setup"), 0, data, NOW)
            .unwrap());
        s.close(&SI, sn(n), &upload_secret("setup")).unwrap();
    }
}

fn entry<'a>(
    n: u8,
    tests: &'a [TestVector<'a>],
    writes: &'a [(u64, &'a [u8])],
    new_length: Option<u64>,
) -> SlotWrite<'a> {
    SlotWrite {
        share_number: sn(n),
        tests,
        writes,
        new_length,
    }
}

/// One slot call on `MSI` with write enabler 6, renewing leases, at `NOW`.
fn slot(
    s: &mut MemServer,
    writes: &[SlotWrite<'_>],
    readv: &[(u64, u64)],
) -> MemResult<SlotAnswer> {
    s.slot_testv_and_readv_and_writev(
        &MSI,
        &slot_secrets(6),
        writes,
        readv,
        LeaseUpdate::AddOrRenew,
        NOW,
    )
    .map(|o| {
        (
            o.passed,
            o.reads.into_iter().map(|(n, r)| (n.0, r)).collect(),
        )
    })
}

/// Writes whole mutable shares of `MSI`.
fn write_slots(s: &mut MemServer, shares: &[u8], data: &[u8]) {
    let writes = [(0, data)];
    let entries: Vec<_> = shares
        .iter()
        .map(|&n| entry(n, &[], &writes, None))
        .collect();
    assert!(slot(s, &entries, &[]).unwrap().0);
}

/// The data of every mutable share of `MSI`.
fn slot_data(s: &mut MemServer) -> Vec<(u8, Vec<u8>)> {
    s.slot_readv(&MSI, &ShareSet::new(), &[(0, u64::MAX)])
        .unwrap()
        .into_iter()
        .map(|(n, mut r)| (n.0, r.remove(0)))
        .collect()
}

fn immutable_data(s: &mut MemServer, si: &StorageIndex, n: u8) -> Vec<u8> {
    let r = s.open_bucket(si, sn(n)).unwrap();
    s.read_bucket_vec(&r, 0, u64::MAX).unwrap()
}

/// Every lease of a storage index: (share, kind, owner, expiry, renew-secret seed).
fn leases(s: &mut MemServer, si: &StorageIndex) -> Vec<(u8, ShareKind, u32, u64, u8)> {
    let mut out = Vec::new();
    s.for_each_lease(si, |n, kind, l| {
        let seed = (0..=255u8)
            .find(|&b| l.secrets.matches_renew(&RenewSecret::new([b; 32])))
            .unwrap();
        out.push((n.0, kind, l.owner_num, u64::from(l.expiration_time), seed));
        true
    })
    .unwrap();
    out.sort_by_key(|l| (l.0, l.4));
    out
}

fn published_bytes(s: &mut MemServer, si: &StorageIndex, n: u8) -> Vec<u8> {
    s.store_mut().open(si, sn(n)).unwrap().unwrap().bytes()
}

fn incoming_bytes(s: &mut MemServer, si: &StorageIndex, n: u8) -> Vec<u8> {
    s.store_mut()
        .open_incoming(si, sn(n))
        .unwrap()
        .unwrap()
        .bytes()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[track_caller]
fn assert_same_bytes(ours: &[u8], tahoe: &str) {
    let tahoe = unhex(tahoe);
    if let Some(i) = (0..ours.len().min(tahoe.len())).find(|&i| ours[i] != tahoe[i]) {
        panic!(
            "first difference at byte {i} (ours {}, Tahoe's {})",
            ours[i], tahoe[i]
        );
    }
    assert_eq!(ours.len(), tahoe.len(), "lengths differ");
}

fn required(s: &mut MemServer, n: u8, upload: &str) -> Vec<(u64, u64)> {
    s.required_ranges(&SI, sn(n), &upload_secret(upload))
        .unwrap()
        .into_iter()
        .map(|r| (r.start, r.end))
        .collect()
}

// ----- allocate_buckets ------------------------------------------------------------------

#[test]
fn allocate_lists_every_held_share_not_only_those_asked() {
    let mut s = server();
    upload_shares(&mut s, &[0, 1, 2], b"data");
    let alloc = allocate(&mut s, &[1, 5], 4, "u");
    assert_eq!(alloc.already_have, set(&[0, 1, 2]));
    assert_eq!(alloc.allocated, set(&[5]));
    assert!(s.upload_in_progress(&SI, sn(5)));
    assert!(!s.upload_in_progress(&SI, sn(1)));
}

#[test]
fn allocate_renews_or_adds_owner_0_leases_on_held_shares() {
    let mut s = server();
    upload_shares(&mut s, &[0, 1], b"data");
    let base = NOW + DAYS31;
    assert_eq!(
        leases(&mut s, &SI),
        [
            (0, ShareKind::Immutable, 0, base, 2),
            (1, ShareKind::Immutable, 0, base, 2)
        ]
    );
    // The same renew secret later renews (nothing is asked for).
    s.allocate_buckets(&request(&[], 4, 2, "u"), NOW + 500)
        .unwrap();
    let renewed = base + 500;
    assert_eq!(
        leases(&mut s, &SI),
        [
            (0, ShareKind::Immutable, 0, renewed, 2),
            (1, ShareKind::Immutable, 0, renewed, 2)
        ]
    );
    // Another renew secret adds an owner-0 lease to every held share.
    s.allocate_buckets(&request(&[7], 4, 40, "u"), NOW + 900)
        .unwrap();
    let added = base + 900;
    assert_eq!(
        leases(&mut s, &SI),
        [
            (0, ShareKind::Immutable, 0, renewed, 2),
            (0, ShareKind::Immutable, 0, added, 40),
            (1, ShareKind::Immutable, 0, renewed, 2),
            (1, ShareKind::Immutable, 0, added, 40)
        ]
    );
    // Without renew_leases, nothing changes on held shares.
    let mut req = request(&[], 4, 50, "u");
    req.renew_leases = false;
    let alloc = s.allocate_buckets(&req, NOW + 2000).unwrap();
    assert_eq!(alloc.already_have, set(&[0, 1]));
    assert_eq!(leases(&mut s, &SI).len(), 4);
}

#[test]
fn allocate_new_lease_on_readonly_server_is_nospace_and_aborts_the_call() {
    // [V] Tahoe raises NoSpace on a readonly server given a new renew secret.
    let mut s = server();
    upload_shares(&mut s, &[0], b"data");
    let store = s.into_store();
    let mut s = server_with(store, Config::default().with_readonly(true));
    let before = published_bytes(&mut s, &SI, 0);
    let err = s
        .allocate_buckets(&request(&[0, 3], 0, 77, "u"), NOW + 10)
        .unwrap_err();
    assert!(matches!(err, Error::NoSpace), "{err:?}");
    assert_eq!(published_bytes(&mut s, &SI, 0), before);
    assert_eq!(s.uploads().count(), 0);
    assert!(s.store_mut().list_incoming(&SI).unwrap().is_empty());
    // The known renew secret only renews, which needs no space.
    let alloc = s
        .allocate_buckets(&request(&[0], 0, 2, "u"), NOW + 10)
        .unwrap();
    assert_eq!(alloc.already_have, set(&[0]));
    assert_eq!(leases(&mut s, &SI)[0].3, NOW + 10 + DAYS31);
}

#[test]
fn allocate_new_lease_under_low_space_is_nospace() {
    let mut s = server();
    upload_shares(&mut s, &[0, 1], b"data");
    let mut store = s.into_store();
    // 71 bytes free: a 72-byte lease record does not fit.
    store.capacity = Some(store.used() + 71);
    let mut s = server_with(store, Config::default());
    let err = s
        .allocate_buckets(&request(&[5], 0, 77, "u"), NOW)
        .unwrap_err();
    assert!(matches!(err, Error::NoSpace), "{err:?}");
    assert!(leases(&mut s, &SI).iter().all(|l| l.4 == 2));
    assert_eq!(s.uploads().count(), 0);
    // With 72 bytes free, the first share gets its lease and the second fails (Tahoe
    // adds leases share by share, each checked against the space then left).
    let store = s.into_store();
    let mut store2 = store.deep_clone();
    store2.capacity = Some(store2.used() + 72);
    let mut s = server_with(store2, Config::default());
    let err = s
        .allocate_buckets(&request(&[], 0, 77, "u"), NOW)
        .unwrap_err();
    assert!(matches!(err, Error::NoSpace), "{err:?}");
    let seeds: Vec<_> = leases(&mut s, &SI).iter().map(|l| (l.0, l.4)).collect();
    assert_eq!(seeds, [(0, 2), (0, 77), (1, 2)]);
}

#[test]
fn allocate_skips_a_share_being_uploaded_by_another_upload() {
    // [V] A share with an incoming file is listed in neither set.
    let mut s = server();
    assert_eq!(
        allocate(&mut s, &[0, 1], 10, "first").allocated,
        set(&[0, 1])
    );
    let alloc = allocate(&mut s, &[1, 2], 10, "second");
    assert_eq!(alloc.already_have, ShareSet::new());
    assert_eq!(alloc.allocated, set(&[2]));
    // The first upload still owns share 1.
    let err = s
        .write(&SI, sn(1), &upload_secret("second"), 0, b"x", NOW)
        .unwrap_err();
    assert!(matches!(err, Error::BadUploadSecret), "{err:?}");
    assert!(!s
        .write(&SI, sn(1), &upload_secret("first"), 0, b"x", NOW)
        .unwrap());
}

#[test]
fn allocate_repeated_with_the_same_secret_returns_the_same_allocation() {
    // GBS idempotence (Tahoe 1.20 answers `allocated={}` here, [V]).
    let mut s = server();
    allocate(&mut s, &[0, 1], 10, "u");
    assert!(!s
        .write(&SI, sn(0), &upload_secret("u"), 2, b"abc", NOW)
        .unwrap());
    let reserved = s.allocated_size();
    let again = allocate(&mut s, &[0, 1, 2], 10, "u");
    assert_eq!(again.allocated, set(&[0, 1, 2]));
    assert_eq!(s.allocated_size(), reserved + 10);
    // The upload in progress kept its bytes.
    assert_eq!(required(&mut s, 0, "u"), [(0, 2), (5, 10)]);
    // Another secret, or another size, gets neither set.
    let other = allocate(&mut s, &[0, 1], 10, "v");
    assert_eq!(other, Allocation::default());
    let resized = allocate(&mut s, &[0], 11, "u");
    assert_eq!(resized, Allocation::default());
    assert_eq!(s.uploads().count(), 3);
}

#[test]
fn allocate_at_a_mutable_storage_index_is_unknown_immutable_version() {
    let mut s = server();
    write_slots(&mut s, &[0], b"mutable");
    let before = published_bytes(&mut s, &MSI, 0);
    let mut req = request(&[1], 10, 77, "u");
    req.storage_index = MSI;
    let err = s.allocate_buckets(&req, NOW).unwrap_err();
    assert!(
        matches!(err, Error::UnknownImmutableVersion { .. }),
        "{err:?}"
    );
    assert_eq!(published_bytes(&mut s, &MSI, 0), before);
    assert_eq!(s.uploads().count(), 0);
}

#[test]
fn allocate_space_is_available_less_reserved_less_reservations() {
    let mut store = MemStore::new();
    store.capacity = Some(10_000);
    let mut s = server_with(store, Config::default().with_reserved_space(1000));
    assert_eq!(s.available_space().unwrap(), Some(9000));
    assert_eq!(s.version().unwrap().available_space, Some(9000));
    assert_eq!(allocate(&mut s, &[0], 9001, "u").allocated, ShareSet::new());
    assert_eq!(allocate(&mut s, &[0], 4000, "u").allocated, set(&[0]));
    assert_eq!(s.allocated_size(), 4000);
    // The incoming share takes store space and its reservation counts as well.
    let remaining = s.available_space().unwrap().unwrap() - s.allocated_size();
    assert_eq!(remaining, 10_000 - (12 + 4000 + 72) - 1000 - 4000);
    assert_eq!(
        allocate(&mut s, &[1], remaining + 1, "u").allocated,
        ShareSet::new()
    );
    assert_eq!(allocate(&mut s, &[1], remaining, "u").allocated, set(&[1]));
    // Several shares in one request each take their size from what is left.
    let mut s = server_with(MemStore::new(), Config::default());
    s.store_mut().capacity = Some(250);
    let alloc = allocate(&mut s, &[3, 4, 5], 100, "u");
    assert_eq!(alloc.allocated, set(&[3, 4]));
}

#[test]
fn readonly_space_is_zero_but_a_zero_size_allocation_is_granted() {
    let mut s = server_with(MemStore::new(), Config::default().with_readonly(true));
    assert_eq!(s.version().unwrap().available_space, Some(0));
    assert_eq!(s.version().unwrap().reported_space(), 0);
    assert_eq!(allocate(&mut s, &[0, 1], 1, "u").allocated, ShareSet::new());
    // Tahoe's quirk: 0 >= 0, so allocated_size 0 is still granted.
    assert_eq!(allocate(&mut s, &[0, 1], 0, "u").allocated, set(&[0, 1]));
}

#[test]
fn discard_storage_drops_writes_and_publishes_a_zero_filled_share() {
    let mut s = server_with(
        MemStore::new(),
        Config::default().with_discard_storage(true),
    );
    let alloc = s.allocate_buckets(&request(&[0], 10, 2, "u"), NOW).unwrap();
    assert_eq!(alloc.allocated, set(&[0]));
    assert!(!s
        .write(&SI, sn(0), &upload_secret("u"), 0, b"0123456789", NOW)
        .unwrap());
    // Writes are dropped before any check, as in Tahoe.
    assert!(!s
        .write(&SI, sn(0), &upload_secret("u"), 5, b"far too long", NOW)
        .unwrap());
    s.close(&SI, sn(0), &upload_secret("u")).unwrap();
    assert_eq!(immutable_data(&mut s, &SI, 0), [0; 10]);
    assert_same_bytes(&published_bytes(&mut s, &SI, 0), TAHOE_DISCARDED);
}

#[test]
fn limit_uploads_is_checked_before_anything_changes() {
    let mut s = server_with(MemStore::new(), Config::default().with_max_uploads(3));
    upload_shares(&mut s, &[0], b"data");
    allocate(&mut s, &[1], 4, "u");
    let err = s
        .allocate_buckets(&request(&[2, 3, 4], 4, 77, "v"), NOW)
        .unwrap_err();
    assert!(
        matches!(err, Error::LimitReached(Limit::Uploads)),
        "{err:?}"
    );
    assert_eq!(leases(&mut s, &SI).len(), 1, "no lease was added");
    assert_eq!(s.uploads().count(), 1);
    let alloc = s
        .allocate_buckets(&request(&[2, 3], 4, 77, "v"), NOW)
        .unwrap();
    assert_eq!(alloc.allocated, set(&[2, 3]));
    assert_eq!(leases(&mut s, &SI).len(), 2);
}

// ----- BucketWriter ----------------------------------------------------------------------

#[test]
fn a_fresh_incoming_share_is_full_size_with_the_lease_at_allocated_size_plus_12() {
    let mut s = server();
    s.allocate_buckets(&request(&[0], 20, 2, "u"), NOW).unwrap();
    let bytes = incoming_bytes(&mut s, &SI, 0);
    assert_eq!(bytes.len(), 12 + 20 + 72);
    assert_eq!(bytes[..12], [0, 0, 0, 2, 0, 0, 0, 20, 0, 0, 0, 1]);
    assert_eq!(
        bytes[32..36],
        [0, 0, 0, 0],
        "owner 0 at allocated_size + 12"
    );
    let expiry = u32::try_from(NOW + DAYS31).unwrap().to_be_bytes();
    assert_eq!(bytes[100..104], expiry);
    assert_same_bytes(&bytes, TAHOE_FRESH_INCOMING);
}

#[test]
fn write_past_the_allocated_size_is_data_too_large_and_changes_nothing() {
    let mut s = server();
    allocate(&mut s, &[0], 20, "u");
    let before = incoming_bytes(&mut s, &SI, 0);
    let err = s
        .write(&SI, sn(0), &upload_secret("u"), 15, b"abcdef", NOW)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::DataTooLarge {
                max: 20,
                offset: 15,
                length: 6
            }
        ),
        "{err:?}"
    );
    let err = s
        .write(&SI, sn(0), &upload_secret("u"), u64::MAX, b"a", NOW)
        .unwrap_err();
    assert!(matches!(err, Error::DataTooLarge { .. }), "{err:?}");
    let err = s
        .write(&SI, sn(0), &upload_secret("u"), 21, b"", NOW)
        .unwrap_err();
    assert!(matches!(err, Error::DataTooLarge { .. }), "{err:?}");
    assert_eq!(incoming_bytes(&mut s, &SI, 0), before);
    assert_eq!(required(&mut s, 0, "u"), [(0, 20)]);
    // Up to the allocated size exactly is fine.
    assert!(!s
        .write(&SI, sn(0), &upload_secret("u"), 15, b"abcde", NOW)
        .unwrap());
}

#[test]
fn an_identical_overlapping_rewrite_is_accepted() {
    let mut s = server();
    allocate(&mut s, &[0], 10, "u");
    assert!(!s
        .write(&SI, sn(0), &upload_secret("u"), 0, b"abcdef", NOW)
        .unwrap());
    assert!(!s
        .write(&SI, sn(0), &upload_secret("u"), 2, b"cdef", NOW)
        .unwrap());
    assert!(s
        .write(&SI, sn(0), &upload_secret("u"), 3, b"defghij", NOW)
        .unwrap());
    assert!(s
        .write(&SI, sn(0), &upload_secret("u"), 0, b"abcdefghij", NOW)
        .unwrap());
    s.close(&SI, sn(0), &upload_secret("u")).unwrap();
    assert_eq!(immutable_data(&mut s, &SI, 0), b"abcdefghij");
}

#[test]
fn a_conflicting_overlap_is_rejected_with_nothing_of_that_write_applied() {
    let mut s = server();
    allocate(&mut s, &[0], 20, "u");
    assert!(!s
        .write(&SI, sn(0), &upload_secret("u"), 0, b"aaaa", NOW)
        .unwrap());
    assert!(!s
        .write(&SI, sn(0), &upload_secret("u"), 8, b"bbbb", NOW)
        .unwrap());
    let before = incoming_bytes(&mut s, &SI, 0);
    // Matches [0,4) and differs in [8,12): the new bytes at [4,8) and [12,14) are not
    // written either.
    let err = s
        .write(&SI, sn(0), &upload_secret("u"), 2, b"aaXXXXbbbXYY", NOW)
        .unwrap_err();
    assert!(
        matches!(err, Error::ConflictingWrite { start: 8, end: 12 }),
        "{err:?}"
    );
    assert_eq!(incoming_bytes(&mut s, &SI, 0), before);
    assert_eq!(required(&mut s, 0, "u"), [(4, 8), (12, 20)]);
    // A difference in the first range is named by it.
    let err = s
        .write(&SI, sn(0), &upload_secret("u"), 1, b"ab", NOW)
        .unwrap_err();
    assert!(
        matches!(err, Error::ConflictingWrite { start: 1, end: 3 }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "chunk 1-3 doesn't match already written data"
    );
    // Tahoe compares before it checks the size (checked against Tahoe 1.20): a
    // conflicting write that also runs past the end is a conflict, a matching one is
    // too large.
    let long = b"XXXXXXXXXXXXXXXXX";
    let err = s
        .write(&SI, sn(0), &upload_secret("u"), 10, long, NOW)
        .unwrap_err();
    assert!(
        matches!(err, Error::ConflictingWrite { start: 10, end: 12 }),
        "{err:?}"
    );
    let err = s
        .write(&SI, sn(0), &upload_secret("u"), 8, &[b'b'; 13], NOW)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::DataTooLarge {
                max: 20,
                offset: 8,
                length: 13
            }
        ),
        "{err:?}"
    );
    assert_eq!(incoming_bytes(&mut s, &SI, 0), before);
}

#[test]
fn required_ranges_and_the_completion_flag() {
    let mut s = server();
    allocate(&mut s, &[0], 20, "u");
    let w = |s: &mut MemServer, off: u64, data: &[u8]| {
        s.write(&SI, sn(0), &upload_secret("u"), off, data, NOW)
            .unwrap()
    };
    assert_eq!(required(&mut s, 0, "u"), [(0, 20)]);
    assert!(!w(&mut s, 5, b"fffff"));
    assert_eq!(required(&mut s, 0, "u"), [(0, 5), (10, 20)]);
    assert!(!w(&mut s, 15, b"ppppp"));
    assert!(!w(&mut s, 0, b""));
    assert_eq!(required(&mut s, 0, "u"), [(0, 5), (10, 15)]);
    assert!(!w(&mut s, 0, b"aaaaa"));
    assert!(w(&mut s, 10, b"kkkkk"));
    assert!(required(&mut s, 0, "u").is_empty());
    // Once complete, every later (identical or empty) write reports complete.
    assert!(w(&mut s, 3, b"aa"));
    assert!(w(&mut s, 20, b""));
    assert_eq!(s.uploads().next().unwrap().written, 20);
    // An empty allocation is complete from the start (Tahoe: sum([]) == 0).
    allocate(&mut s, &[1], 0, "z");
    assert!(s
        .write(&SI, sn(1), &upload_secret("z"), 0, b"", NOW)
        .unwrap());
}

#[test]
fn close_does_not_check_completeness_and_holes_read_as_zeros() {
    // [V]
    let mut s = server();
    allocate(&mut s, &[0], 20, "u");
    assert!(!s
        .write(&SI, sn(0), &upload_secret("u"), 5, b"abcde", NOW)
        .unwrap());
    let size = s.close(&SI, sn(0), &upload_secret("u")).unwrap();
    assert_eq!(size, 12 + 20 + 72);
    let mut expect = vec![0u8; 20];
    expect[5..10].copy_from_slice(b"abcde");
    assert_eq!(immutable_data(&mut s, &SI, 0), expect);
    assert!(s.store_mut().list_incoming(&SI).unwrap().is_empty());
    assert_eq!(s.allocated_size(), 0);
}

#[test]
fn abort_removes_the_incoming_share_and_releases_its_reservation() {
    let mut s = server();
    s.store_mut().capacity = Some(1000);
    allocate(&mut s, &[0, 1], 300, "u");
    assert_eq!(s.allocated_size(), 600);
    assert!(!s
        .write(&SI, sn(0), &upload_secret("u"), 0, b"abc", NOW)
        .unwrap());
    s.abort(&SI, sn(0), &upload_secret("u")).unwrap();
    assert_eq!(s.allocated_size(), 300);
    assert_eq!(s.store_mut().list_incoming(&SI).unwrap(), set(&[1]));
    assert!(!s.upload_in_progress(&SI, sn(0)));
    assert!(s.shares(&SI).unwrap().is_empty());
    // The space and the share number are free again, for anyone.
    assert_eq!(allocate(&mut s, &[0], 300, "v").allocated, set(&[0]));
}

#[test]
fn a_wrong_upload_secret_is_refused_by_every_upload_operation() {
    let mut s = server();
    allocate(&mut s, &[0], 4, "right");
    let wrong = upload_secret("wrong");
    let e = s.write(&SI, sn(0), &wrong, 0, b"data", NOW).unwrap_err();
    assert!(matches!(e, Error::BadUploadSecret), "{e:?}");
    let e = s.required_ranges(&SI, sn(0), &wrong).unwrap_err();
    assert!(matches!(e, Error::BadUploadSecret), "{e:?}");
    let e = s.abort(&SI, sn(0), &wrong).unwrap_err();
    assert!(matches!(e, Error::BadUploadSecret), "{e:?}");
    let e = s.close(&SI, sn(0), &wrong).unwrap_err();
    assert!(matches!(e, Error::BadUploadSecret), "{e:?}");
    // Nothing happened: the upload goes on with the right secret.
    assert_eq!(required(&mut s, 0, "right"), [(0, 4)]);
    assert!(s
        .write(&SI, sn(0), &upload_secret("right"), 0, b"data", NOW)
        .unwrap());
    s.close(&SI, sn(0), &upload_secret("right")).unwrap();
    assert_eq!(immutable_data(&mut s, &SI, 0), b"data");
}

#[test]
fn no_such_upload_after_close_or_abort() {
    let mut s = server();
    let u = upload_secret("u");
    let e = s.write(&SI, sn(0), &u, 0, b"", NOW).unwrap_err();
    assert!(matches!(e, Error::NoSuchUpload), "{e:?}");
    upload_shares(&mut s, &[0], b"data");
    let setup = upload_secret("setup");
    for e in [
        s.write(&SI, sn(0), &setup, 0, b"data", NOW).map(drop),
        s.close(&SI, sn(0), &setup).map(drop),
        s.abort(&SI, sn(0), &setup),
        s.required_ranges(&SI, sn(0), &setup).map(drop),
    ] {
        assert!(matches!(e, Err(Error::NoSuchUpload)), "{e:?}");
    }
    allocate(&mut s, &[1], 4, "u");
    s.abort(&SI, sn(1), &u).unwrap();
    for e in [
        s.write(&SI, sn(1), &u, 0, b"data", NOW).map(drop),
        s.close(&SI, sn(1), &u).map(drop),
        s.abort(&SI, sn(1), &u),
    ] {
        assert!(matches!(e, Err(Error::NoSuchUpload)), "{e:?}");
    }
    assert_eq!(s.shares(&SI).unwrap(), set(&[0]));
}

#[test]
fn stale_uploads_expire_at_exactly_the_idle_timeout_and_writes_reset_the_timer() {
    let mut s = server();
    allocate(&mut s, &[0, 1], 10, "u");
    // Share 1 is written (even a failing write counts as activity, as in Tahoe).
    let e = s.write(&SI, sn(1), &upload_secret("u"), 9, b"xx", NOW + 1000);
    assert!(matches!(e, Err(Error::DataTooLarge { .. })), "{e:?}");
    let mut expired = Vec::new();
    let n = s
        .expire_stale_uploads(NOW + 1799, |si, n| expired.push((si, n)))
        .unwrap();
    assert_eq!((n, expired.len()), (0, 0));
    let n = s
        .expire_stale_uploads(NOW + 1800, |si, n| expired.push((si, n)))
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(expired, [(SI, sn(0))]);
    assert_eq!(s.store_mut().list_incoming(&SI).unwrap(), set(&[1]));
    let e = s.write(&SI, sn(0), &upload_secret("u"), 0, b"x", NOW + 1800);
    assert!(matches!(e, Err(Error::NoSuchUpload)), "{e:?}");
    assert_eq!(s.expire_stale_uploads(NOW + 2799, |_, _| ()).unwrap(), 0);
    assert_eq!(s.expire_stale_uploads(NOW + 2800, |_, _| ()).unwrap(), 1);
    assert_eq!(s.allocated_size(), 0);
    assert!(s.store_mut().list_incoming(&SI).unwrap().is_empty());
}

#[test]
fn limit_ranges_per_upload_refuses_a_write_and_changes_nothing() {
    let mut s = server_with(
        MemStore::new(),
        Config::default().with_max_ranges_per_upload(2),
    );
    allocate(&mut s, &[0], 10, "u");
    let u = upload_secret("u");
    s.write(&SI, sn(0), &u, 0, b"a", NOW).unwrap();
    s.write(&SI, sn(0), &u, 4, b"e", NOW).unwrap();
    let before = incoming_bytes(&mut s, &SI, 0);
    let e = s.write(&SI, sn(0), &u, 8, b"i", NOW);
    assert!(
        matches!(e, Err(Error::LimitReached(Limit::RangesPerUpload))),
        "{e:?}"
    );
    assert_eq!(incoming_bytes(&mut s, &SI, 0), before);
    assert_eq!(required(&mut s, 0, "u"), [(1, 4), (5, 10)]);
    // Filling a gap merges ranges, making room again.
    s.write(&SI, sn(0), &u, 1, b"bcd", NOW).unwrap();
    s.write(&SI, sn(0), &u, 8, b"i", NOW).unwrap();
    assert_eq!(required(&mut s, 0, "u"), [(5, 8), (9, 10)]);
}

// ----- BucketReader ----------------------------------------------------------------------

#[test]
fn bucket_reader_of_a_deleted_share_fails_with_no_such_share() {
    let mut s = server();
    upload_shares(&mut s, &[0], b"0123456789");
    let r = s.open_bucket(&SI, sn(0)).unwrap();
    // The only lease goes, and the share with it (Tahoe's expirer does the same).
    s.cancel_lease(&SI, &CancelSecret::new([3; 32])).unwrap();
    assert!(s.shares(&SI).unwrap().is_empty());
    let e = s.read_bucket_vec(&r, 0, 10).unwrap_err();
    assert!(matches!(e, Error::NoSuchShare), "{e:?}");
    let mut buf = [0u8; 4];
    assert!(matches!(
        s.read_bucket(&r, 2, &mut buf),
        Err(Error::NoSuchShare)
    ));
    // As in Tahoe, a read that can return nothing does not look at the share.
    assert_eq!(s.read_bucket_vec(&r, 10, 5).unwrap(), b"");
    assert_eq!(s.read_bucket_vec(&r, 0, 0).unwrap(), b"");
    assert_eq!(r.length(), 10);
    // A new share under the same name is read through the old reader, as Tahoe's reader
    // opens the file by name; its length bounds the read as it did.
    upload_shares(&mut s, &[0], b"abcdefghijklmnop");
    assert_eq!(s.read_bucket_vec(&r, 0, 100).unwrap(), b"abcdefghij");
}

#[test]
fn bucket_reader_truncates_reads_and_reports_the_length() {
    let mut s = server();
    upload_shares(&mut s, &[0, 3], b"0123456789");
    let r = s.open_bucket(&SI, sn(3)).unwrap();
    assert_eq!((r.storage_index(), r.share_number()), (SI, sn(3)));
    assert_eq!(r.length(), 10);
    assert_eq!(s.read_bucket_vec(&r, 7, 10).unwrap(), b"789");
    assert_eq!(s.read_bucket_vec(&r, 10, 5).unwrap(), b"");
    assert_eq!(s.read_bucket_vec(&r, u64::MAX, u64::MAX).unwrap(), b"");
    assert_eq!(s.read_bucket_vec(&r, 2, 0).unwrap(), b"");
    let mut buf = [0xffu8; 6];
    assert_eq!(s.read_bucket(&r, 6, &mut buf).unwrap(), 4);
    assert_eq!(buf, *b"6789\xff\xff");
    let readers = s.get_buckets(&SI).unwrap();
    let nums: Vec<_> = readers.iter().map(|r| r.share_number().0).collect();
    assert_eq!(nums, [0, 3]);
    let e = s.open_bucket(&SI, sn(1)).unwrap_err();
    assert!(matches!(e, Error::NoSuchShare), "{e:?}");
    write_slots(&mut s, &[0], b"m");
    let e = s.open_bucket(&MSI, sn(0)).unwrap_err();
    assert!(matches!(e, Error::UnknownImmutableVersion { .. }), "{e:?}");
    assert!(s
        .get_buckets(&StorageIndex::new([3; 16]))
        .unwrap()
        .is_empty());
}

// ----- leases ----------------------------------------------------------------------------

#[test]
fn add_lease_adds_owner_1_for_31_days_on_every_share_of_both_kinds() {
    let mut s = server();
    upload_shares(&mut s, &[0, 1], b"data");
    write_slots(&mut s, &[0, 2], b"slot");
    let (r, c) = (RenewSecret::new([30; 32]), CancelSecret::new([31; 32]));
    assert_eq!(s.add_lease(&SI, &r, &c, 1, NOW + 60).unwrap(), 2);
    assert_eq!(s.add_lease(&MSI, &r, &c, 1, NOW + 60).unwrap(), 2);
    let exp = NOW + 60 + DAYS31;
    let imm: Vec<_> = leases(&mut s, &SI)
        .into_iter()
        .filter(|l| l.4 == 30)
        .collect();
    assert_eq!(
        imm,
        [
            (0, ShareKind::Immutable, 1, exp, 30),
            (1, ShareKind::Immutable, 1, exp, 30)
        ]
    );
    let mt: Vec<_> = leases(&mut s, &MSI)
        .into_iter()
        .filter(|l| l.4 == 30)
        .collect();
    assert_eq!(
        mt,
        [
            (0, ShareKind::Mutable, 1, exp, 30),
            (2, ShareKind::Mutable, 1, exp, 30)
        ]
    );
    // No shares: nothing to do, nothing created.
    let empty = StorageIndex::new([4; 16]);
    assert_eq!(s.add_lease(&empty, &r, &c, 1, NOW).unwrap(), 0);
    assert!(s.shares(&empty).unwrap().is_empty());
}

#[test]
fn renewal_never_back_dates() {
    let mut s = server();
    upload_shares(&mut s, &[0], b"data");
    write_slots(&mut s, &[0], b"slot");
    let (r, c) = (RenewSecret::new([30; 32]), CancelSecret::new([31; 32]));
    for si in [SI, MSI] {
        s.add_lease(&si, &r, &c, 1, NOW + 1000).unwrap();
        let expiry = |s: &mut MemServer| leases(s, &si).iter().find(|l| l.4 == 30).unwrap().3;
        assert_eq!(expiry(&mut s), NOW + 1000 + DAYS31);
        s.add_lease(&si, &r, &c, 1, NOW).unwrap();
        assert_eq!(expiry(&mut s), NOW + 1000 + DAYS31);
        s.renew_lease(&si, &r, NOW + 999).unwrap();
        assert_eq!(expiry(&mut s), NOW + 1000 + DAYS31);
        s.renew_lease(&si, &r, NOW + 2000).unwrap();
        assert_eq!(expiry(&mut s), NOW + 2000 + DAYS31);
        assert_eq!(leases(&mut s, &si).len(), 2);
    }
    // allocate_buckets' renewal does not back-date either.
    s.allocate_buckets(&request(&[], 4, 30, "u"), NOW + 5)
        .unwrap();
    assert_eq!(leases(&mut s, &SI)[1].3, NOW + 2000 + DAYS31);
}

#[test]
fn renew_lease_without_shares_or_without_a_match_is_no_such_lease() {
    let mut s = server();
    let r = RenewSecret::new([30; 32]);
    let e = s.renew_lease(&SI, &r, NOW).unwrap_err();
    assert!(matches!(e, Error::NoSuchLease { .. }), "{e:?}");
    upload_shares(&mut s, &[0], b"data");
    let e = s.renew_lease(&SI, &r, NOW).unwrap_err();
    assert!(matches!(e, Error::NoSuchLease { .. }), "{e:?}");
    write_slots(&mut s, &[0], b"slot");
    let e = s.renew_lease(&MSI, &r, NOW).unwrap_err();
    assert!(matches!(e, Error::NoSuchLease { .. }), "{e:?}");
    s.renew_lease(&SI, &RenewSecret::new([2; 32]), NOW + 7)
        .unwrap();
    assert_eq!(leases(&mut s, &SI)[0].3, NOW + 7 + DAYS31);
}

#[test]
fn cancelling_the_last_lease_deletes_the_share() {
    let mut s = server();
    upload_shares(&mut s, &[0, 1], b"data");
    s.add_lease(
        &SI,
        &RenewSecret::new([30; 32]),
        &CancelSecret::new([31; 32]),
        1,
        NOW,
    )
    .unwrap();
    let e = s
        .cancel_lease(&SI, &CancelSecret::new([99; 32]))
        .unwrap_err();
    assert!(matches!(e, Error::NoSuchLease { .. }), "{e:?}");
    // The upload's lease has cancel secret 3.
    assert_eq!(
        s.cancel_lease(&SI, &CancelSecret::new([3; 32])).unwrap(),
        2 * 72
    );
    assert_eq!(s.shares(&SI).unwrap(), set(&[0, 1]));
    assert_eq!(published_bytes(&mut s, &SI, 0).len(), 12 + 4 + 72);
    let freed = s.cancel_lease(&SI, &CancelSecret::new([31; 32])).unwrap();
    assert_eq!(freed, 2 * (72 + 12 + 4));
    assert!(s.shares(&SI).unwrap().is_empty());
    // Mutable: the slot is blanked, and the last one deletes the share.
    write_slots(&mut s, &[0], b"slot");
    s.add_lease(
        &MSI,
        &RenewSecret::new([30; 32]),
        &CancelSecret::new([31; 32]),
        1,
        NOW,
    )
    .unwrap();
    s.cancel_lease(&MSI, &CancelSecret::new([0x0b; 32]))
        .unwrap();
    assert_eq!(leases(&mut s, &MSI).len(), 1);
    assert_eq!(s.shares(&MSI).unwrap(), set(&[0]));
    s.cancel_lease(&MSI, &CancelSecret::new([31; 32])).unwrap();
    assert!(s.shares(&MSI).unwrap().is_empty());
}

#[test]
fn for_each_lease_visits_every_lease_and_stops_early() {
    let mut s = server();
    upload_shares(&mut s, &[0, 1, 2], b"data");
    s.add_lease(
        &SI,
        &RenewSecret::new([30; 32]),
        &CancelSecret::new([31; 32]),
        1,
        NOW,
    )
    .unwrap();
    let mut all = 0;
    s.for_each_lease(&SI, |_, kind, _| {
        assert_eq!(kind, ShareKind::Immutable);
        all += 1;
        true
    })
    .unwrap();
    assert_eq!(all, 6);
    let mut some = 0;
    s.for_each_lease(&SI, |_, _, _| {
        some += 1;
        some < 3
    })
    .unwrap();
    assert_eq!(some, 3);
}

#[test]
fn stat_share_reports_both_kinds() {
    let mut s = server();
    upload_shares(&mut s, &[0], b"0123456789");
    s.add_lease(
        &SI,
        &RenewSecret::new([30; 32]),
        &CancelSecret::new([31; 32]),
        1,
        NOW + 9,
    )
    .unwrap();
    let st = s.stat_share(&SI, sn(0)).unwrap();
    assert_eq!(st.kind, ShareKind::Immutable);
    assert_eq!((st.data_length, st.container_size), (10, 12 + 10 + 2 * 72));
    assert_eq!(st.num_leases, 2);
    let (lo, hi) = (NOW + DAYS31, NOW + 9 + DAYS31);
    assert_eq!(st.earliest_expiration.map(u64::from), Some(lo));
    assert_eq!(st.latest_expiration.map(u64::from), Some(hi));
    write_slots(&mut s, &[1], b"abc");
    let st = s.stat_share(&MSI, sn(1)).unwrap();
    assert_eq!(st.kind, ShareKind::Mutable);
    assert_eq!((st.data_length, st.num_leases), (3, 1));
    assert_eq!(st.container_size, 468 + 3 + 4);
    let e = s.stat_share(&MSI, sn(0)).unwrap_err();
    assert!(matches!(e, Error::NoSuchShare), "{e:?}");
}

// ----- slot_testv_and_readv_and_writev -----------------------------------------------------

/// Publishes a mutable share of `MSI` made by another node with another write enabler.
fn foreign_slot(s: &mut MemServer, n: u8, we: u8) {
    let io = s.store_mut().create_incoming(&MSI, sn(n)).unwrap();
    let mut c = MutableContainer::create(
        io,
        MutableVersion::V2,
        NodeId([8; 20]),
        WriteEnabler::new([we; 32]),
    )
    .unwrap();
    c.writev(&[(0, b"foreign")], None).unwrap();
    drop(c);
    s.store_mut().publish(&MSI, sn(n)).unwrap();
}

#[test]
fn the_write_enabler_is_checked_against_every_share_even_with_no_writes() {
    // [V] BadWriteEnablerError names the recording node.
    let mut s = server();
    write_slots(&mut s, &[0], b"mine");
    foreign_slot(&mut s, 1, 0x44);
    let e = slot(&mut s, &[], &[(0, 4)]).unwrap_err();
    let Error::BadWriteEnabler { nodeid } = e else {
        panic!("{e:?}");
    };
    assert_eq!(nodeid, NodeId([8; 20]));
    assert_eq!(
        e.to_string(),
        format!(
            "The write enabler was recorded by nodeid '{}'.",
            NodeId([8; 20])
        )
    );
    assert_eq!(
        NodeId([8; 20]).to_string(),
        "baeaqcaibaeaqcaibaeaqcaibaeaqcai"
    );
    // A write to share 0 alone is refused too, and changes nothing.
    let e = slot(&mut s, &[entry(0, &[], &[(0, b"XX")], None)], &[]).unwrap_err();
    assert!(matches!(e, Error::BadWriteEnabler { .. }), "{e:?}");
    assert_eq!(slot_data(&mut s)[0], (0, b"mine".to_vec()));
    // Share 1's own write enabler is refused by share 0.
    let e = s
        .slot_testv_and_readv_and_writev(
            &MSI,
            &slot_secrets(0x44),
            &[],
            &[],
            LeaseUpdate::AddOrRenew,
            NOW,
        )
        .unwrap_err();
    assert!(
        matches!(e, Error::BadWriteEnabler { nodeid } if nodeid == NODE),
        "{e:?}"
    );
}

#[test]
fn a_slot_write_at_an_immutable_storage_index_is_unknown_mutable_magic() {
    let mut s = server();
    upload_shares(&mut s, &[0], b"data");
    let e = s
        .slot_testv_and_readv_and_writev(
            &SI,
            &slot_secrets(6),
            &[entry(1, &[], &[(0, b"x")], None)],
            &[],
            LeaseUpdate::AddOrRenew,
            NOW,
        )
        .unwrap_err();
    assert!(matches!(e, Error::UnknownMutableMagic { .. }), "{e:?}");
    assert_eq!(s.shares(&SI).unwrap(), set(&[0]));
    let e = s.slot_readv(&SI, &ShareSet::new(), &[(0, 1)]).unwrap_err();
    assert!(matches!(e, Error::UnknownMutableMagic { .. }), "{e:?}");
}

#[test]
fn a_missing_share_tests_as_empty() {
    // [V] (0, 1, eq, b"") means "absent or empty".
    let mut s = server();
    let absent = [eq(0, 1, b"")];
    let (passed, reads) = slot(&mut s, &[entry(0, &absent, &[], None)], &[(0, 1)]).unwrap();
    assert!(passed);
    assert!(reads.is_empty(), "reads cover shares that existed before");
    assert_eq!(slot_data(&mut s), [(0, vec![])]);
    // Still empty: passes again.
    assert!(
        slot(&mut s, &[entry(0, &absent, &[(0, b"abc")], None)], &[])
            .unwrap()
            .0
    );
    // Now it holds data: fails, and nothing is written.
    assert!(
        !slot(&mut s, &[entry(0, &absent, &[(0, b"X")], None)], &[])
            .unwrap()
            .0
    );
    assert_eq!(slot_data(&mut s), [(0, b"abc".to_vec())]);
    // A missing share fails any non-empty specimen, even a zero-length read's.
    let zero_len = [eq(0, 0, b"x")];
    assert!(
        !slot(&mut s, &[entry(1, &zero_len, &[(0, b"x")], None)], &[])
            .unwrap()
            .0
    );
    // Reads past the end are truncated in tests too.
    let tail = [eq(2, 100, b"c"), eq(50, 1, b"")];
    assert!(slot(&mut s, &[entry(0, &tail, &[], None)], &[]).unwrap().0);
    assert_eq!(s.shares(&MSI).unwrap(), set(&[0]));
}

#[test]
fn only_the_eq_operator_is_accepted() {
    // [V] Tahoe fails an assertion for any other operator.
    assert!(matches!(
        TestOperator::parse::<MemError>(b"eq"),
        Ok(TestOperator::Eq)
    ));
    for op in [&b"lt"[..], b"ne", b"EQ", b""] {
        let e = TestOperator::parse::<MemError>(op).unwrap_err();
        assert!(matches!(e, ContainerError::UnsupportedOperator), "{e:?}");
    }
}

#[test]
fn a_failed_test_on_any_share_writes_nothing_but_reads_still_happen() {
    let mut s = server();
    write_slots(&mut s, &[0, 1], b"abcd");
    let good = [eq(0, 2, b"ab")];
    let bad = [eq(0, 2, b"zz")];
    let w: &[(u64, &[u8])] = &[(0, b"XY")];
    let (passed, reads) = slot(
        &mut s,
        &[
            entry(0, &good, w, None),
            entry(1, &bad, w, Some(0)),
            entry(2, &[], w, None),
        ],
        &[(1, 2)],
    )
    .unwrap();
    assert!(!passed);
    assert_eq!(
        reads,
        [(0, vec![b"bc".to_vec()]), (1, vec![b"bc".to_vec()])]
    );
    assert_eq!(
        slot_data(&mut s),
        [(0, b"abcd".to_vec()), (1, b"abcd".to_vec())]
    );
    assert_eq!(leases(&mut s, &MSI).len(), 2, "no lease renewal either");
    // The failing test is found whatever its position.
    let (passed, _) = slot(
        &mut s,
        &[entry(1, &bad, w, None), entry(0, &good, w, None)],
        &[],
    )
    .unwrap();
    assert!(!passed);
    assert_eq!(slot_data(&mut s)[0].1, b"abcd");
}

#[test]
fn reads_happen_before_writes_and_cover_every_existing_share() {
    let mut s = server();
    write_slots(&mut s, &[0, 1, 5], b"old data");
    let (passed, reads) = slot(
        &mut s,
        &[
            entry(0, &[], &[(0, b"NEW")], None),
            entry(1, &[], &[], Some(0)),
            entry(3, &[], &[(0, b"created")], None),
        ],
        &[(0, 3), (4, 100)],
    )
    .unwrap();
    assert!(passed);
    let old = vec![b"old".to_vec(), b"data".to_vec()];
    assert_eq!(reads, [(0, old.clone()), (1, old.clone()), (5, old)]);
    assert_eq!(
        slot_data(&mut s),
        [
            (0, b"NEW data".to_vec()),
            (3, b"created".to_vec()),
            (5, b"old data".to_vec())
        ]
    );
}

#[test]
fn new_length_zero_deletes_a_share_and_never_creates_one() {
    let mut s = server();
    write_slots(&mut s, &[0, 1], b"data");
    let w: &[(u64, &[u8])] = &[(0, b"ignored")];
    let (passed, _) = slot(
        &mut s,
        &[entry(0, &[], w, Some(0)), entry(7, &[], w, Some(0))],
        &[],
    )
    .unwrap();
    assert!(passed);
    assert_eq!(s.shares(&MSI).unwrap(), set(&[1]));
    assert!(leases(&mut s, &MSI).iter().all(|l| l.0 == 1));
    assert!(slot(&mut s, &[entry(1, &[], &[], Some(0))], &[]).unwrap().0);
    assert!(s.shares(&MSI).unwrap().is_empty());
    assert!(s.store().snapshot().is_empty());
}

#[test]
fn a_deleting_entry_ignores_its_write_vector_even_past_the_maximum() {
    // Tahoe unlinks without looking at the data vector, so a write past the maximum
    // size in a deleting entry is no error there.
    let mut s = server();
    write_slots(&mut s, &[0, 1], b"data");
    let huge: &[(u64, &[u8])] = &[(MAX_MUTABLE_SHARE_SIZE, b"x")];
    let (passed, _) = slot(&mut s, &[entry(0, &[], huge, Some(0))], &[]).unwrap();
    assert!(passed);
    assert_eq!(s.shares(&MSI).unwrap(), set(&[1]));
}

#[test]
fn an_empty_write_vector_creates_a_share_of_length_zero() {
    // [V]
    let mut s = server();
    assert!(slot(&mut s, &[entry(2, &[], &[], None)], &[]).unwrap().0);
    assert_eq!(s.mutable_share_length(&MSI, sn(2)).unwrap(), 0);
    // A larger new_length on a new share is ignored too.
    assert!(slot(&mut s, &[entry(3, &[], &[], Some(5))], &[]).unwrap().0);
    assert_eq!(s.mutable_share_length(&MSI, sn(3)).unwrap(), 0);
}

#[test]
fn writes_fill_gaps_with_zeros_and_a_zero_length_write_past_the_end_extends() {
    // [V] both.
    let mut s = server();
    let w: &[(u64, &[u8])] = &[(0, b"abc"), (6, b"gh"), (2, b"C")];
    assert!(slot(&mut s, &[entry(0, &[], w, None)], &[]).unwrap().0);
    assert_eq!(slot_data(&mut s), [(0, b"abC\0\0\0gh".to_vec())]);
    assert!(
        slot(&mut s, &[entry(0, &[], &[(12, b"")], None)], &[])
            .unwrap()
            .0
    );
    assert_eq!(slot_data(&mut s), [(0, b"abC\0\0\0gh\0\0\0\0".to_vec())]);
    assert_eq!(s.mutable_share_length(&MSI, sn(0)).unwrap(), 12);
}

#[test]
fn a_larger_new_length_is_ignored_and_a_smaller_one_truncates() {
    // [V]
    let mut s = server();
    write_slots(&mut s, &[0], b"0123456789");
    assert!(
        slot(&mut s, &[entry(0, &[], &[], Some(50))], &[])
            .unwrap()
            .0
    );
    assert_eq!(s.mutable_share_length(&MSI, sn(0)).unwrap(), 10);
    // new_length applies after the writes.
    assert!(
        slot(&mut s, &[entry(0, &[], &[(8, b"ABCD")], Some(4))], &[])
            .unwrap()
            .0
    );
    assert_eq!(slot_data(&mut s), [(0, b"0123".to_vec())]);
    let size = s.stat_share(&MSI, sn(0)).unwrap().container_size;
    assert!(size >= 468 + 12, "the container never shrinks");
    // The truncated bytes never come back.
    assert!(
        slot(&mut s, &[entry(0, &[], &[(8, b"")], None)], &[])
            .unwrap()
            .0
    );
    assert_eq!(slot_data(&mut s), [(0, b"0123\0\0\0\0".to_vec())]);
}

#[test]
fn data_too_large_changes_nothing_on_any_share() {
    let mut s = server();
    write_slots(&mut s, &[0], b"data");
    let before = s.store().snapshot();
    for bad in [(MAX_MUTABLE_SHARE_SIZE, &b"x"[..]), (u64::MAX, b"x")] {
        let writes = [(0, &b"changed"[..])];
        let bad_writes = [(0, &b"ok"[..]), bad];
        let e = slot(
            &mut s,
            &[
                entry(0, &[], &writes, None),
                entry(1, &[], &bad_writes, None),
            ],
            &[],
        )
        .unwrap_err();
        assert!(matches!(e, Error::DataTooLarge { .. }), "{e:?}");
        assert_eq!(s.store().snapshot(), before);
    }
    // Exactly the maximum is allowed by the check (not written here: too large).
    let e = slot(
        &mut s,
        &[entry(0, &[], &[(MAX_MUTABLE_SHARE_SIZE - 1, b"xy")], None)],
        &[],
    )
    .unwrap_err();
    assert!(matches!(e, Error::DataTooLarge { .. }), "{e:?}");
}

#[test]
fn a_share_number_listed_twice_is_invalid_argument() {
    let mut s = server();
    let e = slot(
        &mut s,
        &[
            entry(0, &[], &[(0, b"a")], None),
            entry(0, &[], &[(0, b"b")], None),
        ],
        &[],
    )
    .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    assert!(s.shares(&MSI).unwrap().is_empty());
}

#[test]
fn slot_writes_add_owner_1_leases_on_surviving_shares_only() {
    let mut s = server();
    write_slots(&mut s, &[0, 1, 2], b"data");
    let secrets = SlotSecrets {
        renew: RenewSecret::new([30; 32]),
        cancel: CancelSecret::new([31; 32]),
        ..slot_secrets(6)
    };
    let w: &[(u64, &[u8])] = &[(0, b"x")];
    s.slot_testv_and_readv_and_writev(
        &MSI,
        &secrets,
        &[
            entry(0, &[], w, None),
            entry(1, &[], w, Some(0)),
            entry(4, &[], w, None),
        ],
        &[],
        LeaseUpdate::AddOrRenew,
        NOW + 60,
    )
    .unwrap();
    let exp = NOW + 60 + DAYS31;
    let new: Vec<_> = leases(&mut s, &MSI)
        .into_iter()
        .filter(|l| l.4 == 30)
        .collect();
    assert_eq!(
        new,
        [
            (0, ShareKind::Mutable, 1, exp, 30),
            (4, ShareKind::Mutable, 1, exp, 30)
        ]
    );
    // Without renew_leases, a created share has no lease at all.
    s.slot_testv_and_readv_and_writev(
        &MSI,
        &secrets,
        &[entry(5, &[], w, None)],
        &[],
        LeaseUpdate::NoChange,
        NOW,
    )
    .unwrap();
    assert_eq!(s.stat_share(&MSI, sn(5)).unwrap().num_leases, 0);
    assert_eq!(s.stat_share(&MSI, sn(2)).unwrap().num_leases, 1);
}

#[test]
fn mutable_writes_ignore_readonly_unless_configured() {
    // [V] Tahoe accepts a mutable write on a readonly server (#390).
    let mut s = server_with(MemStore::new(), Config::default().with_readonly(true));
    write_slots(&mut s, &[0, 1], b"data");
    assert_eq!(s.shares(&MSI).unwrap(), set(&[0, 1]));
    let store = s.into_store();
    let mut s = server_with(
        store,
        Config::default()
            .with_readonly(true)
            .with_mutable_writes_respect_space(true),
    );
    let before = s.store().snapshot();
    let e = slot(&mut s, &[entry(0, &[], &[(0, b"x")], None)], &[]).unwrap_err();
    assert!(matches!(e, Error::ReadOnly), "{e:?}");
    assert_eq!(s.store().snapshot(), before);
    // Deleting needs no space.
    assert!(slot(&mut s, &[entry(1, &[], &[], Some(0))], &[]).unwrap().0);
    assert_eq!(s.shares(&MSI).unwrap(), set(&[0]));
}

#[test]
fn a_fifth_mutable_lease_on_a_readonly_server_is_nospace_after_the_writes() {
    // Tahoe 1.20 (checked): the write is applied, then the lease needs an extra slot
    // (92 bytes) of the 0 bytes a readonly server has, and NoSpace is raised.
    let mut s = server();
    for seed in 0..4u8 {
        let secrets = SlotSecrets {
            renew: RenewSecret::new([0x70 + seed; 32]),
            cancel: CancelSecret::new([0x80 + seed; 32]),
            ..slot_secrets(6)
        };
        let w: &[(u64, &[u8])] = &[(0, b"abc")];
        s.slot_testv_and_readv_and_writev(
            &MSI,
            &secrets,
            &[entry(0, &[], w, None)],
            &[],
            LeaseUpdate::AddOrRenew,
            NOW,
        )
        .unwrap();
    }
    let mut s = server_with(s.into_store(), Config::default().with_readonly(true));
    let e = slot(&mut s, &[entry(0, &[], &[(0, b"XYZ")], None)], &[]).unwrap_err();
    assert!(matches!(e, Error::NoSpace), "{e:?}");
    assert_eq!(slot_data(&mut s), [(0, b"XYZ".to_vec())]);
    assert_eq!(leases(&mut s, &MSI).len(), 4);
}

#[test]
fn mutable_writes_respect_space_when_configured() {
    let mut store = MemStore::new();
    store.capacity = Some(1000);
    let config = Config::default().with_mutable_writes_respect_space(true);
    let mut s = server_with(store, config);
    // A new share needs its container (472 bytes) plus its data.
    let data = [7u8; 529];
    let e = slot(&mut s, &[entry(0, &[], &[(0, &data)], None)], &[]).unwrap_err();
    assert!(matches!(e, Error::NoSpace), "{e:?}");
    assert!(s.shares(&MSI).unwrap().is_empty());
    assert!(
        slot(&mut s, &[entry(0, &[], &[(0, &data[..100])], None)], &[])
            .unwrap()
            .0
    );
    // Default config: the same write on a full store goes through.
    let mut store = MemStore::new();
    store.capacity = Some(0);
    let mut s = server_with(store, Config::default());
    assert!(
        slot(&mut s, &[entry(0, &[], &[(0, &data)], None)], &[])
            .unwrap()
            .0
    );
}

#[test]
fn a_slot_write_cannot_create_a_share_being_uploaded() {
    let mut s = server();
    let mut req = request(&[1], 4, 2, "u");
    req.storage_index = MSI;
    s.allocate_buckets(&req, NOW).unwrap();
    let e = slot(
        &mut s,
        &[
            entry(0, &[], &[(0, b"a")], None),
            entry(1, &[], &[(0, b"b")], None),
        ],
        &[],
    )
    .unwrap_err();
    assert!(matches!(e, Error::AlreadyExists), "{e:?}");
    assert!(s.shares(&MSI).unwrap().is_empty());
    // Tests that fail first take precedence: nothing is written, no error.
    let absent = [eq(0, 1, b"x")];
    let (passed, _) = slot(&mut s, &[entry(1, &absent, &[(0, b"b")], None)], &[]).unwrap();
    assert!(!passed);
}

// ----- slot_readv and other queries --------------------------------------------------------

#[test]
fn slot_readv_all_shares_when_none_listed_and_omits_missing_ones() {
    let mut s = server();
    write_slots(&mut s, &[0, 3], b"0123456789");
    let r = s
        .slot_readv(&MSI, &ShareSet::new(), &[(1, 2), (8, 5), (20, 1)])
        .unwrap();
    let want = vec![b"12".to_vec(), b"89".to_vec(), vec![]];
    assert_eq!(r, [(sn(0), want.clone()), (sn(3), want)]);
    let r = s.slot_readv(&MSI, &set(&[3, 4]), &[(0, 1)]).unwrap();
    assert_eq!(r, [(sn(3), vec![b"0".to_vec()])]);
    assert!(s
        .slot_readv(&MSI, &set(&[4]), &[(0, 1)])
        .unwrap()
        .is_empty());
    let unknown = StorageIndex::new([0xee; 16]);
    assert!(s
        .slot_readv(&unknown, &ShareSet::new(), &[(0, 1)])
        .unwrap()
        .is_empty());
    assert_eq!(
        s.slot_readv(&MSI, &set(&[0]), &[]).unwrap(),
        [(sn(0), vec![])]
    );
}

#[test]
fn share_length_queries() {
    let mut s = server();
    upload_shares(&mut s, &[0], b"12345");
    write_slots(&mut s, &[1], b"1234567");
    assert_eq!(s.immutable_share_length(&SI, sn(0)).unwrap(), 5);
    assert_eq!(s.mutable_share_length(&MSI, sn(1)).unwrap(), 7);
    let e = s.immutable_share_length(&SI, sn(1)).unwrap_err();
    assert!(matches!(e, Error::NoSuchShare), "{e:?}");
    let e = s.mutable_share_length(&MSI, sn(0)).unwrap_err();
    assert!(matches!(e, Error::NoSuchShare), "{e:?}");
    let e = s.mutable_share_length(&SI, sn(0)).unwrap_err();
    assert!(matches!(e, Error::UnknownMutableMagic { .. }), "{e:?}");
    let e = s.immutable_share_length(&MSI, sn(1)).unwrap_err();
    assert!(matches!(e, Error::UnknownImmutableVersion { .. }), "{e:?}");
    // Enumeration does not check the kind (Tahoe's get_shares).
    assert_eq!(s.shares(&SI).unwrap(), set(&[0]));
    assert_eq!(s.shares(&MSI).unwrap(), set(&[1]));
}

#[test]
fn the_version_record() {
    let mut s = server();
    let v = s.version().unwrap();
    assert_eq!(v.available_space, None);
    assert_eq!(v.reported_space(), 1u128 << 64);
    assert_eq!(v.maximum_mutable_share_size, 69_105_000_000_000_000);
    assert!(v.tolerates_immutable_read_overrun);
    assert!(v.delete_mutable_shares_with_zero_length_writev);
    assert!(v.fills_holes_with_zero_bytes);
    assert!(v.prevents_read_past_end_of_share_data);
    s.store_mut().capacity = Some(5000);
    let v = s.version().unwrap();
    assert_eq!(v.available_space, Some(5000));
    assert_eq!(v.reported_space(), 5000);
}

// ----- advise_corrupt_share ----------------------------------------------------------------

const ADVISORY_NAME: &str = "2023-11-14T221320--aeaqcaibaeaqcaibaeaqcaibae-3";

#[test]
fn an_advisory_is_recorded_in_tahoes_text_under_tahoes_name() {
    let mut s = server();
    upload_shares(&mut s, &[3], b"data");
    let out = s
        .advise_corrupt_share(b"immutable", &SI, sn(3), "bad h\u{e9}sh".as_bytes(), NOW)
        .unwrap();
    assert_eq!(out, AdviseOutcome::Recorded);
    let adv = &s.store().advisories;
    assert_eq!(adv.keys().collect::<Vec<_>>(), [ADVISORY_NAME]);
    assert_eq!(
        adv[ADVISORY_NAME],
        "report: Share Corruption\ntype: immutable\nstorage_index: aeaqcaibaeaqcaibaeaqcaibae\n\
         share_number: 3\n\nbad h\u{e9}sh\n\n"
            .as_bytes()
    );
}

#[test]
fn an_advisory_for_a_share_not_held_is_dropped() {
    let mut s = server();
    upload_shares(&mut s, &[3], b"data");
    allocate(&mut s, &[4], 4, "u");
    for n in [4, 5] {
        let out = s
            .advise_corrupt_share(b"immutable", &SI, sn(n), b"r", NOW)
            .unwrap();
        assert_eq!(out, AdviseOutcome::NotHeld);
    }
    // The share's kind is not checked.
    write_slots(&mut s, &[0], b"m");
    let out = s
        .advise_corrupt_share(b"immutable", &MSI, sn(0), b"r", NOW)
        .unwrap();
    assert_eq!(out, AdviseOutcome::Recorded);
    assert_eq!(s.store().advisories.len(), 1);
}

#[test]
fn an_advisory_larger_than_the_free_space_is_dropped() {
    let mut s = server();
    upload_shares(&mut s, &[3], b"data");
    let report_len = "report: Share Corruption\ntype: immutable\nstorage_index: \
                      aeaqcaibaeaqcaibaeaqcaibae\nshare_number: 3\n\nr\n\n"
        .len() as u64;
    let used = s.store().used();
    s.store_mut().capacity = Some(used + report_len - 1);
    let out = s
        .advise_corrupt_share(b"immutable", &SI, sn(3), b"r", NOW)
        .unwrap();
    assert_eq!(out, AdviseOutcome::NoSpace);
    assert!(s.store().advisories.is_empty());
    s.store_mut().capacity = Some(used + report_len);
    let out = s
        .advise_corrupt_share(b"immutable", &SI, sn(3), b"r", NOW)
        .unwrap();
    assert_eq!(out, AdviseOutcome::Recorded);
    // A readonly server has no space for one (Tahoe's get_available_space is 0).
    let store = s.into_store();
    let mut s = server_with(store, Config::default().with_readonly(true));
    let out = s
        .advise_corrupt_share(b"immutable", &SI, sn(3), b"r", NOW + 1)
        .unwrap();
    assert_eq!(out, AdviseOutcome::NoSpace);
}

#[test]
fn an_advisory_that_is_not_utf8_is_invalid_argument() {
    let mut s = server();
    upload_shares(&mut s, &[3], b"data");
    // The share type is decoded first, as Tahoe does; the error says which text and where
    // it stops being UTF-8, so bindings raise their own decoding error from it.
    for (t, r, which, valid, bad) in [
        (&b"immutable"[..], &b"ok \xff"[..], "reason", 3, Some(1)),
        (b"\xc3", b"\xff", "share type", 0, None),
    ] {
        let e = s.advise_corrupt_share(t, &SI, sn(3), r, NOW).unwrap_err();
        let Error::NotUtf8 { field, error } = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (field, error.valid_up_to(), error.error_len()),
            (which, valid, bad)
        );
        assert!(e.to_string().contains(which), "{e}");
    }
    assert!(s.store().advisories.is_empty());
}

#[test]
fn an_advisory_over_the_size_limit_is_refused() {
    let fixed = "report: Share Corruption\ntype: immutable\nstorage_index: \
                 aeaqcaibaeaqcaibaeaqcaibae\nshare_number: 3\n\n\n\n"
        .len();
    let mut s = server_with(
        MemStore::new(),
        Config::default().with_max_advisory_size(fixed + 10),
    );
    upload_shares(&mut s, &[3], b"data");
    let e = s
        .advise_corrupt_share(b"immutable", &SI, sn(3), &[b'r'; 11], NOW)
        .unwrap_err();
    assert!(
        matches!(e, Error::LimitReached(Limit::AdvisorySize)),
        "{e:?}"
    );
    assert!(s.store().advisories.is_empty());
    let out = s
        .advise_corrupt_share(b"immutable", &SI, sn(3), &[b'r'; 10], NOW)
        .unwrap();
    assert_eq!(out, AdviseOutcome::Recorded);
}

#[test]
fn advisories_in_the_same_second_get_numbered_suffixes() {
    let mut s = server();
    upload_shares(&mut s, &[3], b"data");
    for reason in [&b"one"[..], b"two", b"three"] {
        s.advise_corrupt_share(b"immutable", &SI, sn(3), reason, NOW)
            .unwrap();
    }
    s.advise_corrupt_share(b"immutable", &SI, sn(3), b"four", NOW + 1)
        .unwrap();
    let names: Vec<_> = s.store().advisories.keys().cloned().collect();
    assert_eq!(
        names,
        [
            ADVISORY_NAME.to_string(),
            format!("{ADVISORY_NAME}.1"),
            format!("{ADVISORY_NAME}.2"),
            "2023-11-14T221321--aeaqcaibaeaqcaibaeaqcaibae-3".to_string()
        ]
    );
    assert!(s.store().advisories[&format!("{ADVISORY_NAME}.2")].ends_with(b"\n\nthree\n\n"));
}

// ----- restarts --------------------------------------------------------------------------

fn resuming() -> Config {
    Config::default().with_resume_uploads(true)
}

#[test]
fn resumed_uploads_survive_a_restart() {
    let mut s = server_with(MemStore::new(), resuming());
    allocate(&mut s, &[0, 1], 20, "u");
    let u = upload_secret("u");
    s.write(&SI, sn(0), &u, 0, b"01234", NOW).unwrap();
    s.write(&SI, sn(0), &u, 10, b"abcde", NOW + 5).unwrap();
    let later = NOW + 5000;
    let mut s = Server::new(s.into_store(), NODE, resuming(), later).unwrap();
    let info: Vec<_> = s
        .uploads()
        .map(|i| {
            (
                i.share_number.0,
                i.allocated_size,
                i.written,
                i.last_activity,
            )
        })
        .collect();
    assert_eq!(info, [(0, 20, 10, later), (1, 20, 0, later)]);
    assert_eq!(s.allocated_size(), 40);
    assert_eq!(required(&mut s, 0, "u"), [(5, 10), (15, 20)]);
    let e = s.write(&SI, sn(0), &upload_secret("v"), 5, b"56789", later);
    assert!(matches!(e, Err(Error::BadUploadSecret)), "{e:?}");
    // Written bytes were kept: a conflicting rewrite is still detected.
    let e = s.write(&SI, sn(0), &u, 0, b"X", later);
    assert!(matches!(e, Err(Error::ConflictingWrite { .. })), "{e:?}");
    assert!(!s.write(&SI, sn(0), &u, 5, b"56789", later).unwrap());
    assert!(s.write(&SI, sn(0), &u, 15, b"fghij", later).unwrap());
    s.close(&SI, sn(0), &u).unwrap();
    assert_eq!(immutable_data(&mut s, &SI, 0), b"0123456789abcdefghij");
    assert_eq!(
        leases(&mut s, &SI),
        [(0, ShareKind::Immutable, 0, NOW + DAYS31, 2)]
    );
    // The resumed upload's idle timer starts at the restart.
    assert_eq!(s.expire_stale_uploads(later + 1799, |_, _| ()).unwrap(), 0);
    assert_eq!(s.expire_stale_uploads(later + 1800, |_, _| ()).unwrap(), 1);
}

#[test]
fn without_resume_a_restart_discards_incoming_shares() {
    for first in [Config::default(), resuming()] {
        let mut s = server_with(MemStore::new(), first);
        allocate(&mut s, &[0], 20, "u");
        s.write(&SI, sn(0), &upload_secret("u"), 0, b"01234", NOW)
            .unwrap();
        let mut s = server_with(s.into_store(), Config::default());
        assert_eq!(s.uploads().count(), 0);
        assert!(s.store_mut().list_incoming(&SI).unwrap().is_empty());
        let e = s.write(&SI, sn(0), &upload_secret("u"), 5, b"5", NOW);
        assert!(matches!(e, Err(Error::NoSuchUpload)), "{e:?}");
        assert_eq!(allocate(&mut s, &[0], 20, "v").allocated, set(&[0]));
    }
    // Resuming an upload that kept no record (made without resume_uploads) discards it.
    let mut s = server();
    allocate(&mut s, &[0], 20, "u");
    let s = server_with(s.into_store(), resuming());
    assert_eq!(s.uploads().count(), 0);
    assert!(s.store().clone().list_incoming(&SI).unwrap().is_empty());
}

#[test]
fn an_upload_with_a_corrupt_record_is_discarded_on_restart() {
    let mut s = server_with(MemStore::new(), resuming());
    allocate(&mut s, &[0, 1, 2], 20, "u");
    s.write(&SI, sn(0), &upload_secret("u"), 0, b"01234", NOW)
        .unwrap();
    let mut store = s.into_store();
    let mut buf = vec![0u8; 4096];
    let len = store
        .get_upload_record(&SI, sn(0), &mut buf)
        .unwrap()
        .unwrap();
    let mut flipped = buf[..len].to_vec();
    flipped[len / 2] ^= 1;
    store.put_upload_record(&SI, sn(0), &flipped).unwrap();
    store.put_upload_record(&SI, sn(1), b"garbage").unwrap();
    let mut s = server_with(store, resuming());
    let kept: Vec<_> = s.uploads().map(|i| i.share_number.0).collect();
    assert_eq!(kept, [2]);
    assert_eq!(s.store_mut().list_incoming(&SI).unwrap(), set(&[2]));
    let e = s.write(&SI, sn(0), &upload_secret("u"), 5, b"5", NOW);
    assert!(matches!(e, Err(Error::NoSuchUpload)), "{e:?}");
}

// ----- FsStore ---------------------------------------------------------------------------

fn fs_server(dir: &TempDir, config: Config, now: u64) -> Server<FsStore> {
    let store = FsStore::open(dir.path(), Durability::Durable).unwrap();
    Server::new(store, NODE, config, now).unwrap()
}

#[test]
fn fs_store_files_are_tahoes_byte_for_byte() {
    let dir = TempDir::new("bytes");
    let mut s = fs_server(&dir, Config::default(), NOW);
    tahoe_immutable_calls(&mut s, |_| {
        let incoming = dir
            .path()
            .join("shares/incoming/ae/aeaqcaibaeaqcaibaeaqcaibae/0");
        assert_same_bytes(&fs::read(incoming).unwrap(), TAHOE_FRESH_INCOMING);
    });
    let bucket = dir.path().join("shares/ae/aeaqcaibaeaqcaibaeaqcaibae");
    assert_same_bytes(&fs::read(bucket.join("0")).unwrap(), TAHOE_IMM0);
    assert_same_bytes(&fs::read(bucket.join("1")).unwrap(), TAHOE_IMM1);
    tahoe_first_slot_call(&mut s);
    let mbucket = dir.path().join("shares/be/beeqscijbeeqscijbeeqscijbe");
    assert_same_bytes(&fs::read(mbucket.join("0")).unwrap(), TAHOE_MUT0_A);
    assert_same_bytes(&fs::read(mbucket.join("2")).unwrap(), TAHOE_MUT2_A);
    // An advisory lands in corruption-advisories/ under Tahoe's name.
    s.advise_corrupt_share(b"immutable", &SI, sn(1), b"reason", NOW)
        .unwrap();
    let report = fs::read(
        dir.path()
            .join("corruption-advisories/2023-11-14T221320--aeaqcaibaeaqcaibaeaqcaibae-1"),
    )
    .unwrap();
    assert!(report.starts_with(b"report: Share Corruption\ntype: immutable\n"));
}

#[test]
fn fs_store_resumes_or_discards_uploads_across_restarts() {
    let dir = TempDir::new("resume");
    let mut s = fs_server(&dir, resuming(), NOW);
    let u = upload_secret("u");
    s.allocate_buckets(&request(&[0, 1], 10, 2, "u"), NOW)
        .unwrap();
    s.write(&SI, sn(0), &u, 0, b"01234", NOW).unwrap();
    drop(s);
    let mut s = fs_server(&dir, resuming(), NOW + 60);
    assert_eq!(s.uploads().count(), 2);
    let req: Vec<_> = s
        .required_ranges(&SI, sn(0), &u)
        .unwrap()
        .into_iter()
        .map(|r| (r.start, r.end))
        .collect();
    assert_eq!(req, [(5, 10)]);
    assert!(s.write(&SI, sn(0), &u, 5, b"56789", NOW + 60).unwrap());
    s.close(&SI, sn(0), &u).unwrap();
    let r = s.open_bucket(&SI, sn(0)).unwrap();
    assert_eq!(s.read_bucket_vec(&r, 0, 100).unwrap(), b"0123456789");
    drop(s);
    // Without resume_uploads the remaining upload is discarded.
    let mut s = fs_server(&dir, Config::default(), NOW + 120);
    assert_eq!(s.uploads().count(), 0);
    assert!(s.store_mut().list_incoming(&SI).unwrap().is_empty());
    let incoming = dir
        .path()
        .join("shares/incoming/ae/aeaqcaibaeaqcaibaeaqcaibae/1");
    assert!(!incoming.exists());
    assert_eq!(s.shares(&SI).unwrap(), set(&[0]));
}

#[test]
fn fs_store_mutable_delete_removes_the_share_file() {
    let dir = TempDir::new("mdelete");
    let mut s = fs_server(&dir, Config::default(), NOW);
    let ms = slot_secrets(6);
    let w: &[(u64, &[u8])] = &[(0, b"data")];
    s.slot_testv_and_readv_and_writev(
        &MSI,
        &ms,
        &[entry(0, &[], w, None)],
        &[],
        LeaseUpdate::AddOrRenew,
        NOW,
    )
    .unwrap();
    let path = dir.path().join("shares/be/beeqscijbeeqscijbeeqscijbe/0");
    assert!(path.is_file());
    s.slot_testv_and_readv_and_writev(
        &MSI,
        &ms,
        &[entry(0, &[], &[], Some(0))],
        &[],
        LeaseUpdate::AddOrRenew,
        NOW,
    )
    .unwrap();
    assert!(!path.exists());
    assert!(s.shares(&MSI).unwrap().is_empty());
}

// ----- whole files against Tahoe's ---------------------------------------------------------

/// The immutable calls that wrote the `TAHOE_IMM*` files: shares 0 and 1 of `SI` (20 bytes,
/// upload secret "u"), `fresh` run on the fresh incoming shares, "hello" at 0 and "world" at
/// 10 of share 0, bytes 0 to 19 in share 1, both closed, a lease of renew secret 4 added at
/// `NOW + 100` and an allocation of shares 0 to 2 at `NOW + 200` renewing the first lease.
fn tahoe_immutable_calls<S: ShareStore>(s: &mut Server<S>, fresh: impl FnOnce(&mut Server<S>))
where
    S::Error: core::fmt::Debug,
{
    let u = upload_secret("u");
    s.allocate_buckets(&request(&[0, 1], 20, 2, "u"), NOW)
        .unwrap();
    fresh(s);
    s.write(&SI, sn(0), &u, 0, b"hello", NOW).unwrap();
    s.write(&SI, sn(0), &u, 10, b"world", NOW).unwrap();
    s.close(&SI, sn(0), &u).unwrap();
    s.write(
        &SI,
        sn(1),
        &u,
        0,
        &core::array::from_fn::<u8, 20, _>(|i| i as u8),
        NOW,
    )
    .unwrap();
    s.close(&SI, sn(1), &u).unwrap();
    s.add_lease(
        &SI,
        &RenewSecret::new([4; 32]),
        &CancelSecret::new([5; 32]),
        1,
        NOW + 100,
    )
    .unwrap();
    s.allocate_buckets(&request(&[0, 1, 2], 20, 2, "u"), NOW + 200)
        .unwrap();
}

/// The first slot call of the `TAHOE_MUT*` files, at `NOW + 1200` on `MSI`: creates share 0
/// ("abc" at 0, "xyz" at 10) and an empty share 2, reading bytes 0 to 4.
fn tahoe_first_slot_call<S: ShareStore>(s: &mut Server<S>) -> SlotAnswer
where
    S::Error: core::fmt::Debug,
{
    let o = s
        .slot_testv_and_readv_and_writev(
            &MSI,
            &slot_secrets(6),
            &[
                entry(0, &[], &[(0, b"abc"), (10, b"xyz")], None),
                entry(2, &[], &[], None),
            ],
            &[(0, 5)],
            LeaseUpdate::AddOrRenew,
            NOW + 1200,
        )
        .unwrap();
    (
        o.passed,
        o.reads.into_iter().map(|(n, r)| (n.0, r)).collect(),
    )
}

#[test]
fn immutable_shares_match_tahoe_bytes() {
    let mut s = server();
    tahoe_immutable_calls(&mut s, |s| {
        assert_same_bytes(&incoming_bytes(s, &SI, 0), TAHOE_FRESH_INCOMING);
    });
    assert_same_bytes(&published_bytes(&mut s, &SI, 0), TAHOE_IMM0);
    assert_same_bytes(&published_bytes(&mut s, &SI, 1), TAHOE_IMM1);
    s.cancel_lease(&SI, &CancelSecret::new([3; 32])).unwrap();
    assert_same_bytes(&published_bytes(&mut s, &SI, 0), TAHOE_IMM0_CANCELLED);
}

#[test]
fn mutable_shares_match_tahoe_bytes() {
    let mut s = server();
    let t = NOW + 1200;
    let call = |s: &mut MemServer, w: &[SlotWrite<'_>], r: &[(u64, u64)], now: u64| {
        let o = s
            .slot_testv_and_readv_and_writev(
                &MSI,
                &slot_secrets(6),
                w,
                r,
                LeaseUpdate::AddOrRenew,
                now,
            )
            .unwrap();
        assert!(o.passed);
        o.reads
            .into_iter()
            .map(|(n, r)| (n.0, r))
            .collect::<Vec<_>>()
    };
    let (passed, reads) = tahoe_first_slot_call(&mut s);
    assert!(passed);
    assert!(reads.is_empty());
    assert_same_bytes(&published_bytes(&mut s, &MSI, 0), TAHOE_MUT0_A);
    assert_same_bytes(&published_bytes(&mut s, &MSI, 2), TAHOE_MUT2_A);
    for i in 0..5u8 {
        let at = t + 10 * (u64::from(i) + 1);
        s.add_lease(
            &MSI,
            &RenewSecret::new([0x20 + i; 32]),
            &CancelSecret::new([0x30 + i; 32]),
            1,
            at,
        )
        .unwrap();
    }
    assert_same_bytes(&published_bytes(&mut s, &MSI, 0), TAHOE_MUT0_B);
    let test = [eq(0, 3, b"abc")];
    let q = [b'Q'; 40];
    let reads = call(
        &mut s,
        &[entry(0, &test, &[(5, &q)], None)],
        &[(0, 5), (10, 3)],
        t + 60,
    );
    let e = Vec::new;
    assert_eq!(
        reads,
        [
            (0, vec![b"abc\0\0".to_vec(), b"xyz".to_vec()]),
            (2, vec![e(), e()])
        ]
    );
    assert_same_bytes(&published_bytes(&mut s, &MSI, 0), TAHOE_MUT0_C);
    call(
        &mut s,
        &[entry(0, &[], &[(1, b"ZZ")], Some(8))],
        &[],
        t + 70,
    );
    assert_same_bytes(&published_bytes(&mut s, &MSI, 0), TAHOE_MUT0_D);
    let reads = call(
        &mut s,
        &[entry(0, &[], &[(12, b"")], None)],
        &[(0, 100)],
        t + 80,
    );
    assert_eq!(reads, [(0, vec![b"aZZ\0\0QQQ".to_vec()]), (2, vec![e()])]);
    assert_same_bytes(&published_bytes(&mut s, &MSI, 0), TAHOE_MUT0_E);
    s.cancel_lease(&MSI, &CancelSecret::new([0x31; 32]))
        .unwrap();
    assert_same_bytes(&published_bytes(&mut s, &MSI, 0), TAHOE_MUT0_CANCELLED);
}

// ----- Tahoe 1.20's files ------------------------------------------------------------------

const TAHOE_FRESH_INCOMING: &str = concat!(
    "000000020000001400000001000000000000000000000000000000000000000000000000d9818087de7244abc1b5fcf2",
    "8e55e42c7ff9c678c0605181f37ac5d7414a7b95fc14ac676780c40e5cfeb5b8701b14761a89b5519eaf663b29e7f8ab",
    "bdc72195657ccf80",
);
const TAHOE_IMM0: &str = concat!(
    "00000002000000140000000268656c6c6f0000000000776f726c64000000000000000000d9818087de7244abc1b5fcf2",
    "8e55e42c7ff9c678c0605181f37ac5d7414a7b95fc14ac676780c40e5cfeb5b8701b14761a89b5519eaf663b29e7f8ab",
    "bdc72195657cd0480000000193975daacc7360e49e74d3e23b95cc2bb5a09a9587d33b8668be8f39eabcf3f2f61c8007",
    "e924f13038d654deb19c2193f10928aa39d6f938be2c341fedd66d30657ccfe4",
);
const TAHOE_IMM1: &str = concat!(
    "000000020000001400000002000102030405060708090a0b0c0d0e0f1011121300000000d9818087de7244abc1b5fcf2",
    "8e55e42c7ff9c678c0605181f37ac5d7414a7b95fc14ac676780c40e5cfeb5b8701b14761a89b5519eaf663b29e7f8ab",
    "bdc72195657cd0480000000193975daacc7360e49e74d3e23b95cc2bb5a09a9587d33b8668be8f39eabcf3f2f61c8007",
    "e924f13038d654deb19c2193f10928aa39d6f938be2c341fedd66d30657ccfe4",
);
const TAHOE_IMM0_CANCELLED: &str = concat!(
    "00000002000000140000000168656c6c6f0000000000776f726c6400000000000000000193975daacc7360e49e74d3e2",
    "3b95cc2bb5a09a9587d33b8668be8f39eabcf3f2f61c8007e924f13038d654deb19c2193f10928aa39d6f938be2c341f",
    "edd66d30657ccfe4",
);
const TAHOE_MUT0_A: &str = concat!(
    "5461686f65206d757461626c6520636f6e7461696e65722076320ac35521992507070707070707070707070707070707",
    "070707070606060606060606060606060606060606060606060606060606060606060606000000000000000d00000000",
    "000001e100000001657cd43011349f62e8d813ed79d27d57dd41b9afec4dd95ec4d2880e720d50e637fec9192508177e",
    "3f553ec05f2426f50f210c7abf542e5323b8459e175233be6e67bb910707070707070707070707070707070707070707",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000616263000000000000007879",
    "7a00000000",
);
const TAHOE_MUT2_A: &str = concat!(
    "5461686f65206d757461626c6520636f6e7461696e65722076320ac35521992507070707070707070707070707070707",
    "070707070606060606060606060606060606060606060606060606060606060606060606000000000000000000000000",
    "000001d400000001657cd43011349f62e8d813ed79d27d57dd41b9afec4dd95ec4d2880e720d50e637fec9192508177e",
    "3f553ec05f2426f50f210c7abf542e5323b8459e175233be6e67bb910707070707070707070707070707070707070707",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
);
const TAHOE_MUT0_B: &str = concat!(
    "5461686f65206d757461626c6520636f6e7461696e65722076320ac35521992507070707070707070707070707070707",
    "070707070606060606060606060606060606060606060606060606060606060606060606000000000000000d00000000",
    "000001e100000001657cd43011349f62e8d813ed79d27d57dd41b9afec4dd95ec4d2880e720d50e637fec9192508177e",
    "3f553ec05f2426f50f210c7abf542e5323b8459e175233be6e67bb910707070707070707070707070707070707070707",
    "00000001657cd43ae468d42efa90972f80fc356deecf6d60e060e9237ccf846c7c25549e3b195044808fcd161c410acb",
    "95dcdf84c7281e9eb4d48163b8e2554d2174e30fcf01da08070707070707070707070707070707070707070700000001",
    "657cd444b321eedd30afbd65cc1535cd173a2084f00d48c5db6d84820c193f9593131243dcb2f9310eab12e99bb09756",
    "697d45d71011b4dadc5caf3036035236ad94a057070707070707070707070707070707070707070700000001657cd44e",
    "e2a94e18647fe0c6283a31e40c46ae1cc5f0867650f6834e4f01e34284adc9c74a3e5ab2231bc1046c950a10fc427ff6",
    "ae40abb030283988357e23dd3f1049130707070707070707070707070707070707070707616263000000000000007879",
    "7a0000000200000001657cd45816d88129699ecdf7efb41303def451a209bd4b8722b9bd1661e90d89c5086b8e510c74",
    "66f2a90281df576a765517adfc6a4c8f89fee3e14b8eae3a574f442c3707070707070707070707070707070707070707",
    "0700000001657cd462818b02f742f8aec06261eeec398bb6f72e30aa268934b0d56c94af278f670e4415c453fb3fd009",
    "7b1958a7ceab9acf9ef708236998c325adc4b09eb57db9c0600707070707070707070707070707070707070707",
);
const TAHOE_MUT0_C: &str = concat!(
    "5461686f65206d757461626c6520636f6e7461696e65722076320ac35521992507070707070707070707070707070707",
    "070707070606060606060606060606060606060606060606060606060606060606060606000000000000002d00000000",
    "0000020100000001657cd46c11349f62e8d813ed79d27d57dd41b9afec4dd95ec4d2880e720d50e637fec9192508177e",
    "3f553ec05f2426f50f210c7abf542e5323b8459e175233be6e67bb910707070707070707070707070707070707070707",
    "00000001657cd43ae468d42efa90972f80fc356deecf6d60e060e9237ccf846c7c25549e3b195044808fcd161c410acb",
    "95dcdf84c7281e9eb4d48163b8e2554d2174e30fcf01da08070707070707070707070707070707070707070700000001",
    "657cd444b321eedd30afbd65cc1535cd173a2084f00d48c5db6d84820c193f9593131243dcb2f9310eab12e99bb09756",
    "697d45d71011b4dadc5caf3036035236ad94a057070707070707070707070707070707070707070700000001657cd44e",
    "e2a94e18647fe0c6283a31e40c46ae1cc5f0867650f6834e4f01e34284adc9c74a3e5ab2231bc1046c950a10fc427ff6",
    "ae40abb030283988357e23dd3f1049130707070707070707070707070707070707070707616263000051515151515151",
    "5151515151515151515151515151515151515151515151515151515151515151510000000200000001657cd45816d881",
    "29699ecdf7efb41303def451a209bd4b8722b9bd1661e90d89c5086b8e510c7466f2a90281df576a765517adfc6a4c8f",
    "89fee3e14b8eae3a574f442c37070707070707070707070707070707070707070700000001657cd462818b02f742f8ae",
    "c06261eeec398bb6f72e30aa268934b0d56c94af278f670e4415c453fb3fd0097b1958a7ceab9acf9ef708236998c325",
    "adc4b09eb57db9c0600707070707070707070707070707070707070707",
);
const TAHOE_MUT0_D: &str = concat!(
    "5461686f65206d757461626c6520636f6e7461696e65722076320ac35521992507070707070707070707070707070707",
    "070707070606060606060606060606060606060606060606060606060606060606060606000000000000000800000000",
    "0000020100000001657cd47611349f62e8d813ed79d27d57dd41b9afec4dd95ec4d2880e720d50e637fec9192508177e",
    "3f553ec05f2426f50f210c7abf542e5323b8459e175233be6e67bb910707070707070707070707070707070707070707",
    "00000001657cd43ae468d42efa90972f80fc356deecf6d60e060e9237ccf846c7c25549e3b195044808fcd161c410acb",
    "95dcdf84c7281e9eb4d48163b8e2554d2174e30fcf01da08070707070707070707070707070707070707070700000001",
    "657cd444b321eedd30afbd65cc1535cd173a2084f00d48c5db6d84820c193f9593131243dcb2f9310eab12e99bb09756",
    "697d45d71011b4dadc5caf3036035236ad94a057070707070707070707070707070707070707070700000001657cd44e",
    "e2a94e18647fe0c6283a31e40c46ae1cc5f0867650f6834e4f01e34284adc9c74a3e5ab2231bc1046c950a10fc427ff6",
    "ae40abb030283988357e23dd3f1049130707070707070707070707070707070707070707615a5a000051515151515151",
    "5151515151515151515151515151515151515151515151515151515151515151510000000200000001657cd45816d881",
    "29699ecdf7efb41303def451a209bd4b8722b9bd1661e90d89c5086b8e510c7466f2a90281df576a765517adfc6a4c8f",
    "89fee3e14b8eae3a574f442c37070707070707070707070707070707070707070700000001657cd462818b02f742f8ae",
    "c06261eeec398bb6f72e30aa268934b0d56c94af278f670e4415c453fb3fd0097b1958a7ceab9acf9ef708236998c325",
    "adc4b09eb57db9c0600707070707070707070707070707070707070707",
);
const TAHOE_MUT0_E: &str = concat!(
    "5461686f65206d757461626c6520636f6e7461696e65722076320ac35521992507070707070707070707070707070707",
    "070707070606060606060606060606060606060606060606060606060606060606060606000000000000000c00000000",
    "0000020100000001657cd48011349f62e8d813ed79d27d57dd41b9afec4dd95ec4d2880e720d50e637fec9192508177e",
    "3f553ec05f2426f50f210c7abf542e5323b8459e175233be6e67bb910707070707070707070707070707070707070707",
    "00000001657cd43ae468d42efa90972f80fc356deecf6d60e060e9237ccf846c7c25549e3b195044808fcd161c410acb",
    "95dcdf84c7281e9eb4d48163b8e2554d2174e30fcf01da08070707070707070707070707070707070707070700000001",
    "657cd444b321eedd30afbd65cc1535cd173a2084f00d48c5db6d84820c193f9593131243dcb2f9310eab12e99bb09756",
    "697d45d71011b4dadc5caf3036035236ad94a057070707070707070707070707070707070707070700000001657cd44e",
    "e2a94e18647fe0c6283a31e40c46ae1cc5f0867650f6834e4f01e34284adc9c74a3e5ab2231bc1046c950a10fc427ff6",
    "ae40abb030283988357e23dd3f1049130707070707070707070707070707070707070707615a5a000051515100000000",
    "5151515151515151515151515151515151515151515151515151515151515151510000000200000001657cd45816d881",
    "29699ecdf7efb41303def451a209bd4b8722b9bd1661e90d89c5086b8e510c7466f2a90281df576a765517adfc6a4c8f",
    "89fee3e14b8eae3a574f442c37070707070707070707070707070707070707070700000001657cd462818b02f742f8ae",
    "c06261eeec398bb6f72e30aa268934b0d56c94af278f670e4415c453fb3fd0097b1958a7ceab9acf9ef708236998c325",
    "adc4b09eb57db9c0600707070707070707070707070707070707070707",
);
const TAHOE_MUT0_CANCELLED: &str = concat!(
    "5461686f65206d757461626c6520636f6e7461696e65722076320ac35521992507070707070707070707070707070707",
    "070707070606060606060606060606060606060606060606060606060606060606060606000000000000000c00000000",
    "0000020100000001657cd48011349f62e8d813ed79d27d57dd41b9afec4dd95ec4d2880e720d50e637fec9192508177e",
    "3f553ec05f2426f50f210c7abf542e5323b8459e175233be6e67bb910707070707070707070707070707070707070707",
    "00000001657cd43ae468d42efa90972f80fc356deecf6d60e060e9237ccf846c7c25549e3b195044808fcd161c410acb",
    "95dcdf84c7281e9eb4d48163b8e2554d2174e30fcf01da08070707070707070707070707070707070707070700000000",
    "0000000089eb0d6a8a691dae2cd15ed0369931ce0a949ecafa5c3f93f8121833646e15c389eb0d6a8a691dae2cd15ed0",
    "369931ce0a949ecafa5c3f93f8121833646e15c3000000000000000000000000000000000000000000000001657cd44e",
    "e2a94e18647fe0c6283a31e40c46ae1cc5f0867650f6834e4f01e34284adc9c74a3e5ab2231bc1046c950a10fc427ff6",
    "ae40abb030283988357e23dd3f1049130707070707070707070707070707070707070707615a5a000051515100000000",
    "5151515151515151515151515151515151515151515151515151515151515151510000000200000001657cd45816d881",
    "29699ecdf7efb41303def451a209bd4b8722b9bd1661e90d89c5086b8e510c7466f2a90281df576a765517adfc6a4c8f",
    "89fee3e14b8eae3a574f442c37070707070707070707070707070707070707070700000001657cd462818b02f742f8ae",
    "c06261eeec398bb6f72e30aa268934b0d56c94af278f670e4415c453fb3fd0097b1958a7ceab9acf9ef708236998c325",
    "adc4b09eb57db9c0600707070707070707070707070707070707070707",
);
const TAHOE_DISCARDED: &str = concat!(
    "000000020000000a000000010000000000000000000000000000d9818087de7244abc1b5fcf28e55e42c7ff9c678c060",
    "5181f37ac5d7414a7b95fc14ac676780c40e5cfeb5b8701b14761a89b5519eaf663b29e7f8abbdc72195657ccf80",
);

// ----- errors carry what the drop-in needs to word them as Tahoe does ----------------------

#[test]
fn lease_errors_carry_the_share_its_kind_and_the_accepting_nodes() {
    let mut s = server();
    upload_shares(&mut s, &[0], b"data");
    write_slots(&mut s, &[3], b"m");
    // No share at all: Tahoe's StorageServer.renew_lease message.
    let e = s
        .renew_lease(
            &StorageIndex::new([5; 16]),
            &RenewSecret::new([0x55; 32]),
            NOW,
        )
        .unwrap_err();
    assert_eq!(e.to_string(), "no such lease to renew");
    // An immutable share: ShareFile's message, and which share.
    let e = s
        .renew_lease(&SI, &RenewSecret::new([0x55; 32]), NOW)
        .unwrap_err();
    match &e {
        Error::NoSuchLease {
            share,
            kind,
            accepted_by,
            ..
        } => {
            assert_eq!(*share, Some(sn(0)));
            assert_eq!(*kind, Some(ShareKind::Immutable));
            assert!(accepted_by.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.to_string(), "unable to renew non-existent lease");
    // A mutable share: the nodes that accepted its leases, in Tahoe's words.
    let e = s
        .renew_lease(&MSI, &RenewSecret::new([0x55; 32]), NOW)
        .unwrap_err();
    match &e {
        Error::NoSuchLease {
            share,
            kind,
            accepted_by,
            ..
        } => {
            assert_eq!(*share, Some(sn(3)));
            assert_eq!(*kind, Some(ShareKind::Mutable));
            assert_eq!(accepted_by.iter().collect::<Vec<_>>(), [NODE]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        e.to_string(),
        format!(
            "Unable to renew non-existent lease. I have leases accepted by nodeids: '{NODE}' ."
        )
    );
}

#[test]
fn kind_errors_carry_the_share_and_what_was_found() {
    let mut s = server();
    write_slots(&mut s, &[2], b"m");
    match s.get_buckets(&MSI).unwrap_err() {
        Error::UnknownImmutableVersion { share, version } => {
            assert_eq!(share, Some(sn(2)));
            // Tahoe reads the version field from the start of the mutable magic.
            assert_eq!(version, u32::from_be_bytes(*b"Taho"));
        }
        other => panic!("{other:?}"),
    }
    upload_shares(&mut s, &[4], b"data");
    match s.slot_readv(&SI, &ShareSet::new(), &[(0, 1)]).unwrap_err() {
        Error::UnknownMutableMagic { share, magic } => {
            assert_eq!(share, Some(sn(4)));
            // The first bytes of the immutable container found: version 2, length 4.
            assert_eq!(&magic.as_bytes()[..8], &[0, 0, 0, 2, 0, 0, 0, 4]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn advisories_about_share_numbers_above_255_are_not_held() {
    let mut s = server();
    upload_shares(&mut s, &[0], b"data");
    for n in [256u64, 1000, u64::MAX] {
        assert_eq!(
            s.advise_corrupt_share(b"immutable", &SI, n, b"r", NOW)
                .unwrap(),
            AdviseOutcome::NotHeld,
            "{n}"
        );
    }
    // Whatever the text: Tahoe looks for the share first.
    assert_eq!(
        s.advise_corrupt_share(b"\xff", &SI, 300u64, b"\xff", NOW)
            .unwrap(),
        AdviseOutcome::NotHeld
    );
    assert_eq!(
        s.advise_corrupt_share(b"immutable", &SI, 0u64, b"r", NOW)
            .unwrap(),
        AdviseOutcome::Recorded
    );
}

//! The bad-input catalogue of docs/bad-input.md against the core: one `row_NN_<input>` test
//! per row (rows 1-38), each asserting its specific error, with no panic and no allocation
//! sized by a length field. Where the core follows Tahoe 1.20 or its types rather than
//! refusing the input, the test asserts what the core does, and the table says so. Row 38
//! (callbacks that panic or raise) belongs to the bindings, whose suites cover it; here a
//! device failing every operation stands in.
//!
//! `catalogue_figure` prints `RELIABILITY bad_inputs_core <N>` (see it with
//! `--nocapture`).

mod common;

use std::fs;
use std::os::unix::fs::symlink;

use core::cell::RefCell;
use std::rc::Rc;

use tahoe_shares::container::{
    Backdate, ContainerError, ImmutableContainer, MutableContainer, NewLease, TestOperator,
    TestVector,
};
use tahoe_shares::format::immutable::ImmutableVersion;
use tahoe_shares::format::mutable::{DATA_OFFSET, MAX_MUTABLE_SHARE_SIZE};
use tahoe_shares::io::{ErrorKind, ErrorType, IoError, MemError, ShareIo, VecIo};
use tahoe_shares::server::{AllocateRequest, Config, LeaseUpdate, Server, SlotWrite};
use tahoe_shares::store::{
    Durability, FsStore, MemShare, MemStore, ShareStore, StoreError, StoreResult,
};
use tahoe_shares::types::InvalidLength;
use tahoe_shares::{
    CancelSecret, Corruption, Error, NodeId, RenewSecret, ShareNumber, ShareSet, StorageIndex,
    UploadSecret, WriteEnabler,
};

use common::{eq, new_mutable, server, slot_secrets, upload_secret, TempDir, NODE, NOW};

fn imm(bytes: Vec<u8>) -> Result<ImmutableContainer<VecIo>, ContainerError<MemError>> {
    ImmutableContainer::open(VecIo::from_vec(bytes))
}

fn mutable(bytes: Vec<u8>) -> Result<MutableContainer<VecIo>, ContainerError<MemError>> {
    MutableContainer::open(VecIo::from_vec(bytes))
}

fn lease() -> NewLease {
    NewLease {
        owner_num: 1,
        renew: RenewSecret::new([1; 32]),
        cancel: CancelSecret::new([2; 32]),
        expiration_time: 100,
        nodeid: NodeId([3; 20]),
    }
}

fn good_mutable(extra_leases: u8) -> Vec<u8> {
    let mut c = new_mutable();
    c.writev(&[(0, b"some data")], None).unwrap();
    for i in 0..4 + extra_leases {
        let mut l = lease();
        l.renew = RenewSecret::new([i; 32]);
        c.add_lease(u64::MAX, &l).unwrap();
    }
    c.into_inner().data
}

fn set(bytes: &mut [u8], at: usize, value: &[u8]) {
    bytes[at..at + value.len()].copy_from_slice(value);
}

#[test]
fn row_01_empty_or_short_immutable() {
    assert!(matches!(
        imm(vec![]),
        Err(ContainerError::Corrupt(Corruption::TruncatedHeader))
    ));
    assert!(matches!(
        imm(vec![0, 0, 0, 2, 0]),
        Err(ContainerError::Corrupt(Corruption::TruncatedHeader))
    ));
}

#[test]
fn row_02_unknown_immutable_version() {
    for v in [0u32, 3, u32::MAX] {
        let mut b = vec![0u8; 12];
        set(&mut b, 0, &v.to_be_bytes());
        assert!(
            matches!(imm(b), Err(ContainerError::UnknownImmutableVersion { version: x, .. }) if x == v)
        );
    }
}

#[test]
fn row_03_lease_count_exceeding_the_file() {
    // Three leases claimed, room for one: no allocation, a typed error.
    let mut b = vec![0u8; 12 + 10 + 72];
    set(&mut b, 0, &2u32.to_be_bytes());
    set(&mut b, 8, &3u32.to_be_bytes());
    assert!(matches!(
        imm(b),
        Err(ContainerError::Corrupt(Corruption::LeaseCountExceedsFile))
    ));
}

#[test]
fn row_04_lease_count_u32_max() {
    let mut b = vec![0u8; 12 + 10 + 72];
    set(&mut b, 0, &2u32.to_be_bytes());
    set(&mut b, 8, &u32::MAX.to_be_bytes());
    assert!(matches!(
        imm(b),
        Err(ContainerError::Corrupt(Corruption::LeaseCountExceedsFile))
    ));
}

#[test]
fn row_05_partial_trailing_lease() {
    // Immutable: Tahoe derives the data length from the file size, so a cut-off record
    // only shows as a count the file cannot hold.
    let mut c = ImmutableContainer::create(VecIo::new(), ImmutableVersion::V2, 0).unwrap();
    c.add_lease(&lease()).unwrap();
    let mut bytes = c.into_inner().data;
    bytes.truncate(bytes.len() - 5);
    assert!(matches!(
        imm(bytes),
        Err(ContainerError::Corrupt(Corruption::LeaseCountExceedsFile))
    ));
    // Mutable: an extra-lease block cut inside its last record.
    let mut b = good_mutable(2);
    b.truncate(b.len() - 5);
    assert!(matches!(
        mutable(b),
        Err(ContainerError::Corrupt(Corruption::LeaseCountExceedsFile))
    ));
}

#[test]
fn row_06_legacy_length_field_disagreeing() {
    // The file holds less than the legacy field says: Tahoe's derived length wins.
    let mut c = ImmutableContainer::create(VecIo::new(), ImmutableVersion::V1, 100).unwrap();
    c.add_lease(&lease()).unwrap();
    let mut bytes = c.into_inner().data;
    set(&mut bytes, 4, &1000u32.to_be_bytes());
    let c = imm(bytes).unwrap();
    assert_eq!(c.data_length(), 100);
}

#[test]
fn row_07_wrong_mutable_magic() {
    let mut b = good_mutable(0);
    b[3] ^= 0x20;
    assert!(matches!(
        mutable(b),
        Err(ContainerError::UnknownMutableMagic { .. })
    ));
}

#[test]
fn row_08_mutable_shorter_than_its_header() {
    let b = good_mutable(0);
    assert!(b.len() > 468);
    for cut in 0..468 {
        let got = mutable(b[..cut].to_vec());
        let ok = match cut {
            // Shorter than the magic: not recognisable as a mutable container at all.
            0..32 => matches!(got, Err(ContainerError::UnknownMutableMagic { .. })),
            32..100 => matches!(
                got,
                Err(ContainerError::Corrupt(Corruption::TruncatedHeader))
            ),
            // A whole header whose lease slots and extra-lease block lie past the end.
            _ => matches!(
                got,
                Err(ContainerError::Corrupt(Corruption::LeaseOffsetBeyondEof))
            ),
        };
        assert!(ok, "cut at {cut}: {got:?}");
    }
}

#[test]
fn row_09_data_length_beyond_the_container() {
    let mut b = good_mutable(0);
    set(&mut b, 84, &(MAX_MUTABLE_SHARE_SIZE + 1).to_be_bytes());
    assert!(matches!(
        mutable(b),
        Err(ContainerError::Corrupt(
            Corruption::DataLengthBeyondContainer
        ))
    ));
}

#[test]
fn row_10_extra_lease_offset_overlapping_data() {
    let mut b = good_mutable(0);
    set(&mut b, 92, &(DATA_OFFSET + 2).to_be_bytes());
    assert!(matches!(
        mutable(b),
        Err(ContainerError::Corrupt(Corruption::OverlappingRegions))
    ));
}

#[test]
fn row_11_extra_lease_offset_beyond_eof() {
    let mut b = good_mutable(0);
    set(&mut b, 92, &(1u64 << 40).to_be_bytes());
    assert!(matches!(
        mutable(b),
        Err(ContainerError::Corrupt(Corruption::LeaseOffsetBeyondEof))
    ));
}

#[test]
fn row_12_extra_lease_count_u32_max() {
    let mut b = good_mutable(1);
    let elo = u64::from_be_bytes(b[92..100].try_into().unwrap()) as usize;
    set(&mut b, elo, &u32::MAX.to_be_bytes());
    assert!(matches!(
        mutable(b),
        Err(ContainerError::Corrupt(Corruption::LeaseCountExceedsFile))
    ));
}

#[test]
fn row_13_lease_slot_of_owner_zero() {
    let mut b = good_mutable(0);
    set(&mut b, 100, &0u32.to_be_bytes()); // slot 0 owner := 0, other bytes non-zero
    let mut c = mutable(b).unwrap();
    assert!(c.lease_slot(0).unwrap().is_none());
    let mut n = 0;
    c.for_each_lease(|_, _| {
        n += 1;
        true
    })
    .unwrap();
    assert_eq!(n, 3);
}

#[test]
fn row_28_test_operator_other_than_eq() {
    for op in [&b"lt"[..], b"ne", b"", b"EQ"] {
        assert!(matches!(
            TestOperator::parse::<MemError>(op),
            Err(ContainerError::UnsupportedOperator)
        ));
    }
    assert!(TestOperator::parse::<MemError>(b"eq").is_ok());
}

#[test]
fn row_30_mutable_write_past_the_maximum() {
    let mut c = mutable(good_mutable(0)).unwrap();
    let before = c.data_length();
    assert!(matches!(
        c.writev(&[(0, b"ok"), (MAX_MUTABLE_SHARE_SIZE, b"x")], None),
        Err(ContainerError::DataTooLarge { .. })
    ));
    assert!(matches!(
        c.writev(&[(u64::MAX, b"x")], None),
        Err(ContainerError::DataTooLarge { .. })
    ));
    // Nothing of the call was applied (Tahoe applies the first vector).
    let mut buf = [0u8; 2];
    c.read_share_data(0, &mut buf).unwrap();
    assert_eq!((&buf, c.data_length()), (b"so", before));
}

#[test]
fn row_22_immutable_write_past_the_allocation() {
    let mut c = ImmutableContainer::create(VecIo::new(), ImmutableVersion::V2, 10).unwrap();
    assert!(matches!(
        c.write_share_data(5, b"123456"),
        Err(ContainerError::DataTooLarge { .. })
    ));
    assert!(matches!(
        c.write_share_data(u64::MAX, b"1"),
        Err(ContainerError::InvalidArgument(_))
    ));
    c.write_share_data(10, b"").unwrap();
}

#[test]
fn row_27_reads_past_the_end() {
    let mut c = mutable(good_mutable(0)).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(c.read_share_data(1 << 62, &mut buf).unwrap(), 0);
    assert_eq!(c.read_share_data(5, &mut buf).unwrap(), 4);
}

#[test]
fn row_31_wrong_write_enabler() {
    let c = mutable(good_mutable(0)).unwrap();
    assert!(matches!(
        c.check_write_enabler(&WriteEnabler::new([9; 32])),
        Err(ContainerError::BadWriteEnabler { nodeid }) if nodeid == NodeId([1; 20])
    ));
}

#[test]
fn row_32_unknown_renew_or_cancel_secret() {
    let mut c = mutable(good_mutable(0)).unwrap();
    assert!(matches!(
        c.renew_lease(&RenewSecret::new([77; 32]), 5, Backdate::Forbid),
        Err(ContainerError::NoSuchLease { .. })
    ));
    assert!(matches!(
        c.cancel_lease(&CancelSecret::new([77; 32])),
        Err(ContainerError::NoSuchLease { .. })
    ));
}

/// An `FsStore` in a new directory holding share 3 of `si`, published.
fn fs_store_with_share(name: &str, si: &StorageIndex) -> (TempDir, FsStore) {
    let dir = TempDir::new(name);
    let mut store = FsStore::open(dir.path(), Durability::Durable).unwrap();
    let io = store.create_incoming(si, ShareNumber(3)).unwrap();
    let mut c = ImmutableContainer::create(io, ImmutableVersion::V2, 4).unwrap();
    c.add_lease(&lease()).unwrap();
    c.write_share_data(0, b"data").unwrap();
    store.publish(si, ShareNumber(3)).unwrap();
    (dir, store)
}

#[test]
fn row_14_odd_share_file_names() {
    let si = StorageIndex::new([5; 16]);
    let (_dir, mut store) = fs_store_with_share("names", &si);
    let bucket = store.bucket_dir(&si);
    for junk in ["007", "4.tmp", "-1", "256", "abc", "+1", "07"] {
        fs::write(bucket.join(junk), b"junk").unwrap();
    }
    let listed: Vec<u8> = store.list(&si).unwrap().iter().map(|n| n.0).collect();
    assert_eq!(listed, [3]);
    // `007` is not share 7, and nothing else is served under a number.
    assert!(store.open(&si, ShareNumber(7)).unwrap().is_none());
    assert!(store.open(&si, ShareNumber(4)).unwrap().is_none());
}

#[test]
fn row_15_symlink_or_directory_as_a_share() {
    let si = StorageIndex::new([6; 16]);
    let (_dir, mut store) = fs_store_with_share("links", &si);
    let bucket = store.bucket_dir(&si);
    symlink(bucket.join("3"), bucket.join("5")).unwrap();
    fs::create_dir(bucket.join("6")).unwrap();
    let listed: Vec<u8> = store.list(&si).unwrap().iter().map(|n| n.0).collect();
    assert_eq!(listed, [3]);
    assert!(matches!(
        store.open(&si, ShareNumber(5)),
        Err(StoreError::NotAShare)
    ));
    assert!(matches!(
        store.open(&si, ShareNumber(6)),
        Err(StoreError::NotAShare)
    ));
    assert!(matches!(
        store.remove(&si, ShareNumber(5)),
        Err(StoreError::NotAShare)
    ));
    // Never followed: the target is still there, untouched.
    assert!(bucket.join("3").is_file());
}

#[test]
fn fs_store_create_is_exclusive() {
    let si = StorageIndex::new([5; 16]);
    let (_dir, mut store) = fs_store_with_share("exclusive", &si);
    // Neither an existing share nor an upload in progress is replaced.
    assert!(matches!(
        store.create_incoming(&si, ShareNumber(3)),
        Err(StoreError::AlreadyExists)
    ));
    let _io = store.create_incoming(&si, ShareNumber(4)).unwrap();
    assert!(matches!(
        store.create_incoming(&si, ShareNumber(4)),
        Err(StoreError::AlreadyExists)
    ));
    store.abort(&si, ShareNumber(4)).unwrap();
    assert!(matches!(
        store.abort(&si, ShareNumber(4)),
        Err(StoreError::NoSuchShare)
    ));
}

#[test]
fn fs_store_layout_is_tahoes() {
    let dir = TempDir::new("layout");
    let root = dir.path();
    let mut store = FsStore::open(root, Durability::NoSync).unwrap();
    let si = StorageIndex::new(core::array::from_fn(|i| i as u8));
    let io = store.create_incoming(&si, ShareNumber(12)).unwrap();
    assert!(root
        .join("shares/incoming/aa/aaaqeayeaudaocajbifqydiob4/12")
        .is_file());
    drop(io);
    store.publish(&si, ShareNumber(12)).unwrap();
    assert!(root
        .join("shares/aa/aaaqeayeaudaocajbifqydiob4/12")
        .is_file());
    assert!(
        !root.join("shares/incoming/aa").exists(),
        "empty incoming dirs are removed"
    );
    assert!(matches!(
        store.publish(&si, ShareNumber(12)),
        Err(StoreError::NoSuchShare)
    ));
    let mut seen = Vec::new();
    store
        .for_each_storage_index(&mut |s| {
            seen.push(s);
            true
        })
        .unwrap();
    assert_eq!(seen, [si]);
    assert!(store.available_space().unwrap().is_some());
    store.remove(&si, ShareNumber(12)).unwrap();
    assert!(!root.join("shares/aa/aaaqeayeaudaocajbifqydiob4").exists());
    assert!(matches!(
        store.remove(&si, ShareNumber(12)),
        Err(StoreError::NoSuchShare)
    ));
}

// ----- server-level rows -----------------------------------------------------------------

const SI: StorageIndex = StorageIndex::new([1; 16]);

/// A byte range (one-element arrays of range literals read as mistakes to clippy).
fn span(start: u64, end: u64) -> core::ops::Range<u64> {
    start..end
}

/// An allocation at `SI`.
fn request(shares: &[u8], size: u64, upload: &str) -> AllocateRequest {
    common::request(SI, shares, size, upload)
}

/// A server with share 0 of `SI` being uploaded (10 bytes) under secret "u".
fn uploading() -> Server<MemStore> {
    let mut s = server(MemStore::new());
    let a = s.allocate_buckets(&request(&[0], 10, "u"), NOW).unwrap();
    assert!(a.allocated.contains(ShareNumber(0)));
    s
}

#[test]
fn row_16_stale_incoming_share_at_startup() {
    let mut store = MemStore::new();
    let io = store.create_incoming(&SI, ShareNumber(2)).unwrap();
    let mut c = ImmutableContainer::create(io, ImmutableVersion::V2, 4).unwrap();
    c.write_share_data(0, b"old!").unwrap();
    drop(c);
    let mut s = server(store);
    assert!(s.store_mut().list_incoming(&SI).unwrap().is_empty());
    assert!(s.shares(&SI).unwrap().is_empty());
    assert!(!s.upload_in_progress(&SI, ShareNumber(2)));
    assert!(matches!(
        s.open_bucket(&SI, ShareNumber(2)),
        Err(Error::NoSuchShare)
    ));
    assert_eq!(s.store().used(), 0);

    // The filesystem store too: the file is gone and never served.
    let dir = TempDir::new("stale");
    let root = dir.path();
    let mut fs_store = FsStore::open(root, Durability::Durable).unwrap();
    drop(fs_store.create_incoming(&SI, ShareNumber(2)).unwrap());
    let mut s = Server::new(fs_store, NODE, Config::default(), NOW).unwrap();
    assert!(s.store_mut().list_incoming(&SI).unwrap().is_empty());
    assert!(s.shares(&SI).unwrap().is_empty());
    assert!(!root
        .join("shares/incoming")
        .join(core::str::from_utf8(&SI.prefix()).unwrap())
        .exists());
}

#[test]
fn row_17_storage_index_of_a_bad_length() {
    // Tahoe's own suites use short indexes such as b"si1", so 1 to 32 bytes are taken.
    for bad in [&[][..], &[0u8; 33][..], &[0u8; 1000][..]] {
        assert_eq!(
            StorageIndex::from_slice(bad),
            Err(InvalidLength {
                expected: 16,
                actual: bad.len()
            })
        );
    }
    assert!(StorageIndex::from_slice(b"si1").is_ok());
    for bad in [
        &b""[..],
        b"AAAQEAYEAUDAOCAJBIFQYDIOB4",
        b"aaaqeayeaudaocajbifqydiob5",
    ] {
        assert!(StorageIndex::from_base32(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn row_18_secret_of_a_bad_length() {
    for len in [0usize, 31, 33, 64] {
        let bytes = vec![1u8; len];
        let want = InvalidLength {
            expected: 32,
            actual: len,
        };
        assert_eq!(RenewSecret::from_slice(&bytes).err(), Some(want));
        assert_eq!(CancelSecret::from_slice(&bytes).err(), Some(want));
        assert_eq!(WriteEnabler::from_slice(&bytes).err(), Some(want));
    }
    // An upload secret is any non-empty string (GBS); only the empty one is refused.
    assert_eq!(
        UploadSecret::new(b"").err(),
        Some(InvalidLength {
            expected: 1,
            actual: 0
        })
    );
}

#[test]
fn row_19_share_number_above_255() {
    for n in [256u64, 1000, u64::from(u32::MAX), u64::MAX] {
        assert_eq!(ShareNumber::from_u64(n), Err(n));
    }
    assert_eq!(ShareNumber::from_u64(255), Ok(ShareNumber(255)));
}

#[test]
fn row_20_too_many_or_duplicate_share_numbers() {
    // A share set holds at most 256 numbers and deduplicates.
    let all: ShareSet = (0..=255u8).chain(0..=255u8).map(ShareNumber).collect();
    assert_eq!(all.len(), 256);
    let mut s = server(MemStore::new());
    let req = AllocateRequest {
        share_numbers: [ShareNumber(4), ShareNumber(4), ShareNumber(4)]
            .into_iter()
            .collect(),
        ..request(&[], 10, "u")
    };
    let a = s.allocate_buckets(&req, NOW).unwrap();
    assert_eq!(a.allocated.iter().map(|n| n.0).collect::<Vec<_>>(), [4]);
    // A mutable write listing one share twice is refused, and changes nothing.
    let writes = [
        SlotWrite {
            share_number: ShareNumber(1),
            tests: &[],
            writes: &[(0, b"a")],
            new_length: None,
        },
        SlotWrite {
            share_number: ShareNumber(1),
            tests: &[],
            writes: &[(0, b"b")],
            new_length: None,
        },
    ];
    let msi = StorageIndex::new([9; 16]);
    assert!(matches!(
        s.slot_testv_and_readv_and_writev(
            &msi,
            &slot_secrets(6),
            &writes,
            &[],
            LeaseUpdate::AddOrRenew,
            NOW
        ),
        Err(Error::InvalidArgument(_))
    ));
    assert!(s.shares(&msi).unwrap().is_empty());
}

#[test]
fn row_21_oversized_allocation() {
    // Tahoe 1.20 answers an allocation that does not fit with neither set, no error.
    let mut store = MemStore::new();
    store.capacity = Some(1000);
    let mut s = server(store);
    let a = s
        .allocate_buckets(&request(&[0, 1], 1001, "u"), NOW)
        .unwrap();
    assert!(a.allocated.is_empty() && a.already_have.is_empty());
    assert!(s.store_mut().list_incoming(&SI).unwrap().is_empty());
    assert_eq!((s.allocated_size(), s.store().used()), (0, 0));
    // The space reserved by uploads in progress counts: 600 + 600 > 1000.
    let a = s
        .allocate_buckets(&request(&[0, 1], 600, "u"), NOW)
        .unwrap();
    assert_eq!(a.allocated.iter().map(|n| n.0).collect::<Vec<_>>(), [0]);
    assert_eq!(s.allocated_size(), 600);
}

#[test]
fn row_23_offset_plus_length_overflowing() {
    let mut s = uploading();
    let secret = upload_secret("u");
    assert!(matches!(
        s.write(&SI, ShareNumber(0), &secret, u64::MAX, b"xy", NOW),
        Err(Error::DataTooLarge {
            max: 10,
            offset: u64::MAX,
            length: 2
        })
    ));
    assert_eq!(
        s.required_ranges(&SI, ShareNumber(0), &secret).unwrap(),
        [span(0, 10)]
    );
    // The container refuses the overflow itself.
    let mut c = ImmutableContainer::create(VecIo::new(), ImmutableVersion::V2, 10).unwrap();
    assert!(matches!(
        c.write_share_data(u64::MAX, b"1"),
        Err(ContainerError::InvalidArgument(_))
    ));
    // Mutable writes: DataTooLarge, nothing applied.
    let mut m = mutable(good_mutable(0)).unwrap();
    assert!(matches!(
        m.writev(&[(u64::MAX - 1, b"xyz")], None),
        Err(ContainerError::DataTooLarge { .. })
    ));
    assert_eq!(m.data_length(), 9);
    // Reads whose end overflows are truncated, never an allocation of that size.
    s.write(&SI, ShareNumber(0), &secret, 0, b"0123456789", NOW)
        .unwrap();
    s.close(&SI, ShareNumber(0), &secret).unwrap();
    let r = s.open_bucket(&SI, ShareNumber(0)).unwrap();
    assert_eq!(s.read_bucket_vec(&r, 3, u64::MAX).unwrap(), b"3456789");
    assert_eq!(s.read_bucket_vec(&r, u64::MAX, u64::MAX).unwrap(), b"");
}

#[test]
fn row_24_conflicting_immutable_write() {
    let mut s = uploading();
    let secret = upload_secret("u");
    s.write(&SI, ShareNumber(0), &secret, 0, b"abcd", NOW)
        .unwrap();
    let before = s.store().deep_clone().snapshot();
    let incoming_before = incoming_bytes(&mut s);
    assert!(matches!(
        s.write(&SI, ShareNumber(0), &secret, 2, b"cXef", NOW),
        Err(Error::ConflictingWrite { start: 2, end: 4 })
    ));
    // Nothing of that write was applied, not even the part past the overlap.
    assert_eq!(incoming_bytes(&mut s), incoming_before);
    assert_eq!(s.store().deep_clone().snapshot(), before);
    assert_eq!(
        s.required_ranges(&SI, ShareNumber(0), &secret).unwrap(),
        [span(4, 10)]
    );
    // An identical rewrite is fine.
    s.write(&SI, ShareNumber(0), &secret, 2, b"cdef", NOW)
        .unwrap();
}

fn incoming_bytes(s: &mut Server<MemStore>) -> Vec<u8> {
    let mut io = s
        .store_mut()
        .open_incoming(&SI, ShareNumber(0))
        .unwrap()
        .unwrap();
    let mut out = vec![0u8; usize::try_from(io.len().unwrap()).unwrap()];
    io.read_at(0, &mut out).unwrap();
    out
}

#[test]
fn row_25_write_after_close_or_abort() {
    let secret = upload_secret("u");
    let mut s = uploading();
    s.write(&SI, ShareNumber(0), &secret, 0, b"0123456789", NOW)
        .unwrap();
    s.close(&SI, ShareNumber(0), &secret).unwrap();
    let published = s.store().snapshot();
    assert!(matches!(
        s.write(&SI, ShareNumber(0), &secret, 0, b"X", NOW),
        Err(Error::NoSuchUpload)
    ));
    assert!(matches!(
        s.close(&SI, ShareNumber(0), &secret),
        Err(Error::NoSuchUpload)
    ));
    assert_eq!(s.store().snapshot(), published);

    let mut s = uploading();
    s.abort(&SI, ShareNumber(0), &secret).unwrap();
    assert!(matches!(
        s.write(&SI, ShareNumber(0), &secret, 0, b"X", NOW),
        Err(Error::NoSuchUpload)
    ));
    assert!(matches!(
        s.abort(&SI, ShareNumber(0), &secret),
        Err(Error::NoSuchUpload)
    ));
    assert_eq!(s.store().used(), 0);
}

#[test]
fn row_26_close_with_holes() {
    // Tahoe 1.20's BucketWriter.close does not check completeness, and its own test
    // suites close partial uploads: the holes read as zeros.
    let secret = upload_secret("u");
    let mut s = uploading();
    s.write(&SI, ShareNumber(0), &secret, 2, b"ab", NOW)
        .unwrap();
    assert_eq!(
        s.required_ranges(&SI, ShareNumber(0), &secret).unwrap(),
        [0..2, 4..10]
    );
    s.close(&SI, ShareNumber(0), &secret).unwrap();
    let r = s.open_bucket(&SI, ShareNumber(0)).unwrap();
    assert_eq!(
        s.read_bucket_vec(&r, 0, 100).unwrap(),
        b"\0\0ab\0\0\0\0\0\0"
    );
}

#[test]
fn row_29_many_test_or_read_vectors() {
    // Tahoe's StorageServer has no vector limit: Foolscap's schema (ListOf, 30) and the
    // GBS CBOR schema (0*30) enforce it on the wire, in the front ends.
    let mut s = server(MemStore::new());
    let msi = StorageIndex::new([9; 16]);
    let data = [7u8; 40];
    let writes: Vec<(u64, &[u8])> = (0..40u64).map(|i| (i, &data[..1])).collect();
    let w = [SlotWrite {
        share_number: ShareNumber(0),
        tests: &[],
        writes: &writes,
        new_length: None,
    }];
    let out = s
        .slot_testv_and_readv_and_writev(
            &msi,
            &slot_secrets(6),
            &w,
            &[],
            LeaseUpdate::NoChange,
            NOW,
        )
        .unwrap();
    assert!(out.passed);
    let tests: Vec<TestVector<'_>> = (0..31u64).map(|i| eq(i, 1, &data[..1])).collect();
    let readv: Vec<(u64, u64)> = (0..31u64).map(|i| (i, 1)).collect();
    let w = [SlotWrite {
        share_number: ShareNumber(0),
        tests: &tests,
        writes: &[],
        new_length: None,
    }];
    let out = s
        .slot_testv_and_readv_and_writev(
            &msi,
            &slot_secrets(6),
            &w,
            &readv,
            LeaseUpdate::NoChange,
            NOW,
        )
        .unwrap();
    assert!(out.passed);
    assert_eq!(out.reads[0].1.len(), 31);
}

#[test]
fn row_33_wrong_upload_secret() {
    let mut s = uploading();
    let right = upload_secret("u");
    let wrong = upload_secret("not u");
    s.write(&SI, ShareNumber(0), &right, 0, b"ab", NOW).unwrap();
    let before = incoming_bytes(&mut s);
    assert!(matches!(
        s.write(&SI, ShareNumber(0), &wrong, 0, b"ab", NOW),
        Err(Error::BadUploadSecret)
    ));
    assert!(matches!(
        s.write(&SI, ShareNumber(0), &wrong, 2, b"cd", NOW),
        Err(Error::BadUploadSecret)
    ));
    assert!(matches!(
        s.required_ranges(&SI, ShareNumber(0), &wrong),
        Err(Error::BadUploadSecret)
    ));
    assert!(matches!(
        s.close(&SI, ShareNumber(0), &wrong),
        Err(Error::BadUploadSecret)
    ));
    assert!(matches!(
        s.abort(&SI, ShareNumber(0), &wrong),
        Err(Error::BadUploadSecret)
    ));
    // Nothing changed: still in progress, same bytes, nothing published.
    assert!(s.upload_in_progress(&SI, ShareNumber(0)));
    assert_eq!(incoming_bytes(&mut s), before);
    assert!(s.shares(&SI).unwrap().is_empty());
    assert_eq!(
        s.required_ranges(&SI, ShareNumber(0), &right).unwrap(),
        [span(2, 10)]
    );
    // A second allocation under another secret gets nothing.
    let a = s
        .allocate_buckets(&request(&[0], 10, "other"), NOW)
        .unwrap();
    assert!(a.allocated.is_empty());
}

// ----- rows 34-37: a misbehaving device ---------------------------------------------------

/// Faults the test device injects.
#[derive(Debug, Default)]
struct Faults {
    /// `read_at` hits end of file before filling the buffer.
    short_read: bool,
    /// `write_at` writes only half and reports it.
    partial_write: bool,
    /// `sync` fails.
    sync_fails: bool,
    /// Writes or extensions past this many bytes of one share fail with ENOSPC.
    space: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DevError {
    Mem(MemError),
    UnexpectedEof,
    ShortWrite,
    SyncFailed,
    StorageFull,
}

impl IoError for DevError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Mem(m) => m.kind(),
            Self::UnexpectedEof => ErrorKind::InvalidData,
            Self::ShortWrite => ErrorKind::WriteZero,
            Self::SyncFailed | Self::StorageFull => ErrorKind::Other,
        }
    }
}

/// A `MemStore` whose share devices fail as `Faults` says.
#[derive(Debug, Default)]
struct FaultyMem {
    inner: MemStore,
    faults: Rc<RefCell<Faults>>,
}

#[derive(Debug)]
struct FaultyShare {
    inner: MemShare,
    faults: Rc<RefCell<Faults>>,
}

fn dev<T>(r: StoreResult<T, MemError>) -> StoreResult<T, DevError> {
    r.map_err(|e| e.map_io(DevError::Mem))
}

impl ErrorType for FaultyShare {
    type Error = DevError;
}

impl ShareIo for FaultyShare {
    fn len(&mut self) -> Result<u64, DevError> {
        self.inner.len().map_err(DevError::Mem)
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DevError> {
        if self.faults.borrow().short_read {
            // Half the bytes arrive, then end of file.
            let half = buf.len() / 2;
            self.inner
                .read_at(offset, &mut buf[..half])
                .map_err(DevError::Mem)?;
            return Err(DevError::UnexpectedEof);
        }
        self.inner.read_at(offset, buf).map_err(DevError::Mem)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), DevError> {
        let f = self.faults.borrow();
        if f.partial_write {
            let half = data.len() / 2;
            self.inner
                .write_at(offset, &data[..half])
                .map_err(DevError::Mem)?;
            return Err(DevError::ShortWrite);
        }
        if let Some(space) = f.space {
            if offset + data.len() as u64 > space {
                return Err(DevError::StorageFull);
            }
        }
        self.inner.write_at(offset, data).map_err(DevError::Mem)
    }
    fn set_len(&mut self, len: u64) -> Result<(), DevError> {
        if self.faults.borrow().space.is_some_and(|s| len > s) {
            return Err(DevError::StorageFull);
        }
        self.inner.set_len(len).map_err(DevError::Mem)
    }
    fn sync(&mut self) -> Result<(), DevError> {
        if self.faults.borrow().sync_fails {
            return Err(DevError::SyncFailed);
        }
        self.inner.sync().map_err(DevError::Mem)
    }
}

impl FaultyMem {
    fn wrap(&self, inner: MemShare) -> FaultyShare {
        FaultyShare {
            inner,
            faults: Rc::clone(&self.faults),
        }
    }
}

impl ShareStore for FaultyMem {
    type Error = DevError;
    type Io = FaultyShare;

    fn open(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
    ) -> StoreResult<Option<FaultyShare>, DevError> {
        Ok(dev(self.inner.open(si, n))?.map(|s| self.wrap(s)))
    }
    fn list(&mut self, si: &StorageIndex) -> StoreResult<ShareSet, DevError> {
        dev(self.inner.list(si))
    }
    fn create_incoming(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
    ) -> StoreResult<FaultyShare, DevError> {
        let share = dev(self.inner.create_incoming(si, n))?;
        Ok(self.wrap(share))
    }
    fn open_incoming(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
    ) -> StoreResult<Option<FaultyShare>, DevError> {
        Ok(dev(self.inner.open_incoming(si, n))?.map(|s| self.wrap(s)))
    }
    fn list_incoming(&mut self, si: &StorageIndex) -> StoreResult<ShareSet, DevError> {
        dev(self.inner.list_incoming(si))
    }
    fn publish(&mut self, si: &StorageIndex, n: ShareNumber) -> StoreResult<(), DevError> {
        dev(self.inner.publish(si, n))
    }
    fn abort(&mut self, si: &StorageIndex, n: ShareNumber) -> StoreResult<(), DevError> {
        dev(self.inner.abort(si, n))
    }
    fn remove(&mut self, si: &StorageIndex, n: ShareNumber) -> StoreResult<(), DevError> {
        dev(self.inner.remove(si, n))
    }
    fn put_upload_record(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
        record: &[u8],
    ) -> StoreResult<(), DevError> {
        dev(self.inner.put_upload_record(si, n, record))
    }
    fn get_upload_record(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
        buf: &mut [u8],
    ) -> StoreResult<Option<usize>, DevError> {
        dev(self.inner.get_upload_record(si, n, buf))
    }
    fn available_space(&mut self) -> StoreResult<Option<u64>, DevError> {
        dev(self.inner.available_space())
    }
    fn write_advisory(&mut self, name: &str, body: &[u8]) -> StoreResult<(), DevError> {
        dev(self.inner.write_advisory(name, body))
    }
    fn for_each_storage_index(
        &mut self,
        f: &mut dyn FnMut(StorageIndex) -> bool,
    ) -> StoreResult<(), DevError> {
        dev(self.inner.for_each_storage_index(f))
    }
    fn for_each_incoming(
        &mut self,
        f: &mut dyn FnMut(StorageIndex, ShareNumber) -> bool,
    ) -> StoreResult<(), DevError> {
        dev(self.inner.for_each_incoming(f))
    }
}

type FaultyServer = Server<FaultyMem>;

fn faulty_server() -> (FaultyServer, Rc<RefCell<Faults>>) {
    let store = FaultyMem::default();
    let faults = Rc::clone(&store.faults);
    (
        Server::new(store, NODE, Config::default(), NOW).unwrap(),
        faults,
    )
}

fn faulty_upload(s: &mut FaultyServer) {
    let a = s.allocate_buckets(&request(&[0], 10, "u"), NOW).unwrap();
    assert!(a.allocated.contains(ShareNumber(0)));
}

#[test]
fn row_34_backend_short_read() {
    let (mut s, faults) = faulty_server();
    let secret = upload_secret("u");
    faulty_upload(&mut s);
    s.write(&SI, ShareNumber(0), &secret, 0, b"0123456789", NOW)
        .unwrap();
    s.close(&SI, ShareNumber(0), &secret).unwrap();
    let r = s.open_bucket(&SI, ShareNumber(0)).unwrap();
    faults.borrow_mut().short_read = true;
    let mut buf = [0xEEu8; 10];
    assert!(matches!(
        s.read_bucket(&r, 0, &mut buf),
        Err(Error::Io(DevError::UnexpectedEof))
    ));
    assert!(matches!(
        s.read_bucket_vec(&r, 0, 10),
        Err(Error::Io(DevError::UnexpectedEof))
    ));
    assert!(matches!(
        s.open_bucket(&SI, ShareNumber(0)),
        Err(Error::Io(DevError::UnexpectedEof))
    ));
    faults.borrow_mut().short_read = false;
    assert_eq!(s.read_bucket_vec(&r, 0, 10).unwrap(), b"0123456789");

    // A device that shrank under an open container: the read fails, no zero fill.
    let mut c = ImmutableContainer::create(VecIo::new(), ImmutableVersion::V2, 9).unwrap();
    c.write_share_data(0, b"some data").unwrap();
    c.io_mut().set_len(12 + 4).unwrap();
    let mut buf = [0xEEu8; 9];
    assert!(matches!(
        c.read_share_data(0, &mut buf),
        Err(ContainerError::Io(MemError::UnexpectedEof))
    ));
}

#[test]
fn row_35_backend_partial_write() {
    let (mut s, faults) = faulty_server();
    let secret = upload_secret("u");
    faulty_upload(&mut s);
    faults.borrow_mut().partial_write = true;
    assert!(matches!(
        s.write(&SI, ShareNumber(0), &secret, 0, b"0123456789", NOW),
        Err(Error::Io(DevError::ShortWrite))
    ));
    // Not counted as written; the upload can be retried.
    assert_eq!(
        s.required_ranges(&SI, ShareNumber(0), &secret).unwrap(),
        [span(0, 10)]
    );
    faults.borrow_mut().partial_write = false;
    assert!(s
        .write(&SI, ShareNumber(0), &secret, 0, b"0123456789", NOW)
        .unwrap());

    // A mutable write: the journal keeps the share old, and the call fails.
    let (mut s, faults) = faulty_server();
    let msi = StorageIndex::new([9; 16]);
    let w = [SlotWrite {
        share_number: ShareNumber(0),
        tests: &[],
        writes: &[(0, b"first")],
        new_length: None,
    }];
    s.slot_testv_and_readv_and_writev(&msi, &slot_secrets(6), &w, &[], LeaseUpdate::NoChange, NOW)
        .unwrap();
    faults.borrow_mut().partial_write = true;
    let w = [SlotWrite {
        share_number: ShareNumber(0),
        tests: &[],
        writes: &[(0, b"SECOND")],
        new_length: None,
    }];
    assert!(matches!(
        s.slot_testv_and_readv_and_writev(
            &msi,
            &slot_secrets(6),
            &w,
            &[],
            LeaseUpdate::NoChange,
            NOW
        ),
        Err(Error::Io(DevError::ShortWrite))
    ));
    faults.borrow_mut().partial_write = false;
    let reads = s.slot_readv(&msi, &ShareSet::new(), &[(0, 100)]).unwrap();
    assert_eq!(reads, [(ShareNumber(0), vec![b"first".to_vec()])]);
}

#[test]
fn row_36_backend_sync_error() {
    let (mut s, faults) = faulty_server();
    let secret = upload_secret("u");
    faulty_upload(&mut s);
    s.write(&SI, ShareNumber(0), &secret, 0, b"0123456789", NOW)
        .unwrap();
    faults.borrow_mut().sync_fails = true;
    assert!(matches!(
        s.close(&SI, ShareNumber(0), &secret),
        Err(Error::Io(DevError::SyncFailed))
    ));
    assert!(
        s.shares(&SI).unwrap().is_empty(),
        "published after a failed sync"
    );
    // A sync that now succeeds must not acknowledge what the failed one lost.
    faults.borrow_mut().sync_fails = false;
    assert!(matches!(
        s.close(&SI, ShareNumber(0), &secret),
        Err(Error::Poisoned)
    ));
    assert!(matches!(
        s.write(&SI, ShareNumber(0), &secret, 0, b"0", NOW),
        Err(Error::Poisoned)
    ));
    assert!(s.shares(&SI).unwrap().is_empty());
    // The upload can still be abandoned, which frees its space.
    s.abort(&SI, ShareNumber(0), &secret).unwrap();
    assert_eq!(s.store().inner.used(), 0);
}

#[test]
fn row_37_enospc_during_upload() {
    // The store cannot tell its space (as a filesystem under other writers): the
    // device's ENOSPC is what stops the allocation, when the lease record is written
    // past the data.
    let (mut s, faults) = faulty_server();
    faults.borrow_mut().space = Some(100);
    assert!(matches!(
        s.allocate_buckets(&request(&[0, 1], 500, "u"), NOW),
        Err(Error::Io(DevError::StorageFull))
    ));
    assert!(!s.upload_in_progress(&SI, ShareNumber(0)));
    assert!(s.store_mut().list_incoming(&SI).unwrap().is_empty());
    assert_eq!((s.allocated_size(), s.store().inner.used()), (0, 0));
    // ENOSPC on a data write: the write fails, nothing counts as written, and an
    // abort returns every byte.
    faults.borrow_mut().space = None;
    faulty_upload(&mut s);
    let secret = upload_secret("u");
    faults.borrow_mut().space = Some(15);
    assert!(matches!(
        s.write(&SI, ShareNumber(0), &secret, 0, b"0123456789", NOW),
        Err(Error::Io(DevError::StorageFull))
    ));
    assert_eq!(
        s.required_ranges(&SI, ShareNumber(0), &secret).unwrap(),
        [span(0, 10)]
    );
    s.abort(&SI, ShareNumber(0), &secret).unwrap();
    assert_eq!((s.allocated_size(), s.store().inner.used()), (0, 0));
}

#[test]
fn row_38_misbehaving_device_or_callbacks() {
    // The callback half of row 38 is the bindings' (C and Python suites). In the core, a
    // device failing every kind of operation yields `Io`, for every server operation.
    let (mut s, faults) = faulty_server();
    let secret = upload_secret("u");
    faulty_upload(&mut s);
    s.write(&SI, ShareNumber(0), &secret, 0, b"0123456789", NOW)
        .unwrap();
    s.close(&SI, ShareNumber(0), &secret).unwrap();
    {
        let mut f = faults.borrow_mut();
        f.short_read = true;
        f.partial_write = true;
        f.sync_fails = true;
    }
    assert!(matches!(
        s.add_lease(
            &SI,
            &RenewSecret::new([4; 32]),
            &CancelSecret::new([5; 32]),
            0,
            NOW
        ),
        Err(Error::Io(_))
    ));
    assert!(matches!(
        s.stat_share(&SI, ShareNumber(0)),
        Err(Error::Io(_))
    ));
    assert!(matches!(
        s.allocate_buckets(&request(&[1], 10, "v"), NOW),
        Err(Error::Io(_))
    ));
}

// ----- the figure ---------------------------------------------------------------------------

/// Row tests in this file (named `row_NN_`); `catalogue_figure` counts them in the source.
const ROW_TESTS: usize = 38;

#[test]
fn catalogue_figure() {
    let source = include_str!("bad_input.rs");
    let needle = concat!("\nfn ", "row");
    let defined = source.matches(needle).count();
    assert_eq!(defined, ROW_TESTS, "update ROW_TESTS");
    println!("RELIABILITY bad_inputs_core {ROW_TESTS}");
}

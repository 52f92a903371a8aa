//! The bad-input catalogue (reference/reliability.md 3.4) rows that apply to containers
//! and stores: each gets its own typed error, with no panic and no allocation sized by a
//! length field.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;

use tahoe_shares::container::{ImmutableContainer, MutableContainer, NewLease, TestOperator};
use tahoe_shares::format::immutable::ImmutableVersion;
use tahoe_shares::format::mutable::{MutableVersion, DATA_OFFSET, MAX_MUTABLE_SHARE_SIZE};
use tahoe_shares::io::{MemError, VecIo};
use tahoe_shares::store::{Durability, FsStore, ShareStore};
use tahoe_shares::{
    CancelSecret, Corruption, Error, NodeId, RenewSecret, ShareNumber, StorageIndex, WriteEnabler,
};

fn imm(bytes: Vec<u8>) -> Result<ImmutableContainer<VecIo>, Error<MemError>> {
    ImmutableContainer::open(VecIo::from_vec(bytes))
}

fn mutable(bytes: Vec<u8>) -> Result<MutableContainer<VecIo>, Error<MemError>> {
    MutableContainer::open(VecIo::from_vec(bytes))
}

fn lease() -> NewLease {
    NewLease {
        owner_num: 1,
        renew: RenewSecret([1; 32]),
        cancel: CancelSecret([2; 32]),
        expiration_time: 100,
        nodeid: NodeId([3; 20]),
    }
}

fn good_mutable(extra_leases: u8) -> Vec<u8> {
    let mut c = MutableContainer::create(
        VecIo::new(),
        MutableVersion::V2,
        NodeId([1; 20]),
        WriteEnabler([2; 32]),
    )
    .unwrap();
    c.writev(&[(0, b"some data")], None).unwrap();
    for i in 0..4 + extra_leases {
        let mut l = lease();
        l.renew = RenewSecret([i; 32]);
        c.add_lease(u64::MAX, &l).unwrap();
    }
    c.into_inner().data
}

fn set(bytes: &mut [u8], at: usize, value: &[u8]) {
    bytes[at..at + value.len()].copy_from_slice(value);
}

#[test]
fn row1_empty_and_short_immutable() {
    assert!(matches!(
        imm(vec![]),
        Err(Error::Corrupt(Corruption::TruncatedHeader))
    ));
    assert!(matches!(
        imm(vec![0, 0, 0, 2, 0]),
        Err(Error::Corrupt(Corruption::TruncatedHeader))
    ));
}

#[test]
fn row2_unknown_immutable_versions() {
    for v in [0u32, 3, u32::MAX] {
        let mut b = vec![0u8; 12];
        set(&mut b, 0, &v.to_be_bytes());
        assert!(matches!(imm(b), Err(Error::UnknownImmutableVersion(x)) if x == v));
    }
}

#[test]
fn rows3_4_5_lease_counts() {
    // Three leases claimed, room for one: no allocation, a typed error.
    let mut b = vec![0u8; 12 + 10 + 72];
    set(&mut b, 0, &2u32.to_be_bytes());
    set(&mut b, 8, &3u32.to_be_bytes());
    assert!(matches!(
        imm(b.clone()),
        Err(Error::Corrupt(Corruption::LeaseCountExceedsFile))
    ));
    set(&mut b, 8, &u32::MAX.to_be_bytes());
    assert!(matches!(
        imm(b.clone()),
        Err(Error::Corrupt(Corruption::LeaseCountExceedsFile))
    ));
    // A partial trailing record that leaves less than the records need.
    let mut c = ImmutableContainer::create(VecIo::new(), ImmutableVersion::V2, 0).unwrap();
    c.add_lease(&lease()).unwrap();
    let mut bytes = c.into_inner().data;
    bytes.truncate(bytes.len() - 5);
    assert!(matches!(
        imm(bytes),
        Err(Error::Corrupt(Corruption::LeaseCountExceedsFile))
    ));
}

#[test]
fn row6_legacy_length_disagreeing_downwards_is_accepted_not_used() {
    // The file holds less than the legacy field says: Tahoe's derived length wins.
    let mut c = ImmutableContainer::create(VecIo::new(), ImmutableVersion::V1, 100).unwrap();
    c.add_lease(&lease()).unwrap();
    let mut bytes = c.into_inner().data;
    set(&mut bytes, 4, &1000u32.to_be_bytes());
    let c = imm(bytes).unwrap();
    assert_eq!(c.data_length(), 100);
}

#[test]
fn rows7_8_mutable_magic_and_short_header() {
    let mut b = good_mutable(0);
    b[3] ^= 0x20;
    assert!(matches!(mutable(b), Err(Error::UnknownMutableMagic)));
    let b = good_mutable(0);
    assert!(matches!(
        mutable(b[..120].to_vec()),
        Err(Error::Corrupt(Corruption::LeaseOffsetBeyondEof))
    ));
    assert!(matches!(
        mutable(b[..60].to_vec()),
        Err(Error::Corrupt(Corruption::TruncatedHeader))
    ));
}

#[test]
fn row9_data_length_beyond_container() {
    let mut b = good_mutable(0);
    set(&mut b, 84, &(MAX_MUTABLE_SHARE_SIZE + 1).to_be_bytes());
    assert!(matches!(
        mutable(b),
        Err(Error::Corrupt(Corruption::DataLengthBeyondContainer))
    ));
}

#[test]
fn rows10_11_extra_lease_offset() {
    let mut b = good_mutable(0);
    set(&mut b, 92, &(DATA_OFFSET + 2).to_be_bytes());
    assert!(matches!(
        mutable(b),
        Err(Error::Corrupt(Corruption::OverlappingRegions))
    ));
    let mut b = good_mutable(0);
    set(&mut b, 92, &(1u64 << 40).to_be_bytes());
    assert!(matches!(
        mutable(b),
        Err(Error::Corrupt(Corruption::LeaseOffsetBeyondEof))
    ));
}

#[test]
fn row12_extra_lease_count_max() {
    let mut b = good_mutable(1);
    let elo = u64::from_be_bytes(b[92..100].try_into().unwrap()) as usize;
    set(&mut b, elo, &u32::MAX.to_be_bytes());
    assert!(matches!(
        mutable(b),
        Err(Error::Corrupt(Corruption::LeaseCountExceedsFile))
    ));
}

#[test]
fn row13_owner_zero_slot_is_empty() {
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
fn row28_operators_other_than_eq() {
    for op in [&b"lt"[..], b"ne", b"", b"EQ"] {
        assert!(matches!(
            TestOperator::parse::<MemError>(op),
            Err(Error::UnsupportedOperator)
        ));
    }
    assert!(TestOperator::parse::<MemError>(b"eq").is_ok());
}

#[test]
fn row30_write_past_maximum() {
    let mut c = mutable(good_mutable(0)).unwrap();
    let before = c.data_length();
    assert!(matches!(
        c.writev(&[(0, b"ok"), (MAX_MUTABLE_SHARE_SIZE, b"x")], None),
        Err(Error::DataTooLarge { .. })
    ));
    assert!(matches!(
        c.writev(&[(u64::MAX, b"x")], None),
        Err(Error::DataTooLarge { .. })
    ));
    // Nothing of the call was applied (Tahoe applies the first vector).
    let mut buf = [0u8; 2];
    c.read_share_data(0, &mut buf).unwrap();
    assert_eq!((&buf, c.data_length()), (b"so", before));
}

#[test]
fn row22_immutable_write_past_allocation() {
    let mut c = ImmutableContainer::create(VecIo::new(), ImmutableVersion::V2, 10).unwrap();
    assert!(matches!(
        c.write_share_data(5, b"123456"),
        Err(Error::DataTooLarge { .. })
    ));
    assert!(matches!(
        c.write_share_data(u64::MAX, b"1"),
        Err(Error::InvalidArgument(_))
    ));
    c.write_share_data(10, b"").unwrap();
}

#[test]
fn row27_reads_past_the_end() {
    let mut c = mutable(good_mutable(0)).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(c.read_share_data(1 << 62, &mut buf).unwrap(), 0);
    assert_eq!(c.read_share_data(5, &mut buf).unwrap(), 4);
}

#[test]
fn row31_wrong_write_enabler() {
    let c = mutable(good_mutable(0)).unwrap();
    assert!(matches!(
        c.check_write_enabler(&WriteEnabler([9; 32])),
        Err(Error::BadWriteEnabler { nodeid }) if nodeid == NodeId([1; 20])
    ));
}

#[test]
fn row32_unknown_renew_and_cancel_secrets() {
    let mut c = mutable(good_mutable(0)).unwrap();
    assert!(matches!(
        c.renew_lease(&RenewSecret([77; 32]), 5, false),
        Err(Error::NoSuchLease)
    ));
    assert!(matches!(
        c.cancel_lease(&CancelSecret([77; 32])),
        Err(Error::NoSuchLease)
    ));
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ts-bad-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

#[test]
fn rows14_15_share_names_symlinks_and_directories() {
    let root = temp_dir("names");
    let mut store = FsStore::open(&root, Durability::Durable).unwrap();
    let si = StorageIndex::new([5; 16]);
    let io = store.create_incoming(&si, ShareNumber(3)).unwrap();
    let mut c = ImmutableContainer::create(io, ImmutableVersion::V2, 4).unwrap();
    c.add_lease(&lease()).unwrap();
    c.write_share_data(0, b"data").unwrap();
    store.publish(&si, ShareNumber(3)).unwrap();
    let bucket = store.bucket_dir(&si);
    for junk in ["007", "4.tmp", "-1", "256", "abc", "+1"] {
        fs::write(bucket.join(junk), b"junk").unwrap();
    }
    symlink(bucket.join("3"), bucket.join("5")).unwrap();
    fs::create_dir(bucket.join("6")).unwrap();
    let listed: Vec<u8> = store.list(&si).unwrap().iter().map(|n| n.0).collect();
    assert_eq!(listed, [3]);
    assert!(matches!(
        store.open(&si, ShareNumber(5)),
        Err(Error::NotAShare)
    ));
    assert!(matches!(
        store.open(&si, ShareNumber(6)),
        Err(Error::NotAShare)
    ));
    assert!(matches!(
        store.remove(&si, ShareNumber(5)),
        Err(Error::NotAShare)
    ));
    assert!(store.open(&si, ShareNumber(7)).unwrap().is_none());
    // Exclusive create: neither an existing share nor an upload in progress is replaced.
    assert!(matches!(
        store.create_incoming(&si, ShareNumber(3)),
        Err(Error::AlreadyExists)
    ));
    let _io = store.create_incoming(&si, ShareNumber(4)).unwrap();
    assert!(matches!(
        store.create_incoming(&si, ShareNumber(4)),
        Err(Error::AlreadyExists)
    ));
    store.abort(&si, ShareNumber(4)).unwrap();
    assert!(matches!(
        store.abort(&si, ShareNumber(4)),
        Err(Error::NoSuchShare)
    ));
    fs::remove_dir_all(&root).unwrap();
}

#[test]
fn fs_store_layout_is_tahoes() {
    let root = temp_dir("layout");
    let mut store = FsStore::open(&root, Durability::Tahoe).unwrap();
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
        Err(Error::NoSuchShare)
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
        Err(Error::NoSuchShare)
    ));
    fs::remove_dir_all(&root).unwrap();
}

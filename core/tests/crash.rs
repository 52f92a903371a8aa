//! Crash-point enumeration over every multi-step container update: the device of one
//! share of the fault-injecting store stops persisting at every mutating operation in turn
//! (and, in power-loss mode, keeps only what was synced); after recovery the container
//! must be byte-identical to the old one or to the new one.

use tahoe_shares::container::{Backdate, ImmutableContainer, MutableContainer, NewLease};
use tahoe_shares::format::immutable::ImmutableVersion;
use tahoe_shares::format::mutable::MutableVersion;
use tahoe_shares::io::{ShareIo, VecIo};
use tahoe_shares::store::{FaultyShare, FaultyStore, MemStore, ShareStore};
use tahoe_shares::{CancelSecret, NodeId, RenewSecret, ShareNumber, StorageIndex, WriteEnabler};

const SI: StorageIndex = StorageIndex::new([9; 16]);
const SHARE: ShareNumber = ShareNumber(0);

/// What a crash keeps.
#[derive(Debug, Clone, Copy)]
enum CrashMode {
    /// The process dies; the OS keeps every completed write.
    ProcessCrash,
    /// Power is lost; only synced state survives.
    PowerLoss,
}

/// A fault-injecting store holding one published share with `bytes` (taken as durable),
/// crashing at mutating operation `crash_at` if given, and that share's device.
fn device(bytes: &[u8], crash_at: Option<usize>) -> (FaultyStore, FaultyShare) {
    let mut mem = MemStore::new();
    let mut io = mem.create_incoming(&SI, SHARE).unwrap();
    io.write_at(0, bytes).unwrap();
    mem.publish(&SI, SHARE).unwrap();
    let mut store = FaultyStore::new(mem);
    if let Some(n) = crash_at {
        store.plan().crash_at(n);
    }
    let io = store.open(&SI, SHARE).unwrap().unwrap();
    (store, io)
}

/// The share's bytes that survive a crash of `store` in `mode`.
fn crash_image(store: &FaultyStore, mode: CrashMode) -> Vec<u8> {
    let mut image = match mode {
        CrashMode::ProcessCrash => store.crash_image(),
        CrashMode::PowerLoss => store.durable_image(),
    };
    image.open(&SI, SHARE).unwrap().unwrap().bytes()
}

fn lease(seed: u8, expiry: u32) -> NewLease {
    NewLease {
        owner_num: 1,
        renew: RenewSecret::new([seed; 32]),
        cancel: CancelSecret::new([seed.wrapping_add(100); 32]),
        expiration_time: expiry,
        nodeid: NodeId([seed; 20]),
    }
}

/// Runs `op` on a copy of `before` crashing at every mutation index, recovers with
/// `recover`, and checks old-or-new. Returns the number of crash states checked.
fn enumerate(
    before: &[u8],
    op: &dyn Fn(FaultyShare) -> FaultyShare,
    recover: &dyn Fn(Vec<u8>) -> Vec<u8>,
) -> usize {
    let after = op(device(before, None).1).bytes();
    assert_ne!(after, before, "the operation must change something");
    let mut checked = 0;
    for mode in [CrashMode::ProcessCrash, CrashMode::PowerLoss] {
        for n in 0.. {
            let (store, io) = device(before, Some(n));
            op(io);
            if !store.plan().crashed() {
                break;
            }
            let recovered = recover(crash_image(&store, mode));
            // Recovery after a crash during recovery: recovering twice changes nothing.
            assert_eq!(
                recover(recovered.clone()),
                recovered,
                "recovery not idempotent at {n}"
            );
            assert!(
                recovered == before || recovered == after,
                "crash at mutation {n} ({mode:?}) left neither the old nor the new container"
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
    checked
}

fn recover_immutable(bytes: Vec<u8>) -> Vec<u8> {
    let mut c = ImmutableContainer::open(VecIo::from_vec(bytes)).unwrap();
    c.recover().unwrap();
    c.into_inner().data
}

fn recover_mutable(bytes: Vec<u8>) -> Vec<u8> {
    MutableContainer::open(VecIo::from_vec(bytes))
        .unwrap()
        .into_inner()
        .data
}

fn immutable_with_leases(n: u8) -> Vec<u8> {
    let mut c = ImmutableContainer::create(VecIo::new(), ImmutableVersion::V2, 300).unwrap();
    for i in 0..n {
        c.add_lease(&lease(i, 1000 + u32::from(i))).unwrap();
    }
    c.write_share_data(0, &[0xab; 300]).unwrap();
    c.into_inner().data
}

fn mutable_with(leases: u8, data: usize) -> Vec<u8> {
    let mut c = MutableContainer::create(
        VecIo::new(),
        MutableVersion::V2,
        NodeId([1; 20]),
        WriteEnabler::new([2; 32]),
    )
    .unwrap();
    c.writev(&[(0, &vec![0x5a; data])], None).unwrap();
    for i in 0..leases {
        c.add_lease(u64::MAX, &lease(i, 2000)).unwrap();
    }
    c.into_inner().data
}

#[test]
fn immutable_add_lease_is_atomic() {
    // Tahoe window 3: the record is written before the count.
    let before = immutable_with_leases(2);
    let n = enumerate(
        &before,
        &|io| {
            let mut c = ImmutableContainer::open(io).unwrap();
            let _ = c.add_lease(&lease(9, 5000));
            c.into_inner()
        },
        &recover_immutable,
    );
    assert!(n >= 2);
}

#[test]
fn immutable_renew_is_atomic() {
    let before = immutable_with_leases(3);
    enumerate(
        &before,
        &|io| {
            let mut c = ImmutableContainer::open(io).unwrap();
            let _ = c.renew_lease(&RenewSecret::new([1; 32]), 9999, Backdate::Forbid);
            c.into_inner()
        },
        &recover_immutable,
    );
}

#[test]
fn immutable_cancel_of_last_lease_is_atomic() {
    // Tahoe window 4: the count is written before the truncation.
    let before = immutable_with_leases(3);
    enumerate(
        &before,
        &|io| {
            let mut c = ImmutableContainer::open(io).unwrap();
            let _ = c.cancel_lease(&CancelSecret::new([102; 32]));
            c.into_inner()
        },
        &recover_immutable,
    );
}

#[test]
fn immutable_cancel_with_compaction_never_loses_a_kept_lease() {
    let before = immutable_with_leases(4);
    for mode in [CrashMode::ProcessCrash, CrashMode::PowerLoss] {
        for n in 0.. {
            let (store, io) = device(&before, Some(n));
            let mut c = ImmutableContainer::open(io).unwrap();
            let _ = c.cancel_lease(&CancelSecret::new([100; 32]));
            if !store.plan().crashed() {
                break;
            }
            let image = recover_immutable(crash_image(&store, mode));
            let mut c = ImmutableContainer::open(VecIo::from_vec(image)).unwrap();
            let mut seen = Vec::new();
            c.for_each_lease(|_, l| {
                seen.push(l.expiration_time);
                true
            })
            .unwrap();
            for kept in [1001, 1002, 1003] {
                assert!(
                    seen.contains(&kept),
                    "crash at {n} lost lease {kept}: {seen:?}"
                );
            }
            let mut data = [0u8; 300];
            assert_eq!(c.read_share_data(0, &mut data).unwrap(), 300);
            assert_eq!(data, [0xab; 300]);
        }
    }
}

#[test]
fn mutable_writev_in_place_is_atomic() {
    let before = mutable_with(1, 2000);
    enumerate(
        &before,
        &|io| {
            let mut c = MutableContainer::open(io).unwrap();
            let _ = c.writev(&[(10, &[1; 1500]), (1800, &[2; 100])], None);
            c.into_inner()
        },
        &recover_mutable,
    );
}

#[test]
fn mutable_growth_moving_extra_leases_is_atomic() {
    // Tahoe windows 1 and 2: the extra-lease block is zeroed before it is rewritten, and
    // the data length is written before the data.
    let before = mutable_with(6, 100);
    enumerate(
        &before,
        &|io| {
            let mut c = MutableContainer::open(io).unwrap();
            let _ = c.writev(&[(50, &[7; 120]), (400, &[8; 3000])], None);
            c.into_inner()
        },
        &recover_mutable,
    );
}

#[test]
fn mutable_truncation_is_atomic() {
    let before = mutable_with(5, 3000);
    enumerate(
        &before,
        &|io| {
            let mut c = MutableContainer::open(io).unwrap();
            let _ = c.writev(&[(0, b"head")], Some(10));
            c.into_inner()
        },
        &recover_mutable,
    );
}

#[test]
fn mutable_extra_lease_append_is_atomic() {
    let before = mutable_with(4, 100);
    enumerate(
        &before,
        &|io| {
            let mut c = MutableContainer::open(io).unwrap();
            let _ = c.add_lease(u64::MAX, &lease(50, 7000));
            c.into_inner()
        },
        &recover_mutable,
    );
}

#[test]
fn failed_sync_poisons_the_container() {
    use tahoe_shares::container::ContainerError;
    use tahoe_shares::store::StoreOp;
    let before = mutable_with(1, 10);
    let (store, io) = device(&before, None);
    store.plan().fail_nth(StoreOp::Sync, 0, false);
    let mut c = MutableContainer::open(io).unwrap();
    assert!(matches!(
        c.writev(&[(0, b"x")], None),
        Err(ContainerError::Io(_))
    ));
    // The next sync would succeed, but the container refuses: a retried fsync can lie.
    assert!(matches!(
        c.writev(&[(0, b"y")], None),
        Err(ContainerError::Poisoned)
    ));
}

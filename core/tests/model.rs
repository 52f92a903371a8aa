//! Model-based property tests: random operation sequences on each container against a
//! trivial model (a byte vector and a list of leases).

use proptest::prelude::*;
use tahoe_shares::container::{
    ImmutableContainer, MutableContainer, NewLease, TestOperator, TestVector,
};
use tahoe_shares::format::immutable::ImmutableVersion;
use tahoe_shares::format::mutable::MutableVersion;
use tahoe_shares::io::VecIo;
use tahoe_shares::{CancelSecret, NodeId, RenewSecret, WriteEnabler};

#[derive(Debug, Clone)]
enum Op {
    Write(u16, Vec<u8>, Option<u16>),
    AddOrRenew(u8, u32),
    Cancel(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            0u16..600,
            prop::collection::vec(any::<u8>(), 0..80),
            prop::option::of(0u16..700)
        )
            .prop_map(|(o, d, n)| Op::Write(o, d, n)),
        (0u8..7, 1u32..1000).prop_map(|(s, e)| Op::AddOrRenew(s, e)),
        (0u8..7).prop_map(Op::Cancel),
    ]
}

fn lease(seed: u8, expiry: u32) -> NewLease {
    NewLease {
        owner_num: 1,
        renew: RenewSecret::new([seed; 32]),
        cancel: CancelSecret::new([seed; 32]),
        expiration_time: expiry,
        nodeid: NodeId([seed; 20]),
    }
}

fn leases_of(c: &mut MutableContainer<VecIo>) -> Vec<(u32, u32)> {
    let mut v = Vec::new();
    c.for_each_lease(|_, l| {
        v.push((l.nodeid.unwrap().0[0].into(), l.expiration_time));
        true
    })
    .unwrap();
    v.sort_unstable();
    v
}

proptest! {
    #[test]
    fn mutable_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        let mut c = MutableContainer::create(VecIo::new(), MutableVersion::V2, NodeId([9; 20]), WriteEnabler::new([1; 32])).unwrap();
        let mut data: Vec<u8> = Vec::new();
        let mut leases: Vec<(u32, u32)> = Vec::new();
        for op in ops {
            // Reopening each time also exercises recovery on clean containers.
            let bytes = c.into_inner();
            c = MutableContainer::open(bytes).unwrap();
            match op {
                Op::Write(offset, bytes, new_length) => {
                    let off = usize::from(offset);
                    c.writev(&[(u64::from(offset), &bytes)], new_length.map(u64::from)).unwrap();
                    if off + bytes.len() >= data.len() { data.resize(off + bytes.len(), 0); }
                    data[off..off + bytes.len()].copy_from_slice(&bytes);
                    if let Some(n) = new_length { data.truncate(usize::from(n)); }
                }
                Op::AddOrRenew(seed, expiry) => {
                    c.add_or_renew_lease(u64::MAX, &lease(seed, expiry)).unwrap();
                    match leases.iter_mut().find(|l| l.0 == u32::from(seed)) {
                        Some(l) => l.1 = l.1.max(expiry),
                        None => leases.push((u32::from(seed), expiry)),
                    }
                }
                Op::Cancel(seed) => {
                    let r = c.cancel_lease(&CancelSecret::new([seed; 32]));
                    let before = leases.len();
                    leases.retain(|l| l.0 != u32::from(seed));
                    prop_assert_eq!(r.is_ok(), before != leases.len());
                }
            }
            prop_assert_eq!(c.data_length(), data.len() as u64);
            let mut buf = vec![0u8; data.len() + 10];
            let n = c.read_share_data(0, &mut buf).unwrap();
            prop_assert_eq!(&buf[..n], &data[..]);
            let spec = TestVector { offset: 0, length: data.len() as u64 + 5, operator: TestOperator::Eq, specimen: &data };
            prop_assert!(c.check_testv(&[spec]).unwrap());
            leases.sort_unstable();
            prop_assert_eq!(leases_of(&mut c), leases.clone());
        }
    }

    #[test]
    fn immutable_matches_model(
        size in 0u64..300,
        writes in prop::collection::vec((0u64..320, prop::collection::vec(any::<u8>(), 0..40)), 0..10),
        lease_ops in prop::collection::vec(op(), 0..30),
    ) {
        let mut c = ImmutableContainer::create(VecIo::new(), ImmutableVersion::V2, size).unwrap();
        c.add_lease(&lease(100, 1)).unwrap();
        let mut model = vec![0u8; size as usize];
        for (off, bytes) in writes {
            let r = c.write_share_data(off, &bytes);
            if off + bytes.len() as u64 > size {
                prop_assert!(r.is_err());
            } else {
                r.unwrap();
                model[off as usize..off as usize + bytes.len()].copy_from_slice(&bytes);
            }
        }
        let mut leases = vec![(100u8, 1u32)];
        for op in lease_ops {
            match op {
                Op::AddOrRenew(seed, e) => {
                    c.add_or_renew_lease(u64::MAX, &lease(seed, e)).unwrap();
                    match leases.iter_mut().find(|l| l.0 == seed) {
                        Some(l) => l.1 = l.1.max(e),
                        None => leases.push((seed, e)),
                    }
                }
                Op::Cancel(seed) if leases.len() > 1 || leases[0].0 != seed => {
                    let before = leases.len();
                    leases.retain(|l| l.0 != seed);
                    prop_assert_eq!(c.cancel_lease(&CancelSecret::new([seed; 32])).is_ok(), before != leases.len());
                }
                _ => {}
            }
            let reopened = ImmutableContainer::open(VecIo::from_vec(c.io_mut().data.clone())).unwrap();
            prop_assert_eq!(reopened.data_length(), size);
        }
        let mut got = Vec::new();
        c.for_each_lease(|_, l| { got.push(l.expiration_time); true }).unwrap();
        prop_assert_eq!(got, leases.iter().map(|l| l.1).collect::<Vec<_>>());
        let mut buf = vec![0u8; model.len() + 3];
        let n = c.read_share_data(0, &mut buf).unwrap();
        prop_assert_eq!(&buf[..n], &model[..]);
    }
}

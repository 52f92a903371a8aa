//! Operation sequences on one mutable and one immutable container (in memory) against a
//! byte-vector model: every read and test-vector result equals the model's, and the
//! containers re-open to the model's state with every acknowledged lease present.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tahoe_shares::container::{
    ImmutableContainer, MutableContainer, NewLease, TestOperator, TestVector,
};
use tahoe_shares::format::immutable::ImmutableVersion;
use tahoe_shares::format::mutable::MutableVersion;
use tahoe_shares::io::VecIo;
use tahoe_shares::{CancelSecret, LeaseSchema, NodeId, RenewSecret, WriteEnabler};

#[derive(Arbitrary, Debug)]
enum Op {
    MWrite {
        writes: Vec<(u16, Vec<u8>)>,
        new_length: Option<u16>,
    },
    MRead {
        offset: u16,
        len: u16,
    },
    MTest {
        offset: u16,
        len: u16,
        specimen: Vec<u8>,
        use_model: bool,
    },
    MLease {
        seed: u8,
        expiry: u32,
    },
    IWrite {
        offset: u16,
        len: u8,
    },
    IRead {
        offset: u16,
        len: u16,
    },
    ILease {
        seed: u8,
        expiry: u32,
    },
    Reopen,
}

#[derive(Arbitrary, Debug)]
struct Input {
    v2: bool,
    imm_size: u16,
    ops: Vec<Op>,
}

fn lease(seed: u8, expiry: u32) -> NewLease {
    NewLease {
        owner_num: 1,
        renew: RenewSecret::new([seed; 32]),
        cancel: CancelSecret::new([!seed; 32]),
        expiration_time: expiry,
        nodeid: NodeId([9; 20]),
    }
}

fn imm_byte(i: u64) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 8)) as u8
}

fuzz_target!(|input: Input| {
    let (mv, iv) = if input.v2 {
        (MutableVersion::V2, ImmutableVersion::V2)
    } else {
        (MutableVersion::V1, ImmutableVersion::V1)
    };
    let schema = iv.lease_schema();
    let we = WriteEnabler::new([5; 32]);
    let mut m = MutableContainer::create(VecIo::new(), mv, NodeId([9; 20]), we.clone()).unwrap();
    let max = u64::from(input.imm_size);
    let mut im = ImmutableContainer::create(VecIo::new(), iv, max).unwrap();
    let mut mmodel: Vec<u8> = Vec::new();
    let mut imodel: Vec<u8> = Vec::new();
    let mut mleases: Vec<(u8, u32)> = Vec::new();
    let mut ileases: Vec<(u8, u32)> = Vec::new();
    for op in input.ops.iter().take(64) {
        match op {
            Op::MWrite { writes, new_length } => {
                let datav: Vec<(u64, &[u8])> = writes
                    .iter()
                    .take(8)
                    .map(|(o, d)| (u64::from(*o), &d[..]))
                    .collect();
                m.writev(&datav, new_length.map(u64::from))
                    .expect("mutable writev");
                for (o, d) in &datav {
                    let end = *o as usize + d.len();
                    if mmodel.len() < end {
                        mmodel.resize(end, 0);
                    }
                    mmodel[*o as usize..end].copy_from_slice(d);
                }
                if let Some(n) = new_length {
                    mmodel.truncate(usize::from(*n));
                }
                assert_eq!(m.data_length(), mmodel.len() as u64);
            }
            Op::MRead { offset, len } => {
                let mut buf = vec![0u8; usize::from(*len)];
                let got = m
                    .read_share_data(u64::from(*offset), &mut buf)
                    .expect("read");
                let start = usize::from(*offset).min(mmodel.len());
                let end = (usize::from(*offset) + usize::from(*len)).min(mmodel.len());
                assert_eq!(&buf[..got], &mmodel[start..end], "mutable read");
            }
            Op::MTest {
                offset,
                len,
                specimen,
                use_model,
            } => {
                let start = usize::from(*offset).min(mmodel.len());
                let end = (usize::from(*offset) + usize::from(*len)).min(mmodel.len());
                let spec: &[u8] = if *use_model {
                    &mmodel[start..end]
                } else {
                    specimen
                };
                let t = [TestVector {
                    offset: u64::from(*offset),
                    length: u64::from(*len),
                    operator: TestOperator::Eq,
                    specimen: spec,
                }];
                let want = &mmodel[start..end] == spec;
                assert_eq!(m.check_testv(&t).expect("testv"), want, "test vector");
            }
            Op::MLease { seed, expiry } => {
                if m.add_or_renew_lease(u64::MAX, &lease(*seed, *expiry))
                    .is_ok()
                {
                    match mleases.iter_mut().find(|(s, _)| s == seed) {
                        Some(l) => l.1 = l.1.max(*expiry),
                        None => mleases.push((*seed, *expiry)),
                    }
                }
            }
            Op::IWrite { offset, len } => {
                let (o, end) = (u64::from(*offset), u64::from(*offset) + u64::from(*len));
                let bytes: Vec<u8> = (o..end).map(imm_byte).collect();
                if end <= max && end > im.data_length() {
                    // Past the data region of a re-opened container: outside the
                    // container's contract (Tahoe's ShareFile likewise places leases
                    // where the file ended when opened); the server never does this.
                    continue;
                }
                let r = im.write_share_data(o, &bytes);
                if end > max {
                    assert!(r.is_err(), "write past max_size accepted");
                } else {
                    r.expect("immutable write");
                    if imodel.len() < end as usize {
                        imodel.resize(end as usize, 0);
                    }
                    imodel[o as usize..end as usize].copy_from_slice(&bytes);
                }
            }
            Op::IRead { offset, len } => {
                let mut buf = vec![0u8; usize::from(*len)];
                let dl = im.data_length() as usize;
                let got = match im.read_share_data(u64::from(*offset), &mut buf) {
                    Ok(got) => got,
                    Err(e) => {
                        // Never zero-filled: only a range past what was written may fail.
                        let end = (usize::from(*offset) + usize::from(*len)).min(dl);
                        assert!(end > imodel.len(), "read refused: {e:?}");
                        continue;
                    }
                };
                assert!(dl >= imodel.len());
                let start = usize::from(*offset).min(dl);
                let end = (usize::from(*offset) + usize::from(*len)).min(dl);
                assert_eq!(got, end - start);
                for (k, b) in buf[..got].iter().enumerate() {
                    let want = imodel.get(start + k).copied().unwrap_or(0);
                    assert_eq!(*b, want, "immutable read at {}", start + k);
                }
            }
            Op::ILease { seed, expiry } => {
                if im
                    .add_or_renew_lease(u64::MAX, &lease(*seed, *expiry))
                    .is_ok()
                {
                    match ileases.iter_mut().find(|(s, _)| s == seed) {
                        Some(l) => l.1 = l.1.max(*expiry),
                        None => ileases.push((*seed, *expiry)),
                    }
                }
            }
            Op::Reopen => {
                m = MutableContainer::open(m.into_inner()).expect("reopen mutable");
                im = ImmutableContainer::open(im.into_inner())
                    .expect("reopen immutable")
                    .with_max_size(max);
            }
        }
    }
    // Final state: re-open both and compare with the model.
    let mut m = MutableContainer::open(m.into_inner()).expect("reopen mutable");
    assert_eq!(m.data_length(), mmodel.len() as u64);
    let mut buf = vec![0u8; mmodel.len()];
    m.read_share_data(0, &mut buf).unwrap();
    assert_eq!(buf, mmodel);
    m.check_write_enabler(&we).expect("write enabler kept");
    let mut found = Vec::new();
    m.for_each_lease(|_, l| {
        found.push((l.secrets.renew_bytes().to_owned(), l.expiration_time));
        true
    })
    .unwrap();
    check_leases(&found, &mleases, schema);
    let mut im = ImmutableContainer::open(im.into_inner()).expect("reopen immutable");
    let mut found = Vec::new();
    im.for_each_lease(|_, l| {
        found.push((l.secrets.renew_bytes().to_owned(), l.expiration_time));
        true
    })
    .unwrap();
    check_leases(&found, &ileases, schema);
});

fn check_leases(found: &[([u8; 32], u32)], want: &[(u8, u32)], schema: LeaseSchema) {
    for (seed, expiry) in want {
        let renew = RenewSecret::new([*seed; 32]);
        let stored = tahoe_shares::format::lease::StoredSecrets::for_version(
            schema,
            &renew,
            &CancelSecret::new([!*seed; 32]),
        );
        let hit = found
            .iter()
            .find(|(r, _)| r == stored.renew_bytes())
            .unwrap_or_else(|| panic!("lease {seed} lost"));
        assert_eq!(hit.1, *expiry, "lease {seed} expiry");
    }
}

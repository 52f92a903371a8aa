//! Server operation sequences over the in-memory store, against a model, with an
//! injected fault or a process crash placed by the input (FaultyStore). Until the first
//! fault every answer must equal the model's; then the process stops, a new Server
//! starts over what the crash left (`crash_image`), and every acknowledged share reads
//! back byte for byte, every acknowledged lease is present with its expiry no earlier,
//! and the share touched by the interrupted operation is wholly old or wholly new.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tahoe_shares::container::{TestOperator, TestVector};
use tahoe_shares::format::lease::DEFAULT_LEASE_DURATION;
use tahoe_shares::server::{AllocateRequest, Config, LeaseUpdate, Server, SlotSecrets, SlotWrite};
use tahoe_shares::store::{FaultyStore, MemStore, StoreOp};
use tahoe_shares::{
    CancelSecret, Error, NodeId, RenewSecret, ShareNumber, ShareSet, StorageIndex, UploadSecret,
    WriteEnabler,
};

const NOW: u64 = 1_700_000_000;
const NODE: NodeId = NodeId([7; 20]);
const WE: WriteEnabler = WriteEnabler::new([0x3c; 32]);
const ALL: u64 = 1 << 20;

#[derive(Arbitrary, Debug)]
enum Op {
    Allocate {
        si: u8,
        sh: u8,
        size: u16,
        seed: u8,
    },
    Write {
        si: u8,
        sh: u8,
        start: u16,
        len: u16,
    },
    Close {
        si: u8,
        sh: u8,
    },
    Abort {
        si: u8,
        sh: u8,
    },
    AddLease {
        mutable: bool,
        si: u8,
        seed: u8,
    },
    RenewLease {
        mutable: bool,
        si: u8,
        seed: u8,
    },
    SlotWrite {
        si: u8,
        shares: Vec<SlotOp>,
    },
    ReadImm {
        si: u8,
        sh: u8,
    },
    SlotRead {
        si: u8,
    },
}

#[derive(Arbitrary, Debug)]
struct SlotOp {
    sh: u8,
    test_current: bool,
    specimen: Vec<u8>,
    offset: u8,
    data: Vec<u8>,
    new_length: Option<u8>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    crash_at: Option<u16>,
    fail: Option<(u8, u8, bool)>,
    ops: Vec<Op>,
}

type Key = (StorageIndex, ShareNumber);

fn imm_si(i: u8) -> StorageIndex {
    StorageIndex::new([0xa0 + i % 3; 16])
}
fn mut_si(i: u8) -> StorageIndex {
    StorageIndex::new([0xd0 + i % 2; 16])
}
fn si_of(mutable: bool, i: u8) -> StorageIndex {
    if mutable {
        mut_si(i)
    } else {
        imm_si(i)
    }
}
fn content(si: &StorageIndex, n: ShareNumber, range: core::ops::Range<u64>) -> Vec<u8> {
    range
        .map(|i| (i.wrapping_mul(131) ^ u64::from(si.as_bytes()[0]) ^ (u64::from(n.0) << 3)) as u8)
        .collect()
}
fn upload_secret() -> UploadSecret {
    UploadSecret::new(b"fuzz upload").unwrap()
}
fn expiry(now: u64) -> u32 {
    u32::try_from(now + u64::from(DEFAULT_LEASE_DURATION)).unwrap()
}

#[derive(Default)]
struct Model {
    uploads: BTreeMap<Key, (u64, u8, Vec<bool>)>,
    imm: BTreeMap<Key, Vec<u8>>,
    muts: BTreeMap<Key, Vec<u8>>,
    /// (share, renew seed) -> lowest acceptable expiry.
    leases: BTreeMap<(Key, u8), u32>,
    /// Alternatives allowed after the interrupted operation: key -> possible contents.
    alt_imm: BTreeMap<Key, Option<Vec<u8>>>,
    alt_mut: BTreeMap<Key, Option<Vec<u8>>>,
}

type Srv = Server<FaultyStore>;

fn is_fault<E>(e: &Error<E>) -> bool {
    matches!(e, Error::Io(_) | Error::Poisoned)
}

fuzz_target!(|input: Input| {
    let mut store = FaultyStore::new(MemStore::new());
    let plan = store.plan();
    if let Some(c) = input.crash_at {
        plan.crash_at(usize::from(c));
    }
    if let Some((k, n, sticky)) = input.fail {
        plan.fail_nth(
            StoreOp::ALL[usize::from(k) % StoreOp::ALL.len()],
            usize::from(n),
            sticky,
        );
    }
    let Ok(mut srv) = Server::new(store.clone(), NODE, Config::default(), NOW) else {
        return;
    };
    let mut m = Model::default();
    for (step, op) in input.ops.iter().take(48).enumerate() {
        let now = NOW + step as u64;
        if !apply(&mut srv, &mut m, op, now) {
            break;
        }
    }
    drop(srv);
    store = FaultyStore::new(store.crash_image());
    let mut srv = Server::new(store, NODE, Config::default(), NOW + 100).expect("restart");
    check_recovered(&mut srv, &m);
});

/// Applies one operation; false once a fault has happened (the process then stops).
#[allow(clippy::too_many_lines)]
fn apply(srv: &mut Srv, m: &mut Model, op: &Op, now: u64) -> bool {
    match op {
        Op::Allocate { si, sh, size, seed } => {
            let si = imm_si(*si);
            let n = ShareNumber(sh % 4);
            let size = u64::from(*size).max(1);
            let req = AllocateRequest {
                storage_index: si,
                renew_secret: RenewSecret::new([*seed; 32]),
                cancel_secret: CancelSecret::new([!*seed; 32]),
                share_numbers: [n].into_iter().collect(),
                allocated_size: size,
                owner_num: 0,
                renew_leases: true,
                upload_secret: upload_secret(),
            };
            match srv.allocate_buckets(&req, now) {
                Ok(a) => {
                    if a.allocated.contains(n) && !m.uploads.contains_key(&(si, n)) {
                        assert!(
                            !m.imm.contains_key(&(si, n)),
                            "published share re-allocated"
                        );
                        m.uploads
                            .insert((si, n), (size, *seed, vec![false; size as usize]));
                    }
                    if m.imm.contains_key(&(si, n)) {
                        assert!(a.already_have.contains(n), "already_have misses a share");
                        m.leases
                            .entry(((si, n), *seed))
                            .and_modify(|e| *e = (*e).max(expiry(now)))
                            .or_insert(expiry(now));
                    }
                }
                Err(e) if is_fault(&e) => return false,
                Err(_) => {}
            }
        }
        Op::Write { si, sh, start, len } => {
            let si = imm_si(*si);
            let n = ShareNumber(sh % 4);
            let size = m
                .uploads
                .get(&(si, n))
                .map_or(u64::from(*start) + 1, |u| u.0);
            let start = u64::from(*start) % size;
            let end = (start + u64::from(*len)).min(size);
            let data = content(&si, n, start..end);
            match srv.write(&si, n, &upload_secret(), start, &data, now) {
                Ok(_) => {
                    let up = m
                        .uploads
                        .get_mut(&(si, n))
                        .expect("write accepted without upload");
                    for b in &mut up.2[start as usize..end as usize] {
                        *b = true;
                    }
                }
                Err(e) if is_fault(&e) => return false,
                Err(e) => assert!(
                    !m.uploads.contains_key(&(si, n)),
                    "valid write refused: {e:?}"
                ),
            }
        }
        Op::Close { si, sh } => {
            let si = imm_si(*si);
            let n = ShareNumber(sh % 4);
            // Tahoe's close publishes whatever was written; holes read as zeros.
            let full = m.uploads.get(&(si, n)).map(|u| {
                let data = content(&si, n, 0..u.0)
                    .into_iter()
                    .zip(&u.2)
                    .map(|(b, w)| if *w { b } else { 0 })
                    .collect::<Vec<u8>>();
                (true, data, u.1)
            });
            match srv.close(&si, n, &upload_secret()) {
                Ok(_) => {
                    let (complete, data, seed) = full.expect("close without upload");
                    assert!(complete);
                    m.uploads.remove(&(si, n));
                    m.imm.insert((si, n), data);
                    // The allocation's lease (granted at allocation time or later).
                    m.leases.entry(((si, n), seed)).or_insert(expiry(NOW));
                }
                Err(e) if is_fault(&e) => {
                    if let Some((true, data, _)) = full {
                        m.alt_imm.insert((si, n), Some(data));
                    }
                    return false;
                }
                Err(e) => {
                    if let Some((complete, _, _)) = full {
                        assert!(!complete, "complete upload refused: {e:?}");
                    }
                }
            }
        }
        Op::Abort { si, sh } => {
            let si = imm_si(*si);
            let n = ShareNumber(sh % 4);
            match srv.abort(&si, n, &upload_secret()) {
                Ok(()) => {
                    assert!(m.uploads.remove(&(si, n)).is_some(), "abort without upload");
                }
                Err(e) if is_fault(&e) => return false,
                Err(_) => assert!(!m.uploads.contains_key(&(si, n))),
            }
        }
        Op::AddLease { mutable, si, seed } => {
            let si = si_of(*mutable, *si);
            let r = srv.add_lease(
                &si,
                &RenewSecret::new([*seed; 32]),
                &CancelSecret::new([!*seed; 32]),
                1,
                now,
            );
            match r {
                Ok(_) => {
                    let keys: Vec<Key> = shares_of(m, &si);
                    for k in keys {
                        m.leases
                            .entry((k, *seed))
                            .and_modify(|e| *e = (*e).max(expiry(now)))
                            .or_insert(expiry(now));
                    }
                }
                Err(e) if is_fault(&e) => return false,
                Err(_) => {}
            }
        }
        Op::RenewLease { mutable, si, seed } => {
            let si = si_of(*mutable, *si);
            match srv.renew_lease(&si, &RenewSecret::new([*seed; 32]), now) {
                Ok(()) => {
                    for ((k, s), e) in &mut m.leases {
                        if k.0 == si && s == seed {
                            *e = (*e).max(expiry(now));
                        }
                    }
                }
                Err(e) if is_fault(&e) => return false,
                Err(_) => {}
            }
        }
        Op::SlotWrite { si, shares } => return slot_write(srv, m, mut_si(*si), shares, now),
        Op::ReadImm { si, sh } => {
            let si = imm_si(*si);
            let n = ShareNumber(sh % 4);
            match srv
                .open_bucket(&si, n)
                .and_then(|b| srv.read_bucket_vec(&b, 0, u64::MAX))
            {
                Ok(data) => assert_eq!(Some(&data), m.imm.get(&(si, n)), "immutable read"),
                Err(e) if is_fault(&e) => return false,
                Err(e) => assert!(!m.imm.contains_key(&(si, n)), "read refused: {e:?}"),
            }
        }
        Op::SlotRead { si } => {
            let si = mut_si(*si);
            match srv.slot_readv(&si, &ShareSet::new(), &[(0, ALL)]) {
                Ok(reads) => assert_eq!(reads, model_reads(m, &si), "slot_readv"),
                Err(e) if is_fault(&e) => return false,
                Err(e) => panic!("slot_readv: {e:?}"),
            }
        }
    }
    true
}

fn shares_of(m: &Model, si: &StorageIndex) -> Vec<Key> {
    m.imm
        .keys()
        .chain(m.muts.keys())
        .filter(|k| k.0 == *si)
        .copied()
        .collect()
}

fn model_reads(m: &Model, si: &StorageIndex) -> Vec<(ShareNumber, Vec<Vec<u8>>)> {
    m.muts
        .iter()
        .filter(|(k, _)| k.0 == *si)
        .map(|(k, v)| (k.1, vec![v.clone()]))
        .collect()
}

fn slot_write(srv: &mut Srv, m: &mut Model, si: StorageIndex, ops: &[SlotOp], now: u64) -> bool {
    let mut seen = ShareSet::new();
    let ops: Vec<&SlotOp> = ops
        .iter()
        .take(4)
        .filter(|o| seen.insert(ShareNumber(o.sh % 4)))
        .collect();
    let empty = Vec::new();
    let currents: Vec<&Vec<u8>> = ops
        .iter()
        .map(|o| m.muts.get(&(si, ShareNumber(o.sh % 4))).unwrap_or(&empty))
        .collect();
    let tests: Vec<[TestVector<'_>; 1]> = ops
        .iter()
        .zip(&currents)
        .map(|(o, cur)| {
            let specimen: &[u8] = if o.test_current { cur } else { &o.specimen };
            [TestVector {
                offset: 0,
                length: if o.test_current {
                    ALL
                } else {
                    specimen.len() as u64
                },
                operator: TestOperator::Eq,
                specimen,
            }]
        })
        .collect();
    let datas: Vec<Vec<u8>> = ops
        .iter()
        .map(|o| {
            if o.data.is_empty() {
                vec![o.offset]
            } else {
                o.data.clone()
            }
        })
        .collect();
    let writes: Vec<[(u64, &[u8]); 1]> = ops
        .iter()
        .zip(&datas)
        .map(|(o, d)| [(u64::from(o.offset), &d[..])])
        .collect();
    let slots: Vec<SlotWrite<'_>> = ops
        .iter()
        .enumerate()
        .map(|(i, o)| SlotWrite {
            share_number: ShareNumber(o.sh % 4),
            tests: &tests[i],
            writes: &writes[i],
            new_length: o.new_length.map(u64::from),
        })
        .collect();
    // The model's answer.
    let passed = ops.iter().zip(&currents).all(|(o, cur)| {
        if o.test_current {
            true
        } else {
            cur.get(..o.specimen.len()) == Some(&o.specimen[..])
        }
    });
    let mut after: Vec<(Key, Option<Vec<u8>>)> = Vec::new();
    for (i, o) in ops.iter().enumerate() {
        let key = (si, ShareNumber(o.sh % 4));
        let mut v = currents[i].clone();
        let off = usize::from(o.offset);
        let end = off + datas[i].len();
        if v.len() < end {
            v.resize(end, 0);
        }
        v[off..end].copy_from_slice(&datas[i]);
        let new = match o.new_length {
            Some(0) => None,
            Some(n) => {
                v.truncate(usize::from(n));
                Some(v)
            }
            None => Some(v),
        };
        after.push((key, new));
    }
    let secrets = SlotSecrets {
        write_enabler: WE,
        renew: RenewSecret::new([1; 32]),
        cancel: CancelSecret::new([2; 32]),
    };
    match srv.slot_testv_and_readv_and_writev(
        &si,
        &secrets,
        &slots,
        &[(0, ALL)],
        LeaseUpdate::NoChange,
        now,
    ) {
        Ok(out) => {
            assert_eq!(out.passed, passed, "test vector outcome");
            assert_eq!(out.reads, model_reads(m, &si), "reads before the writes");
            if passed {
                for (k, v) in after {
                    match v {
                        Some(v) => {
                            m.muts.insert(k, v);
                        }
                        None => {
                            m.muts.remove(&k);
                            m.leases.retain(|(lk, _), _| *lk != k);
                        }
                    }
                }
            }
            true
        }
        Err(e) if is_fault(&e) => {
            if passed {
                for (k, v) in after {
                    m.alt_mut.insert(k, v);
                }
            }
            false
        }
        Err(e) => panic!("slot write refused: {e:?}"),
    }
}

fn check_recovered(srv: &mut Srv, m: &Model) {
    for i in 0..3 {
        let si = imm_si(i);
        let held = srv.shares(&si).expect("list");
        for n in 0..4 {
            let k = (si, ShareNumber(n));
            let got = if held.contains(k.1) {
                Some(
                    srv.open_bucket(&si, k.1)
                        .and_then(|b| srv.read_bucket_vec(&b, 0, u64::MAX))
                        .expect("read after restart"),
                )
            } else {
                None
            };
            let want = m.imm.get(&k).cloned();
            let ok = got == want || m.alt_imm.get(&k).is_some_and(|a| *a == got);
            assert!(
                ok,
                "immutable share {k:?} after restart: {got:?} vs {want:?}"
            );
        }
    }
    for i in 0..2 {
        let si = mut_si(i);
        let reads = srv
            .slot_readv(&si, &ShareSet::new(), &[(0, ALL)])
            .expect("slot_readv");
        for n in 0..4 {
            let k = (si, ShareNumber(n));
            let got = reads
                .iter()
                .find(|(s, _)| *s == k.1)
                .map(|(_, r)| r[0].clone());
            let want = m.muts.get(&k).cloned();
            let ok = got == want || m.alt_mut.get(&k).is_some_and(|a| *a == got);
            assert!(ok, "mutable share {k:?} after restart: {got:?} vs {want:?}");
        }
    }
    for ((k, seed), want) in &m.leases {
        let renew = RenewSecret::new([*seed; 32]);
        let mut best = None;
        srv.for_each_lease(&k.0, |n, _, l| {
            if n == k.1 && l.secrets.matches_renew(&renew) {
                best = best.max(Some(l.expiration_time));
            }
            true
        })
        .expect("leases after restart");
        if m.alt_mut.get(k).is_some_and(Option::is_none) {
            continue; // deleted by the interrupted write
        }
        assert!(
            best >= Some(*want),
            "lease {seed} of {k:?} lost: {best:?} < {want}"
        );
    }
}

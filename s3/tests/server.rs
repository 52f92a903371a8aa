//! The core's `Server` over the S3 store on a real `SeaweedFS` cluster, against the same
//! server over `FsStore`: the same calls give the same answers and byte-identical share
//! containers. Then several servers on one bucket racing test-and-writes, and the cost of a
//! lease change against the share's size.

mod common;

use std::sync::{Arc, Barrier};

use tahoe_shares::container::{TestOperator, TestVector};
use tahoe_shares::io::ShareIo;
use tahoe_shares::server::{
    AllocateRequest, Config, LeaseUpdate, Server, SlotSecrets, SlotWrite, TestWriteOutcome,
};
use tahoe_shares::store::{Durability, FsStore, ShareStore};
use tahoe_shares::{
    CancelSecret, NodeId, RenewSecret, ShareSet, StorageIndex, UploadSecret, WriteEnabler,
};
use tahoe_shares_s3::{retry_conflicts, S3ErrorKind, S3Store};

use common::{bytes, config, set, shared, sn};

const NOW: u64 = 1_700_000_000;
const NODE: NodeId = NodeId([7; 20]);
const SI: StorageIndex = StorageIndex::new([1; 16]);
const MSI: StorageIndex = StorageIndex::new([9; 16]);

fn secrets(we: u8) -> SlotSecrets {
    SlotSecrets {
        write_enabler: WriteEnabler::new([we; 32]),
        renew: RenewSecret::new([0x0a; 32]),
        cancel: CancelSecret::new([0x0b; 32]),
    }
}

fn eq(offset: u64, specimen: &[u8]) -> TestVector<'_> {
    TestVector {
        offset,
        length: specimen.len() as u64,
        operator: TestOperator::Eq,
        specimen,
    }
}

/// A scratch directory, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("ts-s3-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn show<T: core::fmt::Debug, E: core::fmt::Display>(
    r: Result<T, tahoe_shares::Error<E>>,
) -> String {
    match r {
        Ok(v) => format!("ok {v:?}"),
        Err(e) => format!("err {e}"),
    }
}

/// A test-and-write on `MSI` (write enabler 6) that leaves the leases alone.
fn plain_write(
    s: &mut Server<S3Store>,
    w: &[SlotWrite<'_>],
) -> Result<TestWriteOutcome, tahoe_shares::Error<tahoe_shares_s3::S3Error>> {
    s.slot_testv_and_readv_and_writev(&MSI, &secrets(6), w, &[], LeaseUpdate::NoChange, NOW)
}

/// One share's entry of a test-and-write.
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

/// One test-and-write on `MSI` with write enabler `we`, renewing leases: its answer as text.
fn slot<S: ShareStore>(
    s: &mut Server<S>,
    we: u8,
    writes: &[SlotWrite<'_>],
    readv: &[(u64, u64)],
    now: u64,
) -> String
where
    S::Error: core::fmt::Display,
{
    show(s.slot_testv_and_readv_and_writev(
        &MSI,
        &secrets(we),
        writes,
        readv,
        LeaseUpdate::AddOrRenew,
        now,
    ))
}

/// The same calls, whatever the store: every answer, as text.
// One sequence, step by step: splitting it would hide the order it follows.
#[allow(clippy::too_many_lines)]
fn script<S: ShareStore>(s: &mut Server<S>) -> Vec<String>
where
    S::Error: core::fmt::Display,
{
    let mut log = Vec::new();
    let data = bytes(11, 70_000);
    let req = AllocateRequest {
        storage_index: SI,
        renew_secret: RenewSecret::new([2; 32]),
        cancel_secret: CancelSecret::new([3; 32]),
        share_numbers: set(&[0, 1, 2]),
        allocated_size: data.len() as u64,
        owner_num: 0,
        renew_leases: true,
        upload_secret: UploadSecret::new(b"upload").unwrap(),
    };
    log.push(show(s.allocate_buckets(&req, NOW)));
    let up = UploadSecret::new(b"upload").unwrap();
    for n in [0, 1, 2] {
        // The second half first: writes in any order.
        log.push(show(s.write(&SI, sn(n), &up, 40_000, &data[40_000..], NOW)));
        log.push(show(s.write(&SI, sn(n), &up, 0, &data[..40_000], NOW)));
        log.push(show(s.close(&SI, sn(n), &up)));
    }
    log.push(show(s.allocate_buckets(&req, NOW)));
    let readers = s.get_buckets(&SI).unwrap();
    log.push(format!("{} readers", readers.len()));
    for r in &readers {
        let mut buf = vec![0u8; 5000];
        let got = s.read_bucket(r, 65_000, &mut buf);
        log.push(show(got.map(|n| (n, buf[..n] == data[65_000..65_000 + n]))));
    }
    log.push(show(s.add_lease(
        &SI,
        &RenewSecret::new([4; 32]),
        &CancelSecret::new([5; 32]),
        0,
        NOW + 10,
    )));
    log.push(show(s.renew_lease(
        &SI,
        &RenewSecret::new([2; 32]),
        NOW + 20,
    )));
    log.push(show(s.renew_lease(
        &SI,
        &RenewSecret::new([9; 32]),
        NOW + 20,
    )));
    let mut leases = Vec::new();
    s.for_each_lease(&SI, |n, k, l| {
        leases.push(format!("{n} {k:?} {}", l.expiration_time));
        true
    })
    .unwrap();
    log.push(leases.join(","));

    // Mutable slots: create two shares, test-and-write, a failing test, reads.
    let v1 = bytes(12, 3000);
    let w1 = [(0u64, &v1[..])];
    let create: Vec<SlotWrite<'_>> = [0u8, 1].iter().map(|&n| entry(n, &[], &w1, None)).collect();
    log.push(slot(s, 6, &create, &[(0, 10)], NOW));
    let t_ok = [eq(100, &v1[100..110])];
    let w2 = [(1000u64, &b"changed"[..]), (5000u64, &b"grown"[..])];
    let ok = [entry(0, &t_ok, &w2, None)];
    log.push(slot(s, 6, &ok, &[(995, 15)], NOW + 30));
    let t_bad = [eq(100, b"nope")];
    let bad = [entry(1, &t_bad, &w2, None)];
    log.push(slot(s, 6, &bad, &[(0, 4)], NOW + 40));
    log.push(slot(s, 7, &ok, &[], NOW + 40));
    log.push(show(s.slot_readv(
        &MSI,
        &ShareSet::new(),
        &[(990, 30), (4990, 20)],
    )));
    let shrink = [entry(1, &[], &[], Some(0))];
    log.push(slot(s, 6, &shrink, &[], NOW + 50));
    log.push(format!("{:?}", s.store_mut().list(&MSI).map_err(|_| ())));
    log
}

/// Every share's container bytes.
fn containers<S: ShareStore>(store: &mut S) -> Vec<(u8, u8, Vec<u8>)>
where
    S::Error: core::fmt::Debug,
{
    let mut out = Vec::new();
    for (tag, si) in [(0u8, SI), (1, MSI)] {
        for n in store.list(&si).unwrap().iter() {
            let mut io = store.open(&si, n).unwrap().unwrap();
            let mut buf = vec![0; io.len().unwrap() as usize];
            io.read_at(0, &mut buf).unwrap();
            out.push((tag, n.0, buf));
        }
    }
    out
}

#[test]
fn the_server_over_s3_answers_as_over_the_filesystem_with_the_same_bytes() {
    let dir = TempDir::new("server-fs");
    let mut fs = Server::new(
        FsStore::open(&dir.0, Durability::NoSync).unwrap(),
        NODE,
        Config::default(),
        NOW,
    )
    .unwrap();
    // 4 KiB chunks, so that shares span many chunks and leases sit in a later one.
    let mut cfg = config(shared(), "tahoe");
    cfg.chunk_size = 4096;
    let mut s3 = Server::new(S3Store::open(&cfg).unwrap(), NODE, Config::default(), NOW).unwrap();
    let a = script(&mut fs);
    let b = script(&mut s3);
    assert_eq!(a, b);
    assert!(a.iter().any(|l| l.starts_with("err")), "{a:?}");
    let ca = containers(fs.store_mut());
    let cb = containers(s3.store_mut());
    assert_eq!(ca.len(), 4);
    assert!(ca == cb, "share containers differ");
}

#[test]
// One scenario, step by step: splitting it would hide the order it tests.
#[allow(clippy::too_many_lines)]
fn servers_racing_test_and_writes_on_one_bucket_apply_exactly_one_per_round() {
    const ROUNDS: usize = 10;
    const RACERS: usize = 3;
    let cfg = config(shared(), "tahoe");
    let mut first =
        Server::new(S3Store::open(&cfg).unwrap(), NODE, Config::default(), NOW).unwrap();
    let initial = [(0u64, &[0u8; 64][..])];
    let create = [entry(0, &[], &initial, None)];
    assert!(plain_write(&mut first, &create).unwrap().passed);
    drop(first);
    let (mut applied_total, mut unknown_total) = (0, 0);
    for round in 0..ROUNDS {
        let expected = [round as u8; 8];
        let barrier = Arc::new(Barrier::new(RACERS));
        let handles: Vec<_> = (0..RACERS)
            .map(|r| {
                let cfg = cfg.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let store = S3Store::open(&cfg).unwrap();
                    let mut s = Server::new(store, NODE, Config::default(), NOW).unwrap();
                    let mine = [round as u8 + 1, r as u8 + 1, 0, 0, 0, 0, 0, 0];
                    let tests = [eq(0, &expected)];
                    let writes = [(0u64, &mine[..])];
                    let w = [entry(0, &tests, &writes, None)];
                    barrier.wait();
                    let out = retry_conflicts(5, || plain_write(&mut s, &w));
                    (mine, out.map(|o| o.passed).map_err(|e| e.to_string()))
                })
            })
            .collect();
        let outcomes: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        // The share now holds exactly one racer's value.
        let mut s =
            Server::new(S3Store::open(&cfg).unwrap(), NODE, Config::default(), NOW).unwrap();
        let reads = s.slot_readv(&MSI, &set(&[0]), &[(0, 8)]).unwrap();
        let now: [u8; 8] = reads[0].1[0].clone().try_into().unwrap();
        let winners: Vec<_> = outcomes.iter().filter(|(m, _)| *m == now).collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?} now {now:?}");
        // Every racer that says it applied is the one whose value is there; the others
        // say their test failed, or that the outcome is unknown (Conflict), never success.
        for (m, out) in &outcomes {
            match out {
                Ok(true) => assert_eq!(*m, now, "round {round}: {outcomes:?}"),
                Ok(false) => {}
                Err(e) => {
                    assert!(e.contains("compare-and-swap"), "{e}");
                    unknown_total += 1;
                }
            }
        }
        applied_total += outcomes.iter().filter(|(_, o)| *o == Ok(true)).count();
        // Round r's winner wrote [r + 1, ...]: the next round's tests look for that.
        let next = [round as u8 + 1; 8];
        let fix = [(0u64, &next[..])];
        let w = [entry(0, &[], &fix, None)];
        assert!(plain_write(&mut s, &w).unwrap().passed);
    }
    eprintln!(
        "{ROUNDS} rounds of {RACERS} racers: {applied_total} acknowledged winners, \
         {unknown_total} Conflict answers"
    );
    assert!(applied_total >= ROUNDS / 2, "{applied_total}");
}

/// The requests and bytes of one `add_lease` and one renew over a share of `size` bytes.
fn lease_cost(size: usize) -> (u64, u64, u64, u64) {
    let mut cfg = config(shared(), "tahoe");
    cfg.chunk_size = 64 * 1024;
    let mut s = Server::new(S3Store::open(&cfg).unwrap(), NODE, Config::default(), NOW).unwrap();
    let data = bytes(size as u64, size);
    let up = UploadSecret::new(b"u").unwrap();
    let req = AllocateRequest {
        storage_index: SI,
        renew_secret: RenewSecret::new([2; 32]),
        cancel_secret: CancelSecret::new([3; 32]),
        share_numbers: set(&[0]),
        allocated_size: size as u64,
        owner_num: 0,
        renew_leases: true,
        upload_secret: up.clone(),
    };
    s.allocate_buckets(&req, NOW).unwrap();
    for off in (0..size).step_by(1 << 20) {
        let end = (off + (1 << 20)).min(size);
        s.write(&SI, sn(0), &up, off as u64, &data[off..end], NOW)
            .unwrap();
    }
    s.close(&SI, sn(0), &up).unwrap();
    let before = s.store().stats();
    s.add_lease(
        &SI,
        &RenewSecret::new([4; 32]),
        &CancelSecret::new([5; 32]),
        0,
        NOW + 1,
    )
    .unwrap();
    let mid = s.store().stats();
    s.renew_lease(&SI, &RenewSecret::new([4; 32]), NOW + 2)
        .unwrap();
    let after = s.store().stats();
    (
        mid.requests - before.requests,
        after.requests - mid.requests,
        mid.bytes_sent - before.bytes_sent,
        after.bytes_sent - mid.bytes_sent,
    )
}

#[test]
fn a_lease_change_costs_the_same_requests_for_1_mib_as_for_32_mib() {
    let tiny = lease_cost(1024);
    let small = lease_cost(1 << 20);
    let large = lease_cost(32 << 20);
    // The same number of requests for add_lease and for renew, whatever the size; a share
    // within one chunk has its header and leases in that chunk, one GET fewer.
    assert_eq!(
        (small.0, small.1),
        (large.0, large.1),
        "{small:?} {large:?}"
    );
    assert!(tiny.0 <= small.0 && tiny.1 <= small.1, "{tiny:?} {small:?}");
    // Bytes sent: at most two 64 KiB chunks and the manifest (8 bytes per chunk: 4 KiB
    // for 512 chunks), never the share.
    let bound = 2 * 64 * 1024 + 8 * 512 + 200;
    assert!(large.2 <= bound && large.3 <= bound, "{large:?}");
    eprintln!(
        "lease cost (requests add, renew; bytes add, renew): 1 KiB {tiny:?}, 1 MiB {small:?}, \
         32 MiB {large:?}"
    );
}

#[test]
fn conflicts_are_retried_then_reported_typed() {
    let cfg = config(shared(), "tahoe");
    let mut calls = 0;
    let r: Result<(), _> = retry_conflicts(3, || {
        calls += 1;
        let mut store = S3Store::open(&cfg).unwrap();
        let mut io = store.create_incoming(&SI, sn(calls)).unwrap();
        let mut other = S3Store::open(&cfg).unwrap();
        let mut b = other.open_incoming(&SI, sn(calls)).unwrap().unwrap();
        io.write_at(0, b"a").unwrap();
        io.sync().unwrap();
        b.write_at(0, b"b").unwrap();
        b.sync().map_err(tahoe_shares::Error::Io)
    });
    assert_eq!(calls, 3);
    match r {
        Err(tahoe_shares::Error::Io(e)) => assert_eq!(e.kind(), S3ErrorKind::Conflict),
        other => panic!("{other:?}"),
    }
}

/// The requests and bytes sent by a 10-byte test-and-write into a mutable share of `size`.
fn small_write_cost(size: usize) -> (u64, u64) {
    let mut cfg = config(shared(), "tahoe");
    cfg.chunk_size = 64 * 1024;
    let mut s = Server::new(S3Store::open(&cfg).unwrap(), NODE, Config::default(), NOW).unwrap();
    let data = bytes(size as u64, size);
    let w = [(0u64, &data[..])];
    assert!(
        plain_write(&mut s, &[entry(0, &[], &w, None)])
            .unwrap()
            .passed
    );
    let before = s.store().stats();
    let small = [(size as u64 / 2, &b"ten bytes!"[..])];
    assert!(
        plain_write(&mut s, &[entry(0, &[], &small, None)])
            .unwrap()
            .passed
    );
    let after = s.store().stats();
    (
        after.requests - before.requests,
        after.bytes_sent - before.bytes_sent,
    )
}

#[test]
fn a_small_mutable_write_costs_what_it_touches_not_the_share_size() {
    let small = small_write_cost(256 * 1024);
    let large = small_write_cost(8 << 20);
    // The chunks the write, the header and the journal fall in, and the manifests: the
    // same number of requests; bytes bounded by a few chunks, not by the share's 8 MiB.
    assert_eq!(small.0, large.0, "{small:?} {large:?}");
    assert!(large.1 < 8 * 64 * 1024, "{large:?}");
    eprintln!("10-byte mutable write (requests, bytes sent): 256 KiB {small:?}, 8 MiB {large:?}");
}

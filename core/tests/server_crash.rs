//! Crash-point enumeration over every server operation (reliability.md section 3.2,
//! process-crash model).
//!
//! For each scenario the operation first runs unfaulted on a [`FaultyStore`] to count its
//! mutating store and device operations and to record the store before and after it.
//! Then, for every index `k` in `0..=count`, a fresh copy of the setup runs the operation
//! with a crash at its `k`th mutating operation (`k == count`: right after it completes),
//! and a new [`Server`] starts over a deep copy of what survived. Recovery is the
//! server's startup plus the first open of every published share (where an interrupted
//! mutable update is replayed or rolled back). Checked after each recovery:
//!
//! - I1/I4: every published share is, after container-level normalisation, exactly its
//!   state before or after the operation (or, where the operation commits in documented
//!   separate steps, after one of those steps); shares of other storage indexes are
//!   byte-identical;
//! - I2: no other published share exists;
//! - I3: every lease held before (and kept by the operation) is present with an expiry
//!   no earlier than before;
//! - I6: without `resume_uploads` no incoming share is left, `allocated_size()` is 0 and
//!   the available space is the capacity less the published shares; with it, every
//!   resumed upload's recorded ranges hold exactly the bytes written to them;
//! - I5: a second restart performs no mutating operation and changes nothing, and a crash
//!   at every mutating operation of the recovery itself, followed by another recovery,
//!   gives the same state;
//! - I7: the next operations succeed (resumed uploads complete to the right share, a new
//!   upload and a mutable read work).
//!
//! "Container-level normalisation" is what the containers do themselves: an immutable
//! lease record whose count was never written is ignored by reads and removed by the
//! next lease update (the recovered image may still hold it; it is counted and
//! reported). The committed steps accepted besides old and new: on an existing mutable
//! share, "writes applied, lease not yet renewed or added" (Tahoe's order); for lease
//! cancellation, any subset of the cancellations with every kept lease present (records
//! are compacted or blanked one by one), including a share whose every lease was
//! cancelled but which is not yet deleted.
//!
//! Then Fail-Nth (reliability.md section 3.1): every step of the operation, reads
//! included, fails once (and each mutating step also for good); the server goes on
//! through its error paths, then stops, and the same recovery checks run (without the
//! crashes inside recovery).
//!
//! The figures (crash points per operation and in all) are printed with `--nocapture`.

use std::collections::{BTreeMap, BTreeSet};

use tahoe_shares::container::{ImmutableContainer, MutableContainer, TestOperator, TestVector};
use tahoe_shares::format::lease::Lease;
use tahoe_shares::format::{sniff, ShareKind, SNIFF_SIZE};
use tahoe_shares::io::VecIo;
use tahoe_shares::server::{AllocateRequest, Config, Server, SlotSecrets, SlotWrite};
use tahoe_shares::store::{FaultyStore, MemStore, ShareStore, StoreFault, StoreOp};
use tahoe_shares::{
    CancelSecret, Error, NodeId, RenewSecret, ShareNumber, ShareSet, StorageIndex, UploadSecret,
    WriteEnabler,
};

type Srv = Server<FaultyStore>;
type Res<T> = tahoe_shares::Result<T, StoreFault>;
type Key = (StorageIndex, ShareNumber);

const NOW: u64 = 1_700_000_000;
const RESTART: u64 = NOW + 5000;
const NODE: NodeId = NodeId([7; 20]);
const CAPACITY: u64 = 1 << 22;
const WE: WriteEnabler = WriteEnabler([0x3c; 32]);

const SI_BG: StorageIndex = StorageIndex::new([0x10; 16]);
const SI_MBG: StorageIndex = StorageIndex::new([0x11; 16]);
const SI_A: StorageIndex = StorageIndex::new([0xa0; 16]);
const SI_B: StorageIndex = StorageIndex::new([0xb0; 16]);
const SI_C: StorageIndex = StorageIndex::new([0xc0; 16]);
const SI_M: StorageIndex = StorageIndex::new([0xd0; 16]);
const SI_Z: StorageIndex = StorageIndex::new([0xe0; 16]);

fn sh(n: u8) -> ShareNumber {
    ShareNumber(n)
}

fn upload_secret() -> UploadSecret {
    UploadSecret::new(b"upload secret").unwrap()
}

fn renew(seed: u8) -> RenewSecret {
    RenewSecret([seed; 32])
}

fn cancel(seed: u8) -> CancelSecret {
    CancelSecret([seed ^ 0xff; 32])
}

fn config(resume: bool) -> Config {
    Config {
        resume_uploads: resume,
        ..Config::default()
    }
}

/// The bytes an upload of share `n` of `si` writes (deterministic, position-dependent).
fn content(si: &StorageIndex, n: ShareNumber, len: u64) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(131) ^ u64::from(si.as_bytes()[0]) ^ (u64::from(n.0) << 3)) as u8)
        .collect()
}

fn mutable_bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(seed | 1).wrapping_add(seed))
        .collect()
}

// ----- server operations used by setups and operations -------------------------------

fn allocate(srv: &mut Srv, si: StorageIndex, shares: &[u8], size: u64, seed: u8, now: u64) {
    let got = try_allocate(srv, si, shares, size, seed, now).unwrap();
    for &n in shares {
        assert!(
            got.contains(sh(n)) || srv.shares(&si).unwrap().contains(sh(n)),
            "share {n} not allocated"
        );
    }
}

fn try_allocate(
    srv: &mut Srv,
    si: StorageIndex,
    shares: &[u8],
    size: u64,
    seed: u8,
    now: u64,
) -> Res<ShareSet> {
    let req = AllocateRequest {
        storage_index: si,
        renew_secret: renew(seed),
        cancel_secret: cancel(seed),
        share_numbers: shares.iter().map(|&n| sh(n)).collect(),
        allocated_size: size,
        owner_num: 0,
        renew_leases: true,
        upload_secret: upload_secret(),
    };
    srv.allocate_buckets(&req, now).map(|a| a.allocated)
}

fn write(
    srv: &mut Srv,
    si: StorageIndex,
    n: u8,
    size: u64,
    range: (u64, u64),
    now: u64,
) -> Res<bool> {
    let data = content(&si, sh(n), size);
    let piece = &data[range.0 as usize..range.1 as usize];
    srv.write(&si, sh(n), &upload_secret(), range.0, piece, now)
}

fn upload(srv: &mut Srv, si: StorageIndex, n: u8, size: u64, seed: u8, now: u64) {
    allocate(srv, si, &[n], size, seed, now);
    assert!(write(srv, si, n, size, (0, size), now).unwrap());
    srv.close(&si, sh(n), &upload_secret()).unwrap();
}

fn slot_secrets(seed: u8) -> SlotSecrets {
    SlotSecrets {
        write_enabler: WE,
        renew: renew(seed),
        cancel: cancel(seed),
    }
}

/// One share's part of a test-and-write: `(share, writes, new_length)`, tested to be
/// new (empty) when `expect` is `None`, or to start with `expect`.
struct Slot<'a> {
    n: u8,
    expect: Option<&'a [u8]>,
    writes: Vec<(u64, Vec<u8>)>,
    new_length: Option<u64>,
}

fn slot_write(
    srv: &mut Srv,
    si: StorageIndex,
    slots: &[Slot<'_>],
    seed: u8,
    renew_leases: bool,
    now: u64,
) -> Res<()> {
    let tests: Vec<Vec<TestVector<'_>>> = slots
        .iter()
        .map(|s| {
            let specimen = s.expect.unwrap_or(&[]);
            vec![TestVector {
                offset: 0,
                length: if s.expect.is_some() {
                    specimen.len() as u64
                } else {
                    1
                },
                operator: TestOperator::Eq,
                specimen,
            }]
        })
        .collect();
    let writes: Vec<Vec<(u64, &[u8])>> = slots
        .iter()
        .map(|s| s.writes.iter().map(|(o, d)| (*o, d.as_slice())).collect())
        .collect();
    let sw: Vec<SlotWrite<'_>> = slots
        .iter()
        .zip(&tests)
        .zip(&writes)
        .map(|((s, t), w)| SlotWrite {
            share_number: sh(s.n),
            tests: t,
            writes: w,
            new_length: s.new_length,
        })
        .collect();
    let out = srv.slot_testv_and_readv_and_writev(
        &si,
        &slot_secrets(seed),
        &sw,
        &[(0, 8)],
        renew_leases,
        now,
    )?;
    assert!(out.passed, "test vectors failed");
    Ok(())
}

/// Creates mutable share `n` of `si` with `data` and a lease of `seed`.
fn create_mutable(srv: &mut Srv, si: StorageIndex, n: u8, data: &[u8], seed: u8) {
    let slot = Slot {
        n,
        expect: None,
        writes: vec![(0, data.to_vec())],
        new_length: None,
    };
    slot_write(srv, si, &[slot], seed, true, NOW).unwrap();
}

/// The shares every scenario starts with, on other storage indexes.
fn background(srv: &mut Srv) {
    upload(srv, SI_BG, 0, 1500, 1, NOW);
    create_mutable(srv, SI_MBG, 0, &mutable_bytes(9, 700), 1);
    srv.add_lease(&SI_MBG, &renew(2), &cancel(2), 1, NOW)
        .unwrap();
}

fn fresh_store() -> FaultyStore {
    let mut m = MemStore::new();
    m.capacity = Some(CAPACITY);
    FaultyStore::new(m)
}

fn start(store: &FaultyStore, resume: bool, now: u64) -> Srv {
    Server::new(store.clone(), NODE, config(resume), now).unwrap()
}

// ----- store images ----------------------------------------------------------------

/// Everything a store holds.
#[derive(Clone, PartialEq, Eq)]
struct Image {
    published: BTreeMap<Key, Vec<u8>>,
    incoming: BTreeMap<Key, (Vec<u8>, Option<Vec<u8>>)>,
    advisories: BTreeMap<String, Vec<u8>>,
}

impl Image {
    fn of(store: &FaultyStore) -> Self {
        Self::of_mem(&store.crash_image())
    }

    fn of_mem(m: &MemStore) -> Self {
        let mut m = m.deep_clone();
        let published = m
            .snapshot()
            .into_iter()
            .map(|(si, n, b)| ((si, n), b))
            .collect();
        let mut keys = Vec::new();
        m.for_each_incoming(&mut |si, n| {
            keys.push((si, n));
            true
        })
        .unwrap();
        let mut incoming = BTreeMap::new();
        let mut buf = vec![0u8; 1 << 17];
        for (si, n) in keys {
            let bytes = m.open_incoming(&si, n).unwrap().unwrap().bytes();
            let rec = m
                .get_upload_record(&si, n, &mut buf)
                .unwrap()
                .map(|len| buf[..len].to_vec());
            incoming.insert((si, n), (bytes, rec));
        }
        Self {
            published,
            incoming,
            advisories: m.advisories.clone(),
        }
    }

    fn canonical(&self, key: &Key) -> Option<Vec<u8>> {
        self.published.get(key).map(|b| canonical(b))
    }
}

fn kind(bytes: &[u8]) -> Option<ShareKind> {
    sniff(&bytes[..bytes.len().min(SNIFF_SIZE)])
}

/// A container as its own recovery leaves it (an interrupted lease update or mutable
/// update completed or rolled back).
fn canonical(bytes: &[u8]) -> Vec<u8> {
    let io = VecIo::from_vec(bytes.to_vec());
    if kind(bytes) == Some(ShareKind::Mutable) {
        MutableContainer::open(io).unwrap().into_inner().data
    } else {
        let mut c = ImmutableContainer::open(io).unwrap();
        c.recover().unwrap();
        c.into_inner().data
    }
}

/// A lease's identity (owner and stored renew secret) and its expiry.
type LeaseId = (u32, [u8; 32]);

/// The data and the leases of a (canonical) container.
fn logical(bytes: &[u8]) -> (Vec<u8>, Vec<(LeaseId, u32)>) {
    let mut leases = Vec::new();
    let mut visit = |_: u32, l: &Lease| {
        leases.push(((l.owner_num, *l.secrets.renew_bytes()), l.expiration_time));
        true
    };
    let io = VecIo::from_vec(bytes.to_vec());
    let mut data;
    if kind(bytes) == Some(ShareKind::Mutable) {
        let mut c = MutableContainer::open(io).unwrap();
        c.for_each_lease(&mut visit).unwrap();
        data = vec![0u8; c.data_length() as usize];
        c.read_share_data(0, &mut data).unwrap();
    } else {
        let mut c = ImmutableContainer::open(io).unwrap();
        c.for_each_lease(&mut visit).unwrap();
        data = vec![0u8; c.data_length() as usize];
        c.read_share_data(0, &mut data).unwrap();
    }
    (data, leases)
}

// ----- scenarios -------------------------------------------------------------------

type Setup = Box<dyn Fn(&FaultyStore) -> Srv>;
type Op = Box<dyn Fn(&mut Srv) -> Res<()>>;
/// Accepts a share's state after recovery (canonical bytes) given its states before and
/// after the operation.
type ShareCheck = fn(Option<&[u8]>, Option<&[u8]>, Option<&[u8]>) -> bool;

struct Scenario {
    name: String,
    resume: bool,
    setup: Setup,
    op: Op,
    /// Further acceptable states of each share, reached from the setup by these
    /// operations (the steps an operation commits separately).
    mids: Vec<Op>,
    /// Replaces "old, a committed step, or new" for each share.
    custom: Option<ShareCheck>,
}

impl Scenario {
    fn new(name: &str, resume: bool, setup: Setup, op: Op) -> Self {
        Self {
            name: format!("{name}{}", if resume { " [resume]" } else { "" }),
            resume,
            setup,
            op,
            mids: Vec::new(),
            custom: None,
        }
    }

    fn fresh(&self) -> (Srv, FaultyStore) {
        let store = fresh_store();
        let srv = (self.setup)(&store);
        (srv, store)
    }
}

/// The store before and after an unfaulted run, and after each committed step.
struct Refs {
    before: Image,
    after: Image,
    mids: Vec<Image>,
}

/// Recovery: a server starts over `store` and opens every published share.
fn recover(store: &FaultyStore, resume: bool) -> Res<Srv> {
    let mut srv = Server::new(store.clone(), NODE, config(resume), RESTART)?;
    let mut sis = Vec::new();
    srv.store_mut().for_each_storage_index(&mut |si| {
        sis.push(si);
        true
    })?;
    for si in sis {
        for n in srv.shares(&si)?.iter() {
            srv.stat_share(&si, n)?;
        }
    }
    Ok(srv)
}

fn uploads_of(srv: &Srv) -> Vec<(Key, u64, u64)> {
    srv.uploads()
        .map(|u| {
            (
                (u.storage_index, u.share_number),
                u.allocated_size,
                u.written,
            )
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    /// Crash points in the operation (the last one right after it completes).
    points: usize,
    /// Crash points inside recovery.
    recovery_points: usize,
    /// Injected failures (fail-nth, once and sticky).
    failures: usize,
    /// Recoveries after which an immutable share kept an interrupted lease record.
    immutable_excess: usize,
    /// Resumed uploads whose recorded ranges were verified.
    resumed: usize,
}

impl Tally {
    fn add(&mut self, other: &Self) {
        self.points += other.points;
        self.recovery_points += other.recovery_points;
        self.failures += other.failures;
        self.immutable_excess += other.immutable_excess;
        self.resumed += other.resumed;
    }
}

fn run(scenario: &Scenario, tally: &mut Tally) {
    let name = &scenario.name;
    let (mut srv, store) = scenario.fresh();
    let before = Image::of(&store);
    let base = store.plan().ops();
    let kinds_before: Vec<usize> = StoreOp::ALL
        .iter()
        .map(|&k| store.plan().count(k))
        .collect();
    (scenario.op)(&mut srv).unwrap_or_else(|e| panic!("{name}: unfaulted operation failed: {e:?}"));
    let count = store.plan().ops() - base;
    let kinds: Vec<(StoreOp, usize, usize)> = StoreOp::ALL
        .iter()
        .zip(kinds_before)
        .map(|(&k, from)| (k, from, store.plan().count(k) - from))
        .collect();
    let after = Image::of(&store);
    drop(srv);
    assert!(
        count > 0,
        "{name}: the operation made no mutating operation"
    );
    assert!(before != after, "{name}: the operation changed nothing");
    for image in [&before, &after] {
        for bytes in image.published.values() {
            assert!(
                &canonical(bytes) == bytes,
                "{name}: an unfaulted state is not clean"
            );
        }
    }
    let mids = scenario
        .mids
        .iter()
        .map(|mid| {
            let (mut srv, store) = scenario.fresh();
            mid(&mut srv).unwrap();
            Image::of(&store)
        })
        .collect();
    let refs = Refs {
        before,
        after,
        mids,
    };

    for k in 0..=count {
        let (mut srv, store) = scenario.fresh();
        store.plan().crash_at(base + k);
        let r = (scenario.op)(&mut srv);
        drop(srv);
        let ctx = format!("{name}, crash at step {k}/{count}");
        if k < count {
            assert!(store.plan().crashed(), "{ctx}: no crash");
            assert!(
                matches!(r, Err(Error::Io(StoreFault::Crashed))),
                "{ctx}: the operation did not report the crash: {r:?}"
            );
        } else {
            assert!(r.is_ok() && !store.plan().crashed(), "{ctx}: {r:?}");
        }
        check_recovery(scenario, &ctx, &store.crash_image(), &refs, true, tally);
        tally.points += 1;
    }

    // Fail-Nth: each step of the operation fails once, or for good; the server goes on
    // (its error paths run), then the process stops and a new server recovers.
    for (kind, from, n) in kinds {
        for i in 0..n {
            for sticky in [false, true] {
                if sticky && !kind.is_mutating() {
                    continue;
                }
                let (mut srv, store) = scenario.fresh();
                store.plan().fail_nth(kind, from + i, sticky);
                let r = (scenario.op)(&mut srv);
                drop(srv);
                let ctx = format!("{name}, {kind:?} {i}/{n} fails (sticky: {sticky})");
                assert!(
                    matches!(
                        r,
                        Ok(()) | Err(Error::Io(StoreFault::Injected(_)) | Error::Poisoned)
                    ),
                    "{ctx}: unexpected outcome {r:?}"
                );
                store.plan().clear();
                check_recovery(scenario, &ctx, &store.crash_image(), &refs, false, tally);
                tally.failures += 1;
            }
        }
    }
}

fn check_recovery(
    scenario: &Scenario,
    ctx: &str,
    image: &MemStore,
    refs: &Refs,
    crash_in_recovery: bool,
    tally: &mut Tally,
) {
    let resume = scenario.resume;
    let store = FaultyStore::new(image.deep_clone());
    let mut srv =
        recover(&store, resume).unwrap_or_else(|e| panic!("{ctx}: recovery failed: {e:?}"));
    let rec_ops = store.plan().ops();
    let got = Image::of(&store);
    let uploads = uploads_of(&srv);
    verify_shares(scenario, ctx, &got, refs, tally);
    verify_space_and_uploads(scenario, ctx, &mut srv, &got, refs, tally);

    // I5: a second restart changes nothing and writes nothing.
    let again = FaultyStore::new(store.crash_image());
    let srv2 = recover(&again, resume).unwrap();
    assert_eq!(again.plan().ops(), 0, "{ctx}: a second recovery wrote");
    assert!(
        Image::of(&again) == got,
        "{ctx}: a second recovery changed the store"
    );
    assert_eq!(
        uploads_of(&srv2),
        uploads,
        "{ctx}: second recovery's uploads"
    );
    drop(srv2);

    // I5: a crash at every mutating step of the recovery, then recovery again.
    for j in 0..if crash_in_recovery { rec_ops } else { 0 } {
        let crashing = FaultyStore::new(image.deep_clone());
        crashing.plan().crash_at(j);
        let r = recover(&crashing, resume);
        assert!(
            matches!(r, Err(Error::Io(StoreFault::Crashed))),
            "{ctx}: recovery did not report the crash at its step {j}"
        );
        drop(r);
        let third = FaultyStore::new(crashing.crash_image());
        let srv3 = recover(&third, resume).unwrap_or_else(|e| {
            panic!("{ctx}: recovery after a crash at recovery step {j} failed: {e:?}")
        });
        assert!(
            Image::of(&third) == got,
            "{ctx}: recovery after a crash at recovery step {j} differs"
        );
        assert_eq!(
            uploads_of(&srv3),
            uploads,
            "{ctx}: recovery step {j}: uploads"
        );
        tally.recovery_points += 1;
    }

    next_operations(ctx, &mut srv, &store);
}

/// I1, I2, I4: each published share is old, a committed step, or new; I3: it keeps its
/// leases.
fn verify_shares(scenario: &Scenario, ctx: &str, got: &Image, refs: &Refs, tally: &mut Tally) {
    let keys: BTreeSet<Key> = refs
        .before
        .published
        .keys()
        .chain(refs.after.published.keys())
        .chain(got.published.keys())
        .chain(refs.mids.iter().flat_map(|m| m.published.keys()))
        .copied()
        .collect();
    for key in &keys {
        let now = got.canonical(key);
        if let (Some(raw), Some(canon)) = (got.published.get(key), now.as_deref()) {
            if raw.as_slice() != canon {
                // Only an immutable container may keep an interrupted lease record
                // until its next lease update; a mutable one is recovered when opened.
                assert_eq!(
                    kind(raw),
                    Some(ShareKind::Immutable),
                    "{ctx}: {key:?} not recovered"
                );
                assert!(
                    raw.len() - canon.len() <= 72,
                    "{ctx}: {key:?}: excess beyond one record"
                );
                tally.immutable_excess += 1;
            }
        }
        let old = refs.before.published.get(key).map(Vec::as_slice);
        let new = refs.after.published.get(key).map(Vec::as_slice);
        let now = now.as_deref();
        let ok = match scenario.custom {
            Some(check) => check(old, new, now),
            None => {
                now == old
                    || now == new
                    || refs
                        .mids
                        .iter()
                        .any(|m| now == m.published.get(key).map(Vec::as_slice))
            }
        };
        assert!(
            ok,
            "{ctx}: share {key:?} is neither old nor new (present before {}, after {}, now {})",
            old.is_some(),
            new.is_some(),
            now.is_some()
        );
        // I3: every lease held before and kept by the operation is still there.
        if let (Some(old), Some(new), Some(now)) = (old, new, now) {
            let kept: BTreeSet<LeaseId> = logical(new).1.into_iter().map(|l| l.0).collect();
            let held = logical(now).1;
            for (id, expiry) in logical(old).1 {
                if kept.contains(&id) {
                    assert!(
                        held.iter().any(|(i, e)| *i == id && *e >= expiry),
                        "{ctx}: share {key:?} lost a lease or its expiry went back"
                    );
                }
            }
        }
    }
    assert!(
        got.advisories == refs.before.advisories || got.advisories == refs.after.advisories,
        "{ctx}: advisories are neither old nor new"
    );
}

/// I6: exact space; no uploads left without resume, and with it each resumed upload's
/// recorded ranges hold the bytes written.
fn verify_space_and_uploads(
    scenario: &Scenario,
    ctx: &str,
    srv: &mut Srv,
    got: &Image,
    refs: &Refs,
    tally: &mut Tally,
) {
    let published: u64 = got.published.values().map(|b| b.len() as u64).sum();
    let incoming: u64 = got.incoming.values().map(|b| b.0.len() as u64).sum();
    assert_eq!(
        srv.available_space().unwrap(),
        Some(CAPACITY - published - incoming),
        "{ctx}: available space"
    );
    if !scenario.resume {
        assert!(got.incoming.is_empty(), "{ctx}: incoming shares left");
        assert_eq!(srv.allocated_size(), 0, "{ctx}: space still allocated");
        assert_eq!(srv.uploads().count(), 0, "{ctx}: uploads left");
        return;
    }
    let uploads = uploads_of(srv);
    assert_eq!(
        uploads.len(),
        got.incoming.len(),
        "{ctx}: an incoming share was not resumed"
    );
    assert_eq!(
        srv.allocated_size(),
        uploads.iter().map(|u| u.1).sum::<u64>(),
        "{ctx}: allocated size"
    );
    for ((si, n), size, _) in uploads {
        assert!(
            refs.before.incoming.contains_key(&(si, n))
                || refs.after.incoming.contains_key(&(si, n)),
            "{ctx}: resumed an upload that never was"
        );
        let (bytes, record) = &got.incoming[&(si, n)];
        assert!(record.is_some(), "{ctx}: resumed without a record");
        let missing = srv.required_ranges(&si, n, &upload_secret()).unwrap();
        let mut c = ImmutableContainer::open(VecIo::from_vec(bytes.clone())).unwrap();
        assert_eq!(c.data_length(), size);
        let expect = content(&si, n, size);
        let mut at = 0u64;
        for (start, end) in missing
            .iter()
            .map(|r| (r.start, r.end))
            .chain([(size, size)])
        {
            // [at, start) is recorded as written.
            let mut buf = vec![0u8; (start - at) as usize];
            c.read_share_data(at, &mut buf).unwrap();
            assert!(
                buf == expect[at as usize..start as usize],
                "{ctx}: {si:?}/{n:?}: recorded range {at}..{start} does not hold the bytes written"
            );
            at = end;
        }
        tally.resumed += 1;
    }
}

/// I7: after recovery, resumed uploads complete to the right share, and new operations
/// work.
fn next_operations(ctx: &str, srv: &mut Srv, store: &FaultyStore) {
    let resumed: Vec<(Key, u64)> = srv
        .uploads()
        .map(|u| ((u.storage_index, u.share_number), u.allocated_size))
        .collect();
    for ((si, n), size) in resumed {
        let data = content(&si, n, size);
        for r in srv.required_ranges(&si, n, &upload_secret()).unwrap() {
            let piece = &data[r.start as usize..r.end as usize];
            srv.write(&si, n, &upload_secret(), r.start, piece, RESTART)
                .unwrap();
        }
        srv.close(&si, n, &upload_secret()).unwrap();
        let bytes = Image::of(store).published[&(si, n)].clone();
        let (written, leases) = logical(&bytes);
        assert!(
            written == data,
            "{ctx}: a resumed upload completed to the wrong data"
        );
        assert_eq!(leases.len(), 1, "{ctx}: a resumed upload's lease");
    }
    upload(srv, SI_Z, 0, 300, 4, RESTART);
    assert_eq!(
        srv.open_bucket(&SI_Z, sh(0))
            .unwrap()
            .read_vec(0, 1000)
            .unwrap(),
        content(&SI_Z, sh(0), 300)
    );
    let read = srv
        .slot_readv(&SI_MBG, &ShareSet::new(), &[(0, 700)])
        .unwrap();
    assert_eq!(
        read,
        vec![(sh(0), vec![mutable_bytes(9, 700)])],
        "{ctx}: background mutable"
    );
}

// ----- the scenarios -----------------------------------------------------------------

fn allocate_scenario(resume: bool) -> Scenario {
    Scenario::new(
        "allocate (new shares; renew and add leases on held shares)",
        resume,
        Box::new(move |st| {
            let mut srv = start(st, resume, NOW);
            background(&mut srv);
            upload(&mut srv, SI_A, 0, 700, 1, NOW);
            upload(&mut srv, SI_A, 1, 700, 2, NOW);
            srv
        }),
        Box::new(|srv| {
            let got = try_allocate(srv, SI_A, &[0, 1, 2, 3], 700, 1, NOW + 1000)?;
            assert_eq!(got, [sh(2), sh(3)].into_iter().collect());
            Ok(())
        }),
    )
}

fn write_in_order_scenario(resume: bool) -> Scenario {
    Scenario::new(
        "write in order",
        resume,
        Box::new(move |st| {
            let mut srv = start(st, resume, NOW);
            background(&mut srv);
            allocate(&mut srv, SI_B, &[0, 1], 2500, 1, NOW);
            write(&mut srv, SI_B, 0, 2500, (0, 1000), NOW).unwrap();
            srv
        }),
        Box::new(|srv| {
            assert!(!write(srv, SI_B, 0, 2500, (1000, 2000), NOW + 10)?);
            Ok(())
        }),
    )
}

fn write_out_of_order_scenario(resume: bool) -> Scenario {
    Scenario::new(
        "write out of order (and an identical overlapping rewrite)",
        resume,
        Box::new(move |st| {
            let mut srv = start(st, resume, NOW);
            background(&mut srv);
            allocate(&mut srv, SI_B, &[0], 2500, 1, NOW);
            write(&mut srv, SI_B, 0, 2500, (1500, 2500), NOW).unwrap();
            srv
        }),
        Box::new(|srv| {
            assert!(!write(srv, SI_B, 0, 2500, (200, 900), NOW + 10)?);
            // Across both written ranges and the hole between them.
            assert!(!write(srv, SI_B, 0, 2500, (800, 1700), NOW + 20)?);
            Ok(())
        }),
    )
}

fn close_scenario(resume: bool) -> Scenario {
    Scenario::new(
        "close",
        resume,
        Box::new(move |st| {
            let mut srv = start(st, resume, NOW);
            background(&mut srv);
            allocate(&mut srv, SI_B, &[0, 1], 2500, 1, NOW);
            write(&mut srv, SI_B, 0, 2500, (0, 2500), NOW).unwrap();
            write(&mut srv, SI_B, 1, 2500, (0, 900), NOW).unwrap();
            srv
        }),
        Box::new(|srv| srv.close(&SI_B, sh(0), &upload_secret()).map(drop)),
    )
}

fn abort_scenario(resume: bool) -> Scenario {
    Scenario::new(
        "abort",
        resume,
        Box::new(move |st| {
            let mut srv = start(st, resume, NOW);
            background(&mut srv);
            allocate(&mut srv, SI_B, &[0, 1], 2500, 1, NOW);
            write(&mut srv, SI_B, 0, 2500, (0, 900), NOW).unwrap();
            srv
        }),
        Box::new(|srv| srv.abort(&SI_B, sh(0), &upload_secret())),
    )
}

fn expire_scenario(resume: bool) -> Scenario {
    Scenario::new(
        "expire_stale_uploads",
        resume,
        Box::new(move |st| {
            let mut srv = start(st, resume, NOW);
            background(&mut srv);
            allocate(&mut srv, SI_B, &[0, 1], 2500, 1, NOW);
            write(&mut srv, SI_B, 0, 2500, (0, 900), NOW).unwrap();
            allocate(&mut srv, SI_C, &[0], 800, 1, NOW + 1500);
            write(&mut srv, SI_C, 0, 800, (0, 100), NOW + 1500).unwrap();
            srv
        }),
        Box::new(|srv| {
            assert_eq!(srv.expire_stale_uploads(NOW + 1800, |_, _| {})?, 2);
            Ok(())
        }),
    )
}

fn resumed_upload_scenario() -> Scenario {
    Scenario::new(
        "resumed upload after a restart (writes and close)",
        true,
        Box::new(|st| {
            let mut srv = start(st, true, NOW);
            background(&mut srv);
            allocate(&mut srv, SI_B, &[0, 1], 2500, 1, NOW);
            write(&mut srv, SI_B, 0, 2500, (0, 800), NOW).unwrap();
            write(&mut srv, SI_B, 1, 2500, (1200, 2500), NOW).unwrap();
            drop(srv);
            let srv = start(st, true, NOW + 100);
            assert_eq!(srv.uploads().count(), 2);
            srv
        }),
        Box::new(|srv| {
            assert!(!write(srv, SI_B, 0, 2500, (800, 1600), NOW + 200)?);
            assert!(write(srv, SI_B, 0, 2500, (1600, 2500), NOW + 200)?);
            srv.close(&SI_B, sh(0), &upload_secret()).map(drop)
        }),
    )
}

fn add_lease_immutable_scenario() -> Scenario {
    Scenario::new(
        "add_lease (immutable: add on two shares, renew on another)",
        false,
        Box::new(|st| {
            let mut srv = start(st, false, NOW);
            background(&mut srv);
            upload(&mut srv, SI_A, 0, 700, 1, NOW);
            upload(&mut srv, SI_A, 1, 700, 1, NOW);
            // Shares 0 and 1 get the lease of 3 now; share 2 does not.
            srv.add_lease(&SI_A, &renew(3), &cancel(3), 1, NOW).unwrap();
            upload(&mut srv, SI_A, 2, 700, 1, NOW);
            srv
        }),
        Box::new(|srv| {
            assert_eq!(
                srv.add_lease(&SI_A, &renew(3), &cancel(3), 1, NOW + 1000)?,
                3
            );
            Ok(())
        }),
    )
}

fn add_lease_mutable_scenario() -> Scenario {
    Scenario::new(
        "add_lease (mutable: append an extra slot, renew on another)",
        false,
        Box::new(|st| {
            let mut srv = start(st, false, NOW);
            background(&mut srv);
            create_mutable(&mut srv, SI_M, 0, &mutable_bytes(1, 400), 1);
            for seed in 2..=4 {
                srv.add_lease(&SI_M, &renew(seed), &cancel(seed), 1, NOW)
                    .unwrap();
            }
            create_mutable(&mut srv, SI_M, 1, &mutable_bytes(2, 400), 5);
            srv
        }),
        Box::new(|srv| {
            assert_eq!(
                srv.add_lease(&SI_M, &renew(5), &cancel(5), 1, NOW + 1000)?,
                2
            );
            Ok(())
        }),
    )
}

fn renew_immutable_scenario() -> Scenario {
    Scenario::new(
        "renew_lease (immutable)",
        false,
        Box::new(|st| {
            let mut srv = start(st, false, NOW);
            background(&mut srv);
            upload(&mut srv, SI_A, 0, 700, 1, NOW);
            upload(&mut srv, SI_A, 1, 700, 2, NOW);
            srv.add_lease(&SI_A, &renew(1), &cancel(1), 1, NOW).unwrap();
            srv
        }),
        Box::new(|srv| srv.renew_lease(&SI_A, &renew(1), NOW + 1000)),
    )
}

fn renew_mutable_scenario() -> Scenario {
    Scenario::new(
        "renew_lease (mutable, in an extra slot)",
        false,
        Box::new(|st| {
            let mut srv = start(st, false, NOW);
            background(&mut srv);
            create_mutable(&mut srv, SI_M, 0, &mutable_bytes(1, 400), 1);
            create_mutable(&mut srv, SI_M, 1, &mutable_bytes(2, 400), 1);
            for seed in 2..=6 {
                srv.add_lease(&SI_M, &renew(seed), &cancel(seed), 1, NOW)
                    .unwrap();
            }
            srv
        }),
        Box::new(|srv| srv.renew_lease(&SI_M, &renew(6), NOW + 1000)),
    )
}

fn cancel_immutable_scenario() -> Scenario {
    let mut s = Scenario::new(
        "cancel_lease (immutable: compaction, last lease deletes)",
        false,
        Box::new(|st| {
            let mut srv = start(st, false, NOW);
            background(&mut srv);
            upload(&mut srv, SI_A, 0, 700, 1, NOW);
            srv.add_lease(&SI_A, &renew(2), &cancel(2), 1, NOW).unwrap();
            srv.add_lease(&SI_A, &renew(3), &cancel(3), 1, NOW).unwrap();
            upload(&mut srv, SI_A, 1, 700, 1, NOW);
            srv
        }),
        Box::new(|srv| srv.cancel_lease(&SI_A, &cancel(1)).map(drop)),
    );
    s.custom = Some(cancel_check);
    s
}

fn cancel_mutable_scenario() -> Scenario {
    let mut s = Scenario::new(
        "cancel_lease (mutable: blank slots, last lease deletes)",
        false,
        Box::new(|st| {
            let mut srv = start(st, false, NOW);
            background(&mut srv);
            create_mutable(&mut srv, SI_M, 0, &mutable_bytes(1, 400), 1);
            for seed in 2..=5 {
                srv.add_lease(&SI_M, &renew(seed), &cancel(seed), 1, NOW)
                    .unwrap();
            }
            create_mutable(&mut srv, SI_M, 1, &mutable_bytes(2, 400), 1);
            srv
        }),
        Box::new(|srv| srv.cancel_lease(&SI_M, &cancel(1)).map(drop)),
    );
    s.custom = Some(cancel_check);
    s
}

/// A lease cancellation commits record by record: a share keeps its data, keeps every
/// lease not cancelled, and holds no lease it did not hold before; it is deleted only if
/// the operation deletes it.
fn cancel_check(before: Option<&[u8]>, after: Option<&[u8]>, got: Option<&[u8]>) -> bool {
    if got == before || got == after {
        return true;
    }
    let (Some(before), Some(got)) = (before, got) else {
        return false;
    };
    let (old_data, old_leases) = logical(before);
    let (data, leases) = logical(got);
    let old: BTreeSet<_> = old_leases.iter().collect();
    let kept: BTreeSet<_> = after
        .map(|a| logical(a).1)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let held: BTreeSet<_> = leases.iter().collect();
    old_data == data && held.is_subset(&old) && kept.iter().all(|l| held.contains(l))
}

fn mutable_create_scenario(resume: bool) -> Scenario {
    Scenario::new(
        "mutable create (slot_testv_and_readv_and_writev, 3 shares)",
        resume,
        Box::new(move |st| {
            let mut srv = start(st, resume, NOW);
            background(&mut srv);
            srv
        }),
        Box::new(|srv| {
            let slots: Vec<Slot<'_>> = (0..3)
                .map(|n| Slot {
                    n,
                    expect: None,
                    writes: vec![
                        (0, mutable_bytes(n + 20, 600)),
                        (900, mutable_bytes(n, 1200)),
                    ],
                    new_length: None,
                })
                .collect();
            slot_write(srv, SI_M, &slots, 1, true, NOW + 1000)
        }),
    )
}

/// On existing shares the writes commit before the lease is renewed or added (Tahoe's
/// order), so "writes applied, leases not yet" is a committed step: `op(false)`.
fn test_and_write_one_scenario() -> Scenario {
    let op = |renew_leases: bool| -> Op {
        Box::new(move |srv| {
            let old = mutable_bytes(1, 1500);
            let slot = Slot {
                n: 0,
                expect: Some(&old[..16]),
                writes: vec![
                    (100, mutable_bytes(40, 800)),
                    (1400, mutable_bytes(41, 300)),
                ],
                new_length: None,
            };
            slot_write(srv, SI_M, &[slot], 1, renew_leases, NOW + 1000)
        })
    };
    let mut s = Scenario::new(
        "test-and-write, one share (in place and growing; renews its lease)",
        false,
        Box::new(|st| {
            let mut srv = start(st, false, NOW);
            background(&mut srv);
            create_mutable(&mut srv, SI_M, 0, &mutable_bytes(1, 1500), 1);
            create_mutable(&mut srv, SI_M, 1, &mutable_bytes(2, 1500), 1);
            srv
        }),
        op(true),
    );
    s.mids.push(op(false));
    s
}

fn test_and_write_several_scenario() -> Scenario {
    let op = |renew_leases: bool| -> Op {
        Box::new(move |srv| {
            let olds: Vec<Vec<u8>> = (0..3).map(|n| mutable_bytes(n + 1, 200)).collect();
            let slots: Vec<Slot<'_>> = (0..3)
                .map(|n| Slot {
                    n,
                    expect: Some(&olds[usize::from(n)][..16]),
                    writes: vec![
                        (150, mutable_bytes(n + 50, 100)),
                        (2000, mutable_bytes(n + 60, 1500)),
                    ],
                    new_length: None,
                })
                .collect();
            // A new lease: every slot is taken, so it is appended as a third extra one.
            slot_write(srv, SI_M, &slots, 7, renew_leases, NOW + 1000)
        })
    };
    let mut s = Scenario::new(
        "test-and-write, several shares (3 shares, growth moving 2 extra leases, new lease)",
        false,
        Box::new(|st| {
            let mut srv = start(st, false, NOW);
            background(&mut srv);
            for n in 0..3 {
                create_mutable(&mut srv, SI_M, n, &mutable_bytes(n + 1, 200), 1);
            }
            for seed in 2..=6 {
                srv.add_lease(&SI_M, &renew(seed), &cancel(seed), 1, NOW)
                    .unwrap();
            }
            srv
        }),
        op(true),
    );
    s.mids.push(op(false));
    s
}

fn truncation_scenario() -> Scenario {
    Scenario::new(
        "truncation (test-and-write, new_length shrinks; 5 leases)",
        false,
        Box::new(|st| {
            let mut srv = start(st, false, NOW);
            background(&mut srv);
            create_mutable(&mut srv, SI_M, 0, &mutable_bytes(3, 3000), 1);
            for seed in 2..=5 {
                srv.add_lease(&SI_M, &renew(seed), &cancel(seed), 1, NOW)
                    .unwrap();
            }
            srv
        }),
        Box::new(|srv| {
            let old = mutable_bytes(3, 3000);
            let slot = Slot {
                n: 0,
                expect: Some(&old[..32]),
                writes: vec![(0, b"head".to_vec())],
                new_length: Some(10),
            };
            slot_write(srv, SI_M, &[slot], 1, false, NOW + 1000)
        }),
    )
}

fn deletion_scenario() -> Scenario {
    Scenario::new(
        "deletion (test-and-write, new_length 0, and a write to another share)",
        false,
        Box::new(|st| {
            let mut srv = start(st, false, NOW);
            background(&mut srv);
            create_mutable(&mut srv, SI_M, 0, &mutable_bytes(1, 900), 1);
            create_mutable(&mut srv, SI_M, 1, &mutable_bytes(2, 900), 1);
            srv
        }),
        Box::new(|srv| {
            let (first, second) = (mutable_bytes(1, 900), mutable_bytes(2, 900));
            let slots = [
                Slot {
                    n: 0,
                    expect: Some(&first[..8]),
                    writes: vec![],
                    new_length: Some(0),
                },
                Slot {
                    n: 1,
                    expect: Some(&second[..8]),
                    writes: vec![(10, vec![0xee; 50])],
                    new_length: None,
                },
            ];
            slot_write(srv, SI_M, &slots, 1, false, NOW + 1000)
        }),
    )
}

fn advise_scenario() -> Scenario {
    Scenario::new(
        "advise_corrupt_share (name taken: suffix)",
        false,
        Box::new(|st| {
            let mut srv = start(st, false, NOW);
            background(&mut srv);
            srv.advise_corrupt_share(b"immutable", &SI_BG, sh(0), b"first", NOW)
                .unwrap();
            srv
        }),
        Box::new(|srv| {
            srv.advise_corrupt_share(b"immutable", &SI_BG, sh(0), b"second", NOW)
                .map(drop)
        }),
    )
}

fn scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    for resume in [false, true] {
        v.push(allocate_scenario(resume));
        v.push(write_in_order_scenario(resume));
        v.push(write_out_of_order_scenario(resume));
        v.push(close_scenario(resume));
        v.push(abort_scenario(resume));
        v.push(expire_scenario(resume));
        v.push(mutable_create_scenario(resume));
    }
    v.push(resumed_upload_scenario());
    v.push(add_lease_immutable_scenario());
    v.push(add_lease_mutable_scenario());
    v.push(renew_immutable_scenario());
    v.push(renew_mutable_scenario());
    v.push(cancel_immutable_scenario());
    v.push(cancel_mutable_scenario());
    v.push(test_and_write_one_scenario());
    v.push(test_and_write_several_scenario());
    v.push(truncation_scenario());
    v.push(deletion_scenario());
    v.push(advise_scenario());
    v
}

#[test]
fn every_crash_point_of_every_server_operation_recovers() {
    let scenarios = scenarios();
    // Per operation (the scenario name up to its first bracket): scenarios and tallies.
    let mut by_op: Vec<(String, usize, Tally)> = Vec::new();
    let mut total = Tally::default();
    for s in &scenarios {
        let mut t = Tally::default();
        run(s, &mut t);
        eprintln!(
            "server_crash: {:<72} {:>4} crash points, {:>4} crashes in recovery, {:>5} injected failures",
            s.name, t.points, t.recovery_points, t.failures
        );
        assert!(
            t.points >= 2 && t.failures >= 1,
            "{}: nothing checked",
            s.name
        );
        let op = s
            .name
            .split(['(', '['])
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let row = if let Some(row) = by_op.iter_mut().find(|r| r.0 == op) {
            row
        } else {
            by_op.push((op, 0, Tally::default()));
            by_op.last_mut().unwrap()
        };
        row.1 += 1;
        row.2.add(&t);
        total.add(&t);
    }
    for (op, n, t) in &by_op {
        eprintln!(
            "server_crash: operation {op:<48} {n:>2} scenario(s): {:>4} crash points + {:>4} in recovery = {:>4} crash states; {:>5} injected failures",
            t.points,
            t.recovery_points,
            t.points + t.recovery_points,
            t.failures
        );
    }
    eprintln!(
        "server_crash: TOTAL {} operations, {} scenarios: {} crash points in operations + {} in recovery = {} crash states checked; \
         {} injected failures (fail-nth, once and sticky) checked; {} resumed uploads verified; \
         {} recoveries left an interrupted immutable lease record (ignored by reads, removed by the next lease update)",
        by_op.len(),
        scenarios.len(),
        total.points,
        total.recovery_points,
        total.points + total.recovery_points,
        total.failures,
        total.resumed,
        total.immutable_excess,
    );
    assert!(by_op.len() >= 16, "operations covered: {}", by_op.len());
    assert!(
        total.points >= 300,
        "too few crash points: {}",
        total.points
    );
    assert!(
        total.recovery_points >= 300,
        "too few crash points in recovery: {}",
        total.recovery_points
    );
    assert!(
        total.failures >= 300,
        "too few injected failures: {}",
        total.failures
    );
    assert!(
        total.resumed >= 20,
        "too few resumed uploads checked: {}",
        total.resumed
    );
}

/// The lease of a new mutable share is now written before the share is published; the
/// bytes are still Tahoe's (create, write, then add the lease in the first slot).
#[test]
fn creating_a_slot_with_its_lease_gives_tahoes_bytes() {
    let create = |renew_leases: bool| {
        let store = fresh_store();
        let mut srv = start(&store, false, NOW);
        let slots = [0, 1].map(|n| Slot {
            n,
            expect: None,
            writes: vec![(0, mutable_bytes(n, 600)), (900, mutable_bytes(n + 1, 300))],
            new_length: None,
        });
        slot_write(&mut srv, SI_M, &slots, 1, renew_leases, NOW + 1000).unwrap();
        if !renew_leases {
            // Tahoe's order: the lease is added to the published share.
            let n = srv
                .add_lease(&SI_M, &renew(1), &cancel(1), 1, NOW + 1000)
                .unwrap();
            assert_eq!(n, 2);
        }
        store.crash_image().snapshot()
    };
    let (ours, tahoes) = (create(true), create(false));
    assert_eq!(ours.len(), 2);
    assert!(ours == tahoes);
}

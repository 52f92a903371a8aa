//! Crash-point enumeration over every server operation, in the process-crash model (the
//! process stops at a mutating store or device operation; what it completed survives) and
//! the power-loss model (only what was synced survives; docs/reliability.md describes both).
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
//! Then Fail-Nth: every step of the operation, reads
//! included, fails once (and each mutating step also for good); the server goes on
//! through its error paths, then stops, and the same recovery checks run (without the
//! crashes inside recovery).
//!
//! The figures (crash points per operation and in all) are printed with `--nocapture`.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use tahoe_shares::container::{
    ContainerError, ImmutableContainer, MutableContainer, NewLease, TestOperator, TestVector,
};
use tahoe_shares::format::immutable::ImmutableVersion;
use tahoe_shares::format::lease::Lease;
use tahoe_shares::format::mutable::MutableVersion;
use tahoe_shares::format::{sniff, ShareKind, SNIFF_SIZE};
use tahoe_shares::io::VecIo;
use tahoe_shares::server::{AllocateRequest, Config, LeaseUpdate, Server, SlotSecrets, SlotWrite};
use tahoe_shares::store::{
    Fault, FaultyStore, MemStore, Pending, Persist, ShareStore, StoreFault, StoreOp,
};
use tahoe_shares::{
    CancelSecret, Error, RenewSecret, ShareNumber, ShareSet, StorageIndex, UploadSecret,
    WriteEnabler,
};

use common::{slot_secrets_of, Rng, NODE, NOW};

type Srv = Server<FaultyStore>;
type Res<T> = tahoe_shares::Result<T, StoreFault>;
type Key = (StorageIndex, ShareNumber);

const RESTART: u64 = NOW + 5000;
const CAPACITY: u64 = 1 << 22;
/// The bytes of the write enabler of every slot.
const WE_BYTE: u8 = 0x3c;
const WE: WriteEnabler = WriteEnabler::new([WE_BYTE; 32]);

const SI_BG: StorageIndex = StorageIndex::new([0x10; 16]);
const SI_MBG: StorageIndex = StorageIndex::new([0x11; 16]);
const SI_A: StorageIndex = StorageIndex::new([0xa0; 16]);
const SI_B: StorageIndex = StorageIndex::new([0xb0; 16]);
const SI_C: StorageIndex = StorageIndex::new([0xc0; 16]);
const SI_M: StorageIndex = StorageIndex::new([0xd0; 16]);
const SI_Z: StorageIndex = StorageIndex::new([0xe0; 16]);

/// An expectation of a scenario's operation: under injected faults it may not hold, so
/// it is an error of the operation rather than a panic of the test.
fn ensure(cond: bool, what: &'static str) -> Res<()> {
    if cond {
        Ok(())
    } else {
        Err(Error::Bug(what))
    }
}

fn sh(n: u8) -> ShareNumber {
    ShareNumber(n)
}

fn upload_secret() -> UploadSecret {
    UploadSecret::new(b"upload secret").unwrap()
}

fn renew(seed: u8) -> RenewSecret {
    RenewSecret::new([seed; 32])
}

fn cancel(seed: u8) -> CancelSecret {
    CancelSecret::new([seed ^ 0xff; 32])
}

fn config(resume: bool) -> Config {
    Config::default().with_resume_uploads(resume)
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

/// The slot secrets of every scenario's writes: write enabler `WE_BYTE`, lease of `seed`.
fn slot_secrets(seed: u8) -> SlotSecrets {
    slot_secrets_of(WE_BYTE, seed, seed ^ 0xff)
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
        LeaseUpdate::from(renew_leases),
        now,
    )?;
    ensure(out.passed, "test vectors failed")
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

/// Adds the lease of each of `seeds` (owner 1, at `NOW`) to every share of `si`.
fn add_leases(srv: &mut Srv, si: StorageIndex, seeds: impl IntoIterator<Item = u8>) {
    for seed in seeds {
        srv.add_lease(&si, &renew(seed), &cancel(seed), 1, NOW)
            .unwrap();
    }
}

/// The shares every scenario starts with, on other storage indexes.
fn background(srv: &mut Srv) {
    upload(srv, SI_BG, 0, 1500, 1, NOW);
    create_mutable(srv, SI_MBG, 0, &mutable_bytes(9, 700), 1);
    add_leases(srv, SI_MBG, [2]);
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
    /// A scenario whose setup starts a server at `NOW` (resuming uploads when `resume`),
    /// creates the `background` shares and then runs `setup`.
    fn new(
        name: &str,
        resume: bool,
        setup: impl Fn(&mut Srv) + 'static,
        op: impl Fn(&mut Srv) -> Res<()> + 'static,
    ) -> Self {
        let setup = move |st: &FaultyStore| {
            let mut srv = start(st, resume, NOW);
            background(&mut srv);
            setup(&mut srv);
            srv
        };
        Self::with_setup(name, resume, Box::new(setup), Box::new(op))
    }

    /// A scenario whose setup starts the server itself.
    fn with_setup(name: &str, resume: bool, setup: Setup, op: Op) -> Self {
        Self {
            name: format!("{name}{}", if resume { " [resume]" } else { "" }),
            resume,
            setup,
            op,
            mids: Vec::new(),
            custom: None,
        }
    }

    /// Also accepts, for each share, the state that `mid` leaves after the setup.
    fn or_after(mut self, mid: Op) -> Self {
        self.mids.push(mid);
        self
    }

    /// Checks each share's state after recovery with `check` instead.
    fn checked_by(mut self, check: ShareCheck) -> Self {
        self.custom = Some(check);
        self
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
    /// The uploads in progress after the unfaulted run.
    after_uploads: Vec<(Key, u64, u64)>,
}

/// What an unfaulted run of a scenario's operation tells.
struct Prepared {
    refs: Refs,
    /// The plan's operation index when the operation starts.
    base: usize,
    /// Its mutating operations.
    count: usize,
    /// For each kind: operations of it before the operation starts, and within it.
    kinds: Vec<(StoreOp, usize, usize)>,
    /// Bytes the operation takes from a space budget.
    growth: u64,
}

fn prepare(scenario: &Scenario) -> Prepared {
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
    let after_uploads = uploads_of(&srv);
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
    // Acknowledged means durable: a power loss right after the setup loses nothing.
    assert!(
        Image::of_mem(&scenario.fresh().1.durable_image()).published == before.published,
        "{name}: the setup's acknowledged shares are not durable"
    );
    let mids = scenario
        .mids
        .iter()
        .map(|mid| {
            let (mut srv, store) = scenario.fresh();
            mid(&mut srv).unwrap();
            Image::of(&store)
        })
        .collect();
    let growth = {
        let (mut srv, store) = scenario.fresh();
        let start = u64::MAX / 2;
        store.plan().no_space_after(Some(start));
        (scenario.op)(&mut srv).unwrap();
        start - store.plan().space_low_water()
    };
    Prepared {
        refs: Refs {
            before,
            after,
            mids,
            after_uploads,
        },
        base,
        count,
        kinds,
        growth,
    }
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

/// The modes of the fail-Nth loops: figure key, label, and the fault with whether it
/// sticks; the last, without a fault, is the ENOSPC loop.
type Mode = (&'static str, &'static str, Option<(Fault, bool)>);
const MODES: [Mode; 6] = [
    ("fail_once", "fail once", Some((Fault::Fail, false))),
    ("fail_sticky", "fail for good", Some((Fault::Fail, true))),
    (
        "ambiguous",
        "ambiguous (applied, then failed)",
        Some((Fault::Ambiguous, false)),
    ),
    ("short_write", "short write", Some((Fault::Short, false))),
    (
        "bit_flip",
        "bit flip on read",
        Some((Fault::BitFlip, false)),
    ),
    ("enospc", "ENOSPC after a byte budget", None),
];
/// The ENOSPC loop's row in [`Tally::fail_runs`].
const NO_SPACE_MODE: usize = MODES.len() - 1;

#[derive(Default)]
struct Tally {
    /// Crash points in the operation (the last one right after it completes).
    points: usize,
    /// Crash points inside recovery.
    recovery_points: usize,
    /// Power-loss states (crash point × persisted subset of the pending changes).
    power_states: usize,
    /// Of those, states with a torn write.
    torn_states: usize,
    /// Power-loss states inside recovery.
    power_recovery_states: usize,
    /// Fail-Nth runs, by mode.
    fail_runs: [usize; MODES.len()],
    /// Fail-Nth runs (bit flips aside) whose operation still reported success (then
    /// checked as acknowledged).
    tolerated: usize,
    /// Recoveries after which an immutable share kept an interrupted lease record.
    immutable_excess: usize,
    /// Resumed uploads whose recorded ranges were verified.
    resumed: usize,
    /// Acknowledged operations whose full effect was verified after recovery.
    acked_checked: usize,
    /// Published shares found old, new or a committed step after a recovery.
    share_checks: usize,
    /// Of those, mutable shares (found wholly old or wholly new: not torn).
    mutable_checks: usize,
    /// Leases found present with their expiry after a recovery.
    lease_checks: usize,
    /// Bit-flip runs checked.
    flip_checks: usize,
    /// Shares an operation wrote after acting on a flipped bit that then read as corrupt
    /// (a typed error; nothing else affected).
    flip_corrupt: usize,
    /// Shares an operation wrote after acting on a flipped bit that read cleanly but
    /// differ from both the old and the new state.
    flip_changed: usize,
}

impl Tally {
    fn add(&mut self, other: &Self) {
        self.points += other.points;
        self.recovery_points += other.recovery_points;
        self.power_states += other.power_states;
        self.torn_states += other.torn_states;
        self.power_recovery_states += other.power_recovery_states;
        for (a, b) in self.fail_runs.iter_mut().zip(other.fail_runs) {
            *a += b;
        }
        self.tolerated += other.tolerated;
        self.immutable_excess += other.immutable_excess;
        self.resumed += other.resumed;
        self.acked_checked += other.acked_checked;
        self.share_checks += other.share_checks;
        self.mutable_checks += other.mutable_checks;
        self.lease_checks += other.lease_checks;
        self.flip_checks += other.flip_checks;
        self.flip_corrupt += other.flip_corrupt;
        self.flip_changed += other.flip_changed;
    }

    fn fail_total(&self) -> usize {
        self.fail_runs.iter().sum()
    }
}

/// What [`check_recovery`] checks beyond the invariants every state must meet.
#[derive(Clone, Copy, Default)]
struct Checks {
    /// Crash the recovery at each of its steps (and recover again).
    crash_in_recovery: bool,
    /// Of those crashes, take the power-loss image (everything the recovery did not make
    /// durable is lost) as well as the process-crash image.
    power_loss_in_recovery: bool,
    /// The operation was acknowledged: its whole effect must be there.
    acked: bool,
}

/// Process crashes: a crash at every mutating step of the operation.
fn run_process_crashes(scenario: &Scenario, prep: &Prepared, tally: &mut Tally) {
    let name = &scenario.name;
    let count = prep.count;
    for k in 0..=count {
        let (mut srv, store) = scenario.fresh();
        store.plan().crash_at(prep.base + k);
        let r = (scenario.op)(&mut srv);
        drop(srv);
        let ctx = format!("{name}, crash at step {k}/{count}");
        check_crash_outcome(&ctx, k < count, &store, &r);
        let checks = Checks {
            crash_in_recovery: true,
            power_loss_in_recovery: false,
            acked: k == count,
        };
        check_recovery(
            scenario,
            &ctx,
            &store.crash_image(),
            &prep.refs,
            checks,
            tally,
        );
        tally.points += 1;
    }
}

fn check_crash_outcome(ctx: &str, crashes: bool, store: &FaultyStore, r: &Res<()>) {
    if crashes {
        assert!(store.plan().crashed(), "{ctx}: no crash");
        assert!(
            matches!(r, Err(Error::Io(StoreFault::Crashed))),
            "{ctx}: the operation did not report the crash: {r:?}"
        );
    } else {
        assert!(r.is_ok() && !store.plan().crashed(), "{ctx}: {r:?}");
    }
}

/// The largest number of pending changes for which every subset is tried.
fn exhaustive_limit() -> usize {
    std::env::var("TS_POWER_EXHAUSTIVE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

/// The persistence choices tried for one crash point: nothing, everything, then every
/// subset when few changes are pending, or else each change dropped alone, each kept
/// alone and random subsets; then torn versions of every multi-sector write.
fn persistence_choices(pending: &[Pending], seed: u64) -> Vec<Vec<Persist>> {
    let n = pending.len();
    let of_mask = |mask: &dyn Fn(usize) -> bool| -> Vec<Persist> {
        (0..n)
            .map(|i| {
                if mask(i) {
                    Persist::Kept
                } else {
                    Persist::Lost
                }
            })
            .collect()
    };
    let mut choices = vec![of_mask(&|_| false)];
    if n == 0 {
        return choices;
    }
    choices.push(of_mask(&|_| true));
    if n <= exhaustive_limit() {
        for m in 1..(1u64 << n) - 1 {
            choices.push(of_mask(&|i| m & (1 << i) != 0));
        }
    } else {
        for j in 0..n {
            choices.push(of_mask(&|i| i != j));
            choices.push(of_mask(&|i| i == j));
        }
        let mut rng = Rng::new(seed);
        for _ in 0..16 {
            let bits: Vec<bool> = (0..n).map(|_| rng.next() & 1 == 1).collect();
            choices.push(of_mask(&|i| bits[i]));
        }
    }
    let mut torn = 0;
    for (j, p) in pending.iter().enumerate() {
        let sectors = p.sectors();
        if sectors < 2 || torn >= 8 {
            continue;
        }
        torn += 1;
        let patterns: [Vec<bool>; 3] = [
            (0..sectors).map(|s| s < sectors / 2).collect(),
            (0..sectors).map(|s| s % 2 == 0).collect(),
            (0..sectors).map(|s| s % 2 == 1).collect(),
        ];
        for pattern in patterns {
            // Everything before the torn write kept, everything after it lost (the order
            // a disk writing back in sequence would leave), and also everything else kept.
            for later_kept in [false, true] {
                let mut choice = of_mask(&|i| i < j || later_kept);
                choice[j] = Persist::Sectors(pattern.clone());
                choices.push(choice);
            }
        }
    }
    choices
}

fn describe(choice: &[Persist]) -> String {
    choice
        .iter()
        .map(|p| match p {
            Persist::Lost => '-',
            Persist::Kept => '+',
            Persist::Sectors(_) => '~',
        })
        .collect()
}

/// Power losses: a crash at every mutating step of the operation, and for each the
/// persistence choices of [`persistence_choices`].
fn run_power_losses(scenario: &Scenario, prep: &Prepared, tally: &mut Tally) {
    let name = &scenario.name;
    let count = prep.count;
    for k in 0..=count {
        let (mut srv, store) = scenario.fresh();
        store.plan().crash_at(prep.base + k);
        let r = (scenario.op)(&mut srv);
        drop(srv);
        let ctx = format!("{name}, power loss at step {k}/{count}");
        check_crash_outcome(&ctx, k < count, &store, &r);
        let pending = store.pending();
        for (i, choice) in persistence_choices(&pending, k as u64).iter().enumerate() {
            let image = store.power_loss_image(|j, _| choice[j].clone());
            let ctx = format!("{ctx}, persisted [{}]", describe(choice));
            let checks = Checks {
                crash_in_recovery: i < 2,
                power_loss_in_recovery: true,
                acked: k == count,
            };
            check_recovery(scenario, &ctx, &image, &prep.refs, checks, tally);
            tally.power_states += 1;
            if choice.iter().any(|c| matches!(c, Persist::Sectors(_))) {
                tally.torn_states += 1;
            }
        }
    }
}

/// Fail-Nth loops: for each fault mode and each kind it can hit, the Nth operation of
/// that kind within the operation is hit, for N = 1, 2, … until the operation completes
/// without reaching it. The server goes on through its error paths, then stops, and a
/// new server recovers. Then the same with ENOSPC after a growing byte budget.
fn run_fail_nth(scenario: &Scenario, prep: &Prepared, tally: &mut Tally) {
    let name = &scenario.name;
    for (mode, &(_, label, fault)) in MODES.iter().enumerate() {
        let Some((fault, sticky)) = fault else {
            continue;
        };
        for &(kind, from, _) in &prep.kinds {
            if !fault.applies_to(kind) || (sticky && !kind.is_mutating()) {
                continue;
            }
            for n in 0.. {
                assert!(n < 100_000, "{name}: {label} of {kind:?} never completes");
                let (mut srv, store) = scenario.fresh();
                let plan = store.plan();
                plan.inject(kind, from + n, sticky, fault);
                let r = (scenario.op)(&mut srv);
                drop(srv);
                if plan.fired() == 0 {
                    assert!(r.is_ok(), "{name}: {label}: unfaulted outcome {r:?}");
                    break;
                }
                let ctx = format!("{name}, {label} at {kind:?} #{}", n + 1);
                check_fault_outcome(&ctx, fault, &r, tally);
                plan.clear();
                if fault == Fault::BitFlip {
                    check_after_flip(scenario, &ctx, &store.crash_image(), &prep.refs, tally);
                } else {
                    check_fault_recovery(scenario, &ctx, &store, prep, r.is_ok(), tally);
                }
                tally.fail_runs[mode] += 1;
            }
        }
    }
    // ENOSPC after a budget growing from 0 until the operation completes.
    let step = (prep.growth / 40).max(1);
    let mut budget = 0;
    loop {
        let (mut srv, store) = scenario.fresh();
        let plan = store.plan();
        plan.no_space_after(Some(budget));
        let r = (scenario.op)(&mut srv);
        drop(srv);
        if plan.no_space_hits() == 0 {
            assert!(r.is_ok(), "{name}: budget {budget}: {r:?}");
            assert!(
                budget >= prep.growth,
                "{name}: completed within a smaller budget"
            );
            break;
        }
        let ctx = format!("{name}, ENOSPC after {budget} bytes");
        assert!(
            matches!(
                r,
                Ok(()) | Err(Error::Io(StoreFault::NoSpace) | Error::NoSpace | Error::Poisoned)
            ),
            "{ctx}: unexpected outcome {r:?}"
        );
        if r.is_ok() {
            tally.tolerated += 1;
        }
        plan.clear();
        check_fault_recovery(scenario, &ctx, &store, prep, r.is_ok(), tally);
        tally.fail_runs[NO_SPACE_MODE] += 1;
        budget += step;
    }
}

/// After the operation acted on a flipped bit: a new server starts; every share the
/// operation does not touch is byte-identical; every share it touches reads as old, new,
/// something else that parses, or a typed error (never a panic); new operations work.
fn check_after_flip(
    scenario: &Scenario,
    ctx: &str,
    image: &MemStore,
    refs: &Refs,
    tally: &mut Tally,
) {
    let store = FaultyStore::new(image.deep_clone());
    let mut srv = Server::new(store.clone(), NODE, config(scenario.resume), RESTART)
        .unwrap_or_else(|e| panic!("{ctx}: the server did not start: {e:?}"));
    let got = Image::of(&store);
    let keys: BTreeSet<Key> = refs
        .before
        .published
        .keys()
        .chain(refs.after.published.keys())
        .chain(got.published.keys())
        .copied()
        .collect();
    for key in &keys {
        let old = refs.before.published.get(key);
        let new = refs.after.published.get(key);
        let now = got.published.get(key);
        let touched = old != new || refs.mids.iter().any(|m| m.published.get(key) != old);
        if !touched {
            assert!(
                now == old,
                "{ctx}: {key:?}, untouched by the operation, changed"
            );
            continue;
        }
        if now.is_none() || now == old || now == new {
            continue;
        }
        match srv.stat_share(&key.0, key.1) {
            Ok(_) => tally.flip_changed += 1,
            Err(Error::Bug(b)) => panic!("{ctx}: {key:?}: internal error {b}"),
            Err(_) => tally.flip_corrupt += 1,
        }
    }
    tally.flip_checks += 1;
    next_operations(ctx, &mut srv, &store);
}

/// Each injected failure is reported as what it was, or the operation succeeded (and is
/// then checked as acknowledged).
fn check_fault_outcome(ctx: &str, fault: Fault, r: &Res<()>, tally: &mut Tally) {
    let reported = match fault {
        Fault::Fail | Fault::Ambiguous => {
            matches!(r, Err(Error::Io(StoreFault::Injected(_)) | Error::Poisoned))
        }
        Fault::Short => matches!(r, Err(Error::Io(StoreFault::ShortWrite) | Error::Poisoned)),
        // A flipped bit is not detected as such: it may read as corruption, a failed
        // test, or a different value.
        Fault::BitFlip => r.is_err(),
    };
    if r.is_ok() {
        if fault != Fault::BitFlip {
            tally.tolerated += 1;
        }
    } else if !reported {
        // An ambiguous fault may surface as the error of a later step that found its
        // work already done.
        assert!(
            fault == Fault::Ambiguous || fault == Fault::BitFlip,
            "{ctx}: the failure was reported as {r:?}"
        );
    }
}

/// The recovery checks after an injected fault (a failed step or a full store) that the
/// operation went on through: without crashes inside the recovery.
fn check_fault_recovery(
    scenario: &Scenario,
    ctx: &str,
    store: &FaultyStore,
    prep: &Prepared,
    acked: bool,
    tally: &mut Tally,
) {
    let checks = Checks {
        acked,
        ..Checks::default()
    };
    check_recovery(
        scenario,
        ctx,
        &store.crash_image(),
        &prep.refs,
        checks,
        tally,
    );
}

fn check_recovery(
    scenario: &Scenario,
    ctx: &str,
    image: &MemStore,
    refs: &Refs,
    checks: Checks,
    tally: &mut Tally,
) {
    let resume = scenario.resume;
    let store = FaultyStore::new(image.deep_clone());
    let mut srv =
        recover(&store, resume).unwrap_or_else(|e| panic!("{ctx}: recovery failed: {e:?}"));
    let rec_ops = store.plan().ops();
    let got = Image::of(&store);
    let uploads = uploads_of(&srv);
    verify_shares(scenario, ctx, &got, refs, checks, tally);
    verify_space_and_uploads(scenario, ctx, &mut srv, &got, refs, tally);
    if checks.acked {
        // Acknowledged writes of a resumable upload are still recorded.
        if resume {
            for (key, _, written) in &refs.after_uploads {
                assert!(
                    uploads.iter().any(|(k, _, w)| k == key && w >= written),
                    "{ctx}: an acknowledged write of upload {key:?} was lost"
                );
            }
        }
        tally.acked_checked += 1;
    }

    // I5: recovery made itself durable: a power loss right after it changes nothing.
    let durable = FaultyStore::new(store.durable_image());
    let srv_d = recover(&durable, resume).unwrap();
    assert!(
        Image::of(&durable) == got,
        "{ctx}: recovery's result is not durable"
    );
    drop(srv_d);

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
    for j in 0..if checks.crash_in_recovery { rec_ops } else { 0 } {
        let crashing = FaultyStore::new(image.deep_clone());
        crashing.plan().crash_at(j);
        let r = recover(&crashing, resume);
        assert!(
            matches!(r, Err(Error::Io(StoreFault::Crashed))),
            "{ctx}: recovery did not report the crash at its step {j}"
        );
        drop(r);
        let mut images = vec![("crash", crashing.crash_image())];
        if checks.power_loss_in_recovery {
            images.push(("power loss", crashing.durable_image()));
        }
        for (what, after) in images {
            let third = FaultyStore::new(after);
            let srv3 = recover(&third, resume).unwrap_or_else(|e| {
                panic!("{ctx}: recovery after a {what} at recovery step {j} failed: {e:?}")
            });
            assert!(
                Image::of(&third) == got,
                "{ctx}: recovery after a {what} at recovery step {j} differs"
            );
            assert_eq!(
                uploads_of(&srv3),
                uploads,
                "{ctx}: recovery after a {what} at step {j}: uploads"
            );
            if what == "crash" {
                tally.recovery_points += 1;
            } else {
                tally.power_recovery_states += 1;
            }
        }
    }

    next_operations(ctx, &mut srv, &store);
}

/// I1, I2, I4: each published share is old, a committed step, or new (new only, once
/// the operation was acknowledged); I3: it keeps its leases.
fn verify_shares(
    scenario: &Scenario,
    ctx: &str,
    got: &Image,
    refs: &Refs,
    checks: Checks,
    tally: &mut Tally,
) {
    let acked = checks.acked;

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
            _ if acked => now == new,
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
            "{ctx}: share {key:?} is neither old nor new (acknowledged: {acked}; present before {}, after {}, now {})",
            old.is_some(),
            new.is_some(),
            now.is_some()
        );
        tally.share_checks += 1;
        if now.and_then(kind) == Some(ShareKind::Mutable) {
            tally.mutable_checks += 1;
        }
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
                    tally.lease_checks += 1;
                }
            }
        }
    }
    assert!(
        got.advisories == refs.after.advisories
            || (!acked && got.advisories == refs.before.advisories),
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
    let reader = srv.open_bucket(&SI_Z, sh(0)).unwrap();
    assert_eq!(
        srv.read_bucket_vec(&reader, 0, 1000).unwrap(),
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
//
// Each scenario's setup starts from a server at `NOW` holding the `background` shares
// (`Scenario::new`); it states only what it adds to them and the operation under test.

fn allocate_scenario(resume: bool) -> Scenario {
    Scenario::new(
        "allocate (new shares; renew and add leases on held shares)",
        resume,
        |srv| {
            upload(srv, SI_A, 0, 700, 1, NOW);
            upload(srv, SI_A, 1, 700, 2, NOW);
        },
        |srv| {
            let got = try_allocate(srv, SI_A, &[0, 1, 2, 3], 700, 1, NOW + 1000)?;
            ensure(got == [sh(2), sh(3)].into_iter().collect(), "allocated")
        },
    )
}

fn write_in_order_scenario(resume: bool) -> Scenario {
    Scenario::new(
        "write in order",
        resume,
        |srv| {
            allocate(srv, SI_B, &[0, 1], 2500, 1, NOW);
            write(srv, SI_B, 0, 2500, (0, 1000), NOW).unwrap();
        },
        |srv| {
            ensure(
                !write(srv, SI_B, 0, 2500, (1000, 2000), NOW + 10)?,
                "complete",
            )
        },
    )
}

fn write_out_of_order_scenario(resume: bool) -> Scenario {
    Scenario::new(
        "write out of order (and an identical overlapping rewrite)",
        resume,
        |srv| {
            allocate(srv, SI_B, &[0], 2500, 1, NOW);
            write(srv, SI_B, 0, 2500, (1500, 2500), NOW).unwrap();
        },
        |srv| {
            ensure(
                !write(srv, SI_B, 0, 2500, (200, 900), NOW + 10)?,
                "complete",
            )?;
            // Across both written ranges and the hole between them.
            ensure(
                !write(srv, SI_B, 0, 2500, (800, 1700), NOW + 20)?,
                "complete",
            )
        },
    )
}

fn close_scenario(resume: bool) -> Scenario {
    Scenario::new(
        "close",
        resume,
        |srv| {
            allocate(srv, SI_B, &[0, 1], 2500, 1, NOW);
            write(srv, SI_B, 0, 2500, (0, 2500), NOW).unwrap();
            write(srv, SI_B, 1, 2500, (0, 900), NOW).unwrap();
        },
        |srv| srv.close(&SI_B, sh(0), &upload_secret()).map(drop),
    )
}

fn abort_scenario(resume: bool) -> Scenario {
    Scenario::new(
        "abort",
        resume,
        |srv| {
            allocate(srv, SI_B, &[0, 1], 2500, 1, NOW);
            write(srv, SI_B, 0, 2500, (0, 900), NOW).unwrap();
        },
        |srv| srv.abort(&SI_B, sh(0), &upload_secret()),
    )
}

fn expire_scenario(resume: bool) -> Scenario {
    Scenario::new(
        "expire_stale_uploads",
        resume,
        |srv| {
            allocate(srv, SI_B, &[0, 1], 2500, 1, NOW);
            write(srv, SI_B, 0, 2500, (0, 900), NOW).unwrap();
            allocate(srv, SI_C, &[0], 800, 1, NOW + 1500);
            write(srv, SI_C, 0, 800, (0, 100), NOW + 1500).unwrap();
        },
        |srv| {
            ensure(
                srv.expire_stale_uploads(NOW + 1800, |_, _| {})? == 2,
                "expired",
            )
        },
    )
}

/// The one scenario whose setup restarts the server, so it starts the server itself.
fn resumed_upload_scenario() -> Scenario {
    Scenario::with_setup(
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
            ensure(
                !write(srv, SI_B, 0, 2500, (800, 1600), NOW + 200)?,
                "complete",
            )?;
            ensure(
                write(srv, SI_B, 0, 2500, (1600, 2500), NOW + 200)?,
                "incomplete",
            )?;
            srv.close(&SI_B, sh(0), &upload_secret()).map(drop)
        }),
    )
}

fn add_lease_immutable_scenario() -> Scenario {
    Scenario::new(
        "add_lease (immutable: add on two shares, renew on another)",
        false,
        |srv| {
            upload(srv, SI_A, 0, 700, 1, NOW);
            upload(srv, SI_A, 1, 700, 1, NOW);
            // Shares 0 and 1 get the lease of 3 now; share 2 does not.
            add_leases(srv, SI_A, [3]);
            upload(srv, SI_A, 2, 700, 1, NOW);
        },
        |srv| {
            let n = srv.add_lease(&SI_A, &renew(3), &cancel(3), 1, NOW + 1000)?;
            ensure(n == 3, "leases")
        },
    )
}

fn add_lease_mutable_scenario() -> Scenario {
    Scenario::new(
        "add_lease (mutable: append an extra slot, renew on another)",
        false,
        |srv| {
            create_mutable(srv, SI_M, 0, &mutable_bytes(1, 400), 1);
            add_leases(srv, SI_M, 2..=4);
            create_mutable(srv, SI_M, 1, &mutable_bytes(2, 400), 5);
        },
        |srv| {
            let n = srv.add_lease(&SI_M, &renew(5), &cancel(5), 1, NOW + 1000)?;
            ensure(n == 2, "leases")
        },
    )
}

fn renew_immutable_scenario() -> Scenario {
    Scenario::new(
        "renew_lease (immutable)",
        false,
        |srv| {
            upload(srv, SI_A, 0, 700, 1, NOW);
            upload(srv, SI_A, 1, 700, 2, NOW);
            add_leases(srv, SI_A, [1]);
        },
        |srv| srv.renew_lease(&SI_A, &renew(1), NOW + 1000),
    )
}

fn renew_mutable_scenario() -> Scenario {
    Scenario::new(
        "renew_lease (mutable, in an extra slot)",
        false,
        |srv| {
            create_mutable(srv, SI_M, 0, &mutable_bytes(1, 400), 1);
            create_mutable(srv, SI_M, 1, &mutable_bytes(2, 400), 1);
            add_leases(srv, SI_M, 2..=6);
        },
        |srv| srv.renew_lease(&SI_M, &renew(6), NOW + 1000),
    )
}

fn cancel_immutable_scenario() -> Scenario {
    Scenario::new(
        "cancel_lease (immutable: compaction, last lease deletes)",
        false,
        |srv| {
            upload(srv, SI_A, 0, 700, 1, NOW);
            add_leases(srv, SI_A, [2, 3]);
            upload(srv, SI_A, 1, 700, 1, NOW);
        },
        |srv| srv.cancel_lease(&SI_A, &cancel(1)).map(drop),
    )
    .checked_by(cancel_check)
}

fn cancel_mutable_scenario() -> Scenario {
    Scenario::new(
        "cancel_lease (mutable: blank slots, last lease deletes)",
        false,
        |srv| {
            create_mutable(srv, SI_M, 0, &mutable_bytes(1, 400), 1);
            add_leases(srv, SI_M, 2..=5);
            create_mutable(srv, SI_M, 1, &mutable_bytes(2, 400), 1);
        },
        |srv| srv.cancel_lease(&SI_M, &cancel(1)).map(drop),
    )
    .checked_by(cancel_check)
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
        |_| {},
        |srv| {
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
        },
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
    Scenario::new(
        "test-and-write, one share (in place and growing; renews its lease)",
        false,
        |srv| {
            create_mutable(srv, SI_M, 0, &mutable_bytes(1, 1500), 1);
            create_mutable(srv, SI_M, 1, &mutable_bytes(2, 1500), 1);
        },
        op(true),
    )
    .or_after(op(false))
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
    Scenario::new(
        "test-and-write, several shares (3 shares, growth moving 2 extra leases, new lease)",
        false,
        |srv| {
            for n in 0..3 {
                create_mutable(srv, SI_M, n, &mutable_bytes(n + 1, 200), 1);
            }
            add_leases(srv, SI_M, 2..=6);
        },
        op(true),
    )
    .or_after(op(false))
}

fn truncation_scenario() -> Scenario {
    Scenario::new(
        "truncation (test-and-write, new_length shrinks; 5 leases)",
        false,
        |srv| {
            create_mutable(srv, SI_M, 0, &mutable_bytes(3, 3000), 1);
            add_leases(srv, SI_M, 2..=5);
        },
        |srv| {
            let old = mutable_bytes(3, 3000);
            let slot = Slot {
                n: 0,
                expect: Some(&old[..32]),
                writes: vec![(0, b"head".to_vec())],
                new_length: Some(10),
            };
            slot_write(srv, SI_M, &[slot], 1, false, NOW + 1000)
        },
    )
}

fn deletion_scenario() -> Scenario {
    Scenario::new(
        "deletion (test-and-write, new_length 0, and a write to another share)",
        false,
        |srv| {
            create_mutable(srv, SI_M, 0, &mutable_bytes(1, 900), 1);
            create_mutable(srv, SI_M, 1, &mutable_bytes(2, 900), 1);
        },
        |srv| {
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
        },
    )
}

fn advise_scenario() -> Scenario {
    Scenario::new(
        "advise_corrupt_share (name taken: suffix)",
        false,
        |srv| {
            srv.advise_corrupt_share(b"immutable", &SI_BG, sh(0), b"first", NOW)
                .unwrap();
        },
        |srv| {
            srv.advise_corrupt_share(b"immutable", &SI_BG, sh(0), b"second", NOW)
                .map(drop)
        },
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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    ProcessCrash,
    PowerLoss,
    FailNth,
}

/// Runs one phase over every scenario; prints a row per scenario and per operation.
/// Returns the tallies by operation (the scenario name up to its first bracket) and the
/// total.
fn run_phase(phase: Phase) -> (Vec<(String, usize, Tally)>, Tally) {
    let scenarios = scenarios();
    let mut by_op: Vec<(String, usize, Tally)> = Vec::new();
    let mut total = Tally::default();
    for s in &scenarios {
        let prep = prepare(s);
        let mut t = Tally::default();
        match phase {
            Phase::ProcessCrash => run_process_crashes(s, &prep, &mut t),
            Phase::PowerLoss => run_power_losses(s, &prep, &mut t),
            Phase::FailNth => run_fail_nth(s, &prep, &mut t),
        }
        eprintln!(
            "server_crash {phase:?}: {:<72} {:>4} crash points, {:>4} crashes in recovery, {:>6} power-loss states, {:>5} fail-nth runs",
            s.name,
            t.points,
            t.recovery_points,
            t.power_states,
            t.fail_total()
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
            "server_crash {phase:?}: operation {op:<48} {n:>2} scenario(s): {:>4} crash points + {:>4} in recovery; {:>6} power-loss states ({} torn); {:>5} fail-nth runs",
            t.points,
            t.recovery_points,
            t.power_states,
            t.torn_states,
            t.fail_total()
        );
    }
    let key = phase_key(phase);
    figure(&format!("{key}_share_checks"), total.share_checks, 1);
    figure(&format!("{key}_mutable_checks"), total.mutable_checks, 1);
    figure(&format!("{key}_lease_checks"), total.lease_checks, 1);
    // Every crash phase ends each operation with an acknowledged run; under fail-Nth an
    // operation is acknowledged only where it succeeded despite the fault.
    let min_acked = usize::from(phase != Phase::FailNth);
    figure(
        &format!("{key}_acked_checks"),
        total.acked_checked,
        min_acked,
    );
    figure("operations_covered", by_op.len(), 16);
    (by_op, total)
}

/// Prints a figure for `make reliability` (`tools/reliability.py`) and demands at least
/// `min` of it, so that a phase that silently checks less fails.
fn figure(key: &str, n: usize, min: usize) {
    println!("RELIABILITY {key} {n}");
    assert!(n >= min, "{key}: {n}, fewer than {min}");
}

fn phase_key(phase: Phase) -> &'static str {
    match phase {
        Phase::ProcessCrash => "process_crash",
        Phase::PowerLoss => "power_loss",
        Phase::FailNth => "fail_nth",
    }
}

#[test]
fn every_crash_point_of_every_server_operation_recovers() {
    let (_, total) = run_phase(Phase::ProcessCrash);
    eprintln!(
        "server_crash: process crashes: {} crash points in operations + {} in recovery = {} crash states checked; \
         {} resumed uploads verified; {} recoveries left an interrupted immutable lease record \
         (ignored by reads, removed by the next lease update)",
        total.points,
        total.recovery_points,
        total.points + total.recovery_points,
        total.resumed,
        total.immutable_excess,
    );
    figure("crash_states_process", total.points, 300);
    figure(
        "crash_states_process_in_recovery",
        total.recovery_points,
        300,
    );
    assert!(
        total.resumed >= 20,
        "too few resumed uploads checked: {}",
        total.resumed
    );
}

#[test]
fn every_power_loss_state_of_every_server_operation_recovers() {
    let (_, total) = run_phase(Phase::PowerLoss);
    eprintln!(
        "server_crash: power loss: {} states ({} with a torn write) + {} crash states in recovery \
         (each recovered from its process-crash and its power-loss image); every subset tried \
         when at most {} changes were pending",
        total.power_states,
        total.torn_states,
        total.recovery_points + total.power_recovery_states,
        exhaustive_limit()
    );
    figure("crash_states_power_loss", total.power_states, 1000);
    figure("crash_states_torn", total.torn_states, 100);
    figure(
        "crash_states_power_loss_in_recovery",
        total.recovery_points + total.power_recovery_states,
        100,
    );
}

#[test]
fn fail_nth_loops_over_every_server_operation() {
    let (_, total) = run_phase(Phase::FailNth);
    for (&(key, label, _), runs) in MODES.iter().zip(total.fail_runs) {
        eprintln!("server_crash: fail-nth, {label}: {runs} runs");
        figure(&format!("fail_nth_{key}"), runs, 50);
    }
    figure("fail_nth_tolerated", total.tolerated, 0);
    figure("fail_nth_bit_flip_corrupt_shares", total.flip_corrupt, 0);
    figure("fail_nth_bit_flip_changed_shares", total.flip_changed, 0);
    assert!(total.flip_checks > 0);
    eprintln!(
        "server_crash: fail-nth: {} runs in all; {} operations succeeded despite a fault other than a bit flip (and were checked as acknowledged)",
        total.fail_total(),
        total.tolerated
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

/// Regression: compacting immutable lease records after a cancellation moved each record
/// down without a sync between moves, so a power loss could keep a later move and lose
/// the one before it, losing a kept lease. Every crash point and every persisted subset.
#[test]
fn compacting_leases_loses_no_kept_lease_at_any_power_loss() {
    let lease = |seed: u8| NewLease {
        owner_num: 0,
        renew: renew(seed),
        cancel: cancel(seed),
        expiration_time: 100 + u32::from(seed),
        nodeid: NODE,
    };
    let setup = || {
        let mut store = FaultyStore::new(MemStore::new());
        let io = store.create_incoming(&SI_A, sh(0)).unwrap();
        let mut c = ImmutableContainer::create(io, ImmutableVersion::V2, 10).unwrap();
        c.write_share_data(0, b"0123456789").unwrap();
        for seed in 1..=4 {
            c.add_lease(&lease(seed)).unwrap();
        }
        store.publish(&SI_A, sh(0)).unwrap();
        let io = store.open(&SI_A, sh(0)).unwrap().unwrap();
        (store, ImmutableContainer::open(io).unwrap())
    };
    let (store, mut c) = setup();
    let base = store.plan().ops();
    c.cancel_lease(&cancel(1)).unwrap();
    let count = store.plan().ops() - base;
    let mut states = 0;
    for k in 0..count {
        let (store, mut c) = setup();
        store.plan().crash_at(base + k);
        assert!(c.cancel_lease(&cancel(1)).is_err());
        let pending = store.pending();
        for mask in 0..1u32 << pending.len() {
            let image = store.power_loss_image(|i, _| {
                if mask & (1 << i) == 0 {
                    Persist::Lost
                } else {
                    Persist::Kept
                }
            });
            let bytes = image.snapshot().remove(0).2;
            let leases: BTreeSet<u32> = logical(&canonical(&bytes))
                .1
                .into_iter()
                .map(|(_, expiry)| expiry)
                .collect();
            for seed in 2..=4u8 {
                assert!(
                    leases.contains(&(100 + u32::from(seed))),
                    "crash at step {k}, persisted {mask:b}: lease {seed} lost"
                );
            }
            states += 1;
        }
    }
    assert!(states > count);
}

/// Regression: a short write of the header while a journal was being replayed left a
/// header that did not decode, and the share could no longer be opened (its journal never
/// replayed). Every write of a growing update is cut short in turn.
#[test]
fn a_header_torn_by_a_short_write_during_replay_is_recovered() {
    let old = mutable_bytes(1, 300);
    let grown = mutable_bytes(2, 200);
    let setup = || {
        let mut store = FaultyStore::new(MemStore::new());
        let io = store.create_incoming(&SI_M, sh(0)).unwrap();
        let mut c = MutableContainer::create(io, MutableVersion::V2, NODE, WE).unwrap();
        c.writev(&[(0, &old)], None).unwrap();
        store.publish(&SI_M, sh(0)).unwrap();
        store
    };
    let data = |store: &FaultyStore| {
        let io = VecIo::from_vec(store.crash_image().snapshot().remove(0).2);
        let mut c = MutableContainer::open(io).unwrap();
        let mut buf = vec![0u8; c.data_length() as usize];
        c.read_share_data(0, &mut buf).unwrap();
        buf
    };
    let mut new = old.clone();
    new.resize(1000, 0);
    new.extend_from_slice(&grown);
    let mut cut = 0;
    for n in 0.. {
        let mut store = setup();
        let io = store.open(&SI_M, sh(0)).unwrap().unwrap();
        let mut c = MutableContainer::open(io).unwrap();
        let from = store.plan().count(StoreOp::Write);
        store
            .plan()
            .inject(StoreOp::Write, from + n, false, Fault::Short);
        let r = c.writev(&[(1000, &grown)], None);
        if store.plan().fired() == 0 {
            r.unwrap();
            assert_eq!(data(&store), new);
            break;
        }
        assert!(matches!(r, Err(ContainerError::Io(StoreFault::ShortWrite))));
        store.plan().clear();
        let got = data(&store);
        assert!(
            got == old || got == new,
            "short write #{n}: neither old nor new"
        );
        cut += 1;
    }
    assert!(cut >= 3, "only {cut} writes cut short");
}

//! Model-based property test of the server: random sequences of server operations
//! (allocations, writes in any order, closes, aborts, idle expiry, restarts, leases, test-
//! and-set slot writes, reads) over `MemStore`, each checked against a plain model (maps
//! of shares to bytes and leases, and of uploads to written bytes). Every result is
//! compared, and after every step the whole state is.

use std::collections::BTreeMap;

use proptest::prelude::*;
use tahoe_shares::container::{TestOperator, TestVector};
use tahoe_shares::format::lease::DEFAULT_LEASE_DURATION;
use tahoe_shares::format::mutable::MAX_MUTABLE_SHARE_SIZE;
use tahoe_shares::format::ShareKind;
use tahoe_shares::io::MemError;
use tahoe_shares::server::{AllocateRequest, Config, LeaseUpdate, Server, SlotSecrets, SlotWrite};
use tahoe_shares::store::{MemStore, ShareStore};
use tahoe_shares::{
    CancelSecret, Error, NodeId, RenewSecret, ShareNumber, ShareSet, StorageIndex, UploadSecret,
    WriteEnabler,
};

const START: u64 = 1_700_000_000;
const NODE: NodeId = NodeId([7; 20]);
const SIS: [StorageIndex; 3] = [
    StorageIndex::new([1; 16]),
    StorageIndex::new([2; 16]),
    StorageIndex::new([3; 16]),
];
/// Share numbers used: 0..SHARES (a share number never allocated is `SHARES`).
const SHARES: u8 = 4;
/// Lease secret seeds: 0..SEEDS.
const SEEDS: u8 = 3;
const IDLE: u64 = 30 * 60;
const MAX_UPLOADS: usize = 5;
const MAX_RANGES: usize = 2;

// ----- operations ------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum TestSpec {
    /// The bytes the share holds there (passes).
    Actual(u8, u8),
    /// An empty specimen (passes only if the read is empty).
    Empty(u8, u8),
    /// One byte more than the share holds there (fails).
    Wrong(u8, u8),
}

#[derive(Debug, Clone)]
struct EntrySpec {
    n: u8,
    tests: Vec<TestSpec>,
    writes: Vec<(u64, Vec<u8>)>,
    new_length: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
enum Aim {
    Anywhere,
    Fill,
    Piece,
    Rewrite,
}

#[derive(Debug, Clone)]
enum Op {
    Allocate {
        si: usize,
        shares: u8,
        size: u64,
        seed: u8,
        secret: u8,
        renew: bool,
    },
    /// A write to an upload: anywhere (`Anywhere`), over written bytes (`Rewrite`), or to
    /// a range not yet written, whole (`Fill`) or a piece of it (`Piece`), so that uploads
    /// complete in any order.
    Write {
        pick: usize,
        at: u64,
        len: u64,
        aim: Aim,
        corrupt: bool,
        wrong_secret: bool,
    },
    Close {
        pick: usize,
        wrong_secret: bool,
    },
    Abort {
        pick: usize,
        wrong_secret: bool,
    },
    Expire,
    Restart,
    /// Lease operations may come `early` seconds before the current time (the API takes
    /// any time; renewals must still never back-date).
    AddLease {
        pick: usize,
        seed: u8,
        early: u64,
    },
    RenewLease {
        pick: usize,
        seed: u8,
        early: u64,
    },
    CancelLease {
        pick: usize,
        seed: u8,
    },
    Slot {
        si: usize,
        we: u8,
        entries: Vec<EntrySpec>,
        readv: Vec<(u64, u64)>,
        renew: bool,
        seed: u8,
    },
    SlotReadv {
        si: usize,
        shares: u8,
        readv: Vec<(u64, u64)>,
    },
    Read {
        pick: usize,
        offset: u64,
        len: u64,
    },
}

fn test_spec() -> impl Strategy<Value = TestSpec> {
    (0u8..3, 0u8..30, 0u8..12).prop_map(|(k, o, l)| match k {
        0 => TestSpec::Actual(o, l),
        1 => TestSpec::Empty(o, l),
        _ => TestSpec::Wrong(o, l),
    })
}

fn slot_write_vector() -> impl Strategy<Value = (u64, Vec<u8>)> {
    prop_oneof![
        20 => (0u64..40, prop::collection::vec(any::<u8>(), 0..12)),
        1 => Just((MAX_MUTABLE_SHARE_SIZE, vec![1u8])),
    ]
}

fn entry_spec() -> impl Strategy<Value = EntrySpec> {
    (
        0..=SHARES,
        prop::collection::vec(test_spec(), 0..3),
        prop::collection::vec(slot_write_vector(), 0..3),
        prop_oneof![6 => Just(None), 1 => Just(Some(0)), 2 => (1u64..50).prop_map(Some)],
    )
        .prop_map(|(n, tests, writes, new_length)| EntrySpec {
            n,
            tests,
            writes,
            new_length,
        })
}

fn readv() -> impl Strategy<Value = Vec<(u64, u64)>> {
    prop::collection::vec((0u64..50, 0u64..20), 0..3)
}

/// Storage indexes for immutable uploads (mostly the first) and for slots (mostly the
/// last): the middle one sees both kinds.
fn immutable_si() -> impl Strategy<Value = usize> {
    prop_oneof![3 => Just(0usize), 2 => Just(1usize), 1 => Just(2usize)]
}

fn mutable_si() -> impl Strategy<Value = usize> {
    prop_oneof![1 => Just(0usize), 2 => Just(1usize), 3 => Just(2usize)]
}

fn aim() -> impl Strategy<Value = Aim> {
    prop_oneof![
        2 => Just(Aim::Anywhere),
        2 => Just(Aim::Fill),
        3 => Just(Aim::Piece),
        2 => Just(Aim::Rewrite),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (immutable_si(), 1u8..16, 0u64..32, 0..SEEDS, 0u8..3, prop::bool::weighted(0.8))
            .prop_map(|(si, shares, size, seed, secret, renew)| Op::Allocate {
                si, shares, size, seed, secret, renew,
            }),
        14 => (any::<usize>(), any::<u64>(), 0u64..10, aim(), prop::bool::weighted(0.15),
              prop::bool::weighted(0.05))
            .prop_map(|(pick, at, len, aim, corrupt, wrong_secret)| Op::Write {
                pick, at, len, aim, corrupt, wrong_secret,
            }),
        2 => (any::<usize>(), prop::bool::weighted(0.1))
            .prop_map(|(pick, wrong_secret)| Op::Close { pick, wrong_secret }),
        1 => (any::<usize>(), prop::bool::weighted(0.1))
            .prop_map(|(pick, wrong_secret)| Op::Abort { pick, wrong_secret }),
        1 => Just(Op::Expire),
        1 => Just(Op::Restart),
        2 => (any::<usize>(), 0..SEEDS, early())
            .prop_map(|(pick, seed, early)| Op::AddLease { pick, seed, early }),
        3 => (any::<usize>(), 0..SEEDS, early())
            .prop_map(|(pick, seed, early)| Op::RenewLease { pick, seed, early }),
        2 => (any::<usize>(), 0..SEEDS).prop_map(|(pick, seed)| Op::CancelLease { pick, seed }),
        5 => (mutable_si(), prop_oneof![8 => Just(0u8), 1 => Just(1u8)],
              prop::collection::vec(entry_spec(), 0..3), readv(), any::<bool>(), 0..SEEDS)
            .prop_map(|(si, we, entries, readv, renew, seed)| Op::Slot {
                si, we, entries, readv, renew, seed,
            }),
        2 => (0..SIS.len(), 0u8..16, readv())
            .prop_map(|(si, shares, readv)| Op::SlotReadv { si, shares, readv }),
        2 => (any::<usize>(), 0u64..30, 0u64..30)
            .prop_map(|(pick, offset, len)| Op::Read { pick, offset, len }),
    ]
}

fn early() -> impl Strategy<Value = u64> {
    prop_oneof![2 => Just(0u64), 1 => 1u64..3000]
}

/// Seconds to let pass before an operation.
fn pause() -> impl Strategy<Value = u64> {
    prop_oneof![4 => Just(0u64), 4 => 1u64..300, 1 => Just(IDLE - 1), 1 => Just(IDLE)]
}

// ----- secrets and content ---------------------------------------------------------------

fn renew(seed: u8) -> RenewSecret {
    RenewSecret::new([0x40 + seed; 32])
}

fn cancel(seed: u8) -> CancelSecret {
    CancelSecret::new([0x50 + seed; 32])
}

fn upload_secret(i: u8) -> UploadSecret {
    UploadSecret::new(&[b's', i]).unwrap()
}

fn write_enabler(we: u8) -> WriteEnabler {
    WriteEnabler::new([0x60 + we; 32])
}

/// The bytes an uploader sends for a share.
fn content(key: (usize, u8), offset: u64, len: u64) -> Vec<u8> {
    (offset..offset + len)
        .map(|p| (key.0 as u64 * 31 + u64::from(key.1) * 7 + p * 13) as u8)
        .collect()
}

fn set_of(mask: u8) -> ShareSet {
    (0..SHARES)
        .filter(|n| mask & (1 << n) != 0)
        .map(ShareNumber)
        .collect()
}

fn truncated(data: &[u8], offset: u64, len: u64) -> Vec<u8> {
    let start = (offset as usize).min(data.len());
    let end = (offset.saturating_add(len) as usize).min(data.len());
    data[start..end].to_vec()
}

// ----- the model -------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
struct MLease {
    seed: u8,
    owner: u32,
    expiry: u64,
}

#[derive(Debug, Clone)]
struct MShare {
    mutable: bool,
    data: Vec<u8>,
    we: u8,
    leases: Vec<MLease>,
}

#[derive(Debug, Clone)]
struct MUpload {
    secret: u8,
    data: Vec<u8>,
    written: Vec<bool>,
    last: u64,
    lease: MLease,
}

type Key = (usize, u8);
type Reads = Vec<(u8, Vec<Vec<u8>>)>;

/// What an operation answered, comparable between server and model.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Out {
    Alloc(ShareSet, ShareSet),
    Bool(bool),
    Size(u64),
    Unit,
    Count(usize),
    Expired(Vec<(StorageIndex, ShareNumber)>),
    Slot(bool, Reads),
    Reads(Reads),
    Bytes(Vec<u8>),
}

type Answer = Result<Out, String>;

fn err(e: &Error<MemError>) -> String {
    // The context these variants carry (share number, magic, accepting nodes) is checked
    // by tests/server.rs; the model compares the kind of failure.
    match e {
        Error::NoSuchLease { .. } => "NoSuchLease".into(),
        Error::UnknownMutableMagic { .. } => "UnknownMutableMagic".into(),
        Error::UnknownImmutableVersion { version, .. } => {
            format!("UnknownImmutableVersion({version})")
        }
        e => format!("{e:?}"),
    }
}

/// Tahoe's `UnknownImmutableContainerVersionError` for a mutable share: the version field
/// reads the start of the mutable magic.
fn mutable_as_immutable() -> String {
    format!("UnknownImmutableVersion({})", u32::from_be_bytes(*b"Taho"))
}

#[derive(Debug, Default)]
struct Model {
    shares: BTreeMap<Key, MShare>,
    uploads: BTreeMap<Key, MUpload>,
    now: u64,
    resume: bool,
}

/// Adds a lease or renews the one with the same secret, never back-dating.
fn add_or_renew(leases: &mut Vec<MLease>, seed: u8, owner: u32, expiry: u64) {
    match leases.iter_mut().find(|l| l.seed == seed) {
        Some(l) => l.expiry = l.expiry.max(expiry),
        None => leases.push(MLease {
            seed,
            owner,
            expiry,
        }),
    }
}

/// The maximal runs of `true` in `bits[from..to]`.
fn runs(bits: &[bool], from: usize, to: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = from;
    while i < to {
        if bits[i] {
            let s = i;
            while i < to && bits[i] {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}

impl Model {
    fn expiry(&self) -> u64 {
        self.now + u64::from(DEFAULT_LEASE_DURATION)
    }

    fn held(&self, si: usize) -> Vec<(u8, &MShare)> {
        self.shares
            .range((si, 0)..=(si, u8::MAX))
            .map(|(k, s)| (k.1, s))
            .collect()
    }

    /// An upload in progress (or, now and then, one that is not).
    fn pick(&self, pick: usize) -> Key {
        match self.uploads.len() {
            n if n == 0 || pick % 16 == 0 => (pick % SIS.len(), SHARES),
            n => *self.uploads.keys().nth((pick / 16) % n).unwrap(),
        }
    }

    /// A share held (or, now and then, one that is not).
    fn pick_share(&self, pick: usize) -> Key {
        match self.shares.len() {
            n if n == 0 || pick % 16 == 0 => (pick % SIS.len(), SHARES),
            n => *self.shares.keys().nth((pick / 16) % n).unwrap(),
        }
    }

    /// The storage index of a share held, or any when none is.
    fn pick_si(&self, pick: usize) -> usize {
        self.pick_share(pick).0
    }

    /// Where a write goes and how long it is.
    fn place(&self, key: Key, at: u64, len: u64, aim: Aim) -> (u64, u64) {
        let Some(u) = self.uploads.get(&key) else {
            return (at % 8, len);
        };
        let size = u.data.len() as u64;
        let missing = runs(
            &u.written.iter().map(|b| !b).collect::<Vec<_>>(),
            0,
            u.data.len(),
        );
        let written = runs(&u.written, 0, u.data.len());
        match (aim, missing.is_empty()) {
            (Aim::Rewrite, _) if !written.is_empty() => {
                // Starts inside a written range, and may run past it.
                let (s, e) = written[(at as usize) % written.len()];
                let from = s as u64 + (at >> 8) % (e - s) as u64;
                (from, len.min(size - from).max(1))
            }
            (Aim::Anywhere | Aim::Rewrite, _) | (_, true) => (at % (size + 3), len),
            (Aim::Fill, false) => {
                let (s, e) = missing[(at as usize) % missing.len()];
                (s as u64, (e - s) as u64)
            }
            (Aim::Piece, false) => {
                let (s, e) = missing[(at as usize) % missing.len()];
                let from = s as u64 + (at >> 8) % (e - s) as u64;
                (from, (1 + len % 3).min(e as u64 - from))
            }
        }
    }

    fn upload_mut(&mut self, key: Key, wrong: bool) -> Result<&mut MUpload, String> {
        let u = self
            .uploads
            .get_mut(&key)
            .ok_or_else(|| err(&Error::NoSuchUpload))?;
        if wrong {
            return Err(err(&Error::BadUploadSecret));
        }
        Ok(u)
    }

    fn allocate(
        &mut self,
        si: usize,
        shares: u8,
        size: u64,
        seed: u8,
        secret: u8,
        renew: bool,
    ) -> Answer {
        let held = self.held(si);
        if held.iter().any(|(_, s)| s.mutable) {
            return Err(mutable_as_immutable());
        }
        let already: ShareSet = held.iter().map(|(n, _)| ShareNumber(*n)).collect();
        let mut allocated = ShareSet::new();
        let mut create = Vec::new();
        for n in set_of(shares).iter() {
            if already.contains(n) {
                continue;
            }
            if let Some(u) = self.uploads.get(&(si, n.0)) {
                if u.secret == secret && u.data.len() as u64 == size {
                    allocated.insert(n);
                }
                continue;
            }
            create.push(n);
        }
        if self.uploads.len() + create.len() > MAX_UPLOADS {
            return Err(err(&Error::LimitReached(tahoe_shares::Limit::Uploads)));
        }
        let expiry = self.expiry();
        if renew {
            for (_, s) in self.shares.range_mut((si, 0)..=(si, u8::MAX)) {
                add_or_renew(&mut s.leases, seed, 0, expiry);
            }
        }
        for n in create {
            allocated.insert(n);
            self.uploads.insert(
                (si, n.0),
                MUpload {
                    secret,
                    data: vec![0; size as usize],
                    written: vec![false; size as usize],
                    last: self.now,
                    lease: MLease {
                        seed,
                        owner: 0,
                        expiry,
                    },
                },
            );
        }
        Ok(Out::Alloc(already, allocated))
    }

    fn write(&mut self, key: Key, offset: u64, data: &[u8], wrong: bool) -> Answer {
        let now = self.now;
        let u = self.upload_mut(key, wrong)?;
        u.last = now;
        let size = u.data.len();
        let length = data.len() as u64;
        let end = offset + length;
        let (o, e) = (offset as usize, end as usize);
        // Conflicts are found before the size is checked, as in Tahoe.
        for (s, t) in runs(&u.written, o.min(size), e.min(size)) {
            if u.data[s..t] != data[s - o..t - o] {
                return Err(err(&Error::ConflictingWrite {
                    start: s as u64,
                    end: t as u64,
                }));
            }
        }
        if end > size as u64 {
            return Err(err(&Error::DataTooLarge {
                max: size as u64,
                offset,
                length,
            }));
        }
        let mut after = u.written.clone();
        after[o..e].fill(true);
        if runs(&after, 0, size).len() > MAX_RANGES {
            return Err(err(&Error::LimitReached(
                tahoe_shares::Limit::RangesPerUpload,
            )));
        }
        u.data[o..e].copy_from_slice(data);
        u.written = after;
        Ok(Out::Bool(u.written.iter().all(|b| *b)))
    }

    fn close(&mut self, key: Key, wrong: bool) -> Answer {
        self.upload_mut(key, wrong)?;
        let u = self.uploads.remove(&key).unwrap();
        let size = 12 + u.data.len() as u64 + 72;
        self.shares.insert(
            key,
            MShare {
                mutable: false,
                data: u.data,
                we: 0,
                leases: vec![u.lease],
            },
        );
        Ok(Out::Size(size))
    }

    fn abort(&mut self, key: Key, wrong: bool) -> Answer {
        self.upload_mut(key, wrong)?;
        self.uploads.remove(&key);
        Ok(Out::Unit)
    }

    fn expire(&mut self) -> Out {
        let now = self.now;
        let stale: Vec<Key> = self
            .uploads
            .iter()
            .filter(|(_, u)| now - u.last >= IDLE)
            .map(|(k, _)| *k)
            .collect();
        for k in &stale {
            self.uploads.remove(k);
        }
        Out::Expired(stale.iter().map(|k| (SIS[k.0], ShareNumber(k.1))).collect())
    }

    fn restart(&mut self) {
        if self.resume {
            let now = self.now;
            for u in self.uploads.values_mut() {
                u.last = now;
            }
        } else {
            self.uploads.clear();
        }
    }

    fn add_lease(&mut self, si: usize, seed: u8, early: u64) -> Out {
        let expiry = self.expiry() - early;
        let mut count = 0;
        for (_, s) in self.shares.range_mut((si, 0)..=(si, u8::MAX)) {
            add_or_renew(&mut s.leases, seed, 1, expiry);
            count += 1;
        }
        Out::Count(count)
    }

    fn renew_lease(&mut self, si: usize, seed: u8, early: u64) -> Answer {
        let expiry = self.expiry() - early;
        let mut found = false;
        for (_, s) in self.shares.range_mut((si, 0)..=(si, u8::MAX)) {
            let l = s
                .leases
                .iter_mut()
                .find(|l| l.seed == seed)
                .ok_or_else(|| "NoSuchLease".to_string())?;
            l.expiry = l.expiry.max(expiry);
            found = true;
        }
        if found {
            Ok(Out::Unit)
        } else {
            Err("NoSuchLease".to_string())
        }
    }

    /// `sizes` are the container sizes of the mutable shares before the call.
    fn cancel_lease(&mut self, si: usize, seed: u8, sizes: &BTreeMap<u8, u64>) -> Answer {
        let mut freed = 0;
        let mut found = false;
        let mut gone = Vec::new();
        for (k, s) in self.shares.range_mut((si, 0)..=(si, u8::MAX)) {
            let before = s.leases.len();
            s.leases.retain(|l| l.seed != seed);
            let removed = (before - s.leases.len()) as u64;
            if removed == 0 {
                continue;
            }
            found = true;
            let last = s.leases.is_empty();
            if s.mutable {
                if last {
                    freed += sizes[&k.1];
                }
            } else {
                freed += 72 * removed;
                if last {
                    freed += 12 + s.data.len() as u64;
                }
            }
            if last {
                gone.push(*k);
            }
        }
        for k in gone {
            self.shares.remove(&k);
        }
        if found {
            Ok(Out::Size(freed))
        } else {
            Err("NoSuchLease".to_string())
        }
    }

    fn read_immutable(&self, si: usize, n: u8, offset: u64, len: u64) -> Answer {
        match self.shares.get(&(si, n)) {
            None => Err(err(&Error::NoSuchShare)),
            Some(s) if s.mutable => Err(mutable_as_immutable()),
            Some(s) => Ok(Out::Bytes(truncated(&s.data, offset, len))),
        }
    }

    fn slot_readv(&self, si: usize, mask: u8, readv: &[(u64, u64)]) -> Answer {
        let want = set_of(mask);
        let mut out = Vec::new();
        for (n, s) in self.held(si) {
            if want.is_empty() || want.contains(ShareNumber(n)) {
                if !s.mutable {
                    return Err("UnknownMutableMagic".to_string());
                }
                out.push((
                    n,
                    readv
                        .iter()
                        .map(|&(o, l)| truncated(&s.data, o, l))
                        .collect(),
                ));
            }
        }
        Ok(Out::Reads(out))
    }

    /// A test as sent: offset, length and the specimen resolved against the share now.
    fn test_specimen(&self, key: Key, test: &TestSpec) -> (u64, u64, Vec<u8>) {
        let data = self
            .shares
            .get(&key)
            .map_or(&[][..], |share| &share.data[..]);
        let (TestSpec::Actual(offset, length)
        | TestSpec::Empty(offset, length)
        | TestSpec::Wrong(offset, length)) = *test;
        let (offset, length) = (u64::from(offset), u64::from(length));
        let specimen = match test {
            TestSpec::Actual(..) => truncated(data, offset, length),
            TestSpec::Empty(..) => Vec::new(),
            TestSpec::Wrong(..) => {
                let mut wrong = truncated(data, offset, length);
                wrong.push(b'!');
                wrong
            }
        };
        (offset, length, specimen)
    }

    fn slot(
        &mut self,
        si: usize,
        we: u8,
        entries: &[Entry],
        readv: &[(u64, u64)],
        lease: Option<u8>,
    ) -> Answer {
        let mut seen = ShareSet::new();
        if !entries.iter().all(|e| seen.insert(ShareNumber(e.n))) {
            return Err(err(&Error::InvalidArgument("share number listed twice")));
        }
        for (_, s) in self.held(si) {
            if !s.mutable {
                return Err("UnknownMutableMagic".to_string());
            }
            if s.we != we {
                return Err(err(&Error::BadWriteEnabler { nodeid: NODE }));
            }
        }
        let passed = entries.iter().all(|e| {
            let data = self.shares.get(&(si, e.n)).map_or(&[][..], |s| &s.data[..]);
            e.tests
                .iter()
                .all(|(o, l, spec)| truncated(data, *o, *l) == *spec)
        });
        let Out::Reads(read_data) = self.slot_readv(si, 0, readv)? else {
            unreachable!()
        };
        if !passed {
            return Ok(Out::Slot(false, read_data));
        }
        for e in entries.iter().filter(|e| e.new_length != Some(0)) {
            for (offset, data) in &e.writes {
                let length = data.len() as u64;
                if offset + length > MAX_MUTABLE_SHARE_SIZE {
                    return Err(err(&Error::DataTooLarge {
                        max: MAX_MUTABLE_SHARE_SIZE,
                        offset: *offset,
                        length,
                    }));
                }
            }
            if !self.shares.contains_key(&(si, e.n)) && self.uploads.contains_key(&(si, e.n)) {
                return Err(err(&Error::AlreadyExists));
            }
        }
        let expiry = self.expiry();
        for e in entries {
            if e.new_length == Some(0) {
                self.shares.remove(&(si, e.n));
                continue;
            }
            let s = self.shares.entry((si, e.n)).or_insert(MShare {
                mutable: true,
                data: Vec::new(),
                we,
                leases: Vec::new(),
            });
            for (offset, data) in &e.writes {
                let (o, end) = (*offset as usize, *offset as usize + data.len());
                if s.data.len() < end {
                    s.data.resize(end, 0);
                }
                s.data[o..end].copy_from_slice(data);
            }
            if let Some(n) = e.new_length {
                s.data.truncate(n as usize);
            }
            if let Some(seed) = lease {
                add_or_renew(&mut s.leases, seed, 1, expiry);
            }
        }
        Ok(Out::Slot(true, read_data))
    }
}

/// A slot entry with its tests resolved to specimens.
struct Entry {
    n: u8,
    tests: Vec<(u64, u64, Vec<u8>)>,
    writes: Vec<(u64, Vec<u8>)>,
    new_length: Option<u64>,
}

// ----- the server side -------------------------------------------------------------------

type MemServer = Server<MemStore>;

fn config(resume: bool) -> Config {
    Config::default()
        .with_max_uploads(MAX_UPLOADS)
        .with_max_ranges_per_upload(MAX_RANGES)
        .with_resume_uploads(resume)
}

fn answer<T>(r: Result<T, Error<MemError>>, f: impl FnOnce(T) -> Out) -> Answer {
    r.map(f).map_err(|e| err(&e))
}

fn reads_of(r: Vec<(ShareNumber, Vec<Vec<u8>>)>) -> Reads {
    r.into_iter().map(|(n, v)| (n.0, v)).collect()
}

fn run_slot(
    s: &mut MemServer,
    m: &mut Model,
    si: usize,
    we: u8,
    specs: &[EntrySpec],
    readv: &[(u64, u64)],
    lease: Option<u8>,
) -> (Answer, Answer) {
    let entries: Vec<Entry> = specs
        .iter()
        .map(|e| Entry {
            n: e.n,
            tests: e
                .tests
                .iter()
                .map(|t| m.test_specimen((si, e.n), t))
                .collect(),
            writes: e.writes.clone(),
            new_length: e.new_length,
        })
        .collect();
    let tests: Vec<Vec<TestVector<'_>>> = entries
        .iter()
        .map(|e| {
            e.tests
                .iter()
                .map(|(offset, length, specimen)| TestVector {
                    offset: *offset,
                    length: *length,
                    operator: TestOperator::Eq,
                    specimen,
                })
                .collect()
        })
        .collect();
    let writes: Vec<Vec<(u64, &[u8])>> = entries
        .iter()
        .map(|e| e.writes.iter().map(|(o, d)| (*o, &d[..])).collect())
        .collect();
    let slot_writes: Vec<SlotWrite<'_>> = entries
        .iter()
        .zip(&tests)
        .zip(&writes)
        .map(|((e, t), w)| SlotWrite {
            share_number: ShareNumber(e.n),
            tests: t,
            writes: w,
            new_length: e.new_length,
        })
        .collect();
    let secrets = SlotSecrets {
        write_enabler: write_enabler(we),
        renew: renew(lease.unwrap_or(0)),
        cancel: cancel(lease.unwrap_or(0)),
    };
    let got = answer(
        s.slot_testv_and_readv_and_writev(
            &SIS[si],
            &secrets,
            &slot_writes,
            readv,
            LeaseUpdate::from(lease.is_some()),
            m.now,
        ),
        |o| Out::Slot(o.passed, reads_of(o.reads)),
    );
    let want = m.slot(si, we, &entries, readv, lease);
    (got, want)
}

/// Applies one operation to both sides; returns (server, model) answers. Lease, slot
/// and read operations go to [`step_shares`].
fn step(s: &mut MemServer, m: &mut Model, op: &Op) -> (Answer, Answer) {
    let now = m.now;
    match *op {
        Op::Allocate {
            si,
            shares,
            size,
            seed,
            secret,
            renew: r,
        } => {
            let req = AllocateRequest {
                storage_index: SIS[si],
                renew_secret: renew(seed),
                cancel_secret: cancel(seed),
                share_numbers: set_of(shares),
                allocated_size: size,
                owner_num: 0,
                renew_leases: r,
                upload_secret: upload_secret(secret),
            };
            let got = answer(s.allocate_buckets(&req, now), |a| {
                Out::Alloc(a.already_have, a.allocated)
            });
            (got, m.allocate(si, shares, size, seed, secret, r))
        }
        Op::Write {
            pick,
            at,
            len,
            aim,
            corrupt,
            wrong_secret,
        } => {
            let key = m.pick(pick);
            let (offset, len) = m.place(key, at, len, aim);
            let mut data = content(key, offset, len);
            if corrupt {
                if let Some(b) = data.first_mut() {
                    *b ^= 0xff;
                }
            }
            let secret = secret_for(m, key, wrong_secret);
            let got = answer(
                s.write(&SIS[key.0], ShareNumber(key.1), &secret, offset, &data, now),
                Out::Bool,
            );
            (got, m.write(key, offset, &data, wrong_secret))
        }
        Op::Close { pick, wrong_secret } => {
            let key = m.pick(pick);
            let secret = secret_for(m, key, wrong_secret);
            let got = answer(s.close(&SIS[key.0], ShareNumber(key.1), &secret), Out::Size);
            (got, m.close(key, wrong_secret))
        }
        Op::Abort { pick, wrong_secret } => {
            let key = m.pick(pick);
            let secret = secret_for(m, key, wrong_secret);
            let got = answer(s.abort(&SIS[key.0], ShareNumber(key.1), &secret), |()| {
                Out::Unit
            });
            (got, m.abort(key, wrong_secret))
        }
        Op::Expire => {
            let mut seen = Vec::new();
            let got = answer(
                s.expire_stale_uploads(now, |si, n| seen.push((si, n))),
                |count| {
                    assert_eq!(count, seen.len());
                    Out::Expired(seen)
                },
            );
            (got, Ok(m.expire()))
        }
        _ => step_shares(s, m, op),
    }
}

/// Applies one lease, slot or read operation to both sides.
fn step_shares(s: &mut MemServer, m: &mut Model, op: &Op) -> (Answer, Answer) {
    let now = m.now;
    match *op {
        Op::AddLease { pick, seed, early } => {
            let si = m.pick_si(pick);
            let got = answer(
                s.add_lease(&SIS[si], &renew(seed), &cancel(seed), 1, now - early),
                Out::Count,
            );
            (got, Ok(m.add_lease(si, seed, early)))
        }
        Op::RenewLease { pick, seed, early } => {
            let si = m.pick_si(pick);
            let got = answer(s.renew_lease(&SIS[si], &renew(seed), now - early), |()| {
                Out::Unit
            });
            (got, m.renew_lease(si, seed, early))
        }
        Op::CancelLease { pick, seed } => {
            let si = m.pick_si(pick);
            let sizes: BTreeMap<u8, u64> = m
                .held(si)
                .iter()
                .map(|(n, _)| {
                    (
                        *n,
                        s.stat_share(&SIS[si], ShareNumber(*n))
                            .unwrap()
                            .container_size,
                    )
                })
                .collect();
            let got = answer(s.cancel_lease(&SIS[si], &cancel(seed)), Out::Size);
            (got, m.cancel_lease(si, seed, &sizes))
        }
        Op::Slot {
            si,
            we,
            ref entries,
            ref readv,
            renew: r,
            seed,
        } => run_slot(s, m, si, we, entries, readv, r.then_some(seed)),
        Op::SlotReadv {
            si,
            shares,
            ref readv,
        } => {
            let got = answer(s.slot_readv(&SIS[si], &set_of(shares), readv), |r| {
                Out::Reads(reads_of(r))
            });
            (got, m.slot_readv(si, shares, readv))
        }
        Op::Read { pick, offset, len } => {
            let (si, n) = m.pick_share(pick);
            let got = s
                .open_bucket(&SIS[si], ShareNumber(n))
                .and_then(|b| s.read_bucket_vec(&b, offset, len));
            (
                answer(got, Out::Bytes),
                m.read_immutable(si, n, offset, len),
            )
        }
        _ => unreachable!("upload operations and restarts are handled elsewhere"),
    }
}

fn secret_for(m: &Model, key: Key, wrong: bool) -> UploadSecret {
    match m.uploads.get(&key) {
        Some(_) if wrong => UploadSecret::new(b"wrong").unwrap(),
        Some(u) => upload_secret(u.secret),
        None => upload_secret(0),
    }
}

/// The server's leases of a storage index as the model holds them.
fn server_leases(s: &mut MemServer, si: usize) -> Vec<(u8, ShareKind, MLease)> {
    let mut out = Vec::new();
    s.for_each_lease(&SIS[si], |n, kind, l| {
        let seed = (0..SEEDS)
            .find(|&b| l.secrets.matches_renew(&renew(b)))
            .expect("a lease with an unknown secret");
        out.push((
            n.0,
            kind,
            MLease {
                seed,
                owner: l.owner_num,
                expiry: u64::from(l.expiration_time),
            },
        ));
        true
    })
    .unwrap();
    out.sort_by_key(|(n, _, l)| (*n, l.seed));
    out
}

/// Compares the whole state of the server with the model.
fn check_state(s: &mut MemServer, m: &Model) -> Result<(), TestCaseError> {
    for (si, sid) in SIS.iter().enumerate() {
        let held = m.held(si);
        let want: ShareSet = held.iter().map(|(n, _)| ShareNumber(*n)).collect();
        prop_assert_eq!(s.shares(sid).unwrap(), want);
        let mut want_leases = Vec::new();
        for (n, share) in &held {
            let sn = ShareNumber(*n);
            let st = s.stat_share(sid, sn).unwrap();
            let kind = if share.mutable {
                ShareKind::Mutable
            } else {
                ShareKind::Immutable
            };
            prop_assert_eq!(st.kind, kind);
            prop_assert_eq!(st.data_length, share.data.len() as u64);
            prop_assert_eq!(st.num_leases as usize, share.leases.len());
            let data = if share.mutable {
                let mut r = s
                    .slot_readv(sid, &[sn].into_iter().collect(), &[(0, u64::MAX)])
                    .unwrap();
                r.pop().unwrap().1.pop().unwrap()
            } else {
                let b = s.open_bucket(sid, sn).unwrap();
                s.read_bucket_vec(&b, 0, u64::MAX).unwrap()
            };
            prop_assert_eq!(&data, &share.data);
            let mut ls = share.leases.clone();
            ls.sort_by_key(|l| l.seed);
            want_leases.extend(ls.into_iter().map(|l| (*n, kind, l)));
        }
        prop_assert_eq!(server_leases(s, si), want_leases);
    }
    let uploads: Vec<_> = s
        .uploads()
        .map(|u| {
            (
                u.storage_index,
                u.share_number.0,
                u.allocated_size,
                u.written,
                u.last_activity,
            )
        })
        .collect();
    let want: Vec<_> = m
        .uploads
        .iter()
        .map(|(k, u)| {
            let written = u.written.iter().filter(|b| **b).count() as u64;
            (SIS[k.0], k.1, u.data.len() as u64, written, u.last)
        })
        .collect();
    prop_assert_eq!(uploads, want);
    let reserved: u64 = m.uploads.values().map(|u| u.data.len() as u64).sum();
    prop_assert_eq!(s.allocated_size(), reserved);
    for (k, u) in &m.uploads {
        let bytes = s
            .store_mut()
            .open_incoming(&SIS[k.0], ShareNumber(k.1))
            .unwrap()
            .unwrap()
            .bytes();
        prop_assert_eq!(&bytes[12..12 + u.data.len()], &u.data[..]);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn server_matches_model(
        resume in any::<bool>(),
        ops in prop::collection::vec((pause(), op()), 1..50),
    ) {
        let mut m = Model { now: START, resume, ..Model::default() };
        let mut s = Server::new(MemStore::new(), NODE, config(resume), START).unwrap();
        for (i, (dt, op)) in ops.iter().enumerate() {
            m.now += dt;
            if let Op::Restart = op {
                s = Server::new(s.into_store(), NODE, config(resume), m.now).unwrap();
                m.restart();
            } else {
                let (got, want) = step(&mut s, &mut m, op);
                prop_assert_eq!(got, want, "step {}: {:?}", i, op);
            }
            check_state(&mut s, &m)?;
        }
    }
}

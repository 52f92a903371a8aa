//! Concurrency and load on a real filesystem: parallel uploads, racing writers of one
//! share, racing test-and-writes, readers during writes, and lease renewals racing growth.
//!
//! Most tests share one `Server<FsStore>` among threads behind a `Mutex`, exactly as the C
//! and Python bindings do: every call is one lock acquisition, so calls of different
//! threads interleave freely between calls (chunks of different uploads, reads between
//! writes) but never inside one. The race of immutable allocation is also run between
//! separate `Server` instances, each with its own `FsStore` on the same directory, as
//! separate processes would be: only exclusive file creation arbitrates there.
//!
//! `FsStore::open` takes the storage directory's lock, so a second tahoe-shares writer
//! cannot open the directory (the separate-server tests check that it is refused). The
//! other instances there are opened with `FsStore::open_unlocked` (feature `_testing`):
//! writers that do not know the lock, as Tahoe's own server would be. What the filesystem
//! arbitrates alone, immutable uploads, stays safe against those.
//!
//! Separate instances are not tested for mutable writes, because they are not safe: two
//! instances can both pass the same test vector, their journals interleave, and an
//! instance that opens a mutable share runs recovery on a journal another instance is
//! still writing (a share can end up mixing two writers' bytes and journal bytes). That is
//! what the lock prevents: mutable shares need one writer per storage directory.
//!
//! Randomness is a seeded `SplitMix64` (set `TS_CONCURRENCY_SEED` to vary it); the thread
//! schedule is not deterministic, which is the point. The tests of uploads, racing writers,
//! racing test-and-writes and readers during writes print one `RELIABILITY <key> <N>` line
//! each (collected with `-- --nocapture`).

mod common;

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use core::time::Duration;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::thread;
use std::time::Instant;

use tahoe_shares::container::TestVector;
use tahoe_shares::format::lease::DEFAULT_LEASE_DURATION;
use tahoe_shares::server::{AllocateRequest, Config, LeaseUpdate, Server, SlotSecrets, SlotWrite};
use tahoe_shares::store::{Durability, FsStore, ShareStore, StoreError};
use tahoe_shares::{
    CancelSecret, Error, RenewSecret, ShareNumber, ShareSet, StorageIndex, UploadSecret,
};

use common::{eq, files_below, fs_server, server, slot_secrets_of, Rng, TempDir, NODE, NOW};

/// Bytes of the immutable header and of one immutable lease record (docs/format.md 2.1).
const IMM_HEADER: u64 = 12;
const IMM_LEASE: u64 = 72;

type FsServer = Server<FsStore>;
/// One server shared by threads, as the bindings hold it.
type Shared = Arc<Mutex<FsServer>>;
type FsError = Error<std::io::Error>;
/// One write call of an upload: offset and bytes in, completeness out.
type WriteFn<'a> = dyn FnMut(u64, &[u8]) -> Result<bool, FsError> + 'a;

// ----- helpers ---------------------------------------------------------------------------

/// The base seed: `TS_CONCURRENCY_SEED` or a fixed default.
fn seed() -> u64 {
    std::env::var("TS_CONCURRENCY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7a40_e5ee_d5ee_d001)
}

/// A server over a store that does not take the directory's lock: a second writer that
/// does not know it (Tahoe's own server would be one).
fn unlocked_server(dir: &Path, durability: Durability) -> FsServer {
    server(FsStore::open_unlocked(dir, durability).unwrap())
}

/// Separate servers on one directory: the first holds the lock, which refuses another
/// locking writer at once; the others do not know the lock.
fn separate_servers(dir: &Path, durability: Durability, n: usize) -> Vec<FsServer> {
    let mut servers = vec![fs_server(dir, durability)];
    assert!(
        matches!(
            FsStore::open(dir, durability),
            Err(StoreError::StorageLocked)
        ),
        "a second locking writer was let in"
    );
    servers.extend((1..n).map(|_| unlocked_server(dir, durability)));
    servers
}

fn shared(dir: &Path, durability: Durability) -> Shared {
    Arc::new(Mutex::new(fs_server(dir, durability)))
}

/// Takes the server's lock (a poisoned lock means another thread already failed).
fn lock(s: &Shared) -> MutexGuard<'_, FsServer> {
    s.lock()
        .expect("a thread panicked while holding the server")
}

fn incoming_files(root: &Path) -> Vec<(PathBuf, u64)> {
    files_below(&root.join("shares").join("incoming"))
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// The lease expiry of a lease added or renewed at `now`.
fn expiry(now: u64) -> u32 {
    u32::try_from(now + u64::from(DEFAULT_LEASE_DURATION)).unwrap()
}

/// Checks an immutable share file on disk, parsed by hand from docs/format.md 2.1: version
/// 2, the legacy length, one lease of owner 0 expiring at `NOW` + 31 days, and exactly
/// `data` in between.
fn check_immutable_file(path: &Path, data: &[u8]) {
    let bytes = fs::read(path).unwrap();
    let d = data.len();
    assert_eq!(
        bytes.len() as u64,
        IMM_HEADER + d as u64 + IMM_LEASE,
        "{}: file size",
        path.display()
    );
    assert_eq!(be32(&bytes, 0), 2, "{}: version", path.display());
    assert_eq!(
        be32(&bytes, 4) as usize,
        d,
        "{}: legacy length",
        path.display()
    );
    assert_eq!(be32(&bytes, 8), 1, "{}: lease count", path.display());
    assert!(
        bytes[12..12 + d] == *data,
        "{}: share data differs",
        path.display()
    );
    let lease = &bytes[12 + d..];
    assert_eq!(be32(lease, 0), 0, "{}: lease owner", path.display());
    assert_eq!(
        be32(lease, 68),
        expiry(NOW),
        "{}: lease expiry",
        path.display()
    );
}

fn upload_request(
    si: StorageIndex,
    shares: ShareSet,
    size: u64,
    lease_seed: u64,
    secret: &UploadSecret,
) -> AllocateRequest {
    let mut rng = Rng::new(lease_seed);
    AllocateRequest {
        storage_index: si,
        renew_secret: RenewSecret::new(rng.bytes(32).try_into().unwrap()),
        cancel_secret: CancelSecret::new(rng.bytes(32).try_into().unwrap()),
        share_numbers: shares,
        allocated_size: size,
        owner_num: 0,
        renew_leases: true,
        upload_secret: secret.clone(),
    }
}

fn slot_secrets(renew: u8) -> SlotSecrets {
    slot_secrets_of(0x5e, renew, renew ^ 0xff)
}

/// Reads all of share `n` of a slot (empty when the share is absent).
fn read_slot(s: &mut FsServer, si: &StorageIndex, n: ShareNumber) -> Option<Vec<u8>> {
    let reads = s
        .slot_readv(si, &[n].into_iter().collect(), &[(0, u64::MAX)])
        .unwrap();
    reads.into_iter().next().map(|(m, mut r)| {
        assert_eq!(m, n);
        r.pop().unwrap()
    })
}

/// Replaces share `n` of a slot by `data` whole, if `tests` pass; returns whether they did
/// and the share's contents read before the write (`None` when it did not exist).
fn test_and_write(
    s: &mut FsServer,
    si: &StorageIndex,
    secrets: &SlotSecrets,
    n: ShareNumber,
    tests: &[TestVector<'_>],
    data: &[u8],
) -> (bool, Option<Vec<u8>>) {
    let writes = [(0, data)];
    let entry = SlotWrite {
        share_number: n,
        tests,
        writes: &writes,
        new_length: Some(data.len() as u64),
    };
    let out = s
        .slot_testv_and_readv_and_writev(
            si,
            secrets,
            &[entry],
            &[(0, u64::MAX)],
            LeaseUpdate::AddOrRenew,
            NOW,
        )
        .unwrap();
    let before = out
        .reads
        .into_iter()
        .find(|(m, _)| *m == n)
        .map(|(_, mut r)| r.pop().unwrap());
    (out.passed, before)
}

// ----- 1. many uploads in random chunk order ------------------------------------------------

/// One planned upload: its storage index, secrets and the bytes of each share.
struct UploadPlan {
    si: StorageIndex,
    secret: UploadSecret,
    lease_seed: u64,
    shares: Vec<(ShareNumber, Vec<u8>)>,
}

impl UploadPlan {
    /// Every share of one upload has the same allocated size (as in Tahoe), between 0 and
    /// 700 bytes; one to four shares out of 0..10.
    fn new(i: usize) -> Self {
        let mut rng = Rng::new(seed() ^ (i as u64).wrapping_mul(0xa076_1d64_78bd_642f));
        let mut si = [0u8; 16];
        si[..8].copy_from_slice(&(i as u64).to_be_bytes());
        si[8..].copy_from_slice(&rng.next().to_be_bytes());
        let size = if rng.below(16) == 0 {
            0
        } else {
            1 + rng.below_usize(700)
        };
        let mut numbers: Vec<u8> = (0..10).collect();
        rng.shuffle(&mut numbers);
        let count = 1 + rng.below_usize(4);
        let shares = numbers[..count]
            .iter()
            .map(|&n| (ShareNumber(n), rng.bytes(size)))
            .collect();
        Self {
            si: StorageIndex::new(si),
            secret: UploadSecret::new(format!("upload {i}").as_bytes()).unwrap(),
            lease_seed: rng.next(),
            shares,
        }
    }

    fn size(&self) -> u64 {
        self.shares[0].1.len() as u64
    }

    fn share_set(&self) -> ShareSet {
        self.shares.iter().map(|(n, _)| *n).collect()
    }
}

/// One chunk write: which upload of a batch, which share, and the byte range.
#[derive(Clone, Copy)]
struct Chunk {
    upload: usize,
    share: usize,
    start: usize,
    end: usize,
}

/// Runs a batch of uploads through the shared server: allocate each, write every chunk of
/// every share in one random order (sometimes a chunk twice, identically), checking what
/// each write says about completeness against a model, then close every share.
fn run_upload_batch(server: &Shared, plans: &[&UploadPlan], rng: &mut Rng) {
    for p in plans {
        let req = upload_request(p.si, p.share_set(), p.size(), p.lease_seed, &p.secret);
        let alloc = lock(server).allocate_buckets(&req, NOW).unwrap();
        assert!(alloc.already_have.is_empty());
        assert_eq!(alloc.allocated, p.share_set());
    }
    let mut chunks = Vec::new();
    for (u, p) in plans.iter().enumerate() {
        for (s, (_, data)) in p.shares.iter().enumerate() {
            let mut start = 0;
            while start < data.len() {
                let end = (start + 1 + rng.below_usize(160)).min(data.len());
                chunks.push(Chunk {
                    upload: u,
                    share: s,
                    start,
                    end,
                });
                start = end;
            }
        }
    }
    let extra: Vec<Chunk> = chunks
        .iter()
        .filter(|_| rng.below(8) == 0)
        .copied()
        .collect();
    chunks.extend(extra);
    rng.shuffle(&mut chunks);

    // The model: which bytes of each share are written.
    let mut written: Vec<Vec<Vec<bool>>> = plans
        .iter()
        .map(|p| p.shares.iter().map(|(_, d)| vec![false; d.len()]).collect())
        .collect();
    for c in chunks {
        let p = plans[c.upload];
        let (n, data) = &p.shares[c.share];
        let complete = lock(server)
            .write(
                &p.si,
                *n,
                &p.secret,
                c.start as u64,
                &data[c.start..c.end],
                NOW,
            )
            .unwrap();
        let model = &mut written[c.upload][c.share];
        model[c.start..c.end].fill(true);
        assert_eq!(
            complete,
            model.iter().all(|&b| b),
            "completeness after a write"
        );
    }
    let mut closes: Vec<(usize, usize)> = plans
        .iter()
        .enumerate()
        .flat_map(|(u, p)| (0..p.shares.len()).map(move |s| (u, s)))
        .collect();
    rng.shuffle(&mut closes);
    for (u, s) in closes {
        let p = plans[u];
        let size = lock(server).close(&p.si, p.shares[s].0, &p.secret).unwrap();
        assert_eq!(size, IMM_HEADER + p.size() + IMM_LEASE);
    }
}

/// Many parallel uploads in random chunk order, then byte-for-byte
/// verification (through the server and on disk) and an exact space check.
/// `Durability::NoSync` (no fsync): this test is about interleaving, and speed matters.
#[test]
fn many_parallel_uploads_in_random_chunk_order() {
    const UPLOADS: usize = 1000;
    const THREADS: usize = 8;
    const BATCH: usize = 4;
    let started = Instant::now();
    let dir = TempDir::new("uploads");
    let server = shared(dir.path(), Durability::NoSync);
    let plans: Vec<UploadPlan> = (0..UPLOADS).map(UploadPlan::new).collect();

    thread::scope(|scope| {
        for t in 0..THREADS {
            let (server, plans) = (&server, &plans);
            scope.spawn(move || {
                let mut rng = Rng::new(seed() ^ 0x1000 ^ t as u64);
                let mine: Vec<&UploadPlan> = plans.iter().skip(t).step_by(THREADS).collect();
                for batch in mine.chunks(BATCH) {
                    run_upload_batch(server, batch, &mut rng);
                }
            });
        }
    });

    let mut s = lock(&server);
    assert_eq!(s.allocated_size(), 0);
    assert_eq!(s.uploads().count(), 0);
    let mut expected_files = BTreeMap::new();
    let mut expected_bytes = 0u64;
    for p in &plans {
        assert_eq!(s.shares(&p.si).unwrap(), p.share_set());
        for (n, data) in &p.shares {
            let reader = s.open_bucket(&p.si, *n).unwrap();
            assert_eq!(reader.length(), p.size());
            assert!(s.read_bucket_vec(&reader, 0, p.size() + 100).unwrap() == *data);
            let path = s.store().share_path(&p.si, *n);
            check_immutable_file(&path, data);
            let file_size = IMM_HEADER + p.size() + IMM_LEASE;
            expected_bytes += file_size;
            expected_files.insert(path, file_size);
        }
        let mut leases = 0;
        let renew = upload_request(p.si, p.share_set(), 0, p.lease_seed, &p.secret).renew_secret;
        s.for_each_lease(&p.si, |_, _, l| {
            assert!(l.secrets.matches_renew(&renew));
            assert_eq!(l.expiration_time, expiry(NOW));
            leases += 1;
            true
        })
        .unwrap();
        assert_eq!(leases, p.shares.len());
    }
    drop(s);

    // The exact space check: the share files are exactly the model's, and nothing else
    // (no incoming share, no upload record, no stray file) takes space.
    let root = dir.path();
    assert!(incoming_files(root).is_empty(), "incoming files left");
    let on_disk: BTreeMap<PathBuf, u64> = files_below(&root.join("shares")).into_iter().collect();
    assert_eq!(on_disk.values().sum::<u64>(), expected_bytes);
    assert!(
        on_disk == expected_files,
        "share files differ from the model"
    );

    let shares: usize = plans.iter().map(|p| p.shares.len()).sum();
    eprintln!(
        "uploads: {UPLOADS} uploads, {shares} shares, {expected_bytes} bytes on disk, {:?}",
        started.elapsed()
    );
    println!("RELIABILITY concurrency_uploads_verified {UPLOADS}");
}

// ----- 2. racing writers for one share --------------------------------------------------------

/// The bytes thread `t` tries to upload in a race: distinct from every other thread's at
/// every position, so a file mixing two writers cannot equal either.
fn racer_data(round: usize, t: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (t as u8).wrapping_mul(37) ^ (i as u8).wrapping_mul(3) ^ (round as u8))
        .collect()
}

fn racer_secret(round: usize, t: usize) -> UploadSecret {
    UploadSecret::new(format!("round {round} thread {t}").as_bytes()).unwrap()
}

fn race_si(kind: u8, round: usize) -> StorageIndex {
    let mut si = [kind; 16];
    si[8..].copy_from_slice(&(round as u64).to_be_bytes());
    StorageIndex::new(si)
}

/// Writes `data` in chunks, one call each, yielding between chunks so that others run.
fn write_in_chunks(write: &mut WriteFn<'_>, data: &[u8], rng: &mut Rng) {
    let mut start = 0;
    while start < data.len() {
        let end = (start + 1 + rng.below_usize(512)).min(data.len());
        let complete = write(start as u64, &data[start..end]).unwrap();
        assert_eq!(complete, end == data.len());
        start = end;
        thread::yield_now();
    }
}

/// After a race: the share holds exactly the winner's bytes and exactly its lease, and
/// nothing is left in `incoming/` or in progress.
fn check_race_result(s: &mut FsServer, si: &StorageIndex, data: &[u8], lease_seed: u64) {
    let n = ShareNumber(0);
    assert_eq!(s.shares(si).unwrap(), [n].into_iter().collect());
    let reader = s.open_bucket(si, n).unwrap();
    assert!(s.read_bucket_vec(&reader, 0, u64::MAX).unwrap() == data);
    check_immutable_file(&s.store().share_path(si, n), data);
    let renew =
        upload_request(*si, ShareSet::new(), 0, lease_seed, &racer_secret(0, 0)).renew_secret;
    let mut leases = 0;
    s.for_each_lease(si, |_, _, l| {
        assert!(
            l.secrets.matches_renew(&renew),
            "the lease is not the winner's"
        );
        leases += 1;
        true
    })
    .unwrap();
    assert_eq!(leases, 1);
    assert_eq!(s.allocated_size(), 0);
}

const RACE_THREADS: usize = 8;
const RACE_ROUNDS: usize = 50;

/// One racer's request: share 0 of `si`, `len` bytes, its own upload and lease secrets.
fn racer_request(si: StorageIndex, round: usize, t: usize, len: usize) -> AllocateRequest {
    let shares: ShareSet = [ShareNumber(0)].into_iter().collect();
    upload_request(si, shares, len as u64, t as u64, &racer_secret(round, t))
}

/// One racer through the shared server: allocate at the barrier; once everybody has
/// tried, the winner uploads in chunks and closes, and a loser's write is refused.
/// Returns whether it won.
fn shared_racer(
    server: &Shared,
    barrier: &Barrier,
    si: StorageIndex,
    round: usize,
    t: usize,
    len: usize,
) -> bool {
    let n = ShareNumber(0);
    let secret = racer_secret(round, t);
    let data = racer_data(round, t, len);
    let req = racer_request(si, round, t, len);
    barrier.wait();
    let alloc = lock(server).allocate_buckets(&req, NOW).unwrap();
    assert!(alloc.already_have.is_empty());
    let won = alloc.allocated.contains(n);
    // Nobody writes before everybody has tried to allocate.
    barrier.wait();
    if won {
        let mut rng = Rng::new(seed() ^ (round * RACE_THREADS + t) as u64);
        write_in_chunks(
            &mut |off, d| lock(server).write(&si, n, &secret, off, d, NOW),
            &data,
            &mut rng,
        );
        lock(server).close(&si, n, &secret).unwrap();
    } else {
        // The upload is someone else's, or already published.
        let e = lock(server).write(&si, n, &secret, 0, &data, NOW);
        assert!(
            matches!(e, Err(Error::BadUploadSecret | Error::NoSuchUpload)),
            "loser's write: {e:?}"
        );
    }
    won
}

/// One racer with a server of its own on the shared directory. Returns whether it won;
/// counts in `refused` a loss by the exclusive create (the listing showed nothing, but
/// another instance created the file first).
fn separate_racer(
    s: &mut FsServer,
    barrier: &Barrier,
    refused: &AtomicUsize,
    (si, round, t, len): (StorageIndex, usize, usize, usize),
) -> bool {
    let n = ShareNumber(0);
    let secret = racer_secret(round, t);
    let req = racer_request(si, round, t, len);
    barrier.wait();
    let won = match s.allocate_buckets(&req, NOW) {
        Ok(alloc) => {
            assert!(alloc.already_have.is_empty());
            alloc.allocated.contains(n)
        }
        Err(Error::AlreadyExists) => {
            refused.fetch_add(1, Ordering::Relaxed);
            false
        }
        Err(e) => panic!("allocate: {e:?}"),
    };
    barrier.wait();
    if won {
        let mut rng = Rng::new(seed() ^ (round * RACE_THREADS + t) as u64);
        write_in_chunks(
            &mut |off, d| s.write(&si, n, &secret, off, d, NOW),
            &racer_data(round, t, len),
            &mut rng,
        );
        s.close(&si, n, &secret).unwrap();
    } else {
        ask_again_until_published(s, &req);
    }
    won
}

/// While the winner writes and publishes, a loser asking again is never given the share:
/// it sees the upload in progress (nothing allocated), loses the exclusive create, or
/// finds the share published. It asks until the last.
fn ask_again_until_published(s: &mut FsServer, req: &AllocateRequest) {
    let n = ShareNumber(0);
    let mut again = req.clone();
    again.renew_leases = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match s.allocate_buckets(&again, NOW) {
            Ok(a) if a.already_have.contains(n) => {
                assert!(a.allocated.is_empty());
                return;
            }
            Ok(a) => assert!(a.allocated.is_empty(), "a second winner"),
            Err(Error::AlreadyExists) => {}
            Err(e) => panic!("allocate again: {e:?}"),
        }
        assert!(Instant::now() < deadline, "the winner never published");
        thread::yield_now();
    }
}

/// The threads that return `true`.
fn winners(handles: Vec<thread::ScopedJoinHandle<'_, bool>>) -> Vec<usize> {
    handles
        .into_iter()
        .enumerate()
        .filter_map(|(t, h)| h.join().unwrap().then_some(t))
        .collect()
}

/// The race through one server shared by all threads. Returns the rounds run.
/// `Durability::NoSync`: the server's own bookkeeping arbitrates here, not the disk.
fn race_through_one_server() -> usize {
    let dir = TempDir::new("race-shared");
    let server = shared(dir.path(), Durability::NoSync);
    for round in 0..RACE_ROUNDS {
        let si = race_si(0xa0, round);
        let len = 1 + Rng::new(seed() ^ round as u64).below_usize(3000);
        let barrier = Barrier::new(RACE_THREADS);
        let won = thread::scope(|scope| {
            let (server, barrier) = (&server, &barrier);
            winners(
                (0..RACE_THREADS)
                    .map(|t| scope.spawn(move || shared_racer(server, barrier, si, round, t, len)))
                    .collect(),
            )
        });
        assert_eq!(won.len(), 1, "round {round}: winners {won:?}");
        let w = won[0];
        check_race_result(
            &mut lock(&server),
            &si,
            &racer_data(round, w, len),
            w as u64,
        );
    }
    assert!(incoming_files(dir.path()).is_empty());
    RACE_ROUNDS
}

/// The race between separate servers on one directory, like separate processes: one
/// holding the lock, the others writers that do not know it. They are all started before
/// the first round: starting a server discards every incoming share, including those
/// another live server is writing. Returns the rounds run and how many
/// allocations the exclusive create refused. `Durability::Durable`: fsync is real, and
/// publication syncs the file and the directories.
fn race_between_servers() -> (usize, usize) {
    let dir = TempDir::new("race-separate");
    let mut servers = separate_servers(dir.path(), Durability::Durable, RACE_THREADS);
    let refused = AtomicUsize::new(0);
    for round in 0..RACE_ROUNDS {
        let si = race_si(0xb0, round);
        let len = 1 + Rng::new(seed() ^ 0xb000 ^ round as u64).below_usize(3000);
        let barrier = Barrier::new(RACE_THREADS);
        let won = thread::scope(|scope| {
            let (barrier, refused) = (&barrier, &refused);
            winners(
                servers
                    .iter_mut()
                    .enumerate()
                    .map(|(t, s)| {
                        scope
                            .spawn(move || separate_racer(s, barrier, refused, (si, round, t, len)))
                    })
                    .collect(),
            )
        });
        assert_eq!(won.len(), 1, "round {round}: winners {won:?}");
        let w = won[0];
        for s in &mut servers {
            check_race_result(s, &si, &racer_data(round, w, len), w as u64);
        }
    }
    assert!(incoming_files(dir.path()).is_empty());
    (RACE_ROUNDS, refused.load(Ordering::Relaxed))
}

/// Two (here eight) writers on the same share, exactly one wins:
/// (a) through one shared server; (b) through separate servers on one directory, where
/// only the exclusive creation of the incoming file arbitrates. Each round checks that
/// the share holds exactly the winner's bytes and lease.
#[test]
fn racing_writers_for_one_share_exactly_one_wins() {
    let started = Instant::now();
    let shared_rounds = race_through_one_server();
    let (separate_rounds, refused) = race_between_servers();
    let races = shared_rounds + separate_rounds;
    eprintln!(
        "races: {races} rounds of {RACE_THREADS} threads, {refused} exclusive creates refused, {:?}",
        started.elapsed()
    );
    println!("RELIABILITY concurrency_races_one_winner {races}");
}

// ----- 3. test-and-writes sharing a test vector ---------------------------------------------

/// One test-and-write as a thread saw it.
#[derive(Debug, Clone)]
struct TwOp {
    /// The contents the test vector required.
    specimen: Vec<u8>,
    /// The contents it would write.
    data: Vec<u8>,
    passed: bool,
    /// The contents it read (the read vector runs at the same point as the test).
    read: Vec<u8>,
}

/// Checks that a history of whole-share test-and-writes is linearizable against the
/// model "a share holding bytes": the successful writes form one chain from `initial`,
/// each tested against its predecessor's data and reading it; every failed one read a
/// state of that chain other than its specimen. Every write's data is distinct, so the
/// chain is unique. Returns the final state, or what is wrong.
fn check_linearizable(initial: &[u8], ops: &[TwOp]) -> Result<Vec<u8>, &'static str> {
    let mut by_specimen: BTreeMap<&[u8], &TwOp> = BTreeMap::new();
    for op in ops.iter().filter(|o| o.passed) {
        if op.read != op.specimen {
            return Err("a successful write read other bytes");
        }
        if by_specimen.insert(&op.specimen, op).is_some() {
            return Err("two writes succeeded against the same state");
        }
    }
    let mut chain: Vec<&[u8]> = vec![initial];
    while let Some(op) = by_specimen.remove(chain.last().unwrap()) {
        chain.push(&op.data);
    }
    if !by_specimen.is_empty() {
        return Err("a successful write is not in the chain");
    }
    for op in ops.iter().filter(|o| !o.passed) {
        if op.read == op.specimen {
            return Err("a write whose test held was refused");
        }
        if !chain.contains(&op.read.as_slice()) {
            return Err("a refused write read a state that never existed");
        }
    }
    Ok(chain.last().unwrap().to_vec())
}

/// The checker itself rejects the histories it exists to catch.
#[test]
fn linearizability_check_rejects_bad_histories() {
    let op = |specimen: &[u8], data: &[u8], passed: bool, read: &[u8]| TwOp {
        specimen: specimen.to_vec(),
        data: data.to_vec(),
        passed,
        read: read.to_vec(),
    };
    let good = [op(b"a", b"b", true, b"a"), op(b"a", b"c", false, b"b")];
    assert_eq!(check_linearizable(b"a", &good).unwrap(), b"b");
    let bad: [&[TwOp]; 4] = [
        // Two writes applied against the same state.
        &[op(b"a", b"b", true, b"a"), op(b"a", b"c", true, b"a")],
        // An applied write that does not follow from the initial state.
        &[op(b"x", b"b", true, b"x")],
        // A refused write whose test held.
        &[op(b"a", b"b", false, b"a")],
        // A refused write that read bytes nobody wrote.
        &[op(b"a", b"b", true, b"a"), op(b"a", b"c", false, b"z")],
    ];
    for (i, history) in bad.iter().enumerate() {
        assert!(
            check_linearizable(b"a", history).is_err(),
            "bad history {i} accepted"
        );
    }
}

/// The bytes thread `t` writes in round `r`: distinct for every (r, t), of varying length
/// so that the container grows and shrinks.
fn tw_data(r: usize, t: usize) -> Vec<u8> {
    let len = 8 + (r * 131 + t * 71) % 900;
    let mut head = format!("r{r}t{t}:").into_bytes();
    head.resize(len.max(head.len()), (r * 8 + t) as u8);
    head
}

const TW_THREADS: usize = 6;
const TW_ROUNDS: usize = 40;
const TW_CREATE_ROUNDS: usize = 25;
const TW_FREE_OPS: usize = 25;
const TW_SI: StorageIndex = StorageIndex::new([0x3c; 16]);

/// One test-and-write of share 0 of `si` with the test "exactly `specimen`" (reading one
/// byte more than the specimen makes it "exactly these bytes", not "starts with them").
fn tw_op(server: &Shared, si: &StorageIndex, specimen: &[u8], data: Vec<u8>) -> TwOp {
    let tests = [eq(0, specimen.len() as u64 + 1, specimen)];
    let (passed, read) = test_and_write(
        &mut lock(server),
        si,
        &slot_secrets(1),
        ShareNumber(0),
        &tests,
        &data,
    );
    TwOp {
        specimen: specimen.to_vec(),
        data,
        passed,
        read: read.expect("the slot exists"),
    }
}

/// Rounds in which every thread tests against the same current contents: exactly one
/// applies, it read the contents it tested, and every other read the winner's. Returns
/// the history and the final contents.
fn tw_rounds(server: &Shared, initial: &[u8]) -> (Vec<TwOp>, Vec<u8>) {
    let mut history = Vec::new();
    let mut current = initial.to_vec();
    for r in 0..TW_ROUNDS {
        let barrier = Barrier::new(TW_THREADS);
        let ops: Vec<TwOp> = thread::scope(|scope| {
            let handles: Vec<_> = (0..TW_THREADS)
                .map(|t| {
                    let (barrier, current) = (&barrier, &current);
                    scope.spawn(move || {
                        barrier.wait();
                        tw_op(server, &TW_SI, current, tw_data(r, t))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<&TwOp> = ops.iter().filter(|o| o.passed).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {r}: {} writes applied",
            winners.len()
        );
        let won = winners[0].data.clone();
        for op in ops.iter().filter(|o| !o.passed) {
            assert_eq!(op.read, won, "round {r}: a refused write read other bytes");
        }
        assert_eq!(
            read_slot(&mut lock(server), &TW_SI, ShareNumber(0)).unwrap(),
            won
        );
        current = won;
        history.extend(ops);
    }
    (history, current)
}

/// Free-running: each thread reads the contents, then tests against what it read; other
/// threads may write in between.
fn tw_free_running(server: &Shared) -> Vec<TwOp> {
    thread::scope(|scope| {
        let handles: Vec<_> = (0..TW_THREADS)
            .map(|t| {
                scope.spawn(move || {
                    (0..TW_FREE_OPS)
                        .map(|k| {
                            let seen = read_slot(&mut lock(server), &TW_SI, ShareNumber(0));
                            tw_op(server, &TW_SI, &seen.unwrap(), tw_data(TW_ROUNDS + k, t))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

/// Rounds in which every thread creates the same new slot with the test "empty": exactly
/// one applies (and saw no share), every other read the winner's bytes, and the new share
/// carries one lease.
fn tw_create_rounds(server: &Shared) {
    let n = ShareNumber(0);
    for r in 0..TW_CREATE_ROUNDS {
        let mut si_bytes = [0xc7; 16];
        si_bytes[..8].copy_from_slice(&(r as u64).to_be_bytes());
        let si = StorageIndex::new(si_bytes);
        let barrier = Barrier::new(TW_THREADS);
        let results: Vec<(bool, Option<Vec<u8>>)> = thread::scope(|scope| {
            let handles: Vec<_> = (0..TW_THREADS)
                .map(|t| {
                    let barrier = &barrier;
                    scope.spawn(move || {
                        let tests = [eq(0, 1, b"")];
                        let data = tw_data(1000 + r, t);
                        barrier.wait();
                        test_and_write(&mut lock(server), &si, &slot_secrets(2), n, &tests, &data)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<usize> = (0..TW_THREADS).filter(|&t| results[t].0).collect();
        assert_eq!(winners.len(), 1, "create round {r}: winners {winners:?}");
        let won = tw_data(1000 + r, winners[0]);
        assert_eq!(results[winners[0]].1, None, "the creator saw no share");
        for (passed, read) in &results {
            if !passed {
                assert_eq!(
                    read.as_ref(),
                    Some(&won),
                    "a refused create read other bytes"
                );
            }
        }
        let mut s = lock(server);
        assert_eq!(read_slot(&mut s, &si, n).unwrap(), won);
        let mut leases = 0;
        s.for_each_lease(&si, |_, _, _| {
            leases += 1;
            true
        })
        .unwrap();
        assert_eq!(leases, 1, "create round {r}: one lease, added once");
    }
}

/// N test-and-writes with the same test vector: exactly one succeeds,
/// and the history is linearizable against the model. Also a free-running history, and
/// the race to create a new slot (test "empty"). `Durability::Durable`: every write is
/// journaled and synced.
#[test]
fn concurrent_test_and_writes_exactly_one_applies() {
    let started = Instant::now();
    let dir = TempDir::new("testwrite");
    let server = shared(dir.path(), Durability::Durable);
    let initial = b"initial contents".to_vec();
    let (passed, _) = test_and_write(
        &mut lock(&server),
        &TW_SI,
        &slot_secrets(1),
        ShareNumber(0),
        &[],
        &initial,
    );
    assert!(passed);

    let (history, current) = tw_rounds(&server, &initial);
    assert_eq!(check_linearizable(&initial, &history).unwrap(), current);

    let free = tw_free_running(&server);
    let last = check_linearizable(&current, &free).unwrap();
    assert_eq!(
        read_slot(&mut lock(&server), &TW_SI, ShareNumber(0)).unwrap(),
        last
    );
    let free_applied = free.iter().filter(|o| o.passed).count();
    assert!(free_applied >= 1);

    tw_create_rounds(&server);
    assert!(incoming_files(dir.path()).is_empty());

    let rounds = TW_ROUNDS + TW_CREATE_ROUNDS;
    eprintln!(
        "test-and-write: {TW_ROUNDS} rounds + {TW_CREATE_ROUNDS} create rounds of {TW_THREADS} \
         threads, free-running {} ops ({free_applied} applied), {:?}",
        free.len(),
        started.elapsed()
    );
    println!("RELIABILITY concurrency_testwrite_rounds {rounds}");
}

// ----- 4. readers during writes; a lease renewal racing a growing write --------------------

/// The pattern `k` (1..=255): its byte repeated, with a length that depends on `k`.
fn pattern(k: u8) -> Vec<u8> {
    vec![k; 100 + (usize::from(k) * 389) % 4000]
}

/// Whether `bytes` is one complete pattern.
fn is_pattern(bytes: &[u8]) -> bool {
    bytes
        .first()
        .is_some_and(|&k| k != 0 && bytes == pattern(k))
}

/// Readers running during writes never see a torn share. Writers
/// replace two shares of one slot, in one call each, by whole patterns of varying length;
/// readers read both shares in one call, in three pieces. Every read must be one complete
/// pattern, the same on both shares. `Durability::NoSync`: many writes, and the question is
/// interleaving.
#[test]
fn readers_during_writes_never_see_a_torn_share() {
    const WRITERS: usize = 3;
    const READERS: usize = 3;
    const WRITES_EACH: usize = 80;
    let started = Instant::now();
    let dir = TempDir::new("torn");
    let server = shared(dir.path(), Durability::NoSync);
    let si = StorageIndex::new([0x70; 16]);
    let both: [ShareNumber; 2] = [ShareNumber(0), ShareNumber(5)];
    let write_pattern = |s: &mut FsServer, k: u8| {
        let p = pattern(k);
        let writes = [(0, p.as_slice())];
        let entries = both.map(|n| SlotWrite {
            share_number: n,
            tests: &[],
            writes: &writes,
            new_length: Some(p.len() as u64),
        });
        let out = s
            .slot_testv_and_readv_and_writev(
                &si,
                &slot_secrets(3),
                &entries,
                &[],
                LeaseUpdate::AddOrRenew,
                NOW,
            )
            .unwrap();
        assert!(out.passed);
    };
    write_pattern(&mut lock(&server), 1);

    let done = AtomicBool::new(false);
    let writers_left = AtomicUsize::new(WRITERS);
    let (reads, torn) = thread::scope(|scope| {
        for w in 0..WRITERS {
            let (server, done, writers_left) = (&server, &done, &writers_left);
            scope.spawn(move || {
                let mut rng = Rng::new(seed() ^ 0x4000 ^ w as u64);
                for _ in 0..WRITES_EACH {
                    let k = 1 + rng.below(255) as u8;
                    write_pattern(&mut lock(server), k);
                    thread::yield_now();
                }
                if writers_left.fetch_sub(1, Ordering::SeqCst) == 1 {
                    done.store(true, Ordering::SeqCst);
                }
            });
        }
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                let (server, done) = (&server, &done);
                scope.spawn(move || {
                    let (mut reads, mut torn) = (0usize, 0usize);
                    loop {
                        let last = done.load(Ordering::SeqCst);
                        let got = lock(server)
                            .slot_readv(
                                &si,
                                &ShareSet::new(),
                                &[(0, 100), (100, 1000), (1100, 1 << 20)],
                            )
                            .unwrap();
                        assert_eq!(got.len(), 2, "both shares are always there");
                        let whole: Vec<Vec<u8>> = got.iter().map(|(_, r)| r.concat()).collect();
                        let ok = whole.iter().all(|b| is_pattern(b)) && whole[0] == whole[1];
                        if !ok {
                            torn += 1;
                            eprintln!(
                                "torn read: lengths {:?}, first bytes {:?}",
                                whole.iter().map(Vec::len).collect::<Vec<_>>(),
                                whole.iter().map(|b| b.first().copied()).collect::<Vec<_>>()
                            );
                        }
                        reads += 1;
                        if last {
                            break;
                        }
                    }
                    (reads, torn)
                })
            })
            .collect();
        readers
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold((0, 0), |(a, b), (r, t)| (a + r, b + t))
    });
    assert!(reads > 0);
    assert_eq!(torn, 0, "{torn} torn reads out of {reads}");
    assert!(incoming_files(dir.path()).is_empty());
    eprintln!(
        "torn reads: {reads} reads during {} writes, {torn} torn, {:?}",
        WRITERS * WRITES_EACH,
        started.elapsed()
    );
    println!("RELIABILITY concurrency_torn_reads {torn}");
}

const LEASE_SI: StorageIndex = StorageIndex::new([0x1e; 16]);
const LEASE_SHARE: ShareNumber = ShareNumber(2);

/// Appends each chunk to the share in its own write (no lease renewal), each one growing
/// the container and moving its extra-lease block.
fn append_chunks(server: &Shared, mut len: u64, chunks: &[Vec<u8>]) {
    for c in chunks {
        let writes = [(len, c.as_slice())];
        let entry = SlotWrite {
            share_number: LEASE_SHARE,
            tests: &[],
            writes: &writes,
            new_length: None,
        };
        let out = lock(server)
            .slot_testv_and_readv_and_writev(
                &LEASE_SI,
                &slot_secrets(0x10),
                &[entry],
                &[],
                LeaseUpdate::NoChange,
                NOW,
            )
            .unwrap();
        assert!(out.passed);
        len += c.len() as u64;
        thread::yield_now();
    }
}

/// Renews the six first leases in turn, at later and later times, and adds a new lease
/// every fourth step. Returns each lease touched with its latest expiry.
fn renew_and_add(server: &Shared, steps: usize) -> BTreeMap<u8, u32> {
    let mut model = BTreeMap::new();
    for i in 0..steps {
        let now = NOW + 1 + i as u64;
        let r = 0x10 + (i % 6) as u8;
        lock(server)
            .renew_lease(&LEASE_SI, &RenewSecret::new([r; 32]), now)
            .unwrap();
        model.insert(r, expiry(now));
        if i % 4 == 0 {
            let new = 0x40 + i as u8;
            let count = lock(server)
                .add_lease(
                    &LEASE_SI,
                    &RenewSecret::new([new; 32]),
                    &CancelSecret::new([new ^ 0xff; 32]),
                    1,
                    now,
                )
                .unwrap();
            assert_eq!(count, 1);
            model.insert(new, expiry(now));
        }
        thread::yield_now();
    }
    model
}

/// The share holds exactly `data` and exactly the leases of the model (by renew secret),
/// each with its expiry, and nothing lies past the container.
fn check_data_and_leases(s: &mut FsServer, data: &[u8], leases: &BTreeMap<u8, u32>) {
    assert!(
        read_slot(s, &LEASE_SI, LEASE_SHARE).unwrap() == data,
        "the data"
    );
    let mut found = 0;
    s.for_each_lease(&LEASE_SI, |_, _, l| {
        let (r, exp) = leases
            .iter()
            .find(|(r, _)| l.secrets.matches_renew(&RenewSecret::new([**r; 32])))
            .expect("a lease nobody added");
        assert_eq!(l.expiration_time, *exp, "lease {r:#x}: expiry");
        found += 1;
        true
    })
    .unwrap();
    assert_eq!(found, leases.len(), "every lease, once");
    let stat = s.stat_share(&LEASE_SI, LEASE_SHARE).unwrap();
    let on_disk = fs::metadata(s.store().share_path(&LEASE_SI, LEASE_SHARE))
        .unwrap()
        .len();
    assert_eq!(stat.container_size, on_disk, "nothing past the container");
}

/// A lease renewal racing a mutable write that grows the container.
/// The slot starts with six leases (two in the extra-lease block, which every growing
/// write moves); one thread appends to the share while another renews the leases and adds
/// new ones. Afterwards every lease carries its latest expiry, and the data is exactly
/// the appended chunks, also after a fresh server reopens the directory (the files need
/// no recovery). `Durability::Durable`: leases and journaled writes are synced.
#[test]
fn lease_renewal_racing_a_growing_write_keeps_both() {
    const STEPS: usize = 40;
    let dir = TempDir::new("lease-race");
    let server = shared(dir.path(), Durability::Durable);
    let first = vec![0xab; 64];
    let (passed, _) = test_and_write(
        &mut lock(&server),
        &LEASE_SI,
        &slot_secrets(0x10),
        LEASE_SHARE,
        &[],
        &first,
    );
    assert!(passed);
    // The model: each lease's renew secret byte and its latest expiry.
    let mut leases: BTreeMap<u8, u32> = BTreeMap::new();
    leases.insert(0x10, expiry(NOW));
    for r in 0x11..=0x15u8 {
        let count = lock(&server)
            .add_lease(
                &LEASE_SI,
                &RenewSecret::new([r; 32]),
                &CancelSecret::new([r ^ 0xff; 32]),
                1,
                NOW,
            )
            .unwrap();
        assert_eq!(count, 1);
        leases.insert(r, expiry(NOW));
    }

    let chunks: Vec<Vec<u8>> = (0..STEPS)
        .map(|i| vec![i as u8; 50 + (i * 53) % 400])
        .collect();
    let renewed = thread::scope(|scope| {
        let (server, chunks, start) = (&server, &chunks, first.len() as u64);
        let writer = scope.spawn(move || append_chunks(server, start, chunks));
        let renewer = scope.spawn(move || renew_and_add(server, STEPS));
        writer.join().unwrap();
        renewer.join().unwrap()
    });
    leases.extend(renewed);
    let mut data = first;
    for c in &chunks {
        data.extend_from_slice(c);
    }

    check_data_and_leases(&mut lock(&server), &data, &leases);
    drop(server);
    check_data_and_leases(
        &mut fs_server(dir.path(), Durability::Durable),
        &data,
        &leases,
    );
    eprintln!(
        "lease race: {} leases, {} data bytes after {STEPS} growing writes",
        leases.len(),
        data.len()
    );
}

/// Regression: separate servers on one directory (as separate processes) uploading
/// distinct storage indexes under one two-letter prefix. Publishing or aborting the last
/// upload under a prefix removes the emptied `incoming/` directories, which another
/// server may just have created for its own share; its allocation then failed with
/// `NotFound` (about 2% of them here). The store now tries again.
#[test]
fn separate_servers_uploading_under_one_prefix_never_fail() {
    const PER_THREAD: u32 = 1500;
    let dir = TempDir::new("prefix");
    let mut servers = separate_servers(dir.path(), Durability::NoSync, 4);
    let secret = UploadSecret::new(b"prefix race").unwrap();
    let failures: Vec<String> = thread::scope(|scope| {
        let handles: Vec<_> = servers
            .iter_mut()
            .enumerate()
            .map(|(t, srv)| {
                let secret = secret.clone();
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for i in 0..PER_THREAD {
                        // The same first byte gives the same base32 prefix.
                        let mut b = [0u8; 16];
                        b[1] = t as u8;
                        b[2..6].copy_from_slice(&i.to_be_bytes());
                        let si = StorageIndex::new(b);
                        let req = AllocateRequest {
                            storage_index: si,
                            renew_secret: RenewSecret::new([1; 32]),
                            cancel_secret: CancelSecret::new([2; 32]),
                            share_numbers: [ShareNumber(0)].into_iter().collect(),
                            allocated_size: 10,
                            owner_num: 0,
                            renew_leases: true,
                            upload_secret: secret.clone(),
                        };
                        let r = srv
                            .allocate_buckets(&req, NOW)
                            .and_then(|_| {
                                srv.write(&si, ShareNumber(0), &secret, 0, b"0123456789", NOW)
                            })
                            .and_then(|_| srv.close(&si, ShareNumber(0), &secret));
                        if let Err(e) = r {
                            failures.push(format!("{si:?}: {e:?}"));
                        }
                    }
                    failures
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} uploads failed, e.g. {:?}",
        failures.len(),
        4 * PER_THREAD,
        failures.first()
    );
    for srv in &mut servers {
        assert_eq!(srv.allocated_size(), 0);
    }
    // The writers still hold the directory: a reader opens it read-only beside them.
    let mut reader = Server::new(
        FsStore::open_read_only(dir.path()).unwrap(),
        NODE,
        Config::default(),
        NOW,
    )
    .unwrap();
    let mut shares = 0;
    reader
        .store_mut()
        .for_each_storage_index(&mut |_| {
            shares += 1;
            true
        })
        .unwrap();
    assert_eq!(shares, 4 * PER_THREAD as usize);
}

//! Benchmarks of tahoe-shares (`cargo bench -p tahoe-shares-benches`) and the Rust side of
//! the comparison with Tahoe-LAFS 1.20 (`make bench`, driven by `benches/compare.py`).
//!
//! This library holds the operation mix that every implementation in the comparison runs
//! (the Python side in `compare.py` mirrors it step for step), so the criterion benchmarks
//! and the `rust_server_bench` binary measure the same work. Nothing here asserts a speed:
//! speed and memory are measured and reported, never tested.

use std::time::Instant;

use tahoe_shares::container::{TestOperator, TestVector};
use tahoe_shares::server::{AllocateRequest, Config, LeaseUpdate, Server, SlotSecrets, SlotWrite};
use tahoe_shares::store::ShareStore;
use tahoe_shares::{
    CancelSecret, NodeId, RenewSecret, ShareNumber, ShareSet, StorageIndex, UploadSecret,
    WriteEnabler,
};

/// The clock of every run: the operations take the time as an argument.
pub const NOW: u64 = 1_800_000_000;
/// The size of one write or read of a large share (Tahoe's client uses 128 KiB segments).
pub const CHUNK: usize = 128 * 1024;
/// The size of each small immutable share.
pub const SMALL_SHARE: usize = 1000;
/// Shares per small storage index.
pub const SMALL_SHARES: u8 = 3;

/// The error type of a store, boxed for the harness.
pub type BoxError = Box<dyn core::error::Error>;

/// Storage index number `i` of a family (`tag` distinguishes the families).
#[must_use]
pub fn si(tag: u8, i: u32) -> StorageIndex {
    let mut b = [0u8; 16];
    b[0] = tag;
    b[12..].copy_from_slice(&i.to_be_bytes());
    StorageIndex::new(b)
}

/// A 32-byte secret: `tag` then `i`.
#[must_use]
pub fn secret(tag: u8, i: u32) -> [u8; 32] {
    let mut b = [tag; 32];
    b[28..].copy_from_slice(&i.to_be_bytes());
    b
}

/// The bytes written at `offset` of a share (a cheap, non-constant pattern).
#[must_use]
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn upload_secret(i: u32) -> UploadSecret {
    UploadSecret::new(&secret(b'u', i)).expect("32 bytes")
}

/// A server over `store` as the comparison runs it (Tahoe's defaults).
///
/// # Errors
///
/// Store errors.
pub fn server<S: ShareStore>(store: S) -> Result<Server<S>, tahoe_shares::Error<S::Error>> {
    Server::new(store, NodeId([7; 20]), Config::default(), NOW)
}

/// Uploads one immutable share of `size` bytes in [`CHUNK`] writes: allocate, write,
/// close. Returns the storage index.
///
/// # Errors
///
/// Server and store errors.
pub fn upload<S: ShareStore>(
    server: &mut Server<S>,
    n: u32,
    size: u64,
) -> Result<StorageIndex, tahoe_shares::Error<S::Error>> {
    let si = si(b'L', n);
    let upload = upload_secret(n);
    let mut shares = ShareSet::new();
    shares.insert(ShareNumber(0));
    server.allocate_buckets(
        &AllocateRequest {
            storage_index: si,
            renew_secret: RenewSecret::new(secret(b'r', n)),
            cancel_secret: CancelSecret::new(secret(b'c', n)),
            share_numbers: shares,
            allocated_size: size,
            owner_num: 0,
            renew_leases: true,
            upload_secret: upload.clone(),
        },
        NOW,
    )?;
    let chunk = pattern(CHUNK, 1);
    let mut offset = 0u64;
    while offset < size {
        let len = (size - offset).min(CHUNK as u64) as usize;
        server.write(&si, ShareNumber(0), &upload, offset, &chunk[..len], NOW)?;
        offset += len as u64;
    }
    server.close(&si, ShareNumber(0), &upload)?;
    Ok(si)
}

/// Reads share 0 of `si` back in [`CHUNK`] reads; returns the bytes read.
///
/// # Errors
///
/// Server and store errors.
pub fn read_back<S: ShareStore>(
    server: &mut Server<S>,
    si: &StorageIndex,
) -> Result<u64, tahoe_shares::Error<S::Error>> {
    let bucket = server.open_bucket(si, ShareNumber(0))?;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = server.read_bucket(&bucket, total, &mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

/// Allocates, writes and closes [`SMALL_SHARES`] shares of [`SMALL_SHARE`] bytes for
/// storage index `i` of the small family.
///
/// # Errors
///
/// Server and store errors.
pub fn small_upload<S: ShareStore>(
    server: &mut Server<S>,
    i: u32,
) -> Result<(), tahoe_shares::Error<S::Error>> {
    let si = si(b'S', i);
    let upload = upload_secret(i);
    let shares: ShareSet = (0..SMALL_SHARES).map(ShareNumber).collect();
    server.allocate_buckets(
        &AllocateRequest {
            storage_index: si,
            renew_secret: RenewSecret::new(secret(b'r', i)),
            cancel_secret: CancelSecret::new(secret(b'c', i)),
            share_numbers: shares,
            allocated_size: SMALL_SHARE as u64,
            owner_num: 0,
            renew_leases: true,
            upload_secret: upload.clone(),
        },
        NOW,
    )?;
    let data = pattern(SMALL_SHARE, i as u8);
    for n in 0..SMALL_SHARES {
        server.write(&si, ShareNumber(n), &upload, 0, &data, NOW)?;
        server.close(&si, ShareNumber(n), &upload)?;
    }
    Ok(())
}

/// Adds the lease with renew secret number `k` to small storage index 0 (owner 1).
///
/// # Errors
///
/// Server and store errors.
pub fn add_lease<S: ShareStore>(
    server: &mut Server<S>,
    k: u32,
) -> Result<usize, tahoe_shares::Error<S::Error>> {
    server.add_lease(
        &si(b'S', 0),
        &RenewSecret::new(secret(b'R', k)),
        &CancelSecret::new(secret(b'C', k)),
        1,
        NOW + 1,
    )
}

/// Renews the lease with renew secret number `k` on small storage index 0.
///
/// # Errors
///
/// Server and store errors.
pub fn renew_lease<S: ShareStore>(
    server: &mut Server<S>,
    k: u32,
) -> Result<(), tahoe_shares::Error<S::Error>> {
    server.renew_lease(&si(b'S', 0), &RenewSecret::new(secret(b'R', k)), NOW + 2)
}

/// The secrets of slot `i`.
#[must_use]
pub fn slot_secrets(i: u32) -> SlotSecrets {
    SlotSecrets {
        write_enabler: WriteEnabler::new(secret(b'w', i)),
        renew: RenewSecret::new(secret(b'r', i)),
        cancel: CancelSecret::new(secret(b'c', i)),
    }
}

/// One test-and-write of 1 KB at offset 0 of share 0 of slot `i`: round 0 creates the
/// slot (its test: share empty), later rounds overwrite it (test: the first 16 bytes are
/// as round `round - 1` left them).
///
/// # Errors
///
/// Server and store errors.
///
/// # Panics
///
/// When the test vector fails (the mix is deterministic, so it never should).
pub fn slot_write<S: ShareStore>(
    server: &mut Server<S>,
    i: u32,
    round: u8,
) -> Result<(), tahoe_shares::Error<S::Error>> {
    let data = pattern(1000, round);
    let previous = if round == 0 {
        Vec::new()
    } else {
        pattern(16, round - 1)
    };
    let tests = [TestVector {
        offset: 0,
        length: if round == 0 { 1 } else { 16 },
        operator: TestOperator::Eq,
        specimen: &previous,
    }];
    let writes = [(0u64, data.as_slice())];
    let tw = [SlotWrite {
        share_number: ShareNumber(0),
        tests: &tests,
        writes: &writes,
        new_length: None,
    }];
    let outcome = server.slot_testv_and_readv_and_writev(
        &si(b'M', i),
        &slot_secrets(i),
        &tw,
        &[],
        LeaseUpdate::AddOrRenew,
        NOW,
    )?;
    assert!(outcome.passed, "test vector failed");
    Ok(())
}

/// Reads 2×100 bytes from every share of slot `i`.
///
/// # Errors
///
/// Server and store errors.
pub fn slot_readv<S: ShareStore>(
    server: &mut Server<S>,
    i: u32,
) -> Result<usize, tahoe_shares::Error<S::Error>> {
    let r = server.slot_readv(&si(b'M', i), &ShareSet::new(), &[(0, 100), (500, 100)])?;
    Ok(r.len())
}

/// Seconds since `start`.
#[must_use]
pub fn secs(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

/// The peak resident set size of this process (`VmHWM`), in KiB; 0 when unknown.
#[must_use]
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

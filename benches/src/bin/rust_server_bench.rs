//! The Rust rows of `make bench`: the operation mix of `benches/compare.py` run against
//! `Server<FsStore>` directly, or the same large-share bytes through raw `pwrite`/`pread`.
//!
//! ```text
//! rust_server_bench server|raw mix|upload DIR SIZE [durable] [key=value...]
//! rust_server_bench server census DIR SIZE [durable] [n=N] [leases=L]
//! ```
//!
//! `mix`: upload of one SIZE-byte share in 128 KiB writes, reading it back, then the small
//! operations (`small=`, `leases=`, `renews=`, `slots=`, `readv_rounds=` set the counts;
//! `raw_offset=` moves the raw bytes in their file, to show the cost of misalignment).
//! `upload`: only the upload (for peak memory against share size). Prints one JSON object:
//! `{"results": {op: {"value": v, "unit": u, "seconds": s}}, "peak_rss_kib": n}`.
//!
//! `census`: the operation mix of `benches/syscalls.py` (`make bench-syscalls`), run under
//! `strace`: each measured phase of `n=` operations sits between two marker system calls
//! (a `statx` of a path under `/.tahoe-shares-census/` that does not exist), after one
//! warm-up operation, so the script counts exactly the system calls of those operations.
//! Prints nothing; timing is not its purpose.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};
use tahoe_shares::server::Server;
use tahoe_shares::store::{Durability, FsStore, ShareStore};
use tahoe_shares_benches::{
    add_lease, pattern, peak_rss_kib, read_back, renew_lease, secs, server, slot_readv, slot_write,
    small_upload, upload, BoxError, CHUNK,
};

/// The error of a server over the file store.
type StoreError = tahoe_shares::Error<<FsStore as ShareStore>::Error>;

/// Uploads and reads of the large share in the mix; the best is reported.
const REPS: u32 = 3;

struct Counts {
    small: u32,
    leases: u32,
    renews: u32,
    slots: u32,
    readv_rounds: u32,
    /// Where raw I/O puts the bytes in its file (Tahoe's immutable data starts at 12).
    raw_offset: u32,
    /// Operations per measured phase of the census.
    n: u32,
}

// Byte counts stay far below 2^52: the conversion is exact.
#[allow(clippy::cast_precision_loss)]
fn mb_per_s(bytes: u64, seconds: f64) -> Value {
    json!({"value": bytes as f64 / 1e6 / seconds, "unit": "MB/s", "seconds": seconds})
}

fn ops_per_s(ops: u32, seconds: f64) -> Value {
    json!({"value": f64::from(ops) / seconds, "unit": "op/s", "seconds": seconds})
}

fn run_server(
    mode: &str,
    dir: &Path,
    size: u64,
    durable: bool,
    c: &Counts,
) -> Result<BTreeMap<&'static str, Value>, BoxError> {
    let durability = if durable {
        Durability::Durable
    } else {
        Durability::NoSync
    };
    let mut s = server(FsStore::open(dir, durability)?)?;
    let mut out = BTreeMap::new();
    // The mix takes the best of REPS uploads and reads (single runs of a few ms are noisy).
    let reps = if mode == "upload" { 1 } else { REPS };
    let mut best = (f64::MAX, f64::MAX);
    for n in 0..reps {
        let t = Instant::now();
        let si = upload(&mut s, n, size)?;
        best.0 = best.0.min(secs(t));
        if mode == "upload" {
            break;
        }
        let t = Instant::now();
        let got = read_back(&mut s, &si)?;
        assert_eq!(got, size, "short read");
        best.1 = best.1.min(secs(t));
    }
    out.insert("upload", mb_per_s(size, best.0));
    if mode == "upload" {
        return Ok(out);
    }
    out.insert("read", mb_per_s(size, best.1));

    let t = Instant::now();
    for i in 0..c.small {
        small_upload(&mut s, i)?;
    }
    out.insert("small_upload", ops_per_s(c.small, secs(t)));

    // Small storage index 0 holds one lease from its upload; add the rest.
    let t = Instant::now();
    for k in 1..c.leases {
        add_lease(&mut s, k)?;
    }
    out.insert("add_lease", ops_per_s(c.leases - 1, secs(t)));

    let t = Instant::now();
    for j in 0..c.renews {
        renew_lease(&mut s, 1 + (j * 7919) % (c.leases - 1))?;
    }
    out.insert("renew_lease", ops_per_s(c.renews, secs(t)));

    for (round, name) in [(0, "slot_create"), (1, "slot_write")] {
        let t = Instant::now();
        for i in 0..c.slots {
            slot_write(&mut s, i, round)?;
        }
        out.insert(name, ops_per_s(c.slots, secs(t)));
    }

    let t = Instant::now();
    for _ in 0..c.readv_rounds {
        for i in 0..c.slots {
            slot_readv(&mut s, i)?;
        }
    }
    out.insert("slot_readv", ops_per_s(c.readv_rounds * c.slots, secs(t)));
    Ok(out)
}

/// A system call `benches/syscalls.py` finds in the trace: a `statx` of a path that does
/// not exist, naming the phase.
fn marker(what: &str) {
    // The error is the point: the path does not exist.
    let _ = std::fs::symlink_metadata(format!("/.tahoe-shares-census/{what}"));
}

/// Sends `command` to `perf record --control fifo:CTL,ACK` and waits for its ack, when
/// `benches/profile.py` profiles phase `name` (`TS_PROFILE_PHASE`, `TS_PERF_CTL`,
/// `TS_PERF_ACK` in the environment); otherwise does nothing.
fn perf_control(name: &str, command: &str) -> Result<(), BoxError> {
    use std::io::{Read, Write};
    if std::env::var("TS_PROFILE_PHASE").ok().as_deref() != Some(name) {
        return Ok(());
    }
    let (Ok(ctl), Ok(ack)) = (std::env::var("TS_PERF_CTL"), std::env::var("TS_PERF_ACK")) else {
        return Ok(());
    };
    OpenOptions::new()
        .write(true)
        .open(ctl)?
        .write_all(format!("{command}\n").as_bytes())?;
    let mut reply = [0u8; 4];
    OpenOptions::new()
        .read(true)
        .open(ack)?
        .read_exact(&mut reply)?;
    Ok(())
}

/// Runs `op` once as a warm-up, then `ops` between the markers of phase `name`.
fn phase(
    s: &mut Server<FsStore>,
    name: &str,
    n: u32,
    warm_up: Option<u32>,
    mut op: impl FnMut(&mut Server<FsStore>, u32) -> Result<(), StoreError>,
) -> Result<(), BoxError> {
    if let Some(w) = warm_up {
        op(s, w)?;
    }
    perf_control(name, "enable")?;
    marker(&format!("begin/{name}/{n}"));
    for i in 0..n {
        op(s, i)?;
    }
    marker(&format!("end/{name}"));
    perf_control(name, "disable")?;
    Ok(())
}

/// The census mix (the Rust half of `Census.run` in `benches/syscalls.py`).
fn run_census(dir: &Path, size: u64, durable: bool, c: &Counts) -> Result<(), BoxError> {
    let durability = if durable {
        Durability::Durable
    } else {
        Durability::NoSync
    };
    let mut s = server(FsStore::open(dir, durability)?)?;
    let n = c.n;
    phase(&mut s, "upload", 1, None, |s, i| {
        upload(s, i, size).map(drop)
    })?;
    phase(&mut s, "small_upload", n, Some(n), small_upload)?;
    // Small storage index 0 holds one lease from its upload; grow it to `leases`, then
    // measure adding `n` more and renewing `n` of them.
    for k in 1..c.leases {
        add_lease(&mut s, k)?;
    }
    phase(&mut s, "add_lease", n, None, |s, j| {
        add_lease(s, c.leases + j).map(drop)
    })?;
    phase(&mut s, "renew_lease", n, None, |s, j| {
        renew_lease(s, 1 + (j * 7919) % (c.leases - 1))
    })?;
    phase(&mut s, "slot_create", n, Some(n), |s, i| {
        slot_write(s, i, 0)
    })?;
    phase(&mut s, "slot_write", n, Some(n), |s, i| slot_write(s, i, 1))?;
    phase(&mut s, "slot_readv", n, Some(n), |s, i| {
        slot_readv(s, i).map(drop)
    })?;
    Ok(())
}

fn run_raw(
    mode: &str,
    dir: &Path,
    size: u64,
    durable: bool,
    base: u64,
) -> Result<BTreeMap<&'static str, Value>, BoxError> {
    std::fs::create_dir_all(dir)?;
    let chunk = pattern(CHUNK, 1);
    let mut out = BTreeMap::new();
    let reps = if mode == "upload" { 1 } else { REPS };
    let mut best = (f64::MAX, f64::MAX);
    for n in 0..reps {
        let path = dir.join(format!("raw-share-{n}"));
        let t = Instant::now();
        {
            let f = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&path)?;
            let mut offset = 0u64;
            while offset < size {
                let len = (size - offset).min(CHUNK as u64) as usize;
                f.write_all_at(&chunk[..len], base + offset)?;
                offset += len as u64;
            }
            if durable {
                f.sync_all()?;
            }
        }
        best.0 = best.0.min(secs(t));
        if mode == "upload" {
            break;
        }
        let t = Instant::now();
        let f = OpenOptions::new().read(true).open(&path)?;
        let mut buf = vec![0u8; CHUNK];
        let mut total = 0u64;
        loop {
            let n = f.read_at(&mut buf, base + total)?;
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        assert_eq!(total, size, "short read");
        best.1 = best.1.min(secs(t));
    }
    out.insert("upload", mb_per_s(size, best.0));
    if mode == "mix" {
        out.insert("read", mb_per_s(size, best.1));
    }
    Ok(out)
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: rust_server_bench server|raw mix|upload DIR SIZE [durable] [key=value...]";
    if args.len() < 4 {
        return Err(usage.into());
    }
    let (kind, mode, dir) = (args[0].as_str(), args[1].as_str(), Path::new(&args[2]));
    let size: u64 = args[3].parse()?;
    let mut durable = false;
    let mut c = Counts {
        small: 2000,
        leases: 2000,
        renews: 200,
        slots: 200,
        readv_rounds: 5,
        raw_offset: 0,
        n: 20,
    };
    for a in &args[4..] {
        if a == "durable" {
            durable = true;
            continue;
        }
        let (k, v) = a.split_once('=').ok_or(usage)?;
        let v: u32 = v.parse()?;
        match k {
            "small" => c.small = v,
            "leases" => c.leases = v,
            "renews" => c.renews = v,
            "slots" => c.slots = v,
            "readv_rounds" => c.readv_rounds = v,
            "raw_offset" => c.raw_offset = v,
            "n" => c.n = v,
            _ => return Err(usage.into()),
        }
    }
    if kind == "server" && mode == "census" {
        return run_census(dir, size, durable, &c);
    }
    let results = match kind {
        "server" => run_server(mode, dir, size, durable, &c)?,
        "raw" => run_raw(mode, dir, size, durable, u64::from(c.raw_offset))?,
        _ => return Err(usage.into()),
    };
    println!(
        "{}",
        json!({"results": results, "peak_rss_kib": peak_rss_kib()})
    );
    Ok(())
}

//! The differential test: `differential.script` run through the C API (by the C program
//! `differential.c`) and through the Rust core (here) must give the same transcript and
//! byte-identical storage directories.
//!
//! `make test-c` builds the C program and names it in `TS_C_DIFF_RUNNER`; without that
//! variable (a plain `cargo test`) the test only checks that the Rust side runs.

use core::fmt::Write as _;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use tahoe_shares::container::{TestOperator, TestVector};
use tahoe_shares::server::{
    AllocateRequest, Config, LeaseUpdate, ReadResults, Server, SlotSecrets, SlotWrite,
};
use tahoe_shares::store::{Durability, FsStore};
use tahoe_shares::{
    CancelSecret, Error, NodeId, RenewSecret, ShareNumber, ShareSet, StorageIndex, UploadSecret,
    WriteEnabler,
};
use tahoe_shares_c::ts_result;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/differential.script");

fn byte(tok: &str) -> u8 {
    tok.parse().expect("byte value")
}

fn num(tok: &str) -> u64 {
    tok.parse().expect("number")
}

/// `B` is 16 bytes of value `B`; `B*N` is `N` bytes of value `B`.
fn storage_index(tok: &str) -> StorageIndex {
    let (b, n) = tok.split_once('*').map_or((tok, 16), |(b, n)| (b, num(n)));
    let bytes = vec![byte(b); usize::try_from(n).expect("length")];
    StorageIndex::from_slice(&bytes).expect("1 to 32 bytes")
}

fn code<T>(r: &Result<T, Error<io::Error>>) -> u32 {
    match r {
        Ok(_) => 0,
        Err(e) => ts_result::from(e) as u32,
    }
}

fn set(name: &str, s: &ShareSet) -> String {
    let list: Vec<String> = s.iter().map(|n| n.0.to_string()).collect();
    format!(" {name}={}", list.join(","))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn reads(r: &ReadResults) -> String {
    let shares: Vec<String> = r
        .iter()
        .map(|(n, v)| {
            let data: Vec<String> = v.iter().map(|d| hex(d)).collect();
            format!("{}:{}", n.0, data.join("/"))
        })
        .collect();
    format!(" reads={}", shares.join(";"))
}

fn start(dir: &Path, now: u64) -> Server<FsStore> {
    let store = FsStore::open(dir, Durability::Durable).expect("open store");
    Server::new(store, NodeId([0x42; 20]), Config::default(), now).expect("start server")
}

/// Runs the script through the core; returns the transcript, as differential.c prints it.
// One flat dispatch over the script's ops reads best as one function.
#[allow(clippy::too_many_lines)]
fn run_rust(dir: &Path) -> String {
    let mut out = String::new();
    let mut now = 0;
    let mut server: Option<Server<FsStore>> = None;
    for (i, line) in fs::read_to_string(SCRIPT)
        .expect("script")
        .lines()
        .enumerate()
    {
        let tok: Vec<&str> = line.split(' ').filter(|s| !s.is_empty()).collect();
        let Some(&op) = tok.first() else { continue };
        if op.starts_with('#') {
            continue;
        }
        if op == "time" {
            now = num(tok[1]);
            continue;
        }
        let srv = server.get_or_insert_with(|| start(dir, now));
        let si = || storage_index(tok[1]);
        let mut line_out = format!("{} {op}", i + 1);
        let detail = match op {
            "allocate" => {
                let req = AllocateRequest {
                    storage_index: si(),
                    renew_secret: RenewSecret::new([byte(tok[2]); 32]),
                    cancel_secret: CancelSecret::new([byte(tok[3]); 32]),
                    share_numbers: tok[6].split(',').map(|n| ShareNumber(byte(n))).collect(),
                    allocated_size: num(tok[5]),
                    owner_num: 0,
                    renew_leases: true,
                    upload_secret: UploadSecret::new(tok[4].as_bytes()).expect("secret"),
                };
                let r = srv.allocate_buckets(&req, now);
                let d = r.as_ref().map_or(String::new(), |a| {
                    set("already", &a.already_have) + &set("allocated", &a.allocated)
                });
                (code(&r), d)
            }
            "write" | "close" | "abort" => {
                let shnum = ShareNumber(byte(tok[2]));
                let secret = UploadSecret::new(tok[3].as_bytes()).expect("secret");
                match op {
                    "write" => {
                        let r =
                            srv.write(&si(), shnum, &secret, num(tok[4]), tok[5].as_bytes(), now);
                        let d = r
                            .as_ref()
                            .map_or(String::new(), |c| format!(" complete={}", u8::from(*c)));
                        (code(&r), d)
                    }
                    "close" => {
                        let r = srv.close(&si(), shnum, &secret);
                        let d = r.as_ref().map_or(String::new(), |z| format!(" size={z}"));
                        (code(&r), d)
                    }
                    _ => (code(&srv.abort(&si(), shnum, &secret)), String::new()),
                }
            }
            "read" => {
                let r = srv
                    .open_bucket(&si(), ShareNumber(byte(tok[2])))
                    .and_then(|b| srv.read_bucket_vec(&b, num(tok[3]), num(tok[4])));
                let d = r
                    .as_ref()
                    .map_or(String::new(), |v| format!(" data={}", hex(v)));
                (code(&r), d)
            }
            "add_lease" => {
                let renew = RenewSecret::new([byte(tok[2]); 32]);
                let cancel = CancelSecret::new([byte(tok[3]); 32]);
                let r = srv.add_lease(&si(), &renew, &cancel, num(tok[4]) as u32, now);
                let d = r.as_ref().map_or(String::new(), |c| format!(" count={c}"));
                (code(&r), d)
            }
            "renew" => (
                code(&srv.renew_lease(&si(), &RenewSecret::new([byte(tok[2]); 32]), now)),
                String::new(),
            ),
            "cancel" => {
                let r = srv.cancel_lease(&si(), &CancelSecret::new([byte(tok[2]); 32]));
                let d = r.as_ref().map_or(String::new(), |f| format!(" freed={f}"));
                (code(&r), d)
            }
            "slot" => {
                let secrets = SlotSecrets {
                    write_enabler: WriteEnabler::new([byte(tok[2]); 32]),
                    renew: RenewSecret::new([byte(tok[3]); 32]),
                    cancel: CancelSecret::new([byte(tok[4]); 32]),
                };
                let (toff, specimen, woff, data, newlen) =
                    (tok[6], tok[7], tok[8], tok[9], tok[10]);
                let tests: Vec<TestVector<'_>> = match specimen {
                    "-" => vec![],
                    "~" => vec![TestVector {
                        offset: num(toff),
                        length: 1,
                        operator: TestOperator::Eq,
                        specimen: b"",
                    }],
                    sp => vec![TestVector {
                        offset: num(toff),
                        length: sp.len() as u64,
                        operator: TestOperator::Eq,
                        specimen: sp.as_bytes(),
                    }],
                };
                let writes: Vec<(u64, &[u8])> = match data {
                    "-" => vec![],
                    d => vec![(num(woff), d.as_bytes())],
                };
                let slot_writes = [SlotWrite {
                    share_number: ShareNumber(byte(tok[5])),
                    tests: &tests,
                    writes: &writes,
                    new_length: (newlen != "-").then(|| num(newlen)),
                }];
                let r = srv.slot_testv_and_readv_and_writev(
                    &si(),
                    &secrets,
                    &slot_writes,
                    &[(0, 64)],
                    LeaseUpdate::AddOrRenew,
                    now,
                );
                let d = r.as_ref().map_or(String::new(), |o| {
                    format!(" passed={}", u8::from(o.passed)) + &reads(&o.reads)
                });
                (code(&r), d)
            }
            "readv" => {
                let r = srv.slot_readv(&si(), &ShareSet::new(), &[(num(tok[2]), num(tok[3]))]);
                let d = r.as_ref().map_or(String::new(), reads);
                (code(&r), d)
            }
            "advise" => {
                let r = srv.advise_corrupt_share(
                    tok[3].as_bytes(),
                    &si(),
                    ShareNumber(byte(tok[2])),
                    tok[4].as_bytes(),
                    now,
                );
                let outcome = |o: &tahoe_shares::server::AdviseOutcome| {
                    tahoe_shares_c::ts_advise_outcome::try_from(*o).expect("an outcome C names")
                        as u32
                };
                let d = r
                    .as_ref()
                    .map_or(String::new(), |o| format!(" outcome={}", outcome(o)));
                (code(&r), d)
            }
            "expire" => {
                let r = srv.expire_stale_uploads(now, |_, _| {});
                let d = r.as_ref().map_or(String::new(), |c| format!(" count={c}"));
                (code(&r), d)
            }
            "restart" => {
                // The old server releases the directory's lock before the new one takes it.
                drop(server.take());
                server = Some(start(dir, now));
                (0, String::new())
            }
            other => panic!("unknown op {other}"),
        };
        let _ = write!(line_out, " {}{}", detail.0, detail.1);
        out.push_str(&line_out);
        out.push('\n');
    }
    out
}

/// Every entry under `root` (directories too), with the contents of files.
fn tree(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let rel = path.strip_prefix(root).expect("under root").to_path_buf();
            if path.is_dir() {
                stack.push(path);
                out.insert(rel, None);
            } else {
                out.insert(rel, Some(fs::read(&path).expect("read")));
            }
        }
    }
    out
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ts-differential-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

#[test]
fn c_and_rust_give_identical_storage() {
    let rust_dir = scratch("rust");
    let rust_out = run_rust(&rust_dir);
    assert!(rust_out.contains("close 0 size=96"), "{rust_out}");
    let Some(runner) = std::env::var_os("TS_C_DIFF_RUNNER") else {
        eprintln!("TS_C_DIFF_RUNNER is not set: the C half is skipped (make test-c runs it)");
        fs::remove_dir_all(&rust_dir).expect("clean up");
        return;
    };
    let c_dir = scratch("c");
    let c = Command::new(&runner)
        .arg(SCRIPT)
        .arg(&c_dir)
        .output()
        .expect("run the C runner");
    assert!(
        c.status.success(),
        "C runner failed: {}",
        String::from_utf8_lossy(&c.stderr)
    );
    let c_out = String::from_utf8(c.stdout).expect("UTF-8 transcript");
    assert_eq!(c_out, rust_out, "the transcripts differ");
    let (rust_tree, c_tree) = (tree(&rust_dir), tree(&c_dir));
    assert!(rust_tree
        .keys()
        .any(|p| p.starts_with("corruption-advisories")));
    assert_eq!(
        rust_tree.keys().collect::<Vec<_>>(),
        c_tree.keys().collect::<Vec<_>>(),
        "the directories hold different names"
    );
    for (path, bytes) in &rust_tree {
        assert!(&c_tree[path] == bytes, "{} differs", path.display());
    }
    fs::remove_dir_all(&rust_dir).expect("clean up");
    fs::remove_dir_all(&c_dir).expect("clean up");
}

//! End-to-end tests of the `tahoe-shares` binary: storage directories built with the
//! library, corrupted on purpose, and Tahoe 1.20's own golden containers.

use core::sync::atomic::{AtomicU32, Ordering};
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use tahoe_shares::container::{ImmutableContainer, MutableContainer, NewLease};
use tahoe_shares::format::immutable::ImmutableVersion;
use tahoe_shares::format::mutable::MutableVersion;
use tahoe_shares::store::{Durability, FsStore, ShareStore};
use tahoe_shares::{CancelSecret, NodeId, RenewSecret, ShareNumber, StorageIndex, WriteEnabler};

const BIN: &str = env!("CARGO_BIN_EXE_tahoe-shares");

/// Sorts first by base32 name ("777..."), though last by bytes.
const SI_IMM: StorageIndex = StorageIndex::new([0xff; 16]);
/// "aaaa...".
const SI_MUT: StorageIndex = StorageIndex::new([0; 16]);
/// "caib...".
const SI_V1: StorageIndex = StorageIndex::new([0x10; 16]);
const MUT_NODEID: NodeId = NodeId([7; 20]);
const MUT_EXPIRIES: [u32; 5] = [
    1_750_000_000,
    1_760_000_000,
    1_770_000_000,
    1_780_000_000,
    1_790_000_000,
];

/// A fresh directory under the system temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "tahoe-shares-cli-{tag}-{}-{n}-{nanos}",
            std::process::id()
        ));
        fs::create_dir(&path).expect("create temp dir");
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// What one run of the binary did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

fn run<S: AsRef<OsStr>>(args: &[S]) -> Run {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run tahoe-shares");
    let run = Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "{args:?} panicked: {run:?}",
        args = args.iter().map(AsRef::as_ref).collect::<Vec<_>>()
    );
    run
}

fn run2(command: &str, path: &Path) -> Run {
    run(&[OsStr::new(command), path.as_os_str()])
}

fn lease(seed: u8, owner: u32, expiry: u32) -> NewLease {
    NewLease {
        owner_num: owner,
        renew: RenewSecret::new([seed; 32]),
        cancel: CancelSecret::new([!seed; 32]),
        expiration_time: expiry,
        nodeid: MUT_NODEID,
    }
}

fn add_immutable(
    store: &mut FsStore,
    si: StorageIndex,
    n: u8,
    version: ImmutableVersion,
    size: u8,
    expiries: &[u32],
) {
    let io = store.create_incoming(&si, ShareNumber(n)).unwrap();
    let mut share = ImmutableContainer::create(io, version, u64::from(size)).unwrap();
    for (i, e) in expiries.iter().enumerate() {
        share.add_lease(&lease(i as u8 + 1, i as u32, *e)).unwrap();
    }
    let data: Vec<u8> = (0..size).collect();
    share.write_share_data(0, &data).unwrap();
    drop(share);
    store.publish(&si, ShareNumber(n)).unwrap();
}

/// A storage directory with four shares: two immutable v2 shares of one storage index
/// (one lease, two leases), a mutable v2 share with five leases (so one extra slot), and
/// an immutable v1 share without a lease.
fn build_store(dir: &Path) -> FsStore {
    let mut store = FsStore::open(dir, Durability::Tahoe).unwrap();
    add_immutable(
        &mut store,
        SI_IMM,
        0,
        ImmutableVersion::V2,
        100,
        &[1_800_000_000],
    );
    add_immutable(
        &mut store,
        SI_IMM,
        3,
        ImmutableVersion::V2,
        100,
        &[1_800_000_000, 1_900_000_000],
    );
    add_immutable(&mut store, SI_V1, 0, ImmutableVersion::V1, 40, &[]);

    let io = store.create_incoming(&SI_MUT, ShareNumber(1)).unwrap();
    let mut share = MutableContainer::create(
        io,
        MutableVersion::V2,
        MUT_NODEID,
        WriteEnabler::new([9; 32]),
    )
    .unwrap();
    share.writev(&[(0, b"hello mutable")], None).unwrap();
    for (i, e) in MUT_EXPIRIES.iter().enumerate() {
        share
            .add_lease(u64::MAX, &lease(0x40 + i as u8, i as u32 + 1, *e))
            .unwrap();
    }
    drop(share);
    store.publish(&SI_MUT, ShareNumber(1)).unwrap();
    store
}

fn expected_catalog() -> Vec<String> {
    let mut_expiries: Vec<String> = MUT_EXPIRIES.iter().map(u32::to_string).collect();
    vec![
        format!("CHK {SI_IMM} 0 100 1800000000"),
        format!("CHK {SI_IMM} 3 100 1800000000,1900000000"),
        format!("MUT {SI_MUT} 1 13 {}", mut_expiries.join(",")),
        format!("CHK {SI_V1} 0 40 -"),
    ]
}

/// `key: value` lines of a dump (first occurrence of each key), and its lease lines.
fn parse_dump(stdout: &str) -> (BTreeMap<String, String>, Vec<String>) {
    let mut fields = BTreeMap::new();
    let mut leases = Vec::new();
    for line in stdout.lines() {
        if line.starts_with("lease #") {
            leases.push(line.to_owned());
        } else if let Some((k, v)) = line.split_once(": ") {
            fields.entry(k.to_owned()).or_insert_with(|| v.to_owned());
        } else {
            panic!("unexpected dump line {line:?}");
        }
    }
    (fields, leases)
}

/// Every entry under `dir`: path, contents (files) and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Option<Vec<u8>>, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let contents = if meta.is_dir() {
                stack.push(path.clone());
                None
            } else if meta.is_file() {
                Some(fs::read(&path).unwrap())
            } else {
                None
            };
            out.insert(path, (contents, meta.modified().unwrap()));
        }
    }
    out
}

fn write_at(path: &Path, offset: u64, bytes: &[u8]) {
    let f = OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

#[test]
fn help_and_usage_errors() {
    let help = run(&["--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("usage:"), "{help:?}");
    assert!(help.stdout.contains("tahoe-shares catalog STORAGE_DIR"));
    assert_eq!(run(&["verify", "--help"]).stdout, help.stdout);

    let none = run::<&str>(&[]);
    assert_eq!(none.code, 2);
    assert!(none.stdout.is_empty());
    assert!(none.stderr.contains("usage:"), "{none:?}");

    let unknown = run(&["frobnicate", "x"]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stdout.is_empty());
    assert!(
        unknown.stderr.contains("unknown command \"frobnicate\""),
        "{unknown:?}"
    );
    assert!(unknown.stderr.contains("usage:"));

    for args in [&["dump-share"][..], &["catalog", "a", "b"], &["verify"]] {
        let r = run(args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(r.stderr.contains("usage:"), "{args:?}: {r:?}");
    }
}

#[test]
fn catalog_lists_every_share_in_order() {
    let tmp = TempDir::new("catalog");
    let store = build_store(tmp.path());
    // Things the store does not count as shares: a non-canonical name, a stray file, and
    // a symbolic link.
    let bucket = store.bucket_dir(&SI_IMM);
    fs::write(bucket.join("007"), b"junk").unwrap();
    fs::write(bucket.join("notes.txt"), b"junk").unwrap();
    std::os::unix::fs::symlink(bucket.join("0"), bucket.join("5")).unwrap();

    let r = run2("catalog", tmp.path());
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.lines(), expected_catalog());
    assert!(r.stderr.is_empty(), "{r:?}");
    assert!(SI_IMM.to_string().starts_with("77"));
}

#[test]
fn dump_share_immutable() {
    let tmp = TempDir::new("dump-imm");
    let store = build_store(tmp.path());
    let r = run2("dump-share", &store.share_path(&SI_IMM, ShareNumber(3)));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.lines(),
        [
            "share type: immutable",
            "version: 2",
            "data length: 100",
            "lease count: 2",
            "lease #0: owner=0, expire_time=1800000000 (2027-01-15 08:00:00 UTC), secrets=hashed",
            "lease #1: owner=1, expire_time=1900000000 (2030-03-17 17:46:40 UTC), secrets=hashed",
        ]
    );

    let r = run2("dump-share", &store.share_path(&SI_V1, ShareNumber(0)));
    assert_eq!(r.code, 0, "{r:?}");
    let (fields, leases) = parse_dump(&r.stdout);
    assert_eq!(fields["version"], "1");
    assert_eq!(fields["data length"], "40");
    assert_eq!(fields["lease count"], "0");
    assert!(leases.is_empty());
}

#[test]
fn dump_share_mutable() {
    let tmp = TempDir::new("dump-mut");
    let store = build_store(tmp.path());
    let r = run2("dump-share", &store.share_path(&SI_MUT, ShareNumber(1)));
    assert_eq!(r.code, 0, "{r:?}");
    let (fields, leases) = parse_dump(&r.stdout);
    assert_eq!(fields["share type"], "mutable");
    assert_eq!(fields["version"], "2");
    assert_eq!(fields["write enabler nodeid"], MUT_NODEID.to_string());
    assert_eq!(fields["data length"], "13");
    // 468 bytes of header and slots, then the 13 bytes of data.
    assert_eq!(fields["extra-lease offset"], "481");
    assert_eq!(fields["extra lease slots"], "1");
    assert_eq!(fields["pending recovery"], "no");
    assert_eq!(fields["lease count"], "5");
    assert_eq!(leases.len(), 5);
    assert_eq!(
        leases[0],
        format!(
            "lease #0: owner=1, expire_time=1750000000 (2025-06-15 15:06:40 UTC), \
             secrets=hashed, nodeid={MUT_NODEID}"
        )
    );
    for (i, (line, expiry)) in leases.iter().zip(MUT_EXPIRIES).enumerate() {
        assert!(
            line.starts_with(&format!(
                "lease #{i}: owner={}, expire_time={expiry} (",
                i + 1
            )),
            "{line}"
        );
    }
}

#[test]
fn verify_clean_store() {
    let tmp = TempDir::new("verify-ok");
    build_store(tmp.path());
    let r = run2("verify", tmp.path());
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.lines(), ["ok: 4 shares"]);

    // An empty storage directory is fine too.
    let empty = TempDir::new("verify-empty");
    FsStore::open(empty.path(), Durability::Tahoe).unwrap();
    let r = run2("verify", empty.path());
    assert_eq!((r.code, r.lines()), (0, vec!["ok: 0 shares"]));
    let r = run2("catalog", empty.path());
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
}

#[test]
fn truncated_share_is_named() {
    let tmp = TempDir::new("truncated");
    let store = build_store(tmp.path());
    let bad = store.share_path(&SI_IMM, ShareNumber(3));
    OpenOptions::new()
        .write(true)
        .open(&bad)
        .unwrap()
        .set_len(5)
        .unwrap();
    let error = "corrupt container: container shorter than its header";

    let r = run2("verify", tmp.path());
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.lines(), [format!("corrupt: {}: {error}", bad.display())]);
    assert!(r.stderr.contains("1 problem"), "{r:?}");

    let r = run2("catalog", tmp.path());
    assert_eq!(r.code, 0, "{r:?}");
    let mut expected = expected_catalog();
    expected[1] = format!("CORRUPT {SI_IMM} 3 {error}");
    assert_eq!(r.lines(), expected);

    let r = run2("dump-share", &bad);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains(&bad.display().to_string()), "{r:?}");
    assert!(r.stderr.contains(error), "{r:?}");
}

#[test]
fn unknown_versions_and_bad_mutable_headers_are_named() {
    let tmp = TempDir::new("versions");
    let store = build_store(tmp.path());
    let v7 = store.share_path(&SI_V1, ShareNumber(0));
    write_at(&v7, 0, &7u32.to_be_bytes());
    let mutable = store.share_path(&SI_MUT, ShareNumber(1));
    // The extra-lease offset (at 92) pointed past the end of the file.
    write_at(&mutable, 92, &1_000_000u64.to_be_bytes());
    let imm0 = store.share_path(&SI_IMM, ShareNumber(0));
    // A magic Tahoe never wrote.
    write_at(&imm0, 0, b"Tahoe mutable container v3\n\0\0\0\0\0");

    let r = run2("verify", tmp.path());
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.lines(),
        [
            format!(
                "corrupt: {}: unknown mutable container magic",
                imm0.display()
            ),
            format!(
                "corrupt: {}: corrupt container: extra-lease offset beyond end of file",
                mutable.display()
            ),
            format!(
                "corrupt: {}: unknown immutable container version 7",
                v7.display()
            ),
        ]
    );
    assert!(r.stderr.contains("3 problem(s) among 4 shares"), "{r:?}");

    let r = run2("catalog", tmp.path());
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.lines(),
        [
            format!("CORRUPT {SI_IMM} 0 unknown mutable container magic"),
            format!("CHK {SI_IMM} 3 100 1800000000,1900000000"),
            format!("CORRUPT {SI_MUT} 1 corrupt container: extra-lease offset beyond end of file"),
            format!("CORRUPT {SI_V1} 0 unknown immutable container version 7"),
        ]
    );
}

#[test]
fn interrupted_updates_are_warnings_and_left_alone() {
    let tmp = TempDir::new("pending");
    let store = build_store(tmp.path());
    // Bytes past a mutable container: an update a crash interrupted.
    let mutable = store.share_path(&SI_MUT, ShareNumber(1));
    let len = fs::metadata(&mutable).unwrap().len();
    write_at(&mutable, len, &[0xab; 40]);
    // A lease record past the count of an immutable one: an interrupted add_lease.
    let imm = store.share_path(&SI_IMM, ShareNumber(0));
    let len = fs::metadata(&imm).unwrap().len();
    write_at(&imm, len, &[0xcd; 72]);
    let before = snapshot(tmp.path());

    let r = run2("verify", tmp.path());
    assert_eq!(r.code, 0, "{r:?}");
    let lines = r.lines();
    assert_eq!(lines.len(), 3, "{r:?}");
    assert!(lines[0].starts_with(&format!(
        "warning: {}: 72 bytes past the last lease record",
        imm.display()
    )));
    assert!(lines[1].starts_with(&format!("warning: {}: pending recovery", mutable.display())));
    assert_eq!(lines[2], "ok: 4 shares");

    let r = run2("dump-share", &mutable);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(parse_dump(&r.stdout).0["pending recovery"], "yes");
    let r = run2("dump-share", &imm);
    assert_eq!(r.code, 0, "{r:?}");
    let (fields, leases) = parse_dump(&r.stdout);
    assert_eq!(fields["data length"], "100");
    assert_eq!(fields["excess bytes"], "72");
    assert_eq!(leases.len(), 1);

    let r = run2("catalog", tmp.path());
    assert_eq!(r.lines(), expected_catalog());

    assert_eq!(
        snapshot(tmp.path()),
        before,
        "the tool wrote to the storage directory"
    );
}

#[test]
fn commands_never_write() {
    let tmp = TempDir::new("readonly");
    let store = build_store(tmp.path());
    let before = snapshot(tmp.path());
    run2("catalog", tmp.path());
    run2("verify", tmp.path());
    for (si, n) in [(SI_IMM, 0), (SI_MUT, 1), (SI_V1, 0)] {
        run2("dump-share", &store.share_path(&si, ShareNumber(n)));
    }
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn storage_dir_problems_are_usage_errors_and_create_nothing() {
    let tmp = TempDir::new("not-storage");
    for command in ["catalog", "verify"] {
        // No shares/ at all.
        let r = run2(command, tmp.path());
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.contains("no shares/ directory"), "{r:?}");
        assert!(r.stdout.is_empty());
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);

        // Does not exist; is a file.
        let r = run2(command, &tmp.path().join("missing"));
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.contains("missing"), "{r:?}");
        let file = tmp.path().join("file");
        fs::write(&file, b"").unwrap();
        let r = run2(command, &file);
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.contains("not a directory"), "{r:?}");
        fs::remove_file(&file).unwrap();

        // shares/ without incoming/: refused rather than completed.
        fs::create_dir(tmp.path().join("shares")).unwrap();
        let r = run2(command, tmp.path());
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.contains("incoming"), "{r:?}");
        assert_eq!(fs::read_dir(tmp.path().join("shares")).unwrap().count(), 0);
        fs::remove_dir(tmp.path().join("shares")).unwrap();
    }
}

#[test]
fn dump_share_of_unreadable_paths() {
    let tmp = TempDir::new("dump-bad-path");
    let r = run2("dump-share", &tmp.path().join("missing"));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("missing"), "{r:?}");
    let r = run2("dump-share", tmp.path());
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("not a regular file"), "{r:?}");
    // A FIFO (opening it would block) and a device.
    let fifo = tmp.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        let r = run2("dump-share", &fifo);
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.contains("not a regular file"), "{r:?}");
    }
    let r = run2("dump-share", Path::new("/dev/null"));
    assert_eq!(r.code, 2, "{r:?}");
    // A path that is not UTF-8.
    let mut raw = tmp.path().as_os_str().to_owned().into_vec();
    raw.extend_from_slice(b"/\xff\xfe");
    let r = run(&[OsString::from("dump-share"), OsString::from_vec(raw)]);
    assert_eq!(r.code, 2, "{r:?}");
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/golden")
}

fn node_id_from_hex(hex: &str) -> NodeId {
    let mut id = [0u8; 20];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    NodeId(id)
}

#[test]
fn golden_files_dump_as_the_manifest_says() {
    let dir = golden_dir();
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let manifest = manifest.as_object().unwrap();
    assert!(manifest.len() >= 20, "manifest too small");
    for (name, entry) in manifest {
        let dump = &entry["dump"];
        let r = run2("dump-share", &dir.join(name));
        assert_eq!(r.code, 0, "{name}: {r:?}");
        let (fields, leases) = parse_dump(&r.stdout);
        let kind = dump["kind"].as_str().unwrap();
        let version = dump["version"].as_u64().unwrap();
        assert_eq!(fields["share type"], kind, "{name}");
        assert_eq!(fields["version"], version.to_string(), "{name}");
        assert_eq!(
            fields["data length"],
            dump["data_length"].as_u64().unwrap().to_string(),
            "{name}"
        );
        let expected = dump["leases"].as_array().unwrap();
        assert_eq!(fields["lease count"], expected.len().to_string(), "{name}");
        assert_eq!(leases.len(), expected.len(), "{name}");
        let secrets = if version == 2 { "hashed" } else { "cleartext" };
        for (line, lease) in leases.iter().zip(expected) {
            let (_, rest) = line.split_once(": ").unwrap();
            let mut want = format!(
                "owner={}, expire_time={}",
                lease["owner"].as_u64().unwrap(),
                lease["expiry"].as_u64().unwrap()
            );
            assert!(rest.starts_with(&want), "{name}: {line}");
            want = format!("secrets={secrets}");
            if let Some(hex) = lease["nodeid"].as_str() {
                want = format!("{want}, nodeid={}", node_id_from_hex(hex));
            }
            assert!(rest.ends_with(&want), "{name}: {line}");
        }
        if name.starts_with("mutable-v2-cancelled.") {
            // Mutable leases are numbered by slot: the cancelled slot 1 leaves a gap.
            let numbers: Vec<&str> = leases.iter().map(|l| &l[..8]).collect();
            assert_eq!(numbers, ["lease #0", "lease #2"], "{name}");
        }
        if kind == "mutable" {
            let nodeid = node_id_from_hex(dump["nodeid"].as_str().unwrap());
            assert_eq!(fields["write enabler nodeid"], nodeid.to_string(), "{name}");
            assert_eq!(fields["pending recovery"], "no", "{name}");
        }
    }
}

#[test]
fn any_prefix_of_a_container_is_handled() {
    let tmp = TempDir::new("prefixes");
    let dir = golden_dir();
    let path = tmp.path().join("share");
    for name in ["mutable-v2-6leases.bin", "immutable-v2-3leases.bin"] {
        let bytes = fs::read(dir.join(name)).unwrap();
        for len in 0..=bytes.len() {
            fs::write(&path, &bytes[..len]).unwrap();
            let r = run2("dump-share", &path);
            if len == bytes.len() {
                assert_eq!(r.code, 0, "{name}[..{len}]: {r:?}");
            } else {
                // Every shorter prefix is either malformed or (immutable) a container
                // with less data; either way reported, never a crash.
                assert!(r.code == 0 || r.code == 1, "{name}[..{len}]: {r:?}");
                assert_eq!(r.code == 1, !r.stderr.is_empty(), "{name}[..{len}]: {r:?}");
            }
        }
    }
    for garbage in [vec![0u8; 1000], vec![0xff; 1000], {
        let mut v = MutableVersion::V1.magic().to_vec();
        v.extend_from_slice(&[0xff; 600]);
        v
    }] {
        let mut f = fs::File::create(&path).unwrap();
        f.write_all(&garbage).unwrap();
        drop(f);
        let r = run2("dump-share", &path);
        assert_eq!(r.code, 1, "{r:?}");
    }
}

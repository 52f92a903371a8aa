//! End-to-end tests of the `tahoe-shares` binary on storage directories written with the
//! library: CHK, SDMF and MDMF layouts built here byte by byte (from the layouts in
//! Tahoe's `immutable/layout.py` and `mutable/layout.py`), corrupted on purpose, and
//! Tahoe 1.20's own golden containers. `tests/python/test_cli_vs_tahoe.py` compares the
//! tool with `tahoe debug` itself.

// The scratch directory of core/tests: one file, included by path (no helper crate holds
// test helpers for both crates).
#[path = "../../core/tests/common/temp_dir.rs"]
mod temp_dir;

use core::time::Duration;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use tahoe_shares::container::{ImmutableContainer, MutableContainer, NewLease};
use tahoe_shares::format::immutable::ImmutableVersion;
use tahoe_shares::format::mutable::{tagged_hash, MutableVersion};
use tahoe_shares::store::{Durability, FsStore, ShareStore};
use tahoe_shares::{CancelSecret, NodeId, RenewSecret, ShareNumber, StorageIndex, WriteEnabler};

use temp_dir::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_tahoe-shares");

/// "Now" for every run (`--now`): 2027-01-15 08:00:00 UTC.
const NOW: u32 = 1_800_000_000;
/// "777...": CHK shares 0 and 3, and share 5 without a lease.
const SI_CHK: StorageIndex = StorageIndex::new([0xff; 16]);
/// "aaaa...": an SDMF share.
const SI_SDMF: StorageIndex = StorageIndex::new([0; 16]);
/// "caib...": an MDMF share.
const SI_MDMF: StorageIndex = StorageIndex::new([0x10; 16]);
const NODEID: NodeId = NodeId([7; 20]);
const ROOT: [u8; 32] = [0x5a; 32];
const PUBKEY: [u8; 20] = [0xaa; 20];

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

/// Runs `bin` with `args`, behind `prefix` (a command that runs its arguments).
fn run_bin_as<S: AsRef<OsStr>>(bin: &Path, prefix: &[&str], args: &[S]) -> Run {
    let mut cmd = match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    let out = cmd.args(args).output().expect("run tahoe-shares");
    let run = Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    };
    assert!(!run.stderr.contains("panicked"), "panicked: {run:?}");
    run
}

fn run<S: AsRef<OsStr>>(args: &[S]) -> Run {
    run_bin_as::<S>(Path::new(BIN), &[], args)
}

/// `tahoe-shares COMMAND --now NOW PATH`.
fn run2(command: &str, path: &Path) -> Run {
    run(&[
        OsStr::new(command),
        OsStr::new("--now"),
        OsStr::new(&NOW.to_string()),
        path.as_os_str(),
    ])
}

fn b32(bytes: &[u8]) -> String {
    data_encoding::BASE32_NOPAD
        .encode(bytes)
        .to_ascii_lowercase()
}

/// Tahoe's `quote_output` of a plain path.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display())
}

fn lease(seed: u8, owner: u32, expiry: u32) -> NewLease {
    NewLease {
        owner_num: owner,
        renew: RenewSecret::new([seed; 32]),
        cancel: CancelSecret::new([!seed; 32]),
        expiration_time: expiry,
        nodeid: NODEID,
    }
}

// --- layouts ---------------------------------------------------------------------------

/// A CHK share layout (v1 offsets) for a file of `size` bytes, k-of-n; with its UEB
/// hash.
fn chk_layout(size: u64, k: u8, n: u8) -> (Vec<u8>, [u8; 32]) {
    let mut ueb = Vec::new();
    let mut entry = |key: &str, value: &[u8]| {
        ueb.extend_from_slice(format!("{key}:{}:", value.len()).as_bytes());
        ueb.extend_from_slice(value);
        ueb.push(b',');
    };
    entry("codec_name", b"crs");
    entry("codec_params", format!("{size}-{k}-{n}").as_bytes());
    entry("crypttext_hash", &[1; 32]);
    entry("crypttext_root_hash", &[2; 32]);
    entry("needed_shares", k.to_string().as_bytes());
    entry("num_segments", b"1");
    entry("segment_size", size.to_string().as_bytes());
    entry("share_root_hash", &[3; 32]);
    entry("size", size.to_string().as_bytes());
    entry("tail_codec_params", format!("{size}-{k}-{n}").as_bytes());
    entry("total_shares", n.to_string().as_bytes());
    let data = 0x24u32;
    let plaintext = data + 64;
    let crypttext = plaintext;
    let block_hashes = crypttext + 32;
    let share_hashes = block_hashes + 32;
    let uri_extension = share_hashes + 2 * 34;
    let mut out = Vec::new();
    for field in [
        1,
        64,
        64,
        data,
        plaintext,
        crypttext,
        block_hashes,
        share_hashes,
        uri_extension,
    ] {
        out.extend_from_slice(&field.to_be_bytes());
    }
    out.resize(uri_extension as usize, 0x33);
    out.extend_from_slice(&(ueb.len() as u32).to_be_bytes());
    out.extend_from_slice(&ueb);
    (out, tagged_hash(b"allmydata_uri_extension_v1", &ueb))
}

/// An SDMF share: `ids` are the share hash chain's node numbers.
fn sdmf_layout(seqnum: u64, k: u8, n: u8, datalen: u64, ids: &[u16]) -> Vec<u8> {
    let sig = 107 + PUBKEY.len() as u32;
    let shc = sig + 10;
    let bht = shc + 34 * ids.len() as u32;
    let sd = bht + 64;
    let enc = u64::from(sd) + 50;
    let eof = enc + 30;
    let mut out = vec![0u8];
    out.extend_from_slice(&seqnum.to_be_bytes());
    out.extend_from_slice(&ROOT);
    out.extend_from_slice(&[0x1f; 16]);
    out.extend_from_slice(&[k, n]);
    out.extend_from_slice(&datalen.to_be_bytes());
    out.extend_from_slice(&datalen.to_be_bytes());
    for o in [sig, shc, bht, sd] {
        out.extend_from_slice(&o.to_be_bytes());
    }
    out.extend_from_slice(&enc.to_be_bytes());
    out.extend_from_slice(&eof.to_be_bytes());
    assert_eq!(out.len(), 107);
    out.extend_from_slice(&PUBKEY);
    out.extend_from_slice(&[0x51; 10]);
    for id in ids {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&[0x44; 32]);
    }
    out.extend_from_slice(&[0x66; 64 + 50 + 30]);
    assert_eq!(out.len() as u64, eof);
    out
}

/// An MDMF share.
fn mdmf_layout(seqnum: u64, k: u8, n: u8, datalen: u64, ids: &[u16]) -> Vec<u8> {
    let enc = 123u64;
    let shc = enc + 30;
    let sig = shc + 34 * ids.len() as u64;
    let vk = sig + 10;
    let vk_end = vk + PUBKEY.len() as u64;
    let sd = vk_end;
    let bht = sd + 50;
    let eof = bht + 64;
    let mut out = vec![1u8];
    out.extend_from_slice(&seqnum.to_be_bytes());
    out.extend_from_slice(&ROOT);
    out.extend_from_slice(&[k, n]);
    out.extend_from_slice(&datalen.to_be_bytes());
    out.extend_from_slice(&datalen.to_be_bytes());
    for o in [enc, shc, sig, vk, vk_end, sd, bht, eof] {
        out.extend_from_slice(&o.to_be_bytes());
    }
    assert_eq!(out.len(), 123);
    out.extend_from_slice(&[0x77; 30]);
    for id in ids {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&[0x44; 32]);
    }
    out.extend_from_slice(&[0x51; 10]);
    out.extend_from_slice(&PUBKEY);
    out.extend_from_slice(&[0x66; 50 + 64]);
    assert_eq!(out.len() as u64, eof);
    out
}

fn add_immutable(store: &mut FsStore, si: StorageIndex, n: u8, data: &[u8], expiries: &[u32]) {
    let io = store.create_incoming(&si, ShareNumber(n)).unwrap();
    let mut share =
        ImmutableContainer::create(io, ImmutableVersion::V2, data.len() as u64).unwrap();
    for (i, e) in expiries.iter().enumerate() {
        share.add_lease(&lease(i as u8 + 1, 0, *e)).unwrap();
    }
    share.write_share_data(0, data).unwrap();
    drop(share);
    store.publish(&si, ShareNumber(n)).unwrap();
}

fn add_mutable(store: &mut FsStore, si: StorageIndex, n: u8, data: &[u8], expiries: &[u32]) {
    let io = store.create_incoming(&si, ShareNumber(n)).unwrap();
    let mut share =
        MutableContainer::create(io, MutableVersion::V2, NODEID, WriteEnabler::new([9; 32]))
            .unwrap();
    share.writev(&[(0, data)], None).unwrap();
    for (i, e) in expiries.iter().enumerate() {
        share
            .add_lease(u64::MAX, &lease(0x40 + i as u8, i as u32 + 1, *e))
            .unwrap();
    }
    drop(share);
    store.publish(&si, ShareNumber(n)).unwrap();
}

/// A storage directory with: CHK shares 0 (one lease) and 3 (two leases, one expired),
/// CHK share 5 without a lease, an SDMF share with five leases (one extra slot) and an
/// MDMF share.
fn build_store(dir: &Path) -> FsStore {
    let mut store = FsStore::open(dir, Durability::NoSync).unwrap();
    let (chk, _) = chk_layout(1000, 3, 10);
    add_immutable(&mut store, SI_CHK, 0, &chk, &[NOW + 86_400 * 31]);
    add_immutable(&mut store, SI_CHK, 3, &chk, &[NOW + 7200, NOW - 100]);
    add_immutable(&mut store, SI_CHK, 5, &chk, &[]);
    let sdmf = sdmf_layout(3, 2, 4, 77, &[1, 10, 2]);
    add_mutable(
        &mut store,
        SI_SDMF,
        1,
        &sdmf,
        &[NOW + 5000, NOW + 60, NOW + 3, NOW + 4, NOW + 5],
    );
    let mdmf = mdmf_layout(9, 1, 3, 1234, &[1, 10, 2]);
    add_mutable(&mut store, SI_MDMF, 2, &mdmf, &[NOW + 100_000]);
    store
}

/// What `catalog` prints for [`build_store`] (in walk order).
fn expected_catalog(store: &FsStore) -> Vec<String> {
    let (_, ueb_hash) = chk_layout(1000, 3, 10);
    let ueb_hash = b32(&ueb_hash);
    let root = b32(&ROOT);
    let path = |si, n| quoted(&store.share_path(si, ShareNumber(n)));
    vec![
        format!(
            "CHK {SI_CHK} 3/10 1000 {ueb_hash} 2678400 {}",
            path(&SI_CHK, 0)
        ),
        format!("CHK {SI_CHK} 3/10 1000 {ueb_hash} 0 {}", path(&SI_CHK, 3)),
        format!("SDMF {SI_SDMF} 2/4 77 #3:{root} 3 {}", path(&SI_SDMF, 1)),
        format!(
            "MDMF {SI_MDMF} 1/3 1234 #9:{root} 100000 {}",
            path(&SI_MDMF, 2)
        ),
    ]
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

// --- the command line ------------------------------------------------------------------

#[test]
fn help_version_and_usage_errors() {
    let help = run(&["--help"]);
    assert_eq!(help.code, 0);
    for word in [
        "catalog",
        "dump-share",
        "verify",
        "--json",
        "--now",
        "--version",
    ] {
        assert!(help.stdout.contains(word), "{word}: {help:?}");
    }
    let version = run(&["--version"]);
    assert_eq!(
        (version.code, version.stdout.trim()),
        (0, concat!("tahoe-shares ", env!("CARGO_PKG_VERSION")))
    );
    // A usage error: what is wrong, one line of usage, and where to find help; not the
    // whole help text.
    for args in [
        &[][..],
        &["frobnicate", "x"],
        &["dump-share"],
        &["verify"],
        &["catalog", "--now", "soon", "x"],
        &["dump-share", "a", "b"],
    ] {
        let r = run(args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(r.stdout.is_empty(), "{args:?}: {r:?}");
        assert!(r.stderr.starts_with("error: "), "{args:?}: {r:?}");
        assert!(r.stderr.matches("Usage: ").count() <= 1, "{args:?}: {r:?}");
        assert!(r.stderr.contains("try '--help'"), "{args:?}: {r:?}");
        assert!(r.stderr.lines().count() <= 6, "{args:?}: {r:?}");
        assert!(!r.stderr.contains("Commands:"), "{args:?}: {r:?}");
    }
}

// --- catalog ---------------------------------------------------------------------------

#[test]
fn catalog_prints_tahoes_lines() {
    let tmp = TempDir::new("catalog");
    let storage = tmp.path().join("storage");
    let store = build_store(&storage);
    let want = expected_catalog(&store);
    // The storage directory, or the node directory above it (what Tahoe takes).
    for dir in [&storage, &tmp.path().to_path_buf()] {
        let r = run2("catalog", dir);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(r.lines(), want);
        // The share without a lease: no line (Tahoe fails on it), named on stderr.
        let no_lease = store.share_path(&SI_CHK, ShareNumber(5));
        assert_eq!(
            r.stderr,
            format!(
                "tahoe-shares: {}: no lease: not listed (tahoe debug catalog-shares fails on it)\n",
                no_lease.display()
            )
        );
    }
    // Expiry counts from --now.
    let later = run(&[
        OsStr::new("catalog"),
        OsStr::new("--now"),
        OsStr::new(&(NOW + 50).to_string()),
        storage.as_os_str(),
    ]);
    assert!(later.lines()[0].contains(" 2678350 '"), "{later:?}");
    assert!(later.lines()[3].contains(" 99950 '"), "{later:?}");
    // Relative paths are made absolute, as Tahoe does.
    let rel = Command::new(BIN)
        .current_dir(tmp.path())
        .args(["catalog", "--now", &NOW.to_string(), "./storage/../storage"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(rel.stdout)
            .unwrap()
            .lines()
            .collect::<Vec<_>>(),
        want
    );
}

#[test]
fn catalog_has_tahoes_words_for_what_it_cannot_parse() {
    let tmp = TempDir::new("unknown");
    let mut store = build_store(tmp.path());
    // Not a container: UNKNOWN really-unknown.
    let junk = store.bucket_dir(&SI_CHK).join("7");
    fs::write(&junk, b"\0\0\0\x09 not a share").unwrap();
    // Mutable data of no known type: UNKNOWN mutable.
    let si = StorageIndex::new([0x20; 16]);
    add_mutable(&mut store, si, 0, b"\x05 what is this", &[NOW + 10]);
    // A CHK container whose layout is garbage: no line, named on stderr.
    let garbage = StorageIndex::new([0x30; 16]);
    add_immutable(&mut store, garbage, 0, &[0xee; 300], &[NOW + 10]);

    let r = run2("catalog", tmp.path());
    assert_eq!(r.code, 1, "{r:?}");
    let lines = r.lines();
    assert!(
        lines.contains(&format!("UNKNOWN really-unknown {}", quoted(&junk)).as_str()),
        "{r:?}"
    );
    let unknown_mutable = store.share_path(&si, ShareNumber(0));
    assert!(
        lines.contains(&format!("UNKNOWN mutable {}", quoted(&unknown_mutable)).as_str()),
        "{r:?}"
    );
    assert_eq!(lines.len(), 6, "{r:?}");
    let bad = store.share_path(&garbage, ShareNumber(0));
    assert!(
        r.stderr.contains(&format!(
            "corrupt: {}: unknown CHK layout version 4008636142",
            bad.display()
        )),
        "{r:?}"
    );
    assert!(r.stderr.contains(&format!(
        "corrupt: {}: not a share container",
        junk.display()
    )));
    assert!(r
        .stderr
        .contains("mutable share data of unknown type (first byte 5)"));
}

#[test]
fn catalog_quotes_paths_as_tahoe() {
    let tmp = TempDir::new("quote");
    let odd = tmp.path().join("it's $here");
    let store = build_store(&odd);
    let r = run2("catalog", &odd);
    let path = store.share_path(&SI_CHK, ShareNumber(0));
    let text = path.display().to_string().replace('$', "\\$");
    assert!(r.lines()[0].ends_with(&format!(" \"{text}\"")), "{r:?}");
}

// --- dump-share ------------------------------------------------------------------------

fn dump(path: &Path, extra: &[&str]) -> Run {
    let now = NOW.to_string();
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("dump-share"),
        OsStr::new("--now"),
        OsStr::new(&now),
    ];
    args.extend(extra.iter().map(OsStr::new));
    args.push(path.as_os_str());
    run(&args)
}

#[test]
fn dump_share_chk() {
    let tmp = TempDir::new("dump-chk");
    let store = build_store(tmp.path());
    let path = store.share_path(&SI_CHK, ShareNumber(3));
    let r = dump(&path, &["--offsets"]);
    assert_eq!(r.code, 0, "{r:?}");
    let (_, ueb_hash) = chk_layout(1000, 3, 10);
    let ueb_hash = b32(&ueb_hash);
    let tahoe_part = [
        format!("share filename: {}", quoted(&path)),
        "             version: 1".into(),
        "           file_size: 1000".into(),
        "        num_segments: 1".into(),
        "        segment_size: 1000".into(),
        "       needed_shares: 3".into(),
        "        total_shares: 10".into(),
        String::new(),
        "          codec_name: crs".into(),
        "        codec_params: 1000-3-10".into(),
        "   tail_codec_params: 1000-3-10".into(),
        String::new(),
        format!("      crypttext_hash: {}", b32(&[1; 32])),
        format!(" crypttext_root_hash: {}", b32(&[2; 32])),
        format!("     share_root_hash: {}", b32(&[3; 32])),
        format!("            UEB_hash: {ueb_hash}"),
        format!("          verify-cap: URI:CHK-Verifier:{SI_CHK}:{ueb_hash}:3:10:1000"),
        String::new(),
        " Size of data within the share:".into(),
        "                data: 64".into(),
        "       uri-extension: 316".into(),
        "          validation: 132".into(),
        String::new(),
        " Section Offsets:".into(),
        "          share data: 12".into(),
        "            block data: 48   (0x30)".into(),
        "   plaintext_hash_tree: 112   (0x70)".into(),
        "   crypttext_hash_tree: 112   (0x70)".into(),
        "          block_hashes: 144   (0x90)".into(),
        "          share_hashes: 176   (0xb0)".into(),
        "         uri_extension: 244   (0xf4)".into(),
        "              leases: 564".into(),
        String::new(),
        " Lease #0: owner=0, expire in 7200s (2 hours)".into(),
        " Lease #1: owner=0, expire in -100s".into(),
        String::new(),
        " tahoe-shares container:".into(),
        "  container: immutable".into(),
        "  container version: 2".into(),
        "  data length: 552".into(),
        "  header data length field: 552".into(),
        "  lease count: 2".into(),
        format!(
            "  lease #0: owner=0, expire_time={} (2027-01-15 10:00:00 UTC), secrets=hashed",
            NOW + 7200
        ),
        format!(
            "  lease #1: owner=0, expire_time={} (2027-01-15 07:58:20 UTC), secrets=hashed",
            NOW - 100
        ),
    ];
    assert_eq!(r.lines(), tahoe_part);

    // Without leases, and --leases-only.
    let r = dump(
        &store.share_path(&SI_CHK, ShareNumber(5)),
        &["--leases-only"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.lines()[1..4], ["", " No leases.", ""]);
}

#[test]
fn dump_share_sdmf_and_mdmf() {
    let tmp = TempDir::new("dump-mut");
    let store = build_store(tmp.path());
    let fingerprint = b32(&tagged_hash(
        b"allmydata_mutable_pubkey_to_fingerprint_v1",
        &PUBKEY,
    ));
    let root = b32(&ROOT);

    let path = store.share_path(&SI_SDMF, ShareNumber(1));
    let r = dump(&path, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines = r.lines();
    assert_eq!(
        lines[..9],
        [
            format!("share filename: {}", quoted(&path)).as_str(),
            "",
            "Mutable slot found:",
            " share_type: SDMF",
            " write_enabler: (a secret: not shown)",
            &format!(" WE for nodeid: {NODEID}"),
            " num_extra_leases: 1",
            " container_size: 383",
            " data_length: 383",
        ]
    );
    let lease0 = &lines[9..17];
    assert_eq!(lease0[0], "");
    assert_eq!(lease0[1], " Lease #0:");
    assert_eq!(lease0[2], "  ownerid: 1");
    assert_eq!(lease0[3], "  expires in 5000s (1 hours)");
    assert!(lease0[4].starts_with("  renew_secret: hash:"));
    assert!(lease0[5].starts_with("  cancel_secret: hash:"));
    assert_eq!(lease0[6], format!("  secrets are for nodeid: {NODEID}"));
    let contents = lines.iter().position(|l| *l == " SDMF contents:").unwrap();
    assert_eq!(
        lines[contents..contents + 15],
        [
            " SDMF contents:",
            "  seqnum: 3",
            &format!("  root_hash: {root}"),
            &format!("  IV: {}", b32(&[0x1f; 16])),
            "  required_shares: 2",
            "  total_shares: 4",
            "  segsize: 77",
            "  datalen: 77",
            "  enc_privkey: 30 bytes",
            "  pubkey: 20 bytes",
            "  signature: 10 bytes",
            // SDMF sorts the node numbers as text, as Tahoe does.
            "  share_hash_chain: 1,10,2",
            "  block_hash_tree: 2 nodes",
            &format!("  verify-cap: URI:SSK-Verifier:{SI_SDMF}:{fingerprint}"),
            "",
        ]
    );
    assert!(lines.contains(&"  extra lease slots: 1"));
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("  lease #")).count(),
        5
    );

    let path = store.share_path(&SI_MDMF, ShareNumber(2));
    let r = dump(&path, &["--offsets"]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines = r.lines();
    assert!(lines.contains(&" share_type: MDMF"));
    let contents = lines.iter().position(|l| *l == " MDMF contents:").unwrap();
    assert_eq!(
        lines[contents..contents + 29],
        [
            " MDMF contents:",
            "  seqnum: 9",
            &format!("  root_hash: {root}"),
            "  required_shares: 1",
            "  total_shares: 3",
            "  segsize: 1234",
            "  datalen: 1234",
            "  enc_privkey: 30 bytes",
            "  pubkey: 20 bytes",
            "  signature: 10 bytes",
            "  share_hash_chain: 1,2,10",
            "  block_hash_tree: 2 nodes",
            &format!("  verify-cap: URI:MDMF-Verifier:{SI_MDMF}:{fingerprint}"),
            "",
            " Section Offsets:",
            "  first lease: 100   (0x64)",
            "  share data: 468   (0x1d4)",
            "    seqnum: 469   (0x1d5)",
            "    root_hash: 477   (0x1dd)",
            "    enc_privkey: 591   (0x24f)",
            "    share_hash_chain: 621   (0x26d)",
            "    signature: 723   (0x2d3)",
            "    pubkey: 733   (0x2dd)",
            "    end of pubkey: 753   (0x2f1)",
            "    block data: 753   (0x2f1)",
            "    block_hash_tree: 803   (0x323)",
            "    end of share data: 867   (0x363)",
            "  extra leases: 871   (0x367)",
            "",
        ]
    );
}

#[test]
fn dump_share_of_a_bad_layout_still_shows_the_container() {
    let tmp = TempDir::new("dump-bad");
    let mut store = FsStore::open(tmp.path(), Durability::NoSync).unwrap();
    add_immutable(&mut store, SI_CHK, 0, &[0xee; 40], &[NOW + 10]);
    let path = store.share_path(&SI_CHK, ShareNumber(0));
    let r = dump(&path, &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.lines().contains(&" Lease #0: owner=0, expire in 10s"),
        "{r:?}"
    );
    assert!(r.lines().contains(&"  data length: 40"), "{r:?}");
    assert_eq!(
        r.stderr,
        format!(
            "tahoe-shares: corrupt: {}: share layout: unknown CHK layout version 4008636142\n",
            path.display()
        )
    );
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

/// `key: value` lines of the dump's own container section, and its lease lines.
fn container_section(stdout: &str) -> (BTreeMap<String, String>, Vec<String>) {
    let mut fields = BTreeMap::new();
    let mut leases = Vec::new();
    let start = stdout
        .lines()
        .position(|l| l == " tahoe-shares container:")
        .expect("container section");
    for line in stdout.lines().skip(start + 1) {
        if let Some(rest) = line.strip_prefix("  lease #") {
            leases.push(rest.to_owned());
        } else if let Some((k, v)) = line.trim_start().split_once(": ") {
            fields.entry(k.to_owned()).or_insert_with(|| v.to_owned());
        }
    }
    (fields, leases)
}

#[test]
fn golden_files_dump_as_the_manifest_says() {
    let dir = golden_dir();
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let manifest = manifest.as_object().unwrap();
    assert!(manifest.len() >= 20, "manifest too small");
    for (name, entry) in manifest {
        let want = &entry["dump"];
        // The golden containers hold test bytes, not CHK/SDMF/MDMF layouts: the layout
        // may be refused (status 1), the container is shown all the same.
        let r = run2("dump-share", &dir.join(name));
        assert!(r.code == 0 || r.code == 1, "{name}: {r:?}");
        assert_eq!(
            r.code == 1,
            r.stderr.contains("share layout: "),
            "{name}: {r:?}"
        );
        let (fields, leases) = container_section(&r.stdout);
        let kind = want["kind"].as_str().unwrap();
        let version = want["version"].as_u64().unwrap();
        assert_eq!(fields["container"], kind, "{name}");
        assert_eq!(fields["container version"], version.to_string(), "{name}");
        assert_eq!(
            fields["data length"],
            want["data_length"].as_u64().unwrap().to_string(),
            "{name}"
        );
        let expected = want["leases"].as_array().unwrap();
        assert_eq!(fields["lease count"], expected.len().to_string(), "{name}");
        assert_eq!(leases.len(), expected.len(), "{name}");
        let secrets = if version == 2 { "hashed" } else { "cleartext" };
        for (line, lease) in leases.iter().zip(expected) {
            let (_, rest) = line.split_once(": ").unwrap();
            let mut w = format!(
                "owner={}, expire_time={}",
                lease["owner"].as_u64().unwrap(),
                lease["expiry"].as_u64().unwrap()
            );
            assert!(rest.starts_with(&w), "{name}: {line}");
            w = format!("secrets={secrets}");
            if let Some(hex) = lease["nodeid"].as_str() {
                w = format!("{w}, nodeid={}", node_id_from_hex(hex));
            }
            assert!(rest.ends_with(&w), "{name}: {line}");
        }
        if name.starts_with("mutable-v2-cancelled.") {
            // Mutable leases are numbered by slot: the cancelled slot 1 leaves a gap.
            let numbers: Vec<&str> = leases.iter().map(|l| &l[..2]).collect();
            assert_eq!(numbers, ["0:", "2:"], "{name}");
        }
        if kind == "mutable" {
            let nodeid = node_id_from_hex(want["nodeid"].as_str().unwrap());
            assert_eq!(fields["write enabler nodeid"], nodeid.to_string(), "{name}");
            assert!(!fields.contains_key("pending repair"), "{name}");
            // Clear-text secrets are secrets: never printed.
            if version == 1 {
                assert!(
                    r.stdout.contains("(a clear-text secret: not shown)") || expected.is_empty()
                );
            }
        }
    }
}

#[test]
fn any_prefix_of_a_container_is_handled() {
    let tmp = TempDir::new("prefixes");
    let dir = golden_dir();
    let path = tmp.path().join("share");
    let store_dir = TempDir::new("prefix-src");
    let store = build_store(store_dir.path());
    let sources = [
        fs::read(dir.join("mutable-v2-6leases.bin")).unwrap(),
        fs::read(store.share_path(&SI_CHK, ShareNumber(0))).unwrap(),
        fs::read(store.share_path(&SI_SDMF, ShareNumber(1))).unwrap(),
        fs::read(store.share_path(&SI_MDMF, ShareNumber(2))).unwrap(),
    ];
    for bytes in &sources {
        for len in 0..=bytes.len() {
            fs::write(&path, &bytes[..len]).unwrap();
            let r = run2("dump-share", &path);
            // Every prefix is reported (status 0 or 1), never a crash.
            assert!(r.code == 0 || r.code == 1, "[..{len}]: {r:?}");
            assert_eq!(r.code == 1, !r.stderr.is_empty(), "[..{len}]: {r:?}");
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

// --- verify ----------------------------------------------------------------------------

#[test]
fn verify_clean_store() {
    let tmp = TempDir::new("verify-ok");
    build_store(tmp.path());
    let r = run2("verify", tmp.path());
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.lines(), ["ok: 5 shares"]);
    assert_eq!(r.stderr, "");

    // An empty storage directory is fine too, and so is one without incoming/.
    let empty = TempDir::new("verify-empty");
    fs::create_dir(empty.path().join("shares")).unwrap();
    let r = run2("verify", empty.path());
    assert_eq!((r.code, r.lines()), (0, vec!["ok: 0 shares"]));
    let r = run2("catalog", empty.path());
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
    assert_eq!(
        fs::read_dir(empty.path().join("shares")).unwrap().count(),
        0
    );
}

#[test]
fn verify_reports_truncated_shares() {
    let tmp = TempDir::new("truncated");
    let store = build_store(tmp.path());
    // Cut 100 bytes out of the data of a CHK share, keeping its lease record: the
    // header's length says more than the file holds, and the UEB is cut off.
    let cut = store.share_path(&SI_CHK, ShareNumber(0));
    let bytes = fs::read(&cut).unwrap();
    let mut shorter = bytes[..bytes.len() - 72 - 100].to_vec();
    shorter.extend_from_slice(&bytes[bytes.len() - 72..]);
    fs::write(&cut, &shorter).unwrap();
    // Cut a file inside its header.
    let short = store.share_path(&SI_CHK, ShareNumber(3));
    OpenOptions::new()
        .write(true)
        .open(&short)
        .unwrap()
        .set_len(5)
        .unwrap();

    let r = run2("verify", tmp.path());
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.lines(),
        [
            format!(
                "truncated: {}: the header says 552 bytes of share data, the file holds 452",
                cut.display()
            ),
            format!(
                "truncated: {}: the CHK layout ends at byte 552 of the share data, which holds 452",
                cut.display()
            ),
            format!(
                "corrupt: {}: corrupt container: container shorter than its header",
                short.display()
            ),
        ]
    );
    assert!(r.stderr.contains("3 problem(s) among 5 shares"), "{r:?}");
    let r = run2("catalog", tmp.path());
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.lines().len(), 2, "{r:?}");
}

#[test]
fn verify_reports_implausible_leases() {
    let tmp = TempDir::new("leases");
    let store = build_store(tmp.path());
    // The last 72 bytes of an immutable share with one lease are its lease record: owner,
    // renew and cancel secrets (4 + 32 + 32 bytes), then the expiry time.
    let chk = store.share_path(&SI_CHK, ShareNumber(0));
    let lease0 = fs::metadata(&chk).unwrap().len() - 72;
    write_at(&chk, lease0 + 68, &5u32.to_be_bytes());
    // Mutable slot 0 (at 100): expiry 20 years ahead.
    let sdmf = store.share_path(&SI_SDMF, ShareNumber(1));
    write_at(&sdmf, 104, &(NOW + 20 * 366 * 86_400).to_be_bytes());
    let r = run2("verify", tmp.path());
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.lines(),
        [
            format!(
                "lease: {}: lease #0: expiry time 5 (1970-01-01 00:00:05 UTC) is before any \
                 Tahoe-LAFS release",
                chk.display()
            ),
            format!(
                "lease: {}: lease #0: expiry time {} (2047-01-30 08:00:00 UTC) is 7320 days \
                 from now; Tahoe grants 31 days",
                sdmf.display(),
                NOW + 20 * 366 * 86_400
            ),
        ]
    );
}

#[test]
fn verify_reports_stray_entries_and_catalog_skips_them() {
    let tmp = TempDir::new("strays");
    let store = build_store(tmp.path());
    let shares = tmp.path().join("shares");
    let bucket = store.bucket_dir(&SI_CHK);
    let strays = [
        (
            bucket.join("007"),
            "not a canonical share number (0 to 255, no leading zero)",
        ),
        (
            bucket.join("notes.txt"),
            "not a canonical share number (0 to 255, no leading zero)",
        ),
        (
            bucket.join("9"),
            "a symbolic link where a share file belongs",
        ),
        (bucket.join("8"), "a directory where a share file belongs"),
        (
            shares.join("README"),
            "a file where a prefix directory belongs",
        ),
        (
            shares.join("zz").join("zzzz"),
            "not a storage index directory of prefix zz",
        ),
        (
            shares.join("ab").join("abcd"),
            "a file where a storage index directory belongs",
        ),
        (
            shares.join("77").join("aaaaaaaaaaaaaaaaaaaaaaaaaa"),
            "not a storage index directory of prefix 77",
        ),
        (
            shares
                .join("ai")
                .join(StorageIndex::new([2; 16]).to_string()),
            "an empty storage index directory",
        ),
    ];
    fs::write(&strays[0].0, b"junk").unwrap();
    fs::write(&strays[1].0, b"junk").unwrap();
    std::os::unix::fs::symlink(bucket.join("0"), &strays[2].0).unwrap();
    fs::create_dir(&strays[3].0).unwrap();
    fs::write(&strays[4].0, b"junk").unwrap();
    fs::create_dir_all(&strays[5].0).unwrap();
    fs::create_dir_all(shares.join("ab")).unwrap();
    fs::write(&strays[6].0, b"junk").unwrap();
    fs::create_dir_all(&strays[7].0).unwrap();
    fs::create_dir_all(&strays[8].0).unwrap();
    assert!(StorageIndex::new([2; 16]).to_string().starts_with("ai"));

    let r = run2("verify", tmp.path());
    assert_eq!(r.code, 1, "{r:?}");
    let lines = r.lines();
    for (path, why) in &strays {
        let want = format!("stray: {}: {why}", path.display());
        assert!(lines.iter().any(|l| l.starts_with(&want)), "{want}\n{r:?}");
    }
    assert_eq!(lines.len(), strays.len(), "{r:?}");
    // The catalog lists the shares alone, and names the strays on stderr.
    let r = run2("catalog", tmp.path());
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.lines(), expected_catalog(&store));
    assert_eq!(r.stderr.matches("stray: ").count(), strays.len(), "{r:?}");
}

#[test]
fn verify_reports_incoming_leftovers_with_their_age() {
    let tmp = TempDir::new("incoming");
    build_store(tmp.path());
    let dir = tmp
        .path()
        .join("shares/incoming/77")
        .join(SI_CHK.to_string());
    fs::create_dir_all(&dir).unwrap();
    let left = dir.join("4");
    fs::write(&left, [0u8; 30]).unwrap();
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(NOW) - 3 * 86_400);
    fs::File::options()
        .write(true)
        .open(&left)
        .unwrap()
        .set_modified(mtime)
        .unwrap();

    let r = run2("verify", tmp.path());
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.lines(),
        [
            format!(
                "warning: {}: 30 bytes, last written 259200s ago (3 days): an upload in \
                 progress or the leftover of one",
                left.display()
            )
            .as_str(),
            "ok: 5 shares",
        ]
    );
    let r = run(&[
        OsStr::new("verify"),
        OsStr::new("--json"),
        OsStr::new("--now"),
        OsStr::new(&NOW.to_string()),
        tmp.path().as_os_str(),
    ]);
    let records: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records[0]["problem"], "incoming");
    assert_eq!(records[0]["severity"], "warning");
    assert_eq!(records[0]["age_seconds"], 259_200);
    assert_eq!(records[1]["record"], "summary");
    assert_eq!(records[1]["shares"], 5);
}

#[test]
fn interrupted_updates_are_warnings_and_left_alone() {
    let tmp = TempDir::new("pending");
    let store = build_store(tmp.path());
    // Bytes past a mutable container: an update a crash interrupted.
    let mutable = store.share_path(&SI_MDMF, ShareNumber(2));
    let len = fs::metadata(&mutable).unwrap().len();
    write_at(&mutable, len, &[0xab; 40]);
    // A lease record past the count of an immutable one: an interrupted add_lease.
    let imm = store.share_path(&SI_CHK, ShareNumber(0));
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
    assert_eq!(lines[2], "ok: 5 shares");

    let r = dump(&imm, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r
        .lines()
        .iter()
        .any(|l| l.starts_with("  pending repair: 72 bytes")));
    let r = run2("catalog", tmp.path());
    assert_eq!(r.lines(), expected_catalog(&store));
    assert_eq!(
        snapshot(tmp.path()),
        before,
        "the tool wrote to the storage directory"
    );
}

#[test]
fn unknown_versions_and_bad_mutable_headers_are_named() {
    let tmp = TempDir::new("versions");
    let store = build_store(tmp.path());
    let v7 = store.share_path(&SI_CHK, ShareNumber(5));
    write_at(&v7, 0, &7u32.to_be_bytes());
    let mutable = store.share_path(&SI_SDMF, ShareNumber(1));
    // The extra-lease offset (at 92) points past the end of the file.
    write_at(&mutable, 92, &1_000_000u64.to_be_bytes());
    let imm0 = store.share_path(&SI_CHK, ShareNumber(0));
    // A magic Tahoe never wrote.
    write_at(&imm0, 0, b"Tahoe mutable container v3\n\0\0\0\0\0");

    let r = run2("verify", tmp.path());
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.lines(),
        [
            format!(
                "corrupt: {}: unknown mutable container magic (not a share Tahoe can read)",
                imm0.display()
            ),
            format!(
                "corrupt: {}: not a share container: neither a mutable magic nor immutable \
                 version 1 or 2 (first four bytes: 0x00000007)",
                v7.display()
            ),
            format!(
                "corrupt: {}: corrupt container: extra-lease offset beyond end of file",
                mutable.display()
            ),
        ]
    );
    let r = run2("catalog", tmp.path());
    assert_eq!(r.code, 1, "{r:?}");
    // Tahoe's words: both unknown containers are "UNKNOWN really-unknown".
    assert!(r.lines()[0].starts_with("UNKNOWN really-unknown "), "{r:?}");
    assert!(r.lines()[2].starts_with("UNKNOWN really-unknown "), "{r:?}");
}

// --- JSON, read-only -------------------------------------------------------------------

#[test]
fn json_everywhere() {
    let tmp = TempDir::new("json");
    let store = build_store(tmp.path());
    let now = NOW.to_string();
    let dir = tmp.path().as_os_str();
    let parse = |r: &Run| -> Vec<serde_json::Value> {
        r.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let catalog = run(&[
        OsStr::new("--json"),
        OsStr::new("catalog"),
        OsStr::new("--now"),
        OsStr::new(&now),
        dir,
    ]);
    let records = parse(&catalog);
    assert_eq!(records.len(), 5);
    let lines: Vec<&str> = records.iter().filter_map(|r| r["line"].as_str()).collect();
    assert_eq!(lines, expected_catalog(&store));
    let chk = &records[0];
    assert_eq!(chk["type"], "CHK");
    assert_eq!(chk["container"], "immutable");
    assert_eq!(
        (chk["k"].as_u64(), chk["n"].as_u64(), chk["size"].as_u64()),
        (Some(3), Some(10), Some(1000))
    );
    assert_eq!(chk["expiration"], 2_678_400);
    let no_lease = &records[2];
    assert_eq!(
        (no_lease["shnum"].as_u64(), no_lease["leases"].as_u64()),
        (Some(5), Some(0))
    );
    assert!(no_lease["line"].is_null() && no_lease["expiration"].is_null());
    assert_eq!(records[3]["seqnum"], 3);
    assert_eq!(records[4]["type"], "MDMF");

    let verify = run(&[OsStr::new("verify"), OsStr::new("--json"), dir]);
    assert_eq!(
        parse(&verify),
        [serde_json::json!({"record": "summary", "shares": 5, "problems": 0, "warnings": 0})]
    );

    let share = store.share_path(&SI_SDMF, ShareNumber(1));
    let d = run(&[
        OsStr::new("dump-share"),
        OsStr::new("--json"),
        OsStr::new("--now"),
        OsStr::new(&now),
        share.as_os_str(),
    ]);
    let [obj] = &parse(&d)[..] else {
        panic!("{d:?}")
    };
    assert_eq!(obj["record"], "dump");
    assert_eq!(obj["layout"]["type"], "SDMF");
    assert_eq!(
        obj["layout"]["share_hash_chain"],
        serde_json::json!([1, 2, 10])
    );
    assert_eq!(obj["container"]["leases"].as_array().unwrap().len(), 5);
    assert_eq!(obj["container"]["leases"][0]["expires_in"], 5000);
    assert!(obj["verify_cap"]
        .as_str()
        .unwrap()
        .starts_with("URI:SSK-Verifier:"));
}

#[test]
fn commands_never_write() {
    let tmp = TempDir::new("readonly");
    let store = build_store(tmp.path());
    let before = snapshot(tmp.path());
    run2("catalog", tmp.path());
    run2("verify", tmp.path());
    for (si, n) in [(SI_CHK, 0), (SI_SDMF, 1), (SI_MDMF, 2)] {
        run2("dump-share", &store.share_path(&si, ShareNumber(n)));
    }
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn storage_dir_problems_are_usage_errors_and_create_nothing() {
    let tmp = TempDir::new("not-storage");
    for command in ["catalog", "verify"] {
        let r = run2(command, tmp.path());
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.contains("no shares/ directory"), "{r:?}");
        assert!(r.stdout.is_empty());
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
        let r = run2(command, &tmp.path().join("missing"));
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.contains("missing"), "{r:?}");
        let file = tmp.path().join("file");
        fs::write(&file, b"").unwrap();
        let r = run2(command, &file);
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.contains("not a directory"), "{r:?}");
        fs::remove_file(&file).unwrap();
    }
}

/// Whether this process runs as root (which reads files whatever their permissions).
fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

#[test]
fn read_only_and_unreadable_as_an_unprivileged_user() {
    // Root reads anything: drop to nobody (util-linux's setpriv) for the test.
    let prefix: Vec<&str> = if is_root() {
        assert!(
            Command::new("setpriv").arg("--version").output().is_ok(),
            "setpriv (util-linux) is needed to test permissions as root"
        );
        vec![
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]
    } else {
        vec![]
    };
    let tmp = TempDir::new("perm");
    let store = build_store(tmp.path());
    // The build directory may be out of the unprivileged user's reach: run a copy.
    let bin_dir = TempDir::new("perm-bin");
    let bin = bin_dir.path().join("tahoe-shares");
    fs::copy(BIN, &bin).unwrap();
    fs::set_permissions(bin_dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    // Read-only for everyone: directories r-x, files r--.
    let mut stack = vec![tmp.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p.clone());
                fs::set_permissions(&p, fs::Permissions::from_mode(0o555)).unwrap();
            } else {
                fs::set_permissions(&p, fs::Permissions::from_mode(0o444)).unwrap();
            }
        }
    }
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o555)).unwrap();
    let now = NOW.to_string();
    let with = |command: &str, path: &Path| {
        run_bin_as(
            &bin,
            &prefix,
            &[
                OsStr::new(command),
                OsStr::new("--now"),
                OsStr::new(&now),
                path.as_os_str(),
            ],
        )
    };
    let r = with("catalog", tmp.path());
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.lines(), expected_catalog(&store));
    let r = with("verify", tmp.path());
    assert_eq!((r.code, r.lines()), (0, vec!["ok: 5 shares"]), "{r:?}");
    for (si, n) in [(SI_CHK, 0), (SI_SDMF, 1), (SI_MDMF, 2)] {
        let r = with("dump-share", &store.share_path(&si, ShareNumber(n)));
        assert_eq!(r.code, 0, "{r:?}");
    }
    // A share file and a storage index directory the user may not read: unreadable,
    // never corrupt; everything else is still listed.
    let hidden_share = store.share_path(&SI_CHK, ShareNumber(3));
    fs::set_permissions(&hidden_share, fs::Permissions::from_mode(0o000)).unwrap();
    let hidden_dir = store.bucket_dir(&SI_MDMF);
    fs::set_permissions(&hidden_dir, fs::Permissions::from_mode(0o000)).unwrap();
    for command in ["catalog", "verify"] {
        let r = with(command, tmp.path());
        assert_eq!(r.code, 1, "{r:?}");
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(
            all.contains(&format!(
                "unreadable: {}: I/O error: Permission denied",
                hidden_share.display()
            )),
            "{r:?}"
        );
        assert!(
            all.contains(&format!(
                "unreadable: {}: I/O error: Permission denied",
                hidden_dir.display()
            )),
            "{r:?}"
        );
        assert!(!all.contains("corrupt"), "{r:?}");
    }
    let r = with("catalog", tmp.path());
    assert_eq!(r.lines().len(), 2, "{r:?}");
    let r = with("dump-share", &hidden_share);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("Permission denied"), "{r:?}");
}

#[test]
fn verify_warns_of_an_empty_mutable_share() {
    let tmp = TempDir::new("empty-mutable");
    let bucket = tmp.path().join("shares/aa").join(SI_SDMF.to_string());
    fs::create_dir_all(&bucket).unwrap();
    fs::copy(golden_dir().join("mutable-v2-empty.bin"), bucket.join("0")).unwrap();
    let r = run2("verify", tmp.path());
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.lines(),
        [
            format!(
                "warning: {}: a mutable share without data",
                bucket.join("0").display()
            )
            .as_str(),
            "ok: 1 shares",
        ]
    );
}

#[test]
fn progress_shows_on_a_terminal_only() {
    let tmp = TempDir::new("progress");
    let mut store = FsStore::open(tmp.path(), Durability::NoSync).unwrap();
    let (chk, _) = chk_layout(1000, 3, 10);
    for i in 0..200u8 {
        add_immutable(&mut store, StorageIndex::new([i; 16]), 0, &chk, &[NOW + 10]);
    }
    // Not a terminal: nothing on stderr.
    let r = run2("verify", tmp.path());
    assert_eq!(
        (r.code, r.lines(), r.stderr.as_str()),
        (0, vec!["ok: 200 shares"], "")
    );
    // A terminal (util-linux's script gives the command one): the spinner draws there.
    let typescript = tmp.path().join("typescript");
    let command = format!(
        "{BIN} verify --now {NOW} {} > /dev/null",
        tmp.path().display()
    );
    let status = Command::new("script")
        .args(["-qfc", &command])
        .arg(&typescript)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("script (util-linux) is needed to give the tool a terminal");
    assert!(status.success());
    let screen = String::from_utf8_lossy(&fs::read(&typescript).unwrap()).into_owned();
    assert!(
        screen.contains(" shares"),
        "no progress on the terminal: {screen:?}"
    );
}

#[test]
fn numbers_past_json_integers_in_a_ueb_are_text() {
    // Python's int() reads any length of digits; JSON integers stop at 64 bits.
    let ueb = format!(
        "needed_shares:30:{},size:1:5,total_shares:1:3,",
        "9".repeat(30)
    );
    let mut layout = Vec::new();
    for field in [1u32, 0, 0, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24] {
        layout.extend_from_slice(&field.to_be_bytes());
    }
    layout.extend_from_slice(&(ueb.len() as u32).to_be_bytes());
    layout.extend_from_slice(ueb.as_bytes());
    let tmp = TempDir::new("bigint");
    let mut store = FsStore::open(tmp.path(), Durability::NoSync).unwrap();
    add_immutable(&mut store, SI_CHK, 0, &layout, &[NOW + 1]);
    let r = run(&[
        OsStr::new("--json"),
        OsStr::new("catalog"),
        tmp.path().as_os_str(),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["k"], "9".repeat(30));
    assert_eq!(v["n"], 3);
    let r = run2("catalog", tmp.path());
    assert!(
        r.stdout
            .starts_with(&format!("CHK {SI_CHK} {}/3 5 ", "9".repeat(30))),
        "{r:?}"
    );
}

#[test]
fn recover_removes_an_uncounted_lease_record_and_refuses_a_held_directory() {
    let dir = TempDir::new("cli-recover");
    let mut store = FsStore::open(dir.path(), Durability::Durable).unwrap();
    add_immutable(&mut store, SI_CHK, 0, &[3; 500], &[NOW + 1000]);
    let share = store.share_path(&SI_CHK, ShareNumber(0));
    // A running node holds the lock: nothing is touched.
    let held = run(&[OsStr::new("recover"), dir.path().as_os_str()]);
    assert_eq!(held.code, 1, "{held:?}");
    assert!(
        held.stderr.contains("in use by a running writer"),
        "{held:?}"
    );
    drop(store);
    // What a crash between an add_lease's record and its count leaves.
    let size = fs::metadata(&share).unwrap().len();
    OpenOptions::new()
        .append(true)
        .open(&share)
        .unwrap()
        .write_all(&[9; 72])
        .unwrap();

    let r = run(&[OsStr::new("recover"), dir.path().as_os_str()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.lines(),
        vec![format!(
            "{}: 1 shares in 1 storage indexes, 1 recovered, 0 damaged (left as they are: \
             run verify)",
            dir.path().display()
        )]
    );
    assert_eq!(fs::metadata(&share).unwrap().len(), size);

    // A second run finds nothing to do; with --json, one record per directory.
    let again = run(&[
        OsStr::new("--json"),
        OsStr::new("recover"),
        dir.path().as_os_str(),
    ]);
    assert_eq!(again.code, 0, "{again:?}");
    let v: serde_json::Value = serde_json::from_str(again.lines()[0]).unwrap();
    assert_eq!(v["record"], "recovered");
    assert_eq!(
        (v["shares"].as_u64(), v["recovered"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(v["previous_writer_interrupted"], false);
}

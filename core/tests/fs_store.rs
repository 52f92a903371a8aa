//! The filesystem store on real directories: the storage-directory lock (another store
//! object, another process, a killed holder), read-only opening (as a user who may only
//! read), full filesystems (a small tmpfs mounted by the test) and errors that name their
//! path.
//!
//! Some tests run a second process: this test binary itself, started on
//! [`child_process_entry`] with `TS_FS_STORE_CHILD` naming its role (which does nothing
//! without it). The read-only test drops to uid and gid 65534 with `setpriv`, because
//! root bypasses file permissions. The full-disk tests mount a tmpfs (root only) and
//! unmount it when done, also when they fail; where mounting is impossible they print a
//! loud SKIPPED line, or fail when `TS_REQUIRE_TMPFS=1`.

mod common;

use core::sync::atomic::{AtomicUsize, Ordering};
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use tahoe_shares::format::lease::DEFAULT_LEASE_DURATION;
use tahoe_shares::format::ShareKind;
use tahoe_shares::io::{FileIo, ShareIo};
use tahoe_shares::server::{AdviseOutcome, LeaseUpdate, Server, SlotWrite};
use tahoe_shares::store::{
    Durability, FsError, FsStore, ShareStore, StoreError, StoreResult, LOCK_FILE_NAME,
};
use tahoe_shares::{CancelSecret, Error, RenewSecret, ShareNumber, ShareSet, StorageIndex};

use common::{files_below, request, server, set, slot_secrets, sn, upload_secret, TempDir, NOW};

const SI: StorageIndex = StorageIndex::new([0x11; 16]);
const MSI: StorageIndex = StorageIndex::new([0x22; 16]);
const SI2: StorageIndex = StorageIndex::new([0x33; 16]);
const CHILD_ROLE: &str = "TS_FS_STORE_CHILD";
const CHILD_DIR: &str = "TS_FS_STORE_DIR";
/// The unprivileged user and group of the read-only test (`nobody`, `nogroup`).
const NOBODY: u32 = 65_534;

type FsResult<T> = StoreResult<T, io::Error>;
type FsServer = Server<FsStore>;

// ----- helpers ---------------------------------------------------------------------------

fn fs_server(dir: &Path) -> FsServer {
    common::fs_server(dir, Durability::Durable)
}

/// Uploads share `n` of `si` holding `data`.
fn upload<S: ShareStore>(s: &mut Server<S>, si: StorageIndex, n: u8, data: &[u8])
where
    S::Error: core::fmt::Debug,
{
    let tag = format!("up-{n}");
    let alloc = s
        .allocate_buckets(&request(si, &[n], data.len() as u64, &tag), NOW)
        .unwrap();
    assert!(alloc.allocated.contains(sn(n)));
    assert!(s
        .write(&si, sn(n), &upload_secret(&tag), 0, data, NOW)
        .unwrap());
    s.close(&si, sn(n), &upload_secret(&tag)).unwrap();
}

/// Writes share `n` of the slot `MSI` whole, creating it when missing, with a lease.
fn slot_write<S: ShareStore>(
    s: &mut Server<S>,
    n: u8,
    data: &[u8],
) -> Result<bool, Error<S::Error>> {
    let writes = [(0u64, data)];
    let entry = SlotWrite {
        share_number: sn(n),
        tests: &[],
        writes: &writes,
        new_length: None,
    };
    s.slot_testv_and_readv_and_writev(
        &MSI,
        &slot_secrets(6),
        &[entry],
        &[],
        LeaseUpdate::AddOrRenew,
        NOW,
    )
    .map(|o| o.passed)
}

/// Every entry below `dir` (files and directories), sorted.
fn entries_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                todo.push(e.path());
            }
            out.push(e.path());
        }
    }
    out.sort();
    out
}

/// This process's effective uid: the owner of a file it creates.
fn euid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    let probe = TempDir::new("euid");
    let file = probe.path().join("f");
    fs::write(&file, b"").unwrap();
    fs::metadata(&file).unwrap().uid()
}

fn lock_file(dir: &Path) -> PathBuf {
    dir.join(LOCK_FILE_NAME)
}

// ----- child processes -------------------------------------------------------------------

/// A command that runs this test binary's [`child_process_entry`] in `role` on `dir`.
fn child_command(program: Option<&str>, role: &str, dir: &Path) -> Command {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = match program {
        Some(p) => {
            let mut c = Command::new(p);
            c.args([
                format!("--reuid={NOBODY}"),
                format!("--regid={NOBODY}"),
                "--clear-groups".to_owned(),
            ])
            .arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.args([
        "--exact",
        "child_process_entry",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ROLE, role)
    .env(CHILD_DIR, dir)
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

/// Runs a child to its end; returns its `TS-CHILD` lines, failing when it failed.
fn run_child(mut cmd: Command) -> Vec<String> {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = stdout.lines().filter_map(child_line).collect();
    assert!(
        lines.iter().any(|l| l == "done"),
        "the child did not run its role:\n{stdout}"
    );
    lines
}

/// The text after `TS-CHILD ` in a line of a child's output (libtest may have printed
/// the test's name before it on the same line).
fn child_line(line: &str) -> Option<String> {
    line.find("TS-CHILD ")
        .map(|at| line[at + "TS-CHILD ".len()..].trim_end().to_owned())
}

/// Reads a child's stdout until its `TS-CHILD <line>`.
fn wait_for_line(child: &mut Child, line: &str) {
    let stdout = child.stdout.as_mut().unwrap();
    let mut reader = BufReader::new(stdout);
    let mut got = String::new();
    loop {
        got.clear();
        let n = reader.read_line(&mut got).unwrap();
        if n == 0 {
            let mut err = String::new();
            let _ = child.stderr.as_mut().unwrap().read_to_string(&mut err);
            panic!("the child ended before {line:?}:\n{err}");
        }
        if child_line(&got).as_deref() == Some(line) {
            return;
        }
    }
}

fn say(line: &str) {
    println!("TS-CHILD {line}");
    io::stdout().flush().unwrap();
}

fn describe_open(r: &FsResult<FsStore>) -> String {
    match r {
        Ok(_) => "ok".to_owned(),
        Err(StoreError::StorageLocked) => "StorageLocked".to_owned(),
        Err(e) => format!("{e:?}"),
    }
}

/// The second process of the tests that need one; does nothing in an ordinary run.
#[test]
fn child_process_entry() {
    let Ok(role) = std::env::var(CHILD_ROLE) else {
        return;
    };
    let dir = PathBuf::from(std::env::var_os(CHILD_DIR).unwrap());
    match role.as_str() {
        "try-open" => {
            let r = FsStore::open(&dir, Durability::Durable);
            say(&format!("open {}", describe_open(&r)));
            if let Some(h) = FsStore::lock_holder(&dir) {
                say(&format!("holder {h}"));
            }
        }
        "hold" => {
            let _store = FsStore::open(&dir, Durability::Durable).unwrap();
            say("locked");
            // Held until the parent kills this process (or closes stdin).
            let mut sink = Vec::new();
            let _ = io::stdin().read_to_end(&mut sink);
        }
        "read-only" => read_only_child(&dir),
        other => panic!("unknown child role {other}"),
    }
    say("done");
}

// ----- 1. the storage-directory lock -----------------------------------------------------

#[test]
fn a_second_store_in_this_process_is_refused_until_the_first_is_dropped() {
    let dir = TempDir::new("lock-same");
    let first = FsStore::open(dir.path(), Durability::Durable).unwrap();
    assert!(lock_file(dir.path()).is_file());

    // Another store object on the same directory: refused at once, changing nothing.
    let before = entries_below(dir.path());
    assert!(matches!(
        FsStore::open(dir.path(), Durability::NoSync),
        Err(StoreError::StorageLocked)
    ));
    assert_eq!(entries_below(dir.path()), before);
    let holder = FsStore::lock_holder(dir.path()).expect("a holder");
    assert!(
        holder.starts_with(&format!("pid {} on ", std::process::id())),
        "{holder}"
    );
    assert!(holder.contains(" since "), "{holder}");

    // Readers take no lock: they open beside the writer.
    let mut reader = FsStore::open_read_only(dir.path()).unwrap();
    assert!(reader.list(&SI).unwrap().is_empty());

    drop(first);
    assert_eq!(FsStore::lock_holder(dir.path()), None);
    assert_eq!(fs::read(lock_file(dir.path())).unwrap(), b"");
    let second = FsStore::open(dir.path(), Durability::Durable).unwrap();
    // A writer opens while a reader lives, too.
    drop(reader);
    drop(second);
}

#[test]
fn a_server_refuses_to_start_on_a_directory_another_server_serves() {
    let dir = TempDir::new("lock-server");
    let mut first = fs_server(dir.path());
    let alloc = first
        .allocate_buckets(&request(SI, &[0], 5, "first"), NOW)
        .unwrap();
    assert_eq!(alloc.allocated, set(&[0]));
    // What used to happen: a second server discarded the first one's upload.
    assert!(matches!(
        FsStore::open(dir.path(), Durability::Durable),
        Err(StoreError::StorageLocked)
    ));
    assert!(first
        .write(&SI, sn(0), &upload_secret("first"), 0, b"hello", NOW)
        .unwrap());
    first.close(&SI, sn(0), &upload_secret("first")).unwrap();
    let reader = first.open_bucket(&SI, sn(0)).unwrap();
    assert_eq!(first.read_bucket_vec(&reader, 0, 5).unwrap(), b"hello");
}

#[test]
fn another_process_is_refused_while_the_store_lives() {
    let dir = TempDir::new("lock-process");
    let store = FsStore::open(dir.path(), Durability::Durable).unwrap();
    let lines = run_child(child_command(None, "try-open", dir.path()));
    assert!(lines.iter().any(|l| l == "open StorageLocked"), "{lines:?}");
    let holder = format!("holder pid {} on ", std::process::id());
    assert!(lines.iter().any(|l| l.starts_with(&holder)), "{lines:?}");

    drop(store);
    let lines = run_child(child_command(None, "try-open", dir.path()));
    assert!(lines.iter().any(|l| l == "open ok"), "{lines:?}");
}

#[test]
fn a_killed_holder_releases_the_lock() {
    let dir = TempDir::new("lock-kill");
    let mut child = child_command(None, "hold", dir.path()).spawn().unwrap();
    wait_for_line(&mut child, "locked");
    assert!(matches!(
        FsStore::open(dir.path(), Durability::Durable),
        Err(StoreError::StorageLocked)
    ));
    let holder = FsStore::lock_holder(dir.path()).expect("a holder");
    assert!(
        holder.starts_with(&format!("pid {} on ", child.id())),
        "{holder}"
    );

    child.kill().unwrap(); // SIGKILL: no destructor runs
    let status = child.wait().unwrap();
    assert!(!status.success());
    // The dead holder's text stays in the file, but the lock went with the process.
    assert!(!fs::read(lock_file(dir.path())).unwrap().is_empty());
    assert_eq!(FsStore::lock_holder(dir.path()), None);
    let _store = FsStore::open(dir.path(), Durability::Durable).unwrap();
    assert!(FsStore::lock_holder(dir.path())
        .unwrap()
        .starts_with(&format!("pid {} on ", std::process::id())));
}

// ----- 2. read-only opening --------------------------------------------------------------

#[test]
fn read_only_opening_creates_nothing_and_refuses_every_change() {
    let dir = TempDir::new("ro-empty");
    let mut store = FsStore::open_read_only(dir.path()).unwrap();
    assert!(store.read_only() && store.is_read_only());
    assert!(store.list(&SI).unwrap().is_empty());
    assert!(store.list_incoming(&SI).unwrap().is_empty());
    assert_eq!(store.open(&SI, sn(0)).unwrap().map(|_| ()), None);
    assert_eq!(store.available_space().unwrap(), Some(0));
    let mut n = 0;
    store
        .for_each_storage_index(&mut |_| {
            n += 1;
            true
        })
        .unwrap();
    assert_eq!(n, 0);
    let ro = |r: FsResult<()>| assert!(matches!(r, Err(StoreError::ReadOnly)), "{r:?}");
    ro(store.create_incoming(&SI, sn(0)).map(drop));
    ro(store.publish(&SI, sn(0)));
    ro(store.abort(&SI, sn(0)));
    ro(store.remove(&SI, sn(0)));
    ro(store.put_upload_record(&SI, sn(0), b"r"));
    ro(store.write_advisory("x", b"y"));
    assert_eq!(entries_below(dir.path()), Vec::<PathBuf>::new());

    // Not a directory, or none: an error naming the path.
    let missing = dir.path().join("missing");
    let Err(StoreError::Io(e)) = FsStore::open_read_only(&missing) else {
        panic!("a missing directory opened");
    };
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    assert_eq!(FsError::path_of(&e), Some(missing.as_path()));
    let file = dir.path().join("file");
    fs::write(&file, b"").unwrap();
    let Err(StoreError::Io(e)) = FsStore::open_read_only(&file) else {
        panic!("a file opened as a directory");
    };
    assert_eq!(FsError::errno(&e), Some(nix::libc::ENOTDIR));
    assert!(!missing.exists());
}

/// A storage directory with immutable shares 0 and 3 of `SI`, mutable share 1 of `MSI`
/// with two leases, and an upload left in `incoming/` (share 5 of `SI`).
fn populate(dir: &Path) -> FsServer {
    let mut s = fs_server(dir);
    upload(&mut s, SI, 0, &immutable_data(0));
    upload(&mut s, SI, 3, &immutable_data(3));
    assert!(slot_write(&mut s, 1, MUTABLE_DATA).unwrap());
    assert_eq!(
        s.add_lease(
            &MSI,
            &RenewSecret::new([0x31; 32]),
            &CancelSecret::new([0x32; 32]),
            1,
            NOW + 5
        )
        .unwrap(),
        1
    );
    let alloc = s
        .allocate_buckets(&request(SI, &[5], 100, "left"), NOW)
        .unwrap();
    assert_eq!(alloc.allocated, set(&[5]));
    s
}

fn immutable_data(n: u8) -> Vec<u8> {
    (0..2000u32).map(|i| (i as u8) ^ n).collect()
}

const MUTABLE_DATA: &[u8] = b"the mutable slot's data, read back through slot_readv";

/// What a server over a read-only store must read from [`populate`]'s directory, and
/// the changes it must refuse. Run by the parent as root and by the child as nobody.
fn check_read_only_server(dir: &Path) {
    let mut s = server(FsStore::open_read_only(dir).unwrap());
    assert_eq!(s.shares(&SI).unwrap(), set(&[0, 3]));
    for n in [0u8, 3] {
        let r = s.open_bucket(&SI, sn(n)).unwrap();
        assert_eq!(s.read_bucket_vec(&r, 0, 5000).unwrap(), immutable_data(n));
        assert_eq!(s.immutable_share_length(&SI, sn(n)).unwrap(), 2000);
    }
    assert_eq!(s.get_buckets(&SI).unwrap().len(), 2);
    let reads = s
        .slot_readv(&MSI, &ShareSet::new(), &[(0, 1000), (4, 7)])
        .unwrap();
    assert_eq!(
        reads,
        vec![(
            sn(1),
            vec![MUTABLE_DATA.to_vec(), MUTABLE_DATA[4..11].to_vec()]
        )]
    );
    assert_eq!(
        s.mutable_share_length(&MSI, sn(1)).unwrap(),
        MUTABLE_DATA.len() as u64
    );
    let mut leases = Vec::new();
    s.for_each_lease(&MSI, |n, kind, l| {
        leases.push((n, kind, l.owner_num, l.expiration_time));
        true
    })
    .unwrap();
    let expiry = |t: u64| u32::try_from(t + u64::from(DEFAULT_LEASE_DURATION)).unwrap();
    assert_eq!(
        leases,
        vec![
            (sn(1), ShareKind::Mutable, 1, expiry(NOW)),
            (sn(1), ShareKind::Mutable, 1, expiry(NOW + 5)),
        ]
    );
    let stat = s.stat_share(&SI, sn(3)).unwrap();
    assert_eq!(
        (stat.kind, stat.data_length, stat.num_leases),
        (ShareKind::Immutable, 2000, 1)
    );
    // A call that only reads is answered.
    let specimen = &MUTABLE_DATA[..3];
    let outcome = s
        .slot_testv_and_readv_and_writev(
            &MSI,
            &slot_secrets(6),
            &[],
            &[(0, 3)],
            LeaseUpdate::NoChange,
            NOW,
        )
        .unwrap();
    assert_eq!(outcome.reads, vec![(sn(1), vec![specimen.to_vec()])]);

    // Every change is refused before anything is touched.
    let ro = |what: &str, r: Result<(), Error<io::Error>>| {
        assert!(matches!(r, Err(Error::ReadOnly)), "{what}: {r:?}");
    };
    ro(
        "allocate",
        s.allocate_buckets(&request(SI, &[7], 10, "ro"), NOW)
            .map(drop),
    );
    ro(
        "add_lease",
        s.add_lease(
            &SI,
            &RenewSecret::new([9; 32]),
            &CancelSecret::new([9; 32]),
            0,
            NOW,
        )
        .map(drop),
    );
    ro(
        "renew_lease",
        s.renew_lease(&SI, &RenewSecret::new([2; 32]), NOW),
    );
    ro(
        "cancel_lease",
        s.cancel_lease(&SI, &CancelSecret::new([3; 32])).map(drop),
    );
    ro("slot write", slot_write(&mut s, 1, b"new").map(drop));
    // No space to record an advisory, as in a read-only Tahoe server.
    assert_eq!(
        s.advise_corrupt_share(b"immutable", &SI, sn(0), b"bad", NOW)
            .unwrap(),
        AdviseOutcome::NoSpace
    );
    // The share files themselves refuse writes.
    let mut io: FileIo = s.store_mut().open(&SI, sn(0)).unwrap().unwrap();
    assert!(io.is_read_only());
    let e = io.write_at(0, b"x").unwrap_err();
    assert_eq!(FsError::errno(&e), Some(nix::libc::EROFS));
    assert!(FsError::path_of(&e).unwrap().ends_with("0"), "{e}");
    // The upload left in incoming/ was not touched by the server's startup.
    assert_eq!(s.store_mut().list_incoming(&SI).unwrap(), set(&[5]));
}

#[test]
fn a_server_over_a_read_only_store_reads_everything_and_leaves_incoming_alone() {
    let dir = TempDir::new("ro-server");
    let writer = populate(dir.path());
    // The lock file's text is the writer's business.
    let share_files = || {
        let mut f = files_below(dir.path());
        f.retain(|(p, _)| *p != lock_file(dir.path()));
        f
    };
    let before = share_files();
    // Beside the live writer, which holds the lock.
    check_read_only_server(dir.path());
    assert_eq!(share_files(), before);
    drop(writer);
    check_read_only_server(dir.path());
    assert_eq!(share_files(), before);
}

/// Makes every directory 0755 and every file 0644: readable by all, writable by the
/// owner (root) only.
fn chmod_readable(dir: &Path) {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    for p in entries_below(dir) {
        let mode = if p.is_dir() { 0o755 } else { 0o644 };
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// The child of [`reads_work_for_a_user_who_may_only_read`], running as nobody.
fn read_only_child(dir: &Path) {
    assert_eq!(euid(), NOBODY, "not dropped to nobody");
    // This user may not write here: the test is not vacuous.
    let e = fs::write(dir.join("probe"), b"x").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
    // Opening for writing fails on the lock file, and says so.
    let Err(StoreError::Io(e)) = FsStore::open(dir, Durability::Durable) else {
        panic!("nobody opened the directory for writing");
    };
    assert_eq!(FsError::errno(&e), Some(nix::libc::EACCES), "{e}");
    assert_eq!(FsError::path_of(&e), Some(lock_file(dir).as_path()));
    say(&format!("write-open refused: {e}"));
    check_read_only_server(dir);
    say("reads ok");
}

#[test]
fn reads_work_for_a_user_who_may_only_read() {
    let dir = TempDir::new("ro-nobody");
    let writer = populate(dir.path());
    chmod_readable(dir.path());
    let before = files_below(dir.path());
    let program = if euid() == 0 {
        assert!(
            Command::new("setpriv").arg("--version").output().is_ok(),
            "setpriv (util-linux) is needed to drop root for this test"
        );
        Some("setpriv")
    } else {
        None
    };
    // The writer keeps running (and holding the lock) while the reader reads.
    let lines = run_child(child_command(program, "read-only", dir.path()));
    assert!(lines.iter().any(|l| l == "reads ok"), "{lines:?}");
    assert_eq!(files_below(dir.path()), before);
    drop(writer);
}

// ----- 3. errors that name their path ----------------------------------------------------

#[test]
fn filesystem_errors_name_their_path_and_keep_their_errno() {
    let dir = TempDir::new("errors");
    // A storage directory below a regular file cannot be made.
    let file = dir.path().join("plain");
    fs::write(&file, b"").unwrap();
    let root = file.join("storage");
    let Err(StoreError::Io(e)) = FsStore::open(&root, Durability::Durable) else {
        panic!("opened below a file");
    };
    assert_eq!(FsError::errno(&e), Some(nix::libc::ENOTDIR));
    assert_eq!(FsError::path_of(&e), Some(root.as_path()));
    assert!(
        e.to_string().starts_with(&format!("{}: ", root.display())),
        "{e}"
    );
    let inner = FsError::of(&e).unwrap();
    assert_eq!(
        core::error::Error::source(inner).unwrap().to_string(),
        io::Error::from_raw_os_error(nix::libc::ENOTDIR).to_string()
    );

    // Exclusive creation, absence and non-shares are still told apart.
    let mut store = FsStore::open(dir.path().join("s"), Durability::Durable).unwrap();
    let io = store.create_incoming(&SI, sn(0)).unwrap();
    drop(io);
    assert!(matches!(
        store.create_incoming(&SI, sn(0)),
        Err(StoreError::AlreadyExists)
    ));
    assert!(store.open(&SI, sn(1)).unwrap().is_none());
    assert!(matches!(
        store.abort(&SI, sn(1)),
        Err(StoreError::NoSuchShare)
    ));
    assert!(matches!(
        store.publish(&SI, sn(1)),
        Err(StoreError::NoSuchShare)
    ));
    store.publish(&SI, sn(0)).unwrap();
    fs::create_dir(store.share_path(&SI, sn(2))).unwrap();
    assert!(matches!(store.open(&SI, sn(2)), Err(StoreError::NotAShare)));

    // A share file's own errors name it.
    let mut io = store.open(&SI, sn(0)).unwrap().unwrap();
    let e = io.read_at(10, &mut [0u8; 4]).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(
        FsError::path_of(&e),
        Some(store.share_path(&SI, sn(0)).as_path())
    );
}

// ----- 4. full filesystems ---------------------------------------------------------------

/// A tmpfs mounted for one test, unmounted on drop (also when the test fails).
struct Tmpfs {
    mount_point: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs with `options`; `None`, after a loud message, when mounting is
    /// impossible here (and `TS_REQUIRE_TMPFS` is not set).
    fn mount(test: &str, options: &str) -> Option<Self> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mount_point = std::env::temp_dir().join(format!("ts-tmpfs-{}-{n}", std::process::id()));
        fs::create_dir_all(&mount_point).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&mount_point)
            .output();
        let failure = match out {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(String::from_utf8_lossy(&o.stderr).trim().to_owned()),
            Err(e) => Some(format!("cannot run mount: {e}")),
        };
        if let Some(why) = failure {
            let _ = fs::remove_dir(&mount_point);
            let message = format!(
                "!!! SKIPPED {test}: cannot mount a tmpfs ({why}); the full-disk checks did \
                 NOT run (they need root) !!!"
            );
            assert!(
                std::env::var_os("TS_REQUIRE_TMPFS").is_none(),
                "{message} (TS_REQUIRE_TMPFS is set)"
            );
            eprintln!("\n{message}\n");
            println!("{message}");
            return None;
        }
        Some(Self { mount_point })
    }

    fn path(&self) -> &Path {
        &self.mount_point
    }

    /// Fills the filesystem's blocks with one file; returns it.
    fn fill(&self) -> PathBuf {
        let path = self.mount_point.join("filler");
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let chunk = [0x5au8; 4096];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(nix::libc::ENOSPC) => break,
                Err(e) => panic!("filling: {e}"),
            }
        }
        // Nothing at all is left, not even a partial page.
        let e = f.write_all(&chunk).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(nix::libc::ENOSPC));
        path
    }

    /// Uses up the filesystem's inodes with empty files; returns them.
    fn exhaust_inodes(&self) -> Vec<PathBuf> {
        let mut made = Vec::new();
        for i in 0.. {
            let p = self.mount_point.join(format!("inode-{i}"));
            match fs::File::create(&p) {
                Ok(_) => made.push(p),
                Err(e) if e.raw_os_error() == Some(nix::libc::ENOSPC) => break,
                Err(e) => panic!("using up inodes: {e}"),
            }
        }
        made
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.mount_point)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Something still has a file open there: detach it now, it goes when closed.
            let _ = Command::new("umount")
                .arg("-l")
                .arg(&self.mount_point)
                .status();
        }
        let _ = fs::remove_dir(&self.mount_point);
    }
}

/// A store that cannot tell its free space (as C and Python stores may answer), over a
/// real `FsStore`: the server's space checks then let everything through, and the
/// filesystem itself says it is full.
struct Unmeasured(FsStore);

impl ShareStore for Unmeasured {
    type Error = io::Error;
    type Io = FileIo;

    fn open(&mut self, si: &StorageIndex, n: ShareNumber) -> FsResult<Option<FileIo>> {
        self.0.open(si, n)
    }
    fn list(&mut self, si: &StorageIndex) -> FsResult<ShareSet> {
        self.0.list(si)
    }
    fn create_incoming(&mut self, si: &StorageIndex, n: ShareNumber) -> FsResult<FileIo> {
        self.0.create_incoming(si, n)
    }
    fn open_incoming(&mut self, si: &StorageIndex, n: ShareNumber) -> FsResult<Option<FileIo>> {
        self.0.open_incoming(si, n)
    }
    fn list_incoming(&mut self, si: &StorageIndex) -> FsResult<ShareSet> {
        self.0.list_incoming(si)
    }
    fn publish(&mut self, si: &StorageIndex, n: ShareNumber) -> FsResult<()> {
        self.0.publish(si, n)
    }
    fn abort(&mut self, si: &StorageIndex, n: ShareNumber) -> FsResult<()> {
        self.0.abort(si, n)
    }
    fn remove(&mut self, si: &StorageIndex, n: ShareNumber) -> FsResult<()> {
        self.0.remove(si, n)
    }
    fn put_upload_record(&mut self, si: &StorageIndex, n: ShareNumber, r: &[u8]) -> FsResult<()> {
        self.0.put_upload_record(si, n, r)
    }
    fn get_upload_record(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
        buf: &mut [u8],
    ) -> FsResult<Option<usize>> {
        self.0.get_upload_record(si, n, buf)
    }
    fn available_space(&mut self) -> FsResult<Option<u64>> {
        Ok(None)
    }
    fn write_advisory(&mut self, name: &str, body: &[u8]) -> FsResult<()> {
        self.0.write_advisory(name, body)
    }
    fn for_each_storage_index(&mut self, f: &mut dyn FnMut(StorageIndex) -> bool) -> FsResult<()> {
        self.0.for_each_storage_index(f)
    }
    fn for_each_incoming(
        &mut self,
        f: &mut dyn FnMut(StorageIndex, ShareNumber) -> bool,
    ) -> FsResult<()> {
        self.0.for_each_incoming(f)
    }
    fn is_read_only(&self) -> bool {
        self.0.is_read_only()
    }
    fn is_no_space(err: &io::Error) -> bool {
        FsStore::is_no_space(err)
    }
}

fn storage(fs: &Tmpfs) -> PathBuf {
    fs.path().join("storage")
}

/// No incoming share or upload record is left, and nothing of `si` is published.
fn assert_nothing_left<S: ShareStore>(s: &mut Server<S>, root: &Path, si: &StorageIndex)
where
    S::Error: core::fmt::Debug,
{
    assert_eq!(files_below(&root.join("shares").join("incoming")), vec![]);
    assert!(s.shares(si).unwrap().is_empty());
    assert_eq!(s.allocated_size(), 0);
    assert_eq!(s.uploads().count(), 0);
}

#[test]
fn an_upload_write_on_a_full_disk_is_no_space_and_releases_the_share() {
    let Some(tmp) = Tmpfs::mount("upload write", "size=256k") else {
        return;
    };
    let root = storage(&tmp);
    let mut s = fs_server(&root);
    let size = 100 * 1024;
    let alloc = s
        .allocate_buckets(&request(SI, &[0], size, "w"), NOW)
        .unwrap();
    assert_eq!(alloc.allocated, set(&[0]));
    assert_eq!(s.allocated_size(), size);
    // Another program fills the disk after the allocation.
    let filler = tmp.fill();
    let data = vec![0xc3u8; usize::try_from(size).unwrap()];
    let r = s.write(&SI, sn(0), &upload_secret("w"), 0, &data, NOW);
    assert!(matches!(r, Err(Error::NoSpace)), "{r:?}");
    // Nothing half-written stays, and the reservation is released.
    assert_nothing_left(&mut s, &root, &SI);
    assert!(!s.upload_in_progress(&SI, sn(0)));
    assert!(matches!(
        s.write(&SI, sn(0), &upload_secret("w"), 0, b"x", NOW),
        Err(Error::NoSuchUpload)
    ));

    // The same upload succeeds once there is room.
    fs::remove_file(filler).unwrap();
    upload(&mut s, SI, 0, &data);
    let reader = s.open_bucket(&SI, sn(0)).unwrap();
    assert_eq!(s.read_bucket_vec(&reader, 0, size).unwrap(), data);
}

#[test]
fn an_allocation_on_a_full_disk_is_no_space_and_leaves_no_upload() {
    let Some(tmp) = Tmpfs::mount("allocate", "size=256k") else {
        return;
    };
    let root = storage(&tmp);
    let mut s = server(Unmeasured(
        FsStore::open(&root, Durability::Durable).unwrap(),
    ));
    let filler = tmp.fill();
    // Room for one share's header and lease pages, not for a second share's.
    let f = fs::OpenOptions::new().write(true).open(&filler).unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len - 2 * 4096).unwrap();
    let r = s.allocate_buckets(&request(SI, &[0, 1], 100 * 1024, "a"), NOW);
    assert!(matches!(r, Err(Error::NoSpace)), "{r:?}");
    // Neither share stays allocated: the client got no writer for either.
    assert_nothing_left(&mut s, &root, &SI);
}

#[test]
fn a_close_on_a_full_disk_is_no_space_and_releases_the_share() {
    let Some(tmp) = Tmpfs::mount("close/publish", "size=256k,nr_inodes=64") else {
        return;
    };
    let root = storage(&tmp);
    let mut s = fs_server(&root);
    let data = vec![0x3cu8; 10_000];
    s.allocate_buckets(&request(SI, &[0], data.len() as u64, "c"), NOW)
        .unwrap();
    assert!(s
        .write(&SI, sn(0), &upload_secret("c"), 0, &data, NOW)
        .unwrap());
    // Publishing needs new directory entries (the bucket directories, the link): none
    // are left.
    let inodes = tmp.exhaust_inodes();
    let r = s.close(&SI, sn(0), &upload_secret("c"));
    assert!(matches!(r, Err(Error::NoSpace)), "{r:?}");
    assert_nothing_left(&mut s, &root, &SI);
    // No directory made for the share stays either.
    let shares_dirs: Vec<PathBuf> = entries_below(&root.join("shares"))
        .into_iter()
        .filter(|p| !p.starts_with(root.join("shares").join("incoming")))
        .collect();
    assert_eq!(shares_dirs, Vec::<PathBuf>::new());

    for p in inodes {
        fs::remove_file(p).unwrap();
    }
    upload(&mut s, SI, 0, &data);
    assert_eq!(s.shares(&SI).unwrap(), set(&[0]));
}

#[test]
fn a_mutable_write_on_a_full_disk_is_no_space_and_keeps_the_old_share() {
    let Some(tmp) = Tmpfs::mount("mutable write", "size=256k") else {
        return;
    };
    let root = storage(&tmp);
    let mut s = fs_server(&root);
    assert!(slot_write(&mut s, 0, b"old contents").unwrap());
    let path = s.store().share_path(&MSI, sn(0));
    let old_file = fs::read(&path).unwrap();
    let filler = tmp.fill();

    // Growing the share: the journal does not fit. Tahoe accepts mutable writes on a
    // full server, so only the filesystem refuses.
    let big = vec![0x77u8; 64 * 1024];
    let r = slot_write(&mut s, 0, &big);
    assert!(matches!(r, Err(Error::NoSpace)), "{r:?}");
    // Byte for byte the old file: no torn journal is left past its end.
    assert!(fs::read(&path).unwrap() == old_file, "the share changed");
    let reads = s.slot_readv(&MSI, &set(&[0]), &[(0, 100)]).unwrap();
    assert_eq!(reads, vec![(sn(0), vec![b"old contents".to_vec()])]);

    // A write whose journal starts inside the file's last page: part of it is written
    // before the disk refuses the rest.
    let r = slot_write(&mut s, 0, &vec![0x66u8; 3000]);
    assert!(matches!(r, Err(Error::NoSpace)), "{r:?}");
    assert!(fs::read(&path).unwrap() == old_file, "the share changed");

    // A new share of the slot is not created at all.
    let r = slot_write(&mut s, 1, &big);
    assert!(matches!(r, Err(Error::NoSpace)), "{r:?}");
    assert_eq!(s.shares(&MSI).unwrap(), set(&[0]));
    assert_eq!(files_below(&root.join("shares").join("incoming")), vec![]);

    fs::remove_file(filler).unwrap();
    assert!(slot_write(&mut s, 0, &big).unwrap());
    let reads = s.slot_readv(&MSI, &set(&[0]), &[(0, 100)]).unwrap();
    assert_eq!(reads, vec![(sn(0), vec![big[..100].to_vec()])]);
}

#[test]
fn add_lease_on_a_full_disk_is_no_space_and_changes_nothing() {
    let Some(tmp) = Tmpfs::mount("add_lease", "size=256k") else {
        return;
    };
    let root = storage(&tmp);
    // 12 header bytes + data + one 72-byte lease end the file on a page boundary: the
    // next lease needs a new page.
    let data = vec![0x42u8; 2 * 4096 - 12 - 72];
    let mut s = server(Unmeasured(
        FsStore::open(&root, Durability::Durable).unwrap(),
    ));
    upload(&mut s, SI, 0, &data);
    // This one ends 36 bytes before a page boundary: half of the next record is written
    // before the disk refuses the rest.
    upload(&mut s, SI2, 0, &vec![0x44u8; 2 * 4096 - 36 - 12 - 72]);
    // The mutable share: 468 bytes of header and lease slots, the data, and the 4-byte
    // count of extra leases.
    assert!(slot_write(&mut s, 0, &vec![0x43u8; 2 * 4096 - 468 - 4]).unwrap());
    let imm = s.store().0.share_path(&SI, sn(0));
    let mutable = s.store().0.share_path(&MSI, sn(0));
    assert_eq!(fs::metadata(&imm).unwrap().len() % 4096, 0);
    assert_eq!(fs::metadata(&mutable).unwrap().len() % 4096, 0);
    // Fill the mutable share's four lease slots, so that one more needs the extra-lease
    // block at its end.
    for r in 1..4u8 {
        s.add_lease(
            &MSI,
            &RenewSecret::new([r; 32]),
            &CancelSecret::new([r; 32]),
            1,
            NOW,
        )
        .unwrap();
    }
    let straddling = s.store().0.share_path(&SI2, sn(0));
    let (imm_before, mut_before) = (fs::read(&imm).unwrap(), fs::read(&mutable).unwrap());
    let straddling_before = fs::read(&straddling).unwrap();
    let _filler = tmp.fill();

    for si in [SI, SI2, MSI] {
        let r = s.add_lease(
            &si,
            &RenewSecret::new([0x99; 32]),
            &CancelSecret::new([0x98; 32]),
            1,
            NOW,
        );
        assert!(matches!(r, Err(Error::NoSpace)), "{si}: {r:?}");
    }
    assert!(
        fs::read(&imm).unwrap() == imm_before,
        "the immutable share changed"
    );
    assert!(
        fs::read(&straddling).unwrap() == straddling_before,
        "a partial lease record stayed"
    );
    assert!(
        fs::read(&mutable).unwrap() == mut_before,
        "the mutable share changed"
    );
    // Renewing needs no space.
    s.renew_lease(&SI, &RenewSecret::new([2; 32]), NOW + 10)
        .unwrap();

    // Through the server's own space check (FsStore measures its space), the same answer.
    drop(s);
    let mut s = fs_server(&root);
    let r = s.add_lease(
        &SI,
        &RenewSecret::new([0x97; 32]),
        &CancelSecret::new([0x96; 32]),
        1,
        NOW,
    );
    assert!(matches!(r, Err(Error::NoSpace)), "{r:?}");
    assert_eq!(s.stat_share(&SI, sn(0)).unwrap().num_leases, 1);
}

#[test]
fn an_advisory_on_a_full_disk_is_dropped_without_a_partial_file() {
    let Some(tmp) = Tmpfs::mount("advisory", "size=256k,nr_inodes=64") else {
        return;
    };
    let root = storage(&tmp);
    let advisories = root.join("corruption-advisories");
    {
        let mut s = fs_server(&root);
        upload(&mut s, SI, 0, b"some share");
    }
    // No inode for the advisory (the free space check passes: blocks are free).
    let inodes = tmp.exhaust_inodes();
    let mut s = fs_server(&root);
    let outcome = s
        .advise_corrupt_share(b"immutable", &SI, sn(0), b"it is bad", NOW)
        .unwrap();
    assert_eq!(outcome, AdviseOutcome::NoSpace);
    assert_eq!(files_below(&advisories), vec![]);
    drop(s);
    for p in inodes {
        fs::remove_file(p).unwrap();
    }

    // The file can be made, but not written, and the store cannot tell its space.
    let mut s = server(Unmeasured(
        FsStore::open(&root, Durability::Durable).unwrap(),
    ));
    fs::create_dir_all(&advisories).unwrap();
    let _filler = tmp.fill();
    let reason = vec![b'x'; 8000];
    let outcome = s
        .advise_corrupt_share(b"immutable", &SI, sn(0), &reason, NOW)
        .unwrap();
    assert_eq!(outcome, AdviseOutcome::NoSpace);
    assert_eq!(files_below(&advisories), vec![]);
}

/// With resumable uploads over a durable store: the incoming share's own syncs do nothing
/// (the store defers them to the publish), so the upload record is what makes the written
/// ranges durable; a restart resumes from it, and the resumed upload completes and reads
/// back whole.
#[test]
fn a_resumable_upload_over_a_durable_store_resumes_after_a_restart() {
    use tahoe_shares::server::Config;
    let dir = TempDir::new("resume-durable");
    let resuming = || Config::default().with_resume_uploads(true);
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let u = upload_secret("resume");
    let store = FsStore::open(dir.path(), Durability::Durable).unwrap();
    let mut s = common::server_with(store, resuming());
    s.allocate_buckets(&request(SI, &[4], 3000, "resume"), NOW)
        .unwrap();
    s.write(&SI, sn(4), &u, 0, &data[..1000], NOW).unwrap();
    let store = s.into_store();
    drop(store);
    let store = FsStore::open(dir.path(), Durability::Durable).unwrap();
    let mut s = common::server_with(store, resuming());
    let missing = s.required_ranges(&SI, sn(4), &u).unwrap();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0], 1000..3000);
    s.write(&SI, sn(4), &u, 1000, &data[1000..], NOW).unwrap();
    s.close(&SI, sn(4), &u).unwrap();
    let b = s.get_buckets(&SI).unwrap();
    assert_eq!(s.read_bucket_vec(&b[0], 0, 3000).unwrap(), data);
    assert_eq!(
        files_below(&dir.path().join("shares").join("incoming")),
        vec![]
    );
}

//! The file store's write-ahead log (`tahoe-shares.wal`, docs/format.md §5a): an update of
//! a published mutable share that writes only inside the file is committed by one record
//! and one fdatasync of the log, and applied to the share without a sync. These tests
//! play what a crash can leave (the share file as before the update, the log as the
//! update left it) by copying a live store's directory and putting the share's old bytes
//! back; `core/tests/syscall_crash.rs` checks every crash state the file system may leave.

mod common;

use std::fs;
use std::path::Path;

use common::{files_below, set, slot_secrets, sn, TempDir, NOW};
use tahoe_shares::server::{LeaseUpdate, Server, SlotWrite};
use tahoe_shares::store::{Durability, FsStore, LOCK_FILE_NAME, WAL_FILE_NAME};
use tahoe_shares::StorageIndex;

const SI: StorageIndex = StorageIndex::new([0x5c; 16]);

fn open(dir: &Path) -> Server<FsStore> {
    common::fs_server(dir, Durability::Durable)
}

/// Writes `data` at `offset` of share 0 of `SI` (creating it), without tests.
fn write(srv: &mut Server<FsStore>, offset: u64, data: &[u8]) {
    update(srv, &[(offset, data)], None);
}

/// A test-and-write of share 0 of `SI` without tests.
fn update(srv: &mut Server<FsStore>, writes: &[(u64, &[u8])], new_length: Option<u64>) {
    let w = SlotWrite {
        share_number: sn(0),
        tests: &[],
        writes,
        new_length,
    };
    let out = srv
        .slot_testv_and_readv_and_writev(
            &SI,
            &slot_secrets(3),
            &[w],
            &[],
            LeaseUpdate::NoChange,
            NOW,
        )
        .unwrap();
    assert!(out.passed);
}

fn read(srv: &mut Server<FsStore>, len: u64) -> Vec<u8> {
    let r = srv.slot_readv(&SI, &set(&[0]), &[(0, len)]).unwrap();
    r.into_iter().next().unwrap().1.into_iter().next().unwrap()
}

/// Copies the directory of a live store, as a crash would find it, with `share` (a path
/// below the directory) holding `old` again (its writes since were never synced) and
/// the lock file holding a dead writer's text.
fn crash_copy(from: &Path, to: &Path, share: &Path, old: &[u8]) {
    for (path, _) in files_below(from) {
        let rel = path.strip_prefix(from).unwrap();
        fs::create_dir_all(to.join(rel).parent().unwrap()).unwrap();
        fs::copy(&path, to.join(rel)).unwrap();
    }
    fs::write(to.join(share.strip_prefix(from).unwrap()), old).unwrap();
    fs::write(to.join(LOCK_FILE_NAME), "pid 1 on gone, since then\n").unwrap();
}

/// A store in `dir` whose share 0 of `SI` holds `fill` (1000 bytes), and that share's path.
fn with_share(dir: &Path, fill: u8) -> (Server<FsStore>, std::path::PathBuf) {
    let mut srv = open(dir);
    write(&mut srv, 0, &[fill; 1000]);
    let share = srv.store().share_path(&SI, sn(0));
    (srv, share)
}

#[test]
fn an_update_only_the_log_holds_is_replayed_at_the_next_open() {
    let (dir, copy) = (TempDir::new("wal-live"), TempDir::new("wal-live-copy"));
    let (mut srv, share) = with_share(dir.path(), 1);
    let old = fs::read(&share).unwrap();
    // In place: through the log.
    write(&mut srv, 100, &[2; 300]);
    assert!(dir.path().join(WAL_FILE_NAME).exists());
    let new = fs::read(&share).unwrap();
    assert_ne!(old, new);
    crash_copy(dir.path(), copy.path(), &share, &old);

    let mut again = open(copy.path());
    let rel = share.strip_prefix(dir.path()).unwrap();
    assert_eq!(fs::read(copy.path().join(rel)).unwrap(), new);
    let mut want = vec![1; 1000];
    want[100..400].fill(2);
    assert_eq!(read(&mut again, 1000), want);
    drop(again);
    // Replayed once: the next open finds nothing live, and changes nothing.
    let wal = fs::read(copy.path().join(WAL_FILE_NAME)).unwrap();
    drop(open(copy.path()));
    assert_eq!(fs::read(copy.path().join(WAL_FILE_NAME)).unwrap(), wal);
}

#[test]
fn a_clean_stop_leaves_no_live_record() {
    let (dir, copy) = (TempDir::new("wal-clean"), TempDir::new("wal-clean-copy"));
    let (mut srv, share) = with_share(dir.path(), 1);
    write(&mut srv, 0, &[3; 10]);
    drop(srv);
    // The share is durable and the record dead: putting other bytes in the share (as a
    // replay would not) shows that nothing is replayed.
    let bytes = fs::read(&share).unwrap();
    let mut other = bytes.clone();
    other[468] = 0x77;
    crash_copy(dir.path(), copy.path(), &share, &other);
    drop(open(copy.path()));
    let rel = share.strip_prefix(dir.path()).unwrap();
    assert_eq!(fs::read(copy.path().join(rel)).unwrap(), other);
}

#[test]
fn a_write_of_the_share_itself_after_logged_ones_is_never_undone_by_a_replay() {
    let (dir, copy) = (TempDir::new("wal-order"), TempDir::new("wal-order-copy"));
    let (mut srv, share) = with_share(dir.path(), 1);
    // In place: logged.
    write(&mut srv, 0, &[2; 1000]);
    // Growing: journaled in the share itself, after a checkpoint of the log.
    write(&mut srv, 0, &[4; 2000]);
    let now = fs::read(&share).unwrap();
    crash_copy(dir.path(), copy.path(), &share, &now);
    let mut again = open(copy.path());
    assert_eq!(read(&mut again, 2000), vec![4; 2000]);
}

#[test]
fn a_removed_share_takes_its_records_with_it() {
    let (dir, copy) = (TempDir::new("wal-remove"), TempDir::new("wal-remove-copy"));
    let (mut srv, share) = with_share(dir.path(), 1);
    // Logged.
    write(&mut srv, 0, &[2; 500]);
    // A zero-length write deletes the share; a new one takes its name.
    update(&mut srv, &[], Some(0));
    write(&mut srv, 0, &[9; 600]);
    let now = fs::read(&share).unwrap();
    crash_copy(dir.path(), copy.path(), &share, &now);
    let mut again = open(copy.path());
    assert_eq!(read(&mut again, 1000), vec![9; 600]);
}

#[test]
fn without_fsync_nothing_is_logged_and_a_reader_never_replays() {
    let dir = TempDir::new("wal-nosync");
    let mut srv = common::fs_server(dir.path(), Durability::NoSync);
    write(&mut srv, 0, &[1; 1000]);
    write(&mut srv, 0, &[2; 10]);
    drop(srv);
    assert!(!dir.path().join(WAL_FILE_NAME).exists());

    // A live record, found by a read-only opener: left for the writer.
    let (live, copy) = (TempDir::new("wal-ro"), TempDir::new("wal-ro-copy"));
    let (mut srv, share) = with_share(live.path(), 1);
    let old = fs::read(&share).unwrap();
    write(&mut srv, 0, &[5; 10]);
    crash_copy(live.path(), copy.path(), &share, &old);
    let rel = share.strip_prefix(live.path()).unwrap().to_path_buf();
    drop(FsStore::open_read_only(copy.path()).unwrap());
    assert_eq!(fs::read(copy.path().join(&rel)).unwrap(), old);
    // A writer without fsync still replays what a durable one committed.
    drop(common::fs_server(copy.path(), Durability::NoSync));
    assert_eq!(
        fs::read(copy.path().join(&rel)).unwrap(),
        fs::read(&share).unwrap()
    );
}

#[test]
fn a_short_storage_index_is_logged_and_replayed() {
    // Tahoe's own tests use storage indexes such as b"si1".
    let si = StorageIndex::from_slice(b"si1").unwrap();
    let (dir, copy) = (TempDir::new("wal-short"), TempDir::new("wal-short-copy"));
    let mut srv = open(dir.path());
    let w = |srv: &mut Server<FsStore>, data: &[u8]| {
        let writes = [(0u64, data)];
        let v = SlotWrite {
            share_number: sn(0),
            tests: &[],
            writes: &writes,
            new_length: None,
        };
        srv.slot_testv_and_readv_and_writev(
            &si,
            &slot_secrets(3),
            &[v],
            &[],
            LeaseUpdate::AddOrRenew,
            NOW,
        )
        .unwrap();
    };
    w(&mut srv, &[1; 500]);
    let share = srv.store().share_path(&si, sn(0));
    let old = fs::read(&share).unwrap();
    w(&mut srv, &[2; 500]);
    crash_copy(dir.path(), copy.path(), &share, &old);
    let mut again = open(copy.path());
    let r = again.slot_readv(&si, &set(&[0]), &[(0, 500)]).unwrap();
    assert_eq!(r.into_iter().next().unwrap().1, vec![vec![2; 500]]);
}

//! Startup recovery: a server over a store whose previous writer was interrupted recovers
//! every share before anything reads it (`Server::recover_interrupted`), so that Tahoe's
//! own classes, reading the directory after our startup, find no interrupted update.
//! `core/tests/syscall_crash.rs` checks the same on every crash state it models.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use common::{fs_server, request, set, slot_secrets, sn, upload_secret, TempDir, NOW};
use tahoe_shares::server::{Recovery, SlotWrite};
use tahoe_shares::store::{Durability, FsStore, ShareStore, LOCK_FILE_NAME};
use tahoe_shares::StorageIndex;

const SI_I: StorageIndex = StorageIndex::new([0x11; 16]);
const SI_M: StorageIndex = StorageIndex::new([0x22; 16]);
const SI_X: StorageIndex = StorageIndex::new([0x33; 16]);

/// What a killed holder leaves in the lock file: its text (a clean drop empties it).
fn leave_dead_holders_text(dir: &Path) {
    fs::write(
        dir.join(LOCK_FILE_NAME),
        "pid 4242 on elsewhere, since 2026-12-01T00:00:00Z (tahoe-shares 0.1.0)\n",
    )
    .unwrap();
}

/// Uploads a 1000-byte immutable share 0 of `SI_I`; returns its path.
fn upload(dir: &Path) -> std::path::PathBuf {
    let mut srv = fs_server(dir, Durability::Durable);
    srv.allocate_buckets(&request(SI_I, &[0], 1000, "u"), NOW)
        .unwrap();
    srv.write(&SI_I, sn(0), &upload_secret("u"), 0, &[5; 1000], NOW)
        .unwrap();
    srv.close(&SI_I, sn(0), &upload_secret("u")).unwrap();
    srv.store().share_path(&SI_I, sn(0))
}

/// Appends a 72-byte lease record the count does not cover: what an `add_lease` killed
/// between its two writes leaves (Tahoe reads it as the only lease, and its old lease as
/// share data).
fn append_uncounted_record(share: &Path) -> u64 {
    let before = fs::metadata(share).unwrap().len();
    let mut f = OpenOptions::new().append(true).open(share).unwrap();
    f.write_all(&[9; 72]).unwrap();
    before
}

#[test]
fn a_clean_stop_is_no_interruption_and_a_dead_holders_text_is_one() {
    let dir = TempDir::new("startup-flag");
    let store = FsStore::open(dir.path(), Durability::Durable).unwrap();
    assert!(!store.previous_writer_interrupted(), "a new directory");
    drop(store);
    let store = FsStore::open(dir.path(), Durability::Durable).unwrap();
    assert!(!store.previous_writer_interrupted(), "after a clean drop");
    drop(store);
    leave_dead_holders_text(dir.path());
    let store = FsStore::open(dir.path(), Durability::NoSync).unwrap();
    assert!(store.previous_writer_interrupted(), "after a killed holder");
    // The holder's own text replaced the dead one's.
    let text = fs::read_to_string(dir.path().join(LOCK_FILE_NAME)).unwrap();
    assert!(
        text.starts_with(&format!("pid {} ", std::process::id())),
        "{text}"
    );
    drop(store);
    let store = FsStore::open(dir.path(), Durability::Durable).unwrap();
    assert!(
        !store.previous_writer_interrupted(),
        "after the next clean drop"
    );
    drop(store);
    assert!(!FsStore::open_read_only(dir.path())
        .unwrap()
        .previous_writer_interrupted());
}

#[test]
fn startup_after_an_interruption_removes_an_uncounted_lease_record() {
    let dir = TempDir::new("startup-uncounted");
    let share = upload(dir.path());
    let size = append_uncounted_record(&share);

    // After a clean stop the startup reads nothing: the record stays (our reads ignore it,
    // and the next lease update removes it).
    drop(fs_server(dir.path(), Durability::Durable));
    assert_eq!(fs::metadata(&share).unwrap().len(), size + 72);

    // After an interrupted one, the startup alone removes it.
    leave_dead_holders_text(dir.path());
    drop(fs_server(dir.path(), Durability::Durable));
    assert_eq!(fs::metadata(&share).unwrap().len(), size);
}

#[test]
fn recover_interrupted_visits_every_share_counts_and_reports_progress() {
    let dir = TempDir::new("startup-counts");
    let share = upload(dir.path());
    append_uncounted_record(&share);
    let mut srv = fs_server(dir.path(), Durability::Durable);
    let w = SlotWrite {
        share_number: sn(0),
        tests: &[],
        writes: &[(0, &[1; 300])],
        new_length: None,
    };
    srv.slot_testv_and_readv_and_writev(&SI_M, &slot_secrets(1), &[w], &[], true.into(), NOW)
        .unwrap();
    let mutable = fs::read(srv.store().share_path(&SI_M, sn(0))).unwrap();
    // A file of neither kind where a share would be.
    let bucket = srv.store().bucket_dir(&SI_X);
    fs::create_dir_all(&bucket).unwrap();
    fs::write(bucket.join("3"), b"neither kind of container").unwrap();

    let mut seen = Vec::new();
    let got = srv
        .recover_interrupted(&mut |r: &Recovery| seen.push(r.storage_indexes))
        .unwrap();
    assert_eq!(
        (got.storage_indexes, got.storage_indexes_total, got.shares),
        (3, 3, 3)
    );
    assert_eq!((got.recovered, got.damaged), (1, 1));
    assert_eq!(seen, vec![1, 2, 3]);
    // The mutable share, with nothing to recover, is untouched; so is the damaged file.
    assert_eq!(
        fs::read(srv.store().share_path(&SI_M, sn(0))).unwrap(),
        mutable
    );
    assert_eq!(
        fs::read(bucket.join("3")).unwrap(),
        b"neither kind of container"
    );
    // Nothing is left to do: a second pass recovers nothing.
    let again = srv.recover_interrupted(&mut |_| {}).unwrap();
    assert_eq!((again.shares, again.recovered), (3, 0));
    assert_eq!(srv.store_mut().list(&SI_I).unwrap(), set(&[0]));
}

//! Damaged share files are reported, the same way on every path.
//!
//! | the file                                   | Tahoe 1.20                               | tahoe-shares, every operation           |
//! |--------------------------------------------|------------------------------------------|------------------------------------------|
//! | immutable, cut before its declared data    | length from the file size, reads short   | the same (Tahoe's verifier tests need the short reads); `stat_share` and `ImmutableContainer::damage` report `TruncatedData` |
//! | 0 to 3 bytes                               | lease ops and reads raise `struct.error` | `Corrupt(TruncatedHeader)`               |
//! | immutable version 1/2 header cut short     | `struct.error`                           | `Corrupt(TruncatedHeader)`               |
//! | garbage (neither a version nor a magic)    | reads: `UnknownImmutableContainerVersionError`; lease ops skip it silently | `UnknownImmutableVersion(v)` |

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use tahoe_shares::container::ImmutableContainer;
use tahoe_shares::format::immutable::ImmutableVersion;
use tahoe_shares::io::VecIo;
use tahoe_shares::server::{AllocateRequest, Server};
use tahoe_shares::store::{Durability, FsStore};
use tahoe_shares::{
    CancelSecret, Corruption, Error, RenewSecret, ShareNumber, StorageIndex, UploadSecret,
};

use common::{fs_server, TempDir, NOW};

const SI: StorageIndex = StorageIndex::new([4; 16]);
const SH: ShareNumber = ShareNumber(0);

type FsServer = Server<FsStore>;

fn server(dir: &Path) -> FsServer {
    fs_server(dir, Durability::Durable)
}

fn upload(s: &mut FsServer, data: &[u8]) {
    let up = UploadSecret::new(b"u").unwrap();
    s.allocate_buckets(
        &AllocateRequest {
            storage_index: SI,
            renew_secret: RenewSecret::new([1; 32]),
            cancel_secret: CancelSecret::new([2; 32]),
            share_numbers: [SH].into_iter().collect(),
            allocated_size: data.len() as u64,
            owner_num: 0,
            renew_leases: true,
            upload_secret: up.clone(),
        },
        NOW,
    )
    .unwrap();
    s.write(&SI, SH, &up, 0, data, NOW).unwrap();
    s.close(&SI, SH, &up).unwrap();
}

fn place(s: &FsServer, bytes: &[u8]) -> PathBuf {
    let path = s.store().share_path(&SI, SH);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, bytes).unwrap();
    path
}

/// Runs every operation that reads a share and checks each fails with `want`.
fn every_path_reports(s: &mut FsServer, want: &dyn Fn(&Error<std::io::Error>) -> bool) {
    let renew = RenewSecret::new([1; 32]);
    let cancel = CancelSecret::new([2; 32]);
    let results: Vec<(&str, Result<(), Error<std::io::Error>>)> = vec![
        (
            "add_lease",
            s.add_lease(&SI, &renew, &cancel, 1, NOW).map(drop),
        ),
        ("renew_lease", s.renew_lease(&SI, &renew, NOW)),
        ("cancel_lease", s.cancel_lease(&SI, &cancel).map(drop)),
        ("for_each_lease", s.for_each_lease(&SI, |_, _, _| true)),
        ("stat_share", s.stat_share(&SI, SH).map(drop)),
        ("open_bucket", s.open_bucket(&SI, SH).map(drop)),
        ("get_buckets", s.get_buckets(&SI).map(drop)),
        (
            "immutable_share_length",
            s.immutable_share_length(&SI, SH).map(drop),
        ),
    ];
    for (what, r) in results {
        match r {
            Err(e) if want(&e) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn empty_and_short_files_are_corrupt_on_every_path() {
    for bytes in [
        &b""[..],
        b"\0\0",
        b"\0\0\0\x02\0\0",
        b"\0\0\0\x01\0\0\0\0\0\0\0",
    ] {
        let dir = TempDir::new("short");
        let mut s = server(dir.path());
        place(&s, bytes);
        every_path_reports(&mut s, &|e| {
            matches!(e, Error::Corrupt(Corruption::TruncatedHeader))
        });
        // Nothing was changed or removed.
        assert_eq!(fs::read(s.store().share_path(&SI, SH)).unwrap(), bytes);
    }
}

#[test]
fn garbage_is_an_unknown_version_on_every_path_never_no_leases() {
    let dir = TempDir::new("garbage");
    let mut s = server(dir.path());
    place(&s, b"I am not a share.\n");
    every_path_reports(&mut s, &|e| {
        matches!(
            e,
            Error::UnknownImmutableVersion {
                version: 0x4920_616d,
                ..
            }
        )
    });
}

#[test]
fn truncated_immutable_share_reports_the_missing_data() {
    let dir = TempDir::new("truncated");
    let mut s = server(dir.path());
    let data: Vec<u8> = (0..100u8).collect();
    upload(&mut s, &data);
    let path = s.store().share_path(&SI, SH);
    // Cut 30 bytes: Tahoe then reads 70 bytes of data and takes the last 72 bytes of
    // what is left as the lease.
    let len = fs::metadata(&path).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 30)
        .unwrap();
    assert_eq!(s.immutable_share_length(&SI, SH).unwrap(), 70);
    let r = s.open_bucket(&SI, SH).unwrap();
    assert_eq!(r.length(), 70);
    // Reads return what the file holds, as Tahoe's do (Tahoe's verifier then finds the
    // share corrupt by its hashes, which test_repairer relies on).
    assert_eq!(s.read_bucket_vec(&r, 0, 100).unwrap(), &data[..70]);
    assert_eq!(s.read_bucket_vec(&r, 80, 5).unwrap(), b"");
    // The damage is reported, with what is wrong.
    let truncated = Corruption::TruncatedData {
        declared: 100,
        present: 70,
    };
    let stat = s.stat_share(&SI, SH).unwrap();
    assert_eq!(stat.damage, Some(truncated));
    assert_eq!(stat.data_length, 70);
    let text = Error::<std::io::Error>::Corrupt(truncated).to_string();
    assert!(
        text.contains("declares 100 bytes, the file holds 70"),
        "{text}"
    );
    // The container says the same, for tools that check shares.
    let c = ImmutableContainer::open(VecIo::from_vec(fs::read(&path).unwrap())).unwrap();
    assert_eq!(c.damage(), Some(truncated));
    assert_eq!(c.declared_data_length(), 100);
}

#[test]
fn an_intact_share_has_no_damage() {
    let mut c = ImmutableContainer::create(VecIo::new(), ImmutableVersion::V2, 10).unwrap();
    c.write_share_data(0, b"0123456789").unwrap();
    assert_eq!(c.damage(), None);
    assert_eq!(c.declared_data_length(), 10);
    let mut buf = [0u8; 20];
    assert_eq!(c.read_share_data(5, &mut buf).unwrap(), 5);
}

//! A large immutable upload through the server keeps bounded memory: the S3 store holds at
//! most a few chunks per share, never the share. Alone in its binary, so that the process's
//! peak RSS (`VmHWM`) is this test's.

mod common;

use tahoe_shares::server::{AllocateRequest, Config, Server};
use tahoe_shares::{CancelSecret, NodeId, RenewSecret, ShareNumber, StorageIndex, UploadSecret};
use tahoe_shares_s3::S3Store;

use common::{config, shared};

/// The peak resident set of this process, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_large_upload_and_download_keep_peak_rss_under_64_mib() {
    // 128 MiB by default (about 20 s in a debug build); TS_S3_BIG_MIB=1024 for 1 GiB.
    let mib: u64 = std::env::var("TS_S3_BIG_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    let size = mib << 20;
    let cfg = config(shared(), "tahoe");
    let si = StorageIndex::new([3; 16]);
    let n = ShareNumber(0);
    let node = NodeId([7; 20]);
    let mut s = Server::new(S3Store::open(&cfg).unwrap(), node, Config::default(), 1).unwrap();
    let up = UploadSecret::new(b"big").unwrap();
    let req = AllocateRequest {
        storage_index: si,
        renew_secret: RenewSecret::new([2; 32]),
        cancel_secret: CancelSecret::new([3; 32]),
        share_numbers: [n].into_iter().collect(),
        allocated_size: size,
        owner_num: 0,
        renew_leases: true,
        upload_secret: up.clone(),
    };
    s.allocate_buckets(&req, 1).unwrap();
    let baseline = peak_rss_kib();
    let piece = |i: u64| vec![(i % 251) as u8; 1 << 20];
    for i in 0..mib {
        s.write(&si, n, &up, i << 20, &piece(i), 1).unwrap();
    }
    s.close(&si, n, &up).unwrap();
    let readers = s.get_buckets(&si).unwrap();
    assert_eq!(readers.len(), 1);
    assert_eq!(readers[0].length(), size);
    let mut buf = vec![0u8; 1 << 20];
    for i in (0..mib).step_by(7) {
        let got = s.read_bucket(&readers[0], i << 20, &mut buf).unwrap();
        assert_eq!(got, 1 << 20);
        assert!(buf == piece(i), "MiB {i}");
    }
    let peak = peak_rss_kib();
    eprintln!("{mib} MiB upload: peak RSS {peak} KiB (baseline {baseline} KiB)");
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
}

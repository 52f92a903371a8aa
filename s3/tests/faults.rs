//! Faults on a real `SeaweedFS` cluster of its own per test: a volume server stopped in
//! the middle of a workload, and the filer stopped under the gateway (5xx answers).
//! Every acknowledged share and lease must stay intact and readable.

mod common;

use tahoe_shares::server::{AllocateRequest, Config, Server};
use tahoe_shares::store::{ShareStore, StoreError};
use tahoe_shares::{CancelSecret, NodeId, RenewSecret, ShareNumber, StorageIndex, UploadSecret};
use tahoe_shares_s3::{S3ErrorKind, S3Store};

use common::{config, Cluster};

const NODE: NodeId = NodeId([7; 20]);

fn data_of(i: u8) -> Vec<u8> {
    (0..300_000u32)
        .map(|j| (j as u8).wrapping_mul(7) ^ i)
        .collect()
}

/// Uploads share 0 of storage index `[i; 16]`; `Ok` only if every call was acknowledged.
fn upload(s: &mut Server<S3Store>, i: u8) -> Result<(), String> {
    let si = StorageIndex::new([i; 16]);
    let up = UploadSecret::new(&[i, 1]).unwrap();
    let data = data_of(i);
    let req = AllocateRequest {
        storage_index: si,
        renew_secret: RenewSecret::new([i; 32]),
        cancel_secret: CancelSecret::new([i; 32]),
        share_numbers: [ShareNumber(0)].into_iter().collect(),
        allocated_size: data.len() as u64,
        owner_num: 0,
        renew_leases: true,
        upload_secret: up.clone(),
    };
    let e = |e: tahoe_shares::Error<_>| e.to_string();
    s.allocate_buckets(&req, 1).map_err(e)?;
    s.write(&si, ShareNumber(0), &up, 0, &data, 1).map_err(e)?;
    s.close(&si, ShareNumber(0), &up).map_err(e)?;
    // A second lease, acknowledged with the share.
    s.add_lease(
        &si,
        &RenewSecret::new([i ^ 0x80; 32]),
        &CancelSecret::new([1; 32]),
        0,
        2,
    )
    .map_err(e)?;
    Ok(())
}

/// Whether share 0 of `[i; 16]` reads back whole, with both leases.
fn intact(s: &mut Server<S3Store>, i: u8) -> Result<(), String> {
    let si = StorageIndex::new([i; 16]);
    let readers = s.get_buckets(&si).map_err(|e| e.to_string())?;
    let r = readers.first().ok_or("no share")?;
    let mut buf = vec![0; 300_000];
    let n = s.read_bucket(r, 0, &mut buf).map_err(|e| e.to_string())?;
    if n != buf.len() || buf != data_of(i) {
        return Err(format!("share {i}: bytes differ"));
    }
    let mut leases = 0;
    s.for_each_lease(&si, |_, _, _| {
        leases += 1;
        true
    })
    .map_err(|e| e.to_string())?;
    if leases == 2 {
        Ok(())
    } else {
        Err(format!("share {i}: {leases} leases"))
    }
}

#[test]
fn a_volume_server_stopped_mid_workload_loses_nothing_acknowledged() {
    let mut c = Cluster::start();
    c.create_bucket("faults");
    let mut cfg = config(&c, "faults");
    cfg.retry_attempts = 6;
    let mut s = Server::new(S3Store::open(&cfg).unwrap(), NODE, Config::default(), 1).unwrap();
    let mut acked = Vec::new();
    for i in 0..6 {
        upload(&mut s, i).unwrap();
        acked.push(i);
    }
    c.stop_role("volume1");
    // During the outage: what was acknowledged reads (replication 001: another copy), and
    // new uploads are acknowledged or fail, never half-there.
    let mut failed = Vec::new();
    for i in 6..12 {
        match upload(&mut s, i) {
            Ok(()) => acked.push(i),
            Err(e) => failed.push((i, e)),
        }
    }
    for &i in &acked {
        intact(&mut s, i).unwrap_or_else(|e| panic!("during the outage: {e}"));
    }
    c.restart_role("volume1");
    for i in 12..16 {
        match upload(&mut s, i) {
            Ok(()) => acked.push(i),
            Err(e) => failed.push((i, e)),
        }
    }
    // A new server over a new store: what it reads is what the bucket holds.
    let mut fresh = Server::new(S3Store::open(&cfg).unwrap(), NODE, Config::default(), 1).unwrap();
    for &i in &acked {
        intact(&mut fresh, i).unwrap_or_else(|e| panic!("after the restart: {e}"));
    }
    eprintln!(
        "volume server stopped: {} uploads acknowledged and intact, {} refused: {failed:?}",
        acked.len(),
        failed.len()
    );
    assert!(acked.len() >= 10, "{failed:?}");
}

#[test]
fn the_filer_stopped_under_the_gateway_is_a_typed_error_and_loses_nothing() {
    let mut c = Cluster::start();
    c.create_bucket("nofiler");
    let mut cfg = config(&c, "nofiler");
    cfg.retry_attempts = 3;
    let mut s = Server::new(S3Store::open(&cfg).unwrap(), NODE, Config::default(), 1).unwrap();
    upload(&mut s, 1).unwrap();
    c.stop_role("filer");
    let before = s.store().stats().requests;
    let err = s.store_mut().list(&StorageIndex::new([1; 16])).unwrap_err();
    let StoreError::Io(e) = err else {
        panic!("{err:?}")
    };
    // The gateway answers an error page (a listing's body that does not parse: Protocol),
    // a 5xx, or nothing.
    assert!(
        matches!(
            e.kind(),
            S3ErrorKind::Server(500..=599) | S3ErrorKind::Transport | S3ErrorKind::Protocol
        ),
        "{e}"
    );
    // Retried to the bound, then reported.
    assert_eq!(s.store().stats().requests - before, 3, "{e}");
    eprintln!("filer stopped, list: {e}");
    let before = s.store().stats().requests;
    let err = s
        .store_mut()
        .open(&StorageIndex::new([1; 16]), ShareNumber(0))
        .map(|_| ())
        .unwrap_err();
    let StoreError::Io(e) = err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(
            e.kind(),
            S3ErrorKind::Server(500..=599) | S3ErrorKind::Transport
        ),
        "{e}"
    );
    assert_eq!(s.store().stats().requests - before, 3, "{e}");
    eprintln!("filer stopped, get: {e}");
    c.restart_role("filer");
    let deadline = std::time::Instant::now() + core::time::Duration::from_secs(60);
    loop {
        match intact(&mut s, 1) {
            Ok(()) => break,
            Err(e) => {
                assert!(std::time::Instant::now() < deadline, "{e}");
                std::thread::sleep(core::time::Duration::from_millis(250));
            }
        }
    }
}

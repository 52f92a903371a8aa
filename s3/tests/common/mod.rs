//! What the S3 store's tests share: the cluster fixture and store constructors.

#![allow(dead_code)] // Each test binary uses part of it.

pub mod cluster;

use core::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use tahoe_shares_s3::{Config, S3Store};

pub use cluster::Cluster;

/// The cluster every test of a binary shares (started on first use; its processes end
/// with the test process, see `cluster`).
pub fn shared() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let c = Cluster::start();
        c.create_bucket("tahoe");
        c
    })
}

/// A configuration for `bucket` on `cluster` under a prefix no other test uses.
pub fn config(cluster: &Cluster, bucket: &str) -> Config {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let mut c = Config::new(&cluster.endpoint, bucket)
        .with_credentials(cluster::ACCESS_KEY, cluster::SECRET_KEY);
    c.prefix = format!(
        "t{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    c.retry_base_delay = core::time::Duration::from_millis(20);
    c
}

/// A store on the shared cluster with its own prefix.
pub fn store() -> S3Store {
    S3Store::open(&config(shared(), "tahoe")).expect("open the S3 store")
}

/// Share number `n`.
pub fn sn(n: u8) -> tahoe_shares::ShareNumber {
    tahoe_shares::ShareNumber(n)
}

/// The set of share numbers `ns`.
pub fn set(ns: &[u8]) -> tahoe_shares::ShareSet {
    ns.iter().map(|&n| sn(n)).collect()
}

/// A pseudo-random byte string (xorshift), the same for the same seed.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

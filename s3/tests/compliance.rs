//! The `ShareStore` compliance kit (`store-kit/`) over the S3 store on a real `SeaweedFS`
//! cluster, each check under a prefix of its own.

mod common;

use tahoe_shares_s3::S3Store;

use common::{config, shared};

#[test]
fn s3_store_keeps_the_contract() {
    tahoe_shares_store_kit::run(&mut || {
        let mut cfg = config(shared(), "tahoe");
        // Small chunks, so that the kit's shares span several.
        cfg.chunk_size = 4096;
        cfg.quota = Some(10 << 20);
        cfg.space_cache = core::time::Duration::ZERO;
        S3Store::open(&cfg).unwrap()
    });
}

/// The documented single-writer mode (for services that ignore conditional writes, such as
/// Garage): plain PUTs after a HEAD. On `SeaweedFS` it must keep the same contract.
#[test]
fn s3_store_in_single_writer_mode_keeps_the_contract() {
    tahoe_shares_store_kit::run(&mut || {
        let mut cfg = config(shared(), "tahoe");
        cfg.chunk_size = 4096;
        cfg.single_writer = true;
        S3Store::open(&cfg).unwrap()
    });
}

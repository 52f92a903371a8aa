//! Builds a small Tahoe storage directory with the library, for `make demo`: three
//! immutable shares of one storage index (uploaded through `incoming/` and published), and
//! a mutable share written with a test-free write vector and given a second lease.
//!
//! Usage: `make_demo_store STORAGE_DIR`

use tahoe_shares::container::{ImmutableContainer, MutableContainer, NewLease};
use tahoe_shares::format::immutable::ImmutableVersion;
use tahoe_shares::format::mutable::MutableVersion;
use tahoe_shares::store::{Durability, FsStore, ShareStore};
use tahoe_shares::{CancelSecret, NodeId, RenewSecret, ShareNumber, StorageIndex, WriteEnabler};

const NOW: u32 = 1_800_000_000;
const MONTH: u32 = 31 * 24 * 3600;

fn lease(seed: u8, owner: u32) -> NewLease {
    NewLease {
        owner_num: owner,
        renew: RenewSecret::new([seed; 32]),
        cancel: CancelSecret::new([seed ^ 0xff; 32]),
        expiration_time: NOW + MONTH,
        nodeid: NodeId([7; 20]),
    }
}

fn main() -> Result<(), Box<dyn core::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: make_demo_store STORAGE_DIR")?;
    let mut store = FsStore::open(&dir, Durability::Durable)?;

    let si = StorageIndex::new(*b"demo-immutable!!");
    let data: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
    for n in 0..3u8 {
        let io = store.create_incoming(&si, ShareNumber(n))?;
        let mut share = ImmutableContainer::create(io, ImmutableVersion::V2, data.len() as u64)?;
        share.add_lease(&lease(1, 0))?;
        for (i, chunk) in data.chunks(1024).enumerate() {
            share.write_share_data(i as u64 * 1024, chunk)?;
        }
        share.sync()?;
        store.publish(&si, ShareNumber(n))?;
    }

    let slot = StorageIndex::new(*b"demo-mutable!!!!");
    let io = store.create_incoming(&slot, ShareNumber(0))?;
    let mut share = MutableContainer::create(
        io,
        MutableVersion::V2,
        NodeId([7; 20]),
        WriteEnabler::new([9; 32]),
    )?;
    share.writev(&[(0, b"hello, mutable world")], None)?;
    share.add_lease(u64::MAX, &lease(2, 1))?;
    share.add_lease(u64::MAX, &lease(3, 1))?;
    drop(share);
    store.publish(&slot, ShareNumber(0))?;
    println!("wrote 4 shares under {dir}");
    Ok(())
}

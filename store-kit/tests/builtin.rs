//! The compliance kit over the core's own stores: memory and filesystem.

use core::sync::atomic::{AtomicU32, Ordering};

use tahoe_shares::store::{Durability, FsStore, MemStore};

#[test]
fn mem_store_keeps_the_contract() {
    tahoe_shares_store_kit::run(&mut MemStore::new);
}

#[test]
fn fs_store_keeps_the_contract() {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let root = std::env::temp_dir().join(format!("ts-store-kit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut dirs = Vec::new();
    tahoe_shares_store_kit::run(&mut || {
        let dir = root.join(SEQ.fetch_add(1, Ordering::Relaxed).to_string());
        dirs.push(dir.clone());
        FsStore::open(dir, Durability::NoSync).unwrap()
    });
    let _ = std::fs::remove_dir_all(&root);
}

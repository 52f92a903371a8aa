//! Unit tests of the fault-injecting store and its devices.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use alloc::vec;
use alloc::vec::Vec;

use super::{Change, Fault, FaultyShare, FaultyStore, Persist, StoreFault, StoreOp};
use crate::io::ShareIo;
use crate::store::StoreError;
use crate::store::{MemStore, ShareStore};
use crate::types::{ShareNumber, StorageIndex};

const SI: StorageIndex = StorageIndex::new([5; 16]);

fn share(store: &mut FaultyStore) -> FaultyShare {
    store.create_incoming(&SI, ShareNumber(0)).unwrap()
}

#[test]
fn operations_are_numbered_in_one_sequence() {
    let mut store = FaultyStore::new(MemStore::new());
    let plan = store.plan();
    let mut io = share(&mut store);
    io.write_at(0, b"abc").unwrap();
    let _ = io.len().unwrap();
    io.sync().unwrap();
    store.publish(&SI, ShareNumber(0)).unwrap();
    assert_eq!(plan.ops(), 4);
    assert_eq!(
        plan.trace(),
        [
            StoreOp::CreateIncoming,
            StoreOp::Write,
            StoreOp::Sync,
            StoreOp::Publish
        ]
    );
    assert_eq!(plan.count(StoreOp::Read), 1);
    assert_eq!(plan.count(StoreOp::Write), 1);
}

#[test]
fn a_crash_changes_nothing_and_stops_everything() {
    let mut store = FaultyStore::new(MemStore::new());
    let plan = store.plan();
    let mut io = share(&mut store);
    io.write_at(0, b"abc").unwrap();
    plan.crash_at(2);
    assert_eq!(io.write_at(0, b"xyz"), Err(StoreFault::Crashed));
    assert!(plan.crashed());
    // Reads fail too, and nothing more is counted.
    assert_eq!(io.len(), Err(StoreFault::Crashed));
    assert!(matches!(
        store.list(&SI),
        Err(StoreError::Io(StoreFault::Crashed))
    ));
    assert_eq!(plan.ops(), 3);
    let mut image = store.crash_image();
    let survived = image.open_incoming(&SI, ShareNumber(0)).unwrap().unwrap();
    assert_eq!(survived.bytes(), b"abc");
    // The image shares nothing with the crashed store.
    let mut copy = survived;
    copy.write_at(0, b"zzz").unwrap();
    assert_eq!(io.bytes(), b"abc");
}

#[test]
fn fail_nth_once_or_sticky_changes_nothing() {
    let mut store = FaultyStore::new(MemStore::new());
    let plan = store.plan();
    let mut io = share(&mut store);
    plan.fail_nth(StoreOp::Write, 1, false);
    io.write_at(0, b"a").unwrap();
    assert_eq!(
        io.write_at(1, b"b"),
        Err(StoreFault::Injected(StoreOp::Write))
    );
    io.write_at(1, b"c").unwrap();
    assert_eq!(io.bytes(), b"ac");

    plan.fail_nth(StoreOp::PutUploadRecord, 0, true);
    for _ in 0..3 {
        assert!(matches!(
            store.put_upload_record(&SI, ShareNumber(0), b"r"),
            Err(StoreError::Io(StoreFault::Injected(
                StoreOp::PutUploadRecord
            )))
        ));
    }
    let mut buf = [0u8; 4];
    assert_eq!(
        store
            .get_upload_record(&SI, ShareNumber(0), &mut buf)
            .unwrap(),
        None
    );
    assert!(!plan.crashed());
    plan.clear();
    store.put_upload_record(&SI, ShareNumber(0), b"r").unwrap();
    // Store errors pass through unchanged.
    assert!(matches!(
        store.create_incoming(&SI, ShareNumber(0)),
        Err(StoreError::AlreadyExists)
    ));
}

#[test]
fn power_loss_keeps_what_was_made_durable() {
    let mut store = FaultyStore::new(MemStore::new());
    let plan = store.plan();
    let mut io = share(&mut store);
    io.write_at(0, b"synced").unwrap();
    io.sync().unwrap();
    io.write_at(0, b"SYN").unwrap();
    // The create is not durable yet: a power loss loses the share, name and all.
    let mut lost = store.durable_image();
    assert!(lost.open_incoming(&SI, ShareNumber(0)).unwrap().is_none());
    assert_eq!(
        store
            .pending()
            .iter()
            .map(|p| &p.change)
            .collect::<Vec<_>>(),
        [
            &Change::Create(SI, ShareNumber(0)),
            &Change::Write {
                offset: 0,
                data: b"SYN".to_vec()
            }
        ]
    );
    // A saved record makes the name durable, with the synced bytes only.
    store.put_upload_record(&SI, ShareNumber(0), b"r").unwrap();
    let mut image = store.durable_image();
    let got = image.open_incoming(&SI, ShareNumber(0)).unwrap().unwrap();
    assert_eq!(got.bytes(), b"synced");
    let mut buf = [0u8; 4];
    assert_eq!(
        image
            .get_upload_record(&SI, ShareNumber(0), &mut buf)
            .unwrap(),
        Some(1)
    );
    // Keeping the pending write gives the process's view.
    let mut kept = store.power_loss_image(|_, _| Persist::Kept);
    let got = kept.open_incoming(&SI, ShareNumber(0)).unwrap().unwrap();
    assert_eq!(got.bytes(), b"SYNced");
    // Publishing syncs and renames durably.
    store.publish(&SI, ShareNumber(0)).unwrap();
    assert!(store.pending().is_empty());
    let mut image = store.durable_image();
    assert_eq!(
        image.open(&SI, ShareNumber(0)).unwrap().unwrap().bytes(),
        b"SYNced"
    );
    assert!(image.open_incoming(&SI, ShareNumber(0)).unwrap().is_none());
    // A write to the published share, interrupted by the crash, may be torn.
    let mut io = store.open(&SI, ShareNumber(0)).unwrap().unwrap();
    plan.crash_now();
    let data = vec![7u8; 1000];
    assert_eq!(io.write_at(100, &data), Err(StoreFault::Crashed));
    assert_eq!(io.bytes(), b"SYNced");
    let pending = store.pending();
    assert_eq!(pending.len(), 1);
    assert!(pending[0].in_flight);
    assert_eq!(pending[0].sectors(), 3);
    let mut torn = store.power_loss_image(|_, _| Persist::Sectors(vec![false, true, false]));
    let bytes = torn.open(&SI, ShareNumber(0)).unwrap().unwrap().bytes();
    // Sector 1 (bytes 512..1024) only, with the hole before it zero-filled.
    assert_eq!(bytes.len(), 1024);
    assert_eq!(&bytes[..6], b"SYNced");
    assert!(bytes[6..512].iter().all(|&b| b == 0));
    assert!(bytes[512..].iter().all(|&b| b == 7));
}

#[test]
fn removals_are_durable_and_drop_pending_changes() {
    let mut store = FaultyStore::new(MemStore::new());
    let mut io = share(&mut store);
    io.write_at(0, b"abc").unwrap();
    store.abort(&SI, ShareNumber(0)).unwrap();
    assert!(store.pending().is_empty());
    let mut kept = store.power_loss_image(|_, _| Persist::Kept);
    assert!(kept.open_incoming(&SI, ShareNumber(0)).unwrap().is_none());
    let mut io = share(&mut store);
    io.write_at(0, b"abc").unwrap();
    store.publish(&SI, ShareNumber(0)).unwrap();
    store.remove(&SI, ShareNumber(0)).unwrap();
    let mut image = store.durable_image();
    assert!(image.list(&SI).unwrap().is_empty());
}

#[test]
fn short_ambiguous_and_flipped_operations() {
    let mut store = FaultyStore::new(MemStore::new());
    let plan = store.plan();
    let mut io = share(&mut store);
    plan.inject(StoreOp::Write, 0, false, Fault::Short);
    assert_eq!(io.write_at(0, b"abcd"), Err(StoreFault::ShortWrite));
    assert_eq!(io.bytes(), b"ab");
    plan.inject(StoreOp::Write, 1, false, Fault::Ambiguous);
    assert_eq!(
        io.write_at(0, b"wxyz"),
        Err(StoreFault::Injected(StoreOp::Write))
    );
    assert_eq!(io.bytes(), b"wxyz");
    plan.inject(StoreOp::Read, 0, false, Fault::BitFlip);
    let mut buf = [0u8; 4];
    io.read_at(0, &mut buf).unwrap();
    assert_eq!(buf, [b'w', b'x', b'y' ^ 4, b'z']);
    io.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"wxyz");
    assert_eq!(plan.fired(), 3);
    // A fault that cannot hit the kind never fires.
    plan.inject(StoreOp::Sync, 0, true, Fault::Short);
    io.sync().unwrap();
    assert_eq!(plan.fired(), 3);
    // An ambiguous publish publishes.
    plan.inject(StoreOp::Publish, 0, false, Fault::Ambiguous);
    assert!(matches!(
        store.publish(&SI, ShareNumber(0)),
        Err(StoreError::Io(StoreFault::Injected(StoreOp::Publish)))
    ));
    assert_eq!(store.list(&SI).unwrap().len(), 1);
}

#[test]
fn no_space_after_a_byte_budget() {
    let mut store = FaultyStore::new(MemStore::new());
    let plan = store.plan();
    let mut io = share(&mut store);
    plan.no_space_after(Some(10));
    io.write_at(0, b"12345678").unwrap();
    // Rewriting in place takes nothing; growing past the budget stores what fits.
    io.write_at(0, b"abcdefgh").unwrap();
    assert_eq!(io.write_at(8, b"ijklmn"), Err(StoreFault::NoSpace));
    assert_eq!(io.bytes(), b"abcdefghij");
    assert_eq!(io.set_len(11), Err(StoreFault::NoSpace));
    assert!(matches!(
        store.put_upload_record(&SI, ShareNumber(0), b"r"),
        Err(StoreError::Io(StoreFault::NoSpace))
    ));
    // Shrinking gives space back.
    io.set_len(4).unwrap();
    store
        .put_upload_record(&SI, ShareNumber(0), b"rec")
        .unwrap();
    io.write_at(4, b"xyz").unwrap();
    assert_eq!(plan.no_space_hits(), 3);
    assert_eq!(io.bytes(), b"abcdxyz");
}

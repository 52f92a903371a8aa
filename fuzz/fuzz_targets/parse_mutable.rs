//! Mutable containers from arbitrary bytes: no panic, header decode→encode round-trips,
//! reads stay inside the data, lease slots decode→encode→decode, and a container that
//! opens (journal replay included) re-opens to the same state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tahoe_shares::container::MutableContainer;
use tahoe_shares::format::lease::{Lease, LeaseSchema};
use tahoe_shares::format::mutable::{MutableHeader, DATA_OFFSET, HEADER_SIZE};
use tahoe_shares::io::VecIo;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = MutableHeader::decode(data) {
        assert_eq!(
            &h.encode()[..],
            &data[..HEADER_SIZE as usize],
            "header round trip"
        );
    }
    if let Ok(c) = MutableContainer::open_unrecovered(VecIo::from_vec(data.to_vec())) {
        check(c, Some(data));
    }
    if let Ok(c) = MutableContainer::open(VecIo::from_vec(data.to_vec())) {
        let (len, slots, bytes) = check(c, None);
        let again = MutableContainer::open(VecIo::from_vec(bytes)).expect("reopen");
        assert_eq!(again.data_length(), len);
        assert_eq!(again.num_slots(), slots);
    }
});

fn check(mut c: MutableContainer<VecIo>, original: Option<&[u8]>) -> (u64, u32, Vec<u8>) {
    let len = c.data_length();
    assert!(c.container_end() >= DATA_OFFSET + len);
    let mut buf = [0u8; 64];
    for offset in [
        0,
        len / 2,
        len.saturating_sub(1),
        len,
        len + 1,
        u64::MAX - 3,
    ] {
        if let Ok(got) = c.read_share_data(offset, &mut buf) {
            assert!(
                got as u64 <= len.saturating_sub(offset),
                "read past the data"
            );
            if let Some(orig) = original {
                let start = DATA_OFFSET.saturating_add(offset) as usize;
                assert_eq!(
                    &buf[..got],
                    &orig[start.min(orig.len())..][..got],
                    "data read"
                );
            }
        }
    }
    let schema = c.version().lease_schema();
    let slots = c.num_slots();
    for i in 0..slots.min(64) {
        if let Ok(Some(l)) = c.lease_slot(i) {
            roundtrip(&l, schema);
        }
    }
    let _ = c.for_each_lease(|_, l| {
        roundtrip(l, schema);
        true
    });
    (len, slots, c.into_inner().data)
}

fn roundtrip(l: &Lease, schema: LeaseSchema) {
    assert_ne!(l.owner_num, 0, "empty slot reported as a lease");
    let rec = l.encode_mutable();
    let back = Lease::decode_mutable(&rec, schema)
        .expect("decode")
        .expect("non-empty");
    assert_eq!(back.encode_mutable(), rec);
}

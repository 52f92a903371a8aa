//! Immutable containers (v1/v2) from arbitrary bytes: no panic, header decode→encode
//! round-trips, every read stays inside the data, lease records decode→encode, and an
//! opened container re-opens identically after `recover`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tahoe_shares::container::ImmutableContainer;
use tahoe_shares::format::immutable::{ImmutableHeader, HEADER_SIZE};
use tahoe_shares::format::lease::IMMUTABLE_LEASE_SIZE;
use tahoe_shares::io::VecIo;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = ImmutableHeader::decode(data) {
        assert_eq!(&h.encode()[..], &data[..12], "header round trip");
        if let Ok(layout) = h.layout(data.len() as u64) {
            assert!(layout.container_size() <= data.len() as u64);
        }
    }
    let Ok(mut c) = ImmutableContainer::open(VecIo::from_vec(data.to_vec())) else {
        return;
    };
    let len = c.data_length();
    let n = c.num_leases();
    assert!(
        HEADER_SIZE + len + u64::from(n) * IMMUTABLE_LEASE_SIZE as u64 <= data.len() as u64,
        "layout larger than the file"
    );
    // The data region is exactly the bytes after the header.
    let mut buf = vec![0u8; 64];
    for offset in [
        0,
        len / 2,
        len.saturating_sub(1),
        len,
        len + 1,
        u64::MAX - 3,
    ] {
        if let Ok(got) = c.read_share_data(offset, &mut buf) {
            assert!(got as u64 <= len.saturating_sub(offset));
            let start = HEADER_SIZE.saturating_add(offset) as usize;
            assert_eq!(
                &buf[..got],
                &data[start.min(data.len())..][..got],
                "data read"
            );
        }
    }
    let hashed = c.version().hashed_secrets();
    let mut leases = Vec::new();
    let _ = c.for_each_lease(|i, l| {
        let rec = l.encode_immutable();
        let start = (c_offset(len, i)) as usize;
        assert_eq!(
            &rec[..],
            &data[start..start + IMMUTABLE_LEASE_SIZE],
            "lease {i}"
        );
        assert_eq!(l.secrets.is_hashed(), hashed);
        leases.push(rec);
        true
    });
    assert_eq!(leases.len(), n as usize);
    if c.recover().is_ok() {
        let bytes = c.into_inner().data;
        let mut again = ImmutableContainer::open(VecIo::from_vec(bytes)).expect("reopen");
        assert_eq!(again.data_length(), len);
        assert_eq!(again.num_leases(), n);
        let mut i = 0;
        again
            .for_each_lease(|_, l| {
                assert_eq!(l.encode_immutable(), leases[i]);
                i += 1;
                true
            })
            .expect("leases after recover");
    }
});

fn c_offset(data_len: u64, i: u32) -> u64 {
    HEADER_SIZE + data_len + u64::from(i) * IMMUTABLE_LEASE_SIZE as u64
}

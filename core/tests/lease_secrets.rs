//! Lease secrets of any length, as Tahoe 1.20 takes them: version 1
//! records store the secret padded with zeros or cut to 32 bytes (`struct.pack("32s")`)
//! and match only a 32-byte secret equal to them; version 2 records store BLAKE2b-256 of
//! the bytes given and match those bytes again. `tests/python/test_lease_secret_lengths.py`
//! compares the records byte for byte with Tahoe's own `ShareFile` and `MutableShareFile`.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use tahoe_shares::container::{
    Backdate, ContainerError, ImmutableContainer, MutableContainer, NewLease,
};
use tahoe_shares::format::immutable::ImmutableVersion;
use tahoe_shares::format::mutable::MutableVersion;
use tahoe_shares::io::VecIo;
use tahoe_shares::server::{Config, Server};
use tahoe_shares::store::MemStore;
use tahoe_shares::{
    CancelSecret, Error, NodeId, RenewSecret, ShareNumber, StorageIndex, WriteEnabler,
};

fn hex(bytes: &[u8]) -> String {
    use core::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn lease(renew: &[u8], cancel: &[u8], expiry: u32) -> NewLease {
    NewLease {
        owner_num: 1,
        renew: RenewSecret::from_bytes(renew),
        cancel: CancelSecret::from_bytes(cancel),
        expiration_time: expiry,
        nodeid: NodeId([9; 20]),
    }
}

#[test]
fn both_forms_of_an_odd_length_secret() {
    let s = RenewSecret::from_bytes(b"abc");
    let mut padded = [0u8; 32];
    padded[..3].copy_from_slice(b"abc");
    assert_eq!(s.cleartext_form(), &padded);
    // nacl.hash.blake2b(b"abc", digest_size=32, encoder=RawEncoder).hex()
    assert_eq!(
        hex(s.hashed_form()),
        "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"
    );
    assert!(!s.is_32_bytes());
    // Longer secrets are cut to 32 bytes in clear text, hashed whole.
    let long = CancelSecret::from_bytes(&[7u8; 40]);
    assert_eq!(long.cleartext_form(), &[7u8; 32]);
    assert_ne!(long.hashed_form(), CancelSecret::new([7; 32]).hashed_form());
    // The empty secret: 32 zeros in clear text; blake2b(b"").
    let empty = RenewSecret::from_bytes(b"");
    assert_eq!(empty.cleartext_form(), &[0u8; 32]);
    assert_eq!(
        hex(empty.hashed_form()),
        "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
    );
    // A 32-byte secret is the same whichever constructor built it.
    assert!(RenewSecret::from_bytes(&[5; 32]).ct_eq(&RenewSecret::new([5; 32])));
    assert!(RenewSecret::from_bytes(&[5; 32]).is_32_bytes());
    // from_slice still insists on 32 bytes (the protocols' length).
    assert!(RenewSecret::from_slice(b"abc").is_err());
}

#[test]
fn v2_immutable_records_renew_and_cancel_with_the_bytes_given() {
    let mut c = ImmutableContainer::create(VecIo::new(), ImmutableVersion::V2, 4).unwrap();
    c.add_or_renew_lease(u64::MAX, &lease(b"renew", b"cancel-me", 100))
        .unwrap();
    // The same short secret renews the record instead of adding one.
    c.add_or_renew_lease(u64::MAX, &lease(b"renew", b"cancel-me", 200))
        .unwrap();
    assert_eq!(c.num_leases(), 1);
    let l = c.lease(0).unwrap();
    assert_eq!(l.expiration_time, 200);
    assert_eq!(
        l.secrets.renew_bytes(),
        RenewSecret::from_bytes(b"renew").hashed_form()
    );
    // Padding the secret to 32 bytes gives another secret: no match.
    let mut padded = [0u8; 32];
    padded[..5].copy_from_slice(b"renew");
    assert!(matches!(
        c.renew_lease(&RenewSecret::new(padded), 300, Backdate::Forbid),
        Err(ContainerError::NoSuchLease { .. })
    ));
    let out = c
        .cancel_lease(&CancelSecret::from_bytes(b"cancel-me"))
        .unwrap();
    assert!(out.last_lease_removed);
}

#[test]
fn v1_immutable_records_pad_and_never_match_other_lengths() {
    let mut c = ImmutableContainer::create(VecIo::new(), ImmutableVersion::V1, 4).unwrap();
    c.add_or_renew_lease(u64::MAX, &lease(b"renew", &[3u8; 40], 100))
        .unwrap();
    let l = c.lease(0).unwrap();
    let mut padded = [0u8; 32];
    padded[..5].copy_from_slice(b"renew");
    assert_eq!(l.secrets.renew_bytes(), &padded);
    assert_eq!(l.secrets.cancel_bytes(), &[3u8; 32]);
    // Tahoe compares the 32 stored bytes with the bytes given: the short secret never
    // matches, so presenting it again adds a second record.
    c.add_or_renew_lease(u64::MAX, &lease(b"renew", &[3u8; 40], 200))
        .unwrap();
    assert_eq!(c.num_leases(), 2);
    assert!(matches!(
        c.cancel_lease(&CancelSecret::from_bytes(&[3u8; 40])),
        Err(ContainerError::NoSuchLease { .. })
    ));
    // The 32 stored bytes themselves do match.
    c.renew_lease(&RenewSecret::new(padded), 300, Backdate::Forbid)
        .unwrap();
    assert_eq!(c.lease(0).unwrap().expiration_time, 300);
    let out = c.cancel_lease(&CancelSecret::new([3; 32])).unwrap();
    assert!(out.last_lease_removed);
}

#[test]
fn mutable_records_of_both_schemas() {
    for (version, renews) in [(MutableVersion::V2, true), (MutableVersion::V1, false)] {
        let mut c = MutableContainer::create(
            VecIo::new(),
            version,
            NodeId([1; 20]),
            WriteEnabler::new([2; 32]),
        )
        .unwrap();
        c.add_or_renew_lease(u64::MAX, &lease(b"r", b"c", 100))
            .unwrap();
        c.add_or_renew_lease(u64::MAX, &lease(b"r", b"c", 200))
            .unwrap();
        let mut n = 0;
        c.for_each_lease(|_, _| {
            n += 1;
            true
        })
        .unwrap();
        assert_eq!(n, if renews { 1 } else { 2 }, "{version:?}");
        assert_eq!(
            c.cancel_lease(&CancelSecret::from_bytes(b"c")).is_ok(),
            renews,
            "{version:?}"
        );
    }
}

#[test]
fn server_add_lease_with_short_secrets() {
    let now = 1_700_000_000;
    let mut server = Server::new(MemStore::new(), NodeId([7; 20]), Config::default(), now).unwrap();
    let si = StorageIndex::new([1; 16]);
    let up = tahoe_shares::UploadSecret::new(b"u").unwrap();
    server
        .allocate_buckets(
            &tahoe_shares::server::AllocateRequest {
                storage_index: si,
                renew_secret: RenewSecret::from_bytes(b"short"),
                cancel_secret: CancelSecret::from_bytes(b""),
                share_numbers: [ShareNumber(0)].into_iter().collect(),
                allocated_size: 3,
                owner_num: 0,
                renew_leases: true,
                upload_secret: up.clone(),
            },
            now,
        )
        .unwrap();
    server
        .write(&si, ShareNumber(0), &up, 0, b"abc", now)
        .unwrap();
    server.close(&si, ShareNumber(0), &up).unwrap();
    // Tahoe 1.20 writes schema 2: the short secret renews what it added.
    server
        .add_lease(
            &si,
            &RenewSecret::from_bytes(b"short"),
            &CancelSecret::from_bytes(b""),
            1,
            now + 10,
        )
        .unwrap();
    server
        .renew_lease(&si, &RenewSecret::from_bytes(b"short"), now + 20)
        .unwrap();
    let mut leases = Vec::new();
    server
        .for_each_lease(&si, |_, _, l| {
            leases.push(l.expiration_time);
            true
        })
        .unwrap();
    assert_eq!(
        leases,
        vec![u32::try_from(now + 20).unwrap() + Config::default().lease_duration]
    );
    assert!(
        server
            .cancel_lease(&si, &CancelSecret::from_bytes(b""))
            .unwrap()
            > 0
    );
}

fn write_with(
    server: &mut Server<MemStore>,
    we: WriteEnabler,
    data: &[u8],
) -> Result<bool, Error<tahoe_shares::io::MemError>> {
    use tahoe_shares::server::{LeaseUpdate, SlotSecrets, SlotWrite};
    let si = StorageIndex::new([2; 16]);
    let secrets = SlotSecrets {
        write_enabler: we,
        renew: RenewSecret::new([1; 32]),
        cancel: CancelSecret::new([2; 32]),
    };
    let writes = [(0u64, data)];
    let entry = SlotWrite {
        share_number: ShareNumber(0),
        tests: &[],
        writes: &writes,
        new_length: None,
    };
    server
        .slot_testv_and_readv_and_writev(
            &si,
            &secrets,
            &[entry],
            &[],
            LeaseUpdate::AddOrRenew,
            1_700_000_000,
        )
        .map(|o| o.passed)
}

#[test]
fn write_enablers_of_other_lengths_create_slots_but_never_match() {
    let mut server = Server::new(
        MemStore::new(),
        NodeId([7; 20]),
        Config::default(),
        1_700_000_000,
    )
    .unwrap();
    // Creating a slot stores the write enabler padded to 32 bytes, as Tahoe does.
    assert!(write_with(&mut server, WriteEnabler::from_bytes(b"short"), b"one").unwrap());
    // The same short write enabler never matches it again...
    match write_with(&mut server, WriteEnabler::from_bytes(b"short"), b"two") {
        Err(Error::BadWriteEnabler { nodeid }) => assert_eq!(nodeid, NodeId([7; 20])),
        other => panic!("{other:?}"),
    }
    // ... nor does a longer one cut to the same 32 bytes; the 32 stored bytes do.
    let mut padded = [0u8; 32];
    padded[..5].copy_from_slice(b"short");
    let mut longer = padded.to_vec();
    longer.push(0);
    assert!(matches!(
        write_with(&mut server, WriteEnabler::from_bytes(&longer), b"two"),
        Err(Error::BadWriteEnabler { .. })
    ));
    assert!(write_with(&mut server, WriteEnabler::new(padded), b"two").unwrap());
    assert!(!WriteEnabler::from_bytes(b"x").ct_eq(&WriteEnabler::from_bytes(b"x")));
    assert!(WriteEnabler::from_bytes(&[9; 32]).ct_eq(&WriteEnabler::new([9; 32])));
}

//! Lease records of both container kinds: decode→encode round trips byte for byte, an
//! owner of 0 is an empty mutable slot, and secret matching agrees with the stored form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tahoe_shares::format::lease::{
    HashedSecrets, Lease, LeaseSchema, StoredSecrets, IMMUTABLE_LEASE_SIZE, MUTABLE_LEASE_SIZE,
};
use tahoe_shares::{CancelSecret, RenewSecret};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let schema = if flags & 1 == 1 {
        LeaseSchema::V2
    } else {
        LeaseSchema::V1
    };
    let hashed = schema.is_hashed();
    match Lease::decode_immutable(rest, schema) {
        Ok(l) => {
            assert!(rest.len() >= IMMUTABLE_LEASE_SIZE);
            assert_eq!(&l.encode_immutable()[..], &rest[..IMMUTABLE_LEASE_SIZE]);
            assert_eq!(l.secrets.is_hashed(), hashed);
        }
        Err(_) => assert!(rest.len() < IMMUTABLE_LEASE_SIZE),
    }
    match Lease::decode_mutable(rest, schema) {
        Ok(Some(l)) => {
            assert_ne!(l.owner_num, 0);
            assert_eq!(&l.encode_mutable()[..], &rest[..MUTABLE_LEASE_SIZE]);
        }
        Ok(None) => assert_eq!(&rest[..4], &[0; 4]),
        Err(_) => assert!(rest.len() < MUTABLE_LEASE_SIZE),
    }
    // Secrets: the stored form matches exactly the secrets it was made from.
    if rest.len() >= 64 {
        let renew = RenewSecret::new(rest[..32].try_into().unwrap());
        let cancel = CancelSecret::new(rest[32..64].try_into().unwrap());
        let stored = StoredSecrets::for_version(schema, &renew, &cancel);
        assert!(stored.matches_renew(&renew));
        assert!(stored.matches_cancel(&cancel));
        let mut other = *renew.cleartext_form();
        other[0] ^= 1;
        assert!(!stored.matches_renew(&RenewSecret::new(other)));
        if hashed {
            let h = HashedSecrets::hash(&renew, &cancel);
            let again = StoredSecrets::Hashed(h);
            assert_eq!(again.renew_bytes(), stored.renew_bytes());
        }
    }
});

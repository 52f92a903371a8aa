//! Lease records: 72 bytes in immutable containers, 92 in mutable ones.
//!
//! A container's schema version decides how the two secrets are stored: version 1 keeps
//! them in clear text ([`CleartextSecrets`]), version 2 keeps their BLAKE2b-256 hashes
//! ([`HashedSecrets`]). The two are different types so that one can never be written where
//! the other belongs.

use subtle::ConstantTimeEq;

use super::{Cursor, Writer};
use crate::error::Corruption;
pub use crate::types::LeaseSchema;
use crate::types::{CancelSecret, NodeId, RenewSecret};

/// Bytes of one lease record in an immutable container.
pub const IMMUTABLE_LEASE_SIZE: usize = 72;
/// Bytes of one lease record in a mutable container.
pub const MUTABLE_LEASE_SIZE: usize = 92;
/// Seconds in Tahoe's default lease duration (31 days).
pub const DEFAULT_LEASE_DURATION: u32 = 31 * 24 * 60 * 60;

/// Lease secrets stored in clear text (schema version 1): the secrets given, padded with
/// zeros or cut to 32 bytes, as Tahoe's `struct.pack(">32s")` stores them.
#[derive(Clone)]
pub struct CleartextSecrets {
    /// The renew secret's 32 stored bytes.
    pub renew: [u8; 32],
    /// The cancel secret's 32 stored bytes.
    pub cancel: [u8; 32],
}

/// Lease secrets stored as BLAKE2b-256 hashes (schema version 2).
#[derive(Clone)]
pub struct HashedSecrets {
    /// BLAKE2b-256 of the renew secret.
    pub renew_hash: [u8; 32],
    /// BLAKE2b-256 of the cancel secret.
    pub cancel_hash: [u8; 32],
}

impl HashedSecrets {
    /// Hashes client secrets for storage (BLAKE2b-256 of the bytes given, whatever their
    /// length).
    #[must_use]
    pub fn hash(renew: &RenewSecret, cancel: &CancelSecret) -> Self {
        Self {
            renew_hash: *renew.hashed_form(),
            cancel_hash: *cancel.hashed_form(),
        }
    }
}

/// The secrets of a lease record, as stored.
#[derive(Clone)]
#[non_exhaustive]
pub enum StoredSecrets {
    /// Schema version 1.
    Cleartext(CleartextSecrets),
    /// Schema version 2.
    Hashed(HashedSecrets),
}

impl StoredSecrets {
    /// Stores client secrets the way records of `schema` do (version 1: clear text,
    /// version 2: hashed).
    #[must_use]
    pub fn for_version(schema: LeaseSchema, renew: &RenewSecret, cancel: &CancelSecret) -> Self {
        match schema {
            LeaseSchema::V1 => Self::Cleartext(CleartextSecrets {
                renew: *renew.cleartext_form(),
                cancel: *cancel.cleartext_form(),
            }),
            LeaseSchema::V2 => Self::Hashed(HashedSecrets::hash(renew, cancel)),
        }
    }

    /// Whether `secret` is this lease's renew secret (constant time in the secret). A
    /// clear-text record matches only a secret that was given as 32 bytes, as in Tahoe.
    #[must_use]
    pub fn matches_renew(&self, secret: &RenewSecret) -> bool {
        self.matches_renew_form(secret.matchable_form(self.schema()))
    }

    /// Whether `form` (a secret's [`RenewSecret::matchable_form`] for this record's
    /// schema) is this lease's stored renew secret, in constant time; `None` never
    /// matches.
    pub(crate) fn matches_renew_form(&self, form: Option<&[u8; 32]>) -> bool {
        form.is_some_and(|f| bool::from(self.renew_bytes().ct_eq(f)))
    }

    /// Whether `secret` is this lease's cancel secret (constant time in the secret). A
    /// clear-text record matches only a secret that was given as 32 bytes, as in Tahoe.
    #[must_use]
    pub fn matches_cancel(&self, secret: &CancelSecret) -> bool {
        secret
            .matchable_form(self.schema())
            .is_some_and(|f| bool::from(self.cancel_bytes().ct_eq(f)))
    }

    /// The 32 bytes stored for the renew secret.
    #[must_use]
    pub fn renew_bytes(&self) -> &[u8; 32] {
        match self {
            Self::Cleartext(c) => &c.renew,
            Self::Hashed(h) => &h.renew_hash,
        }
    }

    /// The 32 bytes stored for the cancel secret.
    #[must_use]
    pub fn cancel_bytes(&self) -> &[u8; 32] {
        match self {
            Self::Cleartext(c) => &c.cancel,
            Self::Hashed(h) => &h.cancel_hash,
        }
    }

    fn from_stored(schema: LeaseSchema, renew: [u8; 32], cancel: [u8; 32]) -> Self {
        match schema {
            LeaseSchema::V1 => Self::Cleartext(CleartextSecrets { renew, cancel }),
            LeaseSchema::V2 => Self::Hashed(HashedSecrets {
                renew_hash: renew,
                cancel_hash: cancel,
            }),
        }
    }

    /// The schema whose records store secrets this way.
    #[must_use]
    pub fn schema(&self) -> LeaseSchema {
        match self {
            Self::Cleartext(_) => LeaseSchema::V1,
            Self::Hashed(_) => LeaseSchema::V2,
        }
    }

    /// Whether these are hashed (schema version 2) secrets.
    #[must_use]
    pub fn is_hashed(&self) -> bool {
        matches!(self, Self::Hashed(_))
    }
}

/// One lease, decoded.
#[derive(Clone)]
pub struct Lease {
    /// Tahoe's owner number; 0 marks an empty mutable slot and never appears here.
    pub owner_num: u32,
    /// Expiry, seconds since the epoch.
    pub expiration_time: u32,
    /// The stored secrets.
    pub secrets: StoredSecrets,
    /// The node that accepted the lease (mutable containers only).
    pub nodeid: Option<NodeId>,
}

impl core::fmt::Debug for Lease {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The secrets are deliberately left out.
        f.debug_struct("Lease")
            .field("owner_num", &self.owner_num)
            .field("expiration_time", &self.expiration_time)
            .field("hashed", &self.secrets.is_hashed())
            .field("nodeid", &self.nodeid)
            .finish_non_exhaustive()
    }
}

impl Lease {
    /// The grant (or last renewal) time Tahoe infers: expiry minus 31 days.
    #[must_use]
    pub fn grant_renew_time(&self) -> i64 {
        i64::from(self.expiration_time) - i64::from(DEFAULT_LEASE_DURATION)
    }

    /// Encodes an immutable lease record: owner, renew, cancel, expiry.
    #[must_use]
    pub fn encode_immutable(&self) -> [u8; IMMUTABLE_LEASE_SIZE] {
        let mut out = [0u8; IMMUTABLE_LEASE_SIZE];
        let mut w = Writer::new(&mut out);
        w.u32(self.owner_num)
            .put(self.secrets.renew_bytes())
            .put(self.secrets.cancel_bytes())
            .u32(self.expiration_time);
        debug_assert!(w.finish());
        out
    }

    /// Decodes an immutable lease record of `schema`.
    ///
    /// # Errors
    ///
    /// [`Corruption::TruncatedLease`] when `bytes` is shorter than 72 bytes.
    pub fn decode_immutable(bytes: &[u8], schema: LeaseSchema) -> Result<Self, Corruption> {
        let mut c = Cursor::new(bytes);
        let short = Corruption::TruncatedLease;
        let owner_num = c.u32(short)?;
        let renew = c.array(short)?;
        let cancel = c.array(short)?;
        let expiration_time = c.u32(short)?;
        Ok(Self {
            owner_num,
            expiration_time,
            secrets: StoredSecrets::from_stored(schema, renew, cancel),
            nodeid: None,
        })
    }

    /// Encodes a mutable lease record: owner, expiry, renew, cancel, nodeid.
    #[must_use]
    pub fn encode_mutable(&self) -> [u8; MUTABLE_LEASE_SIZE] {
        let mut out = [0u8; MUTABLE_LEASE_SIZE];
        let mut w = Writer::new(&mut out);
        w.u32(self.owner_num)
            .u32(self.expiration_time)
            .put(self.secrets.renew_bytes())
            .put(self.secrets.cancel_bytes())
            .put(&self.nodeid.unwrap_or_default().0);
        debug_assert!(w.finish());
        out
    }

    /// Decodes a mutable lease slot of `schema`; `None` for an empty slot (owner number 0, whatever
    /// the other bytes hold, as Tahoe reads it).
    ///
    /// # Errors
    ///
    /// [`Corruption::TruncatedLease`] when `bytes` is shorter than 92 bytes.
    pub fn decode_mutable(bytes: &[u8], schema: LeaseSchema) -> Result<Option<Self>, Corruption> {
        let mut c = Cursor::new(bytes);
        let short = Corruption::TruncatedLease;
        let owner_num = c.u32(short)?;
        let expiration_time = c.u32(short)?;
        let renew = c.array(short)?;
        let cancel = c.array(short)?;
        let nodeid = NodeId(c.array(short)?);
        if owner_num == 0 {
            return Ok(None);
        }
        Ok(Some(Self {
            owner_num,
            expiration_time,
            secrets: StoredSecrets::from_stored(schema, renew, cancel),
            nodeid: Some(nodeid),
        }))
    }
}

#[cfg(test)]
// Tests fail by panicking.
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn lease(schema: LeaseSchema) -> Lease {
        Lease {
            owner_num: 7,
            expiration_time: 0x0102_0304,
            secrets: StoredSecrets::for_version(
                schema,
                &RenewSecret::new([0xaa; 32]),
                &CancelSecret::new([0xbb; 32]),
            ),
            nodeid: Some(NodeId([0xcc; 20])),
        }
    }

    #[test]
    fn immutable_record_layout() {
        let bytes = lease(LeaseSchema::V1).encode_immutable();
        assert_eq!(&bytes[..4], &[0, 0, 0, 7]);
        assert_eq!(&bytes[4..36], &[0xaa; 32]);
        assert_eq!(&bytes[36..68], &[0xbb; 32]);
        assert_eq!(&bytes[68..], &[1, 2, 3, 4]);
        let back = Lease::decode_immutable(&bytes, LeaseSchema::V1).unwrap();
        assert_eq!(back.encode_immutable(), bytes);
        assert!(back.secrets.matches_renew(&RenewSecret::new([0xaa; 32])));
        assert!(!back.secrets.matches_renew(&RenewSecret::new([0xbb; 32])));
    }

    #[test]
    fn mutable_record_layout() {
        let bytes = lease(LeaseSchema::V2).encode_mutable();
        assert_eq!(&bytes[..8], &[0, 0, 0, 7, 1, 2, 3, 4]);
        assert_eq!(&bytes[72..], &[0xcc; 20]);
        let back = Lease::decode_mutable(&bytes, LeaseSchema::V2)
            .unwrap()
            .unwrap();
        assert!(back.secrets.matches_cancel(&CancelSecret::new([0xbb; 32])));
        assert!(!back.secrets.matches_cancel(&CancelSecret::new([0xaa; 32])));
    }

    #[test]
    fn blake2b_matches_pynacl() {
        // nacl.hash.blake2b(b"\xaa" * 32, digest_size=32, encoder=RawEncoder).hex()
        let expected = "046c0d987075db8217087bae19e9f753305890fc6772908c57f07878211cc8cb";
        let h = HashedSecrets::hash(&RenewSecret::new([0xaa; 32]), &CancelSecret::new([0; 32]));
        let mut hex = heapless::String::<64>::new();
        for b in h.renew_hash {
            core::fmt::write(&mut hex, format_args!("{b:02x}")).unwrap();
        }
        assert_eq!(hex.as_str(), expected);
    }

    #[test]
    fn empty_slot_and_truncation() {
        let mut bytes = lease(LeaseSchema::V1).encode_mutable();
        bytes[..4].copy_from_slice(&[0; 4]);
        assert!(Lease::decode_mutable(&bytes, LeaseSchema::V1)
            .unwrap()
            .is_none());
        assert_eq!(
            Lease::decode_mutable(&bytes[..91], LeaseSchema::V1).unwrap_err(),
            Corruption::TruncatedLease
        );
        assert_eq!(
            Lease::decode_immutable(&bytes[..71], LeaseSchema::V1).unwrap_err(),
            Corruption::TruncatedLease
        );
    }
}

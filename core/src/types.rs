//! Identifiers and secrets: storage indexes, share numbers and sets, node ids, and the
//! secret types (which have no `Debug` and no `PartialEq`, and compare in constant time).

use core::fmt;

use sha2::Digest;
use subtle::ConstantTimeEq;

/// A storage index: the 16-byte name under which a server keeps the shares of one file.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StorageIndex(pub [u8; 16]);

/// The length of a storage index in Tahoe's base32: 16 bytes make 26 characters.
pub const STORAGE_INDEX_B32_LEN: usize = 26;

impl StorageIndex {
    /// Parses a storage index from exactly 16 bytes.
    ///
    /// # Errors
    ///
    /// [`InvalidLength`] if `bytes` is not 16 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, InvalidLength> {
        bytes.try_into().map(Self).map_err(|_| InvalidLength {
            expected: 16,
            actual: bytes.len(),
        })
    }

    /// Tahoe's base32 form (RFC 4648 alphabet, lower case, no padding): 26 characters.
    #[must_use]
    pub fn to_base32(&self) -> [u8; STORAGE_INDEX_B32_LEN] {
        let mut out = [0u8; STORAGE_INDEX_B32_LEN];
        // BASE32_NOPAD encodes 16 bytes into exactly 26 characters.
        data_encoding::BASE32_NOPAD.encode_mut(&self.0, &mut out);
        out.make_ascii_lowercase();
        out
    }

    /// Parses Tahoe's lower-case base32 form (26 characters).
    ///
    /// # Errors
    ///
    /// [`InvalidLength`] when the text is not the base32 form of 16 bytes.
    pub fn from_base32(text: &[u8]) -> Result<Self, InvalidLength> {
        let bad = InvalidLength {
            expected: STORAGE_INDEX_B32_LEN,
            actual: text.len(),
        };
        if text.len() != STORAGE_INDEX_B32_LEN
            || !text
                .iter()
                .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(c))
        {
            return Err(bad);
        }
        let mut upper = [0u8; STORAGE_INDEX_B32_LEN];
        upper.copy_from_slice(text);
        upper.make_ascii_uppercase();
        let mut out = [0u8; 16];
        match data_encoding::BASE32_NOPAD.decode_mut(&upper, &mut out) {
            // Reject non-canonical trailing bits so that every index has one spelling.
            Ok(16) if Self(out).to_base32() == upper.map(|c| c.to_ascii_lowercase()) => {
                Ok(Self(out))
            }
            _ => Err(bad),
        }
    }

    /// The two-character directory prefix Tahoe uses (the first two base32 characters).
    #[must_use]
    pub fn prefix(&self) -> [u8; 2] {
        let b = self.to_base32();
        [b[0], b[1]]
    }
}

impl fmt::Debug for StorageIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorageIndex({self})")
    }
}

impl fmt::Display for StorageIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.to_base32() {
            write!(f, "{}", char::from(c))?;
        }
        Ok(())
    }
}

/// A byte string had the wrong length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidLength {
    /// The length required.
    pub expected: usize,
    /// The length given.
    pub actual: usize,
}

impl fmt::Display for InvalidLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {} bytes, got {}", self.expected, self.actual)
    }
}

impl core::error::Error for InvalidLength {}

/// A share number, 0 to 255 (Tahoe's erasure coding makes at most 256 shares).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ShareNumber(pub u8);

impl ShareNumber {
    /// Parses a share file name the way a share store must: decimal digits only, no sign,
    /// no leading zero (so `007` is not share 7), at most 255.
    #[must_use]
    pub fn from_file_name(name: &[u8]) -> Option<Self> {
        if name.is_empty() || name.len() > 3 || !name.iter().all(u8::is_ascii_digit) {
            return None;
        }
        if name.len() > 1 && name[0] == b'0' {
            return None;
        }
        let value = name
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
        u8::try_from(value).ok().map(Self)
    }

    /// Converts a wire share number (Tahoe allows any unsigned integer) into a share number.
    ///
    /// # Errors
    ///
    /// Gives the value back when it is above 255.
    pub fn from_u64(value: u64) -> Result<Self, u64> {
        u8::try_from(value).map(Self).map_err(|_| value)
    }

    /// The decimal file name of this share, without allocating.
    #[must_use]
    pub fn file_name(self) -> heapless::String<3> {
        let mut s = heapless::String::new();
        // Three digits always fit into a String<3>.
        let _ = fmt::write(&mut s, format_args!("{}", self.0));
        s
    }
}

impl fmt::Display for ShareNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A set of share numbers: 256 bits, no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ShareSet([u64; 4]);

impl ShareSet {
    /// The empty set.
    #[must_use]
    pub const fn new() -> Self {
        Self([0; 4])
    }

    /// Adds a share number; returns whether it was newly added.
    pub fn insert(&mut self, n: ShareNumber) -> bool {
        let (word, bit) = (usize::from(n.0 / 64), n.0 % 64);
        let was = self.0[word] & (1 << bit) != 0;
        self.0[word] |= 1 << bit;
        !was
    }

    /// Removes a share number; returns whether it was present.
    pub fn remove(&mut self, n: ShareNumber) -> bool {
        let (word, bit) = (usize::from(n.0 / 64), n.0 % 64);
        let was = self.0[word] & (1 << bit) != 0;
        self.0[word] &= !(1 << bit);
        was
    }

    /// Whether the set holds `n`.
    #[must_use]
    pub fn contains(&self, n: ShareNumber) -> bool {
        self.0[usize::from(n.0 / 64)] & (1 << (n.0 % 64)) != 0
    }

    /// The number of shares in the set.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0 == [0; 4]
    }

    /// The shares in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = ShareNumber> + '_ {
        (0..=255u8)
            .map(ShareNumber)
            .filter(move |n| self.contains(*n))
    }

    /// The shares in both sets.
    #[must_use]
    pub fn intersection(&self, other: &Self) -> Self {
        let mut out = *self;
        for (a, b) in out.0.iter_mut().zip(other.0) {
            *a &= b;
        }
        out
    }

    /// The shares in either set.
    #[must_use]
    pub fn union(&self, other: &Self) -> Self {
        let mut out = *self;
        for (a, b) in out.0.iter_mut().zip(other.0) {
            *a |= b;
        }
        out
    }
}

impl FromIterator<ShareNumber> for ShareSet {
    fn from_iter<T: IntoIterator<Item = ShareNumber>>(iter: T) -> Self {
        let mut s = Self::new();
        for n in iter {
            s.insert(n);
        }
        s
    }
}

impl fmt::Debug for ShareSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(|n| n.0)).finish()
    }
}

/// The 20-byte id of a storage node (recorded in mutable containers and their leases).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NodeId(pub [u8; 20]);

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

impl fmt::Display for NodeId {
    /// Tahoe's `idlib.nodeid_b2a`: lower-case base32, 32 characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; 32];
        data_encoding::BASE32_NOPAD.encode_mut(&self.0, &mut out);
        for c in out {
            write!(f, "{}", char::from(c.to_ascii_lowercase()))?;
        }
        Ok(())
    }
}

macro_rules! secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Has no `Debug` and no `PartialEq`: use [`Self::ct_eq`], which takes constant time.
        #[derive(Clone)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// Parses the secret from exactly 32 bytes.
            ///
            /// # Errors
            ///
            /// [`InvalidLength`] when `bytes` is not 32 bytes long.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, InvalidLength> {
                bytes.try_into().map(Self).map_err(|_| InvalidLength {
                    expected: 32,
                    actual: bytes.len(),
                })
            }

            /// Compares with another secret in constant time.
            #[must_use]
            pub fn ct_eq(&self, other: &Self) -> bool {
                self.0.ct_eq(&other.0).into()
            }

            /// The secret's bytes.
            #[must_use]
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }
    };
}

secret!(
    /// A lease renew secret, as the client sends it.
    RenewSecret
);
secret!(
    /// A lease cancel secret, as the client sends it.
    CancelSecret
);
secret!(
    /// A mutable slot's write enabler. Tahoe stores it in clear text in the container.
    WriteEnabler
);

/// The secret of an immutable upload (GBS `X-Tahoe-Authorization: upload-secret`): any
/// non-empty byte string chosen by the client. Only its SHA-256 digest is kept, and
/// digests are compared in constant time.
#[derive(Clone)]
pub struct UploadSecret([u8; 32]);

impl fmt::Debug for UploadSecret {
    /// Shows nothing of the digest.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UploadSecret(..)")
    }
}

impl UploadSecret {
    /// Digests a client's upload secret.
    ///
    /// # Errors
    ///
    /// [`InvalidLength`] when `secret` is empty.
    pub fn new(secret: &[u8]) -> Result<Self, InvalidLength> {
        if secret.is_empty() {
            return Err(InvalidLength {
                expected: 1,
                actual: 0,
            });
        }
        let mut h = sha2::Sha256::new();
        h.update(b"tahoe-shares upload secret v1:");
        h.update(secret);
        Ok(Self(h.finalize().into()))
    }

    /// Rebuilds a secret from a stored digest (see [`Self::digest`]).
    #[must_use]
    pub fn from_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// The digest, which is what resumable-upload records store.
    #[must_use]
    pub fn digest(&self) -> &[u8; 32] {
        &self.0
    }

    /// Compares with another secret in constant time.
    #[must_use]
    pub fn ct_eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_index_base32_matches_tahoe() {
        // Tahoe: base32.b2a(b"\x00" * 16) == b"aaaaaaaaaaaaaaaaaaaaaaaaaa".
        let si = StorageIndex([0; 16]);
        assert_eq!(&si.to_base32(), b"aaaaaaaaaaaaaaaaaaaaaaaaaa");
        // Tahoe: base32.b2a(bytes(range(16))) == b"aaaqeayeaudaocajbifqydiob4".
        let si = StorageIndex(core::array::from_fn(|i| i as u8));
        assert_eq!(&si.to_base32(), b"aaaqeayeaudaocajbifqydiob4");
        assert_eq!(&si.prefix(), b"aa");
        assert_eq!(StorageIndex::from_base32(&si.to_base32()), Ok(si));
    }

    #[test]
    fn storage_index_rejects_bad_text() {
        assert!(StorageIndex::from_base32(b"AAAQEAYEAUDAOCAJBIFQYDIOB4").is_err());
        assert!(StorageIndex::from_base32(b"aaaqeayeaudaocajbifqydiob").is_err());
        // Last character carries 2 unused bits: 'b5' would set them.
        assert!(StorageIndex::from_base32(b"aaaqeayeaudaocajbifqydiob5").is_err());
        assert!(StorageIndex::from_slice(&[0; 15]).is_err());
    }

    #[test]
    fn share_file_names() {
        assert_eq!(ShareNumber::from_file_name(b"0"), Some(ShareNumber(0)));
        assert_eq!(ShareNumber::from_file_name(b"255"), Some(ShareNumber(255)));
        for bad in [
            &b"007"[..],
            b"256",
            b"4.tmp",
            b"-1",
            b"",
            b"1000",
            b"+1",
            b" 1",
        ] {
            assert_eq!(ShareNumber::from_file_name(bad), None, "{bad:?}");
        }
        assert_eq!(ShareNumber(17).file_name().as_str(), "17");
    }

    #[test]
    fn share_set_operations() {
        let mut s = ShareSet::new();
        assert!(s.is_empty());
        assert!(s.insert(ShareNumber(3)));
        assert!(!s.insert(ShareNumber(3)));
        s.insert(ShareNumber(255));
        s.insert(ShareNumber(64));
        assert_eq!(s.len(), 3);
        let v: heapless::Vec<u8, 8> = s.iter().map(|n| n.0).collect();
        assert_eq!(&v[..], &[3, 64, 255]);
        assert!(s.remove(ShareNumber(64)));
        assert!(!s.contains(ShareNumber(64)));
    }

    #[test]
    fn secrets_compare() {
        let a = RenewSecret([1; 32]);
        assert!(a.ct_eq(&RenewSecret([1; 32])));
        assert!(!a.ct_eq(&RenewSecret([2; 32])));
        assert!(RenewSecret::from_slice(&[0; 31]).is_err());
        let u = UploadSecret::new(b"abc").unwrap();
        assert!(u.ct_eq(&UploadSecret::new(b"abc").unwrap()));
        assert!(!u.ct_eq(&UploadSecret::new(b"abd").unwrap()));
        assert!(UploadSecret::new(b"").is_err());
        assert!(UploadSecret::from_digest(*u.digest()).ct_eq(&u));
    }
}

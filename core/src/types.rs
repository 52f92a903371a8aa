//! Identifiers and secrets: storage indexes, share numbers and sets, node ids, and the
//! secret types (which have no `Debug` and no `PartialEq`, and compare in constant time).

use core::fmt;

use sha2::Digest;
use subtle::ConstantTimeEq;

/// The longest storage index accepted, in bytes.
///
/// Tahoe's protocols (Foolscap and HTTP) carry 16-byte storage indexes, and every real one
/// is 16 bytes. Tahoe's server code itself accepts any length (its own test suite stores
/// shares under indexes such as `b"si1"`), so the core accepts 1 to 32 bytes, named in
/// the same base32 as Tahoe names them.
pub const MAX_STORAGE_INDEX_LEN: usize = 32;

/// The length of a 16-byte storage index in Tahoe's base32: 26 characters.
pub const STORAGE_INDEX_B32_LEN: usize = 26;

/// The length in base32 of the longest storage index.
pub const MAX_STORAGE_INDEX_B32_LEN: usize = base32_len(MAX_STORAGE_INDEX_LEN);

/// A storage index: the name under which a server keeps the shares of one file; 16 bytes
/// in every protocol, 1 to [`MAX_STORAGE_INDEX_LEN`] bytes accepted.
#[derive(Clone, Copy)]
pub struct StorageIndex {
    len: u8,
    bytes: [u8; MAX_STORAGE_INDEX_LEN],
}

impl PartialEq for StorageIndex {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for StorageIndex {}

impl PartialOrd for StorageIndex {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for StorageIndex {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl core::hash::Hash for StorageIndex {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

/// The length of `n` bytes in Tahoe's base32: `ceil(8n / 5)` characters.
#[must_use]
pub const fn base32_len(n: usize) -> usize {
    n.saturating_mul(8).div_ceil(5)
}

/// Tahoe's base32 (`allmydata.util.base32.b2a`: the RFC 4648 alphabet in lower case, no
/// padding) of `bytes`, written at the start of `out`; `None`, with `out` unchanged, when
/// `out` is shorter than [`base32_len`] of `bytes`.
#[must_use]
pub fn base32_encode<'o>(bytes: &[u8], out: &'o mut [u8]) -> Option<&'o str> {
    let text = out.get_mut(..base32_len(bytes.len()))?;
    data_encoding::BASE32_NOPAD.encode_mut(bytes, text);
    text.make_ascii_lowercase();
    // The alphabet is ASCII.
    core::str::from_utf8(text).ok()
}

/// Tahoe's base32 of `bytes`, as [`base32_encode`] writes it (feature `alloc`).
#[cfg(feature = "alloc")]
#[must_use]
pub fn base32(bytes: &[u8]) -> alloc::string::String {
    let mut text = alloc::vec![0u8; base32_len(bytes.len())];
    let n = base32_encode(bytes, &mut text).map_or(0, str::len);
    text.truncate(n);
    // Only base32 characters were written.
    alloc::string::String::from_utf8(text).unwrap_or_default()
}

/// A storage index in Tahoe's base32 (lower case, no padding).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Base32Name {
    len: u8,
    text: [u8; MAX_STORAGE_INDEX_B32_LEN],
}

impl Base32Name {
    /// The characters, as bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.text.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// The characters.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only base32 characters are ever stored.
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl fmt::Debug for Base32Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl StorageIndex {
    /// A storage index of the usual 16 bytes.
    #[must_use]
    pub const fn new(bytes: [u8; 16]) -> Self {
        let mut all = [0u8; MAX_STORAGE_INDEX_LEN];
        let mut i = 0;
        while i < 16 {
            all[i] = bytes[i];
            i += 1;
        }
        Self {
            len: 16,
            bytes: all,
        }
    }

    /// Takes a storage index of 1 to [`MAX_STORAGE_INDEX_LEN`] bytes.
    ///
    /// # Errors
    ///
    /// [`InvalidLength`] for an empty or longer slice.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, InvalidLength> {
        let bad = InvalidLength {
            expected: 16,
            actual: bytes.len(),
        };
        if bytes.is_empty() {
            return Err(bad);
        }
        let mut all = [0u8; MAX_STORAGE_INDEX_LEN];
        all.get_mut(..bytes.len())
            .ok_or(bad)?
            .copy_from_slice(bytes);
        Ok(Self {
            len: bytes.len() as u8,
            bytes: all,
        })
    }

    /// The bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// Tahoe's base32 form (RFC 4648 alphabet, lower case, no padding): 26 characters
    /// for 16 bytes.
    #[must_use]
    pub fn to_base32(&self) -> Base32Name {
        let mut text = [0u8; MAX_STORAGE_INDEX_B32_LEN];
        // A storage index is at most MAX_STORAGE_INDEX_LEN bytes: its name always fits.
        let n = base32_encode(self.as_bytes(), &mut text).map_or(0, str::len);
        Base32Name { len: n as u8, text }
    }

    /// Parses Tahoe's lower-case base32 form.
    ///
    /// # Errors
    ///
    /// [`InvalidLength`] when the text is not the canonical base32 form of 1 to
    /// [`MAX_STORAGE_INDEX_LEN`] bytes.
    pub fn from_base32(text: &[u8]) -> Result<Self, InvalidLength> {
        let bad = InvalidLength {
            expected: STORAGE_INDEX_B32_LEN,
            actual: text.len(),
        };
        if text.is_empty()
            || text.len() > MAX_STORAGE_INDEX_B32_LEN
            || !text
                .iter()
                .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(c))
        {
            return Err(bad);
        }
        let mut upper = [0u8; MAX_STORAGE_INDEX_B32_LEN];
        let upper = upper.get_mut(..text.len()).ok_or(bad)?;
        upper.copy_from_slice(text);
        upper.make_ascii_uppercase();
        let n = data_encoding::BASE32_NOPAD
            .decode_len(upper.len())
            .map_err(|_| bad)?;
        let mut out = [0u8; MAX_STORAGE_INDEX_LEN];
        let dst = out.get_mut(..n).ok_or(bad)?;
        match data_encoding::BASE32_NOPAD.decode_mut(upper, dst) {
            Ok(len) if len > 0 => {
                let si = Self::from_slice(dst.get(..len).ok_or(bad)?)?;
                // Reject non-canonical spellings so that every index has one name.
                if si.to_base32().as_bytes() == text {
                    Ok(si)
                } else {
                    Err(bad)
                }
            }
            _ => Err(bad),
        }
    }

    /// The two-character directory prefix Tahoe uses (the first two base32 characters).
    #[must_use]
    pub fn prefix(&self) -> [u8; 2] {
        let b = self.to_base32();
        match b.as_bytes() {
            [a, c, ..] => [*a, *c],
            // Every index of at least one byte has two base32 characters or more.
            _ => [b'a', b'a'],
        }
    }
}

impl fmt::Debug for StorageIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorageIndex({self})")
    }
}

impl fmt::Display for StorageIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_base32().as_str())
    }
}

/// What kind of container a file's first bytes announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
// Not `#[non_exhaustive]`: Tahoe has exactly these two kinds of share, and callers
// dispatch on them exhaustively (a new kind would need every such dispatch revisited).
pub enum ShareKind {
    /// An immutable container (version 1 or 2).
    Immutable,
    /// A mutable container (a magic Tahoe writes).
    Mutable,
}

impl ShareKind {
    /// `"immutable"` or `"mutable"`, as Tahoe names share types.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Immutable => "immutable",
            Self::Mutable => "mutable",
        }
    }
}

/// The first bytes of a file that is not the mutable container an operation wanted:
/// up to 32 bytes (where a mutable magic sits), as Tahoe reports them in
/// `UnknownMutableContainerVersionError`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Magic {
    bytes: [u8; 32],
    len: u8,
}

impl Magic {
    /// Takes the first 32 bytes of `start` (all of it when shorter).
    #[must_use]
    pub fn from_start(start: &[u8]) -> Self {
        let mut bytes = [0u8; 32];
        let mut len = 0u8;
        for (dst, src) in bytes.iter_mut().zip(start) {
            *dst = *src;
            len += 1;
        }
        Self { bytes, len }
    }

    /// The bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

impl fmt::Debug for Magic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Magic({self})")
    }
}

impl fmt::Display for Magic {
    /// As Python shows bytes: printable ASCII as is, other bytes as `\xNN`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.as_bytes() {
            if b == b'\\' || b == b'\'' {
                write!(f, "\\{}", char::from(b))?;
            } else if (0x20..0x7f).contains(&b) {
                write!(f, "{}", char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// The nodes that accepted a share's leases (mutable leases record the accepting node;
/// immutable ones none), distinct, in the order first seen: what Tahoe's "I have leases
/// accepted by nodeids" message lists, so a client can follow a share that migrated. At
/// most [`AcceptedBy::CAPACITY`] are kept; [`AcceptedBy::more`] tells when others were
/// seen.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct AcceptedBy {
    ids: [NodeId; AcceptedBy::CAPACITY],
    len: u8,
    more: bool,
}

impl AcceptedBy {
    /// Node ids kept.
    pub const CAPACITY: usize = 4;

    /// Adds a node id unless present.
    pub fn add(&mut self, id: NodeId) {
        if self.iter().any(|known| known == id) {
            return;
        }
        match self.ids.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = id;
                self.len += 1;
            }
            None => self.more = true,
        }
    }

    /// The node ids, in the order first seen.
    pub fn iter(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.ids.iter().take(usize::from(self.len)).copied()
    }

    /// How many are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether none was seen.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether more distinct node ids were seen than are kept.
    #[must_use]
    pub fn more(&self) -> bool {
        self.more
    }
}

impl fmt::Display for AcceptedBy {
    /// Tahoe's list: `'<nodeid>'` items joined by `,` (and `,...` when more were seen).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, id) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "'{id}'")?;
        }
        if self.more {
            f.write_str(",...")?;
        }
        Ok(())
    }
}

/// The schema of a container's lease records, which decides how their secrets are
/// stored: Tahoe's `lease_schema` version 1 or 2.
///
/// Immutable and mutable containers of version 1 use schema 1; those of version 2 (what
/// Tahoe 1.20 writes) use schema 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LeaseSchema {
    /// Version 1: the secrets in clear text, padded with zeros or cut to 32 bytes.
    V1,
    /// Version 2: the BLAKE2b-256 hashes of the secrets.
    V2,
}

impl LeaseSchema {
    /// Whether records of this schema store hashed secrets.
    #[must_use]
    pub fn is_hashed(self) -> bool {
        self == Self::V2
    }
}

/// Which lease operation found no matching lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Not `#[non_exhaustive]`: the two operations that look a lease up by a secret, a set
// Tahoe's lease model closes (adding a lease never fails to find one).
pub enum LeaseOp {
    /// Renewing (by renew secret).
    Renew,
    /// Cancelling (by cancel secret).
    Cancel,
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

impl From<ShareNumber> for u64 {
    fn from(n: ShareNumber) -> Self {
        u64::from(n.0)
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
        let mut out = [0u8; base32_len(20)];
        f.write_str(base32_encode(&self.0, &mut out).unwrap_or_default())
    }
}

/// BLAKE2b with a 32-byte digest, as Tahoe computes it through `nacl.hash.blake2b`.
pub(crate) fn blake2b_256(data: &[u8]) -> [u8; 32] {
    use blake2::digest::consts::U32;
    let mut h = blake2::Blake2b::<U32>::new();
    blake2::Digest::update(&mut h, data);
    blake2::Digest::finalize(h).into()
}

macro_rules! lease_secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Tahoe accepts a secret of any length and stores it in one of two forms, by the
        /// container's schema: version 1 records keep it in clear text, padded with zero
        /// bytes or cut to 32 bytes (`struct.pack(">32s")`); version 2 records keep the
        /// BLAKE2b-256 hash of the bytes given. This type holds both forms, built once,
        /// so a container uses the one its schema needs without allocating.
        ///
        /// Matching follows Tahoe: a version 1 record matches only a secret of exactly
        /// 32 bytes equal to it (Tahoe compares the 32 stored bytes with the bytes given,
        /// so a secret of another length adds a lease it can never renew or cancel); a
        /// version 2 record matches the same bytes of any length.
        ///
        /// Has no `Debug` and no `PartialEq`: use [`Self::ct_eq`], which takes constant time.
        #[derive(Clone)]
        pub struct $name {
            cleartext: [u8; 32],
            exact: bool,
            hashed: [u8; 32],
        }

        impl $name {
            /// A secret of the usual 32 bytes.
            #[must_use]
            pub fn new(bytes: [u8; 32]) -> Self {
                Self {
                    cleartext: bytes,
                    exact: true,
                    hashed: blake2b_256(&bytes),
                }
            }

            /// A secret of any length, as Tahoe accepts it (see the type's docs).
            #[must_use]
            pub fn from_bytes(bytes: &[u8]) -> Self {
                let mut cleartext = [0u8; 32];
                for (dst, src) in cleartext.iter_mut().zip(bytes) {
                    *dst = *src;
                }
                Self {
                    cleartext,
                    exact: bytes.len() == 32,
                    hashed: blake2b_256(bytes),
                }
            }

            /// Parses the secret from exactly 32 bytes (the protocols' length; see
            /// [`Self::from_bytes`] for Tahoe's any-length secrets).
            ///
            /// # Errors
            ///
            /// [`InvalidLength`] when `bytes` is not 32 bytes long.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, InvalidLength> {
                <[u8; 32]>::try_from(bytes).map(Self::new).map_err(|_| InvalidLength {
                    expected: 32,
                    actual: bytes.len(),
                })
            }

            /// Compares with another secret in constant time: equal when the bytes given
            /// were equal (whatever their length).
            #[must_use]
            pub fn ct_eq(&self, other: &Self) -> bool {
                self.hashed.ct_eq(&other.hashed).into()
            }

            /// What a schema version 1 record stores: the bytes given, padded with zeros
            /// or cut to 32.
            #[must_use]
            pub fn cleartext_form(&self) -> &[u8; 32] {
                &self.cleartext
            }

            /// What a schema version 2 record stores: BLAKE2b-256 of the bytes given.
            #[must_use]
            pub fn hashed_form(&self) -> &[u8; 32] {
                &self.hashed
            }

            /// Whether the secret given was 32 bytes long: only such a secret can match a
            /// schema version 1 record.
            #[must_use]
            pub fn is_32_bytes(&self) -> bool {
                self.exact
            }

            /// The form a record of `schema` stores, or `None` when no record of that
            /// schema can match this secret (a version 1 record and a secret that was not
            /// 32 bytes).
            #[must_use]
            pub fn matchable_form(&self, schema: LeaseSchema) -> Option<&[u8; 32]> {
                match schema {
                    LeaseSchema::V2 => Some(&self.hashed),
                    LeaseSchema::V1 if self.exact => Some(&self.cleartext),
                    LeaseSchema::V1 => None,
                }
            }

            /// The form a record of `schema` stores.
            #[must_use]
            pub fn stored_form(&self, schema: LeaseSchema) -> &[u8; 32] {
                match schema {
                    LeaseSchema::V1 => &self.cleartext,
                    LeaseSchema::V2 => &self.hashed,
                }
            }
        }
    };
}

lease_secret!(
    /// A lease renew secret, as the client sends it.
    RenewSecret
);
lease_secret!(
    /// A lease cancel secret, as the client sends it.
    CancelSecret
);

/// A mutable slot's write enabler. Tahoe stores it in clear text in the container.
///
/// Tahoe takes a write enabler of any length: creating a slot stores it padded with zeros
/// or cut to 32 bytes (`struct.pack(">32s")`), and checking one compares the 32 stored
/// bytes with the bytes presented, so a write enabler that was not 32 bytes long never
/// matches (the write fails with [`crate::Error::BadWriteEnabler`] naming the node that
/// recorded the slot's). [`Self::from_bytes`] builds such a write enabler;
/// [`Self::ct_eq`] applies the rule.
///
/// Has no `Debug` and no `PartialEq`: use [`Self::ct_eq`], which takes constant time.
#[derive(Clone)]
pub struct WriteEnabler {
    bytes: [u8; 32],
    exact: bool,
}

impl WriteEnabler {
    /// A write enabler of the usual 32 bytes.
    #[must_use]
    pub const fn new(bytes: [u8; 32]) -> Self {
        Self { bytes, exact: true }
    }

    /// A write enabler of any length, as Tahoe accepts it (see the type's docs).
    #[must_use]
    pub fn from_bytes(given: &[u8]) -> Self {
        let mut bytes = [0u8; 32];
        for (dst, src) in bytes.iter_mut().zip(given) {
            *dst = *src;
        }
        Self {
            bytes,
            exact: given.len() == 32,
        }
    }

    /// Parses the secret from exactly 32 bytes.
    ///
    /// # Errors
    ///
    /// [`InvalidLength`] when `bytes` is not 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, InvalidLength> {
        <[u8; 32]>::try_from(bytes)
            .map(Self::new)
            .map_err(|_| InvalidLength {
                expected: 32,
                actual: bytes.len(),
            })
    }

    /// Compares with another write enabler in constant time. A write enabler that was not
    /// given as 32 bytes matches none, as in Tahoe.
    #[must_use]
    pub fn ct_eq(&self, other: &Self) -> bool {
        let same: bool = self.bytes.ct_eq(&other.bytes).into();
        same & self.exact & other.exact
    }

    /// The 32 bytes a slot created with this write enabler stores: the bytes given,
    /// padded with zeros or cut to 32.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Whether the write enabler was given as 32 bytes (only such a one can match).
    #[must_use]
    pub fn is_32_bytes(&self) -> bool {
        self.exact
    }
}

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
        let si = StorageIndex::new([0; 16]);
        assert_eq!(si.to_base32().as_bytes(), b"aaaaaaaaaaaaaaaaaaaaaaaaaa");
        // Tahoe: base32.b2a(bytes(range(16))) == b"aaaqeayeaudaocajbifqydiob4".
        let si = StorageIndex::new(core::array::from_fn(|i| i as u8));
        assert_eq!(si.to_base32().as_bytes(), b"aaaqeayeaudaocajbifqydiob4");
        assert_eq!(&si.prefix(), b"aa");
        assert_eq!(StorageIndex::from_base32(si.to_base32().as_bytes()), Ok(si));
    }

    #[test]
    fn storage_index_rejects_bad_text() {
        assert!(StorageIndex::from_base32(b"AAAQEAYEAUDAOCAJBIFQYDIOB4").is_err());
        assert!(StorageIndex::from_base32(b"aaaqeayeaudaocajbifqydiob").is_err());
        // Last character carries 2 unused bits: 'b5' would set them.
        assert!(StorageIndex::from_base32(b"aaaqeayeaudaocajbifqydiob5").is_err());
        assert!(StorageIndex::from_slice(&[]).is_err());
        assert!(StorageIndex::from_slice(&[0; 33]).is_err());
        assert!(StorageIndex::from_base32(b"").is_err());
    }

    #[test]
    fn base32_as_tahoe_writes_it() {
        // Tahoe: base32.b2a(b"") == b"", b2a(b"a") == b"me", b2a(b"\xff" * 5) == b"7" * 8.
        let mut out = [b'x'; 10];
        assert_eq!(base32_encode(b"", &mut out), Some(""));
        assert_eq!(base32_encode(b"a", &mut out), Some("me"));
        assert_eq!(base32_encode(&[0xff; 5], &mut out), Some("77777777"));
        // b2a(bytes(range(16))) == b"aaaqeayeaudaocajbifqydiob4": 26 do not fit in 25.
        let mut short = [b'x'; 25];
        assert_eq!(
            base32_encode(&core::array::from_fn::<u8, 16, _>(|i| i as u8), &mut short),
            None
        );
        assert_eq!(short, [b'x'; 25]);
        assert_eq!(
            (base32_len(0), base32_len(1), base32_len(16), base32_len(20)),
            (0, 2, 26, 32)
        );
        let mut id = heapless::String::<32>::new();
        core::fmt::Write::write_fmt(&mut id, format_args!("{}", NodeId([0xff; 20]))).unwrap();
        assert_eq!(id.as_str(), "77777777777777777777777777777777");
        #[cfg(feature = "alloc")]
        assert_eq!(base32(&[0xff; 5]), "77777777");
    }

    #[test]
    fn short_storage_indexes_as_tahoe_names_them() {
        // Tahoe: base32.b2a(b"si1") == b"onutc", storage_index_to_dir -> "on/onutc".
        let si = StorageIndex::from_slice(b"si1").unwrap();
        assert_eq!(si.to_base32().as_str(), "onutc");
        assert_eq!(&si.prefix(), b"on");
        assert_eq!(StorageIndex::from_base32(b"onutc"), Ok(si));
        // base32.b2a(b"a") == b"me"
        let one = StorageIndex::from_slice(b"a").unwrap();
        assert_eq!(one.to_base32().as_str(), "me");
        assert_eq!(&one.prefix(), b"me");
        assert_ne!(one, si);
        let long = StorageIndex::from_slice(&[0xff; 32]).unwrap();
        assert_eq!(
            StorageIndex::from_base32(long.to_base32().as_bytes()),
            Ok(long)
        );
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
        let a = RenewSecret::new([1; 32]);
        assert!(a.ct_eq(&RenewSecret::new([1; 32])));
        assert!(!a.ct_eq(&RenewSecret::new([2; 32])));
        assert!(RenewSecret::from_slice(&[0; 31]).is_err());
        let u = UploadSecret::new(b"abc").unwrap();
        assert!(u.ct_eq(&UploadSecret::new(b"abc").unwrap()));
        assert!(!u.ct_eq(&UploadSecret::new(b"abd").unwrap()));
        assert!(UploadSecret::new(b"").is_err());
        assert!(UploadSecret::from_digest(*u.digest()).ct_eq(&u));
    }
}

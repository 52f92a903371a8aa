//! The immutable container header (12 bytes) and the layout derived from it.
//!
//! ```text
//! 0x00  u32 version             1: clear-text lease secrets, 2: hashed lease secrets
//! 0x04  u32 legacy data length  min(max_size, 2^32-1); Tahoe no longer reads it
//! 0x08  u32 lease count
//! 0x0c  share data ...
//!       lease records, 72 bytes each, to the end of the file
//! ```
//!
//! Tahoe derives the data length from the file size: `file_size - 12 - 72 * count`.

use super::lease::{LeaseSchema, IMMUTABLE_LEASE_SIZE};
use super::{Cursor, Writer};
use crate::error::Corruption;

/// Size of the immutable header; share data starts here.
pub const HEADER_SIZE: u64 = 12;
/// Offset of the lease count field.
pub const LEASE_COUNT_OFFSET: u64 = 8;
/// The value of the legacy length field for shares of 2^32-1 bytes or more.
pub const SATURATED_LENGTH: u32 = u32::MAX;

/// Immutable container schema versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ImmutableVersion {
    /// Lease secrets in clear text (Tahoe before 1.17).
    V1,
    /// Lease secrets hashed with BLAKE2b-256 (what Tahoe 1.20 writes).
    V2,
}

impl ImmutableVersion {
    /// The number stored in the header.
    #[must_use]
    pub fn number(self) -> u32 {
        match self {
            Self::V1 => 1,
            Self::V2 => 2,
        }
    }

    /// Whether lease secrets are stored hashed.
    #[must_use]
    pub fn hashed_secrets(self) -> bool {
        self.lease_schema().is_hashed()
    }

    /// The schema of the lease records.
    #[must_use]
    pub fn lease_schema(self) -> LeaseSchema {
        match self {
            Self::V1 => LeaseSchema::V1,
            Self::V2 => LeaseSchema::V2,
        }
    }
}

/// The decoded 12-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImmutableHeader {
    /// The schema version.
    pub version: ImmutableVersion,
    /// The legacy length field (saturated at 2^32-1).
    pub legacy_length: u32,
    /// The number of lease records.
    pub num_leases: u32,
}

/// Why a header could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// The bytes are malformed.
    Corrupt(Corruption),
    /// The version number is neither 1 nor 2.
    UnknownVersion(u32),
}

impl From<Corruption> for HeaderError {
    fn from(c: Corruption) -> Self {
        Self::Corrupt(c)
    }
}

impl core::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Corrupt(c) => write!(f, "corrupt immutable header: {c}"),
            Self::UnknownVersion(v) => write!(f, "unknown immutable container version {v}"),
        }
    }
}

/// [`HeaderError::Corrupt`] gives what is wrong as its `source()`.
impl core::error::Error for HeaderError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Corrupt(c) => Some(c),
            Self::UnknownVersion(_) => None,
        }
    }
}

impl ImmutableHeader {
    /// A header for a new container that will hold `max_size` bytes of data.
    #[must_use]
    pub fn new(version: ImmutableVersion, max_size: u64) -> Self {
        Self {
            version,
            legacy_length: u32::try_from(max_size).unwrap_or(SATURATED_LENGTH),
            num_leases: 0,
        }
    }

    /// Decodes the first 12 bytes of a container.
    ///
    /// # Errors
    ///
    /// [`HeaderError::Corrupt`] for fewer than 12 bytes, [`HeaderError::UnknownVersion`]
    /// for a version other than 1 or 2.
    pub fn decode(bytes: &[u8]) -> Result<Self, HeaderError> {
        let mut c = Cursor::new(bytes);
        let short = Corruption::TruncatedHeader;
        let version = match c.u32(short)? {
            1 => ImmutableVersion::V1,
            2 => ImmutableVersion::V2,
            other => return Err(HeaderError::UnknownVersion(other)),
        };
        Ok(Self {
            version,
            legacy_length: c.u32(short)?,
            num_leases: c.u32(short)?,
        })
    }

    /// Encodes the header.
    #[must_use]
    pub fn encode(&self) -> [u8; 12] {
        let mut out = [0u8; 12];
        let mut w = Writer::new(&mut out);
        w.u32(self.version.number())
            .u32(self.legacy_length)
            .u32(self.num_leases);
        debug_assert!(w.finish());
        out
    }

    /// Derives where the data ends and the leases start, given the file size.
    ///
    /// Tahoe reads `file_size - 12 - 72 * count` as the data length. One state cannot
    /// come from a completed Tahoe or tahoe-shares operation: a file holding *more* than
    /// `12 + legacy_length + 72 * count` bytes while the legacy field is not saturated.
    /// That is what a crash between writing a lease record and its count leaves behind
    /// (Tahoe's own `add_lease` window, and the count-before-truncate window of
    /// `cancel_lease`); the layout then follows the legacy length and reports the excess
    /// as [`ImmutableLayout::excess`], which a writer truncates. Such an excess is whole
    /// lease records: any other excess means the legacy field itself is wrong (Tahoe
    /// ignores it, and its suites corrupt it to check that readers do too), and the
    /// derived length is Tahoe's.
    ///
    /// # Errors
    ///
    /// [`Corruption::TruncatedHeader`] for files shorter than 12 bytes,
    /// [`Corruption::LeaseCountExceedsFile`] when the records cannot fit.
    pub fn layout(&self, file_size: u64) -> Result<ImmutableLayout, Corruption> {
        let body = file_size
            .checked_sub(HEADER_SIZE)
            .ok_or(Corruption::TruncatedHeader)?;
        let leases = u64::from(self.num_leases) * IMMUTABLE_LEASE_SIZE as u64;
        let derived = body
            .checked_sub(leases)
            .ok_or(Corruption::LeaseCountExceedsFile)?;
        let legacy = u64::from(self.legacy_length);
        let whole_records = |excess: u64| excess % IMMUTABLE_LEASE_SIZE as u64 == 0;
        let (data_length, excess) = if self.legacy_length != SATURATED_LENGTH
            && derived > legacy
            && whole_records(derived - legacy)
        {
            (legacy, derived - legacy)
        } else {
            (derived, 0)
        };
        Ok(ImmutableLayout {
            data_length,
            lease_offset: HEADER_SIZE + data_length,
            num_leases: self.num_leases,
            excess,
        })
    }
}

/// Where things are in an immutable container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImmutableLayout {
    /// Bytes of share data.
    pub data_length: u64,
    /// Offset of the first lease record.
    pub lease_offset: u64,
    /// Number of lease records.
    pub num_leases: u32,
    /// Bytes past the last lease record left by an interrupted lease update.
    pub excess: u64,
}

impl ImmutableLayout {
    /// Offset of lease record `i`.
    #[must_use]
    pub fn lease_record_offset(&self, i: u32) -> u64 {
        self.lease_offset + u64::from(i) * IMMUTABLE_LEASE_SIZE as u64
    }

    /// The size of the container without any excess.
    #[must_use]
    pub fn container_size(&self) -> u64 {
        self.lease_record_offset(self.num_leases)
    }
}

#[cfg(test)]
// Tests fail by panicking.
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_saturation() {
        let h = ImmutableHeader::new(ImmutableVersion::V2, 5);
        assert_eq!(h.encode(), [0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 0]);
        assert_eq!(ImmutableHeader::decode(&h.encode()), Ok(h));
        let big = ImmutableHeader::new(ImmutableVersion::V1, 1 << 40);
        assert_eq!(big.legacy_length, u32::MAX);
    }

    #[test]
    fn bad_headers() {
        assert_eq!(
            ImmutableHeader::decode(&[]),
            Err(HeaderError::Corrupt(Corruption::TruncatedHeader))
        );
        assert_eq!(
            ImmutableHeader::decode(&[0, 0, 0, 2, 0, 0]),
            Err(HeaderError::Corrupt(Corruption::TruncatedHeader))
        );
        for v in [0u32, 3, u32::MAX] {
            let mut b = [0u8; 12];
            b[..4].copy_from_slice(&v.to_be_bytes());
            assert_eq!(
                ImmutableHeader::decode(&b),
                Err(HeaderError::UnknownVersion(v))
            );
        }
    }

    #[test]
    fn layout_from_file_size() {
        let mut h = ImmutableHeader::new(ImmutableVersion::V2, 100);
        h.num_leases = 2;
        let l = h.layout(12 + 100 + 144).unwrap();
        assert_eq!((l.data_length, l.lease_offset, l.excess), (100, 112, 0));
        // A record appended but the count not yet updated: the excess is reported.
        h.num_leases = 1;
        let l = h.layout(12 + 100 + 144).unwrap();
        assert_eq!((l.data_length, l.excess), (100, 72));
        // Lease count larger than the file: an error, computed without overflow.
        h.num_leases = u32::MAX;
        assert_eq!(h.layout(1000), Err(Corruption::LeaseCountExceedsFile));
        assert_eq!(h.layout(3), Err(Corruption::TruncatedHeader));
        // Shorter than the legacy length: Tahoe's derived length wins.
        h.num_leases = 0;
        assert_eq!(h.layout(12 + 40).unwrap().data_length, 40);
        // A legacy field smaller by what no lease record explains (a flipped bit, as
        // Tahoe's Verifier.test_ok_filedata_size does): Tahoe's derived length wins.
        for smaller in [1, 8, 16, 32, 64, 71, 73] {
            let mut h = ImmutableHeader::new(ImmutableVersion::V1, 1976 - smaller);
            h.num_leases = 1;
            let l = h.layout(12 + 1976 + 72).unwrap();
            assert_eq!((l.data_length, l.excess), (1976, 0), "{smaller}");
        }
    }
}

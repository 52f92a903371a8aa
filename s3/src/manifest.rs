//! The manifest object of one share (docs/format.md, "Object-store layout"): the share's
//! length, its chunk size and the version of each chunk object, checksummed.
//!
//! ```text
//! offset  size  field (big-endian)
//! 0       8     magic "TSS3MAN\x01"
//! 8       2     format version, 1
//! 10      4     chunk size C (bytes)
//! 14      8     share length L (bytes)
//! 22      8     commit nonce (random; tells this commit from any other)
//! 30      4     chunk count N = ceil(L / C)
//! 34      8*N   version of chunk i (0: no object, the chunk reads as zeros)
//! G0=34+8N 4    superseded count S (at most MAX_SUPERSEDED)
//! G0+4    24*S  superseded chunk: index, version, time superseded (Unix seconds)
//! G0+4+24S 32   SHA-256 of every byte before it
//! ```

use sha2::{Digest, Sha256};

use crate::error::{S3Error, S3ErrorKind};

const MAGIC: &[u8; 8] = b"TSS3MAN\x01";
const VERSION: u16 = 1;
const HEADER: usize = 34;
/// The largest manifest this store reads: 8 Mi chunks (2 TiB at 256 KiB), so a length
/// field never makes it allocate more than that.
pub(crate) const MAX_CHUNKS: u64 = 8 << 20;
/// The most superseded chunks a manifest lists (past it the oldest are deleted at once).
pub(crate) const MAX_SUPERSEDED: usize = 4096;

/// A chunk object the share no longer uses, kept for readers of older manifests until
/// its grace period is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Superseded {
    pub index: u64,
    pub version: u64,
    pub at: u64,
}

/// A decoded manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub chunk_size: u32,
    pub len: u64,
    pub nonce: u64,
    /// One entry per chunk, `ceil(len / chunk_size)` of them.
    pub versions: Vec<u64>,
    /// Chunk objects superseded by recent commits, deleted once their grace is over.
    pub superseded: Vec<Superseded>,
}

impl Manifest {
    pub(crate) fn empty(chunk_size: u32) -> Self {
        Self {
            chunk_size,
            len: 0,
            nonce: 0,
            versions: Vec::new(),
            superseded: Vec::new(),
        }
    }

    /// Every chunk object the manifest names: `(index, version)`, current or superseded.
    pub(crate) fn named(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.versions
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != 0)
            .map(|(i, v)| (i as u64, *v))
            .chain(self.superseded.iter().map(|g| (g.index, g.version)))
    }

    /// Whether the manifest names chunk object `(index, version)`.
    pub(crate) fn names(&self, index: u64, version: u64) -> bool {
        self.named().any(|n| n == (index, version))
    }

    pub(crate) fn chunks_for(len: u64, chunk_size: u32) -> u64 {
        len.div_ceil(u64::from(chunk_size))
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + 8 * self.versions.len() + 32);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_be_bytes());
        out.extend_from_slice(&self.chunk_size.to_be_bytes());
        out.extend_from_slice(&self.len.to_be_bytes());
        out.extend_from_slice(&self.nonce.to_be_bytes());
        // At most MAX_CHUNKS entries (checked where the length grows).
        out.extend_from_slice(&(self.versions.len() as u32).to_be_bytes());
        for v in &self.versions {
            out.extend_from_slice(&v.to_be_bytes());
        }
        // At most MAX_SUPERSEDED entries (the share trims the list).
        out.extend_from_slice(&(self.superseded.len() as u32).to_be_bytes());
        for g in &self.superseded {
            out.extend_from_slice(&g.index.to_be_bytes());
            out.extend_from_slice(&g.version.to_be_bytes());
            out.extend_from_slice(&g.at.to_be_bytes());
        }
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        out
    }

    pub(crate) fn decode(bytes: &[u8], key: &str) -> Result<Self, S3Error> {
        let bad = |why: &str| S3Error::new(S3ErrorKind::Corrupt, "manifest", Some(key)).detail(why);
        let field = |at: usize, n: usize| bytes.get(at..at + n).ok_or_else(|| bad("short"));
        if field(0, 8)? != MAGIC {
            return Err(bad("bad magic"));
        }
        let be16 = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
        let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let be64 = |b: &[u8]| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_be_bytes(a)
        };
        if be16(field(8, 2)?) != VERSION {
            return Err(bad("unknown manifest version"));
        }
        let chunk_size = be32(field(10, 4)?);
        let len = be64(field(14, 8)?);
        let nonce = be64(field(22, 8)?);
        let n = u64::from(be32(field(30, 4)?));
        if chunk_size == 0 || n > MAX_CHUNKS || n != Self::chunks_for(len, chunk_size) {
            return Err(bad("chunk count does not match the length"));
        }
        let n = n as usize;
        let g0 = HEADER + 8 * n;
        let s = be32(field(g0, 4)?) as usize;
        if s > MAX_SUPERSEDED {
            return Err(bad("too many superseded chunks"));
        }
        if bytes.len() != g0 + 4 + 24 * s + 32 {
            return Err(bad("size"));
        }
        let (body, sum) = bytes.split_at(g0 + 4 + 24 * s);
        if Sha256::digest(body).as_slice() != sum {
            return Err(bad("checksum"));
        }
        let versions = body[HEADER..g0].chunks_exact(8).map(be64).collect();
        let superseded = body[g0 + 4..]
            .chunks_exact(24)
            .map(|e| Superseded {
                index: be64(&e[..8]),
                version: be64(&e[8..16]),
                at: be64(&e[16..]),
            })
            .collect();
        Ok(Self {
            chunk_size,
            len,
            nonce,
            versions,
            superseded,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_corruption_is_refused() {
        let m = Manifest {
            chunk_size: 4,
            len: 9,
            nonce: 7,
            versions: vec![1, 0, 3],
            superseded: vec![Superseded {
                index: 5,
                version: 6,
                at: 7,
            }],
        };
        let bytes = m.encode();
        assert_eq!(Manifest::decode(&bytes, "k").unwrap(), m);
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 1;
            assert_eq!(
                Manifest::decode(&b, "k").unwrap_err().kind(),
                S3ErrorKind::Corrupt,
                "byte {i}"
            );
        }
        assert!(Manifest::decode(&bytes[..bytes.len() - 1], "k").is_err());
    }
}

//! Share containers over any [`ShareIo`]: the immutable `ShareFile` and the mutable
//! `MutableShareFile` of Tahoe-LAFS 1.20, with every operation they have, ordered so that
//! a crash at any point leaves the old or the new container after recovery.

mod error;
mod immutable;
mod journal;
mod mutable;
mod vectors;

pub use error::{ContainerError, ContainerResult};
pub use immutable::{CancelOutcome, ImmutableContainer};
pub use mutable::{MutableContainer, TestOperator, TestVector};
pub use vectors::SlotWrite;
#[cfg(feature = "alloc")]
pub use vectors::{ShareVectors, SlotWriteError, SlotWrites};

use crate::format::lease::{Lease, LeaseSchema, StoredSecrets};
use crate::io::ShareIo;
use crate::types::{CancelSecret, NodeId, RenewSecret};

/// Whether renewing a lease may move its expiry earlier (Tahoe's `allow_backdate`).
///
/// A yes-or-no choice that will not grow, so it is not `#[non_exhaustive]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backdate {
    /// The expiry only moves forward: an earlier one leaves the lease as it is (Tahoe's
    /// default, and what every renewal by a client does).
    #[default]
    Forbid,
    /// The expiry becomes the one given, even when it is earlier.
    Allow,
}

/// A lease as a client presents it, before its secrets are stored.
#[derive(Clone)]
pub struct NewLease {
    /// Tahoe's owner number (0 is reserved for empty mutable slots).
    pub owner_num: u32,
    /// The renew secret.
    pub renew: RenewSecret,
    /// The cancel secret.
    pub cancel: CancelSecret,
    /// Expiry in seconds since the epoch.
    pub expiration_time: u32,
    /// The accepting node (recorded in mutable containers only).
    pub nodeid: NodeId,
}

impl NewLease {
    /// The record to store in a container whose lease records are of `schema`.
    #[must_use]
    pub fn to_lease(&self, schema: LeaseSchema) -> Lease {
        Lease {
            owner_num: self.owner_num,
            expiration_time: self.expiration_time,
            secrets: StoredSecrets::for_version(schema, &self.renew, &self.cancel),
            nodeid: Some(self.nodeid),
        }
    }
}

/// Bytes of the stack buffer used to stream data through the device without allocating.
pub(crate) const CHUNK: usize = 1024;

/// Syncs, poisoning the container if the device fails (a retried sync may lie).
pub(crate) fn sync<IO: ShareIo>(
    io: &mut IO,
    poisoned: &mut bool,
) -> ContainerResult<(), IO::Error> {
    if *poisoned {
        return Err(ContainerError::Poisoned);
    }
    io.sync().map_err(|e| {
        *poisoned = true;
        ContainerError::Io(e)
    })
}

/// Reads `min(buf.len(), end - offset)` bytes at `base + offset` of data ending at `end`;
/// returns how many (0 when `offset >= end`), as Tahoe truncates reads.
pub(crate) fn read_truncated<IO: ShareIo>(
    io: &mut IO,
    base: u64,
    end: u64,
    offset: u64,
    buf: &mut [u8],
) -> ContainerResult<usize, IO::Error> {
    let available = end.saturating_sub(offset);
    let n = (buf.len() as u64).min(available) as usize;
    if n == 0 {
        return Ok(0);
    }
    let dst = buf
        .get_mut(..n)
        .ok_or(ContainerError::Bug("read_truncated bounds"))?;
    io.read_at(base + offset, dst).map_err(ContainerError::Io)?;
    Ok(n)
}

//! The immutable container (Tahoe's `ShareFile`).

use super::{read_truncated, sync, Backdate, NewLease, CHUNK};
use super::{ContainerError, ContainerResult};
use crate::error::Corruption;
use crate::format::immutable::{
    HeaderError, ImmutableHeader, ImmutableLayout, ImmutableVersion, HEADER_SIZE,
    LEASE_COUNT_OFFSET, SATURATED_LENGTH,
};
use crate::format::lease::{Lease, IMMUTABLE_LEASE_SIZE};
use crate::io::ShareIo;
use crate::types::{AcceptedBy, CancelSecret, LeaseOp, RenewSecret, ShareKind};

/// No lease of an immutable container matched (immutable leases record no node).
fn no_such_lease<E>(op: LeaseOp) -> ContainerError<E> {
    ContainerError::NoSuchLease {
        op,
        kind: ShareKind::Immutable,
        accepted_by: AcceptedBy::default(),
    }
}

/// Lease records read at once when scanning (4 KiB of stack).
const LEASE_BATCH: usize = 56;

/// An immutable share container over a device.
#[derive(Debug)]
pub struct ImmutableContainer<IO> {
    io: IO,
    header: ImmutableHeader,
    layout: ImmutableLayout,
    max_size: Option<u64>,
    poisoned: bool,
}

/// What [`ImmutableContainer::cancel_lease`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelOutcome {
    /// Bytes of lease records removed.
    pub freed: u64,
    /// No lease is left: the caller must delete the share (Tahoe does so at once).
    pub last_lease_removed: bool,
}

impl<IO: ShareIo> ImmutableContainer<IO> {
    /// Creates a container for up to `max_size` bytes on an empty device, writing the
    /// header (Tahoe's `ShareFile(create=True)`).
    ///
    /// # Errors
    ///
    /// [`ContainerError::AlreadyExists`] if the device is not empty; device errors.
    pub fn create(
        mut io: IO,
        version: ImmutableVersion,
        max_size: u64,
    ) -> ContainerResult<Self, IO::Error> {
        if io.len().map_err(ContainerError::Io)? != 0 {
            return Err(ContainerError::AlreadyExists);
        }
        let header = ImmutableHeader::new(version, max_size);
        io.write_at(0, &header.encode())
            .map_err(ContainerError::Io)?;
        let layout = ImmutableLayout {
            data_length: max_size,
            lease_offset: HEADER_SIZE + max_size,
            num_leases: 0,
            excess: 0,
        };
        Ok(Self {
            io,
            header,
            layout,
            max_size: Some(max_size),
            poisoned: false,
        })
    }

    /// Opens an existing container. Reads interpret a container left by an interrupted
    /// lease update as it was before that update; the next write repairs it.
    ///
    /// # Errors
    ///
    /// [`ContainerError::Corrupt`] for malformed bytes, [`ContainerError::UnknownImmutableVersion`] for a
    /// version other than 1 or 2, device errors.
    pub fn open(mut io: IO) -> ContainerResult<Self, IO::Error> {
        let len = io.len().map_err(ContainerError::Io)?;
        let mut buf = [0u8; HEADER_SIZE as usize];
        let n = (len.min(HEADER_SIZE)) as usize;
        io.read_at(0, buf.get_mut(..n).unwrap_or_default())
            .map_err(ContainerError::Io)?;
        let header = match ImmutableHeader::decode(buf.get(..n).unwrap_or_default()) {
            Ok(h) => h,
            Err(HeaderError::Corrupt(c)) => return Err(ContainerError::Corrupt(c)),
            Err(HeaderError::UnknownVersion(version)) => {
                return Err(ContainerError::UnknownImmutableVersion { version })
            }
        };
        let layout = header.layout(len)?;
        Ok(Self {
            io,
            header,
            layout,
            max_size: None,
            poisoned: false,
        })
    }

    /// Limits writes to `max_size` bytes of data (as a `BucketWriter` does).
    #[must_use]
    pub fn with_max_size(mut self, max_size: u64) -> Self {
        self.max_size = Some(max_size);
        self
    }

    /// The schema version.
    #[must_use]
    pub fn version(&self) -> ImmutableVersion {
        self.header.version
    }

    /// Bytes of share data (Tahoe's `get_length`: what the file holds before its leases).
    #[must_use]
    pub fn data_length(&self) -> u64 {
        self.layout.data_length
    }

    /// Bytes of share data the header declares: [`Self::data_length`], or more when the
    /// file was cut short (see [`Self::damage`]). Only the legacy length field tells, so a
    /// share of 4 GiB or more (field saturated) always declares what it holds.
    #[must_use]
    pub fn declared_data_length(&self) -> u64 {
        let legacy = u64::from(self.header.legacy_length);
        if self.header.legacy_length != SATURATED_LENGTH && legacy > self.layout.data_length {
            legacy
        } else {
            self.layout.data_length
        }
    }

    /// What is wrong with a container that opened: [`Corruption::TruncatedData`] when its
    /// file ends before the data its header declares. Such a share still opens and reads
    /// as Tahoe reads it: its length is what the file holds, reads return what is there
    /// (short), and its leases can be read and changed. Tahoe's own suites need the short
    /// reads: its verifier finds such a share corrupt by its hashes
    /// (`test_repairer.Verifier.test_corrupt_crypttext_hashtree_byte_x221` cuts a share
    /// and expects exactly that). Tools that check shares report this.
    #[must_use]
    pub fn damage(&self) -> Option<Corruption> {
        let declared = self.declared_data_length();
        (declared > self.layout.data_length).then_some(Corruption::TruncatedData {
            declared,
            present: self.layout.data_length,
        })
    }

    /// Number of leases.
    #[must_use]
    pub fn num_leases(&self) -> u32 {
        self.layout.num_leases
    }

    /// The layout in use.
    #[must_use]
    pub fn layout(&self) -> ImmutableLayout {
        self.layout
    }

    /// Gives the device back.
    pub fn into_inner(self) -> IO {
        self.io
    }

    /// The device.
    pub fn io_mut(&mut self) -> &mut IO {
        &mut self.io
    }

    /// Reads share data at `offset` into `buf`; returns how many bytes were read. Reads
    /// past the end are truncated, and a read starting past the end reads nothing.
    ///
    /// A share cut short (see [`Self::damage`]) reads what it holds, as in Tahoe.
    ///
    /// # Errors
    ///
    /// Device errors.
    pub fn read_share_data(
        &mut self,
        offset: u64,
        buf: &mut [u8],
    ) -> ContainerResult<usize, IO::Error> {
        read_truncated(
            &mut self.io,
            HEADER_SIZE,
            self.layout.data_length,
            offset,
            buf,
        )
    }

    /// Writes share data at `offset`.
    ///
    /// # Errors
    ///
    /// [`ContainerError::DataTooLarge`] past the maximum size; device errors.
    pub fn write_share_data(&mut self, offset: u64, data: &[u8]) -> ContainerResult<(), IO::Error> {
        let length = data.len() as u64;
        let too_large = ContainerError::DataTooLarge {
            max: self.max_size.unwrap_or(self.layout.data_length),
            offset,
            length,
        };
        let end = offset
            .checked_add(length)
            .ok_or(ContainerError::InvalidArgument("offset + length overflows"))?;
        if let Some(max) = self.max_size {
            if end > max {
                return Err(too_large);
            }
        }
        if self.poisoned {
            return Err(ContainerError::Poisoned);
        }
        self.io
            .write_at(HEADER_SIZE + offset, data)
            .map_err(ContainerError::Io)
    }

    /// Makes everything written durable.
    ///
    /// # Errors
    ///
    /// Device errors; after one the container is poisoned.
    pub fn sync(&mut self) -> ContainerResult<(), IO::Error> {
        sync(&mut self.io, &mut self.poisoned)
    }

    /// Reads lease record `i`.
    ///
    /// # Errors
    ///
    /// [`ContainerError::InvalidArgument`] for `i` past the count; device errors.
    pub fn lease(&mut self, i: u32) -> ContainerResult<Lease, IO::Error> {
        if i >= self.layout.num_leases {
            return Err(ContainerError::InvalidArgument("lease index"));
        }
        let mut rec = [0u8; IMMUTABLE_LEASE_SIZE];
        self.io
            .read_at(self.layout.lease_record_offset(i), &mut rec)
            .map_err(ContainerError::Io)?;
        Ok(Lease::decode_immutable(
            &rec,
            self.header.version.lease_schema(),
        )?)
    }

    /// Visits every lease in order with O(1) memory; stop early by returning `false`.
    ///
    /// # Errors
    ///
    /// Device errors.
    pub fn for_each_lease(
        &mut self,
        mut f: impl FnMut(u32, &Lease) -> bool,
    ) -> ContainerResult<(), IO::Error> {
        for i in 0..self.layout.num_leases {
            let lease = self.lease(i)?;
            if !f(i, &lease) {
                break;
            }
        }
        Ok(())
    }

    /// Removes what an interrupted lease update left past the last record (every update
    /// does this first; call it to recover explicitly, e.g. at startup).
    ///
    /// # Errors
    ///
    /// Device errors.
    pub fn recover(&mut self) -> ContainerResult<(), IO::Error> {
        if self.layout.excess > 0 {
            if self.poisoned {
                return Err(ContainerError::Poisoned);
            }
            self.io
                .set_len(self.layout.container_size())
                .map_err(ContainerError::Io)?;
            sync(&mut self.io, &mut self.poisoned)?;
            self.layout.excess = 0;
        }
        Ok(())
    }

    /// Appends a lease record.
    ///
    /// Order: write the record past the last one, sync, then write the count, sync. A
    /// crash in between leaves a record the count does not cover; because the legacy length
    /// field is not saturated (shares under 4 GiB) the layout recognises it as excess and
    /// the next update truncates it. Tahoe writes the same two steps without the means to
    /// tell, so its crash exposes the record as 72 bytes of share data.
    ///
    /// # Errors
    ///
    /// [`ContainerError::TooManyLeases`] when the count would overflow; device errors.
    pub fn add_lease(&mut self, lease: &NewLease) -> ContainerResult<(), IO::Error> {
        self.recover()?;
        let n = self.layout.num_leases;
        let new_count = n.checked_add(1).ok_or(ContainerError::TooManyLeases)?;
        let record = lease
            .to_lease(self.header.version.lease_schema())
            .encode_immutable();
        if let Err(e) = self
            .io
            .write_at(self.layout.lease_record_offset(n), &record)
        {
            // A full disk can cut the record short: cut it off again now, as only whole
            // records are recognised as excess when the share is next opened.
            let _ = self.io.set_len(self.layout.container_size());
            return Err(ContainerError::Io(e));
        }
        sync(&mut self.io, &mut self.poisoned)?;
        self.io
            .write_at(LEASE_COUNT_OFFSET, &new_count.to_be_bytes())
            .map_err(ContainerError::Io)?;
        sync(&mut self.io, &mut self.poisoned)?;
        self.layout.num_leases = new_count;
        self.header.num_leases = new_count;
        Ok(())
    }

    /// Renews the first lease whose renew secret matches; the expiry only moves forward
    /// unless [`Backdate::Allow`]. One record write.
    ///
    /// # Errors
    ///
    /// [`ContainerError::NoSuchLease`] when no lease matches; device errors.
    pub fn renew_lease(
        &mut self,
        secret: &RenewSecret,
        new_expiration: u32,
        backdate: Backdate,
    ) -> ContainerResult<(), IO::Error> {
        self.recover()?;
        // The candidate is hashed once, and the records are read in batches: one device
        // read and one hash per record made add_lease on a share with thousands of
        // leases cost thousands of syscalls and hashes.
        let schema = self.header.version.lease_schema();
        let wanted = secret.matchable_form(schema);
        let mut batch = [0u8; LEASE_BATCH * IMMUTABLE_LEASE_SIZE];
        let count = self.layout.num_leases;
        let mut first = 0u32;
        while first < count {
            let k = (count - first).min(LEASE_BATCH as u32);
            let bytes = &mut batch[..k as usize * IMMUTABLE_LEASE_SIZE];
            self.io
                .read_at(self.layout.lease_record_offset(first), bytes)
                .map_err(ContainerError::Io)?;
            // Stops at the match, or at a record that does not decode: `self.lease`
            // below then reports it, as the record-at-a-time scan did.
            let found = bytes.chunks_exact(IMMUTABLE_LEASE_SIZE).position(|rec| {
                Lease::decode_immutable(rec, schema)
                    .map_or(true, |l| l.secrets.matches_renew_form(wanted))
            });
            let Some(j) = found else {
                first += k;
                continue;
            };
            let i = first + j as u32;
            let mut lease = self.lease(i)?;
            if backdate == Backdate::Allow || new_expiration > lease.expiration_time {
                lease.expiration_time = new_expiration;
                if self.poisoned {
                    return Err(ContainerError::Poisoned);
                }
                self.io
                    .write_at(
                        self.layout.lease_record_offset(i),
                        &lease.encode_immutable(),
                    )
                    .map_err(ContainerError::Io)?;
                sync(&mut self.io, &mut self.poisoned)?;
            }
            return Ok(());
        }
        Err(no_such_lease(LeaseOp::Renew))
    }

    /// Renews a matching lease or adds one; adding needs 72 bytes of `available_space`.
    ///
    /// # Errors
    ///
    /// [`ContainerError::NoSpace`] when a lease would be added without space; as
    /// [`Self::add_lease`].
    pub fn add_or_renew_lease(
        &mut self,
        available_space: u64,
        lease: &NewLease,
    ) -> ContainerResult<(), IO::Error> {
        match self.renew_lease(&lease.renew, lease.expiration_time, Backdate::Forbid) {
            Err(ContainerError::NoSuchLease { .. }) => {
                if IMMUTABLE_LEASE_SIZE as u64 > available_space {
                    return Err(ContainerError::NoSpace);
                }
                self.add_lease(lease)
            }
            other => other,
        }
    }

    /// Removes every lease whose cancel secret matches, compacting the others in order.
    ///
    /// Order: move each kept record down into the first free slot, in ascending order,
    /// syncing between moves, so that no kept lease is ever overwritten before its copy is
    /// durable (without the syncs a power loss could keep a later move and lose the one
    /// before it); sync; write the new count; sync; truncate; sync. A crash while moving
    /// may leave a kept lease twice or a cancelled one still present (never a kept one
    /// lost); a crash between the count and the truncation leaves excess that the next
    /// update removes. Cancelling only the last records moves nothing, and is atomic.
    ///
    /// # Errors
    ///
    /// [`ContainerError::NoSuchLease`] when none matches; device errors.
    pub fn cancel_lease(
        &mut self,
        secret: &CancelSecret,
    ) -> ContainerResult<CancelOutcome, IO::Error> {
        self.recover()?;
        let n = self.layout.num_leases;
        let mut kept = 0u32;
        let mut unsynced = false;
        for i in 0..n {
            let lease = self.lease(i)?;
            if lease.secrets.matches_cancel(secret) {
                continue;
            }
            if kept != i {
                if unsynced {
                    sync(&mut self.io, &mut self.poisoned)?;
                }
                if self.poisoned {
                    return Err(ContainerError::Poisoned);
                }
                unsynced = true;
                self.io
                    .write_at(
                        self.layout.lease_record_offset(kept),
                        &lease.encode_immutable(),
                    )
                    .map_err(ContainerError::Io)?;
            }
            kept += 1;
        }
        if kept == n {
            return Err(no_such_lease(LeaseOp::Cancel));
        }
        sync(&mut self.io, &mut self.poisoned)?;
        self.io
            .write_at(LEASE_COUNT_OFFSET, &kept.to_be_bytes())
            .map_err(ContainerError::Io)?;
        // The count must be durable before the truncation: the reverse order (after a
        // power loss) would read as data shortened by the removed records.
        sync(&mut self.io, &mut self.poisoned)?;
        self.layout.num_leases = kept;
        self.header.num_leases = kept;
        self.io
            .set_len(self.layout.container_size())
            .map_err(ContainerError::Io)?;
        sync(&mut self.io, &mut self.poisoned)?;
        Ok(CancelOutcome {
            freed: u64::from(n - kept) * IMMUTABLE_LEASE_SIZE as u64,
            last_lease_removed: kept == 0,
        })
    }

    /// Compares `data` with the share data at `offset` without allocating; returns the
    /// first differing range `(start, end)` among the bytes that exist.
    ///
    /// # Errors
    ///
    /// Device errors.
    pub fn compare(&mut self, offset: u64, data: &[u8]) -> ContainerResult<bool, IO::Error> {
        let mut buf = [0u8; CHUNK];
        let mut done = 0usize;
        while done < data.len() {
            let want = (data.len() - done).min(CHUNK);
            let dst = buf.get_mut(..want).ok_or(ContainerError::Bug("chunk"))?;
            let n = self.read_share_data(offset + done as u64, dst)?;
            if n < want || buf.get(..want) != data.get(done..done + want) {
                return Ok(false);
            }
            done += want;
        }
        Ok(true)
    }
}

//! The mutable container (Tahoe's `MutableShareFile`).

use super::journal::{self, JournalWriter};
use super::{read_truncated, sync, Backdate, NewLease, CHUNK};
use super::{ContainerError, ContainerResult};
use crate::format::lease::{Lease, StoredSecrets, MUTABLE_LEASE_SIZE};
use crate::format::mutable::{
    lease_slot_offset, MutableHeader, MutableHeaderError, MutableVersion, DATA_LENGTH_OFFSET,
    DATA_OFFSET, HEADER_LEASE_SLOTS, HEADER_SIZE, MAX_MUTABLE_SHARE_SIZE,
};
use crate::io::ShareIo;
use crate::types::{
    AcceptedBy, CancelSecret, LeaseOp, Magic, NodeId, RenewSecret, ShareKind, WriteEnabler,
};

/// A test vector's comparison. Tahoe 1.20 accepts only `eq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TestOperator {
    /// The bytes read equal the specimen.
    Eq,
}

impl TestOperator {
    /// Parses an operator as sent on the wire (`b"eq"`).
    ///
    /// # Errors
    ///
    /// [`ContainerError::UnsupportedOperator`] for anything else (Tahoe fails an assertion).
    pub fn parse<E>(op: &[u8]) -> ContainerResult<Self, E> {
        match op {
            b"eq" => Ok(Self::Eq),
            _ => Err(ContainerError::UnsupportedOperator),
        }
    }
}

/// One test: read `length` bytes at `offset` (truncated at the end of the data) and
/// compare with `specimen`.
#[derive(Debug, Clone, Copy)]
pub struct TestVector<'a> {
    /// Where to read.
    pub offset: u64,
    /// How much to read.
    pub length: u64,
    /// How to compare.
    pub operator: TestOperator,
    /// What to compare with.
    pub specimen: &'a [u8],
}

/// A mutable share container over a device.
#[derive(Debug)]
pub struct MutableContainer<IO> {
    io: IO,
    header: MutableHeader,
    num_extra: u32,
    poisoned: bool,
}

impl<IO: ShareIo> MutableContainer<IO> {
    /// Creates an empty container on an empty device: header, four empty lease slots and
    /// an extra-lease count of 0, in one write.
    ///
    /// # Errors
    ///
    /// [`ContainerError::AlreadyExists`] if the device is not empty; device errors.
    pub fn create(
        mut io: IO,
        version: MutableVersion,
        nodeid: NodeId,
        write_enabler: WriteEnabler,
    ) -> ContainerResult<Self, IO::Error> {
        if io.len().map_err(ContainerError::Io)? != 0 {
            return Err(ContainerError::AlreadyExists);
        }
        let header = MutableHeader::new(version, nodeid, write_enabler);
        let mut image = [0u8; DATA_OFFSET as usize + 4];
        image
            .get_mut(..HEADER_SIZE as usize)
            .ok_or(ContainerError::Bug("header size"))?
            .copy_from_slice(&header.encode());
        io.write_at(0, &image).map_err(ContainerError::Io)?;
        Ok(Self {
            io,
            header,
            num_extra: 0,
            poisoned: false,
        })
    }

    /// Opens an existing container, first completing or rolling back an update that a
    /// crash interrupted (this writes to the device when there is something to recover).
    ///
    /// # Errors
    ///
    /// [`ContainerError::UnknownMutableMagic`], [`ContainerError::Corrupt`], device errors.
    pub fn open(mut io: IO) -> ContainerResult<Self, IO::Error> {
        // A journal is looked for before the extra-lease block is parsed: while one is
        // being replayed, the old block may already be overwritten by new data.
        // Its lower bound is the end of the count field, which the header locates both
        // before and after a replay rewrites it; clients control no byte past that.
        //
        // A header that does not decode can only be one torn by a failed (short) write
        // while a journal was being replayed: the fields that locate the regions are
        // rewritten only by replays, and the journal is removed only once its replay is
        // durable. That journal still ends the file, so it is looked for with the end of
        // the header as the bound.
        let len = io.len().map_err(ContainerError::Io)?;
        let (min_start, torn) = match read_header(&mut io, len) {
            Ok(header) => (header.extra_lease_offset.saturating_add(4), None),
            Err(ContainerError::Corrupt(c)) => (HEADER_SIZE, Some(c)),
            Err(e) => return Err(e),
        };
        match (journal::find(&mut io, len, min_start)?, torn) {
            (Some(footer), _) => {
                journal::replay(&mut io, &footer)?;
                io.set_len(footer.target_len).map_err(ContainerError::Io)?;
                io.sync().map_err(ContainerError::Io)?;
            }
            (None, Some(c)) => return Err(ContainerError::Corrupt(c)),
            (None, None) => {}
        }
        let mut c = Self::open_unrecovered(io)?;
        c.recover()?;
        Ok(c)
    }

    /// Opens without recovering; for read-only inspection. [`Self::needs_recovery`] tells
    /// whether an interrupted update is pending.
    ///
    /// # Errors
    ///
    /// As [`Self::open`].
    pub fn open_unrecovered(mut io: IO) -> ContainerResult<Self, IO::Error> {
        let len = io.len().map_err(ContainerError::Io)?;
        let header = read_header(&mut io, len)?;
        let num_extra = read_count(&mut io, &header, len)?;
        header.check_extra_leases(num_extra, len)?;
        Ok(Self {
            io,
            header,
            num_extra,
            poisoned: false,
        })
    }

    /// Whether bytes past the container (an interrupted update) wait for recovery.
    ///
    /// # Errors
    ///
    /// Device errors.
    pub fn needs_recovery(&mut self) -> ContainerResult<bool, IO::Error> {
        Ok(self.io.len().map_err(ContainerError::Io)? > self.container_end())
    }

    /// Removes bytes past the container that an interrupted update left behind (a partial
    /// journal, or an extra lease record whose count was never written).
    fn recover(&mut self) -> ContainerResult<(), IO::Error> {
        let len = self.io.len().map_err(ContainerError::Io)?;
        let end = self.container_end();
        if len > end {
            self.io.set_len(end).map_err(ContainerError::Io)?;
            sync(&mut self.io, &mut self.poisoned)?;
        }
        Ok(())
    }

    /// The version.
    #[must_use]
    pub fn version(&self) -> MutableVersion {
        self.header.version
    }

    /// The node that created the container.
    #[must_use]
    pub fn nodeid(&self) -> NodeId {
        self.header.nodeid
    }

    /// The decoded header.
    #[must_use]
    pub fn header(&self) -> &MutableHeader {
        &self.header
    }

    /// Bytes of share data.
    #[must_use]
    pub fn data_length(&self) -> u64 {
        self.header.data_length
    }

    /// Number of extra lease slots (past the four in the header).
    #[must_use]
    pub fn num_extra_leases(&self) -> u32 {
        self.num_extra
    }

    /// End of the container proper.
    #[must_use]
    pub fn container_end(&self) -> u64 {
        self.header.container_end(self.num_extra)
    }

    /// Gives the device back.
    pub fn into_inner(self) -> IO {
        self.io
    }

    /// Checks a write enabler in constant time.
    ///
    /// # Errors
    ///
    /// [`ContainerError::BadWriteEnabler`] naming the node that recorded the real one.
    pub fn check_write_enabler(&self, we: &WriteEnabler) -> ContainerResult<(), IO::Error> {
        if self.header.write_enabler.ct_eq(we) {
            Ok(())
        } else {
            Err(ContainerError::BadWriteEnabler {
                nodeid: self.header.nodeid,
            })
        }
    }

    /// Reads share data at `offset` into `buf`, truncated at the end of the data.
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
            DATA_OFFSET,
            self.header.data_length,
            offset,
            buf,
        )
    }

    /// Evaluates test vectors in order, stopping at the first that fails. Compares in
    /// chunks: nothing is allocated, whatever the lengths.
    ///
    /// # Errors
    ///
    /// Device errors.
    pub fn check_testv(&mut self, tests: &[TestVector<'_>]) -> ContainerResult<bool, IO::Error> {
        for t in tests {
            if !self.test_one(t)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn test_one(&mut self, t: &TestVector<'_>) -> ContainerResult<bool, IO::Error> {
        let TestOperator::Eq = t.operator;
        let available = self.header.data_length.saturating_sub(t.offset);
        let read_len = t.length.min(available);
        if read_len != t.specimen.len() as u64 {
            return Ok(false);
        }
        let mut buf = [0u8; CHUNK];
        let mut done = 0usize;
        while done < t.specimen.len() {
            let n = (t.specimen.len() - done).min(CHUNK);
            let chunk = buf.get_mut(..n).ok_or(ContainerError::Bug("test chunk"))?;
            self.io
                .read_at(DATA_OFFSET + t.offset + done as u64, chunk)
                .map_err(ContainerError::Io)?;
            if Some(&*chunk) != t.specimen.get(done..done + n) {
                return Ok(false);
            }
            done += n;
        }
        Ok(true)
    }

    /// Applies write vectors in order, then `new_length` if it shrinks the data, as one
    /// atomic update (journaled; see the module docs of `container::journal`).
    ///
    /// The bytes that result are exactly Tahoe's: gaps past the end are zero-filled,
    /// growing past the extra-lease block moves it to the new end of the data, a
    /// `new_length` that does not shrink is ignored, and the container never shrinks.
    /// Unlike Tahoe, every vector is checked before anything is written.
    ///
    /// # Errors
    ///
    /// [`ContainerError::DataTooLarge`] past [`MAX_MUTABLE_SHARE_SIZE`] (nothing written);
    /// device errors.
    pub fn writev(
        &mut self,
        datav: &[(u64, &[u8])],
        new_length: Option<u64>,
    ) -> ContainerResult<(), IO::Error> {
        if self.poisoned {
            return Err(ContainerError::Poisoned);
        }
        // Pass 1: validate and find the final layout.
        let mut data_length = self.header.data_length;
        let mut elo = self.header.extra_lease_offset;
        for (offset, data) in datav {
            let length = data.len() as u64;
            let end = offset
                .checked_add(length)
                .ok_or(ContainerError::DataTooLarge {
                    max: MAX_MUTABLE_SHARE_SIZE,
                    offset: *offset,
                    length,
                })?;
            if end > MAX_MUTABLE_SHARE_SIZE {
                return Err(ContainerError::DataTooLarge {
                    max: MAX_MUTABLE_SHARE_SIZE,
                    offset: *offset,
                    length,
                });
            }
            if end >= data_length {
                elo = elo.max(DATA_OFFSET + end);
                data_length = end;
            }
        }
        if let Some(n) = new_length {
            data_length = data_length.min(n);
        }
        let old_elo = self.header.extra_lease_offset;
        let block_len = 4 + u64::from(self.num_extra) * MUTABLE_LEASE_SIZE as u64;
        let new_end = elo + block_len;
        let file_len = self.io.len().map_err(ContainerError::Io)?;
        let target_len = new_end.max(self.container_end());

        // Pass 2: journal the update. Its entries are applied in order, and that order
        // keeps every intermediate state one that Tahoe's `MutableShareFile` reads as the
        // old share (docs/format.md §6.6): the extra-lease block is copied to a place no
        // write touches and E is pointed at it before any data can overwrite the old
        // block; data past the old L is invisible until L, written last, exposes it. When
        // the new block overlaps the old one, the copy goes first to a scratch place past
        // both ends (the final truncation removes it), and to its final place after the
        // data.
        let moves = elo != old_elo;
        let past_both = file_len.max(new_end);
        let plan = WritevPlan {
            datav,
            file_len,
            old_data_length: self.header.data_length,
            data_length,
            old_elo,
            elo,
            block_len,
            moves,
            overlaps: moves && elo < old_elo + block_len,
            past_both,
        };
        let io = &mut self.io;
        // An update that writes nothing at or past the end of the file goes through the
        // device's log when it has one (one sync of the log; nothing it writes can fail
        // for want of space once committed). Anything else, and every update of a
        // device without a log, is journaled in the share.
        let mut count = JournalWriter::counting();
        if !moves && target_len <= file_len {
            plan.journal(io, &mut count)?;
        }
        if count.entries() > 0 && io.log_begin(count.body_len()).map_err(ContainerError::Io)? {
            let mut j = JournalWriter::to_log();
            plan.journal(io, &mut j)?;
            commit_and_apply(io, &mut self.poisoned, &j, target_len)?;
        } else {
            let mut j = JournalWriter::new(past_both + if plan.overlaps { block_len } else { 0 });
            plan.journal(io, &mut j)?;
            j.finish(io, target_len)?;
            sync(io, &mut self.poisoned)?;
            // Pass 3: replay it, make that durable, drop the journal.
            let len = io.len().map_err(ContainerError::Io)?;
            let footer = journal::find(io, len, self.header.container_end(self.num_extra))?
                .ok_or(ContainerError::Bug("journal just written does not verify"))?;
            journal::replay(io, &footer)?;
            sync(io, &mut self.poisoned)?;
            io.set_len(target_len).map_err(ContainerError::Io)?;
        }
        self.header.data_length = data_length;
        self.header.extra_lease_offset = elo;
        Ok(())
    }

    /// Reads lease slot `i`; `None` for an empty slot.
    ///
    /// # Errors
    ///
    /// [`ContainerError::InvalidArgument`] past the last slot; device errors.
    pub fn lease_slot(&mut self, i: u32) -> ContainerResult<Option<Lease>, IO::Error> {
        if i >= self.num_slots() {
            return Err(ContainerError::InvalidArgument("lease slot"));
        }
        let mut rec = [0u8; MUTABLE_LEASE_SIZE];
        self.io
            .read_at(
                lease_slot_offset(self.header.extra_lease_offset, i),
                &mut rec,
            )
            .map_err(ContainerError::Io)?;
        Ok(Lease::decode_mutable(
            &rec,
            self.header.version.lease_schema(),
        )?)
    }

    /// Number of lease slots, empty or not.
    #[must_use]
    pub fn num_slots(&self) -> u32 {
        HEADER_LEASE_SLOTS.saturating_add(self.num_extra)
    }

    /// Visits every lease (skipping empty slots) with O(1) memory; stop early by
    /// returning `false`.
    ///
    /// # Errors
    ///
    /// Device errors.
    pub fn for_each_lease(
        &mut self,
        mut f: impl FnMut(u32, &Lease) -> bool,
    ) -> ContainerResult<(), IO::Error> {
        for i in 0..self.num_slots() {
            if let Some(lease) = self.lease_slot(i)? {
                if !f(i, &lease) {
                    break;
                }
            }
        }
        Ok(())
    }

    fn write_slot(
        &mut self,
        i: u32,
        record: &[u8; MUTABLE_LEASE_SIZE],
    ) -> ContainerResult<(), IO::Error> {
        if self.poisoned {
            return Err(ContainerError::Poisoned);
        }
        let at = lease_slot_offset(self.header.extra_lease_offset, i);
        let len = self.io.len().map_err(ContainerError::Io)?;
        if at + MUTABLE_LEASE_SIZE as u64 <= len {
            let mut count = JournalWriter::counting();
            count.bytes(&mut self.io, at, record)?;
            if self
                .io
                .log_begin(count.body_len())
                .map_err(ContainerError::Io)?
            {
                let mut j = JournalWriter::to_log();
                j.bytes(&mut self.io, at, record)?;
                return commit_and_apply(&mut self.io, &mut self.poisoned, &j, len);
            }
        }
        self.io.write_at(at, record).map_err(ContainerError::Io)?;
        sync(&mut self.io, &mut self.poisoned)
    }

    /// Adds a lease in the first empty slot, or appends an extra slot (which needs 92
    /// bytes of `available_space`).
    ///
    /// Appending writes the record past the end, syncs, then writes the count: a crash in
    /// between leaves bytes past the container that recovery removes. (Tahoe writes the
    /// count first, so its crash leaves a count that covers a missing record.)
    ///
    /// # Errors
    ///
    /// [`ContainerError::NoSpace`], [`ContainerError::TooManyLeases`], device errors.
    pub fn add_lease(
        &mut self,
        available_space: u64,
        lease: &NewLease,
    ) -> ContainerResult<(), IO::Error> {
        if lease.owner_num == 0 {
            return Err(ContainerError::InvalidArgument(
                "owner number 0 marks an empty slot",
            ));
        }
        let record = lease
            .to_lease(self.header.version.lease_schema())
            .encode_mutable();
        for i in 0..self.num_slots() {
            if self.lease_slot(i)?.is_none() {
                return self.write_slot(i, &record);
            }
        }
        if MUTABLE_LEASE_SIZE as u64 > available_space {
            return Err(ContainerError::NoSpace);
        }
        let count = self
            .num_extra
            .checked_add(1)
            .ok_or(ContainerError::TooManyLeases)?;
        if self.num_slots() == u32::MAX {
            return Err(ContainerError::TooManyLeases);
        }
        let slot = self.num_slots();
        self.write_slot(slot, &record)?;
        self.io
            .write_at(self.header.extra_lease_offset, &count.to_be_bytes())
            .map_err(ContainerError::Io)?;
        sync(&mut self.io, &mut self.poisoned)?;
        self.num_extra = count;
        Ok(())
    }

    /// Renews the first lease whose renew secret matches; the expiry only moves forward
    /// unless [`Backdate::Allow`].
    ///
    /// # Errors
    ///
    /// [`ContainerError::NoSuchLease`], device errors.
    pub fn renew_lease(
        &mut self,
        secret: &RenewSecret,
        new_expiration: u32,
        backdate: Backdate,
    ) -> ContainerResult<(), IO::Error> {
        let mut accepted_by = AcceptedBy::default();
        for i in 0..self.num_slots() {
            if let Some(mut lease) = self.lease_slot(i)? {
                if lease.secrets.matches_renew(secret) {
                    if backdate == Backdate::Allow || new_expiration > lease.expiration_time {
                        lease.expiration_time = new_expiration;
                        self.write_slot(i, &lease.encode_mutable())?;
                    }
                    return Ok(());
                }
                if let Some(id) = lease.nodeid {
                    accepted_by.add(id);
                }
            }
        }
        Err(no_such_lease(LeaseOp::Renew, accepted_by))
    }

    /// Renews a matching lease, or adds one.
    ///
    /// # Errors
    ///
    /// As [`Self::add_lease`].
    pub fn add_or_renew_lease(
        &mut self,
        available_space: u64,
        lease: &NewLease,
    ) -> ContainerResult<(), IO::Error> {
        match self.renew_lease(&lease.renew, lease.expiration_time, Backdate::Forbid) {
            Err(ContainerError::NoSuchLease { .. }) => self.add_lease(available_space, lease),
            other => other,
        }
    }

    /// Blanks every slot whose cancel secret matches (Tahoe never compacts mutable
    /// slots). Returns whether no lease is left, in which case the caller deletes the share.
    ///
    /// # Errors
    ///
    /// [`ContainerError::NoSuchLease`], device errors.
    pub fn cancel_lease(&mut self, secret: &CancelSecret) -> ContainerResult<bool, IO::Error> {
        // Tahoe blanks with a LeaseInfo of zeros, which schema 2 hashes on the way out.
        let blank = Lease {
            owner_num: 0,
            expiration_time: 0,
            secrets: StoredSecrets::for_version(
                self.header.version.lease_schema(),
                &RenewSecret::new([0; 32]),
                &CancelSecret::new([0; 32]),
            ),
            nodeid: Some(NodeId([0; 20])),
        }
        .encode_mutable();
        let (mut removed, mut remaining) = (0u32, 0u32);
        let mut accepted_by = AcceptedBy::default();
        for i in 0..self.num_slots() {
            if let Some(lease) = self.lease_slot(i)? {
                if let Some(id) = lease.nodeid {
                    accepted_by.add(id);
                }
                if lease.secrets.matches_cancel(secret) {
                    self.write_slot(i, &blank)?;
                    removed += 1;
                } else {
                    remaining += 1;
                }
            }
        }
        if removed == 0 {
            return Err(no_such_lease(LeaseOp::Cancel, accepted_by));
        }
        Ok(remaining == 0)
    }
}

/// No lease of a mutable container matched.
fn no_such_lease<E>(op: LeaseOp, accepted_by: AcceptedBy) -> ContainerError<E> {
    ContainerError::NoSuchLease {
        op,
        kind: ShareKind::Mutable,
        accepted_by,
    }
}

fn read_header<IO: ShareIo>(io: &mut IO, len: u64) -> ContainerResult<MutableHeader, IO::Error> {
    let mut raw = [0u8; HEADER_SIZE as usize];
    let n = len.min(HEADER_SIZE) as usize;
    io.read_at(0, raw.get_mut(..n).unwrap_or_default())
        .map_err(ContainerError::Io)?;
    match MutableHeader::decode(raw.get(..n).unwrap_or_default()) {
        Ok(h) => Ok(h),
        Err(MutableHeaderError::UnknownMagic) => Err(ContainerError::UnknownMutableMagic {
            magic: Magic::from_start(raw.get(..n).unwrap_or_default()),
        }),
        Err(MutableHeaderError::Corrupt(c)) => Err(ContainerError::Corrupt(c)),
    }
}

fn read_count<IO: ShareIo>(
    io: &mut IO,
    header: &MutableHeader,
    len: u64,
) -> ContainerResult<u32, IO::Error> {
    let at = header.extra_lease_offset;
    if at.checked_add(4).is_none_or(|e| e > len) {
        return Err(ContainerError::Corrupt(
            crate::error::Corruption::LeaseOffsetBeyondEof,
        ));
    }
    let mut raw = [0u8; 4];
    io.read_at(at, &mut raw).map_err(ContainerError::Io)?;
    Ok(u32::from_be_bytes(raw))
}

/// What a `writev` journals, computed once and journaled in one or two passes.
struct WritevPlan<'a> {
    datav: &'a [(u64, &'a [u8])],
    file_len: u64,
    old_data_length: u64,
    data_length: u64,
    old_elo: u64,
    elo: u64,
    block_len: u64,
    moves: bool,
    overlaps: bool,
    past_both: u64,
}

impl WritevPlan<'_> {
    /// Journals the update's entries into `j`, in the order they are applied.
    fn journal<IO: ShareIo>(
        &self,
        io: &mut IO,
        j: &mut JournalWriter,
    ) -> ContainerResult<(), IO::Error> {
        if self.moves {
            let first = if self.overlaps {
                self.past_both
            } else {
                self.elo
            };
            j.copy(io, self.old_elo, first, self.block_len)?;
            j.bytes(io, DATA_LENGTH_OFFSET + 8, &first.to_be_bytes())?;
        }
        let mut cur = self.old_data_length;
        for (offset, data) in self.datav {
            let end = offset + data.len() as u64;
            if end >= cur {
                // Only bytes the file holds now can be stale; past its end the device
                // reads zeros, so zeroing there would cost O(offset) (fuzz: request_decode).
                let from = DATA_OFFSET + cur;
                let to = (DATA_OFFSET + offset).min(self.file_len);
                if to > from {
                    j.zeros(io, from, to - from)?;
                }
                cur = end;
            }
            j.bytes(io, DATA_OFFSET + offset, data)?;
        }
        if self.overlaps {
            j.copy(io, self.old_elo, self.elo, self.block_len)?;
        }
        let mut fields = [0u8; 16];
        fields[..8].copy_from_slice(&self.data_length.to_be_bytes());
        fields[8..].copy_from_slice(&self.elo.to_be_bytes());
        j.bytes(io, DATA_LENGTH_OFFSET, &fields)
    }
}

/// Seals the log record `j` wrote (the commit point), applies it to the device without
/// syncing, and tells the log. A failure to seal is ambiguous (the record may be durable)
/// and one to apply leaves the update to the log's replay: both poison the container.
fn commit_and_apply<IO: ShareIo>(
    io: &mut IO,
    poisoned: &mut bool,
    j: &JournalWriter,
    target_len: u64,
) -> ContainerResult<(), IO::Error> {
    if *poisoned {
        return Err(ContainerError::Poisoned);
    }
    let result = io
        .log_commit(j.entries(), target_len)
        .map_err(ContainerError::Io)
        .and_then(|()| journal::replay_log(io, j.entries(), j.body_len()))
        .and_then(|()| io.set_len(target_len).map_err(ContainerError::Io))
        .and_then(|()| io.log_applied().map_err(ContainerError::Io));
    if result.is_err() {
        *poisoned = true;
    }
    result
}

//! Writing and replaying the redo journal (`format::journal`) of a mutable container.
//!
//! An update is made atomic by: (1) appending every write it will make, with its payload,
//! past the end of both the old and the new container, and a checksummed footer; (2) sync;
//! (3) replaying the journal onto the container; (4) sync; (5) truncating the journal away.
//! Recovery after a crash replays a valid journal (idempotent: every entry is an absolute
//! write) or, if the footer is missing or does not verify, truncates the partial journal:
//! nothing had been replayed yet, so the old container is intact.

use sha2::{Digest, Sha256};

use super::CHUNK;
use super::{ContainerError, ContainerResult};
use crate::error::Corruption;
use crate::format::journal::{EntryHeader, EntryKind, Footer, ENTRY_HEADER_SIZE, FOOTER_SIZE};
use crate::io::ShareIo;

/// Streams journal entries onto the device.
pub(crate) struct JournalWriter {
    start: u64,
    pos: u64,
    entries: u32,
    hash: Sha256,
}

impl JournalWriter {
    pub(crate) fn new(start: u64) -> Self {
        Self {
            start,
            pos: start,
            entries: 0,
            hash: Sha256::new(),
        }
    }

    fn append<IO: ShareIo>(&mut self, io: &mut IO, bytes: &[u8]) -> ContainerResult<(), IO::Error> {
        io.write_at(self.pos, bytes).map_err(ContainerError::Io)?;
        self.hash.update(bytes);
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// An entry writing `data` at `offset`.
    pub(crate) fn bytes<IO: ShareIo>(
        &mut self,
        io: &mut IO,
        offset: u64,
        data: &[u8],
    ) -> ContainerResult<(), IO::Error> {
        let h = EntryHeader {
            kind: EntryKind::Bytes,
            offset,
            length: data.len() as u64,
        };
        self.append(io, &h.encode())?;
        self.append(io, data)?;
        self.entries += 1;
        Ok(())
    }

    /// An entry writing `length` zeros at `offset`.
    pub(crate) fn zeros<IO: ShareIo>(
        &mut self,
        io: &mut IO,
        offset: u64,
        length: u64,
    ) -> ContainerResult<(), IO::Error> {
        let h = EntryHeader {
            kind: EntryKind::Zeros,
            offset,
            length,
        };
        self.append(io, &h.encode())?;
        self.entries += 1;
        Ok(())
    }

    /// An entry copying `length` bytes now at `from` to `to` (the bytes are read now, so
    /// the entry stays valid after `from` is overwritten).
    pub(crate) fn copy<IO: ShareIo>(
        &mut self,
        io: &mut IO,
        from: u64,
        to: u64,
        length: u64,
    ) -> ContainerResult<(), IO::Error> {
        let h = EntryHeader {
            kind: EntryKind::Bytes,
            offset: to,
            length,
        };
        self.append(io, &h.encode())?;
        let mut buf = [0u8; CHUNK];
        let mut done = 0u64;
        while done < length {
            let n = (length - done).min(CHUNK as u64) as usize;
            let chunk = buf
                .get_mut(..n)
                .ok_or(ContainerError::Bug("journal copy chunk"))?;
            io.read_at(from + done, chunk).map_err(ContainerError::Io)?;
            self.append(io, chunk)?;
            done += n as u64;
        }
        self.entries += 1;
        Ok(())
    }

    /// Writes the footer; the journal is complete (but not yet durable).
    pub(crate) fn finish<IO: ShareIo>(
        self,
        io: &mut IO,
        target_len: u64,
    ) -> ContainerResult<(), IO::Error> {
        let mut footer = Footer {
            entries: self.entries,
            journal_start: self.start,
            body_len: self.pos - self.start,
            target_len,
            checksum: [0; 32],
        };
        let mut hash = self.hash;
        hash.update(footer.checked_bytes());
        footer.checksum = hash.finalize().into();
        io.write_at(self.pos, &footer.encode())
            .map_err(ContainerError::Io)
    }
}

/// Reads and verifies the journal at the end of a file of `file_len` bytes. The journal
/// must start at or after `min_start`: the end of the extra-lease count, below which
/// clients control bytes. `None` when there is no valid journal.
pub(crate) fn find<IO: ShareIo>(
    io: &mut IO,
    file_len: u64,
    min_start: u64,
) -> ContainerResult<Option<Footer>, IO::Error> {
    let Some(footer_at) = file_len.checked_sub(FOOTER_SIZE) else {
        return Ok(None);
    };
    if footer_at < min_start {
        return Ok(None);
    }
    let mut raw = [0u8; FOOTER_SIZE as usize];
    io.read_at(footer_at, &mut raw)
        .map_err(ContainerError::Io)?;
    let Some(footer) = Footer::decode(&raw) else {
        return Ok(None);
    };
    if footer.journal_start.checked_add(footer.body_len) != Some(footer_at)
        || footer.journal_start < min_start
    {
        return Ok(None);
    }
    let mut hash = Sha256::new();
    let mut buf = [0u8; CHUNK];
    let mut at = footer.journal_start;
    while at < footer_at {
        let n = (footer_at - at).min(CHUNK as u64) as usize;
        let chunk = buf
            .get_mut(..n)
            .ok_or(ContainerError::Bug("journal hash chunk"))?;
        io.read_at(at, chunk).map_err(ContainerError::Io)?;
        hash.update(&*chunk);
        at += n as u64;
    }
    hash.update(footer.checked_bytes());
    let digest: [u8; 32] = hash.finalize().into();
    Ok((digest == footer.checksum).then_some(footer))
}

/// Applies a verified journal and truncates it away.
pub(crate) fn replay<IO: ShareIo>(io: &mut IO, footer: &Footer) -> ContainerResult<(), IO::Error> {
    let end = footer.journal_start + footer.body_len;
    let mut at = footer.journal_start;
    let mut buf = [0u8; CHUNK];
    for _ in 0..footer.entries {
        let mut raw = [0u8; ENTRY_HEADER_SIZE];
        if at + ENTRY_HEADER_SIZE as u64 > end {
            return Err(ContainerError::Corrupt(Corruption::BadRecord));
        }
        io.read_at(at, &mut raw).map_err(ContainerError::Io)?;
        let entry = EntryHeader::decode(&raw)?;
        at += ENTRY_HEADER_SIZE as u64;
        // An entry may only write below the journal, never into it.
        let target_end = entry
            .offset
            .checked_add(entry.length)
            .filter(|e| *e <= footer.journal_start)
            .ok_or(ContainerError::Corrupt(Corruption::BadRecord))?;
        let mut done = 0u64;
        while entry.offset + done < target_end {
            let n = (entry.length - done).min(CHUNK as u64) as usize;
            let chunk = buf
                .get_mut(..n)
                .ok_or(ContainerError::Bug("replay chunk"))?;
            match entry.kind {
                EntryKind::Bytes => {
                    if at + n as u64 > end {
                        return Err(ContainerError::Corrupt(Corruption::BadRecord));
                    }
                    io.read_at(at, chunk).map_err(ContainerError::Io)?;
                    at += n as u64;
                }
                EntryKind::Zeros => chunk.fill(0),
            }
            io.write_at(entry.offset + done, chunk)
                .map_err(ContainerError::Io)?;
            done += n as u64;
        }
    }
    Ok(())
}

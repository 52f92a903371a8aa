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

/// Where a [`JournalWriter`]'s entries go, and where a replay reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sink {
    /// Into the share, past the end of both the old and the new container.
    InFile,
    /// Into the device's update log (`ShareIo::log_begin`).
    Log,
    /// Nowhere: the entries are only counted, to size a log record.
    Count,
}

/// Streams journal entries onto the device.
pub(crate) struct JournalWriter {
    sink: Sink,
    start: u64,
    pos: u64,
    entries: u32,
    hash: Sha256,
}

impl JournalWriter {
    /// A journal in the share, starting at `start`.
    pub(crate) fn new(start: u64) -> Self {
        Self::with_sink(Sink::InFile, start)
    }

    /// A journal in the device's update log (after a `log_begin` that returned true).
    pub(crate) fn to_log() -> Self {
        Self::with_sink(Sink::Log, 0)
    }

    /// A journal that only counts the bytes of its body.
    pub(crate) fn counting() -> Self {
        Self::with_sink(Sink::Count, 0)
    }

    fn with_sink(sink: Sink, start: u64) -> Self {
        Self {
            sink,
            start,
            pos: start,
            entries: 0,
            hash: Sha256::new(),
        }
    }

    /// Bytes of entries so far.
    pub(crate) fn body_len(&self) -> u64 {
        self.pos - self.start
    }

    /// Entries so far.
    pub(crate) fn entries(&self) -> u32 {
        self.entries
    }

    fn append<IO: ShareIo>(&mut self, io: &mut IO, bytes: &[u8]) -> ContainerResult<(), IO::Error> {
        match self.sink {
            Sink::InFile => {
                io.write_at(self.pos, bytes).map_err(ContainerError::Io)?;
                self.hash.update(bytes);
            }
            Sink::Log => io.log_append(bytes).map_err(ContainerError::Io)?,
            Sink::Count => {}
        }
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
        if self.sink == Sink::Count {
            self.pos += length;
            self.entries += 1;
            return Ok(());
        }
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

/// Applies a verified journal in the share (not truncating it away).
pub(crate) fn replay<IO: ShareIo>(io: &mut IO, footer: &Footer) -> ContainerResult<(), IO::Error> {
    apply(
        io,
        Sink::InFile,
        footer.journal_start,
        footer.journal_start + footer.body_len,
        footer.entries,
        footer.journal_start,
    )
}

/// Applies the record just sealed in the device's update log: `entries` entries in
/// `body_len` bytes.
pub(crate) fn replay_log<IO: ShareIo>(
    io: &mut IO,
    entries: u32,
    body_len: u64,
) -> ContainerResult<(), IO::Error> {
    apply(io, Sink::Log, 0, body_len, entries, u64::MAX)
}

/// Reads `buf` at `at` of the journal in `from`.
fn read_from<IO: ShareIo>(
    io: &mut IO,
    from: Sink,
    at: u64,
    buf: &mut [u8],
) -> ContainerResult<(), IO::Error> {
    match from {
        Sink::Log => io.log_read(at, buf),
        Sink::InFile | Sink::Count => io.read_at(at, buf),
    }
    .map_err(ContainerError::Io)
}

/// Applies the `entries` entries in `[start, end)` of the journal in `from`, none of which
/// may write at or past `limit`.
fn apply<IO: ShareIo>(
    io: &mut IO,
    from: Sink,
    start: u64,
    end: u64,
    entries: u32,
    limit: u64,
) -> ContainerResult<(), IO::Error> {
    let mut at = start;
    let mut buf = [0u8; CHUNK];
    for _ in 0..entries {
        let mut raw = [0u8; ENTRY_HEADER_SIZE];
        if at + ENTRY_HEADER_SIZE as u64 > end {
            return Err(ContainerError::Corrupt(Corruption::BadRecord));
        }
        read_from(io, from, at, &mut raw)?;
        let entry = EntryHeader::decode(&raw)?;
        at += ENTRY_HEADER_SIZE as u64;
        // An entry may only write below the journal, never into it.
        let target_end = entry
            .offset
            .checked_add(entry.length)
            .filter(|e| *e <= limit)
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
                    read_from(io, from, at, chunk)?;
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

//! The file store's write-ahead log, `<storage>/tahoe-shares.wal` (docs/format.md §5a).
//!
//! An update of a published mutable share that writes only inside the file (a
//! test-and-write that does not grow the share, a lease renewed, added into a free slot or
//! cancelled) is made atomic and durable by one record here and one `fdatasync` of this
//! file, which is preallocated and only ever overwritten, so the sync flushes no metadata.
//! The share itself is then written in place without a sync. Records are kept until a
//! checkpoint has made the shares they touched durable (an fsync of each), after which the
//! header's epoch moves on and every older record is dead. After a crash, opening the
//! store replays every live record, in order, before anything reads a share.
//!
//! Layout: a 64-byte header at 0 (magic, version, epoch, SHA-256 of the first 32 bytes),
//! records from 4096 on, each a 64-byte record header (magic, epoch, sequence number,
//! storage index, share number, entries, body length, target length), the body (the
//! mutable journal's entries, `format::journal`), and a SHA-256 over the body's digest and
//! the record header. A record is live when its magic, epoch, sequence number (0, 1, ...
//! from 4096 on) and checksum are right; the scan stops at the first that is not.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::string::ToString;
use std::sync::{Arc, Mutex, MutexGuard};

use nix::fcntl::OFlag;
use sha2::{Digest, Sha256};

use super::FsError;
use crate::format::journal::{EntryHeader, EntryKind, ENTRY_HEADER_SIZE};
use crate::types::{ShareNumber, StorageIndex};

/// The name of the log inside the storage directory. Tahoe ignores it: its server and
/// crawlers only look below `shares/`, and at their own state files by name.
pub const WAL_FILE_NAME: &str = "tahoe-shares.wal";

const MAGIC: [u8; 8] = *b"TSWAL\r\n\x1a";
const RECORD_MAGIC: [u8; 8] = *b"TSWALREC";
const VERSION: u32 = 1;
/// Where the first record starts (the header has a block of its own).
const FIRST_RECORD: u64 = 4096;
const RECORD_HEADER: u64 = 80;
const CHECKSUM: u64 = 32;
/// The size of a new log.
pub(crate) const DEFAULT_CAPACITY: u64 = 256 * 1024;
/// The most shares written through the log between checkpoints (a bound on the memory of
/// the set that names them).
const MAX_DIRTY: usize = 4096;
/// Bytes read or written at a time.
const CHUNK: usize = 16 * 1024;

/// A record's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RecordHeader {
    epoch: u64,
    seq: u64,
    si: StorageIndex,
    shnum: ShareNumber,
    entries: u32,
    body_len: u64,
    target_len: u64,
}

impl RecordHeader {
    fn encode(&self) -> [u8; RECORD_HEADER as usize] {
        let mut out = [0u8; RECORD_HEADER as usize];
        let si = self.si.as_bytes();
        let fields: [(usize, &[u8]); 9] = [
            (0, &RECORD_MAGIC),
            (8, &self.epoch.to_be_bytes()),
            (16, &self.seq.to_be_bytes()),
            // 1 to 32 bytes (Tahoe's tests use short ones): the length, then the bytes.
            (24, &[u8::try_from(si.len()).unwrap_or(0)]),
            (25, &[self.shnum.0]),
            (28, &self.entries.to_be_bytes()),
            (32, &self.body_len.to_be_bytes()),
            (40, &self.target_len.to_be_bytes()),
            (48, si),
        ];
        for (at, bytes) in fields {
            if let Some(dst) = out.get_mut(at..at + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
        }
        out
    }

    fn decode(raw: &[u8; RECORD_HEADER as usize]) -> Option<Self> {
        let u64_at = |at: usize| {
            raw.get(at..at + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
        };
        if raw.get(..8)? != RECORD_MAGIC {
            return None;
        }
        let si_len = usize::from(*raw.get(24)?);
        let si = StorageIndex::from_slice(raw.get(48..48 + si_len)?).ok()?;
        Some(Self {
            epoch: u64_at(8)?,
            seq: u64_at(16)?,
            si,
            shnum: ShareNumber(*raw.get(25)?),
            entries: raw
                .get(28..32)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)?,
            body_len: u64_at(32)?,
            target_len: u64_at(40)?,
        })
    }

    fn checksum(&self, body_digest: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(body_digest);
        h.update(self.encode());
        h.finalize().into()
    }
}

fn encode_header(epoch: u64) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..8].copy_from_slice(&MAGIC);
    out[8..12].copy_from_slice(&VERSION.to_be_bytes());
    out[16..24].copy_from_slice(&epoch.to_be_bytes());
    let digest: [u8; 32] = Sha256::digest(&out[..32]).into();
    out[32..].copy_from_slice(&digest);
    out
}

fn decode_header(raw: &[u8; 64]) -> Option<u64> {
    let digest: [u8; 32] = Sha256::digest(&raw[..32]).into();
    if raw[..8] != MAGIC || raw[8..12] != VERSION.to_be_bytes() || raw[32..] != digest {
        return None;
    }
    raw[16..24].try_into().ok().map(u64::from_be_bytes)
}

/// The path of a published share below `shares_root` (as `FsStore::share_path`).
fn share_path(shares_root: &Path, si: &StorageIndex, shnum: ShareNumber) -> PathBuf {
    let name = si.to_string();
    shares_root
        .join(&name[..2])
        .join(&name)
        .join(shnum.file_name().as_str())
}

/// The record being written, or the one just sealed.
#[derive(Debug)]
struct Current {
    start: u64,
    header: RecordHeader,
    written: u64,
    hash: Sha256,
    sealed: bool,
}

/// The log of one store.
#[derive(Debug)]
pub(crate) struct Wal {
    file: File,
    path: PathBuf,
    shares_root: PathBuf,
    epoch: u64,
    capacity: u64,
    /// Where the next record goes.
    pos: u64,
    /// The next record's sequence number.
    seq: u64,
    /// Shares with live records, made durable by the next checkpoint.
    dirty: BTreeSet<(StorageIndex, ShareNumber)>,
    current: Option<Current>,
    /// The share of a sealed record that could not be applied: no checkpoint may drop
    /// the record, and the share takes no other write, until the next open replays it.
    wedged: Option<(StorageIndex, ShareNumber)>,
}

impl Wal {
    fn err(&self, e: io::Error) -> io::Error {
        FsError::wrap(&self.path, e)
    }

    /// Creates a log of `capacity` bytes at `path`: zeros written (so that later writes
    /// allocate nothing), a header, and the file and its directory synced.
    fn create(dir: &Path, shares_root: &Path, capacity: u64) -> io::Result<Self> {
        let path = dir.join(WAL_FILE_NAME);
        let at = |e| FsError::wrap(&path, e);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(&path)
            .map_err(at)?;
        let zeros = [0u8; CHUNK];
        let mut done = 0u64;
        while done < capacity {
            let n = (capacity - done).min(CHUNK as u64) as usize;
            file.write_all_at(&zeros[..n], done).map_err(at)?;
            done += n as u64;
        }
        file.write_all_at(&encode_header(1), 0).map_err(at)?;
        file.sync_all().map_err(at)?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| FsError::wrap(dir, e))?;
        Ok(Self::at_start(file, path, shares_root, 1, capacity))
    }

    /// A log whose next record is number 0 of `epoch` at [`FIRST_RECORD`].
    fn at_start(file: File, path: PathBuf, shares_root: &Path, epoch: u64, capacity: u64) -> Self {
        Self {
            file,
            path,
            shares_root: shares_root.to_path_buf(),
            epoch,
            capacity,
            pos: FIRST_RECORD,
            seq: 0,
            dirty: BTreeSet::new(),
            current: None,
            wedged: None,
        }
    }

    /// Opens the log in `dir` if there is one, replays every live record into its share,
    /// syncs those shares and starts a new epoch. Returns the log and how many records it
    /// replayed.
    fn recover(dir: &Path, shares_root: &Path) -> io::Result<Option<(Self, u64)>> {
        let path = dir.join(WAL_FILE_NAME);
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(FsError::wrap(&path, e)),
        };
        let capacity = file.metadata().map_err(|e| FsError::wrap(&path, e))?.len();
        let mut wal = Self::at_start(file, path, shares_root, 0, capacity);
        let mut raw = [0u8; 64];
        let header = if capacity >= 64 {
            wal.file
                .read_exact_at(&mut raw, 0)
                .map_err(|e| wal.err(e))?;
            decode_header(&raw)
        } else {
            None
        };
        if wal.capacity < FIRST_RECORD + RECORD_HEADER + CHECKSUM {
            // Too small to hold a record: a creation cut short, before any record. Make
            // it whole.
            let shares = wal.shares_root.clone();
            return Ok(Some((Self::create(dir, &shares, DEFAULT_CAPACITY)?, 0)));
        }
        let replayed = if let Some(epoch) = header {
            wal.epoch = epoch;
            let n = wal.replay_live()?;
            // With nothing live, the epoch goes on (the next record is its number 0 at
            // FIRST_RECORD, where no live one is), so that a restart without work changes
            // nothing.
            if n > 0 {
                wal.reset()?;
            }
            n
        } else {
            // A header torn by a reset, or a creation cut short: every record had been
            // applied durably before a reset began, so none is live. The new epoch must
            // be one no record holds: records of the newest epoch start at FIRST_RECORD.
            wal.epoch = wal.first_record_epoch()?.unwrap_or(0);
            wal.reset()?;
            0
        };
        Ok(Some((wal, replayed)))
    }

    fn first_record_epoch(&self) -> io::Result<Option<u64>> {
        let mut raw = [0u8; RECORD_HEADER as usize];
        if self.capacity < FIRST_RECORD + RECORD_HEADER {
            return Ok(None);
        }
        self.file
            .read_exact_at(&mut raw, FIRST_RECORD)
            .map_err(|e| self.err(e))?;
        Ok(RecordHeader::decode(&raw).map(|h| h.epoch))
    }

    /// The live record at `pos` with sequence number `seq`, if there is one.
    fn live_record(&self, pos: u64, seq: u64) -> io::Result<Option<RecordHeader>> {
        let mut raw = [0u8; RECORD_HEADER as usize];
        if pos + RECORD_HEADER + CHECKSUM > self.capacity {
            return Ok(None);
        }
        self.file
            .read_exact_at(&mut raw, pos)
            .map_err(|e| self.err(e))?;
        let Some(h) = RecordHeader::decode(&raw) else {
            return Ok(None);
        };
        let fits = pos
            .checked_add(RECORD_HEADER + CHECKSUM)
            .and_then(|e| e.checked_add(h.body_len))
            .is_some_and(|e| e <= self.capacity);
        if h.epoch != self.epoch || h.seq != seq || !fits {
            return Ok(None);
        }
        let mut hash = Sha256::new();
        let mut buf = [0u8; CHUNK];
        let mut done = 0u64;
        while done < h.body_len {
            let n = (h.body_len - done).min(CHUNK as u64) as usize;
            self.file
                .read_exact_at(&mut buf[..n], pos + RECORD_HEADER + done)
                .map_err(|e| self.err(e))?;
            hash.update(&buf[..n]);
            done += n as u64;
        }
        let mut sum = [0u8; 32];
        self.file
            .read_exact_at(&mut sum, pos + RECORD_HEADER + h.body_len)
            .map_err(|e| self.err(e))?;
        Ok((h.checksum(&hash.finalize()) == sum).then_some(h))
    }

    /// Replays every live record, in order, and syncs the shares they touched.
    fn replay_live(&mut self) -> io::Result<u64> {
        let mut pos = FIRST_RECORD;
        let mut seq = 0;
        let mut touched: BTreeMap<PathBuf, File> = BTreeMap::new();
        while let Some(h) = self.live_record(pos, seq)? {
            let path = share_path(&self.shares_root, &h.si, h.shnum);
            if !touched.contains_key(&path) {
                match OpenOptions::new()
                    .read(true)
                    .write(true)
                    .custom_flags(OFlag::O_NOFOLLOW.bits())
                    .open(&path)
                {
                    Ok(f) => {
                        touched.insert(path.clone(), f);
                    }
                    // Removed since (a removal checkpoints first, so only by hand): there
                    // is nothing left to update.
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(FsError::wrap(&path, e)),
                }
            }
            if let Some(share) = touched.get(&path) {
                self.apply(pos, &h, share)
                    .map_err(|e| FsError::wrap(&path, e))?;
            }
            pos += RECORD_HEADER + h.body_len + CHECKSUM;
            seq += 1;
        }
        for (path, f) in &touched {
            f.sync_all().map_err(|e| FsError::wrap(path, e))?;
        }
        Ok(seq)
    }

    /// Applies the record at `pos` to `share`.
    fn apply(&self, pos: u64, h: &RecordHeader, share: &File) -> io::Result<()> {
        let bad = || io::Error::new(ErrorKind::InvalidData, "a log record's entry is malformed");
        let end = pos + RECORD_HEADER + h.body_len;
        let mut at = pos + RECORD_HEADER;
        let mut buf = [0u8; CHUNK];
        for _ in 0..h.entries {
            let mut raw = [0u8; ENTRY_HEADER_SIZE];
            if at + ENTRY_HEADER_SIZE as u64 > end {
                return Err(bad());
            }
            self.file.read_exact_at(&mut raw, at)?;
            at += ENTRY_HEADER_SIZE as u64;
            let entry = EntryHeader::decode(&raw).map_err(|_| bad())?;
            let target_end = entry
                .offset
                .checked_add(entry.length)
                .filter(|e| *e <= h.target_len)
                .ok_or_else(bad)?;
            let mut off = entry.offset;
            while off < target_end {
                let n = (target_end - off).min(CHUNK as u64) as usize;
                let chunk = &mut buf[..n];
                match entry.kind {
                    EntryKind::Bytes => {
                        if at + n as u64 > end {
                            return Err(bad());
                        }
                        self.file.read_exact_at(chunk, at)?;
                        at += n as u64;
                    }
                    EntryKind::Zeros => chunk.fill(0),
                }
                share.write_all_at(chunk, off)?;
                off += n as u64;
            }
        }
        share.set_len(h.target_len)
    }

    /// Starts a new epoch: every record so far is dead. Only once their shares are
    /// durable.
    fn reset(&mut self) -> io::Result<()> {
        let epoch = self.epoch.wrapping_add(1);
        self.file
            .write_all_at(&encode_header(epoch), 0)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| self.err(e))?;
        self.epoch = epoch;
        self.pos = FIRST_RECORD;
        self.seq = 0;
        self.current = None;
        Ok(())
    }

    /// Makes every share written through the log durable, then starts a new epoch.
    fn checkpoint(&mut self) -> io::Result<()> {
        if self.wedged.is_some() {
            return Err(self.err(io::Error::other(
                "an update committed to the write-ahead log could not be applied; \
                 it is replayed when the store is next opened",
            )));
        }
        if self.pos == FIRST_RECORD {
            return Ok(());
        }
        // One syncfs of the file system holding the log and the shares (the storage
        // directory), instead of an fsync per share: it writes every dirty share's blocks
        // and flushes the device once. It also writes whatever else is dirty on that file
        // system (an upload in progress: work its publish would do anyway). Since Linux
        // 5.8 it reports writeback errors since the log was opened.
        nix::unistd::syncfs(self.file.as_raw_fd())
            .map_err(|e| self.err(io::Error::from_raw_os_error(e as i32)))?;
        self.dirty.clear();
        self.reset()
    }

    fn begin(&mut self, si: StorageIndex, shnum: ShareNumber, body_len: u64) -> io::Result<bool> {
        let need = RECORD_HEADER + body_len + CHECKSUM;
        if self.wedged.is_some() || need > self.capacity.saturating_sub(FIRST_RECORD) {
            return Ok(false);
        }
        if self.pos + need > self.capacity
            || (self.dirty.len() >= MAX_DIRTY && !self.dirty.contains(&(si, shnum)))
        {
            self.checkpoint()?;
        }
        self.current = Some(Current {
            start: self.pos,
            header: RecordHeader {
                epoch: self.epoch,
                seq: self.seq,
                si,
                shnum,
                entries: 0,
                body_len,
                target_len: 0,
            },
            written: 0,
            hash: Sha256::new(),
            sealed: false,
        });
        Ok(true)
    }

    fn unbegun(&self) -> io::Error {
        self.err(io::Error::other("no log record was begun"))
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let Some(c) = self.current.as_mut().filter(|c| !c.sealed) else {
            return Err(self.unbegun());
        };
        let len = bytes.len() as u64;
        if c.written + len > c.header.body_len {
            return Err(self.err(io::Error::other("log record longer than begun")));
        }
        let at = c.start + RECORD_HEADER + c.written;
        c.hash.update(bytes);
        c.written += len;
        self.file.write_all_at(bytes, at).map_err(|e| self.err(e))
    }

    fn commit(&mut self, entries: u32, target_len: u64) -> io::Result<()> {
        let Some(c) = self.current.as_mut().filter(|c| !c.sealed) else {
            return Err(self.unbegun());
        };
        if c.written != c.header.body_len {
            return Err(self.err(io::Error::other("log record shorter than begun")));
        }
        c.header.entries = entries;
        c.header.target_len = target_len;
        let digest = core::mem::take(&mut c.hash).finalize();
        let sum = c.header.checksum(&digest);
        let (start, header) = (c.start, c.header);
        c.sealed = true;
        // The record stands once durable; if the sync fails it may be, or not: it is kept
        // as if it were (the container is poisoned), until its application is done.
        self.wedged = Some((header.si, header.shnum));
        self.file
            .write_all_at(&header.encode(), start)
            .and_then(|()| {
                self.file
                    .write_all_at(&sum, start + RECORD_HEADER + header.body_len)
            })
            .and_then(|()| self.file.sync_data())
            .map_err(|e| self.err(e))?;
        self.pos = start + RECORD_HEADER + header.body_len + CHECKSUM;
        self.seq += 1;
        Ok(())
    }

    fn read(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let Some(c) = self.current.as_ref().filter(|c| c.sealed) else {
            return Err(self.unbegun());
        };
        if offset + buf.len() as u64 > c.header.body_len {
            return Err(self.err(io::Error::other("read past the log record")));
        }
        self.file
            .read_exact_at(buf, c.start + RECORD_HEADER + offset)
            .map_err(|e| self.err(e))
    }

    fn applied(&mut self) -> io::Result<()> {
        let Some(c) = self.current.take().filter(|c| c.sealed) else {
            return Err(self.unbegun());
        };
        self.dirty.insert((c.header.si, c.header.shnum));
        self.wedged = None;
        Ok(())
    }
}

/// The log of one store, created at its first use.
#[derive(Debug)]
pub(crate) struct WalCell {
    dir: PathBuf,
    shares_root: PathBuf,
    wal: Option<Wal>,
    /// The log could not be created (a full disk): updates are journaled in their
    /// shares, as without a log, for the life of the store.
    unavailable: bool,
}

/// The log, shared by the store and the devices it opened.
pub(crate) type SharedWal = Arc<Mutex<WalCell>>;

fn poisoned() -> io::Error {
    io::Error::other("the write-ahead log's lock is poisoned")
}

impl WalCell {
    /// Opens (recovering) the log of the store in `dir`, whose shares are below
    /// `shares_root`. Returns the log and how many records were replayed.
    pub(crate) fn open(dir: &Path, shares_root: &Path) -> io::Result<(SharedWal, u64)> {
        let (wal, replayed) = match Wal::recover(dir, shares_root)? {
            Some((w, n)) => (Some(w), n),
            None => (None, 0),
        };
        let cell = Self {
            dir: dir.to_path_buf(),
            shares_root: shares_root.to_path_buf(),
            wal,
            unavailable: false,
        };
        Ok((Arc::new(Mutex::new(cell)), replayed))
    }

    pub(crate) fn lock(shared: &SharedWal) -> io::Result<MutexGuard<'_, Self>> {
        shared.lock().map_err(|_| poisoned())
    }

    fn get(&mut self) -> io::Result<&mut Wal> {
        self.wal
            .as_mut()
            .ok_or_else(|| io::Error::other("the write-ahead log was not created"))
    }

    /// The log, created now if it does not exist yet; `None` when it cannot be (then
    /// never tried again: what was made of it is removed).
    fn get_or_create(&mut self) -> Option<&mut Wal> {
        if self.wal.is_none() && !self.unavailable {
            if let Ok(w) = Wal::create(&self.dir, &self.shares_root, DEFAULT_CAPACITY) {
                self.wal = Some(w);
            } else {
                let _ = std::fs::remove_file(self.dir.join(WAL_FILE_NAME));
                self.unavailable = true;
            }
        }
        self.wal.as_mut()
    }

    /// Whether the share has live records (its writes since are not yet durable), or a
    /// record whose application failed.
    pub(crate) fn is_dirty(&self, si: &StorageIndex, shnum: ShareNumber) -> bool {
        self.wal
            .as_ref()
            .is_some_and(|w| w.dirty.contains(&(*si, shnum)) || w.wedged == Some((*si, shnum)))
    }

    /// Makes every share written through the log durable and drops its records.
    pub(crate) fn checkpoint(&mut self) -> io::Result<()> {
        match self.wal.as_mut() {
            Some(w) => w.checkpoint(),
            None => Ok(()),
        }
    }
}

/// A device's link to its store's log: which share it is.
#[derive(Debug)]
pub(crate) struct WalLink {
    shared: SharedWal,
    si: StorageIndex,
    shnum: ShareNumber,
    /// Between a sealed record and its application: the device's own writes are the
    /// record's.
    applying: bool,
}

impl WalLink {
    pub(crate) fn new(shared: SharedWal, si: StorageIndex, shnum: ShareNumber) -> Self {
        Self {
            shared,
            si,
            shnum,
            applying: false,
        }
    }

    /// Before a write of the device's own (not a record's): when the share has live
    /// records, checkpoint first, so that no later replay of them undoes this write.
    pub(crate) fn before_own_write(&self) -> io::Result<()> {
        if self.applying {
            return Ok(());
        }
        let mut cell = WalCell::lock(&self.shared)?;
        if cell.is_dirty(&self.si, self.shnum) {
            cell.checkpoint()?;
        }
        Ok(())
    }

    pub(crate) fn begin(&mut self, body_len: u64) -> io::Result<bool> {
        let mut cell = WalCell::lock(&self.shared)?;
        match cell.get_or_create() {
            Some(wal) => wal.begin(self.si, self.shnum, body_len),
            None => Ok(false),
        }
    }

    pub(crate) fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        WalCell::lock(&self.shared)?.get()?.append(bytes)
    }

    pub(crate) fn commit(&mut self, entries: u32, target_len: u64) -> io::Result<()> {
        WalCell::lock(&self.shared)?
            .get()?
            .commit(entries, target_len)?;
        self.applying = true;
        Ok(())
    }

    pub(crate) fn read(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        WalCell::lock(&self.shared)?.get()?.read(offset, buf)
    }

    pub(crate) fn applied(&mut self) -> io::Result<()> {
        WalCell::lock(&self.shared)?.get()?.applied()?;
        self.applying = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_headers_round_trip_and_checksums_cover_them() {
        let h = RecordHeader {
            epoch: 7,
            seq: 3,
            si: StorageIndex::new([5; 16]),
            shnum: ShareNumber(200),
            entries: 2,
            body_len: 1234,
            target_len: 99_999,
        };
        assert_eq!(RecordHeader::decode(&h.encode()), Some(h));
        // Storage indexes of 1 to 32 bytes (Tahoe's own tests use 3-byte ones).
        for len in [1, 3, 16, 32] {
            let short = RecordHeader {
                si: StorageIndex::from_slice(&[7; 32][..len]).unwrap(),
                ..h
            };
            assert_eq!(RecordHeader::decode(&short.encode()), Some(short));
        }
        let other = RecordHeader { seq: 4, ..h };
        assert_ne!(h.checksum(&[1; 32]), other.checksum(&[1; 32]));
        assert_ne!(h.checksum(&[1; 32]), h.checksum(&[2; 32]));
        let mut raw = h.encode();
        raw[0] ^= 1;
        assert_eq!(RecordHeader::decode(&raw), None);
    }

    #[test]
    fn headers_round_trip_and_a_torn_one_is_none() {
        let raw = encode_header(42);
        assert_eq!(decode_header(&raw), Some(42));
        let mut torn = raw;
        torn[20] ^= 0x80;
        assert_eq!(decode_header(&torn), None);
    }
}

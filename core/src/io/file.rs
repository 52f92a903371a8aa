//! `std::fs::File` with positional reads and writes (pread/pwrite).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{ErrorType, ShareIo};
use crate::store::wal::WalLink;
use crate::store::{Durability, FsError};

/// A share container in a file.
///
/// A published share opened by a durable [`crate::store::FsStore`] is linked to the
/// store's write-ahead log (docs/format.md §5a): its `log_*` methods keep records there,
/// and a write of its own to a share with live records first checkpoints the log, so that
/// no later replay of them can undo the write.
#[derive(Debug)]
pub struct FileIo {
    file: File,
    durable: bool,
    read_only: bool,
    path: Option<PathBuf>,
    wal: Option<WalLink>,
}

impl FileIo {
    /// Wraps an open file (opened for reading, and for writing if it will be written).
    #[must_use]
    pub fn new(file: File) -> Self {
        Self {
            file,
            durable: true,
            read_only: false,
            path: None,
            wal: None,
        }
    }

    /// Links the device to its store's write-ahead log.
    pub(crate) fn with_wal(mut self, link: WalLink) -> Self {
        self.wal = Some(link);
        self
    }

    /// Checkpoints the log first when this write is the device's own and the share has
    /// live records.
    fn before_own_write(&self) -> io::Result<()> {
        match &self.wal {
            Some(link) => link.before_own_write(),
            None => Ok(()),
        }
    }

    fn link(&mut self) -> io::Result<&mut WalLink> {
        self.wal
            .as_mut()
            .ok_or_else(|| io::Error::other("the device has no write-ahead log"))
    }

    /// With [`Durability::NoSync`], [`ShareIo::sync`] does nothing: Tahoe 1.20's behaviour,
    /// for comparing like with like. Crash safety is then the operating system's.
    #[must_use]
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durable = durability == Durability::Durable;
        self
    }

    /// Names the file in every error (as an [`FsError`] inside the `io::Error`).
    #[must_use]
    pub fn with_path(mut self, path: PathBuf) -> Self {
        self.path = Some(path);
        self
    }

    /// Refuses every write and length change with `EROFS` (for a file opened read-only,
    /// which the operating system would refuse with a less telling `EBADF`);
    /// [`ShareIo::sync`] then has nothing to make durable and succeeds.
    #[must_use]
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The file.
    #[must_use]
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The path given with [`Self::with_path`].
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether writes are refused (see [`Self::read_only`]).
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn err(&self, e: io::Error) -> io::Error {
        match &self.path {
            Some(p) => FsError::wrap(p, e),
            None => e,
        }
    }

    fn check_writable(&self) -> io::Result<()> {
        if self.read_only {
            Err(self.err(io::Error::from_raw_os_error(nix::libc::EROFS)))
        } else {
            Ok(())
        }
    }
}

impl ErrorType for FileIo {
    type Error = io::Error;
}

impl ShareIo for FileIo {
    fn len(&mut self) -> io::Result<u64> {
        match self.file.metadata() {
            Ok(m) => Ok(m.len()),
            Err(e) => Err(self.err(e)),
        }
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file
            .read_exact_at(buf, offset)
            .map_err(|e| self.err(e))
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.check_writable()?;
        self.before_own_write()?;
        self.file
            .write_all_at(data, offset)
            .map_err(|e| self.err(e))
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.check_writable()?;
        self.before_own_write()?;
        self.file.set_len(len).map_err(|e| self.err(e))
    }

    fn sync(&mut self) -> io::Result<()> {
        // fdatasync: it makes the data and the metadata needed to read it durable, the
        // length included (POSIX: "all file data and the metadata necessary to retrieve
        // it"; Linux flushes a changed size, a grown and a truncated one), but not the
        // times, which nothing reads back; it saves a journal commit per overwrite.
        if self.durable && !self.read_only {
            self.file.sync_data().map_err(|e| self.err(e))
        } else {
            Ok(())
        }
    }

    fn log_begin(&mut self, body_len: u64) -> io::Result<bool> {
        if self.read_only || !self.durable {
            return Ok(false);
        }
        match &mut self.wal {
            Some(link) => link.begin(body_len),
            None => Ok(false),
        }
    }

    fn log_append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.link()?.append(bytes)
    }

    fn log_commit(&mut self, entries: u32, target_len: u64) -> io::Result<()> {
        self.link()?.commit(entries, target_len)
    }

    fn log_read(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.link()?.read(offset, buf)
    }

    fn log_applied(&mut self) -> io::Result<()> {
        self.link()?.applied()
    }
}

//! `std::fs::File` with positional reads and writes (pread/pwrite).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::{ErrorType, ShareIo};

/// A share container in a file.
#[derive(Debug)]
pub struct FileIo {
    file: File,
    durable: bool,
}

impl FileIo {
    /// Wraps an open file (opened for reading, and for writing if it will be written).
    #[must_use]
    pub fn new(file: File) -> Self {
        Self {
            file,
            durable: true,
        }
    }

    /// With `durable = false`, [`ShareIo::sync`] does nothing: Tahoe 1.20's behaviour,
    /// for comparing like with like. Crash safety is then the operating system's.
    #[must_use]
    pub fn with_durability(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }

    /// The file.
    #[must_use]
    pub fn file(&self) -> &File {
        &self.file
    }
}

impl ErrorType for FileIo {
    type Error = io::Error;
}

impl ShareIo for FileIo {
    fn len(&mut self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file.write_all_at(data, offset)
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn sync(&mut self) -> io::Result<()> {
        // fsync, not fdatasync: the length may have changed (P1 in reliability.md).
        if self.durable {
            self.file.sync_all()
        } else {
            Ok(())
        }
    }
}

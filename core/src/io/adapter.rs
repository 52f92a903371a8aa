//! An adapter from `embedded_io::{Read, Write, Seek}` devices to [`ShareIo`].

use embedded_io::{Read, Seek, SeekFrom, Write};

use super::{ErrorKind, ErrorType, ShareIo};

/// Errors of [`SeekAdapter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterError<E> {
    /// The device failed.
    Device(E),
    /// A read reached the end of the device.
    UnexpectedEof,
    /// A write wrote nothing.
    WriteZero,
    /// Shrinking is not possible through `Read + Write + Seek`.
    Unsupported,
}

impl<E: embedded_io::Error> embedded_io::Error for AdapterError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Device(e) => e.kind(),
            Self::UnexpectedEof => ErrorKind::InvalidData,
            Self::WriteZero => ErrorKind::WriteZero,
            Self::Unsupported => ErrorKind::Unsupported,
        }
    }
}

impl<E: core::fmt::Display> core::fmt::Display for AdapterError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Device(e) => write!(f, "device error: {e}"),
            Self::UnexpectedEof => f.write_str("read reached the end of the device"),
            Self::WriteZero => f.write_str("the device wrote nothing"),
            Self::Unsupported => {
                f.write_str("shrinking is not possible through Read + Write + Seek")
            }
        }
    }
}

impl<E: core::error::Error + 'static> core::error::Error for AdapterError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Device(e) => Some(e),
            _ => None,
        }
    }
}

/// Wraps a seekable stream. `set_len` can grow the device (by writing zeros) but cannot
/// shrink it; shrinking returns [`AdapterError::Unsupported`]. `sync` flushes.
#[derive(Debug)]
pub struct SeekAdapter<T> {
    inner: T,
}

impl<T> SeekAdapter<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        Self { inner }
    }

    /// Gives the device back.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: ErrorType> ErrorType for SeekAdapter<T> {
    type Error = AdapterError<T::Error>;
}

impl<T: Read + Write + Seek> ShareIo for SeekAdapter<T> {
    fn len(&mut self) -> Result<u64, Self::Error> {
        self.inner
            .seek(SeekFrom::End(0))
            .map_err(AdapterError::Device)
    }

    fn read_at(&mut self, offset: u64, mut buf: &mut [u8]) -> Result<(), Self::Error> {
        self.inner
            .seek(SeekFrom::Start(offset))
            .map_err(AdapterError::Device)?;
        while !buf.is_empty() {
            match self.inner.read(buf).map_err(AdapterError::Device)? {
                0 => return Err(AdapterError::UnexpectedEof),
                n => buf = buf.get_mut(n..).unwrap_or_default(),
            }
        }
        Ok(())
    }

    fn write_at(&mut self, offset: u64, mut data: &[u8]) -> Result<(), Self::Error> {
        let len = self.len()?;
        if offset > len {
            self.set_len(offset)?;
        }
        self.inner
            .seek(SeekFrom::Start(offset))
            .map_err(AdapterError::Device)?;
        while !data.is_empty() {
            match self.inner.write(data).map_err(AdapterError::Device)? {
                0 => return Err(AdapterError::WriteZero),
                n => data = data.get(n..).unwrap_or_default(),
            }
        }
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> Result<(), Self::Error> {
        let current = self.len()?;
        if len < current {
            return Err(AdapterError::Unsupported);
        }
        let zeros = [0u8; 256];
        let mut at = current;
        while at < len {
            let n = (len - at).min(zeros.len() as u64) as usize;
            self.write_at(at, zeros.get(..n).unwrap_or_default())?;
            at += n as u64;
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), Self::Error> {
        self.inner.flush().map_err(AdapterError::Device)
    }
}

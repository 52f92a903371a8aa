//! A device over a caller's fixed buffer: no allocation.

use super::{check_read, check_write, ErrorKind, ErrorType, RangeError, ShareIo};

/// Errors of the in-memory devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemError {
    /// A read reached past the end.
    UnexpectedEof,
    /// A write or `set_len` needs more than the fixed capacity.
    CapacityExceeded,
    /// An offset plus length overflows `u64`, or does not fit in memory.
    Overflow,
}

impl embedded_io::Error for MemError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::UnexpectedEof => ErrorKind::InvalidData,
            Self::CapacityExceeded => ErrorKind::OutOfMemory,
            Self::Overflow => ErrorKind::InvalidInput,
        }
    }
}

impl core::fmt::Display for MemError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::UnexpectedEof => "unexpected end of data",
            Self::CapacityExceeded => "capacity exceeded",
            Self::Overflow => "offset overflow",
        })
    }
}

impl core::error::Error for MemError {}

impl From<RangeError> for MemError {
    fn from(e: RangeError) -> Self {
        match e {
            RangeError::Overflow => Self::Overflow,
            RangeError::OutOfBounds => Self::UnexpectedEof,
        }
    }
}

/// A container in a fixed buffer; `len` bytes of it are in use.
#[derive(Debug)]
pub struct SliceIo<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceIo<'a> {
    /// A device holding `len` bytes of `buf` (clamped to the buffer's size).
    pub fn new(buf: &'a mut [u8], len: usize) -> Self {
        let len = len.min(buf.len());
        Self { buf, len }
    }

    /// The bytes in use.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl ErrorType for SliceIo<'_> {
    type Error = MemError;
}

impl ShareIo for SliceIo<'_> {
    fn len(&mut self) -> Result<u64, MemError> {
        Ok(self.len as u64)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), MemError> {
        check_read(self.len as u64, offset, buf.len())?;
        let start = usize::try_from(offset).map_err(|_| MemError::Overflow)?;
        let src = self
            .buf
            .get(start..start + buf.len())
            .ok_or(MemError::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), MemError> {
        check_write(self.buf.len() as u64, offset, data.len())
            .map_err(|_| MemError::CapacityExceeded)?;
        let start = usize::try_from(offset).map_err(|_| MemError::Overflow)?;
        let end = start + data.len();
        if start > self.len {
            self.buf
                .get_mut(self.len..start)
                .ok_or(MemError::CapacityExceeded)?
                .fill(0);
        }
        self.buf
            .get_mut(start..end)
            .ok_or(MemError::CapacityExceeded)?
            .copy_from_slice(data);
        self.len = self.len.max(end);
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> Result<(), MemError> {
        let len = usize::try_from(len).map_err(|_| MemError::CapacityExceeded)?;
        if len > self.len {
            self.buf
                .get_mut(self.len..len)
                .ok_or(MemError::CapacityExceeded)?
                .fill(0);
        }
        self.len = len;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), MemError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_buffer_device() {
        let mut buf = [0xffu8; 16];
        let mut io = SliceIo::new(&mut buf, 0);
        io.write_at(4, b"ab").unwrap();
        assert_eq!(io.as_bytes(), &[0, 0, 0, 0, b'a', b'b']);
        let mut out = [0u8; 2];
        io.read_at(4, &mut out).unwrap();
        assert_eq!(&out, b"ab");
        assert_eq!(io.read_at(5, &mut out), Err(MemError::UnexpectedEof));
        assert_eq!(io.write_at(15, b"xy"), Err(MemError::CapacityExceeded));
        io.set_len(2).unwrap();
        io.set_len(5).unwrap();
        assert_eq!(io.as_bytes(), &[0; 5]);
        assert_eq!(io.set_len(17), Err(MemError::CapacityExceeded));
    }
}

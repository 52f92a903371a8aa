//! A growable in-memory device.

use alloc::vec::Vec;

use super::{check_read, ErrorType, MemError, ShareIo};

/// A container in a `Vec<u8>`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VecIo {
    /// The container's bytes.
    pub data: Vec<u8>,
}

impl VecIo {
    /// An empty device.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A device holding `data`.
    #[must_use]
    pub fn from_vec(data: Vec<u8>) -> Self {
        Self { data }
    }
}

fn to_usize(v: u64) -> Result<usize, MemError> {
    usize::try_from(v).map_err(|_| MemError::Overflow)
}

impl ErrorType for VecIo {
    type Error = MemError;
}

impl ShareIo for VecIo {
    fn len(&mut self) -> Result<u64, MemError> {
        Ok(self.data.len() as u64)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), MemError> {
        check_read(self.data.len() as u64, offset, buf.len())?;
        let start = to_usize(offset)?;
        let src = self
            .data
            .get(start..start + buf.len())
            .ok_or(MemError::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), MemError> {
        let start = to_usize(offset)?;
        let end = start.checked_add(data.len()).ok_or(MemError::Overflow)?;
        if end > self.data.len() {
            self.data
                .try_reserve(end - self.data.len())
                .map_err(|_| MemError::CapacityExceeded)?;
            self.data.resize(end, 0);
        }
        self.data
            .get_mut(start..end)
            .ok_or(MemError::Overflow)?
            .copy_from_slice(data);
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> Result<(), MemError> {
        let len = to_usize(len)?;
        if len > self.data.len() {
            self.data
                .try_reserve(len - self.data.len())
                .map_err(|_| MemError::CapacityExceeded)?;
        }
        self.data.resize(len, 0);
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
    fn growable_device() {
        let mut io = VecIo::new();
        io.write_at(3, b"xy").unwrap();
        assert_eq!(io.data, [0, 0, 0, b'x', b'y']);
        let mut b = [0u8; 3];
        assert_eq!(io.read_at(3, &mut b), Err(MemError::UnexpectedEof));
        assert_eq!(io.read_at(u64::MAX, &mut b), Err(MemError::Overflow));
        io.set_len(1).unwrap();
        assert_eq!(io.len(), Ok(1));
    }
}

//! The test and write vectors of one mutable write (Tahoe's `tw_vectors`), and the builder
//! that makes them from the plain values a binding receives.
//!
//! [`SlotWrite`] borrows its tests and writes, so a caller that receives nested arrays
//! (C structs, Python tuples) needs somewhere to keep the converted entries while the call
//! runs. [`SlotWrites`] is that place: entries go into two flat vectors, each share keeps
//! its range of them, and [`SlotWrites::build`] checks what the server does not (share
//! numbers as plain integers) and hands out the `SlotWrite`s.

#[cfg(feature = "alloc")]
use alloc::vec::Vec;
#[cfg(feature = "alloc")]
use core::fmt;
#[cfg(feature = "alloc")]
use core::ops::Range;

#[cfg(feature = "alloc")]
use super::TestOperator;
use super::TestVector;
#[cfg(feature = "alloc")]
use crate::error::Error;
use crate::types::ShareNumber;

/// The test, write vectors and new length for one share of a mutable write.
#[derive(Debug, Clone, Copy)]
pub struct SlotWrite<'a> {
    /// The share.
    pub share_number: ShareNumber,
    /// Tests that must all pass (for every share of the call) before anything is
    /// written. A missing share reads as empty.
    pub tests: &'a [TestVector<'a>],
    /// `(offset, data)` writes, applied in order.
    pub writes: &'a [(u64, &'a [u8])],
    /// `Some(0)` deletes the share; a smaller length truncates the data; a larger one
    /// is ignored; `None` leaves the length as the writes make it.
    pub new_length: Option<u64>,
}

/// Why [`SlotWrites::build`] refused the vectors.
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlotWriteError {
    /// A share number above 255 (the one given).
    ShareNumberOutOfRange(u32),
}

#[cfg(feature = "alloc")]
impl fmt::Display for SlotWriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ShareNumberOutOfRange(n) => write!(f, "share number {n} is not 0 to 255"),
        }
    }
}

#[cfg(feature = "alloc")]
impl core::error::Error for SlotWriteError {}

#[cfg(feature = "alloc")]
impl<E> From<SlotWriteError> for Error<E> {
    fn from(e: SlotWriteError) -> Self {
        match e {
            SlotWriteError::ShareNumberOutOfRange(_) => {
                Error::InvalidArgument("share number above 255")
            }
        }
    }
}

/// One share's entry while it is built: its ranges of the flat vectors.
#[cfg(feature = "alloc")]
#[derive(Debug)]
struct Entry {
    share_number: u32,
    new_length: Option<u64>,
    tests: Range<usize>,
    writes: Range<usize>,
}

/// The test-and-write vectors of one call, built share by share from plain values, with
/// nothing borrowed but the specimens and data.
///
/// ```
/// use tahoe_shares::container::{SlotWrites, TestOperator};
/// use tahoe_shares::ShareNumber;
///
/// let mut vectors = SlotWrites::new();
/// vectors.share(3, None).test(0, 2, TestOperator::Eq, b"").write(0, b"hi");
/// vectors.share(5, Some(0));
/// let writes = vectors.build()?;
/// assert_eq!(writes[0].share_number, ShareNumber(3));
/// assert_eq!(writes[0].writes, &[(0, &b"hi"[..])]);
/// assert!(writes[1].tests.is_empty() && writes[1].new_length == Some(0));
/// let mut bad = SlotWrites::new();
/// bad.share(256, None);
/// assert!(bad.build().is_err());
/// # Ok::<(), tahoe_shares::container::SlotWriteError>(())
/// ```
#[cfg(feature = "alloc")]
#[derive(Debug, Default)]
pub struct SlotWrites<'a> {
    tests: Vec<TestVector<'a>>,
    writes: Vec<(u64, &'a [u8])>,
    shares: Vec<Entry>,
}

#[cfg(feature = "alloc")]
impl<'a> SlotWrites<'a> {
    /// No entries yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts the entry of share `share_number` (checked by [`SlotWrites::build`], so that
    /// a caller converting nested input meets its own conversion errors first); the tests
    /// and writes added through the answer are that share's, in order. Entries keep the
    /// order they are started in.
    pub fn share(&mut self, share_number: u32, new_length: Option<u64>) -> ShareVectors<'_, 'a> {
        let (tests, writes) = (self.tests.len(), self.writes.len());
        self.shares.push(Entry {
            share_number,
            new_length,
            tests: tests..tests,
            writes: writes..writes,
        });
        ShareVectors { set: self }
    }

    /// The entries as the server takes them.
    ///
    /// # Errors
    ///
    /// [`SlotWriteError::ShareNumberOutOfRange`] for the first share number above 255.
    pub fn build(&self) -> Result<Vec<SlotWrite<'_>>, SlotWriteError> {
        self.shares
            .iter()
            .map(|e| {
                let share_number = u8::try_from(e.share_number)
                    .map(ShareNumber)
                    .map_err(|_| SlotWriteError::ShareNumberOutOfRange(e.share_number))?;
                Ok(SlotWrite {
                    share_number,
                    // The ranges are within the vectors by construction: each only ever
                    // ends where its vector ends at the time.
                    tests: self.tests.get(e.tests.clone()).unwrap_or_default(),
                    writes: self.writes.get(e.writes.clone()).unwrap_or_default(),
                    new_length: e.new_length,
                })
            })
            .collect()
    }
}

/// Adds tests and writes to the share [`SlotWrites::share`] started.
#[cfg(feature = "alloc")]
#[derive(Debug)]
pub struct ShareVectors<'s, 'a> {
    set: &'s mut SlotWrites<'a>,
}

#[cfg(feature = "alloc")]
impl<'a> ShareVectors<'_, 'a> {
    /// Adds a test: read `length` bytes at `offset` (truncated at the end of the data)
    /// and compare them with `specimen` by `operator`.
    pub fn test(
        &mut self,
        offset: u64,
        length: u64,
        operator: TestOperator,
        specimen: &'a [u8],
    ) -> &mut Self {
        self.set.tests.push(TestVector {
            offset,
            length,
            operator,
            specimen,
        });
        let end = self.set.tests.len();
        if let Some(e) = self.set.shares.last_mut() {
            e.tests.end = end;
        }
        self
    }

    /// Adds a write of `data` at `offset`, applied after those added before it.
    pub fn write(&mut self, offset: u64, data: &'a [u8]) -> &mut Self {
        self.set.writes.push((offset, data));
        let end = self.set.writes.len();
        if let Some(e) = self.set.shares.last_mut() {
            e.writes.end = end;
        }
        self
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn entries_keep_their_own_vectors_in_order() {
        let mut v = SlotWrites::new();
        v.share(7, Some(10))
            .test(1, 2, TestOperator::Eq, b"ab")
            .test(3, 0, TestOperator::Eq, b"")
            .write(0, b"x");
        v.share(2, None);
        v.share(255, None).write(5, b"yz").write(9, b"");
        let w = v.build().unwrap();
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].share_number, ShareNumber(7));
        assert_eq!(w[0].new_length, Some(10));
        assert_eq!(
            w[0].tests
                .iter()
                .map(|t| (t.offset, t.length, t.specimen))
                .collect::<Vec<_>>(),
            [(1, 2, &b"ab"[..]), (3, 0, &b""[..])]
        );
        assert_eq!(w[0].writes, &[(0, &b"x"[..])]);
        assert_eq!(w[1].share_number, ShareNumber(2));
        assert!(w[1].tests.is_empty() && w[1].writes.is_empty() && w[1].new_length.is_none());
        assert!(w[2].tests.is_empty());
        assert_eq!(w[2].writes, &[(5, &b"yz"[..]), (9, &b""[..])]);
    }

    #[test]
    fn share_numbers_are_checked_when_built() {
        let mut v = SlotWrites::new();
        v.share(0, None);
        v.share(300, None).write(0, b"a");
        v.share(256, None);
        let e = v.build().unwrap_err();
        assert_eq!(e, SlotWriteError::ShareNumberOutOfRange(300));
        assert_eq!(e.to_string(), "share number 300 is not 0 to 255");
        assert!(matches!(
            Error::<()>::from(e),
            Error::InvalidArgument("share number above 255")
        ));
        assert!(SlotWrites::new().build().unwrap().is_empty());
    }
}

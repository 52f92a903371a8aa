//! Corruption advisories: clients' reports that a share is corrupt.

use core::fmt::Write as _;

use super::time::{AdvisoryTime, NameBuf};
use super::{AdviseOutcome, Server};
use crate::error::{Error, Limit, Result};
use crate::store::{ShareStore, StoreError};
use crate::types::{ShareNumber, StorageIndex};

impl<S: ShareStore> Server<S> {
    /// Records a client's report that a share is corrupt, in Tahoe's text format, named
    /// `<ISO-8601 UTC time without colons>--<storage index>-<share number>` (a `.N`
    /// suffix is added if that name is taken; Tahoe would overwrite). Both texts must be
    /// UTF-8, as Tahoe decodes them, when the share is held.
    ///
    /// `shnum` is any share number a client may send (Tahoe's wire takes any integer): one
    /// above 255 names no share that can exist, so its report is not held, as Tahoe finds
    /// no such file.
    ///
    /// # Errors
    ///
    /// [`Error::NotUtf8`] for text that is not UTF-8 (the share type is checked first, as
    /// Tahoe decodes it first);
    /// [`Limit::AdvisorySize`] for a report over the configured size; store errors.
    pub fn advise_corrupt_share(
        &mut self,
        share_type: &[u8],
        si: &StorageIndex,
        shnum: impl Into<u64>,
        reason: &[u8],
        now: u64,
    ) -> Result<AdviseOutcome, S::Error> {
        let Ok(shnum) = ShareNumber::from_u64(shnum.into()) else {
            return Ok(AdviseOutcome::NotHeld);
        };
        // Tahoe looks for the share before decoding: a report about a share not held is
        // dropped whatever its text.
        if !self.store.list(si)?.contains(shnum) {
            return Ok(AdviseOutcome::NotHeld);
        }
        let share_type = core::str::from_utf8(share_type).map_err(|error| Error::NotUtf8 {
            field: "share type",
            error,
        })?;
        let reason = core::str::from_utf8(reason).map_err(|error| Error::NotUtf8 {
            field: "reason",
            error,
        })?;
        let si_s = si.to_base32();
        let si_s = si_s.as_str();
        let mut report = alloc::string::String::new();
        let _ = write!(
            report,
            "report: Share Corruption\ntype: {share_type}\nstorage_index: {si_s}\nshare_number: {}\n\n{reason}\n\n",
            shnum.0
        );
        if report.len() > self.config.max_advisory_size {
            return Err(Error::LimitReached(Limit::AdvisorySize));
        }
        if let Some(space) = self.available_space()? {
            if report.len() as u64 > space {
                return Ok(AdviseOutcome::NoSpace);
            }
        }
        for attempt in 0..100u32 {
            let mut name = NameBuf(heapless::String::new());
            let _ = write!(name, "{}--{si_s}-{}", AdvisoryTime(now), shnum.0);
            if attempt > 0 {
                let _ = write!(name, ".{attempt}");
            }
            match self.store.write_advisory(&name.0, report.as_bytes()) {
                Ok(()) => return Ok(AdviseOutcome::Recorded),
                Err(StoreError::AlreadyExists) => {}
                // A full filesystem drops the report, as too little space does above
                // (the store leaves no partial file).
                Err(StoreError::Io(e)) if S::is_no_space(&e) => return Ok(AdviseOutcome::NoSpace),
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::AlreadyExists)
    }
}

//! Calendar arithmetic for the one place the core writes a date: corruption advisory
//! names. No clock: the caller passes the time.

use core::fmt::{self, Write};

/// A UTC instant in whole seconds since the Unix epoch, formatted as Tahoe names
/// advisories: `time_format.iso_utc(sep="T")` with the colons removed, e.g.
/// `2026-11-22T083015`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvisoryTime(pub u64);

/// Converts days since 1970-01-01 to `(year, month, day)` in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`): day 0 is `(1970, 1, 1)`, day -1 is
/// `(1969, 12, 31)`. Month and day count from 1.
///
/// Total: it never panics. Every count gives its exact date except the last 719,468 below
/// `i64::MAX` (some 25 quadrillion years on), which are clamped to one date.
///
/// The core names corruption advisories with it ([`AdvisoryTime`]); the command line
/// tool dates lease expiry times with it.
#[must_use]
// Day and month are in 1..=31 and 1..=12 by construction.
#[allow(clippy::cast_sign_loss)]
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift the epoch to 0000-03-01, so that leap days fall at the end of a year.
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    // Months counted from March: 0 is March, 11 is February.
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl fmt::Display for AdvisoryTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0;
        let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}{:02}{:02}",
            rem / 3600,
            (rem / 60) % 60,
            rem % 60
        )
    }
}

/// A fixed-capacity string for names built without allocating.
pub(crate) struct NameBuf(pub heapless::String<96>);

impl Write for NameBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.push_str(s).map_err(|()| fmt::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn formats_like_tahoe() {
        // Python: datetime.datetime.utcfromtimestamp(0).isoformat("T") == "1970-01-01T00:00:00"
        assert_eq!(AdvisoryTime(0).to_string(), "1970-01-01T000000");
        // utcfromtimestamp(1795336215) == 2026-11-22 08:30:15
        assert_eq!(AdvisoryTime(1_795_336_215).to_string(), "2026-11-22T083015");
        // A leap day: 2024-02-29 23:59:59 == 1709251199
        assert_eq!(AdvisoryTime(1_709_251_199).to_string(), "2024-02-29T235959");
    }

    #[test]
    fn days_are_consecutive() {
        // Walk every day a u32 of seconds reaches (the lease expiry times the command line
        // tool dates) and check that each follows the one before.
        let mut prev = civil_from_days(0);
        assert_eq!(prev, (1970, 1, 1));
        for days in 1..=i64::from(u32::MAX / 86_400) {
            let next = civil_from_days(days);
            let (y, m, d) = prev;
            let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
            let month_len = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            let expected = if d < month_len {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
            assert_eq!(next, expected, "day {days}");
            prev = next;
        }
    }

    #[test]
    fn extreme_day_counts_do_not_panic() {
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        // Clamped, not overflowed: any answer is a valid date.
        for days in [i64::MIN, i64::MAX] {
            let (_, m, d) = civil_from_days(days);
            assert!((1..=12).contains(&m) && (1..=31).contains(&d), "{days}");
        }
    }
}

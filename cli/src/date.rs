//! UTC calendar dates for lease expiry times, without a date library.

use core::fmt;

/// A lease expiry time (seconds since the Unix epoch) shown as `YYYY-MM-DD HH:MM:SS UTC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc(pub u32);

/// The proleptic Gregorian date `(year, month, day)` of `days` days after 1970-01-01.
///
/// Howard Hinnant's `civil_from_days`, restricted to non-negative day counts (a `u32`
/// of seconds never reaches before the epoch), so that everything stays unsigned.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01, so that leap days fall at the end of a year.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March: 0 is March, 11 is February.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Utc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = u64::from(self.0);
        let (year, month, day) = civil_from_days(secs / 86_400);
        let in_day = secs % 86_400;
        write!(
            f,
            "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
            in_day / 3600,
            in_day / 60 % 60,
            in_day % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        // Each checked with Python's datetime.fromtimestamp(t, datetime.UTC).
        for (t, text) in [
            (0, "1970-01-01 00:00:00 UTC"),
            (946_684_799, "1999-12-31 23:59:59 UTC"),
            (951_782_400, "2000-02-29 00:00:00 UTC"),
            (1_702_678_400, "2023-12-15 22:13:20 UTC"),
            (1_802_678_400, "2027-02-15 08:00:00 UTC"),
            (u32::MAX, "2106-02-07 06:28:15 UTC"),
        ] {
            assert_eq!(Utc(t).to_string(), text, "{t}");
        }
    }

    #[test]
    fn days_are_consecutive() {
        // Walk every day of the u32 range and check that each follows the one before.
        let mut prev = civil_from_days(0);
        assert_eq!(prev, (1970, 1, 1));
        for days in 1..=u64::from(u32::MAX) / 86_400 {
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
}

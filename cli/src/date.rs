//! UTC calendar dates for lease expiry times, without a date library.

use core::fmt;

use tahoe_shares::server::time::civil_from_days;

/// A lease expiry time (seconds since the Unix epoch) shown as `YYYY-MM-DD HH:MM:SS UTC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc(pub u32);

impl fmt::Display for Utc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = civil_from_days(i64::from(self.0 / 86_400));
        let in_day = self.0 % 86_400;
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
}

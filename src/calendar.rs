//! Time in Japan Standard Time (CAL-01, CAL-06).
//!
//! Every instant is a `DateTime<Utc>`; every *date* of the rules is a JST calendar date, so the
//! day `D` runs from `D 00:00:00+09:00` up to, not including, `D+1 00:00:00+09:00` (CAL-01).

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An instant: the type every transition takes as `now`.
pub type Instant = DateTime<Utc>;

/// Japan Standard Time, UTC+09:00, no daylight saving.
///
/// # Example
/// ```
/// assert_eq!(kaigo_seikyu::calendar::jst().local_minus_utc(), 9 * 3600);
/// ```
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("constant offset")
}

/// The JST calendar date of an instant (CAL-01): from 15:00 UTC an instant is on the next JST date.
///
/// # Example
/// ```
/// use kaigo_seikyu::calendar::{date_of, utc};
/// assert_eq!(date_of(utc("2026-01-31T14:59:59Z")).to_string(), "2026-01-31");
/// assert_eq!(date_of(utc("2026-01-31T15:00:00Z")).to_string(), "2026-02-01");
/// ```
pub fn date_of(instant: Instant) -> NaiveDate {
    instant.with_timezone(&jst()).date_naive()
}

/// The first instant of a JST date: `date 00:00:00+09:00`.
///
/// # Example
/// ```
/// use kaigo_seikyu::calendar::{start_of, utc};
/// let d = chrono::NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
/// assert_eq!(start_of(d), utc("2026-03-31T15:00:00Z"));
/// ```
pub fn start_of(date: NaiveDate) -> Instant {
    jst()
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .expect("a fixed offset has no gaps")
        .with_timezone(&Utc)
}

/// Whether the deadline `lifetime` after `start` has passed at `now` (`now >= start + lifetime`).
/// Checked arithmetic: a stored `start` so close to the end of time that the deadline cannot be
/// represented counts as passed, so a tampered or corrupt record expires instead of panicking or
/// living for ever.
///
/// # Example
/// ```
/// use kaigo_seikyu::calendar::{deadline_passed, utc, Instant};
/// let start = utc("2026-01-10T10:00:00+09:00");
/// let half_hour = chrono::TimeDelta::minutes(30);
/// assert!(!deadline_passed(utc("2026-01-10T10:29:59+09:00"), start, half_hour));
/// assert!(deadline_passed(utc("2026-01-10T10:30:00+09:00"), start, half_hour));
/// assert!(deadline_passed(start, Instant::MAX_UTC, half_hour));
/// ```
pub fn deadline_passed(now: Instant, start: Instant, lifetime: chrono::TimeDelta) -> bool {
    start
        .checked_add_signed(lifetime)
        .is_none_or(|deadline| now >= deadline)
}

/// Parses an RFC 3339 instant, for examples and tests. Panics on bad input: use only on literals.
///
/// # Example
/// ```
/// let t = kaigo_seikyu::calendar::utc("2026-02-01T00:00:00+09:00");
/// assert_eq!(t.to_rfc3339(), "2026-01-31T15:00:00+00:00");
/// ```
pub fn utc(rfc3339: &str) -> Instant {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("bad instant literal {rfc3339:?}: {e}"))
        .with_timezone(&Utc)
}

/// An inclusive range of JST dates, e.g. the fee notice window 2026-01-01 ~ 2026-03-31 (CAL-03).
///
/// # Example
/// ```
/// use kaigo_seikyu::calendar::{DateRange, utc};
/// use chrono::NaiveDate;
/// let window = DateRange::new(
///     NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
///     NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
/// );
/// assert!(window.contains(utc("2026-03-31T23:59:59+09:00")));
/// assert!(!window.contains(utc("2026-04-01T00:00:00+09:00")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    /// The first day, inclusive.
    pub first: NaiveDate,
    /// The last day, inclusive.
    pub last: NaiveDate,
}

impl DateRange {
    /// The days from `first` to `last`, both inclusive.
    pub fn new(first: NaiveDate, last: NaiveDate) -> Self {
        DateRange { first, last }
    }

    /// Whether `instant` falls on one of the days, in JST.
    pub fn contains(&self, instant: Instant) -> bool {
        let d = date_of(instant);
        self.first <= d && d <= self.last
    }
}

/// A JST calendar month, e.g. of a management number (VAL-08).
///
/// # Example
/// ```
/// use kaigo_seikyu::calendar::{YearMonth, utc};
/// assert_eq!(YearMonth::of(utc("2026-01-31T15:00:00Z")).to_string(), "202602");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct YearMonth {
    year: u16,
    month: u8,
}

impl YearMonth {
    /// The month of a year, `None` unless year is 1000–9999 and month 1–12.
    ///
    /// # Example
    /// ```
    /// assert!(kaigo_seikyu::calendar::YearMonth::new(2026, 13).is_none());
    /// ```
    pub fn new(year: u16, month: u8) -> Option<Self> {
        ((1000..=9999).contains(&year) && (1..=12).contains(&month))
            .then_some(YearMonth { year, month })
    }

    /// The JST month an instant falls in.
    pub fn of(instant: Instant) -> Self {
        let d = date_of(instant);
        let year = u16::try_from(d.year()).unwrap_or(9999).clamp(1000, 9999);
        YearMonth {
            year,
            month: d.month() as u8,
        }
    }

    /// The year.
    pub fn year(self) -> u16 {
        self.year
    }

    /// The month, 1–12.
    pub fn month(self) -> u8 {
        self.month
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}{:02}", self.year, self.month)
    }
}

/// A date as the grace message prints it, zero-padded: `2026年01月31日` (CAL-06).
///
/// # Example
/// ```
/// let d = chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
/// assert_eq!(kaigo_seikyu::calendar::format_padded(d), "2026年01月31日");
/// ```
pub fn format_padded(date: NaiveDate) -> String {
    format!(
        "{:04}年{:02}月{:02}日",
        date.year(),
        date.month(),
        date.day()
    )
}

/// A date as the fee message prints it, not padded: `2026年4月1日` (CAL-06).
///
/// # Example
/// ```
/// let d = chrono::NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
/// assert_eq!(kaigo_seikyu::calendar::format_plain(d), "2026年4月1日");
/// ```
pub fn format_plain(date: NaiveDate) -> String {
    format!("{}年{}月{}日", date.year(), date.month(), date.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CAL-01: JST dates; a UTC instant falls on the next JST date from 15:00 UTC.
    #[test]
    fn cal_01_jst_dates() {
        assert_eq!(
            date_of(utc("2025-12-31T14:59:59.999Z")),
            NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()
        );
        assert_eq!(
            date_of(utc("2025-12-31T15:00:00Z")),
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
        );
        assert_eq!(
            date_of(utc("2026-01-31T23:59:59.999+09:00")),
            NaiveDate::from_ymd_opt(2026, 1, 31).unwrap()
        );
        assert_eq!(
            start_of(NaiveDate::from_ymd_opt(2026, 2, 1).unwrap()),
            utc("2026-01-31T15:00:00Z")
        );
        assert_eq!(
            YearMonth::of(utc("2026-01-31T14:59:59Z")).to_string(),
            "202601"
        );
        assert_eq!(
            YearMonth::of(utc("2026-01-31T15:00:00Z")).to_string(),
            "202602"
        );
    }

    /// CAL-06: padded for the grace message, plain for the fee message.
    #[test]
    fn cal_06_date_formats() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        assert_eq!(format_padded(d), "2026年01月31日");
        assert_eq!(format_plain(d), "2026年1月31日");
        let d = NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
        assert_eq!(format_plain(d), "2026年4月1日");
        assert_eq!(format_padded(d), "2026年04月01日");
    }
}

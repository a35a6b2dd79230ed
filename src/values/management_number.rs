//! 管理番号 of a reissue application (VAL-08).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::ValueError;
use crate::calendar::YearMonth;

/// A management number (管理番号): `U` + `YYYYMM` (JST month of receipt) + a 6-digit sequence from
/// 000001, e.g. `U202601000001` (VAL-08).
///
/// # Example
/// ```
/// use kaigo_seikyu::calendar::YearMonth;
/// use kaigo_seikyu::values::ManagementNumber;
/// let n = ManagementNumber::new(YearMonth::new(2026, 1).unwrap(), 1)?;
/// assert_eq!(n.to_string(), "U202601000001");
/// assert_eq!("U202601000001".parse::<ManagementNumber>()?, n);
/// # Ok::<(), kaigo_seikyu::values::ValueError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ManagementNumber {
    month: YearMonth,
    sequence: u32,
}

impl ManagementNumber {
    /// The highest sequence number of a month.
    pub const MAX_SEQUENCE: u32 = 999_999;

    /// The `sequence`-th number of `month`; the sequence is 1 to 999999.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::YearMonth, values::ManagementNumber};
    /// assert!(ManagementNumber::new(YearMonth::new(2026, 1).unwrap(), 1_000_000).is_err());
    /// ```
    pub fn new(month: YearMonth, sequence: u32) -> Result<Self, ValueError> {
        if (1..=Self::MAX_SEQUENCE).contains(&sequence) {
            Ok(ManagementNumber { month, sequence })
        } else {
            Err(ValueError::ManagementNumberFormat)
        }
    }

    /// The JST month of receipt.
    pub fn month(&self) -> YearMonth {
        self.month
    }

    /// The sequence within the month, from 1.
    pub fn sequence(&self) -> u32 {
        self.sequence
    }
}

impl FromStr for ManagementNumber {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let s = s.trim_matches(' ');
        let b = s.as_bytes();
        if b.len() != 13 || b[0] != b'U' || !b[1..].iter().all(u8::is_ascii_digit) {
            return Err(ValueError::ManagementNumberFormat);
        }
        let year: u16 = s[1..5]
            .parse()
            .map_err(|_| ValueError::ManagementNumberFormat)?;
        let month: u8 = s[5..7]
            .parse()
            .map_err(|_| ValueError::ManagementNumberFormat)?;
        let sequence: u32 = s[7..]
            .parse()
            .map_err(|_| ValueError::ManagementNumberFormat)?;
        let month = YearMonth::new(year, month).ok_or(ValueError::ManagementNumberFormat)?;
        ManagementNumber::new(month, sequence)
    }
}

impl fmt::Display for ManagementNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "U{}{:06}", self.month, self.sequence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// VAL-08: U + YYYYMM + 6 digits from 000001.
    #[test]
    fn val_08_management_number_shape() {
        let n: ManagementNumber = "U202601000001".parse().unwrap();
        assert_eq!(n.sequence(), 1);
        assert_eq!(n.month(), YearMonth::new(2026, 1).unwrap());
        let last = ManagementNumber::new(YearMonth::new(2026, 12).unwrap(), 999_999).unwrap();
        assert_eq!(last.to_string(), "U202612999999");
        for bad in [
            "U202601000000",
            "U202613000001",
            "U202600000001",
            "X202601000001",
            "U20260100001",
            "U2026010000011",
            "u202601000001",
            "",
            "U２０２６01000001",
        ] {
            assert_eq!(
                bad.parse::<ManagementNumber>(),
                Err(ValueError::ManagementNumberFormat),
                "{bad}"
            );
        }
        assert!(ManagementNumber::new(YearMonth::new(2026, 1).unwrap(), 0).is_err());
    }
}

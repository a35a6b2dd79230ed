//! Yen amounts, printed as the source prints them (CAL-06).

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount of yen. `Display` prints a comma every three digits and `円`: `13,200円` (CAL-06).
///
/// # Example
/// ```
/// use kaigo_seikyu::values::Yen;
/// assert_eq!(Yen(13_200).to_string(), "13,200円");
/// assert_eq!(Yen(7_800).to_string(), "7,800円");
/// assert_eq!(Yen(0).to_string(), "0円");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Yen(pub u32);

impl fmt::Display for Yen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.to_string();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                f.write_str(",")?;
            }
            write!(f, "{c}")?;
        }
        f.write_str("円")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CAL-06: amounts with a comma and 円.
    #[test]
    fn cal_06_yen_format() {
        assert_eq!(Yen(13_200).to_string(), "13,200円");
        assert_eq!(Yen(7_800).to_string(), "7,800円");
        assert_eq!(Yen(999).to_string(), "999円");
        assert_eq!(Yen(1_000).to_string(), "1,000円");
        assert_eq!(Yen(1_234_567).to_string(), "1,234,567円");
    }
}

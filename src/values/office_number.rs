//! 事業所番号 (VAL-01).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::{Prefecture, ValueError};

/// An office number (事業所番号): 10 characters, a prefecture code 01–47, then a digit or an
/// uppercase letter other than I, O, Q, then 7 digits (VAL-01). Surrounding ASCII spaces are trimmed.
///
/// The last digit is meant to be a modulus-10 check digit, but the source's own example
/// `1311111111` fails it, so [`OfficeNumber::check_digit_ok`] is information only.
///
/// # Example
/// ```
/// use kaigo_seikyu::values::{OfficeNumber, Prefecture};
/// let n: OfficeNumber = "1311111111".parse()?;
/// assert_eq!(n.prefecture(), Prefecture::TOKYO);
/// assert!(!n.check_digit_ok()); // accepted all the same
/// # Ok::<(), kaigo_seikyu::values::ValueError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OfficeNumber([u8; 10]);

impl OfficeNumber {
    /// The prefecture of positions 1–2 (where the office is, not necessarily where it bills).
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::values::{OfficeNumber, Prefecture};
    /// let n: OfficeNumber = "2712345678".parse().unwrap();
    /// assert_eq!(n.prefecture(), Prefecture::OSAKA);
    /// ```
    pub fn prefecture(&self) -> Prefecture {
        let code = (self.0[0] - b'0') * 10 + (self.0[1] - b'0');
        Prefecture::from_code(code).expect("checked when parsed")
    }

    /// The office number as text.
    ///
    /// # Example
    /// ```
    /// let n: kaigo_seikyu::values::OfficeNumber = "13A1111111".parse().unwrap();
    /// assert_eq!(n.as_str(), "13A1111111");
    /// ```
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII when parsed")
    }

    /// Whether the last digit is the modulus-10 check digit (weights 2, 1 from the right, digit
    /// sums; letters A=10 … Z=32 skipping I, O, Q). Information only: never a reason to reject.
    ///
    /// # Example
    /// ```
    /// let n: kaigo_seikyu::values::OfficeNumber = "1311111114".parse().unwrap();
    /// assert!(n.check_digit_ok());
    /// ```
    pub fn check_digit_ok(&self) -> bool {
        let sum: u32 = self.0[..9]
            .iter()
            .rev()
            .enumerate()
            .map(|(i, &c)| {
                let weight = if i % 2 == 0 { 2 } else { 1 };
                let product = char_value(c) * weight;
                product / 10 + product % 10
            })
            .sum();
        (10 - sum % 10) % 10 == u32::from(self.0[9] - b'0')
    }
}

/// A character's value for the check digit: digits as themselves, A=10 … Z=32 skipping I, O, Q.
fn char_value(c: u8) -> u32 {
    match c {
        b'0'..=b'9' => u32::from(c - b'0'),
        _ => {
            let skipped = [b'I', b'O', b'Q'].iter().filter(|&&s| s < c).count() as u32;
            10 + u32::from(c - b'A') - skipped
        }
    }
}

impl FromStr for OfficeNumber {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let s = s.trim_matches(' ');
        let bytes: [u8; 10] = s
            .as_bytes()
            .try_into()
            .map_err(|_| ValueError::OfficeNumberLength)?;
        if !s.is_ascii() {
            return Err(ValueError::OfficeNumberCharacter);
        }
        if !bytes[..2].iter().all(u8::is_ascii_digit) {
            return Err(ValueError::OfficeNumberPrefecture);
        }
        Prefecture::from_code((bytes[0] - b'0') * 10 + (bytes[1] - b'0'))
            .map_err(|_| ValueError::OfficeNumberPrefecture)?;
        let third_ok = bytes[2].is_ascii_digit()
            || (bytes[2].is_ascii_uppercase() && !matches!(bytes[2], b'I' | b'O' | b'Q'));
        if !third_ok || !bytes[3..].iter().all(u8::is_ascii_digit) {
            return Err(ValueError::OfficeNumberCharacter);
        }
        Ok(OfficeNumber(bytes))
    }
}

impl fmt::Display for OfficeNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// VAL-01: the shape is enforced, one error per broken part.
    #[test]
    fn val_01_office_number_shape() {
        assert!("1311111111".parse::<OfficeNumber>().is_ok());
        assert!(" 13A1111111 ".parse::<OfficeNumber>().is_ok());
        assert_eq!(
            "131111111".parse::<OfficeNumber>(),
            Err(ValueError::OfficeNumberLength)
        );
        assert_eq!(
            "13111111111".parse::<OfficeNumber>(),
            Err(ValueError::OfficeNumberLength)
        );
        assert_eq!(
            "".parse::<OfficeNumber>(),
            Err(ValueError::OfficeNumberLength)
        );
        assert_eq!(
            "0011111111".parse::<OfficeNumber>(),
            Err(ValueError::OfficeNumberPrefecture)
        );
        assert_eq!(
            "4811111111".parse::<OfficeNumber>(),
            Err(ValueError::OfficeNumberPrefecture)
        );
        assert_eq!(
            "A311111111".parse::<OfficeNumber>(),
            Err(ValueError::OfficeNumberPrefecture)
        );
        for bad in [
            "13I1111111",
            "13O1111111",
            "13Q1111111",
            "13a1111111",
            "131A111111",
            "131111111A",
        ] {
            assert_eq!(
                bad.parse::<OfficeNumber>(),
                Err(ValueError::OfficeNumberCharacter),
                "{bad}"
            );
        }
        // Full-width digits are 3 bytes each: never 10 bytes of ASCII.
        assert!("１３１１１１１１１１".parse::<OfficeNumber>().is_err());
        assert!("13１1111111".parse::<OfficeNumber>().is_err());
    }

    /// VAL-01: the check digit is computed, and the source's example fails it yet is accepted.
    #[test]
    fn val_01_check_digit_is_information_only() {
        let source: OfficeNumber = "1311111111".parse().unwrap();
        assert!(!source.check_digit_ok());
        // 1,3,1,1,1,1,1,1,1 weighted 2,1,… from the right: 2+3+2+1+2+1+2+1+2 = 16 → 4.
        assert!(
            "1311111114"
                .parse::<OfficeNumber>()
                .unwrap()
                .check_digit_ok()
        );
        // A letter in position 3: A=10, weight 2 → 20 → digit sum 2; total again 16 → 4.
        assert!(
            !"13A1111111"
                .parse::<OfficeNumber>()
                .unwrap()
                .check_digit_ok()
        );
        assert!(
            "13A1111114"
                .parse::<OfficeNumber>()
                .unwrap()
                .check_digit_ok()
        );
        // Letters skip I, O, Q: Z is 32.
        assert_eq!(char_value(b'A'), 10);
        assert_eq!(char_value(b'H'), 17);
        assert_eq!(char_value(b'J'), 18);
        assert_eq!(char_value(b'P'), 23);
        assert_eq!(char_value(b'R'), 24);
        assert_eq!(char_value(b'Z'), 32);
    }
}

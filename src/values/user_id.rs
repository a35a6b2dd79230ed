//! ユーザID (VAL-03).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::{OfficeNumber, Prefecture, ValueError};

/// An office's user ID (ユーザID): `KJ` + the billing prefecture's 2-digit code + the office number,
/// e.g. `KJ131311111111` (VAL-03). One office may hold user IDs in several billing prefectures.
///
/// # Example
/// ```
/// use kaigo_seikyu::values::{OfficeNumber, Prefecture, UserId};
/// let office: OfficeNumber = "1311111111".parse()?;
/// let id = UserId::new(Prefecture::TOKYO, office);
/// assert_eq!(id.to_string(), "KJ131311111111");
/// assert_eq!("KJ131311111111".parse::<UserId>()?, id);
/// # Ok::<(), kaigo_seikyu::values::ValueError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId {
    billing: Prefecture,
    office: OfficeNumber,
}

impl UserId {
    /// The user ID of `office` billing to `billing`.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::values::{Prefecture, UserId};
    /// let id = UserId::new(Prefecture::OSAKA, "1311111111".parse().unwrap());
    /// assert_eq!(id.to_string(), "KJ271311111111");
    /// ```
    pub fn new(billing: Prefecture, office: OfficeNumber) -> Self {
        UserId { billing, office }
    }

    /// The billing prefecture (請求先都道府県).
    ///
    /// # Example
    /// ```
    /// let id: kaigo_seikyu::values::UserId = "KJ271311111111".parse().unwrap();
    /// assert_eq!(id.billing().name(), "大阪府");
    /// ```
    pub fn billing(&self) -> Prefecture {
        self.billing
    }

    /// The office number.
    ///
    /// # Example
    /// ```
    /// let id: kaigo_seikyu::values::UserId = "KJ271311111111".parse().unwrap();
    /// assert_eq!(id.office().as_str(), "1311111111");
    /// ```
    pub fn office(&self) -> OfficeNumber {
        self.office
    }
}

impl FromStr for UserId {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let s = s.trim_matches(' ');
        if s.len() != 14 || !s.is_ascii() || !s.starts_with("KJ") {
            return Err(ValueError::UserIdFormat);
        }
        let billing = s[2..4].parse().map_err(|_| ValueError::UserIdFormat)?;
        let office = s[4..].parse().map_err(|_| ValueError::UserIdFormat)?;
        Ok(UserId { billing, office })
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KJ{}{}", self.billing, self.office)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// VAL-03: KJ + billing prefecture + office number, 14 characters.
    #[test]
    fn val_03_user_id_shape() {
        let id: UserId = "KJ131311111111".parse().unwrap();
        assert_eq!(id.billing(), Prefecture::TOKYO);
        assert_eq!(id.office().as_str(), "1311111111");
        assert_eq!(id.to_string().len(), 14);
        for bad in [
            "K1131311111111",
            "KJ001311111111",
            "KJ481311111111",
            "kj131311111111",
            "KJ13131111111",
            "KJ1313111111111",
            "",
            "ＫＪ131311111111",
            "KJ13131111111１",
        ] {
            assert_eq!(
                bad.parse::<UserId>(),
                Err(ValueError::UserIdFormat),
                "{bad}"
            );
        }
    }

    /// VAL-03: one office may hold user IDs in several billing prefectures.
    #[test]
    fn val_03_one_office_several_billing_prefectures() {
        let office: OfficeNumber = "1311111111".parse().unwrap();
        let tokyo = UserId::new(Prefecture::TOKYO, office);
        let osaka = UserId::new(Prefecture::OSAKA, office);
        assert_ne!(tokyo, osaka);
        assert_eq!(tokyo.office(), osaka.office());
        assert_eq!(osaka.to_string(), "KJ271311111111");
    }
}

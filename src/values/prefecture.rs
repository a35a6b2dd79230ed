//! 都道府県 and 請求先都道府県 (VAL-02): the 47 JIS X 0401 prefectures.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::ValueError;

/// A prefecture by its JIS X 0401 code, `01` 北海道 … `47` 沖縄県 (VAL-02).
///
/// As the billing prefecture (請求先都道府県) it also names the federation
/// (国保連合会) that reviews reissue applications.
///
/// # Example
/// ```
/// use kaigo_seikyu::values::Prefecture;
/// let tokyo: Prefecture = "13".parse()?;
/// assert_eq!(tokyo.name(), "東京都");
/// assert_eq!(tokyo.federation_name(), "東京都国民健康保険連合会");
/// # Ok::<(), kaigo_seikyu::values::ValueError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Prefecture(u8);

const NAMES: [&str; 47] = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
];

impl Prefecture {
    /// Every prefecture, in code order.
    ///
    /// # Example
    /// ```
    /// assert_eq!(kaigo_seikyu::values::Prefecture::all().count(), 47);
    /// ```
    pub fn all() -> impl Iterator<Item = Prefecture> {
        (1..=47).map(Prefecture)
    }

    /// The prefecture with this numeric code, 1 to 47.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::values::Prefecture;
    /// assert_eq!(Prefecture::from_code(47).unwrap().name(), "沖縄県");
    /// assert!(Prefecture::from_code(48).is_err());
    /// ```
    pub fn from_code(code: u8) -> Result<Self, ValueError> {
        if (1..=47).contains(&code) {
            Ok(Prefecture(code))
        } else {
            Err(ValueError::PrefectureCode)
        }
    }

    /// The numeric code, 1 to 47.
    ///
    /// # Example
    /// ```
    /// assert_eq!(kaigo_seikyu::values::Prefecture::TOKYO.code(), 13);
    /// ```
    pub fn code(self) -> u8 {
        self.0
    }

    /// The prefecture's name, e.g. `東京都`.
    ///
    /// # Example
    /// ```
    /// assert_eq!(kaigo_seikyu::values::Prefecture::TOKYO.name(), "東京都");
    /// ```
    pub fn name(self) -> &'static str {
        NAMES[usize::from(self.0 - 1)]
    }

    /// The federation's name as mails print it: the prefecture name + `国民健康保険連合会`.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::values::Prefecture;
    /// assert_eq!(Prefecture::OSAKA.federation_name(), "大阪府国民健康保険連合会");
    /// ```
    pub fn federation_name(self) -> String {
        format!("{}国民健康保険連合会", self.name())
    }

    /// 東京都 (13), the source's example prefecture.
    pub const TOKYO: Prefecture = Prefecture(13);
    /// 大阪府 (27).
    pub const OSAKA: Prefecture = Prefecture(27);
    /// 北海道 (01).
    pub const HOKKAIDO: Prefecture = Prefecture(1);
}

impl fmt::Display for Prefecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

impl fmt::Debug for Prefecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Prefecture({:02} {})", self.0, self.name())
    }
}

impl FromStr for Prefecture {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let b = s.as_bytes();
        if b.len() != 2 || !b.iter().all(u8::is_ascii_digit) {
            return Err(ValueError::PrefectureCode);
        }
        Prefecture::from_code((b[0] - b'0') * 10 + (b[1] - b'0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// VAL-02: all 47 codes with their names, and nothing else parses.
    #[test]
    fn val_02_all_47_prefectures() {
        let all: Vec<_> = Prefecture::all().collect();
        assert_eq!(all.len(), 47);
        assert_eq!("01".parse::<Prefecture>().unwrap().name(), "北海道");
        assert_eq!("13".parse::<Prefecture>().unwrap().name(), "東京都");
        assert_eq!("47".parse::<Prefecture>().unwrap().name(), "沖縄県");
        assert_eq!("26".parse::<Prefecture>().unwrap().name(), "京都府");
        for bad in ["00", "48", "1", "013", "", "１３", "ab", "99"] {
            assert!(bad.parse::<Prefecture>().is_err(), "{bad}");
        }
        for p in all {
            assert_eq!(p.to_string().parse::<Prefecture>().unwrap(), p);
        }
    }

    /// VAL-02: the federation's name in mails.
    #[test]
    fn val_02_federation_name() {
        assert_eq!(
            Prefecture::TOKYO.federation_name(),
            "東京都国民健康保険連合会"
        );
    }
}

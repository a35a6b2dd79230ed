//! The shared vocabulary: values parsed once at the edge (VAL-01 … VAL-09).
//!
//! Every parser here returns a [`ValueError`] for any input — empty, over-long, full-width,
//! arbitrary bytes — and never panics (SEC-06). Each error has an English `Display` for logs
//! and a Japanese [`ValueError::message`] for the screen.

/// A `Debug` that names the type around its text (`UserId(KJ131311111111)`), for the value
/// types whose text is no secret.
macro_rules! text_debug {
    ($($t:ty),+) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($t), "({})"), self)
            }
        }
    )+};
}

mod code;
mod email;
mod management_number;
mod office_number;
mod password;
mod prefecture;
mod user_id;
mod yen;

pub use code::{Code, ConfirmationCode, OneTimePassword};
pub use email::EmailAddress;
pub use management_number::ManagementNumber;
pub use office_number::OfficeNumber;
pub use password::{
    Password, PasswordClause, PasswordRules, SecurityCode, TemporaryPassword, password_symbols,
};
pub use prefecture::Prefecture;
pub use user_id::UserId;
pub use yen::Yen;

text_serde!(ValueError: EmailAddress, ManagementNumber, OfficeNumber, Prefecture, UserId);
text_debug!(EmailAddress, ManagementNumber, OfficeNumber, UserId);

/// Why a value did not parse. Carries no part of the rejected input, so an error never echoes a secret.
///
/// # Example
/// ```
/// use kaigo_seikyu::values::{OfficeNumber, ValueError};
/// let err = "131111111".parse::<OfficeNumber>().unwrap_err();
/// assert_eq!(err, ValueError::OfficeNumberLength);
/// assert_eq!(err.message(), "事業所番号は10桁で入力してください。");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// VAL-01: an office number is exactly 10 characters.
    #[error("an office number is exactly 10 characters")]
    OfficeNumberLength,
    /// VAL-01: positions 1–2 are a prefecture code 01–47.
    #[error("an office number starts with a prefecture code 01-47")]
    OfficeNumberPrefecture,
    /// VAL-01: position 3 is a digit or an uppercase letter other than I, O, Q; positions 4–10 digits.
    #[error(
        "an office number has a digit or an uppercase letter (not I, O, Q) in position 3 and digits elsewhere"
    )]
    OfficeNumberCharacter,
    /// VAL-02: a prefecture code is two digits, 01 to 47.
    #[error("a prefecture code is two digits from 01 to 47")]
    PrefectureCode,
    /// VAL-03: a user ID is `KJ` + a 2-digit prefecture code + a 10-character office number.
    #[error("a user ID is KJ, a 2-digit prefecture code and a 10-character office number")]
    UserIdFormat,
    /// VAL-04: nothing was entered.
    #[error("the email address is empty")]
    EmailEmpty,
    /// VAL-04: full-width (全角) or other non-ASCII characters.
    #[error("the email address contains full-width or non-ASCII characters")]
    EmailNotAscii,
    /// VAL-04: more than 254 characters.
    #[error("the email address is longer than 254 characters")]
    EmailTooLong,
    /// VAL-04: not exactly one `@`, an empty local part, or a character not allowed in one.
    #[error(
        "the email address needs exactly one @ after a non-empty local part of allowed characters"
    )]
    EmailLocalPart,
    /// VAL-04: the domain is not one or more dot-separated labels of letters, digits and hyphens.
    #[error(
        "the email address's domain is not dot-separated labels of letters, digits and hyphens"
    )]
    EmailDomain,
    /// VAL-06: one clause of the password policy is broken.
    #[error("the password breaks the policy: {0}")]
    Password(PasswordClause),
    /// VAL-07: a confirmation code or one-time password is not the right number of half-width digits.
    #[error("the code must be exactly {digits} half-width digits")]
    CodeFormat {
        /// How many digits the code has: 4 for a confirmation code, 6 for a one-time password.
        digits: usize,
    },
    /// VAL-08: a management number is `U` + `YYYYMM` + a 6-digit sequence from 000001.
    #[error("a management number is U, YYYYMM and a 6-digit sequence from 000001")]
    ManagementNumberFormat,
}

impl ValueError {
    /// The Japanese message a screen shows for this error.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::values::{PasswordClause, ValueError};
    /// assert_eq!(
    ///     ValueError::Password(PasswordClause::NoDigit).message(),
    ///     "パスワードには数字を少なくとも1文字含めてください。"
    /// );
    /// ```
    pub fn message(&self) -> String {
        let text = match self {
            ValueError::OfficeNumberLength => "事業所番号は10桁で入力してください。",
            ValueError::OfficeNumberPrefecture => {
                "事業所番号の先頭2桁は都道府県番号（01～47）で入力してください。"
            }
            ValueError::OfficeNumberCharacter => "事業所番号は半角英数字で正しく入力してください。",
            ValueError::PrefectureCode => "都道府県を正しく選択してください。",
            ValueError::UserIdFormat => "ユーザIDを正しく入力してください。",
            ValueError::EmailEmpty => "メールアドレスを入力してください。",
            ValueError::EmailNotAscii => "メールアドレスは半角英数字記号で入力してください。",
            ValueError::EmailTooLong => "メールアドレスは254文字以内で入力してください。",
            ValueError::EmailLocalPart | ValueError::EmailDomain => {
                "メールアドレスの形式が正しくありません。"
            }
            ValueError::Password(clause) => return clause.message(),
            ValueError::CodeFormat { digits: 4 } => {
                "確認コードは4桁の数字を半角で入力してください。"
            }
            ValueError::CodeFormat { .. } => {
                "ワンタイムパスワードは6桁の数字を半角で入力してください。"
            }
            ValueError::ManagementNumberFormat => "管理番号の形式が正しくありません。",
        };
        text.to_owned()
    }
}

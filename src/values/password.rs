//! ログインパスワード, 仮パスワード and セキュリティコード (VAL-06, VAL-09, SEC-01).

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{UserId, ValueError};
use crate::random::below;

/// A password as the user typed it. Its `Debug` prints `***`; it is compared in constant time and
/// zeroized on drop (SEC-01). Any text is a `Password`; a *new* password must also pass
/// [`Password::check_policy`] (VAL-06).
///
/// # Example
/// ```
/// use kaigo_seikyu::values::{Password, PasswordRules, UserId};
/// let id: UserId = "KJ131311111111".parse()?;
/// let pw = Password::new("Sakura2026!");
/// assert_eq!(format!("{pw:?}"), "Password(***)");
/// assert!(pw.check_policy(&id, &PasswordRules::default()).is_ok());
/// # Ok::<(), kaigo_seikyu::values::ValueError>(())
/// ```
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

/// The numbers of the password policy (VAL-06, SEC-09): its length bounds, in characters.
/// The default is the source's 8 to 16.
///
/// # Example
/// ```
/// let rules = kaigo_seikyu::values::PasswordRules::default();
/// assert_eq!((rules.min_chars, rules.max_chars), (8, 16));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordRules {
    /// The fewest characters.
    pub min_chars: u8,
    /// The most characters.
    pub max_chars: u8,
}

impl Default for PasswordRules {
    fn default() -> Self {
        PasswordRules {
            min_chars: 8,
            max_chars: 16,
        }
    }
}

/// One clause of the password policy (VAL-06), so a screen can say which one was broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PasswordClause {
    /// Between the rules' bounds (8 to 16 characters by default).
    Length {
        /// The fewest characters.
        min: u8,
        /// The most characters.
        max: u8,
    },
    /// Only ASCII letters, digits and the 29 allowed symbols; no space.
    Characters,
    /// At least one letter.
    NoLetter,
    /// At least one digit.
    NoDigit,
    /// Not the user ID (compared ignoring ASCII case).
    SameAsUserId,
}

impl PasswordClause {
    /// The Japanese message for this clause.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::values::PasswordClause;
    /// assert_eq!(PasswordClause::SameAsUserId.message(), "ユーザIDと同じパスワードは入力できません。");
    /// ```
    pub fn message(self) -> String {
        match self {
            PasswordClause::Length { min, max } => format!("パスワードは{min}文字～{max}文字で入力してください。"),
            PasswordClause::Characters => {
                "パスワードに使用できない文字が含まれています。英字、数字、記号（!#$%&()*+,-./:;<=>?@[]^_`{|}~）で入力してください。".into()
            }
            PasswordClause::NoLetter => "パスワードには英字を少なくとも1文字含めてください。".into(),
            PasswordClause::NoDigit => "パスワードには数字を少なくとも1文字含めてください。".into(),
            PasswordClause::SameAsUserId => "ユーザIDと同じパスワードは入力できません。".into(),
        }
    }
}

impl fmt::Display for PasswordClause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordClause::Length { min, max } => write!(f, "it must be {min} to {max} characters"),
            PasswordClause::Characters => {
                f.write_str("it may hold only ASCII letters, digits and the symbols !#$%&()*+,-./:;<=>?@[]^_`{|}~")
            }
            PasswordClause::NoLetter => f.write_str("it must contain at least one letter"),
            PasswordClause::NoDigit => f.write_str("it must contain at least one digit"),
            PasswordClause::SameAsUserId => f.write_str("it must not be the user ID"),
        }
    }
}

/// The 29 symbols a password may hold (VAL-06): printable ASCII punctuation except `"` `'` `\`.
const SYMBOLS: &str = "!#$%&()*+,-./:;<=>?@[]^_`{|}~";

/// The 29 symbols a password may hold (VAL-06), in ASCII order.
///
/// # Example
/// ```
/// assert_eq!(kaigo_seikyu::values::password_symbols(), "!#$%&()*+,-./:;<=>?@[]^_`{|}~");
/// ```
pub fn password_symbols() -> &'static str {
    SYMBOLS
}

impl Password {
    /// Wraps what the user typed. Nothing is checked: use [`Password::check_policy`] for a new one.
    ///
    /// # Example
    /// ```
    /// let pw = kaigo_seikyu::values::Password::new("anything at all");
    /// assert_eq!(format!("{pw:?}"), "Password(***)");
    /// ```
    pub fn new(text: impl Into<String>) -> Self {
        Password(Zeroizing::new(text.into()))
    }

    /// Checks the password policy (VAL-06) for a new password of `user_id`, clause by clause in the
    /// order of [`PasswordClause`]; the first broken clause is the error. The length bounds come
    /// from the policy's [`PasswordRules`].
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::values::{Password, PasswordClause, PasswordRules, UserId, ValueError};
    /// let id: UserId = "KJ131311111111".parse()?;
    /// assert_eq!(
    ///     Password::new("abcdefgh").check_policy(&id, &PasswordRules::default()),
    ///     Err(ValueError::Password(PasswordClause::NoDigit))
    /// );
    /// # Ok::<(), ValueError>(())
    /// ```
    pub fn check_policy(&self, user_id: &UserId, rules: &PasswordRules) -> Result<(), ValueError> {
        let s = self.0.as_str();
        let (min, max) = (rules.min_chars, rules.max_chars);
        let clause = if !(usize::from(min)..=usize::from(max)).contains(&s.chars().count()) {
            Some(PasswordClause::Length { min, max })
        } else if !s
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || SYMBOLS.as_bytes().contains(&c))
        {
            Some(PasswordClause::Characters)
        } else if !s.bytes().any(|c| c.is_ascii_alphabetic()) {
            Some(PasswordClause::NoLetter)
        } else if !s.bytes().any(|c| c.is_ascii_digit()) {
            Some(PasswordClause::NoDigit)
        } else if s.eq_ignore_ascii_case(&user_id.to_string()) {
            Some(PasswordClause::SameAsUserId)
        } else {
            None
        };
        clause.map_or(Ok(()), |c| Err(ValueError::Password(c)))
    }

    /// Refuses a password longer than the rules allow (VAL-06, SEC-09) with the length clause's
    /// error, reading at most `max_chars + 1` characters. A password to *verify* goes through this
    /// before any hashing: no password the policy allows is that long, and hashing it would be work
    /// of the sender's choosing.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::values::{Password, PasswordClause, PasswordRules, ValueError};
    /// let rules = PasswordRules::default();
    /// assert!(Password::new("x".repeat(16)).check_max_length(&rules).is_ok());
    /// assert_eq!(
    ///     Password::new("x".repeat(17)).check_max_length(&rules),
    ///     Err(ValueError::Password(PasswordClause::Length { min: 8, max: 16 }))
    /// );
    /// ```
    pub fn check_max_length(&self, rules: &PasswordRules) -> Result<(), ValueError> {
        if self.0.chars().nth(usize::from(rules.max_chars)).is_some() {
            Err(ValueError::Password(PasswordClause::Length {
                min: rules.min_chars,
                max: rules.max_chars,
            }))
        } else {
            Ok(())
        }
    }

    /// Constant-time equality (SEC-01); only the length may leak.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::values::Password;
    /// assert!(Password::new("Abc12345").ct_eq(&Password::new("Abc12345")));
    /// assert!(!Password::new("Abc12345").ct_eq(&Password::new("Abc12346")));
    /// ```
    pub fn ct_eq(&self, other: &Password) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }

    /// The secret bytes, for hashing only.
    pub(crate) fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A security code (セキュリティコード) as typed at 【ログイン(セキュリティコード)】: secret like a password.
///
/// # Example
/// ```
/// let code = kaigo_seikyu::values::SecurityCode::new("7351");
/// assert_eq!(format!("{code:?}"), "SecurityCode(***)");
/// ```
#[derive(Clone)]
pub struct SecurityCode(Zeroizing<String>);

impl SecurityCode {
    /// Wraps what the user typed.
    ///
    /// # Example
    /// ```
    /// let _ = kaigo_seikyu::values::SecurityCode::new("7351");
    /// ```
    pub fn new(text: impl Into<String>) -> Self {
        SecurityCode(Zeroizing::new(text.into()))
    }

    /// The secret bytes, for hashing only.
    pub(crate) fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for SecurityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecurityCode(***)")
    }
}

/// A temporary password (仮パスワード) the system issues (VAL-09): 12 characters from the host's
/// CSPRNG, satisfying VAL-06. It is printed only on the reissue letter (RI-09).
///
/// Decision: drawn from letters and digits without the look-alikes `0 O o 1 l I`, since it is read
/// off paper: 56 symbols, about 69 bits.
///
/// # Example
/// ```
/// use kaigo_seikyu::values::{PasswordRules, TemporaryPassword, UserId};
/// let mut rng = rand::rng();
/// let temp = TemporaryPassword::generate(&mut rng);
/// assert_eq!(temp.reveal().len(), 12);
/// let id: UserId = "KJ131311111111".parse().unwrap();
/// assert!(temp.as_password().check_policy(&id, &PasswordRules::default()).is_ok());
/// assert_eq!(format!("{temp:?}"), "TemporaryPassword(***)");
/// ```
#[derive(Clone)]
pub struct TemporaryPassword(Password);

const TEMPORARY_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

impl TemporaryPassword {
    /// Draws a fresh temporary password: uniform over the 12-character strings of the alphabet that
    /// hold at least one letter and one digit.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        loop {
            let text: String = (0..12)
                .map(|_| {
                    char::from(
                        TEMPORARY_ALPHABET[below(rng, TEMPORARY_ALPHABET.len() as u32) as usize],
                    )
                })
                .collect();
            let text = Zeroizing::new(text);
            if text.bytes().any(|c| c.is_ascii_alphabetic())
                && text.bytes().any(|c| c.is_ascii_digit())
            {
                return TemporaryPassword(Password::new(text.as_str()));
            }
        }
    }

    /// The text, to print on the reissue letter (RI-09). Nowhere else.
    ///
    /// # Example
    /// ```
    /// let temp = kaigo_seikyu::values::TemporaryPassword::generate(&mut rand::rng());
    /// assert!(temp.reveal().chars().all(|c| c.is_ascii_alphanumeric()));
    /// ```
    pub fn reveal(&self) -> &str {
        self.0.0.as_str()
    }

    /// The same secret as a [`Password`], as the office will type it.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::values::TemporaryPassword;
    /// let temp = TemporaryPassword::generate(&mut rand::rng());
    /// assert!(temp.as_password().ct_eq(&kaigo_seikyu::values::Password::new(temp.reveal())));
    /// ```
    pub fn as_password(&self) -> Password {
        self.0.clone()
    }
}

impl fmt::Debug for TemporaryPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TemporaryPassword(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn id() -> UserId {
        "KJ131311111111".parse().unwrap()
    }

    fn clause(s: &str) -> Option<PasswordClause> {
        match Password::new(s).check_policy(&id(), &PasswordRules::default()) {
            Ok(()) => None,
            Err(ValueError::Password(c)) => Some(c),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }

    /// VAL-06: each clause has its own error.
    #[test]
    fn val_06_each_clause_has_its_own_error() {
        assert_eq!(clause("Abcdef12"), None);
        assert_eq!(clause("Abcdefghijklmn12"), None);
        let length = PasswordClause::Length { min: 8, max: 16 };
        assert_eq!(clause("Abcdef1"), Some(length));
        assert_eq!(clause("Abcdefghijklmno12"), Some(length));
        assert_eq!(clause(""), Some(length));
        assert_eq!(
            length.message(),
            "パスワードは8文字～16文字で入力してください。"
        );
        assert_eq!(clause("Abcdef 12"), Some(PasswordClause::Characters));
        assert_eq!(clause("Abcdef\"12"), Some(PasswordClause::Characters));
        assert_eq!(clause("Abcdef'12"), Some(PasswordClause::Characters));
        assert_eq!(clause("Abcdef\\12"), Some(PasswordClause::Characters));
        assert_eq!(clause("Ａbcdef12"), Some(PasswordClause::Characters));
        assert_eq!(clause("12345678"), Some(PasswordClause::NoLetter));
        assert_eq!(clause("!#$%&()*"), Some(PasswordClause::NoLetter));
        assert_eq!(clause("Abcdefgh"), Some(PasswordClause::NoDigit));
        assert_eq!(clause("kj131311111111"), Some(PasswordClause::SameAsUserId));
        assert_eq!(clause("KJ131311111111"), Some(PasswordClause::SameAsUserId));
    }

    /// VAL-06: exactly the 29 symbols are allowed, every one of them.
    #[test]
    fn val_06_the_29_symbols() {
        assert_eq!(SYMBOLS.len(), 29);
        for c in (0x21u8..0x7f).filter(|c| c.is_ascii_punctuation()) {
            let pw = format!("Abc1234{}", char::from(c));
            let allowed = !matches!(c, b'"' | b'\'' | b'\\');
            assert_eq!(clause(&pw).is_none(), allowed, "{pw}");
        }
    }

    /// VAL-06: the policy is case-sensitive (two passwords differing by case differ).
    #[test]
    fn val_06_case_sensitive() {
        assert!(!Password::new("Abcdef12").ct_eq(&Password::new("abcdef12")));
    }

    /// VAL-09: temporary passwords are 12 characters, satisfy VAL-06 and vary.
    #[test]
    fn val_09_temporary_passwords() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let t = TemporaryPassword::generate(&mut rng);
            assert_eq!(t.reveal().chars().count(), 12);
            assert!(
                t.as_password()
                    .check_policy(&id(), &PasswordRules::default())
                    .is_ok()
            );
            seen.insert(t.reveal().to_owned());
        }
        assert_eq!(seen.len(), 200);
    }

    /// VAL-06, SEC-09: the length bounds are policy data.
    #[test]
    fn val_06_sec_09_length_bounds_are_data() {
        let longer = PasswordRules {
            min_chars: 8,
            max_chars: 64,
        };
        let pw = Password::new("Abcdefghijklmnopqrstuvwxyz0123456789");
        assert!(pw.check_policy(&id(), &longer).is_ok());
        assert_eq!(
            pw.check_policy(&id(), &PasswordRules::default()),
            Err(ValueError::Password(PasswordClause::Length {
                min: 8,
                max: 16
            }))
        );
        assert_eq!(
            PasswordClause::Length { min: 8, max: 64 }.message(),
            "パスワードは8文字～64文字で入力してください。"
        );
    }

    /// SEC-01: no secret in Debug.
    #[test]
    fn sec_01_debug_hides_secrets() {
        let pw = Password::new("Secret123");
        let sc = SecurityCode::new("Secret123");
        let tp = TemporaryPassword::generate(&mut rand::rngs::StdRng::seed_from_u64(1));
        for s in [format!("{pw:?}"), format!("{sc:?}"), format!("{tp:?}")] {
            assert!(!s.contains("Secret123") && !s.contains(tp.reveal()), "{s}");
            assert!(s.contains("***"));
        }
    }
}

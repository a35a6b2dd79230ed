//! メールアドレス (VAL-04).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use super::ValueError;

/// An email address (VAL-04): ASCII only, one `@`, a non-empty local part, a domain of one or more
/// dot-separated labels (`jigyousho@jp` is fine), at most 254 characters, surrounding ASCII spaces
/// trimmed. Two addresses are the same address when equal ignoring ASCII case; the address keeps
/// the case it was typed in for display.
///
/// Used for security emails (セキュリティ用メールアドレス), the notice email (お知らせ) and the
/// notification address of a reissue application.
///
/// # Example
/// ```
/// use kaigo_seikyu::values::{EmailAddress, ValueError};
/// let a: EmailAddress = " MailForSecurity-001@jp ".parse()?;
/// assert_eq!(a.as_str(), "MailForSecurity-001@jp");
/// assert_eq!(a, "mailforsecurity-001@JP".parse()?);
/// assert_eq!("ｍａｉｌ@jp".parse::<EmailAddress>(), Err(ValueError::EmailNotAscii));
/// # Ok::<(), ValueError>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

/// The longest address accepted.
const MAX_LEN: usize = 254;

impl EmailAddress {
    /// The address as typed (trimmed).
    ///
    /// # Example
    /// ```
    /// let a: kaigo_seikyu::values::EmailAddress = "jigyousho@jp".parse().unwrap();
    /// assert_eq!(a.as_str(), "jigyousho@jp");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `other` is the same address (equal ignoring ASCII case). Same as `==`.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::values::EmailAddress;
    /// let a: EmailAddress = "A@jp".parse().unwrap();
    /// assert!(a.same_as(&"a@JP".parse().unwrap()));
    /// ```
    pub fn same_as(&self, other: &EmailAddress) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

fn local_char_ok(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&c)
}

fn label_ok(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

impl FromStr for EmailAddress {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let s = s.trim_matches(' ');
        if s.is_empty() {
            return Err(ValueError::EmailEmpty);
        }
        if !s.is_ascii() {
            return Err(ValueError::EmailNotAscii);
        }
        if s.len() > MAX_LEN {
            return Err(ValueError::EmailTooLong);
        }
        let (local, domain) = s.split_once('@').ok_or(ValueError::EmailLocalPart)?;
        if local.is_empty() || !local.bytes().all(local_char_ok) {
            return Err(ValueError::EmailLocalPart);
        }
        if domain.contains('@') {
            return Err(ValueError::EmailLocalPart);
        }
        if !domain.split('.').all(label_ok) {
            return Err(ValueError::EmailDomain);
        }
        Ok(EmailAddress(s.to_owned()))
    }
}

impl PartialEq for EmailAddress {
    fn eq(&self, other: &Self) -> bool {
        self.same_as(other)
    }
}

impl Eq for EmailAddress {}

impl Hash for EmailAddress {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in self.0.bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The address as text, so APIs can take a plain string or an address alike.
///
/// # Example
/// ```
/// let a: kaigo_seikyu::values::EmailAddress = "jigyousho@jp".parse().unwrap();
/// assert_eq!(AsRef::<str>::as_ref(&a), "jigyousho@jp");
/// ```
impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// VAL-04: the source's dotless examples are accepted; the shape is enforced.
    #[test]
    fn val_04_email_shape() {
        for ok in [
            "mailforsecurity-001@jp",
            "jigyousho@jp",
            "a.b+c@example.co.jp",
            "  x@y.z  ",
        ] {
            assert!(ok.parse::<EmailAddress>().is_ok(), "{ok}");
        }
        let cases = [
            ("", ValueError::EmailEmpty),
            ("   ", ValueError::EmailEmpty),
            ("jigyousho＠jp", ValueError::EmailNotAscii),
            ("ｊｉｇｙｏｕｓｈｏ@jp", ValueError::EmailNotAscii),
            ("jigyousho", ValueError::EmailLocalPart),
            ("@jp", ValueError::EmailLocalPart),
            ("a@b@jp", ValueError::EmailLocalPart),
            ("a b@jp", ValueError::EmailLocalPart),
            ("a@", ValueError::EmailDomain),
            ("a@jp.", ValueError::EmailDomain),
            ("a@.jp", ValueError::EmailDomain),
            ("a@j_p", ValueError::EmailDomain),
            ("a@-jp", ValueError::EmailDomain),
        ];
        for (input, err) in cases {
            assert_eq!(input.parse::<EmailAddress>(), Err(err), "{input:?}");
        }
    }

    /// VAL-04: 254 characters at most.
    #[test]
    fn val_04_email_length() {
        let domain = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(60)
        );
        let ok = format!("x@{domain}");
        assert_eq!(ok.len(), 254);
        assert!(ok.parse::<EmailAddress>().is_ok());
        let long = format!("xy@{domain}");
        assert_eq!(long.parse::<EmailAddress>(), Err(ValueError::EmailTooLong));
    }

    /// VAL-04: equality ignores ASCII case, display keeps the typed case.
    #[test]
    fn val_04_email_equality_ignores_case() {
        use std::collections::HashSet;
        let a: EmailAddress = "Jigyousho@JP".parse().unwrap();
        let b: EmailAddress = "jigyousho@jp".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "Jigyousho@JP");
        let set: HashSet<_> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert_ne!(
            "a@jp".parse::<EmailAddress>().unwrap(),
            "b@jp".parse::<EmailAddress>().unwrap()
        );
    }
}

//! 確認コード and ワンタイムパスワード (VAL-07, SEC-01).

use rand_core::CryptoRng;
use std::fmt;
use std::str::FromStr;
use zeroize::Zeroize;

use super::ValueError;
use crate::random::below;

/// A code of `N` half-width digits, leading zeros kept (VAL-07). Its `Debug` prints `***` and it
/// is zeroized on drop (SEC-01). It is never compared as text: a flow checks it against the keyed
/// digest it stored, in constant time ([`IssuedCode::verify`](crate::secret::IssuedCode::verify)).
///
/// # Example
/// ```
/// use kaigo_seikyu::values::{ConfirmationCode, OneTimePassword, ValueError};
/// let code: ConfirmationCode = " 0042 ".parse()?;
/// assert_eq!(code.reveal(), "0042");
/// assert_eq!(format!("{code:?}"), "Code<4>(***)");
/// assert_eq!("12345".parse::<OneTimePassword>().unwrap_err(), ValueError::CodeFormat { digits: 6 });
/// # Ok::<(), ValueError>(())
/// ```
#[derive(Clone)]
pub struct Code<const N: usize>([u8; N]);

/// A 確認コード: 4 digits, mailed to prove an address (T1).
pub type ConfirmationCode = Code<4>;

/// A ワンタイムパスワード: 6 digits, mailed to a registered security email (T2).
pub type OneTimePassword = Code<6>;

impl<const N: usize> Code<N> {
    /// Draws a code uniformly from all `10^N` values with the host's CSPRNG (VAL-07).
    ///
    /// # Example
    /// ```
    /// let otp = kaigo_seikyu::values::OneTimePassword::generate(&mut rand::rng());
    /// assert_eq!(otp.reveal().len(), 6);
    /// ```
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut n = below(rng, 10u32.pow(N as u32));
        let mut digits = [b'0'; N];
        for d in digits.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        Code(digits)
    }

    /// The digits, to put in the mail that delivers the code. Nowhere else (MAIL-01).
    pub fn reveal(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII digits")
    }
}

impl<const N: usize> FromStr for Code<N> {
    type Err = ValueError;
    /// Trims surrounding ASCII spaces; anything but exactly `N` ASCII digits is a format error.
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let s = s.trim_matches(' ');
        let digits: [u8; N] = s
            .as_bytes()
            .try_into()
            .map_err(|_| ValueError::CodeFormat { digits: N })?;
        if digits.iter().all(u8::is_ascii_digit) {
            Ok(Code(digits))
        } else {
            Err(ValueError::CodeFormat { digits: N })
        }
    }
}

impl<const N: usize> fmt::Debug for Code<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code<{N}>(***)")
    }
}

impl<const N: usize> Drop for Code<N> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// VAL-07: 4 and 6 half-width digits; spaces trimmed; anything else is a format error.
    #[test]
    fn val_07_code_formats() {
        assert_eq!("0000".parse::<ConfirmationCode>().unwrap().reveal(), "0000");
        assert_eq!(
            "  9999 ".parse::<ConfirmationCode>().unwrap().reveal(),
            "9999"
        );
        assert_eq!(
            "000001".parse::<OneTimePassword>().unwrap().reveal(),
            "000001"
        );
        for bad in [
            "",
            "123",
            "12345",
            "12a4",
            "１２３４",
            "12 34",
            "\t1234",
            "+123",
            "-123",
        ] {
            assert_eq!(
                bad.parse::<ConfirmationCode>().unwrap_err(),
                ValueError::CodeFormat { digits: 4 },
                "{bad:?}"
            );
        }
        for bad in ["99999", "9999999", "１２３４５６"] {
            assert_eq!(
                bad.parse::<OneTimePassword>().unwrap_err(),
                ValueError::CodeFormat { digits: 6 }
            );
        }
    }

    /// VAL-07: drawn uniformly: every one of the 10^4 values can come out, leading zeros kept.
    #[test]
    fn val_07_codes_cover_every_value() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let mut seen = vec![false; 10_000];
        for _ in 0..200_000 {
            let c = ConfirmationCode::generate(&mut rng);
            seen[c.reveal().parse::<usize>().unwrap()] = true;
            assert_eq!(c.reveal().len(), 4);
        }
        assert!(seen.iter().all(|&s| s), "some 4-digit codes never drawn");
        let otp = OneTimePassword::generate(&mut rng);
        assert_eq!(otp.reveal().len(), 6);
    }

    /// SEC-01: Debug never shows the digits.
    #[test]
    fn sec_01_code_debug_is_redacted() {
        let c: OneTimePassword = "123456".parse().unwrap();
        assert!(!format!("{c:?}").contains("123456"));
    }
}

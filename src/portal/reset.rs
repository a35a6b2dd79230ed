//! The reset's entry points (RS): one-line wrappers over the generic ones, taking what the
//! screens' fields hold as text.

use rand_core::CryptoRng;

use crate::error::{FlowError, PortalError};
use crate::portal::{Portal, shown, started};
use crate::reset::{Reset, ResetInput, ResetStart};
use crate::screen::Screen;
use crate::store::FlowId;
use crate::values::Password;

impl Portal {
    /// RS-01 `次へ` on 【ログイン情報再設定認証】: parses what was typed (a malformed office
    /// number or address is a [`FlowError::Value`] before anything is drawn, stored or mailed),
    /// then starts a reset. Returns the new flow's id — keep it in the browser session — and the
    /// next screen: 【請求先都道府県選択】 (RS-02) or 【ワンタイムパスワード入力】 (RS-03), the same
    /// whether or not the address matched or the office is known. Spends one code mail of the
    /// address's hourly budget when an OTP is drawn (SEC-04), mailed or not.
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # use kaigo_seikyu::{error::{FlowError, PortalError}, values::ValueError};
    /// # use rand::SeedableRng;
    /// # let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// # let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// # let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let err = portal.reset_start("131111111", "a@jp", &mut rng).unwrap_err();
    /// assert_eq!(err, PortalError::Flow(FlowError::Value(ValueError::OfficeNumberLength)));
    /// assert!(host.store.is_empty());
    /// let (_id, screen) = portal.reset_start("1311111111", "a@jp", &mut rng)?;
    /// assert_eq!(screen.title, "ワンタイムパスワード入力");
    /// # Ok::<(), PortalError>(())
    /// ```
    pub fn reset_start<R: CryptoRng + ?Sized>(
        &self,
        office: &str,
        address: &str,
        rng: &mut R,
    ) -> Result<(FlowId, Screen), PortalError> {
        let start = ResetStart::Authenticate {
            office: office.parse().map_err(FlowError::from)?,
            address: address.parse().map_err(FlowError::from)?,
        };
        started(self.begin_with::<Reset, R>(None, start, rng)?)
    }

    /// RS-02 `次へ` on 【請求先都道府県選択】 with the chosen billing prefecture's code (`"13"`).
    /// Draws the OTP as [`Portal::reset_start`] does.
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{account::Account, calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # use rand::SeedableRng;
    /// # let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// # let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// # let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// # for id in ["KJ131311111111", "KJ271311111111"] {
    /// #     portal.create_account(Account::new(id.parse()?, portal.hash_secret(b"x", &mut rng)))?;
    /// # }
    /// let (id, _) = portal.reset_start("1311111111", "someone@jp", &mut rng)?;
    /// assert!(portal.reset_choose_prefecture(&id, "01", &mut rng).is_err()); // not offered
    /// let screen = portal.reset_choose_prefecture(&id, "27", &mut rng)?;
    /// assert_eq!(screen.title, "ワンタイムパスワード入力");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reset_choose_prefecture<R: CryptoRng + ?Sized>(
        &self,
        id: &FlowId,
        prefecture: &str,
        rng: &mut R,
    ) -> Result<Screen, PortalError> {
        let billing = prefecture.parse().map_err(FlowError::from)?;
        shown(self.input::<Reset, R>(None, id, ResetInput::ChoosePrefecture(billing), rng)?)
    }

    /// RS-04 `次へ` on 【ワンタイムパスワード入力】. A malformed OTP is a format error and is not
    /// counted (VAL-07). A wrong one is counted against the flow (the fifth voids it) and against
    /// the user ID's hourly budget (SEC-07), whether or not the OTP was mailed.
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # use kaigo_seikyu::error::{FlowError, PortalError};
    /// # use rand::SeedableRng;
    /// # let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// # let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// # let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let (id, _) = portal.reset_start("1311111111", "a@jp", &mut rng)?;
    /// assert_eq!(portal.reset_enter_otp(&id, "12345", &mut rng).unwrap_err().message(),
    ///            "ワンタイムパスワードは6桁の数字を半角で入力してください。");
    /// assert_eq!(portal.reset_enter_otp(&id, "123456", &mut rng),
    ///            Err(PortalError::Flow(FlowError::WrongCode { remaining: 4 })));
    /// # Ok::<(), PortalError>(())
    /// ```
    pub fn reset_enter_otp<R: CryptoRng + ?Sized>(
        &self,
        id: &FlowId,
        otp: &str,
        rng: &mut R,
    ) -> Result<Screen, PortalError> {
        let otp = otp.parse().map_err(FlowError::from)?;
        shown(self.input::<Reset, R>(None, id, ResetInput::EnterOtp(otp), rng)?)
    }

    /// Sends a newer OTP to the same address; the older one stops working (RS-04). At most the
    /// policy's codes per flow and code mails per address per hour (SEC-04), mailed or not.
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # use kaigo_seikyu::error::{FlowError, PortalError};
    /// # use rand::SeedableRng;
    /// # let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// # let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// # let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let (id, _) = portal.reset_start("1311111111", "a@jp", &mut rng)?;
    /// for _ in 0..4 {
    ///     portal.reset_resend(&id, &mut rng)?;
    /// }
    /// assert_eq!(portal.reset_resend(&id, &mut rng), Err(PortalError::Flow(FlowError::TooManyCodes)));
    /// # Ok::<(), PortalError>(())
    /// ```
    pub fn reset_resend<R: CryptoRng + ?Sized>(
        &self,
        id: &FlowId,
        rng: &mut R,
    ) -> Result<Screen, PortalError> {
        shown(self.input::<Reset, R>(None, id, ResetInput::Resend, rng)?)
    }

    /// RS-06 `変更` on 【ログイン情報再設定】 with 《新しいパスワード》 and its confirmation. A
    /// policy violation (VAL-06), a mismatch (VAL-05) or an expired screen (RS-07) changes nothing.
    /// On success the account is saved in the same commit as the flow; the notice, event and
    /// session revocation follow (RS-08). The office is not logged in.
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # use kaigo_seikyu::error::{FlowError, PortalError};
    /// # use rand::SeedableRng;
    /// # let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// # let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// # let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let (id, _) = portal.reset_start("1311111111", "a@jp", &mut rng)?;
    /// // Not reachable before the OTP was verified.
    /// assert!(matches!(
    ///     portal.reset_choose_password(&id, "Sakura2026!", "Sakura2026!", &mut rng),
    ///     Err(PortalError::Flow(FlowError::UnexpectedInput { .. }))
    /// ));
    /// # Ok::<(), PortalError>(())
    /// ```
    pub fn reset_choose_password<R: CryptoRng + ?Sized>(
        &self,
        id: &FlowId,
        new: &str,
        confirm: &str,
        rng: &mut R,
    ) -> Result<Screen, PortalError> {
        let input = ResetInput::ChoosePassword {
            new: Password::new(new),
            confirm: Password::new(confirm),
        };
        shown(self.input::<Reset, R>(None, id, input, rng)?)
    }

    /// `戻る` on any reset screen: the flow ends and 【ログイン情報再設定認証】 is shown again, to
    /// start over (RS-01). Nothing of any account changes, and budgets already spent stay spent;
    /// it is the same on every path (RS-03).
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # use kaigo_seikyu::error::PortalError;
    /// # use rand::SeedableRng;
    /// # let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// # let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// # let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let (id, _) = portal.reset_start("1311111111", "a@jp", &mut rng)?;
    /// let screen = portal.reset_back(&id, &mut rng)?;
    /// assert_eq!(screen.title, "ログイン情報再設定認証");
    /// assert_eq!(portal.reset_screen(&id), Err(PortalError::NoSuchFlow));
    /// # Ok::<(), PortalError>(())
    /// ```
    pub fn reset_back<R: CryptoRng + ?Sized>(
        &self,
        id: &FlowId,
        rng: &mut R,
    ) -> Result<Screen, PortalError> {
        shown(self.input::<Reset, R>(None, id, ResetInput::Back, rng)?)
    }

    /// The current screen of a reset, e.g. to draw it again after an error.
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # use rand::SeedableRng;
    /// # let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// # let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// # let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let (id, first) = portal.reset_start("1311111111", "a@jp", &mut rng)?;
    /// assert_eq!(portal.reset_screen(&id)?, first);
    /// # Ok::<(), kaigo_seikyu::error::PortalError>(())
    /// ```
    pub fn reset_screen(&self, id: &FlowId) -> Result<Screen, PortalError> {
        self.screen::<Reset>(None, id)
    }
}

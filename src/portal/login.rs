//! The login gate's entry points (LOGIN): one-line wrappers over the generic ones, taking what
//! the login screens' fields hold as text.

use rand_core::CryptoRng;

use crate::error::{FlowError, PortalError};
use crate::login::{Input, Login, Start};
use crate::portal::{Portal, Route};
use crate::store::FlowId;
use crate::values::{Password, SecurityCode, UserId};

impl Portal {
    /// 【ログイン】 (LOGIN-01 … LOGIN-03): the user ID and password as typed. Returns where the
    /// browser goes: the security-code screen, the first-login flow, the grace registration or
    /// the menu.
    ///
    /// A refusal is an error: [`FlowError::Value`] for a malformed user ID or a password longer than
    /// the policy allows (nothing read, hashed or counted),
    /// [`FlowError::WrongCredentials`], [`FlowError::Locked`] or
    /// [`FlowError::TemporaryPasswordExpired`].
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, login, memory::Embedded, policy::Policy, secret::CodeKey};
    /// use kaigo_seikyu::store::FlowKind;
    /// use rand::SeedableRng;
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let user = "KJ131311111111".parse()?;
    /// let hash = portal.hash_secret(b"Kari2026pass", &mut rng);
    /// portal.create_account(login::new_office(user, hash))?;
    /// let route = portal.login("KJ131311111111", "Kari2026pass", &mut rng)?;
    /// assert_eq!(route.flow().unwrap().kind, FlowKind::FirstLogin);
    /// assert_eq!(route.screen().unwrap().title, "利用規約");
    /// let err = portal.login("KJ131311111111", "wrong", &mut rng).unwrap_err();
    /// assert_eq!(err.message(), "ユーザIDまたはパスワードが正しくありません。");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn login<R: CryptoRng + ?Sized>(
        &self,
        user_id: &str,
        password: &str,
        rng: &mut R,
    ) -> Result<Route, PortalError> {
        let user: UserId = user_id.parse().map_err(FlowError::from)?;
        let password = Password::new(password);
        password
            .check_max_length(&self.policy().password)
            .map_err(FlowError::from)?;
        self.begin_with::<Login, R>(None, Start::Password { user, password }, rng)
    }

    /// 【ログイン(セキュリティコード)】 (LOGIN-01, LOGIN-02): the security code as typed, in the login
    /// flow `id`. A wrong code counts like a wrong password; the right one goes through the gate
    /// (LOGIN-03). [`FlowError::FlowExpired`] after the policy's code lifetime.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, login, memory::Embedded, policy::Policy, secret::CodeKey};
    /// use kaigo_seikyu::portal::Route;
    /// use kaigo_seikyu::store::FlowKind;
    /// use rand::SeedableRng;
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let user = "KJ131311111111".parse()?;
    /// let mut acct = login::new_office(user, portal.hash_secret(b"Kari2026pass", &mut rng));
    /// acct.security_code = Some(portal.hash_secret(b"7351", &mut rng));
    /// portal.create_account(acct)?;
    /// let route = portal.login("KJ131311111111", "Kari2026pass", &mut rng)?;
    /// let Route::Flow { flow, screen } = route else { panic!("{route:?}") };
    /// assert_eq!(screen.title, "ログイン(セキュリティコード)");
    /// let route = portal.login_security_code(&flow.id, "7351", &mut rng)?;
    /// assert_eq!(route.flow().unwrap().kind, FlowKind::FirstLogin);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn login_security_code<R: CryptoRng + ?Sized>(
        &self,
        id: &FlowId,
        code: &str,
        rng: &mut R,
    ) -> Result<Route, PortalError> {
        let code = Input::EnterSecurityCode(SecurityCode::new(code));
        self.input::<Login, R>(None, id, code, rng)
    }
}

//! The first login's entry points (FL): one-line wrappers over the generic ones, taking a
//! [`Form`] of the fields as typed.

use rand_core::CryptoRng;

use crate::error::PortalError;
use crate::first_login::{FirstLogin, Form};
use crate::portal::{Portal, Route};
use crate::screen::Screen;
use crate::store::FlowId;

impl Portal {
    /// One input of the first-login flow `id` (FL-01 … FL-08), the fields as typed. Returns where
    /// the browser goes: the flow's next screen, or — after its last step — through the gate
    /// (LOGIN-03): the menu, or the grace registration of an existing office.
    ///
    /// A refusal is an error naming the problem; the account and the flow are unchanged, except
    /// that a wrong code or a wrong current password is counted.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, login, memory::Embedded, policy::Policy, secret::CodeKey};
    /// use kaigo_seikyu::first_login::Form;
    /// use rand::SeedableRng;
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let user = "KJ131311111111".parse()?;
    /// portal.create_account(login::new_office(user, portal.hash_secret(b"Kari2026pass", &mut rng)))?;
    /// let route = portal.login("KJ131311111111", "Kari2026pass", &mut rng)?;
    /// let id = route.flow_id().unwrap().clone();
    /// let route = portal.first_login_input(&id, Form::AcceptTerms, &mut rng)?;
    /// assert_eq!(route.screen().unwrap().title, "警告");
    /// // A step cannot be skipped (FL-01):
    /// let err = portal.first_login_input(&id, Form::Finish, &mut rng).unwrap_err();
    /// assert_eq!(err.message(), "この画面では行えない操作です。");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn first_login_input<R: CryptoRng + ?Sized>(
        &self,
        id: &FlowId,
        form: Form<'_>,
        rng: &mut R,
    ) -> Result<Route, PortalError> {
        self.input::<FirstLogin, R>(None, id, form.parse()?, rng)
    }

    /// The current screen of the first-login flow `id`, to draw it again (e.g. with an error).
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, login, memory::Embedded, policy::Policy, secret::CodeKey};
    /// use rand::SeedableRng;
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// portal.create_account(login::new_office("KJ131311111111".parse()?, portal.hash_secret(b"Kari2026pass", &mut rng)))?;
    /// let route = portal.login("KJ131311111111", "Kari2026pass", &mut rng)?;
    /// let screen = portal.first_login_screen(route.flow_id().unwrap())?;
    /// assert_eq!(Some(&screen), route.screen());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn first_login_screen(&self, id: &FlowId) -> Result<Screen, PortalError> {
        self.screen::<FirstLogin>(None, id)
    }
}

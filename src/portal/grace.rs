//! The grace registration's entry points (GR): one-line wrappers over the generic ones, taking
//! a [`Form`] of the fields as typed.

use rand_core::CryptoRng;

use crate::error::PortalError;
use crate::grace::{Form, Grace};
use crate::portal::{Portal, Route};
use crate::screen::Screen;
use crate::store::FlowId;

impl Portal {
    /// One input of the grace registration `id` (GR-01 … GR-05), the fields as typed. Returns
    /// where the browser goes: the flow's next screen, the menu (skipped within the grace period,
    /// or registered), or 【ログイン】 (logged out).
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, login, memory::Embedded, policy::Policy, secret::CodeKey};
    /// use kaigo_seikyu::account::TermsAcceptance;
    /// use kaigo_seikyu::grace::Form;
    /// use kaigo_seikyu::portal::Route;
    /// use rand::SeedableRng;
    /// let host = Embedded::new(utc("2026-01-31T23:59:59+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let terms = TermsAcceptance { version: 1, at: utc("2020-04-01T09:00:00+09:00") };
    /// let hash = portal.hash_secret(b"Sakura2026!", &mut rng);
    /// portal.create_account(login::existing_office("KJ131311111111".parse()?, hash, terms))?;
    /// let route = portal.login("KJ131311111111", "Sakura2026!", &mut rng)?;
    /// let Route::Flow { flow, screen } = route else { panic!("{route:?}") };
    /// assert!(screen.shows("2026年01月31日まで"));
    /// let route = portal.grace_input(&flow.id, Form::Next { skip: true, address: "", confirm: "" }, &mut rng)?;
    /// assert!(matches!(route, Route::Menu { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn grace_input<R: CryptoRng + ?Sized>(
        &self,
        id: &FlowId,
        form: Form<'_>,
        rng: &mut R,
    ) -> Result<Route, PortalError> {
        self.input::<Grace, R>(None, id, form.parse()?, rng)
    }

    /// The current screen of the grace registration `id`, drawn at the clock's `now` (after the
    /// grace period, without the checkbox: GR-03).
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, login, memory::Embedded, policy::Policy, secret::CodeKey};
    /// use kaigo_seikyu::account::TermsAcceptance;
    /// use rand::SeedableRng;
    /// let host = Embedded::new(utc("2026-01-31T23:59:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let terms = TermsAcceptance { version: 1, at: utc("2020-04-01T09:00:00+09:00") };
    /// let hash = portal.hash_secret(b"Sakura2026!", &mut rng);
    /// portal.create_account(login::existing_office("KJ131311111111".parse()?, hash, terms))?;
    /// let route = portal.login("KJ131311111111", "Sakura2026!", &mut rng)?;
    /// assert!(route.screen().unwrap().shows("セキュリティ用メールアドレスを登録せずにログインする"));
    /// host.clock.set(utc("2026-02-01T00:00:00+09:00"));
    /// let screen = portal.grace_screen(route.flow_id().unwrap())?;
    /// assert!(!screen.shows("セキュリティ用メールアドレスを登録せずにログインする"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn grace_screen(&self, id: &FlowId) -> Result<Screen, PortalError> {
        self.screen::<Grace>(None, id)
    }
}

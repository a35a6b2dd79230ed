//! The security-email list's entry points (SE): one-line wrappers over the generic ones, taking
//! what the screens' fields hold as text.

use rand_core::CryptoRng;

use crate::account::{Account, SecurityEmails};
use crate::calendar::Instant;
use crate::error::{FlowError, PortalError};
use crate::flow::Step;
use crate::portal::{Portal, shown, started};
use crate::screen::Screen;
use crate::security_emails::{
    Input, Purpose, SecurityEmailSetting, Start, UserInput, add_form, change_form, delete,
    list_screen, select,
};
use crate::store::FlowId;
use crate::values::{EmailAddress, UserId};

impl Portal {
    /// 【セキュリティ用メールアドレス一覧】 of the logged-in `user` (SE-03 … SE-05, SE-07), read
    /// outside any flow. A generic host reaches it from 【ユーザ情報変更】 (SE-09,
    /// [`Portal::open`](crate::portal::Portal::open) of [`FlowKind::SecurityEmails`](crate::store::FlowKind::SecurityEmails))
    /// by its button `セキュリティ用メールアドレス設定`, which begins the flow at the list.
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{account::Account, calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # use rand::SeedableRng;
    /// # let host = Embedded::new(utc("2026-01-10T12:00:00+09:00"));
    /// # let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// # let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let user = "KJ131311111111".parse()?;
    /// portal.create_account(Account::new(user, portal.hash_secret(b"Passw0rd", &mut rng)))?;
    /// let screen = portal.security_emails(&user)?;
    /// assert!(screen.shows("セキュリティ用メールアドレスが登録されていません。")); // SE-05
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn security_emails(&self, user: &UserId) -> Result<Screen, PortalError> {
        Ok(list_screen(&self.listed(user)?))
    }

    /// `追加` on the list: the empty 【セキュリティ用メールアドレス設定】. Refused with none
    /// registered (SE-05, [`FlowError::NoSecurityEmail`]) or five (SE-01).
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{account::Account, calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # use kaigo_seikyu::error::{FlowError, PortalError};
    /// # use rand::SeedableRng;
    /// # let host = Embedded::new(utc("2026-01-10T12:00:00+09:00"));
    /// # let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// # let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let user = "KJ131311111111".parse()?;
    /// portal.create_account(Account::new(user, portal.hash_secret(b"Passw0rd", &mut rng)))?;
    /// assert_eq!(portal.security_email_add_form(&user), Err(PortalError::Flow(FlowError::NoSecurityEmail)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn security_email_add_form(&self, user: &UserId) -> Result<Screen, PortalError> {
        Ok(add_form(&self.listed(user)?)?)
    }

    /// `変更` on a row of the list: 【セキュリティ用メールアドレス設定】 for changing `old`, which
    /// must be registered.
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{account::Account, calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # use rand::SeedableRng;
    /// # let now = utc("2026-01-10T12:00:00+09:00");
    /// # let host = Embedded::new(now);
    /// # let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// # let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let user = "KJ131311111111".parse()?;
    /// let mut account = Account::new(user, portal.hash_secret(b"Passw0rd", &mut rng));
    /// account.security_emails.add("a@jp".parse()?, now)?;
    /// portal.create_account(account)?;
    /// let screen = portal.security_email_change_form(&user, "a@jp")?;
    /// assert!(screen.shows("《変更前のセキュリティ用メールアドレス》 a@jp"));
    /// assert!(portal.security_email_change_form(&user, "z@jp").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn security_email_change_form(
        &self,
        user: &UserId,
        old: &str,
    ) -> Result<Screen, PortalError> {
        let old: EmailAddress = old.parse().map_err(FlowError::from)?;
        Ok(change_form(&self.listed(user)?, &old)?)
    }

    /// `次へ` on the add form: starts adding `new` (SE-06). Mails a one-time password (T2) to the
    /// selected address and returns the flow's id and 【ワンタイムパスワード入力】. Refused, with
    /// nothing mailed or stored, on a mismatched confirmation (VAL-05), none registered (SE-05),
    /// five registered (SE-01), an address already registered (SE-02) or a used-up mail budget
    /// (SEC-04).
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{account::Account, calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # use kaigo_seikyu::error::{FlowError, PortalError};
    /// # use rand::SeedableRng;
    /// # let now = utc("2026-01-10T12:00:00+09:00");
    /// # let host = Embedded::new(now);
    /// # let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// # let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let user = "KJ131311111111".parse()?;
    /// let mut account = Account::new(user, portal.hash_secret(b"Passw0rd", &mut rng));
    /// account.security_emails.add("a@jp".parse()?, now)?;
    /// portal.create_account(account)?;
    /// let dup = portal.security_email_add_start(&user, "A@JP", "A@JP", &mut rng);
    /// assert_eq!(dup.unwrap_err(), PortalError::Flow(FlowError::DuplicateSecurityEmail));
    /// let (_id, screen) = portal.security_email_add_start(&user, "b@jp", "b@jp", &mut rng)?;
    /// assert!(screen.shows("ワンタイムパスワードを a@jp 宛に送信しました。"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn security_email_add_start<R: CryptoRng + ?Sized>(
        &self,
        user: &UserId,
        new: &str,
        confirm: &str,
        rng: &mut R,
    ) -> Result<(FlowId, Screen), PortalError> {
        self.security_email_start(user, Purpose::Add, new, confirm, rng)
    }

    /// `次へ` on the change form: starts changing `old` into `new` (SE-06), as
    /// [`security_email_add_start`](Portal::security_email_add_start); `old` must be registered
    /// and differ from `new`.
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{account::Account, calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # use rand::SeedableRng;
    /// # let now = utc("2026-01-10T12:00:00+09:00");
    /// # let host = Embedded::new(now);
    /// # let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// # let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let user = "KJ131311111111".parse()?;
    /// let mut account = Account::new(user, portal.hash_secret(b"Passw0rd", &mut rng));
    /// account.security_emails.add("a@jp".parse()?, now)?;
    /// portal.create_account(account)?;
    /// let (_id, screen) = portal.security_email_change_start(&user, "a@jp", "n@jp", "n@jp", &mut rng)?;
    /// assert_eq!(screen.title, "ワンタイムパスワード入力");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn security_email_change_start<R: CryptoRng + ?Sized>(
        &self,
        user: &UserId,
        old: &str,
        new: &str,
        confirm: &str,
        rng: &mut R,
    ) -> Result<(FlowId, Screen), PortalError> {
        let old: EmailAddress = old.parse().map_err(FlowError::from)?;
        self.security_email_start(user, Purpose::Change { old }, new, confirm, rng)
    }

    fn security_email_start<R: CryptoRng + ?Sized>(
        &self,
        user: &UserId,
        purpose: Purpose,
        new: &str,
        confirm: &str,
        rng: &mut R,
    ) -> Result<(FlowId, Screen), PortalError> {
        let Input::EnterAddress { new, confirm } = UserInput::Address { new, confirm }.parse()?
        else {
            return Err(PortalError::NoSuchFlow);
        };
        let start = Start::Enter {
            purpose,
            new,
            confirm,
        };
        started(self.begin_with::<SecurityEmailSetting, R>(Some(user), start, rng)?)
    }

    /// One input to the flow `id` of the logged-in `user` (SE-06): the address again after `戻る`,
    /// the one-time password, the confirmation code, or `戻る`. Returns the next screen. A wrong
    /// code is counted and returned as the error (the screen stays; redraw it with
    /// [`security_email_screen`](Portal::security_email_screen)); any other refusal changes
    /// nothing. A flow of another user ID is [`PortalError::NoSuchFlow`].
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{account::Account, calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # use kaigo_seikyu::error::{FlowError, PortalError};
    /// # use kaigo_seikyu::security_emails::UserInput;
    /// # use rand::SeedableRng;
    /// # let now = utc("2026-01-10T12:00:00+09:00");
    /// # let host = Embedded::new(now);
    /// # let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// # let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let user = "KJ131311111111".parse()?;
    /// let mut account = Account::new(user, portal.hash_secret(b"Passw0rd", &mut rng));
    /// account.security_emails.add("a@jp".parse()?, now)?;
    /// portal.create_account(account)?;
    /// let (id, _) = portal.security_email_add_start(&user, "b@jp", "b@jp", &mut rng)?;
    /// let bad = portal.security_email_input(&user, &id, UserInput::Otp("12345"), &mut rng);
    /// assert!(matches!(bad, Err(PortalError::Flow(FlowError::Value(_))))); // not counted
    /// let back = portal.security_email_input(&user, &id, UserInput::Back, &mut rng)?;
    /// assert_eq!(back.title, "セキュリティ用メールアドレス設定");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn security_email_input<R: CryptoRng + ?Sized>(
        &self,
        user: &UserId,
        id: &FlowId,
        input: UserInput<'_>,
        rng: &mut R,
    ) -> Result<Screen, PortalError> {
        shown(self.input::<SecurityEmailSetting, R>(Some(user), id, input.parse()?, rng)?)
    }

    /// The current screen of the flow `id` of the logged-in `user`, e.g. to redraw it after a
    /// refusal.
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{account::Account, calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # use rand::SeedableRng;
    /// # let now = utc("2026-01-10T12:00:00+09:00");
    /// # let host = Embedded::new(now);
    /// # let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// # let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let user = "KJ131311111111".parse()?;
    /// let mut account = Account::new(user, portal.hash_secret(b"Passw0rd", &mut rng));
    /// account.security_emails.add("a@jp".parse()?, now)?;
    /// portal.create_account(account)?;
    /// let (id, first) = portal.security_email_add_start(&user, "b@jp", "b@jp", &mut rng)?;
    /// assert_eq!(portal.security_email_screen(&user, &id)?, first);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn security_email_screen(&self, user: &UserId, id: &FlowId) -> Result<Screen, PortalError> {
        self.screen::<SecurityEmailSetting>(Some(user), id)
    }

    /// Makes `address` the selected notification destination (SE-03) and returns the list.
    /// Posts a お知らせ and an event (SE-08); selecting the selected one changes nothing.
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{account::Account, calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # use rand::SeedableRng;
    /// # let now = utc("2026-01-10T12:00:00+09:00");
    /// # let host = Embedded::new(now);
    /// # let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// # let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let user = "KJ131311111111".parse()?;
    /// let mut account = Account::new(user, portal.hash_secret(b"Passw0rd", &mut rng));
    /// account.security_emails.add("a@jp".parse()?, now)?;
    /// account.security_emails.add("b@jp".parse()?, now)?;
    /// portal.create_account(account)?;
    /// let screen = portal.security_email_select(&user, "b@jp")?;
    /// assert!(screen.shows("選択中 | b@jp"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn security_email_select(
        &self,
        user: &UserId,
        address: &str,
    ) -> Result<Screen, PortalError> {
        self.security_email_edit(user, address, select)
    }

    /// `削除` on a row of the list (SE-04): deletes `address` and returns the list. Refused with
    /// [`FlowError::LastSecurityEmail`] when it is the only one. Deleting the selected one selects
    /// the oldest remaining (SE-03). Posts a お知らせ, an event, and mails every address that was
    /// registered, the deleted one included (SE-08).
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{account::Account, calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # use kaigo_seikyu::error::{FlowError, PortalError};
    /// # use rand::SeedableRng;
    /// # let now = utc("2026-01-10T12:00:00+09:00");
    /// # let host = Embedded::new(now);
    /// # let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// # let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let user = "KJ131311111111".parse()?;
    /// let mut account = Account::new(user, portal.hash_secret(b"Passw0rd", &mut rng));
    /// account.security_emails.add("a@jp".parse()?, now)?;
    /// portal.create_account(account)?;
    /// let refused = portal.security_email_delete(&user, "a@jp");
    /// assert_eq!(refused.unwrap_err(), PortalError::Flow(FlowError::LastSecurityEmail));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn security_email_delete(
        &self,
        user: &UserId,
        address: &str,
    ) -> Result<Screen, PortalError> {
        self.security_email_edit(user, address, delete)
    }

    /// A one-step operation of the list (`選択`, `削除`): no flow is begun, so no id is drawn;
    /// the same pure operation as [`Start::Select`]/[`Start::Delete`] on the account as loaded,
    /// its effects committed with it.
    fn security_email_edit(
        &self,
        user: &UserId,
        address: &str,
        edit: fn(&Account, &EmailAddress, Instant) -> Result<Step<SecurityEmails>, FlowError>,
    ) -> Result<Screen, PortalError> {
        let address: EmailAddress = address.parse().map_err(FlowError::from)?;
        self.transact(|tx, now| {
            let step = edit(&tx.account(*user)?, &address, now)?;
            tx.apply(step.effects)?;
            Ok(list_screen(&step.state))
        })
    }

    /// The list of the logged-in `user`.
    fn listed(&self, user: &UserId) -> Result<SecurityEmails, PortalError> {
        Ok(self
            .account(user)?
            .ok_or(FlowError::NoSuchAccount)?
            .security_emails)
    }
}

//! Operator actions (OPS-06): provisioning offices and changing an account on the operator's
//! authority. Each is an audited operation through the driver, like a user's step: one
//! compare-and-swap commit of the account, and one event (SEC-05) that names the account and
//! carries no secret.

use rand_core::CryptoRng;

use crate::account::{Account, OfficeAccounts, TermsAcceptance};
use crate::effect::{Effect, Event, EventKind};
use crate::error::{FlowError, PortalError};
use crate::login;
use crate::portal::Portal;
use crate::secret::PasswordHash;
use crate::store::Key;
use crate::values::{OfficeNumber, Password, Prefecture, SecurityCode, UserId};

impl Portal {
    /// Provisions `account` (the operator's import of an office). Refused with
    /// [`FlowError::AccountExists`] if the user ID already has one; nothing changes then.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{account::Account, calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// use kaigo_seikyu::effect::EventKind;
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
    /// let user = "KJ131311111111".parse()?;
    /// let hash = portal.hash_secret(b"Kari2026pass", &mut rand::rng());
    /// portal.create_account(Account::new(user, hash.clone()))?;
    /// assert!(portal.create_account(Account::new(user, hash)).is_err());
    /// assert!(matches!(host.events.all()[0].kind, EventKind::AccountProvisioned { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_account(&self, account: Account) -> Result<(), PortalError> {
        self.transact(|tx, now| {
            let key = Key::Account(account.user_id);
            // The office's record the new account joins, in the same round (OPS-04).
            let office =
                tx.get::<serde::de::IgnoredAny>(&Key::OfficeAccounts(account.user_id.office()));
            if tx.get::<serde::de::IgnoredAny>(&key)?.is_some() {
                return Err(FlowError::AccountExists.into());
            }
            office?;
            let user = account.user_id;
            tx.apply(vec![
                Effect::SaveAccount(Box::new(account.clone())),
                audit(now, EventKind::AccountProvisioned { user }),
            ])
        })
    }

    /// Provisions a new office (FL): `user` with the temporary password the operator issues
    /// (VAL-06, VAL-09), to be changed at the first login. Returns the user ID.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, portal::Route, secret::CodeKey};
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
    /// let mut rng = rand::rng();
    /// let user = portal.provision_new_office("KJ131311111111", "Kari2026pass", &mut rng)?;
    /// let route = portal.login("KJ131311111111", "Kari2026pass", &mut rng)?;
    /// assert_eq!(route.screen().unwrap().title, "利用規約"); // the first login begins (FL-01)
    /// # let _ = user;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn provision_new_office<R: CryptoRng + ?Sized>(
        &self,
        user: &str,
        temporary_password: &str,
        rng: &mut R,
    ) -> Result<UserId, PortalError> {
        self.provision(user, temporary_password, rng, login::new_office)
    }

    /// Provisions an office that existed before the release (GR): `user` with its password and
    /// the terms it accepted, no security email yet (so it meets the grace registration, GR-01).
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{account::TermsAcceptance, calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
    /// let mut rng = rand::rng();
    /// let terms = TermsAcceptance { version: portal.policy().terms_version, at: utc("2020-04-01T09:00:00+09:00") };
    /// portal.provision_existing_office("KJ131311111111", "Sakura2026!", terms, &mut rng)?;
    /// let route = portal.login("KJ131311111111", "Sakura2026!", &mut rng)?;
    /// assert_eq!(route.screen().unwrap().title, "セキュリティ用メールアドレス設定");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn provision_existing_office<R: CryptoRng + ?Sized>(
        &self,
        user: &str,
        password: &str,
        terms: TermsAcceptance,
        rng: &mut R,
    ) -> Result<UserId, PortalError> {
        self.provision(user, password, rng, |user, hash| {
            login::existing_office(user, hash, terms)
        })
    }

    /// Parses `user`, checks `password` against the policy (VAL-06) before any hashing, and
    /// creates the account `make` builds from the user ID and the password's hash.
    fn provision<R: CryptoRng + ?Sized>(
        &self,
        user: &str,
        password: &str,
        rng: &mut R,
        make: impl FnOnce(UserId, PasswordHash) -> Account,
    ) -> Result<UserId, PortalError> {
        let user: UserId = user.parse().map_err(FlowError::from)?;
        let password = Password::new(password);
        password
            .check_policy(&user, &self.policy.password)
            .map_err(FlowError::from)?;
        let hash = self.hash_secret(password.expose(), rng);
        self.create_account(make(user, hash))?;
        Ok(user)
    }

    /// Sets (or replaces) the security code of `user` (LOGIN-01), stored only as an argon2id hash
    /// (VAL-10).
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// # let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
    /// # let mut rng = rand::rng();
    /// let user = portal.provision_new_office("KJ131311111111", "Kari2026pass", &mut rng)?;
    /// portal.set_security_code(&user, "7351", &mut rng)?;
    /// assert!(portal.account(&user)?.unwrap().security_code.is_some());
    /// portal.clear_security_code(&user)?;
    /// assert!(portal.account(&user)?.unwrap().security_code.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_security_code<R: CryptoRng + ?Sized>(
        &self,
        user: &UserId,
        code: &str,
        rng: &mut R,
    ) -> Result<(), PortalError> {
        let code = SecurityCode::new(code);
        let hash = self.hash_secret(code.expose(), rng);
        self.change_account(user, EventKind::SecurityCodeSet { user: *user }, |a| {
            a.security_code = Some(hash.clone());
        })
    }

    /// Clears the security code of `user`. See [`Portal::set_security_code`].
    pub fn clear_security_code(&self, user: &UserId) -> Result<(), PortalError> {
        self.change_account(user, EventKind::SecurityCodeCleared { user: *user }, |a| {
            a.security_code = None;
        })
    }

    /// Lifts the lockout of `user` and resets its failure count (LOGIN-02).
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// # let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
    /// # let mut rng = rand::rng();
    /// let user = portal.provision_new_office("KJ131311111111", "Kari2026pass", &mut rng)?;
    /// for _ in 0..3 {
    ///     let _ = portal.login("KJ131311111111", "Wrong2026pass", &mut rng);
    /// }
    /// assert!(portal.login("KJ131311111111", "Kari2026pass", &mut rng).is_err()); // locked
    /// portal.lift_lockout(&user)?;
    /// assert!(portal.login("KJ131311111111", "Kari2026pass", &mut rng).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lift_lockout(&self, user: &UserId) -> Result<(), PortalError> {
        self.change_account(user, EventKind::LockoutLifted { user: *user }, |a| {
            a.failures = 0;
            a.locked_until = None;
        })
    }

    /// OPS-04, OPS-06: writes `office`'s [`OfficeAccounts`] record from the accounts the store
    /// holds for it: for a store written before the record existed (from then on the driver
    /// keeps it with every account save), or records imported around the driver. Reads the
    /// office's 47 possible accounts and its record in one round, and commits the record, with
    /// an [`EventKind::OfficeIndexed`] event, only when it differs. Returns whether it wrote.
    ///
    /// Run it once for every office when upgrading a store, before serving: until its record
    /// is written, an office's reset answers as an unknown office's does (RS-03: the OTP screen,
    /// nothing mailed), and an account save that changes the record writes one that lists only
    /// the accounts saved since.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{account::Account, calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// use kaigo_seikyu::store::{Key, Store, Write};
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
    /// let user = "KJ131311111111".parse()?;
    /// let mut account = Account::new(user, portal.hash_secret(b"Kari2026pass", &mut rand::rng()));
    /// account.security_emails.add("a@jp".parse()?, portal.now())?;
    /// // An account written around the driver, as an older store holds it: no office record.
    /// let value = serde_json::to_vec(&account)?;
    /// host.store.commit(&[Write::Put { key: Key::Account(user), expected: None, value, expires: None }])?;
    /// assert!(portal.index_office(user.office())?);
    /// assert!(!portal.index_office(user.office())?); // already in step: nothing written
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn index_office(&self, office: OfficeNumber) -> Result<bool, PortalError> {
        self.transact(|tx, now| {
            // Every get first, so that whatever is missing is read in one round (OPS-04).
            let key = Key::OfficeAccounts(office);
            let stored = tx.get::<OfficeAccounts>(&key);
            let accounts: Vec<_> = Prefecture::all()
                .map(|billing| tx.get::<Account>(&Key::Account(UserId::new(billing, office))))
                .collect();
            let stored = stored?;
            let mut index = OfficeAccounts::default();
            for account in accounts {
                if let Some(account) = account? {
                    index.record(&account);
                }
            }
            let unchanged = match &stored {
                Some(stored) => *stored == index,
                None => index.accounts().is_empty(),
            };
            if unchanged {
                return Ok(false);
            }
            tx.put(key, &index)?;
            tx.apply(vec![audit(now, EventKind::OfficeIndexed { office })])?;
            Ok(true)
        })
    }

    /// One audited change of `user`'s account: read, change, save with compare-and-swap, log.
    fn change_account(
        &self,
        user: &UserId,
        kind: EventKind,
        change: impl Fn(&mut Account),
    ) -> Result<(), PortalError> {
        self.transact(|tx, now| {
            let mut account = tx.account(*user)?;
            change(&mut account);
            tx.apply(vec![
                Effect::SaveAccount(Box::new(account)),
                audit(now, kind.clone()),
            ])
        })
    }
}

fn audit(at: crate::calendar::Instant, kind: EventKind) -> Effect {
    Effect::Event(Event { at, kind })
}

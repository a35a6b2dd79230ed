//! The one flow shape (UI-05): every flow is a persisted state enum with an input enum, one
//! transition, one screen function, and a declaration of the records it needs; flows a user
//! opens from a screen outside any flow also have an entry.
//!
//! The driver ([`crate::portal::Portal`]) has one set of entry points for all of them: open a
//! flow's entry screen, begin it with a form, submit a form, show the current screen, go back.
//! A flow never reads the store itself: it names the records it needs ([`Needs`]), the driver
//! loads them ([`Records`]) and runs the pure transition, then commits the result.
//!
//! # Example: one flow, driven generically
//!
//! The host shows a flow's entry screen ([`Portal::open`](crate::portal::Portal::open)), posts
//! the form the user filled ([`Portal::start`](crate::portal::Portal::start)), then posts each
//! later form to the flow the route names ([`Portal::submit`](crate::portal::Portal::submit)).
//! It knows no flow: fields and buttons come from the screens, by name.
//!
//! ```
//! use kaigo_seikyu::account::Account;
//! use kaigo_seikyu::calendar::utc;
//! use kaigo_seikyu::memory::Embedded;
//! use kaigo_seikyu::policy::Policy;
//! use kaigo_seikyu::portal::Route;
//! use kaigo_seikyu::screen::{Form, button};
//! use kaigo_seikyu::secret::CodeKey;
//! use kaigo_seikyu::store::FlowKind;
//!
//! let host = Embedded::new(utc("2026-02-15T09:00:00+09:00"));
//! let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
//! let mut rng = rand::rng();
//! let mut account = Account::new("KJ131311111111".parse()?, portal.hash_secret(b"Forgotten1", &mut rng));
//! account.security_emails.add("mailforsecurity-001@jp".parse()?, portal.now())?;
//! portal.create_account(account)?;
//!
//! // The entry screen names its fields and buttons; a form fills them by name.
//! let entry = portal.open(FlowKind::Reset, None)?;
//! assert!(entry.field_named("office").is_some() && entry.button_named("次へ") == Some(button::NEXT));
//! let form = Form::new(button::NEXT).with("office", "1311111111").with("address", "mailforsecurity-001@jp");
//! let Route::Flow { flow, screen } = portal.start(FlowKind::Reset, None, &form, &mut rng)? else {
//!     unreachable!("a reset goes on to the one-time password")
//! };
//! assert_eq!(screen.title, "ワンタイムパスワード入力");
//!
//! // Every later step is a form posted to the flow; keep `flow` in the browser's session.
//! let otp = host.outbox.last_to("mailforsecurity-001@jp").unwrap().code().unwrap().to_owned();
//! let route = portal.submit(None, &flow, &Form::new(button::NEXT).with("otp", otp), &mut rng)?;
//! assert_eq!(route.screen().unwrap().title, "ログイン情報再設定");
//! let form = Form::new(button::CHANGE)
//!     .with("new_password", "Sakura2026!")
//!     .with("confirm_password", "Sakura2026!");
//! let done = portal.submit(None, &flow, &form, &mut rng)?;
//! assert_eq!(done.screen().unwrap().title, "処理終了");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt;

use rand_core::CryptoRng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::account::Account;
use crate::calendar::Instant;
use crate::effect::Effect;
use crate::error::{FlowError, PortalError};
use crate::policy::Policy;
use crate::ports::OfficeRecord;
use crate::screen::{Form, Screen};
use crate::secret::{PasswordHash, SecretHasher};
use crate::store::{Budget, FlowId, FlowKind, Key, StoreError};
use crate::values::{EmailAddress, OfficeNumber, UserId};

/// `From<State> for Flow` for each state struct of a flow's persisted enum, whose variants are
/// named after the structs they wrap (`Reset::AwaitingOtp(AwaitingOtp)`), as rustls does.
macro_rules! states {
    ($flow:ident: $($state:ident),+ $(,)?) => {$(
        impl From<$state> for $flow {
            fn from(state: $state) -> Self {
                $flow::$state(state)
            }
        }
    )+};
}
pub(crate) use states;

/// Everything a pure transition gets besides its state and input: the time, the host's CSPRNG, the
/// policy and the hasher. Nothing else: no clock, no I/O.
pub struct Cx<'a, R: CryptoRng + ?Sized> {
    /// The instant of the request.
    pub now: Instant,
    /// The host's CSPRNG.
    pub rng: &'a mut R,
    /// The policy in force.
    pub policy: &'a Policy,
    /// Password hashing and code digests.
    pub hasher: &'a dyn SecretHasher,
}

impl<R: CryptoRng + ?Sized> Cx<'_, R> {
    /// Hashes a secret with a fresh salt from the CSPRNG (VAL-10).
    pub fn hash(&mut self, secret: &[u8]) -> PasswordHash {
        let mut salt = [0u8; 16];
        self.rng.fill_bytes(&mut salt);
        self.hasher.hash(secret, &salt)
    }
}

/// The result of a transition: the next state and its effects. When `rejected` is set, the state
/// still changed (a wrong code was counted): the driver saves it, then returns the error.
#[derive(Debug)]
pub struct Step<S> {
    /// The next state.
    pub state: S,
    /// What to do.
    pub effects: Vec<Effect>,
    /// A refusal that still changed the state.
    pub rejected: Option<FlowError>,
}

impl<S> Step<S> {
    /// A step to `state` with no effects.
    pub fn to(state: S) -> Self {
        Step {
            state,
            effects: Vec::new(),
            rejected: None,
        }
    }

    /// Adds an effect.
    pub fn with(mut self, effect: Effect) -> Self {
        self.effects.push(effect);
        self
    }

    /// The same step with its state mapped by `f`.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::flow::Next;
    /// use kaigo_seikyu::flow::Step;
    /// let step = Step::to(7u8).map(Next::Stay);
    /// assert_eq!(step.state, Next::Stay(7));
    /// ```
    pub fn map<T>(self, f: impl FnOnce(S) -> T) -> Step<T> {
        Step {
            state: f(self.state),
            effects: self.effects,
            rejected: self.rejected,
        }
    }

    /// A refusal that keeps `state` (with, e.g., a wrong code counted).
    pub fn rejected(state: S, error: FlowError) -> Self {
        Step {
            state,
            effects: Vec::new(),
            rejected: Some(error),
        }
    }
}

/// What a screen is drawn with besides its state: the instant and the policy.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The instant of the request.
    pub now: Instant,
    /// The policy in force.
    pub policy: &'a Policy,
}

/// Where a step leads.
///
/// # Example
/// ```
/// use kaigo_seikyu::flow::Next;
/// let next: Next<u8> = Next::Login;
/// assert!(!matches!(next, Next::Stay(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next<S> {
    /// On within the flow, at this state.
    Stay(S),
    /// The flow ends (its record is removed) and this screen is shown outside any flow.
    End(Screen),
    /// Out of the flow, through the login gate again (LOGIN-03): it decides what is still asked.
    Gate(Authenticated),
    /// GR-02: out of the flow straight to the menu without a security email, within the grace
    /// period only (a [`GraceSkip`] is made only then).
    Menu(GraceSkip),
    /// Back at 【ログイン】, not logged in (a refused login, or `ログアウト`).
    Login,
}

/// Proof that a user ID got through 【ログイン】 (and 【ログイン(セキュリティコード)】 when one is set).
/// Only the login gate makes one; the first-login and grace flows hold it, so they cannot be
/// started for a user who has not logged in.
///
/// # Example
/// ```
/// fn menu_for(auth: &kaigo_seikyu::flow::Authenticated) -> String {
///     auth.user().to_string()
/// }
/// # let _ = menu_for;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authenticated {
    user: UserId,
}

impl Authenticated {
    /// The witness of a login: only the gate ([`crate::login`]) makes one, once the password (and
    /// the security code, when one is set) verified.
    pub(crate) fn verified(user: UserId) -> Self {
        Authenticated { user }
    }

    /// The user ID that logged in.
    pub fn user(&self) -> UserId {
        self.user
    }
}

/// Proof that the grace period allowed skipping the registration at the instant `次へ` was
/// pressed (GR-02, GR-03). Only [`Grace::apply`](crate::grace::Grace::apply) makes one; it leads
/// straight to the menu.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, grace::{Grace, Input}, login, flow::Next};
/// use kaigo_seikyu::{account::TermsAcceptance, policy::Policy, flow::Cx, values::Password};
/// use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, SecretHasher};
/// use rand::SeedableRng;
/// let policy = Policy::insecure_fast_hashing();
/// let hasher = Argon2Hasher::new(policy.hashing, CodeKey::from_bytes([1; 32]));
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let user = "KJ131311111111".parse()?;
/// let terms = TermsAcceptance { version: 1, at: utc("2020-04-01T09:00:00+09:00") };
/// let account = login::existing_office(user, hasher.hash(b"Sakura2026!", &[7; 16]), terms);
/// let now = utc("2026-01-31T23:59:59+09:00");
/// let mut cx = Cx { now, rng: &mut rng, policy: &policy, hasher: &hasher };
/// let step = login::enter_password(user, Some(account.clone()), &Password::new("Sakura2026!"), &mut cx)?;
/// let Next::Gate(auth) = step.state else { unreachable!() };
/// let step = Grace::begin(auth).apply(Input::Skip, account, &mut cx)?;
/// let Next::Menu(skip) = step.state else { unreachable!() };
/// assert_eq!(skip.user(), user);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraceSkip {
    auth: Authenticated,
}

impl GraceSkip {
    /// The witness of a skip: only the grace flow ([`crate::grace`]) makes one, after checking
    /// that the office may still skip (GR-02, GR-03).
    pub(crate) fn new(auth: Authenticated) -> Self {
        GraceSkip { auth }
    }

    /// Who skipped.
    pub fn user(&self) -> UserId {
        self.auth.user()
    }
}

/// The records, the ledger entry and the guessing budget a step needs, declared by the flow so
/// the driver loads them without flow-specific code (UI-05, OPS-04). Code mails need no
/// declaration: every code a step draws, mailed or [withheld](crate::effect::Effect::Withheld),
/// spends its address's budget (SEC-04).
///
/// # Example
/// ```
/// use kaigo_seikyu::{flow::Needs, store::Key};
/// let user = "KJ131311111111".parse().unwrap();
/// let needs = Needs::none().record(Key::Account(user));
/// assert_eq!(needs.keys, [Key::Account(user)]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Records to read.
    pub keys: Vec<Key>,
    /// The office whose ledger entry (事業所台帳) to read.
    pub office: Option<OfficeNumber>,
    /// SEC-07: the step checks a code against this budget: refused when it has no wrong entries
    /// left this hour, and a wrong entry spends one.
    pub guesses: Option<Budget>,
    /// SEC-04: addresses the step may draw a code for (mailed or withheld), whose hourly
    /// code-mail budget is then read in the same round as the records (OPS-04). Declaring them is
    /// an optimisation: a code drawn for an address not declared is counted all the same, after
    /// one more read.
    pub code_mails: Vec<EmailAddress>,
}

impl Needs {
    /// Nothing.
    pub fn none() -> Self {
        Needs::default()
    }

    /// Also the record at `key`.
    pub fn record(mut self, key: Key) -> Self {
        self.keys.push(key);
        self
    }

    /// Also the account of `user`.
    pub fn account(self, user: UserId) -> Self {
        self.record(Key::Account(user))
    }

    /// Also the office's [`OfficeAccounts`](crate::account::OfficeAccounts) record: for a step
    /// that may save an account new or with other security email addresses, whose commit then
    /// rewrites that record, read in the same round (OPS-04) instead of one more after the run.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{flow::Needs, store::Key};
    /// let needs = Needs::none().office_accounts("1311111111".parse()?);
    /// assert_eq!(needs.keys, [Key::OfficeAccounts("1311111111".parse()?)]);
    /// # Ok::<(), kaigo_seikyu::values::ValueError>(())
    /// ```
    pub fn office_accounts(self, office: OfficeNumber) -> Self {
        self.record(Key::OfficeAccounts(office))
    }

    /// Also the ledger entry of `office`.
    pub fn ledger(mut self, office: OfficeNumber) -> Self {
        self.office = Some(office);
        self
    }

    /// Also a code checked against `budget` (SEC-07).
    pub fn guesses(mut self, budget: Budget) -> Self {
        self.guesses = Some(budget);
        self
    }

    /// Also the code-mail budget of `to` (SEC-04), for a step that may draw a code for it: read
    /// in the same round as the records (OPS-04).
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::flow::Needs;
    /// let to: kaigo_seikyu::values::EmailAddress = "office@jp".parse().unwrap();
    /// assert_eq!(Needs::none().code_mail(to.clone()).code_mails, [to]);
    /// ```
    pub fn code_mail(mut self, to: EmailAddress) -> Self {
        self.code_mails.push(to);
        self
    }
}

/// The records a step declared in its [`Needs`], as the store held them when the request read
/// them, and the ledger entry. Pure data: a transition reads it, never the store.
///
/// # Example
/// ```
/// use kaigo_seikyu::{flow::Records, store::Key};
/// let user = "KJ131311111111".parse().unwrap();
/// let records = Records::new([(Key::Account(user), None)], None);
/// assert_eq!(records.account(user).unwrap(), None);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Records {
    found: HashMap<Key, Option<Vec<u8>>>,
    ledger: Option<OfficeRecord>,
}

impl Records {
    /// Records as read: each key with its bytes, or `None` when absent; and the ledger entry.
    pub fn new(
        found: impl IntoIterator<Item = (Key, Option<Vec<u8>>)>,
        ledger: Option<OfficeRecord>,
    ) -> Self {
        Records {
            found: found.into_iter().collect(),
            ledger,
        }
    }

    /// The record at `key`, parsed; `None` when absent. A key the step did not declare, or a
    /// record that does not parse, is [`StoreError::Corrupt`].
    pub fn get<T: DeserializeOwned>(&self, key: &Key) -> Result<Option<T>, StoreError> {
        let bytes = self
            .found
            .get(key)
            .ok_or_else(|| StoreError::Corrupt(format!("{key}: read without being declared")))?;
        bytes
            .as_deref()
            .map(|b| {
                serde_json::from_slice(b).map_err(|e| StoreError::Corrupt(format!("{key}: {e}")))
            })
            .transpose()
    }

    /// The account of `user`, if there is one.
    pub fn account(&self, user: UserId) -> Result<Option<Account>, StoreError> {
        self.get(&Key::Account(user))
    }

    /// The ledger entry the step declared, if the office is in the ledger.
    pub fn ledger(&self) -> Option<&OfficeRecord> {
        self.ledger.as_ref()
    }
}

/// The one shape of every flow (UI-05): its persisted state enum implements this.
///
/// The driver loads the state, checks a form against [`Flow::screen`] ([`Screen::accept`]),
/// turns it into the typed input with [`Flow::parse`], loads what [`Flow::needs`] declares, runs
/// [`Flow::step`] and commits the result with compare-and-swap.
pub trait Flow: Serialize + DeserializeOwned + Sized {
    /// The kind, in store keys and routes.
    const KIND: FlowKind;
    /// The typed input of the flow: one variant per button that does something.
    type Input: fmt::Debug + Clone;

    /// The session user the flow belongs to, for flows run after login (the security-email list,
    /// the certificate application): a request that is not on that user's behalf is refused as
    /// [`PortalError::NoSuchFlow`]. `None` for flows run before a session has a user (the login
    /// gate, first login and grace registration, the reset, the reissue application), whose id
    /// is the browser session's bearer handle (WEB-01): the default.
    fn user(&self) -> Option<UserId> {
        None
    }

    /// The screen of the state.
    fn screen(&self, view: &View<'_>) -> Screen;

    /// Turns a form that fits [`Flow::screen`] into the typed input (UI-02); a value that does
    /// not parse is an error naming its field.
    fn parse(&self, form: &Form) -> Result<Self::Input, FlowError>;

    /// The records, ledger entry and budgets the step for `input` needs.
    fn needs(&self, input: &Self::Input) -> Needs;

    /// The transition: pure, on the records the driver loaded.
    fn step<R: CryptoRng + ?Sized>(
        self,
        input: Self::Input,
        records: &Records,
        id: &FlowId,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<Next<Self>>, PortalError>;
}

/// A flow a user opens from a screen outside any flow: 【ログイン】, 【ログイン情報再設定認証】,
/// 【ログイン情報再発行申請】, the security-email list, 【証明書】.
pub trait Entry: Flow {
    /// The typed form of the entry screen.
    type Start: fmt::Debug + Clone;

    /// The records the entry screen needs, for `user` (after login) or anyone. By default none:
    /// the entry screen is the same for everyone.
    fn entry_needs(user: Option<UserId>) -> Needs {
        let _ = user;
        Needs::none()
    }

    /// The entry screen.
    fn entry(
        user: Option<UserId>,
        records: &Records,
        view: &View<'_>,
    ) -> Result<Screen, PortalError>;

    /// Turns a form that fits the entry screen into the typed start (UI-02).
    fn parse_start(form: &Form) -> Result<Self::Start, FlowError>;

    /// The records, ledger entry and budgets beginning with `start` needs. By default those of
    /// the entry screen ([`Entry::entry_needs`]).
    fn begin_needs(user: Option<UserId>, start: &Self::Start) -> Needs {
        let _ = start;
        Self::entry_needs(user)
    }

    /// Begins the flow: pure, on the records the driver loaded.
    fn begin<R: CryptoRng + ?Sized>(
        user: Option<UserId>,
        start: Self::Start,
        records: &Records,
        id: &FlowId,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<Next<Self>>, PortalError>;
}

/// What the flows' unit tests run a pure transition with: the cheap test policy (or another), a
/// hasher over its argon2 parameters and a seeded CSPRNG, lent out as a [`Cx`].
#[cfg(test)]
pub(crate) struct Fixture {
    pub(crate) policy: Policy,
    pub(crate) hasher: crate::secret::Argon2Hasher,
    pub(crate) rng: rand::rngs::StdRng,
}

#[cfg(test)]
impl Fixture {
    /// [`Policy::insecure_fast_hashing`], the CSPRNG seeded with `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self::with_policy(Policy::insecure_fast_hashing(), seed)
    }

    /// `policy`, the CSPRNG seeded with `seed`.
    pub(crate) fn with_policy(policy: Policy, seed: u64) -> Self {
        use crate::secret::{Argon2Hasher, CodeKey};
        use rand::SeedableRng;
        Fixture {
            hasher: Argon2Hasher::new(policy.hashing, CodeKey::from_bytes([5; 32])),
            policy,
            rng: rand::rngs::StdRng::seed_from_u64(seed),
        }
    }

    /// The context of a transition at `now`.
    pub(crate) fn cx(&mut self, now: Instant) -> Cx<'_, rand::rngs::StdRng> {
        Cx {
            now,
            rng: &mut self.rng,
            policy: &self.policy,
            hasher: &self.hasher,
        }
    }
}

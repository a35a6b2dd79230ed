//! The login gate (LOGIN-01 … LOGIN-03): 【ログイン】, 【ログイン(セキュリティコード)】, the lockout
//! and the routing into the first-login flow ([`first_login`]), the grace-period
//! registration ([`grace`](crate::grace)) or the menu.
//!
//! The crate never creates a session: reaching the menu is the value [`Route::Menu`], which the
//! host acts on. Every other [`Route`] names the flow the browser is in and the screen to draw.
//!
//! | state | screen | waits for |
//! | --- | --- | --- |
//! | (none) | 【ログイン】 ([`login_screen`]) | user ID + password: [`Portal::login`] |
//! | [`AwaitingSecurityCode`] | 【ログイン(セキュリティコード)】 | the security code: [`Portal::login_security_code`] |
//!
//! Decisions where the rules are silent:
//! - The security-code step must be completed within the policy's code lifetime (30 minutes).
//! - An unknown user ID does the same hashing work as a known one and is refused with the same
//!   error as a wrong password; it locks nothing (there is no account to lock). User IDs are made
//!   of public office numbers (VAL-03), so telling "locked" apart reveals little.
//! - Attempts while locked are refused without checking the password and do not extend the lock;
//!   when the lock ends, the count starts again from zero.
//! - An expired temporary password (RI-10) is reported only once the password itself has verified,
//!   so someone without the password learns nothing; it does not count as a failure.

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};

use crate::account::{Account, NoticeEmail, SecurityEmails, Temporary, TermsAcceptance};
use crate::calendar::Instant;
use crate::effect::{Effect, Event, EventKind};
use crate::error::{FlowError, PortalError};
use crate::first_login::{self, FirstLogin};
use crate::flow::{Authenticated, Cx, Next, Step};
use crate::grace::Grace;
use crate::policy::Policy;
use crate::portal::{Portal, Tx};
use crate::screen::button::{BACK, LOGIN};
use crate::screen::{Field, Screen};
use crate::secret::PasswordHash;
use crate::store::{FlowId, FlowKind, Key};
use crate::values::{Password, SecurityCode, UserId};

/// The link both login screens carry into the lost-credentials menu (LOGIN-01, LOST-01).
pub const LOST_LINK: &str = "パスワード等を紛失した方はこちら";

/// The heading both login screens carry.
const HEADING: &str = "電子請求受付システム";
const HEADING_ID: &str = "login.heading";

/// Form names of the login screens' fields, and of the lost-credentials link (LOST-01).
const USER_ID: &str = "user_id";
const PASSWORD: &str = "password";
const SECURITY_CODE: &str = "security_code";
/// The input the link `パスワード等を紛失した方はこちら` sends: the host shows
/// [`crate::lost::menu_screen`].
pub const LOST: &str = "lost";

/// 【ログイン】: user ID and password (LOGIN-01).
///
/// # Example
/// ```
/// let screen = kaigo_seikyu::login::login_screen();
/// assert_eq!(screen.title, "ログイン");
/// assert!(screen.offers("パスワード等を紛失した方はこちら"));
/// ```
pub fn login_screen() -> Screen {
    Screen::new("ログイン")
        .text(HEADING_ID, HEADING)
        .text(
            "login.lead",
            "ユーザIDとパスワードを入力して、【ログイン】ボタンを押してください。",
        )
        .field(Field::text(USER_ID, "ユーザID").required().max_len(14))
        .field(Field::password(PASSWORD, "パスワード").required())
        .button(BACK, "戻る")
        .button(LOGIN, "ログイン")
        .link(LOST, LOST_LINK)
}

/// Where the gate sends a user after a successful login (LOGIN-03), in this order: the first-login
/// flow when a temporary password, an unaccepted terms version (FL-08) or, for a new office, the
/// missing security email asks for it; the grace registration for an existing office without a
/// security email; else the menu.
///
/// # Example
/// ```
/// use kaigo_seikyu::calendar::utc;
/// use kaigo_seikyu::login::{Destination, destination, new_office};
/// use kaigo_seikyu::policy::Policy;
/// use kaigo_seikyu::secret::PasswordHash;
/// let office = new_office("KJ131311111111".parse().unwrap(), PasswordHash::from_phc("$argon2id$…"));
/// let now = utc("2026-01-10T10:00:00+09:00");
/// assert_eq!(destination(&office, &Policy::default(), now), Destination::FirstLogin);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// The first-login flow (FL), at the first step still needed (FL-07).
    FirstLogin,
    /// The grace registration (GR); `skip_offered` says whether the checkbox is shown now (GR-02,
    /// GR-03). Whether skipping is allowed is decided again when `次へ` is pressed.
    Grace {
        /// Whether the grace period (CAL-02) still runs at the instant of the decision.
        skip_offered: bool,
    },
    /// The menu: nothing is asked.
    Menu,
}

/// LOGIN-03: the gate's decision for `account` at `now`.
///
/// # Example
/// ```
/// use kaigo_seikyu::account::TermsAcceptance;
/// use kaigo_seikyu::calendar::utc;
/// use kaigo_seikyu::login::{Destination, destination, existing_office};
/// use kaigo_seikyu::policy::Policy;
/// use kaigo_seikyu::secret::PasswordHash;
/// let at = utc("2020-04-01T09:00:00+09:00");
/// let office = existing_office(
///     "KJ131311111111".parse().unwrap(),
///     PasswordHash::from_phc("$argon2id$…"),
///     TermsAcceptance { version: 1, at },
/// );
/// let policy = Policy::default();
/// assert_eq!(
///     destination(&office, &policy, utc("2026-01-31T23:59:59+09:00")),
///     Destination::Grace { skip_offered: true }
/// );
/// assert_eq!(
///     destination(&office, &policy, utc("2026-02-01T00:00:00+09:00")),
///     Destination::Grace { skip_offered: false }
/// );
/// ```
pub fn destination(account: &Account, policy: &Policy, now: Instant) -> Destination {
    if first_login::pending(account, policy).any() {
        Destination::FirstLogin
    } else if account.security_emails.is_empty() {
        // Not pending in FL, so the office is grace-eligible (an existing office).
        Destination::Grace {
            skip_offered: policy.grace_allows(now),
        }
    } else {
        Destination::Menu
    }
}

/// Provisioning: the account of a new office, holding the temporary password (仮パスワード) it was
/// sent on paper. Its first login goes through the whole first-login flow (FL-01), with no grace
/// period (FL-04).
///
/// # Example
/// ```
/// use kaigo_seikyu::login::new_office;
/// use kaigo_seikyu::secret::PasswordHash;
/// let acct = new_office("KJ131311111111".parse().unwrap(), PasswordHash::from_phc("$argon2id$…"));
/// assert!(acct.temporary.is_some() && !acct.grace_eligible && acct.terms.is_none());
/// ```
pub fn new_office(user: UserId, temporary: PasswordHash) -> Account {
    Account {
        temporary: Some(Temporary { expires_at: None }),
        ..Account::new(user, temporary)
    }
}

/// Provisioning: the account of an office that existed before the release: it has been through
/// the first login and accepted `terms`, has no security email and is eligible for the grace
/// period (GR, CAL-02).
///
/// # Example
/// ```
/// use kaigo_seikyu::account::TermsAcceptance;
/// use kaigo_seikyu::calendar::utc;
/// use kaigo_seikyu::login::existing_office;
/// use kaigo_seikyu::secret::PasswordHash;
/// let terms = TermsAcceptance { version: 1, at: utc("2020-04-01T09:00:00+09:00") };
/// let acct = existing_office("KJ131311111111".parse().unwrap(), PasswordHash::from_phc("$argon2id$…"), terms);
/// assert!(acct.grace_eligible && acct.first_login_done && acct.security_emails.is_empty());
/// ```
pub fn existing_office(user: UserId, password: PasswordHash, terms: TermsAcceptance) -> Account {
    Account {
        terms: Some(terms),
        notice_email: NoticeEmail::NotAsked,
        first_login_done: true,
        grace_eligible: true,
        security_emails: SecurityEmails::default(),
        ..Account::new(user, password)
    }
}

/// Where the browser goes after a request of the login gate or of a flow it leads into.
///
/// # Example
/// ```
/// use kaigo_seikyu::login::{Route, login_screen};
/// let route = Route::Login { screen: login_screen() };
/// assert!(route.flow_id().is_none());
/// assert_eq!(route.screen().unwrap().title, "ログイン");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Back at 【ログイン】, not logged in (e.g. `ログアウト` on the grace screen).
    Login {
        /// 【ログイン】.
        screen: Screen,
    },
    /// 【ログイン(セキュリティコード)】 (LOGIN-01): answer with [`Portal::login_security_code`].
    SecurityCode {
        /// The login flow.
        id: FlowId,
        /// Its screen.
        screen: Screen,
    },
    /// The first-login flow (FL): answer with [`Portal::first_login_input`].
    FirstLogin {
        /// The flow.
        id: FlowId,
        /// Its current screen.
        screen: Screen,
    },
    /// The grace registration (GR): answer with [`Portal::grace_input`].
    Grace {
        /// The flow.
        id: FlowId,
        /// Its current screen.
        screen: Screen,
    },
    /// The menu: the user is logged in. The host starts its session for `user`.
    Menu {
        /// Who.
        user: UserId,
    },
}

impl Route {
    /// The flow the browser is in, if any.
    pub fn flow_id(&self) -> Option<&FlowId> {
        match self {
            Route::SecurityCode { id, .. }
            | Route::FirstLogin { id, .. }
            | Route::Grace { id, .. } => Some(id),
            Route::Login { .. } | Route::Menu { .. } => None,
        }
    }

    /// The screen to draw, if the route has one (the menu is the host's).
    pub fn screen(&self) -> Option<&Screen> {
        match self {
            Route::Login { screen }
            | Route::SecurityCode { screen, .. }
            | Route::FirstLogin { screen, .. }
            | Route::Grace { screen, .. } => Some(screen),
            Route::Menu { .. } => None,
        }
    }
}

/// The login flow, persisted between 【ログイン】 and 【ログイン(セキュリティコード)】.
///
/// # Example
/// ```
/// use kaigo_seikyu::login::Login;
/// fn title(state: &Login) -> String {
///     state.screen().title
/// }
/// # let _ = title;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Login {
    /// 【ログイン(セキュリティコード)】.
    AwaitingSecurityCode(AwaitingSecurityCode),
}

/// 【ログイン(セキュリティコード)】: the password verified; waits for the security code (LOGIN-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::login::Login;
/// let stored = r#"{"AwaitingSecurityCode":{"user":"KJ131311111111","expires_at":"2026-01-10T01:30:00Z"}}"#;
/// let state: Login = serde_json::from_str(stored)?;
/// assert_eq!(state.screen().title, "ログイン(セキュリティコード)");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitingSecurityCode {
    user: UserId,
    expires_at: Instant,
}

impl From<AwaitingSecurityCode> for Login {
    fn from(state: AwaitingSecurityCode) -> Self {
        Login::AwaitingSecurityCode(state)
    }
}

impl Login {
    /// The screen of the state (LOGIN-01): the security code field and the lost-credentials link.
    pub fn screen(&self) -> Screen {
        match self {
            Login::AwaitingSecurityCode(_) => Screen::new("ログイン(セキュリティコード)")
                .text(HEADING_ID, HEADING)
                .text(
                    "login.security_code.lead",
                    "セキュリティコードを入力して、【ログイン】ボタンを押してください。",
                )
                .field(Field::password(SECURITY_CODE, "セキュリティコード").required())
                .button(LOGIN, "ログイン")
                .link(LOST, LOST_LINK),
        }
    }

    /// LOGIN-01, LOGIN-02: checks the security code of `account` at `cx.now`. A wrong one counts
    /// as a failed login and may lock the user ID; the right one goes through the gate.
    pub fn enter_security_code<R: CryptoRng + ?Sized>(
        self,
        code: &SecurityCode,
        account: Account,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<Next<Login>>, FlowError> {
        let Login::AwaitingSecurityCode(state) = self;
        refuse_if_locked(&account, cx.now)?;
        if cx.now >= state.expires_at {
            return Err(FlowError::FlowExpired);
        }
        let right = account
            .security_code
            .as_ref()
            .is_some_and(|hash| cx.hasher.verify(code.expose(), hash));
        if right {
            Ok(succeed(account, cx.now))
        } else {
            let state = Next::Stay(Login::from(state));
            Ok(count_failure(
                state,
                account,
                FlowError::WrongSecurityCode,
                cx,
            ))
        }
    }
}

/// LOGIN-01 … LOGIN-03 and RI-10: checks a user ID's password at `cx.now`.
///
/// - longer than the policy allows (VAL-06, SEC-09): the length clause's [`FlowError::Value`]
///   before anything else, for a known or unknown user ID alike: nothing hashed, counted or
///   changed (no password that long can be right, so it is a malformed entry, not a failed login);
/// - locked (LOGIN-02): [`FlowError::Locked`], nothing checked or changed;
/// - unknown user ID or wrong password: [`FlowError::WrongCredentials`] as a rejected step; a wrong
///   password counts, and the third in a row locks the ID for the policy's lockout
///   ([`FlowError::Locked`], event `LockedOut`);
/// - an expired temporary password (RI-10), told only once the password verified:
///   [`FlowError::TemporaryPasswordExpired`] as a rejected step (an event, no count);
/// - a security code set: [`Next::Stay`] at [`AwaitingSecurityCode`];
/// - else [`Next::Leave`]: through the gate, the failure count reset.
///
/// A refusal's state is [`Next::Login`].
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, error::FlowError, login, flow::Next};
/// use kaigo_seikyu::{policy::Policy, flow::Cx, values::Password};
/// use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, SecretHasher};
/// use rand::SeedableRng;
/// let policy = Policy::insecure_fast_hashing();
/// let hasher = Argon2Hasher::new(policy.hashing, CodeKey::from_bytes([1; 32]));
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let user = "KJ131311111111".parse()?;
/// let account = login::new_office(user, hasher.hash(b"Kari2026pass", &[7; 16]));
/// let mut cx = Cx { now: utc("2026-01-10T10:00:00+09:00"), rng: &mut rng, policy: &policy, hasher: &hasher };
/// let step = login::enter_password(user, Some(account), &Password::new("wrong"), &mut cx)?;
/// assert_eq!(step.state, Next::Login);
/// assert_eq!(step.rejected, Some(FlowError::WrongCredentials));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn enter_password<R: CryptoRng + ?Sized>(
    user: UserId,
    account: Option<Account>,
    password: &Password,
    cx: &mut Cx<'_, R>,
) -> Result<Step<Next<Login>>, FlowError> {
    password.check_max_length(&cx.policy.password)?;
    let failed = Effect::Event(Event {
        at: cx.now,
        kind: EventKind::LoginFailed { user },
    });
    let Some(account) = account else {
        // The same argon2 work as verifying, so timing does not tell an unknown ID.
        let _ = cx.hash(password.expose());
        return Ok(Step::rejected(Next::Login, FlowError::WrongCredentials).with(failed));
    };
    refuse_if_locked(&account, cx.now)?;
    if !cx.hasher.verify(password.expose(), &account.password) {
        let refused = Next::Login;
        return Ok(count_failure(
            refused,
            account,
            FlowError::WrongCredentials,
            cx,
        ));
    }
    if temporary_expired(&account, cx.now) {
        return Ok(Step::rejected(Next::Login, FlowError::TemporaryPasswordExpired).with(failed));
    }
    if account.security_code.is_some() {
        // SEC-06: a deadline past the end of time is now: the step is expired at once.
        let state = AwaitingSecurityCode {
            user,
            expires_at: cx
                .now
                .checked_add_signed(cx.policy.code_lifetime())
                .unwrap_or(cx.now),
        };
        return Ok(Step::to(Next::Stay(Login::from(state))));
    }
    Ok(succeed(account, cx.now))
}

/// A successful login: the failure count and an ended lock cleared, `LoginSucceeded`.
fn succeed(mut account: Account, now: Instant) -> Step<Next<Login>> {
    let user = account.user_id;
    let mut step = Step::to(Next::Gate(Authenticated::verified(user)));
    if account.failures != 0 || account.locked_until.is_some() {
        account.failures = 0;
        account.locked_until = None;
        step = step.with(Effect::SaveAccount(Box::new(account)));
    }
    step.with(Effect::Event(Event {
        at: now,
        kind: EventKind::LoginSucceeded { user },
    }))
}

/// LOGIN-02: a refusal that counts a failure (after an ended lock, from zero) and stays at
/// `state`; the policy's count locks the ID ([`FlowError::Locked`] instead of `error`).
pub(crate) fn count_failure<S, R: CryptoRng + ?Sized>(
    state: S,
    mut account: Account,
    error: FlowError,
    cx: &Cx<'_, R>,
) -> Step<S> {
    let user = account.user_id;
    if account.locked_until.is_some() {
        account.locked_until = None;
        account.failures = 0;
    }
    account.failures = account.failures.saturating_add(1);
    let failed = Effect::Event(Event {
        at: cx.now,
        kind: EventKind::LoginFailed { user },
    });
    if account.failures < cx.policy.lockout_failures {
        return Step::rejected(state, error)
            .with(Effect::SaveAccount(Box::new(account)))
            .with(failed);
    }
    // SEC-06: a lock that would end past the end of time lasts until then (failing closed).
    let until = cx
        .now
        .checked_add_signed(cx.policy.lockout())
        .unwrap_or(Instant::MAX_UTC);
    account.failures = 0;
    account.locked_until = Some(until);
    Step::rejected(state, FlowError::Locked { until })
        .with(Effect::SaveAccount(Box::new(account)))
        .with(failed)
        .with(Effect::Event(Event {
            at: cx.now,
            kind: EventKind::LockedOut { user, until },
        }))
}

/// LOGIN-02: refuses while `account` is locked at `now`, saying nothing of any password.
pub(crate) fn refuse_if_locked(account: &Account, now: Instant) -> Result<(), FlowError> {
    match account.locked_until {
        Some(until) if account.is_locked(now) => Err(FlowError::Locked { until }),
        _ => Ok(()),
    }
}

/// RI-10: whether `account` holds a temporary password that has expired at `now`.
pub(crate) fn temporary_expired(account: &Account, now: Instant) -> bool {
    account
        .temporary
        .and_then(|t| t.expires_at)
        .is_some_and(|end| now >= end)
}

/// The account as a step leaves it: the last one it saves for `user`, else `loaded`.
pub(crate) fn account_after(effects: &[Effect], loaded: &Account) -> Account {
    effects
        .iter()
        .rev()
        .find_map(|e| match e {
            Effect::SaveAccount(a) if a.user_id == loaded.user_id => Some(a.as_ref().clone()),
            _ => None,
        })
        .unwrap_or_else(|| loaded.clone())
}

/// LOGIN-03: through the gate: starts the flow [`destination`] names (at its first step still
/// needed) or reaches the menu.
pub(crate) fn through<R: CryptoRng + ?Sized>(
    tx: &mut Tx<'_>,
    auth: Authenticated,
    account: &Account,
    now: Instant,
    rng: &mut R,
) -> Result<Route, PortalError> {
    let policy = &tx.portal().policy;
    match destination(account, policy, now) {
        Destination::FirstLogin => match FirstLogin::begin(auth, account, policy) {
            Some(state) => {
                let id = FlowId::generate(rng);
                let screen = state.screen(policy);
                tx.put(Key::Flow(FlowKind::FirstLogin, id.clone()), &state)?;
                Ok(Route::FirstLogin { id, screen })
            }
            None => Ok(Route::Menu { user: auth.user() }),
        },
        Destination::Grace { .. } => {
            let state = Grace::begin(auth);
            let id = FlowId::generate(rng);
            let screen = state.screen(policy, now);
            tx.put(Key::Flow(FlowKind::Grace, id.clone()), &state)?;
            Ok(Route::Grace { id, screen })
        }
        Destination::Menu => Ok(Route::Menu { user: auth.user() }),
    }
}

/// Where a flow's step leads, for the flow's driver: saves the step and returns the route. `stay`
/// draws the route of a state that stays in the flow. Leaving deletes the flow record.
pub(crate) fn settle<S: Serialize, R: CryptoRng + ?Sized>(
    tx: &mut Tx<'_>,
    (kind, id): (FlowKind, &FlowId),
    loaded: &Account,
    step: Step<Next<S>>,
    now: Instant,
    rng: &mut R,
    stay: impl FnOnce(&S) -> Route,
) -> Result<Route, PortalError> {
    let Step {
        state,
        effects,
        rejected,
    } = step;
    match split(state) {
        Ok(state) => {
            let route = stay(&state);
            tx.step(
                kind,
                id,
                Step {
                    state,
                    effects,
                    rejected,
                },
            )?;
            Ok(route)
        }
        Err(out) => {
            tx.delete(Key::Flow(kind, id.clone()));
            leave(tx, out, loaded, effects, rejected, now, rng)
        }
    }
}

/// A [`Next`] that leaves the flow: where to.
enum Out {
    Leave(Authenticated),
    Menu(UserId),
    LoginScreen,
}

/// The state to stay at, or where the step leaves to.
fn split<S>(next: Next<S>) -> Result<S, Out> {
    match next {
        Next::Stay(state) => Ok(state),
        Next::Gate(auth) => Err(Out::Leave(auth)),
        Next::Menu(skip) => Err(Out::Menu(skip.user())),
        Next::Login | Next::End(_) => Err(Out::LoginScreen),
    }
}

/// Applies a leaving step's effects and goes where it leads.
fn leave<R: CryptoRng + ?Sized>(
    tx: &mut Tx<'_>,
    out: Out,
    loaded: &Account,
    effects: Vec<Effect>,
    rejected: Option<FlowError>,
    now: Instant,
    rng: &mut R,
) -> Result<Route, PortalError> {
    let account = account_after(&effects, loaded);
    tx.apply(effects)?;
    if let Some(error) = rejected {
        tx.rejected = Some(error);
    }
    match out {
        Out::Leave(auth) => through(tx, auth, &account, now, rng),
        Out::Menu(user) => Ok(Route::Menu { user }),
        Out::LoginScreen => Ok(Route::Login {
            screen: login_screen(),
        }),
    }
}

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
    /// use kaigo_seikyu::login::Route;
    /// use rand::SeedableRng;
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let user = "KJ131311111111".parse()?;
    /// let hash = portal.hash_secret(b"Kari2026pass", &mut rng);
    /// portal.create_account(login::new_office(user, hash))?;
    /// let route = portal.login("KJ131311111111", "Kari2026pass", &mut rng)?;
    /// assert!(matches!(route, Route::FirstLogin { .. }));
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
        self.transact(|tx, now| {
            let loaded: Option<Account> = tx.get(&Key::Account(user))?;
            let mut cx = tx.cx(now, &mut *rng);
            let step = enter_password(user, loaded.clone(), &password, &mut cx)?;
            let Step {
                state,
                effects,
                rejected,
            } = step;
            match (split(state), loaded) {
                (Ok(state), _) => {
                    let id = FlowId::generate(&mut *rng);
                    let screen = state.screen();
                    tx.step(
                        FlowKind::Login,
                        &id,
                        Step {
                            state,
                            effects,
                            rejected,
                        },
                    )?;
                    Ok(Route::SecurityCode { id, screen })
                }
                (Err(out), Some(account)) => {
                    leave(tx, out, &account, effects, rejected, now, &mut *rng)
                }
                // An unknown user ID: refused, back at 【ログイン】.
                (Err(_), None) => {
                    tx.apply(effects)?;
                    tx.rejected = rejected;
                    Ok(Route::Login {
                        screen: login_screen(),
                    })
                }
            }
        })
    }

    /// 【ログイン(セキュリティコード)】 (LOGIN-01, LOGIN-02): the security code as typed, in the login
    /// flow `id`. A wrong code counts like a wrong password; the right one goes through the gate
    /// (LOGIN-03). [`FlowError::FlowExpired`] after the policy's code lifetime.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, login, memory::Embedded, policy::Policy, secret::CodeKey};
    /// use kaigo_seikyu::login::Route;
    /// use rand::SeedableRng;
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let user = "KJ131311111111".parse()?;
    /// let mut acct = login::new_office(user, portal.hash_secret(b"Kari2026pass", &mut rng));
    /// acct.security_code = Some(portal.hash_secret(b"7351", &mut rng));
    /// portal.create_account(acct)?;
    /// let route = portal.login("KJ131311111111", "Kari2026pass", &mut rng)?;
    /// let Route::SecurityCode { id, screen } = route else { panic!("{route:?}") };
    /// assert_eq!(screen.title, "ログイン(セキュリティコード)");
    /// let route = portal.login_security_code(&id, "7351", &mut rng)?;
    /// assert!(matches!(route, Route::FirstLogin { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn login_security_code<R: CryptoRng + ?Sized>(
        &self,
        id: &FlowId,
        code: &str,
        rng: &mut R,
    ) -> Result<Route, PortalError> {
        let code = SecurityCode::new(code);
        self.transact(|tx, now| {
            let state: Login = tx.flow(FlowKind::Login, id)?;
            let Login::AwaitingSecurityCode(AwaitingSecurityCode { user, .. }) = &state;
            let account = tx.account(*user)?;
            let mut cx = tx.cx(now, &mut *rng);
            let step = state.enter_security_code(&code, account.clone(), &mut cx)?;
            settle(
                tx,
                (FlowKind::Login, id),
                &account,
                step,
                now,
                &mut *rng,
                |s| Route::SecurityCode {
                    id: id.clone(),
                    screen: s.screen(),
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::utc;
    use crate::secret::{Argon2Hasher, CodeKey, SecretHasher};
    use rand::SeedableRng;

    fn setup() -> (Policy, Argon2Hasher, rand::rngs::StdRng) {
        let policy = Policy::insecure_fast_hashing();
        let hasher = Argon2Hasher::new(policy.hashing, CodeKey::from_bytes([2; 32]));
        (policy, hasher, rand::rngs::StdRng::seed_from_u64(3))
    }

    /// LOGIN-02: the third consecutive failure locks; the lock refuses the right password; after
    /// the lock the count starts from zero.
    #[test]
    fn login_02_pure_lockout_counting() {
        let (policy, hasher, mut rng) = setup();
        let user: UserId = "KJ131311111111".parse().unwrap();
        let mut account = new_office(user, hasher.hash(b"Kari2026pass", &[1; 16]));
        let t0 = utc("2026-01-10T10:00:00+09:00");
        let mut cx = Cx {
            now: t0,
            rng: &mut rng,
            policy: &policy,
            hasher: &hasher,
        };
        for n in 1..=3u8 {
            let step = enter_password(user, Some(account.clone()), &Password::new("nope"), &mut cx)
                .unwrap();
            account = account_after(&step.effects, &account);
            if n < 3 {
                assert_eq!(step.rejected, Some(FlowError::WrongCredentials));
                assert_eq!(account.failures, n);
            } else {
                assert_eq!(
                    step.rejected,
                    Some(FlowError::Locked {
                        until: t0 + policy.lockout()
                    })
                );
            }
        }
        let right = Password::new("Kari2026pass");
        assert!(matches!(
            enter_password(user, Some(account.clone()), &right, &mut cx),
            Err(FlowError::Locked { .. })
        ));
        cx.now = t0 + policy.lockout();
        let step =
            enter_password(user, Some(account.clone()), &Password::new("nope"), &mut cx).unwrap();
        assert_eq!(
            account_after(&step.effects, &account).failures,
            1,
            "counted from zero after the lock"
        );
        let step = enter_password(user, Some(account), &right, &mut cx).unwrap();
        assert!(matches!(step.state, Next::Gate(a) if a.user() == user));
    }

    /// SEC-06, SEC-03, LOGIN-02: at the last instants chrono can hold, where `now` plus a lifetime
    /// cannot be represented, nothing panics: the security-code step is expired at once, and a
    /// lock lasts to the end of time (failing closed).
    #[test]
    fn sec_06_login_at_the_end_of_time_fails_safe() {
        let (policy, hasher, mut rng) = setup();
        let user: UserId = "KJ131311111111".parse().unwrap();
        let mut account = new_office(user, hasher.hash(b"Kari2026pass", &[1; 16]));
        account.security_code = Some(hasher.hash(b"7351", &[2; 16]));
        let now = Instant::MAX_UTC - chrono::TimeDelta::minutes(1);
        let mut cx = Cx {
            now,
            rng: &mut rng,
            policy: &policy,
            hasher: &hasher,
        };
        let right = Password::new("Kari2026pass");
        let step = enter_password(user, Some(account.clone()), &right, &mut cx).unwrap();
        let Next::Stay(state) = step.state else {
            panic!("the security code step: {:?}", step.state)
        };
        assert_eq!(
            state
                .enter_security_code(&SecurityCode::new("7351"), account.clone(), &mut cx)
                .map(|s| s.state),
            Err(FlowError::FlowExpired)
        );

        account.failures = policy.lockout_failures - 1;
        let step =
            enter_password(user, Some(account.clone()), &Password::new("nope"), &mut cx).unwrap();
        assert_eq!(
            step.rejected,
            Some(FlowError::Locked {
                until: Instant::MAX_UTC
            })
        );
        let locked = account_after(&step.effects, &account);
        assert!(locked.is_locked(now));
        assert!(matches!(
            enter_password(user, Some(locked), &right, &mut cx),
            Err(FlowError::Locked { .. })
        ));
    }
}

//! The login gate (LOGIN-01 … LOGIN-03): 【ログイン】, 【ログイン(セキュリティコード)】, the lockout
//! and the decision ([`destination`]) that sends a user who logged in into the first-login flow
//! ([`crate::first_login`]), the grace-period registration ([`crate::grace`]) or the menu. The
//! driver acts on that decision (it starts the flow): this module imports none of those flows.
//!
//! The crate never creates a session: reaching the menu is the value
//! [`Route::Menu`](crate::portal::Route::Menu), which the host acts on. Every other
//! [`Route`](crate::portal::Route) names the flow the browser is in and the screen to draw.
//!
//! | state | screen | waits for |
//! | --- | --- | --- |
//! | (none: the [entry](Entry)) | 【ログイン】 ([`login_screen`]) | user ID + password: [`Start::Password`], or [`Portal::login`](crate::portal::Portal::login) |
//! | [`AwaitingSecurityCode`] | 【ログイン(セキュリティコード)】 | the security code: [`Input::EnterSecurityCode`], or [`Portal::login_security_code`](crate::portal::Portal::login_security_code) |
//!
//! Buttons: `login` on both screens; the link `lost` (`パスワード等を紛失した方はこちら`) on both
//! ends any login flow at the lost-credentials menu ([`crate::lost::menu_screen`]); `戻る`
//! (`back`) on 【ログイン】 is host navigation (to the host's top page): the gate refuses it.
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
use crate::flow::{Authenticated, Cx, Entry, Flow, Needs, Next, Records, Step, View};
use crate::policy::Policy;
use crate::screen::button::{BACK, LOGIN};
use crate::screen::field::PASSWORD;
use crate::screen::{Field, Form, Screen};
use crate::secret::PasswordHash;
use crate::store::{FlowId, FlowKind};
use crate::values::{Password, SecurityCode, UserId};

/// The link both login screens carry into the lost-credentials menu (LOGIN-01, LOST-01).
pub const LOST_LINK: &str = "パスワード等を紛失した方はこちら";

/// The heading both login screens carry.
const HEADING: &str = "電子請求受付システム";
const HEADING_ID: &str = "login.heading";

/// Form names of the login screens' fields, and of the lost-credentials link (LOST-01).
const USER_ID: &str = "user_id";
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

/// Which first-login steps an account still needs (FL-07, FL-08).
///
/// # Example
/// ```
/// use kaigo_seikyu::first_login::pending;
/// use kaigo_seikyu::login::new_office;
/// use kaigo_seikyu::policy::Policy;
/// use kaigo_seikyu::secret::PasswordHash;
/// let office = new_office("KJ131311111111".parse().unwrap(), PasswordHash::from_phc("$argon2id$…"));
/// let p = pending(&office, &Policy::default());
/// assert!(p.terms && p.password && p.notice_email && p.security_email);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// FL-08: the policy's terms version has not been accepted.
    pub terms: bool,
    /// FL-02, RI-10: the password is a temporary one.
    pub password: bool,
    /// FL-03: the notice email was never asked (and the office has never been through FL).
    pub notice_email: bool,
    /// FL-04: a new office (no grace period) without a security email.
    pub security_email: bool,
}

impl Pending {
    /// Whether any step is still needed.
    pub fn any(&self) -> bool {
        self.terms || self.password || self.notice_email || self.security_email
    }
}

/// FL-07, FL-08: the steps `account` still needs under `policy`.
///
/// # Example
/// ```
/// use kaigo_seikyu::account::TermsAcceptance;
/// use kaigo_seikyu::calendar::utc;
/// use kaigo_seikyu::first_login::pending;
/// use kaigo_seikyu::login::existing_office;
/// use kaigo_seikyu::policy::Policy;
/// use kaigo_seikyu::secret::PasswordHash;
/// let terms = TermsAcceptance { version: 1, at: utc("2020-04-01T09:00:00+09:00") };
/// let office = existing_office("KJ131311111111".parse().unwrap(), PasswordHash::from_phc("x"), terms);
/// assert!(!pending(&office, &Policy::default()).any(), "the grace flow, not FL");
/// let v2 = Policy { terms_version: 2, ..Policy::default() };
/// assert!(pending(&office, &v2).terms, "FL-08: a new version is asked");
/// ```
pub fn pending(account: &Account, policy: &Policy) -> Pending {
    Pending {
        terms: account
            .terms
            .is_none_or(|t| t.version < policy.terms_version),
        password: account.temporary.is_some(),
        notice_email: !account.first_login_done && account.notice_email == NoticeEmail::NotAsked,
        security_email: account.security_emails.is_empty() && !account.grace_eligible,
    }
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
    if pending(account, policy).any() {
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
    /// When the password was verified: the deadline is checked against it when read back
    /// (OPS-07). Absent in states stored before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started_at: Option<Instant>,
}

/// OPS-07: the security-code step ends no later than the policy's code lifetime from the
/// password's verification (from now, for a state stored without it).
impl crate::validate::Validate for Login {
    fn validate(&self, check: &crate::validate::Check<'_>) -> Result<(), crate::validate::Invalid> {
        let life = check.policy.code_lifetime();
        match self {
            Login::AwaitingSecurityCode(s) => match s.started_at {
                Some(start) => check.deadline("expires_at", start, s.expires_at, life),
                None => check.deadline_from_now("expires_at", s.expires_at, life),
            },
        }
    }
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

/// What the user does on 【ログイン(セキュリティコード)】, parsed ([`Flow::parse`]). `Debug` shows
/// no secret.
///
/// # Example
/// ```
/// use kaigo_seikyu::login::Input;
/// use kaigo_seikyu::values::SecurityCode;
/// let input = Input::EnterSecurityCode(SecurityCode::new("7351"));
/// assert!(!format!("{input:?}").contains("7351"));
/// ```
#[derive(Debug, Clone)]
pub enum Input {
    /// `ログイン` with 《セキュリティコード》 (LOGIN-01, LOGIN-02).
    EnterSecurityCode(SecurityCode),
    /// The link `パスワード等を紛失した方はこちら`: the login flow ends and the lost-credentials
    /// menu is shown (LOST-01).
    Lost,
}

/// What 【ログイン】 sends, parsed ([`Entry::parse_start`]). `Debug` shows no secret.
///
/// # Example
/// ```
/// use kaigo_seikyu::login::Start;
/// use kaigo_seikyu::values::Password;
/// let start = Start::Password { user: "KJ131311111111".parse()?, password: Password::new("Sakura2026!") };
/// assert!(!format!("{start:?}").contains("Sakura"));
/// # Ok::<(), kaigo_seikyu::values::ValueError>(())
/// ```
#[derive(Debug, Clone)]
pub enum Start {
    /// `ログイン` with 《ユーザID》 and 《パスワード》 (LOGIN-01 … LOGIN-03).
    Password {
        /// 《ユーザID》.
        user: UserId,
        /// 《パスワード》.
        password: Password,
    },
    /// The link `パスワード等を紛失した方はこちら`: the lost-credentials menu (LOST-01).
    Lost,
}

impl Flow for Login {
    const KIND: FlowKind = FlowKind::Login;
    type Input = Input;

    fn screen(&self, _: &View<'_>) -> Screen {
        Login::screen(self)
    }

    /// `login` with the field `security_code`; the link `lost`.
    fn parse(&self, form: &Form) -> Result<Input, FlowError> {
        match form.button.as_str() {
            LOGIN => Ok(Input::EnterSecurityCode(SecurityCode::new(
                form.text(SECURITY_CODE),
            ))),
            LOST => Ok(Input::Lost),
            _ => Err(FlowError::other_button("AwaitingSecurityCode")),
        }
    }

    /// The security code is checked against the account (LOGIN-02 counts a wrong one).
    fn needs(&self, input: &Input) -> Needs {
        let Login::AwaitingSecurityCode(state) = self;
        match input {
            Input::EnterSecurityCode(_) => Needs::none().account(state.user),
            Input::Lost => Needs::none(),
        }
    }

    fn step<R: CryptoRng + ?Sized>(
        self,
        input: Input,
        records: &Records,
        _: &FlowId,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<Next<Login>>, PortalError> {
        match input {
            Input::Lost => Ok(Step::to(Next::End(crate::lost::menu_screen()))),
            Input::EnterSecurityCode(code) => {
                let Login::AwaitingSecurityCode(state) = &self;
                let account = records
                    .account(state.user)?
                    .ok_or(FlowError::NoSuchAccount)?;
                Ok(self.enter_security_code(&code, account, cx)?)
            }
        }
    }
}

/// 【ログイン】 is the login flow's entry: `login` begins it with the user ID and password (the
/// security-code step, or through the gate: LOGIN-03); the link `lost` shows the lost-credentials
/// menu. `戻る` (`back`) is host navigation (the host's top page) and is refused here.
impl Entry for Login {
    type Start = Start;

    fn entry(_: Option<UserId>, _: &Records, _: &View<'_>) -> Result<Screen, PortalError> {
        Ok(login_screen())
    }

    fn parse_start(form: &Form) -> Result<Start, FlowError> {
        match form.button.as_str() {
            LOGIN => Ok(Start::Password {
                user: form.parse(USER_ID)?,
                password: Password::new(form.text(PASSWORD)),
            }),
            LOST => Ok(Start::Lost),
            _ => Err(FlowError::UnexpectedInput {
                state: "Login",
                input: "back (host navigation)",
            }),
        }
    }

    /// The account of the user ID typed, known or not.
    fn begin_needs(_: Option<UserId>, start: &Start) -> Needs {
        match start {
            Start::Password { user, .. } => Needs::none().account(*user),
            Start::Lost => Needs::none(),
        }
    }

    fn begin<R: CryptoRng + ?Sized>(
        _: Option<UserId>,
        start: Start,
        records: &Records,
        _: &FlowId,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<Next<Login>>, PortalError> {
        match start {
            Start::Lost => Ok(Step::to(Next::End(crate::lost::menu_screen()))),
            Start::Password { user, password } => {
                Ok(enter_password(user, records.account(user)?, &password, cx)?)
            }
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
/// - else [`Next::Gate`]: through the gate, the failure count reset.
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
            started_at: Some(cx.now),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::utc;
    use crate::flow::Fixture;
    use crate::secret::SecretHasher;

    /// The account as a step leaves it: the last one it saves, else `loaded`.
    fn account_after(effects: &[Effect], loaded: &Account) -> Account {
        effects
            .iter()
            .rev()
            .find_map(|e| match e {
                Effect::SaveAccount(a) => Some(a.as_ref().clone()),
                _ => None,
            })
            .unwrap_or_else(|| loaded.clone())
    }

    /// LOGIN-02: the third consecutive failure locks; the lock refuses the right password; after
    /// the lock the count starts from zero.
    #[test]
    fn login_02_pure_lockout_counting() {
        let mut fixture = Fixture::new(3);
        let user: UserId = "KJ131311111111".parse().unwrap();
        let mut account = new_office(user, fixture.hasher.hash(b"Kari2026pass", &[1; 16]));
        let t0 = utc("2026-01-10T10:00:00+09:00");
        let mut cx = fixture.cx(t0);
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
                        until: t0 + cx.policy.lockout()
                    })
                );
            }
        }
        let right = Password::new("Kari2026pass");
        assert!(matches!(
            enter_password(user, Some(account.clone()), &right, &mut cx),
            Err(FlowError::Locked { .. })
        ));
        cx.now = t0 + cx.policy.lockout();
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
        let mut fixture = Fixture::new(3);
        let user: UserId = "KJ131311111111".parse().unwrap();
        let mut account = new_office(user, fixture.hasher.hash(b"Kari2026pass", &[1; 16]));
        account.security_code = Some(fixture.hasher.hash(b"7351", &[2; 16]));
        let now = Instant::MAX_UTC - chrono::TimeDelta::minutes(1);
        let mut cx = fixture.cx(now);
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

        account.failures = cx.policy.lockout_failures - 1;
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

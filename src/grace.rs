//! An existing office without a security email (GR-01 … GR-05; source 1.2.1 (4)(5)): the
//! registration right after login, with the grace period's skip checkbox until 2026-01-31 (CAL-02).
//!
//! ```text
//! 【セキュリティ用メールアドレス設定】 ─次へ (box checked, within the grace period)→ menu
//!                     │ ─次へ (addresses)→ 【確認コード入力】 ─送信→ 【処理終了】 ─終了→ (gate: menu)
//!                     │                     └──戻る──→ (back to the address entry)
//!                     └ ─ログアウト / 戻る→ 【ログイン】
//! ```
//!
//! The registration itself (code mail, 30 minutes, done screen) is the one the first-login flow
//! also holds ([`EnteringSecurityEmail`], [`AwaitingCode`], [`Registered`] of
//! [`crate::registration`]), written once (GR-05).
//!
//! Whether the box may be used is decided when `次へ` is pressed (GR-03), not when the screen was
//! drawn. Decisions where the source is silent: `戻る` on the address entry logs out like
//! `ログアウト` (it is the first screen after login); the code and done screens are the first
//! login's with this flow's one-step list.

use rand_core::CryptoRng;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::account::Account;
use crate::calendar::{Instant, format_padded};
use crate::effect::{Effect, Event, EventKind};
use crate::error::{FlowError, PortalError};
use crate::flow::{Authenticated, Cx, Flow, GraceSkip, Needs, Next, Records, Step, View};
use crate::policy::Policy;
use crate::registration::{
    self, AwaitingCode, EnteringSecurityEmail, Registered, code_screen, confirmed_address,
    confirmed_field, registered_screen, security_email_entry,
};
use crate::screen::button::{BACK, FINISH, LOGOUT, NEXT, SEND};
use crate::screen::field::{ADDRESS, CODE, CONFIRM_ADDRESS};
use crate::screen::{self, Field, Screen};
use crate::store::{FlowId, FlowKind};
use crate::values::{ConfirmationCode, EmailAddress, UserId};

/// The step list of the grace registration, as the source prints it.
pub const STEPS: &[&str] = &["1 セキュリティ用メールアドレス設定"];

/// GR-01: the sentence right under the instruction.
pub const MANDATORY_TEXT: &str =
    "セキュリティ強化のため、セキュリティ用メールアドレスの登録が必須となりました。";

/// GR-02: the checkbox's label.
pub const SKIP_LABEL: &str = "セキュリティ用メールアドレスを登録せずにログインする";

/// GR-02: the form name of the checkbox [`SKIP_LABEL`]; checked when the form sends it.
///
/// # Example
/// ```
/// use kaigo_seikyu::grace::{SKIP, SKIP_LABEL};
/// use kaigo_seikyu::screen::FieldKind;
/// # use kaigo_seikyu::{account::TermsAcceptance, calendar::utc, grace::Grace, login, flow::Next};
/// # use kaigo_seikyu::{policy::Policy, flow::Cx, values::Password};
/// # use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, SecretHasher};
/// # use rand::SeedableRng;
/// # let policy = Policy::insecure_fast_hashing();
/// # let hasher = Argon2Hasher::new(policy.hashing, CodeKey::from_bytes([1; 32]));
/// # let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// # let user = "KJ131311111111".parse()?;
/// # let terms = TermsAcceptance { version: 1, at: utc("2020-04-01T09:00:00+09:00") };
/// # let account = login::existing_office(user, hasher.hash(b"Sakura2026!", &[7; 16]), terms);
/// # let now = utc("2026-01-20T10:00:00+09:00");
/// # let mut cx = Cx { now, rng: &mut rng, policy: &policy, hasher: &hasher };
/// # let step = login::enter_password(user, Some(account), &Password::new("Sakura2026!"), &mut cx)?;
/// # let Next::Gate(auth) = step.state else { unreachable!() };
/// let screen = Grace::begin(auth).screen(&policy, now); // within the grace period
/// let skip = screen.field_named(SKIP).unwrap();
/// assert_eq!((skip.kind, skip.label.as_str(), skip.value.as_deref()), (FieldKind::Checkbox, SKIP_LABEL, None));
/// // The addresses are not required while the box may be checked.
/// assert!(!screen.field_named("address").unwrap().required);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const SKIP: &str = "skip";

/// GR-01: the message id of [`MANDATORY_TEXT`].
const MANDATORY_ID: &str = "gr.mandatory";

/// The grace registration flow, as the store keeps it.
///
/// # Example
/// ```
/// use kaigo_seikyu::grace::Grace;
/// fn title(state: &Grace, now: kaigo_seikyu::calendar::Instant) -> String {
///     state.screen(&kaigo_seikyu::policy::Policy::default(), now).title
/// }
/// # let _ = title;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grace {
    /// 【セキュリティ用メールアドレス設定】, with the skip checkbox within the grace period.
    EnteringSecurityEmail(EnteringSecurityEmail),
    /// 【確認コード入力】.
    AwaitingCode(AwaitingCode),
    /// 【処理終了】.
    Registered(Registered),
}

crate::flow::states!(Grace: EnteringSecurityEmail, AwaitingCode, Registered);

/// OPS-07: the registration's counters and code (see [`crate::registration`]).
impl crate::validate::Validate for Grace {
    fn validate(&self, check: &crate::validate::Check<'_>) -> Result<(), crate::validate::Invalid> {
        match self {
            Grace::EnteringSecurityEmail(s) => s.validate(check),
            Grace::AwaitingCode(s) => s.validate(check),
            Grace::Registered(_) => Ok(()),
        }
    }
}

/// What the user does in the grace flow, parsed ([`Form::parse`]).
///
/// # Example
/// ```
/// use kaigo_seikyu::grace::{Form, Input};
/// let input = Form::Next { skip: false, address: "a@jp", confirm: "a@jp" }.parse()?;
/// assert!(matches!(input, Input::Register(a) if a.as_str() == "a@jp"));
/// # Ok::<(), kaigo_seikyu::error::FlowError>(())
/// ```
#[derive(Debug, Clone)]
pub enum Input {
    /// `次へ` with the box checked (GR-02); any typed addresses are ignored (GR-04).
    Skip,
    /// `次へ` with the address and its matching confirmation.
    Register(EmailAddress),
    /// `送信` on 【確認コード入力】.
    EnterCode(ConfirmationCode),
    /// `戻る`.
    Back,
    /// `ログアウト`.
    Logout,
    /// `終了` on 【処理終了】.
    Finish,
}

impl Input {
    fn name(&self) -> &'static str {
        match self {
            Input::Skip => "Skip",
            Input::Register(_) => "Register",
            Input::EnterCode(_) => "EnterCode",
            Input::Back => "Back",
            Input::Logout => "Logout",
            Input::Finish => "Finish",
        }
    }
}

/// A grace-flow form as the browser sends it: every field as typed. `Debug` hides the code.
///
/// # Example
/// ```
/// use kaigo_seikyu::grace::{Form, Input};
/// // GR-04: the box wins, whatever was typed.
/// let form = Form::Next { skip: true, address: "ｍａｉｌ@jp", confirm: "" };
/// assert!(matches!(form.parse(), Ok(Input::Skip)));
/// let form = Form::Next { skip: false, address: "a@jp", confirm: "b@jp" };
/// assert_eq!(form.parse().unwrap_err().message(), "確認用の入力内容が一致しません。");
/// ```
#[derive(Clone, Copy)]
pub enum Form<'a> {
    /// `次へ` on 【セキュリティ用メールアドレス設定】.
    Next {
        /// Whether `セキュリティ用メールアドレスを登録せずにログインする` is checked.
        skip: bool,
        /// 《セキュリティ用メールアドレス》.
        address: &'a str,
        /// 《セキュリティ用メールアドレス（確認用）》.
        confirm: &'a str,
    },
    /// `送信` on 【確認コード入力】: 《確認コード》.
    EnterCode(&'a str),
    /// `戻る`.
    Back,
    /// `ログアウト`.
    Logout,
    /// `終了`.
    Finish,
}

impl Form<'_> {
    /// Parses the typed fields: with the box checked the addresses are not looked at (GR-04);
    /// otherwise VAL-04, VAL-05. An error names the problem and nothing is drawn or stored.
    pub fn parse(&self) -> Result<Input, FlowError> {
        Ok(match *self {
            Form::Next { skip: true, .. } => Input::Skip,
            Form::Next {
                skip: false,
                address,
                confirm,
            } => Input::Register(confirmed_address(address, confirm)?),
            Form::EnterCode(code) => Input::EnterCode(code.parse()?),
            Form::Back => Input::Back,
            Form::Logout => Input::Logout,
            Form::Finish => Input::Finish,
        })
    }
}

impl fmt::Debug for Form<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Form::Next {
                skip,
                address,
                confirm,
            } => f
                .debug_struct("Next")
                .field("skip", skip)
                .field("address", address)
                .field("confirm", confirm)
                .finish(),
            Form::EnterCode(_) => f.write_str("EnterCode(***)"),
            Form::Back => f.write_str("Back"),
            Form::Logout => f.write_str("Logout"),
            Form::Finish => f.write_str("Finish"),
        }
    }
}

impl Grace {
    /// GR-01: the flow's first state, right after login (see [`GraceSkip`] for a pure run).
    pub fn begin(auth: Authenticated) -> Grace {
        EnteringSecurityEmail::new(auth).into()
    }

    /// The user ID the flow belongs to.
    pub fn user(&self) -> UserId {
        self.auth().user()
    }

    fn auth(&self) -> Authenticated {
        match self {
            Grace::EnteringSecurityEmail(s) => s.auth(),
            Grace::AwaitingCode(s) => s.auth(),
            Grace::Registered(s) => s.auth(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Grace::EnteringSecurityEmail(_) => "EnteringSecurityEmail",
            Grace::AwaitingCode(_) => "AwaitingCode",
            Grace::Registered(_) => "Registered",
        }
    }

    /// The one transition of the flow: applies `input` to this state for `account` at `cx.now`.
    ///
    /// - `Skip` (GR-02 … GR-04): within the grace period, for a grace-eligible account, straight
    ///   to the menu ([`Next::Menu`], event `GraceSkipped`); nothing is registered, so the
    ///   next login asks again. From the end of the grace period: [`FlowError::GracePeriodOver`],
    ///   nothing changes.
    /// - `Register`, `EnterCode`, `Back` on the code: the first login's registration (GR-05).
    /// - `Logout`, or `Back` on the address entry: back at 【ログイン】.
    pub fn apply<R: CryptoRng + ?Sized>(
        self,
        input: Input,
        account: Account,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<Next<Grace>>, FlowError> {
        match (self, input) {
            (Grace::EnteringSecurityEmail(s), Input::Skip) => {
                skip(s.auth(), &account, cx.policy, cx.now)
            }
            (Grace::EnteringSecurityEmail(s), Input::Register(address)) => s.send(address, cx),
            (Grace::EnteringSecurityEmail(_), Input::Back | Input::Logout) => {
                Ok(Step::to(Next::Login))
            }
            (Grace::AwaitingCode(s), Input::EnterCode(code)) => s.enter(&code, account, cx),
            (Grace::AwaitingCode(s), Input::Back) => Ok(Step::to(Next::Stay(s.back().into()))),
            (Grace::Registered(s), Input::Finish) => Ok(Step::to(Next::Gate(s.auth()))),
            (state, input) => Err(FlowError::UnexpectedInput {
                state: state.name(),
                input: input.name(),
            }),
        }
    }

    /// The screen of the state at `now`: the checkbox and its texts only within the grace period
    /// (GR-02, GR-03), the date printed zero-padded (CAL-06).
    pub fn screen(&self, policy: &Policy, now: Instant) -> Screen {
        match self {
            Grace::EnteringSecurityEmail(_) => {
                let allows_skip = policy.grace_allows(now);
                let screen =
                    security_email_entry(STEPS, 0, &[(MANDATORY_ID, MANDATORY_TEXT)], !allows_skip);
                let screen = if allows_skip {
                    screen
                        .field(Field::checkbox(SKIP, SKIP_LABEL, false))
                        .text("gr.skip.hint", "セキュリティ用メールアドレスをすぐに登録できない方は、こちらを選択してください。")
                        .text("gr.skip.until", format!(
                            "{}まで、暫定的にセキュリティ用メールアドレスを登録せずにログインできます。",
                            format_padded(policy.grace_last_day)
                        ))
                } else {
                    screen
                };
                screen
                    .button(LOGOUT, "ログアウト")
                    .button(BACK, "戻る")
                    .button(NEXT, "次へ")
            }
            Grace::AwaitingCode(s) => code_screen(STEPS, 0, s.to(), policy),
            Grace::Registered(_) => registered_screen(STEPS, 0),
        }
    }
}

/// GR-02, GR-03: skipping is decided at the instant of `次へ`. An account that registered an
/// address meanwhile simply goes through the gate.
fn skip(
    auth: Authenticated,
    account: &Account,
    policy: &Policy,
    now: Instant,
) -> Result<Step<Next<Grace>>, FlowError> {
    if !account.security_emails.is_empty() {
        return Ok(Step::to(Next::Gate(auth)));
    }
    if !account.grace_eligible || !policy.grace_allows(now) {
        return Err(FlowError::GracePeriodOver);
    }
    let user = auth.user();
    Ok(
        Step::to(Next::Menu(GraceSkip::new(auth))).with(Effect::Event(Event {
            at: now,
            kind: EventKind::GraceSkipped { user },
        })),
    )
}

impl Flow for Grace {
    const KIND: FlowKind = FlowKind::Grace;
    type Input = Input;

    fn screen(&self, view: &View<'_>) -> Screen {
        Grace::screen(self, view.policy, view.now)
    }

    /// The buttons of each screen, by name: on 【セキュリティ用メールアドレス設定】 `next` (with the
    /// box `skip` checked the addresses are not looked at, GR-04; the box is a field of the
    /// screen only within the grace period), `logout` and `back`; `send` and `back` on
    /// 【確認コード入力】; `finish` on 【処理終了】.
    fn parse(&self, form: &screen::Form) -> Result<Input, FlowError> {
        Ok(match (self, form.button.as_str()) {
            (Grace::EnteringSecurityEmail(_), NEXT) if form.checked(SKIP) => Input::Skip,
            (Grace::EnteringSecurityEmail(_), NEXT) => {
                Input::Register(confirmed_field(form, ADDRESS, CONFIRM_ADDRESS)?)
            }
            (Grace::EnteringSecurityEmail(_), LOGOUT) => Input::Logout,
            (Grace::EnteringSecurityEmail(_) | Grace::AwaitingCode(_), BACK) => Input::Back,
            (Grace::AwaitingCode(_), SEND) => Input::EnterCode(form.parse(CODE)?),
            (Grace::Registered(_), FINISH) => Input::Finish,
            (state, _) => return Err(FlowError::other_button(state.name())),
        })
    }

    registration::registering_steps!(Register);
}

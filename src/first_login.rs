//! First login of a new office (FL-01 … FL-08; source 1.2.1 (3)), and the security-email
//! registration step it shares with the grace flow (FL-04 … FL-06, GR-05).
//!
//! ```text
//! 【利用規約】 ─利用規約に同意して次へ→ 【警告】 ─パスワード変更→ 【パスワード変更】 ─変更→ 【処理終了】 ─終了→
//! 【メールアドレス設定】 ─変更 / メールアドレスを登録しない→ 【処理終了】 ─終了→
//! 【セキュリティ用メールアドレス設定】 ─次へ→ 【確認コード入力】 ─送信→ 【処理終了】 ─終了→ (gate: menu)
//!                     ↑─────────────戻る──────────────┘
//! ```
//!
//! Each step is asked only while [`pending`] says the account still needs it (FL-07), in this order,
//! and a new terms version comes before anything else (FL-08). After the last one the flow leaves
//! through the login gate, which alone reaches the menu (LOGIN-03).
//!
//! Decisions where the source is silent:
//! - 【利用規約】 shows the terms version and no step list (it comes before step 1); the text of the
//!   terms is the host's. 【警告】, the password change's and the notice email's 【処理終了】 and
//!   【メールアドレス設定】 have no image in the source: their sentences are ours.
//! - A wrong 《現在のパスワード》 counts as a failed login (LOGIN-02): the step could otherwise be
//!   used to guess the password without the lockout.
//! - `戻る` on 【セキュリティ用メールアドレス設定】 returns to 【メールアドレス設定】 when this login
//!   asks it; an account back from a reissue, which answered it before, has no earlier step left
//!   and goes to 【ログイン】 (FL-07).
//! - The step list shows the steps this login asks ([`Plan`], fixed when it begins): the
//!   source's five for a new office, `1 パスワード変更 2 セキュリティ用メールアドレス設定
//!   3 確認コード入力 4 終了` or `1 パスワード変更 2 終了` for an account back from a reissue
//!   (FL-07, GR-06).
//! - At most [`Policy::max_codes_per_flow`] codes per flow, counted across `戻る` (SEC-04).
//! - A registration posts the security-email list's お知らせ and event, as any add does (SE-08).

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::account::{Account, NoticeEmail, TermsAcceptance};
use crate::calendar::Instant;
use crate::effect::{Effect, Event, EventKind};
use crate::error::{FlowError, PortalError};
use crate::flow::{Authenticated, Cx, Flow, Needs, Next, Records, Step, View};
use crate::login;
use crate::policy::Policy;
use crate::registration::{
    self, code_screen, confirmed_address, confirmed_field, registered_screen, security_email_entry,
};
use crate::screen::button::{BACK, CHANGE, FINISH, NEXT, SEND};
use crate::screen::field::{ADDRESS, CODE, CONFIRM_ADDRESS, CONFIRM_PASSWORD, NEW_PASSWORD};
use crate::screen::{self, Field, Screen};
use crate::store::{FlowId, FlowKind};
use crate::values::{ConfirmationCode, EmailAddress, Password, UserId};

pub use crate::login::{Pending, pending};
pub use crate::registration::{
    AwaitingCode, EnteringSecurityEmail, Plan, REGISTERED_TEXT, Registered,
};

/// The step list of the first login, as the source prints it.
pub const STEPS: &[&str] = &[
    "1 パスワード変更",
    "2 メールアドレス設定",
    "3 セキュリティ用メールアドレス設定",
    "4 確認コード入力",
    "5 終了",
];

/// Form names of the first login's own fields and buttons; the shared ones are in
/// [`crate::screen::field`].
const CURRENT_PASSWORD: &str = "current_password";
const NOTICE_EMAIL: &str = "notice_email";
const CONFIRM_NOTICE_EMAIL: &str = "confirm_notice_email";
/// The checkbox `メールアドレスを登録しない` (FL-03).
const DECLINE: &str = "decline";
/// The button `利用規約に同意して次へ` (FL-01, FL-08).
const AGREE: &str = "agree";
/// The button `パスワード変更` on 【警告】 (FL-01).
const CHANGE_PASSWORD: &str = "change_password";

/// The first-login flow, as the store keeps it: one state per screen.
///
/// # Example
/// ```
/// use kaigo_seikyu::first_login::FirstLogin;
/// fn title(state: &FirstLogin) -> String {
///     state.screen(&kaigo_seikyu::policy::Policy::default()).title
/// }
/// # let _ = title;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FirstLogin {
    /// 【利用規約】.
    Terms(Terms),
    /// 【警告】.
    Warning(Warning),
    /// 【パスワード変更】.
    ChoosingPassword(ChoosingPassword),
    /// 【処理終了】 after the password change.
    PasswordChanged(PasswordChanged),
    /// 【メールアドレス設定】.
    ChoosingNoticeEmail(ChoosingNoticeEmail),
    /// 【処理終了】 after the notice email.
    NoticeEmailDone(NoticeEmailDone),
    /// 【セキュリティ用メールアドレス設定】.
    EnteringSecurityEmail(EnteringSecurityEmail),
    /// 【確認コード入力】.
    AwaitingCode(AwaitingCode),
    /// 【処理終了】 after the registration.
    Registered(Registered),
}

/// 【利用規約】: waits for `利用規約に同意して次へ` (FL-01, FL-08).
///
/// # Example
/// ```
/// use kaigo_seikyu::first_login::FirstLogin;
/// let stored = r#"{"Terms":{"auth":{"user":"KJ131311111111"},"version":1}}"#;
/// let state: FirstLogin = serde_json::from_str(stored)?;
/// assert!(matches!(state, FirstLogin::Terms(_)));
/// assert_eq!(state.screen(&Default::default()).title, "利用規約");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    auth: Authenticated,
    version: u32,
    #[serde(default, skip_serializing_if = "Plan::is_full")]
    plan: Plan,
}

/// 【警告】: waits for `パスワード変更` (FL-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::first_login::FirstLogin;
/// let stored = r#"{"Warning":{"auth":{"user":"KJ131311111111"}}}"#;
/// let state: FirstLogin = serde_json::from_str(stored)?;
/// assert!(matches!(state, FirstLogin::Warning(_)));
/// assert_eq!(state.screen(&Default::default()).title, "警告");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    auth: Authenticated,
    #[serde(default, skip_serializing_if = "Plan::is_full")]
    plan: Plan,
}

/// 【パスワード変更】: waits for the current (temporary) password and a new one (FL-02).
///
/// # Example
/// ```
/// use kaigo_seikyu::first_login::FirstLogin;
/// let stored = r#"{"ChoosingPassword":{"auth":{"user":"KJ131311111111"}}}"#;
/// let state: FirstLogin = serde_json::from_str(stored)?;
/// assert!(matches!(state, FirstLogin::ChoosingPassword(_)));
/// assert_eq!(state.screen(&Default::default()).title, "パスワード変更");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoosingPassword {
    auth: Authenticated,
    #[serde(default, skip_serializing_if = "Plan::is_full")]
    plan: Plan,
}

/// 【処理終了】 after the password change: waits for `終了`.
///
/// # Example
/// ```
/// use kaigo_seikyu::first_login::FirstLogin;
/// let stored = r#"{"PasswordChanged":{"auth":{"user":"KJ131311111111"}}}"#;
/// let state: FirstLogin = serde_json::from_str(stored)?;
/// assert!(matches!(state, FirstLogin::PasswordChanged(_)));
/// assert_eq!(state.screen(&Default::default()).title, "処理終了");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordChanged {
    auth: Authenticated,
    #[serde(default, skip_serializing_if = "Plan::is_full")]
    plan: Plan,
}

/// 【メールアドレス設定】: waits for a notice email or `メールアドレスを登録しない` (FL-03).
///
/// # Example
/// ```
/// use kaigo_seikyu::first_login::FirstLogin;
/// let stored = r#"{"ChoosingNoticeEmail":{"auth":{"user":"KJ131311111111"},"codes_sent":0}}"#;
/// let state: FirstLogin = serde_json::from_str(stored)?;
/// assert!(matches!(state, FirstLogin::ChoosingNoticeEmail(_)));
/// assert_eq!(state.screen(&Default::default()).title, "メールアドレス設定");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoosingNoticeEmail {
    auth: Authenticated,
    codes_sent: u8,
    #[serde(default, skip_serializing_if = "Plan::is_full")]
    plan: Plan,
}

/// 【処理終了】 after the notice email: waits for `終了`.
///
/// # Example
/// ```
/// use kaigo_seikyu::first_login::FirstLogin;
/// let stored = r#"{"NoticeEmailDone":{"auth":{"user":"KJ131311111111"},"codes_sent":0}}"#;
/// let state: FirstLogin = serde_json::from_str(stored)?;
/// assert!(matches!(state, FirstLogin::NoticeEmailDone(_)));
/// assert_eq!(state.screen(&Default::default()).title, "処理終了");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeEmailDone {
    auth: Authenticated,
    codes_sent: u8,
    #[serde(default, skip_serializing_if = "Plan::is_full")]
    plan: Plan,
}

/// OPS-07: no more codes sent than the policy allows a flow, the registration's code checked.
/// (A terms version newer than this policy's is possible: a process with the next release.)
impl crate::validate::Validate for FirstLogin {
    fn validate(&self, check: &crate::validate::Check<'_>) -> Result<(), crate::validate::Invalid> {
        let max = check.policy.max_codes_per_flow;
        match self {
            FirstLogin::ChoosingNoticeEmail(ChoosingNoticeEmail { codes_sent, .. })
            | FirstLogin::NoticeEmailDone(NoticeEmailDone { codes_sent, .. }) => {
                check.at_most("codes sent", (*codes_sent).into(), max.into())
            }
            FirstLogin::EnteringSecurityEmail(s) => s.validate(check),
            FirstLogin::AwaitingCode(s) => s.validate(check),
            FirstLogin::Terms(_)
            | FirstLogin::Warning(_)
            | FirstLogin::ChoosingPassword(_)
            | FirstLogin::PasswordChanged(_)
            | FirstLogin::Registered(_) => Ok(()),
        }
    }
}

macro_rules! into_first_login {
    ($($state:ident),*) => {
        $(impl From<$state> for FirstLogin {
            fn from(state: $state) -> Self {
                FirstLogin::$state(state)
            }
        })*
    };
}
into_first_login!(
    Terms,
    Warning,
    ChoosingPassword,
    PasswordChanged,
    ChoosingNoticeEmail,
    NoticeEmailDone,
    EnteringSecurityEmail,
    AwaitingCode,
    Registered
);

/// What the user does in the first-login flow, parsed ([`Form::parse`]).
///
/// # Example
/// ```
/// use kaigo_seikyu::first_login::{Form, Input};
/// let input = Form::SetSecurityEmail { address: " a@jp ", confirm: "A@JP" }.parse()?;
/// assert!(matches!(input, Input::SetSecurityEmail(a) if a.as_str() == "a@jp"));
/// assert!(matches!(Form::EnterCode("0042").parse()?, Input::EnterCode(_)));
/// # Ok::<(), kaigo_seikyu::error::FlowError>(())
/// ```
#[derive(Debug, Clone)]
pub enum Input {
    /// `利用規約に同意して次へ`.
    AcceptTerms,
    /// `パスワード変更` on 【警告】.
    StartPasswordChange,
    /// `変更` on 【パスワード変更】: the current password and the new one (its confirmation matched).
    ChangePassword {
        /// 《現在のパスワード》.
        current: Password,
        /// 《新しいパスワード》.
        new: Password,
    },
    /// `終了` on a 【処理終了】.
    Finish,
    /// `変更` on 【メールアドレス設定】 with an address (its confirmation matched).
    SetNoticeEmail(EmailAddress),
    /// `メールアドレスを登録しない` + `変更`.
    DeclineNoticeEmail,
    /// `次へ` on 【セキュリティ用メールアドレス設定】 (its confirmation matched).
    SetSecurityEmail(EmailAddress),
    /// `送信` on 【確認コード入力】.
    EnterCode(ConfirmationCode),
    /// `戻る`.
    Back,
}

impl Input {
    fn name(&self) -> &'static str {
        match self {
            Input::AcceptTerms => "AcceptTerms",
            Input::StartPasswordChange => "StartPasswordChange",
            Input::ChangePassword { .. } => "ChangePassword",
            Input::Finish => "Finish",
            Input::SetNoticeEmail(_) => "SetNoticeEmail",
            Input::DeclineNoticeEmail => "DeclineNoticeEmail",
            Input::SetSecurityEmail(_) => "SetSecurityEmail",
            Input::EnterCode(_) => "EnterCode",
            Input::Back => "Back",
        }
    }
}

/// A first-login form as the browser sends it: every field as typed. `Debug` hides passwords and
/// codes (SEC-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::first_login::Form;
/// let form = Form::ChangePassword { current: "Kari2026pass", new: "Sakura2026!", confirm: "Sakura2026?" };
/// assert_eq!(form.parse().unwrap_err().message(), "確認用の入力内容が一致しません。");
/// assert!(!format!("{form:?}").contains("Sakura"));
/// ```
#[derive(Clone, Copy)]
pub enum Form<'a> {
    /// `利用規約に同意して次へ`.
    AcceptTerms,
    /// `パスワード変更` on 【警告】.
    StartPasswordChange,
    /// `変更` on 【パスワード変更】.
    ChangePassword {
        /// 《現在のパスワード》.
        current: &'a str,
        /// 《新しいパスワード》.
        new: &'a str,
        /// 《新しいパスワード（確認用）》.
        confirm: &'a str,
    },
    /// `終了`.
    Finish,
    /// `変更` on 【メールアドレス設定】.
    SetNoticeEmail {
        /// 《新しいメールアドレス》.
        address: &'a str,
        /// 《新しいメールアドレス（確認用）》.
        confirm: &'a str,
    },
    /// `メールアドレスを登録しない` + `変更`.
    DeclineNoticeEmail,
    /// `次へ` on 【セキュリティ用メールアドレス設定】.
    SetSecurityEmail {
        /// 《セキュリティ用メールアドレス》.
        address: &'a str,
        /// 《セキュリティ用メールアドレス（確認用）》.
        confirm: &'a str,
    },
    /// `送信` on 【確認コード入力】: 《確認コード》.
    EnterCode(&'a str),
    /// `戻る`.
    Back,
}

impl Form<'_> {
    /// Parses the typed fields (VAL-04 … VAL-07): an error names the problem and nothing is drawn
    /// or stored.
    pub fn parse(&self) -> Result<Input, FlowError> {
        Ok(match *self {
            Form::AcceptTerms => Input::AcceptTerms,
            Form::StartPasswordChange => Input::StartPasswordChange,
            Form::ChangePassword {
                current,
                new,
                confirm,
            } => {
                let new = Password::new(new);
                if !new.ct_eq(&Password::new(confirm)) {
                    return Err(FlowError::ConfirmationMismatch);
                }
                Input::ChangePassword {
                    current: Password::new(current),
                    new,
                }
            }
            Form::Finish => Input::Finish,
            Form::SetNoticeEmail { address, confirm } => {
                Input::SetNoticeEmail(confirmed_address(address, confirm)?)
            }
            Form::DeclineNoticeEmail => Input::DeclineNoticeEmail,
            Form::SetSecurityEmail { address, confirm } => {
                Input::SetSecurityEmail(confirmed_address(address, confirm)?)
            }
            Form::EnterCode(code) => Input::EnterCode(code.parse()?),
            Form::Back => Input::Back,
        })
    }
}

impl fmt::Debug for Form<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Form::ChangePassword { .. } => f.write_str("ChangePassword { *** }"),
            Form::EnterCode(_) => f.write_str("EnterCode(***)"),
            Form::SetNoticeEmail { address, confirm } => f
                .debug_struct("SetNoticeEmail")
                .field("address", address)
                .field("confirm", confirm)
                .finish(),
            Form::SetSecurityEmail { address, confirm } => f
                .debug_struct("SetSecurityEmail")
                .field("address", address)
                .field("confirm", confirm)
                .finish(),
            Form::AcceptTerms => f.write_str("AcceptTerms"),
            Form::StartPasswordChange => f.write_str("StartPasswordChange"),
            Form::Finish => f.write_str("Finish"),
            Form::DeclineNoticeEmail => f.write_str("DeclineNoticeEmail"),
            Form::Back => f.write_str("Back"),
        }
    }
}

impl FirstLogin {
    /// The flow's first state for `account`: the first step still needed (FL-07, FL-08), or
    /// `None` when nothing is. Only a login makes the [`Authenticated`] it needs.
    ///
    /// # Example
    /// The pure core, without the driver: the login gate, then the first login's first screen.
    /// ```
    /// use kaigo_seikyu::{calendar::utc, first_login::FirstLogin, login, flow::Next};
    /// use kaigo_seikyu::{policy::Policy, flow::Cx, values::Password};
    /// use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, SecretHasher};
    /// use rand::SeedableRng;
    /// let policy = Policy::insecure_fast_hashing();
    /// let hasher = Argon2Hasher::new(policy.hashing, CodeKey::from_bytes([1; 32]));
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let user = "KJ131311111111".parse()?;
    /// let account = login::new_office(user, hasher.hash(b"Kari2026pass", &[7; 16]));
    /// let now = utc("2026-01-10T10:00:00+09:00");
    /// let mut cx = Cx { now, rng: &mut rng, policy: &policy, hasher: &hasher };
    /// let step = login::enter_password(user, Some(account.clone()), &Password::new("Kari2026pass"), &mut cx)?;
    /// let Next::Gate(auth) = step.state else { unreachable!() };
    /// let state = FirstLogin::begin(auth, &account, &policy).unwrap();
    /// assert_eq!(state.screen(&policy).title, "利用規約");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn begin(auth: Authenticated, account: &Account, policy: &Policy) -> Option<FirstLogin> {
        let p = pending(account, policy);
        let plan = Plan {
            password: p.password,
            notice_email: p.notice_email,
            security_email: p.security_email,
        };
        step_for(auth, 0, plan, account, policy)
    }

    /// The user ID the flow belongs to.
    pub fn user(&self) -> UserId {
        match self {
            FirstLogin::Terms(Terms { auth, .. })
            | FirstLogin::Warning(Warning { auth, .. })
            | FirstLogin::ChoosingPassword(ChoosingPassword { auth, .. })
            | FirstLogin::PasswordChanged(PasswordChanged { auth, .. })
            | FirstLogin::ChoosingNoticeEmail(ChoosingNoticeEmail { auth, .. })
            | FirstLogin::NoticeEmailDone(NoticeEmailDone { auth, .. })
            | FirstLogin::EnteringSecurityEmail(EnteringSecurityEmail { auth, .. })
            | FirstLogin::AwaitingCode(AwaitingCode { auth, .. })
            | FirstLogin::Registered(Registered { auth, .. }) => auth.user(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            FirstLogin::Terms(_) => "Terms",
            FirstLogin::Warning(_) => "Warning",
            FirstLogin::ChoosingPassword(_) => "ChoosingPassword",
            FirstLogin::PasswordChanged(_) => "PasswordChanged",
            FirstLogin::ChoosingNoticeEmail(_) => "ChoosingNoticeEmail",
            FirstLogin::NoticeEmailDone(_) => "NoticeEmailDone",
            FirstLogin::EnteringSecurityEmail(_) => "EnteringSecurityEmail",
            FirstLogin::AwaitingCode(_) => "AwaitingCode",
            FirstLogin::Registered(_) => "Registered",
        }
    }

    /// The one transition of the flow: applies `input` to this state for `account` (loaded by the
    /// driver) at `cx.now`. An input that does not belong to the state is
    /// [`FlowError::UnexpectedInput`]; `Err` changes nothing; a rejected step counted a wrong
    /// entry. The driver applies SEC-04 and SEC-07 around it.
    pub fn apply<R: CryptoRng + ?Sized>(
        self,
        input: Input,
        account: Account,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<Next<FirstLogin>>, FlowError> {
        match (self, input) {
            (FirstLogin::Terms(s), Input::AcceptTerms) => Ok(s.accept(account, cx)),
            (FirstLogin::Warning(Warning { auth, plan }), Input::StartPasswordChange) => {
                Ok(Step::to(Next::Stay(ChoosingPassword { auth, plan }.into())))
            }
            (FirstLogin::ChoosingPassword(s), Input::ChangePassword { current, new }) => {
                s.change(&current, &new, account, cx)
            }
            (
                FirstLogin::PasswordChanged(PasswordChanged { auth, plan })
                | FirstLogin::Registered(Registered { auth, plan }),
                Input::Finish,
            ) => Ok(onward(auth, 0, plan, account, false, cx.policy)),
            (
                FirstLogin::NoticeEmailDone(NoticeEmailDone {
                    auth,
                    codes_sent,
                    plan,
                }),
                Input::Finish,
            ) => Ok(onward(auth, codes_sent, plan, account, false, cx.policy)),
            (FirstLogin::ChoosingNoticeEmail(s), Input::SetNoticeEmail(address)) => {
                Ok(s.choose(Some(address), account, cx.now))
            }
            (FirstLogin::ChoosingNoticeEmail(s), Input::DeclineNoticeEmail) => {
                Ok(s.choose(None, account, cx.now))
            }
            (FirstLogin::EnteringSecurityEmail(s), Input::SetSecurityEmail(address)) => {
                s.send(address, cx)
            }
            // FL-07: back to the notice email only when this login asks it; an account that
            // answered it before (back from a reissue) has no earlier step left to do here, and
            // `戻る` leaves for 【ログイン】 as the grace registration's does.
            (
                FirstLogin::EnteringSecurityEmail(EnteringSecurityEmail {
                    auth,
                    codes_sent,
                    plan,
                }),
                Input::Back,
            ) => Ok(Step::to(if plan.notice_email {
                Next::Stay(
                    ChoosingNoticeEmail {
                        auth,
                        codes_sent,
                        plan,
                    }
                    .into(),
                )
            } else {
                Next::Login
            })),
            (FirstLogin::AwaitingCode(s), Input::EnterCode(code)) => s.enter(&code, account, cx),
            (FirstLogin::AwaitingCode(s), Input::Back) => Ok(Step::to(Next::Stay(s.back().into()))),
            (state, input) => Err(FlowError::UnexpectedInput {
                state: state.name(),
                input: input.name(),
            }),
        }
    }

    /// The screen of the state: title, the source's step list with the current step, the source's
    /// messages, fields and buttons. Never a secret.
    pub fn screen(&self, policy: &Policy) -> Screen {
        match self {
            FirstLogin::Terms(Terms { version, .. }) => Screen::new("利用規約")
                .text("fl.terms.heading", "電子請求受付システム 利用規約")
                .field(Field::shown("terms_version", "版", version))
                .text("fl.terms.lead", "利用規約を最後まで確認し、同意する場合、【利用規約に同意して次へ】ボタンを押してください。")
                .button(AGREE, "利用規約に同意して次へ"),
            FirstLogin::Warning(Warning { plan, .. }) => Screen::new("警告")
                .steps(&plan.steps(), plan.current(Plan::PASSWORD))
                .text("fl.warning.temporary", "仮パスワードでログインしています。")
                .text("fl.warning.lead", "パスワードを変更するため、【パスワード変更】ボタンを押してください。")
                .button(CHANGE_PASSWORD, "パスワード変更"),
            FirstLogin::ChoosingPassword(ChoosingPassword { plan, .. }) => {
                let max = usize::from(policy.password.max_chars);
                Screen::new("パスワード変更")
                    .steps(&plan.steps(), plan.current(Plan::PASSWORD))
                    .text("fl.password.lead", "現在のパスワードと新しいパスワードを入力し、【変更】ボタンを押してください。")
                    .field(Field::password(CURRENT_PASSWORD, "現在のパスワード").required())
                    .field(Field::password(NEW_PASSWORD, "新しいパスワード").required().max_len(max))
                    .field(Field::password(CONFIRM_PASSWORD, "新しいパスワード（確認用）").required().max_len(max))
                    .password_rules(&policy.password)
                    .button(CHANGE, "変更")
            }
            FirstLogin::PasswordChanged(PasswordChanged { plan, .. }) => Screen::new("処理終了")
                .steps(&plan.steps(), plan.current(Plan::PASSWORD))
                .text("fl.password.done", "パスワードの変更を完了しました。")
                .button(FINISH, "終了"),
            FirstLogin::ChoosingNoticeEmail(ChoosingNoticeEmail { plan, .. }) => Screen::new("メールアドレス設定")
                .steps(&plan.steps(), plan.current(Plan::NOTICE_EMAIL))
                .text("fl.notice_email.lead", "お知らせメールを受け取るメールアドレスを入力し、【変更】ボタンを押してください。")
                .text("fl.notice_email.purpose", "※ ここで登録するメールアドレスは、介護電子請求受付システムからのお知らせメールを受け取るためのメールアドレスとなります。")
                .text("fl.notice_email.optional", "※ 登録は必須ではありません。メールアドレスを登録しない場合、【メールアドレスを登録しない】を選択し、【変更】ボタンを押してください。")
                .field(Field::email(NOTICE_EMAIL, "新しいメールアドレス"))
                .field(Field::email(CONFIRM_NOTICE_EMAIL, "新しいメールアドレス（確認用）"))
                .field(Field::checkbox(DECLINE, "メールアドレスを登録しない", false))
                .button(CHANGE, "変更"),
            FirstLogin::NoticeEmailDone(NoticeEmailDone { plan, .. }) => Screen::new("処理終了")
                .steps(&plan.steps(), plan.current(Plan::NOTICE_EMAIL))
                .text("fl.notice_email.done", "メールアドレスの設定を完了しました。")
                .button(FINISH, "終了"),
            FirstLogin::EnteringSecurityEmail(s) => {
                let steps = s.plan.steps();
                security_email_entry(&steps, s.plan.current(Plan::SECURITY_EMAIL), &[], true)
                    .button(BACK, "戻る")
                    .button(NEXT, "次へ")
            }
            FirstLogin::AwaitingCode(s) => {
                code_screen(&s.plan.steps(), s.plan.current(Plan::CODE), s.to(), policy)
            }
            FirstLogin::Registered(s) => {
                registered_screen(&s.plan.steps(), s.plan.current(Plan::DONE))
            }
        }
    }
}

impl Flow for FirstLogin {
    const KIND: FlowKind = FlowKind::FirstLogin;
    type Input = Input;

    fn screen(&self, view: &View<'_>) -> Screen {
        FirstLogin::screen(self, view.policy)
    }

    /// The buttons of each screen, by name: `agree` on 【利用規約】, `change_password` on
    /// 【警告】, `change` on 【パスワード変更】 (a confirmation that differs is refused here, as
    /// [`Form::parse`] does) and on 【メールアドレス設定】 (with the box `decline` checked the
    /// addresses are not looked at), `next` and `back` on 【セキュリティ用メールアドレス設定】,
    /// `send` and `back` on 【確認コード入力】, `finish` on every 【処理終了】.
    fn parse(&self, form: &screen::Form) -> Result<Input, FlowError> {
        Ok(match (self, form.button.as_str()) {
            (FirstLogin::Terms(_), AGREE) => Input::AcceptTerms,
            (FirstLogin::Warning(_), CHANGE_PASSWORD) => Input::StartPasswordChange,
            (FirstLogin::ChoosingPassword(_), CHANGE) => {
                let new = Password::new(form.text(NEW_PASSWORD));
                if !new.ct_eq(&Password::new(form.text(CONFIRM_PASSWORD))) {
                    return Err(FlowError::ConfirmationMismatch);
                }
                Input::ChangePassword {
                    current: Password::new(form.text(CURRENT_PASSWORD)),
                    new,
                }
            }
            (
                FirstLogin::PasswordChanged(_)
                | FirstLogin::NoticeEmailDone(_)
                | FirstLogin::Registered(_),
                FINISH,
            ) => Input::Finish,
            (FirstLogin::ChoosingNoticeEmail(_), CHANGE) if form.checked(DECLINE) => {
                Input::DeclineNoticeEmail
            }
            (FirstLogin::ChoosingNoticeEmail(_), CHANGE) => {
                Input::SetNoticeEmail(confirmed_field(form, NOTICE_EMAIL, CONFIRM_NOTICE_EMAIL)?)
            }
            (FirstLogin::EnteringSecurityEmail(_), NEXT) => {
                Input::SetSecurityEmail(confirmed_field(form, ADDRESS, CONFIRM_ADDRESS)?)
            }
            (FirstLogin::AwaitingCode(_), SEND) => Input::EnterCode(form.parse(CODE)?),
            (FirstLogin::EnteringSecurityEmail(_) | FirstLogin::AwaitingCode(_), BACK) => {
                Input::Back
            }
            (state, _) => return Err(FlowError::other_button(state.name())),
        })
    }

    registration::registering_steps!(SetSecurityEmail);
}

/// The first state still needed by `account`, carrying the flow's code count and its steps
/// (FL-07, FL-08).
fn step_for(
    auth: Authenticated,
    codes_sent: u8,
    plan: Plan,
    account: &Account,
    policy: &Policy,
) -> Option<FirstLogin> {
    let p = pending(account, policy);
    if p.terms {
        Some(
            Terms {
                auth,
                version: policy.terms_version,
                plan,
            }
            .into(),
        )
    } else if p.password {
        Some(Warning { auth, plan }.into())
    } else if p.notice_email {
        Some(
            ChoosingNoticeEmail {
                auth,
                codes_sent,
                plan,
            }
            .into(),
        )
    } else if p.security_email {
        Some(
            EnteringSecurityEmail {
                auth,
                codes_sent,
                plan,
            }
            .into(),
        )
    } else {
        None
    }
}

/// After a finished step: on to the next step still needed, or out through the gate (marking the
/// first login done). `dirty`: `account` was changed and must be saved.
fn onward(
    auth: Authenticated,
    codes_sent: u8,
    plan: Plan,
    mut account: Account,
    mut dirty: bool,
    policy: &Policy,
) -> Step<Next<FirstLogin>> {
    let next = match step_for(auth, codes_sent, plan, &account, policy) {
        Some(state) => Next::Stay(state),
        None => {
            dirty |= !account.first_login_done;
            account.first_login_done = true;
            Next::Gate(auth)
        }
    };
    let step = Step::to(next);
    if dirty {
        step.with(Effect::SaveAccount(Box::new(account)))
    } else {
        step
    }
}

fn event(at: Instant, kind: EventKind) -> Effect {
    Effect::Event(Event { at, kind })
}

impl Terms {
    /// FL-08: records the version shown and when; a newer version published meanwhile is asked next.
    fn accept<R: CryptoRng + ?Sized>(
        self,
        mut account: Account,
        cx: &Cx<'_, R>,
    ) -> Step<Next<FirstLogin>> {
        let user = self.auth.user();
        account.terms = Some(TermsAcceptance {
            version: self.version,
            at: cx.now,
        });
        onward(self.auth, 0, self.plan, account, true, cx.policy).with(event(
            cx.now,
            EventKind::TermsAccepted {
                user,
                version: self.version,
            },
        ))
    }
}

impl ChoosingPassword {
    /// FL-02, RI-10: the new password obeys VAL-06 and differs from the current one, which must
    /// verify (a wrong one counts as a failed login, LOGIN-02; one longer than the policy allows is
    /// refused unhashed and uncounted). The temporary password ends.
    fn change<R: CryptoRng + ?Sized>(
        self,
        current: &Password,
        new: &Password,
        mut account: Account,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<Next<FirstLogin>>, FlowError> {
        let user = self.auth.user();
        new.check_policy(&user, &cx.policy.password)?;
        // No current password is longer than the policy allows: refused before any hashing, and
        // not counted as a failure (VAL-06, SEC-09).
        current.check_max_length(&cx.policy.password)?;
        login::refuse_if_locked(&account, cx.now)?;
        if !cx.hasher.verify(current.expose(), &account.password) {
            let state = Next::Stay(self.into());
            return Ok(login::count_failure(
                state,
                account,
                FlowError::WrongCurrentPassword,
                cx,
            ));
        }
        if login::temporary_expired(&account, cx.now) {
            return Err(FlowError::TemporaryPasswordExpired);
        }
        if new.ct_eq(current) {
            return Err(FlowError::SameAsCurrentPassword);
        }
        account.password = cx.hash(new.expose());
        account.temporary = None;
        account.failures = 0;
        Ok(Step::to(Next::Stay(
            PasswordChanged {
                auth: self.auth,
                plan: self.plan,
            }
            .into(),
        ))
        .with(Effect::SaveAccount(Box::new(account)))
        .with(event(cx.now, EventKind::PasswordChanged { user })))
    }
}

impl ChoosingNoticeEmail {
    /// FL-03: sets the notice email, or records that the office declined.
    fn choose(
        self,
        address: Option<EmailAddress>,
        mut account: Account,
        now: Instant,
    ) -> Step<Next<FirstLogin>> {
        let user = self.auth.user();
        let set = address.is_some();
        account.notice_email = address.map_or(NoticeEmail::Declined, NoticeEmail::Set);
        Step::to(Next::Stay(
            NoticeEmailDone {
                auth: self.auth,
                codes_sent: self.codes_sent,
                plan: self.plan,
            }
            .into(),
        ))
        .with(Effect::SaveAccount(Box::new(account)))
        .with(event(now, EventKind::NoticeEmailSet { user, set }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::SecurityEmails;
    use crate::calendar::utc;
    use crate::login::new_office;
    use crate::secret::PasswordHash;

    /// FL-07, FL-08: the steps still needed, in order; a new terms version first.
    #[test]
    fn fl_07_fl_08_pending_steps() {
        let policy = Policy::default();
        let now = utc("2026-01-10T10:00:00+09:00");
        let mut acct = new_office(
            "KJ131311111111".parse().unwrap(),
            PasswordHash::from_phc("x"),
        );
        assert_eq!(
            pending(&acct, &policy),
            Pending {
                terms: true,
                password: true,
                notice_email: true,
                security_email: true
            }
        );
        // Been through FL, reissued (RI-09): only the password change.
        acct.terms = Some(TermsAcceptance {
            version: 1,
            at: now,
        });
        acct.first_login_done = true;
        acct.security_emails = SecurityEmails::default();
        acct.security_emails
            .add("a@jp".parse().unwrap(), now)
            .unwrap();
        assert_eq!(
            pending(&acct, &policy),
            Pending {
                terms: false,
                password: true,
                notice_email: false,
                security_email: false
            }
        );
        // A new terms version is asked again.
        let v2 = Policy {
            terms_version: 2,
            ..policy.clone()
        };
        assert!(pending(&acct, &v2).terms);
        acct.temporary = None;
        assert!(!pending(&acct, &policy).any());
    }
}

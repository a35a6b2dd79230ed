//! The security-email registration shared by the first login (FL-04 … FL-06), the grace
//! registration (GR-01, GR-05) and the security-email list (SE-06, SE-08): its states
//! ([`EnteringSecurityEmail`] → [`AwaitingCode`] → [`Registered`]), their screens, the address
//! and confirmation fields, and the announcement of a list change ([`ListChange`]).
//!
//! The flows that hold these states wrap them in their own enums ([`crate::first_login::FirstLogin`],
//! [`crate::grace::Grace`]); the list's add-or-change flow
//! ([`crate::security_emails::SecurityEmailSetting`]) shares the screens, fields and texts. This
//! module imports none of those flows: they import it.
//!
//! # Example
//! ```
//! use kaigo_seikyu::registration::ListChange;
//! let change = ListChange::Registered("a@jp".parse().unwrap());
//! let notice = change.notice(&"KJ131311111111".parse().unwrap());
//! assert_eq!(notice.title, "セキュリティ用メールアドレス登録通知");
//! assert!(change.mail(&"a@jp".parse().unwrap()).is_none()); // an add mails no one
//! ```

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};

use crate::account::{Account, SecurityEmails};
use crate::calendar::Instant;
use crate::challenge::Challenge;
use crate::effect::{Effect, Event, EventKind};
use crate::error::{FlowError, PortalError};
use crate::flow::{Authenticated, Cx, Needs, Next, Records, Step};
use crate::help::{self, Retry};
use crate::mail::{self, Mail, Notice};
use crate::policy::Policy;
use crate::screen::button::{BACK, FINISH, SEND};
use crate::screen::field::{ADDRESS, CODE, CONFIRM_ADDRESS};
use crate::screen::{Field, Form, Screen};
use crate::store::Budget;
use crate::values::{ConfirmationCode, EmailAddress, UserId};

/// FL-06, GR-05: the done text of a registration.
pub const REGISTERED_TEXT: &str = "セキュリティ用メールアドレスの登録を完了しました。";

/// The message id of [`REGISTERED_TEXT`], wherever it appears (FL, GR, SE).
pub(crate) const REGISTERED_ID: &str = "security_email.registered";

/// The address block's label in notices and mails (SE-08).
const ADDRESS_BLOCK: &str = "[セキュリティ用メールアドレス]";

/// FL-07, GR-06: the steps a first login asks, fixed when it begins from what the account still
/// needs ([`crate::login::pending`]): the step list shows these only, numbered in order. A new
/// office asks them all: the source's list `1 パスワード変更 2 メールアドレス設定
/// 3 セキュリティ用メールアドレス設定 4 確認コード入力 5 終了`. An account back from a reissue
/// (RI-09) asks the password change and, if its security emails were cleared, the registration:
/// never the notice email it already answered.
///
/// Shared by the registration states, which the grace flow also holds (with the default, which
/// its screens do not use). A stored state without it reads the default.
///
/// # Example
/// ```
/// use kaigo_seikyu::registration::Plan;
/// assert_eq!(Plan::default().steps().len(), 5);
/// let reissued = Plan { password: true, notice_email: false, security_email: true };
/// assert_eq!(
///     reissued.steps(),
///     ["1 パスワード変更", "2 セキュリティ用メールアドレス設定", "3 確認コード入力", "4 終了"]
/// );
/// assert_eq!(reissued.current(Plan::CODE), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// FL-02: the password change.
    pub password: bool,
    /// FL-03: the notice email.
    pub notice_email: bool,
    /// FL-04, FL-05: the security email and its code.
    pub security_email: bool,
}

impl Default for Plan {
    /// Every step: the source's list.
    fn default() -> Self {
        Plan {
            password: true,
            notice_email: true,
            security_email: true,
        }
    }
}

/// `N name` for every step name (rows: [`Plan::PASSWORD`] … [`Plan::DONE`]) and number 1 … 5.
const NUMBERED: [[&str; 5]; 5] = [
    [
        "1 パスワード変更",
        "2 パスワード変更",
        "3 パスワード変更",
        "4 パスワード変更",
        "5 パスワード変更",
    ],
    [
        "1 メールアドレス設定",
        "2 メールアドレス設定",
        "3 メールアドレス設定",
        "4 メールアドレス設定",
        "5 メールアドレス設定",
    ],
    [
        "1 セキュリティ用メールアドレス設定",
        "2 セキュリティ用メールアドレス設定",
        "3 セキュリティ用メールアドレス設定",
        "4 セキュリティ用メールアドレス設定",
        "5 セキュリティ用メールアドレス設定",
    ],
    [
        "1 確認コード入力",
        "2 確認コード入力",
        "3 確認コード入力",
        "4 確認コード入力",
        "5 確認コード入力",
    ],
    ["1 終了", "2 終了", "3 終了", "4 終了", "5 終了"],
];

impl Plan {
    /// The password change (`パスワード変更`).
    pub const PASSWORD: usize = 0;
    /// The notice email (`メールアドレス設定`).
    pub const NOTICE_EMAIL: usize = 1;
    /// The security email (`セキュリティ用メールアドレス設定`).
    pub const SECURITY_EMAIL: usize = 2;
    /// Its code (`確認コード入力`).
    pub const CODE: usize = 3;
    /// The end (`終了`).
    pub const DONE: usize = 4;

    /// Whether it is the default (every step).
    pub fn is_full(&self) -> bool {
        *self == Plan::default()
    }

    fn asks(&self, step: usize) -> bool {
        match step {
            Plan::PASSWORD => self.password,
            Plan::NOTICE_EMAIL => self.notice_email,
            Plan::SECURITY_EMAIL | Plan::CODE => self.security_email,
            _ => true,
        }
    }

    /// The step list: the steps asked, numbered in order, and `終了`.
    pub fn steps(&self) -> Vec<&'static str> {
        (0..NUMBERED.len())
            .filter(|s| self.asks(*s))
            .enumerate()
            .map(|(i, s)| NUMBERED[s][i])
            .collect()
    }

    /// The index in [`Plan::steps`] of `step` ([`Plan::PASSWORD`] … [`Plan::DONE`]): the number of
    /// steps asked before it.
    pub fn current(&self, step: usize) -> usize {
        (0..step.min(NUMBERED.len()))
            .filter(|s| self.asks(*s))
            .count()
    }
}

/// 【セキュリティ用メールアドレス設定】: waits for the address and its confirmation (FL-04, GR-01).
/// Shared by the first-login and grace flows.
///
/// # Example
/// ```
/// use kaigo_seikyu::first_login::FirstLogin;
/// let stored = r#"{"EnteringSecurityEmail":{"auth":{"user":"KJ131311111111"},"codes_sent":0}}"#;
/// let state: FirstLogin = serde_json::from_str(stored)?;
/// assert!(matches!(state, FirstLogin::EnteringSecurityEmail(_)));
/// assert_eq!(state.screen(&Default::default()).title, "セキュリティ用メールアドレス設定");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnteringSecurityEmail {
    pub(crate) auth: Authenticated,
    /// Codes mailed in this flow so far, kept across `戻る` (SEC-04).
    pub(crate) codes_sent: u8,
    /// The first login's steps (FL-07); the default in the grace flow.
    #[serde(default, skip_serializing_if = "Plan::is_full")]
    pub(crate) plan: Plan,
}

/// 【確認コード入力】: waits for the 確認コード mailed (T1) to the address (FL-05, GR-05). Shared by the
/// first-login and grace flows. Holds only the code's keyed digest (SEC-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, login, memory::Embedded, policy::Policy, secret::CodeKey};
/// use kaigo_seikyu::first_login::{FirstLogin, Form};
/// use kaigo_seikyu::store::{FlowKind, Key, Store};
/// use rand::SeedableRng;
/// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
/// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let mut acct = login::new_office("KJ131311111111".parse()?, portal.hash_secret(b"x", &mut rng));
/// (acct.temporary, acct.first_login_done) = (None, true); // only the security email is missing
/// acct.terms = Some(kaigo_seikyu::account::TermsAcceptance { version: 1, at: portal.now() });
/// portal.create_account(acct)?;
/// let id = portal.login("KJ131311111111", "x", &mut rng)?.flow_id().unwrap().clone();
/// let form = Form::SetSecurityEmail { address: "a@jp", confirm: "a@jp" };
/// portal.first_login_input(&id, form, &mut rng)?;
/// let stored = host.store.load(&Key::Flow(FlowKind::FirstLogin, id))?.unwrap();
/// let FirstLogin::AwaitingCode(state) = serde_json::from_slice(&stored.value)? else { unreachable!() };
/// assert_eq!(state.to().as_str(), "a@jp");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitingCode {
    pub(crate) auth: Authenticated,
    challenge: Challenge<4>,
    codes_sent: u8,
    #[serde(default, skip_serializing_if = "Plan::is_full")]
    pub(crate) plan: Plan,
}

/// 【処理終了】 after a registration (FL-06, GR-05): waits for `終了`. Made only by
/// [`AwaitingCode`] on the right code in time.
///
/// # Example
/// ```
/// use kaigo_seikyu::first_login::FirstLogin;
/// let stored = r#"{"Registered":{"auth":{"user":"KJ131311111111"}}}"#;
/// let state: FirstLogin = serde_json::from_str(stored)?;
/// assert!(matches!(state, FirstLogin::Registered(_)));
/// assert_eq!(state.screen(&Default::default()).title, "処理終了");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    pub(crate) auth: Authenticated,
    #[serde(default, skip_serializing_if = "Plan::is_full")]
    pub(crate) plan: Plan,
}

/// OPS-07: no more codes sent than the policy allows a flow; the code checked.
impl crate::validate::Validate for EnteringSecurityEmail {
    fn validate(&self, check: &crate::validate::Check<'_>) -> Result<(), crate::validate::Invalid> {
        let max = check.policy.max_codes_per_flow;
        check.at_most("codes sent", self.codes_sent.into(), max.into())
    }
}

/// OPS-07: no more codes sent than the policy allows a flow; the code checked.
impl crate::validate::Validate for AwaitingCode {
    fn validate(&self, check: &crate::validate::Check<'_>) -> Result<(), crate::validate::Invalid> {
        let max = check.policy.max_codes_per_flow;
        check.at_most("codes sent", self.codes_sent.into(), max.into())?;
        self.challenge.validate(check)
    }
}

impl EnteringSecurityEmail {
    /// GR-01: the grace flow's first state.
    pub(crate) fn new(auth: Authenticated) -> Self {
        EnteringSecurityEmail {
            auth,
            codes_sent: 0,
            plan: Plan::default(),
        }
    }

    /// The user it belongs to.
    pub(crate) fn auth(&self) -> Authenticated {
        self.auth
    }

    /// FL-05, GR-05: mails a 確認コード (T1) to `address`, valid for the policy's code lifetime.
    /// [`FlowError::TooManyCodes`] past the policy's codes per flow (SEC-04).
    pub(crate) fn send<S: From<AwaitingCode>, R: CryptoRng + ?Sized>(
        self,
        address: EmailAddress,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<Next<S>>, FlowError> {
        if self.codes_sent >= cx.policy.max_codes_per_flow {
            return Err(FlowError::TooManyCodes);
        }
        let (challenge, mail) = Challenge::send(address, cx);
        let awaiting = AwaitingCode {
            auth: self.auth,
            challenge,
            codes_sent: self.codes_sent + 1,
            plan: self.plan,
        };
        Ok(Step::to(Next::Stay(S::from(awaiting))).with(mail))
    }
}

impl AwaitingCode {
    /// Where the code was mailed.
    pub fn to(&self) -> &EmailAddress {
        &self.challenge.to
    }

    /// The user it belongs to.
    pub(crate) fn auth(&self) -> Authenticated {
        self.auth
    }

    /// `戻る` (FL-05): back to the address entry; the code stops working.
    pub(crate) fn back(self) -> EnteringSecurityEmail {
        EnteringSecurityEmail {
            auth: self.auth,
            codes_sent: self.codes_sent,
            plan: self.plan,
        }
    }

    /// FL-05, FL-06, GR-05: the right code in time registers the address, which becomes the
    /// selected notification destination (SE-03), with the list's お知らせ and event (SE-08). A
    /// wrong code is counted (a rejected step).
    pub(crate) fn enter<S: From<AwaitingCode> + From<Registered>, R: CryptoRng + ?Sized>(
        mut self,
        code: &ConfirmationCode,
        mut account: Account,
        cx: &Cx<'_, R>,
    ) -> Result<Step<Next<S>>, FlowError> {
        match self.challenge.check(code, cx) {
            Ok(()) => {
                let user = self.auth.user();
                let address = self.challenge.to;
                account.security_emails.add(address.clone(), cx.now)?;
                let notice = ListChange::Registered(address).notice(&user);
                Ok(Step::to(Next::Stay(S::from(Registered {
                    auth: self.auth,
                    plan: self.plan,
                })))
                .with(Effect::SaveAccount(Box::new(account)))
                .with(Effect::Notice {
                    office: user.office(),
                    notice,
                })
                .with(event(cx.now, EventKind::SecurityEmailRegistered { user })))
            }
            Err(e @ (FlowError::WrongCode { .. } | FlowError::CodeExhausted)) => {
                Ok(Step::rejected(Next::Stay(S::from(self)), e))
            }
            Err(e) => Err(e),
        }
    }
}

impl Registered {
    /// The user it belongs to.
    pub(crate) fn auth(&self) -> Authenticated {
        self.auth
    }
}

/// The source's explanation of a security email, on every 【セキュリティ用メールアドレス設定】, with
/// the message ids it keeps wherever it appears.
const SECURITY_EMAIL_PURPOSE: [(&str, &str); 3] = [
    (
        "security_email.purpose",
        "セキュリティ用メールアドレスは、電子請求受付システムから送信されるセキュリティ強化のための情報（ワンタイムパスワード等）を受け取るために使用します。",
    ),
    (
        "security_email.reset_use",
        "※ パスワード紛失時の再設定等にご使用いただけます。",
    ),
    (
        "security_email.same_as_notice",
        "※ お知らせメールの通知先と同じメールアドレスを登録することも可能です。",
    ),
];

/// The instruction of every 【セキュリティ用メールアドレス設定】 (FL, GR, SE), and its message id.
pub(crate) const SECURITY_EMAIL_LEAD: (&str, &str) = (
    "security_email.lead",
    "セキュリティ用メールアドレスを入力し、【次へ】ボタンを押してください。",
);

/// The two address fields of every 【セキュリティ用メールアドレス設定】 (FL, GR, SE): required unless
/// the screen offers a way to go on without them (GR-02).
pub(crate) fn security_email_fields(screen: Screen, required: bool) -> Screen {
    let address = Field::email(ADDRESS, "セキュリティ用メールアドレス");
    let confirm = Field::email(CONFIRM_ADDRESS, "セキュリティ用メールアドレス（確認用）");
    let (address, confirm) = if required {
        (address.required(), confirm.required())
    } else {
        (address, confirm)
    };
    screen.field(address).field(confirm)
}

/// 【セキュリティ用メールアドレス設定】 up to its fields: the instruction, `lead` (GR-01's sentence,
/// with its message id), the source's explanation and the two address fields, `required` unless
/// the caller offers a way on without them. The caller adds what follows.
pub(crate) fn security_email_entry(
    steps: &[&'static str],
    current: usize,
    lead: &[(&'static str, &str)],
    required: bool,
) -> Screen {
    let (id, text) = SECURITY_EMAIL_LEAD;
    let screen = Screen::new("セキュリティ用メールアドレス設定")
        .steps(steps, current)
        .text(id, text);
    let screen = lead
        .iter()
        .chain(SECURITY_EMAIL_PURPOSE.iter())
        .fold(screen, |screen, (id, line)| screen.text(id, *line));
    security_email_fields(screen, required)
}

/// 【確認コード入力】 (FL-05, GR-05, SE-06), as the source draws it: the code went to `to`.
pub(crate) fn code_screen(
    steps: &[&'static str],
    current: usize,
    to: &EmailAddress,
    policy: &Policy,
) -> Screen {
    Screen::new("確認コード入力")
        .steps(steps, current)
        .text("code.sent_to", format!(
            "入力されたメールアドレスに誤りがないことを確認するため、確認コードを {to} 宛に送信しました。"
        ))
        .text("code.lead", "メール本文に記載された4桁の数字を半角で入力し、【送信】ボタンを押してください。")
        .field(Field::code(CODE, "確認コード", 4).required())
        .delivery_notes("確認コード", policy.code_lifetime_minutes)
        .text("code.maybe_wrong_address", "しばらく待ってもメールが届かない場合、入力されたメールアドレスに誤りがある可能性があります。")
        .text("code.back_to_address", "その場合、【戻る】ボタンを押して、再度セキュリティ用メールアドレスを設定してください。")
        .mail_trouble(
            "また、入力されたメールアドレスに誤りがない場合、以下の原因が考えられます。",
            help::mail_not_arriving(Retry::SecurityEmail),
        )
        .button(BACK, "戻る")
        .button(SEND, "送信")
}

/// 【処理終了】 after a registration (FL-06, GR-05).
pub(crate) fn registered_screen(steps: &[&'static str], current: usize) -> Screen {
    Screen::new("処理終了")
        .steps(steps, current)
        .text(REGISTERED_ID, REGISTERED_TEXT)
        .button(FINISH, "終了")
}

/// VAL-04, VAL-05: an address and its confirmation. A confirmation that does not parse cannot be
/// equal, so it is a mismatch.
pub(crate) fn confirmed_address(address: &str, confirm: &str) -> Result<EmailAddress, FlowError> {
    let address: EmailAddress = address.parse()?;
    match confirm.parse::<EmailAddress>() {
        Ok(confirm) if confirm == address => Ok(address),
        _ => Err(FlowError::ConfirmationMismatch),
    }
}

/// VAL-04, VAL-05 on a submitted form (UI-02): the address in the field `address` and its
/// confirmation in `confirm`. An address that does not parse is an error naming its field; a
/// confirmation that differs (or does not parse) is a mismatch.
///
/// # Example
/// ```
/// use kaigo_seikyu::error::FlowError;
/// use kaigo_seikyu::registration::confirmed_field;
/// use kaigo_seikyu::screen::Form;
/// let form = Form::new("next").with("address", "a@jp").with("confirm_address", "A@JP");
/// assert_eq!(confirmed_field(&form, "address", "confirm_address")?.as_str(), "a@jp");
/// let form = Form::new("next").with("address", "a@jp").with("confirm_address", "b@jp");
/// assert_eq!(confirmed_field(&form, "address", "confirm_address"), Err(FlowError::ConfirmationMismatch));
/// # Ok::<(), FlowError>(())
/// ```
pub fn confirmed_field(
    form: &Form,
    address: &str,
    confirm: &str,
) -> Result<EmailAddress, FlowError> {
    let parsed: EmailAddress = form.parse(address)?;
    match form.text(confirm).parse::<EmailAddress>() {
        Ok(confirm) if confirm == parsed => Ok(parsed),
        _ => Err(FlowError::ConfirmationMismatch),
    }
}

fn event(at: Instant, kind: EventKind) -> Effect {
    Effect::Event(Event { at, kind })
}

// ---------------------------------------------------------------------------------------------
// SE-08: notices, events and mails.

/// One change of the list, as SE-08 announces it. Texts are ours (SPEC tag D); none holds a secret.
///
/// # Example
/// ```
/// use kaigo_seikyu::security_emails::ListChange;
/// let change = ListChange::Deleted("old@jp".parse().unwrap());
/// let notice = change.notice(&"KJ131311111111".parse().unwrap());
/// assert_eq!(notice.title, "セキュリティ用メールアドレス削除通知");
/// assert!(change.mail(&"other@jp".parse().unwrap()).is_some());
/// assert!(ListChange::Selected("b@jp".parse().unwrap()).mail(&"other@jp".parse().unwrap()).is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListChange {
    /// An address was added (SE-06).
    Registered(EmailAddress),
    /// `old` was changed into `new` (SE-06).
    Changed {
        /// The address before.
        old: EmailAddress,
        /// The address after.
        new: EmailAddress,
    },
    /// An address was deleted (SE-04).
    Deleted(EmailAddress),
    /// An address became the selected notification destination (SE-03).
    Selected(EmailAddress),
}

const UNKNOWN_ACTION: &str =
    "この操作に心当たりがない場合、至急ヘルプデスクへお問い合わせください。";

impl ListChange {
    fn title(&self) -> &'static str {
        match self {
            ListChange::Registered(_) => "セキュリティ用メールアドレス登録通知",
            ListChange::Changed { .. } => "セキュリティ用メールアドレス変更通知",
            ListChange::Deleted(_) => "セキュリティ用メールアドレス削除通知",
            ListChange::Selected(_) => "セキュリティ用メールアドレス通知先変更通知",
        }
    }

    fn headline(&self) -> &'static str {
        match self {
            ListChange::Registered(_) => "以下のセキュリティ用メールアドレスが登録されました。",
            ListChange::Changed { .. } => "以下のセキュリティ用メールアドレスが変更されました。",
            ListChange::Deleted(_) => "以下のセキュリティ用メールアドレスが削除されました。",
            ListChange::Selected(_) => {
                "ワンタイムパスワード等の通知先となるセキュリティ用メールアドレスが変更されました。"
            }
        }
    }

    /// The `[label]` / address blocks. A mail leaves out the new address of a change: it may go to
    /// an address the office no longer uses.
    fn blocks(&self, in_mail: bool) -> Vec<(&'static str, String)> {
        match self {
            ListChange::Registered(a) | ListChange::Deleted(a) => {
                vec![(ADDRESS_BLOCK, a.to_string())]
            }
            ListChange::Changed { old, new } => {
                let mut blocks = vec![("[変更前のセキュリティ用メールアドレス]", old.to_string())];
                if !in_mail {
                    blocks.push(("[変更後のセキュリティ用メールアドレス]", new.to_string()));
                }
                blocks
            }
            ListChange::Selected(a) => {
                vec![("[通知先のセキュリティ用メールアドレス]", a.to_string())]
            }
        }
    }

    /// The お知らせ posted to the office (SE-08): what changed, for which user ID.
    pub fn notice(&self, user: &UserId) -> Notice {
        let user = user.to_string();
        let mut blocks = vec![("[ユーザID]", user)];
        blocks.extend(self.blocks(false));
        let blocks: Vec<(&str, &str)> = blocks.iter().map(|(l, v)| (*l, v.as_str())).collect();
        mail::framed_notice(self.title(), self.headline(), &blocks, &[])
    }

    /// The mail to a registered address about a change or delete (SE-08); `None` for an add or a
    /// selection. It names neither the user ID nor the new address: it may go to an address the
    /// office no longer uses.
    pub fn mail(&self, to: &EmailAddress) -> Option<Mail> {
        if !matches!(self, ListChange::Changed { .. } | ListChange::Deleted(_)) {
            return None;
        }
        let blocks = self.blocks(true);
        let blocks: Vec<(&str, &str)> = blocks.iter().map(|(l, v)| (*l, v.as_str())).collect();
        let subject = format!("{}(介護保険)", self.title());
        Some(mail::framed_mail(
            to,
            &subject,
            self.headline(),
            &blocks,
            UNKNOWN_ACTION,
        ))
    }

    fn event(&self, user: UserId, at: Instant) -> Event {
        let kind = match self {
            ListChange::Registered(_) => EventKind::SecurityEmailRegistered { user },
            ListChange::Changed { .. } => EventKind::SecurityEmailChanged { user },
            ListChange::Deleted(_) => EventKind::SecurityEmailDeleted { user },
            ListChange::Selected(_) => EventKind::SecurityEmailSelected { user },
        };
        Event { at, kind }
    }
}

/// SE-08: the effects of a list change: `updated` saved, a お知らせ, an event and, for a change or
/// delete, a mail to every address registered `before` it (the old or deleted one included).
pub(crate) fn announce(
    updated: Account,
    before: &SecurityEmails,
    change: &ListChange,
    now: Instant,
) -> Vec<Effect> {
    let user = updated.user_id;
    let mut effects = vec![
        Effect::SaveAccount(Box::new(updated)),
        Effect::Notice {
            office: user.office(),
            notice: change.notice(&user),
        },
        Effect::Event(change.event(user, now)),
    ];
    effects.extend(
        before
            .entries()
            .iter()
            .filter_map(|e| change.mail(&e.address))
            .map(Effect::Mail),
    );
    effects
}

/// What a step of a flow that registers `user`'s security email reads (FL, GR): the account, and
/// for a code entry (which registers the address) the user ID's hourly guessing budget (SEC-07)
/// and the office's accounts record it rewrites (OPS-04).
pub(crate) fn needs(user: UserId, enters_code: bool, registers: Option<&EmailAddress>) -> Needs {
    let needs = Needs::none().account(user);
    let needs = if enters_code {
        needs
            .guesses(Budget::WrongCodes(user))
            .office_accounts(user.office())
    } else {
        needs
    };
    match registers {
        Some(address) => needs.code_mail(address.clone()),
        None => needs,
    }
}

/// The account of `user` that a registering flow's step runs on.
pub(crate) fn account(records: &Records, user: UserId) -> Result<Account, PortalError> {
    Ok(records.account(user)?.ok_or(FlowError::NoSuchAccount)?)
}

/// [`Flow::needs`](crate::flow::Flow::needs) and [`Flow::step`](crate::flow::Flow::step) of a
/// flow that registers its user's security email (FL, GR), written once: every step reads the
/// account ([`needs`]), and runs the flow's `apply` on it ([`account`]). The flow has `user()`,
/// `apply(input, account, cx)`, an `Input::EnterCode` and the input `$registers` that sends a
/// new address.
macro_rules! registering_steps {
    ($registers:ident) => {
        /// Every step reads the account; a code entry runs under the user ID's hourly guessing
        /// budget (SEC-07); a new address reads its code-mail budget (SEC-04) in the same round.
        fn needs(&self, input: &Input) -> Needs {
            let registers = match input {
                Input::$registers(address) => Some(address),
                _ => None,
            };
            registration::needs(self.user(), matches!(input, Input::EnterCode(_)), registers)
        }

        fn step<R: CryptoRng + ?Sized>(
            self,
            input: Input,
            records: &Records,
            _: &FlowId,
            cx: &mut Cx<'_, R>,
        ) -> Result<Step<Next<Self>>, PortalError> {
            let account = registration::account(records, self.user())?;
            Ok(self.apply(input, account, cx)?)
        }
    };
}
pub(crate) use registering_steps;

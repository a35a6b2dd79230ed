//! The list of security emails after login (SE-01 … SE-08; source 1.2.1 (2)):
//! `ユーザ情報変更` → 【セキュリティ用メールアドレス一覧】, and the flow that adds or changes an
//! address: 【セキュリティ用メールアドレス設定】 → 【ワンタイムパスワード入力】 → 【確認コード入力】 →
//! 【処理終了】.
//!
//! The list itself is [`SecurityEmails`]: at most five (SE-01), no duplicates (SE-02), exactly one
//! selected (SE-03), never back to zero by the office's own hand (SE-04). Every change here goes
//! through its methods, so a refusal changes nothing.
//!
//! Adding or changing (SE-06) is a persisted flow, [`SecurityEmailSetting`]:
//!
//! | state | waits for | next |
//! | --- | --- | --- |
//! | [`ChoosingAddress`] | the new address and its confirmation | [`AwaitingOtp`]: a 6-digit OTP (T2) mailed to the *selected* registered address |
//! | [`AwaitingOtp`] | the OTP | [`AwaitingCode`]: a 4-digit code (T1) mailed to the new address |
//! | [`AwaitingCode`] | the code | [`Done`]: the address added, or put in place of the old one |
//! | [`Done`] | nothing | — |
//!
//! `戻る` on the OTP or code screen returns to [`ChoosingAddress`] (the codes mailed so far stop
//! working). Each code is valid for the policy's code lifetime (30 minutes), takes at most the
//! policy's wrong entries, and is kept only as a keyed digest ([`Challenge`]). Code mails spend the
//! address's hourly budget (SEC-04); wrong entries spend the user ID's (SEC-07).
//!
//! The list screen ([`list_screen`]) is the flow's [entry](Entry): its `追加` and row `変更`
//! buttons begin the flow at [`ChoosingAddress`]; its row `選択` and `削除` buttons are one-step
//! operations ([`Start::Select`], [`Start::Delete`]) that begin no flow and show the list again
//! ([`Portal::security_email_select`](crate::portal::Portal::security_email_select),
//! [`Portal::security_email_delete`](crate::portal::Portal::security_email_delete)); its `戻る` is
//! host navigation (to the host's ユーザ情報変更). `終了` on [`Done`] ends the flow at the list. Every add, change, delete or selection posts a お知らせ and
//! emits an event; a change or delete also mails every address that was registered before it
//! (SE-08, [`ListChange`]).
//!
//! The flow runs after login: every entry point takes the [`UserId`] of the host's session, and a
//! flow answers only to the user ID that started it.
//!
//! # Example
//! ```
//! use kaigo_seikyu::account::Account;
//! use kaigo_seikyu::calendar::utc;
//! use kaigo_seikyu::memory::Embedded;
//! use kaigo_seikyu::policy::Policy;
//! use kaigo_seikyu::secret::CodeKey;
//! use kaigo_seikyu::security_emails::UserInput;
//! use kaigo_seikyu::values::{EmailAddress, UserId};
//! use rand::SeedableRng;
//!
//! let now = utc("2026-01-10T12:00:00+09:00");
//! let host = Embedded::new(now);
//! let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
//! let mut rng = rand::rngs::StdRng::seed_from_u64(1);
//! let user: UserId = "KJ131311111111".parse()?;
//! let first: EmailAddress = "mailforsecurity-001@jp".parse()?;
//! let mut account = Account::new(user, portal.hash_secret(b"Passw0rd", &mut rng));
//! account.security_emails.add(first.clone(), now)?;
//! portal.create_account(account)?;
//!
//! // 手順 3. the new address and its confirmation: a one-time password goes to the selected address.
//! let (id, screen) = portal.security_email_add_start(&user, "second@jp", "second@jp", &mut rng)?;
//! assert_eq!(screen.title, "ワンタイムパスワード入力");
//! let otp = code_in(&host.outbox.last_to(&first).unwrap().body);
//! // 手順 4. the one-time password: a confirmation code goes to the new address.
//! let screen = portal.security_email_input(&user, &id, UserInput::Otp(&otp), &mut rng)?;
//! assert_eq!(screen.title, "確認コード入力");
//! let code = code_in(&host.outbox.last_to("second@jp").unwrap().body);
//! // 手順 5. the confirmation code: the address is registered.
//! let screen = portal.security_email_input(&user, &id, UserInput::Code(&code), &mut rng)?;
//! assert!(screen.shows("セキュリティ用メールアドレスの登録を完了しました。"));
//! assert_eq!(portal.account(&user)?.unwrap().security_emails.len(), 2);
//!
//! /// The code in a T1/T2 mail: the line after its `[…]` label.
//! fn code_in(body: &str) -> String {
//!     let mut lines = body.lines();
//!     lines.find(|l| l.starts_with('[')).unwrap();
//!     lines.next().unwrap().to_owned()
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::account::{Account, SecurityEmails};
use crate::calendar::Instant;
use crate::challenge::Challenge;
use crate::error::{FlowError, PortalError};
use crate::flow::{Cx, Entry, Flow, Needs, Next, Records, Step, View};
use crate::help::{self, Retry};
use crate::policy::Policy;
use crate::registration::{
    REGISTERED_ID, REGISTERED_TEXT, SECURITY_EMAIL_LEAD, announce, code_screen,
    security_email_fields,
};
use crate::screen::button::{BACK, FINISH, NEXT, SEND};
use crate::screen::field::{ADDRESS, CODE, CONFIRM_ADDRESS, OTP};
use crate::screen::{Field, Form, Screen};
use crate::store::{Budget, FlowId, FlowKind};
use crate::values::{ConfirmationCode, EmailAddress, OneTimePassword, UserId};

pub use crate::registration::ListChange;

/// The steps of the list screen, as the source prints them.
const LIST_STEPS: &[&str] = &["1 ユーザ情報変更", "2 セキュリティ用メールアドレス一覧"];

/// The steps of adding or changing an address (SE-06), as the source prints them.
const SETTING_STEPS: &[&str] = &[
    "1 ユーザ情報変更",
    "2 セキュリティ用メールアドレス一覧",
    "3 セキュリティ用メールアドレス設定",
    "4 ワンタイムパスワード入力",
    "5 確認コード入力",
    "6 終了",
];

const LIST_TITLE: &str = "セキュリティ用メールアドレス一覧";
const USER_INFO_TITLE: &str = "ユーザ情報変更";
const SETTING_TITLE: &str = "セキュリティ用メールアドレス設定";

/// The button `追加` on the list.
const ADD: &str = "add";

/// The button `セキュリティ用メールアドレス設定` on 【ユーザ情報変更】 (SE-09): opens the list.
pub const OPEN_LIST: &str = "security_emails";

/// The names of the per-row buttons of the list: `select:N`, `change:N`, `delete:N` for the
/// row `N` (1 = the first address listed). A form sends exactly one button, so the name says
/// which row it belongs to.
const SELECT_ROW: [&str; SecurityEmails::MAX] =
    ["select:1", "select:2", "select:3", "select:4", "select:5"];
const CHANGE_ROW: [&str; SecurityEmails::MAX] =
    ["change:1", "change:2", "change:3", "change:4", "change:5"];
const DELETE_ROW: [&str; SecurityEmails::MAX] =
    ["delete:1", "delete:2", "delete:3", "delete:4", "delete:5"];

/// What a flow does with the new address once it is proved (SE-06).
///
/// # Example
/// ```
/// use kaigo_seikyu::security_emails::Purpose;
/// let change = Purpose::Change { old: "old@jp".parse().unwrap() };
/// assert_ne!(change, Purpose::Add);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Purpose {
    /// Add it to the list (`追加`).
    Add,
    /// Put it in place of `old`, keeping the selection (`変更`).
    Change {
        /// The registered address being changed.
        old: EmailAddress,
    },
}

impl Purpose {
    /// Applies the purpose to `list` (SE-01, SE-02; the changed address must still be registered).
    /// Changing an address into itself is refused as a duplicate. On error `list` is unchanged.
    fn apply(
        &self,
        list: &mut SecurityEmails,
        new: &EmailAddress,
        now: Instant,
    ) -> Result<(), FlowError> {
        match self {
            Purpose::Add => list.add(new.clone(), now),
            Purpose::Change { old } if old == new => Err(FlowError::DuplicateSecurityEmail),
            Purpose::Change { old } => list.replace(old, new.clone(), now),
        }
    }

    /// Whether the purpose could be applied to `list` now, changing nothing.
    fn check(
        &self,
        list: &SecurityEmails,
        new: &EmailAddress,
        now: Instant,
    ) -> Result<(), FlowError> {
        self.apply(&mut list.clone(), new, now)
    }
}

/// The persisted add-or-change flow (SE-06). States hold no secret: codes only as a [`Challenge`].
///
/// # Example
/// ```
/// use kaigo_seikyu::policy::Policy;
/// use kaigo_seikyu::security_emails::{Purpose, SecurityEmailSetting};
/// let flow = SecurityEmailSetting::choosing("KJ131311111111".parse().unwrap(), Purpose::Add);
/// let screen = flow.screen(&Policy::default());
/// assert_eq!(screen.title, "セキュリティ用メールアドレス設定");
/// assert_eq!(screen.steps[screen.current], "3 セキュリティ用メールアドレス設定");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecurityEmailSetting {
    /// 【セキュリティ用メールアドレス一覧】 (SE-09: reached from 【ユーザ情報変更】).
    Listing(Listing),
    /// 【セキュリティ用メールアドレス設定】.
    ChoosingAddress(ChoosingAddress),
    /// 【ワンタイムパスワード入力】.
    AwaitingOtp(AwaitingOtp),
    /// 【確認コード入力】.
    AwaitingCode(AwaitingCode),
    /// 【処理終了】.
    Done(Done),
}

/// 【セキュリティ用メールアドレス一覧】 (step 2), reached with `セキュリティ用メールアドレス設定` on
/// 【ユーザ情報変更】 (SE-09): waits for `追加`, a row's `選択`, `変更` or `削除`, or `戻る`. It keeps
/// the list as it was drawn, so a row button means the address the user saw; every operation
/// checks that address against the list as stored when it runs.
///
/// # Example
/// ```
/// use kaigo_seikyu::security_emails::{Listing, SecurityEmailSetting};
/// fn listing(flow: &SecurityEmailSetting) -> bool {
///     matches!(flow, SecurityEmailSetting::Listing(Listing { .. }))
/// }
/// # let _ = listing;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    user: UserId,
    list: SecurityEmails,
}

/// Waits for the new address and its confirmation (step 3).
///
/// # Example
/// ```
/// use kaigo_seikyu::security_emails::{ChoosingAddress, Purpose, SecurityEmailSetting};
/// let flow = SecurityEmailSetting::choosing("KJ131311111111".parse().unwrap(), Purpose::Add);
/// assert!(matches!(flow, SecurityEmailSetting::ChoosingAddress(ChoosingAddress { .. })));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoosingAddress {
    user: UserId,
    purpose: Purpose,
    /// Codes this flow has mailed so far, kept across `戻る` (SEC-04).
    sent: u8,
}

/// Waits for the one-time password mailed (T2) to the selected registered address (step 4).
/// Only [`ChoosingAddress`] builds it, after the address passed SE-01/SE-02 and VAL-05.
///
/// # Example
/// ```
/// use kaigo_seikyu::security_emails::{AwaitingOtp, SecurityEmailSetting};
/// fn otp_sent_to(flow: &SecurityEmailSetting) -> Option<&str> {
///     match flow {
///         SecurityEmailSetting::AwaitingOtp(s) => Some(s.otp_to().as_str()),
///         _ => None,
///     }
/// }
/// # let _ = otp_sent_to;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitingOtp {
    user: UserId,
    purpose: Purpose,
    new: EmailAddress,
    otp: Challenge<6>,
    sent: u8,
}

/// Waits for the confirmation code mailed (T1) to the new address (step 5). Only
/// [`AwaitingOtp`] builds it, after the right one-time password: holding one proves the office
/// controls its selected address.
///
/// # Example
/// ```
/// use kaigo_seikyu::security_emails::{AwaitingCode, SecurityEmailSetting};
/// fn code_sent_to(flow: &SecurityEmailSetting) -> Option<&str> {
///     match flow {
///         SecurityEmailSetting::AwaitingCode(s) => Some(s.new_address().as_str()),
///         _ => None,
///     }
/// }
/// # let _ = code_sent_to;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitingCode {
    user: UserId,
    purpose: Purpose,
    code: Challenge<4>,
    sent: u8,
}

/// The address was added or changed (step 6). Takes no more input. Only [`AwaitingCode`] builds
/// it, after the right confirmation code.
///
/// # Example
/// ```
/// use kaigo_seikyu::security_emails::{Done, SecurityEmailSetting};
/// fn finished(flow: &SecurityEmailSetting) -> bool {
///     matches!(flow, SecurityEmailSetting::Done(Done { .. }))
/// }
/// # let _ = finished;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    user: UserId,
    purpose: Purpose,
    new: EmailAddress,
}

crate::flow::states!(SecurityEmailSetting: Listing, ChoosingAddress, AwaitingOtp, AwaitingCode, Done);

/// OPS-07: the one-time password and the confirmation code checked.
impl crate::validate::Validate for SecurityEmailSetting {
    fn validate(&self, check: &crate::validate::Check<'_>) -> Result<(), crate::validate::Invalid> {
        // SEC-04: no more codes than a flow may send.
        let sent = |sent: u8| {
            check.at_most(
                "codes sent by the flow",
                sent.into(),
                check.policy.max_codes_per_flow.into(),
            )
        };
        match self {
            SecurityEmailSetting::AwaitingOtp(s) => {
                sent(s.sent)?;
                s.otp.validate(check)
            }
            SecurityEmailSetting::AwaitingCode(s) => {
                sent(s.sent)?;
                s.code.validate(check)
            }
            SecurityEmailSetting::ChoosingAddress(s) => sent(s.sent),
            SecurityEmailSetting::Listing(_) | SecurityEmailSetting::Done(_) => Ok(()),
        }
    }
}

/// What the user does in the flow, already parsed.
///
/// # Example
/// ```
/// use kaigo_seikyu::security_emails::{Input, UserInput};
/// let input = UserInput::Code(" 0042 ").parse().unwrap();
/// assert!(matches!(input, Input::EnterCode(_)));
/// assert_eq!(format!("{input:?}"), "EnterCode(Code<4>(***))");
/// ```
#[derive(Debug, Clone)]
pub enum Input {
    /// `追加` on the list: the empty 【セキュリティ用メールアドレス設定】 (refused with none
    /// registered, SE-05, or five, SE-01).
    Add,
    /// `変更` on a row of the list.
    Change(Target),
    /// `選択` on a row of the list (SE-03): the list again.
    Select(Target),
    /// `削除` on a row of the list (SE-04): the list again.
    Delete(Target),
    /// `次へ` on 【セキュリティ用メールアドレス設定】: the new address and its confirmation.
    EnterAddress {
        /// 《セキュリティ用メールアドレス》.
        new: EmailAddress,
        /// 《セキュリティ用メールアドレス（確認用）》.
        confirm: EmailAddress,
    },
    /// `次へ` on 【ワンタイムパスワード入力】.
    EnterOtp(OneTimePassword),
    /// `送信` on 【確認コード入力】.
    EnterCode(ConfirmationCode),
    /// `戻る`: on the OTP or code screen, back to the address entry; on the address entry, back
    /// to the list; on the list, the flow ends at 【ユーザ情報変更】.
    Back,
    /// `終了` on 【処理終了】: the flow ends at 【ユーザ情報変更】.
    Finish,
}

/// What the user typed, as it arrives at the [`Portal`](crate::portal::Portal): every field a `&str`, parsed into an
/// [`Input`] before anything is drawn or stored. `Debug` hides the codes.
///
/// # Example
/// ```
/// use kaigo_seikyu::security_emails::UserInput;
/// let typed = UserInput::Otp("123456");
/// assert_eq!(format!("{typed:?}"), "Otp(***)");
/// assert!(UserInput::Otp("１２３４５６").parse().is_err());
/// ```
#[derive(Clone, Copy)]
pub enum UserInput<'a> {
    /// The new address and its confirmation.
    Address {
        /// 《セキュリティ用メールアドレス》.
        new: &'a str,
        /// 《セキュリティ用メールアドレス（確認用）》.
        confirm: &'a str,
    },
    /// 《ワンタイムパスワード》.
    Otp(&'a str),
    /// 《確認コード》.
    Code(&'a str),
    /// `戻る`.
    Back,
}

impl fmt::Debug for UserInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserInput::Address { new, confirm } => f
                .debug_struct("Address")
                .field("new", new)
                .field("confirm", confirm)
                .finish(),
            UserInput::Otp(_) => f.write_str("Otp(***)"),
            UserInput::Code(_) => f.write_str("Code(***)"),
            UserInput::Back => f.write_str("Back"),
        }
    }
}

impl UserInput<'_> {
    /// Parses the typed fields (VAL-04, VAL-07). A badly formed code is an error that does not
    /// count as an attempt.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::error::FlowError;
    /// use kaigo_seikyu::security_emails::UserInput;
    /// use kaigo_seikyu::values::ValueError;
    /// let err = UserInput::Address { new: "ａ@jp", confirm: "a@jp" }.parse().unwrap_err();
    /// assert_eq!(err, FlowError::Value(ValueError::EmailNotAscii));
    /// ```
    pub fn parse(self) -> Result<Input, FlowError> {
        Ok(match self {
            UserInput::Address { new, confirm } => Input::EnterAddress {
                new: new.parse()?,
                confirm: confirm.parse()?,
            },
            UserInput::Otp(otp) => Input::EnterOtp(otp.parse()?),
            UserInput::Code(code) => Input::EnterCode(code.parse()?),
            UserInput::Back => Input::Back,
        })
    }
}

impl Input {
    fn name(&self) -> &'static str {
        match self {
            Input::Add => "Add",
            Input::Change(_) => "Change",
            Input::Select(_) => "Select",
            Input::Delete(_) => "Delete",
            Input::EnterAddress { .. } => "EnterAddress",
            Input::EnterOtp(_) => "EnterOtp",
            Input::EnterCode(_) => "EnterCode",
            Input::Back => "Back",
            Input::Finish => "Finish",
        }
    }
}

impl SecurityEmailSetting {
    /// A flow at the address entry of `user`, for `purpose`.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::security_emails::{Purpose, SecurityEmailSetting};
    /// let user = "KJ131311111111".parse().unwrap();
    /// assert_eq!(SecurityEmailSetting::choosing(user, Purpose::Add).user(), &user);
    /// ```
    pub fn choosing(user: UserId, purpose: Purpose) -> Self {
        ChoosingAddress {
            user,
            purpose,
            sent: 0,
        }
        .into()
    }

    /// The user ID the flow belongs to.
    pub fn user(&self) -> &UserId {
        match self {
            SecurityEmailSetting::Listing(s) => &s.user,
            SecurityEmailSetting::ChoosingAddress(s) => &s.user,
            SecurityEmailSetting::AwaitingOtp(s) => &s.user,
            SecurityEmailSetting::AwaitingCode(s) => &s.user,
            SecurityEmailSetting::Done(s) => &s.user,
        }
    }

    fn state_name(&self) -> &'static str {
        match self {
            SecurityEmailSetting::Listing(_) => "Listing",
            SecurityEmailSetting::ChoosingAddress(_) => "ChoosingAddress",
            SecurityEmailSetting::AwaitingOtp(_) => "AwaitingOtp",
            SecurityEmailSetting::AwaitingCode(_) => "AwaitingCode",
            SecurityEmailSetting::Done(_) => "Done",
        }
    }

    /// Applies one input against `account` (the flow's user's account, as stored now). Pure.
    ///
    /// - `Err(e)`: nothing changes (a stale plan — the list changed meanwhile — is refused here
    ///   with the list's own error, e.g. [`FlowError::SecurityEmailLimit`]).
    /// - `Ok(step)` with `step.rejected` set: a wrong code was counted.
    /// - `Ok(step)`: the next state and its effects (code mails; on [`Done`] the account saved,
    ///   a お知らせ, an event and, for a change, mails to the addresses registered before it).
    ///
    /// `戻る` at the address entry and `終了` are not transitions of a state: the flow ends at the
    /// list ([`Flow::step`]).
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::account::Account;
    /// use kaigo_seikyu::calendar::utc;
    /// use kaigo_seikyu::error::FlowError;
    /// use kaigo_seikyu::policy::Policy;
    /// use kaigo_seikyu::flow::Cx;
    /// use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, PasswordHash};
    /// use kaigo_seikyu::security_emails::{Input, Purpose, SecurityEmailSetting};
    /// use rand::SeedableRng;
    ///
    /// let policy = Policy::insecure_fast_hashing();
    /// let hasher = Argon2Hasher::new(policy.hashing, CodeKey::from_bytes([1; 32]));
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    /// let now = utc("2026-01-10T12:00:00+09:00");
    /// let mut cx = Cx { now, rng: &mut rng, policy: &policy, hasher: &hasher };
    /// let user = "KJ131311111111".parse()?;
    /// let mut account = Account::new(user, PasswordHash::from_phc("$argon2id$…"));
    /// account.security_emails.add("a@jp".parse()?, now)?;
    ///
    /// let flow = SecurityEmailSetting::choosing(user, Purpose::Add);
    /// let mismatch = Input::EnterAddress { new: "b@jp".parse()?, confirm: "c@jp".parse()? };
    /// assert_eq!(flow.clone().apply(mismatch, &account, &mut cx).unwrap_err(), FlowError::ConfirmationMismatch);
    /// let ok = Input::EnterAddress { new: "b@jp".parse()?, confirm: "b@jp".parse()? };
    /// let step = flow.apply(ok, &account, &mut cx)?;
    /// assert!(matches!(step.state, SecurityEmailSetting::AwaitingOtp(_)));
    /// assert_eq!(step.effects.len(), 1); // the T2 mail to a@jp
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply<R: CryptoRng + ?Sized>(
        self,
        input: Input,
        account: &Account,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<SecurityEmailSetting>, FlowError> {
        match (self, input) {
            (SecurityEmailSetting::Done(_), _) => Err(FlowError::FlowFinished),
            (SecurityEmailSetting::Listing(s), input @ (Input::Add | Input::Change(_))) => {
                s.open_setting(input, &account.security_emails)
            }
            (SecurityEmailSetting::Listing(s), Input::Select(target)) => {
                let address = target.resolve(&s.list)?;
                Ok(listed(s.user, select(account, &address, cx.now)?))
            }
            (SecurityEmailSetting::Listing(s), Input::Delete(target)) => {
                let address = target.resolve(&s.list)?;
                Ok(listed(s.user, delete(account, &address, cx.now)?))
            }
            (SecurityEmailSetting::ChoosingAddress(s), Input::Back) => Ok(Step::to(
                Listing {
                    user: s.user,
                    list: account.security_emails.clone(),
                }
                .into(),
            )),
            (SecurityEmailSetting::ChoosingAddress(s), Input::EnterAddress { new, confirm }) => {
                s.enter_address(new, &confirm, &account.security_emails, cx)
            }
            (SecurityEmailSetting::AwaitingOtp(s), Input::EnterOtp(otp)) => {
                s.enter_otp(&otp, &account.security_emails, cx)
            }
            (SecurityEmailSetting::AwaitingCode(s), Input::EnterCode(code)) => {
                s.enter_code(&code, account, cx)
            }
            (
                SecurityEmailSetting::AwaitingOtp(AwaitingOtp {
                    user,
                    purpose,
                    sent,
                    ..
                }),
                Input::Back,
            )
            | (
                SecurityEmailSetting::AwaitingCode(AwaitingCode {
                    user,
                    purpose,
                    sent,
                    ..
                }),
                Input::Back,
            ) => Ok(Step::to(
                ChoosingAddress {
                    user,
                    purpose,
                    sent,
                }
                .into(),
            )),
            (state, input) => Err(FlowError::UnexpectedInput {
                state: state.state_name(),
                input: input.name(),
            }),
        }
    }

    /// The screen of this state. Shows addresses, never a code (SEC-01).
    pub fn screen(&self, policy: &Policy) -> Screen {
        match self {
            SecurityEmailSetting::Listing(s) => list_screen(&s.list),
            SecurityEmailSetting::ChoosingAddress(s) => setting_screen(&s.purpose),
            SecurityEmailSetting::AwaitingOtp(s) => otp_screen(s.otp_to(), policy),
            SecurityEmailSetting::AwaitingCode(s) => {
                code_screen(SETTING_STEPS, 4, s.new_address(), policy)
            }
            SecurityEmailSetting::Done(s) => done_screen(&s.purpose),
        }
    }
}

/// The list after a one-step operation (`選択`, `削除`): its effects, and the flow at the list as
/// the operation left it.
fn listed(user: UserId, step: Step<SecurityEmails>) -> Step<SecurityEmailSetting> {
    step.map(|list| Listing { user, list }.into())
}

impl Listing {
    /// `追加` or a row's `変更`: the address entry, for an add (SE-05, SE-01 checked on the list as
    /// stored) or for changing the address of the row as drawn (still registered).
    fn open_setting(
        self,
        input: Input,
        stored: &SecurityEmails,
    ) -> Result<Step<SecurityEmailSetting>, FlowError> {
        let purpose = match input {
            Input::Change(target) => {
                let old = target.resolve(&self.list)?;
                change_form(stored, &old)?;
                Purpose::Change { old }
            }
            _ => {
                add_form(stored)?;
                Purpose::Add
            }
        };
        Ok(Step::to(SecurityEmailSetting::choosing(self.user, purpose)))
    }
}

impl ChoosingAddress {
    /// VAL-05, then SE-05 (a list to add to), SE-01, SE-02: a 6-digit OTP (T2) to the selected
    /// address (SE-06).
    fn enter_address<R: CryptoRng + ?Sized>(
        self,
        new: EmailAddress,
        confirm: &EmailAddress,
        list: &SecurityEmails,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<SecurityEmailSetting>, FlowError> {
        if &new != confirm {
            return Err(FlowError::ConfirmationMismatch);
        }
        let selected = list.selected().ok_or(FlowError::NoSecurityEmail)?.clone();
        self.purpose.check(list, &new, cx.now)?;
        let sent = one_more_code(self.sent, cx.policy)?;
        let (otp, mail) = Challenge::<6>::send(selected, cx);
        let ChoosingAddress { user, purpose, .. } = self;
        Ok(Step::to(
            AwaitingOtp {
                user,
                purpose,
                new,
                otp,
                sent,
            }
            .into(),
        )
        .with(mail))
    }
}

/// SEC-04: one more code mail for a flow that has sent `sent`, or [`FlowError::TooManyCodes`].
fn one_more_code(sent: u8, policy: &Policy) -> Result<u8, FlowError> {
    if sent >= policy.max_codes_per_flow {
        Err(FlowError::TooManyCodes)
    } else {
        Ok(sent + 1)
    }
}

/// Whether a wrong code was counted: then the state is saved with the error (a rejected step).
fn counted(e: &FlowError) -> bool {
    matches!(e, FlowError::WrongCode { .. } | FlowError::CodeExhausted)
}

impl AwaitingOtp {
    /// The registered address the one-time password went to.
    pub fn otp_to(&self) -> &EmailAddress {
        &self.otp.to
    }

    /// The OTP proves the office holds a registered address; then a 4-digit code (T1) goes to the
    /// new one (SE-06).
    fn enter_otp<R: CryptoRng + ?Sized>(
        mut self,
        otp: &OneTimePassword,
        list: &SecurityEmails,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<SecurityEmailSetting>, FlowError> {
        if !list.contains(&self.otp.to) {
            return Err(FlowError::SecurityEmailNotRegistered);
        }
        self.purpose.check(list, &self.new, cx.now)?;
        match self.otp.check(otp, cx) {
            Ok(()) => {
                let sent = one_more_code(self.sent, cx.policy)?;
                let (code, mail) = Challenge::<4>::send(self.new, cx);
                let next = AwaitingCode {
                    user: self.user,
                    purpose: self.purpose,
                    code,
                    sent,
                };
                Ok(Step::to(next.into()).with(mail))
            }
            Err(e) if counted(&e) => Ok(Step::rejected(self.into(), e)),
            Err(e) => Err(e),
        }
    }
}

impl AwaitingCode {
    /// The new address, where the confirmation code went.
    pub fn new_address(&self) -> &EmailAddress {
        &self.code.to
    }

    /// The code proves the new address; it is added or put in place of the old one (SE-06), and
    /// the change is announced (SE-08).
    fn enter_code<R: CryptoRng + ?Sized>(
        mut self,
        code: &ConfirmationCode,
        account: &Account,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<SecurityEmailSetting>, FlowError> {
        let mut updated = account.clone();
        self.purpose
            .apply(&mut updated.security_emails, &self.code.to, cx.now)?;
        match self.code.check(code, cx) {
            Ok(()) => {
                let new = self.code.to;
                let change = match &self.purpose {
                    Purpose::Add => ListChange::Registered(new.clone()),
                    Purpose::Change { old } => ListChange::Changed {
                        old: old.clone(),
                        new: new.clone(),
                    },
                };
                let done = Done {
                    user: self.user,
                    purpose: self.purpose,
                    new,
                };
                let mut step = Step::to(done.into());
                step.effects = announce(updated, &account.security_emails, &change, cx.now);
                Ok(step)
            }
            Err(e) if counted(&e) => Ok(Step::rejected(self.into(), e)),
            Err(e) => Err(e),
        }
    }
}

/// SE-03: `address` becomes the selected destination. Selecting the selected one changes nothing.
pub(crate) fn select(
    account: &Account,
    address: &EmailAddress,
    now: Instant,
) -> Result<Step<SecurityEmails>, FlowError> {
    let mut updated = account.clone();
    updated.security_emails.select(address)?;
    if account.security_emails.selected() == Some(address) {
        return Ok(Step::to(updated.security_emails));
    }
    Ok(edited(
        account,
        updated,
        ListChange::Selected(address.clone()),
        now,
    ))
}

/// SE-04: deletes `address`, refused when it is the only one.
pub(crate) fn delete(
    account: &Account,
    address: &EmailAddress,
    now: Instant,
) -> Result<Step<SecurityEmails>, FlowError> {
    let mut updated = account.clone();
    updated.security_emails.remove(address)?;
    Ok(edited(
        account,
        updated,
        ListChange::Deleted(address.clone()),
        now,
    ))
}

/// The list as `updated` holds it after a one-step `change` of `account`'s (SE-03, SE-04), with
/// the change announced (SE-08).
fn edited(
    account: &Account,
    updated: Account,
    change: ListChange,
    now: Instant,
) -> Step<SecurityEmails> {
    let mut step = Step::to(updated.security_emails.clone());
    step.effects = announce(updated, &account.security_emails, &change, now);
    step
}

// ---------------------------------------------------------------------------------------------
// Screens.

/// 【セキュリティ用メールアドレス一覧】 (SE-03, SE-04, SE-05, SE-07): the registered addresses with
/// the selected one marked `選択中`; `削除` only with two or more; `追加` (and the line that explains
/// it) only with one to four.
/// With none, the texts of SE-05 and only `戻る`.
///
/// The table is drawn as rows ([`Screen::row`]): the header, then one row per address: `選択中`
/// (`se.list.selected`) or the button `選択`, the address (`se.list.address`), the buttons `変更`
/// and `削除`. A row's buttons are named `select:N`, `change:N` and `delete:N` for the row `N`
/// (1 = the first address listed), so the form's one button says which address it means.
///
/// # Example
/// ```
/// use kaigo_seikyu::account::SecurityEmails;
/// use kaigo_seikyu::calendar::utc;
/// use kaigo_seikyu::security_emails::list_screen;
/// let mut list = SecurityEmails::default();
/// assert!(list_screen(&list).shows("セキュリティ用メールアドレスが登録されていません。"));
/// let now = utc("2026-01-10T12:00:00+09:00");
/// list.add("mailforsecurity-001@jp".parse().unwrap(), now).unwrap();
/// let screen = list_screen(&list);
/// assert!(screen.shows("選択中 | mailforsecurity-001@jp | [変更]\n"));
/// assert_eq!(screen.button_named("変更"), Some("change:1"));
/// assert!(!screen.offers("削除") && !screen.offers("選択"));
/// assert!(screen.offers("追加"));
/// list.add("mailforsecurity-002@jp".parse().unwrap(), now).unwrap();
/// let screen = list_screen(&list);
/// assert!(screen.shows("[選択] | mailforsecurity-002@jp | [変更] | [削除]\n"));
/// let names: Vec<&str> = screen.buttons().map(|b| b.name).collect();
/// assert_eq!(names, ["change:1", "delete:1", "select:2", "change:2", "delete:2", "add", "back"]);
/// ```
pub fn list_screen(list: &SecurityEmails) -> Screen {
    let screen = Screen::new(LIST_TITLE).steps(LIST_STEPS, 1);
    if list.is_empty() {
        return screen
            .text("se.list.empty", "セキュリティ用メールアドレスが登録されていません。")
            .text(
                "se.list.register_at_login",
                "ログイン時に表示されるセキュリティ用メールアドレス設定画面から、セキュリティ用メールアドレスを登録してください。",
            )
            .button(BACK, "戻る");
    }
    let deletable = list.len() > 1;
    let addable = list.len() < SecurityEmails::MAX;
    let mut screen = screen;
    if addable {
        screen = screen.text(
            "se.list.add_hint",
            "セキュリティ用メールアドレスを追加する場合、【追加】ボタンを押してください。",
        );
    }
    let mut screen = screen
        .text(
            "se.list.change_hint",
            "セキュリティ用メールアドレスを変更する場合、対象のセキュリティ用メールアドレスの【変更】ボタンを押してください。",
        );
    if deletable {
        screen = screen.text("se.list.delete_hint", DELETE_HINT);
    }
    let mut screen = screen
        .text("se.list.recommend", "※ セキュリティ用メールアドレスは複数登録することを推奨しており、最大5つまで登録できます。")
        .text(
            "se.list.support",
            "すべてのセキュリティ用メールアドレスが使用できなくなると、再度登録するためにはサポート窓口への申請及び本人確認が必要です。",
        )
        .text("security_email.same_as_notice", "※ お知らせメールの通知先と同じメールアドレスを登録することも可能です。")
        .row(|header| {
            let header = header
                .text("se.list.column.selected", "通知先")
                .help(help::notification_destination())
                .text("se.list.column.address", "セキュリティ用メールアドレス")
                .text("se.list.column.change", "変更");
            if deletable {
                header.text("se.list.column.delete", "削除")
            } else {
                header
            }
        });
    for (row, entry) in list.entries().iter().enumerate() {
        let selected = list.selected() == Some(&entry.address);
        screen = screen.row(|cells| {
            let cells = if selected {
                cells.text("se.list.selected", "選択中")
            } else {
                cells.button(SELECT_ROW[row], "選択")
            };
            let cells = cells
                .text("se.list.address", entry.address.to_string())
                .button(CHANGE_ROW[row], "変更");
            if deletable {
                cells.button(DELETE_ROW[row], "削除")
            } else {
                cells
            }
        });
    }
    if addable {
        screen = screen.button(ADD, "追加");
    }
    screen.button(BACK, "戻る")
}

/// SE-10: the line telling how to delete an address, with two or more registered (ours: the
/// source says only that the one-address text changed).
const DELETE_HINT: &str = "セキュリティ用メールアドレスを削除する場合、対象のセキュリティ用メールアドレスの【削除】ボタンを押してください。";

/// 【ユーザ情報変更】 (SE-09), step 1 of the list's steps: the button
/// `セキュリティ用メールアドレス設定` ([`OPEN_LIST`]) that opens 【セキュリティ用メールアドレス一覧】,
/// with its [?] help as the source prints it. The portal's other user settings on this screen
/// (password, notice mail, security code) are the host's.
///
/// # Example
/// ```
/// use kaigo_seikyu::security_emails::user_info_screen;
/// let screen = user_info_screen();
/// assert_eq!(screen.title, "ユーザ情報変更");
/// assert_eq!(screen.button_named("セキュリティ用メールアドレス設定"), Some("security_emails"));
/// assert_eq!(screen.helps().next().unwrap().title, "セキュリティ用メールアドレス設定について");
/// ```
pub fn user_info_screen() -> Screen {
    Screen::new(USER_INFO_TITLE)
        .steps(&LIST_STEPS[..1], 0)
        .button(OPEN_LIST, "セキュリティ用メールアドレス設定")
        .help(help::security_email_setting())
}

/// 【セキュリティ用メールアドレス設定】 (step 3); for a change it also shows the address changed.
fn setting_screen(purpose: &Purpose) -> Screen {
    let (id, lead) = SECURITY_EMAIL_LEAD;
    let screen = Screen::new(SETTING_TITLE)
        .steps(SETTING_STEPS, 2)
        .text(id, lead);
    let screen = match purpose {
        Purpose::Add => screen,
        Purpose::Change { old } => screen.field(Field::shown(
            "old_address",
            "変更前のセキュリティ用メールアドレス",
            old,
        )),
    };
    security_email_fields(screen, true)
        .button(BACK, "戻る")
        .button(NEXT, "次へ")
}

/// 【ワンタイムパスワード入力】 (step 4), as the source prints it for RS without RS's own notes.
fn otp_screen(to: &EmailAddress, policy: &Policy) -> Screen {
    crate::reset::otp_screen(SETTING_STEPS, 3, to, policy, Retry::SecurityEmail)
        .button(BACK, "戻る")
        .button(NEXT, "次へ")
}

/// 【処理終了】 (step 6).
fn done_screen(purpose: &Purpose) -> Screen {
    let screen = Screen::new("処理終了").steps(SETTING_STEPS, 5);
    match purpose {
        Purpose::Add => screen.text(REGISTERED_ID, REGISTERED_TEXT),
        Purpose::Change { .. } => screen.text(
            "se.done.changed",
            "セキュリティ用メールアドレスの変更を完了しました。",
        ),
    }
    .button(FINISH, "終了")
}

// ---------------------------------------------------------------------------------------------
// The flow shape: the list is the entry, the add-or-change flow the persisted state.

/// Which registered address a button of the list means.
///
/// # Example
/// ```
/// use kaigo_seikyu::security_emails::Target;
/// let row = Target::Row(2); // `select:2`, `change:2` or `delete:2`: the second address listed
/// assert_ne!(row, Target::Address("a@jp".parse().unwrap()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The row `N` of the list (1 = the first address listed), as its buttons name it.
    Row(usize),
    /// The address itself, as the per-flow entry points take it.
    Address(EmailAddress),
}

impl Target {
    /// The registered address meant; [`FlowError::SecurityEmailNotRegistered`] for a row the
    /// list does not have. An address is returned as given: the operation checks it.
    fn resolve(self, list: &SecurityEmails) -> Result<EmailAddress, FlowError> {
        match self {
            Target::Address(address) => Ok(address),
            Target::Row(row) => row
                .checked_sub(1)
                .and_then(|i| list.entries().get(i))
                .map(|e| e.address.clone())
                .ok_or(FlowError::SecurityEmailNotRegistered),
        }
    }

    /// The row a button name `select:N`/`change:N`/`delete:N` means, for the prefix given.
    fn of_button(button: &str, prefix: &str) -> Option<Target> {
        let row = button.strip_prefix(prefix)?.parse().ok()?;
        Some(Target::Row(row))
    }
}

/// How the flow begins: what 【ユーザ情報変更】 sends, parsed ([`Entry::parse_start`]:
/// [`Start::List`]), and the typed starts of the per-flow entry points (a list button or the
/// form of 【セキュリティ用メールアドレス設定】 posted before any flow exists, [`Start::Enter`], as
/// [`Portal::security_email_add_start`](crate::portal::Portal::security_email_add_start) sends it).
///
/// # Example
/// ```
/// use kaigo_seikyu::flow::Entry;
/// use kaigo_seikyu::screen::Form;
/// use kaigo_seikyu::security_emails::{SecurityEmailSetting, Start};
/// let start = SecurityEmailSetting::parse_start(&Form::new("security_emails"))?;
/// assert!(matches!(start, Start::List));
/// assert!(SecurityEmailSetting::parse_start(&Form::new("delete:2")).is_err());
/// # Ok::<(), kaigo_seikyu::error::FlowError>(())
/// ```
#[derive(Debug, Clone)]
pub enum Start {
    /// `セキュリティ用メールアドレス設定` on 【ユーザ情報変更】 (SE-09): the flow begins at the
    /// list.
    List,
    /// `追加`: the flow begins at the empty 【セキュリティ用メールアドレス設定】. Refused with none
    /// registered (SE-05) or five (SE-01).
    Add,
    /// `変更` on a row: the flow begins at 【セキュリティ用メールアドレス設定】 for that address.
    Change(Target),
    /// `選択` on a row (SE-03): the flow begins at the list, the selection made.
    Select(Target),
    /// `削除` on a row (SE-04): the flow begins at the list, the address deleted.
    Delete(Target),
    /// `次へ` on a 【セキュリティ用メールアドレス設定】 drawn outside any flow (by
    /// [`add_form`] or [`change_form`]): the flow begins with the address already entered.
    Enter {
        /// Add it, or change an address into it.
        purpose: Purpose,
        /// 《セキュリティ用メールアドレス》.
        new: EmailAddress,
        /// 《セキュリティ用メールアドレス（確認用）》.
        confirm: EmailAddress,
    },
}

/// `追加` on the list, drawn without starting a flow: the empty 【セキュリティ用メールアドレス設定】.
/// Refused with none registered (SE-05, [`FlowError::NoSecurityEmail`]) or five (SE-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::account::SecurityEmails;
/// use kaigo_seikyu::error::FlowError;
/// use kaigo_seikyu::security_emails::add_form;
/// assert_eq!(add_form(&SecurityEmails::default()), Err(FlowError::NoSecurityEmail));
/// ```
pub fn add_form(list: &SecurityEmails) -> Result<Screen, FlowError> {
    if list.is_empty() {
        return Err(FlowError::NoSecurityEmail);
    }
    if list.len() >= SecurityEmails::MAX {
        return Err(FlowError::SecurityEmailLimit);
    }
    Ok(setting_screen(&Purpose::Add))
}

/// `変更` on a row, drawn without starting a flow: 【セキュリティ用メールアドレス設定】 for changing
/// `old`, which must be registered ([`FlowError::SecurityEmailNotRegistered`]).
///
/// # Example
/// ```
/// use kaigo_seikyu::account::SecurityEmails;
/// use kaigo_seikyu::calendar::utc;
/// use kaigo_seikyu::security_emails::change_form;
/// let mut list = SecurityEmails::default();
/// list.add("a@jp".parse()?, utc("2026-01-10T12:00:00+09:00"))?;
/// assert!(change_form(&list, &"a@jp".parse()?)?.shows("《変更前のセキュリティ用メールアドレス》 a@jp"));
/// assert!(change_form(&list, &"z@jp".parse()?).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn change_form(list: &SecurityEmails, old: &EmailAddress) -> Result<Screen, FlowError> {
    if !list.contains(old) {
        return Err(FlowError::SecurityEmailNotRegistered);
    }
    Ok(setting_screen(&Purpose::Change { old: old.clone() }))
}

impl Flow for SecurityEmailSetting {
    const KIND: FlowKind = FlowKind::SecurityEmails;
    type Input = Input;

    /// The flow runs after login: it answers only to the user ID that started it.
    fn user(&self) -> Option<UserId> {
        Some(*SecurityEmailSetting::user(self))
    }

    fn screen(&self, view: &View<'_>) -> Screen {
        SecurityEmailSetting::screen(self, view.policy)
    }

    /// The buttons of each screen, by name: `add`, `back` and the row buttons `select:N`,
    /// `change:N`, `delete:N` on the list, `next` and `back` on
    /// 【セキュリティ用メールアドレス設定】 and 【ワンタイムパスワード入力】, `send` and `back` on
    /// 【確認コード入力】, `finish` on 【処理終了】.
    fn parse(&self, form: &Form) -> Result<Input, FlowError> {
        use SecurityEmailSetting as S;
        let button = form.button.as_str();
        if let S::Listing(_) = self {
            let row = Target::of_button(button, "select:")
                .map(Input::Select)
                .or_else(|| Target::of_button(button, "change:").map(Input::Change))
                .or_else(|| Target::of_button(button, "delete:").map(Input::Delete));
            return match (button, row) {
                (ADD, _) => Ok(Input::Add),
                (BACK, _) => Ok(Input::Back),
                (_, Some(input)) => Ok(input),
                (_, None) => Err(FlowError::other_button("Listing")),
            };
        }
        Ok(match (self, button) {
            (S::ChoosingAddress(_), NEXT) => Input::EnterAddress {
                new: form.parse(ADDRESS)?,
                confirm: form.parse(CONFIRM_ADDRESS)?,
            },
            (S::AwaitingOtp(_), NEXT) => Input::EnterOtp(form.parse(OTP)?),
            (S::AwaitingCode(_), SEND) => Input::EnterCode(form.parse(CODE)?),
            (S::ChoosingAddress(_) | S::AwaitingOtp(_) | S::AwaitingCode(_), BACK) => Input::Back,
            (S::Done(_), FINISH) => Input::Finish,
            (state, _) => return Err(FlowError::other_button(state.state_name())),
        })
    }

    /// Every step reads the account; a code entry runs under the user ID's hourly guessing
    /// budget (SEC-07). A step that may change the addresses (a code entry adds or changes one,
    /// `削除` removes one) reads the office's accounts record it rewrites (OPS-04).
    fn needs(&self, input: &Input) -> Needs {
        let user = *SecurityEmailSetting::user(self);
        let needs = Needs::none().account(user);
        match (self, input) {
            // The right OTP mails a 確認コード to the new address (SE-06): its SEC-04 budget is
            // read in the same round.
            (SecurityEmailSetting::AwaitingOtp(s), Input::EnterOtp(_)) => needs
                .guesses(Budget::WrongCodes(user))
                .code_mail(s.new.clone()),
            (_, Input::EnterCode(_)) => needs
                .guesses(Budget::WrongCodes(user))
                .office_accounts(user.office()),
            (_, Input::EnterOtp(_)) => needs.guesses(Budget::WrongCodes(user)),
            (_, Input::Delete(_)) => needs.office_accounts(user.office()),
            _ => needs,
        }
    }

    /// [`SecurityEmailSetting::apply`]; `戻る` on the list and `終了` on 【処理終了】 end the flow
    /// at 【ユーザ情報変更】 (SE-09).
    fn step<R: CryptoRng + ?Sized>(
        self,
        input: Input,
        records: &Records,
        _: &FlowId,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<Next<Self>>, PortalError> {
        let account = records
            .account(*SecurityEmailSetting::user(&self))?
            .ok_or(FlowError::NoSuchAccount)?;
        match (&self, &input) {
            (SecurityEmailSetting::Listing(_), Input::Back)
            | (SecurityEmailSetting::Done(_), Input::Finish) => {
                Ok(Step::to(Next::End(user_info_screen())))
            }
            _ => Ok(self.apply(input, &account, cx)?.map(Next::Stay)),
        }
    }
}

impl Entry for SecurityEmailSetting {
    type Start = Start;

    /// The account of the logged-in user.
    fn entry_needs(user: Option<UserId>) -> Needs {
        user.map_or_else(Needs::none, |user| Needs::none().account(user))
    }

    /// 【ユーザ情報変更】 of the logged-in user (SE-09): its `セキュリティ用メールアドレス設定` opens
    /// the list.
    fn entry(user: Option<UserId>, records: &Records, _: &View<'_>) -> Result<Screen, PortalError> {
        let user = user.ok_or(FlowError::NoSuchAccount)?;
        records.account(user)?.ok_or(FlowError::NoSuchAccount)?;
        Ok(user_info_screen())
    }

    /// `security_emails` ([`OPEN_LIST`]), the one button of 【ユーザ情報変更】: the flow begins at
    /// the list.
    fn parse_start(form: &Form) -> Result<Start, FlowError> {
        match form.button.as_str() {
            OPEN_LIST => Ok(Start::List),
            _ => Err(FlowError::other_button("user info")),
        }
    }

    fn begin<R: CryptoRng + ?Sized>(
        user: Option<UserId>,
        start: Start,
        records: &Records,
        _: &FlowId,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<Next<Self>>, PortalError> {
        let user = user.ok_or(FlowError::NoSuchAccount)?;
        let account = records.account(user)?.ok_or(FlowError::NoSuchAccount)?;
        let list = &account.security_emails;
        let shown =
            |step: Step<SecurityEmails>| step.map(|list| Next::Stay(Listing { user, list }.into()));
        Ok(match start {
            Start::List => Step::to(Next::Stay(
                Listing {
                    user,
                    list: list.clone(),
                }
                .into(),
            )),
            Start::Add => {
                add_form(list)?;
                Step::to(Next::Stay(Self::choosing(user, Purpose::Add)))
            }
            Start::Change(target) => {
                let old = target.resolve(list)?;
                change_form(list, &old)?;
                Step::to(Next::Stay(Self::choosing(user, Purpose::Change { old })))
            }
            Start::Select(target) => shown(select(&account, &target.resolve(list)?, cx.now)?),
            Start::Delete(target) => shown(delete(&account, &target.resolve(list)?, cx.now)?),
            Start::Enter {
                purpose,
                new,
                confirm,
            } => Self::choosing(user, purpose)
                .apply(Input::EnterAddress { new, confirm }, &account, cx)?
                .map(Next::Stay),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::utc;

    fn user() -> UserId {
        "KJ131311111111".parse().unwrap()
    }

    fn a(s: &str) -> EmailAddress {
        s.parse().unwrap()
    }

    fn changes() -> [(&'static str, ListChange); 4] {
        [
            (
                "registered",
                ListChange::Registered(a("mailforsecurity-002@jp")),
            ),
            (
                "changed",
                ListChange::Changed {
                    old: a("mailforsecurity-001@jp"),
                    new: a("mailforsecurity-002@jp"),
                },
            ),
            ("deleted", ListChange::Deleted(a("mailforsecurity-002@jp"))),
            (
                "selected",
                ListChange::Selected(a("mailforsecurity-002@jp")),
            ),
        ]
    }

    /// SE-08: the お知らせ of every kind of change, pinned.
    #[test]
    fn se_08_notice_texts() {
        for (name, change) in changes() {
            let n = change.notice(&user());
            insta::assert_snapshot!(
                format!("se_08_notice_{name}"),
                format!("{}\n---\n{}", n.title, n.body)
            );
        }
    }

    /// SE-08: the mail to the other registered addresses on a change or delete, pinned; an add
    /// or a selection mails no one. A change's mail names the old address but not the new one.
    #[test]
    fn se_08_mail_texts() {
        let to = a("mailforsecurity-003@jp");
        for (name, change) in changes() {
            match (&change, change.mail(&to)) {
                (ListChange::Changed { new, .. }, Some(m)) => {
                    assert!(!m.body.contains(new.as_str()));
                    assert!(!m.body.contains("KJ"));
                    insta::assert_snapshot!(
                        format!("se_08_mail_{name}"),
                        format!("{}\n---\n{}", m.subject, m.body)
                    );
                }
                (ListChange::Deleted(_), Some(m)) => {
                    assert_eq!(m.to, to);
                    insta::assert_snapshot!(
                        format!("se_08_mail_{name}"),
                        format!("{}\n---\n{}", m.subject, m.body)
                    );
                }
                (ListChange::Registered(_) | ListChange::Selected(_), None) => {}
                (c, m) => panic!("{c:?} gave {m:?}"),
            }
        }
    }

    /// SE-03, SE-08: selecting the selected address changes nothing and announces nothing;
    /// selecting another one saves, posts, logs.
    #[test]
    fn se_03_select_is_idempotent() {
        let now = utc("2026-01-10T12:00:00+09:00");
        let mut account = Account::new(user(), crate::secret::PasswordHash::from_phc("x"));
        account.security_emails.add(a("a@jp"), now).unwrap();
        account.security_emails.add(a("b@jp"), now).unwrap();
        let same = select(&account, &a("A@JP"), now).unwrap();
        assert!(same.effects.is_empty());
        assert_eq!(same.state, account.security_emails);
        let other = select(&account, &a("b@jp"), now).unwrap();
        assert_eq!(other.state.selected(), Some(&a("b@jp")));
        assert_eq!(other.effects.len(), 3, "save, notice, event; no mail");
        assert_eq!(
            select(&account, &a("z@jp"), now).unwrap_err(),
            FlowError::SecurityEmailNotRegistered
        );
    }
}

//! ログイン情報再発行申請: the login-info reissue application and the federation's review
//! (RI-01 … RI-10, VAL-08; source 1.2.2 (4)).
//!
//! An office that lost its login info and has no usable security email applies with its office
//! number and any notification address; the federation (国保連合会) of the billing prefecture
//! reviews the application and, on approval, posts the letter 「ログイン情報再発行通知書」 with a
//! new temporary password.
//!
//! | state | screen | input | next |
//! | --- | --- | --- | --- |
//! | (none) | 【ログイン情報再発行申請】 | [`ReissueStart::Apply`] | [`ChoosingPrefecture`] or [`AwaitingCode`] |
//! | [`ChoosingPrefecture`] | 【請求先都道府県選択】 | [`ReissueInput::ChoosePrefecture`] | [`AwaitingCode`] |
//! | [`AwaitingCode`] | 【確認コード入力】 | [`ReissueInput::EnterCode`] | [`Confirming`] |
//! | [`Confirming`] | 【送信確認】 | [`ReissueInput::Submit`] | [`Done`] |
//! | [`Done`] | 【処理終了】 | [`ReissueInput::Finish`] | 【ログイン】 (the flow ends) |
//!
//! [`ReissueInput::Back`] from any state but [`Done`] ends the flow and returns to the
//! application screen, as the source's `戻る` says: `再度ログイン情報再発行申請を行ってください`.
//!
//! [`Reissue`] is a [`Flow`] opened from its [`Entry`] screen: a client drives it from screens
//! alone with the driver's generic entry points ([`Portal::begin`] with the application form,
//! then [`Portal::submit`] with each screen's form). The transition is pure: it names the ledger
//! entry, accounts, pending records and month sequences it reads ([`Entry::begin_needs`],
//! [`Flow::needs`]), and `送信` returns the month's sequence, the application and the pending
//! marker as [`Effect::Put`]s, committed with the flow in one compare-and-swap (VAL-08). The
//! driver's wrappers take the fields as text: [`Portal::reissue_start`],
//! [`Portal::reissue_input`], and [`Portal::reissue_submit`], which also returns the management
//! number. From a generic route, the number is [`Done::number`] of the flow's state
//! ([`Portal::reissue_state`] with the route's flow id).
//!
//! The submitted application is a [`ReissueApplication`] record under its
//! [`ManagementNumber`]. The federation reads it with [`Portal::reissue_application`] and decides
//! with [`Portal::reissue_review`], which returns the [`ReissueLetter`] to print on approval: the
//! temporary password exists nowhere else (RI-09).
//!
//! [`Portal::begin`]: crate::portal::Portal::begin
//! [`Portal::submit`]: crate::portal::Portal::submit
//! [`Portal::reissue_start`]: crate::portal::Portal::reissue_start
//! [`Portal::reissue_input`]: crate::portal::Portal::reissue_input
//! [`Portal::reissue_submit`]: crate::portal::Portal::reissue_submit
//! [`Portal::reissue_state`]: crate::portal::Portal::reissue_state
//! [`Portal::reissue_application`]: crate::portal::Portal::reissue_application
//! [`Portal::reissue_review`]: crate::portal::Portal::reissue_review
//!
//! # Example
//! ```
//! use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
//! use kaigo_seikyu::ports::OfficeRecord;
//! use kaigo_seikyu::reissue::{Applicant, ApplicationForm, Decision, Federation, Input, ReviewOutcome};
//! use kaigo_seikyu::values::{EmailAddress, Prefecture};
//!
//! let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
//! host.ledger.insert(OfficeRecord {
//!     number: "1311111111".parse()?,
//!     name: "請求事業所A".into(),
//!     postal_address: "東京都千代田区霞が関1-1-1".into(),
//!     phone: "03-0000-0000".into(),
//!     billing: vec![Prefecture::TOKYO],
//! });
//! let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
//! let mut rng = rand::rng();
//!
//! // The office applies; the confirmation code arrives at the notification address.
//! let form = ApplicationForm {
//!     applicant: Applicant::Office,
//!     office_number: "1311111111",
//!     notify: "jigyousho@jp",
//!     notify_confirm: "jigyousho@jp",
//! };
//! let (id, screen) = portal.reissue_start(&form, &mut rng)?;
//! assert_eq!(screen.title, "確認コード入力");
//! let to: EmailAddress = "jigyousho@jp".parse()?;
//! let mail = host.outbox.last_to(&to).unwrap();
//! let code = mail.body.lines().nth(4).unwrap().to_owned();
//! portal.reissue_input(&id, Input::EnterCode(&code), &mut rng)?;
//! let done = portal.reissue_input(&id, Input::Submit, &mut rng)?;
//! assert!(done.shows("ログイン情報の再発行申請を完了しました。"));
//!
//! // The federation of 東京都 approves and prints the letter.
//! let outcome = portal.reissue_review(
//!     Federation::of(Prefecture::TOKYO),
//!     "U202601000001",
//!     Decision::Approve { clear_security_emails: false },
//!     &mut rng,
//! )?;
//! let ReviewOutcome::Approved(letter) = outcome else { unreachable!() };
//! assert_eq!(letter.user_id.to_string(), "KJ131311111111");
//! assert!(letter.render().contains(letter.temporary_password.reveal()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use chrono::TimeDelta;
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::account::{Account, OfficeAccounts, Temporary};
use crate::calendar::{Instant, YearMonth, deadline_passed, jst};
use crate::challenge::Challenge;
use crate::effect::{Effect, Event, EventKind};
use crate::error::{FlowError, PortalError};
use crate::flow::{Cx, Entry, Flow, Needs, Next, Records, Step, View};
use crate::help::{self, Retry};
use crate::mail;
use crate::policy::Policy;
use crate::ports::OfficeRecord;
use crate::screen::button::{BACK, FINISH, NEXT, SEND};
use crate::screen::field::{CODE, OFFICE, OFFICE_NAME};
use crate::screen::{BILLING, CHOOSE_PREFECTURE, Field, Form, Screen, prefecture_select};
use crate::store::{Budget, FlowId, FlowKind, Key};
use crate::values::{
    ConfirmationCode, EmailAddress, ManagementNumber, OfficeNumber, Prefecture, TemporaryPassword,
    UserId,
};

/// The source's step list of the reissue application.
const STEPS: &[&str] = &[
    "1 パスワード等を紛失した方",
    "2 ログイン情報再発行申請",
    "3 確認コード入力",
    "4 送信確認",
    "5 終了",
];

/// The screen texts, as the source prints them (sentences broken only by the PDF's layout are
/// joined).
const APPLY_INTRO: &str = "ログイン情報の再発行申請を行います。";
const APPLY_ENTER: &str = "事業所番号と、申請状況等を通知するための任意のメールアドレスを入力し、【次へ】ボタンを押してください。";
const MAY_CONTACT: &str = "国保連合会より、通知先メールアドレスや事業所台帳に登録された電話番号等へ、ログイン情報の再発行に関する連絡が行われる場合があります。";
const LETTER_WILL_COME: &str = "国保連合会により申請が承認されると、事業所台帳に登録された住所へユーザIDおよびログイン用仮パスワードが記載された「ログイン情報再発行通知書」が郵送されます。";
const RETURN_ENVELOPE: &str = "なお、国保連合会から返信用封筒の事前送付等を依頼される場合がありますので、国保連合会の案内（ホームページ等）に従って対応してください。";
const OFFICE_ONLY: &str = "※ 介護事業所のログイン情報のみ再発行を申請できます。";
const PROXY_ASK: &str = "代理人のログイン情報を紛失した場合、国保連合会へお問い合わせください。";
const WRONG_ADDRESS: &str = "しばらく待ってもメールが届かない場合、入力されたメールアドレスに誤りがある可能性があります。その場合、【戻る】ボタンを押して、再度ログイン情報再発行申請を行ってください。";
const CAUSES: &str = "また、入力されたメールアドレスに誤りがない場合、以下の原因が考えられます。";
const CONFIRM_CHECK: &str = "内容を確認し、【送信】ボタンを押してください。";
const OFFICE_NUMBER_CAUTION: &str = "※事業所番号にお間違えがないよう、十分ご注意ください。";
const DONE: &str = "ログイン情報の再発行申請を完了しました。";
const RECEIPT_SENT: &str =
    "通知先メールアドレスに「ログイン情報再発行申請受領通知」を送信しました。";
const BUSY: &str = "※ 申請が集中した場合、数週間お待ちいただく場合があります。";
const URGENT: &str = "※ パスワードの漏洩等のセキュリティリスクにより、パスワード変更が至急必要な場合、国保連合会へご相談ください。";

/// Form names of the flow's own fields (UI-01); the shared ones are in [`crate::screen::field`].
/// The confirmation shows the same names read-only.
const NOTIFY_ADDRESS: &str = "notify_address";
const CONFIRM_NOTIFY_ADDRESS: &str = "confirm_notify_address";
/// The characters of an office number (VAL-01).
const OFFICE_DIGITS: usize = 10;

/// The letter's title.
const LETTER_TITLE: &str = "ログイン情報再発行通知書";

/// Who is applying (RI-01). Only an office's own login info can be reissued here; a proxy
/// (代理人) is told to contact the federation ([`FlowError::ProxyNotSupported`]).
///
/// Decision: the source's form has no proxy field, only the note
/// `※ 介護事業所のログイン情報のみ再発行を申請できます。`; a host that lets a proxy say so (a
/// checkbox, or a proxy login page linking here) passes [`Applicant::Proxy`].
///
/// # Example
/// ```
/// use kaigo_seikyu::reissue::Applicant;
/// assert_eq!(Applicant::default(), Applicant::Office);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Applicant {
    /// The office itself (介護事業所).
    #[default]
    Office,
    /// A proxy (代理人): refused.
    Proxy,
}

/// The 【ログイン情報再発行申請】 form as typed (RI-01): every field is raw text, parsed by
/// [`Portal::reissue_start`](crate::portal::Portal::reissue_start) into a [`ReissueStart`] before
/// anything is drawn or stored.
///
/// # Example
/// ```
/// use kaigo_seikyu::reissue::{Applicant, ApplicationForm};
/// let form = ApplicationForm {
///     applicant: Applicant::Office,
///     office_number: "1311111111",
///     notify: "mailforsecurity-001@jp",
///     notify_confirm: "mailforsecurity-001@jp",
/// };
/// assert_eq!(form.office_number, "1311111111");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplicationForm<'a> {
    /// Who is applying.
    pub applicant: Applicant,
    /// 《事業所番号》.
    pub office_number: &'a str,
    /// 《通知先メールアドレス》: any address, registered or not.
    pub notify: &'a str,
    /// 《通知先メールアドレス（確認用）》 (VAL-05).
    pub notify_confirm: &'a str,
}

/// What the user does on a screen of the flow, as typed: parsed by
/// [`Portal::reissue_input`](crate::portal::Portal::reissue_input) into a [`ReissueInput`] before
/// anything is drawn or stored. `Debug` hides the code (SEC-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::reissue::Input;
/// let input = Input::EnterCode(" 0042 ");
/// assert!(matches!(input, Input::EnterCode(_)));
/// assert_eq!(format!("{input:?}"), "EnterCode(***)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// 【請求先都道府県選択】: the chosen 《請求先都道府県》, as its 2-digit code (`13`).
    ChoosePrefecture(&'a str),
    /// 【確認コード入力】: the 《確認コード》 from the mail (T1), then `次へ`.
    EnterCode(&'a str),
    /// 【送信確認】: `送信`.
    Submit,
    /// `戻る`: back to the application form; the flow ends.
    Back,
    /// 【処理終了】: `終了`; the flow ends at 【ログイン】.
    Finish,
}

impl fmt::Debug for Input<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::ChoosePrefecture(code) => f.debug_tuple("ChoosePrefecture").field(code).finish(),
            Input::EnterCode(_) => f.write_str("EnterCode(***)"),
            Input::Submit => f.write_str("Submit"),
            Input::Back => f.write_str("Back"),
            Input::Finish => f.write_str("Finish"),
        }
    }
}

/// What the user does on a screen of the flow, already parsed: the flow's typed input
/// ([`Flow::Input`]). A form posted to the flow becomes one ([`Flow::parse`]), and so does an
/// [`Input`] (`ReissueInput::try_from`). `Debug` hides the code (SEC-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::reissue::{Input, ReissueInput};
/// let input = ReissueInput::try_from(Input::EnterCode(" 0042 "))?;
/// assert_eq!(format!("{input:?}"), "EnterCode(Code<4>(***))");
/// assert!(ReissueInput::try_from(Input::ChoosePrefecture("48")).is_err());
/// # Ok::<(), kaigo_seikyu::error::FlowError>(())
/// ```
#[derive(Debug, Clone)]
pub enum ReissueInput {
    /// 【請求先都道府県選択】 `次へ` with the chosen 《請求先都道府県》 (RI-03).
    ChoosePrefecture(Prefecture),
    /// 【確認コード入力】 `次へ` with the 《確認コード》 (RI-04).
    EnterCode(ConfirmationCode),
    /// 【送信確認】 `送信` (RI-05, RI-06, VAL-08).
    Submit,
    /// `戻る` on any screen but 【処理終了】: the flow ends and the empty application form is
    /// shown again.
    Back,
    /// `終了` on 【処理終了】: the flow ends at 【ログイン】, the host's top page.
    Finish,
}

impl ReissueInput {
    fn name(&self) -> &'static str {
        match self {
            ReissueInput::ChoosePrefecture(_) => "ChoosePrefecture",
            ReissueInput::EnterCode(_) => "EnterCode",
            ReissueInput::Submit => "Submit",
            ReissueInput::Back => "Back",
            ReissueInput::Finish => "Finish",
        }
    }
}

/// Parses what was typed; a malformed prefecture code or confirmation code is a
/// [`FlowError::Value`].
impl TryFrom<Input<'_>> for ReissueInput {
    type Error = FlowError;

    fn try_from(input: Input<'_>) -> Result<Self, FlowError> {
        Ok(match input {
            Input::ChoosePrefecture(code) => ReissueInput::ChoosePrefecture(code.parse()?),
            Input::EnterCode(code) => ReissueInput::EnterCode(code.parse()?),
            Input::Submit => ReissueInput::Submit,
            Input::Back => ReissueInput::Back,
            Input::Finish => ReissueInput::Finish,
        })
    }
}

/// What 【ログイン情報再発行申請】 sends (RI-01), already parsed: the start of the flow
/// ([`Entry::Start`]). A form posted from the screen becomes one ([`Entry::parse_start`]), and so
/// does an [`ApplicationForm`] (`ReissueStart::try_from`).
///
/// # Example
/// ```
/// use kaigo_seikyu::error::FlowError;
/// use kaigo_seikyu::reissue::{Applicant, ApplicationForm, ReissueStart};
/// let form = ApplicationForm {
///     applicant: Applicant::Office,
///     office_number: "1311111111",
///     notify: "jigyousho@jp",
///     notify_confirm: "jigyosho@jp",
/// };
/// assert!(matches!(ReissueStart::try_from(&form)?, ReissueStart::Apply { .. }));
/// let garbled = ApplicationForm { notify_confirm: "?", ..form };
/// assert_eq!(ReissueStart::try_from(&garbled).unwrap_err(), FlowError::ConfirmationMismatch);
/// # Ok::<(), FlowError>(())
/// ```
#[derive(Debug, Clone)]
pub enum ReissueStart {
    /// `次へ` with 《事業所番号》, 《通知先メールアドレス》 and 《通知先メールアドレス（確認用）》.
    Apply {
        /// The office number typed.
        office: OfficeNumber,
        /// The notification address typed.
        notify: EmailAddress,
        /// Its confirmation, typed again (VAL-05).
        confirm: EmailAddress,
    },
    /// A proxy (代理人) applying: refused with [`FlowError::ProxyNotSupported`] (RI-01). The
    /// source's form has no proxy field; see [`Applicant::Proxy`].
    Proxy,
    /// `戻る`: back to 【パスワード等を紛失した方】.
    Back,
}

/// Parses what was typed: a proxy is [`ReissueStart::Proxy`] whatever its fields; a malformed
/// office number or address is a [`FlowError::Value`], and a confirmation that is not an address
/// at all a [`FlowError::ConfirmationMismatch`] (VAL-05).
impl TryFrom<&ApplicationForm<'_>> for ReissueStart {
    type Error = FlowError;

    fn try_from(form: &ApplicationForm<'_>) -> Result<Self, FlowError> {
        if form.applicant == Applicant::Proxy {
            return Ok(ReissueStart::Proxy);
        }
        Ok(ReissueStart::Apply {
            office: form.office_number.parse()?,
            notify: form.notify.parse()?,
            confirm: form
                .notify_confirm
                .parse()
                .map_err(|_| FlowError::ConfirmationMismatch)?,
        })
    }
}

/// What the applicant entered, carried through the flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Particulars {
    office: OfficeNumber,
    /// 事業所名 from the ledger (RI-05).
    office_name: String,
    notify: EmailAddress,
}

/// The persisted reissue flow: one struct per state, each named for what it waits for.
///
/// # Example
/// ```
/// use kaigo_seikyu::reissue::Reissue;
/// let form = Reissue::application_screen();
/// assert_eq!(form.title, "ログイン情報再発行申請");
/// assert!(form.offers("次へ"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reissue {
    /// 【請求先都道府県選択】.
    ChoosingPrefecture(ChoosingPrefecture),
    /// 【確認コード入力】.
    AwaitingCode(AwaitingCode),
    /// 【送信確認】.
    Confirming(Confirming),
    /// 【処理終了】.
    Done(Done),
}

/// Waiting for the billing prefecture (RI-03): the office holds user IDs in more than one, or
/// holds none and its ledger entry lists more than one. Expires with the policy's code lifetime
/// after the form was sent.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
/// use kaigo_seikyu::ports::OfficeRecord;
/// use kaigo_seikyu::reissue::{Applicant, ApplicationForm, Reissue};
/// use kaigo_seikyu::values::Prefecture;
/// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
/// host.ledger.insert(OfficeRecord {
///     number: "1311111111".parse()?,
///     name: "請求事業所A".into(),
///     postal_address: "東京都千代田区".into(),
///     phone: "03-0000-0000".into(),
///     billing: vec![Prefecture::TOKYO, Prefecture::OSAKA],
/// });
/// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
/// let form = ApplicationForm {
///     applicant: Applicant::Office,
///     office_number: "1311111111",
///     notify: "jigyousho@jp",
///     notify_confirm: "jigyousho@jp",
/// };
/// let (id, screen) = portal.reissue_start(&form, &mut rand::rng())?;
/// assert_eq!(screen.title, "請求先都道府県選択");
/// let Reissue::ChoosingPrefecture(state) = portal.reissue_state(&id)? else { unreachable!() };
/// assert_eq!(state.choices(), [Prefecture::TOKYO, Prefecture::OSAKA]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoosingPrefecture {
    particulars: Particulars,
    choices: Vec<Prefecture>,
    started_at: Instant,
}

/// Waiting for the 確認コード mailed (T1) to the notification address (RI-04): valid 30 minutes,
/// voided by 5 wrong entries (as RS-04), with SEC-07's hourly budget per notification address.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
/// use kaigo_seikyu::ports::OfficeRecord;
/// use kaigo_seikyu::reissue::{Applicant, ApplicationForm, Reissue};
/// use kaigo_seikyu::values::Prefecture;
/// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
/// host.ledger.insert(OfficeRecord {
///     number: "1311111111".parse()?,
///     name: "請求事業所A".into(),
///     postal_address: "東京都千代田区".into(),
///     phone: "03-0000-0000".into(),
///     billing: vec![Prefecture::TOKYO],
/// });
/// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
/// let form = ApplicationForm {
///     applicant: Applicant::Office,
///     office_number: "1311111111",
///     notify: "jigyousho@jp",
///     notify_confirm: "jigyousho@jp",
/// };
/// let (id, _) = portal.reissue_start(&form, &mut rand::rng())?;
/// let Reissue::AwaitingCode(state) = portal.reissue_state(&id)? else { unreachable!() };
/// assert_eq!(state.billing(), Prefecture::TOKYO);
/// assert!(!format!("{state:?}").contains(&host.outbox.all()[0].body.lines().nth(4).unwrap()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitingCode {
    particulars: Particulars,
    billing: Prefecture,
    challenge: Challenge<4>,
}

/// Showing 【送信確認】 (RI-05). Only the code check builds this state (its fields are private),
/// so submitting without a verified notification address does not compile. Expires with the
/// policy's code lifetime after the code was verified.
///
/// # Example
/// ```
/// use kaigo_seikyu::reissue::Reissue;
/// // Reached only through `Input::EnterCode` with the right code; see the module example.
/// fn is_confirming(state: &Reissue) -> bool {
///     matches!(state, Reissue::Confirming(_))
/// }
/// # let _ = is_confirming;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirming {
    particulars: Particulars,
    billing: Prefecture,
    verified_at: Instant,
}

/// The application was received (RI-06): 【処理終了】.
///
/// # Example
/// ```
/// use kaigo_seikyu::reissue::Reissue;
/// fn number(state: &Reissue) -> Option<String> {
///     match state {
///         Reissue::Done(done) => Some(done.number().to_string()),
///         _ => None,
///     }
/// }
/// # let _ = number;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    particulars: Particulars,
    billing: Prefecture,
    number: ManagementNumber,
}

crate::flow::states!(Reissue: ChoosingPrefecture, AwaitingCode, Confirming, Done);

/// OPS-07: the confirmation code checked; the start and the verification no later than now
/// (a start in the future would keep the step alive past the code lifetime).
impl crate::validate::Validate for Reissue {
    fn validate(&self, check: &crate::validate::Check<'_>) -> Result<(), crate::validate::Invalid> {
        match self {
            Reissue::AwaitingCode(s) => s.challenge.validate(check),
            Reissue::ChoosingPrefecture(s) => check.started("started_at", s.started_at),
            Reissue::Confirming(s) => check.started("verified_at", s.verified_at),
            Reissue::Done(_) => Ok(()),
        }
    }
}

impl ChoosingPrefecture {
    /// The billing prefectures offered, in code order.
    pub fn choices(&self) -> &[Prefecture] {
        &self.choices
    }

    /// RI-03: the office picks one of the offered prefectures; unless an application for it is
    /// pending (RI-07, read from `records`), the code goes out (RI-04).
    fn choose<R: CryptoRng + ?Sized>(
        self,
        billing: Prefecture,
        records: &Records,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<Reissue>, PortalError> {
        // SEC-06: a stored start too close to the end of time to add a lifetime to has expired.
        if deadline_passed(cx.now, self.started_at, cx.policy.code_lifetime()) {
            return Err(FlowError::FlowExpired.into());
        }
        if !self.choices.contains(&billing) {
            return Err(FlowError::PrefectureNotOffered.into());
        }
        refuse_if_pending(records, self.particulars.office, billing)?;
        Ok(AwaitingCode::send(self.particulars, billing, cx))
    }
}

impl AwaitingCode {
    /// The billing prefecture the application is for.
    pub fn billing(&self) -> Prefecture {
        self.billing
    }

    /// RI-04: draws a confirmation code and mails it (T1) to the notification address.
    fn send<R: CryptoRng + ?Sized>(
        particulars: Particulars,
        billing: Prefecture,
        cx: &mut Cx<'_, R>,
    ) -> Step<Reissue> {
        let (challenge, mail) = Challenge::send(particulars.notify.clone(), cx);
        Step::to(
            AwaitingCode {
                particulars,
                billing,
                challenge,
            }
            .into(),
        )
        .with(mail)
    }

    /// RI-04: the right code in time leads to 【送信確認】; a wrong one is counted (the state
    /// changes and the user is told); an expired one changes nothing.
    fn enter_code<R: CryptoRng + ?Sized>(
        mut self,
        code: &ConfirmationCode,
        cx: &Cx<'_, R>,
    ) -> Result<Step<Reissue>, FlowError> {
        match self.challenge.check(code, cx) {
            Ok(()) => Ok(Step::to(
                Confirming {
                    particulars: self.particulars,
                    billing: self.billing,
                    verified_at: cx.now,
                }
                .into(),
            )),
            Err(e @ (FlowError::WrongCode { .. } | FlowError::CodeExhausted)) => {
                Ok(Step::rejected(self.into(), e))
            }
            Err(e) => Err(e),
        }
    }
}

impl Confirming {
    /// RI-06, RI-07, VAL-08: the application is received under the month's next management
    /// number, unless one for the office and prefecture is pending. The step writes the month's
    /// sequence, the application and the pending marker as [`Effect::Put`]s, so the driver
    /// commits them with the flow in one compare-and-swap on the versions `records` holds: no
    /// number is consumed without its application, and a month's numbers have no gaps. Then the
    /// receipt notice (T3), the receipt mail (T4) and the event.
    fn submit<R: CryptoRng + ?Sized>(
        self,
        records: &Records,
        cx: &Cx<'_, R>,
    ) -> Result<Step<Reissue>, PortalError> {
        let Particulars {
            office,
            office_name,
            notify,
        } = &self.particulars;
        refuse_if_pending(records, *office, self.billing)?;
        let month = YearMonth::of(cx.now);
        if !sequence_months(self.verified_at).contains(&month) {
            // The clock is months away from the code check: long expired (or set far back).
            return Err(FlowError::FlowExpired.into());
        }
        let last: u32 = records.get(&Key::Sequence(month))?.unwrap_or(0);
        let number = last
            .checked_add(1)
            .and_then(|next| ManagementNumber::new(month, next).ok())
            .ok_or(FlowError::SequenceExhausted)?;
        if deadline_passed(cx.now, self.verified_at, cx.policy.code_lifetime()) {
            return Err(FlowError::FlowExpired.into());
        }
        let application = ReissueApplication {
            number,
            office: *office,
            office_name: office_name.clone(),
            notify: notify.clone(),
            billing: self.billing,
            received_at: cx.now,
            status: ApplicationStatus::Pending,
        };
        Ok(Step::to(Reissue::Done(Done {
            particulars: self.particulars.clone(),
            billing: self.billing,
            number,
        }))
        .with(Effect::put(Key::Sequence(month), &number.sequence())?)
        .with(Effect::put(Key::Application(number), &application)?)
        .with(Effect::put(Key::Pending(*office, self.billing), &number)?)
        .with(Effect::put(
            application.queue_key(),
            &QueueEntry::of(&application),
        )?)
        .with(Effect::Notice {
            office: *office,
            notice: mail::reissue_received_notice(&number, office, notify),
        })
        .with(Effect::Mail(mail::reissue_received_mail(
            notify,
            &number,
            office,
            self.billing,
        )))
        .with(Effect::Event(Event {
            at: cx.now,
            kind: EventKind::ReissueApplied {
                number,
                office: *office,
                billing: self.billing,
                notify: notify.clone(),
            },
        })))
    }
}

impl Done {
    /// The management number the application was received under (VAL-08).
    pub fn number(&self) -> ManagementNumber {
        self.number
    }
}

impl Reissue {
    /// 【ログイン情報再発行申請】: the empty form the flow starts from (RI-01).
    ///
    /// # Example
    /// ```
    /// let s = kaigo_seikyu::reissue::Reissue::application_screen();
    /// assert!(s.shows("※ 介護事業所のログイン情報のみ再発行を申請できます。"));
    /// let names: Vec<&str> = s.fields().map(|f| f.name).collect();
    /// assert_eq!(names, ["office", "notify_address", "confirm_notify_address"]);
    /// assert_eq!(s.button_named("次へ"), Some("next"));
    /// ```
    pub fn application_screen() -> Screen {
        Screen::new("ログイン情報再発行申請")
            .steps(STEPS, 1)
            .text("ri.intro", APPLY_INTRO)
            .text("ri.application.lead", APPLY_ENTER)
            .field(
                Field::text(OFFICE, "事業所番号")
                    .required()
                    .max_len(OFFICE_DIGITS),
            )
            .field(Field::email(NOTIFY_ADDRESS, "通知先メールアドレス").required())
            .field(
                Field::email(CONFIRM_NOTIFY_ADDRESS, "通知先メールアドレス（確認用）").required(),
            )
            .text("ri.application.may_contact", format!("※ {MAY_CONTACT}"))
            .text("ri.application.letter", format!("※ {LETTER_WILL_COME}"))
            .text("ri.return_envelope", RETURN_ENVELOPE)
            .text("ri.application.office_only", OFFICE_ONLY)
            .text("ri.proxy", PROXY_ASK)
            .button(BACK, "戻る")
            .button(NEXT, "次へ")
    }

    /// The screen of the current state (RI-03, RI-04, RI-05, RI-06). Never shows a code.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// use kaigo_seikyu::ports::OfficeRecord;
    /// use kaigo_seikyu::reissue::{Applicant, ApplicationForm};
    /// use kaigo_seikyu::values::Prefecture;
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// host.ledger.insert(OfficeRecord {
    ///     number: "1311111111".parse()?,
    ///     name: "請求事業所A".into(),
    ///     postal_address: "東京都千代田区".into(),
    ///     phone: "03-0000-0000".into(),
    ///     billing: vec![Prefecture::TOKYO],
    /// });
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// let form = ApplicationForm {
    ///     applicant: Applicant::Office,
    ///     office_number: "1311111111",
    ///     notify: "jigyousho@jp",
    ///     notify_confirm: "jigyousho@jp",
    /// };
    /// let (id, _) = portal.reissue_start(&form, &mut rand::rng())?;
    /// let screen = portal.reissue_state(&id)?.screen(portal.policy());
    /// assert!(screen.shows("確認コードを jigyousho@jp 宛に送信しました。"));
    /// assert_eq!(screen.field_named("code").map(|f| f.max_len), Some(Some(4)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn screen(&self, policy: &Policy) -> Screen {
        match self {
            Reissue::ChoosingPrefecture(s) => Screen::new("請求先都道府県選択")
                .steps(STEPS, 1)
                .text("ri.intro", APPLY_INTRO)
                .text("ri.prefecture.lead", CHOOSE_PREFECTURE)
                .field(prefecture_select(&s.choices))
                .button(BACK, "戻る")
                .button(NEXT, "次へ"),
            Reissue::AwaitingCode(s) => Screen::new("確認コード入力")
                .steps(STEPS, 2)
                .text("ri.code.sent_to", format!(
                    "入力されたメールアドレスに誤りがないことを確認するため、確認コードを {} 宛に送信しました。メール本文に記載された4桁の数字を半角で入力し、【次へ】ボタンを押してください。",
                    s.particulars.notify
                ))
                .field(Field::code(CODE, "確認コード", 4).required())
                .delivery_notes("確認コード", policy.code_lifetime_minutes)
                .text("ri.code.wrong_address", WRONG_ADDRESS)
                .mail_trouble(CAUSES, help::mail_not_arriving(Retry::Reissue))
                .button(BACK, "戻る")
                .button(NEXT, "次へ"),
            Reissue::Confirming(s) => Screen::new("送信確認")
                .steps(STEPS, 3)
                .text("ri.intro", APPLY_INTRO)
                .text("ri.confirm.lead", CONFIRM_CHECK)
                .field(Field::shown(
                    OFFICE,
                    "事業所番号",
                    format!("{} {OFFICE_NUMBER_CAUTION}", s.particulars.office),
                ))
                .field(Field::shown(OFFICE_NAME, "事業所名", &s.particulars.office_name))
                .field(Field::shown(
                    NOTIFY_ADDRESS,
                    "通知先メールアドレス",
                    &s.particulars.notify,
                ))
                .field(Field::shown(BILLING, "請求先都道府県", s.billing.name()))
                .button(BACK, "戻る")
                .button(SEND, "送信"),
            Reissue::Done(_) => Screen::new("処理終了")
                .steps(STEPS, 4)
                .text("ri.done", DONE)
                .text("ri.done.receipt_sent", RECEIPT_SENT)
                .text("ri.may_contact", MAY_CONTACT)
                .text("ri.done.result_will_come", mail::REVIEW_PENDING)
                .text("ri.done.letter_if_approved", mail::LETTER_IF_APPROVED)
                .text("ri.return_envelope", RETURN_ENVELOPE)
                .text("ri.done.both_take_days", mail::BOTH_TAKE_DAYS)
                .text("ri.done.busy", BUSY)
                .text("ri.done.urgent", URGENT)
                .button(FINISH, "終了"),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Reissue::ChoosingPrefecture(_) => "ChoosingPrefecture",
            Reissue::AwaitingCode(_) => "AwaitingCode",
            Reissue::Confirming(_) => "Confirming",
            Reissue::Done(_) => "Done",
        }
    }

    /// The refusal of an input that does not belong to this state.
    fn refuse(&self, input: &'static str) -> FlowError {
        match self {
            Reissue::Done(_) => FlowError::FlowFinished,
            other => FlowError::UnexpectedInput {
                state: other.name(),
                input,
            },
        }
    }
}

/// 国保連合会: the federation of one prefecture, which reviews the reissue applications billed
/// there (RI-08). The host authenticates the federation's staff and says which one they are.
///
/// # Example
/// ```
/// use kaigo_seikyu::reissue::Federation;
/// use kaigo_seikyu::values::Prefecture;
/// let tokyo = Federation::of(Prefecture::TOKYO);
/// assert_eq!(tokyo.name(), "東京都国民健康保険連合会");
/// assert_eq!(tokyo.prefecture(), Prefecture::TOKYO);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Federation(Prefecture);

impl Federation {
    /// The federation of `prefecture`.
    pub fn of(prefecture: Prefecture) -> Self {
        Federation(prefecture)
    }

    /// Its prefecture.
    pub fn prefecture(self) -> Prefecture {
        self.0
    }

    /// Its name: the prefecture name + `国民健康保険連合会`.
    pub fn name(self) -> String {
        self.0.federation_name()
    }
}

/// A received reissue application, as the store keeps it under its management number.
///
/// # Example
/// ```
/// use kaigo_seikyu::reissue::{ApplicationStatus, ReissueApplication};
/// fn pending(app: &ReissueApplication) -> bool {
///     app.status == ApplicationStatus::Pending
/// }
/// # let _ = pending;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReissueApplication {
    /// 管理番号 (VAL-08).
    pub number: ManagementNumber,
    /// 事業所番号.
    pub office: OfficeNumber,
    /// 事業所名 from the ledger when applied.
    pub office_name: String,
    /// 通知先メールアドレス.
    pub notify: EmailAddress,
    /// 請求先都道府県: its federation reviews.
    pub billing: Prefecture,
    /// When it was received (the JST month is the number's).
    pub received_at: Instant,
    /// Pending, approved or rejected.
    pub status: ApplicationStatus,
}

/// A pending application as its federation's review queue lists it (OPS-03): what the reviewer
/// needs to pick it. The store keeps one under [`Key::Queue`] from the commit that receives the
/// application to the commit that reviews it.
///
/// # Example
/// ```
/// use kaigo_seikyu::reissue::QueueEntry;
/// fn line(e: &QueueEntry) -> String {
///     format!("{} {} {} {} {}", e.number, e.office, e.office_name, e.received_at, e.notify)
/// }
/// # let _ = line;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// 管理番号 (VAL-08).
    pub number: ManagementNumber,
    /// 事業所番号.
    pub office: OfficeNumber,
    /// 事業所名 from the ledger when applied.
    pub office_name: String,
    /// When it was received.
    pub received_at: Instant,
    /// 通知先メールアドレス.
    pub notify: EmailAddress,
    /// 請求先都道府県: the queue it is in.
    pub billing: Prefecture,
}

impl QueueEntry {
    /// The entry of `application`.
    pub fn of(application: &ReissueApplication) -> Self {
        QueueEntry {
            number: application.number,
            office: application.office,
            office_name: application.office_name.clone(),
            received_at: application.received_at,
            notify: application.notify.clone(),
            billing: application.billing,
        }
    }

    /// Where the store keeps it.
    pub fn key(&self) -> Key {
        Key::Queue(self.billing, self.received_at, self.number)
    }
}

/// Where an application stands (RI-07, RI-08).
///
/// # Example
/// ```
/// use kaigo_seikyu::reissue::ApplicationStatus;
/// assert_ne!(ApplicationStatus::Pending, ApplicationStatus::Rejected { at: kaigo_seikyu::calendar::utc("2026-01-12T09:00:00+09:00") });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplicationStatus {
    /// Waiting for the federation's review.
    Pending,
    /// Approved: a temporary password was issued.
    Approved {
        /// When.
        at: Instant,
        /// Whether the reviewer cleared the security emails (RI-09).
        security_emails_cleared: bool,
    },
    /// Rejected.
    Rejected {
        /// When.
        at: Instant,
    },
}

/// The federation's decision on an application (RI-08).
///
/// # Example
/// ```
/// use kaigo_seikyu::reissue::Decision;
/// let d = Decision::Approve { clear_security_emails: true };
/// assert_ne!(d, Decision::Reject);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Approve: a new temporary password (or a new user ID) goes out by letter (RI-09).
    Approve {
        /// Also clear the security emails (identity was verified on paper); the office then
        /// registers one again as a new office, without the grace period (RI-09, FL-04).
        clear_security_emails: bool,
    },
    /// Reject: the office is told to ask the federation (T7, T8).
    Reject,
}

/// What a review produced (RI-08, RI-09).
///
/// # Example
/// ```
/// use kaigo_seikyu::reissue::ReviewOutcome;
/// fn letter_text(outcome: &ReviewOutcome) -> Option<String> {
///     match outcome {
///         ReviewOutcome::Approved(letter) => Some(letter.render()),
///         ReviewOutcome::Rejected => None,
///     }
/// }
/// # let _ = letter_text;
/// ```
#[derive(Debug, Clone)]
pub enum ReviewOutcome {
    /// Approved: the letter for the federation to print and post. Its temporary password exists
    /// nowhere else; it is not stored (only its hash is).
    Approved(Box<ReissueLetter>),
    /// Rejected.
    Rejected,
}

/// The data of the letter 「ログイン情報再発行通知書」 (RI-09): the ledger's postal address and
/// office name, the user ID and the temporary password. The only place the temporary password
/// appears; its `Debug` prints `***` (SEC-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
/// use kaigo_seikyu::ports::OfficeRecord;
/// use kaigo_seikyu::reissue::{Applicant, ApplicationForm, Decision, Federation, Input, ReviewOutcome};
/// use kaigo_seikyu::values::Prefecture;
/// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
/// host.ledger.insert(OfficeRecord {
///     number: "1311111111".parse()?,
///     name: "請求事業所A".into(),
///     postal_address: "東京都千代田区霞が関1-1-1".into(),
///     phone: "03-0000-0000".into(),
///     billing: vec![Prefecture::TOKYO],
/// });
/// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
/// let mut rng = rand::rng();
/// let form = ApplicationForm {
///     applicant: Applicant::Office,
///     office_number: "1311111111",
///     notify: "jigyousho@jp",
///     notify_confirm: "jigyousho@jp",
/// };
/// let (id, _) = portal.reissue_start(&form, &mut rng)?;
/// let code = host.outbox.all()[0].body.lines().nth(4).unwrap().to_owned();
/// portal.reissue_input(&id, Input::EnterCode(&code), &mut rng)?;
/// portal.reissue_input(&id, Input::Submit, &mut rng)?;
/// let tokyo = Federation::of(Prefecture::TOKYO);
/// let approve = Decision::Approve { clear_security_emails: false };
/// let ReviewOutcome::Approved(letter) = portal.reissue_review(tokyo, "U202601000001", approve, &mut rng)?
/// else { unreachable!() };
/// let text = letter.render();
/// assert!(text.starts_with("ログイン情報再発行通知書\n\n東京都千代田区霞が関1-1-1\n請求事業所A 様\n"));
/// assert!(!format!("{letter:?}").contains(letter.temporary_password.reveal()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ReissueLetter {
    /// The application it answers.
    pub number: ManagementNumber,
    /// The federation that approved it and posts the letter.
    pub federation: Federation,
    /// 住所: the postal address in the ledger at approval.
    pub postal_address: String,
    /// 事業所名 in the ledger at approval.
    pub office_name: String,
    /// 事業所番号.
    pub office: OfficeNumber,
    /// ユーザID (new when the office had none in that billing prefecture).
    pub user_id: UserId,
    /// 仮パスワード (VAL-09).
    pub temporary_password: TemporaryPassword,
    /// When the temporary password stops logging in (RI-10).
    pub expires_at: Instant,
}

impl ReissueLetter {
    /// The letter's text, for the federation to print and post. It holds the temporary password:
    /// print it, never log or mail it.
    ///
    /// Decision: the source gives the letter's contents, not its layout. This one prints the
    /// title, the address, the office, the federation, the management number, the user ID, the
    /// temporary password and its expiry (JST), and that it must be changed at the next login.
    pub fn render(&self) -> String {
        let expiry = self.expires_at.with_timezone(&jst());
        [
            LETTER_TITLE.to_owned(),
            format!("{}\n{} 様", self.postal_address, self.office_name),
            self.federation.name(),
            format!(
                "ログイン情報再発行申請（管理番号 {}）が承認されましたので、ログイン情報をお知らせします。",
                self.number
            ),
            format!("[事業所番号]\n{}", self.office),
            format!("[ユーザID]\n{}", self.user_id),
            format!("[仮パスワード]\n{}", self.temporary_password.reveal()),
            format!(
                "[仮パスワードの有効期限]\n{} {}まで",
                // As `format_plain`, without `date_naive`, which panics in the last 9 hours of time.
                expiry.format("%Y年%-m月%-d日"),
                expiry.format("%H:%M")
            ),
            "仮パスワードでログインすると、パスワードの変更が求められます。有効期限を過ぎた仮パスワードではログインできません。その場合、再度ログイン情報再発行申請を行ってください。".to_owned(),
        ]
        .join("\n\n")
    }
}

impl ReissueApplication {
    /// Its entry's key in its federation's review queue (OPS-03).
    pub(crate) fn queue_key(&self) -> Key {
        Key::Queue(self.billing, self.received_at, self.number)
    }

    /// RI-08: only the federation of the billing prefecture, and only once.
    fn check_reviewer(&self, by: Federation) -> Result<(), FlowError> {
        if by.prefecture() != self.billing {
            Err(FlowError::WrongFederation)
        } else if self.status != ApplicationStatus::Pending {
            Err(FlowError::AlreadyReviewed)
        } else {
            Ok(())
        }
    }

    /// What reviewing it needs (RI-08, RI-09): the account of its user ID, its pending marker
    /// (RI-07) and, to approve, its office's ledger entry (the letter's address) and accounts
    /// record. Nothing when `by` may not review it: [`ReissueApplication::decide`] refuses before
    /// reading anything.
    pub(crate) fn review_needs(&self, by: Federation, decision: Decision) -> Needs {
        if self.check_reviewer(by).is_err() {
            return Needs::none();
        }
        let needs = Needs::none()
            .account(UserId::new(self.billing, self.office))
            .record(Key::Pending(self.office, self.billing))
            .record(self.queue_key());
        match decision {
            // Approving saves the account new or with its security emails cleared (RI-09): the
            // office's accounts record is rewritten in the same commit (OPS-04).
            Decision::Approve { .. } => needs.ledger(self.office).office_accounts(self.office),
            Decision::Reject => needs,
        }
    }

    /// RI-08: the application as the federation `by` reads it; refused to any other federation.
    pub(crate) fn shown_to(self, by: Federation) -> Result<Self, FlowError> {
        if by.prefecture() == self.billing {
            Ok(self)
        } else {
            Err(FlowError::WrongFederation)
        }
    }

    /// RI-08, RI-09, RI-10: the federation `by` decides, on the records
    /// [`ReissueApplication::review_needs`] declared. Pure: the reviewed application and the
    /// removal of its pending marker go out as [`Effect::Put`] and [`Effect::Delete`], with the
    /// account, the notices, mails and the event; the step's state is the outcome (the letter on
    /// approval). A refusal changes nothing.
    pub(crate) fn decide<R: CryptoRng + ?Sized>(
        self,
        by: Federation,
        decision: Decision,
        records: &Records,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<ReviewOutcome>, PortalError> {
        self.check_reviewer(by)?;
        let verdict = match decision {
            Decision::Approve {
                clear_security_emails,
            } => Verdict::Approve {
                by,
                ledger: records.ledger().ok_or(FlowError::NotInLedger)?,
                clear_security_emails,
            },
            Decision::Reject => Verdict::Reject,
        };
        let account = records.account(UserId::new(self.billing, self.office))?;
        let pending = Key::Pending(self.office, self.billing);
        let ends_pending = records.get::<ManagementNumber>(&pending)? == Some(self.number);
        let queued = self.queue_key();
        let in_queue = records.get::<QueueEntry>(&queued)?.is_some();
        let (application, effects, outcome) = self.review(verdict, account, cx);
        let mut step = Step::to(outcome);
        step.effects = effects;
        step.effects.push(Effect::put(
            Key::Application(application.number),
            &application,
        )?);
        if ends_pending {
            step.effects.push(Effect::Delete(pending));
        }
        if in_queue {
            step.effects.push(Effect::Delete(queued));
        }
        Ok(step)
    }

    /// RI-08, RI-09, RI-10: the review. On approval the account (created when the office has no
    /// user ID in that prefecture) gets a new temporary password expiring after the policy's
    /// lifetime, its security code cleared and its lockout lifted; the letter is returned.
    fn review<R: CryptoRng + ?Sized>(
        mut self,
        verdict: Verdict<'_>,
        account: Option<Account>,
        cx: &mut Cx<'_, R>,
    ) -> (ReissueApplication, Vec<Effect>, ReviewOutcome) {
        let (number, now) = (self.number, cx.now);
        // RI-08: the outcome's お知らせ to the office and mail to the notification address (T5
        // and T6 on an approval, T7 and T8 on a rejection), then its event.
        let announced = |approved| {
            let (notice, mail) = if approved {
                (
                    mail::reissue_approved_notice(&number),
                    mail::reissue_approved_mail(&self.notify, &number, &self.office, self.billing),
                )
            } else {
                (
                    mail::reissue_rejected_notice(&number),
                    mail::reissue_rejected_mail(&self.notify, &number, &self.office, self.billing),
                )
            };
            [
                Effect::Notice {
                    office: self.office,
                    notice,
                },
                Effect::Mail(mail),
                Effect::Event(Event {
                    at: now,
                    kind: EventKind::ReissueReviewed { number, approved },
                }),
            ]
        };
        let Verdict::Approve {
            by,
            ledger,
            clear_security_emails,
        } = verdict
        else {
            let effects = announced(false).to_vec();
            self.status = ApplicationStatus::Rejected { at: now };
            return (self, effects, ReviewOutcome::Rejected);
        };
        let user_id = UserId::new(self.billing, self.office);
        let temporary_password = TemporaryPassword::generate(cx.rng);
        let hash = cx.hash(temporary_password.reveal().as_bytes());
        // SEC-06: a lifetime that runs past the end of time ends now: the temporary password is
        // expired at once (the reviewer applies again), never a panic or an endless one.
        let expires_at = now
            .checked_add_signed(cx.policy.temporary_password_lifetime())
            .unwrap_or(now);
        let existed = account.is_some();
        let mut account = account.unwrap_or_else(|| Account::new(user_id, hash.clone()));
        account.password = hash;
        account.temporary = Some(Temporary {
            expires_at: Some(expires_at),
        });
        account.security_code = None;
        account.failures = 0;
        account.locked_until = None;
        if clear_security_emails {
            account.security_emails.clear_by_reviewer();
            account.grace_eligible = false;
        }
        let mut effects = vec![Effect::SaveAccount(Box::new(account))];
        if existed {
            effects.push(Effect::RevokeSessions(user_id));
        }
        effects.extend(announced(true));
        self.status = ApplicationStatus::Approved {
            at: now,
            security_emails_cleared: clear_security_emails,
        };
        let letter = ReissueLetter {
            number,
            federation: by,
            postal_address: ledger.postal_address.clone(),
            office_name: ledger.name.clone(),
            office: self.office,
            user_id,
            temporary_password,
            expires_at,
        };
        (self, effects, ReviewOutcome::Approved(Box::new(letter)))
    }
}

/// A decision with what approving needs.
enum Verdict<'a> {
    Approve {
        by: Federation,
        ledger: &'a OfficeRecord,
        clear_security_emails: bool,
    },
    Reject,
}

/// RI-07: refuses while an application of `office` for `billing` is pending. The step declared
/// the pending record, so a submit that writes it commits only if none appeared meanwhile.
fn refuse_if_pending(
    records: &Records,
    office: OfficeNumber,
    billing: Prefecture,
) -> Result<(), PortalError> {
    match records.get::<ManagementNumber>(&Key::Pending(office, billing))? {
        Some(_) => Err(FlowError::ApplicationPending.into()),
        None => Ok(()),
    }
}

/// VAL-08: the months whose sequence a `送信` after a code check at `verified_at` may draw its
/// number from: the JST month of the check, the one after (a submit within the code's lifetime
/// past the month's end) and the one before (a clock set back). The step declares them before it
/// sees the clock.
///
/// Decision: a submit in any other month is refused as expired ([`FlowError::FlowExpired`]): its
/// code check is more than a month old (or the clock went back more than a month), so a
/// confirmation's lifetime is at most a month whatever the policy says. SEC-06: a check stored
/// within a day of the end of time has no month to name (and no deadline): none.
fn sequence_months(verified_at: Instant) -> Vec<YearMonth> {
    if verified_at.checked_add_signed(TimeDelta::days(1)).is_none() {
        return Vec::new();
    }
    let month = YearMonth::of(verified_at);
    let (year, m) = (month.year(), month.month());
    let before = match m {
        1 => year.checked_sub(1).and_then(|y| YearMonth::new(y, 12)),
        _ => YearMonth::new(year, m - 1),
    };
    let after = match m {
        12 => year.checked_add(1).and_then(|y| YearMonth::new(y, 1)),
        _ => YearMonth::new(year, m + 1),
    };
    [before, Some(month), after].into_iter().flatten().collect()
}

impl Flow for Reissue {
    const KIND: FlowKind = FlowKind::Reissue;
    type Input = ReissueInput;

    fn screen(&self, view: &View<'_>) -> Screen {
        Reissue::screen(self, view.policy)
    }

    fn parse(&self, form: &Form) -> Result<ReissueInput, FlowError> {
        Ok(match (self, form.button.as_str()) {
            (Reissue::Done(_), FINISH) => ReissueInput::Finish,
            (Reissue::Done(_), _) => return Err(FlowError::FlowFinished),
            (_, BACK) => ReissueInput::Back,
            (Reissue::ChoosingPrefecture(_), NEXT) => {
                ReissueInput::ChoosePrefecture(form.parse(BILLING)?)
            }
            (Reissue::AwaitingCode(_), NEXT) => ReissueInput::EnterCode(form.parse(CODE)?),
            (Reissue::Confirming(_), SEND) => ReissueInput::Submit,
            (state, _) => return Err(state.refuse("a button of another screen")),
        })
    }

    /// The pending record of the chosen prefecture (RI-07); the notification address's guessing
    /// budget for a code (SEC-07); for `送信`, the pending record and the sequences it may draw a
    /// number from (VAL-08).
    fn needs(&self, input: &ReissueInput) -> Needs {
        match (self, input) {
            (Reissue::ChoosingPrefecture(s), ReissueInput::ChoosePrefecture(billing)) => {
                Needs::none()
                    .record(Key::Pending(s.particulars.office, *billing))
                    .code_mail(s.particulars.notify.clone())
            }
            (Reissue::AwaitingCode(s), ReissueInput::EnterCode(_)) => {
                Needs::none().guesses(Budget::WrongCodesAt(s.particulars.notify.clone()))
            }
            (Reissue::Confirming(s), ReissueInput::Submit) => {
                sequence_months(s.verified_at).into_iter().fold(
                    Needs::none().record(Key::Pending(s.particulars.office, s.billing)),
                    |needs, month| needs.record(Key::Sequence(month)),
                )
            }
            _ => Needs::none(),
        }
    }

    fn step<R: CryptoRng + ?Sized>(
        self,
        input: ReissueInput,
        records: &Records,
        _: &FlowId,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<Next<Reissue>>, PortalError> {
        let step = match (self, input) {
            (Reissue::Done(_), ReissueInput::Finish) => return Ok(Step::to(Next::Login)),
            (state @ Reissue::Done(_), input) => return Err(state.refuse(input.name()).into()),
            (_, ReissueInput::Back) => {
                return Ok(Step::to(Next::End(Reissue::application_screen())));
            }
            (Reissue::ChoosingPrefecture(s), ReissueInput::ChoosePrefecture(billing)) => {
                s.choose(billing, records, cx)?
            }
            (Reissue::AwaitingCode(s), ReissueInput::EnterCode(code)) => s.enter_code(&code, cx)?,
            (Reissue::Confirming(s), ReissueInput::Submit) => s.submit(records, cx)?,
            (state, input) => return Err(state.refuse(input.name()).into()),
        };
        Ok(step.map(Next::Stay))
    }
}

impl Entry for Reissue {
    type Start = ReissueStart;

    fn entry(_: Option<UserId>, _: &Records, _: &View<'_>) -> Result<Screen, PortalError> {
        Ok(Reissue::application_screen())
    }

    fn parse_start(form: &Form) -> Result<ReissueStart, FlowError> {
        match form.button.as_str() {
            BACK => Ok(ReissueStart::Back),
            _ => Ok(ReissueStart::Apply {
                office: form.parse(OFFICE)?,
                notify: form.parse(NOTIFY_ADDRESS)?,
                confirm: form.parse(CONFIRM_NOTIFY_ADDRESS)?,
            }),
        }
    }

    /// The office's ledger entry (RI-02), its accounts record (the user IDs it holds, RI-03,
    /// OPS-04) and every pending record it could have (RI-07), in one round; nothing for a form
    /// that is refused before reading (a proxy, a confirmation that differs).
    fn begin_needs(_: Option<UserId>, start: &ReissueStart) -> Needs {
        match start {
            ReissueStart::Apply {
                office,
                notify,
                confirm,
            } if notify == confirm => {
                let needs = Needs::none().ledger(*office).office_accounts(*office);
                Prefecture::all().fold(needs, |needs, billing| {
                    needs.record(Key::Pending(*office, billing))
                })
            }
            _ => Needs::none(),
        }
    }

    /// RI-01 … RI-04: refuses a proxy (RI-01), an address that differs from its confirmation
    /// (VAL-05) and an office number not in the ledger (RI-02); then either asks for the billing
    /// prefecture (RI-03) or, unless an application for it is pending (RI-07), mails the
    /// confirmation code (T1) at once.
    ///
    /// Decision: the billing prefectures are those the office holds user IDs in; an office with
    /// none uses its ledger entry's `billing` list, or, when that is empty, the prefecture of its
    /// office number.
    fn begin<R: CryptoRng + ?Sized>(
        _: Option<UserId>,
        start: ReissueStart,
        records: &Records,
        _: &FlowId,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<Next<Reissue>>, PortalError> {
        let (office, notify, confirm) = match start {
            ReissueStart::Apply {
                office,
                notify,
                confirm,
            } => (office, notify, confirm),
            ReissueStart::Proxy => return Err(FlowError::ProxyNotSupported.into()),
            ReissueStart::Back => return Ok(Step::to(Next::End(crate::lost::menu_screen()))),
        };
        if confirm != notify {
            return Err(FlowError::ConfirmationMismatch.into());
        }
        let ledger = records.ledger().ok_or(FlowError::NotInLedger)?;
        let particulars = Particulars {
            office,
            office_name: ledger.name.clone(),
            notify,
        };
        // RI-03: the prefectures where the office holds a user ID, from its accounts record
        // (OPS-04); none yet, those it bills in the ledger.
        let mut choices: Vec<Prefecture> = records
            .get::<OfficeAccounts>(&Key::OfficeAccounts(office))?
            .map(|held| held.accounts().iter().map(|a| a.billing).collect())
            .unwrap_or_default();
        if choices.is_empty() {
            choices = ledger.billing.clone();
            choices.sort_unstable();
            choices.dedup();
        }
        let step = match choices[..] {
            [] | [_] => {
                let billing = choices.first().copied().unwrap_or(office.prefecture());
                refuse_if_pending(records, office, billing)?;
                AwaitingCode::send(particulars, billing, cx)
            }
            _ => Step::to(
                ChoosingPrefecture {
                    particulars,
                    choices,
                    started_at: cx.now,
                }
                .into(),
            ),
        };
        Ok(step.map(Next::Stay))
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::utc;
    use crate::flow::Fixture;

    /// RI-04, SEC-01: the persisted flow keeps only the code's keyed digest: neither its JSON nor
    /// its `Debug` holds the mailed code, and every state round-trips through the store's format.
    #[test]
    fn ri_04_sec_01_persisted_states_hold_no_code() {
        let mut fixture = Fixture::new(3);
        let now = utc("2026-01-10T10:00:00+09:00");
        let mut cx = fixture.cx(now);
        let particulars = Particulars {
            office: "1311111111".parse().unwrap(),
            office_name: "請求事業所A".into(),
            notify: "jigyousho@jp".parse().unwrap(),
        };
        let choosing = Reissue::from(ChoosingPrefecture {
            particulars: particulars.clone(),
            choices: vec![Prefecture::TOKYO, Prefecture::OSAKA],
            started_at: now,
        });
        let step = AwaitingCode::send(particulars, Prefecture::TOKYO, &mut cx);
        let [Effect::Mail(mail)] = &step.effects[..] else {
            panic!("one mail")
        };
        let code = mail.body.lines().nth(4).unwrap().to_owned();
        let Reissue::AwaitingCode(awaiting) = step.state.clone() else {
            panic!("awaiting")
        };
        let confirming = awaiting
            .enter_code(&code.parse().unwrap(), &cx)
            .unwrap()
            .state;
        assert!(matches!(confirming, Reissue::Confirming(_)));
        for state in [choosing, step.state, confirming] {
            let json = serde_json::to_string(&state).unwrap();
            assert!(
                !json.contains(&format!("\"{code}\"")) && !format!("{state:?}").contains(&code)
            );
            assert_eq!(serde_json::from_str::<Reissue>(&json).unwrap(), state);
        }
    }
}

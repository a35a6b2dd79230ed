//! Mail and お知らせ templates T1–T8 (SPEC "MAIL — templates", MAIL-01, SEC-01).
//!
//! Every template is rendered byte for byte from the canonical text of the SPEC: lines are
//! joined with `\n`, no line has trailing spaces, and a body has **no** trailing newline. The
//! templates are built from shared pieces so no sentence is written twice:
//!
//! - the greeting `介護電子請求受付システムからのお知らせです。` and the line that follows it;
//! - the blocks `[管理番号]`, `[事業所番号]`, `[申請先連合会]` (the billing prefecture's
//!   federation, [`Prefecture::federation_name`]) and `[通知先メールアドレス]`;
//! - the common footer F (`メール内容に心当たりがない場合…`, `[問い合わせ先]`,
//!   `ヘルプデスク:0570-059-402` with a half-width colon, and the two closing lines);
//! - the URL block U (`[電子請求受付システム URL]` / `https://www.e-seikyuu.jp/`);
//! - the banner B, a line of 20 `★`, around the return-envelope sentence.
//!
//! | id | kind | function |
//! | --- | --- | --- |
//! | T1 | mail | [`confirmation_code_mail`] |
//! | T2 | mail | [`one_time_password_mail`] |
//! | T3 | お知らせ | [`reissue_received_notice`] |
//! | T4 | mail | [`reissue_received_mail`] |
//! | T5 | お知らせ | [`reissue_approved_notice`] |
//! | T6 | mail | [`reissue_approved_mail`] |
//! | T7 | お知らせ | [`reissue_rejected_notice`] |
//! | T8 | mail | [`reissue_rejected_mail`] |
//!
//! MAIL-01: a mail carries only the one code it exists to deliver (T1, T2), and no template can
//! carry a password at all: none of these functions takes one. SEC-01: a [`Mail`]'s `Debug`
//! prints `body: "***"`, never the body.
//!
//! The validity line of T1/T2 states the lifetime it is given: the flows pass
//! [`Policy::code_lifetime_minutes`](crate::policy::Policy::code_lifetime_minutes), whose default
//! gives the source's `30分` (CAL-05).
//!
//! # Example
//! ```
//! use kaigo_seikyu::mail::confirmation_code_mail;
//! use kaigo_seikyu::values::{ConfirmationCode, EmailAddress};
//!
//! let to: EmailAddress = "jigyousho@jp".parse()?;
//! let code: ConfirmationCode = "9999".parse()?;
//! let mail = confirmation_code_mail(&to, &code, 30);
//! assert_eq!(mail.subject, "確認コード発行通知(介護保険)");
//! assert!(mail.body.contains("[確認コード]\n9999\n"));
//! assert!(!format!("{mail:?}").contains("9999"));
//! # Ok::<(), kaigo_seikyu::values::ValueError>(())
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::values::{
    Code, ConfirmationCode, EmailAddress, ManagementNumber, OfficeNumber, OneTimePassword,
    Prefecture,
};

/// A rendered mail, ready for the host's `Mailer`.
///
/// The body may hold a code (T1, T2), so `Debug` prints `to` and `subject` but `body: "***"`
/// (SEC-01). Serialization keeps the body: an outbox must be able to deliver it later.
///
/// # Example
/// ```
/// use kaigo_seikyu::mail::one_time_password_mail;
/// use kaigo_seikyu::values::{EmailAddress, OneTimePassword};
///
/// let to: EmailAddress = "mailforsecurity-001@jp".parse()?;
/// let otp: OneTimePassword = "123456".parse()?;
/// let mail = one_time_password_mail(&to, &otp, 30);
/// assert_eq!(mail.to, to);
/// assert_eq!(
///     format!("{mail:?}"),
///     "Mail { to: EmailAddress(mailforsecurity-001@jp), \
///      subject: \"ワンタイムパスワード発行通知(介護保険)\", body: \"***\" }"
/// );
/// # Ok::<(), kaigo_seikyu::values::ValueError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    /// The recipient.
    pub to: EmailAddress,
    /// The subject line (タイトル).
    pub subject: String,
    /// The body (本文): lines joined with `\n`, no trailing newline.
    pub body: String,
}

impl Mail {
    /// The code this mail delivers (T1's 確認コード or T2's ワンタイムパスワード): the line under its
    /// `[…]` label, as a user reads it off the mail. `None` for any other mail.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::mail::{confirmation_code_mail, reissue_approved_mail};
    /// let to = "jigyousho@jp".parse()?;
    /// assert_eq!(confirmation_code_mail(&to, &"0042".parse()?, 30).code(), Some("0042"));
    /// let number = "U202601000001".parse()?;
    /// let office = "1311111111".parse()?;
    /// let billing = kaigo_seikyu::values::Prefecture::TOKYO;
    /// assert_eq!(reissue_approved_mail(&to, &number, &office, billing).code(), None);
    /// # Ok::<(), kaigo_seikyu::values::ValueError>(())
    /// ```
    pub fn code(&self) -> Option<&str> {
        let labels = [
            format!("[{CONFIRMATION_CODE}]"),
            format!("[{ONE_TIME_PASSWORD}]"),
        ];
        let mut lines = self.body.lines();
        lines.find(|l| labels.iter().any(|label| l == label))?;
        lines.next()
    }
}

impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("body", &"***")
            .finish()
    }
}

/// A rendered お知らせ, posted to the office's notice board. Notices never hold a secret
/// (MAIL-01), so `Debug` shows everything.
///
/// # Example
/// ```
/// use kaigo_seikyu::mail::reissue_approved_notice;
/// use kaigo_seikyu::values::ManagementNumber;
///
/// let number: ManagementNumber = "U202601000001".parse()?;
/// let notice = reissue_approved_notice(&number);
/// assert_eq!(notice.title, "ログイン情報再発行申請結果通知");
/// assert!(notice.body.ends_with("本お知らせはシステムが自動的に送信しております。"));
/// # Ok::<(), kaigo_seikyu::values::ValueError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The title (タイトル).
    pub title: String,
    /// The body (本文): lines joined with `\n`, no trailing newline.
    pub body: String,
}

// ---------------------------------------------------------------------------------------------
// The canonical sentences, each written once.

/// First line of every template.
const GREETING: &str = "介護電子請求受付システムからのお知らせです。";

/// The two terms of T1/T2, and the part of the subject they share.
const CONFIRMATION_CODE: &str = "確認コード";
const ONE_TIME_PASSWORD: &str = "ワンタイムパスワード";
const CODE_SUBJECT_SUFFIX: &str = "発行通知(介護保険)";

/// T1/T2's last line before the footer, the same in both (the source prints it so in T2 too).
const INTERRUPTED: &str =
    "※処理を中断してしまった場合、再度セキュリティ用メールアドレスを設定してください。";

/// Footer F.
const DISCARD: &str = "メール内容に心当たりがない場合、このメールは破棄するようお願いします。";
const INQUIRY_LABEL: &str = "[問い合わせ先]";
const HELPDESK: &str = "ヘルプデスク:0570-059-402";
const AUTO_MAIL: &str = "本メールはシステムが自動的に送信しております。";
const NO_REPLY: &str = "本メールへ返信にてお問い合わせいただいてもご回答できませんので、予めご了承くださいますようお願い申し上げます。";

/// URL block U.
const URL_LABEL: &str = "[電子請求受付システム URL]";
const URL: &str = "https://www.e-seikyuu.jp/";

/// Banner B: 20 `★`.
const BANNER: &str = "★★★★★★★★★★★★★★★★★★★★";

/// Block labels.
const MANAGEMENT_NUMBER_LABEL: &str = "[管理番号]";
const OFFICE_NUMBER_LABEL: &str = "[事業所番号]";
const FEDERATION_LABEL: &str = "[申請先連合会]";
const NOTIFY_ADDRESS_LABEL: &str = "[通知先メールアドレス]";

/// T3–T8.
const RECEIVED_TITLE: &str = "ログイン情報再発行申請受領通知";
const RESULT_TITLE: &str = "ログイン情報再発行申請結果通知";
const RECEIVED: &str = "以下のログイン情報再発行申請を受け付けました。";
const APPROVED: &str = "以下のログイン情報再発行申請が承認されました。";
const REJECTED: &str = "以下のログイン情報再発行申請は承認されませんでした。";
const AUTO_NOTICE: &str = "本お知らせはシステムが自動的に送信しております。";
const NOTICE_UNKNOWN: &str =
    "お知らせ内容に心当たりがない場合、ヘルプデスクへお問い合わせください。";
/// Also on the reissue's 【処理終了】 (RI-06), like [`LETTER_IF_APPROVED`] and [`BOTH_TAKE_DAYS`].
pub(crate) const REVIEW_PENDING: &str = "国保連合会による審査が完了すると、通知先メールアドレスに「ログイン情報再発行申請結果通知」が届きます。";
pub(crate) const LETTER_IF_APPROVED: &str = "また、申請が承認された場合、事業所台帳に登録された住所へユーザIDおよびログイン用仮パスワードが記載された「ログイン情報再発行通知書」が郵送されます。";
const LETTER_ON_ITS_WAY: &str = "事業所台帳に登録されている住所に、ユーザIDおよびログイン用仮パスワードが記載された「ログイン情報再発行通知書」が郵送されますので、しばらくお待ちください。";
const RETURN_ENVELOPE: &str = "なお、国保連合会から返信用封筒の事前送付等を依頼される場合がありますので、国保連合会の案内(ホームページ等)に従って対応してください。";
pub(crate) const BOTH_TAKE_DAYS: &str = "※「ログイン情報再発行申請結果通知」及び「ログイン情報再発行通知書」が届くまで、通常は数日から一週間程度かかります。";
const LETTER_TAKES_DAYS: &str =
    "※「ログイン情報再発行通知書」が届くまで、通常は数日から一週間程度かかります。";
const BUSY: &str = "※申請が集中した場合、数週間お待ちいただく場合があります。";
const ASK_FEDERATION: &str = "詳細については、申請先連合会へお問い合わせください。";

// ---------------------------------------------------------------------------------------------
// The shared pieces.

/// A body under construction: paragraphs separated by exactly one blank line.
struct Body(Vec<String>);

impl Body {
    fn new() -> Self {
        Body(Vec::new())
    }

    /// One paragraph: consecutive lines with no blank line between them.
    fn para(mut self, lines: &[&str]) -> Self {
        self.0.push(lines.join("\n"));
        self
    }

    /// The greeting and the line that says what this is about.
    fn opening(self, second: &str) -> Self {
        self.para(&[GREETING, second])
    }

    /// A `[label]` / value block.
    fn block(self, label: &str, value: &str) -> Self {
        self.para(&[label, value])
    }

    fn management_number(self, number: &ManagementNumber) -> Self {
        self.block(MANAGEMENT_NUMBER_LABEL, &number.to_string())
    }

    /// The 管理番号, 事業所番号 and 申請先連合会 blocks of T4, T6 and T8.
    fn application(
        self,
        number: &ManagementNumber,
        office: &OfficeNumber,
        billing: Prefecture,
    ) -> Self {
        self.management_number(number)
            .block(OFFICE_NUMBER_LABEL, &office.to_string())
            .block(FEDERATION_LABEL, &billing.federation_name())
    }

    /// `[問い合わせ先]` / `ヘルプデスク:0570-059-402`.
    fn inquiry(self) -> Self {
        self.para(&[INQUIRY_LABEL, HELPDESK])
    }

    /// The last two lines of F.
    fn closing(self) -> Self {
        self.para(&[AUTO_MAIL, NO_REPLY])
    }

    /// Footer F.
    fn footer(self) -> Self {
        self.para(&[DISCARD]).inquiry().closing()
    }

    /// URL block U, then the last two lines of F: how T4, T6 and T8 end.
    fn url_and_closing(self) -> Self {
        self.para(&[URL_LABEL, URL]).closing()
    }

    /// The return-envelope sentence between two banners (T4, T6).
    fn envelope_between_banners(self) -> Self {
        self.para(&[BANNER])
            .para(&[RETURN_ENVELOPE])
            .para(&[BANNER])
    }

    fn finish(self) -> String {
        self.0.join("\n\n")
    }
}

/// A お知らせ of our own ([D] texts such as SE-08's) in the templates' frame: the greeting and
/// `about`, the `[label]` / value blocks, the caller's further paragraphs, then T3's closing lines
/// and the inquiry block.
pub(crate) fn framed_notice(
    title: &str,
    about: &str,
    blocks: &[(&str, &str)],
    paragraphs: &[&str],
) -> Notice {
    let body = blocks
        .iter()
        .fold(Body::new().opening(about), |b, (label, value)| {
            b.block(label, value)
        });
    let body = paragraphs
        .iter()
        .fold(body, |b, p| b.para(&[p]))
        .para(&[AUTO_NOTICE, NOTICE_UNKNOWN])
        .inquiry()
        .finish();
    Notice {
        title: title.to_owned(),
        body,
    }
}

/// A mail of our own ([D] texts such as SE-08's) in the templates' frame: the greeting and
/// `about`, the `[label]` / value blocks, the caller's `advice`, then the inquiry block and F's
/// two closing lines.
pub(crate) fn framed_mail(
    to: &EmailAddress,
    subject: &str,
    about: &str,
    blocks: &[(&str, &str)],
    advice: &str,
) -> Mail {
    let body = blocks
        .iter()
        .fold(Body::new().opening(about), |b, (label, value)| {
            b.block(label, value)
        })
        .para(&[advice])
        .inquiry()
        .closing()
        .finish();
    Mail {
        to: to.clone(),
        subject: subject.to_owned(),
        body,
    }
}

/// The mail that delivers an `N`-digit code, valid `lifetime_minutes`: T1 for a 4-digit
/// 確認コード, T2 for a 6-digit ワンタイムパスワード.
pub(crate) fn code_mail<const N: usize>(
    to: &EmailAddress,
    code: &Code<N>,
    lifetime_minutes: u32,
) -> Mail {
    let term = if N == 4 {
        CONFIRMATION_CODE
    } else {
        ONE_TIME_PASSWORD
    };
    let body = Body::new()
        .opening(&format!("電子請求受付システムの{term}が発行されました。"))
        .block(&format!("[{term}]"), code.reveal())
        .para(&[
            &format!("{term}の有効期間は{lifetime_minutes}分です。"),
            &format!("{term}入力画面の操作説明に従い、{term}を入力してください。"),
            INTERRUPTED,
        ])
        .footer()
        .finish();
    Mail {
        to: to.clone(),
        subject: format!("{term}{CODE_SUBJECT_SUFFIX}"),
        body,
    }
}

/// The review's outcome, for T5–T8.
#[derive(Clone, Copy)]
enum Outcome {
    Approved,
    Rejected,
}

impl Outcome {
    fn line(self) -> &'static str {
        match self {
            Outcome::Approved => APPROVED,
            Outcome::Rejected => REJECTED,
        }
    }
}

/// T5 and T7.
fn result_notice(number: &ManagementNumber, outcome: Outcome) -> Notice {
    Notice {
        title: RESULT_TITLE.to_owned(),
        body: Body::new()
            .opening(outcome.line())
            .management_number(number)
            .para(&[AUTO_NOTICE])
            .finish(),
    }
}

/// T6 and T8.
fn result_mail(
    to: &EmailAddress,
    number: &ManagementNumber,
    office: &OfficeNumber,
    billing: Prefecture,
    outcome: Outcome,
) -> Mail {
    let body = Body::new()
        .opening(outcome.line())
        .application(number, office, billing);
    let body = match outcome {
        Outcome::Approved => body
            .para(&[LETTER_ON_ITS_WAY])
            .envelope_between_banners()
            .para(&[LETTER_TAKES_DAYS])
            .para(&[BUSY]),
        Outcome::Rejected => body.para(&[ASK_FEDERATION]),
    };
    Mail {
        to: to.clone(),
        subject: RESULT_TITLE.to_owned(),
        body: body.url_and_closing().finish(),
    }
}

// ---------------------------------------------------------------------------------------------
// The templates.

/// T1 `確認コード発行通知(介護保険)`: delivers a 4-digit 確認コード that proves `to` (FL-05,
/// SE-06, RI-04). The only template that contains a confirmation code (MAIL-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::mail::confirmation_code_mail;
/// use kaigo_seikyu::values::{ConfirmationCode, EmailAddress};
///
/// let to: EmailAddress = "jigyousho@jp".parse()?;
/// let code: ConfirmationCode = "0042".parse()?;
/// let mail = confirmation_code_mail(&to, &code, 30);
/// assert_eq!(mail.subject, "確認コード発行通知(介護保険)");
/// assert!(mail.body.starts_with(
///     "介護電子請求受付システムからのお知らせです。\n\
///      電子請求受付システムの確認コードが発行されました。\n\
///      \n\
///      [確認コード]\n\
///      0042\n\
///      \n\
///      確認コードの有効期間は30分です。\n"
/// ));
/// # Ok::<(), kaigo_seikyu::values::ValueError>(())
/// ```
pub fn confirmation_code_mail(
    to: &EmailAddress,
    code: &ConfirmationCode,
    lifetime_minutes: u32,
) -> Mail {
    code_mail(to, code, lifetime_minutes)
}

/// T2 `ワンタイムパスワード発行通知(介護保険)`: delivers a 6-digit ワンタイムパスワード to a
/// registered security email (SE-06, RS-03). T1 with `確認コード` replaced by
/// `ワンタイムパスワード`; the `※処理を中断…` line is kept as the source prints it (MAIL-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::mail::one_time_password_mail;
/// use kaigo_seikyu::values::{EmailAddress, OneTimePassword};
///
/// let to: EmailAddress = "mailforsecurity-001@jp".parse()?;
/// let otp: OneTimePassword = "999999".parse()?;
/// let mail = one_time_password_mail(&to, &otp, 30);
/// assert_eq!(mail.subject, "ワンタイムパスワード発行通知(介護保険)");
/// assert!(mail.body.contains("[ワンタイムパスワード]\n999999\n"));
/// assert!(!mail.body.contains("確認コード"));
/// # Ok::<(), kaigo_seikyu::values::ValueError>(())
/// ```
pub fn one_time_password_mail(
    to: &EmailAddress,
    otp: &OneTimePassword,
    lifetime_minutes: u32,
) -> Mail {
    code_mail(to, otp, lifetime_minutes)
}

/// T3 お知らせ `ログイン情報再発行申請受領通知`: the reissue application `number` of `office`
/// was received; results go to `notify` (RI-06). Holds no code or password (MAIL-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::mail::reissue_received_notice;
///
/// let notice = reissue_received_notice(
///     &"U202601000001".parse()?,
///     &"1311111111".parse()?,
///     &"jigyousho@jp".parse()?,
/// );
/// assert_eq!(notice.title, "ログイン情報再発行申請受領通知");
/// assert!(notice.body.contains("[通知先メールアドレス]\njigyousho@jp\n"));
/// assert!(notice.body.ends_with("[問い合わせ先]\nヘルプデスク:0570-059-402"));
/// # Ok::<(), kaigo_seikyu::values::ValueError>(())
/// ```
pub fn reissue_received_notice(
    number: &ManagementNumber,
    office: &OfficeNumber,
    notify: &EmailAddress,
) -> Notice {
    Notice {
        title: RECEIVED_TITLE.to_owned(),
        body: Body::new()
            .opening(RECEIVED)
            .management_number(number)
            .block(OFFICE_NUMBER_LABEL, &office.to_string())
            .block(NOTIFY_ADDRESS_LABEL, notify.as_str())
            .para(&[AUTO_NOTICE, NOTICE_UNKNOWN])
            .inquiry()
            .finish(),
    }
}

/// T4 mail `ログイン情報再発行申請受領通知` to the notification address `to`: the application
/// `number` of `office` was received and goes to the federation of `billing` (RI-06). Holds no
/// code or password (MAIL-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::mail::reissue_received_mail;
/// use kaigo_seikyu::values::Prefecture;
///
/// let mail = reissue_received_mail(
///     &"jigyousho@jp".parse()?,
///     &"U202601000001".parse()?,
///     &"1311111111".parse()?,
///     Prefecture::TOKYO,
/// );
/// assert_eq!(mail.subject, "ログイン情報再発行申請受領通知");
/// assert!(mail.body.contains("[申請先連合会]\n東京都国民健康保険連合会\n"));
/// # Ok::<(), kaigo_seikyu::values::ValueError>(())
/// ```
pub fn reissue_received_mail(
    to: &EmailAddress,
    number: &ManagementNumber,
    office: &OfficeNumber,
    billing: Prefecture,
) -> Mail {
    Mail {
        to: to.clone(),
        subject: RECEIVED_TITLE.to_owned(),
        body: Body::new()
            .opening(RECEIVED)
            .application(number, office, billing)
            .para(&[REVIEW_PENDING])
            .para(&[LETTER_IF_APPROVED])
            .envelope_between_banners()
            .para(&[BOTH_TAKE_DAYS])
            .para(&[BUSY])
            .url_and_closing()
            .finish(),
    }
}

/// T5 お知らせ `ログイン情報再発行申請結果通知`: the application `number` was approved (RI-08).
/// Holds no code or password: the temporary password goes on paper only (MAIL-01, RI-09).
///
/// # Example
/// ```
/// use kaigo_seikyu::mail::reissue_approved_notice;
///
/// let notice = reissue_approved_notice(&"U202601000001".parse()?);
/// assert_eq!(
///     notice.body,
///     "介護電子請求受付システムからのお知らせです。\n\
///      以下のログイン情報再発行申請が承認されました。\n\
///      \n\
///      [管理番号]\n\
///      U202601000001\n\
///      \n\
///      本お知らせはシステムが自動的に送信しております。"
/// );
/// # Ok::<(), kaigo_seikyu::values::ValueError>(())
/// ```
pub fn reissue_approved_notice(number: &ManagementNumber) -> Notice {
    result_notice(number, Outcome::Approved)
}

/// T6 mail `ログイン情報再発行申請結果通知` to the notification address `to`: the application
/// was approved and the letter 「ログイン情報再発行通知書」 is on its way (RI-08, RI-09). Holds
/// no code or password (MAIL-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::mail::reissue_approved_mail;
/// use kaigo_seikyu::values::Prefecture;
///
/// let mail = reissue_approved_mail(
///     &"jigyousho@jp".parse()?,
///     &"U202601000001".parse()?,
///     &"1311111111".parse()?,
///     Prefecture::OSAKA,
/// );
/// assert_eq!(mail.subject, "ログイン情報再発行申請結果通知");
/// assert!(mail.body.contains("以下のログイン情報再発行申請が承認されました。"));
/// assert!(mail.body.contains("[申請先連合会]\n大阪府国民健康保険連合会\n"));
/// # Ok::<(), kaigo_seikyu::values::ValueError>(())
/// ```
pub fn reissue_approved_mail(
    to: &EmailAddress,
    number: &ManagementNumber,
    office: &OfficeNumber,
    billing: Prefecture,
) -> Mail {
    result_mail(to, number, office, billing, Outcome::Approved)
}

/// T7 お知らせ `ログイン情報再発行申請結果通知`: the application `number` was not approved
/// (RI-08). T5 with `以下のログイン情報再発行申請は承認されませんでした。` (MAIL-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::mail::reissue_rejected_notice;
///
/// let notice = reissue_rejected_notice(&"U202601000001".parse()?);
/// assert_eq!(notice.title, "ログイン情報再発行申請結果通知");
/// assert!(notice.body.contains("以下のログイン情報再発行申請は承認されませんでした。"));
/// # Ok::<(), kaigo_seikyu::values::ValueError>(())
/// ```
pub fn reissue_rejected_notice(number: &ManagementNumber) -> Notice {
    result_notice(number, Outcome::Rejected)
}

/// T8 mail `ログイン情報再発行申請結果通知` to the notification address `to`: the application
/// was not approved; the office is sent to the federation of `billing` (RI-08). T6 with the
/// rejection line, and `詳細については、申請先連合会へお問い合わせください。` in place of everything
/// about the letter (the letter paragraph, the banners around the return-envelope sentence, and
/// the two `※` lines about how long the letter takes). Holds no code or password (MAIL-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::mail::reissue_rejected_mail;
/// use kaigo_seikyu::values::Prefecture;
///
/// let mail = reissue_rejected_mail(
///     &"jigyousho@jp".parse()?,
///     &"U202601000001".parse()?,
///     &"1311111111".parse()?,
///     Prefecture::TOKYO,
/// );
/// assert!(mail.body.contains("詳細については、申請先連合会へお問い合わせください。"));
/// assert!(!mail.body.contains("★"));
/// # Ok::<(), kaigo_seikyu::values::ValueError>(())
/// ```
pub fn reissue_rejected_mail(
    to: &EmailAddress,
    number: &ManagementNumber,
    office: &OfficeNumber,
    billing: Prefecture,
) -> Mail {
    result_mail(to, number, office, billing, Outcome::Rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to() -> EmailAddress {
        "jigyousho@jp".parse().unwrap()
    }
    fn code() -> ConfirmationCode {
        "9999".parse().unwrap()
    }
    fn otp() -> OneTimePassword {
        "999999".parse().unwrap()
    }
    fn number() -> ManagementNumber {
        "U202601000001".parse().unwrap()
    }
    fn office() -> OfficeNumber {
        "1311111111".parse().unwrap()
    }
    fn tokyo() -> Prefecture {
        Prefecture::from_code(13).unwrap()
    }

    fn t1() -> Mail {
        confirmation_code_mail(&to(), &code(), 30)
    }
    fn t2() -> Mail {
        one_time_password_mail(&to(), &otp(), 30)
    }
    fn t3() -> Notice {
        reissue_received_notice(&number(), &office(), &to())
    }
    fn t4() -> Mail {
        reissue_received_mail(&to(), &number(), &office(), tokyo())
    }
    fn t5() -> Notice {
        reissue_approved_notice(&number())
    }
    fn t6() -> Mail {
        reissue_approved_mail(&to(), &number(), &office(), tokyo())
    }
    fn t7() -> Notice {
        reissue_rejected_notice(&number())
    }
    fn t8() -> Mail {
        reissue_rejected_mail(&to(), &number(), &office(), tokyo())
    }

    fn mails() -> [(&'static str, Mail); 5] {
        [
            ("T1", t1()),
            ("T2", t2()),
            ("T4", t4()),
            ("T6", t6()),
            ("T8", t8()),
        ]
    }
    fn notices() -> [(&'static str, Notice); 3] {
        [("T3", t3()), ("T5", t5()), ("T7", t7())]
    }
    /// Every template as (id, subject or title, body).
    fn all() -> Vec<(&'static str, String, String)> {
        let m = mails().map(|(id, m)| (id, m.subject, m.body));
        let n = notices().map(|(id, n)| (id, n.title, n.body));
        m.into_iter().chain(n).collect()
    }

    fn show_mail(m: &Mail) -> String {
        format!("to: {}\nsubject: {}\n---\n{}", m.to, m.subject, m.body)
    }
    fn show_notice(n: &Notice) -> String {
        format!("title: {}\n---\n{}", n.title, n.body)
    }

    /// T1 (FL-05, MAIL-01): the confirmation-code mail, byte for byte.
    #[test]
    fn mail_t1_confirmation_code_snapshot() {
        insta::assert_snapshot!(show_mail(&t1()));
    }

    /// T2 (SE-06, RS-03, MAIL-01): the one-time-password mail, byte for byte.
    #[test]
    fn mail_t2_one_time_password_snapshot() {
        insta::assert_snapshot!(show_mail(&t2()));
    }

    /// T3 (RI-06, MAIL-01): the receipt お知らせ, byte for byte.
    #[test]
    fn mail_t3_reissue_received_notice_snapshot() {
        insta::assert_snapshot!(show_notice(&t3()));
    }

    /// T4 (RI-06, MAIL-01): the receipt mail, byte for byte.
    #[test]
    fn mail_t4_reissue_received_mail_snapshot() {
        insta::assert_snapshot!(show_mail(&t4()));
    }

    /// T5 (RI-08, MAIL-01): the approval お知らせ, byte for byte.
    #[test]
    fn mail_t5_reissue_approved_notice_snapshot() {
        insta::assert_snapshot!(show_notice(&t5()));
    }

    /// T6 (RI-08, MAIL-01): the approval mail, byte for byte.
    #[test]
    fn mail_t6_reissue_approved_mail_snapshot() {
        insta::assert_snapshot!(show_mail(&t6()));
    }

    /// T7 (RI-08, MAIL-01): the rejection お知らせ, byte for byte.
    #[test]
    fn mail_t7_reissue_rejected_notice_snapshot() {
        insta::assert_snapshot!(show_notice(&t7()));
    }

    /// T8 (RI-08, MAIL-01): the rejection mail, byte for byte.
    #[test]
    fn mail_t8_reissue_rejected_mail_snapshot() {
        insta::assert_snapshot!(show_mail(&t8()));
    }

    /// T1 (FL-05, MAIL-01): the mail goes to the entered address, delivers the code under
    /// `[確認コード]` and says it is valid 30 minutes.
    #[test]
    fn mail_t1_delivers_code_valid_30_minutes() {
        let m = t1();
        assert_eq!(m.to, to());
        assert_eq!(m.subject, "確認コード発行通知(介護保険)");
        let lines: Vec<&str> = m.body.lines().collect();
        assert_eq!(lines[0], "介護電子請求受付システムからのお知らせです。");
        assert_eq!(
            lines[1],
            "電子請求受付システムの確認コードが発行されました。"
        );
        assert_eq!(&lines[3..5], ["[確認コード]", "9999"]);
        assert_eq!(lines[6], "確認コードの有効期間は30分です。");
        assert_eq!(
            lines[7],
            "確認コード入力画面の操作説明に従い、確認コードを入力してください。"
        );
        assert_eq!(lines[8], INTERRUPTED);
        let zero: ConfirmationCode = "0007".parse().unwrap();
        assert!(
            confirmation_code_mail(&to(), &zero, 30)
                .body
                .contains("\n0007\n"),
            "leading zeros kept"
        );
    }

    /// T2 (MAIL-01): `確認コード` becomes `ワンタイムパスワード` in the second line, the label, the
    /// validity line and the instruction line; the `※処理を中断…` line is kept as printed.
    #[test]
    fn mail_t2_replaces_term_in_four_places_keeps_interrupt_line() {
        let (t1, t2) = (t1(), t2());
        assert_eq!(t2.subject, "ワンタイムパスワード発行通知(介護保険)");
        assert!(!t2.body.contains("確認コード"));
        let l1: Vec<&str> = t1.body.lines().collect();
        let l2: Vec<&str> = t2.body.lines().collect();
        assert_eq!(l1.len(), l2.len());
        let changed: Vec<usize> = (0..l1.len()).filter(|&i| l1[i] != l2[i]).collect();
        // 2nd line, label, the code itself, validity line, instruction line.
        assert_eq!(changed, [1, 3, 4, 6, 7]);
        assert_eq!(
            l2[1],
            "電子請求受付システムのワンタイムパスワードが発行されました。"
        );
        assert_eq!(l2[3], "[ワンタイムパスワード]");
        assert_eq!(l2[4], "999999");
        assert_eq!(l2[6], "ワンタイムパスワードの有効期間は30分です。");
        assert_eq!(
            l2[7],
            "ワンタイムパスワード入力画面の操作説明に従い、ワンタイムパスワードを入力してください。"
        );
        for i in changed.into_iter().filter(|&i| i != 4) {
            assert_eq!(l1[i].replace("確認コード", "ワンタイムパスワード"), l2[i]);
        }
        assert_eq!(
            l2[8],
            "※処理を中断してしまった場合、再度セキュリティ用メールアドレスを設定してください。"
        );
    }

    /// MAIL (templates): the banner B is exactly 20 `★`, twice in T4 and T6, never elsewhere.
    #[test]
    fn mail_banner_is_exactly_20_stars() {
        assert_eq!(BANNER.chars().count(), 20);
        assert!(BANNER.chars().all(|c| c == '★'));
        for (id, _, body) in all() {
            let banners: Vec<&str> = body.lines().filter(|l| l.contains('★')).collect();
            let expected = if id == "T4" || id == "T6" { 2 } else { 0 };
            assert_eq!(banners.len(), expected, "{id}");
            assert!(banners.iter().all(|l| *l == "★".repeat(20)), "{id}");
        }
    }

    /// MAIL (templates): `ヘルプデスク:0570-059-402` with a half-width colon where the helpdesk
    /// appears (F and T3), never a full-width colon.
    #[test]
    fn mail_helpdesk_uses_half_width_colon() {
        assert_eq!(HELPDESK, "ヘルプデスク:0570-059-402");
        for (id, _, body) in all() {
            assert!(!body.contains('：'), "{id} has a full-width colon");
            let has = body.lines().any(|l| l == "ヘルプデスク:0570-059-402");
            assert_eq!(has, matches!(id, "T1" | "T2" | "T3"), "{id}");
        }
    }

    /// MAIL (templates): lines joined with `\n`, no trailing (or leading PDF) spaces, no trailing
    /// newline, never two blank lines in a row.
    #[test]
    fn mail_no_trailing_spaces_or_newline() {
        for (id, head, body) in all() {
            for text in [&head, &body] {
                assert!(!text.contains('\r') && !text.contains('\t'), "{id}");
                assert!(!text.ends_with('\n') && !text.starts_with('\n'), "{id}");
                for line in text.split('\n') {
                    assert_eq!(
                        line.trim_end_matches([' ', '\u{3000}']),
                        line,
                        "{id}: {line:?}"
                    );
                    assert_eq!(
                        line.trim_start_matches([' ', '\u{3000}']),
                        line,
                        "{id}: {line:?}"
                    );
                }
            }
            assert!(!body.contains("\n\n\n"), "{id}");
        }
    }

    /// MAIL (templates), VAL-02: T4, T6 and T8 name the billing prefecture's federation as
    /// `{prefecture}国民健康保険連合会`, for every prefecture.
    #[test]
    fn mail_t4_t6_t8_name_billing_federation() {
        for p in Prefecture::all() {
            let block = format!("\n[申請先連合会]\n{}国民健康保険連合会\n", p.name());
            for m in [
                reissue_received_mail(&to(), &number(), &office(), p),
                reissue_approved_mail(&to(), &number(), &office(), p),
                reissue_rejected_mail(&to(), &number(), &office(), p),
            ] {
                assert!(m.body.contains(&block), "{p:?}");
                assert_eq!(m.body.matches("国民健康保険連合会").count(), 1);
            }
        }
        assert!(
            t4().body
                .contains("[申請先連合会]\n東京都国民健康保険連合会\n")
        );
    }

    /// MAIL (templates): T1 and T2 end with the whole footer F; T4, T6 and T8 with U and the last
    /// two lines of F; T3 with its own inquiry lines; T5 and T7 with the notice's auto line.
    #[test]
    fn mail_footers_are_the_shared_pieces() {
        let f = "メール内容に心当たりがない場合、このメールは破棄するようお願いします。\n\n\
                 [問い合わせ先]\nヘルプデスク:0570-059-402\n\n\
                 本メールはシステムが自動的に送信しております。\n\
                 本メールへ返信にてお問い合わせいただいてもご回答できませんので、\
                 予めご了承くださいますようお願い申し上げます。";
        let last_two = f.split("\n\n").last().unwrap();
        let u = "[電子請求受付システム URL]\nhttps://www.e-seikyuu.jp/";
        for m in [t1(), t2()] {
            assert!(m.body.ends_with(&format!("。\n\n{f}")), "{}", m.subject);
        }
        for m in [t4(), t6(), t8()] {
            assert!(m.body.ends_with(&format!("。\n\n{u}\n\n{last_two}")));
            assert!(!m.body.contains("心当たり"));
        }
        assert!(t3().body.ends_with(
            "本お知らせはシステムが自動的に送信しております。\n\
             お知らせ内容に心当たりがない場合、ヘルプデスクへお問い合わせください。\n\n\
             [問い合わせ先]\nヘルプデスク:0570-059-402"
        ));
        for n in [t5(), t7()] {
            assert!(n.body.ends_with(
                "\n\n[管理番号]\nU202601000001\n\n本お知らせはシステムが自動的に送信しております。"
            ));
        }
    }

    /// RI-06, RI-08: T3 shows the notification address; titles and opening lines per template.
    #[test]
    fn mail_t3_to_t8_titles_and_opening_lines() {
        assert!(
            t3().body.contains(
                "\n\n[事業所番号]\n1311111111\n\n[通知先メールアドレス]\njigyousho@jp\n\n"
            )
        );
        for (id, head, body) in all()
            .into_iter()
            .filter(|(id, ..)| *id != "T1" && *id != "T2")
        {
            let (title, second) = match id {
                "T3" | "T4" => (
                    "ログイン情報再発行申請受領通知",
                    "以下のログイン情報再発行申請を受け付けました。",
                ),
                "T5" | "T6" => (
                    "ログイン情報再発行申請結果通知",
                    "以下のログイン情報再発行申請が承認されました。",
                ),
                _ => (
                    "ログイン情報再発行申請結果通知",
                    "以下のログイン情報再発行申請は承認されませんでした。",
                ),
            };
            assert_eq!(head, title, "{id}");
            assert!(body.starts_with(&format!("介護電子請求受付システムからのお知らせです。\n{second}\n\n[管理番号]\nU202601000001\n\n")), "{id}");
        }
    }

    /// T7, T8 (RI-08): a rejection is T5/T6 with the rejection line and, in T8, the referral to
    /// the federation instead of anything about the letter; it never mentions a password.
    #[test]
    fn mail_t7_t8_rejection_promises_no_letter() {
        assert_eq!(
            t7().body,
            t5().body.replace(
                "以下のログイン情報再発行申請が承認されました。",
                "以下のログイン情報再発行申請は承認されませんでした。"
            )
        );
        let t8 = t8().body;
        assert!(t8.contains("\n\n詳細については、申請先連合会へお問い合わせください。\n\n[電子請求受付システム URL]\n"));
        for absent in [
            "通知書",
            "郵送",
            "★",
            "なお、",
            "パスワード",
            "承認されました",
        ] {
            assert!(!t8.contains(absent), "{absent}");
            assert!(!t7().body.contains(absent), "{absent}");
        }
        let t6 = t6().body;
        let head = |b: &str| {
            b.split("\n\n")
                .take(4)
                .skip(1)
                .collect::<Vec<_>>()
                .join("\n\n")
        };
        assert_eq!(
            head(&t6),
            head(&t8),
            "same 管理番号, 事業所番号, 申請先連合会 blocks"
        );
    }

    /// MAIL-01: a code mail depends on its code in exactly one line, which is the code: whatever
    /// the code, every other byte is the same, so no other code can be in it. Checked for all
    /// 10^4 confirmation codes and a spread of one-time passwords including the edges.
    #[test]
    fn mail_01_code_mail_carries_only_its_own_code() {
        let check = |reference: &str, body: &str, code: &str| {
            let r: Vec<&str> = reference.lines().collect();
            let b: Vec<&str> = body.lines().collect();
            assert_eq!(r.len(), b.len());
            for (i, (x, y)) in r.iter().zip(&b).enumerate() {
                if i == 4 {
                    assert_eq!(*y, code);
                } else {
                    assert_eq!(x, y, "line {i} changed with code {code}");
                }
            }
        };
        let reference = t1().body;
        for n in 0..10_000u32 {
            let s = format!("{n:04}");
            let c: ConfirmationCode = s.parse().unwrap();
            check(&reference, &confirmation_code_mail(&to(), &c, 30).body, &s);
        }
        let reference = t2().body;
        for n in (0..1_000_000u32).step_by(997).chain([1, 999_999]) {
            let s = format!("{n:06}");
            let c: OneTimePassword = s.parse().unwrap();
            check(&reference, &one_time_password_mail(&to(), &c, 30).body, &s);
        }
    }

    /// MAIL-01: no template carries a code other than the one it delivers, nor any password.
    /// Taking out the known values (address, URL, helpdesk number, 管理番号, 事業所番号, `ユーザID`, `30分`
    /// and, in T1/T2, the delivered code), no ASCII letter or digit is left. Every password has
    /// a letter and a digit (VAL-06) and every code is digits (VAL-07), so none can hide there.
    #[test]
    fn mail_01_no_other_code_or_password_in_any_template() {
        for (id, head, body) in all() {
            assert!(
                !head.chars().any(|c| c.is_ascii_alphanumeric()),
                "{id}: {head}"
            );
            let mut rest = body.clone();
            let delivered = match id {
                "T1" => Some("\n9999\n"),
                "T2" => Some("\n999999\n"),
                _ => None,
            };
            if let Some(code) = delivered {
                assert_eq!(rest.matches(code).count(), 1, "{id}");
                rest = rest.replacen(code, "\n", 1);
                rest = rest.replacen("30分", "", 1);
            }
            for known in [
                "jigyousho@jp",
                "https://www.e-seikyuu.jp/",
                "[電子請求受付システム URL]",
                "0570-059-402",
                "U202601000001",
                "1311111111",
                "ユーザID",
            ] {
                rest = rest.replace(known, "");
            }
            let stray: String = rest.chars().filter(char::is_ascii_alphanumeric).collect();
            assert_eq!(stray, "", "{id} carries unexpected ASCII letters or digits");
            if delivered.is_none() {
                assert!(
                    !body
                        .lines()
                        .any(|l| matches!(l.len(), 4 | 6) && l.bytes().all(|b| b.is_ascii_digit())),
                    "{id}"
                );
            }
        }
    }

    /// SEC-01: a mail's `Debug` shows the recipient and subject but never the body or its code.
    #[test]
    fn sec_01_mail_debug_hides_body_and_code() {
        for (code, m) in [("9999", t1()), ("999999", t2())] {
            let debug = format!("{m:?}");
            assert!(!debug.contains(code), "{debug}");
            assert!(!debug.contains("お知らせです"), "{debug}");
            assert!(debug.contains("body: \"***\""), "{debug}");
            assert!(
                debug.contains("jigyousho@jp") && debug.contains(&m.subject),
                "{debug}"
            );
            assert!(!format!("{m:#?}").contains(code));
        }
    }

    /// SEC-08: a mail and a notice survive the outbox (serde round trip) unchanged.
    #[test]
    fn mail_and_notice_round_trip_through_serde() {
        let m = t1();
        let back: Mail = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.body, m.body);
        let n = t3();
        let back: Notice = serde_json::from_str(&serde_json::to_string(&n).unwrap()).unwrap();
        assert_eq!(back, n);
    }
}

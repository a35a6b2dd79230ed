//! 介護保険証明書 (FEE-01 … FEE-06, CAL-03, CAL-04, CAL-06; source 1.2.3): the 【証明書】 menu, the
//! issue application `1 証明書発行用パスワード入力 2 送信確認 3 終了` with its fee, the fee-change
//! notice and consent dialog, estimates (見積書) and renewal reminders.
//!
//! # The flow
//!
//! ```text
//! 【証明書】 (the entry) ──ReadPrecautions / Next(Estimate)──▶ the flow begins (Next(Apply) refused)
//! ChoosingAction ──ReadPrecautions──▶ ChoosingAction (発行申請を行う前に read)
//!     │  Next(Estimate) ──▶ ViewingEstimate ──Back──▶ ChoosingAction
//!     │  Next(Apply), precautions read (FEE-04)
//!     ▼
//! EnteringPassword ──EnterPassword──▶ ConfirmingSubmission ──AgreeAndSubmit──┬─ outside the window ─▶ Done
//!                  ◀──────Back─────── (fee and notice of now)                │
//!                                                                            └─ in the window ─▶ ConfirmingOldFee
//! ConfirmingOldFee ──DialogOk──▶ Done          ConfirmingOldFee ──DialogCancel──▶ ConfirmingSubmission
//! Done ──Finish──▶ the flow ends at 【証明書】
//! ```
//!
//! [`CertificateApplication`] is the persisted state enum; it implements [`Flow`] (every button
//! of its screens is a form the flow parses, see the impl) and [`Entry`]: 【証明書】 is the entry
//! screen opened from the menu after login, drawn from the records (the office's 事業所台帳 entry
//! for its name, its certificates for the FEE-05 messages), and [`ChoosingAction`] is the first
//! state, drawing the same screen. The transition is pure: a submission's certificate record goes
//! out as an [`Effect::Put`] of the office's certificates, committed with the state.
//!
//! - **FEE-01**: the fee charged is [`Policy::fee_at`] of the instant the application is
//!   *submitted* (the `利用規約に同意して送信` press outside the window, the `OK` press in the
//!   dialog), whatever an earlier screen said.
//! - **FEE-02, CAL-03**: within the notice window, 【証明書】 and 【送信確認】 (the manual's
//!   【送信確認(証明書)】) show the two sentences of [`FeeNotice`]; outside it neither does.
//!   Screens are drawn at the request's `now`.
//! - **FEE-03**: within the window `利用規約に同意して送信` opens the dialog
//!   ([`ConfirmingOldFee`]); only `OK` submits, `キャンセル` returns to 【送信確認】 with
//!   nothing submitted. Outside the window there is no dialog.
//! - Decision: `OK` pressed once the fee has changed (from 2026-04-01T00:00+09:00) submits at the
//!   fee of that instant (7,800円, FEE-01) and records no consent: the old-fee consent no longer
//!   applies, and outside the window a submission needs none. The done screen states the fee
//!   charged.
//! - **FEE-04**: `証明書の発行申請をする` is refused with `確認せずに証明書の発行申請は行えません。`
//!   until `発行申請を行う前に ?` has been opened; the password step holds the proof, which only
//!   [`ChoosingAction`] makes (so applying straight from the entry screen is refused too).
//! - `証明書発行用パスワード` (the password that will protect the certificate file) obeys the login
//!   password policy (VAL-06) and must equal its confirmation (VAL-05). It is a secret (SEC-01):
//!   only its argon2id hash is kept (in the flow and in the [`Certificate`] record, so a later
//!   download step can check it); it never appears in a screen, an event or `Debug`.
//! - A submitted application records a [`Certificate`] under
//!   [`Key::Certificates`] in the same commit as the flow (an [`Effect::Put`]). The
//!   X.509 issuing itself is out of scope: the host's CA does it; this crate decides the fee and
//!   keeps the record (issue instant = submit instant).
//! - **FEE-05**: [`Certificates::due_for_renewal`] is a pure function of the records and `now`;
//!   [`Portal::certificate_reminders`](crate::portal::Portal::certificate_reminders) posts the due ones' お知らせ ([`renewal_notice`]) once,
//!   marking them in the same commit. 【証明書】 shows a message while a certificate is in its
//!   renewal period.
//! - **FEE-06**: an [`Estimate`] states the fee of the day it is made and, within the window, the
//!   notice.
//!
//! Every date and amount in these texts comes from the [`Policy`] (CAL-05), printed as CAL-06 says:
//! `2026年4月1日`, `13,200円`.
//!
//! # Example
//! ```
//! use kaigo_seikyu::calendar::utc;
//! use kaigo_seikyu::certificate::{CertificateInput, MenuChoice};
//! use kaigo_seikyu::memory::Embedded;
//! use kaigo_seikyu::policy::Policy;
//! use kaigo_seikyu::ports::OfficeRecord;
//! use kaigo_seikyu::secret::CodeKey;
//! use kaigo_seikyu::values::{Prefecture, UserId, Yen};
//! use rand::SeedableRng;
//!
//! let host = Embedded::new(utc("2026-02-10T10:00:00+09:00"));
//! let user: UserId = "KJ131311111111".parse()?;
//! host.ledger.insert(OfficeRecord {
//!     number: user.office(),
//!     name: "請求事業所 A".into(),
//!     postal_address: "東京都千代田区".into(),
//!     phone: "03-0000-0000".into(),
//!     billing: vec![Prefecture::TOKYO],
//! });
//! let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([0; 32]));
//! let mut rng = rand::rngs::StdRng::seed_from_u64(1);
//!
//! let (id, menu) = portal.certificate_start(&user, &mut rng)?;
//! assert!(menu.shows("※2026年4月1日より、証明書発行手数料が13,200円から7,800円に変更されます。"));
//! portal.certificate_input(&user, &id, CertificateInput::ReadPrecautions, &mut rng)?;
//! portal.certificate_input(&user, &id, CertificateInput::Next(MenuChoice::Apply), &mut rng)?;
//! let confirm = portal.certificate_password(&user, &id, "Hakko2026!", "Hakko2026!", &mut rng)?;
//! assert_eq!(confirm.field_named("fee").and_then(|f| f.value.as_deref()), Some("13,200円"));
//! let dialog = portal.certificate_input(&user, &id, CertificateInput::AgreeAndSubmit, &mut rng)?;
//! assert_eq!(dialog.kind, kaigo_seikyu::screen::ScreenKind::Dialog);
//! assert!(dialog.offers("OK") && dialog.offers("キャンセル"));
//! let done = portal.certificate_input(&user, &id, CertificateInput::DialogOk, &mut rng)?;
//! assert_eq!(done.title, "処理終了");
//! let certificates = portal.certificates(&user.office())?;
//! assert_eq!(certificates.iter().next().map(|c| c.fee), Some(Yen(13_200)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use chrono::{Datelike, Days, Months, NaiveDate};
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};

use crate::calendar::{Instant, date_of, format_plain, start_of};
use crate::effect::{Effect, Event, EventKind};
use crate::error::{FlowError, PortalError};
use crate::flow::{Cx, Entry, Flow, Needs, Next, Records, Step, View};
use crate::help;
use crate::mail::{self, Notice};
use crate::policy::{FeeSchedule, Policy};
use crate::screen::button::{BACK, CANCEL, FINISH, NEXT, OK};
use crate::screen::field::{CONFIRM_PASSWORD, OFFICE, OFFICE_NAME, PASSWORD};
use crate::screen::{Choice, Field, Form, FormError, Screen, menu_options};
use crate::secret::PasswordHash;
use crate::store::{FlowId, FlowKind, Key, StoreError};
use crate::values::{OfficeNumber, Password, PasswordRules, UserId, Yen};

// ---------------------------------------------------------------------------------------------
// The texts (source 1.2.3; [D] where marked).

/// The step list of 【証明書】 and the estimate.
const MENU_STEPS: &[&str] = &["1 証明書"];
/// The step list of the issue application.
const ISSUE_STEPS: &[&str] = &["1 証明書発行用パスワード入力", "2 送信確認", "3 終了"];

const MENU_TITLE: &str = "証明書";
const MENU_LEAD: &str = "処理を選択し、【次へ】ボタンを押してください。";
const MENU_PRECAUTIONS: &str =
    "※「？」ボタンより、「発行申請を行う前に」の内容を必ず確認の上、発行申請を行ってください。";
const MENU_PRECAUTIONS_REQUIRED: &str = "確認せずに証明書の発行申請は行えません。";
const PRECAUTIONS_BUTTON: &str = "発行申請を行う前に ?";

/// [D] The password step (the source shows no picture of it).
const PASSWORD_TITLE: &str = "証明書発行用パスワード入力";
const PASSWORD_LEAD: &str = "証明書発行用パスワードを入力し、【次へ】ボタンを押してください。";
const PASSWORD_LABEL: &str = "証明書発行用パスワード";
const PASSWORD_CONFIRM_LABEL: &str = "証明書発行用パスワード（確認用）";

/// 【送信確認】: the screen's title as the source's picture prints it (the manual's text calls it
/// 【送信確認(証明書)】).
const CONFIRM_TITLE: &str = "送信確認";
const CONFIRM_LEAD: [&str; 2] = [
    "証明書の発行申請処理を行います。",
    "内容を確認し、【利用規約に同意して送信】ボタンを押してください。",
];
const OFFICE_NAME_LABEL: &str = "事業所名";
const FEE_LABEL: &str = "発行手数料";
const IMPORTANT: &str = "重要なお知らせ";
/// The terms block of 【送信確認】, with the message id of each line.
const TERMS: [(&str, &str); 4] = [
    (
        "fee.terms.title",
        "電子請求受付システム 認証サービス利用規約",
    ),
    (
        "fee.terms.lead",
        "電子証明書の発行申請を行うためには、下記の利用規約に同意する必要があります。",
    ),
    (
        "fee.terms.agree",
        "内容を確認の上、【利用規約に同意して送信】ボタンを押してください。",
    ),
    (
        "fee.terms.save",
        "利用規約を保存する場合、【利用規約をダウンロード】ボタンを押してください。",
    ),
];
const DOWNLOAD_TERMS_LABEL: &str = "利用規約をダウンロード";
const AGREE_AND_SEND_LABEL: &str = "利用規約に同意して送信";

/// [D] The done screen.
const DONE_TITLE: &str = "処理終了";
const DONE_LEAD: &str = "証明書の発行申請を受け付けました。";

/// [D] The estimate.
const ESTIMATE_TITLE: &str = "見積書";
const ESTIMATE_LEAD: &str = "証明書発行手数料の見積書を作成しました。";
const OFFICE_NUMBER_LABEL: &str = "事業所番号";
const MADE_ON_LABEL: &str = "作成日";

/// Form names (UI-01): the fields of the flow's screens (the read-only ones too) and the buttons
/// of its own; the shared fields and buttons are in [`crate::screen::field`] and
/// [`crate::screen::button`].
const CHOICE: &str = "choice";
const FEE: &str = "fee";
const MADE_ON: &str = "made_on";
/// `発行申請を行う前に ?` (FEE-04).
const PRECAUTIONS: &str = "precautions";
/// `利用規約をダウンロード`.
const DOWNLOAD_TERMS: &str = "download_terms";
/// `利用規約に同意して送信` (FEE-03).
const AGREE_AND_SEND: &str = "agree_and_send";

/// [D] FEE-05: the renewal お知らせ and the message on 【証明書】.
const RENEWAL_TITLE: &str = "介護保険証明書更新のお知らせ";
const RENEWAL_APPROACHING: &str = "介護保険証明書の有効終了年月日が近づいています。";
/// The request both the お知らせ and the message end with.
const RENEWAL_REQUEST: &str = "証明書の更新申請（発行申請）を行ってください。";

// ---------------------------------------------------------------------------------------------
// The fee notice (FEE-02, FEE-03, CAL-03, CAL-06).

/// The fee-change notice of a [`FeeSchedule`]: the two sentences of FEE-02 and the dialog question
/// of FEE-03, built from the schedule's data (CAL-05) and printed as CAL-06 says.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, certificate::FeeNotice, policy::Policy};
/// let policy = Policy::default();
/// assert!(FeeNotice::at(&policy, utc("2025-12-31T23:59:59+09:00")).is_none());
/// let notice = FeeNotice::at(&policy, utc("2026-01-01T00:00:00+09:00")).unwrap();
/// assert_eq!(notice.announcement(), "2026年4月1日より、証明書発行手数料が13,200円から7,800円に変更されます。");
/// assert_eq!(notice.application(), "2026年4月1日以降に発行申請した証明書から、変更後の手数料（7,800円）が適用されます。");
/// assert_eq!(notice.question(), "変更前の手数料（13,200円）で発行申請します。よろしいですか？");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeNotice(FeeSchedule);

impl FeeNotice {
    /// The notice of `schedule`, whenever it is shown.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{certificate::FeeNotice, policy::Policy};
    /// let notice = FeeNotice::new(Policy::default().fee);
    /// assert_eq!(notice.before().to_string(), "13,200円");
    /// ```
    pub fn new(schedule: FeeSchedule) -> Self {
        FeeNotice(schedule)
    }

    /// The notice shown at `now`: the policy's schedule within the notice window (CAL-03), else
    /// `None`.
    pub fn at(policy: &Policy, now: Instant) -> Option<Self> {
        policy
            .in_fee_notice_window(now)
            .then_some(FeeNotice(policy.fee))
    }

    /// The fee before the change, the one the dialog asks consent to.
    pub fn before(&self) -> Yen {
        self.0.before
    }

    /// `2026年4月1日より、証明書発行手数料が13,200円から7,800円に変更されます。`
    pub fn announcement(&self) -> String {
        let FeeSchedule {
            before,
            change_day,
            after,
        } = self.0;
        format!(
            "{}より、証明書発行手数料が{before}から{after}に変更されます。",
            format_plain(change_day)
        )
    }

    /// `2026年4月1日以降に発行申請した証明書から、変更後の手数料（7,800円）が適用されます。`
    pub fn application(&self) -> String {
        format!(
            "{}以降に発行申請した証明書から、変更後の手数料（{}）が適用されます。",
            format_plain(self.0.change_day),
            self.0.after
        )
    }

    /// `変更前の手数料（13,200円）で発行申請します。よろしいですか？`
    pub fn question(&self) -> String {
        format!(
            "変更前の手数料（{}）で発行申請します。よろしいですか？",
            self.0.before
        )
    }

    /// The two sentences as 【証明書】 and an estimate show them: the first with `※`.
    fn marked_lines(&self) -> [String; 2] {
        [format!("※{}", self.announcement()), self.application()]
    }

    /// The two sentences under `screen` as 【証明書】 and an estimate show them.
    fn marked_texts(&self, screen: Screen) -> Screen {
        let [announcement, application] = self.marked_lines();
        screen
            .text("fee.notice.1.marked", announcement)
            .text("fee.notice.2", application)
    }
}

// ---------------------------------------------------------------------------------------------
// Certificates (FEE-05).

/// The last day (有効終了年月日) of a certificate issued on the JST date `issued`, valid `years`
/// years.
///
/// Decision: the issue day counts as the first day, so the certificate is valid through the day
/// before the same date `years` later (2025-12-20 → 2028-12-19); when that date does not exist
/// (29 February), through the last day of that month (民法 143 条 2 項).
///
/// # Example
/// ```
/// use chrono::NaiveDate;
/// use kaigo_seikyu::certificate::end_date;
/// let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
/// assert_eq!(end_date(d(2025, 12, 20), 3), d(2028, 12, 19));
/// assert_eq!(end_date(d(2028, 2, 29), 3), d(2031, 2, 28));
/// assert_eq!(end_date(d(2028, 3, 1), 3), d(2031, 2, 28));
/// ```
pub fn end_date(issued: NaiveDate, years: u32) -> NaiveDate {
    match issued.checked_add_months(Months::new(years.saturating_mul(12))) {
        Some(same_day) if same_day.day() == issued.day() => {
            same_day.pred_opt().unwrap_or(NaiveDate::MIN)
        }
        Some(end_of_month) => end_of_month,
        None => NaiveDate::MAX,
    }
}

/// One certificate of an office, as the store keeps it.
///
/// The X.509 certificate itself is issued by the host's CA (out of scope); this is the record
/// the fee and the renewal reminders need.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, certificate::Certificates, policy::Policy, values::Yen};
/// let policy = Policy::default();
/// let mut certs = Certificates::default();
/// let end = chrono::NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
/// let cert = certs.import(utc("2023-04-01T10:00:00+09:00"), end, Yen(13_200));
/// assert_eq!(cert.serial, 1);
/// assert_eq!(cert.renewal_from(&policy).to_string(), "2025-12-31");
/// assert!(format!("{cert:?}").contains("reminded: None"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Its number among the office's certificates, from 1.
    pub serial: u32,
    /// When it was applied for (submitted) and, for this crate, issued.
    pub applied_at: Instant,
    /// 有効終了年月日: the last JST day it is valid.
    pub end_date: NaiveDate,
    /// The fee charged (FEE-01).
    pub fee: Yen,
    /// The argon2id hash of its 証明書発行用パスワード; `None` for an imported certificate.
    pub password: Option<PasswordHash>,
    /// When its renewal reminder was posted (FEE-05: once).
    pub reminded: Option<Instant>,
}

impl Certificate {
    /// The first JST day of its renewal period: `renewal_notice_days` (90) before the end date.
    pub fn renewal_from(&self, policy: &Policy) -> NaiveDate {
        self.end_date
            .checked_sub_days(Days::new(u64::from(policy.renewal_notice_days)))
            .unwrap_or(NaiveDate::MIN)
    }
}

/// The certificates of one office (the record at
/// [`Key::Certificates`]), oldest first.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, certificate::Certificates, policy::Policy, values::Yen};
/// let policy = Policy::default();
/// let mut certs = Certificates::default();
/// let end = chrono::NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
/// certs.import(utc("2023-04-01T10:00:00+09:00"), end, Yen(13_200));
/// assert!(certs.due_for_renewal(utc("2025-12-30T23:59:59+09:00"), &policy).is_empty());
/// assert_eq!(certs.due_for_renewal(utc("2025-12-31T00:00:00+09:00"), &policy).len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Certificates {
    list: Vec<Certificate>,
}

impl Certificates {
    /// The certificates, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Certificate> {
        self.list.iter()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Records a certificate issued before this crate kept the records (migration), valid through
    /// `end_date`. Returns the record.
    pub fn import(&mut self, issued_at: Instant, end_date: NaiveDate, fee: Yen) -> Certificate {
        self.push(issued_at, end_date, fee, None)
    }

    /// Records a certificate applied for at `now` (FEE-01: at the fee of `now`).
    fn issue(
        &mut self,
        now: Instant,
        fee: Yen,
        password: PasswordHash,
        policy: &Policy,
    ) -> Certificate {
        let end = end_date(date_of(now), policy.certificate_validity_years);
        self.push(now, end, fee, Some(password))
    }

    fn push(
        &mut self,
        applied_at: Instant,
        end_date: NaiveDate,
        fee: Yen,
        password: Option<PasswordHash>,
    ) -> Certificate {
        let serial = self
            .list
            .iter()
            .map(|c| c.serial)
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        let cert = Certificate {
            serial,
            applied_at,
            end_date,
            fee,
            password,
            reminded: None,
        };
        self.list.push(cert.clone());
        cert
    }

    /// FEE-05: the certificates in their renewal period at `now`: from 90 days before the end date
    /// (inclusive) through the end date, JST dates, and not yet renewed.
    ///
    /// Decisions: a certificate counts as renewed once the office has applied for another one on
    /// or after the first day of its renewal period; a certificate applied for earlier may be a
    /// second one in use, so it does not silence the reminder (an early renewal gets one reminder
    /// too many rather than a certificate none). An expired certificate is not in its renewal
    /// period (there is nothing left to renew).
    pub fn in_renewal_period(&self, now: Instant, policy: &Policy) -> Vec<&Certificate> {
        let today = date_of(now);
        self.list
            .iter()
            .filter(|c| c.renewal_from(policy) <= today && today <= c.end_date)
            .filter(|c| {
                let from = start_of(c.renewal_from(policy));
                !self
                    .list
                    .iter()
                    .any(|other| other.serial != c.serial && other.applied_at >= from)
            })
            .collect()
    }

    /// FEE-05: the certificates whose renewal reminder is due at `now`: in their renewal period
    /// and not yet reminded (once per certificate).
    pub fn due_for_renewal(&self, now: Instant, policy: &Policy) -> Vec<&Certificate> {
        self.in_renewal_period(now, policy)
            .into_iter()
            .filter(|c| c.reminded.is_none())
            .collect()
    }

    /// FEE-05: marks every due certificate as reminded at `now` and returns them with the effects
    /// to post: a [`renewal_notice`] to `office` and a `RenewalReminded` event each.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, certificate::Certificates, policy::Policy, values::Yen};
    /// let policy = Policy::default();
    /// let mut certs = Certificates::default();
    /// let end = chrono::NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
    /// certs.import(utc("2023-04-01T10:00:00+09:00"), end, Yen(13_200));
    /// let office = "1311111111".parse().unwrap();
    /// let now = utc("2026-01-05T09:00:00+09:00");
    /// let (reminded, effects) = certs.remind(office, now, &policy);
    /// assert_eq!((reminded.len(), effects.len()), (1, 2));
    /// assert!(certs.remind(office, now, &policy).0.is_empty());
    /// ```
    pub fn remind(
        &mut self,
        office: OfficeNumber,
        now: Instant,
        policy: &Policy,
    ) -> (Vec<Certificate>, Vec<Effect>) {
        let due: Vec<u32> = self
            .due_for_renewal(now, policy)
            .iter()
            .map(|c| c.serial)
            .collect();
        let fee_notice = FeeNotice::at(policy, now);
        let mut reminded = Vec::new();
        let mut effects = Vec::new();
        for cert in self.list.iter_mut().filter(|c| due.contains(&c.serial)) {
            cert.reminded = Some(now);
            effects.push(Effect::Notice {
                office,
                notice: renewal_notice(office, cert, fee_notice.as_ref()),
            });
            effects.push(Effect::Event(Event {
                at: now,
                kind: EventKind::RenewalReminded { office },
            }));
            reminded.push(cert.clone());
        }
        (reminded, effects)
    }
}

/// The FEE-05 renewal お知らせ (\[D\] text in the source's style): the certificate's end date, the
/// request to renew, and — when posted within the notice window — the fee-change notice, so an
/// office is not led to renew at the old fee unawares (the source's reason for FEE-02).
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, certificate::{Certificates, renewal_notice}, values::Yen};
/// let mut certs = Certificates::default();
/// let end = chrono::NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
/// let cert = certs.import(utc("2023-04-01T10:00:00+09:00"), end, Yen(13_200));
/// let notice = renewal_notice("1311111111".parse().unwrap(), &cert, None);
/// assert_eq!(notice.title, "介護保険証明書更新のお知らせ");
/// assert!(notice.body.contains("[有効終了年月日]\n2026年3月31日\n"));
/// ```
pub fn renewal_notice(
    office: OfficeNumber,
    certificate: &Certificate,
    fee_notice: Option<&FeeNotice>,
) -> Notice {
    let request = format!("有効終了年月日までに、【証明書】画面から{RENEWAL_REQUEST}");
    let fee = fee_notice.map(|n| n.marked_lines().join("\n"));
    let mut paragraphs = vec![request.as_str()];
    paragraphs.extend(fee.as_deref());
    mail::framed_notice(
        RENEWAL_TITLE,
        RENEWAL_APPROACHING,
        &[
            ("[事業所番号]", office.as_str()),
            ("[有効終了年月日]", &format_plain(certificate.end_date)),
        ],
        &paragraphs,
    )
}

/// The FEE-05 message on 【証明書】 for a certificate in its renewal period ([D]).
fn renewal_message(end: NaiveDate) -> String {
    format!(
        "※有効終了年月日が{}の証明書があります。有効終了年月日までに、{RENEWAL_REQUEST}",
        format_plain(end)
    )
}

// ---------------------------------------------------------------------------------------------
// Estimates (FEE-06).

/// A 見積書 (estimate) of the certificate fee: the fee on the day it is made and, within the notice
/// window, the notice sentences (FEE-06). It is a document of its day: drawn again later, it still
/// states that day's fee.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, certificate::Estimate, policy::Policy, values::Yen};
/// let policy = Policy::default();
/// let office = "1311111111".parse().unwrap();
/// let e = Estimate::new(office, "請求事業所 A", utc("2026-02-10T10:00:00+09:00"), &policy);
/// assert_eq!(e.fee(), Yen(13_200));
/// assert!(e.notice().is_some());
/// let e = Estimate::new(office, "請求事業所 A", utc("2026-04-01T00:00:00+09:00"), &policy);
/// assert_eq!(e.fee(), Yen(7_800));
/// let made_on = e.screen().field_named("made_on").and_then(|f| f.value.clone());
/// assert_eq!(made_on.as_deref(), Some("2026年4月1日"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Estimate {
    office: OfficeNumber,
    office_name: String,
    made_on: NaiveDate,
    fee: Yen,
    notice: Option<FeeNotice>,
}

impl Estimate {
    /// The estimate for `office` made at `now`.
    pub fn new(
        office: OfficeNumber,
        office_name: impl Into<String>,
        now: Instant,
        policy: &Policy,
    ) -> Self {
        Estimate {
            office,
            office_name: office_name.into(),
            made_on: date_of(now),
            fee: policy.fee_at(now),
            notice: FeeNotice::at(policy, now),
        }
    }

    /// The fee it states: the fee of the day it was made.
    pub fn fee(&self) -> Yen {
        self.fee
    }

    /// The JST day it was made.
    pub fn made_on(&self) -> NaiveDate {
        self.made_on
    }

    /// The fee-change notice it carries (made within the window), if any.
    pub fn notice(&self) -> Option<&FeeNotice> {
        self.notice.as_ref()
    }

    /// The estimate as a screen 【見積書】 (no buttons).
    pub fn screen(&self) -> Screen {
        let s = Screen::new(ESTIMATE_TITLE)
            .steps(MENU_STEPS, 0)
            .text("fee.estimate.lead", ESTIMATE_LEAD)
            .field(Field::shown(OFFICE, OFFICE_NUMBER_LABEL, self.office))
            .field(Field::shown(
                OFFICE_NAME,
                OFFICE_NAME_LABEL,
                &self.office_name,
            ))
            .field(Field::shown(
                MADE_ON,
                MADE_ON_LABEL,
                format_plain(self.made_on),
            ))
            .field(Field::shown(FEE, FEE_LABEL, self.fee));
        match &self.notice {
            Some(n) => n.marked_texts(s),
            None => s,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The flow.

/// The office applying, as the host's session says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Applicant {
    user: UserId,
    office_name: String,
}

/// Proof that `発行申請を行う前に` was opened (FEE-04), and when: only [`ChoosingAction`] makes
/// one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct PrecautionsRead {
    at: Instant,
}

/// 【証明書】: waiting for a choice (estimate or application) and `次へ`; the precautions may be
/// opened with `発行申請を行う前に ?`.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, certificate::{CertificateApplication, Certificates, ChoosingAction}};
/// use kaigo_seikyu::{flow::{Flow, View}, policy::Policy};
/// let policy = Policy::default();
/// let now = utc("2025-12-20T10:00:00+09:00");
/// let menu = ChoosingAction::new("KJ131311111111".parse().unwrap(), "請求事業所 A", &Certificates::default(), now, &policy);
/// assert!(!menu.precautions_read());
/// let screen = CertificateApplication::from(menu).screen(&View { now, policy: &policy });
/// assert!(screen.offers("発行申請を行う前に ?") && screen.offers("次へ"));
/// // The choice is a radio group with the source's default chosen.
/// let choice = screen.field_named("choice").unwrap();
/// assert_eq!(choice.value.as_deref(), Some("estimate"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoosingAction {
    applicant: Applicant,
    read: Option<PrecautionsRead>,
    renewal_due: Vec<NaiveDate>,
    /// The option last chosen with `次へ` (back from the estimate or the password step), shown
    /// chosen in the radio group; `None`: the source's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    choice: Option<MenuChoice>,
}

impl ChoosingAction {
    /// The menu of `user`'s office (`office_name` from the office ledger), with the FEE-05 message
    /// for each of `certificates` in its renewal period at `now`.
    pub fn new(
        user: UserId,
        office_name: impl Into<String>,
        certificates: &Certificates,
        now: Instant,
        policy: &Policy,
    ) -> Self {
        let applicant = Applicant {
            user,
            office_name: office_name.into(),
        };
        ChoosingAction::of(applicant, certificates, now, policy)
    }

    fn of(
        applicant: Applicant,
        certificates: &Certificates,
        now: Instant,
        policy: &Policy,
    ) -> Self {
        ChoosingAction {
            applicant,
            read: None,
            renewal_due: certificates
                .in_renewal_period(now, policy)
                .iter()
                .map(|c| c.end_date)
                .collect(),
            choice: None,
        }
    }

    /// 【証明書】 of the logged-in `user`, from the records the driver read: the office's ledger
    /// entry (its name) and certificates.
    fn open(
        user: Option<UserId>,
        records: &Records,
        now: Instant,
        policy: &Policy,
    ) -> Result<Self, PortalError> {
        let user = user.ok_or(FlowError::NoSuchAccount)?;
        let ledger = records.ledger().ok_or(FlowError::NotInLedger)?;
        let certificates = certificates_of(user.office(), records)?;
        Ok(ChoosingAction::new(
            user,
            ledger.name.clone(),
            &certificates,
            now,
            policy,
        ))
    }

    /// Whether `発行申請を行う前に` has been opened (FEE-04).
    pub fn precautions_read(&self) -> bool {
        self.read.is_some()
    }

    fn read_precautions(self, now: Instant) -> Self {
        ChoosingAction {
            read: Some(self.read.unwrap_or(PrecautionsRead { at: now })),
            ..self
        }
    }

    fn next(
        self,
        choice: MenuChoice,
        now: Instant,
        policy: &Policy,
    ) -> Result<CertificateApplication, FlowError> {
        match choice {
            MenuChoice::Estimate => {
                let a = &self.applicant;
                let estimate = Estimate::new(a.user.office(), a.office_name.clone(), now, policy);
                Ok(ViewingEstimate {
                    menu: ChoosingAction {
                        choice: Some(choice),
                        ..self
                    },
                    estimate,
                }
                .into())
            }
            MenuChoice::Apply => {
                let read = self.read.ok_or(FlowError::PrecautionsNotRead)?;
                Ok(EnteringPassword {
                    applicant: self.applicant,
                    renewal_due: self.renewal_due,
                    read,
                }
                .into())
            }
        }
    }

    /// 【証明書】 in the source's order: the choice as a radio group (the option last chosen, else
    /// the source's default, the estimate), the precautions and their `発行申請を行う前に ?` between the texts,
    /// the fee notice within the window (FEE-02), then `次へ`.
    fn screen(&self, now: Instant, policy: &Policy) -> Screen {
        let options = MenuChoice::ALL
            .into_iter()
            .map(|c| Choice::new(c.value(), c.label()).notes([c.note()]))
            .collect();
        let mut s = Screen::new(MENU_TITLE)
            .steps(MENU_STEPS, 0)
            .text("fee.menu.lead", MENU_LEAD)
            .field(
                Field::radio(CHOICE, "", options)
                    .required()
                    .value(self.choice.unwrap_or(MenuChoice::Estimate).value()),
            )
            .text("fee.menu.precautions", MENU_PRECAUTIONS)
            .text("fee.menu.precautions_required", MENU_PRECAUTIONS_REQUIRED)
            .button(PRECAUTIONS, PRECAUTIONS_BUTTON);
        if self.read.is_some() {
            // FEE-08: the precautions are shown once opened, and showing them is what unlocks
            // the application (the proof was made when they were opened).
            s = s.help(help::precautions(policy));
        }
        if let Some(n) = FeeNotice::at(policy, now) {
            s = n.marked_texts(s);
        }
        for end in &self.renewal_due {
            s = s.text("fee.menu.renewal", renewal_message(*end));
        }
        s.button(NEXT, "次へ")
    }
}

/// 【見積書】: an estimate (FEE-06), waiting for `戻る`.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, certificate::*, policy::Policy};
/// use kaigo_seikyu::{flow::Cx, secret::{Argon2Hasher, CodeKey}};
/// use rand::SeedableRng;
/// # use kaigo_seikyu::flow::{Flow, Next, Records, Step};
/// # use kaigo_seikyu::store::{FlowId, Key};
/// # fn stay(step: Step<Next<CertificateApplication>>) -> CertificateApplication {
/// #     let Next::Stay(state) = step.state else { panic!("the flow ended") };
/// #     state
/// # }
/// let policy = Policy::insecure_fast_hashing();
/// let hasher = Argon2Hasher::new(policy.hashing, CodeKey::from_bytes([0; 32]));
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let id = FlowId::generate(&mut rng);
/// // The office's certificates, as the driver read them: none yet.
/// let records = Records::new([(Key::Certificates("1311111111".parse()?), None)], None);
/// let now = utc("2026-02-10T10:00:00+09:00");
/// let mut cx = Cx { now, rng: &mut rng, policy: &policy, hasher: &hasher };
/// let certs = Certificates::default();
/// let menu = ChoosingAction::new("KJ131311111111".parse().unwrap(), "請求事業所 A", &certs, now, &policy);
/// let flow = CertificateApplication::from(menu);
/// let state = stay(flow.step(CertificateInput::Next(MenuChoice::Estimate), &records, &id, &mut cx)?);
/// let CertificateApplication::ViewingEstimate(viewing) = &state else { panic!() };
/// assert_eq!(viewing.estimate().fee().to_string(), "13,200円");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewingEstimate {
    menu: ChoosingAction,
    estimate: Estimate,
}

impl ViewingEstimate {
    /// The estimate shown.
    pub fn estimate(&self) -> &Estimate {
        &self.estimate
    }
}

/// 【証明書発行用パスワード入力】 (step 1): waiting for the password and its confirmation. Only
/// reachable with the precautions read (FEE-04).
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, certificate::*, policy::Policy};
/// use kaigo_seikyu::{flow::Cx, secret::{Argon2Hasher, CodeKey}};
/// use rand::SeedableRng;
/// # use kaigo_seikyu::flow::{Flow, Next, Records, Step};
/// # use kaigo_seikyu::store::{FlowId, Key};
/// # fn stay(step: Step<Next<CertificateApplication>>) -> CertificateApplication {
/// #     let Next::Stay(state) = step.state else { panic!("the flow ended") };
/// #     state
/// # }
/// let policy = Policy::insecure_fast_hashing();
/// let hasher = Argon2Hasher::new(policy.hashing, CodeKey::from_bytes([0; 32]));
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let id = FlowId::generate(&mut rng);
/// // The office's certificates, as the driver read them: none yet.
/// let records = Records::new([(Key::Certificates("1311111111".parse()?), None)], None);
/// let now = utc("2026-02-10T10:00:00+09:00");
/// let mut cx = Cx { now, rng: &mut rng, policy: &policy, hasher: &hasher };
/// let certs = Certificates::default();
/// let menu = ChoosingAction::new("KJ131311111111".parse().unwrap(), "請求事業所 A", &certs, now, &policy);
/// let flow = CertificateApplication::from(menu);
/// let refused = flow.clone().step(CertificateInput::Next(MenuChoice::Apply), &records, &id, &mut cx);
/// assert_eq!(refused.unwrap_err().message(), "確認せずに証明書の発行申請は行えません。");
/// let flow = stay(flow.step(CertificateInput::ReadPrecautions, &records, &id, &mut cx)?);
/// let flow = stay(flow.step(CertificateInput::Next(MenuChoice::Apply), &records, &id, &mut cx)?);
/// assert!(matches!(flow, CertificateApplication::EnteringPassword(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnteringPassword {
    applicant: Applicant,
    renewal_due: Vec<NaiveDate>,
    read: PrecautionsRead,
}

impl EnteringPassword {
    fn enter<R: CryptoRng + ?Sized>(
        self,
        password: &Password,
        confirm: &Password,
        cx: &mut Cx<'_, R>,
    ) -> Result<ConfirmingSubmission, FlowError> {
        password.check_policy(&self.applicant.user, &cx.policy.password)?;
        if !password.ct_eq(confirm) {
            return Err(FlowError::ConfirmationMismatch);
        }
        let password = cx.hash(password.expose());
        Ok(ConfirmingSubmission {
            entering: self,
            password,
        })
    }

    fn back(self) -> ChoosingAction {
        ChoosingAction {
            applicant: self.applicant,
            read: Some(self.read),
            renewal_due: self.renewal_due,
            choice: Some(MenuChoice::Apply),
        }
    }

    fn screen(&self, policy: &Policy) -> Screen {
        let PasswordRules {
            min_chars,
            max_chars,
        } = policy.password;
        let max = usize::from(max_chars);
        Screen::new(PASSWORD_TITLE)
            .steps(ISSUE_STEPS, 0)
            .text("fee.password.lead", PASSWORD_LEAD)
            .field(Field::password(PASSWORD, PASSWORD_LABEL).required().max_len(max))
            .field(
                Field::password(CONFIRM_PASSWORD, PASSWORD_CONFIRM_LABEL)
                    .required()
                    .max_len(max),
            )
            .text("fee.password.rules", format!(
                "※パスワードは{min_chars}文字～{max_chars}文字の半角英数字記号で、英字と数字をそれぞれ1文字以上含めてください。"
            ))
            .button(BACK, "戻る")
            .button(NEXT, "次へ")
    }
}

/// 【送信確認】 (step 2; the manual's 【送信確認(証明書)】): waiting for `利用規約に同意して送信`. Holds the password only as
/// its argon2id hash; only a checked password step makes one.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, certificate::*, policy::Policy};
/// use kaigo_seikyu::{flow::Cx, secret::{Argon2Hasher, CodeKey}, values::Password};
/// use rand::SeedableRng;
/// # use kaigo_seikyu::flow::{Flow, Next, Records, Step};
/// # use kaigo_seikyu::store::{FlowId, Key};
/// # fn stay(step: Step<Next<CertificateApplication>>) -> CertificateApplication {
/// #     let Next::Stay(state) = step.state else { panic!("the flow ended") };
/// #     state
/// # }
/// let policy = Policy::insecure_fast_hashing();
/// let hasher = Argon2Hasher::new(policy.hashing, CodeKey::from_bytes([0; 32]));
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let id = FlowId::generate(&mut rng);
/// // The office's certificates, as the driver read them: none yet.
/// let records = Records::new([(Key::Certificates("1311111111".parse()?), None)], None);
/// let now = utc("2025-12-20T10:00:00+09:00");
/// let mut cx = Cx { now, rng: &mut rng, policy: &policy, hasher: &hasher };
/// let certs = Certificates::default();
/// let mut flow = CertificateApplication::from(ChoosingAction::new(
///     "KJ131311111111".parse().unwrap(), "請求事業所 A", &certs, now, &policy));
/// for input in [
///     CertificateInput::ReadPrecautions,
///     CertificateInput::Next(MenuChoice::Apply),
///     CertificateInput::EnterPassword { password: Password::new("Hakko2026!"), confirm: Password::new("Hakko2026!") },
/// ] {
///     flow = stay(flow.step(input, &records, &id, &mut cx)?);
/// }
/// assert!(matches!(flow, CertificateApplication::ConfirmingSubmission(_)));
/// assert!(!format!("{flow:?}").contains("Hakko2026!"));
/// let flow = stay(flow.step(CertificateInput::AgreeAndSubmit, &records, &id, &mut cx)?);
/// assert!(matches!(flow, CertificateApplication::Done(_)), "no dialog outside the window");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmingSubmission {
    entering: EnteringPassword,
    password: PasswordHash,
}

impl ConfirmingSubmission {
    /// `利用規約に同意して送信`: within the window, the dialog (FEE-03); outside it, the submission
    /// at the fee of now (FEE-01).
    fn agree_and_submit<R: CryptoRng + ?Sized>(
        self,
        certificates: Certificates,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<Next<CertificateApplication>>, StoreError> {
        match FeeNotice::at(cx.policy, cx.now) {
            Some(notice) => Ok(stay(ConfirmingOldFee {
                confirming: self,
                notice,
            })),
            None => self.submit(certificates, cx, None),
        }
    }

    /// Submits at the fee of now (FEE-01), recording the certificate among the office's
    /// `certificates` (saved with [`Effect::Put`]). `consented` is the pre-change fee the dialog
    /// asked about; the consent is recorded only if it is the fee charged.
    fn submit<R: CryptoRng + ?Sized>(
        self,
        mut certificates: Certificates,
        cx: &mut Cx<'_, R>,
        consented: Option<Yen>,
    ) -> Result<Step<Next<CertificateApplication>>, StoreError> {
        let (now, fee) = (cx.now, cx.policy.fee_at(cx.now));
        let applicant = self.entering.applicant;
        let office = applicant.user.office();
        let certificate = certificates.issue(now, fee, self.password, cx.policy);
        let event = |kind| Effect::Event(Event { at: now, kind });
        let mut step = stay(Done {
            applicant,
            certificate,
        })
        .with(Effect::put(certificates_key(office), &certificates)?);
        if consented == Some(fee) {
            step = step.with(event(EventKind::FeeConsented { office, fee }));
        }
        Ok(step.with(event(EventKind::CertificateApplied { office, fee })))
    }

    fn screen(&self, now: Instant, policy: &Policy) -> Screen {
        let mut s = Screen::new(CONFIRM_TITLE)
            .steps(ISSUE_STEPS, 1)
            .text("fee.confirm.lead.1", CONFIRM_LEAD[0])
            .text("fee.confirm.lead.2", CONFIRM_LEAD[1])
            .field(Field::shown(
                OFFICE_NAME,
                OFFICE_NAME_LABEL,
                &self.entering.applicant.office_name,
            ))
            .field(Field::shown(FEE, FEE_LABEL, policy.fee_at(now)));
        if let Some(n) = FeeNotice::at(policy, now) {
            s = s
                .text("fee.notice.heading", IMPORTANT)
                .text("fee.notice.1", n.announcement())
                .text("fee.notice.2", n.application());
        }
        for (id, line) in TERMS {
            s = s.text(id, line);
        }
        s.button(DOWNLOAD_TERMS, DOWNLOAD_TERMS_LABEL)
            .button(BACK, "戻る")
            .button(AGREE_AND_SEND, AGREE_AND_SEND_LABEL)
    }
}

/// The consent dialog over 【送信確認】 (FEE-03): the notice sentences and
/// `変更前の手数料（13,200円）で発行申請します。よろしいですか？`, waiting for `OK` or `キャンセル`.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, certificate::*, policy::Policy, values::Yen};
/// use kaigo_seikyu::{flow::Cx, secret::{Argon2Hasher, CodeKey}, values::Password};
/// use rand::SeedableRng;
/// # use kaigo_seikyu::flow::{Flow, Next, Records, Step};
/// # use kaigo_seikyu::store::{FlowId, Key};
/// # fn stay(step: Step<Next<CertificateApplication>>) -> CertificateApplication {
/// #     let Next::Stay(state) = step.state else { panic!("the flow ended") };
/// #     state
/// # }
/// let policy = Policy::insecure_fast_hashing();
/// let hasher = Argon2Hasher::new(policy.hashing, CodeKey::from_bytes([0; 32]));
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let id = FlowId::generate(&mut rng);
/// // The office's certificates, as the driver read them: none yet.
/// let records = Records::new([(Key::Certificates("1311111111".parse()?), None)], None);
/// let now = utc("2026-03-31T23:59:59+09:00");
/// let mut cx = Cx { now, rng: &mut rng, policy: &policy, hasher: &hasher };
/// let certs = Certificates::default();
/// let mut flow = CertificateApplication::from(ChoosingAction::new(
///     "KJ131311111111".parse().unwrap(), "請求事業所 A", &certs, now, &policy));
/// for input in [
///     CertificateInput::ReadPrecautions,
///     CertificateInput::Next(MenuChoice::Apply),
///     CertificateInput::EnterPassword { password: Password::new("Hakko2026!"), confirm: Password::new("Hakko2026!") },
///     CertificateInput::AgreeAndSubmit,
/// ] {
///     flow = stay(flow.step(input, &records, &id, &mut cx)?);
/// }
/// let CertificateApplication::ConfirmingOldFee(dialog) = &flow else { panic!() };
/// assert_eq!(dialog.old_fee(), Yen(13_200));
/// // OK one second later, on 2026-04-01: the fee of that instant (FEE-01), no consent recorded.
/// cx.now = utc("2026-04-01T00:00:00+09:00");
/// let step = flow.step(CertificateInput::DialogOk, &records, &id, &mut cx)?;
/// // The certificates saved (Effect::Put) and the CertificateApplied event; no FeeConsented.
/// assert_eq!(step.effects.len(), 2);
/// let CertificateApplication::Done(done) = stay(step) else { panic!() };
/// assert_eq!(done.certificate().fee, Yen(7_800));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmingOldFee {
    confirming: ConfirmingSubmission,
    notice: FeeNotice,
}

impl ConfirmingOldFee {
    /// The pre-change fee the dialog asks consent to.
    pub fn old_fee(&self) -> Yen {
        self.notice.before()
    }

    /// A dialog over 【送信確認】, as the source draws it: the two sentences, the question, `OK`
    /// and `キャンセル`; no step list.
    fn screen(&self) -> Screen {
        Screen::dialog(CONFIRM_TITLE)
            .text(
                "fee.dialog.notice",
                format!(
                    "{}{}",
                    self.notice.announcement(),
                    self.notice.application()
                ),
            )
            .text("fee.dialog.question", self.notice.question())
            .button(OK, "OK")
            .button(CANCEL, "キャンセル")
    }
}

/// 【処理終了】 (step 3): the application was submitted; the record of its certificate.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, certificate::*, policy::Policy, values::Yen};
/// use kaigo_seikyu::{flow::Cx, secret::{Argon2Hasher, CodeKey}, values::Password};
/// use rand::SeedableRng;
/// # use kaigo_seikyu::flow::{Flow, Next, Records, Step};
/// # use kaigo_seikyu::store::{FlowId, Key};
/// # fn stay(step: Step<Next<CertificateApplication>>) -> CertificateApplication {
/// #     let Next::Stay(state) = step.state else { panic!("the flow ended") };
/// #     state
/// # }
/// let policy = Policy::insecure_fast_hashing();
/// let hasher = Argon2Hasher::new(policy.hashing, CodeKey::from_bytes([0; 32]));
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let id = FlowId::generate(&mut rng);
/// // The office's certificates, as the driver read them: none yet.
/// let records = Records::new([(Key::Certificates("1311111111".parse()?), None)], None);
/// let now = utc("2026-04-01T09:00:00+09:00");
/// let mut cx = Cx { now, rng: &mut rng, policy: &policy, hasher: &hasher };
/// let certs = Certificates::default();
/// let mut flow = CertificateApplication::from(ChoosingAction::new(
///     "KJ131311111111".parse().unwrap(), "請求事業所 A", &certs, now, &policy));
/// for input in [
///     CertificateInput::ReadPrecautions,
///     CertificateInput::Next(MenuChoice::Apply),
///     CertificateInput::EnterPassword { password: Password::new("Hakko2026!"), confirm: Password::new("Hakko2026!") },
///     CertificateInput::AgreeAndSubmit,
/// ] {
///     flow = stay(flow.step(input, &records, &id, &mut cx)?);
/// }
/// let CertificateApplication::Done(done) = &flow else { panic!() };
/// assert_eq!(done.certificate().fee, Yen(7_800));
/// assert_eq!(done.certificate().end_date.to_string(), "2029-03-31");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    applicant: Applicant,
    certificate: Certificate,
}

impl Done {
    /// The certificate recorded by the submission.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    fn screen(&self) -> Screen {
        Screen::new(DONE_TITLE)
            .steps(ISSUE_STEPS, 2)
            .text("fee.done", DONE_LEAD)
            .field(Field::shown(
                OFFICE,
                OFFICE_NUMBER_LABEL,
                self.applicant.user.office(),
            ))
            .field(Field::shown(FEE, FEE_LABEL, self.certificate.fee))
            .button(FINISH, "終了")
    }
}

/// The certificate flow as the store keeps it: one variant per state.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, certificate::*, policy::Policy};
/// use kaigo_seikyu::flow::{Flow, View};
/// let policy = Policy::default();
/// let now = utc("2026-02-10T10:00:00+09:00");
/// let menu = ChoosingAction::new("KJ131311111111".parse().unwrap(), "請求事業所 A", &Certificates::default(), now, &policy);
/// let flow = CertificateApplication::from(menu);
/// assert_eq!(flow.name(), "ChoosingAction");
/// assert_eq!(flow.screen(&View { now, policy: &policy }).title, "証明書");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertificateApplication {
    /// 【証明書】.
    ChoosingAction(ChoosingAction),
    /// 【見積書】.
    ViewingEstimate(ViewingEstimate),
    /// 【証明書発行用パスワード入力】.
    EnteringPassword(EnteringPassword),
    /// 【送信確認】 (the manual's 【送信確認(証明書)】).
    ConfirmingSubmission(ConfirmingSubmission),
    /// The consent dialog over 【送信確認】.
    ConfirmingOldFee(ConfirmingOldFee),
    /// 【処理終了】.
    Done(Done),
}

macro_rules! from_state {
    ($($state:ident),*) => {$(
        impl From<$state> for CertificateApplication {
            fn from(s: $state) -> Self {
                CertificateApplication::$state(s)
            }
        }
    )*};
}
/// OPS-07: an estimate only of the applicant's own office (a witness of another office's is
/// refused); a consent dialog only to the policy's fees (FEE-03: the consent recorded is to the
/// fee charged).
impl crate::validate::Validate for CertificateApplication {
    fn validate(&self, check: &crate::validate::Check<'_>) -> Result<(), crate::validate::Invalid> {
        match self {
            CertificateApplication::ConfirmingOldFee(s)
                if s.notice != FeeNotice::new(check.policy.fee) =>
            {
                Err(crate::validate::Invalid::new(
                    "a fee notice other than the policy's",
                ))
            }
            CertificateApplication::ViewingEstimate(s)
                if s.estimate.office != s.menu.applicant.user.office() =>
            {
                Err(crate::validate::Invalid::new(
                    "an estimate of another office than the applicant's",
                ))
            }
            _ => Ok(()),
        }
    }
}

from_state!(
    ChoosingAction,
    ViewingEstimate,
    EnteringPassword,
    ConfirmingSubmission,
    ConfirmingOldFee,
    Done
);

/// The choice on 【証明書】: the options of its radio group (FEE-04).
///
/// A form posts [`MenuChoice::value`]; parse it back with `str::parse`. Anything else is
/// [`FlowError::UnexpectedInput`].
///
/// # Example
/// ```
/// use kaigo_seikyu::certificate::{CertificateInput, MenuChoice};
/// let input = CertificateInput::Next(MenuChoice::Estimate);
/// assert_eq!(input.name(), "Next");
/// assert_eq!("apply".parse::<MenuChoice>(), Ok(MenuChoice::Apply));
/// assert!("Apply".parse::<MenuChoice>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MenuChoice {
    /// `見積書を作成する（必要な場合のみ）`.
    Estimate,
    /// `証明書の発行申請をする`.
    Apply,
}

impl MenuChoice {
    /// Both choices, in the order 【証明書】 shows them.
    pub const ALL: [MenuChoice; 2] = [MenuChoice::Estimate, MenuChoice::Apply];

    /// The option's label as the source prints it.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::certificate::MenuChoice;
    /// assert_eq!(MenuChoice::Estimate.label(), "見積書を作成する（必要な場合のみ）");
    /// assert_eq!(MenuChoice::Apply.label(), "証明書の発行申請をする");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            MenuChoice::Estimate => "見積書を作成する（必要な場合のみ）",
            MenuChoice::Apply => "証明書の発行申請をする",
        }
    }

    /// The value a form posts for this option: `estimate` or `apply`.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::certificate::MenuChoice;
    /// for choice in MenuChoice::ALL {
    ///     assert_eq!(choice.value().parse::<MenuChoice>(), Ok(choice));
    /// }
    /// ```
    pub fn value(self) -> &'static str {
        match self {
            MenuChoice::Estimate => "estimate",
            MenuChoice::Apply => "apply",
        }
    }

    /// The line under the option, as the source prints it.
    fn note(self) -> &'static str {
        match self {
            MenuChoice::Estimate => "- 証明書発行手数料の見積書を作成することができます。",
            MenuChoice::Apply => "- 新しい証明書の発行申請を行うことができます。",
        }
    }
}

menu_options!(MenuChoice, "ChoosingAction");

/// What the user can do in the certificate flow. Typed fields arrive already parsed (the
/// [`Portal::certificate_password`](crate::portal::Portal::certificate_password) entry point takes them as `&str`).
///
/// # Example
/// ```
/// use kaigo_seikyu::{certificate::CertificateInput, values::Password};
/// let input = CertificateInput::EnterPassword { password: Password::new("Hakko2026!"), confirm: Password::new("Hakko2026!") };
/// assert!(!format!("{input:?}").contains("Hakko"));
/// ```
#[derive(Debug, Clone)]
pub enum CertificateInput {
    /// `発行申請を行う前に ?`: open the precautions (FEE-04).
    ReadPrecautions,
    /// The choice and `次へ` on 【証明書】.
    Next(MenuChoice),
    /// 《証明書発行用パスワード》 and its confirmation, then `次へ`.
    EnterPassword {
        /// The password.
        password: Password,
        /// Its confirmation (確認用).
        confirm: Password,
    },
    /// `戻る`.
    Back,
    /// `利用規約に同意して送信`.
    AgreeAndSubmit,
    /// `OK` in the consent dialog.
    DialogOk,
    /// `キャンセル` in the consent dialog.
    DialogCancel,
    /// `終了` on 【処理終了】: the flow ends and 【証明書】 is shown again.
    Finish,
}

impl CertificateInput {
    /// The input's name, for [`FlowError::UnexpectedInput`].
    pub fn name(&self) -> &'static str {
        match self {
            CertificateInput::ReadPrecautions => "ReadPrecautions",
            CertificateInput::Next(_) => "Next",
            CertificateInput::EnterPassword { .. } => "EnterPassword",
            CertificateInput::Back => "Back",
            CertificateInput::AgreeAndSubmit => "AgreeAndSubmit",
            CertificateInput::DialogOk => "DialogOk",
            CertificateInput::DialogCancel => "DialogCancel",
            CertificateInput::Finish => "Finish",
        }
    }
}

impl CertificateApplication {
    /// The state's name, for [`FlowError::UnexpectedInput`].
    pub fn name(&self) -> &'static str {
        match self {
            CertificateApplication::ChoosingAction(_) => "ChoosingAction",
            CertificateApplication::ViewingEstimate(_) => "ViewingEstimate",
            CertificateApplication::EnteringPassword(_) => "EnteringPassword",
            CertificateApplication::ConfirmingSubmission(_) => "ConfirmingSubmission",
            CertificateApplication::ConfirmingOldFee(_) => "ConfirmingOldFee",
            CertificateApplication::Done(_) => "Done",
        }
    }

    /// The office applying, in every state.
    fn applicant(&self) -> &Applicant {
        match self {
            CertificateApplication::ChoosingAction(s) => &s.applicant,
            CertificateApplication::ViewingEstimate(s) => &s.menu.applicant,
            CertificateApplication::EnteringPassword(s) => &s.applicant,
            CertificateApplication::ConfirmingSubmission(s) => &s.entering.applicant,
            CertificateApplication::ConfirmingOldFee(s) => &s.confirming.entering.applicant,
            CertificateApplication::Done(s) => &s.applicant,
        }
    }
}

/// On in the flow at `state`, with no effects.
fn stay(state: impl Into<CertificateApplication>) -> Step<Next<CertificateApplication>> {
    Step::to(Next::Stay(state.into()))
}

/// The key of the office's certificates.
fn certificates_key(office: OfficeNumber) -> Key {
    Key::Certificates(office)
}

/// The office's certificates as the step read them (none yet: empty).
fn certificates_of(office: OfficeNumber, records: &Records) -> Result<Certificates, StoreError> {
    Ok(records.get(&certificates_key(office))?.unwrap_or_default())
}

/// The option chosen in the radio group `choice` (FEE-04). The screen checks that it is one of
/// the options ([`Screen::accept`]); anything else names the field.
fn parse_choice(form: &Form) -> Result<MenuChoice, FlowError> {
    form.text(CHOICE)
        .parse()
        .map_err(|_| FormError::NotAnOption(CHOICE.to_owned()).into())
}

/// The certificate application is one flow of the one shape: 【証明書】 (the entry, see the
/// [`Entry`] impl) through 【処理終了】. Its buttons:
///
/// | state | button (form name) | input |
/// | --- | --- | --- |
/// | `ChoosingAction` | `発行申請を行う前に ?` (`precautions`) | [`CertificateInput::ReadPrecautions`] |
/// | `ChoosingAction` | `次へ` (`next`) with `choice` | [`CertificateInput::Next`] |
/// | `ViewingEstimate`, `EnteringPassword`, `ConfirmingSubmission` | `戻る` (`back`) | [`CertificateInput::Back`] |
/// | `EnteringPassword` | `次へ` with `password`, `confirm_password` | [`CertificateInput::EnterPassword`] |
/// | `ConfirmingSubmission` | `利用規約に同意して送信` (`agree_and_send`) | [`CertificateInput::AgreeAndSubmit`] |
/// | `ConfirmingSubmission` | `利用規約をダウンロード` (`download_terms`) | none: host navigation (the host serves the terms file) |
/// | `ConfirmingOldFee` | `OK` (`ok`), `キャンセル` (`cancel`) | [`CertificateInput::DialogOk`], [`CertificateInput::DialogCancel`] |
/// | `Done` | `終了` (`finish`) | [`CertificateInput::Finish`]: the flow ends at 【証明書】 |
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, certificate::*, policy::Policy};
/// use kaigo_seikyu::flow::{Flow, View};
/// use kaigo_seikyu::screen::Form;
/// let policy = Policy::default();
/// let view = View { now: utc("2026-02-10T10:00:00+09:00"), policy: &policy };
/// let menu = ChoosingAction::new("KJ131311111111".parse().unwrap(), "請求事業所 A", &Certificates::default(), view.now, &policy);
/// let flow = CertificateApplication::from(menu);
/// assert_eq!(flow.screen(&view).title, "証明書");
/// let input = flow.parse(&Form::new("next").with("choice", "apply"))?;
/// assert_eq!(input.name(), "Next");
/// # Ok::<(), kaigo_seikyu::error::FlowError>(())
/// ```
impl Flow for CertificateApplication {
    const KIND: FlowKind = FlowKind::Certificate;
    type Input = CertificateInput;

    /// The logged-in user who opened 【証明書】.
    fn user(&self) -> Option<UserId> {
        Some(self.applicant().user)
    }

    /// The state's screen drawn at `view.now`: the fee and the notice are those of now (FEE-01,
    /// FEE-02). Never shows a secret.
    fn screen(&self, view: &View<'_>) -> Screen {
        let (now, policy) = (view.now, view.policy);
        match self {
            CertificateApplication::ChoosingAction(s) => s.screen(now, policy),
            CertificateApplication::ViewingEstimate(s) => s.estimate.screen().button(BACK, "戻る"),
            CertificateApplication::EnteringPassword(s) => s.screen(policy),
            CertificateApplication::ConfirmingSubmission(s) => s.screen(now, policy),
            CertificateApplication::ConfirmingOldFee(s) => s.screen(),
            CertificateApplication::Done(s) => s.screen(),
        }
    }

    fn parse(&self, form: &Form) -> Result<CertificateInput, FlowError> {
        use CertificateApplication as A;
        use CertificateInput as I;
        Ok(match (self, form.button.as_str()) {
            (A::ChoosingAction(_), PRECAUTIONS) => I::ReadPrecautions,
            (A::ChoosingAction(_), NEXT) => I::Next(parse_choice(form)?),
            (A::ViewingEstimate(_) | A::EnteringPassword(_) | A::ConfirmingSubmission(_), BACK) => {
                I::Back
            }
            (A::EnteringPassword(_), NEXT) => I::EnterPassword {
                password: Password::new(form.text(PASSWORD)),
                confirm: Password::new(form.text(CONFIRM_PASSWORD)),
            },
            (A::ConfirmingSubmission(_), AGREE_AND_SEND) => I::AgreeAndSubmit,
            (A::ConfirmingOldFee(_), OK) => I::DialogOk,
            (A::ConfirmingOldFee(_), CANCEL) => I::DialogCancel,
            (A::Done(_), FINISH) => I::Finish,
            (state, DOWNLOAD_TERMS) => {
                return Err(FlowError::UnexpectedInput {
                    state: state.name(),
                    input: "download_terms (host navigation: the host serves the terms)",
                });
            }
            (state, _) => return Err(FlowError::other_button(state.name())),
        })
    }

    /// A submission (`利用規約に同意して送信`, the dialog's `OK`) and `終了` read the office's
    /// certificates; nothing else reads a record.
    fn needs(&self, input: &CertificateInput) -> Needs {
        use CertificateApplication as A;
        use CertificateInput as I;
        match (self, input) {
            (A::ConfirmingSubmission(_), I::AgreeAndSubmit)
            | (A::ConfirmingOldFee(_), I::DialogOk)
            | (A::Done(_), I::Finish) => {
                Needs::none().record(certificates_key(self.applicant().user.office()))
            }
            _ => Needs::none(),
        }
    }

    /// Applies one input at `cx.now`. A submission records its certificate with an
    /// [`Effect::Put`] of the office's certificates (saved in the same commit as the state).
    /// `Err`: nothing changed, nothing submitted.
    fn step<R: CryptoRng + ?Sized>(
        self,
        input: CertificateInput,
        records: &Records,
        _: &FlowId,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<Next<CertificateApplication>>, PortalError> {
        use CertificateApplication as A;
        use CertificateInput as I;
        let (state, name) = (self.name(), input.name());
        let office = self.applicant().user.office();
        Ok(match (self, input) {
            (A::ChoosingAction(s), I::ReadPrecautions) => stay(s.read_precautions(cx.now)),
            (A::ChoosingAction(s), I::Next(choice)) => stay(s.next(choice, cx.now, cx.policy)?),
            (A::ViewingEstimate(s), I::Back) => stay(s.menu),
            (A::EnteringPassword(s), I::EnterPassword { password, confirm }) => {
                stay(s.enter(&password, &confirm, cx)?)
            }
            (A::EnteringPassword(s), I::Back) => stay(s.back()),
            (A::ConfirmingSubmission(s), I::AgreeAndSubmit) => {
                s.agree_and_submit(certificates_of(office, records)?, cx)?
            }
            (A::ConfirmingSubmission(s), I::Back) => stay(s.entering),
            (A::ConfirmingOldFee(s), I::DialogOk) => {
                let old_fee = s.old_fee();
                s.confirming
                    .submit(certificates_of(office, records)?, cx, Some(old_fee))?
            }
            (A::ConfirmingOldFee(s), I::DialogCancel) => stay(s.confirming),
            (A::Done(s), I::Finish) => {
                let certificates = certificates_of(office, records)?;
                let menu = ChoosingAction::of(s.applicant, &certificates, cx.now, cx.policy);
                Step::to(Next::End(menu.screen(cx.now, cx.policy)))
            }
            (A::Done(_), _) => return Err(FlowError::FlowFinished.into()),
            _ => return Err(FlowError::UnexpectedInput { state, input: name }.into()),
        })
    }
}

/// What 【証明書】 sends when the flow does not exist yet (its entry screen), or
/// [`CertificateStart::Open`] to open 【証明書】 as the flow's first state.
///
/// # Example
/// ```
/// use kaigo_seikyu::certificate::{CertificateApplication, CertificateStart, MenuChoice};
/// use kaigo_seikyu::{flow::Entry, screen::Form};
/// let start = CertificateApplication::parse_start(&Form::new("next").with("choice", "estimate"))?;
/// assert!(matches!(start, CertificateStart::Next(MenuChoice::Estimate)));
/// # Ok::<(), kaigo_seikyu::error::FlowError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateStart {
    /// Open 【証明書】 as the flow's first state, nothing pressed yet (what
    /// [`Portal::certificate_start`](crate::portal::Portal::certificate_start) does): the flow id
    /// exists from the first screen on.
    Open,
    /// `発行申請を行う前に ?` on the entry screen: the flow begins with the precautions read.
    ReadPrecautions,
    /// The choice and `次へ` on the entry screen. `Apply` is refused there (FEE-04: the
    /// precautions cannot have been read before the flow exists) and nothing is created.
    Next(MenuChoice),
}

/// 【証明書】 is the entry screen, opened from the menu after login: drawn from the records (the
/// office's 事業所台帳 entry for its name, its certificates for the FEE-05 messages). Its buttons
/// begin the flow at [`ChoosingAction`], the first state, which draws the same screen and holds
/// the FEE-04 proof once `発行申請を行う前に ?` has been pressed.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
/// use kaigo_seikyu::{certificate::CertificateApplication, ports::OfficeRecord, values::Prefecture};
/// use kaigo_seikyu::{portal::Route, screen::Form};
/// let host = Embedded::new(utc("2026-02-10T10:00:00+09:00"));
/// let user = "KJ131311111111".parse()?;
/// host.ledger.insert(OfficeRecord { number: "1311111111".parse()?, name: "請求事業所 A".into(),
///     postal_address: "東京都千代田区".into(), phone: "03-0000-0000".into(), billing: vec![Prefecture::TOKYO] });
/// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([0; 32]));
/// let mut rng = rand::rng();
/// let menu = portal.entry::<CertificateApplication>(Some(&user))?;
/// assert_eq!(menu.button_named("発行申請を行う前に ?"), Some("precautions"));
/// // FEE-04: applying straight from the entry screen is refused, and nothing is created.
/// let apply = Form::new("next").with("choice", "apply");
/// assert!(portal.begin::<CertificateApplication, _>(Some(&user), &apply, &mut rng).is_err());
/// assert!(host.store.is_empty());
/// // A browser posts the whole form: the radio's checked option with the button pressed.
/// let read = Form::new("precautions").with("choice", "estimate");
/// let route = portal.begin::<CertificateApplication, _>(Some(&user), &read, &mut rng)?;
/// let Route::Flow { flow, .. } = route else { unreachable!() };
/// let route = portal.submit_to::<CertificateApplication, _>(Some(&user), &flow.id, &apply, &mut rng)?;
/// assert_eq!(route.screen().unwrap().title, "証明書発行用パスワード入力");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl Entry for CertificateApplication {
    type Start = CertificateStart;

    /// The office's ledger entry and certificates (none without a logged-in user).
    fn entry_needs(user: Option<UserId>) -> Needs {
        match user {
            Some(user) => Needs::none()
                .record(certificates_key(user.office()))
                .ledger(user.office()),
            None => Needs::none(),
        }
    }

    fn entry(
        user: Option<UserId>,
        records: &Records,
        view: &View<'_>,
    ) -> Result<Screen, PortalError> {
        let menu = ChoosingAction::open(user, records, view.now, view.policy)?;
        Ok(menu.screen(view.now, view.policy))
    }

    fn parse_start(form: &Form) -> Result<CertificateStart, FlowError> {
        match form.button.as_str() {
            PRECAUTIONS => Ok(CertificateStart::ReadPrecautions),
            NEXT => Ok(CertificateStart::Next(parse_choice(form)?)),
            _ => Err(FlowError::other_button("ChoosingAction")),
        }
    }

    /// Opens 【証明書】 as [`ChoosingAction`] and applies the button pressed on the entry screen
    /// to it, as if the flow had existed. An office not in the ledger gets
    /// [`FlowError::NotInLedger`]; without a logged-in user, [`FlowError::NoSuchAccount`].
    fn begin<R: CryptoRng + ?Sized>(
        user: Option<UserId>,
        start: CertificateStart,
        records: &Records,
        id: &FlowId,
        cx: &mut Cx<'_, R>,
    ) -> Result<Step<Next<CertificateApplication>>, PortalError> {
        let menu =
            CertificateApplication::from(ChoosingAction::open(user, records, cx.now, cx.policy)?);
        match start {
            CertificateStart::Open => Ok(stay(menu)),
            CertificateStart::ReadPrecautions => {
                menu.step(CertificateInput::ReadPrecautions, records, id, cx)
            }
            CertificateStart::Next(choice) => {
                menu.step(CertificateInput::Next(choice), records, id, cx)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Operator actions (OPS-06): pure, on the records the driver read; the driver commits them.

/// OPS-06: records a certificate `office` was issued before this crate kept the records
/// (migration, by the operator), valid through `end_date`, so FEE-05 reminds it. Returns the
/// record and the effects: the office's certificates to save and a `CertificateImported` event.
/// `records` must hold the office's certificates.
pub(crate) fn import(
    office: OfficeNumber,
    records: &Records,
    issued_at: Instant,
    end_date: NaiveDate,
    fee: Yen,
    now: Instant,
) -> Result<(Certificate, Vec<Effect>), StoreError> {
    let mut certificates = certificates_of(office, records)?;
    let certificate = certificates.import(issued_at, end_date, fee);
    let effects = vec![
        Effect::put(certificates_key(office), &certificates)?,
        Effect::Event(Event {
            at: now,
            kind: EventKind::CertificateImported {
                office,
                serial: certificate.serial,
            },
        }),
    ];
    Ok((certificate, effects))
}

/// FEE-05, OPS-06: the renewal お知らせ of every certificate of `office` due at `now`, once each:
/// the certificates reminded and the effects (the certificates marked and saved, a notice and a
/// `RenewalReminded` event each); none when nothing is due. `records` must hold the office's
/// certificates.
pub(crate) fn remind(
    office: OfficeNumber,
    records: &Records,
    now: Instant,
    policy: &Policy,
) -> Result<(Vec<Certificate>, Vec<Effect>), StoreError> {
    let mut certificates = certificates_of(office, records)?;
    let (reminded, mut effects) = certificates.remind(office, now, policy);
    if !reminded.is_empty() {
        effects.insert(0, Effect::put(certificates_key(office), &certificates)?);
    }
    Ok((reminded, effects))
}

/// What the driver reads for an operator action on `office`'s certificates.
pub(crate) fn operator_needs(office: OfficeNumber) -> Needs {
    Needs::none().record(certificates_key(office))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::utc;
    use crate::policy::Policy;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// FEE-05 [F]: valid 3 years from issue; leap day and year ends; no panic at the calendar's
    /// edges.
    #[test]
    fn fee_05_end_date() {
        assert_eq!(end_date(day(2025, 12, 20), 3), day(2028, 12, 19));
        assert_eq!(end_date(day(2026, 1, 1), 3), day(2028, 12, 31));
        assert_eq!(end_date(day(2028, 2, 29), 3), day(2031, 2, 28));
        assert_eq!(end_date(day(2028, 2, 29), 4), day(2032, 2, 28));
        assert_eq!(end_date(NaiveDate::MAX, 3), NaiveDate::MAX);
        assert_eq!(end_date(day(2026, 4, 1), u32::MAX), NaiveDate::MAX);
    }

    /// CAL-05, CAL-06: the notice sentences are policy data, printed unpadded with 円 amounts.
    #[test]
    fn cal_06_fee_notice_is_built_from_policy_data() {
        let later = FeeSchedule {
            before: Yen(7_800),
            change_day: day(2027, 10, 1),
            after: Yen(12_345),
        };
        let n = FeeNotice::new(later);
        assert_eq!(
            n.announcement(),
            "2027年10月1日より、証明書発行手数料が7,800円から12,345円に変更されます。"
        );
        assert_eq!(
            n.application(),
            "2027年10月1日以降に発行申請した証明書から、変更後の手数料（12,345円）が適用されます。"
        );
        assert_eq!(
            n.question(),
            "変更前の手数料（7,800円）で発行申請します。よろしいですか？"
        );
    }

    /// FEE-05: the renewal period starts 90 days before the end date (JST, inclusive), ends with it,
    /// and a renewed certificate leaves it.
    #[test]
    fn fee_05_renewal_period() {
        let policy = Policy::default();
        let mut certs = Certificates::default();
        certs.import(
            utc("2023-04-01T10:00:00+09:00"),
            day(2026, 3, 31),
            Yen(13_200),
        );
        let due = |certs: &Certificates, t| certs.due_for_renewal(utc(t), &policy).len();
        assert_eq!(due(&certs, "2025-12-30T23:59:59+09:00"), 0);
        assert_eq!(due(&certs, "2025-12-30T14:59:59Z"), 0);
        assert_eq!(due(&certs, "2025-12-31T00:00:00+09:00"), 1);
        assert_eq!(due(&certs, "2025-12-30T15:00:00Z"), 1);
        assert_eq!(due(&certs, "2026-03-31T23:59:59+09:00"), 1);
        assert_eq!(due(&certs, "2026-04-01T00:00:00+09:00"), 0);
        let mut renewed = certs.clone();
        renewed.import(
            utc("2026-02-10T10:00:00+09:00"),
            day(2029, 2, 9),
            Yen(13_200),
        );
        assert!(
            renewed
                .due_for_renewal(utc("2026-02-11T00:00:00+09:00"), &policy)
                .is_empty()
        );
        let office = "1311111111".parse().unwrap();
        let (first, _) = certs.remind(office, utc("2026-01-05T09:00:00+09:00"), &policy);
        assert_eq!(first.len(), 1);
        assert_eq!(due(&certs, "2026-01-06T09:00:00+09:00"), 0);
        assert_eq!(
            certs
                .in_renewal_period(utc("2026-01-06T09:00:00+09:00"), &policy)
                .len(),
            1
        );
    }
}

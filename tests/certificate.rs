//! 介護保険証明書 (source 1.2.3): the fee, the notice, the consent dialog, estimates and renewal
//! reminders, driven through the [`Portal`] on a virtual clock (FEE-01 … FEE-06, CAL-03, CAL-04,
//! CAL-06).

use chrono::{NaiveDate, TimeDelta};
use kaigo_seikyu::calendar::{Instant, utc};
use kaigo_seikyu::certificate::{CertificateApplication, CertificateInput, MenuChoice};
use kaigo_seikyu::effect::EventKind;
use kaigo_seikyu::error::{FlowError, PortalError};
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::{Portal, Route};
use kaigo_seikyu::ports::OfficeRecord;
use kaigo_seikyu::screen::{FieldKind, Form, FormError, Node, Screen, ScreenKind, button};
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::store::FlowId;
use kaigo_seikyu::values::{OfficeNumber, PasswordClause, Prefecture, UserId, ValueError, Yen};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

const PASSWORD: &str = "Hakko2026!";
const NOTICE_1: &str = "2026年4月1日より、証明書発行手数料が13,200円から7,800円に変更されます。";
const NOTICE_2: &str =
    "2026年4月1日以降に発行申請した証明書から、変更後の手数料（7,800円）が適用されます。";

struct Office {
    host: Embedded,
    portal: Portal,
    user: UserId,
    rng: StdRng,
}

impl Office {
    /// 請求事業所 A (1311111111), logged in as KJ131311111111, at `now`.
    fn at(now: &str) -> Self {
        let host = Embedded::new(utc(now));
        let user: UserId = "KJ131311111111".parse().unwrap();
        host.ledger.insert(OfficeRecord {
            number: user.office(),
            name: "請求事業所 A".into(),
            postal_address: "東京都千代田区".into(),
            phone: "03-0000-0000".into(),
            billing: vec![Prefecture::TOKYO],
        });
        let portal = host.portal(
            Policy::insecure_fast_hashing(),
            CodeKey::from_bytes([9; 32]),
        );
        Office {
            host,
            portal,
            user,
            rng: StdRng::seed_from_u64(7),
        }
    }

    fn office(&self) -> OfficeNumber {
        self.user.office()
    }

    fn set(&self, now: &str) {
        self.host.clock.set(utc(now));
    }

    fn start(&mut self) -> (FlowId, Screen) {
        self.portal
            .certificate_start(&self.user, &mut self.rng)
            .unwrap()
    }

    fn input(&mut self, id: &FlowId, input: CertificateInput) -> Result<Screen, PortalError> {
        self.portal
            .certificate_input(&self.user, id, input, &mut self.rng)
    }

    fn password(
        &mut self,
        id: &FlowId,
        password: &str,
        confirm: &str,
    ) -> Result<Screen, PortalError> {
        self.portal
            .certificate_password(&self.user, id, password, confirm, &mut self.rng)
    }

    /// 手順 1–2: 【証明書】, `発行申請を行う前に`, `証明書の発行申請をする`, the password: 【送信確認(証明書)】.
    fn up_to_confirmation(&mut self) -> (FlowId, Screen) {
        let (id, _) = self.start();
        self.input(&id, CertificateInput::ReadPrecautions).unwrap();
        self.input(&id, CertificateInput::Next(MenuChoice::Apply))
            .unwrap();
        let confirm = self.password(&id, PASSWORD, PASSWORD).unwrap();
        (id, confirm)
    }

    fn fees_charged(&self) -> Vec<Yen> {
        self.portal
            .certificates(&self.office())
            .unwrap()
            .iter()
            .map(|c| c.fee)
            .collect()
    }

    fn events(&self) -> Vec<EventKind> {
        self.host.events.all().into_iter().map(|e| e.kind).collect()
    }
}

fn refused(result: Result<Screen, PortalError>) -> FlowError {
    match result {
        Err(PortalError::Flow(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The value `screen` shows read-only under 《label》 (the transcript's `《label》 value`).
fn shown<'a>(screen: &'a Screen, label: &str) -> Option<&'a str> {
    screen
        .fields()
        .find(|f| f.kind == FieldKind::Shown && f.label == label)
        .and_then(|f| f.value.as_deref())
}

/// FEE-08: whether `screen` shows the precautions (the [?] help `発行申請を行う前に`, with the
/// policy's text).
fn precautions_shown(screen: &Screen) -> bool {
    screen.helps().any(|h| {
        h.title == "発行申請を行う前に" && h.body == Policy::insecure_fast_hashing().precautions
    })
}

/// Where in `screen`'s nodes the first text containing `text` stands, or with `[label]`, the
/// first button labelled `label`.
fn position(screen: &Screen, text: &str) -> usize {
    let button = text.strip_prefix('[').and_then(|t| t.strip_suffix(']'));
    screen
        .nodes
        .iter()
        .position(|n| match (n, button) {
            (Node::Text(t), None) => t.text.contains(text),
            (Node::Button(b), Some(label)) => b.label == label,
            _ => false,
        })
        .unwrap_or_else(|| panic!("{text} not on {}", screen.title))
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The source's procedure on three days.

/// FEE-01, FEE-02, FEE-03, FEE-04: 2025-12-20, before the notice window: no notice on either
/// screen, no dialog, 13,200円 charged.
#[test]
fn 手順_fee_01_fee_02_fee_03_2025_12_20_before_the_window() {
    let mut o = Office::at("2025-12-20T10:00:00+09:00");
    // 手順 1. 【証明書】
    let (id, menu) = o.start();
    assert!(!menu.shows(NOTICE_1) && !menu.shows(NOTICE_2));
    insta::assert_snapshot!("fee_02_menu_outside_window", menu.to_string());
    // 手順 2. 「発行申請を行う前に」を確認し、証明書の発行申請をする → 【証明書発行用パスワード入力】
    let menu = o.input(&id, CertificateInput::ReadPrecautions).unwrap();
    assert!(precautions_shown(&menu), "FEE-08: the precautions shown");
    let password = o
        .input(&id, CertificateInput::Next(MenuChoice::Apply))
        .unwrap();
    insta::assert_snapshot!("fee_password_screen", password.to_string());
    let fields: Vec<(&str, FieldKind, &str)> = password
        .fields()
        .map(|f| (f.name, f.kind, f.label.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("password", FieldKind::Password, "証明書発行用パスワード"),
            (
                "confirm_password",
                FieldKind::Password,
                "証明書発行用パスワード（確認用）"
            ),
        ]
    );
    // 手順 3. 【送信確認(証明書)】
    let confirm = o.password(&id, PASSWORD, PASSWORD).unwrap();
    assert!(!confirm.shows("重要なお知らせ") && !confirm.shows(NOTICE_1));
    insta::assert_snapshot!("fee_02_confirmation_outside_window", confirm.to_string());
    // 手順 4. 利用規約に同意して送信: no dialog outside the window; 【処理終了】.
    let done = o.input(&id, CertificateInput::AgreeAndSubmit).unwrap();
    insta::assert_snapshot!("fee_01_done_13200", done.to_string());
    assert_eq!(o.fees_charged(), vec![Yen(13_200)]);
    let certs = o.portal.certificates(&o.office()).unwrap();
    assert_eq!(certs.iter().next().unwrap().end_date, day(2028, 12, 19));
    assert_eq!(
        o.events(),
        vec![EventKind::CertificateApplied {
            office: o.office(),
            fee: Yen(13_200)
        }]
    );
    assert_eq!(
        refused(o.input(&id, CertificateInput::AgreeAndSubmit)),
        FlowError::FlowFinished
    );
}

/// FEE-02, FEE-03, CAL-03, CAL-06: 2026-02-10, in the window: the notice on 【証明書】 (with ※)
/// and under 重要なお知らせ on 【送信確認(証明書)】, the dialog with OK / キャンセル; OK submits at
/// 13,200円 and records the consent.
#[test]
fn 手順_fee_02_fee_03_2026_02_10_notice_dialog_ok() {
    let mut o = Office::at("2026-02-10T10:00:00+09:00");
    let (id, menu) = o.start();
    assert!(menu.shows(&format!("※{NOTICE_1}")) && menu.shows(NOTICE_2));
    insta::assert_snapshot!("fee_02_menu_in_window", menu.to_string());
    // The choice is a radio group showing the chosen option (the source's default); the
    // `発行申請を行う前に ?` button stands between the precautions and the notice, `次へ` last.
    let choice = menu.field_named("choice").unwrap();
    assert_eq!(
        (choice.kind, choice.value.as_deref()),
        (FieldKind::Radio, Some("estimate"))
    );
    let options: Vec<(&str, &str)> = choice
        .options
        .iter()
        .map(|o| (o.value.as_str(), o.label.as_str()))
        .collect();
    assert_eq!(
        options,
        [
            ("estimate", "見積書を作成する（必要な場合のみ）"),
            ("apply", "証明書の発行申請をする")
        ]
    );
    let order = [
        "確認せずに証明書の発行申請は行えません。",
        "[発行申請を行う前に ?]",
        NOTICE_1,
        NOTICE_2,
        "[次へ]",
    ]
    .map(|t| position(&menu, t));
    assert!(order.is_sorted(), "{order:?}");
    assert_eq!(
        menu.button_named("発行申請を行う前に ?"),
        Some("precautions")
    );
    o.input(&id, CertificateInput::ReadPrecautions).unwrap();
    o.input(&id, CertificateInput::Next(MenuChoice::Apply))
        .unwrap();
    let confirm = o.password(&id, PASSWORD, PASSWORD).unwrap();
    assert!(confirm.shows("重要なお知らせ") && confirm.shows(NOTICE_1) && confirm.shows(NOTICE_2));
    assert!(!confirm.shows(&format!("※{NOTICE_1}")));
    insta::assert_snapshot!("fee_02_confirmation_in_window", confirm.to_string());
    assert_eq!((confirm.title.as_str(), confirm.current), ("送信確認", 1));
    assert_eq!(
        confirm.button_named("利用規約に同意して送信"),
        Some("agree_and_send")
    );
    let dialog = o.input(&id, CertificateInput::AgreeAndSubmit).unwrap();
    assert!(dialog.shows("変更前の手数料（13,200円）で発行申請します。よろしいですか？"));
    assert!(dialog.offers("OK") && dialog.offers("キャンセル"));
    insta::assert_snapshot!("fee_03_dialog", dialog.to_string());
    assert_eq!(dialog.kind, ScreenKind::Dialog);
    assert!(dialog.steps.is_empty());
    let buttons: Vec<&str> = dialog.buttons().map(|b| b.name).collect();
    assert_eq!(buttons, ["ok", "cancel"]);
    assert!(
        o.fees_charged().is_empty(),
        "the dialog submits nothing by itself"
    );
    let done = o.input(&id, CertificateInput::DialogOk).unwrap();
    assert_eq!(shown(&done, "発行手数料"), Some("13,200円"));
    assert_eq!(o.fees_charged(), vec![Yen(13_200)]);
    assert_eq!(
        o.events(),
        vec![
            EventKind::FeeConsented {
                office: o.office(),
                fee: Yen(13_200)
            },
            EventKind::CertificateApplied {
                office: o.office(),
                fee: Yen(13_200)
            },
        ]
    );
}

/// FEE-03: キャンセル submits nothing and returns to 【送信確認(証明書)】; OK is not an input there
/// (no consent without the dialog); pressing 送信 again asks again.
#[test]
fn 手順_fee_03_2026_02_10_dialog_cancel_submits_nothing() {
    let mut o = Office::at("2026-02-10T10:00:00+09:00");
    let (id, confirm) = o.up_to_confirmation();
    o.input(&id, CertificateInput::AgreeAndSubmit).unwrap();
    let back = o.input(&id, CertificateInput::DialogCancel).unwrap();
    assert_eq!(back, confirm);
    assert!(o.fees_charged().is_empty());
    assert!(o.events().is_empty());
    let before = o.host.store.snapshot();
    assert!(matches!(
        refused(o.input(&id, CertificateInput::DialogOk)),
        FlowError::UnexpectedInput {
            state: "ConfirmingSubmission",
            input: "DialogOk"
        }
    ));
    assert_eq!(o.host.store.snapshot(), before);
    let dialog = o.input(&id, CertificateInput::AgreeAndSubmit).unwrap();
    assert!(dialog.offers("OK"));
    assert!(o.fees_charged().is_empty());
}

/// FEE-01, CAL-04: 2026-04-01, after the change: no notice, no dialog, 7,800円.
#[test]
fn 手順_fee_01_2026_04_01_new_fee() {
    let mut o = Office::at("2026-04-01T09:00:00+09:00");
    let (id, menu) = o.start();
    assert!(!menu.shows(NOTICE_1));
    o.input(&id, CertificateInput::ReadPrecautions).unwrap();
    o.input(&id, CertificateInput::Next(MenuChoice::Apply))
        .unwrap();
    let confirm = o.password(&id, PASSWORD, PASSWORD).unwrap();
    assert_eq!(shown(&confirm, "発行手数料"), Some("7,800円"));
    assert!(!confirm.shows("重要なお知らせ"));
    let done = o.input(&id, CertificateInput::AgreeAndSubmit).unwrap();
    insta::assert_snapshot!("fee_01_done_7800", done.to_string());
    assert_eq!(o.fees_charged(), vec![Yen(7_800)]);
}

// ---------------------------------------------------------------------------------------------
// Boundaries (CAL-03, CAL-04) in JST and in UTC.

/// CAL-03, CAL-04, FEE-01, FEE-02, FEE-03: at each edge of the window and of the fee change, written
/// in JST and in UTC, the notice shows on both screens exactly within the window, the dialog
/// appears exactly within it, and the fee charged is the fee of the instant.
#[test]
fn cal_03_cal_04_fee_02_fee_03_boundaries_jst_and_utc() {
    let cases = [
        ("2025-12-31T23:59:59+09:00", false, 13_200),
        ("2025-12-31T14:59:59Z", false, 13_200),
        ("2026-01-01T00:00:00+09:00", true, 13_200),
        ("2025-12-31T15:00:00Z", true, 13_200),
        ("2026-03-31T23:59:59+09:00", true, 13_200),
        ("2026-03-31T14:59:59Z", true, 13_200),
        ("2026-04-01T00:00:00+09:00", false, 7_800),
        ("2026-03-31T15:00:00Z", false, 7_800),
    ];
    for (at, in_window, fee) in cases {
        let mut o = Office::at(at);
        let (_, menu) = o.start();
        assert_eq!(
            menu.shows(&format!("※{NOTICE_1}")) && menu.shows(NOTICE_2),
            in_window,
            "{at}"
        );
        let (id, confirm) = o.up_to_confirmation();
        assert_eq!(
            confirm.shows("重要なお知らせ") && confirm.shows(NOTICE_1),
            in_window,
            "{at}"
        );
        assert_eq!(
            shown(&confirm, "発行手数料"),
            Some(Yen(fee).to_string().as_str()),
            "{at}"
        );
        let after_submit = o.input(&id, CertificateInput::AgreeAndSubmit).unwrap();
        assert_eq!(after_submit.offers("OK"), in_window, "{at}");
        if in_window {
            o.input(&id, CertificateInput::DialogOk).unwrap();
        }
        assert_eq!(o.fees_charged(), vec![Yen(fee)], "{at}");
    }
}

/// FEE-01: a 【送信確認(証明書)】 drawn at 2026-03-31T23:59:59+09:00 says 13,200円 with the notice;
/// submitted a second later it charges 7,800円, with no dialog.
#[test]
fn fee_01_drawn_before_midnight_submitted_after() {
    let mut o = Office::at("2026-03-31T23:59:59+09:00");
    let (id, confirm) = o.up_to_confirmation();
    assert_eq!(shown(&confirm, "発行手数料"), Some("13,200円"));
    assert!(confirm.shows(NOTICE_1));
    o.host.clock.advance(TimeDelta::seconds(1));
    let done = o.input(&id, CertificateInput::AgreeAndSubmit).unwrap();
    assert_eq!(shown(&done, "発行手数料"), Some("7,800円"));
    assert_eq!(o.fees_charged(), vec![Yen(7_800)]);
}

/// FEE-01, FEE-03: the dialog opened at 23:59:59 on 2026-03-31 and OK pressed at 00:00 on
/// 2026-04-01: the fee of the OK instant, 7,800円, and no old-fee consent recorded.
#[test]
fn fee_01_fee_03_dialog_ok_after_midnight_charges_the_new_fee() {
    let mut o = Office::at("2026-03-31T23:59:59+09:00");
    let (id, _) = o.up_to_confirmation();
    o.input(&id, CertificateInput::AgreeAndSubmit).unwrap();
    o.set("2026-04-01T00:00:00+09:00");
    let done = o.input(&id, CertificateInput::DialogOk).unwrap();
    assert_eq!(shown(&done, "発行手数料"), Some("7,800円"));
    assert_eq!(o.fees_charged(), vec![Yen(7_800)]);
    assert_eq!(
        o.events(),
        vec![EventKind::CertificateApplied {
            office: o.office(),
            fee: Yen(7_800)
        }]
    );
}

/// FEE-03: drawn at 2025-12-31T23:59:59+09:00 without notice, submitted at 00:00 on 2026-01-01:
/// the dialog asks first; nothing is submitted without OK.
#[test]
fn fee_03_drawn_before_the_window_submitted_in_it() {
    let mut o = Office::at("2025-12-31T23:59:59+09:00");
    let (id, confirm) = o.up_to_confirmation();
    assert!(!confirm.shows(NOTICE_1));
    o.set("2026-01-01T00:00:00+09:00");
    let dialog = o.input(&id, CertificateInput::AgreeAndSubmit).unwrap();
    assert!(dialog.offers("OK") && dialog.offers("キャンセル"));
    assert!(o.fees_charged().is_empty());
    let redrawn = o.portal.certificate_screen(&o.user, &id).unwrap();
    assert_eq!(redrawn, dialog);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    /// FEE-01, FEE-03, CAL-03, CAL-04: for any draw, submit and OK instants (in that order, around
    /// the policy's dates), the dialog appears exactly when the submit instant is in the window,
    /// and the fee charged is the fee at the instant the application is submitted.
    #[test]
    fn fee_01_fee_03_fee_is_the_submit_instants(
        draw in kaigo_seikyu::strategies::instant_around(&Policy::default()),
        to_submit in prop_oneof![Just(0i64), Just(1), 0i64..200_000_000],
        to_ok in prop_oneof![Just(0i64), Just(1), 0i64..200_000_000],
    ) {
        let policy = Policy::default();
        let mut o = Office::at(&draw.to_rfc3339());
        let (id, confirm) = o.up_to_confirmation();
        let fee = policy.fee_at(draw).to_string();
        prop_assert_eq!(shown(&confirm, "発行手数料"), Some(fee.as_str()));
        let submit: Instant = draw + TimeDelta::milliseconds(to_submit);
        o.host.clock.set(submit);
        let screen = o.input(&id, CertificateInput::AgreeAndSubmit).unwrap();
        let dialog = screen.offers("OK");
        prop_assert_eq!(dialog, policy.in_fee_notice_window(submit));
        let submitted = if dialog {
            let ok = submit + TimeDelta::milliseconds(to_ok);
            o.host.clock.set(ok);
            o.input(&id, CertificateInput::DialogOk).unwrap();
            ok
        } else {
            submit
        };
        prop_assert_eq!(o.fees_charged(), vec![policy.fee_at(submitted)]);
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input: a clear error, nothing submitted, nothing changed.

/// FEE-04: the application is refused until `発行申請を行う前に` has been read; nothing changes.
/// The estimate needs no reading.
#[test]
fn fee_04_application_needs_the_precautions() {
    let mut o = Office::at("2026-02-10T10:00:00+09:00");
    let (id, menu) = o.start();
    assert!(
        menu.shows("確認せずに証明書の発行申請は行えません。")
            && menu.offers("発行申請を行う前に ?")
    );
    let before = o.host.store.snapshot();
    let e = refused(o.input(&id, CertificateInput::Next(MenuChoice::Apply)));
    assert_eq!(e, FlowError::PrecautionsNotRead);
    assert_eq!(e.message(), "確認せずに証明書の発行申請は行えません。");
    assert_eq!(o.host.store.snapshot(), before);
    assert_eq!(o.portal.certificate_screen(&o.user, &id).unwrap(), menu);
    o.input(&id, CertificateInput::ReadPrecautions).unwrap();
    let password = o
        .input(&id, CertificateInput::Next(MenuChoice::Apply))
        .unwrap();
    assert_eq!(password.title, "証明書発行用パスワード入力");
    // 戻る keeps the reading.
    o.input(&id, CertificateInput::Back).unwrap();
    assert!(
        o.input(&id, CertificateInput::Next(MenuChoice::Apply))
            .is_ok()
    );
}

/// FEE-04: an input out of order is refused in every state, and changes nothing.
#[test]
fn fee_04_inputs_out_of_order_change_nothing() {
    let mut o = Office::at("2026-02-10T10:00:00+09:00");
    let (id, _) = o.start();
    let steps: Vec<(CertificateInput, &[CertificateInput])> = vec![
        (
            CertificateInput::ReadPrecautions,
            &[
                CertificateInput::AgreeAndSubmit,
                CertificateInput::DialogOk,
                CertificateInput::Back,
            ],
        ),
        (CertificateInput::Next(MenuChoice::Apply), &[]),
        (
            CertificateInput::Back,
            &[
                CertificateInput::AgreeAndSubmit,
                CertificateInput::DialogOk,
                CertificateInput::DialogCancel,
            ],
        ),
        (CertificateInput::Next(MenuChoice::Apply), &[]),
    ];
    for (go, wrong) in steps {
        for w in wrong {
            let before = o.host.store.snapshot();
            assert!(
                matches!(
                    refused(o.input(&id, w.clone())),
                    FlowError::UnexpectedInput { .. }
                ),
                "{w:?}"
            );
            assert_eq!(o.host.store.snapshot(), before);
        }
        o.input(&id, go).unwrap();
    }
    o.password(&id, PASSWORD, PASSWORD).unwrap();
    for w in [
        CertificateInput::Next(MenuChoice::Apply),
        CertificateInput::DialogCancel,
        CertificateInput::ReadPrecautions,
    ] {
        let before = o.host.store.snapshot();
        assert!(matches!(
            refused(o.input(&id, w)),
            FlowError::UnexpectedInput { .. }
        ));
        assert_eq!(o.host.store.snapshot(), before);
    }
    o.input(&id, CertificateInput::AgreeAndSubmit).unwrap();
    for w in [CertificateInput::AgreeAndSubmit, CertificateInput::Back] {
        let e = refused(o.input(&id, w));
        assert_eq!(e.message(), "この画面では行えない操作です。");
    }
    assert!(o.fees_charged().is_empty());
}

/// VAL-05, VAL-06, SEC-06: the certificate password obeys the password policy and must equal its
/// confirmation; over-long, full-width and arbitrary input is a clear error, nothing changes.
#[test]
fn val_05_val_06_certificate_password_is_checked() {
    let mut o = Office::at("2026-02-10T10:00:00+09:00");
    let (id, _) = o.start();
    o.input(&id, CertificateInput::ReadPrecautions).unwrap();
    o.input(&id, CertificateInput::Next(MenuChoice::Apply))
        .unwrap();
    let before = o.host.store.snapshot();
    let long = "a1".repeat(100_000);
    let cases: [(&str, &str, FlowError); 6] = [
        (PASSWORD, "Hakko2026?", FlowError::ConfirmationMismatch),
        (
            "Ab1",
            "Ab1",
            FlowError::Value(ValueError::Password(PasswordClause::Length {
                min: 8,
                max: 16,
            })),
        ),
        (
            &long,
            &long,
            FlowError::Value(ValueError::Password(PasswordClause::Length {
                min: 8,
                max: 16,
            })),
        ),
        (
            "Ｈａｋｋｏ２０２６",
            "Ｈａｋｋｏ２０２６",
            FlowError::Value(ValueError::Password(PasswordClause::Characters)),
        ),
        (
            "kj131311111111",
            "kj131311111111",
            FlowError::Value(ValueError::Password(PasswordClause::SameAsUserId)),
        ),
        (
            "\u{0}\u{ffff}abc12345",
            "\u{0}\u{ffff}abc12345",
            FlowError::Value(ValueError::Password(PasswordClause::Characters)),
        ),
    ];
    for (password, confirm, expected) in cases {
        assert_eq!(refused(o.password(&id, password, confirm)), expected);
        assert_eq!(o.host.store.snapshot(), before);
    }
    assert_eq!(
        refused(o.password(&id, PASSWORD, "Hakko2026?")).message(),
        "確認用の入力内容が一致しません。"
    );
}

/// SEC-01: the certificate password never appears in the store, a screen, an event or `Debug`;
/// only its argon2id hash is kept.
#[test]
fn sec_01_the_certificate_password_is_never_kept() {
    let mut o = Office::at("2026-02-10T10:00:00+09:00");
    let (id, confirm) = o.up_to_confirmation();
    let dialog = o.input(&id, CertificateInput::AgreeAndSubmit).unwrap();
    let done = o.input(&id, CertificateInput::DialogOk).unwrap();
    for screen in [&confirm, &dialog, &done] {
        assert!(!screen.to_string().contains(PASSWORD));
    }
    for (key, record) in o.host.store.snapshot() {
        let text = String::from_utf8_lossy(&record.value);
        assert!(!text.contains(PASSWORD), "{key}: {text}");
    }
    assert!(!format!("{:?}", o.host.events.all()).contains(PASSWORD));
    let certs = o.portal.certificates(&o.office()).unwrap();
    let cert = certs.iter().next().unwrap();
    assert!(
        cert.password
            .as_ref()
            .unwrap()
            .as_phc()
            .starts_with("$argon2id$")
    );
    assert!(!format!("{certs:?}").contains("argon2id"));
}

/// The flow belongs to the user who started it; an office not in the ledger gets a clear error.
#[test]
fn fee_04_flow_belongs_to_its_user() {
    let mut o = Office::at("2026-02-10T10:00:00+09:00");
    let (id, _) = o.start();
    let other: UserId = "KJ271311111111".parse().unwrap();
    let r = o
        .portal
        .certificate_input(&other, &id, CertificateInput::ReadPrecautions, &mut o.rng);
    assert_eq!(r, Err(PortalError::NoSuchFlow));
    assert_eq!(
        o.portal.certificate_screen(&other, &id),
        Err(PortalError::NoSuchFlow)
    );
    let stranger: UserId = "KJ132711111111".parse().unwrap();
    assert_eq!(
        o.portal
            .certificate_start(&stranger, &mut o.rng)
            .map(|_| ()),
        Err(PortalError::Flow(FlowError::NotInLedger))
    );
}

// ---------------------------------------------------------------------------------------------
// FEE-05: renewal reminders.

/// FEE-05: a certificate applied for on 2025-12-20 ends 2028-12-19; its reminder is posted from
/// 2028-09-20 (90 days before, JST, inclusive), once, with the event; 【証明書】 shows the message.
#[test]
fn fee_05_reminded_from_90_days_before_once() {
    let mut o = Office::at("2025-12-20T10:00:00+09:00");
    let (id, _) = o.up_to_confirmation();
    o.input(&id, CertificateInput::AgreeAndSubmit).unwrap();
    let office = o.office();
    o.set("2028-09-19T23:59:59+09:00");
    assert!(o.portal.certificate_reminders(&office).unwrap().is_empty());
    let (_, menu) = o.start();
    assert!(!menu.shows("有効終了年月日が"));
    o.set("2028-09-19T15:00:00Z");
    let reminded = o.portal.certificate_reminders(&office).unwrap();
    assert_eq!(reminded.len(), 1);
    assert_eq!(reminded[0].end_date, day(2028, 12, 19));
    let notices = o.host.notices.for_office(&office);
    assert_eq!(notices.len(), 1);
    insta::assert_snapshot!(
        "fee_05_renewal_notice",
        format!("{}\n---\n{}", notices[0].title, notices[0].body)
    );
    // Once: the same day, the next day and the last day post nothing more.
    for at in [
        "2028-09-20T12:00:00+09:00",
        "2028-10-01T09:00:00+09:00",
        "2028-12-19T23:59:59+09:00",
    ] {
        o.set(at);
        assert!(o.portal.certificate_reminders(&office).unwrap().is_empty());
    }
    assert_eq!(o.host.notices.for_office(&office).len(), 1);
    let reminders = o
        .events()
        .into_iter()
        .filter(|e| matches!(e, EventKind::RenewalReminded { .. }))
        .count();
    assert_eq!(reminders, 1);
    // The message on 【証明書】 stays for the whole renewal period.
    let (_, menu) = o.start();
    insta::assert_snapshot!("fee_05_menu_with_renewal_message", menu.to_string());
    o.set("2028-12-20T00:00:00+09:00");
    let (_, menu) = o.start();
    assert!(!menu.shows("有効終了年月日が"));
}

/// FEE-05, FEE-02: of two existing certificates, the one ending 2026-05-31 is reminded from
/// 2026-03-02, inside the notice window, so its お知らせ carries the fee-change notice; the other,
/// applied for earlier, does not count as its renewal. An application within a certificate's
/// renewal period renews it (its message goes); one before the period does not silence it.
#[test]
fn fee_05_reminder_in_the_window_and_renewed_certificates() {
    let mut o = Office::at("2026-03-01T23:59:59+09:00");
    let office = o.office();
    o.portal
        .certificate_import(
            &office,
            utc("2023-06-01T10:00:00+09:00"),
            day(2026, 5, 31),
            Yen(13_200),
        )
        .unwrap();
    o.portal
        .certificate_import(
            &office,
            utc("2023-09-01T10:00:00+09:00"),
            day(2026, 8, 31),
            Yen(13_200),
        )
        .unwrap();
    assert!(o.portal.certificate_reminders(&office).unwrap().is_empty());
    o.set("2026-03-02T00:00:00+09:00");
    let reminded = o.portal.certificate_reminders(&office).unwrap();
    assert_eq!(
        reminded.iter().map(|c| c.serial).collect::<Vec<_>>(),
        vec![1]
    );
    let notice = &o.host.notices.for_office(&office)[0];
    insta::assert_snapshot!(
        "fee_05_renewal_notice_in_window",
        format!("{}\n---\n{}", notice.title, notice.body)
    );
    let (_, menu) = o.start();
    assert!(menu.shows("※有効終了年月日が2026年5月31日の証明書があります。"));
    // The office renews on 2026-04-10 (7,800円): the first certificate is renewed.
    o.set("2026-04-10T10:00:00+09:00");
    let (id, _) = o.up_to_confirmation();
    o.input(&id, CertificateInput::AgreeAndSubmit).unwrap();
    let (_, menu) = o.start();
    assert!(!menu.shows("有効終了年月日が"));
    // The second one's period starts 2026-06-02, after that application: it is reminded, once.
    o.set("2026-06-01T23:59:59+09:00");
    assert!(o.portal.certificate_reminders(&office).unwrap().is_empty());
    o.set("2026-06-02T00:00:00+09:00");
    let reminded = o.portal.certificate_reminders(&office).unwrap();
    assert_eq!(
        reminded.iter().map(|c| c.serial).collect::<Vec<_>>(),
        vec![2]
    );
    assert!(o.portal.certificate_reminders(&office).unwrap().is_empty());
    assert_eq!(o.host.notices.for_office(&office).len(), 2);
}

/// FEE-05: two concurrent reminder runs post one reminder (compare-and-swap on the records).
#[test]
fn fee_05_concurrent_runs_post_once() {
    let o = Office::at("2026-01-05T09:00:00+09:00");
    let office = o.office();
    o.portal
        .certificate_import(
            &office,
            utc("2023-04-01T10:00:00+09:00"),
            day(2026, 3, 31),
            Yen(13_200),
        )
        .unwrap();
    let total: usize = std::thread::scope(|s| {
        let runs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| o.portal.certificate_reminders(&office).unwrap().len()))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).sum()
    });
    assert_eq!(total, 1);
    assert_eq!(o.host.notices.for_office(&office).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// FEE-06: estimates.

/// FEE-06: an estimate made in the window states 13,200円 and the notice; made on 2026-04-01 it
/// states 7,800円 without it. Drawn again after midnight it still states the fee of its day.
#[test]
fn fee_06_estimates_state_the_fee_of_their_day() {
    let mut o = Office::at("2026-03-31T23:59:59+09:00");
    let (id, _) = o.start();
    let estimate = o
        .input(&id, CertificateInput::Next(MenuChoice::Estimate))
        .unwrap();
    insta::assert_snapshot!("fee_06_estimate_in_window", estimate.to_string());
    o.set("2026-04-01T00:00:00+09:00");
    assert_eq!(o.portal.certificate_screen(&o.user, &id).unwrap(), estimate);
    let menu = o.input(&id, CertificateInput::Back).unwrap();
    assert!(!menu.shows(NOTICE_1));
    let estimate = o
        .input(&id, CertificateInput::Next(MenuChoice::Estimate))
        .unwrap();
    insta::assert_snapshot!("fee_06_estimate_after_change", estimate.to_string());
    assert!(
        o.fees_charged().is_empty(),
        "an estimate applies for nothing"
    );
    o.set("2025-12-31T23:59:59+09:00");
    let (id, _) = o.start();
    let estimate = o
        .input(&id, CertificateInput::Next(MenuChoice::Estimate))
        .unwrap();
    assert_eq!(shown(&estimate, "発行手数料"), Some("13,200円"));
    assert!(!estimate.shows(NOTICE_1));
}

// ---------------------------------------------------------------------------------------------
// The flow driven through the generic entry points only, with forms.

/// The forms of the flow's screens, by the names the screens declare.
mod forms {
    use kaigo_seikyu::screen::{Form, button};

    pub fn precautions() -> Form {
        Form::new("precautions").with("choice", "estimate")
    }

    pub fn next(choice: &str) -> Form {
        Form::new(button::NEXT).with("choice", choice)
    }

    pub fn password(password: &str, confirm: &str) -> Form {
        Form::new(button::NEXT)
            .with("password", password)
            .with("confirm_password", confirm)
    }

    pub fn agree() -> Form {
        Form::new("agree_and_send")
    }

    pub fn press(button: &str) -> Form {
        Form::new(button)
    }
}

impl Office {
    fn entry(&self) -> Result<Screen, PortalError> {
        self.portal
            .entry::<CertificateApplication>(Some(&self.user))
    }

    fn begin(&mut self, form: &Form) -> Result<Route, PortalError> {
        self.portal
            .begin::<CertificateApplication, _>(Some(&self.user), form, &mut self.rng)
    }

    fn submit(&mut self, id: &FlowId, form: &Form) -> Result<Route, PortalError> {
        self.portal.submit_to::<CertificateApplication, _>(
            Some(&self.user),
            id,
            form,
            &mut self.rng,
        )
    }

    /// Submits `form` and returns the flow's next screen (the flow goes on).
    fn on(&mut self, id: &FlowId, form: &Form) -> Screen {
        match self.submit(id, form) {
            Ok(Route::Flow { flow, screen }) => {
                assert_eq!(&flow.id, id);
                screen
            }
            other => panic!("expected the flow to go on, got {other:?}"),
        }
    }

    /// Begins the flow from the entry screen by reading the precautions.
    fn begun(&mut self) -> (FlowId, Screen) {
        match self.begin(&forms::precautions()) {
            Ok(Route::Flow { flow, screen }) => (flow.id, screen),
            other => panic!("expected the flow to begin, got {other:?}"),
        }
    }
}

fn form_refused(result: Result<Route, PortalError>) -> FormError {
    match result {
        Err(PortalError::Flow(FlowError::Form(e))) => e,
        other => panic!("expected a form error, got {other:?}"),
    }
}

/// 【証明書】 is the entry screen, drawn from the records; its buttons begin the flow. Through
/// the generic entry points with forms only, in the notice window: the precautions, the
/// application, the password, 利用規約に同意して送信, the dialog's OK, 【処理終了】 and 終了, which
/// ends the flow at 【証明書】.
#[test]
fn generic_forms_drive_the_application_through_the_dialog_to_the_end() {
    let mut o = Office::at("2026-02-10T10:00:00+09:00");
    let entry = o.entry().unwrap();
    let (_, started) = o.start();
    assert_eq!(
        entry, started,
        "the entry screen is the first state's screen"
    );
    assert!(o.host.store.snapshot().len() == 1);
    let (id, menu) = o.begun();
    assert!(precautions_shown(&menu), "FEE-08: the precautions shown");
    let password = o.on(&id, &forms::next("apply"));
    assert_eq!(password.title, "証明書発行用パスワード入力");
    let confirm = o.on(&id, &forms::password(PASSWORD, PASSWORD));
    assert_eq!(shown(&confirm, "発行手数料"), Some("13,200円"));
    let dialog = o.on(&id, &forms::agree());
    assert_eq!(dialog.kind, ScreenKind::Dialog);
    assert_eq!(o.on(&id, &forms::press(button::CANCEL)), confirm);
    o.on(&id, &forms::agree());
    let done = o.on(&id, &forms::press(button::OK));
    assert_eq!(done.title, "処理終了");
    assert_eq!(o.fees_charged(), vec![Yen(13_200)]);
    assert_eq!(
        o.events(),
        vec![
            EventKind::FeeConsented {
                office: o.office(),
                fee: Yen(13_200)
            },
            EventKind::CertificateApplied {
                office: o.office(),
                fee: Yen(13_200)
            },
        ]
    );
    let end = o.submit(&id, &forms::press(button::FINISH)).unwrap();
    let Route::Screen(menu) = end else {
        panic!("終了 ends the flow: {end:?}")
    };
    assert_eq!(menu, o.entry().unwrap());
    assert_eq!(
        o.portal.certificate_screen(&o.user, &id),
        Err(PortalError::NoSuchFlow)
    );
    assert_eq!(o.fees_charged(), vec![Yen(13_200)]);
}

/// Outside the window, by forms: an estimate begun from the entry screen and 戻る, the radio
/// showing the option chosen last, the application and 戻る from the password step, then the
/// submission without a dialog.
#[test]
fn generic_forms_estimate_back_and_apply_outside_the_window() {
    let mut o = Office::at("2026-04-01T09:00:00+09:00");
    let Route::Flow { flow, screen } = o.begin(&forms::next("estimate")).unwrap() else {
        panic!("the estimate begins the flow")
    };
    let id = flow.id;
    assert_eq!(screen.title, "見積書");
    assert_eq!(shown(&screen, "発行手数料"), Some("7,800円"));
    let menu = o.on(&id, &forms::press(button::BACK));
    let chosen = |s: &Screen| s.field_named("choice").and_then(|f| f.value.clone());
    assert_eq!(chosen(&menu).as_deref(), Some("estimate"));
    o.on(&id, &forms::precautions());
    o.on(&id, &forms::next("apply"));
    // The screen requires its fields whatever the button (Screen::accept), so 戻る carries them.
    let back = Form::new(button::BACK)
        .with("password", PASSWORD)
        .with("confirm_password", PASSWORD);
    let menu = o.on(&id, &back);
    assert_eq!(chosen(&menu).as_deref(), Some("apply"));
    assert!(precautions_shown(&menu), "FEE-08: the precautions shown");
    o.on(&id, &forms::next("apply"));
    o.on(&id, &forms::password(PASSWORD, PASSWORD));
    let done = o.on(&id, &forms::agree());
    assert_eq!(done.title, "処理終了");
    assert_eq!(o.fees_charged(), vec![Yen(7_800)]);
}

/// FEE-04 from the entry screen: applying before the flow exists is refused (the precautions
/// cannot have been read), and nothing is created. An office not in the ledger gets its error
/// on the entry screen too, and a caller with no logged-in user gets none.
#[test]
fn generic_entry_refuses_applying_before_reading_and_unknown_offices() {
    let mut o = Office::at("2026-02-10T10:00:00+09:00");
    assert_eq!(
        o.begin(&forms::next("apply")),
        Err(PortalError::Flow(FlowError::PrecautionsNotRead))
    );
    assert!(o.host.store.is_empty());
    let stranger: UserId = "KJ132711111111".parse().unwrap();
    assert_eq!(
        o.portal.entry::<CertificateApplication>(Some(&stranger)),
        Err(PortalError::Flow(FlowError::NotInLedger))
    );
    assert_eq!(
        o.portal.entry::<CertificateApplication>(None),
        Err(PortalError::Flow(FlowError::NoSuchAccount))
    );
    assert!(o.host.store.is_empty());
}

/// Bad forms get a clear error naming the field or button, and change nothing: an unknown
/// field, a missing required field, a button the screen does not offer, a value that is not one
/// of the radio's options, a value too long for its field, the host's own button, a form of
/// another user, a form sent to a finished flow.
#[test]
fn generic_bad_forms_name_the_field_and_change_nothing() {
    let mut o = Office::at("2026-02-10T10:00:00+09:00");
    assert_eq!(
        form_refused(o.begin(&forms::next("estimate").with("office", "1311111111"))),
        FormError::UnknownField("office".into())
    );
    assert_eq!(
        form_refused(o.begin(&forms::press(button::NEXT))),
        FormError::Missing("choice".into())
    );
    assert_eq!(
        form_refused(o.begin(&forms::next("Apply"))),
        FormError::NotAnOption("choice".into())
    );
    assert_eq!(
        form_refused(o.begin(&forms::agree().with("choice", "apply"))),
        FormError::NoSuchButton("agree_and_send".into())
    );
    assert!(o.host.store.is_empty());

    let (id, _) = o.begun();
    let cases: Vec<(Form, FormError)> = vec![
        (
            forms::next("apply").with("password", PASSWORD),
            FormError::UnknownField("password".into()),
        ),
        (forms::next(""), FormError::Missing("choice".into())),
        (
            forms::next("Apply"),
            FormError::NotAnOption("choice".into()),
        ),
        (
            forms::press(button::OK),
            FormError::NoSuchButton("ok".into()),
        ),
    ];
    for (form, expected) in cases {
        let before = o.host.store.snapshot();
        assert_eq!(form_refused(o.submit(&id, &form)), expected, "{form:?}");
        assert_eq!(o.host.store.snapshot(), before);
    }
    o.on(&id, &forms::next("apply"));
    let too_long = "a1".repeat(9);
    let cases: Vec<(Form, FormError)> = vec![
        (
            forms::press(button::NEXT).with("password", PASSWORD),
            FormError::Missing("confirm_password".into()),
        ),
        (
            forms::password(&too_long, &too_long),
            FormError::TooLong("password".into()),
        ),
        (
            forms::password(PASSWORD, PASSWORD).with("choice", "apply"),
            FormError::UnknownField("choice".into()),
        ),
    ];
    for (form, expected) in cases {
        let before = o.host.store.snapshot();
        assert_eq!(form_refused(o.submit(&id, &form)), expected, "{form:?}");
        assert_eq!(o.host.store.snapshot(), before);
    }
    // A password that breaks the policy is the flow's refusal; the field never comes back filled.
    let before = o.host.store.snapshot();
    assert_eq!(
        o.submit(&id, &forms::password(PASSWORD, "Hakko2026?")),
        Err(PortalError::Flow(FlowError::ConfirmationMismatch))
    );
    assert_eq!(o.host.store.snapshot(), before);
    let redrawn = o.portal.certificate_screen(&o.user, &id).unwrap();
    assert!(
        redrawn
            .fields()
            .filter(|f| f.kind == FieldKind::Password)
            .all(|f| f.value.is_none())
    );

    let confirm = o.on(&id, &forms::password(PASSWORD, PASSWORD));
    // 利用規約をダウンロード is the host's: a form pressing it is refused, nothing submitted.
    assert_eq!(
        confirm.button_named("利用規約をダウンロード"),
        Some("download_terms")
    );
    let before = o.host.store.snapshot();
    assert!(matches!(
        o.submit(&id, &forms::press("download_terms")),
        Err(PortalError::Flow(FlowError::UnexpectedInput { .. }))
    ));
    assert_eq!(o.host.store.snapshot(), before);
    // Another user's form is refused as no such flow.
    let other: UserId = "KJ271311111111".parse().unwrap();
    assert_eq!(
        o.portal.submit_to::<CertificateApplication, _>(
            Some(&other),
            &id,
            &forms::agree(),
            &mut o.rng
        ),
        Err(PortalError::NoSuchFlow)
    );
    assert_eq!(o.host.store.snapshot(), before);

    o.on(&id, &forms::agree());
    o.on(&id, &forms::press(button::OK));
    // 【処理終了】 offers 終了 only; once ended, the flow is gone.
    let before = o.host.store.snapshot();
    assert_eq!(
        form_refused(o.submit(&id, &forms::agree())),
        FormError::NoSuchButton("agree_and_send".into())
    );
    assert_eq!(o.host.store.snapshot(), before);
    o.submit(&id, &forms::press(button::FINISH)).unwrap();
    let before = o.host.store.snapshot();
    assert_eq!(
        o.submit(&id, &forms::press(button::FINISH)),
        Err(PortalError::NoSuchFlow)
    );
    assert_eq!(o.host.store.snapshot(), before);
    assert_eq!(o.fees_charged(), vec![Yen(13_200)]);
}

// ---------------------------------------------------------------------------------------------
// Operator actions: audited, with compare-and-swap.

/// The operator's import is audited (a `CertificateImported` event per certificate) and
/// committed with compare-and-swap: concurrent imports each get their own serial.
#[test]
fn certificate_import_is_audited_and_concurrent_imports_keep_every_certificate() {
    let o = Office::at("2026-01-05T09:00:00+09:00");
    let office = o.office();
    let serials: Vec<u32> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    o.portal
                        .certificate_import(
                            &office,
                            utc("2023-04-01T10:00:00+09:00"),
                            day(2026, 3, 31),
                            Yen(13_200),
                        )
                        .unwrap()
                        .serial
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let mut sorted = serials.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [1, 2, 3, 4]);
    assert_eq!(o.portal.certificates(&office).unwrap().len(), 4);
    let mut imported: Vec<u32> = o
        .events()
        .into_iter()
        .filter_map(|e| match e {
            EventKind::CertificateImported { office: at, serial } if at == office => Some(serial),
            _ => None,
        })
        .collect();
    imported.sort_unstable();
    assert_eq!(imported, [1, 2, 3, 4]);
}

//! ログイン情報再発行申請方法 (source 1.2.2 (4)) and the federation's review, on a virtual clock:
//! RI-01 … RI-10, VAL-08.

use chrono::TimeDelta;
use rand::SeedableRng;
use rand::rngs::StdRng;

use kaigo_seikyu::account::{Account, SecurityEmails, TermsAcceptance};
use kaigo_seikyu::calendar::{Instant, YearMonth, utc};
use kaigo_seikyu::effect::{Event, EventKind};
use kaigo_seikyu::error::{FlowError, PortalError};
use kaigo_seikyu::mail;
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::{Portal, Route};
use kaigo_seikyu::ports::OfficeRecord;
use kaigo_seikyu::reissue::{
    Applicant, ApplicationForm, ApplicationStatus, Decision, Federation, Input, Reissue,
    ReissueInput, ReissueLetter, ReissueStart, ReviewOutcome,
};
use kaigo_seikyu::screen::{FieldKind, Form, FormError, Screen};
use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, SecretHasher};
use kaigo_seikyu::store::{FlowId, FlowKind, Key, Store, StoreError, Write};
use kaigo_seikyu::values::{
    EmailAddress, ManagementNumber, OfficeNumber, PasswordRules, Prefecture, UserId, ValueError,
};

const KEY: [u8; 32] = [7; 32];
const OFFICE: &str = "1311111111";
const NOTIFY: &str = "jigyousho@jp";
const SECURITY_EMAIL: &str = "mailforsecurity-001@jp";
const OLD_PASSWORD: &str = "Sakura2026!";

fn start() -> Instant {
    utc("2026-01-10T10:00:00+09:00")
}

fn office() -> OfficeNumber {
    OFFICE.parse().unwrap()
}

fn addr(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

fn record(number: &str, billing: Vec<Prefecture>) -> OfficeRecord {
    OfficeRecord {
        number: number.parse().unwrap(),
        name: "請求事業所A".into(),
        postal_address: "東京都千代田区霞が関1-1-1".into(),
        phone: "03-0000-0000".into(),
        billing,
    }
}

/// The in-memory host at `at`, with 1311111111 in the ledger billing 東京都.
fn host_at(at: Instant, policy: Policy) -> (Embedded, Portal) {
    let host = Embedded::new(at);
    host.ledger.insert(record(OFFICE, vec![Prefecture::TOKYO]));
    let portal = host.portal(policy, CodeKey::from_bytes(KEY));
    (host, portal)
}

fn host() -> (Embedded, Portal) {
    host_at(start(), Policy::insecure_fast_hashing())
}

fn hasher() -> Argon2Hasher {
    Argon2Hasher::new(
        Policy::insecure_fast_hashing().hashing,
        CodeKey::from_bytes(KEY),
    )
}

fn form<'a>(office: &'a str, notify: &'a str) -> ApplicationForm<'a> {
    ApplicationForm {
        applicant: Applicant::Office,
        office_number: office,
        notify,
        notify_confirm: notify,
    }
}

/// An office that has used the portal: password, security code, a security email, a lock.
fn existing_account(portal: &Portal, user: UserId, rng: &mut StdRng) -> Account {
    let mut account = Account::new(user, portal.hash_secret(OLD_PASSWORD.as_bytes(), rng));
    account.security_code = Some(portal.hash_secret(b"7351", rng));
    account.failures = 3;
    account.locked_until = Some(portal.now() + TimeDelta::minutes(30));
    account.first_login_done = true;
    account.terms = Some(TermsAcceptance {
        version: portal.policy().terms_version,
        at: utc("2024-04-01T09:00:00+09:00"),
    });
    account.grace_eligible = true;
    let mut emails = SecurityEmails::default();
    emails.add(addr(SECURITY_EMAIL), portal.now()).unwrap();
    account.security_emails = emails;
    portal.create_account(account.clone()).unwrap();
    account
}

/// The code of the newest T1 mail to `to`, read as the user reads their inbox.
fn code_for(host: &Embedded, to: &str) -> String {
    let mail = host.outbox.last_to(addr(to)).expect("a mail");
    assert_eq!(mail.subject, "確認コード発行通知(介護保険)");
    mail.code().expect("the code").to_owned()
}

/// A code that is not the one mailed.
fn wrong(code: &str) -> String {
    if code == "0000" { "0001" } else { "0000" }.to_owned()
}

fn number_of(portal: &Portal, id: &FlowId) -> ManagementNumber {
    match portal.reissue_state(id).unwrap() {
        Reissue::Done(done) => done.number(),
        other => panic!("not done: {other:?}"),
    }
}

/// 手順 3. to 手順 7. for `office_number`, with the notification address `notify`.
fn apply(
    host: &Embedded,
    portal: &Portal,
    rng: &mut StdRng,
    office_number: &str,
    notify: &str,
) -> ManagementNumber {
    let (id, _) = portal
        .reissue_start(&form(office_number, notify), rng)
        .unwrap();
    let code = code_for(host, notify);
    portal
        .reissue_input(&id, Input::EnterCode(&code), rng)
        .unwrap();
    portal.reissue_input(&id, Input::Submit, rng).unwrap();
    number_of(portal, &id)
}

fn flow_err(e: FlowError) -> Result<(), PortalError> {
    Err(PortalError::Flow(e))
}

fn approve(portal: &Portal, number: &str, rng: &mut StdRng) -> Box<ReissueLetter> {
    let tokyo = Federation::of(Prefecture::TOKYO);
    match portal
        .reissue_review(
            tokyo,
            number,
            Decision::Approve {
                clear_security_emails: false,
            },
            rng,
        )
        .unwrap()
    {
        ReviewOutcome::Approved(letter) => letter,
        ReviewOutcome::Rejected => panic!("approved"),
    }
}

/// The value `screen` shows read-only under 《label》 (the transcript's `《label》 value`).
fn shown<'a>(screen: &'a Screen, label: &str) -> Option<&'a str> {
    screen
        .fields()
        .find(|f| f.kind == FieldKind::Shown && f.label == label)
        .and_then(|f| f.value.as_deref())
}

fn sequence(host: &Embedded, month: &str) -> Option<u32> {
    let (y, m) = month.split_at(4);
    let month = YearMonth::new(y.parse().unwrap(), m.parse().unwrap()).unwrap();
    host.store
        .load(&Key::Sequence(month))
        .unwrap()
        .map(|v| serde_json::from_slice(&v.value).unwrap())
}

/// RI-01, RI-04, RI-05, RI-06, VAL-08: the source's procedure 1.2.2 (4), screen by screen. The
/// notification address is any address (not the registered security email); the code goes to it
/// (T1); 【送信確認】 shows the ledger's office name and the office-number warning; 送信 issues
/// U202601000001, posts T3 and mails T4, and the done screen explains what happens next.
#[test]
fn ri_procedure_1_2_2_4_application_end_to_end() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(1);
    existing_account(&portal, UserId::new(Prefecture::TOKYO, office()), &mut rng);

    // 手順 1., 2.: 【ログイン】 → 【パスワード等を紛失した方】 → 「セキュリティ用メールアドレスが不明または未登録の場合はこちら」.
    // 手順 3.: 【ログイン情報再発行申請】: 《事業所番号》, 《通知先メールアドレス》 and its confirmation, 次へ.
    insta::assert_snapshot!(
        "ri_01_application_form",
        Reissue::application_screen().to_string()
    );
    let (id, screen) = portal
        .reissue_start(&form(OFFICE, NOTIFY), &mut rng)
        .unwrap();

    // 手順 4. is skipped: the office holds a user ID in one billing prefecture only (RI-03).
    // 手順 5.: 「確認コード発行通知」 arrives at the notification address (RI-04).
    insta::assert_snapshot!("ri_04_code_screen", screen.to_string());
    assert_eq!(host.outbox.all().len(), 1);
    assert!(host.outbox.last_to(addr(SECURITY_EMAIL)).is_none());
    let code = code_for(&host, NOTIFY);
    assert_eq!(
        host.outbox.all()[0],
        mail::confirmation_code_mail(&addr(NOTIFY), &code.parse().unwrap(), 30)
    );

    // 手順 6.: 【確認コード入力】: the code, 次へ → 【送信確認】 (RI-05).
    let screen = portal
        .reissue_input(&id, Input::EnterCode(&format!(" {code} ")), &mut rng)
        .unwrap();
    insta::assert_snapshot!("ri_05_send_confirmation", screen.to_string());
    assert_eq!(
        shown(&screen, "事業所番号"),
        Some("1311111111 ※事業所番号にお間違えがないよう、十分ご注意ください。")
    );
    assert_eq!(shown(&screen, "事業所名"), Some("請求事業所A"));
    assert_eq!(shown(&screen, "通知先メールアドレス"), Some("jigyousho@jp"));
    assert_eq!(shown(&screen, "請求先都道府県"), Some("東京都"));
    assert!(screen.offers("送信"));
    assert!(
        host.notices.all().is_empty(),
        "nothing is received before 送信"
    );

    // 手順 7.: 送信 → 【処理終了】 (RI-06).
    let screen = portal.reissue_input(&id, Input::Submit, &mut rng).unwrap();
    insta::assert_snapshot!("ri_06_done", screen.to_string());
    let number = number_of(&portal, &id);
    assert_eq!(number.to_string(), "U202601000001");
    assert_eq!(
        host.notices.for_office(&office()),
        [mail::reissue_received_notice(
            &number,
            &office(),
            &addr(NOTIFY)
        )]
    );
    let receipt = host.outbox.last_to(addr(NOTIFY)).unwrap();
    assert_eq!(
        receipt,
        mail::reissue_received_mail(&addr(NOTIFY), &number, &office(), Prefecture::TOKYO)
    );
    assert_eq!(host.outbox.all().len(), 2);
    assert!(host.events.all().contains(&Event {
        at: start(),
        kind: EventKind::ReissueApplied {
            number,
            office: office(),
            billing: Prefecture::TOKYO,
            notify: addr(NOTIFY),
        },
    }));
    let application = portal
        .reissue_application(Federation::of(Prefecture::TOKYO), "U202601000001")
        .unwrap();
    assert_eq!(application.status, ApplicationStatus::Pending);
    assert_eq!(
        (application.office, application.billing, application.notify),
        (office(), Prefecture::TOKYO, addr(NOTIFY))
    );
    assert_eq!(sequence(&host, "202601"), Some(1));

    // 手順 8.: 終了. The flow takes no more input.
    assert_eq!(
        portal.reissue_input(&id, Input::Submit, &mut rng).map(drop),
        flow_err(FlowError::FlowFinished)
    );
    assert_eq!(
        portal.reissue_input(&id, Input::Back, &mut rng).map(drop),
        flow_err(FlowError::FlowFinished)
    );
}

/// RI-01: a proxy (代理人) is told to contact the federation; nothing is stored or mailed.
#[test]
fn ri_01_proxy_is_told_to_contact_the_federation() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(2);
    let proxy = ApplicationForm {
        applicant: Applicant::Proxy,
        ..form(OFFICE, NOTIFY)
    };
    let err = portal.reissue_start(&proxy, &mut rng).unwrap_err();
    assert_eq!(err, PortalError::Flow(FlowError::ProxyNotSupported));
    assert_eq!(
        err.message(),
        "代理人のログイン情報を紛失した場合、国保連合会へお問い合わせください。"
    );
    assert!(Reissue::application_screen().shows(&err.message()));
    assert!(host.store.is_empty() && host.outbox.all().is_empty());
}

/// RI-01, VAL-05: bad fields get a clear error before anything is drawn, stored or mailed, for
/// any input (full-width, garbage, over-long); the address and its confirmation must agree.
#[test]
fn ri_01_bad_fields_change_nothing() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(3);
    let long = "a".repeat(300) + "@jp";
    let cases: [(ApplicationForm<'_>, FlowError); 6] = [
        (
            form("131111111", NOTIFY),
            FlowError::Value(ValueError::OfficeNumberLength),
        ),
        (
            form("１３11111111", NOTIFY),
            FlowError::Value(ValueError::OfficeNumberLength),
        ),
        (
            form(OFFICE, "ｊｉｇｙｏｕｓｈｏ@jp"),
            FlowError::Value(ValueError::EmailNotAscii),
        ),
        (
            form(OFFICE, &long),
            FlowError::Value(ValueError::EmailTooLong),
        ),
        (
            ApplicationForm {
                notify_confirm: "jigyosho@jp",
                ..form(OFFICE, NOTIFY)
            },
            FlowError::ConfirmationMismatch,
        ),
        (
            ApplicationForm {
                notify_confirm: "\u{0}\u{ffff}",
                ..form(OFFICE, NOTIFY)
            },
            FlowError::ConfirmationMismatch,
        ),
    ];
    for (f, expected) in cases {
        assert_eq!(
            portal.reissue_start(&f, &mut rng).map(drop),
            flow_err(expected),
            "{f:?}"
        );
    }
    // The same address in another case is the same address (VAL-04).
    assert!(
        portal
            .reissue_start(
                &ApplicationForm {
                    notify_confirm: "JIGYOUSHO@JP",
                    ..form(OFFICE, NOTIFY)
                },
                &mut rng
            )
            .is_ok()
    );
    assert_eq!(host.outbox.all().len(), 1);
}

/// RI-02: an office number not in the ledger is refused with a clear error; nothing is stored
/// or mailed.
#[test]
fn ri_02_office_not_in_ledger_is_refused() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(4);
    let err = portal
        .reissue_start(&form("1322222222", NOTIFY), &mut rng)
        .unwrap_err();
    assert_eq!(err, PortalError::Flow(FlowError::NotInLedger));
    assert_eq!(
        err.message(),
        "入力された事業所番号は事業所台帳に登録されていません。"
    );
    assert!(host.store.is_empty() && host.outbox.all().is_empty());
}

/// RI-03: 【請求先都道府県選択】 only when the office holds user IDs in several billing
/// prefectures; the choice is one of them, and the code goes out only after it.
#[test]
fn ri_03_prefecture_choice_with_several_user_ids() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(5);
    existing_account(&portal, UserId::new(Prefecture::TOKYO, office()), &mut rng);
    existing_account(&portal, UserId::new(Prefecture::OSAKA, office()), &mut rng);

    // 手順 3.
    let (id, screen) = portal
        .reissue_start(&form(OFFICE, NOTIFY), &mut rng)
        .unwrap();
    // 手順 4.: 【請求先都道府県選択】.
    insta::assert_snapshot!("ri_03_choose_prefecture", screen.to_string());
    assert!(
        host.outbox.all().is_empty(),
        "no code before the prefecture is chosen"
    );
    let before = host.store.snapshot();
    let choose = |p: &str, rng: &mut StdRng| {
        portal
            .reissue_input(&id, Input::ChoosePrefecture(p), rng)
            .map(drop)
    };
    assert_eq!(
        choose("01", &mut rng),
        flow_err(FlowError::PrefectureNotOffered)
    );
    assert_eq!(
        choose("東京", &mut rng),
        flow_err(FlowError::Value(ValueError::PrefectureCode))
    );
    assert_eq!(
        portal
            .reissue_input(&id, Input::EnterCode("1234"), &mut rng)
            .map(drop),
        flow_err(FlowError::UnexpectedInput {
            state: "ChoosingPrefecture",
            input: "EnterCode"
        })
    );
    assert_eq!(host.store.snapshot(), before);
    choose("27", &mut rng).unwrap();

    // 手順 5. to 7.
    let code = code_for(&host, NOTIFY);
    let confirm = portal
        .reissue_input(&id, Input::EnterCode(&code), &mut rng)
        .unwrap();
    assert_eq!(shown(&confirm, "請求先都道府県"), Some("大阪府"));
    portal.reissue_input(&id, Input::Submit, &mut rng).unwrap();
    assert!(
        host.outbox
            .last_to(addr(NOTIFY))
            .unwrap()
            .body
            .contains("[申請先連合会]\n大阪府国民健康保険連合会\n")
    );
    let app = portal
        .reissue_application(Federation::of(Prefecture::OSAKA), "U202601000001")
        .unwrap();
    assert_eq!(app.billing, Prefecture::OSAKA);
}

/// RI-03: an office with no user ID yet (paper or media billing) picks its billing prefecture
/// from its ledger entry: a choice when it lists several, none when it lists one.
#[test]
fn ri_03_office_without_user_id_uses_ledger_billing() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(6);
    host.ledger.insert(record(
        "1322222222",
        vec![Prefecture::TOKYO, Prefecture::HOKKAIDO],
    ));
    host.ledger
        .insert(record("2733333333", vec![Prefecture::OSAKA]));

    let (id, screen) = portal
        .reissue_start(&form("1322222222", "a@jp"), &mut rng)
        .unwrap();
    assert_eq!(screen.title, "請求先都道府県選択");
    let select = screen.field_named("billing").unwrap();
    assert_eq!(
        (select.kind, select.label.as_str(), select.required),
        (FieldKind::Select, "請求先都道府県", true)
    );
    let options: Vec<(&str, &str)> = select
        .options
        .iter()
        .map(|o| (o.value.as_str(), o.label.as_str()))
        .collect();
    assert_eq!(options, [("01", "北海道"), ("13", "東京都")]);
    let Reissue::ChoosingPrefecture(state) = portal.reissue_state(&id).unwrap() else {
        panic!()
    };
    assert_eq!(state.choices(), [Prefecture::HOKKAIDO, Prefecture::TOKYO]);

    let (_, screen) = portal
        .reissue_start(&form("2733333333", "b@jp"), &mut rng)
        .unwrap();
    assert_eq!(screen.title, "確認コード入力");
    code_for(&host, "b@jp");
}

/// RI-04, SEC-03: the code is valid 30 minutes: accepted at 29:59, refused at 30:00 with nothing
/// changed.
#[test]
fn ri_04_code_valid_30_minutes() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(7);
    let (late, _) = portal
        .reissue_start(&form(OFFICE, NOTIFY), &mut rng)
        .unwrap();
    let late_code = code_for(&host, NOTIFY);
    let (in_time, _) = portal
        .reissue_start(&form(OFFICE, "other@jp"), &mut rng)
        .unwrap();
    let in_time_code = code_for(&host, "other@jp");

    host.clock.advance(TimeDelta::seconds(29 * 60 + 59));
    portal
        .reissue_input(&in_time, Input::EnterCode(&in_time_code), &mut rng)
        .unwrap();
    host.clock.advance(TimeDelta::seconds(1));
    let before = host.store.snapshot();
    assert_eq!(
        portal
            .reissue_input(&late, Input::EnterCode(&late_code), &mut rng)
            .map(drop),
        flow_err(FlowError::CodeExpired)
    );
    assert_eq!(host.store.snapshot(), before);
}

/// RI-04 (as RS-04): 5 wrong entries void the code; even the right one is refused afterwards, and
/// the applicant starts again. A wrong format is not an attempt (VAL-07).
#[test]
fn ri_04_five_wrong_codes_void_it() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(8);
    let (id, _) = portal
        .reissue_start(&form(OFFICE, NOTIFY), &mut rng)
        .unwrap();
    let code = code_for(&host, NOTIFY);
    let enter = |c: &str, rng: &mut StdRng| {
        portal
            .reissue_input(&id, Input::EnterCode(c), rng)
            .map(drop)
    };
    assert_eq!(
        enter("12a4", &mut rng),
        flow_err(FlowError::Value(ValueError::CodeFormat { digits: 4 }))
    );
    for remaining in (1..5).rev() {
        assert_eq!(
            enter(&wrong(&code), &mut rng),
            flow_err(FlowError::WrongCode { remaining })
        );
    }
    assert_eq!(
        enter(&wrong(&code), &mut rng),
        flow_err(FlowError::CodeExhausted)
    );
    assert_eq!(enter(&code, &mut rng), flow_err(FlowError::CodeExhausted));
    assert!(matches!(
        portal.reissue_state(&id).unwrap(),
        Reissue::AwaitingCode(_)
    ));
    // Start again from the form: a new code works.
    assert_eq!(
        apply(&host, &portal, &mut rng, OFFICE, NOTIFY).to_string(),
        "U202601000001"
    );
}

/// SEC-07 (RI): at most 10 wrong entries per notification address per hour, across flows; another
/// address is not affected.
#[test]
fn sec_07_wrong_code_budget_per_notification_address() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(9);
    for _ in 0..2 {
        let (id, _) = portal
            .reissue_start(&form(OFFICE, NOTIFY), &mut rng)
            .unwrap();
        let bad = wrong(&code_for(&host, NOTIFY));
        for _ in 0..5 {
            assert!(
                portal
                    .reissue_input(&id, Input::EnterCode(&bad), &mut rng)
                    .is_err()
            );
        }
    }
    let (id, _) = portal
        .reissue_start(&form(OFFICE, NOTIFY), &mut rng)
        .unwrap();
    let code = code_for(&host, NOTIFY);
    assert_eq!(
        portal
            .reissue_input(&id, Input::EnterCode(&code), &mut rng)
            .map(drop),
        flow_err(FlowError::GuessBudgetExceeded)
    );
    // Another address is not affected.
    let (other, _) = portal
        .reissue_start(&form(OFFICE, "other@jp"), &mut rng)
        .unwrap();
    let code = code_for(&host, "other@jp");
    portal
        .reissue_input(&other, Input::EnterCode(&code), &mut rng)
        .unwrap();
    // An hour later the address may try again.
    host.clock.advance(TimeDelta::hours(1));
    assert_eq!(
        apply(&host, &portal, &mut rng, OFFICE, NOTIFY).to_string(),
        "U202601000001"
    );
}

/// RI-07: one pending application per (office, billing prefecture): a second start is refused
/// before any code is mailed, a second submit (both started before either was sent) is refused
/// without consuming a number, and the first is intact. Another prefecture may apply; after the
/// review the office may apply again.
#[test]
fn ri_07_one_pending_application_per_office_and_prefecture() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(10);
    existing_account(&portal, UserId::new(Prefecture::TOKYO, office()), &mut rng);
    existing_account(&portal, UserId::new(Prefecture::OSAKA, office()), &mut rng);
    let to_tokyo = |rng: &mut StdRng, notify: &str| {
        let (id, _) = portal.reissue_start(&form(OFFICE, notify), rng).unwrap();
        portal
            .reissue_input(&id, Input::ChoosePrefecture("13"), rng)
            .unwrap();
        let code = code_for(&host, notify);
        portal
            .reissue_input(&id, Input::EnterCode(&code), rng)
            .unwrap();
        id
    };
    let first = to_tokyo(&mut rng, NOTIFY);
    let second = to_tokyo(&mut rng, "second@jp");
    portal
        .reissue_input(&first, Input::Submit, &mut rng)
        .unwrap();

    let before = host.store.snapshot();
    let mails = host.outbox.all().len();
    let err = portal
        .reissue_input(&second, Input::Submit, &mut rng)
        .unwrap_err();
    assert_eq!(err, PortalError::Flow(FlowError::ApplicationPending));
    assert_eq!(
        err.message(),
        "この事業所番号及び請求先都道府県のログイン情報再発行申請は審査中です。"
    );
    let (third, _) = portal
        .reissue_start(&form(OFFICE, "third@jp"), &mut rng)
        .unwrap();
    assert_eq!(
        portal
            .reissue_input(&third, Input::ChoosePrefecture("13"), &mut rng)
            .map(drop),
        flow_err(FlowError::ApplicationPending)
    );
    assert!(host.outbox.last_to(addr("third@jp")).is_none());
    assert_eq!(host.outbox.all().len(), mails);
    let after: Vec<_> = host
        .store
        .snapshot()
        .into_iter()
        .filter(|(k, _)| !k.contains(third.as_str()))
        .collect();
    assert_eq!(
        after, before,
        "nothing of the first lost, no number consumed"
    );
    assert_eq!(sequence(&host, "202601"), Some(1));

    // Another billing prefecture of the same office may apply meanwhile.
    portal
        .reissue_input(&third, Input::ChoosePrefecture("27"), &mut rng)
        .unwrap();
    let code = code_for(&host, "third@jp");
    portal
        .reissue_input(&third, Input::EnterCode(&code), &mut rng)
        .unwrap();
    portal
        .reissue_input(&third, Input::Submit, &mut rng)
        .unwrap();
    assert_eq!(number_of(&portal, &third).to_string(), "U202601000002");

    // Once reviewed, the office may apply again for 東京都.
    portal
        .reissue_review(
            Federation::of(Prefecture::TOKYO),
            "U202601000001",
            Decision::Reject,
            &mut rng,
        )
        .unwrap();
    let again = to_tokyo(&mut rng, "again@jp");
    portal
        .reissue_input(&again, Input::Submit, &mut rng)
        .unwrap();
    assert_eq!(number_of(&portal, &again).to_string(), "U202601000003");
}

/// VAL-08: many threads submitting at once through the in-memory ports get distinct, gap-free
/// numbers per JST month, and the sequence restarts at 000001 at 2026-02-01T00:00+09:00. Every
/// number has its application; nothing was consumed without one.
#[test]
fn val_08_numbers_gap_free_under_concurrency_and_restart_each_jst_month() {
    const PER_MONTH: usize = 24;
    const THREADS: usize = 8;
    let (host, portal) = host_at(
        utc("2026-01-31T23:40:00+09:00"),
        Policy::insecure_fast_hashing(),
    );
    let mut rng = StdRng::seed_from_u64(11);
    // 手順 3. to 6. for 48 offices, 20 minutes before midnight.
    let flows: Vec<(FlowId, OfficeNumber)> = (0..2 * PER_MONTH)
        .map(|i| {
            let number = format!("13{:08}", i + 1);
            host.ledger.insert(record(&number, vec![Prefecture::TOKYO]));
            let notify = format!("office{i}@jp");
            let (id, _) = portal
                .reissue_start(&form(&number, &notify), &mut rng)
                .unwrap();
            let code = code_for(&host, &notify);
            portal
                .reissue_input(&id, Input::EnterCode(&code), &mut rng)
                .unwrap();
            (id, number.parse().unwrap())
        })
        .collect();
    let (january, february) = flows.split_at(PER_MONTH);

    // 手順 7., all at once: the last millisecond of January, then the first instant of February.
    let submit_all = |batch: &[(FlowId, OfficeNumber)]| -> Vec<(ManagementNumber, OfficeNumber)> {
        let barrier = std::sync::Barrier::new(THREADS);
        std::thread::scope(|s| {
            let handles: Vec<_> = batch
                .chunks(PER_MONTH / THREADS)
                .enumerate()
                .map(|(t, chunk)| {
                    let (portal, barrier) = (&portal, &barrier);
                    s.spawn(move || {
                        let mut rng = StdRng::seed_from_u64(100 + t as u64);
                        barrier.wait();
                        chunk
                            .iter()
                            .map(|(id, office)| {
                                for _ in 0..1000 {
                                    match portal.reissue_input(id, Input::Submit, &mut rng) {
                                        Err(PortalError::Store(StoreError::Conflict)) => continue,
                                        result => {
                                            result.unwrap();
                                            return (number_of(portal, id), *office);
                                        }
                                    }
                                }
                                panic!("kept losing the race")
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        })
    };
    host.clock.set(utc("2026-01-31T23:59:59.999+09:00"));
    let mut jan = submit_all(january);
    host.clock.set(utc("2026-02-01T00:00:00+09:00"));
    let mut feb = submit_all(february);

    for (month, got) in [("202601", &mut jan), ("202602", &mut feb)] {
        got.sort();
        let expected: Vec<String> = (1..=PER_MONTH).map(|n| format!("U{month}{n:06}")).collect();
        let numbers: Vec<String> = got.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(numbers, expected, "distinct and gap-free in {month}");
        assert_eq!(sequence(&host, month), Some(PER_MONTH as u32));
        for (number, office) in got.iter() {
            let app = portal
                .reissue_application(Federation::of(Prefecture::TOKYO), &number.to_string())
                .unwrap();
            assert_eq!(app.office, *office);
        }
    }
    assert_eq!(host.notices.all().len(), 2 * PER_MONTH);
}

/// VAL-08: the month is the JST month of receipt (15:00 UTC on the last day is already next
/// month), and a month whose 999999 numbers are used up refuses with a clear error and writes,
/// mails and posts nothing; the next month starts again at 000001.
#[test]
fn val_08_month_of_receipt_and_sequence_exhausted() {
    let (host, portal) = host_at(utc("2026-03-31T14:50:00Z"), Policy::insecure_fast_hashing());
    let mut rng = StdRng::seed_from_u64(12);
    let march = YearMonth::new(2026, 3).unwrap();
    host.store
        .commit(&[Write::Put {
            key: Key::Sequence(march),
            expected: None,
            value: b"999999".to_vec(),
            expires: None,
        }])
        .unwrap();
    let (id, _) = portal
        .reissue_start(&form(OFFICE, NOTIFY), &mut rng)
        .unwrap();
    let code = code_for(&host, NOTIFY);
    portal
        .reissue_input(&id, Input::EnterCode(&code), &mut rng)
        .unwrap();

    let before = host.store.snapshot();
    let mails = host.outbox.all().len();
    let err = portal
        .reissue_input(&id, Input::Submit, &mut rng)
        .unwrap_err();
    assert_eq!(err, PortalError::Flow(FlowError::SequenceExhausted));
    assert_eq!(
        err.message(),
        "現在、申請を受け付けることができません。ヘルプデスクへお問い合わせください。"
    );
    assert_eq!(host.store.snapshot(), before);
    assert_eq!(host.outbox.all().len(), mails);
    assert!(host.notices.all().is_empty() && host.events.all().is_empty());
    assert!(matches!(
        portal.reissue_state(&id).unwrap(),
        Reissue::Confirming(_)
    ));

    // 2026-03-31T15:00Z is 2026-04-01 00:00 JST: April's first number.
    host.clock.set(utc("2026-03-31T15:00:00Z"));
    portal.reissue_input(&id, Input::Submit, &mut rng).unwrap();
    assert_eq!(number_of(&portal, &id).to_string(), "U202604000001");
}

/// RI-05, SEC-03: 【送信確認】 must be sent within 30 minutes of the code check; after that the
/// flow is expired and nothing is written. 戻る returns to the form and ends the flow.
#[test]
fn ri_05_confirmation_expires_and_back_returns_to_the_form() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(13);
    let (id, _) = portal
        .reissue_start(&form(OFFICE, NOTIFY), &mut rng)
        .unwrap();
    let code = code_for(&host, NOTIFY);
    portal
        .reissue_input(&id, Input::EnterCode(&code), &mut rng)
        .unwrap();
    host.clock.advance(TimeDelta::minutes(30));
    let before = host.store.snapshot();
    assert_eq!(
        portal.reissue_input(&id, Input::Submit, &mut rng).map(drop),
        flow_err(FlowError::FlowExpired)
    );
    assert_eq!(host.store.snapshot(), before);
    let screen = portal.reissue_input(&id, Input::Back, &mut rng).unwrap();
    assert_eq!(screen, Reissue::application_screen());
    assert_eq!(
        portal.reissue_state(&id).unwrap_err(),
        PortalError::NoSuchFlow
    );
}

/// RI-08: only the federation of the billing prefecture reviews, only once; a refused review
/// changes nothing. Approval posts T5 and mails T6 to the notification address.
#[test]
fn ri_08_only_the_billing_federation_only_once() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(14);
    existing_account(&portal, UserId::new(Prefecture::TOKYO, office()), &mut rng);
    let number = apply(&host, &portal, &mut rng, OFFICE, NOTIFY);
    let osaka = Federation::of(Prefecture::OSAKA);
    let tokyo = Federation::of(Prefecture::TOKYO);

    let before = host.store.snapshot();
    let (mails, notices) = (host.outbox.all().len(), host.notices.all().len());
    let refused = portal.reissue_review(
        osaka,
        "U202601000001",
        Decision::Approve {
            clear_security_emails: true,
        },
        &mut rng,
    );
    assert_eq!(refused.map(drop), flow_err(FlowError::WrongFederation));
    assert_eq!(
        portal.reissue_application(osaka, "U202601000001").map(drop),
        flow_err(FlowError::WrongFederation)
    );
    assert_eq!(
        portal
            .reissue_review(tokyo, "U202601000002", Decision::Reject, &mut rng)
            .map(drop),
        flow_err(FlowError::NoSuchApplication)
    );
    assert_eq!(
        portal
            .reissue_review(tokyo, "U2026010000", Decision::Reject, &mut rng)
            .map(drop),
        flow_err(FlowError::Value(ValueError::ManagementNumberFormat))
    );
    assert_eq!(host.store.snapshot(), before);
    assert_eq!(
        (host.outbox.all().len(), host.notices.all().len()),
        (mails, notices)
    );

    host.clock.advance(TimeDelta::days(3));
    approve(&portal, "U202601000001", &mut rng);
    assert_eq!(
        host.notices.for_office(&office()).last(),
        Some(&mail::reissue_approved_notice(&number))
    );
    assert_eq!(
        host.outbox.last_to(addr(NOTIFY)),
        Some(mail::reissue_approved_mail(
            &addr(NOTIFY),
            &number,
            &office(),
            Prefecture::TOKYO
        ))
    );
    assert!(host.events.all().iter().any(|e| e.kind
        == EventKind::ReissueReviewed {
            number,
            approved: true
        }));
    let app = portal.reissue_application(tokyo, "U202601000001").unwrap();
    let approved_at = start() + TimeDelta::days(3);
    assert_eq!(
        app.status,
        ApplicationStatus::Approved {
            at: approved_at,
            security_emails_cleared: false
        }
    );

    let before = host.store.snapshot();
    for decision in [
        Decision::Reject,
        Decision::Approve {
            clear_security_emails: false,
        },
    ] {
        assert_eq!(
            portal
                .reissue_review(tokyo, "U202601000001", decision, &mut rng)
                .map(drop),
            flow_err(FlowError::AlreadyReviewed)
        );
    }
    assert_eq!(
        portal
            .reissue_review(osaka, "U202601000001", Decision::Reject, &mut rng)
            .map(drop),
        flow_err(FlowError::WrongFederation),
        "another federation learns nothing of the status"
    );
    assert_eq!(host.store.snapshot(), before);
}

/// RI-08 (T7, T8): a rejection posts T7 and mails T8 and leaves the account as it was.
#[test]
fn ri_08_rejection_sends_t7_t8_and_changes_no_account() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(15);
    let user = UserId::new(Prefecture::TOKYO, office());
    let account = existing_account(&portal, user, &mut rng);
    let number = apply(&host, &portal, &mut rng, OFFICE, NOTIFY);
    let outcome = portal
        .reissue_review(
            Federation::of(Prefecture::TOKYO),
            "U202601000001",
            Decision::Reject,
            &mut rng,
        )
        .unwrap();
    assert!(matches!(outcome, ReviewOutcome::Rejected));
    assert_eq!(
        host.notices.for_office(&office()).last(),
        Some(&mail::reissue_rejected_notice(&number))
    );
    assert_eq!(
        host.outbox.last_to(addr(NOTIFY)),
        Some(mail::reissue_rejected_mail(
            &addr(NOTIFY),
            &number,
            &office(),
            Prefecture::TOKYO
        ))
    );
    assert_eq!(portal.account(&user).unwrap(), Some(account));
    assert!(host.sessions.revoked().is_empty());
    assert!(host.events.all().iter().any(|e| e.kind
        == EventKind::ReissueReviewed {
            number,
            approved: false
        }));
}

/// RI-09, VAL-09: approval gives the existing user ID a new 12-character temporary password, clears
/// the security code and lifts the lockout, keeps the security emails, ends the user ID's
/// sessions, and returns the letter with the ledger's current address and office name.
#[test]
fn ri_09_approval_resets_credentials_and_returns_the_letter() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(16);
    let user = UserId::new(Prefecture::TOKYO, office());
    let before = existing_account(&portal, user, &mut rng);
    apply(&host, &portal, &mut rng, OFFICE, NOTIFY);
    // The office moved after applying: the letter goes to the ledger's address at approval.
    host.ledger.insert(OfficeRecord {
        postal_address: "東京都新宿区西新宿2-8-1".into(),
        ..record(OFFICE, vec![Prefecture::TOKYO])
    });
    host.clock.set(utc("2026-01-13T09:30:00+09:00"));
    let letter = approve(&portal, "U202601000001", &mut rng);

    let temp = letter.temporary_password.reveal().to_owned();
    assert_eq!(temp.chars().count(), 12);
    assert!(
        letter
            .temporary_password
            .as_password()
            .check_policy(&user, &PasswordRules::default())
            .is_ok()
    );
    assert_eq!(letter.user_id, user);
    assert_eq!(letter.postal_address, "東京都新宿区西新宿2-8-1");
    assert_eq!(letter.office_name, "請求事業所A");
    insta::assert_snapshot!(
        "ri_09_letter",
        letter.render().replace(&temp, "<仮パスワード>")
    );

    let after = portal.account(&user).unwrap().unwrap();
    assert!(hasher().verify(temp.as_bytes(), &after.password));
    assert!(!hasher().verify(OLD_PASSWORD.as_bytes(), &after.password));
    assert!(
        after.temporary.is_some(),
        "the next login goes through the password change (FL-07)"
    );
    assert_eq!(after.security_code, None);
    assert_eq!((after.failures, after.locked_until), (0, None));
    assert!(!after.is_locked(portal.now()));
    assert_eq!(after.security_emails, before.security_emails);
    assert_eq!(
        (after.grace_eligible, after.first_login_done, after.terms),
        (true, true, before.terms)
    );
    assert_eq!(host.sessions.revoked(), [user]);
}

/// RI-09: the reviewer may also clear the security emails; the office then registers one again
/// as a new office, without the grace period (FL-04).
#[test]
fn ri_09_reviewer_may_clear_the_security_emails() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(17);
    let user = UserId::new(Prefecture::TOKYO, office());
    existing_account(&portal, user, &mut rng);
    apply(&host, &portal, &mut rng, OFFICE, NOTIFY);
    let clear = Decision::Approve {
        clear_security_emails: true,
    };
    portal
        .reissue_review(
            Federation::of(Prefecture::TOKYO),
            "U202601000001",
            clear,
            &mut rng,
        )
        .unwrap();
    let after = portal.account(&user).unwrap().unwrap();
    assert!(after.security_emails.is_empty());
    assert!(!after.grace_eligible);
    assert!(after.temporary.is_some());
    let app = portal
        .reissue_application(Federation::of(Prefecture::TOKYO), "U202601000001")
        .unwrap();
    assert!(matches!(
        app.status,
        ApplicationStatus::Approved {
            security_emails_cleared: true,
            ..
        }
    ));
}

/// RI-09, VAL-03: an office without a user ID in the billing prefecture (paper/media billing)
/// gets a new one, `KJ` + prefecture + office number, with a temporary password, as a new office.
#[test]
fn ri_09_office_without_user_id_gets_a_new_one() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(18);
    host.ledger
        .insert(record("2733333333", vec![Prefecture::OSAKA]));
    let number = apply(&host, &portal, &mut rng, "2733333333", NOTIFY);
    let user: UserId = "KJ272733333333".parse().unwrap();
    assert_eq!(portal.account(&user).unwrap(), None);
    let outcome = portal
        .reissue_review(
            Federation::of(Prefecture::OSAKA),
            &number.to_string(),
            Decision::Approve {
                clear_security_emails: false,
            },
            &mut rng,
        )
        .unwrap();
    let ReviewOutcome::Approved(letter) = outcome else {
        panic!("approved")
    };
    assert_eq!(letter.user_id, user);
    let account = portal.account(&user).unwrap().unwrap();
    assert!(hasher().verify(
        letter.temporary_password.reveal().as_bytes(),
        &account.password
    ));
    assert!(account.temporary.is_some() && !account.first_login_done && !account.grace_eligible);
    assert!(account.security_emails.is_empty());
    assert!(
        host.sessions.revoked().is_empty(),
        "a new user ID has no sessions to end"
    );
}

/// RI-10: the temporary password expires 30 days after approval (policy data: another lifetime
/// gives another instant). Until then it logs in only into the password change (FL-02, FL-07),
/// never the menu; from the expiry instant it no longer logs in and the office applies again.
#[test]
fn ri_10_temporary_password_expires_after_the_policy_lifetime() {
    for (days, policy) in [
        (30, Policy::insecure_fast_hashing()),
        (
            21,
            Policy {
                temporary_password_days: 21,
                ..Policy::insecure_fast_hashing()
            },
        ),
    ] {
        let (host, portal) = host_at(start(), policy);
        let mut rng = StdRng::seed_from_u64(19);
        let user = UserId::new(Prefecture::TOKYO, office());
        existing_account(&portal, user, &mut rng);
        apply(&host, &portal, &mut rng, OFFICE, NOTIFY);
        let approved_at = utc("2026-01-20T16:45:00+09:00");
        host.clock.set(approved_at);
        let letter = approve(&portal, "U202601000001", &mut rng);
        let expires_at = approved_at + TimeDelta::days(days);
        assert_eq!(letter.expires_at, expires_at);
        let account = portal.account(&user).unwrap().unwrap();
        assert_eq!(
            account.temporary.and_then(|t| t.expires_at),
            Some(expires_at)
        );

        let temp = letter.temporary_password.reveal();
        host.clock.set(expires_at - TimeDelta::milliseconds(1));
        let route = portal.login("KJ131311111111", temp, &mut rng).unwrap();
        let Route::Flow { flow, screen } = &route else {
            panic!("{route:?}")
        };
        assert_eq!(flow.kind, FlowKind::FirstLogin);
        assert_eq!(
            screen.title, "警告",
            "straight to the password change: terms were accepted"
        );
        host.clock.set(expires_at);
        let expired = portal.login("KJ131311111111", temp, &mut rng).unwrap_err();
        assert_eq!(
            expired,
            PortalError::Flow(FlowError::TemporaryPasswordExpired)
        );
    }
}

/// RI-09, SEC-01, MAIL-01: the temporary password appears in the letter only: in no mail, notice,
/// event, stored record, screen or `Debug` output.
#[test]
fn ri_09_temporary_password_appears_in_the_letter_only() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(20);
    existing_account(&portal, UserId::new(Prefecture::TOKYO, office()), &mut rng);
    let (id, _) = portal
        .reissue_start(&form(OFFICE, NOTIFY), &mut rng)
        .unwrap();
    let code = code_for(&host, NOTIFY);
    let mut screens = vec![
        portal
            .reissue_input(&id, Input::EnterCode(&code), &mut rng)
            .unwrap(),
    ];
    screens.push(portal.reissue_input(&id, Input::Submit, &mut rng).unwrap());
    let outcome = portal
        .reissue_review(
            Federation::of(Prefecture::TOKYO),
            "U202601000001",
            Decision::Approve {
                clear_security_emails: false,
            },
            &mut rng,
        )
        .unwrap();
    let ReviewOutcome::Approved(letter) = &outcome else {
        panic!("approved")
    };
    let temp = letter.temporary_password.reveal();
    assert!(letter.render().contains(temp));

    let mut everywhere: Vec<String> = Vec::new();
    everywhere.extend(
        host.outbox
            .all()
            .iter()
            .map(|m| format!("{}\n{}\n{m:?}", m.subject, m.body)),
    );
    everywhere.extend(
        host.notices
            .all()
            .iter()
            .map(|(_, n)| format!("{}\n{}\n{n:?}", n.title, n.body)),
    );
    everywhere.extend(
        host.events
            .all()
            .iter()
            .map(|e| format!("{e:?} {}", serde_json::to_string(e).unwrap())),
    );
    everywhere.extend(
        host.store
            .snapshot()
            .iter()
            .map(|(k, v)| format!("{k} {}", String::from_utf8_lossy(&v.value))),
    );
    everywhere.extend(screens.iter().map(ToString::to_string));
    everywhere.push(
        portal
            .reissue_state(&id)
            .unwrap()
            .screen(portal.policy())
            .to_string(),
    );
    everywhere.push(format!("{:?}", portal.reissue_state(&id).unwrap()));
    everywhere.push(format!(
        "{outcome:?} {letter:?} {:?}",
        letter.temporary_password
    ));
    everywhere.push(format!(
        "{:?}",
        portal
            .reissue_application(Federation::of(Prefecture::TOKYO), "U202601000001")
            .unwrap()
    ));
    everywhere.push(format!("{:?}", portal.account(&letter.user_id).unwrap()));
    everywhere.push(format!("{portal:?}"));
    assert!(everywhere.len() > 10);
    for text in &everywhere {
        assert!(
            !text.contains(temp),
            "the temporary password leaked into: {text}"
        );
    }
    assert!(format!("{letter:?}").contains("TemporaryPassword(***)"));
}

/// Rewrites one instant field of the stored reissue flow `id` (the state's struct holds it) to
/// `at`, as a tampered or corrupt store would hold it.
fn tamper_instant(host: &Embedded, id: &FlowId, field: &str, at: Instant) {
    let key = Key::Flow(FlowKind::Reissue, id.clone());
    let stored = host.store.load(&key).unwrap().expect("the flow");
    let mut flow: serde_json::Value = serde_json::from_slice(&stored.value).unwrap();
    let state = flow
        .as_object_mut()
        .and_then(|o| o.values_mut().next())
        .and_then(|s| s.as_object_mut())
        .expect("a state struct");
    assert!(state.contains_key(field), "{field} in {state:?}");
    state.insert(field.into(), serde_json::to_value(at).unwrap());
    host.store
        .commit(&[Write::Put {
            key,
            expected: Some(stored.version),
            value: serde_json::to_vec(&flow).unwrap(),
            expires: None,
        }])
        .unwrap();
}

/// SEC-06, OPS-07: a stored 【請求先都道府県選択】 whose start is the last instant chrono can hold
/// (its deadline cannot be represented) is refused as corrupt (a start in the future), changes
/// nothing and does not panic.
#[test]
fn sec_06_ops_07_prefecture_choice_started_at_the_end_of_time_is_corrupt() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(31);
    existing_account(&portal, UserId::new(Prefecture::TOKYO, office()), &mut rng);
    existing_account(&portal, UserId::new(Prefecture::OSAKA, office()), &mut rng);
    let (id, _) = portal
        .reissue_start(&form(OFFICE, NOTIFY), &mut rng)
        .unwrap();
    assert!(matches!(
        portal.reissue_state(&id).unwrap(),
        Reissue::ChoosingPrefecture(_)
    ));
    tamper_instant(&host, &id, "started_at", Instant::MAX_UTC);
    let before = host.store.snapshot();
    let got = portal.reissue_input(&id, Input::ChoosePrefecture("13"), &mut rng);
    assert!(
        matches!(&got, Err(PortalError::Store(StoreError::Corrupt(m))) if m.contains("OPS-07")),
        "{got:?}"
    );
    assert_eq!(host.store.snapshot(), before);
    assert!(host.outbox.all().is_empty());
}

/// SEC-06, OPS-07: a stored 【送信確認】 whose code check is the last instant chrono can hold is
/// refused as corrupt (a verification in the future), writes no application and does not panic.
#[test]
fn sec_06_ops_07_confirmation_verified_at_the_end_of_time_is_corrupt() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(32);
    let (id, _) = portal
        .reissue_start(&form(OFFICE, NOTIFY), &mut rng)
        .unwrap();
    let code = code_for(&host, NOTIFY);
    portal
        .reissue_input(&id, Input::EnterCode(&code), &mut rng)
        .unwrap();
    tamper_instant(
        &host,
        &id,
        "verified_at",
        Instant::MAX_UTC - TimeDelta::minutes(1),
    );
    let before = host.store.snapshot();
    let mails = host.outbox.all().len();
    let got = portal.reissue_input(&id, Input::Submit, &mut rng);
    assert!(
        matches!(&got, Err(PortalError::Store(StoreError::Corrupt(m))) if m.contains("OPS-07")),
        "{got:?}"
    );
    assert_eq!(host.store.snapshot(), before);
    assert_eq!(host.outbox.all().len(), mails);
    assert!(host.notices.all().is_empty());
}

/// SEC-06, RI-10: approving when the temporary password's lifetime would run past the end of time
/// does not panic: the temporary password is expired at once, and logging in with it says so.
#[test]
fn sec_06_ri_10_approval_at_the_end_of_time_issues_an_expired_temporary_password() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(33);
    let user = UserId::new(Prefecture::TOKYO, office());
    existing_account(&portal, user, &mut rng);
    apply(&host, &portal, &mut rng, OFFICE, NOTIFY);
    let now = Instant::MAX_UTC - TimeDelta::days(1);
    host.clock.set(now);
    let letter = approve(&portal, "U202601000001", &mut rng);
    assert_eq!(letter.expires_at, now);
    assert!(
        letter
            .render()
            .contains("[仮パスワードの有効期限]\n+262142年12月31日")
    );
    assert_eq!(
        portal
            .login(
                "KJ131311111111",
                letter.temporary_password.reveal(),
                &mut rng
            )
            .unwrap_err(),
        PortalError::Flow(FlowError::TemporaryPasswordExpired)
    );
}

/// A form for `screen` pressing `button`, filled as a client that knows no flow fills it: every
/// input field of the screen by its name from `values` (a select with its first option when
/// `values` has none), and nothing else. Panics when a required field cannot be filled.
fn fill(screen: &Screen, button: &str, values: &[(&str, &str)]) -> Form {
    assert!(
        screen.buttons().any(|b| b.name == button),
        "{button} on {screen}"
    );
    let mut form = Form::new(button);
    for field in screen.fields().filter(|f| f.kind != FieldKind::Shown) {
        let value = values
            .iter()
            .find(|(name, _)| *name == field.name)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| field.options.first().map(|o| o.value.clone()));
        match value {
            Some(value) => form = form.with(field.name, value),
            None => assert!(!field.required, "cannot fill {} on {screen}", field.name),
        }
    }
    form
}

/// The form error a refused request carries.
fn form_error(result: Result<Route, PortalError>) -> FormError {
    match result {
        Err(PortalError::Flow(FlowError::Form(e))) => e,
        other => panic!("not a form error: {other:?}"),
    }
}

/// RI-01, RI-03, RI-04, RI-05, RI-06, VAL-08: the generic entry points alone drive the application
/// from its entry screen to 【処理終了】 with forms filled by field name, and its `終了` ends the
/// flow at 【ログイン】: the same application, number, mails and notice as the wrappers give.
#[test]
fn ri_generic_entry_points_drive_the_application_from_forms_to_its_end() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(41);
    existing_account(&portal, UserId::new(Prefecture::TOKYO, office()), &mut rng);
    existing_account(&portal, UserId::new(Prefecture::OSAKA, office()), &mut rng);
    let values = [
        ("office", OFFICE),
        ("notify_address", NOTIFY),
        ("confirm_notify_address", NOTIFY),
        ("billing", "27"),
    ];

    let entry = portal.entry::<Reissue>(None).unwrap();
    assert_eq!(entry, Reissue::application_screen());
    let route = portal
        .begin::<Reissue, _>(None, &fill(&entry, "next", &values), &mut rng)
        .unwrap();
    let Route::Flow { flow, screen } = route else {
        panic!("{route:?}")
    };
    assert_eq!(flow.kind, FlowKind::Reissue);
    assert_eq!(screen.title, "請求先都道府県選択");
    assert!(host.outbox.all().is_empty());

    let route = portal
        .submit_to::<Reissue, _>(None, &flow.id, &fill(&screen, "next", &values), &mut rng)
        .unwrap();
    let screen = route.screen().unwrap().clone();
    assert_eq!(screen.title, "確認コード入力");
    assert_eq!(route.flow(), Some(&flow));
    let code = code_for(&host, NOTIFY);

    let with_code = [("code", code.as_str())];
    let route = portal
        .submit_to::<Reissue, _>(None, &flow.id, &fill(&screen, "next", &with_code), &mut rng)
        .unwrap();
    let screen = route.screen().unwrap().clone();
    assert_eq!(screen.title, "送信確認");
    assert_eq!(shown(&screen, "請求先都道府県"), Some("大阪府"));
    assert_eq!(portal.screen::<Reissue>(None, &flow.id).unwrap(), screen);

    let route = portal
        .submit_to::<Reissue, _>(None, &flow.id, &fill(&screen, "send", &[]), &mut rng)
        .unwrap();
    let screen = route.screen().unwrap().clone();
    assert_eq!(screen.title, "処理終了");
    assert_eq!(route.flow(), Some(&flow));
    // The number is the done state's, reachable from the route's flow id.
    let Reissue::Done(done) = portal.reissue_state(&flow.id).unwrap() else {
        panic!("done")
    };
    let number = done.number();
    assert_eq!(number.to_string(), "U202601000001");
    assert_eq!(sequence(&host, "202601"), Some(1));
    let app = portal
        .reissue_application(Federation::of(Prefecture::OSAKA), "U202601000001")
        .unwrap();
    assert_eq!(
        (app.office, app.billing, app.status),
        (office(), Prefecture::OSAKA, ApplicationStatus::Pending)
    );
    assert_eq!(
        host.outbox.last_to(addr(NOTIFY)).unwrap(),
        mail::reissue_received_mail(&addr(NOTIFY), &number, &office(), Prefecture::OSAKA)
    );
    assert_eq!(host.notices.for_office(&office()).len(), 1);

    // 終了: the flow ends at 【ログイン】; a form sent to it afterwards finds no flow.
    let route = portal
        .submit_to::<Reissue, _>(None, &flow.id, &fill(&screen, "finish", &[]), &mut rng)
        .unwrap();
    assert_eq!(route, Route::Screen(kaigo_seikyu::login::login_screen()));
    let before = host.store.snapshot();
    assert_eq!(
        portal.submit_to::<Reissue, _>(None, &flow.id, &Form::new("finish"), &mut rng),
        Err(PortalError::NoSuchFlow)
    );
    assert_eq!(host.store.snapshot(), before);

    // 戻る on the entry screen (its form as filled): 【パスワード等を紛失した方】, nothing stored.
    let route = portal
        .begin::<Reissue, _>(None, &fill(&entry, "back", &values), &mut rng)
        .unwrap();
    assert_eq!(route, Route::Screen(kaigo_seikyu::lost::menu_screen()));
    assert_eq!(host.store.snapshot(), before);

    // 戻る within the flow: the flow ends and the empty application form is shown again.
    let route = portal
        .begin::<Reissue, _>(None, &fill(&entry, "next", &values), &mut rng)
        .unwrap();
    let (flow, screen) = (
        route.flow().unwrap().clone(),
        route.screen().unwrap().clone(),
    );
    let route = portal
        .submit_to::<Reissue, _>(None, &flow.id, &fill(&screen, "back", &values), &mut rng)
        .unwrap();
    assert_eq!(route, Route::Screen(Reissue::application_screen()));
    assert_eq!(portal.reissue_state(&flow.id), Err(PortalError::NoSuchFlow));
}

/// RI-06, VAL-08: `送信` through the wrapper returns the management number with 【処理終了】, and
/// `終了` ends the flow at 【ログイン】.
#[test]
fn ri_06_submit_returns_the_management_number() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(42);
    for (i, notify) in ["a@jp", "b@jp"].into_iter().enumerate() {
        let number = format!("13{:08}", i + 1);
        host.ledger.insert(record(&number, vec![Prefecture::TOKYO]));
        let (id, _) = portal
            .reissue_start(&form(&number, notify), &mut rng)
            .unwrap();
        let code = code_for(&host, notify);
        portal
            .reissue_input(&id, Input::EnterCode(&code), &mut rng)
            .unwrap();
        let (got, screen) = portal.reissue_submit(&id, &mut rng).unwrap();
        assert_eq!(got.to_string(), format!("U20260100000{}", i + 1));
        assert_eq!(got, number_of(&portal, &id));
        assert_eq!(screen.title, "処理終了");
        let login = portal.reissue_input(&id, Input::Finish, &mut rng).unwrap();
        assert_eq!(login, kaigo_seikyu::login::login_screen());
        assert_eq!(portal.reissue_state(&id), Err(PortalError::NoSuchFlow));
    }
    // Submitting what is not at 【送信確認】 returns no number and changes nothing.
    let (id, _) = portal
        .reissue_start(&form(OFFICE, NOTIFY), &mut rng)
        .unwrap();
    let before = host.store.snapshot();
    assert!(matches!(
        portal.reissue_submit(&id, &mut rng),
        Err(PortalError::Flow(FlowError::UnexpectedInput { .. }))
    ));
    assert_eq!(host.store.snapshot(), before);
}

/// RI-01, RI-04: a form that does not fit its screen is refused with an error naming the field
/// or button, before anything is read, drawn, counted, stored or mailed: an unknown field, a
/// missing required field, a button the screen does not offer, a value that does not parse, an
/// option not offered; a form sent to a finished flow finds none.
#[test]
fn ri_generic_entry_points_refuse_bad_forms_and_change_nothing() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(43);
    existing_account(&portal, UserId::new(Prefecture::TOKYO, office()), &mut rng);
    existing_account(&portal, UserId::new(Prefecture::OSAKA, office()), &mut rng);
    let good = Form::new("next")
        .with("office", OFFICE)
        .with("notify_address", NOTIFY)
        .with("confirm_notify_address", NOTIFY);

    // The entry screen.
    let mut begin = |form: &Form| {
        let before = host.store.snapshot();
        let result = portal.begin::<Reissue, _>(None, form, &mut rng);
        assert_eq!(host.store.snapshot(), before, "{form:?}");
        assert!(host.outbox.all().is_empty(), "{form:?}");
        form_error(result)
    };
    assert_eq!(
        begin(&good.clone().with("nickname", "x")),
        FormError::UnknownField("nickname".into())
    );
    let missing = Form::new("next")
        .with("office", OFFICE)
        .with("notify_address", NOTIFY);
    assert_eq!(
        begin(&missing),
        FormError::Missing("confirm_notify_address".into())
    );
    let mut send = good.clone();
    send.button = "send".into();
    assert_eq!(begin(&send), FormError::NoSuchButton("send".into()));
    let bad_office = Form::new("next")
        .with("office", "13111")
        .with("notify_address", NOTIFY)
        .with("confirm_notify_address", NOTIFY);
    let e = begin(&bad_office);
    assert_eq!(e.name(), "office");
    assert_eq!(
        e,
        FormError::Invalid {
            field: "office".into(),
            error: ValueError::OfficeNumberLength
        }
    );
    let bad_confirm = Form::new("next")
        .with("office", OFFICE)
        .with("notify_address", NOTIFY)
        .with("confirm_notify_address", "not an address");
    assert_eq!(begin(&bad_confirm).name(), "confirm_notify_address");
    // A confirmation that parses but differs is the flow's refusal (VAL-05), not the form's.
    let before = host.store.snapshot();
    let differs = Form::new("next")
        .with("office", OFFICE)
        .with("notify_address", NOTIFY)
        .with("confirm_notify_address", "jigyosho@jp");
    assert_eq!(
        portal.begin::<Reissue, _>(None, &differs, &mut rng),
        Err(PortalError::Flow(FlowError::ConfirmationMismatch))
    );
    assert_eq!(host.store.snapshot(), before);

    // 【請求先都道府県選択】: an option not offered.
    let route = portal.begin::<Reissue, _>(None, &good, &mut rng).unwrap();
    let flow = route.flow().unwrap().clone();
    let before = host.store.snapshot();
    let submit = |form: &Form, rng: &mut StdRng| {
        let result = portal.submit_to::<Reissue, _>(None, &flow.id, form, rng);
        assert_eq!(host.store.snapshot(), before, "{form:?}");
        result
    };
    let choose = |billing: &str| Form::new("next").with("billing", billing);
    assert_eq!(
        form_error(submit(&choose("01"), &mut rng)),
        FormError::NotAnOption("billing".into())
    );
    assert_eq!(
        form_error(submit(&Form::new("next"), &mut rng)),
        FormError::Missing("billing".into())
    );
    assert!(host.outbox.all().is_empty());
    let route = portal
        .submit_to::<Reissue, _>(None, &flow.id, &choose("13"), &mut rng)
        .unwrap();
    assert_eq!(route.screen().unwrap().title, "確認コード入力");

    // 【確認コード入力】: nothing but the code, with 次へ or 戻る; a malformed code is not counted.
    let before = host.store.snapshot();
    let mails = host.outbox.all().len();
    let submit = |form: &Form, rng: &mut StdRng| {
        let result = portal.submit_to::<Reissue, _>(None, &flow.id, form, rng);
        assert_eq!(host.store.snapshot(), before, "{form:?}");
        assert_eq!(host.outbox.all().len(), mails, "{form:?}");
        form_error(result)
    };
    let code = code_for(&host, NOTIFY);
    assert_eq!(
        submit(
            &Form::new("next")
                .with("code", code.as_str())
                .with("office", OFFICE),
            &mut rng
        ),
        FormError::UnknownField("office".into())
    );
    assert_eq!(
        submit(&Form::new("next"), &mut rng),
        FormError::Missing("code".into())
    );
    assert_eq!(
        submit(&Form::new("send").with("code", code.as_str()), &mut rng),
        FormError::NoSuchButton("send".into())
    );
    let e = submit(&Form::new("next").with("code", "12a4"), &mut rng);
    assert_eq!(e.name(), "code");
    assert!(matches!(e, FormError::Invalid { .. }), "{e:?}");
    assert_eq!(
        submit(&Form::new("next").with("code", "12345"), &mut rng),
        FormError::TooLong("code".into())
    );

    // On to 【処理終了】: it offers only 終了, and once 終了 is sent no form finds the flow.
    let route = portal
        .submit_to::<Reissue, _>(
            None,
            &flow.id,
            &Form::new("next").with("code", code),
            &mut rng,
        )
        .unwrap();
    assert_eq!(route.screen().unwrap().title, "送信確認");
    let route = portal
        .submit_to::<Reissue, _>(None, &flow.id, &Form::new("send"), &mut rng)
        .unwrap();
    assert_eq!(route.screen().unwrap().title, "処理終了");
    let before = host.store.snapshot();
    assert_eq!(
        form_error(portal.submit_to::<Reissue, _>(None, &flow.id, &Form::new("back"), &mut rng)),
        FormError::NoSuchButton("back".into())
    );
    assert_eq!(
        portal.input::<Reissue, _>(None, &flow.id, ReissueInput::Back, &mut rng),
        Err(PortalError::Flow(FlowError::FlowFinished))
    );
    assert_eq!(host.store.snapshot(), before);
    portal
        .submit_to::<Reissue, _>(None, &flow.id, &Form::new("finish"), &mut rng)
        .unwrap();
    let before = host.store.snapshot();
    assert_eq!(
        portal.submit_to::<Reissue, _>(None, &flow.id, &Form::new("send"), &mut rng),
        Err(PortalError::NoSuchFlow)
    );
    assert_eq!(
        portal.input::<Reissue, _>(None, &flow.id, ReissueInput::Finish, &mut rng),
        Err(PortalError::NoSuchFlow)
    );
    assert_eq!(host.store.snapshot(), before);

    // A proxy's start is refused by the flow itself.
    assert_eq!(
        portal.begin_with::<Reissue, _>(None, ReissueStart::Proxy, &mut rng),
        Err(PortalError::Flow(FlowError::ProxyNotSupported))
    );
    assert_eq!(host.store.snapshot(), before);
}

//! The layer the source only partly shows (issue 19): the [?] helps on the screens that carry them
//! (HELP-01 … HELP-05), 【ユーザ情報変更】 and the list's helps (SE-09, SE-10), the precautions
//! (FEE-08), the fee notice in the renewal お知らせ (FEE-07), and the step lists and `戻る` of an
//! account back from a reissue (FL-07, GR-06). Driven through the portal on the in-memory host.

use kaigo_seikyu::account::{Account, TermsAcceptance};
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::certificate::{CertificateInput, Certificates, FeeNotice, MenuChoice};
use kaigo_seikyu::error::{FlowError, PortalError};
use kaigo_seikyu::first_login::Form as FlForm;
use kaigo_seikyu::grace::Form as GrForm;
use kaigo_seikyu::help::{self, Retry};
use kaigo_seikyu::login;
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::{Portal, Route};
use kaigo_seikyu::ports::OfficeRecord;
use kaigo_seikyu::reissue::{Applicant, ApplicationForm};
use kaigo_seikyu::screen::{Form, Help, Node, Screen};
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::store::FlowKind;
use kaigo_seikyu::values::{Prefecture, UserId, Yen};
use rand::SeedableRng;
use rand::rngs::StdRng;

const OFFICE: &str = "KJ131311111111";
const TEMPORARY: &str = "Kari2026pass";
const PASSWORD: &str = "Sakura2026!";

struct World {
    host: Embedded,
    portal: Portal,
    rng: StdRng,
}

fn world_with(at: &str, policy: Policy) -> World {
    let host = Embedded::new(utc(at));
    let portal = host.portal(policy, CodeKey::from_bytes([19; 32]));
    host.ledger.insert(OfficeRecord {
        number: "1311111111".parse().unwrap(),
        name: "請求事業所A".into(),
        postal_address: "東京都千代田区".into(),
        phone: "03-0000-0000".into(),
        billing: vec![Prefecture::TOKYO],
    });
    World {
        host,
        portal,
        rng: StdRng::seed_from_u64(19),
    }
}

fn world(at: &str) -> World {
    world_with(at, Policy::insecure_fast_hashing())
}

impl World {
    fn user() -> UserId {
        OFFICE.parse().unwrap()
    }

    /// An office with `addresses` registered and `PASSWORD` as its password.
    fn office(&mut self, addresses: &[&str]) -> UserId {
        let hash = self.portal.hash_secret(PASSWORD.as_bytes(), &mut self.rng);
        self.provision(Account::new(World::user(), hash), addresses)
    }

    /// An account back from a reissue (RI-09): it has been through the first login, holds a
    /// temporary password, and has `addresses` (none: the reviewer cleared them, so no grace).
    fn reissued(&mut self, addresses: &[&str]) -> UserId {
        let hash = self.portal.hash_secret(TEMPORARY.as_bytes(), &mut self.rng);
        let mut account = login::new_office(World::user(), hash);
        account.notice_email = kaigo_seikyu::account::NoticeEmail::Declined;
        self.provision(account, addresses)
    }

    /// Creates `account` past its first login (terms of 2020 accepted) with `addresses`.
    fn provision(&mut self, mut account: Account, addresses: &[&str]) -> UserId {
        account.terms = Some(TermsAcceptance {
            version: 1,
            at: utc("2020-04-01T09:00:00+09:00"),
        });
        account.first_login_done = true;
        for a in addresses {
            account
                .security_emails
                .add(a.parse().unwrap(), self.portal.now())
                .unwrap();
        }
        let user = account.user_id;
        self.portal.create_account(account).unwrap();
        user
    }

    fn code_to(&self, to: &str) -> String {
        self.host
            .outbox
            .last_to(to)
            .expect("a mail")
            .code()
            .expect("a code")
            .to_owned()
    }
}

/// The help that stands right after the text `lead` on `screen`.
fn help_after(screen: &Screen, lead: &str) -> Help {
    let at = screen
        .nodes
        .iter()
        .position(|n| matches!(n, Node::Text(t) if t.text == lead))
        .unwrap_or_else(|| panic!("no {lead} on {screen}"));
    match &screen.nodes[at + 1] {
        Node::Help(h) => h.clone(),
        other => panic!("after {lead}: {other:?}\n{screen}"),
    }
}

const CODE_LEAD: &str =
    "また、入力されたメールアドレスに誤りがない場合、以下の原因が考えられます。";
const OTP_LEAD: &str = "しばらく待ってもメールが届かない場合、以下の原因が考えられます。";

/// The help with its label set aside: what HELP-04 compares.
fn content(h: &Help) -> (String, Vec<String>) {
    (h.title.clone(), h.body.clone())
}

/// HELP-01: the reissue application's 【確認コード入力】 offers, beside the line on a correct
/// address, the [?] `メールが届かない場合について` in full with the reissue wording.
#[test]
fn help_01_the_reissue_code_screen_offers_the_help() {
    let mut w = world("2026-02-10T10:00:00+09:00");
    let form = ApplicationForm {
        applicant: Applicant::Office,
        office_number: "1311111111",
        notify: "jigyousho@jp",
        notify_confirm: "jigyousho@jp",
    };
    let (_, screen) = w.portal.reissue_start(&form, &mut w.rng).unwrap();
    assert_eq!(screen.title, "確認コード入力");
    let h = help_after(&screen, CODE_LEAD);
    assert_eq!(
        h,
        Help {
            label: CODE_LEAD.into(),
            ..help::mail_not_arriving(Retry::Reissue)
        }
    );
    assert_eq!(h.title, "メールが届かない場合について");
    assert_eq!(
        h.body
            .iter()
            .filter(|l| l.ends_with("再度ログイン情報再発行申請を行ってください。"))
            .count(),
        3
    );
    assert!(screen.shows("[?] メールが届かない場合について\n  入力されたメールアドレスに誤りがない場合は、以下の原因が考えられます。\n"));
}

/// HELP-02, HELP-03: the security-email 【確認コード入力】 of FL, GR and SE carry the help with
/// `再度セキュリティ用メールアドレスを設定してください。`; the list's 【ワンタイムパスワード入力】 the
/// same, beside `しばらく待ってもメールが届かない場合、…`; the reset's with
/// `再度ログイン情報再設定を行ってください。`.
#[test]
fn help_02_help_03_code_and_otp_screens_offer_the_help_with_their_wording() {
    let security = help::mail_not_arriving(Retry::SecurityEmail);
    let reset = help::mail_not_arriving(Retry::Reset);

    // FL: a new office up to its 【確認コード入力】.
    let mut w = world("2026-01-10T10:00:00+09:00");
    let user = World::user();
    w.portal
        .provision_new_office(OFFICE, TEMPORARY, &mut w.rng)
        .unwrap();
    let route = w.portal.login(OFFICE, TEMPORARY, &mut w.rng).unwrap();
    let id = route.flow_id().unwrap().clone();
    let forms = [
        FlForm::AcceptTerms,
        FlForm::StartPasswordChange,
        FlForm::ChangePassword {
            current: TEMPORARY,
            new: PASSWORD,
            confirm: PASSWORD,
        },
        FlForm::Finish,
        FlForm::DeclineNoticeEmail,
        FlForm::Finish,
        FlForm::SetSecurityEmail {
            address: "a@jp",
            confirm: "a@jp",
        },
    ];
    let mut route = route;
    for form in forms {
        route = w.portal.first_login_input(&id, form, &mut w.rng).unwrap();
    }
    let screen = route.screen().unwrap();
    assert_eq!(screen.title, "確認コード入力");
    assert_eq!(content(&help_after(screen, CODE_LEAD)), content(&security));
    let code = w.code_to("a@jp");
    w.portal
        .first_login_input(&id, FlForm::EnterCode(&code), &mut w.rng)
        .unwrap();

    // SE: 【ワンタイムパスワード入力】 then 【確認コード入力】.
    let (id, otp_screen) = w
        .portal
        .security_email_add_start(&user, "b@jp", "b@jp", &mut w.rng)
        .unwrap();
    assert_eq!(
        content(&help_after(&otp_screen, OTP_LEAD)),
        content(&security)
    );
    let otp = w.code_to("a@jp");
    let code_screen = w
        .portal
        .security_email_input(
            &user,
            &id,
            kaigo_seikyu::security_emails::UserInput::Otp(&otp),
            &mut w.rng,
        )
        .unwrap();
    assert_eq!(
        content(&help_after(&code_screen, CODE_LEAD)),
        content(&security)
    );

    // RS: 【ワンタイムパスワード入力】.
    let (_, screen) = w
        .portal
        .reset_start("1311111111", "a@jp", &mut w.rng)
        .unwrap();
    assert_eq!(content(&help_after(&screen, OTP_LEAD)), content(&reset));

    // GR: an existing office's 【確認コード入力】.
    let mut w = world("2026-01-10T10:00:00+09:00");
    let terms = TermsAcceptance {
        version: 1,
        at: utc("2020-04-01T09:00:00+09:00"),
    };
    w.portal
        .provision_existing_office(OFFICE, PASSWORD, terms, &mut w.rng)
        .unwrap();
    let id = w
        .portal
        .login(OFFICE, PASSWORD, &mut w.rng)
        .unwrap()
        .flow_id()
        .unwrap()
        .clone();
    let route = w
        .portal
        .grace_input(
            &id,
            GrForm::Next {
                skip: false,
                address: "a@jp",
                confirm: "a@jp",
            },
            &mut w.rng,
        )
        .unwrap();
    let screen = route.screen().unwrap();
    assert_eq!(content(&help_after(screen, CODE_LEAD)), content(&security));
    // GR-06: the code entry and done screens keep the one-step list, its step marked.
    assert_eq!(screen.steps, ["1 セキュリティ用メールアドレス設定"]);
    assert_eq!(screen.current, 0);
    let code = w.code_to("a@jp");
    let done = w
        .portal
        .grace_input(&id, GrForm::EnterCode(&code), &mut w.rng)
        .unwrap();
    let done = done.screen().unwrap();
    assert_eq!(done.title, "処理終了");
    assert_eq!(
        (done.steps.as_slice(), done.current),
        (&["1 セキュリティ用メールアドレス設定"][..], 0)
    );
}

/// HELP-05: the reset's 【ワンタイムパスワード入力】 shows the source's two `※` lines under the
/// causes and not the manual's remark that a wrong address gets no explicit error.
#[test]
fn help_05_the_reset_otp_screen_shows_only_the_source_notes() {
    let mut w = world("2026-02-10T10:00:00+09:00");
    w.office(&["a@jp"]);
    let (_, screen) = w
        .portal
        .reset_start("1311111111", "a@jp", &mut w.rng)
        .unwrap();
    let own: Vec<&str> = screen
        .texts()
        .filter(|t| t.id.starts_with("rs.otp."))
        .map(|t| t.text.as_str())
        .collect();
    assert_eq!(
        own,
        [
            "※ 入力したメールアドレスが、実際に登録済みのセキュリティ用メールアドレスと異なる場合、ワンタイムパスワードは送信されません。",
            "※ 登録済みのセキュリティ用メールアドレスが不明な場合、パスワード等を紛失した方画面で、「セキュリティ用メールアドレスが不明または未登録の場合はこちら」を選択してください。",
        ]
    );
    assert!(!screen.shows("明確な指摘"));
}

/// HELP-04: every help on the screens two different offices see is one of the catalogue's, the
/// same for both, and names neither office nor address.
#[test]
fn help_04_helps_are_the_same_for_every_office() {
    let catalogue: Vec<(String, Vec<String>)> = help::all(&Policy::insecure_fast_hashing())
        .iter()
        .map(content)
        .collect();
    let mut seen = Vec::new();
    for (office, address) in [("1311111111", "a@jp"), ("1322222222", "other@jp")] {
        let mut w = world("2026-02-10T10:00:00+09:00");
        let user: UserId = format!("KJ13{office}").parse().unwrap();
        let mut account = Account::new(user, w.portal.hash_secret(PASSWORD.as_bytes(), &mut w.rng));
        account
            .security_emails
            .add(address.parse().unwrap(), w.portal.now())
            .unwrap();
        account
            .security_emails
            .add(format!("2{address}").parse().unwrap(), w.portal.now())
            .unwrap();
        w.portal.create_account(account).unwrap();
        let mut screens = vec![
            w.portal
                .open(FlowKind::SecurityEmails, Some(&user))
                .unwrap(),
        ];
        let route = w
            .portal
            .start(
                FlowKind::SecurityEmails,
                Some(&user),
                &Form::new("security_emails"),
                &mut w.rng,
            )
            .unwrap();
        screens.push(route.screen().unwrap().clone());
        let (_, otp) = w.portal.reset_start(office, address, &mut w.rng).unwrap();
        screens.push(otp);
        let helps: Vec<(String, Vec<String>)> = screens
            .iter()
            .flat_map(|s| s.helps())
            .map(content)
            .collect();
        assert_eq!(helps.len(), 3);
        for h in &helps {
            assert!(catalogue.contains(h), "{h:?}");
            let text = format!("{h:?}");
            assert!(!text.contains(office) && !text.contains(address), "{text}");
        }
        seen.push(helps);
    }
    assert_eq!(seen[0], seen[1]);
}

/// SE-09: 【ユーザ情報変更】 is the entry of the security-email list: step 1 of its steps, the
/// button `セキュリティ用メールアドレス設定` with the source's [?]; pressing it by name reaches the
/// list (step 2), whose `追加` reaches 【セキュリティ用メールアドレス設定】 (step 3 of six).
#[test]
fn se_09_user_info_leads_to_the_list() {
    let mut w = world("2026-02-10T10:00:00+09:00");
    let user = w.office(&["a@jp"]);
    let entry = w
        .portal
        .open(FlowKind::SecurityEmails, Some(&user))
        .unwrap();
    assert_eq!(entry.title, "ユーザ情報変更");
    assert_eq!(
        (entry.steps.as_slice(), entry.current),
        (&["1 ユーザ情報変更"][..], 0)
    );
    let name = entry
        .button_named("セキュリティ用メールアドレス設定")
        .expect("the button");
    let h = entry.helps().next().expect("its [?]").clone();
    assert_eq!(h.label, "セキュリティ用メールアドレス設定");
    assert_eq!(h.title, "セキュリティ用メールアドレス設定について");
    assert_eq!(
        h.body,
        [
            "セキュリティ用メールアドレスは、電子請求受付システムから送信されるセキュリティ強化のための情報(ワンタイムパスワード等)を受け取るために使用します。"
        ]
    );
    let route = w
        .portal
        .start(
            FlowKind::SecurityEmails,
            Some(&user),
            &Form::new(name),
            &mut w.rng,
        )
        .unwrap();
    let Route::Flow { flow, screen } = route else {
        panic!("the list is a state of the flow")
    };
    assert_eq!(screen.title, "セキュリティ用メールアドレス一覧");
    assert_eq!(
        (screen.steps.as_slice(), screen.current),
        (
            &["1 ユーザ情報変更", "2 セキュリティ用メールアドレス一覧"][..],
            1
        )
    );
    let setting = w
        .portal
        .submit(Some(&user), &flow, &Form::new("add"), &mut w.rng)
        .unwrap();
    let setting = setting.screen().unwrap();
    assert_eq!(setting.steps[0], "1 ユーザ情報変更");
    assert_eq!(
        setting.steps[setting.current],
        "3 セキュリティ用メールアドレス設定"
    );
}

/// SE-10: with two or more addresses, `削除` beside each and the line telling how to delete one;
/// with one, neither. The `通知先` header carries its [?] either way.
#[test]
fn se_10_delete_line_and_the_notification_help() {
    let delete_line = "セキュリティ用メールアドレスを削除する場合、対象のセキュリティ用メールアドレスの【削除】ボタンを押してください。";
    for (addresses, deletable) in [
        (&["a@jp"][..], false),
        (&["a@jp", "b@jp", "c@jp"][..], true),
    ] {
        let mut w = world("2026-02-10T10:00:00+09:00");
        let user = w.office(addresses);
        let list = w.portal.security_emails(&user).unwrap();
        assert_eq!(list.shows(delete_line), deletable, "{list}");
        let deletes = list.buttons().filter(|b| b.label == "削除").count();
        assert_eq!(deletes, if deletable { addresses.len() } else { 0 });
        let h = list.helps().next().expect("the 通知先 [?]");
        assert_eq!(*h, help::notification_destination());
        assert!(list.shows("通知先 | [?] | セキュリティ用メールアドレス"));
        assert!(h.body[0].contains("「選択中」"));
    }
}

/// FEE-08: the precautions are the policy's text; 【証明書】 does not show them until
/// `発行申請を行う前に ?` is pressed, then shows them as the [?] help, and that unlocks the
/// application (FEE-04). No status line is invented.
#[test]
fn fee_08_showing_the_precautions_is_reading_them() {
    let text = vec![
        "発行申請の前に、必ずお読みください。".to_owned(),
        "・テスト用の注意事項".to_owned(),
    ];
    let policy = Policy {
        precautions: text.clone(),
        ..Policy::insecure_fast_hashing()
    };
    let mut w = world_with("2026-02-10T10:00:00+09:00", policy);
    let user = w.office(&["a@jp"]);
    let (id, menu) = w.portal.certificate_start(&user, &mut w.rng).unwrap();
    assert!(menu.offers("発行申請を行う前に ?"));
    assert_eq!(menu.helps().count(), 0, "not shown before it is opened");
    assert!(!menu.shows("確認済み"));
    assert_eq!(
        w.portal
            .certificate_input(
                &user,
                &id,
                CertificateInput::Next(MenuChoice::Apply),
                &mut w.rng
            )
            .unwrap_err(),
        PortalError::Flow(FlowError::PrecautionsNotRead)
    );
    let menu = w
        .portal
        .certificate_input(&user, &id, CertificateInput::ReadPrecautions, &mut w.rng)
        .unwrap();
    let h = menu.helps().next().expect("the precautions");
    assert_eq!((h.title.as_str(), &h.body), ("発行申請を行う前に", &text));
    assert!(!menu.shows("確認済み"));
    let next = w
        .portal
        .certificate_input(
            &user,
            &id,
            CertificateInput::Next(MenuChoice::Apply),
            &mut w.rng,
        )
        .unwrap();
    assert_eq!(next.title, "証明書発行用パスワード入力");
}

/// FEE-07: within the notice window the renewal お知らせ carries the two notice sentences; outside
/// it, neither.
#[test]
fn fee_07_the_renewal_notice_carries_the_fee_notice_within_the_window() {
    let policy = Policy::default();
    let mut certs = Certificates::default();
    let end = chrono::NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
    let cert = certs.import(utc("2023-04-01T10:00:00+09:00"), end, Yen(13_200));
    let office = "1311111111".parse().unwrap();
    let announcement = "2026年4月1日より、証明書発行手数料が13,200円から7,800円に変更されます。";
    let application =
        "2026年4月1日以降に発行申請した証明書から、変更後の手数料（7,800円）が適用されます。";
    for (at, window) in [
        ("2026-01-05T09:00:00+09:00", true),
        ("2026-03-31T23:00:00+09:00", true),
        ("2025-12-31T23:00:00+09:00", false),
        ("2026-04-01T00:00:00+09:00", false),
    ] {
        let notice = FeeNotice::at(&policy, utc(at));
        let n = kaigo_seikyu::certificate::renewal_notice(office, &cert, notice.as_ref());
        assert_eq!(n.body.contains(announcement), window, "{at}\n{}", n.body);
        assert_eq!(n.body.contains(application), window, "{at}\n{}", n.body);
    }
}

/// FL-07, GR-06: an account back from a reissue whose security emails were cleared sees the
/// steps it is asked, numbered from 1 (password change, security email, code, end), never
/// `メールアドレス設定`; `戻る` on its 【セキュリティ用メールアドレス設定】 does not lead to the notice
/// email it already answered but to 【ログイン】. One that kept its addresses sees
/// `1 パスワード変更 2 終了`. A new office sees the source's five steps.
#[test]
fn fl_07_gr_06_step_lists_and_back_of_an_account_back_from_a_reissue() {
    let mut w = world("2026-02-27T09:00:00+09:00");
    w.reissued(&[]);
    let route = w.portal.login(OFFICE, TEMPORARY, &mut w.rng).unwrap();
    let id = route.flow_id().unwrap().clone();
    let warning = route.screen().unwrap();
    assert_eq!(warning.title, "警告");
    let asked = [
        "1 パスワード変更",
        "2 セキュリティ用メールアドレス設定",
        "3 確認コード入力",
        "4 終了",
    ];
    assert_eq!((warning.steps.as_slice(), warning.current), (&asked[..], 0));
    let mut titles = Vec::new();
    let mut route = route;
    for form in [
        FlForm::StartPasswordChange,
        FlForm::ChangePassword {
            current: TEMPORARY,
            new: PASSWORD,
            confirm: PASSWORD,
        },
        FlForm::Finish,
    ] {
        route = w.portal.first_login_input(&id, form, &mut w.rng).unwrap();
        let s = route.screen().unwrap();
        assert_eq!(s.steps, asked, "{s}");
        titles.push(s.title.clone());
    }
    assert_eq!(titles.last().unwrap(), "セキュリティ用メールアドレス設定");
    assert_eq!(route.screen().unwrap().current, 1);
    let back = w
        .portal
        .first_login_input(&id, FlForm::Back, &mut w.rng)
        .unwrap();
    assert_eq!(back.screen().unwrap().title, "ログイン", "{back:?}");
    assert!(back.flow().is_none());
    // The next login asks the registration, with the same list from its step on.
    let route = w.portal.login(OFFICE, PASSWORD, &mut w.rng).unwrap();
    let s = route.screen().unwrap();
    assert_eq!(s.title, "セキュリティ用メールアドレス設定");
    assert!(
        !s.steps
            .iter()
            .any(|st| st.contains("メールアドレス設定") && st.starts_with("2 メール"))
    );
    let id = route.flow_id().unwrap().clone();
    let code = w
        .portal
        .first_login_input(
            &id,
            FlForm::SetSecurityEmail {
                address: "a@jp",
                confirm: "a@jp",
            },
            &mut w.rng,
        )
        .unwrap();
    let code = code.screen().unwrap();
    assert_eq!(
        code.steps[code.current],
        format!("{} 確認コード入力", code.current + 1)
    );
    assert!(!code.steps.contains(&"2 メールアドレス設定"));

    // Kept its addresses: the password change only.
    let mut w = world("2026-02-27T09:00:00+09:00");
    w.reissued(&["a@jp"]);
    let route = w.portal.login(OFFICE, TEMPORARY, &mut w.rng).unwrap();
    assert_eq!(
        route.screen().unwrap().steps,
        ["1 パスワード変更", "2 終了"]
    );

    // A new office: the source's list.
    let mut w = world("2026-02-27T09:00:00+09:00");
    w.portal
        .provision_new_office(OFFICE, TEMPORARY, &mut w.rng)
        .unwrap();
    let route = w.portal.login(OFFICE, TEMPORARY, &mut w.rng).unwrap();
    let id = route.flow_id().unwrap().clone();
    let warning = w
        .portal
        .first_login_input(&id, FlForm::AcceptTerms, &mut w.rng)
        .unwrap();
    assert_eq!(
        warning.screen().unwrap().steps,
        kaigo_seikyu::first_login::STEPS
    );
}

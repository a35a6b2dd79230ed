//! SE — the list of security emails after login (source 1.2.1 (2)), driven as the source numbers
//! its procedure, on a virtual clock, reading codes from the outbox like a user reading mail.
//!
//! Steps of adding: `1 ユーザ情報変更 2 セキュリティ用メールアドレス一覧 3 セキュリティ用メールアドレス設定
//! 4 ワンタイムパスワード入力 5 確認コード入力 6 終了`.

use chrono::TimeDelta;
use kaigo_seikyu::account::Account;
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::effect::EventKind;
use kaigo_seikyu::error::{FlowError, PortalError};
use kaigo_seikyu::mail::Mail;
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::Portal;
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::security_emails::UserInput;
use kaigo_seikyu::store::FlowId;
use kaigo_seikyu::values::{EmailAddress, UserId};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// An office after login, with its security emails registered in this order (the first selected).
struct Office {
    host: Embedded,
    portal: Portal,
    rng: StdRng,
    user: UserId,
}

fn a(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

fn office(addresses: &[&str]) -> Office {
    let start = utc("2026-01-10T12:00:00+09:00");
    let host = Embedded::new(start);
    let portal = host.portal(
        Policy::insecure_fast_hashing(),
        CodeKey::from_bytes([42; 32]),
    );
    let mut rng = StdRng::seed_from_u64(2025);
    let user: UserId = "KJ131311111111".parse().unwrap();
    let mut account = Account::new(user, portal.hash_secret(b"Passw0rd!", &mut rng));
    for address in addresses {
        account.security_emails.add(a(address), start).unwrap();
    }
    portal.create_account(account).unwrap();
    // The provisioning event (OPS-06) is the set-up's, not the list's.
    host.events.drain();
    Office {
        host,
        portal,
        rng,
        user,
    }
}

/// The code a T1/T2 mail delivers: the line after `[確認コード]` or `[ワンタイムパスワード]`.
fn code_in(mail: &Mail) -> String {
    mail.code().expect("a code mail").to_owned()
}

/// A code of the same length that is not `code`.
fn wrong(code: &str) -> String {
    let last = code.as_bytes()[code.len() - 1];
    format!(
        "{}{}",
        &code[..code.len() - 1],
        if last == b'9' {
            '0'
        } else {
            char::from(last + 1)
        }
    )
}

impl Office {
    fn list(&self) -> Vec<String> {
        let acct = self.portal.account(&self.user).unwrap().unwrap();
        acct.security_emails
            .entries()
            .iter()
            .map(|e| e.address.to_string())
            .collect()
    }

    fn selected(&self) -> String {
        let acct = self.portal.account(&self.user).unwrap().unwrap();
        acct.security_emails.selected().unwrap().to_string()
    }

    fn last_code_to(&self, to: &str) -> String {
        code_in(&self.host.outbox.last_to(a(to)).expect("a mail"))
    }

    fn input(&mut self, id: &FlowId, input: UserInput<'_>) -> Result<String, PortalError> {
        self.portal
            .security_email_input(&self.user, id, input, &mut self.rng)
            .map(|s| s.to_string())
    }

    fn add(&mut self, new: &str) -> Result<(FlowId, String), PortalError> {
        self.portal
            .security_email_add_start(&self.user, new, new, &mut self.rng)
            .map(|(id, s)| (id, s.to_string()))
    }

    /// 手順 3.–5. of adding `new` (or changing `old` into it), all in one go.
    fn complete(&mut self, old: Option<&str>, new: &str) -> Result<String, PortalError> {
        let selected = self.selected();
        let (id, _) = match old {
            None => self.add(new)?,
            Some(old) => self
                .portal
                .security_email_change_start(&self.user, old, new, new, &mut self.rng)
                .map(|(id, s)| (id, s.to_string()))?,
        };
        let otp = self.last_code_to(&selected);
        self.input(&id, UserInput::Otp(&otp))?;
        let code = self.last_code_to(new);
        self.input(&id, UserInput::Code(&code))
    }

    fn events(&self) -> Vec<EventKind> {
        self.host.events.all().into_iter().map(|e| e.kind).collect()
    }
}

/// SE-06, SE-07, SE-08: adding a second address, step by step as the source lists the steps:
/// a one-time password (T2) to the selected address, then a confirmation code (T1) to the new
/// one, then the address is registered, a お知らせ posted and an event logged.
#[test]
fn se_06_add_a_second_address_step_by_step() {
    let mut o = office(&["mailforsecurity-001@jp"]);
    let user = o.user;
    // 手順 1. ユーザ情報変更 → 手順 2. 【セキュリティ用メールアドレス一覧】 (one address: no 削除).
    insta::assert_snapshot!(
        "list_one",
        o.portal.security_emails(&user).unwrap().to_string()
    );
    // 手順 3. `追加`: 【セキュリティ用メールアドレス設定】.
    insta::assert_snapshot!(
        "form_add",
        o.portal.security_email_add_form(&user).unwrap().to_string()
    );
    let (id, screen) = o.add("mailforsecurity-002@jp").unwrap();
    // 手順 4. 【ワンタイムパスワード入力】: a T2 to the selected address, nothing to the new one yet.
    insta::assert_snapshot!("otp", screen);
    let t2 = o.host.outbox.last_to(a("mailforsecurity-001@jp")).unwrap();
    assert_eq!(t2.subject, "ワンタイムパスワード発行通知(介護保険)");
    assert!(o.host.outbox.last_to(a("mailforsecurity-002@jp")).is_none());
    let otp = code_in(&t2);
    assert_eq!(otp.len(), 6);
    // 手順 5. 【確認コード入力】: a T1 to the new address.
    let screen = o.input(&id, UserInput::Otp(&otp)).unwrap();
    insta::assert_snapshot!("code", screen);
    let t1 = o.host.outbox.last_to(a("mailforsecurity-002@jp")).unwrap();
    assert_eq!(t1.subject, "確認コード発行通知(介護保険)");
    let code = code_in(&t1);
    assert_eq!(code.len(), 4);
    assert_eq!(
        o.list(),
        ["mailforsecurity-001@jp"],
        "nothing registered before the code"
    );
    // 手順 6. 【処理終了】.
    let screen = o.input(&id, UserInput::Code(&code)).unwrap();
    insta::assert_snapshot!("done_add", screen);
    assert_eq!(
        o.list(),
        ["mailforsecurity-001@jp", "mailforsecurity-002@jp"]
    );
    assert_eq!(
        o.selected(),
        "mailforsecurity-001@jp",
        "the selection stays"
    );
    // `終了`: back to the list, now with 削除 on every row.
    insta::assert_snapshot!(
        "list_two",
        o.portal.security_emails(&user).unwrap().to_string()
    );
    // SE-08: one お知らせ, one event, no mail but the two codes.
    let notices = o.host.notices.for_office(&user.office());
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].title, "セキュリティ用メールアドレス登録通知");
    assert!(notices[0].body.contains("mailforsecurity-002@jp"));
    assert_eq!(o.events(), [EventKind::SecurityEmailRegistered { user }]);
    assert_eq!(o.host.outbox.all().len(), 2);
    // The flow is over.
    assert_eq!(
        o.input(&id, UserInput::Code(&code)),
        Err(PortalError::Flow(FlowError::FlowFinished))
    );
}

/// SE-06, SE-08: changing an address puts the new one in its place, keeps the selection, posts a
/// お知らせ, logs an event and mails every address registered before the change (the old one
/// included), never the new one.
#[test]
fn se_06_se_08_change_an_address() {
    let mut o = office(&["old@jp", "other@jp"]);
    let user = o.user;
    // 手順 3. `変更` on the row of old@jp.
    insta::assert_snapshot!(
        "form_change",
        o.portal
            .security_email_change_form(&user, "old@jp")
            .unwrap()
            .to_string()
    );
    let screen = o.complete(Some("old@jp"), "new@jp").unwrap();
    insta::assert_snapshot!("done_change", screen);
    assert_eq!(o.list(), ["new@jp", "other@jp"]);
    assert_eq!(
        o.selected(),
        "new@jp",
        "the changed address keeps its selection"
    );
    assert_eq!(o.events(), [EventKind::SecurityEmailChanged { user }]);
    let notices = o.host.notices.for_office(&user.office());
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].title, "セキュリティ用メールアドレス変更通知");
    let told: Vec<Mail> = o
        .host
        .outbox
        .all()
        .into_iter()
        .filter(|m| m.subject == "セキュリティ用メールアドレス変更通知(介護保険)")
        .collect();
    let mut to: Vec<&str> = told.iter().map(|m| m.to.as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, ["old@jp", "other@jp"]);
    assert!(told.iter().all(|m| !m.body.contains("new@jp")));
}

/// SE-06, SEC-03: each code is valid 30 minutes from its mail: accepted at 29:59, refused at
/// 30:00 with nothing changed.
#[test]
fn se_06_each_code_is_valid_30_minutes() {
    let mut o = office(&["a@jp"]);
    let (id, _) = o.add("b@jp").unwrap();
    let otp = o.last_code_to("a@jp");
    // 手順 4. just in time.
    o.host.clock.advance(TimeDelta::seconds(29 * 60 + 59));
    o.input(&id, UserInput::Otp(&otp)).unwrap();
    let code = o.last_code_to("b@jp");
    // 手順 5. too late: the code's 30 minutes run from its own mail.
    o.host.clock.advance(TimeDelta::minutes(30));
    let before = o.host.store.snapshot();
    assert_eq!(
        o.input(&id, UserInput::Code(&code)),
        Err(PortalError::Flow(FlowError::CodeExpired))
    );
    assert_eq!(
        o.host.store.snapshot(),
        before,
        "an expired code changes nothing"
    );
    assert_eq!(o.list(), ["a@jp"]);
    // An OTP entered at exactly 30:00 is refused too.
    let (id, _) = o.add("b@jp").unwrap();
    let otp = o.last_code_to("a@jp");
    o.host.clock.advance(TimeDelta::minutes(30));
    assert_eq!(
        o.input(&id, UserInput::Otp(&otp)),
        Err(PortalError::Flow(FlowError::CodeExpired))
    );
    assert_eq!(
        o.portal.security_email_screen(&o.user, &id).unwrap().title,
        "ワンタイムパスワード入力"
    );
}

/// SE-06 (attempt-limited), VAL-07: wrong one-time passwords are counted and the fifth voids it;
/// a badly formed one is not counted; the list never changes.
#[test]
fn se_06_wrong_codes_are_counted_and_void_the_code() {
    let mut o = office(&["a@jp"]);
    let (id, _) = o.add("b@jp").unwrap();
    let otp = o.last_code_to("a@jp");
    for bad in ["12345", "１２３４５６", "abcdef", ""] {
        assert!(matches!(
            o.input(&id, UserInput::Otp(bad)),
            Err(PortalError::Flow(FlowError::Value(_)))
        ));
    }
    for remaining in (1..=4).rev() {
        assert_eq!(
            o.input(&id, UserInput::Otp(&wrong(&otp))),
            Err(PortalError::Flow(FlowError::WrongCode { remaining }))
        );
    }
    assert_eq!(
        o.input(&id, UserInput::Otp(&wrong(&otp))),
        Err(PortalError::Flow(FlowError::CodeExhausted))
    );
    assert_eq!(
        o.input(&id, UserInput::Otp(&otp)),
        Err(PortalError::Flow(FlowError::CodeExhausted))
    );
    assert_eq!(o.list(), ["a@jp"]);
    assert!(
        o.host.outbox.last_to(a("b@jp")).is_none(),
        "no code to the new address"
    );
}

/// SE-06 with VAL-05: a confirmation that differs mails nothing, stores nothing.
#[test]
fn se_06_mismatched_confirmation_changes_nothing() {
    let mut o = office(&["a@jp"]);
    let before = o.host.store.snapshot();
    let refused = o
        .portal
        .security_email_add_start(&o.user, "b@jp", "c@jp", &mut o.rng);
    assert_eq!(
        refused.unwrap_err(),
        PortalError::Flow(FlowError::ConfirmationMismatch)
    );
    let refused = o
        .portal
        .security_email_change_start(&o.user, "a@jp", "b@jp", "bb@jp", &mut o.rng);
    assert_eq!(
        refused.unwrap_err(),
        PortalError::Flow(FlowError::ConfirmationMismatch)
    );
    assert_eq!(o.host.store.snapshot(), before);
    assert!(o.host.outbox.all().is_empty());
}

/// SE-06: `戻る` on the code screen returns to the address entry; the codes mailed so far stop
/// working, and entering the address again mails a new one-time password.
#[test]
fn se_06_back_returns_to_the_address_entry() {
    let mut o = office(&["a@jp"]);
    let (id, _) = o.add("typo@jp").unwrap();
    let otp = o.last_code_to("a@jp");
    o.input(&id, UserInput::Otp(&otp)).unwrap();
    let code = o.last_code_to("typo@jp");
    // 手順 5. the mail does not come: `戻る`.
    let screen = o.input(&id, UserInput::Back).unwrap();
    assert!(screen.starts_with("【セキュリティ用メールアドレス設定】"));
    assert_eq!(
        o.input(&id, UserInput::Code(&code)),
        Err(PortalError::Flow(FlowError::UnexpectedInput {
            state: "ChoosingAddress",
            input: "EnterCode"
        }))
    );
    // 手順 3. again, with the right address.
    let screen = o
        .input(
            &id,
            UserInput::Address {
                new: "right@jp",
                confirm: "right@jp",
            },
        )
        .unwrap();
    assert!(screen.starts_with("【ワンタイムパスワード入力】"));
    let otp = o.last_code_to("a@jp");
    o.input(&id, UserInput::Otp(&otp)).unwrap();
    let code = o.last_code_to("right@jp");
    o.input(&id, UserInput::Code(&code)).unwrap();
    assert_eq!(o.list(), ["a@jp", "right@jp"]);
}

/// SE-06, SEC-04: `戻る` does not reset the flow's code count: after five code mails, going back
/// and entering an address again is refused; and `戻る` on the address entry ends the flow and
/// shows the list.
#[test]
fn se_06_sec_04_back_keeps_the_code_count_and_leaves_to_the_list() {
    let mut o = office(&["a@jp"]);
    let (id, _) = o.add("b@jp").unwrap();
    for _ in 0..2 {
        let otp = o.last_code_to("a@jp");
        o.input(&id, UserInput::Otp(&otp)).unwrap();
        o.input(&id, UserInput::Back).unwrap();
        o.input(
            &id,
            UserInput::Address {
                new: "b@jp",
                confirm: "b@jp",
            },
        )
        .unwrap();
    }
    // Five codes so far: T2, T1, T2, T1, T2. The sixth is refused and nothing is mailed.
    let otp = o.last_code_to("a@jp");
    let mails = o.host.outbox.all().len();
    assert_eq!(
        o.input(&id, UserInput::Otp(&otp)),
        Err(PortalError::Flow(FlowError::TooManyCodes))
    );
    assert_eq!(o.host.outbox.all().len(), mails);
    o.input(&id, UserInput::Back).unwrap();
    assert_eq!(
        o.input(
            &id,
            UserInput::Address {
                new: "b@jp",
                confirm: "b@jp"
            }
        ),
        Err(PortalError::Flow(FlowError::TooManyCodes))
    );
    let list = o.input(&id, UserInput::Back).unwrap();
    assert!(
        list.starts_with("【セキュリティ用メールアドレス一覧】"),
        "{list}"
    );
    let user_info = o.input(&id, UserInput::Back).unwrap();
    assert!(user_info.starts_with("【ユーザ情報変更】"), "{user_info}");
    assert_eq!(
        o.portal.security_email_screen(&o.user, &id),
        Err(PortalError::NoSuchFlow)
    );
    assert_eq!(o.list(), ["a@jp"]);
}

/// SE-06 with SEC-07: wrong entries spend the user ID's hourly budget across flows; past ten
/// even the right code is refused, until the hour has passed.
#[test]
fn se_06_guessing_budget_spans_flows() {
    let mut o = office(&["a@jp"]);
    for _ in 0..2 {
        let (id, _) = o.add("b@jp").unwrap();
        let otp = o.last_code_to("a@jp");
        for _ in 0..5 {
            assert!(o.input(&id, UserInput::Otp(&wrong(&otp))).is_err());
        }
    }
    let (id, _) = o.add("b@jp").unwrap();
    let otp = o.last_code_to("a@jp");
    assert_eq!(
        o.input(&id, UserInput::Otp(&otp)),
        Err(PortalError::Flow(FlowError::GuessBudgetExceeded))
    );
    o.host.clock.advance(TimeDelta::minutes(29));
    assert!(
        o.input(&id, UserInput::Otp(&otp)).is_err(),
        "still within the hour of the wrong entries"
    );
    let (id, _) = {
        o.host.clock.advance(TimeDelta::minutes(31));
        o.add("b@jp").unwrap()
    };
    let otp = o.last_code_to("a@jp");
    assert!(
        o.input(&id, UserInput::Otp(&otp))
            .unwrap()
            .starts_with("【確認コード入力】")
    );
}

/// SE-01: five addresses at most. With five, the list offers no `追加`, the form and the start
/// are refused, nothing is mailed. Two flows racing for the fifth place: the second is refused
/// at its code, the list unchanged.
#[test]
fn se_01_a_sixth_address_is_refused() {
    let mut o = office(&["m1@jp", "m2@jp", "m3@jp", "m4@jp"]);
    let (first, _) = o.add("m5@jp").unwrap();
    let otp = o.last_code_to("m1@jp");
    o.input(&first, UserInput::Otp(&otp)).unwrap();
    let (second, _) = o.add("m6@jp").unwrap();
    let otp = o.last_code_to("m1@jp");
    o.input(&second, UserInput::Otp(&otp)).unwrap();
    let code = o.last_code_to("m5@jp");
    o.input(&first, UserInput::Code(&code)).unwrap();
    assert_eq!(o.list().len(), 5);
    let code = o.last_code_to("m6@jp");
    assert_eq!(
        o.input(&second, UserInput::Code(&code)),
        Err(PortalError::Flow(FlowError::SecurityEmailLimit))
    );
    assert_eq!(o.list(), ["m1@jp", "m2@jp", "m3@jp", "m4@jp", "m5@jp"]);

    let screen = o.portal.security_emails(&o.user).unwrap();
    insta::assert_snapshot!("list_five", screen.to_string());
    assert!(!screen.offers("追加"));
    assert_eq!(
        o.portal.security_email_add_form(&o.user),
        Err(PortalError::Flow(FlowError::SecurityEmailLimit))
    );
    let mails = o.host.outbox.all().len();
    assert_eq!(
        o.add("m6@jp").unwrap_err(),
        PortalError::Flow(FlowError::SecurityEmailLimit)
    );
    assert_eq!(o.host.outbox.all().len(), mails, "nothing mailed");
    assert_eq!(
        FlowError::SecurityEmailLimit.message(),
        "セキュリティ用メールアドレスは最大5つまで登録できます。"
    );
}

/// SE-02: the same address (VAL-04: ignoring ASCII case) cannot be registered twice — not by
/// adding, not by changing another into it, not by changing one into itself, not by two flows
/// racing for it.
#[test]
fn se_02_no_address_twice() {
    let mut o = office(&["a@jp", "b@jp"]);
    assert_eq!(
        o.add(" A@JP ").unwrap_err(),
        PortalError::Flow(FlowError::DuplicateSecurityEmail)
    );
    for (old, new) in [("a@jp", "B@jp"), ("a@jp", "a@jp")] {
        let refused = o
            .portal
            .security_email_change_start(&o.user, old, new, new, &mut o.rng);
        assert_eq!(
            refused.unwrap_err(),
            PortalError::Flow(FlowError::DuplicateSecurityEmail)
        );
    }
    assert!(o.host.outbox.all().is_empty());
    let (first, _) = o.add("c@jp").unwrap();
    let otp1 = o.last_code_to("a@jp");
    let (second, _) = o.add("C@jp").unwrap();
    let otp2 = o.last_code_to("a@jp");
    o.input(&first, UserInput::Otp(&otp1)).unwrap();
    let code1 = o.last_code_to("c@jp");
    o.input(&first, UserInput::Code(&code1)).unwrap();
    assert_eq!(
        o.input(&second, UserInput::Otp(&otp2)),
        Err(PortalError::Flow(FlowError::DuplicateSecurityEmail))
    );
    assert_eq!(o.list(), ["a@jp", "b@jp", "c@jp"]);
}

/// SE-03, SE-08: exactly one address is `選択中`; selecting another moves it there, posts a
/// お知らせ and logs an event, and the next one-time password goes to it; deleting the selected
/// one selects the oldest remaining.
#[test]
fn se_03_one_selected_address() {
    let mut o = office(&["a@jp", "b@jp", "c@jp"]);
    let user = o.user;
    let screen = o.portal.security_email_select(&user, "C@JP").unwrap();
    insta::assert_snapshot!("list_three_c_selected", screen.to_string());
    assert_eq!(
        screen
            .to_string()
            .lines()
            .filter(|l| l.starts_with("選択中"))
            .count(),
        1
    );
    assert_eq!(o.selected(), "c@jp");
    assert_eq!(o.events(), [EventKind::SecurityEmailSelected { user }]);
    assert_eq!(
        o.host.notices.for_office(&user.office())[0].title,
        "セキュリティ用メールアドレス通知先変更通知"
    );
    assert!(o.host.outbox.all().is_empty(), "a selection mails no one");
    // Selecting it again changes nothing.
    o.portal.security_email_select(&user, "c@jp").unwrap();
    assert_eq!(o.events().len(), 1);
    // SE-06: the next OTP goes to the selected address.
    o.add("d@jp").unwrap();
    assert_eq!(o.host.outbox.all()[0].to, a("c@jp"));
    // Deleting the selected one selects the oldest remaining.
    o.portal.security_email_delete(&user, "c@jp").unwrap();
    assert_eq!(o.selected(), "a@jp");
    assert_eq!(
        o.portal.security_email_select(&user, "c@jp"),
        Err(PortalError::Flow(FlowError::SecurityEmailNotRegistered))
    );
}

/// SE-04, SE-08: with one address `削除` is not offered and a delete is refused, changing and
/// announcing nothing; with two it is offered, and a delete posts a お知らせ, logs an event and
/// mails every address that was registered, the deleted one included.
#[test]
fn se_04_the_last_address_is_kept() {
    let mut o = office(&["a@jp"]);
    let user = o.user;
    let screen = o.portal.security_emails(&user).unwrap();
    assert!(!screen.shows("削除"));
    let before = o.host.store.snapshot();
    assert_eq!(
        o.portal.security_email_delete(&user, "a@jp"),
        Err(PortalError::Flow(FlowError::LastSecurityEmail))
    );
    assert_eq!(o.host.store.snapshot(), before);
    assert!(
        o.events().is_empty() && o.host.notices.all().is_empty() && o.host.outbox.all().is_empty()
    );

    o.complete(None, "b@jp").unwrap();
    let screen = o.portal.security_emails(&user).unwrap();
    assert!(screen.shows("選択中 | a@jp | [変更] | [削除]"));
    assert!(screen.shows("[選択] | b@jp | [変更] | [削除]"));
    let buttons: Vec<(&str, &str)> = screen
        .buttons()
        .map(|b| (b.name, b.label.as_str()))
        .collect();
    assert_eq!(
        buttons,
        [
            ("change:1", "変更"),
            ("delete:1", "削除"),
            ("select:2", "選択"),
            ("change:2", "変更"),
            ("delete:2", "削除"),
            ("add", "追加"),
            ("back", "戻る"),
        ]
    );
    let mails = o.host.outbox.all().len();
    let screen = o.portal.security_email_delete(&user, "a@jp").unwrap();
    assert!(!screen.shows("削除"));
    assert_eq!(o.list(), ["b@jp"]);
    assert_eq!(o.selected(), "b@jp");
    assert_eq!(
        o.events().last(),
        Some(&EventKind::SecurityEmailDeleted { user })
    );
    assert_eq!(
        o.host
            .notices
            .for_office(&user.office())
            .last()
            .unwrap()
            .title,
        "セキュリティ用メールアドレス削除通知"
    );
    let told: Vec<String> = o.host.outbox.all()[mails..]
        .iter()
        .map(|m| m.to.to_string())
        .collect();
    assert_eq!(told, ["a@jp", "b@jp"]);
    assert_eq!(
        o.portal.security_email_delete(&user, "b@jp"),
        Err(PortalError::Flow(FlowError::LastSecurityEmail))
    );
    assert_eq!(o.list(), ["b@jp"]);
}

/// SE-05: with none registered (GR, within the grace period) the list says so and adding from
/// it is not possible.
#[test]
fn se_05_no_address_registered() {
    let mut o = office(&[]);
    let screen = o.portal.security_emails(&o.user).unwrap();
    insta::assert_snapshot!("list_zero", screen.to_string());
    assert!(screen.shows("セキュリティ用メールアドレスが登録されていません。"));
    assert!(screen.shows(
        "ログイン時に表示されるセキュリティ用メールアドレス設定画面から、セキュリティ用メールアドレスを登録してください。"
    ));
    assert!(!screen.offers("追加"));
    assert_eq!(
        o.portal.security_email_add_form(&o.user),
        Err(PortalError::Flow(FlowError::NoSecurityEmail))
    );
    assert_eq!(
        o.add("a@jp").unwrap_err(),
        PortalError::Flow(FlowError::NoSecurityEmail)
    );
    assert!(o.host.outbox.all().is_empty());
    assert!(o.list().is_empty());
}

/// SE-07: the list's own texts: five at most, recommended to register several, and losing all
/// of them means applying to the support desk with identity verification.
#[test]
fn se_07_list_texts() {
    let o = office(&["mailforsecurity-001@jp"]);
    let screen = o.portal.security_emails(&o.user).unwrap();
    for line in [
        "※ セキュリティ用メールアドレスは複数登録することを推奨しており、最大5つまで登録できます。",
        "すべてのセキュリティ用メールアドレスが使用できなくなると、再度登録するためにはサポート窓口への申請及び本人確認が必要です。",
        "※ お知らせメールの通知先と同じメールアドレスを登録することも可能です。",
    ] {
        assert!(screen.texts().any(|t| t.text == line), "{line}");
    }
    assert_eq!(screen.title, "セキュリティ用メールアドレス一覧");
    assert_eq!(
        screen.steps,
        ["1 ユーザ情報変更", "2 セキュリティ用メールアドレス一覧"]
    );
}

/// SEC-01 within SE-06: the stored flow holds no code, and no screen, お知らせ, event or error
/// shows one.
#[test]
fn se_06_no_code_outside_its_mail() {
    let mut o = office(&["a@jp", "b@jp"]);
    let (id, s1) = o
        .portal
        .security_email_change_start(&o.user, "b@jp", "n@jp", "n@jp", &mut o.rng)
        .unwrap();
    let otp = o.last_code_to("a@jp");
    let e1 = o.input(&id, UserInput::Otp(&wrong(&otp))).unwrap_err();
    let stored_otp = o.host.store.snapshot();
    let s2 = o.input(&id, UserInput::Otp(&otp)).unwrap();
    let code = o.last_code_to("n@jp");
    let stored_code = o.host.store.snapshot();
    let s3 = o.input(&id, UserInput::Code(&code)).unwrap();
    let strings = |records: &[(String, kaigo_seikyu::store::Versioned)]| -> Vec<String> {
        fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::String(s) => out.push(s.clone()),
                serde_json::Value::Array(xs) => xs.iter().for_each(|x| walk(x, out)),
                serde_json::Value::Object(m) => m.values().for_each(|x| walk(x, out)),
                other => out.push(other.to_string()),
            }
        }
        let mut out = Vec::new();
        for (_, r) in records {
            walk(&serde_json::from_slice(&r.value).unwrap(), &mut out);
        }
        out
    };
    assert!(
        !strings(&stored_otp)
            .iter()
            .any(|s| s.contains(&otp) && s.len() <= 8)
    );
    assert!(
        !strings(&stored_code)
            .iter()
            .any(|s| s == &code || s == &otp)
    );
    let shown = format!(
        "{s1}{s2}{s3}{e1}{e1:?}{:?}{:?}",
        o.host.events.all(),
        o.host.notices.all()
    );
    for secret in [&otp, &wrong(&otp), &code] {
        assert!(!shown.contains(secret.as_str()), "{secret} shown");
    }
}

/// SE-06: a flow answers only to the user ID that started it.
#[test]
fn se_06_a_flow_belongs_to_its_user() {
    let mut o = office(&["a@jp"]);
    let (id, _) = o.add("b@jp").unwrap();
    let otp = o.last_code_to("a@jp");
    let stranger: UserId = "KJ271311111111".parse().unwrap();
    let refused = o
        .portal
        .security_email_input(&stranger, &id, UserInput::Otp(&otp), &mut o.rng);
    assert_eq!(refused, Err(PortalError::NoSuchFlow));
    assert_eq!(
        o.portal.security_email_screen(&stranger, &id),
        Err(PortalError::NoSuchFlow)
    );
    assert!(o.input(&id, UserInput::Otp(&otp)).is_ok());
}

/// SE-01, SE-02 with SEC-02: two requests racing with the right code on one flow register the
/// address once; the loser is told the flow is finished.
#[test]
fn se_02_racing_codes_register_once() {
    for seed in 0..8 {
        let mut o = office(&["a@jp"]);
        let (id, _) = o.add("b@jp").unwrap();
        let otp = o.last_code_to("a@jp");
        o.input(&id, UserInput::Otp(&otp)).unwrap();
        let code = o.last_code_to("b@jp");
        let results = race(&o.portal, &o.user, &id, &code, seed);
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        assert!(results.contains(&Err(PortalError::Flow(FlowError::FlowFinished))));
        assert_eq!(o.list(), ["a@jp", "b@jp"]);
        assert_eq!(o.events().len(), 1);
    }
}

/// Two threads entering `code` on flow `id` at once.
fn race(
    portal: &Portal,
    user: &UserId,
    id: &FlowId,
    code: &str,
    seed: u64,
) -> Vec<Result<(), PortalError>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|i| {
                s.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(seed * 2 + i);
                    portal
                        .security_email_input(user, id, UserInput::Code(code), &mut rng)
                        .map(|_| ())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    })
}

// ---------------------------------------------------------------------------------------------
// The invariants under arbitrary sequences.

const POOL: [&str; 7] = [
    "m0@jp", "m1@jp", "M2@jp", "m3@jp", "m4@jp", "m5@jp", "m6@jp",
];

#[derive(Debug, Clone)]
enum Op {
    Add { new: usize, mismatch: bool },
    Change { old: usize, new: usize },
    Otp { flow: usize, right: bool },
    Code { flow: usize, right: bool },
    Back { flow: usize },
    Select(usize),
    Delete(usize),
    Advance(i64),
    RaceCode { flow: usize },
}

/// A flow of the sequence, counted from the newest: mostly the newest.
fn flow() -> impl Strategy<Value = usize> {
    prop_oneof![6 => Just(0usize), 1 => 0..4usize]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..POOL.len(), proptest::bool::weighted(0.1)).prop_map(|(new, mismatch)| Op::Add { new, mismatch }),
        2 => (0..POOL.len(), 0..POOL.len()).prop_map(|(old, new)| Op::Change { old, new }),
        4 => (flow(), proptest::bool::weighted(0.85)).prop_map(|(flow, right)| Op::Otp { flow, right }),
        4 => (flow(), proptest::bool::weighted(0.85)).prop_map(|(flow, right)| Op::Code { flow, right }),
        1 => flow().prop_map(|flow| Op::Back { flow }),
        2 => (0..POOL.len()).prop_map(Op::Select),
        2 => (0..POOL.len()).prop_map(Op::Delete),
        1 => (0..40i64).prop_map(Op::Advance),
        1 => flow().prop_map(|flow| Op::RaceCode { flow }),
    ]
}

/// A flow the sequence started, with the codes its mails delivered.
struct Started {
    id: FlowId,
    otp: Option<String>,
    code: Option<String>,
}

impl Office {
    /// The code of the newest mail, if `result` just mailed one.
    fn mailed_code(&self, before: usize) -> Option<String> {
        let all = self.host.outbox.all();
        all[before..]
            .iter()
            .rev()
            .find(|m| m.subject.ends_with("発行通知(介護保険)"))
            .map(code_in)
    }

    /// SE-01 … SE-04: at least one (the office has one), at most five, no duplicate, exactly one
    /// selected.
    fn assert_invariants(&self) {
        let acct = self.portal.account(&self.user).unwrap().unwrap();
        let list = &acct.security_emails;
        assert!((1..=5).contains(&list.len()), "{} addresses", list.len());
        let entries = list.entries();
        for (i, e) in entries.iter().enumerate() {
            assert!(
                entries[..i].iter().all(|p| p.address != e.address),
                "duplicate {}",
                e.address
            );
        }
        let selected = list.selected().expect("one selected");
        assert_eq!(entries.iter().filter(|e| &e.address == selected).count(), 1);
    }
}

impl Office {
    /// One step of the sequence; returns its result and the index of the flow it acted on.
    fn run(
        &mut self,
        op: &Op,
        flows: &mut Vec<Started>,
    ) -> Result<(Result<(), PortalError>, Option<usize>), TestCaseError> {
        // `i` counts from the newest flow, which most sequences act on.
        let target = |i: usize| (!flows.is_empty()).then(|| flows.len() - 1 - i % flows.len());
        let user = self.user;
        Ok(match *op {
            Op::Add { new, mismatch } => {
                let confirm = if mismatch { "x@jp" } else { POOL[new] };
                let r =
                    self.portal
                        .security_email_add_start(&user, POOL[new], confirm, &mut self.rng);
                (
                    r.map(|(id, _)| {
                        flows.push(Started {
                            id,
                            otp: None,
                            code: None,
                        })
                    }),
                    Some(flows.len().saturating_sub(1)),
                )
            }
            Op::Change { old, new } => {
                let list = self.list();
                let old = &list[old % list.len()];
                let r = self.portal.security_email_change_start(
                    &user,
                    old,
                    POOL[new],
                    POOL[new],
                    &mut self.rng,
                );
                (
                    r.map(|(id, _)| {
                        flows.push(Started {
                            id,
                            otp: None,
                            code: None,
                        })
                    }),
                    Some(flows.len().saturating_sub(1)),
                )
            }
            Op::Otp { flow, right } | Op::Code { flow, right } => match target(flow) {
                None => (Ok(()), None),
                Some(i) => {
                    let f = &flows[i];
                    let input = match op {
                        Op::Otp { .. } => f.otp.clone().unwrap_or_else(|| "000000".into()),
                        _ => f.code.clone().unwrap_or_else(|| "0000".into()),
                    };
                    let entered = if right { input } else { wrong(&input) };
                    let typed = match op {
                        Op::Otp { .. } => UserInput::Otp(&entered),
                        _ => UserInput::Code(&entered),
                    };
                    (
                        self.portal
                            .security_email_input(&user, &f.id, typed, &mut self.rng)
                            .map(|_| ()),
                        Some(i),
                    )
                }
            },
            Op::Back { flow } => match target(flow) {
                None => (Ok(()), None),
                Some(i) => (
                    self.portal
                        .security_email_input(&user, &flows[i].id, UserInput::Back, &mut self.rng)
                        .map(|_| ()),
                    Some(i),
                ),
            },
            Op::Select(i) => (
                self.portal
                    .security_email_select(&user, POOL[i])
                    .map(|_| ()),
                None,
            ),
            Op::Delete(i) => (
                self.portal
                    .security_email_delete(&user, POOL[i])
                    .map(|_| ()),
                None,
            ),
            Op::Advance(minutes) => {
                self.host.clock.advance(TimeDelta::minutes(minutes));
                (Ok(()), None)
            }
            Op::RaceCode { flow } => match target(flow) {
                None => (Ok(()), None),
                Some(i) => {
                    let code = flows[i].code.clone().unwrap_or_else(|| "0000".into());
                    let seed = self.host.outbox.all().len() as u64;
                    let results = race(&self.portal, &user, &flows[i].id, &code, seed);
                    prop_assert!(
                        results.iter().filter(|r| r.is_ok()).count() <= 1,
                        "{:?}",
                        results
                    );
                    (
                        results
                            .into_iter()
                            .find(|r| r.is_ok())
                            .unwrap_or(Err(PortalError::NoSuchFlow)),
                        Some(i),
                    )
                }
            },
        })
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// SE-01, SE-02, SE-03, SE-04 (with SEC-02): over arbitrary sequences of add, change, delete,
    /// select, code entries, `戻る`, clock moves and two requests racing on one flow, the list of an
    /// office that has one never has 0 or more than 5 addresses, never a duplicate, always exactly
    /// one selected; and every refusal leaves the list as it was.
    #[test]
    fn se_01_to_04_list_invariants_hold_under_any_sequence(
        initial in 1..=5usize,
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let mut o = office(&POOL[..initial]);
        let mut flows: Vec<Started> = Vec::new();
        for op in &ops {
            let before = o.list();
            let mails = o.host.outbox.all().len();
            let (result, acted) = o.run(op, &mut flows)?;
            // The code a step just mailed belongs to the flow it acted on.
            if let (Some(code), Some(f)) = (o.mailed_code(mails), acted.and_then(|i| flows.get_mut(i))) {
                if code.len() == 6 {
                    f.otp = Some(code);
                    f.code = None;
                } else {
                    f.code = Some(code);
                }
            }
            if result.is_err() {
                prop_assert_eq!(o.list(), before, "a refusal changed the list: {:?}", result);
            }
            o.assert_invariants();
        }
    }
}

mod generic_forms {
    //! The list and the add-or-change flow driven only through the generic entry points
    //! (`entry`, `begin`, `submit_to`), with forms filled by field and button names.
    use super::*;
    use kaigo_seikyu::portal::Route;
    use kaigo_seikyu::screen::{Form, FormError};
    use kaigo_seikyu::security_emails::SecurityEmailSetting;

    fn begin(o: &mut Office, form: Form) -> Result<Route, PortalError> {
        let user = o.user;
        o.portal
            .begin::<SecurityEmailSetting, _>(Some(&user), &form, &mut o.rng)
    }

    fn submit(o: &mut Office, id: &FlowId, form: Form) -> Result<Route, PortalError> {
        let user = o.user;
        o.portal
            .submit_to::<SecurityEmailSetting, _>(Some(&user), id, &form, &mut o.rng)
    }

    fn title(route: &Route) -> String {
        route.screen().map(|s| s.title.clone()).unwrap_or_default()
    }

    fn state(o: &Office) -> Vec<String> {
        o.host
            .store
            .snapshot()
            .into_iter()
            .map(|(k, v)| format!("{k} v{}", v.version))
            .collect()
    }

    fn form_error(result: Result<Route, PortalError>) -> FormError {
        match result {
            Err(PortalError::Flow(FlowError::Form(e))) => e,
            other => panic!("not a form error: {other:?}"),
        }
    }

    /// SE-09: 【ユーザ情報変更】 → `セキュリティ用メールアドレス設定` → the list (the flow begins
    /// there); the flow's id.
    fn open_list(o: &mut Office) -> FlowId {
        let route = begin(o, Form::new("security_emails")).unwrap();
        assert_eq!(title(&route), "セキュリティ用メールアドレス一覧");
        route.flow_id().unwrap().clone()
    }

    /// SE-09: 【ユーザ情報変更】 (the entry) → the list `追加` → address → OTP → code →
    /// 【処理終了】 `終了` → 【ユーザ情報変更】; a row's `変更` the same way; a row's `選択` and
    /// `削除` one step each, back at the list; the list's `戻る` ends the flow at
    /// 【ユーザ情報変更】.
    #[test]
    fn se_09_the_list_and_its_flow_by_forms() {
        let mut o = office(&["a@jp"]);
        let user = o.user;
        let entry = o.portal.entry::<SecurityEmailSetting>(Some(&user)).unwrap();
        assert_eq!(entry.title, "ユーザ情報変更");
        assert_eq!(entry.steps, ["1 ユーザ情報変更"]);
        assert_eq!(
            entry.button_named("セキュリティ用メールアドレス設定"),
            Some("security_emails")
        );
        let id = open_list(&mut o);
        let route = submit(&mut o, &id, Form::new("add")).unwrap();
        assert_eq!(title(&route), "セキュリティ用メールアドレス設定");
        assert_eq!(route.flow_id(), Some(&id));
        let next = Form::new("next")
            .with("address", "b@jp")
            .with("confirm_address", "b@jp");
        assert_eq!(
            title(&submit(&mut o, &id, next).unwrap()),
            "ワンタイムパスワード入力"
        );
        let otp = o.last_code_to("a@jp");
        let route = submit(&mut o, &id, Form::new("next").with("otp", otp)).unwrap();
        assert_eq!(title(&route), "確認コード入力");
        let code = o.last_code_to("b@jp");
        let route = submit(&mut o, &id, Form::new("send").with("code", code)).unwrap();
        assert_eq!(title(&route), "処理終了");
        let route = submit(&mut o, &id, Form::new("finish")).unwrap();
        assert!(route.flow().is_none());
        assert_eq!(title(&route), "ユーザ情報変更");
        assert_eq!(o.list(), ["a@jp", "b@jp"]);

        // `変更` on row 2: b@jp becomes c@jp.
        let id = open_list(&mut o);
        let route = submit(&mut o, &id, Form::new("change:2")).unwrap();
        assert!(
            route
                .screen()
                .unwrap()
                .shows("《変更前のセキュリティ用メールアドレス》 b@jp")
        );
        let next = Form::new("next")
            .with("address", "c@jp")
            .with("confirm_address", "c@jp");
        submit(&mut o, &id, next).unwrap();
        let otp = o.last_code_to("a@jp");
        submit(&mut o, &id, Form::new("next").with("otp", otp)).unwrap();
        let code = o.last_code_to("c@jp");
        submit(&mut o, &id, Form::new("send").with("code", code)).unwrap();
        submit(&mut o, &id, Form::new("finish")).unwrap();
        assert_eq!(o.list(), ["a@jp", "c@jp"]);

        // `選択` and `削除` on a row: one step each, the list again.
        let id = open_list(&mut o);
        let route = submit(&mut o, &id, Form::new("select:2")).unwrap();
        assert_eq!(title(&route), "セキュリティ用メールアドレス一覧");
        assert!(route.screen().unwrap().shows("選択中 | c@jp"));
        assert_eq!(o.selected(), "c@jp");
        let route = submit(&mut o, &id, Form::new("delete:1")).unwrap();
        assert_eq!(title(&route), "セキュリティ用メールアドレス一覧");
        assert_eq!(o.list(), ["c@jp"]);
        assert!(!route.screen().unwrap().offers("削除"), "SE-04");
        // `戻る` on the list: 【ユーザ情報変更】, no flow left.
        let route = submit(&mut o, &id, Form::new("back")).unwrap();
        assert!(route.flow().is_none());
        assert_eq!(title(&route), "ユーザ情報変更");
        assert!(
            !state(&o).iter().any(|k| k.starts_with("flow/")),
            "{:?}",
            state(&o)
        );
    }

    /// Bad forms are refused with an error naming the field or button, and change nothing; a
    /// form sent to a finished flow finds none.
    #[test]
    fn bad_forms_name_their_field_and_change_nothing() {
        let mut o = office(&["a@jp"]);
        let before = state(&o);
        // 【ユーザ情報変更】: only its one button; the list's buttons are the list's.
        assert_eq!(
            form_error(begin(&mut o, Form::new("add"))),
            FormError::NoSuchButton("add".into())
        );
        assert_eq!(state(&o), before);
        // The list: a button it does not offer (one address: no `削除`), a row it does not have.
        let id = open_list(&mut o);
        let before = state(&o);
        assert_eq!(
            form_error(submit(&mut o, &id, Form::new("delete:1"))),
            FormError::NoSuchButton("delete:1".into())
        );
        assert_eq!(
            form_error(submit(&mut o, &id, Form::new("change:3"))),
            FormError::NoSuchButton("change:3".into())
        );
        assert_eq!(
            form_error(submit(
                &mut o,
                &id,
                Form::new("add").with("address", "b@jp")
            )),
            FormError::UnknownField("address".into())
        );
        assert_eq!(state(&o), before);

        submit(&mut o, &id, Form::new("add")).unwrap();
        let before = state(&o);
        let good = Form::new("next")
            .with("address", "b@jp")
            .with("confirm_address", "b@jp");
        assert_eq!(
            form_error(submit(&mut o, &id, good.clone().with("nickname", "x"))),
            FormError::UnknownField("nickname".into())
        );
        assert_eq!(
            form_error(submit(
                &mut o,
                &id,
                Form::new("next").with("address", "b@jp")
            )),
            FormError::Missing("confirm_address".into())
        );
        assert_eq!(
            form_error(submit(&mut o, &id, Form::new("send").with("code", "1234"))),
            FormError::NoSuchButton("send".into())
        );
        let bad = Form::new("next")
            .with("address", "b@jp")
            .with("confirm_address", "ｂ@jp");
        let e = form_error(submit(&mut o, &id, bad));
        assert_eq!(e.name(), "confirm_address");
        // Another flow's form: the reset's fields.
        assert!(matches!(
            form_error(submit(
                &mut o,
                &id,
                Form::new("next").with("office", "1311111111")
            )),
            FormError::UnknownField(_) | FormError::Missing(_)
        ));
        assert_eq!(state(&o), before);
        assert!(o.host.outbox.all().is_empty());

        // `戻る` on the address entry: the list; `戻る` there ends the flow at 【ユーザ情報変更】;
        // a form sent to it then finds no flow.
        let route = submit(&mut o, &id, Form::new("back")).unwrap();
        assert_eq!(title(&route), "セキュリティ用メールアドレス一覧");
        let route = submit(&mut o, &id, Form::new("back")).unwrap();
        assert_eq!(title(&route), "ユーザ情報変更");
        let before = state(&o);
        assert_eq!(submit(&mut o, &id, good), Err(PortalError::NoSuchFlow));
        assert_eq!(state(&o), before);
    }
}

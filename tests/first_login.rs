//! First login of a new office (FL-01 … FL-08), as the source's procedure 1.2.1 (3), 手順 1. … 11.,
//! on a virtual clock, reading the code from the in-memory outbox like a user reading mail.

use chrono::TimeDelta;
use kaigo_seikyu::account::{Account, NoticeEmail, SecurityEmails, Temporary, TermsAcceptance};
use kaigo_seikyu::calendar::{Instant, utc};
use kaigo_seikyu::effect::EventKind;
use kaigo_seikyu::error::{FlowError, PortalError};
use kaigo_seikyu::first_login::Form;
use kaigo_seikyu::login;
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::Portal;
use kaigo_seikyu::portal::{FlowRef, Route};
use kaigo_seikyu::screen::FieldKind;
use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, CountingHasher};
use kaigo_seikyu::store::FlowId;
use kaigo_seikyu::store::FlowKind;
use kaigo_seikyu::values::{EmailAddress, PasswordClause, UserId, ValueError};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::sync::Arc;

const USER: &str = "KJ131311111111";
const TEMPORARY: &str = "Kari2026pass";
const NEW: &str = "Sakura2026!";
const SECURITY: &str = "mailforsecurity-001@jp";
const NOTICE: &str = "jigyousho@jp";

struct World {
    host: Embedded,
    portal: Portal,
    rng: StdRng,
}

fn user() -> UserId {
    USER.parse().unwrap()
}

fn addr(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

impl World {
    /// A new office holding its temporary password, at `at`.
    fn new_office(at: &str) -> World {
        World::office(at, |_| {})
    }

    /// A new office's account changed by `edit`, at `at`.
    fn office(at: &str, edit: impl FnOnce(&mut Account)) -> World {
        let host = Embedded::new(utc(at));
        let portal = host.portal(
            Policy::insecure_fast_hashing(),
            CodeKey::from_bytes([5; 32]),
        );
        let mut rng = StdRng::seed_from_u64(2025);
        let hash = portal.hash_secret(TEMPORARY.as_bytes(), &mut rng);
        let mut account = login::new_office(user(), hash);
        edit(&mut account);
        portal.create_account(account).unwrap();
        // The provisioning event (OPS-06) is the set-up's, not the first login's.
        host.events.drain();
        World { host, portal, rng }
    }

    fn account(&self) -> Account {
        self.portal.account(&user()).unwrap().unwrap()
    }

    fn now(&self) -> Instant {
        self.portal.now()
    }

    fn login(&mut self, password: &str) -> Result<Route, PortalError> {
        self.portal.login(USER, password, &mut self.rng)
    }

    /// 手順 1.: logs in with the temporary password; the first-login flow's id.
    fn start(&mut self) -> FlowId {
        let route = self.login(TEMPORARY).unwrap();
        route.flow_id().expect("the first-login flow").clone()
    }

    fn input(&mut self, id: &FlowId, form: Form<'_>) -> Result<Route, PortalError> {
        self.portal.first_login_input(id, form, &mut self.rng)
    }

    fn title(&mut self, id: &FlowId, form: Form<'_>) -> String {
        let route = self.input(id, form).unwrap();
        route.screen().map(|s| s.title.clone()).unwrap_or_default()
    }

    /// The latest 確認コード mailed to `to`, read from the mail like a user would.
    fn code_for(&self, to: &str) -> String {
        let mail = self.host.outbox.last_to(addr(to)).expect("a mail");
        assert_eq!(mail.subject, "確認コード発行通知(介護保険)");
        mail.code().expect("the code").to_owned()
    }

    /// 手順 1. … 7.: up to 【セキュリティ用メールアドレス設定】.
    fn reach_security_email(&mut self) -> FlowId {
        let id = self.start();
        self.input(&id, Form::AcceptTerms).unwrap();
        self.input(&id, Form::StartPasswordChange).unwrap();
        self.input(
            &id,
            Form::ChangePassword {
                current: TEMPORARY,
                new: NEW,
                confirm: NEW,
            },
        )
        .unwrap();
        self.input(&id, Form::Finish).unwrap();
        self.input(&id, Form::DeclineNoticeEmail).unwrap();
        self.input(&id, Form::Finish).unwrap();
        id
    }

    fn set_security_email(&mut self, id: &FlowId, address: &str) -> Result<Route, PortalError> {
        self.input(
            id,
            Form::SetSecurityEmail {
                address,
                confirm: address,
            },
        )
    }

    /// Every record of the store, as text.
    fn state(&self) -> Vec<String> {
        self.host
            .store
            .snapshot()
            .into_iter()
            .map(|(k, v)| format!("{k} v{} {}", v.version, String::from_utf8_lossy(&v.value)))
            .collect()
    }
}

fn refusal(result: Result<Route, PortalError>) -> FlowError {
    match result {
        Err(PortalError::Flow(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn screen(route: &Route) -> String {
    route.screen().expect("a screen").to_string()
}

/// FL-01 … FL-06: the source's procedure 1.2.1 (3), every screen pinned; SEC-05: each step that
/// matters to an auditor emits its event, in order.
#[test]
fn fl_01_to_fl_06_procedure_of_a_new_office() {
    let mut w = World::new_office("2026-01-10T10:00:00+09:00");
    // 手順 1. 【ログイン】: the user ID and the temporary password.
    let route = w.login(TEMPORARY).unwrap();
    let Route::Flow {
        flow: FlowRef {
            kind: FlowKind::FirstLogin,
            id,
        },
        ..
    } = &route
    else {
        panic!("{route:?}")
    };
    let id = id.clone();
    // 手順 2. 【利用規約】: 利用規約に同意して次へ.
    insta::assert_snapshot!("fl_01_terms", screen(&route));
    let route = w.input(&id, Form::AcceptTerms).unwrap();
    assert_eq!(
        w.account().terms,
        Some(TermsAcceptance {
            version: 1,
            at: w.now()
        }),
        "FL-08"
    );
    // 手順 3. 【警告】: パスワード変更.
    insta::assert_snapshot!("fl_01_warning", screen(&route));
    let route = w.input(&id, Form::StartPasswordChange).unwrap();
    // 手順 4. 【パスワード変更】: the temporary password, a new one and its confirmation.
    insta::assert_snapshot!("fl_02_change_password", screen(&route));
    let route = w
        .input(
            &id,
            Form::ChangePassword {
                current: TEMPORARY,
                new: NEW,
                confirm: NEW,
            },
        )
        .unwrap();
    assert_eq!(w.account().temporary, None);
    // 手順 5. 【処理終了】: 終了.
    insta::assert_snapshot!("fl_02_password_changed", screen(&route));
    let route = w.input(&id, Form::Finish).unwrap();
    // 手順 6. 【メールアドレス設定】: the notice email and its confirmation.
    insta::assert_snapshot!("fl_03_notice_email", screen(&route));
    let route = w
        .input(
            &id,
            Form::SetNoticeEmail {
                address: NOTICE,
                confirm: NOTICE,
            },
        )
        .unwrap();
    assert_eq!(w.account().notice_email, NoticeEmail::Set(addr(NOTICE)));
    // 手順 7. 【処理終了】: 終了.
    insta::assert_snapshot!("fl_03_notice_email_done", screen(&route));
    let route = w.input(&id, Form::Finish).unwrap();
    // 手順 8. 【セキュリティ用メールアドレス設定】: the security email and its confirmation.
    insta::assert_snapshot!("fl_04_security_email", screen(&route));
    let route = w.set_security_email(&id, SECURITY).unwrap();
    // 手順 9. The 確認コード発行通知 arrives at the address just entered.
    let code = w.code_for(SECURITY);
    assert!(
        w.account().security_emails.is_empty(),
        "FL-05: not registered before the code"
    );
    // 手順 10. 【確認コード入力】: the code from the mail.
    insta::assert_snapshot!("fl_05_enter_code", screen(&route));
    let route = w.input(&id, Form::EnterCode(&code)).unwrap();
    // 手順 11. 【処理終了】: 終了.
    insta::assert_snapshot!("fl_06_registered", screen(&route));
    assert!(
        route
            .screen()
            .unwrap()
            .shows("セキュリティ用メールアドレスの登録を完了しました。")
    );
    let acct = w.account();
    assert_eq!(
        acct.security_emails.selected(),
        Some(&addr(SECURITY)),
        "FL-06: the selected destination"
    );
    let notices = w.host.notices.for_office(&user().office());
    assert_eq!(notices.len(), 1, "SE-08: the registration is announced");
    assert_eq!(notices[0].title, "セキュリティ用メールアドレス登録通知");
    assert!(notices[0].body.contains(SECURITY) && !notices[0].body.lines().any(|l| l == code));
    let route = w.input(&id, Form::Finish).unwrap();
    assert_eq!(route, Route::Menu { user: user() });
    assert!(w.account().first_login_done);
    assert_eq!(
        w.input(&id, Form::Finish),
        Err(PortalError::NoSuchFlow),
        "the flow is over"
    );

    let kinds: Vec<EventKind> = w.host.events.all().into_iter().map(|e| e.kind).collect();
    let u = user();
    assert_eq!(
        kinds,
        vec![
            EventKind::LoginSucceeded { user: u },
            EventKind::TermsAccepted {
                user: u,
                version: 1
            },
            EventKind::PasswordChanged { user: u },
            EventKind::NoticeEmailSet { user: u, set: true },
            EventKind::SecurityEmailRegistered { user: u },
        ]
    );
    // Next time: the new password leads straight to the menu; the temporary one is gone.
    assert_eq!(w.login(NEW).unwrap(), Route::Menu { user: u });
    assert_eq!(refusal(w.login(TEMPORARY)), FlowError::WrongCredentials);
}

/// FL-01: no step can be skipped or reordered: every input that does not belong to the screen is
/// refused, naming the state and the input, and changes nothing.
#[test]
fn fl_01_no_step_skipped_or_reordered() {
    let mut w = World::new_office("2026-01-10T10:00:00+09:00");
    let id = w.start();
    let all: Vec<(&str, Form<'_>)> = vec![
        ("AcceptTerms", Form::AcceptTerms),
        ("StartPasswordChange", Form::StartPasswordChange),
        (
            "ChangePassword",
            Form::ChangePassword {
                current: TEMPORARY,
                new: NEW,
                confirm: NEW,
            },
        ),
        ("Finish", Form::Finish),
        (
            "SetNoticeEmail",
            Form::SetNoticeEmail {
                address: NOTICE,
                confirm: NOTICE,
            },
        ),
        ("DeclineNoticeEmail", Form::DeclineNoticeEmail),
        (
            "SetSecurityEmail",
            Form::SetSecurityEmail {
                address: SECURITY,
                confirm: SECURITY,
            },
        ),
        ("EnterCode", Form::EnterCode("0000")),
        ("Back", Form::Back),
    ];
    // The procedure: (state, the input that belongs to it).
    let procedure = [
        ("Terms", "AcceptTerms"),
        ("Warning", "StartPasswordChange"),
        ("ChoosingPassword", "ChangePassword"),
        ("PasswordChanged", "Finish"),
        ("ChoosingNoticeEmail", "SetNoticeEmail"),
        ("NoticeEmailDone", "Finish"),
        ("EnteringSecurityEmail", "SetSecurityEmail"),
        ("AwaitingCode", "EnterCode"),
        ("Registered", "Finish"),
    ];
    let allowed_too = [
        ("ChoosingNoticeEmail", "DeclineNoticeEmail"),
        ("EnteringSecurityEmail", "Back"),
        ("AwaitingCode", "Back"),
    ];
    for (state, right) in procedure {
        for (name, form) in &all {
            if *name == right || allowed_too.contains(&(state, *name)) {
                continue;
            }
            let before = w.state();
            let e = refusal(w.input(&id, *form));
            assert_eq!(
                e,
                FlowError::UnexpectedInput { state, input: name },
                "{state} took {name}"
            );
            assert_eq!(e.message(), "この画面では行えない操作です。");
            assert_eq!(w.state(), before, "{state} changed on {name}");
        }
        let route = if right == "EnterCode" {
            let code = w.code_for(SECURITY);
            w.input(&id, Form::EnterCode(&code)).unwrap()
        } else {
            let form = all.iter().find(|(n, _)| *n == right).unwrap().1;
            w.input(&id, form).unwrap()
        };
        // FL-01: the menu is unreachable until the last step.
        assert_eq!(
            matches!(route, Route::Menu { .. }),
            state == "Registered",
            "{state}"
        );
    }
}

/// FL-02, VAL-05, VAL-06: every refusal of 【パスワード変更】 names its problem and changes
/// nothing; a wrong current password counts as a failed login (LOGIN-02).
#[test]
fn fl_02_password_change_refusals() {
    let mut w = World::new_office("2026-01-10T10:00:00+09:00");
    let id = w.start();
    w.input(&id, Form::AcceptTerms).unwrap();
    w.input(&id, Form::StartPasswordChange).unwrap();
    let cases: Vec<(Form<'_>, FlowError)> = vec![
        (
            Form::ChangePassword {
                current: TEMPORARY,
                new: NEW,
                confirm: "Sakura2026?",
            },
            FlowError::ConfirmationMismatch,
        ),
        (
            Form::ChangePassword {
                current: TEMPORARY,
                new: "Ab1",
                confirm: "Ab1",
            },
            FlowError::Value(ValueError::Password(PasswordClause::Length {
                min: 8,
                max: 16,
            })),
        ),
        (
            Form::ChangePassword {
                current: TEMPORARY,
                new: "Sakura 2026",
                confirm: "Sakura 2026",
            },
            FlowError::Value(ValueError::Password(PasswordClause::Characters)),
        ),
        (
            Form::ChangePassword {
                current: TEMPORARY,
                new: "20262026",
                confirm: "20262026",
            },
            FlowError::Value(ValueError::Password(PasswordClause::NoLetter)),
        ),
        (
            Form::ChangePassword {
                current: TEMPORARY,
                new: "Sakurasaku",
                confirm: "Sakurasaku",
            },
            FlowError::Value(ValueError::Password(PasswordClause::NoDigit)),
        ),
        (
            Form::ChangePassword {
                current: TEMPORARY,
                new: "kj131311111111",
                confirm: "kj131311111111",
            },
            FlowError::Value(ValueError::Password(PasswordClause::SameAsUserId)),
        ),
        (
            Form::ChangePassword {
                current: TEMPORARY,
                new: TEMPORARY,
                confirm: TEMPORARY,
            },
            FlowError::SameAsCurrentPassword,
        ),
    ];
    let mut pinned = String::new();
    for (form, expected) in cases {
        let before = w.state();
        let e = refusal(w.input(&id, form));
        assert_eq!(e, expected);
        assert_eq!(w.state(), before, "{e} changed something");
        pinned.push_str(&format!("{e}\n  {}\n", e.message()));
    }
    let screen_before = w.portal.first_login_screen(&id).unwrap();
    let e = refusal(w.input(
        &id,
        Form::ChangePassword {
            current: "Kari2026past",
            new: NEW,
            confirm: NEW,
        },
    ));
    assert_eq!(e, FlowError::WrongCurrentPassword);
    pinned.push_str(&format!("{e}\n  {}\n", e.message()));
    insta::assert_snapshot!("fl_02_refusals", pinned);
    assert_eq!(w.account().failures, 1, "LOGIN-02: counted");
    assert_eq!(
        w.portal.first_login_screen(&id).unwrap(),
        screen_before,
        "still 【パスワード変更】"
    );
    assert!(
        w.account().temporary.is_some(),
        "the temporary password is still the one to change"
    );
}

/// FL-03: the notice email is optional: `メールアドレスを登録しない` goes on without one.
#[test]
fn fl_03_notice_email_optional() {
    let mut w = World::new_office("2026-01-10T10:00:00+09:00");
    let id = w.start();
    w.input(&id, Form::AcceptTerms).unwrap();
    w.input(&id, Form::StartPasswordChange).unwrap();
    w.input(
        &id,
        Form::ChangePassword {
            current: TEMPORARY,
            new: NEW,
            confirm: NEW,
        },
    )
    .unwrap();
    assert_eq!(w.title(&id, Form::Finish), "メールアドレス設定");
    let e = refusal(w.input(
        &id,
        Form::SetNoticeEmail {
            address: NOTICE,
            confirm: "jigyosho@jp",
        },
    ));
    assert_eq!(e, FlowError::ConfirmationMismatch, "VAL-05");
    assert_eq!(
        refusal(w.input(
            &id,
            Form::SetNoticeEmail {
                address: "ｊｉｇｙｏｕｓｈｏ@jp",
                confirm: "x"
            }
        )),
        FlowError::Value(ValueError::EmailNotAscii)
    );
    assert_eq!(w.title(&id, Form::DeclineNoticeEmail), "処理終了");
    assert_eq!(w.account().notice_email, NoticeEmail::Declined);
    assert!(w.host.events.all().iter().any(|e| e.kind
        == EventKind::NoticeEmailSet {
            user: user(),
            set: false
        }));
    assert_eq!(
        w.title(&id, Form::Finish),
        "セキュリティ用メールアドレス設定"
    );
}

/// FL-04: for a new office the security email is mandatory: no skip option, no way around it, and
/// an abandoned flow asks again at the next login (even within the grace period).
#[test]
fn fl_04_security_email_mandatory() {
    let mut w = World::new_office("2026-01-10T10:00:00+09:00");
    let id = w.reach_security_email();
    let screen = w.portal.first_login_screen(&id).unwrap();
    assert!(!screen.shows("登録しない") && !screen.shows("登録せずに"));
    let buttons: Vec<&str> = screen.buttons().map(|b| b.label.as_str()).collect();
    assert_eq!(buttons, ["戻る", "次へ"]);
    assert!(screen.fields().all(|f| f.kind != FieldKind::Checkbox));
    for form in [Form::Finish, Form::AcceptTerms] {
        assert!(matches!(
            refusal(w.input(&id, form)),
            FlowError::UnexpectedInput { .. }
        ));
    }
    // 戻る returns to 【メールアドレス設定】 (decision), and on from there to the same step.
    assert_eq!(w.title(&id, Form::Back), "メールアドレス設定");
    // A new login (the password is no longer temporary) comes back to the security email.
    let route = w.login(NEW).unwrap();
    assert!(matches!(
        route,
        Route::Flow {
            flow: FlowRef {
                kind: FlowKind::FirstLogin,
                ..
            },
            ..
        }
    ));
    assert_eq!(
        route.screen().unwrap().title,
        "セキュリティ用メールアドレス設定"
    );
}

/// FL-05: the code (T1) is valid 30 minutes: refused at 30:00 (nothing changes), and after `戻る`
/// and a new code, accepted at 29:59. The address is registered only then.
#[test]
fn fl_05_code_valid_for_30_minutes() {
    let mut w = World::new_office("2026-01-10T10:00:00+09:00");
    let id = w.reach_security_email();
    w.set_security_email(&id, SECURITY).unwrap();
    let code = w.code_for(SECURITY);
    w.host.clock.advance(TimeDelta::minutes(30));
    let before = w.state();
    assert_eq!(
        refusal(w.input(&id, Form::EnterCode(&code))),
        FlowError::CodeExpired
    );
    assert_eq!(w.state(), before, "SEC-03: an expired code changes nothing");
    // 戻る: back to the address entry; a new code.
    assert_eq!(w.title(&id, Form::Back), "セキュリティ用メールアドレス設定");
    w.set_security_email(&id, SECURITY).unwrap();
    let code = w.code_for(SECURITY);
    w.host.clock.advance(TimeDelta::seconds(29 * 60 + 59));
    assert_eq!(w.title(&id, Form::EnterCode(&code)), "処理終了");
    assert_eq!(
        w.account().security_emails.selected(),
        Some(&addr(SECURITY))
    );
}

/// FL-05, SEC-07: a wrong code is counted (5 void it); `戻る` makes the old code useless; a code is
/// mailed only to the address entered, and the code's format is checked before anything.
#[test]
fn fl_05_wrong_codes_and_back() {
    let mut w = World::new_office("2026-01-10T10:00:00+09:00");
    let id = w.reach_security_email();
    assert_eq!(
        refusal(w.input(
            &id,
            Form::SetSecurityEmail {
                address: SECURITY,
                confirm: "mailforsecurity-002@jp"
            }
        )),
        FlowError::ConfirmationMismatch
    );
    assert!(
        w.host.outbox.all().is_empty(),
        "nothing mailed on a mismatch"
    );
    w.set_security_email(&id, SECURITY).unwrap();
    let first = w.code_for(SECURITY);
    assert_eq!(w.host.outbox.all().len(), 1);
    assert_eq!(w.host.outbox.all()[0].to, addr(SECURITY));
    let wrong = format!("{:04}", (first.parse::<u32>().unwrap() + 1) % 10_000);
    assert_eq!(
        refusal(w.input(&id, Form::EnterCode("12a4"))),
        FlowError::Value(ValueError::CodeFormat { digits: 4 })
    );
    assert_eq!(
        refusal(w.input(&id, Form::EnterCode(&wrong))),
        FlowError::WrongCode { remaining: 4 }
    );
    for remaining in (1..4).rev() {
        assert_eq!(
            refusal(w.input(&id, Form::EnterCode(&wrong))),
            FlowError::WrongCode { remaining }
        );
    }
    assert_eq!(
        refusal(w.input(&id, Form::EnterCode(&wrong))),
        FlowError::CodeExhausted
    );
    assert_eq!(
        refusal(w.input(&id, Form::EnterCode(&first))),
        FlowError::CodeExhausted
    );
    assert!(w.account().security_emails.is_empty());
    w.input(&id, Form::Back).unwrap();
    w.set_security_email(&id, "mailforsecurity-002@jp").unwrap();
    let second = w.code_for("mailforsecurity-002@jp");
    if second != first {
        assert!(matches!(
            refusal(w.input(&id, Form::EnterCode(&first))),
            FlowError::WrongCode { .. }
        ));
    }
    assert_eq!(w.title(&id, Form::EnterCode(&second)), "処理終了");
    assert_eq!(
        w.account().security_emails.selected(),
        Some(&addr("mailforsecurity-002@jp"))
    );
}

/// FL-05, SEC-04: at most five codes per flow, counted across `戻る`.
#[test]
fn fl_05_codes_per_flow_are_capped() {
    let mut w = World::new_office("2026-01-10T10:00:00+09:00");
    let id = w.reach_security_email();
    for n in 0..5 {
        w.set_security_email(&id, &format!("sec{n}@jp")).unwrap();
        w.input(&id, Form::Back).unwrap();
        if n == 2 {
            // Through 【メールアドレス設定】 and back: still counted.
            w.input(&id, Form::Back).unwrap();
            w.input(&id, Form::DeclineNoticeEmail).unwrap();
            w.input(&id, Form::Finish).unwrap();
        }
    }
    assert_eq!(
        refusal(w.set_security_email(&id, "sec5@jp")),
        FlowError::TooManyCodes
    );
    assert_eq!(w.host.outbox.all().len(), 5);
}

/// FL-05, SEC-02: two requests racing with the right code register the address once; the loser
/// sees the finished step, not a second registration.
#[test]
fn fl_05_racing_code_entries_register_once() {
    let mut w = World::new_office("2026-01-10T10:00:00+09:00");
    let id = w.reach_security_email();
    w.set_security_email(&id, SECURITY).unwrap();
    let code = w.code_for(SECURITY);
    let portal = std::sync::Arc::new(w.portal);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let handles: Vec<_> = (0..2u64)
        .map(|seed| {
            let (portal, barrier, id, code) =
                (portal.clone(), barrier.clone(), id.clone(), code.clone());
            std::thread::spawn(move || {
                barrier.wait();
                portal.first_login_input(
                    &id,
                    Form::EnterCode(&code),
                    &mut StdRng::seed_from_u64(seed),
                )
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let loser = results.into_iter().find_map(Result::err).unwrap();
    assert_eq!(
        loser,
        PortalError::Flow(FlowError::UnexpectedInput {
            state: "Registered",
            input: "EnterCode"
        })
    );
    let acct = portal.account(&user()).unwrap().unwrap();
    assert_eq!(acct.security_emails.len(), 1);
}

/// FL-07, RI-09, RI-10: an office that has been through FL and got a reissued temporary password
/// sees only the password change; with its security emails cleared by the reviewer (no grace),
/// the security email too.
#[test]
fn fl_07_reissued_account_sees_only_needed_steps() {
    for cleared in [false, true] {
        let mut w = World::office("2026-01-20T10:00:00+09:00", |acct| {
            acct.terms = Some(TermsAcceptance {
                version: 1,
                at: utc("2025-04-01T09:00:00+09:00"),
            });
            acct.notice_email = NoticeEmail::Set(addr(NOTICE));
            acct.first_login_done = true;
            acct.temporary = Some(Temporary {
                expires_at: Some(utc("2026-02-19T10:00:00+09:00")),
            });
            acct.grace_eligible = !cleared;
            acct.security_emails = SecurityEmails::default();
            if !cleared {
                acct.security_emails
                    .add(addr(SECURITY), utc("2025-12-01T09:00:00+09:00"))
                    .unwrap();
            }
        });
        let route = w.login(TEMPORARY).unwrap();
        assert_eq!(
            route.screen().unwrap().title,
            "警告",
            "no terms: accepted already"
        );
        let id = route.flow_id().unwrap().clone();
        assert_eq!(w.title(&id, Form::StartPasswordChange), "パスワード変更");
        assert_eq!(
            w.title(
                &id,
                Form::ChangePassword {
                    current: TEMPORARY,
                    new: NEW,
                    confirm: NEW
                }
            ),
            "処理終了"
        );
        let route = w.input(&id, Form::Finish).unwrap();
        if cleared {
            assert_eq!(
                route.screen().unwrap().title,
                "セキュリティ用メールアドレス設定",
                "no notice step"
            );
            let route = w.set_security_email(&id, SECURITY).unwrap();
            assert_eq!(route.screen().unwrap().title, "確認コード入力");
        } else {
            assert_eq!(route, Route::Menu { user: user() });
        }
        assert_eq!(
            w.account().notice_email,
            NoticeEmail::Set(addr(NOTICE)),
            "kept"
        );
    }
}

/// FL-08: accepting records the version and the instant; a new version is asked of every office
/// at its next login, before anything else.
#[test]
fn fl_08_new_terms_version_asked_first() {
    let mut w = World::new_office("2026-01-10T10:00:00+09:00");
    let id = w.reach_security_email();
    w.set_security_email(&id, SECURITY).unwrap();
    let code = w.code_for(SECURITY);
    w.input(&id, Form::EnterCode(&code)).unwrap();
    w.input(&id, Form::Finish).unwrap();
    assert_eq!(w.account().terms.map(|t| t.version), Some(1));
    w.host.clock.set(utc("2026-03-01T09:00:00+09:00"));
    let v2 = w.host.portal(
        Policy {
            terms_version: 2,
            ..Policy::insecure_fast_hashing()
        },
        CodeKey::from_bytes([5; 32]),
    );
    let route = v2.login(USER, NEW, &mut w.rng).unwrap();
    let Route::Flow {
        flow: FlowRef {
            kind: FlowKind::FirstLogin,
            id,
        },
        screen,
    } = route
    else {
        panic!("{route:?}")
    };
    assert_eq!(screen.title, "利用規約");
    assert!(screen.to_string().contains("《版》 2"));
    let route = v2
        .first_login_input(&id, Form::AcceptTerms, &mut w.rng)
        .unwrap();
    assert_eq!(route, Route::Menu { user: user() });
    assert_eq!(
        w.account().terms,
        Some(TermsAcceptance {
            version: 2,
            at: utc("2026-03-01T09:00:00+09:00")
        })
    );
    assert_eq!(
        w.login(NEW).unwrap(),
        Route::Menu { user: user() },
        "the old policy does not ask again"
    );
}

/// RI-10, FL-02: a temporary password can only be used to set a new one: every login with it leads
/// to the password change, never to the menu.
#[test]
fn ri_10_temporary_password_only_sets_a_new_one() {
    let mut w = World::new_office("2026-01-10T10:00:00+09:00");
    let id = w.start();
    w.input(&id, Form::AcceptTerms).unwrap();
    for _ in 0..3 {
        let route = w.login(TEMPORARY).unwrap();
        assert_eq!(route.screen().unwrap().title, "警告");
    }
    assert!(w.account().temporary.is_some());
}

/// SEC-01: no password or code in a form's Debug, the flow's stored state or its screens.
#[test]
fn fl_05_no_secrets_at_rest_or_on_screen() {
    let mut w = World::new_office("2026-01-10T10:00:00+09:00");
    let id = w.reach_security_email();
    let form = Form::ChangePassword {
        current: TEMPORARY,
        new: NEW,
        confirm: NEW,
    };
    assert!(!format!("{form:?}").contains(NEW) && !format!("{form:?}").contains(TEMPORARY));
    w.set_security_email(&id, SECURITY).unwrap();
    let code = w.code_for(SECURITY);
    assert!(!format!("{:?}", Form::EnterCode(&code)).contains(&code));
    let stored = w.state().join("\n");
    let screen = w.portal.first_login_screen(&id).unwrap().to_string();
    for text in [stored, screen] {
        assert!(!text.contains(NEW) && !text.contains(TEMPORARY));
        assert!(
            !text.contains(&format!("\"{code}\"")) && !text.contains(&format!(" {code}\n")),
            "{text}"
        );
    }
}

/// FL-02, VAL-06, SEC-09: a 《現在のパスワード》 longer than the policy allows is refused before any
/// hashing: the length clause's error, no verification, not counted as a failed login (LOGIN-02),
/// nothing changed. A wrong current password of an allowed length is still verified and counted.
#[test]
fn fl_02_sec_09_over_long_current_password_is_refused_before_any_hashing() {
    let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    let policy = Policy::insecure_fast_hashing();
    let counts = Arc::new(CountingHasher::new(Argon2Hasher::new(
        policy.hashing,
        CodeKey::from_bytes([5; 32]),
    )));
    let hasher = counts.clone();
    let ports = host.ports();
    let portal = Portal::with_hasher(ports, policy, hasher);
    let mut rng = StdRng::seed_from_u64(2026);
    let hash = portal.hash_secret(TEMPORARY.as_bytes(), &mut rng);
    portal
        .create_account(login::new_office(user(), hash))
        .unwrap();
    let mut w = World { host, portal, rng };
    let id = w.start();
    w.input(&id, Form::AcceptTerms).unwrap();
    w.input(&id, Form::StartPasswordChange).unwrap();

    let (before, counted) = (w.state(), counts.counts());
    for current in [format!("{TEMPORARY}abcde"), "Kari2026pass".repeat(10_000)] {
        let e = refusal(w.input(
            &id,
            Form::ChangePassword {
                current: &current,
                new: NEW,
                confirm: NEW,
            },
        ));
        assert_eq!(
            e,
            FlowError::Value(ValueError::Password(PasswordClause::Length {
                min: 8,
                max: 16
            }))
        );
        assert_eq!(counts.counts(), counted, "nothing hashed or verified");
        assert_eq!(w.state(), before, "nothing changed, nothing counted");
    }
    assert_eq!(w.account().failures, 0);

    let e = refusal(w.input(
        &id,
        Form::ChangePassword {
            current: "Kari2026pasX",
            new: NEW,
            confirm: NEW,
        },
    ));
    assert_eq!(e, FlowError::WrongCurrentPassword);
    assert_eq!(counts.counts()[1], counted[1] + 1, "verified");
    assert_eq!(w.account().failures, 1, "LOGIN-02: counted");
}

mod generic_forms {
    //! The login gate and the first login driven only through the generic entry points
    //! (`begin`, `submit_to`), with forms filled by field and button names.
    use super::*;
    use kaigo_seikyu::first_login::FirstLogin;
    use kaigo_seikyu::login::Login;
    use kaigo_seikyu::screen::{Form as Post, FormError};

    fn submit(w: &mut World, id: &FlowId, form: Post) -> Result<Route, PortalError> {
        w.portal
            .submit_to::<FirstLogin, _>(Some(&user()), id, &form, &mut w.rng)
    }

    fn title(route: &Route) -> &str {
        route.screen().map_or("", |s| s.title.as_str())
    }

    fn form_error(result: Result<Route, PortalError>) -> FormError {
        match result {
            Err(PortalError::Flow(FlowError::Form(e))) => e,
            other => panic!("not a form error: {other:?}"),
        }
    }

    /// 【ログイン】 → every first-login screen → the menu, by forms alone.
    #[test]
    fn a_new_office_reaches_the_menu_by_forms() {
        let mut w = World::new_office("2026-01-10T10:00:00+09:00");
        let login = Post::new("login")
            .with("user_id", USER)
            .with("password", TEMPORARY);
        let route = w
            .portal
            .begin::<Login, _>(None, &login, &mut w.rng)
            .unwrap();
        assert_eq!(title(&route), "利用規約");
        let flow = route.flow().unwrap().clone();
        assert_eq!(flow.kind, FlowKind::FirstLogin);
        let id = flow.id;
        let steps = [
            (Post::new("agree"), "警告"),
            (Post::new("change_password"), "パスワード変更"),
            (
                Post::new("change")
                    .with("current_password", TEMPORARY)
                    .with("new_password", NEW)
                    .with("confirm_password", NEW),
                "処理終了",
            ),
            (Post::new("finish"), "メールアドレス設定"),
            (
                Post::new("change")
                    .with("notice_email", NOTICE)
                    .with("confirm_notice_email", NOTICE),
                "処理終了",
            ),
            (Post::new("finish"), "セキュリティ用メールアドレス設定"),
            (
                Post::new("next")
                    .with("address", SECURITY)
                    .with("confirm_address", SECURITY),
                "確認コード入力",
            ),
        ];
        for (form, expected) in steps {
            let route = submit(&mut w, &id, form).unwrap();
            assert_eq!(title(&route), expected);
        }
        let code = w.code_for(SECURITY);
        let route = submit(&mut w, &id, Post::new("send").with("code", code)).unwrap();
        assert!(route.screen().unwrap().shows(REGISTERED));
        let route = submit(&mut w, &id, Post::new("finish")).unwrap();
        assert_eq!(route, Route::Menu { user: user() });
        let account = w.account();
        assert!(account.first_login_done && account.temporary.is_none());
        assert_eq!(account.notice_email, NoticeEmail::Set(addr(NOTICE)));
        assert_eq!(account.security_emails.selected(), Some(&addr(SECURITY)));
    }

    const REGISTERED: &str = "セキュリティ用メールアドレスの登録を完了しました。";

    /// Bad forms are refused with an error naming the field or button, and change nothing.
    #[test]
    fn bad_forms_name_their_field_and_change_nothing() {
        let mut w = World::new_office("2026-01-10T10:00:00+09:00");
        let id = w.reach_security_email();
        let before = w.state();
        let good = Post::new("next")
            .with("address", SECURITY)
            .with("confirm_address", SECURITY);
        let unknown = good.clone().with("nickname", "x");
        assert_eq!(
            form_error(submit(&mut w, &id, unknown)),
            FormError::UnknownField("nickname".into())
        );
        let missing = Post::new("next").with("address", SECURITY);
        assert_eq!(
            form_error(submit(&mut w, &id, missing)),
            FormError::Missing("confirm_address".into())
        );
        assert_eq!(
            form_error(submit(&mut w, &id, Post::new("send").with("code", "1234"))),
            FormError::NoSuchButton("send".into())
        );
        let bad = Post::new("next")
            .with("address", "ａ@jp")
            .with("confirm_address", "ａ@jp");
        let e = form_error(submit(&mut w, &id, bad));
        assert_eq!(e.name(), "address");
        assert!(matches!(e, FormError::Invalid { .. }));
        let mismatch = Post::new("next")
            .with("address", SECURITY)
            .with("confirm_address", "other@jp");
        assert_eq!(
            submit(&mut w, &id, mismatch),
            Err(PortalError::Flow(FlowError::ConfirmationMismatch))
        );
        // Another flow's form: the login screen's fields.
        let login = Post::new("login")
            .with("user_id", USER)
            .with("password", NEW);
        assert!(matches!(
            form_error(submit(&mut w, &id, login)),
            FormError::NoSuchButton(_) | FormError::UnknownField(_)
        ));
        assert_eq!(w.state(), before);
        assert!(w.host.outbox.all().is_empty());

        // A form sent to a finished flow.
        submit(&mut w, &id, good).unwrap();
        let code = w.code_for(SECURITY);
        submit(&mut w, &id, Post::new("send").with("code", code)).unwrap();
        submit(&mut w, &id, Post::new("finish")).unwrap();
        let before = w.state();
        assert_eq!(
            submit(&mut w, &id, Post::new("finish")),
            Err(PortalError::NoSuchFlow)
        );
        assert_eq!(w.state(), before);
    }
}

//! An existing office without a security email (GR-01 … GR-05, CAL-02), as the source's procedure
//! 1.2.1 (4) 手順 1. … 5. and the grace period of (5), on a virtual clock.

use chrono::TimeDelta;
use kaigo_seikyu::account::{Account, TermsAcceptance};
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::effect::EventKind;
use kaigo_seikyu::error::{FlowError, PortalError};
use kaigo_seikyu::grace::Form;
use kaigo_seikyu::login;
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::Portal;
use kaigo_seikyu::portal::{FlowRef, Route};
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::store::FlowId;
use kaigo_seikyu::store::FlowKind;
use kaigo_seikyu::values::{EmailAddress, UserId, ValueError};
use rand::SeedableRng;
use rand::rngs::StdRng;

const USER: &str = "KJ131311111111";
const PASSWORD: &str = "Sakura2026!";
const SECURITY: &str = "mailforsecurity-001@jp";
const SKIP_BOX: &str = "セキュリティ用メールアドレスを登録せずにログインする";

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
    /// An office that existed before the release, without a security email, at `at`.
    fn existing_office(at: &str) -> World {
        let host = Embedded::new(utc(at));
        let portal = host.portal(
            Policy::insecure_fast_hashing(),
            CodeKey::from_bytes([8; 32]),
        );
        let mut rng = StdRng::seed_from_u64(31);
        let hash = portal.hash_secret(PASSWORD.as_bytes(), &mut rng);
        let terms = TermsAcceptance {
            version: 1,
            at: utc("2020-04-01T09:00:00+09:00"),
        };
        portal
            .create_account(login::existing_office(user(), hash, terms))
            .unwrap();
        World { host, portal, rng }
    }

    fn account(&self) -> Account {
        self.portal.account(&user()).unwrap().unwrap()
    }

    fn set(&self, at: &str) {
        self.host.clock.set(utc(at));
    }

    /// 手順 1.: 【ログイン】; the grace flow and its screen.
    fn login(&mut self) -> (FlowId, String) {
        match self.portal.login(USER, PASSWORD, &mut self.rng).unwrap() {
            Route::Flow {
                flow:
                    FlowRef {
                        kind: FlowKind::Grace,
                        id,
                    },
                screen,
            } => (id, screen.to_string()),
            other => panic!("expected the grace registration, got {other:?}"),
        }
    }

    fn input(&mut self, id: &FlowId, form: Form<'_>) -> Result<Route, PortalError> {
        self.portal.grace_input(id, form, &mut self.rng)
    }

    fn skip(&mut self, id: &FlowId) -> Result<Route, PortalError> {
        self.input(
            id,
            Form::Next {
                skip: true,
                address: "",
                confirm: "",
            },
        )
    }

    fn register(&mut self, id: &FlowId, address: &str) -> Result<Route, PortalError> {
        self.input(
            id,
            Form::Next {
                skip: false,
                address,
                confirm: address,
            },
        )
    }

    /// The latest 確認コード mailed to `to`, read from the mail like a user would.
    fn code_for(&self, to: &str) -> String {
        let mail = self.host.outbox.last_to(addr(to)).expect("a mail");
        assert_eq!(mail.subject, "確認コード発行通知(介護保険)");
        mail.code().expect("the code").to_owned()
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

/// GR-01, GR-02, GR-05, FL-05, FL-06: the source's procedure 1.2.1 (4) within the grace period.
#[test]
fn gr_01_gr_05_procedure_of_an_existing_office() {
    let mut w = World::existing_office("2026-01-10T10:00:00+09:00");
    // 手順 1. 【ログイン】: user ID and password.
    let (id, first) = w.login();
    // 手順 2. 【セキュリティ用メールアドレス設定】: the address and its confirmation, 次へ.
    insta::assert_snapshot!("gr_01_gr_02_within_grace", first);
    assert!(first.contains(
        "セキュリティ強化のため、セキュリティ用メールアドレスの登録が必須となりました。"
    ));
    let route = w.register(&id, SECURITY).unwrap();
    // 手順 3. The 確認コード発行通知 arrives at the address of 手順 2.
    let code = w.code_for(SECURITY);
    // 手順 4. 【確認コード入力】: the code, 送信.
    insta::assert_snapshot!("gr_05_enter_code", screen(&route));
    let route = w.input(&id, Form::EnterCode(&code)).unwrap();
    // 手順 5. 【処理終了】: 終了.
    insta::assert_snapshot!("gr_05_registered", screen(&route));
    assert_eq!(
        w.account().security_emails.selected(),
        Some(&addr(SECURITY))
    );
    let notices = w.host.notices.for_office(&user().office());
    assert_eq!(notices.len(), 1, "SE-08: the registration is announced");
    assert_eq!(notices[0].title, "セキュリティ用メールアドレス登録通知");
    assert_eq!(
        w.input(&id, Form::Finish).unwrap(),
        Route::Menu { user: user() }
    );
    assert!(
        w.host
            .events
            .all()
            .iter()
            .any(|e| e.kind == EventKind::SecurityEmailRegistered { user: user() }),
        "SEC-05"
    );
    // Registered: the next login goes straight to the menu, even after the grace period.
    w.set("2026-03-01T09:00:00+09:00");
    assert_eq!(
        w.portal.login(USER, PASSWORD, &mut w.rng).unwrap(),
        Route::Menu { user: user() }
    );
}

/// GR-02: within the grace period, the box + 次へ logs in without registering; nothing is stored;
/// the next login asks again.
#[test]
fn gr_02_skip_within_grace_asks_again_next_time() {
    let mut w = World::existing_office("2026-01-10T10:00:00+09:00");
    let (id, screen) = w.login();
    assert!(screen.contains(&format!("☐ {SKIP_BOX}")));
    assert!(screen.contains(
        "セキュリティ用メールアドレスをすぐに登録できない方は、こちらを選択してください。"
    ));
    assert!(screen.contains(
        "2026年01月31日まで、暫定的にセキュリティ用メールアドレスを登録せずにログインできます。"
    ));
    let before = w.account();
    assert_eq!(w.skip(&id).unwrap(), Route::Menu { user: user() });
    assert_eq!(w.account(), before, "nothing registered");
    assert_eq!(
        w.skip(&id),
        Err(PortalError::NoSuchFlow),
        "the flow is over"
    );
    assert!(
        w.host
            .events
            .all()
            .iter()
            .any(|e| e.kind == EventKind::GraceSkipped { user: user() })
    );
    w.host.clock.advance(TimeDelta::days(1));
    let (_, again) = w.login();
    assert!(again.contains("セキュリティ用メールアドレス設定"));
}

/// GR-03, CAL-01, CAL-02, CAL-06: the skip is accepted at 2026-01-31T23:59:59+09:00 and refused
/// from 2026-02-01T00:00:00+09:00 (= 2026-01-31T15:00:00Z); from then the box is gone.
#[test]
fn gr_03_grace_boundaries() {
    let mut w = World::existing_office("2026-01-31T23:59:59+09:00");
    let (id, _) = w.login();
    assert_eq!(w.skip(&id).unwrap(), Route::Menu { user: user() });

    for at in ["2026-02-01T00:00:00+09:00", "2026-01-31T15:00:00Z"] {
        let mut w = World::existing_office(at);
        let (id, screen) = w.login();
        assert!(
            !screen.contains(SKIP_BOX) && !screen.contains("2026年01月31日"),
            "{at}"
        );
        let before = w.state();
        let e = refusal(w.skip(&id));
        assert_eq!(e, FlowError::GracePeriodOver, "{at}");
        assert_eq!(w.state(), before, "refused, nothing changed");
        if at.ends_with('Z') {
            insta::assert_snapshot!("gr_03_after_grace", screen);
            insta::assert_snapshot!("gr_03_refusal", format!("{e}\n{}", e.message()));
        }
    }
    let mut w = World::existing_office("2026-01-31T14:59:59Z");
    let (id, _) = w.login();
    assert_eq!(
        w.skip(&id).unwrap(),
        Route::Menu { user: user() },
        "still 2026-01-31 in Japan"
    );
}

/// GR-03: whether the box may be used is decided when 次へ is pressed: drawn at 23:59, submitted at
/// 00:00 on 2026-02-01, it is refused; the screen drawn again has no box; registering still works.
#[test]
fn gr_03_decided_at_submit_time() {
    let mut w = World::existing_office("2026-01-31T23:59:00+09:00");
    let (id, screen) = w.login();
    assert!(screen.contains(SKIP_BOX));
    w.set("2026-02-01T00:00:00+09:00");
    let before = w.state();
    assert_eq!(refusal(w.skip(&id)), FlowError::GracePeriodOver);
    assert_eq!(w.state(), before);
    assert!(!w.portal.grace_screen(&id).unwrap().shows(SKIP_BOX));
    w.register(&id, SECURITY).unwrap();
    let code = w.code_for(SECURITY);
    w.input(&id, Form::EnterCode(&code)).unwrap();
    assert_eq!(
        w.input(&id, Form::Finish).unwrap(),
        Route::Menu { user: user() }
    );
}

/// GR-04: box checked and addresses typed (even malformed ones): the box wins, nothing is mailed
/// or registered.
#[test]
fn gr_04_box_wins_over_typed_addresses() {
    for (address, confirm) in [(SECURITY, SECURITY), ("ｍａｉｌ@jp", "other@jp")] {
        let mut w = World::existing_office("2026-01-20T10:00:00+09:00");
        let (id, _) = w.login();
        let route = w
            .input(
                &id,
                Form::Next {
                    skip: true,
                    address,
                    confirm,
                },
            )
            .unwrap();
        assert_eq!(route, Route::Menu { user: user() });
        assert!(w.host.outbox.all().is_empty(), "nothing mailed");
        assert!(w.account().security_emails.is_empty(), "nothing registered");
    }
}

/// GR-05, FL-05: the registration's code is valid 30 minutes: accepted at 29:59, refused at 30:00.
#[test]
fn gr_05_code_accepted_at_29_59_refused_at_30_00() {
    for (after, accepted) in [(29 * 60 + 59, true), (30 * 60, false)] {
        let mut w = World::existing_office("2026-01-20T10:00:00+09:00");
        let (id, _) = w.login();
        w.register(&id, SECURITY).unwrap();
        let code = w.code_for(SECURITY);
        w.host.clock.advance(TimeDelta::seconds(after));
        let result = w.input(&id, Form::EnterCode(&code));
        if accepted {
            assert_eq!(
                screen(&result.unwrap()).lines().next(),
                Some("【処理終了】")
            );
            assert!(!w.account().security_emails.is_empty());
        } else {
            assert_eq!(refusal(result), FlowError::CodeExpired);
            assert!(w.account().security_emails.is_empty());
            // 戻る: back to the address entry, a new code.
            let route = w.input(&id, Form::Back).unwrap();
            assert_eq!(
                route.screen().unwrap().title,
                "セキュリティ用メールアドレス設定"
            );
        }
    }
}

/// GR-05, VAL-05, SEC-07: a mismatched confirmation mails nothing; wrong codes are counted against
/// the user's hourly budget across flows.
#[test]
fn gr_05_refusals_change_nothing() {
    let mut w = World::existing_office("2026-01-20T10:00:00+09:00");
    let (id, _) = w.login();
    let before = w.state();
    let e = refusal(w.input(
        &id,
        Form::Next {
            skip: false,
            address: SECURITY,
            confirm: "mailforsecurity-002@jp",
        },
    ));
    assert_eq!(e, FlowError::ConfirmationMismatch);
    assert_eq!(
        refusal(w.input(
            &id,
            Form::Next {
                skip: false,
                address: "ｍａｉｌ@jp",
                confirm: "ｍａｉｌ@jp"
            }
        )),
        FlowError::Value(ValueError::EmailNotAscii)
    );
    assert_eq!(
        refusal(w.input(&id, Form::Finish)),
        FlowError::UnexpectedInput {
            state: "EnteringSecurityEmail",
            input: "Finish"
        }
    );
    assert_eq!(
        refusal(w.input(&id, Form::EnterCode("1234"))),
        FlowError::UnexpectedInput {
            state: "EnteringSecurityEmail",
            input: "EnterCode"
        }
    );
    assert_eq!(w.state(), before);
    assert!(w.host.outbox.all().is_empty());
    // Ten wrong codes over two flows exhaust the hour's guessing budget.
    for round in 0..2 {
        let (id, _) = w.login();
        let address = format!("sec{round}@jp");
        w.register(&id, &address).unwrap();
        let right = w.code_for(&address);
        let wrong = format!("{:04}", (right.parse::<u32>().unwrap() + 1) % 10_000);
        for _ in 0..5 {
            assert!(matches!(
                refusal(w.input(&id, Form::EnterCode(&wrong))),
                FlowError::WrongCode { .. } | FlowError::CodeExhausted
            ));
        }
    }
    let (id, _) = w.login();
    w.register(&id, SECURITY).unwrap();
    let right = w.code_for(SECURITY);
    assert_eq!(
        refusal(w.input(&id, Form::EnterCode(&right))),
        FlowError::GuessBudgetExceeded
    );
    w.host.clock.advance(TimeDelta::hours(1));
    assert_eq!(
        refusal(w.input(&id, Form::EnterCode(&right))),
        FlowError::CodeExpired
    );
}

/// GR-01: the screen has ログアウト (and 戻る): both end the flow, back at 【ログイン】, logged out.
#[test]
fn gr_01_logout() {
    for form in [Form::Logout, Form::Back] {
        let mut w = World::existing_office("2026-01-20T10:00:00+09:00");
        let (id, screen) = w.login();
        assert!(screen.contains("[ログアウト] [戻る] [次へ]"));
        let route = w.input(&id, form).unwrap();
        assert!(matches!(route, Route::Screen(_)));
        assert_eq!(route.screen().unwrap().title, "ログイン");
        assert_eq!(w.skip(&id), Err(PortalError::NoSuchFlow));
    }
}

/// GR-03, LOGIN-03: after the grace period an existing office must register: no skip, and the
/// menu only after the code.
#[test]
fn gr_03_mandatory_after_grace() {
    let mut w = World::existing_office("2026-02-10T09:00:00+09:00");
    let (id, _) = w.login();
    assert_eq!(refusal(w.skip(&id)), FlowError::GracePeriodOver);
    let route = w.register(&id, SECURITY).unwrap();
    assert!(!matches!(route, Route::Menu { .. }));
    let code = w.code_for(SECURITY);
    let route = w.input(&id, Form::EnterCode(&code)).unwrap();
    assert!(!matches!(route, Route::Menu { .. }));
    assert_eq!(
        w.input(&id, Form::Finish).unwrap(),
        Route::Menu { user: user() }
    );
}

mod generic_forms {
    //! The grace registration driven only through the generic entry points (`begin`,
    //! `submit_to`), with forms filled by field and button names.
    use super::*;
    use kaigo_seikyu::grace::Grace;
    use kaigo_seikyu::login::Login;
    use kaigo_seikyu::screen::{Form as Post, FormError};

    fn submit(w: &mut World, id: &FlowId, form: Post) -> Result<Route, PortalError> {
        w.portal
            .submit_to::<Grace, _>(Some(&user()), id, &form, &mut w.rng)
    }

    fn begin(w: &mut World) -> FlowId {
        let login = Post::new("login")
            .with("user_id", USER)
            .with("password", PASSWORD);
        let route = w
            .portal
            .begin::<Login, _>(None, &login, &mut w.rng)
            .unwrap();
        let flow = route.flow().unwrap().clone();
        assert_eq!(flow.kind, FlowKind::Grace);
        flow.id
    }

    fn form_error(result: Result<Route, PortalError>) -> FormError {
        match result {
            Err(PortalError::Flow(FlowError::Form(e))) => e,
            other => panic!("not a form error: {other:?}"),
        }
    }

    /// 【ログイン】 → 【セキュリティ用メールアドレス設定】 → 【確認コード入力】 → 【処理終了】 → the
    /// menu, by forms alone; and the checkbox, by its name, within the grace period.
    #[test]
    fn an_existing_office_registers_or_skips_by_forms() {
        let mut w = World::existing_office("2026-01-20T10:00:00+09:00");
        let id = begin(&mut w);
        let skip = Post::new("next").with("skip", "on");
        assert_eq!(
            submit(&mut w, &id, skip).unwrap(),
            Route::Menu { user: user() }
        );

        let id = begin(&mut w);
        let next = Post::new("next")
            .with("address", SECURITY)
            .with("confirm_address", SECURITY);
        let route = submit(&mut w, &id, next).unwrap();
        assert_eq!(route.screen().unwrap().title, "確認コード入力");
        let code = w.code_for(SECURITY);
        let route = submit(&mut w, &id, Post::new("send").with("code", code)).unwrap();
        assert_eq!(route.screen().unwrap().title, "処理終了");
        let route = submit(&mut w, &id, Post::new("finish")).unwrap();
        assert_eq!(route, Route::Menu { user: user() });
        assert_eq!(
            w.account().security_emails.selected(),
            Some(&addr(SECURITY))
        );
    }

    /// Bad forms are refused with an error naming the field or button, and change nothing; a
    /// form sent to a finished flow finds none.
    #[test]
    fn bad_forms_name_their_field_and_change_nothing() {
        let mut w = World::existing_office("2026-02-10T10:00:00+09:00");
        let id = begin(&mut w);
        let before = w.state();
        // After the grace period the checkbox is not on the screen (GR-03).
        assert_eq!(
            form_error(submit(&mut w, &id, Post::new("next").with("skip", "on"))),
            FormError::UnknownField("skip".into())
        );
        assert_eq!(
            form_error(submit(
                &mut w,
                &id,
                Post::new("next").with("address", SECURITY)
            )),
            FormError::Missing("confirm_address".into())
        );
        assert_eq!(
            form_error(submit(&mut w, &id, Post::new("finish"))),
            FormError::NoSuchButton("finish".into())
        );
        let bad = Post::new("next")
            .with("address", "not an address")
            .with("confirm_address", "not an address");
        assert_eq!(form_error(submit(&mut w, &id, bad)).name(), "address");
        assert_eq!(w.state(), before);
        assert!(w.host.outbox.all().is_empty());

        // `戻る` ends the flow at 【ログイン】 (as `ログアウト` does); the flow is gone.
        let route = submit(&mut w, &id, Post::new("back")).unwrap();
        assert_eq!(route.screen().unwrap().title, "ログイン");
        let before = w.state();
        assert_eq!(
            submit(&mut w, &id, Post::new("back")),
            Err(PortalError::NoSuchFlow)
        );
        assert_eq!(w.state(), before);
    }
}

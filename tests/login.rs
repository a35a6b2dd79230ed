//! The login gate (LOGIN-01 … LOGIN-03, RI-10), driven through the portal on a virtual clock, as
//! the source's step 1 of 1.2.1 (3) and (4): 【ログイン】 → (【ログイン(セキュリティコード)】) → the
//! first login, the grace registration or the menu.

use chrono::TimeDelta;
use kaigo_seikyu::account::{Account, Temporary, TermsAcceptance};
use kaigo_seikyu::calendar::{Instant, utc};
use kaigo_seikyu::effect::EventKind;
use kaigo_seikyu::error::{FlowError, PortalError};
use kaigo_seikyu::flow::Cx;
use kaigo_seikyu::login::{self, LOST_LINK};
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::Portal;
use kaigo_seikyu::portal::{FlowRef, Route};
use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, CountingHasher, SecretHasher};
use kaigo_seikyu::store::FlowKind;
use kaigo_seikyu::values::{Password, PasswordClause, UserId, ValueError};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::sync::Arc;

const USER: &str = "KJ131311111111";
const TEMPORARY: &str = "Kari2026pass";
const PASSWORD: &str = "Sakura2026!";

struct World {
    host: Embedded,
    portal: Portal,
    rng: StdRng,
}

fn world(at: &str) -> World {
    world_with(at, Policy::insecure_fast_hashing())
}

fn world_with(at: &str, policy: Policy) -> World {
    let host = Embedded::new(utc(at));
    let portal = host.portal(policy, CodeKey::from_bytes([9; 32]));
    World {
        host,
        portal,
        rng: StdRng::seed_from_u64(42),
    }
}

fn user() -> UserId {
    USER.parse().unwrap()
}

fn terms_v1() -> TermsAcceptance {
    TermsAcceptance {
        version: 1,
        at: utc("2020-04-01T09:00:00+09:00"),
    }
}

impl World {
    fn login(&mut self, password: &str) -> Result<Route, PortalError> {
        self.portal.login(USER, password, &mut self.rng)
    }

    fn account(&self) -> Account {
        self.portal.account(&user()).unwrap().unwrap()
    }

    fn set(&self, at: &str) {
        self.host.clock.set(utc(at));
    }

    fn now(&self) -> Instant {
        self.portal.now()
    }

    /// An existing office that registered a security email: logs in straight to the menu.
    fn registered_office(&mut self, security_code: Option<&str>) {
        let mut acct = login::existing_office(
            user(),
            self.portal.hash_secret(PASSWORD.as_bytes(), &mut self.rng),
            terms_v1(),
        );
        acct.security_emails
            .add("mailforsecurity-001@jp".parse().unwrap(), self.now())
            .unwrap();
        acct.security_code =
            security_code.map(|c| self.portal.hash_secret(c.as_bytes(), &mut self.rng));
        self.portal.create_account(acct).unwrap();
    }

    fn new_office(&mut self) {
        let hash = self.portal.hash_secret(TEMPORARY.as_bytes(), &mut self.rng);
        self.portal
            .create_account(login::new_office(user(), hash))
            .unwrap();
    }

    fn existing_office(&mut self) {
        let hash = self.portal.hash_secret(PASSWORD.as_bytes(), &mut self.rng);
        self.portal
            .create_account(login::existing_office(user(), hash, terms_v1()))
            .unwrap();
    }
}

fn flow_error(result: Result<Route, PortalError>) -> FlowError {
    match result {
        Err(PortalError::Flow(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// LOGIN-01: 【ログイン】 takes user ID and password and carries the lost-credentials link.
#[test]
fn login_01_login_screen() {
    let screen = login::login_screen();
    assert!(screen.offers(LOST_LINK));
    insta::assert_snapshot!(screen.to_string());
}

/// LOGIN-01: with a security code set, 【ログイン(セキュリティコード)】 comes next (with the link);
/// a wrong code is refused, the right one logs in. Without one, the password alone does.
#[test]
fn login_01_security_code_asked_when_set() {
    let mut w = world("2026-01-10T10:00:00+09:00");
    w.registered_office(Some("7351"));
    // 手順 1. 【ログイン】: user ID and password.
    let Route::Flow {
        flow: FlowRef {
            kind: FlowKind::Login,
            id,
        },
        screen,
    } = w.login(PASSWORD).unwrap()
    else {
        panic!("no security-code screen")
    };
    assert!(screen.offers(LOST_LINK));
    insta::assert_snapshot!(screen.to_string());
    assert_eq!(
        flow_error(w.portal.login_security_code(&id, "0000", &mut w.rng)),
        FlowError::WrongSecurityCode
    );
    assert_eq!(
        w.account().failures,
        1,
        "LOGIN-02: a wrong security code counts"
    );
    let route = w
        .portal
        .login_security_code(&id, "7351", &mut w.rng)
        .unwrap();
    assert_eq!(route, Route::Menu { user: user() });
    assert_eq!(w.account().failures, 0, "a success resets the count");
    // The login flow is over.
    assert_eq!(
        w.portal.login_security_code(&id, "7351", &mut w.rng),
        Err(PortalError::NoSuchFlow)
    );

    let mut w = world("2026-01-10T10:00:00+09:00");
    w.registered_office(None);
    assert_eq!(w.login(PASSWORD).unwrap(), Route::Menu { user: user() });
}

/// LOGIN-01 (decision): the security-code step expires after the policy's code lifetime.
#[test]
fn login_01_security_code_step_expires() {
    let mut w = world("2026-01-10T10:00:00+09:00");
    w.registered_office(Some("7351"));
    let route = w.login(PASSWORD).unwrap();
    let id = route.flow_id().unwrap().clone();
    w.set("2026-01-10T10:30:00+09:00");
    assert_eq!(
        flow_error(w.portal.login_security_code(&id, "7351", &mut w.rng)),
        FlowError::FlowExpired
    );
}

/// LOGIN-01: an unknown user ID is refused exactly like a wrong password; a malformed one says so.
#[test]
fn login_01_unknown_and_malformed_user_ids() {
    let mut w = world("2026-01-10T10:00:00+09:00");
    w.registered_office(None);
    let unknown = flow_error(w.portal.login("KJ131399999999", PASSWORD, &mut w.rng));
    let wrong = flow_error(w.login("Wrong2026!"));
    assert_eq!(unknown, FlowError::WrongCredentials);
    assert_eq!(
        (unknown.to_string(), unknown.message()),
        (wrong.to_string(), wrong.message())
    );
    assert_eq!(
        flow_error(w.portal.login("ＫＪ131311111111", PASSWORD, &mut w.rng)),
        FlowError::Value(ValueError::UserIdFormat)
    );
    assert_eq!(
        flow_error(w.portal.login(&"K".repeat(10_000), PASSWORD, &mut w.rng)),
        FlowError::Value(ValueError::UserIdFormat)
    );
    assert_eq!(
        w.account().failures,
        1,
        "only the wrong password was counted"
    );
}

/// LOGIN-02: the third consecutive failure locks the ID for 30 minutes; while locked even the
/// right password is refused with the same message as a wrong one; 30 minutes later it is lifted.
/// SEC-05: the failures, the lockout and the success are events.
#[test]
fn login_02_lockout_on_third_failure_lifted_after_30_minutes() {
    let mut w = world("2026-01-10T10:00:00+09:00");
    w.registered_office(None);
    // 手順 1. 【ログイン】, three times with a wrong password.
    assert_eq!(
        flow_error(w.login("Wrong2026!")),
        FlowError::WrongCredentials
    );
    assert_eq!(
        flow_error(w.login("Wrong2026?")),
        FlowError::WrongCredentials
    );
    let until = utc("2026-01-10T10:30:00+09:00");
    assert_eq!(
        flow_error(w.login("Wrong2026#")),
        FlowError::Locked { until }
    );
    let locked = w.account();
    assert_eq!(locked.locked_until, Some(until));
    w.set("2026-01-10T10:29:59+09:00");
    let right = flow_error(w.login(PASSWORD));
    let wrong = flow_error(w.login("Wrong2026!"));
    assert_eq!(right, FlowError::Locked { until });
    assert_eq!(
        (right.to_string(), right.message()),
        (wrong.to_string(), wrong.message())
    );
    assert_eq!(w.account(), locked, "attempts while locked change nothing");
    w.set("2026-01-10T10:30:00+09:00");
    assert_eq!(w.login(PASSWORD).unwrap(), Route::Menu { user: user() });
    let acct = w.account();
    assert_eq!((acct.failures, acct.locked_until), (0, None));
    let kinds: Vec<EventKind> = w.host.events.all().into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| matches!(k, EventKind::LoginFailed { .. }))
            .count(),
        3
    );
    assert!(kinds.contains(&EventKind::LockedOut {
        user: user(),
        until
    }));
    assert_eq!(
        kinds.last(),
        Some(&EventKind::LoginSucceeded { user: user() })
    );
}

/// LOGIN-02: failures must be consecutive (a success resets the count), and a wrong security code
/// counts the same as a wrong password.
#[test]
fn login_02_consecutive_failures_and_security_codes_count() {
    let mut w = world("2026-01-10T10:00:00+09:00");
    w.registered_office(Some("7351"));
    for _ in 0..2 {
        assert_eq!(
            flow_error(w.login("Wrong2026!")),
            FlowError::WrongCredentials
        );
    }
    let id = w.login(PASSWORD).unwrap().flow_id().unwrap().clone();
    assert_eq!(
        w.portal
            .login_security_code(&id, "7351", &mut w.rng)
            .unwrap(),
        Route::Menu { user: user() }
    );
    for _ in 0..2 {
        assert_eq!(
            flow_error(w.login("Wrong2026!")),
            FlowError::WrongCredentials
        );
    }
    let id = w.login(PASSWORD).unwrap().flow_id().unwrap().clone();
    let until = utc("2026-01-10T10:30:00+09:00");
    assert_eq!(
        flow_error(w.portal.login_security_code(&id, "1111", &mut w.rng)),
        FlowError::Locked { until }
    );
    assert_eq!(
        flow_error(w.portal.login_security_code(&id, "7351", &mut w.rng)),
        FlowError::Locked { until }
    );
}

/// LOGIN-03: the gate's order: temporary password → FL; a new terms version → FL first (FL-08); a
/// new office without a security email → FL; an existing one → GR, with the checkbox only within
/// the grace period; else the menu.
#[test]
fn login_03_routing_order() {
    let title = |route: &Route| route.screen().map(|s| s.title.clone());
    // A new office: FL from the terms.
    let mut w = world("2026-01-10T10:00:00+09:00");
    w.new_office();
    let route = w.login(TEMPORARY).unwrap();
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
    assert_eq!(title(&route).as_deref(), Some("利用規約"));

    // A new office that changed its password but stopped before the security email: FL again,
    // even within the grace period (FL-04), at the first step still needed.
    let mut w = world("2026-01-10T10:00:00+09:00");
    let mut acct = login::new_office(
        user(),
        w.portal.hash_secret(PASSWORD.as_bytes(), &mut w.rng),
    );
    acct.temporary = None;
    acct.terms = Some(terms_v1());
    acct.notice_email = kaigo_seikyu::account::NoticeEmail::Declined;
    w.portal.create_account(acct).unwrap();
    let route = w.login(PASSWORD).unwrap();
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
        title(&route).as_deref(),
        Some("セキュリティ用メールアドレス設定")
    );

    // An existing office with a temporary password: FL (the password) before GR.
    let mut w = world("2026-01-10T10:00:00+09:00");
    let mut acct = login::existing_office(
        user(),
        w.portal.hash_secret(TEMPORARY.as_bytes(), &mut w.rng),
        terms_v1(),
    );
    acct.temporary = Some(Temporary {
        expires_at: Some(utc("2026-02-09T10:00:00+09:00")),
    });
    w.portal.create_account(acct).unwrap();
    let route = w.login(TEMPORARY).unwrap();
    assert_eq!(title(&route).as_deref(), Some("警告"));

    // An existing office without a security email: GR, the checkbox until 2026-01-31 only.
    let mut w = world("2026-01-31T23:59:59+09:00");
    w.existing_office();
    let route = w.login(PASSWORD).unwrap();
    let Route::Flow {
        flow: FlowRef {
            kind: FlowKind::Grace,
            ..
        },
        screen,
    } = &route
    else {
        panic!("{route:?}")
    };
    assert!(screen.shows("セキュリティ用メールアドレスを登録せずにログインする"));
    w.set("2026-02-01T00:00:00+09:00");
    let route = w.login(PASSWORD).unwrap();
    let Route::Flow {
        flow: FlowRef {
            kind: FlowKind::Grace,
            ..
        },
        screen,
    } = &route
    else {
        panic!("{route:?}")
    };
    assert!(!screen.shows("セキュリティ用メールアドレスを登録せずにログインする"));

    // A registered office: the menu; with a new terms version, the terms first (FL-08).
    let mut w = world("2026-01-10T10:00:00+09:00");
    w.registered_office(None);
    assert_eq!(w.login(PASSWORD).unwrap(), Route::Menu { user: user() });
    let v2 = w.host.portal(
        Policy {
            terms_version: 2,
            ..Policy::insecure_fast_hashing()
        },
        CodeKey::from_bytes([9; 32]),
    );
    let route = v2.login(USER, PASSWORD, &mut w.rng).unwrap();
    assert_eq!(title(&route).as_deref(), Some("利用規約"));
}

/// RI-10: an expired temporary password no longer logs in, and says so only to whoever knows it; it
/// counts no failure. Before it expires it leads only to the password change (FL-02).
#[test]
fn ri_10_expired_temporary_password() {
    let mut w = world("2026-02-09T09:59:59+09:00");
    let mut acct = login::existing_office(
        user(),
        w.portal.hash_secret(TEMPORARY.as_bytes(), &mut w.rng),
        terms_v1(),
    );
    acct.security_emails
        .add("mailforsecurity-001@jp".parse().unwrap(), w.now())
        .unwrap();
    acct.temporary = Some(Temporary {
        expires_at: Some(utc("2026-02-09T10:00:00+09:00")),
    });
    w.portal.create_account(acct).unwrap();
    let route = w.login(TEMPORARY).unwrap();
    assert_eq!(route.screen().map(|s| s.title.as_str()), Some("警告"));
    w.set("2026-02-09T10:00:00+09:00");
    let before = w.account();
    let expired = flow_error(w.login(TEMPORARY));
    assert_eq!(expired, FlowError::TemporaryPasswordExpired);
    assert_eq!(
        expired.message(),
        "仮パスワードの有効期限が切れています。再度ログイン情報再発行申請を行ってください。"
    );
    assert_eq!(w.account(), before, "no failure counted");
    assert_eq!(
        flow_error(w.login("Wrong2026!")),
        FlowError::WrongCredentials,
        "nothing told without the password"
    );
}

/// LOGIN-01, SEC-01: no password or security code in events, errors or screens.
#[test]
fn login_01_no_secret_leaks() {
    let mut w = world("2026-01-10T10:00:00+09:00");
    w.registered_office(Some("7351"));
    let wrong = format!("{:?}", w.login("Wrong2026!"));
    let route = w.login(PASSWORD).unwrap();
    let code = format!(
        "{:?}",
        w.portal
            .login_security_code(route.flow_id().unwrap(), "7352", &mut w.rng)
    );
    let events = format!("{:?}", w.host.events.all());
    let store = format!("{:?}", w.host.store.snapshot());
    for text in [wrong, code, events, format!("{route:?}"), store] {
        for secret in ["Wrong2026!", PASSWORD, "7351", "7352"] {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
    }
}

mod property {
    //! LOGIN-03, FL-04, GR-03: over arbitrary inputs and clock moves, the menu is never reached by
    //! a new office without a verified security email, nor by any office after the grace period.

    use super::*;
    use kaigo_seikyu::mail::Mail;
    use kaigo_seikyu::{first_login, grace};
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Login {
            who: usize,
            right: bool,
        },
        Advance(i64),
        AcceptTerms,
        StartPasswordChange,
        ChangePassword {
            right_current: bool,
        },
        Finish,
        Notice {
            set: bool,
        },
        Address(u8),
        Skip {
            typed: bool,
        },
        Code {
            right: bool,
        },
        Back,
        Logout,
        /// The usual button of the current screen (so sequences get far).
        Progress,
    }

    /// What a user following the procedure presses on the route's screen.
    fn usual(route: &Option<Route>) -> Op {
        match route
            .as_ref()
            .and_then(Route::screen)
            .map(|s| s.title.as_str())
        {
            Some("利用規約") => Op::AcceptTerms,
            Some("警告") => Op::StartPasswordChange,
            Some("パスワード変更") => Op::ChangePassword {
                right_current: true,
            },
            Some("メールアドレス設定") => Op::Notice { set: false },
            Some("セキュリティ用メールアドレス設定") => Op::Address(0),
            Some("確認コード入力") => Op::Code { right: true },
            _ => Op::Finish,
        }
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            12 => Just(Op::Progress),
            1 => (0..2usize, any::<bool>()).prop_map(|(who, right)| Op::Login { who, right }),
            1 => (0..40i64).prop_map(Op::Advance),
            1 => Just(Op::AcceptTerms),
            1 => Just(Op::StartPasswordChange),
            1 => any::<bool>().prop_map(|right_current| Op::ChangePassword { right_current }),
            1 => Just(Op::Finish),
            1 => any::<bool>().prop_map(|set| Op::Notice { set }),
            1 => (0..3u8).prop_map(Op::Address),
            1 => any::<bool>().prop_map(|typed| Op::Skip { typed }),
            1 => any::<bool>().prop_map(|right| Op::Code { right }),
            1 => Just(Op::Back),
            1 => Just(Op::Logout),
        ]
    }

    fn code_in(mail: &Mail) -> String {
        mail.code().unwrap_or_default().to_owned()
    }

    struct Office {
        user: UserId,
        password: String,
        route: Option<Route>,
        mailed_to: Option<String>,
    }

    /// Runs `ops`; returns how many times the menu was reached.
    fn run(ops: Vec<Op>) -> Result<usize, TestCaseError> {
        let host = Embedded::new(utc("2026-01-31T23:00:00+09:00"));
        let policy = Policy::insecure_fast_hashing();
        let portal = host.portal(policy.clone(), CodeKey::from_bytes([3; 32]));
        let mut rng = StdRng::seed_from_u64(7);
        let new_user: UserId = "KJ131311111111".parse().unwrap();
        let old_user: UserId = "KJ131311111112".parse().unwrap();
        portal
            .create_account(login::new_office(
                new_user,
                portal.hash_secret(TEMPORARY.as_bytes(), &mut rng),
            ))
            .unwrap();
        portal
            .create_account(login::existing_office(
                old_user,
                portal.hash_secret(PASSWORD.as_bytes(), &mut rng),
                terms_v1(),
            ))
            .unwrap();
        let mut offices = [
            Office {
                user: new_user,
                password: TEMPORARY.into(),
                route: None,
                mailed_to: None,
            },
            Office {
                user: old_user,
                password: PASSWORD.into(),
                route: None,
                mailed_to: None,
            },
        ];
        let (mut active, mut menus) = (0, 0);
        for op in ops {
            let office = &mut offices[active];
            let op = if let Op::Progress = op {
                usual(&office.route)
            } else {
                op
            };
            let next_password = if office.password == "Momiji2026#" {
                "Sakura2026?"
            } else {
                "Momiji2026#"
            };
            let right_code = office
                .mailed_to
                .as_ref()
                .and_then(|to| host.outbox.last_to(to))
                .map(|m| code_in(&m))
                .unwrap_or_else(|| "0000".into());
            let wrong_code = format!(
                "{:04}",
                (right_code.parse::<u32>().unwrap_or(0) + 1) % 10_000
            );
            let address = |n: u8| format!("sec{n}@jp");
            let result = match (&op, office.route.clone()) {
                (Op::Login { who, right }, _) => {
                    active = *who;
                    let office = &offices[active];
                    let password = if *right {
                        office.password.clone()
                    } else {
                        "Wrong2026!".into()
                    };
                    Some(portal.login(&office.user.to_string(), &password, &mut rng))
                }
                (Op::Advance(minutes), _) => {
                    host.clock.advance(TimeDelta::minutes(*minutes));
                    None
                }
                (
                    op,
                    Some(Route::Flow {
                        flow:
                            FlowRef {
                                kind: FlowKind::FirstLogin,
                                id,
                            },
                        ..
                    }),
                ) => {
                    let (addr, code);
                    let form = match op {
                        Op::AcceptTerms => first_login::Form::AcceptTerms,
                        Op::StartPasswordChange => first_login::Form::StartPasswordChange,
                        Op::ChangePassword { right_current } => first_login::Form::ChangePassword {
                            current: if *right_current {
                                &office.password
                            } else {
                                "Wrong2026!"
                            },
                            new: next_password,
                            confirm: next_password,
                        },
                        Op::Notice { set: true } => first_login::Form::SetNoticeEmail {
                            address: "n@jp",
                            confirm: "n@jp",
                        },
                        Op::Notice { set: false } => first_login::Form::DeclineNoticeEmail,
                        Op::Address(n) => {
                            addr = address(*n);
                            office.mailed_to = Some(addr.clone());
                            first_login::Form::SetSecurityEmail {
                                address: &addr,
                                confirm: &addr,
                            }
                        }
                        Op::Code { right } => {
                            code = if *right {
                                right_code.clone()
                            } else {
                                wrong_code.clone()
                            };
                            first_login::Form::EnterCode(&code)
                        }
                        Op::Back => first_login::Form::Back,
                        _ => first_login::Form::Finish,
                    };
                    let result = portal.first_login_input(&id, form, &mut rng);
                    if result.is_ok()
                        && matches!(
                            op,
                            Op::ChangePassword {
                                right_current: true
                            }
                        )
                    {
                        office.password = next_password.into();
                    }
                    Some(result)
                }
                (
                    op,
                    Some(Route::Flow {
                        flow:
                            FlowRef {
                                kind: FlowKind::Grace,
                                id,
                            },
                        ..
                    }),
                ) => {
                    let (addr, code);
                    let form = match op {
                        Op::Address(n) => {
                            addr = address(*n);
                            office.mailed_to = Some(addr.clone());
                            grace::Form::Next {
                                skip: false,
                                address: &addr,
                                confirm: &addr,
                            }
                        }
                        Op::Skip { typed } => grace::Form::Next {
                            skip: true,
                            address: if *typed { "x@jp" } else { "" },
                            confirm: "",
                        },
                        Op::Code { right } => {
                            code = if *right {
                                right_code.clone()
                            } else {
                                wrong_code.clone()
                            };
                            grace::Form::EnterCode(&code)
                        }
                        Op::Back => grace::Form::Back,
                        Op::Logout => grace::Form::Logout,
                        _ => grace::Form::Finish,
                    };
                    Some(portal.grace_input(&id, form, &mut rng))
                }
                _ => None,
            };
            if let Some(Ok(route)) = result {
                if let Route::Menu { user } = route {
                    menus += 1;
                    let acct = portal.account(&user).unwrap().unwrap();
                    let now = portal.now();
                    let has_email = !acct.security_emails.is_empty();
                    prop_assert!(
                        acct.grace_eligible || has_email,
                        "a new office reached the menu without a security email"
                    );
                    prop_assert!(
                        policy.grace_allows(now) || has_email,
                        "the menu after the grace period without one"
                    );
                    prop_assert!(
                        acct.temporary.is_none(),
                        "the menu with a temporary password"
                    );
                    prop_assert!(
                        acct.terms
                            .is_some_and(|t| t.version >= policy.terms_version)
                    );
                }
                offices[active].route = Some(route).filter(|r| r.flow_id().is_some());
            }
        }
        Ok(menus)
    }

    /// The harness can reach the menu: a new office through the whole first login, an existing one
    /// by the grace skip (so the property below is not vacuous).
    #[test]
    fn login_03_harness_reaches_the_menu() {
        let ops = vec![
            Op::Login {
                who: 0,
                right: true,
            },
            Op::AcceptTerms,
            Op::StartPasswordChange,
            Op::ChangePassword {
                right_current: true,
            },
            Op::Finish,
            Op::Notice { set: false },
            Op::Finish,
            Op::Address(0),
            Op::Code { right: true },
            Op::Finish,
            Op::Login {
                who: 1,
                right: true,
            },
            Op::Skip { typed: true },
            Op::Advance(60),
            Op::Login {
                who: 1,
                right: true,
            },
            Op::Skip { typed: false },
            Op::Address(1),
            Op::Code { right: true },
            Op::Finish,
        ];
        assert_eq!(run(ops).unwrap(), 3);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// LOGIN-03, FL-04, GR-03, CAL-02: the menu needs a verified security email for a new office,
        /// and for every office after the grace period.
        #[test]
        fn login_03_fl_04_gr_03_menu_needs_security_email(ops in proptest::collection::vec(op(), 0..60)) {
            run(ops)?;
        }
    }
}

/// Counts every hash, verification and keyed digest a portal does.
type Counts = CountingHasher<Argon2Hasher>;

/// The embedded host with a counting hasher behind its portal.
fn counting_world(at: &str) -> (World, Arc<Counts>) {
    let host = Embedded::new(utc(at));
    let policy = Policy::insecure_fast_hashing();
    let counts = Arc::new(CountingHasher::new(Argon2Hasher::new(
        policy.hashing,
        CodeKey::from_bytes([9; 32]),
    )));
    let hasher = counts.clone();
    let ports = host.ports();
    let portal = Portal::with_hasher(ports, policy, hasher);
    let world = World {
        host,
        portal,
        rng: StdRng::seed_from_u64(43),
    };
    (world, counts)
}

/// VAL-06, SEC-09, LOGIN-01, LOGIN-02: a password longer than the policy allows is refused before
/// any hashing, for a known and an unknown user ID alike (the same error, no hash, verification or
/// digest, no store change, no event), so it neither costs argon2 work nor tells whether the ID
/// exists. It is a malformed entry, not a failed login: it is not counted and never locks, and the
/// right password still logs in afterwards. A wrong password of the longest allowed length is
/// still verified and counted.
#[test]
fn val_06_sec_09_over_long_password_is_refused_before_any_hashing() {
    let (mut w, counts) = counting_world("2026-01-10T10:00:00+09:00");
    w.registered_office(None);
    let max = usize::from(w.portal.policy().password.max_chars);
    let too_long = |n: usize| format!("{PASSWORD}{}", "x".repeat(n - PASSWORD.len()));
    let refused = FlowError::Value(ValueError::Password(PasswordClause::Length {
        min: 8,
        max: 16,
    }));
    let before = (
        counts.counts(),
        w.host.store.snapshot(),
        w.host.events.all(),
    );
    for (id, password) in [
        (USER, too_long(max + 1)),
        ("KJ131322222222", too_long(max + 1)),
        (USER, too_long(100_000)),
        ("KJ131322222222", too_long(100_000)),
        (USER, too_long(max + 1)),
        (USER, too_long(max + 1)),
        (USER, too_long(max + 1)),
    ] {
        let result = w.portal.login(id, &password, &mut w.rng);
        assert_eq!(
            flow_error(result),
            refused,
            "{id}, {} chars",
            password.len()
        );
        assert_eq!(
            (
                counts.counts(),
                w.host.store.snapshot(),
                w.host.events.all()
            ),
            before,
            "nothing hashed, stored or logged"
        );
    }
    assert_eq!(w.account().failures, 0, "not counted");
    assert!(!w.account().is_locked(w.now()), "never locks");

    // The longest allowed length is verified (known ID) or hashed (unknown ID), and counted.
    let longest = format!("{}{}", "Wrong1", "y".repeat(max - 6));
    assert_eq!(flow_error(w.login(&longest)), FlowError::WrongCredentials);
    assert_eq!(counts.counts()[1], before.0[1] + 1, "one verification");
    assert_eq!(w.account().failures, 1);
    assert_eq!(
        flow_error(w.portal.login("KJ131322222222", &longest, &mut w.rng)),
        FlowError::WrongCredentials
    );
    assert_eq!(counts.counts()[0], before.0[0] + 1, "one decoy hash");

    let route = w.login(PASSWORD).unwrap();
    assert!(matches!(route, Route::Menu { .. }), "{route:?}");
}

/// VAL-06, SEC-09: the pure transition refuses an over-long password before anything, known or
/// unknown ID: the same error, no effect.
#[test]
fn val_06_sec_09_enter_password_refuses_an_over_long_password_first() {
    let policy = Policy::insecure_fast_hashing();
    let counts = Arc::new(CountingHasher::new(Argon2Hasher::new(
        policy.hashing,
        CodeKey::from_bytes([9; 32]),
    )));
    let hasher = counts.clone();
    let mut rng = StdRng::seed_from_u64(44);
    let account = login::new_office(user(), hasher.hash(TEMPORARY.as_bytes(), &[1; 16]));
    let mut locked = account.clone();
    locked.locked_until = Some(utc("2026-01-10T10:30:00+09:00"));
    let hashed = counts.counts();
    let mut cx = Cx {
        now: utc("2026-01-10T10:00:00+09:00"),
        rng: &mut rng,
        policy: &policy,
        hasher: hasher.as_ref(),
    };
    let long = Password::new("a1".repeat(9));
    for account in [Some(account), Some(locked), None] {
        assert_eq!(
            login::enter_password(user(), account, &long, &mut cx).map(|s| s.state),
            Err(FlowError::Value(ValueError::Password(
                PasswordClause::Length { min: 8, max: 16 }
            )))
        );
    }
    assert_eq!(counts.counts(), hashed);
}

mod generic_forms {
    //! The login gate driven only through the generic entry points (`entry`, `begin`,
    //! `submit_to`), with forms filled by field and button names.
    use super::*;
    use kaigo_seikyu::login::Login;
    use kaigo_seikyu::screen::{Form, FormError};

    fn snapshot(w: &World) -> Vec<String> {
        w.host
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

    /// 【ログイン】 → 【ログイン(セキュリティコード)】 → the menu, by forms alone; the link `lost`
    /// shows the lost-credentials menu from either screen.
    #[test]
    fn a_registered_office_reaches_the_menu_by_forms() {
        let mut w = world("2026-01-10T10:00:00+09:00");
        w.registered_office(Some("7351"));
        let entry = w.portal.entry::<Login>(None).unwrap();
        assert!(entry.field_named("user_id").is_some() && entry.field_named("password").is_some());
        let form = Form::new("login")
            .with("user_id", USER)
            .with("password", PASSWORD);
        let route = w.portal.begin::<Login, _>(None, &form, &mut w.rng).unwrap();
        let flow = route.flow().unwrap().clone();
        assert_eq!(flow.kind, FlowKind::Login);
        // The screen's required field must be sent with any button but `戻る` (Screen::accept).
        let lost = Form::new("lost").with("security_code", "0");
        let lost = w
            .portal
            .submit_to::<Login, _>(None, &flow.id, &lost, &mut w.rng)
            .unwrap();
        assert_eq!(lost.screen().unwrap().title, "パスワード等を紛失した方");
        let again = Form::new("lost").with("security_code", "0");
        assert_eq!(
            w.portal
                .submit_to::<Login, _>(None, &flow.id, &again, &mut w.rng),
            Err(PortalError::NoSuchFlow),
            "the flow ended"
        );

        let route = w.portal.begin::<Login, _>(None, &form, &mut w.rng).unwrap();
        let id = route.flow_id().unwrap().clone();
        let code = Form::new("login").with("security_code", "7351");
        let route = w
            .portal
            .submit_to::<Login, _>(None, &id, &code, &mut w.rng)
            .unwrap();
        assert_eq!(route, Route::Menu { user: user() });
        // The screen's required fields must be sent with any button but `戻る` (Screen::accept).
        let mut lost = form.clone();
        lost.button = "lost".into();
        let lost = w.portal.begin::<Login, _>(None, &lost, &mut w.rng).unwrap();
        assert_eq!(lost.screen().unwrap().title, "パスワード等を紛失した方");
    }

    /// Bad forms are refused with an error naming the field or button, and change nothing; a
    /// form sent to a finished flow finds none.
    #[test]
    fn bad_forms_name_their_field_and_change_nothing() {
        let mut w = world("2026-01-10T10:00:00+09:00");
        w.registered_office(Some("7351"));
        let before = snapshot(&w);
        let good = Form::new("login")
            .with("user_id", USER)
            .with("password", PASSWORD);
        let mut refused = |form: Form| {
            let outcome = w.portal.begin::<Login, _>(None, &form, &mut w.rng);
            form_error(outcome)
        };
        assert_eq!(
            refused(good.clone().with("nickname", "x")),
            FormError::UnknownField("nickname".into())
        );
        assert_eq!(
            refused(Form::new("login").with("user_id", USER)),
            FormError::Missing("password".into())
        );
        assert_eq!(
            refused(
                Form::new("send")
                    .with("user_id", USER)
                    .with("password", PASSWORD)
            ),
            FormError::NoSuchButton("send".into())
        );
        let bad = refused(
            Form::new("login")
                .with("user_id", "KJ13")
                .with("password", PASSWORD),
        );
        assert_eq!(bad.name(), "user_id");
        assert!(matches!(bad, FormError::Invalid { .. }));
        // Another flow's form: the reset's fields.
        assert!(matches!(
            refused(Form::new("next").with("office", "1311111111")),
            FormError::NoSuchButton(_) | FormError::UnknownField(_)
        ));
        assert_eq!(snapshot(&w), before);
        assert!(
            w.host.events.all().len() <= 1,
            "nothing but the provisioning"
        );

        // `戻る` on 【ログイン】 is host navigation: refused, nothing changes.
        assert!(matches!(
            w.portal
                .begin::<Login, _>(None, &Form::new("back"), &mut w.rng),
            Err(PortalError::Flow(FlowError::UnexpectedInput { .. }))
        ));

        // A form sent to a finished flow.
        let route = w.portal.begin::<Login, _>(None, &good, &mut w.rng).unwrap();
        let id = route.flow_id().unwrap().clone();
        let code = Form::new("login").with("security_code", "7351");
        w.portal
            .submit_to::<Login, _>(None, &id, &code, &mut w.rng)
            .unwrap();
        let before = snapshot(&w);
        assert_eq!(
            w.portal.submit_to::<Login, _>(None, &id, &code, &mut w.rng),
            Err(PortalError::NoSuchFlow)
        );
        assert_eq!(snapshot(&w), before);
    }
}

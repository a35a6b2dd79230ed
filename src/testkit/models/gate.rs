//! Model-based test of the door into the portal: the login gate (LOGIN-01 … LOGIN-03), the first
//! login of a new office (FL-01 … FL-07) and the grace registration of an existing office
//! (GR-01 … GR-05), against a reference model written from SPEC.md.
//!
//! The model is one account (its password, lock, terms, notice email and security emails) and
//! the screen the browser is on; arbitrary sequences of logins, form submissions, code entries
//! and clock moves (across 2026-02-01 JST, the 30-minute code and lock edges) go to the model and
//! to the real flows alike, and after every step the outcome, the screen, the account and the
//! hourly budgets must agree.

use super::{
    Addr, CODES_PER_FLOW, GUESSES_PER_HOUR, Harness, MAILS_PER_HOUR, Mood, Refusals, Spent, Typed,
    Verdict, WRONG_ENTRIES, World, address_pool, grace_over, minutes_30, password_error, resolve,
    same_address, start_instant, typed, typed_password, unexpected, val_06, value_error,
};
use crate::account::{NoticeEmail, TermsAcceptance};
use crate::calendar::{Instant, utc};
use crate::error::FlowError;
use crate::first_login::Form as FirstForm;
use crate::grace::{Form as GraceForm, MANDATORY_TEXT, SKIP_LABEL};
use crate::login;
use crate::portal::{FlowRef, Route};
use crate::store::FlowId;
use crate::store::FlowKind;
use crate::strategies;
use crate::values::{PasswordClause, UserId};
use chrono::TimeDelta;
use proptest::prelude::*;

/// The office's security code (LOGIN-01), when it has set one.
const SECURITY_CODE: &str = "Sc-7351x";

// ---------------------------------------------------------------------------------------------
// The model.

/// What the office was before its first login of the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Office {
    /// A new office: temporary password, nothing else (FL-01).
    New,
    /// An office from before the release, without a security email (GR).
    Existing,
    /// An office with a security email.
    Registered,
}

/// The account as SPEC describes it.
#[derive(Debug, Clone)]
struct Account {
    password: String,
    temporary: bool,
    security_code: bool,
    /// LOGIN-02: consecutive failures, and the lock.
    failures: u8,
    locked_until: Option<Instant>,
    terms: bool,
    notice_asked: bool,
    first_login_done: bool,
    grace_eligible: bool,
    /// Registered security emails, oldest first; the first is the selected one (SE-03).
    emails: Vec<String>,
}

/// A 確認コード mailed (FL-05).
#[derive(Debug, Clone)]
struct Code {
    to: String,
    issued: Instant,
    wrong: u8,
}

/// The screens of FL (and, for the last three, of GR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Screen {
    Terms,
    Warning,
    ChoosingPassword,
    PasswordChanged,
    ChoosingNotice,
    NoticeDone,
    EnteringSecurity,
    AwaitingCode,
    Registered,
}

impl Screen {
    /// Its title (FL-01).
    fn title(self) -> &'static str {
        match self {
            Screen::Terms => "利用規約",
            Screen::Warning => "警告",
            Screen::ChoosingPassword => "パスワード変更",
            Screen::PasswordChanged | Screen::NoticeDone | Screen::Registered => "処理終了",
            Screen::ChoosingNotice => "メールアドレス設定",
            Screen::EnteringSecurity => "セキュリティ用メールアドレス設定",
            Screen::AwaitingCode => "確認コード入力",
        }
    }
}

/// Which flow the browser is in.
#[derive(Debug, Clone)]
enum Flow {
    /// At 【ログイン】 or the menu.
    Out,
    /// 【ログイン(セキュリティコード)】 (LOGIN-01), valid until `expires`.
    SecurityCode { expires: Instant },
    /// The first login (FL) or the grace registration (GR).
    In {
        grace: bool,
        at: Screen,
        codes_sent: u8,
        code: Option<Code>,
    },
}

/// Where a step leads, as SPEC names it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Where {
    Login,
    SecurityCode,
    First(Screen),
    Grace { at: Screen, skip_offered: bool },
    Menu,
}

/// VAL-06, SEC-09: longer than the policy's 16 characters, so refused before any hashing.
fn too_long(password: &str) -> bool {
    password.chars().count() > 16
}

/// A password field: the account's current password, or something else typed.
#[derive(Debug, Clone)]
enum Pw {
    Current,
    Typed(String),
}

/// One step of the user (or the clock).
#[derive(Debug, Clone)]
enum Step {
    Advance(TimeDelta),
    Login(Pw),
    SecurityCode {
        right: bool,
    },
    AcceptTerms,
    StartPasswordChange,
    ChangePassword {
        current: Pw,
        new: Pw,
        confirm_same: bool,
    },
    Finish,
    Notice(Option<usize>),
    SecurityEmail {
        address: Addr,
        confirm: Addr,
    },
    Skip {
        address: Addr,
    },
    Code(Typed),
    Back,
    Logout,
}

/// The step as typed into the real flow, fields resolved by the model.
#[derive(Debug, Clone)]
enum Request {
    /// A clock move: the runner moves the real clock.
    Clock,
    Login(String),
    SecurityCode(String),
    First(Form),
    Grace(Form),
}

/// A form's fields, owned.
#[derive(Debug, Clone)]
enum Form {
    AcceptTerms,
    StartPasswordChange,
    ChangePassword {
        current: String,
        new: String,
        confirm: String,
    },
    Finish,
    SetNotice(String),
    DeclineNotice,
    SetSecurityEmail {
        address: String,
        confirm: String,
    },
    Skip {
        address: String,
    },
    Code(Typed),
    Back,
    Logout,
}

#[derive(Debug, Clone)]
struct Model {
    seed: u64,
    mood: Mood,
    office: Office,
    user: UserId,
    now: Instant,
    pool: Vec<String>,
    account: Account,
    flow: Flow,
    /// SEC-04: code mails by address; SEC-07: wrong code entries of the user ID.
    spent: Spent,
    /// The last step: what was typed, and what SPEC says of it.
    request: Request,
    verdict: Verdict,
    route: Option<Where>,
    mailed: bool,
    /// FL-07: whether the first login under way asks the notice email (fixed when it begins):
    /// `戻る` on its security-email entry goes back there only then, else to 【ログイン】.
    asks_notice: bool,
}

impl Model {
    fn locked(&self) -> Option<Instant> {
        self.account.locked_until.filter(|until| self.now < *until)
    }

    /// LOGIN-02: a failed login (or a wrong security code, or a wrong current password) counts;
    /// the third in a row locks the user ID for 30 minutes (the lock ends the count).
    fn fail(&mut self, error: FlowError) -> Verdict {
        let a = &mut self.account;
        if a.locked_until.is_some() {
            a.locked_until = None;
            a.failures = 0;
        }
        a.failures += 1;
        if a.failures >= 3 {
            let until = self.now + minutes_30();
            a.failures = 0;
            a.locked_until = Some(until);
            Verdict::counted(FlowError::Locked { until })
        } else {
            Verdict::counted(error)
        }
    }

    /// FL-07 (and FL-08's terms first): the first-login step still needed, if any.
    fn first_login_step(&self) -> Option<Screen> {
        let a = &self.account;
        if !a.terms {
            Some(Screen::Terms)
        } else if a.temporary {
            Some(Screen::Warning)
        } else if !a.first_login_done && !a.notice_asked {
            Some(Screen::ChoosingNotice)
        } else if a.emails.is_empty() && !a.grace_eligible {
            Some(Screen::EnteringSecurity)
        } else {
            None
        }
    }

    /// LOGIN-03: after a successful login, in this order: FL; mandatory registration without a
    /// security email (a new office, or the grace period over); registration with the skip
    /// option within the grace period; else the menu.
    fn gate(&mut self) -> Where {
        if let Some(at) = self.first_login_step() {
            let a = &self.account;
            self.asks_notice = !a.first_login_done && !a.notice_asked;
            self.flow = Flow::In {
                grace: false,
                at,
                codes_sent: 0,
                code: None,
            };
            Where::First(at)
        } else if self.account.emails.is_empty() {
            self.flow = Flow::In {
                grace: true,
                at: Screen::EnteringSecurity,
                codes_sent: 0,
                code: None,
            };
            Where::Grace {
                at: Screen::EnteringSecurity,
                skip_offered: self.now < grace_over(),
            }
        } else {
            self.flow = Flow::Out;
            Where::Menu
        }
    }

    /// A successful login: the count cleared, through the gate.
    fn succeed(&mut self) -> Where {
        self.account.failures = 0;
        self.account.locked_until = None;
        self.gate()
    }

    /// After a finished first-login step: the next one still needed, or out through the gate.
    fn onward(&mut self, codes_sent: u8) -> Where {
        match self.first_login_step() {
            Some(at) => {
                self.flow = Flow::In {
                    grace: false,
                    at,
                    codes_sent,
                    code: None,
                };
                Where::First(at)
            }
            None => {
                self.account.first_login_done = true;
                self.gate()
            }
        }
    }

    fn stay(&mut self, grace: bool, at: Screen, codes_sent: u8, code: Option<Code>) -> Where {
        self.flow = Flow::In {
            grace,
            at,
            codes_sent,
            code,
        };
        if grace {
            Where::Grace {
                at,
                skip_offered: self.now < grace_over(),
            }
        } else {
            Where::First(at)
        }
    }

    fn address(&self, a: &Addr) -> String {
        a.text(&self.pool)
    }

    fn password(&self, p: &Pw) -> String {
        match p {
            Pw::Current => self.account.password.clone(),
            Pw::Typed(text) => text.clone(),
        }
    }

    /// LOGIN-01, LOGIN-02, LOGIN-03.
    fn login(&mut self, typed: &str) -> Verdict {
        // VAL-06, SEC-09: longer than any password can be: refused first, unhashed, uncounted.
        if too_long(typed) {
            return Verdict::refused(password_error(PasswordClause::Length { min: 8, max: 16 }));
        }
        if let Some(until) = self.locked() {
            return Verdict::refused(FlowError::Locked { until });
        }
        if typed != self.account.password {
            return self.fail(FlowError::WrongCredentials);
        }
        if self.account.security_code {
            self.flow = Flow::SecurityCode {
                expires: self.now + minutes_30(),
            };
            self.route = Some(Where::SecurityCode);
        } else {
            self.route = Some(self.succeed());
        }
        Verdict::Ok
    }

    /// LOGIN-01, LOGIN-02: the security code, within its lifetime.
    fn security_code(&mut self, right: bool) -> Verdict {
        let Flow::SecurityCode { expires } = self.flow else {
            unreachable!("preconditions");
        };
        let mut refusals = Refusals::default();
        if let Some(until) = self.locked() {
            refusals.check(true, FlowError::Locked { until });
        }
        refusals.check(self.now >= expires, FlowError::FlowExpired);
        if refusals.any() {
            return refusals.verdict();
        }
        if !right {
            return self.fail(FlowError::WrongSecurityCode);
        }
        self.route = Some(self.succeed());
        Verdict::Ok
    }

    /// FL-01 … FL-07, GR-01 … GR-05: one form on the current screen.
    fn form(&mut self, step: &Step) -> (Verdict, Form) {
        let Flow::In {
            grace,
            at,
            codes_sent,
            code,
        } = self.flow.clone()
        else {
            unreachable!("preconditions");
        };
        let mut refusals = Refusals::default();
        let on = |screen: Screen| at == screen;
        match step {
            Step::AcceptTerms => {
                if !on(Screen::Terms) {
                    return (Verdict::Refused(vec![unexpected()]), Form::AcceptTerms);
                }
                self.account.terms = true;
                self.route = Some(self.onward(codes_sent));
                (Verdict::Ok, Form::AcceptTerms)
            }
            Step::StartPasswordChange => {
                if !on(Screen::Warning) {
                    return (
                        Verdict::Refused(vec![unexpected()]),
                        Form::StartPasswordChange,
                    );
                }
                self.route = Some(self.stay(grace, Screen::ChoosingPassword, codes_sent, None));
                (Verdict::Ok, Form::StartPasswordChange)
            }
            Step::ChangePassword {
                current,
                new,
                confirm_same,
            } => {
                let (current, new) = (self.password(current), &self.password(new));
                let confirm = if *confirm_same {
                    new.clone()
                } else {
                    format!("{new}x")
                };
                let form = Form::ChangePassword {
                    current: current.clone(),
                    new: new.clone(),
                    confirm,
                };
                // VAL-05, the screen, VAL-06, LOGIN-02: refusals that count nothing.
                refusals.check(!confirm_same, FlowError::ConfirmationMismatch);
                refusals.check(!on(Screen::ChoosingPassword), unexpected());
                if let Some(clause) = val_06(new, &self.user) {
                    refusals.check(true, password_error(clause));
                }
                // VAL-06, SEC-09: an over-long current password is refused unhashed, uncounted.
                refusals.check(
                    too_long(&current),
                    password_error(PasswordClause::Length { min: 8, max: 16 }),
                );
                if let Some(until) = self.locked() {
                    refusals.check(true, FlowError::Locked { until });
                }
                if refusals.any() {
                    return (refusals.verdict(), form);
                }
                // FL-02: 《現在のパスワード》 must be the temporary password (a wrong one counts
                // as a failed login: the step must not be a way round LOGIN-02).
                if current != self.account.password {
                    return (self.fail(FlowError::WrongCurrentPassword), form);
                }
                if *new == self.account.password {
                    return (Verdict::refused(FlowError::SameAsCurrentPassword), form);
                }
                self.account.password = new.clone();
                self.account.temporary = false;
                self.account.failures = 0;
                self.route = Some(self.stay(grace, Screen::PasswordChanged, codes_sent, None));
                (Verdict::Ok, form)
            }
            Step::Finish => {
                self.route = Some(match at {
                    Screen::PasswordChanged | Screen::NoticeDone if !grace => {
                        self.onward(codes_sent)
                    }
                    Screen::Registered if !grace => self.onward(0),
                    Screen::Registered => self.gate(),
                    _ => return (Verdict::Refused(vec![unexpected()]), Form::Finish),
                });
                (Verdict::Ok, Form::Finish)
            }
            Step::Notice(choice) => {
                let form = match choice {
                    Some(i) => Form::SetNotice(self.pool[*i].clone()),
                    None => Form::DeclineNotice,
                };
                if !on(Screen::ChoosingNotice) {
                    return (Verdict::Refused(vec![unexpected()]), form);
                }
                // FL-03: optional; declining goes on too.
                self.account.notice_asked = true;
                self.route = Some(self.stay(grace, Screen::NoticeDone, codes_sent, None));
                (Verdict::Ok, form)
            }
            Step::SecurityEmail { address, confirm } => {
                let (address, confirm) = (self.address(address), self.address(confirm));
                let form = Form::SetSecurityEmail {
                    address: address.clone(),
                    confirm: confirm.clone(),
                };
                let bad = address.parse::<crate::values::EmailAddress>().is_err();
                refusals.check(bad, value_error());
                refusals.check(
                    !bad && !same_address(&address, &confirm),
                    FlowError::ConfirmationMismatch,
                );
                refusals.check(!on(Screen::EnteringSecurity), unexpected());
                if refusals.any() {
                    return (refusals.verdict(), form);
                }
                // SEC-04: five codes per flow, ten code mails per address per hour.
                refusals.check(codes_sent >= CODES_PER_FLOW, FlowError::TooManyCodes);
                refusals.check(
                    self.spent.mails.full(&address, self.now, MAILS_PER_HOUR),
                    FlowError::MailBudgetExceeded,
                );
                if refusals.any() {
                    return (refusals.verdict(), form);
                }
                // FL-05, GR-05: a code (T1) to the address, valid 30 minutes.
                self.spent.mails.spend(&address, self.now);
                self.mailed = true;
                let code = Code {
                    to: address,
                    issued: self.now,
                    wrong: 0,
                };
                self.route =
                    Some(self.stay(grace, Screen::AwaitingCode, codes_sent + 1, Some(code)));
                (Verdict::Ok, form)
            }
            Step::Skip { address } => {
                let form = Form::Skip {
                    address: self.address(address),
                };
                if !on(Screen::EnteringSecurity) {
                    return (Verdict::Refused(vec![unexpected()]), form);
                }
                // GR-02 … GR-04: the box wins, decided when 次へ is pressed.
                if !self.account.grace_eligible || self.now >= grace_over() {
                    return (Verdict::refused(FlowError::GracePeriodOver), form);
                }
                self.flow = Flow::Out;
                self.route = Some(Where::Menu);
                (Verdict::Ok, form)
            }
            Step::Code(entry) => {
                let form = Form::Code(entry.clone());
                let user = self.user.to_string();
                let spent = self.spent.guesses.full(&user, self.now, GUESSES_PER_HOUR);
                refusals.check(entry.malformed(), value_error());
                if !on(Screen::AwaitingCode) {
                    refusals.check(true, unexpected());
                    refusals.check(!entry.malformed() && spent, FlowError::GuessBudgetExceeded);
                }
                if refusals.any() {
                    return (refusals.verdict(), form);
                }
                let mut code = code.expect("a code is awaited on its screen");
                // SEC-07 first; then a voided code (RS-04, as RI-04 and FL), an expired one
                // (SEC-03), the right one, or a wrong one counted.
                if spent {
                    return (Verdict::refused(FlowError::GuessBudgetExceeded), form);
                }
                if code.wrong >= WRONG_ENTRIES {
                    self.spent.guesses.spend(&user, self.now);
                    return (Verdict::counted(FlowError::CodeExhausted), form);
                }
                if self.now >= code.issued + minutes_30() {
                    return (Verdict::refused(FlowError::CodeExpired), form);
                }
                if entry.is_right(true) {
                    // FL-05, FL-06: registered; the first one is the selected one (SE-03).
                    self.account.emails.push(code.to);
                    self.route = Some(self.stay(grace, Screen::Registered, codes_sent, None));
                    return (Verdict::Ok, form);
                }
                self.spent.guesses.spend(&user, self.now);
                code.wrong += 1;
                let remaining = WRONG_ENTRIES - code.wrong;
                self.flow = Flow::In {
                    grace,
                    at,
                    codes_sent,
                    code: Some(code),
                };
                let error = if remaining == 0 {
                    FlowError::CodeExhausted
                } else {
                    FlowError::WrongCode { remaining }
                };
                (Verdict::counted(error), form)
            }
            Step::Back => {
                self.route = Some(match (grace, at) {
                    (false, Screen::EnteringSecurity) if self.asks_notice => {
                        self.stay(false, Screen::ChoosingNotice, codes_sent, None)
                    }
                    (false, Screen::EnteringSecurity) => {
                        self.flow = Flow::Out;
                        Where::Login
                    }
                    (_, Screen::AwaitingCode) => {
                        self.stay(grace, Screen::EnteringSecurity, codes_sent, None)
                    }
                    (true, Screen::EnteringSecurity) => {
                        self.flow = Flow::Out;
                        Where::Login
                    }
                    _ => return (Verdict::Refused(vec![unexpected()]), Form::Back),
                });
                (Verdict::Ok, Form::Back)
            }
            Step::Logout => {
                if !(grace && on(Screen::EnteringSecurity)) {
                    return (Verdict::Refused(vec![unexpected()]), Form::Logout);
                }
                self.flow = Flow::Out;
                self.route = Some(Where::Login);
                (Verdict::Ok, Form::Logout)
            }
            Step::Advance(_) | Step::Login(_) | Step::SecurityCode { .. } => {
                unreachable!("not a form")
            }
        }
    }

    /// Instants worth moving the clock to: code and lock ends, budget ends, the grace end.
    fn marks(&self) -> Vec<Instant> {
        let mut marks = vec![grace_over(), utc("2026-02-01T00:00:00Z")];
        marks.extend(self.account.locked_until);
        match &self.flow {
            Flow::SecurityCode { expires } => marks.push(*expires),
            Flow::In {
                code: Some(code), ..
            } => marks.push(code.issued + minutes_30()),
            _ => {}
        }
        marks.extend(self.spent.marks([]));
        marks
    }
}

/// CAL-02, GR-03: instants just before the grace period ends, so that a login, a code and a
/// skip straddle 2026-02-01T00:00+09:00 (and its 30-minute edges).
fn near_grace_end() -> BoxedStrategy<Instant> {
    let before = [31 * 60_000, 30 * 60_000, 60_000, 1_000, 1, 0];
    proptest::sample::select(before.to_vec())
        .prop_map(|ms| grace_over() - TimeDelta::milliseconds(ms))
        .boxed()
}

impl super::Spec for Model {
    super::clocked!();

    fn init() -> BoxedStrategy<Model> {
        (
            (any::<u64>(), Mood::any()),
            prop_oneof![
                Just(Office::New),
                Just(Office::Existing),
                Just(Office::Registered)
            ],
            strategies::user_id(),
            prop_oneof![1 => start_instant(), 1 => near_grace_end()],
            address_pool(),
            strategies::valid_password_text(Default::default()),
            proptest::bool::weighted(0.3),
        )
            .prop_map(
                |((seed, mood), office, user, now, pool, password, security_code)| {
                    let existing = office != Office::New;
                    Model {
                        seed,
                        mood,
                        office,
                        user,
                        now,
                        account: Account {
                            password,
                            temporary: !existing,
                            security_code,
                            failures: 0,
                            locked_until: None,
                            terms: existing,
                            notice_asked: false,
                            first_login_done: existing,
                            grace_eligible: existing,
                            emails: if office == Office::Registered {
                                vec![pool[1].clone()]
                            } else {
                                Vec::new()
                            },
                        },
                        pool,
                        asks_notice: false,
                        flow: Flow::Out,
                        spent: Spent::default(),
                        request: Request::Clock,
                        verdict: Verdict::Ok,
                        route: None,
                        mailed: false,
                    }
                },
            )
            .boxed()
    }

    fn steps(&self) -> BoxedStrategy<Step> {
        let user = self.user;
        let pool = self.pool.len();
        let password = || {
            prop_oneof![
                4 => Just(Pw::Current),
                1 => typed_password(user).prop_map(Pw::Typed),
            ]
        };
        let addr = move || Addr::any(pool, 8);
        let always = prop_oneof![
            1 => super::advance(self.now, &self.marks()).prop_map(Step::Advance),
            2 => password().prop_map(Step::Login),
        ];
        match &self.flow {
            Flow::Out => always.boxed(),
            Flow::SecurityCode { .. } => prop_oneof![
                1 => always,
                3 => proptest::bool::weighted(0.7).prop_map(|right| Step::SecurityCode { right }),
            ]
            .boxed(),
            Flow::In { grace, at, .. } => {
                let usual: BoxedStrategy<Step> = match at {
                    Screen::Terms => Just(Step::AcceptTerms).boxed(),
                    Screen::Warning => Just(Step::StartPasswordChange).boxed(),
                    Screen::ChoosingPassword => (
                        prop_oneof![6 => Just(Pw::Current), 1 => password()],
                        prop_oneof![
                            8 => typed_password(user).prop_map(Pw::Typed),
                            1 => Just(Pw::Current),
                        ],
                        proptest::bool::weighted(0.9),
                    )
                        .prop_map(|(current, new, confirm_same)| Step::ChangePassword {
                            current,
                            new,
                            confirm_same,
                        })
                        .boxed(),
                    Screen::ChoosingNotice => {
                        proptest::option::of(0..pool).prop_map(Step::Notice).boxed()
                    }
                    Screen::EnteringSecurity => (addr(), proptest::bool::weighted(0.9), addr())
                        .prop_map(|(address, same, other)| Step::SecurityEmail {
                            confirm: if same { address.clone() } else { other },
                            address,
                        })
                        .boxed(),
                    Screen::AwaitingCode => {
                        typed(4, self.mood.right()).prop_map(Step::Code).boxed()
                    }
                    Screen::PasswordChanged | Screen::NoticeDone | Screen::Registered => {
                        Just(Step::Finish).boxed()
                    }
                };
                let mut any_form = vec![
                    Just(Step::Finish).boxed(),
                    Just(Step::Back).boxed(),
                    typed(4, self.mood.right()).prop_map(Step::Code).boxed(),
                    (addr(), addr())
                        .prop_map(|(address, confirm)| Step::SecurityEmail { address, confirm })
                        .boxed(),
                ];
                if *grace {
                    any_form.push(addr().prop_map(|address| Step::Skip { address }).boxed());
                    any_form.push(Just(Step::Logout).boxed());
                } else {
                    any_form.push(Just(Step::AcceptTerms).boxed());
                    any_form.push(Just(Step::StartPasswordChange).boxed());
                    any_form.push(proptest::option::of(0..pool).prop_map(Step::Notice).boxed());
                }
                let skip = if *grace && *at == Screen::EnteringSecurity {
                    addr().prop_map(|address| Step::Skip { address }).boxed()
                } else {
                    Just(Step::Back).boxed()
                };
                // Back on the code screen asks for another code (SEC-04).
                prop_oneof![
                    2 => always,
                    8 => usual,
                    self.mood.mailing(2) => skip,
                    2 => proptest::strategy::Union::new(any_form),
                ]
                .boxed()
            }
        }
    }

    fn allows(&self, step: &Step) -> bool {
        // A form belongs to the flow the browser is in.
        matches!(
            (step, &self.flow),
            (Step::Advance(_) | Step::Login(_), _)
                | (Step::SecurityCode { .. }, Flow::SecurityCode { .. })
                | (
                    Step::AcceptTerms
                        | Step::StartPasswordChange
                        | Step::ChangePassword { .. }
                        | Step::Notice(_),
                    Flow::In { grace: false, .. },
                )
                | (
                    Step::Skip { .. } | Step::Logout,
                    Flow::In { grace: true, .. }
                )
                | (
                    Step::Finish | Step::Back | Step::Code(_) | Step::SecurityEmail { .. },
                    Flow::In { .. },
                )
        )
    }

    /// Applies `step`: the request typed, SPEC's verdict, where it leads, and the new state.
    fn take(&mut self, step: &Step) {
        self.mailed = false;
        self.route = None;
        (self.verdict, self.request) = match step {
            Step::Login(pw) => {
                let typed = self.password(pw);
                (self.login(&typed), Request::Login(typed))
            }
            Step::SecurityCode { right } => {
                let typed = if *right { SECURITY_CODE } else { "Sc-0000x" };
                (
                    self.security_code(*right),
                    Request::SecurityCode(typed.into()),
                )
            }
            Step::Advance(_) => unreachable!("the runner moves the clock"),
            _ => {
                let Flow::In { grace, .. } = self.flow else {
                    unreachable!("preconditions: a form needs a flow");
                };
                let (verdict, form) = self.form(step);
                let request = if grace {
                    Request::Grace(form)
                } else {
                    Request::First(form)
                };
                (verdict, request)
            }
        };
    }
}

// ---------------------------------------------------------------------------------------------
// The real flows.

impl super::Real<Model> for Gate {
    fn init(mut world: World, model: &Model) -> Gate {
        let hash = world.hash(&model.account.password);
        let mut account = match model.office {
            Office::New => login::new_office(model.user, hash),
            Office::Existing | Office::Registered => {
                let at = utc("2020-04-01T09:00:00+09:00");
                login::existing_office(model.user, hash, TermsAcceptance { version: 1, at })
            }
        };
        if model.account.security_code {
            account.security_code = Some(world.hash(SECURITY_CODE));
        }
        let emails = model.account.emails.iter();
        world.create(account, emails.map(|e| (e.as_str(), model.now)));
        Gate {
            world,
            user: model.user,
            flow: None,
            codes: Vec::new(),
        }
    }

    /// The account and the flow's screen, drawn again now, are the model's.
    fn check(&self, model: &Model) {
        let a = &model.account;
        let flags = (a.security_code, a.temporary);
        let real = self
            .world
            .account_as(&self.user, &a.password, flags, "LOGIN, FL, GR");
        assert_eq!(real.failures, a.failures, "LOGIN-02: the count");
        assert_eq!(real.locked_until, a.locked_until, "LOGIN-02: the lock");
        assert_eq!(real.terms.is_some(), a.terms, "FL-08: the terms");
        assert_eq!(
            real.notice_email != NoticeEmail::NotAsked,
            a.notice_asked,
            "FL-03"
        );
        assert_eq!(real.first_login_done, a.first_login_done, "FL-07");
        let emails: Vec<String> = real
            .security_emails
            .entries()
            .iter()
            .map(|e| e.address.as_str().to_ascii_lowercase())
            .collect();
        let expected: Vec<String> = a.emails.iter().map(|e| e.to_ascii_lowercase()).collect();
        assert_eq!(emails, expected, "FL-05, FL-06: the security emails");
        if let Some(first) = expected.first() {
            let selected = real.security_emails.selected().unwrap().as_str();
            assert!(
                same_address(selected, first),
                "FL-06: the registered one selected"
            );
        }
        let (Some(id), Flow::In { grace, at, .. }) = (&self.flow, &model.flow) else {
            return;
        };
        let screen = if *grace {
            self.world.portal.grace_screen(id).unwrap()
        } else {
            self.world.portal.first_login_screen(id).unwrap()
        };
        assert_eq!(screen.title, at.title(), "the flow's screen");
        if *grace && *at == Screen::EnteringSecurity {
            assert_eq!(screen.shows(SKIP_LABEL), model.now < grace_over(), "GR-03");
        }
        self.world
            .assert_no_secret(&format!("{screen:?}"), "a redrawn screen", None);
    }

    fn apply(&mut self, model: &Model, _: Step) {
        let user = self.user.to_string();
        let id = self.flow.clone();
        let codes = self.codes.clone();
        let seen = match &model.request {
            Request::Login(password) => {
                self.world.typed_password(password, &self.user);
                self.world.call(&model.verdict, None, |portal, rng| {
                    portal.login(&user, password, rng)
                })
            }
            Request::SecurityCode(code) => {
                let id = id.expect("a login flow");
                self.world.call(&model.verdict, None, |portal, rng| {
                    portal.login_security_code(&id, code, rng)
                })
            }
            Request::First(form) | Request::Grace(form) => {
                if let Form::ChangePassword { current, new, .. } = form {
                    self.world.typed_password(current, &self.user);
                    self.world.typed_password(new, &self.user);
                }
                let id = id.expect("a flow");
                let grace = matches!(model.request, Request::Grace(_));
                let entered = match form {
                    Form::Code(t) => resolve(t, 4, &codes),
                    _ => String::new(),
                };
                self.world.call(&model.verdict, Some(&user), |portal, rng| {
                    if grace {
                        portal.grace_input(&id, grace_form(form, &entered), rng)
                    } else {
                        portal.first_login_input(&id, first_form(form, &entered), rng)
                    }
                })
            }
            Request::Clock => unreachable!("the runner moves the clock"),
        };
        // The codes the step mailed, and where the browser goes.
        let mailed: Vec<String> = seen.mails.iter().filter_map(super::code_in).collect();
        assert_eq!(
            !mailed.is_empty(),
            model.mailed,
            "FL-05: a code mailed iff the model says"
        );
        assert_eq!(
            seen.mails.len(),
            mailed.len(),
            "the self mails codes only: {:?}",
            seen.mails
        );
        if let Ok(route) = &seen.result {
            let expected = model.route.as_ref().expect("a route for an accepted step");
            self.compare(route, expected, model);
            let new_flow = route.flow_id().cloned();
            if new_flow != self.flow {
                self.codes.clear();
            }
            self.flow = new_flow;
        }
        self.codes.extend(mailed);
    }
}

fn first_form<'a>(form: &'a Form, code: &'a str) -> FirstForm<'a> {
    match form {
        Form::AcceptTerms => FirstForm::AcceptTerms,
        Form::StartPasswordChange => FirstForm::StartPasswordChange,
        Form::ChangePassword {
            current,
            new,
            confirm,
        } => FirstForm::ChangePassword {
            current,
            new,
            confirm,
        },
        Form::Finish => FirstForm::Finish,
        Form::SetNotice(address) => FirstForm::SetNoticeEmail {
            address,
            confirm: address,
        },
        Form::DeclineNotice => FirstForm::DeclineNoticeEmail,
        Form::SetSecurityEmail { address, confirm } => {
            FirstForm::SetSecurityEmail { address, confirm }
        }
        Form::Code(_) => FirstForm::EnterCode(code),
        Form::Back => FirstForm::Back,
        Form::Skip { .. } | Form::Logout => unreachable!("not a first-login form"),
    }
}

fn grace_form<'a>(form: &'a Form, code: &'a str) -> GraceForm<'a> {
    match form {
        Form::SetSecurityEmail { address, confirm } => GraceForm::Next {
            skip: false,
            address,
            confirm,
        },
        // GR-04: whatever is typed, the box wins.
        Form::Skip { address } => GraceForm::Next {
            skip: true,
            address,
            confirm: "",
        },
        Form::Code(_) => GraceForm::EnterCode(code),
        Form::Back => GraceForm::Back,
        Form::Logout => GraceForm::Logout,
        Form::Finish => GraceForm::Finish,
        _ => unreachable!("not a grace form"),
    }
}

struct Gate {
    world: World,
    user: UserId,
    /// The flow the browser is in, and the codes mailed in it, oldest first.
    flow: Option<FlowId>,
    codes: Vec<String>,
}

impl Gate {
    /// The route is the one the model names: the flow, its screen, the skip option (GR-02,
    /// GR-03); the menu only with what LOGIN-03 requires.
    fn compare(&self, route: &Route, expected: &Where, model: &Model) {
        let title = route.screen().map(|s| s.title.as_str());
        match (route, expected) {
            (Route::Screen(_), Where::Login)
            | (
                Route::Flow {
                    flow:
                        FlowRef {
                            kind: FlowKind::Login,
                            ..
                        },
                    ..
                },
                Where::SecurityCode,
            ) => {}
            (
                Route::Flow {
                    flow:
                        FlowRef {
                            kind: FlowKind::FirstLogin,
                            ..
                        },
                    ..
                },
                Where::First(at),
            ) => assert_eq!(title, Some(at.title())),
            (
                Route::Flow {
                    flow:
                        FlowRef {
                            kind: FlowKind::Grace,
                            ..
                        },
                    screen,
                },
                Where::Grace { at, skip_offered },
            ) => {
                assert_eq!(title, Some(at.title()));
                if *at == Screen::EnteringSecurity {
                    assert!(screen.shows(MANDATORY_TEXT), "GR-01");
                    assert_eq!(screen.shows(SKIP_LABEL), *skip_offered, "GR-02, GR-03");
                }
            }
            (Route::Menu { user }, Where::Menu) => {
                assert_eq!(*user, self.user);
                // LOGIN-03: no temporary password, the terms accepted, and a security email, or
                // an existing office within the grace period.
                let account = self.world.portal.account(&self.user).unwrap().unwrap();
                assert!(account.temporary.is_none() && account.terms.is_some());
                assert!(
                    !account.security_emails.is_empty()
                        || (account.grace_eligible && model.now < grace_over()),
                    "LOGIN-03: the menu without a security email after the grace period"
                );
            }
            (route, expected) => panic!("went to {route:?}; the model expects {expected:?}"),
        }
    }
}

/// Runs the model over `harness`, `cases` cases (`PROPTEST_CASES` overrides it) of
/// sequences of 1 to 59 steps; panics with the minimal failing case.
pub fn run(harness: &dyn Harness, cases: u32) {
    super::run_model::<Model, Gate>(harness, cases, 1..60);
}

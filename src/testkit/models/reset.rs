//! Model-based test of the login-info reset by the office itself (RS-01 … RS-08, LOST-01's first
//! choice) against a reference model written from SPEC.md: an office with user IDs in zero to
//! three billing prefectures, resets started with registered, unregistered and malformed
//! addresses, for the office and for unknown ones, OTPs right, wrong, stale and malformed,
//! resends, new passwords and `戻る`, under clock moves across the 30-minute edges and the
//! hourly budgets.

use super::allows_flows;
use super::{
    CODES_PER_FLOW, CodeEntry, GUESSES_PER_HOUR, Harness, MAILS_PER_HOUR, Mood, PrefField,
    RealFlow, Refusals, Seen, Spent, Typed, Typing, Verdict, WRONG_ENTRIES, World, address_pool,
    bad_address, minutes_30, password_error, pick, resolve, same_address, start_instant, typed,
    val_06, value_error,
};
use super::{ended, fields, on};
use crate::account::{Account, Temporary};
use crate::calendar::Instant;
use crate::error::{FlowError, PortalError};
use crate::screen::Screen;
use crate::strategies;
use crate::values::{EmailAddress, OfficeNumber, Prefecture, UserId};
use chrono::TimeDelta;
use proptest::prelude::*;

/// One user ID of the office (VAL-03), as SPEC describes its account.
#[derive(Debug, Clone)]
struct Acct {
    billing: Prefecture,
    emails: Vec<String>,
    password: String,
    security_code: bool,
    temporary: bool,
    failures: u8,
    locked_until: Option<Instant>,
}

/// An OTP (RS-03, RS-04).
#[derive(Debug, Clone)]
struct Otp {
    issued: Instant,
    wrong: u8,
}

/// Where a reset is.
#[derive(Debug, Clone)]
enum At {
    /// 【請求先都道府県選択】 (RS-02).
    Choosing {
        address: String,
        choices: Vec<Prefecture>,
    },
    /// 【ワンタイムパスワード入力】: `mailed` when the address was a registered security email of
    /// the user ID (RS-03); `sent` OTPs so far (SEC-04).
    Otp {
        user: UserId,
        address: String,
        mailed: bool,
        otp: Otp,
        sent: u8,
    },
    /// 【ログイン情報再設定】 (RS-05, RS-07).
    Password { user: UserId, verified: Instant },
    /// Five wrong OTPs (RS-04): start again.
    Voided,
    /// 【処理終了】 (RS-06).
    Done,
    /// Ended by `戻る`.
    Gone,
}

ended!(At {
    Gone => PortalError::NoSuchFlow,
    Voided => FlowError::CodeExhausted,
    Done => FlowError::FlowFinished,
});

/// The office number field.
#[derive(Debug, Clone)]
enum OfficeField {
    Own,
    Other(OfficeNumber),
    Bad(String),
}

#[derive(Debug, Clone)]
enum Step {
    Advance(TimeDelta),
    Start {
        office: OfficeField,
        address: Result<usize, String>,
    },
    Choose {
        flow: usize,
        pref: PrefField,
    },
    Otp {
        flow: usize,
        typed: Typed,
    },
    Resend {
        flow: usize,
    },
    Password {
        flow: usize,
        new: Typing,
    },
    Back {
        flow: usize,
    },
}

/// The step as typed.
#[derive(Debug, Clone)]
enum Request {
    /// A clock move: the runner moves the real clock.
    Clock,
    Start {
        office: String,
        address: String,
    },
    /// A flow, the prefecture typed.
    Choose(usize, String),
    /// An OTP; SEC-07: wrong ones count against the user ID and the entered address.
    Otp(CodeEntry),
    Resend {
        flow: usize,
    },
    Password {
        flow: usize,
        new: String,
        confirm: String,
        user: Option<UserId>,
    },
    Back {
        flow: usize,
    },
}

#[derive(Debug, Clone)]
struct Model {
    seed: u64,
    mood: Mood,
    office: OfficeNumber,
    now: Instant,
    pool: Vec<String>,
    accounts: Vec<Acct>,
    flows: Vec<At>,
    spent: Spent,
    /// The last step: typed, SPEC's verdict, the screen title, where an OTP was mailed, and the
    /// user ID a finished reset revoked the sessions of (RS-08).
    request: Request,
    verdict: Verdict,
    title: Option<&'static str>,
    mailed_to: Option<String>,
    reset: Option<(UserId, bool)>,
}

const OTP_TITLE: &str = "ワンタイムパスワード入力";

impl Model {
    fn account(&self, user: &UserId) -> Option<&Acct> {
        self.accounts
            .iter()
            .find(|a| UserId::new(a.billing, self.office) == *user)
    }

    /// RS-03: an OTP for `user` at `address`, mailed only if the address is one of the user ID's
    /// registered security emails; the address's mail budget is spent either way (SEC-04).
    fn draw(&mut self, user: UserId, address: String, sent: u8) -> At {
        let mailed = self
            .account(&user)
            .is_some_and(|a| a.emails.iter().any(|e| same_address(e, &address)));
        self.spent.mails.spend(&address, self.now);
        if mailed {
            self.mailed_to = Some(address.clone());
        }
        self.title = Some(OTP_TITLE);
        At::Otp {
            user,
            address,
            mailed,
            otp: Otp {
                issued: self.now,
                wrong: 0,
            },
            sent,
        }
    }

    /// RS-01 … RS-03.
    fn start(&mut self, office: &str, address: &str) -> Verdict {
        let (Ok(office), Ok(_)) = (
            office.parse::<OfficeNumber>(),
            address.parse::<EmailAddress>(),
        ) else {
            return Verdict::Refused(vec![value_error()]);
        };
        let mut held: Vec<Prefecture> = if office == self.office {
            self.accounts.iter().map(|a| a.billing).collect()
        } else {
            Vec::new()
        };
        held.sort();
        if held.len() >= 2 {
            // RS-02: the choice first; nothing drawn yet.
            self.title = Some("請求先都道府県選択");
            self.flows.push(At::Choosing {
                address: address.to_owned(),
                choices: held,
            });
            return Verdict::Ok;
        }
        if self.spent.mails.full(address, self.now, MAILS_PER_HOUR) {
            return Verdict::refused(FlowError::MailBudgetExceeded);
        }
        // RS-03: an unknown office behaves as an office whose address did not match.
        let billing = held.first().copied().unwrap_or(office.prefecture());
        let at = self.draw(UserId::new(billing, office), address.to_owned(), 1);
        self.flows.push(at);
        Verdict::Ok
    }

    /// RS-02 `次へ`.
    fn choose(&mut self, flow: usize, typed: &str) -> Verdict {
        let Ok(billing) = typed.parse::<Prefecture>() else {
            return Verdict::Refused(vec![value_error()]);
        };
        let (address, choices) = on!(self.flows[flow], At::Choosing => address, choices);
        let mut refusals = Refusals::default();
        refusals.check(!choices.contains(&billing), FlowError::PrefectureNotOffered);
        refusals.check(
            self.spent.mails.full(&address, self.now, MAILS_PER_HOUR),
            FlowError::MailBudgetExceeded,
        );
        if refusals.any() {
            return refusals.verdict();
        }
        self.flows[flow] = self.draw(UserId::new(billing, self.office), address, 1);
        Verdict::Ok
    }

    /// RS-04: the newest OTP, right and in time, if it was mailed; five wrong void it.
    /// SEC-07: RS keeps the guessing budget per user ID and entered address (whether or not the
    /// address matched), so wrong-address resets cannot use up the real office's budget.
    fn guess_budget(user: UserId, address: &str) -> String {
        format!("{user}/{}", address.to_ascii_lowercase())
    }

    fn otp(&mut self, flow: usize, typed: &Typed) -> Verdict {
        if typed.malformed() {
            return Verdict::Refused(vec![value_error()]);
        }
        let (user, address, mailed, mut otp, sent) =
            on!(self.flows[flow], At::Otp => user, address, mailed, otp, sent);
        let key = Self::guess_budget(user, &address);
        if self.spent.guesses.full(&key, self.now, GUESSES_PER_HOUR) {
            return Verdict::refused(FlowError::GuessBudgetExceeded);
        }
        if self.now >= otp.issued + minutes_30() {
            return Verdict::refused(FlowError::CodeExpired);
        }
        if typed.is_right(mailed) {
            self.flows[flow] = At::Password {
                user,
                verified: self.now,
            };
            self.title = Some("ログイン情報再設定");
            return Verdict::Ok;
        }
        self.spent.guesses.spend(&key, self.now);
        otp.wrong += 1;
        let remaining = WRONG_ENTRIES - otp.wrong;
        if remaining == 0 {
            self.flows[flow] = At::Voided;
            return Verdict::counted(FlowError::CodeExhausted);
        }
        self.flows[flow] = At::Otp {
            user,
            address,
            mailed,
            otp,
            sent,
        };
        Verdict::counted(FlowError::WrongCode { remaining })
    }

    /// RS-04, SEC-04: a newer OTP, the older one no longer valid; five per flow.
    fn resend(&mut self, flow: usize) -> Verdict {
        let (user, address, sent) = on!(self.flows[flow], At::Otp => user, address, sent);
        let mut refusals = Refusals::default();
        refusals.check(sent >= CODES_PER_FLOW, FlowError::TooManyCodes);
        refusals.check(
            self.spent.mails.full(&address, self.now, MAILS_PER_HOUR),
            FlowError::MailBudgetExceeded,
        );
        if refusals.any() {
            return refusals.verdict();
        }
        self.flows[flow] = self.draw(user, address, sent + 1);
        Verdict::Ok
    }

    /// RS-05 … RS-07.
    fn password(&mut self, flow: usize, new: &str, confirm: &str) -> Verdict {
        let (user, verified) = on!(self.flows[flow], At::Password => user, verified);
        let mut refusals = Refusals::default();
        refusals.check(self.now >= verified + minutes_30(), FlowError::FlowExpired);
        if let Some(clause) = val_06(new, &user) {
            refusals.check(true, password_error(clause));
        }
        refusals.check(new != confirm, FlowError::ConfirmationMismatch);
        if refusals.any() {
            return refusals.verdict();
        }
        let office = self.office;
        let account = self
            .accounts
            .iter_mut()
            .find(|a| UserId::new(a.billing, office) == user)
            .expect("an OTP was mailed to it");
        // RS-06: the password replaced; the security code, the lock and a temporary password
        // cleared.
        self.reset = Some((user, account.security_code));
        account.password = new.to_owned();
        account.security_code = false;
        account.temporary = false;
        account.failures = 0;
        account.locked_until = None;
        self.flows[flow] = At::Done;
        self.title = Some("処理終了");
        Verdict::Ok
    }

    fn marks(&self) -> Vec<Instant> {
        let starts = self.flows.iter().filter_map(|at| match at {
            At::Otp { otp, .. } => Some(otp.issued),
            At::Password { verified, .. } => Some(*verified),
            _ => None,
        });
        self.spent.marks(starts)
    }
}

impl super::Spec for Model {
    super::clocked!();

    fn init() -> BoxedStrategy<Model> {
        let account = (
            proptest::sample::subsequence((0..6).collect::<Vec<usize>>(), 0..=3),
            strategies::valid_password_text(Default::default()),
            any::<bool>(),
            any::<bool>(),
            0..3u8,
        );
        (
            (any::<u64>(), Mood::any()),
            strategies::office_number(),
            start_instant(),
            address_pool(),
            proptest::collection::btree_set(strategies::prefecture(), 0..=3),
            proptest::collection::vec(account, 3),
        )
            .prop_map(|((seed, mood), office, now, pool, billing, accounts)| {
                let accounts = billing
                    .into_iter()
                    .zip(accounts)
                    .map(
                        |(billing, (emails, password, security_code, temporary, failures))| Acct {
                            billing,
                            emails: emails.iter().map(|i| pool[*i].clone()).collect(),
                            password,
                            security_code,
                            temporary,
                            failures,
                            locked_until: (failures == 2).then(|| now + TimeDelta::minutes(10)),
                        },
                    )
                    .collect();
                Model {
                    seed,
                    mood,
                    office,
                    now,
                    pool,
                    accounts,
                    flows: Vec::new(),
                    spent: Spent::default(),
                    request: Request::Clock,
                    verdict: Verdict::Ok,
                    title: None,
                    mailed_to: None,
                    reset: None,
                }
            })
            .boxed()
    }

    fn steps(&self) -> BoxedStrategy<Step> {
        let pool = self.pool.len();
        let office = prop_oneof![
            8 => Just(OfficeField::Own),
            1 => strategies::office_number().prop_map(OfficeField::Other),
            1 => strategies::invalid_office_number().prop_map(OfficeField::Bad),
        ];
        let address = prop_oneof![
            10 => (0..pool).prop_map(Ok),
            1 => bad_address().prop_map(Err),
        ];
        let mut steps = vec![
            (
                1,
                super::advance(self.now, &self.marks())
                    .prop_map(Step::Advance)
                    .boxed(),
            ),
            (
                self.mood.mailing(2),
                (office, address)
                    .prop_map(|(office, address)| Step::Start { office, address })
                    .boxed(),
            ),
        ];
        let n = self.flows.len();
        if n > 0 {
            let at = |want: fn(&At) -> bool| -> Vec<usize> {
                (0..n).filter(|i| want(&self.flows[*i])).collect()
            };
            let choosing = at(|a| matches!(a, At::Choosing { .. }));
            let otp = at(|a| matches!(a, At::Otp { .. }));
            let password = at(|a| matches!(a, At::Password { .. }));
            let user = match password.first().map(|i| &self.flows[*i]) {
                Some(At::Password { user, .. }) => *user,
                _ => UserId::new(self.office.prefecture(), self.office),
            };
            let pref = PrefField::any(&["48", "００", "x"]);
            steps.extend([
                (
                    if choosing.is_empty() { 1 } else { 6 },
                    (pick(choosing, n), pref)
                        .prop_map(|(flow, pref)| Step::Choose { flow, pref })
                        .boxed(),
                ),
                (
                    if otp.is_empty() { 1 } else { 8 },
                    (pick(otp.clone(), n), typed(6, self.mood.right()))
                        .prop_map(|(flow, typed)| Step::Otp { flow, typed })
                        .boxed(),
                ),
                (
                    self.mood.mailing(1),
                    pick(otp, n).prop_map(|flow| Step::Resend { flow }).boxed(),
                ),
                (
                    if password.is_empty() { 1 } else { 6 },
                    (pick(password, n), Typing::any(user))
                        .prop_map(|(flow, new)| Step::Password { flow, new })
                        .boxed(),
                ),
                (1, (0..n).prop_map(|flow| Step::Back { flow }).boxed()),
            ]);
        }
        proptest::strategy::Union::new_weighted(steps).boxed()
    }

    allows_flows!(Choose, Otp, Resend, Password, Back);

    fn take(&mut self, step: &Step) {
        self.title = None;
        self.mailed_to = None;
        self.reset = None;
        (self.verdict, self.request) = match step {
            Step::Start { office, address } => {
                let office = match office {
                    OfficeField::Own => self.office.to_string(),
                    OfficeField::Other(o) => o.to_string(),
                    OfficeField::Bad(text) => text.clone(),
                };
                let address = match address {
                    Ok(i) => self.pool[*i].clone(),
                    Err(text) => text.clone(),
                };
                (
                    self.start(&office, &address),
                    Request::Start { office, address },
                )
            }
            Step::Choose { flow, pref } => {
                let typed = pref.typed(fields!(&self.flows[*flow], At::Choosing => choices));
                (self.choose(*flow, &typed), Request::Choose(*flow, typed))
            }
            Step::Otp { flow, typed } => {
                let at = fields!(&self.flows[*flow], At::Otp => user, address);
                let key = at.map(|(user, address)| Self::guess_budget(*user, address));
                (
                    self.otp(*flow, typed),
                    Request::Otp(CodeEntry::new(*flow, typed, key)),
                )
            }
            Step::Resend { flow } => (self.resend(*flow), Request::Resend { flow: *flow }),
            Step::Password { flow, new } => {
                let confirm = new.confirmation();
                let new = &new.text;
                let user = match &self.flows[*flow] {
                    At::Password { user, .. } => Some(*user),
                    _ => None,
                };
                (
                    self.password(*flow, new, &confirm),
                    Request::Password {
                        flow: *flow,
                        new: new.clone(),
                        confirm,
                        user,
                    },
                )
            }
            Step::Back { flow } => {
                // 戻る on any reset screen: the flow ends, back to RS-01.
                let verdict = if matches!(self.flows[*flow], At::Gone) {
                    Verdict::refused(PortalError::NoSuchFlow)
                } else {
                    self.flows[*flow] = At::Gone;
                    self.title = Some("ログイン情報再設定認証");
                    Verdict::Ok
                };
                (verdict, Request::Back { flow: *flow })
            }
            Step::Advance(_) => unreachable!("the runner moves the clock"),
        };
    }
}

impl super::Real<Model> for Office {
    fn init(mut world: World, model: &Model) -> Office {
        for a in &model.accounts {
            let user = UserId::new(a.billing, model.office);
            let mut account = Account::new(user, world.hash(&a.password));
            if a.security_code {
                account.security_code = Some(world.hash("Sc-7351x"));
            }
            if a.temporary {
                account.temporary = Some(Temporary { expires_at: None });
            }
            account.failures = a.failures;
            account.locked_until = a.locked_until;
            world.create(account, a.emails.iter().map(|e| (e.as_str(), model.now)));
        }
        Office {
            world,
            flows: Vec::new(),
        }
    }

    /// RS-06, RS-08: every account of the office is the model's (a reset changes nothing until
    /// it finishes); every flow's screen, drawn again, is its state's.
    fn check(&self, model: &Model) {
        for a in &model.accounts {
            let user = UserId::new(a.billing, model.office);
            let flags = (a.security_code, a.temporary);
            let real = self.world.account_as(&user, &a.password, flags, "RS-06");
            assert_eq!(real.failures, a.failures, "RS-08: the failure count");
            assert_eq!(real.locked_until, a.locked_until, "RS-06, RS-08: the lock");
            assert_eq!(real.security_emails.len(), a.emails.len());
        }
        for (f, at) in self.flows.iter().zip(&model.flows) {
            let screen = self.world.portal.reset_screen(&f.id);
            let expected = match at {
                At::Choosing { .. } => "請求先都道府県選択",
                At::Otp { .. } => OTP_TITLE,
                At::Password { .. } => "ログイン情報再設定",
                At::Voided => "ログイン情報再設定認証",
                At::Done => "処理終了",
                At::Gone => {
                    assert_eq!(screen, Err(PortalError::NoSuchFlow), "戻る ends the flow");
                    continue;
                }
            };
            assert_eq!(screen.unwrap().title, expected, "the flow's screen");
        }
    }

    fn apply(&mut self, model: &Model, _: Step) {
        let verdict = &model.verdict;
        let world = &mut self.world;
        let (seen, flow): (Seen<Screen>, Option<usize>) = match &model.request {
            Request::Start {
                office: number,
                address,
            } => {
                let seen = world.call(verdict, None, |portal, rng| {
                    portal.reset_start(number, address, rng)
                });
                if let Ok((id, _)) = &seen.result {
                    self.flows.push(RealFlow::new(id));
                }
                (seen.map(|(_, s)| s), self.flows.len().checked_sub(1))
            }
            Request::Choose(flow, pref) => {
                let id = &self.flows[*flow].id;
                let seen = world.call(verdict, None, |portal, rng| {
                    portal.reset_choose_prefecture(id, pref, rng)
                });
                (seen, Some(*flow))
            }
            Request::Otp(CodeEntry { flow, typed, key }) => {
                let f = &self.flows[*flow];
                let entered = resolve(typed, 6, &f.otps);
                let seen = world.call(verdict, key.as_deref(), |portal, rng| {
                    portal.reset_enter_otp(&f.id, &entered, rng)
                });
                (seen, Some(*flow))
            }
            Request::Resend { flow } => {
                let id = &self.flows[*flow].id;
                let seen = world.call(verdict, None, |portal, rng| portal.reset_resend(id, rng));
                (seen, Some(*flow))
            }
            Request::Password {
                flow,
                new,
                confirm,
                user,
            } => {
                if let Some(user) = user {
                    world.typed_password(new, user);
                }
                let id = &self.flows[*flow].id;
                let seen = world.call(verdict, None, |portal, rng| {
                    portal.reset_choose_password(id, new, confirm, rng)
                });
                (seen, Some(*flow))
            }
            Request::Back { flow } => {
                let id = &self.flows[*flow].id;
                (
                    world.call(verdict, None, |portal, rng| portal.reset_back(id, rng)),
                    Some(*flow),
                )
            }
            Request::Clock => unreachable!("the runner moves the clock"),
        };
        self.after(seen, model, flow);
    }
}

struct Office {
    world: World,
    flows: Vec<RealFlow>,
}

impl Office {
    /// The screen, the OTP mail (RS-03: only to a matching address), and a finished reset's
    /// お知らせ and session revocation (RS-08) are the model's.
    fn after(&mut self, seen: Seen<Screen>, model: &Model, flow: Option<usize>) {
        if let Ok(screen) = &seen.result {
            assert_eq!(Some(screen.title.as_str()), model.title, "the screen");
            if let Some((_, had_code)) = model.reset {
                assert_eq!(
                    screen.shows("セキュリティコードを設定していたため"),
                    had_code,
                    "RS-06: the done screen says the security code was cleared"
                );
            }
        }
        match &model.mailed_to {
            Some(to) => {
                assert_eq!(seen.mails.len(), 1, "RS-03: one OTP mailed");
                assert!(same_address(seen.mails[0].to.as_str(), to));
                let otp = super::code_in(&seen.mails[0]).expect("a T2 mail");
                self.flows[flow.expect("a flow mails")].otps.push(otp);
            }
            None => assert!(
                seen.mails.is_empty(),
                "RS-03: nothing mailed: {:?}",
                seen.mails
            ),
        }
        match model.reset {
            Some((user, _)) => {
                assert_eq!(seen.revoked, [user], "RS-08: the office's sessions revoked");
                assert_eq!(seen.notices.len(), 1, "RS-08: a お知らせ");
            }
            None => assert!(seen.revoked.is_empty() && seen.notices.is_empty()),
        }
    }
}

/// Runs the model over `harness`, `cases` cases (`PROPTEST_CASES` overrides it) of
/// sequences of 1 to 59 steps; panics with the minimal failing case.
pub fn run(harness: &dyn Harness, cases: u32) {
    super::run_model::<Model, Office>(harness, cases, 1..60);
}

//! Model-based test of the login-info reissue application and its review (RI-01 … RI-10,
//! VAL-08) against a reference model written from SPEC.md: an office of the ledger billing to
//! one to three prefectures, holding user IDs in some of them, applications started with good,
//! unknown and malformed office numbers, proxies and mismatched addresses, confirmation codes,
//! submissions, `戻る`, and reviews by the right and the wrong federation, under clock moves across
//! month ends in JST, the 30-minute edges and the hourly budgets.

use std::collections::BTreeMap;

use super::{
    CodeEntry, GUESSES_PER_HOUR, Harness, MAILS_PER_HOUR, Mood, PrefField, RealFlow, Refusals,
    Spent, Typed, Verdict, WRONG_ENTRIES, World, address_pool, bad_address, minutes_30, pick,
    resolve, same_address, start_instant, typed, val_06, value_error,
};
use super::{ended, fields, on};
use crate::account::{Account, Temporary};
use crate::calendar::{Instant, jst};
use crate::error::{FlowError, PortalError};
use crate::reissue::{
    Applicant, ApplicationForm, ApplicationStatus, Decision, Federation, Input, Reissue,
    ReviewOutcome,
};
use crate::strategies;
use crate::values::{EmailAddress, OfficeNumber, Prefecture, UserId};
use chrono::{Datelike, TimeDelta};
use proptest::prelude::*;
use proptest::sample::Index;

/// A user ID's account, as far as the review touches it (RI-09, RI-10).
#[derive(Debug, Clone)]
struct Acct {
    temporary_until: Option<Instant>,
    security_code: bool,
    failures: u8,
    locked_until: Option<Instant>,
    emails: usize,
    grace_eligible: bool,
}

/// Where an application flow is.
#[derive(Debug, Clone)]
enum At {
    /// 【請求先都道府県選択】 (RI-03), started at `started`.
    Choosing {
        notify: String,
        choices: Vec<Prefecture>,
        started: Instant,
    },
    /// 【確認コード入力】 (RI-04).
    Code {
        notify: String,
        billing: Prefecture,
        issued: Instant,
        wrong: u8,
    },
    /// 【送信確認】 (RI-05), the code verified at `verified`.
    Confirming {
        notify: String,
        billing: Prefecture,
        verified: Instant,
    },
    /// 【処理終了】 (RI-06).
    Done,
    /// Ended by `戻る`.
    Gone,
}

ended!(At {
    Gone => PortalError::NoSuchFlow,
    Done => FlowError::FlowFinished,
});

/// An application submitted (RI-06).
#[derive(Debug, Clone)]
struct App {
    number: String,
    billing: Prefecture,
    notify: String,
    status: Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Approved,
    Rejected,
}

#[derive(Debug, Clone)]
enum OfficeField {
    Own,
    Unknown(OfficeNumber),
    Bad(String),
}

#[derive(Debug, Clone)]
enum Step {
    Advance(TimeDelta),
    Start {
        proxy: bool,
        office: OfficeField,
        notify: Result<usize, String>,
        confirm_same: bool,
    },
    Choose {
        flow: usize,
        pref: PrefField,
    },
    Code {
        flow: usize,
        typed: Typed,
    },
    Submit {
        flow: usize,
    },
    Back {
        flow: usize,
    },
    Review {
        app: Index,
        right_federation: bool,
        approve: Option<bool>,
    },
}

/// The step as typed (the review: the application's number, the federation's prefecture).
#[derive(Debug, Clone)]
enum Request {
    /// A clock move: the runner moves the real clock.
    Clock,
    Start {
        proxy: bool,
        office: String,
        notify: String,
        confirm: String,
    },
    /// A flow, the prefecture typed.
    Choose(usize, String),
    /// A code; SEC-07: wrong ones count against the notification address.
    Code(CodeEntry),
    Submit {
        flow: usize,
    },
    Back {
        flow: usize,
    },
    Review {
        number: String,
        by: Prefecture,
        decision: Decision,
    },
}

#[derive(Debug, Clone)]
struct Model {
    seed: u64,
    mood: Mood,
    office: OfficeNumber,
    ledger_billing: Vec<Prefecture>,
    accounts: BTreeMap<Prefecture, Acct>,
    now: Instant,
    pool: Vec<String>,
    flows: Vec<At>,
    apps: Vec<App>,
    /// VAL-08: the last sequence number of each JST month.
    sequence: BTreeMap<(i32, u32), u32>,
    spent: Spent,
    /// The last step: typed, SPEC's verdict, the screen, mails (to, is a code) and お知らせ.
    request: Request,
    verdict: Verdict,
    title: Option<&'static str>,
    mailed: Vec<(String, bool)>,
    notices: usize,
    /// The number a submission got, or the user ID and expiry a review's letter names.
    number: Option<String>,
    letter: Option<(UserId, Instant)>,
}

impl Model {
    fn pending(&self, billing: Prefecture) -> bool {
        self.apps
            .iter()
            .any(|a| a.billing == billing && a.status == Status::Pending)
    }

    /// RI-04: a 確認コード (T1) to the notification address, unless RI-07 or SEC-04 refuse.
    fn send_code(
        &mut self,
        notify: String,
        billing: Prefecture,
        mut refusals: Refusals,
    ) -> Result<At, Verdict> {
        refusals.check(self.pending(billing), FlowError::ApplicationPending);
        refusals.check(
            self.spent.mails.full(&notify, self.now, MAILS_PER_HOUR),
            FlowError::MailBudgetExceeded,
        );
        if refusals.any() {
            return Err(refusals.verdict());
        }
        self.spent.mails.spend(&notify, self.now);
        self.mailed.push((notify.to_ascii_lowercase(), true));
        self.title = Some("確認コード入力");
        Ok(At::Code {
            notify,
            billing,
            issued: self.now,
            wrong: 0,
        })
    }

    /// RI-01 … RI-04, RI-07.
    fn start(&mut self, proxy: bool, office: &str, notify: &str, confirm: &str) -> Verdict {
        let mut refusals = Refusals::default();
        refusals.check(proxy, FlowError::ProxyNotSupported);
        let number = office.parse::<OfficeNumber>();
        let address = notify.parse::<EmailAddress>();
        refusals.check(number.is_err() || address.is_err(), value_error());
        refusals.check(
            address.is_ok() && !same_address(notify, confirm),
            FlowError::ConfirmationMismatch,
        );
        refusals.check(
            number.as_ref().is_ok_and(|n| *n != self.office),
            FlowError::NotInLedger,
        );
        if refusals.any() {
            return refusals.verdict();
        }
        // RI-03: the prefectures the office holds user IDs in, else its ledger entry's.
        let mut choices: Vec<Prefecture> = self.accounts.keys().copied().collect();
        if choices.is_empty() {
            choices = self.ledger_billing.clone();
        }
        choices.sort();
        choices.dedup();
        if choices.len() >= 2 {
            self.title = Some("請求先都道府県選択");
            self.flows.push(At::Choosing {
                notify: notify.to_owned(),
                choices,
                started: self.now,
            });
            return Verdict::Ok;
        }
        let billing = choices.first().copied().unwrap_or(self.office.prefecture());
        match self.send_code(notify.to_owned(), billing, refusals) {
            Ok(at) => {
                self.flows.push(at);
                Verdict::Ok
            }
            Err(verdict) => verdict,
        }
    }

    /// RI-03 `次へ`: valid for the code lifetime, one of the choices.
    fn choose(&mut self, flow: usize, typed: &str) -> Verdict {
        let Ok(billing) = typed.parse::<Prefecture>() else {
            return Verdict::Refused(vec![value_error()]);
        };
        let (notify, choices, started) =
            on!(self.flows[flow], At::Choosing => notify, choices, started);
        let mut refusals = Refusals::default();
        refusals.check(self.now >= started + minutes_30(), FlowError::FlowExpired);
        refusals.check(!choices.contains(&billing), FlowError::PrefectureNotOffered);
        match self.send_code(notify, billing, refusals) {
            Ok(at) => {
                self.flows[flow] = at;
                Verdict::Ok
            }
            Err(verdict) => verdict,
        }
    }

    /// RI-04: the code, as RS-04; SEC-07 per notification address.
    fn code(&mut self, flow: usize, typed: &Typed) -> Verdict {
        if typed.malformed() {
            return Verdict::Refused(vec![value_error()]);
        }
        let (notify, billing, issued, mut wrong) =
            on!(self.flows[flow], At::Code => notify, billing, issued, wrong);
        if self.spent.guesses.full(&notify, self.now, GUESSES_PER_HOUR) {
            return Verdict::refused(FlowError::GuessBudgetExceeded);
        }
        if wrong >= WRONG_ENTRIES {
            self.spent.guesses.spend(&notify, self.now);
            return Verdict::counted(FlowError::CodeExhausted);
        }
        if self.now >= issued + minutes_30() {
            return Verdict::refused(FlowError::CodeExpired);
        }
        if typed.is_right(true) {
            self.flows[flow] = At::Confirming {
                notify,
                billing,
                verified: self.now,
            };
            self.title = Some("送信確認");
            return Verdict::Ok;
        }
        self.spent.guesses.spend(&notify, self.now);
        wrong += 1;
        let remaining = WRONG_ENTRIES - wrong;
        self.flows[flow] = At::Code {
            notify,
            billing,
            issued,
            wrong,
        };
        Verdict::counted(if remaining == 0 {
            FlowError::CodeExhausted
        } else {
            FlowError::WrongCode { remaining }
        })
    }

    /// RI-05, RI-06, RI-07, VAL-08: `送信` within the code lifetime of the verification.
    fn submit(&mut self, flow: usize) -> Verdict {
        let (notify, billing, verified) =
            on!(self.flows[flow], At::Confirming => notify, billing, verified);
        let mut refusals = Refusals::default();
        refusals.check(self.pending(billing), FlowError::ApplicationPending);
        refusals.check(self.now >= verified + minutes_30(), FlowError::FlowExpired);
        if refusals.any() {
            return refusals.verdict();
        }
        // VAL-08: U + the JST month of receipt + its next sequence number.
        let local = self.now.with_timezone(&jst());
        let month = (local.year(), local.month());
        let sequence = self.sequence.entry(month).or_insert(0);
        *sequence += 1;
        let number = format!("U{:04}{:02}{:06}", month.0, month.1, sequence);
        self.apps.push(App {
            number: number.clone(),
            billing,
            notify: notify.clone(),
            status: Status::Pending,
        });
        self.number = Some(number);
        self.mailed.push((notify.to_ascii_lowercase(), false));
        self.notices = 1;
        self.flows[flow] = At::Done;
        self.title = Some("処理終了");
        Verdict::Ok
    }

    /// RI-08 … RI-10: once, by the federation of the billing prefecture.
    fn review(&mut self, i: usize, by: Prefecture, decision: Decision) -> Verdict {
        let app = self.apps[i].clone();
        let mut refusals = Refusals::default();
        refusals.check(by != app.billing, FlowError::WrongFederation);
        refusals.check(app.status != Status::Pending, FlowError::AlreadyReviewed);
        if refusals.any() {
            return refusals.verdict();
        }
        self.mailed.push((app.notify.to_ascii_lowercase(), false));
        self.notices = 1;
        let Decision::Approve {
            clear_security_emails,
        } = decision
        else {
            self.apps[i].status = Status::Rejected;
            return Verdict::Ok;
        };
        self.apps[i].status = Status::Approved;
        let until = self.now + TimeDelta::days(30);
        let account = self.accounts.entry(app.billing).or_insert(Acct {
            temporary_until: None,
            security_code: false,
            failures: 0,
            locked_until: None,
            emails: 0,
            grace_eligible: false,
        });
        account.temporary_until = Some(until);
        account.security_code = false;
        account.failures = 0;
        account.locked_until = None;
        if clear_security_emails {
            account.emails = 0;
            account.grace_eligible = false;
        }
        self.letter = Some((UserId::new(app.billing, self.office), until));
        Verdict::Ok
    }

    fn marks(&self) -> Vec<Instant> {
        let starts = self.flows.iter().filter_map(|at| match at {
            At::Choosing { started, .. } => Some(*started),
            At::Code { issued, .. } => Some(*issued),
            At::Confirming { verified, .. } => Some(*verified),
            _ => None,
        });
        let mut marks = self.spent.marks(starts);
        marks.extend(super::calendar_marks());
        marks
    }
}

impl super::Spec for Model {
    super::clocked!();

    fn init() -> BoxedStrategy<Model> {
        let account = (any::<bool>(), 0..3u8, 0..3usize, any::<bool>()).prop_map(
            |(security_code, failures, emails, grace_eligible)| Acct {
                temporary_until: None,
                security_code,
                failures,
                locked_until: None,
                emails,
                grace_eligible,
            },
        );
        (
            (any::<u64>(), Mood::any()),
            strategies::office_number(),
            proptest::collection::vec(strategies::prefecture(), 1..=3),
            proptest::collection::btree_map(strategies::prefecture(), account, 0..=2),
            start_instant(),
            address_pool(),
        )
            .prop_map(
                |((seed, mood), office, ledger_billing, accounts, now, pool)| Model {
                    seed,
                    mood,
                    office,
                    ledger_billing,
                    accounts,
                    now,
                    pool,
                    flows: Vec::new(),
                    apps: Vec::new(),
                    sequence: BTreeMap::new(),
                    spent: Spent::default(),
                    request: Request::Clock,
                    verdict: Verdict::Ok,
                    title: None,
                    mailed: Vec::new(),
                    notices: 0,
                    number: None,
                    letter: None,
                },
            )
            .boxed()
    }

    fn steps(&self) -> BoxedStrategy<Step> {
        let pool = self.pool.len();
        let start = (
            proptest::bool::weighted(0.05),
            prop_oneof![
                10 => Just(OfficeField::Own),
                1 => strategies::office_number().prop_map(OfficeField::Unknown),
                1 => strategies::invalid_office_number().prop_map(OfficeField::Bad),
            ],
            prop_oneof![10 => (0..pool).prop_map(Ok), 1 => bad_address().prop_map(Err)],
            proptest::bool::weighted(0.95),
        )
            .prop_map(|(proxy, office, notify, confirm_same)| Step::Start {
                proxy,
                office,
                notify,
                confirm_same,
            });
        let mut steps = vec![
            (
                1,
                super::advance(self.now, &self.marks())
                    .prop_map(Step::Advance)
                    .boxed(),
            ),
            (self.mood.mailing(2), start.boxed()),
        ];
        if !self.apps.is_empty() {
            let review = (
                any::<Index>(),
                proptest::bool::weighted(0.85),
                proptest::option::weighted(0.7, any::<bool>()),
            )
                .prop_map(|(app, right_federation, approve)| Step::Review {
                    app,
                    right_federation,
                    approve,
                });
            steps.push((2, review.boxed()));
        }
        let n = self.flows.len();
        if n > 0 {
            let at = |want: fn(&At) -> bool| -> Vec<usize> {
                (0..n).filter(|i| want(&self.flows[*i])).collect()
            };
            let weight = |flows: &Vec<usize>| -> u32 { if flows.is_empty() { 1 } else { 6 } };
            let choosing = at(|a| matches!(a, At::Choosing { .. }));
            let code = at(|a| matches!(a, At::Code { .. }));
            let confirming = at(|a| matches!(a, At::Confirming { .. }));
            let pref = PrefField::any(&["４７"]);
            steps.extend([
                (
                    weight(&choosing),
                    (pick(choosing, n), pref)
                        .prop_map(|(flow, pref)| Step::Choose { flow, pref })
                        .boxed(),
                ),
                (
                    weight(&code) + 2,
                    (pick(code, n), typed(4, self.mood.right()))
                        .prop_map(|(flow, typed)| Step::Code { flow, typed })
                        .boxed(),
                ),
                (
                    weight(&confirming),
                    pick(confirming, n)
                        .prop_map(|flow| Step::Submit { flow })
                        .boxed(),
                ),
                (1, (0..n).prop_map(|flow| Step::Back { flow }).boxed()),
            ]);
        }
        proptest::strategy::Union::new_weighted(steps).boxed()
    }

    fn allows(&self, step: &Step) -> bool {
        match step {
            Step::Advance(_) | Step::Start { .. } => true,
            Step::Review { .. } => !self.apps.is_empty(),
            Step::Choose { flow, .. }
            | Step::Code { flow, .. }
            | Step::Submit { flow }
            | Step::Back { flow } => *flow < self.flows.len(),
        }
    }

    fn take(&mut self, step: &Step) {
        self.title = None;
        self.number = None;
        self.letter = None;
        self.notices = 0;
        self.mailed.clear();
        (self.verdict, self.request) = match step {
            Step::Start {
                proxy,
                office,
                notify,
                confirm_same,
            } => {
                let office = match office {
                    OfficeField::Own => self.office.to_string(),
                    OfficeField::Unknown(o) => o.to_string(),
                    OfficeField::Bad(text) => text.clone(),
                };
                let (notify, confirm) = match notify {
                    Ok(i) if *confirm_same => (self.pool[*i].clone(), self.pool[*i].clone()),
                    Ok(i) => (
                        self.pool[*i].clone(),
                        self.pool[(*i + 1) % self.pool.len()].clone(),
                    ),
                    Err(text) => (text.clone(), text.clone()),
                };
                (
                    self.start(*proxy, &office, &notify, &confirm),
                    Request::Start {
                        proxy: *proxy,
                        office,
                        notify,
                        confirm,
                    },
                )
            }
            Step::Choose { flow, pref } => {
                let typed = pref.typed(fields!(&self.flows[*flow], At::Choosing => choices));
                (self.choose(*flow, &typed), Request::Choose(*flow, typed))
            }
            Step::Code { flow, typed } => {
                let notify = fields!(&self.flows[*flow], At::Code => notify).cloned();
                (
                    self.code(*flow, typed),
                    Request::Code(CodeEntry::new(*flow, typed, notify)),
                )
            }
            Step::Submit { flow } => (self.submit(*flow), Request::Submit { flow: *flow }),
            Step::Back { flow } => {
                let verdict = match self.flows[*flow] {
                    At::Gone => Verdict::refused(PortalError::NoSuchFlow),
                    At::Done => Verdict::refused(FlowError::FlowFinished),
                    _ => {
                        self.flows[*flow] = At::Gone;
                        self.title = Some("ログイン情報再発行申請");
                        Verdict::Ok
                    }
                };
                (verdict, Request::Back { flow: *flow })
            }
            Step::Review {
                app,
                right_federation,
                approve,
            } => {
                let i = app.index(self.apps.len());
                let billing = self.apps[i].billing;
                let by = if *right_federation {
                    billing
                } else {
                    Prefecture::from_code(billing.code() % 47 + 1).expect("1..=47")
                };
                let decision = match approve {
                    Some(clear_security_emails) => Decision::Approve {
                        clear_security_emails: *clear_security_emails,
                    },
                    None => Decision::Reject,
                };
                (
                    self.review(i, by, decision),
                    Request::Review {
                        number: self.apps[i].number.clone(),
                        by,
                        decision,
                    },
                )
            }
            Step::Advance(_) => unreachable!("the runner moves the clock"),
        };
    }
}

impl super::Real<Model> for Office {
    fn init(mut world: World, model: &Model) -> Office {
        world.register(model.office, model.ledger_billing.clone());
        for (billing, a) in &model.accounts {
            let user = UserId::new(*billing, model.office);
            let mut account = Account::new(user, world.hash("Lost2025!"));
            if a.security_code {
                account.security_code = Some(world.hash("Sc-7351x"));
            }
            account.failures = a.failures;
            account.grace_eligible = a.grace_eligible;
            let emails = model.pool.iter().take(a.emails);
            world.create(account, emails.map(|e| (e.as_str(), model.now)));
        }
        Office {
            world,
            flows: Vec::new(),
        }
    }

    /// The accounts, applications and flows are the model's.
    fn check(&self, model: &Model) {
        let portal = &self.world.portal;
        for (billing, a) in &model.accounts {
            let user = UserId::new(*billing, model.office);
            let real = portal.account(&user).unwrap().expect("RI-09: an account");
            assert_eq!(
                real.temporary,
                a.temporary_until.map(|t| Temporary {
                    expires_at: Some(t)
                }),
                "RI-09, RI-10: the temporary password of {user}"
            );
            assert_eq!(real.security_code.is_some(), a.security_code, "RI-09");
            assert_eq!(real.failures, a.failures, "RI-09: the count");
            assert_eq!(real.locked_until, a.locked_until, "RI-09: the lock");
            assert_eq!(
                real.security_emails.len(),
                a.emails,
                "RI-09: the security emails"
            );
            assert_eq!(
                real.grace_eligible, a.grace_eligible,
                "RI-09: FL-04 after clearing"
            );
        }
        for app in &model.apps {
            let real = portal
                .reissue_application(Federation::of(app.billing), &app.number)
                .expect("VAL-08: every application under its number");
            assert!(same_address(real.notify.as_str(), &app.notify));
            let status = match real.status {
                ApplicationStatus::Pending => Status::Pending,
                ApplicationStatus::Approved { .. } => Status::Approved,
                ApplicationStatus::Rejected { .. } => Status::Rejected,
            };
            assert_eq!(status, app.status, "RI-08: the status of {}", app.number);
        }
        for (f, at) in self.flows.iter().zip(&model.flows) {
            let state = portal.reissue_state(&f.id);
            let same = matches!(
                (&state, at),
                (Ok(Reissue::ChoosingPrefecture(_)), At::Choosing { .. })
                    | (Ok(Reissue::AwaitingCode(_)), At::Code { .. })
                    | (Ok(Reissue::Confirming(_)), At::Confirming { .. })
                    | (Ok(Reissue::Done(_)), At::Done)
                    | (Err(PortalError::NoSuchFlow), At::Gone)
            );
            assert!(same, "the flow is {state:?}; the model's {at:?}");
        }
    }

    fn apply(&mut self, model: &Model, _: Step) {
        let verdict = &model.verdict;
        let world = &mut self.world;
        let flow_of = |flow: &usize| self.flows[*flow].id.clone();
        let (seen, flow) = match &model.request {
            Request::Review {
                number,
                by,
                decision,
            } => {
                let seen = world.call(verdict, None, |portal, rng| {
                    portal.reissue_review(Federation::of(*by), number, *decision, rng)
                });
                self.reviewed(&seen, model);
                return;
            }
            Request::Start {
                proxy,
                office: number,
                notify,
                confirm,
            } => {
                let form = ApplicationForm {
                    applicant: if *proxy {
                        Applicant::Proxy
                    } else {
                        Applicant::Office
                    },
                    office_number: number,
                    notify,
                    notify_confirm: confirm,
                };
                let seen = world.call(verdict, None, |portal, rng| {
                    portal.reissue_start(&form, rng)
                });
                if let Ok((id, _)) = &seen.result {
                    self.flows.push(RealFlow::new(id));
                }
                (seen.map(|(_, s)| s), self.flows.len().checked_sub(1))
            }
            Request::Choose(flow, pref) => {
                let id = flow_of(flow);
                let seen = world.call(verdict, None, |portal, rng| {
                    portal.reissue_input(&id, Input::ChoosePrefecture(pref), rng)
                });
                (seen, Some(*flow))
            }
            Request::Code(CodeEntry { flow, typed, key }) => {
                let id = flow_of(flow);
                let entered = resolve(typed, 4, &self.flows[*flow].codes);
                let seen = world.call(verdict, key.as_deref(), |portal, rng| {
                    portal.reissue_input(&id, Input::EnterCode(&entered), rng)
                });
                (seen, Some(*flow))
            }
            Request::Submit { flow } => {
                let id = flow_of(flow);
                let seen = world.call(verdict, None, |portal, rng| {
                    portal.reissue_input(&id, Input::Submit, rng)
                });
                (seen, Some(*flow))
            }
            Request::Back { flow } => {
                let id = flow_of(flow);
                let seen = world.call(verdict, None, |portal, rng| {
                    portal.reissue_input(&id, Input::Back, rng)
                });
                (seen, Some(*flow))
            }
            Request::Clock => unreachable!("the runner moves the clock"),
        };
        self.mailed(&seen, model, flow);
        if let Ok(screen) = &seen.result {
            assert_eq!(Some(screen.title.as_str()), model.title, "the screen");
            if let Some(At::Confirming {
                notify, billing, ..
            }) = flow.map(|f| &model.flows[f])
            {
                // RI-05: what is about to be sent.
                for shown in [
                    "※事業所番号にお間違えがないよう、十分ご注意ください。",
                    model.office.as_str(),
                    "請求事業所A",
                    notify.as_str(),
                    billing.name(),
                ] {
                    assert!(screen.shows(shown), "RI-05: {shown}");
                }
            }
        }
        if let Some(number) = &model.number {
            // VAL-08, RI-06: the submission got the number the model gives it.
            let app = self
                .world
                .portal
                .reissue_application(Federation::of(pref_of(model, number)), number)
                .expect("VAL-08: the application under the model's number");
            assert_eq!(app.status, ApplicationStatus::Pending);
        }
    }
}

/// The billing prefecture of the model's application `number`.
fn pref_of(model: &Model, number: &str) -> Prefecture {
    model
        .apps
        .iter()
        .find(|a| a.number == number)
        .expect("numbered by the model")
        .billing
}

struct Office {
    world: World,
    flows: Vec<RealFlow>,
}

impl Office {
    /// The step's mails (RI-04's code, RI-06's receipt, RI-08's result) and お知らせ are the
    /// model's; codes are kept with their flow. `flow` is where a code mail belongs.
    fn mailed<T>(&mut self, seen: &super::Seen<T>, model: &Model, flow: Option<usize>) {
        let got: Vec<(String, bool)> = seen
            .mails
            .iter()
            .map(|m| (m.to.as_str().to_ascii_lowercase(), super::is_code_mail(m)))
            .collect();
        assert_eq!(got, model.mailed, "the mails");
        assert_eq!(seen.notices.len(), model.notices, "the お知らせ");
        for mail in &seen.mails {
            if let Some(code) = super::code_in(mail) {
                self.flows[flow.expect("a flow mails codes")]
                    .codes
                    .push(code);
            }
        }
    }

    /// RI-08, RI-09: a review's outcome, its letter (VAL-09: a 12-character temporary password
    /// obeying VAL-06, expiring after 30 days, RI-10), mails and お知らせ are the model's.
    fn reviewed(&mut self, seen: &super::Seen<ReviewOutcome>, model: &Model) {
        self.mailed(seen, model, None);
        match (&seen.result, &model.letter) {
            (Ok(ReviewOutcome::Approved(letter)), Some((user, until))) => {
                assert_eq!(letter.user_id, *user, "RI-09: the letter's user ID");
                assert_eq!(letter.expires_at, *until, "RI-10: 30 days");
                let temporary = letter.temporary_password.reveal();
                assert_eq!(temporary.chars().count(), 12, "VAL-09");
                assert_eq!(val_06(temporary, user), None, "VAL-09: obeys VAL-06");
                assert!(letter.render().contains(temporary), "RI-09: on the letter");
                // RI-09: the temporary password appears only there.
                self.world.secret_password(temporary);
                self.world.check_no_leak(seen);
                let account = self.world.portal.account(user).unwrap().unwrap();
                assert!(self.world.verifies(temporary, &account.password));
            }
            (Ok(ReviewOutcome::Rejected), None) | (Err(_), None) => {}
            (result, letter) => panic!("reviewed {result:?}; the model's letter: {letter:?}"),
        }
    }
}

/// Runs the model over `harness`, `cases` cases (`PROPTEST_CASES` overrides it) of
/// sequences of 1 to 59 steps; panics with the minimal failing case.
pub fn run(harness: &dyn Harness, cases: u32) {
    super::run_model::<Model, Office>(harness, cases, 1..60);
}

//! Model-based test of the list of security emails (SE-01 … SE-08) against a reference model
//! written from SPEC.md: the list (oldest first, one selected), the add-or-change flows with
//! their one-time password and confirmation code, selections and deletions, under arbitrary
//! sequences of requests and clock moves (the 30-minute code edges, the hourly budgets).

use super::allows_flows;
use super::{
    Addr, CODES_PER_FLOW, GUESSES_PER_HOUR, Harness, MAILS_PER_HOUR, Mood, RealFlow, Refusals,
    Spent, Typed, Verdict, WRONG_ENTRIES, World, address_pool, minutes_30, pick, resolve,
    same_address, start_instant, typed, unexpected, value_error,
};
use crate::account::Account;
use crate::calendar::Instant;
use crate::error::{FlowError, PortalError};
use crate::security_emails::UserInput;
use crate::strategies;
use crate::values::{EmailAddress, UserId};
use chrono::TimeDelta;
use proptest::prelude::*;

/// A registered address (SE-03: "oldest" is by registration).
#[derive(Debug, Clone)]
struct Entry {
    address: String,
    registered: Instant,
}

/// A code mailed by a flow.
#[derive(Debug, Clone)]
struct Code {
    issued: Instant,
    wrong: u8,
}

/// What a flow does with the new address (SE-06).
#[derive(Debug, Clone)]
enum Purpose {
    Add,
    Change(String),
}

/// Where an add-or-change flow is (SE-06).
#[derive(Debug, Clone)]
enum At {
    Choosing,
    Otp {
        to: String,
        new: String,
        code: Code,
    },
    Code {
        new: String,
        code: Code,
    },
    Done,
    /// Back at the list by `戻る` on the address entry (SE-09: the flow goes on there).
    Listing,
    /// Ended by `戻る` on the list (at 【ユーザ情報変更】).
    Gone,
}

#[derive(Debug, Clone)]
struct SeFlow {
    purpose: Purpose,
    at: At,
    /// SEC-04: codes this flow has mailed.
    codes_sent: u8,
}

#[derive(Debug, Clone)]
enum Step {
    Advance(TimeDelta),
    Start {
        change: Option<Addr>,
        new: Addr,
        confirm: Addr,
    },
    Reenter {
        flow: usize,
        new: Addr,
        confirm: Addr,
    },
    Otp {
        flow: usize,
        typed: Typed,
    },
    Code {
        flow: usize,
        typed: Typed,
    },
    Back {
        flow: usize,
    },
    Select(Addr),
    Delete(Addr),
}

/// The step as typed, fields resolved.
#[derive(Debug, Clone)]
enum Request {
    /// A clock move: the runner moves the real clock.
    Clock,
    Start {
        change: Option<String>,
        new: String,
        confirm: String,
    },
    Reenter {
        flow: usize,
        new: String,
        confirm: String,
    },
    /// An OTP, a code or `戻る` on a flow: the step itself (nothing to resolve).
    Flow(Step),
    Select(String),
    Delete(String),
}

#[derive(Debug, Clone)]
struct Model {
    seed: u64,
    mood: Mood,
    user: UserId,
    now: Instant,
    pool: Vec<String>,
    list: Vec<Entry>,
    selected: Option<String>,
    flows: Vec<SeFlow>,
    spent: Spent,
    /// The last step: what was typed, SPEC's verdict, the screen title, the code mailed (to,
    /// digits), the SE-08 mail recipients and whether a お知らせ was posted.
    request: Request,
    verdict: Verdict,
    title: Option<&'static str>,
    code_to: Option<(String, usize)>,
    notified: Vec<String>,
    notice: bool,
}

fn parses(a: &str) -> bool {
    a.parse::<EmailAddress>().is_ok()
}

impl Model {
    fn addr(&self, a: &Addr) -> String {
        a.text(&self.pool)
    }

    fn registered(&self, a: &str) -> bool {
        self.list.iter().any(|e| same_address(&e.address, a))
    }

    /// SE-01, SE-02, SE-06: whether `purpose` could put `new` in the list now.
    fn purpose_refusal(&self, purpose: &Purpose, new: &str) -> Option<FlowError> {
        match purpose {
            Purpose::Add if self.registered(new) => Some(FlowError::DuplicateSecurityEmail),
            Purpose::Add if self.list.len() >= 5 => Some(FlowError::SecurityEmailLimit),
            Purpose::Add => None,
            Purpose::Change(old) if same_address(old, new) => {
                Some(FlowError::DuplicateSecurityEmail)
            }
            Purpose::Change(old) if !self.registered(old) => {
                Some(FlowError::SecurityEmailNotRegistered)
            }
            Purpose::Change(_) if self.registered(new) => Some(FlowError::DuplicateSecurityEmail),
            Purpose::Change(_) => None,
        }
    }

    /// SE-06 `次へ` with an address: VAL-04/05, SE-05, SE-01/02, SEC-04; then a 6-digit OTP
    /// (T2) to the selected address. Returns the flow's next place, or the refusal.
    fn enter_address(
        &mut self,
        purpose: &Purpose,
        new: &str,
        confirm: &str,
        codes_sent: u8,
        mut refusals: Refusals,
    ) -> Result<At, Verdict> {
        refusals.check(!parses(new) || !parses(confirm), value_error());
        if refusals.any() {
            return Err(refusals.verdict());
        }
        refusals.check(!same_address(new, confirm), FlowError::ConfirmationMismatch);
        refusals.check(self.list.is_empty(), FlowError::NoSecurityEmail);
        if let Some(e) = self.purpose_refusal(purpose, new) {
            refusals.check(true, e);
        }
        refusals.check(codes_sent >= CODES_PER_FLOW, FlowError::TooManyCodes);
        if let Some(selected) = &self.selected {
            refusals.check(
                self.spent.mails.full(selected, self.now, MAILS_PER_HOUR),
                FlowError::MailBudgetExceeded,
            );
        }
        if refusals.any() {
            return Err(refusals.verdict());
        }
        let to = self.selected.clone().expect("not empty");
        self.spent.mails.spend(&to, self.now);
        self.code_to = Some((to.clone(), 6));
        self.title = Some("ワンタイムパスワード入力");
        Ok(At::Otp {
            to,
            new: new.to_owned(),
            code: Code {
                issued: self.now,
                wrong: 0,
            },
        })
    }

    /// A code entry: SEC-07, a voided code, SEC-03, the right one, or a wrong one counted.
    /// `Ok(())`: the right code in time.
    fn check_code(&mut self, code: &mut Code, typed: &Typed) -> Result<(), Verdict> {
        let user = self.user.to_string();
        if code.wrong >= WRONG_ENTRIES {
            self.spent.guesses.spend(&user, self.now);
            return Err(Verdict::counted(FlowError::CodeExhausted));
        }
        if self.now >= code.issued + minutes_30() {
            return Err(Verdict::refused(FlowError::CodeExpired));
        }
        if typed.is_right(true) {
            return Ok(());
        }
        self.spent.guesses.spend(&user, self.now);
        code.wrong += 1;
        let remaining = WRONG_ENTRIES - code.wrong;
        Err(Verdict::counted(if remaining == 0 {
            FlowError::CodeExhausted
        } else {
            FlowError::WrongCode { remaining }
        }))
    }

    /// The refusal of an input that does not belong to the flow's place (`expects`), if so: a
    /// finished flow, a flow ended by `戻る`, or a step out of order.
    fn state_refusals(&self, at: &At, expects: impl Fn(&At) -> bool) -> Option<PortalError> {
        match at {
            At::Gone => Some(PortalError::NoSuchFlow),
            At::Done => Some(FlowError::FlowFinished.into()),
            at if !expects(at) => Some(unexpected()),
            _ => None,
        }
    }

    /// SEC-07: whether the user ID's wrong code entries of the hour are used up.
    fn guess_budget_full(&self) -> bool {
        self.spent
            .guesses
            .full(&self.user.to_string(), self.now, GUESSES_PER_HOUR)
    }

    /// Records the step's verdict and request.
    fn finish(&mut self, verdict: Verdict, request: Request) {
        self.verdict = verdict;
        self.request = request;
    }

    /// SE-08: a change or delete tells every address registered before it.
    fn tell_all(&mut self) {
        self.notified = self
            .list
            .iter()
            .map(|e| e.address.to_ascii_lowercase())
            .collect();
    }

    /// The refusals of a code entry (SE-06 steps 4 and 5) before the code is compared: a format
    /// error (VAL-07), a flow not at the step `expects` (with the guessing budget, unless the flow
    /// is gone), the guessing budget (SEC-07).
    fn entry_refused(&self, at: &At, typed: &Typed, expects: fn(&At) -> bool) -> Option<Verdict> {
        let mut refusals = Refusals::default();
        refusals.check(typed.malformed(), value_error());
        if let Some(refused) = self.state_refusals(at, expects) {
            refusals.check(true, refused);
            let budget = !matches!(at, At::Gone) && self.guess_budget_full();
            refusals.check(budget, FlowError::GuessBudgetExceeded);
            return Some(refusals.verdict());
        }
        refusals.check(
            !typed.malformed() && self.guess_budget_full(),
            FlowError::GuessBudgetExceeded,
        );
        refusals.any().then(|| refusals.verdict())
    }

    /// SE-06 step 4: the OTP proves the office holds its selected address; then a 4-digit code
    /// (T1) goes to the new one.
    fn otp(&mut self, flow: usize, typed: &Typed) -> Verdict {
        let f = self.flows[flow].clone();
        if let Some(refused) = self.entry_refused(&f.at, typed, |at| matches!(at, At::Otp { .. })) {
            return refused;
        }
        let mut refusals = Refusals::default();
        let At::Otp { to, new, mut code } = f.at else {
            unreachable!()
        };
        // The list may have changed meanwhile (SE-01, SE-02; the OTP's address still registered).
        refusals.check(!self.registered(&to), FlowError::SecurityEmailNotRegistered);
        if let Some(e) = self.purpose_refusal(&f.purpose, &new) {
            refusals.check(true, e);
        }
        if refusals.any() {
            return refusals.verdict();
        }
        let checked = self.check_code(&mut code, typed);
        let at = At::Otp {
            to,
            new: new.clone(),
            code,
        };
        if let Err(verdict) = checked {
            if matches!(verdict, Verdict::Counted(_)) {
                self.flows[flow].at = at;
            }
            return verdict;
        }
        refusals.check(f.codes_sent >= CODES_PER_FLOW, FlowError::TooManyCodes);
        refusals.check(
            self.spent.mails.full(&new, self.now, MAILS_PER_HOUR),
            FlowError::MailBudgetExceeded,
        );
        if refusals.any() {
            return refusals.verdict();
        }
        self.spent.mails.spend(&new, self.now);
        self.code_to = Some((new.clone(), 4));
        self.title = Some("確認コード入力");
        self.flows[flow] = SeFlow {
            purpose: f.purpose,
            at: At::Code {
                new,
                code: Code {
                    issued: self.now,
                    wrong: 0,
                },
            },
            codes_sent: f.codes_sent + 1,
        };
        Verdict::Ok
    }

    /// SE-06 step 5: the code proves the new address; it is added, or put in place of the old
    /// one keeping the selection (SE-03); SE-08 announces it.
    fn code(&mut self, flow: usize, typed: &Typed) -> Verdict {
        let f = self.flows[flow].clone();
        if let Some(refused) = self.entry_refused(&f.at, typed, |at| matches!(at, At::Code { .. }))
        {
            return refused;
        }
        let At::Code { new, mut code } = f.at else {
            unreachable!()
        };
        if let Some(e) = self.purpose_refusal(&f.purpose, &new) {
            return Verdict::refused(e);
        }
        let checked = self.check_code(&mut code, typed);
        if let Err(verdict) = checked {
            if matches!(verdict, Verdict::Counted(_)) {
                self.flows[flow].at = At::Code { new, code };
            }
            return verdict;
        }
        let entry = Entry {
            address: new,
            registered: self.now,
        };
        match &f.purpose {
            Purpose::Add => {
                if self.list.is_empty() {
                    self.selected = Some(entry.address.clone());
                }
                self.list.push(entry);
            }
            Purpose::Change(old) => {
                self.tell_all();
                let i = self
                    .list
                    .iter()
                    .position(|e| same_address(&e.address, old))
                    .expect("checked");
                if self
                    .selected
                    .as_deref()
                    .is_some_and(|s| same_address(s, old))
                {
                    self.selected = Some(entry.address.clone());
                }
                self.list[i] = entry;
            }
        }
        self.notice = true;
        self.title = Some("処理終了");
        self.flows[flow].at = At::Done;
        Verdict::Ok
    }

    /// SE-03: select another; selecting the selected one changes nothing.
    fn select(&mut self, a: &str) -> Verdict {
        if !parses(a) {
            return Verdict::Refused(vec![value_error()]);
        }
        if !self.registered(a) {
            return Verdict::refused(FlowError::SecurityEmailNotRegistered);
        }
        self.title = Some("セキュリティ用メールアドレス一覧");
        if !self.selected.as_deref().is_some_and(|s| same_address(s, a)) {
            let entry = self.list.iter().find(|e| same_address(&e.address, a));
            self.selected = entry.map(|e| e.address.clone());
            self.notice = true;
        }
        Verdict::Ok
    }

    /// SE-04: never the last one; SE-03: deleting the selected one selects the oldest remaining.
    fn delete(&mut self, a: &str) -> Verdict {
        if !parses(a) {
            return Verdict::Refused(vec![value_error()]);
        }
        let Some(i) = self.list.iter().position(|e| same_address(&e.address, a)) else {
            return Verdict::refused(FlowError::SecurityEmailNotRegistered);
        };
        if self.list.len() == 1 {
            return Verdict::refused(FlowError::LastSecurityEmail);
        }
        self.tell_all();
        let removed = self.list.remove(i);
        if self
            .selected
            .as_deref()
            .is_some_and(|s| same_address(s, &removed.address))
        {
            let oldest = self
                .list
                .iter()
                .min_by_key(|e| e.registered)
                .expect("one remains");
            self.selected = Some(oldest.address.clone());
        }
        self.notice = true;
        self.title = Some("セキュリティ用メールアドレス一覧");
        Verdict::Ok
    }

    fn marks(&self) -> Vec<Instant> {
        let starts = self.flows.iter().filter_map(|f| match &f.at {
            At::Otp { code, .. } | At::Code { code, .. } => Some(code.issued),
            _ => None,
        });
        self.spent.marks(starts)
    }
}

impl super::Spec for Model {
    super::clocked!();

    fn init() -> BoxedStrategy<Model> {
        (
            (any::<u64>(), Mood::any()),
            strategies::user_id(),
            start_instant(),
            address_pool(),
            proptest::sample::subsequence((0..6).collect::<Vec<usize>>(), 0..=5).prop_shuffle(),
            proptest::collection::vec(0..3i64, 6),
            any::<proptest::sample::Index>(),
        )
            .prop_map(|((seed, mood), user, now, pool, chosen, ages, selected)| {
                let list: Vec<Entry> = chosen
                    .iter()
                    .zip(&ages)
                    .map(|(i, age)| Entry {
                        address: pool[*i].clone(),
                        registered: now - TimeDelta::days(*age),
                    })
                    .collect();
                let selected =
                    (!list.is_empty()).then(|| list[selected.index(list.len())].address.clone());
                Model {
                    seed,
                    mood,
                    user,
                    now,
                    pool,
                    list,
                    selected,
                    flows: Vec::new(),
                    spent: Spent::default(),
                    request: Request::Clock,
                    verdict: Verdict::Ok,
                    title: None,
                    code_to: None,
                    notified: Vec::new(),
                    notice: false,
                }
            })
            .boxed()
    }

    fn steps(&self) -> BoxedStrategy<Step> {
        let pool = self.pool.len();
        let addr = move || Addr::any(pool, 12);
        let confirm = move || {
            (addr(), proptest::bool::weighted(0.9), addr())
                .prop_map(|(new, same, other)| (new.clone(), if same { new } else { other }))
        };
        // Registered addresses most often, for selections, deletions and changes.
        let registered: Vec<usize> = (0..pool)
            .filter(|i| self.registered(&self.pool[*i]))
            .collect();
        let listed = move || pick(registered.clone(), pool).prop_map(Addr::Pool);
        let mut steps = vec![
            (
                1,
                super::advance(self.now, &self.marks())
                    .prop_map(Step::Advance)
                    .boxed(),
            ),
            (
                self.mood.mailing(3),
                (proptest::option::weighted(0.3, listed()), confirm())
                    .prop_map(|(change, (new, confirm))| Step::Start {
                        change,
                        new,
                        confirm,
                    })
                    .boxed(),
            ),
            (
                1,
                prop_oneof![3 => listed(), 1 => addr()]
                    .prop_map(Step::Select)
                    .boxed(),
            ),
            (
                1,
                prop_oneof![3 => listed(), 1 => addr()]
                    .prop_map(Step::Delete)
                    .boxed(),
            ),
        ];
        if !self.flows.is_empty() {
            let n = self.flows.len();
            // Flows at the step the input belongs to most often.
            let at = |want: fn(&At) -> bool| -> Vec<usize> {
                (0..n).filter(|i| want(&self.flows[*i].at)).collect()
            };
            let otp = at(|a| matches!(a, At::Otp { .. }));
            let code = at(|a| matches!(a, At::Code { .. }));
            let back = at(|a| !matches!(a, At::Done | At::Gone));
            let choosing = at(|a| matches!(a, At::Choosing));
            let weight = |flows: &Vec<usize>| -> u32 { if flows.is_empty() { 1 } else { 6 } };
            let (w_otp, w_code, w_back, w_choosing) = (
                weight(&otp),
                weight(&code),
                weight(&back),
                weight(&choosing),
            );
            steps.extend([
                (
                    w_otp,
                    (pick(otp, n), typed(6, self.mood.right()))
                        .prop_map(|(flow, typed)| Step::Otp { flow, typed })
                        .boxed(),
                ),
                (
                    w_code,
                    (pick(code, n), typed(4, self.mood.right()))
                        .prop_map(|(flow, typed)| Step::Code { flow, typed })
                        .boxed(),
                ),
                (
                    w_back.div_ceil(2),
                    pick(back, n).prop_map(|flow| Step::Back { flow }).boxed(),
                ),
                (
                    self.mood.mailing(w_choosing.div_ceil(2)),
                    (pick(choosing, n), confirm())
                        .prop_map(|(flow, (new, confirm))| Step::Reenter { flow, new, confirm })
                        .boxed(),
                ),
            ]);
        }
        proptest::strategy::Union::new_weighted(steps).boxed()
    }

    allows_flows!(Reenter, Otp, Code, Back);

    fn take(&mut self, step: &Step) {
        self.title = None;
        self.code_to = None;
        self.notified = Vec::new();
        self.notice = false;
        (self.verdict, self.request) = match step {
            Step::Start {
                change,
                new,
                confirm,
            } => {
                let change = change.as_ref().map(|a| self.addr(a));
                let (new, confirm) = (self.addr(new), self.addr(confirm));
                let mut refusals = Refusals::default();
                refusals.check(change.as_deref().is_some_and(|a| !parses(a)), value_error());
                let purpose = change.clone().map_or(Purpose::Add, Purpose::Change);
                let verdict = match self.enter_address(&purpose, &new, &confirm, 0, refusals) {
                    Ok(at) => {
                        self.flows.push(SeFlow {
                            purpose,
                            at,
                            codes_sent: 1,
                        });
                        Verdict::Ok
                    }
                    Err(v) => v,
                };
                (
                    verdict,
                    Request::Start {
                        change,
                        new,
                        confirm,
                    },
                )
            }
            Step::Reenter { flow, new, confirm } => {
                let (new, confirm) = (self.addr(new), self.addr(confirm));
                let mut f = self.flows[*flow].clone();
                let mut refusals = Refusals::default();
                if let Some(refused) = self.state_refusals(&f.at, |at| matches!(at, At::Choosing)) {
                    refusals.check(!parses(&new) || !parses(&confirm), value_error());
                    refusals.check(true, refused);
                    return self.finish(
                        refusals.verdict(),
                        Request::Reenter {
                            flow: *flow,
                            new,
                            confirm,
                        },
                    );
                }
                let verdict =
                    match self.enter_address(&f.purpose, &new, &confirm, f.codes_sent, refusals) {
                        Ok(at) => {
                            f.at = at;
                            f.codes_sent += 1;
                            self.flows[*flow] = f;
                            Verdict::Ok
                        }
                        Err(v) => v,
                    };
                (
                    verdict,
                    Request::Reenter {
                        flow: *flow,
                        new,
                        confirm,
                    },
                )
            }
            Step::Otp { flow, typed } => (self.otp(*flow, typed), Request::Flow(step.clone())),
            Step::Code { flow, typed } => (self.code(*flow, typed), Request::Flow(step.clone())),
            Step::Back { flow } => {
                let f = &mut self.flows[*flow];
                let verdict = match f.at {
                    At::Otp { .. } | At::Code { .. } => {
                        f.at = At::Choosing;
                        self.title = Some("セキュリティ用メールアドレス設定");
                        Verdict::Ok
                    }
                    At::Choosing => {
                        f.at = At::Listing;
                        self.title = Some("セキュリティ用メールアドレス一覧");
                        Verdict::Ok
                    }
                    At::Listing => {
                        f.at = At::Gone;
                        self.title = Some("ユーザ情報変更");
                        Verdict::Ok
                    }
                    At::Done => Verdict::refused(FlowError::FlowFinished),
                    At::Gone => Verdict::refused(PortalError::NoSuchFlow),
                };
                (verdict, Request::Flow(step.clone()))
            }
            Step::Select(a) => {
                let a = self.addr(a);
                (self.select(&a), Request::Select(a))
            }
            Step::Delete(a) => {
                let a = self.addr(a);
                (self.delete(&a), Request::Delete(a))
            }
            Step::Advance(_) => unreachable!("the runner moves the clock"),
        };
    }
}

impl super::Real<Model> for Office {
    fn init(mut world: World, model: &Model) -> Office {
        let mut account = Account::new(model.user, world.hash("Passw0rd!"));
        let emails = model
            .list
            .iter()
            .map(|e| (e.address.as_str(), e.registered));
        super::add_emails(&mut account, emails);
        if let Some(selected) = &model.selected {
            let selected = selected.parse().expect("a model's address is valid");
            account.security_emails.select(&selected).unwrap();
        }
        world.create(account, []);
        Office {
            world,
            user: model.user,
            flows: Vec::new(),
        }
    }

    /// SE-01 … SE-05: the stored list and the list screen are the model's.
    fn check(&self, model: &Model) {
        let account = self.world.portal.account(&self.user).unwrap().unwrap();
        let list = &account.security_emails;
        let real: Vec<String> = list
            .entries()
            .iter()
            .map(|e| e.address.as_str().to_ascii_lowercase())
            .collect();
        let expected: Vec<String> = model
            .list
            .iter()
            .map(|e| e.address.to_ascii_lowercase())
            .collect();
        assert_eq!(real, expected, "the list, oldest first");
        assert!(list.len() <= 5, "SE-01");
        for (i, a) in real.iter().enumerate() {
            assert!(!real[..i].contains(a), "SE-02");
        }
        match (&model.selected, list.selected()) {
            (Some(m), Some(r)) => {
                assert!(same_address(m, r.as_str()), "SE-03: {m} selected, not {r}")
            }
            (None, None) => {}
            (m, r) => panic!("SE-03: the model selects {m:?}, the list {r:?}"),
        }
        let screen = self.world.portal.security_emails(&self.user).unwrap();
        let n = model.list.len();
        assert_eq!(
            screen.shows("[削除]"),
            n >= 2,
            "SE-04: 削除 only with two or more"
        );
        assert_eq!(
            screen.offers("追加"),
            (1..5).contains(&n),
            "SE-01, SE-05: 追加"
        );
        assert_eq!(
            screen.shows("セキュリティ用メールアドレスが登録されていません。"),
            n == 0,
            "SE-05"
        );
        if n > 0 {
            assert!(screen.shows("最大5つまで登録できます。"), "SE-07");
        }
        if let Some(selected) = list.selected() {
            assert!(
                screen.shows(&format!("選択中 | {selected} ")),
                "SE-03: 選択中"
            );
        }
    }

    fn apply(&mut self, model: &Model, _: Step) {
        let user = self.user;
        let key = user.to_string();
        let verdict = &model.verdict;
        let world = &mut self.world;
        let (seen, flow) = match &model.request {
            Request::Start {
                change,
                new,
                confirm,
            } => {
                let seen = world.call(verdict, None, |portal, rng| match change {
                    Some(old) => portal.security_email_change_start(&user, old, new, confirm, rng),
                    None => portal.security_email_add_start(&user, new, confirm, rng),
                });
                if let Ok((id, _)) = &seen.result {
                    self.flows.push(RealFlow::new(id));
                }
                (
                    seen.map(|(_, screen)| screen),
                    self.flows.len().checked_sub(1),
                )
            }
            Request::Select(a) => (
                world.call(verdict, None, |portal, _| {
                    portal.security_email_select(&user, a)
                }),
                None,
            ),
            Request::Delete(a) => (
                world.call(verdict, None, |portal, _| {
                    portal.security_email_delete(&user, a)
                }),
                None,
            ),
            Request::Reenter { flow, .. }
            | Request::Flow(
                Step::Otp { flow, .. } | Step::Code { flow, .. } | Step::Back { flow },
            ) => {
                let f = &self.flows[*flow];
                let entered = match &model.request {
                    Request::Flow(Step::Otp { typed, .. }) => resolve(typed, 6, &f.otps),
                    Request::Flow(Step::Code { typed, .. }) => resolve(typed, 4, &f.codes),
                    _ => String::new(),
                };
                let input = match &model.request {
                    Request::Reenter { new, confirm, .. } => UserInput::Address { new, confirm },
                    Request::Flow(Step::Otp { .. }) => UserInput::Otp(&entered),
                    Request::Flow(Step::Code { .. }) => UserInput::Code(&entered),
                    _ => UserInput::Back,
                };
                let guess_key =
                    matches!(input, UserInput::Otp(_) | UserInput::Code(_)).then_some(key.as_str());
                let seen = world.call(verdict, guess_key, |portal, rng| {
                    portal.security_email_input(&user, &f.id, input, rng)
                });
                (seen, Some(*flow))
            }
            Request::Flow(_) => unreachable!("only an OTP, a code or 戻る is passed as the step"),
            Request::Clock => unreachable!("the runner moves the clock"),
        };
        self.after(seen, model, flow);
    }
}

struct Office {
    world: World,
    user: UserId,
    flows: Vec<RealFlow>,
}

impl Office {
    /// The step's screen, code mails, SE-08 mails and お知らせ are the model's; the codes mailed
    /// are kept with their flow.
    fn after(
        &mut self,
        seen: super::Seen<crate::screen::Screen>,
        model: &Model,
        flow: Option<usize>,
    ) {
        if let Ok(screen) = &seen.result {
            assert_eq!(Some(screen.title.as_str()), model.title, "the screen");
        }
        let codes: Vec<_> = seen
            .mails
            .iter()
            .filter(|m| super::is_code_mail(m))
            .collect();
        match &model.code_to {
            Some((to, digits)) => {
                assert_eq!(codes.len(), 1, "SE-06: one code mailed");
                assert!(
                    same_address(codes[0].to.as_str(), to),
                    "SE-06: mailed to {to}"
                );
                let code = super::code_in(codes[0]).unwrap();
                assert_eq!(code.len(), *digits, "VAL-07");
                let f = &mut self.flows[flow.expect("a flow mails")];
                if *digits == 6 {
                    f.otps.push(code);
                } else {
                    f.codes.push(code);
                }
            }
            None => assert!(codes.is_empty(), "no code mailed: {codes:?}"),
        }
        let mut told: Vec<String> = seen
            .mails
            .iter()
            .filter(|m| !super::is_code_mail(m))
            .map(|m| m.to.as_str().to_ascii_lowercase())
            .collect();
        told.sort();
        let mut expected = model.notified.clone();
        expected.sort();
        assert_eq!(
            told, expected,
            "SE-08: the addresses told of a change or delete"
        );
        assert_eq!(
            seen.notices.len(),
            usize::from(model.notice),
            "SE-08: one お知らせ"
        );
    }
}

/// Runs the model over `harness`, `cases` cases (`PROPTEST_CASES` overrides it) of
/// sequences of 1 to 79 steps; panics with the minimal failing case.
pub fn run(harness: &dyn Harness, cases: u32) {
    super::run_model::<Model, Office>(harness, cases, 1..80);
}

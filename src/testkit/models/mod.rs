//! The model-based tests of the flows, over any host's ports.
//!
//! Each model pairs a small reference model of one flow, written from SPEC.md, with the real flow
//! driven through a [`Portal`] over a host's ports, and feeds both the same arbitrary sequence of
//! inputs and clock moves (`proptest-state-machine`). After every step the real outcome must be
//! one the model allows, and the cross-flow invariants hold:
//!
//! - no secret (code, one-time password, password) in a stored record, an event, a notice, a
//!   screen, an error, or a mail other than the one delivering it (SEC-01, MAIL-01);
//! - at most 10 code mails per address and at most 10 wrong code entries per budget key within
//!   any hour (SEC-04, SEC-07), counted from what the world saw, not from the model;
//! - a refusal leaves every record, the outbox, the notices and the sessions as they were;
//! - every office's accounts record lists exactly its accounts and their security email
//!   addresses (OPS-04).
//!
//! A host proves its ports keep the rules by implementing [`Harness`] (fresh, empty ports for each
//! case) and calling the models' `run` functions ([`run_all`], [`reset::run`], [`gate::run`],
//! [`reissue::run`], [`security_emails::run`], [`certificate::run`]) from its own tests, with as
//! many cases as its ports can afford. The clock stays the crate's
//! [`VirtualClock`] and the mails the crate's [`Outbox`], so the models can move time and read the
//! codes they mail; the store (and the notice board, audit log, sessions and office ledger, if the
//! host gives them) are the host's. The models see every write through the public [`Store`]
//! API, so "a refusal changed nothing" holds on any store: they keep the keys of the commits that
//! succeeded and read them back ([`Store::load_many`]), with the outbox ([`Store::outbox`]) and
//! the review queues ([`Store::scan`]).
//!
//! A failing case panics with the model's minimal failing sequence (shrunk), like a `proptest!`
//! test; cases are not persisted. `PROPTEST_CASES` overrides the case count a caller gives.
//!
//! # Example
//! The in-memory host, a few cases of the reset model:
//! ```
//! use kaigo_seikyu::testkit::models::{self, Memory};
//! models::reset::run(&Memory, 2);
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use chrono::TimeDelta;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};
use proptest_state_machine::ReferenceStateMachine;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::account::Account;
use crate::calendar::{Instant, utc};
use crate::effect::{EffectId, Event};
use crate::error::{FlowError, PortalError};
use crate::mail::{Mail, Notice};
use crate::memory::{Events, Ledger, MemoryStore, Notices, Outbox, SessionLog, VirtualClock};
use crate::policy::Policy;
use crate::portal::{Portal, Ports};
use crate::ports::{AuditLog, NoticeBoard, OfficeLedger, OfficeRecord, PortError, Sessions};
use crate::secret::{Argon2Hasher, CodeKey, PasswordHash, SecretHasher};
use crate::store::{FlowId, Key, KeyRange, Store, StoreError, Versioned, Write};
use crate::strategies;
use crate::values::{OfficeNumber, PasswordClause, Prefecture, UserId, ValueError};

pub mod certificate;
pub mod gate;
pub mod reissue;
pub mod reset;
pub mod security_emails;

// ---------------------------------------------------------------------------------------------
// The host's side: the harness.

/// A host's ports for the models: fresh and empty for each case ([`Harness::ports`]).
///
/// Only the store is required; the ports left `None` are the crate's in-memory ones. The clock
/// and the mailer are always the crate's (the models move time and read the codes they mail);
/// the store's transactional outbox is the durable part of mail.
#[derive(Clone)]
pub struct HostPorts {
    /// The store, empty.
    pub store: Arc<dyn Store>,
    /// The お知らせ board, if the host's own.
    pub notices: Option<Arc<dyn NoticeBoard>>,
    /// The audit log, if the host's own.
    pub audit: Option<Arc<dyn AuditLog>>,
    /// The sessions, if the host's own.
    pub sessions: Option<Arc<dyn Sessions>>,
    /// The office ledger, if the host's own: empty, the models register the offices they use.
    pub ledger: Option<Arc<dyn LedgerSetup>>,
}

impl HostPorts {
    /// The host's store, with the crate's in-memory notice board, audit log, sessions and ledger.
    pub fn new(store: Arc<dyn Store>) -> HostPorts {
        HostPorts {
            store,
            notices: None,
            audit: None,
            sessions: None,
            ledger: None,
        }
    }
}

/// An office ledger the models can fill: they register the offices their cases use (RI-02,
/// FEE). The ledger is read-only to the flows; this is the test's way in.
pub trait LedgerSetup: OfficeLedger {
    /// Adds or replaces an office's record.
    fn register(&self, record: OfficeRecord) -> Result<(), PortError>;
}

impl LedgerSetup for Ledger {
    fn register(&self, record: OfficeRecord) -> Result<(), PortError> {
        self.insert(record);
        Ok(())
    }
}

/// A host under the model-based tests: gives each proptest case fresh, empty ports.
///
/// The models run many cases, each with its own ports, one after another on one thread. A host
/// with a database gives each case a store that holds nothing: a new schema or database, or one
/// it empties first.
///
/// # Example
/// A host's harness over its own store (here the crate's, to keep the example small):
/// ```
/// use std::sync::Arc;
/// use kaigo_seikyu::memory::MemoryStore;
/// use kaigo_seikyu::testkit::models::{self, Harness, HostPorts};
///
/// struct MyHost;
///
/// impl Harness for MyHost {
///     fn ports(&self) -> HostPorts {
///         // e.g. `HostPorts::new(Arc::new(PgStore::connect(&fresh_schema())))`
///         HostPorts::new(Arc::new(MemoryStore::default()))
///     }
/// }
///
/// // In the host's tests: every model, a few cases each.
/// models::run_all(&MyHost, 2);
/// ```
pub trait Harness {
    /// Fresh, empty ports for one case.
    fn ports(&self) -> HostPorts;
}

/// The crate's in-memory host: a fresh [`MemoryStore`] for each case, the other ports in-memory.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory;

impl Harness for Memory {
    fn ports(&self) -> HostPorts {
        HostPorts::new(Arc::new(MemoryStore::default()))
    }
}

/// Runs every model over `harness`, `cases` cases each (`PROPTEST_CASES` overrides it).
pub fn run_all(harness: &dyn Harness, cases: u32) {
    reset::run(harness, cases);
    gate::run(harness, cases);
    reissue::run(harness, cases);
    security_emails::run(harness, cases);
    certificate::run(harness, cases);
}

// ---------------------------------------------------------------------------------------------
// The runner.

/// A reference model of one flow, written from SPEC.md: its states and the steps it takes.
pub(crate) trait Spec: Clone + Debug + 'static {
    /// A step: an input or a clock move.
    type Step: Clone + Debug + 'static;

    /// The initial states.
    fn init() -> BoxedStrategy<Self>;

    /// The steps that may come next.
    fn steps(&self) -> BoxedStrategy<Self::Step>;

    /// Whether `step` may come next (shrinking drops steps: a later one may name a flow that no
    /// longer exists).
    fn allows(&self, step: &Self::Step) -> bool;

    /// Takes `step`, an input (not a clock move): the model's state after it, and SPEC's verdict
    /// on it.
    fn take(&mut self, step: &Self::Step);

    /// Moves the model's clock forward by `by` (a clock move is always accepted).
    fn advance(&mut self, by: TimeDelta);

    /// The start instant and the CSPRNG's seed.
    fn start(&self) -> (Instant, u64);

    /// How far `step` moves the clock, if it is a clock move.
    fn clock_move(step: &Self::Step) -> Option<TimeDelta>;
}

/// A [`Spec`] as `proptest_state_machine` wants it.
struct Reference<M>(std::marker::PhantomData<M>);

impl<M: Spec> ReferenceStateMachine for Reference<M> {
    type State = M;
    type Transition = M::Step;

    fn init_state() -> BoxedStrategy<M> {
        M::init()
    }

    fn transitions(state: &M) -> BoxedStrategy<M::Step> {
        state.steps()
    }

    fn preconditions(state: &M, step: &M::Step) -> bool {
        state.allows(step)
    }

    fn apply(mut state: M, step: &M::Step) -> M {
        move_model(&mut state, step);
        state
    }
}

/// `allows_flows!(A, B)` in a [`Spec`] impl: the model allows the steps `Step::A { flow, .. }`
/// and `Step::B { flow, .. }` on its existing flows only (`self.flows`), and any other step.
macro_rules! allows_flows {
    ($($variant:ident),+ $(,)?) => {
        fn allows(&self, step: &Step) -> bool {
            match step {
                $(Step::$variant { flow, .. })|+ => *flow < self.flows.len(),
                #[allow(unreachable_patterns)]
                _ => true,
            }
        }
    };
}
pub(crate) use allows_flows;

/// `clocked!()` in a [`Spec`] impl: the model's steps are its `Step`, it starts at `self.now`
/// with the CSPRNG seed `self.seed`, and `Step::Advance(by)` is its clock move.
macro_rules! clocked {
    () => {
        type Step = Step;

        fn start(&self) -> (Instant, u64) {
            (self.now, self.seed)
        }

        fn advance(&mut self, by: TimeDelta) {
            self.now += by;
        }

        fn clock_move(step: &Step) -> Option<TimeDelta> {
            match step {
                Step::Advance(by) => Some(*by),
                _ => None,
            }
        }
    };
}
pub(crate) use clocked;

/// Takes `step` in `model`: a clock move, or an input.
fn move_model<M: Spec>(model: &mut M, step: &M::Step) {
    match M::clock_move(step) {
        Some(by) => model.advance(by),
        None => model.take(step),
    }
}

/// The real side of model `M`: the flows over a [`World`], driven step by step.
pub(crate) trait Real<M: Spec>: Sized {
    /// The real side at the model's initial state, over `world` (fresh ports, the model's start).
    fn init(world: World, model: &M) -> Self;

    /// Applies `step`, an input the model just took (`model` is the state after it), and checks
    /// the outcome against it.
    fn apply(&mut self, model: &M, step: M::Step);

    /// Checks the state of the real flows against the model's, after every step.
    fn check(&self, model: &M);
}

/// Runs `cases` cases of model `M` against `R` over `harness`, each a sequence of `steps` steps
/// (as `proptest_state_machine`'s `test_sequential` does, with the harness), and panics with the
/// minimal failing case, shrunk, if one fails.
pub(crate) fn run_model<M: Spec, R: Real<M>>(
    harness: &dyn Harness,
    cases: u32,
    steps: Range<usize>,
) {
    let mut runner = TestRunner::new(config(cases));
    let strategy = Reference::<M>::sequential_strategy(steps);
    let result = runner.run(&strategy, |(mut model, steps, seen)| {
        let (start, seed) = model.start();
        let world = World::new(harness, start, seed);
        let clock = world.clock.clone();
        let mut real = R::init(world, &model);
        for step in steps {
            // Before shrinking, tell the strategy which steps ran: shrinking drops the rest.
            if let Some(seen) = &seen {
                seen.fetch_add(1, Ordering::SeqCst);
            }
            move_model(&mut model, &step);
            match M::clock_move(&step) {
                Some(by) => clock.advance(by),
                None => real.apply(&model, step),
            }
            real.check(&model);
        }
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, (model, steps, _))) => {
            panic!("{why}\nminimal failing case: {model:#?}\nsteps: {steps:#?}")
        }
        Err(e) => panic!("{e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Common constants, strategies and checks of the models.

/// The host's code key in every model test.
pub(crate) const KEY: [u8; 32] = [42; 32];

/// SEC-04: code mails per address per hour; SEC-07: wrong code entries per key per hour.
pub(crate) const MAILS_PER_HOUR: usize = 10;
/// SEC-07.
pub(crate) const GUESSES_PER_HOUR: usize = 10;
/// SEC-04: codes one flow may send.
pub(crate) const CODES_PER_FLOW: u8 = 5;
/// RS-04, RI-04: wrong entries that void a code.
pub(crate) const WRONG_ENTRIES: u8 = 5;

/// 30 minutes: a code's lifetime (FL-05, RS-04, RI-04, SE-06), the lockout (LOGIN-02), RS-07.
pub(crate) fn minutes_30() -> TimeDelta {
    TimeDelta::minutes(30)
}

/// CAL-02: the first instant the grace period is over, 2026-02-01T00:00+09:00.
pub(crate) fn grace_over() -> Instant {
    utc("2026-02-01T00:00:00+09:00")
}

/// CAL-03: the first instant of the fee notice window, 2026-01-01T00:00+09:00.
pub(crate) fn window_opens() -> Instant {
    utc("2026-01-01T00:00:00+09:00")
}

/// CAL-03, CAL-04: the first instant after the window, and of the new fee: 2026-04-01T00:00+09:00.
pub(crate) fn fee_changes() -> Instant {
    utc("2026-04-01T00:00:00+09:00")
}

/// CAL-01: the policy dates, and the UTC midnights a wrong time zone would use instead.
pub(crate) fn calendar_marks() -> Vec<Instant> {
    vec![
        window_opens(),
        utc("2026-01-01T00:00:00Z"),
        grace_over(),
        utc("2026-02-01T00:00:00Z"),
        fee_changes(),
        utc("2026-04-01T00:00:00Z"),
    ]
}

/// The test's proptest configuration: `default_cases` cases unless `PROPTEST_CASES` says
/// otherwise, so a long run is one environment variable away.
pub(crate) fn config(default_cases: u32) -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default_cases;
    }
    config.failure_persistence = None;
    config
}

/// Marks for clock moves ([`advance`]): when the hits of `budgets` stop counting, and 30 minutes
/// after each of `starts` (a code's lifetime, a step's deadline).
pub(crate) fn marks<'a>(
    budgets: impl IntoIterator<Item = &'a Budgets>,
    starts: impl IntoIterator<Item = Instant>,
) -> Vec<Instant> {
    let mut marks: Vec<Instant> = budgets.into_iter().flat_map(Budgets::ends).collect();
    marks.extend(starts.into_iter().map(|start| start + minutes_30()));
    marks
}

/// A start instant: around the policy dates (the crate's own strategy), or an ordinary day.
pub(crate) fn start_instant() -> BoxedStrategy<Instant> {
    prop_oneof![
        3 => strategies::instant_around(&Policy::default()),
        1 => Just(utc("2026-01-10T12:00:00+09:00")),
    ]
    .boxed()
}

/// A clock move forward: short and long steps, and moves onto each of `marks` still ahead of
/// `now`, a millisecond before, on, or after it (the 30-minute edges, the policy dates).
pub(crate) fn advance(now: Instant, marks: &[Instant]) -> BoxedStrategy<TimeDelta> {
    let fixed = vec![
        TimeDelta::milliseconds(1),
        TimeDelta::seconds(1),
        TimeDelta::minutes(10),
        TimeDelta::minutes(29) + TimeDelta::seconds(59),
        TimeDelta::minutes(30),
        TimeDelta::hours(1),
        TimeDelta::days(1),
    ];
    let onto: Vec<TimeDelta> = marks
        .iter()
        .flat_map(|mark| [-1, 0, 1].map(|ms| *mark - now + TimeDelta::milliseconds(ms)))
        .filter(|delta| *delta > TimeDelta::zero())
        .collect();
    let fixed = proptest::sample::select(fixed);
    if onto.is_empty() {
        fixed.boxed()
    } else {
        prop_oneof![1 => fixed, 2 => proptest::sample::select(onto)].boxed()
    }
}

/// An index below `all`, one of `preferred` most of the time (e.g. a flow at the step an input
/// belongs to).
pub(crate) fn pick(preferred: Vec<usize>, all: usize) -> BoxedStrategy<usize> {
    if preferred.is_empty() {
        (0..all).boxed()
    } else {
        prop_oneof![4 => proptest::sample::select(preferred), 1 => 0..all].boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// Values.

/// Six distinct email addresses from the crate's strategy, digits turned into letters (so a
/// code is never mistaken for part of one), and a seventh: the first in upper case, the same
/// address (VAL-04).
pub(crate) fn address_pool() -> BoxedStrategy<Vec<String>> {
    let lettered = strategies::email_address().prop_map(|a| {
        a.as_str()
            .chars()
            .map(|c| match c.to_digit(10) {
                Some(d) => char::from(b'g' + d as u8),
                None => c,
            })
            .collect::<String>()
    });
    proptest::collection::vec(lettered, 6)
        .prop_filter("distinct", |pool| {
            pool.iter()
                .enumerate()
                .all(|(i, a)| pool[..i].iter().all(|b| !same_address(a, b)))
        })
        .prop_map(|mut pool| {
            pool.push(pool[0].to_ascii_uppercase());
            pool
        })
        .boxed()
}

/// An address field: one of the pool ([`address_pool`]), or text that is not an address.
#[derive(Debug, Clone)]
pub(crate) enum Addr {
    /// The pool's address at this index.
    Pool(usize),
    /// Not an address (VAL-04).
    Bad(String),
}

impl Addr {
    /// One of a pool of `pool` addresses, with weight `weight` against 1 for a bad address.
    pub fn any(pool: usize, weight: u32) -> BoxedStrategy<Addr> {
        prop_oneof![
            weight => (0..pool).prop_map(Addr::Pool),
            1 => bad_address().prop_map(Addr::Bad),
        ]
        .boxed()
    }

    /// The text typed.
    pub fn text(&self, pool: &[String]) -> String {
        match self {
            Addr::Pool(i) => pool[*i].clone(),
            Addr::Bad(text) => text.clone(),
        }
    }
}

/// VAL-04: two addresses are the same address when equal ignoring ASCII case.
pub(crate) fn same_address(a: &str, b: &str) -> bool {
    a.trim_matches(' ')
        .eq_ignore_ascii_case(b.trim_matches(' '))
}

/// Text that is not an email address (VAL-04), from the crate's strategy.
pub(crate) fn bad_address() -> BoxedStrategy<String> {
    strategies::invalid_email_address().boxed()
}

/// A new password as typed: valid (VAL-06), breaking one clause, or the user ID in another case.
pub(crate) fn typed_password(user: UserId) -> BoxedStrategy<String> {
    let rules = crate::values::PasswordRules::default();
    let breaking = strategies::password_text_breaking;
    prop_oneof![
        6 => strategies::valid_password_text(rules),
        1 => breaking(PasswordClause::Length { min: 8, max: 16 }),
        1 => breaking(PasswordClause::Characters),
        1 => breaking(PasswordClause::NoLetter),
        1 => breaking(PasswordClause::NoDigit),
        1 => proptest::collection::vec(any::<bool>(), 14).prop_map(move |upper| {
            user.to_string()
                .chars()
                .zip(upper)
                .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
                .collect()
        }),
    ]
    .boxed()
}

/// A new password as typed ([`typed_password`]) and whether its confirmation is the same text
/// (mostly) or not.
#[derive(Debug, Clone)]
pub(crate) struct Typing {
    /// The password typed.
    pub text: String,
    /// Whether the confirmation repeats it.
    pub confirm_same: bool,
}

impl Typing {
    /// A new password for `user`, confirmed 9 times in 10.
    pub fn any(user: UserId) -> BoxedStrategy<Typing> {
        (typed_password(user), proptest::bool::weighted(0.9))
            .prop_map(|(text, confirm_same)| Typing { text, confirm_same })
            .boxed()
    }

    /// The confirmation typed: the password again, or a different text.
    pub fn confirmation(&self) -> String {
        if self.confirm_same {
            self.text.clone()
        } else {
            format!("{}!", self.text)
        }
    }
}

/// VAL-06, written from SPEC: the first clause `pw` breaks for `user`, if any.
pub(crate) fn val_06(pw: &str, user: &UserId) -> Option<PasswordClause> {
    const SYMBOLS: &str = "!#$%&()*+,-./:;<=>?@[]^_`{|}~";
    let n = pw.chars().count();
    if !(8..=16).contains(&n) {
        return Some(PasswordClause::Length { min: 8, max: 16 });
    }
    if !pw
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || SYMBOLS.contains(c))
    {
        return Some(PasswordClause::Characters);
    }
    if !pw.chars().any(|c| c.is_ascii_alphabetic()) {
        return Some(PasswordClause::NoLetter);
    }
    if !pw.chars().any(|c| c.is_ascii_digit()) {
        return Some(PasswordClause::NoDigit);
    }
    if pw.eq_ignore_ascii_case(&user.to_string()) {
        return Some(PasswordClause::SameAsUserId);
    }
    None
}

/// The VAL-06 refusal for `clause`.
pub(crate) fn password_error(clause: PasswordClause) -> PortalError {
    FlowError::Value(ValueError::Password(clause)).into()
}

/// Any VAL-04/VAL-07 parse refusal; [`same_error`] compares value errors other than VAL-06's by
/// kind only (the model does not re-derive which character was wrong).
pub(crate) fn value_error() -> PortalError {
    FlowError::Value(ValueError::EmailEmpty).into()
}

/// A code entry on a flow, as the real side makes it: the flow, what is typed, and the SEC-07
/// budget key its wrong entries count against (`None`: the flow is not at a code entry).
#[derive(Debug, Clone)]
pub(crate) struct CodeEntry {
    /// The flow.
    pub flow: usize,
    /// What is typed.
    pub typed: Typed,
    /// The budget key.
    pub key: Option<String>,
}

impl CodeEntry {
    /// An entry of `typed` on `flow`, wrong entries counted against `key`.
    pub fn new(flow: usize, typed: &Typed, key: Option<String>) -> CodeEntry {
        let typed = typed.clone();
        CodeEntry { flow, typed, key }
    }
}

/// A billing prefecture field (RS-02, RI-03): mostly one of the choices offered, else any
/// prefecture or text that names none.
#[derive(Debug, Clone)]
pub(crate) enum PrefField {
    /// One of the choices, when the flow offers some; else a prefecture code.
    Offered(proptest::sample::Index),
    /// Any prefecture.
    Any(Prefecture),
    /// Not a prefecture code (VAL-01).
    Bad(String),
}

impl PrefField {
    /// Any field; `bad` are the texts that name no prefecture.
    pub fn any(bad: &[&str]) -> BoxedStrategy<PrefField> {
        let bad: Vec<String> = bad.iter().map(|text| (*text).to_owned()).collect();
        prop_oneof![
            8 => any::<proptest::sample::Index>().prop_map(PrefField::Offered),
            1 => strategies::prefecture().prop_map(PrefField::Any),
            1 => proptest::sample::select(bad).prop_map(PrefField::Bad),
        ]
        .boxed()
    }

    /// The text typed, given the choices the flow offers, if it is at the choice.
    pub fn typed(&self, choices: Option<&Vec<Prefecture>>) -> String {
        match (self, choices) {
            (PrefField::Offered(i), Some(choices)) => choices[i.index(choices.len())].to_string(),
            (PrefField::Offered(i), None) => format!("{:02}", i.index(47) + 1),
            (PrefField::Any(p), _) => p.to_string(),
            (PrefField::Bad(text), _) => text.clone(),
        }
    }
}

/// What the user types into a code field, resolved against the codes mailed so far.
#[derive(Debug, Clone)]
pub(crate) enum Typed {
    /// The newest code, as mailed (or a guess when none was mailed).
    Right,
    /// The newest code with surrounding spaces: trimmed, still right (VAL-07).
    Padded,
    /// A code certainly different from the newest one.
    Wrong(u32),
    /// The code mailed before the newest one, if different (RS-04: only the newest is valid).
    Stale,
    /// Not exactly the right number of half-width digits (VAL-07): a format error, not counted.
    Malformed(String),
}

impl Typed {
    /// Whether the model should take this as the right code, given that the newest code reached
    /// the user.
    pub fn is_right(&self, mailed: bool) -> bool {
        mailed && matches!(self, Typed::Right | Typed::Padded)
    }

    /// Whether this is a format error (VAL-07).
    pub fn malformed(&self) -> bool {
        matches!(self, Typed::Malformed(_))
    }
}

/// How a test case behaves: most follow the procedure, some guess codes (SEC-07), some ask for
/// codes again and again (SEC-04).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mood {
    Usual,
    Guessing,
    Bombing,
}

impl Mood {
    /// Any mood, mostly the usual one.
    pub fn any() -> BoxedStrategy<Mood> {
        prop_oneof![3 => Just(Mood::Usual), 1 => Just(Mood::Guessing), 1 => Just(Mood::Bombing)]
            .boxed()
    }

    /// The weight of a right code entry (against 6 for a wrong one).
    pub fn right(self) -> u32 {
        if self == Mood::Guessing { 1 } else { 5 }
    }

    /// The weight of a step that mails a code, given its usual weight.
    pub fn mailing(self, usual: u32) -> u32 {
        if self == Mood::Bombing {
            usual * 4
        } else {
            usual
        }
    }
}

/// A code entry of `n` digits, the right code with weight `right` against 6 for a wrong one (a
/// test case that guesses a lot has a low `right`).
pub(crate) fn typed(n: usize, right: u32) -> BoxedStrategy<Typed> {
    let pattern_short = format!("[0-9]{{{}}}", n - 1);
    let pattern_long = format!("[0-9]{{{}}}", n + 1);
    let full_width = format!("[０-９]{{{n}}}");
    let letters = format!("[a-z]{{{n}}}");
    prop_oneof![
        right => Just(Typed::Right),
        1 => Just(Typed::Padded),
        6 => any::<u32>().prop_map(Typed::Wrong),
        1 => Just(Typed::Stale),
        1 => prop_oneof![
            proptest::string::string_regex(&pattern_short).unwrap(),
            proptest::string::string_regex(&pattern_long).unwrap(),
            proptest::string::string_regex(&full_width).unwrap(),
            proptest::string::string_regex(&letters).unwrap(),
            Just(String::new()),
        ]
        .prop_map(Typed::Malformed),
    ]
    .boxed()
}

/// The text typed for `typed`, given the codes mailed (oldest first) of `n` digits.
pub(crate) fn resolve(typed: &Typed, n: usize, mailed: &[String]) -> String {
    let modulus = 10u64.pow(n as u32);
    let current = mailed.last();
    let other = |k: u32| -> String {
        let base: u64 = current.map_or(0, |c| c.parse().unwrap_or(0));
        let offset = 1 + u64::from(k) % (modulus - 1);
        format!("{:0n$}", (base + offset) % modulus)
    };
    match typed {
        Typed::Right => current.cloned().unwrap_or_else(|| other(0)),
        Typed::Padded => format!(" {} ", current.cloned().unwrap_or_else(|| other(0))),
        Typed::Wrong(k) => other(*k),
        Typed::Stale => match mailed.len().checked_sub(2).map(|i| &mailed[i]) {
            Some(previous) if Some(previous) != current => previous.clone(),
            _ => other(1),
        },
        Typed::Malformed(text) => text.clone(),
    }
}

/// The code a T1 or T2 mail delivers, if it is one: the line after `[確認コード]` or
/// `[ワンタイムパスワード]`.
pub(crate) fn code_in(mail: &Mail) -> Option<String> {
    mail.code().map(str::to_owned)
}

/// A code mail (T1, T2) rather than a notice mail.
pub(crate) fn is_code_mail(mail: &Mail) -> bool {
    mail.subject == "確認コード発行通知(介護保険)"
        || mail.subject == "ワンタイムパスワード発行通知(介護保険)"
}

// ---------------------------------------------------------------------------------------------
// Hourly budgets, for the models.

/// Hits of one hourly budget (SEC-04, SEC-07): a hit counts for one hour after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Hourly(Vec<Instant>);

impl Hourly {
    /// Hits within the hour before `now` (an hour after a hit, it no longer counts), and hits
    /// stamped after `now`: a clock that runs behind never forgets a hit (SEC-07).
    pub fn count(&self, now: Instant) -> usize {
        self.0
            .iter()
            .filter(|&&t| now - t < TimeDelta::hours(1))
            .count()
    }

    /// Whether `limit` hits are used up at `now`.
    pub fn full(&self, now: Instant, limit: usize) -> bool {
        self.count(now) >= limit
    }

    /// Records a hit at `now`.
    pub fn spend(&mut self, now: Instant) {
        self.0.push(now);
    }

    /// When each hit stops counting: marks for clock moves.
    pub fn ends(&self) -> impl Iterator<Item = Instant> + '_ {
        self.0.iter().map(|t| *t + TimeDelta::hours(1))
    }
}

/// Hourly budgets by key (an address lower-cased, or a user ID).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Budgets(BTreeMap<String, Hourly>);

impl Budgets {
    /// Whether `key`'s budget of `limit` is used up at `now`.
    pub fn full(&self, key: &str, now: Instant, limit: usize) -> bool {
        self.0
            .get(&key.to_ascii_lowercase())
            .is_some_and(|h| h.full(now, limit))
    }

    /// Spends one of `key`'s budget at `now`.
    pub fn spend(&mut self, key: &str, now: Instant) {
        self.0
            .entry(key.to_ascii_lowercase())
            .or_default()
            .spend(now);
    }

    /// When hits stop counting: marks for clock moves.
    pub fn ends(&self) -> Vec<Instant> {
        self.0.values().flat_map(Hourly::ends).collect()
    }
}

/// The hourly budgets a model spends: code mails by address (SEC-04) and wrong code entries by
/// budget key (SEC-07).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Spent {
    /// Code mails, by address.
    pub mails: Budgets,
    /// Wrong code entries, by budget key.
    pub guesses: Budgets,
}

impl Spent {
    /// Marks for clock moves: when hits stop counting, and 30 minutes after each of `starts`.
    pub fn marks(&self, starts: impl IntoIterator<Item = Instant>) -> Vec<Instant> {
        marks([&self.mails, &self.guesses], starts)
    }
}

// ---------------------------------------------------------------------------------------------
// What the model expects of one step.

/// What SPEC says of a step's outcome, apart from the flow's own details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Accepted.
    Ok,
    /// Refused with one of these errors (SPEC does not order them), changing nothing.
    Refused(Vec<PortalError>),
    /// Refused with this error, the refusal itself counted (a wrong code, a failed login).
    Counted(PortalError),
}

impl Verdict {
    /// A refusal with one possible error.
    pub fn refused(e: impl Into<PortalError>) -> Verdict {
        Verdict::Refused(vec![e.into()])
    }

    /// A refusal counted.
    pub fn counted(e: impl Into<PortalError>) -> Verdict {
        Verdict::Counted(e.into())
    }
}

/// Collects the refusals that apply to a step: SPEC does not order them, so the flow may answer
/// with any of them.
#[derive(Debug, Default)]
pub(crate) struct Refusals(Vec<PortalError>);

impl Refusals {
    /// Adds `e` if `applies`.
    pub fn check(&mut self, applies: bool, e: impl Into<PortalError>) -> &mut Self {
        if applies {
            self.0.push(e.into());
        }
        self
    }

    /// Whether any refusal applies.
    pub fn any(&self) -> bool {
        !self.0.is_empty()
    }

    /// The verdict: refused with any of them.
    pub fn verdict(self) -> Verdict {
        Verdict::Refused(self.0)
    }
}

/// The state of a flow in a model.
pub(crate) trait FlowAt: Clone {
    /// The refusal of any input, if the flow has ended (`戻る`, finished, voided).
    fn ended(&self) -> Option<PortalError>;

    /// What `fields` takes from the state, when the flow is at the step an input belongs to;
    /// otherwise the input's refusal: the flow's end, or `UnexpectedInput`.
    fn on<T>(&self, fields: impl FnOnce(Self) -> Option<T>) -> Result<T, Verdict> {
        if let Some(e) = self.ended() {
            return Err(Verdict::refused(e));
        }
        fields(self.clone()).ok_or_else(|| Verdict::refused(unexpected()))
    }
}

/// Implements [`FlowAt`] for a model's state enum: `ended!(At { Gone => PortalError::NoSuchFlow,
/// Done => FlowError::FlowFinished })` names its ended states and their refusals.
macro_rules! ended {
    ($at:ident { $($variant:ident => $refusal:expr),* $(,)? }) => {
        impl super::FlowAt for $at {
            fn ended(&self) -> Option<PortalError> {
                match self {
                    $($at::$variant => Some($refusal.into()),)*
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use ended;

/// `fields!(flow, At::Step => a, b)`: the fields `a` and `b` (a tuple, or the one field alone)
/// of the `flow` state, if it is at `At::Step`.
macro_rules! fields {
    ($at:expr, $variant:path => $($field:ident),+) => {
        match $at {
            $variant { $($field,)* .. } => Some(($($field),*)),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    };
}
pub(crate) use fields;

/// `on!(flow, At::Step => a, b)`: the fields `a` and `b` (a tuple, or the one field alone) of
/// the `flow` state, when it is at `At::Step`; otherwise returns the input's refusal
/// ([`FlowAt::on`]) from the enclosing function.
macro_rules! on {
    ($at:expr, $variant:path => $($field:ident),+) => {
        match super::FlowAt::on(&$at, |at| super::fields!(at, $variant => $($field),+)) {
            Ok(fields) => fields,
            Err(refused) => return refused,
        }
    };
}
pub(crate) use on;

/// Whether `actual` is the error `expected` names: VAL-06 refusals by clause, other value
/// errors by kind, `UnexpectedInput` by kind, the rest exactly.
pub(crate) fn same_error(actual: &PortalError, expected: &PortalError) -> bool {
    use FlowError::{UnexpectedInput, Value};
    match (actual, expected) {
        (PortalError::Flow(Value(ValueError::Password(a))), PortalError::Flow(Value(e))) => {
            *e == ValueError::Password(*a)
        }
        (PortalError::Flow(Value(a)), PortalError::Flow(Value(e))) => {
            !matches!(a, ValueError::Password(_)) && !matches!(e, ValueError::Password(_))
        }
        (PortalError::Flow(UnexpectedInput { .. }), PortalError::Flow(UnexpectedInput { .. })) => {
            true
        }
        _ => actual == expected,
    }
}

/// The `UnexpectedInput` refusal (compared by kind).
pub(crate) fn unexpected() -> PortalError {
    FlowError::UnexpectedInput {
        state: "",
        input: "",
    }
    .into()
}

// ---------------------------------------------------------------------------------------------
// The world: the real flows over a host's ports, and the invariants checked on every step.

/// What one call did besides its result.
#[derive(Debug)]
pub(crate) struct Seen<T> {
    /// The call's result.
    pub result: Result<T, PortalError>,
    /// Mails it queued.
    pub mails: Vec<Mail>,
    /// お知らせ it posted.
    pub notices: Vec<(OfficeNumber, Notice)>,
    /// Events it recorded.
    pub events: Vec<Event>,
    /// User IDs whose sessions it revoked.
    pub revoked: Vec<UserId>,
}

impl<T> Seen<T> {
    /// The same, with the result's value mapped.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Seen<U> {
        Seen {
            result: self.result.map(f),
            mails: self.mails,
            notices: self.notices,
            events: self.events,
            revoked: self.revoked,
        }
    }
}

/// The real flows over a host's ports, with what the invariants need.
pub(crate) struct World {
    /// The driver.
    pub portal: Portal,
    /// The host's CSPRNG, seeded.
    pub rng: StdRng,
    clock: Arc<VirtualClock>,
    store: Arc<Watched>,
    outbox: Arc<Outbox>,
    notices: Arc<Seeing<Notices, dyn NoticeBoard>>,
    events: Arc<Seeing<Events, dyn AuditLog>>,
    sessions: Arc<Seeing<SessionLog, dyn Sessions>>,
    ledger: Arc<dyn LedgerSetup>,
    hasher: Argon2Hasher,
    /// Codes mailed and passwords typed or issued: none may show anywhere else (SEC-01).
    codes: BTreeSet<String>,
    passwords: BTreeSet<String>,
    /// Code mails by address, and wrong code entries by budget key, with their instants.
    code_mails: BTreeMap<String, Vec<Instant>>,
    wrong_entries: BTreeMap<String, Vec<Instant>>,
}

impl World {
    /// A world over fresh ports of `harness`, at `start`, whose CSPRNG is seeded with `seed`.
    pub fn new(harness: &dyn Harness, start: Instant, seed: u64) -> World {
        let host = harness.ports();
        let clock = Arc::new(VirtualClock::new(start));
        let store = Arc::new(Watched::new(host.store));
        let outbox = Arc::new(Outbox::default());
        let notices = Arc::new(Seeing::new(host.notices));
        let events = Arc::new(Seeing::new(host.audit));
        let sessions = Arc::new(Seeing::new(host.sessions));
        let ledger = host.ledger.unwrap_or_else(|| Arc::new(Ledger::default()));
        // The models follow each flow's own deadlines over clock moves of days and months; the
        // OPS-02 flow lifetime, which ends any idle flow, is proved in tests/expiry.rs.
        let policy = Policy {
            flow_lifetime_minutes: u32::MAX,
            ..Policy::insecure_fast_hashing()
        };
        let hasher = Argon2Hasher::new(policy.hashing, CodeKey::from_bytes(KEY));
        let ports = Ports {
            store: store.clone(),
            clock: clock.clone(),
            mailer: outbox.clone(),
            notices: notices.clone(),
            audit: events.clone(),
            ledger: ledger.clone(),
            sessions: sessions.clone(),
        };
        World {
            portal: Portal::new(ports, policy, CodeKey::from_bytes(KEY)),
            rng: StdRng::seed_from_u64(seed),
            clock,
            store,
            outbox,
            notices,
            events,
            sessions,
            ledger,
            hasher,
            codes: BTreeSet::new(),
            passwords: BTreeSet::new(),
            code_mails: BTreeMap::new(),
            wrong_entries: BTreeMap::new(),
        }
    }

    /// The clock.
    pub fn now(&self) -> Instant {
        self.portal.now()
    }

    /// Registers office `number` in the ledger, billing to `billing`.
    pub fn register(&self, number: OfficeNumber, billing: Vec<Prefecture>) {
        let record = OfficeRecord {
            number,
            name: "請求事業所A".into(),
            postal_address: "東京都千代田区霞が関1-1-1".into(),
            phone: "03-0000-0000".into(),
            billing,
        };
        self.ledger
            .register(record)
            .expect("the ledger registers an office");
    }

    /// Provisions `account`, its security emails `emails` registered at their instants.
    pub fn create<'a>(
        &self,
        mut account: Account,
        emails: impl IntoIterator<Item = (&'a str, Instant)>,
    ) {
        add_emails(&mut account, emails);
        self.portal
            .create_account(account)
            .expect("the store creates an account");
    }

    /// A password hash for provisioning; the password becomes a secret to watch.
    pub fn hash(&mut self, password: &str) -> PasswordHash {
        self.secret_password(password);
        self.portal.hash_secret(password.as_bytes(), &mut self.rng)
    }

    /// The stored account of `user`, after checking that its password is `password` and that it
    /// has a security code and a temporary password as the model says (`rule` names the rules
    /// in the messages).
    pub fn account_as(
        &self,
        user: &UserId,
        password: &str,
        (security_code, temporary): (bool, bool),
        rule: &str,
    ) -> Account {
        let real = self
            .portal
            .account(user)
            .unwrap()
            .expect("the account exists");
        assert!(
            self.verifies(password, &real.password),
            "{rule}: the password of {user}"
        );
        let held = (real.security_code.is_some(), real.temporary.is_some());
        assert_eq!(
            held,
            (security_code, temporary),
            "{rule}: the security code and the temporary password of {user}"
        );
        real
    }

    /// Whether `password` is the one `hash` holds.
    pub fn verifies(&self, password: &str, hash: &PasswordHash) -> bool {
        self.hasher.verify(password.as_bytes(), hash)
    }

    /// Watches `password` from now on: it may show nowhere (SEC-01, MAIL-01).
    pub fn secret_password(&mut self, password: &str) {
        self.passwords.insert(password.to_owned());
    }

    /// Watches a password `user` typed, if it obeys VAL-06 and is not itself a user ID: one that
    /// does not may be `user`'s own user ID, and one that is may be another account's of the
    /// office (a valid password), both of which records and screens show by design.
    pub fn typed_password(&mut self, password: &str, user: &UserId) {
        let a_user_id = password.to_ascii_uppercase().parse::<UserId>().is_ok();
        if val_06(password, user).is_none() && !a_user_id {
            self.secret_password(password);
        }
    }

    /// Runs one call under `verdict`, with wrong code entries counted against `guess_key`
    /// (SEC-07). Checks that the outcome is the verdict's, that a refusal changed nothing, and
    /// the cross-flow invariants; returns what the call did.
    pub fn call<T: Debug>(
        &mut self,
        verdict: &Verdict,
        guess_key: Option<&str>,
        f: impl FnOnce(&Portal, &mut StdRng) -> Result<T, PortalError>,
    ) -> Seen<T> {
        let store_before = self.store.snapshot();
        let (mails0, notices0, events0, revoked0) = (
            self.outbox.all().len(),
            self.notices.seen.all().len(),
            self.events.seen.all().len(),
            self.sessions.seen.revoked().len(),
        );
        let result = f(&self.portal, &mut self.rng);
        let seen = Seen {
            result,
            mails: self.outbox.all().split_off(mails0),
            notices: self.notices.seen.all().split_off(notices0),
            events: self.events.seen.all().split_off(events0),
            revoked: self.sessions.seen.revoked().split_off(revoked0),
        };
        match (verdict, &seen.result) {
            (Verdict::Ok, Ok(_)) => {}
            (Verdict::Refused(allowed), Err(e)) => {
                assert!(
                    allowed.iter().any(|a| same_error(e, a)),
                    "refused with {e:?}; the model allows {allowed:?}"
                );
                assert_eq!(
                    self.store.snapshot(),
                    store_before,
                    "a refusal ({e:?}) changed the store"
                );
                assert!(
                    seen.mails.is_empty() && seen.notices.is_empty() && seen.revoked.is_empty(),
                    "a refusal ({e:?}) mailed, noticed or revoked: {seen:?}"
                );
            }
            (Verdict::Counted(expected), Err(e)) => {
                assert!(
                    same_error(e, expected),
                    "refused with {e:?}; the model expects {expected:?}"
                );
            }
            (verdict, result) => panic!("the model expects {verdict:?}; the flow gave {result:?}"),
        }
        let now = self.now();
        for mail in &seen.mails {
            if let Some(code) = code_in(mail) {
                self.code_mails
                    .entry(mail.to.as_str().to_ascii_lowercase())
                    .or_default()
                    .push(now);
                self.codes.insert(code);
            }
        }
        if let (Some(key), Err(PortalError::Flow(FlowError::WrongCode { .. })))
        | (Some(key), Err(PortalError::Flow(FlowError::CodeExhausted))) =
            (guess_key, &seen.result)
            && matches!(verdict, Verdict::Counted(_))
        {
            self.wrong_entries
                .entry(key.to_ascii_lowercase())
                .or_default()
                .push(now);
        }
        self.check_budgets();
        self.check_no_leak(&seen);
        self.check_office_accounts();
        seen
    }

    /// OPS-04: every office's [`OfficeAccounts`](crate::account::OfficeAccounts) record lists
    /// exactly the accounts the store holds for it, each with its security email addresses, as
    /// the accounts were saved.
    fn check_office_accounts(&self) {
        use crate::account::OfficeAccounts;
        let records = self.store.snapshot().records;
        let mut derived: BTreeMap<String, OfficeAccounts> = BTreeMap::new();
        let mut stored: BTreeMap<String, OfficeAccounts> = BTreeMap::new();
        for (key, record) in &records {
            if key.starts_with("account/") {
                let account: Account =
                    serde_json::from_slice(&record.value).expect("a stored account parses");
                let office = account.user_id.office().to_string();
                derived.entry(office).or_default().record(&account);
            } else if let Some(office) = key.strip_prefix("office_accounts/") {
                let accounts = serde_json::from_slice(&record.value)
                    .expect("a stored office's accounts record parses");
                stored.insert(office.to_owned(), accounts);
            }
        }
        assert_eq!(stored, derived, "the offices' accounts records (OPS-04)");
    }

    /// SEC-04, SEC-07: within any hour, at most 10 code mails to one address and at most 10
    /// wrong code entries against one key, as the world saw them.
    fn check_budgets(&self) {
        let within_an_hour = |times: &[Instant], limit: usize, what: &str| {
            for (i, t) in times.iter().enumerate() {
                let n = times[i..]
                    .iter()
                    .filter(|u| **u - *t < TimeDelta::hours(1))
                    .count();
                assert!(n <= limit, "{n} {what} within an hour from {t}");
            }
        };
        for (to, times) in &self.code_mails {
            within_an_hour(times, MAILS_PER_HOUR, &format!("code mails to {to}"));
        }
        for (key, times) in &self.wrong_entries {
            within_an_hour(
                times,
                GUESSES_PER_HOUR,
                &format!("wrong code entries of {key}"),
            );
        }
    }

    /// Scans `text` for any watched secret (SEC-01); `allowed` is the one code a mail may carry.
    pub fn assert_no_secret(&self, text: &str, what: &str, allowed: Option<&str>) {
        for token in digit_runs(text) {
            assert!(
                !self.codes.contains(token) || Some(token) == allowed,
                "a code shows in {what}: {text}"
            );
        }
        for password in &self.passwords {
            assert!(
                !text.contains(password.as_str()),
                "a password shows in {what}: {text}"
            );
        }
    }

    /// SEC-01, SEC-05, MAIL-01: no secret in the store, the step's events, notices, result or
    /// error, nor in its mails beyond the one code each delivers. (Run by [`World::call`]; run it
    /// again after watching a secret the step itself revealed.)
    pub fn check_no_leak<T: Debug>(&self, seen: &Seen<T>) {
        for (key, record) in self.store.snapshot().records {
            let text = String::from_utf8_lossy(&record.value);
            self.assert_no_secret(&text, &format!("the record {key}"), None);
        }
        for event in &seen.events {
            self.assert_no_secret(&format!("{event:?}"), "an event", None);
            let json = serde_json::to_string(event).expect("events serialize");
            self.assert_no_secret(&json, "a serialized event", None);
        }
        for (_, notice) in &seen.notices {
            self.assert_no_secret(
                &format!("{}\n{}", notice.title, notice.body),
                "a notice",
                None,
            );
        }
        for mail in &seen.mails {
            let own = code_in(mail);
            let text = format!("{}\n{}\n{mail:?}", mail.subject, mail.body);
            self.assert_no_secret(&text, "a mail", own.as_deref());
        }
        match &seen.result {
            Ok(value) => self.assert_no_secret(&format!("{value:?}"), "a result", None),
            Err(e) => {
                let text = format!("{e:?}\n{e}\n{}", e.message());
                self.assert_no_secret(&text, "an error", None);
            }
        }
    }
}

/// Registers `emails` as `account`'s security emails, each at its instant.
pub(crate) fn add_emails<'a>(
    account: &mut Account,
    emails: impl IntoIterator<Item = (&'a str, Instant)>,
) {
    for (address, at) in emails {
        let address = address.parse().expect("a model's address is valid");
        account
            .security_emails
            .add(address, at)
            .expect("a model's list is valid");
    }
}

/// A flow of the real portal: its id and the codes it mailed, oldest first (OTPs, T2, and
/// confirmation codes, T1).
pub(crate) struct RealFlow {
    /// The flow's id.
    pub id: FlowId,
    /// The OTPs mailed.
    pub otps: Vec<String>,
    /// The confirmation codes mailed.
    pub codes: Vec<String>,
}

impl RealFlow {
    /// A flow that mailed nothing yet.
    pub fn new(id: &FlowId) -> RealFlow {
        RealFlow {
            id: id.clone(),
            otps: Vec::new(),
            codes: Vec::new(),
        }
    }
}

/// Maximal runs of ASCII digits standing alone: not part of a word, a date (`2026-01-31`,
/// `2026年01月31日`), a time or a decimal (a code leaks as a number of its own).
fn digit_runs(text: &str) -> Vec<&str> {
    let joined = |c: char| c.is_ascii_alphanumeric() || "-:._年月日".contains(c);
    let mut runs = Vec::new();
    let mut start = None;
    let mut before = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (c.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if !before.is_some_and(joined) && !joined(c) {
                    runs.push(&text[s..i]);
                }
                start = None;
            }
            _ => {}
        }
        if start.is_none() {
            before = Some(c);
        }
    }
    runs
}

// ---------------------------------------------------------------------------------------------
// What the world sees of the host's ports.

/// The host's store, keeping the key of every record a successful commit wrote, so that the
/// world can read the whole store back through the public API ([`Watched::snapshot`]): the store
/// starts empty, so every record in it was written through here.
struct Watched {
    inner: Arc<dyn Store>,
    written: Mutex<BTreeMap<String, Key>>,
}

/// A page of records ([`Store::scan`]).
type Listed = Result<Vec<Versioned>, StoreError>;

/// Everything a store holds, as read through the public [`Store`] API.
#[derive(Debug, PartialEq, Eq)]
struct StoreState {
    /// Every record, by its key's `Display`.
    records: Vec<(String, Versioned)>,
    /// The outbox's ids in order (`None`: the store lists no outbox).
    outbox: Option<Vec<EffectId>>,
    /// The review queues that ever held an entry, listed (OPS-03).
    queues: Vec<Result<Vec<Versioned>, StoreError>>,
}

impl Watched {
    fn new(inner: Arc<dyn Store>) -> Watched {
        Watched {
            inner,
            written: Mutex::default(),
        }
    }

    /// The whole store: every key ever written (absent ones left out), the outbox, the queues.
    fn snapshot(&self) -> StoreState {
        let (texts, keys): (Vec<String>, Vec<Key>) = self
            .written
            .lock()
            .expect("not poisoned")
            .iter()
            .map(|(text, key)| (text.clone(), key.clone()))
            .unzip();
        let read = self.inner.load_many(&keys).expect("the store reads");
        let records = texts
            .into_iter()
            .zip(read)
            .filter_map(|(text, record)| Some((text, record?)))
            .collect();
        let ranges: BTreeMap<String, KeyRange> = keys
            .iter()
            .filter_map(|key| match key {
                Key::Queue(prefecture, ..) => Some(KeyRange::Queue(*prefecture)),
                _ => None,
            })
            .map(|range| (range.prefix(), range))
            .collect();
        StoreState {
            records,
            outbox: self
                .inner
                .outbox(usize::MAX)
                .ok()
                .map(|listed| listed.into_iter().map(|(id, _)| id).collect()),
            queues: ranges
                .values()
                .map(|range| self.inner.scan(range, None, usize::MAX))
                .collect(),
        }
    }
}

impl Store for Watched {
    fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        self.inner.load(key)
    }

    fn load_many(&self, keys: &[Key]) -> Result<Vec<Option<Versioned>>, StoreError> {
        self.inner.load_many(keys)
    }

    fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        self.inner.commit(writes)?;
        let mut written = self.written.lock().expect("not poisoned");
        for write in writes {
            if let Write::Put { key, .. } = write {
                written.insert(key.to_string(), key.clone());
            }
        }
        Ok(())
    }

    fn outbox(&self, limit: usize) -> Result<Vec<(EffectId, Versioned)>, StoreError> {
        self.inner.outbox(limit)
    }

    fn scan(&self, range: &KeyRange, after: Option<&Key>, limit: usize) -> Listed {
        self.inner.scan(range, after, limit)
    }

    fn purge(&self, now: Instant, limit: usize) -> Result<usize, StoreError> {
        self.inner.purge(now, limit)
    }
}

/// One of the host's write-only ports (or none), with the crate's in-memory one beside it, which
/// records what the world saw.
struct Seeing<M, H: ?Sized> {
    seen: M,
    host: Option<Arc<H>>,
}

impl<M: Default, H: ?Sized> Seeing<M, H> {
    fn new(host: Option<Arc<H>>) -> Self {
        Seeing {
            seen: M::default(),
            host,
        }
    }
}

impl<M, H: ?Sized> Seeing<M, H> {
    /// Hands an effect to the host's port, if any (`host`), then to the crate's (`seen`).
    fn tee(
        &self,
        host: impl FnOnce(&H) -> Result<(), PortError>,
        seen: impl FnOnce(&M) -> Result<(), PortError>,
    ) -> Result<(), PortError> {
        if let Some(port) = &self.host {
            host(port)?;
        }
        seen(&self.seen)
    }
}

impl NoticeBoard for Seeing<Notices, dyn NoticeBoard> {
    fn post(&self, to: OfficeNumber, notice: Notice) -> Result<(), PortError> {
        self.tee(
            |h| h.post(to, notice.clone()),
            |m| m.post(to, notice.clone()),
        )
    }

    fn deliver(&self, id: &EffectId, to: OfficeNumber, n: Notice) -> Result<(), PortError> {
        self.tee(|h| h.deliver(id, to, n.clone()), |m| m.post(to, n.clone()))
    }
}

impl AuditLog for Seeing<Events, dyn AuditLog> {
    fn record(&self, event: &Event) -> Result<(), PortError> {
        self.tee(|h| h.record(event), |m| m.record(event))
    }

    fn deliver(&self, id: &EffectId, event: &Event) -> Result<(), PortError> {
        self.tee(|h| h.deliver(id, event), |m| m.record(event))
    }
}

impl Sessions for Seeing<SessionLog, dyn Sessions> {
    fn revoke_all(&self, user: &UserId) -> Result<(), PortError> {
        self.tee(|h| h.revoke_all(user), |m| m.revoke_all(user))
    }

    fn deliver(&self, id: &EffectId, user: &UserId) -> Result<(), PortError> {
        self.tee(|h| h.deliver(id, user), |m| m.revoke_all(user))
    }
}

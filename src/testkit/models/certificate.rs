//! Model-based test of the certificate fee (FEE-01 … FEE-04, FEE-06, CAL-01 … CAL-04) against a
//! reference model written from SPEC.md: the 【証明書】 menu, estimates, and issue applications
//! with their password, confirmation, fee-change dialog and submission, under clock moves onto
//! and across 2026-01-01, 2026-04-01 in JST (and the UTC midnights a wrong time zone would use).

use super::allows_flows;
use super::{
    Harness, Refusals, Typing, Verdict, World, fee_changes, password_error, pick, start_instant,
    unexpected, val_06, window_opens,
};
use crate::calendar::Instant;
use crate::certificate::{CertificateInput, MenuChoice};
use crate::error::FlowError;
use crate::screen::{FieldKind, Screen, ScreenKind};
use crate::store::FlowId;
use crate::strategies;
use crate::values::{UserId, Yen};
use chrono::TimeDelta;
use proptest::prelude::*;

/// FEE-02: the notice on 【証明書】 (with ※) and on 【送信確認】 (without).
const ANNOUNCEMENT: &str =
    "2026年4月1日より、証明書発行手数料が13,200円から7,800円に変更されます。";
const APPLICATION: &str =
    "2026年4月1日以降に発行申請した証明書から、変更後の手数料（7,800円）が適用されます。";
/// FEE-03: the dialog's question.
const QUESTION: &str = "変更前の手数料（13,200円）で発行申請します。よろしいですか？";

/// Where a certificate flow is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// 【証明書】; `read`: `発行申請を行う前に` opened (FEE-04).
    Menu { read: bool },
    /// 【見積書】 (FEE-06), over the menu: the fee of the day it was made, and whether the notice
    /// was due then.
    Estimate { read: bool, fee: u32, notice: bool },
    /// 【証明書発行用パスワード入力】.
    Password,
    /// 【送信確認】 (the manual's 【送信確認(証明書)】).
    Confirm,
    /// FEE-03's dialog over 【送信確認】.
    Dialog,
    /// 【処理終了】, the fee charged.
    Done { fee: u32 },
}

impl At {
    fn title(self) -> &'static str {
        match self {
            At::Menu { .. } => "証明書",
            At::Estimate { .. } => "見積書",
            At::Password => "証明書発行用パスワード入力",
            At::Confirm | At::Dialog => "送信確認",
            At::Done { .. } => "処理終了",
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    Advance(TimeDelta),
    Start,
    Read { flow: usize },
    Next { flow: usize, apply: bool },
    Password { flow: usize, password: Typing },
    Back { flow: usize },
    Agree { flow: usize },
    DialogOk { flow: usize },
    DialogCancel { flow: usize },
    Redraw { flow: usize },
}

impl Step {
    /// The flow an input on a flow's screen names (not a start, a redraw or a clock move).
    fn input_flow(&self) -> Option<usize> {
        match self {
            Step::Read { flow }
            | Step::Next { flow, .. }
            | Step::Password { flow, .. }
            | Step::Back { flow }
            | Step::Agree { flow }
            | Step::DialogOk { flow }
            | Step::DialogCancel { flow } => Some(*flow),
            Step::Advance(_) | Step::Start | Step::Redraw { .. } => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Model {
    seed: u64,
    user: UserId,
    now: Instant,
    flows: Vec<At>,
    /// The fee of every certificate applied for, in order (FEE-01).
    certificates: Vec<u32>,
    /// The last step: SPEC's verdict, and the screen it leads to.
    verdict: Verdict,
    at: Option<At>,
}

impl Model {
    /// CAL-03: the notice window, 2026-01-01 to 2026-03-31 JST.
    fn in_window(&self) -> bool {
        window_opens() <= self.now && self.now < fee_changes()
    }

    /// CAL-04: the fee of an application submitted now.
    fn fee(&self) -> u32 {
        if self.now < fee_changes() {
            13_200
        } else {
            7_800
        }
    }

    /// FEE-01 … FEE-04, FEE-06: one input on a flow at `at`.
    fn input(&mut self, at: At, step: &Step) -> Result<At, Verdict> {
        if let At::Done { .. } = at {
            return Err(Verdict::refused(FlowError::FlowFinished));
        }
        let next = match (at, step) {
            (At::Menu { .. }, Step::Read { .. }) => At::Menu { read: true },
            (At::Menu { read }, Step::Next { apply: false, .. }) => At::Estimate {
                read,
                fee: self.fee(),
                notice: self.in_window(),
            },
            (At::Menu { read: false }, Step::Next { apply: true, .. }) => {
                return Err(Verdict::refused(FlowError::PrecautionsNotRead));
            }
            (At::Menu { read: true }, Step::Next { apply: true, .. }) => At::Password,
            (At::Estimate { read, .. }, Step::Back { .. }) => At::Menu { read },
            (At::Password, Step::Password { password, .. }) => {
                let mut refusals = Refusals::default();
                if let Some(clause) = val_06(&password.text, &self.user) {
                    refusals.check(true, password_error(clause));
                }
                refusals.check(!password.confirm_same, FlowError::ConfirmationMismatch);
                if refusals.any() {
                    return Err(refusals.verdict());
                }
                At::Confirm
            }
            (At::Password, Step::Back { .. }) => At::Menu { read: true },
            (At::Confirm, Step::Back { .. }) => At::Password,
            // FEE-03: within the window the dialog first; outside, submitted at once.
            (At::Confirm, Step::Agree { .. }) if self.in_window() => At::Dialog,
            (At::Confirm, Step::Agree { .. }) | (At::Dialog, Step::DialogOk { .. }) => {
                // FEE-01: the fee of the submit instant.
                self.certificates.push(self.fee());
                At::Done { fee: self.fee() }
            }
            (At::Dialog, Step::DialogCancel { .. }) => At::Confirm,
            _ => return Err(Verdict::Refused(vec![unexpected()])),
        };
        Ok(next)
    }
}

impl super::Spec for Model {
    super::clocked!();

    fn init() -> BoxedStrategy<Model> {
        (any::<u64>(), strategies::user_id(), start_instant())
            .prop_map(|(seed, user, now)| Model {
                seed,
                user,
                now,
                flows: Vec::new(),
                certificates: Vec::new(),
                verdict: Verdict::Ok,
                at: None,
            })
            .boxed()
    }

    fn steps(&self) -> BoxedStrategy<Step> {
        let marks = super::calendar_marks();
        let n = self.flows.len();
        let mut steps = vec![
            (
                2,
                super::advance(self.now, &marks)
                    .prop_map(Step::Advance)
                    .boxed(),
            ),
            (if n == 0 { 4 } else { 1 }, Just(Step::Start).boxed()),
        ];
        if n > 0 {
            let at = |want: fn(&At) -> bool| -> Vec<usize> {
                (0..n).filter(|i| want(&self.flows[*i])).collect()
            };
            // The step each flow is at, most often.
            let weight = |flows: &Vec<usize>| -> u32 { if flows.is_empty() { 1 } else { 5 } };
            let user = self.user;
            let unread = at(|a| *a == At::Menu { read: false });
            let read = at(|a| *a == At::Menu { read: true });
            let password = at(|a| *a == At::Password);
            let confirm = at(|a| *a == At::Confirm);
            let dialog = at(|a| *a == At::Dialog);
            let open = at(|a| !matches!(a, At::Done { .. }));
            steps.extend([
                (
                    weight(&unread),
                    pick(unread, n).prop_map(|flow| Step::Read { flow }).boxed(),
                ),
                (
                    weight(&read),
                    (pick(read, n), proptest::bool::weighted(0.8))
                        .prop_map(|(flow, apply)| Step::Next { flow, apply })
                        .boxed(),
                ),
                (
                    weight(&password),
                    (pick(password, n), Typing::any(user))
                        .prop_map(|(flow, password)| Step::Password { flow, password })
                        .boxed(),
                ),
                (
                    1,
                    pick(open.clone(), n)
                        .prop_map(|flow| Step::Back { flow })
                        .boxed(),
                ),
                (
                    weight(&confirm),
                    pick(confirm, n)
                        .prop_map(|flow| Step::Agree { flow })
                        .boxed(),
                ),
                (
                    weight(&dialog),
                    pick(dialog.clone(), n)
                        .prop_map(|flow| Step::DialogOk { flow })
                        .boxed(),
                ),
                (
                    1,
                    pick(dialog, n)
                        .prop_map(|flow| Step::DialogCancel { flow })
                        .boxed(),
                ),
                (
                    1,
                    pick(open, n).prop_map(|flow| Step::Redraw { flow }).boxed(),
                ),
            ]);
        }
        proptest::strategy::Union::new_weighted(steps).boxed()
    }

    allows_flows!(
        Read,
        Next,
        Password,
        Back,
        Agree,
        DialogOk,
        DialogCancel,
        Redraw
    );

    fn take(&mut self, step: &Step) {
        self.at = None;
        self.verdict = match step {
            Step::Advance(_) => unreachable!("the runner moves the clock"),
            Step::Start => {
                self.flows.push(At::Menu { read: false });
                self.at = Some(At::Menu { read: false });
                Verdict::Ok
            }
            Step::Redraw { flow } => {
                self.at = Some(self.flows[*flow]);
                Verdict::Ok
            }
            input => {
                let flow = input.input_flow().expect("an input on a flow");
                match self.input(self.flows[flow], input) {
                    Ok(at) => {
                        self.flows[flow] = at;
                        self.at = Some(at);
                        Verdict::Ok
                    }
                    Err(verdict) => verdict,
                }
            }
        };
    }
}

impl super::Real<Model> for Office {
    fn init(world: World, model: &Model) -> Office {
        world.register(model.user.office(), vec![model.user.billing()]);
        Office {
            world,
            user: model.user,
            flows: Vec::new(),
        }
    }

    /// FEE-01: the certificates applied for, and their fees, are the model's.
    fn check(&self, model: &Model) {
        let fees: Vec<u32> = self
            .world
            .portal
            .certificates(&self.user.office())
            .unwrap()
            .iter()
            .map(|c| c.fee.0)
            .collect();
        assert_eq!(fees, model.certificates, "FEE-01: the fees charged");
    }

    fn apply(&mut self, model: &Model, step: Step) {
        let user = self.user;
        let verdict = &model.verdict;
        let world = &mut self.world;
        let input = match &step {
            Step::Advance(_) => unreachable!("the runner moves the clock"),
            Step::Start => {
                let seen = world.call(verdict, None, |portal, rng| {
                    portal.certificate_start(&user, rng)
                });
                let (id, screen) = seen.result.expect("started");
                self.flows.push(id);
                self.compare(&screen, model);
                return;
            }
            Step::Redraw { flow } => {
                let id = &self.flows[*flow];
                let seen = world.call(verdict, None, |portal, _| {
                    portal.certificate_screen(&user, id)
                });
                self.compare(&seen.result.expect("drawn"), model);
                return;
            }
            Step::Read { .. } => CertificateInput::ReadPrecautions,
            Step::Next { apply, .. } => CertificateInput::Next(if *apply {
                MenuChoice::Apply
            } else {
                MenuChoice::Estimate
            }),
            Step::Password { password, .. } => {
                world.typed_password(&password.text, &user);
                let confirm = password.confirmation();
                CertificateInput::EnterPassword {
                    password: crate::values::Password::new(password.text.as_str()),
                    confirm: crate::values::Password::new(confirm),
                }
            }
            Step::Back { .. } => CertificateInput::Back,
            Step::Agree { .. } => CertificateInput::AgreeAndSubmit,
            Step::DialogOk { .. } => CertificateInput::DialogOk,
            Step::DialogCancel { .. } => CertificateInput::DialogCancel,
        };
        let flow = step.input_flow().expect("handled above");
        let id = &self.flows[flow];
        let seen = world.call(verdict, None, |portal, rng| {
            portal.certificate_input(&user, id, input, rng)
        });
        if let Ok(screen) = &seen.result {
            self.compare(screen, model);
        }
    }
}

/// The value `screen` shows read-only under 《label》 (the transcript's `《label》 value`).
fn shown(screen: &Screen, label: &str) -> Option<String> {
    screen
        .fields()
        .find(|f| f.kind == FieldKind::Shown && f.label == label)
        .and_then(|f| f.value.clone())
}

struct Office {
    world: World,
    user: UserId,
    flows: Vec<FlowId>,
}

impl Office {
    /// The screen is the model's, drawn at the request's instant: the title, the fee of now
    /// (FEE-01, FEE-06), the notice within the window only (FEE-02), the dialog (FEE-03).
    fn compare(&self, screen: &Screen, model: &Model) {
        let at = model.at.expect("an accepted step leads to a screen");
        assert_eq!(screen.title, at.title(), "the screen");
        let dialog = if at == At::Dialog {
            ScreenKind::Dialog
        } else {
            ScreenKind::Page
        };
        assert_eq!(screen.kind, dialog, "FEE-03: the dialog is a dialog");
        let window = model.in_window();
        // 《発行手数料》 shows `yen`.
        let fee = |yen: u32| shown(screen, "発行手数料") == Some(Yen(yen).to_string());
        let marked = format!("※{ANNOUNCEMENT}");
        match at {
            At::Menu { read } => {
                assert_eq!(screen.shows(&marked), window, "FEE-02 on 【証明書】");
                assert_eq!(screen.shows(APPLICATION), window, "FEE-02 on 【証明書】");
                assert_eq!(
                    screen.helps().any(|h| h.title == "発行申請を行う前に"),
                    read,
                    "FEE-04"
                );
            }
            At::Estimate {
                fee: made, notice, ..
            } => {
                assert!(fee(made), "FEE-06: the fee of the day it was made");
                assert_eq!(screen.shows(&marked), notice, "FEE-06: the notice");
            }
            At::Confirm => {
                assert!(fee(model.fee()), "FEE-01: the fee of now");
                assert_eq!(screen.shows("重要なお知らせ"), window, "FEE-02");
                assert_eq!(screen.shows(ANNOUNCEMENT), window, "FEE-02");
                assert!(!screen.shows(&marked), "FEE-02: without ※");
                assert_eq!(screen.shows(APPLICATION), window, "FEE-02");
            }
            At::Dialog => {
                assert!(screen.offers("OK") && screen.offers("キャンセル"), "FEE-03");
                assert!(screen.shows(QUESTION), "FEE-03");
            }
            At::Done { fee: charged } => {
                assert!(fee(charged), "FEE-01: the fee charged");
            }
            At::Password => assert!(!screen.fields().any(|f| f.label == "発行手数料")),
        }
    }
}

/// Runs the model over `harness`, `cases` cases (`PROPTEST_CASES` overrides it) of
/// sequences of 1 to 59 steps; panics with the minimal failing case.
pub fn run(harness: &dyn Harness, cases: u32) {
    super::run_model::<Model, Office>(harness, cases, 1..60);
}

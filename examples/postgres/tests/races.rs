//! Races across processes on PostgreSQL (issue 17): two OS processes, 8 threads each, share one
//! database (one scratch schema) and race through the blocking driver on the flows, budgets,
//! numbers and reviews the parent prepared. Each race runs trial by trial: both processes say
//! they are ready, the parent tells both to go, and their 16 threads start at once. The figures
//! each test prints are the ones its assertions check.
//!
//! Children are this test binary run again (`common/children.rs`); the job `guess`, `void`,
//! `mail`, `submit` or `review` names what their threads do ([`work`]).

#[path = "common/children.rs"]
mod children;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Barrier};

use children::{Child, reissue_form, tokyo_office};
use kaigo_seikyu::account::Account;
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::error::{FlowError, PortalError};
use kaigo_seikyu::memory::VirtualClock;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::Portal;
use kaigo_seikyu::reissue::{ApplicationStatus, Decision, Federation, Input};
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::store::{FlowId, StoreError};
use kaigo_seikyu::values::{Prefecture, UserId};
use kaigo_seikyu_postgres::{PgPorts, PgStore, ScratchSchema, database_url};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Threads per process.
const THREADS: usize = 8;
/// Processes.
const PROCESSES: usize = 2;
/// SEC-04, SEC-07: code mails per address, and wrong code entries per budget, in an hour.
const PER_HOUR: usize = 10;

/// The instant every process's clock shows: all the racing happens within one hour.
fn clock() -> Arc<VirtualClock> {
    Arc::new(VirtualClock::new(utc("2026-01-10T10:00:00+09:00")))
}

/// The policy of a job. For `guess`, a per-flow limit of wrong entries above the hourly budget,
/// so no flow is voided and every checked wrong guess answers `WrongCode`: counting those
/// answers counts exactly the guesses checked. The others keep RS-04's 5.
fn policy(job: &str) -> Policy {
    let fast = Policy::insecure_fast_hashing();
    match job {
        "guess" => Policy {
            max_wrong_code_entries: 100,
            ..fast
        },
        _ => fast,
    }
}

/// The blocking driver over the PostgreSQL ports on `store`.
fn portal(store: PgStore, job: &str) -> (PgPorts, Portal) {
    let host = PgPorts::new(store, clock());
    let portal = Portal::new(host.ports(), policy(job), CodeKey::from_bytes([7; 32]));
    (host, portal)
}

/// The child side: `JOB SCHEMA ME`. Reads the plan (lines `trial word…`, then `end`) from the
/// parent; for each trial says `ready`, waits for `go`, runs [`work`] on 8 threads that start
/// together, and says what each thread answered, as `trial answer`.
#[test]
fn child_process() {
    let Some(job) = children::job(120) else {
        return;
    };
    let [kind, schema, me] = &job[..] else {
        panic!("job {job:?}")
    };
    let me: usize = me.parse().expect("ME");
    let (_host, portal) = portal(children::store(schema, THREADS), kind);
    let mut plan: BTreeMap<usize, Vec<Vec<String>>> = BTreeMap::new();
    while let Some(line) = children::hear().filter(|l| l != "end") {
        let mut words = line.split(' ').map(str::to_owned);
        let trial = words.next().and_then(|t| t.parse().ok()).expect("a trial");
        plan.entry(trial).or_default().push(words.collect());
    }
    for (trial, targets) in &plan {
        children::say("ready");
        assert_eq!(children::hear().as_deref(), Some("go"));
        let start = Barrier::new(THREADS);
        let answers: Vec<Vec<String>> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (portal, start) = (&portal, &start);
                    s.spawn(move || {
                        start.wait();
                        work(kind, portal, targets, me * THREADS + t)
                    })
                })
                .collect();
            threads.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for answer in answers.concat() {
            children::say(&format!("{trial} {answer}"));
        }
    }
}

/// What racing thread `n` (of `PROCESSES * THREADS`) of a trial does, and the answers it got:
/// - `guess` (targets `flow wrong-code`): wrong OTPs at the flows in turn until the budget
///   refuses; answers `answered N`, the guesses checked;
/// - `void` (`flow wrong-code`): wrong OTPs at the flow until it is voided; answers
///   `wrong REMAINING` per guess checked, then `exhausted`;
/// - `mail` (`office address`): 3 resets of the office to the address; `started` or `refused`
///   each;
/// - `submit` (`flow`…): submits its share of the reissue flows; `number N` each;
/// - `review` (`number`): reviews the application, approving in process 0 and rejecting in 1;
///   `won P` or `lost`.
///
/// A lost race the driver's own re-runs did not settle (`Conflict`) is tried again, and answers
/// `conflict`.
fn work(kind: &str, portal: &Portal, targets: &[Vec<String>], n: usize) -> Vec<String> {
    let mut rng = rand::rng();
    let mut answers = Vec::new();
    let mut settle =
        |call: &mut dyn FnMut(&mut rand::rngs::ThreadRng) -> Result<String, PortalError>| {
            for _ in 0..1_000 {
                match call(&mut rng) {
                    Err(PortalError::Store(StoreError::Conflict)) => {
                        answers.push("conflict".into())
                    }
                    Ok(answer) => {
                        answers.push(answer.clone());
                        return answer;
                    }
                    Err(e) => panic!("{kind}: {e:?}"),
                }
            }
            panic!("{kind}: 1000 lost races in a row");
        };
    let flow = |i: usize| -> FlowId { targets[i % targets.len()][0].parse().expect("a flow id") };
    let word = |i: usize, w: usize| targets[i % targets.len()][w].as_str();
    let flow_error = |e: PortalError| match e {
        PortalError::Flow(e) => Ok(e),
        e => Err(e),
    };
    match kind {
        "guess" => {
            let mut checked = 0;
            for i in n.. {
                let refused = std::cell::Cell::new(false);
                settle(&mut |rng| match portal
                    .reset_enter_otp(&flow(i), word(i, 1), rng)
                    .map_err(flow_error)
                {
                    Err(Ok(FlowError::WrongCode { .. })) => Ok("checked".into()),
                    Err(Ok(FlowError::GuessBudgetExceeded)) => {
                        refused.set(true);
                        Ok("refused".into())
                    }
                    Err(Err(e)) => Err(e),
                    other => panic!("guess: {other:?}"),
                });
                if refused.get() {
                    break;
                }
                checked += 1;
            }
            answers.retain(|a| a == "conflict");
            answers.push(format!("answered {checked}"));
        }
        "void" => {
            let mut answer = String::new();
            while answer != "exhausted" {
                answer = settle(&mut |rng| match portal
                    .reset_enter_otp(&flow(0), word(0, 1), rng)
                    .map_err(flow_error)
                {
                    Err(Ok(FlowError::WrongCode { remaining })) => Ok(format!("wrong {remaining}")),
                    Err(Ok(FlowError::CodeExhausted)) => Ok("exhausted".into()),
                    Err(Err(e)) => Err(e),
                    other => panic!("void: {other:?}"),
                });
            }
        }
        "mail" => {
            for _ in 0..3 {
                settle(
                    &mut |rng| match portal.reset_start(word(0, 0), word(0, 1), rng) {
                        Ok(_) => Ok("started".into()),
                        Err(PortalError::Flow(FlowError::MailBudgetExceeded)) => {
                            Ok("refused".into())
                        }
                        Err(e) => Err(e),
                    },
                );
            }
        }
        "submit" => {
            for i in (n..targets.len()).step_by(PROCESSES * THREADS) {
                settle(&mut |rng| {
                    let (number, _) = portal.reissue_submit(&flow(i), rng)?;
                    Ok(format!("number {number}"))
                });
            }
        }
        "review" => {
            let decision = if n < THREADS {
                Decision::Approve {
                    clear_security_emails: false,
                }
            } else {
                Decision::Reject
            };
            let tokyo = Federation::of(Prefecture::TOKYO);
            settle(
                &mut |rng| match portal.reissue_review(tokyo, word(0, 0), decision, rng) {
                    Ok(_) => Ok(format!("won {}", n / THREADS)),
                    Err(PortalError::Flow(FlowError::AlreadyReviewed)) => Ok("lost".into()),
                    Err(e) => Err(e),
                },
            );
        }
        _ => panic!("unknown job {kind}"),
    }
    answers
}

/// Runs `job` in two processes on `schema`: sends both the plan, starts each trial when both
/// are ready, and returns what their threads answered, by trial.
fn race(schema: &str, job: &str, plan: &[String]) -> BTreeMap<usize, Vec<String>> {
    let trials: BTreeSet<&str> = plan.iter().filter_map(|l| l.split(' ').next()).collect();
    let mut processes: Vec<Child> = (0..PROCESSES)
        .map(|me| Child::spawn(&[job, schema, &me.to_string()]))
        .collect();
    for process in &mut processes {
        for line in plan {
            process.send(line);
        }
        process.send("end");
    }
    let mut answers: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut keep = |said: Vec<String>| {
        for line in said {
            let (trial, answer) = line.split_once(' ').expect("trial answer");
            let trial = trial.parse().expect("a trial");
            answers.entry(trial).or_default().push(answer.to_owned());
        }
    };
    for _ in &trials {
        for process in &mut processes {
            keep(process.until("ready"));
        }
        for process in &mut processes {
            process.send("go");
        }
    }
    for process in processes {
        keep(process.finish());
    }
    answers
}

/// How many of `answers` are `answer`.
fn count(answers: &[String], answer: &str) -> usize {
    answers.iter().filter(|a| *a == answer).count()
}

/// Lost races in all the answers (re-run until settled).
fn conflicts(answers: &BTreeMap<usize, Vec<String>>) -> usize {
    answers.values().map(|a| count(a, "conflict")).sum()
}

/// A fresh schema, and the driver on it in this process, for the parent to prepare a race.
struct Setup {
    scratch: ScratchSchema,
    host: PgPorts,
    portal: Portal,
    rng: StdRng,
}

impl Setup {
    fn new(url: &str, job: &str) -> Setup {
        let scratch = ScratchSchema::new(url).unwrap();
        let (host, portal) = portal(scratch.store().unwrap(), job);
        Setup {
            scratch,
            host,
            portal,
            rng: StdRng::seed_from_u64(17),
        }
    }

    /// An office of Tokyo (`1311{n:06}`) with an account whose security email is `registered`.
    fn office(&mut self, n: usize, registered: &str) -> String {
        let office = format!("1311{n:06}");
        let user: UserId = format!("KJ13{office}").parse().unwrap();
        let hash = self.portal.hash_secret(b"Initial-Pass1", &mut self.rng);
        let mut account = Account::new(user, hash);
        let at = self.portal.now();
        account
            .security_emails
            .add(registered.parse().unwrap(), at)
            .unwrap();
        self.portal.create_account(account).unwrap();
        office
    }

    /// A reset of `office` with its registered `address`, and the OTP it mailed.
    fn reset(&mut self, office: &str, address: &str) -> (FlowId, String) {
        let (flow, _) = self
            .portal
            .reset_start(office, address, &mut self.rng)
            .unwrap();
        (flow, self.code_to(address))
    }

    /// The code of the newest mail to `address`.
    fn code_to(&self, address: &str) -> String {
        let mail = self.host.last_mail_to(&address.parse().unwrap()).unwrap();
        mail.and_then(|m| m.code().map(str::to_owned))
            .expect("a code was mailed")
    }

    /// A count from the scratch schema, by a connection of the test's own.
    fn count(&self, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> i64 {
        let mut client = postgres::Client::connect(self.scratch.url(), postgres::NoTls).unwrap();
        let sql = sql.replace("kaigo_", &format!("\"{}\".kaigo_", self.scratch.name()));
        client.query_one(&sql, params).unwrap().get(0)
    }
}

/// A six-digit code none of `codes` is.
fn wrong_code(codes: &[String]) -> String {
    (0..)
        .map(|n: u32| format!("{n:06}"))
        .find(|c| !codes.contains(c))
        .unwrap()
}

/// SEC-07, SEC-02: two processes, 8 threads each, guess wrong OTPs at once at the four resets of
/// one user ID and address (one budget). Over 8 trials (a fresh user ID each), no budget has more
/// than 10 wrong entries checked within its hour, and each has exactly 10: the budget was raced
/// to its end, and no check's count was lost.
#[test]
fn sec_07_two_processes_never_check_an_eleventh_wrong_code() {
    const TRIALS: usize = 8;
    let Some(url) = database_url("sec_07_two_processes_never_check_an_eleventh_wrong_code") else {
        return;
    };
    let mut setup = Setup::new(&url, "guess");
    let mut plan = Vec::new();
    for trial in 0..TRIALS {
        let address = format!("registered-{trial}@jp");
        let office = setup.office(trial, &address);
        let flows: Vec<(FlowId, String)> = (0..4).map(|_| setup.reset(&office, &address)).collect();
        let otps: Vec<String> = flows.iter().map(|(_, otp)| otp.clone()).collect();
        let wrong = wrong_code(&otps);
        plan.extend(
            flows
                .iter()
                .map(|(flow, _)| format!("{trial} {flow} {wrong}")),
        );
    }
    let answers = race(setup.scratch.name(), "guess", &plan);
    assert_eq!(answers.len(), TRIALS);
    let mut checked = Vec::new();
    for (trial, answers) in &answers {
        let n: usize = answers
            .iter()
            .filter_map(|a| a.strip_prefix("answered "))
            .map(|n| n.parse::<usize>().unwrap())
            .sum();
        let threads = answers
            .iter()
            .filter(|a| a.starts_with("answered "))
            .count();
        assert_eq!(
            threads,
            PROCESSES * THREADS,
            "trial {trial}: every thread answered"
        );
        checked.push(n);
    }
    let over: usize = checked.iter().map(|n| n.saturating_sub(PER_HOUR)).sum();
    let total: usize = checked.iter().sum();
    let refused = TRIALS * PROCESSES * THREADS;
    println!(
        "SEC-07 race: {TRIALS} trials x {PROCESSES} processes x {THREADS} threads; {} guesses \
         ({total} checked, {refused} refused GuessBudgetExceeded, {} lost races re-run); wrong \
         entries checked per budget {checked:?} (limit {PER_HOUR}); {over} over budget",
        total + refused + conflicts(&answers),
        conflicts(&answers)
    );
    assert_eq!(over, 0, "guesses checked over the budget: {checked:?}");
    assert!(
        checked.iter().all(|n| *n == PER_HOUR),
        "budgets not used up: {checked:?}"
    );
}

/// RS-04, SEC-02: two processes, 8 threads each, guess wrong OTPs at once at one reset until
/// it is voided. Over 8 trials (a fresh user ID each), the flow answers `WrongCode` exactly 4
/// times, with 4, 3, 2 and 1 entries remaining, once each (no count lost or doubled), every
/// later guess `CodeExhausted`, and the right OTP is refused afterwards: the code was voided at
/// the 5th wrong entry.
#[test]
fn rs_04_two_processes_void_a_code_at_the_fifth_wrong_entry() {
    const TRIALS: usize = 8;
    let Some(url) = database_url("rs_04_two_processes_void_a_code_at_the_fifth_wrong_entry") else {
        return;
    };
    let mut setup = Setup::new(&url, "void");
    let mut flows = Vec::new();
    let mut plan = Vec::new();
    for trial in 0..TRIALS {
        let address = format!("voided-{trial}@jp");
        let office = setup.office(trial, &address);
        let (flow, otp) = setup.reset(&office, &address);
        plan.push(format!(
            "{trial} {flow} {}",
            wrong_code(std::slice::from_ref(&otp))
        ));
        flows.push((flow, otp));
    }
    let answers = race(setup.scratch.name(), "void", &plan);
    assert_eq!(answers.len(), TRIALS);
    for (trial, answers) in &answers {
        let mut remaining: Vec<&str> = answers
            .iter()
            .filter_map(|a| a.strip_prefix("wrong "))
            .collect();
        remaining.sort_unstable();
        assert_eq!(
            remaining,
            ["1", "2", "3", "4"],
            "trial {trial}: {answers:?}"
        );
        let (flow, otp) = &flows[*trial];
        let right = setup.portal.reset_enter_otp(flow, otp, &mut setup.rng);
        assert_eq!(
            right.unwrap_err(),
            PortalError::Flow(FlowError::CodeExhausted),
            "trial {trial}: the right OTP after the 5th wrong entry"
        );
    }
    let exhausted: usize = answers.values().map(|a| count(a, "exhausted")).sum();
    let wrong: usize = answers
        .values()
        .flatten()
        .filter(|a| a.starts_with("wrong "))
        .count();
    println!(
        "RS-04 race: {TRIALS} trials x {PROCESSES} processes x {THREADS} threads; {} guesses: \
         {wrong} answered WrongCode (4 per flow, with 4, 3, 2, 1 remaining once each: 0 lost \
         updates), {exhausted} CodeExhausted, {} lost races re-run; every right OTP refused \
         after",
        wrong + exhausted + conflicts(&answers),
        conflicts(&answers)
    );
}

/// SEC-04, SEC-02: two processes, 8 threads each, start 3 resets each at once for one office and
/// its registered address (48 requests for one address). Over 8 trials (a fresh address each),
/// exactly 10 start and mail their OTP and 38 are refused (`MailBudgetExceeded`): the mail table
/// holds exactly 10 code mails to the address, none over the hourly budget and none lost.
#[test]
fn sec_04_two_processes_never_mail_an_eleventh_code_in_an_hour() {
    const TRIALS: usize = 8;
    let Some(url) = database_url("sec_04_two_processes_never_mail_an_eleventh_code_in_an_hour")
    else {
        return;
    };
    let mut setup = Setup::new(&url, "mail");
    let mut plan = Vec::new();
    let mut addresses = Vec::new();
    for trial in 0..TRIALS {
        let address = format!("budget-{trial}@jp");
        let office = setup.office(trial, &address);
        plan.push(format!("{trial} {office} {address}"));
        addresses.push(address);
    }
    let answers = race(setup.scratch.name(), "mail", &plan);
    assert_eq!(answers.len(), TRIALS);
    setup.portal.deliver().unwrap();
    let mut mailed = Vec::new();
    for (trial, answers) in &answers {
        let (started, refused) = (count(answers, "started"), count(answers, "refused"));
        assert_eq!(started + refused, 3 * PROCESSES * THREADS, "trial {trial}");
        let mails = setup.count(
            "SELECT count(*) FROM kaigo_mails WHERE recipient = $1",
            &[&addresses[*trial]],
        );
        assert_eq!(
            (started, mails),
            (PER_HOUR, PER_HOUR as i64),
            "trial {trial}"
        );
        mailed.push(mails);
    }
    let started: usize = answers.values().map(|a| count(a, "started")).sum();
    println!(
        "SEC-04 race: {TRIALS} trials x {PROCESSES} processes x {THREADS} threads x 3 reset \
         starts = {} requests: {started} mailed, {} refused MailBudgetExceeded, {} lost races \
         re-run; code mails per address {mailed:?} (limit {PER_HOUR}); 0 over budget",
        TRIALS * PROCESSES * THREADS * 3,
        TRIALS * PROCESSES * THREADS * 3 - started,
        conflicts(&answers)
    );
}

/// VAL-08, RI-06, RI-08, SEC-02: two processes, 8 threads each, submit 64 reissue applications
/// of one month at once: they get U202601000001 … U202601000064, each once, and the month's
/// sequence ends at 64 (no gap, no duplicate, no lost claim). Then, application by application,
/// all 16 threads review it at once, process 0 approving and process 1 rejecting: exactly one
/// review takes effect (the others are refused `AlreadyReviewed`), and the application's status
/// is the winner's decision.
#[test]
fn val_08_ri_08_two_processes_number_gap_free_and_review_once() {
    const APPLICATIONS: usize = 64;
    let Some(url) = database_url("val_08_ri_08_two_processes_number_gap_free_and_review_once")
    else {
        return;
    };
    let mut setup = Setup::new(&url, "submit");
    let mut plan = Vec::new();
    for i in 0..APPLICATIONS {
        let (office, notify) = (format!("1322{i:06}"), format!("office-{i}@jp"));
        setup.host.insert_office(&tokyo_office(&office)).unwrap();
        let form = reissue_form(&office, &notify);
        let (flow, _) = setup.portal.reissue_start(&form, &mut setup.rng).unwrap();
        let code = setup.code_to(&notify);
        setup
            .portal
            .reissue_input(&flow, Input::EnterCode(&code), &mut setup.rng)
            .unwrap();
        plan.push(format!("0 {flow}"));
    }
    let answers = race(setup.scratch.name(), "submit", &plan);
    let mut numbers: Vec<&str> = answers[&0]
        .iter()
        .filter_map(|a| a.strip_prefix("number "))
        .collect();
    numbers.sort_unstable();
    let want: Vec<String> = (1..=APPLICATIONS)
        .map(|n| format!("U202601{n:06}"))
        .collect();
    assert_eq!(numbers, want, "gap-free, each number once");
    let last = setup.count(
        "SELECT last FROM kaigo_sequences WHERE month = '202601'",
        &[],
    );
    assert_eq!(last, APPLICATIONS as i64, "the month's sequence");
    let claims = conflicts(&answers);

    let plan: Vec<String> = want
        .iter()
        .enumerate()
        .map(|(trial, number)| format!("{trial} {number}"))
        .collect();
    let answers = race(setup.scratch.name(), "review", &plan);
    assert_eq!(answers.len(), APPLICATIONS);
    let tokyo = Federation::of(Prefecture::TOKYO);
    let mut approved = 0;
    for (trial, answers) in &answers {
        let won: Vec<&str> = answers
            .iter()
            .filter_map(|a| a.strip_prefix("won "))
            .collect();
        assert_eq!(
            won.len(),
            1,
            "{}: exactly one review: {answers:?}",
            want[*trial]
        );
        assert_eq!(count(answers, "lost"), PROCESSES * THREADS - 1);
        let status = setup
            .portal
            .reissue_application(tokyo, &want[*trial])
            .unwrap()
            .status;
        match (won[0], status) {
            ("0", ApplicationStatus::Approved { .. }) => approved += 1,
            ("1", ApplicationStatus::Rejected { .. }) => {}
            (winner, status) => panic!("process {winner} won, the status is {status:?}"),
        }
    }
    println!(
        "VAL-08/RI-08 race: {PROCESSES} processes x {THREADS} threads; {APPLICATIONS} \
         applications numbered U202601000001..={} (0 gaps, 0 duplicates, sequence at \
         {last}; {claims} lost races re-run); {APPLICATIONS} x {} concurrent reviews: exactly 1 \
         took effect each ({approved} approvals, {} rejections, {} refused AlreadyReviewed; {} \
         lost races re-run)",
        want[APPLICATIONS - 1],
        PROCESSES * THREADS,
        APPLICATIONS - approved,
        answers.values().map(|a| count(a, "lost")).sum::<usize>(),
        conflicts(&answers)
    );
}

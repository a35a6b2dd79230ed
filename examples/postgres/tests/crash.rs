//! Crashes on PostgreSQL (issue 17): a process serving requests through the blocking driver is
//! SIGKILLed mid-request, many times over, on one schema. After each kill nothing is
//! half-written, and a restart's one delivery brings every effect of every committed step to its
//! port, once per effect id, and nothing of a step that did not commit.
//!
//! Children are this test binary run again (`common/children.rs`).

#[path = "common/children.rs"]
mod children;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use children::{Child, reissue_form, tokyo_office};
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::memory::VirtualClock;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::{Portal, validate};
use kaigo_seikyu::ports::Clock;
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::store::{Budget, FlowKind, Key, Store};
use kaigo_seikyu::validate::Check;
use kaigo_seikyu_postgres::{PgPorts, PgStore, ScratchSchema, database_url};
use rand::RngExt as _;

/// Kills.
const RUNS: usize = 24;
/// Threads serving requests in a child.
const THREADS: usize = 4;
/// The offices in the ledger that children apply for a reissue for.
const OFFICES: usize = 8;

fn clock() -> Arc<VirtualClock> {
    Arc::new(VirtualClock::new(utc("2026-01-10T10:00:00+09:00")))
}

/// The blocking driver on `store`, delivering each step's effects right after its commit.
fn portal(store: PgStore) -> (PgPorts, Portal) {
    let host = PgPorts::new(store, clock());
    let portal = Portal::new(
        host.ports(),
        Policy::insecure_fast_hashing(),
        CodeKey::from_bytes([7; 32]),
    );
    (host, portal)
}

/// An office of the ledger.
fn office(i: usize) -> String {
    format!("1399{i:06}")
}

/// The child side: `SCHEMA RUN`. Says `started`, then serves requests on 4 threads until
/// killed: the even ones provision offices (a commit: the account and its audit event), the odd
/// ones start reissue applications (a commit: the flow and the code mail to a fresh address).
/// Says `account USER` or `mail ADDRESS` when a request returned.
#[test]
fn child_process() {
    let Some(job) = children::job(60) else {
        return;
    };
    let [schema, run] = &job[..] else {
        panic!("job {job:?}")
    };
    let (_host, portal) = portal(children::store(schema, THREADS));
    children::say("started");
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let portal = &portal;
            s.spawn(move || {
                let mut rng = rand::rng();
                for i in 0usize.. {
                    if t % 2 == 0 {
                        let user = format!("KJ1313{run:0>2}{t}{i:05}");
                        portal
                            .provision_new_office(&user, "Kari2026pass", &mut rng)
                            .unwrap();
                        children::say(&format!("account {user}"));
                    } else {
                        let notify = format!("crash-{run}-{t}-{i}@jp");
                        let office = office(i % OFFICES);
                        let form = reissue_form(&office, &notify);
                        portal.reissue_start(&form, &mut rng).unwrap();
                        children::say(&format!("mail {notify}"));
                    }
                }
            });
        }
    });
}

/// What the schema holds after a restart's delivery, read by a connection of the test's own,
/// every record checked on the way.
#[derive(Default)]
struct Seen {
    /// The accounts' user IDs.
    accounts: BTreeSet<String>,
    /// The notification addresses of the reissue flows.
    flows: BTreeSet<String>,
    /// Audit events by the user ID they provisioned: their effect ids.
    events: BTreeMap<String, Vec<String>>,
    /// Mails by recipient: their effect ids.
    mails: BTreeMap<String, Vec<String>>,
    /// Records in the schema.
    records: usize,
}

/// Reads the schema back. Every record must be one a step writes, under its own key (the key's
/// text is the `Display` of the key it parses to), and pass the checks the driver runs on every
/// record it reads (OPS-07): a half-written or torn record fails here.
fn read_back(scratch: &ScratchSchema, now: kaigo_seikyu::calendar::Instant) -> Seen {
    let policy = Policy::insecure_fast_hashing();
    let check = Check {
        now,
        policy: &policy,
    };
    let mut client = postgres::Client::connect(scratch.url(), postgres::NoTls).unwrap();
    let table = |name: &str| format!("\"{}\".{name}", scratch.name());
    let mut seen = Seen::default();
    let records = client
        .query(
            &format!("SELECT key, value FROM {}", table("kaigo_records")),
            &[],
        )
        .unwrap();
    for row in &records {
        let (text, value): (String, Vec<u8>) = (row.get(0), row.get(1));
        let (kind, rest) = text.split_once('/').unwrap();
        let key = match kind {
            "account" => Key::Account(rest.parse().unwrap()),
            "office_accounts" => Key::OfficeAccounts(rest.parse().unwrap()),
            "flow" => {
                let id = rest.strip_prefix("reissue/").expect("a reissue flow");
                Key::Flow(FlowKind::Reissue, id.parse().unwrap())
            }
            "budget" => {
                let to = rest
                    .strip_prefix("code_mails/")
                    .expect("a code-mail budget");
                Key::Budget(Budget::CodeMails(to.parse().unwrap()))
            }
            "outbox" => Key::Outbox(rest.parse().unwrap()),
            _ => panic!("a record no step writes: {text}"),
        };
        assert_eq!(key.to_string(), text, "a record under its own key");
        validate::record(&key, &value, &check).unwrap_or_else(|e| panic!("{text}: {e}"));
        match key {
            Key::Account(user) => {
                seen.accounts.insert(user.to_string());
            }
            Key::Flow(..) => {
                let json = String::from_utf8(value).unwrap();
                let at = json.find("crash-").expect("the flow names its address");
                let end = at + json[at..].find("@jp").expect("an address") + 3;
                seen.flows.insert(json[at..end].to_owned());
            }
            _ => {}
        }
        seen.records += 1;
    }
    let events = client
        .query(
            &format!(
                "SELECT event::text, effect_id FROM {}",
                table("kaigo_events")
            ),
            &[],
        )
        .unwrap();
    for row in &events {
        let event: serde_json::Value = serde_json::from_str(row.get(0)).unwrap();
        let user = event["kind"]["AccountProvisioned"]["user"]
            .as_str()
            .expect("only provisioning events")
            .to_owned();
        let id: Option<String> = row.get(1);
        let id = id.expect("delivered from the outbox, with its id");
        seen.events.entry(user).or_default().push(id);
    }
    let mails = client
        .query(
            &format!("SELECT recipient, effect_id FROM {}", table("kaigo_mails")),
            &[],
        )
        .unwrap();
    for row in &mails {
        let id: Option<String> = row.get(1);
        let id = id.expect("delivered from the outbox, with its id");
        seen.mails.entry(row.get(0)).or_default().push(id);
    }
    seen
}

/// OPS-01, OPS-07, SEC-02: a process serving requests on 4 threads (provisioning offices: the
/// account and its audit event; starting reissue applications: the flow and its code mail) is
/// SIGKILLed 24 times, half of the runs after it returned a varying number of requests, half
/// after a random delay. After each kill: every record in the schema parses and passes the
/// driver's checks (nothing half-written); a restart's one delivery empties the outbox; every
/// committed account has exactly one provisioning event and every committed flow exactly one
/// code mail, each with its effect id, and no event or mail exists for a step that did not
/// commit; every request the process returned from is committed.
#[test]
fn ops_01_a_process_killed_mid_request_loses_no_committed_effect() {
    let Some(url) = database_url("ops_01_a_process_killed_mid_request_loses_no_committed_effect")
    else {
        return;
    };
    let scratch = ScratchSchema::new(&url).unwrap();
    let (host, _) = portal(scratch.store().unwrap());
    for i in 0..OFFICES {
        host.insert_office(&tokyo_office(&office(i))).unwrap();
    }
    let mut rng = rand::rng();
    let (mut in_flight, mut returned) = (0, 0);
    for run in 0..RUNS {
        let mut child = Child::spawn(&[scratch.name(), &run.to_string()]);
        child.until("started");
        let mut said = Vec::new();
        if run % 2 == 0 {
            let after = 1 + run * 7 % 23;
            while said.len() < after {
                said.push(child.next().expect("the child serves until killed"));
            }
        } else {
            std::thread::sleep(Duration::from_millis(rng.random_range(0..40)));
        }
        said.extend(child.kill());
        returned += said.len();

        let (restarted, portal) = portal(scratch.store().unwrap());
        in_flight += restarted.store().outbox(usize::MAX).unwrap().len();
        portal.deliver().unwrap();
        assert!(
            restarted.store().outbox(1).unwrap().is_empty(),
            "run {run}: the outbox is delivered"
        );
        let seen = read_back(&scratch, restarted_now());
        let evented: BTreeSet<String> = seen.events.keys().cloned().collect();
        assert_eq!(
            evented, seen.accounts,
            "run {run}: one event per committed account, no other"
        );
        let mailed: BTreeSet<String> = seen.mails.keys().cloned().collect();
        assert_eq!(
            mailed, seen.flows,
            "run {run}: one mail per committed flow, no other"
        );
        let once = |ids: &BTreeMap<String, Vec<String>>| ids.values().all(|ids| ids.len() == 1);
        assert!(
            once(&seen.events) && once(&seen.mails),
            "run {run}: each effect once"
        );
        for line in &said {
            let committed = match line.split_once(' ') {
                Some(("account", user)) => seen.accounts.contains(user),
                Some(("mail", address)) => seen.flows.contains(address),
                _ => panic!("run {run}: {line:?}"),
            };
            assert!(committed, "run {run}: {line} returned, so it is committed");
        }
    }
    let seen = read_back(&scratch, restarted_now());
    println!(
        "OPS-01 crash test: {RUNS} SIGKILLs of a process serving on {THREADS} threads; {} steps \
         committed ({} provisionings, {} reissue starts), {returned} returned before a kill; \
         {in_flight} effects committed and undelivered at a kill, all delivered after the \
         restart; {} events and {} mails delivered, one per effect id; {} records checked",
        seen.accounts.len() + seen.flows.len(),
        seen.accounts.len(),
        seen.flows.len(),
        seen.events.len(),
        seen.mails.len(),
        seen.records
    );
    assert!(!seen.accounts.is_empty() && !seen.flows.is_empty());
}

/// The instant the restarted process's clock shows.
fn restarted_now() -> kaigo_seikyu::calendar::Instant {
    clock().now()
}

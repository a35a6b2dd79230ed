//! OPS-04: round trips, proved with a counting store (`testkit::CountingStore`). Every request
//! reads in one batched read (`Store::load_many`) per round and never one record at a time;
//! starting a reset reads the office's 47 possible accounts and the address's code-mail budget
//! in one round; a request writes in one commit. `benches/rounds.rs` counts every entry point
//! with the same store and prints the table of docs/performance.md.
//!
//! OPS-05: the same counts hold over both drivers, the blocking `Portal` and the async
//! `AsyncPortal`: one test body over [`drivers::Driver`]. The entry points are called through the
//! generic typed ones the per-flow wrappers (`reset_start`, `login`, …) are one line over.

mod drivers;

use kaigo_seikyu::account::Account;
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::login::{Login, Start};
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::{AsyncPortal, Delivery, Portal, Route};
use kaigo_seikyu::reset::{Reset, ResetInput, ResetStart};
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::store::FlowKind;
use kaigo_seikyu::testkit::{Cost, CountingStore};
use kaigo_seikyu::values::Password;
use rand::SeedableRng;
use rand::rngs::StdRng;

use drivers::Driver;

const ADDRESS: &str = "mailforsecurity-001@jp";

/// OPS-04: rounds and records per entry point, on the reset and the login. Each request makes
/// no single load, at most two rounds (the flow's state, then what its step declares), and at
/// most one commit (delivery by the host: the outbox records ride in the step's commit).
#[test]
fn ops_04_one_batched_read_per_round_and_a_reset_starts_in_one() {
    round_trips::<Portal>();
}

/// OPS-05, OPS-04: the same round trips over the async driver: the same transaction core reads
/// and commits the same batches, entry point by entry point, as the blocking driver.
#[test]
fn ops_05_ops_04_async_driver_makes_the_same_round_trips() {
    assert_eq!(round_trips::<AsyncPortal>(), round_trips::<Portal>());
}

/// Runs the requests over driver `D`, checks their costs and returns them, by entry point.
fn round_trips<D: Driver>() -> Vec<(&'static str, Cost)> {
    let host = Embedded::new(utc("2026-02-15T09:00:00+09:00"));
    let (ports, store) = CountingStore::over(&host);
    let (policy, key) = (
        Policy::insecure_fast_hashing(),
        CodeKey::from_bytes([7; 32]),
    );
    // The operator's setup goes through the blocking driver; the requests measured, through `D`.
    let setup =
        Portal::new(ports.clone(), policy.clone(), key.clone()).with_delivery(Delivery::ByHost);
    let portal = D::over(ports, policy, key).delivering(Delivery::ByHost);
    let mut rng = StdRng::seed_from_u64(15);
    let mut account = Account::new(
        "KJ131311111111".parse().unwrap(),
        setup.hash_secret(b"Forgotten1", &mut rng),
    );
    account
        .security_emails
        .add(ADDRESS.parse().unwrap(), setup.now())
        .unwrap();
    setup.create_account(account).unwrap();
    let mut table = vec![("create_account", store.take())];

    let start = ResetStart::Authenticate {
        office: "1311111111".parse().unwrap(),
        address: ADDRESS.parse().unwrap(),
    };
    let route = portal.begin_with::<Reset>(None, start, &mut rng).unwrap();
    let Route::Flow { flow, .. } = route else {
        panic!("{route:?}")
    };
    let id = flow.id.clone();
    let start = store.take();
    table.push(("reset_start", start));
    assert_eq!(
        start,
        Cost {
            rounds: 1,
            records: 2,
            commits: 1,
            ..Cost::default()
        },
        "OPS-04: the office's accounts (one record) and the code-mail budget in one round"
    );
    portal.deliver().unwrap();
    store.take();
    let otp = host
        .outbox
        .last_to(ADDRESS)
        .unwrap()
        .code()
        .unwrap()
        .to_owned();
    assert_eq!(flow.kind, FlowKind::Reset);
    portal.current(None, &flow).unwrap();
    table.push(("current", store.take()));
    portal
        .input::<Reset>(None, &id, ResetInput::Resend, &mut rng)
        .unwrap();
    table.push(("reset_resend", store.take()));
    portal.deliver().unwrap();
    store.take();
    let otp2 = host
        .outbox
        .last_to(ADDRESS)
        .unwrap()
        .code()
        .unwrap()
        .to_owned();
    assert_ne!(otp, otp2);
    let otp = ResetInput::EnterOtp(otp2.parse().unwrap());
    portal.input::<Reset>(None, &id, otp, &mut rng).unwrap();
    table.push(("reset_enter_otp", store.take()));
    let choose = ResetInput::ChoosePassword {
        new: Password::new("Sakura2026!"),
        confirm: Password::new("Sakura2026!"),
    };
    portal.input::<Reset>(None, &id, choose, &mut rng).unwrap();
    table.push(("reset_choose_password", store.take()));
    let login = Start::Password {
        user: "KJ131311111111".parse().unwrap(),
        password: Password::new("Sakura2026!"),
    };
    portal.begin_with::<Login>(None, login, &mut rng).unwrap();
    table.push(("login", store.take()));
    portal.open(FlowKind::Reset, None).unwrap();
    table.push(("open (reset)", store.take()));
    let delivered = portal.deliver().unwrap();
    table.push(("deliver", store.take()));
    assert!(delivered.delivered > 0);

    println!("{} driver:", D::NAME);
    println!("| entry point | rounds | records read | single loads | commits |");
    println!("| --- | --- | --- | --- | --- |");
    for (name, cost) in &table {
        println!(
            "| {name} | {} | {} | {} | {} |",
            cost.rounds, cost.records, cost.single_loads, cost.commits
        );
    }
    for (name, cost) in &table {
        assert_eq!(
            cost.single_loads, 0,
            "OPS-04: {name} read one record at a time"
        );
        assert!(
            cost.rounds <= 2,
            "OPS-04: {name} took {} rounds",
            cost.rounds
        );
        if *name != "deliver" {
            assert!(
                cost.commits <= 1,
                "OPS-04: {name} committed {} times",
                cost.commits
            );
        }
    }
    table
}

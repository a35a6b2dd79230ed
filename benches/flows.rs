//! What a complete flow costs its host, on the in-memory ports (docs/performance.md):
//!
//! - `flow/<scenario>`: each scenario of `common` end to end with the cheapest argon2 parameters,
//!   the time spent inside argon2 subtracted: the library's own cost per complete flow.
//! - `reset_production/*`: the reset with the production argon2 parameters, whole and without the
//!   time inside argon2, beside one raw argon2id hash of the same parameters.
//! - `rs03_start/*`: starting a reset with a registered address, an unregistered one, a
//!   registered address of an account of the largest shape (five security emails, a security
//!   code, a notice email, a temporary password, a lockout), and an unknown office number, with
//!   the production parameters.
//! - `scaling/threads/{1,2}`: cycles of every scenario on one and two threads against one shared
//!   store (criterion reports flows per second); `scaling/threads/2_store_each`, the control: two
//!   threads sharing no store.
//!
//! First it prints what each scenario does: the flow states it passes through (with their stored
//! sizes) and the argon2 and digest work it asks for.

mod common;

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, Version};
use common::{KEY, SCENARIOS, Scenario, World};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kaigo_seikyu::account::{Account, NoticeEmail, SecurityEmails, Temporary};
use kaigo_seikyu::memory::MemoryStore;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, CountingHasher};
use kaigo_seikyu::store::{Key, Store, Write};
use kaigo_seikyu::values::{Prefecture, UserId};

/// The production hasher with a stopwatch: counts argon2 hashes, argon2 verifications and keyed
/// digests, and sums the time spent inside argon2.
type Meter = CountingHasher<Argon2Hasher>;

/// A world of its own (a fresh store) for `scenario`, hashing through a [`Meter`].
fn metered(scenario: &'static Scenario, index: u64, policy: Policy) -> (World, Arc<Meter>) {
    let meter = Arc::new(Meter::new(Argon2Hasher::new(
        policy.hashing,
        CodeKey::from_bytes(KEY),
    )));
    let world = World::new(scenario, index, Arc::default(), policy, meter.clone());
    (world, meter)
}

fn scenario(name: &str) -> &'static Scenario {
    SCENARIOS
        .iter()
        .find(|s| s.name == name)
        .expect("a scenario of that name")
}

/// The time `iters` plays of `scenario` take, each in a fresh world provisioned beforehand
/// (untimed); without the time inside argon2 when `net`.
fn plays(scenario: &'static Scenario, policy: &Policy, iters: u64, net: bool) -> Duration {
    (0..iters)
        .map(|i| {
            let (mut world, meter) = metered(scenario, i, policy.clone());
            let start = Instant::now();
            black_box(world.play(false));
            let elapsed = start.elapsed();
            if net {
                elapsed.saturating_sub(meter.argon2_time())
            } else {
                elapsed
            }
        })
        .sum()
}

/// Prints each scenario's path through the flow states and the hashing work it asks for.
fn describe(_: &mut Criterion) {
    println!("scenario | argon2 hashes | argon2 verifies | keyed digests | states (stored bytes)");
    for scenario in &SCENARIOS {
        let (mut world, meter) = metered(scenario, 0, Policy::insecure_fast_hashing());
        let stops = world.play(true);
        let path: Vec<String> = stops
            .iter()
            .map(|s| format!("{}:{} ({})", s.flow, s.state, s.json.len()))
            .collect();
        let [hashes, verifies, digests] = meter.counts();
        println!(
            "{} | {hashes} | {verifies} | {digests} | {}",
            scenario.name,
            path.join(" → ")
        );
    }
}

/// Issue 10, item 1: each flow end to end, cheap argon2, argon2's time subtracted.
fn flows(c: &mut Criterion) {
    let policy = Policy::insecure_fast_hashing();
    let mut group = c.benchmark_group("flow");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    for scenario in &SCENARIOS {
        group.bench_function(scenario.name, |b| {
            b.iter_custom(|iters| plays(scenario, &policy, iters, true));
        });
    }
    group.finish();
}

/// Issue 10, item 2: the reset with the production parameters beside one raw argon2id hash.
fn reset_production(c: &mut Criterion) {
    let (policy, reset) = (Policy::default(), scenario("reset"));
    let p = policy.hashing;
    let params = Params::new(p.memory_kib, p.iterations, p.parallelism, None).expect("valid");
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut group = c.benchmark_group("reset_production");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(10);
    group.bench_function("argon2id_raw_hash", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            argon2
                .hash_password_into(black_box(b"Hanami2026!"), &[7; 16], &mut out)
                .expect("valid parameters");
            out
        });
    });
    group.bench_function("reset", |b| {
        b.iter_custom(|iters| plays(reset, &policy, iters, false));
    });
    group.bench_function("reset_excluding_argon2", |b| {
        b.iter_custom(|iters| plays(reset, &policy, iters, true));
    });
    group.finish();
}

/// Issue 10, item 3: `reset_start` with a registered address, an unregistered one, and an unknown
/// office, production parameters, each in a fresh world. Issue 20, finding 8: also an account of
/// the largest shape, against which the unknown office's decoy must not be cheaper.
fn rs03_start(c: &mut Criterion) {
    let reset = scenario("reset");
    let mut group = c.benchmark_group("rs03_start");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(100);
    for (name, known_office, registered, largest) in [
        ("matching", true, true, false),
        ("non_matching", true, false, false),
        ("largest_account", true, true, true),
        ("unknown_office", false, true, false),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|i| {
                        let (mut world, _) = metered(reset, i, Policy::default());
                        if largest {
                            grow_to_the_largest_shape(&world);
                        }
                        let office = if known_office {
                            world.office.to_string()
                        } else {
                            "1399999999".to_owned()
                        };
                        let address = world.address(if registered { 1 } else { 2 });
                        let start = Instant::now();
                        let started = world.portal.reset_start(&office, &address, &mut world.rng);
                        let elapsed = start.elapsed();
                        let (_, screen) = started.expect("a reset starts");
                        assert_eq!(screen.title, "ワンタイムパスワード入力");
                        let mailed = world.host.outbox.queued().len();
                        assert_eq!(mailed, usize::from(known_office && registered));
                        elapsed
                    })
                    .sum()
            });
        });
    }
    group.finish();
}

/// Gives the world's account the largest shape the flows make: five security emails, a notice
/// email, a temporary password, a lockout (it already has a security code).
fn grow_to_the_largest_shape(world: &World) {
    let user = UserId::new(Prefecture::TOKYO, world.office);
    let key = Key::Account(user);
    let stored = world.host.store.load(&key).unwrap().expect("an account");
    let mut account: Account = serde_json::from_slice(&stored.value).unwrap();
    let at = world.portal.now();
    for i in account.security_emails.len()..SecurityEmails::MAX {
        let address = format!("mailforsecurity-10{i}@jp").parse().unwrap();
        account.security_emails.add(address, at).unwrap();
    }
    account.notice_email = NoticeEmail::Set("notice-mail-address-001@jp".parse().unwrap());
    account.temporary = Some(Temporary {
        expires_at: Some(at),
    });
    account.failures = 2;
    account.locked_until = Some(at);
    assert!(account.security_code.is_some());
    world
        .host
        .store
        .commit(&[Write::Put {
            key,
            expected: Some(stored.version),
            value: serde_json::to_vec(&account).unwrap(),
            expires: None,
        }])
        .unwrap();
    // Written around the driver: the office's accounts record (what the reset reads) follows.
    assert!(world.portal.index_office(world.office).unwrap());
}

/// Issue 10, item 6: throughput of independent flows on one and two threads against one shared
/// store; and, as the control that shares nothing, two threads with a store each.
fn scaling(c: &mut Criterion) {
    let mut group = c.benchmark_group("scaling");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(20)
        .throughput(Throughput::Elements(SCENARIOS.len() as u64));
    for (name, threads, shared) in [
        ("threads/1", 1, true),
        ("threads/2", 2, true),
        ("threads/2_store_each", 2, false),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|cycles| in_parallel(threads, cycles, shared));
        });
    }
    group.finish();
}

/// The wall time of `cycles` cycles of every scenario on `threads` threads (cycles dealt round
/// robin), every world provisioned before the clock starts, on one store shared by all threads
/// or on one store per thread.
fn in_parallel(threads: usize, cycles: u64, shared: bool) -> Duration {
    let policy = Policy::insecure_fast_hashing();
    let hasher = Arc::new(Argon2Hasher::new(policy.hashing, CodeKey::from_bytes(KEY)));
    let stores: Vec<Arc<MemoryStore>> = (0..if shared { 1 } else { threads })
        .map(|_| Arc::default())
        .collect();
    let mut queues: Vec<Vec<World>> = (0..threads).map(|_| Vec::new()).collect();
    let mut index = 0;
    for cycle in 0..cycles {
        let queue = usize::try_from(cycle).expect("a cycle number") % threads;
        let store = &stores[queue % stores.len()];
        for scenario in &SCENARIOS {
            let world = World::new(
                scenario,
                index,
                store.clone(),
                policy.clone(),
                hasher.clone(),
            );
            queues[queue].push(world);
            index += 1;
        }
    }
    let start = Barrier::new(threads + 1);
    thread::scope(|scope| {
        let workers: Vec<_> = queues
            .iter_mut()
            .map(|queue| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    for world in queue {
                        black_box(world.play(false));
                    }
                })
            })
            .collect();
        start.wait();
        let clock = Instant::now();
        for worker in workers {
            worker.join().expect("a worker finishes");
        }
        clock.elapsed()
    })
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = describe, flows, reset_production, rs03_start, scaling
}
criterion_main!(benches);

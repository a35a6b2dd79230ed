//! The PostgreSQL host measured against the database's own limit (issue 17), printed as the
//! tables of docs/performance.md ("The PostgreSQL host"). Every figure is a ratio of two things
//! measured in the same run, on the same server:
//!
//! 1. **Requests per second** with cheap hashing over 1, 2, 4, 8 and 16 connections (one thread
//!    each), against a bare single-row compare-and-swap transaction loop (`BEGIN; UPDATE … WHERE
//!    key = $1 AND version = $2; COMMIT`) on as many connections: the database's own limit. The
//!    request is `Portal::reset_start` for an office with a registered security email: one
//!    batched read of the 48 records it needs, then one commit of the flow, the address's
//!    code-mail budget and the OTP mail's outbox record (`Delivery::ByHost`: the host's delivery
//!    loop sends the mail, not the request). Each thread has offices of its own, as each loop
//!    thread has rows of its own: neither side waits on a lock. Target ≥ 0.5.
//! 2. **Logins per second** with the production argon2 parameters (each login verifies one
//!    password) against the argon2 limit: cores ÷ one verification's time, measured in the run.
//!    Target ≥ 0.9.
//! 3. **Store rounds and SQL round trips per request**, counted by `testkit::CountingStore`.
//! 4. **p50 and p99 latency of `reset_start` under 32 concurrent clients**, next to the bare loop's
//!    under 32.
//! 5. **Latency with 10,000 and 1,000,000 accounts and pending flows** loaded by binary COPY:
//!    `KAIGO_BENCH_MILLION=1` only (the load takes minutes). Target: within 10%.
//!
//! `cargo bench -p kaigo-seikyu-postgres --bench postgres` (through `.ci/with-postgres`) runs the
//! measurement; `cargo test --benches` runs a smoke pass (a few requests of each part, no large
//! load). Without `DATABASE_URL` it prints a notice and passes, except under `CI=true`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant as Clocked};

use kaigo_seikyu::account::{Account, TermsAcceptance};
use kaigo_seikyu::calendar::{Instant, utc};
use kaigo_seikyu::login;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::{Delivery, Portal};
use kaigo_seikyu::ports::Clock;
use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, SecretHasher};
use kaigo_seikyu::store::{FlowKind, Key, Store};
use kaigo_seikyu::testkit::CountingStore;
use kaigo_seikyu::values::{Prefecture, UserId};
use kaigo_seikyu_postgres::{PgPorts, PgStore, ScratchSchema, database_url};
use postgres::NoTls;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const NOW: &str = "2026-01-10T10:00:00+09:00";
const PASSWORD: &str = "Sakura2026!";
const SECURITY_CODE: &str = "Himitsu2026";
const KEY: [u8; 32] = [7; 32];

/// How much to run: the measurement (`cargo bench`) or the smoke pass (`cargo test --benches`).
#[derive(Clone, Copy)]
struct Mode {
    full: bool,
}

impl Mode {
    /// How long one throughput measurement runs.
    fn window(self) -> Duration {
        if self.full {
            Duration::from_secs(3)
        } else {
            Duration::from_millis(100)
        }
    }
}

/// Virtual time running 1000× faster than the wall clock from [`NOW`]: an address's hourly
/// code-mail budget (SEC-04) opens again every 3.6 s, so a long run never hits it.
struct FastClock {
    start: Clocked,
    base: Instant,
}

impl Clock for FastClock {
    fn now(&self) -> Instant {
        let elapsed = self.start.elapsed().as_micros() * 1000;
        self.base + chrono::TimeDelta::microseconds(i64::try_from(elapsed).unwrap_or(i64::MAX))
    }
}

fn fast_clock() -> Arc<FastClock> {
    Arc::new(FastClock {
        start: Clocked::now(),
        base: utc(NOW),
    })
}

/// The office numbers of a block: `{prefix}{i:08}`.
fn office(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:08}")
}

fn address(office: &str) -> String {
    format!("security.{office}@example.jp")
}

/// A portal on `store` with `policy`, delivery by the host.
fn portal(store: Arc<dyn Store>, host: &PgPorts, clock: Arc<dyn Clock>, policy: Policy) -> Portal {
    let mut ports = host.ports();
    ports.store = store;
    ports.clock = clock;
    Portal::new(ports, policy, CodeKey::from_bytes(KEY)).with_delivery(Delivery::ByHost)
}

fn cheap_policy() -> Policy {
    Policy {
        max_code_mails_per_address_per_hour: u8::MAX,
        ..Policy::insecure_fast_hashing()
    }
}

/// Creates the accounts of `offices` (Tokyo, one security email, a security code), hashing with
/// `portal`'s parameters: what `benches/rounds.rs` calls a set-up office.
fn provision(portal: &Portal, offices: &[String], rng: &mut StdRng) {
    let terms = TermsAcceptance {
        version: 1,
        at: utc("2020-04-01T09:00:00+09:00"),
    };
    let password = portal.hash_secret(PASSWORD.as_bytes(), rng);
    let code = portal.hash_secret(SECURITY_CODE.as_bytes(), rng);
    for number in offices {
        let user = UserId::new(Prefecture::TOKYO, number.parse().unwrap());
        let mut account: Account = login::existing_office(user, password.clone(), terms);
        account
            .security_emails
            .add(address(number).parse().unwrap(), utc(NOW))
            .unwrap();
        account.security_code = Some(code.clone());
        portal.create_account(account).unwrap();
    }
}

fn user_of(office: &str) -> String {
    format!("KJ13{office}")
}

/// A store of its own in a fresh schema, with a pool of `pool` connections.
fn store(scratch: &ScratchSchema, pool: usize) -> PgStore {
    let options = kaigo_seikyu_postgres::PgOptions {
        pool_size: pool,
        ..scratch.options()
    };
    PgStore::connect_with(scratch.url(), &options).unwrap()
}

/// A plain connection whose search path is the scratch schema.
fn connection(scratch: &ScratchSchema) -> postgres::Client {
    let mut client = postgres::Client::connect(scratch.url(), NoTls).unwrap();
    client
        .batch_execute(&format!("SET search_path TO \"{}\"", scratch.name()))
        .unwrap();
    client
}

/// Runs `work` on `threads` threads, each with its index, until `window` has passed, and returns
/// how many operations they did in that window and each operation's latency.
fn run<W>(threads: usize, window: Duration, min_each: usize, work: W) -> (f64, Vec<Duration>)
where
    W: Fn(usize) -> Box<dyn FnMut() + Send> + Sync,
{
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let barrier = Barrier::new(threads + 1);
    let mut latencies = Vec::new();
    let mut elapsed = Duration::ZERO;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let mut op = work(t);
                let (stop, done, barrier) = (&stop, &done, &barrier);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    barrier.wait();
                    while !stop.load(Ordering::Relaxed) || mine.len() < min_each {
                        let start = Clocked::now();
                        op();
                        mine.push(start.elapsed());
                        if !stop.load(Ordering::Relaxed) {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    mine
                })
            })
            .collect();
        barrier.wait();
        let start = Clocked::now();
        std::thread::sleep(window);
        stop.store(true, Ordering::Relaxed);
        elapsed = start.elapsed();
        for h in handles {
            latencies.extend(h.join().unwrap());
        }
    });
    let rate = done.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64();
    (rate, latencies)
}

/// The bare loop's table: one row per (thread, slot), a value of a flow state's size.
fn bare_table(scratch: &ScratchSchema, threads: usize, slots: usize) {
    let mut client = connection(scratch);
    client
        .batch_execute(
            "DROP TABLE IF EXISTS bench_cas;
             CREATE TABLE bench_cas (key text COLLATE \"C\" PRIMARY KEY,
                                     version bigint NOT NULL, value bytea NOT NULL)",
        )
        .unwrap();
    for t in 0..threads {
        for i in 0..slots {
            client
                .execute(
                    "INSERT INTO bench_cas VALUES ($1, 1, $2)",
                    &[&format!("cas/{t}/{i}"), &vec![b'x'; 400]],
                )
                .unwrap();
        }
    }
}

/// One thread of the bare loop: `BEGIN; UPDATE … WHERE key = $1 AND version = $2; COMMIT` over
/// its own rows, in turn.
fn bare_op(scratch: &ScratchSchema, t: usize, slots: usize) -> Box<dyn FnMut() + Send> {
    let mut client = connection(scratch);
    let update = client
        .prepare(
            "UPDATE bench_cas SET version = version + 1, value = $3 WHERE key = $1 AND version = $2",
        )
        .unwrap();
    let keys: Vec<String> = (0..slots).map(|i| format!("cas/{t}/{i}")).collect();
    let mut versions: Vec<i64> = keys
        .iter()
        .map(|k| {
            client
                .query_one("SELECT version FROM bench_cas WHERE key = $1", &[k])
                .unwrap()
                .get(0)
        })
        .collect();
    let value = vec![b'y'; 400];
    let mut i = 0;
    Box::new(move || {
        let slot = i % keys.len();
        i += 1;
        let mut tx = client.transaction().unwrap();
        let n = tx
            .execute(&update, &[&keys[slot], &versions[slot], &value])
            .unwrap();
        assert_eq!(n, 1, "the bare loop's compare-and-swap failed");
        tx.commit().unwrap();
        versions[slot] += 1;
    })
}

/// One thread of requests: `reset_start` over its own offices, in turn.
fn reset_op(portal: Arc<Portal>, offices: Vec<String>) -> Box<dyn FnMut() + Send> {
    let mut rng = fresh_rng();
    let mut i = 0;
    Box::new(move || {
        let number = &offices[i % offices.len()];
        i += 1;
        portal
            .reset_start(number, &address(number), &mut rng)
            .unwrap();
    })
}

/// A generator seeded differently every time in the run: flow ids and effect ids must never
/// repeat within a schema (a repeated id is a creation that conflicts).
fn fresh_rng() -> StdRng {
    static SEED: AtomicU64 = AtomicU64::new(1);
    StdRng::seed_from_u64(SEED.fetch_add(1, Ordering::Relaxed) * 0x9e37_79b9)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Parts 1 and 4: throughput against the bare loop, and latency under 32 clients.
fn throughput(url: &str, mode: Mode) {
    const PER_THREAD: usize = 16;
    let scratch = ScratchSchema::new(url).unwrap();
    let pg = store(&scratch, 32);
    let clock: Arc<dyn Clock> = fast_clock();
    let host = PgPorts::new(pg.clone(), clock.clone());
    let portal = Arc::new(portal(Arc::new(pg), &host, clock, cheap_policy()));
    let offices: Vec<String> = (0..32 * PER_THREAD).map(|i| office("13", i)).collect();
    provision(&portal, &offices, &mut fresh_rng());
    bare_table(&scratch, 32, PER_THREAD);
    let mine = |t: usize| offices[t * PER_THREAD..(t + 1) * PER_THREAD].to_vec();

    let counts: &[usize] = if mode.full {
        &[1, 2, 4, 8, 16]
    } else {
        &[1, 2]
    };
    let repeats = if mode.full { 3 } else { 1 };
    println!("\n## 1. Requests per second (reset_start, cheap hashing) against the bare CAS loop");
    println!(
        "\n| connections | bare CAS tx/s | reset_start/s | ratio (median of {repeats}) | target ≥ 0.5 |"
    );
    println!("| ---: | ---: | ---: | ---: | --- |");
    for &n in counts {
        let (mut bare, mut flows, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..repeats {
            let (b, _) = run(n, mode.window(), 1, |t| bare_op(&scratch, t, PER_THREAD));
            let (f, _) = run(n, mode.window(), 1, |t| reset_op(portal.clone(), mine(t)));
            bare.push(b);
            flows.push(f);
            ratios.push(f / b);
        }
        let ratio = median(ratios);
        println!(
            "| {n} | {:.0} | {:.0} | {ratio:.3} | {} |",
            median(bare),
            median(flows),
            if ratio >= 0.5 { "met" } else { "**missed**" }
        );
    }

    let clients = if mode.full { 32 } else { 4 };
    let min_each = if mode.full { 50 } else { 2 };
    let window = if mode.full {
        Duration::from_secs(5)
    } else {
        mode.window()
    };
    let (_, mut bare) = run(clients, window, min_each, |t| {
        bare_op(&scratch, t, PER_THREAD)
    });
    let (rate, mut flows) = run(clients, window, min_each, |t| {
        reset_op(portal.clone(), mine(t))
    });
    bare.sort();
    flows.sort();
    let (b50, b99, f50, f99) = (
        percentile(&bare, 50),
        percentile(&bare, 99),
        percentile(&flows, 50),
        percentile(&flows, 99),
    );
    println!("\n## 4. Latency under {clients} concurrent clients (pool of 32 connections)");
    println!("\n| | p50 | p99 | samples |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| bare CAS transaction | {} | {} | {} |",
        ms(b50),
        ms(b99),
        bare.len()
    );
    println!(
        "| reset_start ({rate:.0}/s) | {} | {} | {} |",
        ms(f50),
        ms(f99),
        flows.len()
    );
    println!(
        "| ratio reset_start / bare | {:.2} | {:.2} | |",
        f50.as_secs_f64() / b50.as_secs_f64(),
        f99.as_secs_f64() / b99.as_secs_f64()
    );
}

/// Part 2: logins with the production argon2 parameters against cores ÷ one verification.
fn logins(url: &str, mode: Mode) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let scratch = ScratchSchema::new(url).unwrap();
    let pg = store(&scratch, 8);
    let clock: Arc<dyn Clock> = fast_clock();
    let host = PgPorts::new(pg.clone(), clock.clone());
    let policy = if mode.full {
        Policy::default()
    } else {
        Policy::insecure_fast_hashing()
    };
    let params = policy.hashing;
    let portal = Arc::new(portal(Arc::new(pg), &host, clock, policy));
    let offices: Vec<String> = (0..16).map(|i| office("13", i)).collect();
    let mut rng = fresh_rng();
    provision(&portal, &offices, &mut rng);

    // One verification, alone on the machine's cores.
    let hasher = Argon2Hasher::new(params, CodeKey::from_bytes(KEY));
    let hash = portal.hash_secret(PASSWORD.as_bytes(), &mut rng);
    let verify = |k: usize| {
        let times: Vec<f64> = (0..k)
            .map(|_| {
                let start = Clocked::now();
                assert!(hasher.verify(PASSWORD.as_bytes(), &hash));
                start.elapsed().as_secs_f64()
            })
            .collect();
        median(times)
    };
    let k = if mode.full { 15 } else { 2 };
    let before = verify(k);

    println!(
        "\n## 2. Logins per second, argon2 m={} KiB t={} p={}, against the argon2 limit",
        params.memory_kib, params.iterations, params.parallelism
    );
    println!(
        "\n| threads | logins/s | argon2 limit ({cores} cores ÷ one verification) | ratio | target ≥ 0.9 |"
    );
    println!("| ---: | ---: | ---: | ---: | --- |");
    let window = if mode.full {
        Duration::from_secs(6)
    } else {
        mode.window()
    };
    let mut rates = Vec::new();
    for threads in [cores, cores * 2] {
        let (rate, _) = run(threads, window, 1, |t| {
            let portal = portal.clone();
            let offices = offices.clone();
            let mut rng = fresh_rng();
            let mut i = t;
            Box::new(move || {
                let user = user_of(&offices[i % offices.len()]);
                i += threads;
                portal.login(&user, PASSWORD, &mut rng).unwrap();
            })
        });
        rates.push((threads, rate));
    }
    let after = verify(k);
    let one = (before + after) / 2.0;
    let limit = cores as f64 / one;
    for (threads, rate) in rates {
        let ratio = rate / limit;
        println!(
            "| {threads} | {rate:.1} | {limit:.1} | {ratio:.3} | {} |",
            if ratio >= 0.9 { "met" } else { "**missed**" }
        );
    }
    println!(
        "\nOne verification: {:.2} ms before the logins, {:.2} ms after (median of {k} each).",
        before * 1e3,
        after * 1e3
    );
}

/// Part 3: store rounds and SQL round trips per request.
fn rounds(url: &str) {
    let scratch = ScratchSchema::new(url).unwrap();
    let pg = store(&scratch, 2);
    let counting = Arc::new(CountingStore::new(Arc::new(pg.clone())));
    let clock: Arc<dyn Clock> = fast_clock();
    let host = PgPorts::new(pg, clock.clone());
    let portal = portal(counting.clone(), &host, clock, cheap_policy());
    let number = office("13", 0);
    let mut rng = fresh_rng();
    provision(&portal, std::slice::from_ref(&number), &mut rng);
    counting.take();
    let mut rows = Vec::new();
    portal
        .reset_start(&number, &address(&number), &mut rng)
        .unwrap();
    rows.push(("reset_start (→ OTP)", counting.take()));
    let route = portal.login(&user_of(&number), PASSWORD, &mut rng).unwrap();
    rows.push(("login (→ security code)", counting.take()));
    let id = route.flow_id().unwrap().clone();
    portal
        .login_security_code(&id, SECURITY_CODE, &mut rng)
        .unwrap();
    rows.push(("login_security_code (→ menu)", counting.take()));
    portal.deliver().unwrap();
    rows.push(("deliver (the queued effects)", counting.take()));

    println!("\n## 3. Store rounds and SQL round trips per request");
    println!(
        "\n| request | load_many rounds | records read | commits | listings | SQL round trips |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (name, cost) in rows {
        let trips = cost.rounds
            + cost.single_loads
            + cost.listings
            + cost.purges
            + cost.commits * kaigo_seikyu_postgres::sql::COMMIT_ROUND_TRIPS;
        println!(
            "| {name} | {} | {} | {} | {} | {trips} |",
            cost.rounds, cost.records, cost.commits, cost.listings
        );
    }
    println!(
        "\nA commit is {} SQL round trip(s); a load_many, a listing and a purge one each. \
         Delivery's port calls (one INSERT per effect) are not store calls and are not counted.",
        kaigo_seikyu_postgres::sql::COMMIT_ROUND_TRIPS
    );
}

/// Part 5: `reset_start` latency, one client, with `n` accounts and `n` pending reset flows
/// loaded by binary COPY, besides the measured offices.
fn loaded(url: &str, n: usize, samples: usize) -> (Duration, Duration, Duration) {
    let scratch = ScratchSchema::new(url).unwrap();
    let pg = store(&scratch, 2);
    let clock: Arc<dyn Clock> = fast_clock();
    let host = PgPorts::new(pg.clone(), clock.clone());
    let portal = portal(Arc::new(pg.clone()), &host, clock, cheap_policy());
    let mut rng = fresh_rng();
    // The measured offices, and the templates of what is loaded: an account, a pending flow.
    let measured: Vec<String> = (0..64).map(|i| office("14", i)).collect();
    provision(&portal, &measured, &mut rng);
    let template = office("14", 99_999_999);
    provision(&portal, std::slice::from_ref(&template), &mut rng);
    let (id, _) = portal
        .reset_start(&template, &address(&template), &mut rng)
        .unwrap();
    let account_key = Key::Account(user_of(&template).parse().unwrap());
    let account = pg.load(&account_key).unwrap().unwrap();
    let flow = pg.load(&Key::Flow(FlowKind::Reset, id)).unwrap().unwrap();
    let account_text = String::from_utf8(account.value).unwrap();

    let started = Clocked::now();
    let mut client = connection(&scratch);
    let sink = client
        .copy_in("COPY kaigo_records (key, version, value, expires_at) FROM STDIN BINARY")
        .unwrap();
    let mut writer = BinaryCopyInWriter::new(
        sink,
        &[Type::TEXT, Type::INT8, Type::BYTEA, Type::TIMESTAMPTZ],
    );
    for i in 0..n {
        let number = office("13", i);
        let user = user_of(&number);
        let value = account_text
            .replace(&user_of(&template), &user)
            .replace(&template, &number)
            .into_bytes();
        let key = format!("account/{user}");
        writer
            .write(&[&key, &1i64, &value, &None::<Instant>])
            .unwrap();
        let flow_key = format!("flow/reset/{:032x}", rng.random::<u128>());
        writer
            .write(&[&flow_key, &1i64, &flow.value, &flow.expires])
            .unwrap();
    }
    writer.finish().unwrap();
    client
        .batch_execute("VACUUM ANALYZE kaigo_records")
        .unwrap();
    let load = started.elapsed();

    let mut times = Vec::with_capacity(samples);
    // Warm up: each measured office once.
    for number in &measured {
        portal
            .reset_start(number, &address(number), &mut rng)
            .unwrap();
    }
    for i in 0..samples {
        let number = &measured[i % measured.len()];
        let start = Clocked::now();
        portal
            .reset_start(number, &address(number), &mut rng)
            .unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    let records = pg.record_count().unwrap();
    eprintln!("loaded {n} accounts and {n} flows in {load:?}; {records} records");
    (percentile(&times, 50), percentile(&times, 99), load)
}

fn sizes(url: &str, mode: Mode) {
    let million = std::env::var("KAIGO_BENCH_MILLION").is_ok_and(|v| v == "1");
    let (small, large, samples) = match (mode.full, million) {
        (false, _) => (100, 1_000, 20),
        (true, false) => (10_000, 100_000, 2_000),
        (true, true) => (10_000, 1_000_000, 2_000),
    };
    let a = loaded(url, small, samples);
    let b = loaded(url, large, samples);
    println!("\n## 5. reset_start latency, one client, with accounts and pending flows loaded");
    println!("\n| accounts + pending flows | p50 | p99 | load (COPY + VACUUM ANALYZE) |");
    println!("| ---: | ---: | ---: | ---: |");
    for (n, (p50, p99, load)) in [(small, a), (large, b)] {
        println!(
            "| {n} + {n} | {} | {} | {:.1} s |",
            ms(p50),
            ms(p99),
            load.as_secs_f64()
        );
    }
    let ratio = b.0.as_secs_f64() / a.0.as_secs_f64();
    println!(
        "\np50 ratio {large} / {small}: {ratio:.3} (target ≤ 1.10: {}){}",
        if ratio <= 1.10 { "met" } else { "**missed**" },
        if million {
            ""
        } else {
            "; set KAIGO_BENCH_MILLION=1 for 1,000,000"
        }
    );
}

fn main() {
    let mode = Mode {
        full: std::env::args().any(|a| a == "--bench"),
    };
    let Some(url) = database_url("benches/postgres.rs") else {
        return;
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "# benches/postgres.rs ({}): {} cores, load average {}",
        if mode.full {
            "measurement"
        } else {
            "smoke pass"
        },
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let only = std::env::var("KAIGO_BENCH_ONLY").unwrap_or_default();
    let wants = |part: &str| only.is_empty() || only.split(',').any(|p| p == part);
    if wants("rounds") {
        rounds(&url);
    }
    if wants("throughput") {
        throughput(&url, mode);
    }
    if wants("logins") {
        logins(&url, mode);
    }
    if wants("sizes") {
        sizes(&url, mode);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "\nload average at the end: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}

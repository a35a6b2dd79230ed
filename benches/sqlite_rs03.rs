//! RS-03 and SEC-08 on the reference SQLite host (`examples/sqlite_host/`): what
//! `Portal::reset_start` costs on its three paths, on one database file (docs/performance.md):
//!
//! - `matching`: a known office and its registered security email (the OTP is mailed);
//! - `non_matching`: a known office and an address it has not registered (nothing is mailed);
//! - `unknown_office`: an office number with no account (nothing is mailed).
//!
//! `rs03_interleaved` runs the three paths in turn, round after round (the order rotates each
//! round), and prints each path's median and its ratio to the matching path's: the three are
//! measured under the same conditions, so a difference is the paths' own. (Measured one after
//! the other, as criterion's groups do, the paths met different disk loads on this shared
//! machine: fsync times moved by 10x between groups.) 1000 rounds under `cargo bench`, 3 in
//! criterion's test mode (`cargo test --benches`).
//!
//! A sample is one request, from the call to its return: its commit, which holds its one outbox
//! record (the OTP mail on the matching path, a padded withheld record on the others; OPS-01).
//! Between samples, untimed, the host delivers the outbox (`Portal::deliver`, as its delivery
//! loop would), so no delivery falls into the next sample, and the virtual clock moves on 7
//! minutes, so no hourly mail budget (SEC-04) runs out. The file is on the machine's disk,
//! `synchronous = FULL`, as in service.

#[allow(dead_code)] // the benchmark uses part of the reference host's API
#[path = "../examples/sqlite_host/mod.rs"]
mod sqlite_host;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use kaigo_seikyu::account::Account;
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::memory::VirtualClock;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::Portal;
use kaigo_seikyu::ports::Clock as _;
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::values::UserId;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sqlite_host::SqliteHost;

/// The office with an account, and its registered security email.
const OFFICE: &str = "1311111111";
const REGISTERED: &str = "security-1@example.jp";
/// An address the office has not registered.
const UNREGISTERED: &str = "security-2@example.jp";
/// An office number with no account.
const UNKNOWN_OFFICE: &str = "1399999999";
const ANYONE: &str = "security-3@example.jp";

/// The three paths of RS-03: name, office number, address, whether the OTP is mailed.
const PATHS: [(&str, &str, &str, bool); 3] = [
    ("matching", OFFICE, REGISTERED, true),
    ("non_matching", OFFICE, UNREGISTERED, false),
    ("unknown_office", UNKNOWN_OFFICE, ANYONE, false),
];

/// One SQLite file with one office whose account has one registered security email.
struct Bed {
    _dir: tempfile::TempDir,
    host: SqliteHost,
    clock: Arc<VirtualClock>,
    portal: Portal,
    rng: StdRng,
}

impl Bed {
    fn new() -> Bed {
        // On the disk, not in a RAM file system: the fsyncs are real. `target/` is on the disk.
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        std::fs::create_dir_all(&base).expect("target/ exists");
        let dir = tempfile::tempdir_in(&base).expect("a temporary directory");
        let clock = Arc::new(VirtualClock::new(utc("2026-01-10T10:00:00+09:00")));
        let host = SqliteHost::open(dir.path().join("rs03.db"), clock.clone()).expect("opens");
        // OPS-01: the host delivers the outbox off the request path (SEC-08, RS-03).
        let portal = Portal::new(
            host.ports(),
            Policy::default(),
            CodeKey::from_bytes([7; 32]),
        )
        .with_delivery(kaigo_seikyu::portal::Delivery::ByHost);
        let mut rng = StdRng::seed_from_u64(3);
        let user: UserId = format!("KJ13{OFFICE}").parse().expect("a user ID");
        let mut account = Account::new(user, portal.hash_secret(b"Sakura2026!", &mut rng));
        account
            .security_emails
            .add(REGISTERED.parse().expect("an address"), clock.now())
            .expect("room for an address");
        portal.create_account(account).expect("a new account");
        Bed {
            _dir: dir,
            host,
            clock,
            portal,
            rng,
        }
    }

    /// One request on `path`, timed; then, untimed, the outbox is delivered (OPS-01) and the
    /// clock moved on.
    fn sample(&mut self, path: usize) -> Duration {
        let (name, office, address, _) = PATHS[path];
        let start = Instant::now();
        let started = self.portal.reset_start(office, address, &mut self.rng);
        let elapsed = start.elapsed();
        let (_, screen) = started.unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(screen.title, "ワンタイムパスワード入力", "{name}");
        self.portal.deliver().expect("the outbox is delivered");
        self.clock.advance(chrono::TimeDelta::minutes(7));
        elapsed
    }

    /// Delivers the outbox and checks it held exactly the matching path's mails.
    fn check_mails(&self, matching: usize) {
        let mut mailed = 0;
        self.host
            .deliver::<sqlite_host::HostError>(|out| {
                assert_eq!(out.mail.to.as_str(), REGISTERED, "mailed to another path");
                mailed += 1;
                Ok(())
            })
            .expect("delivered");
        assert_eq!(mailed, matching, "one mail per matching request");
    }
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    let n = samples.len();
    if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The three paths in turn, `ROUNDS` rounds (3 in criterion's test mode), medians and ratios.
fn rs03_interleaved(_: &mut Criterion) {
    let bench = std::env::args().any(|a| a == "--bench");
    let rounds = if bench { 1000 } else { 3 };
    let mut bed = Bed::new();
    // Warm up: the file's pages, the statement caches, the connection pool.
    for round in 0..20.min(rounds) {
        for path in 0..PATHS.len() {
            bed.sample((path + round) % PATHS.len());
        }
    }
    let warm_up = 20.min(rounds);
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); PATHS.len()];
    for round in 0..rounds {
        for k in 0..PATHS.len() {
            let path = (k + round) % PATHS.len();
            samples[path].push(bed.sample(path));
        }
    }
    bed.check_mails(warm_up + rounds);
    let medians: Vec<Duration> = samples.iter_mut().map(|s| median(s)).collect();
    println!("sqlite_rs03 interleaved: {rounds} rounds, each path once per round (order rotating)");
    println!("path | median | ratio to matching | p25 | p75");
    for ((name, ..), (m, s)) in PATHS.iter().zip(medians.iter().zip(&samples)) {
        let q = |f: usize| micros(s[s.len() * f / 4]);
        println!(
            "{name} | {:.1} µs | {:.3} | {:.1} µs | {:.1} µs",
            micros(*m),
            m.as_secs_f64() / medians[0].as_secs_f64(),
            q(1),
            q(3)
        );
    }
    let (lo, hi) = (
        medians.iter().min().expect("three"),
        medians.iter().max().expect("three"),
    );
    println!(
        "largest / smallest median: {:.3} (target ≤ 1.03)",
        hi.as_secs_f64() / lo.as_secs_f64()
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = rs03_interleaved
}
criterion_main!(benches);

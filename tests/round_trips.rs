//! OPS-04: round trips, proved with a counting store. Every request reads in one batched read
//! (`Store::load_many`) per round and never one record at a time; starting a reset reads the
//! office's 47 possible accounts and the address's code-mail budget in one round; a request
//! writes in one commit. The figures printed here are the table of docs/performance.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kaigo_seikyu::account::Account;
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::memory::{Embedded, MemoryStore};
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::{Delivery, Portal};
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::store::{FlowKind, Key, Store, StoreError, Versioned, Write};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Counts what reaches the store: single loads, batched loads (rounds), records read, commits.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    loads: AtomicUsize,
    batches: AtomicUsize,
    keys: AtomicUsize,
    commits: AtomicUsize,
}

/// What one request cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cost {
    single_loads: usize,
    rounds: usize,
    records: usize,
    commits: usize,
}

impl Counting {
    fn take(&self) -> Cost {
        Cost {
            single_loads: self.loads.swap(0, Ordering::SeqCst),
            rounds: self.batches.swap(0, Ordering::SeqCst),
            records: self.keys.swap(0, Ordering::SeqCst),
            commits: self.commits.swap(0, Ordering::SeqCst),
        }
    }
}

impl Store for Counting {
    fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(key)
    }
    fn load_many(&self, keys: &[Key]) -> Result<Vec<Option<Versioned>>, StoreError> {
        self.batches.fetch_add(1, Ordering::SeqCst);
        self.keys.fetch_add(keys.len(), Ordering::SeqCst);
        self.inner.load_many(keys)
    }
    fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        self.inner.commit(writes)
    }
    fn outbox(
        &self,
        limit: usize,
    ) -> Result<Vec<(kaigo_seikyu::effect::EffectId, Versioned)>, StoreError> {
        self.inner.outbox(limit)
    }
}

const ADDRESS: &str = "mailforsecurity-001@jp";

/// OPS-04: rounds and records per entry point, on the reset and the login. Each request makes
/// no single load, at most two rounds (the flow's state, then what its step declares), and at
/// most one commit (delivery by the host: the outbox records ride in the step's commit).
#[test]
fn ops_04_one_batched_read_per_round_and_a_reset_starts_in_one() {
    let host = Embedded::new(utc("2026-02-15T09:00:00+09:00"));
    let store = Arc::new(Counting::default());
    let mut ports = host.ports();
    ports.store = store.clone();
    let portal = Portal::new(
        ports,
        Policy::insecure_fast_hashing(),
        CodeKey::from_bytes([7; 32]),
    )
    .with_delivery(Delivery::ByHost);
    let mut rng = StdRng::seed_from_u64(15);
    let mut account = Account::new(
        "KJ131311111111".parse().unwrap(),
        portal.hash_secret(b"Forgotten1", &mut rng),
    );
    account
        .security_emails
        .add(ADDRESS.parse().unwrap(), portal.now())
        .unwrap();
    portal.create_account(account).unwrap();
    let mut table = vec![("create_account", store.take())];

    let (id, _) = portal.reset_start("1311111111", ADDRESS, &mut rng).unwrap();
    let start = store.take();
    table.push(("reset_start", start));
    assert_eq!(
        start,
        Cost {
            single_loads: 0,
            rounds: 1,
            records: 48,
            commits: 1
        },
        "OPS-04: 47 accounts and the code-mail budget in one round"
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
    let flow = kaigo_seikyu::portal::FlowRef {
        kind: FlowKind::Reset,
        id: id.clone(),
    };
    portal.current(None, &flow).unwrap();
    table.push(("current", store.take()));
    portal.reset_resend(&id, &mut rng).unwrap();
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
    portal.reset_enter_otp(&id, &otp2, &mut rng).unwrap();
    table.push(("reset_enter_otp", store.take()));
    portal
        .reset_choose_password(&id, "Sakura2026!", "Sakura2026!", &mut rng)
        .unwrap();
    table.push(("reset_choose_password", store.take()));
    portal
        .login("KJ131311111111", "Sakura2026!", &mut rng)
        .unwrap();
    table.push(("login", store.take()));
    portal.open(FlowKind::Reset, None).unwrap();
    table.push(("open (reset)", store.take()));
    let delivered = portal.deliver().unwrap();
    table.push(("deliver", store.take()));
    assert!(delivered.delivered > 0);

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
}

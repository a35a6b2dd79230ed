//! OPS-02, SEC-03: every flow, budget and outbox record carries its expiry; a dead flow answers
//! as expired; `purge` removes dead records in bounded batches and never a live one.

use chrono::TimeDelta;
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

use kaigo_seikyu::account::Account;
use kaigo_seikyu::calendar::{Instant, utc};
use kaigo_seikyu::effect::EffectId;
use kaigo_seikyu::error::{FlowError, PortalError};
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::{PURGE_MARGIN, Portal};
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::store::{FlowId, Key, Store, Write};
use kaigo_seikyu::values::{Prefecture, UserId};

const OFFICE: &str = "1311111111";
const ADDRESS: &str = "mailforsecurity-001@jp";

fn start() -> Instant {
    utc("2026-01-10T10:00:00+09:00")
}

fn host() -> (Embedded, Portal) {
    let host = Embedded::new(start());
    let portal = host.portal(
        Policy::insecure_fast_hashing(),
        CodeKey::from_bytes([7; 32]),
    );
    let mut rng = StdRng::seed_from_u64(1);
    let user = UserId::new(Prefecture::TOKYO, OFFICE.parse().unwrap());
    let mut account = Account::new(user, portal.hash_secret(b"Sakura2026!", &mut rng));
    account
        .security_emails
        .add(ADDRESS.parse().unwrap(), start())
        .unwrap();
    portal.create_account(account).unwrap();
    (host, portal)
}

/// Purges in batches of `batch` until a batch comes back short; the total.
fn purge_all(portal: &Portal, batch: usize) -> usize {
    let mut total = 0;
    loop {
        let n = portal.purge(batch).unwrap();
        total += n;
        if n < batch {
            return total;
        }
    }
}

/// OPS-02: the driver sets every flow, budget and outbox record's expiry from the policy: a flow
/// its lifetime after its last step, a budget window an hour after its newest hit (a clock run
/// backwards does not shorten it), an outbox record its retention after the commit.
#[test]
fn ops_02_every_record_carries_its_expiry() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(2);
    let policy = portal.policy().clone();
    let (id, _) = portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
    let flow = host
        .store
        .load(&Key::Flow(kaigo_seikyu::store::FlowKind::Reset, id.clone()))
        .unwrap()
        .unwrap();
    assert_eq!(flow.expires, Some(start() + policy.flow_lifetime()));
    let budgets: Vec<_> = host
        .store
        .snapshot()
        .into_iter()
        .filter(|(k, _)| k.starts_with("budget/"))
        .collect();
    assert!(!budgets.is_empty());
    for (key, v) in &budgets {
        assert_eq!(v.expires, Some(start() + TimeDelta::hours(1)), "{key}");
    }
    // A later hit moves it on; one from a clock set back does not move it back.
    host.clock.advance(TimeDelta::minutes(10));
    portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
    host.clock.advance(TimeDelta::minutes(-20));
    portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
    let mail_budget = host
        .store
        .snapshot()
        .into_iter()
        .find(|(k, _)| k.starts_with("budget/code_mails/"))
        .unwrap();
    assert_eq!(
        mail_budget.1.expires,
        Some(start() + TimeDelta::minutes(10) + TimeDelta::hours(1))
    );
    // Outbox records (delivered by the host here) carry the retention.
    let (host2, _) = self::host();
    let by_host = Portal::new(
        host2.ports(),
        Policy::insecure_fast_hashing(),
        CodeKey::from_bytes([7; 32]),
    )
    .with_delivery(kaigo_seikyu::portal::Delivery::ByHost);
    by_host.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
    let queued = host2.store.outbox(10).unwrap();
    assert!(!queued.is_empty());
    for (_, v) in queued {
        assert_eq!(v.expires, Some(start() + policy.outbox_retention()));
    }
}

/// OPS-02, SEC-03: a flow idle past the policy's lifetime is dead: it answers as expired and
/// changes nothing; once purged it is gone (start again). A live flow is never purged.
#[test]
fn ops_02_sec_03_a_dead_flow_answers_expired() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(3);
    let (id, _) = portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
    host.clock
        .advance(portal.policy().flow_lifetime() - TimeDelta::milliseconds(1));
    assert_eq!(
        purge_all(&portal, 10),
        1,
        "the code-mail budget window dead, the flow live"
    );
    assert_eq!(
        portal.reset_enter_otp(&id, "123456", &mut rng).err(),
        Some(PortalError::Flow(FlowError::CodeExpired)),
        "still live a millisecond before: the flow's own deadline answers"
    );
    host.clock.advance(TimeDelta::milliseconds(1));
    let before = host.store.snapshot();
    assert_eq!(
        portal.reset_enter_otp(&id, "123456", &mut rng).err(),
        Some(PortalError::Flow(FlowError::FlowExpired))
    );
    assert_eq!(
        portal.reset_screen(&id).err(),
        Some(PortalError::Flow(FlowError::FlowExpired))
    );
    assert_eq!(host.store.snapshot(), before, "nothing changed");
    assert_eq!(
        portal.purge(10).unwrap(),
        0,
        "dead for less than the margin"
    );
    host.clock.advance(PURGE_MARGIN);
    assert_eq!(portal.purge(0).unwrap(), 0, "a limit of 0 purges nothing");
    assert_eq!(portal.purge(10).unwrap(), 1);
    assert_eq!(
        portal.reset_enter_otp(&id, "123456", &mut rng).err(),
        Some(PortalError::NoSuchFlow)
    );
    // A clock set back makes the purged record no less gone and no live record dead.
    host.clock.advance(TimeDelta::days(-10));
    assert_eq!(portal.purge(10).unwrap(), 0);
}

/// OPS-02 (store contract): `purge(now, limit)` removes at most `limit` records dead at `now`,
/// oldest expiry first, never a live one or one without expiry, and a record rewritten with a
/// later expiry stays.
#[test]
fn ops_02_store_purge_contract() {
    let store = kaigo_seikyu::memory::MemoryStore::default();
    let at = |m: i64| start() + TimeDelta::minutes(m);
    let flow = |n: u8| {
        Key::Flow(
            kaigo_seikyu::store::FlowKind::Reset,
            FlowId::generate(&mut StdRng::seed_from_u64(u64::from(n))),
        )
    };
    let keys: Vec<Key> = (0..5).map(flow).collect();
    for (i, key) in keys.iter().enumerate() {
        store
            .commit(&[Write::Put {
                key: key.clone(),
                expected: None,
                value: b"{}".to_vec(),
                expires: Some(at(i as i64 * 10)),
            }])
            .unwrap();
    }
    let forever = Key::Outbox(
        "0123456789abcdef0000000000000001"
            .parse::<EffectId>()
            .unwrap(),
    );
    store
        .commit(&[Write::Put {
            key: forever.clone(),
            expected: None,
            value: b"{}".to_vec(),
            expires: None,
        }])
        .unwrap();
    // keys[1] is rewritten with a later expiry.
    store
        .commit(&[Write::Put {
            key: keys[1].clone(),
            expected: Some(1),
            value: b"{}".to_vec(),
            expires: Some(at(100)),
        }])
        .unwrap();
    assert_eq!(store.purge(at(30), 0).unwrap(), 0);
    assert_eq!(store.purge(at(30), 1).unwrap(), 1);
    assert!(store.load(&keys[0]).unwrap().is_none(), "oldest first");
    assert_eq!(store.purge(at(30), 10).unwrap(), 2);
    assert!(store.load(&keys[1]).unwrap().is_some(), "rewritten: live");
    assert!(store.load(&keys[4]).unwrap().is_some(), "live");
    assert!(store.load(&forever).unwrap().is_some(), "no expiry");
    assert_eq!(
        store.purge(at(-100), 10).unwrap(),
        0,
        "a clock set back purges nothing"
    );
}

/// OPS-02: 10,000 resets started and abandoned; with the clock past every lifetime, purging in
/// batches leaves only accounts (with their office's record), applications and certificates.
#[test]
fn ops_02_bounded_store_after_abandoned_resets() {
    let (host, portal) = host();
    let mut rng = StdRng::seed_from_u64(4);
    let mut started = 0;
    for i in 0..10_000 {
        if i % 100 == 0 {
            host.clock.advance(TimeDelta::seconds(1));
        }
        let address = format!("someone-{i}@jp");
        if portal.reset_start(OFFICE, &address, &mut rng).is_ok() {
            started += 1;
        }
    }
    assert_eq!(started, 10_000);
    let held = host.store.len();
    assert!(held > 20_000, "flows and budgets: {held}");
    host.clock
        .advance(portal.policy().outbox_retention() + PURGE_MARGIN + TimeDelta::days(4));
    let purged = purge_all(&portal, 1000);
    let left: Vec<String> = host.store.snapshot().into_iter().map(|(k, _)| k).collect();
    assert!(
        left.iter().all(|k| k.starts_with("account/")
            || k.starts_with("office_accounts/")
            || k.starts_with("application/")
            || k.starts_with("certificates/")),
        "{left:?}"
    );
    assert_eq!(purged + left.len(), held);
    assert_eq!(left.len(), 2, "the account and its office's record");
}

/// One step of the property test.
#[derive(Debug, Clone)]
enum Op {
    /// Start a reset with address `n`.
    Start(u8),
    /// Enter a wrong OTP into flow `n` (modulo those started).
    Guess(u8),
    /// Draw flow `n`'s screen again.
    Screen(u8),
    /// Move the clock forward.
    Forward(TimeDelta),
    /// Set the clock back, at most 59 minutes behind the latest instant seen.
    Back(TimeDelta),
    /// Purge one batch.
    Purge(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..6).prop_map(Op::Start),
        3 => any::<u8>().prop_map(Op::Guess),
        2 => any::<u8>().prop_map(Op::Screen),
        2 => prop::sample::select(vec![
            TimeDelta::seconds(1),
            TimeDelta::minutes(30),
            TimeDelta::hours(1),
            TimeDelta::days(1),
            TimeDelta::days(3),
            TimeDelta::days(31),
        ])
        .prop_map(Op::Forward),
        1 => prop::sample::select(vec![TimeDelta::seconds(1), TimeDelta::minutes(30), TimeDelta::minutes(59)])
            .prop_map(Op::Back),
        2 => (0usize..4).prop_map(Op::Purge),
    ]
}

/// A host, its portal, the flows started and the latest instant its clock showed.
struct Side {
    host: Embedded,
    portal: Portal,
    rng: StdRng,
    flows: Vec<FlowId>,
    latest: Instant,
}

impl Side {
    fn new() -> Self {
        let (host, portal) = host();
        Side {
            host,
            portal,
            rng: StdRng::seed_from_u64(5),
            flows: Vec::new(),
            latest: start(),
        }
    }

    /// Runs `op`; the answer, as text, with a dead flow's answers made one.
    fn run(&mut self, op: &Op) -> String {
        let flow = |s: &Self, n: u8| s.flows.get(usize::from(n) % s.flows.len().max(1)).cloned();
        let normal = |r: Result<String, PortalError>| match r {
            Err(PortalError::Flow(FlowError::FlowExpired)) | Err(PortalError::NoSuchFlow) => {
                "gone".to_owned()
            }
            other => format!("{other:?}"),
        };
        match op {
            Op::Start(n) => {
                let r = self
                    .portal
                    .reset_start(OFFICE, &format!("a{n}@jp"), &mut self.rng);
                if let Ok((id, _)) = &r {
                    self.flows.push(id.clone());
                }
                normal(r.map(|(_, s)| s.to_string()))
            }
            Op::Guess(n) => match flow(self, *n) {
                Some(id) => normal(
                    self.portal
                        .reset_enter_otp(&id, "000000", &mut self.rng)
                        .map(|s| s.to_string()),
                ),
                None => "none".into(),
            },
            Op::Screen(n) => match flow(self, *n) {
                Some(id) => normal(self.portal.reset_screen(&id).map(|s| s.to_string())),
                None => "none".into(),
            },
            Op::Forward(by) => {
                self.host.clock.advance(*by);
                self.latest = self.latest.max(self.portal.now());
                String::new()
            }
            Op::Back(by) => {
                let floor = self.latest - TimeDelta::minutes(59);
                self.host.clock.set((self.portal.now() - *by).max(floor));
                String::new()
            }
            Op::Purge(limit) => {
                let cutoff = self.portal.now() - PURGE_MARGIN;
                let before = self.host.store.snapshot();
                let n = self.portal.purge(*limit).unwrap();
                let after = self.host.store.snapshot();
                assert!(n <= *limit);
                assert_eq!(before.len() - after.len(), n);
                for (key, v) in &before {
                    if !after.iter().any(|(k, _)| k == key) {
                        assert!(v.dead_at(cutoff), "{key} was purged while live");
                    }
                }
                String::new()
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// OPS-02: over random steps and clock moves (backwards by less than the purge margin too),
    /// a host that purges answers every step as one that never purges (a dead flow answers as
    /// expired before it is purged and as gone after), so `purge` never removed a record a later
    /// step would have read as live; and after purging at `now` until a batch comes back short,
    /// no record dead at `now` minus the margin is left.
    #[test]
    fn ops_02_purge_never_removes_what_a_later_step_reads(ops in prop::collection::vec(op(), 1..40)) {
        let mut purging = Side::new();
        let mut keeping = Side::new();
        for op in &ops {
            let answer = purging.run(op);
            let reference = match op {
                Op::Purge(_) => String::new(),
                other => keeping.run(other),
            };
            prop_assert_eq!(answer, reference, "{:?}", op);
        }
        purge_all(&purging.portal, 3);
        let cutoff = purging.portal.now() - PURGE_MARGIN;
        for (key, v) in purging.host.store.snapshot() {
            prop_assert!(!v.dead_at(cutoff), "{} dead and left", key);
        }
    }
}

//! OPS-06: operator actions go through the driver as audited operations: provisioning a new or an
//! existing office, setting and clearing a security code, lifting a lockout. Each commits with
//! compare-and-swap and emits one event without a secret; a refused one changes nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kaigo_seikyu::account::TermsAcceptance;
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::effect::EventKind;
use kaigo_seikyu::error::{FlowError, PortalError};
use kaigo_seikyu::memory::{Embedded, MemoryStore};
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::Portal;
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::store::{Key, Store, StoreError, Versioned, Write};
use kaigo_seikyu::values::{PasswordClause, UserId, ValueError};
use rand::SeedableRng;
use rand::rngs::StdRng;

const USER: &str = "KJ131311111111";

fn host() -> (Embedded, Portal, StdRng) {
    let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    let portal = host.portal(
        Policy::insecure_fast_hashing(),
        CodeKey::from_bytes([4; 32]),
    );
    (host, portal, StdRng::seed_from_u64(5))
}

fn kinds(host: &Embedded) -> Vec<EventKind> {
    host.events.all().into_iter().map(|e| e.kind).collect()
}

/// OPS-06, SEC-05: each operator action emits its event, names the account and no secret, and
/// does what it says.
#[test]
fn ops_06_operator_actions_are_audited() {
    let (host, portal, mut rng) = host();
    let user = portal
        .provision_new_office(USER, "Kari2026pass", &mut rng)
        .unwrap();
    assert!(portal.account(&user).unwrap().unwrap().temporary.is_some());
    let terms = TermsAcceptance {
        version: 1,
        at: utc("2020-04-01T09:00:00+09:00"),
    };
    let existing = portal
        .provision_existing_office("KJ131322222222", "Sakura2026!", terms, &mut rng)
        .unwrap();
    portal.set_security_code(&user, "7351", &mut rng).unwrap();
    assert!(
        portal
            .account(&user)
            .unwrap()
            .unwrap()
            .security_code
            .is_some()
    );
    portal.clear_security_code(&user).unwrap();
    assert!(
        portal
            .account(&user)
            .unwrap()
            .unwrap()
            .security_code
            .is_none()
    );
    for _ in 0..3 {
        let _ = portal.login(USER, "Wrong2026pass", &mut rng);
    }
    assert!(
        portal
            .account(&user)
            .unwrap()
            .unwrap()
            .locked_until
            .is_some()
    );
    portal.lift_lockout(&user).unwrap();
    let account = portal.account(&user).unwrap().unwrap();
    assert_eq!((account.failures, account.locked_until), (0, None));

    let audited: Vec<EventKind> = kinds(&host)
        .into_iter()
        .filter(|k| {
            !matches!(
                k,
                EventKind::LoginFailed { .. } | EventKind::LockedOut { .. }
            )
        })
        .collect();
    assert_eq!(
        audited,
        [
            EventKind::AccountProvisioned { user },
            EventKind::AccountProvisioned { user: existing },
            EventKind::SecurityCodeSet { user },
            EventKind::SecurityCodeCleared { user },
            EventKind::LockoutLifted { user },
        ]
    );
    let log = format!("{:?}", host.events.all());
    for secret in ["Kari2026pass", "Sakura2026!", "7351", "$argon2"] {
        assert!(!log.contains(secret), "{secret} in the audit log");
    }
}

/// OPS-06, SEC-06: a refused operator action changes nothing and logs nothing: a user ID that
/// already has an account, a malformed user ID, a temporary password against the policy, an
/// unknown account.
#[test]
fn ops_06_refused_actions_change_nothing() {
    let (host, portal, mut rng) = host();
    let user = portal
        .provision_new_office(USER, "Kari2026pass", &mut rng)
        .unwrap();
    let before = (host.store.snapshot(), host.events.all());
    assert_eq!(
        portal.provision_new_office(USER, "Kari2026pass", &mut rng),
        Err(PortalError::Flow(FlowError::AccountExists))
    );
    assert_eq!(
        portal.provision_new_office("KJ13", "Kari2026pass", &mut rng),
        Err(PortalError::Flow(FlowError::Value(
            ValueError::UserIdFormat
        )))
    );
    assert!(matches!(
        portal.provision_new_office("KJ131322222222", "short", &mut rng),
        Err(PortalError::Flow(FlowError::Value(ValueError::Password(
            PasswordClause::Length { .. }
        ))))
    ));
    let nobody: UserId = "KJ131399999999".parse().unwrap();
    for refused in [
        portal.set_security_code(&nobody, "7351", &mut rng),
        portal.clear_security_code(&nobody),
        portal.lift_lockout(&nobody),
    ] {
        assert_eq!(refused, Err(PortalError::Flow(FlowError::NoSuchAccount)));
    }
    assert_eq!((host.store.snapshot(), host.events.all()), before);
    assert!(portal.account(&user).unwrap().is_some());
}

/// A store that lets another writer change the account between the operator's read and commit.
struct Racing {
    inner: Arc<MemoryStore>,
    commits: AtomicUsize,
}

impl Store for Racing {
    fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        self.inner.load(key)
    }
    fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        // OPS-01: the removal of delivered outbox records is not the operator action's commit.
        if writes.iter().all(|w| matches!(w.key(), Key::Outbox(_))) {
            return self.inner.commit(writes);
        }
        if self.commits.fetch_add(1, Ordering::SeqCst) == 0 {
            let key = Key::Account(USER.parse().unwrap());
            let found = self.inner.load(&key)?.unwrap();
            let mut account: serde_json::Value = serde_json::from_slice(&found.value).unwrap();
            account["failures"] = 2.into();
            self.inner.commit(&[Write::Put {
                key,
                expected: Some(found.version),
                value: serde_json::to_vec(&account).unwrap(),
                expires: None,
            }])?;
        }
        self.inner.commit(writes)
    }
}

/// OPS-06, SEC-02: an operator action that loses a race with a login is run again on the fresh
/// account: the login's change is kept, the operator's applied on top, nothing lost.
#[test]
fn ops_06_sec_02_operator_actions_compare_and_swap() {
    let (host, portal, mut rng) = host();
    let user = portal
        .provision_new_office(USER, "Kari2026pass", &mut rng)
        .unwrap();
    let mut ports = host.ports();
    let racing = Arc::new(Racing {
        inner: host.store.clone(),
        commits: AtomicUsize::new(0),
    });
    ports.store = racing.clone();
    let operator = Portal::new(
        ports,
        Policy::insecure_fast_hashing(),
        CodeKey::from_bytes([4; 32]),
    );
    operator.set_security_code(&user, "7351", &mut rng).unwrap();
    assert_eq!(
        racing.commits.load(Ordering::SeqCst),
        2,
        "re-run after the lost race"
    );
    let account = portal.account(&user).unwrap().unwrap();
    assert_eq!(account.failures, 2, "the racing change is kept");
    assert!(account.security_code.is_some(), "the operator's change too");
}

/// OPS-04, OPS-06, RS-03: accounts written around the driver (as a store written before the
/// office's accounts record existed holds them) leave the office looking unknown to a reset: the
/// OTP screen, nothing mailed. `index_office` writes the record from the accounts, audited, in
/// one round; then the reset mails the OTP; a second call writes nothing.
#[test]
fn ops_04_index_office_writes_the_record_of_accounts_written_around_the_driver() {
    use kaigo_seikyu::account::{Account, OfficeAccounts};
    use kaigo_seikyu::testkit::CountingStore;
    let (host, _, mut rng) = host();
    let (ports, store) = CountingStore::over(&host);
    let portal = Portal::new(
        ports,
        Policy::insecure_fast_hashing(),
        CodeKey::from_bytes([4; 32]),
    );
    let office = "1311111111".parse().unwrap();
    for user in ["KJ131311111111", "KJ141311111111"] {
        let user: UserId = user.parse().unwrap();
        let mut account = Account::new(user, portal.hash_secret(b"Kari2026pass", &mut rng));
        account
            .security_emails
            .add("a@jp".parse().unwrap(), portal.now())
            .unwrap();
        let value = serde_json::to_vec(&account).unwrap();
        host.store
            .commit(&[Write::Put {
                key: Key::Account(user),
                expected: None,
                value,
                expires: None,
            }])
            .unwrap();
    }
    let route = portal.reset_start("1311111111", "a@jp", &mut rng).unwrap();
    assert_eq!(
        route.1.title, "ワンタイムパスワード入力",
        "an unknown office's answer"
    );
    assert!(host.outbox.all().is_empty(), "nothing mailed");
    store.take();

    assert!(portal.index_office(office).unwrap());
    let cost = store.take();
    assert_eq!(
        (cost.rounds, cost.records),
        (1, 48),
        "one round: 47 accounts and the record"
    );
    let record: OfficeAccounts = serde_json::from_slice(
        &host
            .store
            .load(&Key::OfficeAccounts(office))
            .unwrap()
            .unwrap()
            .value,
    )
    .unwrap();
    let listed: Vec<String> = record
        .accounts()
        .iter()
        .map(|a| format!("{}:{}", a.billing, a.security_emails.len()))
        .collect();
    assert_eq!(listed, ["13:1", "14:1"]);
    assert_eq!(
        kinds(&host).last(),
        Some(&EventKind::OfficeIndexed { office })
    );
    let route = portal.reset_start("1311111111", "a@jp", &mut rng).unwrap();
    assert_eq!(
        route.1.title, "請求先都道府県選択",
        "two prefectures: RS-02"
    );
    assert!(
        !portal.index_office(office).unwrap(),
        "in step: nothing written"
    );
    assert!(
        !portal.index_office("1399999999".parse().unwrap()).unwrap(),
        "an office without accounts gets no record"
    );
}

//! In-memory implementations of every port: the embedded default for examples, tests and
//! prototypes. All are safe to share across threads.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::calendar::Instant;
use crate::effect::{EffectId, Event};
use crate::mail::{Mail, Notice};
use crate::ports::{AuditLog, Clock, Mailer, NoticeBoard, OfficeLedger, OfficeRecord, PortError};
use crate::store::{Key, Store, StoreError, Versioned, Write};
use crate::values::OfficeNumber;

/// Locks a mutex, recovering the data if another thread panicked while holding it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

const SHARDS: usize = 64;

/// A sharded in-memory [`Store`]: a commit locks only the shards of its keys, in order, so
/// independent flows do not contend (no global lock on the hot path).
///
/// # Example
/// ```
/// use kaigo_seikyu::memory::MemoryStore;
/// use kaigo_seikyu::store::{Key, Store, StoreError, Write};
/// let store = MemoryStore::default();
/// let key = Key::Account("KJ131311111111".parse().unwrap());
/// store.commit(&[Write::Put { key: key.clone(), expected: None, value: b"v1".to_vec(), expires: None }]).unwrap();
/// assert_eq!(store.load(&key).unwrap().unwrap().version, 1);
/// // A second writer that also read "absent" loses:
/// let stale = Write::Put { key: key.clone(), expected: None, value: b"v1'".to_vec(), expires: None };
/// assert_eq!(store.commit(&[stale]), Err(StoreError::Conflict));
/// ```
pub struct MemoryStore {
    shards: Vec<Mutex<HashMap<Key, Versioned>>>,
    /// The outbox records' ids in commit order (OPS-01), by a sequence number given under the
    /// shard locks of their commit.
    outbox: Mutex<Outboxed>,
    /// The keys [`Store::scan`] lists ([`Key::Queue`]), by their `Display`, kept under the
    /// shard locks of their commit (OPS-03).
    ranged: Mutex<std::collections::BTreeMap<String, Key>>,
    /// OPS-02: the records that carry an expiry, by expiry, kept under the shard locks of their
    /// commit.
    dying: Mutex<std::collections::BTreeMap<(Instant, String), Key>>,
}

#[derive(Default)]
struct Outboxed {
    next: u64,
    order: std::collections::BTreeMap<u64, EffectId>,
    seq: HashMap<EffectId, u64>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            outbox: Mutex::default(),
            ranged: Mutex::default(),
            dying: Mutex::default(),
        }
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemoryStore({} records)", self.len())
    }
}

fn shard_of(key: &Key) -> usize {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % SHARDS as u64) as usize
}

impl MemoryStore {
    /// How many records it holds.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every key and record, sorted by key: for tests that compare whole stores.
    pub fn snapshot(&self) -> Vec<(String, Versioned)> {
        let mut all: Vec<(String, Versioned)> = self
            .shards
            .iter()
            .flat_map(|s| {
                lock(s)
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

impl Store for MemoryStore {
    fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        Ok(lock(&self.shards[shard_of(key)]).get(key).cloned())
    }

    fn outbox(&self, limit: usize) -> Result<Vec<(EffectId, Versioned)>, StoreError> {
        let ids: Vec<EffectId> = lock(&self.outbox)
            .order
            .values()
            .take(limit)
            .cloned()
            .collect();
        Ok(ids
            .into_iter()
            .filter_map(|id| {
                let record = self.load(&Key::Outbox(id.clone())).ok()??;
                Some((id, record))
            })
            .collect())
    }

    fn scan(
        &self,
        range: &crate::store::KeyRange,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<Vec<Versioned>, StoreError> {
        let prefix = range.prefix();
        let from = match after.map(Key::to_string) {
            Some(after) if after >= prefix => std::ops::Bound::Excluded(after),
            _ => std::ops::Bound::Included(prefix.clone()),
        };
        let keys: Vec<Key> = lock(&self.ranged)
            .range((from, std::ops::Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, key)| range.contains(key))
            .take(limit)
            .map(|(_, key)| key.clone())
            .collect();
        Ok(keys
            .iter()
            .filter_map(|key| self.load(key).ok().flatten())
            .collect())
    }

    /// OPS-02: each dead record is removed by a commit that expects its version, so a record
    /// rewritten meanwhile (with a later expiry) stays.
    fn purge(&self, now: Instant, limit: usize) -> Result<usize, StoreError> {
        let dead: Vec<Key> = lock(&self.dying)
            .iter()
            .take_while(|((at, _), _)| *at <= now)
            .take(limit)
            .map(|(_, key)| key.clone())
            .collect();
        let mut purged = 0;
        for key in dead {
            let Some(record) = self.load(&key)? else {
                continue;
            };
            if !record.dead_at(now) {
                continue;
            }
            let delete = Write::Delete {
                key,
                expected: record.version,
            };
            match self.commit(&[delete]) {
                Ok(()) => purged += 1,
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(purged)
    }

    fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        let mut indices: Vec<usize> = writes.iter().map(|w| shard_of(w.key())).collect();
        indices.sort_unstable();
        indices.dedup();
        let mut guards: Vec<(usize, MutexGuard<'_, HashMap<Key, Versioned>>)> = indices
            .iter()
            .map(|&i| (i, lock(&self.shards[i])))
            .collect();
        let shard = |key: &Key| -> usize {
            let i = shard_of(key);
            guards
                .iter()
                .position(|(j, _)| *j == i)
                .expect("locked above")
        };
        // Check every version first, so a conflict writes nothing.
        let slots: Vec<usize> = writes.iter().map(|w| shard(w.key())).collect();
        for (w, &slot) in writes.iter().zip(&slots) {
            let current = guards[slot].1.get(w.key()).map(|v| v.version);
            if current != w.expected() {
                return Err(StoreError::Conflict);
            }
        }
        let mut seen = std::collections::HashSet::new();
        if !writes.iter().all(|w| seen.insert(w.key())) {
            return Err(StoreError::Unavailable(
                "a commit wrote one key twice".into(),
            ));
        }
        let mut outbox = lock(&self.outbox);
        let mut ranged = lock(&self.ranged);
        let mut dying = lock(&self.dying);
        for w in writes {
            match w {
                Write::Put {
                    key: key @ Key::Queue(..),
                    ..
                } => {
                    ranged.insert(key.to_string(), key.clone());
                }
                Write::Delete {
                    key: key @ Key::Queue(..),
                    ..
                } => {
                    ranged.remove(&key.to_string());
                }
                _ => {}
            }
        }
        for (w, &slot) in writes.iter().zip(&slots) {
            match w {
                Write::Put {
                    key: Key::Outbox(id),
                    ..
                } if !outbox.seq.contains_key(id) => {
                    let n = outbox.next;
                    outbox.next += 1;
                    outbox.order.insert(n, id.clone());
                    outbox.seq.insert(id.clone(), n);
                }
                Write::Delete {
                    key: Key::Outbox(id),
                    ..
                } => {
                    if let Some(n) = outbox.seq.remove(id) {
                        outbox.order.remove(&n);
                    }
                }
                _ => {}
            }
            let map = &mut guards[slot].1;
            match w {
                Write::Put {
                    key,
                    expected,
                    value,
                    expires,
                } => {
                    let version = expected.map_or(1, |v| v + 1);
                    let old = map.insert(
                        key.clone(),
                        Versioned {
                            version,
                            value: value.clone(),
                            expires: *expires,
                        },
                    );
                    if let Some(at) = old.and_then(|old| old.expires) {
                        dying.remove(&(at, key.to_string()));
                    }
                    if let Some(at) = expires {
                        dying.insert((*at, key.to_string()), key.clone());
                    }
                }
                Write::Delete { key, .. } => {
                    if let Some(at) = map.remove(key).and_then(|old| old.expires) {
                        dying.remove(&(at, key.to_string()));
                    }
                }
                Write::Check { .. } => {}
            }
        }
        Ok(())
    }
}

/// A clock the test or example moves by hand: a virtual clock.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, memory::VirtualClock, ports::Clock};
/// let clock = VirtualClock::new(utc("2026-01-31T23:59:59+09:00"));
/// clock.advance(chrono::TimeDelta::seconds(1));
/// assert_eq!(clock.now(), utc("2026-02-01T00:00:00+09:00"));
/// ```
#[derive(Debug)]
pub struct VirtualClock(Mutex<Instant>);

impl VirtualClock {
    /// A clock standing at `start`.
    pub fn new(start: Instant) -> Self {
        VirtualClock(Mutex::new(start))
    }

    /// Sets the time.
    pub fn set(&self, now: Instant) {
        *lock(&self.0) = now;
    }

    /// Moves the time forward (or back, with a negative delta).
    pub fn advance(&self, by: chrono::TimeDelta) {
        let mut t = lock(&self.0);
        *t += by;
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Instant {
        *lock(&self.0)
    }
}

/// An in-memory outbox (SEC-08): mails are kept in queue order until [`Outbox::drain`] delivers them.
///
/// # Example
/// ```
/// use kaigo_seikyu::memory::Outbox;
/// let outbox = Outbox::default();
/// assert!(outbox.queued().is_empty());
/// ```
#[derive(Debug, Default)]
pub struct Outbox {
    queue: Mutex<Vec<Mail>>,
    delivered: Mutex<Vec<Mail>>,
}

impl Outbox {
    /// The mails queued and not yet drained, in order.
    pub fn queued(&self) -> Vec<Mail> {
        lock(&self.queue).clone()
    }

    /// Every mail ever queued, delivered or not, in order.
    pub fn all(&self) -> Vec<Mail> {
        let mut all = lock(&self.delivered).clone();
        all.extend(lock(&self.queue).iter().cloned());
        all
    }

    /// Takes the queued mails out, in order, as a delivery loop would.
    pub fn drain(&self) -> Vec<Mail> {
        let mails = std::mem::take(&mut *lock(&self.queue));
        lock(&self.delivered).extend(mails.iter().cloned());
        mails
    }

    /// The newest mail ever queued to `to` (an [`EmailAddress`](crate::values::EmailAddress) or a plain address string,
    /// compared as VAL-04 compares addresses: ignoring ASCII case and surrounding spaces), like a
    /// user opening their inbox.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{mail::Mail, memory::Outbox, ports::Mailer};
    /// let outbox = Outbox::default();
    /// outbox.enqueue(Mail { to: "Office@jp".parse().unwrap(), subject: "s".into(), body: "b".into() }).unwrap();
    /// assert!(outbox.last_to("office@jp").is_some());
    /// assert!(outbox.last_to(&"OFFICE@jp".parse::<kaigo_seikyu::values::EmailAddress>().unwrap()).is_some());
    /// assert!(outbox.last_to("other@jp").is_none());
    /// ```
    pub fn last_to(&self, to: impl AsRef<str>) -> Option<Mail> {
        let to = to.as_ref().trim_matches(' ');
        self.all()
            .into_iter()
            .rev()
            .find(|m| m.to.as_str().eq_ignore_ascii_case(to))
    }
}

impl Mailer for Outbox {
    fn enqueue(&self, mail: Mail) -> Result<(), PortError> {
        lock(&self.queue).push(mail);
        Ok(())
    }
}

/// An in-memory notice board.
#[derive(Debug, Default)]
pub struct Notices(Mutex<Vec<(OfficeNumber, Notice)>>);

impl Notices {
    /// Every notice posted to `office`, oldest first.
    pub fn for_office(&self, office: &OfficeNumber) -> Vec<Notice> {
        lock(&self.0)
            .iter()
            .filter(|(o, _)| o == office)
            .map(|(_, n)| n.clone())
            .collect()
    }

    /// Every notice posted, oldest first.
    pub fn all(&self) -> Vec<(OfficeNumber, Notice)> {
        lock(&self.0).clone()
    }
}

impl NoticeBoard for Notices {
    fn post(&self, office: OfficeNumber, notice: Notice) -> Result<(), PortError> {
        lock(&self.0).push((office, notice));
        Ok(())
    }
}

/// An in-memory audit log.
#[derive(Debug, Default)]
pub struct Events(Mutex<Vec<Event>>);

impl Events {
    /// Every event recorded and not drained, oldest first.
    pub fn all(&self) -> Vec<Event> {
        lock(&self.0).clone()
    }

    /// Takes the recorded events out, oldest first, as a log shipper would; e.g. a test's
    /// set-up drains the provisioning events (OPS-06) so that it sees only what its steps log.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{account::Account, calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
    /// let hash = portal.hash_secret(b"Kari2026pass", &mut rand::rng());
    /// portal.create_account(Account::new("KJ131311111111".parse()?, hash))?;
    /// assert_eq!(host.events.drain().len(), 1);
    /// assert!(host.events.all().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn drain(&self) -> Vec<Event> {
        std::mem::take(&mut *lock(&self.0))
    }
}

impl AuditLog for Events {
    fn record(&self, event: &Event) -> Result<(), PortError> {
        lock(&self.0).push(event.clone());
        Ok(())
    }
}

/// An in-memory office ledger.
#[derive(Debug, Default)]
pub struct Ledger(Mutex<HashMap<OfficeNumber, OfficeRecord>>);

impl Ledger {
    /// Adds or replaces an office's record.
    pub fn insert(&self, record: OfficeRecord) {
        lock(&self.0).insert(record.number, record);
    }
}

impl OfficeLedger for Ledger {
    fn find(&self, number: &OfficeNumber) -> Result<Option<OfficeRecord>, PortError> {
        Ok(lock(&self.0).get(number).cloned())
    }
}

/// Every in-memory port, with handles a test or example can look into.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
/// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
/// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([0; 32]));
/// assert!(host.outbox.queued().is_empty());
/// # let _ = portal;
/// ```
#[derive(Debug, Clone)]
pub struct Embedded {
    /// The store.
    pub store: Arc<MemoryStore>,
    /// The virtual clock.
    pub clock: Arc<VirtualClock>,
    /// The mail outbox.
    pub outbox: Arc<Outbox>,
    /// The notice board.
    pub notices: Arc<Notices>,
    /// The audit log.
    pub events: Arc<Events>,
    /// The office ledger.
    pub ledger: Arc<Ledger>,
    /// The session registry.
    pub sessions: Arc<SessionLog>,
}

impl Embedded {
    /// Fresh, empty ports with the clock at `start`.
    pub fn new(start: Instant) -> Self {
        Embedded {
            store: Arc::default(),
            clock: Arc::new(VirtualClock::new(start)),
            outbox: Arc::default(),
            notices: Arc::default(),
            events: Arc::default(),
            ledger: Arc::default(),
            sessions: Arc::default(),
        }
    }

    /// A [`Portal`](crate::portal::Portal) over these ports, hashing with argon2id per the
    /// policy and keying code digests with `key`.
    pub fn portal(
        &self,
        policy: crate::policy::Policy,
        key: crate::secret::CodeKey,
    ) -> crate::portal::Portal {
        crate::portal::Portal::new(self.ports(), policy, key)
    }

    /// A [`Portal`](crate::portal::Portal) over these ports with a hasher of the host's choosing
    /// (e.g. one that counts its calls in a test).
    ///
    /// # Example
    /// ```
    /// use std::sync::Arc;
    /// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy};
    /// use kaigo_seikyu::secret::{Argon2Hasher, CodeKey};
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let policy = Policy::insecure_fast_hashing();
    /// let hasher = Arc::new(Argon2Hasher::new(policy.hashing, CodeKey::from_bytes([0; 32])));
    /// let portal = host.portal_with_hasher(policy, hasher);
    /// assert_eq!(portal.now(), utc("2026-01-10T10:00:00+09:00"));
    /// ```
    pub fn portal_with_hasher(
        &self,
        policy: crate::policy::Policy,
        hasher: Arc<dyn crate::secret::SecretHasher>,
    ) -> crate::portal::Portal {
        crate::portal::Portal::with_hasher(self.ports(), policy, hasher)
    }

    /// These ports, for [`Portal::new`](crate::portal::Portal::new) and
    /// [`Portal::with_hasher`](crate::portal::Portal::with_hasher).
    pub fn ports(&self) -> crate::portal::Ports {
        crate::portal::Ports {
            store: self.store.clone(),
            clock: self.clock.clone(),
            mailer: self.outbox.clone(),
            notices: self.notices.clone(),
            audit: self.events.clone(),
            ledger: self.ledger.clone(),
            sessions: self.sessions.clone(),
        }
    }
}

/// An in-memory session registry: records which user IDs had their sessions revoked.
#[derive(Debug, Default)]
pub struct SessionLog(Mutex<Vec<crate::values::UserId>>);

impl SessionLog {
    /// The user IDs whose sessions were revoked, in order.
    pub fn revoked(&self) -> Vec<crate::values::UserId> {
        lock(&self.0).clone()
    }
}

impl crate::ports::Sessions for SessionLog {
    fn revoke_all(&self, user: &crate::values::UserId) -> Result<(), PortError> {
        lock(&self.0).push(*user);
        Ok(())
    }
}

//! The `Store` port: versioned records with an all-or-nothing compare-and-swap commit (SEC-02).
//!
//! Records are bytes (the driver writes JSON), addressed by a typed [`Key`] whose `Display` is a
//! stable string, so a host can keep them in any key-value table with a version column.

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::calendar::{Instant, YearMonth};
use crate::values::{EmailAddress, ManagementNumber, OfficeNumber, Prefecture, UserId};

/// Which flow a persisted flow state belongs to.
///
/// # Example
/// ```
/// assert_eq!(kaigo_seikyu::store::FlowKind::Reset.as_str(), "reset");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FlowKind {
    /// The login gate (LOGIN).
    Login,
    /// First login of a new office (FL).
    FirstLogin,
    /// An existing office's registration with the grace period (GR).
    Grace,
    /// Adding or changing a security email (SE).
    SecurityEmails,
    /// Login-info reset (RS).
    Reset,
    /// Login-info reissue application (RI).
    Reissue,
    /// Certificate issue application (FEE).
    Certificate,
}

impl FlowKind {
    /// The kind's name in keys.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowKind::Login => "login",
            FlowKind::FirstLogin => "first_login",
            FlowKind::Grace => "grace",
            FlowKind::SecurityEmails => "security_emails",
            FlowKind::Reset => "reset",
            FlowKind::Reissue => "reissue",
            FlowKind::Certificate => "certificate",
        }
    }
}

/// `FromStr` (exactly 32 lowercase hex digits, else [`StoreError::Corrupt`] naming `$what`),
/// serde through the text (`text_serde!`), `Display` and a `Debug` naming the type, for the ids
/// kept as 32 hex digits ([`FlowId`], [`EffectId`]).
macro_rules! hex_id {
    ($id:ident, $what:literal) => {
        impl std::str::FromStr for $id {
            type Err = StoreError;
            fn from_str(s: &str) -> Result<Self, StoreError> {
                if s.len() == 32
                    && s.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    Ok($id(s.to_owned()))
                } else {
                    Err(StoreError::Corrupt(
                        concat!($what, " is 32 lowercase hex digits").into(),
                    ))
                }
            }
        }

        text_serde!(StoreError: $id);

        impl fmt::Display for $id {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $id {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($id), "({})"), self.0)
            }
        }
    };
}

/// A flow's id: 128 random bits from the host's CSPRNG, as 32 hex digits. It is a bearer handle for
/// flows that run before login (RS, RI): keep it in the browser session only.
///
/// # Example
/// ```
/// let id = kaigo_seikyu::store::FlowId::generate(&mut rand::rng());
/// assert_eq!(id.as_str().len(), 32);
/// assert_eq!(id.as_str().parse::<kaigo_seikyu::store::FlowId>().unwrap(), id);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FlowId(String);

impl FlowId {
    /// A fresh random id.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        FlowId(crate::secret::hex(&bytes))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

hex_id!(FlowId, "a flow id");

/// The stable id of one effect in the transactional outbox (OPS-01): 32 lowercase hex digits,
/// drawn when the step's commit is built and kept with the effect until it is delivered. A
/// receiver that sees an id twice has received a duplicate (delivery is at least once).
///
/// The first 16 digits are a tag drawn once per process from the operating system's randomness
/// (through the standard library's hasher keys), the last 16 a counter of the process: ids are
/// unique within a process and, with overwhelming probability, across processes.
///
/// # Example
/// ```
/// use kaigo_seikyu::effect::EffectId;
/// let id: EffectId = "0123456789abcdef0000000000000001".parse()?;
/// assert_eq!(id.as_str().len(), 32);
/// assert!("not an id".parse::<EffectId>().is_err());
/// # Ok::<(), kaigo_seikyu::store::StoreError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EffectId(String);

impl EffectId {
    /// A fresh id: this process's tag and its next count.
    pub(crate) fn fresh() -> Self {
        use std::hash::BuildHasher;
        use std::sync::OnceLock;
        use std::sync::atomic::{AtomicU64, Ordering};
        static TAG: OnceLock<u64> = OnceLock::new();
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let tag = *TAG.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u8));
        let count = COUNT.fetch_add(1, Ordering::Relaxed);
        EffectId(format!("{tag:016x}{count:016x}"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

hex_id!(EffectId, "an effect id");

/// What a budget counts (SEC-04, SEC-07).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Budget {
    /// SEC-04: code mails to one address.
    CodeMails(EmailAddress),
    /// SEC-07: wrong code entries for one user ID (whether or not it exists), in FL, GR and SE.
    WrongCodes(UserId),
    /// SEC-07: wrong OTP entries of resets started for one user ID (whether or not it exists) with
    /// one entered address (whether or not it matched, RS-03): guesses at resets started with a
    /// wrong address cannot use up the real office's budget.
    WrongResetCodes(UserId, EmailAddress),
    /// SEC-07: wrong code entries for one notification address (RI).
    WrongCodesAt(EmailAddress),
}

/// The address of a record.
///
/// # Example
/// ```
/// use kaigo_seikyu::store::Key;
/// let k = Key::Account("KJ131311111111".parse().unwrap());
/// assert_eq!(k.to_string(), "account/KJ131311111111");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// An [`Account`](crate::account::Account).
    Account(UserId),
    /// A flow's persisted state.
    Flow(FlowKind, FlowId),
    /// A [`RateWindow`] of a budget.
    Budget(Budget),
    /// A reissue application by its management number.
    Application(ManagementNumber),
    /// The pending application of an office and billing prefecture (RI-07).
    Pending(OfficeNumber, Prefecture),
    /// The last management number issued in a month (VAL-08).
    Sequence(YearMonth),
    /// An office's certificates (FEE-05).
    Certificates(OfficeNumber),
    /// The accounts an office holds, with their security emails
    /// ([`OfficeAccounts`](crate::account::OfficeAccounts)): what starting a reset reads
    /// (OPS-04). The transaction core writes it in the commit of every account save that
    /// changes it.
    OfficeAccounts(OfficeNumber),
    /// An effect in the transactional outbox (OPS-01): a [`Queued`](crate::effect::Queued)
    /// record, written once (expected version `None`) in its step's commit and removed once
    /// delivered. A store lists these in commit order ([`Store::outbox`]).
    Outbox(EffectId),
    /// A pending application's entry in its billing prefecture's review queue (OPS-03): a
    /// [`QueueEntry`](crate::reissue::QueueEntry), written in the commit that receives the
    /// application and removed by the commit that reviews it. Its `Display` sorts the entries of
    /// a prefecture oldest first (received at, then management number), so a store lists them
    /// with [`Store::scan`].
    Queue(Prefecture, Instant, ManagementNumber),
}

/// A range of keys a store lists in order with [`Store::scan`] (OPS-03).
///
/// # Example
/// ```
/// use kaigo_seikyu::store::KeyRange;
/// use kaigo_seikyu::values::Prefecture;
/// assert_eq!(KeyRange::Queue(Prefecture::TOKYO).prefix(), "queue/13/");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyRange {
    /// The review queue of one billing prefecture ([`Key::Queue`]), oldest first.
    Queue(Prefecture),
}

impl KeyRange {
    /// The text every key of the range starts with (their `Display`), and no other key.
    pub fn prefix(&self) -> String {
        match self {
            KeyRange::Queue(prefecture) => format!("queue/{prefecture}/"),
        }
    }

    /// Whether `key` lies in the range.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::store::{Key, KeyRange};
    /// use kaigo_seikyu::values::Prefecture;
    /// let k = Key::Sequence(kaigo_seikyu::calendar::YearMonth::new(2026, 1).unwrap());
    /// assert!(!KeyRange::Queue(Prefecture::TOKYO).contains(&k));
    /// ```
    pub fn contains(&self, key: &Key) -> bool {
        match (self, key) {
            (KeyRange::Queue(p), Key::Queue(q, ..)) => p == q,
            _ => false,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Account(id) => write!(f, "account/{id}"),
            Key::Flow(kind, id) => write!(f, "flow/{}/{id}", kind.as_str()),
            Key::Budget(Budget::CodeMails(a)) => {
                write!(f, "budget/code_mails/{}", a.as_str().to_ascii_lowercase())
            }
            Key::Budget(Budget::WrongCodes(id)) => write!(f, "budget/wrong_codes/{id}"),
            Key::Budget(Budget::WrongResetCodes(id, a)) => write!(
                f,
                "budget/wrong_reset_codes/{id}/{}",
                a.as_str().to_ascii_lowercase()
            ),
            Key::Budget(Budget::WrongCodesAt(a)) => {
                write!(
                    f,
                    "budget/wrong_codes_at/{}",
                    a.as_str().to_ascii_lowercase()
                )
            }
            Key::Application(n) => write!(f, "application/{n}"),
            Key::Pending(office, pref) => write!(f, "pending/{office}/{pref}"),
            Key::Sequence(month) => write!(f, "sequence/{month}"),
            Key::Certificates(office) => write!(f, "certificates/{office}"),
            Key::OfficeAccounts(office) => write!(f, "office_accounts/{office}"),
            Key::Outbox(id) => write!(f, "outbox/{id}"),
            Key::Queue(prefecture, received_at, number) => write!(
                f,
                "queue/{prefecture}/{}/{number}",
                received_at.format("%Y%m%dT%H%M%S%.9fZ")
            ),
        }
    }
}

/// A record with its version. Versions start at 1 and grow by one with every write.
/// A record is dead at `now` when its expiry is at or before `now` ([`Versioned::dead_at`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The version the record has in the store.
    pub version: u64,
    /// The record's bytes.
    pub value: Vec<u8>,
    /// OPS-02: the instant from which the record is dead (`None`: it lives until removed), as
    /// its last write set it.
    pub expires: Option<Instant>,
}

impl Versioned {
    /// OPS-02: whether the record is dead at `now` (its expiry is at or before `now`). A clock
    /// that runs backwards makes no live record dead: a record's expiry never moves earlier
    /// because of it.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, store::Versioned};
    /// let v = Versioned { version: 1, value: vec![], expires: Some(utc("2026-01-10T11:00:00+09:00")) };
    /// assert!(!v.dead_at(utc("2026-01-10T10:59:59+09:00")));
    /// assert!(v.dead_at(utc("2026-01-10T11:00:00+09:00")));
    /// ```
    pub fn dead_at(&self, now: Instant) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }
}

/// One write of a commit. `expected` is the version the writer read: `None` means "must not exist".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Create or replace the record.
    Put {
        /// Where.
        key: Key,
        /// The version read, or `None` to create.
        expected: Option<u64>,
        /// The new bytes.
        value: Vec<u8>,
        /// OPS-02: the instant from which the record is dead and [`Store::purge`] may remove it
        /// (`None`: it lives until removed). The driver sets it on every flow, budget and outbox
        /// record.
        expires: Option<Instant>,
    },
    /// Remove the record.
    Delete {
        /// Where.
        key: Key,
        /// The version read.
        expected: u64,
    },
    /// Write nothing, but refuse the commit unless the record is still at the version read
    /// (`None`: still absent). The driver adds one for every record a request read and did not
    /// write, so a decision taken on a record that changed meanwhile is never committed (SEC-02,
    /// SEC-07).
    Check {
        /// Where.
        key: Key,
        /// The version read, or `None` when it was absent.
        expected: Option<u64>,
    },
}

impl Write {
    /// The key written.
    pub fn key(&self) -> &Key {
        match self {
            Write::Put { key, .. } | Write::Delete { key, .. } | Write::Check { key, .. } => key,
        }
    }

    /// The version the writer expects the record to have (`None`: absent).
    pub fn expected(&self) -> Option<u64> {
        match self {
            Write::Put { expected, .. } | Write::Check { expected, .. } => *expected,
            Write::Delete { expected, .. } => Some(*expected),
        }
    }
}

/// Why the store refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// SEC-02: a record's version was not the expected one; nothing was written.
    #[error("a record changed since it was read (compare-and-swap conflict); nothing was written")]
    Conflict,
    /// A record could not be read back (not the expected shape).
    #[error("a stored record is corrupt: {0}")]
    Corrupt(String),
    /// The store could not be reached or written.
    #[error("the store failed: {0}")]
    Unavailable(String),
}

/// The storage port (SEC-02, OPS-01, OPS-04).
///
/// Contract, checked by the conformance kit (module `testkit`, feature `testkit`):
/// - `load` returns the record and its current version, or `None`; `load_many` does the same for
///   many keys at once, in their order, as one read of one consistent state (one round trip on a
///   networked database: OPS-04). Its default calls `load` once per key; a host whose reads cost
///   a round trip overrides it.
/// - `commit` applies all writes or none: if any write's `expected` version is not the record's
///   current version (`None`: the record must not exist), it returns [`StoreError::Conflict`] and
///   writes nothing. This holds for [`Write::Check`] too, which writes nothing itself. A
///   successful `Put` sets the version to `expected + 1` (1 when created). A commit that names one
///   key twice is refused.
/// - Two commits that read the same version of a record cannot both succeed.
/// - The transactional outbox (OPS-01): records under [`Key::Outbox`] are written like any
///   other, in the commit of the step they belong to, and `outbox` lists those still stored in
///   the order of the commits that wrote them (and, within a commit, in the order of the
///   writes). Its default says the store keeps no such list: implement it, or effects committed
///   by a process that dies before delivering them are never delivered.
/// - Expiry (OPS-02): a `Put` stores its `expires` with the record, `load` returns it, and
///   `purge(now, limit)` removes at most `limit` records whose expiry is at or before `now`,
///   never another (a record rewritten meanwhile with a later expiry stays).
/// - `scan` lists the records of a [`KeyRange`] in the byte order of their keys' `Display`
///   strings, after a given key, up to a limit (OPS-03: the review queue, keyset pagination).
///
/// # Example
/// ```
/// use kaigo_seikyu::memory::MemoryStore;
/// use kaigo_seikyu::store::{Key, Store, Write};
/// let store = MemoryStore::default();
/// let a = Key::Account("KJ131311111111".parse()?);
/// let b = Key::Account("KJ271311111111".parse()?);
/// store.commit(&[Write::Put { key: a.clone(), expected: None, value: b"{}".to_vec(), expires: None }])?;
/// let read = store.load_many(&[a, b])?;
/// assert_eq!((read[0].as_ref().map(|v| v.version), read[1].is_none()), (Some(1), true));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Store: Send + Sync {
    /// Reads one record.
    fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError>;

    /// Reads many records in one batch, in the order of `keys` (OPS-04).
    fn load_many(&self, keys: &[Key]) -> Result<Vec<Option<Versioned>>, StoreError> {
        keys.iter().map(|key| self.load(key)).collect()
    }

    /// Applies all writes atomically, or none.
    fn commit(&self, writes: &[Write]) -> Result<(), StoreError>;

    /// Up to `limit` outbox records ([`Key::Outbox`]) still stored, oldest commit first, each
    /// with its id and version (OPS-01).
    fn outbox(&self, limit: usize) -> Result<Vec<(EffectId, Versioned)>, StoreError> {
        let _ = limit;
        Err(StoreError::Unavailable(
            "this store lists no outbox (Store::outbox is not implemented)".into(),
        ))
    }

    /// Up to `limit` records of `range` whose key's `Display` sorts after `after`'s (all of
    /// them when `after` is `None`), in the byte order of those strings (OPS-03: a page of a
    /// review queue, oldest first; keyset pagination). Its default says the store lists no
    /// range.
    fn scan(
        &self,
        range: &KeyRange,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<Vec<Versioned>, StoreError> {
        let _ = (range, after, limit);
        Err(StoreError::Unavailable(
            "this store lists no range (Store::scan is not implemented)".into(),
        ))
    }

    /// OPS-02: removes up to `limit` records dead at `now` (expiry at or before `now`, outbox
    /// records included) and returns how many it removed; never a live one, nothing when `limit`
    /// is 0. A host runs it on a timer, in batches, until it returns less than `limit`. Its
    /// default says the store purges nothing.
    fn purge(&self, now: Instant, limit: usize) -> Result<usize, StoreError> {
        let _ = (now, limit);
        Err(StoreError::Unavailable(
            "this store purges nothing (Store::purge is not implemented)".into(),
        ))
    }
}

/// A sliding one-hour window of events, for the budgets of SEC-04 and SEC-07.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, store::RateWindow};
/// let t = utc("2026-01-10T10:00:00+09:00");
/// let mut w = RateWindow::default();
/// assert!(w.try_spend(t, 2));
/// assert!(w.try_spend(t, 2));
/// assert!(!w.try_spend(t, 2));
/// assert!(w.try_spend(t + chrono::TimeDelta::hours(1), 2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RateWindow {
    hits: Vec<Instant>,
}

impl RateWindow {
    /// OPS-07: no more hits stored than `limit`, the budget's limit: a spend never stores more.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, store::RateWindow};
    /// let mut w = RateWindow::default();
    /// assert!(w.try_spend(utc("2026-01-10T10:00:00+09:00"), 1));
    /// assert!(w.within(1).is_ok());
    /// assert!(w.within(0).is_err());
    /// ```
    pub fn within(&self, limit: u8) -> Result<(), crate::validate::Invalid> {
        if self.hits.len() > usize::from(limit) {
            return Err(crate::validate::Invalid::new(
                "more hits than the budget's limit",
            ));
        }
        Ok(())
    }

    /// Forgets hits older than an hour before `now`, then records one more if fewer than `limit`
    /// remain. Returns whether it was recorded. A hit stamped after `now` (by a server whose clock
    /// runs ahead) still counts (SEC-07).
    pub fn try_spend(&mut self, now: Instant, limit: u8) -> bool {
        self.hits.retain(|&t| Self::live(now, t));
        if self.hits.len() < usize::from(limit) {
            self.hits.push(now);
            true
        } else {
            false
        }
    }

    /// OPS-02: the newest hit, if any; the window is dead an hour after it.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, store::RateWindow};
    /// let mut w = RateWindow::default();
    /// assert_eq!(w.newest(), None);
    /// w.try_spend(utc("2026-01-10T10:00:00+09:00"), 5);
    /// w.try_spend(utc("2026-01-10T09:00:30+09:00"), 5);
    /// assert_eq!(w.newest(), Some(utc("2026-01-10T10:00:00+09:00")));
    /// ```
    pub fn newest(&self) -> Option<Instant> {
        self.hits.iter().max().copied()
    }

    /// Hits within the hour before `now`, and any stamped after it.
    pub fn count(&self, now: Instant) -> usize {
        self.hits.iter().filter(|&&t| Self::live(now, t)).count()
    }

    /// Whether a hit at `t` still counts at `now`: less than an hour old, or in the future.
    fn live(now: Instant, t: Instant) -> bool {
        now.signed_duration_since(t) < chrono::TimeDelta::hours(1)
    }
}

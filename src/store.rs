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

impl std::str::FromStr for FlowId {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        if s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(FlowId(s.to_owned()))
        } else {
            Err(StoreError::Corrupt(
                "a flow id is 32 lowercase hex digits".into(),
            ))
        }
    }
}

impl TryFrom<String> for FlowId {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Self, StoreError> {
        s.parse()
    }
}

impl From<FlowId> for String {
    fn from(id: FlowId) -> String {
        id.0
    }
}

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FlowId({})", self.0)
    }
}

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
        }
    }
}

/// A record with its version. Versions start at 1 and grow by one with every write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The version the record has in the store.
    pub version: u64,
    /// The record's bytes.
    pub value: Vec<u8>,
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

/// The storage port (SEC-02).
///
/// Contract, checked by the conformance tests:
/// - `load` returns the record and its current version, or `None`.
/// - `commit` applies all writes or none: if any write's `expected` version is not the record's
///   current version (`None`: the record must not exist), it returns [`StoreError::Conflict`] and
///   writes nothing. This holds for [`Write::Check`] too, which writes nothing itself. A
///   successful `Put` sets the version to `expected + 1` (1 when created). A commit that names one
///   key twice is refused.
/// - Two commits that read the same version of a record cannot both succeed.
pub trait Store: Send + Sync {
    /// Reads one record.
    fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError>;
    /// Applies all writes atomically, or none.
    fn commit(&self, writes: &[Write]) -> Result<(), StoreError>;
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

    /// Hits within the hour before `now`, and any stamped after it.
    pub fn count(&self, now: Instant) -> usize {
        self.hits.iter().filter(|&&t| Self::live(now, t)).count()
    }

    /// Whether a hit at `t` still counts at `now`: less than an hour old, or in the future.
    fn live(now: Instant, t: Instant) -> bool {
        now.signed_duration_since(t) < chrono::TimeDelta::hours(1)
    }
}

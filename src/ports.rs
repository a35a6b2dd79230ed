//! The ports a host implements besides the [`Store`](crate::store::Store): clock, mail outbox,
//! notice board (お知らせ), office ledger (事業所台帳) and audit log. The crate ships in-memory ones
//! in [`memory`](crate::memory).

use serde::{Deserialize, Serialize};

use crate::calendar::Instant;
use crate::effect::{EffectId, Event};
use crate::mail::{Mail, Notice};
use crate::values::{OfficeNumber, Prefecture};

/// A port's failure, in words for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PortError(pub String);

/// Where `now` comes from. The core never reads a clock; the driver asks this once per request.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The system clock.
///
/// # Example
/// ```
/// use kaigo_seikyu::ports::{Clock, SystemClock};
/// assert!(SystemClock.now() > kaigo_seikyu::calendar::utc("2025-01-01T00:00:00Z"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        chrono::Utc::now()
    }
}

/// The mail transport (SEC-08). A step's mails are written to the transactional outbox in the
/// step's own commit (OPS-01); [`Portal::deliver`](crate::portal::Portal::deliver) hands them
/// here afterwards, off the request's decision, at least once and in commit order.
pub trait Mailer: Send + Sync {
    /// Takes a mail for sending.
    fn enqueue(&self, mail: Mail) -> Result<(), PortError>;

    /// Takes the outbox effect `id`, a mail (OPS-01). A redelivery after a crash or a failed
    /// removal brings the same `id` again: a host that must not send twice keeps the ids it has
    /// taken. The default forgets the id and calls [`Mailer::enqueue`].
    fn deliver(&self, id: &EffectId, mail: Mail) -> Result<(), PortError> {
        let _ = id;
        self.enqueue(mail)
    }
}

/// The お知らせ board: notices an office sees after login.
pub trait NoticeBoard: Send + Sync {
    /// Posts a notice to an office.
    fn post(&self, office: OfficeNumber, notice: Notice) -> Result<(), PortError>;

    /// Takes the outbox effect `id`, a notice (OPS-01); see [`Mailer::deliver`]. The default
    /// calls [`NoticeBoard::post`].
    fn deliver(
        &self,
        id: &EffectId,
        office: OfficeNumber,
        notice: Notice,
    ) -> Result<(), PortError> {
        let _ = id;
        self.post(office, notice)
    }
}

/// The audit log for domain events (SEC-05).
pub trait AuditLog: Send + Sync {
    /// Records an event.
    fn record(&self, event: &Event) -> Result<(), PortError>;

    /// Takes the outbox effect `id`, an event (OPS-01); see [`Mailer::deliver`]. The default
    /// calls [`AuditLog::record`].
    fn deliver(&self, id: &EffectId, event: &Event) -> Result<(), PortError> {
        let _ = id;
        self.record(event)
    }
}

/// An office's entry in the office ledger (事業所台帳, RI-02).
///
/// # Example
/// ```
/// use kaigo_seikyu::ports::OfficeRecord;
/// use kaigo_seikyu::values::Prefecture;
/// let rec = OfficeRecord {
///     number: "1311111111".parse().unwrap(),
///     name: "請求事業所A".into(),
///     postal_address: "東京都千代田区…".into(),
///     phone: "03-0000-0000".into(),
///     billing: vec![Prefecture::TOKYO],
/// };
/// assert_eq!(rec.billing.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficeRecord {
    /// 事業所番号.
    pub number: OfficeNumber,
    /// 事業所名.
    pub name: String,
    /// The postal address the reissue letter goes to (RI-09).
    pub postal_address: String,
    /// The phone number the federation may call.
    pub phone: String,
    /// The billing prefectures (請求先都道府県) the office bills to.
    pub billing: Vec<Prefecture>,
}

/// The office ledger (事業所台帳): read-only to this crate.
pub trait OfficeLedger: Send + Sync {
    /// The office's record, if it is in the ledger.
    fn find(&self, number: &OfficeNumber) -> Result<Option<OfficeRecord>, PortError>;
}

/// The host's sessions: the crate asks to end them, never starts them (RS-08).
pub trait Sessions: Send + Sync {
    /// Ends every session of this user ID.
    fn revoke_all(&self, user: &crate::values::UserId) -> Result<(), PortError>;

    /// Takes the outbox effect `id`, a revocation (OPS-01); see [`Mailer::deliver`]. The default
    /// calls [`Sessions::revoke_all`] (ending sessions twice is harmless).
    fn deliver(&self, id: &EffectId, user: &crate::values::UserId) -> Result<(), PortError> {
        let _ = id;
        self.revoke_all(user)
    }
}

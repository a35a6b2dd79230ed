//! What a transition asks the world to do, as data: records to save, mails to queue, notices to
//! post, events to log, sessions to revoke (DESIGN: effects as values; SEC-05 events).

use serde::{Deserialize, Serialize};

use crate::account::Account;
use crate::calendar::Instant;
use crate::mail::{Mail, Notice};
use crate::store::{Key, StoreError};
use crate::values::{EmailAddress, ManagementNumber, OfficeNumber, Prefecture, UserId, Yen};

pub use crate::store::EffectId;

/// An effect that leaves the crate, as the transactional outbox keeps it (OPS-01): written in
/// the step's own commit under [`Key::Outbox`], then handed to its port by
/// [`Portal::deliver`](crate::portal::Portal::deliver) and removed.
///
/// # Example
/// ```
/// use kaigo_seikyu::effect::{Outgoing, Queued};
/// let queued = Queued {
///     id: "0123456789abcdef0000000000000001".parse()?,
///     effect: Outgoing::RevokeSessions("KJ131311111111".parse()?),
/// };
/// let bytes = queued.to_bytes()?;
/// assert_eq!(Queued::from_bytes(&bytes)?, queued);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    /// Its stable id.
    pub id: EffectId,
    /// What to deliver.
    pub effect: Outgoing,
}

/// The size every outbox record is padded up to a multiple of, so a withheld code (RS-03) is
/// written as a record of the same size as a mailed one.
const OUTBOX_RECORD_BUCKET: usize = 2048;

impl Queued {
    /// The record as the store keeps it: JSON, padded with trailing spaces to a multiple of
    /// 2 KiB, so a withheld code (RS-03) is a record of the size of a mailed one.
    pub fn to_bytes(&self) -> Result<Vec<u8>, StoreError> {
        let mut bytes = serde_json::to_vec(self).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let padded = bytes.len().div_ceil(OUTBOX_RECORD_BUCKET) * OUTBOX_RECORD_BUCKET;
        bytes.resize(padded.max(OUTBOX_RECORD_BUCKET), b' ');
        Ok(bytes)
    }

    /// Reads a record back; [`StoreError::Corrupt`] when it is not one.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("outbox: {e}")))
    }
}

/// The effects that leave the crate through the outbox (OPS-01).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outgoing {
    /// A mail for the [`Mailer`](crate::ports::Mailer).
    Mail(Mail),
    /// A お知らせ for the [`NoticeBoard`](crate::ports::NoticeBoard).
    Notice {
        /// The office it is for.
        office: OfficeNumber,
        /// The notice.
        notice: Notice,
    },
    /// An event for the [`AuditLog`](crate::ports::AuditLog).
    Event(Event),
    /// Sessions to end, for [`Sessions`](crate::ports::Sessions).
    RevokeSessions(UserId),
    /// RS-03: a code withheld; a record of a mailed one's size that reaches no port.
    Withheld(EmailAddress),
}

impl Outgoing {
    /// The outgoing part of an effect; `None` for the writes of the commit itself.
    pub fn of(effect: &Effect) -> Option<Outgoing> {
        match effect {
            Effect::Mail(mail) => Some(Outgoing::Mail(mail.clone())),
            Effect::Notice { office, notice } => Some(Outgoing::Notice {
                office: *office,
                notice: notice.clone(),
            }),
            Effect::Event(event) => Some(Outgoing::Event(event.clone())),
            Effect::RevokeSessions(user) => Some(Outgoing::RevokeSessions(*user)),
            Effect::Withheld(to) => Some(Outgoing::Withheld(to.clone())),
            Effect::SaveAccount(_) | Effect::Put { .. } | Effect::Delete(_) => None,
        }
    }
}

/// One effect of a transition. The driver saves [`Effect::SaveAccount`], [`Effect::Put`] and
/// [`Effect::Delete`] in the same compare-and-swap commit as the flow, and writes the others
/// there too, as outbox records ([`Queued`], OPS-01), which delivery hands to the ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Save this account (part of the commit).
    SaveAccount(Box<Account>),
    /// Queue a mail in the outbox (SEC-08).
    Mail(Mail),
    /// Post a お知らせ to an office.
    Notice {
        /// The office it is for.
        office: OfficeNumber,
        /// The notice.
        notice: Notice,
    },
    /// Log a domain event (SEC-05).
    Event(Event),
    /// End every session of this user ID (RS-08).
    RevokeSessions(UserId),
    /// RS-03: a code was drawn for this address and not mailed (the address did not match). It
    /// spends the address's hourly code-mail budget exactly as a mailed code does (SEC-04), so
    /// the budget behaves the same on every path; nothing reaches a port.
    Withheld(EmailAddress),
    /// Write a record other than the flow's state and accounts (an office's certificates, a
    /// reissue application, …) in the same compare-and-swap commit as the flow. The write is
    /// checked against the version the step read, so declare its key in the step's
    /// [`Needs`](crate::flow::Needs). Make one with [`Effect::put`]. The driver refuses one at an
    /// account's or an office's accounts record's key: accounts are saved with
    /// [`Effect::SaveAccount`], which keeps the office's record in step (OPS-04).
    Put {
        /// Where.
        key: Key,
        /// The record, serialized as the store keeps it.
        value: StoredValue,
    },
    /// Remove a record other than the flow's state (a reissue application's pending marker,
    /// RI-07) in the same compare-and-swap commit as the flow. The step must have declared the
    /// key in its [`Needs`](crate::flow::Needs) and seen the record there: the removal is
    /// checked against the version read. Refused, as [`Effect::Put`], at an account's or an
    /// office's accounts record's key.
    Delete(Key),
}

impl Effect {
    /// [`Effect::Put`] of `value` at `key`.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{effect::Effect, store::Key};
    /// let office = "1311111111".parse()?;
    /// let put = Effect::put(Key::Certificates(office), &vec![1, 2])?;
    /// let Effect::Put { value, .. } = &put else { unreachable!() };
    /// assert_eq!(value.bytes(), b"[1,2]");
    /// assert_eq!(format!("{value:?}"), "StoredValue(5 bytes)");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put<T: Serialize>(key: Key, value: &T) -> Result<Effect, StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Effect::Put {
            key,
            value: StoredValue(bytes),
        })
    }
}

/// A record serialized as the store keeps it (JSON), carried by [`Effect::Put`]. `Debug` shows
/// its size only: a record may hold a password hash (SEC-01).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredValue(Vec<u8>);

impl StoredValue {
    /// The bytes the store keeps.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for StoredValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoredValue({} bytes)", self.0.len())
    }
}

/// A domain event for the audit log (SEC-05). Carries no secret: no password, code or digest.
///
/// # Example
/// ```
/// use kaigo_seikyu::effect::{Event, EventKind};
/// let e = Event { at: kaigo_seikyu::calendar::utc("2026-01-10T10:00:00+09:00"),
///                 kind: EventKind::LoginSucceeded { user: "KJ131311111111".parse().unwrap() } };
/// assert!(format!("{e:?}").contains("KJ131311111111"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened.
    pub at: Instant,
    /// What happened.
    pub kind: EventKind,
}

/// What happened (SEC-05).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EventKind {
    /// LOGIN-01: a successful login.
    LoginSucceeded {
        /// Who.
        user: UserId,
    },
    /// LOGIN-02: a failed login attempt (wrong password or security code).
    LoginFailed {
        /// Who.
        user: UserId,
    },
    /// LOGIN-02: the user ID was locked.
    LockedOut {
        /// Who.
        user: UserId,
        /// Until when.
        until: Instant,
    },
    /// FL-08: terms accepted.
    TermsAccepted {
        /// Who.
        user: UserId,
        /// Which version.
        version: u32,
    },
    /// FL-02: password changed.
    PasswordChanged {
        /// Who.
        user: UserId,
    },
    /// FL-03: notice email set or declined.
    NoticeEmailSet {
        /// Who.
        user: UserId,
        /// Whether an address was set (false: declined).
        set: bool,
    },
    /// FL-05, GR-05, SE-06: a security email registered.
    SecurityEmailRegistered {
        /// Who.
        user: UserId,
    },
    /// SE-06: a security email replaced.
    SecurityEmailChanged {
        /// Who.
        user: UserId,
    },
    /// SE-04: a security email deleted.
    SecurityEmailDeleted {
        /// Who.
        user: UserId,
    },
    /// SE-03: another security email selected.
    SecurityEmailSelected {
        /// Who.
        user: UserId,
    },
    /// GR-02: logged in without registering, within the grace period.
    GraceSkipped {
        /// Who.
        user: UserId,
    },
    /// RS-08: login info reset.
    LoginInfoReset {
        /// Who.
        user: UserId,
    },
    /// OPS-06: the operator provisioned an account.
    AccountProvisioned {
        /// Whose.
        user: UserId,
    },
    /// OPS-06: the operator set the account's security code.
    SecurityCodeSet {
        /// Whose.
        user: UserId,
    },
    /// OPS-06: the operator cleared the account's security code.
    SecurityCodeCleared {
        /// Whose.
        user: UserId,
    },
    /// OPS-06: the operator lifted the account's lockout (LOGIN-02).
    LockoutLifted {
        /// Whose.
        user: UserId,
    },
    /// OPS-04, OPS-06: the operator wrote an office's accounts record from its accounts
    /// ([`Portal::index_office`](crate::portal::Portal::index_office)).
    OfficeIndexed {
        /// Which office.
        office: OfficeNumber,
    },
    /// RI-06: a reissue application received.
    ReissueApplied {
        /// Its management number.
        number: ManagementNumber,
        /// The office.
        office: OfficeNumber,
        /// The billing prefecture.
        billing: Prefecture,
        /// The notification address.
        notify: EmailAddress,
    },
    /// RI-08: a reissue application reviewed.
    ReissueReviewed {
        /// Its management number.
        number: ManagementNumber,
        /// Approved or rejected.
        approved: bool,
    },
    /// FEE-03: consent to the pre-change fee given in the dialog.
    FeeConsented {
        /// The office.
        office: OfficeNumber,
        /// The fee consented to.
        fee: Yen,
    },
    /// FEE-01: a certificate issue application submitted.
    CertificateApplied {
        /// The office.
        office: OfficeNumber,
        /// The fee charged.
        fee: Yen,
    },
    /// FEE-05: a renewal reminder posted.
    RenewalReminded {
        /// The office.
        office: OfficeNumber,
    },
    /// OPS-06: the operator imported a certificate issued before this crate kept the records
    /// (FEE-05 reminds it).
    CertificateImported {
        /// The office.
        office: OfficeNumber,
        /// Its number among the office's certificates.
        serial: u32,
    },
}

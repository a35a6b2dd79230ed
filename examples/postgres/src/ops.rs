//! Every operation of the host, written once as an `async fn` over a [`Db`]: the blocking
//! driver runs them with [`db::now`](crate::db::now), the async one awaits them.

use std::collections::HashMap;

use kaigo_seikyu::calendar::Instant;
use kaigo_seikyu::effect::{EffectId, Event, Outgoing};
use kaigo_seikyu::mail::{Mail, Notice};
use kaigo_seikyu::ports::{Clock, OfficeRecord, PortError};
use kaigo_seikyu::store::{Key, KeyRange, StoreError, Versioned};
use kaigo_seikyu::values::{EmailAddress, OfficeNumber, UserId};

use crate::db::Db;
use crate::error::{port_error, store_error};
use crate::sql::{self, Writes};

/// A limit as the `LIMIT` parameter.
fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// OPS-04: the records of `keys`, in their order, from one statement.
pub async fn load_many<D: Db>(
    db: &mut D,
    keys: &[Key],
) -> Result<Vec<Option<Versioned>>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = keys.iter().map(Key::to_string).collect();
    let rows = db
        .rows(sql::LOAD_MANY, &[&names])
        .await
        .map_err(store_error)?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in &rows {
        let (key, record) = sql::record(row)?;
        found.insert(key, record);
    }
    // A key asked twice is answered twice.
    Ok(names.iter().map(|n| found.get(n).cloned()).collect())
}

/// SEC-02, OPS-01: a commit, as one statement outside any transaction ([`sql::COMMIT`]): the
/// key locks, the conditional writes and the count check in one round trip. A write that did not
/// take is a [`StoreError::Conflict`], and nothing was written.
pub async fn commit<D: Db>(db: &mut D, schema: &str, writes: &Writes) -> Result<(), StoreError> {
    let (ids, shared) = writes.locks(schema);
    db.rows(
        sql::COMMIT,
        &[
            &ids,
            &shared,
            &writes.keys,
            &writes.ops,
            &writes.expected,
            &writes.values,
            &writes.expires,
            &writes.outboxed,
        ],
    )
    .await
    .map(drop)
    .map_err(store_error)
}

/// OPS-01: up to `n` outbox records, in commit order.
pub async fn outbox<D: Db>(db: &mut D, n: usize) -> Result<Vec<(EffectId, Versioned)>, StoreError> {
    let rows = db
        .rows(sql::OUTBOX, &[&limit(n)])
        .await
        .map_err(store_error)?;
    rows.iter().map(sql::outboxed).collect()
}

/// OPS-03: a page of a key range, in key order, after a key.
pub async fn scan<D: Db>(
    db: &mut D,
    range: &KeyRange,
    after: Option<&Key>,
    n: usize,
) -> Result<Vec<Versioned>, StoreError> {
    let prefix = range.prefix();
    // The first text past every key starting with `prefix` (its last byte, '/', plus one).
    let end = format!("{}0", prefix.strip_suffix('/').unwrap_or(&prefix));
    let after = after.map(Key::to_string).unwrap_or_default();
    let rows = db
        .rows(sql::SCAN, &[&prefix, &after, &end, &limit(n)])
        .await
        .map_err(store_error)?;
    rows.iter()
        .map(|row| sql::record(row).map(|(_, record)| record))
        .collect()
}

/// OPS-02: removes up to `n` records dead at `now`.
pub async fn purge<D: Db>(db: &mut D, now: Instant, n: usize) -> Result<usize, StoreError> {
    if n == 0 {
        return Ok(0);
    }
    let removed = db
        .exec(sql::PURGE, &[&sql::purge_instant(now), &limit(n)])
        .await
        .map_err(store_error)?;
    Ok(usize::try_from(removed).unwrap_or(usize::MAX))
}

/// Writes an effect to its table (OPS-01), once per effect id (`None`: a port called directly,
/// written every time), stamped `now`.
pub async fn deliver<D: Db>(
    db: &mut D,
    id: Option<&EffectId>,
    effect: Outgoing,
    now: Instant,
) -> Result<(), PortError> {
    let id = id.map(EffectId::as_str);
    let result = match effect {
        Outgoing::Mail(Mail { to, subject, body }) => {
            db.exec(
                sql::INSERT_MAIL,
                &[&to.as_str(), &subject, &body, &now, &id],
            )
            .await
        }
        Outgoing::Notice { office, notice } => {
            let Notice { title, body } = notice;
            db.exec(
                sql::INSERT_NOTICE,
                &[&office.as_str(), &title, &body, &now, &id],
            )
            .await
        }
        Outgoing::Event(event) => {
            let json = serde_json::to_string(&event)
                .map_err(|e| PortError(format!("an event that does not serialize: {e}")))?;
            db.exec(sql::INSERT_EVENT, &[&event.at, &json, &id]).await
        }
        Outgoing::RevokeSessions(user) => db.exec(sql::REVOKE, &[&user.to_string(), &now]).await,
        Outgoing::Withheld(_) => return Ok(()),
    };
    result.map(drop).map_err(port_error)
}

/// The ledger entry of `number`.
pub async fn find_office<D: Db>(
    db: &mut D,
    number: &OfficeNumber,
) -> Result<Option<OfficeRecord>, PortError> {
    let rows = db
        .rows(sql::FIND_OFFICE, &[&number.as_str()])
        .await
        .map_err(port_error)?;
    rows.first().map(sql::office).transpose()
}

/// Adds or replaces an office in the ledger.
pub async fn insert_office<D: Db>(db: &mut D, record: &OfficeRecord) -> Result<(), PortError> {
    db.exec(
        sql::UPSERT_OFFICE,
        &[
            &record.number.as_str(),
            &record.name,
            &record.postal_address,
            &record.phone,
            &sql::billing_codes(record),
        ],
    )
    .await
    .map(drop)
    .map_err(port_error)
}

/// Every notice of an office, oldest first.
pub async fn notices_for<D: Db>(
    db: &mut D,
    office: &OfficeNumber,
) -> Result<Vec<Notice>, PortError> {
    let rows = db
        .rows(sql::NOTICES_FOR, &[&office.as_str()])
        .await
        .map_err(port_error)?;
    rows.iter()
        .map(|row| {
            Ok(Notice {
                title: row.try_get(0).map_err(port_error)?,
                body: row.try_get(1).map_err(port_error)?,
            })
        })
        .collect()
}

/// Every audit event, oldest first.
pub async fn events<D: Db>(db: &mut D) -> Result<Vec<Event>, PortError> {
    let rows = db.rows(sql::EVENTS, &[]).await.map_err(port_error)?;
    rows.iter()
        .map(|row| {
            let id: i64 = row.try_get(0).map_err(port_error)?;
            let json: String = row.try_get(1).map_err(port_error)?;
            serde_json::from_str(&json)
                .map_err(|e| PortError(format!("audit event {id} is corrupt: {e}")))
        })
        .collect()
}

/// When the sessions of `user` were last revoked.
pub async fn revoked_at<D: Db>(db: &mut D, user: &UserId) -> Result<Option<Instant>, PortError> {
    let rows = db
        .rows(sql::REVOKED_AT, &[&user.to_string()])
        .await
        .map_err(port_error)?;
    rows.first()
        .map(|row| row.try_get(0).map_err(port_error))
        .transpose()
}

/// How many store records there are.
pub async fn record_count<D: Db>(db: &mut D) -> Result<usize, StoreError> {
    let rows = db.rows(sql::RECORD_COUNT, &[]).await.map_err(store_error)?;
    let n: i64 = rows
        .first()
        .map(|row| row.try_get(0))
        .transpose()
        .map_err(store_error)?
        .unwrap_or(0);
    Ok(usize::try_from(n).unwrap_or(0))
}

/// A mail the delivery loop hands out ([`PgPorts::deliver_mails`](crate::PgPorts::deliver_mails)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    /// Its row id: increasing in queue order, never reused.
    pub id: i64,
    /// When it was queued, by the host's clock.
    pub queued_at: Instant,
    /// The mail.
    pub mail: Mail,
}

/// A mail read back from the mail table.
fn mail(to: String, subject: String, body: String) -> Result<Mail, PortError> {
    let to = to
        .parse()
        .map_err(|e| PortError(format!("mail table: recipient {to:?}: {e}")))?;
    Ok(Mail { to, subject, body })
}

/// The id of the newest mail in the mail table (0: none).
pub async fn last_mail_id<D: Db>(db: &mut D) -> Result<i64, PortError> {
    let rows = db.rows(sql::LAST_MAIL_ID, &[]).await.map_err(port_error)?;
    rows.first()
        .map_or(Ok(0), |row| row.try_get(0))
        .map_err(port_error)
}

/// Up to 64 undelivered mails with ids after `after`, up to `last`, in id order.
pub async fn undelivered_mails<D: Db>(
    db: &mut D,
    after: i64,
    last: i64,
) -> Result<Vec<QueuedMail>, PortError> {
    let rows = db
        .rows(sql::UNDELIVERED_MAILS, &[&after, &last])
        .await
        .map_err(port_error)?;
    rows.iter()
        .map(|row| {
            Ok(QueuedMail {
                id: row.try_get(0).map_err(port_error)?,
                queued_at: row.try_get(1).map_err(port_error)?,
                mail: mail(
                    row.try_get(2).map_err(port_error)?,
                    row.try_get(3).map_err(port_error)?,
                    row.try_get(4).map_err(port_error)?,
                )?,
            })
        })
        .collect()
}

/// Marks a mail delivered at `at` and empties its body.
pub async fn mail_delivered<D: Db>(db: &mut D, id: i64, at: Instant) -> Result<(), PortError> {
    db.exec(sql::MAIL_DELIVERED, &[&at, &id])
        .await
        .map(drop)
        .map_err(port_error)
}

/// The newest undelivered mail to `to` (ASCII case ignored).
pub async fn last_mail_to<D: Db>(db: &mut D, to: &EmailAddress) -> Result<Option<Mail>, PortError> {
    let rows = db
        .rows(sql::LAST_MAIL_TO, &[&to.as_str()])
        .await
        .map_err(port_error)?;
    rows.first()
        .map(|row| {
            mail(
                row.try_get(0).map_err(port_error)?,
                row.try_get(1).map_err(port_error)?,
                row.try_get(2).map_err(port_error)?,
            )
        })
        .transpose()
}

/// The mail transport's delivery loop over the mail table (SEC-08): every mail queued when it
/// starts goes to `send`, oldest first, and is marked delivered (its body emptied) once `send`
/// accepted it; a refusal stops the loop with its error, leaving that mail and the later ones
/// queued. Returns how many it delivered.
pub async fn deliver_mails<D: Db, F>(
    db: &mut D,
    mut send: F,
    clock: &dyn Clock,
) -> Result<usize, PortError>
where
    F: FnMut(&QueuedMail) -> Result<(), PortError>,
{
    let last = last_mail_id(db).await?;
    let (mut after, mut sent) = (0, 0);
    loop {
        let batch = undelivered_mails(db, after, last).await?;
        if batch.is_empty() {
            return Ok(sent);
        }
        for queued in batch {
            send(&queued)?;
            mail_delivered(db, queued.id, clock.now()).await?;
            after = queued.id;
            sent += 1;
        }
    }
}

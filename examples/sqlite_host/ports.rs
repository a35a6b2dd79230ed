//! The crate's port traits on the SQLite tables.

use kaigo_seikyu::calendar::Instant;
use kaigo_seikyu::effect::{EffectId, Event};
use kaigo_seikyu::mail::{Mail, Notice};
use kaigo_seikyu::ports::{
    AuditLog, Mailer, NoticeBoard, OfficeLedger, OfficeRecord, PortError, Sessions,
};
use kaigo_seikyu::store::{Key, KeyRange, Store, StoreError, Versioned, Write};
use kaigo_seikyu::values::{OfficeNumber, UserId};
use rusqlite::{OptionalExtension, params};

use super::{At, SqliteHost, corrupt};

/// A stored version as the store's `u64`.
fn version(path: &std::path::Path, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt(path, format_args!("record version {v}")).into())
}

/// OPS-02: an expiry as the `expires_at` column keeps it: microseconds since the Unix epoch
/// (every instant chrono represents fits), rounded up so a record never dies earlier than its
/// write said.
fn micros(at: Option<Instant>) -> Option<i64> {
    at.map(|at| {
        let up = i64::from(at.timestamp_subsec_nanos() % 1000 != 0);
        at.timestamp_micros().saturating_add(up)
    })
}

/// The expiry an `expires_at` column holds (an impossible value: the end of time).
fn instant(column: Option<i64>) -> Option<Instant> {
    column.map(|m| Instant::from_timestamp_micros(m).unwrap_or(Instant::MAX_UTC))
}

impl Store for SqliteHost {
    fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        let path = self.path();
        let sql = match key {
            Key::Outbox(_) => {
                "SELECT 1, CAST(value AS BLOB), expires_at FROM effects WHERE key = ?1"
            }
            _ => "SELECT version, CAST(value AS BLOB), expires_at FROM records WHERE key = ?1",
        };
        let row = self.with_conn(|c| {
            c.prepare_cached(sql)
                .at(path)?
                .query_row([key.to_string()], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ))
                })
                .optional()
                .at(path)
        })?;
        row.map(|(v, value, expires)| {
            Ok(Versioned {
                version: version(path, v)?,
                value,
                expires: instant(expires),
            })
        })
        .transpose()
    }

    /// OPS-04: every key in one statement (one snapshot of the file), through `json_each`.
    fn load_many(&self, keys: &[Key]) -> Result<Vec<Option<Versioned>>, StoreError> {
        if keys.iter().any(|k| matches!(k, Key::Outbox(_))) {
            return keys.iter().map(|k| self.load(k)).collect();
        }
        let path = self.path();
        let names: Vec<String> = keys.iter().map(Key::to_string).collect();
        let json = serde_json::to_string(&names)
            .map_err(|e| StoreError::Unavailable(format!("keys: {e}")))?;
        let rows: Vec<(String, i64, Vec<u8>, Option<i64>)> = self.with_conn(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT key, version, CAST(value AS BLOB), expires_at FROM records
                     WHERE key IN (SELECT value FROM json_each(?1))",
                )
                .at(path)?;
            let rows = stmt
                .query_map([&json], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .at(path)?;
            rows.collect::<Result<Vec<_>, _>>().at(path)
        })?;
        let mut found: std::collections::HashMap<String, Versioned> =
            std::collections::HashMap::new();
        for (key, v, value, expires) in rows {
            found.insert(
                key,
                Versioned {
                    version: version(path, v)?,
                    value,
                    expires: instant(expires),
                },
            );
        }
        // A key asked twice is answered twice (a clone, not a move out of the map).
        Ok(names.iter().map(|n| found.get(n).cloned()).collect())
    }

    /// OPS-01: the outbox records in commit order.
    fn outbox(&self, limit: usize) -> Result<Vec<(EffectId, Versioned)>, StoreError> {
        let path = self.path();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(String, Vec<u8>, Option<i64>)> = self.with_conn(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT key, CAST(value AS BLOB), expires_at FROM effects ORDER BY seq LIMIT ?1",
                )
                .at(path)?;
            let rows = stmt
                .query_map([limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .at(path)?;
            rows.collect::<Result<Vec<_>, _>>().at(path)
        })?;
        rows.into_iter()
            .map(|(key, value, expires)| {
                let id = key
                    .strip_prefix("outbox/")
                    .ok_or_else(|| corrupt(path, format_args!("effects: key {key}")))?
                    .parse()?;
                Ok((
                    id,
                    Versioned {
                        version: 1,
                        value,
                        expires: instant(expires),
                    },
                ))
            })
            .collect()
    }

    /// OPS-03: one range of `records` in key order (the primary key's index; `TEXT` compares
    /// bytewise, as the contract orders keys), after a key.
    fn scan(
        &self,
        range: &KeyRange,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<Vec<Versioned>, StoreError> {
        let path = self.path();
        let prefix = range.prefix();
        // The first key past every key starting with `prefix` (its last byte, '/', plus one).
        let end = format!("{}0", &prefix[..prefix.len() - 1]);
        let after = after
            .map(Key::to_string)
            .filter(|a| *a >= prefix)
            .unwrap_or_default();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(i64, Vec<u8>, Option<i64>)> = self.with_conn(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT version, CAST(value AS BLOB), expires_at FROM records
                     WHERE key >= ?1 AND key > ?2 AND key < ?3 ORDER BY key LIMIT ?4",
                )
                .at(path)?;
            let rows = stmt
                .query_map(params![prefix, after, end, limit], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .at(path)?;
            rows.collect::<Result<Vec<_>, _>>().at(path)
        })?;
        rows.into_iter()
            .map(|(v, value, expires)| {
                Ok(Versioned {
                    version: version(path, v)?,
                    value,
                    expires: instant(expires),
                })
            })
            .collect()
    }

    /// OPS-02: up to `limit` dead records, oldest expiry first, through the expiry indexes of
    /// `records` and `effects`, in one transaction.
    fn purge(&self, now: Instant, limit: usize) -> Result<usize, StoreError> {
        let path = self.path();
        // Rounded down, as expiries are rounded up: no record is purged before its expiry.
        let now = now.timestamp_micros();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.write(|tx| {
            let records = tx
                .prepare_cached(
                    "DELETE FROM records WHERE key IN (SELECT key FROM records
                     WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)",
                )
                .at(path)?
                .execute(params![now, limit])
                .at(path)?;
            let left = limit - i64::try_from(records).unwrap_or(limit);
            let effects = tx
                .prepare_cached(
                    "DELETE FROM effects WHERE seq IN (SELECT seq FROM effects
                     WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)",
                )
                .at(path)?
                .execute(params![now, left])
                .at(path)?;
            Ok(records + effects)
        })
    }

    /// All writes in one `BEGIN IMMEDIATE` transaction: every expected version is checked first,
    /// then every write applied. A conflict or an error returns before `commit`, dropping the
    /// transaction, which rolls back: nothing is written.
    fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = writes.iter().map(|w| w.key().to_string()).collect();
        let mut distinct: Vec<&String> = keys.iter().collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != keys.len() {
            return Err(StoreError::Unavailable(
                "a commit wrote one key twice".into(),
            ));
        }
        let path = self.path();
        self.write(|tx| {
            for (w, key) in writes.iter().zip(&keys) {
                let sql = match w.key() {
                    Key::Outbox(_) => "SELECT 1 FROM effects WHERE key = ?1",
                    _ => "SELECT version FROM records WHERE key = ?1",
                };
                let current: Option<i64> = tx
                    .prepare_cached(sql)
                    .at(path)?
                    .query_row([key], |r| r.get(0))
                    .optional()
                    .at(path)?;
                if current.map(|v| version(path, v)).transpose()? != w.expected() {
                    return Err(StoreError::Conflict);
                }
            }
            for (w, key) in writes.iter().zip(&keys) {
                match w {
                    Write::Put { key: Key::Outbox(_), value, expires, .. } => {
                        tx.prepare_cached("INSERT INTO effects (key, value, expires_at) VALUES (?1, ?2, ?3)")
                            .at(path)?
                            .execute(params![key, value, micros(*expires)])
                            .at(path)?;
                    }
                    Write::Delete { key: Key::Outbox(_), .. } => {
                        tx.prepare_cached("DELETE FROM effects WHERE key = ?1").at(path)?.execute([key]).at(path)?;
                    }
                    Write::Put { expected, value, expires, .. } => {
                        let next = expected.map_or(Some(1), |v| v.checked_add(1)).and_then(|v| i64::try_from(v).ok());
                        let next = next.ok_or_else(|| StoreError::from(corrupt(path, format_args!("{key}: version overflow"))))?;
                        tx.prepare_cached(
                            "INSERT INTO records (key, version, value, expires_at) VALUES (?1, ?2, ?3, ?4)
                             ON CONFLICT (key) DO UPDATE SET version = excluded.version, value = excluded.value,
                                 expires_at = excluded.expires_at",
                        )
                        .at(path)?
                        .execute(params![key, next, value, micros(*expires)])
                        .at(path)?;
                    }
                    Write::Delete { .. } => {
                        tx.prepare_cached("DELETE FROM records WHERE key = ?1").at(path)?.execute([key]).at(path)?;
                    }
                    Write::Check { .. } => {}
                }
            }
            Ok(())
        })
    }
}

impl SqliteHost {
    /// Writes a delivered effect's row with its id, in its own transaction, before the driver
    /// removes the effect from the outbox (OPS-01): a crash in between delivers it again, with
    /// the same id. A port called directly writes its row the same way, with no id (`NULL`).
    fn deliver_row(&self, sql: &str, values: &[&dyn rusqlite::ToSql]) -> Result<(), PortError> {
        let path = self.path();
        self.write(|tx| {
            tx.prepare_cached(sql).at(path)?.execute(values).at(path)?;
            Ok::<_, super::HostError>(())
        })
        .map_err(|e| PortError(e.to_string()))
    }
}

impl Mailer for SqliteHost {
    /// Writes the mail to the mail table at once, in its own transaction, with no effect id: for
    /// a host that mails directly (the driver's mails come through [`Mailer::deliver`] from the
    /// outbox, off the request's decision: SEC-08). Sending is [`SqliteHost::deliver`].
    fn enqueue(&self, mail: Mail) -> Result<(), PortError> {
        self.deliver_row(
            "INSERT INTO outbox (recipient, subject, body, queued_at) VALUES (?1, ?2, ?3, ?4)",
            &[&mail.to.as_str(), &mail.subject, &mail.body, &self.now()],
        )
    }

    fn deliver(&self, id: &EffectId, mail: Mail) -> Result<(), PortError> {
        self.deliver_row(
            "INSERT INTO outbox (recipient, subject, body, queued_at, effect_id) VALUES (?1, ?2, ?3, ?4, ?5)",
            &[&mail.to.as_str(), &mail.subject, &mail.body, &self.now(), &id.as_str()],
        )
    }
}

impl NoticeBoard for SqliteHost {
    /// Writes the notice at once, with no effect id, as [`Mailer::enqueue`] does.
    fn post(&self, office: OfficeNumber, notice: Notice) -> Result<(), PortError> {
        self.deliver_row(
            "INSERT INTO notices (office, title, body, posted_at) VALUES (?1, ?2, ?3, ?4)",
            &[&office.as_str(), &notice.title, &notice.body, &self.now()],
        )
    }

    fn deliver(
        &self,
        id: &EffectId,
        office: OfficeNumber,
        notice: Notice,
    ) -> Result<(), PortError> {
        self.deliver_row(
            "INSERT INTO notices (office, title, body, posted_at, effect_id) VALUES (?1, ?2, ?3, ?4, ?5)",
            &[&office.as_str(), &notice.title, &notice.body, &self.now(), &id.as_str()],
        )
    }
}

impl AuditLog for SqliteHost {
    /// Writes the event at once, with no effect id, as [`Mailer::enqueue`] does.
    fn record(&self, event: &Event) -> Result<(), PortError> {
        let json = serde_json::to_string(event)
            .map_err(|e| PortError(format!("event not serializable: {e}")))?;
        let at = event.at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        self.deliver_row(
            "INSERT INTO events (at, event) VALUES (?1, ?2)",
            &[&at, &json],
        )
    }

    fn deliver(&self, id: &EffectId, event: &Event) -> Result<(), PortError> {
        let json = serde_json::to_string(event)
            .map_err(|e| PortError(format!("event not serializable: {e}")))?;
        let at = event.at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        self.deliver_row(
            "INSERT INTO events (at, event, effect_id) VALUES (?1, ?2, ?3)",
            &[&at, &json, &id.as_str()],
        )
    }
}

impl OfficeLedger for SqliteHost {
    fn find(&self, number: &OfficeNumber) -> Result<Option<OfficeRecord>, PortError> {
        let path = self.path();
        let json: Option<String> = self.with_conn(|c| {
            c.prepare_cached("SELECT record FROM offices WHERE number = ?1")
                .at(path)?
                .query_row([number.as_str()], |r| r.get(0))
                .optional()
                .at(path)
        })?;
        json.map(|j| {
            serde_json::from_str(&j)
                .map_err(|e| corrupt(path, format_args!("office {number}: {e}")).into())
        })
        .transpose()
    }
}

impl Sessions for SqliteHost {
    /// Records the instant, in its own transaction (through the driver: when the revocation is
    /// delivered, before the request returns with the default `Delivery::AfterCommit`, so it holds
    /// by the time the user sees the done screen); the host's session check refuses sessions
    /// started before it.
    fn revoke_all(&self, user: &UserId) -> Result<(), PortError> {
        let now = self.now();
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO revocations (user_id, revoked_at) VALUES (?1, ?2)
                 ON CONFLICT (user_id) DO UPDATE SET revoked_at = excluded.revoked_at",
            )
            .at(self.path())?
            .execute(params![user.to_string(), now])
            .at(self.path())
        })?;
        Ok(())
    }
}

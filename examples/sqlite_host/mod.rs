//! A reference host on SQLite: every port of kaigo-seikyu on one embedded database file, through
//! `rusqlite` with the `bundled` feature (SQLite is compiled in; nothing to install).
//!
//! Include it in an example or test with
//! `#[path = "sqlite_host/mod.rs"] mod sqlite_host;` (from `tests/`: `"../examples/sqlite_host/mod.rs"`).
//!
//! - **Schema** ([`schema`]): a table per port, versioned by `PRAGMA user_version` and migrated
//!   in one transaction when the file is opened; `PRAGMA application_id` marks the file as this
//!   host's. A file that is not SQLite, is corrupt, belongs to another application, has a newer
//!   schema, or cannot be written is refused with a [`HostError`] naming the file and the problem,
//!   before anything is written.
//! - **Store**: `records(key, version, value)`; a commit runs in one `BEGIN IMMEDIATE` transaction
//!   that checks every write's expected version, then applies them all; any refusal or failure
//!   drops the transaction, which rolls back (SEC-02). Management numbers are store records
//!   (`sequence/YYYYMM`, VAL-08), shown by the `sequences` view.
//! - **Mailer**: the mail table (`outbox`). The driver never mails from the request: a step's
//!   mails are outbox records in its own commit (the `effects` table), and delivery
//!   (`Portal::deliver`) writes each to the mail table with its effect id (SEC-08, OPS-01).
//!   [`SqliteHost::deliver`] is the mail transport's loop over that table (in order, at least
//!   once); it scrubs a mail's body once delivered, so the file keeps no live code;
//!   [`SqliteHost::deliver_outbox`] delivers to `.eml` files.
//! - **NoticeBoard**, **AuditLog**, **Sessions**: one table each, written by delivery the same
//!   way.
//! - **OfficeLedger**: one table, read by the driver.
//! - A host that calls a port directly (`enqueue`, `post`, `record`, `revoke_all`, as the demo
//!   does) writes its row at once, in its own transaction, with no effect id.
//! - The **clock** is the caller's: a virtual one in the walkthrough, the system clock in service.
//!
//! Connections: WAL journal (readers never wait for the writer), `synchronous = FULL`,
//! `secure_delete = ON` (content deleted or overwritten is zeroed, not left in free space), a busy
//! timeout for writers, and a small pool so threads of one process use separate connections.
//! Several processes may open the same file.
//!
//! What a crash loses: nothing (OPS-01). The driver writes a request's mails, notices, events
//! and revocations as outbox records (the `effects` table, in commit order) in the request's own
//! commit; delivery (`Portal::deliver`, or right after the commit with the default
//! `Delivery::AfterCommit`) writes each to its table with its effect id, in its own transaction,
//! then removes the record. A process killed in between delivers it again at the next
//! `Portal::deliver` (call it at start-up), with the same id (`effect_id` columns). Nothing is
//! ever half-written: each write is one transaction. The host keeps no queue in memory and runs
//! no thread of its own.
//!

mod eml;
mod ports;
pub mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kaigo_seikyu::calendar::Instant;
use kaigo_seikyu::effect::Event;
use kaigo_seikyu::mail::{Mail, Notice};
use kaigo_seikyu::portal::Ports;
use kaigo_seikyu::ports::{Clock, OfficeRecord, PortError};
use kaigo_seikyu::store::StoreError;
use kaigo_seikyu::values::{EmailAddress, OfficeNumber, UserId};
use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};

/// What is wrong with the database file (or an `.eml` file being written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The file is not a SQLite database.
    #[error("not a SQLite database (a foreign or damaged file); it was not changed")]
    NotADatabase,
    /// SQLite found damage in the file.
    #[error("the database is corrupt ({0}); it was not changed")]
    Corrupt(String),
    /// A SQLite database of another application.
    #[error("a SQLite database of another application ({0}); it was not changed")]
    Foreign(String),
    /// The file was written by a newer version of this host.
    #[error(
        "schema version {found} is newer than this host supports ({supported}); upgrade the host. It was not changed"
    )]
    NewerSchema {
        /// The file's `user_version`.
        found: i64,
        /// The newest version this host knows.
        supported: i64,
    },
    /// The file (or its directory) cannot be written.
    #[error("the file is read-only; nothing was written")]
    ReadOnly,
    /// The disk is full, or the size limit of [`Options::max_size`] reached.
    #[error("the disk is full (or the database's size limit is reached); nothing was written")]
    Full,
    /// The file cannot be opened or created.
    #[error("cannot open the file ({0})")]
    CannotOpen(String),
    /// A file-system error (an `.eml` file).
    #[error("{0}")]
    Io(String),
    /// Any other SQLite error.
    #[error("SQLite: {0}")]
    Sqlite(String),
}

impl From<rusqlite::Error> for Problem {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => Problem::NotADatabase,
            Some(ErrorCode::DatabaseCorrupt) => Problem::Corrupt(e.to_string()),
            Some(ErrorCode::ReadOnly) => Problem::ReadOnly,
            Some(ErrorCode::DiskFull) => Problem::Full,
            Some(ErrorCode::CannotOpen) => Problem::CannotOpen(e.to_string()),
            _ => Problem::Sqlite(e.to_string()),
        }
    }
}

/// A failure of the host: the file and the problem, e.g.
/// `target/demo.db: schema version 9 is newer than this host supports (2); …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {problem}", path.display())]
pub struct HostError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub problem: Problem,
}

impl From<HostError> for StoreError {
    fn from(e: HostError) -> Self {
        match e.problem {
            Problem::NotADatabase | Problem::Corrupt(_) => StoreError::Corrupt(e.to_string()),
            _ => StoreError::Unavailable(e.to_string()),
        }
    }
}

impl From<HostError> for PortError {
    fn from(e: HostError) -> Self {
        PortError(e.to_string())
    }
}

/// Attaches the file to an error.
trait At<T> {
    fn at(self, path: &Path) -> Result<T, HostError>;
}

impl<T, E: Into<Problem>> At<T> for Result<T, E> {
    fn at(self, path: &Path) -> Result<T, HostError> {
        self.map_err(|e| HostError {
            path: path.to_path_buf(),
            problem: e.into(),
        })
    }
}

/// A row that does not read back as what was written.
fn corrupt(path: &Path, what: impl std::fmt::Display) -> HostError {
    HostError {
        path: path.to_path_buf(),
        problem: Problem::Corrupt(what.to_string()),
    }
}

/// How the host uses the file.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long a writer waits for another connection's write before giving up.
    pub busy_timeout: Duration,
    /// The most the database may grow to, in bytes (`None`: as far as the disk allows). Past it
    /// a commit fails exactly as on a full disk, writing nothing.
    pub max_size: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            busy_timeout: Duration::from_secs(10),
            max_size: None,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Opens one connection, refusing a file that cannot be written.
fn connect(path: &Path, options: &Options) -> Result<Connection, HostError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).at(path)?;
    if conn.is_readonly(rusqlite::MAIN_DB).at(path)? {
        return Err(HostError {
            path: path.to_path_buf(),
            problem: Problem::ReadOnly,
        });
    }
    conn.busy_timeout(options.busy_timeout).at(path)?;
    conn.pragma_update(None, "synchronous", "FULL").at(path)?;
    conn.pragma_update(None, "secure_delete", "ON").at(path)?;
    if let Some(max) = options.max_size {
        let page: i64 = conn
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .at(path)?;
        let pages = max / u64::try_from(page).unwrap_or(1).max(1);
        conn.pragma_update(
            None,
            "max_page_count",
            i64::try_from(pages).unwrap_or(i64::MAX).max(1),
        )
        .at(path)?;
    }
    Ok(conn)
}

/// Every port on one SQLite file. Cheap to clone; share it across threads.
#[derive(Clone)]
pub struct SqliteHost(Arc<Inner>);

struct Inner {
    path: PathBuf,
    options: Options,
    clock: Arc<dyn Clock>,
    pool: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqliteHost({})", self.0.path.display())
    }
}

impl SqliteHost {
    /// Opens (or creates) the database at `path` with the default [`Options`], time-stamping
    /// delivered mails, notices and revocations with `clock`.
    pub fn open(path: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Self, HostError> {
        Self::open_with(path, clock, Options::default())
    }

    /// Opens (or creates) the database at `path`: checks that the file is this host's (or new),
    /// whole and writable, then migrates it to the latest schema in one transaction.
    pub fn open_with(
        path: impl AsRef<Path>,
        clock: Arc<dyn Clock>,
        options: Options,
    ) -> Result<Self, HostError> {
        let path = path.as_ref().to_path_buf();
        let mut conn = connect(&path, &options)?;
        schema::check(&conn).at(&path)?;
        schema::migrate(&mut conn).at(&path)?;
        Ok(SqliteHost(Arc::new(Inner {
            path,
            options,
            clock,
            pool: Mutex::new(vec![conn]),
        })))
    }

    /// The ports for [`Portal::new`](kaigo_seikyu::portal::Portal::new), all on this file, with
    /// the clock given to [`open`](Self::open).
    pub fn ports(&self) -> Ports {
        let host = Arc::new(self.clone());
        Ports {
            store: host.clone(),
            clock: self.0.clock.clone(),
            mailer: host.clone(),
            notices: host.clone(),
            audit: host.clone(),
            ledger: host.clone(),
            sessions: host,
        }
    }

    fn path(&self) -> &Path {
        &self.0.path
    }

    /// The clock's `now`, as stored.
    fn now(&self) -> String {
        self.0
            .clock
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
    }

    /// Runs `f` on a pooled connection (a new one when all are busy).
    fn with_conn<T, E: From<HostError>>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        let pooled = lock(&self.0.pool).pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => connect(&self.0.path, &self.0.options)?,
        };
        let result = f(&mut conn);
        lock(&self.0.pool).push(conn);
        result
    }

    /// Runs `f` in a write transaction (`BEGIN IMMEDIATE`: the write lock is taken first, so the
    /// transaction never has to upgrade from a stale read). It commits if `f` succeeds; otherwise
    /// the transaction is dropped, which rolls it back.
    fn write<T, E: From<HostError>>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let path = self.path();
        self.with_conn(|conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .at(path)?;
            let value = f(&tx)?;
            tx.commit().at(path)?;
            Ok(value)
        })
    }

    /// Adds or replaces an office in the ledger (事業所台帳).
    pub fn insert_office(&self, record: &OfficeRecord) -> Result<(), HostError> {
        let json = serde_json::to_string(record).map_err(|e| corrupt(self.path(), e))?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO offices (number, record) VALUES (?1, ?2)
                 ON CONFLICT (number) DO UPDATE SET record = excluded.record",
                params![record.number.as_str(), json],
            )
            .at(self.path())
        })
        .map(drop)
    }

    /// Every notice posted to `office`, oldest first.
    pub fn notices_for(&self, office: &OfficeNumber) -> Result<Vec<Notice>, HostError> {
        let path = self.path();
        self.with_conn(|c| {
            let mut stmt = c
                .prepare_cached("SELECT title, body FROM notices WHERE office = ?1 ORDER BY id")
                .at(path)?;
            let rows = stmt
                .query_map([office.as_str()], |r| {
                    Ok(Notice {
                        title: r.get(0)?,
                        body: r.get(1)?,
                    })
                })
                .at(path)?;
            rows.collect::<Result<_, _>>().at(path)
        })
    }

    /// Every audit event, oldest first.
    pub fn events(&self) -> Result<Vec<Event>, HostError> {
        let path = self.path();
        self.with_conn(|c| {
            let mut stmt = c
                .prepare_cached("SELECT id, event FROM events ORDER BY id")
                .at(path)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .at(path)?;
            rows.map(|row| {
                let (id, json) = row.at(path)?;
                serde_json::from_str(&json)
                    .map_err(|e| corrupt(path, format_args!("event {id}: {e}")))
            })
            .collect()
        })
    }

    /// How many store records the file holds (the crate's records and outbox records).
    pub fn record_count(&self) -> Result<usize, HostError> {
        let path = self.path();
        self.with_conn(|c| {
            let n: i64 = c
                .query_row(
                    "SELECT (SELECT count(*) FROM records) + (SELECT count(*) FROM effects)",
                    [],
                    |r| r.get(0),
                )
                .at(path)?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    /// When the sessions of `user` were last revoked (RS-08), if ever.
    pub fn sessions_revoked_at(&self, user: &UserId) -> Result<Option<Instant>, HostError> {
        let path = self.path();
        let at: Option<String> = self.with_conn(|c| {
            c.query_row(
                "SELECT revoked_at FROM revocations WHERE user_id = ?1",
                [user.to_string()],
                |r| r.get(0),
            )
            .optional()
            .at(path)
        })?;
        at.map(|t| {
            chrono::DateTime::parse_from_rfc3339(&t)
                .map(|t| t.to_utc())
                .map_err(|e| corrupt(path, format_args!("revocation of {user}: {e}")))
        })
        .transpose()
    }

    /// The newest mail to `to` in the mail table and not yet delivered, like a user opening their inbox
    /// (a delivered mail's body is scrubbed: it is read where it was delivered).
    pub fn last_mail_to(&self, to: &EmailAddress) -> Result<Option<Mail>, HostError> {
        let path = self.path();
        self.with_conn(|c| {
            c.query_row(
                "SELECT recipient, subject, body FROM outbox
                 WHERE recipient = ?1 COLLATE NOCASE AND delivered_at IS NULL ORDER BY id DESC LIMIT 1",
                [to.as_str()],
                |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .at(path)
        })?
        .map(|(to, subject, body)| mail(path, to, subject, body))
        .transpose()
    }

    /// The delivery loop (SEC-08): hands every mail queued when it starts to `send`, oldest first,
    /// marking each delivered once `send` accepts it. If `send` fails, the loop stops and returns
    /// the error; that mail and the ones after it stay queued for the next call (at least once: a
    /// crash between `send` and the mark sends the mail again). Returns how many were delivered.
    ///
    /// A delivered mail's body, which holds its code, is scrubbed in the same statement that
    /// marks it delivered (`secure_delete` zeroes the old bytes); the row keeps its recipient,
    /// subject and times. A pass that delivered anything ends with a checkpoint that truncates
    /// the WAL, so no older copy of a page stays in the `-wal` file either (best effort: a
    /// checkpoint that other connections hold up is left to the next pass).
    pub fn deliver<E: From<HostError>>(
        &self,
        send: impl FnMut(&Outgoing) -> Result<(), E>,
    ) -> Result<usize, E> {
        let mut sent = 0;
        let result = self.deliver_pass(send, &mut sent);
        if sent > 0 {
            self.with_conn(|c| {
                c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                    .at(self.path())
            })
            .ok();
        }
        result.map(|()| sent)
    }

    fn deliver_pass<E: From<HostError>>(
        &self,
        mut send: impl FnMut(&Outgoing) -> Result<(), E>,
        sent: &mut usize,
    ) -> Result<(), E> {
        let path = self.path();
        let last: i64 = self.with_conn(|c| {
            c.query_row("SELECT coalesce(max(id), 0) FROM outbox", [], |r| r.get(0))
                .at(path)
        })?;
        let mut after = 0;
        loop {
            let batch = self.with_conn(|c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT id, queued_at, recipient, subject, body FROM outbox
                         WHERE delivered_at IS NULL AND id > ?1 AND id <= ?2 ORDER BY id LIMIT 64",
                    )
                    .at(path)?;
                let rows = stmt
                    .query_map([after, last], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                        ))
                    })
                    .at(path)?;
                rows.map(|row| {
                    let (id, queued_at, to, subject, body) = row.at(path)?;
                    Ok(Outgoing {
                        id,
                        queued_at,
                        mail: mail(path, to, subject, body)?,
                    })
                })
                .collect::<Result<Vec<_>, HostError>>()
            })?;
            if batch.is_empty() {
                return Ok(());
            }
            for outgoing in batch {
                send(&outgoing)?;
                let now = self.now();
                let id = outgoing.id;
                self.write(|tx| {
                    tx.execute(
                        "UPDATE outbox SET delivered_at = ?1, body = '' WHERE id = ?2",
                        params![now, id],
                    )
                    .at(path)
                })?;
                after = id;
                *sent += 1;
            }
        }
    }

    /// Delivers the outbox to `dir` (created if missing) as one `<id>.eml` file per mail,
    /// oldest first; see [`deliver`](Self::deliver). Returns how many were written.
    pub fn deliver_outbox(&self, dir: &Path) -> Result<usize, HostError> {
        std::fs::create_dir_all(dir).map_err(|e| HostError {
            path: dir.to_path_buf(),
            problem: Problem::Io(e.to_string()),
        })?;
        self.deliver(|outgoing| eml::write(dir, outgoing))
    }
}

/// A mail the delivery loop hands out, with its place in the outbox.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Its outbox id: increasing in queue order, never reused.
    pub id: i64,
    /// When it was queued (RFC 3339, by the host's clock).
    pub queued_at: String,
    /// The mail.
    pub mail: Mail,
}

/// A mail read back from the outbox.
fn mail(path: &Path, to: String, subject: String, body: String) -> Result<Mail, HostError> {
    let to = to
        .parse()
        .map_err(|e| corrupt(path, format_args!("outbox recipient {to:?}: {e}")))?;
    Ok(Mail { to, subject, body })
}

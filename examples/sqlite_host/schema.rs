//! The database file's schema, its migrations, and the checks made before anything is written.

use rusqlite::{Connection, TransactionBehavior};

use super::Problem;

/// `PRAGMA application_id` of this host's files ("KSK1"): a SQLite file without it that has
/// tables belongs to another application and is never touched.
pub const APPLICATION_ID: i32 = 0x4b53_4b31;

/// The migrations, in order: migration `i` takes the schema from version `i` to `i + 1`
/// (`PRAGMA user_version`). Each runs in the same transaction as the version bump.
pub const MIGRATIONS: &[&str] = &[
    // 1: the tables of the ports.
    "
    -- Store: one row per record, addressed by the Key's stable Display string (e.g.
    -- 'flow/reset/0011…', 'account/KJ131311111111', 'sequence/202601'). `version` is the
    -- compare-and-swap column (SEC-02): a commit checks it for every write, in one transaction.
    CREATE TABLE records (
        key     TEXT PRIMARY KEY,
        version INTEGER NOT NULL CHECK (version >= 1),
        value   BLOB NOT NULL
    ) WITHOUT ROWID;

    -- Mailer: the outbox (SEC-08). `enqueue` inserts; the delivery loop sends in id order and
    -- then sets delivered_at (at least once). AUTOINCREMENT: an id is never reused.
    CREATE TABLE outbox (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        recipient    TEXT NOT NULL,
        subject      TEXT NOT NULL,
        body         TEXT NOT NULL,
        queued_at    TEXT NOT NULL,
        delivered_at TEXT
    );

    -- NoticeBoard: お知らせ per office, in posting order.
    CREATE TABLE notices (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        office    TEXT NOT NULL,
        title     TEXT NOT NULL,
        body      TEXT NOT NULL,
        posted_at TEXT NOT NULL
    );
    CREATE INDEX notices_by_office ON notices (office, id);

    -- AuditLog: domain events as JSON (SEC-05; they carry no secret).
    CREATE TABLE events (
        id    INTEGER PRIMARY KEY AUTOINCREMENT,
        at    TEXT NOT NULL,
        event TEXT NOT NULL
    );

    -- OfficeLedger: the 事業所台帳, read-only to the crate; records as JSON.
    CREATE TABLE offices (
        number TEXT PRIMARY KEY,
        record TEXT NOT NULL
    ) WITHOUT ROWID;

    -- Sessions: when a user ID's sessions were last revoked (RS-08); a session started before
    -- that instant is no longer valid.
    CREATE TABLE revocations (
        user_id    TEXT PRIMARY KEY,
        revoked_at TEXT NOT NULL
    ) WITHOUT ROWID;
    ",
    // 2: what the delivery loop and an operator read.
    "
    -- The undelivered mails, for the delivery loop.
    CREATE INDEX outbox_undelivered ON outbox (id) WHERE delivered_at IS NULL;

    -- The management-number sequences (VAL-08): the last number issued per month. They are
    -- store records ('sequence/YYYYMM', a JSON number) claimed in the same commit as the
    -- application they number, so this is a view, not a second place to write.
    CREATE VIEW sequences (month, last, version) AS
        SELECT substr(key, 10), CAST(value AS INTEGER), version FROM records WHERE key GLOB 'sequence/*';
    ",
    // 3: delivered mails keep no code.
    "
    -- The delivery loop now empties a mail's body when it marks it delivered (the body holds a
    -- live code). Scrub the mails delivered before; `secure_delete` zeroes the old bytes.
    UPDATE outbox SET body = '' WHERE delivered_at IS NOT NULL;
    ",
    // 4: the transactional outbox (OPS-01).
    "
    -- The crate's outbox records ('outbox/<effect id>'): written in the commit of the step they
    -- belong to, listed in commit order (seq), removed once delivered. AUTOINCREMENT: a seq is
    -- never reused, so the order is the order of the commits.
    CREATE TABLE effects (
        seq   INTEGER PRIMARY KEY AUTOINCREMENT,
        key   TEXT NOT NULL UNIQUE,
        value BLOB NOT NULL
    );
    -- The effect id each delivered mail, notice and event came with: a redelivery after a crash
    -- repeats the id, so a receiver can drop the duplicate.
    ALTER TABLE outbox ADD COLUMN effect_id TEXT;
    ALTER TABLE notices ADD COLUMN effect_id TEXT;
    ALTER TABLE events ADD COLUMN effect_id TEXT;
    ",
    // 5: records that expire (OPS-02).
    "
    -- The instant from which a record is dead (microseconds since the Unix epoch; NULL: it lives
    -- until removed), as its last write set it. Rows written before keep NULL: nothing is lost,
    -- and they are never purged. The partial indexes serve `purge`, oldest expiry first.
    ALTER TABLE records ADD COLUMN expires_at INTEGER;
    ALTER TABLE effects ADD COLUMN expires_at INTEGER;
    CREATE INDEX records_by_expiry ON records (expires_at) WHERE expires_at IS NOT NULL;
    CREATE INDEX effects_by_expiry ON effects (expires_at) WHERE expires_at IS NOT NULL;
    ",
];

/// The schema version this host writes and reads.
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// What is in the file before the host touches it.
struct Found {
    application_id: i32,
    version: i64,
    objects: i64,
}

fn found(conn: &Connection) -> rusqlite::Result<Found> {
    Ok(Found {
        application_id: conn.pragma_query_value(None, "application_id", |r| r.get(0))?,
        version: conn.pragma_query_value(None, "user_version", |r| r.get(0))?,
        objects: conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?,
    })
}

/// Refuses a file that is not this host's (foreign, newer, corrupt), reading only.
pub fn check(conn: &Connection) -> Result<(), Problem> {
    let f = found(conn)?;
    let fresh = f.application_id == 0 && f.version == 0 && f.objects == 0;
    if f.application_id != APPLICATION_ID && !fresh {
        return Err(Problem::Foreign(if f.application_id == 0 {
            format!("{} schema objects but no application_id", f.objects)
        } else {
            format!(
                "application_id {:#010x}, not {APPLICATION_ID:#010x}",
                f.application_id
            )
        }));
    }
    if f.version < 0 {
        return Err(Problem::Corrupt(format!(
            "schema version {} is negative",
            f.version
        )));
    }
    if f.version > latest() {
        return Err(Problem::NewerSchema {
            found: f.version,
            supported: latest(),
        });
    }
    let report: Vec<String> = conn
        .prepare("PRAGMA quick_check")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if report != ["ok"] {
        return Err(Problem::Corrupt(report.join("; ")));
    }
    Ok(())
}

/// Brings a checked file to the latest schema in one transaction: all migrations or none. Another
/// process migrating the same file at the same time is waited for, then finds nothing to do.
pub fn migrate(conn: &mut Connection) -> Result<(), Problem> {
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > latest() {
        return Err(Problem::NewerSchema {
            found: version,
            supported: latest(),
        });
    }
    let pending = usize::try_from(version)
        .ok()
        .and_then(|v| MIGRATIONS.get(v..))
        .unwrap_or_default();
    if pending.is_empty() {
        return Ok(());
    }
    for sql in pending {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", latest())?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.commit()?;
    Ok(())
}

//! Every statement the host runs, as constants both drivers prepare, and the mapping between rows
//! and the library's types. Tables are named unqualified: they live in the schema the
//! connection's `search_path` names first (see [`PgOptions::schema`](crate::PgOptions::schema)).

use kaigo_seikyu::calendar::Instant;
use kaigo_seikyu::effect::EffectId;
use kaigo_seikyu::ports::{OfficeRecord, PortError};
use kaigo_seikyu::store::{Key, StoreError, Versioned, Write};
use kaigo_seikyu::values::Prefecture;
use tokio_postgres::Row;

/// The migrations, in order: migration `i` (1-based) takes the schema from version `i - 1` to
/// `i`. A version is recorded in `kaigo_migrations` in the same transaction as its statements.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "the tables of the ports",
        r#"
    -- The versions applied, one row each (this table is made by the first migration).
    CREATE TABLE kaigo_migrations (
        version     integer PRIMARY KEY,
        description text NOT NULL,
        applied_at  timestamptz NOT NULL DEFAULT now()
    );

    -- Store: one row per record, addressed by the Key's stable Display string
    -- ('account/KJ131311111111', 'flow/reset/…', 'outbox/…'). `version` is the compare-and-swap
    -- column (SEC-02). `expires_at` is the instant from which the record is dead (OPS-02; NULL:
    -- it lives until removed). Keys compare bytewise (COLLATE "C"), as scan's contract orders them
    -- whatever the database's locale (OPS-03).
    -- Outbox records (OPS-01) carry their place: the number of the commit that wrote them (from
    -- kaigo_commits) and their position among its writes; they are listed in that order.
    CREATE TABLE kaigo_records (
        key           text COLLATE "C" PRIMARY KEY,
        version       bigint NOT NULL CHECK (version >= 1),
        value         bytea NOT NULL,
        expires_at    timestamptz,
        outbox_commit bigint,
        outbox_pos    integer,
        CHECK ((outbox_commit IS NULL) = (outbox_pos IS NULL))
    );
    CREATE SEQUENCE kaigo_commits AS bigint;
    CREATE INDEX kaigo_records_outbox ON kaigo_records (outbox_commit, outbox_pos)
        WHERE outbox_commit IS NOT NULL;
    CREATE INDEX kaigo_records_expiry ON kaigo_records (expires_at)
        WHERE expires_at IS NOT NULL;

    -- The management-number sequences (VAL-08), for an operator: they are store records
    -- ('sequence/YYYYMM', a JSON number) claimed in the commit of the application they number.
    CREATE VIEW kaigo_sequences (month, last, version) AS
        SELECT substr(key, 10), convert_from(value, 'UTF8')::bigint, version
        FROM kaigo_records WHERE key LIKE 'sequence/%';

    -- Mailer (SEC-08): mails delivered from the outbox (with their effect id, once each) or
    -- enqueued directly (no id). The host's delivery loop sends them in id order and then sets
    -- delivered_at and empties the body (it held a live code).
    CREATE TABLE kaigo_mails (
        id           bigserial PRIMARY KEY,
        effect_id    text UNIQUE,
        recipient    text NOT NULL,
        subject      text NOT NULL,
        body         text NOT NULL,
        queued_at    timestamptz NOT NULL,
        delivered_at timestamptz
    );
    CREATE INDEX kaigo_mails_undelivered ON kaigo_mails (id) WHERE delivered_at IS NULL;

    -- NoticeBoard: お知らせ per office, in posting order.
    CREATE TABLE kaigo_notices (
        id        bigserial PRIMARY KEY,
        effect_id text UNIQUE,
        office    text NOT NULL,
        title     text NOT NULL,
        body      text NOT NULL,
        posted_at timestamptz NOT NULL
    );
    CREATE INDEX kaigo_notices_by_office ON kaigo_notices (office, id);

    -- AuditLog: domain events (SEC-05; they carry no secret), as the library serializes them.
    CREATE TABLE kaigo_events (
        id        bigserial PRIMARY KEY,
        effect_id text UNIQUE,
        at        timestamptz NOT NULL,
        event     jsonb NOT NULL
    );

    -- OfficeLedger: the 事業所台帳, read-only to the library. Billing prefectures as their
    -- two-digit codes ('13').
    CREATE TABLE kaigo_offices (
        number         text PRIMARY KEY,
        name           text NOT NULL,
        postal_address text NOT NULL,
        phone          text NOT NULL,
        billing        text[] NOT NULL
    );

    -- Sessions: when a user ID's sessions were last revoked (RS-08); the host's session check
    -- refuses a session started before it.
    CREATE TABLE kaigo_revocations (
        user_id    text PRIMARY KEY,
        revoked_at timestamptz NOT NULL
    );
    "#,
    ),
    (
        "a commit in one statement: kaigo_commit",
        r#"
    -- SEC-02, OPS-01: a commit as one statement, so one round trip (issue 17's benchmark): the
    -- key locks, then the conditional writes, then the count check, which raises (SQLSTATE
    -- KC409) and so rolls the statement's transaction back unless every write took. The caller
    -- runs `SELECT kaigo_commit(...)` outside any transaction: the statement is its own
    -- transaction, all or nothing. The function is VOLATILE: in READ COMMITTED each statement
    -- in it takes a fresh snapshot, so the writes see every commit that held one of these locks
    -- before (the crate docs: "Why READ COMMITTED is enough").
    -- Locks: $1 the ids (ascending), $2 whether each is shared (a key only checked).
    -- Writes: key, op (0 create, 1 update, 2 delete, 3 check), expected version, value, expiry,
    -- whether the record is an outbox record; outbox records created here take one commit
    -- number and their write positions.
    CREATE OR REPLACE FUNCTION kaigo_commit(
        lock_ids bigint[], lock_shared bool[],
        w_keys text[], w_ops int4[], w_expected bigint[], w_values bytea[],
        w_expires timestamptz[], w_outboxed bool[]
    ) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $kaigo_commit$
    DECLARE
        took bigint;
    BEGIN
        PERFORM CASE WHEN s THEN pg_advisory_xact_lock_shared(id)::text
                     ELSE pg_advisory_xact_lock(id)::text END
        FROM unnest(lock_ids, lock_shared) WITH ORDINALITY AS u(id, s, n)
        ORDER BY n;

        WITH w AS (
            SELECT * FROM unnest(w_keys, w_ops, w_expected, w_values, w_expires, w_outboxed)
                WITH ORDINALITY AS w(key, op, expected, value, expires, outboxed, pos)
        ),
        created AS (
            INSERT INTO kaigo_records (key, version, value, expires_at, outbox_commit, outbox_pos)
            SELECT w.key, 1, w.value, w.expires,
                   CASE WHEN w.outboxed THEN (SELECT nextval('kaigo_commits')) END,
                   CASE WHEN w.outboxed THEN w.pos::integer END
            FROM w WHERE w.op = 0
            ON CONFLICT (key) DO NOTHING
            RETURNING 1
        ),
        updated AS (
            UPDATE kaigo_records r
            SET version = r.version + 1, value = w.value, expires_at = w.expires
            FROM w WHERE w.op = 1 AND r.key = w.key AND r.version = w.expected
            RETURNING 1
        ),
        deleted AS (
            DELETE FROM kaigo_records r USING w
            WHERE w.op = 2 AND r.key = w.key AND r.version = w.expected
            RETURNING 1
        ),
        checked AS (
            SELECT 1 FROM w LEFT JOIN kaigo_records r ON r.key = w.key
            WHERE w.op = 3 AND r.version IS NOT DISTINCT FROM w.expected
        )
        SELECT (SELECT count(*) FROM created) + (SELECT count(*) FROM updated)
             + (SELECT count(*) FROM deleted) + (SELECT count(*) FROM checked)
        INTO took;

        IF took IS DISTINCT FROM cardinality(w_keys)::bigint THEN
            RAISE EXCEPTION 'kaigo_commit: % of % writes took: conflict, nothing was written',
                took, cardinality(w_keys)
                USING ERRCODE = 'KC409';
        END IF;
        RETURN took;
    END
    $kaigo_commit$;
    "#,
    ),
];

/// The schema version this crate writes and reads.
pub const LATEST: i32 = MIGRATIONS.len() as i32;

/// Whether the schema exists (`$1`: its name).
pub const SCHEMA_EXISTS: &str = "SELECT 1 FROM pg_namespace WHERE nspname = $1";

/// The first schema of the search path (NULL when none of its schemas exists).
pub const CURRENT_SCHEMA: &str = "SELECT current_schema()::text";

/// Serializes migrations of one schema across processes, for the migration's transaction
/// (`$1`: the schema's name). The two-key form: its locks never meet the records' (one key).
pub const MIGRATION_LOCK: &str = "SELECT pg_advisory_xact_lock(1263747889, hashtext($1))";

/// Whether the migrations table exists in the current schema.
pub const HAS_MIGRATIONS: &str = "SELECT to_regclass('kaigo_migrations') IS NOT NULL";

/// The versions applied.
pub const APPLIED: &str = "SELECT version FROM kaigo_migrations ORDER BY version";

/// Records a migration.
pub const RECORD_MIGRATION: &str =
    "INSERT INTO kaigo_migrations (version, description) VALUES ($1, $2)";

/// The records of `$1` (a `text[]` of keys): one statement, one snapshot (OPS-04).
pub const LOAD_MANY: &str =
    "SELECT key, version, value, expires_at FROM kaigo_records WHERE key = ANY($1::text[])";

/// How many SQL round trips one commit takes: one, [`COMMIT`].
pub const COMMIT_ROUND_TRIPS: usize = 1;

/// The SQLSTATE `kaigo_commit` raises when a write did not take: a
/// [`Conflict`](kaigo_seikyu::store::StoreError::Conflict).
pub const CONFLICT_STATE: &str = "KC409";

/// SEC-02, OPS-01: one commit, one statement, run outside any transaction so that it is its own
/// (all or nothing). `kaigo_commit` (migration 2) takes the commit's key locks in the order given
/// (`$1` the ids, ascending, so two commits never wait on each other in a cycle; `$2` whether
/// each is shared, for a key the commit only checks, or exclusive, for a key it writes), held
/// until the statement's transaction ends; then applies the writes (`$3`..`$8`, one entry per
/// write: key, op, expected version, value, expiry, outbox record or not) in one statement, each
/// conditional on its expected version: a creation is `INSERT … ON CONFLICT DO NOTHING`, an
/// update `UPDATE … WHERE version = expected`, a removal `DELETE … WHERE version = expected`, a
/// check a comparison; and unless every one took, raises [`CONFLICT_STATE`], which rolls all of
/// it back.
pub const COMMIT: &str = "SELECT kaigo_commit($1::bigint[], $2::bool[], $3::text[], $4::int4[], \
     $5::bigint[], $6::bytea[], $7::timestamptz[], $8::bool[])";

/// OPS-01: up to `$1` outbox records, oldest commit first, then in write order.
pub const OUTBOX: &str = "
    SELECT key, version, value, expires_at FROM kaigo_records
    WHERE outbox_commit IS NOT NULL
    ORDER BY outbox_commit, outbox_pos
    LIMIT $1";

/// OPS-03: up to `$4` records with keys from `$1` (inclusive) to `$3` (exclusive) and after
/// `$2`, in key order (bytewise: the column's collation).
pub const SCAN: &str = "
    SELECT key, version, value, expires_at FROM kaigo_records
    WHERE key >= $1 AND key > $2 AND key < $3
    ORDER BY key
    LIMIT $4";

/// OPS-02: removes up to `$2` records dead at `$1`, oldest expiry first. A record a commit holds
/// is skipped (it is being rewritten, perhaps with a later expiry), and the expiry is checked
/// again on the row deleted.
pub const PURGE: &str = "
    DELETE FROM kaigo_records
    WHERE key IN (
        SELECT key FROM kaigo_records
        WHERE expires_at <= $1
        ORDER BY expires_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED
    ) AND expires_at <= $1";

/// A mail into the mail table (`$5`: its effect id, or NULL); once per effect id.
pub const INSERT_MAIL: &str = "
    INSERT INTO kaigo_mails (recipient, subject, body, queued_at, effect_id)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (effect_id) DO NOTHING";

/// A notice (`$5`: its effect id, or NULL); once per effect id.
pub const INSERT_NOTICE: &str = "
    INSERT INTO kaigo_notices (office, title, body, posted_at, effect_id)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (effect_id) DO NOTHING";

/// An audit event (`$3`: its effect id, or NULL); once per effect id.
pub const INSERT_EVENT: &str = "
    INSERT INTO kaigo_events (at, event, effect_id)
    VALUES ($1, $2::text::jsonb, $3)
    ON CONFLICT (effect_id) DO NOTHING";

/// RS-08: the instant a user ID's sessions were revoked.
pub const REVOKE: &str = "
    INSERT INTO kaigo_revocations (user_id, revoked_at) VALUES ($1, $2)
    ON CONFLICT (user_id) DO UPDATE SET revoked_at = excluded.revoked_at";

/// When a user ID's sessions were last revoked.
pub const REVOKED_AT: &str = "SELECT revoked_at FROM kaigo_revocations WHERE user_id = $1";

/// An office's ledger entry.
pub const FIND_OFFICE: &str =
    "SELECT number, name, postal_address, phone, billing FROM kaigo_offices WHERE number = $1";

/// Adds or replaces an office in the ledger.
pub const UPSERT_OFFICE: &str = "
    INSERT INTO kaigo_offices (number, name, postal_address, phone, billing)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (number) DO UPDATE SET name = excluded.name,
        postal_address = excluded.postal_address, phone = excluded.phone,
        billing = excluded.billing";

/// Every notice of an office, oldest first.
pub const NOTICES_FOR: &str = "SELECT title, body FROM kaigo_notices WHERE office = $1 ORDER BY id";

/// Every audit event, oldest first.
pub const EVENTS: &str = "SELECT id, event::text FROM kaigo_events ORDER BY id";

/// How many store records there are (outbox records included).
pub const RECORD_COUNT: &str = "SELECT count(*) FROM kaigo_records";

/// The newest mail queued for delivery, last id.
pub const LAST_MAIL_ID: &str = "SELECT coalesce(max(id), 0) FROM kaigo_mails";

/// Up to 64 undelivered mails with ids after `$1`, up to `$2`, in id order.
pub const UNDELIVERED_MAILS: &str = "
    SELECT id, queued_at, recipient, subject, body FROM kaigo_mails
    WHERE delivered_at IS NULL AND id > $1 AND id <= $2
    ORDER BY id LIMIT 64";

/// Marks a mail delivered (`$1` when, `$2` its id) and empties its body, which held a code.
pub const MAIL_DELIVERED: &str =
    "UPDATE kaigo_mails SET delivered_at = $1, body = '' WHERE id = $2";

/// The newest undelivered mail to an address (ASCII case ignored).
pub const LAST_MAIL_TO: &str = "
    SELECT recipient, subject, body FROM kaigo_mails
    WHERE lower(recipient) = lower($1) AND delivered_at IS NULL
    ORDER BY id DESC LIMIT 1";

/// A version as the store's `u64`.
fn version(key: &str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v)
        .ok()
        .filter(|&v| v >= 1)
        .ok_or_else(|| StoreError::Corrupt(format!("{key}: version {v}")))
}

/// OPS-02: an expiry as the column keeps it, to the microsecond, rounded up so a record never
/// dies earlier than its write said.
pub fn expiry(at: Option<Instant>) -> Option<Instant> {
    at.map(|at| {
        let up = i64::from(at.timestamp_subsec_nanos() % 1000 != 0);
        Instant::from_timestamp_micros(at.timestamp_micros().saturating_add(up))
            .unwrap_or(Instant::MAX_UTC)
    })
}

/// OPS-02: `now` for a purge, to the microsecond, rounded down (expiries are rounded up): no
/// record is purged before its expiry.
pub fn purge_instant(now: Instant) -> Instant {
    Instant::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// A row of `key, version, value, expires_at` as the key's text and its record.
pub fn record(row: &Row) -> Result<(String, Versioned), StoreError> {
    let corrupt = |e: tokio_postgres::Error| StoreError::Corrupt(format!("a record's row: {e}"));
    let key: String = row.try_get(0).map_err(corrupt)?;
    let v: i64 = row.try_get(1).map_err(corrupt)?;
    let value: Vec<u8> = row.try_get(2).map_err(corrupt)?;
    let expires: Option<Instant> = row
        .try_get(3)
        .map_err(|e| StoreError::Corrupt(format!("{key}: expiry: {e}")))?;
    let version = version(&key, v)?;
    Ok((
        key,
        Versioned {
            version,
            value,
            expires,
        },
    ))
}

/// An outbox row as its effect id and record.
pub fn outboxed(row: &Row) -> Result<(EffectId, Versioned), StoreError> {
    let (key, record) = record(row)?;
    let id = key
        .strip_prefix("outbox/")
        .ok_or_else(|| StoreError::Corrupt(format!("an outbox row has the key {key}")))?
        .parse()?;
    Ok((id, record))
}

/// The parameter arrays of [`COMMIT`], one entry per write.
#[derive(Default)]
pub struct Writes {
    /// The keys' text.
    pub keys: Vec<String>,
    /// 0 create, 1 update, 2 delete, 3 check.
    pub ops: Vec<i32>,
    /// The expected versions (NULL: absent).
    pub expected: Vec<Option<i64>>,
    /// The values of puts.
    pub values: Vec<Option<Vec<u8>>>,
    /// The expiries of puts.
    pub expires: Vec<Option<Instant>>,
    /// Whether the key is an outbox record's.
    pub outboxed: Vec<bool>,
}

impl Writes {
    /// The arrays of `writes`; `None` when a write expects a version no record can have (beyond
    /// `i64::MAX`): the commit is a conflict. A commit naming one key twice is refused.
    pub fn of(writes: &[Write]) -> Result<Option<Self>, StoreError> {
        let mut w = Writes::default();
        for write in writes {
            let key = write.key().to_string();
            let Ok(expected) = write.expected().map(i64::try_from).transpose() else {
                return Ok(None);
            };
            let (op, value, expires) = match write {
                Write::Put {
                    expected: None,
                    value,
                    expires,
                    ..
                } => (0, Some(value.clone()), expiry(*expires)),
                Write::Put { value, expires, .. } => (1, Some(value.clone()), expiry(*expires)),
                Write::Delete { .. } => (2, None, None),
                Write::Check { .. } => (3, None, None),
            };
            w.outboxed.push(matches!(write.key(), Key::Outbox(_)));
            w.keys.push(key);
            w.ops.push(op);
            w.expected.push(expected);
            w.values.push(value);
            w.expires.push(expires);
        }
        let mut distinct: Vec<&String> = w.keys.iter().collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != w.keys.len() {
            return Err(StoreError::Unavailable(
                "a commit wrote one key twice; nothing was written".into(),
            ));
        }
        Ok(Some(w))
    }

    /// SEC-02: the commit's key locks for [`COMMIT`]: one id per key (a 64-bit FNV-1a hash of
    /// the schema and the key, the same in every process), ascending; shared for a key only
    /// checked, exclusive for a key written (and for an id two keys share, if one is written).
    pub fn locks(&self, schema: &str) -> (Vec<i64>, Vec<bool>) {
        let mut ids: Vec<(i64, bool)> = self
            .keys
            .iter()
            .zip(&self.ops)
            .map(|(key, &op)| (lock_id(schema, key), op == 3))
            .collect();
        ids.sort_unstable();
        // Sorted by id, exclusive (false) before shared: keep the first of each id.
        ids.dedup_by_key(|(id, _)| *id);
        ids.into_iter().unzip()
    }
}

/// The advisory lock id of a key: FNV-1a (64 bits) of the schema, a zero byte and the key. A
/// stable function (not the standard library's hasher, which may change between Rust releases),
/// so every process, whatever it was built with, locks the same id for the same key.
pub fn lock_id(schema: &str, key: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in schema.bytes().chain([0]).chain(key.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// A ledger row as an [`OfficeRecord`]; a row that does not parse is corrupt.
pub fn office(row: &Row) -> Result<OfficeRecord, PortError> {
    let bad =
        |what: &str, e: &dyn std::fmt::Display| PortError(format!("office ledger: {what}: {e}"));
    let number: String = row.try_get(0).map_err(|e| bad("number", &e))?;
    let billing: Vec<String> = row.try_get(4).map_err(|e| bad("billing", &e))?;
    Ok(OfficeRecord {
        number: number.parse().map_err(|e| bad(&number, &e))?,
        name: row.try_get(1).map_err(|e| bad("name", &e))?,
        postal_address: row.try_get(2).map_err(|e| bad("postal_address", &e))?,
        phone: row.try_get(3).map_err(|e| bad("phone", &e))?,
        billing: billing
            .iter()
            .map(|code| code.parse::<Prefecture>())
            .collect::<Result<_, _>>()
            .map_err(|e| bad(&number, &e))?,
    })
}

/// The billing prefectures of a record as the column keeps them.
pub fn billing_codes(record: &OfficeRecord) -> Vec<String> {
    record.billing.iter().map(ToString::to_string).collect()
}

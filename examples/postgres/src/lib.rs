//! The PostgreSQL host of [kaigo-seikyu](kaigo_seikyu): every port the library's drivers need,
//! on one PostgreSQL schema, for services that run several instances on one database.
//!
//! - **Blocking** ([`PgStore`], [`PgPorts`]) on the `postgres` crate, for the blocking
//!   [`Portal`](kaigo_seikyu::portal::Portal); **async** ([`AsyncPgStore`], [`AsyncPgPorts`]) on
//!   `tokio-postgres` with a `deadpool-postgres` pool, for the
//!   [`AsyncPortal`](kaigo_seikyu::portal::AsyncPortal). One set of SQL ([`sql`]) and one
//!   implementation of each operation serve both: the operations are `async fn`s over a
//!   connection trait; the async host awaits them, the blocking one runs them on its blocking
//!   client, whose calls are ready futures.
//! - **Store** (SEC-02, OPS-01..04): `load_many` is one statement; `commit` is one statement,
//!   and so one transaction and one round trip (below); `outbox` lists outbox records in commit
//!   order; `scan` pages a key range in key order; `purge` removes dead records in bounded
//!   batches. A record's expiry is stored with it and returned by every read, so the driver
//!   treats a dead record as gone (OPS-02) until
//!   `purge` removes it.
//! - **Mailer, NoticeBoard, AuditLog, Sessions**: tables the driver's delivery writes, each row
//!   with the [`EffectId`](kaigo_seikyu::effect::EffectId) it came with, unique: an effect
//!   delivered twice after a crash is written once. **OfficeLedger**: a table.
//! - **Migrations** ([`sql::MIGRATIONS`]): versioned, recorded in `kaigo_migrations`, run at
//!   start-up in one transaction under an advisory lock (so two instances starting together
//!   migrate once); running them again does nothing. A schema newer than this crate is refused
//!   at start-up, before anything is written. Migration 2 adds the commit function
//!   `kaigo_commit` to a schema made by migration 1; an instance of a build that knows only
//!   migration 1 refuses the migrated schema, so upgrade every instance together.
//! - **Failures**: a server that is down or unreachable gives
//!   [`StoreError::Unavailable`] (or a
//!   [`PortError`](kaigo_seikyu::ports::PortError)) naming `host:port/dbname` and the cause,
//!   within the connect timeout; nothing panics and nothing is retried (the next call connects
//!   again). The URL's password never appears in an error or in `Debug`.
//!
//! # Schema
//!
//! | table | port | rows |
//! | --- | --- | --- |
//! | `kaigo_records` | Store | `key` (the [`Key`](kaigo_seikyu::store::Key)'s text, `COLLATE "C"`), `version`, `value` (bytes), `expires_at`; outbox records also `outbox_commit`, `outbox_pos` |
//! | `kaigo_mails` | Mailer | recipient, subject, body, queued/delivered times, effect id |
//! | `kaigo_notices` | NoticeBoard | office, title, body, posted time, effect id |
//! | `kaigo_events` | AuditLog | instant, event (`jsonb`), effect id |
//! | `kaigo_offices` | OfficeLedger | number, name, postal address, phone, billing prefectures |
//! | `kaigo_revocations` | Sessions | user ID, last revocation |
//! | `kaigo_migrations` | | the schema versions applied |
//!
//! plus the sequence `kaigo_commits` (outbox order) and the view `kaigo_sequences` (the
//! management-number counters, for an operator). Tables live in one schema
//! ([`PgOptions::schema`]), so one database can hold several independent stores (tenants,
//! tests).
//!
//! # Why READ COMMITTED is enough
//!
//! A commit is one statement, `SELECT kaigo_commit(…)` ([`sql::COMMIT`]), sent outside any
//! transaction, so it is its own transaction, at PostgreSQL's default isolation, READ COMMITTED.
//! The function (migration 2) runs, in that one transaction:
//! 1. It takes a transaction-scoped advisory lock per key it names, in ascending lock-id order
//!    (so two commits never wait on each other in a cycle): exclusive for a key it writes,
//!    shared for a key it only checks ([`Write::Check`](kaigo_seikyu::store::Write::Check)).
//! 2. One statement applies every write, each conditional on its expected version: a creation
//!    is `INSERT … ON CONFLICT DO NOTHING`, an update `UPDATE … WHERE key = $k AND version = $n`,
//!    a removal `DELETE … WHERE key = $k AND version = $n`, a check a comparison; the statement
//!    counts how many took. Unless every one did, the function raises (SQLSTATE
//!    [`KC409`](sql::CONFLICT_STATE)), which rolls the whole transaction back, and the commit is a
//!    [`Conflict`](kaigo_seikyu::store::StoreError::Conflict): all or nothing.
//!
//! The function is `VOLATILE`, so under READ COMMITTED each statement in it takes a fresh
//! snapshot: the writes' snapshot is taken after every lock is held, as when the locks and the
//! writes were separate statements of one explicit transaction (four round trips: `BEGIN`, the
//! locks, the writes, `COMMIT`; issue 17's benchmark made it one).
//!
//! The row checks alone make puts and deletes safe under READ COMMITTED: an `UPDATE` that meets
//! a row another transaction changed waits for it and re-checks `version` on the new row, and
//! `ON CONFLICT` sees a concurrent insert of the key. Two commits that read the same version of
//! a record can therefore never both write it (SEC-02). What the row checks alone do not cover is
//! a *check*: `Check { expected: None }` (the request read the record as absent) has no row to
//! lock, and a plain read of a present row does not stop another transaction from changing it
//! before this one commits. Two requests could then each decide on a record the other writes
//! (write skew: A checks X absent and creates Y while B checks Y absent and creates X; both would
//! commit). The advisory locks close that gap: every commit holds the locks of all its keys
//! before its write statement takes its snapshot, so commits that share a key run one after the
//! other and each sees the other's result (strict two-phase locking on keys); commits on
//! different keys do not wait for each other. The test
//! `sec_02_checks_of_absent_records_are_serializable` races that write skew 200 times over two
//! pools and finds it never commits; with the locks taken out of `kaigo_commit`, both sides
//! committed in 176 of the 200 rounds. With that, commits are serializable among themselves without
//! SERIALIZABLE isolation, which would add retries for false positives (its predicate locks are
//! per index page) and nothing the version checks need. The lock id is a 64-bit FNV-1a hash of
//! the schema and the key, the same in every process; a collision only makes two commits wait
//! for each other. A deadlock with `purge` (which takes row locks only) or a serialization failure
//! of the server is reported as a `Conflict`, and the driver runs the request again.
//!
//! Reads (`load_many`) run outside any transaction, one statement each: one consistent snapshot
//! per round, and the commit's checks catch whatever changed since.
//!
//! # Outbox order
//!
//! An outbox record (OPS-01) created by a commit gets the commit's number (one `nextval` of
//! `kaigo_commits` per commit) and its position among the commit's writes; `outbox` lists them
//! in that order. Commits that depend on each other (one wrote what the other read, e.g. two
//! steps of one flow) are numbered in the order they committed; commits racing on unrelated
//! records are ordered by when they drew their number, which is all "commit order" can mean
//! for them.
//!
//! # Tests
//!
//! The tests of this crate (and [`ScratchSchema`]) read `DATABASE_URL`; `.ci/with-postgres`
//! starts a throwaway server and sets it:
//!
//! ```sh
//! .ci/with-postgres cargo test -p kaigo-seikyu-postgres
//! ```
//!
//! Without `DATABASE_URL` a test prints a notice and passes, except under `CI=true`, where it
//! fails ([`database_url`]). Each test works in a fresh schema of its own, so they run in
//! parallel on one database.
//!
//! # Example
//! ```no_run
//! use std::sync::Arc;
//! use kaigo_seikyu::{policy::Policy, portal::Portal, ports::SystemClock, secret::CodeKey};
//! use kaigo_seikyu_postgres::{PgPorts, PgStore};
//!
//! let url = std::env::var("DATABASE_URL")?;
//! let host = PgPorts::new(PgStore::with_schema(&url, "kaigo")?, Arc::new(SystemClock));
//! let portal = Portal::new(host.ports(), Policy::default(), CodeKey::from_bytes([7; 32]));
//! portal.deliver()?; // at start-up: effects a crashed instance committed but did not deliver
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod asynchronous;
mod blocking;
mod config;
mod db;
mod error;
mod migrate;
mod ops;
pub mod sql;
mod testing;

pub use asynchronous::{AsyncPgPorts, AsyncPgStore};
pub use blocking::{PgPorts, PgStore};
pub use config::{PgOptions, check_schema_name};
pub use ops::QueuedMail;
pub use testing::{ScratchSchema, database_url};

use kaigo_seikyu::store::StoreError;

/// The first schema of the connection's search path.
async fn current_schema<D: db::Db>(db: &mut D) -> Result<String, StoreError> {
    let rows = db
        .rows(sql::CURRENT_SCHEMA, &[])
        .await
        .map_err(error::store_error)?;
    rows.first()
        .and_then(|row| row.get::<_, Option<String>>(0))
        .ok_or_else(|| {
            StoreError::Unavailable(
                "no schema of the connection's search_path exists: name one (PgOptions::schema)"
                    .into(),
            )
        })
}

/// A start-up error with the server it came from.
fn at(e: StoreError, target: &str) -> StoreError {
    match e {
        StoreError::Unavailable(m) => {
            StoreError::Unavailable(format!("PostgreSQL at {target}: {m}"))
        }
        StoreError::Corrupt(m) => StoreError::Corrupt(format!("PostgreSQL at {target}: {m}")),
        other => other,
    }
}

//! For tests over a real server: the skip policy and a fresh schema per test.

use std::sync::atomic::{AtomicU64, Ordering};

use kaigo_seikyu::store::StoreError;

use crate::config::{PgOptions, check_schema_name, settings};
use crate::{AsyncPgStore, PgStore};

/// The server a test runs against: `DATABASE_URL`. When it is unset (or empty) the test should
/// be skipped: this prints a notice naming `test` and returns `None`, except under CI
/// (`CI=true`), where a PostgreSQL test must not be skipped silently.
///
/// # Panics
/// Under `CI=true` when `DATABASE_URL` is unset: run the tests through `.ci/with-postgres`.
///
/// # Example
/// ```
/// let Some(url) = kaigo_seikyu_postgres::database_url("my_test") else { return };
/// # let _ = url;
/// ```
pub fn database_url(test: &str) -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
            "{test}: DATABASE_URL is not set under CI: run the tests through .ci/with-postgres"
        ),
        _ => {
            eprintln!(
                "NOTICE: {test} skipped: DATABASE_URL is not set \
                 (run `.ci/with-postgres cargo test -p kaigo-seikyu-postgres`)"
            );
            None
        }
    }
}

/// A fresh schema name of its own for one test (`kaigo_t_<pid>_<time>_<n>`), so tests run in
/// parallel on one database without seeing each other's rows. The stores made from it create
/// the schema; dropping the `ScratchSchema` drops the schema and everything in it (best effort,
/// on a thread of its own, so it may be dropped inside an async runtime too).
///
/// # Example
/// ```no_run
/// use kaigo_seikyu_postgres::ScratchSchema;
/// let url = std::env::var("DATABASE_URL")?;
/// let scratch = ScratchSchema::new(&url)?;
/// let a = scratch.store()?;
/// let b = scratch.store()?; // a second pool on the same schema: another "process"
/// assert_eq!(a.schema(), b.schema());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ScratchSchema {
    url: String,
    name: String,
}

impl ScratchSchema {
    /// A new name on the server at `url` (nothing is created until a store connects).
    pub fn new(url: &str) -> Result<Self, StoreError> {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        settings(url, &PgOptions::default())?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!(
            "kaigo_t_{}_{:x}_{}",
            std::process::id(),
            nanos & 0xffff_ffff_ffff,
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        check_schema_name(&name)?;
        Ok(ScratchSchema {
            url: url.to_owned(),
            name,
        })
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The database URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The default options in this schema, with pools of 8 connections (tests run in parallel
    /// on one server, and a default server allows 100 connections).
    pub fn options(&self) -> PgOptions {
        PgOptions {
            schema: Some(self.name.clone()),
            pool_size: 8,
            ..PgOptions::default()
        }
    }

    /// A blocking store (its own pool) in this schema.
    pub fn store(&self) -> Result<PgStore, StoreError> {
        PgStore::connect_with(&self.url, &self.options())
    }

    /// An async store (its own pool) in this schema.
    pub async fn async_store(&self) -> Result<AsyncPgStore, StoreError> {
        AsyncPgStore::connect_with(&self.url, &self.options()).await
    }
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        let Ok(settings) = settings(&self.url, &PgOptions::default()) else {
            return;
        };
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        let config = postgres::Config::from(settings.config);
        let dropping = std::thread::spawn(move || {
            if let Ok(mut client) = config.connect(tokio_postgres::NoTls) {
                let _ = client.batch_execute(&sql);
            }
        });
        let _ = dropping.join();
    }
}

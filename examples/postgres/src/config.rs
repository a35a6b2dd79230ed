//! Connection settings: the database URL, the schema, timeouts and pool size.

use std::time::Duration;

use kaigo_seikyu::store::StoreError;
use tokio_postgres::config::Host;

/// How the host connects. `Default`: a 5-second connect timeout, a 30-second statement
/// timeout, 16 connections, and the schema the URL's `search_path` gives.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use kaigo_seikyu_postgres::PgOptions;
/// let options = PgOptions { schema: Some("kaigo".into()), ..PgOptions::default() };
/// assert_eq!(options.connect_timeout, Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// The schema the tables live in: made if missing, and put first on every connection's
    /// `search_path`. Lowercase ASCII letters, digits and `_`, starting with a letter or `_`, at
    /// most 63 bytes. `None`: the first schema of the URL's (or the server's) `search_path`,
    /// which must exist.
    pub schema: Option<String>,
    /// How long connecting may take before the call fails with [`StoreError::Unavailable`]
    /// (unless the URL sets `connect_timeout`). Nothing is retried.
    pub connect_timeout: Duration,
    /// The server cancels a statement running longer than this (`statement_timeout`; lock waits
    /// included), so a stuck call fails instead of hanging. `None`: the server's setting.
    pub statement_timeout: Option<Duration>,
    /// The most connections a store opens at once. A call that finds them all busy waits up to
    /// `connect_timeout` for one, then fails with [`StoreError::Unavailable`].
    pub pool_size: usize,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            schema: None,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(30)),
            pool_size: 16,
        }
    }
}

/// Refuses a schema name that is not a plain lowercase identifier (it is spliced into
/// `CREATE SCHEMA` and the connection's options, so only a safe alphabet is accepted).
///
/// # Example
/// ```
/// use kaigo_seikyu_postgres::check_schema_name;
/// assert!(check_schema_name("kaigo_test_1").is_ok());
/// assert!(check_schema_name("Robert'); DROP TABLE x;--").is_err());
/// ```
pub fn check_schema_name(schema: &str) -> Result<(), StoreError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.as_bytes()[0].is_ascii_digit()
        && !schema.starts_with("pg_");
    if ok {
        Ok(())
    } else {
        Err(StoreError::Unavailable(format!(
            "schema name {schema:?} refused: use 1 to 63 lowercase ASCII letters, digits and '_', \
             not starting with a digit or 'pg_'"
        )))
    }
}

/// A parsed URL with the options applied, and where it points, for messages.
pub struct Settings {
    /// The client's configuration.
    pub config: tokio_postgres::Config,
    /// `host:port/dbname`: where the store is, without user or password.
    pub target: String,
}

/// Parses `url` (a `postgres://` URL or a `key=value` string) and applies `options`. The URL is
/// never echoed: it may hold a password.
pub fn settings(url: &str, options: &PgOptions) -> Result<Settings, StoreError> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
        let cause = std::error::Error::source(&e)
            .map(|c| format!(": {c}"))
            .unwrap_or_default();
        StoreError::Unavailable(format!(
            "the database URL is not a valid PostgreSQL connection string{cause}"
        ))
    })?;
    if options.pool_size == 0 {
        return Err(StoreError::Unavailable(
            "a pool of 0 connections can run nothing".into(),
        ));
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(options.connect_timeout);
    }
    if config.get_application_name().is_none() {
        config.application_name("kaigo-seikyu-postgres");
    }
    let mut extra = Vec::new();
    if let Some(schema) = &options.schema {
        check_schema_name(schema)?;
        extra.push(format!("-c search_path={schema}"));
    }
    if let Some(timeout) = options.statement_timeout {
        extra.push(format!(
            "-c statement_timeout={}",
            timeout.as_millis().max(1)
        ));
    }
    if !extra.is_empty() {
        let joined = config
            .get_options()
            .into_iter()
            .map(str::to_owned)
            .chain(extra)
            .collect::<Vec<_>>()
            .join(" ");
        config.options(joined);
    }
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = config
                .get_ports()
                .get(i)
                .or(config.get_ports().first())
                .copied()
                .unwrap_or(5432);
            match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                Host::Unix(dir) => format!("{}:{port}", dir.display()),
            }
        })
        .collect();
    let target = format!(
        "{}/{}",
        if hosts.is_empty() {
            "localhost:5432".to_owned()
        } else {
            hosts.join(",")
        },
        config.get_dbname().or(config.get_user()).unwrap_or("")
    );
    Ok(Settings { config, target })
}

/// A failure to reach the server, with where it was trying, never the password.
pub fn unreachable(target: &str, e: &tokio_postgres::Error) -> StoreError {
    StoreError::Unavailable(format!(
        "cannot connect to PostgreSQL at {target}: {}",
        crate::error::describe(e)
    ))
}

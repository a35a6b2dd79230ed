//! The portal on the PostgreSQL host (`--database URL`): the blocking ports of
//! `kaigo-seikyu-postgres` ([`PgPorts`] on a [`PgStore`]), plus the development mailbox's read of
//! its mail table.
//!
//! Every port is in one schema of the database: accounts, flows, applications and the review
//! queue, the transactional outbox, mails, notices, audit events, the office ledger and session
//! revocations. Several portals may run on the same database and schema (the store's commits
//! are serializable among themselves); each keeps its own browser sessions, so a load balancer
//! in front of them must keep a browser on one portal.
//!
//! The portal drives the blocking [`Portal`](kaigo_seikyu::portal::Portal) on tokio's blocking
//! pool, as it does for every host: argon2 must run off the async executor anyway, and the
//! blocking `postgres` client is made to be called from such threads.
//!
//! As with SQLite, the portal has no mail transport: a mail stays in `kaigo_mails`, undelivered,
//! where the development mailbox reads it. A service would run [`PgPorts::deliver_mails`] and
//! turn the mailbox off.

use std::sync::Arc;
use std::time::Duration;

use kaigo_seikyu::mail::{Mail, Notice};
use kaigo_seikyu::portal::Ports;
use kaigo_seikyu::ports::{Clock, OfficeRecord, PortError};
use kaigo_seikyu::values::OfficeNumber;
use kaigo_seikyu_postgres::{PgOptions, PgPorts, PgStore, check_schema_name};

use crate::host::{Host, OpenError};

/// The PostgreSQL host, and what the mailbox's reads connect with.
pub(crate) struct PgBackend {
    ports: PgPorts,
    url: String,
}

impl PgBackend {
    /// Connects (within the store's connect timeout) and migrates the schema: `schema`, made if
    /// missing, or the first schema of the URL's `search_path`. A server that cannot be reached,
    /// a bad URL or schema name, or a schema newer than the host is an error naming the server
    /// (`host:port/dbname`), never the password.
    pub(crate) fn open(
        url: &str,
        schema: Option<&str>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, OpenError> {
        if let Some(schema) = schema {
            check_schema_name(schema)
                .map_err(|e| OpenError(format!("--schema {schema:?}: {e}")))?;
        }
        let options = PgOptions {
            schema: schema.map(str::to_owned),
            ..PgOptions::default()
        };
        let store = PgStore::connect_with(url, &options).map_err(|e| OpenError(e.to_string()))?;
        Ok(PgBackend {
            ports: PgPorts::new(store, clock),
            url: url.to_owned(),
        })
    }
}

impl Host for PgBackend {
    fn ports(&self) -> Ports {
        self.ports.ports()
    }

    /// `PostgreSQL at host:port/dbname, schema NAME`: no user, no password.
    fn describe(&self) -> String {
        let store = self.ports.store();
        format!(
            "PostgreSQL at {}, schema {}",
            store.target(),
            store.schema()
        )
    }

    fn add_office(&self, record: &OfficeRecord) -> Result<(), PortError> {
        self.ports.insert_office(record)
    }

    fn notices(&self, office: &OfficeNumber) -> Result<Vec<Notice>, PortError> {
        self.ports.notices_for(office)
    }

    /// The mail table, oldest first, on a connection of its own (the host lists no mails but
    /// through its delivery loop, which would mark them delivered). The schema's name is one the
    /// host accepted ([`check_schema_name`]: lowercase letters, digits, `_`), so it is spliced
    /// into the statement as a quoted identifier.
    fn mails(&self) -> Result<Vec<Mail>, PortError> {
        let store = self.ports.store();
        let failed = |e: postgres::Error| {
            // The server's words, never the URL (which may hold a password).
            PortError(format!(
                "PostgreSQL at {}: the mail table: {e}",
                store.target()
            ))
        };
        let mut config: postgres::Config = self.url.parse().map_err(failed)?;
        config.connect_timeout(Duration::from_secs(5));
        let mut client = config.connect(postgres::NoTls).map_err(failed)?;
        let sql = format!(
            "SELECT recipient, subject, body FROM \"{}\".kaigo_mails ORDER BY id",
            store.schema()
        );
        let rows = client.query(&sql, &[]).map_err(failed)?;
        rows.iter()
            .map(|row| {
                let to: String = row.try_get(0).map_err(failed)?;
                let to = to.parse().map_err(|e| {
                    PortError(format!(
                        "PostgreSQL at {}: a mail's recipient does not read back: {e}",
                        store.target()
                    ))
                })?;
                Ok(Mail {
                    to,
                    subject: row.try_get(1).map_err(failed)?,
                    body: row.try_get(2).map_err(failed)?,
                })
            })
            .collect()
    }
}

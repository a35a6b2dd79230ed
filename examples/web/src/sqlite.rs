//! The portal on the reference SQLite host (`--store sqlite:PATH`): the host of
//! `examples/sqlite_host`, included as the walkthrough includes it, plus the development
//! mailbox's read of its mail table.
//!
//! Every port is on the file: accounts, flows, applications and the review queue (store records),
//! the transactional outbox, the mail table, notices, audit events, the office ledger and session
//! revocations. Nothing is kept in the host's memory, so a restart, or a second portal on the
//! same file, sees all of it.
//!
//! The portal has no mail transport: a mail stays in the file's mail table, undelivered, where
//! the development mailbox reads it. A service would run `SqliteHost::deliver` (which sends,
//! then scrubs each delivered body) and turn the mailbox off.

#[allow(dead_code)] // the portal uses part of the reference host's API
#[path = "../../sqlite_host/mod.rs"]
mod sqlite_host;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kaigo_seikyu::mail::{Mail, Notice};
use kaigo_seikyu::portal::Ports;
use kaigo_seikyu::ports::{Clock, OfficeRecord, PortError};
use kaigo_seikyu::values::OfficeNumber;
use rusqlite::{Connection, OpenFlags};

use crate::host::{Host, OpenError};
use sqlite_host::SqliteHost;

/// The SQLite host, and its file for the mailbox's reads.
pub(crate) struct SqliteBackend {
    host: SqliteHost,
    path: PathBuf,
}

impl SqliteBackend {
    /// Opens (or creates) the file: the host refuses a file that is not its own, is corrupt, has
    /// a newer schema or cannot be written, before writing anything, and migrates an older one.
    pub(crate) fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, OpenError> {
        if path.as_os_str().is_empty() {
            return Err(OpenError(
                "--store sqlite:PATH needs a file path after `sqlite:`".into(),
            ));
        }
        if path.is_dir() {
            return Err(OpenError::at(path, "a directory, not a database file"));
        }
        let host = SqliteHost::open(path, clock).map_err(|e| OpenError(e.to_string()))?;
        Ok(SqliteBackend {
            host,
            path: path.to_path_buf(),
        })
    }
}

impl Host for SqliteBackend {
    fn ports(&self) -> Ports {
        self.host.ports()
    }

    fn describe(&self) -> String {
        format!("SQLite file {}", self.path.display())
    }

    fn add_office(&self, record: &OfficeRecord) -> Result<(), PortError> {
        Ok(self.host.insert_office(record)?)
    }

    fn notices(&self, office: &OfficeNumber) -> Result<Vec<Notice>, PortError> {
        Ok(self.host.notices_for(office)?)
    }

    /// The mail table, oldest first, read on a read-only connection of its own (the host has
    /// no listing of every mail: its transport reads the table through `deliver`).
    fn mails(&self) -> Result<Vec<Mail>, PortError> {
        let failed = |e: rusqlite::Error| PortError(format!("{}: {e}", self.path.display()));
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(failed)?;
        let mut stmt = conn
            .prepare("SELECT recipient, subject, body FROM outbox ORDER BY id")
            .map_err(failed)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(failed)?;
        rows.map(|row| {
            let (to, subject, body) = row.map_err(failed)?;
            let to = to.parse().map_err(|e| {
                PortError(format!(
                    "{}: a mail's recipient does not read back: {e}",
                    self.path.display()
                ))
            })?;
            Ok(Mail { to, subject, body })
        })
        .collect()
    }
}

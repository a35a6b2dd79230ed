//! The hosts the portal runs on: the driver's ports, and the few things a page reads besides the
//! driver (an office's お知らせ, the development mailbox) or an operator writes (the office
//! ledger, when seeding).
//!
//! Three hosts ship with the portal, chosen by [`Storage`]:
//! - **memory** ([`Embedded`], the library's in-memory ports): everything is lost at exit;
//! - **SQLite** (`--store sqlite:PATH`, the reference host of `examples/sqlite_host`): every port on
//!   one file, which a restart (or a second process on the same file) reads back;
//! - **PostgreSQL** (`--database postgres://…`, the host crate `kaigo-seikyu-postgres`): every
//!   port in one schema of a database, which several portals may share.
//!
//! What stays in the portal's memory whatever the host: the browser sessions (and so the flow
//! each browser is in), the federations' reviewers, and the code key of the code digests. A
//! restart signs everyone out; a flow left half-way expires and is purged like any abandoned one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kaigo_seikyu::effect::{EffectId, Event};
use kaigo_seikyu::mail::{Mail, Notice};
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::portal::Ports;
use kaigo_seikyu::ports::{AuditLog, Clock, OfficeRecord, PortError};
use kaigo_seikyu::values::OfficeNumber;

use crate::postgres::PgBackend;
use crate::sqlite::SqliteBackend;

/// A host of the portal: the driver's ports, plus what the pages read besides the driver.
///
/// The portal replaces the ports' clock with its own, their sessions with its browser sessions
/// (which RS-08 and RI-09 revoke), and, with [`Config::log_events`](crate::Config::log_events),
/// wraps their audit log to print each event.
pub trait Host: Send + Sync {
    /// The ports for the driver.
    fn ports(&self) -> Ports;

    /// Where the data is, for the operator: never a password.
    fn describe(&self) -> String;

    /// Adds or replaces an office in the office ledger (事業所台帳), for seeding.
    fn add_office(&self, record: &OfficeRecord) -> Result<(), PortError>;

    /// The notices posted to `office`, oldest first (the お知らせ page).
    fn notices(&self, office: &OfficeNumber) -> Result<Vec<Notice>, PortError>;

    /// Every mail handed to the mailer, oldest first (the development mailbox).
    fn mails(&self) -> Result<Vec<Mail>, PortError>;
}

/// The in-memory host: nothing outlives the process.
impl Host for Embedded {
    fn ports(&self) -> Ports {
        Embedded::ports(self)
    }

    fn describe(&self) -> String {
        "memory (lost at exit)".into()
    }

    fn add_office(&self, record: &OfficeRecord) -> Result<(), PortError> {
        self.ledger.insert(record.clone());
        Ok(())
    }

    fn notices(&self, office: &OfficeNumber) -> Result<Vec<Notice>, PortError> {
        Ok(self.notices.for_office(office))
    }

    fn mails(&self) -> Result<Vec<Mail>, PortError> {
        Ok(self.outbox.all())
    }
}

/// Where the portal keeps its data (`--store`, `--database`). Its `Debug` never shows a
/// database URL (which may hold a password).
#[derive(Clone, PartialEq, Eq)]
pub enum Storage {
    /// In memory: lost at exit (`--store memory`, the default).
    Memory,
    /// The SQLite host on this file, created if missing (`--store sqlite:PATH`).
    Sqlite(PathBuf),
    /// The PostgreSQL host (`--database URL`, `--schema NAME`).
    Postgres {
        /// The database: a `postgres://` URL or a `key=value` connection string.
        url: String,
        /// The schema the tables live in, made if missing (`None`: the first schema of the
        /// URL's `search_path`).
        schema: Option<String>,
    },
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Storage::Memory => f.write_str("Memory"),
            Storage::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Storage::Postgres { schema, .. } => f
                .debug_struct("Postgres")
                .field("url", &"<hidden>")
                .field("schema", schema)
                .finish(),
        }
    }
}

impl Storage {
    /// Opens the host, time-stamping what it writes with `clock` (for [`Web::with_host`]).
    /// Every failure names the place and the problem (a file that is not this host's, a newer
    /// schema, a read-only directory …).
    ///
    /// [`Web::with_host`]: crate::Web::with_host
    pub fn open(&self, clock: Arc<dyn Clock>) -> Result<Arc<dyn Host>, OpenError> {
        match self {
            Storage::Memory => Ok(Arc::new(Embedded::new(clock.now()))),
            Storage::Sqlite(path) => Ok(Arc::new(SqliteBackend::open(path, clock)?)),
            Storage::Postgres { url, schema } => {
                Ok(Arc::new(PgBackend::open(url, schema.as_deref(), clock)?))
            }
        }
    }
}

/// Why the portal's host could not be opened: the place and the problem, in words, with no
/// secret in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenError(pub String);

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OpenError {}

impl OpenError {
    pub(crate) fn at(path: &Path, problem: impl std::fmt::Display) -> Self {
        OpenError(format!("{}: {problem}", path.display()))
    }
}

/// The audit log port with one line per event on standard error for the operator
/// (`--log-events`). Events carry no secrets (SEC-05).
pub(crate) struct PrintingAudit {
    pub(crate) inner: Arc<dyn AuditLog>,
}

impl AuditLog for PrintingAudit {
    fn record(&self, event: &Event) -> Result<(), PortError> {
        eprintln!("audit: {:?}", event.kind);
        self.inner.record(event)
    }

    /// Passes the effect id on: a host that keeps it (SQLite: `events.effect_id`) still does.
    fn deliver(&self, id: &EffectId, event: &Event) -> Result<(), PortError> {
        eprintln!("audit: {:?}", event.kind);
        self.inner.deliver(id, event)
    }
}

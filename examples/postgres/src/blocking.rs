//! The blocking host: [`PgStore`] (the `Store` port) and [`PgPorts`] (every port), on the
//! `postgres` crate with a small pool of connections.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant as Deadline};

use kaigo_seikyu::calendar::Instant;
use kaigo_seikyu::effect::{EffectId, Event, Outgoing};
use kaigo_seikyu::mail::{Mail, Notice};
use kaigo_seikyu::portal::Ports;
use kaigo_seikyu::ports::{
    AuditLog, Clock, Mailer, NoticeBoard, OfficeLedger, OfficeRecord, PortError, Sessions,
};
use kaigo_seikyu::store::{Key, KeyRange, Store, StoreError, Versioned, Write};
use kaigo_seikyu::values::{EmailAddress, OfficeNumber, UserId};
use tokio_postgres::{NoTls, Statement};

use crate::config::{PgOptions, settings, unreachable};
use crate::db::{Blocking, now};
use crate::error::{store_error, to_port};
use crate::ops::QueuedMail;
use crate::{migrate, ops, sql};

/// One pooled connection and the statements prepared on it.
struct Conn {
    client: postgres::Client,
    cache: HashMap<&'static str, Statement>,
}

/// The connections not in use, and how many are open.
struct Slots {
    idle: Vec<Conn>,
    open: usize,
}

struct Inner {
    config: postgres::Config,
    target: String,
    schema: String,
    size: usize,
    wait: Duration,
    slots: Mutex<Slots>,
    freed: Condvar,
}

/// The `Store` port on PostgreSQL, blocking (SEC-02, OPS-01..04). Cheap to clone; share it
/// across threads: each call takes a connection from the store's pool (at most
/// [`PgOptions::pool_size`]), and a connection that broke is dropped, not reused. Nothing is
/// retried: a server that is down gives [`StoreError::Unavailable`], and the next call connects
/// again.
///
/// Do not call it from an async task (the `postgres` crate blocks): use
/// [`AsyncPgStore`](crate::AsyncPgStore) there.
///
/// # Example
/// ```no_run
/// use kaigo_seikyu::store::{Key, Store, Write};
/// use kaigo_seikyu_postgres::PgStore;
/// let store = PgStore::with_schema("postgres://kaigo@127.0.0.1/kaigo", "kaigo")?;
/// let key = Key::Account("KJ131311111111".parse()?);
/// store.commit(&[Write::Put { key: key.clone(), expected: None, value: b"{}".to_vec(), expires: None }])?;
/// assert_eq!(store.load(&key)?.map(|v| v.version), Some(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PgStore(Arc<Inner>);

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgStore({}, schema {})", self.0.target, self.0.schema)
    }
}

fn lock(m: &Mutex<Slots>) -> MutexGuard<'_, Slots> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A connection out of the pool: given back when dropped (unless it broke).
struct Lease<'a> {
    store: &'a Inner,
    conn: Option<Conn>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut slots = lock(&self.store.slots);
        match self.conn.take() {
            Some(conn) if !conn.client.is_closed() => slots.idle.push(conn),
            _ => slots.open -= 1,
        }
        self.store.freed.notify_one();
    }
}

impl PgStore {
    /// Connects to the database at `url` (a `postgres://` URL or a `key=value` string) with the
    /// default [`PgOptions`], in the first schema of the URL's `search_path`, and brings the
    /// schema to the latest version (see [`PgStore::connect_with`]).
    ///
    /// # Example
    /// ```no_run
    /// let store = kaigo_seikyu_postgres::PgStore::connect("postgres://kaigo@127.0.0.1/kaigo")?;
    /// # Ok::<(), kaigo_seikyu::store::StoreError>(())
    /// ```
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, &PgOptions::default())
    }

    /// [`PgStore::connect`] in `schema` (made if missing): e.g. one schema per tenant, or per
    /// test (see [`ScratchSchema`](crate::ScratchSchema)).
    ///
    /// # Example
    /// ```no_run
    /// let store = kaigo_seikyu_postgres::PgStore::with_schema("postgres://kaigo@127.0.0.1/kaigo", "tenant_a")?;
    /// assert_eq!(store.schema(), "tenant_a");
    /// # Ok::<(), kaigo_seikyu::store::StoreError>(())
    /// ```
    pub fn with_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        Self::connect_with(
            url,
            &PgOptions {
                schema: Some(schema.to_owned()),
                ..PgOptions::default()
            },
        )
    }

    /// Connects with `options`, then migrates the schema to the latest version in one
    /// transaction under an advisory lock (safe to run again, and from several processes at
    /// once). Fails with [`StoreError::Unavailable`] when the server cannot be reached within
    /// the connect timeout, the URL or schema name is bad, or the schema is newer than this
    /// crate (nothing is written then). Error messages name the server (`host:port/dbname`),
    /// never the password.
    ///
    /// # Example
    /// ```no_run
    /// use std::time::Duration;
    /// use kaigo_seikyu_postgres::{PgOptions, PgStore};
    /// let options = PgOptions { pool_size: 4, connect_timeout: Duration::from_secs(2), ..PgOptions::default() };
    /// let store = PgStore::connect_with("postgres://kaigo@127.0.0.1/kaigo", &options)?;
    /// # Ok::<(), kaigo_seikyu::store::StoreError>(())
    /// ```
    pub fn connect_with(url: &str, options: &PgOptions) -> Result<Self, StoreError> {
        let settings = settings(url, options)?;
        let config = postgres::Config::from(settings.config);
        let mut first = connect(&config, &settings.target)?;
        let schema = match &options.schema {
            Some(schema) => schema.clone(),
            None => now(crate::current_schema(&mut Blocking {
                client: &mut first.client,
                cache: &mut first.cache,
            }))?,
        };
        let mut tx = first.client.transaction().map_err(store_error)?;
        now(migrate::migrate(
            &mut Blocking {
                client: &mut tx,
                cache: &mut first.cache,
            },
            &schema,
            options.schema.is_some(),
        ))
        .map_err(|e| crate::at(e, &settings.target))?;
        tx.commit().map_err(store_error)?;
        Ok(PgStore(Arc::new(Inner {
            config,
            target: settings.target,
            schema,
            size: options.pool_size,
            wait: options.connect_timeout,
            slots: Mutex::new(Slots {
                idle: vec![first],
                open: 1,
            }),
            freed: Condvar::new(),
        })))
    }

    /// The schema the tables are in.
    pub fn schema(&self) -> &str {
        &self.0.schema
    }

    /// Where the store is: `host:port/dbname` (no user, no password).
    pub fn target(&self) -> &str {
        &self.0.target
    }

    /// Takes a connection: an idle one, a new one while fewer than the pool's size are open,
    /// else the first freed within the wait.
    fn lease(&self) -> Result<Lease<'_>, StoreError> {
        let inner = &*self.0;
        let deadline = Deadline::now() + inner.wait;
        let mut slots = lock(&inner.slots);
        loop {
            if let Some(conn) = slots.idle.pop() {
                return Ok(Lease {
                    store: inner,
                    conn: Some(conn),
                });
            }
            if slots.open < inner.size {
                slots.open += 1;
                drop(slots);
                // Counted as open: a failure gives the slot back when the lease drops.
                let mut lease = Lease {
                    store: inner,
                    conn: None,
                };
                lease.conn = Some(connect(&inner.config, &inner.target)?);
                return Ok(lease);
            }
            let left = deadline.saturating_duration_since(Deadline::now());
            if left.is_zero() {
                return Err(StoreError::Unavailable(format!(
                    "all {} connections to PostgreSQL at {} stayed busy for {:?}",
                    inner.size, inner.target, inner.wait
                )));
            }
            slots = inner
                .freed
                .wait_timeout(slots, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// Runs `f` on a pooled connection.
    fn with_conn<T, E>(
        &self,
        lift: impl Fn(StoreError) -> E,
        f: impl FnOnce(&mut Blocking<'_, postgres::Client>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut lease = self.lease().map_err(&lift)?;
        let Some(conn) = lease.conn.as_mut() else {
            return Err(lift(StoreError::Unavailable(
                "internal: a pooled connection went missing".into(),
            )));
        };
        f(&mut Blocking {
            client: &mut conn.client,
            cache: &mut conn.cache,
        })
    }

    /// How many records the store holds (outbox records included).
    ///
    /// # Example
    /// ```no_run
    /// # let store = kaigo_seikyu_postgres::PgStore::connect("postgres://kaigo@127.0.0.1/kaigo")?;
    /// println!("{} records", store.record_count()?);
    /// # Ok::<(), kaigo_seikyu::store::StoreError>(())
    /// ```
    pub fn record_count(&self) -> Result<usize, StoreError> {
        self.with_conn(|e| e, |db| now(ops::record_count(db)))
    }
}

/// Opens one connection (within the configured connect timeout; no retry).
fn connect(config: &postgres::Config, target: &str) -> Result<Conn, StoreError> {
    let client = config.connect(NoTls).map_err(|e| unreachable(target, &e))?;
    Ok(Conn {
        client,
        cache: HashMap::new(),
    })
}

impl Store for PgStore {
    fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        let mut found = self.load_many(std::slice::from_ref(key))?;
        Ok(found.pop().flatten())
    }

    /// OPS-04: one statement, `WHERE key = ANY($1)`: one round trip, one snapshot.
    fn load_many(&self, keys: &[Key]) -> Result<Vec<Option<Versioned>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.with_conn(|e| e, |db| now(ops::load_many(db, keys)))
    }

    /// SEC-02: one statement, its own transaction (see the [crate docs](crate#why-read-committed-is-enough)).
    fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let Some(writes) = sql::Writes::of(writes)? else {
            return Err(StoreError::Conflict);
        };
        let schema = self.schema();
        self.with_conn(|e| e, |db| now(ops::commit(db, schema, &writes)))
    }

    fn outbox(&self, limit: usize) -> Result<Vec<(EffectId, Versioned)>, StoreError> {
        self.with_conn(|e| e, |db| now(ops::outbox(db, limit)))
    }

    fn scan(
        &self,
        range: &KeyRange,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<Vec<Versioned>, StoreError> {
        self.with_conn(|e| e, |db| now(ops::scan(db, range, after, limit)))
    }

    fn purge(&self, at: Instant, limit: usize) -> Result<usize, StoreError> {
        self.with_conn(|e| e, |db| now(ops::purge(db, at, limit)))
    }
}

/// Every port of the library on one PostgreSQL schema, blocking: the [`PgStore`] and the mail,
/// notice, audit, ledger and session tables, stamping what it writes with `clock`. Cheap to
/// clone. [`PgPorts::ports`] gives the [`Ports`] of a
/// [`Portal`](kaigo_seikyu::portal::Portal).
///
/// Effects reach these tables from the outbox (OPS-01): the driver commits them with the
/// step, then delivers each with its [`EffectId`], which the tables keep in a unique column, so
/// an effect delivered twice (after a crash) is written once.
///
/// # Example
/// ```no_run
/// use std::sync::Arc;
/// use kaigo_seikyu::{policy::Policy, portal::Portal, ports::SystemClock, secret::CodeKey};
/// use kaigo_seikyu_postgres::{PgPorts, PgStore};
/// let store = PgStore::connect("postgres://kaigo@127.0.0.1/kaigo")?;
/// let host = PgPorts::new(store, Arc::new(SystemClock));
/// let portal = Portal::new(host.ports(), Policy::default(), CodeKey::from_bytes([7; 32]));
/// portal.deliver()?; // at start-up: what a crashed process committed and did not deliver
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PgPorts {
    store: PgStore,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for PgPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PgPorts").field(&self.store).finish()
    }
}

impl PgPorts {
    /// The ports on `store`, with `clock` for the time stamps of delivered rows.
    pub fn new(store: PgStore, clock: Arc<dyn Clock>) -> Self {
        PgPorts { store, clock }
    }

    /// The store.
    pub fn store(&self) -> &PgStore {
        &self.store
    }

    /// The ports for [`Portal::new`](kaigo_seikyu::portal::Portal::new): all on this schema.
    pub fn ports(&self) -> Ports {
        let host = Arc::new(self.clone());
        Ports {
            store: Arc::new(self.store.clone()),
            clock: self.clock.clone(),
            mailer: host.clone(),
            notices: host.clone(),
            audit: host.clone(),
            ledger: host.clone(),
            sessions: host,
        }
    }

    fn port<T>(
        &self,
        f: impl FnOnce(&mut Blocking<'_, postgres::Client>) -> Result<T, PortError>,
    ) -> Result<T, PortError> {
        self.store.with_conn(to_port, f)
    }

    /// Writes one effect (OPS-01), once per id.
    fn put(&self, id: Option<&EffectId>, effect: Outgoing) -> Result<(), PortError> {
        let at = self.clock.now();
        self.port(|db| now(ops::deliver(db, id, effect, at)))
    }

    /// Adds or replaces an office in the ledger (事業所台帳).
    ///
    /// # Example
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use kaigo_seikyu::{ports::{OfficeRecord, SystemClock}, values::Prefecture};
    /// # let host = kaigo_seikyu_postgres::PgPorts::new(kaigo_seikyu_postgres::PgStore::connect("postgres:///kaigo")?, Arc::new(SystemClock));
    /// host.insert_office(&OfficeRecord {
    ///     number: "1311111111".parse()?,
    ///     name: "請求事業所A".into(),
    ///     postal_address: "東京都千代田区".into(),
    ///     phone: "03-0000-0000".into(),
    ///     billing: vec![Prefecture::TOKYO],
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn insert_office(&self, record: &OfficeRecord) -> Result<(), PortError> {
        self.port(|db| now(ops::insert_office(db, record)))
    }

    /// Every notice posted to `office`, oldest first.
    pub fn notices_for(&self, office: &OfficeNumber) -> Result<Vec<Notice>, PortError> {
        self.port(|db| now(ops::notices_for(db, office)))
    }

    /// Every audit event, oldest first.
    pub fn events(&self) -> Result<Vec<Event>, PortError> {
        self.port(|db| now(ops::events(db)))
    }

    /// When the sessions of `user` were last revoked (RS-08), if ever.
    pub fn sessions_revoked_at(&self, user: &UserId) -> Result<Option<Instant>, PortError> {
        self.port(|db| now(ops::revoked_at(db, user)))
    }

    /// The newest undelivered mail to `to` (ASCII case ignored), as a user opening their inbox
    /// sees it.
    pub fn last_mail_to(&self, to: &EmailAddress) -> Result<Option<Mail>, PortError> {
        self.port(|db| now(ops::last_mail_to(db, to)))
    }

    /// The mail transport's delivery loop (SEC-08): hands every mail queued when it starts to
    /// `send`, oldest first, marking each delivered (and emptying its body, which held a code)
    /// once `send` accepts it. If `send` fails, the loop stops with that error; the mail and the
    /// ones after it stay queued for the next call (at least once). Returns how many it
    /// delivered.
    ///
    /// # Example
    /// ```no_run
    /// # use std::sync::Arc;
    /// # let host = kaigo_seikyu_postgres::PgPorts::new(kaigo_seikyu_postgres::PgStore::connect("postgres:///kaigo")?, Arc::new(kaigo_seikyu::ports::SystemClock));
    /// let sent = host.deliver_mails(|queued| {
    ///     println!("to {}: {}", queued.mail.to, queued.mail.subject);
    ///     Ok(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn deliver_mails(
        &self,
        send: impl FnMut(&QueuedMail) -> Result<(), PortError>,
    ) -> Result<usize, PortError> {
        self.port(|db| now(ops::deliver_mails(db, send, &*self.clock)))
    }
}

impl Mailer for PgPorts {
    /// Writes the mail to the mail table at once, with no effect id (the driver's mails come
    /// through [`Mailer::deliver`] from the outbox). Sending is [`PgPorts::deliver_mails`].
    fn enqueue(&self, mail: Mail) -> Result<(), PortError> {
        self.put(None, Outgoing::Mail(mail))
    }

    fn deliver(&self, id: &EffectId, mail: Mail) -> Result<(), PortError> {
        self.put(Some(id), Outgoing::Mail(mail))
    }
}

impl NoticeBoard for PgPorts {
    fn post(&self, office: OfficeNumber, notice: Notice) -> Result<(), PortError> {
        self.put(None, Outgoing::Notice { office, notice })
    }

    fn deliver(
        &self,
        id: &EffectId,
        office: OfficeNumber,
        notice: Notice,
    ) -> Result<(), PortError> {
        self.put(Some(id), Outgoing::Notice { office, notice })
    }
}

impl AuditLog for PgPorts {
    fn record(&self, event: &Event) -> Result<(), PortError> {
        self.put(None, Outgoing::Event(event.clone()))
    }

    fn deliver(&self, id: &EffectId, event: &Event) -> Result<(), PortError> {
        self.put(Some(id), Outgoing::Event(event.clone()))
    }
}

impl OfficeLedger for PgPorts {
    fn find(&self, number: &OfficeNumber) -> Result<Option<OfficeRecord>, PortError> {
        self.port(|db| now(ops::find_office(db, number)))
    }
}

impl Sessions for PgPorts {
    /// Records the instant (by the clock); the host's session check refuses sessions started
    /// before it.
    fn revoke_all(&self, user: &UserId) -> Result<(), PortError> {
        self.put(None, Outgoing::RevokeSessions(*user))
    }
}

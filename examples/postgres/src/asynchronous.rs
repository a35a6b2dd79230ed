//! The async host: [`AsyncPgStore`] (the library's `AsyncStore`) and [`AsyncPgPorts`] (ledger and
//! delivery), on `tokio-postgres` with a `deadpool-postgres` pool. Same statements, same
//! operations as the blocking host ([`ops`](crate::ops) over [`Db`](crate::db::Db)).

use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use kaigo_seikyu::calendar::Instant;
use kaigo_seikyu::effect::{EffectId, Event, Outgoing};
use kaigo_seikyu::mail::{Mail, Notice};
use kaigo_seikyu::portal::AsyncPorts;
use kaigo_seikyu::portal::asynchronous::{AsyncEffects, AsyncOfficeLedger, AsyncStore};
use kaigo_seikyu::ports::{Clock, OfficeRecord, PortError};
use kaigo_seikyu::store::{Key, KeyRange, StoreError, Versioned, Write};
use kaigo_seikyu::values::{EmailAddress, OfficeNumber, UserId};
use tokio_postgres::NoTls;

use crate::config::{PgOptions, settings, unreachable};
use crate::error::{store_error, to_port};
use crate::ops::{self, QueuedMail};
use crate::{migrate, sql};

/// The `AsyncStore` port on PostgreSQL (OPS-05): the blocking [`PgStore`](crate::PgStore)'s
/// statements and operations, awaited on a `deadpool-postgres` pool of `tokio-postgres`
/// connections. Needs a tokio runtime (the pool's connections run on it). Cheap to clone.
///
/// Besides the [`AsyncStore`] calls the driver makes, it offers [`load`](Self::load),
/// [`scan`](Self::scan) and [`purge`](Self::purge) as futures.
///
/// # Example
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use kaigo_seikyu::portal::asynchronous::AsyncStore;
/// use kaigo_seikyu::store::Key;
/// use kaigo_seikyu_postgres::AsyncPgStore;
/// let store = AsyncPgStore::with_schema("postgres://kaigo@127.0.0.1/kaigo", "kaigo").await?;
/// let found = store.load_many(&[Key::Account("KJ131311111111".parse()?)]).await?;
/// assert_eq!(found.len(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AsyncPgStore {
    pool: Pool,
    schema: Arc<str>,
    target: Arc<str>,
}

impl std::fmt::Debug for AsyncPgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AsyncPgStore({}, schema {})", self.target, self.schema)
    }
}

impl AsyncPgStore {
    /// Connects to `url` with the default [`PgOptions`] and migrates (see
    /// [`PgStore::connect_with`](crate::PgStore::connect_with): same checks, same errors).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, &PgOptions::default()).await
    }

    /// [`AsyncPgStore::connect`] in `schema` (made if missing).
    pub async fn with_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        let options = PgOptions {
            schema: Some(schema.to_owned()),
            ..PgOptions::default()
        };
        Self::connect_with(url, &options).await
    }

    /// Builds a pool of [`PgOptions::pool_size`] connections to `url` (a call waits at most
    /// `connect_timeout` for one), then migrates the schema as
    /// [`PgStore::connect_with`](crate::PgStore::connect_with) does.
    ///
    /// # Example
    /// ```no_run
    /// # async fn run() -> Result<(), kaigo_seikyu::store::StoreError> {
    /// use kaigo_seikyu_postgres::{AsyncPgStore, PgOptions};
    /// let options = PgOptions { schema: Some("kaigo".into()), pool_size: 32, ..PgOptions::default() };
    /// let store = AsyncPgStore::connect_with("postgres://kaigo@127.0.0.1/kaigo", &options).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_with(url: &str, options: &PgOptions) -> Result<Self, StoreError> {
        let settings = settings(url, options)?;
        let manager = Manager::from_config(
            settings.config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("cannot build the pool: {e}")))?;
        Self::migrated(pool, options.schema.clone(), settings.target).await
    }

    /// The store on a pool the host built (its connections' `search_path` picks the schema),
    /// after migrating that schema. The pool must run on tokio (`Runtime::Tokio1`) for its
    /// timeouts.
    ///
    /// # Example
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
    /// let config: tokio_postgres::Config = "postgres://kaigo@127.0.0.1/kaigo".parse()?;
    /// let manager = Manager::from_config(config, tokio_postgres::NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    /// let pool = Pool::builder(manager).max_size(8).runtime(Runtime::Tokio1).build()?;
    /// let store = kaigo_seikyu_postgres::AsyncPgStore::new(pool).await?;
    /// # Ok(()) }
    /// ```
    pub async fn new(pool: Pool) -> Result<Self, StoreError> {
        Self::migrated(pool, None, "the pool's server".into()).await
    }

    async fn migrated(
        pool: Pool,
        schema: Option<String>,
        target: String,
    ) -> Result<Self, StoreError> {
        let mut client = pool.get().await.map_err(|e| pool_error(&target, e))?;
        let create = schema.is_some();
        let schema = match schema {
            Some(schema) => schema,
            None => crate::current_schema(&mut client).await?,
        };
        let mut tx = client.transaction().await.map_err(store_error)?;
        migrate::migrate(&mut tx, &schema, create)
            .await
            .map_err(|e| crate::at(e, &target))?;
        tx.commit().await.map_err(store_error)?;
        drop(client);
        Ok(AsyncPgStore {
            pool,
            schema: schema.into(),
            target: target.into(),
        })
    }

    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The schema the tables are in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| pool_error(&self.target, e))
    }

    /// [`Store::load`](kaigo_seikyu::store::Store::load), awaited.
    pub async fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        let mut found = AsyncStore::load_many(self, std::slice::from_ref(key)).await?;
        Ok(found.pop().flatten())
    }

    /// [`Store::scan`](kaigo_seikyu::store::Store::scan), awaited (OPS-03).
    pub async fn scan(
        &self,
        range: &KeyRange,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<Vec<Versioned>, StoreError> {
        ops::scan(&mut self.client().await?, range, after, limit).await
    }

    /// [`Store::purge`](kaigo_seikyu::store::Store::purge), awaited (OPS-02).
    pub async fn purge(&self, now: Instant, limit: usize) -> Result<usize, StoreError> {
        ops::purge(&mut self.client().await?, now, limit).await
    }

    /// How many records the store holds (outbox records included).
    pub async fn record_count(&self) -> Result<usize, StoreError> {
        ops::record_count(&mut self.client().await?).await
    }
}

/// The pool's failure in words.
fn pool_error(target: &str, e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => unreachable(target, &e),
        other => StoreError::Unavailable(format!("PostgreSQL at {target}: pool: {other}")),
    }
}

impl AsyncStore for AsyncPgStore {
    /// OPS-04: one statement, one round trip.
    async fn load_many(&self, keys: &[Key]) -> Result<Vec<Option<Versioned>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        ops::load_many(&mut self.client().await?, keys).await
    }

    /// SEC-02: one statement, its own transaction (see the [crate docs](crate#why-read-committed-is-enough)).
    async fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let Some(writes) = sql::Writes::of(writes)? else {
            return Err(StoreError::Conflict);
        };
        ops::commit(&mut self.client().await?, &self.schema, &writes).await
    }

    async fn outbox(&self, limit: usize) -> Result<Vec<(EffectId, Versioned)>, StoreError> {
        ops::outbox(&mut self.client().await?, limit).await
    }
}

/// The async host's ledger and delivery on PostgreSQL (OPS-05), over an [`AsyncPgStore`]'s pool,
/// stamping what it writes with `clock`: the async twin of [`PgPorts`](crate::PgPorts), on the
/// same tables. [`AsyncPgPorts::ports`] gives the
/// [`AsyncPorts`] of an [`AsyncPortal`](kaigo_seikyu::portal::AsyncPortal).
///
/// # Example
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use kaigo_seikyu::{policy::Policy, portal::AsyncPortal, ports::SystemClock, secret::CodeKey};
/// use kaigo_seikyu_postgres::{AsyncPgPorts, AsyncPgStore};
/// let store = AsyncPgStore::connect("postgres://kaigo@127.0.0.1/kaigo").await?;
/// let host = AsyncPgPorts::new(store, Arc::new(SystemClock));
/// let portal = AsyncPortal::new(host.ports(), Policy::default(), CodeKey::from_bytes([7; 32]));
/// portal.deliver().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AsyncPgPorts {
    store: AsyncPgStore,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AsyncPgPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AsyncPgPorts").field(&self.store).finish()
    }
}

impl AsyncPgPorts {
    /// The ports on `store`'s schema, with `clock` for time stamps.
    pub fn new(store: AsyncPgStore, clock: Arc<dyn Clock>) -> Self {
        AsyncPgPorts { store, clock }
    }

    /// The store.
    pub fn store(&self) -> &AsyncPgStore {
        &self.store
    }

    /// The ports for [`AsyncPortal::new`](kaigo_seikyu::portal::AsyncPortal::new).
    pub fn ports(&self) -> AsyncPorts<AsyncPgStore, AsyncPgPorts, AsyncPgPorts> {
        let host = Arc::new(self.clone());
        AsyncPorts {
            store: Arc::new(self.store.clone()),
            ledger: host.clone(),
            effects: host,
            clock: self.clock.clone(),
        }
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, PortError> {
        self.store.client().await.map_err(to_port)
    }

    /// Adds or replaces an office in the ledger (事業所台帳).
    pub async fn insert_office(&self, record: &OfficeRecord) -> Result<(), PortError> {
        ops::insert_office(&mut self.client().await?, record).await
    }

    /// Every notice posted to `office`, oldest first.
    pub async fn notices_for(&self, office: &OfficeNumber) -> Result<Vec<Notice>, PortError> {
        ops::notices_for(&mut self.client().await?, office).await
    }

    /// Every audit event, oldest first.
    pub async fn events(&self) -> Result<Vec<Event>, PortError> {
        ops::events(&mut self.client().await?).await
    }

    /// When the sessions of `user` were last revoked (RS-08), if ever.
    pub async fn sessions_revoked_at(&self, user: &UserId) -> Result<Option<Instant>, PortError> {
        ops::revoked_at(&mut self.client().await?, user).await
    }

    /// The newest undelivered mail to `to` (ASCII case ignored).
    pub async fn last_mail_to(&self, to: &EmailAddress) -> Result<Option<Mail>, PortError> {
        ops::last_mail_to(&mut self.client().await?, to).await
    }

    /// [`PgPorts::deliver_mails`](crate::PgPorts::deliver_mails), awaited: the mail transport's
    /// loop over the mail table, in order, at least once.
    pub async fn deliver_mails(
        &self,
        send: impl FnMut(&QueuedMail) -> Result<(), PortError>,
    ) -> Result<usize, PortError> {
        ops::deliver_mails(&mut self.client().await?, send, &*self.clock).await
    }
}

impl AsyncOfficeLedger for AsyncPgPorts {
    async fn find(&self, number: &OfficeNumber) -> Result<Option<OfficeRecord>, PortError> {
        ops::find_office(&mut self.client().await?, number).await
    }
}

impl AsyncEffects for AsyncPgPorts {
    /// Writes the effect to its table, once per id (OPS-01).
    async fn deliver(&self, id: &EffectId, effect: Outgoing) -> Result<(), PortError> {
        let at = self.clock.now();
        ops::deliver(&mut self.client().await?, Some(id), effect, at).await
    }
}

//! The async driver (OPS-05, feature `async`): the blocking [`Portal`](super::Portal)'s loop with
//! `.await`, over the same transaction core and the same requests, so no flow logic and no retry
//! loop is written twice. It depends on no runtime: its ports are traits whose methods return
//! `impl Future + Send` ([`AsyncStore`], [`AsyncOfficeLedger`], [`AsyncEffects`]), and any
//! executor drives it (tokio, async-std, smol, or `pollster::block_on` in a test).
//!
//! A type that is both a blocking [`Store`] and (through the blanket impl) an [`AsyncStore`]
//! has two `commit`s: with both traits in scope, call `AsyncStore::commit(&store, …)`.
//!
//! The in-memory ports (and any blocking [`Store`] or [`OfficeLedger`]) implement the async traits
//! as ready futures: `AsyncPorts::from(host.ports())` puts the in-memory host behind the async
//! driver.
//!
//! # Keeping argon2 off the executor
//!
//! A request runs its pure step inside the future's `poll`, and a step that checks a password,
//! a security code or a one-time password runs argon2id there: tens of milliseconds of CPU with
//! the policy's parameters, which would stall every other task on that executor thread. Keep it
//! off the executor's threads in one of these ways:
//! - run the request on the runtime's blocking pool: with tokio,
//!   `tokio::task::spawn_blocking(move || handle.block_on(portal.submit(user, &flow, &form, &mut rng)))`
//!   with `handle = tokio::runtime::Handle::current()` taken before (the async store keeps
//!   running on the runtime; only this request's thread blocks);
//! - or give the portal a hasher that tells the runtime it blocks
//!   ([`AsyncPortal::with_hasher`]): on tokio's multi-thread runtime, a [`SecretHasher`] whose
//!   methods wrap [`Argon2Hasher`]'s in `tokio::task::block_in_place`;
//! - or, on any executor, a dedicated thread (or pool) that runs the whole request, as
//!   `examples/async_driver.rs` shows.
//!
//! A request future is [`Send`] when the random source it is given is (e.g.
//! `rand::rngs::StdRng`, not the thread-local `rand::rng()`).

use std::future::Future;
use std::sync::Arc;

use rand_core::CryptoRng;

use super::transaction::{Loaded, Poll, Read, Transaction};
use super::{DELIVERY_BATCH, Delivered, Delivery, FlowRef, Ports, Route, Tx, ops, removals};
use crate::account::Account;
use crate::calendar::Instant;
use crate::effect::{EffectId, Outgoing, Queued};
use crate::error::PortalError;
use crate::flow::{Entry, Flow};
use crate::policy::Policy;
use crate::ports::{Clock, OfficeLedger, OfficeRecord, PortError};
use crate::screen::{Form, Screen, button};
use crate::secret::{Argon2Hasher, CodeKey, SecretHasher};
use crate::store::{FlowId, FlowKind, Key, Store, StoreError, Versioned, Write};
use crate::values::{OfficeNumber, UserId};

/// The async store (OPS-05): the [`Store`] calls the async driver makes, as futures. Every
/// blocking [`Store`] is one (its calls as ready futures), the in-memory store included.
///
/// # Example
/// ```
/// use kaigo_seikyu::{memory::MemoryStore, portal::asynchronous::AsyncStore, store::Key, values::UserId};
/// let store = MemoryStore::default();
/// let key = Key::Account("KJ131311111111".parse::<UserId>()?);
/// let found = pollster::block_on(AsyncStore::load_many(&store, &[key]))?;
/// assert_eq!(found, [None]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait AsyncStore: Send + Sync {
    /// [`Store::load_many`]: the records of `keys`, in order, in one round trip.
    fn load_many(
        &self,
        keys: &[Key],
    ) -> impl Future<Output = Result<Vec<Option<Versioned>>, StoreError>> + Send;
    /// [`Store::commit`]: all of `writes` atomically, or none.
    fn commit(&self, writes: &[Write]) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// [`Store::outbox`]: up to `limit` queued effects, oldest commit first.
    fn outbox(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<(EffectId, Versioned)>, StoreError>> + Send;
}

impl<S: Store + ?Sized> AsyncStore for S {
    fn load_many(
        &self,
        keys: &[Key],
    ) -> impl Future<Output = Result<Vec<Option<Versioned>>, StoreError>> + Send {
        std::future::ready(Store::load_many(self, keys))
    }
    fn commit(&self, writes: &[Write]) -> impl Future<Output = Result<(), StoreError>> + Send {
        std::future::ready(Store::commit(self, writes))
    }
    fn outbox(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<(EffectId, Versioned)>, StoreError>> + Send {
        std::future::ready(Store::outbox(self, limit))
    }
}

/// The async 事業所台帳 (OPS-05): [`OfficeLedger::find`] as a future. Every blocking
/// [`OfficeLedger`] is one.
///
/// # Example
/// ```
/// use kaigo_seikyu::{memory::Ledger, portal::asynchronous::AsyncOfficeLedger};
/// let ledger = Ledger::default();
/// let found = pollster::block_on(AsyncOfficeLedger::find(&ledger, &"1311111111".parse()?))?;
/// assert!(found.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait AsyncOfficeLedger: Send + Sync {
    /// The ledger entry of `number`, if any.
    fn find(
        &self,
        number: &OfficeNumber,
    ) -> impl Future<Output = Result<Option<OfficeRecord>, PortError>> + Send;
}

impl<L: OfficeLedger + ?Sized> AsyncOfficeLedger for L {
    fn find(
        &self,
        number: &OfficeNumber,
    ) -> impl Future<Output = Result<Option<OfficeRecord>, PortError>> + Send {
        std::future::ready(OfficeLedger::find(self, number))
    }
}

/// Where the async driver delivers the outbox (OPS-01, OPS-05): mails, notices, audit events and
/// session revocations, each with its stable id (a duplicate after a crash carries the same id).
/// The blocking [`Ports`] are one: each effect goes to its blocking port.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, memory::Embedded, portal::asynchronous::AsyncEffects};
/// use kaigo_seikyu::effect::{EffectId, Outgoing};
/// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
/// let id: EffectId = "0123456789abcdef0000000000000001".parse()?;
/// let withheld = Outgoing::Withheld("a@jp".parse()?);
/// pollster::block_on(host.ports().deliver(&id, withheld))?;
/// assert!(host.outbox.all().is_empty()); // a withheld code reaches no port
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait AsyncEffects: Send + Sync {
    /// Hands `effect` to its port.
    fn deliver(
        &self,
        id: &EffectId,
        effect: Outgoing,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

impl AsyncEffects for Ports {
    fn deliver(
        &self,
        id: &EffectId,
        effect: Outgoing,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        std::future::ready(self.dispatch(id, effect))
    }
}

/// The async host's ports: a store, a ledger, where effects go, and a clock (reading a clock is
/// no I/O, so it stays the blocking [`Clock`]).
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, memory::Embedded, portal::AsyncPorts};
/// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
/// let ports = AsyncPorts::from(host.ports()); // the in-memory ports, as async ones
/// assert_eq!(ports.clock.now(), utc("2026-01-10T10:00:00+09:00"));
/// ```
pub struct AsyncPorts<S: ?Sized = dyn Store, L: ?Sized = dyn OfficeLedger, E: ?Sized = Ports> {
    /// Records.
    pub store: Arc<S>,
    /// 事業所台帳.
    pub ledger: Arc<L>,
    /// Where the outbox is delivered.
    pub effects: Arc<E>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

impl<S: ?Sized, L: ?Sized, E: ?Sized> Clone for AsyncPorts<S, L, E> {
    fn clone(&self) -> Self {
        AsyncPorts {
            store: self.store.clone(),
            ledger: self.ledger.clone(),
            effects: self.effects.clone(),
            clock: self.clock.clone(),
        }
    }
}

impl From<Ports> for AsyncPorts {
    /// The blocking ports as async ones (their calls as ready futures).
    fn from(ports: Ports) -> Self {
        AsyncPorts {
            store: ports.store.clone(),
            ledger: ports.ledger.clone(),
            clock: ports.clock.clone(),
            effects: Arc::new(ports),
        }
    }
}

/// The async driver (OPS-05): the generic entry points of [`Portal`](super::Portal) as futures,
/// over the same transaction core and the same requests. Cheap to share: put it in an `Arc`.
/// The per-flow conveniences (`reset_start`, `login`, …) and the operator actions are the
/// blocking driver's; an async host posts forms through [`AsyncPortal::start`] and
/// [`AsyncPortal::submit`] as a web portal does. See the [module docs](self) for argon2.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
/// use kaigo_seikyu::portal::{AsyncPortal, AsyncPorts};
/// use kaigo_seikyu::{screen::{Form, button}, store::FlowKind};
/// use rand::SeedableRng;
/// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
/// let portal = AsyncPortal::new(
///     AsyncPorts::from(host.ports()),
///     Policy::insecure_fast_hashing(),
///     CodeKey::from_bytes([1; 32]),
/// );
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let form = Form::new(button::NEXT).with("office", "1311111111").with("address", "a@jp");
/// let request = portal.start(FlowKind::Reset, None, &form, &mut rng);
/// fn send<T: Send>(t: T) -> T { t }
/// let route = pollster::block_on(send(request))?; // a request future is Send
/// assert_eq!(route.screen().unwrap().title, "ワンタイムパスワード入力");
/// # Ok::<(), kaigo_seikyu::error::PortalError>(())
/// ```
pub struct AsyncPortal<S: ?Sized = dyn Store, L: ?Sized = dyn OfficeLedger, E: ?Sized = Ports> {
    ports: AsyncPorts<S, L, E>,
    policy: Policy,
    hasher: Arc<dyn SecretHasher>,
    delivery: Delivery,
}

impl<S: ?Sized, L: ?Sized, E: ?Sized> std::fmt::Debug for AsyncPortal<S, L, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncPortal")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<S, L, E> AsyncPortal<S, L, E>
where
    S: AsyncStore + ?Sized,
    L: AsyncOfficeLedger + ?Sized,
    E: AsyncEffects + ?Sized,
{
    /// An async portal with argon2id hashing per the policy and code digests keyed with `key`.
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # use kaigo_seikyu::portal::{AsyncPortal, AsyncPorts};
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = AsyncPortal::new(AsyncPorts::from(host.ports()), Policy::default(), CodeKey::from_bytes([1; 32]));
    /// assert_eq!(portal.now(), utc("2026-01-10T10:00:00+09:00"));
    /// ```
    pub fn new(ports: AsyncPorts<S, L, E>, policy: Policy, key: CodeKey) -> Self {
        let hasher = Arc::new(Argon2Hasher::new(policy.hashing, key));
        Self::with_hasher(ports, policy, hasher)
    }

    /// An async portal with a hasher of the host's choosing: e.g. one that tells the runtime it
    /// blocks (see the [module docs](self)), or a counting one in tests.
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::{Argon2Hasher, CodeKey}};
    /// # use kaigo_seikyu::portal::{AsyncPortal, AsyncPorts};
    /// # use std::sync::Arc;
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let policy = Policy::insecure_fast_hashing();
    /// let hasher = Arc::new(Argon2Hasher::new(policy.hashing, CodeKey::from_bytes([1; 32])));
    /// let portal = AsyncPortal::with_hasher(AsyncPorts::from(host.ports()), policy, hasher);
    /// # let _ = portal;
    /// ```
    pub fn with_hasher(
        ports: AsyncPorts<S, L, E>,
        policy: Policy,
        hasher: Arc<dyn SecretHasher>,
    ) -> Self {
        AsyncPortal {
            ports,
            policy,
            hasher,
            delivery: Delivery::default(),
        }
    }

    /// [`Portal::deliver`](super::Portal::deliver), awaited: the transactional outbox (OPS-01),
    /// oldest commit first, at least once, each effect with its stable id.
    ///
    /// # Example
    /// ```
    /// # use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// # use kaigo_seikyu::portal::{AsyncPortal, AsyncPorts};
    /// # let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = AsyncPortal::new(AsyncPorts::from(host.ports()), Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
    /// assert_eq!(pollster::block_on(portal.deliver())?.delivered, 0);
    /// # Ok::<(), kaigo_seikyu::error::PortalError>(())
    /// ```
    pub async fn deliver(&self) -> Result<Delivered, PortalError> {
        let mut total = Delivered::default();
        loop {
            let batch = self.ports.store.outbox(DELIVERY_BATCH).await?;
            let full = batch.len() == DELIVERY_BATCH;
            let queued = batch
                .into_iter()
                .map(|(_, record)| Queued::from_bytes(&record.value))
                .collect::<Result<Vec<_>, _>>()?;
            let done = self.deliver_queued(queued).await?;
            total.delivered += done.delivered;
            total.left += done.left;
            if !full || done.left > 0 || done.delivered == 0 {
                return Ok(total);
            }
        }
    }

    /// `Portal::deliver_queued`, awaited: hands `queued` to the ports in order, stopping at the
    /// first failure, then removes the delivered ones in one commit (each on its own if another
    /// delivery removed some first).
    async fn deliver_queued(&self, queued: Vec<Queued>) -> Result<Delivered, PortalError> {
        let total = queued.len();
        let mut delivered = Vec::new();
        for q in queued {
            if self.ports.effects.deliver(&q.id, q.effect).await.is_err() {
                break;
            }
            delivered.push(q.id);
        }
        let removals = removals(&delivered);
        if self.ports.store.commit(&removals).await == Err(StoreError::Conflict) {
            for removal in removals {
                let _ = self
                    .ports
                    .store
                    .commit(std::slice::from_ref(&removal))
                    .await;
            }
        }
        Ok(Delivered {
            delivered: delivered.len(),
            left: total - delivered.len(),
        })
    }

    driver! {
        async await;
        /// # Example
        /// ```
        /// # use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey, store::FlowKind};
        /// # use kaigo_seikyu::portal::{AsyncPortal, AsyncPorts};
        /// # let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
        /// let portal = AsyncPortal::new(AsyncPorts::from(host.ports()), Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
        /// let screen = pollster::block_on(portal.open(FlowKind::Login, None))?;
        /// assert_eq!(screen.title, "ログイン");
        /// # Ok::<(), kaigo_seikyu::error::PortalError>(())
        /// ```
        open;
        start;
    }
}

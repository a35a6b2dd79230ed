//! The driver: loads a flow from the [`Store`], applies one input with [`Clock::now`] and the host's
//! CSPRNG, saves with a compare-and-swap on every record it read (SEC-02), then hands the effects
//! to the ports. Each flow module adds its own `impl Portal` block of entry points.

use rand_core::CryptoRng;
use std::sync::Arc;

mod budgets;
mod certificate;
mod first_login;
mod gate;
mod grace;
mod login;
mod operator;
mod ops;
mod purge;
mod queue;
mod reissue;
mod reset;
mod security_emails;
mod transaction;
pub mod validate;

pub use purge::PURGE_MARGIN;
pub use queue::{MAX_PAGE, ReviewCursor, ReviewPage};
pub(crate) use transaction::Tx;
use transaction::{Loaded, Poll, Read, Transaction};

use crate::account::Account;
use crate::calendar::Instant;
use crate::effect::{EffectId, Outgoing, Queued};
use crate::error::PortalError;
use crate::flow::{Entry, Flow};
use crate::policy::Policy;
use crate::ports::{AuditLog, Clock, Mailer, NoticeBoard, OfficeLedger, Sessions};
use crate::screen::{Form, Screen, button};
use crate::secret::{Argon2Hasher, CodeKey, PasswordHash, SecretHasher};
use crate::store::{FlowId, FlowKind, Key, Store, StoreError, Write};
use crate::values::UserId;

/// The host's ports.
#[derive(Clone)]
pub struct Ports {
    /// Records.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// The mail outbox.
    pub mailer: Arc<dyn Mailer>,
    /// お知らせ.
    pub notices: Arc<dyn NoticeBoard>,
    /// Domain events.
    pub audit: Arc<dyn AuditLog>,
    /// 事業所台帳.
    pub ledger: Arc<dyn OfficeLedger>,
    /// The host's sessions.
    pub sessions: Arc<dyn Sessions>,
}

/// The driver over a host's ports. Cheap to share: put it in an `Arc` and call it from any thread.
///
/// The library never keeps state itself: every flow lives in the host's [`Store`], server-side.
/// A flow id handed to a browser is a bearer handle; keep it in the host's session.
pub struct Portal {
    pub(crate) ports: Ports,
    pub(crate) policy: Policy,
    pub(crate) hasher: Arc<dyn SecretHasher>,
    delivery: Delivery,
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// When the blocking driver hands a request's committed effects to the ports (OPS-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
/// use kaigo_seikyu::portal::Delivery;
/// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
/// let portal = host
///     .portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]))
///     .with_delivery(Delivery::ByHost);
/// portal.provision_new_office("KJ131311111111", "Kari2026pass", &mut rand::rng())?;
/// assert!(host.events.all().is_empty()); // committed, in the outbox
/// assert_eq!(portal.deliver()?.delivered, 1);
/// assert_eq!(host.events.all().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// Right after the commit, the request delivers what it committed and removes it from the
    /// outbox (one more commit). What a crash or a failing port leaves in the outbox goes at the
    /// next [`Portal::deliver`]. The default: effects are at the ports when the call returns.
    #[default]
    AfterCommit,
    /// The request only commits; the host's delivery loop calls [`Portal::deliver`]. A request
    /// then does the same work whatever effects it has (SEC-08, RS-03).
    ByHost,
}

impl Ports {
    /// Hands one outbox record to its port (OPS-01), with its stable id: the one place that
    /// says which port an effect goes to, for both drivers.
    pub(crate) fn dispatch(
        &self,
        id: &EffectId,
        effect: Outgoing,
    ) -> Result<(), crate::ports::PortError> {
        match effect {
            Outgoing::Mail(mail) => self.mailer.deliver(id, mail),
            Outgoing::Notice { office, notice } => self.notices.deliver(id, office, notice),
            Outgoing::Event(event) => self.audit.deliver(id, &event),
            Outgoing::RevokeSessions(user) => self.sessions.deliver(id, &user),
            Outgoing::Withheld(_) => Ok(()),
        }
    }
}

/// The commit that removes delivered effects from the outbox (OPS-01).
fn removals(delivered: &[EffectId]) -> Vec<Write> {
    delivered
        .iter()
        .map(|id| Write::Delete {
            key: Key::Outbox(id.clone()),
            expected: 1,
        })
        .collect()
}

/// What one [`Portal::deliver`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Effects handed to their ports and removed from the outbox.
    pub delivered: usize,
    /// Effects left queued: a port failed (the first failure stops the pass, so commit order
    /// holds); they go at the next delivery.
    pub left: usize,
}

/// How many outbox records one delivery batch reads.
const DELIVERY_BATCH: usize = 64;

impl Portal {
    /// A portal with argon2id hashing per the policy and code digests keyed with `key`.
    pub fn new(ports: Ports, policy: Policy, key: CodeKey) -> Self {
        let hasher = Arc::new(Argon2Hasher::new(policy.hashing, key));
        Self::with_hasher(ports, policy, hasher)
    }

    /// A portal with a hasher of the host's choosing (e.g. a counting one in tests).
    pub fn with_hasher(ports: Ports, policy: Policy, hasher: Arc<dyn SecretHasher>) -> Self {
        Portal {
            ports,
            policy,
            hasher,
            delivery: Delivery::default(),
        }
    }

    /// Hashes a password or security code for provisioning an account (VAL-10).
    pub fn hash_secret<R: CryptoRng + ?Sized>(&self, secret: &[u8], rng: &mut R) -> PasswordHash {
        let mut salt = [0u8; 16];
        rng.fill_bytes(&mut salt);
        self.hasher.hash(secret, &salt)
    }

    /// Delivers the transactional outbox (OPS-01): every effect committed and not yet
    /// delivered, oldest commit first, each handed to its port with its stable id and then
    /// removed. At least once: a process that dies between the port and the removal delivers the
    /// effect again, with the same id. A port that fails stops the pass (later effects wait, so
    /// commit order holds); the effect stays queued. A host with [`Delivery::ByHost`] calls this
    /// from its delivery loop; any host calls it once at start-up.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
    /// // Nothing queued: nothing to do.
    /// assert_eq!(portal.deliver()?.delivered, 0);
    /// # Ok::<(), kaigo_seikyu::error::PortalError>(())
    /// ```
    pub fn deliver(&self) -> Result<Delivered, PortalError> {
        let mut total = Delivered::default();
        loop {
            let batch = self.ports.store.outbox(DELIVERY_BATCH)?;
            let full = batch.len() == DELIVERY_BATCH;
            let queued = batch
                .into_iter()
                .map(|(_, record)| Queued::from_bytes(&record.value))
                .collect::<Result<Vec<_>, _>>()?;
            let done = self.deliver_queued(queued)?;
            total.delivered += done.delivered;
            total.left += done.left;
            if !full || done.left > 0 || done.delivered == 0 {
                return Ok(total);
            }
        }
    }

    /// Hands `queued` to the ports in order, stopping at the first failure, then removes the
    /// delivered ones from the outbox in one commit (each on its own if another delivery removed
    /// some first).
    fn deliver_queued(&self, queued: Vec<Queued>) -> Result<Delivered, PortalError> {
        let total = queued.len();
        let mut delivered = Vec::new();
        for q in queued {
            if self.ports.dispatch(&q.id, q.effect).is_err() {
                break;
            }
            delivered.push(q.id);
        }
        let removals = removals(&delivered);
        if self.ports.store.commit(&removals) == Err(StoreError::Conflict) {
            for removal in removals {
                let _ = self.ports.store.commit(std::slice::from_ref(&removal));
            }
        }
        Ok(Delivered {
            delivered: delivered.len(),
            left: total - delivered.len(),
        })
    }
}

/// Runs `$e` with `$f` the persisted enum of the flow of kind `$kind`, for flows with an entry
/// screen; [`PortalError::NoSuchFlow`] for the first login and the grace registration, which
/// have none.
macro_rules! by_entry {
    ($kind:expr, $f:ident => $e:expr) => {
        match $kind {
            FlowKind::Login => {
                type $f = crate::login::Login;
                $e
            }
            FlowKind::SecurityEmails => {
                type $f = crate::security_emails::SecurityEmailSetting;
                $e
            }
            FlowKind::Reset => {
                type $f = crate::reset::Reset;
                $e
            }
            FlowKind::Reissue => {
                type $f = crate::reissue::Reissue;
                $e
            }
            FlowKind::Certificate => {
                type $f = crate::certificate::CertificateApplication;
                $e
            }
            FlowKind::FirstLogin | FlowKind::Grace => Err(PortalError::NoSuchFlow),
        }
    };
}

/// Runs `$e` with `$f` the persisted enum of the flow of kind `$kind`.
macro_rules! by_kind {
    ($kind:expr, $f:ident => $e:expr) => {
        match $kind {
            FlowKind::FirstLogin => {
                type $f = crate::first_login::FirstLogin;
                $e
            }
            FlowKind::Grace => {
                type $f = crate::grace::Grace;
                $e
            }
            kind => by_entry!(kind, $f => $e),
        }
    };
}

/// A flow a browser is in: its kind and id. Keep it in the host's server-side session (WEB-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::{portal::FlowRef, store::{FlowId, FlowKind}};
/// let flow = FlowRef { kind: FlowKind::Reset, id: FlowId::generate(&mut rand::rng()) };
/// assert_eq!(flow.kind.as_str(), "reset");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRef {
    /// Which flow.
    pub kind: FlowKind,
    /// Its id.
    pub id: FlowId,
}

/// Where the browser goes after a request: a flow's screen, a screen outside any flow, or the
/// menu (logged in).
///
/// # Example
/// ```
/// use kaigo_seikyu::{login::login_screen, portal::Route};
/// let route = Route::Screen(login_screen());
/// assert!(route.flow().is_none());
/// assert_eq!(route.screen().unwrap().title, "ログイン");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// In a flow, at this screen: post its forms with [`Portal::submit`].
    Flow {
        /// The flow.
        flow: FlowRef,
        /// Its current screen.
        screen: Screen,
    },
    /// A screen outside any flow (【ログイン】, an entry screen after `戻る`).
    Screen(Screen),
    /// The menu: the user is logged in. The host starts its session for `user`.
    Menu {
        /// Who.
        user: UserId,
    },
}

/// The screen a route shows, for the per-flow entry points whose every route has one (the
/// security-email list, reset, reissue, certificate).
fn shown(route: Route) -> Result<Screen, PortalError> {
    route.screen().cloned().ok_or(PortalError::NoSuchFlow)
}

/// The new flow's id and first screen, for the per-flow starts whose every route is a flow's.
fn started(route: Route) -> Result<(FlowId, Screen), PortalError> {
    match route {
        Route::Flow { flow, screen } => Ok((flow.id, screen)),
        _ => Err(PortalError::NoSuchFlow),
    }
}

impl Route {
    /// The flow the browser is in, if any.
    pub fn flow(&self) -> Option<&FlowRef> {
        match self {
            Route::Flow { flow, .. } => Some(flow),
            Route::Screen(_) | Route::Menu { .. } => None,
        }
    }

    /// The id of the flow the browser is in, if any: a convenience for [`Route::flow`].
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::portal::{FlowRef, Route};
    /// use kaigo_seikyu::store::{FlowId, FlowKind};
    /// use kaigo_seikyu::login::login_screen;
    /// let id = FlowId::generate(&mut rand::rng());
    /// let flow = FlowRef { kind: FlowKind::Login, id: id.clone() };
    /// assert_eq!(Route::Flow { flow, screen: login_screen() }.flow_id(), Some(&id));
    /// assert_eq!(Route::Screen(login_screen()).flow_id(), None);
    /// ```
    pub fn flow_id(&self) -> Option<&FlowId> {
        self.flow().map(|flow| &flow.id)
    }

    /// The screen to draw, if the route has one (the menu is the host's).
    pub fn screen(&self) -> Option<&Screen> {
        match self {
            Route::Flow { screen, .. } | Route::Screen(screen) => Some(screen),
            Route::Menu { .. } => None,
        }
    }
}

/// The generic entry points, written once for both drivers (OPS-05): the blocking [`Portal`]'s
/// (`driver!()`) and the async driver's (`driver!(async await)`), where each is `async` and
/// awaits what the blocking one calls. `open` and `start` take each driver's own example.
macro_rules! driver {
    (
        $($async:ident $await:ident)?;
        $(#[$open:meta])* open;
        $(#[$start:meta])* start;
    ) => {
        /// The same portal, delivering effects as `delivery` says (OPS-01).
        ///
        /// # Example
        /// With [`Delivery::ByHost`] a request's effects wait in the store's outbox until the
        /// host delivers them (shown on the blocking [`Portal`](crate::portal::Portal);
        /// `AsyncPortal`'s is the same):
        /// ```
        /// use kaigo_seikyu::{account::Account, calendar::utc, memory::Embedded, policy::Policy};
        /// use kaigo_seikyu::{portal::Delivery, secret::CodeKey};
        /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
        /// let portal = host
        ///     .portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]))
        ///     .with_delivery(Delivery::ByHost);
        /// let hash = portal.hash_secret(b"Kari2026pass", &mut rand::rng());
        /// portal.create_account(Account::new("KJ131311111111".parse()?, hash))?;
        /// assert!(host.events.all().is_empty()); // the audit event waits in the outbox
        /// assert_eq!(portal.deliver()?.delivered, 1);
        /// assert_eq!(host.events.all().len(), 1);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn with_delivery(mut self, delivery: Delivery) -> Self {
            self.delivery = delivery;
            self
        }

        /// The policy in force.
        pub fn policy(&self) -> &Policy {
            &self.policy
        }

        /// The current instant, from the host's clock.
        pub fn now(&self) -> Instant {
            self.ports.clock.now()
        }

        /// Reads an account.
        pub $($async)? fn account(
            &self,
            user: &UserId,
        ) -> Result<Option<Account>, PortalError> {
            self.transact(|tx, _| tx.get(&Key::Account(*user)))$(.$await)?
        }

        /// Runs a request over the one transaction logic ([`Transaction`]): reads in one batch
        /// per round, commits with compare-and-swap, runs again on a lost race; then, with
        /// [`Delivery::AfterCommit`], delivers what it committed.
        pub(crate) $($async)? fn transact<T>(
            &self,
            op: impl FnMut(&mut Tx<'_>, Instant) -> Result<T, PortalError>,
        ) -> Result<T, PortalError> {
            let mut t = Transaction::new(&self.policy, self.hasher.as_ref(), self.now(), op);
            let mut poll = t.poll();
            let result = loop {
                poll = match poll {
                    Poll::Read(read) => {
                        let loaded = self.read(&read)$(.$await)?;
                        t.loaded(loaded)
                    }
                    Poll::Commit(writes) => {
                        let committed = self.ports.store.commit(&writes)$(.$await)?;
                        t.committed(committed)
                    }
                    Poll::Done(result) => break result,
                };
            };
            let queued = t.queued();
            if self.delivery == Delivery::AfterCommit && !queued.is_empty() {
                // What fails here stays in the outbox for the next `deliver` (OPS-01).
                let _ = self.deliver_queued(queued)$(.$await)?;
            }
            result
        }

        /// One round's batched read: the records in one `load_many`, and the ledger entries.
        $($async)? fn read(&self, read: &Read) -> Result<Loaded, PortalError> {
            let records = if read.keys.is_empty() {
                Vec::new()
            } else {
                self.ports.store.load_many(&read.keys)$(.$await)??
            };
            let mut offices = Vec::with_capacity(read.offices.len());
            for office in &read.offices {
                let found = self.ports.ledger.find(office)$(.$await)?;
                offices.push(found.map_err(|e| PortalError::Port(e.0))?);
            }
            Ok((records, offices))
        }

        /// The entry screen of flow `F` (its first form, before the flow exists), for `user` when
        /// it is opened after login.
        pub $($async)? fn entry<F: Entry>(
            &self,
            user: Option<&UserId>,
        ) -> Result<Screen, PortalError> {
            self.transact(ops::entry::<F>(user.copied()))$(.$await)?
        }

        /// Begins flow `F` with a form posted from its entry screen: the form is checked against
        /// the screen ([`Screen::accept`]) and parsed by the flow (UI-02), then
        /// [`begin_with`](Self::begin_with).
        pub $($async)? fn begin<F: Entry, R: CryptoRng + ?Sized>(
            &self,
            user: Option<&UserId>,
            form: &Form,
            rng: &mut R,
        ) -> Result<Route, PortalError> {
            self.transact(ops::begin::<F, R>(user.copied(), form, rng))$(.$await)?
        }

        /// Begins flow `F` with its typed start.
        pub $($async)? fn begin_with<F: Entry, R: CryptoRng + ?Sized>(
            &self,
            user: Option<&UserId>,
            start: F::Start,
            rng: &mut R,
        ) -> Result<Route, PortalError> {
            self.transact(ops::begin_with::<F, R>(user.copied(), start, rng))$(.$await)?
        }

        /// Submits a form to the flow the browser is in (UI-02): checked against the flow's
        /// current screen, parsed by the flow into its typed input, then
        /// [`input`](Self::input). `user` is the session's user after login (a flow of another
        /// user is refused as [`PortalError::NoSuchFlow`]).
        pub $($async)? fn submit<R: CryptoRng + ?Sized>(
            &self,
            user: Option<&UserId>,
            flow: &FlowRef,
            form: &Form,
            rng: &mut R,
        ) -> Result<Route, PortalError> {
            by_kind!(flow.kind, F => self.submit_to::<F, R>(user, &flow.id, form, rng)$(.$await)?)
        }

        /// The current screen of the flow the browser is in, to draw it again.
        pub $($async)? fn current(
            &self,
            user: Option<&UserId>,
            flow: &FlowRef,
        ) -> Result<Screen, PortalError> {
            by_kind!(flow.kind, F => self.screen::<F>(user, &flow.id)$(.$await)?)
        }

        /// The entry screen of the flow of `kind` (its first form, before the flow exists), for
        /// `user` when it is opened after login: 【ログイン】, 【ログイン情報再設定認証】,
        /// 【ログイン情報再発行申請】, the security-email list, 【証明書】. The first login and the
        /// grace registration have none (the login gate begins them): [`PortalError::NoSuchFlow`].
        $(#[$open])*
        pub $($async)? fn open(
            &self,
            kind: FlowKind,
            user: Option<&UserId>,
        ) -> Result<Screen, PortalError> {
            by_entry!(kind, F => self.entry::<F>(user)$(.$await)?)
        }

        /// Begins the flow of `kind` with a form posted from its entry screen
        /// ([`open`](Self::open)): checked against the screen, parsed by the flow (UI-02), then
        /// run like any step.
        $(#[$start])*
        pub $($async)? fn start<R: CryptoRng + ?Sized>(
            &self,
            kind: FlowKind,
            user: Option<&UserId>,
            form: &Form,
            rng: &mut R,
        ) -> Result<Route, PortalError> {
            by_entry!(kind, F => self.begin::<F, R>(user, form, rng)$(.$await)?)
        }

        /// `戻る` on the flow's current screen: the form with the button [`button::BACK`].
        pub $($async)? fn back<R: CryptoRng + ?Sized>(
            &self,
            user: Option<&UserId>,
            flow: &FlowRef,
            rng: &mut R,
        ) -> Result<Route, PortalError> {
            self.submit(user, flow, &Form::new(button::BACK), rng)$(.$await)?
        }

        /// [`submit`](Self::submit) for a flow of a known kind.
        pub $($async)? fn submit_to<F: Flow, R: CryptoRng + ?Sized>(
            &self,
            user: Option<&UserId>,
            id: &FlowId,
            form: &Form,
            rng: &mut R,
        ) -> Result<Route, PortalError> {
            self.transact(ops::submit::<F, R>(user.copied(), id, form, rng))$(.$await)?
        }

        /// Applies a typed input to flow `F`: loads the state and what it needs, spends the
        /// budgets it declares (SEC-04, SEC-07), runs the transition and commits (SEC-02).
        pub $($async)? fn input<F: Flow, R: CryptoRng + ?Sized>(
            &self,
            user: Option<&UserId>,
            id: &FlowId,
            input: F::Input,
            rng: &mut R,
        ) -> Result<Route, PortalError> {
            self.transact(ops::input::<F, R>(user.copied(), id, input, rng))$(.$await)?
        }

        /// The current screen of flow `F`.
        pub $($async)? fn screen<F: Flow>(
            &self,
            user: Option<&UserId>,
            id: &FlowId,
        ) -> Result<Screen, PortalError> {
            self.transact(ops::screen::<F>(user.copied(), id))$(.$await)?
        }
    };
}

impl Portal {
    driver! {
        ;
        /// # Example
        /// ```
        /// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey, store::FlowKind};
        /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
        /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
        /// let screen = portal.open(FlowKind::Login, None)?;
        /// assert_eq!(screen.title, "ログイン");
        /// assert!(screen.field_named("user_id").is_some());
        /// # Ok::<(), kaigo_seikyu::error::PortalError>(())
        /// ```
        open;
        /// # Example
        /// ```
        /// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
        /// use kaigo_seikyu::{screen::{Form, button}, store::FlowKind};
        /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
        /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
        /// let form = Form::new(button::NEXT).with("office", "1311111111").with("address", "a@jp");
        /// let route = portal.start(FlowKind::Reset, None, &form, &mut rand::rng())?;
        /// assert_eq!(route.screen().unwrap().title, "ワンタイムパスワード入力");
        /// # Ok::<(), kaigo_seikyu::error::PortalError>(())
        /// ```
        start;
    }
}

// After the macros above: the async driver dispatches on a flow's kind with them.
#[cfg(feature = "async")]
pub mod asynchronous;
#[cfg(feature = "async")]
pub use asynchronous::{AsyncPortal, AsyncPorts};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::utc;
    use crate::effect::{Effect, EffectId, Event, EventKind};
    use crate::error::FlowError;
    use crate::memory::{Embedded, MemoryStore};
    use crate::store::Versioned;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn user() -> UserId {
        "KJ131311111111".parse().unwrap()
    }

    fn event() -> Effect {
        Effect::Event(Event {
            at: utc("2026-01-10T10:00:00+09:00"),
            kind: EventKind::LoginFailed { user: user() },
        })
    }

    /// A record holding a plain number: the management-number sequence of a month.
    fn counter() -> Key {
        Key::Sequence(crate::calendar::YearMonth::new(2026, 1).unwrap())
    }

    /// A store that lets another writer bump the record between the load and the first commit.
    struct Racing {
        inner: MemoryStore,
        commits: AtomicUsize,
    }

    impl Store for Racing {
        fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
            self.inner.load(key)
        }
        fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
            if self.commits.fetch_add(1, Ordering::SeqCst) == 0 {
                let key = counter();
                let v = self.inner.load(&key)?.map(|v| v.version);
                self.inner.commit(&[Write::Put {
                    key,
                    expected: v,
                    value: b"41".to_vec(),
                    expires: None,
                }])?;
            }
            self.inner.commit(writes)
        }
    }

    /// `host`'s portal with cheap hashing.
    fn portal(host: &Embedded) -> Portal {
        portal_over(host.store.clone(), host)
    }

    /// `host`'s portal over another store.
    fn portal_over(store: Arc<dyn Store>, host: &Embedded) -> Portal {
        let ports = Ports {
            store,
            ..host.ports()
        };
        Portal::new(
            ports,
            Policy::insecure_fast_hashing(),
            CodeKey::from_bytes([0; 32]),
        )
    }

    fn increment(portal: &Portal, runs: &AtomicUsize) -> Result<u32, PortalError> {
        portal.transact(|tx, _now| {
            let n: u32 = tx.get(&counter())?.unwrap_or(0);
            runs.fetch_add(1, Ordering::SeqCst);
            tx.put(counter(), &(n + 1))?;
            tx.apply(vec![event()])?;
            Ok(n + 1)
        })
    }

    /// SEC-02: a request that loses the compare-and-swap race is re-run on fresh data; its effects
    /// go out once, after the winning commit.
    #[test]
    fn sec_02_lost_race_reruns_on_fresh_data() {
        let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
        let store = Arc::new(Racing {
            inner: MemoryStore::default(),
            commits: AtomicUsize::new(0),
        });
        let portal = portal_over(store.clone(), &host);
        let runs = AtomicUsize::new(0);
        assert_eq!(increment(&portal, &runs), Ok(42));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(host.events.all().len(), 1);
    }

    /// SEC-02: a request refused by the flow writes nothing and sends nothing.
    #[test]
    fn sec_02_refusal_writes_nothing() {
        let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
        let portal = portal(&host);
        let result: Result<(), PortalError> = portal.transact(|tx, _| {
            tx.put(counter(), &1u32)?;
            tx.apply(vec![event()])?;
            Err(FlowError::ConfirmationMismatch.into())
        });
        assert_eq!(
            result,
            Err(PortalError::Flow(FlowError::ConfirmationMismatch))
        );
        assert!(host.store.is_empty());
        assert!(host.events.all().is_empty());
    }

    /// SEC-02: a rejected step (a counted wrong code) is saved, then its error returned.
    #[test]
    fn sec_02_rejected_step_is_saved_then_refused() {
        let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
        let portal = portal(&host);
        let result = portal.transact(|tx, _| {
            tx.put(counter(), &7u32)?;
            tx.rejected = Some(FlowError::WrongCode { remaining: 4 });
            Ok(())
        });
        assert_eq!(
            result,
            Err(PortalError::Flow(FlowError::WrongCode { remaining: 4 }))
        );
        let saved = host.store.load(&counter()).unwrap().unwrap();
        assert_eq!(saved.value, b"7");
    }

    /// OPS-01, SEC-08: effects reach the ports only after the commit, from the outbox; a port
    /// that fails leaves the state saved and the effect queued, and the next delivery hands it
    /// over with the same id, once.
    #[test]
    fn ops_01_port_failure_leaves_the_effect_queued() {
        struct Flaky(std::sync::Mutex<Vec<(EffectId, Event)>>, AtomicUsize);
        impl AuditLog for Flaky {
            fn record(&self, _: &Event) -> Result<(), crate::ports::PortError> {
                unreachable!("the driver delivers with the id")
            }
            fn deliver(&self, id: &EffectId, event: &Event) -> Result<(), crate::ports::PortError> {
                if self.1.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err(crate::ports::PortError("log is down".into()));
                }
                self.0.lock().unwrap().push((id.clone(), event.clone()));
                Ok(())
            }
        }
        let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
        let mut portal = portal(&host);
        let log = Arc::new(Flaky(Default::default(), AtomicUsize::new(0)));
        portal.ports.audit = log.clone();
        let runs = AtomicUsize::new(0);
        assert_eq!(increment(&portal, &runs), Ok(1));
        let key = counter();
        assert_eq!(host.store.load(&key).unwrap().unwrap().value, b"1");
        assert!(log.0.lock().unwrap().is_empty());
        let queued = host.store.outbox(10).unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(
            portal.deliver(),
            Ok(Delivered {
                delivered: 1,
                left: 0
            })
        );
        assert_eq!(log.0.lock().unwrap()[0].0, queued[0].0);
        assert!(host.store.outbox(10).unwrap().is_empty());
        assert_eq!(portal.deliver().unwrap().delivered, 0);
    }
}

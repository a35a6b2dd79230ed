//! The driver: loads a flow from the [`Store`], applies one input with [`Clock::now`] and the host's
//! CSPRNG, saves with a compare-and-swap on every record it read (SEC-02), then hands the effects
//! to the ports. Each flow module adds its own `impl Portal` block of entry points.

use rand_core::CryptoRng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Arc;

mod budgets;
mod certificate;
mod first_login;
mod gate;
mod grace;
mod login;
mod operator;
mod reissue;
mod reset;
mod security_emails;

use crate::account::Account;
use crate::calendar::Instant;
use crate::effect::Effect;
use crate::error::{FlowError, PortalError};
use crate::flow::{Cx, Entry, Flow, Needs, Next, Records, Step, View};
use crate::policy::Policy;
use crate::ports::{AuditLog, Clock, Mailer, NoticeBoard, OfficeLedger, Sessions};
use crate::screen::{Form, Screen, button};
use crate::secret::{Argon2Hasher, CodeKey, PasswordHash, SecretHasher};
use crate::store::{
    Budget, FlowId, FlowKind, Key, RateWindow, Store, StoreError, Versioned, Write,
};
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
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// How many times a request is re-run when it loses a compare-and-swap race.
const MAX_ATTEMPTS: usize = 8;

impl Portal {
    /// A portal with argon2id hashing per the policy and code digests keyed with `key`.
    pub fn new(ports: Ports, policy: Policy, key: CodeKey) -> Self {
        let hasher = Arc::new(Argon2Hasher::new(policy.hashing, key));
        Portal {
            ports,
            policy,
            hasher,
        }
    }

    /// A portal with a hasher of the host's choosing (e.g. a counting one in tests).
    pub fn with_hasher(ports: Ports, policy: Policy, hasher: Arc<dyn SecretHasher>) -> Self {
        Portal {
            ports,
            policy,
            hasher,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The current instant, from the host's clock.
    pub fn now(&self) -> Instant {
        self.ports.clock.now()
    }

    /// Hashes a password or security code for provisioning an account (VAL-10).
    pub fn hash_secret<R: CryptoRng + ?Sized>(&self, secret: &[u8], rng: &mut R) -> PasswordHash {
        let mut salt = [0u8; 16];
        rng.fill_bytes(&mut salt);
        self.hasher.hash(secret, &salt)
    }

    /// Reads an account.
    pub fn account(&self, user: &UserId) -> Result<Option<Account>, PortalError> {
        let mut tx = Tx::new(self);
        tx.get(&Key::Account(*user))
    }

    /// Runs `f` in a transaction: reads go through [`Tx`], writes and effects are staged; then
    /// everything staged is committed with compare-and-swap on the versions read. On a lost race
    /// the whole request is run again on fresh data (it is pure, so that is safe). After the commit
    /// the effects go to the ports. A [`Step`] rejected with an error is committed, then the error
    /// is returned.
    pub(crate) fn transact<T>(
        &self,
        mut f: impl FnMut(&mut Tx<'_>, Instant) -> Result<T, PortalError>,
    ) -> Result<T, PortalError> {
        let now = self.ports.clock.now();
        for _ in 0..MAX_ATTEMPTS {
            let mut tx = Tx::new(self);
            let value = f(&mut tx, now)?;
            let writes = tx.writes()?;
            match self.ports.store.commit(&writes) {
                Ok(()) => {
                    self.dispatch(tx.effects)?;
                    return match tx.rejected {
                        Some(err) => Err(err.into()),
                        None => Ok(value),
                    };
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    fn dispatch(&self, effects: Vec<Effect>) -> Result<(), PortalError> {
        let mut first_error = None;
        for effect in effects {
            let result = match effect {
                Effect::SaveAccount(_)
                | Effect::Withheld(_)
                | Effect::Put { .. }
                | Effect::Delete(_) => Ok(()),
                Effect::Mail(mail) => self.ports.mailer.enqueue(mail),
                Effect::Notice { office, notice } => self.ports.notices.post(office, notice),
                Effect::Event(event) => self.ports.audit.record(&event),
                Effect::RevokeSessions(user) => self.ports.sessions.revoke_all(&user),
            };
            if let Err(e) = result {
                first_error.get_or_insert(PortalError::Port(e.0));
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Runs `$e` with `$f` the persisted enum of the flow of kind `$kind`.
macro_rules! by_kind {
    ($kind:expr, $f:ident => $e:expr) => {
        match $kind {
            FlowKind::Login => {
                type $f = crate::login::Login;
                $e
            }
            FlowKind::FirstLogin => {
                type $f = crate::first_login::FirstLogin;
                $e
            }
            FlowKind::Grace => {
                type $f = crate::grace::Grace;
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
        }
    };
}

/// Runs `$e` with `$f` the persisted enum of the flow of kind `$kind`, for flows with an entry
/// screen; [`PortalError::NoSuchFlow`] for the others.
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

impl Portal {
    /// The entry screen of flow `F` (its first form, before the flow exists), for `user` when it
    /// is opened after login.
    pub fn entry<F: Entry>(&self, user: Option<&UserId>) -> Result<Screen, PortalError> {
        let user = user.copied();
        self.transact(|tx, now| {
            let records = tx.records(&F::entry_needs(user))?;
            F::entry(user, &records, &self.view(now))
        })
    }

    /// Begins flow `F` with a form posted from its entry screen: the form is checked against the
    /// screen ([`Screen::accept`]) and parsed by the flow (UI-02), then [`Portal::begin_with`].
    pub fn begin<F: Entry, R: CryptoRng + ?Sized>(
        &self,
        user: Option<&UserId>,
        form: &Form,
        rng: &mut R,
    ) -> Result<Route, PortalError> {
        self.entry::<F>(user)?
            .accept(form)
            .map_err(FlowError::from)?;
        let start = F::parse_start(form)?;
        self.begin_with::<F, R>(user, start, rng)
    }

    /// Begins flow `F` with its typed start.
    pub fn begin_with<F: Entry, R: CryptoRng + ?Sized>(
        &self,
        user: Option<&UserId>,
        start: F::Start,
        rng: &mut R,
    ) -> Result<Route, PortalError> {
        let user = user.copied();
        self.transact(|tx, now| {
            let id = FlowId::generate(&mut *rng);
            let needs = F::begin_needs(user, &start);
            let records = tx.records(&needs)?;
            let start = start.clone();
            let step = tx.run(&needs, now, &mut *rng, |cx| {
                F::begin(user, start, &records, &id, cx)
            })?;
            tx.settle::<F, R>(&id, step, &records, now, rng)
        })
    }

    /// Submits a form to the flow the browser is in (UI-02): checked against the flow's current
    /// screen, parsed by the flow into its typed input, then [`Portal::input`]. `user` is the
    /// session's user after login (a flow of another user is refused as [`PortalError::NoSuchFlow`]).
    pub fn submit<R: CryptoRng + ?Sized>(
        &self,
        user: Option<&UserId>,
        flow: &FlowRef,
        form: &Form,
        rng: &mut R,
    ) -> Result<Route, PortalError> {
        by_kind!(flow.kind, F => self.submit_to::<F, R>(user, &flow.id, form, rng))
    }

    /// The current screen of the flow the browser is in, to draw it again.
    pub fn current(&self, user: Option<&UserId>, flow: &FlowRef) -> Result<Screen, PortalError> {
        by_kind!(flow.kind, F => self.screen::<F>(user, &flow.id))
    }

    /// The entry screen of the flow of `kind` (its first form, before the flow exists), for
    /// `user` when it is opened after login: 【ログイン】, 【ログイン情報再設定認証】,
    /// 【ログイン情報再発行申請】, the security-email list, 【証明書】. The first login and the
    /// grace registration have none (the login gate begins them): [`PortalError::NoSuchFlow`].
    ///
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
    pub fn open(&self, kind: FlowKind, user: Option<&UserId>) -> Result<Screen, PortalError> {
        by_entry!(kind, F => self.entry::<F>(user))
    }

    /// Begins the flow of `kind` with a form posted from its entry screen ([`Portal::open`]):
    /// checked against the screen, parsed by the flow (UI-02), then run like any step.
    ///
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
    pub fn start<R: CryptoRng + ?Sized>(
        &self,
        kind: FlowKind,
        user: Option<&UserId>,
        form: &Form,
        rng: &mut R,
    ) -> Result<Route, PortalError> {
        by_entry!(kind, F => self.begin::<F, R>(user, form, rng))
    }

    /// `戻る` on the flow's current screen: the form with the button [`button::BACK`].
    pub fn back<R: CryptoRng + ?Sized>(
        &self,
        user: Option<&UserId>,
        flow: &FlowRef,
        rng: &mut R,
    ) -> Result<Route, PortalError> {
        self.submit(user, flow, &Form::new(button::BACK), rng)
    }

    /// [`Portal::submit`] for a flow of a known kind.
    pub fn submit_to<F: Flow, R: CryptoRng + ?Sized>(
        &self,
        user: Option<&UserId>,
        id: &FlowId,
        form: &Form,
        rng: &mut R,
    ) -> Result<Route, PortalError> {
        let input = self.transact(|tx, now| {
            let state: F = tx.owned_flow(user, id)?;
            state
                .screen(&self.view(now))
                .accept(form)
                .map_err(FlowError::from)?;
            Ok(state.parse(form)?)
        })?;
        self.input::<F, R>(user, id, input, rng)
    }

    /// Applies a typed input to flow `F`: loads the state and what it needs, spends the budgets
    /// it declares (SEC-04, SEC-07), runs the transition and commits (SEC-02).
    pub fn input<F: Flow, R: CryptoRng + ?Sized>(
        &self,
        user: Option<&UserId>,
        id: &FlowId,
        input: F::Input,
        rng: &mut R,
    ) -> Result<Route, PortalError> {
        self.transact(|tx, now| {
            let state: F = tx.owned_flow(user, id)?;
            let needs = state.needs(&input);
            let records = tx.records(&needs)?;
            let input = input.clone();
            let step = tx.run(&needs, now, &mut *rng, |cx| {
                state.step(input, &records, id, cx)
            })?;
            tx.settle::<F, R>(id, step, &records, now, rng)
        })
    }

    /// The current screen of flow `F`.
    pub fn screen<F: Flow>(
        &self,
        user: Option<&UserId>,
        id: &FlowId,
    ) -> Result<Screen, PortalError> {
        self.transact(|tx, now| Ok(tx.owned_flow::<F>(user, id)?.screen(&self.view(now))))
    }

    fn view(&self, now: Instant) -> View<'_> {
        View {
            now,
            policy: &self.policy,
        }
    }
}

/// One request's view of the store: a snapshot. Every record is loaded once and remembered with its
/// version, so a second read sees the same record (or what this request staged for it); every
/// write is staged against the version read; every record read and not written is checked
/// unchanged at the commit (SEC-02, SEC-07); effects are queued until the commit succeeds.
pub(crate) struct Tx<'p> {
    portal: &'p Portal,
    read: HashMap<Key, Option<Versioned>>,
    staged: Vec<(Key, Option<Vec<u8>>)>,
    pub(crate) effects: Vec<Effect>,
    pub(crate) rejected: Option<FlowError>,
}

impl<'p> Tx<'p> {
    fn new(portal: &'p Portal) -> Self {
        Tx {
            portal,
            read: HashMap::new(),
            staged: Vec::new(),
            effects: Vec::new(),
            rejected: None,
        }
    }

    /// The portal's policy, hasher and ports.
    pub(crate) fn portal(&self) -> &'p Portal {
        self.portal
    }

    /// Reads a record: what this request staged for it, else the snapshot's copy, loaded from the
    /// store on the first read and remembered with its version for the commit.
    pub(crate) fn get<T: DeserializeOwned>(&mut self, key: &Key) -> Result<Option<T>, PortalError> {
        self.bytes(key)?
            .map(|b| {
                serde_json::from_slice(b)
                    .map_err(|e| StoreError::Corrupt(format!("{key}: {e}")).into())
            })
            .transpose()
    }

    /// The bytes of a record: what this request staged for it, else the snapshot's copy.
    fn bytes(&mut self, key: &Key) -> Result<Option<&[u8]>, PortalError> {
        if !self.read.contains_key(key) && !self.staged.iter().any(|(k, _)| k == key) {
            let found = self.portal.ports.store.load(key)?;
            self.read.insert(key.clone(), found);
        }
        Ok(match self.staged.iter().find(|(k, _)| k == key) {
            Some((_, value)) => value.as_deref(),
            None => self.read[key].as_ref().map(|v| v.value.as_slice()),
        })
    }

    /// Reads the account of `user`; [`FlowError::NoSuchAccount`] when there is none.
    pub(crate) fn account(&mut self, user: UserId) -> Result<Account, PortalError> {
        self.get(&Key::Account(user))?
            .ok_or_else(|| FlowError::NoSuchAccount.into())
    }

    /// Reads the state of flow `F` with id `id`; [`PortalError::NoSuchFlow`] when there is none,
    /// or when the flow belongs to a session user ([`Flow::user`]) and `user` is not that user.
    pub(crate) fn owned_flow<F: Flow>(
        &mut self,
        user: Option<&UserId>,
        id: &FlowId,
    ) -> Result<F, PortalError> {
        let state: F = self.flow(F::KIND, id)?;
        match (state.user(), user) {
            (None, _) => Ok(state),
            (Some(owner), Some(asking)) if owner == *asking => Ok(state),
            _ => Err(PortalError::NoSuchFlow),
        }
    }

    /// Reads what `needs` declares: its records and its ledger entry.
    pub(crate) fn records(&mut self, needs: &Needs) -> Result<Records, PortalError> {
        let mut found = Vec::with_capacity(needs.keys.len());
        for key in &needs.keys {
            let bytes = self.bytes(key)?.map(<[u8]>::to_vec);
            found.push((key.clone(), bytes));
        }
        let ledger = match needs.office {
            Some(office) => self
                .portal
                .ports
                .ledger
                .find(&office)
                .map_err(|e| PortalError::Port(e.0))?,
            None => None,
        };
        Ok(Records::new(found, ledger))
    }

    /// Runs a transition under the hourly budgets: with `needs.guesses`, it runs only while the
    /// budget has wrong entries left, and a wrong code spends one (SEC-07); then every code it
    /// drew, mailed or withheld, spends one code mail of its address's budget (SEC-04).
    pub(crate) fn run<S, R: CryptoRng + ?Sized>(
        &mut self,
        needs: &Needs,
        now: Instant,
        rng: &mut R,
        transition: impl FnOnce(&mut Cx<'_, R>) -> Result<Step<S>, PortalError>,
    ) -> Result<Step<S>, PortalError> {
        let step = self.guarded(needs, now, rng, transition)?;
        for effect in &step.effects {
            match effect {
                Effect::Mail(mail) if mail.code().is_some() => {
                    self.spend_code_mail(&mail.to, now)?
                }
                Effect::Withheld(to) => self.spend_code_mail(to, now)?,
                _ => {}
            }
        }
        Ok(step)
    }

    /// The transition under the SEC-07 budget `needs.guesses`, if any.
    fn guarded<S, R: CryptoRng + ?Sized>(
        &mut self,
        needs: &Needs,
        now: Instant,
        rng: &mut R,
        transition: impl FnOnce(&mut Cx<'_, R>) -> Result<Step<S>, PortalError>,
    ) -> Result<Step<S>, PortalError> {
        let mut cx = self.cx(now, rng);
        let Some(budget) = needs.guesses.clone() else {
            return transition(&mut cx);
        };
        let mut outcome = None;
        let verdict = self.guard_guesses(budget, now, || {
            let step = transition(&mut cx);
            let verdict = match &step {
                Ok(step) => step.rejected.clone().map_or(Ok(()), Err),
                Err(PortalError::Flow(e)) => Err(e.clone()),
                Err(_) => Ok(()),
            };
            outcome = Some(step);
            verdict
        })?;
        match outcome {
            Some(step) => step,
            None => Err(verdict
                .err()
                .unwrap_or(FlowError::GuessBudgetExceeded)
                .into()),
        }
    }

    /// Saves a step of flow `F` and says where it leads: on in the flow, or out of it (its
    /// record removed) to a screen, through the login gate (LOGIN-03), to the menu or to
    /// 【ログイン】.
    pub(crate) fn settle<F: Flow, R: CryptoRng + ?Sized>(
        &mut self,
        id: &FlowId,
        step: Step<Next<F>>,
        records: &Records,
        now: Instant,
        rng: &mut R,
    ) -> Result<Route, PortalError> {
        let Step {
            state,
            effects,
            rejected,
        } = step;
        if let Some(error) = rejected {
            self.rejected = Some(error);
        }
        let key = Key::Flow(F::KIND, id.clone());
        if !matches!(state, Next::Stay(_)) && self.version_read(&key).is_some() {
            self.delete(key.clone());
        }
        match state {
            Next::Stay(state) => {
                let screen = state.screen(&self.portal.view(now));
                self.put(key, &state)?;
                self.apply(effects)?;
                Ok(Route::Flow {
                    flow: FlowRef {
                        kind: F::KIND,
                        id: id.clone(),
                    },
                    screen,
                })
            }
            Next::End(screen) => {
                self.apply(effects)?;
                Ok(Route::Screen(screen))
            }
            Next::Gate(auth) => {
                let loaded = records
                    .account(auth.user())?
                    .ok_or(FlowError::NoSuchAccount)?;
                let account = gate::account_after(&effects, &loaded);
                self.apply(effects)?;
                gate::through(self, auth, &account, now, rng)
            }
            Next::Menu(skip) => {
                self.apply(effects)?;
                Ok(Route::Menu { user: skip.user() })
            }
            Next::Login => {
                self.apply(effects)?;
                Ok(Route::Screen(crate::login::login_screen()))
            }
        }
    }

    pub(crate) fn flow<S: DeserializeOwned>(
        &mut self,
        kind: FlowKind,
        id: &FlowId,
    ) -> Result<S, PortalError> {
        self.get(&Key::Flow(kind, id.clone()))?
            .ok_or(PortalError::NoSuchFlow)
    }

    /// Stages a write of `value` at `key`, against the version read (absent if never read).
    pub(crate) fn put<T: Serialize>(&mut self, key: Key, value: &T) -> Result<(), PortalError> {
        let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.staged.retain(|(k, _)| k != &key);
        self.staged.push((key, Some(bytes)));
        Ok(())
    }

    /// Stages a removal of `key` (which must have been read).
    pub(crate) fn delete(&mut self, key: Key) {
        self.staged.retain(|(k, _)| k != &key);
        self.staged.push((key, None));
    }

    /// Stages account saves and record writes ([`Effect::Put`], [`Effect::Delete`]) and queues
    /// the other effects.
    pub(crate) fn apply(&mut self, effects: Vec<Effect>) -> Result<(), PortalError> {
        for effect in effects {
            if let Effect::SaveAccount(account) = &effect {
                self.put(Key::Account(account.user_id), account.as_ref())?;
            }
            if let Effect::Put { key, value } = &effect {
                let bytes = value.bytes().to_vec();
                self.staged.retain(|(k, _)| k != key);
                self.staged.push((key.clone(), Some(bytes)));
            }
            if let Effect::Delete(key) = &effect {
                self.delete(key.clone());
            }
            self.effects.push(effect);
        }
        Ok(())
    }

    /// Spends one unit of a budget (SEC-04, SEC-07) at `now`; `false` when it is used up (then
    /// nothing is staged for it).
    pub(crate) fn spend(
        &mut self,
        budget: Budget,
        now: Instant,
        limit: u8,
    ) -> Result<bool, PortalError> {
        let key = Key::Budget(budget);
        let mut window: RateWindow = self.get(&key)?.unwrap_or_default();
        if window.try_spend(now, limit) {
            self.put(key, &window)?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// The version of `key` in this request's snapshot (`None`: absent or never read).
    fn version_read(&self, key: &Key) -> Option<u64> {
        self.read
            .get(key)
            .and_then(|v| v.as_ref().map(|v| v.version))
    }

    /// The staged writes, each against the version it was read at, then a [`Write::Check`] for
    /// every record read and not written.
    fn writes(&self) -> Result<Vec<Write>, PortalError> {
        let checks = self
            .read
            .keys()
            .filter(|key| !self.staged.iter().any(|(k, _)| k == *key))
            .map(|key| {
                Ok(Write::Check {
                    key: key.clone(),
                    expected: self.version_read(key),
                })
            });
        self.staged
            .iter()
            .map(|(key, value)| {
                let expected = self.version_read(key);
                Ok(match value {
                    Some(bytes) => Write::Put {
                        key: key.clone(),
                        expected,
                        value: bytes.clone(),
                    },
                    None => Write::Delete {
                        key: key.clone(),
                        expected: expected.ok_or_else(|| {
                            StoreError::Unavailable(format!("deleting {key}, never read"))
                        })?,
                    },
                })
            })
            .chain(checks)
            .collect()
    }

    /// A context for a pure transition.
    pub(crate) fn cx<'a, R: CryptoRng + ?Sized>(&self, now: Instant, rng: &'a mut R) -> Cx<'a, R>
    where
        'p: 'a,
    {
        Cx {
            now,
            rng,
            policy: &self.portal.policy,
            hasher: self.portal.hasher.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::utc;
    use crate::effect::{Event, EventKind};
    use crate::memory::{Embedded, MemoryStore};
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

    fn id() -> FlowId {
        "0123456789abcdef0123456789abcdef".parse().unwrap()
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
                let key = Key::Flow(FlowKind::Login, id());
                let v = self.inner.load(&key)?.map(|v| v.version);
                self.inner.commit(&[Write::Put {
                    key,
                    expected: v,
                    value: b"41".to_vec(),
                }])?;
            }
            self.inner.commit(writes)
        }
    }

    fn portal_over(store: Arc<dyn Store>, host: &Embedded) -> Portal {
        let mut ports = host
            .portal(
                Policy::insecure_fast_hashing(),
                CodeKey::from_bytes([0; 32]),
            )
            .ports;
        ports.store = store;
        Portal::new(
            ports,
            Policy::insecure_fast_hashing(),
            CodeKey::from_bytes([0; 32]),
        )
    }

    fn increment(portal: &Portal, runs: &AtomicUsize) -> Result<u32, PortalError> {
        portal.transact(|tx, _now| {
            runs.fetch_add(1, Ordering::SeqCst);
            let n: u32 = tx.get(&Key::Flow(FlowKind::Login, id()))?.unwrap_or(0);
            tx.put(Key::Flow(FlowKind::Login, id()), &(n + 1))?;
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
        let portal = host.portal(
            Policy::insecure_fast_hashing(),
            CodeKey::from_bytes([0; 32]),
        );
        let result: Result<(), PortalError> = portal.transact(|tx, _| {
            tx.put(Key::Flow(FlowKind::Login, id()), &1u32)?;
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
        let portal = host.portal(
            Policy::insecure_fast_hashing(),
            CodeKey::from_bytes([0; 32]),
        );
        let result = portal.transact(|tx, _| {
            tx.put(Key::Flow(FlowKind::Login, id()), &7u32)?;
            tx.rejected = Some(FlowError::WrongCode { remaining: 4 });
            Ok(())
        });
        assert_eq!(
            result,
            Err(PortalError::Flow(FlowError::WrongCode { remaining: 4 }))
        );
        let saved = host
            .store
            .load(&Key::Flow(FlowKind::Login, id()))
            .unwrap()
            .unwrap();
        assert_eq!(saved.value, b"7");
    }

    /// SEC-08: effects reach the ports only after the commit; a port that fails afterwards leaves
    /// the state saved and reports the failure.
    #[test]
    fn sec_08_effects_after_commit_and_port_failure_reported() {
        struct Broken;
        impl AuditLog for Broken {
            fn record(&self, _: &crate::effect::Event) -> Result<(), crate::ports::PortError> {
                Err(crate::ports::PortError("log is down".into()))
            }
        }
        let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
        let mut portal = host.portal(
            Policy::insecure_fast_hashing(),
            CodeKey::from_bytes([0; 32]),
        );
        portal.ports.audit = Arc::new(Broken);
        let runs = AtomicUsize::new(0);
        assert_eq!(
            increment(&portal, &runs),
            Err(PortalError::Port("log is down".into()))
        );
        assert_eq!(
            host.store
                .load(&Key::Flow(FlowKind::Login, id()))
                .unwrap()
                .unwrap()
                .value,
            b"1"
        );
    }
}

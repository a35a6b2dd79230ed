//! OPS-05: one test body, two drivers. [`Driver`] is the generic entry points a flow test calls,
//! implemented by the blocking [`Portal`] and by the async [`AsyncPortal`] (each call run to
//! completion on `pollster`, a minimal executor), so a test written once over `D: Driver` runs
//! over both drivers on the same transaction core. Operator actions and other setup stay on the
//! blocking driver over the same ports; they are not what is under test.

#![allow(dead_code)] // each test binary uses its own subset of these

use kaigo_seikyu::account::Account;
use kaigo_seikyu::error::PortalError;
use kaigo_seikyu::flow::{Entry, Flow};
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::{
    AsyncPortal, AsyncPorts, Delivered, Delivery, FlowRef, Portal, Ports, Route,
};
use kaigo_seikyu::screen::{Form, Screen};
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::store::{FlowId, FlowKind};
use kaigo_seikyu::values::UserId;
use rand::rngs::StdRng;

/// A driver over a host's ports: the generic entry points, blocking from the test's side.
pub trait Driver {
    /// What the test names say: `blocking` or `async`.
    const NAME: &'static str;
    /// The driver over `ports`.
    fn over(ports: Ports, policy: Policy, key: CodeKey) -> Self;
    /// The same driver, delivering as `delivery` says.
    fn delivering(self, delivery: Delivery) -> Self;
    fn open(&self, kind: FlowKind, user: Option<&UserId>) -> Result<Screen, PortalError>;
    fn start(
        &self,
        kind: FlowKind,
        user: Option<&UserId>,
        form: &Form,
        rng: &mut StdRng,
    ) -> Result<Route, PortalError>;
    fn submit(
        &self,
        user: Option<&UserId>,
        flow: &FlowRef,
        form: &Form,
        rng: &mut StdRng,
    ) -> Result<Route, PortalError>;
    fn back(
        &self,
        user: Option<&UserId>,
        flow: &FlowRef,
        rng: &mut StdRng,
    ) -> Result<Route, PortalError>;
    fn current(&self, user: Option<&UserId>, flow: &FlowRef) -> Result<Screen, PortalError>;
    fn account(&self, user: &UserId) -> Result<Option<Account>, PortalError>;
    fn begin_with<F: Entry>(
        &self,
        user: Option<&UserId>,
        start: F::Start,
        rng: &mut StdRng,
    ) -> Result<Route, PortalError>
    where
        F::Start: Send;
    fn input<F: Flow>(
        &self,
        user: Option<&UserId>,
        id: &FlowId,
        input: F::Input,
        rng: &mut StdRng,
    ) -> Result<Route, PortalError>
    where
        F::Input: Send;
    fn deliver(&self) -> Result<Delivered, PortalError>;
}

impl Driver for Portal {
    const NAME: &'static str = "blocking";
    fn over(ports: Ports, policy: Policy, key: CodeKey) -> Self {
        Portal::new(ports, policy, key)
    }
    fn delivering(self, delivery: Delivery) -> Self {
        self.with_delivery(delivery)
    }
    fn open(&self, kind: FlowKind, user: Option<&UserId>) -> Result<Screen, PortalError> {
        Portal::open(self, kind, user)
    }
    fn start(
        &self,
        kind: FlowKind,
        user: Option<&UserId>,
        form: &Form,
        rng: &mut StdRng,
    ) -> Result<Route, PortalError> {
        Portal::start(self, kind, user, form, rng)
    }
    fn submit(
        &self,
        user: Option<&UserId>,
        flow: &FlowRef,
        form: &Form,
        rng: &mut StdRng,
    ) -> Result<Route, PortalError> {
        Portal::submit(self, user, flow, form, rng)
    }
    fn back(
        &self,
        user: Option<&UserId>,
        flow: &FlowRef,
        rng: &mut StdRng,
    ) -> Result<Route, PortalError> {
        Portal::back(self, user, flow, rng)
    }
    fn current(&self, user: Option<&UserId>, flow: &FlowRef) -> Result<Screen, PortalError> {
        Portal::current(self, user, flow)
    }
    fn account(&self, user: &UserId) -> Result<Option<Account>, PortalError> {
        Portal::account(self, user)
    }
    fn begin_with<F: Entry>(
        &self,
        user: Option<&UserId>,
        start: F::Start,
        rng: &mut StdRng,
    ) -> Result<Route, PortalError>
    where
        F::Start: Send,
    {
        Portal::begin_with::<F, _>(self, user, start, rng)
    }
    fn input<F: Flow>(
        &self,
        user: Option<&UserId>,
        id: &FlowId,
        input: F::Input,
        rng: &mut StdRng,
    ) -> Result<Route, PortalError>
    where
        F::Input: Send,
    {
        Portal::input::<F, _>(self, user, id, input, rng)
    }
    fn deliver(&self) -> Result<Delivered, PortalError> {
        Portal::deliver(self)
    }
}

/// OPS-05: every call is the async driver's future, run to completion on `pollster`; the futures
/// are checked `Send` (what a multi-threaded runtime requires) on the way.
impl Driver for AsyncPortal {
    const NAME: &'static str = "async";
    fn over(ports: Ports, policy: Policy, key: CodeKey) -> Self {
        AsyncPortal::new(AsyncPorts::from(ports), policy, key)
    }
    fn delivering(self, delivery: Delivery) -> Self {
        self.with_delivery(delivery)
    }
    fn open(&self, kind: FlowKind, user: Option<&UserId>) -> Result<Screen, PortalError> {
        run(AsyncPortal::open(self, kind, user))
    }
    fn start(
        &self,
        kind: FlowKind,
        user: Option<&UserId>,
        form: &Form,
        rng: &mut StdRng,
    ) -> Result<Route, PortalError> {
        run(AsyncPortal::start(self, kind, user, form, rng))
    }
    fn submit(
        &self,
        user: Option<&UserId>,
        flow: &FlowRef,
        form: &Form,
        rng: &mut StdRng,
    ) -> Result<Route, PortalError> {
        run(AsyncPortal::submit(self, user, flow, form, rng))
    }
    fn back(
        &self,
        user: Option<&UserId>,
        flow: &FlowRef,
        rng: &mut StdRng,
    ) -> Result<Route, PortalError> {
        run(AsyncPortal::back(self, user, flow, rng))
    }
    fn current(&self, user: Option<&UserId>, flow: &FlowRef) -> Result<Screen, PortalError> {
        run(AsyncPortal::current(self, user, flow))
    }
    fn account(&self, user: &UserId) -> Result<Option<Account>, PortalError> {
        run(AsyncPortal::account(self, user))
    }
    fn begin_with<F: Entry>(
        &self,
        user: Option<&UserId>,
        start: F::Start,
        rng: &mut StdRng,
    ) -> Result<Route, PortalError>
    where
        F::Start: Send,
    {
        run(AsyncPortal::begin_with::<F, _>(self, user, start, rng))
    }
    fn input<F: Flow>(
        &self,
        user: Option<&UserId>,
        id: &FlowId,
        input: F::Input,
        rng: &mut StdRng,
    ) -> Result<Route, PortalError>
    where
        F::Input: Send,
    {
        run(AsyncPortal::input::<F, _>(self, user, id, input, rng))
    }
    fn deliver(&self) -> Result<Delivered, PortalError> {
        run(AsyncPortal::deliver(self))
    }
}

/// Runs a `Send` future to completion on the calling thread.
fn run<T>(future: impl std::future::Future<Output = T> + Send) -> T {
    pollster::block_on(future)
}

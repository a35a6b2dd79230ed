//! The generic entry points as requests over the one transaction logic (OPS-05): each function
//! returns the request a driver runs ([`super::transaction::Transaction`]); the blocking
//! [`Portal`](super::Portal) and the async driver call the same ones, so no flow logic is
//! written twice.

use rand_core::CryptoRng;

use crate::calendar::Instant;
use crate::error::{FlowError, PortalError};
use crate::flow::{Entry, Flow};
use crate::screen::{Form, Screen};
use crate::store::FlowId;
use crate::values::UserId;

use super::{Route, Tx};

/// The entry screen of flow `F`.
pub(crate) fn entry<F: Entry>(
    user: Option<UserId>,
) -> impl FnMut(&mut Tx<'_>, Instant) -> Result<Screen, PortalError> {
    move |tx, now| {
        let records = tx.records(&F::entry_needs(user))?;
        F::entry(user, &records, &tx.view(now))
    }
}

/// Begins flow `F` with a form posted from its entry screen: checked against the screen and
/// parsed (UI-02), then begun, in one request.
pub(crate) fn begin<'a, F: Entry, R: CryptoRng + ?Sized>(
    user: Option<UserId>,
    form: &'a Form,
    rng: &'a mut R,
) -> impl FnMut(&mut Tx<'_>, Instant) -> Result<Route, PortalError> + 'a {
    move |tx, now| {
        let records = tx.records(&F::entry_needs(user))?;
        F::entry(user, &records, &tx.view(now))?
            .accept(form)
            .map_err(FlowError::from)?;
        let start = F::parse_start(form)?;
        begin_step::<F, R>(tx, now, user, start, rng)
    }
}

/// Begins flow `F` with its typed start.
pub(crate) fn begin_with<'a, F: Entry, R: CryptoRng + ?Sized>(
    user: Option<UserId>,
    start: F::Start,
    rng: &'a mut R,
) -> impl FnMut(&mut Tx<'_>, Instant) -> Result<Route, PortalError> + 'a
where
    F::Start: 'a,
{
    move |tx, now| begin_step::<F, R>(tx, now, user, start.clone(), rng)
}

/// The begin step: reads what it needs (one round), then draws the flow's id and runs.
fn begin_step<F: Entry, R: CryptoRng + ?Sized>(
    tx: &mut Tx<'_>,
    now: Instant,
    user: Option<UserId>,
    start: F::Start,
    rng: &mut R,
) -> Result<Route, PortalError> {
    let needs = F::begin_needs(user, &start);
    let records = tx.records(&needs)?;
    let id = FlowId::generate(&mut *rng);
    let step = tx.run(&needs, now, &mut *rng, |cx| {
        F::begin(user, start, &records, &id, cx)
    })?;
    tx.settle::<F, R>(&id, step, &records, now, rng)
}

/// Submits a form to flow `F`: checked against its current screen, parsed (UI-02), then
/// applied, in one request.
pub(crate) fn submit<'a, F: Flow, R: CryptoRng + ?Sized>(
    user: Option<UserId>,
    id: &'a FlowId,
    form: &'a Form,
    rng: &'a mut R,
) -> impl FnMut(&mut Tx<'_>, Instant) -> Result<Route, PortalError> + 'a {
    move |tx, now| {
        let state: F = tx.owned_flow(user.as_ref(), id)?;
        state
            .screen(&tx.view(now))
            .accept(form)
            .map_err(FlowError::from)?;
        let input = state.parse(form)?;
        step::<F, R>(tx, now, id, state, input, rng)
    }
}

/// Applies a typed input to flow `F`.
pub(crate) fn input<'a, F: Flow, R: CryptoRng + ?Sized>(
    user: Option<UserId>,
    id: &'a FlowId,
    input: F::Input,
    rng: &'a mut R,
) -> impl FnMut(&mut Tx<'_>, Instant) -> Result<Route, PortalError> + 'a
where
    F::Input: 'a,
{
    move |tx, now| {
        let state: F = tx.owned_flow(user.as_ref(), id)?;
        step::<F, R>(tx, now, id, state, input.clone(), rng)
    }
}

/// One step of flow `F` from `state`: reads what it declares (one round), spends the budgets
/// it declares (SEC-04, SEC-07), runs the transition and saves it (SEC-02).
fn step<F: Flow, R: CryptoRng + ?Sized>(
    tx: &mut Tx<'_>,
    now: Instant,
    id: &FlowId,
    state: F,
    input: F::Input,
    rng: &mut R,
) -> Result<Route, PortalError> {
    let needs = state.needs(&input);
    let records = tx.records(&needs)?;
    let step = tx.run(&needs, now, &mut *rng, |cx| {
        state.step(input, &records, id, cx)
    })?;
    tx.settle::<F, R>(id, step, &records, now, rng)
}

/// The current screen of flow `F`.
pub(crate) fn screen<'a, F: Flow>(
    user: Option<UserId>,
    id: &'a FlowId,
) -> impl FnMut(&mut Tx<'_>, Instant) -> Result<Screen, PortalError> + 'a {
    move |tx, now| Ok(tx.owned_flow::<F>(user.as_ref(), id)?.screen(&tx.view(now)))
}

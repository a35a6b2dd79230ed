//! The one transaction logic (OPS-04, OPS-05, OPS-01), sans I/O, in the style of quinn-proto
//! and oauth2-rs's `prepare_request`/`endpoint_response`: a [`Transaction`] says what it needs
//! ([`Poll::Read`]: keys and ledger entries, one batch per round), is fed what the host read
//! ([`Transaction::loaded`]), runs the pure request on that snapshot and says what to write
//! ([`Poll::Commit`]: compare-and-swap writes, outbox records included), is told how the commit
//! went ([`Transaction::committed`]) and runs again on fresh data after a lost race. The blocking
//! [`Portal`](super::Portal) and the async driver are the same few-line loop over it, one with
//! blocking ports, one with `.await`; neither holds flow logic or a retry loop.
//!
//! A request is a closure over [`Tx`], the snapshot. A read of a record the snapshot does not
//! hold yet fails the run and is noted; the run is then discarded, the noted keys are read in one
//! batch, and the request runs again from the start on the larger snapshot. Every entry point
//! reads the flow's state first and then what the state's step declares ([`Needs`]), each batch in
//! one round; nothing is drawn from the CSPRNG and nothing is hashed before the reads a step
//! declared are in, so a discarded run costs no draw and no hash. Code mails spend their
//! address's hourly budget (SEC-04) after the run, from the snapshot; a budget the step did not
//! declare ([`Needs::code_mails`]) is read in one more round without running the step again.
//! Likewise an account saved new or with other security email addresses rewrites its office's
//! [`OfficeAccounts`] record in the same commit, read after the run if the step had not.

use std::collections::HashMap;

use rand_core::CryptoRng;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::account::{Account, OfficeAccounts};
use crate::calendar::Instant;
use crate::effect::{Effect, EffectId, Outgoing, Queued};
use crate::error::{FlowError, PortalError};
use crate::flow::{Cx, Flow, Needs, Next, Records, Step, View};
use crate::policy::Policy;
use crate::ports::OfficeRecord;
use crate::secret::SecretHasher;
use crate::store::{Budget, FlowId, Key, RateWindow, StoreError, Versioned, Write};
use crate::validate::Check;
use crate::values::{EmailAddress, OfficeNumber, UserId};

use super::{FlowRef, Route, gate};

/// How many times a request is re-run when it loses a compare-and-swap race.
const MAX_ATTEMPTS: usize = 8;
/// How many read rounds one attempt may take: a request that keeps finding new keys is a bug.
const MAX_ROUNDS: usize = 8;
/// The message of the error a read outside the snapshot fails a run with; the run is discarded.
const UNREAD: &str = "read outside the snapshot (the driver reads it and runs the request again)";

/// One round's batched read: the records and the ledger entries a request needs next.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Read {
    /// Records, for [`Store::load_many`](crate::store::Store::load_many).
    pub(crate) keys: Vec<Key>,
    /// Ledger entries, for [`OfficeLedger::find`](crate::ports::OfficeLedger::find).
    pub(crate) offices: Vec<OfficeNumber>,
}

/// What a read brought: the records in the order of [`Read::keys`], the ledger entries in the
/// order of [`Read::offices`].
pub(crate) type Loaded = (Vec<Option<Versioned>>, Vec<Option<OfficeRecord>>);

/// What the driver does next.
#[derive(Debug)]
pub(crate) enum Poll<T> {
    /// Read these in one batch, then [`Transaction::loaded`].
    Read(Read),
    /// Commit these writes atomically, then [`Transaction::committed`].
    Commit(Vec<Write>),
    /// The request's answer. On success, [`Transaction::queued`] holds the outbox records it
    /// committed, for a driver that delivers right after the commit.
    Done(Result<T, PortalError>),
}

/// A request as a state machine over [`Tx`] (see the module docs).
pub(crate) struct Transaction<'p, T, Op> {
    op: Op,
    now: Instant,
    tx: Tx<'p>,
    stage: Stage<T>,
    attempts: usize,
    rounds: usize,
    queued: Vec<Queued>,
}

enum Stage<T> {
    /// Run the request (again) on the snapshot.
    Run,
    /// Waiting for the read of keys the run found missing.
    Reading(Read),
    /// The run succeeded; waiting for the read of what it writes after it ran: the code-mail
    /// budgets it spends and the office records its account saves change.
    Budgets(T, Read),
    /// Waiting for the commit.
    Committing(T),
    /// An answer that writes nothing, decided on a snapshot read in several rounds: waiting for
    /// everything read to be read again, to answer only if none of it changed meanwhile.
    Validating(Result<T, PortalError>, Read),
    /// Answered.
    Done,
}

impl<'p, T, Op> Transaction<'p, T, Op>
where
    Op: FnMut(&mut Tx<'p>, Instant) -> Result<T, PortalError>,
{
    /// A request `op` at `now`.
    pub(crate) fn new(
        policy: &'p Policy,
        hasher: &'p dyn SecretHasher,
        now: Instant,
        op: Op,
    ) -> Self {
        Transaction {
            op,
            now,
            tx: Tx::new(policy, hasher, now),
            stage: Stage::Run,
            attempts: 0,
            rounds: 0,
            queued: Vec::new(),
        }
    }

    /// What to do next.
    pub(crate) fn poll(&mut self) -> Poll<T> {
        loop {
            match std::mem::replace(&mut self.stage, Stage::Done) {
                Stage::Run => {
                    self.tx.restart();
                    let result = (self.op)(&mut self.tx, self.now);
                    if let Some(read) = self.tx.take_missing() {
                        return self.read(read, Stage::Reading);
                    }
                    match result {
                        Ok(value) => self.stage = Stage::Budgets(value, Read::default()),
                        Err(e) => return self.answer(Err(e)),
                    }
                }
                Stage::Budgets(value, _) => {
                    let read = self.tx.unread_after_run();
                    if !read.keys.is_empty() {
                        return self.read(read, |r| Stage::Budgets(value, r));
                    }
                    let after = self.tx.spend_code_mails(self.now);
                    if let Err(e) = after.and_then(|()| self.tx.write_office_accounts()) {
                        return self.done(Err(e));
                    }
                    return match self.tx.writes() {
                        Ok((writes, _))
                            if self.tx.rejected.is_none()
                                && writes.iter().all(|w| matches!(w, Write::Check { .. })) =>
                        {
                            // A request that writes nothing has nothing to commit.
                            self.answer(Ok(value))
                        }
                        Ok((writes, queued)) => {
                            self.queued = queued;
                            self.stage = Stage::Committing(value);
                            Poll::Commit(writes)
                        }
                        Err(e) => self.done(Err(e)),
                    };
                }
                Stage::Reading(_) | Stage::Committing(_) | Stage::Validating(..) | Stage::Done => {
                    return self.done(Err(StoreError::Unavailable(
                        "the transaction was polled out of turn".into(),
                    )
                    .into()));
                }
            }
        }
    }

    fn read(&mut self, read: Read, stage: impl FnOnce(Read) -> Stage<T>) -> Poll<T> {
        self.rounds += 1;
        if self.rounds > MAX_ROUNDS {
            return self.done(Err(StoreError::Unavailable(
                "a request kept asking for more records".into(),
            )
            .into()));
        }
        self.stage = stage(read.clone());
        Poll::Read(read)
    }

    /// An answer that commits nothing. Decided on one batched read, it stands (SEC-02: one read
    /// is one state). Decided on records read in several rounds, another request may have
    /// committed between them: everything read is read again first, and the request answers
    /// only if none of it changed; otherwise it runs again on what was read.
    fn answer(&mut self, result: Result<T, PortalError>) -> Poll<T> {
        if self.rounds <= 1 {
            return self.done(result);
        }
        let read = Read {
            keys: self.tx.read.keys().cloned().collect(),
            offices: Vec::new(),
        };
        self.read(read, |r| Stage::Validating(result, r))
    }

    fn done(&mut self, result: Result<T, PortalError>) -> Poll<T> {
        self.stage = Stage::Done;
        if result.is_err() {
            self.queued.clear();
        }
        Poll::Done(result)
    }

    /// Feeds what the host read for the last [`Poll::Read`]; then [`Transaction::poll`].
    pub(crate) fn loaded(&mut self, result: Result<Loaded, PortalError>) -> Poll<T> {
        let read = match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Reading(read) => {
                self.stage = Stage::Run;
                read
            }
            Stage::Budgets(value, read) => {
                self.stage = Stage::Budgets(value, Read::default());
                read
            }
            Stage::Validating(answer, read) => {
                let records = match result {
                    Ok((records, _)) if records.len() == read.keys.len() => records,
                    Ok(_) => {
                        return self.done(Err(StoreError::Unavailable(
                            "the store returned another number of records than asked".into(),
                        )
                        .into()));
                    }
                    Err(e) => return self.done(Err(e)),
                };
                let unchanged =
                    read.keys.iter().zip(&records).all(|(key, now)| {
                        self.tx.version_read(key) == now.as_ref().map(|v| v.version)
                    });
                if unchanged {
                    return self.done(answer);
                }
                self.attempts += 1;
                if self.attempts >= MAX_ATTEMPTS {
                    return self.done(Err(StoreError::Conflict.into()));
                }
                // Run again on what was just read: one read, one state.
                if let Err(e) = self.check(&read.keys, &records) {
                    return self.done(Err(e.into()));
                }
                self.tx.forget();
                self.tx.read.extend(read.keys.into_iter().zip(records));
                self.rounds = 1;
                self.stage = Stage::Run;
                return self.poll();
            }
            _ => {
                return self.done(Err(StoreError::Unavailable(
                    "records fed to a transaction that asked for none".into(),
                )
                .into()));
            }
        };
        let (records, offices) = match result {
            Ok(loaded) => loaded,
            Err(e) => return self.done(Err(e)),
        };
        if records.len() != read.keys.len() || offices.len() != read.offices.len() {
            return self.done(Err(StoreError::Unavailable(format!(
                "asked for {} records and {} ledger entries, got {} and {}",
                read.keys.len(),
                read.offices.len(),
                records.len(),
                offices.len()
            ))
            .into()));
        }
        if let Err(e) = self.check(&read.keys, &records) {
            return self.done(Err(e.into()));
        }
        self.tx.read.extend(read.keys.into_iter().zip(records));
        self.tx.ledger.extend(read.offices.into_iter().zip(offices));
        self.poll()
    }

    /// OPS-07: every record read is checked under the policy at the request's instant before
    /// any run sees it; one that fails refuses the request as [`StoreError::Corrupt`].
    fn check(&self, keys: &[Key], records: &[Option<Versioned>]) -> Result<(), StoreError> {
        let check = Check {
            now: self.now,
            policy: self.tx.policy,
        };
        for (key, record) in keys.iter().zip(records) {
            if let Some(record) = record {
                super::validate::record(key, &record.value, &check)?;
            }
        }
        Ok(())
    }

    /// Tells how the last [`Poll::Commit`] went; then [`Transaction::poll`]. A lost race runs
    /// the request again on fresh data, up to 8 attempts in all.
    pub(crate) fn committed(&mut self, result: Result<(), StoreError>) -> Poll<T> {
        let Stage::Committing(value) = std::mem::replace(&mut self.stage, Stage::Done) else {
            return self.done(Err(StoreError::Unavailable(
                "a commit reported to a transaction that made none".into(),
            )
            .into()));
        };
        match result {
            Ok(()) => match self.tx.rejected.take() {
                Some(error) => {
                    // The state is saved; its effects are committed and delivered too.
                    self.stage = Stage::Done;
                    Poll::Done(Err(error.into()))
                }
                None => {
                    self.stage = Stage::Done;
                    Poll::Done(Ok(value))
                }
            },
            Err(StoreError::Conflict) => {
                self.attempts += 1;
                self.queued.clear();
                if self.attempts >= MAX_ATTEMPTS {
                    return self.done(Err(StoreError::Conflict.into()));
                }
                self.rounds = 0;
                self.tx.forget();
                self.stage = Stage::Run;
                self.poll()
            }
            Err(e) => self.done(Err(e.into())),
        }
    }

    /// The outbox records the successful commit wrote, in order (OPS-01).
    pub(crate) fn queued(&mut self) -> Vec<Queued> {
        std::mem::take(&mut self.queued)
    }
}

/// One request's view of the store: a snapshot. Every record is read once and remembered with
/// its version, so a second read sees the same record (or what this request staged for it);
/// every write is staged against the version read; every record read and not written is checked
/// unchanged at the commit (SEC-02, SEC-07); effects are staged with the writes and committed
/// with them (OPS-01).
pub(crate) struct Tx<'p> {
    policy: &'p Policy,
    hasher: &'p dyn SecretHasher,
    /// The request's instant: what expiries are set from and checked against (OPS-02).
    now: Instant,
    /// The snapshot: every record read this attempt, with its version.
    read: HashMap<Key, Option<Versioned>>,
    /// The ledger entries read this attempt.
    ledger: HashMap<OfficeNumber, Option<OfficeRecord>>,
    /// What this run read outside the snapshot.
    missing: Read,
    staged: Vec<(Key, Option<Vec<u8>>)>,
    pub(crate) effects: Vec<Effect>,
    pub(crate) rejected: Option<FlowError>,
    /// SEC-04: the addresses this run drew a code for, mailed or withheld.
    code_mails: Vec<EmailAddress>,
    /// OPS-04: the user IDs whose accounts this run saved new or with other security email
    /// addresses: their offices' [`OfficeAccounts`] records are written in the same commit, from
    /// the accounts as finally staged.
    reindexed: Vec<UserId>,
}

impl<'p> Tx<'p> {
    fn new(policy: &'p Policy, hasher: &'p dyn SecretHasher, now: Instant) -> Self {
        Tx {
            policy,
            hasher,
            now,
            read: HashMap::new(),
            ledger: HashMap::new(),
            missing: Read::default(),
            staged: Vec::new(),
            effects: Vec::new(),
            rejected: None,
            code_mails: Vec::new(),
            reindexed: Vec::new(),
        }
    }

    /// A fresh run on the same snapshot.
    fn restart(&mut self) {
        self.missing = Read::default();
        self.staged.clear();
        self.effects.clear();
        self.rejected = None;
        self.code_mails.clear();
        self.reindexed.clear();
    }

    /// A fresh attempt: the snapshot is forgotten.
    fn forget(&mut self) {
        self.read.clear();
        self.ledger.clear();
    }

    fn take_missing(&mut self) -> Option<Read> {
        let read = std::mem::take(&mut self.missing);
        (!read.keys.is_empty() || !read.offices.is_empty()).then_some(read)
    }

    /// The policy in force.
    pub(crate) fn policy(&self) -> &'p Policy {
        self.policy
    }

    /// What a screen is drawn with at `now`.
    pub(crate) fn view(&self, now: Instant) -> View<'p> {
        View {
            now,
            policy: self.policy,
        }
    }

    fn unread() -> PortalError {
        StoreError::Unavailable(UNREAD.into()).into()
    }

    /// Notes `key` as needed when the snapshot does not hold it; whether it does.
    fn want(&mut self, key: &Key) -> bool {
        if self.read.contains_key(key) || self.staged.iter().any(|(k, _)| k == key) {
            return true;
        }
        if !self.missing.keys.contains(key) {
            self.missing.keys.push(key.clone());
        }
        false
    }

    /// Reads a record: what this request staged for it, else the snapshot's copy. A record the
    /// snapshot does not hold fails the run; the driver reads it and runs the request again.
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
        if !self.want(key) {
            return Err(Self::unread());
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

    /// Reads what `needs` declares in one round (OPS-04): its records, the budgets it checks
    /// and spends, and its ledger entry. Everything missing from the snapshot is noted at once.
    pub(crate) fn records(&mut self, needs: &Needs) -> Result<Records, PortalError> {
        let budgets = needs.guesses.iter().cloned().map(Key::Budget).chain(
            needs
                .code_mails
                .iter()
                .cloned()
                .map(|a| Key::Budget(Budget::CodeMails(a))),
        );
        let mut complete = true;
        for key in needs.keys.iter().cloned().chain(budgets) {
            complete &= self.want(&key);
        }
        if let Some(office) = needs.office
            && !self.ledger.contains_key(&office)
        {
            complete = false;
            if !self.missing.offices.contains(&office) {
                self.missing.offices.push(office);
            }
        }
        if !complete {
            return Err(Self::unread());
        }
        let mut found = Vec::with_capacity(needs.keys.len());
        for key in &needs.keys {
            let bytes = self.bytes(key)?.map(<[u8]>::to_vec);
            found.push((key.clone(), bytes));
        }
        let ledger = needs.office.and_then(|o| self.ledger[&o].clone());
        Ok(Records::new(found, ledger))
    }

    /// Runs a transition under the hourly budgets: with `needs.guesses`, it runs only while the
    /// budget has wrong entries left, and a wrong code spends one (SEC-07); then every code it
    /// drew, mailed or withheld, spends one code mail of its address's budget (SEC-04) when the
    /// request is committed.
    pub(crate) fn run<S, R: CryptoRng + ?Sized>(
        &mut self,
        needs: &Needs,
        now: Instant,
        rng: &mut R,
        transition: impl FnOnce(&mut Cx<'_, R>) -> Result<Step<S>, PortalError>,
    ) -> Result<Step<S>, PortalError> {
        let step = match needs.guesses.clone() {
            None => transition(&mut self.cx(now, rng))?,
            Some(budget) => {
                let mut outcome = None;
                let (policy, hasher) = (self.policy, self.hasher);
                let verdict = self.guard_guesses(budget, now, || {
                    let mut cx = Cx {
                        now,
                        rng,
                        policy,
                        hasher,
                    };
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
                    Some(step) => step?,
                    None => {
                        let refusal = verdict.err().unwrap_or(FlowError::GuessBudgetExceeded);
                        return Err(refusal.into());
                    }
                }
            }
        };
        for effect in &step.effects {
            match effect {
                Effect::Mail(mail) if mail.code().is_some() => {
                    self.code_mails.push(mail.to.clone())
                }
                Effect::Withheld(to) => self.code_mails.push(to.clone()),
                _ => {}
            }
        }
        Ok(step)
    }

    /// What this run writes after it ran that the snapshot does not hold: the code-mail budgets
    /// it spends (SEC-04) and the office records of the accounts it saved changed (OPS-04).
    fn unread_after_run(&mut self) -> Read {
        let mut read = Read::default();
        let budgets = self
            .code_mails
            .iter()
            .map(|to| Key::Budget(Budget::CodeMails(to.clone())));
        let offices = self
            .reindexed
            .iter()
            .map(|user| Key::OfficeAccounts(user.office()));
        for key in budgets.chain(offices) {
            if !self.read.contains_key(&key) && !read.keys.contains(&key) {
                read.keys.push(key);
            }
        }
        read
    }

    /// OPS-04: notes `account`, about to be saved, when it is new or its security email
    /// addresses differ from the stored account's (then its office's [`OfficeAccounts`] record
    /// changes). An account the request did not read is noted all the same.
    fn reindex(&mut self, account: &Account) -> Result<(), PortalError> {
        let key = Key::Account(account.user_id);
        let stored = match self.read.get(&key) {
            Some(Some(stored)) => Some(
                serde_json::from_slice::<Account>(&stored.value)
                    .map_err(|e| StoreError::Corrupt(format!("{key}: {e}")))?,
            ),
            _ => None,
        };
        let same = stored.is_some_and(|stored| {
            (stored.security_emails.addresses()).eq(account.security_emails.addresses())
        });
        if !same && !self.reindexed.contains(&account.user_id) {
            self.reindexed.push(account.user_id);
        }
        Ok(())
    }

    /// OPS-04: writes the office records of the accounts this run saved changed
    /// ([`Tx::reindex`]), read by [`Tx::unread_after_run`].
    fn write_office_accounts(&mut self) -> Result<(), PortalError> {
        for user in std::mem::take(&mut self.reindexed) {
            let account = self.account(user)?;
            let key = Key::OfficeAccounts(user.office());
            let mut office: OfficeAccounts = self.get(&key)?.unwrap_or_default();
            if office.record(&account) {
                self.put(key, &office)?;
            }
        }
        Ok(())
    }

    /// SEC-04: spends one code mail per code drawn; [`FlowError::MailBudgetExceeded`] when an
    /// address has none left this hour (then nothing is committed).
    fn spend_code_mails(&mut self, now: Instant) -> Result<(), PortalError> {
        for to in std::mem::take(&mut self.code_mails) {
            self.spend_code_mail(&to, now)?;
        }
        Ok(())
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
                let screen = state.screen(&self.view(now));
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
        kind: crate::store::FlowKind,
        id: &FlowId,
    ) -> Result<S, PortalError> {
        let key = Key::Flow(kind, id.clone());
        let state = self.get(&key)?.ok_or(PortalError::NoSuchFlow)?;
        // OPS-02, SEC-03: a flow dead at `now` answers as expired, purged or not.
        let staged = self.staged.iter().any(|(k, _)| *k == key);
        let dead = self
            .read
            .get(&key)
            .and_then(Option::as_ref)
            .is_some_and(|v| v.dead_at(self.now));
        if dead && !staged {
            return Err(FlowError::FlowExpired.into());
        }
        Ok(state)
    }

    /// OPS-02: the expiry a write of `bytes` at `key` carries, from the policy: a flow dies the
    /// policy's flow lifetime after its last step; a budget window an hour after its newest hit
    /// (the newest, not `now`: a clock running backwards never shortens it); an outbox record
    /// the policy's outbox retention after its commit. Other records live until removed.
    fn expiry(&self, key: &Key, bytes: &[u8]) -> Result<Option<Instant>, PortalError> {
        let after = |from: Instant, life: chrono::TimeDelta| {
            Some(from.checked_add_signed(life).unwrap_or(Instant::MAX_UTC))
        };
        Ok(match key {
            Key::Flow(..) => after(self.now, self.policy.flow_lifetime()),
            Key::Budget(_) => {
                let window: RateWindow = serde_json::from_slice(bytes)
                    .map_err(|e| StoreError::Corrupt(format!("{key}: {e}")))?;
                window
                    .newest()
                    .and_then(|t| after(t, chrono::TimeDelta::hours(1)))
            }
            Key::Outbox(_) => after(self.now, self.policy.outbox_retention()),
            _ => None,
        })
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

    /// Stages account saves and record writes ([`Effect::Put`], [`Effect::Delete`]) and the
    /// other effects, which go to the outbox in the same commit (OPS-01). An account is saved
    /// only by [`Effect::SaveAccount`], which keeps its office's record in step (OPS-04): a
    /// [`Effect::Put`] or [`Effect::Delete`] of an account or an office's accounts record is
    /// refused, and nothing is committed.
    pub(crate) fn apply(&mut self, effects: Vec<Effect>) -> Result<(), PortalError> {
        for effect in effects {
            if let Effect::Put { key, .. } | Effect::Delete(key) = &effect
                && matches!(key, Key::Account(_) | Key::OfficeAccounts(_))
            {
                return Err(StoreError::Unavailable(format!(
                    "{key} is written only by an account save (Effect::SaveAccount)"
                ))
                .into());
            }
            if let Effect::SaveAccount(account) = &effect {
                self.reindex(account)?;
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

    /// The staged writes, each against the version it was read at; a [`Write::Check`] for
    /// every record read and not written; then one outbox record per outgoing effect, in the
    /// order of the effects (OPS-01).
    fn writes(&self) -> Result<(Vec<Write>, Vec<Queued>), PortalError> {
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
        let mut writes = self
            .staged
            .iter()
            .map(|(key, value)| {
                let expected = self.version_read(key);
                Ok(match value {
                    Some(bytes) => Write::Put {
                        key: key.clone(),
                        expected,
                        value: bytes.clone(),
                        expires: self.expiry(key, bytes)?,
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
            .collect::<Result<Vec<_>, PortalError>>()?;
        let queued: Vec<Queued> = self
            .effects
            .iter()
            .filter_map(Outgoing::of)
            .map(|effect| Queued {
                id: EffectId::fresh(),
                effect,
            })
            .collect();
        for q in &queued {
            writes.push(Write::Put {
                key: Key::Outbox(q.id.clone()),
                expected: None,
                value: q.to_bytes()?,
                expires: self.expiry(&Key::Outbox(q.id.clone()), &[])?,
            });
        }
        Ok((writes, queued))
    }

    /// A context for a pure transition.
    pub(crate) fn cx<'a, R: CryptoRng + ?Sized>(&self, now: Instant, rng: &'a mut R) -> Cx<'a, R>
    where
        'p: 'a,
    {
        Cx {
            now,
            rng,
            policy: self.policy,
            hasher: self.hasher,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::utc;
    use crate::policy::HashingParams;
    use crate::secret::{Argon2Hasher, CodeKey};

    /// OPS-04: an account and an office's accounts record are written only by an account save,
    /// which keeps the record in step: a step's `Effect::Put` or `Effect::Delete` of either is
    /// refused and stages nothing.
    #[test]
    fn ops_04_accounts_are_written_only_by_account_saves() {
        let policy = Policy::default();
        let hasher =
            Argon2Hasher::new(HashingParams::insecure_fast(), CodeKey::from_bytes([1; 32]));
        let mut tx = Tx::new(&policy, &hasher, utc("2026-01-10T10:00:00+09:00"));
        let user: UserId = "KJ131311111111".parse().unwrap();
        let account = Account::new(user, crate::secret::PasswordHash::from_phc("$argon2id$x"));
        for effect in [
            Effect::put(Key::Account(user), &account).unwrap(),
            Effect::put(
                Key::OfficeAccounts(user.office()),
                &OfficeAccounts::default(),
            )
            .unwrap(),
            Effect::Delete(Key::Account(user)),
            Effect::Delete(Key::OfficeAccounts(user.office())),
        ] {
            let refused = tx.apply(vec![effect]);
            assert!(
                matches!(&refused, Err(PortalError::Store(StoreError::Unavailable(why))) if why.contains("Effect::SaveAccount")),
                "{refused:?}"
            );
            assert!(tx.staged.is_empty() && tx.effects.is_empty());
        }
        let certificates = Key::Certificates(user.office());
        tx.apply(vec![
            Effect::put(certificates.clone(), &Vec::<u8>::new()).unwrap(),
        ])
        .unwrap();
        assert_eq!(tx.staged.len(), 1, "another record's put is staged");
    }
}

//! A conformance kit for the ports a host implements: one function per port runs the port's
//! contract against the host's implementation and returns the first [`Violation`] it finds.
//!
//! Behind the `testkit` feature, for a host's own tests:
//!
//! ```toml
//! [dev-dependencies]
//! kaigo-seikyu = { version = "0.1", features = ["testkit"] }
//! ```
//!
//! | port | kit function | what it proves |
//! | --- | --- | --- |
//! | [`Store`] | [`store`] (all eight below) | |
//! | | [`compare_and_swap`] | versions, stale and absent writes refused, all-or-nothing commits, bytes kept exactly |
//! | | [`racing_saves`] | of N saves racing on one version, exactly one wins (SEC-02) |
//! | | [`no_lost_update`] | N threads incrementing one record with compare-and-swap retry lose no increment |
//! | | [`sequence_numbers`] | N threads claiming a month's next number get `1..=N`, unique and gap-free (VAL-08) |
//! | | [`expiry_and_purge`] | expiries kept, only dead records purged, at most `limit` (OPS-02) |
//! | | [`scan`] | a key range listed in key order, after a key, up to a limit (OPS-03) |
//! | | [`load_many`] | every key answered in order as `load` answers it, absent ones as `None` (OPS-04) |
//! | | [`outbox`] | outbox records listed in commit order until removed, refused commits change nothing (OPS-01) |
//! | `AsyncStore` (feature `async`) | `async_store` | the store contracts above that its calls cover, through the host's `block_on` (OPS-05) |
//! | `AsyncOfficeLedger` (feature `async`) | `async_office_ledger` | [`office_ledger`]'s contract, through the host's `block_on` (OPS-05) |
//! | `AsyncEffects` (feature `async`) | `async_effects` | each effect reaches its port unchanged and in order, a withheld code none, a repeated id accepted (OPS-01, OPS-05) |
//! | [`Mailer`] | [`mailer_outbox`] | queue order, at-least-once delivery across a failed send, concurrent enqueues (SEC-08) |
//! | [`NoticeBoard`] | [`notice_board`] | notices reach their office only, in order, unchanged |
//! | [`AuditLog`] | [`audit_log`] | events are kept in order, unchanged |
//! | [`OfficeLedger`] | [`office_ledger`] | look-ups find exactly what the ledger holds, from many threads |
//! | [`Sessions`] | [`sessions`] | revoking is accepted for any user ID, repeatedly |
//!
//! Run the kit on a fresh store: each function writes its own keys (flow ids `7e57…`, the months
//! of the year 1000) and refuses to start if they already exist. The store functions take
//! several handles to one store (connections, pools, processes' clients) and spread their threads
//! over them, so a host can prove that racing *connections* are refused, not only racing threads.
//!
//! The write-only ports need a way to look: [`mailer_outbox`] drives the host's delivery loop
//! through [`DeliveryLoop`], and [`notice_board`] and [`audit_log`] take a closure reading back
//! what was stored.
//!
//! # Example
//! The in-memory ports, in a few lines (a host with a database passes its own types; see
//! [`DeliveryLoop`] for the outbox):
//! ```
//! use kaigo_seikyu::calendar::utc;
//! use kaigo_seikyu::memory::Embedded;
//! use kaigo_seikyu::ports::OfficeRecord;
//! use kaigo_seikyu::testkit;
//! use kaigo_seikyu::values::Prefecture;
//!
//! let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
//! let office = OfficeRecord {
//!     number: "1311111111".parse()?,
//!     name: "請求事業所A".into(),
//!     postal_address: "東京都千代田区".into(),
//!     phone: "03-0000-0000".into(),
//!     billing: vec![Prefecture::TOKYO],
//! };
//! host.ledger.insert(office.clone());
//!
//! testkit::store(&[&*host.store])?;
//! testkit::mailer_outbox(&*host.outbox, &*host.outbox)?;
//! testkit::notice_board(&*host.notices, &|office| Ok(host.notices.for_office(office)))?;
//! testkit::audit_log(&*host.events, &|| Ok(host.events.all()))?;
//! testkit::office_ledger(&*host.ledger, &[office], &["2711111111".parse()?])?;
//! testkit::sessions(&*host.sessions)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod models;

use std::collections::BTreeSet;
use std::fmt::Display;
use std::str::FromStr;
use std::sync::Barrier;
use std::thread;

use crate::calendar::{Instant, YearMonth};
use crate::effect::{EffectId, Event, EventKind};
use crate::mail::{self, Mail, Notice};
use crate::memory::Outbox;
use crate::ports::{
    AuditLog, Mailer, NoticeBoard, OfficeLedger, OfficeRecord, PortError, Sessions,
};
use crate::store::{FlowId, FlowKind, Key, Store, StoreError, Versioned, Write};
use crate::values::{ConfirmationCode, EmailAddress, OfficeNumber, OneTimePassword, UserId};

/// A port broke its contract: which contract, and what the kit saw.
///
/// # Example
/// ```
/// use kaigo_seikyu::testkit::Violation;
/// let v = Violation { contract: "store: compare-and-swap", problem: "a stale write was applied".into() };
/// assert_eq!(v.to_string(), "store: compare-and-swap: a stale write was applied");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{contract}: {problem}")]
pub struct Violation {
    /// The contract, e.g. `store: compare-and-swap`.
    pub contract: &'static str,
    /// What the kit saw.
    pub problem: String,
}

const CAS: &str = "store: compare-and-swap";
const RACE: &str = "store: racing saves";
const LOST: &str = "store: no lost update";
const SEQ: &str = "store: sequence numbers";
const EXPIRY: &str = "store: expiry and purge";
const SCAN: &str = "store: ordered scan";
const MANY: &str = "store: load_many";
const QUEUE: &str = "store: outbox";
const OUTBOX: &str = "mailer: outbox";
const NOTICES: &str = "notice board";
const AUDIT: &str = "audit log";
const LEDGER: &str = "office ledger";
const SESSIONS: &str = "sessions";

/// How many independent races [`racing_saves`] runs.
const RACE_ROUNDS: u64 = 8;
/// How many times one claim may lose a race before the kit calls it starved.
const MAX_CLAIM_ATTEMPTS: usize = 100_000;

fn fail<T>(contract: &'static str, problem: impl Into<String>) -> Result<T, Violation> {
    Err(Violation {
        contract,
        problem: problem.into(),
    })
}

fn ensure(
    ok: bool,
    contract: &'static str,
    problem: impl FnOnce() -> String,
) -> Result<(), Violation> {
    if ok {
        Ok(())
    } else {
        fail(contract, problem())
    }
}

/// A port's error where the contract expects success.
fn port<T, E: Display>(
    contract: &'static str,
    what: &str,
    r: Result<T, E>,
) -> Result<T, Violation> {
    r.or_else(|e| fail(contract, format!("{what} failed: {e}")))
}

/// A kit constant parsed into a value type.
fn value<T: FromStr>(contract: &'static str, text: &str) -> Result<T, Violation>
where
    T::Err: Display,
{
    text.parse()
        .or_else(|e| fail(contract, format!("kit value {text:?} does not parse: {e}")))
}

/// A flow key of the kit's own: flow id `7e57` + a tag for the contract + a serial number.
fn kit_key(contract: &'static str, tag: u16, n: u64) -> Result<Key, Violation> {
    let id: FlowId = value(contract, &format!("7e57{tag:04x}{n:024x}"))?;
    Ok(Key::Flow(FlowKind::Reset, id))
}

/// The kit's months, in the year 1000 that no application is ever received in.
fn kit_month(n: u8) -> Result<YearMonth, Violation> {
    YearMonth::new(1000, n).map_or_else(|| fail(SEQ, format!("no month {n}")), Ok)
}

/// The first of the handles.
fn first_handle<'a>(
    contract: &'static str,
    stores: &[&'a dyn Store],
) -> Result<&'a dyn Store, Violation> {
    stores
        .first()
        .copied()
        .map_or_else(|| fail(contract, "no store handle given"), Ok)
}

fn absent(contract: &'static str, store: &dyn Store, key: &Key) -> Result<(), Violation> {
    match load(contract, store, key)? {
        None => Ok(()),
        Some(_) => fail(
            contract,
            format!("{key} already exists: run the kit on a fresh store"),
        ),
    }
}

fn load(
    contract: &'static str,
    store: &dyn Store,
    key: &Key,
) -> Result<Option<Versioned>, Violation> {
    port(contract, &format!("loading {key}"), store.load(key))
}

fn put(key: &Key, expected: Option<u64>, value: &[u8]) -> Write {
    Write::Put {
        key: key.clone(),
        expected,
        value: value.to_vec(),
        expires: None,
    }
}

/// Checks that `key` holds `want`: a version and bytes, or nothing when `None`.
fn holds(
    contract: &'static str,
    store: &dyn Store,
    key: &Key,
    want: Option<(u64, &[u8])>,
    after: &str,
) -> Result<(), Violation> {
    let got = load(contract, store, key)?;
    let got = got.as_ref().map(|v| (v.version, v.value.as_slice()));
    ensure(got == want, contract, || {
        let show = |x: Option<(u64, &[u8])>| {
            x.map_or("nothing".to_owned(), |(v, b)| {
                format!(
                    "version {v}, {} bytes {:?}",
                    b.len(),
                    String::from_utf8_lossy(&b[..b.len().min(40)])
                )
            })
        };
        format!(
            "after {after}, {key} holds {} instead of {}",
            show(got),
            show(want)
        )
    })
}

/// Commits `writes` expecting a refusal as a conflict.
fn refused(
    contract: &'static str,
    store: &dyn Store,
    writes: &[Write],
    what: &str,
) -> Result<(), Violation> {
    match store.commit(writes) {
        Err(StoreError::Conflict) => Ok(()),
        Ok(()) => fail(
            contract,
            format!("{what} was applied; it must be refused with StoreError::Conflict"),
        ),
        Err(e) => fail(
            contract,
            format!("{what} failed with {e:?}; it must be refused with StoreError::Conflict"),
        ),
    }
}

fn accepted(
    contract: &'static str,
    store: &dyn Store,
    writes: &[Write],
    what: &str,
) -> Result<(), Violation> {
    port(contract, what, store.commit(writes))
}

/// The store's compare-and-swap contract (SEC-02), one step at a time: a record is created only
/// when absent, at version 1; each put moves the version by one; a write against a stale, future
/// or absent version is refused with [`StoreError::Conflict`] and changes nothing; a commit with
/// one refused write writes none of the others; deletes are checked the same way; a record
/// deleted and created again starts at version 1; an empty commit succeeds; keys that differ only
/// in the flow kind are different records; and values come back byte for byte (empty, binary,
/// not UTF-8, 64 KiB).
///
/// # Example
/// ```
/// let store = kaigo_seikyu::memory::MemoryStore::default();
/// kaigo_seikyu::testkit::compare_and_swap(&store)?;
/// # Ok::<(), kaigo_seikyu::testkit::Violation>(())
/// ```
pub fn compare_and_swap(store: &dyn Store) -> Result<(), Violation> {
    let (a, b, c) = (
        kit_key(CAS, 1, 1)?,
        kit_key(CAS, 1, 2)?,
        kit_key(CAS, 1, 3)?,
    );
    let Key::Flow(_, id) = &a else {
        return fail(CAS, "kit key is not a flow");
    };
    let twin = Key::Flow(FlowKind::Login, id.clone());
    for key in [&a, &b, &c, &twin] {
        absent(CAS, store, key)?;
    }

    accepted(CAS, store, &[], "an empty commit")?;
    accepted(
        CAS,
        store,
        &[put(&a, None, b"a1")],
        "creating a record (expected: absent)",
    )?;
    holds(CAS, store, &a, Some((1, b"a1")), "creating it")?;
    holds(
        CAS,
        store,
        &twin,
        None,
        "creating a record of the same id but another flow kind",
    )?;
    refused(
        CAS,
        store,
        &[put(&a, None, b"again")],
        "creating a record that exists",
    )?;
    accepted(
        CAS,
        store,
        &[put(&a, Some(1), b"a2")],
        "a put against the current version",
    )?;
    holds(CAS, store, &a, Some((2, b"a2")), "a put against version 1")?;
    refused(
        CAS,
        store,
        &[put(&a, Some(1), b"stale")],
        "a put against a stale version",
    )?;
    refused(
        CAS,
        store,
        &[put(&a, Some(3), b"future")],
        "a put against a version not reached yet",
    )?;
    refused(
        CAS,
        store,
        &[put(&b, Some(1), b"ghost")],
        "a put against a version of an absent record",
    )?;
    holds(CAS, store, &a, Some((2, b"a2")), "refused puts")?;
    holds(CAS, store, &b, None, "refused puts")?;

    // All or nothing: one stale write sinks the whole commit, wherever it is in the list.
    for (i, order) in [[0, 1, 2], [2, 1, 0]].iter().enumerate() {
        let writes = [
            put(&b, None, b"b1"),
            put(&c, None, b"c1"),
            put(&a, Some(1), b"stale"),
        ];
        let writes: Vec<Write> = order.iter().map(|&j| writes[j].clone()).collect();
        refused(
            CAS,
            store,
            &writes,
            &format!("a commit with one stale write (order {i})"),
        )?;
        holds(CAS, store, &b, None, "a refused commit")?;
        holds(CAS, store, &c, None, "a refused commit")?;
        holds(CAS, store, &a, Some((2, b"a2")), "a refused commit")?;
    }
    let both = [put(&a, Some(2), b"a3"), put(&b, None, b"b1")];
    accepted(CAS, store, &both, "a commit of two writes")?;
    holds(CAS, store, &a, Some((3, b"a3")), "a commit of two writes")?;
    holds(CAS, store, &b, Some((1, b"b1")), "a commit of two writes")?;

    // Deletes.
    refused(
        CAS,
        store,
        &[Write::Delete {
            key: b.clone(),
            expected: 2,
        }],
        "a delete against a wrong version",
    )?;
    refused(
        CAS,
        store,
        &[Write::Delete {
            key: c.clone(),
            expected: 1,
        }],
        "a delete of an absent record",
    )?;
    holds(CAS, store, &b, Some((1, b"b1")), "refused deletes")?;
    let mixed = [
        Write::Delete {
            key: b.clone(),
            expected: 1,
        },
        put(&a, Some(2), b"stale"),
    ];
    refused(CAS, store, &mixed, "a delete committed with a stale put")?;
    holds(CAS, store, &b, Some((1, b"b1")), "a refused delete")?;
    accepted(
        CAS,
        store,
        &[Write::Delete {
            key: b.clone(),
            expected: 1,
        }],
        "a delete against the current version",
    )?;
    holds(CAS, store, &b, None, "deleting it")?;
    accepted(
        CAS,
        store,
        &[put(&b, None, b"b again")],
        "creating a deleted record again",
    )?;
    holds(
        CAS,
        store,
        &b,
        Some((1, b"b again")),
        "creating a deleted record again",
    )?;

    // Bytes are kept exactly.
    let mut big: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
    big.extend_from_slice("日本語".as_bytes());
    for (i, bytes) in [Vec::new(), vec![0, 0xff, 0xfe, b'\n', 0], big]
        .iter()
        .enumerate()
    {
        let v = i as u64 + 1;
        accepted(
            CAS,
            store,
            &[put(&c, (i > 0).then_some(i as u64), bytes)],
            "a put of binary bytes",
        )?;
        holds(CAS, store, &c, Some((v, bytes)), "a put of binary bytes")?;
    }
    Ok(())
}

/// Runs `job(i, store)` on `threads` threads released together, thread `i` on
/// `stores[i % stores.len()]`; collects the results in thread order.
fn together<T: Send>(
    contract: &'static str,
    stores: &[&dyn Store],
    threads: usize,
    job: impl Fn(usize, &dyn Store) -> T + Sync,
) -> Result<Vec<T>, Violation> {
    if stores.is_empty() {
        return fail(contract, "no store handle given");
    }
    let barrier = Barrier::new(threads);
    thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let (barrier, job, store) = (&barrier, &job, stores[i % stores.len()]);
                scope.spawn(move || {
                    barrier.wait();
                    job(i, store)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .or_else(|_| fail(contract, "the store panicked on a thread"))
            })
            .collect()
    })
}

/// SEC-02: `threads` saves racing on one version of a record, spread over `stores` (handles to one
/// store): exactly one succeeds, every other one is refused with [`StoreError::Conflict`] (not
/// another error), and the record then holds the winner's bytes at the next version. Run for
/// creations (expected: absent) and updates, several rounds each.
///
/// # Example
/// ```
/// let store = kaigo_seikyu::memory::MemoryStore::default();
/// kaigo_seikyu::testkit::racing_saves(&[&store], 8)?;
/// # Ok::<(), kaigo_seikyu::testkit::Violation>(())
/// ```
pub fn racing_saves(stores: &[&dyn Store], threads: usize) -> Result<(), Violation> {
    let first = first_handle(RACE, stores)?;
    for round in 0..RACE_ROUNDS {
        let key = kit_key(RACE, 2, round)?;
        absent(RACE, first, &key)?;
        let update = round % 2 == 1;
        let expected = if update {
            accepted(
                RACE,
                first,
                &[put(&key, None, b"start")],
                "creating the raced record",
            )?;
            Some(1)
        } else {
            None
        };
        let results = together(RACE, stores, threads, |i, store| {
            store.commit(&[put(&key, expected, format!("thread {i}").as_bytes())])
        })?;
        let winners: Vec<usize> = results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_ok())
            .map(|(i, _)| i)
            .collect();
        let what = if update {
            "updates of version 1"
        } else {
            "creations"
        };
        if let Some(e) = results
            .iter()
            .find_map(|r| r.as_ref().err().filter(|e| **e != StoreError::Conflict))
        {
            return fail(
                RACE,
                format!("{threads} racing {what}: one failed with {e:?} instead of a conflict"),
            );
        }
        let [winner] = winners[..] else {
            return fail(
                RACE,
                format!(
                    "{threads} racing {what}: {} succeeded instead of exactly one",
                    winners.len()
                ),
            );
        };
        let version = expected.map_or(1, |v| v + 1);
        holds(
            RACE,
            first,
            &key,
            Some((version, format!("thread {winner}").as_bytes())),
            &format!("racing {what}"),
        )?;
    }
    Ok(())
}

/// Claims the next value of the JSON `u32` counter at `key` (absent: 0): reads it, commits the
/// value plus one against the version read, and on a lost race reads again. This is how a
/// management number is claimed (VAL-08): the counter is a [`Key::Sequence`] record, encoded as a
/// plain JSON number (`1`, `2`, …).
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::YearMonth, store::Key, testkit::claim_next};
/// let store = kaigo_seikyu::memory::MemoryStore::default();
/// let month = Key::Sequence(YearMonth::new(2026, 1).unwrap());
/// assert_eq!(claim_next(&store, &month)?, 1);
/// assert_eq!(claim_next(&store, &month)?, 2);
/// # Ok::<(), kaigo_seikyu::testkit::Violation>(())
/// ```
pub fn claim_next(store: &dyn Store, key: &Key) -> Result<u32, Violation> {
    for _ in 0..MAX_CLAIM_ATTEMPTS {
        let current = load(SEQ, store, key)?;
        let (expected, last) = match &current {
            None => (None, 0),
            Some(v) => match serde_json::from_slice::<u32>(&v.value) {
                Ok(n) => (Some(v.version), n),
                Err(e) => return fail(SEQ, format!("{key} is not a JSON u32: {e}")),
            },
        };
        let Some(next) = last.checked_add(1) else {
            return fail(SEQ, format!("{key} is at u32::MAX"));
        };
        match store.commit(&[put(key, expected, next.to_string().as_bytes())]) {
            Ok(()) => return Ok(next),
            Err(StoreError::Conflict) => continue,
            Err(e) => return fail(SEQ, format!("claiming from {key} failed: {e}")),
        }
    }
    fail(
        SEQ,
        format!("a claim on {key} lost {MAX_CLAIM_ATTEMPTS} races in a row"),
    )
}

/// No lost update: `threads` threads (spread over `stores`) each add one to a shared record
/// `per_thread` times, by read, increment and compare-and-swap commit, retrying on conflicts. The
/// record must end at `threads × per_thread`, at that version.
///
/// # Example
/// ```
/// let store = kaigo_seikyu::memory::MemoryStore::default();
/// kaigo_seikyu::testkit::no_lost_update(&[&store], 4, 25)?;
/// # Ok::<(), kaigo_seikyu::testkit::Violation>(())
/// ```
pub fn no_lost_update(
    stores: &[&dyn Store],
    threads: usize,
    per_thread: usize,
) -> Result<(), Violation> {
    let first = first_handle(LOST, stores)?;
    let key = kit_key(LOST, 3, 0)?;
    absent(LOST, first, &key)?;
    let results = together(LOST, stores, threads, |_, store| -> Result<(), Violation> {
        for _ in 0..per_thread {
            claim_next(store, &key).map_err(|v| Violation {
                contract: LOST,
                problem: v.problem,
            })?;
        }
        Ok(())
    })?;
    results.into_iter().collect::<Result<(), Violation>>()?;
    let total = threads * per_thread;
    let want = total.to_string();
    let want = (total > 0).then_some((total as u64, want.as_bytes()));
    holds(
        LOST,
        first,
        &key,
        want,
        &format!("{threads} threads × {per_thread} increments"),
    )
}

/// VAL-08 on the store: `threads` threads (spread over `stores`) each claim the next management
/// number of one month with [`claim_next`] on [`Key::Sequence`]; they get `1..=threads`, each once,
/// no gap. Another month then starts at 1, and the first month's counter is untouched by it.
///
/// # Example
/// ```
/// let store = kaigo_seikyu::memory::MemoryStore::default();
/// kaigo_seikyu::testkit::sequence_numbers(&[&store], 8)?;
/// # Ok::<(), kaigo_seikyu::testkit::Violation>(())
/// ```
pub fn sequence_numbers(stores: &[&dyn Store], threads: usize) -> Result<(), Violation> {
    let first = first_handle(SEQ, stores)?;
    let (january, february) = (Key::Sequence(kit_month(1)?), Key::Sequence(kit_month(2)?));
    absent(SEQ, first, &january)?;
    absent(SEQ, first, &february)?;
    let claimed = together(SEQ, stores, threads, |_, store| claim_next(store, &january))?;
    let claimed = claimed
        .into_iter()
        .collect::<Result<Vec<u32>, Violation>>()?;
    let distinct: BTreeSet<u32> = claimed.iter().copied().collect();
    let want: BTreeSet<u32> = (1..=threads)
        .filter_map(|n| u32::try_from(n).ok())
        .collect();
    ensure(claimed.len() == distinct.len(), SEQ, || {
        format!("a number was issued twice: {claimed:?}")
    })?;
    ensure(distinct == want, SEQ, || {
        format!("{threads} claims got {distinct:?}, not 1..={threads}")
    })?;
    let before = load(SEQ, first, &january)?;
    ensure(claim_next(first, &february)? == 1, SEQ, || {
        "another month does not start at 1".into()
    })?;
    ensure(load(SEQ, first, &january)? == before, SEQ, || {
        "claiming in one month changed another".into()
    })
}

/// Every store contract: [`compare_and_swap`] on the first handle, then [`racing_saves`] (8
/// threads), [`no_lost_update`] (4 threads × 25) and [`sequence_numbers`] (8 threads) over all
/// the handles, then [`expiry_and_purge`], [`scan`], [`load_many`] and [`outbox`] on the first.
///
/// # Example
/// ```
/// let store = kaigo_seikyu::memory::MemoryStore::default();
/// kaigo_seikyu::testkit::store(&[&store])?;
/// # Ok::<(), kaigo_seikyu::testkit::Violation>(())
/// ```
pub fn store(stores: &[&dyn Store]) -> Result<(), Violation> {
    let first = first_handle(CAS, stores)?;
    compare_and_swap(first)?;
    racing_saves(stores, 8)?;
    no_lost_update(stores, 4, 25)?;
    sequence_numbers(stores, 8)?;
    expiry_and_purge(first)?;
    scan(first)?;
    load_many(first)?;
    outbox(first)
}

/// The kit's instant `minutes` after the start of the year 1000, which no live record expires
/// near.
fn kit_instant(minutes: i64) -> Instant {
    let start = chrono::NaiveDate::from_ymd_opt(1000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(Instant::MIN_UTC, |t| t.and_utc());
    start + chrono::TimeDelta::minutes(minutes)
}

/// OPS-02: a put's expiry comes back with the record (none when it had none);
/// `purge(now, limit)` removes at most `limit` records dead at `now` (expiry at or before it),
/// outbox records included, never a live one, one without expiry, or one rewritten with a later
/// expiry; a limit of 0 and an instant before every expiry purge nothing. Run on a fresh store.
///
/// # Example
/// ```
/// let store = kaigo_seikyu::memory::MemoryStore::default();
/// kaigo_seikyu::testkit::expiry_and_purge(&store)?;
/// # Ok::<(), kaigo_seikyu::testkit::Violation>(())
/// ```
pub fn expiry_and_purge(store: &dyn Store) -> Result<(), Violation> {
    let keys: Vec<Key> = (0..4)
        .map(|n| kit_key(EXPIRY, 0xe0, n))
        .collect::<Result<_, _>>()?;
    let effect: crate::effect::EffectId = value(EXPIRY, "7e57e0e0000000000000000000000001")?;
    let outboxed = Key::Outbox(effect);
    for key in keys.iter().chain([&outboxed]) {
        absent(EXPIRY, store, key)?;
    }
    let t = kit_instant;
    let expiring = |key: &Key, expected, at: Option<Instant>| Write::Put {
        key: key.clone(),
        expected,
        value: b"e".to_vec(),
        expires: at,
    };
    accepted(
        EXPIRY,
        store,
        &[
            expiring(&keys[0], None, Some(t(1))),
            expiring(&keys[1], None, Some(t(2))),
            expiring(&keys[2], None, None),
            expiring(&keys[3], None, Some(t(2))),
            expiring(&outboxed, None, Some(t(1))),
        ],
        "writing records that expire",
    )?;
    accepted(
        EXPIRY,
        store,
        &[expiring(&keys[3], Some(1), Some(t(100)))],
        "rewriting with a later expiry",
    )?;
    for (key, want) in [
        (&keys[0], Some(t(1))),
        (&keys[2], None),
        (&keys[3], Some(t(100))),
    ] {
        let got = load(EXPIRY, store, key)?.map(|v| v.expires);
        ensure(got == Some(want), EXPIRY, || {
            format!("{key} came back with expiry {got:?}, not {want:?}")
        })?;
    }
    let purge = |now, limit| port(EXPIRY, "purging", store.purge(now, limit));
    ensure(purge(t(2), 0)? == 0, EXPIRY, || {
        "a limit of 0 purged records".into()
    })?;
    ensure(purge(t(0), 10)? == 0, EXPIRY, || {
        "purged a record before its expiry".into()
    })?;
    ensure(purge(t(2), 2)? == 2, EXPIRY, || {
        "purge(now, 2) did not remove 2 of 3 dead records".into()
    })?;
    ensure(purge(t(2), 10)? == 1, EXPIRY, || {
        "the third dead record was not purged".into()
    })?;
    for key in [&keys[0], &keys[1], &outboxed] {
        ensure(load(EXPIRY, store, key)?.is_none(), EXPIRY, || {
            format!("{key} dead and left")
        })?;
    }
    for key in [&keys[2], &keys[3]] {
        ensure(load(EXPIRY, store, key)?.is_some(), EXPIRY, || {
            format!("{key} purged though live")
        })?;
    }
    ensure(purge(t(99), 10)? == 0, EXPIRY, || {
        "purged a live record".into()
    })?;
    accepted(
        EXPIRY,
        store,
        &[
            Write::Delete {
                key: keys[2].clone(),
                expected: 1,
            },
            Write::Delete {
                key: keys[3].clone(),
                expected: 2,
            },
        ],
        "removing the kit's records",
    )
}

/// OPS-03: `scan` lists a [`KeyRange`](crate::store::KeyRange)'s records in the byte order of
/// their keys' text, starting after a key, at most `limit` of them, and nothing of another
/// range. Run on a fresh store.
///
/// # Example
/// ```
/// let store = kaigo_seikyu::memory::MemoryStore::default();
/// kaigo_seikyu::testkit::scan(&store)?;
/// # Ok::<(), kaigo_seikyu::testkit::Violation>(())
/// ```
pub fn scan(store: &dyn Store) -> Result<(), Violation> {
    use crate::store::KeyRange;
    use crate::values::{ManagementNumber, Prefecture};
    let month = kit_month(1)?;
    let number = |n: u32| {
        ManagementNumber::new(month, n).map_err(|e| Violation {
            contract: SCAN,
            problem: e.to_string(),
        })
    };
    let (here, there) = (Prefecture::HOKKAIDO, Prefecture::TOKYO);
    // In key order: minute 1 (#3), minute 1 (#4), minute 2 (#1), minute 10 (#2).
    let ordered = [
        Key::Queue(here, kit_instant(1), number(3)?),
        Key::Queue(here, kit_instant(1), number(4)?),
        Key::Queue(here, kit_instant(2), number(1)?),
        Key::Queue(here, kit_instant(10), number(2)?),
    ];
    let other = Key::Queue(there, kit_instant(0), number(5)?);
    for key in ordered.iter().chain([&other]) {
        absent(SCAN, store, key)?;
    }
    let mut writes: Vec<Write> = [2, 0, 3, 1]
        .iter()
        .map(|&i: &usize| put(&ordered[i], None, format!("q{i}").as_bytes()))
        .collect();
    writes.push(put(&other, None, b"other"));
    accepted(SCAN, store, &writes, "writing queue entries")?;
    let listed = |after: Option<&Key>, limit| -> Result<Vec<Vec<u8>>, Violation> {
        let records = port(
            SCAN,
            "scanning",
            store.scan(&KeyRange::Queue(here), after, limit),
        )?;
        Ok(records.into_iter().map(|v| v.value).collect())
    };
    let want = |range: std::ops::Range<usize>| -> Vec<Vec<u8>> {
        range.map(|i| format!("q{i}").into_bytes()).collect()
    };
    let all = listed(None, 10)?;
    ensure(all == want(0..4), SCAN, || {
        format!("listed {all:?}, not in key order")
    })?;
    let page = listed(Some(&ordered[1]), 1)?;
    ensure(page == want(2..3), SCAN, || {
        "the page after a key is not the next record".into()
    })?;
    ensure(listed(None, 0)?.is_empty(), SCAN, || {
        "a limit of 0 listed records".into()
    })?;
    ensure(listed(Some(&ordered[3]), 10)?.is_empty(), SCAN, || {
        "listed past the last key".into()
    })?;
    let theirs = port(
        SCAN,
        "scanning",
        store.scan(&KeyRange::Queue(there), Some(&ordered[0]), 10),
    )?;
    ensure(
        theirs.len() == 1 && theirs[0].value == b"other",
        SCAN,
        || "another range's scan is wrong".into(),
    )?;
    let removals: Vec<Write> = ordered
        .iter()
        .chain([&other])
        .map(|key| Write::Delete {
            key: key.clone(),
            expected: 1,
        })
        .collect();
    accepted(SCAN, store, &removals, "removing the kit's entries")
}

/// OPS-04: `load_many` answers every key it is asked, in the order asked: a record as [`Store::load`]
/// gives it (version, bytes and expiry), an absent key as `None`, a key asked twice twice, an
/// outbox record among other records, and nothing for an empty list. Run on a fresh store.
///
/// # Example
/// ```
/// let store = kaigo_seikyu::memory::MemoryStore::default();
/// kaigo_seikyu::testkit::load_many(&store)?;
/// # Ok::<(), kaigo_seikyu::testkit::Violation>(())
/// ```
pub fn load_many(store: &dyn Store) -> Result<(), Violation> {
    let (a, b, gone, never) = (
        kit_key(MANY, 0x10, 1)?,
        kit_key(MANY, 0x10, 2)?,
        kit_key(MANY, 0x10, 3)?,
        kit_key(MANY, 0x10, 4)?,
    );
    let effect = Key::Outbox(value(MANY, "7e570010000000000000000000000001")?);
    for key in [&a, &b, &gone, &never, &effect] {
        absent(MANY, store, key)?;
    }
    let none = port(MANY, "loading no keys", store.load_many(&[]))?;
    ensure(none.is_empty(), MANY, || {
        format!("an empty list of keys gave {} answers", none.len())
    })?;
    accepted(
        MANY,
        store,
        &[
            put(&a, None, b"a1"),
            Write::Put {
                key: b.clone(),
                expected: None,
                value: b"b1".to_vec(),
                expires: Some(kit_instant(5)),
            },
            put(&gone, None, b"soon gone"),
            put(&effect, None, b"an effect"),
        ],
        "writing the kit's records",
    )?;
    accepted(
        MANY,
        store,
        &[
            put(&a, Some(1), b"a2"),
            Write::Delete {
                key: gone.clone(),
                expected: 1,
            },
        ],
        "rewriting one record and deleting another",
    )?;
    // Records only (a host may read them in one statement), then an outbox record among them.
    let asks: [(&[Key], [Option<u64>; 5]); 2] = [
        (
            &[never.clone(), b.clone(), a.clone(), gone.clone(), a.clone()],
            [None, Some(1), Some(2), None, Some(2)],
        ),
        (
            &[
                a.clone(),
                effect.clone(),
                never.clone(),
                effect.clone(),
                b.clone(),
            ],
            [Some(2), Some(1), None, Some(1), Some(1)],
        ),
    ];
    for (asked, versions) in asks {
        let got = port(MANY, "loading many keys", store.load_many(asked))?;
        ensure(got.len() == asked.len(), MANY, || {
            format!("{} keys asked, {} answered", asked.len(), got.len())
        })?;
        for (i, (key, answer)) in asked.iter().zip(&got).enumerate() {
            let one = load(MANY, store, key)?;
            ensure(*answer == one, MANY, || {
                format!("key {i} ({key}) was answered {answer:?}; load gives {one:?}")
            })?;
        }
        let shape: Vec<Option<u64>> = got.iter().map(|v| v.as_ref().map(|v| v.version)).collect();
        ensure(shape == versions, MANY, || {
            format!(
                "asked {asked:?}, got versions {shape:?}, not {versions:?} (a key asked twice is answered twice)"
            )
        })?;
    }
    accepted(
        MANY,
        store,
        &[
            Write::Delete {
                key: a,
                expected: 2,
            },
            Write::Delete {
                key: b,
                expected: 1,
            },
            Write::Delete {
                key: effect,
                expected: 1,
            },
        ],
        "removing the kit's records",
    )
}

/// The kit's outbox records among `listed`, by the last digits of their ids.
fn kit_effects(listed: &[(EffectId, Versioned)]) -> Vec<(u8, Vec<u8>, u64)> {
    listed
        .iter()
        .filter_map(|(id, v)| {
            let tag = id.as_str().strip_prefix(OUTBOX_KIT_PREFIX)?;
            Some((
                u8::from_str_radix(tag, 16).ok()?,
                v.value.clone(),
                v.version,
            ))
        })
        .collect()
}

/// The kit's outbox ids: this prefix and two hex digits.
const OUTBOX_KIT_PREFIX: &str = "7e5700b00000000000000000000000";

/// OPS-01, the transactional outbox: [`Key::Outbox`] records written in commits are listed by
/// [`Store::outbox`] in the order of those commits and, within one, of the writes (not in key
/// order), each at version 1 with its bytes; listing removes nothing (at least once: a record
/// stays listed until a commit deletes it); a commit refused for any of its writes neither adds
/// nor removes an outbox record; an outbox record is written once (a second creation is refused);
/// `limit` caps the list; a deleted record is no longer listed. Run on a fresh store.
///
/// # Example
/// ```
/// let store = kaigo_seikyu::memory::MemoryStore::default();
/// kaigo_seikyu::testkit::outbox(&store)?;
/// # Ok::<(), kaigo_seikyu::testkit::Violation>(())
/// ```
pub fn outbox(store: &dyn Store) -> Result<(), Violation> {
    let key = |n: u8| -> Result<Key, Violation> {
        Ok(Key::Outbox(value(
            QUEUE,
            &format!("{OUTBOX_KIT_PREFIX}{n:02x}"),
        )?))
    };
    let (k0, k1, k2, k3, k4) = (key(0)?, key(1)?, key(2)?, key(3)?, key(4)?);
    let other = kit_key(QUEUE, 0xb0, 1)?;
    for k in [&k0, &k1, &k2, &k3, &k4, &other] {
        absent(QUEUE, store, k)?;
    }
    let listed = |limit: usize| -> Result<Vec<(u8, Vec<u8>, u64)>, Violation> {
        Ok(kit_effects(&port(
            QUEUE,
            "listing the outbox",
            store.outbox(limit),
        )?))
    };
    let before = port(QUEUE, "listing the outbox", store.outbox(usize::MAX))?;
    ensure(kit_effects(&before).is_empty(), QUEUE, || {
        "the outbox lists the kit's records before they were written".into()
    })?;
    // Three commits; ids chosen so that neither key order nor write order across commits is
    // the commit order: 3, 1 | 2 (with another record) | 0.
    accepted(
        QUEUE,
        store,
        &[put(&k3, None, b"e3"), put(&k1, None, b"e1")],
        "a commit of two outbox records",
    )?;
    accepted(
        QUEUE,
        store,
        &[put(&other, None, b"state"), put(&k2, None, b"e2")],
        "a commit of a record and its outbox record",
    )?;
    accepted(
        QUEUE,
        store,
        &[put(&k0, None, b"e0")],
        "a commit of one outbox record",
    )?;
    let want = |tags: &[u8]| -> Vec<(u8, Vec<u8>, u64)> {
        tags.iter()
            .map(|&t| (t, format!("e{t}").into_bytes(), 1))
            .collect()
    };
    let all = listed(usize::MAX)?;
    ensure(all == want(&[3, 1, 2, 0]), QUEUE, || {
        format!("committed outbox records 3, 1 | 2 | 0 (each at version 1); listed {all:?}")
    })?;
    let again = listed(usize::MAX)?;
    ensure(again == all, QUEUE, || {
        format!("listing twice changed the list: {again:?} (a record stays until removed)")
    })?;
    let first_two = listed(before.len() + 2)?;
    ensure(first_two == want(&[3, 1]), QUEUE, || {
        format!("a limit of two past the earlier records listed {first_two:?}")
    })?;
    ensure(listed(0)?.is_empty(), QUEUE, || {
        "a limit of 0 listed records".into()
    })?;
    refused(
        QUEUE,
        store,
        &[put(&k1, None, b"again")],
        "creating an outbox record that exists",
    )?;
    refused(
        QUEUE,
        store,
        &[
            Write::Delete {
                key: k3.clone(),
                expected: 1,
            },
            put(&k4, None, b"e4"),
            put(&other, Some(7), b"stale"),
        ],
        "a removal and a new outbox record committed with a stale write",
    )?;
    let after_refusal = listed(usize::MAX)?;
    ensure(after_refusal == all, QUEUE, || {
        format!("a refused commit changed the outbox: {after_refusal:?}")
    })?;
    accepted(
        QUEUE,
        store,
        &[Write::Delete {
            key: k1.clone(),
            expected: 1,
        }],
        "removing a delivered outbox record",
    )?;
    accepted(
        QUEUE,
        store,
        &[put(&k4, None, b"e4")],
        "a commit after a removal",
    )?;
    let rest = listed(usize::MAX)?;
    ensure(rest == want(&[3, 2, 0, 4]), QUEUE, || {
        format!("after removing 1 and committing 4, listed {rest:?}, not 3, 2, 0, 4")
    })?;
    let removals: Vec<Write> = [k0, k2, k3, k4]
        .into_iter()
        .map(|key| Write::Delete { key, expected: 1 })
        .chain([Write::Delete {
            key: other,
            expected: 1,
        }])
        .collect();
    accepted(QUEUE, store, &removals, "removing the kit's records")?;
    let left = listed(usize::MAX)?;
    ensure(left.is_empty(), QUEUE, || {
        format!("removed outbox records are still listed: {left:?}")
    })
}

/// A future of the async kit, as [`async_store`] hands it to the host's `block_on`.
#[cfg(feature = "async")]
pub type KitFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;

/// The host's executor, as the async kit takes it: runs a future to completion on the calling
/// thread. `&|f| pollster::block_on(f)` will do, or a runtime's `block_on`; the library depends
/// on none.
#[cfg(feature = "async")]
pub type BlockOn<'a> = &'a (dyn Fn(KitFuture<'_>) + Sync);

/// An [`AsyncStore`](crate::portal::asynchronous::AsyncStore) seen as a blocking [`Store`]
/// through the host's `block_on`, so the blocking checks run on it unchanged.
#[cfg(feature = "async")]
struct Blocking<'a, S: ?Sized> {
    store: &'a S,
    block_on: BlockOn<'a>,
}

#[cfg(feature = "async")]
impl<S: crate::portal::asynchronous::AsyncStore + ?Sized> Blocking<'_, S> {
    /// Runs `future` with the host's `block_on` and returns its output.
    fn run<T: Send>(
        &self,
        future: impl std::future::Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError> {
        block(self.block_on, future).unwrap_or_else(|| {
            Err(StoreError::Unavailable(
                "the host's block_on returned before the future was done".into(),
            ))
        })
    }
}

#[cfg(feature = "async")]
impl<S: crate::portal::asynchronous::AsyncStore + ?Sized> Store for Blocking<'_, S> {
    fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        let keys = std::slice::from_ref(key);
        let mut found = self.run(crate::portal::asynchronous::AsyncStore::load_many(
            self.store, keys,
        ))?;
        match (found.pop(), found.is_empty()) {
            (Some(record), true) => Ok(record),
            _ => Err(StoreError::Corrupt(format!(
                "load_many of one key ({key}) did not give one answer"
            ))),
        }
    }

    fn load_many(&self, keys: &[Key]) -> Result<Vec<Option<Versioned>>, StoreError> {
        self.run(crate::portal::asynchronous::AsyncStore::load_many(
            self.store, keys,
        ))
    }

    fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        self.run(crate::portal::asynchronous::AsyncStore::commit(
            self.store, writes,
        ))
    }

    fn outbox(&self, limit: usize) -> Result<Vec<(EffectId, Versioned)>, StoreError> {
        self.run(crate::portal::asynchronous::AsyncStore::outbox(
            self.store, limit,
        ))
    }
}

/// OPS-05: an [`AsyncStore`](crate::portal::asynchronous::AsyncStore) keeps the store contracts
/// its calls cover, as the blocking kit checks them: [`compare_and_swap`], [`racing_saves`] (8
/// threads), [`no_lost_update`] (4 × 25), [`sequence_numbers`] (8 threads), [`load_many`] and
/// [`outbox`], every call a future run by `block_on` (from several threads at once for the
/// races: spread over `stores`, handles to one store). A single `load` is a `load_many` of one
/// key. Expiry, purge and scan are not async calls: check them with [`store`] on the blocking
/// side, if the host has one. Run on a fresh store.
///
/// The library depends on no runtime, so the host passes its executor's `block_on`.
///
/// # Example
/// The in-memory store (every blocking store is an async one, its calls ready futures), on
/// `pollster`:
/// ```
/// let store = kaigo_seikyu::memory::MemoryStore::default();
/// kaigo_seikyu::testkit::async_store(&[&store], &|f| pollster::block_on(f))?;
/// # Ok::<(), kaigo_seikyu::testkit::Violation>(())
/// ```
#[cfg(feature = "async")]
pub fn async_store<S: crate::portal::asynchronous::AsyncStore + ?Sized>(
    stores: &[&S],
    block_on: BlockOn<'_>,
) -> Result<(), Violation> {
    let blocking: Vec<Blocking<'_, S>> = stores
        .iter()
        .map(|&store| Blocking { store, block_on })
        .collect();
    let handles: Vec<&dyn Store> = blocking.iter().map(|b| b as &dyn Store).collect();
    let first = first_handle(CAS, &handles)?;
    compare_and_swap(first)?;
    racing_saves(&handles, 8)?;
    no_lost_update(&handles, 4, 25)?;
    sequence_numbers(&handles, 8)?;
    load_many(first)?;
    outbox(first)
}

/// A host's mail delivery loop, as [`mailer_outbox`] drives it.
///
/// # Example
/// A host's outbox keeps a mail until its transport accepted it, so a refused mail is tried
/// again by the next pass (at least once, in order):
/// ```
/// use std::collections::VecDeque;
/// use std::sync::Mutex;
/// use kaigo_seikyu::mail::Mail;
/// use kaigo_seikyu::ports::{Mailer, PortError};
/// use kaigo_seikyu::testkit::{self, DeliveryLoop};
///
/// #[derive(Default)]
/// struct Queue(Mutex<VecDeque<Mail>>);
///
/// impl Mailer for Queue {
///     fn enqueue(&self, mail: Mail) -> Result<(), PortError> {
///         self.0.lock().unwrap().push_back(mail);
///         Ok(())
///     }
/// }
///
/// impl DeliveryLoop for Queue {
///     fn deliver(&self, send: &mut dyn FnMut(&Mail) -> Result<(), PortError>) -> Result<usize, PortError> {
///         let mut sent = 0;
///         // Peek, send, and only then remove (a database would mark the row delivered).
///         loop {
///             let Some(mail) = self.0.lock().unwrap().front().cloned() else { break };
///             send(&mail)?;
///             self.0.lock().unwrap().pop_front();
///             sent += 1;
///         }
///         Ok(sent)
///     }
/// }
///
/// let queue = Queue::default();
/// testkit::mailer_outbox(&queue, &queue)?;
/// # Ok::<(), testkit::Violation>(())
/// ```
pub trait DeliveryLoop {
    /// One pass of the loop: hands every queued mail to `send`, oldest first. A mail `send`
    /// accepts is delivered. When `send` refuses one, the pass stops and returns that error; the
    /// refused mail and every mail after it stay queued for a later pass (at least once).
    /// Returns how many mails were delivered.
    fn deliver(
        &self,
        send: &mut dyn FnMut(&Mail) -> Result<(), PortError>,
    ) -> Result<usize, PortError>;
}

/// The in-memory outbox's loop: it drains the queue and queues a refused mail and the ones after
/// it again. So a mail another thread queues during a pass that is refused goes before them, and
/// [`Outbox::all`] lists the re-queued mails twice: fine for tests with one delivery loop.
impl DeliveryLoop for Outbox {
    fn deliver(
        &self,
        send: &mut dyn FnMut(&Mail) -> Result<(), PortError>,
    ) -> Result<usize, PortError> {
        let mut mails = self.drain().into_iter();
        let mut sent = 0;
        while let Some(mail) = mails.next() {
            if let Err(e) = send(&mail) {
                for m in std::iter::once(mail).chain(mails) {
                    self.enqueue(m)?;
                }
                return Err(e);
            }
            sent += 1;
        }
        Ok(sent)
    }
}

/// One pass of `delivery`, collecting the mails in the order they were sent; the `refuse`-th send
/// attempt of the pass (counting from 0), if any, is refused once.
fn pass(
    delivery: &dyn DeliveryLoop,
    refuse: Option<usize>,
) -> (Vec<Mail>, Result<usize, PortError>) {
    let mut sent = Vec::new();
    let mut attempts = 0;
    let mut send = |m: &Mail| {
        attempts += 1;
        if refuse == Some(attempts - 1) {
            return Err(PortError("the kit's transport refused this mail".into()));
        }
        sent.push(m.clone());
        Ok(())
    };
    let result = delivery.deliver(&mut send);
    (sent, result)
}

/// The mails of `sent` that are in `queued`, each at its first delivery.
fn first_sends<'a>(sent: &'a [Mail], queued: &[Mail]) -> Vec<&'a Mail> {
    let mut seen: Vec<&Mail> = Vec::new();
    for m in sent {
        if queued.contains(m) && !seen.contains(&m) {
            seen.push(m);
        }
    }
    seen
}

fn kit_mail(n: usize) -> Result<Mail, Violation> {
    let to: EmailAddress = value(OUTBOX, &format!("kit-{n}@example.jp"))?;
    Ok(if n.is_multiple_of(2) {
        mail::confirmation_code_mail(
            &to,
            &value::<ConfirmationCode>(OUTBOX, &format!("{:04}", n % 10_000))?,
            30,
        )
    } else {
        mail::one_time_password_mail(
            &to,
            &value::<OneTimePassword>(OUTBOX, &format!("{:06}", n % 1_000_000))?,
            30,
        )
    })
}

/// SEC-08: the mailer is an outbox. Mails enqueued are delivered by the host's loop in queue
/// order, unchanged (Japanese subject, multi-line body); when the transport refuses a mail, that
/// mail and the ones after it are delivered by the next pass (at least once, order kept); a pass
/// over an empty queue delivers nothing; and mails enqueued from several threads while the loop
/// runs are each delivered, each thread's in its order.
///
/// The kit first runs one pass to empty the queue of anything already there.
///
/// # Example
/// See [the module](self).
pub fn mailer_outbox(mailer: &dyn Mailer, delivery: &dyn DeliveryLoop) -> Result<(), Violation> {
    let (_, emptied) = pass(delivery, None);
    port(OUTBOX, "emptying the queue before the kit", emptied)?;

    // Order and at-least-once across a refused mail.
    let mails: Vec<Mail> = (0..3).map(kit_mail).collect::<Result<_, _>>()?;
    for m in &mails {
        port(OUTBOX, "enqueue", mailer.enqueue(m.clone()))?;
    }
    let (mut delivered, result) = pass(delivery, Some(1));
    ensure(result.is_err(), OUTBOX, || {
        "a pass whose transport refused a mail reported success".into()
    })?;
    let (second, result) = pass(delivery, None);
    port(OUTBOX, "the pass after a refusal", result)?;
    delivered.extend(second);
    let order = first_sends(&delivered, &mails);
    ensure(order == mails.iter().collect::<Vec<_>>(), OUTBOX, || {
        format!(
            "queued {mails:?}; across a refused send, delivered {order:?}: lost, changed or out of order"
        )
    })?;
    let (again, result) = pass(delivery, None);
    port(OUTBOX, "a pass over an empty queue", result)?;
    ensure(again.is_empty(), OUTBOX, || {
        format!("a pass over a delivered queue sent {again:?} again")
    })?;

    // Concurrent enqueues while the loop runs.
    const THREADS: usize = 4;
    const EACH: usize = 10;
    let queued: Vec<Vec<Mail>> = (0..THREADS)
        .map(|t| (0..EACH).map(|i| kit_mail(100 + t * EACH + i)).collect())
        .collect::<Result<_, _>>()?;
    let mut sent = Vec::new();
    let results: Vec<Result<(), PortError>> = thread::scope(|scope| {
        let handles: Vec<_> = queued
            .iter()
            .map(|mails| {
                scope.spawn(move || mails.iter().try_for_each(|m| mailer.enqueue(m.clone())))
            })
            .collect();
        let mut results = Vec::new();
        while !handles.iter().all(|h| h.is_finished()) {
            let (s, r) = pass(delivery, None);
            sent.extend(s);
            results.push(r.map(drop));
            thread::yield_now();
        }
        results.extend(handles.into_iter().map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(PortError("enqueue panicked".into())))
        }));
        results
    });
    results
        .into_iter()
        .try_for_each(|r| port(OUTBOX, "enqueue or delivery while enqueuing", r))?;
    let (rest, result) = pass(delivery, None);
    port(OUTBOX, "the last pass", result)?;
    sent.extend(rest);
    for mails in &queued {
        let seen = first_sends(&sent, mails);
        ensure(seen == mails.iter().collect::<Vec<_>>(), OUTBOX, || {
            format!(
                "a thread queued {} mails while the loop ran; {} were delivered, or out of order",
                mails.len(),
                seen.len()
            )
        })?;
    }
    Ok(())
}

/// Notices reach the office they were posted to, and only that one, in order and unchanged.
/// `posted` reads back every notice of an office, oldest first.
///
/// # Example
/// ```
/// let notices = kaigo_seikyu::memory::Notices::default();
/// kaigo_seikyu::testkit::notice_board(&notices, &|office| Ok(notices.for_office(office)))?;
/// # Ok::<(), kaigo_seikyu::testkit::Violation>(())
/// ```
pub fn notice_board(
    board: &dyn NoticeBoard,
    posted: &dyn Fn(&OfficeNumber) -> Result<Vec<Notice>, PortError>,
) -> Result<(), Violation> {
    let a: OfficeNumber = value(NOTICES, "01A7000001")?;
    let b: OfficeNumber = value(NOTICES, "01A7000002")?;
    let before_a = port(NOTICES, "reading notices", posted(&a))?;
    let before_b = port(NOTICES, "reading notices", posted(&b))?;
    let number = value(NOTICES, "U100001000001")?;
    let notices = [
        mail::reissue_approved_notice(&number),
        mail::reissue_rejected_notice(&number),
    ];
    let posts = [(a, &notices[0]), (b, &notices[1]), (a, &notices[1])];
    for (office, notice) in posts {
        port(NOTICES, "post", board.post(office, notice.clone()))?;
    }
    for (office, before, want) in [
        (a, before_a, vec![&notices[0], &notices[1]]),
        (b, before_b, vec![&notices[1]]),
    ] {
        let after = port(NOTICES, "reading notices", posted(&office))?;
        let tail: Vec<&Notice> = after.iter().skip(before.len()).collect();
        ensure(after.starts_with(&before) && tail == want, NOTICES, || {
            format!(
                "office {office} was posted {want:?} but now has {tail:?} after its {} earlier notices",
                before.len()
            )
        })?;
    }
    Ok(())
}

/// Events are recorded in order and read back unchanged (nanosecond instants, every field).
/// `recorded` reads back every event, oldest first.
///
/// # Example
/// ```
/// let events = kaigo_seikyu::memory::Events::default();
/// kaigo_seikyu::testkit::audit_log(&events, &|| Ok(events.all()))?;
/// # Ok::<(), kaigo_seikyu::testkit::Violation>(())
/// ```
pub fn audit_log(
    log: &dyn AuditLog,
    recorded: &dyn Fn() -> Result<Vec<Event>, PortError>,
) -> Result<(), Violation> {
    let at = |secs: i64| -> Result<Instant, Violation> {
        chrono::DateTime::from_timestamp(secs, 123_456_789)
            .map_or_else(|| fail(AUDIT, "kit instant"), Ok)
    };
    let user: UserId = value(AUDIT, "KJ0101A7000001")?;
    let events = [
        Event {
            at: at(1_767_000_000)?,
            kind: EventKind::LoginFailed { user },
        },
        Event {
            at: at(1_767_000_001)?,
            kind: EventKind::LockedOut {
                user,
                until: at(1_767_001_800)?,
            },
        },
        Event {
            at: at(1_767_000_002)?,
            kind: EventKind::ReissueApplied {
                number: value(AUDIT, "U100001000001")?,
                office: user.office(),
                billing: user.billing(),
                notify: value(AUDIT, "kit@example.jp")?,
            },
        },
    ];
    let before = port(AUDIT, "reading events", recorded())?;
    for e in &events {
        port(AUDIT, "record", log.record(e))?;
    }
    let after = port(AUDIT, "reading events", recorded())?;
    let tail: Vec<&Event> = after.iter().skip(before.len()).collect();
    ensure(
        after.starts_with(&before) && tail == events.iter().collect::<Vec<_>>(),
        AUDIT,
        || format!("recorded {events:?}, read back {tail:?}"),
    )
}

/// Look-ups find exactly the records the ledger holds (`present`, which the host seeded) and
/// nothing for `absent`, also from several threads at once.
///
/// # Example
/// ```
/// use kaigo_seikyu::{memory::Ledger, ports::OfficeRecord, values::Prefecture};
/// let ledger = Ledger::default();
/// let office = OfficeRecord {
///     number: "1311111111".parse()?,
///     name: "請求事業所A".into(),
///     postal_address: "東京都千代田区".into(),
///     phone: "03-0000-0000".into(),
///     billing: vec![Prefecture::TOKYO, Prefecture::OSAKA],
/// };
/// ledger.insert(office.clone());
/// kaigo_seikyu::testkit::office_ledger(&ledger, &[office], &["2711111111".parse()?])?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn office_ledger(
    ledger: &dyn OfficeLedger,
    present: &[OfficeRecord],
    absent: &[OfficeNumber],
) -> Result<(), Violation> {
    let check = || -> Result<(), Violation> {
        for record in present {
            let found = port(
                LEDGER,
                &format!("looking up {}", record.number),
                ledger.find(&record.number),
            )?;
            ensure(found.as_ref() == Some(record), LEDGER, || {
                format!("{} gave {found:?}, not {record:?}", record.number)
            })?;
        }
        for number in absent {
            let found = port(LEDGER, &format!("looking up {number}"), ledger.find(number))?;
            ensure(found.is_none(), LEDGER, || {
                format!("{number} is not in the ledger but gave {found:?}")
            })?;
        }
        Ok(())
    };
    check()?;
    thread::scope(|scope| {
        let handles: Vec<_> = (0..4).map(|_| scope.spawn(check)).collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| fail(LEDGER, "a look-up panicked"))
        })
    })
}

/// RS-08: ending every session of a user ID is accepted whether or not the user has sessions,
/// and again right after (idempotent).
///
/// # Example
/// ```
/// kaigo_seikyu::testkit::sessions(&kaigo_seikyu::memory::SessionLog::default())?;
/// # Ok::<(), kaigo_seikyu::testkit::Violation>(())
/// ```
pub fn sessions(sessions: &dyn Sessions) -> Result<(), Violation> {
    let user: UserId = value(SESSIONS, "KJ0101A7000001")?;
    port(
        SESSIONS,
        "revoking a user's sessions",
        sessions.revoke_all(&user),
    )?;
    port(SESSIONS, "revoking them again", sessions.revoke_all(&user))
}

// ---------------------------------------------------------------------------------------------
// Round trips (OPS-04) and the async ledger and effects (OPS-05).

/// What a request cost a [`CountingStore`]: the rounds of batched reads and the records they
/// read, listings, single loads, commits and purges. Each call is one round trip to the store.
///
/// # Example
/// ```
/// let cost = kaigo_seikyu::testkit::Cost::default();
/// assert_eq!((cost.rounds, cost.records, cost.single_loads, cost.commits), (0, 0, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    /// Single-record [`Store::load`]s (OPS-04: a request makes none).
    pub single_loads: usize,
    /// Rounds: [`Store::load_many`] calls, one batched read each.
    pub rounds: usize,
    /// Records the rounds asked for, in all.
    pub records: usize,
    /// Listings: [`Store::scan`] (a review queue's page) and [`Store::outbox`] (a delivery's
    /// batch) calls.
    pub listings: usize,
    /// [`Store::commit`]s.
    pub commits: usize,
    /// [`Store::purge`] calls.
    pub purges: usize,
}

/// A [`Store`] that counts what reaches the store it wraps: single loads, batched loads
/// (rounds), records read, commits (OPS-04). Wrap a host's store in it to prove how many round
/// trips each entry point makes; [`CountingStore::take`] returns the counts since the last take
/// and starts again from zero. `tests/round_trips.rs` and `benches/rounds.rs` count with it.
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use kaigo_seikyu::memory::MemoryStore;
/// use kaigo_seikyu::store::{Key, Store};
/// use kaigo_seikyu::testkit::{Cost, CountingStore};
/// let store = CountingStore::new(Arc::new(MemoryStore::default()));
/// let key = Key::Account("KJ131311111111".parse()?);
/// store.load_many(&[key.clone(), key])?;
/// store.commit(&[])?;
/// assert_eq!(store.take(), Cost { rounds: 1, records: 2, commits: 1, ..Cost::default() });
/// assert_eq!(store.take(), Cost::default());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CountingStore {
    inner: std::sync::Arc<dyn Store>,
    single_loads: std::sync::atomic::AtomicUsize,
    rounds: std::sync::atomic::AtomicUsize,
    records: std::sync::atomic::AtomicUsize,
    listings: std::sync::atomic::AtomicUsize,
    commits: std::sync::atomic::AtomicUsize,
    purges: std::sync::atomic::AtomicUsize,
}

impl CountingStore {
    /// Counts the calls that reach `inner`.
    pub fn new(inner: std::sync::Arc<dyn Store>) -> Self {
        CountingStore {
            inner,
            single_loads: Default::default(),
            rounds: Default::default(),
            records: Default::default(),
            listings: Default::default(),
            commits: Default::default(),
            purges: Default::default(),
        }
    }

    /// The in-memory `host`'s ports with their store counted: the ports to build a portal on,
    /// and the counting store to read.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, portal::Portal, secret::CodeKey};
    /// use kaigo_seikyu::testkit::CountingStore;
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let (ports, store) = CountingStore::over(&host);
    /// let portal = Portal::new(ports, Policy::insecure_fast_hashing(), CodeKey::from_bytes([1; 32]));
    /// portal.account(&"KJ131311111111".parse()?)?;
    /// assert_eq!(store.take().rounds, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn over(host: &crate::memory::Embedded) -> (crate::portal::Ports, std::sync::Arc<Self>) {
        let store = std::sync::Arc::new(CountingStore::new(host.store.clone()));
        let mut ports = host.ports();
        ports.store = store.clone();
        (ports, store)
    }

    /// The counts since the last call (or since [`CountingStore::new`]), which start again from
    /// zero.
    pub fn take(&self) -> Cost {
        use std::sync::atomic::Ordering::SeqCst;
        Cost {
            single_loads: self.single_loads.swap(0, SeqCst),
            rounds: self.rounds.swap(0, SeqCst),
            records: self.records.swap(0, SeqCst),
            listings: self.listings.swap(0, SeqCst),
            commits: self.commits.swap(0, SeqCst),
            purges: self.purges.swap(0, SeqCst),
        }
    }
}

impl Store for CountingStore {
    fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        self.single_loads
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.load(key)
    }

    fn load_many(&self, keys: &[Key]) -> Result<Vec<Option<Versioned>>, StoreError> {
        self.rounds
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.records
            .fetch_add(keys.len(), std::sync::atomic::Ordering::SeqCst);
        self.inner.load_many(keys)
    }

    fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        self.commits
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.commit(writes)
    }

    fn outbox(&self, limit: usize) -> Result<Vec<(EffectId, Versioned)>, StoreError> {
        self.listings
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.outbox(limit)
    }

    fn scan(
        &self,
        range: &crate::store::KeyRange,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<Vec<Versioned>, StoreError> {
        self.listings
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.scan(range, after, limit)
    }

    fn purge(&self, now: Instant, limit: usize) -> Result<usize, StoreError> {
        self.purges
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.purge(now, limit)
    }
}

/// Runs `future` to completion with the host's `block_on` and returns its output; `None` when
/// `block_on` returned before the future was done.
#[cfg(feature = "async")]
fn block<T: Send>(
    block_on: BlockOn<'_>,
    future: impl std::future::Future<Output = T> + Send,
) -> Option<T> {
    let mut out = None;
    block_on(Box::pin(async {
        out = Some(future.await);
    }));
    out
}

/// An [`AsyncOfficeLedger`](crate::portal::asynchronous::AsyncOfficeLedger) seen as a blocking
/// [`OfficeLedger`] through the host's `block_on`.
#[cfg(feature = "async")]
struct BlockingLedger<'a, L: ?Sized> {
    ledger: &'a L,
    block_on: BlockOn<'a>,
}

#[cfg(feature = "async")]
impl<L: crate::portal::asynchronous::AsyncOfficeLedger + ?Sized> OfficeLedger
    for BlockingLedger<'_, L>
{
    fn find(&self, number: &OfficeNumber) -> Result<Option<OfficeRecord>, PortError> {
        let future = crate::portal::asynchronous::AsyncOfficeLedger::find(self.ledger, number);
        block(self.block_on, future).unwrap_or_else(|| {
            Err(PortError(
                "the host's block_on returned before the future was done".into(),
            ))
        })
    }
}

/// OPS-05: an [`AsyncOfficeLedger`](crate::portal::asynchronous::AsyncOfficeLedger) keeps the
/// ledger's contract as [`office_ledger`] checks it: look-ups find exactly the records of
/// `present` (which the host seeded) and nothing for `absent`, also from several threads at
/// once, every look-up a future run by the host's `block_on`.
///
/// # Example
/// The in-memory ledger (every blocking ledger is an async one), on `pollster`:
/// ```
/// use kaigo_seikyu::{memory::Ledger, ports::OfficeRecord, values::Prefecture};
/// let ledger = Ledger::default();
/// let office = OfficeRecord {
///     number: "1311111111".parse()?,
///     name: "請求事業所A".into(),
///     postal_address: "東京都千代田区".into(),
///     phone: "03-0000-0000".into(),
///     billing: vec![Prefecture::TOKYO],
/// };
/// ledger.insert(office.clone());
/// let absent = ["2711111111".parse()?];
/// kaigo_seikyu::testkit::async_office_ledger(&ledger, &[office], &absent, &|f| pollster::block_on(f))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "async")]
pub fn async_office_ledger<L: crate::portal::asynchronous::AsyncOfficeLedger + ?Sized>(
    ledger: &L,
    present: &[OfficeRecord],
    absent: &[OfficeNumber],
    block_on: BlockOn<'_>,
) -> Result<(), Violation> {
    office_ledger(&BlockingLedger { ledger, block_on }, present, absent)
}

/// How [`async_effects`] reads back what reached the host's ports: every mail sent, the notices
/// of an office and every event, each oldest first.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, memory::Embedded, testkit::ReadBack};
/// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
/// let read = ReadBack {
///     mails: &|| Ok(host.outbox.all()),
///     notices: &|office| Ok(host.notices.for_office(office)),
///     events: &|| Ok(host.events.all()),
/// };
/// assert!((read.mails)()?.is_empty());
/// # Ok::<(), kaigo_seikyu::ports::PortError>(())
/// ```
#[cfg(feature = "async")]
pub struct ReadBack<'a> {
    /// Every mail that reached the mailer, oldest first.
    pub mails: &'a dyn Fn() -> Result<Vec<Mail>, PortError>,
    /// Every notice posted to an office, oldest first.
    pub notices: &'a dyn Fn(&OfficeNumber) -> Result<Vec<Notice>, PortError>,
    /// Every event recorded, oldest first.
    pub events: &'a dyn Fn() -> Result<Vec<Event>, PortError>,
}

#[cfg(feature = "async")]
const EFFECTS: &str = "async effects";

/// OPS-01, OPS-05: an [`AsyncEffects`](crate::portal::asynchronous::AsyncEffects) hands each
/// effect to its port, unchanged and in the order delivered: a mail to the mailer, a notice to
/// its office's board only, an event to the audit log, a session revocation accepted; a withheld
/// code (RS-03) reaches no port; delivering an effect again under the same id (at least once,
/// after a crash) is accepted. `read` reads back what reached the ports; every delivery is a
/// future run by the host's `block_on`.
///
/// # Example
/// The in-memory ports (their `Ports` deliver as ready futures), on `pollster`:
/// ```
/// use kaigo_seikyu::{calendar::utc, memory::Embedded, testkit::{self, ReadBack}};
/// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
/// let read = ReadBack {
///     mails: &|| Ok(host.outbox.all()),
///     notices: &|office| Ok(host.notices.for_office(office)),
///     events: &|| Ok(host.events.all()),
/// };
/// testkit::async_effects(&host.ports(), &read, &|f| pollster::block_on(f))?;
/// # Ok::<(), testkit::Violation>(())
/// ```
#[cfg(feature = "async")]
pub fn async_effects<E: crate::portal::asynchronous::AsyncEffects + ?Sized>(
    effects: &E,
    read: &ReadBack<'_>,
    block_on: BlockOn<'_>,
) -> Result<(), Violation> {
    use crate::effect::Outgoing;
    let a: OfficeNumber = value(EFFECTS, "01A7000001")?;
    let b: OfficeNumber = value(EFFECTS, "01A7000002")?;
    let user: UserId = value(EFFECTS, "KJ0101A7000001")?;
    let id = |n: u64| value::<EffectId>(EFFECTS, &format!("7e57{n:028x}"));
    let mails: Vec<Mail> = (0..2)
        .map(|n| kit_mail(200 + n))
        .collect::<Result<_, _>>()?;
    let notice = mail::reissue_approved_notice(&value(EFFECTS, "U100001000002")?);
    let event = Event {
        at: kit_instant(0),
        kind: EventKind::LoginFailed { user },
    };
    let deliver = |n: u64, effect: Outgoing| -> Result<(), Violation> {
        let what = format!("delivering {effect:?}");
        let id = id(n)?;
        let done = block(block_on, effects.deliver(&id, effect));
        let result = done.unwrap_or_else(|| {
            Err(PortError(
                "the host's block_on returned before the future was done".into(),
            ))
        });
        port(EFFECTS, &what, result)
    };
    let seen = || -> Result<_, Violation> {
        Ok((
            port(EFFECTS, "reading mails", (read.mails)())?,
            port(EFFECTS, "reading notices", (read.notices)(&a))?,
            port(EFFECTS, "reading notices", (read.notices)(&b))?,
            port(EFFECTS, "reading events", (read.events)())?,
        ))
    };
    let before = seen()?;
    let outgoing = [
        Outgoing::Mail(mails[0].clone()),
        Outgoing::Notice {
            office: a,
            notice: notice.clone(),
        },
        Outgoing::Event(event.clone()),
        Outgoing::RevokeSessions(user),
        Outgoing::Withheld(value(EFFECTS, "withheld@example.jp")?),
        Outgoing::Mail(mails[1].clone()),
    ];
    for (n, effect) in (0..).zip(outgoing) {
        deliver(n, effect)?;
    }
    let after = seen()?;
    appended(
        &before.0,
        &after.0,
        &mails,
        "the mailer (a withheld code reaches none)",
    )?;
    appended(
        &before.1,
        &after.1,
        &[notice],
        &format!("office {a}'s board"),
    )?;
    appended(&before.2, &after.2, &[], &format!("office {b}'s board"))?;
    appended(
        &before.3,
        &after.3,
        std::slice::from_ref(&event),
        "the audit log",
    )?;
    // At least once: the same effect again under its id is accepted.
    deliver(0, Outgoing::Mail(mails[0].clone()))?;
    deliver(2, Outgoing::Event(event))?;
    Ok(())
}

/// `after` is `before` followed by `want`: what the kit delivered to `port`, and nothing else.
#[cfg(feature = "async")]
fn appended<T: PartialEq + std::fmt::Debug>(
    before: &[T],
    after: &[T],
    want: &[T],
    port: &str,
) -> Result<(), Violation> {
    let tail = after.strip_prefix(before);
    ensure(tail == Some(want), EFFECTS, || {
        format!("delivered {want:?} to {port}, which got {tail:?} after its earlier {before:?}")
    })
}

//! The port conformance kit (`kaigo_seikyu::testkit`) against the in-memory ports of
//! `memory::Embedded`. `tests/sqlite_host.rs` runs the same kit against the SQLite host.

use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::effect::EffectId;
use kaigo_seikyu::mail::Mail;
use kaigo_seikyu::memory::{Embedded, MemoryStore, Outbox};
use kaigo_seikyu::ports::{OfficeRecord, PortError};
use kaigo_seikyu::store::{Key, Store, StoreError, Versioned, Write};
use kaigo_seikyu::testkit::{self, DeliveryLoop};
use kaigo_seikyu::values::{OfficeNumber, Prefecture};

fn host() -> Embedded {
    Embedded::new(utc("2026-01-10T10:00:00+09:00"))
}

fn offices() -> Vec<OfficeRecord> {
    vec![
        OfficeRecord {
            number: "1311111111".parse().unwrap(),
            name: "請求事業所A".into(),
            postal_address: "〒100-0001 東京都千代田区千代田1-1".into(),
            phone: "03-0000-0000".into(),
            billing: vec![Prefecture::TOKYO],
        },
        OfficeRecord {
            number: "27A1234567".parse().unwrap(),
            name: "訪問介護ステーション「さくら」".into(),
            postal_address: "大阪府大阪市北区".into(),
            phone: "06-0000-0000".into(),
            billing: vec![Prefecture::OSAKA, Prefecture::TOKYO, Prefecture::HOKKAIDO],
        },
    ]
}

/// SEC-02, VAL-08: the in-memory store keeps every store contract, also with two handles.
#[test]
fn memory_store_passes_the_kit() {
    let host = host();
    testkit::store(&[&*host.store, &*host.store]).unwrap();
}

/// OPS-05: the in-memory store, as an async store (its calls ready futures), keeps the store
/// contracts the async calls cover, on a minimal executor, from several threads.
#[test]
fn memory_store_passes_the_async_kit() {
    let host = host();
    testkit::async_store(&[&*host.store, &*host.store], &|f| pollster::block_on(f)).unwrap();
}

/// OPS-04, OPS-01: `load_many` and the outbox of the in-memory store, one check at a time.
#[test]
fn ops_01_ops_04_memory_load_many_and_outbox_pass_the_kit() {
    let store = MemoryStore::default();
    testkit::load_many(&store).unwrap();
    testkit::outbox(&store).unwrap();
}

/// SEC-08: the in-memory outbox keeps order and delivers at least once.
#[test]
fn memory_outbox_passes_the_kit() {
    let host = host();
    testkit::mailer_outbox(&*host.outbox, &*host.outbox).unwrap();
}

/// The notice board, audit log, ledger and sessions in memory.
#[test]
fn memory_notices_events_ledger_sessions_pass_the_kit() {
    let host = host();
    testkit::notice_board(&*host.notices, &|office| {
        Ok(host.notices.for_office(office))
    })
    .unwrap();
    testkit::audit_log(&*host.events, &|| Ok(host.events.all())).unwrap();
    for office in offices() {
        host.ledger.insert(office);
    }
    let absent: OfficeNumber = "0112345678".parse().unwrap();
    testkit::office_ledger(&*host.ledger, &offices(), &[absent]).unwrap();
    testkit::sessions(&*host.sessions).unwrap();
}

/// The kit catches broken stores: one that ignores versions, one that applies half a commit,
/// one that loses updates. Each gets a violation naming the contract, never a pass or a panic.
#[test]
fn kit_rejects_broken_stores() {
    /// Ignores `expected`: last writer wins.
    #[derive(Default)]
    struct NoCas(MemoryStore);
    impl Store for NoCas {
        fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
            self.0.load(key)
        }
        fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
            for w in writes {
                let current = self.0.load(w.key())?.map(|v| v.version);
                let w = match w.clone() {
                    Write::Put { key, value, .. } => Write::Put {
                        key,
                        expected: current,
                        value,
                        expires: None,
                    },
                    delete => delete,
                };
                self.0.commit(&[w]).ok();
            }
            Ok(())
        }
    }
    /// Checks each write, but applies those before a conflicting one.
    #[derive(Default)]
    struct Piecemeal(MemoryStore);
    impl Store for Piecemeal {
        fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
            self.0.load(key)
        }
        fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
            writes
                .iter()
                .try_for_each(|w| self.0.commit(std::slice::from_ref(w)))
        }
    }
    /// Reports every third successful write as a conflict though it was applied: retries then
    /// count twice (a lost or doubled update).
    #[derive(Default)]
    struct Flaky(MemoryStore, std::sync::atomic::AtomicUsize);
    impl Store for Flaky {
        fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
            self.0.load(key)
        }
        fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
            self.0.commit(writes)?;
            let n = self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if n % 3 == 2 {
                Err(StoreError::Conflict)
            } else {
                Ok(())
            }
        }
    }

    let v = testkit::compare_and_swap(&NoCas::default()).unwrap_err();
    assert_eq!(v.contract, "store: compare-and-swap", "{v}");
    let v = testkit::racing_saves(&[&NoCas::default()], 4).unwrap_err();
    assert_eq!(v.contract, "store: racing saves", "{v}");
    let v = testkit::compare_and_swap(&Piecemeal::default()).unwrap_err();
    assert!(v.problem.contains("refused commit"), "{v}");
    let v = testkit::no_lost_update(&[&Flaky::default()], 2, 10).unwrap_err();
    assert_eq!(v.contract, "store: no lost update", "{v}");
    let v = testkit::sequence_numbers(&[&Flaky::default()], 6).unwrap_err();
    assert_eq!(v.contract, "store: sequence numbers", "{v}");
    // No handle at all, and a store that is not fresh.
    assert!(testkit::store(&[]).is_err());
    let used = MemoryStore::default();
    testkit::compare_and_swap(&used).unwrap();
    assert!(
        testkit::compare_and_swap(&used)
            .unwrap_err()
            .problem
            .contains("fresh store")
    );
}

/// The kit catches a broken outbox: one that drops a refused mail instead of keeping it.
#[test]
fn kit_rejects_an_outbox_that_drops_refused_mail() {
    struct Lossy<'a>(&'a Outbox);
    impl DeliveryLoop for Lossy<'_> {
        fn deliver(
            &self,
            send: &mut dyn FnMut(&Mail) -> Result<(), PortError>,
        ) -> Result<usize, PortError> {
            let mails = self.0.drain();
            let n = mails.len();
            mails.iter().try_for_each(&mut *send)?;
            Ok(n)
        }
    }
    let outbox = Outbox::default();
    let v = testkit::mailer_outbox(&outbox, &Lossy(&outbox)).unwrap_err();
    assert_eq!(v.contract, "mailer: outbox", "{v}");
}

/// The sequence the kit checks is the one the reissue flow writes: a `Key::Sequence` record
/// holding a plain JSON number.
#[test]
fn sequence_records_are_plain_json_numbers() {
    let store = MemoryStore::default();
    let key = Key::Sequence(kaigo_seikyu::calendar::YearMonth::new(2026, 1).unwrap());
    assert_eq!(testkit::claim_next(&store, &key).unwrap(), 1);
    assert_eq!(testkit::claim_next(&store, &key).unwrap(), 2);
    assert_eq!(store.load(&key).unwrap().unwrap().value, b"2");
    assert_eq!(key.to_string(), "sequence/202601");
}

/// The kit catches a `load_many` that skips absent keys or answers a key asked twice once, an
/// outbox listed in key order, and one that forgets what it listed (at most once); also through
/// the async kit. Each gets a violation naming the contract.
#[test]
fn ops_01_ops_04_kit_rejects_broken_load_many_and_outbox() {
    /// Answers each distinct key once, and absent keys not at all.
    #[derive(Default)]
    struct Sparse(MemoryStore);
    impl Store for Sparse {
        fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
            self.0.load(key)
        }
        fn load_many(&self, keys: &[Key]) -> Result<Vec<Option<Versioned>>, StoreError> {
            let mut seen = Vec::new();
            let mut found = Vec::new();
            for key in keys {
                if !seen.contains(key) {
                    seen.push(key.clone());
                    if let Some(v) = self.0.load(key)? {
                        found.push(Some(v));
                    }
                }
            }
            Ok(found)
        }
        fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
            self.0.commit(writes)
        }
        fn outbox(&self, limit: usize) -> Result<Vec<(EffectId, Versioned)>, StoreError> {
            self.0.outbox(limit)
        }
    }
    /// Lists the outbox in key order, not commit order.
    #[derive(Default)]
    struct Sorted(MemoryStore);
    impl Store for Sorted {
        fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
            self.0.load(key)
        }
        fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
            self.0.commit(writes)
        }
        fn outbox(&self, limit: usize) -> Result<Vec<(EffectId, Versioned)>, StoreError> {
            let mut all = self.0.outbox(usize::MAX)?;
            all.sort_by(|a, b| a.0.cmp(&b.0));
            all.truncate(limit);
            Ok(all)
        }
    }
    /// Removes what it lists: a crash after listing loses the effects.
    #[derive(Default)]
    struct Forgetful(MemoryStore);
    impl Store for Forgetful {
        fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
            self.0.load(key)
        }
        fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
            self.0.commit(writes)
        }
        fn outbox(&self, limit: usize) -> Result<Vec<(EffectId, Versioned)>, StoreError> {
            let listed = self.0.outbox(limit)?;
            for (id, _) in &listed {
                self.0.commit(&[Write::Delete {
                    key: Key::Outbox(id.clone()),
                    expected: 1,
                }])?;
            }
            Ok(listed)
        }
    }
    let v = testkit::load_many(&Sparse::default()).unwrap_err();
    assert_eq!(v.contract, "store: load_many", "{v}");
    let v = testkit::outbox(&Sorted::default()).unwrap_err();
    assert_eq!(v.contract, "store: outbox", "{v}");
    assert!(v.problem.contains("commit"), "{v}");
    let v = testkit::outbox(&Forgetful::default()).unwrap_err();
    assert_eq!(v.contract, "store: outbox", "{v}");
    // Through the async kit a single load is a load_many of one key: the first check fails.
    let v = testkit::async_store(&[&Sparse::default()], &block_on).unwrap_err();
    assert!(v.problem.contains("load_many of one key"), "{v}");
    let v = testkit::async_store(&[&Sorted::default()], &block_on).unwrap_err();
    assert_eq!(v.contract, "store: outbox", "{v}");
}

/// OPS-05: the in-memory ledger, as an async ledger (its look-ups ready futures), keeps the
/// ledger's contract on a minimal executor, from several threads.
#[test]
fn ops_05_memory_ledger_passes_the_async_kit() {
    let host = host();
    for office in offices() {
        host.ledger.insert(office);
    }
    let absent: OfficeNumber = "0112345678".parse().unwrap();
    testkit::async_office_ledger(&*host.ledger, &offices(), &[absent], &block_on).unwrap();
}

/// The in-memory ports' read-back, for the async effects kit.
macro_rules! read_back {
    ($host:expr) => {
        testkit::ReadBack {
            mails: &|| Ok($host.outbox.all()),
            notices: &|office| Ok($host.notices.for_office(office)),
            events: &|| Ok($host.events.all()),
        }
    };
}

/// The async kits' executor: a minimal one.
fn block_on(f: testkit::KitFuture<'_>) {
    pollster::block_on(f)
}

/// OPS-01, OPS-05: the in-memory `Ports`, as the async driver's effects, hand each effect to
/// its port in order, a withheld code to none, and accept an id delivered again.
#[test]
fn ops_01_ops_05_memory_ports_pass_the_async_effects_kit() {
    let host = host();
    testkit::async_effects(&host.ports(), &read_back!(host), &block_on).unwrap();
}

/// The async kits catch a broken async ledger and broken async effects: a violation naming the
/// contract, never a pass.
#[test]
fn ops_05_async_kits_reject_a_broken_ledger_and_broken_effects() {
    use kaigo_seikyu::effect::Outgoing;
    use kaigo_seikyu::portal::Ports;
    use kaigo_seikyu::portal::asynchronous::{AsyncEffects, AsyncOfficeLedger};

    /// Finds nothing: an async ledger that never answers from its records.
    struct Forgetful;
    impl AsyncOfficeLedger for Forgetful {
        async fn find(&self, _: &OfficeNumber) -> Result<Option<OfficeRecord>, PortError> {
            Ok(None)
        }
    }
    /// Drops every event; delivers the rest.
    struct Unaudited(Ports);
    impl AsyncEffects for Unaudited {
        async fn deliver(&self, id: &EffectId, effect: Outgoing) -> Result<(), PortError> {
            match effect {
                Outgoing::Event(_) => Ok(()),
                other => self.0.deliver(id, other).await,
            }
        }
    }
    /// Posts every notice to one office, whichever it is for.
    struct Misrouted(Ports);
    impl AsyncEffects for Misrouted {
        async fn deliver(&self, id: &EffectId, effect: Outgoing) -> Result<(), PortError> {
            match effect {
                Outgoing::Notice { notice, .. } => {
                    let office = "01A7000002".parse().unwrap();
                    self.0
                        .deliver(id, Outgoing::Notice { office, notice })
                        .await
                }
                other => self.0.deliver(id, other).await,
            }
        }
    }
    let v = testkit::async_office_ledger(&Forgetful, &offices(), &[], &block_on).unwrap_err();
    assert_eq!(v.contract, "office ledger", "{v}");
    let host = host();
    let v =
        testkit::async_effects(&Unaudited(host.ports()), &read_back!(host), &block_on).unwrap_err();
    assert!(v.problem.contains("audit log"), "{v}");
    let host = self::host();
    let v =
        testkit::async_effects(&Misrouted(host.ports()), &read_back!(host), &block_on).unwrap_err();
    assert_eq!(v.contract, "async effects", "{v}");
    assert!(v.problem.contains("board"), "{v}");
}

//! The library's conformance kit (`kaigo_seikyu::testkit`) on the PostgreSQL ports, blocking and
//! async, each test in a fresh schema of its own. Two pools on one schema stand for two
//! processes: the kit's races are spread over both.

mod common;

use std::sync::Arc;

use common::runtime;
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::mail::Mail;
use kaigo_seikyu::memory::VirtualClock;
use kaigo_seikyu::portal::asynchronous::AsyncOfficeLedger;
use kaigo_seikyu::ports::{OfficeLedger, OfficeRecord, PortError};
use kaigo_seikyu::store::{Key, Store, StoreError, Write};
use kaigo_seikyu::testkit::{self, DeliveryLoop};
use kaigo_seikyu::values::{OfficeNumber, Prefecture};
use kaigo_seikyu_postgres::{AsyncPgPorts, PgPorts, ScratchSchema, database_url};

fn clock() -> Arc<VirtualClock> {
    Arc::new(VirtualClock::new(utc("2026-01-10T10:00:00+09:00")))
}

fn offices() -> (Vec<OfficeRecord>, Vec<OfficeNumber>) {
    let present = vec![
        OfficeRecord {
            number: "1311111111".parse().unwrap(),
            name: "請求事業所A".into(),
            postal_address: "東京都千代田区霞が関1-2-2".into(),
            phone: "03-0000-0000".into(),
            billing: vec![Prefecture::TOKYO],
        },
        OfficeRecord {
            number: "2711111111".parse().unwrap(),
            name: "請求事業所C 'quoted' \"name\"".into(),
            postal_address: "大阪府大阪市".into(),
            phone: "06-0000-0000".into(),
            billing: vec![Prefecture::TOKYO, Prefecture::OSAKA],
        },
    ];
    (present, vec!["0111111111".parse().unwrap()])
}

/// SEC-02, OPS-01..04: every store contract of the kit on the blocking store, its races spread
/// over two pools (two "processes") on one schema.
#[test]
fn blocking_store_passes_the_kit() {
    let Some(url) = database_url("blocking_store_passes_the_kit") else {
        return;
    };
    let scratch = ScratchSchema::new(&url).unwrap();
    let (a, b) = (scratch.store().unwrap(), scratch.store().unwrap());
    testkit::store(&[&a, &b]).unwrap();
}

/// OPS-05: the async store keeps the store contracts the async driver relies on, its futures run
/// by tokio from several threads at once, over two pools.
#[test]
fn async_store_passes_the_kit() {
    let Some(url) = database_url("async_store_passes_the_kit") else {
        return;
    };
    let rt = runtime();
    let scratch = ScratchSchema::new(&url).unwrap();
    let (a, b) = rt.block_on(async {
        (
            scratch.async_store().await.unwrap(),
            scratch.async_store().await.unwrap(),
        )
    });
    testkit::async_store(&[&a, &b], &|f| rt.block_on(f)).unwrap();
    // Expiry, purge and scan are async calls of this store too: the blocking kit on the same
    // schema checks the rows they read.
    testkit::expiry_and_purge(&scratch.store().unwrap()).unwrap();
}

/// The other ports (mail outbox with its delivery loop, notices, audit log, ledger, sessions).
#[test]
fn blocking_ports_pass_the_kit() {
    let Some(url) = database_url("blocking_ports_pass_the_kit") else {
        return;
    };
    let scratch = ScratchSchema::new(&url).unwrap();
    let host = PgPorts::new(scratch.store().unwrap(), clock());
    struct Loop<'a>(&'a PgPorts);
    impl DeliveryLoop for Loop<'_> {
        fn deliver(
            &self,
            send: &mut dyn FnMut(&Mail) -> Result<(), PortError>,
        ) -> Result<usize, PortError> {
            self.0.deliver_mails(|queued| send(&queued.mail))
        }
    }
    testkit::mailer_outbox(&host, &Loop(&host)).unwrap();
    testkit::notice_board(&host, &|office| host.notices_for(office)).unwrap();
    testkit::audit_log(&host, &|| host.events()).unwrap();
    let (present, absent) = offices();
    for record in &present {
        host.insert_office(record).unwrap();
    }
    testkit::office_ledger(&host, &present, &absent).unwrap();
    testkit::sessions(&host).unwrap();
    let user = "KJ0101A7000001".parse().unwrap();
    assert_eq!(
        host.sessions_revoked_at(&user).unwrap(),
        Some(utc("2026-01-10T10:00:00+09:00"))
    );
}

/// The async ledger finds what the ledger holds, from several threads at once.
#[test]
fn async_ledger_passes_the_kit() {
    let Some(url) = database_url("async_ledger_passes_the_kit") else {
        return;
    };
    let rt = runtime();
    let scratch = ScratchSchema::new(&url).unwrap();
    let host =
        rt.block_on(async { AsyncPgPorts::new(scratch.async_store().await.unwrap(), clock()) });
    let (present, absent) = offices();
    for record in &present {
        rt.block_on(host.insert_office(record)).unwrap();
    }
    struct Blocking<'a>(&'a AsyncPgPorts, &'a tokio::runtime::Runtime);
    impl OfficeLedger for Blocking<'_> {
        fn find(&self, number: &OfficeNumber) -> Result<Option<OfficeRecord>, PortError> {
            self.1.block_on(AsyncOfficeLedger::find(self.0, number))
        }
    }
    testkit::office_ledger(&Blocking(&host, &rt), &present, &absent).unwrap();
}

/// SEC-02, the reason for the key locks (crate docs, "Why READ COMMITTED is enough"): two
/// commits that each check a record absent and create the one the other checks (write skew)
/// never both succeed, round after round, over two pools.
#[test]
fn sec_02_checks_of_absent_records_are_serializable() {
    let Some(url) = database_url("sec_02_checks_of_absent_records_are_serializable") else {
        return;
    };
    let scratch = ScratchSchema::new(&url).unwrap();
    let stores = [scratch.store().unwrap(), scratch.store().unwrap()];
    let key = |round: u16, side: u8| -> Key {
        Key::Sequence(kaigo_seikyu::calendar::YearMonth::new(2000 + round, side + 1).unwrap())
    };
    let mut both = 0;
    for round in 0..200u16 {
        let barrier = std::sync::Barrier::new(2);
        let results: Vec<Result<(), StoreError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2u8)
                .map(|side| {
                    let (store, barrier) = (&stores[side as usize], &barrier);
                    s.spawn(move || {
                        let writes = [
                            Write::Check {
                                key: key(round, 1 - side),
                                expected: None,
                            },
                            Write::Put {
                                key: key(round, side),
                                expected: None,
                                value: b"1".to_vec(),
                                expires: None,
                            },
                        ];
                        barrier.wait();
                        store.commit(&writes)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in &results {
            assert!(matches!(r, Ok(()) | Err(StoreError::Conflict)), "{r:?}");
        }
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert!(won >= 1, "round {round}: both commits were refused");
        if won == 2 {
            both += 1;
        }
    }
    assert_eq!(
        both, 0,
        "write skew: both commits succeeded in {both} of 200 rounds"
    );
}

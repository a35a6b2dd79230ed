//! The model-based tests of the flows (`kaigo_seikyu::testkit::models`) over the PostgreSQL
//! ports, with fewer cases than the in-memory ones (`tests/model_*.rs`): the same models, the
//! host chosen by a [`Harness`]. Each case gets a fresh scratch schema holding the store, the
//! notice board, the audit log, the sessions and the office ledger; the clock and the mailer stay
//! the models' own (they move time and read the codes they mail).

use std::sync::{Arc, Mutex};

use kaigo_seikyu::ports::{OfficeLedger, OfficeRecord, PortError, SystemClock};
use kaigo_seikyu::testkit::models::{
    Harness, HostPorts, LedgerSetup, certificate, gate, reissue, reset, security_emails,
};
use kaigo_seikyu::values::OfficeNumber;
use kaigo_seikyu_postgres::{PgPorts, ScratchSchema, database_url};

/// Cases per model (`PROPTEST_CASES` overrides it).
const CASES: u32 = 16;

/// The PostgreSQL host under the models: a fresh schema per case. The schema of the case before
/// is dropped when the next one starts (cases run one after another), the last one with the
/// harness.
struct Postgres {
    url: String,
    schema: Mutex<Option<ScratchSchema>>,
}

impl Postgres {
    /// The harness, or `None` when the test is skipped ([`database_url`]).
    fn new(test: &str) -> Option<Postgres> {
        Some(Postgres {
            url: database_url(test)?,
            schema: Mutex::new(None),
        })
    }
}

impl Harness for Postgres {
    fn ports(&self) -> HostPorts {
        let scratch = ScratchSchema::new(&self.url).expect("a scratch schema");
        let store = scratch.store().expect("the store connects");
        *self.schema.lock().unwrap_or_else(|e| e.into_inner()) = Some(scratch);
        let host = PgPorts::new(store.clone(), Arc::new(SystemClock));
        HostPorts {
            store: Arc::new(store),
            notices: Some(Arc::new(host.clone())),
            audit: Some(Arc::new(host.clone())),
            sessions: Some(Arc::new(host.clone())),
            ledger: Some(Arc::new(Ledger(host))),
        }
    }
}

/// The office ledger table, as the models fill it.
struct Ledger(PgPorts);

impl OfficeLedger for Ledger {
    fn find(&self, number: &OfficeNumber) -> Result<Option<OfficeRecord>, PortError> {
        self.0.find(number)
    }
}

impl LedgerSetup for Ledger {
    fn register(&self, record: OfficeRecord) -> Result<(), PortError> {
        self.0.insert_office(&record)
    }
}

/// RS-01, RS-02, RS-03, RS-04, RS-05, RS-06, RS-07, RS-08, VAL-01, VAL-06, VAL-07, SEC-01,
/// SEC-03, SEC-04, SEC-07 on PostgreSQL: resets agree with the model after every step of any
/// sequence of starts, prefecture choices, OTPs, resends, new passwords, `戻る` and clock moves.
#[test]
fn rs_model_agrees_on_postgres() {
    if let Some(host) = Postgres::new("rs_model_agrees_on_postgres") {
        reset::run(&host, CASES);
    }
}

/// LOGIN-01, LOGIN-02, LOGIN-03, FL-01, FL-02, FL-03, FL-04, FL-05, FL-06, GR-01, GR-02,
/// GR-03, GR-04, GR-05, CAL-02, SEC-01, SEC-03, SEC-04, SEC-07 on PostgreSQL: the login gate,
/// the first login and the grace registration agree with the model after every step.
#[test]
fn login_fl_gr_model_agrees_on_postgres() {
    if let Some(host) = Postgres::new("login_fl_gr_model_agrees_on_postgres") {
        gate::run(&host, CASES);
    }
}

/// RI-01, RI-02, RI-03, RI-04, RI-05, RI-06, RI-07, RI-08, RI-09, RI-10, VAL-08, VAL-09,
/// CAL-01, SEC-01, SEC-03, SEC-04, SEC-07, MAIL-01 on PostgreSQL: applications and reviews
/// agree with the model after every step, across JST month ends.
#[test]
fn ri_model_agrees_on_postgres() {
    if let Some(host) = Postgres::new("ri_model_agrees_on_postgres") {
        reissue::run(&host, CASES);
    }
}

/// SE-01, SE-02, SE-03, SE-04, SE-05, SE-06, SE-07, SE-08, SEC-01, SEC-03, SEC-04, SEC-07,
/// VAL-04, VAL-05, VAL-07 on PostgreSQL: the security emails and their add-or-change flows agree
/// with the model after every step.
#[test]
fn se_model_agrees_on_postgres() {
    if let Some(host) = Postgres::new("se_model_agrees_on_postgres") {
        security_emails::run(&host, CASES);
    }
}

/// FEE-01, FEE-02, FEE-03, FEE-04, FEE-06, CAL-01, CAL-03, CAL-04, VAL-06 on PostgreSQL: the
/// certificate flows agree with the model after every step, across the window and the fee
/// change.
#[test]
fn fee_model_agrees_on_postgres() {
    if let Some(host) = Postgres::new("fee_model_agrees_on_postgres") {
        certificate::run(&host, CASES);
    }
}

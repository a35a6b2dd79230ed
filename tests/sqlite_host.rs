//! The SQLite reference host (`examples/sqlite_host/`): the port conformance kit on a real
//! database, connections and processes racing on one file, crashes in the middle of a commit,
//! and files the host must refuse (SEC-02, SEC-08, VAL-08).
//!
//! Child processes are this test binary run again with `KAIGO_SQLITE_CHILD` set (see
//! [`child_process`]).

#[path = "../examples/sqlite_host/mod.rs"]
mod sqlite_host;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use kaigo_seikyu::account::Account;
use kaigo_seikyu::calendar::{YearMonth, utc};
use kaigo_seikyu::error::{FlowError, PortalError};
use kaigo_seikyu::mail::{self, Mail};
use kaigo_seikyu::memory::VirtualClock;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::{Delivery as PortalDelivery, Portal};
use kaigo_seikyu::ports::{Mailer, OfficeRecord, PortError};
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::store::{FlowId, FlowKind, Key, Store, StoreError, Write};
use kaigo_seikyu::testkit::{self, DeliveryLoop};
use kaigo_seikyu::values::{OfficeNumber, Prefecture, UserId};
use rusqlite::Connection;
use sqlite_host::{HostError, Options, Problem, SqliteHost, schema};

const CHILD: &str = "KAIGO_SQLITE_CHILD";

fn clock() -> Arc<VirtualClock> {
    Arc::new(VirtualClock::new(utc("2026-01-10T10:00:00+09:00")))
}

fn open(path: &Path) -> SqliteHost {
    SqliteHost::open(path, clock()).unwrap()
}

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("host.db");
    (dir, path)
}

fn flow_key() -> Key {
    Key::Flow(
        FlowKind::Reset,
        "00112233445566778899aabbccddeeff"
            .parse::<FlowId>()
            .unwrap(),
    )
}

fn account_key() -> Key {
    Key::Account("KJ131311111111".parse().unwrap())
}

/// Everything in the file, as text: header fields, schema, then every row of every table.
fn dump(path: &Path) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut out = Vec::new();
    for pragma in ["application_id", "user_version"] {
        out.push(format!(
            "{pragma}={}",
            conn.pragma_query_value(None, pragma, |r| r.get::<_, i64>(0))
                .unwrap()
        ));
    }
    let schema: Vec<(String, String, Option<String>)> = conn
        .prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (kind, name, sql) in &schema {
        out.push(format!("{kind} {name}: {sql:?}"));
        if kind == "table" {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM \"{name}\" ORDER BY 1"))
                .unwrap();
            let columns = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    (0..columns)
                        .map(|i| Ok(format!("{:?}", r.get_ref(i)?)))
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap();
            for row in rows {
                out.push(format!("  {name}: {}", row.unwrap().join(" | ")));
            }
        }
    }
    out
}

/// The SQLite host's delivery loop, as the kit drives it.
struct Delivery<'a>(&'a SqliteHost);

impl DeliveryLoop for Delivery<'_> {
    fn deliver(
        &self,
        send: &mut dyn FnMut(&Mail) -> Result<(), PortError>,
    ) -> Result<usize, PortError> {
        self.0.deliver(|outgoing| send(&outgoing.mail))
    }
}

/// This test binary, run again as a child process doing `job` (see [`child_process`]).
fn child(job: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "child_process",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, job)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

/// The lines a child printed for the parent (prefixed `CHILD:`), and whether it succeeded.
fn report(child: Child) -> (bool, Vec<String>) {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The harness may print `test child_process ... ` on the same line before the child's output.
    let lines = stdout
        .lines()
        .filter_map(|l| l.split_once("CHILD:"))
        .map(|(_, line)| line.to_owned())
        .collect();
    if !out.status.success() {
        eprintln!(
            "child failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (out.status.success(), lines)
}

/// The child side. Without `KAIGO_SQLITE_CHILD` (a normal test run) it does nothing. With it:
/// - `claim PATH N`: claims N management numbers of 2026-01 and prints each;
/// - `hang PATH`: commits a flow update and an account creation; the test installed a trigger
///   that never returns on the account, so the process is stuck in the middle of the commit;
/// - `open PATH`: opens the file and prints the error it gets;
/// - `guess PATH PLAN ME`: guesses wrong codes at the flows of the plan file, trial by trial
///   (see [`guess_at_plan`]), as process `ME` (0 or 1), and prints its answers per budget.
#[test]
fn child_process() {
    let Ok(job) = std::env::var(CHILD) else {
        return;
    };
    // Never outlive a parent that failed to end us (a crash at this point is fine too).
    std::thread::spawn(|| {
        std::thread::sleep(std::time::Duration::from_secs(60));
        std::process::abort();
    });
    let args: Vec<&str> = job.split('\t').collect();
    let say = |line: String| {
        let mut out = std::io::stdout().lock();
        writeln!(out, "CHILD:{line}").unwrap();
        out.flush().unwrap();
    };
    match args[..] {
        ["claim", path, n] => {
            let host = open(Path::new(path));
            let month = Key::Sequence(YearMonth::new(2026, 1).unwrap());
            for _ in 0..n.parse::<usize>().unwrap() {
                say(testkit::claim_next(&host, &month).unwrap().to_string());
            }
        }
        ["hang", path] => {
            let host = open(Path::new(path));
            say("committing".into());
            let r = host.commit(&[
                Write::Put {
                    key: flow_key(),
                    expected: Some(1),
                    value: b"flow v2".to_vec(),
                    expires: None,
                },
                Write::Put {
                    key: account_key(),
                    expected: None,
                    value: b"account v1".to_vec(),
                    expires: None,
                },
            ]);
            say(format!("returned {r:?}"));
        }
        ["provision", path, run] => {
            // OPS-01: provisions offices until killed; each commit holds the account and its
            // event (an outbox record), delivered right after the commit.
            let host = open(Path::new(path));
            let portal = Portal::new(
                host.ports(),
                Policy::insecure_fast_hashing(),
                CodeKey::from_bytes([7; 32]),
            );
            let mut rng = rand::rng();
            say("started".into());
            for n in 0.. {
                let user = format!("KJ1313{:02}{n:06}", run.parse::<u32>().unwrap());
                portal
                    .provision_new_office(&user, "Kari2026pass", &mut rng)
                    .unwrap();
            }
        }
        ["open", path] => say(SqliteHost::open(Path::new(path), clock())
            .map(drop)
            .unwrap_err()
            .to_string()),
        ["guess", path, plan, me] => {
            let plan = std::fs::read_to_string(plan).unwrap();
            for line in guess_at_plan(Path::new(path), &plan, me.parse().unwrap()) {
                say(line);
            }
        }
        _ => panic!("unknown job {job:?}"),
    }
}

/// SEC-02, VAL-08: the kit's store contracts on SQLite, with the threads spread over two hosts
/// (two connection pools) on one file: compare-and-swap, one winner of racing saves, no lost
/// update, gap-free sequence numbers.
#[test]
fn sqlite_store_passes_the_kit_over_two_connections() {
    let (_dir, path) = temp();
    let (a, b) = (open(&path), open(&path));
    testkit::store(&[&a, &b]).unwrap();
    // The operator's view of the sequence: the kit's months, last number and version.
    let conn = Connection::open(&path).unwrap();
    let rows: Vec<(String, i64, i64)> = conn
        .prepare("SELECT month, last, version FROM sequences ORDER BY month")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        [("100001".to_owned(), 8, 8), ("100002".to_owned(), 1, 1)]
    );
}

/// OPS-05, OPS-04, OPS-01: the SQLite host as an async store (its blocking calls as ready
/// futures, on a minimal executor), with the threads over two connection pools on one file:
/// the store contracts the async calls cover, `load_many` and the outbox included.
#[test]
fn sqlite_store_passes_the_async_kit_over_two_connections() {
    let (_dir, path) = temp();
    let (a, b) = (open(&path), open(&path));
    testkit::async_store(&[&a, &b], &|f| pollster::block_on(f)).unwrap();
}

/// OPS-04, OPS-01: `load_many` (one statement for records, a key asked twice answered twice) and
/// the `effects` table listed in commit order until removed.
#[test]
fn ops_01_ops_04_sqlite_load_many_and_outbox_pass_the_kit() {
    let (_dir, path) = temp();
    let host = open(&path);
    testkit::load_many(&host).unwrap();
    testkit::outbox(&host).unwrap();
}

/// SEC-08 and the other ports on SQLite: the outbox table and its delivery loop, notices, events,
/// the ledger (also as an async ledger, OPS-05) and session revocations.
#[test]
fn sqlite_ports_pass_the_kit() {
    let (_dir, path) = temp();
    let host = open(&path);
    testkit::mailer_outbox(&host, &Delivery(&host)).unwrap();
    testkit::notice_board(&host, &|office| Ok(host.notices_for(office)?)).unwrap();
    testkit::audit_log(&host, &|| Ok(host.events()?)).unwrap();
    let office = OfficeRecord {
        number: "27A1234567".parse().unwrap(),
        name: "訪問介護ステーション「さくら」".into(),
        postal_address: "大阪府大阪市北区".into(),
        phone: "06-0000-0000".into(),
        billing: vec![Prefecture::OSAKA, Prefecture::TOKYO],
    };
    host.insert_office(&office).unwrap();
    let absent: OfficeNumber = "1311111111".parse().unwrap();
    testkit::office_ledger(&host, std::slice::from_ref(&office), &[absent]).unwrap();
    // OPS-05: the same ledger as the async driver sees it.
    testkit::async_office_ledger(&host, &[office], &[absent], &|f| pollster::block_on(f)).unwrap();
    testkit::sessions(&host).unwrap();
    let user: UserId = "KJ0101A7000001".parse().unwrap();
    assert_eq!(
        host.sessions_revoked_at(&user).unwrap(),
        Some(utc("2026-01-10T10:00:00+09:00"))
    );
}

/// VAL-08 across processes: two processes claiming management numbers of one month on one file
/// get 1..=2N between them, each number once.
#[test]
fn two_processes_claim_gap_free_numbers() {
    let (_dir, path) = temp();
    drop(open(&path));
    let job = format!("claim\t{}\t15", path.display());
    let children: Vec<Child> = (0..2).map(|_| child(&job).spawn().unwrap()).collect();
    let mut numbers = Vec::new();
    for c in children {
        let (ok, lines) = report(c);
        assert!(ok);
        numbers.extend(lines.iter().map(|l| l.parse::<u32>().unwrap()));
    }
    let distinct: BTreeSet<u32> = numbers.iter().copied().collect();
    assert_eq!(numbers.len(), 30);
    assert_eq!(distinct, (1..=30).collect());
}

/// OPS-01: a child provisioning offices (each commit: the account and its audit event, as an
/// outbox record; delivery right after) is SIGKILLed at many points. After a restart and one
/// delivery, every committed account has its event delivered at least once, no event names an
/// account that was not committed, duplicates share their effect id, and the outbox is empty.
#[test]
fn ops_01_a_process_killed_anywhere_loses_no_effect() {
    let (_dir, path) = temp();
    drop(open(&path));
    let (mut in_flight, mut duplicated) = (0, 0);
    let runs = 24;
    for run in 0..runs {
        let mut cmd = child(&format!("provision\t{}\t{run}", path.display()));
        let mut killed = Killed(cmd.spawn().unwrap());
        // Wait for the child to start, then kill it a little later each run.
        let mut out = std::io::BufReader::new(killed.0.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("CHILD:started") {
            line.clear();
            let n = std::io::BufRead::read_line(&mut out, &mut line).unwrap();
            assert!(n > 0, "run {run}: the child ended before it started");
        }
        std::thread::sleep(std::time::Duration::from_millis(3 + 7 * run as u64));
        drop(killed);
        in_flight += rows_in(&path, "effects");
        let host = open(&path);
        let portal = Portal::new(
            host.ports(),
            Policy::insecure_fast_hashing(),
            CodeKey::from_bytes([7; 32]),
        );
        portal.deliver().unwrap();
        assert_eq!(
            rows_in(&path, "effects"),
            0,
            "run {run}: the outbox is delivered"
        );
        let conn = Connection::open(&path).unwrap();
        let accounts: BTreeSet<String> = conn
            .prepare("SELECT substr(key, 9) FROM records WHERE key GLOB 'account/*'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut ids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut rows = 0;
        for (event, id) in conn
            .prepare("SELECT event, effect_id FROM events")
            .unwrap()
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .unwrap()
            .map(Result::unwrap)
        {
            let event: serde_json::Value = serde_json::from_str(&event).unwrap();
            let user = event["kind"]["AccountProvisioned"]["user"]
                .as_str()
                .unwrap()
                .to_owned();
            ids.entry(user)
                .or_default()
                .insert(id.expect("delivered with its id"));
            rows += 1;
        }
        duplicated = rows - ids.len() as i64;
        let evented: BTreeSet<String> = ids.keys().cloned().collect();
        assert_eq!(
            evented, accounts,
            "run {run}: one event per committed account, no other"
        );
        assert!(
            ids.values().all(|set| set.len() == 1),
            "run {run}: duplicates share an id"
        );
    }
    let accounts = rows_in(&path, "records WHERE key GLOB 'account/*'");
    println!(
        "OPS-01 crash test: {runs} SIGKILLs, {accounts} committed steps, {in_flight} effects \
         committed and undelivered at a kill, {duplicated} delivered twice in all (same id)"
    );
    assert!(accounts > 0);
}

/// A child process, killed (SIGKILL) and reaped when dropped, also when the test fails.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// A flow v1 in a fresh file, closed so the file holds everything.
fn file_with_a_flow() -> (tempfile::TempDir, PathBuf) {
    let (dir, path) = temp();
    open(&path)
        .commit(&[Write::Put {
            key: flow_key(),
            expected: None,
            value: b"flow v1".to_vec(),
            expires: None,
        }])
        .unwrap();
    (dir, path)
}

/// SEC-02: a commit that fails after its first write (a trigger aborts the second) drops its
/// transaction before `COMMIT`: the file is exactly as before, and the commit reports the file.
#[test]
fn a_transaction_dropped_before_commit_leaves_the_file_as_before() {
    let (_dir, path) = file_with_a_flow();
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER crash BEFORE INSERT ON records WHEN NEW.key GLOB 'account/*'
             BEGIN SELECT RAISE(ABORT, 'injected crash in the middle of the commit'); END;",
        )
        .unwrap();
    let before = dump(&path);
    let host = open(&path);
    let result = host.commit(&[
        Write::Put {
            key: flow_key(),
            expected: Some(1),
            value: b"flow v2".to_vec(),
            expires: None,
        },
        Write::Put {
            key: account_key(),
            expected: None,
            value: b"account v1".to_vec(),
            expires: None,
        },
    ]);
    let Err(StoreError::Unavailable(message)) = result else {
        panic!("{result:?}")
    };
    assert!(
        message.contains(&path.display().to_string()) && message.contains("injected crash"),
        "{message}"
    );
    assert_eq!(dump(&path), before);
    assert_eq!(host.load(&flow_key()).unwrap().unwrap().value, b"flow v1");
}

/// SEC-02: a process killed in the middle of a commit (its first write done, the second stuck in
/// a trigger) leaves the database file byte for byte as before; the next open recovers, reads the
/// old state, and the same commit then succeeds.
#[test]
fn a_process_killed_mid_commit_leaves_the_file_as_before() {
    let (_dir, path) = file_with_a_flow();
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE VIEW forever AS
                 WITH RECURSIVE n(i) AS (VALUES (1) UNION ALL SELECT i + 1 FROM n) SELECT i FROM n;
             CREATE TRIGGER hang BEFORE INSERT ON records WHEN NEW.key GLOB 'account/*'
             BEGIN SELECT count(*) FROM forever; END;",
        )
        .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let before = dump(&path);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "reading changed the file"
    );

    let mut c = Killed(child(&format!("hang\t{}", path.display())).spawn().unwrap());
    let mut lines = BufReader::new(c.0.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.unwrap().ends_with("CHILD:committing")));
    // Wait until the child holds the write lock: it is inside the commit, and will not leave it.
    let probe = Connection::open(&path).unwrap();
    probe.busy_timeout(std::time::Duration::ZERO).unwrap();
    let locked = (0..2000).any(|_| {
        let busy = probe.execute_batch("BEGIN IMMEDIATE; ROLLBACK;").is_err();
        std::thread::sleep(std::time::Duration::from_millis(5));
        busy
    });
    assert!(locked, "the child never took the write lock");
    std::thread::sleep(std::time::Duration::from_millis(100)); // let it reach the trigger
    drop((c, probe));

    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the database file changed"
    );
    assert_eq!(dump(&path), before);
    let host = open(&path);
    assert_eq!(host.load(&flow_key()).unwrap().unwrap().version, 1);
    assert!(host.load(&account_key()).unwrap().is_none());
    Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TRIGGER hang")
        .unwrap();
    host.commit(&[
        Write::Put {
            key: flow_key(),
            expected: Some(1),
            value: b"flow v2".to_vec(),
            expires: None,
        },
        Write::Put {
            key: account_key(),
            expected: None,
            value: b"account v1".to_vec(),
            expires: None,
        },
    ])
    .unwrap();
}

/// The driver on SQLite, across a reopen: an account created by one "run" is found by the next,
/// a second creation is refused, and queued mails are delivered to `.eml` files once.
#[test]
fn a_second_run_sees_the_first_runs_data_and_mail_goes_to_eml_files() {
    let (dir, path) = temp();
    let user: UserId = "KJ131311111111".parse().unwrap();
    let to = "mailforsecurity-001@jp".parse().unwrap();
    let portal = |host: &SqliteHost| {
        Portal::new(
            host.ports(),
            Policy::insecure_fast_hashing(),
            CodeKey::from_bytes([7; 32]),
        )
    };
    {
        let host = open(&path);
        let portal = portal(&host);
        let hash = portal.hash_secret(b"Initial-Pass1", &mut rand::rng());
        portal.create_account(Account::new(user, hash)).unwrap();
        host.enqueue(mail::confirmation_code_mail(
            &to,
            &"0123".parse().unwrap(),
            30,
        ))
        .unwrap();
    }
    let host = open(&path);
    let portal = portal(&host);
    assert_eq!(portal.account(&user).unwrap().unwrap().user_id, user);
    let again = Account::new(user, portal.hash_secret(b"x", &mut rand::rng()));
    assert!(matches!(
        portal.create_account(again),
        Err(PortalError::Flow(FlowError::AccountExists))
    ));
    assert!(
        host.last_mail_to(&to)
            .unwrap()
            .unwrap()
            .body
            .contains("0123")
    );

    let outbox = dir.path().join("mail");
    assert_eq!(host.deliver_outbox(&outbox).unwrap(), 1);
    assert_eq!(host.deliver_outbox(&outbox).unwrap(), 0, "delivered once");
    let eml = std::fs::read_to_string(outbox.join("0000000001.eml")).unwrap();
    assert!(eml.contains("\r\nTo: mailforsecurity-001@jp\r\n"), "{eml}");
    assert!(
        eml.contains("\r\nSubject: 確認コード発行通知(介護保険)\r\n"),
        "{eml}"
    );
    assert!(
        eml.contains("\r\n\r\n介護電子請求受付システムからのお知らせです。\r\n"),
        "{eml}"
    );
    assert!(
        eml.contains("\r\n0123\r\n")
            && !eml.contains("\n\n")
            && !eml.replace("\r\n", "").contains('\n')
    );
}

/// An older schema is migrated on open, in one transaction, keeping its data.
#[test]
fn an_older_schema_is_migrated_keeping_its_data() {
    let (_dir, path) = temp();
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    conn.pragma_update(None, "application_id", schema::APPLICATION_ID)
        .unwrap();
    conn.execute(
        "INSERT INTO records (key, version, value) VALUES ('sequence/202601', 3, '3')",
        [],
    )
    .unwrap();
    drop(conn);
    let host = open(&path);
    assert_eq!(
        host.load(&Key::Sequence(YearMonth::new(2026, 1).unwrap()))
            .unwrap()
            .unwrap()
            .version,
        3
    );
    let conn = Connection::open(&path).unwrap();
    assert_eq!(
        conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
            .unwrap(),
        schema::latest()
    );
    assert_eq!(
        conn.query_row("SELECT last FROM sequences", [], |r| r.get::<_, i64>(0))
            .unwrap(),
        3
    );
}

/// Opens a file the host must refuse: the error names the file and the problem, and the file
/// is byte for byte as before.
fn refused(path: &Path) -> HostError {
    let bytes = std::fs::read(path).unwrap();
    let err = SqliteHost::open(path, clock()).unwrap_err();
    assert_eq!(err.path, path);
    assert!(
        err.to_string()
            .starts_with(&format!("{}: ", path.display())),
        "{err}"
    );
    assert_eq!(
        std::fs::read(path).unwrap(),
        bytes,
        "the refused file was changed"
    );
    err
}

/// A file that is not SQLite at all.
#[test]
fn a_file_that_is_not_sqlite_is_refused() {
    let (_dir, path) = temp();
    std::fs::write(
        &path,
        "From: someone\r\nSubject: not a database\r\n\r\nhello\r\n".repeat(100),
    )
    .unwrap();
    let err = refused(&path);
    assert_eq!(err.problem, Problem::NotADatabase, "{err}");
    assert!(err.to_string().contains("not a SQLite database"));
}

/// A database of this host damaged on disk.
#[test]
fn a_corrupt_database_is_refused() {
    let (_dir, path) = temp();
    let host = open(&path);
    for i in 0..200u64 {
        let key = Key::Flow(FlowKind::Login, format!("{i:032x}").parse().unwrap());
        host.commit(&[Write::Put {
            key,
            expected: None,
            value: vec![b'x'; 300],
            expires: None,
        }])
        .unwrap();
    }
    drop(host);
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 4 * 4096);
    bytes[2 * 4096..4 * 4096].fill(0xa5);
    std::fs::write(&path, &bytes).unwrap();
    let err = refused(&path);
    assert!(matches!(err.problem, Problem::Corrupt(_)), "{err}");
}

/// A SQLite database of another application: tables without our application_id, or another id.
#[test]
fn a_foreign_database_is_refused() {
    let (_dir, path) = temp();
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);")
        .unwrap();
    let err = refused(&path);
    assert!(matches!(err.problem, Problem::Foreign(_)), "{err}");
    assert!(err.to_string().contains("another application"));

    let (_dir, path) = temp();
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "application_id", 0x1234)
        .unwrap();
    assert!(matches!(refused(&path).problem, Problem::Foreign(m) if m.contains("0x00001234")));
}

/// A file written by a newer version of the host.
#[test]
fn a_newer_schema_is_refused() {
    let (_dir, path) = temp();
    drop(open(&path));
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = refused(&path);
    assert_eq!(
        err.problem,
        Problem::NewerSchema {
            found: 99,
            supported: schema::latest()
        }
    );
    assert!(err.to_string().contains("upgrade the host"), "{err}");
}

/// A read-only file. Root writes through file permissions, so as root the check runs in a child
/// process as the unprivileged user `nobody`.
#[cfg(unix)]
#[test]
fn a_read_only_file_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    use std::os::unix::process::CommandExt as _;
    let (dir, path) = temp();
    drop(open(&path));
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let message = if std::fs::OpenOptions::new().write(true).open(&path).is_err() {
        let err = refused(&path);
        assert_eq!(err.problem, Problem::ReadOnly);
        err.to_string()
    } else {
        let spawned = child(&format!("open\t{}", path.display()))
            .uid(65534)
            .gid(65534)
            .spawn();
        let Ok(nobody) = spawned else {
            // E.g. this binary is in a directory `nobody` may not enter.
            eprintln!("skipped: privileged, and cannot run as `nobody`: {spawned:?}");
            return;
        };
        let (ok, lines) = report(nobody);
        assert!(ok, "the child as nobody failed");
        lines.concat()
    };
    assert_eq!(
        message,
        format!(
            "{}: the file is read-only; nothing was written",
            path.display()
        )
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

/// A full disk (here: the size limit, which SQLite reports as a full disk) in the middle of a
/// commit: the commit fails naming the file and the problem, and nothing of it is written.
#[test]
fn a_full_disk_writes_nothing() {
    let (_dir, path) = temp();
    let options = Options {
        max_size: Some(256 * 1024),
        ..Options::default()
    };
    let host = SqliteHost::open_with(&path, clock(), options).unwrap();
    host.commit(&[Write::Put {
        key: flow_key(),
        expected: None,
        value: b"flow v1".to_vec(),
        expires: None,
    }])
    .unwrap();
    let before = dump(&path);
    let result = host.commit(&[
        Write::Put {
            key: flow_key(),
            expected: Some(1),
            value: b"flow v2".to_vec(),
            expires: None,
        },
        Write::Put {
            key: account_key(),
            expected: None,
            value: vec![0; 1024 * 1024],
            expires: None,
        },
    ]);
    assert_eq!(
        result,
        Err(StoreError::Unavailable(format!(
            "{}: the disk is full (or the database's size limit is reached); nothing was written",
            path.display()
        )))
    );
    assert_eq!(dump(&path), before);
    // SEC-08: a mail written to the mail table (a port called directly) fails the same way.
    let huge = Mail {
        to: "a@jp".parse().unwrap(),
        subject: "大".into(),
        body: "あ".repeat(200_000),
    };
    let err = host.enqueue(huge).unwrap_err();
    let full = HostError {
        path: path.clone(),
        problem: Problem::Full,
    };
    assert_eq!(err, PortError::from(full), "{err:?}");
    assert_eq!(dump(&path), before);
}

/// VAL-08 through the driver on SQLite: offices applying for a reissue at the same time each get
/// a management number, gap-free; after a reopen (a second run) numbering goes on from there.
#[test]
fn reissue_applications_on_sqlite_get_gap_free_numbers_across_runs() {
    use kaigo_seikyu::reissue::{Applicant, ApplicationForm, Input, Reissue};
    let (_dir, path) = temp();
    let apply = |host: &SqliteHost, i: usize| -> String {
        let portal = Portal::new(
            host.ports(),
            Policy::insecure_fast_hashing(),
            CodeKey::from_bytes([7; 32]),
        );
        let (office, notify) = (format!("13111111{i:02}"), format!("office{i}@jp"));
        host.insert_office(&OfficeRecord {
            number: office.parse().unwrap(),
            name: format!("請求事業所{i}"),
            postal_address: "東京都千代田区霞が関1-1-1".into(),
            phone: "03-0000-0000".into(),
            billing: vec![Prefecture::TOKYO],
        })
        .unwrap();
        let form = ApplicationForm {
            applicant: Applicant::Office,
            office_number: &office,
            notify: &notify,
            notify_confirm: &notify,
        };
        let mut rng = rand::rng();
        let (id, _) = portal.reissue_start(&form, &mut rng).unwrap();
        let mail = host
            .last_mail_to(&notify.parse().unwrap())
            .unwrap()
            .unwrap();
        let code = mail.body.lines().nth(4).unwrap().to_owned();
        portal
            .reissue_input(&id, Input::EnterCode(&code), &mut rng)
            .unwrap();
        portal.reissue_input(&id, Input::Submit, &mut rng).unwrap();
        let Reissue::Done(done) = portal.reissue_state(&id).unwrap() else {
            panic!("office {office}: not received")
        };
        done.number().to_string()
    };
    let first_run = open(&path);
    let numbers: BTreeSet<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                s.spawn({
                    let host = &first_run;
                    move || apply(host, i)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let want: BTreeSet<String> = (1..=4).map(|n| format!("U2026010000{n:02}")).collect();
    assert_eq!(numbers, want);
    drop(first_run);
    assert_eq!(apply(&open(&path), 4), "U202601000005");
}

/// Rows in a table, read by a connection of the test's own.
fn rows_in(path: &Path, table: &str) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// SEC-08, RS-03, OPS-01: with delivery by the host, a reset that mails its OTP does the same
/// work as one that does not: each writes exactly one outbox record of the same size in its own
/// commit (the mail on the matching path, a padded withheld record on the others), and nothing
/// else. The host's delivery (`Portal::deliver`) then writes the one mail to the mail table and
/// empties the outbox; the mail loop finds it. (Before issue 15, `enqueue` queued in memory for
/// a writer thread, and a crash in between lost the mail.)
#[test]
fn sec_08_rs_03_a_queued_mail_is_written_off_the_request_path() {
    use rand::SeedableRng;
    let (_dir, path) = temp();
    let host = SqliteHost::open(&path, clock()).unwrap();
    let portal = Portal::new(
        host.ports(),
        Policy::insecure_fast_hashing(),
        CodeKey::from_bytes([7; 32]),
    )
    .with_delivery(PortalDelivery::ByHost);
    let mut rng = rand::rngs::StdRng::seed_from_u64(8);
    let user: UserId = "KJ131311111111".parse().unwrap();
    let registered: kaigo_seikyu::values::EmailAddress = "registered@jp".parse().unwrap();
    let mut account = Account::new(user, portal.hash_secret(b"Initial-Pass1", &mut rng));
    account
        .security_emails
        .add(registered.clone(), portal.now())
        .unwrap();
    portal.create_account(account).unwrap();
    // The provisioning event (OPS-06) is the set-up's: delivered before the reset paths.
    assert_eq!(portal.deliver().unwrap().delivered, 1);
    let mut sizes = Vec::new();
    for (office, address) in [
        ("1311111111", "registered@jp"),
        ("1311111111", "someone-else@jp"),
        ("1399999999", "registered@jp"),
    ] {
        let before = rows_in(&path, "effects");
        let (_, screen) = portal.reset_start(office, address, &mut rng).unwrap();
        assert_eq!(screen.title, "ワンタイムパスワード入力");
        assert_eq!(rows_in(&path, "outbox"), 0, "{office} {address}");
        assert_eq!(rows_in(&path, "effects"), before + 1, "{office} {address}");
        sizes.push(rows_in(
            &path,
            "effects WHERE seq = (SELECT max(seq) FROM effects) AND length(value) = 2048",
        ));
    }
    assert_eq!(sizes, [1, 1, 1], "one 2 KiB outbox record on every path");
    assert_eq!(rows_in(&path, "records WHERE key GLOB 'flow/reset/*'"), 3);
    assert_eq!(portal.deliver().unwrap().delivered, 3);
    assert_eq!(rows_in(&path, "effects"), 0);
    assert_eq!(rows_in(&path, "outbox"), 1);
    let mut mailed = Vec::new();
    host.deliver::<PortError>(|out| {
        mailed.push(out.mail.to.clone());
        Ok(())
    })
    .unwrap();
    assert_eq!(mailed, [registered]);
}

/// The bytes of the database file and of every file SQLite keeps beside it (`-wal`, `-shm`).
fn database_files(path: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(&name))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

/// The files among [`database_files`] that hold `needle`.
fn files_holding(path: &Path, needle: &str) -> Vec<PathBuf> {
    database_files(path)
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .map(|(p, _)| p)
        .collect()
}

/// SEC-01, SEC-08 (issue 20, finding 7): once the delivery loop has delivered a mail, its code is
/// nowhere in the database file, its free space or its `-wal` file: a leaked file reveals no code
/// it has delivered. A mail the transport refused stays whole in the file and a later pass
/// delivers it, with a code that still works (RS-03, RS-04: the OTP of a reset).
#[test]
fn sec_01_sec_08_a_delivered_mails_code_is_gone_from_the_database_file() {
    use rand::SeedableRng;
    let (_dir, path) = temp();
    let host = open(&path);
    let portal = Portal::new(
        host.ports(),
        Policy::insecure_fast_hashing(),
        CodeKey::from_bytes([7; 32]),
    );
    // Seeded: the file's bytes are the same every run, so a code never shows up by chance in
    // one run and not another.
    let mut rng = rand::rngs::StdRng::seed_from_u64(20);
    let user: UserId = "KJ131311111111".parse().unwrap();
    let to: kaigo_seikyu::values::EmailAddress = "mailforsecurity-001@jp".parse().unwrap();
    let mut account = Account::new(user, portal.hash_secret(b"Initial-Pass1", &mut rng));
    account
        .security_emails
        .add(to.clone(), portal.now())
        .unwrap();
    portal.create_account(account).unwrap();
    let (_first, _) = portal
        .reset_start("1311111111", to.as_str(), &mut rng)
        .unwrap();
    let (second, _) = portal
        .reset_start("1311111111", to.as_str(), &mut rng)
        .unwrap();
    let queued = host.last_mail_to(&to).unwrap().unwrap();
    let second_otp = queued.code().unwrap().to_owned();

    // The transport takes the first mail and refuses the second.
    let mut delivered: Vec<Mail> = Vec::new();
    let pass = host.deliver(|out| {
        if delivered.is_empty() {
            delivered.push(out.mail.clone());
            Ok(())
        } else {
            Err(PortError("the mail server is down".into()))
        }
    });
    assert_eq!(pass, Err(PortError("the mail server is down".into())));
    let [first_mail] = &delivered[..] else {
        panic!("{delivered:?}")
    };
    let first_otp = first_mail.code().unwrap();
    assert_ne!(first_otp, second_otp);
    for needle in [first_otp, first_mail.body.as_str()] {
        assert_eq!(
            files_holding(&path, needle),
            Vec::<PathBuf>::new(),
            "delivered"
        );
    }
    // The control: the search finds the undelivered mail, body and code.
    assert!(
        !files_holding(&path, &queued.body).is_empty(),
        "undelivered"
    );
    assert!(!files_holding(&path, &second_otp).is_empty(), "undelivered");

    // The next pass delivers it, and its OTP works.
    let mut later: Vec<Mail> = Vec::new();
    let sent = host.deliver::<PortError>(|out| {
        later.push(out.mail.clone());
        Ok(())
    });
    assert_eq!(sent, Ok(1));
    assert_eq!(later, std::slice::from_ref(&queued));
    let screen = portal
        .reset_enter_otp(&second, &second_otp, &mut rng)
        .unwrap();
    assert_eq!(screen.title, "ログイン情報再設定");
    for needle in [first_otp, &second_otp, &queued.body] {
        assert_eq!(
            files_holding(&path, needle),
            Vec::<PathBuf>::new(),
            "delivered"
        );
    }
    // The rows stay, as a delivery log without bodies.
    let conn = Connection::open(&path).unwrap();
    let rows: Vec<(String, String, bool)> = conn
        .prepare("SELECT recipient, body, delivered_at IS NOT NULL FROM outbox ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let row = (to.as_str().to_owned(), String::new(), true);
    assert_eq!(rows, [row.clone(), row]);
}

/// The flows of a [`guess_at_plan`] trial: one user ID, flows of three budgets.
const TRIAL_FLOWS: [(&str, usize); 4] = [
    // RS with the registered address: budget (user ID, that address).
    ("rs_registered", 3),
    // RS with an address the office never registered: budget (user ID, that address), SEC-07.
    ("rs_unregistered", 3),
    // SE add, at the OTP: budget (user ID).
    ("se_otp", 2),
    // SE add, past the OTP, at the confirmation code: the same budget (user ID).
    ("se_code", 2),
];

/// The budget a flow of the plan spends on (SEC-07).
fn budget_of(flow: &str) -> &'static str {
    match flow {
        "rs_registered" => "user+registered",
        "rs_unregistered" => "user+unregistered",
        _ => "user",
    }
}

const GUESSING_THREADS: usize = 8;

/// The child side of [`sec_07_sec_02_two_processes_never_check_an_eleventh_wrong_code`]: for each
/// trial of the plan (lines `trial user flow-kind flow-id wrong-code`), meets the other process
/// at a barrier (a file per process and trial beside the database), then 8 threads guess wrong
/// codes at the trial's flows, each thread until every budget has refused it. Returns one line
/// `trial budget answers` per budget: how many guesses were answered `WrongCode` or
/// `CodeExhausted` (checked and counted); `GuessBudgetExceeded` is a refusal, and a lost race
/// (`Conflict` after the driver's re-runs) is guessed again.
fn guess_at_plan(path: &Path, plan: &str, me: usize) -> Vec<String> {
    use kaigo_seikyu::error::FlowError;
    use kaigo_seikyu::security_emails::UserInput;
    let host = open(path);
    let portal = Portal::new(host.ports(), stress_policy(), CodeKey::from_bytes([7; 32]));
    let mut trials: BTreeMap<usize, Vec<(UserId, String, FlowId, String)>> = BTreeMap::new();
    for line in plan.lines() {
        let [trial, user, kind, id, code] = line.split(' ').collect::<Vec<_>>()[..] else {
            panic!("plan line {line:?}")
        };
        trials.entry(trial.parse().unwrap()).or_default().push((
            user.parse().unwrap(),
            kind.to_owned(),
            id.parse().unwrap(),
            code.to_owned(),
        ));
    }
    let mut out = Vec::new();
    for (trial, flows) in &trials {
        let mark = |who: usize| path.with_extension(format!("ready-{trial}-{who}"));
        std::fs::write(mark(me), b"").unwrap();
        while !mark(1 - me).exists() {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        let counts: Vec<BTreeMap<&str, usize>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..GUESSING_THREADS)
                .map(|t| {
                    let (portal, flows) = (&portal, flows);
                    s.spawn(move || {
                        let mut rng = rand::rng();
                        let mut answered: BTreeMap<&str, usize> = BTreeMap::new();
                        let mut refused: BTreeSet<&str> = BTreeSet::new();
                        let budgets: BTreeSet<&str> =
                            flows.iter().map(|f| budget_of(&f.1)).collect();
                        let mut n = t;
                        while refused.len() < budgets.len() {
                            n += 1;
                            assert!(n < 10_000, "trial {trial}: guessing does not end");
                            let (user, kind, id, code) = &flows[n % flows.len()];
                            let budget = budget_of(kind);
                            if refused.contains(budget) {
                                continue;
                            }
                            let result = match kind.as_str() {
                                "se_otp" => portal.security_email_input(
                                    user,
                                    id,
                                    UserInput::Otp(code),
                                    &mut rng,
                                ),
                                "se_code" => portal.security_email_input(
                                    user,
                                    id,
                                    UserInput::Code(code),
                                    &mut rng,
                                ),
                                _ => portal.reset_enter_otp(id, code, &mut rng),
                            };
                            match result {
                                Err(PortalError::Flow(
                                    FlowError::WrongCode { .. } | FlowError::CodeExhausted,
                                )) => *answered.entry(budget).or_default() += 1,
                                Err(PortalError::Flow(FlowError::GuessBudgetExceeded)) => {
                                    refused.insert(budget);
                                }
                                Err(PortalError::Store(StoreError::Conflict)) => {}
                                other => panic!("trial {trial}, {kind}: {other:?}"),
                            }
                        }
                        answered
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut total: BTreeMap<&str, usize> = BTreeMap::new();
        for (budget, n) in counts.iter().flatten() {
            *total.entry(budget).or_default() += n;
        }
        for budget in ["user+registered", "user+unregistered", "user"] {
            out.push(format!(
                "{trial} {budget} {}",
                total.get(budget).unwrap_or(&0)
            ));
        }
    }
    out
}

/// The policy of the guessing test: cheap hashing, and a per-flow limit of wrong entries above
/// the hourly budget, so that no flow is voided. Then every checked wrong guess answers
/// `WrongCode`, and counting those answers counts exactly the guesses checked. (With RS-04's 5,
/// a voided flow answers `CodeExhausted` without a check, which the count could not tell apart.)
fn stress_policy() -> Policy {
    Policy {
        max_wrong_code_entries: 100,
        ..Policy::insecure_fast_hashing()
    }
}

/// SEC-07, SEC-02 (issue 20, finding 1) on SQLite: two OS processes on one database file, 8
/// threads each, guess wrong codes at once at several flows of one user ID: resets started with
/// its registered address and with one it never registered (RS: a budget per user ID and entered
/// address), security-email additions at the OTP and at the confirmation code (SE: a budget per
/// user ID). Over many trials (a fresh user ID each), no budget ever has more than 10 wrong
/// entries checked in its hour; and each has exactly 10, so the budget was raced to its end.
#[test]
fn sec_07_sec_02_two_processes_never_check_an_eleventh_wrong_code() {
    use kaigo_seikyu::security_emails::UserInput;
    use rand::SeedableRng;
    const TRIALS: usize = 12;
    let (dir, path) = temp();
    let host = open(&path);
    let policy = stress_policy();
    let limit = usize::from(policy.max_wrong_codes_per_hour);
    assert_eq!(limit, 10);
    let portal = Portal::new(host.ports(), policy, CodeKey::from_bytes([7; 32]));
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut plan = String::new();
    for trial in 0..TRIALS {
        let office = format!("13111112{trial:02}");
        let user: UserId = format!("KJ13{office}").parse().unwrap();
        let registered = format!("registered-{trial}@jp");
        let unregistered = format!("unregistered-{trial}@jp");
        let mut account = Account::new(user, portal.hash_secret(b"Initial-Pass1", &mut rng));
        account
            .security_emails
            .add(registered.parse().unwrap(), portal.now())
            .unwrap();
        portal.create_account(account).unwrap();
        let mut flows: Vec<(&str, FlowId)> = Vec::new();
        for (kind, n) in TRIAL_FLOWS {
            for i in 0..n {
                let id = match kind {
                    "rs_registered" => portal.reset_start(&office, &registered, &mut rng),
                    "rs_unregistered" => portal.reset_start(&office, &unregistered, &mut rng),
                    _ => {
                        let new = format!("{kind}-{i}-{trial}@jp");
                        portal.security_email_add_start(&user, &new, &new, &mut rng)
                    }
                }
                .unwrap()
                .0;
                flows.push((kind, id));
            }
        }
        // Every flow but the unregistered resets mailed its OTP to the registered address, in
        // the order they started. The SE flows at the code get the right OTP, which mails them
        // a confirmation code.
        let mut mailed: Vec<Mail> = Vec::new();
        let deliver = |mailed: &mut Vec<Mail>| {
            host.deliver::<PortError>(|out| {
                mailed.push(out.mail.clone());
                Ok(())
            })
            .unwrap();
        };
        deliver(&mut mailed);
        let otps = mailed.iter().filter(|m| m.to.as_str() == registered);
        let mailing = flows.iter().filter(|(kind, _)| *kind != "rs_unregistered");
        for ((kind, id), mail) in mailing.zip(otps) {
            if *kind == "se_code" {
                let otp = UserInput::Otp(mail.code().unwrap());
                portal
                    .security_email_input(&user, id, otp, &mut rng)
                    .unwrap();
            }
        }
        deliver(&mut mailed);
        let codes: BTreeSet<&str> = mailed.iter().map(|m| m.code().unwrap()).collect();
        // Wrong for sure: no code mailed in this trial.
        let wrong = |digits: usize| {
            (0..)
                .map(|n: u32| format!("{n:0digits$}"))
                .find(|c| !codes.contains(c.as_str()))
                .unwrap()
        };
        for (kind, id) in &flows {
            let code = if *kind == "se_code" {
                wrong(4)
            } else {
                wrong(6)
            };
            plan.push_str(&format!("{trial} {user} {kind} {id} {code}\n"));
        }
    }
    drop((portal, host));
    let plan_path = dir.path().join("plan.txt");
    std::fs::write(&plan_path, &plan).unwrap();

    let children: Vec<Child> = (0..2)
        .map(|me| {
            let job = format!("guess\t{}\t{}\t{me}", path.display(), plan_path.display());
            child(&job).spawn().unwrap()
        })
        .collect();
    let mut answered: std::collections::BTreeMap<(usize, String), usize> = Default::default();
    for c in children {
        let (ok, lines) = report(c);
        assert!(ok, "a guessing process failed");
        for line in lines {
            let [trial, budget, n] = line.split(' ').collect::<Vec<_>>()[..] else {
                panic!("{line:?}")
            };
            *answered
                .entry((trial.parse().unwrap(), budget.to_owned()))
                .or_default() += n.parse::<usize>().unwrap();
        }
    }
    assert_eq!(answered.len(), TRIALS * 3, "{answered:?}");
    let over: Vec<_> = answered.iter().filter(|(_, n)| **n > limit).collect();
    assert!(
        over.is_empty(),
        "wrong entries checked beyond {limit}: {over:?}"
    );
    let under: Vec<_> = answered.iter().filter(|(_, n)| **n < limit).collect();
    assert!(under.is_empty(), "budgets not used up: {under:?}");
}

/// OPS-02: a file at schema 4 (before expiry) upgrades in place without losing anything: its
/// records and outbox records read back as they were, living until removed; then records written
/// with an expiry are purged in bounded batches once dead, never before, and never those without.
#[test]
fn ops_02_a_schema_4_file_upgrades_in_place_and_purges_dead_records() {
    let (_dir, path) = temp();
    let conn = Connection::open(&path).unwrap();
    for migration in &schema::MIGRATIONS[..4] {
        conn.execute_batch(migration).unwrap();
    }
    conn.pragma_update(None, "user_version", 4).unwrap();
    conn.pragma_update(None, "application_id", schema::APPLICATION_ID)
        .unwrap();
    conn.execute(
        "INSERT INTO records (key, version, value) VALUES (?1, 2, '{\"old\":true}')",
        [flow_key().to_string()],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO effects (key, value) VALUES ('outbox/0123456789abcdef0000000000000001', 'x')",
        [],
    )
    .unwrap();
    drop(conn);
    let before = dump(&path);
    let host = open(&path);
    let old = host.load(&flow_key()).unwrap().unwrap();
    assert_eq!(
        (old.version, old.value.as_slice(), old.expires),
        (2, &b"{\"old\":true}"[..], None)
    );
    assert_eq!(host.outbox(10).unwrap().len(), 1);
    assert!(before.len() <= dump(&path).len());

    let t = utc("2026-01-10T10:00:00+09:00");
    let keys: Vec<Key> = (1..=3u8)
        .map(|i| Key::Sequence(YearMonth::new(2026, i).unwrap()))
        .collect();
    for (i, key) in keys.iter().enumerate() {
        host.commit(&[Write::Put {
            key: key.clone(),
            expected: None,
            value: b"1".to_vec(),
            expires: Some(t + chrono::TimeDelta::minutes(i as i64)),
        }])
        .unwrap();
    }
    assert_eq!(
        host.load(&keys[2]).unwrap().unwrap().expires,
        Some(t + chrono::TimeDelta::minutes(2))
    );
    assert_eq!(host.purge(t + chrono::TimeDelta::minutes(1), 0).unwrap(), 0);
    assert_eq!(
        host.purge(t - chrono::TimeDelta::minutes(1), 10).unwrap(),
        0
    );
    assert_eq!(host.purge(t + chrono::TimeDelta::minutes(1), 1).unwrap(), 1);
    assert!(
        host.load(&keys[0]).unwrap().is_none(),
        "oldest expiry first"
    );
    assert_eq!(
        host.purge(t + chrono::TimeDelta::minutes(1), 10).unwrap(),
        1
    );
    assert!(host.load(&keys[2]).unwrap().is_some(), "live");
    assert_eq!(
        host.purge(t + chrono::TimeDelta::days(9999), 10).unwrap(),
        1
    );
    assert!(
        host.load(&flow_key()).unwrap().is_some(),
        "no expiry: never purged"
    );
    assert_eq!(host.outbox(10).unwrap().len(), 1);
    assert_eq!(
        host.record_count().unwrap(),
        2,
        "the old flow and outbox record"
    );
}

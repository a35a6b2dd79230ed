//! The portal on a store that outlives it (`--store sqlite:PATH`, `--database URL`): a flow run
//! over HTTP, then the portal stopped and started again on the same store, which still holds the
//! accounts, the application and its place in the review queue (OPS-03, WEB-05), the mails, the
//! notices and the audit log. A second portal on the same store at the same time sees the same.
//! And the binary itself: seeding a store twice, and refusing a bad store with a message and an
//! exit code, never a password.
//!
//! The PostgreSQL tests need a server: `DATABASE_URL` (`.ci/with-postgres cargo test -p
//! kaigo-seikyu-web --test restart` starts a throwaway one). Without it they print a notice and
//! pass, except under CI (`CI=true`), where they fail.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::{
    A, Http, PASSWORD_A, Person, Server, first_login, page_text, reissue_application, reviewer,
};
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::memory::VirtualClock;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::ports::SystemClock;
use kaigo_seikyu::secret::{Argon2Hasher, CodeKey};
use kaigo_seikyu_postgres::{PgPorts, ScratchSchema, database_url};
use kaigo_seikyu_web::{Config, SEED_REVIEWER, SEED_REVIEWER_OSAKA, Storage, Web};

/// A portal on `storage` as a fresh process would run it (new sessions, new reviewers, a new
/// code key), cheap hashing, the clock at the tests' instant; seeded. Returns it with its seed
/// lines.
fn start(storage: &Storage) -> (Web, Vec<String>) {
    let clock = Arc::new(VirtualClock::new(utc(common::NOW)));
    let host = storage.open(clock.clone()).expect("the store opens");
    let policy = Policy::insecure_fast_hashing();
    let key = CodeKey::generate(&mut rand::rng());
    let hasher = Arc::new(Argon2Hasher::new(policy.hashing, key));
    let web = Web::with_host(host, clock, policy, hasher, Config::default());
    let lines = web.seed().expect("seeding");
    (web, lines)
}

/// The scenario on any store that outlives a portal: `open` is called three times on the same
/// store (the first run, a second portal alongside it, the run after the restart).
fn data_survives_a_restart(storage: &Storage, events: impl Fn() -> Vec<String>) {
    // The first run: 事業所A's first login, 事業所C's reissue application.
    let (web, lines) = start(storage);
    assert!(
        lines.iter().any(|l| l.contains("temporary password"))
            && !lines.iter().any(|l| l.contains("already")),
        "a fresh store is seeded: {lines:?}"
    );
    let server = Server::start(&web);
    first_login(&web, &server);
    let number = reissue_application(&web, &server, "1330000001", "jigyousho-c@jp");
    let mut tokyo = reviewer(&server, SEED_REVIEWER);
    assert!(tokyo.get("/federation").body.contains(&number));
    let mails = web.mails().unwrap();

    // A second portal on the same store, alongside: seeding keeps what is there, and its
    // reviewer lists the application the first portal received.
    let (second, lines) = start(storage);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("already seeded"))
            .count(),
        3,
        "{lines:?}"
    );
    let second_server = Server::start(&second);
    let mut tokyo2 = reviewer(&second_server, SEED_REVIEWER);
    assert!(tokyo2.get("/federation").body.contains(&number));
    drop(second_server);
    drop(second);

    // The restart.
    drop(tokyo);
    drop(server);
    drop(web);
    let (web, lines) = start(storage);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("事業所A") && l.contains("already seeded")),
        "{lines:?}"
    );
    let server = Server::start(&web);

    // The mails are there (the development mailbox shows them), the newest last.
    let after = web.mails().unwrap();
    assert_eq!(after, mails, "every mail survives, in order");
    let mut anyone = Http::new(server.addr);
    let mailbox = page_text(&anyone.get("/mailbox").body);
    assert!(mailbox.contains(&number), "{mailbox}");

    // 大阪府's reviewer still does not see 東京都's application; 東京都's does, and approves it.
    let mut osaka = reviewer(&server, SEED_REVIEWER_OSAKA);
    assert!(!osaka.get("/federation").body.contains(&number));
    let mut tokyo = reviewer(&server, SEED_REVIEWER);
    let queue = tokyo.get("/federation");
    assert!(
        queue.body.contains(&number) && queue.body.contains("請求事業所C"),
        "the application is in the queue after the restart: {}",
        page_text(&queue.body)
    );
    tokyo.post("/federation", "approve", &[("number", &number)]);
    let letter = page_text(&tokyo.get("/federation").body);
    assert!(
        letter.contains("ログイン情報再発行通知書") && letter.contains(&number),
        "{letter}"
    );
    tokyo.post("/federation", "back", &[]);
    assert!(!tokyo.get("/federation").body.contains(&number));

    // 事業所A's account is as its first login left it: the new password signs in, and the
    // temporary one no longer does.
    let mut a = Person::new(&web, &server);
    a.set("user_id", A).set("password", PASSWORD_A);
    a.until("お知らせ");

    // The audit log holds both runs' events.
    let events = events();
    for kind in ["AccountProvisioned", "ReissueApplied", "ReissueReviewed"] {
        assert!(
            events.iter().any(|e| e.contains(kind)),
            "no {kind} in {events:?}"
        );
    }
}

/// `--store sqlite:PATH`: the data of a run is there after a restart on the same file.
#[test]
fn sqlite_data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portal.db");
    let storage = Storage::Sqlite(path.clone());
    data_survives_a_restart(&storage, || sqlite_events(&path));
}

/// The audit events in the file, as JSON.
fn sqlite_events(path: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT event FROM events ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

const BIN: &str = env!("CARGO_BIN_EXE_kaigo-seikyu-web");

/// Runs the binary until it serves; returns what it printed until then.
fn serve_once(args: &[&str]) -> Vec<String> {
    let mut child = Command::new(BIN)
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let serving = line.starts_with("Serving on");
        lines.push(line);
        if serving {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    lines
}

/// Runs the binary twice with `args`: the first run seeds, the second keeps the first run's
/// accounts and says so; both serve. Returns the first run's lines.
fn seeds_twice(args: &[&str]) -> Vec<String> {
    let first = serve_once(args);
    assert!(
        first
            .iter()
            .any(|l| l.contains("temporary password Tmp2025-paper")),
        "{first:?}"
    );
    assert!(first.last().unwrap().starts_with("Serving on"), "{first:?}");
    let second = serve_once(args);
    assert_eq!(
        second
            .iter()
            .filter(|l| l.contains("already seeded"))
            .count(),
        3,
        "{second:?}"
    );
    assert!(
        second.last().unwrap().starts_with("Serving on"),
        "{second:?}"
    );
    first
}

/// Runs the binary, expecting it to stop with exit code `code` and a message on standard error
/// that holds every one of `needles`, and never a panic or the tests' password (`s3cret`).
fn refused(args: &[&str], code: i32, needles: &[&str]) {
    let out = Command::new(BIN).args(args).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{args:?}: {needle:?} in {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !stderr.contains("s3cret"),
        "the password is never shown: {stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Serving"));
}

/// The binary on the same file twice: the second run's seeding keeps the first run's accounts
/// and says so, and serves.
#[test]
fn the_binary_seeds_a_file_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("portal.db").display());
    let first = seeds_twice(&["--store", &store]);
    assert!(
        first.iter().any(|l| l.starts_with("Store: SQLite file ")),
        "{first:?}"
    );
}

/// A bad store: a message naming the place and the problem, exit code 1 (2 for a malformed
/// option), no panic, and the file left as it was.
#[test]
fn the_binary_refuses_a_bad_store() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = |path: &Path| format!("sqlite:{}", path.display());

    let junk = dir.path().join("notes.txt");
    std::fs::write(
        &junk,
        "not a database, and longer than a SQLite header would be",
    )
    .unwrap();
    let before = std::fs::read(&junk).unwrap();
    refused(
        &["--store", &sqlite(&junk)],
        1,
        &["notes.txt", "not a SQLite database"],
    );
    assert_eq!(
        std::fs::read(&junk).unwrap(),
        before,
        "the file was not changed"
    );

    // A file of a newer version of the host.
    let newer = dir.path().join("newer.db");
    drop(Web::open(&Storage::Sqlite(newer.clone()), None, Config::default()).unwrap());
    rusqlite::Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    refused(
        &["--store", &sqlite(&newer), "--no-seed"],
        1,
        &["newer.db", "schema version 99 is newer"],
    );

    let missing = dir.path().join("no/such/dir/portal.db");
    refused(&["--store", &sqlite(&missing)], 1, &["cannot open"]);
    refused(&["--store", &sqlite(dir.path())], 1, &["a directory"]);
    refused(&["--store", "sqlite:"], 2, &["needs a file path"]);
    refused(&["--store", "mysql:x"], 2, &["unknown store"]);
}

/// `--database URL`: the data of a run is there after a restart on the same database, in a
/// schema of the test's own.
#[test]
fn postgres_data_survives_a_restart() {
    let Some(url) = database_url("postgres_data_survives_a_restart") else {
        return;
    };
    let scratch = ScratchSchema::new(&url).unwrap();
    let storage = Storage::Postgres {
        url: url.clone(),
        schema: Some(scratch.name().to_owned()),
    };
    data_survives_a_restart(&storage, || {
        let ports = PgPorts::new(scratch.store().unwrap(), Arc::new(SystemClock));
        let events = ports.events().unwrap();
        events.iter().map(|e| format!("{:?}", e.kind)).collect()
    });
}

/// The binary on the same database twice: the second run keeps the first run's accounts and says
/// so; the start-up line names the server and the schema, never the URL's password.
#[test]
fn the_binary_seeds_a_database_twice() {
    let Some(url) = database_url("the_binary_seeds_a_database_twice") else {
        return;
    };
    let scratch = ScratchSchema::new(&url).unwrap();
    let args = ["--database", url.as_str(), "--schema", scratch.name()];
    let first = seeds_twice(&args);
    let store = first
        .iter()
        .find(|l| l.starts_with("Store: "))
        .expect("a store line");
    assert!(
        store.starts_with("Store: PostgreSQL at ") && store.ends_with(scratch.name()),
        "{store}"
    );
    assert!(!first.iter().any(|l| l.contains(&url)), "{first:?}");
}

/// A database the portal cannot use: exit code 1, a message naming the server and the problem,
/// never the password, no panic. An unreachable server needs no server; a schema of a newer
/// host does.
#[test]
fn the_binary_refuses_a_bad_database() {
    // Nothing listens on port 1.
    let unreachable = "postgres://kaigo:s3cret@127.0.0.1:1/kaigo";
    refused(&["--database", unreachable], 1, &["127.0.0.1:1/kaigo"]);
    refused(
        &[
            "--database",
            "host=127.0.0.1 port=1 user=kaigo password=s3cret dbname=kaigo",
        ],
        1,
        &["127.0.0.1:1/kaigo"],
    );
    refused(
        &["--database", "postgres://kaigo:s3cret@[::1/kaigo"],
        1,
        &["not a valid"],
    );
    refused(
        &["--database", unreachable, "--schema", "Robert'); DROP"],
        1,
        &["--schema"],
    );
    refused(
        &["--database", "env:KAIGO_WEB_TEST_NO_SUCH_VARIABLE"],
        2,
        &["KAIGO_WEB_TEST_NO_SUCH_VARIABLE is not set"],
    );
    refused(
        &["--database", unreachable, "--store", "memory"],
        2,
        &["choose one"],
    );
    refused(
        &["--store", &format!("postgres:{unreachable}")],
        1,
        &["127.0.0.1:1/kaigo"],
    );
    refused(
        &[
            "--store",
            &format!("postgres:{unreachable}"),
            "--database",
            unreachable,
        ],
        2,
        &["choose one"],
    );

    let Some(url) = database_url("the_binary_refuses_a_bad_database (newer schema)") else {
        return;
    };
    let scratch = ScratchSchema::new(&url).unwrap();
    drop(scratch.store().unwrap());
    let mut client: postgres::Client = url
        .parse::<postgres::Config>()
        .unwrap()
        .connect(postgres::NoTls)
        .unwrap();
    client
        .batch_execute(&format!(
            "INSERT INTO \"{}\".kaigo_migrations (version, description) VALUES (999, 'from a newer host')",
            scratch.name()
        ))
        .unwrap();
    refused(
        &["--database", &url, "--schema", scratch.name(), "--no-seed"],
        1,
        &["newer than this host knows", scratch.name()],
    );
}

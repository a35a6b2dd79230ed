//! Child processes for the cross-process tests (`races.rs`, `crash.rs`): the test binary run
//! again with only its `child_process` test and a job in `KAIGO_PG_CHILD`, on the parent's
//! database (`DATABASE_URL`, inherited) and scratch schema. The parent talks to a child through
//! its stdin (lines) and reads the lines it says (`CHILD:` prefixed, as the test harness may
//! print on the same line); the child's stderr is the parent's, so its panics show.
//!
//! Each test binary uses part of it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Lines, Write as _};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};

use kaigo_seikyu_postgres::{PgOptions, PgStore};

/// The environment variable holding a child's job: its words, tab-separated.
const JOB: &str = "KAIGO_PG_CHILD";

/// A running child. Killed (SIGKILL) and reaped when dropped, also when the test fails.
pub struct Child {
    process: std::process::Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Child {
    /// Starts this test binary as a child doing `job` (its words).
    pub fn spawn(job: &[&str]) -> Child {
        let mut process = Command::new(std::env::current_exe().expect("the test binary"))
            .args([
                "child_process",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(JOB, job.join("\t"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the child starts");
        let stdout = process.stdout.take().expect("piped");
        Child {
            stdin: process.stdin.take(),
            lines: BufReader::new(stdout).lines(),
            process,
        }
    }

    /// Sends the child one line.
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("the child reads");
        stdin.flush().expect("the child reads");
    }

    /// The next line the child said, `None` once it ended.
    pub fn next(&mut self) -> Option<String> {
        self.lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| line.split_once("CHILD:").map(|(_, said)| said.to_owned()))
    }

    /// The lines the child says before `mark`; panics if it ends first.
    pub fn until(&mut self, mark: &str) -> Vec<String> {
        let mut said = Vec::new();
        loop {
            match self.next() {
                Some(line) if line == mark => return said,
                Some(line) => said.push(line),
                None => panic!("the child ended before saying {mark:?}; it said {said:?}"),
            }
        }
    }

    /// Waits for the child to end and checks that it succeeded; the lines it said until then.
    pub fn finish(mut self) -> Vec<String> {
        drop(self.stdin.take());
        let said: Vec<String> = std::iter::from_fn(|| self.next()).collect();
        let status = self.process.wait().expect("the child is reaped");
        assert!(
            status.success(),
            "a child failed ({status}); it said {said:?}"
        );
        said
    }

    /// Kills the child (SIGKILL) wherever it is, and returns the lines it said before it died
    /// that the parent had not read yet.
    ///
    /// Returns only once the server has ended the child's connections: a statement the child
    /// had sent when it was killed runs to its end on the server (a commit may still land), and
    /// the parent must look at a database nothing changes any more.
    pub fn kill(mut self) -> Vec<String> {
        self.process.kill().expect("the child is killed");
        self.process.wait().expect("the child is reaped");
        drop(self.stdin.take());
        let said = std::iter::from_fn(|| self.next()).collect();
        wait_until_gone(self.process.id());
        said
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.process.kill().ok();
        self.process.wait().ok();
    }
}

/// The child side: the job's words when this process is a child, `None` in a normal test run.
/// A child never outlives a parent that failed to end it: it aborts after `seconds`.
pub fn job(seconds: u64) -> Option<Vec<String>> {
    let job = std::env::var(JOB).ok()?;
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(seconds));
        std::process::abort();
    });
    Some(job.split('\t').map(str::to_owned).collect())
}

/// Says `line` to the parent (a child's side of [`Child::next`]).
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "CHILD:{line}").expect("the parent reads");
    out.flush().expect("the parent reads");
}

/// The next line from the parent (a child's side of [`Child::send`]), `None` once it closed.
pub fn hear() -> Option<String> {
    let mut line = String::new();
    match std::io::stdin().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end().to_owned()),
    }
}

/// A child's store: its own pool of `pool_size` connections on the parent's server
/// (`DATABASE_URL`) in `schema`.
pub fn store(schema: &str, pool_size: usize) -> PgStore {
    let url = std::env::var("DATABASE_URL").expect("a child inherits DATABASE_URL");
    // Named after the process, so the parent can tell when the server has ended them.
    let url = format!(
        "{url}{}application_name={}",
        if url.contains('?') { '&' } else { '?' },
        application_name(std::process::id())
    );
    let options = PgOptions {
        schema: Some(schema.to_owned()),
        pool_size,
        ..PgOptions::default()
    };
    PgStore::connect_with(&url, &options).expect("the child connects")
}

/// An office of Tokyo for the ledger, as the cross-process tests register it.
pub fn tokyo_office(number: &str) -> kaigo_seikyu::ports::OfficeRecord {
    kaigo_seikyu::ports::OfficeRecord {
        number: number.parse().expect("an office number"),
        name: format!("請求事業所{number}"),
        postal_address: "東京都千代田区霞が関1-1-1".into(),
        phone: "03-0000-0000".into(),
        billing: vec![kaigo_seikyu::values::Prefecture::TOKYO],
    }
}

/// The form of an office applying for a reissue, its notification address typed twice.
pub fn reissue_form<'a>(
    office: &'a str,
    notify: &'a str,
) -> kaigo_seikyu::reissue::ApplicationForm<'a> {
    kaigo_seikyu::reissue::ApplicationForm {
        applicant: kaigo_seikyu::reissue::Applicant::Office,
        office_number: office,
        notify,
        notify_confirm: notify,
    }
}

/// The `application_name` of child `pid`'s connections.
fn application_name(pid: u32) -> String {
    format!("kaigo-test-child-{pid}")
}

/// Waits (at most 30 s) until the server has no connection of child `pid` left.
fn wait_until_gone(pid: u32) {
    let url = std::env::var("DATABASE_URL").expect("the parent has DATABASE_URL");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("the parent connects");
    let name = application_name(pid);
    for _ in 0..300 {
        let left: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                &[&name],
            )
            .expect("pg_stat_activity is readable")
            .get(0);
        if left == 0 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the server still serves the killed child {pid} after 30 s");
}

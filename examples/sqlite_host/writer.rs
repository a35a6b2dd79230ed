//! The outbox writer (SEC-08): mails, notices and events leave the request as an entry in a
//! queue in memory; a thread of the host writes them to their tables every tick
//! ([`Options::outbox_tick`](super::Options::outbox_tick)), in queue
//! order, many in one transaction. So a request that queues a mail does the same work as one
//! that does not: the fsynced write happens on the writer thread, on its own schedule.
//!
//! [`Outbox::drain`] is the only writer: it holds the writer connection while it takes the queue
//! and writes it, so two drains (the thread's and [`SqliteHost::flush`](super::SqliteHost::flush))
//! never reorder entries. A failed write puts its entries back in front of the queue and is
//! retried (by the thread, after [`RETRY`]; or by the next flush); nothing is dropped while the
//! host is open. What the queue holds when the process dies is lost, never half-written.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use kaigo_seikyu::mail::{Mail, Notice};
use kaigo_seikyu::values::OfficeNumber;
use rusqlite::{Connection, TransactionBehavior, params};

use super::{At, HostError, lock};

/// How long the thread waits before writing again after a failure (a full disk, say).
pub const RETRY: Duration = Duration::from_secs(1);

/// One row waiting to be written.
pub enum Queued {
    /// An outbox mail, with the instant it was queued (RFC 3339).
    Mail { queued_at: String, mail: Mail },
    /// A お知らせ, with the instant it was posted.
    Notice {
        posted_at: String,
        office: OfficeNumber,
        notice: Notice,
    },
    /// An audit event as JSON, with its instant.
    Event { at: String, json: String },
}

struct Queue {
    entries: VecDeque<Queued>,
    closing: bool,
}

/// The queue, the writer connection and the thread's wake-up call.
pub struct Outbox {
    path: PathBuf,
    queue: Mutex<Queue>,
    wake: Condvar,
    /// Held while writing: one drain at a time.
    conn: Mutex<Connection>,
    tick: Duration,
}

impl Outbox {
    /// An outbox writing through `conn`, and its thread.
    pub fn start(
        path: &Path,
        conn: Connection,
        tick: Duration,
    ) -> Result<(Arc<Outbox>, std::thread::JoinHandle<()>), HostError> {
        let outbox = Arc::new(Outbox {
            path: path.to_path_buf(),
            queue: Mutex::new(Queue {
                entries: VecDeque::new(),
                closing: false,
            }),
            wake: Condvar::new(),
            conn: Mutex::new(conn),
            tick,
        });
        let thread = std::thread::Builder::new()
            .name("sqlite-outbox".into())
            .spawn({
                let outbox = outbox.clone();
                move || outbox.run()
            })
            .map_err(|e| HostError {
                path: path.to_path_buf(),
                problem: super::Problem::Io(format!("cannot start the outbox writer: {e}")),
            })?;
        Ok((outbox, thread))
    }

    /// Queues a row for the thread's next tick: no I/O and no system call (an uncontended
    /// mutex), the same few steps whatever the row.
    pub fn push(&self, entry: Queued) {
        lock(&self.queue).entries.push_back(entry);
    }

    /// Writes everything queued so far, after any drain under way; returns how many rows.
    pub fn drain(&self) -> Result<usize, HostError> {
        let mut conn = lock(&self.conn);
        let entries = std::mem::take(&mut lock(&self.queue).entries);
        if entries.is_empty() {
            return Ok(0);
        }
        match write(&mut conn, &self.path, &entries) {
            Ok(()) => Ok(entries.len()),
            Err(e) => {
                let mut queue = lock(&self.queue);
                let later = std::mem::replace(&mut queue.entries, entries);
                queue.entries.extend(later);
                Err(e)
            }
        }
    }

    /// Asks the thread to write what is left and stop.
    pub fn close(&self) {
        lock(&self.queue).closing = true;
        self.wake.notify_all();
    }

    /// The thread: every tick writes what is queued; after a failure waits [`RETRY`] (or
    /// until the host closes) and tries again. On close, one last drain.
    fn run(&self) {
        loop {
            let closing = {
                let queue = lock(&self.queue);
                let (queue, _) = self
                    .wake
                    .wait_timeout_while(queue, self.tick, |q| !q.closing)
                    .unwrap_or_else(|p| p.into_inner());
                queue.closing
            };
            match self.drain() {
                Ok(_) if closing => return,
                Ok(_) => {}
                Err(e) if closing => {
                    let left = lock(&self.queue).entries.len();
                    eprintln!("{e}: {left} queued mails, notices or events were not written");
                    return;
                }
                Err(_) => {
                    let queue = lock(&self.queue);
                    drop(
                        self.wake
                            .wait_timeout_while(queue, RETRY, |q| !q.closing)
                            .unwrap_or_else(|p| p.into_inner()),
                    );
                }
            }
        }
    }
}

/// The rows in one `BEGIN IMMEDIATE` transaction (`synchronous = FULL`: durable once it returns).
fn write(conn: &mut Connection, path: &Path, entries: &VecDeque<Queued>) -> Result<(), HostError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .at(path)?;
    for entry in entries {
        match entry {
            Queued::Mail { queued_at, mail } => tx
                .prepare_cached(
                    "INSERT INTO outbox (recipient, subject, body, queued_at) VALUES (?1, ?2, ?3, ?4)",
                )
                .at(path)?
                .execute(params![mail.to.as_str(), mail.subject, mail.body, queued_at]),
            Queued::Notice {
                posted_at,
                office,
                notice,
            } => tx
                .prepare_cached(
                    "INSERT INTO notices (office, title, body, posted_at) VALUES (?1, ?2, ?3, ?4)",
                )
                .at(path)?
                .execute(params![office.as_str(), notice.title, notice.body, posted_at]),
            Queued::Event { at, json } => tx
                .prepare_cached("INSERT INTO events (at, event) VALUES (?1, ?2)")
                .at(path)?
                .execute(params![at, json]),
        }
        .at(path)?;
    }
    tx.commit().at(path)
}

//! The SQLite reference host (`examples/sqlite_host/`): every port of the crate on one database
//! file, used the way the driver uses them.
//!
//! Run with `cargo run --example sqlite_demo -- target/sqlite_demo.db`. Run it again: the second
//! run finds the account, mails, notices and events of the first. Mails are delivered as `.eml`
//! files next to the database.

#[path = "sqlite_host/mod.rs"]
mod sqlite_host;

use std::path::PathBuf;
use std::sync::Arc;

use kaigo_seikyu::account::Account;
use kaigo_seikyu::effect::{Event, EventKind};
use kaigo_seikyu::mail;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::Portal;
use kaigo_seikyu::ports::{OfficeRecord, SystemClock};
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::values::{ConfirmationCode, EmailAddress, Prefecture, UserId};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("target/sqlite_demo.db"), PathBuf::from);
    let host = sqlite_host::SqliteHost::open(&path, Arc::new(SystemClock))?;
    let ports = host.ports();
    let mut rng = rand::rng();
    let portal = Portal::new(
        ports.clone(),
        Policy::default(),
        CodeKey::generate(&mut rng),
    );

    // The operator's side: the ledger and an account.
    let office = OfficeRecord {
        number: "1311111111".parse()?,
        name: "請求事業所A".into(),
        postal_address: "東京都千代田区千代田1-1".into(),
        phone: "03-0000-0000".into(),
        billing: vec![Prefecture::TOKYO],
    };
    host.insert_office(&office)?;
    let user = UserId::new(Prefecture::TOKYO, office.number);
    match portal.account(&user)? {
        Some(_) => println!("{user}: account found, created by an earlier run"),
        None => {
            portal.create_account(Account::new(
                user,
                portal.hash_secret(b"Initial-Pass1", &mut rng),
            ))?;
            println!("{user}: account created");
        }
    }

    // The ports called directly, as a host may (each row written at once; the driver's own
    // effects are outbox records in its commits, delivered with their ids by Portal::deliver).
    let to: EmailAddress = "mailforsecurity-001@jp".parse()?;
    ports.mailer.enqueue(mail::confirmation_code_mail(
        &to,
        &ConfirmationCode::generate(&mut rng),
        30,
    ))?;
    ports.notices.post(
        office.number,
        mail::reissue_approved_notice(&"U202601000001".parse()?),
    )?;
    ports.audit.record(&Event {
        at: portal.now(),
        kind: EventKind::LoginFailed { user },
    })?;
    ports.sessions.revoke_all(&user)?;

    let events = host.events()?;
    println!("audit log: {} events (one per run)", events.len());
    println!(
        "notices for {}: {}",
        office.number,
        host.notices_for(&office.number)?.len()
    );
    if let Some(m) = host.last_mail_to(&to)? {
        println!("last mail to {to}: {}", m.subject);
    }
    if let Some(at) = host.sessions_revoked_at(&user)? {
        println!("sessions of {user} revoked at {at}");
    }
    let dir = path.with_extension("mail");
    let delivered = host.deliver_outbox(&dir)?;
    println!("delivered {delivered} mail(s) to {}", dir.display());
    // OPS-02: a host's timer purges dead records in batches (none are dead yet here).
    let purged = portal.purge(100)?;
    println!(
        "purged {purged} dead record(s); the file holds {}",
        host.record_count()?
    );
    Ok(())
}

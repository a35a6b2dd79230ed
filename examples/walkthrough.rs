//! The walkthrough: the pieces of kaigo-seikyu on the embedded default.
//!
//! Run with `cargo run --example walkthrough`.

use kaigo_seikyu::calendar::{format_padded, utc};
use kaigo_seikyu::mail;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::values::{ConfirmationCode, EmailAddress, OfficeNumber, Prefecture, UserId};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let policy = Policy::default();
    let office: OfficeNumber = "1311111111".parse()?;
    let user = UserId::new(Prefecture::TOKYO, office);
    println!(
        "office {office} bills {} as {user}",
        Prefecture::TOKYO.name()
    );
    println!("grace period ends {}", format_padded(policy.grace_last_day));
    for instant in ["2026-03-31T23:59:59+09:00", "2026-04-01T00:00:00+09:00"] {
        println!(
            "certificate fee at {instant}: {}",
            policy.fee_at(utc(instant))
        );
    }
    let to: EmailAddress = "mailforsecurity-001@jp".parse()?;
    let code: ConfirmationCode = "9999".parse()?;
    let m = mail::confirmation_code_mail(&to, &code);
    println!("--- mail to {}: {}\n{}", m.to, m.subject, m.body);
    Ok(())
}

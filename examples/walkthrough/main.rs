//! The walkthrough: one day of 介護電子請求受付システム around its December 2025 release, played on
//! the embedded default (or the reference SQLite host, or the PostgreSQL host), printing every screen, mail, notice and
//! audit event as the source shows them, with a short English line per step.
//!
//! Run with `cargo run --example walkthrough` (`-- --help` for the options).

#[allow(dead_code)] // the walkthrough uses part of the reference host's API
#[path = "../sqlite_host/mod.rs"]
mod sqlite_host;

mod day;

use day::StoreChoice;

const HELP: &str = "\
walkthrough: one day of the long-term-care claims portal around its December 2025 release.

A new office's first login, an existing office during and after the grace period, the
security-email list, a password reset (and an attacker who learns nothing), a reissue
application with the federations' reviews, and certificate applications before, during and
after the fee notice window. Codes are read from the mail outbox, as a user reads mail.

It uses cheap argon2 parameters (Policy::insecure_fast_hashing) so it finishes in seconds:
never use them for real passwords.

USAGE:
    cargo run --example walkthrough [-- OPTIONS]

OPTIONS:
    --store memory        keep everything in memory (the default)
    --store sqlite:PATH   keep everything in the SQLite file PATH; run it again on the same
                          file and the next run sees the earlier runs' data
    --store postgres:URL  keep everything in PostgreSQL at URL (e.g.
                          postgres:postgres://kaigo@127.0.0.1/kaigo), in the first schema of its
                          search path; runs again on the same database likewise
    -h, --help            print this help
";

fn parse(args: &[String]) -> Result<Option<StoreChoice>, String> {
    let mut store = StoreChoice::Memory;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--store" => {
                let value = args
                    .next()
                    .ok_or("--store needs a value: memory, sqlite:PATH or postgres:URL")?;
                store = if let Some(path) = value.strip_prefix("sqlite:").filter(|p| !p.is_empty())
                {
                    StoreChoice::Sqlite(path.into())
                } else if let Some(url) = value.strip_prefix("postgres:").filter(|u| !u.is_empty())
                {
                    StoreChoice::Postgres(url.into())
                } else if value == "memory" {
                    StoreChoice::Memory
                } else {
                    // Not echoed: a postgres URL may hold a password.
                    return Err("unknown store: use memory, sqlite:PATH or postgres:URL".into());
                };
            }
            other => return Err(format!("unknown option {other:?}; see --help")),
        }
    }
    Ok(Some(store))
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let store = match parse(&args) {
        Ok(Some(store)) => store,
        Ok(None) => {
            print!("{HELP}");
            return std::process::ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("walkthrough: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let (blocks, result) = day::run(&store);
    for block in blocks {
        println!("{block}");
    }
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("walkthrough: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

//! `cargo run -p kaigo-seikyu-web`: the reference web portal on 127.0.0.1:8080, seeded with the
//! walkthrough's three offices and the reviewers of 東京都 and 大阪府.

#![forbid(unsafe_code)]

use kaigo_seikyu::calendar::{Instant, utc};
use kaigo_seikyu_web::{Config, Storage, Web};

const HELP: &str = "\
kaigo-seikyu-web: the reference web portal of kaigo-seikyu (介護電子請求受付システム).

Pages are drawn from the library's typed screens; offices log in at /, federations' reviewers
at /federation, and the development mailbox at /mailbox shows every mail sent (with its codes).

USAGE:
    cargo run -p kaigo-seikyu-web [-- OPTIONS]

OPTIONS:
    --listen ADDR         where to serve (default 127.0.0.1:8080)
    --store memory        keep everything in memory (the default): lost at exit
    --store sqlite:PATH   keep accounts, flows, applications (and the review queue), mails,
                          notices and audit events in the SQLite file PATH (created if
                          missing, migrated if older); a restart on the same file sees them
    --database URL        keep the same in PostgreSQL (postgres://USER@HOST:PORT/DB or a
                          key=value string), on the host kaigo-seikyu-postgres: its tables
                          are made (or migrated) at start-up; several portals may share them
    --database env:VAR    the URL from the environment variable VAR, which keeps a password
                          out of the process list
    --store postgres:URL  the same as --database URL (the walkthrough's spelling)
    --schema NAME         with --database: the schema of the tables, made if missing (default:
                          the first schema of the URL's search_path, usually public)
    --now INSTANT         start the portal's clock at INSTANT (RFC 3339) and let it run; the
                          default is 2026-02-10T10:00:00+09:00, inside the fee-notice window
                          and after the grace period; `--now system` uses the real clock
    --no-dev-mailbox      do not serve the development mailbox
    --no-seed             start with no office and no reviewer; without it, seeding a store
                          seeded before keeps the offices' accounts as they are now (a
                          changed password stays changed) and says so
    --log-events          print every audit event on standard error
    -h, --help            print this help

Errors name the file or the server (host:port/dbname), never a password; a store that cannot
be opened (not this host's, a newer schema, unreachable) exits with status 1, bad options with 2.
Whatever the store, browser sessions (and the flow each browser is in), the reviewers and the
code key live in memory: a restart signs everyone out, and a flow left half-way expires.
With SQLite or PostgreSQL, every start begins the clock at --now again; use `--now system` for
a portal that runs for real. The portal has no mail transport: mails wait in the store's mail
table, where the development mailbox reads them. Requests that reach the driver (argon2, the store) run on tokio's
blocking pool, never on the async executor.
";

struct Options {
    listen: String,
    storage: Storage,
    now: Option<Instant>,
    config: Config,
    seed: bool,
}

fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut options = Options {
        listen: "127.0.0.1:8080".into(),
        storage: Storage::Memory,
        now: Some(utc("2026-02-10T10:00:00+09:00")),
        config: Config::default(),
        seed: true,
    };
    let mut store: Option<Storage> = None;
    let mut database: Option<String> = None;
    let mut schema: Option<String> = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |what: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs {what}; see --help"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" => options.listen = value("an address")?,
            "--store" => {
                let v = value("memory, sqlite:PATH or postgres:URL")?;
                if let Some(url) = v.strip_prefix("postgres:") {
                    // The walkthrough's spelling of --database URL.
                    if database.replace(url.to_owned()).is_some() {
                        return Err("two PostgreSQL databases named: choose one".into());
                    }
                    continue;
                }
                store = Some(match v.strip_prefix("sqlite:") {
                    Some("") => return Err("--store sqlite:PATH needs a file path".into()),
                    Some(path) => Storage::Sqlite(path.into()),
                    None if v == "memory" => Storage::Memory,
                    None => {
                        return Err(format!(
                            "unknown store {v:?}: use memory, sqlite:PATH or postgres:URL"
                        ));
                    }
                });
            }
            "--database" => {
                if database.replace(value("a URL or env:VAR")?).is_some() {
                    return Err("two PostgreSQL databases named: choose one".into());
                }
            }
            "--schema" => schema = Some(value("a schema name")?),
            "--now" => {
                let v = value("an instant or `system`")?;
                options.now = if v == "system" {
                    None
                } else {
                    Some(
                        chrono::DateTime::parse_from_rfc3339(&v)
                            .map_err(|e| format!("--now {v:?}: {e}"))?
                            .to_utc(),
                    )
                };
            }
            "--no-dev-mailbox" => options.config.dev_mailbox = false,
            "--no-seed" => options.seed = false,
            "--log-events" => options.config.log_events = true,
            other => return Err(format!("unknown option {other:?}; see --help")),
        }
    }
    options.storage = match (store, database, schema) {
        (Some(_), Some(_), _) => {
            return Err("--store and --database name two stores: choose one".into());
        }
        (_, None, Some(_)) => return Err("--schema goes with --database".into()),
        (store, None, None) => store.unwrap_or(Storage::Memory),
        (None, Some(url), schema) => Storage::Postgres {
            url: database_url(url)?,
            schema,
        },
    };
    Ok(Some(options))
}

/// The URL `--database` names: itself, or with `env:VAR` the variable's value. Never echoed.
fn database_url(value: String) -> Result<String, String> {
    match value.strip_prefix("env:") {
        Some(var) => match std::env::var(var) {
            Ok(url) if !url.trim().is_empty() => Ok(url),
            _ => Err(format!(
                "--database env:{var}: the environment variable {var} is not set"
            )),
        },
        None if value.trim().is_empty() => Err("--database needs a URL".into()),
        None => Ok(value),
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{HELP}");
            return std::process::ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("kaigo-seikyu-web: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let web = match Web::open(&options.storage, options.now, options.config) {
        Ok(web) => web,
        Err(e) => {
            eprintln!("kaigo-seikyu-web: cannot open the store: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("Store: {}", web.describe_store());
    if options.seed {
        match web.seed() {
            Ok(lines) => {
                println!("Seeded (the walkthrough's offices and two reviewers):");
                for line in lines {
                    println!("  {line}");
                }
            }
            Err(e) => {
                eprintln!("kaigo-seikyu-web: seeding failed: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kaigo-seikyu-web: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&options.listen).await?;
        println!("Serving on http://{}/", listener.local_addr()?);
        if web.config().dev_mailbox {
            println!(
                "Development mailbox: http://{}/mailbox",
                listener.local_addr()?
            );
        }
        axum::serve(listener, web.router())
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kaigo-seikyu-web: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

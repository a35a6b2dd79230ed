//! Versioned migrations: re-running is harmless, concurrent start-ups migrate once, a newer schema
//! is refused with nothing written, and bad input gets a clear error.

use kaigo_seikyu::store::{Key, Store, StoreError, Write};
use kaigo_seikyu_postgres::{PgOptions, PgStore, ScratchSchema, database_url, sql};

/// A plain client on the scratch schema, for looking under the store.
fn raw(scratch: &ScratchSchema) -> postgres::Client {
    let mut config: postgres::Config = scratch.url().parse().unwrap();
    config.options(format!("-c search_path={}", scratch.name()).as_str());
    config.connect(postgres::NoTls).unwrap()
}

fn versions(client: &mut postgres::Client) -> Vec<i32> {
    client
        .query("SELECT version FROM kaigo_migrations ORDER BY version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn tables(client: &mut postgres::Client, schema: &str) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = $1",
            &[&schema],
        )
        .unwrap()
        .get(0)
}

/// Connecting again (and again, from four threads at once, each its own pool) finds the schema
/// migrated and changes nothing: the data stays, each version is recorded once.
#[test]
fn migrations_run_again_and_concurrently_without_harm() {
    let Some(url) = database_url("migrations_run_again_and_concurrently_without_harm") else {
        return;
    };
    let scratch = ScratchSchema::new(&url).unwrap();
    // Four start-ups at once on a schema that does not exist yet (the advisory lock).
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| scratch.store())).collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
    });
    let store = scratch.store().unwrap();
    let key = Key::Account("KJ131311111111".parse().unwrap());
    store
        .commit(&[Write::Put {
            key: key.clone(),
            expected: None,
            value: b"kept".to_vec(),
            expires: None,
        }])
        .unwrap();
    let again = scratch.store().unwrap();
    assert_eq!(again.load(&key).unwrap().unwrap().value, b"kept");
    let mut client = raw(&scratch);
    assert_eq!(versions(&mut client), (1..=sql::LATEST).collect::<Vec<_>>());
}

/// A schema newer than the crate knows is refused at start-up, naming both versions, and
/// nothing is written: a schema holding only a newer version table is left without the tables
/// the first migration would make.
#[test]
fn a_newer_schema_is_refused_with_nothing_written() {
    let Some(url) = database_url("a_newer_schema_is_refused_with_nothing_written") else {
        return;
    };
    let scratch = ScratchSchema::new(&url).unwrap();
    let mut client = raw(&scratch);
    let newer = sql::LATEST + 1;
    client
        .batch_execute(&format!(
            "CREATE SCHEMA {0};
             CREATE TABLE {0}.kaigo_migrations (version integer PRIMARY KEY, description text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now());
             INSERT INTO {0}.kaigo_migrations (version, description)
                 SELECT v, 'from the future' FROM generate_series(1, {newer}) AS v;",
            scratch.name()
        ))
        .unwrap();
    let refused = scratch.store().unwrap_err();
    let StoreError::Unavailable(message) = &refused else {
        panic!("not Unavailable: {refused:?}");
    };
    assert!(
        message.contains(&format!("version {newer}")) && message.contains("newer"),
        "{message}"
    );
    assert!(message.contains("Nothing was written"), "{message}");
    assert_eq!(tables(&mut client, scratch.name()), 1, "tables were made");
    assert_eq!(versions(&mut client).len(), newer as usize);

    // The same on a schema this crate migrated, then a newer host moved on.
    let moved = ScratchSchema::new(&url).unwrap();
    drop(moved.store().unwrap());
    let mut client = raw(&moved);
    let before = tables(&mut client, moved.name());
    client
        .execute(
            "INSERT INTO kaigo_migrations (version, description) VALUES ($1, 'newer')",
            &[&newer],
        )
        .unwrap();
    assert!(matches!(moved.store(), Err(StoreError::Unavailable(m)) if m.contains("newer")));
    assert_eq!(tables(&mut client, moved.name()), before);
}

/// Recorded versions that are not 1 to N (someone edited the table) are refused as corrupt,
/// and nothing is written.
#[test]
fn edited_versions_are_refused() {
    let Some(url) = database_url("edited_versions_are_refused") else {
        return;
    };
    let scratch = ScratchSchema::new(&url).unwrap();
    drop(scratch.store().unwrap());
    let mut client = raw(&scratch);
    client
        .execute(
            "INSERT INTO kaigo_migrations (version, description) VALUES (0, 'edited')",
            &[],
        )
        .unwrap();
    let err = scratch.store().unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("records the migrations")),
        "{err:?}"
    );
    let mut want = vec![0];
    want.extend(1..=sql::LATEST);
    assert_eq!(versions(&mut client), want);
}

/// Bad input gets a clear error and nothing is touched: a schema name that is not a plain
/// identifier, a URL that does not parse, a pool of no connections.
#[test]
fn bad_settings_get_clear_errors() {
    for schema in [
        "",
        "Upper",
        "1st",
        "pg_catalog",
        "a-b",
        "x; DROP SCHEMA public",
        &"s".repeat(64),
    ] {
        let err = PgStore::with_schema("postgres://u@127.0.0.1:1/db", schema).unwrap_err();
        assert!(
            matches!(&err, StoreError::Unavailable(m) if m.contains("schema name")),
            "{schema:?}: {err:?}"
        );
    }
    let err = PgStore::connect("postgres://u:s3cret@127.0.0.1:notaport/db").unwrap_err();
    assert!(
        matches!(&err, StoreError::Unavailable(m) if m.contains("not a valid PostgreSQL connection string") && !m.contains("s3cret")),
        "{err:?}"
    );
    let options = PgOptions {
        pool_size: 0,
        ..PgOptions::default()
    };
    assert!(PgStore::connect_with("postgres://u@127.0.0.1:1/db", &options).is_err());
}

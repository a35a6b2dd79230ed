//! A database that is down or unreachable: a clear `Unavailable` error, quickly, naming the server
//! and never the password; no panic, no unbounded retry; the next call connects again.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use kaigo_seikyu::portal::asynchronous::AsyncStore;
use kaigo_seikyu::store::{Key, Store, StoreError};
use kaigo_seikyu_postgres::{AsyncPgStore, PgOptions, PgStore, ScratchSchema, database_url};

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

fn assert_unreachable(err: &StoreError, port: u16) {
    let StoreError::Unavailable(message) = err else {
        panic!("not Unavailable: {err:?}");
    };
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("cannot connect"), "{message}");
    assert!(
        !message.contains("s3cret"),
        "the password leaked: {message}"
    );
}

/// Blocking and async: a closed port fails at start-up within the connect timeout.
#[test]
fn a_closed_port_is_unavailable_with_a_clear_message() {
    let port = closed_port();
    let url = format!("postgres://kaigo:s3cret@127.0.0.1:{port}/kaigo");
    let options = PgOptions {
        connect_timeout: Duration::from_secs(2),
        ..PgOptions::default()
    };
    let started = Instant::now();
    let err = PgStore::connect_with(&url, &options).unwrap_err();
    assert_unreachable(&err, port);
    let rt = common::runtime();
    let err = rt
        .block_on(AsyncPgStore::connect_with(&url, &options))
        .unwrap_err();
    assert_unreachable(&err, port);
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// An address that never answers (a blackholed network) fails after the connect timeout, not
/// later, and not never.
#[test]
fn an_unanswering_server_times_out() {
    // 10.255.255.1: a private address no route answers on in CI containers.
    let options = PgOptions {
        connect_timeout: Duration::from_millis(500),
        ..PgOptions::default()
    };
    let started = Instant::now();
    let err = PgStore::connect_with("postgres://kaigo:s3cret@10.255.255.1:5432/kaigo", &options)
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Unavailable(m) if !m.contains("s3cret")),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// Neither `Debug` nor an error shows the URL's password.
#[test]
fn secrets_stay_out_of_debug() {
    let Some(url) = database_url("secrets_stay_out_of_debug") else {
        return;
    };
    let scratch = ScratchSchema::new(&url).unwrap();
    // The throwaway server trusts loopback: a password in the URL is accepted and ignored.
    let with_password = match url.split_once("://") {
        Some((scheme, rest))
            if !rest.split('@').next().unwrap_or("").contains(':') && rest.contains('@') =>
        {
            let (user, host) = rest.split_once('@').unwrap();
            format!("{scheme}://{user}:s3cret@{host}")
        }
        _ => url.clone(),
    };
    let options = scratch.options();
    let store = PgStore::connect_with(&with_password, &options).unwrap();
    let shown = format!("{store:?}");
    assert!(
        !shown.contains("s3cret") && shown.contains(scratch.name()),
        "{shown}"
    );
    let rt = common::runtime();
    let store = rt
        .block_on(AsyncPgStore::connect_with(&with_password, &options))
        .unwrap();
    let shown = format!("{store:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
}

/// The server ends the store's connections (as a restart or a failover does): a call on a dead
/// connection fails with `Unavailable` (or, if the pool saw it die, reconnects), never panics,
/// and the call after it works on a fresh connection. Blocking and async.
#[test]
fn connections_ended_by_the_server_are_replaced() {
    let Some(url) = database_url("connections_ended_by_the_server_are_replaced") else {
        return;
    };
    let scratch = ScratchSchema::new(&url).unwrap();
    let app = format!("kaigo_kill_{}", std::process::id());
    let sep = if url.contains('?') { '&' } else { '?' };
    let tagged = format!("{url}{sep}application_name={app}");
    let store = PgStore::connect_with(&tagged, &scratch.options()).unwrap();
    let rt = common::runtime();
    let async_store = rt
        .block_on(AsyncPgStore::connect_with(&tagged, &scratch.options()))
        .unwrap();
    let key = Key::Account("KJ131311111111".parse().unwrap());
    assert_eq!(store.load(&key).unwrap(), None);
    let mut admin = postgres::Config::from(url.parse::<tokio_postgres::Config>().unwrap())
        .connect(postgres::NoTls)
        .unwrap();
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .unwrap()
        .get(0);
    assert!(killed >= 2, "{killed} connections ended");
    std::thread::sleep(Duration::from_millis(200));
    match store.load(&key) {
        Ok(found) => assert_eq!(found, None),
        Err(e) => assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}"),
    }
    assert_eq!(store.load(&key).unwrap(), None);
    match rt.block_on(AsyncStore::load_many(
        &async_store,
        std::slice::from_ref(&key),
    )) {
        Ok(found) => assert_eq!(found, [None]),
        Err(e) => assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}"),
    }
    assert_eq!(
        rt.block_on(AsyncStore::load_many(
            &async_store,
            std::slice::from_ref(&key)
        ))
        .unwrap(),
        [None]
    );
}

//! The library's drivers over the PostgreSQL ports: the blocking `Portal` on `PgPorts` and the
//! async `AsyncPortal` on `AsyncPgPorts`, sharing one schema; the outbox delivered once per id.

mod common;

use std::sync::Arc;

use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::effect::Queued;
use kaigo_seikyu::error::PortalError;
use kaigo_seikyu::memory::VirtualClock;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::asynchronous::{AsyncEffects, AsyncStore};
use kaigo_seikyu::portal::{AsyncPortal, Delivery, Portal, Route};
use kaigo_seikyu::screen::{Form, button};
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::store::FlowKind;
use kaigo_seikyu_postgres::{AsyncPgPorts, PgPorts, ScratchSchema, database_url};
use rand::SeedableRng;
use rand::rngs::StdRng;

const USER: &str = "KJ131311111111";
const TEMPORARY: &str = "Kari2026pass";

fn login_form(password: &str) -> Form {
    Form::new(button::LOGIN)
        .with("user_id", USER)
        .with("password", password)
}

/// OPS-01, OPS-05: an office provisioned through the blocking driver logs in through the async
/// one on the same schema; the login's audit events are committed to the outbox with the step
/// and delivered to the events table by the host (`Delivery::ByHost`), each once: delivering a
/// queued effect again (as after a crash) writes nothing more.
#[test]
fn the_async_driver_runs_on_postgres_and_delivers_each_effect_once() {
    let Some(url) = database_url("the_async_driver_runs_on_postgres_and_delivers_each_effect_once")
    else {
        return;
    };
    let scratch = ScratchSchema::new(&url).unwrap();
    let clock = Arc::new(VirtualClock::new(utc("2026-02-10T10:00:00+09:00")));
    let policy = Policy::insecure_fast_hashing();
    let key = CodeKey::from_bytes([5; 32]);
    let mut rng = StdRng::seed_from_u64(5);
    let blocking = PgPorts::new(scratch.store().unwrap(), clock.clone());
    Portal::new(blocking.ports(), policy.clone(), key.clone())
        .provision_new_office(USER, TEMPORARY, &mut rng)
        .unwrap();
    let provisioned = blocking.events().unwrap().len();

    let rt = common::runtime();
    rt.block_on(async {
        let host = AsyncPgPorts::new(scratch.async_store().await.unwrap(), clock.clone());
        let portal = AsyncPortal::new(host.ports(), policy, key).with_delivery(Delivery::ByHost);
        let wrong = portal
            .start(
                FlowKind::Login,
                None,
                &login_form("Wrong2026pass"),
                &mut rng,
            )
            .await;
        assert!(matches!(wrong, Err(PortalError::Flow(_))), "{wrong:?}");
        let queued = AsyncStore::outbox(host.store(), 100).await.unwrap();
        assert!(!queued.is_empty(), "the failed login queued no event");
        // Delivered twice with the same ids (a crash between delivery and removal): once each.
        for (_, record) in &queued {
            let q = Queued::from_bytes(&record.value).unwrap();
            host.deliver(&q.id, q.effect.clone()).await.unwrap();
        }
        let once = host.events().await.unwrap().len();
        let done = portal.deliver().await.unwrap();
        assert_eq!(done.delivered, queued.len());
        assert_eq!(host.events().await.unwrap().len(), once);
        assert!(once > provisioned);
        assert!(
            AsyncStore::outbox(host.store(), 100)
                .await
                .unwrap()
                .is_empty()
        );

        let route = portal
            .start(FlowKind::Login, None, &login_form(TEMPORARY), &mut rng)
            .await
            .unwrap();
        let Route::Flow { flow, screen } = route else {
            panic!("a temporary password leads into the first-login flow: {route:?}");
        };
        assert_eq!(flow.kind, FlowKind::FirstLogin);
        assert_eq!(screen.title, "利用規約");
        portal.deliver().await.unwrap();
        assert!(host.events().await.unwrap().len() > once);
    });
}

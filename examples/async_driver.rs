//! The async driver (OPS-05, feature `async`) on the in-memory host, driven by a minimal
//! executor (`pollster`), with argon2 kept off the executor's thread.
//!
//! A request that checks a password runs argon2id inside the request future's `poll`. Here the
//! whole request runs on a thread of its own ([`off_executor`]), and the executor only awaits its
//! answer: the shape of tokio's `spawn_blocking(move || handle.block_on(request))`, with no
//! runtime. Requests that hash nothing (drawing a screen, delivering the outbox) run on the
//! executor as they are.
//!
//! `cargo run --example async_driver`

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::{AsyncPortal, AsyncPorts, Delivery, Route};
use kaigo_seikyu::screen::{Form, button};
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::store::FlowKind;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// The answer of work running on another thread, and the waker of the task awaiting it.
type Slot<T> = Arc<Mutex<(Option<T>, Option<Waker>)>>;

/// Runs `work` on a thread of its own and returns a future of its answer: CPU-bound work (here
/// a whole request, argon2 included) never runs on the executor's threads.
fn off_executor<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> impl Future<Output = T> {
    let slot: Slot<T> = Arc::new(Mutex::new((None, None)));
    let theirs = slot.clone();
    std::thread::spawn(move || {
        let answer = work();
        let mut slot = theirs.lock().unwrap_or_else(|e| e.into_inner());
        slot.0 = Some(answer);
        if let Some(waker) = slot.1.take() {
            waker.wake();
        }
    });
    Answer(slot)
}

struct Answer<T>(Slot<T>);

impl<T> Future for Answer<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match slot.0.take() {
            Some(answer) => Poll::Ready(answer),
            None => {
                slot.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let host = Embedded::new(utc("2026-02-10T10:00:00+09:00"));
    let policy = Policy::default(); // argon2id with the production parameters
    let key = CodeKey::from_bytes([5; 32]);
    let mut rng = StdRng::seed_from_u64(5);

    // The operator provisions an office (the blocking driver over the same ports).
    let setup = host.portal(policy.clone(), key.clone());
    setup.provision_new_office("KJ131311111111", "Kari2026pass", &mut rng)?;

    // The async driver over the in-memory ports; the host delivers the outbox itself.
    let portal = Arc::new(
        AsyncPortal::new(AsyncPorts::from(host.ports()), policy, key)
            .with_delivery(Delivery::ByHost),
    );

    pollster::block_on(async {
        // No hashing: on the executor.
        let screen = portal.open(FlowKind::Login, None).await?;
        let fields: Vec<&str> = screen.fields().map(|f| f.name).collect();
        println!("{}: fields {fields:?}", screen.title);

        // A password check: the request runs off the executor, the executor awaits its answer.
        let form = Form::new(button::LOGIN)
            .with("user_id", "KJ131311111111")
            .with("password", "Kari2026pass");
        let request = portal.clone();
        let (route, _rng) = off_executor(move || {
            let route = pollster::block_on(request.start(FlowKind::Login, None, &form, &mut rng));
            (route, rng)
        })
        .await;
        let route = route?;
        match &route {
            Route::Flow { flow, screen } => {
                println!("login → {:?} flow at {}", flow.kind, screen.title)
            }
            other => println!("login → {other:?}"),
        }

        // The outbox, delivered by the host: on the executor (no hashing).
        let delivered = portal.deliver().await?;
        println!("delivered {} effect(s)", delivered.delivered);
        Ok::<(), kaigo_seikyu::error::PortalError>(())
    })?;
    println!("audit events: {}", host.events.all().len());
    Ok(())
}

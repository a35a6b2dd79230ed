//! The login gate's routing (LOGIN-03), in the driver: once a user ID got through 【ログイン】
//! (and 【ログイン(セキュリティコード)】), [`crate::login::destination`] decides what is still asked
//! and the driver starts that flow — the first login or the grace registration — or reaches the
//! menu. Every flow that leaves with [`Next::Gate`](crate::flow::Next::Gate) comes through here,
//! so the flows themselves never start one another.

use rand_core::CryptoRng;

use crate::account::Account;
use crate::calendar::Instant;
use crate::effect::Effect;
use crate::error::PortalError;
use crate::first_login::FirstLogin;
use crate::flow::Authenticated;
use crate::grace::Grace;
use crate::login::{Destination, destination};
use crate::portal::{FlowRef, Route, Tx};
use crate::store::{FlowId, FlowKind, Key};

/// The account as a step leaves it: the last one it saves for the same user, else `loaded`.
pub(super) fn account_after(effects: &[Effect], loaded: &Account) -> Account {
    effects
        .iter()
        .rev()
        .find_map(|e| match e {
            Effect::SaveAccount(a) if a.user_id == loaded.user_id => Some(a.as_ref().clone()),
            _ => None,
        })
        .unwrap_or_else(|| loaded.clone())
}

/// LOGIN-03: through the gate with `account` as the step left it: starts the flow
/// [`destination`] names (at its first step still needed, FL-07) or reaches the menu.
pub(super) fn through<R: CryptoRng + ?Sized>(
    tx: &mut Tx<'_>,
    auth: Authenticated,
    account: &Account,
    now: Instant,
    rng: &mut R,
) -> Result<Route, PortalError> {
    let policy = tx.policy();
    let (kind, screen) = match destination(account, policy, now) {
        Destination::FirstLogin => match FirstLogin::begin(auth, account, policy) {
            Some(state) => {
                let id = FlowId::generate(rng);
                tx.put(Key::Flow(FlowKind::FirstLogin, id.clone()), &state)?;
                ((FlowKind::FirstLogin, id), state.screen(policy))
            }
            None => return Ok(Route::Menu { user: auth.user() }),
        },
        Destination::Grace { .. } => {
            let state = Grace::begin(auth);
            let id = FlowId::generate(rng);
            tx.put(Key::Flow(FlowKind::Grace, id.clone()), &state)?;
            ((FlowKind::Grace, id), state.screen(policy, now))
        }
        Destination::Menu => return Ok(Route::Menu { user: auth.user() }),
    };
    let (kind, id) = kind;
    Ok(Route::Flow {
        flow: FlowRef { kind, id },
        screen,
    })
}

//! OPS-07: a stored flow state tampered with, within its JSON shape, is refused as corrupt or
//! answers as the untampered state would, never beyond a rule: tampering with any number or
//! instant of the state never turns a refusal into a success. A refused record writes nothing
//! and sends nothing.
//!
//! Each case builds two identical worlds from one seed, tampers with one leaf of the stored state
//! in one of them, lets time pass and sends the same input to both.

use chrono::{DateTime, TimeDelta, Utc};
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::error::PortalError;
use kaigo_seikyu::login;
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::Portal;
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::store::{FlowId, FlowKind, Key, Store, StoreError, Write};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;

const USER: &str = "KJ131311111111";
const PASSWORD: &str = "Sakura2026!";
const SECURITY_CODE: &str = "Himitsu2026";
const ADDRESS: &str = "mailforsecurity-001@jp";

/// The stored states under test.
#[derive(Debug, Clone, Copy)]
enum State {
    /// 【ワンタイムパスワード入力】 of a reset (RS-03, RS-04): a 6-digit challenge.
    ResetOtp,
    /// 【ログイン(セキュリティコード)】 (LOGIN-01): a deadline.
    SecurityCode,
}

struct World {
    host: Embedded,
    portal: Portal,
    rng: StdRng,
    key: Key,
    id: FlowId,
    /// The right code for the state's input, when it has one.
    secret: String,
}

fn world(state: State) -> World {
    let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    let portal = host.portal(
        Policy::insecure_fast_hashing(),
        CodeKey::from_bytes([3; 32]),
    );
    let mut rng = StdRng::seed_from_u64(7);
    let terms = kaigo_seikyu::account::TermsAcceptance {
        version: 1,
        at: utc("2020-04-01T09:00:00+09:00"),
    };
    let mut account = login::existing_office(
        USER.parse().unwrap(),
        portal.hash_secret(PASSWORD.as_bytes(), &mut rng),
        terms,
    );
    account
        .security_emails
        .add(ADDRESS.parse().unwrap(), portal.now())
        .unwrap();
    account.security_code = Some(portal.hash_secret(SECURITY_CODE.as_bytes(), &mut rng));
    portal.create_account(account).unwrap();
    let (kind, id, secret) = match state {
        State::ResetOtp => {
            let (id, _) = portal.reset_start("1311111111", ADDRESS, &mut rng).unwrap();
            let otp = host
                .outbox
                .last_to(ADDRESS)
                .unwrap()
                .code()
                .unwrap()
                .to_owned();
            (FlowKind::Reset, id, otp)
        }
        State::SecurityCode => {
            let route = portal.login(USER, PASSWORD, &mut rng).unwrap();
            let id = route.flow_id().expect("the security-code step").clone();
            (FlowKind::Login, id, SECURITY_CODE.to_owned())
        }
    };
    host.outbox.drain();
    host.events.drain();
    World {
        key: Key::Flow(kind, id.clone()),
        host,
        portal,
        rng,
        id,
        secret,
    }
}

/// The input: the right code, or a wrong one.
fn act(state: State, w: &mut World, right: bool) -> Result<String, PortalError> {
    let code = match (state, right) {
        (_, true) => w.secret.clone(),
        (State::ResetOtp, false) if w.secret == "000000" => "000001".to_owned(),
        (State::ResetOtp, false) => "000000".to_owned(),
        (State::SecurityCode, false) => "Wrong2026x".to_owned(),
    };
    match state {
        State::ResetOtp => w
            .portal
            .reset_enter_otp(&w.id, &code, &mut w.rng)
            .map(|s| s.title),
        State::SecurityCode => w
            .portal
            .login_security_code(&w.id, &code, &mut w.rng)
            .map(|r| format!("{r:?}")),
    }
}

/// The paths of the numbers and instants in a JSON value.
fn leaves(value: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(k.clone());
                leaves(v, path, out);
                path.pop();
            }
        }
        Value::Number(_) => out.push(path.clone()),
        Value::String(s) if s.parse::<DateTime<Utc>>().is_ok() => out.push(path.clone()),
        _ => {}
    }
}

fn leaf<'a>(value: &'a mut Value, path: &[String]) -> &'a mut Value {
    path.iter().fold(value, |v, k| &mut v[k.as_str()])
}

/// Sets the leaf at `pick` (modulo the number of leaves) to `number`, or shifts its instant by
/// `shift` seconds.
fn tamper(w: &World, pick: usize, number: u64, shift: i64) -> String {
    let stored = w.host.store.load(&w.key).unwrap().expect("the state");
    let mut json: Value = serde_json::from_slice(&stored.value).unwrap();
    let mut paths = Vec::new();
    leaves(&json, &mut Vec::new(), &mut paths);
    let path = &paths[pick % paths.len()];
    let target = leaf(&mut json, path);
    *target = match target {
        Value::Number(_) => Value::from(number),
        Value::String(s) => {
            let at: DateTime<Utc> = s.parse().unwrap();
            let shifted = at
                .checked_add_signed(TimeDelta::seconds(shift))
                .unwrap_or(at);
            Value::String(shifted.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        }
        _ => unreachable!("a number or an instant"),
    };
    w.host
        .store
        .commit(&[Write::Put {
            key: w.key.clone(),
            expected: Some(stored.version),
            value: serde_json::to_vec(&json).unwrap(),
            expires: None,
        }])
        .unwrap();
    path.join(".")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// OPS-07: tampering with any number or instant of a stored state gives `Corrupt` (nothing
    /// written, nothing sent) or an answer no more permissive than the untampered state's.
    #[test]
    fn ops_07_tampered_state_is_corrupt_or_never_obeyed_beyond_the_rules(
        reset in any::<bool>(),
        pick in 0usize..16,
        number in prop_oneof![0u64..=12, any::<u8>().prop_map(u64::from), any::<u64>()],
        shift in prop_oneof![-7200i64..7200, -86_400i64 * 400..86_400 * 400],
        later in prop_oneof![Just(0i64), Just(20), Just(31), 0i64..90],
        right in any::<bool>(),
    ) {
        let state = if reset { State::ResetOtp } else { State::SecurityCode };
        let mut honest = world(state);
        let mut tampered = world(state);
        let field = tamper(&tampered, pick, number, shift);
        for w in [&honest, &tampered] {
            w.host.clock.advance(TimeDelta::minutes(later));
        }
        let expected = act(state, &mut honest, right);
        let before = tampered.host.store.snapshot();
        let sent = (tampered.host.outbox.all().len(), tampered.host.events.all().len());
        let got = act(state, &mut tampered, right);
        match &got {
            Err(PortalError::Store(StoreError::Corrupt(why))) => {
                prop_assert!(why.contains("OPS-07") || why.contains("flow/"), "{why}");
                prop_assert_eq!(tampered.host.store.snapshot(), before, "{}", field);
                let now = (tampered.host.outbox.all().len(), tampered.host.events.all().len());
                prop_assert_eq!(now, sent);
            }
            Ok(_) => prop_assert_eq!(&got, &expected, "{} made a refusal a success", field),
            Err(_) => {}
        }
    }
}

/// OPS-07: a code whose expiry was moved past the policy's lifetime, a wrong-entry count past
/// the limit, a security-code step living longer than the policy allows: each is refused as
/// corrupt, even with the right code, and nothing is written.
#[test]
fn ops_07_impossible_states_are_corrupt() {
    for (state, field) in [
        (State::ResetOtp, "expires_at"),
        (State::ResetOtp, "wrong"),
        (State::ResetOtp, "sent"),
        (State::SecurityCode, "expires_at"),
    ] {
        let mut w = world(state);
        let stored = w.host.store.load(&w.key).unwrap().unwrap();
        let json: Value = serde_json::from_slice(&stored.value).unwrap();
        let mut paths = Vec::new();
        leaves(&json, &mut Vec::new(), &mut paths);
        let pick = paths
            .iter()
            .position(|p| p.last().map(String::as_str) == Some(field))
            .unwrap();
        tamper(&w, pick, 99, 86_400);
        let before = w.host.store.snapshot();
        let got = act(state, &mut w, true);
        assert!(
            matches!(&got, Err(PortalError::Store(StoreError::Corrupt(m))) if m.contains("OPS-07")),
            "{state:?} {field}: {got:?}"
        );
        assert_eq!(w.host.store.snapshot(), before);
    }
}

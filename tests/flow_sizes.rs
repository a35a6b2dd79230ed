//! The size of every persisted flow state as the store keeps it (serialized JSON), measured by
//! driving every flow to every one of its states on the in-memory host: the performance budget of
//! docs/performance.md. `cargo test --test flow_sizes -- --nocapture` prints the table.

#[path = "../benches/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{KEY, SCENARIOS, World};
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::secret::{Argon2Hasher, CodeKey};

/// At most this many bytes per pending flow: a million of them fit in 512 MB.
const BUDGET: usize = 512;

/// Every state of every flow, as its stored key and JSON name it.
const STATES: [(&str, &str); 32] = [
    ("certificate", "ChoosingAction"),
    ("certificate", "ConfirmingOldFee"),
    ("certificate", "ConfirmingSubmission"),
    ("certificate", "Done"),
    ("certificate", "EnteringPassword"),
    ("certificate", "ViewingEstimate"),
    ("first_login", "AwaitingCode"),
    ("first_login", "ChoosingNoticeEmail"),
    ("first_login", "ChoosingPassword"),
    ("first_login", "EnteringSecurityEmail"),
    ("first_login", "NoticeEmailDone"),
    ("first_login", "PasswordChanged"),
    ("first_login", "Registered"),
    ("first_login", "Terms"),
    ("first_login", "Warning"),
    ("grace", "AwaitingCode"),
    ("grace", "EnteringSecurityEmail"),
    ("grace", "Registered"),
    ("login", "AwaitingSecurityCode"),
    ("reissue", "AwaitingCode"),
    ("reissue", "ChoosingPrefecture"),
    ("reissue", "Confirming"),
    ("reissue", "Done"),
    ("reset", "AwaitingOtp"),
    ("reset", "ChoosingPassword"),
    ("reset", "ChoosingPrefecture"),
    ("reset", "Done"),
    ("reset", "Voided"),
    ("security_emails", "AwaitingCode"),
    ("security_emails", "AwaitingOtp"),
    ("security_emails", "ChoosingAddress"),
    ("security_emails", "Done"),
];

/// Every state of every flow is reached, and the largest stored form of each fits the budget. The
/// production argon2 parameters, since a state may hold a hash whose PHC string names them.
#[test]
fn every_persisted_flow_state_fits_in_512_bytes() {
    let policy = Policy::default();
    let mut largest: BTreeMap<(String, String), usize> = BTreeMap::new();
    for scenario in &SCENARIOS {
        let hasher = Arc::new(Argon2Hasher::new(policy.hashing, CodeKey::from_bytes(KEY)));
        let mut world = World::new(scenario, 0, Arc::default(), policy.clone(), hasher);
        for stop in world.play(true) {
            let size = largest.entry((stop.flow, stop.state)).or_default();
            *size = (*size).max(stop.json.len());
        }
    }
    println!("| flow | state | bytes |\n| --- | --- | ---: |");
    for ((flow, state), bytes) in &largest {
        println!("| {flow} | {state} | {bytes} |");
    }
    let reached: Vec<(&str, &str)> = largest
        .keys()
        .map(|(f, s)| (f.as_str(), s.as_str()))
        .collect();
    assert_eq!(reached, STATES, "the scenarios reach every state, no other");
    let over: Vec<_> = largest.iter().filter(|(_, b)| **b > BUDGET).collect();
    assert!(over.is_empty(), "over {BUDGET} bytes: {over:?}");
}

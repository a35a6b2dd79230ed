//! The store and outbox contracts on the in-memory host (SEC-02, SEC-08).

use std::sync::{Arc, Barrier};
use std::thread;

use kaigo_seikyu::mail;
use kaigo_seikyu::memory::{MemoryStore, Outbox};
use kaigo_seikyu::ports::Mailer;
use kaigo_seikyu::store::{FlowId, FlowKind, Key, Store, StoreError, Write};

fn flow_key() -> Key {
    Key::Flow(
        FlowKind::Reset,
        "00112233445566778899aabbccddeeff"
            .parse::<FlowId>()
            .unwrap(),
    )
}

/// SEC-02: two saves racing on one flow version: exactly one wins, the other is refused whole.
#[test]
fn sec_02_two_racing_saves_exactly_one_wins() {
    for _ in 0..200 {
        let store = Arc::new(MemoryStore::default());
        let key = flow_key();
        store
            .commit(&[Write::Put {
                key: key.clone(),
                expected: None,
                value: b"v1".to_vec(),
                expires: None,
            }])
            .unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2u8)
            .map(|i| {
                let (store, key, barrier) = (store.clone(), key.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    store.commit(&[Write::Put {
                        key,
                        expected: Some(1),
                        value: vec![b'a' + i],
                        expires: None,
                    }])
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        assert_eq!(
            results
                .iter()
                .filter(|r| **r == Err(StoreError::Conflict))
                .count(),
            1
        );
        let now = store.load(&key).unwrap().unwrap();
        assert_eq!(now.version, 2);
    }
}

/// SEC-02: a stale copy cannot overwrite a newer one, and a multi-record commit with one stale
/// write writes nothing at all.
#[test]
fn sec_02_stale_copy_refused_and_nothing_half_written() {
    let store = MemoryStore::default();
    let flow = flow_key();
    let account = Key::Account("KJ131311111111".parse().unwrap());
    store
        .commit(&[Write::Put {
            key: flow.clone(),
            expected: None,
            value: b"f1".to_vec(),
            expires: None,
        }])
        .unwrap();
    store
        .commit(&[Write::Put {
            key: flow.clone(),
            expected: Some(1),
            value: b"f2".to_vec(),
            expires: None,
        }])
        .unwrap();
    let before = store.snapshot();
    let stale = [
        Write::Put {
            key: account.clone(),
            expected: None,
            value: b"a1".to_vec(),
            expires: None,
        },
        Write::Put {
            key: flow.clone(),
            expected: Some(1),
            value: b"stale".to_vec(),
            expires: None,
        },
    ];
    assert_eq!(store.commit(&stale), Err(StoreError::Conflict));
    assert_eq!(store.snapshot(), before);
    assert!(store.load(&account).unwrap().is_none());
    assert_eq!(store.load(&flow).unwrap().unwrap().value, b"f2");
    // Delete checks the version too.
    assert_eq!(
        store.commit(&[Write::Delete {
            key: flow.clone(),
            expected: 1
        }]),
        Err(StoreError::Conflict)
    );
    store
        .commit(&[Write::Delete {
            key: flow.clone(),
            expected: 2,
        }])
        .unwrap();
    assert!(store.load(&flow).unwrap().is_none());
}

/// SEC-08: the mailer is an outbox: enqueue only records, in order; delivery drains later.
#[test]
fn sec_08_outbox_queues_in_order_and_delivers_later() {
    let outbox = Outbox::default();
    let a = "a@jp".parse().unwrap();
    let b = "b@jp".parse().unwrap();
    outbox
        .enqueue(mail::confirmation_code_mail(
            &a,
            &"1111".parse().unwrap(),
            30,
        ))
        .unwrap();
    outbox
        .enqueue(mail::one_time_password_mail(
            &b,
            &"222222".parse().unwrap(),
            30,
        ))
        .unwrap();
    let queued = outbox.queued();
    assert_eq!(
        queued.iter().map(|m| m.to.as_str()).collect::<Vec<_>>(),
        ["a@jp", "b@jp"]
    );
    let delivered = outbox.drain();
    assert_eq!(delivered, queued);
    assert!(outbox.queued().is_empty());
    assert_eq!(outbox.all().len(), 2, "delivered mails stay readable");
    assert!(outbox.last_to(&a).unwrap().body.contains("1111"));
}

/// SEC-06: a flow id is exactly 32 lowercase hex digits. 32 characters that are not all lowercase
/// hex, hex of any other length, and uppercase hex are refused as corrupt (also when read back
/// through serde), never accepted and never a panic; a generated id parses back to itself.
#[test]
fn sec_06_flow_id_is_exactly_32_lowercase_hex_digits() {
    let good = "00112233445566778899aabbccddeeff";
    let id: FlowId = good.parse().unwrap();
    assert_eq!(id.as_str(), good);
    let generated = FlowId::generate(&mut rand::rng());
    assert_eq!(generated.as_str().parse::<FlowId>().unwrap(), generated);

    let mut bad: Vec<String> = vec![
        // 32 characters, not all lowercase hex.
        "g".repeat(32),
        "0011223344556677889aabbccddeeffz".into(),
        " 0112233445566778899aabbccddeeff".into(),
        "+0112233445566778899aabbccddeeff".into(),
        "00112233-4455-6677-8899-aabbccdd".into(),
        // Uppercase hex.
        good.to_uppercase(),
        "00112233445566778899aabbccddeefF".into(),
        // Non-ASCII of 32 bytes and of 32 characters.
        "０".repeat(32),
        "é".repeat(16),
    ];
    // Lowercase hex of every other length up to 64.
    bad.extend(
        (0..=64)
            .filter(|&n| n != 32)
            .map(|n| "a0".repeat(32)[..n].to_owned()),
    );
    for text in &bad {
        assert!(
            matches!(text.parse::<FlowId>(), Err(StoreError::Corrupt(_))),
            "{text:?} accepted"
        );
        let json = serde_json::to_string(text).unwrap();
        assert!(
            serde_json::from_str::<FlowId>(&json).is_err(),
            "{text:?} read back"
        );
    }
}

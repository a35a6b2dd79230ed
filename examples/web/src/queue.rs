//! The federations' review queue (OPS-03, WEB-05), kept by the host from the audit events.
//!
//! The library has no listing of pending applications yet (the review queue with keyset
//! pagination is another issue's); this host keeps an index of management numbers fed by the
//! audit log port: `ReissueApplied` adds one, `ReissueReviewed` removes it. Each listed number
//! is then read through [`Portal::reissue_application`], which refuses any federation but the
//! application's own, so a reviewer never sees another prefecture's application even if this
//! index were wrong.
//!
//! [`Portal::reissue_application`]: kaigo_seikyu::portal::Portal::reissue_application

use std::sync::{Arc, Mutex};

use kaigo_seikyu::effect::{Event, EventKind};
use kaigo_seikyu::memory::Events;
use kaigo_seikyu::ports::{AuditLog, PortError};
use kaigo_seikyu::values::Prefecture;

/// The management numbers of the applications not yet reviewed, oldest first, with their
/// billing prefecture.
#[derive(Debug, Default)]
pub struct ReviewQueue(Mutex<Vec<(String, Prefecture)>>);

impl ReviewQueue {
    /// The pending numbers of `prefecture`'s federation, oldest first.
    pub fn of(&self, prefecture: Prefecture) -> Vec<String> {
        let queue = self.0.lock().unwrap_or_else(|p| p.into_inner());
        queue
            .iter()
            .filter(|(_, p)| *p == prefecture)
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn observe(&self, event: &Event) {
        let mut queue = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match &event.kind {
            EventKind::ReissueApplied {
                number, billing, ..
            } => {
                let number = number.to_string();
                if !queue.iter().any(|(n, _)| *n == number) {
                    queue.push((number, *billing));
                }
            }
            EventKind::ReissueReviewed { number, .. } => {
                let number = number.to_string();
                queue.retain(|(n, _)| *n != number);
            }
            _ => {}
        }
    }
}

/// The audit log port: the in-memory log, the review queue's index, and (optionally) one line
/// per event on standard error for the operator. Events carry no secrets (SEC-05).
pub struct Audit {
    /// The in-memory log.
    pub events: Arc<Events>,
    /// The review queue's index.
    pub queue: Arc<ReviewQueue>,
    /// Print each event on standard error.
    pub print: bool,
}

impl AuditLog for Audit {
    fn record(&self, event: &Event) -> Result<(), PortError> {
        self.queue.observe(event);
        if self.print {
            eprintln!("audit: {:?}", event.kind);
        }
        self.events.record(event)
    }
}

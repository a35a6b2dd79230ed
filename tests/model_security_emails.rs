//! Model-based test of the security emails and their add-or-change flows (SE) over the in-memory host: the model and the real flow
//! (`kaigo_seikyu::testkit::models::security_emails`, which any host can run over its own ports) agree after
//! every step.

use kaigo_seikyu::testkit::models::{Memory, security_emails};

/// SE-01, SE-02, SE-03, SE-04, SE-05, SE-06, SE-07, SE-08, SEC-01, SEC-03, SEC-04, SEC-07,
/// VAL-04, VAL-05, VAL-07: the list of security emails and its add-or-change flows agree with
/// the model after every step of any sequence of starts, codes, backs, selections, deletions
/// and clock moves.
#[test]
fn se_model_agrees() {
    security_emails::run(&Memory, 128);
}

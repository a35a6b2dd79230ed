//! Model-based test of the certificate issue application and its fees (FEE) over the in-memory host: the model and the real flow
//! (`kaigo_seikyu::testkit::models::certificate`, which any host can run over its own ports) agree after
//! every step.

use kaigo_seikyu::testkit::models::{Memory, certificate};

/// FEE-01, FEE-02, FEE-03, FEE-04, FEE-06, CAL-01, CAL-03, CAL-04, VAL-06: the certificate
/// flows agree with the model after every step of any sequence of menus, estimates,
/// applications, dialogs, redraws and clock moves across the window and the fee change.
#[test]
fn fee_model_agrees() {
    certificate::run(&Memory, 128);
}

//! Model-based test of the login gate, the first login and the grace registration (LOGIN, FL, GR) over the in-memory host: the model and the real flow
//! (`kaigo_seikyu::testkit::models::gate`, which any host can run over its own ports) agree after
//! every step.

use kaigo_seikyu::testkit::models::{Memory, gate};

/// LOGIN-01, LOGIN-02, LOGIN-03, FL-01, FL-02, FL-03, FL-04, FL-05, FL-06, GR-01, GR-02,
/// GR-03, GR-04, GR-05, CAL-02, SEC-01, SEC-03, SEC-04, SEC-07: the login gate, the first
/// login and the grace registration agree with the model after every step of any sequence of
/// logins, forms, code entries and clock moves across the grace end.
#[test]
fn login_fl_gr_model_agrees() {
    gate::run(&Memory, 128);
}

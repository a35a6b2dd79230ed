//! Model-based test of the login-info reset by the office itself (RS-01 … RS-08, LOST-01's first choice) over the in-memory host: the model and the real flow
//! (`kaigo_seikyu::testkit::models::reset`, which any host can run over its own ports) agree after
//! every step.

use kaigo_seikyu::testkit::models::{Memory, reset};

/// RS-01, RS-02, RS-03, RS-04, RS-05, RS-06, RS-07, RS-08, VAL-01, VAL-06, VAL-07, SEC-01,
/// SEC-03, SEC-04, SEC-07: resets agree with the model after every step of any sequence of
/// starts, prefecture choices, OTPs, resends, new passwords, `戻る` and clock moves.
#[test]
fn rs_model_agrees() {
    reset::run(&Memory, 128);
}

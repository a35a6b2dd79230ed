//! Model-based test of the login-info reissue application and its review (RI) over the in-memory host: the model and the real flow
//! (`kaigo_seikyu::testkit::models::reissue`, which any host can run over its own ports) agree after
//! every step.

use kaigo_seikyu::testkit::models::{Memory, reissue};

/// RI-01, RI-02, RI-03, RI-04, RI-05, RI-06, RI-07, RI-08, RI-09, RI-10, VAL-08, VAL-09,
/// CAL-01, SEC-01, SEC-03, SEC-04, SEC-07, MAIL-01: applications and reviews agree with the
/// model after every step of any sequence of starts, choices, codes, submissions, `戻る`,
/// reviews and clock moves across JST month ends.
#[test]
fn ri_model_agrees() {
    reissue::run(&Memory, 128);
}

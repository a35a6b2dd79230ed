//! What drawing costs (docs/performance.md): each mail and お知らせ template T1–T8 of `mail`, the
//! screen of every flow state (each state the scenarios of `common` reach, read back from the
//! store as a host would), the security-email list at its longest, and the screens no state holds.

mod common;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use common::{KEY, NOW, SCENARIOS, Stop, World};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use kaigo_seikyu::account::SecurityEmails;
use kaigo_seikyu::calendar::{Instant, utc};
use kaigo_seikyu::certificate::CertificateApplication;
use kaigo_seikyu::first_login::FirstLogin;
use kaigo_seikyu::grace::Grace;
use kaigo_seikyu::login::{self, Login};
use kaigo_seikyu::lost;
use kaigo_seikyu::mail;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::reissue::Reissue;
use kaigo_seikyu::reset::{self, Reset};
use kaigo_seikyu::screen::Screen;
use kaigo_seikyu::secret::{Argon2Hasher, CodeKey};
use kaigo_seikyu::security_emails::{SecurityEmailSetting, list_screen};
use kaigo_seikyu::values::{
    ConfirmationCode, EmailAddress, ManagementNumber, OfficeNumber, OneTimePassword, Prefecture,
};
use serde::de::DeserializeOwned;

/// A persisted state of any flow.
enum State {
    Login(Login),
    FirstLogin(FirstLogin),
    Grace(Grace),
    SecurityEmails(SecurityEmailSetting),
    Reset(Reset),
    Reissue(Reissue),
    Certificate(CertificateApplication),
}

impl State {
    /// The state a stop's stored JSON holds.
    fn read(stop: &Stop) -> State {
        let json = stop.json.as_str();
        match stop.flow.as_str() {
            "login" => State::Login(parse(json)),
            "first_login" => State::FirstLogin(parse(json)),
            "grace" => State::Grace(parse(json)),
            "security_emails" => State::SecurityEmails(parse(json)),
            "reset" => State::Reset(parse(json)),
            "reissue" => State::Reissue(parse(json)),
            "certificate" => State::Certificate(parse(json)),
            other => panic!("a flow kind this bench does not know: {other}"),
        }
    }

    fn screen(&self, policy: &Policy, now: Instant) -> Screen {
        match self {
            State::Login(s) => s.screen(),
            State::FirstLogin(s) => s.screen(policy),
            State::Grace(s) => s.screen(policy, now),
            State::SecurityEmails(s) => s.screen(policy),
            State::Reset(s) => s.screen(policy),
            State::Reissue(s) => s.screen(policy),
            State::Certificate(s) => {
                kaigo_seikyu::flow::Flow::screen(s, &kaigo_seikyu::flow::View { now, policy })
            }
        }
    }
}

fn parse<T: DeserializeOwned>(json: &str) -> T {
    serde_json::from_str(json).expect("a stored state")
}

/// One of each state the scenarios reach, by `flow/state`.
fn states(policy: &Policy) -> BTreeMap<String, State> {
    let mut states = BTreeMap::new();
    for scenario in &SCENARIOS {
        let hasher = Arc::new(Argon2Hasher::new(policy.hashing, CodeKey::from_bytes(KEY)));
        let mut world = World::new(scenario, 0, Arc::default(), policy.clone(), hasher);
        for stop in world.play(true) {
            let name = format!("{}/{}", stop.flow, stop.state);
            states.entry(name).or_insert_with(|| State::read(&stop));
        }
    }
    states
}

/// A group of short measurements: each routine takes microseconds.
fn group<'c>(c: &'c mut Criterion, name: &str) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(50);
    group
}

/// Issue 10, item 4: the templates T1–T8.
fn templates(c: &mut Criterion) {
    let to: EmailAddress = "security-1.1311111111@example.jp".parse().expect("valid");
    let code: ConfirmationCode = "0042".parse().expect("valid");
    let otp: OneTimePassword = "012345".parse().expect("valid");
    let number: ManagementNumber = "U202601000001".parse().expect("valid");
    let office: OfficeNumber = "1311111111".parse().expect("valid");
    let (tokyo, minutes) = (Prefecture::TOKYO, Policy::default().code_lifetime_minutes);
    let mut group = group(c, "template");
    group.bench_function("T1_confirmation_code_mail", |b| {
        b.iter(|| mail::confirmation_code_mail(black_box(&to), &code, minutes));
    });
    group.bench_function("T2_one_time_password_mail", |b| {
        b.iter(|| mail::one_time_password_mail(black_box(&to), &otp, minutes));
    });
    group.bench_function("T3_reissue_received_notice", |b| {
        b.iter(|| mail::reissue_received_notice(black_box(&number), &office, &to));
    });
    group.bench_function("T4_reissue_received_mail", |b| {
        b.iter(|| mail::reissue_received_mail(black_box(&to), &number, &office, tokyo));
    });
    group.bench_function("T5_reissue_approved_notice", |b| {
        b.iter(|| mail::reissue_approved_notice(black_box(&number)));
    });
    group.bench_function("T6_reissue_approved_mail", |b| {
        b.iter(|| mail::reissue_approved_mail(black_box(&to), &number, &office, tokyo));
    });
    group.bench_function("T7_reissue_rejected_notice", |b| {
        b.iter(|| mail::reissue_rejected_notice(black_box(&number)));
    });
    group.bench_function("T8_reissue_rejected_mail", |b| {
        b.iter(|| mail::reissue_rejected_mail(black_box(&to), &number, &office, tokyo));
    });
    group.finish();
}

/// Issue 10, item 4: every state's screen, the list, and the stateless screens.
fn screens(c: &mut Criterion) {
    let (policy, now) = (Policy::default(), utc(NOW));
    let states = states(&policy);
    let mut five = SecurityEmails::default();
    for n in 1..=5 {
        let address = format!("security-{n}.1311111111@example.jp");
        five.add(address.parse().expect("valid"), now)
            .expect("room for five");
    }
    let mut group = group(c, "screen");
    for (name, state) in &states {
        group.bench_function(name, |b| b.iter(|| black_box(state).screen(&policy, now)));
    }
    group.bench_function("security_emails/list_of_five", |b| {
        b.iter(|| list_screen(black_box(&five)));
    });
    group.bench_function("login/login_screen", |b| b.iter(login::login_screen));
    group.bench_function("lost/menu_screen", |b| b.iter(lost::menu_screen));
    group.bench_function("reset/authentication_screen", |b| {
        b.iter(reset::authentication_screen);
    });
    group.bench_function("reissue/application_screen", |b| {
        b.iter(Reissue::application_screen);
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = templates, screens
}
criterion_main!(benches);

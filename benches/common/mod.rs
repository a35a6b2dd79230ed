//! The offices and complete flows that `benches/flows.rs`, `benches/render.rs` and
//! `tests/flow_sizes.rs` drive through the [`Portal`] on the in-memory ports.
//!
//! Each [`Scenario`] provisions one office in a fresh [`World`] and plays one way through a flow,
//! from its first request to its last, reading codes from the outbox like a user reading mail.
//! Together the scenarios reach every persisted state of every flow.

use std::collections::HashMap;
use std::sync::Arc;

use kaigo_seikyu::account::{Account, TermsAcceptance};
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::certificate::{CertificateInput, MenuChoice};
use kaigo_seikyu::error::PortalError;
use kaigo_seikyu::first_login::Form as FirstLoginForm;
use kaigo_seikyu::grace::Form as GraceForm;
use kaigo_seikyu::login;
use kaigo_seikyu::memory::{Embedded, MemoryStore};
use kaigo_seikyu::policy::{HashingParams, Policy};
use kaigo_seikyu::portal::Portal;
use kaigo_seikyu::portal::{FlowRef, Route};
use kaigo_seikyu::ports::OfficeRecord;
use kaigo_seikyu::reissue::{
    Applicant, ApplicationForm, Decision, Federation, Input as ReissueInput, ReviewOutcome,
};
use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, PasswordHash, SecretHasher};
use kaigo_seikyu::security_emails::UserInput;
use kaigo_seikyu::store::FlowId;
use kaigo_seikyu::store::FlowKind;
use kaigo_seikyu::values::{OfficeNumber, Prefecture, UserId};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The instant every scenario runs at: within the grace period and the fee-notice window.
pub const NOW: &str = "2026-01-10T10:00:00+09:00";
/// The host's code-digest key.
pub const KEY: [u8; 32] = [7; 32];

const PASSWORD: &str = "Sakura2026!";
const NEW_PASSWORD: &str = "Hanami2026!";
const CERTIFICATE_PASSWORD: &str = "Hakko2026!";
const SECURITY_CODE: &str = "7351";

/// The labels of the mailed values: T1's code, T2's one-time password, T4's management number.
const CODE: &str = "[確認コード]";
const OTP: &str = "[ワンタイムパスワード]";
const NUMBER: &str = "[管理番号]";

/// One way through a flow: who is provisioned, and the requests played.
pub struct Scenario {
    /// The benchmark's name.
    pub name: &'static str,
    provision: fn(&mut World),
    play: fn(&mut Visit<'_>),
}

/// Every scenario: the flows' usual complete paths, and the detours that reach their other states.
pub static SCENARIOS: [Scenario; 10] = [
    Scenario {
        name: "login_with_security_code",
        provision: set_up_office,
        play: login_with_security_code,
    },
    Scenario {
        name: "first_login",
        provision: new_office,
        play: first_login,
    },
    Scenario {
        name: "grace_registration",
        provision: existing_office,
        play: grace_registration,
    },
    Scenario {
        name: "security_email_add",
        provision: set_up_office,
        play: security_email_add,
    },
    Scenario {
        name: "security_email_change_with_back",
        provision: set_up_office,
        play: security_email_change_with_back,
    },
    Scenario {
        name: "reset",
        provision: set_up_office,
        play: reset,
    },
    Scenario {
        name: "reset_two_prefectures",
        provision: set_up_office_in_two_prefectures,
        play: reset_two_prefectures,
    },
    Scenario {
        name: "reset_voided",
        provision: set_up_office,
        play: reset_voided,
    },
    Scenario {
        name: "reissue_and_approval",
        provision: ledger_with_two_prefectures,
        play: reissue_and_approval,
    },
    Scenario {
        name: "certificate_in_notice_window",
        provision: ledger_with_one_prefecture,
        play: certificate_in_notice_window,
    },
];

/// A persisted flow state a scenario passed through, as the store keeps it.
pub struct Stop {
    /// The flow kind of its key (`flow/<kind>/<id>`), e.g. `reset`.
    pub flow: String,
    /// Its variant, e.g. `AwaitingOtp`.
    pub state: String,
    /// The stored JSON.
    pub json: String,
}

/// One office on the in-memory ports, provisioned for a scenario.
pub struct World {
    /// The ports (the store may be shared with other worlds).
    pub host: Embedded,
    /// The driver.
    pub portal: Portal,
    /// The CSPRNG of the requests.
    pub rng: StdRng,
    /// The office, `13` followed by the world's index.
    pub office: OfficeNumber,
    scenario: &'static Scenario,
}

impl World {
    /// Office number `index` (distinct indices never share a record) on `store`, provisioned for
    /// `scenario`. Accounts are provisioned with the cheapest argon2 parameters whatever `policy`
    /// says, so only what a flow hashes itself costs the policy's parameters.
    pub fn new(
        scenario: &'static Scenario,
        index: u64,
        store: Arc<MemoryStore>,
        policy: Policy,
        hasher: Arc<dyn SecretHasher>,
    ) -> World {
        let host = Embedded {
            store,
            ..Embedded::new(utc(NOW))
        };
        let ports = host.ports();
        let mut world = World {
            portal: Portal::with_hasher(ports, policy, hasher),
            host,
            rng: StdRng::seed_from_u64(index),
            office: format!("13{index:08}")
                .parse()
                .expect("a valid office number"),
            scenario,
        };
        (scenario.provision)(&mut world);
        world
    }

    /// Plays the scenario. With `record`, returns every persisted flow state it passed through,
    /// in order, each time a flow's stored bytes changed; without, returns nothing and looks at
    /// nothing (what the benchmarks time).
    pub fn play(&mut self, record: bool) -> Vec<Stop> {
        let mut visit = Visit {
            world: self,
            record,
            last: HashMap::new(),
            stops: Vec::new(),
        };
        (visit.world.scenario.play)(&mut visit);
        visit.stops
    }

    /// The office's user ID billing 東京都.
    fn user(&self) -> UserId {
        UserId::new(Prefecture::TOKYO, self.office)
    }

    /// The office's `n`th address: `1` is its registered security email once provisioned.
    pub fn address(&self, n: u8) -> String {
        format!("security-{n}.{}@example.jp", self.office)
    }

    /// An argon2id hash with the cheapest parameters, for provisioning.
    fn hash(&mut self, secret: &str) -> PasswordHash {
        let hasher = Argon2Hasher::new(HashingParams::insecure_fast(), CodeKey::from_bytes(KEY));
        hasher.hash(secret.as_bytes(), &self.rng.random())
    }
}

/// A scenario being played: the world, and what is recorded after each request.
pub struct Visit<'a> {
    world: &'a mut World,
    record: bool,
    last: HashMap<String, Vec<u8>>,
    stops: Vec<Stop>,
}

impl Visit<'_> {
    /// One request that must succeed.
    fn ok<T>(&mut self, request: impl FnOnce(&Portal, &mut StdRng) -> Result<T, PortalError>) -> T {
        let result = request(&self.world.portal, &mut self.world.rng);
        self.look();
        result.unwrap_or_else(|e| panic!("{}: {e:?}", self.world.scenario.name))
    }

    /// One request that must be refused.
    fn refused<T>(&mut self, request: impl FnOnce(&Portal, &mut StdRng) -> Result<T, PortalError>) {
        let result = request(&self.world.portal, &mut self.world.rng);
        self.look();
        assert!(result.is_err(), "{}: not refused", self.world.scenario.name);
    }

    /// Records the flow records that changed, when recording.
    fn look(&mut self) {
        if !self.record {
            return;
        }
        for (key, record) in self.world.host.store.snapshot() {
            let Some(flow) = key.strip_prefix("flow/").and_then(|k| k.split('/').next()) else {
                continue;
            };
            if self.last.get(&key) == Some(&record.value) {
                continue;
            }
            let json = String::from_utf8(record.value.clone()).expect("JSON is UTF-8");
            let value: serde_json::Value = serde_json::from_str(&json).expect("stored JSON");
            let state = value
                .as_object()
                .and_then(|o| o.keys().next())
                .expect("an externally tagged state")
                .clone();
            self.stops.push(Stop {
                flow: flow.to_owned(),
                state,
                json,
            });
            self.last.insert(key, record.value);
        }
    }

    /// The value under `label` in the newest mail to `to`.
    fn mailed(&self, to: &str, label: &str) -> String {
        let mail = self.world.host.outbox.last_to(to).expect("a mail");
        let mut lines = mail.body.lines();
        lines.find(|l| *l == label).expect("the label");
        lines.next().expect("the value").to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// Provisioning.

/// An office that has been through everything: terms, a security email, a security code.
fn set_up_office(w: &mut World) {
    set_up_account(w, Prefecture::TOKYO);
}

fn set_up_office_in_two_prefectures(w: &mut World) {
    set_up_account(w, Prefecture::TOKYO);
    set_up_account(w, Prefecture::OSAKA);
}

fn set_up_account(w: &mut World, billing: Prefecture) {
    let terms = TermsAcceptance {
        version: 1,
        at: utc("2020-04-01T09:00:00+09:00"),
    };
    let user = UserId::new(billing, w.office);
    let mut account = login::existing_office(user, w.hash(PASSWORD), terms);
    let address = w.address(1).parse().expect("a valid address");
    account
        .security_emails
        .add(address, utc(NOW))
        .expect("room for an address");
    account.security_code = Some(w.hash(SECURITY_CODE));
    create(w, account);
}

/// A new office holding its temporary password.
fn new_office(w: &mut World) {
    let account = login::new_office(w.user(), w.hash(PASSWORD));
    create(w, account);
}

/// An office that existed before the release, without a security email.
fn existing_office(w: &mut World) {
    let terms = TermsAcceptance {
        version: 1,
        at: utc("2020-04-01T09:00:00+09:00"),
    };
    let account = login::existing_office(w.user(), w.hash(PASSWORD), terms);
    create(w, account);
}

fn create(w: &World, account: Account) {
    w.portal
        .create_account(account)
        .expect("a new account is created");
}

/// The ledger entry of an office without accounts, billing two prefectures.
fn ledger_with_two_prefectures(w: &mut World) {
    ledger(w, vec![Prefecture::TOKYO, Prefecture::OSAKA]);
}

fn ledger_with_one_prefecture(w: &mut World) {
    ledger(w, vec![Prefecture::TOKYO]);
}

fn ledger(w: &World, billing: Vec<Prefecture>) {
    w.host.ledger.insert(OfficeRecord {
        number: w.office,
        name: "請求事業所A".into(),
        postal_address: "東京都千代田区霞が関1-1-1".into(),
        phone: "03-0000-0000".into(),
        billing,
    });
}

// ---------------------------------------------------------------------------------------------
// The flows.

/// 【ログイン】, 【ログイン(セキュリティコード)】, the menu.
fn login_with_security_code(v: &mut Visit<'_>) {
    let user = v.world.user().to_string();
    let route = v.ok(|p, r| p.login(&user, PASSWORD, r));
    let Route::Flow {
        flow: FlowRef {
            kind: FlowKind::Login,
            id,
        },
        ..
    } = route
    else {
        panic!("the security code is asked: {route:?}")
    };
    let route = v.ok(|p, r| p.login_security_code(&id, SECURITY_CODE, r));
    assert!(matches!(route, Route::Menu { .. }), "{route:?}");
}

/// A new office from its temporary password to the menu, through every step.
fn first_login(v: &mut Visit<'_>) {
    let user = v.world.user().to_string();
    let (notice, security) = (v.world.address(0), v.world.address(1));
    let route = v.ok(|p, r| p.login(&user, PASSWORD, r));
    let id = route.flow_id().expect("the first-login flow").clone();
    for form in [
        FirstLoginForm::AcceptTerms,
        FirstLoginForm::StartPasswordChange,
        FirstLoginForm::ChangePassword {
            current: PASSWORD,
            new: NEW_PASSWORD,
            confirm: NEW_PASSWORD,
        },
        FirstLoginForm::Finish,
        FirstLoginForm::SetNoticeEmail {
            address: &notice,
            confirm: &notice,
        },
        FirstLoginForm::Finish,
        FirstLoginForm::SetSecurityEmail {
            address: &security,
            confirm: &security,
        },
    ] {
        v.ok(|p, r| p.first_login_input(&id, form, r));
    }
    let code = v.mailed(&security, CODE);
    v.ok(|p, r| p.first_login_input(&id, FirstLoginForm::EnterCode(&code), r));
    let route = v.ok(|p, r| p.first_login_input(&id, FirstLoginForm::Finish, r));
    assert!(matches!(route, Route::Menu { .. }), "{route:?}");
}

/// An existing office registers its security email right after login.
fn grace_registration(v: &mut Visit<'_>) {
    let user = v.world.user().to_string();
    let address = v.world.address(1);
    let route = v.ok(|p, r| p.login(&user, PASSWORD, r));
    let Route::Flow {
        flow: FlowRef {
            kind: FlowKind::Grace,
            id,
        },
        ..
    } = route
    else {
        panic!("the grace registration: {route:?}")
    };
    let next = GraceForm::Next {
        skip: false,
        address: &address,
        confirm: &address,
    };
    v.ok(|p, r| p.grace_input(&id, next, r));
    let code = v.mailed(&address, CODE);
    v.ok(|p, r| p.grace_input(&id, GraceForm::EnterCode(&code), r));
    let route = v.ok(|p, r| p.grace_input(&id, GraceForm::Finish, r));
    assert!(matches!(route, Route::Menu { .. }), "{route:?}");
}

/// The list, 追加, the new address, the OTP to the selected address, the code to the new one.
fn security_email_add(v: &mut Visit<'_>) {
    let user = v.world.user();
    let (selected, new) = (v.world.address(1), v.world.address(2));
    v.ok(|p, _| p.security_emails(&user));
    v.ok(|p, _| p.security_email_add_form(&user));
    let (id, _) = v.ok(|p, r| p.security_email_add_start(&user, &new, &new, r));
    prove_new_address(v, &id, &selected, &new);
}

/// The list, 変更, the new address, 戻る, the new address again, then as an add.
fn security_email_change_with_back(v: &mut Visit<'_>) {
    let user = v.world.user();
    let (old, new) = (v.world.address(1), v.world.address(2));
    v.ok(|p, _| p.security_emails(&user));
    v.ok(|p, _| p.security_email_change_form(&user, &old));
    let (id, _) = v.ok(|p, r| p.security_email_change_start(&user, &old, &new, &new, r));
    v.ok(|p, r| p.security_email_input(&user, &id, UserInput::Back, r));
    let address = UserInput::Address {
        new: &new,
        confirm: &new,
    };
    v.ok(|p, r| p.security_email_input(&user, &id, address, r));
    prove_new_address(v, &id, &old, &new);
}

fn prove_new_address(v: &mut Visit<'_>, id: &FlowId, selected: &str, new: &str) {
    let user = v.world.user();
    let otp = v.mailed(selected, OTP);
    v.ok(|p, r| p.security_email_input(&user, id, UserInput::Otp(&otp), r));
    let code = v.mailed(new, CODE);
    let done = v.ok(|p, r| p.security_email_input(&user, id, UserInput::Code(&code), r));
    assert_eq!(done.title, "処理終了");
}

/// 事業所番号 and the registered address, the OTP, the new password.
fn reset(v: &mut Visit<'_>) {
    let (office, address) = (v.world.office.to_string(), v.world.address(1));
    let (id, _) = v.ok(|p, r| p.reset_start(&office, &address, r));
    finish_reset(v, &id, &address);
}

/// As [`reset`], for an office billing two prefectures: 【請求先都道府県選択】 first.
fn reset_two_prefectures(v: &mut Visit<'_>) {
    let (office, address) = (v.world.office.to_string(), v.world.address(1));
    let (id, screen) = v.ok(|p, r| p.reset_start(&office, &address, r));
    assert_eq!(screen.title, "請求先都道府県選択");
    v.ok(|p, r| p.reset_choose_prefecture(&id, "13", r));
    finish_reset(v, &id, &address);
}

fn finish_reset(v: &mut Visit<'_>, id: &FlowId, address: &str) {
    let otp = v.mailed(address, OTP);
    v.ok(|p, r| p.reset_enter_otp(id, &otp, r));
    let done = v.ok(|p, r| p.reset_choose_password(id, NEW_PASSWORD, NEW_PASSWORD, r));
    assert_eq!(done.title, "処理終了");
}

/// A reset whose OTP is voided by five wrong entries.
fn reset_voided(v: &mut Visit<'_>) {
    let (office, address) = (v.world.office.to_string(), v.world.address(1));
    let (id, _) = v.ok(|p, r| p.reset_start(&office, &address, r));
    let otp: u32 = v.mailed(&address, OTP).parse().expect("six digits");
    let wrong = format!("{:06}", (otp + 1) % 1_000_000);
    for _ in 0..5 {
        v.refused(|p, r| p.reset_enter_otp(&id, &wrong, r));
    }
}

/// The application (with 【請求先都道府県選択】), its code and submission, and the federation's
/// approval.
fn reissue_and_approval(v: &mut Visit<'_>) {
    let (office, notify) = (v.world.office.to_string(), v.world.address(0));
    let form = ApplicationForm {
        applicant: Applicant::Office,
        office_number: &office,
        notify: &notify,
        notify_confirm: &notify,
    };
    let (id, _) = v.ok(|p, r| p.reissue_start(&form, r));
    v.ok(|p, r| p.reissue_input(&id, ReissueInput::ChoosePrefecture("13"), r));
    let code = v.mailed(&notify, CODE);
    v.ok(|p, r| p.reissue_input(&id, ReissueInput::EnterCode(&code), r));
    v.ok(|p, r| p.reissue_input(&id, ReissueInput::Submit, r));
    let number = v.mailed(&notify, NUMBER);
    let approve = Decision::Approve {
        clear_security_emails: false,
    };
    let by = Federation::of(Prefecture::TOKYO);
    let outcome = v.ok(|p, r| p.reissue_review(by, &number, approve, r));
    assert!(matches!(outcome, ReviewOutcome::Approved(_)), "{outcome:?}");
}

/// 【証明書】, the precautions, an estimate and back, the application with its password, and
/// `OK` in the consent dialog of the notice window.
fn certificate_in_notice_window(v: &mut Visit<'_>) {
    let user = v.world.user();
    let (id, _) = v.ok(|p, r| p.certificate_start(&user, r));
    for input in [
        CertificateInput::ReadPrecautions,
        CertificateInput::Next(MenuChoice::Estimate),
        CertificateInput::Back,
        CertificateInput::Next(MenuChoice::Apply),
    ] {
        v.ok(|p, r| p.certificate_input(&user, &id, input, r));
    }
    v.ok(|p, r| p.certificate_password(&user, &id, CERTIFICATE_PASSWORD, CERTIFICATE_PASSWORD, r));
    let dialog = v.ok(|p, r| p.certificate_input(&user, &id, CertificateInput::AgreeAndSubmit, r));
    assert!(dialog.offers("OK"), "the consent dialog");
    let done = v.ok(|p, r| p.certificate_input(&user, &id, CertificateInput::DialogOk, r));
    assert_eq!(done.title, "処理終了");
}

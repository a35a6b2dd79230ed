//! OPS-07: a stored record tampered with, within its JSON shape, is refused as corrupt or
//! answers as the untampered record would, never beyond a rule.
//!
//! Every persisted state of the seven flows (login, first_login, grace, security_emails, reset,
//! reissue, certificate), the stored account and the budget records are reached by [`PATHS`]:
//! each path provisions an office and plays one way through a flow, request by request. A case
//! is a path played up to a step, then one number or instant of one stored record (a flow state,
//! the account, a budget) is changed in one of two twin worlds built from the same seed: a number
//! to another number (boundaries, huge, negative, fractional), an instant to another valid
//! instant (near, far future, far past). Time passes alike in both, and both get the same input:
//! the path's next step or one of its probes (a wrong code, `戻る`, a resend, …). Then
//! [`check`], one body for every case:
//! - the untampered twin is never corrupt;
//! - a tampered twin that answers `Corrupt` wrote nothing and sent nothing;
//! - otherwise it answers as its twin, or refuses; it succeeds differently only when the change
//!   stays within what an honest record could hold (a counter lowered, a terms version, an
//!   instant moved earlier or later within [`CLOCK_SKEW`]), which no check can tell from an
//!   honest record;
//! - and whatever it wrote is itself within the policy (`portal::validate::record`, the checks
//!   the transaction core runs on every record it reads): no counter past its limit, no
//!   deadline past what the policy allows.

use chrono::{DateTime, TimeDelta, Utc};
use kaigo_seikyu::account::TermsAcceptance;
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::certificate::{CertificateInput, MenuChoice};
use kaigo_seikyu::error::PortalError;
use kaigo_seikyu::first_login::Form as FirstLoginForm;
use kaigo_seikyu::grace::Form as GraceForm;
use kaigo_seikyu::login;
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::Portal;
use kaigo_seikyu::portal::validate;
use kaigo_seikyu::ports::OfficeRecord;
use kaigo_seikyu::reissue::{
    Applicant, ApplicationForm, Decision, Federation, Input as ReissueInput, ReviewOutcome,
};
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::security_emails::UserInput;
use kaigo_seikyu::store::{Budget, FlowId, FlowKind, Key, Store, StoreError, Versioned, Write};
use kaigo_seikyu::validate::{CLOCK_SKEW, Check};
use kaigo_seikyu::values::{Prefecture, UserId};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;

const NOW: &str = "2026-01-10T10:00:00+09:00";
const OFFICE: &str = "1311111111";
const USER: &str = "KJ131311111111";
const PASSWORD: &str = "Sakura2026!";
const NEW_PASSWORD: &str = "Hanami2026!";
const SECURITY_CODE: &str = "Himitsu2026";
/// The office's registered security email, once provisioned.
const ADDRESS: &str = "mailforsecurity-001@jp";
/// A second address: a notice email, a new security email, a reissue's notification address.
const OTHER: &str = "jigyousho@jp";

/// Counters: a lowered one is a record an honest run could have stored.
const COUNTERS: [&str; 4] = ["failures", "wrong", "sent", "codes_sent"];

/// Terms versions (FL-08): any is a record an honest run could have stored, an older one
/// accepted before, a newer one from a process of the next release (see
/// `kaigo_seikyu::first_login::FirstLogin`'s `Validate`).
const VERSIONS: [&str; 1] = ["version"];

/// What an entry point answered: its result, as `Debug` text.
type Outcome = Result<String, PortalError>;
/// One request of a path.
type Step = fn(&mut World) -> Outcome;

/// Who a path provisions.
#[derive(Debug, Clone, Copy)]
enum Office {
    /// Terms accepted, a security email and a security code: past every first-time step.
    SetUp,
    /// [`Office::SetUp`] with user IDs billing two prefectures.
    TwoPrefectures,
    /// A new office holding its temporary password.
    New,
    /// An office from before the release, without a security email (within the grace period).
    Existing,
    /// Only a ledger entry, billing the prefectures given.
    Ledger(&'static [Prefecture]),
}

/// One way through a flow: the office, the requests in order, and inputs tried at any point.
struct Path {
    name: &'static str,
    office: Office,
    steps: &'static [Step],
    probes: &'static [Step],
}

/// A world on the in-memory host: the ports, the driver, the requests' CSPRNG, the flow's id once
/// started and a temporary password once a letter gave one.
struct World {
    host: Embedded,
    portal: Portal,
    rng: StdRng,
    id: Option<FlowId>,
    temporary: Option<String>,
}

fn user() -> UserId {
    USER.parse().unwrap()
}

impl World {
    fn new(office: Office) -> World {
        let host = Embedded::new(utc(NOW));
        let portal = host.portal(
            Policy::insecure_fast_hashing(),
            CodeKey::from_bytes([3; 32]),
        );
        let mut w = World {
            host,
            portal,
            rng: StdRng::seed_from_u64(7),
            id: None,
            temporary: None,
        };
        let terms = TermsAcceptance {
            version: 1,
            at: utc("2020-04-01T09:00:00+09:00"),
        };
        let set_up = |w: &mut World, billing: Prefecture| {
            let hash = w.portal.hash_secret(PASSWORD.as_bytes(), &mut w.rng);
            let user = UserId::new(billing, OFFICE.parse().unwrap());
            let mut account = login::existing_office(user, hash, terms);
            let now = w.portal.now();
            account
                .security_emails
                .add(ADDRESS.parse().unwrap(), now)
                .unwrap();
            account.security_code =
                Some(w.portal.hash_secret(SECURITY_CODE.as_bytes(), &mut w.rng));
            w.portal.create_account(account).unwrap();
        };
        match office {
            Office::SetUp => set_up(&mut w, Prefecture::TOKYO),
            Office::TwoPrefectures => {
                set_up(&mut w, Prefecture::TOKYO);
                set_up(&mut w, Prefecture::OSAKA);
            }
            Office::New => {
                let hash = w.portal.hash_secret(PASSWORD.as_bytes(), &mut w.rng);
                w.portal
                    .create_account(login::new_office(user(), hash))
                    .unwrap();
            }
            Office::Existing => {
                let hash = w.portal.hash_secret(PASSWORD.as_bytes(), &mut w.rng);
                let account = login::existing_office(user(), hash, terms);
                w.portal.create_account(account).unwrap();
            }
            Office::Ledger(billing) => w.host.ledger.insert(OfficeRecord {
                number: OFFICE.parse().unwrap(),
                name: "請求事業所A".into(),
                postal_address: "東京都千代田区霞が関1-1-1".into(),
                phone: "03-0000-0000".into(),
                billing: billing.to_vec(),
            }),
        }
        w.host.outbox.drain();
        w.host.events.drain();
        w
    }

    /// The flow's id; before the flow starts, an id no flow has.
    fn id(&self) -> FlowId {
        self.id
            .clone()
            .unwrap_or_else(|| "00000000000000000000000000000000".parse().unwrap())
    }

    /// The newest code mailed to `to` (confirmation code or one-time password).
    fn code(&self, to: &str) -> String {
        let mail = self.host.outbox.last_to(to);
        mail.and_then(|m| m.code().map(str::to_owned))
            .unwrap_or_else(|| "000000".to_owned())
    }

    /// A code of the same length as the newest one to `to`, but not it.
    fn wrong(&self, to: &str) -> String {
        let right = self.code(to);
        let n: u64 = right.parse().unwrap();
        let width = right.len();
        format!("{:0width$}", (n + 1) % 10u64.pow(width as u32))
    }

    /// The management number of the newest receipt mail to `to` (T4).
    fn number(&self, to: &str) -> String {
        let mail = self.host.outbox.last_to(to).expect("the receipt mail");
        let mut lines = mail.body.lines();
        lines.find(|l| *l == "[管理番号]").expect("the label");
        lines.next().expect("the number").to_owned()
    }

    /// Plays `steps`, whatever each answers (some are refused: a wrong entry).
    fn play(&mut self, steps: &[Step]) {
        for step in steps {
            let _ = step(self);
        }
    }
}

fn debug<T: std::fmt::Debug>(result: Result<T, PortalError>) -> Outcome {
    result.map(|t| format!("{t:?}"))
}

fn started(w: &mut World, result: Result<(FlowId, impl std::fmt::Debug), PortalError>) -> Outcome {
    let (id, screen) = result?;
    w.id = Some(id);
    Ok(format!("{screen:?}"))
}

fn routed(w: &mut World, result: Result<kaigo_seikyu::portal::Route, PortalError>) -> Outcome {
    let route = result?;
    if let Some(id) = route.flow_id() {
        w.id = Some(id.clone());
    }
    Ok(format!("{route:?}"))
}

// ---------------------------------------------------------------------------------------------
// The paths.

fn log_in(w: &mut World) -> Outcome {
    let r = w.portal.login(USER, PASSWORD, &mut w.rng);
    routed(w, r)
}

fn log_in_wrong(w: &mut World) -> Outcome {
    let r = w.portal.login(USER, "Wrong2026x", &mut w.rng);
    debug(r)
}

fn first_login(w: &mut World, form: FirstLoginForm<'_>) -> Outcome {
    let id = w.id();
    let r = w.portal.first_login_input(&id, form, &mut w.rng);
    routed(w, r)
}

fn grace(w: &mut World, form: GraceForm<'_>) -> Outcome {
    let id = w.id();
    let r = w.portal.grace_input(&id, form, &mut w.rng);
    routed(w, r)
}

fn security_email(w: &mut World, input: UserInput<'_>) -> Outcome {
    let id = w.id();
    debug(
        w.portal
            .security_email_input(&user(), &id, input, &mut w.rng),
    )
}

fn reset_otp(w: &mut World, otp: &str) -> Outcome {
    let id = w.id();
    debug(w.portal.reset_enter_otp(&id, otp, &mut w.rng))
}

/// The reset's one-time password as mailed.
fn right_otp(w: &mut World) -> Outcome {
    let otp = w.code(ADDRESS);
    reset_otp(w, &otp)
}

/// Another one-time password than the one mailed.
fn wrong_otp(w: &mut World) -> Outcome {
    let otp = w.wrong(ADDRESS);
    reset_otp(w, &otp)
}

fn reissue(w: &mut World, input: ReissueInput<'_>) -> Outcome {
    let id = w.id();
    debug(w.portal.reissue_input(&id, input, &mut w.rng))
}

fn certificate(w: &mut World, input: CertificateInput) -> Outcome {
    let id = w.id();
    debug(w.portal.certificate_input(&user(), &id, input, &mut w.rng))
}

/// Every path: together they store every state of every flow, the account with failures, a
/// lock, a temporary password with its expiry and several addresses, and every budget.
static PATHS: [Path; 9] = [
    Path {
        name: "login",
        office: Office::SetUp,
        steps: &[log_in, |w| {
            let id = w.id();
            let r = w.portal.login_security_code(&id, SECURITY_CODE, &mut w.rng);
            debug(r)
        }],
        probes: &[
            |w| {
                let id = w.id();
                debug(w.portal.login_security_code(&id, "Wrong2026x", &mut w.rng))
            },
            log_in,
            log_in_wrong,
        ],
    },
    Path {
        name: "lockout",
        office: Office::SetUp,
        steps: &[log_in_wrong, log_in_wrong, log_in_wrong, log_in],
        probes: &[log_in, log_in_wrong],
    },
    Path {
        name: "first_login",
        office: Office::New,
        steps: &[
            log_in,
            |w| first_login(w, FirstLoginForm::AcceptTerms),
            |w| first_login(w, FirstLoginForm::StartPasswordChange),
            |w| {
                let form = FirstLoginForm::ChangePassword {
                    current: PASSWORD,
                    new: NEW_PASSWORD,
                    confirm: NEW_PASSWORD,
                };
                first_login(w, form)
            },
            |w| first_login(w, FirstLoginForm::Finish),
            |w| {
                let form = FirstLoginForm::SetNoticeEmail {
                    address: OTHER,
                    confirm: OTHER,
                };
                first_login(w, form)
            },
            |w| first_login(w, FirstLoginForm::Finish),
            |w| {
                let form = FirstLoginForm::SetSecurityEmail {
                    address: ADDRESS,
                    confirm: ADDRESS,
                };
                first_login(w, form)
            },
            |w| {
                let code = w.code(ADDRESS);
                first_login(w, FirstLoginForm::EnterCode(&code))
            },
            |w| first_login(w, FirstLoginForm::Finish),
        ],
        probes: &[
            |w| {
                let code = w.wrong(ADDRESS);
                first_login(w, FirstLoginForm::EnterCode(&code))
            },
            |w| first_login(w, FirstLoginForm::Back),
        ],
    },
    Path {
        name: "grace",
        office: Office::Existing,
        steps: &[
            log_in,
            |w| {
                let next = GraceForm::Next {
                    skip: false,
                    address: ADDRESS,
                    confirm: ADDRESS,
                };
                grace(w, next)
            },
            |w| {
                let code = w.wrong(ADDRESS);
                grace(w, GraceForm::EnterCode(&code))
            },
            |w| {
                let code = w.code(ADDRESS);
                grace(w, GraceForm::EnterCode(&code))
            },
            |w| grace(w, GraceForm::Finish),
        ],
        probes: &[
            |w| {
                let code = w.wrong(ADDRESS);
                grace(w, GraceForm::EnterCode(&code))
            },
            |w| {
                let skip = GraceForm::Next {
                    skip: true,
                    address: "",
                    confirm: "",
                };
                grace(w, skip)
            },
            |w| grace(w, GraceForm::Back),
        ],
    },
    Path {
        name: "security_emails",
        office: Office::SetUp,
        steps: &[
            |w| {
                let r = w.portal.security_email_change_start(
                    &user(),
                    ADDRESS,
                    OTHER,
                    OTHER,
                    &mut w.rng,
                );
                started(w, r)
            },
            |w| security_email(w, UserInput::Back),
            |w| {
                let address = UserInput::Address {
                    new: OTHER,
                    confirm: OTHER,
                };
                security_email(w, address)
            },
            |w| {
                let otp = w.wrong(ADDRESS);
                security_email(w, UserInput::Otp(&otp))
            },
            |w| {
                let otp = w.code(ADDRESS);
                security_email(w, UserInput::Otp(&otp))
            },
            |w| {
                let code = w.code(OTHER);
                security_email(w, UserInput::Code(&code))
            },
        ],
        probes: &[
            |w| {
                let otp = w.wrong(ADDRESS);
                security_email(w, UserInput::Otp(&otp))
            },
            |w| {
                let code = w.wrong(OTHER);
                security_email(w, UserInput::Code(&code))
            },
            |w| security_email(w, UserInput::Back),
        ],
    },
    Path {
        name: "reset",
        office: Office::TwoPrefectures,
        steps: &[
            |w| {
                let r = w.portal.reset_start(OFFICE, ADDRESS, &mut w.rng);
                started(w, r)
            },
            |w| {
                let id = w.id();
                debug(w.portal.reset_choose_prefecture(&id, "13", &mut w.rng))
            },
            right_otp,
            |w| {
                let id = w.id();
                let r = w
                    .portal
                    .reset_choose_password(&id, NEW_PASSWORD, NEW_PASSWORD, &mut w.rng);
                debug(r)
            },
        ],
        probes: &[
            wrong_otp,
            |w| {
                let id = w.id();
                debug(w.portal.reset_resend(&id, &mut w.rng))
            },
            |w| {
                let id = w.id();
                debug(w.portal.reset_back(&id, &mut w.rng))
            },
        ],
    },
    Path {
        name: "reset_voided",
        office: Office::SetUp,
        steps: &[
            |w| {
                let r = w.portal.reset_start(OFFICE, ADDRESS, &mut w.rng);
                started(w, r)
            },
            wrong_otp,
            wrong_otp,
            wrong_otp,
            wrong_otp,
            wrong_otp,
            right_otp,
        ],
        probes: &[
            |w| {
                let id = w.id();
                debug(w.portal.reset_resend(&id, &mut w.rng))
            },
            right_otp,
        ],
    },
    Path {
        name: "reissue",
        office: Office::Ledger(&[Prefecture::TOKYO, Prefecture::OSAKA]),
        steps: &[
            |w| {
                let form = ApplicationForm {
                    applicant: Applicant::Office,
                    office_number: OFFICE,
                    notify: OTHER,
                    notify_confirm: OTHER,
                };
                let r = w.portal.reissue_start(&form, &mut w.rng);
                started(w, r)
            },
            |w| reissue(w, ReissueInput::ChoosePrefecture("13")),
            |w| {
                let code = w.wrong(OTHER);
                reissue(w, ReissueInput::EnterCode(&code))
            },
            |w| {
                let code = w.code(OTHER);
                reissue(w, ReissueInput::EnterCode(&code))
            },
            |w| reissue(w, ReissueInput::Submit),
            |w| {
                let number = w.number(OTHER);
                let approve = Decision::Approve {
                    clear_security_emails: false,
                };
                let by = Federation::of(Prefecture::TOKYO);
                let outcome = w.portal.reissue_review(by, &number, approve, &mut w.rng)?;
                if let ReviewOutcome::Approved(letter) = &outcome {
                    w.temporary = Some(letter.temporary_password.reveal().to_owned());
                }
                Ok(format!("{outcome:?}"))
            },
            |w| {
                let temporary = w.temporary.clone().unwrap_or_default();
                let r = w.portal.login(USER, &temporary, &mut w.rng);
                routed(w, r)
            },
        ],
        probes: &[
            |w| {
                let code = w.wrong(OTHER);
                reissue(w, ReissueInput::EnterCode(&code))
            },
            |w| reissue(w, ReissueInput::Back),
            |w| reissue(w, ReissueInput::Submit),
        ],
    },
    Path {
        name: "certificate",
        office: Office::Ledger(&[Prefecture::TOKYO]),
        steps: &[
            |w| {
                let r = w.portal.certificate_start(&user(), &mut w.rng);
                started(w, r)
            },
            |w| certificate(w, CertificateInput::ReadPrecautions),
            |w| certificate(w, CertificateInput::Next(MenuChoice::Estimate)),
            |w| certificate(w, CertificateInput::Back),
            |w| certificate(w, CertificateInput::Next(MenuChoice::Apply)),
            |w| {
                let id = w.id();
                let r = w.portal.certificate_password(
                    &user(),
                    &id,
                    "Hakko2026!",
                    "Hakko2026!",
                    &mut w.rng,
                );
                debug(r)
            },
            |w| certificate(w, CertificateInput::AgreeAndSubmit),
            |w| certificate(w, CertificateInput::DialogOk),
            |w| certificate(w, CertificateInput::Finish),
        ],
        probes: &[
            |w| certificate(w, CertificateInput::Back),
            |w| certificate(w, CertificateInput::DialogCancel),
        ],
    },
];

// ---------------------------------------------------------------------------------------------
// Tampering.

/// The stored key of a flow, account or budget record, from its text (`Key`'s `Display`).
fn key_of(text: &str) -> Option<Key> {
    const KINDS: [FlowKind; 7] = [
        FlowKind::Login,
        FlowKind::FirstLogin,
        FlowKind::Grace,
        FlowKind::SecurityEmails,
        FlowKind::Reset,
        FlowKind::Reissue,
        FlowKind::Certificate,
    ];
    let parts: Vec<&str> = text.split('/').collect();
    Some(match parts.as_slice() {
        ["account", user] => Key::Account(user.parse().ok()?),
        ["office_accounts", office] => Key::OfficeAccounts(office.parse().ok()?),
        ["flow", kind, id] => {
            let kind = KINDS.into_iter().find(|k| k.as_str() == *kind)?;
            Key::Flow(kind, id.parse().ok()?)
        }
        ["budget", "code_mails", a] => Key::Budget(Budget::CodeMails(a.parse().ok()?)),
        ["budget", "wrong_codes", user] => Key::Budget(Budget::WrongCodes(user.parse().ok()?)),
        ["budget", "wrong_reset_codes", user, a] => {
            Key::Budget(Budget::WrongResetCodes(user.parse().ok()?, a.parse().ok()?))
        }
        ["budget", "wrong_codes_at", a] => Key::Budget(Budget::WrongCodesAt(a.parse().ok()?)),
        _ => return None,
    })
}

/// A place a tamper can hit: a record and the path of a number or an instant in its JSON.
#[derive(Debug, Clone)]
struct Leaf {
    key: Key,
    path: Vec<Value>,
}

impl Leaf {
    fn name(&self) -> String {
        let path: Vec<String> = self.path.iter().map(|p| p.to_string()).collect();
        format!("{}:{}", self.key, path.join("."))
    }

    /// The field's own name, e.g. `wrong`.
    fn field(&self) -> Option<&str> {
        self.path.iter().rev().find_map(Value::as_str)
    }
}

fn walk(value: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(Value::from(k.as_str()));
                walk(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Value::from(i));
                walk(v, path, out);
                path.pop();
            }
        }
        Value::Number(_) => out.push(path.clone()),
        Value::String(s) if s.parse::<DateTime<Utc>>().is_ok() => out.push(path.clone()),
        _ => {}
    }
}

fn at<'a>(value: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(value, |v, step| match step {
        Value::String(k) => &mut v[k.as_str()],
        Value::Number(i) => &mut v[i.as_u64().unwrap() as usize],
        _ => unreachable!(),
    })
}

/// Every number and instant of every flow, account and budget record of `store`, in key order.
fn leaves(store: &kaigo_seikyu::memory::MemoryStore) -> Vec<Leaf> {
    let mut out = Vec::new();
    for (text, record) in store.snapshot() {
        let Some(key) = key_of(&text) else { continue };
        let json: Value = serde_json::from_slice(&record.value).unwrap();
        let mut paths = Vec::new();
        walk(&json, &mut Vec::new(), &mut paths);
        out.extend(paths.into_iter().map(|path| Leaf {
            key: key.clone(),
            path,
        }));
    }
    out
}

/// What a tamper writes: a number goes to `number`; an instant to `instant`, or, without one,
/// moves by `shift` seconds (kept when that leaves chrono's range).
#[derive(Debug, Clone)]
struct Tamper {
    number: serde_json::Number,
    instant: Option<DateTime<Utc>>,
    shift: i64,
}

/// Whether a changed leaf stays within what an honest record could hold: a counter lowered, an
/// instant moved earlier, or later by no more than another server's clock may run ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Honest,
    Beyond,
}

/// Writes `tamper` at `leaf` in `w`'s store; returns how the change compares with an honest one.
fn tamper(w: &World, leaf: &Leaf, tamper: &Tamper) -> Kind {
    let stored = w.host.store.load(&leaf.key).unwrap().expect("the record");
    let mut json: Value = serde_json::from_slice(&stored.value).unwrap();
    let target = at(&mut json, &leaf.path);
    let kind = match target.clone() {
        Value::Number(old) => {
            let lowered = matches!(
                (old.as_u64(), tamper.number.as_u64()),
                (Some(old), Some(new)) if new <= old
            );
            let counter = leaf.field().is_some_and(|f| COUNTERS.contains(&f));
            let version = leaf.field().is_some_and(|f| VERSIONS.contains(&f));
            let honest = tamper
                .number
                .as_u64()
                .is_some_and(|n| n <= u64::from(u32::MAX));
            *target = Value::Number(tamper.number.clone());
            if (lowered && counter) || (version && honest) {
                Kind::Honest
            } else {
                Kind::Beyond
            }
        }
        Value::String(s) => {
            let old: DateTime<Utc> = s.parse().unwrap();
            let new = tamper.instant.unwrap_or_else(|| {
                old.checked_add_signed(TimeDelta::seconds(tamper.shift))
                    .unwrap_or(old)
            });
            *target = serde_json::to_value(new).unwrap();
            if new <= old + CLOCK_SKEW {
                Kind::Honest
            } else {
                Kind::Beyond
            }
        }
        other => unreachable!("a number or an instant, not {other}"),
    };
    w.host
        .store
        .commit(&[Write::Put {
            key: leaf.key.clone(),
            expected: Some(stored.version),
            value: serde_json::to_vec(&json).unwrap(),
            expires: stored.expires,
        }])
        .unwrap();
    kind
}

/// What reached the ports so far: mails, notices, events.
fn sent(w: &World) -> (usize, usize, usize) {
    (
        w.host.outbox.all().len(),
        w.host.notices.all().len(),
        w.host.events.all().len(),
    )
}

/// The input and what it did: the answer, and the mails and events it sent.
fn act(w: &mut World, input: Step) -> (Outcome, Vec<String>) {
    let (mails, events) = (w.host.outbox.all().len(), w.host.events.all().len());
    let outcome = input(w);
    let mut effects: Vec<String> = w.host.outbox.all()[mails..]
        .iter()
        .map(|m| format!("{m:?}"))
        .collect();
    effects.extend(
        w.host.events.all()[events..]
            .iter()
            .map(|e| format!("{e:?}")),
    );
    (outcome, effects)
}

/// How a tampered twin answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    /// Refused as corrupt: nothing written, nothing sent.
    Corrupt,
    /// As the untampered twin.
    Same,
    /// Refused where the twin was not, or refused differently.
    Refused,
    /// A different success, from a record an honest run could have stored.
    Honest,
}

/// The start of an answer and its effects, for a failure's message.
fn short(outcome: &Outcome, effects: &[String]) -> String {
    let text = format!("{outcome:?} {effects:?}");
    text.chars().take(400).collect()
}

/// One case: `path` played to `step`, `leaf` (an index into the stored leaves) tampered with,
/// `later` minutes passed, then the path's next step (`probe` 0) or one of its probes. Returns
/// the verdict, or `None` when the world stores nothing to tamper with.
fn check(
    path: &Path,
    step: usize,
    leaf: usize,
    change: &Tamper,
    later: i64,
    probe: usize,
) -> Option<Verdict> {
    let played = &path.steps[..step];
    let mut honest = World::new(path.office);
    honest.play(played);
    let all = leaves(&honest.host.store);
    let leaf = all.get(leaf % all.len().max(1))?.clone();
    let mut tampered = World::new(path.office);
    tampered.play(played);
    let kind = tamper(&tampered, &leaf, change);
    for w in [&honest, &tampered] {
        w.host.clock.advance(TimeDelta::minutes(later));
    }
    let inputs: Vec<Step> = path.steps[step..]
        .iter()
        .take(1)
        .chain(path.probes)
        .copied()
        .collect();
    let input = inputs[probe % inputs.len()];
    let case = format!(
        "{} after {step} steps, {} set by {change:?}, {later} min later, input {}",
        path.name,
        leaf.name(),
        probe % inputs.len()
    );

    let (expected, expected_effects) = act(&mut honest, input);
    assert!(
        !matches!(expected, Err(PortalError::Store(_))),
        "{case}: the untampered twin failed: {expected:?}"
    );
    let before = tampered.host.store.snapshot();
    let ports = sent(&tampered);
    let (got, effects) = act(&mut tampered, input);
    if let Err(PortalError::Store(e)) = &got {
        // OPS-07: refused as corrupt; nothing written, nothing queued, nothing sent.
        assert!(matches!(e, StoreError::Corrupt(_)), "{case}: {e:?}");
        assert_eq!(tampered.host.store.snapshot(), before, "{case}: wrote");
        assert_eq!(sent(&tampered), ports, "{case}: sent");
        return Some(Verdict::Corrupt);
    }
    let same = (&got, &effects) == (&expected, &expected_effects);
    let verdict = match (same, got.is_ok()) {
        (true, _) => Verdict::Same,
        (false, false) => Verdict::Refused,
        (false, true) => Verdict::Honest,
    };
    if verdict == Verdict::Honest {
        assert!(
            kind == Kind::Honest,
            "{case}: OPS-07: obeyed beyond the rules: {}, untampered {}",
            short(&got, &effects),
            short(&expected, &expected_effects),
        );
    }
    // Never beyond the policy: whatever the input wrote is a record the policy allows.
    let policy = tampered.portal.policy().clone();
    let now = tampered.portal.now();
    let check = Check {
        now,
        policy: &policy,
    };
    for (text, record) in tampered.host.store.snapshot() {
        let Some(key) = key_of(&text) else { continue };
        let old = before.iter().find(|(k, _)| *k == text).map(|(_, v)| v);
        if old.map(|v: &Versioned| &v.value) == Some(&record.value) {
            continue;
        }
        let written = validate::record(&key, &record.value, &check);
        assert!(
            written.is_ok(),
            "{case}: wrote beyond the policy: {written:?}"
        );
    }
    Some(verdict)
}

/// Every (path, step) pair: a stored state of every flow, before the path's next input.
fn cases() -> Vec<(&'static Path, usize)> {
    PATHS
        .iter()
        .flat_map(|p| (0..=p.steps.len()).map(move |k| (p, k)))
        .collect()
}

fn tampers() -> impl Strategy<Value = Tamper> {
    let number = prop_oneof![
        (0u64..=12).prop_map(serde_json::Number::from),
        any::<u8>().prop_map(serde_json::Number::from),
        Just(serde_json::Number::from(256u64)),
        any::<u64>().prop_map(serde_json::Number::from),
        (i64::MIN..0).prop_map(serde_json::Number::from),
        Just(serde_json::Number::from_f64(1.5).unwrap()),
    ];
    let instant = prop_oneof![
        3 => Just(None),
        1 => Just(Some(DateTime::<Utc>::MAX_UTC)),
        1 => Just(Some(DateTime::<Utc>::MIN_UTC)),
        1 => Just(Some(utc("9999-12-31T23:59:59+00:00"))),
        1 => Just(Some(utc("1970-01-01T00:00:00+00:00"))),
    ];
    let shift = prop_oneof![-400i64..400, -7200i64..7200, -86_400i64 * 400..86_400 * 400,];
    (number, instant, shift).prop_map(|(number, instant, shift)| Tamper {
        number,
        instant,
        shift,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// OPS-07: tampering with any number or instant of any stored flow state, account or budget
    /// gives `Corrupt` (nothing written, nothing sent), the untampered twin's answer, or a
    /// refusal; never a success beyond the rules, and never a record beyond the policy written.
    #[test]
    fn ops_07_tampered_records_are_corrupt_or_never_obeyed_beyond_the_rules(
        case in any::<prop::sample::Index>(),
        leaf in 0usize..64,
        change in tampers(),
        later in prop_oneof![Just(0i64), Just(20), Just(31), 0i64..90, Just(60 * 24 * 31)],
        probe in 0usize..4,
    ) {
        let cases = cases();
        let (path, step) = cases[case.index(cases.len())];
        check(path, step, leaf, &change, later, probe);
    }
}

/// OPS-07: every leaf of every stored state reached by the paths, each set to the boundaries
/// (zero, the largest `u8`, a huge and a negative number; a far-future, a far-past instant and a
/// day later), then the path's next input right away and half an hour later. Proves the
/// coverage: every state of the seven flows, the account and the budgets are tampered with.
#[test]
fn ops_07_every_leaf_of_every_stored_state_at_the_boundaries() {
    let boundaries = [
        Tamper {
            number: 0u64.into(),
            instant: Some(utc("9999-12-31T23:59:59+00:00")),
            shift: 0,
        },
        Tamper {
            number: 255u64.into(),
            instant: Some(DateTime::<Utc>::MIN_UTC),
            shift: 0,
        },
        Tamper {
            number: u64::MAX.into(),
            instant: None,
            shift: 86_400,
        },
        Tamper {
            number: (-1i64).into(),
            instant: None,
            shift: -86_400,
        },
    ];
    let mut states = std::collections::BTreeSet::new();
    let mut verdicts = std::collections::BTreeMap::<Verdict, usize>::new();
    for (path, step) in cases() {
        let mut w = World::new(path.office);
        w.play(&path.steps[..step]);
        let count = leaves(&w.host.store).len();
        for (text, record) in w.host.store.snapshot() {
            if text.starts_with("flow/") {
                let json: Value = serde_json::from_slice(&record.value).unwrap();
                let state = json.as_object().unwrap().keys().next().unwrap().clone();
                states.insert(format!("{}/{state}", text.split('/').nth(1).unwrap()));
            } else if key_of(&text).is_some() {
                states.insert(text.split('/').take(2).collect::<Vec<_>>().join("/"));
            }
        }
        for leaf in 0..count {
            for change in &boundaries {
                for later in [0, 31] {
                    let verdict = check(path, step, leaf, change, later, 0).unwrap();
                    *verdicts.entry(verdict).or_default() += 1;
                }
            }
        }
    }
    let states: Vec<&str> = states.iter().map(String::as_str).collect();
    println!("{states:#?}\n{verdicts:?}");
    // Not vacuous: many tampers are refused as corrupt, many change nothing.
    assert!(verdicts[&Verdict::Corrupt] > 100, "{verdicts:?}");
    assert!(verdicts[&Verdict::Same] > 100, "{verdicts:?}");
    for want in [
        "account/KJ131311111111",
        "budget/code_mails",
        "budget/wrong_codes",
        "budget/wrong_codes_at",
        "budget/wrong_reset_codes",
        "certificate/ChoosingAction",
        "certificate/ConfirmingOldFee",
        "certificate/ConfirmingSubmission",
        "certificate/Done",
        "certificate/EnteringPassword",
        "certificate/ViewingEstimate",
        "first_login/AwaitingCode",
        "first_login/ChoosingNoticeEmail",
        "first_login/ChoosingPassword",
        "first_login/EnteringSecurityEmail",
        "first_login/NoticeEmailDone",
        "first_login/PasswordChanged",
        "first_login/Registered",
        "first_login/Terms",
        "first_login/Warning",
        "grace/AwaitingCode",
        "grace/EnteringSecurityEmail",
        "grace/Registered",
        "login/AwaitingSecurityCode",
        "reissue/AwaitingCode",
        "reissue/ChoosingPrefecture",
        "reissue/Confirming",
        "reissue/Done",
        "reset/AwaitingOtp",
        "reset/ChoosingPassword",
        "reset/ChoosingPrefecture",
        "reset/Done",
        "reset/Voided",
        "security_emails/AwaitingCode",
        "security_emails/AwaitingOtp",
        "security_emails/ChoosingAddress",
        "security_emails/Done",
    ] {
        assert!(states.contains(&want), "{want} is never stored: {states:?}");
    }
}

/// OPS-07: records no honest run can store are refused as corrupt, even with the right input,
/// and nothing is written: a code whose expiry was moved past the policy's lifetime, a
/// wrong-entry count past the limit, more codes sent than a flow may send (in the reset, the
/// grace registration, and the security-email setting back on its address form), a security-code step
/// living longer than the policy allows, an account with more consecutive failures than lock it
/// or a lock longer than the policy's.
#[test]
fn ops_07_impossible_states_are_corrupt() {
    let day_later = Tamper {
        number: 99u64.into(),
        instant: None,
        shift: 86_400,
    };
    for (name, step, key, field) in [
        ("reset", 2, "flow/reset", "expires_at"),
        ("reset", 2, "flow/reset", "wrong"),
        ("reset", 2, "flow/reset", "sent"),
        ("reissue", 1, "flow/reissue", "started_at"),
        ("reissue", 4, "flow/reissue", "verified_at"),
        ("login", 1, "flow/login", "expires_at"),
        ("grace", 2, "flow/grace", "codes_sent"),
        ("security_emails", 2, "flow/security_emails", "sent"),
        ("lockout", 2, "account/", "failures"),
        ("lockout", 3, "account/", "locked_until"),
    ] {
        let path = PATHS.iter().find(|p| p.name == name).unwrap();
        let mut w = World::new(path.office);
        w.play(&path.steps[..step]);
        let leaf = leaves(&w.host.store)
            .into_iter()
            .find(|l| l.key.to_string().starts_with(key) && l.field() == Some(field))
            .unwrap_or_else(|| panic!("{name}: no {key} {field}"));
        tamper(&w, &leaf, &day_later);
        let before = w.host.store.snapshot();
        let input = path.steps.get(step).copied().unwrap_or(path.probes[0]);
        let got = input(&mut w);
        assert!(
            matches!(&got, Err(PortalError::Store(StoreError::Corrupt(m))) if m.contains("OPS-07")),
            "{name} {field}: {got:?}"
        );
        assert_eq!(w.host.store.snapshot(), before);
    }
}

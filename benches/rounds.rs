//! OPS-04, OPS-01: the round trips of every entry point of the blocking `Portal`, counted by
//! `testkit::CountingStore` over the in-memory store, and printed as the table of
//! docs/performance.md ("Round trips").
//!
//! One play provisions five offices (a set-up office, one billing two prefectures, a new office,
//! an existing office without a security email, a ledger entry without accounts) and calls every
//! entry point once or more, in an order that reaches every flow's steps: each row is one
//! request, with the rounds of batched reads (`Store::load_many`), the records they read, the
//! single loads and the commits it made. Delivery is by the host (`Delivery::ByHost`), so a
//! request's own cost shows; `deliver` is a row of its own. The counts are exact and the same on
//! every play; the bench checks them against OPS-04 (no single load, at most two rounds and one
//! commit a request, a reset started in one round) and fails if one breaks.
//!
//! `cargo bench --bench rounds` plays 201 times and adds each request's median time (wall clock,
//! in-memory store, cheap argon2, provisioning not timed); `cargo test --benches` plays once and
//! prints the counts only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kaigo_seikyu::account::{Account, TermsAcceptance};
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::certificate::{CertificateInput, MenuChoice};
use kaigo_seikyu::error::PortalError;
use kaigo_seikyu::first_login::Form as FirstLoginForm;
use kaigo_seikyu::grace::Form as GraceForm;
use kaigo_seikyu::login;
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::{Delivery, FlowRef, Portal};
use kaigo_seikyu::ports::OfficeRecord;
use kaigo_seikyu::reissue::{
    Applicant, ApplicationForm, Decision, Federation, Input as ReissueInput,
};
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::security_emails::UserInput;
use kaigo_seikyu::store::FlowKind;
use kaigo_seikyu::testkit::{Cost, CountingStore};
use kaigo_seikyu::values::{Prefecture, UserId, Yen};
use rand::SeedableRng;
use rand::rngs::StdRng;

const NOW: &str = "2026-01-10T10:00:00+09:00";
const PASSWORD: &str = "Sakura2026!";
const NEW_PASSWORD: &str = "Hanami2026!";
const SECURITY_CODE: &str = "Himitsu2026";

/// The offices: set up (security email and code), billing two prefectures, new, existing
/// without a security email, and only in the ledger.
const SET_UP: &str = "1311111111";
const TWO: &str = "1322222222";
const NEW: &str = "1333333333";
const EXISTING: &str = "1344444444";
const LEDGER: &str = "1355555555";

/// One play: the driver over a counting store, and the requests measured so far.
struct Play {
    host: Embedded,
    store: Arc<CountingStore>,
    portal: Portal,
    rng: StdRng,
    rows: Vec<(String, Cost, Duration)>,
}

fn user(office: &str, billing: Prefecture) -> UserId {
    UserId::new(billing, office.parse().unwrap())
}

fn address(office: &str, n: u8) -> String {
    format!("security-{n}.{office}@example.jp")
}

impl Play {
    fn new() -> Play {
        let host = Embedded::new(utc(NOW));
        let (ports, store) = CountingStore::over(&host);
        let portal = Portal::new(
            ports,
            Policy::insecure_fast_hashing(),
            CodeKey::from_bytes([7; 32]),
        )
        .with_delivery(Delivery::ByHost);
        Play {
            host,
            store,
            portal,
            rng: StdRng::seed_from_u64(15),
            rows: Vec::new(),
        }
    }

    /// One request, counted and timed, as the row `name`.
    fn request<T>(
        &mut self,
        name: &str,
        call: impl FnOnce(&Portal, &mut StdRng) -> Result<T, PortalError>,
    ) -> T {
        self.store.take();
        let start = Instant::now();
        let result = call(&self.portal, &mut self.rng);
        let time = start.elapsed();
        let cost = self.store.take();
        self.rows.push((name.to_owned(), cost, time));
        result.unwrap_or_else(|e| panic!("{name}: {e:?}"))
    }

    /// What the host does between requests, not measured: provisioning, delivering the mails.
    fn quietly<T>(&mut self, call: impl FnOnce(&Portal, &mut StdRng) -> T) -> T {
        let out = call(&self.portal, &mut self.rng);
        self.portal.deliver().unwrap();
        self.store.take();
        out
    }

    /// Delivers the outbox, not measured, and returns the newest code mailed to `to`.
    fn mailed(&mut self, to: &str) -> String {
        self.quietly(|_, _| ());
        self.code(to)
    }

    /// The newest code mailed to `to`.
    fn code(&self, to: &str) -> String {
        let mail = self.host.outbox.last_to(to).expect("a mail");
        mail.code().expect("a code").to_owned()
    }

    fn account(&mut self, user: UserId, set_up: bool) -> Account {
        let hash = self.portal.hash_secret(PASSWORD.as_bytes(), &mut self.rng);
        let terms = TermsAcceptance {
            version: 1,
            at: utc("2020-04-01T09:00:00+09:00"),
        };
        let mut account = login::existing_office(user, hash, terms);
        if set_up {
            let address = address(&user.office().to_string(), 1).parse().unwrap();
            account.security_emails.add(address, utc(NOW)).unwrap();
            let code = self
                .portal
                .hash_secret(SECURITY_CODE.as_bytes(), &mut self.rng);
            account.security_code = Some(code);
        }
        account
    }

    fn ledger(&self, office: &str, billing: Vec<Prefecture>) {
        self.host.ledger.insert(OfficeRecord {
            number: office.parse().unwrap(),
            name: "請求事業所A".into(),
            postal_address: "東京都千代田区霞が関1-1-1".into(),
            phone: "03-0000-0000".into(),
            billing,
        });
    }
}

/// Plays every entry point once or more; returns the rows.
fn play() -> Vec<(String, Cost, Duration)> {
    let mut p = Play::new();
    let tokyo = |office| user(office, Prefecture::TOKYO);
    let (a, a_mail) = (tokyo(SET_UP), address(SET_UP, 1));

    // Provisioning (OPS-06): the first account is measured, the others are not.
    let account = p.account(a, true);
    p.request("create_account", |portal, _| portal.create_account(account));
    for (office, billing) in [(TWO, Prefecture::TOKYO), (TWO, Prefecture::OSAKA)] {
        let account = p.account(user(office, billing), true);
        p.quietly(|portal, _| portal.create_account(account).unwrap());
    }
    let hash = p.portal.hash_secret(PASSWORD.as_bytes(), &mut p.rng);
    let account = login::new_office(tokyo(NEW), hash);
    p.quietly(|portal, _| portal.create_account(account).unwrap());
    let account = p.account(tokyo(EXISTING), false);
    p.quietly(|portal, _| portal.create_account(account).unwrap());
    p.ledger(SET_UP, vec![Prefecture::TOKYO]);
    p.ledger(LEDGER, vec![Prefecture::TOKYO, Prefecture::OSAKA]);

    // LOGIN: the password, then the security code.
    let route = p.request("login (→ security code)", |portal, rng| {
        portal.login(&a.to_string(), PASSWORD, rng)
    });
    let id = route.flow_id().expect("the security-code step").clone();
    p.request("login_security_code (→ menu)", |portal, rng| {
        portal.login_security_code(&id, SECURITY_CODE, rng)
    });

    // RS: one prefecture, one round to start.
    let (id, _) = p.request("reset_start (→ OTP)", |portal, rng| {
        portal.reset_start(SET_UP, &a_mail, rng)
    });
    p.request("deliver (1 mail)", |portal, _| portal.deliver());
    let flow = FlowRef {
        kind: FlowKind::Reset,
        id: id.clone(),
    };
    p.request("current (reset)", |portal, _| portal.current(None, &flow));
    p.request("open (reset)", |portal, _| {
        portal.open(FlowKind::Reset, None)
    });
    p.request("reset_resend", |portal, rng| portal.reset_resend(&id, rng));
    let otp = p.mailed(&a_mail);
    p.request("reset_enter_otp", |portal, rng| {
        portal.reset_enter_otp(&id, &otp, rng)
    });
    p.request("reset_choose_password", |portal, rng| {
        portal.reset_choose_password(&id, NEW_PASSWORD, NEW_PASSWORD, rng)
    });

    // RS-02: two prefectures.
    let two_mail = address(TWO, 1);
    let (id, _) = p.request("reset_start (→ prefecture choice)", |portal, rng| {
        portal.reset_start(TWO, &two_mail, rng)
    });
    p.request("reset_choose_prefecture", |portal, rng| {
        portal.reset_choose_prefecture(&id, "13", rng)
    });
    p.request("reset_back", |portal, rng| portal.reset_back(&id, rng));
    p.quietly(|_, _| ());

    // FL: every step of a first login.
    let route = p.request("login (→ first login)", |portal, rng| {
        portal.login(&tokyo(NEW).to_string(), PASSWORD, rng)
    });
    let id = route.flow_id().expect("the first-login flow").clone();
    let (notice, security) = (address(NEW, 0), address(NEW, 1));
    let forms: [(&str, FirstLoginForm<'_>); 7] = [
        ("AcceptTerms", FirstLoginForm::AcceptTerms),
        ("StartPasswordChange", FirstLoginForm::StartPasswordChange),
        (
            "ChangePassword",
            FirstLoginForm::ChangePassword {
                current: PASSWORD,
                new: NEW_PASSWORD,
                confirm: NEW_PASSWORD,
            },
        ),
        ("Finish", FirstLoginForm::Finish),
        (
            "SetNoticeEmail",
            FirstLoginForm::SetNoticeEmail {
                address: &notice,
                confirm: &notice,
            },
        ),
        ("Finish", FirstLoginForm::Finish),
        (
            "SetSecurityEmail",
            FirstLoginForm::SetSecurityEmail {
                address: &security,
                confirm: &security,
            },
        ),
    ];
    for (name, form) in forms {
        p.request(&format!("first_login_input ({name})"), |portal, rng| {
            portal.first_login_input(&id, form, rng)
        });
    }
    let code = p.mailed(&security);
    p.request("first_login_input (EnterCode)", |portal, rng| {
        portal.first_login_input(&id, FirstLoginForm::EnterCode(&code), rng)
    });
    p.request("first_login_input (Finish → menu)", |portal, rng| {
        portal.first_login_input(&id, FirstLoginForm::Finish, rng)
    });

    // GR: registration within the grace period.
    let route = p.request("login (→ grace)", |portal, rng| {
        portal.login(&tokyo(EXISTING).to_string(), PASSWORD, rng)
    });
    let id = route.flow_id().expect("the grace flow").clone();
    let grace_mail = address(EXISTING, 1);
    let next = GraceForm::Next {
        skip: false,
        address: &grace_mail,
        confirm: &grace_mail,
    };
    p.request("grace_input (Next)", |portal, rng| {
        portal.grace_input(&id, next, rng)
    });
    let code = p.mailed(&grace_mail);
    p.request("grace_input (EnterCode)", |portal, rng| {
        portal.grace_input(&id, GraceForm::EnterCode(&code), rng)
    });
    p.request("grace_input (Finish)", |portal, rng| {
        portal.grace_input(&id, GraceForm::Finish, rng)
    });

    // SE: the list, an addition, a selection, a deletion.
    let new = address(SET_UP, 2);
    p.request("security_emails", |portal, _| portal.security_emails(&a));
    p.request("security_email_add_form", |portal, _| {
        portal.security_email_add_form(&a)
    });
    let (id, _) = p.request("security_email_add_start", |portal, rng| {
        portal.security_email_add_start(&a, &new, &new, rng)
    });
    let otp = p.mailed(&a_mail);
    p.request("security_email_input (Otp)", |portal, rng| {
        portal.security_email_input(&a, &id, UserInput::Otp(&otp), rng)
    });
    let code = p.mailed(&new);
    p.request("security_email_input (Code)", |portal, rng| {
        portal.security_email_input(&a, &id, UserInput::Code(&code), rng)
    });
    p.request("security_email_select", |portal, _| {
        portal.security_email_select(&a, &new)
    });
    p.request("security_email_change_form", |portal, _| {
        portal.security_email_change_form(&a, &new)
    });
    p.request("security_email_delete", |portal, _| {
        portal.security_email_delete(&a, &a_mail)
    });

    // RI: an application, its review.
    let notify = address(LEDGER, 0);
    let form = ApplicationForm {
        applicant: Applicant::Office,
        office_number: LEDGER,
        notify: &notify,
        notify_confirm: &notify,
    };
    let (id, _) = p.request("reissue_start", |portal, rng| {
        portal.reissue_start(&form, rng)
    });
    p.request("reissue_input (ChoosePrefecture)", |portal, rng| {
        portal.reissue_input(&id, ReissueInput::ChoosePrefecture("13"), rng)
    });
    let code = p.mailed(&notify);
    p.request("reissue_input (EnterCode)", |portal, rng| {
        portal.reissue_input(&id, ReissueInput::EnterCode(&code), rng)
    });
    let (number, _) = p.request("reissue_submit", |portal, rng| {
        portal.reissue_submit(&id, rng)
    });
    let by = Federation::of(Prefecture::TOKYO);
    p.request("review_queue", |portal, _| {
        portal.review_queue(by, None, 20)
    });
    p.request("reissue_application", |portal, _| {
        portal.reissue_application(by, &number.to_string())
    });
    let approve = Decision::Approve {
        clear_security_emails: false,
    };
    p.request("reissue_review (approve)", |portal, rng| {
        portal.reissue_review(by, &number.to_string(), approve, rng)
    });

    // FEE: an application in the notice window.
    let (id, _) = p.request("certificate_start", |portal, rng| {
        portal.certificate_start(&a, rng)
    });
    for (name, input) in [
        ("ReadPrecautions", CertificateInput::ReadPrecautions),
        ("Next", CertificateInput::Next(MenuChoice::Apply)),
    ] {
        p.request(&format!("certificate_input ({name})"), |portal, rng| {
            portal.certificate_input(&a, &id, input, rng)
        });
    }
    p.request("certificate_password", |portal, rng| {
        portal.certificate_password(&a, &id, "Hakko2026!", "Hakko2026!", rng)
    });
    for (name, input) in [
        ("AgreeAndSubmit", CertificateInput::AgreeAndSubmit),
        ("DialogOk", CertificateInput::DialogOk),
    ] {
        p.request(&format!("certificate_input ({name})"), |portal, rng| {
            portal.certificate_input(&a, &id, input, rng)
        });
    }
    let office = a.office();
    p.request("certificates", |portal, _| portal.certificates(&office));
    p.request("certificate_reminders", |portal, _| {
        portal.certificate_reminders(&office)
    });
    p.request("certificate_import", |portal, _| {
        let end = chrono::NaiveDate::from_ymd_opt(2031, 1, 9).unwrap();
        portal.certificate_import(&office, utc(NOW), end, Yen(13_200))
    });

    // OPS-06: operator actions; OPS-02: purge; OPS-01: delivery.
    p.request("clear_security_code", |portal, _| {
        portal.clear_security_code(&tokyo(TWO))
    });
    p.request("lift_lockout", |portal, _| portal.lift_lockout(&tokyo(TWO)));
    p.request("purge", |portal, _| portal.purge(100));
    p.request("deliver", |portal, _| portal.deliver());
    p.rows
}

/// The requests that read in a third round, and why: `reissue_submit` reads the application
/// record of the number it draws from the sequences (a record it learns from another, OPS-04).
/// Every step that draws a code declares the address's code-mail budget (SEC-04) in its `Needs`,
/// so it reads it in the step's own round.
const THIRD_ROUND: [&str; 1] = ["reissue_submit"];

/// OPS-04 on every row: no single load, at most one commit (delivery commits once more per
/// batch it removes), at most two rounds (the flow's state, then what its step declares) but for
/// the [`THIRD_ROUND`] requests; starting a reset is one round.
fn check(rows: &[(String, Cost, Duration)]) {
    for (name, cost, _) in rows {
        assert_eq!(
            cost.single_loads, 0,
            "OPS-04: {name} loaded one record at a time"
        );
        let most = if THIRD_ROUND.contains(&name.as_str()) {
            3
        } else {
            2
        };
        assert!(
            cost.rounds <= most,
            "OPS-04: {name} took {} rounds",
            cost.rounds
        );
        if !name.starts_with("deliver") {
            assert!(
                cost.commits <= 1,
                "OPS-04: {name} committed {} times",
                cost.commits
            );
        }
        if name.starts_with("reset_start") {
            assert_eq!(cost.rounds, 1, "OPS-04: {name} is one round");
        }
    }
}

const HEADER: &str =
    "entry point | rounds | records read | listings | single loads | commits | purges |";
const RULE: &str = "--- | ---: | ---: | ---: | ---: | ---: | ---: |";

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let plays = if bench { 201 } else { 1 };
    let first = play();
    check(&first);
    let mut times: Vec<Vec<Duration>> = first.iter().map(|(_, _, t)| vec![*t]).collect();
    for _ in 1..plays {
        let rows = play();
        for ((a, b), t) in rows.iter().zip(&first).zip(&mut times) {
            assert_eq!(
                (&a.0, a.1),
                (&b.0, b.1),
                "the counts are the same on every play"
            );
            t.push(a.2);
        }
    }
    println!("Round trips per entry point (OPS-04), {plays} play(s):\n");
    if bench {
        println!("| {HEADER} median time |\n| {RULE} ---: |");
    } else {
        println!("| {HEADER}\n| {RULE}");
    }
    for ((name, cost, _), t) in first.iter().zip(&mut times) {
        let row = format!(
            "| {name} | {} | {} | {} | {} | {} | {} |",
            cost.rounds, cost.records, cost.listings, cost.single_loads, cost.commits, cost.purges
        );
        if bench {
            t.sort();
            let median = t[t.len() / 2];
            println!("{row} {:.1} µs |", median.as_secs_f64() * 1e6);
        } else {
            println!("{row}");
        }
    }
}

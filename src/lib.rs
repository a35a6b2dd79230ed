//! # kaigo-seikyu
//!
//! The account-security and certificate-fee rules of Japan's long-term-care claims portal
//! (介護電子請求受付システム), as changed by its December 2025 (令和7年12月) release: the mandatory
//! security email (セキュリティ用メールアドレス) with a grace period until 2026-01-31, the office's own
//! login-info reset with a one-time password, the paper reissue application to the prefecture's
//! federation (国保連合会), and the certificate fee cut on 2026-04-01.
//!
//! ## How the pieces fit
//!
//! - **Values** ([`values`], [`calendar`]) are parsed once at the edge: an [`values::OfficeNumber`],
//!   a [`values::UserId`], an [`values::EmailAddress`], a [`values::Password`] checked against the
//!   policy, codes, management numbers, yen. Every parser returns an error, never panics.
//! - **Policy** ([`policy::Policy`]) is data: the release calendar, lifetimes, attempt limits,
//!   argon2 parameters. `Policy::default()` is the December 2025 release.
//! - **Flows** are pure, typed state machines, one module each, all of one shape
//!   ([`flow::Flow`]): a persisted state enum, an input enum, one transition, one screen, and a
//!   declaration of the records a step needs ([`flow::Needs`]). A transition takes the state, the
//!   input, the records the driver read, `now` and the host's CSPRNG ([`flow::Cx`]) and returns
//!   the next state plus [`effect::Effect`]s as data: mails to send, notices to post, records to
//!   save, audit events.
//! - **Screens** ([`screen::Screen`]) are typed views: texts with stable ids, fields with names and
//!   kinds, buttons naming the input they send, helps. A front end renders any of them without
//!   knowing the flow, and posts back a [`screen::Form`] that the flow parses.
//! - **Ports** ([`store::Store`], [`ports`]) are what a host implements: storage with
//!   compare-and-swap, a mail outbox, the notice board, the office ledger, the audit log, sessions
//!   and the clock. [`memory::Embedded`] bundles in-memory ones: the embedded default.
//! - **The driver** ([`portal::Portal`]) has one set of entry points for every flow: show an
//!   entry screen ([`portal::Portal::open`]), begin a flow with a form ([`portal::Portal::start`]),
//!   submit a form ([`portal::Portal::submit`]), show the current screen, go back. It loads what
//!   a step needs, runs the pure transition, commits with compare-and-swap and hands the effects
//!   to the ports. Operator actions (provisioning, security codes, lockouts) go through it too,
//!   audited.
//!
//! ## Example: the pieces
//!
//! ```
//! use kaigo_seikyu::calendar::utc;
//! use kaigo_seikyu::memory::Embedded;
//! use kaigo_seikyu::policy::Policy;
//! use kaigo_seikyu::secret::CodeKey;
//! use kaigo_seikyu::values::{EmailAddress, OfficeNumber, Prefecture, UserId, Yen};
//!
//! let policy = Policy::default();
//! // The fee is decided by the instant an application is submitted (CAL-04).
//! assert_eq!(policy.fee_at(utc("2026-03-31T23:59:59+09:00")), Yen(13_200));
//! assert_eq!(policy.fee_at(utc("2026-04-01T00:00:00+09:00")), Yen(7_800));
//!
//! // Values are parsed once; bad input is an error with a Japanese message for the screen.
//! let office: OfficeNumber = "1311111111".parse()?;
//! let user = UserId::new(Prefecture::TOKYO, office);
//! assert_eq!(user.to_string(), "KJ131311111111");
//! let err = "ｍａｉｌ@jp".parse::<EmailAddress>().unwrap_err();
//! assert_eq!(err.message(), "メールアドレスは半角英数字記号で入力してください。");
//!
//! // The embedded host: in-memory ports and a virtual clock, driven by a Portal.
//! let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
//! let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
//! assert_eq!(portal.now(), utc("2026-01-10T10:00:00+09:00"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Example: drive one flow
//!
//! The office that lost its password resets it itself (RS, source 1.2.2 (3)): office number and
//! a registered security email, the one-time password from the mail, a new password. Every flow
//! is driven the same way: show its entry screen, post the forms its screens ask for, by the
//! names of their fields and buttons. (Each flow also has typed convenience methods, e.g.
//! `Portal::reset_start`.)
//!
//! ```
//! use kaigo_seikyu::account::Account;
//! use kaigo_seikyu::calendar::utc;
//! use kaigo_seikyu::memory::Embedded;
//! use kaigo_seikyu::policy::Policy;
//! use kaigo_seikyu::portal::Route;
//! use kaigo_seikyu::screen::{Form, button};
//! use kaigo_seikyu::secret::CodeKey;
//! use kaigo_seikyu::store::FlowKind;
//! use kaigo_seikyu::values::{EmailAddress, UserId};
//!
//! let host = Embedded::new(utc("2026-02-15T09:00:00+09:00"));
//! let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
//! let mut rng = rand::rng();
//!
//! // An office with a registered security email (provisioned by the operator).
//! let user: UserId = "KJ131311111111".parse()?;
//! let address: EmailAddress = "mailforsecurity-001@jp".parse()?;
//! let mut account = Account::new(user, portal.hash_secret(b"Forgotten1", &mut rng));
//! account.security_emails.add(address.clone(), portal.now())?;
//! portal.create_account(account)?;
//!
//! // 【ログイン情報再設定認証】 names its fields; the form fills them. The OTP goes out (T2).
//! let entry = portal.open(FlowKind::Reset, None)?;
//! assert_eq!(entry.title, "ログイン情報再設定認証");
//! let form = Form::new(button::NEXT)
//!     .with("office", "1311111111")
//!     .with("address", "mailforsecurity-001@jp");
//! let route = portal.start(FlowKind::Reset, None, &form, &mut rng)?;
//! let Route::Flow { flow, screen } = route else { unreachable!("the reset goes on") };
//! assert_eq!(screen.title, "ワンタイムパスワード入力");
//!
//! // The office reads the mail, like a user opening their inbox.
//! let mail = host.outbox.last_to(&address).expect("the OTP mail");
//! let otp = mail.code().expect("the OTP");
//!
//! // 【ワンタイムパスワード入力】 → 【ログイン情報再設定】 → 【処理終了】.
//! let form = Form::new(button::NEXT).with("otp", otp);
//! let screen = portal.submit(None, &flow, &form, &mut rng)?.screen().cloned().unwrap();
//! assert!(screen.shows("KJ131311111111")); // the user ID it may have lost (RS-05)
//! let form = Form::new(button::CHANGE)
//!     .with("new_password", "Sakura2026!")
//!     .with("confirm_password", "Sakura2026!");
//! let done = portal.submit(None, &flow, &form, &mut rng)?;
//! assert_eq!(done.screen().unwrap().title, "処理終了");
//!
//! // The account has the new password; a notice and an event went out; sessions were revoked.
//! assert!(host.notices.all().iter().any(|(_, n)| n.title == "ログイン情報再設定通知"));
//! assert_eq!(host.sessions.revoked(), [user]);
//! // The new password logs in (this bare account is then asked to accept the terms, FL-08).
//! portal.login("KJ131311111111", "Sakura2026!", &mut rng)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Flows, modules and examples
//!
//! | flow | rules | module | example |
//! | --- | --- | --- | --- |
//! | login gate | LOGIN | [`login`] | `first_login`, `grace_period` |
//! | first login of a new office | FL | [`first_login`] | `first_login` |
//! | grace period of an existing office | GR | [`grace`] | `grace_period` |
//! | security-email list | SE | [`security_emails`] | `security_emails` |
//! | lost credentials, login-info reset | LOST, RS | [`lost`], [`reset`] | `reset_login_info` |
//! | login-info reissue and review | RI | [`reissue`] | `reissue_application` |
//! | certificate fee | FEE | [`certificate`] | `certificate_fee` |
//! | all of the above, one day | | | `walkthrough` |
//!
//! Run an example with `cargo run --example NAME`. The library never stores anything itself:
//! every flow lives in the host's [`store::Store`], server-side; a flow id handed to a browser is
//! a bearer handle to keep in the host's session. See `docs/architecture.md` and `docs/security.md`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// `TryFrom<String>` through `FromStr` (failing with `$err`) and `From<T> for String` through
/// `Display`, for the types serde reads and writes as their text
/// (`#[serde(try_from = "String", into = "String")]`), so a stored value is parsed, never
/// trusted: the value types and the store's hex ids.
macro_rules! text_serde {
    ($err:ty: $($t:ty),+) => {$(
        impl TryFrom<String> for $t {
            type Error = $err;
            fn try_from(s: String) -> Result<Self, $err> {
                s.parse()
            }
        }

        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.to_string()
            }
        }
    )+};
}

// The layers (docs/architecture.md; tests/layers.rs keeps them acyclic). First the vocabulary
// and the ports a host implements: no flow logic.
pub mod account;
pub mod calendar;
pub mod effect;
pub mod error;
pub mod mail;
pub mod policy;
pub mod ports;
mod random;
pub mod screen;
pub mod secret;
pub mod store;
pub mod validate;
pub mod values;

// The flows: the one flow shape, its shared pieces, then one module per flow. Pure: no I/O.
pub mod certificate;
pub mod challenge;
pub mod first_login;
pub mod flow;
pub mod grace;
pub mod help;
pub mod login;
pub mod lost;
pub mod registration;
pub mod reissue;
pub mod reset;
pub mod security_emails;

// The driver over the ports.
pub mod portal;

// The in-memory host, and the kits for hosts' own tests.
pub mod memory;
#[cfg(feature = "proptest")]
pub mod strategies;
#[cfg(feature = "testkit")]
pub mod testkit;

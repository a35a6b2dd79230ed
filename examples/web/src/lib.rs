//! The reference web portal of `kaigo-seikyu` (WEB-01 … WEB-06): an axum host over the crate's
//! driver, its pages drawn from the crate's typed screens.
//!
//! - **One renderer** ([`render::screen`]) draws any [`Screen`]; **one handler** (`POST /`)
//!   posts any form to the driver ([`Portal::start`] on an entry screen, [`Portal::submit`] in a
//!   flow). Nothing here knows a particular flow beyond the menus (the office's menu bar and
//!   【パスワード等を紛失した方】) and the layout.
//! - **Sessions** are server-side ([`session`]): the browser holds a random cookie; the flow it
//!   is in, who is signed in and the CSRF token stay on the server (WEB-01, WEB-02).
//! - **Blocking work off the executor**: every request that reaches the driver (argon2 included)
//!   runs on tokio's blocking pool (`spawn_blocking`), never on the async executor.
//! - **The federation's side** (`/federation`): reviewers sign in separately and review only their
//!   prefecture's queue (WEB-05); an approval shows the RI-09 letter for printing.
//! - **The development mailbox** (`/mailbox`, on unless [`Config::dev_mailbox`] is off) shows
//!   the outbox, so a person trying the portal can read the codes.
//! - **Hosts** ([`host`]): the in-memory one, the reference SQLite host on a file, or the
//!   PostgreSQL host ([`Storage`], [`Web::open`]), or any [`Host`] ([`Web::with_host`]).
//!   Accounts, flows, applications and their review queue, mails, notices and audit events are
//!   the host's; browser sessions, reviewers and the code key stay in the portal's memory, so a
//!   restart signs everyone out and nothing else.
//!
//! # Example
//! ```
//! use kaigo_seikyu_web::{Config, Web};
//! let web = Web::embedded_demo(kaigo_seikyu::calendar::utc("2026-02-10T10:00:00+09:00"), Config::default());
//! let seeded = web.seed().unwrap();
//! assert!(seeded.iter().any(|line| line.contains("東京都")));
//! let _router = web.router();
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod host;
pub mod render;
pub mod session;

mod handlers;
mod postgres;
mod sqlite;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use kaigo_seikyu::account::TermsAcceptance;
use kaigo_seikyu::calendar::{Instant, jst, utc};
use kaigo_seikyu::error::{FlowError, PortalError};
use kaigo_seikyu::lost::{self, LostChoice};
use kaigo_seikyu::mail::Mail;
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::{FlowRef, Portal, ReviewCursor, Route};
use kaigo_seikyu::ports::{Clock, OfficeRecord, PortError, SystemClock};
use kaigo_seikyu::reissue::{Decision, Federation, ReviewOutcome};
use kaigo_seikyu::screen::{Choice, Field, Form, FormError, Screen, button};
use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, PasswordHash, SecretHasher};
use kaigo_seikyu::store::FlowKind;
use kaigo_seikyu::values::{Prefecture, UserId};

pub use host::{Host, OpenError, Storage};
use session::{Place, Reviewer, Session, SessionStore, Who};

/// How the portal runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Serve the development mailbox at `/mailbox` and link it from every page.
    pub dev_mailbox: bool,
    /// Mark the session cookie `Secure` (behind TLS).
    pub secure_cookies: bool,
    /// The largest request body accepted, in bytes (WEB-04); a larger one gets 413.
    pub max_body: usize,
    /// Print each audit event on standard error.
    pub log_events: bool,
    /// How many applications a page of the review queue lists (OPS-03), within
    /// `1..=`[`MAX_PAGE`](kaigo_seikyu::portal::MAX_PAGE); [`QUEUE_PAGE`] by default.
    pub queue_page: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dev_mailbox: true,
            secure_cookies: false,
            max_body: 16 * 1024,
            log_events: false,
            queue_page: QUEUE_PAGE,
        }
    }
}

/// A clock that starts at a chosen instant and runs in real time: the portal can be tried on the
/// days around the release whatever today's date is.
#[derive(Debug)]
pub struct RunningClock {
    start: Instant,
    since: std::time::Instant,
}

impl RunningClock {
    /// A clock reading `start` now, and running.
    pub fn starting_at(start: Instant) -> Self {
        RunningClock {
            start,
            since: std::time::Instant::now(),
        }
    }
}

impl Clock for RunningClock {
    fn now(&self) -> Instant {
        let elapsed = chrono::TimeDelta::from_std(self.since.elapsed()).unwrap_or_default();
        self.start + elapsed
    }
}

/// What a request produced, before it becomes an HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// A page.
    Page {
        status: u16,
        html: String,
        cookie: Option<String>,
    },
    /// 303 See Other to `to`.
    Redirect {
        to: &'static str,
        cookie: Option<String>,
    },
}

/// The portal: the driver, its host, the browser sessions and the reviewers.
#[derive(Clone)]
pub struct Web {
    inner: Arc<Inner>,
}

struct Inner {
    portal: Portal,
    host: Arc<dyn Host>,
    /// The in-memory host's parts, when the host is the in-memory one.
    embedded: Option<Embedded>,
    hasher: Arc<dyn SecretHasher>,
    sessions: Arc<SessionStore>,
    reviewers: RwLock<HashMap<String, (Prefecture, PasswordHash)>>,
    /// Verified against for an unknown reviewer name, so a wrong name costs what a wrong
    /// password costs.
    decoy: PasswordHash,
    config: Config,
}

/// The walkthrough's offices (one run): 事業所A (new office), B (existing, no security email),
/// C (existing, two billing prefectures, lost everything).
const OFFICE_A: &str = "1310000001";
const OFFICE_B: &str = "1320000001";
const OFFICE_C: &str = "1330000001";
/// 事業所A's temporary password, from its paper letter.
pub const SEED_TEMPORARY: &str = "Tmp2025-paper";
/// 事業所B's password.
pub const SEED_PASSWORD_B: &str = "Tsubaki2026#";
/// 事業所C's forgotten password.
pub const SEED_FORGOTTEN_C: &str = "Wasureta2024x";
/// The 東京都 reviewer's name and password.
pub const SEED_REVIEWER: (&str, &str) = ("tokyo", "Shinsa2026!tokyo");
/// The 大阪府 reviewer's name and password.
pub const SEED_REVIEWER_OSAKA: (&str, &str) = ("osaka", "Shinsa2026!osaka");

/// How many applications a page of the review queue lists by default (OPS-03: keyset
/// pagination).
pub const QUEUE_PAGE: usize = 20;
/// The review queue's link to its next page.
const QUEUE_NEXT: &str = "next_page";
/// The review queue's link back to its first page.
const QUEUE_FIRST: &str = "first_page";

impl Web {
    /// A portal over the in-memory host `host`, with the host's ports but for the clock
    /// (`clock`) and the sessions (this portal's browser sessions, which RS-08 and RI-09
    /// revoke). [`Web::embedded`] gives the host back, for tests.
    pub fn new(
        host: Embedded,
        clock: Arc<dyn Clock>,
        policy: Policy,
        hasher: Arc<dyn SecretHasher>,
        config: Config,
    ) -> Web {
        Web::build(
            Arc::new(host.clone()),
            Some(host),
            clock,
            policy,
            hasher,
            config,
        )
    }

    /// A portal over any [`Host`], with the host's ports but for the clock (`clock`) and the
    /// sessions (this portal's browser sessions, which RS-08 and RI-09 revoke).
    pub fn with_host(
        host: Arc<dyn Host>,
        clock: Arc<dyn Clock>,
        policy: Policy,
        hasher: Arc<dyn SecretHasher>,
        config: Config,
    ) -> Web {
        Web::build(host, None, clock, policy, hasher, config)
    }

    fn build(
        host: Arc<dyn Host>,
        embedded: Option<Embedded>,
        clock: Arc<dyn Clock>,
        policy: Policy,
        hasher: Arc<dyn SecretHasher>,
        config: Config,
    ) -> Web {
        let sessions = Arc::new(SessionStore::default());
        let mut ports = host.ports();
        ports.clock = clock;
        ports.sessions = sessions.clone();
        if config.log_events {
            ports.audit = Arc::new(host::PrintingAudit { inner: ports.audit });
        }
        let portal = Portal::with_hasher(ports, policy, hasher.clone());
        let decoy = portal.hash_secret(b"no reviewer has this password", &mut rand::rng());
        Web {
            inner: Arc::new(Inner {
                portal,
                host,
                embedded,
                hasher,
                sessions,
                reviewers: RwLock::default(),
                decoy,
                config,
            }),
        }
    }

    /// The portal on `storage` as `cargo run -p kaigo-seikyu-web` runs it: the December 2025
    /// policy (argon2id as in production), a fresh code key, and a clock starting at `start` and
    /// running (`None`: the system clock). Opening a SQLite file checks it (this host's, whole,
    /// not newer, writable) and migrates it; connecting to PostgreSQL migrates the schema (and
    /// refuses a newer one); then the outbox a previous process left undelivered is delivered
    /// (OPS-01).
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu_web::{Config, Storage, Web};
    /// let dir = tempfile::tempdir().unwrap();
    /// let storage = Storage::Sqlite(dir.path().join("portal.db"));
    /// let start = Some(kaigo_seikyu::calendar::utc("2026-02-10T10:00:00+09:00"));
    /// let web = Web::open(&storage, start, Config::default()).unwrap();
    /// web.seed().unwrap();
    /// drop(web);
    /// // The same file again: the seed is there and is kept.
    /// let web = Web::open(&storage, start, Config::default()).unwrap();
    /// assert!(web.seed().unwrap().iter().any(|line| line.contains("already")));
    /// ```
    pub fn open(
        storage: &Storage,
        start: Option<Instant>,
        config: Config,
    ) -> Result<Web, OpenError> {
        let clock: Arc<dyn Clock> = match start {
            Some(start) => Arc::new(RunningClock::starting_at(start)),
            None => Arc::new(SystemClock),
        };
        let (host, embedded): (Arc<dyn Host>, _) = match storage {
            Storage::Memory => {
                let host = Embedded::new(clock.now());
                (Arc::new(host.clone()), Some(host))
            }
            _ => (storage.open(clock.clone())?, None),
        };
        let policy = Policy::default();
        let key = CodeKey::generate(&mut rand::rng());
        let hasher = Arc::new(Argon2Hasher::new(policy.hashing, key));
        let web = Web::build(host, embedded, clock, policy, hasher, config);
        web.inner.portal.deliver().map_err(|e| {
            OpenError(format!(
                "{}: delivering the outbox: {e}",
                web.describe_store()
            ))
        })?;
        Ok(web)
    }

    /// The embedded default: in-memory ports, the December 2025 policy (argon2id as in
    /// production), a fresh code key, and a clock starting at `start` and running.
    pub fn embedded_demo(start: Instant, config: Config) -> Web {
        let host = Embedded::new(start);
        let policy = Policy::default();
        let key = CodeKey::generate(&mut rand::rng());
        let hasher = Arc::new(Argon2Hasher::new(policy.hashing, key));
        Web::new(
            host,
            Arc::new(RunningClock::starting_at(start)),
            policy,
            hasher,
            config,
        )
    }

    /// The routes.
    pub fn router(&self) -> axum::Router {
        handlers::router(self.clone())
    }

    /// The driver.
    pub fn portal(&self) -> &Portal {
        &self.inner.portal
    }

    /// The in-memory host (outbox, notices, ledger, store), when the portal runs on it.
    pub fn embedded(&self) -> Option<&Embedded> {
        self.inner.embedded.as_ref()
    }

    /// Where the data is, for the operator (never a password): `memory (lost at exit)`,
    /// `SQLite file PATH`, `PostgreSQL at host:port/dbname, schema NAME`.
    pub fn describe_store(&self) -> String {
        self.inner.host.describe()
    }

    /// Every mail the host's mailer took, oldest first (what the development mailbox shows).
    pub fn mails(&self) -> Result<Vec<Mail>, PortError> {
        self.inner.host.mails()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// How many browser sessions are kept.
    pub fn session_count(&self) -> usize {
        self.inner.sessions.len()
    }

    /// Adds a federation's reviewer (WEB-05): `name` signs in at `/federation` with `password`
    /// and reviews `prefecture`'s applications only.
    pub fn add_reviewer(&self, name: &str, password: &str, prefecture: Prefecture) {
        let hash = self
            .inner
            .portal
            .hash_secret(password.as_bytes(), &mut rand::rng());
        self.inner
            .reviewers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), (prefecture, hash));
    }

    /// Seeds the walkthrough's three offices (ledger and accounts, through the driver's audited
    /// operator actions) and the reviewers of 東京都 and 大阪府. Returns the login details, one
    /// line each, to print.
    ///
    /// Seeding a host that already holds an office's account (a SQLite file or a PostgreSQL
    /// schema seeded before) keeps that account as it is, with whatever password and addresses it has now, and says
    /// so in its line; the ledger entries are written again (the same records) and the
    /// reviewers, who live in memory, are added again.
    pub fn seed(&self) -> Result<Vec<String>, PortalError> {
        let portal = &self.inner.portal;
        let offices = [
            (OFFICE_A, "請求事業所A", vec![Prefecture::TOKYO]),
            (OFFICE_B, "請求事業所B", vec![Prefecture::TOKYO]),
            (
                OFFICE_C,
                "請求事業所C",
                vec![Prefecture::TOKYO, Prefecture::OSAKA],
            ),
        ];
        for (number, name, billing) in offices {
            let number = number.parse().map_err(FlowError::from)?;
            self.inner
                .host
                .add_office(&OfficeRecord {
                    number,
                    name: name.into(),
                    postal_address: "東京都千代田区霞が関1-2-2".into(),
                    phone: "03-0000-0000".into(),
                    billing,
                })
                .map_err(|e| PortalError::Port(e.0))?;
        }
        let terms = TermsAcceptance {
            version: 1,
            at: utc("2020-04-01T09:00:00+09:00"),
        };
        // Provisions `user` unless its account exists (an earlier run on the same file, or
        // another process seeding it meanwhile): whether it was new.
        let provision = |user: &str,
                         make: &dyn Fn() -> Result<UserId, PortalError>|
         -> Result<(UserId, bool), PortalError> {
            let id: UserId = user.parse().map_err(FlowError::from)?;
            if portal.account(&id)?.is_some() {
                return Ok((id, false));
            }
            match make() {
                Ok(id) => Ok((id, true)),
                Err(PortalError::Flow(FlowError::AccountExists)) => Ok((id, false)),
                Err(e) => Err(e),
            }
        };
        let user_a = format!("KJ13{OFFICE_A}");
        let (a, new_a) = provision(&user_a, &|| {
            portal.provision_new_office(&user_a, SEED_TEMPORARY, &mut rand::rng())
        })?;
        let existing = |office: &str, prefecture: &str, password: &str| {
            let user = format!("KJ{prefecture}{office}");
            provision(&user, &|| {
                portal.provision_existing_office(&user, password, terms, &mut rand::rng())
            })
        };
        let (b, new_b) = existing(OFFICE_B, "13", SEED_PASSWORD_B)?;
        let (c, new_c) = existing(OFFICE_C, "13", SEED_FORGOTTEN_C)?;
        let (c_osaka, new_c_osaka) = existing(OFFICE_C, "27", SEED_FORGOTTEN_C)?;
        // A store seeded before offices had an accounts record (OPS-04) gets them now; on any
        // other, nothing is written.
        for office in [OFFICE_A, OFFICE_B, OFFICE_C] {
            portal.index_office(office.parse().map_err(FlowError::from)?)?;
        }
        self.add_reviewer(SEED_REVIEWER.0, SEED_REVIEWER.1, Prefecture::TOKYO);
        self.add_reviewer(
            SEED_REVIEWER_OSAKA.0,
            SEED_REVIEWER_OSAKA.1,
            Prefecture::OSAKA,
        );
        let kept = |password: &str| {
            format!(
                "already seeded: kept as it is now (seeded with password {password}, unless changed since)"
            )
        };
        Ok(vec![
            if new_a {
                format!(
                    "事業所A {OFFICE_A} (new office, first login): user ID {a}, temporary password {SEED_TEMPORARY}"
                )
            } else {
                format!("事業所A {OFFICE_A}: user ID {a}, {}", kept(SEED_TEMPORARY))
            },
            if new_b {
                format!(
                    "事業所B {OFFICE_B} (existing office, no security email): user ID {b}, password {SEED_PASSWORD_B}"
                )
            } else {
                format!("事業所B {OFFICE_B}: user ID {b}, {}", kept(SEED_PASSWORD_B))
            },
            if new_c && new_c_osaka {
                format!(
                    "事業所C {OFFICE_C} (existing office in 東京都 and 大阪府, lost its login info): user IDs {c} and {c_osaka}; apply for a reissue"
                )
            } else {
                format!(
                    "事業所C {OFFICE_C}: user IDs {c} and {c_osaka}, {}",
                    kept(SEED_FORGOTTEN_C)
                )
            },
            format!(
                "reviewer of 東京都国民健康保険連合会 at /federation: {} / {}",
                SEED_REVIEWER.0, SEED_REVIEWER.1
            ),
            format!(
                "reviewer of 大阪府国民健康保険連合会 at /federation: {} / {}",
                SEED_REVIEWER_OSAKA.0, SEED_REVIEWER_OSAKA.1
            ),
        ])
    }

    /// The screen `GET /` draws for the session of this cookie value, if it has one (for tests
    /// that compare a page with its screen, UI-01 and WEB-06).
    pub fn screen_of_session(&self, cookie: &str) -> Option<Screen> {
        let session = self.inner.sessions.get(cookie)?;
        self.screen_at(&session).ok().map(|(screen, _)| screen)
    }

    /// The flow the session of this cookie value is in, if any (for the WEB-01 tests: the id
    /// lives here and nowhere in a page).
    pub fn flow_of_session(&self, cookie: &str) -> Option<FlowRef> {
        match self.inner.sessions.get(cookie)?.place {
            Place::Flow(flow) => Some(flow),
            _ => None,
        }
    }

    // ---------------------------------------------------------------------------------------
    // The office's side: GET / and POST /.

    fn home(who: &Who) -> Place {
        match who {
            Who::Office(_) => Place::Menu,
            Who::Anonymous | Who::Reviewer(_) => Place::Entry(FlowKind::Login),
        }
    }

    /// The session of `cookie`, or a new anonymous one (its cookie value to set).
    fn session_or_new(&self, cookie: Option<&str>) -> (String, Session, Option<String>) {
        if let Some(id) = cookie
            && let Some(session) = self.inner.sessions.get(id)
        {
            return (id.to_owned(), session, None);
        }
        let (id, session) = self
            .inner
            .sessions
            .create(Who::Anonymous, Place::Entry(FlowKind::Login));
        (id.clone(), session, Some(id))
    }

    fn now_shown(&self) -> String {
        self.inner
            .portal
            .now()
            .with_timezone(&jst())
            .format("%Y/%m/%d %H:%M")
            .to_string()
    }

    fn layout<'a>(
        &self,
        title: &'a str,
        time: &'a str,
        session: &'a Session,
        user: &'a str,
        fed: &'a str,
    ) -> render::Layout<'a> {
        let bar = match &session.who {
            Who::Anonymous => render::Bar::None,
            Who::Office(_) => render::Bar::Office { user },
            Who::Reviewer(r) => render::Bar::Reviewer {
                name: &r.name,
                federation: fed,
            },
        };
        render::Layout {
            title,
            time,
            bar,
            csrf: &session.csrf,
            mailbox: self.inner.config.dev_mailbox,
        }
    }

    /// The whole page of `screen` for `session`.
    fn page(
        &self,
        session: &Session,
        screen: &Screen,
        action: &str,
        error: Option<&str>,
    ) -> String {
        let time = self.now_shown();
        let user = session.office().map(|u| u.to_string()).unwrap_or_default();
        let fed = match &session.who {
            Who::Reviewer(r) => Federation::of(r.prefecture).name(),
            _ => String::new(),
        };
        let body = render::screen(screen, action, &session.csrf, error);
        self.layout(&screen.title, &time, session, &user, &fed)
            .page(&body)
    }

    /// The お知らせ page, the top of the menu after login.
    fn notices_screen(&self, user: &UserId) -> Result<Screen, PortalError> {
        let notices = self
            .inner
            .host
            .notices(&user.office())
            .map_err(|e| PortalError::Port(e.0))?;
        let mut screen = Screen::new("お知らせ").text(
            "menu.lead",
            "メニューから操作を選択してください。事業所へのお知らせは以下のとおりです。",
        );
        if notices.is_empty() {
            screen = screen.text("menu.no_notice", "お知らせはありません。");
        }
        for notice in notices.iter().rev() {
            screen = screen.text("menu.notice.title", notice.title.clone());
            for line in notice.body.lines().filter(|l| !l.is_empty()) {
                screen = screen.text("menu.notice.line", line.to_owned());
            }
        }
        Ok(screen)
    }

    /// The screen at the session's place; the place itself, reset home if its flow is gone.
    fn screen_at(&self, session: &Session) -> Result<(Screen, Place), PortalError> {
        let user = session.office();
        let portal = &self.inner.portal;
        let screen = match &session.place {
            Place::Entry(kind) => portal.open(*kind, user.as_ref())?,
            Place::Flow(flow) => portal.current(user.as_ref(), flow)?,
            Place::Lost => lost::menu_screen(),
            Place::Menu => match user {
                Some(user) => self.notices_screen(&user)?,
                None => portal.open(FlowKind::Login, None)?,
            },
            Place::Shown(screen) => (**screen).clone(),
        };
        Ok((screen, session.place.clone()))
    }

    pub(crate) fn get_page(&self, cookie: Option<&str>) -> Reply {
        let (id, mut session, set) = self.session_or_new(cookie);
        if matches!(session.who, Who::Reviewer(_)) {
            return Reply::Redirect {
                to: "/federation",
                cookie: set,
            };
        }
        let flash = session.flash.take();
        let (screen, error) = match self.screen_at(&session) {
            Ok((screen, _)) => (screen, flash),
            Err(e) => {
                // The flow is gone (finished, expired, revoked): start again from home.
                log_error(&e);
                session.place = Web::home(&session.who);
                match self.screen_at(&session) {
                    Ok((screen, _)) => (screen, Some(e.message())),
                    Err(e) => return self.error_page(&session, 500, &e.message(), set),
                }
            }
        };
        let place = session.place.clone();
        self.inner.sessions.update(&id, |s| {
            s.flash = None;
            s.place = place;
        });
        Reply::Page {
            status: 200,
            html: self.page(&session, &screen, "/", error.as_deref()),
            cookie: set,
        }
    }

    fn error_page(
        &self,
        session: &Session,
        status: u16,
        message: &str,
        cookie: Option<String>,
    ) -> Reply {
        let screen = Screen::new("エラー")
            .text("error.message", message.to_owned())
            .text(
                "error.again",
                "お手数ですが、トップページからやり直してください。",
            );
        let time = self.now_shown();
        let body = format!(
            "<h1 class=\"title\">エラー</h1><p class=\"error\" role=\"alert\">{}</p><p class=\"text\">{}</p><p><a href=\"/\">トップページへ</a></p>",
            render::escape(message),
            render::escape("お手数ですが、トップページからやり直してください。")
        );
        let layout = render::Layout {
            title: &screen.title,
            time: &time,
            bar: render::Bar::None,
            csrf: &session.csrf,
            mailbox: self.inner.config.dev_mailbox,
        };
        Reply::Page {
            status,
            html: layout.page(&body),
            cookie,
        }
    }

    /// An error page for a request that has no session to speak of.
    pub(crate) fn bare_error(&self, status: u16, message: &str) -> String {
        let time = self.now_shown();
        let body = format!(
            "<h1 class=\"title\">エラー</h1><p class=\"error\" role=\"alert\">{}</p><p><a href=\"/\">トップページへ</a></p>",
            render::escape(message)
        );
        let _ = status;
        render::Layout {
            title: "エラー",
            time: &time,
            bar: render::Bar::None,
            csrf: "",
            mailbox: self.inner.config.dev_mailbox,
        }
        .page(&body)
    }

    /// The session of a POST: it must exist and the form must carry its CSRF token (WEB-02).
    /// Returns the session, its cookie value, and the form (button and fields, without the
    /// token), or the refusal to send.
    fn posted(&self, cookie: Option<&str>, body: &[u8]) -> Result<(String, Session, Form), Reply> {
        let refused = |message: &str| Reply::Page {
            status: 403,
            html: self.bare_error(403, message),
            cookie: None,
        };
        let Some((id, session)) =
            cookie.and_then(|id| Some((id.to_owned(), self.inner.sessions.get(id)?)))
        else {
            return Err(refused(
                "セッションの有効期限が切れました。トップページからやり直してください。",
            ));
        };
        let mut token: Option<String> = None;
        let mut pressed: Option<String> = None;
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut repeated = false;
        for (name, value) in form_urlencoded::parse(body) {
            match name.as_ref() {
                render::CSRF_FIELD => repeated |= token.replace(value.into_owned()).is_some(),
                render::BUTTON_FIELD => repeated |= pressed.replace(value.into_owned()).is_some(),
                _ => fields.push((name.into_owned(), value.into_owned())),
            }
        }
        let good = !repeated
            && token.as_deref().is_some_and(|t| {
                subtle::ConstantTimeEq::ct_eq(t.as_bytes(), session.csrf.as_bytes()).into()
            });
        if !good {
            return Err(refused(
                "不正な操作です。画面を開き直してから、もう一度操作してください。",
            ));
        }
        let mut form = Form::new(pressed.unwrap_or_default());
        for (name, value) in fields {
            form = form.with(name, value);
        }
        Ok((id, session, form))
    }

    pub(crate) fn post_page(&self, cookie: Option<&str>, body: &[u8]) -> Reply {
        let (id, session, form) = match self.posted(cookie, body) {
            Ok(posted) => posted,
            Err(reply) => return reply,
        };
        if matches!(session.who, Who::Reviewer(_)) {
            return Reply::Redirect {
                to: "/federation",
                cookie: None,
            };
        }
        let user = session.office();
        let portal = &self.inner.portal;
        let mut rng = rand::rng();
        let outcome: Result<Option<Route>, PortalError> = match &session.place {
            Place::Entry(kind) => portal
                .start(*kind, user.as_ref(), &form, &mut rng)
                .map(Some),
            Place::Flow(flow) => portal
                .submit(user.as_ref(), flow, &form, &mut rng)
                .map(Some),
            Place::Lost => match lost_menu(&form) {
                Ok(place) => {
                    self.inner.sessions.update(&id, |s| s.place = place);
                    Ok(None)
                }
                Err(e) => Err(e),
            },
            Place::Menu => {
                Err(FlowError::from(FormError::NoSuchButton(form.button.clone())).into())
            }
            Place::Shown(screen) => match screen.accept(&form) {
                Ok(()) => {
                    self.inner
                        .sessions
                        .update(&id, |s| s.place = Web::home(&s.who));
                    Ok(None)
                }
                Err(e) => Err(FlowError::from(e).into()),
            },
        };
        let mut cookie = None;
        match outcome {
            Ok(None) => {}
            Ok(Some(Route::Flow { flow, .. })) => {
                self.inner
                    .sessions
                    .update(&id, |s| s.place = Place::Flow(flow));
            }
            Ok(Some(Route::Screen(screen))) => {
                let place = self.place_of(screen, user.as_ref());
                self.inner.sessions.update(&id, |s| s.place = place);
            }
            Ok(Some(Route::Menu { user })) => {
                // Signed in: a new cookie value and CSRF token (no session fixation).
                cookie = self.inner.sessions.rotate(&id, |s| {
                    s.who = Who::Office(user);
                    s.place = Place::Menu;
                });
            }
            Err(e) => {
                log_error(&e);
                let message = e.message();
                let gone = matches!(e, PortalError::NoSuchFlow);
                self.inner.sessions.update(&id, |s| {
                    s.flash = Some(message);
                    if gone {
                        s.place = Web::home(&s.who);
                    }
                });
            }
        }
        Reply::Redirect { to: "/", cookie }
    }

    /// Where a screen outside any flow puts the browser: the lost-credentials menu, the entry
    /// screen of a flow (the one whose entry has this title), or a shown screen.
    fn place_of(&self, screen: Screen, user: Option<&UserId>) -> Place {
        if screen.title == lost::menu_screen().title {
            return Place::Lost;
        }
        let kinds: &[FlowKind] = match user {
            None => &[FlowKind::Login, FlowKind::Reset, FlowKind::Reissue],
            Some(_) => &[FlowKind::SecurityEmails, FlowKind::Certificate],
        };
        for kind in kinds {
            if let Ok(entry) = self.inner.portal.open(*kind, user)
                && entry.title == screen.title
            {
                return Place::Entry(*kind);
            }
        }
        Place::Shown(Box::new(screen))
    }

    /// `POST /menu`: the office's menu bar.
    pub(crate) fn post_menu(&self, cookie: Option<&str>, body: &[u8]) -> Reply {
        let (id, session, form) = match self.posted(cookie, body) {
            Ok(posted) => posted,
            Err(reply) => return reply,
        };
        if session.office().is_none() {
            return Reply::Redirect {
                to: "/",
                cookie: None,
            };
        }
        let place = match form.button.as_str() {
            "notices" => Place::Menu,
            "user_info" => Place::Entry(FlowKind::SecurityEmails),
            "certificate" => Place::Entry(FlowKind::Certificate),
            "logout" => {
                self.inner.sessions.remove(&id);
                return Reply::Redirect {
                    to: "/",
                    cookie: None,
                };
            }
            _ => {
                self.inner.sessions.update(&id, |s| {
                    s.flash = Some(FormError::NoSuchButton(form.button.clone()).message())
                });
                return Reply::Redirect {
                    to: "/",
                    cookie: None,
                };
            }
        };
        self.inner.sessions.update(&id, |s| s.place = place);
        Reply::Redirect {
            to: "/",
            cookie: None,
        }
    }

    // ---------------------------------------------------------------------------------------
    // The federation's side: GET /federation and POST /federation (WEB-05).

    fn reviewer_login_screen() -> Screen {
        Screen::new("国保連合会 審査者ログイン")
            .text(
                "fed.login.lead",
                "国保連合会の審査者IDとパスワードを入力して、【ログイン】ボタンを押してください。",
            )
            .text(
                "fed.login.separate",
                "※ 事業所のユーザIDではログインできません。",
            )
            .field(Field::text("reviewer", "審査者ID").required().max_len(64))
            .field(
                Field::password("password", "パスワード")
                    .required()
                    .max_len(64),
            )
            .button(button::LOGIN, "ログイン")
    }

    /// The page of the federation's review queue (OPS-03, WEB-05) that starts after `from`
    /// (`None`: the oldest), read from the store by [`Portal::review_queue`]: a restart or
    /// another portal on the same store lists the same applications.
    fn queue_screen(
        &self,
        reviewer: &Reviewer,
        from: Option<&ReviewCursor>,
    ) -> Result<(Screen, Option<ReviewCursor>), PortalError> {
        let federation = Federation::of(reviewer.prefecture);
        let size = self
            .inner
            .config
            .queue_page
            .clamp(1, kaigo_seikyu::portal::MAX_PAGE);
        let page = self.inner.portal.review_queue(federation, from, size)?;
        let mut choices = Vec::new();
        for entry in &page.entries {
            let received = entry
                .received_at
                .with_timezone(&jst())
                .format("%Y/%m/%d %H:%M")
                .to_string();
            choices.push(
                Choice::new(
                    entry.number.to_string(),
                    format!("{} {} {}", entry.number, entry.office, entry.office_name),
                )
                .notes([
                    format!("受付日時：{received}"),
                    format!("通知先メールアドレス：{}", entry.notify),
                    format!("請求先都道府県：{}", entry.billing.name()),
                ]),
            );
        }
        let mut screen = Screen::new("ログイン情報再発行申請 審査").text(
            "fed.queue.lead",
            format!("{}の審査待ちの申請です（受付順）。", federation.name()),
        );
        if choices.is_empty() {
            screen = screen.text("fed.queue.empty", "審査待ちの申請はありません。");
        } else {
            screen = screen
                .text(
                    "fed.queue.choose",
                    "申請を選択し、【承認】または【却下】ボタンを押してください。承認すると、郵送する「ログイン情報再発行通知書」が表示されます。",
                )
                .field(Field::radio("number", "審査待ちの申請", choices).required())
                .field(Field::checkbox(
                    "clear_security_emails",
                    "セキュリティ用メールアドレスも削除する（書面で本人確認済みの場合）",
                    false,
                ))
                .button("approve", "承認")
                .button("reject", "却下");
        }
        if page.next.is_some() {
            screen = screen.link(QUEUE_NEXT, format!("次の{size}件を表示"));
        }
        if from.is_some() {
            screen = screen.link(QUEUE_FIRST, "最初の申請から表示");
        }
        Ok((screen, page.next))
    }

    fn letter_screen(letter: &str) -> Screen {
        let mut screen = Screen::new("ログイン情報再発行通知書").text(
            "letter.lead",
            "この通知書を印刷し、事業所台帳に登録された住所へ郵送してください。メールでは送信されません。仮パスワードはこの画面にしか表示されません。",
        );
        for line in letter.lines() {
            screen = screen.text("letter.line", line.to_owned());
        }
        screen.button(button::BACK, "印刷を終えて審査一覧へ戻る")
    }

    pub(crate) fn get_federation(&self, cookie: Option<&str>) -> Reply {
        let (_, mut session, set) = self.session_or_new(cookie);
        let flash = session.flash.take();
        if let Some(id) = cookie {
            self.inner.sessions.update(id, |s| s.flash = None);
        }
        let screen = match &session.who {
            Who::Reviewer(r) => match &session.letter {
                Some(letter) => Web::letter_screen(letter),
                None => match self.queue_screen(r, session.queue_from.as_ref()) {
                    Ok((screen, _)) => screen,
                    Err(e) => {
                        // The next visit starts again from the oldest application.
                        log_error(&e);
                        if let Some(id) = cookie {
                            self.inner.sessions.update(id, |s| s.queue_from = None);
                        }
                        return self.error_page(&session, status_of(&e), &e.message(), set);
                    }
                },
            },
            _ => Web::reviewer_login_screen(),
        };
        // A reviewer page never shows an office's menu bar.
        if matches!(session.who, Who::Office(_)) {
            session.who = Who::Anonymous;
        }
        Reply::Page {
            status: 200,
            html: self.page(&session, &screen, "/federation", flash.as_deref()),
            cookie: set,
        }
    }

    pub(crate) fn post_federation(&self, cookie: Option<&str>, body: &[u8]) -> Reply {
        let (id, session, form) = match self.posted(cookie, body) {
            Ok(posted) => posted,
            Err(reply) => return reply,
        };
        let flash = |message: String| {
            self.inner.sessions.update(&id, |s| s.flash = Some(message));
            Reply::Redirect {
                to: "/federation",
                cookie: None,
            }
        };
        let Who::Reviewer(reviewer) = &session.who else {
            // Sign-in: separate from the offices' (WEB-05).
            if let Err(e) = Web::reviewer_login_screen().accept(&form) {
                return flash(e.message());
            }
            let name = form.text("reviewer");
            let known = self
                .inner
                .reviewers
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(name)
                .cloned();
            let hash = known.as_ref().map_or(&self.inner.decoy, |(_, h)| h);
            let verified = self
                .inner
                .hasher
                .verify(form.text("password").as_bytes(), hash);
            return match known {
                Some((prefecture, _)) if verified => {
                    let reviewer = Reviewer {
                        name: name.to_owned(),
                        prefecture,
                    };
                    let cookie = self.inner.sessions.rotate(&id, |s| {
                        s.who = Who::Reviewer(reviewer);
                        s.place = Place::Entry(FlowKind::Login);
                        s.letter = None;
                        s.queue_from = None;
                    });
                    Reply::Redirect {
                        to: "/federation",
                        cookie,
                    }
                }
                _ => flash("審査者IDまたはパスワードが正しくありません。".into()),
            };
        };
        if form.button == button::LOGOUT {
            self.inner.sessions.remove(&id);
            return Reply::Redirect {
                to: "/federation",
                cookie: None,
            };
        }
        if let Some(letter) = &session.letter {
            return match Web::letter_screen(letter).accept(&form) {
                Ok(()) => {
                    self.inner.sessions.update(&id, |s| s.letter = None);
                    Reply::Redirect {
                        to: "/federation",
                        cookie: None,
                    }
                }
                Err(e) => flash(e.message()),
            };
        }
        // The queue shows only this federation's applications: a number of another prefecture
        // is no option of the radio group, and the driver refuses another federation anyway.
        let (queue, next) = match self.queue_screen(reviewer, session.queue_from.as_ref()) {
            Ok(page) => page,
            Err(e) => {
                log_error(&e);
                self.inner.sessions.update(&id, |s| s.queue_from = None);
                return flash(e.message());
            }
        };
        if let Err(e) = queue.accept(&form) {
            return flash(e.message());
        }
        let paged = match form.button.as_str() {
            QUEUE_NEXT => Some(next),
            QUEUE_FIRST => Some(None),
            _ => None,
        };
        if let Some(from) = paged {
            self.inner.sessions.update(&id, |s| s.queue_from = from);
            return Reply::Redirect {
                to: "/federation",
                cookie: None,
            };
        }
        let decision = match form.button.as_str() {
            "approve" => Decision::Approve {
                clear_security_emails: form.checked("clear_security_emails"),
            },
            _ => Decision::Reject,
        };
        let federation = Federation::of(reviewer.prefecture);
        match self.inner.portal.reissue_review(
            federation,
            form.text("number"),
            decision,
            &mut rand::rng(),
        ) {
            Ok(ReviewOutcome::Approved(letter)) => {
                let text = letter.render();
                self.inner.sessions.update(&id, |s| s.letter = Some(text));
                Reply::Redirect {
                    to: "/federation",
                    cookie: None,
                }
            }
            Ok(ReviewOutcome::Rejected) => flash(format!(
                "申請 {} を却下しました。結果は事業所に通知されます。",
                form.text("number")
            )),
            Err(e) => {
                log_error(&e);
                flash(e.message())
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // The development mailbox.

    pub(crate) fn get_mailbox(&self) -> Option<String> {
        if !self.inner.config.dev_mailbox {
            return None;
        }
        let mut body = String::from(
            "<h1 class=\"title\">開発用メールボックス</h1>\
             <p class=\"text\">開発用の画面です。システムが送信したメールを新しい順に表示します（<code>--no-dev-mailbox</code> で無効になります）。</p>",
        );
        let mails = match self.inner.host.mails() {
            Ok(mails) => mails,
            Err(e) => {
                // The operator's business: the page says only that the mails could not be read.
                eprintln!("portal error: the mailbox: {e}");
                body.push_str(
                    "<p class=\"error\" role=\"alert\">メールを読み込めませんでした。しばらく時間をおいてから再度お試しください。</p>",
                );
                return Some(self.mailbox_page(&body));
            }
        };
        if mails.is_empty() {
            body.push_str("<p class=\"text\">メールはありません。</p>");
        }
        for (i, mail) in mails.iter().enumerate().rev() {
            use std::fmt::Write;
            let _ = write!(
                body,
                "<article class=\"mail\" data-index=\"{i}\" data-to=\"{}\"><h2>{}</h2><p>To: {}</p><pre>{}</pre></article>",
                render::escape(mail.to.as_ref()),
                render::escape(&mail.subject),
                render::escape(mail.to.as_ref()),
                render::escape(&mail.body)
            );
        }
        Some(self.mailbox_page(&body))
    }

    fn mailbox_page(&self, body: &str) -> String {
        let time = self.now_shown();
        render::Layout {
            title: "開発用メールボックス",
            time: &time,
            bar: render::Bar::None,
            csrf: "",
            mailbox: true,
        }
        .page(body)
    }
}

/// 【パスワード等を紛失した方】: `次へ` goes to the chosen flow's entry, `戻る` to 【ログイン】
/// (LOST-01). The menu is the host's; the choice and its routing are the library's.
fn lost_menu(form: &Form) -> Result<Place, PortalError> {
    lost::menu_screen().accept(form).map_err(FlowError::from)?;
    match form.button.as_str() {
        button::BACK => Ok(Place::Entry(FlowKind::Login)),
        _ => Ok(match form.text(lost::CHOICE).parse::<LostChoice>()? {
            LostChoice::Reset => Place::Entry(FlowKind::Reset),
            LostChoice::Reissue => Place::Entry(FlowKind::Reissue),
        }),
    }
}

/// The status of an error page: 503 when the host failed (try again later), 400 for a refusal.
fn status_of(e: &PortalError) -> u16 {
    match e {
        PortalError::Store(_) | PortalError::Port(_) => 503,
        _ => 400,
    }
}

/// A refusal is the user's business; a store or port failure is the operator's. Neither carries
/// a secret (the library's errors never do).
fn log_error(e: &PortalError) {
    if matches!(e, PortalError::Store(_) | PortalError::Port(_)) {
        eprintln!("portal error: {e}");
    }
}

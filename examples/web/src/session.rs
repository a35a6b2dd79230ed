//! Server-side sessions keyed by a random cookie (WEB-01, WEB-02).
//!
//! A browser holds one cookie, [`COOKIE`]: 128 random bits, nothing else. Everything else — who
//! is signed in, which flow the browser is in (its [`FlowRef`]), the CSRF token, a message to show
//! once — stays here, in the server's memory. A flow id never reaches the browser, so a browser
//! can only ever post to the flows of its own session.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kaigo_seikyu::portal::{FlowRef, ReviewCursor};
use kaigo_seikyu::ports::{PortError, Sessions};
use kaigo_seikyu::screen::Screen;
use kaigo_seikyu::store::FlowKind;
use kaigo_seikyu::values::{Prefecture, UserId};
use rand::Rng;

/// The name of the session cookie.
pub const COOKIE: &str = "kaigo_session";

/// A session unused this long is gone.
const IDLE: Duration = Duration::from_secs(30 * 60);

/// Past this many sessions, the expired ones are swept before a new one is made.
const SWEEP_ABOVE: usize = 10_000;

/// Where the browser is: what `GET /` draws and where `POST /` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The entry screen of a flow (its first form): a post begins the flow.
    Entry(FlowKind),
    /// Inside a flow: a post goes to the flow.
    Flow(FlowRef),
    /// 【パスワード等を紛失した方】, the lost-credentials menu (LOST-01): a menu, kept by the host.
    Lost,
    /// After login: the お知らせ page, the menu's top.
    Menu,
    /// A screen outside any flow that is no entry screen: shown, and any button leads home.
    Shown(Box<Screen>),
}

/// A federation's reviewer (WEB-05): signs in on its own page, with its own accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewer {
    /// The sign-in name.
    pub name: String,
    /// The prefecture whose federation it works for.
    pub prefecture: Prefecture,
}

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// Nobody yet: the login gate, the lost-credentials menu, the reset and the reissue
    /// application.
    Anonymous,
    /// An office, logged in through the gate.
    Office(UserId),
    /// A federation's reviewer (never an office: WEB-05).
    Reviewer(Reviewer),
}

/// One browser's session.
#[derive(Clone)]
pub struct Session {
    /// The CSRF token every form of this session carries (WEB-02).
    pub csrf: String,
    /// Who.
    pub who: Who,
    /// Where.
    pub place: Place,
    /// A message to show once on the next page (a refusal's Japanese message).
    pub flash: Option<String>,
    /// The RI-09 letter an approving reviewer is printing: kept until the reviewer leaves it.
    pub letter: Option<String>,
    /// Where the reviewer's page of the review queue starts (`None`: at the oldest).
    pub queue_from: Option<ReviewCursor>,
    touched: Instant,
}

impl Session {
    /// The office logged in, if any.
    pub fn office(&self) -> Option<UserId> {
        match &self.who {
            Who::Office(user) => Some(*user),
            _ => None,
        }
    }
}

/// 128 random bits as 32 lowercase hex digits, from the thread's CSPRNG.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sessions of every browser.
#[derive(Default)]
pub struct SessionStore {
    map: Mutex<HashMap<String, Session>>,
}

impl SessionStore {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new session for `who` at `place`; returns its cookie value.
    pub fn create(&self, who: Who, place: Place) -> (String, Session) {
        let id = random_token();
        let session = Session {
            csrf: random_token(),
            who,
            place,
            flash: None,
            letter: None,
            queue_from: None,
            touched: Instant::now(),
        };
        let mut map = self.lock();
        if map.len() > SWEEP_ABOVE {
            let now = Instant::now();
            map.retain(|_, s| now.duration_since(s.touched) < IDLE);
        }
        map.insert(id.clone(), session.clone());
        (id, session)
    }

    /// The live session of this cookie value, touched.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.lock();
        let now = Instant::now();
        match map.get_mut(id) {
            Some(s) if now.duration_since(s.touched) < IDLE => {
                s.touched = now;
                Some(s.clone())
            }
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    /// Changes the session `id` if it still exists (a revocation may have ended it meanwhile).
    pub fn update(&self, id: &str, f: impl FnOnce(&mut Session)) {
        if let Some(s) = self.lock().get_mut(id) {
            f(s);
        }
    }

    /// Ends the session `id`.
    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Moves the session `id` to a new cookie value and a new CSRF token (at every sign-in, so a
    /// cookie planted before it is worth nothing after), then changes it with `f`. Returns the
    /// new cookie value, or `None` if the session is gone.
    pub fn rotate(&self, id: &str, f: impl FnOnce(&mut Session)) -> Option<String> {
        let mut map = self.lock();
        let mut session = map.remove(id)?;
        session.csrf = random_token();
        session.touched = Instant::now();
        f(&mut session);
        let new = random_token();
        map.insert(new.clone(), session);
        Some(new)
    }

    /// How many sessions are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// RS-08, RI-09: the crate asks the host to end every session of a user ID.
impl Sessions for SessionStore {
    fn revoke_all(&self, user: &UserId) -> Result<(), PortError> {
        self.lock().retain(|_, s| s.who != Who::Office(*user));
        Ok(())
    }
}

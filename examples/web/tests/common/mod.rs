//! What the HTTP tests, the browser test and the WEB-03 benchmark share: a portal on a loopback
//! port, a raw HTTP/1.1 client that sees every byte of a response, and a check that a page holds
//! its screen's transcript in order.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::screen::{FieldKind, Screen};
use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, CountingHasher};
use kaigo_seikyu_web::{Config, SEED_PASSWORD_B, SEED_TEMPORARY, Web};

/// 事業所A's user ID.
pub const A: &str = "KJ131310000001";
/// 事業所B's user ID.
pub const B: &str = "KJ131320000001";
/// 事業所A's password after its first login.
pub const PASSWORD_A: &str = "Sakura2026!";
/// 事業所A's security email.
pub const REGISTERED: &str = "reg-a@jp";

/// The instant the tests' portal stands at: inside the fee-notice window, after the grace period.
pub const NOW: &str = "2026-02-10T10:00:00+09:00";

/// A hasher that counts the argon2 work it does (WEB-04: nothing is hashed for a refused form).
pub type Counting = CountingHasher<Argon2Hasher>;

/// The argon2 hashes and verifications `hasher` has counted.
pub fn work(hasher: &Counting) -> usize {
    let [hashes, verifies, _] = hasher.counts();
    hashes + verifies
}

/// A seeded portal on the in-memory host, its clock standing at [`NOW`] (it moves only when a
/// test moves it), with `policy`'s hashing, counted (from zero once seeded), and `config`.
pub fn portal_built(policy: Policy, config: Config) -> (Web, Arc<Counting>) {
    let host = Embedded::new(utc(NOW));
    let hasher = Arc::new(Counting::new(Argon2Hasher::new(
        policy.hashing,
        CodeKey::from_bytes([5; 32]),
    )));
    let clock = host.clock.clone();
    let web = Web::new(host, clock, policy, hasher.clone(), config);
    web.seed().expect("seeding");
    hasher.take();
    (web, hasher)
}

/// [`portal_built`] with the default configuration.
pub fn portal_with(policy: Policy) -> (Web, Arc<Counting>) {
    portal_built(policy, Config::default())
}

/// [`portal_with`] cheap hashing.
pub fn portal() -> (Web, Arc<Counting>) {
    portal_with(Policy::insecure_fast_hashing())
}

/// [`portal`] with `config`.
pub fn portal_configured(config: Config) -> (Web, Arc<Counting>) {
    portal_built(Policy::insecure_fast_hashing(), config)
}

/// The portal served on a loopback port, on its own tokio runtime; stops when dropped.
pub struct Server {
    pub addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Server {
    pub fn start(web: &Web) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let router = web.router();
        runtime.spawn(async move { axum::serve(listener, router).await });
        Server {
            addr,
            runtime: Some(runtime),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A response, byte for byte.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Everything the server sent.
    pub raw: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A browser without a browser: one cookie jar (the session cookie), the last CSRF token seen.
#[derive(Debug, Clone)]
pub struct Http {
    pub addr: SocketAddr,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

impl Http {
    pub fn new(addr: SocketAddr) -> Http {
        Http {
            addr,
            cookie: None,
            csrf: None,
        }
    }

    pub fn send(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> Resp {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(cookie) = &self.cookie {
            request.push_str(&format!("Cookie: kaigo_session={cookie}\r\n"));
        }
        if let Some(body) = body {
            request.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        if let Some(body) = body {
            bytes.extend_from_slice(body);
        }
        // A refused over-long body may be answered before it is all sent.
        let _ = stream.write_all(&bytes);
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let raw = String::from_utf8(raw).expect("utf-8 response");
        let (head, body) = raw.split_once("\r\n\r\n").expect("a response head");
        let mut lines = head.lines();
        let status = lines.next().unwrap()[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let resp = Resp {
            status,
            headers,
            body: body.to_owned(),
            raw: raw.clone(),
        };
        if let Some(set) = resp.header("set-cookie") {
            let value = set
                .strip_prefix("kaigo_session=")
                .and_then(|v| v.split(';').next())
                .unwrap();
            self.cookie = Some(value.to_owned());
        }
        if let Some(token) = csrf_in(&resp.body) {
            self.csrf = Some(token);
        }
        resp
    }

    pub fn get(&mut self, path: &str) -> Resp {
        self.send("GET", path, None)
    }

    /// Posts `button` and `fields` with the session's CSRF token.
    pub fn post(&mut self, path: &str, button: &str, fields: &[(&str, &str)]) -> Resp {
        let csrf = self.csrf.clone().unwrap_or_default();
        let mut pairs: Vec<(&str, &str)> = vec![("_csrf", &csrf), ("_button", button)];
        pairs.extend_from_slice(fields);
        self.post_raw(path, &pairs)
    }

    /// Posts exactly these pairs.
    pub fn post_raw(&mut self, path: &str, pairs: &[(&str, &str)]) -> Resp {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.send("POST", path, Some(body.as_bytes()))
    }
}

/// The CSRF token a page's forms carry.
pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"_csrf\" value=\"")? + "name=\"_csrf\" value=\"".len();
    let end = html[at..].find('"')?;
    Some(html[at..at + end].to_owned()).filter(|t| !t.is_empty())
}

/// The text of a page: tags removed, entities decoded (`textContent`, as a browser has it).
pub fn page_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The pieces of a transcript line a page must show: the line without the transcript's own
/// marks (【】, 〔〕, ▶, 《》, `[label]` brackets, ●/○, ☑/☐, `[?] `, ` | `), split where they were.
pub fn pieces(line: &str) -> Vec<String> {
    let mut line = line.trim().to_owned();
    for mark in ["▶ ", "● ", "○ ", "☑ ", "☐ ", "[?] "] {
        if let Some(rest) = line.strip_prefix(mark) {
            line = rest.to_owned();
        }
    }
    let whole = |l: &str, open: char, close: char| {
        l.starts_with(open) && l.ends_with(close) && l.matches(open).count() == 1
    };
    if whole(&line, '【', '】') || whole(&line, '〔', '〕') {
        line = line[3..line.len() - 3].to_owned();
    }
    let mut out = Vec::new();
    for cell in line.split(" | ") {
        // `[戻る] [次へ]`: a line of buttons; `《label》 value`: a field.
        let cell = cell.trim();
        let cell = cell.strip_prefix("[?] ").unwrap_or(cell);
        if cell.starts_with('[') && cell.ends_with(']') {
            for b in cell.split("] [") {
                out.push(b.trim_matches(['[', ']']).to_owned());
            }
        } else if let Some(rest) = cell.strip_prefix('《') {
            match rest.split_once('》') {
                Some((label, value)) => {
                    out.push(label.to_owned());
                    out.push(value.trim().to_owned());
                }
                None => out.push(cell.to_owned()),
            }
        } else {
            out.push(cell.to_owned());
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// UI-01, WEB-06: the page's text holds every line of the screen's transcript, in order.
pub fn assert_page_matches(screen: &Screen, text: &str) {
    let page = squash(text);
    let mut at = 0;
    for line in screen.to_string().lines() {
        for piece in pieces(line) {
            let piece = squash(&piece);
            match page[at..].find(&piece) {
                Some(i) => at += i + piece.len(),
                None => panic!(
                    "the page of 【{}】 lacks {piece:?} (from the line {line:?}) after position {at}:\n{page}",
                    screen.title
                ),
            }
        }
    }
}

/// The buttons that move a screen forward, by name, in the order a user prefers them (the crate's
/// shared names and the names flows declare; never a label).
pub const FORWARD: [&str; 14] = [
    "agree",
    "security_emails",
    "change_password",
    "precautions",
    "next",
    "change",
    "send",
    "agree_and_send",
    "ok",
    "login",
    "add",
    "finish",
    "approve",
    "lost",
];

/// The first [`FORWARD`] button `screen` offers; 【注意事項】 (`precautions`) only once per
/// screen title, by what was `pressed` (title, button) so far.
pub fn forward_button(screen: &Screen, pressed: &[(String, String)]) -> Option<&'static str> {
    let offered: Vec<&str> = screen.buttons().map(|b| b.name).collect();
    FORWARD
        .iter()
        .copied()
        .filter(|n| offered.contains(n))
        .find(|n| *n != "precautions" || !pressed.iter().any(|(t, p)| *t == screen.title && p == n))
}

/// The fields 事業所A fills in on its first login, from 【ログイン】 to the security email.
pub const FIRST_LOGIN: [(&str, &str); 9] = [
    ("user_id", A),
    ("password", SEED_TEMPORARY),
    ("current_password", SEED_TEMPORARY),
    ("new_password", PASSWORD_A),
    ("confirm_password", PASSWORD_A),
    ("notice_email", "jigyousho-a@jp"),
    ("confirm_notice_email", "jigyousho-a@jp"),
    ("address", REGISTERED),
    ("confirm_address", REGISTERED),
];

/// A person at the portal over HTTP who knows no flow: reads the screen, fills fields by name
/// from a table, presses the forward button, reads codes from the newest code mail.
pub struct Person<'w> {
    pub web: &'w Web,
    pub http: Http,
    pub values: BTreeMap<&'static str, String>,
    pub seen: Vec<String>,
    pressed: Vec<(String, String)>,
}

impl<'w> Person<'w> {
    pub fn new(web: &'w Web, server: &Server) -> Person<'w> {
        Person {
            web,
            http: Http::new(server.addr),
            values: BTreeMap::new(),
            seen: Vec::new(),
            pressed: Vec::new(),
        }
    }

    pub fn set(&mut self, name: &'static str, value: &str) -> &mut Self {
        self.values.insert(name, value.to_owned());
        self
    }

    /// `GET /`: the page, checked against its screen (UI-01, WEB-06) and for the headers (WEB-02).
    pub fn page(&mut self) -> (Screen, Resp) {
        let resp = self.http.get("/");
        assert_eq!(resp.status, 200, "{}", resp.body);
        assert_headers(&resp);
        let screen = self
            .web
            .screen_of_session(self.http.cookie.as_deref().unwrap())
            .expect("a screen");
        assert_page_matches(&screen, &page_text(&resp.body));
        self.seen.push(screen.title.clone());
        (screen, resp)
    }

    pub fn newest_code(&self) -> String {
        let mail = self
            .web
            .mails()
            .expect("the host's mails")
            .into_iter()
            .rev()
            .find(|m| m.code().is_some())
            .expect("a code mail");
        mail.code().unwrap().to_owned()
    }

    /// The form for `button` on `screen`, filled from the table.
    pub fn fill(&self, screen: &Screen) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for field in screen.fields() {
            let value = match field.kind {
                FieldKind::Shown => continue,
                FieldKind::Checkbox => match self.values.get(field.name) {
                    Some(v) => v.clone(),
                    None => continue,
                },
                FieldKind::Code => self.newest_code(),
                FieldKind::Select | FieldKind::Radio => self
                    .values
                    .get(field.name)
                    .filter(|v| field.options.iter().any(|o| o.value == **v))
                    .cloned()
                    .or_else(|| field.options.first().map(|o| o.value.clone()))
                    .unwrap_or_default(),
                _ => self.values.get(field.name).cloned().unwrap_or_else(|| {
                    panic!("no value for field `{}` on {}", field.name, screen.title)
                }),
            };
            out.push((field.name.to_owned(), value));
        }
        out
    }

    pub fn forward(&self, screen: &Screen) -> &'static str {
        forward_button(screen, &self.pressed)
            .unwrap_or_else(|| panic!("no forward button on {screen}"))
    }

    /// Presses `button` on `screen` with the table's values; expects the 303 to `/`.
    pub fn press(&mut self, screen: &Screen, button: &str) -> Resp {
        self.pressed.push((screen.title.clone(), button.to_owned()));
        let fields = self.fill(screen);
        let refs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let resp = self.http.post("/", button, &refs);
        assert_eq!(resp.status, 303, "{button} on {screen}: {}", resp.body);
        assert_headers(&resp);
        resp
    }

    /// Presses forward until a page whose title is `title`; returns its screen.
    pub fn until(&mut self, title: &str) -> Screen {
        for _ in 0..40 {
            let (screen, resp) = self.page();
            assert!(
                !resp.body.contains("class=\"error\""),
                "refused on the way to {title}: {}",
                page_text(&resp.body)
            );
            if screen.title == title {
                return screen;
            }
            let button = self.forward(&screen);
            self.press(&screen, button);
        }
        panic!("never reached {title}: {:?}", self.seen)
    }

    /// Presses a button of the menu bar.
    pub fn menu(&mut self, button: &str) {
        let resp = self.http.post("/menu", button, &[]);
        assert_eq!(resp.status, 303);
    }
}

/// WEB-02: the headers every response carries.
pub fn assert_headers(resp: &Resp) {
    let csp = resp.header("content-security-policy").expect("a CSP");
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(resp.header("x-frame-options"), Some("DENY"));
    if let Some(cookie) = resp.header("set-cookie") {
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    }
    assert!(!resp.body.contains("<script"), "no script on any page");
}

/// A response with the session cookie's value, the CSRF token's value and the Date header
/// (the server's wall clock, not the request) set aside (WEB-03).
pub fn masked(resp: &Resp, http: &Http) -> String {
    let mut raw = resp.raw.clone();
    if let Some(c) = &http.cookie {
        raw = raw.replace(c.as_str(), "<cookie>");
    }
    if let Some(t) = &http.csrf {
        raw = raw.replace(t.as_str(), "<csrf>");
    }
    raw.lines()
        .map(|l| {
            if l.to_ascii_lowercase().starts_with("date:") {
                "date: <date>"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// 事業所A's first login through the pages, to the menu, registering [`REGISTERED`].
pub fn first_login(web: &Web, server: &Server) -> Http {
    let mut p = Person::new(web, server);
    for (name, value) in FIRST_LOGIN {
        p.set(name, value);
    }
    p.until("お知らせ");
    assert!(
        p.seen.contains(&"確認コード入力".to_owned()),
        "{:?}",
        p.seen
    );
    p.http
}

/// 事業所B's grace registration through the pages, registering another address.
pub fn grace(web: &Web, server: &Server) {
    let mut p = Person::new(web, server);
    p.set("user_id", B)
        .set("password", SEED_PASSWORD_B)
        .set("address", "other-b@jp")
        .set("confirm_address", "other-b@jp");
    p.until("お知らせ");
}

/// The management number in the newest receipt mail (RI-05), if any.
pub fn receipt_number(web: &Web) -> Option<String> {
    web.mails()
        .expect("the host's mails")
        .iter()
        .rev()
        .find_map(|m| {
            let mut lines = m.body.lines();
            lines.find(|l| *l == "[管理番号]")?;
            lines.next().map(str::to_owned)
        })
}

/// The office `office` applies through the pages for a reissue of its 東京都 user ID, to be
/// notified at `notify`; returns the management number.
pub fn reissue_application(web: &Web, server: &Server, office: &str, notify: &str) -> String {
    let mut p = Person::new(web, server);
    assert_eq!(p.http.get("/").status, 200);
    p.http
        .post("/", "lost", &[("user_id", ""), ("password", "")]);
    p.set("choice", "reissue")
        .set("office", office)
        .set("notify_address", notify)
        .set("confirm_notify_address", notify)
        .set("billing", "13");
    p.until("処理終了");
    assert!(p.seen.contains(&"送信確認".to_owned()), "{:?}", p.seen);
    receipt_number(web).expect("a receipt mail")
}

/// A federation's reviewer signed in at /federation.
pub fn reviewer(server: &Server, (name, password): (&str, &str)) -> Http {
    let mut http = Http::new(server.addr);
    http.get("/federation");
    let resp = http.post(
        "/federation",
        "login",
        &[("reviewer", name), ("password", password)],
    );
    assert_eq!(resp.status, 303);
    http
}

/// From a fresh session to 【ログイン情報再設定認証】 through the lost-credentials menu.
pub fn to_reset_entry(http: &mut Http) {
    assert_eq!(http.get("/").status, 200);
    assert_eq!(
        http.post("/", "lost", &[("user_id", ""), ("password", "")])
            .status,
        303
    );
    assert_eq!(http.get("/").status, 200);
    assert_eq!(http.post("/", "next", &[("choice", "reset")]).status, 303);
    let entry = http.get("/");
    assert!(
        entry.body.contains("ログイン情報再設定認証"),
        "{}",
        entry.body
    );
}

//! The portal over HTTP on a loopback port (WEB-01 … WEB-06): every request is sent as bytes and
//! every response read as bytes, as a browser would see them.

mod common;

use common::{
    A, FIRST_LOGIN, Http, PASSWORD_A, Person, REGISTERED, Server, assert_headers, first_login,
    grace, masked, page_text, portal, portal_configured, reissue_application, reviewer,
    to_reset_entry,
};
use kaigo_seikyu::reissue::{Applicant, ApplicationForm};
use kaigo_seikyu_web::{Config, SEED_REVIEWER, SEED_REVIEWER_OSAKA, SEED_TEMPORARY};

/// WEB-02: every page carries the CSP without script, `no-store`, `nosniff` and frame denial, and
/// the session cookie is HttpOnly and SameSite; the 404 page, the style sheet, the federation's
/// pages, the mailbox and redirects too.
#[test]
fn web_02_every_response_carries_the_headers() {
    let (web, _) = portal();
    let server = Server::start(&web);
    let mut http = Http::new(server.addr);
    for path in ["/", "/federation", "/mailbox", "/static/style.css", "/nope"] {
        let resp = http.get(path);
        assert_headers(&resp);
    }
    assert_eq!(http.get("/nope").status, 404);
    let redirect = http.post("/", "lost", &[("user_id", ""), ("password", "")]);
    assert_eq!(redirect.status, 303);
    assert_headers(&redirect);
    let first = Http::new(server.addr).get("/");
    let cookie = first.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "no TLS here");
}

/// WEB-02: a state-changing request without the session's CSRF token is refused (403) and
/// changes nothing: no token, a wrong token, another session's token, no session at all; a GET
/// changes nothing either way.
#[test]
fn web_02_a_post_without_the_token_is_refused() {
    let (web, hasher) = portal();
    let server = Server::start(&web);
    let mut http = Http::new(server.addr);
    http.get("/");
    let mut other = Http::new(server.addr);
    other.get("/");
    let before = web.embedded().unwrap().store.snapshot();
    let login = [
        ("_button", "login"),
        ("user_id", A),
        ("password", SEED_TEMPORARY),
    ];
    let stolen = other.csrf.clone().unwrap();
    let attempts: Vec<Vec<(&str, &str)>> = vec![
        login.to_vec(),
        [
            &[("_csrf", "0123456789abcdef0123456789abcdef")][..],
            &login[..],
        ]
        .concat(),
        [&[("_csrf", stolen.as_str())][..], &login[..]].concat(),
    ];
    for pairs in &attempts {
        let resp = http.post_raw("/", pairs);
        assert_eq!(resp.status, 403, "{pairs:?}");
        assert_headers(&resp);
        assert!(page_text(&resp.body).contains("不正な操作です"));
    }
    let mut stranger = Http::new(server.addr);
    stranger.csrf = http.csrf.clone();
    assert_eq!(stranger.post("/", "login", &login[1..]).status, 403);
    assert_eq!(web.embedded().unwrap().store.snapshot(), before);
    assert_eq!(common::work(&hasher), 0, "nothing was hashed");
    // The same post with the token goes through to the driver.
    let resp = http.post("/", "login", &login[1..]);
    assert_eq!(resp.status, 303);
    assert!(common::work(&hasher) > 0);
}

/// WEB-01: the flow id lives in the server-side session only: no page, header or redirect of the
/// session that owns it carries it, and another session that posts it (as a field, in the
/// path, or with its own token) is refused and changes nothing of either flow.
#[test]
fn web_01_a_flow_id_of_another_session_is_refused() {
    let (web, _) = portal();
    let server = Server::start(&web);
    let mut owner = Http::new(server.addr);
    to_reset_entry(&mut owner);
    let posted = owner.post(
        "/",
        "next",
        &[("office", "1310000001"), ("address", "x@jp")],
    );
    let page = owner.get("/");
    assert!(page.body.contains("ワンタイムパスワード入力"));
    let flow = web
        .flow_of_session(owner.cookie.as_deref().unwrap())
        .unwrap();
    let id = flow.id.as_str().to_owned();
    for resp in [&posted, &page] {
        assert!(!resp.raw.contains(&id), "the flow id left the server");
    }

    let mut other = Http::new(server.addr);
    to_reset_entry(&mut other);
    let before = web.embedded().unwrap().store.snapshot();
    let resp = other.post("/", "next", &[("flow", &id), ("otp", "123456")]);
    assert_eq!(resp.status, 303);
    let refused = other.get("/");
    assert!(refused.body.contains("class=\"error\""), "{}", refused.body);
    assert!(
        refused.body.contains("ログイン情報再設定認証"),
        "still at its own screen"
    );
    assert_eq!(other.get(&format!("/?flow={id}")).status, 200);
    assert_eq!(other.post(&format!("/{id}"), "next", &[]).status, 404);
    assert_eq!(
        web.embedded().unwrap().store.snapshot(),
        before,
        "nothing changed"
    );
    assert_eq!(web.flow_of_session(other.cookie.as_deref().unwrap()), None);
    // The owner's flow is untouched and still its own.
    assert_eq!(
        web.flow_of_session(owner.cookie.as_deref().unwrap()),
        Some(flow)
    );
}

/// WEB-03, RS-03: the three reset paths — a registered address, an address the office has not
/// registered, an unknown office — give identical responses, byte for byte, at every request
/// from the login page to 【ワンタイムパスワード入力】, once the session cookie's value, the CSRF
/// token's value and the Date header (the server's wall clock) are set aside. Only the
/// registered path mails a code.
#[test]
fn web_03_the_reset_paths_answer_identically() {
    let (web, _) = portal();
    let server = Server::start(&web);
    first_login(&web, &server);
    grace(&web, &server);
    let paths = [
        ("1310000001", "registered"),
        ("1320000001", "not registered for this office"),
        ("1399999999", "unknown office"),
    ];
    let mut transcripts: Vec<Vec<String>> = Vec::new();
    let mails_before = web.embedded().unwrap().outbox.all().len();
    for (office, _) in paths {
        let mut http = Http::new(server.addr);
        let mut seen = Vec::new();
        let mut record = |http: &Http, resp: common::Resp| seen.push(masked(&resp, http));
        let r = http.get("/");
        record(&http, r);
        let r = http.post("/", "lost", &[("user_id", ""), ("password", "")]);
        record(&http, r);
        let r = http.get("/");
        record(&http, r);
        let r = http.post("/", "next", &[("choice", "reset")]);
        record(&http, r);
        let r = http.get("/");
        record(&http, r);
        let r = http.post("/", "next", &[("office", office), ("address", REGISTERED)]);
        record(&http, r);
        let r = http.get("/");
        assert!(
            r.body.contains("ワンタイムパスワード入力"),
            "{office}: {}",
            r.body
        );
        assert!(!r.body.contains("class=\"error\""), "{office}: no error");
        record(&http, r);
        transcripts.push(seen);
    }
    for (i, (office, what)) in paths.iter().enumerate().skip(1) {
        for (step, (a, b)) in transcripts[0].iter().zip(&transcripts[i]).enumerate() {
            assert_eq!(a, b, "request {step} differs for {office} ({what})");
        }
    }
    let mails: Vec<_> = web.embedded().unwrap().outbox.all()[mails_before..].to_vec();
    assert_eq!(mails.len(), 1, "only the registered path mails");
    assert_eq!(mails[0].to.as_ref(), REGISTERED);
}

/// WEB-04: a body over the limit gets 413 with an error page and the headers, and changes
/// nothing; an over-long field inside the limit is refused with its message before any hashing.
#[test]
fn web_04_an_over_long_body_gets_413_and_changes_nothing() {
    let (web, hasher) = portal();
    let server = Server::start(&web);
    let mut http = Http::new(server.addr);
    http.get("/");
    let before = web.embedded().unwrap().store.snapshot();
    let sessions = web.session_count();
    let huge = "A".repeat(web.config().max_body + 1);
    let resp = http.post("/", "login", &[("user_id", A), ("password", &huge)]);
    assert_eq!(resp.status, 413);
    assert_headers(&resp);
    assert!(page_text(&resp.body).contains("送信された内容が大きすぎます"));
    assert_eq!(web.embedded().unwrap().store.snapshot(), before);
    assert_eq!(web.session_count(), sessions);
    assert_eq!(common::work(&hasher), 0);

    // Inside the body limit, far over the field's: refused by the screen, never hashed.
    let long = "A1".repeat(600);
    let resp = http.post("/", "login", &[("user_id", A), ("password", &long)]);
    assert_eq!(resp.status, 303);
    let page = http.get("/");
    assert!(page.body.contains("class=\"error\""), "{}", page.body);
    assert_eq!(
        common::work(&hasher),
        0,
        "nothing was hashed for an over-long field"
    );
    assert_eq!(web.embedded().unwrap().store.snapshot(), before);
    to_reset_entry(&mut http);
    let resp = http.post(
        "/",
        "next",
        &[("office", &"1".repeat(500)), ("address", "a@jp")],
    );
    assert_eq!(resp.status, 303);
    assert!(http.get("/").body.contains("入力が長すぎます"));
    assert_eq!(common::work(&hasher), 0);
    assert!(web.embedded().unwrap().outbox.all().is_empty());
}

/// WEB-05, RI-08, RI-09: reviewers sign in on their own page, not with an office's user
/// ID; 大阪府's reviewer neither sees nor can review 東京都's application; 東京都's reviewer
/// approves it and the letter with the temporary password is shown for printing, mailed to
/// nobody; the office then logs in with it.
#[test]
fn web_05_a_reviewer_sees_and_reviews_only_its_prefecture() {
    let (web, _) = portal();
    let server = Server::start(&web);
    // 事業所C applies (through the driver: the pages are the browser test's business).
    let portal = web.portal();
    let mut rng = rand::rng();
    let form = ApplicationForm {
        applicant: Applicant::Office,
        office_number: "1330000001",
        notify: "c@jp",
        notify_confirm: "c@jp",
    };
    let (id, _) = portal.reissue_start(&form, &mut rng).unwrap();
    portal
        .reissue_input(
            &id,
            kaigo_seikyu::reissue::Input::ChoosePrefecture("13"),
            &mut rng,
        )
        .unwrap();
    let code = web
        .embedded()
        .unwrap()
        .outbox
        .all()
        .last()
        .unwrap()
        .code()
        .unwrap()
        .to_owned();
    portal
        .reissue_input(
            &id,
            kaigo_seikyu::reissue::Input::EnterCode(&code),
            &mut rng,
        )
        .unwrap();
    let (number, _) = portal.reissue_submit(&id, &mut rng).unwrap();
    let number = number.to_string();

    // An office's user ID does not sign in here.
    let mut office = Http::new(server.addr);
    office.get("/federation");
    office.post(
        "/federation",
        "login",
        &[("reviewer", A), ("password", SEED_TEMPORARY)],
    );
    let page = office.get("/federation");
    assert!(
        page.body
            .contains("審査者IDまたはパスワードが正しくありません")
    );

    let mut osaka = Http::new(server.addr);
    osaka.get("/federation");
    let resp = osaka.post(
        "/federation",
        "login",
        &[
            ("reviewer", SEED_REVIEWER_OSAKA.0),
            ("password", SEED_REVIEWER_OSAKA.1),
        ],
    );
    assert_eq!(resp.status, 303);
    let queue = osaka.get("/federation");
    assert!(
        queue.body.contains("大阪府国民健康保険連合会"),
        "{}",
        queue.body
    );
    assert!(
        !queue.body.contains(&number),
        "another prefecture's application is not listed"
    );
    osaka.post("/federation", "approve", &[("number", &number)]);
    let refused = osaka.get("/federation");
    assert!(refused.body.contains("class=\"error\""), "{}", refused.body);
    let app = portal
        .reissue_application(
            kaigo_seikyu::reissue::Federation::of(kaigo_seikyu::values::Prefecture::TOKYO),
            &number,
        )
        .unwrap();
    assert_eq!(
        app.status,
        kaigo_seikyu::reissue::ApplicationStatus::Pending
    );
    // A reviewer's session is no office's: `/` sends it back to its own page.
    assert_eq!(osaka.get("/").status, 303);

    let mut tokyo = Http::new(server.addr);
    tokyo.get("/federation");
    tokyo.post(
        "/federation",
        "login",
        &[("reviewer", SEED_REVIEWER.0), ("password", SEED_REVIEWER.1)],
    );
    let queue = tokyo.get("/federation");
    assert!(queue.body.contains(&number), "{}", queue.body);
    let mails = web.embedded().unwrap().outbox.all().len();
    tokyo.post("/federation", "approve", &[("number", &number)]);
    let letter = tokyo.get("/federation");
    let text = page_text(&letter.body);
    assert!(
        text.contains("ログイン情報再発行通知書") && text.contains("[仮パスワード]"),
        "{text}"
    );
    let temporary = text
        .split("[仮パスワード]")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let new_mails = &web.embedded().unwrap().outbox.all()[mails..];
    assert!(!new_mails.is_empty(), "the result is mailed (T6)");
    assert!(
        new_mails.iter().all(|m| !m.body.contains(&temporary)),
        "never the password"
    );
    // The letter stays until the reviewer leaves it, then the queue is empty.
    assert!(tokyo.get("/federation").body.contains(&temporary));
    tokyo.post("/federation", "back", &[]);
    let queue = tokyo.get("/federation");
    assert!(!queue.body.contains(&temporary) && !queue.body.contains(&number));

    // The office logs in with the letter's temporary password: the first-login password change.
    let mut p = Person::new(&web, &server);
    p.set("user_id", "KJ131330000001")
        .set("password", &temporary)
        .set("current_password", &temporary)
        .set("new_password", "Kaede2026!")
        .set("confirm_password", "Kaede2026!")
        .set("address", "c-sec@jp")
        .set("confirm_address", "c-sec@jp")
        .set("notice_email", "c@jp")
        .set("confirm_notice_email", "c@jp");
    p.until("お知らせ");
    assert!(
        p.seen.contains(&"パスワード変更".to_owned()),
        "{:?}",
        p.seen
    );
}

/// OPS-03, WEB-05: the reviewer's queue is the store's (`Portal::review_queue`), a page at a
/// time, oldest first: 【次の…件を表示】 moves on, 【最初の申請から表示】 goes back, and only the
/// numbers of the page shown can be reviewed.
#[test]
fn ops_03_web_05_the_review_queue_pages_oldest_first() {
    let (web, _) = portal_configured(Config {
        queue_page: 2,
        ..Config::default()
    });
    let server = Server::start(&web);
    let clock = web.embedded().unwrap().clock.clone();
    let mut numbers = Vec::new();
    for (office, notify) in [
        ("1330000001", "c@jp"),
        ("1310000001", "a@jp"),
        ("1320000001", "b@jp"),
    ] {
        numbers.push(reissue_application(&web, &server, office, notify));
        clock.advance(chrono::TimeDelta::minutes(1));
    }
    let position = |text: &str, number: &str| text.find(number);
    let mut tokyo = reviewer(&server, SEED_REVIEWER);
    let first = tokyo.get("/federation");
    let text = page_text(&first.body);
    let (Some(oldest), Some(second)) = (position(&text, &numbers[0]), position(&text, &numbers[1]))
    else {
        panic!("the first page lists the two oldest: {text}");
    };
    assert!(oldest < second, "oldest first: {text}");
    assert!(!text.contains(&numbers[2]), "two a page: {text}");
    assert!(text.contains("次の2件を表示") && !text.contains("最初の申請から表示"));

    // The next page: the newest application alone.
    assert_eq!(tokyo.post("/federation", "next_page", &[]).status, 303);
    let text = page_text(&tokyo.get("/federation").body);
    assert!(text.contains(&numbers[2]), "{text}");
    assert!(
        !text.contains(&numbers[0]) && !text.contains(&numbers[1]),
        "{text}"
    );
    assert!(text.contains("最初の申請から表示") && !text.contains("次の2件を表示"));
    // A number of another page is no option of this one: refused, still pending.
    tokyo.post("/federation", "approve", &[("number", &numbers[0])]);
    let refused = tokyo.get("/federation");
    assert!(refused.body.contains("class=\"error\""), "{}", refused.body);
    let pending = |number: &str| {
        web.portal()
            .reissue_application(
                kaigo_seikyu::reissue::Federation::of(kaigo_seikyu::values::Prefecture::TOKYO),
                number,
            )
            .unwrap()
            .status
            == kaigo_seikyu::reissue::ApplicationStatus::Pending
    };
    assert!(pending(&numbers[0]));
    // A rejection on this page leaves it empty, with the way back.
    tokyo.post("/federation", "reject", &[("number", &numbers[2])]);
    assert!(!pending(&numbers[2]));
    let text = page_text(&tokyo.get("/federation").body);
    assert!(
        text.contains("審査待ちの申請はありません") && text.contains("最初の申請から表示"),
        "{text}"
    );
    assert_eq!(tokyo.post("/federation", "first_page", &[]).status, 303);
    let text = page_text(&tokyo.get("/federation").body);
    assert!(
        text.contains(&numbers[0]) && text.contains(&numbers[1]),
        "{text}"
    );
    assert!(
        !text.contains("次の2件を表示"),
        "nothing after them now: {text}"
    );

    // 大阪府's queue is empty: all three bill 東京都.
    let mut osaka = reviewer(&server, SEED_REVIEWER_OSAKA);
    let text = page_text(&osaka.get("/federation").body);
    assert!(text.contains("審査待ちの申請はありません"), "{text}");
}

/// UI-01, WEB-06: every page a person meets on the office's side holds its screen's transcript
/// in order (checked at each `GET /` by [`Person::page`]), under the 介護保険 header with 時刻,
/// the step list with the current step marked, and after login the menu bar; the flows after
/// login are reached from the menu bar: a second security email and a certificate application
/// inside the notice window, whose dialog's OK applies at 13,200円.
#[test]
fn ui_01_web_06_pages_show_their_screens() {
    let (web, _) = portal();
    let server = Server::start(&web);
    let mut p = Person::new(&web, &server);
    let (_, login) = p.page();
    assert!(login.body.contains("介護保険") && login.body.contains("時刻"));
    assert!(login.body.contains("2026/02/10 10:00"));
    assert!(
        !login.body.contains("ユーザ情報変更"),
        "no menu bar before login"
    );
    for (name, value) in FIRST_LOGIN {
        p.set(name, value);
    }
    p.until("パスワード変更");
    let (_, change) = p.page();
    assert!(
        change
            .body
            .contains("aria-current=\"step\">1 パスワード変更<")
    );
    p.until("お知らせ");
    let (_, menu) = p.page();
    for item in ["お知らせ", "ユーザ情報変更", "証明書", "ログアウト"] {
        assert!(menu.body.contains(&format!(">{item}</button>")), "{item}");
    }
    // A second security email, from the menu bar.
    p.menu("user_info");
    p.set("address", "second-a@jp")
        .set("confirm_address", "second-a@jp");
    p.until("確認コード入力");
    let screen = p.until("処理終了");
    p.press(&screen, "finish");
    p.page();
    let user = A.parse().unwrap();
    let account = web.portal().account(&user).unwrap().unwrap();
    assert_eq!(account.security_emails.len(), 2);
    // The certificate application inside the notice window: the dialog, OK, 13,200円.
    p.menu("certificate");
    p.set("choice", "apply").set("password", PASSWORD_A);
    let dialog = p.until_dialog();
    assert!(dialog.to_string().contains("13,200円"), "{dialog}");
    p.press(&dialog, "ok");
    let (done, page) = p.page();
    assert!(page.body.contains("13,200円"), "{done}");
    // Logout ends the session.
    p.menu("logout");
    let (login, _) = p.page();
    assert_eq!(login.title, "ログイン");
}

trait UntilDialog {
    fn until_dialog(&mut self) -> kaigo_seikyu::screen::Screen;
}

impl UntilDialog for Person<'_> {
    /// Presses forward until a dialog is shown.
    fn until_dialog(&mut self) -> kaigo_seikyu::screen::Screen {
        for _ in 0..20 {
            let (screen, resp) = self.page();
            assert!(
                !resp.body.contains("class=\"error\""),
                "{}",
                page_text(&resp.body)
            );
            if screen.kind == kaigo_seikyu::screen::ScreenKind::Dialog {
                assert!(resp.body.contains("role=\"dialog\""));
                return screen;
            }
            let button = self.forward(&screen);
            self.press(&screen, button);
        }
        panic!("no dialog: {:?}", self.seen)
    }
}

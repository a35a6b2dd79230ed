//! A client that knows no flow (UI-03): it reads the fields and buttons of each screen, fills the
//! fields by name from one table of values, presses a named button, and follows the route, until
//! it reaches a flow's done screen or the menu. It knows the host's menu (which flow a link opens,
//! and as whom) and reads codes from the outbox like a user reading mail; nothing else.
//!
//! OPS-05: every test here runs over both drivers, the blocking `Portal` and the async
//! `AsyncPortal` (on a minimal executor), through one generic body ([`drivers::Driver`]).

mod drivers;

use std::collections::BTreeMap;

use kaigo_seikyu::account::TermsAcceptance;
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::error::{FlowError, PortalError};
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::{AsyncPortal, FlowRef, Portal, Route};
use kaigo_seikyu::ports::OfficeRecord;
use kaigo_seikyu::screen::{FieldKind, Form, FormError, Node, Screen, ScreenKind};
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::store::FlowKind;
use kaigo_seikyu::values::{Prefecture, UserId};
use rand::SeedableRng;
use rand::rngs::StdRng;

use drivers::Driver;

const NEW_OFFICE: &str = "KJ131311111111";
const EXISTING_OFFICE: &str = "KJ131322222222";
const TEMPORARY: &str = "Kari2026pass";
const PASSWORD: &str = "Sakura2026!";
const ADDRESS: &str = "mailforsecurity-001@jp";

/// The one table of values the client fills fields from, by field name. A code field is filled
/// from the newest code mail instead.
fn table() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("user_id", NEW_OFFICE),
        ("password", TEMPORARY),
        ("current_password", TEMPORARY),
        ("new_password", PASSWORD),
        ("confirm_password", PASSWORD),
        ("notice_email", "jigyousho@jp"),
        ("confirm_notice_email", "jigyousho@jp"),
        ("address", ADDRESS),
        ("confirm_address", ADDRESS),
        ("office", "1311111111"),
        ("notify_address", ADDRESS),
        ("confirm_notify_address", ADDRESS),
        ("choice", "apply"),
        ("security_code", "7351"),
    ])
}

/// The buttons that move a screen forward, by name, in the order the client prefers them. They
/// are the crate's shared button names (`screen::button`) and the names a flow declares; the
/// client never looks at a label.
const FORWARD: [&str; 13] = [
    "security_emails",
    "agree",
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
    "lost",
];

struct Client<D> {
    host: Embedded,
    /// The driver under test.
    portal: D,
    /// The blocking driver over the same ports, for the operator's setup.
    setup: Portal,
    rng: StdRng,
    values: BTreeMap<&'static str, &'static str>,
    /// Buttons already pressed on a screen of this title (so `precautions` is pressed once).
    pressed: Vec<(String, String)>,
    seen: Vec<String>,
    /// Every screen met, for UI-04.
    screens: Vec<Screen>,
}

impl<D: Driver> Client<D> {
    fn new() -> Client<D> {
        let host = Embedded::new(utc("2026-02-10T10:00:00+09:00"));
        let portal = host.portal(
            Policy::insecure_fast_hashing(),
            CodeKey::from_bytes([3; 32]),
        );
        let driver = D::over(
            host.ports(),
            Policy::insecure_fast_hashing(),
            CodeKey::from_bytes([3; 32]),
        );
        let mut rng = StdRng::seed_from_u64(7);
        host.ledger.insert(OfficeRecord {
            number: "1311111111".parse().unwrap(),
            name: "請求事業所A".into(),
            postal_address: "東京都千代田区".into(),
            phone: "03-0000-0000".into(),
            billing: vec![Prefecture::TOKYO],
        });
        portal
            .provision_new_office(NEW_OFFICE, TEMPORARY, &mut rng)
            .unwrap();
        let terms = TermsAcceptance {
            version: portal.policy().terms_version,
            at: utc("2020-04-01T09:00:00+09:00"),
        };
        portal
            .provision_existing_office(EXISTING_OFFICE, PASSWORD, terms, &mut rng)
            .unwrap();
        Client {
            host,
            portal: driver,
            setup: portal,
            rng,
            values: table(),
            pressed: Vec::new(),
            seen: Vec::new(),
            screens: Vec::new(),
        }
    }

    /// The form for `button` on `screen`: every input field filled from the table by its name
    /// (a code from the newest code mail; a select or radio its table value or first option; a
    /// checkbox left unchecked), nothing else.
    fn fill(&self, screen: &Screen, button: &str) -> Form {
        let mut form = Form::new(button);
        for field in screen.fields() {
            let value = match field.kind {
                FieldKind::Shown | FieldKind::Checkbox => continue,
                FieldKind::Code => self.newest_code(),
                FieldKind::Select | FieldKind::Radio => self
                    .values
                    .get(field.name)
                    .filter(|v| field.options.iter().any(|o| o.value == **v))
                    .map(|v| (*v).to_owned())
                    .or_else(|| field.options.first().map(|o| o.value.clone()))
                    .unwrap_or_default(),
                _ => self
                    .values
                    .get(field.name)
                    .map(|v| (*v).to_owned())
                    .unwrap_or_else(|| {
                        panic!("no value for field `{}` on {}", field.name, screen.title)
                    }),
            };
            form = form.with(field.name, value);
        }
        form
    }

    fn newest_code(&self) -> String {
        let mail = self
            .host
            .outbox
            .all()
            .into_iter()
            .rev()
            .find(|m| m.code().is_some())
            .expect("a code mail");
        mail.code().unwrap().to_owned()
    }

    /// The forward button the screen offers, preferring one not pressed yet on this screen.
    fn forward(&self, screen: &Screen) -> &'static str {
        let offered: Vec<&str> = screen.buttons().map(|b| b.name).collect();
        let fresh = |name: &&str| {
            !self
                .pressed
                .iter()
                .any(|(title, pressed)| *title == screen.title && pressed == name)
        };
        FORWARD
            .iter()
            .copied()
            .filter(|name| offered.contains(name))
            .find(|name| fresh(name) || *name != "precautions")
            .unwrap_or_else(|| panic!("no forward button on {screen}"))
    }

    /// Opens the entry of `kind` as `user` and presses forward until the route leaves every
    /// flow (a done screen ends a flow, or the menu is reached). Returns the last route and
    /// every title seen.
    fn drive(&mut self, kind: FlowKind, user: Option<UserId>) -> Route {
        let entry = self.portal.open(kind, user.as_ref()).unwrap();
        self.seen.push(entry.title.clone());
        self.screens.push(entry.clone());
        let button = self.forward(&entry);
        self.pressed.push((entry.title.clone(), button.to_owned()));
        let form = self.fill(&entry, button);
        let mut route = self
            .portal
            .start(kind, user.as_ref(), &form, &mut self.rng)
            .unwrap_or_else(|e| panic!("{kind:?} entry {button}: {e:?}\n{entry}"));
        for _ in 0..40 {
            let Route::Flow { flow, screen } = &route else {
                return route;
            };
            self.seen.push(screen.title.clone());
            self.screens.push(screen.clone());
            let button = self.forward(screen);
            self.pressed.push((screen.title.clone(), button.to_owned()));
            let form = self.fill(screen, button);
            route = self
                .portal
                .submit(user.as_ref(), flow, &form, &mut self.rng)
                .unwrap_or_else(|e| panic!("{:?} {button}: {e:?}\n{screen}", flow.kind));
        }
        panic!("no end after 40 screens: {:?}", self.seen)
    }
}

/// UI-03, UI-05: the generic client completes every flow through the same entry points: the
/// reset, the reissue application, the first login and the grace registration from 【ログイン】,
/// adding a security email and applying for a certificate after login.
#[test]
fn ui_03_ui_05_a_client_that_knows_no_flow_completes_every_flow() {
    client_completes_every_flow::<Portal>();
}

/// OPS-05, UI-03, UI-05: the same generic client over the async driver completes every flow to
/// its done screen.
#[test]
fn ops_05_async_driver_client_completes_every_flow() {
    client_completes_every_flow::<AsyncPortal>();
}

fn client_completes_every_flow<D: Driver>() {
    // RS: 【ログイン情報再設定認証】 … 【処理終了】, whose 終了 leads back to 【ログイン】.
    let mut c = Client::<D>::new();
    let user: UserId = NEW_OFFICE.parse().unwrap();
    // The reset needs a registered security email: the first login registers one.
    let route = c.drive(FlowKind::Login, None);
    assert_eq!(route, Route::Menu { user });
    assert!(
        c.seen.contains(&"確認コード入力".to_owned()),
        "{:?}",
        c.seen
    );
    let route = c.drive(FlowKind::Reset, None);
    assert_eq!(route.screen().unwrap().title, "ログイン");
    assert!(
        c.seen.ends_with(&[
            "ワンタイムパスワード入力".into(),
            "ログイン情報再設定".into(),
            "処理終了".into()
        ]),
        "{:?}",
        c.seen
    );

    // SE: from the list, add a second address.
    c.values.insert("address", "mailforsecurity-002@jp");
    c.values.insert("confirm_address", "mailforsecurity-002@jp");
    let route = c.drive(FlowKind::SecurityEmails, Some(user));
    assert!(route.flow().is_none(), "{route:?}");
    assert_eq!(
        c.portal
            .account(&user)
            .unwrap()
            .unwrap()
            .security_emails
            .len(),
        2
    );

    // FEE: 【証明書】 … 【処理終了】. The certificate password is the office's choice.
    c.values.insert("password", PASSWORD);
    let route = c.drive(FlowKind::Certificate, Some(user));
    assert!(route.flow().is_none(), "{route:?}");
    assert!(c.seen.contains(&"送信確認".to_owned()), "{:?}", c.seen);

    // RI: 【ログイン情報再発行申請】 … 【処理終了】.
    let route = c.drive(FlowKind::Reissue, None);
    assert!(route.flow().is_none(), "{route:?}");
    assert!(c.seen.contains(&"送信確認".to_owned()), "{:?}", c.seen);

    // GR: an existing office registers its security email after login.
    let mut c = Client::<D>::new();
    c.values.insert("user_id", EXISTING_OFFICE);
    c.values.insert("password", PASSWORD);
    let route = c.drive(FlowKind::Login, None);
    assert_eq!(
        route,
        Route::Menu {
            user: EXISTING_OFFICE.parse().unwrap()
        }
    );
    assert!(
        c.seen
            .contains(&"セキュリティ用メールアドレス設定".to_owned()),
        "{:?}",
        c.seen
    );
}

/// UI-02: a form that does not fit its screen is refused with an error naming the field or
/// button, and nothing changes: an unknown field, a missing required field, a button the screen
/// does not offer, a value that does not parse, a form for another flow's screen, a form sent to
/// a finished flow.
#[test]
fn ui_02_bad_forms_name_their_field_and_change_nothing() {
    bad_forms_change_nothing::<Portal>();
}

/// OPS-05, UI-02: the same over the async driver.
#[test]
fn ops_05_async_driver_bad_forms_change_nothing() {
    bad_forms_change_nothing::<AsyncPortal>();
}

fn bad_forms_change_nothing<D: Driver>() {
    let mut c = Client::<D>::new();
    let entry = c.portal.open(FlowKind::Reset, None).unwrap();
    let good = c.fill(&entry, "next");
    let refused = |c: &mut Client<D>, kind, form: &Form| {
        let before = c.host.store.snapshot();
        let outcome = c.portal.start(kind, None, form, &mut c.rng);
        assert_eq!(c.host.store.snapshot(), before, "{form:?}");
        assert!(c.host.outbox.all().is_empty());
        outcome.unwrap_err()
    };
    let form_error = |e: PortalError| match e {
        PortalError::Flow(FlowError::Form(e)) => e,
        other => panic!("not a form error: {other:?}"),
    };
    let unknown = good.clone().with("nickname", "x");
    assert_eq!(
        form_error(refused(&mut c, FlowKind::Reset, &unknown)),
        FormError::UnknownField("nickname".into())
    );
    let missing = Form::new("next").with("office", "1311111111");
    assert_eq!(
        form_error(refused(&mut c, FlowKind::Reset, &missing)),
        FormError::Missing("address".into())
    );
    let button = Form::new("send")
        .with("office", "1311111111")
        .with("address", ADDRESS);
    assert_eq!(
        form_error(refused(&mut c, FlowKind::Reset, &button)),
        FormError::NoSuchButton("send".into())
    );
    let bad = Form::new("next")
        .with("office", "13111")
        .with("address", ADDRESS);
    let e = form_error(refused(&mut c, FlowKind::Reset, &bad));
    assert_eq!(e.name(), "office");
    assert_eq!(e.message(), "事業所番号は10桁で入力してください。");
    // Another flow's form: the login screen's fields on the reset's entry.
    let login = Form::new("login")
        .with("user_id", NEW_OFFICE)
        .with("password", TEMPORARY);
    assert!(matches!(
        form_error(refused(&mut c, FlowKind::Reset, &login)),
        FormError::NoSuchButton(_) | FormError::UnknownField(_)
    ));

    // A form sent to a finished flow, and to a flow of another kind with the same id.
    let route = c
        .portal
        .start(FlowKind::Reset, None, &good, &mut c.rng)
        .unwrap();
    let flow = route.flow().unwrap().clone();
    let back = c.portal.back(None, &flow, &mut c.rng).unwrap();
    assert_eq!(back.screen().unwrap().title, "ログイン情報再設定認証");
    let before = c.host.store.snapshot();
    assert_eq!(
        c.portal.submit(None, &flow, &good, &mut c.rng),
        Err(PortalError::NoSuchFlow)
    );
    let other = FlowRef {
        kind: FlowKind::Reissue,
        id: flow.id.clone(),
    };
    assert_eq!(
        c.portal.submit(None, &other, &good, &mut c.rng),
        Err(PortalError::NoSuchFlow)
    );
    assert_eq!(c.host.store.snapshot(), before);
}

/// Drives every flow with the generic client: the first login (and, with a security code set,
/// the login's security-code step), the reset, adding a security email, the certificate
/// application and the reissue application. Returns the client, every screen met kept.
fn every_flow<D: Driver>() -> Client<D> {
    let mut c = Client::<D>::new();
    let user: UserId = NEW_OFFICE.parse().unwrap();
    c.drive(FlowKind::Login, None);
    c.drive(FlowKind::Reset, None);
    c.setup
        .set_security_code(&user, "7351", &mut c.rng)
        .unwrap();
    c.values.insert("password", PASSWORD);
    assert_eq!(c.drive(FlowKind::Login, None), Route::Menu { user });
    c.values.insert("address", "mailforsecurity-002@jp");
    c.values.insert("confirm_address", "mailforsecurity-002@jp");
    c.drive(FlowKind::SecurityEmails, Some(user));
    c.drive(FlowKind::Certificate, Some(user));
    c.drive(FlowKind::Reissue, None);
    c
}

/// UI-01: every screen of every flow is a typed view: texts with stable message ids, in the order
/// the transcript prints them; confirmation labels with the full-width `（確認用）`; dialogs without
/// a step list; the `電子請求受付システム` heading on both login screens; 【証明書】's
/// `発行申請を行う前に ?` button between its texts; 請求先都道府県 a select of names sending codes,
/// in the reset and the reissue application.
#[test]
fn ui_01_screens_are_typed_views_as_the_source_draws_them() {
    screens_are_typed_views::<Portal>();
}

/// OPS-05, UI-01: the same over the async driver.
#[test]
fn ops_05_async_driver_screens_are_typed_views() {
    screens_are_typed_views::<AsyncPortal>();
}

fn screens_are_typed_views<D: Driver>() {
    let c = every_flow::<D>();
    let titles: Vec<&str> = c.screens.iter().map(|s| s.title.as_str()).collect();
    for screen in &c.screens {
        let transcript = screen.to_string();
        let mut at = 0;
        for text in screen.texts() {
            assert!(
                !text.id.is_empty()
                    && text
                        .id
                        .chars()
                        .all(|ch| ch.is_ascii_lowercase() || "._0123456789".contains(ch)),
                "message id {:?} on {}",
                text.id,
                screen.title
            );
            let found = transcript[at..]
                .find(&text.text)
                .unwrap_or_else(|| panic!("{:?} not in order in\n{transcript}", text.text));
            at += found + text.text.len();
        }
        for field in screen.fields() {
            assert!(
                !field.label.contains("(確認用)"),
                "{} on {}",
                field.label,
                screen.title
            );
        }
        if screen.kind == ScreenKind::Dialog {
            assert!(screen.steps.is_empty(), "{screen}");
        }
    }
    for title in ["ログイン", "ログイン(セキュリティコード)"] {
        let login = c.screens.iter().find(|s| s.title == title).expect(title);
        assert_eq!(
            login.texts().next().unwrap().text,
            "電子請求受付システム",
            "{login}"
        );
    }
    assert!(titles.contains(&"送信確認"), "{titles:?}");
    assert!(
        c.screens.iter().any(|s| s.kind == ScreenKind::Dialog),
        "the FEE-03 consent dialog"
    );
    let confirmations: Vec<&str> = c
        .screens
        .iter()
        .flat_map(|s| s.fields())
        .filter(|f| f.label.contains("確認用"))
        .map(|f| f.label.as_str())
        .collect();
    assert!(confirmations.len() >= 4, "{confirmations:?}");
    assert!(
        confirmations.iter().all(|l| l.ends_with("（確認用）")),
        "{confirmations:?}"
    );

    let menu = c.screens.iter().find(|s| s.title == "証明書").unwrap();
    let at = menu
        .nodes
        .iter()
        .position(|n| matches!(n, Node::Button(b) if b.name == "precautions"))
        .expect("発行申請を行う前に ?");
    assert!(matches!(menu.nodes[at - 1], Node::Text(_)), "{menu}");
    assert!(
        menu.nodes[at + 1..]
            .iter()
            .any(|n| matches!(n, Node::Text(_))),
        "{menu}"
    );
    let choice = menu.field_named("choice").expect("the radio group");
    assert_eq!(choice.kind, FieldKind::Radio);
    assert!(choice.value.is_some(), "the chosen option is shown");

    // 請求先都道府県 as a select, in both flows that ask it.
    let c = Client::<D>::new();
    let mut rng = StdRng::seed_from_u64(9);
    let osaka = UserId::new(Prefecture::OSAKA, "1311111111".parse().unwrap());
    c.setup
        .provision_new_office(&osaka.to_string(), TEMPORARY, &mut rng)
        .unwrap();
    for (kind, form) in [
        (
            FlowKind::Reset,
            Form::new("next")
                .with("office", "1311111111")
                .with("address", ADDRESS),
        ),
        (
            FlowKind::Reissue,
            Form::new("next")
                .with("office", "1311111111")
                .with("notify_address", ADDRESS)
                .with("confirm_notify_address", ADDRESS),
        ),
    ] {
        let route = c.portal.start(kind, None, &form, &mut rng).unwrap();
        let screen = route.screen().unwrap();
        assert_eq!(screen.title, "請求先都道府県選択");
        let select = screen.field_named("billing").expect("the select");
        assert_eq!(select.kind, FieldKind::Select);
        let options: Vec<(&str, &str)> = select
            .options
            .iter()
            .map(|o| (o.value.as_str(), o.label.as_str()))
            .collect();
        assert_eq!(options, [("13", "東京都"), ("27", "大阪府")]);
        assert!(!screen.shows("13 東京都"), "{screen}");
    }
}

/// UI-04, SEC-01: on every screen the generic client meets in every flow, no password field
/// came back filled, and no password, temporary password or mailed code is shown.
#[test]
fn ui_04_no_screen_carries_a_secret() {
    no_screen_carries_a_secret::<Portal>();
}

/// OPS-05, UI-04: the same over the async driver.
#[test]
fn ops_05_async_driver_no_screen_carries_a_secret() {
    no_screen_carries_a_secret::<AsyncPortal>();
}

fn no_screen_carries_a_secret<D: Driver>() {
    let c = every_flow::<D>();
    let codes: Vec<String> = c
        .host
        .outbox
        .all()
        .iter()
        .filter_map(|m| m.code().map(str::to_owned))
        .collect();
    assert!(
        codes.len() >= 4 && c.screens.len() >= 20,
        "{} screens",
        c.screens.len()
    );
    let password_fields = c
        .screens
        .iter()
        .flat_map(|s| s.fields())
        .filter(|f| f.kind == FieldKind::Password)
        .count();
    assert!(password_fields >= 5);
    for screen in &c.screens {
        for field in screen.fields().filter(|f| f.kind == FieldKind::Password) {
            assert_eq!(field.value, None, "{screen}");
        }
        let text = screen.to_string();
        for secret in [TEMPORARY, PASSWORD]
            .into_iter()
            .chain(codes.iter().map(String::as_str))
        {
            assert!(!text.contains(secret), "{secret} on {screen}");
        }
    }
}

//! An existing office without a security email, as the source's procedure 1.2.1 (4) 手順 1. … 5.
//! and the grace period of 1.2.1 (5), on the embedded default host with a virtual clock:
//!
//! 1. on 2026-01-31 the office skips the registration (the checkbox is still there);
//! 2. at 2026-02-01T00:00+09:00 the checkbox is gone and a skip is refused;
//! 3. the office registers its security email with the 確認コード read from the outbox.
//!
//! Run with `cargo run --example grace_period`.

use chrono::TimeDelta;
use kaigo_seikyu::account::TermsAcceptance;
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::grace::Form;
use kaigo_seikyu::login;
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::Route;
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::values::{EmailAddress, UserId};

fn show(step: &str, route: &Route) {
    println!("── {step}");
    match route.screen() {
        Some(screen) => println!("{screen}"),
        None => println!("(menu: the host starts the session of {route:?})\n"),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = rand::rng();
    let host = Embedded::new(utc("2026-01-31T18:00:00+09:00"));
    let portal = host.portal(Policy::default(), CodeKey::generate(&mut rng));

    // An office that used the system before the release, without a security email.
    let user: UserId = "KJ131311111111".parse()?;
    let password = "Sakura2026!";
    let terms = TermsAcceptance {
        version: 1,
        at: utc("2020-04-01T09:00:00+09:00"),
    };
    portal.create_account(login::existing_office(
        user,
        portal.hash_secret(password.as_bytes(), &mut rng),
        terms,
    ))?;

    println!("===== 2026-01-31 18:00 (猶予期間中)\n");
    // 手順 1. 【ログイン】: ユーザID and パスワード, ログイン.
    let route = portal.login(&user.to_string(), password, &mut rng)?;
    show(
        "手順 2. 【セキュリティ用メールアドレス設定】 (猶予期間中: チェックボックスあり)",
        &route,
    );
    let id = route
        .flow_id()
        .ok_or("expected the grace registration")?
        .clone();
    // (5): the box checked + 次へ logs in without registering, this time only.
    let route = portal.grace_input(
        &id,
        Form::Next {
            skip: true,
            address: "",
            confirm: "",
        },
        &mut rng,
    )?;
    show(
        "☑ セキュリティ用メールアドレスを登録せずにログインする + 次へ",
        &route,
    );

    println!("===== 2026-01-31 23:59 → 2026-02-01 00:00 (猶予期間経過)\n");
    host.clock.set(utc("2026-01-31T23:59:00+09:00"));
    let route = portal.login(&user.to_string(), password, &mut rng)?;
    let id = route
        .flow_id()
        .ok_or("expected the grace registration")?
        .clone();
    show("23:59 に表示した画面 (チェックボックスあり)", &route);
    host.clock.set(utc("2026-02-01T00:00:00+09:00"));
    // Decided when 次へ is pressed: refused, nothing changes.
    if let Err(e) = portal.grace_input(
        &id,
        Form::Next {
            skip: true,
            address: "",
            confirm: "",
        },
        &mut rng,
    ) {
        println!("00:00 に次へ: ✗ {} ({e})\n", e.message());
    }
    println!(
        "── 00:00 に再表示した画面 (チェックボックスなし)\n{}",
        portal.grace_screen(&id)?
    );

    // 手順 2. the address and its confirmation, 次へ.
    let address = "mailforsecurity-001@jp";
    let route = portal.grace_input(
        &id,
        Form::Next {
            skip: false,
            address,
            confirm: address,
        },
        &mut rng,
    )?;
    // 手順 3. The mail 確認コード発行通知 arrives at the address of 手順 2.
    let to: EmailAddress = address.parse()?;
    let mail = host.outbox.last_to(&to).ok_or("no mail")?;
    println!(
        "── 手順 3. メール\nTo: {}\nタイトル: {}\n{}\n",
        mail.to, mail.subject, mail.body
    );
    let code = mail.code().ok_or("no code in the mail")?;

    show("手順 4. 【確認コード入力】: 確認コード, 送信", &route);
    host.clock.advance(TimeDelta::minutes(2));
    let route = portal.grace_input(&id, Form::EnterCode(code), &mut rng)?;
    show("手順 5. 【処理終了】: 終了", &route);
    let route = portal.grace_input(&id, Form::Finish, &mut rng)?;
    show("ログイン完了", &route);
    if !matches!(route, Route::Menu { .. }) {
        return Err("expected the menu".into());
    }

    // From now on the office logs in straight to the menu.
    let route = portal.login(&user.to_string(), password, &mut rng)?;
    show("次回のログイン", &route);
    for event in host.events.all() {
        println!("event: {:?}", event.kind);
    }
    Ok(())
}

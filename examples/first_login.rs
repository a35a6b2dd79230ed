//! The first login of a new office, as the source's procedure 1.2.1 (3) 手順 1. … 11., on the
//! embedded default host (in-memory ports, virtual clock). The user reads the 確認コード from the
//! in-memory outbox, like opening their mail.
//!
//! Run with `cargo run --example first_login`.

use chrono::TimeDelta;
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::first_login::Form;
use kaigo_seikyu::login;
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::Route;
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::values::{EmailAddress, TemporaryPassword, UserId};

fn show(step: &str, route: &Route) {
    println!("── {step}");
    match route.screen() {
        Some(screen) => println!("{screen}"),
        None => println!("(menu: the host starts the session of {route:?})\n"),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = rand::rng();
    let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    let portal = host.portal(Policy::default(), CodeKey::generate(&mut rng));

    // The office received its user ID and temporary password (仮パスワード) on paper.
    let user: UserId = "KJ131311111111".parse()?;
    let temporary = TemporaryPassword::generate(&mut rng);
    portal.create_account(login::new_office(
        user,
        portal.hash_secret(temporary.reveal().as_bytes(), &mut rng),
    ))?;
    println!("{}", login::login_screen());

    // 手順 1. 【ログイン】: ユーザーID and パスワード (the temporary one), ログイン.
    let route = portal.login(&user.to_string(), temporary.reveal(), &mut rng)?;
    let id = route
        .flow_id()
        .ok_or("expected the first-login flow")?
        .clone();
    show("手順 2. 【利用規約】: 利用規約に同意して次へ", &route);
    let route = portal.first_login_input(&id, Form::AcceptTerms, &mut rng)?;
    show("手順 3. 【警告】: パスワード変更", &route);
    let route = portal.first_login_input(&id, Form::StartPasswordChange, &mut rng)?;
    show(
        "手順 4. 【パスワード変更】: 現在のパスワード, 新しいパスワード, 新しいパスワード（確認用）, 変更",
        &route,
    );

    // A typo in the confirmation: refused, nothing changes.
    let typo = Form::ChangePassword {
        current: temporary.reveal(),
        new: "Sakura2026!",
        confirm: "Sakura2026?",
    };
    if let Err(e) = portal.first_login_input(&id, typo, &mut rng) {
        println!("   ✗ {} ({e})\n", e.message());
    }
    let change = Form::ChangePassword {
        current: temporary.reveal(),
        new: "Sakura2026!",
        confirm: "Sakura2026!",
    };
    let route = portal.first_login_input(&id, change, &mut rng)?;
    show("手順 5. 【処理終了】: 終了", &route);
    let route = portal.first_login_input(&id, Form::Finish, &mut rng)?;
    show(
        "手順 6. 【メールアドレス設定】: 新しいメールアドレス, 新しいメールアドレス（確認用）, 変更",
        &route,
    );
    let notice = Form::SetNoticeEmail {
        address: "jigyousho@jp",
        confirm: "jigyousho@jp",
    };
    let route = portal.first_login_input(&id, notice, &mut rng)?;
    show("手順 7. 【処理終了】: 終了", &route);
    let route = portal.first_login_input(&id, Form::Finish, &mut rng)?;
    show(
        "手順 8. 【セキュリティ用メールアドレス設定】: セキュリティ用メールアドレス, セキュリティ用メールアドレス（確認用）, 次へ",
        &route,
    );
    let address = "mailforsecurity-001@jp";
    let route = portal.first_login_input(
        &id,
        Form::SetSecurityEmail {
            address,
            confirm: address,
        },
        &mut rng,
    )?;

    // 手順 9. The mail 確認コード発行通知 arrives at the address of 手順 8.
    let to: EmailAddress = address.parse()?;
    let mail = host.outbox.last_to(&to).ok_or("no mail")?;
    println!(
        "── 手順 9. メール\nTo: {}\nタイトル: {}\n{}\n",
        mail.to, mail.subject, mail.body
    );
    let code = mail.code().ok_or("no code in the mail")?;

    show("手順 10. 【確認コード入力】: 確認コード, 送信", &route);
    host.clock.advance(TimeDelta::minutes(3));
    let route = portal.first_login_input(&id, Form::EnterCode(code), &mut rng)?;
    show("手順 11. 【処理終了】: 終了", &route);
    let route = portal.first_login_input(&id, Form::Finish, &mut rng)?;
    show("ログイン完了", &route);
    if !matches!(route, Route::Menu { .. }) {
        return Err("expected the menu".into());
    }

    let account = portal.account(&user)?.ok_or("no account")?;
    println!(
        "通知先 (選択中): {}",
        account
            .security_emails
            .selected()
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    for event in host.events.all() {
        println!("event: {:?}", event.kind);
    }
    Ok(())
}

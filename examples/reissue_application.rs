//! ログイン情報再発行申請方法 (source 1.2.2 (4)), then the federation's approval, the letter
//! 「ログイン情報再発行通知書」 and the office's next login with the temporary password.
//!
//! SE-07: the office here had registered a security email it can no longer read, so it cannot
//! reset by itself. This reissue is the support-desk route the list's text speaks of: the
//! federation, having verified the office on paper, approves with `clear_security_emails: true`
//! (RI-09), and the office's first login then asks a new password and a new security email, its
//! step list showing just those steps (FL-04, FL-07, GR-06). An office whose every address is dead
//! is never stuck.
//!
//! Run with `cargo run --example reissue_application`.

use chrono::TimeDelta;
use rand::SeedableRng;
use rand::rngs::StdRng;

use kaigo_seikyu::account::TermsAcceptance;
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::login;
use kaigo_seikyu::lost::{self, LostChoice};
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::Route;
use kaigo_seikyu::ports::OfficeRecord;
use kaigo_seikyu::reissue::{
    Applicant, ApplicationForm, Decision, Federation, Input, Reissue, ReviewOutcome,
};
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::store::FlowKind;
use kaigo_seikyu::values::{EmailAddress, Prefecture, UserId};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The embedded host: in-memory ports on a virtual clock. The office 1311111111 bills 東京都 and
    // has lost its password; its security email is unknown.
    let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    host.ledger.insert(OfficeRecord {
        number: "1311111111".parse()?,
        name: "請求事業所A".into(),
        postal_address: "東京都千代田区霞が関1-1-1".into(),
        phone: "03-0000-0000".into(),
        billing: vec![Prefecture::TOKYO],
    });
    let portal = host.portal(
        Policy::insecure_fast_hashing(),
        CodeKey::from_bytes([7; 32]),
    );
    let mut rng = StdRng::seed_from_u64(202_512);
    let user: UserId = "KJ131311111111".parse()?;
    let terms = TermsAcceptance {
        version: portal.policy().terms_version,
        at: utc("2024-04-01T09:00:00+09:00"),
    };
    let forgotten = portal.hash_secret(b"Forgotten2024", &mut rng);
    let mut account = login::existing_office(user, forgotten, terms);
    // SE-07: its only security email is an address it can no longer read.
    account.security_emails.add(
        "closed-mailbox@jp".parse()?,
        utc("2025-12-20T10:00:00+09:00"),
    )?;
    portal.create_account(account)?;

    println!(
        "手順 1. 【ログイン】 → [パスワード等を紛失した方はこちら]\n{}",
        login::login_screen()
    );
    let choice: LostChoice = LostChoice::Reissue.value().parse()?;
    println!(
        "手順 2. ○ {} → [次へ]\n{}",
        choice.label(),
        lost::menu_screen()
    );

    println!("手順 3. 《事業所番号》, 《通知先メールアドレス》 and its confirmation → [次へ]");
    println!("{}", Reissue::application_screen());
    let form = ApplicationForm {
        applicant: Applicant::Office,
        office_number: "1311111111",
        notify: "jigyousho@jp",
        notify_confirm: "jigyousho@jp",
    };
    let (id, screen) = portal.reissue_start(&form, &mut rng)?;
    println!("手順 4. skipped: 1311111111 holds a user ID in 東京都 only.\n");

    let notify: EmailAddress = "jigyousho@jp".parse()?;
    let mail = host.outbox.last_to(&notify).ok_or("no code mail")?;
    println!(
        "手順 5. mail to {}: {}\n{}\n",
        mail.to, mail.subject, mail.body
    );
    let code = mail.body.lines().nth(4).ok_or("no code line")?.to_owned();

    println!("手順 6. 《確認コード》 → [次へ]\n{screen}");
    let screen = portal.reissue_input(&id, Input::EnterCode(&code), &mut rng)?;

    println!("手順 7. [送信]\n{screen}");
    let (number, screen) = portal.reissue_submit(&id, &mut rng)?;
    let number = number.to_string();
    for (_, notice) in host.notices.all() {
        println!("お知らせ: {}\n{}\n", notice.title, notice.body);
    }
    let receipt = host.outbox.last_to(&notify).ok_or("no receipt mail")?;
    println!(
        "mail to {}: {}\n{}\n",
        receipt.to, receipt.subject, receipt.body
    );

    println!("手順 8. [終了]\n{screen}");
    // 終了 ends the flow at 【ログイン】.
    portal.reissue_input(&id, Input::Finish, &mut rng)?;

    // 国保連合会: three days later, 東京都's federation reviews and approves.
    host.clock.advance(TimeDelta::days(3));
    let tokyo = Federation::of(Prefecture::TOKYO);
    let application = portal.reissue_application(tokyo, &number)?;
    println!(
        "{} reviews {} of {} ({})",
        tokyo.name(),
        application.number,
        application.office,
        application.office_name
    );
    let outcome = portal.reissue_review(
        tokyo,
        &number,
        // SE-07: identity verified on paper, the dead address is cleared (RI-09).
        Decision::Approve {
            clear_security_emails: true,
        },
        &mut rng,
    )?;
    let ReviewOutcome::Approved(letter) = outcome else {
        return Err("not approved".into());
    };
    let result = host.outbox.last_to(&notify).ok_or("no result mail")?;
    println!(
        "mail to {}: {}\n{}\n",
        result.to, result.subject, result.body
    );
    println!(
        "--- printed and posted by the federation ---\n{}\n---\n",
        letter.render()
    );

    // The letter arrives; the office logs in with the temporary password and must change it.
    host.clock.advance(TimeDelta::days(2));
    let route = portal.login(
        &letter.user_id.to_string(),
        letter.temporary_password.reveal(),
        &mut rng,
    )?;
    let Route::Flow { flow, screen } = route else {
        return Err(format!("{route:?}").into());
    };
    if flow.kind != FlowKind::FirstLogin {
        return Err(format!("{flow:?}").into());
    }
    println!(
        "【ログイン】 {} with the temporary password:\n{screen}",
        letter.user_id
    );
    // FL-07, GR-06: only the steps it is asked: password, security email, code, end.
    assert_eq!(
        screen.steps,
        [
            "1 パスワード変更",
            "2 セキュリティ用メールアドレス設定",
            "3 確認コード入力",
            "4 終了"
        ]
    );
    use kaigo_seikyu::first_login::Form;
    let temporary = letter.temporary_password.reveal().to_owned();
    for form in [
        Form::StartPasswordChange,
        Form::ChangePassword {
            current: &temporary,
            new: "Sakura2026!",
            confirm: "Sakura2026!",
        },
        Form::Finish,
    ] {
        let route = portal.first_login_input(&flow.id, form, &mut rng)?;
        println!("{}", route.screen().ok_or("a screen")?);
    }
    let new = "mailforsecurity-new@jp";
    let route = portal.first_login_input(
        &flow.id,
        Form::SetSecurityEmail {
            address: new,
            confirm: new,
        },
        &mut rng,
    )?;
    println!("{}", route.screen().ok_or("a screen")?);
    let code = host
        .outbox
        .last_to(new)
        .and_then(|m| m.code().map(str::to_owned))
        .ok_or("no code")?;
    let route = portal.first_login_input(&flow.id, Form::EnterCode(&code), &mut rng)?;
    println!("{}", route.screen().ok_or("a screen")?);
    let route = portal.first_login_input(&flow.id, Form::Finish, &mut rng)?;
    println!("{route:?}: the office is back in, with a security email it can read (SE-07).");
    Ok(())
}

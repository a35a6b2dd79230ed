//! ログイン情報再設定 (source 1.2.2 (3)) on a virtual clock: an office with user IDs in 東京都 and
//! 大阪府 and a security code set follows 手順 1. to 8., printing every screen, the T2 mail, the
//! お知らせ and the event. Then someone tries the same with a wrong address: the same screens,
//! nothing mailed, nothing revealed (RS-03).
//!
//! Run with `cargo run --example reset_login_info`.

use kaigo_seikyu::account::Account;
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::lost::{self, LostChoice};
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::reset;
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::values::{EmailAddress, Prefecture, UserId};
use rand::SeedableRng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let host = Embedded::new(utc("2026-01-10T12:00:00+09:00"));
    // Demo hashing parameters; a real host keeps Policy::default() and a secret key.
    let portal = host.portal(
        Policy::insecure_fast_hashing(),
        CodeKey::from_bytes([1; 32]),
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(2025);

    // The office 1311111111 bills to 東京都 and 大阪府; it forgot everything but its security email.
    let address: EmailAddress = "mailforsecurity-001@jp".parse()?;
    let office = "1311111111".parse()?;
    let tokyo = UserId::new(Prefecture::TOKYO, office);
    for billing in [Prefecture::TOKYO, Prefecture::OSAKA] {
        let user = UserId::new(billing, office);
        let mut account = Account::new(user, portal.hash_secret(b"Forgotten1", &mut rng));
        account.security_emails.add(address.clone(), portal.now())?;
        account.security_code = Some(portal.hash_secret(b"7351", &mut rng));
        portal.create_account(account)?;
    }

    println!(
        "手順 1. 【ログイン】画面の[{}]のリンクをクリック",
        lost::LINK
    );
    println!("{}", lost::menu_screen());

    println!("手順 2. [{}]を選択し、[次へ]", LostChoice::Reset.label());
    let choice: LostChoice = LostChoice::Reset.value().parse()?;
    assert_eq!(choice, LostChoice::Reset);
    println!("{}", reset::authentication_screen());

    println!(
        "手順 3. 《事業所番号》 1311111111、《セキュリティ用メールアドレス》 {address} を入力し、[次へ]"
    );
    let (id, screen) = portal.reset_start("1311111111", address.as_str(), &mut rng)?;
    println!("{screen}");

    println!("手順 4. 《請求先都道府県》 東京都 を選択し、[次へ]");
    let screen = portal.reset_choose_prefecture(&id, "13", &mut rng)?;

    println!("手順 5. 「ワンタイムパスワード発行通知」のメールが届く");
    let mail = host.outbox.last_to(&address).ok_or("no T2 mail")?;
    println!(
        "宛先: {}\nタイトル: {}\n{}\n",
        mail.to, mail.subject, mail.body
    );
    let otp = mail.code().ok_or("no OTP in the mail")?;
    println!("{screen}");

    println!("手順 6. 《ワンタイムパスワード》を入力し、[次へ]");
    let screen = portal.reset_enter_otp(&id, otp, &mut rng)?;
    println!("{screen}");

    println!("手順 7. 《新しいパスワード》《新しいパスワード(確認用)》を入力し、[変更]");
    let mistake = portal.reset_choose_password(&id, "Sakura2026!", "Sakura2026?", &mut rng);
    if let Err(e) = mistake {
        println!("(確認用を打ち間違えると) → {}", e.message());
    }
    let screen = portal.reset_choose_password(&id, "Sakura2026!", "Sakura2026!", &mut rng)?;

    println!("手順 8. 【処理終了】画面で[終了]");
    println!("{screen}");
    for notice in host.notices.for_office(&office) {
        println!("お知らせ: {}\n{}\n", notice.title, notice.body);
    }
    println!("イベント: {:?}", host.events.all());
    println!("セッション失効: {:?}", host.sessions.revoked());
    let account = portal.account(&tokyo)?.ok_or("no account")?;
    println!(
        "セキュリティコード: {}\n",
        if account.security_code.is_none() {
            "解除"
        } else {
            "設定あり"
        }
    );

    println!("==================== 誤ったメールアドレスの場合 ====================");
    let mails_before = host.outbox.all().len();
    println!("手順 3. 《セキュリティ用メールアドレス》 someone-else@jp を入力し、[次へ]");
    let (id, screen) = portal.reset_start("1311111111", "someone-else@jp", &mut rng)?;
    println!("{screen}");
    println!("手順 4. 《請求先都道府県》 東京都 を選択し、[次へ]");
    let screen = portal.reset_choose_prefecture(&id, "13", &mut rng)?;
    println!("{screen}");
    let sent = host.outbox.all().len() - mails_before;
    println!("送信されたメール: {sent}通 (画面は同じで、エラーは表示されません)");
    println!("手順 6. 推測したワンタイムパスワードを入力し、[次へ]");
    if let Err(e) = portal.reset_enter_otp(&id, "123456", &mut rng) {
        println!(
            "→ {} (正しいメールアドレスで誤入力した場合と同じ表示)",
            e.message()
        );
    }
    if sent != 0 {
        return Err("a wrong address must not be mailed".into());
    }
    Ok(())
}

//! The list of security emails after login (SE-01 … SE-08), as the source numbers its procedure:
//! add a second and a third address, select another, change one, delete one, and try to delete
//! the last one. Prints every screen, mail and お知らせ on the way.
//!
//! Run with `cargo run --example security_emails`.

use kaigo_seikyu::account::Account;
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::error::PortalError;
use kaigo_seikyu::mail::Mail;
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::Portal;
use kaigo_seikyu::screen::Screen;
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::security_emails::UserInput;
use kaigo_seikyu::values::{EmailAddress, UserId};
use rand::SeedableRng;
use rand::rngs::StdRng;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let now = utc("2026-01-10T12:00:00+09:00");
    let host = Embedded::new(now);
    // Cheap hashing for a demo; a real host keeps the default policy and a secret key.
    let portal = host.portal(
        Policy::insecure_fast_hashing(),
        CodeKey::from_bytes([7; 32]),
    );
    let mut rng = StdRng::seed_from_u64(12);

    // An office that registered mailforsecurity-001@jp at its first login, now logged in.
    let user: UserId = "KJ131311111111".parse()?;
    let mut account = Account::new(user, portal.hash_secret(b"Passw0rd!", &mut rng));
    account
        .security_emails
        .add("mailforsecurity-001@jp".parse()?, now)?;
    portal.create_account(account)?;

    let mut demo = Demo {
        host,
        portal,
        rng,
        user,
        shown_mails: 0,
    };

    heading("手順 1.–2. ユーザ情報変更 → セキュリティ用メールアドレス一覧 (1件: 削除なし)");
    show(&demo.portal.security_emails(&user)?);

    heading("手順 3. 追加: セキュリティ用メールアドレス設定");
    show(&demo.portal.security_email_add_form(&user)?);
    demo.add(None, "mailforsecurity-002@jp")?;
    demo.add(None, "mailforsecurity-003@jp")?;

    heading("通知先の選択: mailforsecurity-002@jp");
    show(
        &demo
            .portal
            .security_email_select(&user, "mailforsecurity-002@jp")?,
    );
    demo.notices();

    heading("変更: mailforsecurity-003@jp → mailforsecurity-004@jp");
    show(
        &demo
            .portal
            .security_email_change_form(&user, "mailforsecurity-003@jp")?,
    );
    demo.add(Some("mailforsecurity-003@jp"), "mailforsecurity-004@jp")?;

    heading("削除: mailforsecurity-002@jp (選択中 → 最も古いアドレスが選択中になる)");
    show(
        &demo
            .portal
            .security_email_delete(&user, "mailforsecurity-002@jp")?,
    );
    demo.mails();
    demo.notices();

    heading("削除: mailforsecurity-004@jp (残り1件)");
    show(
        &demo
            .portal
            .security_email_delete(&user, "mailforsecurity-004@jp")?,
    );
    demo.mails();

    heading("最後の1件は削除できない (SE-04)");
    match demo
        .portal
        .security_email_delete(&user, "mailforsecurity-001@jp")
    {
        Err(e @ PortalError::Flow(_)) => println!("拒否: {}  ({e})", e.message()),
        other => return Err(format!("the last address must be kept, got {other:?}").into()),
    }
    show(&demo.portal.security_emails(&user)?);

    heading("監査イベント (SE-08)");
    for event in demo.host.events.all() {
        println!("{event:?}");
    }
    Ok(())
}

/// The host of the demo and what it has printed so far.
struct Demo {
    host: Embedded,
    portal: Portal,
    rng: StdRng,
    user: UserId,
    shown_mails: usize,
}

impl Demo {
    /// 手順 3.–6. of adding `new`, or changing `old` into it.
    fn add(&mut self, old: Option<&str>, new: &str) -> Result<(), Error> {
        let user = self.user;
        let selected = self
            .portal
            .account(&user)?
            .ok_or("no account")?
            .security_emails
            .selected()
            .cloned();
        let selected = selected.ok_or("no selected address")?;
        heading(&format!("手順 3. {new} を入力して【次へ】"));
        let (id, screen) = match old {
            None => self
                .portal
                .security_email_add_start(&user, new, new, &mut self.rng)?,
            Some(old) => {
                self.portal
                    .security_email_change_start(&user, old, new, new, &mut self.rng)?
            }
        };
        show(&screen);
        let otp = self.code_mailed_to(&selected)?;
        heading("手順 4. ワンタイムパスワードを入力して【次へ】");
        show(
            &self
                .portal
                .security_email_input(&user, &id, UserInput::Otp(&otp), &mut self.rng)?,
        );
        let code = self.code_mailed_to(&new.parse()?)?;
        heading("手順 5. 確認コードを入力して【送信】");
        show(&self.portal.security_email_input(
            &user,
            &id,
            UserInput::Code(&code),
            &mut self.rng,
        )?);
        self.mails();
        self.notices();
        heading("手順 6. 【終了】: 一覧");
        show(&self.portal.security_emails(&user)?);
        Ok(())
    }

    /// Prints the mails queued since the last call, and reads the code of the newest one to `to`.
    fn code_mailed_to(&mut self, to: &EmailAddress) -> Result<String, Error> {
        self.mails();
        let mail = self.host.outbox.last_to(to).ok_or("no mail")?;
        let mut lines = mail.body.lines();
        lines
            .find(|l| l.starts_with('['))
            .ok_or("not a code mail")?;
        Ok(lines.next().ok_or("no code")?.to_owned())
    }

    /// Prints the mails queued since the last call.
    fn mails(&mut self) {
        let all = self.host.outbox.all();
        for mail in &all[self.shown_mails..] {
            print_mail(mail);
        }
        self.shown_mails = all.len();
    }

    /// Prints the newest お知らせ.
    fn notices(&self) {
        if let Some(notice) = self.host.notices.for_office(&self.user.office()).last() {
            println!("── お知らせ: {}\n{}\n", notice.title, notice.body);
        }
    }
}

fn heading(text: &str) {
    println!("\n=== {text}\n");
}

fn show(screen: &Screen) {
    println!("{screen}");
}

fn print_mail(mail: &Mail) {
    println!(
        "── メール to {}: {}\n{}\n",
        mail.to, mail.subject, mail.body
    );
}

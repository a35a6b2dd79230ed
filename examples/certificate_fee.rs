//! 介護保険証明書の発行申請 (source 1.2.3) on a virtual clock: the same office applies on
//! 2025-12-20 (before the notice window), on 2026-02-10 (notice and consent dialog: キャンセル, then
//! OK) and on 2026-04-01 (the new fee), printing every screen and the fee charged. Then the
//! renewal reminder of the first certificate, 90 days before its end date (FEE-05).
//!
//! Run with `cargo run --example certificate_fee`.

use kaigo_seikyu::calendar::{format_plain, utc};
use kaigo_seikyu::certificate::{CertificateInput, MenuChoice};
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::ports::OfficeRecord;
use kaigo_seikyu::screen::ScreenKind;
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::values::{Prefecture, UserId};
use rand::SeedableRng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let host = Embedded::new(utc("2025-12-20T10:00:00+09:00"));
    let user: UserId = "KJ131311111111".parse()?;
    let office = user.office();
    host.ledger.insert(OfficeRecord {
        number: office,
        name: "請求事業所 A".into(),
        postal_address: "東京都千代田区".into(),
        phone: "03-0000-0000".into(),
        billing: vec![Prefecture::TOKYO],
    });
    // Demo hashing parameters; a real host keeps Policy::default() and a secret key.
    let portal = host.portal(
        Policy::insecure_fast_hashing(),
        CodeKey::from_bytes([1; 32]),
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(2025);

    for day in [
        "2025-12-20T10:00:00+09:00",
        "2026-02-10T10:00:00+09:00",
        "2026-04-01T10:00:00+09:00",
    ] {
        host.clock.set(utc(day));
        println!("==================== {day} ====================");
        println!("手順 1. 【証明書】を開く");
        let (id, menu) = portal.certificate_start(&user, &mut rng)?;
        println!("{menu}");

        println!("手順 2. 「発行申請を行う前に」を確認せずに[次へ]");
        let input = CertificateInput::Next(MenuChoice::Apply);
        if let Err(e) = portal.certificate_input(&user, &id, input, &mut rng) {
            println!("→ {}\n", e.message());
        }
        println!("手順 3. [発行申請を行う前に ?]を確認し、「証明書の発行申請をする」で[次へ]");
        portal.certificate_input(&user, &id, CertificateInput::ReadPrecautions, &mut rng)?;
        let input = CertificateInput::Next(MenuChoice::Apply);
        println!("{}", portal.certificate_input(&user, &id, input, &mut rng)?);

        println!("手順 4. 証明書発行用パスワードを入力し、[次へ]");
        let confirm =
            portal.certificate_password(&user, &id, "Hakko2026!", "Hakko2026!", &mut rng)?;
        println!("{confirm}");

        println!("手順 5. [利用規約に同意して送信]");
        let mut screen =
            portal.certificate_input(&user, &id, CertificateInput::AgreeAndSubmit, &mut rng)?;
        println!("{screen}");
        if screen.kind == ScreenKind::Dialog {
            println!("手順 5a. ダイアログで[キャンセル]: 何も申請されず、【送信確認】に戻る");
            let back =
                portal.certificate_input(&user, &id, CertificateInput::DialogCancel, &mut rng)?;
            println!("{back}");
            let recorded = portal.certificates(&office)?.len();
            println!("記録済みの証明書: {recorded} 件 (キャンセルでは増えない)\n");
            println!("手順 5b. もう一度[利用規約に同意して送信]し、ダイアログで[OK]");
            portal.certificate_input(&user, &id, CertificateInput::AgreeAndSubmit, &mut rng)?;
            screen = portal.certificate_input(&user, &id, CertificateInput::DialogOk, &mut rng)?;
            println!("{screen}");
        }
        let certificates = portal.certificates(&office)?;
        let last = certificates
            .iter()
            .last()
            .ok_or("no certificate recorded")?;
        println!(
            "→ 発行手数料 {} (有効終了年月日 {})\n",
            last.fee,
            format_plain(last.end_date)
        );
    }

    println!("==================== 2028-09-20 (FEE-05) ====================");
    host.clock.set(utc("2028-09-20T09:00:00+09:00"));
    for certificate in portal.certificate_reminders(&office)? {
        let end = format_plain(certificate.end_date);
        println!(
            "更新のお知らせを掲載: 証明書 {} (有効終了年月日 {end})",
            certificate.serial
        );
    }
    for notice in host.notices.for_office(&office) {
        println!("【お知らせ】{}\n{}\n", notice.title, notice.body);
    }
    println!(
        "同じ日にもう一度: {} 件",
        portal.certificate_reminders(&office)?.len()
    );
    Ok(())
}

//! The walkthrough (the README's first command) as a test: it finishes, shows every flow's done
//! screen and every template, never shows a password or a live code outside what delivers it, and
//! runs again on the same SQLite file seeing the first run's data.

#[allow(dead_code)] // the walkthrough uses part of the reference host's API
#[path = "../examples/sqlite_host/mod.rs"]
mod sqlite_host;

#[allow(dead_code)]
#[path = "../examples/walkthrough/day.rs"]
mod day;

use day::{Block, PASSWORDS, StoreChoice};

fn play(store: &StoreChoice) -> Vec<Block> {
    let (blocks, result) = day::run(store);
    if let Err(e) = result {
        let shown: Vec<String> = blocks
            .iter()
            .rev()
            .take(20)
            .map(ToString::to_string)
            .collect();
        panic!(
            "the walkthrough failed: {e}\n… last blocks (newest first):\n{}",
            shown.join("\n")
        );
    }
    blocks
}

fn text(block: &Block) -> String {
    block.to_string()
}

/// MAIL-01, SEC-01: the walkthrough shows every flow's done screen and all eight templates, and
/// no password or live code anywhere but in the mail (or letter) that delivers it.
#[test]
fn walkthrough_shows_every_flow_and_template_and_no_secret() {
    let blocks = play(&StoreChoice::Memory);
    let all: String = blocks.iter().map(text).collect::<Vec<_>>().join("\n");

    // Every flow's done screen.
    let screens: Vec<&String> = blocks
        .iter()
        .filter_map(|b| {
            if let Block::Screen(s) = b {
                Some(s)
            } else {
                None
            }
        })
        .collect();
    for done in [
        "セキュリティ用メールアドレスの登録を完了しました。", // FL, GR, SE
        "ログイン情報再設定が正常に終了しました。",           // RS
        "ログイン情報の再発行申請を完了しました。",           // RI
        "証明書の発行申請を受け付けました。",                 // FEE
    ] {
        assert!(
            screens
                .iter()
                .any(|s| s.starts_with("【処理終了】") && s.contains(done)),
            "no done screen with {done}"
        );
    }
    assert!(
        all.contains("The menu is reached"),
        "the login gate never reached the menu"
    );

    // Every template, T1 … T8.
    let mails: Vec<_> = blocks
        .iter()
        .filter_map(|b| {
            if let Block::Mail(m) = b {
                Some(m)
            } else {
                None
            }
        })
        .collect();
    let notices: Vec<_> = blocks
        .iter()
        .filter_map(|b| {
            if let Block::Notice(_, n) = b {
                Some(n)
            } else {
                None
            }
        })
        .collect();
    let subject = |s: &str| mails.iter().any(|m| m.subject == s);
    assert!(subject("確認コード発行通知(介護保険)"), "T1");
    assert!(subject("ワンタイムパスワード発行通知(介護保険)"), "T2");
    assert!(
        notices
            .iter()
            .any(|n| n.title == "ログイン情報再発行申請受領通知"),
        "T3"
    );
    assert!(subject("ログイン情報再発行申請受領通知"), "T4");
    let approved = "以下のログイン情報再発行申請が承認されました。";
    let rejected = "以下のログイン情報再発行申請は承認されませんでした。";
    assert!(notices.iter().any(|n| n.body.contains(approved)), "T5");
    assert!(mails.iter().any(|m| m.body.contains(approved)), "T6");
    assert!(notices.iter().any(|n| n.body.contains(rejected)), "T7");
    assert!(mails.iter().any(|m| m.body.contains(rejected)), "T8");

    // Secrets: the passwords typed, the temporary passwords, and every code mailed.
    let letter = blocks
        .iter()
        .find_map(|b| {
            if let Block::Letter(l) = b {
                Some(l)
            } else {
                None
            }
        })
        .expect("a letter");
    let temporary = letter
        .lines()
        .skip_while(|l| *l != "[仮パスワード]")
        .nth(1)
        .expect("the letter carries the temporary password");
    let mut secrets: Vec<String> = PASSWORDS.iter().map(|p| p.to_string()).collect();
    secrets.push("Tmp2025-paper".into());
    secrets.push(temporary.to_owned());
    let codes: Vec<&str> = mails.iter().filter_map(|m| m.code()).collect();
    assert!(codes.len() >= 10, "codes were read from the outbox");
    for (i, block) in blocks.iter().enumerate() {
        let shown = text(block);
        for secret in &secrets {
            let delivering = matches!(block, Block::Letter(_)) && secret == temporary;
            assert!(
                delivering || !shown.contains(secret.as_str()),
                "block {i} shows a password: {shown}"
            );
        }
        let own_code = if let Block::Mail(m) = block {
            m.code()
        } else {
            None
        };
        for code in &codes {
            let token = shown.split(|c: char| c.is_whitespace()).any(|t| t == *code);
            assert!(
                !token || own_code == Some(*code),
                "block {i} shows code {code} it does not deliver: {shown}"
            );
        }
    }
}

/// The walkthrough on the SQLite host, twice on one file: both runs finish and the second sees
/// the first's data (its reissue numbers follow the first run's).
#[test]
fn walkthrough_runs_twice_on_one_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreChoice::Sqlite(dir.path().join("demo.db"));
    let numbers = |blocks: &[Block]| -> Vec<String> {
        blocks
            .iter()
            .filter_map(|b| {
                if let Block::Mail(m) = b {
                    Some(m)
                } else {
                    None
                }
            })
            .filter(|m| m.subject == "ログイン情報再発行申請受領通知")
            .filter_map(|m| {
                m.body
                    .lines()
                    .skip_while(|l| *l != "[管理番号]")
                    .nth(1)
                    .map(str::to_owned)
            })
            .collect()
    };
    let first = play(&store);
    let second = play(&store);
    assert_eq!(numbers(&first), ["U202602000001", "U202602000002"]);
    assert_eq!(numbers(&second), ["U202602000003", "U202602000004"]);
    assert!(
        second
            .iter()
            .any(|b| matches!(b, Block::Step(s) if s.starts_with("Run 2 on this store")))
    );
}

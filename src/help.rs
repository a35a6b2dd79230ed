//! The [?] helps (HELP-01 … HELP-05, SE-09, SE-10, FEE-08): every help text of the crate, in one
//! place, as [`Help`] nodes a screen carries ([`crate::screen::Screen::help`]). A host renders a
//! help as it likes (a pop-up, a fold); the transcript prints it as `[?] title` and its lines.
//!
//! A help is the same for every office and never holds a secret or anything about the account
//! (HELP-04): each function here takes no account, no address and no code, only which flow
//! the help sits in (the remedy's wording) or the policy (the operator's precautions text).
//!
//! - [`mail_not_arriving`]: `メールが届かない場合について`, printed in full by the source on the
//!   reissue application's 【確認コード入力】 (HELP-01). Its remedies end with the way to try
//!   again, which depends on the flow ([`Retry`]): the reissue application's wording as the source
//!   prints it, the security-email registration's (HELP-02) and the reset's (HELP-03).
//! - [`security_email_setting`]: the [?] of `セキュリティ用メールアドレス設定` on 【ユーザ情報変更】
//!   (SE-09), as the source prints it.
//! - [`notification_destination`]: the [?] of the list's `通知先` column (SE-10, our text).
//! - [`precautions`]: `発行申請を行う前に` (FEE-08), the operator's text from the policy.
//!
//! # Example
//! ```
//! use kaigo_seikyu::help::{self, Retry};
//! let h = help::mail_not_arriving(Retry::Reissue);
//! assert_eq!(h.title, "メールが届かない場合について");
//! assert!(h.body[7].ends_with("再度ログイン情報再発行申請を行ってください。"));
//! let h = help::mail_not_arriving(Retry::SecurityEmail);
//! assert!(h.body[7].ends_with("再度セキュリティ用メールアドレスを設定してください。"));
//! ```

use crate::policy::Policy;
use crate::screen::Help;

/// Where a [`mail_not_arriving`] help sits, which says how its remedies tell the user to try
/// again.
///
/// # Example
/// ```
/// use kaigo_seikyu::help::Retry;
/// assert_eq!(Retry::Reset.again(), "再度ログイン情報再設定を行ってください。");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retry {
    /// The reissue application's 【確認コード入力】 (HELP-01): the source's wording.
    Reissue,
    /// The security-email registration's 【確認コード入力】 (FL, GR, SE) and the list's
    /// 【ワンタイムパスワード入力】 (HELP-02, HELP-03).
    SecurityEmail,
    /// The reset's 【ワンタイムパスワード入力】 (HELP-03).
    Reset,
}

impl Retry {
    /// Every place, in the order HELP-01 … HELP-03 name them.
    pub const ALL: [Retry; 3] = [Retry::Reissue, Retry::SecurityEmail, Retry::Reset];

    /// The sentence a remedy ends with.
    pub fn again(self) -> &'static str {
        match self {
            Retry::Reissue => "再度ログイン情報再発行申請を行ってください。",
            Retry::SecurityEmail => "再度セキュリティ用メールアドレスを設定してください。",
            Retry::Reset => "再度ログイン情報再設定を行ってください。",
        }
    }
}

/// The title of [`mail_not_arriving`].
pub const MAIL_NOT_ARRIVING: &str = "メールが届かない場合について";

/// The four causes, as the source's help numbers them. The third reads `メールを受信フォルダ`
/// in the source's help (the screens' bullet reads `メールの受信フォルダ`); the help keeps the
/// source's text.
const CAUSES: [&str; 4] = [
    "① 受信制限の設定をしている。",
    "② 迷惑メールフォルダ等に移動している。",
    "③ メールを受信フォルダ・メールボックス等が容量オーバーになっている。",
    "④ プロバイダの通信状況で受信が遅れている。",
];

/// `メールが届かない場合について` (HELP-01 … HELP-03): the lead, the four causes ① to ④, the
/// instruction, then each cause with its remedy, the remedies of ①, ③ and ④ ending with
/// [`Retry::again`] (the source's ② has none).
///
/// # Example
/// ```
/// use kaigo_seikyu::help::{Retry, mail_not_arriving};
/// let h = mail_not_arriving(Retry::Reset);
/// assert_eq!(h.body[0], "入力されたメールアドレスに誤りがない場合は、以下の原因が考えられます。");
/// assert_eq!(h.body.iter().filter(|l| l.ends_with("再度ログイン情報再設定を行ってください。")).count(), 3);
/// ```
pub fn mail_not_arriving(retry: Retry) -> Help {
    let again = retry.again();
    let mut body =
        vec!["入力されたメールアドレスに誤りがない場合は、以下の原因が考えられます。".to_owned()];
    body.extend(CAUSES.iter().map(|c| (*c).to_owned()));
    body.push("以下の内容に沿って、ご利用されているメーラー等の確認を行ってください。".to_owned());
    let remedies = [
        format!(
            "ご利用されているメーラーにおいて、受信制限を行っていないか確認してください。すべてのメールを拒否している場合、ドメイン「support.e-seikyuu.jp」またはメールアドレス「kaigo_info@support.e-seikyuu.jp」の受信を許可し、{again}"
        ),
        "迷惑メールとして受信されている場合があります。迷惑メールが保存されるフォルダにメールが届いているかご確認ください。".to_owned(),
        format!(
            "メールボックスが保存可能容量を超えていないか確認してください。保存可能容量はメールプロバイダまでご確認ください。容量を超えている場合は、不要なメールを削除して受信できる状態とし、{again}"
        ),
        format!(
            "プロバイダのサービス状況を確認してください。通信の停止等がある場合は、サービスの復旧後にメールが届いているか確認してください。サービスの復旧後、しばらくたってもメールが届かない場合は、{again}"
        ),
    ];
    for (cause, remedy) in CAUSES.iter().zip(remedies) {
        body.push((*cause).to_owned());
        body.push(remedy);
    }
    Help {
        label: MAIL_NOT_ARRIVING.to_owned(),
        title: MAIL_NOT_ARRIVING.to_owned(),
        body,
    }
}

/// The [?] beside `セキュリティ用メールアドレス設定` on 【ユーザ情報変更】 (SE-09), as the source
/// prints it (half-width parentheses, as there).
///
/// # Example
/// ```
/// let h = kaigo_seikyu::help::security_email_setting();
/// assert_eq!(h.title, "セキュリティ用メールアドレス設定について");
/// assert_eq!(h.body.len(), 1);
/// ```
pub fn security_email_setting() -> Help {
    Help {
        label: "セキュリティ用メールアドレス設定".to_owned(),
        title: "セキュリティ用メールアドレス設定について".to_owned(),
        body: vec![
            "セキュリティ用メールアドレスは、電子請求受付システムから送信されるセキュリティ強化のための情報(ワンタイムパスワード等)を受け取るために使用します。".to_owned(),
        ],
    }
}

/// The [?] of the `通知先` column of 【セキュリティ用メールアドレス一覧】 (SE-10; our text, SPEC
/// tag D): the selected address (`選択中`) receives the security mails.
///
/// # Example
/// ```
/// let h = kaigo_seikyu::help::notification_destination();
/// assert_eq!(h.label, "通知先");
/// assert!(h.body[0].contains("選択中"));
/// ```
pub fn notification_destination() -> Help {
    Help {
        label: "通知先".to_owned(),
        title: "通知先について".to_owned(),
        body: vec![
            "ワンタイムパスワード等のセキュリティ強化のための情報は、通知先が「選択中」のセキュリティ用メールアドレスに送信されます。".to_owned(),
            "通知先を変更する場合、対象のセキュリティ用メールアドレスの【選択】ボタンを押してください。".to_owned(),
        ],
    }
}

/// The title of [`precautions`], and the label of the button that shows it.
pub const PRECAUTIONS: &str = "発行申請を行う前に";

/// `発行申請を行う前に` (FEE-08): the operator's text, [`Policy::precautions`]. 【証明書】 shows it
/// once `発行申請を行う前に ?` is pressed, and showing it is what unlocks the application (FEE-04).
///
/// # Example
/// ```
/// use kaigo_seikyu::{help, policy::Policy};
/// let policy = Policy { precautions: vec!["発行手数料をご確認ください。".into()], ..Policy::default() };
/// assert_eq!(help::precautions(&policy).body, ["発行手数料をご確認ください。"]);
/// ```
pub fn precautions(policy: &Policy) -> Help {
    Help {
        label: PRECAUTIONS.to_owned(),
        title: PRECAUTIONS.to_owned(),
        body: policy.precautions.clone(),
    }
}

/// Every help the crate shows under `policy`, each once: the catalogue HELP-04 holds every
/// screen's helps to.
///
/// # Example
/// ```
/// let all = kaigo_seikyu::help::all(&Default::default());
/// assert_eq!(all.len(), 6);
/// ```
pub fn all(policy: &Policy) -> Vec<Help> {
    let mut helps: Vec<Help> = Retry::ALL.into_iter().map(mail_not_arriving).collect();
    helps.push(security_email_setting());
    helps.push(notification_destination());
    helps.push(precautions(policy));
    helps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(help: &Help) -> String {
        let mut out = format!("label: {}\n[?] {}\n", help.label, help.title);
        for line in &help.body {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// HELP-01: the reissue application's help is the source's text in full: title, lead, the
    /// four causes, the instruction, and each cause with its remedy; the first names the domain
    /// and the address; ①, ③, ④ end with the reissue wording, ② with none.
    #[test]
    fn help_01_the_reissue_help_is_the_source_text() {
        let h = mail_not_arriving(Retry::Reissue);
        assert_eq!(h.title, "メールが届かない場合について");
        assert_eq!(
            h.body[0],
            "入力されたメールアドレスに誤りがない場合は、以下の原因が考えられます。"
        );
        assert_eq!(&h.body[1..5], CAUSES);
        assert_eq!(
            h.body[5],
            "以下の内容に沿って、ご利用されているメーラー等の確認を行ってください。"
        );
        assert_eq!(h.body.len(), 14);
        for (i, cause) in CAUSES.iter().enumerate() {
            assert_eq!(h.body[6 + 2 * i], *cause);
        }
        assert!(h.body[7].contains("ドメイン「support.e-seikyuu.jp」"));
        assert!(h.body[7].contains("メールアドレス「kaigo_info@support.e-seikyuu.jp」"));
        let again = "再度ログイン情報再発行申請を行ってください。";
        let ends: Vec<bool> = [7, 9, 11, 13]
            .iter()
            .map(|i| h.body[*i].ends_with(again))
            .collect();
        assert_eq!(ends, [true, false, true, true]);
        assert_eq!(
            h.body[9],
            "迷惑メールとして受信されている場合があります。迷惑メールが保存されるフォルダにメールが届いているかご確認ください。"
        );
        insta::assert_snapshot!("help_01_reissue", rendered(&h));
    }

    /// HELP-02, HELP-03: the same help with the security-email and reset wordings in place of
    /// the reissue one, and nothing else changed.
    #[test]
    fn help_02_help_03_the_same_help_with_the_flow_wording() {
        let reissue = mail_not_arriving(Retry::Reissue);
        for (retry, again) in [
            (
                Retry::SecurityEmail,
                "再度セキュリティ用メールアドレスを設定してください。",
            ),
            (Retry::Reset, "再度ログイン情報再設定を行ってください。"),
        ] {
            let h = mail_not_arriving(retry);
            assert_eq!(h.title, reissue.title);
            assert_eq!(h.body.len(), reissue.body.len());
            for (line, source) in h.body.iter().zip(&reissue.body) {
                assert_eq!(
                    *line,
                    source.replace("再度ログイン情報再発行申請を行ってください。", again)
                );
            }
            assert_eq!(h.body.iter().filter(|l| l.ends_with(again)).count(), 3);
            assert!(!h.body.iter().any(|l| l.contains("再発行申請")));
        }
        insta::assert_snapshot!(
            "help_02_security_email",
            rendered(&mail_not_arriving(Retry::SecurityEmail))
        );
        insta::assert_snapshot!("help_03_reset", rendered(&mail_not_arriving(Retry::Reset)));
    }

    /// SE-09, SE-10, FEE-08: the other helps, pinned; SE-09's text is the source's, byte for byte.
    #[test]
    fn se_09_se_10_fee_08_helps() {
        let h = security_email_setting();
        assert_eq!(h.title, "セキュリティ用メールアドレス設定について");
        assert_eq!(
            h.body,
            [
                "セキュリティ用メールアドレスは、電子請求受付システムから送信されるセキュリティ強化のための情報(ワンタイムパスワード等)を受け取るために使用します。"
            ]
        );
        insta::assert_snapshot!("se_09_security_email_setting", rendered(&h));
        let h = notification_destination();
        assert!(h.body.iter().any(|l| l.contains("「選択中」")));
        insta::assert_snapshot!("se_10_notification_destination", rendered(&h));
        let h = precautions(&Policy::default());
        assert_eq!(h.title, "発行申請を行う前に");
        assert!(!h.body.is_empty());
        insta::assert_snapshot!("fee_08_precautions_default", rendered(&h));
    }

    /// HELP-04: the catalogue is the same whatever the office: no function takes an account, and
    /// no help holds a user ID, an address other than the source's support address, or digits
    /// that could be a code.
    #[test]
    fn help_04_helps_hold_nothing_about_an_account() {
        for h in all(&Policy::default()) {
            let text = rendered(&h);
            assert!(!text.contains("KJ"), "{text}");
            let addresses: Vec<&str> = text
                .split(['「', '」', ' ', '\n'])
                .filter(|w| w.contains('@'))
                .collect();
            assert!(
                addresses
                    .iter()
                    .all(|a| *a == "kaigo_info@support.e-seikyuu.jp"),
                "{text}"
            );
            assert!(!text.chars().any(|c| c.is_ascii_digit()), "{text}");
        }
    }
}

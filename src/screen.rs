//! What a state shows: its title (【…】), the source's step list with the current step, and the
//! source's messages, fields and buttons (DESIGN 4). Screens never show a secret (SEC-01).

use std::fmt;

use crate::values::{PasswordRules, password_symbols};

/// A screen as the source draws it.
///
/// # Example
/// ```
/// use kaigo_seikyu::screen::Screen;
/// let s = Screen::new("処理終了")
///     .steps(&["1 パスワード変更", "2 終了"], 1)
///     .message("セキュリティ用メールアドレスの登録を完了しました。")
///     .action("終了");
/// assert_eq!(
///     s.to_string(),
///     "【処理終了】\n  1 パスワード変更\n▶ 2 終了\nセキュリティ用メールアドレスの登録を完了しました。\n[終了]\n"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Screen {
    /// The title, without 【】.
    pub title: String,
    /// The step list as the source prints it (`1 パスワード変更`, …); may be empty.
    pub steps: &'static [&'static str],
    /// The index of the current step in `steps`.
    pub current: usize,
    /// Lines of text, in order: messages and fields (`《label》 value`).
    pub lines: Vec<String>,
    /// Buttons and links, in order.
    pub actions: Vec<String>,
}

impl Screen {
    /// A screen with this title and nothing else.
    pub fn new(title: impl Into<String>) -> Self {
        Screen {
            title: title.into(),
            ..Screen::default()
        }
    }

    /// Sets the step list and the current step's index.
    pub fn steps(mut self, steps: &'static [&'static str], current: usize) -> Self {
        self.steps = steps;
        self.current = current;
        self
    }

    /// Adds a line of text.
    pub fn message(mut self, line: impl Into<String>) -> Self {
        self.lines.push(line.into());
        self
    }

    /// Adds a field: `《label》 value`.
    pub fn field(mut self, label: &str, value: impl fmt::Display) -> Self {
        self.lines.push(format!("《{label}》 {value}"));
        self
    }

    /// Adds a button or link.
    pub fn action(mut self, label: impl Into<String>) -> Self {
        self.actions.push(label.into());
        self
    }

    /// The delivery notes of every code entry screen: `※ メールが届くまで数分程度かかる場合があります。`
    /// and `{term}の有効期間は{minutes}分です。` (the lifetime from the policy).
    pub(crate) fn delivery_notes(self, term: &str, minutes: u32) -> Self {
        self.message("※ メールが届くまで数分程度かかる場合があります。")
            .message(format!("{term}の有効期間は{minutes}分です。"))
    }

    /// `lead`, then the four reasons the source gives for a mail that does not arrive.
    pub(crate) fn mail_trouble(self, lead: &str) -> Self {
        self.message(lead)
            .message("・受信制限の設定をしている。")
            .message("・迷惑メールフォルダ等に移動している。")
            .message("・メールの受信フォルダ・メールボックス等が容量オーバーになっている。")
            .message("・プロバイダの通信状況で受信が遅れている。")
    }

    /// The password rules under a new-password field (source 1.2.2 (2) 【ログイン情報再設定】),
    /// with the policy's length bounds (VAL-06).
    pub(crate) fn password_rules(self, rules: &PasswordRules) -> Self {
        self.message(format!(
            "パスワードには以下の英数字を{}文字～{}文字で入力してください。",
            rules.min_chars, rules.max_chars
        ))
        .message("※英字、数字を少なくとも1文字ずつ含めてください。（記号は任意）")
        .message("英字：abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        .message("数字：0123456789")
        .message(format!("記号：{}", password_symbols()))
        .message("ユーザIDと同じパスワードは入力できません。")
    }

    /// Whether any line contains `text`.
    ///
    /// # Example
    /// ```
    /// let s = kaigo_seikyu::screen::Screen::new("t").message("abc");
    /// assert!(s.shows("b"));
    /// ```
    pub fn shows(&self, text: &str) -> bool {
        self.title.contains(text) || self.lines.iter().any(|l| l.contains(text))
    }

    /// Whether a button or link with exactly this label is offered.
    pub fn offers(&self, action: &str) -> bool {
        self.actions.iter().any(|a| a == action)
    }
}

impl fmt::Display for Screen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "【{}】", self.title)?;
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "{}{step}", if i == self.current { "▶ " } else { "  " })?;
        }
        for line in &self.lines {
            writeln!(f, "{line}")?;
        }
        if !self.actions.is_empty() {
            let buttons: Vec<String> = self.actions.iter().map(|a| format!("[{a}]")).collect();
            writeln!(f, "{}", buttons.join(" "))?;
        }
        Ok(())
    }
}

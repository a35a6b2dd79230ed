//! Screens as data (UI-01): what a state shows, as a typed view any front end can render without
//! knowing the flow, and the form a front end posts back (UI-02).
//!
//! A [`Screen`] has its title (【…】), the source's step list with the current step, and its
//! [`Node`]s in the source's order: texts with a stable message id, fields, buttons and links
//! naming the input they send, and helps. `Display` renders it as the transcript the examples
//! print. A [`Form`] is what comes back: field name → value, and the button pressed;
//! [`Screen::accept`] checks it against the screen before the flow parses it. Screens never show
//! a secret, and a password field never comes back filled (SEC-01, UI-04).

use std::fmt;

use crate::values::{PasswordRules, Prefecture, ValueError, password_symbols};

/// The names of the buttons the flows share: a [`Form`] sends one as its button.
pub mod button {
    /// `次へ`.
    pub const NEXT: &str = "next";
    /// `戻る`.
    pub const BACK: &str = "back";
    /// `変更`.
    pub const CHANGE: &str = "change";
    /// `送信`.
    pub const SEND: &str = "send";
    /// `終了`.
    pub const FINISH: &str = "finish";
    /// `ログイン`.
    pub const LOGIN: &str = "login";
    /// `ログアウト`.
    pub const LOGOUT: &str = "logout";
    /// A dialog's `OK`.
    pub const OK: &str = "ok";
    /// A dialog's `キャンセル`.
    pub const CANCEL: &str = "cancel";
}

/// Form names of the fields more than one flow's screens carry (UI-01): one name for one field
/// wherever it appears. A field of one flow only is named in its module.
pub mod field {
    /// 《事業所番号》 (RS-01, RI-02), also shown read-only (RI-06, the certificate flow).
    pub const OFFICE: &str = "office";
    /// The office's name, shown read-only (RI-06, the certificate flow).
    pub const OFFICE_NAME: &str = "office_name";
    /// 《セキュリティ用メールアドレス》 (RS-01, and every 【セキュリティ用メールアドレス設定】).
    pub const ADDRESS: &str = "address";
    /// 《セキュリティ用メールアドレス（確認用）》.
    pub const CONFIRM_ADDRESS: &str = "confirm_address";
    /// 《確認コード》 on every 【確認コード入力】.
    pub const CODE: &str = "code";
    /// 《ワンタイムパスワード》 on every 【ワンタイムパスワード入力】 (RS-04, SE-06).
    pub const OTP: &str = "otp";
    /// A password: the login's, the certificate's.
    pub const PASSWORD: &str = "password";
    /// A new password (FL-02, RS-05).
    pub const NEW_PASSWORD: &str = "new_password";
    /// A password's confirmation (VAL-05).
    pub const CONFIRM_PASSWORD: &str = "confirm_password";
}

/// The form name of the 請求先都道府県 field of RS-02 and RI-03.
pub const BILLING: &str = "billing";

/// The lead of 【請求先都道府県選択】 (RS-02, RI-03).
pub(crate) const CHOOSE_PREFECTURE: &str =
    "請求先都道府県を選択し、【次へ】ボタンを押してください。";

/// 《請求先都道府県》: a dropdown of `choices` by name, sending the prefecture's code (RS-02,
/// RI-03).
pub(crate) fn prefecture_select(choices: &[Prefecture]) -> Field {
    let options = choices
        .iter()
        .map(|p| Choice::new(p.to_string(), p.name()))
        .collect();
    Field::select(BILLING, "請求先都道府県", options).required()
}

/// A screen as the source draws it.
///
/// # Example
/// ```
/// use kaigo_seikyu::screen::{Field, Screen};
/// let s = Screen::new("処理終了")
///     .steps(&["1 パスワード変更", "2 終了"], 1)
///     .text("fl.done", "セキュリティ用メールアドレスの登録を完了しました。")
///     .field(Field::text("note", "備考").value("なし"))
///     .button("finish", "終了");
/// assert_eq!(
///     s.to_string(),
///     "【処理終了】\n  1 パスワード変更\n▶ 2 終了\nセキュリティ用メールアドレスの登録を完了しました。\n《備考》 なし\n[終了]\n"
/// );
/// assert!(s.offers("終了") && s.shows("登録を完了"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Screen {
    /// The title, without 【】.
    pub title: String,
    /// A page, or a dialog over the page (FEE-03's consent).
    pub kind: ScreenKind,
    /// The step list as the source prints it (`1 パスワード変更`, …); empty for a dialog.
    pub steps: Vec<&'static str>,
    /// The index of the current step in `steps`.
    pub current: usize,
    /// What the screen shows, in the source's order.
    pub nodes: Vec<Node>,
}

/// Whether a screen is a page or a dialog drawn over one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScreenKind {
    /// A page with a title and a step list.
    #[default]
    Page,
    /// A modal dialog: a question and its buttons, no step list.
    Dialog,
}

/// One thing a screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A line of text.
    Text(Text),
    /// An input field, or a value shown read-only ([`FieldKind::Shown`]).
    Field(Field),
    /// A button or link.
    Button(Button),
    /// A [?] help.
    Help(Help),
    /// A table row: its cells (texts, fields, buttons) in order, drawn on one line with ` | `
    /// between them, e.g. `選択中 | a@jp | [変更] | [削除]` on the security-email list. Rows do not
    /// nest; [`Screen::texts`], [`Screen::fields`] and [`Screen::buttons`] include the cells.
    Row(Vec<Node>),
}

/// A line of text with a stable message id (`rs.otp.lead`), so a front end can style or translate
/// it without matching the Japanese.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// The stable id of the message.
    pub id: &'static str,
    /// The text as the source prints it.
    pub text: String,
}

/// What kind of input a field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A value shown, not an input (e.g. the user ID on 【ログイン情報再設定】).
    Shown,
    /// Free text.
    Text,
    /// An email address.
    Email,
    /// A password or security code: never comes back filled (UI-04).
    Password,
    /// A mailed code (確認コード, ワンタイムパスワード).
    Code,
    /// One of [`Field::options`], as a dropdown.
    Select,
    /// One of [`Field::options`], as radio buttons.
    Radio,
    /// A checkbox: checked when the form sends its name with any value.
    Checkbox,
}

/// A field: its name in the form, kind, label, whether it is required, its maximum length, its
/// current value where it is not secret, and its options.
///
/// # Example
/// ```
/// use kaigo_seikyu::screen::{Choice, Field, FieldKind};
/// let f = Field::select("billing", "請求先都道府県", vec![Choice::new("13", "東京都")]).required();
/// assert_eq!((f.kind, f.required), (FieldKind::Select, true));
/// let p = Field::password("new_password", "新しいパスワード").value("Secret123");
/// assert_eq!(p.value, None); // a password never comes back filled (UI-04)
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The name the form sends it under.
    pub name: &'static str,
    /// What kind of input it is.
    pub kind: FieldKind,
    /// The label, without 《》.
    pub label: String,
    /// Whether the form must carry a non-empty value for it.
    pub required: bool,
    /// The maximum length in characters, where there is one.
    pub max_len: Option<usize>,
    /// The current value (the chosen option's value for a select or radio, `"on"` for a checked
    /// box); never for a password.
    pub value: Option<String>,
    /// The options of a select or radio group.
    pub options: Vec<Choice>,
}

/// One option of a select or radio group: the value the form sends, the label shown, and the
/// notes the source prints under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// What the form sends.
    pub value: String,
    /// What the screen shows.
    pub label: String,
    /// Lines explaining the option, shown under it.
    pub notes: Vec<String>,
}

impl Choice {
    /// An option.
    ///
    /// # Example
    /// ```
    /// let c = kaigo_seikyu::screen::Choice::new("13", "東京都");
    /// assert_eq!((c.value.as_str(), c.label.as_str()), ("13", "東京都"));
    /// ```
    pub fn new(value: impl Into<String>, label: impl Into<String>) -> Self {
        Choice {
            value: value.into(),
            label: label.into(),
            notes: Vec::new(),
        }
    }

    /// Adds lines explaining the option.
    ///
    /// # Example
    /// ```
    /// let c = kaigo_seikyu::screen::Choice::new("reset", "再設定").notes(["※ 30分有効"]);
    /// assert_eq!(c.notes, ["※ 30分有効"]);
    /// ```
    pub fn notes<S: Into<String>>(mut self, notes: impl IntoIterator<Item = S>) -> Self {
        self.notes.extend(notes.into_iter().map(Into::into));
        self
    }
}

/// For a menu's options as a type (an `ALL` array and a `value()` giving what the form sends):
/// `Display` as that value, and `FromStr` accepting exactly one of the values, anything else
/// refused as [`FlowError::UnexpectedInput`](crate::error::FlowError::UnexpectedInput) in state
/// `$state`. `FlowError` is the caller's.
macro_rules! menu_options {
    ($t:ident, $state:literal) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.value())
            }
        }

        impl std::str::FromStr for $t {
            type Err = FlowError;
            /// Exactly one of the options' values; anything else is not one of the menu's
            /// options.
            fn from_str(s: &str) -> Result<Self, FlowError> {
                $t::ALL
                    .into_iter()
                    .find(|c| c.value() == s)
                    .ok_or(FlowError::UnexpectedInput {
                        state: $state,
                        input: "an unknown menu option",
                    })
            }
        }
    };
}
pub(crate) use menu_options;

impl Field {
    fn new(name: &'static str, kind: FieldKind, label: impl Into<String>) -> Self {
        Field {
            name,
            kind,
            label: label.into(),
            required: false,
            max_len: None,
            value: None,
            options: Vec::new(),
        }
    }

    /// A value shown read-only under `label`.
    ///
    /// # Example
    /// ```
    /// let f = kaigo_seikyu::screen::Field::shown("user_id", "ユーザID", "KJ131311111111");
    /// assert_eq!(f.value.as_deref(), Some("KJ131311111111"));
    /// ```
    pub fn shown(name: &'static str, label: impl Into<String>, value: impl fmt::Display) -> Self {
        Field::new(name, FieldKind::Shown, label).value(value)
    }

    /// A text input.
    pub fn text(name: &'static str, label: impl Into<String>) -> Self {
        Field::new(name, FieldKind::Text, label)
    }

    /// An email input (VAL-04: at most 254 characters).
    pub fn email(name: &'static str, label: impl Into<String>) -> Self {
        Field::new(name, FieldKind::Email, label).max_len(254)
    }

    /// A password input: it never carries a value (UI-04).
    pub fn password(name: &'static str, label: impl Into<String>) -> Self {
        Field::new(name, FieldKind::Password, label)
    }

    /// A mailed code of `digits` digits.
    pub fn code(name: &'static str, label: impl Into<String>, digits: usize) -> Self {
        Field::new(name, FieldKind::Code, label).max_len(digits)
    }

    /// A dropdown of `options`.
    pub fn select(name: &'static str, label: impl Into<String>, options: Vec<Choice>) -> Self {
        Field {
            options,
            ..Field::new(name, FieldKind::Select, label)
        }
    }

    /// A radio group of `options`.
    pub fn radio(name: &'static str, label: impl Into<String>, options: Vec<Choice>) -> Self {
        Field {
            options,
            ..Field::new(name, FieldKind::Radio, label)
        }
    }

    /// A checkbox labelled `label`, checked or not.
    pub fn checkbox(name: &'static str, label: impl Into<String>, checked: bool) -> Self {
        let field = Field::new(name, FieldKind::Checkbox, label);
        if checked { field.value("on") } else { field }
    }

    /// Marks the field required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Sets the maximum length in characters.
    pub fn max_len(mut self, chars: usize) -> Self {
        self.max_len = Some(chars);
        self
    }

    /// Sets the current value; ignored for a password field (UI-04).
    pub fn value(mut self, value: impl fmt::Display) -> Self {
        if self.kind != FieldKind::Password {
            self.value = Some(value.to_string());
        }
        self
    }
}

/// A button or link: the label shown and the name of the input it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    /// The name the form sends as its button (the input it means).
    pub name: &'static str,
    /// The label shown.
    pub label: String,
    /// Drawn as a link rather than a button.
    pub link: bool,
}

impl Button {
    /// Whether pressing it leaves the screen without using what its fields hold: a link,
    /// `戻る` ([`button::BACK`]) or `ログアウト` ([`button::LOGOUT`]). [`Screen::accept`] asks no
    /// required field for it.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::screen::{Screen, button};
    /// let s = Screen::new("t").button(button::BACK, "戻る").button(button::NEXT, "次へ").link("lost", "紛失");
    /// let leaves: Vec<bool> = s.buttons().map(|b| b.leaves()).collect();
    /// assert_eq!(leaves, [true, false, true]);
    /// ```
    pub fn leaves(&self) -> bool {
        self.link || self.name == button::BACK || self.name == button::LOGOUT
    }
}

/// A [?] help: the label it sits beside, its title and its text (HELP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Help {
    /// What the [?] sits beside (`発行申請を行う前に`, `通知先`).
    pub label: String,
    /// The help's title.
    pub title: String,
    /// The help's lines.
    pub body: Vec<String>,
}

/// Accessors of a screen's leaves of one kind, in order (a row's cells included): `$method`
/// yields what each `Node::$variant` holds.
macro_rules! leaves_of {
    ($($(#[$doc:meta])* $method:ident: $variant:ident;)+) => {$(
        $(#[$doc])*
        pub fn $method(&self) -> impl Iterator<Item = &$variant> {
            self.leaves().filter_map(|n| match n {
                Node::$variant(leaf) => Some(leaf),
                _ => None,
            })
        }
    )+};
}

impl Screen {
    /// A page with this title and nothing else.
    pub fn new(title: impl Into<String>) -> Self {
        Screen {
            title: title.into(),
            ..Screen::default()
        }
    }

    /// A dialog with this title: no step list.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::screen::{Screen, ScreenKind};
    /// let d = Screen::dialog("確認").text("q", "よろしいですか？").button("ok", "OK");
    /// assert_eq!(d.kind, ScreenKind::Dialog);
    /// assert_eq!(d.to_string(), "〔確認〕\nよろしいですか？\n[OK]\n");
    /// ```
    pub fn dialog(title: impl Into<String>) -> Self {
        Screen {
            kind: ScreenKind::Dialog,
            ..Screen::new(title)
        }
    }

    /// Sets the step list and the current step's index.
    pub fn steps(mut self, steps: &[&'static str], current: usize) -> Self {
        self.steps = steps.to_vec();
        self.current = current;
        self
    }

    /// Adds a line of text with its stable message id.
    pub fn text(mut self, id: &'static str, text: impl Into<String>) -> Self {
        self.nodes.push(Node::Text(Text {
            id,
            text: text.into(),
        }));
        self
    }

    /// Adds a field.
    pub fn field(mut self, field: Field) -> Self {
        self.nodes.push(Node::Field(field));
        self
    }

    /// Adds a button that sends the input `name`.
    pub fn button(mut self, name: &'static str, label: impl Into<String>) -> Self {
        self.nodes.push(Node::Button(Button {
            name,
            label: label.into(),
            link: false,
        }));
        self
    }

    /// Adds a link that sends the input `name`.
    pub fn link(mut self, name: &'static str, label: impl Into<String>) -> Self {
        self.nodes.push(Node::Button(Button {
            name,
            label: label.into(),
            link: true,
        }));
        self
    }

    /// Adds a [?] help.
    pub fn help(mut self, help: Help) -> Self {
        self.nodes.push(Node::Help(help));
        self
    }

    /// Adds a table row whose cells `cells` adds to an empty screen (a row inside a row is
    /// flattened into it).
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::screen::Screen;
    /// let s = Screen::new("一覧")
    ///     .row(|r| r.text("mark", "選択中").text("address", "a@jp").button("change:1", "変更"))
    ///     .button("back", "戻る");
    /// assert_eq!(s.to_string(), "【一覧】\n選択中 | a@jp | [変更]\n[戻る]\n");
    /// assert_eq!(s.button_named("変更"), Some("change:1"));
    /// ```
    pub fn row(mut self, cells: impl FnOnce(Screen) -> Screen) -> Self {
        let cells = cells(Screen::default())
            .nodes
            .into_iter()
            .flat_map(|n| match n {
                Node::Row(inner) => inner,
                n => vec![n],
            })
            .collect();
        self.nodes.push(Node::Row(cells));
        self
    }

    /// The nodes in order, a row's cells in place of the row.
    fn leaves(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().flat_map(|n| match n {
            Node::Row(cells) => cells.as_slice(),
            n => std::slice::from_ref(n),
        })
    }

    /// The delivery notes of every code entry screen: `※ メールが届くまで数分程度かかる場合があります。`
    /// and `{term}の有効期間は{minutes}分です。` (the lifetime from the policy).
    pub(crate) fn delivery_notes(self, term: &str, minutes: u32) -> Self {
        self.text(
            "code.delivery_delay",
            "※ メールが届くまで数分程度かかる場合があります。",
        )
        .text(
            "code.lifetime",
            format!("{term}の有効期間は{minutes}分です。"),
        )
    }

    /// `lead` with its [?] `help` beside it (HELP-01 … HELP-03), then the four reasons the source
    /// gives for a mail that does not arrive.
    pub(crate) fn mail_trouble(self, lead: &str, help: Help) -> Self {
        let help = Help {
            label: lead.to_owned(),
            ..help
        };
        self.text("mail_trouble.lead", lead)
            .help(help)
            .text("mail_trouble.1", "・受信制限の設定をしている。")
            .text("mail_trouble.2", "・迷惑メールフォルダ等に移動している。")
            .text(
                "mail_trouble.3",
                "・メールの受信フォルダ・メールボックス等が容量オーバーになっている。",
            )
            .text(
                "mail_trouble.4",
                "・プロバイダの通信状況で受信が遅れている。",
            )
    }

    /// The password rules under a new-password field (source 1.2.2 (2) 【ログイン情報再設定】),
    /// with the policy's length bounds (VAL-06).
    pub(crate) fn password_rules(self, rules: &PasswordRules) -> Self {
        self.text(
            "password_rules.length",
            format!(
                "パスワードには以下の英数字を{}文字～{}文字で入力してください。",
                rules.min_chars, rules.max_chars
            ),
        )
        .text(
            "password_rules.mix",
            "※英字、数字を少なくとも1文字ずつ含めてください。（記号は任意）",
        )
        .text(
            "password_rules.letters",
            "英字：abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        )
        .text("password_rules.digits", "数字：0123456789")
        .text(
            "password_rules.symbols",
            format!("記号：{}", password_symbols()),
        )
        .text(
            "password_rules.not_user_id",
            "ユーザIDと同じパスワードは入力できません。",
        )
    }

    leaves_of! {
        /// The texts, in order.
        texts: Text;
        /// The fields, in order.
        fields: Field;
        /// The buttons and links, in order.
        buttons: Button;
        /// The [?] helps, in order (a row's included).
        ///
        /// # Example
        /// ```
        /// use kaigo_seikyu::screen::{Help, Screen};
        /// let help = Help { label: "通知先".into(), title: "通知先について".into(), body: vec!["…".into()] };
        /// let s = Screen::new("一覧").row(|r| r.text("h", "通知先").help(help.clone()));
        /// assert_eq!(s.helps().collect::<Vec<_>>(), [&help]);
        /// assert_eq!(s.to_string(), "【一覧】\n通知先 | [?]\n[?] 通知先について\n  …\n");
        /// ```
        helps: Help;
    }

    /// The field named `name`.
    pub fn field_named(&self, name: &str) -> Option<&Field> {
        self.fields().find(|f| f.name == name)
    }

    /// Whether the transcript ([`Screen`]'s `Display`) contains `text`: the title, a text, a
    /// field as `《label》 value`, an option as `● label`, a help.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::screen::{Field, Screen};
    /// let s = Screen::new("t").text("x", "abc").field(Field::shown("id", "ユーザID", "KJ1"));
    /// assert!(s.shows("b") && s.shows("《ユーザID》 KJ1"));
    /// ```
    pub fn shows(&self, text: &str) -> bool {
        self.to_string().contains(text)
    }

    /// Whether a button or link with exactly this label is offered.
    pub fn offers(&self, label: &str) -> bool {
        self.buttons().any(|b| b.label == label)
    }

    /// The name of the button labelled `label`, if the screen offers one.
    ///
    /// # Example
    /// ```
    /// let s = kaigo_seikyu::screen::Screen::new("t").button("next", "次へ");
    /// assert_eq!(s.button_named("次へ"), Some("next"));
    /// ```
    pub fn button_named(&self, label: &str) -> Option<&'static str> {
        self.buttons().find(|b| b.label == label).map(|b| b.name)
    }

    /// Checks a submitted form against this screen (UI-02): the button must be one the screen
    /// offers, every field name one it has (and not a value shown read-only), every required
    /// field filled (but for a button that leaves the screen, [`Button::leaves`]), no value
    /// longer than its field allows, a select or radio value one of its options. Checked before any value is parsed, so nothing is hashed for a form that fails
    /// (WEB-04).
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::screen::{Field, Form, FormError, Screen};
    /// let s = Screen::new("t").field(Field::email("address", "アドレス").required()).button("next", "次へ");
    /// assert_eq!(s.accept(&Form::new("next").with("address", "a@jp")), Ok(()));
    /// assert_eq!(s.accept(&Form::new("next")), Err(FormError::Missing("address".into())));
    /// assert_eq!(s.accept(&Form::new("send")), Err(FormError::NoSuchButton("send".into())));
    /// assert_eq!(
    ///     s.accept(&Form::new("next").with("address", "a@jp").with("x", "1")),
    ///     Err(FormError::UnknownField("x".into()))
    /// );
    /// ```
    pub fn accept(&self, form: &Form) -> Result<(), FormError> {
        if !self.buttons().any(|b| b.name == form.button) {
            return Err(FormError::NoSuchButton(form.button.clone()));
        }
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in &form.values {
            if seen.contains(&name.as_str()) {
                return Err(FormError::Repeated(name.clone()));
            }
            seen.push(name);
            let field = self
                .fields()
                .find(|f| f.name == name && f.kind != FieldKind::Shown)
                .ok_or_else(|| FormError::UnknownField(name.clone()))?;
            if field.max_len.is_some_and(|max| value.chars().count() > max)
                || value.len() > Form::MAX_VALUE_BYTES
            {
                return Err(FormError::TooLong(name.clone()));
            }
            if matches!(field.kind, FieldKind::Select | FieldKind::Radio)
                && !value.is_empty()
                && !field.options.iter().any(|o| &o.value == value)
            {
                return Err(FormError::NotAnOption(name.clone()));
            }
        }
        if self.buttons().any(|b| b.name == form.button && b.leaves()) {
            return Ok(());
        }
        match self
            .fields()
            .find(|f| f.required && form.get(f.name).is_none_or(|v| v.trim().is_empty()))
        {
            Some(missing) => Err(FormError::Missing(missing.name.to_owned())),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Screen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ScreenKind::Page => writeln!(f, "【{}】", self.title)?,
            ScreenKind::Dialog => writeln!(f, "〔{}〕", self.title)?,
        }
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "{}{step}", if i == self.current { "▶ " } else { "  " })?;
        }
        let mut buttons: Vec<String> = Vec::new();
        for node in &self.nodes {
            if let Node::Button(b) = node {
                buttons.push(format!("[{}]", b.label));
                continue;
            }
            if !buttons.is_empty() {
                writeln!(f, "{}", buttons.join(" "))?;
                buttons.clear();
            }
            match node {
                Node::Text(t) => writeln!(f, "{}", t.text)?,
                Node::Field(field) => write_field(f, field)?,
                Node::Help(h) => write_help(f, h)?,
                Node::Row(cells) => {
                    let line: Vec<String> = cells.iter().map(cell).collect();
                    writeln!(f, "{}", line.join(" | "))?;
                    for cell in cells {
                        if let Node::Help(h) = cell {
                            write_help(f, h)?;
                        }
                    }
                }
                Node::Button(_) => {}
            }
        }
        if !buttons.is_empty() {
            writeln!(f, "{}", buttons.join(" "))?;
        }
        Ok(())
    }
}

/// A help in the transcript: `[?] title`, then its lines indented.
fn write_help(f: &mut fmt::Formatter<'_>, help: &Help) -> fmt::Result {
    writeln!(f, "[?] {}", help.title)?;
    for line in &help.body {
        writeln!(f, "  {line}")?;
    }
    Ok(())
}

/// A cell of a [`Node::Row`] in the transcript: a text, a button as `[label]`, a field by its
/// value (its label when it has none), a help as `[?]` (the row's helps are printed in full
/// under it).
fn cell(node: &Node) -> String {
    match node {
        Node::Text(t) => t.text.clone(),
        Node::Button(b) => format!("[{}]", b.label),
        Node::Field(field) => field.value.clone().unwrap_or_else(|| field.label.clone()),
        Node::Help(_) => "[?]".to_owned(),
        Node::Row(cells) => cells.iter().map(cell).collect::<Vec<_>>().join(" | "),
    }
}

/// A field in the transcript: `《label》 value`; a select's or radio group's options under its
/// label (if it has one), `●` for the chosen one and `○` for the others, each with its notes
/// indented; a checkbox as `☑`/`☐` and its label.
fn write_field(f: &mut fmt::Formatter<'_>, field: &Field) -> fmt::Result {
    match field.kind {
        FieldKind::Checkbox => {
            let mark = if field.value.is_some() { "☑" } else { "☐" };
            writeln!(f, "{mark} {}", field.label)
        }
        FieldKind::Select | FieldKind::Radio => {
            if !field.label.is_empty() {
                writeln!(f, "《{}》", field.label)?;
            }
            for option in &field.options {
                let chosen = field.value.as_deref() == Some(option.value.as_str());
                writeln!(f, "{} {}", if chosen { "●" } else { "○" }, option.label)?;
                for note in &option.notes {
                    writeln!(f, "  {note}")?;
                }
            }
            Ok(())
        }
        _ => match &field.value {
            Some(value) => writeln!(f, "《{}》 {value}", field.label),
            None => writeln!(f, "《{}》", field.label),
        },
    }
}

/// A submitted form (UI-02): the button pressed and field name → value, as a browser posts it.
/// The flow turns it into its typed input; see [`Screen::accept`].
///
/// Its `Debug` prints field names only, never values: a form may carry a password.
///
/// # Example
/// ```
/// use kaigo_seikyu::screen::Form;
/// let form = Form::new("next").with("office", "1311111111").with("password", "Secret123");
/// assert_eq!(form.get("office"), Some("1311111111"));
/// assert!(!format!("{form:?}").contains("Secret123"));
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Form {
    /// The name of the button pressed.
    pub button: String,
    values: Vec<(String, String)>,
}

impl Form {
    /// The longest value a form may carry for any field, in bytes, whatever the field says: a
    /// bound before anything is parsed or hashed (WEB-04).
    pub const MAX_VALUE_BYTES: usize = 1024;

    /// A form sent with the button `button` and no fields.
    pub fn new(button: impl Into<String>) -> Self {
        Form {
            button: button.into(),
            values: Vec::new(),
        }
    }

    /// Adds a field's value.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.values.push((name.into(), value.into()));
        self
    }

    /// The value sent for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Parses the value sent for `name` (empty if none was sent); a value that does not parse
    /// is [`FormError::Invalid`], naming the field.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{screen::{Form, FormError}, values::OfficeNumber};
    /// let form = Form::new("next").with("office", "13111");
    /// let err = form.parse::<OfficeNumber>("office").unwrap_err();
    /// assert!(matches!(err, FormError::Invalid { ref field, .. } if field == "office"));
    /// ```
    pub fn parse<T>(&self, name: &str) -> Result<T, FormError>
    where
        T: std::str::FromStr<Err = ValueError>,
    {
        self.text(name).parse().map_err(|error| FormError::Invalid {
            field: name.to_owned(),
            error,
        })
    }

    /// The value sent for `name`, or the empty string.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// Whether a checkbox named `name` was sent checked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The field names and values, in the order sent.
    pub fn values(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl fmt::Debug for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.values.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Form")
            .field("button", &self.button)
            .field("fields", &names)
            .finish()
    }
}

/// Why a form does not fit its screen (UI-02). Each names the field or button; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// The screen offers no button of this name (or the flow is not at that screen).
    #[error("the screen offers no button `{0}`")]
    NoSuchButton(String),
    /// The screen has no input field of this name.
    #[error("the screen has no field `{0}`")]
    UnknownField(String),
    /// A field was sent twice.
    #[error("the field `{0}` was sent twice")]
    Repeated(String),
    /// A required field was missing or empty.
    #[error("the field `{0}` is required")]
    Missing(String),
    /// A value longer than its field allows.
    #[error("the field `{0}` is too long")]
    TooLong(String),
    /// A select or radio value that is not one of the field's options.
    #[error("the field `{0}` has no such option")]
    NotAnOption(String),
    /// A value that did not parse (VAL).
    #[error("the field `{field}`: {error}")]
    Invalid {
        /// The field.
        field: String,
        /// Why it did not parse.
        error: ValueError,
    },
}

impl FormError {
    /// The field or button it names.
    pub fn name(&self) -> &str {
        match self {
            FormError::NoSuchButton(n)
            | FormError::UnknownField(n)
            | FormError::Repeated(n)
            | FormError::Missing(n)
            | FormError::TooLong(n)
            | FormError::NotAnOption(n)
            | FormError::Invalid { field: n, .. } => n,
        }
    }

    /// The message for the screen, in Japanese.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::screen::FormError;
    /// assert_eq!(FormError::Missing("office".into()).message(), "必須項目が入力されていません。（office）");
    /// ```
    pub fn message(&self) -> String {
        let what = match self {
            FormError::NoSuchButton(_) => "この画面では実行できない操作です。",
            FormError::UnknownField(_) => "この画面にない項目が送信されました。",
            FormError::Repeated(_) => "同じ項目が二度送信されました。",
            FormError::Missing(_) => "必須項目が入力されていません。",
            FormError::TooLong(_) => "入力が長すぎます。",
            FormError::NotAnOption(_) => "選択肢にない値が送信されました。",
            FormError::Invalid { error, .. } => return error.message(),
        };
        format!("{what}（{}）", self.name())
    }
}

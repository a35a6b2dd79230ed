//! HTML from typed screens (UI-01, WEB-06): one renderer for any [`Screen`], and the layout
//! around it.
//!
//! Plain string building with one escaping function ([`escape`]) through which every value from
//! a screen, a mail or a notice passes: the renderer walks the screen's nodes in order and
//! writes each as its element, so a template language would add a compile step and a second
//! description of the same nodes for nothing. No script, no inline style, no external resource:
//! the style sheet is the crate's own, at [`STYLE_PATH`].

use std::fmt::Write;

use kaigo_seikyu::screen::{Button, Field, FieldKind, Help, Node, Screen, ScreenKind};

/// Where the style sheet is served.
pub const STYLE_PATH: &str = "/static/style.css";

/// The style sheet.
pub const STYLE: &str = include_str!("style.css");

/// The name of the hidden field carrying the CSRF token (WEB-02).
pub const CSRF_FIELD: &str = "_csrf";

/// The name a submit button sends its input's name under.
pub const BUTTON_FIELD: &str = "_button";

/// Escapes text for HTML content and attribute values.
///
/// # Example
/// ```
/// assert_eq!(kaigo_seikyu_web::render::escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What the bar under the header shows.
#[derive(Debug, Clone, Copy)]
pub enum Bar<'a> {
    /// Nothing: before login.
    None,
    /// The office's menu (お知らせ, ユーザ情報変更, 証明書, ログアウト) and who is logged in.
    Office {
        /// The user ID shown.
        user: &'a str,
    },
    /// A federation's reviewer: its federation and ログアウト.
    Reviewer {
        /// The reviewer's name.
        name: &'a str,
        /// The federation's name.
        federation: &'a str,
    },
}

/// The page around a screen: header (介護保険, 時刻), the menu bar, the body, the footer.
#[derive(Debug, Clone, Copy)]
pub struct Layout<'a> {
    /// The title of the page (the screen's title).
    pub title: &'a str,
    /// 時刻, as shown.
    pub time: &'a str,
    /// The bar under the header.
    pub bar: Bar<'a>,
    /// The session's CSRF token, for the menu bar's forms.
    pub csrf: &'a str,
    /// Whether to link the development mailbox.
    pub mailbox: bool,
}

impl Layout<'_> {
    /// The whole page with `main` as its body.
    pub fn page(&self, main: &str) -> String {
        let mut h = String::with_capacity(main.len() + 2048);
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{} | 介護電子請求受付システム</title>\
             <link rel=\"stylesheet\" href=\"{STYLE_PATH}\"></head><body>\
             <header class=\"site\"><div class=\"brand\"><span class=\"logo\">介護保険</span>\
             <span class=\"system\">電子請求受付システム</span></div>\
             <div class=\"clock\"><span class=\"clock-label\">時刻</span> <span class=\"clock-value\">{}</span></div></header>",
            escape(self.title),
            escape(self.time)
        );
        match self.bar {
            Bar::None => {}
            Bar::Office { user } => {
                let _ = write!(
                    h,
                    "<nav class=\"menu\"><form method=\"post\" action=\"/menu\">{}\
                     <button type=\"submit\" name=\"{BUTTON_FIELD}\" value=\"notices\">お知らせ</button>\
                     <button type=\"submit\" name=\"{BUTTON_FIELD}\" value=\"user_info\">ユーザ情報変更</button>\
                     <button type=\"submit\" name=\"{BUTTON_FIELD}\" value=\"certificate\">証明書</button>\
                     <button type=\"submit\" name=\"{BUTTON_FIELD}\" value=\"logout\" formnovalidate>ログアウト</button>\
                     </form><span class=\"who\">ユーザID：{}</span></nav>",
                    csrf_input(self.csrf),
                    escape(user)
                );
            }
            Bar::Reviewer { name, federation } => {
                let _ = write!(
                    h,
                    "<nav class=\"menu reviewer\"><span class=\"who\">{}　審査者：{}</span>\
                     <form method=\"post\" action=\"/federation\">{}\
                     <button type=\"submit\" name=\"{BUTTON_FIELD}\" value=\"logout\" formnovalidate>ログアウト</button>\
                     </form></nav>",
                    escape(federation),
                    escape(name),
                    csrf_input(self.csrf)
                );
            }
        }
        h.push_str("<main>");
        h.push_str(main);
        h.push_str("</main><footer class=\"site\"><a href=\"/\">電子請求受付システム トップ</a>");
        h.push_str(" <a href=\"/federation\">国保連合会の審査者はこちら</a>");
        if self.mailbox {
            h.push_str(" <a href=\"/mailbox\">開発用メールボックス</a>");
        }
        h.push_str("</footer></body></html>\n");
        h
    }
}

fn csrf_input(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{}\">",
        escape(token)
    )
}

/// A screen as HTML (WEB-06): its title, its step list with the current step marked, an error
/// message if any, then its nodes in order inside one form posting to `action` with the CSRF
/// token. A dialog is drawn as a box over a dimmed page.
pub fn screen(screen: &Screen, action: &str, csrf: &str, error: Option<&str>) -> String {
    let mut h = String::with_capacity(4096);
    let dialog = screen.kind == ScreenKind::Dialog;
    if dialog {
        h.push_str(
            "<div class=\"overlay\"><div class=\"dialog\" role=\"dialog\" aria-modal=\"true\">",
        );
        let _ = write!(
            h,
            "<h1 class=\"dialog-title\">{}</h1>",
            escape(&screen.title)
        );
    } else {
        let _ = write!(h, "<h1 class=\"title\">{}</h1>", escape(&screen.title));
    }
    if !screen.steps.is_empty() {
        h.push_str("<ol class=\"steps\">");
        for (i, step) in screen.steps.iter().enumerate() {
            if i == screen.current {
                let _ = write!(
                    h,
                    "<li class=\"current\" aria-current=\"step\">{}</li>",
                    escape(step)
                );
            } else {
                let _ = write!(h, "<li>{}</li>", escape(step));
            }
        }
        h.push_str("</ol>");
    }
    if let Some(error) = error {
        let _ = write!(h, "<p class=\"error\" role=\"alert\">{}</p>", escape(error));
    }
    let _ = write!(
        h,
        "<form method=\"post\" action=\"{}\" class=\"screen\">{}",
        escape(action),
        csrf_input(csrf)
    );
    let mut in_buttons = false;
    let mut in_rows = false;
    for node in &screen.nodes {
        let is_button = matches!(node, Node::Button(_));
        let is_row = matches!(node, Node::Row(_));
        if in_buttons && !is_button {
            h.push_str("</div>");
            in_buttons = false;
        }
        if in_rows && !is_row {
            h.push_str("</table>");
            in_rows = false;
        }
        match node {
            Node::Button(b) => {
                if !in_buttons {
                    h.push_str("<div class=\"buttons\">");
                    in_buttons = true;
                }
                button(&mut h, b);
            }
            Node::Row(cells) => {
                if !in_rows {
                    h.push_str("<table class=\"rows\">");
                    in_rows = true;
                }
                h.push_str("<tr>");
                for cell in cells {
                    h.push_str("<td>");
                    match cell {
                        // In the row, the [?] mark; its content on a line of its own under the
                        // row, as the transcript has it.
                        Node::Help(help) => {
                            let _ = write!(
                                h,
                                "<span class=\"help-mark\">?</span><span class=\"help-cell-title\">{}</span>",
                                escape(&help.title)
                            );
                        }
                        other => node_html(&mut h, other),
                    }
                    h.push_str("</td>");
                }
                h.push_str("</tr>");
                for cell in cells {
                    if let Node::Help(help) = cell {
                        let _ =
                            write!(h, "<tr class=\"help-row\"><td colspan=\"{}\">", cells.len());
                        help_html(&mut h, help);
                        h.push_str("</td></tr>");
                    }
                }
            }
            other => node_html(&mut h, other),
        }
    }
    if in_buttons {
        h.push_str("</div>");
    }
    if in_rows {
        h.push_str("</table>");
    }
    h.push_str("</form>");
    if dialog {
        h.push_str("</div></div>");
    }
    h
}

fn node_html(h: &mut String, node: &Node) {
    match node {
        Node::Text(t) => {
            let _ = write!(
                h,
                "<p class=\"text\" data-id=\"{}\">{}</p>",
                escape(t.id),
                escape(&t.text)
            );
        }
        Node::Field(f) => field(h, f),
        Node::Button(b) => button(h, b),
        Node::Help(help) => help_html(h, help),
        Node::Row(cells) => {
            for cell in cells {
                node_html(h, cell);
            }
        }
    }
}

fn button(h: &mut String, b: &Button) {
    let class = if b.link { "link" } else { "button" };
    let novalidate = if b.leaves() { " formnovalidate" } else { "" };
    let _ = write!(
        h,
        "<button type=\"submit\" class=\"{class}\" name=\"{BUTTON_FIELD}\" value=\"{}\"{novalidate}>{}</button>",
        escape(b.name),
        escape(&b.label)
    );
}

fn help_html(h: &mut String, help: &Help) {
    let _ = write!(
        h,
        "<details class=\"help\"><summary title=\"{}\"><span class=\"help-label\">{}</span> <span class=\"help-mark\">?</span></summary>\
         <div class=\"help-body\"><p class=\"help-title\">{}</p>",
        escape(&help.title),
        escape(&help.label),
        escape(&help.title)
    );
    for line in &help.body {
        let _ = write!(h, "<p>{}</p>", escape(line));
    }
    h.push_str("</div></details>");
}

fn field(h: &mut String, f: &Field) {
    let name = escape(f.name);
    let label = escape(&f.label);
    let required = if f.required { " required" } else { "" };
    let maxlength = f
        .max_len
        .map(|n| format!(" maxlength=\"{n}\""))
        .unwrap_or_default();
    let value = f.value.as_deref().map(escape).unwrap_or_default();
    match f.kind {
        FieldKind::Shown => {
            let _ = write!(
                h,
                "<div class=\"field shown\" data-name=\"{name}\"><span class=\"label\">{label}</span><span class=\"value\">{value}</span></div>"
            );
        }
        FieldKind::Text | FieldKind::Email | FieldKind::Password | FieldKind::Code => {
            let (kind, extra) = match f.kind {
                FieldKind::Email => ("email", " autocomplete=\"email\""),
                FieldKind::Password => ("password", " autocomplete=\"off\""),
                FieldKind::Code => (
                    "text",
                    " inputmode=\"numeric\" autocomplete=\"one-time-code\"",
                ),
                _ => ("text", ""),
            };
            // UI-04: a password field never comes back filled, whatever the screen says.
            let value = if f.kind == FieldKind::Password {
                String::new()
            } else {
                format!(" value=\"{value}\"")
            };
            let _ = write!(
                h,
                "<label class=\"field\"><span class=\"label\">{label}</span>\
                 <input type=\"{kind}\" name=\"{name}\"{value}{maxlength}{required}{extra}></label>"
            );
        }
        FieldKind::Select => {
            let _ = write!(
                h,
                "<label class=\"field\"><span class=\"label\">{label}</span><select name=\"{name}\"{required}><option value=\"\">選択してください</option>"
            );
            for o in &f.options {
                let selected = if f.value.as_deref() == Some(o.value.as_str()) {
                    " selected"
                } else {
                    ""
                };
                let _ = write!(
                    h,
                    "<option value=\"{}\"{selected}>{}</option>",
                    escape(&o.value),
                    escape(&o.label)
                );
            }
            h.push_str("</select></label>");
        }
        FieldKind::Radio => {
            h.push_str("<fieldset class=\"field radio\">");
            if !f.label.is_empty() {
                let _ = write!(h, "<legend class=\"label\">{label}</legend>");
            }
            for o in &f.options {
                let checked = if f.value.as_deref() == Some(o.value.as_str()) {
                    " checked"
                } else {
                    ""
                };
                let _ = write!(
                    h,
                    "<label class=\"option\"><input type=\"radio\" name=\"{name}\" value=\"{}\"{checked}{required}> {}</label>",
                    escape(&o.value),
                    escape(&o.label)
                );
                for note in &o.notes {
                    let _ = write!(h, "<p class=\"note\">{}</p>", escape(note));
                }
            }
            h.push_str("</fieldset>");
        }
        FieldKind::Checkbox => {
            let checked = if f.value.is_some() { " checked" } else { "" };
            let _ = write!(
                h,
                "<label class=\"field checkbox\"><input type=\"checkbox\" name=\"{name}\" value=\"on\"{checked}> {label}</label>"
            );
        }
    }
}

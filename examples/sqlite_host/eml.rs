//! Mails as `.eml` files (RFC 5322 with UTF-8 headers, RFC 6532), written atomically.

use std::io::Write as _;
use std::path::Path;

use super::{HostError, Outgoing, Problem};

/// The sender of every mail.
const FROM: &str = "介護電子請求受付システム <noreply@kaigo-seikyu.invalid>";

/// The message: headers, a blank line, the body with CRLF line ends.
fn render(outgoing: &Outgoing) -> String {
    let Outgoing {
        id,
        queued_at,
        mail,
    } = outgoing;
    let date = chrono::DateTime::parse_from_rfc3339(queued_at)
        .map_or_else(|_| queued_at.clone(), |d| d.to_rfc2822());
    let headers = [
        format!("Message-ID: <outbox-{id}@kaigo-seikyu.invalid>"),
        format!("Date: {date}"),
        format!("From: {FROM}"),
        format!("To: {}", mail.to),
        format!("Subject: {}", mail.subject.replace(['\r', '\n'], " ")),
        "MIME-Version: 1.0".to_owned(),
        "Content-Type: text/plain; charset=UTF-8".to_owned(),
        "Content-Transfer-Encoding: 8bit".to_owned(),
    ];
    let body = mail.body.replace("\r\n", "\n").replace('\n', "\r\n");
    format!("{}\r\n\r\n{body}\r\n", headers.join("\r\n"))
}

/// Writes an outbox mail to `dir/<id>.eml`: to a temporary file, flushed, then renamed, so the
/// file is whole or absent. Writing it again (after a crash before the mail was marked delivered)
/// replaces it with the same bytes.
pub fn write(dir: &Path, outgoing: &Outgoing) -> Result<(), HostError> {
    let id = outgoing.id;
    let path = dir.join(format!("{id:010}.eml"));
    let tmp = dir.join(format!(".{id:010}.eml.tmp"));
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e: std::io::Error| HostError {
            path: p,
            problem: Problem::Io(e.to_string()),
        }
    };
    let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(render(outgoing).as_bytes())
        .map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))
}

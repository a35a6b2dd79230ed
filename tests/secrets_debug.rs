//! SEC-01: no `Debug` of a flow input, or of any other public type that holds a password, a code,
//! an OTP or a security code, shows the secret.
//!
//! Two tests: one builds every such type with secrets in it and reads its `Debug`; the other reads
//! `src/` for the public input types (named `…Input` or `…Form`) and the public types with a
//! secret field, and fails when one is not covered by the first, so the next such type is caught.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use rand::SeedableRng;
use rand::rngs::StdRng;

use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::certificate::CertificateInput;
use kaigo_seikyu::challenge::Challenge;
use kaigo_seikyu::effect::Effect;
use kaigo_seikyu::flow::Cx;
use kaigo_seikyu::policy::HashingParams;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::reissue::{Applicant, ApplicationForm, Federation, ReissueLetter};
use kaigo_seikyu::reset::ResetInput;
use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, IssuedCode, SecretHasher};
use kaigo_seikyu::values::{
    ConfirmationCode, OneTimePassword, Password, Prefecture, SecurityCode, TemporaryPassword,
    UserId,
};
use kaigo_seikyu::{account::Account, first_login, grace, mail, reissue, security_emails};

/// Secrets no digit or letter sequence of a `Debug` output contains by chance.
const PASSWORD: &str = "Zq7Kq9Xw!v";
const NEW_PASSWORD: &str = "Hakko2026!Ww";
const CODE: &str = "8192";
const OTP: &str = "731946";
const SECURITY_CODE: &str = "5830";

/// Every covered type, as `module::Type` (the module path under `src/`), with its `Debug` output
/// for values built with the secrets above; then the secrets generated on the way (a temporary
/// password, an issued OTP, a PHC string), which no output may show either.
fn covered() -> (Vec<(&'static str, String)>, Vec<String>) {
    let code: ConfirmationCode = CODE.parse().unwrap();
    let otp: OneTimePassword = OTP.parse().unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    let hasher = Argon2Hasher::new(HashingParams::insecure_fast(), CodeKey::from_bytes([9; 32]));
    let user: UserId = "KJ131311111111".parse().unwrap();
    let temporary = TemporaryPassword::generate(&mut rng);
    let (issued_otp, issued) = IssuedCode::issue::<6, _>(
        &mut rng,
        &hasher,
        utc("2026-01-10T10:00:00+09:00"),
        chrono::TimeDelta::minutes(30),
    );
    let hash = hasher.hash(PASSWORD.as_bytes(), &[3; 16]);
    let policy = Policy::insecure_fast_hashing();
    let mut cx = Cx {
        now: utc("2026-01-10T10:00:00+09:00"),
        rng: &mut rng,
        policy: &policy,
        hasher: &hasher,
    };
    let (challenge, effect) = Challenge::<6>::send("a@jp".parse().unwrap(), &mut cx);
    let Effect::Mail(challenge_mail) = &effect else {
        panic!("a mail: {effect:?}")
    };
    let letter = ReissueLetter {
        number: "U202601000001".parse().unwrap(),
        federation: Federation::of(Prefecture::TOKYO),
        postal_address: "東京都千代田区".into(),
        office_name: "請求事業所A".into(),
        office: "1311111111".parse().unwrap(),
        user_id: user,
        temporary_password: temporary.clone(),
        expires_at: utc("2026-01-17T10:00:00+09:00"),
    };
    let generated = vec![
        temporary.reveal().to_owned(),
        issued_otp.reveal().to_owned(),
        hash.as_phc().to_owned(),
        challenge_mail.code().expect("the OTP").to_owned(),
    ];
    let types = vec![
        (
            "screen::Form",
            format!(
                "{:?}",
                kaigo_seikyu::screen::Form::new("change")
                    .with("new_password", PASSWORD)
                    .with("code", CODE)
            ),
        ),
        (
            "reset::ResetInput",
            format!(
                "{:?} {:?}",
                ResetInput::EnterOtp(otp.clone()),
                ResetInput::ChoosePassword {
                    new: Password::new(PASSWORD),
                    confirm: Password::new(NEW_PASSWORD),
                }
            ),
        ),
        (
            "reissue::Input",
            format!(
                "{:?} {:?}",
                reissue::Input::EnterCode(CODE),
                reissue::Input::ChoosePrefecture("13")
            ),
        ),
        (
            "reissue::ReissueInput",
            format!("{:?}", reissue::ReissueInput::EnterCode(code.clone())),
        ),
        (
            "reissue::ApplicationForm",
            format!(
                "{:?}",
                ApplicationForm {
                    applicant: Applicant::Office,
                    office_number: "1311111111",
                    notify: "a@jp",
                    notify_confirm: "a@jp",
                }
            ),
        ),
        ("reissue::ReissueLetter", format!("{letter:?}")),
        (
            "first_login::Form",
            format!(
                "{:?} {:?}",
                first_login::Form::ChangePassword {
                    current: PASSWORD,
                    new: NEW_PASSWORD,
                    confirm: NEW_PASSWORD,
                },
                first_login::Form::EnterCode(CODE)
            ),
        ),
        (
            "first_login::Input",
            format!(
                "{:?} {:?}",
                first_login::Form::ChangePassword {
                    current: PASSWORD,
                    new: NEW_PASSWORD,
                    confirm: NEW_PASSWORD,
                }
                .parse()
                .unwrap(),
                first_login::Input::EnterCode(code.clone())
            ),
        ),
        ("grace::Form", format!("{:?}", grace::Form::EnterCode(CODE))),
        (
            "grace::Input",
            format!("{:?}", grace::Input::EnterCode(code.clone())),
        ),
        (
            "security_emails::UserInput",
            format!(
                "{:?} {:?}",
                security_emails::UserInput::Otp(OTP),
                security_emails::UserInput::Code(CODE)
            ),
        ),
        (
            "security_emails::Input",
            format!(
                "{:?} {:?}",
                security_emails::Input::EnterOtp(otp.clone()),
                security_emails::Input::EnterCode(code.clone())
            ),
        ),
        (
            "certificate::CertificateInput",
            format!(
                "{:?}",
                CertificateInput::EnterPassword {
                    password: Password::new(PASSWORD),
                    confirm: Password::new(NEW_PASSWORD),
                }
            ),
        ),
        (
            "login::Input",
            format!(
                "{:?}",
                kaigo_seikyu::login::Input::EnterSecurityCode(SecurityCode::new(SECURITY_CODE))
            ),
        ),
        (
            "login::Start",
            format!(
                "{:?}",
                kaigo_seikyu::login::Start::Password {
                    user,
                    password: Password::new(PASSWORD),
                }
            ),
        ),
        // The login inputs: `Portal::login` and `login_security_code` take these as typed.
        (
            "values::password::Password",
            format!("{:?}", Password::new(PASSWORD)),
        ),
        (
            "values::password::SecurityCode",
            format!("{:?}", SecurityCode::new(SECURITY_CODE)),
        ),
        (
            "values::password::TemporaryPassword",
            format!("{temporary:?}"),
        ),
        ("values::code::Code", format!("{code:?} {otp:?}")),
        ("secret::IssuedCode", format!("{issued:?}")),
        ("secret::PasswordHash", format!("{hash:?}")),
        ("challenge::Challenge", format!("{challenge:?} {effect:?}")),
        (
            "account::Account",
            format!("{:?}", Account::new(user, hash.clone())),
        ),
        (
            "mail::Mail",
            format!(
                "{:?}",
                mail::confirmation_code_mail(&"a@jp".parse().unwrap(), &code, 30)
            ),
        ),
    ];
    (types, generated)
}

/// SEC-01: every covered type, built with secrets, prints none of them in `Debug` (the
/// 確認コード of `reissue::Input::EnterCode` was the last to leak).
#[test]
fn sec_01_no_input_debug_shows_a_secret() {
    let (types, generated) = covered();
    let fixed = [PASSWORD, NEW_PASSWORD, CODE, OTP, SECURITY_CODE];
    for (name, debug) in types {
        assert!(!debug.is_empty(), "{name}");
        for secret in fixed
            .iter()
            .copied()
            .chain(generated.iter().map(String::as_str))
        {
            assert!(
                !debug.contains(secret),
                "{name}'s Debug shows the secret {secret:?}: {debug}"
            );
        }
    }
}

/// The public types of one source file: `(name, whether a field holds a secret)`. A type's body
/// runs from its `pub struct`/`pub enum` line to the next line that is exactly `}` (rustfmt's
/// layout); a field holds a secret when a secret type follows `:` or `(` in it.
fn public_types(text: &str) -> Vec<(String, bool)> {
    const SECRETS: [&str; 7] = [
        "Password",
        "SecurityCode",
        "OneTimePassword",
        "ConfirmationCode",
        "TemporaryPassword",
        "Code<",
        "IssuedCode",
    ];
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let decl = line
            .strip_prefix("pub struct ")
            .or_else(|| line.strip_prefix("pub enum "));
        if let Some(rest) = decl {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let mut body = String::from(rest.get(name.len()..).unwrap_or(""));
            if !line.trim_end().ends_with(';') {
                i += 1;
                while i < lines.len() && lines[i] != "}" {
                    if !lines[i].trim_start().starts_with("//") {
                        body.push_str(lines[i]);
                        body.push('\n');
                    }
                    i += 1;
                }
            }
            let secret = SECRETS.iter().any(|s| {
                [": ", ": &", "(", ": Box<", ": Option<"].iter().any(|p| {
                    body.match_indices(&format!("{p}{s}")).any(|(at, m)| {
                        // `Password` must not be the start of `PasswordClause` or `PasswordHash`.
                        s.ends_with('<')
                            || !body[at + m.len()..]
                                .starts_with(|c: char| c.is_ascii_alphanumeric())
                    })
                })
            });
            out.push((name, secret));
        }
        i += 1;
    }
    out
}

/// SEC-01: every public input type (`…Input`, `…Form`) and every public type with a
/// secret field in `src/` is covered by [`sec_01_no_input_debug_shows_a_secret`]; a new one fails
/// here until it is added there.
#[test]
fn sec_01_every_input_and_secret_type_is_covered() {
    fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let covered: BTreeSet<&str> = covered().0.iter().map(|(name, _)| *name).collect();
    let mut found = BTreeSet::new();
    for file in files {
        let module = file
            .strip_prefix(&src)
            .unwrap()
            .with_extension("")
            .to_string_lossy()
            .replace(std::path::MAIN_SEPARATOR, "::");
        let module = module.strip_suffix("::mod").unwrap_or(&module).to_owned();
        for (name, secret) in public_types(&fs::read_to_string(&file).unwrap()) {
            if secret || name.ends_with("Input") || name.ends_with("Form") {
                found.insert(format!("{module}::{name}"));
            }
        }
    }
    // The scan itself must keep finding the types it exists for.
    for known in ["reissue::Input", "first_login::Input", "reset::ResetInput"] {
        assert!(found.contains(known), "the scan missed {known}: {found:?}");
    }
    let missing: Vec<&String> = found
        .iter()
        .filter(|name| !covered.contains(name.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "add these to covered() with secrets in them: {missing:?}"
    );
}

//! OPS-07 in the transaction core: every record a request reads is checked before any run sees
//! it. The record's key says its type; the type's [`Validate`] says whether it is possible under
//! the policy at the request's instant; the key says whose it is (an account stored under
//! another user's key is refused). A record that fails is [`StoreError::Corrupt`]: the request
//! commits nothing and sends nothing. [`record`] is public so a host can run the same checks
//! (on records it imports or audits).

use serde::de::DeserializeOwned;

use crate::account::Account;
use crate::effect::Queued;
use crate::reissue::ReissueApplication;
use crate::store::{Budget, FlowKind, Key, RateWindow, StoreError};
use crate::validate::{Check, Invalid, Validate};
use crate::values::ManagementNumber;

/// OPS-07: checks the record `bytes` read back at `key` as the transaction core checks every
/// record a request reads, before any step sees it: the key says its type, the type's
/// [`Validate`] whether it is possible under `check`, and the key whose it is. `Ok` when the
/// record may be obeyed; otherwise [`StoreError::Corrupt`] naming the key and the rule. A host
/// may run it over records it imports or audits.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, policy::Policy, store::{Key, StoreError}};
/// use kaigo_seikyu::{portal::validate, validate::Check};
/// let policy = Policy::default();
/// let check = Check { now: utc("2026-01-10T10:00:00+09:00"), policy: &policy };
/// let user = "KJ131311111111".parse()?;
/// let hash = serde_json::from_str(r#""$argon2id$stored""#)?;
/// let mut account = kaigo_seikyu::account::Account::new(user, hash);
/// let key = Key::Account(user);
/// assert!(validate::record(&key, &serde_json::to_vec(&account)?, &check).is_ok());
/// account.failures = 9; // the third consecutive failure locks and starts again from zero
/// let got = validate::record(&key, &serde_json::to_vec(&account)?, &check);
/// assert!(matches!(got, Err(StoreError::Corrupt(why)) if why.contains("OPS-07")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn record(key: &Key, bytes: &[u8], check: &Check<'_>) -> Result<(), StoreError> {
    let corrupt = |why: Invalid| StoreError::Corrupt(format!("{key}: {why} (OPS-07)"));
    match key {
        Key::Account(user) => {
            let account: Account = parse(key, bytes)?;
            if account.user_id != *user {
                return Err(corrupt(Invalid::new("an account of another user ID")));
            }
            account.validate(check).map_err(corrupt)
        }
        Key::Flow(kind, _) => flow(*kind, bytes, check).map_err(corrupt),
        Key::Budget(budget) => {
            let window: RateWindow = parse(key, bytes)?;
            let policy = check.policy;
            let limit = match budget {
                Budget::CodeMails(_) => policy.max_code_mails_per_address_per_hour,
                Budget::WrongCodes(_) | Budget::WrongResetCodes(..) | Budget::WrongCodesAt(_) => {
                    policy.max_wrong_codes_per_hour
                }
            };
            window.within(limit).map_err(corrupt)
        }
        Key::Application(number) => {
            let application: ReissueApplication = parse(key, bytes)?;
            if application.number != *number {
                return Err(corrupt(Invalid::new(
                    "an application under another management number",
                )));
            }
            Ok(())
        }
        Key::Queue(..) => {
            let entry: crate::reissue::QueueEntry = parse(key, bytes)?;
            if entry.key() != *key {
                return Err(corrupt(Invalid::new("a queue entry under another key")));
            }
            Ok(())
        }
        Key::Pending(..) => parse::<ManagementNumber>(key, bytes).map(drop),
        Key::Sequence(_) => parse::<u32>(key, bytes).map(drop),
        Key::Certificates(_) => parse::<crate::certificate::Certificates>(key, bytes).map(drop),
        Key::OfficeAccounts(_) => parse::<crate::account::OfficeAccounts>(key, bytes).map(drop),
        Key::Outbox(_) => Queued::from_bytes(bytes).map(drop),
    }
}

/// The flow state of `kind`, parsed and checked.
fn flow(kind: FlowKind, bytes: &[u8], check: &Check<'_>) -> Result<(), Invalid> {
    fn one<F: DeserializeOwned + Validate>(bytes: &[u8], check: &Check<'_>) -> Result<(), Invalid> {
        let state: F = serde_json::from_slice(bytes).map_err(|e| Invalid::new(e.to_string()))?;
        state.validate(check)
    }
    match kind {
        FlowKind::Login => one::<crate::login::Login>(bytes, check),
        FlowKind::FirstLogin => one::<crate::first_login::FirstLogin>(bytes, check),
        FlowKind::Grace => one::<crate::grace::Grace>(bytes, check),
        FlowKind::SecurityEmails => {
            one::<crate::security_emails::SecurityEmailSetting>(bytes, check)
        }
        FlowKind::Reset => one::<crate::reset::Reset>(bytes, check),
        FlowKind::Reissue => one::<crate::reissue::Reissue>(bytes, check),
        FlowKind::Certificate => one::<crate::certificate::CertificateApplication>(bytes, check),
    }
}

fn parse<T: DeserializeOwned>(key: &Key, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("{key}: {e}")))
}

//! The policy: every date, lifetime and limit of the rules as one value (CAL-02 … CAL-05).
//!
//! `Policy::default()` is the December 2025 release. A later release changes this data only.

use chrono::{NaiveDate, TimeDelta};
use serde::{Deserialize, Serialize};

use crate::calendar::{DateRange, Instant, start_of};
use crate::values::{PasswordRules, Yen};

/// Everything the rules leave to data (CAL-05).
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, policy::Policy, values::Yen};
/// let policy = Policy::default();
/// assert!(policy.grace_allows(utc("2026-01-31T23:59:59.999+09:00")));
/// assert!(!policy.grace_allows(utc("2026-02-01T00:00:00+09:00")));
/// assert_eq!(policy.fee_at(utc("2026-03-31T23:59:59+09:00")), Yen(13_200));
/// assert_eq!(policy.fee_at(utc("2026-04-01T00:00:00+09:00")), Yen(7_800));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// CAL-02: the last JST day an existing office may log in without a security email.
    pub grace_last_day: NaiveDate,
    /// CAL-03: the JST days the fee-change notice is shown.
    pub fee_notice_window: DateRange,
    /// CAL-04: the certificate fee schedule.
    pub fee: FeeSchedule,
    /// FL-05, RS-04, RI-04, SE-06: how long a code or one-time password is valid, in minutes.
    pub code_lifetime_minutes: u32,
    /// RS-07: how long the reset screen may take after the OTP was verified, in minutes.
    pub reset_screen_minutes: u32,
    /// OPS-02: how long a flow lives after its last step, in minutes: its record dies then
    /// (answers as expired, SEC-03) and `purge` may remove it. Longer than every code and step
    /// deadline, so those answer first with their own errors.
    #[serde(default = "default_flow_lifetime_minutes")]
    pub flow_lifetime_minutes: u32,
    /// OPS-02: how long an outbox record waits for delivery after its commit, in days, before
    /// `purge` may remove it undelivered.
    #[serde(default = "default_outbox_retention_days")]
    pub outbox_retention_days: u32,
    /// RS-04, RI-04: wrong entries that void a code.
    pub max_wrong_code_entries: u8,
    /// SEC-04: codes one flow may send.
    pub max_codes_per_flow: u8,
    /// SEC-04: code mails one address may receive per hour.
    pub max_code_mails_per_address_per_hour: u8,
    /// SEC-07: wrong code entries per user ID (per notification address in RI) per hour.
    pub max_wrong_codes_per_hour: u8,
    /// LOGIN-02: consecutive failures that lock a user ID.
    pub lockout_failures: u8,
    /// LOGIN-02: how long a lock lasts, in minutes.
    pub lockout_minutes: u32,
    /// RI-10: days a reissued temporary password stays valid.
    pub temporary_password_days: u32,
    /// FEE-05: days before a certificate's end date the renewal notice starts.
    pub renewal_notice_days: u32,
    /// FEE-05: years a certificate is valid from issue.
    pub certificate_validity_years: u32,
    /// FL-08: the current version of the terms of use; a new one asks every office again.
    pub terms_version: u32,
    /// VAL-06, SEC-09: the password length bounds.
    pub password: PasswordRules,
    /// VAL-10: argon2id parameters for passwords and security codes.
    pub hashing: HashingParams,
    /// FEE-08: the operator's text behind `発行申請を行う前に ?` on 【証明書】, one line per entry
    /// ([`crate::help::precautions`]). The source does not print it: the default is ours (SPEC
    /// tag D); a policy stored without it reads the default.
    #[serde(default = "default_precautions")]
    pub precautions: Vec<String>,
}

/// OPS-02: a flow lives three days after its last step. Decision: the source gives no lifetime
/// to a flow without a code or step deadline (a certificate application may wait on its
/// confirmation screen for days), so this is longer than any of those and bounds the store all
/// the same; an operator may shorten it.
fn default_flow_lifetime_minutes() -> u32 {
    3 * 24 * 60
}

/// OPS-02: an undelivered outbox record is kept 30 days.
fn default_outbox_retention_days() -> u32 {
    30
}

/// FEE-08: the default text behind `発行申請を行う前に ?` (ours; the operator replaces it).
fn default_precautions() -> Vec<String> {
    [
        "証明書の発行申請を行う前に、以下の内容を必ず確認してください。",
        "・発行申請を行うと、証明書発行手数料が発生します。手数料は発行申請を行った日の手数料が適用されます。",
        "・発行申請の後に申請を取り消すことはできません。",
        "・証明書発行用パスワードは、証明書のインストール時に必要となります。忘れないよう大切に保管してください。",
        "・証明書の有効期間が近づくと、お知らせにて更新申請をご案内します。",
    ]
    .map(String::from)
    .to_vec()
}

/// The certificate fee schedule (CAL-04): `before` until the change day, `after` from it on.
///
/// # Example
/// ```
/// let fee = kaigo_seikyu::policy::Policy::default().fee;
/// assert_eq!(fee.before.to_string(), "13,200円");
/// assert_eq!(fee.after.to_string(), "7,800円");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeSchedule {
    /// The fee for applications submitted before `change_day`.
    pub before: Yen,
    /// The first JST day of the new fee.
    pub change_day: NaiveDate,
    /// The fee for applications submitted from `change_day` on.
    pub after: Yen,
}

/// argon2id cost parameters (VAL-10).
///
/// # Example
/// ```
/// use kaigo_seikyu::policy::HashingParams;
/// assert_eq!(HashingParams::default(), HashingParams { memory_kib: 19_456, iterations: 2, parallelism: 1 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashingParams {
    /// Memory cost in KiB (m).
    pub memory_kib: u32,
    /// Iterations (t).
    pub iterations: u32,
    /// Lanes (p).
    pub parallelism: u32,
}

impl Default for HashingParams {
    /// OWASP's password storage cheat sheet: m=19456 KiB, t=2, p=1.
    fn default() -> Self {
        HashingParams {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl HashingParams {
    /// The cheapest parameters argon2 accepts (m=8 KiB, t=1, p=1): for tests and demos only, never
    /// for real passwords.
    ///
    /// # Example
    /// ```
    /// let cheap = kaigo_seikyu::policy::HashingParams::insecure_fast();
    /// assert_eq!(cheap.memory_kib, 8);
    /// ```
    pub fn insecure_fast() -> Self {
        HashingParams {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        }
    }
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid constant date")
}

impl Default for Policy {
    /// The December 2025 (令和7年12月) release.
    fn default() -> Self {
        Policy {
            grace_last_day: day(2026, 1, 31),
            fee_notice_window: DateRange::new(day(2026, 1, 1), day(2026, 3, 31)),
            fee: FeeSchedule {
                before: Yen(13_200),
                change_day: day(2026, 4, 1),
                after: Yen(7_800),
            },
            code_lifetime_minutes: 30,
            reset_screen_minutes: 30,
            flow_lifetime_minutes: default_flow_lifetime_minutes(),
            outbox_retention_days: default_outbox_retention_days(),
            max_wrong_code_entries: 5,
            max_codes_per_flow: 5,
            max_code_mails_per_address_per_hour: 10,
            max_wrong_codes_per_hour: 10,
            lockout_failures: 3,
            lockout_minutes: 30,
            temporary_password_days: 30,
            renewal_notice_days: 90,
            certificate_validity_years: 3,
            terms_version: 1,
            password: PasswordRules::default(),
            hashing: HashingParams::default(),
            precautions: default_precautions(),
        }
    }
}

impl Policy {
    /// The default policy with [`HashingParams::insecure_fast`]: for tests, examples and demos.
    ///
    /// # Example
    /// ```
    /// let p = kaigo_seikyu::policy::Policy::insecure_fast_hashing();
    /// assert_eq!(p.grace_last_day, kaigo_seikyu::policy::Policy::default().grace_last_day);
    /// ```
    pub fn insecure_fast_hashing() -> Self {
        Policy {
            hashing: HashingParams::insecure_fast(),
            ..Policy::default()
        }
    }

    /// CAL-02: whether an existing office may still skip registering a security email at `now`.
    pub fn grace_allows(&self, now: Instant) -> bool {
        now < start_of(self.grace_last_day + TimeDelta::days(1))
    }

    /// CAL-03: whether the fee-change notice is shown at `now`.
    pub fn in_fee_notice_window(&self, now: Instant) -> bool {
        self.fee_notice_window.contains(now)
    }

    /// CAL-04: the certificate fee for an application submitted at `submitted`.
    pub fn fee_at(&self, submitted: Instant) -> Yen {
        if submitted < start_of(self.fee.change_day) {
            self.fee.before
        } else {
            self.fee.after
        }
    }

    /// A code's lifetime.
    pub fn code_lifetime(&self) -> TimeDelta {
        TimeDelta::minutes(i64::from(self.code_lifetime_minutes))
    }

    /// RS-07: the reset screen's lifetime after the OTP was verified.
    pub fn reset_screen_lifetime(&self) -> TimeDelta {
        TimeDelta::minutes(i64::from(self.reset_screen_minutes))
    }

    /// OPS-02: how long a flow lives after its last step.
    pub fn flow_lifetime(&self) -> TimeDelta {
        TimeDelta::minutes(i64::from(self.flow_lifetime_minutes))
    }

    /// OPS-02: how long an undelivered outbox record is kept.
    pub fn outbox_retention(&self) -> TimeDelta {
        TimeDelta::days(i64::from(self.outbox_retention_days))
    }

    /// LOGIN-02: a lock's length.
    pub fn lockout(&self) -> TimeDelta {
        TimeDelta::minutes(i64::from(self.lockout_minutes))
    }

    /// RI-10: a reissued temporary password's lifetime.
    pub fn temporary_password_lifetime(&self) -> TimeDelta {
        TimeDelta::days(i64::from(self.temporary_password_days))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::utc;

    /// CAL-02: the grace period ends with 2026-01-31 JST, inclusive to the last instant.
    #[test]
    fn cal_02_grace_boundary() {
        let p = Policy::default();
        assert!(p.grace_allows(utc("2025-12-01T00:00:00+09:00")));
        assert!(p.grace_allows(utc("2026-01-31T23:59:59.999+09:00")));
        assert!(p.grace_allows(utc("2026-01-31T14:59:59.999Z")));
        assert!(!p.grace_allows(utc("2026-02-01T00:00:00+09:00")));
        assert!(!p.grace_allows(utc("2026-01-31T15:00:00Z")));
    }

    /// CAL-03: the notice window is 2026-01-01 to 2026-03-31 JST inclusive.
    #[test]
    fn cal_03_notice_window() {
        let p = Policy::default();
        assert!(!p.in_fee_notice_window(utc("2025-12-31T23:59:59+09:00")));
        assert!(!p.in_fee_notice_window(utc("2025-12-31T14:59:59Z")));
        assert!(p.in_fee_notice_window(utc("2026-01-01T00:00:00+09:00")));
        assert!(p.in_fee_notice_window(utc("2025-12-31T15:00:00Z")));
        assert!(p.in_fee_notice_window(utc("2026-03-31T23:59:59+09:00")));
        assert!(!p.in_fee_notice_window(utc("2026-04-01T00:00:00+09:00")));
        assert!(!p.in_fee_notice_window(utc("2026-03-31T15:00:00Z")));
    }

    /// CAL-04: the fee by the submit instant: 13,200円 before 2026-04-01T00:00+09:00, 7,800円 from it.
    #[test]
    fn cal_04_fee_boundary() {
        let p = Policy::default();
        assert_eq!(p.fee_at(utc("2026-03-31T23:59:59.999+09:00")), Yen(13_200));
        assert_eq!(p.fee_at(utc("2026-03-31T14:59:59Z")), Yen(13_200));
        assert_eq!(p.fee_at(utc("2026-04-01T00:00:00+09:00")), Yen(7_800));
        assert_eq!(p.fee_at(utc("2026-03-31T15:00:00Z")), Yen(7_800));
        assert_eq!(p.fee_at(utc("2025-12-20T10:00:00+09:00")), Yen(13_200));
    }

    /// CAL-05: the release's dates and limits are data: a later release changes the policy only.
    #[test]
    fn cal_05_policy_is_data() {
        let p = Policy::default();
        assert_eq!(p.code_lifetime(), TimeDelta::minutes(30));
        assert_eq!(p.lockout_failures, 3);
        assert_eq!(p.lockout(), TimeDelta::minutes(30));
        assert_eq!(p.max_wrong_code_entries, 5);
        assert_eq!(
            p.hashing,
            HashingParams {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1
            }
        );
        let later = Policy {
            grace_last_day: day(2026, 2, 28),
            ..Policy::default()
        };
        assert!(later.grace_allows(utc("2026-02-15T12:00:00+09:00")));
        assert!(!p.grace_allows(utc("2026-02-15T12:00:00+09:00")));
        let shifted = Policy {
            fee: FeeSchedule {
                change_day: day(2026, 5, 1),
                ..p.fee
            },
            ..Policy::default()
        };
        assert_eq!(
            shifted.fee_at(utc("2026-04-15T00:00:00+09:00")),
            Yen(13_200)
        );
    }
}

//! OPS-07: a persisted record read back is checked for what its type alone can't say.
//!
//! A record that parses may still be impossible: a wrong-entry counter past the policy's limit, a
//! deadline later than the policy allows from its start, a witness of
//! another user than the flow's, a record stored under another key than its own. Such a record
//! was tampered with or corrupted; obeying it could break a rule (more guesses, a longer-lived
//! code). Every record type a step reads implements [`Validate`], beside the type; the
//! transaction core checks every record it reads, under the policy and the request's instant,
//! and refuses the request with
//! [`StoreError::Corrupt`](crate::store::StoreError::Corrupt) when one fails: nothing is written and
//! nothing is sent.
//!
//! What no check can see is a change that stays within what an honest record could hold (a
//! counter lowered, a start moved within its window): the store is trusted for that. The checks
//! close what would otherwise be obeyed beyond the policy.

use std::fmt;

use crate::calendar::Instant;
use crate::policy::Policy;

/// How far another server's clock may run ahead of this one's: a deadline set there from its
/// own `now` is still accepted here within this margin. Starts are never compared with `now`
/// (a record written by a server whose clock runs ahead is not corrupt); deadlines are compared
/// with their stored start where there is one.
pub const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// What a record is checked against: the policy in force and the request's instant.
///
/// # Example
/// ```
/// use kaigo_seikyu::{calendar::utc, policy::Policy, validate::Check};
/// let policy = Policy::default();
/// let check = Check { now: utc("2026-01-10T10:00:00+09:00"), policy: &policy };
/// assert!(check.at_most("wrong", 5, 5).is_ok());
/// assert!(check.at_most("wrong", 6, 5).is_err());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    /// The instant of the request.
    pub now: Instant,
    /// The policy in force.
    pub policy: &'a Policy,
}

/// Why a record read back is impossible (OPS-07). It names the field and the bound, never a
/// value that could be a secret.
///
/// # Example
/// ```
/// use kaigo_seikyu::validate::Invalid;
/// let why = Invalid::new("wrong entries above the policy's limit");
/// assert_eq!(why.to_string(), "wrong entries above the policy's limit");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(String);

impl Invalid {
    /// A reason.
    pub fn new(why: impl Into<String>) -> Self {
        Invalid(why.into())
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A persisted record's checks beyond its type (OPS-07), implemented beside each record type.
///
/// # Example
/// ```
/// use kaigo_seikyu::{account::Account, calendar::utc, policy::Policy};
/// use kaigo_seikyu::validate::{Check, Validate};
/// let policy = Policy::default();
/// let check = Check { now: utc("2026-01-10T10:00:00+09:00"), policy: &policy };
/// use kaigo_seikyu::secret::PasswordHash;
/// let hash: PasswordHash = serde_json::from_str(r#""$argon2id$stored""#)?;
/// let mut account = Account::new("KJ131311111111".parse()?, hash);
/// assert!(account.validate(&check).is_ok());
/// account.failures = 9;
/// // Nine consecutive failures cannot be stored: the third locks and starts again from zero.
/// assert!(account.validate(&check).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Validate {
    /// `Ok` when the record is possible under `check`; otherwise why not.
    fn validate(&self, check: &Check<'_>) -> Result<(), Invalid>;
}

impl Check<'_> {
    /// A counter `value` named `what` is at most `limit`.
    pub fn at_most(&self, what: &str, value: u64, limit: u64) -> Result<(), Invalid> {
        if value > limit {
            return Err(Invalid::new(format!("{what} above the policy's limit")));
        }
        Ok(())
    }

    /// A deadline named `what`, set at `start` for at most `lifetime`, is neither before its
    /// start nor later than `start + lifetime`.
    ///
    /// # Example
    /// ```
    /// use chrono::TimeDelta;
    /// use kaigo_seikyu::{calendar::utc, policy::Policy, validate::Check};
    /// let policy = Policy::default();
    /// let start = utc("2026-01-10T10:00:00+09:00");
    /// let check = Check { now: start, policy: &policy };
    /// let life = policy.code_lifetime();
    /// assert!(check.deadline("expires_at", start, start + life, life).is_ok());
    /// assert!(check.deadline("expires_at", start, start + life + TimeDelta::seconds(1), life).is_err());
    /// ```
    pub fn deadline(
        &self,
        what: &str,
        start: Instant,
        deadline: Instant,
        lifetime: chrono::TimeDelta,
    ) -> Result<(), Invalid> {
        let latest = start.checked_add_signed(lifetime).unwrap_or(start);
        if deadline < start || deadline > latest {
            return Err(Invalid::new(format!(
                "{what} outside what the policy allows from its start"
            )));
        }
        Ok(())
    }

    /// A start named `what` (when a step began, when a code was verified) is no later than now,
    /// give or take [`CLOCK_SKEW`] (another server may have set it). A start in the future would
    /// keep its deadline, counted from it, alive past the policy's lifetime.
    ///
    /// # Example
    /// ```
    /// use chrono::TimeDelta;
    /// use kaigo_seikyu::{calendar::utc, policy::Policy, validate::{CLOCK_SKEW, Check}};
    /// let policy = Policy::default();
    /// let now = utc("2026-01-10T10:00:00+09:00");
    /// let check = Check { now, policy: &policy };
    /// assert!(check.started("started_at", now + CLOCK_SKEW).is_ok());
    /// assert!(check.started("started_at", now + TimeDelta::hours(1)).is_err());
    /// ```
    pub fn started(&self, what: &str, start: Instant) -> Result<(), Invalid> {
        match self.now.checked_add_signed(CLOCK_SKEW) {
            Some(latest) if start > latest => Err(Invalid::new(format!("{what} later than now"))),
            _ => Ok(()),
        }
    }

    /// A deadline named `what` whose start is not stored, set at most `lifetime` before now: no
    /// later than `now + lifetime`, give or take [`CLOCK_SKEW`] (another server may have set it).
    ///
    /// # Example
    /// ```
    /// use chrono::TimeDelta;
    /// use kaigo_seikyu::{calendar::utc, policy::Policy, validate::{CLOCK_SKEW, Check}};
    /// let policy = Policy::default();
    /// let now = utc("2026-01-10T10:00:00+09:00");
    /// let check = Check { now, policy: &policy };
    /// let life = policy.lockout();
    /// assert!(check.deadline_from_now("locked_until", now + life + CLOCK_SKEW, life).is_ok());
    /// assert!(check.deadline_from_now("locked_until", now + life * 2, life).is_err());
    /// ```
    pub fn deadline_from_now(
        &self,
        what: &str,
        deadline: Instant,
        lifetime: chrono::TimeDelta,
    ) -> Result<(), Invalid> {
        let latest = self
            .now
            .checked_add_signed(lifetime + CLOCK_SKEW)
            .unwrap_or(self.now);
        if deadline > latest {
            return Err(Invalid::new(format!("{what} later than the policy allows")));
        }
        Ok(())
    }
}

//! OPS-02: removing dead records in bounded batches, for a host's timer.

use chrono::TimeDelta;

use crate::error::PortalError;
use crate::portal::Portal;

/// How long after its expiry a record is purged: a server whose clock runs behind by less than
/// this never finds removed a record it would still read as live (SEC-07 allows clocks that
/// differ by seconds).
pub const PURGE_MARGIN: TimeDelta = TimeDelta::hours(1);

impl Portal {
    /// OPS-02: removes up to `limit` records dead for at least [`PURGE_MARGIN`] at the clock's
    /// `now` (flows, budget windows and outbox records past their expiry) and returns how many
    /// it removed; never a live one, nothing when `limit` is 0. Run it on a timer, in batches,
    /// until it returns less than `limit`. A dead flow answers as expired whether or not it was
    /// purged yet ([`FlowError::FlowExpired`](crate::error::FlowError::FlowExpired) before,
    /// [`PortalError::NoSuchFlow`] after).
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// let form = kaigo_seikyu::reissue::ApplicationForm {
    ///     applicant: kaigo_seikyu::reissue::Applicant::Office,
    ///     office_number: "1311111111",
    ///     notify: "a@jp",
    ///     notify_confirm: "a@jp",
    /// };
    /// let _ = portal.reissue_start(&form, &mut rand::rng()); // not in the ledger: refused
    /// assert_eq!(portal.purge(0)?, 0);
    /// assert_eq!(portal.purge(100)?, 0);
    /// # Ok::<(), kaigo_seikyu::error::PortalError>(())
    /// ```
    pub fn purge(&self, limit: usize) -> Result<usize, PortalError> {
        if limit == 0 {
            return Ok(0);
        }
        let now = self.now();
        let cutoff = now.checked_sub_signed(PURGE_MARGIN).unwrap_or(now);
        Ok(self.ports.store.purge(cutoff, limit)?)
    }
}

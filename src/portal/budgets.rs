//! The hourly budgets (SEC-04, SEC-07), kept in the store because they span flows.

use crate::calendar::Instant;
use crate::error::{FlowError, PortalError};
use crate::portal::Tx;
use crate::store::{Budget, Key, RateWindow};
use crate::values::EmailAddress;

impl Tx<'_> {
    /// SEC-04: spends one code mail to `to` this hour, or refuses with
    /// [`FlowError::MailBudgetExceeded`].
    pub(crate) fn spend_code_mail(
        &mut self,
        to: &EmailAddress,
        now: Instant,
    ) -> Result<(), PortalError> {
        let limit = self.policy().max_code_mails_per_address_per_hour;
        if self.spend(Budget::CodeMails(to.clone()), now, limit)? {
            Ok(())
        } else {
            Err(FlowError::MailBudgetExceeded.into())
        }
    }

    /// SEC-07: refuses with [`FlowError::GuessBudgetExceeded`] when `budget` has no wrong entries
    /// left this hour; otherwise runs `check` and, if it reports a wrong code, spends one.
    ///
    /// The budget is read once, and the commit checks it is unchanged whether or not it is
    /// written: a guess decided on a budget that another request filled meanwhile is re-run on
    /// fresh data, and refused (SEC-02).
    pub(crate) fn guard_guesses(
        &mut self,
        budget: Budget,
        now: Instant,
        check: impl FnOnce() -> Result<(), FlowError>,
    ) -> Result<Result<(), FlowError>, PortalError> {
        let limit = self.policy().max_wrong_codes_per_hour;
        let key = Key::Budget(budget);
        let mut window: RateWindow = self.get(&key)?.unwrap_or_default();
        if !window.try_spend(now, limit) {
            return Ok(Err(FlowError::GuessBudgetExceeded));
        }
        let result = check();
        if matches!(
            result,
            Err(FlowError::WrongCode { .. } | FlowError::CodeExhausted)
        ) {
            self.put(key, &window)?;
        }
        Ok(result)
    }
}

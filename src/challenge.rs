//! A mailed code and its checking, shared by every flow that proves an address: the 確認コード of
//! FL-05, GR-05, SE-06 and RI-04 (T1) and the ワンタイムパスワード of SE-06 and RS-03 (T2).
//!
//! Pure: [`Challenge::send`] draws a code and returns the mail as an effect; [`Challenge::check`]
//! counts a wrong entry. The hour-long budgets (SEC-04, SEC-07) span flows, so the driver keeps
//! them in the store.

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};

use crate::calendar::Instant;
use crate::effect::Effect;
use crate::error::FlowError;
use crate::flow::Cx;
use crate::mail;
use crate::secret::{IssuedCode, Verification};
use crate::values::{Code, EmailAddress};

/// A code of `N` digits mailed to one address: the newest code only (RS-04), how many were sent
/// (SEC-04), and the digest with expiry and wrong-entry count (SEC-01, SEC-03).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge<const N: usize> {
    /// Where the code went.
    pub to: EmailAddress,
    issued: IssuedCode,
    sent: u8,
}

/// OPS-07: at least one and at most the policy's codes per flow sent; the code itself checked.
impl<const N: usize> crate::validate::Validate for Challenge<N> {
    fn validate(&self, check: &crate::validate::Check<'_>) -> Result<(), crate::validate::Invalid> {
        if self.sent == 0 {
            return Err(crate::validate::Invalid::new(
                "a challenge that sent no code",
            ));
        }
        check.at_most(
            "codes sent",
            self.sent.into(),
            check.policy.max_codes_per_flow.into(),
        )?;
        crate::validate::Validate::validate(&self.issued, check)
    }
}

impl<const N: usize> Challenge<N> {
    /// Draws a first code for `to`, valid for the policy's code lifetime. Returns the challenge and
    /// the mail effect. A caller that must not mail (RS-03, non-matching address) drops the effect
    /// but does the same work.
    pub fn send<R: CryptoRng + ?Sized>(to: EmailAddress, cx: &mut Cx<'_, R>) -> (Self, Effect) {
        let (code, issued) =
            IssuedCode::issue::<N, R>(cx.rng, cx.hasher, cx.now, cx.policy.code_lifetime());
        let effect = Effect::Mail(mail::code_mail(&to, &code, cx.policy.code_lifetime_minutes));
        (
            Challenge {
                to,
                issued,
                sent: 1,
            },
            effect,
        )
    }

    /// Sends a fresh code to the same address; the old one stops working (RS-04). Refused after
    /// the policy's codes per flow (SEC-04).
    pub fn resend<R: CryptoRng + ?Sized>(
        &mut self,
        cx: &mut Cx<'_, R>,
    ) -> Result<Effect, FlowError> {
        if self.sent >= cx.policy.max_codes_per_flow {
            return Err(FlowError::TooManyCodes);
        }
        let (code, issued) =
            IssuedCode::issue::<N, R>(cx.rng, cx.hasher, cx.now, cx.policy.code_lifetime());
        self.issued = issued;
        self.sent += 1;
        Ok(Effect::Mail(mail::code_mail(
            &self.to,
            &code,
            cx.policy.code_lifetime_minutes,
        )))
    }

    /// Checks an entered code. `Ok(())` when right and in time; otherwise the error, with a wrong
    /// entry counted in `self` (the caller saves it: a rejected step).
    pub fn check<R: CryptoRng + ?Sized>(
        &mut self,
        entered: &Code<N>,
        cx: &Cx<'_, R>,
    ) -> Result<(), FlowError> {
        match self
            .issued
            .verify(entered, cx.hasher, cx.now, cx.policy.max_wrong_code_entries)
        {
            Verification::Ok => Ok(()),
            Verification::Wrong { remaining: 0 } => Err(FlowError::CodeExhausted),
            Verification::Wrong { remaining } => Err(FlowError::WrongCode { remaining }),
            Verification::Expired => Err(FlowError::CodeExpired),
            Verification::Exhausted => Err(FlowError::CodeExhausted),
        }
    }

    /// When the current code expires.
    pub fn expires_at(&self) -> Instant {
        self.issued.expires_at()
    }

    /// How many codes this challenge has sent.
    pub fn sent(&self) -> u8 {
        self.sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::utc;
    use crate::flow::Fixture;
    use crate::policy::Policy;
    use crate::values::ConfirmationCode;

    fn code_in(effect: &Effect) -> String {
        match effect {
            Effect::Mail(m) => m.code().expect("a code mail").to_owned(),
            other => panic!("not a mail: {other:?}"),
        }
    }

    /// CAL-05: the code mail states the policy's lifetime, not a literal: a later release that
    /// shortens it changes data only.
    #[test]
    fn cal_05_code_mail_states_the_policy_lifetime() {
        let policy = Policy {
            code_lifetime_minutes: 10,
            ..Policy::insecure_fast_hashing()
        };
        let mut fixture = Fixture::with_policy(policy, 12);
        let now = utc("2026-01-10T10:00:00+09:00");
        let mut cx = fixture.cx(now);
        let (challenge, effect) = Challenge::<6>::send("a@jp".parse().unwrap(), &mut cx);
        let Effect::Mail(mail) = effect else {
            panic!("not a mail")
        };
        assert!(
            mail.body
                .contains("ワンタイムパスワードの有効期間は10分です。")
        );
        assert_eq!(challenge.expires_at(), now + chrono::TimeDelta::minutes(10));
    }

    /// RS-04, SEC-04: only the newest code is valid, and a flow sends at most five.
    #[test]
    fn rs_04_sec_04_newest_code_only_and_resend_cap() {
        let mut fixture = Fixture::new(11);
        let mut cx = fixture.cx(utc("2026-01-10T10:00:00+09:00"));
        let (mut ch, first) = Challenge::<4>::send("a@jp".parse().unwrap(), &mut cx);
        let old: ConfirmationCode = code_in(&first).parse().unwrap();
        let second = ch.resend(&mut cx).unwrap();
        let new: ConfirmationCode = code_in(&second).parse().unwrap();
        if old.reveal() != new.reveal() {
            assert!(matches!(
                ch.check(&old, &cx),
                Err(FlowError::WrongCode { .. })
            ));
        }
        assert_eq!(ch.check(&new, &cx), Ok(()));
        for _ in 0..3 {
            ch.resend(&mut cx).unwrap();
        }
        assert_eq!(ch.sent(), 5);
        assert_eq!(ch.resend(&mut cx), Err(FlowError::TooManyCodes));
    }
}

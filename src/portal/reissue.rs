//! The reissue application's entry points (RI, VAL-08): one-line wrappers over the generic ones,
//! taking what the screens' fields hold as text; and the federation's review (RI-08, RI-09), an
//! operator action through the driver like a user's step: one compare-and-swap commit of what
//! the pure review returns, then its notices, mails and event (SEC-05).

use rand_core::CryptoRng;

use crate::error::{FlowError, PortalError};
use crate::portal::{Portal, Tx, shown, started};
use crate::reissue::{
    ApplicationForm, Decision, Federation, Input, Reissue, ReissueApplication, ReissueInput,
    ReissueStart, ReviewOutcome,
};
use crate::screen::Screen;
use crate::store::{FlowId, FlowKind, Key};
use crate::values::ManagementNumber;

/// The application `number`, read in `tx`; [`FlowError::NoSuchApplication`] when there is none.
fn application(
    tx: &mut Tx<'_>,
    number: ManagementNumber,
) -> Result<ReissueApplication, PortalError> {
    Ok(tx
        .get(&Key::Application(number))?
        .ok_or(FlowError::NoSuchApplication)?)
}

impl Portal {
    /// Sends the 【ログイン情報再発行申請】 form (RI-01 … RI-04): parses it, refuses a proxy
    /// (RI-01), an address that differs from its confirmation (VAL-05) and an office number not in
    /// the ledger (RI-02); then either asks for the billing prefecture (RI-03) or mails the
    /// confirmation code (T1) at once. Refused while an application for the office and prefecture
    /// is pending (RI-07). Returns the new flow's id and its screen.
    ///
    /// Decision: the billing prefectures are those the office holds user IDs in; an office with
    /// none uses its ledger entry's `billing` list, or, when that is empty, the prefecture of its
    /// office number.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// use kaigo_seikyu::error::{FlowError, PortalError};
    /// use kaigo_seikyu::reissue::{Applicant, ApplicationForm};
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// let form = ApplicationForm {
    ///     applicant: Applicant::Office,
    ///     office_number: "1311111111",
    ///     notify: "jigyousho@jp",
    ///     notify_confirm: "jigyousho@jp",
    /// };
    /// // Not in the ledger: a clear error, nothing stored or mailed.
    /// assert_eq!(portal.reissue_start(&form, &mut rand::rng()).unwrap_err(),
    ///            PortalError::Flow(FlowError::NotInLedger));
    /// assert!(host.store.is_empty() && host.outbox.all().is_empty());
    /// ```
    pub fn reissue_start<R: CryptoRng + ?Sized>(
        &self,
        form: &ApplicationForm<'_>,
        rng: &mut R,
    ) -> Result<(FlowId, Screen), PortalError> {
        started(self.begin_with::<Reissue, R>(None, ReissueStart::try_from(form)?, rng)?)
    }

    /// Applies one input to the flow `id` and returns the next screen: the chosen billing
    /// prefecture (RI-03), the confirmation code (RI-04), `送信` (RI-05, RI-06, RI-07, VAL-08) or
    /// `戻る` (back to the empty form; the flow ends) or, on 【処理終了】, `終了` (the flow ends at
    /// 【ログイン】). Typed fields are parsed first ([`ReissueInput::try_from`]); a bad one is a
    /// [`FlowError::Value`] and changes nothing. [`Portal::reissue_submit`] also returns the
    /// management number.
    ///
    /// On `送信` the month's next management number, the application, the pending marker and the
    /// flow are written in one compare-and-swap commit, so no number is consumed without an
    /// application and the numbers of a month have no gaps; the receipt notice (T3) and mail (T4)
    /// go out only after it.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// use kaigo_seikyu::error::{FlowError, PortalError};
    /// use kaigo_seikyu::ports::OfficeRecord;
    /// use kaigo_seikyu::reissue::{Applicant, ApplicationForm, Input};
    /// use kaigo_seikyu::values::Prefecture;
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// host.ledger.insert(OfficeRecord {
    ///     number: "1311111111".parse()?,
    ///     name: "請求事業所A".into(),
    ///     postal_address: "東京都千代田区".into(),
    ///     phone: "03-0000-0000".into(),
    ///     billing: vec![Prefecture::TOKYO],
    /// });
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// let mut rng = rand::rng();
    /// let form = ApplicationForm {
    ///     applicant: Applicant::Office,
    ///     office_number: "1311111111",
    ///     notify: "jigyousho@jp",
    ///     notify_confirm: "jigyousho@jp",
    /// };
    /// let (id, _) = portal.reissue_start(&form, &mut rng)?;
    /// // Submitting before the code was entered does not belong to this screen.
    /// assert!(matches!(portal.reissue_input(&id, Input::Submit, &mut rng),
    ///                  Err(PortalError::Flow(FlowError::UnexpectedInput { .. }))));
    /// let code = host.outbox.all()[0].body.lines().nth(4).unwrap().to_owned();
    /// let confirm = portal.reissue_input(&id, Input::EnterCode(&code), &mut rng)?;
    /// let name = confirm.field_named("office_name").and_then(|f| f.value.as_deref());
    /// assert_eq!(name, Some("請求事業所A"));
    /// let back = portal.reissue_input(&id, Input::Back, &mut rng)?;
    /// assert_eq!(back.title, "ログイン情報再発行申請");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reissue_input<R: CryptoRng + ?Sized>(
        &self,
        id: &FlowId,
        input: Input<'_>,
        rng: &mut R,
    ) -> Result<Screen, PortalError> {
        shown(self.input::<Reissue, R>(None, id, ReissueInput::try_from(input)?, rng)?)
    }

    /// RI-06 `送信` on 【送信確認】: [`Portal::reissue_input`] with [`Input::Submit`], returning
    /// the management number the application was received under (VAL-08) with 【処理終了】.
    ///
    /// The number is read from the flow's done state ([`Done::number`](crate::reissue::Done::number))
    /// right after the commit, as a client on the generic route reads it with
    /// [`Portal::reissue_state`]; the done state stays until `終了`, so only a `終了` sent for the
    /// same flow in between makes this [`PortalError::NoSuchFlow`] (the application is received
    /// all the same, and its number is in the receipt mail, T4).
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// use kaigo_seikyu::ports::OfficeRecord;
    /// use kaigo_seikyu::reissue::{Applicant, ApplicationForm, Input};
    /// use kaigo_seikyu::values::Prefecture;
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// host.ledger.insert(OfficeRecord {
    ///     number: "1311111111".parse()?,
    ///     name: "請求事業所A".into(),
    ///     postal_address: "東京都千代田区".into(),
    ///     phone: "03-0000-0000".into(),
    ///     billing: vec![Prefecture::TOKYO],
    /// });
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// let mut rng = rand::rng();
    /// let form = ApplicationForm {
    ///     applicant: Applicant::Office,
    ///     office_number: "1311111111",
    ///     notify: "jigyousho@jp",
    ///     notify_confirm: "jigyousho@jp",
    /// };
    /// let (id, _) = portal.reissue_start(&form, &mut rng)?;
    /// let code = host.outbox.all()[0].code().unwrap().to_owned();
    /// portal.reissue_input(&id, Input::EnterCode(&code), &mut rng)?;
    /// let (number, done) = portal.reissue_submit(&id, &mut rng)?;
    /// assert_eq!(number.to_string(), "U202601000001");
    /// assert_eq!(done.title, "処理終了");
    /// // `終了` ends the flow at 【ログイン】.
    /// let login = portal.reissue_input(&id, Input::Finish, &mut rng)?;
    /// assert_eq!(login.title, "ログイン");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reissue_submit<R: CryptoRng + ?Sized>(
        &self,
        id: &FlowId,
        rng: &mut R,
    ) -> Result<(ManagementNumber, Screen), PortalError> {
        let screen = self.reissue_input(id, Input::Submit, rng)?;
        match self.reissue_state(id)? {
            Reissue::Done(done) => Ok((done.number(), screen)),
            _ => Err(PortalError::NoSuchFlow),
        }
    }

    /// The flow's current state, e.g. to redraw its screen with [`Reissue::screen`].
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// use kaigo_seikyu::error::PortalError;
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// let id = kaigo_seikyu::store::FlowId::generate(&mut rand::rng());
    /// assert_eq!(portal.reissue_state(&id).unwrap_err(), PortalError::NoSuchFlow);
    /// ```
    pub fn reissue_state(&self, id: &FlowId) -> Result<Reissue, PortalError> {
        self.transact(|tx, _| tx.flow(FlowKind::Reissue, id))
    }

    /// The application `number`, for the federation `by` to review (RI-08): refused to any other
    /// federation.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// use kaigo_seikyu::error::{FlowError, PortalError};
    /// use kaigo_seikyu::reissue::Federation;
    /// use kaigo_seikyu::values::Prefecture;
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// let tokyo = Federation::of(Prefecture::TOKYO);
    /// assert_eq!(portal.reissue_application(tokyo, "U202601000001").unwrap_err(),
    ///            PortalError::Flow(FlowError::NoSuchApplication));
    /// ```
    pub fn reissue_application(
        &self,
        by: Federation,
        number: &str,
    ) -> Result<ReissueApplication, PortalError> {
        let number: ManagementNumber = number.parse().map_err(FlowError::from)?;
        self.transact(|tx, _| {
            let application = application(tx, number)?;
            Ok(application.shown_to(by)?)
        })
    }

    /// The federation `by` reviews the application `number` (RI-08): only the federation of its
    /// billing prefecture, only once. Approval issues a new temporary password (VAL-09) — or a new
    /// user ID for an office without one — expiring after the policy's lifetime (RI-10), clears the
    /// security code and the lockout, optionally the security emails (RI-09), ends the user ID's
    /// sessions, and returns the letter to print. The result goes to お知らせ and the notification
    /// address (T5/T6, T7/T8). A refused review changes nothing.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// use kaigo_seikyu::error::{FlowError, PortalError};
    /// use kaigo_seikyu::reissue::{Decision, Federation};
    /// use kaigo_seikyu::values::Prefecture;
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// let tokyo = Federation::of(Prefecture::TOKYO);
    /// let refused = portal.reissue_review(tokyo, "U202601000001", Decision::Reject, &mut rand::rng());
    /// assert_eq!(refused.unwrap_err(), PortalError::Flow(FlowError::NoSuchApplication));
    /// ```
    pub fn reissue_review<R: CryptoRng + ?Sized>(
        &self,
        by: Federation,
        number: &str,
        decision: Decision,
        rng: &mut R,
    ) -> Result<ReviewOutcome, PortalError> {
        let number: ManagementNumber = number.parse().map_err(FlowError::from)?;
        self.transact(|tx, now| {
            let application = application(tx, number)?;
            let needs = application.review_needs(by, decision);
            let records = tx.records(&needs)?;
            let step = tx.run(&needs, now, &mut *rng, |cx| {
                application.clone().decide(by, decision, &records, cx)
            })?;
            tx.apply(step.effects)?;
            Ok(step.state)
        })
    }
}

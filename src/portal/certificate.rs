//! The certificate application's entry points (FEE): one-line wrappers over the generic ones,
//! and the operator's certificate actions (OPS-06), audited operations with compare-and-swap.

use chrono::NaiveDate;
use rand_core::CryptoRng;

use crate::calendar::Instant;
use crate::certificate::{
    self, Certificate, CertificateApplication, CertificateInput, CertificateStart, Certificates,
};
use crate::error::PortalError;
use crate::portal::{Portal, shown, started};
use crate::screen::Screen;
use crate::store::{FlowId, Key};
use crate::values::{OfficeNumber, Password, UserId, Yen};

impl Portal {
    /// Opens 【証明書】 for the logged-in `user` (from the host's session). The office name comes
    /// from the office ledger; an office not in it gets
    /// [`FlowError::NotInLedger`](crate::error::FlowError::NotInLedger).
    pub fn certificate_start<R: CryptoRng + ?Sized>(
        &self,
        user: &UserId,
        rng: &mut R,
    ) -> Result<(FlowId, Screen), PortalError> {
        started(self.begin_with::<CertificateApplication, R>(
            Some(user),
            CertificateStart::Open,
            rng,
        )?)
    }

    /// Applies one input to `user`'s certificate flow `id` and returns the next screen. A refused
    /// input changes nothing; a submission records the certificate in the same commit.
    pub fn certificate_input<R: CryptoRng + ?Sized>(
        &self,
        user: &UserId,
        id: &FlowId,
        input: CertificateInput,
        rng: &mut R,
    ) -> Result<Screen, PortalError> {
        shown(self.input::<CertificateApplication, R>(Some(user), id, input, rng)?)
    }

    /// 【証明書発行用パスワード入力】 as typed: the password and its confirmation (VAL-06, VAL-05).
    pub fn certificate_password<R: CryptoRng + ?Sized>(
        &self,
        user: &UserId,
        id: &FlowId,
        password: &str,
        confirm: &str,
        rng: &mut R,
    ) -> Result<Screen, PortalError> {
        let input = CertificateInput::EnterPassword {
            password: Password::new(password),
            confirm: Password::new(confirm),
        };
        self.certificate_input(user, id, input, rng)
    }

    /// Draws `user`'s certificate flow `id` again, at the clock's now (a reload). Changes nothing.
    pub fn certificate_screen(&self, user: &UserId, id: &FlowId) -> Result<Screen, PortalError> {
        self.screen::<CertificateApplication>(Some(user), id)
    }

    /// The certificates recorded for `office`.
    pub fn certificates(&self, office: &OfficeNumber) -> Result<Certificates, PortalError> {
        self.transact(|tx, _| Ok(tx.get(&Key::Certificates(*office))?.unwrap_or_default()))
    }

    /// Records a certificate `office` was issued before this crate kept the records (migration, by
    /// the operator), valid through `end_date`, so FEE-05 reminds it. OPS-06: an audited operation,
    /// committed with compare-and-swap on the office's certificates, with a `CertificateImported`
    /// event.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, effect::EventKind, memory::Embedded, policy::Policy};
    /// use kaigo_seikyu::{secret::CodeKey, values::Yen};
    /// let host = Embedded::new(utc("2026-01-05T09:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([0; 32]));
    /// let office = "1311111111".parse()?;
    /// let end = chrono::NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
    /// let cert = portal.certificate_import(&office, utc("2023-04-01T10:00:00+09:00"), end, Yen(13_200))?;
    /// assert_eq!(cert.serial, 1);
    /// assert_eq!(host.events.all()[0].kind, EventKind::CertificateImported { office, serial: 1 });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn certificate_import(
        &self,
        office: &OfficeNumber,
        issued_at: Instant,
        end_date: NaiveDate,
        fee: Yen,
    ) -> Result<Certificate, PortalError> {
        self.transact(|tx, now| {
            let records = tx.records(&certificate::operator_needs(*office))?;
            let (cert, effects) =
                certificate::import(*office, &records, issued_at, end_date, fee, now)?;
            tx.apply(effects)?;
            Ok(cert)
        })
    }

    /// FEE-05: posts the renewal お知らせ of every certificate of `office` due at the clock's now,
    /// once each (marked in the same commit, so two concurrent runs post it once). Returns the
    /// certificates reminded. A host runs it daily for every office. OPS-06: an audited operation
    /// (a `RenewalReminded` event per certificate).
    pub fn certificate_reminders(
        &self,
        office: &OfficeNumber,
    ) -> Result<Vec<Certificate>, PortalError> {
        self.transact(|tx, now| {
            let records = tx.records(&certificate::operator_needs(*office))?;
            let (reminded, effects) = certificate::remind(*office, &records, now, &self.policy)?;
            tx.apply(effects)?;
            Ok(reminded)
        })
    }
}

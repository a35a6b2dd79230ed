//! An office user's account, as the store keeps it: credentials, lockout, terms, notice email and
//! the list of security emails (SE-01 … SE-04 invariants).

use serde::{Deserialize, Serialize};

use crate::calendar::Instant;
use crate::error::FlowError;
use crate::secret::PasswordHash;
use crate::values::{EmailAddress, UserId};

/// One user ID's account.
///
/// # Example
/// ```
/// use kaigo_seikyu::account::Account;
/// use kaigo_seikyu::secret::PasswordHash;
/// let acct = Account::new("KJ131311111111".parse().unwrap(), PasswordHash::from_phc("$argon2id$…"));
/// assert!(acct.security_emails.is_empty());
/// assert!(acct.temporary.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The user ID (ユーザID).
    pub user_id: UserId,
    /// The login password's argon2id hash.
    pub password: PasswordHash,
    /// Set while the password is a temporary one (仮パスワード) that must be changed at the next
    /// login (LOGIN-03, VAL-09).
    pub temporary: Option<Temporary>,
    /// The security code's hash, when the office has set one (LOGIN-01).
    pub security_code: Option<PasswordHash>,
    /// Consecutive failed logins (LOGIN-02).
    pub failures: u8,
    /// Locked until this instant (LOGIN-02).
    pub locked_until: Option<Instant>,
    /// Which terms version was accepted, and when (FL-08).
    pub terms: Option<TermsAcceptance>,
    /// The お知らせ mail address step (FL-03).
    pub notice_email: NoticeEmail,
    /// Whether the office has been through the first login at least once (FL-07).
    pub first_login_done: bool,
    /// Whether the office existed before the release and so has the grace period (GR, CAL-02);
    /// false for new offices and after a reviewer cleared the security emails (RI-09).
    pub grace_eligible: bool,
    /// The security emails (SE).
    pub security_emails: SecurityEmails,
}

/// A temporary password's state (VAL-09, RI-10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Temporary {
    /// When it stops logging in (RI-10); `None` for a new office's first temporary password.
    pub expires_at: Option<Instant>,
}

/// A terms-of-use acceptance (FL-08).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermsAcceptance {
    /// The version accepted.
    pub version: u32,
    /// When.
    pub at: Instant,
}

/// The お知らせ mail address setting (FL-03).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum NoticeEmail {
    /// Never asked.
    #[default]
    NotAsked,
    /// The office chose `メールアドレスを登録しない`.
    Declined,
    /// The address for notice mails.
    Set(EmailAddress),
}

/// OPS-07: fewer consecutive failures than lock the account (the locking one starts again from
/// zero), a lock no longer than the policy's, and a temporary password living no longer
/// than a reissued one does.
impl crate::validate::Validate for Account {
    fn validate(&self, check: &crate::validate::Check<'_>) -> Result<(), crate::validate::Invalid> {
        let policy = check.policy;
        check.at_most(
            "consecutive login failures",
            self.failures.into(),
            policy.lockout_failures.into(),
        )?;
        if let Some(until) = self.locked_until {
            check.deadline_from_now("locked_until", until, policy.lockout())?;
        }
        if let Some(Temporary {
            expires_at: Some(at),
        }) = self.temporary
        {
            check.deadline_from_now(
                "the temporary password's expiry",
                at,
                policy.temporary_password_lifetime(),
            )?;
        }
        Ok(())
    }
}

impl Account {
    /// A fresh account with this password hash and nothing else set.
    pub fn new(user_id: UserId, password: PasswordHash) -> Self {
        Account {
            user_id,
            password,
            temporary: None,
            security_code: None,
            failures: 0,
            locked_until: None,
            terms: None,
            notice_email: NoticeEmail::NotAsked,
            first_login_done: false,
            grace_eligible: false,
            security_emails: SecurityEmails::default(),
        }
    }

    /// Whether the account is locked at `now` (LOGIN-02).
    pub fn is_locked(&self, now: Instant) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }
}

/// The accounts an office holds, one per billing prefecture with a user ID, each with its
/// security email addresses: what starting a reset needs (RS-01 … RS-03) in one record, read in
/// the same round as the address's code-mail budget (OPS-04), instead of the 47 accounts the
/// office could hold. Stored at [`Key::OfficeAccounts`](crate::store::Key::OfficeAccounts).
///
/// The transaction core keeps it in step with the accounts: a commit that saves an account which
/// is new, or whose security email addresses changed, writes the office's record in the same
/// commit (reading it, if the request had not, in one more round after the step ran).
///
/// # Example
/// ```
/// use kaigo_seikyu::account::{Account, OfficeAccounts};
/// use kaigo_seikyu::calendar::utc;
/// use kaigo_seikyu::secret::PasswordHash;
/// let mut account = Account::new("KJ131311111111".parse()?, PasswordHash::from_phc("$argon2id$…"));
/// let mut office = OfficeAccounts::default();
/// assert!(office.record(&account)); // a new account: changed
/// assert!(!office.record(&account)); // the same addresses: unchanged
/// account.security_emails.add("a@jp".parse()?, utc("2026-01-10T10:00:00+09:00"))?;
/// assert!(office.record(&account));
/// let only = &office.accounts()[0];
/// assert_eq!((only.billing.to_string(), only.security_emails.len()), ("13".into(), 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<OfficeAccount>", into = "Vec<OfficeAccount>")]
pub struct OfficeAccounts {
    accounts: Vec<OfficeAccount>,
}

/// One account of an [`OfficeAccounts`]: its billing prefecture and security email addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficeAccount {
    /// The account's billing prefecture (its user ID is this prefecture and the office).
    pub billing: crate::values::Prefecture,
    /// Its security email addresses, in the account's order.
    pub security_emails: Vec<EmailAddress>,
}

impl OfficeAccounts {
    /// The accounts, in billing-prefecture order, one per prefecture.
    pub fn accounts(&self) -> &[OfficeAccount] {
        &self.accounts
    }

    /// Records `account` (its billing prefecture and security email addresses), replacing what
    /// was recorded for its prefecture; whether that changed anything.
    pub fn record(&mut self, account: &Account) -> bool {
        let entry = OfficeAccount {
            billing: account.user_id.billing(),
            security_emails: account.security_emails.addresses().cloned().collect(),
        };
        match self
            .accounts
            .binary_search_by_key(&entry.billing, |a| a.billing)
        {
            Ok(i) if self.accounts[i] == entry => false,
            Ok(i) => {
                self.accounts[i] = entry;
                true
            }
            Err(i) => {
                self.accounts.insert(i, entry);
                true
            }
        }
    }
}

impl TryFrom<Vec<OfficeAccount>> for OfficeAccounts {
    type Error = &'static str;
    /// OPS-07: one entry per prefecture, in order, each with at most [`SecurityEmails::MAX`]
    /// distinct addresses (SE-01, SE-02).
    fn try_from(accounts: Vec<OfficeAccount>) -> Result<Self, Self::Error> {
        let ordered = accounts.windows(2).all(|w| w[0].billing < w[1].billing);
        let lists = accounts.iter().all(|a| {
            let list = &a.security_emails;
            list.len() <= SecurityEmails::MAX
                && list.iter().enumerate().all(|(i, e)| !list[..i].contains(e))
        });
        if !ordered || !lists {
            return Err("an office's accounts break SE-01, SE-02 or list a prefecture twice");
        }
        Ok(OfficeAccounts { accounts })
    }
}

impl From<OfficeAccounts> for Vec<OfficeAccount> {
    fn from(office: OfficeAccounts) -> Self {
        office.accounts
    }
}

/// A registered security email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityEmail {
    /// The address.
    pub address: EmailAddress,
    /// When it was registered.
    pub registered_at: Instant,
}

/// The list of security emails of one user ID: at most 5 (SE-01), no duplicates (SE-02), exactly one
/// selected whenever non-empty (SE-03), never back to zero by the office's own hand (SE-04).
///
/// The invariants hold by construction: the only ways to change the list are the methods below,
/// and each refuses what would break them, changing nothing.
///
/// # Example
/// ```
/// use kaigo_seikyu::account::SecurityEmails;
/// use kaigo_seikyu::calendar::utc;
/// let now = utc("2026-01-10T10:00:00+09:00");
/// let mut list = SecurityEmails::default();
/// list.add("a@jp".parse().unwrap(), now).unwrap();
/// list.add("b@jp".parse().unwrap(), now).unwrap();
/// assert_eq!(list.selected().unwrap().as_str(), "a@jp");
/// assert!(list.add("A@JP".parse().unwrap(), now).is_err()); // SE-02
/// list.remove(&"a@jp".parse().unwrap()).unwrap();
/// assert!(list.remove(&"b@jp".parse().unwrap()).is_err()); // SE-04
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(try_from = "SecurityEmailsRaw", into = "SecurityEmailsRaw")]
pub struct SecurityEmails {
    entries: Vec<SecurityEmail>,
    selected: usize,
}

#[derive(Serialize, Deserialize)]
struct SecurityEmailsRaw {
    entries: Vec<SecurityEmail>,
    selected: usize,
}

impl TryFrom<SecurityEmailsRaw> for SecurityEmails {
    type Error = &'static str;
    fn try_from(raw: SecurityEmailsRaw) -> Result<Self, Self::Error> {
        let n = raw.entries.len();
        let distinct = raw
            .entries
            .iter()
            .enumerate()
            .all(|(i, e)| raw.entries[..i].iter().all(|p| p.address != e.address));
        if n > SecurityEmails::MAX
            || !distinct
            || (n > 0 && raw.selected >= n)
            || (n == 0 && raw.selected != 0)
        {
            return Err("a stored security email list breaks SE-01..SE-03");
        }
        Ok(SecurityEmails {
            entries: raw.entries,
            selected: raw.selected,
        })
    }
}

impl From<SecurityEmails> for SecurityEmailsRaw {
    fn from(list: SecurityEmails) -> Self {
        SecurityEmailsRaw {
            entries: list.entries,
            selected: list.selected,
        }
    }
}

impl SecurityEmails {
    /// At most this many addresses per user ID (SE-01).
    pub const MAX: usize = 5;

    /// The registered addresses, oldest first.
    pub fn entries(&self) -> &[SecurityEmail] {
        &self.entries
    }

    /// The registered addresses alone, oldest first.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::account::SecurityEmails;
    /// let mut list = SecurityEmails::default();
    /// list.add("a@jp".parse()?, kaigo_seikyu::calendar::utc("2026-01-10T10:00:00+09:00"))?;
    /// assert_eq!(list.addresses().map(|a| a.as_str()).collect::<Vec<_>>(), ["a@jp"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn addresses(&self) -> impl Iterator<Item = &EmailAddress> {
        self.entries.iter().map(|e| &e.address)
    }

    /// Whether none is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many are registered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The selected notification destination (`選択中`), if any is registered (SE-03).
    pub fn selected(&self) -> Option<&EmailAddress> {
        self.entries.get(self.selected).map(|e| &e.address)
    }

    /// Whether `address` is registered (equal ignoring ASCII case).
    pub fn contains(&self, address: &EmailAddress) -> bool {
        self.position(address).is_some()
    }

    fn position(&self, address: &EmailAddress) -> Option<usize> {
        self.entries.iter().position(|e| &e.address == address)
    }

    /// Registers a new address (SE-01, SE-02). The first one registered becomes the selected one.
    pub fn add(&mut self, address: EmailAddress, now: Instant) -> Result<(), FlowError> {
        if self.contains(&address) {
            return Err(FlowError::DuplicateSecurityEmail);
        }
        if self.entries.len() >= Self::MAX {
            return Err(FlowError::SecurityEmailLimit);
        }
        self.entries.push(SecurityEmail {
            address,
            registered_at: now,
        });
        Ok(())
    }

    /// Replaces `old` by `new` in place, keeping the selection (SE-06).
    pub fn replace(
        &mut self,
        old: &EmailAddress,
        new: EmailAddress,
        now: Instant,
    ) -> Result<(), FlowError> {
        let i = self
            .position(old)
            .ok_or(FlowError::SecurityEmailNotRegistered)?;
        if self.position(&new).is_some_and(|j| j != i) {
            return Err(FlowError::DuplicateSecurityEmail);
        }
        self.entries[i] = SecurityEmail {
            address: new,
            registered_at: now,
        };
        Ok(())
    }

    /// Deletes `address` (SE-04: refused when it is the only one). Deleting the selected one selects
    /// the oldest remaining (SE-03): the earliest registered, the first listed among equals.
    pub fn remove(&mut self, address: &EmailAddress) -> Result<(), FlowError> {
        let i = self
            .position(address)
            .ok_or(FlowError::SecurityEmailNotRegistered)?;
        if self.entries.len() <= 1 {
            return Err(FlowError::LastSecurityEmail);
        }
        self.entries.remove(i);
        if i == self.selected {
            self.selected = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(j, e)| (e.registered_at, *j))
                .map_or(0, |(j, _)| j);
        } else if i < self.selected {
            self.selected -= 1;
        }
        Ok(())
    }

    /// Makes `address` the selected notification destination (SE-03).
    pub fn select(&mut self, address: &EmailAddress) -> Result<(), FlowError> {
        self.selected = self
            .position(address)
            .ok_or(FlowError::SecurityEmailNotRegistered)?;
        Ok(())
    }

    /// Empties the list. Only a federation's reviewer may do this, after verifying identity on paper
    /// (RI-09); an office's own flows never call it (SE-04).
    pub(crate) fn clear_by_reviewer(&mut self) {
        self.entries.clear();
        self.selected = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::utc;

    fn a(s: &str) -> EmailAddress {
        s.parse().unwrap()
    }

    /// SE-01, SE-02, SE-03, SE-04: the list's invariants, each refusal changing nothing.
    #[test]
    fn se_01_to_04_list_invariants() {
        let now = utc("2026-01-10T10:00:00+09:00");
        let mut list = SecurityEmails::default();
        assert_eq!(list.selected(), None);
        for i in 1..=5 {
            list.add(a(&format!("m{i}@jp")), now).unwrap();
        }
        let before = list.clone();
        assert_eq!(
            list.add(a("m6@jp"), now),
            Err(FlowError::SecurityEmailLimit)
        );
        assert_eq!(
            list.add(a("M1@JP"), now),
            Err(FlowError::DuplicateSecurityEmail)
        );
        assert_eq!(list, before);
        list.select(&a("m3@jp")).unwrap();
        list.remove(&a("m1@jp")).unwrap();
        assert_eq!(list.selected(), Some(&a("m3@jp")));
        list.remove(&a("m3@jp")).unwrap();
        assert_eq!(
            list.selected(),
            Some(&a("m2@jp")),
            "oldest remaining selected"
        );
        list.remove(&a("m4@jp")).unwrap();
        list.remove(&a("m5@jp")).unwrap();
        assert_eq!(list.remove(&a("m2@jp")), Err(FlowError::LastSecurityEmail));
        assert_eq!(list.len(), 1);
        assert_eq!(list.replace(&a("m2@jp"), a("n@jp"), now), Ok(()));
        assert_eq!(list.selected(), Some(&a("n@jp")));
    }

    /// SE-03: "oldest" is by registration: a replaced address counts from its replacement.
    #[test]
    fn se_03_oldest_is_by_registration_time() {
        let t0 = utc("2026-01-10T10:00:00+09:00");
        let mut list = SecurityEmails::default();
        list.add(a("first@jp"), t0).unwrap();
        list.add(a("second@jp"), t0 + chrono::TimeDelta::hours(1))
            .unwrap();
        list.add(a("third@jp"), t0 + chrono::TimeDelta::hours(2))
            .unwrap();
        list.replace(
            &a("first@jp"),
            a("renewed@jp"),
            t0 + chrono::TimeDelta::hours(3),
        )
        .unwrap();
        list.select(&a("third@jp")).unwrap();
        list.remove(&a("third@jp")).unwrap();
        assert_eq!(list.selected(), Some(&a("second@jp")));
    }

    /// SE-01..SE-03: a stored list that breaks the invariants does not load.
    #[test]
    fn se_03_corrupt_list_does_not_deserialize() {
        let bad = r#"{"entries":[],"selected":2}"#;
        assert!(serde_json::from_str::<SecurityEmails>(bad).is_err());
        let dup = r#"{"entries":[{"address":"a@jp","registered_at":"2026-01-01T00:00:00Z"},{"address":"A@jp","registered_at":"2026-01-01T00:00:00Z"}],"selected":0}"#;
        assert!(serde_json::from_str::<SecurityEmails>(dup).is_err());
    }
}

//! The federation's review queue (OPS-03, RI-08, WEB-05): the pending applications of one
//! billing prefecture, oldest first, a page at a time, with keyset pagination.
//!
//! Port shape: the submit step writes a [`QueueEntry`] under [`Key::Queue`] in the commit that
//! receives the application (an [`Effect::Put`](crate::effect::Effect::Put) like the
//! application itself), and the review removes it in the commit that decides it; the queue is
//! read with [`Store::scan`](crate::store::Store::scan), an ordered listing of one key range
//! after a key. The key sorts a prefecture's entries by received-at, then management number, so
//! a page is one range read on any ordered key-value table, a listing never walks decided
//! applications, and the entry holds what the reviewer needs without a second read.

use subtle::ConstantTimeEq;

use crate::calendar::Instant;
use crate::error::{FlowError, PortalError};
use crate::portal::Portal;
use crate::reissue::{Federation, QueueEntry};
use crate::secret::SecretHasher;
use crate::store::{Key, KeyRange, StoreError};
use crate::values::{ManagementNumber, Prefecture};

/// The largest page [`Portal::review_queue`] lists.
pub const MAX_PAGE: usize = 100;

/// The nonce of a cursor's keyed digest (BLAKE2b-MAC with the host's code key).
const CURSOR_NONCE: &[u8; 16] = b"review cursor v1";

/// Where the next page of a review queue starts (OPS-03): opaque text, sealed with the host's
/// code key, naming the last entry a page showed. Hand it back to [`Portal::review_queue`] as is;
/// one that was altered, or that another prefecture's page gave, is refused.
///
/// # Example
/// ```
/// use kaigo_seikyu::portal::ReviewCursor;
/// let cursor: ReviewCursor = "not a cursor".parse().unwrap();
/// assert_eq!(cursor.as_str(), "not a cursor");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReviewCursor(String);

impl ReviewCursor {
    /// The cursor as text (for a link or a form).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The cursor after `entry`.
    fn seal(hasher: &dyn SecretHasher, entry: &QueueEntry) -> Self {
        let payload = payload(entry.billing, entry.received_at, entry.number);
        let mac = hasher.digest(payload.as_bytes(), CURSOR_NONCE);
        ReviewCursor(format!(
            "{}.{}",
            crate::secret::hex(payload.as_bytes()),
            crate::secret::hex(&mac.0[..16])
        ))
    }

    /// The key the page after this cursor starts after, if this portal sealed it for `by`'s
    /// queue.
    fn open(&self, hasher: &dyn SecretHasher, by: Federation) -> Result<Key, FlowError> {
        let invalid = || FlowError::QueueCursorInvalid;
        let (payload, mac) = self.0.split_once('.').ok_or_else(invalid)?;
        let payload = unhex(payload).ok_or_else(invalid)?;
        let mac = unhex(mac).ok_or_else(invalid)?;
        let expected = hasher.digest(&payload, CURSOR_NONCE);
        if mac.len() != 16 || !bool::from(expected.0[..16].ct_eq(&mac)) {
            return Err(invalid());
        }
        let payload = String::from_utf8(payload).map_err(|_| invalid())?;
        let mut parts = payload.split('/');
        let (Some(prefecture), Some(at), Some(number), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let prefecture: Prefecture = prefecture.parse().map_err(|_| invalid())?;
        if prefecture != by.prefecture() {
            return Err(invalid());
        }
        let at: i64 = at.parse().map_err(|_| invalid())?;
        let at = Instant::from_timestamp_nanos(at);
        let number: ManagementNumber = number.parse().map_err(|_| invalid())?;
        Ok(Key::Queue(prefecture, at, number))
    }
}

impl std::str::FromStr for ReviewCursor {
    type Err = std::convert::Infallible;
    /// Any text: it is checked when it is used.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(ReviewCursor(s.to_owned()))
    }
}

impl std::fmt::Display for ReviewCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a cursor names: the prefecture, the received-at instant (nanoseconds) and the number.
fn payload(prefecture: Prefecture, at: Instant, number: ManagementNumber) -> String {
    // Nanoseconds fit an i64 until 2262; later instants are cut to the end of that range, which
    // only makes such a cursor start the page at the end.
    let nanos = at.timestamp_nanos_opt().unwrap_or(i64::MAX);
    format!("{prefecture}/{nanos}/{number}")
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 512 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// One page of a review queue (OPS-03).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewPage {
    /// The entries, oldest first.
    pub entries: Vec<QueueEntry>,
    /// Where the next page starts, when there are more entries after this page.
    pub next: Option<ReviewCursor>,
}

impl Portal {
    /// OPS-03, RI-08, WEB-05: one page of the federation `by`'s review queue: the pending
    /// applications billed to its prefecture, oldest first (received at, then management
    /// number), at most `page_size` of them, starting after `cursor` (`None`: from the oldest).
    /// Applications received between two pages appear on a later page; none is skipped or shown
    /// twice. A cursor that was altered or that another prefecture's page gave is
    /// [`FlowError::QueueCursorInvalid`], a page size outside `1..=`[`MAX_PAGE`]
    /// [`FlowError::QueuePageSize`]; nothing is listed then. Reviewing an entry another reviewer
    /// decided meanwhile is [`FlowError::AlreadyReviewed`] ([`Portal::reissue_review`]).
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::{calendar::utc, memory::Embedded, policy::Policy, secret::CodeKey};
    /// use kaigo_seikyu::reissue::Federation;
    /// use kaigo_seikyu::values::Prefecture;
    /// let host = Embedded::new(utc("2026-01-10T10:00:00+09:00"));
    /// let portal = host.portal(Policy::insecure_fast_hashing(), CodeKey::from_bytes([7; 32]));
    /// let page = portal.review_queue(Federation::of(Prefecture::TOKYO), None, 20)?;
    /// assert!(page.entries.is_empty() && page.next.is_none());
    /// # Ok::<(), kaigo_seikyu::error::PortalError>(())
    /// ```
    pub fn review_queue(
        &self,
        by: Federation,
        cursor: Option<&ReviewCursor>,
        page_size: usize,
    ) -> Result<ReviewPage, PortalError> {
        if !(1..=MAX_PAGE).contains(&page_size) {
            return Err(FlowError::QueuePageSize { max: MAX_PAGE }.into());
        }
        let after = cursor
            .map(|c| c.open(self.hasher.as_ref(), by))
            .transpose()?;
        let range = KeyRange::Queue(by.prefecture());
        let records = self
            .ports
            .store
            .scan(&range, after.as_ref(), page_size + 1)?;
        let mut entries = records
            .iter()
            .map(|record| {
                let entry: QueueEntry = serde_json::from_slice(&record.value)
                    .map_err(|e| StoreError::Corrupt(format!("a review-queue entry: {e}")))?;
                if entry.billing != by.prefecture() {
                    return Err(StoreError::Corrupt(
                        "a review-queue entry of another prefecture".into(),
                    ));
                }
                Ok(entry)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let more = entries.len() > page_size;
        entries.truncate(page_size);
        let next = match entries.last() {
            Some(last) if more => Some(ReviewCursor::seal(self.hasher.as_ref(), last)),
            _ => None,
        };
        Ok(ReviewPage { entries, next })
    }
}

//! OPS-03, RI-08, WEB-05: the federation's review queue — the pending applications of its own
//! billing prefecture, oldest first, a page at a time (keyset pagination with an opaque cursor).

use chrono::TimeDelta;
use rand::SeedableRng;
use rand::rngs::StdRng;

use kaigo_seikyu::calendar::{Instant, utc};
use kaigo_seikyu::error::{FlowError, PortalError};
use kaigo_seikyu::memory::Embedded;
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::{Portal, ReviewCursor};
use kaigo_seikyu::ports::OfficeRecord;
use kaigo_seikyu::reissue::{
    Applicant, ApplicationForm, ApplicationStatus, Decision, Federation, Input, QueueEntry,
};
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::store::Store;
use kaigo_seikyu::values::{ManagementNumber, Prefecture};

fn start() -> Instant {
    utc("2026-01-10T10:00:00+09:00")
}

struct Host {
    host: Embedded,
    portal: Portal,
    rng: StdRng,
    applied: usize,
}

impl Host {
    fn new() -> Self {
        let host = Embedded::new(start());
        let portal = host.portal(
            Policy::insecure_fast_hashing(),
            CodeKey::from_bytes([7; 32]),
        );
        Host {
            host,
            portal,
            rng: StdRng::seed_from_u64(16),
            applied: 0,
        }
    }

    /// A new office billed to `prefecture` applies (RI-01 … RI-06) a minute after the last one;
    /// returns its management number.
    fn apply(&mut self, prefecture: Prefecture) -> ManagementNumber {
        self.applied += 1;
        self.host.clock.advance(TimeDelta::minutes(1));
        let office = format!("{:02}{:08}", prefecture.code(), self.applied);
        let notify = format!("office-{}@jp", self.applied);
        self.host.ledger.insert(OfficeRecord {
            number: office.parse().unwrap(),
            name: format!("事業所{}", self.applied),
            postal_address: "住所".into(),
            phone: "03-0000-0000".into(),
            billing: vec![prefecture],
        });
        let form = ApplicationForm {
            applicant: Applicant::Office,
            office_number: &office,
            notify: &notify,
            notify_confirm: &notify,
        };
        let (id, _) = self.portal.reissue_start(&form, &mut self.rng).unwrap();
        let mail = self.host.outbox.last_to(&notify).unwrap();
        let code = mail.code().unwrap().to_owned();
        self.portal
            .reissue_input(&id, Input::EnterCode(&code), &mut self.rng)
            .unwrap();
        self.portal
            .reissue_input(&id, Input::Submit, &mut self.rng)
            .unwrap();
        let Ok(kaigo_seikyu::reissue::Reissue::Done(done)) = self.portal.reissue_state(&id) else {
            // The done state is left at once; read the number from the received mail's subject line.
            return self.latest_number();
        };
        done.number()
    }

    fn latest_number(&self) -> ManagementNumber {
        let month = kaigo_seikyu::calendar::YearMonth::of(self.portal.now());
        let last: u32 = serde_json::from_slice(
            &self
                .host
                .store
                .load(&kaigo_seikyu::store::Key::Sequence(month))
                .unwrap()
                .unwrap()
                .value,
        )
        .unwrap();
        ManagementNumber::new(month, last).unwrap()
    }

    /// Every page of `by`'s queue, `size` at a time, with `between` run after each page.
    fn all_pages(
        &mut self,
        by: Federation,
        size: usize,
        mut between: impl FnMut(&mut Self, usize),
    ) -> Vec<Vec<QueueEntry>> {
        let mut pages = Vec::new();
        let mut cursor: Option<ReviewCursor> = None;
        loop {
            let page = self.portal.review_queue(by, cursor.as_ref(), size).unwrap();
            assert!(page.entries.len() <= size);
            pages.push(page.entries);
            between(self, pages.len());
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        pages
    }
}

fn numbers(entries: &[QueueEntry]) -> Vec<ManagementNumber> {
    entries.iter().map(|e| e.number).collect()
}

/// OPS-03: oldest first, page by page; applications received between two pages appear on a later
/// page, none skipped and none repeated; another prefecture's applications never appear; each
/// entry shows 管理番号, 事業所番号, 事業所名, received at and 通知先メールアドレス.
#[test]
fn ops_03_pages_oldest_first_with_arrivals_between_pages() {
    let mut h = Host::new();
    let tokyo = Federation::of(Prefecture::TOKYO);
    let mut expected = Vec::new();
    for i in 0..5 {
        expected.push(h.apply(Prefecture::TOKYO));
        if i % 2 == 0 {
            h.apply(Prefecture::OSAKA);
        }
    }
    let first = h.portal.review_queue(tokyo, None, 2).unwrap();
    assert_eq!(numbers(&first.entries), expected[..2]);
    let e = &first.entries[0];
    assert_eq!(e.office.to_string(), "1300000001");
    assert_eq!(e.office_name, "事業所1");
    assert_eq!(e.notify.as_str(), "office-1@jp");
    assert_eq!(e.received_at, start() + TimeDelta::minutes(1));
    assert_eq!(e.billing, Prefecture::TOKYO);

    let mut arrived = Vec::new();
    let pages = h.all_pages(tokyo, 2, |h, page| {
        if page <= 2 {
            arrived.push(h.apply(Prefecture::TOKYO));
            h.apply(Prefecture::OSAKA);
        }
    });
    expected.extend(arrived);
    let listed: Vec<ManagementNumber> = pages.iter().flat_map(|p| numbers(p)).collect();
    assert_eq!(
        listed, expected,
        "every Tokyo application once, oldest first"
    );
    assert!(pages.len() > 2, "more than one page");
    let times: Vec<Instant> = pages.iter().flatten().map(|e| e.received_at).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    assert!(
        pages
            .iter()
            .flatten()
            .all(|e| e.billing == Prefecture::TOKYO)
    );

    let osaka = h
        .portal
        .review_queue(Federation::of(Prefecture::OSAKA), None, 100)
        .unwrap();
    assert_eq!(osaka.entries.len(), 5);
    assert!(osaka.next.is_none());
}

/// OPS-03, RI-08: a federation can neither list nor review another prefecture's applications; a
/// cursor of another prefecture's queue or one altered is a clear error and lists nothing; a
/// page size outside 1..=100 too.
#[test]
fn ops_03_ri_08_another_prefecture_refused() {
    let mut h = Host::new();
    let tokyo = Federation::of(Prefecture::TOKYO);
    let osaka = Federation::of(Prefecture::OSAKA);
    let tokyo_numbers: Vec<_> = (0..3).map(|_| h.apply(Prefecture::TOKYO)).collect();
    let page = h.portal.review_queue(tokyo, None, 1).unwrap();
    let cursor = page.next.expect("more than one page");

    let refused = Err(PortalError::Flow(FlowError::QueueCursorInvalid));
    assert_eq!(h.portal.review_queue(osaka, Some(&cursor), 10), refused);
    let text = cursor.as_str();
    let mut bytes = text.as_bytes().to_vec();
    bytes[3] = if bytes[3] == b'0' { b'1' } else { b'0' };
    let tampered: ReviewCursor = String::from_utf8(bytes).unwrap().parse().unwrap();
    assert_eq!(h.portal.review_queue(tokyo, Some(&tampered), 10), refused);
    for junk in ["", ".", "zz.zz", "00.00", &format!("{text}0")] {
        let junk: ReviewCursor = junk.parse().unwrap();
        assert_eq!(h.portal.review_queue(tokyo, Some(&junk), 10), refused);
    }
    for size in [0, 101] {
        assert_eq!(
            h.portal.review_queue(tokyo, None, size),
            Err(PortalError::Flow(FlowError::QueuePageSize { max: 100 }))
        );
    }

    let before = h.host.store.snapshot();
    let number = tokyo_numbers[0].to_string();
    assert_eq!(
        h.portal
            .reissue_review(osaka, &number, Decision::Reject, &mut h.rng)
            .unwrap_err(),
        PortalError::Flow(FlowError::WrongFederation)
    );
    assert_eq!(
        h.host.store.snapshot(),
        before,
        "a refused review changes nothing"
    );
    assert_eq!(
        h.portal
            .review_queue(tokyo, None, 10)
            .unwrap()
            .entries
            .len(),
        3
    );
}

/// RI-08, OPS-03: two reviewers list the same page; the second to decide an entry the first
/// decided meanwhile is told it was already reviewed, and nothing changes; a decided application
/// leaves the queue.
#[test]
fn ri_08_ops_03_entry_decided_meanwhile() {
    let mut h = Host::new();
    let tokyo = Federation::of(Prefecture::TOKYO);
    let first = h.apply(Prefecture::TOKYO);
    let second = h.apply(Prefecture::TOKYO);
    let seen_by_a = h.portal.review_queue(tokyo, None, 10).unwrap();
    let seen_by_b = h.portal.review_queue(tokyo, None, 10).unwrap();
    assert_eq!(seen_by_a, seen_by_b);
    let number = seen_by_a.entries[0].number.to_string();
    assert_eq!(seen_by_a.entries[0].number, first);

    h.portal
        .reissue_review(
            tokyo,
            &number,
            Decision::Approve {
                clear_security_emails: false,
            },
            &mut h.rng,
        )
        .unwrap();
    let before = h.host.store.snapshot();
    assert_eq!(
        h.portal
            .reissue_review(tokyo, &number, Decision::Reject, &mut h.rng)
            .unwrap_err(),
        PortalError::Flow(FlowError::AlreadyReviewed)
    );
    assert_eq!(h.host.store.snapshot(), before);
    assert!(matches!(
        h.portal.reissue_application(tokyo, &number).unwrap().status,
        ApplicationStatus::Approved { .. }
    ));
    let now = h.portal.review_queue(tokyo, None, 10).unwrap();
    assert_eq!(numbers(&now.entries), vec![second]);

    h.portal
        .reissue_review(tokyo, &second.to_string(), Decision::Reject, &mut h.rng)
        .unwrap();
    assert!(
        h.portal
            .review_queue(tokyo, None, 10)
            .unwrap()
            .entries
            .is_empty()
    );
}

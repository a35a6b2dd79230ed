//! LOST-01 and RS — the office resets its own login info (source 1.2.2 (3)), driven as the source
//! numbers its procedure, on a virtual clock, reading the OTP from the outbox like a user reading
//! mail.
//!
//! Steps: `1 パスワード等を紛失した方 2 ログイン情報再設定認証 3 ワンタイムパスワード入力
//! 4 ログイン情報再設定 5 終了`.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::TimeDelta;
use kaigo_seikyu::account::{Account, Temporary};
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::effect::EventKind;
use kaigo_seikyu::error::{FlowError, PortalError};
use kaigo_seikyu::lost::{self, LostChoice};
use kaigo_seikyu::mail::Mail;
use kaigo_seikyu::memory::{Embedded, MemoryStore};
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::{Portal, Ports};
use kaigo_seikyu::ports::Clock;
use kaigo_seikyu::reset::{self, Reset};
use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, CountingHasher, SecretHasher};
use kaigo_seikyu::store::{
    Budget, FlowId, FlowKind, Key, RateWindow, Store, StoreError, Versioned, Write,
};
use kaigo_seikyu::strategies;
use kaigo_seikyu::values::{
    EmailAddress, OfficeNumber, PasswordClause, Prefecture, UserId, ValueError,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_core::TryRng;

const START: &str = "2026-01-10T12:00:00+09:00";
const KEY: [u8; 32] = [42; 32];
const OFFICE: &str = "1311111111";
const ADDRESS: &str = "mailforsecurity-001@jp";
const OLD_PASSWORD: &str = "Lost2025!";
const NEW_PASSWORD: &str = "Sakura2026!";

// ---------------------------------------------------------------------------------------------
// The host and its offices.

/// Counts every draw from the CSPRNG (RS-03, SEC-08: the same work on every path).
struct CountingRng {
    inner: StdRng,
    draws: usize,
    bytes: usize,
}

impl CountingRng {
    fn new(seed: u64) -> Self {
        CountingRng {
            inner: StdRng::seed_from_u64(seed),
            draws: 0,
            bytes: 0,
        }
    }
}

impl TryRng for CountingRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.draws += 1;
        self.bytes += 4;
        self.inner.try_next_u32()
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.draws += 1;
        self.bytes += 8;
        self.inner.try_next_u64()
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.draws += 1;
        self.bytes += dst.len();
        self.inner.try_fill_bytes(dst)
    }
}

impl rand_core::TryCryptoRng for CountingRng {}

/// The embedded host with a counting hasher behind its portal.
struct Host {
    host: Embedded,
    portal: Portal,
    /// Counts every hash, verification and keyed digest (RS-03, SEC-08).
    hasher: Arc<CountingHasher<Argon2Hasher>>,
}

fn host() -> Host {
    let host = Embedded::new(utc(START));
    let policy = Policy::insecure_fast_hashing();
    let hasher = Arc::new(CountingHasher::new(Argon2Hasher::new(
        policy.hashing,
        CodeKey::from_bytes(KEY),
    )));
    let ports = host.ports();
    let portal = Portal::with_hasher(ports, policy, hasher.clone());
    Host {
        host,
        portal,
        hasher,
    }
}

impl Host {
    /// Provisions an account of `office` billing to `billing`, with these security emails.
    fn account(
        &self,
        billing: Prefecture,
        office: &str,
        emails: &[&str],
        security_code: bool,
    ) -> UserId {
        let mut rng = StdRng::seed_from_u64(99);
        let user = UserId::new(billing, office.parse().unwrap());
        let mut account = Account::new(
            user,
            self.portal.hash_secret(OLD_PASSWORD.as_bytes(), &mut rng),
        );
        for e in emails {
            account.security_emails.add(a(e), utc(START)).unwrap();
        }
        if security_code {
            account.security_code = Some(self.portal.hash_secret(b"7351", &mut rng));
        }
        self.portal.create_account(account).unwrap();
        // The provisioning event (OPS-06) is the set-up's, not the reset's.
        self.host.events.drain();
        user
    }

    fn stored(&self, user: UserId) -> Account {
        self.portal.account(&user).unwrap().unwrap()
    }

    fn raw_account(&self, user: UserId) -> (u64, Vec<u8>) {
        let v = self.host.store.load(&Key::Account(user)).unwrap().unwrap();
        (v.version, v.value)
    }

    /// The flow as the store keeps it.
    fn flow(&self, id: &FlowId) -> Reset {
        serde_json::from_slice(&self.flow_bytes(id)).unwrap()
    }

    fn flow_bytes(&self, id: &FlowId) -> Vec<u8> {
        self.host
            .store
            .load(&Key::Flow(FlowKind::Reset, id.clone()))
            .unwrap()
            .unwrap()
            .value
    }

    /// The newest OTP mailed to `to`, read like a user reading mail.
    fn otp_to(&self, to: &str) -> String {
        code_in(&self.host.outbox.last_to(a(to)).expect("a T2 mail"))
    }

    fn advance(&self, by: TimeDelta) {
        self.host.clock.advance(by);
    }

    fn verifies(&self, user: UserId, password: &str) -> bool {
        let hasher = Argon2Hasher::new(self.portal.policy().hashing, CodeKey::from_bytes(KEY));
        hasher.verify(password.as_bytes(), &self.stored(user).password)
    }

    /// SEC-07: wrong OTP entries this hour of resets started for `user` with `address`.
    fn wrong_entries(&self, user: UserId, address: &str) -> usize {
        let key = Key::Budget(Budget::WrongResetCodes(user, a(address)));
        let window: RateWindow = self
            .host
            .store
            .load(&key)
            .unwrap()
            .map_or_else(RateWindow::default, |v| {
                serde_json::from_slice(&v.value).unwrap()
            });
        window.count(self.portal.now())
    }
}

fn a(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

fn tokyo() -> UserId {
    UserId::new(Prefecture::TOKYO, OFFICE.parse().unwrap())
}

/// The code a T2 mail delivers: the line after `[ワンタイムパスワード]`.
fn code_in(mail: &Mail) -> String {
    assert_eq!(mail.subject, "ワンタイムパスワード発行通知(介護保険)");
    mail.code().expect("the code").to_owned()
}

/// Another 6-digit code.
fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

fn flow_err(e: FlowError) -> Result<kaigo_seikyu::screen::Screen, PortalError> {
    Err(PortalError::Flow(e))
}

/// A stored flow as JSON with every keyed digest (64 hex digits: the OTP's and the seal) masked.
fn masked(bytes: &[u8]) -> String {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s)
                if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                *s = "<digest>".into();
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            serde_json::Value::Object(map) => map.values_mut().for_each(walk),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    walk(&mut v);
    v.to_string()
}

// ---------------------------------------------------------------------------------------------
// The procedure.

/// LOST-01, RS-01, RS-02, RS-03, RS-05, RS-06, RS-08: the source's procedure 1.2.2 (3), 手順 1.
/// to 8., for an office with user IDs in 東京都 and 大阪府 and a security code set. Only the chosen
/// user ID changes; the office is not logged in.
#[test]
fn lost_01_rs_01_to_rs_08_procedure_1_2_2_3() {
    let h = host();
    let user = h.account(Prefecture::TOKYO, OFFICE, &[ADDRESS], true);
    let osaka = h.account(Prefecture::OSAKA, OFFICE, &[ADDRESS], true);
    let osaka_before = h.raw_account(osaka);
    let mut rng = StdRng::seed_from_u64(1);

    // 手順 1. 【ログイン】: the link `パスワード等を紛失した方はこちら`.
    assert_eq!(lost::LINK, "パスワード等を紛失した方はこちら");

    // 手順 2. 【パスワード等を紛失した方】: choose the first option, `次へ`.
    let menu = lost::menu_screen();
    assert!(menu.shows(LostChoice::Reset.label()));
    assert_eq!(
        LostChoice::Reset.value().parse::<LostChoice>(),
        Ok(LostChoice::Reset)
    );

    // 手順 3. 【ログイン情報再設定認証】: 《事業所番号》 and 《セキュリティ用メールアドレス》, `次へ`.
    insta::assert_snapshot!(
        "rs_01_authentication",
        reset::authentication_screen().to_string()
    );
    let (id, screen) = h.portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();

    // 手順 4. 【請求先都道府県選択】: choose 《請求先都道府県》, `次へ`.
    insta::assert_snapshot!("rs_02_choosing_prefecture", screen.to_string());
    assert!(
        h.host.outbox.all().is_empty(),
        "nothing is mailed before the prefecture is chosen"
    );
    let screen = h
        .portal
        .reset_choose_prefecture(&id, "13", &mut rng)
        .unwrap();

    // 手順 5. The T2 mail arrives at the address of 手順 3.
    let mails = h.host.outbox.all();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, a(ADDRESS));
    let otp = code_in(&mails[0]);

    // 手順 6. 【ワンタイムパスワード入力】: 《ワンタイムパスワード》, `次へ`.
    insta::assert_snapshot!("rs_03_awaiting_otp", screen.to_string());
    assert!(
        !screen.to_string().contains(&otp),
        "SEC-01: no OTP on a screen"
    );
    let screen = h.portal.reset_enter_otp(&id, &otp, &mut rng).unwrap();

    // 手順 7. 【ログイン情報再設定】: the user ID, the new password twice, `変更`.
    insta::assert_snapshot!("rs_05_choosing_password", screen.to_string());
    let screen = h
        .portal
        .reset_choose_password(&id, NEW_PASSWORD, NEW_PASSWORD, &mut rng)
        .unwrap();

    // 手順 8. 【処理終了】, with the security-code note.
    insta::assert_snapshot!("rs_06_done_security_code_cleared", screen.to_string());

    let account = h.stored(user);
    assert!(h.verifies(user, NEW_PASSWORD) && !h.verifies(user, OLD_PASSWORD));
    assert_eq!(account.security_code, None);
    assert_eq!(
        h.raw_account(osaka),
        osaka_before,
        "the other user ID is untouched"
    );

    // RS-08: a notice, an event and revoked sessions; no login.
    let notices = h.host.notices.for_office(&OFFICE.parse().unwrap());
    assert_eq!(notices.len(), 1);
    insta::assert_snapshot!(
        "rs_08_notice_security_code_cleared",
        format!("{}\n\n{}", notices[0].title, notices[0].body)
    );
    let kinds: Vec<EventKind> = h.host.events.all().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::LoginInfoReset { user }]);
    assert_eq!(h.host.sessions.revoked(), [user]);
    assert!(matches!(h.flow(&id), Reset::Done(_)));
    assert_eq!(h.host.outbox.all().len(), 1, "no mail but the OTP");

    // SEC-01: neither the OTP nor the password shows in the flow, its Debug, the notice or events.
    let traces = [
        String::from_utf8(h.flow_bytes(&id)).unwrap(),
        format!("{:?}", h.flow(&id)),
        format!("{notices:?}"),
        format!("{kinds:?}"),
    ];
    for t in traces {
        assert!(!t.contains(&otp) && !t.contains(NEW_PASSWORD), "{t}");
    }
    // The flow is over.
    assert_eq!(
        h.portal.reset_enter_otp(&id, &otp, &mut rng),
        flow_err(FlowError::FlowFinished)
    );
}

/// RS-02: an office with user IDs in one billing prefecture goes straight to the OTP; a choice
/// not offered is refused and changes nothing.
#[test]
fn rs_02_prefecture_screen_only_for_several_billing_prefectures() {
    let h = host();
    let user = h.account(Prefecture::OSAKA, OFFICE, &[ADDRESS], false);
    let mut rng = StdRng::seed_from_u64(2);
    let (_, screen) = h.portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
    assert_eq!(screen.title, "ワンタイムパスワード入力");
    assert_eq!(h.host.outbox.all().len(), 1);

    h.account(Prefecture::HOKKAIDO, OFFICE, &[], false);
    let (id, screen) = h.portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
    assert_eq!(screen.title, "請求先都道府県選択");
    assert!(screen.shows("○ 北海道") && screen.shows("○ 大阪府") && !screen.shows("東京都"));
    let before = h.flow_bytes(&id);
    assert_eq!(
        h.portal.reset_choose_prefecture(&id, "13", &mut rng),
        flow_err(FlowError::PrefectureNotOffered)
    );
    assert_eq!(
        h.portal.reset_choose_prefecture(&id, "東京", &mut rng),
        flow_err(FlowError::Value(ValueError::PrefectureCode))
    );
    assert_eq!(
        h.portal.reset_enter_otp(&id, "123456", &mut rng),
        flow_err(FlowError::UnexpectedInput {
            state: "ChoosingPrefecture",
            input: "EnterOtp"
        })
    );
    assert_eq!(h.flow_bytes(&id), before);
    let screen = h
        .portal
        .reset_choose_prefecture(&id, "27", &mut rng)
        .unwrap();
    assert_eq!(screen.title, "ワンタイムパスワード入力");
    let otp = h.otp_to(ADDRESS);
    let screen = h.portal.reset_enter_otp(&id, &otp, &mut rng).unwrap();
    assert!(screen.shows(&user.to_string()));
}

/// RS-01, SEC-06: a malformed office number or address is refused before anything is drawn,
/// stored or mailed.
#[test]
fn rs_01_malformed_input_refused_before_anything_is_drawn() {
    let h = host();
    h.account(Prefecture::TOKYO, OFFICE, &[ADDRESS], false);
    let records = h.host.store.len();
    let mut rng = CountingRng::new(3);
    let cases = [
        ("131111111", ADDRESS, ValueError::OfficeNumberLength),
        (
            "１３１１１１１１１１",
            ADDRESS,
            ValueError::OfficeNumberLength,
        ),
        ("4811111111", ADDRESS, ValueError::OfficeNumberPrefecture),
        (OFFICE, "ｍａｉｌ@jp", ValueError::EmailNotAscii),
        (OFFICE, "", ValueError::EmailEmpty),
        (OFFICE, "a@b@jp", ValueError::EmailLocalPart),
    ];
    for (office, address, err) in cases {
        assert_eq!(
            h.portal.reset_start(office, address, &mut rng).unwrap_err(),
            PortalError::Flow(err.into())
        );
    }
    assert_eq!((rng.draws, h.hasher.counts()[2]), (0, 0));
    assert_eq!(h.host.store.len(), records);
    assert!(h.host.outbox.all().is_empty());
}

// ---------------------------------------------------------------------------------------------
// RS-03: enumeration resistance.

/// The three paths of RS-03 on three identical hosts: the address matches, it does not, the
/// office is unknown.
struct Paths {
    matching: Host,
    other: Host,
    unknown: Host,
}

fn paths() -> Paths {
    let matching = host();
    matching.account(Prefecture::TOKYO, OFFICE, &["first@jp", ADDRESS], true);
    let other = host();
    other.account(Prefecture::TOKYO, OFFICE, &["first@jp", "second@jp"], true);
    Paths {
        matching,
        other,
        unknown: host(),
    }
}

/// RS-03: matching, non-matching and unknown-office paths show the same screens, answer the same
/// errors and persist the same flow (digests masked); only the matching one mails.
#[test]
fn rs_03_paths_are_indistinguishable_but_for_the_mail() {
    let p = paths();
    let all = [&p.matching, &p.other, &p.unknown];
    let mut rngs = [1, 2, 3].map(|_| StdRng::seed_from_u64(33));
    let mut ids = Vec::new();
    let mut screens = Vec::new();
    for (h, rng) in all.iter().zip(&mut rngs) {
        let (id, screen) = h.portal.reset_start(OFFICE, ADDRESS, rng).unwrap();
        screens.push(screen);
        ids.push(id);
    }
    assert!(screens.iter().all(|s| *s == screens[0]));
    assert!(screens[0].shows("ワンタイムパスワードを mailforsecurity-001@jp 宛に送信しました。"));
    assert!(ids.iter().all(|id| *id == ids[0]));
    let flows: Vec<String> = all.iter().map(|h| masked(&h.flow_bytes(&ids[0]))).collect();
    assert!(flows.iter().all(|f| *f == flows[0]), "{flows:#?}");
    let sizes: Vec<usize> = all.iter().map(|h| h.flow_bytes(&ids[0]).len()).collect();
    assert!(sizes.iter().all(|s| *s == sizes[0]), "{sizes:?}");

    assert_eq!(p.matching.host.outbox.all().len(), 1);
    assert!(p.other.host.outbox.all().is_empty() && p.unknown.host.outbox.all().is_empty());

    // The same answers to the same wrong entries, and to the resend.
    let otp = p.matching.otp_to(ADDRESS);
    for input in [wrong(&otp), "12345".into(), wrong(&wrong(&otp))] {
        let answers: Vec<_> = all
            .iter()
            .zip(&mut rngs)
            .map(|(h, rng)| h.portal.reset_enter_otp(&ids[0], &input, rng))
            .collect();
        assert!(answers.iter().all(|r| *r == answers[0]), "{answers:?}");
    }
    let answers: Vec<_> = all
        .iter()
        .zip(&mut rngs)
        .map(|(h, rng)| h.portal.reset_resend(&ids[0], rng))
        .collect();
    assert!(answers.iter().all(|r| *r == answers[0] && r.is_ok()));
    let flows: Vec<String> = all.iter().map(|h| masked(&h.flow_bytes(&ids[0]))).collect();
    assert!(flows.iter().all(|f| *f == flows[0]), "{flows:#?}");
    assert_eq!(p.matching.host.outbox.all().len(), 2);
    assert!(p.other.host.outbox.all().is_empty() && p.unknown.host.outbox.all().is_empty());
    for h in all {
        assert!(
            h.host.notices.all().is_empty()
                && h.host.events.all().is_empty()
                && h.host.sessions.revoked().is_empty()
        );
    }
}

/// RS-03: a withheld OTP never verifies — not even when the entry equals the code that was drawn
/// and digested but not mailed — and it is counted as the wrong entry it is.
#[test]
fn rs_03_withheld_otp_never_verifies() {
    let p = paths();
    let mut rng_m = StdRng::seed_from_u64(44);
    let mut rng_o = StdRng::seed_from_u64(44);
    let (id, _) = p
        .matching
        .portal
        .reset_start(OFFICE, ADDRESS, &mut rng_m)
        .unwrap();
    let (id_o, _) = p
        .other
        .portal
        .reset_start(OFFICE, ADDRESS, &mut rng_o)
        .unwrap();
    assert_eq!(id, id_o);
    // Same seed, same key: the non-matching host drew and digested this very code.
    let drawn = p.matching.otp_to(ADDRESS);
    assert_eq!(
        p.other.portal.reset_enter_otp(&id, &drawn, &mut rng_o),
        flow_err(FlowError::WrongCode { remaining: 4 })
    );
    assert_eq!(p.other.wrong_entries(tokyo(), ADDRESS), 1);
    for remaining in (1..4).rev() {
        assert_eq!(
            p.other.portal.reset_enter_otp(&id, &drawn, &mut rng_o),
            flow_err(FlowError::WrongCode { remaining })
        );
    }
    assert_eq!(
        p.other.portal.reset_enter_otp(&id, &drawn, &mut rng_o),
        flow_err(FlowError::CodeExhausted)
    );
    assert!(matches!(p.other.flow(&id), Reset::Voided(_)));
    // The matching host takes the same code.
    assert!(
        p.matching
            .portal
            .reset_enter_otp(&id, &drawn, &mut rng_m)
            .is_ok()
    );
}

/// RS-03, SEC-08: with counting fakes, the matching, non-matching and unknown-office paths make
/// the same number of CSPRNG draws, hashes, verifications and keyed digests at every request;
/// the outbox is the only difference.
#[test]
fn rs_03_sec_08_same_work_on_every_path() {
    let p = paths();
    let mut work = Vec::new();
    for h in [&p.matching, &p.other, &p.unknown] {
        let base = h.hasher.counts();
        let mut rng = CountingRng::new(55);
        let mut per_request = Vec::new();
        let mut note = |rng: &CountingRng, h: &Host| {
            let c = h.hasher.counts();
            per_request.push((
                rng.draws,
                rng.bytes,
                c[0] - base[0],
                c[1] - base[1],
                c[2] - base[2],
            ));
        };
        let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
        note(&rng, h);
        let _ = h.portal.reset_enter_otp(&id, "000000", &mut rng);
        note(&rng, h);
        h.portal.reset_resend(&id, &mut rng).unwrap();
        note(&rng, h);
        let _ = h.portal.reset_enter_otp(&id, "999999", &mut rng);
        note(&rng, h);
        work.push(per_request);
    }
    assert_eq!(work[0], work[1]);
    assert_eq!(work[0], work[2]);
    // Something was counted: a flow id and a code with its nonce, then digests.
    assert!(work[0][0].0 >= 3 && work[0][0].4 >= 2, "{:?}", work[0]);
}

/// RS-03: an office with user IDs in several prefectures shows 【請求先都道府県選択】 whatever the
/// address; after the choice the paths are indistinguishable again.
#[test]
fn rs_03_prefecture_path_is_indistinguishable_too() {
    let m = host();
    m.account(Prefecture::TOKYO, OFFICE, &[ADDRESS], false);
    m.account(Prefecture::OSAKA, OFFICE, &["x@jp"], false);
    let o = host();
    o.account(Prefecture::TOKYO, OFFICE, &["x@jp"], false);
    o.account(Prefecture::OSAKA, OFFICE, &["y@jp"], false);
    let mut rm = StdRng::seed_from_u64(66);
    let mut ro = StdRng::seed_from_u64(66);
    let (id, sm) = m.portal.reset_start(OFFICE, ADDRESS, &mut rm).unwrap();
    let (_, so) = o.portal.reset_start(OFFICE, ADDRESS, &mut ro).unwrap();
    assert_eq!(sm, so);
    assert_eq!(masked(&m.flow_bytes(&id)), masked(&o.flow_bytes(&id)));
    let sm = m.portal.reset_choose_prefecture(&id, "13", &mut rm);
    let so = o.portal.reset_choose_prefecture(&id, "13", &mut ro);
    assert_eq!(sm, so);
    assert_eq!(masked(&m.flow_bytes(&id)), masked(&o.flow_bytes(&id)));
    assert_eq!(m.host.outbox.all().len(), 1);
    assert!(o.host.outbox.all().is_empty());
}

/// One thing a user can do after `reset_start`, for the property test.
#[derive(Debug, Clone)]
enum Op {
    Otp(String),
    Resend,
    Prefecture(String),
    Password(String, String),
    Wait(u8),
    /// A new reset with the same office and address (SEC-07: the budget spans flows).
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => "[0-9]{6}".prop_map(Op::Otp),
        1 => ".{0,8}".prop_map(Op::Otp),
        2 => Just(Op::Resend),
        2 => prop_oneof!["[0-4][0-9]", ".{0,3}"].prop_map(Op::Prefecture),
        1 => (".{0,18}", ".{0,18}").prop_map(|(n, c)| Op::Password(n, c)),
        1 => (0u8..40).prop_map(Op::Wait),
        1 => Just(Op::Restart),
    ]
}

fn apply(
    h: &Host,
    id: &mut FlowId,
    (office, address): (&str, &str),
    op: &Op,
    rng: &mut StdRng,
) -> Result<kaigo_seikyu::screen::Screen, PortalError> {
    match op {
        Op::Restart => h
            .portal
            .reset_start(office, address, rng)
            .map(|(new, screen)| {
                *id = new;
                screen
            }),
        Op::Otp(s) => h.portal.reset_enter_otp(id, s, rng),
        Op::Resend => h.portal.reset_resend(id, rng),
        Op::Prefecture(s) => h.portal.reset_choose_prefecture(id, s, rng),
        Op::Password(n, c) => h.portal.reset_choose_password(id, n, c, rng),
        Op::Wait(m) => {
            h.advance(TimeDelta::minutes(i64::from(*m)));
            h.portal.reset_screen(id)
        }
    }
}

/// Everything an outsider or the host's records can tell about a flow, but the mail: the flow
/// (digests masked), the budgets, notices, events and revoked sessions.
#[derive(Debug, PartialEq)]
struct Observed {
    flow: String,
    budgets: Vec<(String, u64, Vec<u8>)>,
    effects: String,
}

fn observable(h: &Host, id: &FlowId) -> Observed {
    let flow = h
        .host
        .store
        .load(&Key::Flow(FlowKind::Reset, id.clone()))
        .unwrap()
        .map(|v| masked(&v.value));
    let budgets = h
        .host
        .store
        .snapshot()
        .into_iter()
        .filter(|(k, _)| k.starts_with("budget/"))
        .map(|(k, v)| (k, v.version, v.value))
        .collect();
    let effects = format!(
        "{:?} {:?} {:?}",
        h.host.notices.all(),
        h.host.events.all(),
        h.host.sessions.revoked()
    );
    Observed {
        flow: flow.unwrap_or_default(),
        budgets,
        effects,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// RS-03, SEC-04, SEC-07: for arbitrary offices, billing prefectures, addresses and inputs,
    /// over several flows, the matching and non-matching paths (and, for an office billing to
    /// its own prefecture only, the unknown-office path) look the same: screens, errors (the
    /// budget errors included), the persisted flow with its digests masked, budgets and every
    /// effect but the mail.
    #[test]
    fn rs_03_property_paths_indistinguishable(
        office in strategies::office_number(),
        own_only in any::<bool>(),
        billing in proptest::collection::btree_set(strategies::prefecture(), 1..=3),
        address in strategies::email_address(),
        seed in any::<u64>(),
        ops in proptest::collection::vec(op(), 0..32),
    ) {
        let billing: Vec<Prefecture> = if own_only { vec![office.prefecture()] } else { billing.into_iter().collect() };
        let other = if address.same_as(&a("someone-else@jp")) { "someone-else2@jp" } else { "someone-else@jp" };
        let m = host();
        let o = host();
        for b in &billing {
            m.account(*b, office.as_str(), &[other, address.as_str()], true);
            o.account(*b, office.as_str(), &[other], true);
        }
        let unknown = (billing == [office.prefecture()]).then(host);
        let hosts: Vec<&Host> = [Some(&m), Some(&o), unknown.as_ref()].into_iter().flatten().collect();
        let mut rngs: Vec<StdRng> = hosts.iter().map(|_| StdRng::seed_from_u64(seed)).collect();

        let starts: Vec<_> = hosts.iter().zip(&mut rngs).map(|(h, rng)| h.portal.reset_start(office.as_str(), address.as_str(), rng)).collect();
        prop_assert!(starts.iter().all(|s| *s == starts[0]));
        let (mut id, _) = starts[0].clone().unwrap();
        let seen = observable(&m, &id);
        for h in &hosts[1..] {
            prop_assert_eq!(&observable(h, &id), &seen);
        }
        for op in &ops {
            // The real OTP is the one thing only the matching path's mailbox knows.
            if let (Op::Otp(s), Some(mail)) = (op, m.host.outbox.last_to(&address))
                && code_in(&mail) == s.trim_matches(' ')
            {
                continue;
            }
            let mut ids = vec![id.clone(); hosts.len()];
            let answers: Vec<_> = hosts.iter().zip(&mut rngs).zip(&mut ids).map(|((h, rng), id)| apply(h, id, (office.as_str(), address.as_str()), op, rng)).collect();
            prop_assert!(ids.iter().all(|i| *i == ids[0]));
            id = ids.swap_remove(0);
            prop_assert!(answers.iter().all(|r| *r == answers[0]), "{:?} → {:?}", op, answers);
            let seen = observable(&m, &id);
            for h in &hosts[1..] {
                prop_assert_eq!(&observable(h, &id), &seen);
            }
        }
        prop_assert!(m.host.outbox.all().iter().all(|mail| mail.to == address));
        for h in &hosts[1..] {
            prop_assert!(h.host.outbox.all().is_empty());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RS-04, RS-07, SEC-03: lifetimes and attempts.

/// RS-04, SEC-03: the OTP is valid 30 minutes (accepted at 29:59, refused at 30:00 with nothing
/// changed), only the newest one works, and the fifth wrong entry voids the flow: no more
/// entries, no resend, start again from RS-01.
#[test]
fn rs_04_sec_03_lifetime_newest_only_and_voiding() {
    let h = host();
    let user = h.account(Prefecture::TOKYO, OFFICE, &[ADDRESS], false);
    let mut rng = StdRng::seed_from_u64(4);

    // Expired at 30:00: nothing changes.
    let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
    let otp = h.otp_to(ADDRESS);
    h.advance(TimeDelta::minutes(30));
    let before = h.flow_bytes(&id);
    assert_eq!(
        h.portal.reset_enter_otp(&id, &otp, &mut rng),
        flow_err(FlowError::CodeExpired)
    );
    assert_eq!(h.flow_bytes(&id), before);
    assert_eq!(
        h.wrong_entries(user, ADDRESS),
        0,
        "an expired entry is not a guess"
    );

    // Still valid at 29:59.
    let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
    let otp = h.otp_to(ADDRESS);
    h.advance(TimeDelta::seconds(29 * 60 + 59));
    assert!(h.portal.reset_enter_otp(&id, &otp, &mut rng).is_ok());

    // Only the newest OTP of a flow works.
    let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
    let old = h.otp_to(ADDRESS);
    h.portal.reset_resend(&id, &mut rng).unwrap();
    let new = h.otp_to(ADDRESS);
    if old != new {
        assert_eq!(
            h.portal.reset_enter_otp(&id, &old, &mut rng),
            flow_err(FlowError::WrongCode { remaining: 4 })
        );
    }
    assert!(h.portal.reset_enter_otp(&id, &new, &mut rng).is_ok());

    // Five wrong entries void the flow; a format error is not counted.
    h.advance(TimeDelta::hours(1));
    let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
    let otp = h.otp_to(ADDRESS);
    assert_eq!(
        h.portal.reset_enter_otp(&id, "１２３４５６", &mut rng),
        flow_err(FlowError::Value(ValueError::CodeFormat { digits: 6 }))
    );
    for remaining in (1..5).rev() {
        assert_eq!(
            h.portal.reset_enter_otp(&id, &wrong(&otp), &mut rng),
            flow_err(FlowError::WrongCode { remaining })
        );
    }
    assert_eq!(
        h.portal.reset_enter_otp(&id, &wrong(&otp), &mut rng),
        flow_err(FlowError::CodeExhausted)
    );
    assert_eq!(
        h.portal.reset_enter_otp(&id, &otp, &mut rng),
        flow_err(FlowError::CodeExhausted)
    );
    assert_eq!(
        h.portal.reset_resend(&id, &mut rng),
        flow_err(FlowError::CodeExhausted)
    );
    assert_eq!(
        h.wrong_entries(user, ADDRESS),
        5,
        "entries on a voided flow are not evaluated"
    );
    assert_eq!(
        h.portal.reset_screen(&id).unwrap(),
        reset::authentication_screen()
    );
    assert_eq!(
        PortalError::Flow(FlowError::CodeExhausted).message(),
        "コードの入力誤りが上限に達したため、無効になりました。最初からやり直してください。"
    );
}

/// Starts a reset of `OFFICE` and enters the mailed OTP: 【ログイン情報再設定】.
fn verified(h: &Host, rng: &mut StdRng) -> FlowId {
    let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, rng).unwrap();
    let otp = h.otp_to(ADDRESS);
    h.portal.reset_enter_otp(&id, &otp, rng).unwrap();
    id
}

/// RS-07, SEC-03: 【ログイン情報再設定】 must be completed within 30 minutes of the OTP being
/// verified; after that the flow is expired and changes nothing.
#[test]
fn rs_07_sec_03_reset_screen_expires_30_minutes_after_verification() {
    let h = host();
    let user = h.account(Prefecture::TOKYO, OFFICE, &[ADDRESS], false);
    let before = h.raw_account(user);
    let mut rng = StdRng::seed_from_u64(7);
    let id = verified(&h, &mut rng);
    h.advance(TimeDelta::minutes(30));
    let flow = h.flow_bytes(&id);
    assert_eq!(
        h.portal
            .reset_choose_password(&id, NEW_PASSWORD, NEW_PASSWORD, &mut rng),
        flow_err(FlowError::FlowExpired)
    );
    assert_eq!(h.raw_account(user), before);
    assert_eq!(h.flow_bytes(&id), flow);
    assert!(h.host.notices.all().is_empty() && h.host.events.all().is_empty());

    let id = verified(&h, &mut rng);
    h.advance(TimeDelta::seconds(29 * 60 + 59));
    assert!(
        h.portal
            .reset_choose_password(&id, NEW_PASSWORD, NEW_PASSWORD, &mut rng)
            .is_ok()
    );
}

/// RS-05, VAL-05, VAL-06: each broken password clause and a mismatched confirmation are their
/// own errors, and change nothing; the next try on the same screen works.
#[test]
fn rs_05_password_policy_and_confirmation() {
    let h = host();
    let user = h.account(Prefecture::TOKYO, OFFICE, &[ADDRESS], true);
    let before = h.raw_account(user);
    let mut rng = StdRng::seed_from_u64(5);
    let id = verified(&h, &mut rng);
    let cases = [
        (
            "Abc123",
            "Abc123",
            FlowError::Value(ValueError::Password(PasswordClause::Length {
                min: 8,
                max: 16,
            })),
        ),
        (
            "Abcd 1234",
            "Abcd 1234",
            FlowError::Value(ValueError::Password(PasswordClause::Characters)),
        ),
        (
            "12345678",
            "12345678",
            FlowError::Value(ValueError::Password(PasswordClause::NoLetter)),
        ),
        (
            "Abcdefgh",
            "Abcdefgh",
            FlowError::Value(ValueError::Password(PasswordClause::NoDigit)),
        ),
        (
            "kj131311111111",
            "kj131311111111",
            FlowError::Value(ValueError::Password(PasswordClause::SameAsUserId)),
        ),
        (NEW_PASSWORD, "Sakura2026?", FlowError::ConfirmationMismatch),
    ];
    for (new, confirm, err) in cases {
        let e = h
            .portal
            .reset_choose_password(&id, new, confirm, &mut rng)
            .unwrap_err();
        assert_eq!(e, PortalError::Flow(err));
        assert!(
            !format!("{e} {e:?} {}", e.message()).contains(new),
            "SEC-01: no password in errors"
        );
    }
    assert_eq!(h.raw_account(user), before);
    assert!(matches!(h.flow(&id), Reset::ChoosingPassword(_)));
    let screen = h.portal.reset_screen(&id).unwrap();
    assert!(
        screen.shows("《ユーザID》 KJ131311111111")
            && screen.shows("《セキュリティコード》 （解除されます）")
    );
    assert!(
        h.portal
            .reset_choose_password(&id, NEW_PASSWORD, NEW_PASSWORD, &mut rng)
            .is_ok()
    );
}

/// RS-06: the reset clears the lockout, the failure count and a temporary password too; without
/// a security code set, the done screen has no security-code note and the notice says so.
#[test]
fn rs_06_clears_lockout_and_temporary_password() {
    let h = host();
    let user = h.account(Prefecture::TOKYO, OFFICE, &[ADDRESS], false);
    let mut account = h.stored(user);
    account.failures = 3;
    account.locked_until = Some(utc(START) + TimeDelta::minutes(30));
    account.temporary = Some(Temporary { expires_at: None });
    let value = serde_json::to_vec(&account).unwrap();
    let (version, _) = h.raw_account(user);
    h.host
        .store
        .commit(&[Write::Put {
            key: Key::Account(user),
            expected: Some(version),
            value,
            expires: None,
        }])
        .unwrap();
    let mut rng = StdRng::seed_from_u64(6);
    let id = verified(&h, &mut rng);
    let screen = h
        .portal
        .reset_choose_password(&id, NEW_PASSWORD, NEW_PASSWORD, &mut rng)
        .unwrap();
    insta::assert_snapshot!("rs_06_done", screen.to_string());
    let account = h.stored(user);
    assert_eq!(
        (account.failures, account.locked_until, account.temporary),
        (0, None, None)
    );
    assert!(!account.is_locked(h.portal.now()));
    let notice = &h.host.notices.all()[0].1;
    insta::assert_snapshot!(
        "rs_08_notice",
        format!("{}\n\n{}", notice.title, notice.body)
    );
}

/// A store that loses every compare-and-swap race on an account: another request always got
/// there first (a stale version).
struct Contended(Arc<MemoryStore>);

impl Store for Contended {
    fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        self.0.load(key)
    }
    fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        if writes.iter().any(|w| matches!(w.key(), Key::Account(_))) {
            Err(StoreError::Conflict)
        } else {
            self.0.commit(writes)
        }
    }
}

/// RS-06, SEC-02: a reset that keeps losing the race on the account's version is refused with a
/// clear error: the account, the flow and the ports are untouched, and it can be tried again.
#[test]
fn rs_06_sec_02_stale_version_changes_nothing() {
    let h = host();
    let user = h.account(Prefecture::TOKYO, OFFICE, &[ADDRESS], true);
    let before = h.raw_account(user);
    let mut rng = StdRng::seed_from_u64(14);
    let id = verified(&h, &mut rng);
    let flow = h.flow_bytes(&id);
    let ports = Ports {
        store: Arc::new(Contended(h.host.store.clone())),
        ..h.host.ports()
    };
    let contended = Portal::new(
        ports,
        Policy::insecure_fast_hashing(),
        CodeKey::from_bytes(KEY),
    );
    let err = contended
        .reset_choose_password(&id, NEW_PASSWORD, NEW_PASSWORD, &mut rng)
        .unwrap_err();
    assert_eq!(err, PortalError::Store(StoreError::Conflict));
    assert_eq!(
        err.message(),
        "システムが混み合っています。しばらく時間をおいてから再度お試しください。"
    );
    assert_eq!(h.raw_account(user), before);
    assert_eq!(h.flow_bytes(&id), flow);
    assert!(h.host.notices.all().is_empty() && h.host.events.all().is_empty());
    assert!(h.host.sessions.revoked().is_empty());
    assert!(
        h.portal
            .reset_choose_password(&id, NEW_PASSWORD, NEW_PASSWORD, &mut rng)
            .is_ok()
    );
}

/// RS-08: any number of starts and wrong OTPs leave the account as it was — password, security
/// code, failure count, lock — byte for byte; nothing is posted or logged until a reset finishes.
#[test]
fn rs_08_starting_changes_and_locks_nothing() {
    let h = host();
    let user = h.account(Prefecture::TOKYO, OFFICE, &[ADDRESS], true);
    let before = h.raw_account(user);
    let mut rng = StdRng::seed_from_u64(8);
    for _ in 0..3 {
        let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
        let otp = h.otp_to(ADDRESS);
        for _ in 0..3 {
            let _ = h.portal.reset_enter_otp(&id, &wrong(&otp), &mut rng);
        }
        h.portal.reset_resend(&id, &mut rng).unwrap();
        h.portal
            .reset_enter_otp(&id, &h.otp_to(ADDRESS), &mut rng)
            .unwrap();
    }
    assert_eq!(h.raw_account(user), before);
    assert!(
        h.host.notices.all().is_empty()
            && h.host.events.all().is_empty()
            && h.host.sessions.revoked().is_empty()
    );
    assert!(h.verifies(user, OLD_PASSWORD));
}

/// RS-01, RS-08: `戻る` on the OTP or the password screen ends the flow and shows
/// 【ログイン情報再設定認証】 again; no account changes, and the mail budget already spent stays
/// spent (so going back does not reset SEC-04).
#[test]
fn rs_01_back_ends_the_flow_and_changes_nothing() {
    let h = host();
    let user = h.account(Prefecture::TOKYO, OFFICE, &[ADDRESS], false);
    let before = h.raw_account(user);
    let mut rng = StdRng::seed_from_u64(11);
    let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
    let screen = h.portal.reset_back(&id, &mut rng).unwrap();
    assert_eq!(screen, kaigo_seikyu::reset::authentication_screen());
    assert_eq!(h.portal.reset_screen(&id), Err(PortalError::NoSuchFlow));
    assert_eq!(
        h.portal.reset_back(&id, &mut rng),
        Err(PortalError::NoSuchFlow)
    );
    let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
    h.portal
        .reset_enter_otp(&id, &h.otp_to(ADDRESS), &mut rng)
        .unwrap();
    assert_eq!(
        h.portal.reset_back(&id, &mut rng).unwrap().title,
        "ログイン情報再設定認証"
    );
    assert_eq!(h.raw_account(user), before);
    let mails = Key::Budget(Budget::CodeMails(a(ADDRESS)));
    let window: RateWindow =
        serde_json::from_slice(&h.host.store.load(&mails).unwrap().unwrap().value).unwrap();
    assert_eq!(window.count(h.portal.now()), 2);
}

// ---------------------------------------------------------------------------------------------
// SEC-02, SEC-04, SEC-07: budgets and races, the same on every path.

/// SEC-04: at most 5 OTPs per flow and 10 OTP mails per address per hour, refused identically
/// whether or not the address matched; the budget is the entered address's.
#[test]
fn sec_04_mail_budgets_identical_on_every_path() {
    let p = paths();
    let mut answers = Vec::new();
    for h in [&p.matching, &p.other, &p.unknown] {
        let mut rng = StdRng::seed_from_u64(9);
        let mut seen = Vec::new();
        let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
        for _ in 0..5 {
            seen.push(h.portal.reset_resend(&id, &mut rng).map(|s| s.title));
        }
        for _ in 0..6 {
            seen.push(
                h.portal
                    .reset_start(OFFICE, ADDRESS, &mut rng)
                    .map(|(_, s)| s.title),
            );
        }
        // Another address still has its own budget; an hour later this one has again.
        seen.push(
            h.portal
                .reset_start(OFFICE, "third@jp", &mut rng)
                .map(|(_, s)| s.title),
        );
        h.advance(TimeDelta::hours(1));
        seen.push(
            h.portal
                .reset_start(OFFICE, ADDRESS, &mut rng)
                .map(|(_, s)| s.title),
        );
        answers.push(seen);
    }
    let expect_ok = Ok("ワンタイムパスワード入力".to_owned());
    let a0 = &answers[0];
    assert_eq!(
        a0[..4],
        [
            expect_ok.clone(),
            expect_ok.clone(),
            expect_ok.clone(),
            expect_ok.clone()
        ]
    );
    assert_eq!(
        a0[4],
        Err(PortalError::Flow(FlowError::TooManyCodes)),
        "a sixth code in one flow"
    );
    assert_eq!(a0[9], expect_ok, "the tenth code mail this hour");
    assert_eq!(
        a0[10],
        Err(PortalError::Flow(FlowError::MailBudgetExceeded)),
        "the eleventh"
    );
    assert_eq!(a0[11], expect_ok);
    assert_eq!(a0[12], expect_ok);
    assert_eq!(answers[1], answers[0]);
    assert_eq!(answers[2], answers[0]);
    assert_eq!(
        p.matching
            .host
            .outbox
            .all()
            .iter()
            .filter(|m| m.to == a(ADDRESS))
            .count(),
        11
    );
    assert!(p.other.host.outbox.all().is_empty() && p.unknown.host.outbox.all().is_empty());
}

/// SEC-07: at most 10 wrong OTP entries per user ID per hour, across flows; past that even the
/// right OTP is refused until the hour has passed. Identical on the non-matching path.
#[test]
fn sec_07_guess_budget_per_user_id_across_flows() {
    let p = paths();
    let mut answers = Vec::new();
    for h in [&p.matching, &p.other] {
        let mut rng = StdRng::seed_from_u64(10);
        let mut seen = Vec::new();
        for _ in 0..2 {
            let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
            for _ in 0..5 {
                seen.push(h.portal.reset_enter_otp(&id, "000000", &mut rng).err());
            }
        }
        let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
        let right = h
            .host
            .outbox
            .last_to(a(ADDRESS))
            .map(|m| code_in(&m))
            .unwrap_or_else(|| "000000".into());
        seen.push(h.portal.reset_enter_otp(&id, &right, &mut rng).err());
        assert_eq!(h.wrong_entries(tokyo(), ADDRESS), 10);
        h.advance(TimeDelta::minutes(59));
        seen.push(h.portal.reset_enter_otp(&id, &right, &mut rng).err());
        assert_eq!(
            h.host.outbox.all().len(),
            if std::ptr::eq(h, &p.matching) { 3 } else { 0 }
        );
        answers.push((seen, id, right));
    }
    let (seen, _, _) = &answers[0];
    // (A 1-in-a-million draw of "000000" would make one of the entries right; the seed does not.)
    assert_eq!(
        seen.iter()
            .filter(|e| matches!(e, Some(PortalError::Flow(FlowError::WrongCode { .. }))))
            .count(),
        8
    );
    assert_eq!(
        seen[10],
        Some(PortalError::Flow(FlowError::GuessBudgetExceeded))
    );
    assert_eq!(
        seen[11],
        Some(PortalError::Flow(FlowError::GuessBudgetExceeded)),
        "still within the hour"
    );
    assert_eq!(answers[1].0, answers[0].0);

    // An hour after the first wrong entries, the budget has room again (a fresh flow).
    let h = &p.matching;
    let mut rng = StdRng::seed_from_u64(11);
    h.advance(TimeDelta::minutes(1));
    let id = verified(h, &mut rng);
    assert!(matches!(h.flow(&id), Reset::ChoosingPassword(_)));
}

/// SEC-02, RS-04: many threads racing wrong OTPs at one flow through the in-memory store never get
/// more than the attempt limit evaluated: exactly 5 wrong entries are counted, the flow is voided
/// and the right OTP no longer works.
#[test]
fn sec_02_rs_04_racing_wrong_otps_never_exceed_the_limit() {
    let h = host();
    let user = h.account(Prefecture::TOKYO, OFFICE, &[ADDRESS], false);
    let mut rng = StdRng::seed_from_u64(12);
    let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
    let otp = h.otp_to(ADDRESS);
    let bad = wrong(&otp);
    let results: Vec<Result<_, PortalError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..12u64)
            .map(|t| {
                let (portal, id, bad) = (&h.portal, &id, &bad);
                s.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(100 + t);
                    (0..3)
                        .map(|_| portal.reset_enter_otp(id, bad, &mut rng))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let wrong_counted = results
        .iter()
        .filter(|r| matches!(r, Err(PortalError::Flow(FlowError::WrongCode { .. }))))
        .count();
    assert!(results.iter().all(|r| r.is_err()));
    assert_eq!(wrong_counted, 4, "{results:?}");
    assert_eq!(
        h.wrong_entries(user, ADDRESS),
        5,
        "evaluated and counted: exactly the limit"
    );
    assert!(matches!(h.flow(&id), Reset::Voided(_)));
    assert_eq!(
        h.portal.reset_enter_otp(&id, &otp, &mut rng),
        flow_err(FlowError::CodeExhausted)
    );
}

/// RS-03, SEC-07: an unknown but well-formed office number gets the OTP screen like any other;
/// its guesses count against a placeholder user ID in the office's own prefecture.
#[test]
fn rs_03_unknown_office_uses_its_own_prefecture_for_the_budget() {
    let h = host();
    let mut rng = StdRng::seed_from_u64(13);
    let (id, _) = h
        .portal
        .reset_start("2712345678", "x@jp", &mut rng)
        .unwrap();
    let _ = h.portal.reset_enter_otp(&id, "000000", &mut rng);
    let office: OfficeNumber = "2712345678".parse().unwrap();
    assert_eq!(
        h.wrong_entries(UserId::new(Prefecture::OSAKA, office), "x@jp"),
        1
    );
}

// ---------------------------------------------------------------------------------------------
// SEC-07 under races, clock skew and lockout attempts.

/// A portal over `store` and `clock`, with `h`'s hasher and other ports.
fn portal_over(h: &Host, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Portal {
    let ports = Ports {
        store,
        clock,
        ..h.host.ports()
    };
    Portal::with_hasher(ports, h.portal.policy().clone(), h.hasher.clone())
}

/// A store that, once armed, lets another request record a hit in one budget right after this
/// request has read it: the race of finding 1, made deterministic.
struct InjectsAHit {
    inner: Arc<MemoryStore>,
    budget: Key,
    at: kaigo_seikyu::calendar::Instant,
    armed: std::sync::atomic::AtomicBool,
}

impl Store for InjectsAHit {
    fn load(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        let found = self.inner.load(key)?;
        if *key == self.budget && self.armed.swap(false, Ordering::SeqCst) {
            let mut window: RateWindow = found
                .as_ref()
                .map(|v| serde_json::from_slice(&v.value).unwrap())
                .unwrap_or_default();
            assert!(window.try_spend(self.at, u8::MAX));
            self.inner.commit(&[Write::Put {
                key: key.clone(),
                expected: found.as_ref().map(|v| v.version),
                value: serde_json::to_vec(&window).unwrap(),
                expires: None,
            }])?;
        }
        Ok(found)
    }
    fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        self.inner.commit(writes)
    }
}

/// Nine wrong OTP entries against `user`/ADDRESS over two flows, then a third flow: its id and
/// its OTP.
fn nine_wrong_entries(h: &Host, rng: &mut StdRng) -> (FlowId, String) {
    let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, rng).unwrap();
    let otp = h.otp_to(ADDRESS);
    for _ in 0..5 {
        h.portal
            .reset_enter_otp(&id, &wrong(&otp), rng)
            .unwrap_err();
    }
    let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, rng).unwrap();
    let otp = h.otp_to(ADDRESS);
    for _ in 0..4 {
        h.portal
            .reset_enter_otp(&id, &wrong(&otp), rng)
            .unwrap_err();
    }
    assert_eq!(h.wrong_entries(tokyo(), ADDRESS), 9);
    let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, rng).unwrap();
    (id.clone(), h.otp_to(ADDRESS))
}

/// SEC-07, SEC-02 (finding 1): another request fills the guess budget right after this one read
/// it. The guess is not answered on the stale budget: the commit sees the budget changed, the
/// request runs again on fresh data and is refused, for a wrong entry and for the right one
/// alike (the right one's commit writes no budget, but checks it unchanged).
#[test]
fn sec_07_sec_02_budget_filled_between_read_and_commit_refuses_the_guess() {
    for right in [false, true] {
        let h = host();
        h.account(Prefecture::TOKYO, OFFICE, &[ADDRESS], false);
        let mut rng = StdRng::seed_from_u64(21);
        let (id, otp) = nine_wrong_entries(&h, &mut rng);
        let budget = Key::Budget(Budget::WrongResetCodes(tokyo(), a(ADDRESS)));
        let racing = Arc::new(InjectsAHit {
            inner: h.host.store.clone(),
            budget,
            at: h.portal.now(),
            armed: true.into(),
        });
        let portal = portal_over(&h, racing.clone(), h.host.clock.clone());
        let before = h.flow_bytes(&id);
        let entry = if right { otp } else { wrong(&otp) };
        assert_eq!(
            portal.reset_enter_otp(&id, &entry, &mut rng),
            flow_err(FlowError::GuessBudgetExceeded),
            "right entry: {right}"
        );
        assert!(!racing.armed.load(Ordering::SeqCst), "the hit was injected");
        assert_eq!(h.wrong_entries(tokyo(), ADDRESS), 10);
        assert_eq!(h.flow_bytes(&id), before, "nothing of the refused guess");
    }
}

/// Wrong OTP entries that were evaluated: answered `WrongCode`, or the entry that voided a flow.
fn evaluated_wrong(
    answers: &[Result<kaigo_seikyu::screen::Screen, PortalError>],
    voided: usize,
) -> usize {
    answers
        .iter()
        .filter(|r| matches!(r, Err(PortalError::Flow(FlowError::WrongCode { .. }))))
        .count()
        + voided
}

/// SEC-07, SEC-02 (finding 1): eight threads guessing at four flows of one user ID, over many
/// trials on the in-memory store, never get more than 10 wrong entries evaluated in the hour.
#[test]
fn sec_07_sec_02_eight_threads_at_four_flows_never_exceed_the_budget() {
    for trial in 0..40u64 {
        let h = host();
        h.account(Prefecture::TOKYO, OFFICE, &[ADDRESS], false);
        let mut rng = StdRng::seed_from_u64(trial);
        let flows: Vec<(FlowId, String)> = (0..4)
            .map(|_| {
                let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
                (id, wrong(&h.otp_to(ADDRESS)))
            })
            .collect();
        let answers: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8u64)
                .map(|t| {
                    let (portal, flows) = (&h.portal, &flows);
                    s.spawn(move || {
                        let mut rng = StdRng::seed_from_u64(1000 * trial + t);
                        (0..4)
                            .map(|i| {
                                let (id, bad) = &flows[(t as usize + i) % flows.len()];
                                portal.reset_enter_otp(id, bad, &mut rng)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let voided = flows
            .iter()
            .filter(|(id, _)| matches!(h.flow(id), Reset::Voided(_)))
            .count();
        let evaluated = evaluated_wrong(&answers, voided);
        assert_eq!(evaluated, 10, "trial {trial}: {answers:?}");
        assert_eq!(h.wrong_entries(tokyo(), ADDRESS), 10, "trial {trial}");
    }
}

/// SEC-07 (finding 2): two servers whose clocks are 5 s apart share one store. Twenty wrong
/// entries within 4 s, alternating between them, get at most 10 evaluated: a hit stamped by the
/// server whose clock runs ahead still counts on the other.
#[test]
fn sec_07_two_servers_five_seconds_apart_share_one_budget() {
    let h = host();
    h.account(Prefecture::TOKYO, OFFICE, &[ADDRESS], false);
    let ahead = Arc::new(kaigo_seikyu::memory::VirtualClock::new(
        h.portal.now() + TimeDelta::seconds(5),
    ));
    let other = portal_over(&h, h.host.store.clone(), ahead.clone());
    let mut rng = StdRng::seed_from_u64(31);
    let flows: Vec<(FlowId, String)> = (0..4)
        .map(|_| {
            let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
            (id, wrong(&h.otp_to(ADDRESS)))
        })
        .collect();
    let mut answers = Vec::new();
    for i in 0..20 {
        let portal = if i % 2 == 0 { &other } else { &h.portal };
        let (id, bad) = &flows[i / 5];
        answers.push(portal.reset_enter_otp(id, bad, &mut rng));
        h.advance(TimeDelta::milliseconds(200));
        ahead.advance(TimeDelta::milliseconds(200));
    }
    let voided = flows
        .iter()
        .filter(|(id, _)| matches!(h.flow(id), Reset::Voided(_)))
        .count();
    assert_eq!(evaluated_wrong(&answers, voided), 10, "{answers:?}");
    assert_eq!(
        answers[10..].iter().collect::<Vec<_>>(),
        vec![&flow_err(FlowError::GuessBudgetExceeded); 10]
    );
}

/// SEC-07, RS-03 (finding 3): guesses at resets started with a wrong address use up that
/// address's budget only. The real office, entering its own address, still gets its OTP checked
/// and verified; and the wrong-address budget behaves exactly as the matching one would.
#[test]
fn sec_07_rs_03_wrong_address_guesses_cannot_lock_the_office_out() {
    let h = host();
    h.account(Prefecture::TOKYO, OFFICE, &[ADDRESS], false);
    let mut rng = StdRng::seed_from_u64(41);
    let attacker = "attacker@jp";
    let mut answers = Vec::new();
    for _ in 0..3 {
        let (id, _) = h.portal.reset_start(OFFICE, attacker, &mut rng).unwrap();
        for _ in 0..5 {
            answers.push(h.portal.reset_enter_otp(&id, "000000", &mut rng));
        }
    }
    assert_eq!(
        answers
            .iter()
            .filter(|r| **r == flow_err(FlowError::GuessBudgetExceeded))
            .count(),
        5,
        "the attacker's own budget ran out after 10: {answers:?}"
    );
    assert_eq!(h.wrong_entries(tokyo(), attacker), 10);
    assert_eq!(h.wrong_entries(tokyo(), ADDRESS), 0);
    assert!(h.host.outbox.all().is_empty());
    let (id, _) = h.portal.reset_start(OFFICE, ADDRESS, &mut rng).unwrap();
    let screen = h
        .portal
        .reset_enter_otp(&id, &h.otp_to(ADDRESS), &mut rng)
        .unwrap();
    assert_eq!(screen.title, "ログイン情報再設定");
}

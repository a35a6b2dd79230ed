//! One day of the portal around the December 2025 release, played on any host: the story of the
//! walkthrough as a transcript of blocks (screens, mails, notices, events, letters), so a test can
//! check what it shows.

use std::sync::Arc;

use chrono::TimeDelta;
use kaigo_seikyu::account::TermsAcceptance;
use kaigo_seikyu::calendar::utc;
use kaigo_seikyu::certificate::{CertificateInput, MenuChoice};
use kaigo_seikyu::effect::Event;
use kaigo_seikyu::login;
use kaigo_seikyu::lost::{self, LostChoice};
use kaigo_seikyu::mail::{Mail, Notice};
use kaigo_seikyu::memory::{Embedded, VirtualClock};
use kaigo_seikyu::policy::Policy;
use kaigo_seikyu::portal::Portal;
use kaigo_seikyu::portal::{FlowRef, Route};
use kaigo_seikyu::ports::OfficeRecord;
use kaigo_seikyu::reissue::{
    Applicant, ApplicationForm, Decision, Federation, Reissue, ReviewOutcome,
};
use kaigo_seikyu::screen::{Form as ScreenForm, Screen};
use kaigo_seikyu::secret::CodeKey;
use kaigo_seikyu::security_emails::{OPEN_LIST, UserInput};
use kaigo_seikyu::store::FlowKind;
use kaigo_seikyu::values::{EmailAddress, OfficeNumber, Prefecture, UserId, Yen};
use kaigo_seikyu::{first_login, grace, reissue, reset};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::sqlite_host::SqliteHost;
use kaigo_seikyu_postgres::{PgPorts, PgStore};

/// A failure of the walkthrough, in words.
pub type Error = Box<dyn std::error::Error>;

/// Where the portal keeps its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// The embedded default: in-memory ports.
    Memory,
    /// The reference SQLite host on this file.
    Sqlite(std::path::PathBuf),
    /// The PostgreSQL host (crate `kaigo-seikyu-postgres`) on the database at this URL, in the
    /// first schema of its search path.
    Postgres(String),
}

/// One piece of what the walkthrough shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A new date and time on the virtual clock.
    Time(String),
    /// What happens next, in one English line.
    Step(String),
    /// A screen, as rendered.
    Screen(String),
    /// A mail the delivery loop handed out.
    Mail(Mail),
    /// A お知らせ posted to an office.
    Notice(OfficeNumber, Notice),
    /// An audit event.
    Event(String),
    /// The reissue letter the federation prints and posts (RI-09).
    Letter(String),
    /// A refusal the user sees: the screen's message and the log's English.
    Refusal(String),
}

impl std::fmt::Display for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Block::Time(t) => write!(f, "\n━━━━━━━━━━ {t} ━━━━━━━━━━"),
            Block::Step(s) => write!(f, "\n▶ {s}"),
            Block::Screen(s) => write!(f, "{}", s.trim_end()),
            Block::Mail(m) => write!(
                f,
                "✉ To: {}\n  件名: {}\n{}",
                m.to,
                m.subject,
                indent(&m.body)
            ),
            Block::Notice(office, n) => write!(
                f,
                "【お知らせ】 to {office}: {}\n{}",
                n.title,
                indent(&n.body)
            ),
            Block::Event(e) => write!(f, "  • event: {e}"),
            Block::Letter(l) => write!(
                f,
                "📮 ログイン情報再発行通知書 (printed and posted by the federation)\n{}",
                indent(l)
            ),
            Block::Refusal(r) => write!(f, "  ✗ {r}"),
        }
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  │ {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The passwords the offices type in the walkthrough: they must never be shown.
pub const PASSWORDS: [&str; 6] = [
    "Sakura2026!",
    "Tsubaki2026#",
    "Kiku2026$",
    "Momiji2026%",
    "Hakko2026!",
    "Wrong2026!",
];

/// 事業所B's セキュリティコード: a secret, never shown.
pub const SECURITY_CODE: &str = "Kagi2026code";

/// The host under the portal: the in-memory one, the SQLite one or the PostgreSQL one, seen the
/// same way.
enum Host {
    Memory(Embedded),
    Sqlite(SqliteHost),
    Postgres(PgPorts),
}

impl Host {
    fn add_office(&self, record: OfficeRecord) -> Result<(), Error> {
        match self {
            Host::Memory(h) => h.ledger.insert(record),
            Host::Sqlite(h) => h.insert_office(&record)?,
            Host::Postgres(h) => h.insert_office(&record)?,
        }
        Ok(())
    }

    /// The delivery loop: takes every queued mail out of the outbox, in order.
    fn deliver(&self) -> Result<Vec<Mail>, Error> {
        Ok(match self {
            Host::Memory(h) => h.outbox.drain(),
            Host::Sqlite(h) => {
                let mut mails = Vec::new();
                h.deliver::<crate::sqlite_host::HostError>(|out| {
                    mails.push(out.mail.clone());
                    Ok(())
                })?;
                mails
            }
            Host::Postgres(h) => {
                let mut mails = Vec::new();
                h.deliver_mails(|queued| {
                    mails.push(queued.mail.clone());
                    Ok(())
                })?;
                mails
            }
        })
    }

    fn notices(&self, office: &OfficeNumber) -> Result<Vec<Notice>, Error> {
        Ok(match self {
            Host::Memory(h) => h.notices.for_office(office),
            Host::Sqlite(h) => h.notices_for(office)?,
            Host::Postgres(h) => h.notices_for(office)?,
        })
    }

    fn events(&self) -> Result<Vec<Event>, Error> {
        Ok(match self {
            Host::Memory(h) => h.events.all(),
            Host::Sqlite(h) => h.events()?,
            Host::Postgres(h) => h.events()?,
        })
    }

    /// How many records the store holds.
    fn records(&self) -> Result<usize, Error> {
        Ok(match self {
            Host::Memory(h) => h.store.len(),
            Host::Sqlite(h) => h.record_count()?,
            Host::Postgres(h) => h.store().record_count()?,
        })
    }
}

/// The walkthrough's state: the portal, the host, the clock and what has been shown so far.
struct Day {
    portal: Portal,
    host: Host,
    clock: Arc<VirtualClock>,
    rng: StdRng,
    blocks: Vec<Block>,
    offices: Vec<OfficeNumber>,
    notices_seen: Vec<usize>,
    events_seen: usize,
    inbox: Vec<Mail>,
    /// The temporary password 事業所C reads off the reissue letter.
    letter_password: Option<String>,
    /// Estimates made so far (the first certificate application makes one).
    estimates: u32,
}

/// The offices of one run. A run on a store that already holds earlier runs takes fresh office
/// numbers, so it replays the same day without touching the earlier offices.
struct Cast {
    /// 事業所A: a new office, first login (FL), then certificates (FEE).
    new_office: UserId,
    /// 事業所B: an existing office without a security email (GR), then the list (SE) and a reset (RS).
    existing: UserId,
    /// 事業所C: an existing office billing two prefectures that lost everything (RI).
    lost_tokyo: UserId,
    lost_osaka: UserId,
    run: u32,
}

impl Cast {
    fn of_run(run: u32) -> Result<Self, Error> {
        let office =
            |role: u32| -> Result<OfficeNumber, Error> { Ok(format!("13{role}{run:07}").parse()?) };
        Ok(Cast {
            new_office: UserId::new(Prefecture::TOKYO, office(1)?),
            existing: UserId::new(Prefecture::TOKYO, office(2)?),
            lost_tokyo: UserId::new(Prefecture::TOKYO, office(3)?),
            lost_osaka: UserId::new(Prefecture::OSAKA, office(3)?),
            run,
        })
    }

    fn address(&self, name: &str) -> String {
        format!("{name}-{:03}@jp", self.run)
    }
}

/// Plays the day. Returns what it showed, up to the end or up to what went wrong.
pub fn run(store: &StoreChoice) -> (Vec<Block>, Result<(), Error>) {
    let mut blocks = Vec::new();
    let result = play(store, &mut blocks);
    (blocks, result)
}

fn play(store: &StoreChoice, out: &mut Vec<Block>) -> Result<(), Error> {
    let start = utc("2025-12-15T09:00:00+09:00");
    // Cheap argon2 parameters so the walkthrough runs in seconds: never use them for real passwords.
    let policy = Policy::insecure_fast_hashing();
    let key = CodeKey::from_bytes([42; 32]);
    let (host, clock, portal) = match store {
        StoreChoice::Memory => {
            let embedded = Embedded::new(start);
            let clock = embedded.clock.clone();
            let portal = embedded.portal(policy, key);
            (Host::Memory(embedded), clock, portal)
        }
        StoreChoice::Sqlite(path) => {
            let clock = Arc::new(VirtualClock::new(start));
            let host = SqliteHost::open(path, clock.clone())?;
            let portal = Portal::new(host.ports(), policy, key);
            (Host::Sqlite(host), clock, portal)
        }
        StoreChoice::Postgres(url) => {
            let clock = Arc::new(VirtualClock::new(start));
            let host = PgPorts::new(PgStore::connect(url)?, clock.clone());
            let portal = Portal::new(host.ports(), policy, key);
            (Host::Postgres(host), clock, portal)
        }
    };
    let mut run = 1;
    while portal.account(&Cast::of_run(run)?.new_office)?.is_some() {
        run += 1;
    }
    let cast = Cast::of_run(run)?;
    let mut day = Day {
        portal,
        host,
        clock,
        rng: StdRng::seed_from_u64(u64::from(run)),
        blocks: Vec::new(),
        offices: Vec::new(),
        notices_seen: Vec::new(),
        events_seen: 0,
        inbox: Vec::new(),
        letter_password: None,
        estimates: 0,
    };
    let result = day.play(&cast);
    out.append(&mut day.blocks);
    result
}

impl Day {
    fn play(&mut self, cast: &Cast) -> Result<(), Error> {
        let day = self;
        day.events_seen = day.host.events()?.len();
        let offices =
            [cast.new_office, cast.existing, cast.lost_tokyo].map(|u| u.office().to_string());
        day.step(&format!(
            "Run {} on this store: {} audit events from earlier runs. Offices of this run: {}.",
            cast.run,
            day.events_seen,
            offices.join(", ")
        ));
        day.provision(cast)?;
        day.first_login(cast)?;
        day.certificate(
            cast,
            "2025-12-20T10:00:00+09:00",
            "2025-12-20: before the notice window: no notice, no dialog, 13,200円.",
        )?;
        day.grace(cast)?;
        day.security_emails(cast)?;
        day.renewal(cast)?;
        day.certificate(
            cast,
            "2026-02-10T10:00:00+09:00",
            "2026-02-10: within the notice window (CAL-03): the notice and the consent dialog.",
        )?;
        day.security_code(cast)?;
        day.reset(cast)?;
        day.reissue(cast)?;
        day.reset_two_prefectures(cast)?;
        day.certificate(
            cast,
            "2026-04-01T10:00:00+09:00",
            "2026-04-01: the new fee, 7,800円 (CAL-04).",
        )?;
        day.purge()
    }

    /// OPS-02: after the day, with the clock past every lifetime, the host's timer purges dead
    /// flows, budget windows and outbox records in batches; accounts, applications and
    /// certificates stay.
    fn purge(&mut self) -> Result<(), Error> {
        self.at("2026-06-01T03:00:00+09:00");
        let before = self.host.records()?;
        let mut removed = 0;
        loop {
            let n = self.portal.purge(100)?;
            removed += n;
            if n < 100 {
                break;
            }
        }
        let kept = self.host.records()?;
        self.step(&format!(
            "The night's purge (OPS-02): removed {removed} dead records of {before}, kept {kept}."
        ));
        Ok(())
    }

    fn at(&mut self, instant: &str) {
        self.clock.set(utc(instant));
        self.blocks.push(Block::Time(instant.replace('T', " ")));
    }

    fn step(&mut self, english: &str) {
        self.blocks.push(Block::Step(english.to_owned()));
    }

    fn screen(&mut self, screen: &Screen) {
        self.blocks.push(Block::Screen(screen.to_string()));
    }

    fn route(&mut self, route: &Route) {
        match route.screen() {
            Some(screen) => self.screen(screen),
            None => self.step(&format!(
                "The menu is reached: the host starts a session ({route:?})."
            )),
        }
    }

    fn refused(&mut self, error: &kaigo_seikyu::error::PortalError) {
        self.blocks
            .push(Block::Refusal(format!("{}  ({error})", error.message())));
    }

    /// Shows what the ports received since the last call: mails (through the delivery loop),
    /// notices and events.
    fn settle(&mut self) -> Result<(), Error> {
        for mail in self.host.deliver()? {
            self.inbox.push(mail.clone());
            self.blocks.push(Block::Mail(mail));
        }
        for (i, office) in self.offices.clone().into_iter().enumerate() {
            let notices = self.host.notices(&office)?;
            for notice in &notices[self.notices_seen[i]..] {
                self.blocks.push(Block::Notice(office, notice.clone()));
            }
            self.notices_seen[i] = notices.len();
        }
        let events = self.host.events()?;
        for event in &events[self.events_seen..] {
            self.blocks.push(Block::Event(format!("{:?}", event.kind)));
        }
        self.events_seen = events.len();
        Ok(())
    }

    /// The code in the newest mail to `to`, read like a user opening the mail.
    fn code_for(&self, to: &str) -> Result<String, Error> {
        let to: EmailAddress = to.parse()?;
        let mail = self
            .inbox
            .iter()
            .rev()
            .find(|m| m.to == to)
            .ok_or("no mail arrived")?;
        let code = mail.code().ok_or("no code in the mail")?;
        Ok(code.to_owned())
    }

    fn provision(&mut self, cast: &Cast) -> Result<(), Error> {
        self.at("2025-12-15T09:00:00+09:00");
        self.step("The operator registers three offices in the office ledger (事業所台帳) and their accounts.");
        let offices = [
            (
                cast.new_office.office(),
                "請求事業所A",
                vec![Prefecture::TOKYO],
            ),
            (
                cast.existing.office(),
                "請求事業所B",
                vec![Prefecture::TOKYO],
            ),
            (
                cast.lost_tokyo.office(),
                "請求事業所C",
                vec![Prefecture::TOKYO, Prefecture::OSAKA],
            ),
        ];
        for (number, name, billing) in offices {
            self.host.add_office(OfficeRecord {
                number,
                name: name.into(),
                postal_address: "東京都千代田区霞が関1-2-2".into(),
                phone: "03-0000-0000".into(),
                billing,
            })?;
            self.offices.push(number);
            self.notices_seen.push(self.host.notices(&number)?.len());
        }
        // 事業所A received a temporary password on paper; B and C are offices from before the release.
        let temporary = self.portal.hash_secret(b"Tmp2025-paper", &mut self.rng);
        self.portal
            .create_account(login::new_office(cast.new_office, temporary))?;
        let terms = TermsAcceptance {
            version: 1,
            at: utc("2020-04-01T09:00:00+09:00"),
        };
        let b = self
            .portal
            .hash_secret(PASSWORDS[1].as_bytes(), &mut self.rng);
        self.portal
            .create_account(login::existing_office(cast.existing, b, terms))?;
        for user in [cast.lost_tokyo, cast.lost_osaka] {
            let forgotten = self.portal.hash_secret(b"long forgotten 1", &mut self.rng);
            self.portal
                .create_account(login::existing_office(user, forgotten, terms))?;
        }
        Ok(())
    }

    /// FL: 1.2.1 (3) 手順 1. … 11.
    fn first_login(&mut self, cast: &Cast) -> Result<(), Error> {
        use first_login::Form;
        self.at("2025-12-15T10:00:00+09:00");
        self.step("事業所A logs in for the first time with the temporary password from its letter (1.2.1 (3) 手順 1).");
        self.screen(&login::login_screen());
        let route =
            self.portal
                .login(&cast.new_office.to_string(), "Tmp2025-paper", &mut self.rng)?;
        let id = route.flow_id().ok_or("expected the first login")?.clone();
        self.route(&route);
        let address = cast.address("mailforsecurity");
        let notice_address = cast.address("jigyousho");
        let steps: [(&str, Form<'_>); 5] = [
            ("手順 2. It agrees to the terms of use.", Form::AcceptTerms),
            (
                "手順 3. The warning asks for a new password.",
                Form::StartPasswordChange,
            ),
            (
                "手順 4. It types the temporary password and a new one twice.",
                Form::ChangePassword {
                    current: "Tmp2025-paper",
                    new: PASSWORDS[0],
                    confirm: PASSWORDS[0],
                },
            ),
            ("手順 5. Done: 終了.", Form::Finish),
            (
                "手順 6. It sets the notice (お知らせ) mail address (optional).",
                Form::SetNoticeEmail {
                    address: &notice_address,
                    confirm: &notice_address,
                },
            ),
        ];
        for (english, form) in steps {
            self.step(english);
            let route = self.portal.first_login_input(&id, form, &mut self.rng)?;
            self.route(&route);
        }
        self.step("手順 7. Done: 終了. Next the security email, which is now mandatory (FL-04).");
        let route = self
            .portal
            .first_login_input(&id, Form::Finish, &mut self.rng)?;
        self.route(&route);
        self.step("手順 8. It enters the security email twice; a 確認コード is mailed (T1).");
        let route = self.portal.first_login_input(
            &id,
            Form::SetSecurityEmail {
                address: &address,
                confirm: &address,
            },
            &mut self.rng,
        )?;
        self.route(&route);
        self.settle()?;
        self.clock.advance(TimeDelta::minutes(2));
        self.step("手順 9.–10. It reads the code in the mail and enters it.");
        let code = self.code_for(&address)?;
        let route = self
            .portal
            .first_login_input(&id, Form::EnterCode(&code), &mut self.rng)?;
        self.route(&route);
        self.step("手順 11. Done: 終了 leads to the menu.");
        let route = self
            .portal
            .first_login_input(&id, Form::Finish, &mut self.rng)?;
        self.route(&route);
        self.settle()
    }

    /// GR: 1.2.1 (4) and (5), inside and after the grace period.
    fn grace(&mut self, cast: &Cast) -> Result<(), Error> {
        use grace::Form;
        let user = cast.existing.to_string();
        self.at("2026-01-20T09:00:00+09:00");
        self.step("事業所B, an office from before the release, logs in without a security email: the grace period offers a way out (GR-01, GR-02).");
        let route = self.portal.login(&user, PASSWORDS[1], &mut self.rng)?;
        let id = route
            .flow_id()
            .ok_or("expected the grace registration")?
            .clone();
        self.route(&route);
        self.step("It checks セキュリティ用メールアドレスを登録せずにログインする and presses 次へ: logged in, nothing registered.");
        let route = self.portal.grace_input(
            &id,
            Form::Next {
                skip: true,
                address: "",
                confirm: "",
            },
            &mut self.rng,
        )?;
        self.route(&route);
        self.settle()?;
        self.step("From the menu it opens ユーザ情報変更 (SE-09) → セキュリティ用メールアドレス設定: the list is empty and points to the registration at login (SE-05); 戻る.");
        let owner = cast.existing;
        let screen = self.portal.open(FlowKind::SecurityEmails, Some(&owner))?;
        self.screen(&screen);
        let route = self.portal.start(
            FlowKind::SecurityEmails,
            Some(&owner),
            &ScreenForm::new(OPEN_LIST),
            &mut self.rng,
        )?;
        self.route(&route);
        if let Some(flow) = route.flow().cloned() {
            let back = self.portal.back(Some(&owner), &flow, &mut self.rng)?;
            self.route(&back);
        }

        self.at("2026-01-31T23:59:00+09:00");
        self.step("At 23:59 on the last day it logs in again and the screen still has the checkbox; it presses 次へ at 00:00 on 2026-02-01 (GR-03).");
        let route = self.portal.login(&user, PASSWORDS[1], &mut self.rng)?;
        let id = route
            .flow_id()
            .ok_or("expected the grace registration")?
            .clone();
        self.route(&route);
        self.clock.set(utc("2026-02-01T00:00:00+09:00"));
        if let Err(e) = self.portal.grace_input(
            &id,
            Form::Next {
                skip: true,
                address: "",
                confirm: "",
            },
            &mut self.rng,
        ) {
            self.refused(&e);
        }
        self.step("Redrawn after the grace period: no checkbox; registration is mandatory (1.2.1 (4) 手順 2).");
        let screen = self.portal.grace_screen(&id)?;
        self.screen(&screen);
        let address = cast.address("mailforsecurity");
        let route = self.portal.grace_input(
            &id,
            Form::Next {
                skip: false,
                address: &address,
                confirm: &address,
            },
            &mut self.rng,
        )?;
        self.route(&route);
        self.settle()?;
        self.step("手順 3.–4. It enters the code from the mail.");
        let code = self.code_for(&address)?;
        let route = self
            .portal
            .grace_input(&id, Form::EnterCode(&code), &mut self.rng)?;
        self.route(&route);
        self.step("手順 5. Done: 終了 leads to the menu.");
        let route = self.portal.grace_input(&id, Form::Finish, &mut self.rng)?;
        self.route(&route);
        self.settle()
    }

    /// SE: the list after login, 1.2.1 (2).
    fn security_emails(&mut self, cast: &Cast) -> Result<(), Error> {
        let user = cast.existing;
        self.at("2026-02-01T09:30:00+09:00");
        self.step("事業所B opens ユーザ情報変更 and presses セキュリティ用メールアドレス設定 (SE-09): one address, no 削除 button (SE-04).");
        let screen = self.portal.open(FlowKind::SecurityEmails, Some(&user))?;
        self.screen(&screen);
        let route = self.portal.start(
            FlowKind::SecurityEmails,
            Some(&user),
            &ScreenForm::new(OPEN_LIST),
            &mut self.rng,
        )?;
        self.route(&route);
        let flow = route.flow().ok_or("expected the list")?.clone();
        let first = cast.address("mailforsecurity");
        let second = cast.address("office-b-second");
        self.step(&format!("追加 → 【セキュリティ用メールアドレス設定】 (after login, 1.2.1 (2)); it adds {second}: a one-time password goes to the selected address (T2), then a 確認コード to the new one (T1) (SE-06)."));
        let route =
            self.portal
                .submit(Some(&user), &flow, &ScreenForm::new("add"), &mut self.rng)?;
        self.route(&route);
        let form = ScreenForm::new("next")
            .with("address", second.as_str())
            .with("confirm_address", second.as_str());
        let route = self
            .portal
            .submit(Some(&user), &flow, &form, &mut self.rng)?;
        self.route(&route);
        self.settle()?;
        let otp = self.code_for(&first)?;
        let form = ScreenForm::new("next").with("otp", otp);
        let route = self
            .portal
            .submit(Some(&user), &flow, &form, &mut self.rng)?;
        self.route(&route);
        self.settle()?;
        let code = self.code_for(&second)?;
        let form = ScreenForm::new("send").with("code", code);
        let route = self
            .portal
            .submit(Some(&user), &flow, &form, &mut self.rng)?;
        self.route(&route);
        self.settle()?;
        self.step("終了: back at ユーザ情報変更.");
        let route = self.portal.submit(
            Some(&user),
            &flow,
            &ScreenForm::new("finish"),
            &mut self.rng,
        )?;
        self.route(&route);
        {
            let name = "office-b-third";
            let new = cast.address(name);
            self.step(&format!("It adds {new}: a one-time password goes to the selected address (T2), then a 確認コード to the new one (T1) (SE-06)."));
            let (id, screen) =
                self.portal
                    .security_email_add_start(&user, &new, &new, &mut self.rng)?;
            self.screen(&screen);
            self.settle()?;
            let otp = self.code_for(&first)?;
            let screen = self.portal.security_email_input(
                &user,
                &id,
                UserInput::Otp(&otp),
                &mut self.rng,
            )?;
            self.screen(&screen);
            self.settle()?;
            let code = self.code_for(&new)?;
            let screen = self.portal.security_email_input(
                &user,
                &id,
                UserInput::Code(&code),
                &mut self.rng,
            )?;
            self.screen(&screen);
            self.settle()?;
        }
        let second = cast.address("office-b-second");
        self.step(&format!(
            "It selects {second} as the notification destination (選択中, SE-03)."
        ));
        let screen = self.portal.security_email_select(&user, &second)?;
        self.screen(&screen);
        self.settle()?;
        let third = cast.address("office-b-third");
        self.step(&format!(
            "It deletes {third}; the other addresses are told (SE-08)."
        ));
        let screen = self.portal.security_email_delete(&user, &third)?;
        self.screen(&screen);
        self.settle()?;
        let renamed = cast.address("office-b-renamed");
        self.step(&format!(
            "It changes {first} into {renamed} (変更): the one-time password goes to the selected {second}, the code to {renamed}; both addresses registered before are told (SE-06, SE-08)."
        ));
        let (id, screen) = self.portal.security_email_change_start(
            &user,
            &first,
            &renamed,
            &renamed,
            &mut self.rng,
        )?;
        self.screen(&screen);
        self.settle()?;
        let otp = self.code_for(&second)?;
        let screen =
            self.portal
                .security_email_input(&user, &id, UserInput::Otp(&otp), &mut self.rng)?;
        self.screen(&screen);
        self.settle()?;
        let code = self.code_for(&renamed)?;
        let screen =
            self.portal
                .security_email_input(&user, &id, UserInput::Code(&code), &mut self.rng)?;
        self.screen(&screen);
        self.settle()
    }

    /// FEE-05, FEE-07: a certificate of 事業所A nears its end; the renewal お知らせ, posted within
    /// the notice window, carries the fee notice.
    fn renewal(&mut self, cast: &Cast) -> Result<(), Error> {
        let office = cast.new_office.office();
        self.at("2026-02-05T08:00:00+09:00");
        self.step("The operator imports 事業所A's certificate from before the release (ends 2026-03-31); the daily run posts its renewal お知らせ, with the fee notice within the window (FEE-05, FEE-07).");
        let end = chrono::NaiveDate::from_ymd_opt(2026, 3, 31).ok_or("a date")?;
        self.portal.certificate_import(
            &office,
            utc("2023-04-01T10:00:00+09:00"),
            end,
            Yen(13_200),
        )?;
        self.portal.certificate_reminders(&office)?;
        self.settle()
    }

    /// LOGIN-01: an office with a セキュリティコード logs in in two steps.
    fn security_code(&mut self, cast: &Cast) -> Result<(), Error> {
        self.at("2026-02-14T09:00:00+09:00");
        self.step("事業所B had set a セキュリティコード (the operator records it, OPS-06); its login asks for it on 【ログイン(セキュリティコード)】 (LOGIN-01).");
        self.portal
            .set_security_code(&cast.existing, SECURITY_CODE, &mut self.rng)?;
        let route = self
            .portal
            .login(&cast.existing.to_string(), PASSWORDS[1], &mut self.rng)?;
        self.route(&route);
        let id = route
            .flow_id()
            .ok_or("expected the security code step")?
            .clone();
        let route = self
            .portal
            .login_security_code(&id, SECURITY_CODE, &mut self.rng)?;
        self.route(&route);
        self.settle()
    }

    /// RS-02: 事業所C bills two prefectures: its reset asks which.
    fn reset_two_prefectures(&mut self, cast: &Cast) -> Result<(), Error> {
        self.at("2026-03-02T09:00:00+09:00");
        self.step("事業所C, which bills two prefectures, starts a reset with its new security email: 【請求先都道府県選択】 comes first (RS-02), then the one-time password.");
        let office = cast.lost_tokyo.office().to_string();
        let address = cast.address("mailforsecurity-c");
        let (id, screen) = self.portal.reset_start(&office, &address, &mut self.rng)?;
        self.screen(&screen);
        let screen = self.portal.reset_choose_prefecture(
            &id,
            &Prefecture::TOKYO.to_string(),
            &mut self.rng,
        )?;
        self.screen(&screen);
        self.settle()?;
        self.step(
            "It found its password after all and leaves the reset there: nothing changed (RS-08).",
        );
        Ok(())
    }

    /// FEE: 1.2.3, applied at `when`.
    fn certificate(&mut self, cast: &Cast, when: &str, english: &str) -> Result<(), Error> {
        let user = cast.new_office;
        self.at(when);
        self.step(&format!("事業所A applies for a certificate. {english}"));
        let (id, screen) = self.portal.certificate_start(&user, &mut self.rng)?;
        self.screen(&screen);
        if self.estimates == 0 {
            self.estimates += 1;
            self.step("It makes a 見積書 first (FEE-06), then goes back.");
            let estimate = self.portal.certificate_input(
                &user,
                &id,
                CertificateInput::Next(MenuChoice::Estimate),
                &mut self.rng,
            )?;
            self.screen(&estimate);
            self.portal
                .certificate_input(&user, &id, CertificateInput::Back, &mut self.rng)?;
        }
        self.step("It opens 発行申請を行う前に ?: the precautions are shown, which is what unlocks the application (FEE-04, FEE-08); it chooses 証明書の発行申請をする and enters the certificate password twice.");
        let read = self.portal.certificate_input(
            &user,
            &id,
            CertificateInput::ReadPrecautions,
            &mut self.rng,
        )?;
        self.screen(&read);
        let screen = self.portal.certificate_input(
            &user,
            &id,
            CertificateInput::Next(MenuChoice::Apply),
            &mut self.rng,
        )?;
        self.screen(&screen);
        let screen = self.portal.certificate_password(
            &user,
            &id,
            PASSWORDS[4],
            PASSWORDS[4],
            &mut self.rng,
        )?;
        self.screen(&screen);
        self.step("It presses 利用規約に同意して送信.");
        let mut screen = self.portal.certificate_input(
            &user,
            &id,
            CertificateInput::AgreeAndSubmit,
            &mut self.rng,
        )?;
        self.screen(&screen);
        if screen.offers("キャンセル") {
            self.step("The dialog asks to consent to the pre-change fee: キャンセル first (nothing is submitted), then OK (FEE-03).");
            let back = self.portal.certificate_input(
                &user,
                &id,
                CertificateInput::DialogCancel,
                &mut self.rng,
            )?;
            self.screen(&back);
            self.portal.certificate_input(
                &user,
                &id,
                CertificateInput::AgreeAndSubmit,
                &mut self.rng,
            )?;
            screen = self.portal.certificate_input(
                &user,
                &id,
                CertificateInput::DialogOk,
                &mut self.rng,
            )?;
            self.screen(&screen);
        }
        let fee = self
            .portal
            .certificates(&user.office())?
            .iter()
            .last()
            .ok_or("no certificate")?
            .fee;
        self.step(&format!(
            "Fee charged: {fee} (FEE-01: the fee at the submit instant)."
        ));
        self.settle()
    }

    /// LOST + RS: 1.2.2 (3), then an attacker with a wrong address.
    fn reset(&mut self, cast: &Cast) -> Result<(), Error> {
        let office = cast.existing.office().to_string();
        self.at("2026-02-15T09:00:00+09:00");
        self.step("事業所B lost its password: パスワード等を紛失した方はこちら → the lost-credentials menu (LOST-01).");
        self.screen(&lost::menu_screen());
        self.step(&format!(
            "手順 2.–3. ○ {} → office number and a registered security email.",
            LostChoice::Reset.label()
        ));
        self.screen(&reset::authentication_screen());
        // Its first address was changed on the list; the one selected since is still registered.
        let address = cast.address("office-b-second");
        let (id, screen) = self.portal.reset_start(&office, &address, &mut self.rng)?;
        self.screen(&screen);
        self.settle()?;
        self.step("手順 5.–6. It enters the one-time password from the mail (T2).");
        let otp = self.code_for(&address)?;
        let screen = self.portal.reset_enter_otp(&id, &otp, &mut self.rng)?;
        self.screen(&screen);
        self.step(
            "手順 7. It sets a new password; a mismatched confirmation is refused first (VAL-05).",
        );
        if let Err(e) =
            self.portal
                .reset_choose_password(&id, PASSWORDS[2], PASSWORDS[5], &mut self.rng)
        {
            self.refused(&e);
        }
        let screen =
            self.portal
                .reset_choose_password(&id, PASSWORDS[2], PASSWORDS[2], &mut self.rng)?;
        self.screen(&screen);
        self.settle()?;

        self.clock.advance(TimeDelta::minutes(5));
        self.step("An attacker tries the same office number with an address that is not registered: the same screen, and nothing is mailed (RS-03).");
        let (id, screen) =
            self.portal
                .reset_start(&office, "attacker@example.jp", &mut self.rng)?;
        self.screen(&screen);
        if let Err(e) = self.portal.reset_enter_otp(&id, "123456", &mut self.rng) {
            self.refused(&e);
        }
        let before = self.inbox.len();
        self.settle()?;
        self.step(&format!(
            "Mails delivered for the attacker: {}.",
            self.inbox.len() - before
        ));
        self.step("事業所B logs in with its new password: the menu.");
        let route = self
            .portal
            .login(&cast.existing.to_string(), PASSWORDS[2], &mut self.rng)?;
        self.route(&route);
        self.settle()
    }

    /// RI: 1.2.2 (4), the federations' reviews, and the next login with the letter's password.
    fn reissue(&mut self, cast: &Cast) -> Result<(), Error> {
        self.at("2026-02-20T10:00:00+09:00");
        self.step("事業所C has no security email and lost its login info: it applies for a reissue (1.2.2 (4)), once per billing prefecture.");
        self.screen(&Reissue::application_screen());
        let notify = cast.address("jigyousho-c");
        let office = cast.lost_tokyo.office().to_string();
        let mut numbers = Vec::new();
        for prefecture in [Prefecture::TOKYO, Prefecture::OSAKA] {
            let form = ApplicationForm {
                applicant: Applicant::Office,
                office_number: &office,
                notify: &notify,
                notify_confirm: &notify,
            };
            self.step(&format!("手順 3.–4. Office number and notification address; it bills two prefectures, so it chooses {}.", prefecture.name()));
            let (id, screen) = self.portal.reissue_start(&form, &mut self.rng)?;
            self.screen(&screen);
            let code_screen = self.portal.reissue_input(
                &id,
                reissue::Input::ChoosePrefecture(&prefecture.to_string()),
                &mut self.rng,
            )?;
            self.screen(&code_screen);
            self.settle()?;
            self.step("手順 5.–6. The 確認コード from the mail (T1).");
            let code = self.code_for(&notify)?;
            let screen =
                self.portal
                    .reissue_input(&id, reissue::Input::EnterCode(&code), &mut self.rng)?;
            self.screen(&screen);
            self.step("手順 7.–8. 送信: a management number, a receipt notice (T3) and a receipt mail (T4).");
            let (number, screen) = self.portal.reissue_submit(&id, &mut self.rng)?;
            self.screen(&screen);
            self.settle()?;
            numbers.push((prefecture, number.to_string()));
        }

        self.at("2026-02-24T15:00:00+09:00");
        let mut queues: Vec<Prefecture> = numbers.iter().map(|(p, _)| *p).collect();
        queues.dedup();
        for prefecture in queues {
            let federation = Federation::of(prefecture);
            // OPS-03: its own prefecture's pending applications, oldest first, a page at a time.
            let page = self.portal.review_queue(federation, None, 20)?;
            let lines: Vec<String> = page
                .entries
                .iter()
                .map(|e| {
                    format!(
                        "{} 事業所番号 {} {} 受付 {} 通知先 {}",
                        e.number,
                        e.office,
                        e.office_name,
                        e.received_at
                            .with_timezone(&kaigo_seikyu::calendar::jst())
                            .format("%Y-%m-%d %H:%M"),
                        e.notify
                    )
                })
                .collect();
            self.step(&format!(
                "{} lists its review queue (OPS-03): {} pending.\n{}",
                federation.name(),
                page.entries.len(),
                lines.join("\n")
            ));
        }
        for (prefecture, number) in &numbers {
            let federation = Federation::of(*prefecture);
            // SE-07: the office lost every address it might have had; the federation verified it
            // on paper and clears the security emails, so it registers again as a new office.
            let decision = if *prefecture == Prefecture::TOKYO {
                Decision::Approve {
                    clear_security_emails: true,
                }
            } else {
                Decision::Reject
            };
            self.step(&format!(
                "{} reviews {number}: {decision:?} (RI-08).",
                federation.name()
            ));
            if let ReviewOutcome::Approved(letter) =
                self.portal
                    .reissue_review(federation, number, decision, &mut self.rng)?
            {
                self.blocks.push(Block::Letter(letter.render()));
                self.letter_password = Some(letter.temporary_password.reveal().to_owned());
            }
            self.settle()?;
        }

        self.at("2026-02-27T09:00:00+09:00");
        self.step("The letter arrived. 事業所C logs in with the temporary password: it must set a new password, then register a security email (FL-04, no grace: the reviewer cleared them, SE-07); the step list shows only those steps (FL-07, GR-06).");
        let temporary = self.letter_password.take().ok_or("no letter")?;
        let mut route =
            self.portal
                .login(&cast.lost_tokyo.to_string(), &temporary, &mut self.rng)?;
        self.route(&route);
        let address = cast.address("mailforsecurity-c");
        loop {
            let title = route.screen().map(|s| s.title.clone()).unwrap_or_default();
            let code = if title == "確認コード入力" {
                self.settle()?;
                self.code_for(&address)?
            } else {
                String::new()
            };
            route = match &route {
                Route::Flow {
                    flow:
                        FlowRef {
                            kind: FlowKind::FirstLogin,
                            id,
                        },
                    ..
                } => {
                    use first_login::Form;
                    let form = match title.as_str() {
                        "利用規約" => Form::AcceptTerms,
                        "警告" => Form::StartPasswordChange,
                        "パスワード変更" => Form::ChangePassword {
                            current: &temporary,
                            new: PASSWORDS[3],
                            confirm: PASSWORDS[3],
                        },
                        "メールアドレス設定" => Form::DeclineNoticeEmail,
                        "セキュリティ用メールアドレス設定" => {
                            Form::SetSecurityEmail {
                                address: &address,
                                confirm: &address,
                            }
                        }
                        "確認コード入力" => Form::EnterCode(&code),
                        _ => Form::Finish,
                    };
                    self.portal
                        .first_login_input(&id.clone(), form, &mut self.rng)?
                }
                Route::Flow {
                    flow:
                        FlowRef {
                            kind: FlowKind::Grace,
                            id,
                        },
                    ..
                } => {
                    use grace::Form;
                    let form = match title.as_str() {
                        "セキュリティ用メールアドレス設定" => Form::Next {
                            skip: false,
                            address: &address,
                            confirm: &address,
                        },
                        "確認コード入力" => Form::EnterCode(&code),
                        _ => Form::Finish,
                    };
                    self.portal.grace_input(&id.clone(), form, &mut self.rng)?
                }
                Route::Menu { .. } => break,
                other => return Err(format!("unexpected route {other:?}").into()),
            };
            self.route(&route);
        }
        self.settle()
    }
}

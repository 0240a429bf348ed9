//! Deterministic, realistic demo data: the same `seed` always produces the same rows.
//!
//! [`seed`] refuses to touch a database that already has profiles; [`seed_with`] with
//! [`SeedOptions::force`] adds the data anyway (e-mails stay unique because they are numbered
//! after the existing profiles). Rows go in with multi-row `INSERT`s of [`BATCH`] tickets (or
//! profiles) per transaction, which is what makes 100,000 tickets take seconds, not minutes.

use crate::error::PersistenceError;
use crate::schema::{activities, comments, profiles, responders, subscribers, tickets};
use crate::Database;
use chrono::{DateTime, Duration, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Rows per multi-row `INSERT` (tickets have ~25 columns: 25,000 bind parameters, well under
/// PostgreSQL's 65,535).
pub const BATCH: usize = 1000;

/// What to seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedOptions {
    pub profiles: usize,
    pub tickets: usize,
    /// The random seed; equal seeds give equal data.
    pub seed: u64,
    /// Seed even when the database already has profiles.
    pub force: bool,
}

/// What was inserted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub profiles: usize,
    pub tickets: usize,
    pub responders: usize,
    pub subscribers: usize,
    pub comments: usize,
    pub activities: usize,
}

impl std::fmt::Display for SeedReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} profiles, {} tickets, {} responders, {} subscribers, {} comments, {} activities",
            self.profiles,
            self.tickets,
            self.responders,
            self.subscribers,
            self.comments,
            self.activities
        )
    }
}

const FIRST_NAMES: &[&str] = &[
    "Ana",
    "Mihai",
    "Ștefan",
    "Ioana",
    "Станислав",
    "Ольга",
    "Дмитрий",
    "Jürgen",
    "Zoë",
    "José",
    "François",
    "Łukasz",
    "Małgorzata",
    "Ayşe",
    "Mehmet",
    "Sanja",
    "Đorđe",
    "Nikola",
    "Amira",
    "Tomás",
    "Ingrid",
    "Søren",
    "Αλέξανδρος",
    "Miranda",
    "Paul",
    "Drew",
    "Olivia",
    "Lejla",
    "Vytautas",
    "Gülşen",
];
const LAST_NAMES: &[&str] = &[
    "Sușcov",
    "Popescu",
    "Ionescu",
    "Петров",
    "Иванова",
    "Кузнецов",
    "Müller",
    "Šimić",
    "Kovačević",
    "Nowak",
    "Wiśniewska",
    "Yılmaz",
    "Öztürk",
    "García",
    "Núñez",
    "Dubois",
    "Lefèvre",
    "Sørensen",
    "Håkansson",
    "Παπαδόπουλος",
    "Sullivan",
    "Patrucic",
    "Hodžić",
    "Kazlauskas",
    "Smith",
    "Brown",
    "Novák",
    "Horváth",
    "Țurcanu",
    "Dvořák",
];
const DOMAINS: &[&str] = &[
    "example.org",
    "newsroom.example",
    "investigate.example",
    "press.example.net",
];
const COUNTRIES: &[&str] = &[
    "RO", "MD", "UA", "RS", "BA", "ME", "MK", "AL", "XK", "BG", "HU", "GE", "AM", "AZ", "KZ", "KG",
    "RU", "TR", "CY", "MT", "GB", "US", "PA", "VG", "AE", "CH", "LU", "NL", "DE", "IT",
];
const WORDS: &[&str] = &[
    "company",
    "offshore",
    "director",
    "shareholder",
    "registry",
    "property",
    "vessel",
    "aircraft",
    "contract",
    "procurement",
    "tender",
    "minister",
    "parliament",
    "bank",
    "account",
    "transfer",
    "loan",
    "mortgage",
    "land",
    "villa",
    "apartment",
    "yacht",
    "trust",
    "foundation",
    "nominee",
    "beneficial",
    "owner",
    "subsidiary",
    "holding",
    "invoice",
    "customs",
    "shipment",
    "cargo",
    "port",
    "license",
    "mining",
    "energy",
    "pipeline",
    "construction",
    "road",
    "hospital",
    "municipality",
    "mayor",
    "judge",
    "prosecutor",
    "court",
    "lawsuit",
    "sanctions",
    "embargo",
    "smuggling",
    "tobacco",
    "fuel",
    "timber",
    "gold",
    "diamonds",
    "casino",
    "football",
    "club",
    "media",
    "television",
    "newspaper",
    "advertising",
    "campaign",
    "donation",
    "party",
    "election",
    "relative",
    "brother",
    "wife",
    "cousin",
    "partner",
    "associate",
    "lawyer",
    "accountant",
    "auditor",
    "leak",
    "document",
    "filing",
    "annual",
    "report",
    "balance",
    "revenue",
    "profit",
    "tax",
    "haven",
    "cyprus",
    "panama",
    "dubai",
    "london",
    "vienna",
    "belgrade",
    "chisinau",
    "bucharest",
    "kyiv",
    "tbilisi",
    "sarajevo",
    "records",
    "archive",
    "satellite",
    "imagery",
    "flight",
    "manifest",
    "vehicle",
    "plates",
    "registration",
    "insurance",
    "pension",
    "fund",
    "investment",
    "scheme",
    "fraud",
];
const TAGS: &[&str] = &[
    "urgent",
    "follow-up",
    "partner-request",
    "court",
    "registry",
    "aviation",
    "maritime",
    "energy",
];
const KINDS: &[&str] = &[
    "person_ownership",
    "company_ownership",
    "vehicle_tracking",
    "data_request",
    "other",
];
const REQUEST_TYPES: &[&str] = &["subs", "cost", "cost_plus"];
const STATUSES: &[&str] = &["new", "in-progress", "pending", "closed", "cancelled"];
const PRIORITIES: &[&str] = &["low", "default", "high"];

#[derive(Insertable)]
#[diesel(table_name = profiles)]
struct NewProfile {
    email: String,
    first_name: String,
    last_name: String,
    is_staff: bool,
    is_superuser: bool,
    locale: String,
    country: String,
    date_joined: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = tickets)]
struct NewTicket {
    requester_id: i32,
    kind: &'static str,
    request_type: &'static str,
    status: &'static str,
    priority: &'static str,
    sensitive: bool,
    whysensitive: Option<String>,
    deadline_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    countries: Vec<String>,
    tags: Vec<String>,
    background: String,
    first_name: Option<String>,
    last_name: Option<String>,
    connections: Option<String>,
    sources: Option<String>,
    company_name: Option<String>,
    country: Option<String>,
}

/// The links of one ticket, decided before its id is known.
struct Plan {
    created_at: DateTime<Utc>,
    requester: i32,
    responders: Vec<(i32, DateTime<Utc>)>,
    subscribers: Vec<(Option<i32>, Option<String>, DateTime<Utc>)>,
    comments: Vec<(i32, String, DateTime<Utc>)>,
}

fn words(rng: &mut StdRng, n: usize) -> String {
    let mut out = String::with_capacity(n * 9);
    for i in 0..n {
        if i > 0 {
            out.push_str(if rng.gen_ratio(1, 12) { ". " } else { " " });
        }
        out.push_str(WORDS.choose(rng).expect("non-empty"));
    }
    out
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    *items.choose(rng).expect("non-empty")
}

/// Seeds `profiles` profiles and `tickets` tickets; refuses when profiles already exist.
pub fn seed(
    db: &Database,
    profiles: usize,
    tickets: usize,
    seed: u64,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<SeedReport, PersistenceError> {
    seed_with(
        db,
        &SeedOptions {
            profiles,
            tickets,
            seed,
            force: false,
        },
        progress,
    )
}

/// [`seed`] with every option. `progress(stage, done, total)` is called after each batch;
/// stages are `"profiles"` and `"tickets"`.
pub fn seed_with(
    db: &Database,
    options: &SeedOptions,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<SeedReport, PersistenceError> {
    let mut conn = db.connection()?;
    let existing: i64 = profiles::table.count().get_result(&mut conn)?;
    if existing > 0 && !options.force {
        return Err(PersistenceError::SeedRefused(format!(
            "the database already has {existing} profiles (seed with force to add more)"
        )));
    }
    if options.tickets > 0 && options.profiles == 0 {
        return Err(PersistenceError::SeedRefused(
            "tickets need at least one profile".into(),
        ));
    }
    let mut rng = StdRng::seed_from_u64(options.seed);
    // A fixed "now" keeps the data reproducible.
    let now = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).expect("valid time"); // 2026-01-01
    let mut report = SeedReport::default();

    // Profiles without a sign-in identity: like people imported from an older system, each
    // is claimed by the first verified sign-in with its e-mail (the demo relies on that).
    let mut ids: Vec<i32> = Vec::with_capacity(options.profiles);
    let mut staff: Vec<i32> = Vec::new();
    let offset = existing as usize;
    for start in (0..options.profiles).step_by(BATCH) {
        let end = (start + BATCH).min(options.profiles);
        let rows: Vec<NewProfile> = (start..end)
            .map(|i| {
                let superuser = if options.profiles >= 3 && i < 2 {
                    i == 0
                } else {
                    rng.gen_ratio(1, 100)
                };
                let is_staff = if options.profiles >= 3 && i < 2 {
                    i == 1
                } else {
                    rng.gen_ratio(5, 100)
                };
                let first = pick(&mut rng, FIRST_NAMES);
                let last = pick(&mut rng, LAST_NAMES);
                NewProfile {
                    email: format!("person{}@{}", offset + i + 1, pick(&mut rng, DOMAINS)),
                    first_name: first.to_string(),
                    last_name: last.to_string(),
                    is_staff,
                    is_superuser: superuser,
                    locale: pick(&mut rng, &["", "en", "ro", "ru", "sr"]).to_string(),
                    country: pick(&mut rng, COUNTRIES).to_string(),
                    date_joined: now - Duration::days(rng.gen_range(30..1500)),
                }
            })
            .collect();
        let inserted: Vec<(i32, String, bool)> = diesel::insert_into(profiles::table)
            .values(&rows)
            .returning((profiles::id, profiles::email, profiles::is_staff))
            .get_results(&mut conn)?;
        for (id, _, is_staff) in inserted {
            ids.push(id);
            if is_staff {
                staff.push(id);
            }
        }
        report.profiles = ids.len();
        progress("profiles", ids.len() as u64, options.profiles as u64);
    }
    if staff.is_empty() {
        staff.extend(ids.first().copied());
    }

    // Tickets with their responders, subscribers, comments and timeline.
    let mut guest = 0usize;
    for start in (0..options.tickets).step_by(BATCH) {
        let end = (start + BATCH).min(options.tickets);
        let mut rows = Vec::with_capacity(end - start);
        let mut plans = Vec::with_capacity(end - start);
        for _ in start..end {
            let created_at = now
                - Duration::seconds(rng.gen_range(0..730 * 86_400))
                - Duration::microseconds(rng.gen_range(0..1_000_000));
            let requester = pick(&mut rng, &ids);
            let kind = pick(&mut rng, KINDS);
            let later =
                |rng: &mut StdRng| created_at + Duration::minutes(rng.gen_range(1..60 * 24 * 30));
            let mut plan = Plan {
                created_at,
                requester,
                responders: vec![],
                subscribers: vec![],
                comments: vec![],
            };
            for _ in 0..rng.gen_range(0..=2) {
                let user = pick(&mut rng, &staff);
                if !plan.responders.iter().any(|(u, _)| *u == user) {
                    plan.responders.push((user, later(&mut rng)));
                }
            }
            for _ in 0..rng.gen_range(0..=2) {
                if rng.gen_ratio(1, 3) {
                    guest += 1;
                    plan.subscribers.push((
                        None,
                        Some(format!("guest{guest}@outside.example")),
                        later(&mut rng),
                    ));
                } else {
                    let user = pick(&mut rng, &ids);
                    if !plan.subscribers.iter().any(|(u, _, _)| *u == Some(user)) {
                        plan.subscribers.push((Some(user), None, later(&mut rng)));
                    }
                }
            }
            for _ in 0..rng.gen_range(0..=3) {
                let author = match plan.responders.choose(&mut rng) {
                    Some((user, _)) if rng.gen_bool(0.5) => *user,
                    _ => requester,
                };
                let n = rng.gen_range(5..40);
                plan.comments
                    .push((author, words(&mut rng, n), later(&mut rng)));
            }
            let updated_at = plan
                .responders
                .iter()
                .map(|r| r.1)
                .chain(plan.subscribers.iter().map(|s| s.2))
                .chain(plan.comments.iter().map(|c| c.2))
                .fold(created_at, DateTime::max);
            let countries: Vec<String> = (0..rng.gen_range(0..=3))
                .map(|_| pick(&mut rng, COUNTRIES).to_string())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let sensitive = rng.gen_ratio(1, 10);
            let n = rng.gen_range(150..350);
            rows.push(NewTicket {
                requester_id: requester,
                kind,
                request_type: pick(&mut rng, REQUEST_TYPES),
                status: pick(&mut rng, STATUSES),
                priority: pick(&mut rng, PRIORITIES),
                sensitive,
                whysensitive: sensitive.then(|| words(&mut rng, 8)),
                deadline_at: rng
                    .gen_bool(0.5)
                    .then(|| created_at + Duration::days(rng.gen_range(7..120))),
                created_at,
                updated_at,
                country: countries.first().cloned(),
                countries,
                tags: (0..rng.gen_range(0..=2))
                    .map(|_| pick(&mut rng, TAGS).to_string())
                    .collect(),
                background: words(&mut rng, n),
                first_name: (kind == "person_ownership")
                    .then(|| pick(&mut rng, FIRST_NAMES).to_string()),
                last_name: (kind == "person_ownership")
                    .then(|| pick(&mut rng, LAST_NAMES).to_string()),
                connections: rng.gen_bool(0.3).then(|| words(&mut rng, 12)),
                sources: rng.gen_bool(0.3).then(|| words(&mut rng, 10)),
                company_name: (kind == "company_ownership").then(|| {
                    format!(
                        "{} {} Ltd",
                        pick(&mut rng, LAST_NAMES),
                        pick(&mut rng, WORDS)
                    )
                }),
            });
            plans.push(plan);
        }
        let counts = conn.transaction(|conn| insert_batch(conn, &rows, &plans))?;
        report.tickets += rows.len();
        report.responders += counts.responders;
        report.subscribers += counts.subscribers;
        report.comments += counts.comments;
        report.activities += counts.activities;
        progress("tickets", end as u64, options.tickets as u64);
    }
    // The statistics summary in place of the differences every batch appended; then fresh
    // planner statistics and visibility maps: the planner picks the indexes and counts can
    // use index-only scans from the first request on.
    crate::stats::fold_ticket_stats(&mut conn)?;
    conn.batch_execute("VACUUM ANALYZE")?;
    Ok(report)
}

fn insert_batch(
    conn: &mut PgConnection,
    rows: &[NewTicket],
    plans: &[Plan],
) -> QueryResult<SeedReport> {
    // Demo data: losing the last batch on a crash is fine, waiting for each fsync is not.
    conn.batch_execute("SET LOCAL synchronous_commit = off")?;
    // PostgreSQL returns the rows of a multi-row VALUES insert in input order.
    let tids: Vec<i32> = diesel::insert_into(tickets::table)
        .values(rows)
        .returning(tickets::id)
        .get_results(conn)?;
    let mut report = SeedReport::default();
    let mut resp = Vec::new();
    let mut subs = Vec::new();
    let mut comms = Vec::new();
    let mut acts = Vec::new();
    for (tid, plan) in tids.iter().zip(plans) {
        let tid = *tid;
        acts.push((
            activities::ticket_id.eq(tid),
            activities::actor_id.eq(Some(plan.requester)),
            activities::verb.eq("ticket:create"),
            activities::action_type.eq(None::<&str>),
            activities::action_id.eq(None::<i32>),
            activities::timestamp.eq(plan.created_at),
        ));
        for (user, at) in &plan.responders {
            resp.push((
                responders::ticket_id.eq(tid),
                responders::user_id.eq(*user),
                responders::created_at.eq(*at),
            ));
            acts.push((
                activities::ticket_id.eq(tid),
                activities::actor_id.eq(Some(plan.requester)),
                activities::verb.eq("responder:create"),
                activities::action_type.eq(Some("profile")),
                activities::action_id.eq(Some(*user)),
                activities::timestamp.eq(*at),
            ));
        }
        for (user, email, at) in &plan.subscribers {
            subs.push((
                subscribers::ticket_id.eq(tid),
                subscribers::user_id.eq(*user),
                subscribers::email.eq(email.clone()),
                subscribers::created_at.eq(*at),
            ));
            acts.push((
                activities::ticket_id.eq(tid),
                activities::actor_id.eq(Some(plan.requester)),
                activities::verb.eq("subscriber:create"),
                activities::action_type.eq(user.map(|_| "profile")),
                activities::action_id.eq(*user),
                activities::timestamp.eq(*at),
            ));
        }
        for (author, body, at) in &plan.comments {
            comms.push((
                comments::ticket_id.eq(tid),
                comments::user_id.eq(*author),
                comments::body.eq(body.clone()),
                comments::created_at.eq(*at),
            ));
        }
    }
    if !resp.is_empty() {
        report.responders = diesel::insert_into(responders::table)
            .values(&resp)
            .execute(conn)?;
    }
    if !subs.is_empty() {
        report.subscribers = diesel::insert_into(subscribers::table)
            .values(&subs)
            .execute(conn)?;
    }
    if !comms.is_empty() {
        let inserted: Vec<(i32, i32, i32, DateTime<Utc>)> = diesel::insert_into(comments::table)
            .values(&comms)
            .returning((
                comments::id,
                comments::ticket_id,
                comments::user_id,
                comments::created_at,
            ))
            .get_results(conn)?;
        report.comments = inserted.len();
        for (id, tid, author, at) in inserted {
            acts.push((
                activities::ticket_id.eq(tid),
                activities::actor_id.eq(Some(author)),
                activities::verb.eq("comment:create"),
                activities::action_type.eq(Some("comment")),
                activities::action_id.eq(Some(id)),
                activities::timestamp.eq(at),
            ));
        }
    }
    // Six parameters per activity: chunks keep each statement under the bind limit.
    for chunk in acts.chunks(8000) {
        report.activities += diesel::insert_into(activities::table)
            .values(chunk)
            .execute(conn)?;
    }
    Ok(report)
}

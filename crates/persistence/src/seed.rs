//! Deterministic, realistic demo data: the same `seed` always produces the same rows, ids
//! included.
//!
//! [`seed`] refuses to touch a database that already has profiles; [`seed_with`] with
//! [`SeedOptions::force`] adds the data anyway (e-mails stay unique because they are numbered
//! after the existing profiles).
//!
//! How 100,000 tickets go in well within a minute (docs/performance.md): this thread
//! generates batches of [`BATCH`] tickets with their responders, subscribers, comments and
//! timeline, numbering every row from id blocks reserved up front, and several writer
//! connections `COPY` whole batches, one transaction each. Most of a batch's cost is
//! PostgreSQL's: computing the generated search vectors and inserting index entries, which
//! the writers spread over the database's cores.
//!
//! What two writers would fight over is the bookkeeping the triggers do: the counters are
//! slot rows that every batch updates, and two transactions updating them in different
//! orders deadlock. So the writers load with the triggers off (`session_replication_role =
//! replica`) and, before committing, call the triggers' own functions for the batch's rows,
//! one writer at a time under an advisory lock ([`Loading::Parallel`]). Every committed batch
//! is complete, bookkeeping included. A role that may not turn triggers off gets one writer
//! with the triggers on ([`Loading::Triggered`]), the same rows more slowly.

use crate::error::PersistenceError;
use crate::schema::{activities, comments, profiles, responders, subscribers, tickets};
use crate::Database;
use chrono::{DateTime, Duration, Utc};
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::sync::mpsc;

/// Tickets per batch: one `COPY` per table and one transaction per batch.
pub const BATCH: usize = 1000;

/// The most writer connections [`default_writers`] picks.
const MAX_WRITERS: usize = 8;

/// One writer per core of this machine, where the database usually is when seeding (one
/// on a machine of its own may take more: `desk seed --writers`).
pub fn default_writers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_WRITERS)
}

/// What to seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedOptions {
    pub profiles: usize,
    pub tickets: usize,
    /// The random seed; equal seeds give equal data.
    pub seed: u64,
    /// Seed even when the database already has profiles.
    pub force: bool,
    /// How the tickets are written; the rows are the same either way.
    pub loading: Loading,
}

impl SeedOptions {
    /// Not forced, loaded in parallel with [`default_writers`].
    pub fn new(profiles: usize, tickets: usize, seed: u64) -> SeedOptions {
        SeedOptions {
            profiles,
            tickets,
            seed,
            force: false,
            loading: Loading::Parallel {
                writers: default_writers(),
            },
        }
    }
}

/// How the tickets are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loading {
    /// Up to `writers` connections at once (no more than the pool holds), the triggers off
    /// while they load; each batch brings the bookkeeping up to date itself before it
    /// commits. Needs a role that may set `session_replication_role` (a superuser, or one
    /// granted `SET` on it); other roles get [`Loading::Triggered`].
    Parallel { writers: usize },
    /// One connection, the triggers doing the bookkeeping as the rows go in.
    Triggered,
}

impl Loading {
    /// The connections that write at once.
    pub fn writers(self) -> usize {
        match self {
            Loading::Parallel { writers } => writers,
            Loading::Triggered => 1,
        }
    }
}

impl std::fmt::Display for Loading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Loading::Parallel { writers: 1 } => f.write_str("1 writer"),
            Loading::Parallel { writers } => write!(f, "{writers} writers"),
            Loading::Triggered => f.write_str("1 writer, triggers on"),
        }
    }
}

/// What was inserted, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub profiles: usize,
    pub tickets: usize,
    pub responders: usize,
    pub subscribers: usize,
    pub comments: usize,
    pub activities: usize,
    /// How the tickets were written (a parallel request may have become triggered).
    pub loading: Loading,
}

impl std::fmt::Display for SeedReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} profiles, {} tickets, {} responders, {} subscribers, {} comments, {} activities ({})",
            self.profiles,
            self.tickets,
            self.responders,
            self.subscribers,
            self.comments,
            self.activities,
            self.loading
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

/// Per ticket at most: responders, subscribers and comments as the generator draws them,
/// and one activity for the ticket and for each of those. Id blocks are reserved by these.
/// (`i32` because the generator has always drawn these counts as `i32`: another type draws
/// other numbers from the same seed.)
const MAX_RESPONDERS: i32 = 2;
const MAX_SUBSCRIBERS: i32 = 2;
const MAX_COMMENTS: i32 = 3;
const MAX_ACTIVITIES: i32 = 1 + MAX_RESPONDERS + MAX_SUBSCRIBERS + MAX_COMMENTS;

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

// `COPY` sends every listed column, NULL included (`treat_none_as_default_value = false`).
#[derive(Insertable)]
#[diesel(table_name = tickets, treat_none_as_default_value = false)]
struct NewTicket {
    id: i32,
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

#[derive(Insertable)]
#[diesel(table_name = responders, treat_none_as_default_value = false)]
struct NewResponder {
    id: i32,
    ticket_id: i32,
    user_id: i32,
    created_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = subscribers, treat_none_as_default_value = false)]
struct NewSubscriber {
    id: i32,
    ticket_id: i32,
    user_id: Option<i32>,
    email: Option<String>,
    created_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = comments, treat_none_as_default_value = false)]
struct NewComment {
    id: i32,
    ticket_id: i32,
    user_id: i32,
    body: String,
    created_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = activities, treat_none_as_default_value = false)]
struct NewActivity {
    id: i32,
    ticket_id: i32,
    actor_id: Option<i32>,
    verb: &'static str,
    action_type: Option<&'static str>,
    action_id: Option<i32>,
    timestamp: DateTime<Utc>,
}

/// Rows of the tables a ticket brings, numbered.
#[derive(Default)]
struct Batch {
    tickets: Vec<NewTicket>,
    responders: Vec<NewResponder>,
    subscribers: Vec<NewSubscriber>,
    comments: Vec<NewComment>,
    activities: Vec<NewActivity>,
}

/// The next free id of each table, from the blocks [`reserve_ids`] took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NextIds {
    ticket: i32,
    responder: i32,
    subscriber: i32,
    comment: i32,
    activity: i32,
}

/// A table's id sequence and how many ids per ticket its block holds.
const ID_BLOCKS: [(&str, i32); 5] = [
    ("tickets_id_seq", 1),
    ("responders_id_seq", MAX_RESPONDERS),
    ("subscribers_id_seq", MAX_SUBSCRIBERS),
    ("comments_id_seq", MAX_COMMENTS),
    ("activities_id_seq", MAX_ACTIVITIES),
];

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

/// Seeds `profiles` profiles and `tickets` tickets in parallel; refuses when profiles
/// already exist.
pub fn seed(
    db: &Database,
    profiles: usize,
    tickets: usize,
    seed: u64,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<SeedReport, PersistenceError> {
    seed_with(db, &SeedOptions::new(profiles, tickets, seed), progress)
}

/// [`seed`] with every option. `progress(stage, done, total)` is called after each batch
/// (on this thread); stages are `"profiles"` and `"tickets"`.
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
    // Ids first: when the tables stay too busy to reserve them, nothing is written.
    let reserved = if options.tickets > 0 {
        Some(reserve_ids(&mut conn, options.tickets)?)
    } else {
        None
    };
    let mut rng = StdRng::seed_from_u64(options.seed);
    let (ids, staff) = insert_profiles(&mut conn, options, existing as usize, &mut rng, progress)?;
    let loading = match options.loading {
        Loading::Parallel { writers } if may_turn_triggers_off(&mut conn)? => {
            let batches = options.tickets.div_ceil(BATCH).max(1);
            Loading::Parallel {
                writers: writers
                    .min(batches)
                    .min(db.max_connections() as usize)
                    .max(1),
            }
        }
        _ => Loading::Triggered,
    };
    // The writers take connections of the pool; this one is not needed meanwhile.
    drop(conn);

    let mut report = SeedReport {
        profiles: ids.len(),
        tickets: 0,
        responders: 0,
        subscribers: 0,
        comments: 0,
        activities: 0,
        loading,
    };
    if let Some(reserved) = reserved {
        let mut generator = Generator {
            rng,
            profiles: ids,
            staff,
            next: reserved.first,
            guest: 0,
        };
        load_tickets(
            db,
            options.tickets,
            loading,
            &mut generator,
            &mut report,
            progress,
        )?;
        trim_ids(&mut *db.connection()?, &reserved, generator.next)?;
    }
    // The statistics summary in place of the differences every batch appended; then fresh
    // planner statistics and visibility maps: the planner picks the indexes and counts can
    // use index-only scans from the first request on.
    crate::stats::fold_ticket_stats(&mut *db.connection()?)?;
    vacuum_analyze(db, loading.writers())?;
    Ok(report)
}

/// `VACUUM ANALYZE` of the schema's tables over `connections` connections, the largest
/// tables first (on one connection, the tickets alone took as long as all the rest).
fn vacuum_analyze(db: &Database, connections: usize) -> Result<(), PersistenceError> {
    #[derive(QueryableByName)]
    struct Table {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let tables = diesel::sql_query(
        "SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'r' AND n.nspname = current_schema() \
         ORDER BY pg_total_relation_size(c.oid) DESC, c.relname",
    )
    .load::<Table>(&mut *db.connection()?)?;
    let queue = std::sync::Mutex::new(tables.into_iter());
    let next = || queue.lock().unwrap_or_else(|e| e.into_inner()).next();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<(), PersistenceError> {
                    let mut conn = db.connection()?;
                    while let Some(table) = next() {
                        // A name from the catalogue, quoted by `format('%I')`.
                        conn.batch_execute(&format!("VACUUM (ANALYZE) {}", table.name))?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|worker| {
            worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    })
}

/// Inserts the profiles (a few thousand at most: one connection, `RETURNING` their ids);
/// returns every new profile's id and the staff among them.
fn insert_profiles(
    conn: &mut PgConnection,
    options: &SeedOptions,
    offset: usize,
    rng: &mut StdRng,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<(Vec<i32>, Vec<i32>), PersistenceError> {
    // Profiles without a sign-in identity: like people imported from an older system, each
    // is claimed by the first verified sign-in with its e-mail (the demo relies on that).
    let mut ids: Vec<i32> = Vec::with_capacity(options.profiles);
    let mut staff: Vec<i32> = Vec::new();
    let now = seed_now();
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
                let first = pick(rng, FIRST_NAMES);
                let last = pick(rng, LAST_NAMES);
                NewProfile {
                    email: format!("person{}@{}", offset + i + 1, pick(rng, DOMAINS)),
                    first_name: first.to_string(),
                    last_name: last.to_string(),
                    is_staff,
                    is_superuser: superuser,
                    locale: pick(rng, &["", "en", "ro", "ru", "sr"]).to_string(),
                    country: pick(rng, COUNTRIES).to_string(),
                    date_joined: now - Duration::days(rng.gen_range(30..1500)),
                }
            })
            .collect();
        let inserted: Vec<(i32, bool)> = diesel::insert_into(profiles::table)
            .values(&rows)
            .returning((profiles::id, profiles::is_staff))
            .get_results(conn)?;
        for (id, is_staff) in inserted {
            ids.push(id);
            if is_staff {
                staff.push(id);
            }
        }
        progress("profiles", ids.len() as u64, options.profiles as u64);
    }
    if staff.is_empty() {
        staff.extend(ids.first().copied());
    }
    Ok((ids, staff))
}

/// A fixed "now" keeps the data reproducible: 2026-01-01.
fn seed_now() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_767_225_600, 0).expect("valid time")
}

/// Hands batches to `loading`'s writers and waits for them; adds what they wrote to
/// `report`. The first failure stops the generation; batches already handed out finish
/// (each is complete or not there at all).
fn load_tickets(
    db: &Database,
    tickets: usize,
    loading: Loading,
    generator: &mut Generator,
    report: &mut SeedReport,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<(), PersistenceError> {
    let writers = loading.writers();
    let mut tally = Tally {
        report,
        progress,
        total: tickets as u64,
        failure: None,
    };
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel::<Result<Written, PersistenceError>>();
        // One queue per writer, a batch in waiting each: batches go round in turn, and all
        // are the same size.
        let mut queues = Vec::with_capacity(writers);
        let mut handles = Vec::with_capacity(writers);
        for _ in 0..writers {
            let (batch_tx, batch_rx) = mpsc::sync_channel::<Batch>(1);
            let done_tx = done_tx.clone();
            handles.push(scope.spawn(move || write_batches(db, loading, batch_rx, done_tx)));
            queues.push(batch_tx);
        }
        drop(done_tx);
        for (n, start) in (0..tickets).step_by(BATCH).enumerate() {
            while let Ok(result) = done_rx.try_recv() {
                tally.record(result);
            }
            if tally.failure.is_some() {
                break;
            }
            let batch = generator.batch((start + BATCH).min(tickets) - start);
            // A writer that failed has hung up; its error is on `done_rx`.
            if queues[n % writers].send(batch).is_err() {
                break;
            }
        }
        drop(queues);
        for result in done_rx {
            tally.record(result);
        }
        // A writer's panic goes on with its own message (the scope would only say that
        // some thread panicked).
        for handle in handles {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
    tally.failure.map_or(Ok(()), Err)
}

/// What the writers reported so far.
struct Tally<'a, 'p> {
    report: &'a mut SeedReport,
    progress: &'a mut (dyn FnMut(&str, u64, u64) + 'p),
    total: u64,
    /// The first failure; later ones are its consequences.
    failure: Option<PersistenceError>,
}

impl Tally<'_, '_> {
    fn record(&mut self, result: Result<Written, PersistenceError>) {
        match result {
            Ok(written) => {
                self.report.tickets += written.tickets;
                self.report.responders += written.responders;
                self.report.subscribers += written.subscribers;
                self.report.comments += written.comments;
                self.report.activities += written.activities;
                (self.progress)("tickets", self.report.tickets as u64, self.total);
            }
            Err(e) => {
                self.failure.get_or_insert(e);
            }
        }
    }
}

/// What one batch wrote.
struct Written {
    tickets: usize,
    responders: usize,
    subscribers: usize,
    comments: usize,
    activities: usize,
}

/// A writer: one connection, one transaction per batch, until the queue closes or a batch
/// fails.
fn write_batches(
    db: &Database,
    loading: Loading,
    batches: mpsc::Receiver<Batch>,
    done: mpsc::Sender<Result<Written, PersistenceError>>,
) {
    let mut conn = match db.connection() {
        Ok(conn) => conn,
        Err(e) => {
            let _ = done.send(Err(e));
            return;
        }
    };
    for batch in batches {
        let written = conn
            .transaction(|conn| write_batch(conn, &batch, loading))
            .map_err(PersistenceError::from);
        let failed = written.is_err();
        if done.send(written).is_err() || failed {
            return;
        }
    }
}

/// The key of the advisory lock under which parallel writers do their bookkeeping, one at a
/// time ("desk seed" in ASCII).
const BOOKKEEPING_LOCK: i64 = 0x6465_736b_7365_6564;

fn write_batch(conn: &mut PgConnection, batch: &Batch, loading: Loading) -> QueryResult<Written> {
    // Demo data: losing the last batch on a crash is fine, waiting for each fsync is not.
    conn.batch_execute("SET LOCAL synchronous_commit = off")?;
    let parallel = matches!(loading, Loading::Parallel { .. });
    if parallel {
        conn.batch_execute("SET LOCAL session_replication_role = replica")?;
    }
    let written = Written {
        tickets: diesel::copy_from(tickets::table)
            .from_insertable(&batch.tickets)
            .execute(conn)?,
        responders: diesel::copy_from(responders::table)
            .from_insertable(&batch.responders)
            .execute(conn)?,
        subscribers: diesel::copy_from(subscribers::table)
            .from_insertable(&batch.subscribers)
            .execute(conn)?,
        comments: diesel::copy_from(comments::table)
            .from_insertable(&batch.comments)
            .execute(conn)?,
        activities: diesel::copy_from(activities::table)
            .from_insertable(&batch.activities)
            .execute(conn)?,
    };
    if parallel {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(BOOKKEEPING_LOCK)
            .execute(conn)?;
        keep_books(conn, batch)?;
    }
    Ok(written)
}

/// What the INSERT triggers of the five tables would have done for `batch`'s rows, by
/// calling their functions once for all of them: participation and its counts, status
/// counts, the statistics' differences (with the responders already there, which the
/// responders' trigger would otherwise move the tickets to) and the timeline counts. The
/// responders' review-summary trigger moves the reviews of their tickets; the batch's
/// tickets are new, so no review can name them yet and it has nothing to do. A test lists
/// the triggers this mirrors (`seeding.rs`), so a new one cannot be missed silently.
fn keep_books(conn: &mut PgConnection, batch: &Batch) -> QueryResult<()> {
    if batch.tickets.is_empty() {
        return Ok(());
    }
    let (first, last) = id_range(&batch.tickets, |t| t.id);
    let responders = id_range(&batch.responders, |r| r.id);
    let subscribers = id_range(&batch.subscribers, |s| s.id);
    let activities = id_range(&batch.activities, |a| a.id);
    diesel::sql_query(
        "SELECT ticket_participants_change(array_agg(profile_id), array_agg(ticket_id), 1) FROM ( \
           SELECT requester_id AS profile_id, id AS ticket_id FROM tickets WHERE id BETWEEN $1 AND $2 \
           UNION ALL SELECT user_id, ticket_id FROM responders WHERE id BETWEEN $3 AND $4 \
           UNION ALL SELECT user_id, ticket_id FROM subscribers WHERE id BETWEEN $5 AND $6) every_way",
    )
    .bind::<Integer, _>(first)
    .bind::<Integer, _>(last)
    .bind::<Integer, _>(responders.0)
    .bind::<Integer, _>(responders.1)
    .bind::<Integer, _>(subscribers.0)
    .bind::<Integer, _>(subscribers.1)
    .execute(conn)?;
    diesel::sql_query(
        "SELECT ticket_status_counts_add((SELECT jsonb_object_agg(status, n) FROM ( \
           SELECT status, count(*) AS n FROM tickets WHERE id BETWEEN $1 AND $2 GROUP BY status) s))",
    )
    .bind::<Integer, _>(first)
    .bind::<Integer, _>(last)
    .execute(conn)?;
    diesel::sql_query(
        "SELECT ticket_stats_record(ARRAY( \
           SELECT ROW(id, created_at, status, updated_at, deadline_at, countries)::ticket_stat_state \
           FROM tickets WHERE id BETWEEN $1 AND $2), '{}')",
    )
    .bind::<Integer, _>(first)
    .bind::<Integer, _>(last)
    .execute(conn)?;
    diesel::sql_query(
        "SELECT ticket_activity_counts_add(ARRAY( \
           SELECT ticket_id FROM activities WHERE id BETWEEN $1 AND $2), 1)",
    )
    .bind::<Integer, _>(activities.0)
    .bind::<Integer, _>(activities.1)
    .execute(conn)?;
    Ok(())
}

/// The first and last id of `rows`, numbered in order by the generator; for no rows a
/// range that `BETWEEN` matches nothing in.
fn id_range<T>(rows: &[T], id: impl Fn(&T) -> i32) -> (i32, i32) {
    match (rows.first(), rows.last()) {
        (Some(first), Some(last)) => (id(first), id(last)),
        _ => (1, 0),
    }
}

/// Whether this role may turn triggers off for its own transactions.
fn may_turn_triggers_off(conn: &mut PgConnection) -> QueryResult<bool> {
    let probe = conn.transaction::<(), diesel::result::Error, _>(|conn| {
        conn.batch_execute("SET LOCAL session_replication_role = replica")?;
        Err(diesel::result::Error::RollbackTransaction)
    });
    match probe {
        Err(diesel::result::Error::RollbackTransaction) | Ok(()) => Ok(true),
        // Refused ("permission denied to set parameter") if the connection still answers;
        // a lost connection is an error, not a reason to load slowly.
        Err(refused @ diesel::result::Error::DatabaseError(..)) => {
            match diesel::sql_query("SELECT 1").execute(conn) {
                Ok(_) => Ok(false),
                Err(_) => Err(refused),
            }
        }
        Err(other) => Err(other),
    }
}

/// The blocks of ids [`reserve_ids`] took: the first id and the size of each table's block,
/// in the order of [`ID_BLOCKS`].
struct Reserved {
    first: NextIds,
    sizes: [i64; ID_BLOCKS.len()],
}

/// Reserves a block of ids in each table for `tickets` tickets (their maximum of every
/// other row), so the rows can be numbered before they are written, by any number of
/// writers, and come out as a one-writer load would number them. Inserts elsewhere wait
/// for the moment it takes (the lock), then number after the blocks; a table that stays
/// busy for [`LOCK_PATIENCE`] fails the seed before anything is written.
fn reserve_ids(conn: &mut PgConnection, tickets: usize) -> Result<Reserved, PersistenceError> {
    let too_many = || PersistenceError::SeedRefused(format!("{tickets} tickets are too many ids"));
    let mut first = [0i32; ID_BLOCKS.len()];
    let mut sizes = [0i64; ID_BLOCKS.len()];
    conn.transaction(|conn| {
        if !lock_id_tables(conn)? {
            return Err(PersistenceError::SeedRefused(format!(
                "other writers kept the tables busy for {} s: no ids reserved, nothing seeded",
                LOCK_PATIENCE.as_secs()
            )));
        }
        for ((first, size), (sequence, per_ticket)) in
            first.iter_mut().zip(sizes.iter_mut()).zip(ID_BLOCKS)
        {
            *size = i64::try_from(tickets)
                .ok()
                .and_then(|t| t.checked_mul(i64::from(per_ticket)))
                .ok_or_else(too_many)?;
            let last = diesel::sql_query(
                "SELECT setval($1::regclass, nextval($1::regclass) + $2 - 1) AS v",
            )
            .bind::<Text, _>(sequence)
            .bind::<BigInt, _>(*size)
            .get_result::<Scalar>(conn)?
            .v;
            // The id after the block must fit too: it is where numbering stops.
            i32::try_from(last + 1).map_err(|_| too_many())?;
            *first = i32::try_from(last - *size + 1).map_err(|_| too_many())?;
        }
        Ok(())
    })?;
    Ok(Reserved {
        first: NextIds {
            ticket: first[0],
            responder: first[1],
            subscriber: first[2],
            comment: first[3],
            activity: first[4],
        },
        sizes,
    })
}

/// Gives back the unused ends of the blocks: the next id of each table is the one after
/// the last seeded row, as if one writer had inserted them; unless somebody else took ids
/// meanwhile, whose rows already follow the blocks, or the tables stayed busy (the blocks'
/// ends then stay unused: gaps, nothing worse).
fn trim_ids(
    conn: &mut PgConnection,
    reserved: &Reserved,
    next: NextIds,
) -> Result<(), PersistenceError> {
    let firsts = ids_in_block_order(reserved.first);
    let nexts = ids_in_block_order(next);
    conn.transaction(|conn| {
        if !lock_id_tables(conn)? {
            return Ok(());
        }
        for (i, (sequence, _)) in ID_BLOCKS.iter().enumerate() {
            // Moved back only under the lock: otherwise an insert elsewhere could take an
            // id between the check and the move, and the sequence would hand it out again.
            diesel::sql_query(
                "SELECT setval($1::regclass, greatest($3 - 1, 1), $3 > 1) \
                 WHERE pg_sequence_last_value($1::regclass) = $2",
            )
            .bind::<Text, _>(*sequence)
            .bind::<BigInt, _>(i64::from(firsts[i]) + reserved.sizes[i] - 1)
            .bind::<BigInt, _>(i64::from(nexts[i]))
            .execute(conn)?;
        }
        Ok::<_, PersistenceError>(())
    })
}

fn ids_in_block_order(ids: NextIds) -> [i32; ID_BLOCKS.len()] {
    [
        ids.ticket,
        ids.responder,
        ids.subscriber,
        ids.comment,
        ids.activity,
    ]
}

/// How long [`lock_id_tables`] keeps trying.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Locks the tables whose ids [`ID_BLOCKS`] reserves against inserts until the transaction
/// ends; whether it got them within [`LOCK_PATIENCE`]. It never waits in the lock queue:
/// an application transaction may hold one of these tables and want another (a comment,
/// then its ticket's `updated_at`), and waiting there could deadlock it. It tries without
/// waiting, every 50 ms, and gives up instead.
fn lock_id_tables(conn: &mut PgConnection) -> QueryResult<bool> {
    let attempts = LOCK_PATIENCE.as_millis() / 50;
    conn.batch_execute(&format!(
        "DO $$ BEGIN \
           FOR attempt IN 1..{attempts} LOOP \
             BEGIN \
               LOCK TABLE tickets, responders, subscribers, comments, activities \
                 IN SHARE ROW EXCLUSIVE MODE NOWAIT; \
               RETURN; \
             EXCEPTION WHEN lock_not_available THEN PERFORM pg_sleep(0.05); \
             END; \
           END LOOP; \
         END $$"
    ))?;
    #[derive(QueryableByName)]
    struct Held {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        all: bool,
    }
    diesel::sql_query(
        "SELECT count(*) = 5 AS all FROM pg_locks \
         WHERE pid = pg_backend_pid() AND mode = 'ShareRowExclusiveLock' AND granted \
           AND relation IN ('tickets'::regclass, 'responders'::regclass, \
                            'subscribers'::regclass, 'comments'::regclass, 'activities'::regclass)",
    )
    .get_result::<Held>(conn)
    .map(|held| held.all)
}

/// One `bigint` named `v`.
#[derive(QueryableByName)]
struct Scalar {
    #[diesel(sql_type = BigInt)]
    v: i64,
}

/// Draws tickets and what comes with them, numbering the rows in the order a one-writer
/// load inserted them.
struct Generator {
    rng: StdRng,
    profiles: Vec<i32>,
    staff: Vec<i32>,
    next: NextIds,
    guest: usize,
}

impl Generator {
    fn batch(&mut self, size: usize) -> Batch {
        let mut batch = Batch::default();
        let now = seed_now();
        let rng = &mut self.rng;
        // Comment activities follow the batch's other activities (as the comments' ids
        // came back after those were queued).
        let mut comment_activities = Vec::new();
        for _ in 0..size {
            let tid = self.next.ticket;
            self.next.ticket += 1;
            let created_at = now
                - Duration::seconds(rng.gen_range(0..730 * 86_400))
                - Duration::microseconds(rng.gen_range(0..1_000_000));
            let requester = pick(rng, &self.profiles);
            let kind = pick(rng, KINDS);
            let later =
                |rng: &mut StdRng| created_at + Duration::minutes(rng.gen_range(1..60 * 24 * 30));
            let mut responders: Vec<(i32, DateTime<Utc>)> = Vec::new();
            for _ in 0..rng.gen_range(0..=MAX_RESPONDERS) {
                let user = pick(rng, &self.staff);
                if !responders.iter().any(|(u, _)| *u == user) {
                    responders.push((user, later(rng)));
                }
            }
            let mut subscribers: Vec<(Option<i32>, Option<String>, DateTime<Utc>)> = Vec::new();
            for _ in 0..rng.gen_range(0..=MAX_SUBSCRIBERS) {
                if rng.gen_ratio(1, 3) {
                    self.guest += 1;
                    subscribers.push((
                        None,
                        Some(format!("guest{}@outside.example", self.guest)),
                        later(rng),
                    ));
                } else {
                    let user = pick(rng, &self.profiles);
                    if !subscribers.iter().any(|(u, _, _)| *u == Some(user)) {
                        subscribers.push((Some(user), None, later(rng)));
                    }
                }
            }
            let mut comments: Vec<(i32, String, DateTime<Utc>)> = Vec::new();
            for _ in 0..rng.gen_range(0..=MAX_COMMENTS) {
                let author = match responders.choose(rng) {
                    Some((user, _)) if rng.gen_bool(0.5) => *user,
                    _ => requester,
                };
                let n = rng.gen_range(5..40);
                comments.push((author, words(rng, n), later(rng)));
            }
            let updated_at = responders
                .iter()
                .map(|r| r.1)
                .chain(subscribers.iter().map(|s| s.2))
                .chain(comments.iter().map(|c| c.2))
                .fold(created_at, DateTime::max);
            let countries: Vec<String> = (0..rng.gen_range(0..=3))
                .map(|_| pick(rng, COUNTRIES).to_string())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let sensitive = rng.gen_ratio(1, 10);
            let n = rng.gen_range(150..350);
            batch.tickets.push(NewTicket {
                id: tid,
                requester_id: requester,
                kind,
                request_type: pick(rng, REQUEST_TYPES),
                status: pick(rng, STATUSES),
                priority: pick(rng, PRIORITIES),
                sensitive,
                whysensitive: sensitive.then(|| words(rng, 8)),
                deadline_at: rng
                    .gen_bool(0.5)
                    .then(|| created_at + Duration::days(rng.gen_range(7..120))),
                created_at,
                updated_at,
                country: countries.first().cloned(),
                countries,
                tags: (0..rng.gen_range(0..=2))
                    .map(|_| pick(rng, TAGS).to_string())
                    .collect(),
                background: words(rng, n),
                first_name: (kind == "person_ownership")
                    .then(|| pick(rng, FIRST_NAMES).to_string()),
                last_name: (kind == "person_ownership").then(|| pick(rng, LAST_NAMES).to_string()),
                connections: rng.gen_bool(0.3).then(|| words(rng, 12)),
                sources: rng.gen_bool(0.3).then(|| words(rng, 10)),
                company_name: (kind == "company_ownership")
                    .then(|| format!("{} {} Ltd", pick(rng, LAST_NAMES), pick(rng, WORDS))),
            });

            let mut activity = |ticket_id, actor_id, verb, action_type, action_id, timestamp| {
                let id = self.next.activity;
                self.next.activity += 1;
                NewActivity {
                    id,
                    ticket_id,
                    actor_id,
                    verb,
                    action_type,
                    action_id,
                    timestamp,
                }
            };
            batch.activities.push(activity(
                tid,
                Some(requester),
                "ticket:create",
                None,
                None,
                created_at,
            ));
            for (user, at) in responders {
                batch.responders.push(NewResponder {
                    id: self.next.responder,
                    ticket_id: tid,
                    user_id: user,
                    created_at: at,
                });
                self.next.responder += 1;
                batch.activities.push(activity(
                    tid,
                    Some(requester),
                    "responder:create",
                    Some("profile"),
                    Some(user),
                    at,
                ));
            }
            for (user, email, at) in subscribers {
                batch.subscribers.push(NewSubscriber {
                    id: self.next.subscriber,
                    ticket_id: tid,
                    user_id: user,
                    email,
                    created_at: at,
                });
                self.next.subscriber += 1;
                batch.activities.push(activity(
                    tid,
                    Some(requester),
                    "subscriber:create",
                    user.map(|_| "profile"),
                    user,
                    at,
                ));
            }
            for (author, body, at) in comments {
                let id = self.next.comment;
                self.next.comment += 1;
                batch.comments.push(NewComment {
                    id,
                    ticket_id: tid,
                    user_id: author,
                    body,
                    created_at: at,
                });
                comment_activities.push((tid, author, id, at));
            }
        }
        for (tid, author, comment, at) in comment_activities {
            let id = self.next.activity;
            self.next.activity += 1;
            batch.activities.push(NewActivity {
                id,
                ticket_id: tid,
                actor_id: Some(author),
                verb: "comment:create",
                action_type: Some("comment"),
                action_id: Some(comment),
                timestamp: at,
            });
        }
        batch
    }
}

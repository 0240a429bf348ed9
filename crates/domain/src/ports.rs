//! Ports: what the domain needs from the outside world. The persistence adapter implements
//! the repositories on one database transaction; the use cases receive that unit of work and
//! never see SQL. Storage failures surface as [`DomainError::Storage`].

use crate::activity::{Activity, NewActivity};
use crate::error::DomainError;
use crate::jobs::{JobId, MailError, NewJob, OutgoingMail};
use crate::listing::{
    Direction, PageRequest, PageSlice, ProfileFilter, StatusTotals, TicketFilter, TicketSortField,
};
use crate::model::*;
use crate::policy::{ProfileScope, Scope, TicketRelation};
use chrono::{DateTime, Utc};

pub type RepoResult<T> = Result<T, DomainError>;

/// The current time. Injected so rules about "now" (deadlines, expiry) are testable.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Profiles as read by the API.
pub trait ProfileRepository {
    /// A profile by id, active or not, regardless of any scope.
    fn profile(&mut self, id: ProfileId) -> RepoResult<Option<Profile>>;
    /// Profiles with their `tickets-count`, in one query, in no particular order.
    fn profile_views(&mut self, ids: &[ProfileId]) -> RepoResult<Vec<ProfileView>>;
    /// The number of profiles of `scope` matching `filter`.
    fn count_profiles(&mut self, scope: ProfileScope, filter: &ProfileFilter) -> RepoResult<i64>;
    /// One page of profiles of `scope` matching `filter`, by id.
    fn list_profiles(
        &mut self,
        scope: ProfileScope,
        filter: &ProfileFilter,
        page: PageSlice,
    ) -> RepoResult<Vec<ProfileView>>;
    fn set_bio(&mut self, id: ProfileId, bio: Option<&str>) -> RepoResult<()>;
}

/// What the identity provider says about a person (verified token claims).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityClaims {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub is_staff: bool,
    pub is_superuser: bool,
}

/// Profile data to insert or refresh from claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileDetails {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_staff: bool,
    pub is_superuser: bool,
}

/// The identity port: profiles by (issuer, subject).
pub trait IdentityRepository {
    /// The profile signed in as (issuer, subject). Only for signing in: an adapter may
    /// record the profile found as the acting profile of the unit of work on the way (the
    /// PostgreSQL adapter does, saving a round trip per request).
    fn profile_by_identity(&mut self, issuer: &str, subject: &str) -> RepoResult<Option<Profile>>;
    /// [`IdentityRepository::profile_by_identity`] with the profile's `tickets-count`, as the
    /// caller's own document shows it (`GET /me`). An adapter that reads both in one look-up
    /// overrides this.
    fn profile_view_by_identity(
        &mut self,
        issuer: &str,
        subject: &str,
    ) -> RepoResult<Option<ProfileView>>
    where
        Self: ProfileRepository,
    {
        let Some(profile) = self.profile_by_identity(issuer, subject)? else {
            return Ok(None);
        };
        let view = self.profile_views(&[profile.id])?.into_iter().next();
        view.map(|view| ProfileView { profile, ..view })
            .ok_or(DomainError::NotFound)
            .map(Some)
    }
    /// Profiles whose e-mail equals `email` case-insensitively and that no identity has
    /// claimed yet (imported or seeded people waiting for their first sign-in).
    fn unlinked_profiles_by_email(&mut self, email: &str) -> RepoResult<Vec<Profile>>;
    /// Whether any profile already uses `email` (case-insensitively).
    fn email_in_use(&mut self, email: &str) -> RepoResult<bool>;
    fn insert_profile(&mut self, details: &ProfileDetails) -> RepoResult<Profile>;
    fn link_identity(&mut self, profile: ProfileId, issuer: &str, subject: &str) -> RepoResult<()>;
    fn update_profile_details(
        &mut self,
        profile: ProfileId,
        details: &ProfileDetails,
    ) -> RepoResult<Profile>;
}

/// A page of the ticket list: the tickets, where the page lies, and the per-status totals
/// it was resolved against.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketPage {
    pub totals: StatusTotals,
    pub page: PageSlice,
    pub tickets: Vec<Ticket>,
}

/// The responder and subscriber rows of some tickets (for relationships and includes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketLinks {
    pub responders: Vec<Responder>,
    pub subscribers: Vec<Subscriber>,
}

pub trait TicketRepository {
    /// A ticket inside `scope`, or `None` (unknown and invisible are the same).
    fn ticket(&mut self, scope: Scope, id: TicketId) -> RepoResult<Option<Ticket>>;
    /// Same as [`TicketRepository::ticket`], locking the row for an update in this transaction.
    fn ticket_for_update(&mut self, scope: Scope, id: TicketId) -> RepoResult<Option<Ticket>>;
    /// How `profile` stands towards `ticket`.
    fn relation(&mut self, ticket: TicketId, profile: ProfileId) -> RepoResult<TicketRelation>;
    /// [`TicketRepository::ticket`] and how `profile` stands towards it. An adapter that
    /// can read both in one look-up overrides this (a write's checks cost a round trip less).
    fn ticket_with_relation(
        &mut self,
        scope: Scope,
        id: TicketId,
        profile: ProfileId,
    ) -> RepoResult<Option<(Ticket, TicketRelation)>> {
        let Some(ticket) = self.ticket(scope, id)? else {
            return Ok(None);
        };
        let relation = self.relation(id, profile)?;
        Ok(Some((ticket, relation)))
    }
    /// Per-status counts over `scope` and every filter but the status filter.
    fn status_totals(&mut self, scope: Scope, filter: &TicketFilter) -> RepoResult<StatusTotals>;
    /// A page of the list with its totals: [`TicketRepository::status_totals`], the page
    /// `request` asks for resolved against them (out of range is
    /// [`DomainError::InvalidPage`]), and [`TicketRepository::list_tickets`] on it. An
    /// adapter that can count and page in one pass over the matches overrides this.
    fn ticket_page(
        &mut self,
        scope: Scope,
        filter: &TicketFilter,
        sort: &[(TicketSortField, Direction)],
        request: PageRequest,
    ) -> RepoResult<TicketPage> {
        ticket_page_in_two_passes(self, scope, filter, sort, request)
    }
    /// One page over `scope` and all filters; search rank first (best first), then `sort`, then id.
    fn list_tickets(
        &mut self,
        scope: Scope,
        filter: &TicketFilter,
        sort: &[(TicketSortField, Direction)],
        page: PageSlice,
    ) -> RepoResult<Vec<Ticket>>;
    fn insert_ticket(
        &mut self,
        requester: ProfileId,
        content: &TicketContent,
        at: DateTime<Utc>,
    ) -> RepoResult<Ticket>;
    fn update_ticket(
        &mut self,
        id: TicketId,
        content: &TicketContent,
        at: DateTime<Utc>,
    ) -> RepoResult<Ticket>;
    /// Responder and subscriber rows of these tickets: a fixed number of queries whatever
    /// their number (one in the PostgreSQL adapter).
    fn ticket_links(&mut self, ids: &[TicketId]) -> RepoResult<TicketLinks>;
}

/// [`TicketRepository::ticket_page`] from its parts: the totals first, then the page they
/// admit. Also the fallback of adapters that override it.
pub fn ticket_page_in_two_passes<R: TicketRepository + ?Sized>(
    repo: &mut R,
    scope: Scope,
    filter: &TicketFilter,
    sort: &[(TicketSortField, Direction)],
    request: PageRequest,
) -> RepoResult<TicketPage> {
    let totals = repo.status_totals(scope, filter)?;
    let page = request.resolve(totals.matching(filter))?;
    let tickets = repo.list_tickets(scope, filter, sort, page)?;
    Ok(TicketPage {
        totals,
        page,
        tickets,
    })
}

pub trait CommentRepository {
    fn insert_comment(
        &mut self,
        ticket: TicketId,
        author: ProfileId,
        body: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<Comment>;
}

pub trait ActivityRepository {
    /// Records the activity and bumps its ticket's `updated_at` to `activity.at`.
    fn record_activity(&mut self, activity: &NewActivity) -> RepoResult<Activity>;
}

/// The job queue, on the unit of work's transaction: a job enqueued by a use case exists if
/// and only if the change that caused it commits.
pub trait JobQueue {
    /// Enqueues `job`; `None` when a pending job already holds its idempotency key.
    fn enqueue(&mut self, job: &NewJob) -> RepoResult<Option<JobId>>;
}

/// Sends one e-mail (an SMTP relay, `.eml` files in demo mode). Called by the worker only.
pub trait Mailer: Send + Sync {
    fn send(&self, message: &OutgoingMail) -> Result<(), MailError>;
}

/// Everything one request may touch, on one transaction.
pub trait UnitOfWork:
    ProfileRepository
    + IdentityRepository
    + TicketRepository
    + CommentRepository
    + ActivityRepository
    + JobQueue
{
}

impl<T> UnitOfWork for T where
    T: ProfileRepository
        + IdentityRepository
        + TicketRepository
        + CommentRepository
        + ActivityRepository
        + JobQueue
{
}

// ---- collaboration on a ticket: responders, subscribers, comments, attachments, timeline ----

/// Filters shared by the ticket-bound lists (comments, responders, subscribers, attachments).
/// A field is `Some` only when the client sent a well-formed value (W24).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowFilter {
    /// `filter[id]`.
    pub id: Option<i32>,
    /// `filter[ticket]` (comments W26, attachments).
    pub ticket: Option<TicketId>,
    /// `filter[user]` (attachments).
    pub user: Option<ProfileId>,
    /// `filter[created_at__range]` (attachments).
    pub created_at: crate::listing::TimeRange,
}

/// Order of a ticket-bound list: `created_at` in this direction (when sorted), then id ascending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowOrder {
    pub created_at: Option<Direction>,
}

/// The filters of the timeline (contract §3.11).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityFilter {
    pub id: Option<i32>,
    pub id_lt: Option<i32>,
    pub id_gt: Option<i32>,
    pub timestamp: crate::listing::TimeRange,
    /// `filter[target_object_id]`: the ticket.
    pub ticket: Option<TicketId>,
    /// `filter[actor_object_id]`.
    pub actor: Option<ProfileId>,
    pub verb: Option<String>,
}

/// A file to record as an attachment (already stored under `storage_key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    pub ticket: TicketId,
    pub uploader: ProfileId,
    pub storage_key: String,
    pub file_name: String,
    pub file_size: i64,
    pub mime_type: Option<String>,
    pub at: DateTime<Utc>,
}

/// Tickets by id inside a scope (for `include=ticket` of the ticket-bound resources).
pub trait TicketLookup {
    fn tickets_in(&mut self, scope: Scope, ids: &[TicketId]) -> RepoResult<Vec<Ticket>>;
}

pub trait ResponderRepository {
    fn responder(&mut self, scope: Scope, id: ResponderId) -> RepoResult<Option<Responder>>;
    fn count_responders(&mut self, scope: Scope, filter: &RowFilter) -> RepoResult<i64>;
    fn list_responders(
        &mut self,
        scope: Scope,
        filter: &RowFilter,
        order: RowOrder,
        page: PageSlice,
    ) -> RepoResult<Vec<Responder>>;
    /// `None` when the database already holds this (ticket, user) pair: a concurrent insert
    /// won the race, which the caller reports like any other duplicate.
    fn insert_responder(
        &mut self,
        ticket: TicketId,
        user: ProfileId,
        at: DateTime<Utc>,
    ) -> RepoResult<Option<Responder>>;
    fn delete_responder(&mut self, id: ResponderId) -> RepoResult<()>;
    /// Sets the status alone, without touching `updated_at` (the activity does that).
    fn set_ticket_status(&mut self, ticket: TicketId, status: TicketStatus) -> RepoResult<()>;
}

pub trait SubscriberRepository {
    fn subscriber(&mut self, scope: Scope, id: SubscriberId) -> RepoResult<Option<Subscriber>>;
    fn count_subscribers(&mut self, scope: Scope, filter: &RowFilter) -> RepoResult<i64>;
    fn list_subscribers(
        &mut self,
        scope: Scope,
        filter: &RowFilter,
        order: RowOrder,
        page: PageSlice,
    ) -> RepoResult<Vec<Subscriber>>;
    /// The profile whose e-mail equals `email` case-insensitively (the oldest if several).
    fn profile_by_email(&mut self, email: &str) -> RepoResult<Option<Profile>>;
    /// Whether an e-mail-only subscription of `ticket` has this address (case-insensitive).
    fn email_subscribed(&mut self, ticket: TicketId, email: &str) -> RepoResult<bool>;
    /// `None` when a unique index refused the row (a concurrent duplicate).
    fn insert_subscriber(
        &mut self,
        ticket: TicketId,
        user: Option<ProfileId>,
        email: Option<&str>,
        at: DateTime<Utc>,
    ) -> RepoResult<Option<Subscriber>>;
    fn delete_subscriber(&mut self, id: SubscriberId) -> RepoResult<()>;
}

/// Turning bare e-mail subscriptions into a new profile's own (contract §7.3). Separate from
/// [`SubscriberRepository`] so the sign-in use case needs nothing else.
pub trait SubscriptionClaims {
    /// Links every e-mail-only subscription whose address equals `email` case-insensitively
    /// to `profile` (e-mail cleared), except on tickets where `profile` is already
    /// subscribed; returns the converted rows.
    fn claim_email_subscriptions(
        &mut self,
        profile: ProfileId,
        email: &str,
    ) -> RepoResult<Vec<Subscriber>>;
}

pub trait CommentReadRepository {
    fn comment(&mut self, scope: Scope, id: CommentId) -> RepoResult<Option<Comment>>;
    fn count_comments(&mut self, scope: Scope, filter: &RowFilter) -> RepoResult<i64>;
    fn list_comments(
        &mut self,
        scope: Scope,
        filter: &RowFilter,
        order: RowOrder,
        page: PageSlice,
    ) -> RepoResult<Vec<Comment>>;
    /// Comments by id, whatever their ticket (callers pass ids of rows already scoped).
    fn comments_by_ids(&mut self, ids: &[CommentId]) -> RepoResult<Vec<Comment>>;
}

pub trait AttachmentRepository {
    fn attachment(&mut self, scope: Scope, id: AttachmentId) -> RepoResult<Option<Attachment>>;
    fn count_attachments(&mut self, scope: Scope, filter: &RowFilter) -> RepoResult<i64>;
    fn list_attachments(
        &mut self,
        scope: Scope,
        filter: &RowFilter,
        order: RowOrder,
        page: PageSlice,
    ) -> RepoResult<Vec<Attachment>>;
    fn insert_attachment(&mut self, new: &NewAttachment) -> RepoResult<Attachment>;
    fn delete_attachment(&mut self, id: AttachmentId) -> RepoResult<()>;
    /// Which of these attachment and expense ids still exist (a timeline's action objects).
    fn existing_objects(
        &mut self,
        attachments: &[AttachmentId],
        expenses: &[ExpenseId],
    ) -> RepoResult<(Vec<AttachmentId>, Vec<ExpenseId>)>;
}

/// Reading the timeline. Writing stays [`ActivityRepository::record_activity`].
pub trait ActivityReadRepository {
    fn activity(&mut self, scope: Scope, id: ActivityId) -> RepoResult<Option<Activity>>;
    fn count_activities(&mut self, scope: Scope, filter: &ActivityFilter) -> RepoResult<i64>;
    /// Ordered by timestamp, then id, both in `direction`.
    fn list_activities(
        &mut self,
        scope: Scope,
        filter: &ActivityFilter,
        direction: Direction,
        page: PageSlice,
    ) -> RepoResult<Vec<Activity>>;
    /// The first and last row of the whole filtered set in that order (`meta.first-id`/`last-id`).
    fn activity_ends(
        &mut self,
        scope: Scope,
        filter: &ActivityFilter,
        direction: Direction,
    ) -> RepoResult<Option<(ActivityId, ActivityId)>>;
}

/// Where uploaded files live. The filesystem adapter is the first; an object store can follow.
/// Keys are server-generated; a client's file name never becomes a path.
pub trait FileStore: Send + Sync {
    /// Moves a completely written staging file into the store; returns its key.
    fn put(&self, staged: &std::path::Path) -> Result<String, DomainError>;
    /// Opens a stored file for reading with its size.
    fn open(&self, key: &str) -> Result<(Box<dyn std::io::Read + Send>, u64), DomainError>;
    /// Deletes a stored file; a file already gone is not an error.
    fn delete(&self, key: &str) -> Result<(), DomainError>;
}

/// Everything the collaboration use cases touch, on one transaction.
pub trait CollaborationWork:
    UnitOfWork
    + TicketLookup
    + ResponderRepository
    + SubscriberRepository
    + SubscriptionClaims
    + CommentReadRepository
    + AttachmentRepository
    + ActivityReadRepository
{
}

impl<T> CollaborationWork for T where
    T: UnitOfWork
        + TicketLookup
        + ResponderRepository
        + SubscriberRepository
        + SubscriptionClaims
        + CommentReadRepository
        + AttachmentRepository
        + ActivityReadRepository
{
}

// ---- CSV exports (contract §6.1) ------------------------------------------------------------

/// One line of the ticket export, as read (cells are formatted by the use case).
#[derive(Debug, Clone, PartialEq)]
pub struct TicketExportRow {
    pub id: TicketId,
    pub requester_email: String,
    pub created_at: DateTime<Utc>,
    pub deadline_at: Option<DateTime<Utc>>,
    pub status: String,
    pub kind: String,
    pub request_type: String,
    pub priority: String,
    /// The requester profile's country ("" when blank).
    pub requester_country: String,
    pub country: Option<String>,
    pub countries: Vec<String>,
    pub member_center: Option<String>,
    pub tags: Vec<String>,
}

/// One line of the expense export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpenseExportRow {
    pub ticket_id: TicketId,
    pub created_at: DateTime<Utc>,
    pub ticket_status: String,
    /// The stored `numeric(19,4)` as text (`10.5000`), NULL as `None`.
    pub amount: Option<String>,
    pub currency: String,
    pub rating: i32,
    pub scope: String,
    pub requester_country: String,
    pub ticket_country: Option<String>,
    pub ticket_countries: Vec<String>,
}

/// One line of the review export.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewExportRow {
    pub ticket_id: TicketId,
    pub created_at: DateTime<Utc>,
    pub rating: i32,
    pub link: Option<String>,
    pub body: String,
}

/// What an export source hands each row to; an `Err` stops the export (client gone).
pub type ExportSink<'a, R> = dyn FnMut(R) -> Result<(), DomainError> + 'a;

/// Every row of an export, read from a database cursor one at a time (never the whole set
/// in memory), in the order asked for. Returns the number of rows read.
pub trait ExportSource {
    fn ticket_rows(
        &mut self,
        scope: Scope,
        filter: &TicketFilter,
        sort: &[(TicketSortField, Direction)],
        sink: &mut ExportSink<'_, TicketExportRow>,
    ) -> RepoResult<u64>;
    fn expense_rows(
        &mut self,
        filter: &crate::usecases::exports::ExpenseExportFilter,
        sink: &mut ExportSink<'_, ExpenseExportRow>,
    ) -> RepoResult<u64>;
    fn review_rows(
        &mut self,
        filter: &crate::usecases::exports::ReviewExportFilter,
        sink: &mut ExportSink<'_, ReviewExportRow>,
    ) -> RepoResult<u64>;
}

/// Writes the records of an export (CSV in the export adapter): the header, then each row's
/// cells, already formatted. The adapter guards cells against formula injection.
pub trait ExportWriter {
    fn write_record(&mut self, cells: &[&str]) -> Result<(), DomainError>;
    /// Flushes everything written so far; called once at the end.
    fn finish(&mut self) -> Result<(), DomainError>;
}

// ---- expenses and statistics (staff work: W5, W9, W22, W23) -------------------------------

/// The filters of the expense list (contract §3.7). A field is `Some` only when the client
/// sent a well-formed value (W24).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpenseFilter {
    /// `filter[ticket]`.
    pub ticket: Option<TicketId>,
    /// `filter[user]`.
    pub user: Option<ProfileId>,
    /// `filter[scope]` (exact match).
    pub scope: Option<String>,
    /// `filter[payment_method]` (exact match).
    pub payment_method: Option<String>,
    /// `filter[created_at__range]`.
    pub created_at: crate::listing::TimeRange,
}

/// A sort key of the expense list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpenseSortField {
    CreatedAt,
    UpdatedAt,
}

/// The writable content of an expense: what a create inserts and an update replaces.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpenseContent {
    pub ticket: TicketId,
    pub amount: Option<rust_decimal::Decimal>,
    pub amount_currency: String,
    pub rating: i32,
    pub scope: String,
    pub payment_method: Option<String>,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub trait ExpenseRepository {
    /// An expense inside `scope` (through its ticket), or `None`.
    fn expense(&mut self, scope: Scope, id: ExpenseId) -> RepoResult<Option<Expense>>;
    fn count_expenses(&mut self, scope: Scope, filter: &ExpenseFilter) -> RepoResult<i64>;
    /// One page, ordered by `sort` then id.
    fn list_expenses(
        &mut self,
        scope: Scope,
        filter: &ExpenseFilter,
        sort: &[(ExpenseSortField, Direction)],
        page: PageSlice,
    ) -> RepoResult<Vec<Expense>>;
    fn insert_expense(
        &mut self,
        user: ProfileId,
        content: &ExpenseContent,
        at: DateTime<Utc>,
    ) -> RepoResult<Expense>;
    /// Replaces the content; `updated_at` becomes `at`.
    fn update_expense(
        &mut self,
        id: ExpenseId,
        content: &ExpenseContent,
        at: DateTime<Utc>,
    ) -> RepoResult<Expense>;
    fn delete_expense(&mut self, id: ExpenseId) -> RepoResult<()>;
}

/// Everything the expense use cases touch, on one transaction.
pub trait ExpenseWork: CollaborationWork + ExpenseRepository {}

impl<T> ExpenseWork for T where T: CollaborationWork + ExpenseRepository {}

/// How ticket statistics are grouped (contract §6.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TicketStatsGroup {
    /// (month of `created_at`, status).
    #[default]
    Month,
    /// (element of `countries`, status).
    Country,
    /// (responder profile or none, status).
    Responder,
}

/// A ticket-statistics request: grouping and filters (contract §6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketStatsQuery {
    pub group: TicketStatsGroup,
    /// `created_at >= from` (always set: the default window applies when absent).
    pub from: DateTime<Utc>,
    pub to: Option<DateTime<Utc>>,
    /// The ticket's `country`.
    pub country: Option<String>,
    pub status_in: Option<Vec<String>>,
    pub kind: Option<TicketKind>,
    /// `filter[responders__user]`.
    pub responder: Option<ProfileId>,
    /// `filter[responders__user__isnull]`, inverted: `Some(true)` = has a responder.
    pub has_responder: Option<bool>,
}

/// One row of ticket statistics. Grouping values that do not apply are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketStat {
    pub month: Option<DateTime<Utc>>,
    pub country: Option<String>,
    pub responder: Option<ProfileId>,
    pub status: String,
    pub count: i64,
    /// Mean of `updated_at - created_at` in hours, truncated toward zero (W23).
    pub avg_hours: i64,
    pub past_deadline: i64,
}

/// How review statistics are grouped (contract §6.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReviewStatsGroup {
    #[default]
    Ticket,
    Responder,
}

/// A review-statistics request (contract §6.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewStatsQuery {
    pub group: ReviewStatsGroup,
    pub from: DateTime<Utc>,
    pub to: Option<DateTime<Utc>>,
    pub ticket: Option<TicketId>,
    /// `filter[ticket__isnull]` (a review always has a ticket: `Some(true)` matches nothing).
    pub ticket_isnull: Option<bool>,
    pub responder: Option<ProfileId>,
    /// `filter[ticket__responders__user__isnull]`, inverted.
    pub has_responder: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewStat {
    pub ticket: Option<TicketId>,
    pub responder: Option<ProfileId>,
    pub count: i64,
    pub ratings: i64,
}

/// Statistics: each one grouped SQL query over all rows (W9).
pub trait StatsRepository {
    fn ticket_stats(&mut self, query: &TicketStatsQuery) -> RepoResult<Vec<TicketStat>>;
    fn review_stats(&mut self, query: &ReviewStatsQuery) -> RepoResult<Vec<ReviewStat>>;
}

/// Everything the statistics use cases touch (includes need profiles and tickets).
pub trait StatsWork: CollaborationWork + StatsRepository {}

impl<T> StatsWork for T where T: CollaborationWork + StatsRepository {}

// ---- reviews (contract §3.8, §5.3.5; W4, W18) and the daily digest (§5.4; W28) ----

/// A review to store, identified by the single-use token it spends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReview {
    pub ticket: TicketId,
    pub rating: i16,
    pub link: Option<String>,
    pub body: String,
    /// The address the review request was sent to.
    pub recipient: String,
    /// The id of the token spent on this review (unique: a token works once).
    pub token_id: String,
    pub at: DateTime<Utc>,
}

pub trait ReviewRepository {
    /// Stores the review; `None` when a review already spent this token id.
    fn insert_review(&mut self, new: &NewReview) -> RepoResult<Option<Review>>;
}

/// What a review token says (W4): for which ticket, to whom, its id, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewClaims {
    pub ticket: TicketId,
    pub recipient: String,
    pub token_id: String,
    pub expires_at: DateTime<Utc>,
}

/// Signs and verifies review tokens with a key of their own (an adapter concern).
pub trait ReviewTokens: Send + Sync {
    fn issue(&self, claims: &ReviewClaims) -> String;
    /// The claims of a well-formed, correctly signed, unexpired token; `None` otherwise.
    fn verify(&self, token: &str, now: DateTime<Utc>) -> Option<ReviewClaims>;
}

/// What the daily digest reads and writes.
pub trait DigestRepository {
    /// Tickets with activities newer than their `sent_notifications_at` (NULL = since ever),
    /// with that bookkeeping value, by id.
    fn digest_candidates(&mut self) -> RepoResult<Vec<(TicketId, Option<DateTime<Utc>>)>>;
    /// The ticket's activities strictly after `after` (all when `None`), newest first.
    fn activities_after(
        &mut self,
        ticket: TicketId,
        after: Option<DateTime<Utc>>,
    ) -> RepoResult<Vec<Activity>>;
    /// Sets `sent_notifications_at` and nothing else (W23, W28e: `updated_at` stays).
    fn mark_digested(&mut self, ticket: TicketId, at: DateTime<Utc>) -> RepoResult<()>;
}

/// Everything the review and digest use cases touch, on one transaction.
pub trait ReviewWork: CollaborationWork + ReviewRepository + DigestRepository {}

impl<T> ReviewWork for T where T: CollaborationWork + ReviewRepository + DigestRepository {}

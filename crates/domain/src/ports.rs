//! Ports: what the domain needs from the outside world. The persistence adapter implements
//! the repositories on one database transaction; the use cases receive that unit of work and
//! never see SQL. Storage failures surface as [`DomainError::Storage`].

use crate::activity::{Activity, NewActivity};
use crate::error::DomainError;
use crate::listing::{
    Direction, PageSlice, ProfileFilter, StatusTotals, TicketFilter, TicketSortField,
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
    fn profile_by_identity(&mut self, issuer: &str, subject: &str) -> RepoResult<Option<Profile>>;
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
    /// Per-status counts over `scope` and every filter but the status filter.
    fn status_totals(&mut self, scope: Scope, filter: &TicketFilter) -> RepoResult<StatusTotals>;
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
    /// Responder and subscriber rows of these tickets: two queries whatever their number.
    fn ticket_links(&mut self, ids: &[TicketId]) -> RepoResult<TicketLinks>;
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

/// Everything one request may touch, on one transaction.
pub trait UnitOfWork:
    ProfileRepository + IdentityRepository + TicketRepository + CommentRepository + ActivityRepository
{
}

impl<T> UnitOfWork for T where
    T: ProfileRepository
        + IdentityRepository
        + TicketRepository
        + CommentRepository
        + ActivityRepository
{
}

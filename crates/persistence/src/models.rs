//! Row structs and their conversion into domain entities.

use crate::schema::*;
use chrono::{DateTime, Utc};
use desk_domain::activity::{ActionObject, Activity};
use desk_domain::*;
use diesel::prelude::*;

/// A stored value the domain does not know (the CHECK constraints make this unreachable
/// unless somebody bypasses them).
fn unknown(what: &str, value: &str) -> DomainError {
    DomainError::Storage(format!("unexpected {what} {value:?} in the database"))
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = profiles, check_for_backend(diesel::pg::Pg))]
pub(crate) struct ProfileRow {
    pub id: i32,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub is_active: bool,
    pub bio: Option<String>,
    pub locale: String,
    pub country: String,
}

impl From<ProfileRow> for Profile {
    fn from(r: ProfileRow) -> Self {
        Profile {
            id: ProfileId(r.id),
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            is_staff: r.is_staff,
            is_superuser: r.is_superuser,
            is_active: r.is_active,
            bio: r.bio,
            locale: r.locale,
            country: r.country,
        }
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = tickets, check_for_backend(diesel::pg::Pg))]
pub(crate) struct TicketRow {
    pub id: i32,
    pub requester_id: i32,
    pub kind: String,
    pub request_type: String,
    pub status: String,
    pub priority: String,
    pub sensitive: bool,
    pub whysensitive: Option<String>,
    pub deadline_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub member_center: Option<String>,
    pub identifier: Option<String>,
    pub countries: Vec<String>,
    pub tags: Vec<String>,
    pub background: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub born_at: Option<DateTime<Utc>>,
    pub connections: Option<String>,
    pub sources: Option<String>,
    pub business_activities: Option<String>,
    pub initial_information: Option<String>,
    pub company_name: Option<String>,
    pub country: Option<String>,
}

impl TryFrom<TicketRow> for Ticket {
    type Error = DomainError;

    fn try_from(r: TicketRow) -> Result<Self, DomainError> {
        Ok(Ticket {
            id: TicketId(r.id),
            requester_id: ProfileId(r.requester_id),
            kind: TicketKind::parse(&r.kind).ok_or_else(|| unknown("ticket kind", &r.kind))?,
            request_type: RequestType::parse(&r.request_type)
                .ok_or_else(|| unknown("request type", &r.request_type))?,
            status: TicketStatus::parse(&r.status)
                .ok_or_else(|| unknown("ticket status", &r.status))?,
            priority: Priority::parse(&r.priority)
                .ok_or_else(|| unknown("priority", &r.priority))?,
            sensitive: r.sensitive,
            whysensitive: r.whysensitive,
            deadline_at: r.deadline_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            member_center: r.member_center,
            identifier: r.identifier,
            countries: r.countries,
            tags: r.tags,
            background: r.background,
            first_name: r.first_name,
            last_name: r.last_name,
            born_at: r.born_at,
            connections: r.connections,
            sources: r.sources,
            business_activities: r.business_activities,
            initial_information: r.initial_information,
            company_name: r.company_name,
            country: r.country,
        })
    }
}

/// The writable columns of a ticket, borrowed from a [`TicketContent`].
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = tickets, treat_none_as_null = true)]
pub(crate) struct TicketContentRow<'a> {
    pub kind: &'a str,
    pub request_type: &'a str,
    pub status: &'a str,
    pub priority: &'a str,
    pub sensitive: bool,
    pub whysensitive: Option<&'a str>,
    pub deadline_at: Option<DateTime<Utc>>,
    pub member_center: Option<&'a str>,
    pub identifier: Option<&'a str>,
    pub countries: &'a [String],
    pub tags: &'a [String],
    pub background: &'a str,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub born_at: Option<DateTime<Utc>>,
    pub connections: Option<&'a str>,
    pub sources: Option<&'a str>,
    pub business_activities: Option<&'a str>,
    pub initial_information: Option<&'a str>,
    pub company_name: Option<&'a str>,
    pub country: Option<&'a str>,
}

impl<'a> TicketContentRow<'a> {
    pub fn new(c: &'a TicketContent) -> Self {
        TicketContentRow {
            kind: c.kind.as_str(),
            request_type: c.request_type.as_str(),
            status: c.status.as_str(),
            priority: c.priority.as_str(),
            sensitive: c.sensitive,
            whysensitive: c.whysensitive.as_deref(),
            deadline_at: c.deadline_at,
            member_center: c.member_center.as_deref(),
            identifier: c.identifier.as_deref(),
            countries: &c.countries,
            tags: &c.tags,
            background: &c.background,
            first_name: c.first_name.as_deref(),
            last_name: c.last_name.as_deref(),
            born_at: c.born_at,
            connections: c.connections.as_deref(),
            sources: c.sources.as_deref(),
            business_activities: c.business_activities.as_deref(),
            initial_information: c.initial_information.as_deref(),
            company_name: c.company_name.as_deref(),
            country: c.country.as_deref(),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = responders, check_for_backend(diesel::pg::Pg))]
pub(crate) struct ResponderRow {
    pub id: i32,
    pub ticket_id: i32,
    pub user_id: i32,
    pub created_at: DateTime<Utc>,
}

impl From<ResponderRow> for Responder {
    fn from(r: ResponderRow) -> Self {
        Responder {
            id: ResponderId(r.id),
            ticket_id: TicketId(r.ticket_id),
            user_id: ProfileId(r.user_id),
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = subscribers, check_for_backend(diesel::pg::Pg))]
pub(crate) struct SubscriberRow {
    pub id: i32,
    pub ticket_id: i32,
    pub user_id: Option<i32>,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<SubscriberRow> for Subscriber {
    fn from(r: SubscriberRow) -> Self {
        Subscriber {
            id: SubscriberId(r.id),
            ticket_id: TicketId(r.ticket_id),
            user_id: r.user_id.map(ProfileId),
            email: r.email,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = comments, check_for_backend(diesel::pg::Pg))]
pub(crate) struct CommentRow {
    pub id: i32,
    pub ticket_id: i32,
    pub user_id: i32,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

impl From<CommentRow> for Comment {
    fn from(r: CommentRow) -> Self {
        Comment {
            id: CommentId(r.id),
            ticket_id: TicketId(r.ticket_id),
            user_id: ProfileId(r.user_id),
            body: r.body,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = activities, check_for_backend(diesel::pg::Pg))]
pub(crate) struct ActivityRow {
    pub id: i32,
    pub ticket_id: i32,
    pub actor_id: Option<i32>,
    pub verb: String,
    pub action_type: Option<String>,
    pub action_id: Option<i32>,
    pub timestamp: DateTime<Utc>,
}

/// The typed action reference as stored: `(action_type, action_id)`.
pub(crate) fn action_columns(action: Option<ActionObject>) -> (Option<&'static str>, Option<i32>) {
    match action {
        None => (None, None),
        Some(ActionObject::Comment(id)) => (Some("comment"), Some(id.0)),
        Some(ActionObject::Attachment(id)) => (Some("attachment"), Some(id.0)),
        Some(ActionObject::Expense(id)) => (Some("expense"), Some(id.0)),
        Some(ActionObject::Review(id)) => (Some("review"), Some(id.0)),
        Some(ActionObject::Profile(id)) => (Some("profile"), Some(id.0)),
    }
}

fn action_object(kind: Option<&str>, id: Option<i32>) -> Result<Option<ActionObject>, DomainError> {
    let (Some(kind), Some(id)) = (kind, id) else {
        return Ok(None);
    };
    Ok(Some(match kind {
        "comment" => ActionObject::Comment(CommentId(id)),
        "attachment" => ActionObject::Attachment(AttachmentId(id)),
        "expense" => ActionObject::Expense(ExpenseId(id)),
        "review" => ActionObject::Review(ReviewId(id)),
        "profile" => ActionObject::Profile(ProfileId(id)),
        other => return Err(unknown("action type", other)),
    }))
}

impl TryFrom<ActivityRow> for Activity {
    type Error = DomainError;

    fn try_from(r: ActivityRow) -> Result<Self, DomainError> {
        Ok(Activity {
            id: ActivityId(r.id),
            actor: r.actor_id.map(ProfileId),
            verb: r.verb,
            ticket: TicketId(r.ticket_id),
            action: action_object(r.action_type.as_deref(), r.action_id)?,
            timestamp: r.timestamp,
        })
    }
}

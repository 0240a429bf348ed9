//! The entities of the desk (contract §1) as plain data.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i32);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(/// A profile (person) id.
    ProfileId);
id_type!(/// A ticket id.
    TicketId);
id_type!(/// A responder row id.
    ResponderId);
id_type!(/// A subscriber row id.
    SubscriberId);
id_type!(/// A comment id.
    CommentId);
id_type!(/// An attachment id.
    AttachmentId);
id_type!(/// An expense id.
    ExpenseId);
id_type!(/// A review id.
    ReviewId);
id_type!(/// An activity (timeline entry) id.
    ActivityId);

/// Declares a string-valued enumeration with its wire spelling.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? } default $default:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
            pub fn parse(value: &str) -> Option<Self> {
                match value { $($wire => Some($name::$variant),)+ _ => None }
            }
        }

        impl Default for $name {
            fn default() -> Self { $name::$default }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(/// What is being researched.
    TicketKind {
        PersonOwnership => "person_ownership",
        CompanyOwnership => "company_ownership",
        VehicleTracking => "vehicle_tracking",
        DataRequest => "data_request",
        Other => "other",
    } default Other);

wire_enum!(/// Who pays for what.
    RequestType { Subsidized => "subs", Cost => "cost", CostPlus => "cost_plus" } default Subsidized);

wire_enum!(/// Ticket status; the order is the order of `meta.total` keys.
    TicketStatus {
        New => "new",
        InProgress => "in-progress",
        Pending => "pending",
        Closed => "closed",
        Cancelled => "cancelled",
    } default New);

wire_enum!(/// Ticket priority (readable by everybody who sees the ticket, writable by superusers: W20).
    Priority { Low => "low", Default => "default", High => "high" } default Default);

/// A person known to the desk. Roles come from the identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub id: ProfileId,
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

impl Profile {
    pub fn display_name(&self) -> String {
        crate::text::display_name(&self.first_name, &self.last_name, &self.email)
    }
}

/// A profile as rendered: the profile plus its derived `tickets-count`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileView {
    pub profile: Profile,
    pub tickets_count: i64,
}

/// A research request.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub id: TicketId,
    pub requester_id: ProfileId,
    pub kind: TicketKind,
    pub request_type: RequestType,
    pub status: TicketStatus,
    pub priority: Priority,
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

/// The writable content of a ticket: what a create inserts and an update replaces.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketContent {
    pub kind: TicketKind,
    pub request_type: RequestType,
    pub status: TicketStatus,
    pub priority: Priority,
    pub sensitive: bool,
    pub whysensitive: Option<String>,
    pub deadline_at: Option<DateTime<Utc>>,
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

impl Ticket {
    pub fn content(&self) -> TicketContent {
        TicketContent {
            kind: self.kind,
            request_type: self.request_type,
            status: self.status,
            priority: self.priority,
            sensitive: self.sensitive,
            whysensitive: self.whysensitive.clone(),
            deadline_at: self.deadline_at,
            member_center: self.member_center.clone(),
            identifier: self.identifier.clone(),
            countries: self.countries.clone(),
            tags: self.tags.clone(),
            background: self.background.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            born_at: self.born_at,
            connections: self.connections.clone(),
            sources: self.sources.clone(),
            business_activities: self.business_activities.clone(),
            initial_information: self.initial_information.clone(),
            company_name: self.company_name.clone(),
            country: self.country.clone(),
        }
    }
}

/// A researcher assigned to a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Responder {
    pub id: ResponderId,
    pub ticket_id: TicketId,
    pub user_id: ProfileId,
    pub created_at: DateTime<Utc>,
}

/// Somebody following a ticket: a profile, or a bare e-mail of somebody without an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub id: SubscriberId,
    pub ticket_id: TicketId,
    pub user_id: Option<ProfileId>,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: CommentId,
    pub ticket_id: TicketId,
    pub user_id: ProfileId,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: AttachmentId,
    pub ticket_id: TicketId,
    pub user_id: ProfileId,
    /// Storage key relative to the media root (server-generated).
    pub upload: String,
    /// The client's file name, cleaned (what `file-name` shows).
    pub file_name: String,
    pub file_size: i64,
    pub mime_type: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Money spent on a ticket; an exact decimal with its currency.
#[derive(Debug, Clone, PartialEq)]
pub struct Expense {
    pub id: ExpenseId,
    pub ticket_id: TicketId,
    pub user_id: ProfileId,
    pub amount: Option<Decimal>,
    pub amount_currency: String,
    pub rating: i32,
    pub scope: String,
    pub payment_method: Option<String>,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The requester's answer to "Was our response helpful?" (0–3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub id: ReviewId,
    pub ticket_id: TicketId,
    pub rating: i16,
    pub link: Option<String>,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

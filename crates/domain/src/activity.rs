//! The ticket timeline: activity rows and their verbs (contract §3.14).

use crate::model::*;
use chrono::{DateTime, Utc};

/// What an activity's action object refers to. Stored as a typed reference, so a timeline
/// entry can never point at a row of the wrong kind (W8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionObject {
    Comment(CommentId),
    Attachment(AttachmentId),
    Expense(ExpenseId),
    Review(ReviewId),
    /// A profile (responder, subscriber, uploader or expense creator; exposed as `responder-user`, W27).
    Profile(ProfileId),
}

/// The verbs the desk records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    TicketCreate,
    TicketUpdate,
    TicketStatus(TicketStatus),
    TicketReopen,
    TicketPending,
    CommentCreate,
    AttachmentCreate,
    AttachmentDestroy,
    ResponderCreate,
    ResponderDestroy,
    SubscriberCreate,
    SubscriberDestroy,
    SubscriberJoined,
    ExpenseCreate,
    ExpenseDestroy,
    ReviewCreate,
}

impl Verb {
    pub fn as_wire(self) -> String {
        match self {
            Verb::TicketCreate => "ticket:create".into(),
            Verb::TicketUpdate => "ticket:update".into(),
            Verb::TicketStatus(status) => format!("ticket:update:status_{}", status.as_str()),
            Verb::TicketReopen => "ticket:update:reopen".into(),
            Verb::TicketPending => "ticket:update:pending".into(),
            Verb::CommentCreate => "comment:create".into(),
            Verb::AttachmentCreate => "attachment:create".into(),
            Verb::AttachmentDestroy => "attachment:destroy".into(),
            Verb::ResponderCreate => "responder:create".into(),
            Verb::ResponderDestroy => "responder:destroy".into(),
            Verb::SubscriberCreate => "subscriber:create".into(),
            Verb::SubscriberDestroy => "subscriber:destroy".into(),
            Verb::SubscriberJoined => "subscriber:update:joined".into(),
            Verb::ExpenseCreate => "expense:create".into(),
            Verb::ExpenseDestroy => "expense:destroy".into(),
            Verb::ReviewCreate => "review:create".into(),
        }
    }
}

/// An activity about to be recorded. Recording it also bumps the ticket's `updated_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewActivity {
    pub actor: Option<ProfileId>,
    pub verb: Verb,
    pub ticket: TicketId,
    pub action: Option<ActionObject>,
    pub at: DateTime<Utc>,
}

/// A recorded activity. `verb` is a string because migrated data carries legacy verbs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub id: ActivityId,
    pub actor: Option<ProfileId>,
    pub verb: String,
    pub ticket: TicketId,
    pub action: Option<ActionObject>,
    pub timestamp: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_spelled_as_the_contract_lists_them() {
        assert_eq!(
            Verb::TicketStatus(TicketStatus::InProgress).as_wire(),
            "ticket:update:status_in-progress"
        );
        assert_eq!(Verb::SubscriberJoined.as_wire(), "subscriber:update:joined");
        assert_eq!(Verb::TicketPending.as_wire(), "ticket:update:pending");
    }
}

//! The access policy: the one place that decides who may see and do what (contract §2, with
//! our decisions W5–W9). Lists are decided by a [`Scope`] that the persistence adapter turns
//! into one SQL predicate; single-row decisions by the functions below. A property test in
//! the persistence crate checks that the SQL of every scope selects exactly the rows
//! [`ticket_visible`] allows.

use crate::error::DomainError;
use crate::model::ProfileId;

/// The authenticated caller, with the roles the identity provider gave on this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub id: ProfileId,
    pub is_staff: bool,
    pub is_superuser: bool,
}

impl Actor {
    /// Staff or superuser: reports, exports, expenses and every e-mail address.
    pub fn is_desk_staff(&self) -> bool {
        self.is_staff || self.is_superuser
    }
}

/// How one person stands towards one ticket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TicketRelation {
    pub requester: bool,
    pub responder: bool,
    /// Subscribed with their profile (bare e-mail subscriptions grant nothing).
    pub subscriber: bool,
}

impl TicketRelation {
    pub fn participant(&self) -> bool {
        self.requester || self.responder || self.subscriber
    }
}

/// Which rows of a ticket-bound resource (tickets, comments, attachments, responders,
/// subscribers, activities; expenses and reviews too) a list may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every row.
    Everything,
    /// Rows of tickets on which this profile is requester, responder or subscriber.
    ParticipantOf(ProfileId),
    /// No row at all.
    Nothing,
}

/// Which profiles a profile list may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileScope {
    /// Every active profile.
    Active,
    /// Only the caller's own profile.
    Only(ProfileId),
}

/// What a caller may change on a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketRights {
    /// Every writable attribute (superusers).
    All,
    /// `status` and the reopen/pending reasons only (requester, responders: W6, W32).
    StatusOnly,
}

// ---- tickets and everything seen through a ticket --------------------------------------

/// Tickets, and every row seen through its ticket (comments, attachments, responders,
/// subscribers, activities: W8).
pub fn ticket_scope(actor: &Actor) -> Scope {
    if actor.is_superuser {
        Scope::Everything
    } else {
        Scope::ParticipantOf(actor.id)
    }
}

/// The single-row form of [`ticket_scope`].
pub fn ticket_visible(actor: &Actor, relation: TicketRelation) -> bool {
    actor.is_superuser || relation.participant()
}

/// Whether `scope` admits a ticket to which its subject stands in `relation`.
pub fn scope_admits(scope: Scope, relation: TicketRelation) -> bool {
    match scope {
        Scope::Everything => true,
        Scope::ParticipantOf(_) => relation.participant(),
        Scope::Nothing => false,
    }
}

/// Any authenticated person may request research.
pub fn may_create_ticket(_actor: &Actor) -> bool {
    true
}

/// Only superusers choose the status and priority of a new ticket (W7); others start `new`.
pub fn may_set_initial_status(actor: &Actor) -> bool {
    actor.is_superuser
}

/// Update rights: invisible → 404; a subscriber sees the ticket but may not change it (W6).
pub fn ticket_update_rights(
    actor: &Actor,
    relation: TicketRelation,
) -> Result<TicketRights, DomainError> {
    if actor.is_superuser {
        Ok(TicketRights::All)
    } else if relation.requester || relation.responder {
        Ok(TicketRights::StatusOnly)
    } else if relation.subscriber {
        Err(DomainError::Forbidden)
    } else {
        Err(DomainError::NotFound)
    }
}

/// Comments and attachments: participants and superusers; others get 422 `Ticket not found.`.
pub fn may_contribute(actor: &Actor, relation: TicketRelation) -> Result<(), DomainError> {
    if ticket_visible(actor, relation) {
        Ok(())
    } else {
        Err(DomainError::TicketNotFound)
    }
}

/// Attachment delete: the uploader (while the ticket is visible) or a superuser.
pub fn may_delete_attachment(
    actor: &Actor,
    relation: TicketRelation,
    uploader: ProfileId,
) -> Result<(), DomainError> {
    if actor.is_superuser || (relation.participant() && uploader == actor.id) {
        Ok(())
    } else {
        Err(DomainError::NotFound)
    }
}

/// Assigning responders is a superuser task.
pub fn may_add_responder(actor: &Actor) -> Result<(), DomainError> {
    if actor.is_superuser {
        Ok(())
    } else {
        Err(DomainError::TicketNotFound)
    }
}

/// A responder may step down; superusers may remove anybody.
pub fn may_remove_responder(
    actor: &Actor,
    relation: TicketRelation,
    responder: ProfileId,
) -> Result<(), DomainError> {
    if actor.is_superuser || (relation.participant() && responder == actor.id) {
        Ok(())
    } else {
        Err(DomainError::NotFound)
    }
}

/// Adding subscribers: requester, responders, superusers (W6).
pub fn may_add_subscriber(actor: &Actor, relation: TicketRelation) -> Result<(), DomainError> {
    if actor.is_superuser || relation.requester || relation.responder {
        Ok(())
    } else {
        Err(DomainError::TicketNotFound)
    }
}

/// Removing a subscription: requester, responders, superusers, or the subscribed person
/// themself (W6).
pub fn may_remove_subscriber(
    actor: &Actor,
    relation: TicketRelation,
    subscribed: Option<ProfileId>,
) -> Result<(), DomainError> {
    if actor.is_superuser
        || relation.requester
        || relation.responder
        || (relation.subscriber && subscribed == Some(actor.id))
    {
        Ok(())
    } else {
        Err(DomainError::NotFound)
    }
}

// ---- expenses, reviews, reports ----------------------------------------------------------

/// Expenses are the desk's finance: staff and superusers see all, others none (W5).
pub fn expense_scope(actor: &Actor) -> Scope {
    if actor.is_desk_staff() {
        Scope::Everything
    } else {
        Scope::Nothing
    }
}

/// Creating an expense: staff or superuser, on any existing ticket (W5); others 422T.
pub fn may_create_expense(actor: &Actor) -> Result<(), DomainError> {
    if actor.is_desk_staff() {
        Ok(())
    } else {
        Err(DomainError::TicketNotFound)
    }
}

/// Reviews are read only through the review export: staff or superuser (W9).
pub fn review_scope(actor: &Actor) -> Scope {
    expense_scope(actor)
}

/// Statistics and the three CSV exports: staff or superuser, all rows (W9); others 403.
pub fn may_read_reports(actor: &Actor) -> Result<(), DomainError> {
    if actor.is_desk_staff() {
        Ok(())
    } else {
        Err(DomainError::Forbidden)
    }
}

// ---- profiles -----------------------------------------------------------------------------

pub fn profile_scope(actor: &Actor) -> ProfileScope {
    if actor.is_superuser {
        ProfileScope::Active
    } else {
        ProfileScope::Only(actor.id)
    }
}

/// Whether a profile (active or not) lies in `scope`.
pub fn profile_scope_admits(scope: ProfileScope, profile: ProfileId, active: bool) -> bool {
    match scope {
        ProfileScope::Active => active,
        ProfileScope::Only(own) => own == profile && active,
    }
}

/// Superusers filter the profile list; everybody else always gets just themself.
pub fn may_filter_profiles(actor: &Actor) -> bool {
    actor.is_superuser
}

/// E-mail addresses are shown to staff, superusers, and to the person themself.
pub fn sees_email_of(viewer: &Actor, profile: ProfileId) -> bool {
    viewer.is_desk_staff() || viewer.id == profile
}

/// The requester/responder chips of the ticket list (`meta.filters`) are for superusers.
pub fn sees_filter_labels(actor: &Actor) -> bool {
    actor.is_superuser
}

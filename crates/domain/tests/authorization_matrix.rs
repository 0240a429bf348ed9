//! The authorization matrix of contract §2.4, with our decisions W5–W9 (README of the
//! contract), as one table: role × resource × action → outcome. Every row is checked
//! against the functions of `desk_domain::policy`; the same table is rendered as markdown
//! into `target/policy-table.md` so the documentation can include it.
//!
//! Conventions of the table:
//! * the caller is profile 10; "the row" acted upon (an attachment, a responder row, a
//!   subscription, a profile) belongs to somebody else (profile 20) unless the role says
//!   otherwise (uploader, the responder himself, the subscribed user);
//! * staff, staff+superuser and superuser stand in no relation to the ticket;
//! * 401 (anonymous) and 405 (unsupported methods) are the router's business, not the
//!   policy's, and are not listed.

use desk_domain::policy::{self, ProfileScope, Scope, TicketRelation, TicketRights};
use desk_domain::{Actor, DomainError, ProfileId};
use std::fmt::Write as _;

/// The caller of every row.
const ME: ProfileId = ProfileId(10);
/// Whoever else owns the row acted upon.
const OTHER: ProfileId = ProfileId(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Authenticated, no relation to the ticket, no global role.
    Auth,
    Requester,
    Responder,
    /// Subscribed with their profile.
    Subscriber,
    /// `is_staff`, no relation.
    Staff,
    /// `is_staff` and `is_superuser`, no relation.
    StaffSuperuser,
    /// `is_superuser` only, no relation.
    Superuser,
    /// A participant (subscriber) who uploaded the attachment.
    Uploader,
    /// Uploaded the attachment, but no longer participates in the ticket.
    FormerUploader,
    /// A responder removing their own responder row.
    ResponderHimself,
    /// A subscriber removing their own subscription.
    SubscribedUser,
}

/// The roles every ticket-bound resource/action lists.
const BASE_ROLES: [Role; 7] = [
    Role::Auth,
    Role::Requester,
    Role::Responder,
    Role::Subscriber,
    Role::Staff,
    Role::StaffSuperuser,
    Role::Superuser,
];

/// The roles of the profile rows (relations to tickets do not matter there).
const GLOBAL_ROLES: [Role; 4] = [
    Role::Auth,
    Role::Staff,
    Role::StaffSuperuser,
    Role::Superuser,
];

impl Role {
    fn label(self) -> &'static str {
        match self {
            Role::Auth => "auth",
            Role::Requester => "requester",
            Role::Responder => "responder",
            Role::Subscriber => "subscriber",
            Role::Staff => "staff",
            Role::StaffSuperuser => "staff+superuser",
            Role::Superuser => "superuser",
            Role::Uploader => "uploader",
            Role::FormerUploader => "former uploader",
            Role::ResponderHimself => "the responder himself",
            Role::SubscribedUser => "the subscribed user",
        }
    }

    fn actor(self) -> Actor {
        let (is_staff, is_superuser) = match self {
            Role::Staff => (true, false),
            Role::StaffSuperuser => (true, true),
            Role::Superuser => (false, true),
            _ => (false, false),
        };
        Actor {
            id: ME,
            is_staff,
            is_superuser,
        }
    }

    fn relation(self) -> TicketRelation {
        let none = TicketRelation::default();
        match self {
            Role::Requester => TicketRelation {
                requester: true,
                ..none
            },
            Role::Responder | Role::ResponderHimself => TicketRelation {
                responder: true,
                ..none
            },
            Role::Subscriber | Role::SubscribedUser | Role::Uploader => TicketRelation {
                subscriber: true,
                ..none
            },
            _ => none,
        }
    }

    /// The owner of the row acted upon (uploader, responder, subscribed profile).
    fn owner(self) -> ProfileId {
        match self {
            Role::Uploader
            | Role::FormerUploader
            | Role::ResponderHimself
            | Role::SubscribedUser => ME,
            _ => OTHER,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Tickets,
    Comments,
    Attachments,
    /// `GET /download/{attachment}`: the visibility of attachments.
    Downloads,
    Responders,
    Subscribers,
    Expenses,
    Activities,
    /// Read only through the review export.
    Reviews,
    /// `ticket-stats`, `review-stats`.
    Stats,
    /// `ticket-exports`, `expense-exports`, `review-exports`.
    Exports,
    Profiles,
}

impl Resource {
    fn label(self) -> &'static str {
        match self {
            Resource::Tickets => "tickets",
            Resource::Comments => "comments",
            Resource::Attachments => "attachments",
            Resource::Downloads => "downloads",
            Resource::Responders => "responders",
            Resource::Subscribers => "subscribers",
            Resource::Expenses => "expenses",
            Resource::Activities => "activities",
            Resource::Reviews => "reviews",
            Resource::Stats => "stats",
            Resource::Exports => "exports",
            Resource::Profiles => "profiles",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    List,
    Retrieve,
    Create,
    /// `status`/`priority` of a new ticket (W7, W20).
    ChooseInitialStatus,
    Update,
    Delete,
    /// The requester/responder chips of the ticket list (`meta.filters`).
    FilterLabels,
    /// Stats and exports.
    Read,
    /// `filter[...]` of the profile list.
    Filter,
    RetrieveOwn,
    RetrieveOther,
    RetrieveInactive,
    UpdateOwn,
    UpdateOther,
    SeeOwnEmail,
    SeeOthersEmail,
}

impl Action {
    fn label(self) -> &'static str {
        match self {
            Action::List => "list",
            Action::Retrieve => "retrieve",
            Action::Create => "create",
            Action::ChooseInitialStatus => "create with status/priority",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::FilterLabels => "filter labels (meta.filters)",
            Action::Read => "read",
            Action::Filter => "filter the list",
            Action::RetrieveOwn => "retrieve own",
            Action::RetrieveOther => "retrieve another active",
            Action::RetrieveInactive => "retrieve an inactive one",
            Action::UpdateOwn => "update own (bio)",
            Action::UpdateOther => "update another active (bio)",
            Action::SeeOwnEmail => "see own e-mail",
            Action::SeeOthersEmail => "see another's e-mail",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// 2xx.
    Allowed,
    /// 2xx, but only `status` and the reasons may change (W6, W32).
    AllowedStatusOnly,
    /// Accepted but without effect (status forced to `new`, filters ignored).
    Ignored,
    /// 404.
    NotFound,
    /// 403.
    Forbidden,
    /// 422 `Ticket not found.`
    TicketNotFound,
    /// Lists and reports: every row.
    VisibleAll,
    /// Lists: rows of tickets the caller participates in (V(u) of §2.3).
    VisibleOwn,
    /// Lists: no row at all (`data: []`).
    VisibleNone,
    /// Profile list: every active profile.
    VisibleActive,
    /// Profile list: the caller alone.
    VisibleSelf,
    /// A field rendered to the caller.
    Shown,
    /// A field withheld from the caller.
    Hidden,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Allowed => "ok",
            Outcome::AllowedStatusOnly => "ok, status only",
            Outcome::Ignored => "ignored",
            Outcome::NotFound => "404",
            Outcome::Forbidden => "403",
            Outcome::TicketNotFound => "422T",
            Outcome::VisibleAll => "all",
            Outcome::VisibleOwn => "V",
            Outcome::VisibleNone => "none",
            Outcome::VisibleActive => "all active",
            Outcome::VisibleSelf => "only self",
            Outcome::Shown => "shown",
            Outcome::Hidden => "hidden",
        }
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, Copy)]
struct Row(Role, Resource, Action, Outcome);

use Action::*;
use Outcome::*;
use Resource::*;
use Role::*;

#[rustfmt::skip]
const MATRIX: &[Row] = &[
    // ---- tickets ---------------------------------------------------------------------------
    Row(Auth,             Tickets, List, VisibleOwn),
    Row(Requester,        Tickets, List, VisibleOwn),
    Row(Responder,        Tickets, List, VisibleOwn),
    Row(Subscriber,       Tickets, List, VisibleOwn),
    Row(Staff,            Tickets, List, VisibleOwn),
    Row(StaffSuperuser,   Tickets, List, VisibleAll),
    Row(Superuser,        Tickets, List, VisibleAll),

    Row(Auth,             Tickets, Retrieve, NotFound),
    Row(Requester,        Tickets, Retrieve, Allowed),
    Row(Responder,        Tickets, Retrieve, Allowed),
    Row(Subscriber,       Tickets, Retrieve, Allowed),
    Row(Staff,            Tickets, Retrieve, NotFound),
    Row(StaffSuperuser,   Tickets, Retrieve, Allowed),
    Row(Superuser,        Tickets, Retrieve, Allowed),

    Row(Auth,             Tickets, Create, Allowed),
    Row(Requester,        Tickets, Create, Allowed),
    Row(Responder,        Tickets, Create, Allowed),
    Row(Subscriber,       Tickets, Create, Allowed),
    Row(Staff,            Tickets, Create, Allowed),
    Row(StaffSuperuser,   Tickets, Create, Allowed),
    Row(Superuser,        Tickets, Create, Allowed),

    // W7/W20: only superusers choose the status and priority of a new ticket.
    Row(Auth,             Tickets, ChooseInitialStatus, Ignored),
    Row(Requester,        Tickets, ChooseInitialStatus, Ignored),
    Row(Responder,        Tickets, ChooseInitialStatus, Ignored),
    Row(Subscriber,       Tickets, ChooseInitialStatus, Ignored),
    Row(Staff,            Tickets, ChooseInitialStatus, Ignored),
    Row(StaffSuperuser,   Tickets, ChooseInitialStatus, Allowed),
    Row(Superuser,        Tickets, ChooseInitialStatus, Allowed),

    // W6: a subscriber sees the ticket but may not change it; W32: status only.
    Row(Auth,             Tickets, Update, NotFound),
    Row(Requester,        Tickets, Update, AllowedStatusOnly),
    Row(Responder,        Tickets, Update, AllowedStatusOnly),
    Row(Subscriber,       Tickets, Update, Forbidden),
    Row(Staff,            Tickets, Update, NotFound),
    Row(StaffSuperuser,   Tickets, Update, Allowed),
    Row(Superuser,        Tickets, Update, Allowed),

    Row(Auth,             Tickets, FilterLabels, Hidden),
    Row(Requester,        Tickets, FilterLabels, Hidden),
    Row(Responder,        Tickets, FilterLabels, Hidden),
    Row(Subscriber,       Tickets, FilterLabels, Hidden),
    Row(Staff,            Tickets, FilterLabels, Hidden),
    Row(StaffSuperuser,   Tickets, FilterLabels, Shown),
    Row(Superuser,        Tickets, FilterLabels, Shown),

    // ---- comments --------------------------------------------------------------------------
    Row(Auth,             Comments, List, VisibleOwn),
    Row(Requester,        Comments, List, VisibleOwn),
    Row(Responder,        Comments, List, VisibleOwn),
    Row(Subscriber,       Comments, List, VisibleOwn),
    Row(Staff,            Comments, List, VisibleOwn),
    Row(StaffSuperuser,   Comments, List, VisibleAll),
    Row(Superuser,        Comments, List, VisibleAll),

    Row(Auth,             Comments, Retrieve, NotFound),
    Row(Requester,        Comments, Retrieve, Allowed),
    Row(Responder,        Comments, Retrieve, Allowed),
    Row(Subscriber,       Comments, Retrieve, Allowed),
    Row(Staff,            Comments, Retrieve, NotFound),
    Row(StaffSuperuser,   Comments, Retrieve, Allowed),
    Row(Superuser,        Comments, Retrieve, Allowed),

    Row(Auth,             Comments, Create, TicketNotFound),
    Row(Requester,        Comments, Create, Allowed),
    Row(Responder,        Comments, Create, Allowed),
    Row(Subscriber,       Comments, Create, Allowed),
    Row(Staff,            Comments, Create, TicketNotFound),
    Row(StaffSuperuser,   Comments, Create, Allowed),
    Row(Superuser,        Comments, Create, Allowed),

    // ---- attachments -----------------------------------------------------------------------
    Row(Auth,             Attachments, List, VisibleOwn),
    Row(Requester,        Attachments, List, VisibleOwn),
    Row(Responder,        Attachments, List, VisibleOwn),
    Row(Subscriber,       Attachments, List, VisibleOwn),
    Row(Staff,            Attachments, List, VisibleOwn),
    Row(StaffSuperuser,   Attachments, List, VisibleAll),
    Row(Superuser,        Attachments, List, VisibleAll),

    Row(Auth,             Attachments, Retrieve, NotFound),
    Row(Requester,        Attachments, Retrieve, Allowed),
    Row(Responder,        Attachments, Retrieve, Allowed),
    Row(Subscriber,       Attachments, Retrieve, Allowed),
    Row(Staff,            Attachments, Retrieve, NotFound),
    Row(StaffSuperuser,   Attachments, Retrieve, Allowed),
    Row(Superuser,        Attachments, Retrieve, Allowed),

    Row(Auth,             Attachments, Create, TicketNotFound),
    Row(Requester,        Attachments, Create, Allowed),
    Row(Responder,        Attachments, Create, Allowed),
    Row(Subscriber,       Attachments, Create, Allowed),
    Row(Staff,            Attachments, Create, TicketNotFound),
    Row(StaffSuperuser,   Attachments, Create, Allowed),
    Row(Superuser,        Attachments, Create, Allowed),

    // Somebody else's attachment, unless the role is the uploader.
    Row(Auth,             Attachments, Delete, NotFound),
    Row(Requester,        Attachments, Delete, NotFound),
    Row(Responder,        Attachments, Delete, NotFound),
    Row(Subscriber,       Attachments, Delete, NotFound),
    Row(Staff,            Attachments, Delete, NotFound),
    Row(StaffSuperuser,   Attachments, Delete, Allowed),
    Row(Superuser,        Attachments, Delete, Allowed),
    Row(Uploader,         Attachments, Delete, Allowed),
    Row(FormerUploader,   Attachments, Delete, NotFound),

    // ---- downloads (visibility of attachments) ---------------------------------------------
    Row(Auth,             Downloads, Retrieve, NotFound),
    Row(Requester,        Downloads, Retrieve, Allowed),
    Row(Responder,        Downloads, Retrieve, Allowed),
    Row(Subscriber,       Downloads, Retrieve, Allowed),
    Row(Staff,            Downloads, Retrieve, NotFound),
    Row(StaffSuperuser,   Downloads, Retrieve, Allowed),
    Row(Superuser,        Downloads, Retrieve, Allowed),

    // ---- responders ------------------------------------------------------------------------
    Row(Auth,             Responders, List, VisibleOwn),
    Row(Requester,        Responders, List, VisibleOwn),
    Row(Responder,        Responders, List, VisibleOwn),
    Row(Subscriber,       Responders, List, VisibleOwn),
    Row(Staff,            Responders, List, VisibleOwn),
    Row(StaffSuperuser,   Responders, List, VisibleAll),
    Row(Superuser,        Responders, List, VisibleAll),

    Row(Auth,             Responders, Retrieve, NotFound),
    Row(Requester,        Responders, Retrieve, Allowed),
    Row(Responder,        Responders, Retrieve, Allowed),
    Row(Subscriber,       Responders, Retrieve, Allowed),
    Row(Staff,            Responders, Retrieve, NotFound),
    Row(StaffSuperuser,   Responders, Retrieve, Allowed),
    Row(Superuser,        Responders, Retrieve, Allowed),

    Row(Auth,             Responders, Create, TicketNotFound),
    Row(Requester,        Responders, Create, TicketNotFound),
    Row(Responder,        Responders, Create, TicketNotFound),
    Row(Subscriber,       Responders, Create, TicketNotFound),
    Row(Staff,            Responders, Create, TicketNotFound),
    Row(StaffSuperuser,   Responders, Create, Allowed),
    Row(Superuser,        Responders, Create, Allowed),

    // Somebody else's responder row, unless the role is the responder himself.
    Row(Auth,             Responders, Delete, NotFound),
    Row(Requester,        Responders, Delete, NotFound),
    Row(Responder,        Responders, Delete, NotFound),
    Row(Subscriber,       Responders, Delete, NotFound),
    Row(Staff,            Responders, Delete, NotFound),
    Row(StaffSuperuser,   Responders, Delete, Allowed),
    Row(Superuser,        Responders, Delete, Allowed),
    Row(ResponderHimself, Responders, Delete, Allowed),

    // ---- subscribers -----------------------------------------------------------------------
    Row(Auth,             Subscribers, List, VisibleOwn),
    Row(Requester,        Subscribers, List, VisibleOwn),
    Row(Responder,        Subscribers, List, VisibleOwn),
    Row(Subscriber,       Subscribers, List, VisibleOwn),
    Row(Staff,            Subscribers, List, VisibleOwn),
    Row(StaffSuperuser,   Subscribers, List, VisibleAll),
    Row(Superuser,        Subscribers, List, VisibleAll),

    Row(Auth,             Subscribers, Retrieve, NotFound),
    Row(Requester,        Subscribers, Retrieve, Allowed),
    Row(Responder,        Subscribers, Retrieve, Allowed),
    Row(Subscriber,       Subscribers, Retrieve, Allowed),
    Row(Staff,            Subscribers, Retrieve, NotFound),
    Row(StaffSuperuser,   Subscribers, Retrieve, Allowed),
    Row(Superuser,        Subscribers, Retrieve, Allowed),

    // W6: a subscriber may not add other people.
    Row(Auth,             Subscribers, Create, TicketNotFound),
    Row(Requester,        Subscribers, Create, Allowed),
    Row(Responder,        Subscribers, Create, Allowed),
    Row(Subscriber,       Subscribers, Create, TicketNotFound),
    Row(Staff,            Subscribers, Create, TicketNotFound),
    Row(StaffSuperuser,   Subscribers, Create, Allowed),
    Row(Superuser,        Subscribers, Create, Allowed),

    // W6: somebody else's subscription; a subscriber may remove only their own.
    Row(Auth,             Subscribers, Delete, NotFound),
    Row(Requester,        Subscribers, Delete, Allowed),
    Row(Responder,        Subscribers, Delete, Allowed),
    Row(Subscriber,       Subscribers, Delete, NotFound),
    Row(Staff,            Subscribers, Delete, NotFound),
    Row(StaffSuperuser,   Subscribers, Delete, Allowed),
    Row(Superuser,        Subscribers, Delete, Allowed),
    Row(SubscribedUser,   Subscribers, Delete, Allowed),

    // ---- expenses (W5: the desk's finance, staff or superuser, any ticket) -----------------
    Row(Auth,             Expenses, List, VisibleNone),
    Row(Requester,        Expenses, List, VisibleNone),
    Row(Responder,        Expenses, List, VisibleNone),
    Row(Subscriber,       Expenses, List, VisibleNone),
    Row(Staff,            Expenses, List, VisibleAll),
    Row(StaffSuperuser,   Expenses, List, VisibleAll),
    Row(Superuser,        Expenses, List, VisibleAll),

    Row(Auth,             Expenses, Retrieve, NotFound),
    Row(Requester,        Expenses, Retrieve, NotFound),
    Row(Responder,        Expenses, Retrieve, NotFound),
    Row(Subscriber,       Expenses, Retrieve, NotFound),
    Row(Staff,            Expenses, Retrieve, Allowed),
    Row(StaffSuperuser,   Expenses, Retrieve, Allowed),
    Row(Superuser,        Expenses, Retrieve, Allowed),

    Row(Auth,             Expenses, Create, TicketNotFound),
    Row(Requester,        Expenses, Create, TicketNotFound),
    Row(Responder,        Expenses, Create, TicketNotFound),
    Row(Subscriber,       Expenses, Create, TicketNotFound),
    Row(Staff,            Expenses, Create, Allowed),
    Row(StaffSuperuser,   Expenses, Create, Allowed),
    Row(Superuser,        Expenses, Create, Allowed),

    Row(Auth,             Expenses, Update, NotFound),
    Row(Requester,        Expenses, Update, NotFound),
    Row(Responder,        Expenses, Update, NotFound),
    Row(Subscriber,       Expenses, Update, NotFound),
    Row(Staff,            Expenses, Update, Allowed),
    Row(StaffSuperuser,   Expenses, Update, Allowed),
    Row(Superuser,        Expenses, Update, Allowed),

    Row(Auth,             Expenses, Delete, NotFound),
    Row(Requester,        Expenses, Delete, NotFound),
    Row(Responder,        Expenses, Delete, NotFound),
    Row(Subscriber,       Expenses, Delete, NotFound),
    Row(Staff,            Expenses, Delete, Allowed),
    Row(StaffSuperuser,   Expenses, Delete, Allowed),
    Row(Superuser,        Expenses, Delete, Allowed),

    // ---- activities (W8: through their ticket) ---------------------------------------------
    Row(Auth,             Activities, List, VisibleOwn),
    Row(Requester,        Activities, List, VisibleOwn),
    Row(Responder,        Activities, List, VisibleOwn),
    Row(Subscriber,       Activities, List, VisibleOwn),
    Row(Staff,            Activities, List, VisibleOwn),
    Row(StaffSuperuser,   Activities, List, VisibleAll),
    Row(Superuser,        Activities, List, VisibleAll),

    Row(Auth,             Activities, Retrieve, NotFound),
    Row(Requester,        Activities, Retrieve, Allowed),
    Row(Responder,        Activities, Retrieve, Allowed),
    Row(Subscriber,       Activities, Retrieve, Allowed),
    Row(Staff,            Activities, Retrieve, NotFound),
    Row(StaffSuperuser,   Activities, Retrieve, Allowed),
    Row(Superuser,        Activities, Retrieve, Allowed),

    // ---- reviews (read through the review export only; W9) ---------------------------------
    Row(Auth,             Reviews, List, VisibleNone),
    Row(Requester,        Reviews, List, VisibleNone),
    Row(Responder,        Reviews, List, VisibleNone),
    Row(Subscriber,       Reviews, List, VisibleNone),
    Row(Staff,            Reviews, List, VisibleAll),
    Row(StaffSuperuser,   Reviews, List, VisibleAll),
    Row(Superuser,        Reviews, List, VisibleAll),

    // ---- stats and exports (W9: staff or superuser, all rows; others 403) ------------------
    Row(Auth,             Stats, Read, Forbidden),
    Row(Requester,        Stats, Read, Forbidden),
    Row(Responder,        Stats, Read, Forbidden),
    Row(Subscriber,       Stats, Read, Forbidden),
    Row(Staff,            Stats, Read, VisibleAll),
    Row(StaffSuperuser,   Stats, Read, VisibleAll),
    Row(Superuser,        Stats, Read, VisibleAll),

    Row(Auth,             Exports, Read, Forbidden),
    Row(Requester,        Exports, Read, Forbidden),
    Row(Responder,        Exports, Read, Forbidden),
    Row(Subscriber,       Exports, Read, Forbidden),
    Row(Staff,            Exports, Read, VisibleAll),
    Row(StaffSuperuser,   Exports, Read, VisibleAll),
    Row(Superuser,        Exports, Read, VisibleAll),

    // ---- profiles --------------------------------------------------------------------------
    Row(Auth,             Profiles, List, VisibleSelf),
    Row(Staff,            Profiles, List, VisibleSelf),
    Row(StaffSuperuser,   Profiles, List, VisibleActive),
    Row(Superuser,        Profiles, List, VisibleActive),

    Row(Auth,             Profiles, Filter, Ignored),
    Row(Staff,            Profiles, Filter, Ignored),
    Row(StaffSuperuser,   Profiles, Filter, Allowed),
    Row(Superuser,        Profiles, Filter, Allowed),

    Row(Auth,             Profiles, RetrieveOwn, Allowed),
    Row(Staff,            Profiles, RetrieveOwn, Allowed),
    Row(StaffSuperuser,   Profiles, RetrieveOwn, Allowed),
    Row(Superuser,        Profiles, RetrieveOwn, Allowed),

    Row(Auth,             Profiles, RetrieveOther, NotFound),
    Row(Staff,            Profiles, RetrieveOther, NotFound),
    Row(StaffSuperuser,   Profiles, RetrieveOther, Allowed),
    Row(Superuser,        Profiles, RetrieveOther, Allowed),

    Row(Auth,             Profiles, RetrieveInactive, NotFound),
    Row(Staff,            Profiles, RetrieveInactive, NotFound),
    Row(StaffSuperuser,   Profiles, RetrieveInactive, NotFound),
    Row(Superuser,        Profiles, RetrieveInactive, NotFound),

    Row(Auth,             Profiles, UpdateOwn, Allowed),
    Row(Staff,            Profiles, UpdateOwn, Allowed),
    Row(StaffSuperuser,   Profiles, UpdateOwn, Allowed),
    Row(Superuser,        Profiles, UpdateOwn, Allowed),

    Row(Auth,             Profiles, UpdateOther, NotFound),
    Row(Staff,            Profiles, UpdateOther, NotFound),
    Row(StaffSuperuser,   Profiles, UpdateOther, Allowed),
    Row(Superuser,        Profiles, UpdateOther, Allowed),

    Row(Auth,             Profiles, SeeOwnEmail, Shown),
    Row(Staff,            Profiles, SeeOwnEmail, Shown),
    Row(StaffSuperuser,   Profiles, SeeOwnEmail, Shown),
    Row(Superuser,        Profiles, SeeOwnEmail, Shown),

    Row(Auth,             Profiles, SeeOthersEmail, Hidden),
    Row(Staff,            Profiles, SeeOthersEmail, Shown),
    Row(StaffSuperuser,   Profiles, SeeOthersEmail, Shown),
    Row(Superuser,        Profiles, SeeOthersEmail, Shown),
];

// ---- evaluation: what the policy says for one row ------------------------------------------

fn list_outcome(scope: Scope, actor: &Actor) -> Outcome {
    match scope {
        Scope::Everything => VisibleAll,
        Scope::ParticipantOf(id) => {
            assert_eq!(id, actor.id, "a participant scope must be the caller's own");
            VisibleOwn
        }
        Scope::Nothing => VisibleNone,
    }
}

fn decision(result: Result<(), DomainError>) -> Outcome {
    match result {
        Ok(()) => Allowed,
        Err(DomainError::NotFound) => NotFound,
        Err(DomainError::Forbidden) => Forbidden,
        Err(DomainError::TicketNotFound) => TicketNotFound,
        Err(other) => panic!("a policy function answered {other:?}"),
    }
}

fn found(visible: bool) -> Outcome {
    if visible {
        Allowed
    } else {
        NotFound
    }
}

fn shown(visible: bool) -> Outcome {
    if visible {
        Shown
    } else {
        Hidden
    }
}

/// What `desk_domain::policy` decides for `role` doing `action` on `resource`.
fn evaluate(role: Role, resource: Resource, action: Action) -> Outcome {
    let actor = role.actor();
    let relation = role.relation();
    let owner = role.owner();
    let ticket_bound = matches!(
        resource,
        Tickets | Comments | Attachments | Downloads | Responders | Subscribers | Activities
    );
    match (resource, action) {
        (_, List) if ticket_bound => list_outcome(policy::ticket_scope(&actor), &actor),
        (_, Retrieve) if ticket_bound => {
            let visible = policy::ticket_visible(&actor, relation);
            // The list scope and the single-row rule must agree.
            assert_eq!(
                policy::scope_admits(policy::ticket_scope(&actor), relation),
                visible,
                "scope_admits and ticket_visible disagree for {role:?}"
            );
            found(visible)
        }
        (Tickets, Create) => found(policy::may_create_ticket(&actor)),
        (Tickets, ChooseInitialStatus) => {
            if policy::may_set_initial_status(&actor) {
                Allowed
            } else {
                Ignored
            }
        }
        (Tickets, Update) => match policy::ticket_update_rights(&actor, relation) {
            Ok(TicketRights::All) => Allowed,
            Ok(TicketRights::StatusOnly) => AllowedStatusOnly,
            Err(e) => decision(Err(e)),
        },
        (Tickets, FilterLabels) => shown(policy::sees_filter_labels(&actor)),
        (Comments | Attachments, Create) => decision(policy::may_contribute(&actor, relation)),
        (Attachments, Delete) => decision(policy::may_delete_attachment(&actor, relation, owner)),
        (Responders, Create) => decision(policy::may_add_responder(&actor)),
        (Responders, Delete) => decision(policy::may_remove_responder(&actor, relation, owner)),
        (Subscribers, Create) => decision(policy::may_add_subscriber(&actor, relation)),
        (Subscribers, Delete) => {
            decision(policy::may_remove_subscriber(&actor, relation, Some(owner)))
        }
        (Expenses, List) => list_outcome(policy::expense_scope(&actor), &actor),
        (Expenses, Retrieve | Update | Delete) => found(policy::scope_admits(
            policy::expense_scope(&actor),
            relation,
        )),
        (Expenses, Create) => decision(policy::may_create_expense(&actor)),
        (Reviews, List) => list_outcome(policy::review_scope(&actor), &actor),
        (Stats | Exports, Read) => match policy::may_read_reports(&actor) {
            Ok(()) => VisibleAll,
            Err(e) => decision(Err(e)),
        },
        (Profiles, List) => match policy::profile_scope(&actor) {
            ProfileScope::Active => VisibleActive,
            ProfileScope::Only(id) => {
                assert_eq!(id, actor.id, "a profile list of somebody else");
                VisibleSelf
            }
        },
        (Profiles, Filter) => {
            if policy::may_filter_profiles(&actor) {
                Allowed
            } else {
                Ignored
            }
        }
        (Profiles, RetrieveOwn | UpdateOwn) => found(policy::profile_scope_admits(
            policy::profile_scope(&actor),
            ME,
            true,
        )),
        (Profiles, RetrieveOther | UpdateOther) => found(policy::profile_scope_admits(
            policy::profile_scope(&actor),
            OTHER,
            true,
        )),
        (Profiles, RetrieveInactive) => found(policy::profile_scope_admits(
            policy::profile_scope(&actor),
            OTHER,
            false,
        )),
        (Profiles, SeeOwnEmail) => shown(policy::sees_email_of(&actor, ME)),
        (Profiles, SeeOthersEmail) => shown(policy::sees_email_of(&actor, OTHER)),
        _ => panic!("no policy for {action:?} on {resource:?}"),
    }
}

#[test]
fn the_policy_implements_the_authorization_matrix() {
    let mismatches: Vec<String> = MATRIX
        .iter()
        .filter_map(|&Row(role, resource, action, expected)| {
            let actual = evaluate(role, resource, action);
            (actual != expected).then(|| {
                format!(
                    "{role:?} × {resource:?} × {action:?}: expected {expected:?}, got {actual:?}"
                )
            })
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of {} rows disagree with the policy:\n{}",
        mismatches.len(),
        MATRIX.len(),
        mismatches.join("\n")
    );
}

/// Every resource/action lists each role it concerns exactly once.
#[test]
fn the_matrix_is_complete_and_has_no_duplicates() {
    let mut seen = Vec::new();
    for &Row(role, resource, action, _) in MATRIX {
        assert!(
            !seen.contains(&(role, resource, action)),
            "duplicate row {role:?} × {resource:?} × {action:?}"
        );
        seen.push((role, resource, action));
    }
    for (resource, action) in cells() {
        let roles: &[Role] = if resource == Profiles {
            &GLOBAL_ROLES
        } else {
            &BASE_ROLES
        };
        for role in roles {
            assert!(
                seen.contains(&(*role, resource, action)),
                "missing row {role:?} × {resource:?} × {action:?}"
            );
        }
    }
    assert_eq!(
        MATRIX.len(),
        264,
        "rows were added or removed: update this count"
    );
}

// ---- markdown ----------------------------------------------------------------------------

/// The distinct (resource, action) pairs of the table, in table order.
fn cells() -> Vec<(Resource, Action)> {
    let mut out: Vec<(Resource, Action)> = Vec::new();
    for &Row(_, resource, action, _) in MATRIX {
        if !out.contains(&(resource, action)) {
            out.push((resource, action));
        }
    }
    out
}

/// The matrix as a markdown table: one line per resource and action, one column per role;
/// the roles that only some actions concern (uploader, …) go to the last column.
fn policy_table_markdown() -> String {
    let mut md = String::from("| resource | action |");
    for role in BASE_ROLES {
        write!(md, " {} |", role.label()).unwrap();
    }
    md.push_str(" other |\n|---|---|");
    md.push_str(&"---|".repeat(BASE_ROLES.len() + 1));
    md.push('\n');
    for (resource, action) in cells() {
        let outcome_of = |role: Role| {
            MATRIX
                .iter()
                .find(|r| r.0 == role && r.1 == resource && r.2 == action)
                .map(|r| r.3)
        };
        write!(md, "| {} | {} |", resource.label(), action.label()).unwrap();
        for role in BASE_ROLES {
            let cell = outcome_of(role).map_or("", Outcome::label);
            write!(md, " {cell} |").unwrap();
        }
        let others: Vec<String> = MATRIX
            .iter()
            .filter(|r| r.1 == resource && r.2 == action && !BASE_ROLES.contains(&r.0))
            .map(|r| format!("{}: {}", r.0.label(), r.3.label()))
            .collect();
        writeln!(md, " {} |", others.join("; ")).unwrap();
    }
    md.push_str(
        "\nLegend: `ok` 2xx; `404` not found; `403` forbidden; `422T` 422 `Ticket not found.`; \
         `V` the rows of tickets the caller participates in; `all` every row; `none` no row; \
         `ignored` accepted without effect. Staff and superuser columns assume no relation to \
         the ticket; the row acted upon belongs to somebody else unless the column says otherwise.\n",
    );
    md
}

#[test]
fn the_matrix_renders_as_markdown_into_the_target_directory() {
    let md = policy_table_markdown();
    // A header, a separator, one line per resource/action, a blank line and the legend.
    assert_eq!(md.lines().count(), cells().len() + 4);
    assert!(md.contains(
        "| tickets | update | 404 | ok, status only | ok, status only | 403 | 404 | ok | ok |  |"
    ));
    assert!(md.contains("the subscribed user: ok"));

    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    std::fs::create_dir_all(&target).unwrap();
    let path = target.join("policy-table.md");
    std::fs::write(&path, &md).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), md);

    // docs/security.md shows this very table: a change of policy must update the docs.
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/security.md");
    let page = std::fs::read_to_string(docs).unwrap();
    assert!(
        page.contains(md.trim()),
        "docs/security.md no longer matches the policy: paste target/policy-table.md into it"
    );
}

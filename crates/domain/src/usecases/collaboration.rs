//! What the collaboration use cases (comments, responders, subscribers, attachments,
//! activities) share: relationship input, list filters and order, the people and tickets a
//! document includes.

use crate::error::{DomainError, DomainResult, FieldError};
use crate::forms::parse_datetime;
use crate::listing::{Direction, PageRequest, PageSlice, Params, TimeRange};
use crate::model::*;
use crate::policy::{self, Actor, Scope};
use crate::ports::{CollaborationWork, RowFilter, RowOrder};
use crate::usecases::tickets::{ticket_graph, GraphProfiles, TicketGraph};
use std::collections::{BTreeSet, HashMap};

/// A to-one relationship of a request body, as the HTTP layer read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Not in the document (or `null`).
    Absent,
    /// An identifier object with this id (existence not checked yet).
    Id(String),
    /// Present but malformed (a bare id, a wrong type): the error to report.
    Invalid(FieldError),
}

fn does_not_exist(name: &str, id: &str) -> FieldError {
    FieldError::relationship(
        name,
        format!("Invalid pk \"{id}\" - object does not exist."),
        "does_not_exist",
    )
}

fn parse_id(id: &str) -> Option<i32> {
    id.parse::<i32>()
        .ok()
        .filter(|n| *n > 0 && id.bytes().all(|b| b.is_ascii_digit()))
}

/// The ticket a create names, existing anywhere (visibility is decided later, after
/// validation, by the policy: contract §4.2). Pushes the field error when it cannot be used.
pub fn ticket_link(
    uow: &mut impl CollaborationWork,
    link: &Link,
    errors: &mut Vec<FieldError>,
) -> DomainResult<Option<Ticket>> {
    resolve_ticket_link(link, errors, |id| uow.ticket(Scope::Everything, id))
}

/// [`ticket_link`] with how `actor` stands towards the ticket, read together: for the
/// creates whose policy check needs both.
pub fn ticket_link_with_relation(
    uow: &mut impl CollaborationWork,
    link: &Link,
    actor: &Actor,
    errors: &mut Vec<FieldError>,
) -> DomainResult<Option<(Ticket, policy::TicketRelation)>> {
    resolve_ticket_link(link, errors, |id| {
        uow.ticket_with_relation(Scope::Everything, id, actor.id)
    })
}

fn resolve_ticket_link<T>(
    link: &Link,
    errors: &mut Vec<FieldError>,
    find: impl FnOnce(TicketId) -> crate::ports::RepoResult<Option<T>>,
) -> DomainResult<Option<T>> {
    match link {
        Link::Absent => errors.push(FieldError::relationship(
            "ticket",
            "This field is required.",
            "required",
        )),
        Link::Invalid(e) => errors.push(e.clone()),
        Link::Id(raw) => {
            let found = match parse_id(raw) {
                Some(id) => find(TicketId(id))?,
                None => None,
            };
            match found {
                Some(t) => return Ok(Some(t)),
                None => errors.push(does_not_exist("ticket", raw)),
            }
        }
    }
    Ok(None)
}

/// The profile a create names (`user` of responders).
pub fn profile_link(
    uow: &mut impl CollaborationWork,
    name: &str,
    link: &Link,
    errors: &mut Vec<FieldError>,
) -> DomainResult<Option<Profile>> {
    match link {
        Link::Absent => errors.push(FieldError::relationship(
            name,
            "This field is required.",
            "required",
        )),
        Link::Invalid(e) => errors.push(e.clone()),
        Link::Id(raw) => {
            let found = match parse_id(raw) {
                Some(id) => uow.profile(ProfileId(id))?,
                None => None,
            };
            match found {
                Some(p) => return Ok(Some(p)),
                None => errors.push(does_not_exist(name, raw)),
            }
        }
    }
    Ok(None)
}

/// `filter[<key>]` as an id: digits only (anything else is unparsable and ignored, W24); a
/// well-formed id beyond any row still filters (and matches nothing).
pub fn id_param(params: &Params, key: &str) -> Option<i32> {
    let value = params.get(key)?.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(value.parse::<i32>().unwrap_or(i32::MAX))
}

/// `filter[<field>__range]=a,b` (both inclusive); ignored unless both ends parse.
pub fn range_param(params: &Params, key: &str) -> TimeRange {
    let mut range = TimeRange::default();
    if let Some((a, b)) = params.get(key).and_then(|v| v.split_once(',')) {
        if let (Some(a), Some(b)) = (parse_datetime(a.trim()), parse_datetime(b.trim())) {
            range.from = Some(a);
            range.to = Some(b);
        }
    }
    range
}

impl RowFilter {
    /// Reads only the filters `allowed` names (`id`, `ticket`, `user`, `created_at__range`);
    /// others are ignored as the contract says.
    pub fn from_params(params: &Params, allowed: &[&str]) -> RowFilter {
        let has = |name: &str| allowed.contains(&name);
        RowFilter {
            id: has("id").then(|| id_param(params, "filter[id]")).flatten(),
            ticket: has("ticket")
                .then(|| id_param(params, "filter[ticket]"))
                .flatten()
                .map(TicketId),
            user: has("user")
                .then(|| id_param(params, "filter[user]"))
                .flatten()
                .map(ProfileId),
            created_at: if has("created_at__range") {
                range_param(params, "filter[created_at__range]")
            } else {
                TimeRange::default()
            },
        }
    }
}

/// The direction `sort` asks for `field` (the first mention wins), if any.
pub fn sort_direction(params: &Params, field: &str) -> Option<Direction> {
    params
        .get("sort")?
        .split(',')
        .map(str::trim)
        .find_map(|p| match p.strip_prefix('-') {
            Some(rest) if rest == field => Some(Direction::Desc),
            None if p == field => Some(Direction::Asc),
            _ => None,
        })
}

impl RowOrder {
    pub fn from_params(params: &Params) -> RowOrder {
        RowOrder {
            created_at: sort_direction(params, "created_at"),
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed<T> {
    pub rows: Vec<T>,
    pub page: PageSlice,
}

/// Resolves the page of a list of `total` rows.
pub fn page_of(params: &Params, total: i64) -> DomainResult<PageSlice> {
    PageRequest::from_params(params).resolve(total)
}

/// The profiles and tickets a document includes.
#[derive(Debug, Clone, Default)]
pub struct Related {
    pub profiles: HashMap<ProfileId, ProfileView>,
    /// Only tickets the caller may see, in id order.
    pub tickets: Vec<Ticket>,
    pub graph: TicketGraph,
}

/// Loads the named profiles (one query) and the named tickets inside the caller's scope with
/// their graph (a fixed number more); nothing for empty lists.
pub fn related(
    uow: &mut impl CollaborationWork,
    actor: &Actor,
    profiles: impl IntoIterator<Item = ProfileId>,
    tickets: impl IntoIterator<Item = TicketId>,
) -> DomainResult<Related> {
    let ids: Vec<ProfileId> = profiles
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let profiles = if ids.is_empty() {
        HashMap::new()
    } else {
        uow.profile_views(&ids)?
            .into_iter()
            .map(|v| (v.profile.id, v))
            .collect()
    };
    let ticket_ids: Vec<TicketId> = tickets
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let (tickets, graph) = if ticket_ids.is_empty() {
        (Vec::new(), TicketGraph::default())
    } else {
        let mut tickets = uow.tickets_in(policy::ticket_scope(actor), &ticket_ids)?;
        tickets.sort_by_key(|t| t.id);
        // Included tickets show their ticket users; nothing includes their requesters.
        let graph = ticket_graph(uow, &tickets, GraphProfiles::TicketUsers)?;
        (tickets, graph)
    };
    Ok(Related {
        profiles,
        tickets,
        graph,
    })
}

/// A retrieve inside the caller's scope, or 404.
pub fn found<T>(row: Option<T>) -> DomainResult<T> {
    row.ok_or(DomainError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn row_filters_keep_only_allowed_and_well_formed_values() {
        let p = params(&[
            ("filter[id]", "7"),
            ("filter[ticket]", "x"),
            ("filter[user]", "99999999999"),
            ("filter[created_at__range]", "2026-01-01,2026-02-01"),
        ]);
        let f = RowFilter::from_params(&p, &["id", "ticket", "user", "created_at__range"]);
        assert_eq!(f.id, Some(7));
        assert_eq!(f.ticket, None);
        assert_eq!(f.user, Some(ProfileId(i32::MAX)));
        assert!(f.created_at.from.is_some() && f.created_at.to.is_some());
        let only_id = RowFilter::from_params(&p, &["id"]);
        assert_eq!(only_id.user, None);
        assert!(only_id.created_at.is_empty());
    }

    #[test]
    fn sort_reads_the_named_field_only() {
        assert_eq!(
            sort_direction(&params(&[("sort", "bogus,-created_at")]), "created_at"),
            Some(Direction::Desc)
        );
        assert_eq!(
            sort_direction(&params(&[("sort", "created-at")]), "created_at"),
            None
        );
    }
}

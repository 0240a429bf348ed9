//! Pagination, filters and sorting of lists (contract §3.0, §3.1): parsed from the raw query
//! parameters with the contract's leniency (an unparsable value ignores that filter).

use crate::error::DomainError;
use crate::forms::parse_datetime;
use crate::model::{ProfileId, TicketKind, TicketStatus};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

pub const DEFAULT_PAGE_SIZE: i64 = 30;
pub const MAX_PAGE_SIZE: i64 = 100;

/// The query parameters of a request, decoded, empty values already dropped.
pub type Params = BTreeMap<String, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageNumber {
    Number(i64),
    Last,
    Invalid,
}

/// `page[number]` / `page[size]` as requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub number: PageNumber,
    pub size: i64,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            number: PageNumber::Number(1),
            size: DEFAULT_PAGE_SIZE,
        }
    }
}

/// A page resolved against the total row count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSlice {
    pub number: i64,
    pub size: i64,
    pub last: i64,
}

impl PageSlice {
    pub fn offset(&self) -> i64 {
        (self.number - 1) * self.size
    }
}

impl PageRequest {
    pub fn from_params(params: &Params) -> Self {
        let size = match params.get("page[size]").map(|v| v.trim().parse::<i64>()) {
            Some(Ok(n)) if n > 0 => n.min(MAX_PAGE_SIZE),
            _ => DEFAULT_PAGE_SIZE,
        };
        let number = match params.get("page[number]").map(|v| v.trim()) {
            None => PageNumber::Number(1),
            Some("last") => PageNumber::Last,
            Some(v) => match v.parse::<i64>() {
                Ok(n) => PageNumber::Number(n),
                Err(_) => PageNumber::Invalid,
            },
        };
        PageRequest { number, size }
    }

    /// Resolves against `total`; an empty list still has page 1. Out of range → 404 `Invalid page.`.
    pub fn resolve(&self, total: i64) -> Result<PageSlice, DomainError> {
        let last = ((total + self.size - 1) / self.size).max(1);
        let number = match self.number {
            PageNumber::Last => last,
            PageNumber::Number(n) if n >= 1 && n <= last => n,
            _ => return Err(DomainError::InvalidPage),
        };
        Ok(PageSlice {
            number,
            size: self.size,
            last,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketSortField {
    CreatedAt,
    DeadlineAt,
}

/// `sort=-created_at,deadline_at`: only the listed fields, underscored; others dropped.
pub fn ticket_sort(params: &Params) -> Vec<(TicketSortField, Direction)> {
    let Some(raw) = params.get("sort") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (dir, name) = match part.strip_prefix('-') {
            Some(rest) => (Direction::Desc, rest),
            None => (Direction::Asc, part),
        };
        let field = match name {
            "created_at" => TicketSortField::CreatedAt,
            "deadline_at" => TicketSortField::DeadlineAt,
            _ => continue,
        };
        if !out.iter().any(|(f, _)| *f == field) {
            out.push((field, dir));
        }
    }
    out
}

/// An inclusive time window; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl TimeRange {
    pub fn is_empty(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t <= e)
    }

    /// `<field>__range=a,b`, then `__gte`, `__lte` (each ignored when unparsable).
    fn from_params(params: &Params, field: &str) -> Self {
        let mut range = TimeRange::default();
        if let Some((a, b)) = params
            .get(&format!("filter[{field}__range]"))
            .and_then(|v| v.split_once(','))
        {
            if let (Some(a), Some(b)) = (parse_datetime(a.trim()), parse_datetime(b.trim())) {
                range.from = Some(a);
                range.to = Some(b);
            }
        }
        if let Some(t) = params
            .get(&format!("filter[{field}__gte]"))
            .and_then(|v| parse_datetime(v.trim()))
        {
            range.from = Some(range.from.map_or(t, |f| f.max(t)));
        }
        if let Some(t) = params
            .get(&format!("filter[{field}__lte]"))
            .and_then(|v| parse_datetime(v.trim()))
        {
            range.to = Some(range.to.map_or(t, |e| e.min(t)));
        }
        range
    }
}

/// The filters of the ticket list. `status_in` is kept apart: `meta.total` ignores it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketFilter {
    pub created_at: TimeRange,
    pub deadline_at: TimeRange,
    pub kind: Option<TicketKind>,
    pub country: Option<String>,
    pub requester: Option<ProfileId>,
    pub responder: Option<ProfileId>,
    pub has_responder: Option<bool>,
    pub search: Option<String>,
    /// Plain string match: unknown statuses simply match nothing. `None` = no status filter.
    pub status_in: Option<Vec<String>>,
}

/// A relationship filter value: digits name an id (a well-formed id that matches nothing
/// matches no rows, W24); anything else is unparsable and ignored.
fn id_param(params: &Params, key: &str) -> Option<ProfileId> {
    let value = params.get(key)?.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Larger than any id: still "well formed", so it must match nothing.
    Some(ProfileId(value.parse::<i32>().unwrap_or(i32::MAX)))
}

pub fn parse_bool_param(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

impl TicketFilter {
    pub fn from_params(params: &Params) -> Self {
        let search = params
            .get("filter[search]")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        TicketFilter {
            created_at: TimeRange::from_params(params, "created_at"),
            deadline_at: TimeRange::from_params(params, "deadline_at"),
            kind: params
                .get("filter[kind]")
                .and_then(|v| TicketKind::parse(v.trim())),
            country: params
                .get("filter[country]")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
            requester: id_param(params, "filter[requester]"),
            responder: id_param(params, "filter[responders__user]"),
            has_responder: params
                .get("filter[responders__user__isnull]")
                .and_then(|v| parse_bool_param(v))
                .map(|isnull| !isnull),
            search,
            status_in: params.get("filter[status__in]").map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            }),
        }
    }

    /// Whether a status passes the status filter.
    pub fn admits_status(&self, status: TicketStatus) -> bool {
        self.status_in
            .as_ref()
            .is_none_or(|list| list.iter().any(|s| s == status.as_str()))
    }
}

/// Per-status counts of the tickets matching every filter except the status filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusTotals {
    pub new: i64,
    pub in_progress: i64,
    pub pending: i64,
    pub closed: i64,
    pub cancelled: i64,
}

impl StatusTotals {
    pub fn get(&self, status: TicketStatus) -> i64 {
        match status {
            TicketStatus::New => self.new,
            TicketStatus::InProgress => self.in_progress,
            TicketStatus::Pending => self.pending,
            TicketStatus::Closed => self.closed,
            TicketStatus::Cancelled => self.cancelled,
        }
    }
    pub fn add(&mut self, status: TicketStatus, n: i64) {
        match status {
            TicketStatus::New => self.new += n,
            TicketStatus::InProgress => self.in_progress += n,
            TicketStatus::Pending => self.pending += n,
            TicketStatus::Closed => self.closed += n,
            TicketStatus::Cancelled => self.cancelled += n,
        }
    }
    pub fn all(&self) -> i64 {
        TicketStatus::ALL.iter().map(|s| self.get(*s)).sum()
    }
    /// Rows the list itself holds: the totals of the statuses the status filter admits.
    pub fn matching(&self, filter: &TicketFilter) -> i64 {
        TicketStatus::ALL
            .iter()
            .filter(|s| filter.admits_status(**s))
            .map(|s| self.get(*s))
            .sum()
    }
}

/// Filters of the profile list (superusers only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileFilter {
    /// Case-insensitive substring of `first last`.
    pub name: Option<String>,
    pub is_staff: Option<bool>,
    pub is_superuser: Option<bool>,
}

impl ProfileFilter {
    pub fn from_params(params: &Params) -> Self {
        ProfileFilter {
            name: params
                .get("filter[name]")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
            is_staff: params
                .get("filter[is_staff]")
                .and_then(|v| parse_bool_param(v)),
            is_superuser: params
                .get("filter[is_superuser]")
                .and_then(|v| parse_bool_param(v)),
        }
    }
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
    fn page_size_is_clamped_and_defaults() {
        assert_eq!(
            PageRequest::from_params(&params(&[("page[size]", "500")])).size,
            100
        );
        assert_eq!(
            PageRequest::from_params(&params(&[("page[size]", "0")])).size,
            30
        );
        assert_eq!(
            PageRequest::from_params(&params(&[("page[size]", "-3")])).size,
            30
        );
        assert_eq!(
            PageRequest::from_params(&params(&[("page[size]", "x")])).size,
            30
        );
    }

    #[test]
    fn pages_resolve_against_the_total() {
        let req = PageRequest {
            number: PageNumber::Number(1),
            size: 30,
        };
        assert_eq!(req.resolve(0).unwrap().last, 1);
        let last = PageRequest {
            number: PageNumber::Last,
            size: 10,
        };
        assert_eq!(last.resolve(25).unwrap().number, 3);
        assert!(PageRequest {
            number: PageNumber::Number(4),
            size: 10
        }
        .resolve(25)
        .is_err());
        assert!(PageRequest {
            number: PageNumber::Number(0),
            size: 10
        }
        .resolve(25)
        .is_err());
        assert!(PageRequest {
            number: PageNumber::Invalid,
            size: 10
        }
        .resolve(25)
        .is_err());
        assert_eq!(
            PageRequest {
                number: PageNumber::Number(3),
                size: 10
            }
            .resolve(25)
            .unwrap()
            .offset(),
            20
        );
    }

    #[test]
    fn unparsable_filters_are_ignored_but_unknown_ids_are_kept() {
        let f = TicketFilter::from_params(&params(&[
            ("filter[requester]", "none"),
            ("filter[kind]", "bogus"),
            ("filter[responders__user]", "999999"),
            ("filter[created_at__gte]", "not a date"),
            ("filter[responders__user__isnull]", "maybe"),
        ]));
        assert_eq!(f.requester, None);
        assert_eq!(f.kind, None);
        assert_eq!(f.responder, Some(ProfileId(999999)));
        assert!(f.created_at.is_empty());
        assert_eq!(f.has_responder, None);
        let huge = TicketFilter::from_params(&params(&[("filter[requester]", "99999999999999")]));
        assert_eq!(huge.requester, Some(ProfileId(i32::MAX)));
    }

    #[test]
    fn sort_keeps_known_fields_only() {
        let s = ticket_sort(&params(&[(
            "sort",
            "-created_at,deadline-at,bogus,deadline_at",
        )]));
        assert_eq!(
            s,
            vec![
                (TicketSortField::CreatedAt, Direction::Desc),
                (TicketSortField::DeadlineAt, Direction::Asc)
            ]
        );
    }

    #[test]
    fn totals_ignore_the_status_filter_but_the_page_count_does_not() {
        let mut t = StatusTotals::default();
        t.add(TicketStatus::New, 2);
        t.add(TicketStatus::Closed, 3);
        let f = TicketFilter {
            status_in: Some(vec!["new".into(), "bogus".into()]),
            ..Default::default()
        };
        assert_eq!(t.all(), 5);
        assert_eq!(t.matching(&f), 2);
        assert_eq!(t.matching(&TicketFilter::default()), 5);
    }
}

//! The three CSV exports (contract §6.1, W9, W10): staff or superuser, every row matching the
//! parent list's filters (never paginated), columns in the contract's order. Rows come one at
//! a time from an [`ExportSource`] (a database cursor) and go straight to an
//! [`ExportWriter`], so an export of any size runs in constant memory.

use crate::error::DomainResult;
use crate::forms::parse_datetime;
use crate::listing::{ticket_sort, Direction, Params, TicketFilter, TimeRange};
use crate::model::{ProfileId, TicketId};
use crate::policy::{self, Actor, Scope};
use crate::ports::{
    ExpenseExportRow, ExportSource, ExportWriter, ReviewExportRow, TicketExportRow,
};
use chrono::{DateTime, Timelike, Utc};

pub const TICKET_COLUMNS: [&str; 13] = [
    "Link",
    "Email",
    "Date",
    "Deadline",
    "Status",
    "Kind",
    "RequestType",
    "Priority",
    "RequesterCountry",
    "OriginalCountry",
    "ExtraCountries",
    "MemberCenter",
    "Tags",
];

pub const EXPENSE_COLUMNS: [&str; 10] = [
    "Link",
    "Date",
    "Status",
    "Amount",
    "Currency",
    "Rating",
    "Scope",
    "RequesterCountry",
    "OriginalCountry",
    "ExtraCountries",
];

pub const REVIEW_COLUMNS: [&str; 5] = ["Ticket", "Date", "Rating", "Link", "Comment"];

/// Which export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    Tickets,
    Expenses,
    Reviews,
}

impl ExportKind {
    /// The file name's prefix (`tickets-2026-11-22.csv`).
    pub fn prefix(self) -> &'static str {
        match self {
            ExportKind::Tickets => "tickets",
            ExportKind::Expenses => "expenses",
            ExportKind::Reviews => "reviews",
        }
    }

    /// `tickets-YYYY-MM-DD.csv`, dated in UTC.
    pub fn file_name(self, today: DateTime<Utc>) -> String {
        format!("{}-{}.csv", self.prefix(), today.format("%Y-%m-%d"))
    }
}

/// Where `Link`/`Ticket` cells point: `<public URL>/tickets/view/<id>`, never the request's
/// `Host` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkBase(String);

impl LinkBase {
    /// `base` is the configured public URL (a trailing slash is dropped); `None` gives
    /// site-relative links.
    pub fn new(base: Option<&str>) -> Self {
        LinkBase(base.unwrap_or("").trim_end_matches('/').to_string())
    }

    pub fn ticket(&self, id: TicketId) -> String {
        format!("{}/tickets/view/{}", self.0, id.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpenseSortField {
    CreatedAt,
    UpdatedAt,
}

/// The expense list's filters and sort (contract §3.7).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpenseExportFilter {
    pub created_at: TimeRange,
    pub scope: Option<String>,
    pub payment_method: Option<String>,
    pub ticket: Option<TicketId>,
    pub user: Option<ProfileId>,
    pub sort: Vec<(ExpenseSortField, Direction)>,
}

/// The review export's filters: `filter[id]` (contract §6.1) and the created_at window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReviewExportFilter {
    pub id: Option<i32>,
    pub created_at: TimeRange,
    /// `sort=created_at` / `-created_at`; `None` = by id.
    pub created_at_sort: Option<Direction>,
}

/// A well-formed id (digits) that matches nothing still filters (W24); anything else is ignored.
fn id_param(params: &Params, key: &str) -> Option<i32> {
    let value = params.get(key)?.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(value.parse::<i32>().unwrap_or(i32::MAX))
}

fn text_param(params: &Params, key: &str) -> Option<String> {
    params
        .get(key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `filter[created_at__range]=a,b`, `__gte`, `__lte`; unparsable values ignored.
fn created_at_range(params: &Params) -> TimeRange {
    let mut range = TimeRange::default();
    if let Some((a, b)) = params
        .get("filter[created_at__range]")
        .and_then(|v| v.split_once(','))
    {
        if let (Some(a), Some(b)) = (parse_datetime(a), parse_datetime(b)) {
            range.from = Some(a);
            range.to = Some(b);
        }
    }
    if let Some(t) = params
        .get("filter[created_at__gte]")
        .and_then(|v| parse_datetime(v))
    {
        range.from = Some(range.from.map_or(t, |f| f.max(t)));
    }
    if let Some(t) = params
        .get("filter[created_at__lte]")
        .and_then(|v| parse_datetime(v))
    {
        range.to = Some(range.to.map_or(t, |e| e.min(t)));
    }
    range
}

fn sort_fields(params: &Params) -> Vec<(&str, Direction)> {
    let Some(raw) = params.get("sort") else {
        return Vec::new();
    };
    raw.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| match part.strip_prefix('-') {
            Some(rest) => (rest, Direction::Desc),
            None => (part, Direction::Asc),
        })
        .collect()
}

impl ExpenseExportFilter {
    pub fn from_params(params: &Params) -> Self {
        let mut sort = Vec::new();
        for (name, direction) in sort_fields(params) {
            let field = match name {
                "created_at" => ExpenseSortField::CreatedAt,
                "updated_at" => ExpenseSortField::UpdatedAt,
                _ => continue,
            };
            if !sort.iter().any(|(f, _)| *f == field) {
                sort.push((field, direction));
            }
        }
        ExpenseExportFilter {
            created_at: created_at_range(params),
            scope: text_param(params, "filter[scope]"),
            payment_method: text_param(params, "filter[payment_method]"),
            ticket: id_param(params, "filter[ticket]").map(TicketId),
            user: id_param(params, "filter[user]").map(ProfileId),
            sort,
        }
    }
}

impl ReviewExportFilter {
    pub fn from_params(params: &Params) -> Self {
        ReviewExportFilter {
            id: id_param(params, "filter[id]"),
            created_at: created_at_range(params),
            created_at_sort: sort_fields(params)
                .into_iter()
                .find(|(name, _)| *name == "created_at")
                .map(|(_, d)| d),
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS`, plus `.ffffff` when the microseconds are not zero (UTC, no zone).
pub fn format_datetime(t: DateTime<Utc>) -> String {
    let micros = t.nanosecond() / 1_000 % 1_000_000;
    if micros == 0 {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        format!("{}.{micros:06}", t.format("%Y-%m-%d %H:%M:%S"))
    }
}

/// Statistics and exports: staff or superuser (W9); others 403.
pub fn authorize(actor: &Actor) -> DomainResult<()> {
    policy::may_read_reports(actor)
}

/// The ticket export: every ticket (W9) matching the ticket list's filters and sort
/// (`filter[status__in]` and `filter[search]` included). Returns the number of rows.
pub fn export_tickets(
    source: &mut impl ExportSource,
    out: &mut impl ExportWriter,
    actor: &Actor,
    params: &Params,
    links: &LinkBase,
) -> DomainResult<u64> {
    authorize(actor)?;
    let filter = TicketFilter::from_params(params);
    let sort = ticket_sort(params);
    out.write_record(&TICKET_COLUMNS)?;
    let rows = source.ticket_rows(Scope::Everything, &filter, &sort, &mut |row| {
        let cells = ticket_cells(&row, links);
        let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        out.write_record(&refs)
    })?;
    out.finish()?;
    Ok(rows)
}

pub fn ticket_cells(row: &TicketExportRow, links: &LinkBase) -> [String; 13] {
    [
        links.ticket(row.id),
        row.requester_email.clone(),
        format_datetime(row.created_at),
        row.deadline_at.map(format_datetime).unwrap_or_default(),
        row.status.clone(),
        row.kind.clone(),
        row.request_type.clone(),
        row.priority.clone(),
        row.requester_country.clone(),
        row.country.clone().unwrap_or_default(),
        row.countries.join(","),
        row.member_center.clone().unwrap_or_default(),
        row.tags.join(","),
    ]
}

/// The expense export: every expense (W9) matching the expense list's filters and sort.
pub fn export_expenses(
    source: &mut impl ExportSource,
    out: &mut impl ExportWriter,
    actor: &Actor,
    params: &Params,
    links: &LinkBase,
) -> DomainResult<u64> {
    authorize(actor)?;
    let filter = ExpenseExportFilter::from_params(params);
    out.write_record(&EXPENSE_COLUMNS)?;
    let rows = source.expense_rows(&filter, &mut |row| {
        let cells = expense_cells(&row, links);
        let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        out.write_record(&refs)
    })?;
    out.finish()?;
    Ok(rows)
}

pub fn expense_cells(row: &ExpenseExportRow, links: &LinkBase) -> [String; 10] {
    [
        links.ticket(row.ticket_id),
        format_datetime(row.created_at),
        row.ticket_status.clone(),
        row.amount.clone().unwrap_or_default(),
        row.currency.clone(),
        row.rating.to_string(),
        row.scope.clone(),
        row.requester_country.clone(),
        row.ticket_country.clone().unwrap_or_default(),
        row.ticket_countries.join(","),
    ]
}

/// The review export: every review (W9), `filter[id]` and created_at applied.
pub fn export_reviews(
    source: &mut impl ExportSource,
    out: &mut impl ExportWriter,
    actor: &Actor,
    params: &Params,
    links: &LinkBase,
) -> DomainResult<u64> {
    authorize(actor)?;
    let filter = ReviewExportFilter::from_params(params);
    out.write_record(&REVIEW_COLUMNS)?;
    let rows = source.review_rows(&filter, &mut |row| {
        let cells = review_cells(&row, links);
        let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        out.write_record(&refs)
    })?;
    out.finish()?;
    Ok(rows)
}

pub fn review_cells(row: &ReviewExportRow, links: &LinkBase) -> [String; 5] {
    [
        links.ticket(row.ticket_id),
        format_datetime(row.created_at),
        row.rating.to_string(),
        row.link.clone().unwrap_or_default(),
        row.body.clone(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DomainError;
    use chrono::TimeZone;

    #[test]
    fn datetimes_drop_zero_microseconds() {
        let t = Utc.with_ymd_and_hms(2031, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(format_datetime(t), "2031-01-02 03:04:05");
        let t = t + chrono::Duration::microseconds(457_787);
        assert_eq!(format_datetime(t), "2031-01-02 03:04:05.457787");
    }

    #[test]
    fn refused_to_non_staff() {
        let actor = Actor {
            id: ProfileId(1),
            is_staff: false,
            is_superuser: false,
        };
        assert!(matches!(authorize(&actor), Err(DomainError::Forbidden)));
    }

    #[test]
    fn links_use_the_public_url() {
        let base = LinkBase::new(Some("https://desk.example.org/"));
        assert_eq!(
            base.ticket(TicketId(5)),
            "https://desk.example.org/tickets/view/5"
        );
    }

    #[test]
    fn expense_filters() {
        let mut params = Params::new();
        params.insert("filter[scope]".into(), "Registry".into());
        params.insert("filter[ticket]".into(), "7".into());
        params.insert("filter[user]".into(), "x".into());
        params.insert("sort".into(), "-updated_at,bogus".into());
        let f = ExpenseExportFilter::from_params(&params);
        assert_eq!(f.scope.as_deref(), Some("Registry"));
        assert_eq!(f.ticket, Some(TicketId(7)));
        assert_eq!(f.user, None);
        assert_eq!(f.sort, vec![(ExpenseSortField::UpdatedAt, Direction::Desc)]);
    }

    struct Rows(Vec<TicketExportRow>);

    impl ExportSource for Rows {
        fn ticket_rows(
            &mut self,
            scope: Scope,
            _: &TicketFilter,
            _: &[(crate::listing::TicketSortField, Direction)],
            sink: &mut crate::ports::ExportSink<'_, TicketExportRow>,
        ) -> DomainResult<u64> {
            assert_eq!(scope, Scope::Everything, "W9: every row");
            for row in self.0.drain(..) {
                sink(row)?;
            }
            Ok(1)
        }
        fn expense_rows(
            &mut self,
            _: &ExpenseExportFilter,
            _: &mut crate::ports::ExportSink<'_, ExpenseExportRow>,
        ) -> DomainResult<u64> {
            Ok(0)
        }
        fn review_rows(
            &mut self,
            _: &ReviewExportFilter,
            _: &mut crate::ports::ExportSink<'_, ReviewExportRow>,
        ) -> DomainResult<u64> {
            Ok(0)
        }
    }

    #[derive(Default)]
    struct Records(Vec<Vec<String>>, bool);

    impl ExportWriter for Records {
        fn write_record(&mut self, cells: &[&str]) -> Result<(), DomainError> {
            self.0.push(cells.iter().map(|c| c.to_string()).collect());
            Ok(())
        }
        fn finish(&mut self) -> Result<(), DomainError> {
            self.1 = true;
            Ok(())
        }
    }

    #[test]
    fn ticket_export_writes_the_contract_columns_in_order() {
        let created = Utc.with_ymd_and_hms(2026, 11, 22, 6, 15, 31).unwrap()
            + chrono::Duration::microseconds(457_787);
        let mut source = Rows(vec![TicketExportRow {
            id: TicketId(5),
            requester_email: "req@x.org".into(),
            created_at: created,
            deadline_at: Some(Utc.with_ymd_and_hms(2031, 1, 2, 3, 4, 5).unwrap()),
            status: "new".into(),
            kind: "other".into(),
            request_type: "cost_plus".into(),
            priority: "high".into(),
            requester_country: "MD".into(),
            country: Some("TK".into()),
            countries: vec!["MD".into(), "RO".into()],
            member_center: Some("MC1".into()),
            tags: vec!["a".into(), "b".into()],
        }]);
        let mut out = Records::default();
        let staff = Actor {
            id: ProfileId(1),
            is_staff: true,
            is_superuser: false,
        };
        let links = LinkBase::new(Some("https://h"));
        export_tickets(&mut source, &mut out, &staff, &Params::new(), &links).unwrap();
        assert!(out.1, "finished");
        assert_eq!(out.0[0], TICKET_COLUMNS);
        assert_eq!(
            out.0[1],
            [
                "https://h/tickets/view/5",
                "req@x.org",
                "2026-11-22 06:15:31.457787",
                "2031-01-02 03:04:05",
                "new",
                "other",
                "cost_plus",
                "high",
                "MD",
                "TK",
                "MD,RO",
                "MC1",
                "a,b"
            ]
        );
        let plain = Actor {
            is_staff: false,
            ..staff
        };
        let mut out = Records::default();
        assert!(matches!(
            export_tickets(&mut Rows(vec![]), &mut out, &plain, &Params::new(), &links),
            Err(DomainError::Forbidden)
        ));
        assert!(out.0.is_empty(), "nothing written for a refused caller");
    }
}

//! Statistics (contract §6.2, §6.3, CLIENT §9.1; W9, W22, W23): staff and superusers read
//! grouped counts over all tickets and reviews; everybody else gets 403.

use super::collaboration::{id_param, related, Related};
use crate::error::DomainResult;
use crate::forms::parse_datetime;
use crate::listing::{parse_bool_param, Params};
use crate::model::*;
use crate::policy::{self, Actor};
use crate::ports::{
    ReviewStat, ReviewStatsGroup, ReviewStatsQuery, StatsWork, TicketStat, TicketStatsGroup,
    TicketStatsQuery,
};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

/// The start of the default window: the first day of the current month minus 84 days,
/// truncated to the first of that month (any day of November 2026 → 2026-08-01T00:00:00).
pub fn default_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let first = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap_or(now.date_naive());
    let back = first - Duration::days(84);
    NaiveDate::from_ymd_opt(back.year(), back.month(), 1)
        .unwrap_or(back)
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now)
}

/// The grouping: the plain `by` parameter (the original) or `filter[by]` (what the client
/// sends, CLIENT §9.1).
fn grouping(params: &Params) -> Option<&str> {
    params
        .get("by")
        .or_else(|| params.get("filter[by]"))
        .map(|s| s.trim())
}

/// `created_at >=`: `filter[created_at__gte]`, else `filter[startAt]` (the client's review
/// request), else the default window. Unparsable values are ignored.
fn window_start(params: &Params, now: DateTime<Utc>) -> DateTime<Utc> {
    ["filter[created_at__gte]", "filter[startAt]"]
        .iter()
        .find_map(|k| params.get(*k).and_then(|v| parse_datetime(v)))
        .unwrap_or_else(|| default_start(now))
}

fn window_end(params: &Params) -> Option<DateTime<Utc>> {
    params
        .get("filter[created_at__lte]")
        .and_then(|v| parse_datetime(v))
}

impl TicketStatsQuery {
    pub fn from_params(params: &Params, now: DateTime<Utc>) -> TicketStatsQuery {
        TicketStatsQuery {
            group: match grouping(params) {
                Some("country") => TicketStatsGroup::Country,
                Some("responder") => TicketStatsGroup::Responder,
                _ => TicketStatsGroup::Month,
            },
            from: window_start(params, now),
            to: window_end(params),
            country: params
                .get("filter[country]")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
            status_in: params.get("filter[status__in]").map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            }),
            kind: params
                .get("filter[kind]")
                .and_then(|v| TicketKind::parse(v.trim())),
            responder: id_param(params, "filter[responders__user]").map(ProfileId),
            has_responder: params
                .get("filter[responders__user__isnull]")
                .and_then(|v| parse_bool_param(v))
                .map(|isnull| !isnull),
        }
    }
}

impl ReviewStatsQuery {
    pub fn from_params(params: &Params, now: DateTime<Utc>) -> ReviewStatsQuery {
        ReviewStatsQuery {
            // `filter[by]=country` comes from the client's sticky tab: grouped by ticket.
            group: match grouping(params) {
                Some("responder") => ReviewStatsGroup::Responder,
                _ => ReviewStatsGroup::Ticket,
            },
            from: window_start(params, now),
            to: window_end(params),
            ticket: id_param(params, "filter[ticket]").map(TicketId),
            ticket_isnull: params
                .get("filter[ticket__isnull]")
                .and_then(|v| parse_bool_param(v)),
            responder: id_param(params, "filter[ticket__responders__user]").map(ProfileId),
            has_responder: params
                .get("filter[ticket__responders__user__isnull]")
                .and_then(|v| parse_bool_param(v))
                .map(|isnull| !isnull),
        }
    }
}

/// What a statistics document needs: the rows and the included resources.
#[derive(Debug, Clone, Default)]
pub struct Stats<T> {
    pub rows: Vec<T>,
    pub related: Related,
}

/// Ticket statistics; `include_responders` loads the responder profiles (`include=responder`).
pub fn ticket_stats(
    uow: &mut impl StatsWork,
    actor: &Actor,
    now: DateTime<Utc>,
    params: &Params,
    include_responders: bool,
) -> DomainResult<Stats<TicketStat>> {
    policy::may_read_reports(actor)?;
    let rows = uow.ticket_stats(&TicketStatsQuery::from_params(params, now))?;
    let people: Vec<ProfileId> = if include_responders {
        rows.iter().filter_map(|r| r.responder).collect()
    } else {
        Vec::new()
    };
    let related = related(uow, actor, people, Vec::new())?;
    Ok(Stats { rows, related })
}

/// Review statistics; included tickets are only those the caller may see (as everywhere).
pub fn review_stats(
    uow: &mut impl StatsWork,
    actor: &Actor,
    now: DateTime<Utc>,
    params: &Params,
    include_responders: bool,
    include_tickets: bool,
) -> DomainResult<Stats<ReviewStat>> {
    policy::may_read_reports(actor)?;
    let rows = uow.review_stats(&ReviewStatsQuery::from_params(params, now))?;
    let people: Vec<ProfileId> = if include_responders {
        rows.iter().filter_map(|r| r.responder).collect()
    } else {
        Vec::new()
    };
    let tickets: Vec<TicketId> = if include_tickets {
        rows.iter().filter_map(|r| r.ticket).collect()
    } else {
        Vec::new()
    };
    let related = related(uow, actor, people, tickets)?;
    Ok(Stats { rows, related })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_default_window_starts_three_months_back() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap();
        assert_eq!(
            default_start(now),
            Utc.with_ymd_and_hms(2026, 8, 1, 0, 0, 0).unwrap()
        );
        let march = Utc.with_ymd_and_hms(2027, 3, 31, 23, 0, 0).unwrap();
        assert_eq!(
            default_start(march),
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn grouping_and_dates_in_both_spellings() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap();
        let q = TicketStatsQuery::from_params(
            &params(&[
                ("filter[by]", "responder"),
                ("filter[created_at__gte]", "2030-01-01T00:00:00"),
            ]),
            now,
        );
        assert_eq!(q.group, TicketStatsGroup::Responder);
        assert_eq!(q.from, Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap());
        let q = TicketStatsQuery::from_params(&params(&[("by", "country")]), now);
        assert_eq!(q.group, TicketStatsGroup::Country);
        assert_eq!(q.from, default_start(now));
        let r = ReviewStatsQuery::from_params(
            &params(&[
                ("filter[by]", "country"),
                ("filter[startAt]", "2020-05-01T00:00:00"),
            ]),
            now,
        );
        assert_eq!(r.group, ReviewStatsGroup::Ticket);
        assert_eq!(r.from, Utc.with_ymd_and_hms(2020, 5, 1, 0, 0, 0).unwrap());
        let bad = ReviewStatsQuery::from_params(&params(&[("filter[startAt]", "soon")]), now);
        assert_eq!(bad.from, default_start(now));
    }
}

//! `GET /api/v3/ticket-stats` and `GET /api/v3/review-stats` (contract §6.2, §6.3, CLIENT
//! §9.1; W9, W22, W23): staff or superusers, all rows, not paginated. Every grouping value is
//! part of a row's id, so ids are unique (W22).

use super::collab::included;
use super::errors::{ApiError, ApiResult};
use super::method_not_allowed;
use super::render::{
    includes, json_api_response, to_one, CollectionDocument, Rendered, Timestamp, ToOne,
};
use super::request::{check_accept, query_params};
use super::{AppState, Caller};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use desk_domain::ports::{ReviewStat, TicketStat};
use desk_domain::usecases::stats as usecase;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v3/ticket-stats")
            .route(web::get().to(ticket_stats))
            .route(web::head().to(ticket_stats))
            .default_service(web::to(method_not_allowed("GET, HEAD, OPTIONS"))),
    )
    .service(
        web::resource("/api/v3/review-stats")
            .route(web::get().to(review_stats))
            .route(web::head().to(review_stats))
            .default_service(web::to(method_not_allowed("GET, HEAD, OPTIONS"))),
    );
}

/// Lowercase hex SHA-256. Into a stack buffer: `hex::encode`'s char iterator was a tenth
/// of the time of a 20,000-row answer.
fn sha256_hex(text: &str) -> String {
    let mut out = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(text.as_bytes()), &mut out)
        .expect("64 hex digits for 32 bytes");
    std::str::from_utf8(&out)
        .expect("hex digits are ASCII")
        .to_owned()
}

/// The original id (`status + month + responder`) with the country appended (W22); rows
/// grouped by month or responder keep the original's ids.
pub fn ticket_stat_id(row: &TicketStat) -> String {
    let month = row
        .month
        .map(|m| m.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    let responder = row.responder.map(|r| r.to_string()).unwrap_or_default();
    let country = row.country.as_deref().unwrap_or_default();
    sha256_hex(&format!("{}{month}{responder}{country}", row.status))
}

pub fn review_stat_id(row: &ReviewStat) -> String {
    let mut hex = Vec::with_capacity(64);
    push_review_stat_id(&mut hex, row);
    String::from_utf8(hex).expect("hex digits are ASCII")
}

/// Appends the hex SHA-256 of `str(responder id or '') + str(ticket id or '')`, with no
/// allocation of its own.
fn push_review_stat_id(out: &mut Vec<u8>, row: &ReviewStat) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut numbers = itoa::Buffer::new();
    let mut hasher = Sha256::new();
    if let Some(responder) = row.responder {
        hasher.update(numbers.format(responder.0));
    }
    if let Some(ticket) = row.ticket {
        hasher.update(numbers.format(ticket.0));
    }
    for byte in hasher.finalize() {
        out.extend_from_slice(&[HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]]);
    }
}

/// Appends a to-one relationship with a numeric id: `{"data":null}` or
/// `{"data":{"type":"…","id":"<number>"}}`.
fn push_to_one(out: &mut Vec<u8>, kind: &str, id: Option<i32>) {
    let Some(id) = id else {
        out.extend_from_slice(br#"{"data":null}"#);
        return;
    };
    out.extend_from_slice(br#"{"data":{"type":""#);
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(br#"","id":""#);
    out.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
    out.extend_from_slice(br#""}}"#);
}

/// Appends one `review-stats` resource. Written by hand: by ticket an answer has a row per
/// reviewed ticket (20,000 in the benchmark), and serde's maps and string escaping were most
/// of the server's time for it. Every value is a number or hex digits, so nothing needs
/// escaping; a test compares the result with the document built by `serde_json`.
fn push_review_stat(out: &mut Vec<u8>, row: &ReviewStat) {
    let mut numbers = itoa::Buffer::new();
    out.extend_from_slice(br#"{"type":"review-stats","id":""#);
    push_review_stat_id(out, row);
    out.extend_from_slice(br#"","attributes":{"count":"#);
    out.extend_from_slice(numbers.format(row.count).as_bytes());
    out.extend_from_slice(br#","ratings":"#);
    out.extend_from_slice(numbers.format(row.ratings).as_bytes());
    out.extend_from_slice(br#"},"relationships":{"ticket":"#);
    push_to_one(out, "tickets", row.ticket.map(|t| t.0));
    out.extend_from_slice(br#","responder":"#);
    push_to_one(out, "profiles", row.responder.map(|p| p.0));
    out.extend_from_slice(b"}}");
}

/// About what a review-stats row takes (≈ 225 bytes by ticket).
const REVIEW_STAT_BYTES: usize = 240;
/// About what a ticket-stats row takes.
const TICKET_STAT_BYTES: usize = 300;

/// `{"data":[…],"included"?:[…]}` of review statistics.
fn review_stats_body(rows: &[ReviewStat], included: Option<Vec<Rendered>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * REVIEW_STAT_BYTES + 64);
    out.extend_from_slice(br#"{"data":["#);
    for (n, row) in rows.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        push_review_stat(&mut out, row);
    }
    out.push(b']');
    if let Some(included) = included {
        out.extend_from_slice(br#","included":"#);
        serde_json::to_writer(&mut out, &included).expect("documents always serialize");
    }
    out.push(b'}');
    out
}

#[derive(Serialize)]
struct TicketStatAttributes<'a> {
    date: Option<Timestamp<'a>>,
    count: i64,
    status: &'a str,
    country: Option<&'a str>,
    #[serde(rename = "avg-time")]
    avg_time: i64,
    #[serde(rename = "past-deadline")]
    past_deadline: i64,
}

#[derive(Serialize)]
struct ResponderRelationship {
    responder: ToOne,
}

#[derive(Serialize)]
struct TicketStatResource<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    attributes: TicketStatAttributes<'a>,
    relationships: ResponderRelationship,
}

fn ticket_stat_resource(row: &TicketStat) -> TicketStatResource<'_> {
    TicketStatResource {
        kind: "ticket-stats",
        id: ticket_stat_id(row),
        attributes: TicketStatAttributes {
            date: row.month.as_ref().map(Timestamp),
            count: row.count,
            status: &row.status,
            country: row.country.as_deref(),
            avg_time: row.avg_hours,
            past_deadline: row.past_deadline,
        },
        relationships: ResponderRelationship {
            responder: to_one("profiles", row.responder.map(|p| p.0)),
        },
    }
}

/// Serializes a statistic on the blocking pool: by ticket the answer has a row per reviewed
/// ticket (4.5 MB for 20,000), tens of milliseconds during which an HTTP worker thread would
/// serve nobody else. No database connection is held meanwhile.
async fn off_the_worker(render: impl FnOnce() -> Vec<u8> + Send + 'static) -> ApiResult<Vec<u8>> {
    web::block(render).await.map_err(|_| ApiError::Internal)
}

/// Ticket counts per (month | country | responder, status) over all tickets.
#[utoipa::path(get, path = "/api/v3/ticket-stats", tag = "statistics",
    params(("by" = Option<String>, Query, description = "country, responder, else month"),
           ("filter[by]" = Option<String>, Query, description = "same as by (what the client sends)"),
           ("filter[created_at__gte]" = Option<String>, Query, description = "default: first of the month three months back"),
           ("filter[startAt]" = Option<String>, Query, description = "same as filter[created_at__gte]"),
           ("filter[created_at__lte]" = Option<String>, Query), ("filter[country]" = Option<String>, Query),
           ("filter[status__in]" = Option<String>, Query), ("filter[kind]" = Option<String>, Query),
           ("filter[responders__user]" = Option<i32>, Query), ("filter[responders__user__isnull]" = Option<bool>, Query),
           ("include" = Option<String>, Query, description = "responder")),
    responses((status = 200), (status = 400), (status = 401), (status = 403)),
    security(("bearer" = [])))]
pub async fn ticket_stats(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let params = query_params(&req)?;
    let paths = includes(&params, &["responder"])?;
    let with_responders = paths.contains("responder");
    let now = state.clock.now();
    let (actor, stats) = state
        .run(&caller, move |uow, actor| {
            usecase::ticket_stats(uow, actor, now, &params, with_responders)
        })
        .await?;
    let body = off_the_worker(move || {
        let data: Vec<_> = stats.rows.iter().map(ticket_stat_resource).collect();
        let inc = with_responders.then(|| included(&actor, &stats.related));
        CollectionDocument::new(&data, inc).to_body(data.len() * TICKET_STAT_BYTES)
    })
    .await?;
    Ok(json_api_response(StatusCode::OK, body))
}

/// Review counts and rating sums per ticket or per responder over all reviews.
#[utoipa::path(get, path = "/api/v3/review-stats", tag = "statistics",
    params(("by" = Option<String>, Query, description = "responder, else ticket"),
           ("filter[by]" = Option<String>, Query, description = "same as by (what the client sends)"),
           ("filter[created_at__gte]" = Option<String>, Query, description = "default: first of the month three months back"),
           ("filter[startAt]" = Option<String>, Query, description = "same as filter[created_at__gte]"),
           ("filter[created_at__lte]" = Option<String>, Query), ("filter[ticket]" = Option<i32>, Query),
           ("filter[ticket__isnull]" = Option<bool>, Query), ("filter[ticket__responders__user]" = Option<i32>, Query),
           ("filter[ticket__responders__user__isnull]" = Option<bool>, Query),
           ("include" = Option<String>, Query, description = "ticket (only tickets the caller may see), responder")),
    responses((status = 200), (status = 400), (status = 401), (status = 403)),
    security(("bearer" = [])))]
pub async fn review_stats(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let params = query_params(&req)?;
    let paths = includes(&params, &["ticket", "responder"])?;
    let (with_responders, with_tickets) = (paths.contains("responder"), paths.contains("ticket"));
    let now = state.clock.now();
    let (actor, stats) = state
        .run(&caller, move |uow, actor| {
            usecase::review_stats(uow, actor, now, &params, with_responders, with_tickets)
        })
        .await?;
    let body = off_the_worker(move || {
        let inc = (with_responders || with_tickets).then(|| included(&actor, &stats.related));
        review_stats_body(&stats.rows, inc)
    })
    .await?;
    Ok(json_api_response(StatusCode::OK, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use desk_domain::{ProfileId, TicketId};

    fn stat(status: &str) -> TicketStat {
        TicketStat {
            month: None,
            country: None,
            responder: None,
            status: status.into(),
            count: 1,
            avg_hours: 0,
            past_deadline: 0,
        }
    }

    #[test]
    fn ids_keep_the_original_hash_and_add_the_country() {
        let mut month = stat("closed");
        month.month = Some(chrono::Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
        assert_eq!(
            ticket_stat_id(&month),
            sha256_hex("closed2026-11-01 00:00:00")
        );
        assert!(ticket_stat_id(&month).starts_with("654c1f28"));
        let mut responder = stat("new");
        responder.responder = Some(ProfileId(14));
        assert_eq!(ticket_stat_id(&responder), sha256_hex("new14"));
        let (mut ro, mut md) = (stat("new"), stat("new"));
        ro.country = Some("RO".into());
        md.country = Some("MD".into());
        assert_ne!(ticket_stat_id(&ro), ticket_stat_id(&md));
        let review = ReviewStat {
            ticket: Some(TicketId(6)),
            responder: None,
            count: 2,
            ratings: 4,
        };
        assert_eq!(review_stat_id(&review), sha256_hex("6"));
    }

    #[test]
    fn review_stats_written_by_hand_are_the_document_serde_would_write() {
        let rows = [
            ReviewStat {
                ticket: Some(TicketId(6)),
                responder: None,
                count: 2,
                ratings: 4,
            },
            ReviewStat {
                ticket: None,
                responder: Some(ProfileId(2_147_483_647)),
                count: 9_000_000_000,
                ratings: 0,
            },
            ReviewStat {
                ticket: None,
                responder: None,
                count: 1,
                ratings: 3,
            },
        ];
        let expected = |r: &ReviewStat| {
            let to_one = |kind: &str, id: Option<i32>| match id {
                Some(id) => serde_json::json!({"data": {"type": kind, "id": id.to_string()}}),
                None => serde_json::json!({"data": null}),
            };
            serde_json::json!({
                "type": "review-stats",
                "id": review_stat_id(r),
                "attributes": {"count": r.count, "ratings": r.ratings},
                "relationships": {
                    "ticket": to_one("tickets", r.ticket.map(|t| t.0)),
                    "responder": to_one("profiles", r.responder.map(|p| p.0)),
                },
            })
        };
        let included: Vec<Rendered> = vec![serde_json::value::to_raw_value(
            &serde_json::json!({"type": "profiles", "id": "2147483647"}),
        )
        .unwrap()];
        let body = review_stats_body(&rows, Some(included));
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({
                "data": rows.iter().map(expected).collect::<Vec<_>>(),
                "included": [{"type": "profiles", "id": "2147483647"}],
            })
        );
        assert_eq!(review_stat_id(&rows[1]), sha256_hex("2147483647"));
        assert_eq!(review_stat_id(&rows[2]), sha256_hex(""));
        let empty = review_stats_body(&[], None);
        assert_eq!(empty, br#"{"data":[]}"#);
    }
}

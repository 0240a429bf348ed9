//! Rendering JSON:API documents (contract §3.0, §3.1, §3.9): resource objects, includes,
//! pagination links. E-mail hiding comes from the domain policy.

use super::errors::{ApiError, ApiResult};
use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use desk_domain::listing::{PageSlice, Params, StatusTotals};
use desk_domain::policy::{self, Actor};
use desk_domain::usecases::tickets::TicketGraph;
use desk_domain::*;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// `YYYY-MM-DDTHH:MM:SSZ`: seconds precision, literal `Z`.
pub fn datetime(t: &DateTime<Utc>) -> Value {
    Value::String(t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

pub fn opt_datetime(t: &Option<DateTime<Utc>>) -> Value {
    t.as_ref().map(datetime).unwrap_or(Value::Null)
}

fn identifier(kind: &str, id: impl ToString) -> Value {
    json!({"type": kind, "id": id.to_string()})
}

fn to_many(kind: &str, ids: impl IntoIterator<Item = i32>) -> Value {
    let data: Vec<Value> = ids.into_iter().map(|id| identifier(kind, id)).collect();
    json!({"meta": {"count": data.len()}, "data": data})
}

/// A `profiles` resource; `email` is left out unless the viewer may see it.
pub fn profile_resource(viewer: &Actor, view: &ProfileView) -> Value {
    let p = &view.profile;
    let mut attributes = Map::new();
    if policy::sees_email_of(viewer, p.id) {
        attributes.insert("email".into(), json!(p.email));
    }
    attributes.insert("first-name".into(), json!(p.first_name));
    attributes.insert("last-name".into(), json!(p.last_name));
    attributes.insert("is-staff".into(), json!(p.is_staff));
    attributes.insert("is-superuser".into(), json!(p.is_superuser));
    attributes.insert("bio".into(), json!(p.bio));
    attributes.insert("locale".into(), json!(p.locale));
    attributes.insert("tickets-count".into(), json!(view.tickets_count));
    json!({"type": "profiles", "id": p.id.to_string(), "attributes": attributes})
}

/// The nested `users` attribute of tickets: plain objects, underscore keys, numeric ids (W33).
fn nested_user(viewer: &Actor, view: &ProfileView) -> Value {
    let p = &view.profile;
    let mut user = Map::new();
    user.insert("id".into(), json!(p.id.0));
    if policy::sees_email_of(viewer, p.id) {
        user.insert("email".into(), json!(p.email));
    }
    user.insert("first_name".into(), json!(p.first_name));
    user.insert("last_name".into(), json!(p.last_name));
    user.insert("is_staff".into(), json!(p.is_staff));
    user.insert("is_superuser".into(), json!(p.is_superuser));
    user.insert("bio".into(), json!(p.bio));
    user.insert("locale".into(), json!(p.locale));
    user.insert("tickets_count".into(), json!(view.tickets_count));
    Value::Object(user)
}

pub fn ticket_resource(viewer: &Actor, ticket: &Ticket, graph: &TicketGraph) -> Value {
    let users: Vec<Value> = graph
        .ticket_users(ticket.id)
        .iter()
        .filter_map(|id| graph.profiles.get(id))
        .map(|view| nested_user(viewer, view))
        .collect();
    let responders: Vec<&Responder> = graph.responders_of(ticket.id).collect();
    let subscribers: Vec<&Subscriber> = graph.subscribers_of(ticket.id).collect();
    let responder_users: BTreeSet<i32> = responders.iter().map(|r| r.user_id.0).collect();
    let subscriber_users: BTreeSet<i32> = subscribers
        .iter()
        .filter_map(|s| s.user_id.map(|u| u.0))
        .collect();
    json!({
        "type": "tickets",
        "id": ticket.id.to_string(),
        "attributes": {
            "users": users,
            "kind": ticket.kind.as_str(),
            "request-type": ticket.request_type.as_str(),
            "status": ticket.status.as_str(),
            "priority": ticket.priority.as_str(),
            "sensitive": ticket.sensitive,
            "whysensitive": ticket.whysensitive,
            "deadline-at": opt_datetime(&ticket.deadline_at),
            "created-at": datetime(&ticket.created_at),
            "updated-at": datetime(&ticket.updated_at),
            "member-center": ticket.member_center,
            "identifier": ticket.identifier,
            "countries": ticket.countries,
            "tags": ticket.tags,
            "background": ticket.background,
            "first-name": ticket.first_name,
            "last-name": ticket.last_name,
            "born-at": opt_datetime(&ticket.born_at),
            "connections": ticket.connections,
            "sources": ticket.sources,
            "business-activities": ticket.business_activities,
            "initial-information": ticket.initial_information,
            "company-name": ticket.company_name,
            "country": ticket.country,
            "reopen-reason": null,
            "pending-reason": null,
        },
        "relationships": {
            "responders": to_many("responders", responders.iter().map(|r| r.id.0)),
            "subscribers": to_many("subscribers", subscribers.iter().map(|s| s.id.0)),
            "requester": {"data": identifier("profiles", ticket.requester_id)},
            "responder-users": to_many("profiles", responder_users),
            "subscriber-users": to_many("profiles", subscriber_users),
        }
    })
}

pub fn responder_resource(r: &Responder) -> Value {
    json!({
        "type": "responders",
        "id": r.id.to_string(),
        "attributes": {},
        "relationships": {
            "ticket": {"data": identifier("tickets", r.ticket_id)},
            "user": {"data": identifier("profiles", r.user_id)},
        }
    })
}

pub fn subscriber_resource(s: &Subscriber) -> Value {
    json!({
        "type": "subscribers",
        "id": s.id.to_string(),
        "attributes": {"email": s.email},
        "relationships": {
            "ticket": {"data": identifier("tickets", s.ticket_id)},
            "user": {"data": s.user_id.map(|u| identifier("profiles", u))},
        }
    })
}

/// The include paths a ticket document supports.
const TICKET_INCLUDES: &[&str] = &[
    "requester",
    "responders",
    "subscribers",
    "responder-users",
    "subscriber-users",
    "responders.user",
    "responders.ticket",
    "subscribers.user",
    "subscribers.ticket",
];

/// Parses `include=`; an unsupported path → 400 (W16).
pub fn includes(params: &Params, supported: &[&str]) -> ApiResult<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    if let Some(raw) = params.get("include") {
        for path in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if !supported.contains(&path) {
                return Err(ApiError::BadRequest {
                    detail: format!(
                        "This endpoint does not support the include parameter for path {path}"
                    ),
                    code: "invalid",
                });
            }
            out.insert(path.to_string());
        }
    }
    Ok(out)
}

pub fn ticket_includes(params: &Params) -> ApiResult<BTreeSet<String>> {
    includes(params, TICKET_INCLUDES)
}

/// The `included` member of a ticket document: de-duplicated by type and id, in a stable order.
pub fn ticket_included(
    viewer: &Actor,
    tickets: &[Ticket],
    graph: &TicketGraph,
    paths: &BTreeSet<String>,
) -> Vec<Value> {
    let has = |p: &str| paths.contains(p);
    let mut seen = BTreeSet::new();
    let mut included = Vec::new();
    let mut push = |kind: &'static str, id: i32, value: Value| {
        if seen.insert((kind, id)) {
            included.push(value);
        }
    };
    let profile = |id: ProfileId| graph.profiles.get(&id).map(|v| profile_resource(viewer, v));
    for ticket in tickets {
        if has("requester") {
            if let Some(p) = profile(ticket.requester_id) {
                push("profiles", ticket.requester_id.0, p);
            }
        }
        for r in graph.responders_of(ticket.id) {
            if has("responders") || has("responders.user") || has("responders.ticket") {
                push("responders", r.id.0, responder_resource(r));
            }
            if has("responders.user") || has("responder-users") {
                if let Some(p) = profile(r.user_id) {
                    push("profiles", r.user_id.0, p);
                }
            }
        }
        for s in graph.subscribers_of(ticket.id) {
            if has("subscribers") || has("subscribers.user") || has("subscribers.ticket") {
                push("subscribers", s.id.0, subscriber_resource(s));
            }
            if let Some(user) = s
                .user_id
                .filter(|_| has("subscribers.user") || has("subscriber-users"))
            {
                if let Some(p) = profile(user) {
                    push("profiles", user.0, p);
                }
            }
        }
    }
    // `responders.ticket` / `subscribers.ticket` name the primary tickets themselves, which a
    // compound document does not repeat: nothing more to add for them.
    included
}

pub fn totals_meta(totals: &StatusTotals) -> Value {
    let mut total = Map::new();
    for status in TicketStatus::ALL {
        total.insert(status.as_str().into(), json!(totals.get(*status)));
    }
    total.insert("all".into(), json!(totals.all()));
    Value::Object(total)
}

/// The absolute base of the request (scheme and host, honouring `X-Forwarded-*`).
fn request_base(req: &HttpRequest) -> String {
    let info = req.connection_info();
    let scheme = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(',').next().unwrap_or("").trim().to_string())
        .filter(|s| s == "http" || s == "https")
        .unwrap_or_else(|| info.scheme().to_string());
    let host = req
        .headers()
        .get("x-forwarded-host")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(',').next().unwrap_or("").trim().to_string())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(|| info.host().to_string());
    format!("{scheme}://{host}")
}

/// Keeps a decoded value readable (brackets, commas, colons literal) while characters that
/// would break the URL stay encoded; a space shows as `+`.
fn link_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            ' ' => out.push('+'),
            '%' => out.push_str("%25"),
            '&' => out.push_str("%26"),
            '#' => out.push_str("%23"),
            '+' => out.push_str("%2B"),
            '=' => out.push_str("%3D"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// `first`/`last`/`next`/`prev` with a literal `page[number]`, parameters sorted by key;
/// absent links are `null` (W21).
pub fn pagination_links(req: &HttpRequest, params: &Params, page: &PageSlice) -> Value {
    let base = format!("{}{}", request_base(req), req.path());
    let link = |number: i64| {
        let mut p = params.clone();
        p.insert("page[number]".into(), number.to_string());
        let query: Vec<String> = p
            .iter()
            .map(|(k, v)| format!("{}={}", link_component(k), link_component(v)))
            .collect();
        Value::String(format!("{base}?{}", query.join("&")))
    };
    json!({
        "first": link(1),
        "last": link(page.last),
        "next": if page.number < page.last { link(page.number + 1) } else { Value::Null },
        "prev": if page.number > 1 { link(page.number - 1) } else { Value::Null },
    })
}

/// `/me` meta: the configured lists, sorted.
pub fn me_meta(member_centers: &[String], expense_scopes: &[String]) -> Value {
    let sorted = |list: &[String]| {
        let mut l = list.to_vec();
        l.sort();
        l
    };
    json!({"member-centers": sorted(member_centers), "expense-scopes": sorted(expense_scopes)})
}

/// An absolute URL on this server for `path` (request scheme and host, as pagination links).
pub fn absolute_url(req: &HttpRequest, path: &str) -> String {
    format!("{}{path}", request_base(req))
}

pub fn comment_resource(c: &Comment) -> Value {
    json!({
        "type": "comments",
        "id": c.id.to_string(),
        "attributes": {"body": c.body, "created-at": datetime(&c.created_at)},
        "relationships": {
            "user": {"data": identifier("profiles", c.user_id)},
            "ticket": {"data": identifier("tickets", c.ticket_id)},
        }
    })
}

/// `upload` is the absolute download URL of the attachment (never the storage key).
pub fn attachment_resource(req: &HttpRequest, a: &Attachment) -> Value {
    json!({
        "type": "attachments",
        "id": a.id.to_string(),
        "attributes": {
            "upload": absolute_url(req, &format!("/api/v3/download/{}", a.id)),
            "file-name": a.file_name,
            "file-size": a.file_size,
            "mime-type": a.mime_type,
            "created-at": datetime(&a.created_at),
        },
        "relationships": {
            "user": {"data": identifier("profiles", a.user_id)},
            "ticket": {"data": identifier("tickets", a.ticket_id)},
        }
    })
}

/// An activity with all six relationships in the contract's order; an action object that
/// no longer exists renders as null, a profile action object as `responder-user` (W27).
pub fn activity_resource(
    a: &desk_domain::activity::Activity,
    objects: &desk_domain::usecases::activities::TimelineObjects,
) -> Value {
    use desk_domain::activity::ActionObject;
    let linked = |kind: &str, id: Option<i32>| match id {
        Some(id) => json!({"data": identifier(kind, id)}),
        None => json!({"data": null}),
    };
    let (mut attachment, mut comment, mut expense, mut responder_user) = (None, None, None, None);
    match a.action {
        Some(ActionObject::Attachment(id)) if objects.attachments.contains(&id) => {
            attachment = Some(id.0)
        }
        Some(ActionObject::Comment(id)) if objects.comments.contains_key(&id) => {
            comment = Some(id.0)
        }
        Some(ActionObject::Expense(id)) if objects.expenses.contains(&id) => expense = Some(id.0),
        Some(ActionObject::Profile(id)) if objects.profiles.contains_key(&id) => {
            responder_user = Some(id.0)
        }
        _ => {}
    }
    json!({
        "type": "activities",
        "id": a.id.to_string(),
        "attributes": {"verb": a.verb, "created-at": datetime(&a.timestamp)},
        "relationships": {
            "user": linked("profiles", a.actor.map(|p| p.0)),
            "ticket": linked("tickets", Some(a.ticket.0)),
            "attachment": linked("attachments", attachment),
            "comment": linked("comments", comment),
            "expense": linked("expenses", expense),
            "responder-user": linked("profiles", responder_user),
        }
    })
}

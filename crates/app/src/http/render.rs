//! Rendering JSON:API documents (contract §3.0, §3.1, §3.9): resource objects, includes,
//! pagination links. E-mail hiding comes from the domain policy.

use super::errors::{ApiError, ApiResult};
use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use desk_domain::listing::{PageSlice, Params, StatusTotals};
use desk_domain::policy::{self, Actor};
use desk_domain::usecases::tickets::TicketGraph;
use desk_domain::*;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// A resource object already serialized: documents are assembled from these without
/// building (and copying) a `serde_json::Value` tree per resource, which took most of the
/// CPU time of a ticket list.
pub type Rendered = Box<RawValue>;

/// Serializes a resource once. Resources are plain data (string keys, no custom
/// serializers), for which serde_json cannot fail.
pub fn rendered<T: Serialize + ?Sized>(resource: &T) -> Rendered {
    serde_json::value::to_raw_value(resource).expect("resource objects always serialize")
}

/// `YYYY-MM-DDTHH:MM:SSZ`: seconds precision, literal `Z`.
pub fn datetime(t: &DateTime<Utc>) -> Value {
    Value::String(t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// A timestamp serialized as [`datetime`] renders it, without an intermediate `Value`.
#[derive(Clone, Copy)]
pub struct Timestamp<'a>(pub &'a DateTime<Utc>);

impl Serialize for Timestamp<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.format("%Y-%m-%dT%H:%M:%SZ"))
    }
}

fn opt_timestamp(t: &Option<DateTime<Utc>>) -> Option<Timestamp<'_>> {
    t.as_ref().map(Timestamp)
}

/// `{"type", "id"}`: a resource identifier object (ids are strings on the wire).
#[derive(Serialize)]
pub struct Identifier {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
}

fn identifier(kind: &'static str, id: impl ToString) -> Identifier {
    Identifier {
        kind,
        id: id.to_string(),
    }
}

/// A to-one relationship: `{"data": identifier | null}`.
#[derive(Serialize)]
pub struct ToOne {
    data: Option<Identifier>,
}

pub fn to_one(kind: &'static str, id: Option<i32>) -> ToOne {
    ToOne {
        data: id.map(|id| identifier(kind, id)),
    }
}

#[derive(Serialize)]
struct Count {
    count: usize,
}

/// A to-many relationship with its `meta.count`.
#[derive(Serialize)]
struct ToMany {
    meta: Count,
    data: Vec<Identifier>,
}

fn to_many(kind: &'static str, ids: impl IntoIterator<Item = i32>) -> ToMany {
    let data: Vec<Identifier> = ids.into_iter().map(|id| identifier(kind, id)).collect();
    ToMany {
        meta: Count { count: data.len() },
        data,
    }
}

#[derive(Serialize)]
struct ProfileAttributes<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(rename = "first-name")]
    first_name: &'a str,
    #[serde(rename = "last-name")]
    last_name: &'a str,
    #[serde(rename = "is-staff")]
    is_staff: bool,
    #[serde(rename = "is-superuser")]
    is_superuser: bool,
    bio: &'a Option<String>,
    locale: &'a str,
    #[serde(rename = "tickets-count")]
    tickets_count: i64,
}

/// A `profiles` resource object.
#[derive(Serialize)]
pub struct ProfileResource<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    attributes: ProfileAttributes<'a>,
}

/// A `profiles` resource; `email` is left out unless the viewer may see it.
pub fn profile_resource<'a>(viewer: &Actor, view: &'a ProfileView) -> ProfileResource<'a> {
    let p = &view.profile;
    ProfileResource {
        kind: "profiles",
        id: p.id.to_string(),
        attributes: ProfileAttributes {
            email: policy::sees_email_of(viewer, p.id).then_some(p.email.as_str()),
            first_name: &p.first_name,
            last_name: &p.last_name,
            is_staff: p.is_staff,
            is_superuser: p.is_superuser,
            bio: &p.bio,
            locale: &p.locale,
            tickets_count: view.tickets_count,
        },
    }
}

/// The nested `users` attribute of tickets: plain objects, underscore keys, numeric ids (W33).
#[derive(Serialize)]
struct NestedUser<'a> {
    id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    first_name: &'a str,
    last_name: &'a str,
    is_staff: bool,
    is_superuser: bool,
    bio: &'a Option<String>,
    locale: &'a str,
    tickets_count: i64,
}

fn nested_user<'a>(viewer: &Actor, view: &'a ProfileView) -> NestedUser<'a> {
    let p = &view.profile;
    NestedUser {
        id: p.id.0,
        email: policy::sees_email_of(viewer, p.id).then_some(p.email.as_str()),
        first_name: &p.first_name,
        last_name: &p.last_name,
        is_staff: p.is_staff,
        is_superuser: p.is_superuser,
        bio: &p.bio,
        locale: &p.locale,
        tickets_count: view.tickets_count,
    }
}

#[derive(Serialize)]
struct TicketAttributes<'a> {
    users: Vec<NestedUser<'a>>,
    kind: &'static str,
    #[serde(rename = "request-type")]
    request_type: &'static str,
    status: &'static str,
    priority: &'static str,
    sensitive: bool,
    whysensitive: &'a Option<String>,
    #[serde(rename = "deadline-at")]
    deadline_at: Option<Timestamp<'a>>,
    #[serde(rename = "created-at")]
    created_at: Timestamp<'a>,
    #[serde(rename = "updated-at")]
    updated_at: Timestamp<'a>,
    #[serde(rename = "member-center")]
    member_center: &'a Option<String>,
    identifier: &'a Option<String>,
    countries: &'a [String],
    tags: &'a [String],
    background: &'a str,
    #[serde(rename = "first-name")]
    first_name: &'a Option<String>,
    #[serde(rename = "last-name")]
    last_name: &'a Option<String>,
    #[serde(rename = "born-at")]
    born_at: Option<Timestamp<'a>>,
    connections: &'a Option<String>,
    sources: &'a Option<String>,
    #[serde(rename = "business-activities")]
    business_activities: &'a Option<String>,
    #[serde(rename = "initial-information")]
    initial_information: &'a Option<String>,
    #[serde(rename = "company-name")]
    company_name: &'a Option<String>,
    country: &'a Option<String>,
    /// Write-only (the reason travels as a comment): always null when read.
    #[serde(rename = "reopen-reason")]
    reopen_reason: Option<()>,
    #[serde(rename = "pending-reason")]
    pending_reason: Option<()>,
}

#[derive(Serialize)]
struct TicketRelationships {
    responders: ToMany,
    subscribers: ToMany,
    requester: ToOne,
    #[serde(rename = "responder-users")]
    responder_users: ToMany,
    #[serde(rename = "subscriber-users")]
    subscriber_users: ToMany,
}

/// A `tickets` resource object.
#[derive(Serialize)]
pub struct TicketResource<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    attributes: TicketAttributes<'a>,
    relationships: TicketRelationships,
}

pub fn ticket_resource<'a>(
    viewer: &Actor,
    ticket: &'a Ticket,
    graph: &'a TicketGraph,
) -> TicketResource<'a> {
    let users = graph
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
    TicketResource {
        kind: "tickets",
        id: ticket.id.to_string(),
        attributes: TicketAttributes {
            users,
            kind: ticket.kind.as_str(),
            request_type: ticket.request_type.as_str(),
            status: ticket.status.as_str(),
            priority: ticket.priority.as_str(),
            sensitive: ticket.sensitive,
            whysensitive: &ticket.whysensitive,
            deadline_at: opt_timestamp(&ticket.deadline_at),
            created_at: Timestamp(&ticket.created_at),
            updated_at: Timestamp(&ticket.updated_at),
            member_center: &ticket.member_center,
            identifier: &ticket.identifier,
            countries: &ticket.countries,
            tags: &ticket.tags,
            background: &ticket.background,
            first_name: &ticket.first_name,
            last_name: &ticket.last_name,
            born_at: opt_timestamp(&ticket.born_at),
            connections: &ticket.connections,
            sources: &ticket.sources,
            business_activities: &ticket.business_activities,
            initial_information: &ticket.initial_information,
            company_name: &ticket.company_name,
            country: &ticket.country,
            reopen_reason: None,
            pending_reason: None,
        },
        relationships: TicketRelationships {
            responders: to_many("responders", responders.iter().map(|r| r.id.0)),
            subscribers: to_many("subscribers", subscribers.iter().map(|s| s.id.0)),
            requester: to_one("profiles", Some(ticket.requester_id.0)),
            responder_users: to_many("profiles", responder_users),
            subscriber_users: to_many("profiles", subscriber_users),
        },
    }
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct RowRelationships {
    ticket: ToOne,
    user: ToOne,
}

#[derive(Serialize)]
struct ResponderResource {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    attributes: Empty,
    relationships: RowRelationships,
}

pub fn responder_resource(r: &Responder) -> Rendered {
    rendered(&ResponderResource {
        kind: "responders",
        id: r.id.to_string(),
        attributes: Empty {},
        relationships: RowRelationships {
            ticket: to_one("tickets", Some(r.ticket_id.0)),
            user: to_one("profiles", Some(r.user_id.0)),
        },
    })
}

#[derive(Serialize)]
struct SubscriberAttributes<'a> {
    email: &'a Option<String>,
}

#[derive(Serialize)]
struct SubscriberResource<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    attributes: SubscriberAttributes<'a>,
    relationships: RowRelationships,
}

pub fn subscriber_resource(s: &Subscriber) -> Rendered {
    rendered(&SubscriberResource {
        kind: "subscribers",
        id: s.id.to_string(),
        attributes: SubscriberAttributes { email: &s.email },
        relationships: RowRelationships {
            ticket: to_one("tickets", Some(s.ticket_id.0)),
            user: to_one("profiles", s.user_id.map(|u| u.0)),
        },
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
) -> Vec<Rendered> {
    let has = |p: &str| paths.contains(p);
    let mut included = Included::default();
    let profile = |id: ProfileId| {
        graph
            .profiles
            .get(&id)
            .map(|v| rendered(&profile_resource(viewer, v)))
    };
    for ticket in tickets {
        if has("requester") {
            included.add("profiles", ticket.requester_id.0, || {
                profile(ticket.requester_id)
            });
        }
        for r in graph.responders_of(ticket.id) {
            if has("responders") || has("responders.user") || has("responders.ticket") {
                included.add("responders", r.id.0, || Some(responder_resource(r)));
            }
            if has("responders.user") || has("responder-users") {
                included.add("profiles", r.user_id.0, || profile(r.user_id));
            }
        }
        for s in graph.subscribers_of(ticket.id) {
            if has("subscribers") || has("subscribers.user") || has("subscribers.ticket") {
                included.add("subscribers", s.id.0, || Some(subscriber_resource(s)));
            }
            if let Some(user) = s
                .user_id
                .filter(|_| has("subscribers.user") || has("subscriber-users"))
            {
                included.add("profiles", user.0, || profile(user));
            }
        }
    }
    // `responders.ticket` / `subscribers.ticket` name the primary tickets themselves, which a
    // compound document does not repeat: nothing more to add for them.
    included.resources
}

/// Included resources, each once, in the order first named.
#[derive(Default)]
struct Included {
    seen: BTreeSet<(&'static str, i32)>,
    resources: Vec<Rendered>,
}

impl Included {
    /// Adds `(kind, id)` unless already there; rendered only then (a requester's list names
    /// the same profile on every ticket).
    fn add(&mut self, kind: &'static str, id: i32, render: impl FnOnce() -> Option<Rendered>) {
        if self.seen.contains(&(kind, id)) {
            return;
        }
        if let Some(resource) = render() {
            self.seen.insert((kind, id));
            self.resources.push(resource);
        }
    }
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

#[derive(Serialize)]
struct CommentAttributes<'a> {
    body: &'a str,
    #[serde(rename = "created-at")]
    created_at: Timestamp<'a>,
}

#[derive(Serialize)]
struct OwnedRowRelationships {
    user: ToOne,
    ticket: ToOne,
}

#[derive(Serialize)]
struct CommentResource<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    attributes: CommentAttributes<'a>,
    relationships: OwnedRowRelationships,
}

pub fn comment_resource(c: &Comment) -> Rendered {
    rendered(&CommentResource {
        kind: "comments",
        id: c.id.to_string(),
        attributes: CommentAttributes {
            body: &c.body,
            created_at: Timestamp(&c.created_at),
        },
        relationships: OwnedRowRelationships {
            user: to_one("profiles", Some(c.user_id.0)),
            ticket: to_one("tickets", Some(c.ticket_id.0)),
        },
    })
}

/// `upload` is the absolute download URL of the attachment (never the storage key).
pub fn attachment_resource(req: &HttpRequest, a: &Attachment) -> Rendered {
    rendered(&json!({
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
            "user": to_one("profiles", Some(a.user_id.0)),
            "ticket": to_one("tickets", Some(a.ticket_id.0)),
        }
    }))
}

#[derive(Serialize)]
struct ActivityAttributes<'a> {
    verb: &'a str,
    #[serde(rename = "created-at")]
    created_at: Timestamp<'a>,
}

#[derive(Serialize)]
struct ActivityRelationships {
    user: ToOne,
    ticket: ToOne,
    attachment: ToOne,
    comment: ToOne,
    expense: ToOne,
    #[serde(rename = "responder-user")]
    responder_user: ToOne,
}

#[derive(Serialize)]
struct ActivityResource<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    attributes: ActivityAttributes<'a>,
    relationships: ActivityRelationships,
}

/// An activity with all six relationships in the contract's order; an action object that
/// no longer exists renders as null, a profile action object as `responder-user` (W27).
pub fn activity_resource(
    a: &desk_domain::activity::Activity,
    objects: &desk_domain::usecases::activities::TimelineObjects,
) -> Rendered {
    use desk_domain::activity::ActionObject;
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
    rendered(&ActivityResource {
        kind: "activities",
        id: a.id.to_string(),
        attributes: ActivityAttributes {
            verb: &a.verb,
            created_at: Timestamp(&a.timestamp),
        },
        relationships: ActivityRelationships {
            user: to_one("profiles", a.actor.map(|p| p.0)),
            ticket: to_one("tickets", Some(a.ticket.0)),
            attachment: to_one("attachments", attachment),
            comment: to_one("comments", comment),
            expense: to_one("expenses", expense),
            responder_user: to_one("profiles", responder_user),
        },
    })
}

/// The primary data of a document: one resource, a list, or `null`.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Data {
    One(Rendered),
    Many(Vec<Rendered>),
}

/// A JSON:API document assembled from rendered resources, serialized once in the order
/// `links`, `data`, `included`, `meta`; absent members are left out.
#[derive(Serialize)]
pub struct Document {
    #[serde(skip_serializing_if = "Option::is_none")]
    links: Option<Value>,
    data: Data,
    #[serde(skip_serializing_if = "Option::is_none")]
    included: Option<Vec<Rendered>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<Value>,
}

impl Document {
    pub fn one(data: Rendered) -> Document {
        Document::with_data(Data::One(data))
    }
    pub fn many(data: Vec<Rendered>) -> Document {
        Document::with_data(Data::Many(data))
    }
    fn with_data(data: Data) -> Document {
        Document {
            links: None,
            data,
            included: None,
            meta: None,
        }
    }
    pub fn links(mut self, links: Value) -> Document {
        self.links = Some(links);
        self
    }
    pub fn included(mut self, included: Option<Vec<Rendered>>) -> Document {
        self.included = included;
        self
    }
    pub fn meta(mut self, meta: Value) -> Document {
        self.meta = Some(meta);
        self
    }
    /// The response: `application/vnd.api+json` with this document as the body.
    pub fn respond(&self, status: actix_web::http::StatusCode) -> actix_web::HttpResponse {
        let length = |r: &Rendered| r.get().len() + 1;
        let data = match &self.data {
            Data::One(resource) => length(resource),
            Data::Many(resources) => resources.iter().map(length).sum(),
        };
        let included: usize = self.included.iter().flatten().map(length).sum();
        // Links and meta are small; the rest is known: no growing the buffer by copying.
        let mut body = Vec::with_capacity(data + included + 1024);
        serde_json::to_writer(&mut body, self).expect("documents always serialize");
        json_api_response(status, body)
    }
}

/// `{"links"?, "data": [...], "included"?, "meta"?}` serialized straight from typed
/// resources, in one pass: for answers of many rows (a ticket page, a statistic with up to
/// one row per ticket), where rendering each resource first and copying it into the document
/// took a third of the time.
#[derive(Serialize)]
pub struct CollectionDocument<'a, T: Serialize> {
    #[serde(skip_serializing_if = "Option::is_none")]
    links: Option<Value>,
    data: &'a [T],
    #[serde(skip_serializing_if = "Option::is_none")]
    included: Option<Vec<Rendered>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<Value>,
}

impl<'a, T: Serialize> CollectionDocument<'a, T> {
    pub fn new(data: &'a [T], included: Option<Vec<Rendered>>) -> Self {
        CollectionDocument {
            links: None,
            data,
            included,
            meta: None,
        }
    }
    pub fn links(mut self, links: Value) -> Self {
        self.links = Some(links);
        self
    }
    pub fn meta(mut self, meta: Value) -> Self {
        self.meta = Some(meta);
        self
    }
    /// The serialized document, for [`json_api_response`], into a buffer of `size_hint`
    /// bytes to start with (rather than grown by doubling and copying); the included
    /// resources' length is added to it.
    pub fn to_body(&self, size_hint: usize) -> Vec<u8> {
        let included: usize = self
            .included
            .iter()
            .flatten()
            .map(|r| r.get().len() + 1)
            .sum();
        let mut body = Vec::with_capacity(size_hint + included);
        serde_json::to_writer(&mut body, self).expect("documents always serialize");
        body
    }
}

/// A response of `application/vnd.api+json` with `body`, a serialized document.
pub fn json_api_response(
    status: actix_web::http::StatusCode,
    body: Vec<u8>,
) -> actix_web::HttpResponse {
    actix_web::HttpResponse::build(status)
        .insert_header((
            actix_web::http::header::CONTENT_TYPE,
            super::errors::JSONAPI,
        ))
        .body(body)
}

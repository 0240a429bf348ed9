//! Reading requests: the query string as jQuery encodes it, content negotiation, and the
//! JSON:API request document (contract §3.0, CLIENT.md §3.3).

use super::errors::{ApiError, ApiResult, JSONAPI};
use actix_web::http::header;
use actix_web::{web, HttpRequest};
use desk_domain::listing::Params;
use desk_domain::usecases::collaboration::Link;
use desk_domain::FieldError;
use futures_util::StreamExt;
use percent_encoding::percent_decode;
use serde_json::{Map, Value};

/// Largest JSON:API request body accepted; attachments have their own, larger limit.
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// Decodes the raw query string: keys and values percent-decoded (`+` is a space, as in
/// form encoding), empty values dropped, the last of repeated keys kept. Bytes that are not
/// UTF-8 after decoding → 400, and so is a NUL character (`%00`): no filter means one, and
/// PostgreSQL refuses it in text, so it would reach the database only to fail there.
pub fn query_params(req: &HttpRequest) -> ApiResult<Params> {
    parse_query(req.query_string())
}

pub fn parse_query(raw: &str) -> ApiResult<Params> {
    let mut params = Params::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode_component(key)?;
        let value = decode_component(value)?;
        if value.is_empty() {
            params.remove(&key);
            continue;
        }
        params.insert(key, value);
    }
    Ok(params)
}

fn decode_component(raw: &str) -> ApiResult<String> {
    let spaced = raw.replace('+', " ");
    let decoded = percent_decode(spaced.as_bytes())
        .decode_utf8()
        .map_err(|_| ApiError::BadRequest {
            detail: "The query string is not valid UTF-8.".into(),
            code: "parse_error",
        })?;
    if decoded.contains('\0') {
        return Err(ApiError::BadRequest {
            detail: "The query string contains a NUL character.".into(),
            code: "parse_error",
        });
    }
    Ok(decoded.into_owned())
}

/// 406 unless `Accept` is absent or admits `application/vnd.api+json` (`*/*` and
/// `application/*` included).
pub fn check_accept(req: &HttpRequest) -> ApiResult<()> {
    let Some(accept) = req.headers().get(header::ACCEPT) else {
        return Ok(());
    };
    let accept = accept.to_str().unwrap_or("");
    if accept.trim().is_empty() {
        return Ok(());
    }
    let admits = accept.split(',').any(|item| {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            let p = p.trim().replace(' ', "");
            p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
        });
        !refused && (media == "*/*" || media == "application/*" || media == JSONAPI)
    });
    if admits {
        Ok(())
    } else {
        Err(ApiError::NotAcceptable)
    }
}

/// The media type of the body (without parameters), lower-cased.
fn media_type(req: &HttpRequest) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// Reads the body up to `limit` bytes; more → 413 without reading the rest.
pub async fn read_body(mut payload: web::Payload, limit: usize) -> ApiResult<web::Bytes> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::BadRequest {
            detail: "The request body could not be read.".into(),
            code: "parse_error",
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A resource object received in a POST/PUT/PATCH body.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceInput {
    pub id: Option<String>,
    pub attributes: Map<String, Value>,
    pub relationships: Map<String, Value>,
}

/// What a write expects of the document.
pub enum Expect<'a> {
    /// POST: any client id is ignored.
    Create { kind: &'static str },
    /// PUT/PATCH: `data.id` required and equal to the URL id.
    Update { kind: &'static str, url_id: &'a str },
}

fn bad(detail: &str) -> ApiError {
    ApiError::BadRequest {
        detail: detail.to_string(),
        code: "parse_error",
    }
}

/// Validates media type, JSON syntax, and the JSON:API envelope (type and id rules).
pub async fn read_document(
    req: &HttpRequest,
    payload: web::Payload,
    expect: Expect<'_>,
) -> ApiResult<ResourceInput> {
    let media = media_type(req);
    if media != JSONAPI {
        let shown = if media.is_empty() {
            "".to_string()
        } else {
            media
        };
        return Err(ApiError::UnsupportedMediaType(shown));
    }
    let bytes = read_body(payload, MAX_JSON_BODY).await?;
    let document: Value = serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest {
        detail: format!("JSON parse error - {e}"),
        code: "parse_error",
    })?;
    let data = match document.get("data") {
        Some(data) if document.is_object() => data,
        _ => return Err(bad("Received document does not contain primary data")),
    };
    let Value::Object(data) = data else {
        return Err(bad(
            "Received data is not a valid JSON:API Resource Identifier Object",
        ));
    };
    let kind = match &expect {
        Expect::Create { kind } | Expect::Update { kind, .. } => *kind,
    };
    let given_type = match data.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(other) => other.to_string(),
        None => return Err(bad("The resource object must contain a 'type' member")),
    };
    if given_type != kind {
        return Err(ApiError::Conflict(format!(
            "The resource object's type ({given_type}) is not the type that constitute the collection represented by the endpoint ({kind})."
        )));
    }
    let id = match data.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    if let Expect::Update { url_id, .. } = expect {
        let Some(given) = &id else {
            return Err(bad(
                "The resource identifier object must contain an 'id' member",
            ));
        };
        if given != url_id {
            return Err(ApiError::Conflict(format!(
                "The resource object's id ({given}) does not match url's lookup id ({url_id})"
            )));
        }
    }
    let object = |name: &str| match data.get(name) {
        Some(Value::Object(map)) => Ok(map.clone()),
        None | Some(Value::Null) => Ok(Map::new()),
        Some(_) => Err(bad(&format!("The '{name}' member must be an object"))),
    };
    Ok(ResourceInput {
        id: if matches!(expect, Expect::Create { .. }) {
            None
        } else {
            id
        },
        attributes: object("attributes")?,
        relationships: object("relationships")?,
    })
}

/// A to-one relationship of a create, read from `data.relationships.<name>.data` or else from
/// `data.attributes.<name>` (the acceptance payloads put identifier objects there; contract
/// §3.0). `null`, an absent member or an object without `id` count as absent.
pub fn linkage(input: &ResourceInput, name: &str, kind: &str) -> Link {
    let from_relationships = input.relationships.get(name).map(|member| match member {
        Value::Object(map) if map.contains_key("data") => &map["data"],
        other => other,
    });
    let value = match from_relationships {
        Some(v) if !v.is_null() => Some(v),
        _ => input
            .attributes
            .get(name)
            .or_else(|| input.attributes.get(&name.replace('-', "_"))),
    };
    match value {
        None => Link::Absent,
        Some(v) => link_value(name, kind, v),
    }
}

/// One identifier object (also the JSON text of a multipart field, parsed by the caller).
pub fn link_value(name: &str, kind: &str, value: &Value) -> Link {
    let received = |what: &str| {
        Link::Invalid(FieldError::relationship(
            name,
            format!("Incorrect type. Expected resource identifier object, received {what}."),
            "incorrect_type",
        ))
    };
    match value {
        Value::Null => Link::Absent,
        Value::Object(map) => {
            if let Some(Value::String(given)) = map.get("type") {
                if given != kind {
                    return Link::Invalid(FieldError::relationship(
                        name,
                        format!("Incorrect relation type. Expected {kind}, received {given}."),
                        "incorrect_type",
                    ));
                }
            }
            match map.get("id") {
                None | Some(Value::Null) => Link::Absent,
                Some(Value::String(id)) => Link::Id(id.trim().to_string()),
                Some(Value::Number(n)) => Link::Id(n.to_string()),
                Some(_) => received("dict"),
            }
        }
        Value::Number(_) => received("int"),
        Value::String(_) => received("str"),
        Value::Bool(_) => received("bool"),
        Value::Array(_) => received("list"),
    }
}

/// A member id from the URL: anything but a positive 32-bit integer is an unknown id (404).
pub fn path_id(raw: &str) -> ApiResult<i32> {
    match raw.parse::<i32>() {
        Ok(id) if id > 0 && raw.bytes().all(|b| b.is_ascii_digit()) => Ok(id),
        _ => Err(ApiError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jquery_encoded_queries_decode_and_drop_empty_values() {
        let p = parse_query(
            "filter%5Bcountry%5D=&filter%5Bstatus__in%5D=new%2Cin-progress&filter%5Bsearch%5D=acme%20corp&page%5Bsize%5D=25&q=a+b",
        )
        .unwrap();
        assert_eq!(p.get("filter[status__in]").unwrap(), "new,in-progress");
        assert_eq!(p.get("filter[search]").unwrap(), "acme corp");
        assert_eq!(p.get("q").unwrap(), "a b");
        assert!(!p.contains_key("filter[country]"));
        assert_eq!(p.get("page[size]").unwrap(), "25");
    }

    #[test]
    fn bad_utf8_in_the_query_is_a_client_error() {
        assert!(matches!(
            parse_query("filter%5Bsearch%5D=%FF%FE"),
            Err(ApiError::BadRequest { .. })
        ));
    }

    #[test]
    fn a_nul_character_in_the_query_is_a_client_error() {
        for raw in [
            "filter%5Bcountry%5D=R%00O",
            "filter%5Bsearch%5D=%00",
            "a%00b=1",
        ] {
            assert!(
                matches!(parse_query(raw), Err(ApiError::BadRequest { .. })),
                "{raw}"
            );
        }
    }

    #[test]
    fn path_ids_must_be_plain_positive_integers() {
        assert_eq!(path_id("12").unwrap(), 12);
        for bad in ["0", "-1", "+1", "abc", "99999999999", " 1", "1.0"] {
            assert!(path_id(bad).is_err(), "{bad}");
        }
    }
}

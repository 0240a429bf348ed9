//! Reading and validating the attributes of a JSON:API request body (contract §3.0, §4).
//! Every message and code is the contract's; everything a client can send ends as a value
//! or a [`FieldError`], never a panic or a storage error.

use crate::error::FieldError;
use crate::model::*;
use crate::text::{is_valid_country, sanitize};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value};

/// Longest free text accepted in a text column (characters). The contract has no limit; an
/// unbounded column invites abuse, so anything larger gets a 422 `max_length`.
pub const MAX_TEXT_CHARS: usize = 100_000;

/// Parses the contract's datetimes: ISO-8601 date or datetime, optional seconds and
/// fraction, optional `Z` or offset (converted to UTC; none = UTC). Years 1–9999 only.
pub fn parse_datetime(input: &str) -> Option<DateTime<Utc>> {
    let s = input.trim();
    if s.len() < 10 || !s.is_char_boundary(10) {
        return None;
    }
    let parsed = if s.len() == 10 {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|n| n.and_utc())
    } else {
        let (date_time, offset) = split_offset(s);
        let naive = [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(date_time, f).ok())?;
        Some(naive.and_utc() - chrono::Duration::seconds(offset?))
    }?;
    use chrono::Datelike;
    (1..=9999).contains(&parsed.year()).then_some(parsed)
}

/// Splits `…T10:00+02:00` into the local part and the offset in seconds (`Z`/none = 0).
/// A malformed offset gives `None` as the offset.
fn split_offset(s: &str) -> (&str, Option<i64>) {
    if let Some(rest) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        return (rest, Some(0));
    }
    let time_part = &s[10..];
    if let Some(pos) = time_part.rfind(['+', '-']) {
        let (local, off) = s.split_at(10 + pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let digits: String = off[1..].chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return (local, None);
        }
        let hours: i64 = digits[..2].parse().unwrap_or(99);
        let minutes: i64 = digits[2..].parse().unwrap_or(99);
        if hours > 23 || minutes > 59 {
            return (local, None);
        }
        return (local, Some(sign * (hours * 3600 + minutes * 60)));
    }
    (s, Some(0))
}

/// The contract's permissive booleans.
pub fn parse_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) if n.as_i64() == Some(1) => Some(true),
        Value::Number(n) if n.as_i64() == Some(0) => Some(false),
        Value::String(s) => match s.as_str() {
            "true" | "True" | "TRUE" | "t" | "T" | "yes" | "Yes" | "YES" | "y" | "Y" | "on"
            | "On" | "ON" | "1" => Some(true),
            "false" | "False" | "FALSE" | "f" | "F" | "no" | "No" | "NO" | "n" | "N" | "off"
            | "Off" | "OFF" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// The attributes object of a request, read by dasherized or underscored name.
pub struct Attributes<'a> {
    map: &'a Map<String, Value>,
    pub errors: Vec<FieldError>,
}

/// Options of a string attribute.
#[derive(Clone, Copy)]
pub struct Text {
    pub max: usize,
    pub allow_blank: bool,
    pub allow_null: bool,
    pub sanitized: bool,
}

impl Text {
    pub const fn plain(max: usize) -> Self {
        Text {
            max,
            allow_blank: true,
            allow_null: true,
            sanitized: false,
        }
    }
    pub const fn sanitized(max: usize) -> Self {
        Text {
            max,
            allow_blank: true,
            allow_null: true,
            sanitized: true,
        }
    }
    pub const fn required(self) -> Self {
        Text {
            allow_blank: false,
            allow_null: false,
            ..self
        }
    }
    pub const fn not_blank(self) -> Self {
        Text {
            allow_blank: false,
            ..self
        }
    }
}

impl<'a> Attributes<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Attributes {
            map,
            errors: Vec::new(),
        }
    }

    /// The raw value of `name` (dasherized), falling back to its underscored spelling.
    pub fn raw(&self, name: &str) -> Option<&'a Value> {
        self.map
            .get(name)
            .or_else(|| self.map.get(&name.replace('-', "_")))
    }

    pub fn has(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    fn fail(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// A string attribute. Outer `None` = absent; `Some(None)` = explicit null.
    pub fn text(&mut self, name: &str, rules: Text) -> Option<Option<String>> {
        let value = self.raw(name)?;
        let s = match value {
            Value::Null if rules.allow_null => return Some(None),
            Value::Null => {
                self.fail(FieldError::null(name));
                return None;
            }
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => {
                self.fail(FieldError::attribute(
                    name,
                    "Not a valid string.",
                    "invalid",
                ));
                return None;
            }
        };
        self.check_text(name, &s, rules)
    }

    fn check_text(&mut self, name: &str, s: &str, rules: Text) -> Option<Option<String>> {
        if s.contains('\0') {
            self.fail(FieldError::attribute(
                name,
                "Null characters are not allowed.",
                "null_characters_not_allowed",
            ));
            return None;
        }
        if s.trim().is_empty() {
            if !rules.allow_blank {
                self.fail(FieldError::blank(name));
                return None;
            }
            return Some(Some(String::new()));
        }
        if s.chars().count() > rules.max {
            self.fail(FieldError::attribute(
                name,
                format!(
                    "Ensure this field has no more than {} characters.",
                    rules.max
                ),
                "max_length",
            ));
            return None;
        }
        let value = if rules.sanitized {
            sanitize(s)
        } else {
            s.to_string()
        };
        // Escaping can lengthen a value (`&` → `&amp;`): what is stored must fit too.
        if value.chars().count() > rules.max {
            self.fail(FieldError::attribute(
                name,
                format!(
                    "Ensure this field has no more than {} characters.",
                    rules.max
                ),
                "max_length",
            ));
            return None;
        }
        if !rules.allow_blank && value.trim().is_empty() {
            self.fail(FieldError::blank(name));
            return None;
        }
        Some(Some(value))
    }

    /// A value among the choices of `parse`. Null is refused.
    pub fn choice<T>(&mut self, name: &str, parse: fn(&str) -> Option<T>) -> Option<T> {
        let value = self.raw(name)?;
        match value {
            Value::Null => self.fail(FieldError::null(name)),
            Value::String(s) => match parse(s) {
                Some(v) => return Some(v),
                None => self.fail(FieldError::attribute(
                    name,
                    format!("\"{s}\" is not a valid choice."),
                    "invalid_choice",
                )),
            },
            other => self.fail(FieldError::attribute(
                name,
                format!("\"{}\" is not a valid choice.", other),
                "invalid_choice",
            )),
        }
        None
    }

    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        let value = self.raw(name)?;
        if value.is_null() {
            self.fail(FieldError::null(name));
            return None;
        }
        let parsed = parse_bool(value);
        if parsed.is_none() {
            self.fail(FieldError::attribute(
                name,
                "Must be a valid boolean.",
                "invalid",
            ));
        }
        parsed
    }

    /// A nullable datetime.
    pub fn datetime(&mut self, name: &str) -> Option<Option<DateTime<Utc>>> {
        let value = self.raw(name)?;
        match value {
            Value::Null => Some(None),
            Value::String(s) if s.trim().is_empty() => Some(None),
            Value::String(s) => match parse_datetime(s) {
                Some(t) => Some(Some(t)),
                None => {
                    self.fail(bad_datetime(name));
                    None
                }
            },
            _ => {
                self.fail(bad_datetime(name));
                None
            }
        }
    }

    /// A nullable country code of Appendix A (or `""`).
    pub fn country(&mut self, name: &str) -> Option<Option<String>> {
        let value = self.raw(name)?;
        match value {
            Value::Null => Some(None),
            Value::String(s) if is_valid_country(s) => Some(Some(s.clone())),
            other => {
                let shown = other
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| other.to_string());
                self.fail(FieldError::attribute(
                    name,
                    format!("\"{shown}\" is not a valid choice."),
                    "invalid_choice",
                ));
                None
            }
        }
    }

    /// A list of strings, each checked by `check` (which returns an error message and code).
    /// Null counts as an empty list (W16).
    pub fn list(
        &mut self,
        name: &str,
        check: fn(&str) -> Result<(), (String, &'static str)>,
    ) -> Option<Vec<String>> {
        let value = self.raw(name)?;
        let items = match value {
            Value::Null => return Some(Vec::new()),
            Value::Array(items) => items,
            other => {
                self.fail(FieldError::attribute(
                    name,
                    format!(
                        "Expected a list of items but got type \"{}\".",
                        json_type_name(other)
                    ),
                    "not_a_list",
                ));
                return None;
            }
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (index, item) in items.iter().enumerate() {
            let pointer = format!("{name}/{index}");
            match item {
                Value::String(s) => match check(s) {
                    Ok(()) => out.push(s.clone()),
                    Err((detail, code)) => {
                        ok = false;
                        self.fail(FieldError::attribute(&pointer, detail, code));
                    }
                },
                Value::Null => {
                    ok = false;
                    self.fail(FieldError::attribute(
                        &pointer,
                        "This field may not be null.",
                        "null",
                    ));
                }
                _ => {
                    ok = false;
                    self.fail(FieldError::attribute(
                        &pointer,
                        "Not a valid string.",
                        "invalid",
                    ));
                }
            }
        }
        ok.then_some(out)
    }
}

fn bad_datetime(name: &str) -> FieldError {
    FieldError::attribute(
        name,
        "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
        "invalid",
    )
}

fn check_country_item(s: &str) -> Result<(), (String, &'static str)> {
    if is_valid_country(s) {
        Ok(())
    } else {
        Err((format!("\"{s}\" is not a valid choice."), "invalid_choice"))
    }
}

fn check_tag(s: &str) -> Result<(), (String, &'static str)> {
    if s.contains('\0') {
        Err((
            "Null characters are not allowed.".into(),
            "null_characters_not_allowed",
        ))
    } else if s.trim().is_empty() {
        Err(("This field may not be blank.".into(), "blank"))
    } else if s.chars().count() > 255 {
        Err((
            "Ensure this field has no more than 255 characters.".into(),
            "max_length",
        ))
    } else {
        Ok(())
    }
}

/// Keeps the first occurrence of each element, in the client's order (W33).
pub fn dedup_keep_order(items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|i| seen.insert(i.clone()))
        .collect()
}

/// The validated attributes of a ticket create or update. `None` = absent from the body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketForm {
    pub kind: Option<TicketKind>,
    pub request_type: Option<RequestType>,
    pub status: Option<TicketStatus>,
    pub priority: Option<Priority>,
    pub sensitive: Option<bool>,
    pub whysensitive: Option<Option<String>>,
    pub deadline_at: Option<Option<DateTime<Utc>>>,
    pub member_center: Option<Option<String>>,
    pub identifier: Option<Option<String>>,
    pub countries: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub background: Option<String>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub born_at: Option<Option<DateTime<Utc>>>,
    pub connections: Option<Option<String>>,
    pub sources: Option<Option<String>>,
    pub business_activities: Option<Option<String>>,
    pub initial_information: Option<Option<String>>,
    pub company_name: Option<Option<String>>,
    pub country: Option<Option<String>>,
    /// Non-empty, sanitized reasons (null or `""` count as absent).
    pub reopen_reason: Option<String>,
    pub pending_reason: Option<String>,
}

impl TicketForm {
    /// Validates every attribute present. `background_required`: create and PUT.
    pub fn parse(
        map: &Map<String, Value>,
        background_required: bool,
    ) -> Result<Self, Vec<FieldError>> {
        let mut a = Attributes::new(map);
        let short = Text::sanitized(512);
        let long = Text::sanitized(MAX_TEXT_CHARS);
        let background = a.text("background", long.required()).flatten();
        if background_required && !a.has("background") {
            a.errors.push(FieldError::required("background"));
        }
        let reason = |a: &mut Attributes, name: &str| {
            a.text(name, Text::sanitized(MAX_TEXT_CHARS))
                .flatten()
                .filter(|r| !r.trim().is_empty())
        };
        let form = TicketForm {
            kind: a.choice("kind", TicketKind::parse),
            request_type: a.choice("request-type", RequestType::parse),
            status: a.choice("status", TicketStatus::parse),
            priority: a.choice("priority", Priority::parse),
            sensitive: a.boolean("sensitive"),
            whysensitive: a.text("whysensitive", Text::sanitized(150)),
            deadline_at: a.datetime("deadline-at"),
            member_center: a.text("member-center", short.not_blank()),
            identifier: a.text("identifier", short),
            countries: a
                .list("countries", check_country_item)
                .map(dedup_keep_order),
            tags: a.list("tags", check_tag),
            background,
            first_name: a.text("first-name", short),
            last_name: a.text("last-name", short),
            born_at: a.datetime("born-at"),
            connections: a.text("connections", long),
            sources: a.text("sources", long),
            business_activities: a.text("business-activities", long),
            initial_information: a.text("initial-information", long),
            company_name: a.text("company-name", short),
            country: a.country("country"),
            reopen_reason: reason(&mut a, "reopen-reason"),
            pending_reason: reason(&mut a, "pending-reason"),
        };
        if a.errors.is_empty() {
            Ok(form)
        } else {
            Err(a.errors)
        }
    }
}

/// The validated attributes of a profile update: only `bio` is writable (W19: absent = unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileForm {
    pub bio: Option<Option<String>>,
}

pub const MAX_BIO_CHARS: usize = 10_000;

impl ProfileForm {
    pub fn parse(map: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut a = Attributes::new(map);
        let bio = a.text("bio", Text::plain(MAX_BIO_CHARS));
        if a.errors.is_empty() {
            Ok(ProfileForm { bio })
        } else {
            Err(a.errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn attrs(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn datetimes_in_every_accepted_shape() {
        let midnight = Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(parse_datetime("1900-01-01"), Some(midnight));
        assert_eq!(parse_datetime("1900-01-01T00:00"), Some(midnight));
        assert_eq!(parse_datetime("1900-01-01T00:00:00.000Z"), Some(midnight));
        assert_eq!(parse_datetime("1900-01-01T02:00:00+02:00"), Some(midnight));
        assert_eq!(parse_datetime("1899-12-31T22:30:00-01:30"), Some(midnight));
        let precise = parse_datetime("2026-11-22T06:15:31.663078").unwrap();
        assert_eq!(precise.timestamp_subsec_micros(), 663078);
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-01-01T25:00",
            "2026-01-01T10:00+99:00",
            "10000-01-01",
            "0000-01-01",
            "2026-01-01Tü",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn booleans_accept_the_contract_spellings() {
        for (v, b) in [
            (json!(true), true),
            (json!("yes"), true),
            (json!(1), true),
            (json!("off"), false),
            (json!(0), false),
        ] {
            assert_eq!(parse_bool(&v), Some(b));
        }
        assert_eq!(parse_bool(&json!("maybe")), None);
        assert_eq!(parse_bool(&json!(2)), None);
    }

    #[test]
    fn ticket_form_reports_every_bad_field() {
        let errors = TicketForm::parse(
            &attrs(json!({
                "kind": "bogus", "status": 3, "sensitive": "perhaps", "whysensitive": "x".repeat(151),
                "member-center": "", "countries": ["RO", "ZZ"], "tags": ["a", " "], "deadline-at": "soon",
                "country": "XX", "first-name": "a\u{0}b", "background": null
            })),
            true,
        )
        .unwrap_err();
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        for p in [
            "/data/attributes/kind",
            "/data/attributes/status",
            "/data/attributes/sensitive",
            "/data/attributes/whysensitive",
            "/data/attributes/member-center",
            "/data/attributes/countries/1",
            "/data/attributes/tags/1",
            "/data/attributes/deadline-at",
            "/data/attributes/country",
            "/data/attributes/first-name",
            "/data/attributes/background",
        ] {
            assert!(pointers.contains(&p), "missing {p} in {pointers:?}");
        }
        let kind = errors
            .iter()
            .find(|e| e.pointer.ends_with("/kind"))
            .unwrap();
        assert_eq!(kind.detail, "\"bogus\" is not a valid choice.");
        assert_eq!(kind.code, "invalid_choice");
    }

    #[test]
    fn ticket_form_sanitizes_and_dedups() {
        let form = TicketForm::parse(
            &attrs(json!({"background": "<b>Acme</b> & co", "countries": ["RO", "MD", "RO"], "request_type": "cost",
                          "reopen-reason": null, "pending-reason": ""})),
            true,
        )
        .unwrap();
        assert_eq!(form.background.as_deref(), Some("Acme &amp; co"));
        assert_eq!(
            form.countries,
            Some(vec!["RO".to_string(), "MD".to_string()])
        );
        assert_eq!(form.request_type, Some(RequestType::Cost));
        assert_eq!(form.reopen_reason, None);
        assert_eq!(form.pending_reason, None);
    }

    #[test]
    fn background_is_required_on_create_but_not_on_patch() {
        let errors = TicketForm::parse(&attrs(json!({"kind": "other"})), true).unwrap_err();
        assert_eq!(errors[0].detail, "This field is required.");
        assert!(TicketForm::parse(&attrs(json!({"kind": "other"})), false).is_ok());
        let blank =
            TicketForm::parse(&attrs(json!({"background": "<p> </p>"})), false).unwrap_err();
        assert_eq!(blank[0].code, "blank");
    }

    #[test]
    fn profile_form_is_patch_like() {
        assert_eq!(ProfileForm::parse(&Map::new()).unwrap().bio, None);
        assert_eq!(
            ProfileForm::parse(&attrs(json!({"bio": null})))
                .unwrap()
                .bio,
            Some(None)
        );
        assert!(ProfileForm::parse(&attrs(json!({"bio": ["x"]}))).is_err());
    }
}

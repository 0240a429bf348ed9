//! Expenses (contract §3.7, §4.5, CLIENT §6.14; W5): the desk's finance. Staff and
//! superusers manage the expenses of any existing ticket; everybody else sees none.

use super::collaboration::{found, id_param, page_of, range_param, ticket_link, Link, Listed};
use crate::activity::{ActionObject, NewActivity, Verb};
use crate::error::{DomainError, DomainResult, FieldError};
use crate::forms::{Attributes, Text, MAX_TEXT_CHARS};
use crate::listing::{Direction, Params};
use crate::model::*;
use crate::policy::{self, Actor};
use crate::ports::{Clock, ExpenseContent, ExpenseFilter, ExpenseSortField, ExpenseWork};
use crate::text::is_valid_currency;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// The currency of an expense created without an amount.
pub const DEFAULT_CURRENCY: &str = "USD";
/// `numeric(19, 4)`.
pub const MAX_DIGITS: usize = 19;
pub const DECIMAL_PLACES: usize = 4;

impl ExpenseFilter {
    /// `filter[ticket]`, `filter[user]`, `filter[scope]`, `filter[payment_method]`,
    /// `filter[created_at__range]`; unparsable values are ignored (W24).
    pub fn from_params(params: &Params) -> ExpenseFilter {
        let text = |key: &str| params.get(key).map(|v| v.to_string());
        ExpenseFilter {
            ticket: id_param(params, "filter[ticket]").map(TicketId),
            user: id_param(params, "filter[user]").map(ProfileId),
            scope: text("filter[scope]"),
            payment_method: text("filter[payment_method]"),
            created_at: range_param(params, "filter[created_at__range]"),
        }
    }
}

/// `sort=created_at,-updated_at`: only these two fields, underscored; others dropped.
pub fn expense_sort(params: &Params) -> Vec<(ExpenseSortField, Direction)> {
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
            "created_at" => ExpenseSortField::CreatedAt,
            "updated_at" => ExpenseSortField::UpdatedAt,
            _ => continue,
        };
        if !out.iter().any(|(f, _)| *f == field) {
            out.push((field, dir));
        }
    }
    out
}

// ---- the amount: an exact decimal, validated as the contract's numeric(19, 4) ---------------

fn amount_error(detail: &str, code: &'static str) -> FieldError {
    FieldError::attribute("amount", detail, code)
}

fn invalid_number() -> FieldError {
    amount_error("A valid number is required.", "invalid")
}

/// Parses a decimal written the way a client may send it (`10.5`, `"-0.25"`, `"1E+3"`) and
/// checks it against 19 digits in total, 4 decimal places and 15 whole digits, counting
/// digits as the original does (leading zeros do not count, trailing ones do). Floats never
/// take part: a JSON number is read from its text.
pub fn parse_amount(text: &str) -> Result<Decimal, FieldError> {
    let s = text.trim();
    if s.is_empty() || s.len() > 1000 {
        return Err(invalid_number());
    }
    let (negative, rest) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(pos) => {
            let exp = &rest[pos + 1..];
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid_number());
            }
            let value: i64 = exp.parse().map_err(|_| invalid_number())?;
            (&rest[..pos], value)
        }
        None => (rest, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(invalid_number());
    }
    let all: String = format!("{whole}{fraction}");
    let significant = all.trim_start_matches('0');
    let digits = if significant.is_empty() {
        "0"
    } else {
        significant
    };
    let exponent = exponent - fraction.len() as i64;
    let n = digits.len() as i64;
    let (total, whole_digits, places) = if exponent >= 0 {
        (n + exponent, n + exponent, 0)
    } else if n > -exponent {
        (n, n + exponent, -exponent)
    } else {
        (-exponent, 0, -exponent)
    };
    if total > MAX_DIGITS as i64 {
        return Err(amount_error(
            &format!("Ensure that there are no more than {MAX_DIGITS} digits in total."),
            "max_digits",
        ));
    }
    if places > DECIMAL_PLACES as i64 {
        return Err(amount_error(
            &format!("Ensure that there are no more than {DECIMAL_PLACES} decimal places."),
            "max_decimal_places",
        ));
    }
    if whole_digits > (MAX_DIGITS - DECIMAL_PLACES) as i64 {
        return Err(amount_error(
            &format!(
                "Ensure that there are no more than {} digits before the decimal point.",
                MAX_DIGITS - DECIMAL_PLACES
            ),
            "max_whole_digits",
        ));
    }
    // At most 19 digits now: the coefficient fits an i128 and a Decimal exactly.
    let mut coefficient: i128 = digits.parse().map_err(|_| invalid_number())?;
    let mut scale = 0u32;
    if exponent >= 0 {
        coefficient *= 10i128.pow(exponent as u32);
    } else {
        scale = (-exponent) as u32;
    }
    if negative {
        coefficient = -coefficient;
    }
    let mut value =
        Decimal::try_from_i128_with_scale(coefficient, scale).map_err(|_| invalid_number())?;
    value.rescale(DECIMAL_PLACES as u32);
    Ok(value)
}

/// The wire form of an amount: four decimals (`"10.5000"`).
pub fn format_amount(amount: &Decimal) -> String {
    let mut value = *amount;
    value.rescale(DECIMAL_PLACES as u32);
    value.to_string()
}

/// The validated attributes of an expense create or update. `None` = absent from the body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpenseForm {
    pub amount: Option<Option<Decimal>>,
    /// Only read together with a non-null `amount` (contract §3.7).
    pub amount_currency: Option<String>,
    pub rating: Option<i32>,
    pub scope: Option<String>,
    pub payment_method: Option<Option<String>>,
    pub notes: Option<Option<String>>,
    pub created_at: Option<DateTime<Utc>>,
}

fn read_amount(a: &mut Attributes) -> Option<Option<Decimal>> {
    let value = a.raw("amount")?;
    let text = match value {
        Value::Null => return Some(None),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => {
            a.errors.push(invalid_number());
            return None;
        }
    };
    match parse_amount(&text) {
        Ok(d) => Some(Some(d)),
        Err(e) => {
            a.errors.push(e);
            None
        }
    }
}

fn read_rating(a: &mut Attributes) -> Option<i32> {
    let value = a.raw("rating")?;
    let invalid = || FieldError::attribute("rating", "A valid integer is required.", "invalid");
    let text = match value {
        Value::Null => {
            a.errors.push(FieldError::null("rating"));
            return None;
        }
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => {
            a.errors.push(invalid());
            return None;
        }
    };
    // `3`, `"3"`, `3.0` and `"3.00"` are integers; `3.5` is not.
    let integral = match text.split_once('.') {
        Some((whole, zeros)) if zeros.bytes().all(|b| b == b'0') => whole,
        Some(_) => {
            a.errors.push(invalid());
            return None;
        }
        None => text.as_str(),
    };
    let digits = integral.strip_prefix(['-', '+']).unwrap_or(integral);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        a.errors.push(invalid());
        return None;
    }
    match integral.parse::<i64>() {
        Ok(n) if n > i32::MAX as i64 => a.errors.push(FieldError::attribute(
            "rating",
            format!("Ensure this value is less than or equal to {}.", i32::MAX),
            "max_value",
        )),
        Ok(n) if n < i32::MIN as i64 => a.errors.push(FieldError::attribute(
            "rating",
            format!(
                "Ensure this value is greater than or equal to {}.",
                i32::MIN
            ),
            "min_value",
        )),
        Ok(n) => return Some(n as i32),
        Err(_) => a.errors.push(FieldError::attribute(
            "rating",
            format!("Ensure this value is less than or equal to {}.", i32::MAX),
            "max_value",
        )),
    }
    None
}

impl ExpenseForm {
    /// Validates every attribute present; `scope_required` on create.
    pub fn parse(map: &Map<String, Value>, scope_required: bool) -> Result<Self, Vec<FieldError>> {
        let mut a = Attributes::new(map);
        let scope = a.text("scope", Text::plain(255).required()).flatten();
        if scope_required && !a.has("scope") {
            a.errors.push(FieldError::required("scope"));
        }
        let amount = read_amount(&mut a);
        let mut amount_currency = None;
        if let Some(Some(_)) = amount {
            if let Some(value) = a.raw("amount-currency") {
                match value.as_str() {
                    Some(code) if is_valid_currency(code) => {
                        amount_currency = Some(code.to_string())
                    }
                    _ => {
                        let shown = value
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| value.to_string());
                        a.errors.push(amount_error(
                            &format!("'{shown}' is not a valid currency"),
                            "invalid_currency",
                        ));
                    }
                }
            }
        }
        let created_at = match a.raw("created-at") {
            Some(Value::Null) => {
                a.errors.push(FieldError::null("created-at"));
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                a.errors.push(bad_datetime("created-at"));
                None
            }
            Some(_) => a.datetime("created-at").flatten(),
            None => None,
        };
        let form = ExpenseForm {
            amount,
            amount_currency,
            rating: read_rating(&mut a),
            scope,
            payment_method: a.text("payment-method", Text::plain(255)),
            notes: a.text("notes", Text::plain(MAX_TEXT_CHARS)),
            created_at,
        };
        if a.errors.is_empty() {
            Ok(form)
        } else {
            Err(a.errors)
        }
    }

    /// The content after applying this form to `base` (the stored expense, or the defaults).
    fn apply(self, mut base: ExpenseContent) -> ExpenseContent {
        if let Some(amount) = self.amount {
            base.amount = amount;
        }
        if let Some(currency) = self.amount_currency {
            base.amount_currency = currency;
        }
        if let Some(rating) = self.rating {
            base.rating = rating;
        }
        if let Some(scope) = self.scope {
            base.scope = scope;
        }
        if let Some(pm) = self.payment_method {
            base.payment_method = pm;
        }
        if let Some(notes) = self.notes {
            base.notes = notes;
        }
        if let Some(at) = self.created_at {
            base.created_at = at;
        }
        base
    }
}

fn bad_datetime(name: &str) -> FieldError {
    FieldError::attribute(
        name,
        "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
        "invalid",
    )
}

impl Expense {
    pub fn content(&self) -> ExpenseContent {
        ExpenseContent {
            ticket: self.ticket_id,
            amount: self.amount,
            amount_currency: self.amount_currency.clone(),
            rating: self.rating,
            scope: self.scope.clone(),
            payment_method: self.payment_method.clone(),
            notes: self.notes.clone(),
            created_at: self.created_at,
        }
    }
}

// ---- use cases -------------------------------------------------------------------------------

pub fn list_expenses(
    uow: &mut impl ExpenseWork,
    actor: &Actor,
    params: &Params,
) -> DomainResult<Listed<Expense>> {
    let scope = policy::expense_scope(actor);
    let filter = ExpenseFilter::from_params(params);
    let page = page_of(params, uow.count_expenses(scope, &filter)?)?;
    let rows = uow.list_expenses(scope, &filter, &expense_sort(params), page)?;
    Ok(Listed { rows, page })
}

pub fn get_expense(
    uow: &mut impl ExpenseWork,
    actor: &Actor,
    id: ExpenseId,
) -> DomainResult<Expense> {
    found(uow.expense(policy::expense_scope(actor), id)?)
}

/// Records an expense of the caller: the body is validated first (the ticket must exist,
/// W5), then the policy (422 `Ticket not found.` for non-staff), then the row and its
/// `expense:create` activity.
pub fn create_expense(
    uow: &mut impl ExpenseWork,
    clock: &dyn Clock,
    actor: &Actor,
    attributes: &Map<String, Value>,
    ticket: &Link,
) -> DomainResult<Expense> {
    let form = ExpenseForm::parse(attributes, true);
    let mut errors = form.as_ref().err().cloned().unwrap_or_default();
    let ticket = ticket_link(uow, ticket, &mut errors)?;
    let (Ok(form), Some(ticket), true) = (form, ticket, errors.is_empty()) else {
        return Err(DomainError::invalid(errors));
    };
    policy::may_create_expense(actor)?;
    let now = clock.now();
    let content = form.apply(ExpenseContent {
        ticket: ticket.id,
        amount: None,
        amount_currency: DEFAULT_CURRENCY.to_string(),
        rating: 0,
        scope: String::new(),
        payment_method: None,
        notes: None,
        created_at: now,
    });
    let expense = uow.insert_expense(actor.id, &content, now)?;
    uow.record_activity(&NewActivity {
        actor: Some(actor.id),
        verb: Verb::ExpenseCreate,
        ticket: ticket.id,
        action: Some(ActionObject::Expense(expense.id)),
        at: now,
    })?;
    Ok(expense)
}

/// Updates an expense (PATCH-like: absent attributes keep their value, W19), the ticket and
/// `created-at` included. 404 outside the caller's scope; no activity (contract §3.7).
pub fn update_expense(
    uow: &mut impl ExpenseWork,
    clock: &dyn Clock,
    actor: &Actor,
    id: ExpenseId,
    attributes: &Map<String, Value>,
    ticket: &Link,
) -> DomainResult<Expense> {
    let current = found(uow.expense(policy::expense_scope(actor), id)?)?;
    let form = ExpenseForm::parse(attributes, false);
    let mut errors = form.as_ref().err().cloned().unwrap_or_default();
    let new_ticket = match ticket {
        Link::Absent => Some(current.ticket_id),
        link => ticket_link(uow, link, &mut errors)?.map(|t| t.id),
    };
    let (Ok(form), Some(new_ticket), true) = (form, new_ticket, errors.is_empty()) else {
        return Err(DomainError::invalid(errors));
    };
    let mut content = form.apply(current.content());
    content.ticket = new_ticket;
    uow.update_expense(id, &content, clock.now())
}

/// Deletes an expense: 404 outside the caller's scope; `expense:destroy` names the expense
/// creator's profile (W27).
pub fn delete_expense(
    uow: &mut impl ExpenseWork,
    clock: &dyn Clock,
    actor: &Actor,
    id: ExpenseId,
) -> DomainResult<()> {
    let expense = found(uow.expense(policy::expense_scope(actor), id)?)?;
    uow.delete_expense(id)?;
    uow.record_activity(&NewActivity {
        actor: Some(actor.id),
        verb: Verb::ExpenseDestroy,
        ticket: expense.ticket_id,
        action: Some(ActionObject::Profile(expense.user_id)),
        at: clock.now(),
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn code(text: &str) -> &'static str {
        parse_amount(text).unwrap_err().code
    }

    #[test]
    fn amounts_are_exact_with_four_decimals() {
        assert_eq!(format_amount(&parse_amount("10.5").unwrap()), "10.5000");
        assert_eq!(format_amount(&parse_amount("-0.0001").unwrap()), "-0.0001");
        assert_eq!(format_amount(&parse_amount("1E+3").unwrap()), "1000.0000");
        assert_eq!(format_amount(&parse_amount("007.25").unwrap()), "7.2500");
        assert_eq!(
            format_amount(&parse_amount("999999999999999.9999").unwrap()),
            "999999999999999.9999"
        );
        assert_eq!(
            format_amount(&parse_amount("0.1").unwrap()),
            "0.1000",
            "no binary rounding"
        );
    }

    #[test]
    fn amount_limits_follow_the_contract() {
        assert_eq!(code("1.00001"), "max_decimal_places");
        assert_eq!(code("0.00000"), "max_decimal_places");
        assert_eq!(code("1234567890123456"), "max_whole_digits");
        assert_eq!(code("12345678901234567890"), "max_digits");
        assert_eq!(code("1234567890123456.1234"), "max_digits");
        assert_eq!(code("1234567890123456.123"), "max_whole_digits");
        assert_eq!(code("1e16"), "max_whole_digits");
        for bad in [
            "", "abc", "1.2.3", "NaN", "Infinity", "--1", "1e", ".", "1_000", "0x10",
        ] {
            assert_eq!(code(bad), "invalid", "{bad}");
        }
        assert_eq!(
            parse_amount("1.00001").unwrap_err().detail,
            "Ensure that there are no more than 4 decimal places."
        );
    }

    #[test]
    fn currency_only_with_an_amount() {
        let f = ExpenseForm::parse(
            &attrs(json!({"scope": "x", "amount-currency": "ZZZ"})),
            true,
        )
        .unwrap();
        assert_eq!(f.amount_currency, None);
        let e = ExpenseForm::parse(
            &attrs(json!({"scope": "x", "amount": 1, "amount-currency": "ZZZ"})),
            true,
        )
        .unwrap_err();
        assert_eq!(e[0].detail, "'ZZZ' is not a valid currency");
        assert_eq!(e[0].pointer, "/data/attributes/amount");
        let ok = ExpenseForm::parse(
            &attrs(json!({"scope": "x", "amount": "2.5", "amount_currency": "EUR"})),
            true,
        )
        .unwrap();
        assert_eq!(ok.amount_currency.as_deref(), Some("EUR"));
    }

    #[test]
    fn form_reports_bad_fields() {
        let errors = ExpenseForm::parse(
            &attrs(
                json!({"scope": "", "rating": "x", "payment-method": "p".repeat(256),
                          "created-at": "soon"}),
            ),
            true,
        )
        .unwrap_err();
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        for p in ["scope", "rating", "payment-method", "created-at"] {
            assert!(
                pointers.contains(&format!("/data/attributes/{p}").as_str()),
                "{p}"
            );
        }
        let missing = ExpenseForm::parse(&attrs(json!({})), true).unwrap_err();
        assert_eq!(missing[0].detail, "This field is required.");
        assert!(ExpenseForm::parse(&attrs(json!({})), false).is_ok());
        let r = ExpenseForm::parse(&attrs(json!({"rating": 3.0})), false).unwrap();
        assert_eq!(r.rating, Some(3));
        assert!(ExpenseForm::parse(&attrs(json!({"rating": 3.5})), false).is_err());
        assert!(ExpenseForm::parse(&attrs(json!({"rating": 4294967296i64})), false).is_err());
    }

    #[test]
    fn sort_and_filters() {
        let p: Params = [
            ("sort", "-updated_at,bogus,created_at"),
            ("filter[ticket]", "x"),
            ("filter[user]", "4"),
            ("filter[scope]", "orbis.com"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            expense_sort(&p),
            vec![
                (ExpenseSortField::UpdatedAt, Direction::Desc),
                (ExpenseSortField::CreatedAt, Direction::Asc)
            ]
        );
        let f = ExpenseFilter::from_params(&p);
        assert_eq!(f.ticket, None);
        assert_eq!(f.user, Some(ProfileId(4)));
        assert_eq!(f.scope.as_deref(), Some("orbis.com"));
    }
}

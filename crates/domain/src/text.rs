//! Validated text values: sanitized free text, e-mail addresses, country and currency codes.

use crate::codes::{COUNTRY_CODES, CURRENCY_CODES};
use std::sync::OnceLock;

/// Strips every HTML tag and comment, keeps the text between tags (also inside `<script>`),
/// and escapes `&`, `<`, `>` in what remains — contract §1.0. Idempotent: an already
/// sanitized value comes back unchanged. `""` stays `""`.
pub fn sanitize(input: &str) -> String {
    if input.is_empty() {
        return String::new();
    }
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    let cleaner = CLEANER.get_or_init(|| {
        let mut builder = ammonia::Builder::empty();
        // Keep the words inside <script>/<style>: the contract keeps them (as text, escaped).
        builder.clean_content_tags(std::collections::HashSet::new());
        builder.strip_comments(true);
        builder
    });
    cleaner.clean(input).to_string()
}

/// Syntax check for an e-mail address: one `@`, a non-empty local part, a dotted domain of
/// letters, digits and hyphens, no blanks or control characters, at most 254 characters.
pub fn is_valid_email(value: &str) -> bool {
    if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    if local.is_empty() || local.len() > 64 || local.contains('@') || domain.len() < 3 {
        return false;
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// A country code of Appendix A, or `""` (the list's blank choice).
pub fn is_valid_country(code: &str) -> bool {
    code.is_empty() || COUNTRY_CODES.contains(&code)
}

/// A currency code of Appendix B.
pub fn is_valid_currency(code: &str) -> bool {
    CURRENCY_CODES.contains(&code)
}

/// `first last` trimmed, or the e-mail when both names are empty (used in e-mails).
pub fn display_name(first: &str, last: &str, email: &str) -> String {
    let name = format!("{first} {last}");
    let name = name.trim();
    if first.is_empty() && last.is_empty() {
        email.to_string()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_matches_the_contract_examples() {
        assert_eq!(
            sanitize("Hi <img src=x onerror=alert(1)> there & <b>you</b>"),
            "Hi  there &amp; you"
        );
        assert_eq!(
            sanitize(r#"The reason... <a href="javascript: alert(Date)">.</a>"#),
            "The reason... ."
        );
        assert_eq!(
            sanitize("a < b & c > d <script>alert(1)</script>"),
            "a &lt; b &amp; c &gt; d alert(1)"
        );
        assert_eq!(sanitize("Zorrilla & Asociados"), "Zorrilla &amp; Asociados");
        assert_eq!(
            sanitize("keep \"quotes\" and 'apostrophes'"),
            "keep \"quotes\" and 'apostrophes'"
        );
        assert_eq!(sanitize("x <!-- hidden --> y"), "x  y");
        assert_eq!(sanitize(""), "");
    }

    #[test]
    fn sanitize_is_idempotent() {
        for input in [
            "a &amp; b",
            "a < b",
            "<b>x</b> & y",
            "Proj€ct &lt;",
            "plain",
        ] {
            let once = sanitize(input);
            assert_eq!(sanitize(&once), once, "input {input:?}");
        }
    }

    #[test]
    fn emails_are_checked_for_syntax() {
        for ok in ["a@b.org", "first.last+tag@sub.example.co", "ü@exämple.de"] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@b.org",
            "a@@b.org",
            "a b@c.org",
            "a@-b.org",
            "a@b..org",
            ".a@b.org",
            "a@b.org\n",
        ] {
            assert!(!is_valid_email(bad), "{bad:?}");
        }
    }

    #[test]
    fn country_and_currency_lists() {
        assert!(is_valid_country("RO") && is_valid_country("XK") && is_valid_country(""));
        assert!(!is_valid_country("KV") && !is_valid_country("ro") && !is_valid_country("ZZ"));
        assert!(is_valid_currency("EUR") && is_valid_currency("ADP"));
        assert!(!is_valid_currency("eur") && !is_valid_currency("XXX1"));
    }

    #[test]
    fn display_name_falls_back_to_email() {
        assert_eq!(display_name("Ana", "", "a@x.org"), "Ana");
        assert_eq!(display_name("", "", "a@x.org"), "a@x.org");
        assert_eq!(display_name("Ana", "Pop", "a@x.org"), "Ana Pop");
    }
}

//! Plain-text e-mails from handlebars templates. A template file starts with a
//! `Subject: …` line and a blank line; the rest is the body. `footer.txt` is a partial.

use crate::MailConfigError;
use desk_domain::jobs::{MailError, Notice, NoticeKind, OutgoingMail};
use desk_domain::TicketId;
use handlebars::Handlebars;
use serde_json::json;

/// The templates, embedded at compile time: (name, source).
const TEMPLATES: &[(&str, &str)] = &[
    (
        "ticket_created",
        include_str!("../templates/ticket_created.txt"),
    ),
    (
        "ticket_reopened",
        include_str!("../templates/ticket_reopened.txt"),
    ),
    (
        "comment_created",
        include_str!("../templates/comment_created.txt"),
    ),
    (
        "responder_added",
        include_str!("../templates/responder_added.txt"),
    ),
    (
        "subscriber_added",
        include_str!("../templates/subscriber_added.txt"),
    ),
    (
        "review_request",
        include_str!("../templates/review_request.txt"),
    ),
    ("digest", include_str!("../templates/digest.txt")),
];
const FOOTER: &str = include_str!("../templates/footer.txt");

fn template_name(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::TicketCreated => "ticket_created",
        NoticeKind::TicketReopened => "ticket_reopened",
        NoticeKind::CommentCreated => "comment_created",
        NoticeKind::ResponderAdded => "responder_added",
        NoticeKind::SubscriberAdded => "subscriber_added",
    }
}

/// What every e-mail may mention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// `DESK_PUBLIC_URL`, e.g. `https://id.example.org` (links are `{public_url}/tickets/view/{id}`).
    pub public_url: String,
    /// `DESK_SITE_NAME`, signed as "The <site name> Team."
    pub site_name: String,
}

/// The compiled templates.
pub struct Templates {
    registry: Handlebars<'static>,
    settings: MailSettings,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Templates {
    /// Compiles every template and renders each with sample data: a template that refers to
    /// a variable nobody provides fails here, at start-up.
    pub fn new(settings: MailSettings) -> Result<Templates, MailConfigError> {
        let parsed = url::Url::parse(&settings.public_url)
            .map_err(|_| MailConfigError("DESK_PUBLIC_URL must be an absolute URL".into()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(MailConfigError(
                "DESK_PUBLIC_URL must be an http(s) URL".into(),
            ));
        }
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        // Plain text: nothing to escape (HTML escaping would mangle names like "O'Brien").
        registry.register_escape_fn(handlebars::no_escape);
        registry
            .register_partial("footer", FOOTER)
            .map_err(|e| MailConfigError(format!("mail template footer: {e}")))?;
        for (name, source) in TEMPLATES {
            registry
                .register_template_string(name, source)
                .map_err(|e| MailConfigError(format!("mail template {name}: {e}")))?;
        }
        let templates = Templates { registry, settings };
        for kind in [
            NoticeKind::TicketCreated,
            NoticeKind::TicketReopened,
            NoticeKind::CommentCreated,
            NoticeKind::ResponderAdded,
            NoticeKind::SubscriberAdded,
        ] {
            templates
                .compose(&Notice {
                    kind,
                    to: "sample@example.org".into(),
                    recipient_name: "Sample Recipient".into(),
                    ticket: TicketId(1),
                    actor_name: "Sample Person".into(),
                })
                .map_err(|e| MailConfigError(format!("mail template check: {e}")))?;
        }
        templates
            .compose_review_request("sample@example.org", TicketId(1), "sample.token")
            .and_then(|_| {
                templates.compose_digest(
                    "sample@example.org",
                    "Sample Recipient",
                    &[(TicketId(1), "01/01/2026".into())],
                    &["(01/01/26 00:00:00): Sample added a comment to ticket".into()],
                )
            })
            .map_err(|e| MailConfigError(format!("mail template check: {e}")))?;
        Ok(templates)
    }

    /// The link to a ticket's page.
    pub fn ticket_link(&self, ticket: TicketId) -> String {
        format!(
            "{}/tickets/view/{ticket}",
            self.settings.public_url.trim_end_matches('/')
        )
    }

    /// The e-mail of `notice`.
    pub fn compose(&self, notice: &Notice) -> Result<OutgoingMail, MailError> {
        let name = template_name(notice.kind);
        let context = json!({
            "recipient": notice.recipient_name,
            "ticket_id": notice.ticket.0,
            "actor": notice.actor_name,
            "link": self.ticket_link(notice.ticket),
            "site_name": self.settings.site_name,
        });
        let text = self
            .registry
            .render(name, &context)
            .map_err(|e| MailError(format!("template {name}: {e}")))?;
        let (subject, body) = text
            .strip_prefix("Subject: ")
            .and_then(|rest| rest.split_once("\n\n"))
            .ok_or_else(|| {
                MailError(format!(
                    "template {name}: must start with a Subject line and a blank line"
                ))
            })?;
        Ok(OutgoingMail {
            to: notice.to.clone(),
            subject: subject.trim().to_string(),
            body: body.to_string(),
        })
    }

    /// The review request of §5.3.5 to `to`, with its personal review link.
    pub fn compose_review_request(
        &self,
        to: &str,
        ticket: TicketId,
        token: &str,
    ) -> Result<OutgoingMail, MailError> {
        let review_link = format!(
            "{}/review?token={}",
            self.ticket_link(ticket),
            url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
        );
        let context = json!({
            "ticket_id": ticket.0,
            "review_link": review_link,
            "site_name": self.settings.site_name,
        });
        self.render_mail("review_request", to, &context)
    }

    /// The daily digest of §5.4 for one person: deadlines coming up (with the deadline's
    /// date as `MM/DD/YYYY`), then the activities.
    pub fn compose_digest(
        &self,
        to: &str,
        recipient: &str,
        upcoming: &[(TicketId, String)],
        items: &[String],
    ) -> Result<OutgoingMail, MailError> {
        let upcoming: Vec<serde_json::Value> = upcoming
            .iter()
            .map(|(ticket, deadline)| {
                json!({
                    "deadline": deadline,
                    "link": self.ticket_link(*ticket),
                })
            })
            .collect();
        let context = json!({
            "recipient": recipient,
            "upcoming": upcoming,
            "items": items,
            "site_name": self.settings.site_name,
        });
        self.render_mail("digest", to, &context)
    }

    fn render_mail(
        &self,
        name: &str,
        to: &str,
        context: &serde_json::Value,
    ) -> Result<OutgoingMail, MailError> {
        let text = self
            .registry
            .render(name, context)
            .map_err(|e| MailError(format!("template {name}: {e}")))?;
        let (subject, body) = text
            .strip_prefix("Subject: ")
            .and_then(|rest| rest.split_once("\n\n"))
            .ok_or_else(|| {
                MailError(format!(
                    "template {name}: must start with a Subject line and a blank line"
                ))
            })?;
        Ok(OutgoingMail {
            to: to.to_string(),
            subject: subject.trim().to_string(),
            body: body.to_string(),
        })
    }

    /// Renders `source` with this crate's settings (strict mode); for tests of the rules.
    #[doc(hidden)]
    pub fn render_source(
        &self,
        source: &str,
        context: &serde_json::Value,
    ) -> Result<String, MailError> {
        self.registry
            .render_template(source, context)
            .map_err(|e| MailError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templates() -> Templates {
        Templates::new(MailSettings {
            public_url: "https://id.example.org/".into(),
            site_name: "Research Desk".into(),
        })
        .unwrap()
    }

    fn notice(kind: NoticeKind) -> Notice {
        Notice {
            kind,
            to: "ana@example.org".into(),
            recipient_name: "Ana Pop".into(),
            ticket: TicketId(42),
            actor_name: "Ion O'Brien".into(),
        }
    }

    #[test]
    fn the_new_ticket_notice_has_the_contract_subject_the_link_and_the_signature() {
        let mail = templates()
            .compose(&notice(NoticeKind::TicketCreated))
            .unwrap();
        assert_eq!(mail.to, "ana@example.org");
        assert_eq!(mail.subject, "A new ticket was requested, ID: 42");
        assert!(mail.body.starts_with("Hello Ana Pop,"), "{}", mail.body);
        assert!(mail.body.contains("Ion O'Brien has just submitted"));
        assert!(mail
            .body
            .contains("\nhttps://id.example.org/tickets/view/42\n"));
        assert!(mail.body.contains("\n--\n"));
        assert!(mail.body.contains("replies to it are not read"));
        assert!(mail.body.trim_end().ends_with("The Research Desk Team."));
    }

    #[test]
    fn the_reopen_notice_has_its_own_subject_and_names_the_reopener() {
        let mail = templates()
            .compose(&notice(NoticeKind::TicketReopened))
            .unwrap();
        assert_eq!(mail.subject, "Ticket ID 42 was reopened");
        assert!(mail
            .body
            .contains("Ion O'Brien has reopened the ticket with ID 42"));
        assert!(mail.body.contains("https://id.example.org/tickets/view/42"));
    }

    #[test]
    fn the_review_request_carries_the_personal_link() {
        let mail = templates()
            .compose_review_request("ana@example.org", TicketId(42), "a.b-c_d")
            .unwrap();
        assert_eq!(mail.subject, "Tell us how you used our research!");
        assert!(mail
            .body
            .contains("https://id.example.org/tickets/view/42/review?token=a.b-c_d\n"));
    }

    #[test]
    fn the_digest_lists_deadlines_only_when_there_are_some() {
        let t = templates();
        let items = vec!["(11/22/26 06:22:36): Ana added a comment to ticket x".to_string()];
        let mail = t.compose_digest("a@x.org", "Ana", &[], &items).unwrap();
        assert_eq!(mail.subject, "Daily digest for your ID tickets");
        assert!(mail.body.starts_with("Hello Ana,"), "{}", mail.body);
        assert!(!mail.body.contains("Deadlines"));
        assert!(mail.body.contains(&format!(" * {}\n", items[0])));
        let mail = t
            .compose_digest(
                "a@x.org",
                "Ana",
                &[(TicketId(7), "11/23/2026".into())],
                &items,
            )
            .unwrap();
        assert!(mail
            .body
            .contains(" * (11/23/2026): https://id.example.org/tickets/view/7\n"));
    }

    #[test]
    fn strict_mode_makes_a_missing_variable_an_error() {
        let t = templates();
        let error = t
            .render_source("Hello {{nobody}}", &json!({"recipient": "x"}))
            .unwrap_err();
        assert!(error.0.contains("nobody"), "{error}");
    }

    #[test]
    fn a_public_url_is_required() {
        let error = Templates::new(MailSettings {
            public_url: "id.example.org".into(),
            site_name: "X".into(),
        })
        .unwrap_err();
        assert!(error.0.contains("DESK_PUBLIC_URL"));
    }
}

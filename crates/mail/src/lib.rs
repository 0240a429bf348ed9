//! # desk-mail
//!
//! The mail adapter of Research Desk (contract §5.2, decision W30).
//!
//! - [`Templates`] turns a domain [`Notice`] into an [`OutgoingMail`]: plain-text templates
//!   (files under `crates/mail/templates/`, compiled into the binary) rendered by handlebars
//!   in **strict mode**, so a missing variable is an error — and every template is rendered
//!   once with sample data when [`Templates::new`] runs, so a broken template stops start-up
//!   instead of a job. Links are built from `DESK_PUBLIC_URL`, never from a request.
//! - [`SmtpMailer`] implements the domain's [`Mailer`] port with `lettre`, for a transport
//!   described by `DESK_SMTP_URL`: `smtp://[user:pass@]host[:port]` (STARTTLS when the server
//!   offers it; `?tls=required` insists, `?tls=none` stays in plain text for a local relay),
//!   `smtps://…` (implicit TLS), or `file:///dir` (one `.eml` file per message).
//!
//! Recipients are decided by the domain (`desk_domain::jobs::notices_for`); this crate only
//! writes and delivers.

mod templates;
mod transport;

pub use desk_domain::jobs::{MailError, Notice, NoticeKind, OutgoingMail};
pub use desk_domain::ports::Mailer;
pub use templates::{MailSettings, Templates};
pub use transport::SmtpMailer;

/// A mail setting that cannot work; the message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MailConfigError(pub String);

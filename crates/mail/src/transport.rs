//! Delivery with lettre: SMTP (plain, STARTTLS, implicit TLS) or `.eml` files.

use crate::MailConfigError;
use desk_domain::jobs::{MailError, OutgoingMail};
use desk_domain::ports::Mailer;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{FileTransport, Message, SmtpTransport, Transport};
use percent_encoding::percent_decode_str;
use std::path::PathBuf;
use std::time::Duration;

enum Delivery {
    Smtp(SmtpTransport),
    Files(FileTransport, PathBuf),
}

/// The [`Mailer`] of `DESK_SMTP_URL`. Each send opens its own connection (no pool): the
/// worker sends few messages, and a relay that went away is simply reached again next time.
pub struct SmtpMailer {
    delivery: Delivery,
    from: Mailbox,
    /// What logs may say about the transport (no credentials).
    description: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

fn decode(value: &str) -> String {
    percent_decode_str(value).decode_utf8_lossy().into_owned()
}

impl SmtpMailer {
    /// Builds the transport of `url` (`DESK_SMTP_URL`) sending as `from` (`DESK_MAIL_FROM`).
    /// Nothing is contacted yet; see [`SmtpMailer::check`].
    pub fn from_url(url: &str, from: &str) -> Result<SmtpMailer, MailConfigError> {
        let from: Mailbox = from
            .parse()
            .map_err(|_| MailConfigError("DESK_MAIL_FROM must be an e-mail address".into()))?;
        let bad = |why: &str| MailConfigError(format!("DESK_SMTP_URL {why}"));
        let parsed = url::Url::parse(url)
            .map_err(|_| bad("must be smtp://host:port, smtps://host:port or file:///directory"))?;
        if parsed.scheme() == "file" {
            let dir = parsed
                .to_file_path()
                .map_err(|_| bad("must name an absolute directory (file:///dir)"))?;
            std::fs::create_dir_all(&dir)
                .map_err(|e| bad(&format!("names a directory that cannot be created: {e}")))?;
            return Ok(SmtpMailer {
                description: format!("files in {}", dir.display()),
                delivery: Delivery::Files(FileTransport::new(&dir), dir),
                from,
            });
        }
        let implicit = match parsed.scheme() {
            "smtp" => false,
            "smtps" => true,
            _ => return Err(bad("must start with smtp://, smtps:// or file://")),
        };
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = parsed.port().unwrap_or(if implicit { 465 } else { 25 });
        let mode = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let parameters = || {
            TlsParameters::new(host.clone()).map_err(|e| bad(&format!("TLS set-up failed: {e}")))
        };
        let tls = match (implicit, mode.as_deref()) {
            (true, None | Some("required")) => Tls::Wrapper(parameters()?),
            (true, Some(_)) => return Err(bad("smtps:// is always TLS; drop ?tls=")),
            (false, None | Some("opportunistic")) => Tls::Opportunistic(parameters()?),
            (false, Some("required")) => Tls::Required(parameters()?),
            (false, Some("none")) => Tls::None,
            (false, Some(other)) => {
                return Err(bad(&format!(
                    "has tls={other}; use tls=required or tls=none"
                )))
            }
        };
        let mut builder = SmtpTransport::builder_dangerous(&host)
            .port(port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(15)));
        if !parsed.username().is_empty() {
            builder = builder.credentials(Credentials::new(
                decode(parsed.username()),
                decode(parsed.password().unwrap_or_default()),
            ));
        }
        Ok(SmtpMailer {
            description: format!("{}://{host}:{port}", parsed.scheme()),
            delivery: Delivery::Smtp(builder.build()),
            from,
        })
    }

    /// Whether the transport answers now (SMTP: connect, greet, quit; files: the directory
    /// exists). `serve` and `worker` warn when it does not; the worker retries anyway.
    pub fn check(&self) -> Result<(), MailError> {
        match &self.delivery {
            Delivery::Smtp(transport) => match transport.test_connection() {
                Ok(true) => Ok(()),
                Ok(false) => Err(MailError(format!("{} did not answer", self.description))),
                Err(e) => Err(MailError(format!("{}: {e}", self.description))),
            },
            Delivery::Files(_, dir) if dir.is_dir() => Ok(()),
            Delivery::Files(..) => Err(MailError(format!("{} is missing", self.description))),
        }
    }

    /// Where mail goes, without credentials (for logs).
    pub fn describe(&self) -> &str {
        &self.description
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| MailError(format!("recipient {:?}: {e}", mail.to)))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| MailError(format!("message: {e}")))?;
        match &self.delivery {
            Delivery::Smtp(transport) => transport
                .send(&message)
                .map(|_| ())
                .map_err(|e| MailError(format!("{}: {e}", self.description))),
            Delivery::Files(transport, _) => transport
                .send(&message)
                .map(|_| ())
                .map_err(|e| MailError(format!("{}: {e}", self.description))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_understood_or_refused_by_name() {
        for ok in [
            "smtp://relay.example.org",
            "smtp://user:p%40ss@relay.example.org:587",
            "smtp://relay.example.org:2525?tls=required",
            "smtp://127.0.0.1:25?tls=none",
            "smtps://user:pw@relay.example.org",
        ] {
            SmtpMailer::from_url(ok, "desk@example.org").unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "relay.example.org",
            "http://relay.example.org",
            "smtp://relay.example.org?tls=maybe",
            "smtps://relay.example.org?tls=none",
        ] {
            let error = SmtpMailer::from_url(bad, "desk@example.org").unwrap_err();
            assert!(error.0.contains("DESK_SMTP_URL"), "{bad}: {error}");
        }
        let error = SmtpMailer::from_url("smtp://relay", "not an address").unwrap_err();
        assert!(error.0.contains("DESK_MAIL_FROM"));
    }

    #[test]
    fn descriptions_never_show_credentials() {
        let mailer =
            SmtpMailer::from_url("smtp://user:secret@relay.example.org:587", "d@x.org").unwrap();
        assert_eq!(mailer.describe(), "smtp://relay.example.org:587");
        assert!(!format!("{mailer:?}").contains("secret"));
    }
}

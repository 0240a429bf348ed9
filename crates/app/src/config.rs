//! Configuration: `config/desk.toml` defaults, each key overridable by an environment
//! variable (`DESK_<KEY>`, and `DATABASE_URL`). Invalid settings stop start-up with a
//! message naming the variable. Secrets are never printed: `Debug` redacts them.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// A secret string: never shown by `Debug`/`Display`.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "\"[redacted]\""
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    pub database_url: Option<Secret>,
    pub db_pool_size: u32,
    pub bind: String,
    pub public_url: Option<String>,
    pub secret_key: Option<Secret>,
    pub oidc_issuer: Option<String>,
    pub oidc_client_id: Option<String>,
    pub oidc_audience: Option<String>,
    /// The confidential client's secret of the browser login (`DESK_OIDC_CLIENT_SECRET`).
    pub oidc_client_secret: Option<Secret>,
    /// Extra origins allowed for credentialed cross-origin calls (`DESK_CORS_ORIGINS`).
    pub cors_origins: String,
    /// A browser client bundle to serve (`DESK_CLIENT_DIR`), under `DESK_CLIENT_PATH`.
    pub client_dir: Option<String>,
    pub client_path: String,
    /// Browser sessions end after this much inactivity (`DESK_SESSION_IDLE_SECS`) …
    pub session_idle_secs: u64,
    /// … and at the latest this long after login (`DESK_SESSION_MAX_SECS`).
    pub session_max_secs: u64,
    pub member_centers: String,
    pub expense_scopes: String,
    /// Where uploaded files are stored (`DESK_MEDIA_ROOT`), outside any served directory.
    pub media_root: String,
    /// Largest accepted upload in bytes (`DESK_MAX_UPLOAD_BYTES`, W13).
    pub max_upload_bytes: u64,
    /// Mail transport (`DESK_SMTP_URL`): smtp://, smtps:// or file:///dir.
    pub smtp_url: Option<Secret>,
    /// `From:` of every e-mail (`DESK_MAIL_FROM`).
    pub mail_from: Option<String>,
    /// Name in e-mail signatures (`DESK_SITE_NAME`).
    pub site_name: String,
    /// Comma-separated addresses told about every new ticket (`DESK_NOTIFY_EMAILS`).
    pub notify_emails: String,
    /// Review-request jobs send nothing (`DESK_REVIEWS_DISABLED`).
    pub reviews_disabled: bool,
    pub log: String,
    pub log_format: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: None,
            db_pool_size: 10,
            bind: "127.0.0.1:8080".into(),
            public_url: None,
            secret_key: None,
            oidc_issuer: None,
            oidc_client_id: None,
            oidc_audience: None,
            oidc_client_secret: None,
            cors_origins: String::new(),
            client_dir: None,
            client_path: "/tickets".into(),
            session_idle_secs: 8 * 3600,
            session_max_secs: 14 * 24 * 3600,
            member_centers: String::new(),
            expense_scopes: String::new(),
            media_root: "media".into(),
            max_upload_bytes: 524_288_000,
            smtp_url: None,
            mail_from: None,
            site_name: "Research Desk".into(),
            notify_emails: String::new(),
            reviews_disabled: false,
            log: "info".into(),
            log_format: None,
        }
    }
}

/// A configuration problem, always naming the setting.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// Comma-separated list: items trimmed, empty items dropped (contract §7.7).
pub fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn env_name(key: &str) -> String {
    if key == "database_url" {
        "DATABASE_URL".into()
    } else {
        format!("DESK_{}", key.to_ascii_uppercase())
    }
}

impl Config {
    /// Defaults, then the TOML file (if it exists), then the environment.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("DESK_").only(&[
                "db_pool_size",
                "bind",
                "public_url",
                "secret_key",
                "oidc_issuer",
                "oidc_client_id",
                "oidc_audience",
                "oidc_client_secret",
                "cors_origins",
                "client_dir",
                "client_path",
                "session_idle_secs",
                "session_max_secs",
                "member_centers",
                "expense_scopes",
                "media_root",
                "max_upload_bytes",
                "smtp_url",
                "mail_from",
                "site_name",
                "notify_emails",
                "reviews_disabled",
                "log",
                "log_format",
            ]))
            .merge(Env::raw().only(&["DATABASE_URL"]))
            .extract()
            .map_err(|e| {
                let key = e.path.first().cloned().unwrap_or_default();
                let name = if key.is_empty() {
                    "a setting".to_string()
                } else {
                    env_name(&key)
                };
                ConfigError(format!("{name}: {}", e.kind))
            })
    }

    pub fn require_database_url(&self) -> Result<String, ConfigError> {
        match &self.database_url {
            Some(Secret(url))
                if url.starts_with("postgres://") || url.starts_with("postgresql://") =>
            {
                Ok(url.clone())
            }
            Some(_) => Err(ConfigError("DATABASE_URL must be a postgres:// URL".into())),
            None => Err(ConfigError("DATABASE_URL is required".into())),
        }
    }

    /// Checks everything `serve` needs; the first problem found is reported.
    pub fn validate_for_serve(&self) -> Result<ServeSettings, ConfigError> {
        let database_url = self.require_database_url()?;
        if self.db_pool_size == 0 || self.db_pool_size > 500 {
            return Err(ConfigError(
                "DESK_DB_POOL_SIZE must be between 1 and 500".into(),
            ));
        }
        let bind: std::net::SocketAddr = self.bind.parse().map_err(|_| {
            ConfigError(format!(
                "DESK_BIND must be an address like 127.0.0.1:8080, not {:?}",
                self.bind
            ))
        })?;
        let public_url = self
            .public_url
            .clone()
            .ok_or_else(|| ConfigError("DESK_PUBLIC_URL is required".into()))?;
        let parsed = url::Url::parse(&public_url)
            .map_err(|_| ConfigError("DESK_PUBLIC_URL must be an absolute http(s) URL".into()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ConfigError(
                "DESK_PUBLIC_URL must be an absolute http(s) URL".into(),
            ));
        }
        match &self.secret_key {
            Some(Secret(key)) if key.len() >= 32 => {}
            Some(_) => {
                return Err(ConfigError(
                    "DESK_SECRET_KEY must be at least 32 bytes long".into(),
                ))
            }
            None => return Err(ConfigError("DESK_SECRET_KEY is required".into())),
        }
        let issuer = self
            .oidc_issuer
            .clone()
            .ok_or_else(|| ConfigError("DESK_OIDC_ISSUER is required".into()))?;
        let client_id = self
            .oidc_client_id
            .clone()
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| ConfigError("DESK_OIDC_CLIENT_ID is required".into()))?;
        let audience = self
            .oidc_audience
            .clone()
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(|| client_id.clone());
        // Outside the demo, mail must be deliverable (W30): refuse to start without it.
        self.validate_mail()?;
        Ok(ServeSettings {
            database_url,
            pool_size: self.db_pool_size,
            bind,
            issuer,
            client_id,
            audience,
            member_centers: list(&self.member_centers),
            expense_scopes: list(&self.expense_scopes),
            media_root: self.media_root.clone().into(),
            max_upload_bytes: self.max_upload_bytes,
        })
    }
}

/// Validated settings of the browser side: public origin, browser login, sessions, CORS and
/// the client bundle (see [`crate::http::accounts`]).
impl Config {
    pub fn validate_web(&self) -> Result<crate::http::accounts::WebSettings, ConfigError> {
        use crate::http::accounts::{BrowserLoginSettings, WebSettings};
        let public_url = match &self.public_url {
            Some(raw) => Some(url::Url::parse(raw).map_err(|_| {
                ConfigError("DESK_PUBLIC_URL must be an absolute http(s) URL".into())
            })?),
            None => None,
        };
        let mut cors_origins = Vec::new();
        for origin in list(&self.cors_origins) {
            let parsed = url::Url::parse(&origin)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .ok_or_else(|| {
                    ConfigError(format!(
                        "DESK_CORS_ORIGINS: {origin:?} is not an origin like https://app.example.org"
                    ))
                })?;
            cors_origins.push(parsed.origin().ascii_serialization());
        }
        if self.session_idle_secs == 0 || self.session_max_secs == 0 {
            return Err(ConfigError(
                "DESK_SESSION_IDLE_SECS and DESK_SESSION_MAX_SECS must be positive".into(),
            ));
        }
        let client_path = format!("/{}", self.client_path.trim_matches('/'));
        if client_path.starts_with("/api") || client_path.starts_with("/accounts") {
            return Err(ConfigError(
                "DESK_CLIENT_PATH must not be below /api or /accounts".into(),
            ));
        }
        let browser = match (&self.oidc_client_secret, &public_url) {
            (Some(Secret(secret)), Some(_)) if !secret.is_empty() => Some(BrowserLoginSettings {
                client_secret: Secret(secret.clone()),
            }),
            _ => None,
        };
        Ok(WebSettings {
            public_url,
            cors_origins,
            session: desk_domain::usecases::sessions::SessionPolicy {
                idle: chrono::Duration::seconds(self.session_idle_secs.min(i32::MAX as u64) as i64),
                max: chrono::Duration::seconds(self.session_max_secs.min(i32::MAX as u64) as i64),
            },
            client_dir: self
                .client_dir
                .clone()
                .filter(|d| !d.is_empty())
                .map(Into::into),
            client_path,
            browser,
        })
    }
}

/// What `serve` runs with, validated.
#[derive(Clone)]
pub struct ServeSettings {
    pub database_url: String,
    pub pool_size: u32,
    pub bind: std::net::SocketAddr,
    pub issuer: String,
    pub client_id: String,
    pub audience: String,
    pub member_centers: Vec<String>,
    pub expense_scopes: Vec<String>,
    pub media_root: std::path::PathBuf,
    pub max_upload_bytes: u64,
}

/// Validated mail settings (`serve` checks them, `worker` runs with them).
#[derive(Clone)]
pub struct MailConfig {
    pub smtp_url: String,
    pub mail_from: String,
    pub public_url: String,
    pub site_name: String,
    pub notify_emails: Vec<String>,
}

impl Config {
    /// The mail transport and what every e-mail needs; names the variable at fault.
    pub fn validate_mail(&self) -> Result<MailConfig, ConfigError> {
        let smtp_url = match &self.smtp_url {
            Some(Secret(url)) if !url.trim().is_empty() => url.trim().to_string(),
            _ => return Err(ConfigError("DESK_SMTP_URL is required".into())),
        };
        let mail_from = self
            .mail_from
            .clone()
            .filter(|f| !f.trim().is_empty())
            .ok_or_else(|| ConfigError("DESK_MAIL_FROM is required".into()))?;
        let public_url = self
            .public_url
            .clone()
            .ok_or_else(|| ConfigError("DESK_PUBLIC_URL is required (links in e-mails)".into()))?;
        let site_name = match self.site_name.trim() {
            "" => "Research Desk".to_string(),
            name => name.to_string(),
        };
        let mail = MailConfig {
            smtp_url,
            mail_from,
            public_url,
            site_name,
            notify_emails: list(&self.notify_emails),
        };
        // Parse now (no connection yet) so a malformed value is a configuration error.
        desk_mail::SmtpMailer::from_url(&mail.smtp_url, &mail.mail_from)
            .map_err(|e| ConfigError(e.0))?;
        Ok(mail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Config {
        Config {
            database_url: Some(Secret("postgres://u:pw@db/desk".into())),
            public_url: Some("https://desk.example.org".into()),
            secret_key: Some(Secret("k".repeat(32))),
            oidc_issuer: Some("https://sso.example.org/realms/desk".into()),
            oidc_client_id: Some("desk".into()),
            smtp_url: Some(Secret("smtp://mailer:pw@relay.example.org:587".into())),
            mail_from: Some("desk@example.org".into()),
            ..Config::default()
        }
    }

    #[test]
    fn a_complete_configuration_validates() {
        let s = valid().validate_for_serve().unwrap();
        assert_eq!(s.audience, "desk");
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn each_problem_names_its_variable() {
        type Breakage = Box<dyn Fn(&mut Config)>;
        let cases: Vec<(Breakage, &str)> = vec![
            (Box::new(|c| c.database_url = None), "DATABASE_URL"),
            (Box::new(|c| c.public_url = None), "DESK_PUBLIC_URL"),
            (
                Box::new(|c| c.public_url = Some("desk.example.org".into())),
                "DESK_PUBLIC_URL",
            ),
            (
                Box::new(|c| c.secret_key = Some(Secret("short".into()))),
                "DESK_SECRET_KEY",
            ),
            (Box::new(|c| c.oidc_issuer = None), "DESK_OIDC_ISSUER"),
            (
                Box::new(|c| c.oidc_client_id = Some(" ".into())),
                "DESK_OIDC_CLIENT_ID",
            ),
            (Box::new(|c| c.bind = "nowhere".into()), "DESK_BIND"),
            (Box::new(|c| c.db_pool_size = 0), "DESK_DB_POOL_SIZE"),
            (Box::new(|c| c.smtp_url = None), "DESK_SMTP_URL"),
            (
                Box::new(|c| c.smtp_url = Some(Secret("mail.example.org".into()))),
                "DESK_SMTP_URL",
            ),
            (Box::new(|c| c.mail_from = None), "DESK_MAIL_FROM"),
        ];
        for (break_it, name) in cases {
            let mut config = valid();
            break_it(&mut config);
            let message = config.validate_for_serve().err().expect(name).to_string();
            assert!(message.contains(name), "{message}");
        }
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let shown = format!("{:?}", valid());
        assert!(
            !shown.contains("pw@") && !shown.contains(&"k".repeat(32)),
            "{shown}"
        );
    }

    #[test]
    fn lists_are_trimmed() {
        assert_eq!(list(" b, a ,,c "), vec!["b", "a", "c"]);
    }
}

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
    pub member_centers: String,
    pub expense_scopes: String,
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
            member_centers: String::new(),
            expense_scopes: String::new(),
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
                "member_centers",
                "expense_scopes",
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
        Ok(ServeSettings {
            database_url,
            pool_size: self.db_pool_size,
            bind,
            issuer,
            client_id,
            audience,
            member_centers: list(&self.member_centers),
            expense_scopes: list(&self.expense_scopes),
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

//! A real, independent OpenID provider for the browser-login tests: node `oidc-provider`
//! (OpenID-certified), run as a subprocess on a free port of 127.0.0.1 with one confidential
//! client and a few accounts whose claims are Keycloak-shaped (`resource_access.<client>.roles`,
//! `email`, `email_verified`). Its interaction pages are the library's development pages: a
//! login form (any password) and a consent form. Dropping the value stops the process.
//!
//! The node packages live in `crates/testkit/oidc-provider` (`package.json` and
//! `package-lock.json`); `.ci/run` installs them, and [`OidcProvider::start`] does it on
//! first use when they are missing.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A person the provider knows.
#[derive(Debug, Clone)]
pub struct Account {
    pub subject: String,
    pub email: String,
    pub email_verified: bool,
    pub given_name: String,
    pub family_name: String,
    pub roles: Vec<String>,
}

impl Account {
    pub fn new(subject: &str, email: &str, roles: &[&str]) -> Self {
        Account {
            subject: subject.into(),
            email: email.into(),
            email_verified: true,
            given_name: "Test".into(),
            family_name: subject.into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }
}

/// How the relying party (the app under test) is registered.
#[derive(Debug, Clone)]
pub struct ClientRegistration {
    pub client_id: String,
    pub client_secret: String,
    /// The app's base URL, e.g. `http://127.0.0.1:41234`: the redirect URI is
    /// `{base}/accounts/callback`, post-logout redirects `{base}/…`, back-channel logout
    /// `{base}/accounts/backchannel-logout`.
    pub app_base: String,
    /// Lifetime of the ID tokens in seconds (default 300); tests of expiry make it short.
    pub id_token_ttl: Option<u64>,
}

/// A running `oidc-provider`.
pub struct OidcProvider {
    child: Child,
    /// The issuer URL, e.g. `http://127.0.0.1:40123` (no trailing slash).
    pub issuer: String,
}

fn package_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc-provider")
}

fn ensure_installed() {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = package_dir();
    if dir.join("node_modules/oidc-provider/package.json").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()
        .expect("the browser-login tests need node and npm on PATH");
    assert!(status.success(), "npm ci in {} failed", dir.display());
}

impl OidcProvider {
    /// Starts the provider and waits until it listens.
    pub fn start(client: &ClientRegistration, accounts: &[Account]) -> OidcProvider {
        ensure_installed();
        let base = client.app_base.trim_end_matches('/');
        let accounts: BTreeMap<&str, Value> = accounts
            .iter()
            .map(|a| {
                (
                    a.subject.as_str(),
                    json!({
                        "email": a.email, "email_verified": a.email_verified,
                        "given_name": a.given_name, "family_name": a.family_name,
                        "roles": a.roles,
                    }),
                )
            })
            .collect();
        let config = json!({
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "redirect_uris": [format!("{base}/accounts/callback")],
            "post_logout_redirect_uris": [format!("{base}/"), format!("{base}/tickets")],
            "backchannel_logout_uri": format!("{base}/accounts/backchannel-logout"),
            "accounts": accounts,
            "id_token_ttl": client.id_token_ttl,
        });
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(package_dir())
            .env("NODE_ENV", "test")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the browser-login tests need node on PATH");
        {
            let mut stdin = child.stdin.take().expect("stdin is piped");
            stdin
                .write_all(config.to_string().as_bytes())
                .expect("configuration written to the provider");
        } // closing stdin tells the script the configuration is complete
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("LISTENING ") {
                    let _ = tx.send(port.trim().to_owned());
                }
            }
        });
        let started = Instant::now();
        let port = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("oidc-provider did not start within {:?}", started.elapsed())
            });
        OidcProvider {
            child,
            issuer: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

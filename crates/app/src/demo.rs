//! `desk demo`: the embedded default for someone who has just cloned the repository. No
//! configuration, no running services: a private PostgreSQL cluster (unless `DATABASE_URL`
//! is set), migrations, a small seeded data set, and the built-in demo identity provider,
//! so bearer tokens and the browser login run exactly the production code paths.

use crate::config::{Config, Secret, ServeSettings};
use crate::http::accounts::CALLBACK_PATH;
use crate::server;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use desk_auth::local_issuer::{AccessTokenSpec, BrowserLogin, DemoPerson, LocalIssuer};
use desk_persistence::embedded::PrivateCluster;
use desk_persistence::Database;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::OsRng;
use rand::RngCore;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::Duration;

/// The demo's OpenID client (audience and `resource_access` key).
const DEMO_CLIENT: &str = "research-desk-demo";
const DEMO_DIR: &str = ".desk/demo";

/// Seeds with a progress bar on the terminal (used by `desk seed` and the demo).
pub fn seed_with_progress(
    db: &Database,
    options: &desk_persistence::seed::SeedOptions,
) -> Result<(), String> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let report = desk_persistence::seed::seed_with(
        db,
        options,
        &mut |stage: &str, done: u64, total: u64| {
            bar.set_message(stage.to_string());
            bar.set_length(total);
            bar.set_position(done);
        },
    )
    .map_err(|e| format!("seeding failed: {e}"))?;
    bar.finish_and_clear();
    println!(
        "seeded {report} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub fn run(config: &Config, port: u16, token_for: &[String]) -> Result<(), String> {
    let cluster = match &config.database_url {
        Some(_) => None,
        None => {
            println!("Starting a private PostgreSQL cluster under {DEMO_DIR}/pg …");
            Some(
                PrivateCluster::start(Path::new(DEMO_DIR).join("pg"))
                    .map_err(|e| format!("private PostgreSQL: {e}"))?,
            )
        }
    };
    let database_url = match (&config.database_url, &cluster) {
        (Some(url), _) => url.0.clone(),
        (None, Some(cluster)) => cluster.database_url(),
        (None, None) => unreachable!("a cluster is started when no DATABASE_URL is set"),
    };
    // `DESK_DB_POOL_SIZE` applies here as in `desk serve` (the benchmarks set it).
    let db = Database::connect(&database_url, config.db_pool_size)
        .map_err(|e| format!("database: {e}"))?;
    db.migrate().map_err(|e| format!("migrations: {e}"))?;
    if db.profile_count().map_err(|e| e.to_string())? == 0 {
        seed_with_progress(&db, &desk_persistence::seed::SeedOptions::new(12, 120, 7))?;
    }
    let users = demo_users(&db, token_for)?;
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .map_err(|e| format!("port {port}: {e} (choose another with --port)"))?;
    let bind = listener.local_addr().map_err(|e| e.to_string())?;
    let base = format!("http://{bind}");
    // Browser login as `serve` sets it up, with a client secret that lives as long as the
    // process: only this process's demo provider knows it.
    let client_secret = random_secret();
    let mut web_config = config.clone();
    web_config.public_url = Some(base.clone());
    web_config.oidc_client_secret = Some(Secret(client_secret.clone()));
    let web_settings = web_config.validate_web().map_err(|e| e.to_string())?;
    let outcome = actix_web::rt::System::new().block_on(async move {
        let issuer = LocalIssuer::new();
        issuer.enable_browser_login(BrowserLogin::new(
            DEMO_CLIENT,
            client_secret,
            vec![format!("{base}{CALLBACK_PATH}")],
            users.iter().map(|u| u.person.clone()).collect(),
        ));
        // A fixed port keeps the issuer URL — part of every person's identity — the same
        // from one demo run to the next, so the seeded people can sign in again.
        let issuer_port = bind
            .port()
            .checked_add(1)
            .ok_or("--port must be below 65535")?;
        let running = issuer
            .serve_realm(SocketAddr::from(([127, 0, 0, 1], issuer_port)), "demo")
            .await
            .map_err(|e| {
                format!("demo identity provider on port {issuer_port}: {e} (choose another --port)")
            })?;
        let settings = ServeSettings {
            database_url: database_url.clone(),
            pool_size: config.db_pool_size,
            bind,
            issuer: running.url.clone(),
            client_id: DEMO_CLIENT.into(),
            audience: DEMO_CLIENT.into(),
            member_centers: vec!["OCCRP".into(), "RISE Moldova".into(), "IStories".into()],
            expense_scopes: vec![
                "orbis.com".into(),
                "domaintools.com".into(),
                "courier".into(),
            ],
            media_root: ".desk/demo/media".into(),
            max_upload_bytes: 524_288_000,
        };
        print_welcome(&issuer, &running.url, &base, &users);
        let state = server::state_with_web(&settings, web_settings, db, server::system_clock())
            .map_err(|e| e.to_string())?;
        // A worker in the process: e-mails become .eml files in .desk/demo/outbox/. It has
        // connections of its own, as a `desk worker` process would (one for its thread, one
        // for LISTEN, one spare): the server's pool stays the requests' (AppState::blocking
        // hands out one permit per connection of it).
        let worker_db =
            Database::connect(&database_url, 3).map_err(|e| format!("database (worker): {e}"))?;
        let workers = crate::worker::start_demo(&worker_db, config, &base)?;
        let served = server::run(state, listener)
            .await
            .map_err(|e| format!("server: {e}"));
        workers.shutdown();
        served
    });
    drop(cluster); // stops the private cluster
    outcome
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A demo person: a bearer token in the welcome and a button on the demo provider's page.
struct DemoUser {
    label: String,
    person: DemoPerson,
}

/// A superuser, a researcher and a journalist from the seeded profiles, and every
/// `--token-for` address. The subject is the e-mail address, so a person is the same
/// identity whether they arrive with a bearer token or through the browser.
fn demo_users(db: &Database, token_for: &[String]) -> Result<Vec<DemoUser>, String> {
    let profiles = db.all_profiles().map_err(|e| e.to_string())?;
    let pick = |want_superuser: bool, want_staff: bool| {
        profiles.iter().find(|p| {
            p.is_active
                && p.is_superuser == want_superuser
                && p.is_staff == want_staff
                && !p.email.is_empty()
        })
    };
    let mut chosen = vec![
        (
            "a superuser".to_string(),
            pick(true, true).or_else(|| pick(true, false)),
            vec!["superuser", "staff"],
        ),
        (
            "a researcher (staff)".to_string(),
            pick(false, true),
            vec!["staff"],
        ),
        (
            "a journalist (requester)".to_string(),
            pick(false, false),
            vec![],
        ),
    ];
    for email in token_for {
        let found = profiles
            .iter()
            .find(|p| p.email.eq_ignore_ascii_case(email.trim()));
        let Some(p) = found else {
            return Err(format!("--token-for {email}: no such profile"));
        };
        let roles = [(p.is_superuser, "superuser"), (p.is_staff, "staff")];
        let roles = roles
            .iter()
            .filter(|(has, _)| *has)
            .map(|(_, r)| *r)
            .collect();
        chosen.push((
            format!("requested with --token-for {email}"),
            Some(p),
            roles,
        ));
    }
    Ok(chosen
        .into_iter()
        .filter_map(|(label, profile, roles)| {
            profile.map(|p| DemoUser {
                label,
                person: DemoPerson {
                    subject: p.email.clone(),
                    email: p.email.clone(),
                    given_name: p.first_name.clone(),
                    family_name: p.last_name.clone(),
                    roles: roles.iter().map(|r| r.to_string()).collect(),
                },
            })
        })
        .collect())
}

fn print_welcome(issuer: &LocalIssuer, issuer_url: &str, base: &str, users: &[DemoUser]) {
    println!();
    println!("Research Desk demo is running at {base}");
    println!(
        "Demo identity provider: {issuer_url}  (client id {DEMO_CLIENT}; a new key at every start)"
    );
    println!();
    println!(
        "Open {base}/accounts/login?next=/api/v3/me in a browser to sign in as one of the people below."
    );
    println!();
    println!("Tokens below are valid for 12 hours. Paste a line to call the API as that person:");
    for user in users {
        let p = &user.person;
        let mut spec = AccessTokenSpec::new(issuer_url, DEMO_CLIENT, &p.subject);
        spec.email = Some(p.email.clone());
        spec.email_verified = true;
        spec.given_name = Some(p.given_name.clone());
        spec.family_name = Some(p.family_name.clone());
        spec.roles = p.roles.clone();
        spec.lifetime = Duration::from_secs(12 * 3600);
        let token = issuer.access_token_for(&spec);
        println!();
        println!(
            "# {} {} <{}>, {}",
            p.given_name, p.family_name, p.email, user.label
        );
        println!("curl -s -H 'Authorization: Bearer {token}' {base}/api/v3/me");
    }
    println!();
    println!("Also: {base}/api/v3/tickets, {base}/api/v3/openapi.json, {base}/metrics. Stop with Ctrl-C.");
}

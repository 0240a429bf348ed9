//! The `desk` binary as an operator uses it: exit codes, configuration errors that name the
//! variable, and the database commands against a real database.

mod common;

use actix_web::http::StatusCode;
use common::TestApp;
use std::process::{Command, Output};

fn desk(args: &[&str], env: &[(&str, &str)]) -> Output {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/desk.toml");
    let mut command = Command::new(env!("CARGO_BIN_EXE_desk"));
    command
        .arg("--config")
        .arg(config)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap());
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run desk")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn configuration_errors_exit_2_and_name_the_variable() {
    let out = desk(&["serve"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("DATABASE_URL"), "{}", stderr(&out));

    let complete = [
        ("DATABASE_URL", "postgres://desk:hunter2@127.0.0.1:1/desk"),
        ("DESK_PUBLIC_URL", "https://desk.example.org"),
        ("DESK_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ("DESK_OIDC_ISSUER", "https://sso.example.org/realms/desk"),
        ("DESK_OIDC_CLIENT_ID", "desk"),
    ];
    for (name, bad) in [
        ("DESK_SECRET_KEY", "too-short"),
        ("DESK_PUBLIC_URL", "not a url"),
        ("DESK_DB_POOL_SIZE", "many"),
    ] {
        let mut env: Vec<(&str, &str)> = complete
            .iter()
            .copied()
            .filter(|(k, _)| *k != name)
            .collect();
        env.push((name, bad));
        let out = desk(&["serve"], &env);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(name), "{name}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("hunter2"),
            "the password must never be printed"
        );
    }
    let out = desk(&["no-such-command"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_unreachable_database_is_a_runtime_failure_without_secrets() {
    let out = desk(
        &["migrate"],
        &[("DATABASE_URL", "postgres://desk:hunter2@127.0.0.1:1/desk")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
}

#[actix_web::test]
async fn migrate_seed_and_profile_commands() {
    let app = TestApp::new().await;
    let url = app.db.url.clone();
    let env = [("DATABASE_URL", url.as_str())];

    let out = desk(&["migrate"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 migration(s) applied"));

    let out = desk(&["seed", "--tickets", "25", "--writers", "0"], &env);
    assert_eq!(out.status.code(), Some(2), "no writers is a usage error");
    assert_eq!(app.count("tickets"), 0);
    let out = desk(
        &[
            "seed",
            "--profiles",
            "6",
            "--tickets",
            "25",
            "--seed",
            "9",
            "--writers",
            "2",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("25 tickets"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(app.count("tickets"), 25);
    let again = desk(&["seed", "--profiles", "6", "--tickets", "25"], &env);
    assert_eq!(
        again.status.code(),
        Some(1),
        "seeding a non-empty database is refused"
    );
    assert_eq!(app.count("tickets"), 25);

    let user = app.user("Opal", &[]).await;
    let out = desk(&["profiles", "list"], &env);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&user.email));

    let out = desk(
        &["profiles", "deactivate", &user.email.to_uppercase()],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        app.get("/api/v3/me", Some(&user.token)).await.status,
        StatusCode::FORBIDDEN
    );
    let out = desk(&["profiles", "activate", &user.email], &env);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        app.get("/api/v3/me", Some(&user.token)).await.status,
        StatusCode::OK
    );

    let out = desk(&["profiles", "activate", "nobody@example.org"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nobody@example.org"));
}

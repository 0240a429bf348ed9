//! The `desk` command line (OPERATIONS.md "One binary"). Exit codes: 0 success, 1 runtime
//! failure, 2 usage or configuration error.

use crate::config::{Config, ConfigError};
use crate::server::{self, StartupError};
use clap::{Parser, Subcommand};
use desk_persistence::Database;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "desk",
    version,
    about = "Research Desk: research requests for investigative journalists"
)]
pub struct Cli {
    /// Configuration file (defaults; every key can be overridden by environment variables).
    #[arg(
        long,
        global = true,
        env = "DESK_CONFIG",
        default_value = "config/desk.toml"
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    Serve {
        /// Apply pending migrations before serving.
        #[arg(long)]
        migrate: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Run background jobs until SIGTERM/SIGINT (then finish the jobs in hand and exit 0).
    Worker {
        /// Jobs run at the same time (one database connection each).
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
    },
    /// Inspect, retry and clean the job queue.
    Queue {
        #[command(subcommand)]
        action: crate::queue_cli::QueueCommand,
    },
    /// The embedded default for a first look: private database, demo identity provider, sample data.
    Demo {
        /// Port of the API (the demo identity provider listens on the next port).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Also print a token for the profile with this e-mail (repeatable; benchmarks use it).
        #[arg(long = "token-for", value_name = "EMAIL")]
        token_for: Vec<String>,
    },
    /// Fill the database with a realistic, deterministic data set.
    Seed {
        #[arg(long, default_value_t = 50)]
        profiles: usize,
        #[arg(long, default_value_t = 500)]
        tickets: usize,
        /// Seed of the random generator (same seed, same data).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Database connections writing tickets at once [default: one per core]. The data
        /// are the same whatever the number.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
        writers: Option<u16>,
    },
    /// Operator account management (roles themselves come from the identity provider).
    Profiles {
        #[command(subcommand)]
        action: ProfilesCommand,
    },
    /// Review requests (the e-mails asking requesters how the research was used).
    Reviews {
        #[command(subcommand)]
        action: crate::reviews_cli::ReviewsCommand,
    },
    /// Send the daily digest now; with --schedule, enqueue the daily self-rescheduling job.
    Digest {
        /// Enqueue the daily digest job (a day from now; never two pending) instead.
        #[arg(long)]
        schedule: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// List every profile.
    List,
    /// Let a deactivated person in again.
    Activate { email: String },
    /// Lock a person out (their bearer calls and logins get 403).
    Deactivate { email: String },
}

/// Why a command failed, and with which exit code.
enum Failure {
    Usage(String),
    Runtime(String),
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::Usage(e.to_string())
    }
}

impl From<crate::queue_cli::QueueFailure> for Failure {
    fn from(e: crate::queue_cli::QueueFailure) -> Self {
        match e {
            crate::queue_cli::QueueFailure::Usage(m) => Failure::Usage(m),
            crate::queue_cli::QueueFailure::Runtime(m) => Failure::Runtime(m),
        }
    }
}

impl From<StartupError> for Failure {
    fn from(e: StartupError) -> Self {
        Failure::Runtime(e.to_string())
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut config = match Config::load(&cli.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("desk: {e}");
            return ExitCode::from(2);
        }
    };
    // The demo talks to a person at a terminal: only warnings, unless asked for more.
    if matches!(cli.command, Command::Demo { .. }) && std::env::var_os("DESK_LOG").is_none() {
        config.log = "warn".into();
    }
    init_logging(&config);
    let outcome = match cli.command {
        Command::Serve { migrate } => serve(&config, migrate),
        Command::Migrate => migrate(&config),
        Command::Worker { concurrency } => {
            crate::queue_cli::worker(&config, concurrency).map_err(Failure::from)
        }
        Command::Queue { action } => {
            crate::queue_cli::queue(&config, action).map_err(Failure::from)
        }
        Command::Demo { port, token_for } => {
            crate::demo::run(&config, port, &token_for).map_err(Failure::Runtime)
        }
        Command::Seed {
            profiles,
            tickets,
            seed,
            writers,
        } => {
            let mut options = desk_persistence::seed::SeedOptions::new(profiles, tickets, seed);
            if let Some(writers) = writers {
                options.loading = desk_persistence::seed::Loading::Parallel {
                    writers: usize::from(writers),
                };
            }
            seed_command(&config, &options)
        }
        Command::Profiles { action } => profiles(&config, action),
        Command::Reviews { action } => {
            crate::reviews_cli::reviews_command(&config, action).map_err(Failure::from)
        }
        Command::Digest { schedule } => {
            crate::reviews_cli::digest_command(&config, schedule).map_err(Failure::from)
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("desk: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(message)) => {
            eprintln!("desk: {message}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(config: &Config) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = match config.log_format.as_deref() {
        Some("json") => true,
        Some("pretty") => false,
        _ => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn open_database(url: &str, pool_size: u32) -> Result<Database, Failure> {
    Database::connect(url, pool_size).map_err(|e| Failure::Runtime(format!("database: {e}")))
}

fn serve(config: &Config, migrate_first: bool) -> Result<(), Failure> {
    let settings = config.validate_for_serve()?;
    // Templates are rendered once now; an unreachable relay is reported, not fatal (the
    // worker retries), a malformed setting is (validate_for_serve).
    let (_, mailer) = crate::queue_cli::mail_parts(&config.validate_mail()?)?;
    if let Err(error) = mailer.check() {
        tracing::warn!(%error, "the mail transport does not answer; notices will wait in the queue");
    }
    let web_settings = config.validate_web()?;
    let db = open_database(&settings.database_url, settings.pool_size)?;
    if migrate_first {
        let applied = db
            .migrate()
            .map_err(|e| Failure::Runtime(format!("migrations: {e}")))?;
        tracing::info!(applied, "migrations applied");
    } else if !db.migrations_current().unwrap_or(false) {
        tracing::warn!(
            "the database has pending migrations: run `desk migrate` (or `desk serve --migrate`)"
        );
    }
    let listener = TcpListener::bind(settings.bind)
        .map_err(|e| Failure::Runtime(format!("DESK_BIND {}: {e}", settings.bind)))?;
    let runtime = actix_web::rt::System::new();
    runtime.block_on(async move {
        let state = server::state_with_reviews(
            &settings,
            web_settings,
            db,
            server::system_clock(),
            crate::reviews_cli::ReviewKey::from_config(config),
        )?;
        server::run(state, listener)
            .await
            .map_err(|e| Failure::Runtime(format!("server: {e}")))
    })
}

fn migrate(config: &Config) -> Result<(), Failure> {
    let db = open_database(&config.require_database_url()?, 1)?;
    let applied = db
        .migrate()
        .map_err(|e| Failure::Runtime(format!("migrations: {e}")))?;
    println!("{applied} migration(s) applied; the schema is current.");
    Ok(())
}

fn seed_command(
    config: &Config,
    options: &desk_persistence::seed::SeedOptions,
) -> Result<(), Failure> {
    let writers = options.loading.writers().max(1) as u32;
    let db = open_database(&config.require_database_url()?, writers)?;
    crate::demo::seed_with_progress(&db, options).map_err(Failure::Runtime)?;
    Ok(())
}

fn profiles(config: &Config, action: ProfilesCommand) -> Result<(), Failure> {
    let db = open_database(&config.require_database_url()?, 1)?;
    match action {
        ProfilesCommand::List => {
            let all = db
                .all_profiles()
                .map_err(|e| Failure::Runtime(e.to_string()))?;
            println!(
                "{:>6}  {:<40}  {:<30}  {:<6}  {:<10}  {:<6}",
                "id", "email", "name", "staff", "superuser", "active"
            );
            for p in all {
                println!(
                    "{:>6}  {:<40}  {:<30}  {:<6}  {:<10}  {:<6}",
                    p.id.0,
                    p.email,
                    format!("{} {}", p.first_name, p.last_name).trim(),
                    p.is_staff,
                    p.is_superuser,
                    p.is_active
                );
            }
        }
        ProfilesCommand::Activate { email } => set_active(&db, &email, true)?,
        ProfilesCommand::Deactivate { email } => set_active(&db, &email, false)?,
    }
    Ok(())
}

fn set_active(db: &Database, email: &str, active: bool) -> Result<(), Failure> {
    let changed = db
        .set_profile_active(email, active)
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    if changed == 0 {
        return Err(Failure::Runtime(format!(
            "no profile with the e-mail address {email}"
        )));
    }
    println!(
        "{email}: {}",
        if active { "activated" } else { "deactivated" }
    );
    Ok(())
}

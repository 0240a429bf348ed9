//! Review requests and the daily digest on the worker's side (contract §5.3.5, §5.4;
//! decisions W4, W18, W28), the review tokens, and the operator commands
//! `desk reviews request TICKET_ID` and `desk digest [--schedule]`.
//!
//! Review tokens are HS256 JWTs (the client treats them as opaque) signed with a key derived
//! for that purpose only from `DESK_SECRET_KEY`: `HMAC-SHA256(secret, "desk review tokens v1")`.
//! Claims: `sub` (ticket id), `email` (the recipient), `jti` (a random id, spent by the first
//! review), `exp` (7 days after the e-mail was written).

use crate::config::{Config, Secret};
use crate::queue_cli::QueueFailure;
use crate::worker::JobRunner;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use clap::Subcommand;
use desk_domain::jobs::{Job, JobId, NewJob};
use desk_domain::ports::{JobQueue, ReviewClaims, ReviewTokens};
use desk_domain::usecases::{digest, reviews};
use desk_domain::{DomainError, TicketId};
use desk_persistence::jobs::ClaimedJob;
use desk_persistence::PgUnitOfWork;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// What the derivation signs: changing it invalidates every token issued before.
const PURPOSE: &[u8] = b"desk review tokens v1";
/// Priority of the e-mails of an operator's command (ahead of the backlog).
const OPERATOR_PRIORITY: i16 = 10;
/// The idempotency key of the pending daily digest.
pub const DIGEST_KEY: &str = "digest";

/// The review-token key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ReviewKey(Vec<u8>);

impl std::fmt::Debug for ReviewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReviewKey([redacted])")
    }
}

impl ReviewKey {
    /// The key of review tokens, derived from `DESK_SECRET_KEY`.
    pub fn derive(secret: &[u8]) -> ReviewKey {
        let mac = jsonwebtoken::crypto::sign(
            PURPOSE,
            &EncodingKey::from_secret(secret),
            Algorithm::HS256,
        )
        .expect("HMAC-SHA256 accepts any key");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(mac.as_bytes())
            .expect("jsonwebtoken encodes signatures as base64url");
        ReviewKey(bytes)
    }

    /// From the configuration; without `DESK_SECRET_KEY`, this process's random key (tokens
    /// then only work with a server of the same process: the demo, the tests).
    pub fn from_config(config: &Config) -> ReviewKey {
        match &config.secret_key {
            Some(Secret(secret)) if !secret.is_empty() => ReviewKey::derive(secret.as_bytes()),
            _ => ReviewKey::default(),
        }
    }
}

impl Default for ReviewKey {
    /// A random key, the same for the whole process.
    fn default() -> Self {
        static KEY: OnceLock<ReviewKey> = OnceLock::new();
        KEY.get_or_init(|| ReviewKey::derive(&rand::random::<[u8; 32]>()))
            .clone()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct TokenClaims {
    sub: i32,
    email: String,
    jti: String,
    exp: i64,
}

impl ReviewTokens for ReviewKey {
    fn issue(&self, claims: &ReviewClaims) -> String {
        let body = TokenClaims {
            sub: claims.ticket.0,
            email: claims.recipient.clone(),
            jti: claims.token_id.clone(),
            exp: claims.expires_at.timestamp(),
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &body,
            &EncodingKey::from_secret(&self.0),
        )
        .expect("claims serialize")
    }

    fn verify(&self, token: &str, now: DateTime<Utc>) -> Option<ReviewClaims> {
        if token.len() > 4096 {
            return None;
        }
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry against the injected clock, below.
        validation.validate_exp = false;
        validation.leeway = 0;
        validation.required_spec_claims = ["exp".to_string()].into_iter().collect();
        let data = jsonwebtoken::decode::<TokenClaims>(
            token,
            &DecodingKey::from_secret(&self.0),
            &validation,
        )
        .ok()?;
        let claims = data.claims;
        let expires_at = DateTime::<Utc>::from_timestamp(claims.exp, 0)?;
        if expires_at <= now || claims.jti.is_empty() {
            return None;
        }
        Some(ReviewClaims {
            ticket: TicketId(claims.sub),
            recipient: claims.email,
            token_id: claims.jti,
            expires_at,
        })
    }
}

/// What the review-request job needs.
#[derive(Debug, Clone, Default)]
pub struct ReviewJobSettings {
    /// `DESK_REVIEWS_DISABLED`: review requests send nothing.
    pub disabled: bool,
    pub key: ReviewKey,
}

impl ReviewJobSettings {
    pub fn from_config(config: &Config) -> ReviewJobSettings {
        ReviewJobSettings {
            disabled: config.reviews_disabled,
            key: ReviewKey::from_config(config),
        }
    }
}

fn new_token_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The review-request job: one `mail` job per recipient, each with its own token; nothing
/// when reviews are disabled or the ticket is not closed (any more). Returns how many.
pub fn request_reviews(
    runner: &JobRunner,
    uow: &mut PgUnitOfWork<'_>,
    ticket: TicketId,
    priority: i16,
) -> Result<usize, String> {
    if runner.reviews.disabled {
        return Ok(0);
    }
    let requests = reviews::review_requests(
        uow,
        &desk_domain::ports::SystemClock,
        &runner.reviews.key,
        ticket,
        &mut new_token_id,
    )
    .map_err(|e| e.to_string())?;
    for request in &requests {
        let mail = runner
            .templates
            .compose_review_request(&request.to, request.ticket, &request.token)
            .map_err(|e| e.to_string())?;
        uow.enqueue(&NewJob::now(Job::Mail(mail)).priority(priority))
            .map_err(|e| e.to_string())?;
    }
    Ok(requests.len())
}

/// One digest run as of `now`: one `mail` job per person; returns how many.
pub fn digest_mails(
    runner: &JobRunner,
    uow: &mut PgUnitOfWork<'_>,
    now: DateTime<Utc>,
    priority: i16,
) -> Result<usize, DomainError> {
    let link = |ticket: TicketId| runner.templates.ticket_link(ticket);
    let digests = digest::run_digest(uow, now, &link)?;
    for person in &digests {
        let upcoming: Vec<(TicketId, String)> = person
            .upcoming
            .iter()
            .map(|(t, d)| (*t, d.format("%m/%d/%Y").to_string()))
            .collect();
        let mail = runner
            .templates
            .compose_digest(&person.to, &person.name, &upcoming, &person.items)
            .map_err(|e| DomainError::Storage(e.to_string()))?;
        uow.enqueue(&NewJob::now(Job::Mail(mail)).priority(priority))?;
    }
    Ok(digests.len())
}

/// The daily digest job: first its successor, due a day later (so neither a failure of this
/// run nor a crash ends the chain), then the run itself in a savepoint. A failed run is
/// logged; its tickets keep their bookkeeping and come again tomorrow.
pub fn digest_job(
    runner: &JobRunner,
    uow: &mut PgUnitOfWork<'_>,
    claimed: &ClaimedJob,
) -> Result<(), String> {
    let now = Utc::now();
    schedule_digest(uow, Some(claimed.id), now + Duration::days(1)).map_err(|e| e.to_string())?;
    match uow.savepoint(|uow| digest_mails(runner, uow, now, 0)) {
        Ok(sent) => tracing::info!(sent, "daily digest: Sent {sent} notifications."),
        Err(error) => tracing::error!(%error, "daily digest failed; it runs again tomorrow"),
    }
    Ok(())
}

/// Enqueues the daily digest at `at` unless one is pending; `current` is the digest job
/// being run (its key is handed over to its successor).
pub fn schedule_digest(
    uow: &mut PgUnitOfWork<'_>,
    current: Option<JobId>,
    at: DateTime<Utc>,
) -> Result<Option<JobId>, DomainError> {
    if let Some(current) = current {
        uow.release_job_key(current)?;
    }
    uow.enqueue(&NewJob::now(Job::Digest).at(at).key(DIGEST_KEY))
}

#[derive(Debug, Subcommand)]
pub enum ReviewsCommand {
    /// Send the review request of a closed ticket now (its e-mails are delivered at once).
    Request { ticket_id: i32 },
}

/// `desk reviews request TICKET_ID`: renders the requests now and delivers the due e-mails.
pub fn request_now(runner: &JobRunner, ticket: TicketId) -> Result<usize, String> {
    let queued = runner
        .db
        .in_transaction(None, |uow| {
            request_reviews(runner, uow, ticket, OPERATOR_PRIORITY).map_err(DomainError::Storage)
        })
        .map_err(|e| e.to_string())?;
    runner.run_until_idle().map_err(|e| e.to_string())?;
    Ok(queued)
}

/// `desk digest`: runs the digest now and delivers the due e-mails.
pub fn digest_now(runner: &JobRunner) -> Result<usize, String> {
    let now = Utc::now();
    let queued = runner
        .db
        .in_transaction(None, |uow| {
            digest_mails(runner, uow, now, OPERATOR_PRIORITY)
        })
        .map_err(|e| e.to_string())?;
    runner.run_until_idle().map_err(|e| e.to_string())?;
    Ok(queued)
}

/// `desk digest --schedule`: the daily job, a day from now, unless one is pending.
pub fn digest_schedule(db: &desk_persistence::Database) -> Result<Option<JobId>, String> {
    db.in_transaction(None, |uow| {
        schedule_digest(uow, None, Utc::now() + Duration::days(1))
    })
    .map_err(|e| e.to_string())
}

fn operator_runner(config: &Config) -> Result<std::sync::Arc<JobRunner>, QueueFailure> {
    let db = desk_persistence::Database::connect(&config.require_database_url()?, 2)
        .map_err(|e| QueueFailure::Runtime(e.to_string()))?;
    let mail = config.validate_mail()?;
    crate::queue_cli::runner_with_reviews(db, &mail, ReviewJobSettings::from_config(config))
}

/// `desk reviews …`.
pub fn reviews_command(config: &Config, action: ReviewsCommand) -> Result<(), QueueFailure> {
    match action {
        ReviewsCommand::Request { ticket_id } => {
            let runner = operator_runner(config)?;
            let sent = request_now(&runner, TicketId(ticket_id)).map_err(QueueFailure::Runtime)?;
            if sent == 0 {
                return Err(QueueFailure::Runtime(format!(
                    "ticket {ticket_id}: nothing sent (no such closed ticket, nobody to ask, or DESK_REVIEWS_DISABLED)"
                )));
            }
            println!("Sent {sent} review request(s) for ticket {ticket_id}.");
        }
    }
    Ok(())
}

/// `desk digest [--schedule]`.
pub fn digest_command(config: &Config, schedule: bool) -> Result<(), QueueFailure> {
    if schedule {
        let db = desk_persistence::Database::connect(&config.require_database_url()?, 1)
            .map_err(|e| QueueFailure::Runtime(e.to_string()))?;
        match digest_schedule(&db).map_err(QueueFailure::Runtime)? {
            Some(id) => println!("Digest scheduled (job {id})."),
            None => println!("The daily digest is already scheduled."),
        }
    } else {
        let runner = operator_runner(config)?;
        let sent = digest_now(&runner).map_err(QueueFailure::Runtime)?;
        println!("Sent {sent} notifications.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(expires_at: DateTime<Utc>) -> ReviewClaims {
        ReviewClaims {
            ticket: TicketId(7),
            recipient: "ana@example.org".into(),
            token_id: "abc".into(),
            expires_at,
        }
    }

    #[test]
    fn a_token_verifies_with_its_key_only_and_until_it_expires() {
        let key = ReviewKey::derive(b"0123456789abcdef0123456789abcdef");
        let now = Utc::now();
        let wanted = claims(DateTime::from_timestamp(now.timestamp() + 60, 0).unwrap());
        let token = key.issue(&wanted);
        assert_eq!(key.verify(&token, now), Some(wanted));
        assert_eq!(key.verify(&token, now + Duration::seconds(61)), None);
        let other = ReviewKey::derive(b"another secret, another key......");
        assert_eq!(other.verify(&token, now), None);
        // Not the main secret itself: a token signed with it is refused.
        let raw = ReviewKey(b"0123456789abcdef0123456789abcdef".to_vec());
        assert_eq!(
            key.verify(&raw.issue(&claims(now + Duration::days(1))), now),
            None
        );
        for junk in ["", "abc", "a.b.c", &token[..token.len() - 2]] {
            assert_eq!(key.verify(junk, now), None, "{junk}");
        }
        assert!(!format!("{key:?}").contains('0'));
    }
}

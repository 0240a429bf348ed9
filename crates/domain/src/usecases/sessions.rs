//! Browser sessions (OPERATIONS "Authentication modes", BEHAVIOUR §7.4): the rules for a
//! session's lifetime and the pre-login records of the OpenID Connect code flow.
//!
//! The cookie holds a random token; only its hash reaches this module and the database, so a
//! leaked table cannot be replayed. A session ends at the first of: its absolute lifetime, its
//! idle timeout, a logout, a back-channel logout, or its profile becoming inactive.

use crate::error::{DomainError, DomainResult};
use crate::model::ProfileId;
use crate::policy::Actor;
use crate::ports::{ProfileRepository, RepoResult};
use chrono::{DateTime, Duration, Utc};

/// `last_seen_at` is written at most this often, so a busy client does not turn every read
/// into a write.
pub const TOUCH_INTERVAL_SECS: i64 = 60;

/// How long a session may live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Ends a session nobody used for this long.
    pub idle: Duration,
    /// Ends a session this long after login, however busy.
    pub max: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle: Duration::hours(8),
            max: Duration::days(14),
        }
    }
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i32,
    pub profile: ProfileId,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub idle_expires_at: DateTime<Utc>,
    /// The provider's ID token, kept as the `id_token_hint` of RP-initiated logout.
    pub id_token: Option<String>,
}

/// A session to store at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub token_hash: Vec<u8>,
    pub profile: ProfileId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub idle_expires_at: DateTime<Utc>,
    /// The provider's session id (`sid`), for back-channel logout.
    pub oidc_sid: Option<String>,
    pub oidc_subject: Option<String>,
    pub id_token: Option<String>,
}

/// A pending login: what the callback needs to finish the code flow it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginAttempt {
    pub state_hash: Vec<u8>,
    pub nonce: String,
    pub pkce_verifier: String,
    pub next_path: String,
    pub expires_at: DateTime<Utc>,
}

/// How long a started login may take before its callback is refused.
pub const LOGIN_ATTEMPT_SECS: i64 = 600;

/// Storage of sessions and pending logins (implemented by the persistence adapter).
pub trait SessionRepository {
    fn insert_session(&mut self, session: &NewSession) -> RepoResult<()>;
    fn session_by_token_hash(&mut self, token_hash: &[u8]) -> RepoResult<Option<Session>>;
    fn touch_session(
        &mut self,
        id: i32,
        last_seen_at: DateTime<Utc>,
        idle_expires_at: DateTime<Utc>,
    ) -> RepoResult<()>;
    fn delete_session(&mut self, id: i32) -> RepoResult<()>;
    /// Deletes the sessions a back-channel logout names; returns how many.
    fn delete_sessions_of_provider(
        &mut self,
        sid: Option<&str>,
        subject: Option<&str>,
    ) -> RepoResult<usize>;
    fn insert_login_attempt(&mut self, attempt: &LoginAttempt) -> RepoResult<()>;
    /// Removes and returns the attempt (single use), expired or not.
    fn take_login_attempt(&mut self, state_hash: &[u8]) -> RepoResult<Option<LoginAttempt>>;
    /// Forgets attempts that expired before `now`.
    fn purge_login_attempts(&mut self, now: DateTime<Utc>) -> RepoResult<()>;
}

/// What a stored session is worth at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Expired,
    /// Valid; `last_seen_at` is recent enough to leave alone.
    Valid,
    /// Valid; record the use (and push the idle deadline).
    ValidTouch,
}

/// The lifetime rule, as a pure function.
pub fn freshness(session: &Session, now: DateTime<Utc>) -> Freshness {
    if now >= session.expires_at || now >= session.idle_expires_at {
        Freshness::Expired
    } else if now - session.last_seen_at >= Duration::seconds(TOUCH_INTERVAL_SECS) {
        Freshness::ValidTouch
    } else {
        Freshness::Valid
    }
}

/// The idle deadline after a use at `now`, never beyond the absolute one.
pub fn idle_deadline(
    policy: &SessionPolicy,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> DateTime<Utc> {
    (now + policy.idle).min(expires_at)
}

/// Starts a new session for `profile` (a new one at every login, so a session id planted
/// before login is worthless).
pub fn start_session(
    uow: &mut impl SessionRepository,
    policy: &SessionPolicy,
    now: DateTime<Utc>,
    mut session: NewSession,
) -> DomainResult<()> {
    session.created_at = now;
    session.expires_at = now + policy.max;
    session.idle_expires_at = idle_deadline(policy, now, session.expires_at);
    uow.insert_session(&session)
}

/// The caller behind a session token hash, or `None` when the session is unknown, expired,
/// or its profile is inactive (such a session is deleted: it will never authenticate again).
/// Roles are those stored on the profile, refreshed at each login.
pub fn authenticate<U>(
    uow: &mut U,
    policy: &SessionPolicy,
    now: DateTime<Utc>,
    token_hash: &[u8],
) -> DomainResult<Option<Actor>>
where
    U: SessionRepository + ProfileRepository,
{
    let Some(session) = uow.session_by_token_hash(token_hash)? else {
        return Ok(None);
    };
    match freshness(&session, now) {
        Freshness::Expired => {
            uow.delete_session(session.id)?;
            return Ok(None);
        }
        Freshness::ValidTouch => {
            let idle = idle_deadline(policy, now, session.expires_at);
            uow.touch_session(session.id, now, idle)?;
        }
        Freshness::Valid => {}
    }
    match uow.profile(session.profile)? {
        Some(profile) if profile.is_active => Ok(Some(Actor {
            id: profile.id,
            is_staff: profile.is_staff,
            is_superuser: profile.is_superuser,
        })),
        _ => {
            uow.delete_session(session.id)?;
            Ok(None)
        }
    }
}

/// Ends the session of this token hash, if any; returns it (its ID token serves as the hint
/// of RP-initiated logout).
pub fn end_session(
    uow: &mut impl SessionRepository,
    token_hash: &[u8],
) -> DomainResult<Option<Session>> {
    let session = uow.session_by_token_hash(token_hash)?;
    if let Some(session) = &session {
        uow.delete_session(session.id)?;
    }
    Ok(session)
}

/// Records a started login; stale attempts are purged on the way.
pub fn begin_login(
    uow: &mut impl SessionRepository,
    now: DateTime<Utc>,
    mut attempt: LoginAttempt,
) -> DomainResult<()> {
    uow.purge_login_attempts(now)?;
    attempt.expires_at = now + Duration::seconds(LOGIN_ATTEMPT_SECS);
    uow.insert_login_attempt(&attempt)
}

/// Why a callback cannot continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAttemptProblem {
    /// Unknown state: forged, or already used (replay).
    Unknown,
    Expired,
}

/// Consumes the attempt of this state hash: usable once, and only before it expires.
pub fn finish_login(
    uow: &mut impl SessionRepository,
    now: DateTime<Utc>,
    state_hash: &[u8],
) -> DomainResult<Result<LoginAttempt, LoginAttemptProblem>> {
    Ok(match uow.take_login_attempt(state_hash)? {
        None => Err(LoginAttemptProblem::Unknown),
        Some(attempt) if now >= attempt.expires_at => Err(LoginAttemptProblem::Expired),
        Some(attempt) => Ok(attempt),
    })
}

/// Ends every session a back-channel logout names (by `sid`, else by `sub`).
pub fn provider_logout(
    uow: &mut impl SessionRepository,
    sid: Option<&str>,
    subject: Option<&str>,
) -> DomainResult<usize> {
    if sid.is_none() && subject.is_none() {
        return Err(DomainError::Forbidden);
    }
    uow.delete_sessions_of_provider(sid, subject)
}

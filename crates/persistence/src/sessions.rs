//! `SessionRepository`: browser sessions and pending logins (only hashes of the cookie token
//! and of the `state` are stored).

use crate::error::storage;
use crate::schema::{login_attempts, sessions};
use crate::uow::PgUnitOfWork;
use chrono::{DateTime, Utc};
use desk_domain::ports::RepoResult;
use desk_domain::usecases::sessions::{LoginAttempt, NewSession, Session, SessionRepository};
use desk_domain::ProfileId;
use diesel::prelude::*;

type SessionRow = (
    i32,
    i32,
    DateTime<Utc>,
    DateTime<Utc>,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<String>,
);

type AttemptRow = (Vec<u8>, String, String, String, DateTime<Utc>);

impl SessionRepository for PgUnitOfWork<'_> {
    fn insert_session(&mut self, s: &NewSession) -> RepoResult<()> {
        diesel::insert_into(sessions::table)
            .values((
                sessions::token_hash.eq(&s.token_hash),
                sessions::profile_id.eq(s.profile.0),
                sessions::created_at.eq(s.created_at),
                sessions::last_seen_at.eq(s.created_at),
                sessions::expires_at.eq(s.expires_at),
                sessions::idle_expires_at.eq(s.idle_expires_at),
                sessions::oidc_sid.eq(&s.oidc_sid),
                sessions::oidc_subject.eq(&s.oidc_subject),
                sessions::id_token.eq(&s.id_token),
            ))
            .execute(self.conn)
            .map_err(storage)?;
        Ok(())
    }

    fn session_by_token_hash(&mut self, token_hash: &[u8]) -> RepoResult<Option<Session>> {
        let row: Option<SessionRow> = sessions::table
            .filter(sessions::token_hash.eq(token_hash))
            .select((
                sessions::id,
                sessions::profile_id,
                sessions::created_at,
                sessions::last_seen_at,
                sessions::expires_at,
                sessions::idle_expires_at,
                sessions::id_token,
            ))
            .first(self.conn)
            .optional()
            .map_err(storage)?;
        Ok(row.map(
            |(id, profile, created_at, last_seen_at, expires_at, idle_expires_at, id_token)| {
                Session {
                    id,
                    profile: ProfileId(profile),
                    created_at,
                    last_seen_at,
                    expires_at,
                    idle_expires_at,
                    id_token,
                }
            },
        ))
    }

    fn touch_session(
        &mut self,
        id: i32,
        last_seen_at: DateTime<Utc>,
        idle_expires_at: DateTime<Utc>,
    ) -> RepoResult<()> {
        diesel::update(sessions::table.find(id))
            .set((
                sessions::last_seen_at.eq(last_seen_at),
                sessions::idle_expires_at.eq(idle_expires_at),
            ))
            .execute(self.conn)
            .map_err(storage)?;
        Ok(())
    }

    fn delete_session(&mut self, id: i32) -> RepoResult<()> {
        diesel::delete(sessions::table.find(id))
            .execute(self.conn)
            .map_err(storage)?;
        Ok(())
    }

    fn delete_sessions_of_provider(
        &mut self,
        sid: Option<&str>,
        subject: Option<&str>,
    ) -> RepoResult<usize> {
        let deleted = match (sid, subject) {
            (Some(sid), _) => diesel::delete(sessions::table.filter(sessions::oidc_sid.eq(sid)))
                .execute(self.conn),
            (None, Some(sub)) => {
                diesel::delete(sessions::table.filter(sessions::oidc_subject.eq(sub)))
                    .execute(self.conn)
            }
            (None, None) => Ok(0),
        };
        deleted.map_err(storage)
    }

    fn insert_login_attempt(&mut self, a: &LoginAttempt) -> RepoResult<()> {
        diesel::insert_into(login_attempts::table)
            .values((
                login_attempts::state_hash.eq(&a.state_hash),
                login_attempts::nonce.eq(&a.nonce),
                login_attempts::pkce_verifier.eq(&a.pkce_verifier),
                login_attempts::next_path.eq(&a.next_path),
                login_attempts::expires_at.eq(a.expires_at),
            ))
            .execute(self.conn)
            .map_err(storage)?;
        Ok(())
    }

    fn take_login_attempt(&mut self, state_hash: &[u8]) -> RepoResult<Option<LoginAttempt>> {
        // DELETE … RETURNING: two concurrent callbacks with the same state cannot both win.
        let row: Option<AttemptRow> = diesel::delete(login_attempts::table.find(state_hash))
            .returning((
                login_attempts::state_hash,
                login_attempts::nonce,
                login_attempts::pkce_verifier,
                login_attempts::next_path,
                login_attempts::expires_at,
            ))
            .get_result(self.conn)
            .optional()
            .map_err(storage)?;
        Ok(row.map(
            |(state_hash, nonce, pkce_verifier, next_path, expires_at)| LoginAttempt {
                state_hash,
                nonce,
                pkce_verifier,
                next_path,
                expires_at,
            },
        ))
    }

    fn purge_login_attempts(&mut self, now: DateTime<Utc>) -> RepoResult<()> {
        diesel::delete(login_attempts::table.filter(login_attempts::expires_at.lt(now)))
            .execute(self.conn)
            .map_err(storage)?;
        Ok(())
    }
}

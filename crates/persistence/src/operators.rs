//! Operator tasks of the command line (`desk profiles …`, the demo's welcome): plain
//! queries outside any request, not part of the domain's ports.

use crate::database::Database;
use crate::error::PersistenceError;
use crate::models::ProfileRow;
use crate::schema::profiles;
use desk_domain::Profile;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;

impl Database {
    /// Every profile, by id.
    pub fn all_profiles(&self) -> Result<Vec<Profile>, PersistenceError> {
        let mut conn = self.connection()?;
        let rows: Vec<ProfileRow> = profiles::table
            .select(ProfileRow::as_select())
            .order(profiles::id.asc())
            .load(&mut conn)
            .map_err(PersistenceError::Query)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub fn profile_count(&self) -> Result<i64, PersistenceError> {
        let mut conn = self.connection()?;
        profiles::table
            .count()
            .get_result(&mut conn)
            .map_err(PersistenceError::Query)
    }

    /// (De)activates the profile with this e-mail (case-insensitively); returns how many
    /// profiles changed (0 = no such e-mail).
    pub fn set_profile_active(&self, email: &str, active: bool) -> Result<usize, PersistenceError> {
        let email = email.trim();
        if email.is_empty() {
            return Ok(0);
        }
        let mut conn = self.connection()?;
        diesel::update(profiles::table)
            .filter(
                sql::<Bool>("lower(email) = lower(")
                    .bind::<diesel::sql_types::Text, _>(email)
                    .sql(")"),
            )
            .set((
                profiles::is_active.eq(active),
                profiles::updated_at.eq(diesel::dsl::now),
            ))
            .execute(&mut conn)
            .map_err(PersistenceError::Query)
    }
}

//! `ProfileRepository` and `IdentityRepository`.

use crate::error::storage;
use crate::fragments::{batch_ids, static_sql, StaticSql};
use crate::models::ProfileRow;
use crate::schema::{profile_identities, profiles};
use crate::uow::PgUnitOfWork;
use desk_domain::listing::{PageSlice, ProfileFilter};
use desk_domain::policy::ProfileScope;
use desk_domain::ports::{IdentityRepository, ProfileDetails, ProfileRepository, RepoResult};
use desk_domain::*;
use diesel::dsl::{now, sql};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

diesel::define_sql_function!(fn lower(x: Text) -> Text);

type ProfilePredicate = Box<dyn BoxableExpression<profiles::table, Pg, SqlType = Bool>>;

/// `tickets-count` of the profile row in scope (§1.1): all tickets for a superuser, else the
/// distinct tickets it requested, responds to or is subscribed to with its profile. Both
/// are counters kept by triggers, read as a few rows per profile: `ticket_status_counts`
/// (every ticket) and `profile_ticket_counts` (the size of the profile's set in
/// `ticket_participants`).
pub(crate) fn tickets_count() -> StaticSql<BigInt> {
    static_sql::<BigInt>(
        "CASE WHEN profiles.is_superuser \
         THEN (SELECT coalesce(sum(n), 0)::bigint FROM ticket_status_counts) \
         ELSE (SELECT coalesce(sum(c.n), 0)::bigint FROM profile_ticket_counts c \
               WHERE c.profile_id = profiles.id) END",
    )
}

fn profile_predicate(scope: ProfileScope, filter: &ProfileFilter) -> ProfilePredicate {
    let mut pred: ProfilePredicate = match scope {
        ProfileScope::Active => Box::new(profiles::is_active.eq(true)),
        ProfileScope::Only(id) => Box::new(profiles::id.eq(id.0).and(profiles::is_active.eq(true))),
    };
    if let Some(name) = &filter.name {
        // A literal substring (no LIKE wildcards to escape); lower() follows the database's
        // UTF-8 ctype, so Cyrillic and diacritics compare case-insensitively.
        let matches =
            sql::<Bool>("strpos(lower(profiles.first_name || ' ' || profiles.last_name), lower(")
                .bind::<Text, _>(name.clone())
                .sql(")) > 0");
        pred = Box::new(pred.and(matches));
    }
    if let Some(staff) = filter.is_staff {
        pred = Box::new(pred.and(profiles::is_staff.eq(staff)));
    }
    if let Some(superuser) = filter.is_superuser {
        pred = Box::new(pred.and(profiles::is_superuser.eq(superuser)));
    }
    pred
}

fn views(rows: Vec<(ProfileRow, i64)>) -> Vec<ProfileView> {
    rows.into_iter()
        .map(|(row, tickets_count)| ProfileView {
            profile: row.into(),
            tickets_count,
        })
        .collect()
}

impl ProfileRepository for PgUnitOfWork<'_> {
    fn profile(&mut self, id: ProfileId) -> RepoResult<Option<Profile>> {
        let row: Option<ProfileRow> = profiles::table
            .select(ProfileRow::as_select())
            .find(id.0)
            .first(self.conn)
            .optional()
            .map_err(storage)?;
        Ok(row.map(Into::into))
    }

    fn profile_views(&mut self, ids: &[ProfileId]) -> RepoResult<Vec<ProfileView>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = batch_ids(ids.iter().map(|p| p.0));
        let rows = profiles::table
            .select((ProfileRow::as_select(), tickets_count()))
            .filter(profiles::id.eq_any(ids))
            .load(self.conn)
            .map_err(storage)?;
        Ok(views(rows))
    }

    fn count_profiles(&mut self, scope: ProfileScope, filter: &ProfileFilter) -> RepoResult<i64> {
        profiles::table
            .filter(profile_predicate(scope, filter))
            .count()
            .get_result(self.conn)
            .map_err(storage)
    }

    fn list_profiles(
        &mut self,
        scope: ProfileScope,
        filter: &ProfileFilter,
        page: PageSlice,
    ) -> RepoResult<Vec<ProfileView>> {
        let rows = profiles::table
            .select((ProfileRow::as_select(), tickets_count()))
            .filter(profile_predicate(scope, filter))
            .order(profiles::id.asc())
            .limit(page.size)
            .offset(page.offset())
            .load(self.conn)
            .map_err(storage)?;
        Ok(views(rows))
    }

    fn set_bio(&mut self, id: ProfileId, bio: Option<&str>) -> RepoResult<()> {
        let n = diesel::update(profiles::table.find(id.0))
            .set((profiles::bio.eq(bio), profiles::updated_at.eq(now)))
            .execute(self.conn)
            .map_err(storage)?;
        if n == 0 {
            return Err(DomainError::NotFound);
        }
        Ok(())
    }
}

impl IdentityRepository for PgUnitOfWork<'_> {
    fn profile_by_identity(&mut self, issuer: &str, subject: &str) -> RepoResult<Option<Profile>> {
        let view = self.identity_lookup(issuer, subject)?;
        Ok(view.map(|view| view.profile))
    }

    fn profile_view_by_identity(
        &mut self,
        issuer: &str,
        subject: &str,
    ) -> RepoResult<Option<ProfileView>> {
        self.identity_lookup(issuer, subject)
    }

    fn unlinked_profiles_by_email(&mut self, email: &str) -> RepoResult<Vec<Profile>> {
        if email.is_empty() {
            // '' means "no e-mail" (machine accounts); it identifies nobody.
            return Ok(Vec::new());
        }
        let rows: Vec<ProfileRow> = profiles::table
            .select(ProfileRow::as_select())
            .filter(lower(profiles::email).eq(lower(email)))
            .filter(diesel::dsl::not(diesel::dsl::exists(
                profile_identities::table.filter(profile_identities::profile_id.eq(profiles::id)),
            )))
            .order(profiles::id.asc())
            .load(self.conn)
            .map_err(storage)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    fn email_in_use(&mut self, email: &str) -> RepoResult<bool> {
        if email.is_empty() {
            return Ok(false);
        }
        diesel::select(diesel::dsl::exists(
            profiles::table.filter(lower(profiles::email).eq(lower(email))),
        ))
        .get_result(self.conn)
        .map_err(storage)
    }

    fn insert_profile(&mut self, details: &ProfileDetails) -> RepoResult<Profile> {
        let row: ProfileRow = diesel::insert_into(profiles::table)
            .values((
                profiles::email.eq(&details.email),
                profiles::first_name.eq(&details.first_name),
                profiles::last_name.eq(&details.last_name),
                profiles::is_staff.eq(details.is_staff),
                profiles::is_superuser.eq(details.is_superuser),
            ))
            .returning(ProfileRow::as_returning())
            .get_result(self.conn)
            .map_err(storage)?;
        Ok(row.into())
    }

    fn link_identity(&mut self, profile: ProfileId, issuer: &str, subject: &str) -> RepoResult<()> {
        diesel::insert_into(profile_identities::table)
            .values((
                profile_identities::profile_id.eq(profile.0),
                profile_identities::issuer.eq(issuer),
                profile_identities::subject.eq(subject),
            ))
            .execute(self.conn)
            .map_err(storage)?;
        Ok(())
    }

    fn update_profile_details(
        &mut self,
        profile: ProfileId,
        details: &ProfileDetails,
    ) -> RepoResult<Profile> {
        let row: Option<ProfileRow> = diesel::update(profiles::table.find(profile.0))
            .set((
                profiles::email.eq(&details.email),
                profiles::first_name.eq(&details.first_name),
                profiles::last_name.eq(&details.last_name),
                profiles::is_staff.eq(details.is_staff),
                profiles::is_superuser.eq(details.is_superuser),
                profiles::updated_at.eq(now),
            ))
            .returning(ProfileRow::as_returning())
            .get_result(self.conn)
            .optional()
            .map_err(storage)?;
        row.map(Into::into).ok_or(DomainError::NotFound)
    }
}

/// Publishes the profile a sign-in found as the transaction's `desk.actor_id`, in the
/// look-up's own statement: every bearer request signs in first, so this saves it a round
/// trip, and [`PgUnitOfWork::set_actor`] then has nothing left to do (a cookie session
/// still publishes through `set_actor`). If the sign-in is refused (inactive profile), the
/// transaction rolls back with the setting.
const PUBLISH_AS_ACTOR: &str = "set_config('desk.actor_id', \"profiles\".\"id\"::text, true)";

impl PgUnitOfWork<'_> {
    /// The profile of (issuer, subject) with its `tickets-count`. The count is one index
    /// range of a few counter rows; the list keeps it as the size of the caller's scope
    /// (`PgUnitOfWork::signed_in_tickets`).
    fn identity_lookup(&mut self, issuer: &str, subject: &str) -> RepoResult<Option<ProfileView>> {
        if let Some(found) = self.find_identity(issuer, subject)? {
            return Ok(Some(found));
        }
        if !self.in_transaction {
            // `Database::read_first`'s read: a lock would end with its own statement. The
            // first sign-in is left to the transactional path, which takes it.
            return Ok(None);
        }
        // Not known yet: the caller is about to create or link a profile. Concurrent first
        // requests of one identity would race to insert the same identity and profile; an
        // advisory lock of this identity, held until the transaction ends, lets the first
        // finish, and the others then find its (committed) identity on the look-up below.
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<Text, _>(format!("{issuer}\u{1f}{subject}"))
            .execute(self.conn)
            .map_err(storage)?;
        self.find_identity(issuer, subject)
    }

    fn find_identity(&mut self, issuer: &str, subject: &str) -> RepoResult<Option<ProfileView>> {
        let row: Option<(ProfileRow, i64, String)> = profiles::table
            .inner_join(profile_identities::table)
            .filter(profile_identities::issuer.eq(issuer))
            .filter(profile_identities::subject.eq(subject))
            .select((
                ProfileRow::as_select(),
                tickets_count(),
                static_sql::<Text>(PUBLISH_AS_ACTOR),
            ))
            .first(self.conn)
            .optional()
            .map_err(storage)?;
        let view = row.map(|(row, tickets_count, _)| ProfileView {
            profile: row.into(),
            tickets_count,
        });
        if let Some(view) = &view {
            self.published_actor = Some(view.profile.id);
            self.signed_in_tickets = Some((view.profile.id, view.tickets_count));
        }
        Ok(view)
    }
}

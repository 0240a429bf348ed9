//! Shared fixtures of the domain's integration tests: a `mockall` unit of work implementing
//! every port trait of `desk_domain::ports`, a fixed clock, and builders for profiles and
//! tickets. Each test file uses only part of it.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use desk_domain::activity::{Activity, NewActivity};
use desk_domain::jobs::{JobId, NewJob};
use desk_domain::listing::{
    Direction, PageSlice, ProfileFilter, StatusTotals, TicketFilter, TicketSortField,
};
use desk_domain::policy::{ProfileScope, Scope, TicketRelation};
use desk_domain::ports::{
    ActivityRepository, Clock, CommentRepository, IdentityRepository, JobQueue, ProfileDetails,
    ProfileRepository, RepoResult, TicketLinks, TicketRepository,
};
use desk_domain::*;
use serde_json::{Map, Value};

mockall::mock! {
    /// One request's unit of work: every repository of the ports module.
    pub Uow {}

    impl ProfileRepository for Uow {
        fn profile(&mut self, id: ProfileId) -> RepoResult<Option<Profile>>;
        fn profile_views(&mut self, ids: &[ProfileId]) -> RepoResult<Vec<ProfileView>>;
        fn count_profiles(&mut self, scope: ProfileScope, filter: &ProfileFilter) -> RepoResult<i64>;
        fn list_profiles(
            &mut self,
            scope: ProfileScope,
            filter: &ProfileFilter,
            page: PageSlice,
        ) -> RepoResult<Vec<ProfileView>>;
        fn set_bio<'a>(&mut self, id: ProfileId, bio: Option<&'a str>) -> RepoResult<()>;
    }

    impl IdentityRepository for Uow {
        fn profile_by_identity(&mut self, issuer: &str, subject: &str) -> RepoResult<Option<Profile>>;
        fn profile_view_by_identity(
            &mut self,
            issuer: &str,
            subject: &str,
        ) -> RepoResult<Option<ProfileView>>
        where
            Self: ProfileRepository;
        fn unlinked_profiles_by_email(&mut self, email: &str) -> RepoResult<Vec<Profile>>;
        fn email_in_use(&mut self, email: &str) -> RepoResult<bool>;
        fn insert_profile(&mut self, details: &ProfileDetails) -> RepoResult<Profile>;
        fn link_identity(&mut self, profile: ProfileId, issuer: &str, subject: &str) -> RepoResult<()>;
        fn update_profile_details(
            &mut self,
            profile: ProfileId,
            details: &ProfileDetails,
        ) -> RepoResult<Profile>;
    }

    impl TicketRepository for Uow {
        fn ticket(&mut self, scope: Scope, id: TicketId) -> RepoResult<Option<Ticket>>;
        fn ticket_for_update(&mut self, scope: Scope, id: TicketId) -> RepoResult<Option<Ticket>>;
        fn relation(&mut self, ticket: TicketId, profile: ProfileId) -> RepoResult<TicketRelation>;
        fn status_totals(&mut self, scope: Scope, filter: &TicketFilter) -> RepoResult<StatusTotals>;
        fn list_tickets(
            &mut self,
            scope: Scope,
            filter: &TicketFilter,
            sort: &[(TicketSortField, Direction)],
            page: PageSlice,
        ) -> RepoResult<Vec<Ticket>>;
        fn insert_ticket(
            &mut self,
            requester: ProfileId,
            content: &TicketContent,
            at: DateTime<Utc>,
        ) -> RepoResult<Ticket>;
        fn update_ticket(
            &mut self,
            id: TicketId,
            content: &TicketContent,
            at: DateTime<Utc>,
        ) -> RepoResult<Ticket>;
        fn ticket_links(&mut self, ids: &[TicketId]) -> RepoResult<TicketLinks>;
    }

    impl CommentRepository for Uow {
        fn insert_comment(
            &mut self,
            ticket: TicketId,
            author: ProfileId,
            body: &str,
            at: DateTime<Utc>,
        ) -> RepoResult<Comment>;
    }

    impl ActivityRepository for Uow {
        fn record_activity(&mut self, activity: &NewActivity) -> RepoResult<Activity>;
    }

    impl JobQueue for Uow {
        fn enqueue(&mut self, job: &NewJob) -> RepoResult<Option<JobId>>;
    }
}

/// No pending e-mail subscriptions in these tests: claiming them at first sign-in finds none.
/// (Hand-written so that sign-in tests need no expectation for it.)
impl desk_domain::ports::SubscriptionClaims for MockUow {
    fn claim_email_subscriptions(
        &mut self,
        _profile: ProfileId,
        _email: &str,
    ) -> RepoResult<Vec<Subscriber>> {
        Ok(Vec::new())
    }
}

/// "Now" of every test: 2026-11-22T06:00:00Z.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 6, 0, 0).unwrap()
}

pub fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, s).unwrap()
}

/// A clock stopped at a fixed instant.
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

pub fn clock() -> FixedClock {
    FixedClock(now())
}

pub fn plain(id: i32) -> Actor {
    Actor {
        id: ProfileId(id),
        is_staff: false,
        is_superuser: false,
    }
}

pub fn staff(id: i32) -> Actor {
    Actor {
        id: ProfileId(id),
        is_staff: true,
        is_superuser: false,
    }
}

pub fn superuser(id: i32) -> Actor {
    Actor {
        id: ProfileId(id),
        is_staff: false,
        is_superuser: true,
    }
}

pub fn profile(id: i32) -> Profile {
    Profile {
        id: ProfileId(id),
        email: format!("user{id}@example.org"),
        first_name: format!("First{id}"),
        last_name: format!("Last{id}"),
        is_staff: false,
        is_superuser: false,
        is_active: true,
        bio: None,
        locale: String::new(),
        country: String::new(),
    }
}

pub fn view(profile: Profile) -> ProfileView {
    ProfileView {
        profile,
        tickets_count: 1,
    }
}

/// The JSON object of a `json!({...})` literal.
pub fn attrs(value: Value) -> Map<String, Value> {
    value.as_object().expect("an object literal").clone()
}

/// The activity row a repository returns for a recorded activity.
pub fn recorded(activity: &NewActivity) -> Activity {
    Activity {
        id: ActivityId(900),
        actor: activity.actor,
        verb: activity.verb.as_wire(),
        ticket: activity.ticket,
        action: activity.action,
        timestamp: activity.at,
    }
}

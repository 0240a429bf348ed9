//! The profile use cases (`usecases::profiles`: `/me`, the list, one profile, the bio update;
//! ME2, PF2–PF9, W19) and signing in (`usecases::identity::sign_in`: profiles by (issuer,
//! subject), roles and names kept in step with the provider, first logins creating or — only
//! for verified e-mails — linking a profile (W3), inactive profiles refused (W14), long names
//! clipped), against a mocked unit of work.

mod support;

use desk_domain::listing::{PageSlice, Params, ProfileFilter};
use desk_domain::policy::ProfileScope;
use desk_domain::ports::{IdentityClaims, ProfileDetails};
use desk_domain::usecases::identity::{
    sign_in, sign_in_viewing, view_if_signed_in, SignInRefusal, MAX_NAME_CHARS,
};
use desk_domain::usecases::profiles::{get_profile, list_profiles, me, update_profile};
use desk_domain::*;
use mockall::predicate::eq;
use serde_json::json;
use support::*;

const ME: i32 = 10;
const OTHER: i32 = 20;
const ROOT: i32 = 1;

fn params(pairs: &[(&str, &str)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `profile_views(&[id])` answers with that profile (active or not), any number of times.
fn expect_views(uow: &mut MockUow, profiles: Vec<Profile>) {
    uow.expect_profile_views().returning(move |ids| {
        Ok(profiles
            .iter()
            .filter(|p| ids.contains(&p.id))
            .cloned()
            .map(view)
            .collect())
    });
}

// ---- /me -------------------------------------------------------------------------------------

/// `profile_views(&[ME])` is read exactly once and answers `profile` with `tickets_count`.
fn expect_own_view(uow: &mut MockUow, profile: Profile, tickets_count: i64) {
    uow.expect_profile_views()
        .withf(|ids| ids == [ProfileId(ME)])
        .times(1)
        .return_once(move |_| {
            Ok(vec![ProfileView {
                profile,
                tickets_count,
            }])
        });
}

#[test]
fn me_is_the_callers_own_profile() {
    let mut uow = MockUow::new();
    expect_own_view(&mut uow, profile(ME), 2);
    let view = me(&mut uow, &plain(ME)).unwrap();
    assert_eq!(view.profile.id, ProfileId(ME));
    assert_eq!(view.tickets_count, 2);

    let mut uow = MockUow::new();
    uow.expect_profile_views().returning(|_| Ok(vec![]));
    assert!(matches!(
        me(&mut uow, &plain(ME)),
        Err(DomainError::NotFound)
    ));
}

// ---- the list --------------------------------------------------------------------------------

#[test]
fn a_non_superuser_lists_only_themself_and_filters_are_ignored() {
    // PF2, PF3 (staff too).
    for actor in [plain(ME), staff(ME)] {
        let mut uow = MockUow::new();
        let scope = ProfileScope::Only(ProfileId(ME));
        uow.expect_count_profiles()
            .with(eq(scope), eq(ProfileFilter::default()))
            .times(1)
            .returning(|_, _| Ok(1));
        uow.expect_list_profiles()
            .with(
                eq(scope),
                eq(ProfileFilter::default()),
                eq(PageSlice {
                    number: 1,
                    size: 30,
                    last: 1,
                }),
            )
            .times(1)
            .returning(|_, _, _| Ok(vec![view(profile(ME))]));
        let list = list_profiles(
            &mut uow,
            &actor,
            &params(&[("filter[name]", "someone"), ("filter[is_staff]", "true")]),
        )
        .unwrap();
        assert_eq!(list.profiles.len(), 1);
        assert_eq!(list.profiles[0].profile.id, ProfileId(ME));
    }
}

#[test]
fn a_superuser_lists_active_profiles_with_filters() {
    // PF4, PF5.
    let filter = ProfileFilter {
        name: Some("tan".into()),
        is_staff: Some(true),
        is_superuser: Some(false),
    };
    let mut uow = MockUow::new();
    uow.expect_count_profiles()
        .with(eq(ProfileScope::Active), eq(filter.clone()))
        .times(1)
        .returning(|_, _| Ok(45));
    uow.expect_list_profiles()
        .with(
            eq(ProfileScope::Active),
            eq(filter),
            eq(PageSlice {
                number: 2,
                size: 20,
                last: 3,
            }),
        )
        .times(1)
        .returning(|_, _, _| Ok(vec![view(profile(OTHER))]));
    let list = list_profiles(
        &mut uow,
        &superuser(ROOT),
        &params(&[
            ("filter[name]", " tan "),
            ("filter[is_staff]", "true"),
            ("filter[is_superuser]", "0"),
            ("page[number]", "2"),
            ("page[size]", "20"),
        ]),
    )
    .unwrap();
    assert_eq!(
        list.page,
        PageSlice {
            number: 2,
            size: 20,
            last: 3
        }
    );
    assert_eq!(list.profiles[0].profile.id, ProfileId(OTHER));
}

#[test]
fn a_page_beyond_the_list_is_invalid() {
    let mut uow = MockUow::new();
    uow.expect_count_profiles().returning(|_, _| Ok(1));
    uow.expect_list_profiles().never();
    let result = list_profiles(&mut uow, &plain(ME), &params(&[("page[number]", "2")]));
    assert!(
        matches!(result, Err(DomainError::InvalidPage)),
        "{result:?}"
    );
}

// ---- one profile ---------------------------------------------------------------------------

#[test]
fn a_non_superuser_sees_only_their_own_profile() {
    let mut uow = MockUow::new();
    expect_views(&mut uow, vec![profile(ME), profile(OTHER)]);
    for actor in [plain(ME), staff(ME)] {
        assert_eq!(
            get_profile(&mut uow, &actor, ProfileId(ME))
                .unwrap()
                .profile
                .id,
            ProfileId(ME)
        );
        let other = get_profile(&mut uow, &actor, ProfileId(OTHER));
        assert!(matches!(other, Err(DomainError::NotFound)), "{other:?}");
        let unknown = get_profile(&mut uow, &actor, ProfileId(404));
        assert!(matches!(unknown, Err(DomainError::NotFound)), "{unknown:?}");
    }
}

#[test]
fn a_superuser_sees_active_profiles_only() {
    let inactive = Profile {
        is_active: false,
        ..profile(OTHER + 1)
    };
    let mut uow = MockUow::new();
    expect_views(&mut uow, vec![profile(OTHER), inactive]);
    let actor = superuser(ROOT);
    assert!(get_profile(&mut uow, &actor, ProfileId(OTHER)).is_ok());
    let result = get_profile(&mut uow, &actor, ProfileId(OTHER + 1));
    assert!(matches!(result, Err(DomainError::NotFound)), "{result:?}");
}

// ---- the bio update ------------------------------------------------------------------------

#[test]
fn an_absent_bio_is_left_unchanged() {
    // W19: the original wrote `bio = null`; PF8's other attributes are ignored.
    let mut uow = MockUow::new();
    expect_views(&mut uow, vec![profile(ME)]);
    uow.expect_set_bio().never();
    let body =
        attrs(json!({"email": "ignored@email.address", "is-staff": true, "first-name": "X"}));
    let view = update_profile(&mut uow, &plain(ME), ProfileId(ME), &body).unwrap();
    assert_eq!(view.profile.email, format!("user{ME}@example.org"));
    assert!(!view.profile.is_staff);
}

#[test]
fn a_null_bio_clears_it_and_a_string_sets_it() {
    let mut uow = MockUow::new();
    expect_views(&mut uow, vec![profile(ME)]);
    uow.expect_set_bio()
        .withf(|id, bio| *id == ProfileId(ME) && bio.is_none())
        .times(1)
        .returning(|_, _| Ok(()));
    update_profile(
        &mut uow,
        &plain(ME),
        ProfileId(ME),
        &attrs(json!({"bio": null})),
    )
    .unwrap();

    // PF8: own bio, plain text (not sanitized).
    let mut uow = MockUow::new();
    expect_views(&mut uow, vec![profile(ME)]);
    uow.expect_set_bio()
        .withf(|id, bio| *id == ProfileId(ME) && *bio == Some("Short <b>Bio</b>"))
        .times(1)
        .returning(|_, _| Ok(()));
    update_profile(
        &mut uow,
        &plain(ME),
        ProfileId(ME),
        &attrs(json!({"bio": "Short <b>Bio</b>"})),
    )
    .unwrap();
}

#[test]
fn a_superuser_sets_anybodys_bio_but_others_only_their_own() {
    // PF9.
    let mut uow = MockUow::new();
    expect_views(
        &mut uow,
        vec![Profile {
            is_staff: true,
            ..profile(OTHER)
        }],
    );
    uow.expect_set_bio()
        .withf(|id, bio| *id == ProfileId(OTHER) && *bio == Some("Short Bio"))
        .times(1)
        .returning(|_, _| Ok(()));
    let body = attrs(json!({"bio": "Short Bio", "is-staff": false}));
    let view = update_profile(&mut uow, &superuser(ROOT), ProfileId(OTHER), &body).unwrap();
    assert!(view.profile.is_staff);

    // PF7: somebody else's profile is not found, and nothing is written.
    let mut uow = MockUow::new();
    expect_views(&mut uow, vec![profile(OTHER)]);
    uow.expect_set_bio().never();
    let result = update_profile(&mut uow, &plain(ME), ProfileId(OTHER), &body);
    assert!(matches!(result, Err(DomainError::NotFound)), "{result:?}");
}

#[test]
fn an_invalid_bio_is_refused_without_writing() {
    let mut uow = MockUow::new();
    expect_views(&mut uow, vec![profile(ME)]);
    uow.expect_set_bio().never();
    let result = update_profile(
        &mut uow,
        &plain(ME),
        ProfileId(ME),
        &attrs(json!({"bio": ["x"]})),
    );
    match result {
        Err(DomainError::Invalid(errors)) => assert_eq!(errors[0].pointer, "/data/attributes/bio"),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

// ---- signing in ----------------------------------------------------------------------------

const ISSUER: &str = "https://sso.example.org/realms/desk";
const SUBJECT: &str = "c0ffee";

fn claims() -> IdentityClaims {
    IdentityClaims {
        issuer: ISSUER.into(),
        subject: SUBJECT.into(),
        email: Some(format!("user{ME}@example.org")),
        email_verified: true,
        first_name: Some(format!("First{ME}")),
        last_name: Some(format!("Last{ME}")),
        is_staff: false,
        is_superuser: false,
    }
}

fn details_of(p: &Profile) -> ProfileDetails {
    ProfileDetails {
        email: p.email.clone(),
        first_name: p.first_name.clone(),
        last_name: p.last_name.clone(),
        is_staff: p.is_staff,
        is_superuser: p.is_superuser,
    }
}

fn with_details(p: &Profile, d: &ProfileDetails) -> Profile {
    Profile {
        email: d.email.clone(),
        first_name: d.first_name.clone(),
        last_name: d.last_name.clone(),
        is_staff: d.is_staff,
        is_superuser: d.is_superuser,
        ..p.clone()
    }
}

/// A unit of work knowing `profile` under (ISSUER, SUBJECT).
fn known(profile: Option<Profile>) -> MockUow {
    let mut uow = MockUow::new();
    uow.expect_profile_by_identity()
        .withf(|issuer, subject| issuer == ISSUER && subject == SUBJECT)
        .times(1)
        .return_once(move |_, _| Ok(profile));
    uow
}

fn expect_no_identity_writes(uow: &mut MockUow) {
    uow.expect_insert_profile().never();
    uow.expect_update_profile_details().never();
    uow.expect_link_identity().never();
}

fn refusal(result: Result<(Actor, Profile), DomainError>) -> &'static str {
    match result {
        Err(DomainError::Refused(message)) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_known_identity_with_unchanged_details_is_not_rewritten() {
    let mut uow = known(Some(profile(ME)));
    expect_no_identity_writes(&mut uow);
    uow.expect_unlinked_profiles_by_email().never();
    let (actor, signed_in) = sign_in(&mut uow, &claims()).unwrap();
    assert_eq!(actor, plain(ME));
    assert_eq!(signed_in, profile(ME));
}

#[test]
fn changed_roles_or_names_are_written_back() {
    let cases = [
        IdentityClaims {
            is_staff: true,
            is_superuser: true,
            ..claims()
        },
        IdentityClaims {
            first_name: Some("Станислав".into()),
            ..claims()
        },
        IdentityClaims {
            last_name: None,
            ..claims()
        },
        IdentityClaims {
            email: Some("new@example.org".into()),
            ..claims()
        },
    ];
    for claims in cases {
        let wanted = ProfileDetails {
            email: claims.email.clone().unwrap(),
            first_name: claims.first_name.clone().unwrap_or_default(),
            last_name: claims.last_name.clone().unwrap_or_default(),
            is_staff: claims.is_staff,
            is_superuser: claims.is_superuser,
        };
        let mut uow = known(Some(profile(ME)));
        uow.expect_insert_profile().never();
        uow.expect_link_identity().never();
        let expected = wanted.clone();
        uow.expect_update_profile_details()
            .withf(move |id, d| *id == ProfileId(ME) && *d == expected)
            .times(1)
            .returning(|id, d| Ok(with_details(&profile(id.0), d)));
        let (actor, signed_in) = sign_in(&mut uow, &claims).unwrap();
        assert_eq!(actor.is_staff, claims.is_staff);
        assert_eq!(actor.is_superuser, claims.is_superuser);
        assert_eq!(details_of(&signed_in), wanted);
    }
}

#[test]
fn an_invalid_or_missing_email_claim_keeps_the_stored_address() {
    for email in [None, Some("not an address".to_string())] {
        let mut uow = known(Some(profile(ME)));
        expect_no_identity_writes(&mut uow);
        let (_, signed_in) = sign_in(&mut uow, &IdentityClaims { email, ..claims() }).unwrap();
        assert_eq!(signed_in.email, format!("user{ME}@example.org"));
    }
}

#[test]
fn a_first_login_creates_a_profile_and_links_the_identity() {
    let mut uow = known(None);
    uow.expect_unlinked_profiles_by_email()
        .with(eq(format!("user{ME}@example.org")))
        .times(1)
        .returning(|_| Ok(vec![]));
    uow.expect_email_in_use().times(1).returning(|_| Ok(false));
    let wanted = details_of(&profile(ME));
    uow.expect_insert_profile()
        .withf(move |d| *d == wanted)
        .times(1)
        .returning(|d| Ok(with_details(&profile(ME), d)));
    uow.expect_link_identity()
        .withf(|id, issuer, subject| *id == ProfileId(ME) && issuer == ISSUER && subject == SUBJECT)
        .times(1)
        .returning(|_, _, _| Ok(()));
    uow.expect_update_profile_details().never();
    let (actor, _) = sign_in(&mut uow, &claims()).unwrap();
    assert_eq!(actor, plain(ME));
}

#[test]
fn a_verified_email_links_the_existing_profile() {
    // W3: linking by e-mail needs `email_verified`; the stored spelling of the address stays.
    let existing = Profile {
        email: format!("User{ME}@Example.org"),
        ..profile(ME)
    };
    let mut uow = known(None);
    let found = existing.clone();
    uow.expect_unlinked_profiles_by_email()
        .times(1)
        .return_once(move |_| Ok(vec![found]));
    uow.expect_insert_profile().never();
    let wanted = ProfileDetails {
        is_staff: true,
        ..details_of(&existing)
    };
    uow.expect_update_profile_details()
        .withf(move |id, d| *id == ProfileId(ME) && *d == wanted)
        .times(1)
        .returning(|id, d| Ok(with_details(&profile(id.0), d)));
    uow.expect_link_identity()
        .withf(|id, issuer, subject| *id == ProfileId(ME) && issuer == ISSUER && subject == SUBJECT)
        .times(1)
        .returning(|_, _, _| Ok(()));
    let (actor, signed_in) = sign_in(
        &mut uow,
        &IdentityClaims {
            is_staff: true,
            ..claims()
        },
    )
    .unwrap();
    assert_eq!(actor, staff(ME));
    assert_eq!(signed_in.email, format!("User{ME}@Example.org"));
}

#[test]
fn an_unverified_email_of_an_existing_profile_is_refused() {
    let mut uow = known(None);
    uow.expect_unlinked_profiles_by_email()
        .times(1)
        .returning(|_| Ok(vec![profile(ME)]));
    expect_no_identity_writes(&mut uow);
    let result = sign_in(
        &mut uow,
        &IdentityClaims {
            email_verified: false,
            ..claims()
        },
    );
    assert_eq!(refusal(result), SignInRefusal::UnverifiedEmail.message());
}

#[test]
fn an_email_claimed_by_another_identity_is_never_taken_over() {
    // Another identity already signed in with this address: no link, no second profile,
    // whether or not this provider says the address is verified.
    for verified in [true, false] {
        let mut uow = known(None);
        uow.expect_unlinked_profiles_by_email()
            .times(1)
            .returning(|_| Ok(vec![]));
        uow.expect_email_in_use().times(1).returning(|_| Ok(true));
        expect_no_identity_writes(&mut uow);
        let result = sign_in(
            &mut uow,
            &IdentityClaims {
                email_verified: verified,
                ..claims()
            },
        );
        assert_eq!(refusal(result), SignInRefusal::EmailTaken.message());
    }
}

#[test]
fn an_email_of_several_profiles_is_refused() {
    let mut uow = known(None);
    uow.expect_unlinked_profiles_by_email()
        .times(1)
        .returning(|_| Ok(vec![profile(ME), profile(OTHER)]));
    expect_no_identity_writes(&mut uow);
    assert_eq!(
        refusal(sign_in(&mut uow, &claims())),
        SignInRefusal::AmbiguousEmail.message()
    );
}

#[test]
fn an_inactive_profile_is_refused_and_stays_inactive() {
    // W14: known identity, unchanged details.
    let inactive = Profile {
        is_active: false,
        ..profile(ME)
    };
    let mut uow = known(Some(inactive.clone()));
    expect_no_identity_writes(&mut uow);
    assert_eq!(
        refusal(sign_in(&mut uow, &claims())),
        SignInRefusal::Inactive.message()
    );

    // Changed roles are written (roles follow the provider) but the profile is not reactivated.
    let mut uow = known(Some(inactive.clone()));
    uow.expect_update_profile_details()
        .times(1)
        .returning(move |_, d| Ok(with_details(&inactive, d)));
    uow.expect_link_identity().never();
    let result = sign_in(
        &mut uow,
        &IdentityClaims {
            is_superuser: true,
            ..claims()
        },
    );
    assert_eq!(refusal(result), SignInRefusal::Inactive.message());

    // A verified first login onto an inactive profile is refused as well.
    let mut uow = known(None);
    uow.expect_unlinked_profiles_by_email().returning(|_| {
        Ok(vec![Profile {
            is_active: false,
            ..profile(ME)
        }])
    });
    uow.expect_update_profile_details().returning(|id, d| {
        Ok(Profile {
            is_active: false,
            ..with_details(&profile(id.0), d)
        })
    });
    uow.expect_link_identity().returning(|_, _, _| Ok(()));
    assert_eq!(
        refusal(sign_in(&mut uow, &claims())),
        SignInRefusal::Inactive.message()
    );
}

#[test]
fn names_longer_than_150_characters_are_clipped_never_refused() {
    let long_first = "é".repeat(MAX_NAME_CHARS + 50);
    let long_last = format!("  {}  ", "x".repeat(400));
    let claims = IdentityClaims {
        first_name: Some(long_first.clone()),
        last_name: Some(long_last),
        ..claims()
    };
    assert_eq!(MAX_NAME_CHARS, 150);

    // First login.
    let mut uow = known(None);
    uow.expect_unlinked_profiles_by_email()
        .returning(|_| Ok(vec![]));
    uow.expect_email_in_use().returning(|_| Ok(false));
    uow.expect_insert_profile()
        .withf(|d| d.first_name == "é".repeat(150) && d.last_name == "x".repeat(150))
        .times(1)
        .returning(|d| Ok(with_details(&profile(ME), d)));
    uow.expect_link_identity()
        .times(1)
        .returning(|_, _, _| Ok(()));
    let (_, signed_in) = sign_in(&mut uow, &claims).unwrap();
    assert_eq!(signed_in.first_name.chars().count(), 150);

    // A later login with the same long names finds nothing to change.
    let mut uow = known(Some(signed_in.clone()));
    expect_no_identity_writes(&mut uow);
    assert_eq!(sign_in(&mut uow, &claims).unwrap().1, signed_in);
}

#[test]
fn an_unverified_email_claim_does_not_replace_the_stored_address() {
    // W3: otherwise an account can take somebody else's address without proving it, and the
    // real owner's first verified login is then linked to that account by e-mail.
    let mut uow = known(Some(profile(ME)));
    expect_no_identity_writes(&mut uow);
    let claims = IdentityClaims {
        email: Some("victim@example.org".into()),
        email_verified: false,
        ..claims()
    };
    let (_, signed_in) = sign_in(&mut uow, &claims).unwrap();
    assert_eq!(signed_in.email, format!("user{ME}@example.org"));
}

/// A unit of work knowing `profile` under (ISSUER, SUBJECT), read with its tickets-count.
fn known_with_count(profile: Option<Profile>, tickets_count: i64) -> MockUow {
    let mut uow = MockUow::new();
    uow.expect_profile_view_by_identity()
        .withf(|issuer, subject| issuer == ISSUER && subject == SUBJECT)
        .times(1)
        .return_once(move |_, _| {
            Ok(profile.map(|profile| ProfileView {
                profile,
                tickets_count,
            }))
        });
    uow.expect_profile_by_identity().never();
    uow
}

#[test]
fn me_takes_the_count_read_with_the_identity() {
    let mut uow = known_with_count(Some(profile(ME)), 7);
    expect_no_identity_writes(&mut uow);
    uow.expect_profile_views().never();
    let (actor, view) = sign_in_viewing(&mut uow, &claims()).unwrap();
    assert_eq!(actor, plain(ME));
    assert_eq!(
        view,
        ProfileView {
            profile: profile(ME),
            tickets_count: 7
        }
    );

    // New names keep the count; a new superuser role changes what is counted.
    let renamed = IdentityClaims {
        first_name: Some("Ilinca".into()),
        ..claims()
    };
    let mut uow = known_with_count(Some(profile(ME)), 7);
    uow.expect_update_profile_details()
        .times(1)
        .returning(|id, d| Ok(with_details(&profile(id.0), d)));
    uow.expect_profile_views().never();
    let (_, view) = sign_in_viewing(&mut uow, &renamed).unwrap();
    assert_eq!(
        (view.profile.first_name.as_str(), view.tickets_count),
        ("Ilinca", 7)
    );

    let promoted = IdentityClaims {
        is_superuser: true,
        ..claims()
    };
    let mut uow = known_with_count(Some(profile(ME)), 7);
    uow.expect_update_profile_details()
        .times(1)
        .returning(|id, d| Ok(with_details(&profile(id.0), d)));
    let superuser = Profile {
        is_superuser: true,
        ..profile(ME)
    };
    expect_own_view(&mut uow, superuser, 500);
    let (actor, view) = sign_in_viewing(&mut uow, &promoted).unwrap();
    assert!(actor.is_superuser && view.profile.is_superuser);
    assert_eq!(view.tickets_count, 500);
}

#[test]
fn me_refuses_an_inactive_profile_and_counts_a_new_one() {
    let inactive = Profile {
        is_active: false,
        ..profile(ME)
    };
    let mut uow = known_with_count(Some(inactive), 3);
    expect_no_identity_writes(&mut uow);
    uow.expect_profile_views().never();
    let result = sign_in_viewing(&mut uow, &claims()).map(|(actor, view)| (actor, view.profile));
    assert_eq!(refusal(result), SignInRefusal::Inactive.message());

    // First sight: the profile is created, then counted.
    let mut uow = known_with_count(None, 0);
    uow.expect_unlinked_profiles_by_email()
        .returning(|_| Ok(vec![]));
    uow.expect_email_in_use().returning(|_| Ok(false));
    uow.expect_insert_profile()
        .times(1)
        .returning(|d| Ok(with_details(&profile(ME), d)));
    uow.expect_link_identity()
        .times(1)
        .returning(|_, _, _| Ok(()));
    expect_own_view(&mut uow, profile(ME), 0);
    let (actor, view) = sign_in_viewing(&mut uow, &claims()).unwrap();
    assert_eq!(actor, plain(ME));
    assert_eq!(view.profile, profile(ME));
}

/// `/me`'s read without a transaction: an answer only when signing in would write nothing.
#[test]
fn me_reads_without_writing_only_a_profile_the_claims_leave_as_is() {
    // Known and unchanged: the answer, from the one look-up.
    let mut uow = known_with_count(Some(profile(ME)), 7);
    expect_no_identity_writes(&mut uow);
    uow.expect_profile_views().never();
    let (actor, view) = view_if_signed_in(&mut uow, &claims()).unwrap().unwrap();
    assert_eq!(actor, plain(ME));
    assert_eq!(view.tickets_count, 7);

    // An address the provider has not verified never replaces the stored one (W3): nothing
    // to write, so the read answers, with the stored address.
    let unverified = IdentityClaims {
        email: Some("elsewhere@example.org".into()),
        email_verified: false,
        ..claims()
    };
    let mut uow = known_with_count(Some(profile(ME)), 7);
    expect_no_identity_writes(&mut uow);
    let (_, view) = view_if_signed_in(&mut uow, &unverified).unwrap().unwrap();
    assert_eq!(view.profile.email, format!("user{ME}@example.org"));

    // A write is due: new names, a new role, a new verified address, or a first sign-in.
    // No answer, nothing written.
    let renamed = IdentityClaims {
        last_name: Some("Dumitrescu".into()),
        ..claims()
    };
    let promoted = IdentityClaims {
        is_staff: true,
        ..claims()
    };
    let moved = IdentityClaims {
        email: Some("elsewhere@example.org".into()),
        ..claims()
    };
    for (known, changed) in [
        (Some(profile(ME)), renamed),
        (Some(profile(ME)), promoted),
        (Some(profile(ME)), moved),
        (None, claims()),
    ] {
        let mut uow = known_with_count(known, 7);
        expect_no_identity_writes(&mut uow);
        uow.expect_profile_views().never();
        assert_eq!(view_if_signed_in(&mut uow, &changed).unwrap(), None);
    }

    // A deactivated profile is refused here already.
    let inactive = Profile {
        is_active: false,
        ..profile(ME)
    };
    let mut uow = known_with_count(Some(inactive), 3);
    expect_no_identity_writes(&mut uow);
    let result = view_if_signed_in(&mut uow, &claims());
    assert!(
        matches!(result, Err(DomainError::Refused(message)) if message == SignInRefusal::Inactive.message()),
        "{result:?}"
    );
}

//! Signing in: from verified identity claims to the caller (OPERATIONS "Authentication
//! modes"; decisions W3, W14).

use crate::error::{DomainError, DomainResult};
use crate::model::{Profile, ProfileView};
use crate::policy::Actor;
use crate::ports::{
    Clock, IdentityClaims, ProfileDetails, SubscriptionClaims, SystemClock, UnitOfWork,
};

/// Longest name we keep from the identity provider (longer ones are cut, never an error).
pub const MAX_NAME_CHARS: usize = 150;

/// Why a verified identity is still not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefusal {
    /// The profile was deactivated by an operator (W14).
    Inactive,
    /// The e-mail belongs to an existing profile but the provider has not verified it (W3).
    UnverifiedEmail,
    /// The e-mail matches several profiles; an operator must resolve it.
    AmbiguousEmail,
    /// The e-mail already belongs to a profile that another identity signed in to.
    EmailTaken,
}

impl SignInRefusal {
    pub fn message(self) -> &'static str {
        match self {
            SignInRefusal::Inactive => "This account has been deactivated. Please contact the research desk.",
            SignInRefusal::UnverifiedEmail => {
                "Your e-mail address is not verified by the identity provider, and it belongs to an existing account."
            }
            SignInRefusal::AmbiguousEmail => "Your e-mail address matches more than one account. Please contact the research desk.",
            SignInRefusal::EmailTaken => {
                "Your e-mail address belongs to another sign-in account. Please contact the research desk."
            }
        }
    }
}

fn clip(value: Option<&str>) -> String {
    value
        .unwrap_or("")
        .trim()
        .chars()
        .take(MAX_NAME_CHARS)
        .collect()
}

fn details(claims: &IdentityClaims, current_email: Option<&str>) -> ProfileDetails {
    // An address the provider has not verified never replaces a stored one (W3): it would
    // let an account take somebody else's address, to which that person's first verified
    // login would then be linked.
    let claimed = claims
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| crate::text::is_valid_email(e));
    let email = match current_email {
        Some(current) if !claims.email_verified => current.to_string(),
        _ => claimed
            .map(str::to_string)
            .or_else(|| current_email.map(str::to_string))
            .unwrap_or_default(),
    };
    ProfileDetails {
        email,
        first_name: clip(claims.first_name.as_deref()),
        last_name: clip(claims.last_name.as_deref()),
        is_staff: claims.is_staff,
        is_superuser: claims.is_superuser,
    }
}

fn unchanged(profile: &Profile, d: &ProfileDetails) -> bool {
    profile.email == d.email
        && profile.first_name == d.first_name
        && profile.last_name == d.last_name
        && profile.is_staff == d.is_staff
        && profile.is_superuser == d.is_superuser
}

/// Finds the profile of (issuer, subject), creating or linking it on first sight, and keeps
/// names, e-mail and roles in step with the provider (roles on every request). Returns the
/// caller, or a refusal as [`DomainError::Refused`].
pub fn sign_in(
    uow: &mut (impl UnitOfWork + SubscriptionClaims),
    claims: &IdentityClaims,
) -> DomainResult<(Actor, Profile)> {
    let found = uow.profile_by_identity(&claims.issuer, &claims.subject)?;
    let profile = reconcile(uow, claims, found)?;
    Ok((admit(&profile)?, profile))
}

/// [`sign_in`] for `GET /me`: also the caller's profile as their own document shows it, with
/// its `tickets-count`, read together with the identity where the adapter can (one statement
/// less for the request).
pub fn sign_in_viewing(
    uow: &mut (impl UnitOfWork + SubscriptionClaims),
    claims: &IdentityClaims,
) -> DomainResult<(Actor, ProfileView)> {
    let found = uow.profile_view_by_identity(&claims.issuer, &claims.subject)?;
    let counted = found
        .as_ref()
        .map(|v| (v.profile.is_superuser, v.tickets_count));
    let profile = reconcile(uow, claims, found.map(|v| v.profile))?;
    let actor = admit(&profile)?;
    // The count depends on the superuser role alone (every ticket, or the person's own).
    let view = match counted {
        Some((superuser, tickets_count)) if superuser == profile.is_superuser => ProfileView {
            profile,
            tickets_count,
        },
        _ => crate::usecases::profiles::me(uow, &actor)?,
    };
    Ok((actor, view))
}

/// [`sign_in_viewing`] when signing in has nothing to write: the identity is known and its
/// profile already says what the claims say. `None` when a write is due (a first sign-in,
/// changed names, e-mail or roles): sign in with [`sign_in_viewing`], in a transaction.
/// One read, so an adapter can answer it without opening a transaction.
pub fn view_if_signed_in(
    uow: &mut impl UnitOfWork,
    claims: &IdentityClaims,
) -> DomainResult<Option<(Actor, ProfileView)>> {
    let Some(view) = uow.profile_view_by_identity(&claims.issuer, &claims.subject)? else {
        return Ok(None);
    };
    if !unchanged(&view.profile, &details(claims, Some(&view.profile.email))) {
        return Ok(None);
    }
    Ok(Some((admit(&view.profile)?, view)))
}

/// The profile of the verified claims: found (details refreshed), or created or linked on
/// first sight.
fn reconcile(
    uow: &mut (impl UnitOfWork + SubscriptionClaims),
    claims: &IdentityClaims,
    found: Option<Profile>,
) -> DomainResult<Profile> {
    match found {
        Some(profile) => {
            let wanted = details(claims, Some(&profile.email));
            if unchanged(&profile, &wanted) {
                Ok(profile)
            } else {
                uow.update_profile_details(profile.id, &wanted)
            }
        }
        None => first_sign_in(uow, claims),
    }
}

/// The caller a profile signs in as, unless it was deactivated.
fn admit(profile: &Profile) -> DomainResult<Actor> {
    if !profile.is_active {
        return Err(DomainError::Refused(SignInRefusal::Inactive.message()));
    }
    Ok(Actor {
        id: profile.id,
        is_staff: profile.is_staff,
        is_superuser: profile.is_superuser,
    })
}

fn first_sign_in(
    uow: &mut (impl UnitOfWork + SubscriptionClaims),
    claims: &IdentityClaims,
) -> DomainResult<Profile> {
    let wanted = details(claims, None);
    // Only a profile no identity has claimed yet may be linked by e-mail, and only when the
    // provider verified the address (W3). A profile another identity already signed in to
    // is never taken over, whatever the claims say.
    let unclaimed = if wanted.email.is_empty() {
        Vec::new()
    } else {
        uow.unlinked_profiles_by_email(&wanted.email)?
    };
    let profile = match unclaimed.as_slice() {
        [] if !wanted.email.is_empty() && uow.email_in_use(&wanted.email)? => {
            return Err(DomainError::Refused(SignInRefusal::EmailTaken.message()))
        }
        [] => uow.insert_profile(&wanted)?,
        [one] if claims.email_verified => {
            let mut keep = wanted.clone();
            keep.email = one.email.clone();
            uow.update_profile_details(one.id, &keep)?
        }
        [_] => {
            return Err(DomainError::Refused(
                SignInRefusal::UnverifiedEmail.message(),
            ))
        }
        _ => {
            return Err(DomainError::Refused(
                SignInRefusal::AmbiguousEmail.message(),
            ))
        }
    };
    uow.link_identity(profile.id, &claims.issuer, &claims.subject)?;
    // Pending e-mail subscriptions become the person's own (§7.3), only for an address the
    // provider vouches for: an unverified one could claim somebody else's subscriptions.
    if claims.email_verified && !profile.email.is_empty() {
        crate::usecases::subscribers::claim_subscriptions(
            uow,
            profile.id,
            &profile.email,
            SystemClock.now(),
        )?;
    }
    Ok(profile)
}

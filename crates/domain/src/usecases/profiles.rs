//! Profile use cases: `/me`, the profile list, one profile, the bio update (contract §3.9,
//! §3.10; W19).

use crate::error::{DomainError, DomainResult};
use crate::forms::ProfileForm;
use crate::listing::{PageRequest, PageSlice, Params, ProfileFilter};
use crate::model::*;
use crate::policy::{self, Actor};
use crate::ports::UnitOfWork;
use serde_json::{Map, Value};

/// The caller's own profile.
pub fn me(uow: &mut impl UnitOfWork, actor: &Actor) -> DomainResult<ProfileView> {
    uow.profile_views(&[actor.id])?
        .into_iter()
        .next()
        .ok_or(DomainError::NotFound)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileList {
    pub profiles: Vec<ProfileView>,
    pub page: PageSlice,
}

/// Superusers list every active profile and may filter; everybody else gets themself.
pub fn list_profiles(
    uow: &mut impl UnitOfWork,
    actor: &Actor,
    params: &Params,
) -> DomainResult<ProfileList> {
    let scope = policy::profile_scope(actor);
    let filter = if policy::may_filter_profiles(actor) {
        ProfileFilter::from_params(params)
    } else {
        ProfileFilter::default()
    };
    let total = uow.count_profiles(scope, &filter)?;
    let page = PageRequest::from_params(params).resolve(total)?;
    let profiles = uow.list_profiles(scope, &filter, page)?;
    Ok(ProfileList { profiles, page })
}

pub fn get_profile(
    uow: &mut impl UnitOfWork,
    actor: &Actor,
    id: ProfileId,
) -> DomainResult<ProfileView> {
    let scope = policy::profile_scope(actor);
    let view = uow
        .profile_views(&[id])?
        .into_iter()
        .next()
        .ok_or(DomainError::NotFound)?;
    if policy::profile_scope_admits(scope, id, view.profile.is_active) {
        Ok(view)
    } else {
        Err(DomainError::NotFound)
    }
}

/// Only `bio` is writable; an absent `bio` leaves it unchanged (W19). Names, e-mail and
/// roles come from the identity provider and are ignored here.
pub fn update_profile(
    uow: &mut impl UnitOfWork,
    actor: &Actor,
    id: ProfileId,
    attributes: &Map<String, Value>,
) -> DomainResult<ProfileView> {
    get_profile(uow, actor, id)?;
    let form = ProfileForm::parse(attributes).map_err(DomainError::invalid)?;
    if let Some(bio) = &form.bio {
        uow.set_bio(id, bio.as_deref())?;
    }
    get_profile(uow, actor, id)
}

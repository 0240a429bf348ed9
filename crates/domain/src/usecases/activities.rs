//! The ticket timeline (contract §3.11, §3.14, CLIENT §6.9; W8, W27): activities are seen
//! through their ticket; newest first by default; `meta.first-id`/`last-id` bound the whole
//! filtered set so the client knows whether older entries exist.

use super::collaboration::{found, id_param, page_of, range_param, sort_direction, Listed};
use crate::activity::{ActionObject, Activity};
use crate::error::DomainResult;
use crate::listing::{Direction, Params};
use crate::model::*;
use crate::policy::{self, Actor};
use crate::ports::{ActivityFilter, CollaborationWork};
use std::collections::{BTreeSet, HashMap, HashSet};

impl ActivityFilter {
    pub fn from_params(params: &Params) -> ActivityFilter {
        ActivityFilter {
            id: id_param(params, "filter[id]"),
            id_lt: id_param(params, "filter[id__lt]"),
            id_gt: id_param(params, "filter[id__gt]"),
            timestamp: range_param(params, "filter[timestamp__range]"),
            ticket: id_param(params, "filter[target_object_id]").map(TicketId),
            actor: id_param(params, "filter[actor_object_id]").map(ProfileId),
            verb: params
                .get("filter[verb]")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
        }
    }
}

/// A page of the timeline and the ends of the whole filtered set.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub listed: Listed<Activity>,
    pub ends: Option<(ActivityId, ActivityId)>,
}

pub fn list_activities(
    uow: &mut impl CollaborationWork,
    actor: &Actor,
    params: &Params,
) -> DomainResult<Timeline> {
    let scope = policy::ticket_scope(actor);
    let filter = ActivityFilter::from_params(params);
    let direction = sort_direction(params, "timestamp").unwrap_or(Direction::Desc);
    let total = uow.count_activities(scope, &filter)?;
    let page = page_of(params, total)?;
    let rows = uow.list_activities(scope, &filter, direction, page)?;
    let ends = if total > 0 {
        uow.activity_ends(scope, &filter, direction)?
    } else {
        None
    };
    Ok(Timeline {
        listed: Listed { rows, page },
        ends,
    })
}

pub fn get_activity(
    uow: &mut impl CollaborationWork,
    actor: &Actor,
    id: ActivityId,
) -> DomainResult<Activity> {
    found(uow.activity(policy::ticket_scope(actor), id)?)
}

/// The rows activities point at that still exist (a deleted action object renders as null),
/// with what `include` may show: comments and profiles. Three queries at most.
#[derive(Debug, Clone, Default)]
pub struct TimelineObjects {
    pub comments: HashMap<CommentId, Comment>,
    pub attachments: HashSet<AttachmentId>,
    pub expenses: HashSet<ExpenseId>,
    pub profiles: HashMap<ProfileId, ProfileView>,
}

pub fn timeline_objects(
    uow: &mut impl CollaborationWork,
    activities: &[Activity],
) -> DomainResult<TimelineObjects> {
    let mut comments = BTreeSet::new();
    let mut attachments = BTreeSet::new();
    let mut expenses = BTreeSet::new();
    let mut profiles = BTreeSet::new();
    for a in activities {
        profiles.extend(a.actor);
        match a.action {
            Some(ActionObject::Comment(id)) => {
                comments.insert(id);
            }
            Some(ActionObject::Attachment(id)) => {
                attachments.insert(id);
            }
            Some(ActionObject::Expense(id)) => {
                expenses.insert(id);
            }
            Some(ActionObject::Profile(id)) => {
                profiles.insert(id);
            }
            Some(ActionObject::Review(_)) | None => {}
        }
    }
    let comments: Vec<CommentId> = comments.into_iter().collect();
    let comments = if comments.is_empty() {
        HashMap::new()
    } else {
        uow.comments_by_ids(&comments)?
            .into_iter()
            .map(|c| (c.id, c))
            .collect()
    };
    let attachments: Vec<AttachmentId> = attachments.into_iter().collect();
    let expenses: Vec<ExpenseId> = expenses.into_iter().collect();
    let (attachments, expenses) = if attachments.is_empty() && expenses.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        uow.existing_objects(&attachments, &expenses)?
    };
    let profiles: Vec<ProfileId> = profiles.into_iter().collect();
    let profiles = if profiles.is_empty() {
        HashMap::new()
    } else {
        uow.profile_views(&profiles)?
            .into_iter()
            .map(|v| (v.profile.id, v))
            .collect()
    };
    Ok(TimelineObjects {
        comments,
        attachments: attachments.into_iter().collect(),
        expenses: expenses.into_iter().collect(),
        profiles,
    })
}

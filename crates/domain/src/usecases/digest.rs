//! The daily digest (contract §5.4 with every W28 fix): each ticket with activities newer
//! than its last digest (`sent_notifications_at`, NULL = since ever) contributes one line per
//! activity to the digest of each of its people (requester, responders, user subscribers),
//! one digest — one e-mail — per person; deadlines coming up are listed for the people who
//! work on the ticket. Activities without an actor (a review) are skipped, verbs are worded
//! for what they did (a `*:destroy` removed something), and the bookkeeping touches only
//! `sent_notifications_at` (W23).

use crate::activity::{ActionObject, Activity};
use crate::error::DomainResult;
use crate::model::*;
use crate::policy::Scope;
use crate::ports::ReviewWork;
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One person's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonDigest {
    pub profile: ProfileId,
    pub to: String,
    pub name: String,
    /// Tickets whose deadline is near (within `[now − 24 h, now + 48 h)`), with it.
    pub upcoming: Vec<(TicketId, DateTime<Utc>)>,
    /// One sentence per activity, each ticket's newest first.
    pub items: Vec<String>,
}

/// The words of an activity: `<actor> <what> ticket <link>`; `None` = no line for it.
pub fn sentence(
    verb: &str,
    actor: &str,
    action_profile: Option<&str>,
    at: DateTime<Utc>,
    link: &str,
) -> Option<String> {
    let parts: Vec<&str> = verb.split(':').collect();
    let what = match parts.as_slice() {
        ["ticket", "update", change] if change.contains('_') => {
            let (attr, value) = change.split_once('_').unwrap_or((change, ""));
            format!("updated {attr} to {value} to")
        }
        ["ticket", "update", "reopen"] => "did reopen the".to_string(),
        ["ticket", "update", "pending"] => {
            "marked pending (waiting for third-party actions) the".to_string()
        }
        ["ticket", ..] => return None,
        ["responder", "create"] => format!(
            "added {} as a responder to",
            action_profile.unwrap_or("somebody")
        ),
        ["responder", "destroy"] => format!(
            "removed {} as a responder from",
            action_profile.unwrap_or("somebody")
        ),
        ["subscriber", "update", "joined"] => "joined as a subscriber of".to_string(),
        [thing, "destroy"] => format!("removed {} from", article(thing)),
        [thing, "update", ..] => format!("updated {} of", article(thing)),
        [thing, ..] if !thing.is_empty() => format!("added {} to", article(thing)),
        _ => return None,
    };
    Some(format!(
        "({}): {actor} {what} ticket {link}",
        at.format("%m/%d/%y %H:%M:%S")
    ))
}

fn article(thing: &str) -> String {
    let an = thing
        .chars()
        .next()
        .is_some_and(|c| "aeiou".contains(c.to_ascii_lowercase()));
    format!("{} {thing}", if an { "an" } else { "a" })
}

/// Builds every person's digest as of `now` and records the bookkeeping of each ticket
/// digested. `link` renders a ticket's page address.
pub fn run_digest(
    uow: &mut impl ReviewWork,
    now: DateTime<Utc>,
    link: &dyn Fn(TicketId) -> String,
) -> DomainResult<Vec<PersonDigest>> {
    let candidates = uow.digest_candidates()?;
    let mut per_person: BTreeMap<ProfileId, (Vec<String>, BTreeSet<TicketId>)> = BTreeMap::new();
    let mut deadlines: HashMap<TicketId, DateTime<Utc>> = HashMap::new();
    let mut names: HashMap<ProfileId, Option<Profile>> = HashMap::new();
    for (ticket_id, since) in candidates {
        let Some(ticket) = uow.ticket(Scope::Everything, ticket_id)? else {
            continue;
        };
        let activities: Vec<Activity> = uow.activities_after(ticket.id, since)?;
        // Names of the actors and the profiles acted upon.
        let mut wanted: Vec<ProfileId> = activities
            .iter()
            .flat_map(|a| {
                let action = match a.action {
                    Some(ActionObject::Profile(p)) => Some(p),
                    _ => None,
                };
                a.actor.into_iter().chain(action)
            })
            .filter(|p| !names.contains_key(p))
            .collect();
        wanted.sort();
        wanted.dedup();
        if !wanted.is_empty() {
            for view in uow.profile_views(&wanted)? {
                names.insert(view.profile.id, Some(view.profile));
            }
            for id in wanted {
                names.entry(id).or_insert(None);
            }
        }
        let name_of = |id: ProfileId| -> Option<String> {
            names
                .get(&id)
                .and_then(|p| p.as_ref())
                .map(|p| p.display_name())
        };
        let page = link(ticket.id);
        let items: Vec<String> = activities
            .iter()
            .filter_map(|a| {
                // W28c: an activity without an actor (a review) has no line.
                let actor = name_of(a.actor?)?;
                let acted_on = match a.action {
                    Some(ActionObject::Profile(p)) => name_of(p),
                    _ => None,
                };
                sentence(&a.verb, &actor, acted_on.as_deref(), a.timestamp, &page)
            })
            .collect();
        uow.mark_digested(ticket.id, now)?;
        if items.is_empty() {
            continue;
        }
        // The ticket's people, each once (W28f).
        let links = uow.ticket_links(&[ticket.id])?;
        let mut people: BTreeSet<ProfileId> = links.responders.iter().map(|r| r.user_id).collect();
        people.extend(links.subscribers.iter().filter_map(|s| s.user_id));
        people.insert(ticket.requester_id);
        let near = ticket
            .deadline_at
            .filter(|d| *d >= now - Duration::hours(24) && *d < now + Duration::hours(48));
        if let Some(deadline) = near {
            deadlines.insert(ticket.id, deadline);
        }
        for person in people {
            let entry = per_person.entry(person).or_default();
            entry.0.extend(items.iter().cloned());
            if near.is_some() && person != ticket.requester_id {
                entry.1.insert(ticket.id);
            }
        }
    }
    if per_person.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<ProfileId> = per_person.keys().copied().collect();
    let profiles: HashMap<ProfileId, Profile> = uow
        .profile_views(&ids)?
        .into_iter()
        .map(|v| (v.profile.id, v.profile))
        .collect();
    // One e-mail per address (case-insensitive), even if two profiles share it.
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (id, (items, upcoming)) in per_person {
        let Some(profile) = profiles.get(&id) else {
            continue;
        };
        let to = profile.email.trim().to_string();
        if to.is_empty() || !profile.is_active || !seen.insert(to.to_lowercase()) {
            continue;
        }
        out.push(PersonDigest {
            profile: id,
            to,
            name: profile.display_name(),
            upcoming: upcoming
                .into_iter()
                .filter_map(|t| deadlines.get(&t).map(|d| (t, *d)))
                .collect(),
            items,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 6, 22, 36).unwrap()
    }

    fn line(verb: &str) -> Option<String> {
        sentence(
            verb,
            "Resp Two",
            Some("Ana Pop"),
            at(),
            "https://h.tld/tickets/view/1",
        )
    }

    #[test]
    fn verbs_are_worded_for_what_they_did() {
        assert_eq!(
            line("ticket:update:status_closed").unwrap(),
            "(11/22/26 06:22:36): Resp Two updated status to closed to ticket https://h.tld/tickets/view/1"
        );
        assert!(line("ticket:update:reopen")
            .unwrap()
            .contains("Resp Two did reopen the ticket https://"));
        assert!(line("ticket:update:pending")
            .unwrap()
            .contains("marked pending (waiting for third-party actions) the ticket"));
        assert!(line("responder:create")
            .unwrap()
            .contains("Resp Two added Ana Pop as a responder to ticket"));
        assert!(line("responder:destroy")
            .unwrap()
            .contains("removed Ana Pop as a responder from ticket"));
        assert!(line("comment:create")
            .unwrap()
            .contains("added a comment to ticket"));
        assert!(line("attachment:create")
            .unwrap()
            .contains("added an attachment to ticket"));
        assert!(line("attachment:destroy")
            .unwrap()
            .contains("removed an attachment from ticket"));
        assert!(line("expense:create")
            .unwrap()
            .contains("added an expense to ticket"));
        assert!(line("expense:destroy")
            .unwrap()
            .contains("removed an expense from ticket"));
        assert!(line("subscriber:destroy")
            .unwrap()
            .contains("removed a subscriber from ticket"));
        assert_eq!(line("ticket:create"), None);
        assert_eq!(line("ticket:update"), None);
    }
}

//! Background jobs (contract §5, decisions W29, W30): what a job *is* (a typed payload), how a
//! use case asks for one ([`NewJob`] through the [`crate::ports::JobQueue`] port of its unit of
//! work, so the job commits or rolls back with the change that caused it), and what the
//! notification jobs decide at run time ([`notices_for`]): who gets which e-mail.
//!
//! Adding a job type: a variant of [`Job`] (its serde tag is the `kind` shown by
//! `desk queue inspect`), a line in [`Job::kind`], and a branch where the worker handles it.

use crate::error::DomainResult;
use crate::model::{ProfileId, SubscriberId, TicketId};
use crate::policy::Scope;
use crate::ports::UnitOfWork;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A queued job's id (the `jobs` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub i64);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A job payload. Stored as JSON (`{"kind": "ticket-created", "ticket": 7}`); the handler
/// loads whatever it needs at run time, so payloads carry ids, not copies of rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Job {
    /// §5.3.1: tell the configured addresses about a new ticket.
    TicketCreated { ticket: TicketId },
    /// §5.3.2: tell the ticket users that `actor` reopened the ticket.
    TicketReopened { ticket: TicketId, actor: ProfileId },
    /// §5.3.3: tell the ticket's people that `author` commented.
    CommentCreated { ticket: TicketId, author: ProfileId },
    /// §5.3.4: tell `responder` they were assigned (if they still are when the job runs).
    ResponderAdded {
        ticket: TicketId,
        responder: ProfileId,
    },
    /// §5.3.6: tell the subscribed address or person (if still subscribed when the job runs).
    SubscriberAdded {
        ticket: TicketId,
        subscriber: SubscriberId,
        actor: ProfileId,
    },
    /// One rendered e-mail to deliver. Notices fan out into these so that a failing address
    /// is retried on its own and a delivered message is never sent again.
    Mail(OutgoingMail),
    /// §5.3.5: ask the requester and e-mail subscribers of a closed ticket for a review.
    ReviewRequest { ticket: TicketId },
    /// §5.4: the daily digest; reschedules itself for the next day before it works (W28).
    Digest,
}

impl Job {
    /// The `kind` column (and serde tag).
    pub fn kind(&self) -> &'static str {
        match self {
            Job::TicketCreated { .. } => "ticket-created",
            Job::TicketReopened { .. } => "ticket-reopened",
            Job::CommentCreated { .. } => "comment-created",
            Job::ResponderAdded { .. } => "responder-added",
            Job::SubscriberAdded { .. } => "subscriber-added",
            Job::Mail(_) => "mail",
            Job::ReviewRequest { .. } => "review-request",
            Job::Digest => "digest",
        }
    }

    /// How many times the job may run before it is kept as failed. Mail gets many attempts
    /// (with exponential back-off that is about a day): an SMTP outage must not drop mail.
    pub fn max_attempts(&self) -> i32 {
        match self {
            Job::Mail(_) => 20,
            _ => 10,
        }
    }
}

/// What a use case enqueues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub job: Job,
    /// Not before this instant; `None` = as soon as possible.
    pub run_at: Option<DateTime<Utc>>,
    /// Higher runs first among due jobs.
    pub priority: i16,
    /// While a job with this key is pending, enqueuing another one with it does nothing.
    pub idempotency_key: Option<String>,
    pub max_attempts: i32,
}

impl NewJob {
    /// A job to run as soon as possible, with its type's attempt limit.
    pub fn now(job: Job) -> NewJob {
        NewJob {
            max_attempts: job.max_attempts(),
            job,
            run_at: None,
            priority: 0,
            idempotency_key: None,
        }
    }

    pub fn at(mut self, run_at: DateTime<Utc>) -> NewJob {
        self.run_at = Some(run_at);
        self
    }

    pub fn priority(mut self, priority: i16) -> NewJob {
        self.priority = priority;
        self
    }

    pub fn key(mut self, key: impl Into<String>) -> NewJob {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// An e-mail ready to send: plain text, one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Why a message was not sent. Every failure is retried by the queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MailError(pub String);

/// Which e-mail a notice is (each has a template in `desk-mail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    TicketCreated,
    TicketReopened,
    CommentCreated,
    ResponderAdded,
    SubscriberAdded,
}

/// One e-mail to compose: who gets it and the facts it states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub to: String,
    /// How the greeting addresses the recipient.
    pub recipient_name: String,
    pub ticket: TicketId,
    /// Who did it: the requester of a new ticket, the person who reopened one.
    pub actor_name: String,
}

/// Distinct addresses (case-insensitive, first spelling kept), without `excluded` ones.
fn distinct_addresses<'a>(
    candidates: impl IntoIterator<Item = (&'a str, String)>,
    excluded: &[&str],
) -> Vec<(String, String)> {
    let excluded: BTreeSet<String> = excluded.iter().map(|e| e.to_lowercase()).collect();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (address, name) in candidates {
        let address = address.trim();
        let folded = address.to_lowercase();
        if address.is_empty() || excluded.contains(&folded) || !seen.insert(folded) {
            continue;
        }
        out.push((address.to_string(), name));
    }
    out
}

/// The e-mails a notification job sends, decided from the data as it is *now*: a ticket that
/// no longer exists means no e-mail. `notify_emails` is `DESK_NOTIFY_EMAILS` (W30: those
/// addresses are told directly). Never to the person who made the change; one per address.
pub fn notices_for(
    uow: &mut impl UnitOfWork,
    job: &Job,
    notify_emails: &[String],
) -> DomainResult<Vec<Notice>> {
    match job {
        Job::TicketCreated { ticket } => {
            let Some(ticket) = uow.ticket(Scope::Everything, *ticket)? else {
                return Ok(Vec::new());
            };
            let requester = uow.profile(ticket.requester_id)?;
            let (author_email, author_name) = requester
                .map(|p| (p.email.clone(), p.display_name()))
                .unwrap_or_default();
            // Plain addresses have no profile to take a name from: greet the address.
            let candidates = notify_emails.iter().map(|e| (e.as_str(), e.trim().into()));
            Ok(distinct_addresses(candidates, &[&author_email])
                .into_iter()
                .map(|(to, recipient_name)| Notice {
                    kind: NoticeKind::TicketCreated,
                    to,
                    recipient_name,
                    ticket: ticket.id,
                    actor_name: author_name.clone(),
                })
                .collect())
        }
        Job::TicketReopened { ticket, actor } => {
            let Some(ticket) = uow.ticket(Scope::Everything, *ticket)? else {
                return Ok(Vec::new());
            };
            let links = uow.ticket_links(&[ticket.id])?;
            let mut users: BTreeSet<ProfileId> =
                links.responders.iter().map(|r| r.user_id).collect();
            users.extend(links.subscribers.iter().filter_map(|s| s.user_id));
            users.remove(actor);
            let reopener = uow.profile(*actor)?;
            let (actor_email, actor_name) = reopener
                .map(|p| (p.email.clone(), p.display_name()))
                .unwrap_or_default();
            let ids: Vec<ProfileId> = users.into_iter().collect();
            let mut people = if ids.is_empty() {
                Vec::new()
            } else {
                uow.profile_views(&ids)?
            };
            // Deterministic order (the port returns profiles in no particular order).
            people.sort_by_key(|v| v.profile.id);
            let candidates = people
                .iter()
                .map(|v| (v.profile.email.as_str(), v.profile.display_name()));
            Ok(distinct_addresses(candidates, &[&actor_email])
                .into_iter()
                .map(|(to, recipient_name)| Notice {
                    kind: NoticeKind::TicketReopened,
                    to,
                    recipient_name,
                    ticket: ticket.id,
                    actor_name: actor_name.clone(),
                })
                .collect())
        }
        Job::CommentCreated { ticket, author } => {
            let Some(ticket) = uow.ticket(Scope::Everything, *ticket)? else {
                return Ok(Vec::new());
            };
            let links = uow.ticket_links(&[ticket.id])?;
            // Requester first, then bare subscription addresses, then the ticket users.
            let mut ids = vec![ticket.requester_id, *author];
            ids.extend(links.responders.iter().map(|r| r.user_id));
            ids.extend(links.subscribers.iter().filter_map(|s| s.user_id));
            ids.sort();
            ids.dedup();
            let people: std::collections::HashMap<ProfileId, crate::model::Profile> = uow
                .profile_views(&ids)?
                .into_iter()
                .map(|v| (v.profile.id, v.profile))
                .collect();
            let named =
                |id: &ProfileId| people.get(id).map(|p| (p.email.as_str(), p.display_name()));
            let mut users: Vec<ProfileId> = links.responders.iter().map(|r| r.user_id).collect();
            users.extend(links.subscribers.iter().filter_map(|s| s.user_id));
            users.sort();
            users.dedup();
            let mut candidates: Vec<(&str, String)> =
                named(&ticket.requester_id).into_iter().collect();
            // A bare address has no name to greet (W30: not a blank one either).
            candidates.extend(
                links
                    .subscribers
                    .iter()
                    .filter_map(|s| s.email.as_deref())
                    .map(|e| (e, e.trim().to_string())),
            );
            candidates.extend(users.iter().filter_map(named));
            let (author_email, author_name) = named(author)
                .map(|(e, n)| (e.to_string(), n))
                .unwrap_or_default();
            Ok(distinct_addresses(candidates, &[&author_email])
                .into_iter()
                .map(|(to, recipient_name)| Notice {
                    kind: NoticeKind::CommentCreated,
                    to,
                    recipient_name,
                    ticket: ticket.id,
                    actor_name: author_name.clone(),
                })
                .collect())
        }
        Job::ResponderAdded { ticket, responder } => {
            let links = uow.ticket_links(&[*ticket])?;
            if !links.responders.iter().any(|r| r.user_id == *responder) {
                return Ok(Vec::new());
            }
            let Some(person) = uow.profile(*responder)? else {
                return Ok(Vec::new());
            };
            Ok(
                distinct_addresses([(person.email.as_str(), person.display_name())], &[])
                    .into_iter()
                    .map(|(to, recipient_name)| Notice {
                        kind: NoticeKind::ResponderAdded,
                        to,
                        recipient_name,
                        ticket: *ticket,
                        actor_name: String::new(),
                    })
                    .collect(),
            )
        }
        Job::SubscriberAdded {
            ticket,
            subscriber,
            actor,
        } => {
            let links = uow.ticket_links(&[*ticket])?;
            let Some(row) = links.subscribers.iter().find(|s| s.id == *subscriber) else {
                return Ok(Vec::new());
            };
            let (address, name) = match (&row.email, row.user_id) {
                (Some(email), _) => (email.clone(), email.trim().to_string()),
                (None, Some(user)) => match uow.profile(user)? {
                    Some(p) => (p.email.clone(), p.display_name()),
                    None => return Ok(Vec::new()),
                },
                (None, None) => return Ok(Vec::new()),
            };
            let actor_name = uow
                .profile(*actor)?
                .map(|p| p.display_name())
                .unwrap_or_default();
            Ok(distinct_addresses([(address.as_str(), name)], &[])
                .into_iter()
                .map(|(to, recipient_name)| Notice {
                    kind: NoticeKind::SubscriberAdded,
                    to,
                    recipient_name,
                    ticket: *ticket,
                    actor_name: actor_name.clone(),
                })
                .collect())
        }
        Job::Mail(_) | Job::ReviewRequest { .. } | Job::Digest => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_tagged_by_kind() {
        let job = Job::TicketReopened {
            ticket: TicketId(7),
            actor: ProfileId(3),
        };
        let json = serde_json::to_value(&job).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "ticket-reopened", "ticket": 7, "actor": 3})
        );
        assert_eq!(json["kind"], job.kind());
        assert_eq!(serde_json::from_value::<Job>(json).unwrap(), job);
        let mail = Job::Mail(OutgoingMail {
            to: "a@x.org".into(),
            subject: "s".into(),
            body: "b".into(),
        });
        assert_eq!(serde_json::to_value(&mail).unwrap()["kind"], mail.kind());
    }

    #[test]
    fn addresses_are_distinct_case_insensitively_and_exclude_the_author() {
        let got = distinct_addresses(
            [
                ("A@x.org", "a".to_string()),
                ("a@X.org", "a2".to_string()),
                (" ", "blank".to_string()),
                ("me@x.org", "me".to_string()),
                ("b@x.org", "b".to_string()),
            ],
            &["ME@x.org"],
        );
        assert_eq!(
            got,
            vec![
                ("A@x.org".to_string(), "a".to_string()),
                ("b@x.org".to_string(), "b".to_string())
            ]
        );
    }
}

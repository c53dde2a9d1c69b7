//! Realtime: which committed changes reach which live connection, and as what envelope. The
//! WebSocket and SSE adapters (and later GraphQL subscriptions) hold a `Subscriber` each and ask
//! it about every entry from the bus or the change log; the rules of `visibility` decide.

use std::collections::HashSet;
use std::sync::Arc;

use serde::Serialize;

use super::Principal;
use super::visibility::{is_staff, member_sees_activity};
use crate::domain::DomainError;
use crate::domain::change::{ChangeEntry, ChangeOp};
use crate::domain::time::{Timestamp, rfc3339};
use crate::domain::user::User;
use crate::events::Published;
use crate::store::Store;

/// Topics a connection gets when it asks for none.
pub const DEFAULT_TOPICS: [&str; 2] = ["notifications", "chat"];
/// The most entries a replay sends; a client further behind gets a reset.
const MAX_REPLAY: u64 = 10_000;
/// Entries read from the change log per step of a replay.
const REPLAY_PAGE: usize = 1000;

/// One event as every channel sends it.
#[derive(Clone, Debug, Serialize)]
pub struct Envelope {
    /// The change's sequence number.
    pub id: u64,
    /// The subscribed topic it matched.
    pub topic: String,
    /// e.g. `activity.updated`.
    pub event: &'static str,
    /// When it committed.
    #[serde(with = "rfc3339")]
    pub ts: Timestamp,
    /// The object as the REST API shows it.
    pub data: serde_json::Value,
}

/// The event name of a change, or `None` for changes no client is sent (users).
pub fn event_name(entry: &ChangeEntry) -> Option<&'static str> {
    Some(match (entry.kind.as_str(), entry.op) {
        ("activity", ChangeOp::Created) => "activity.created",
        ("activity", ChangeOp::Deleted) => "activity.deleted",
        ("activity", _) => "activity.updated",
        ("project", ChangeOp::Created) => "project.created",
        ("project", ChangeOp::Updated) => "project.updated",
        ("project", ChangeOp::Deleted) => "project.deleted",
        ("project", ChangeOp::TeamChanged) => "project.team_changed",
        ("update", ChangeOp::Created) => "update.created",
        ("update", ChangeOp::Deleted) => "update.deleted",
        ("update", _) => "update.updated",
        ("notification", _) => "notification.created",
        ("message", ChangeOp::Deleted) => "chat.deleted",
        ("message", _) => "chat.message",
        _ => return None,
    })
}

/// The general topic of a change (`activities`, `chat`, …), if clients are sent it.
fn general_topic(entry: &ChangeEntry) -> Option<&'static str> {
    Some(match entry.kind.as_str() {
        "activity" => "activities",
        "project" => "projects",
        "update" => "updates",
        "notification" => "notifications",
        "message" => "chat",
        _ => return None,
    })
}

/// The project whose `project:{id}` topic a change is also on.
fn project_topic(entry: &ChangeEntry) -> Option<u64> {
    match entry.kind.as_str() {
        "activity" | "project" | "message" => entry.keys.project,
        _ => None,
    }
}

/// The name of topic `slot` (0: general, 1: the project's) of a change.
pub fn topic_name(entry: &ChangeEntry, slot: usize) -> String {
    match (slot, project_topic(entry)) {
        (1, Some(p)) => format!("project:{p}"),
        _ => general_topic(entry).unwrap_or_default().to_string(),
    }
}

/// Checks a topic name: one of the fixed topics or `project:{id}`.
pub fn parse_topic(raw: &str) -> Result<String, DomainError> {
    let raw = raw.trim();
    let known = ["activities", "projects", "updates", "notifications", "chat"];
    if known.contains(&raw) {
        return Ok(raw.to_string());
    }
    if let Some(id) = raw.strip_prefix("project:")
        && id.parse::<u64>().is_ok_and(|id| id > 0)
    {
        return Ok(raw.to_string());
    }
    Err(DomainError::BadRequest(format!(
        "unknown topic {raw:?}; topics are {}, or project:{{id}}",
        known.join(", ")
    )))
}

/// What a replay found in the change log.
pub enum Replay {
    /// The entries after the given id, in order (possibly none).
    Entries(Vec<Arc<Published>>),
    /// The log no longer reaches back that far: the client must reload.
    Reset,
}

/// One live connection's view of the event stream.
pub struct Subscriber {
    user: User,
    /// Projects the user manages or is on the team of, kept current from project events.
    projects: HashSet<u64>,
    topics: Vec<String>,
    /// The ids of the subscribed `project:{id}` topics.
    project_topics: HashSet<u64>,
}

fn project_topic_ids(topics: &[String]) -> HashSet<u64> {
    topics
        .iter()
        .filter_map(|t| t.strip_prefix("project:")?.parse().ok())
        .collect()
}

/// What `observe` learned about the subscriber from an entry.
#[derive(Debug, PartialEq, Eq)]
pub enum Observed {
    /// Nothing that concerns the connection itself.
    Nothing,
    /// The subscriber's own user changed (role, activity): reload it.
    UserChanged,
}

impl Subscriber {
    /// A subscriber for `principal` with `topics` (the defaults when empty).
    pub async fn new(
        store: &dyn Store,
        principal: &Principal,
        topics: Vec<String>,
    ) -> Result<Subscriber, DomainError> {
        let projects = store
            .projects_of(principal.user.id)
            .await?
            .into_iter()
            .map(|p| p.0)
            .collect();
        let topics = if topics.is_empty() {
            DEFAULT_TOPICS.iter().map(|t| t.to_string()).collect()
        } else {
            topics
        };
        Ok(Subscriber {
            user: principal.user.clone(),
            projects,
            project_topics: project_topic_ids(&topics),
            topics,
        })
    }

    /// The subscribed topics.
    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// Adds topics (once each).
    pub fn subscribe(&mut self, topics: &[String]) {
        for t in topics {
            if !self.topics.contains(t) {
                self.topics.push(t.clone());
            }
        }
        self.project_topics = project_topic_ids(&self.topics);
    }

    /// Removes topics.
    pub fn unsubscribe(&mut self, topics: &[String]) {
        self.topics.retain(|t| !topics.contains(t));
        self.project_topics = project_topic_ids(&self.topics);
    }

    /// Replaces the user after a reload.
    pub fn set_user(&mut self, user: User) {
        self.user = user;
    }

    /// The connection's user.
    pub fn user(&self) -> &User {
        &self.user
    }

    /// Keeps the user's project memberships current; says whether the user itself changed.
    pub fn observe(&mut self, entry: &ChangeEntry) -> Observed {
        let me = self.user.id.0;
        match entry.kind.as_str() {
            "project" => {
                let involved = entry.op != ChangeOp::Deleted
                    && (entry.keys.creator == Some(me) || entry.keys.parties.contains(&me));
                if involved {
                    self.projects.insert(entry.id);
                } else {
                    self.projects.remove(&entry.id);
                }
                Observed::Nothing
            }
            "user" if entry.id == me => Observed::UserChanged,
            _ => Observed::Nothing,
        }
    }

    /// Whether the user may see the change's object (API.md §Roles).
    pub fn may_see(&self, entry: &ChangeEntry) -> bool {
        let me = self.user.id.0;
        let staff = is_staff(&self.user);
        let keys = &entry.keys;
        match entry.kind.as_str() {
            "activity" => {
                staff
                    || member_sees_activity(
                        me,
                        keys.creator.unwrap_or(0),
                        keys.assignee,
                        keys.project,
                        |p| self.projects.contains(&p),
                    )
            }
            "project" => staff || keys.creator == Some(me) || keys.parties.contains(&me),
            "update" => true,
            "notification" => keys.parties.contains(&me),
            "message" => match keys.project {
                Some(p) => staff || self.projects.contains(&p),
                None => keys.parties.contains(&me),
            },
            _ => false,
        }
    }

    /// Where `entry` goes for this connection: the slot of the first subscribed topic it is
    /// on (see `topic_name`) and its event name; `None` if it is off-topic or not visible.
    /// Called for every connection on every change, so it allocates nothing.
    pub fn route(&self, entry: &ChangeEntry) -> Option<(usize, &'static str)> {
        let event = event_name(entry)?;
        let general = general_topic(entry)?;
        let slot = if self.topics.iter().any(|t| t == general) {
            0
        } else if project_topic(entry).is_some_and(|p| self.project_topics.contains(&p)) {
            1
        } else {
            return None;
        };
        self.may_see(entry).then_some((slot, event))
    }

    /// The envelope to send for `entry`, if it is on a subscribed topic and visible.
    pub fn envelope(&self, entry: &ChangeEntry) -> Option<Envelope> {
        let (slot, event) = self.route(entry)?;
        Some(Envelope {
            id: entry.seq,
            topic: topic_name(entry, slot),
            event,
            ts: entry.ts,
            data: entry.data.clone(),
        })
    }
}

/// The entries after `since`, or `Reset` when the log no longer holds `since + 1` or more
/// than `MAX_REPLAY` entries came after it.
pub async fn replay(store: &dyn Store, since: u64) -> Result<Replay, DomainError> {
    let first = store.first_seq().await?;
    if let Some(first) = first
        && since.saturating_add(1) < first
    {
        return Ok(Replay::Reset);
    }
    // A client that far behind reloads instead: a replay is held in memory while it is sent.
    if store.last_seq().await?.saturating_sub(since) > MAX_REPLAY {
        return Ok(Replay::Reset);
    }
    let mut out = Vec::new();
    let mut after = since;
    loop {
        let page = store.changes_after(after, REPLAY_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let full = page.len() == REPLAY_PAGE;
        out.extend(page.into_iter().map(|e| Arc::new(Published::new(e))));
        if !full {
            break;
        }
    }
    Ok(Replay::Entries(out))
}

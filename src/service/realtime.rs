//! Realtime: which committed changes reach which live connection, and as what envelope. The
//! service owns the bus and the change log; for a principal, topics and an optional `since` it
//! opens a `LiveSession`, a stream of deliveries that does replay, catch-up after lag, and
//! follows the user's own changes and project memberships by itself. WebSocket, SSE (and later
//! GraphQL subscriptions and live UI fragments) only encode what it yields.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use super::Principal;
use super::visibility::{Viewer, is_project_member, viewer_of};
use crate::domain::change::{ChangeEntry, ChangeOp, ObjectKind};
use crate::domain::machine_key::KeyUse;
use crate::domain::time::{Timestamp, rfc3339};
use crate::domain::user::User;
use crate::domain::{DomainError, KeyId};
use crate::events::{EventBus, Published};
use crate::store::Store;

/// Topics a connection gets when it asks for none.
pub const DEFAULT_TOPICS: [&str; 2] = ["notifications", "chat"];
/// The fixed topics; the others are `project:{id}`.
const TOPICS: [&str; 11] = [
    "activities",
    "projects",
    "updates",
    "notifications",
    "chat",
    "assets",
    "shifts",
    "downtime",
    "production",
    "handovers",
    "andon",
];
/// The most entries a replay sends; a client further behind gets a reset.
const MAX_REPLAY: u64 = 10_000;
/// Entries read from the change log per step of a replay.
const REPLAY_PAGE: usize = 1000;

/// One event as every channel sends it.
#[derive(Clone, Debug, Serialize)]
pub struct Envelope<'a> {
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
    pub data: &'a serde_json::Value,
}

/// The event name of a change, or `None` for changes no client is sent (users).
pub fn event_name(entry: &ChangeEntry) -> Option<&'static str> {
    use ObjectKind as K;
    Some(match (entry.kind, entry.op) {
        (K::Activity, ChangeOp::Created) => "activity.created",
        (K::Activity, ChangeOp::Deleted) => "activity.deleted",
        (K::Activity, _) => "activity.updated",
        (K::Project, ChangeOp::Created) => "project.created",
        (K::Project, ChangeOp::Updated) => "project.updated",
        (K::Project, ChangeOp::Deleted) => "project.deleted",
        (K::Project, ChangeOp::TeamChanged) => "project.team_changed",
        (K::Update, ChangeOp::Created) => "update.created",
        (K::Update, ChangeOp::Deleted) => "update.deleted",
        (K::UpdateAck, _) => "update.acknowledged",
        (K::Update, _) => "update.updated",
        (K::Notification, _) => "notification.created",
        (K::Message, ChangeOp::Deleted) => "chat.deleted",
        (K::Message, _) => "chat.message",
        (K::Asset, ChangeOp::Created) => "asset.created",
        (K::Asset, ChangeOp::Deleted) => "asset.deleted",
        (K::Asset, _) => "asset.updated",
        (K::Shift, ChangeOp::Created) => "shift.created",
        (K::Shift, ChangeOp::Deleted) => "shift.deleted",
        (K::Shift, _) => "shift.updated",
        (K::DowntimeReason, ChangeOp::Created) => "downtime_reason.created",
        (K::DowntimeReason, ChangeOp::Deleted) => "downtime_reason.deleted",
        (K::DowntimeReason, _) => "downtime_reason.updated",
        (K::Downtime, ChangeOp::Created) => "downtime.created",
        (K::Downtime, ChangeOp::Deleted) => "downtime.deleted",
        (K::Downtime, _) => "downtime.updated",
        (K::Production, ChangeOp::Created) => "production.created",
        (K::Production, ChangeOp::Deleted) => "production.deleted",
        (K::Production, _) => "production.updated",
        (K::User | K::MachineKey, _) => return None,
        (K::Handover, ChangeOp::Created) => "handover.created",
        (K::Handover, ChangeOp::Deleted) => "handover.deleted",
        (K::Handover, _) => "handover.updated",
        (K::Andon, ChangeOp::Created) => "andon.created",
        (K::Andon, ChangeOp::Deleted) => "andon.deleted",
        (K::Andon, _) => "andon.updated",
    })
}

/// The general topic of a kind (`activities`, `chat`, …), if clients are sent it.
fn general_topic(kind: ObjectKind) -> Option<&'static str> {
    Some(match kind {
        ObjectKind::Activity => "activities",
        ObjectKind::Project => "projects",
        ObjectKind::Update | ObjectKind::UpdateAck => "updates",
        ObjectKind::Notification => "notifications",
        ObjectKind::Message => "chat",
        ObjectKind::Asset => "assets",
        ObjectKind::Shift => "shifts",
        ObjectKind::DowntimeReason | ObjectKind::Downtime => "downtime",
        ObjectKind::Production => "production",
        ObjectKind::User | ObjectKind::MachineKey => return None,
        ObjectKind::Handover => "handovers",
        ObjectKind::Andon => "andon",
    })
}

/// The project whose `project:{id}` topic a change is also on.
fn project_topic(entry: &ChangeEntry) -> Option<u64> {
    match entry.kind {
        ObjectKind::Activity | ObjectKind::Project | ObjectKind::Message => entry.keys.project,
        _ => None,
    }
}

/// Checks a topic name: one of the fixed topics or `project:{id}`.
pub fn parse_topic(raw: &str) -> Result<String, DomainError> {
    let raw = raw.trim();
    if TOPICS.contains(&raw) {
        return Ok(raw.to_string());
    }
    if let Some(id) = raw.strip_prefix("project:")
        && id.parse::<u64>().is_ok_and(|id| id > 0)
    {
        return Ok(raw.to_string());
    }
    Err(DomainError::BadRequest(format!(
        "unknown topic {raw:?}; topics are {}, or project:{{id}}",
        TOPICS.join(", ")
    )))
}

/// How a session treats a reader that fell behind the bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnLag {
    /// Catch up from the change log (or reset, when it no longer reaches back).
    CatchUp,
    /// Tell the client how many entries it missed, and go on live.
    Report,
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The user was deactivated or deleted.
    Unauthenticated,
    /// The server is shutting down.
    GoingAway,
}

/// What a session yields next.
pub enum Live {
    /// An event for the client.
    Event(Delivery),
    /// The change log no longer reaches back to `since`: the client must reload.
    Reset {
        /// What the client asked to replay from.
        since: u64,
    },
    /// The client fell behind by `missed` entries (only with `OnLag::Report`).
    Lagged {
        /// How many entries it missed.
        missed: u64,
    },
    /// The session is over.
    Ended(Ended),
}

/// One change on its way to one client: the entry and the topic it matched. Its encodings are
/// made once per topic and shared by every connection the change goes to.
pub struct Delivery {
    entry: Arc<Published>,
    slot: usize,
    event: &'static str,
}

impl Delivery {
    /// The change's sequence number (the event id).
    pub fn event_id(&self) -> u64 {
        self.entry.seq
    }

    /// The event name, e.g. `activity.updated`.
    pub fn event(&self) -> &'static str {
        self.event
    }

    /// The kind of object that changed.
    pub fn kind(&self) -> ObjectKind {
        self.entry.kind
    }

    /// Whether the object was deleted.
    pub fn is_delete(&self) -> bool {
        self.entry.op == ChangeOp::Deleted
    }

    /// The object as the REST API shows it (after a delete, what the log kept of it).
    pub fn data(&self) -> &serde_json::Value {
        &self.entry.data
    }

    /// The envelope as JSON: `{"id", "topic", "event", "ts", "data"}`.
    pub fn envelope_json(&self) -> Bytes {
        self.entry.rendered(self.slot, 0, || {
            let envelope = Envelope {
                id: self.entry.seq,
                topic: topic_name(&self.entry, self.slot),
                event: self.event,
                ts: self.entry.ts,
                data: &self.entry.data,
            };
            // Serialising a Value-backed struct cannot fail; an empty body would be dropped.
            serde_json::to_vec(&envelope)
                .map(Bytes::from)
                .unwrap_or_default()
        })
    }

    /// The envelope with `"type": "event"` first, as the WebSocket sends it; made from the
    /// envelope's bytes, not serialised again.
    pub fn typed_json(&self) -> Bytes {
        self.entry.rendered(self.slot, 1, || {
            let envelope = self.envelope_json();
            let mut out = Vec::with_capacity(envelope.len() + 16);
            out.extend_from_slice(br#"{"type":"event","#);
            out.extend_from_slice(envelope.get(1..).unwrap_or_default());
            Bytes::from(out)
        })
    }
}

/// The name of topic `slot` (0: general, 1: the project's) of a change.
fn topic_name(entry: &ChangeEntry, slot: usize) -> String {
    match (slot, project_topic(entry)) {
        (1, Some(p)) => format!("project:{p}"),
        _ => general_topic(entry.kind).unwrap_or_default().to_string(),
    }
}

/// Opens live sessions; cheap to clone.
#[derive(Clone)]
pub struct RealtimeService {
    store: Arc<dyn Store>,
    bus: EventBus,
    stopping: watch::Receiver<bool>,
}

impl RealtimeService {
    /// A service publishing what `bus` carries, replaying from `store`'s change log, whose
    /// sessions end when `stopping` becomes true.
    pub fn new(store: Arc<dyn Store>, bus: EventBus, stopping: watch::Receiver<bool>) -> Self {
        Self {
            store,
            bus,
            stopping,
        }
    }

    /// Completes once the server starts shutting down: for a live channel that holds no
    /// session (which would end by itself) and must still close.
    pub async fn stopped(&self) {
        stopping(&mut self.stopping.clone()).await;
    }

    /// A session for `principal` on `topics` (the defaults when empty), first replaying the
    /// visible events after `since` when given.
    pub async fn open(
        &self,
        principal: &Principal,
        topics: Vec<String>,
        since: Option<u64>,
        on_lag: OnLag,
    ) -> Result<LiveSession, DomainError> {
        principal.may(KeyUse::Live)?;
        let topics = if topics.is_empty() && principal.is_key() {
            // A key has no notifications or chat to follow by default: the shop floor instead.
            KEY_DEFAULT_TOPICS.iter().map(|t| t.to_string()).collect()
        } else {
            topics
        };
        refuse_personal_topics(principal.key.as_ref().map(|k| k.id), &topics)?;
        // Subscribe before reading anything, so nothing committed from now on is missed.
        let bus = self.bus.subscribe();
        let viewer = viewer_of(self.store.as_ref(), &principal.user).await?;
        let topics = if topics.is_empty() {
            DEFAULT_TOPICS.iter().map(|t| t.to_string()).collect()
        } else {
            topics
        };
        let mut session = LiveSession {
            store: self.store.clone(),
            bus,
            stopping: self.stopping.clone(),
            user: principal.user.clone(),
            key: principal.key.as_ref().map(|k| k.id),
            viewer,
            project_topics: project_topic_ids(&topics),
            topics,
            delivered: 0,
            replaying: VecDeque::new(),
            reset: None,
            reload_user: false,
            catch_up: false,
            on_lag,
        };
        if let Some(since) = since {
            session.replay_from(since).await?;
        }
        Ok(session)
    }
}

/// What a key's live session follows when it names no topics.
const KEY_DEFAULT_TOPICS: [&str; 4] = ["andon", "assets", "downtime", "production"];

/// A machine key never follows a person's topics: chat (also a project's room) and
/// notifications.
fn refuse_personal_topics(key: Option<KeyId>, topics: &[String]) -> Result<(), DomainError> {
    if key.is_some()
        && topics
            .iter()
            .any(|t| t == "chat" || t == "notifications" || t.starts_with("project:"))
    {
        return Err(DomainError::Forbidden(
            "a machine key may not follow chat, notifications or project rooms".into(),
        ));
    }
    Ok(())
}

fn project_topic_ids(topics: &[String]) -> HashSet<u64> {
    topics
        .iter()
        .filter_map(|t| t.strip_prefix("project:")?.parse().ok())
        .collect()
}

/// One live connection's view of the event stream.
pub struct LiveSession {
    store: Arc<dyn Store>,
    bus: broadcast::Receiver<Arc<Published>>,
    stopping: watch::Receiver<bool>,
    user: User,
    /// The machine key the session authenticated with, if it was one: revoking it ends the
    /// session.
    key: Option<KeyId>,
    /// The user as the visibility rules see them, memberships kept current from project events.
    viewer: Viewer,
    topics: Vec<String>,
    /// The ids of the subscribed `project:{id}` topics.
    project_topics: HashSet<u64>,
    /// The newest entry handled; live entries up to it were already sent by a replay.
    delivered: u64,
    /// Entries of a replay still to send.
    replaying: VecDeque<Arc<Published>>,
    /// A reset to send before anything else.
    reset: Option<u64>,
    /// The user changed: read it again before routing anything more.
    reload_user: bool,
    /// The bus ran ahead: catch up from the log before reading it again.
    catch_up: bool,
    on_lag: OnLag,
}

impl LiveSession {
    /// The subscribed topics.
    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// The session's user, as last reloaded.
    pub fn user(&self) -> &User {
        &self.user
    }

    /// Adds topics (once each), then replays the visible events after `since` when given.
    pub async fn subscribe(
        &mut self,
        topics: &[String],
        since: Option<u64>,
    ) -> Result<(), DomainError> {
        refuse_personal_topics(self.key, topics)?;
        for t in topics {
            if !self.topics.contains(t) {
                self.topics.push(t.clone());
            }
        }
        self.project_topics = project_topic_ids(&self.topics);
        if let Some(since) = since {
            self.replay_from(since).await?;
        }
        Ok(())
    }

    /// Removes topics.
    pub fn unsubscribe(&mut self, topics: &[String]) {
        self.topics.retain(|t| !topics.contains(t));
        self.project_topics = project_topic_ids(&self.topics);
    }

    /// Queues the entries after `since` (or a reset when the log no longer holds `since + 1`
    /// or more than `MAX_REPLAY` entries came after it).
    async fn replay_from(&mut self, since: u64) -> Result<(), DomainError> {
        let store = self.store.as_ref();
        let first = store.first_seq().await?;
        let gone = first.is_some_and(|first| since.saturating_add(1) < first);
        // A client that far behind reloads instead: a replay is held in memory while sent.
        if gone || store.last_seq().await?.saturating_sub(since) > MAX_REPLAY {
            self.reset = Some(since);
            return Ok(());
        }
        let mut after = since;
        let mut entries = Vec::new();
        loop {
            let page = store.changes_after(after, REPLAY_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            let full = page.len() == REPLAY_PAGE;
            entries.extend(page.into_iter().map(|e| Arc::new(Published::new(e))));
            if !full {
                break;
            }
        }
        // Queued only once whole, so a dropped call leaves nothing half-queued.
        self.replaying.extend(entries);
        Ok(())
    }

    /// The next thing to send: a replayed or live event, a reset, a lag report, or the end.
    ///
    /// Cancel-safe, so adapters can `select!` on it: work that awaits the store (reloading the
    /// user, catching up) is flagged before it starts and retried if the call is dropped.
    pub async fn next(&mut self) -> Live {
        loop {
            if self.reload_user {
                match self.reloaded_user().await {
                    Some((user, viewer)) => {
                        self.user = user;
                        self.viewer = viewer;
                        self.reload_user = false;
                    }
                    None => return Live::Ended(Ended::Unauthenticated),
                }
            }
            if self.catch_up {
                if let Err(e) = self.replay_from(self.delivered).await {
                    tracing::error!(error = %e, "live catch-up failed");
                    return Live::Ended(Ended::GoingAway);
                }
                self.catch_up = false;
            }
            if let Some(since) = self.reset.take() {
                return Live::Reset { since };
            }
            if let Some(entry) = self.replaying.pop_front() {
                self.delivered = self.delivered.max(entry.seq);
                if let Some(delivery) = self.handle(entry) {
                    return Live::Event(delivery);
                }
                continue;
            }
            let received = tokio::select! {
                () = stopping(&mut self.stopping) => return Live::Ended(Ended::GoingAway),
                received = self.bus.recv() => received,
            };
            match received {
                Ok(entry) if entry.seq <= self.delivered => {}
                Ok(entry) => {
                    self.delivered = entry.seq;
                    if let Some(delivery) = self.handle(entry) {
                        return Live::Event(delivery);
                    }
                }
                Err(RecvError::Lagged(missed)) => match self.on_lag {
                    OnLag::Report => return Live::Lagged { missed },
                    OnLag::CatchUp => self.catch_up = true,
                },
                Err(RecvError::Closed) => return Live::Ended(Ended::GoingAway),
            }
        }
    }

    /// The session's user read afresh, and how the rules see them; `None` when they may no
    /// longer be signed in.
    async fn reloaded_user(&self) -> Option<(User, Viewer)> {
        if let Some(key) = self.key {
            let live = matches!(self.store.machine_key(key).await, Ok(Some(k)) if k.is_live());
            return live.then(|| (self.user.clone(), self.viewer.clone()));
        }
        let user = self.store.user(self.user.id).await.ok()??;
        if !user.is_active {
            return None;
        }
        let viewer = if user.role == self.user.role {
            self.viewer.clone()
        } else {
            viewer_of(self.store.as_ref(), &user).await.ok()?
        };
        Some((user, viewer))
    }

    /// Follows what the entry says about the session itself (memberships, its own user), then
    /// routes it.
    fn handle(&mut self, entry: Arc<Published>) -> Option<Delivery> {
        let me = self.user.id.0;
        match entry.kind {
            ObjectKind::Project => {
                let involved = entry.op != ChangeOp::Deleted && is_project_member(me, &entry.keys);
                self.viewer.set_membership(entry.id, involved);
            }
            ObjectKind::User if entry.id == me => self.reload_user = true,
            ObjectKind::MachineKey if self.key.is_some_and(|k| k.0 == entry.id) => {
                self.reload_user = true;
            }
            _ => {}
        }
        let (slot, event) = self.route(&entry)?;
        Some(Delivery { entry, slot, event })
    }

    /// Where `entry` goes for this session: the slot of the first subscribed topic it is on
    /// (see `topic_name`) and its event name; `None` if it is off-topic or not visible.
    /// Called for every connection on every change, so it allocates nothing.
    fn route(&self, entry: &ChangeEntry) -> Option<(usize, &'static str)> {
        let event = event_name(entry)?;
        let general = general_topic(entry.kind)?;
        let slot = if self.topics.iter().any(|t| t == general) {
            0
        } else if project_topic(entry).is_some_and(|p| self.project_topics.contains(&p)) {
            1
        } else {
            return None;
        };
        self.viewer
            .may_see(entry.kind, &entry.keys)
            .then_some((slot, event))
    }
}

/// Completes once the server starts shutting down.
async fn stopping(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::change::VisibilityKeys;

    fn published(kind: ObjectKind, project: Option<u64>) -> Arc<Published> {
        Arc::new(Published::new(ChangeEntry {
            seq: 42,
            kind,
            id: 7,
            op: ChangeOp::Created,
            keys: VisibilityKeys {
                project,
                creator: Some(1),
                ..VisibilityKeys::default()
            },
            ts: crate::domain::time::now(),
            data: serde_json::json!({"id": 7, "title": "pump"}),
            actor: None,
        }))
    }

    /// Every connection a change goes to on the same topic gets the same bytes: the envelope is
    /// serialised once, and the WebSocket form is made once from it.
    #[test]
    fn an_envelope_is_serialised_once_per_topic_and_shared() {
        let entry = published(ObjectKind::Activity, Some(3));
        let delivery = |slot| Delivery {
            entry: entry.clone(),
            slot,
            event: "activity.created",
        };
        let (first, second) = (delivery(0), delivery(0));
        assert_eq!(
            first.envelope_json().as_ptr(),
            second.envelope_json().as_ptr()
        );
        assert_eq!(first.typed_json().as_ptr(), second.typed_json().as_ptr());
        // The project topic is another rendering, with its own topic name.
        let on_project = delivery(1);
        assert_ne!(
            first.envelope_json().as_ptr(),
            on_project.envelope_json().as_ptr()
        );
        let general: serde_json::Value = serde_json::from_slice(&first.typed_json()).expect("JSON");
        assert_eq!(general["type"], "event");
        assert_eq!(general["topic"], "activities");
        assert_eq!(general["id"], 42);
        assert_eq!(general["data"]["title"], "pump");
        let project: serde_json::Value =
            serde_json::from_slice(&on_project.envelope_json()).expect("JSON");
        assert_eq!(project["topic"], "project:3");
        assert!(project.get("type").is_none());
    }

    #[test]
    fn event_names_and_topics_follow_the_kind() {
        let message = published(ObjectKind::Message, None);
        assert_eq!(event_name(&message), Some("chat.message"));
        assert_eq!(general_topic(message.kind), Some("chat"));
        let user = published(ObjectKind::User, None);
        assert_eq!(event_name(&user), None);
        assert!(parse_topic("project:0").is_err());
        assert_eq!(
            parse_topic(" project:9 ").ok().as_deref(),
            Some("project:9")
        );
    }
}

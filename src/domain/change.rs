//! Change-log entries: the one record of "what happened", read by realtime, replay and search.

use serde::{Deserialize, Serialize};

use super::time::{Timestamp, rfc3339};

/// The kinds of object the change log records. One enum for the log, realtime, search and
/// every backend; the stored form is the snake_case name (`"message"` for chat messages), the
/// same strings the log held before the enum, so existing data directories read unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// A user account (its changes reach no client; live connections reload their user).
    User,
    /// An activity.
    Activity,
    /// A project and its team.
    Project,
    /// An update (announcement).
    Update,
    /// A notification of one user.
    Notification,
    /// A chat message, direct or in a project room.
    Message,
    /// A shop-floor asset (site, area, line, workstation, machine).
    Asset,
    /// A shift.
    Shift,
    /// A downtime reason.
    DowntimeReason,
    /// A downtime event.
    Downtime,
    /// A production count.
    Production,
    /// A machine key (its changes reach no client; live connections of a revoked key end).
    MachineKey,
    /// One user's acknowledgement of an update; the entry's id is the update's.
    UpdateAck,
    /// A shift handover.
    Handover,
    /// An andon call.
    Andon,
}

impl ObjectKind {
    /// Every kind, in a fixed order.
    pub const ALL: [ObjectKind; 15] = [
        ObjectKind::User,
        ObjectKind::Activity,
        ObjectKind::Project,
        ObjectKind::Update,
        ObjectKind::Notification,
        ObjectKind::Message,
        ObjectKind::Asset,
        ObjectKind::Shift,
        ObjectKind::DowntimeReason,
        ObjectKind::Downtime,
        ObjectKind::Production,
        ObjectKind::MachineKey,
        ObjectKind::UpdateAck,
        ObjectKind::Handover,
        ObjectKind::Andon,
    ];
    /// The kinds the search index holds, in the order a rebuild reads them.
    pub const SEARCHABLE: [ObjectKind; 8] = [
        ObjectKind::Activity,
        ObjectKind::Project,
        ObjectKind::Update,
        ObjectKind::Message,
        ObjectKind::Asset,
        ObjectKind::Downtime,
        ObjectKind::Handover,
        ObjectKind::Andon,
    ];

    /// The stored (and logged) name.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::User => "user",
            ObjectKind::Activity => "activity",
            ObjectKind::Project => "project",
            ObjectKind::Update => "update",
            ObjectKind::Notification => "notification",
            ObjectKind::Message => "message",
            ObjectKind::Asset => "asset",
            ObjectKind::Shift => "shift",
            ObjectKind::DowntimeReason => "downtime_reason",
            ObjectKind::Downtime => "downtime",
            ObjectKind::Production => "production",
            ObjectKind::MachineKey => "machine_key",
            ObjectKind::UpdateAck => "update_ack",
            ObjectKind::Handover => "handover",
            ObjectKind::Andon => "andon",
        }
    }

    /// The name search uses for the kind (API.md §Search: chat messages are `chat`), or `None`
    /// for kinds that are not searched.
    pub fn search_name(self) -> Option<&'static str> {
        match self {
            ObjectKind::Activity => Some("activity"),
            ObjectKind::Project => Some("project"),
            ObjectKind::Update => Some("update"),
            ObjectKind::Message => Some("chat"),
            ObjectKind::Asset => Some("asset"),
            ObjectKind::Downtime => Some("downtime"),
            ObjectKind::Handover => Some("handover"),
            ObjectKind::Andon => Some("andon"),
            ObjectKind::User
            | ObjectKind::Notification
            | ObjectKind::Shift
            | ObjectKind::DowntimeReason
            | ObjectKind::Production
            | ObjectKind::MachineKey
            | ObjectKind::UpdateAck => None,
        }
    }

    /// The kind search calls `name` (`activity`, `project`, `update`, `chat`).
    pub fn from_search_name(name: &str) -> Option<ObjectKind> {
        Self::SEARCHABLE
            .into_iter()
            .find(|k| k.search_name() == Some(name))
    }
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    /// It was created.
    Created,
    /// It was changed.
    Updated,
    /// It was deleted.
    Deleted,
    /// A project's team changed.
    TeamChanged,
}

/// The keys that decide who may see a change (DESIGN.md §Visibility).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VisibilityKeys {
    /// Project the object belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<u64>,
    /// Who created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creator: Option<u64>,
    /// Who it is assigned to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<u64>,
    /// Other users it concerns (message parties, a notification's recipient).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parties: Vec<u64>,
}

/// One committed change, as appended to the change log in the same transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEntry {
    /// Gapless sequence number; grows by one per committed change and never repeats.
    pub seq: u64,
    /// What kind of object changed.
    pub kind: ObjectKind,
    /// The object's id.
    pub id: u64,
    /// What happened.
    pub op: ChangeOp,
    /// Who may see it.
    pub keys: VisibilityKeys,
    /// When it committed.
    #[serde(with = "rfc3339")]
    pub ts: Timestamp,
    /// The object as the REST API shows it after the change (its last state for a delete).
    #[serde(default)]
    pub data: serde_json::Value,
    /// Who made the change, when a person did (absent in entries written before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_keep_their_stored_names() {
        for kind in ObjectKind::ALL {
            let json = serde_json::to_string(&kind).expect("serialises");
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            let back: ObjectKind = serde_json::from_str(&json).expect("parses");
            assert_eq!(back, kind);
        }
        assert_eq!(ObjectKind::Message.as_str(), "message");
        assert_eq!(ObjectKind::Message.search_name(), Some("chat"));
        assert_eq!(
            ObjectKind::from_search_name("chat"),
            Some(ObjectKind::Message)
        );
        assert_eq!(ObjectKind::from_search_name("message"), None);
    }
}

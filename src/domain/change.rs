//! Change-log entries: the one record of "what happened", read by realtime, replay and search.

use serde::{Deserialize, Serialize};

use super::time::{Timestamp, rfc3339};

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
    /// Object kind: `user`, `activity`, `project`, …
    pub kind: String,
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
}

//! The write path: changesets of writes that commit together, and the ids they use.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::HandoverId;
use crate::domain::activity::Activity;
use crate::domain::andon::AndonCall;
use crate::domain::audit::AuditEntry;
use crate::domain::change::ChangeEntry;
use crate::domain::chat::{Conversation, Message};
use crate::domain::handover::Handover;
use crate::domain::project::Project;
use crate::domain::shopfloor::{Asset, DowntimeEvent, DowntimeReason, ProductionCount, Shift};
use crate::domain::time::Timestamp;
use crate::domain::update::{Notification, Update};
use crate::domain::{
    ActivityId, AssetId, DowntimeId, MessageId, NotificationId, ProductionId, ProjectId, ReasonId,
    ShiftId, UpdateId, UserId,
};

/// What a write expects to find, checked inside its transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The object must not exist yet (a create).
    New,
    /// The object must exist.
    Exists,
    /// The object must exist with this `version` (activities).
    Version(u64),
}

impl Expect {
    /// Whether a versioned row of `what`, found at `found` (or not found), meets this.
    pub fn check_version(self, found: Option<u64>, what: &str) -> Result<(), StoreError> {
        self.check_presence(found.is_some(), what)?;
        match (self, found) {
            (Expect::Version(v), Some(found)) if found != v => Err(StoreError::Stale),
            _ => Ok(()),
        }
    }

    /// Whether a row of `what` without a version, there or not, meets this; `Version` asks
    /// only that it is there.
    pub fn check_presence(self, exists: bool, what: &str) -> Result<(), StoreError> {
        match (self, exists) {
            (Expect::New, true) => Err(StoreError::Conflict(format!("{what} already exists"))),
            (Expect::Exists | Expect::Version(_), false) => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }
}

/// Kinds of object whose ids the store hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    /// Activities.
    Activity,
    /// Projects.
    Project,
    /// Updates.
    Update,
    /// Notifications.
    Notification,
    /// Chat messages.
    Message,
    /// Audit entries.
    Audit,
    /// Assets.
    Asset,
    /// Shifts.
    Shift,
    /// Downtime reasons.
    Reason,
    /// Downtime events.
    Downtime,
    /// Andon calls.
    Andon,
    /// Production counts.
    Production,
    /// Machine keys.
    MachineKey,
    /// Shift handovers.
    Handover,
}

impl IdKind {
    /// The counter's name.
    pub fn name(self) -> &'static str {
        match self {
            IdKind::Activity => "activity",
            IdKind::Project => "project",
            IdKind::Update => "update",
            IdKind::Notification => "notification",
            IdKind::Message => "message",
            IdKind::Andon => "andon",
            IdKind::Audit => "audit",
            IdKind::Asset => "asset",
            IdKind::Shift => "shift",
            IdKind::Reason => "downtime_reason",
            IdKind::Downtime => "downtime",
            IdKind::Production => "production",
            IdKind::MachineKey => "machine_key",
            IdKind::Handover => "handover",
        }
    }
}

/// One change inside a `Changeset`. Preconditions are checked in the transaction, and a failed
/// one fails the whole changeset with nothing written.
#[derive(Clone, Debug)]
pub enum Write {
    /// Create or replace an activity.
    PutActivity(Activity, Expect),
    /// Delete an activity.
    DeleteActivity(ActivityId),
    /// Create or replace a project; `team_changed` marks a team edit in the change log.
    PutProject(Project, Expect, bool),
    /// Delete a project; its activities are detached (`project_id: null`).
    DeleteProject(ProjectId),
    /// Create or replace an update.
    PutUpdate(Update, Expect),
    /// Delete an update.
    DeleteUpdate(UpdateId),
    /// `user` acknowledges an update at a time: it must exist and require acknowledgement
    /// (`Conflict` otherwise). Again is a no-op that keeps the first time.
    AckUpdate(UpdateId, UserId, Timestamp),
    /// The update's acknowledgement reminder was sent: it must still be due (`Conflict`
    /// otherwise, so a reminder is never sent twice), and is never due again.
    AckReminderSent(UpdateId),
    /// Create a notification.
    AddNotification(Notification),
    /// Mark one of `recipient`'s notifications read; `NotFound` if it is not theirs.
    ReadNotification(UserId, NotificationId),
    /// Mark every notification of the user read.
    ReadAllNotifications(UserId),
    /// Send a chat message.
    AddMessage(Message),
    /// Delete a chat message.
    DeleteMessage(MessageId),
    /// Record that the user has read a conversation up to a message.
    ReadConversation(UserId, Conversation, MessageId),
    /// Append an audit entry.
    Audit(AuditEntry),
    /// Precondition: the user exists (`fields` error names the field on failure).
    RequireUser(UserId, &'static str),
    /// Precondition: the project exists.
    RequireProject(ProjectId, &'static str),
    /// Create or replace an asset: its parent exists and is not below it, its code is free.
    PutAsset(Asset, Expect),
    /// Delete an asset that has no children, downtime events or production counts.
    DeleteAsset(AssetId),
    /// Create or replace a shift.
    PutShift(Shift, Expect),
    /// Delete a shift.
    DeleteShift(ShiftId),
    /// Create or replace a downtime reason: its parent exists, is not below it and is on no
    /// event; its code is free.
    PutReason(DowntimeReason, Expect),
    /// Delete a downtime reason that has no children and is on no event.
    DeleteReason(ReasonId),
    /// Create or replace a downtime event: its asset exists, its reason is a leaf, and it
    /// overlaps no other event of the asset (checked in the transaction, so of two concurrent
    /// reports one wins).
    PutDowntime(DowntimeEvent, Expect),
    /// Delete a downtime event.
    DeleteDowntime(DowntimeId),
    /// Create or replace a production count: its asset exists.
    PutProduction(ProductionCount, Expect),
    /// Delete a production count.
    DeleteProduction(ProductionId),
    /// Create or replace a machine key (revoking sets `revoked_at`); its secret's hash is
    /// unique.
    PutMachineKey(crate::domain::machine_key::MachineKey, Expect),
    /// Create or replace a shift handover: its asset and shift exist (checked in the
    /// transaction).
    PutHandover(Handover, Expect),
    /// Create or replace an andon call: its asset exists (`asset_id` otherwise).
    PutAndon(AndonCall, Expect),
    /// Delete a shift handover.
    DeleteHandover(HandoverId),
}

/// Writes that commit together or not at all.
#[derive(Clone, Debug, Default)]
pub struct Changeset {
    /// In order.
    pub writes: Vec<Write>,
    /// The person making the change, recorded in its change-log entries (an object's history).
    pub actor: Option<UserId>,
}

impl Changeset {
    /// An empty changeset.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty changeset of changes made by `actor`.
    pub fn by(actor: UserId) -> Self {
        Self {
            writes: Vec::new(),
            actor: Some(actor),
        }
    }

    /// Adds a write.
    pub fn push(&mut self, write: Write) -> &mut Self {
        self.writes.push(write);
        self
    }
}

/// Writes: every change goes in as one changeset, committed with its change-log entries.
#[async_trait]
pub trait ChangesetStore: Send + Sync {
    /// A new id of `kind`, never handed out before.
    fn allocate_id(&self, kind: IdKind) -> u64;
    /// Applies every write in one transaction; returns the change-log entries it appended.
    async fn apply(&self, changeset: Changeset) -> Result<Vec<ChangeEntry>, StoreError>;
}

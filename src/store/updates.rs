//! Updates (announcements) and notifications.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::activity::Priority;
use crate::domain::time::Timestamp;
use crate::domain::update::{Notification, Update, UpdateType};
use crate::domain::{UpdateId, UserId};

/// Filters of the update list; every field narrows the result.
#[derive(Clone, Debug, Default)]
pub struct UpdateFilter {
    /// Only this type.
    pub update_type: Option<UpdateType>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Only created at or after.
    pub since: Option<Timestamp>,
}

/// Sort keys of the update list; ties go by id, in the same direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateOrder {
    /// By creation time.
    CreatedAt,
    /// By priority (low to critical).
    Priority,
}

/// Updates and notifications.
#[async_trait]
pub trait UpdateStore: Send + Sync {
    /// One update.
    async fn update(&self, id: UpdateId) -> Result<Option<Update>, StoreError>;
    /// One page (`offset` rows skipped, at most `limit` taken) of the updates matching `filter`
    /// in `order` (then id; both reversed when `descending`), and how many match in all.
    async fn update_page(
        &self,
        filter: &UpdateFilter,
        order: UpdateOrder,
        descending: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Update>), StoreError>;
    /// One page (`offset` rows skipped, at most `limit` taken) of `user`'s notifications,
    /// newest first, only the unread ones if `unread_only`, and how many there are in all.
    async fn notification_page(
        &self,
        user: UserId,
        unread_only: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Notification>), StoreError>;
    /// Who acknowledged `update` and when, in user-id order: every acknowledgement stored,
    /// whoever made it (the service decides who counts). An update that starts requiring
    /// acknowledgement (created so, or changed to) is acknowledged by its author at that moment
    /// (its `updated_at`), in the same write: they wrote it. Acknowledgements are kept when
    /// `requires_ack` is turned off, and count again when it is turned back on.
    async fn update_acks(&self, update: UpdateId) -> Result<Vec<(UserId, Timestamp)>, StoreError>;
    /// When `user` acknowledged each of `updates` (`None`: not acknowledged), in their order.
    async fn acked_at(
        &self,
        user: UserId,
        updates: &[UpdateId],
    ) -> Result<Vec<Option<Timestamp>>, StoreError>;
    /// One page (`offset` rows skipped, at most `limit` taken) of the updates that require
    /// acknowledgement and that `user` has not acknowledged, newest first (then id), and how
    /// many there are in all.
    async fn pending_ack_page(
        &self,
        user: UserId,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Update>), StoreError>;
    /// At most `max` updates whose acknowledgement reminder is due: they have required
    /// acknowledgement since `required_since` or earlier (since they were created so, or last
    /// changed to require it) and their reminder was never sent (`Write::AckReminderSent`),
    /// oldest first. An update is reminded of once in its life, even if `requires_ack` is
    /// turned off and on again after its reminder.
    async fn ack_reminders_due(
        &self,
        required_since: Timestamp,
        max: usize,
    ) -> Result<Vec<UpdateId>, StoreError>;
    /// Removes at most `max` read notifications created before `before`, oldest first; unread
    /// ones always stay. Returns how many went.
    async fn prune_notifications(&self, before: Timestamp, max: usize)
    -> Result<usize, StoreError>;
}

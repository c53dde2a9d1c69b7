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
    /// Removes at most `max` read notifications created before `before`, oldest first; unread
    /// ones always stay. Returns how many went.
    async fn prune_notifications(&self, before: Timestamp, max: usize)
    -> Result<usize, StoreError>;
}

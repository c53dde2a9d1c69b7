//! Updates (announcements) and notifications.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::time::Timestamp;
use crate::domain::update::{Notification, Update};
use crate::domain::{UpdateId, UserId};

/// Updates and notifications.
#[async_trait]
pub trait UpdateStore: Send + Sync {
    /// One update.
    async fn update(&self, id: UpdateId) -> Result<Option<Update>, StoreError>;
    /// Every update, in id order.
    async fn updates(&self) -> Result<Vec<Update>, StoreError>;
    /// All of `user`'s notifications, newest first (for tests and exports; lists use
    /// `notification_page`).
    async fn notifications(&self, user: UserId) -> Result<Vec<Notification>, StoreError>;
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

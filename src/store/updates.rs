//! Updates (announcements) and notifications.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::update::{Notification, Update};
use crate::domain::{UpdateId, UserId};

/// Updates and notifications.
#[async_trait]
pub trait UpdateStore: Send + Sync {
    /// One update.
    async fn update(&self, id: UpdateId) -> Result<Option<Update>, StoreError>;
    /// Every update, in id order.
    async fn updates(&self) -> Result<Vec<Update>, StoreError>;
    /// `user`'s notifications, newest first.
    async fn notifications(&self, user: UserId) -> Result<Vec<Notification>, StoreError>;
}

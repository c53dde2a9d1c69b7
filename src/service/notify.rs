//! Notifications, created in the same changeset as the change that causes them. Nobody is
//! notified of their own action.

use std::sync::Arc;

use crate::domain::time;
use crate::domain::update::{Notification, NotificationKind};
use crate::domain::{NotificationId, UserId};
use crate::store::{IdKind, Store, Write};

/// Builds notification writes; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    store: Arc<dyn Store>,
}

impl Notifier {
    /// Builds the notifier over `store` (for ids).
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// One notification write for each recipient other than `actor`, each recipient once.
    pub fn notify(
        &self,
        recipients: impl IntoIterator<Item = UserId>,
        actor: UserId,
        kind: NotificationKind,
        title: &str,
        body: &str,
        link: &str,
    ) -> Vec<Write> {
        let mut seen = Vec::new();
        let mut writes = Vec::new();
        for recipient in recipients {
            if recipient == actor || seen.contains(&recipient) {
                continue;
            }
            seen.push(recipient);
            writes.push(Write::AddNotification(Notification {
                id: NotificationId(self.store.allocate_id(IdKind::Notification)),
                recipient,
                kind,
                title: title.to_string(),
                body: body.to_string(),
                link: link.to_string(),
                read: false,
                created_at: time::now(),
            }));
        }
        writes
    }
}

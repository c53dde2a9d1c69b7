//! Change-log retention: a background task that removes entries older than both limits
//! (`changes.retention_entries` newest entries and `changes.retention_days` days), so the log
//! keeps whichever reaches further back. Also notification and audit-log retention
//! (`notifications.retention_days`, `audit.retention_days`), in bounded passes.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{AuditConfig, ChangesConfig, NotificationsConfig};
use crate::domain::time;
use crate::store::Store;

/// How often the log is compacted.
const EVERY: Duration = Duration::from_secs(600);
/// Entries removed per transaction, so a long backlog never holds the writer for long.
const STEP: usize = 5_000;

/// Compacts once: removes what is past both limits and that followers no longer need (entries
/// after `floor` stay); returns how many entries went.
pub async fn compact_once(store: &dyn Store, config: &ChangesConfig, floor: u64) -> usize {
    let days = i64::try_from(config.retention_days).unwrap_or(i64::MAX / 86_400);
    let keep_since = time::now() - ::time::Duration::days(days.min(365_000));
    let mut removed = 0;
    loop {
        match store
            .compact_changes(config.retention_entries, keep_since, floor, STEP)
            .await
        {
            Ok(n) => {
                removed += n;
                if n < STEP {
                    return removed;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "change-log compaction failed; will retry");
                return removed;
            }
        }
    }
}

/// Compacts now and every ten minutes until `stopping` turns true.
/// `floor` tells the last entry every follower (the search index) has taken in.
pub async fn run(
    store: Arc<dyn Store>,
    config: ChangesConfig,
    floor: impl Fn() -> u64 + Send + 'static,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let removed = compact_once(store.as_ref(), &config, floor()).await;
        if removed > 0 {
            tracing::info!(removed, "compacted the change log");
        }
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            _ = stopping.changed() => return,
        }
    }
}

/// Rows removed per transaction by `prune_once`, so a long backlog never holds the writer long.
const PRUNE_STEP: usize = 2_000;
/// Transactions per table per pass at most: a pass does bounded work, the next one goes on.
const PRUNE_STEPS_PER_PASS: usize = 50;

/// The moment `days` days ago.
fn days_ago(days: u64) -> time::Timestamp {
    let days = i64::try_from(days).unwrap_or(i64::MAX).min(365_000);
    time::now() - ::time::Duration::days(days)
}

/// Runs `step` (which removes at most `PRUNE_STEP` rows) until it finds less to do or the pass
/// is over; returns how many rows went.
async fn prune_in_steps<F, Fut>(what: &str, mut step: F) -> usize
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<usize, crate::store::StoreError>>,
{
    let mut removed = 0;
    for _ in 0..PRUNE_STEPS_PER_PASS {
        match step().await {
            Ok(n) => {
                removed += n;
                if n < PRUNE_STEP {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, what, "pruning failed; will retry");
                break;
            }
        }
    }
    removed
}

/// One pass of notification and audit-log retention: read notifications created more than
/// `notifications.retention_days` ago (never unread ones), and audit entries older than
/// `audit.retention_days` if that is set. Returns (notifications, audit entries) removed.
pub async fn prune_once(
    store: &dyn Store,
    notifications: &NotificationsConfig,
    audit: &AuditConfig,
) -> (usize, usize) {
    let mut removed = (0, 0);
    if notifications.retention_days > 0 {
        let before = days_ago(notifications.retention_days);
        removed.0 = prune_in_steps("notifications", || {
            store.prune_notifications(before, PRUNE_STEP)
        })
        .await;
    }
    if audit.retention_days > 0 {
        let before = days_ago(audit.retention_days);
        removed.1 = prune_in_steps("audit log", || store.prune_audit(before, PRUNE_STEP)).await;
    }
    removed
}

/// Prunes now and every ten minutes until `stopping` turns true.
pub async fn run_pruning(
    store: Arc<dyn Store>,
    notifications: NotificationsConfig,
    audit: AuditConfig,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (notes, entries) = prune_once(store.as_ref(), &notifications, &audit).await;
        if notes > 0 || entries > 0 {
            tracing::info!(
                notifications = notes,
                audit_entries = entries,
                "pruned past their retention"
            );
        }
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            _ = stopping.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::AuditEntry;
    use crate::domain::update::{Notification, NotificationKind};
    use crate::domain::{AuditId, NotificationId, UserId};
    use crate::events::EventBus;
    use crate::store::redb::RedbStore;
    use crate::store::{
        AuditStore, Changeset, ChangesetStore, IdKind, NewUser, UpdateStore, UserStore, Write,
    };

    async fn commit(store: &RedbStore, writes: Vec<Write>) {
        store
            .apply(Changeset {
                writes,
                actor: None,
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_pass_prunes_old_read_notifications_and_leaves_the_audit_log_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path(), EventBus::new()).unwrap();
        let user = store
            .create_user(NewUser {
                username: "op".into(),
                email: "op@plant.test".into(),
                display_name: "Op".into(),
                role: crate::domain::user::Role::User,
                password_hash: "x".into(),
            })
            .await
            .unwrap()
            .id;
        let note = |days: i64| Notification {
            id: NotificationId(store.allocate_id(IdKind::Notification)),
            recipient: user,
            kind: NotificationKind::UpdatePosted,
            title: "t".into(),
            body: "b".into(),
            link: "/".into(),
            read: false,
            created_at: time::now() - ::time::Duration::days(days),
        };
        let (old_read, old_unread, young_read) = (note(10), note(10), note(1));
        let audit = |days: i64| AuditEntry {
            id: AuditId(store.allocate_id(IdKind::Audit)),
            ts: time::now() - ::time::Duration::days(days),
            actor_id: Some(UserId(user.0)),
            ip: None,
            action: "login.success".into(),
            target: "user:1".into(),
            detail: serde_json::Value::Null,
        };
        let (old_entry, young_entry) = (audit(10), audit(1));
        commit(
            &store,
            vec![
                Write::AddNotification(old_read.clone()),
                Write::AddNotification(old_unread.clone()),
                Write::AddNotification(young_read.clone()),
                Write::Audit(old_entry),
                Write::Audit(young_entry.clone()),
            ],
        )
        .await;
        commit(
            &store,
            vec![
                Write::ReadNotification(user, old_read.id),
                Write::ReadNotification(user, young_read.id),
            ],
        )
        .await;
        let short = NotificationsConfig { retention_days: 5 };

        let removed = prune_once(&store, &short, &AuditConfig::default()).await;
        assert_eq!(removed, (1, 0), "the audit log is kept by default");
        let mut left: Vec<_> = store
            .notification_page(user, false, 0, usize::MAX)
            .await
            .unwrap()
            .1
            .iter()
            .map(|n| n.id)
            .collect();
        left.sort();
        assert_eq!(left, vec![old_unread.id, young_read.id]);
        assert_eq!(
            store
                .audit_page(&crate::store::AuditFilter::default(), 0, usize::MAX)
                .await
                .unwrap()
                .0,
            2
        );

        let off = NotificationsConfig { retention_days: 0 };
        let removed = prune_once(&store, &off, &AuditConfig { retention_days: 5 }).await;
        assert_eq!(removed, (0, 1));
        assert_eq!(
            store
                .audit_page(&crate::store::AuditFilter::default(), 0, usize::MAX)
                .await
                .unwrap()
                .1,
            vec![young_entry]
        );
        store.close().await;
    }
}

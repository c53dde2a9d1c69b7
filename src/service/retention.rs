//! Change-log retention: a background task that removes entries older than both limits
//! (`changes.retention_entries` newest entries and `changes.retention_days` days), so the log
//! keeps whichever reaches further back.

use std::sync::Arc;
use std::time::Duration;

use crate::config::ChangesConfig;
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

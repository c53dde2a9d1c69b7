//! Following the change log: catching up from the index's position, rebuilding from the
//! database, committing, and letting a search wait for the writes committed before it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Readiness, SearchIndex};
use crate::domain::DomainError;
use crate::domain::change::ObjectKind;
use crate::events::EventBus;
use crate::store::Store;

/// How long a write may wait before it is searchable.
const COMMIT_EVERY: Duration = Duration::from_millis(400);
/// Change-log entries read per catch-up step.
const CATCH_UP_PAGE: usize = 2_000;
/// Objects read from the database per step of a rebuild.
const REBUILD_PAGE: usize = 5_000;

impl SearchIndex {
    /// Commits what was applied, recording `seq` as the last entry held, and makes it
    /// visible; on the blocking pool, since it syncs files.
    async fn commit(&self, seq: u64) -> Result<(), DomainError> {
        let inner = self.inner.clone();
        let committed =
            tokio::task::spawn_blocking(move || -> Result<(), tantivy::TantivyError> {
                let mut writer = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
                let outcome = writer.prepare_commit().and_then(|mut prepared| {
                    prepared.set_payload(&seq.to_string());
                    prepared.commit()
                });
                if let Err(e) = outcome {
                    // Back to the last commit, so the retry applies the same changes afresh
                    // (a full disk, say, fails the commit but leaves the writer usable).
                    if let Err(r) = writer.rollback() {
                        tracing::error!(error = %r, "search index rollback failed");
                    }
                    return Err(e);
                }
                inner.indexed_seq.store(seq, Ordering::SeqCst);
                inner.reader.reload()?;
                inner.committed.send_replace(seq);
                Ok(())
            })
            .await
            .map_err(|e| DomainError::Internal(format!("search commit task: {e}")))?;
        committed.map_err(|e| DomainError::Internal(format!("search commit: {e}")))
    }

    /// Rebuilds the whole index from the database's current objects, then records the log
    /// position they reflect. Progress goes to the log.
    pub async fn rebuild(&self, store: &dyn Store) -> Result<(), DomainError> {
        self.inner.readiness.store(0, Ordering::SeqCst);
        let internal =
            |e: tantivy::TantivyError| DomainError::Internal(format!("search rebuild: {e}"));
        let seq = store.last_seq().await?;
        let total = store.searchable_count().await?.max(1);
        tracing::info!(objects = total, "rebuilding the search index");
        self.writer().delete_all_documents().map_err(internal)?;
        let mut done = 0usize;
        let mut last_report = Instant::now();
        for kind in ObjectKind::SEARCHABLE {
            let mut after = 0;
            loop {
                let page = store.searchable_objects(kind, after, REBUILD_PAGE).await?;
                let Some(last) = page.last().map(|e| e.id) else {
                    break;
                };
                self.apply_all(&page);
                done += page.len();
                after = last;
                let percent = (done * 100 / total).min(99) as u8;
                self.inner.readiness.store(percent, Ordering::SeqCst);
                if last_report.elapsed() > Duration::from_secs(2) {
                    tracing::info!(done, total, "rebuilding the search index: {percent}%");
                    last_report = Instant::now();
                }
            }
        }
        self.commit(seq).await?;
        self.inner.readiness.store(255, Ordering::SeqCst);
        tracing::info!(objects = done, "search index rebuilt");
        Ok(())
    }

    /// Applies every change-log entry after the index's position; commits once at the end.
    pub async fn catch_up(&self, store: &dyn Store) -> Result<usize, DomainError> {
        let mut after = self.indexed_seq();
        if let Some(first) = store.first_seq().await?
            && after + 1 < first
        {
            // The log no longer reaches back to the index's position.
            self.rebuild(store).await?;
            after = self.indexed_seq();
        }
        let mut applied = 0;
        loop {
            let page = store.changes_after(after, CATCH_UP_PAGE).await?;
            let Some(last) = page.last().map(|e| e.seq) else {
                break;
            };
            self.apply_all(&page);
            self.commit(last).await?;
            applied += page.len();
            after = last;
            if page.len() < CATCH_UP_PAGE {
                break;
            }
        }
        Ok(applied)
    }

    /// Follows the change log until `stopping`: woken by the bus, it catches up at most every
    /// `COMMIT_EVERY`, so writes are searchable within a second without a commit per request.
    pub async fn follow(
        self,
        store: Arc<dyn Store>,
        bus: EventBus,
        needs_rebuild: bool,
        mut stopping: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut events = bus.subscribe();
        if needs_rebuild && let Err(e) = self.rebuild(store.as_ref()).await {
            tracing::error!(error = %e, "search index rebuild failed");
        }
        let mut failing = false;
        loop {
            match self.catch_up(store.as_ref()).await {
                Ok(_) if failing => {
                    tracing::info!("search index catch-up recovered");
                    failing = false;
                }
                Ok(_) => {}
                Err(e) if !failing => {
                    tracing::error!(error = %e, "search index catch-up failed; retrying every second");
                    failing = true;
                }
                Err(e) => tracing::debug!(error = %e, "search index catch-up failed again"),
            }
            tokio::select! {
                _ = stopping.changed() => break,
                () = tokio::time::sleep(Duration::from_secs(1)), if failing => {}
                received = events.recv() => {
                    if let Err(tokio::sync::broadcast::error::RecvError::Closed) = received {
                        break;
                    }
                    // Gather whatever else commits meanwhile into the same index commit,
                    // unless a search is waiting for it.
                    tokio::select! {
                        () = tokio::time::sleep(COMMIT_EVERY) => {}
                        () = self.inner.urgent.notified() => {}
                    }
                    while events.try_recv().is_ok() {}
                }
            }
        }
        if let Err(e) = self.catch_up(store.as_ref()).await {
            tracing::warn!(error = %e, "final search catch-up failed; it resumes on start");
        }
    }

    /// Waits (at most `limit`) until the index holds change `seq`, so a search sees the writes
    /// committed before it; past the limit it answers from what the index has.
    pub async fn wait_for(&self, seq: u64, limit: Duration) {
        if self.indexed_seq() >= seq || self.readiness() != Readiness::Ready {
            return;
        }
        self.inner.urgent.notify_one();
        let mut committed = self.inner.committed.subscribe();
        let _ = tokio::time::timeout(limit, committed.wait_for(|s| *s >= seq)).await;
    }
}

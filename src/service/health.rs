//! Readiness: whether the store takes reads and writes and the search index is ready, for
//! `/readyz` (and later `nexus check`); and the storage figures `/metrics` shows.

use std::sync::Arc;

use crate::search::{Readiness, SearchIndex};
use crate::store::Store;

/// Answers "is this server ready"; cheap to clone.
#[derive(Clone)]
pub struct HealthService {
    store: Arc<dyn Store>,
    index: SearchIndex,
}

/// One named check and its outcome (`Err` says why it fails).
pub type Check = (&'static str, Result<(), String>);

/// Sizes and search lag, each `None` when it could not be read.
#[derive(Clone, Copy, Debug, Default)]
pub struct StorageFigures {
    /// The database on disk, in bytes.
    pub database_bytes: Option<u64>,
    /// The search index on disk, in bytes.
    pub search_index_bytes: Option<u64>,
    /// Committed change-log entries the search index does not hold yet.
    pub search_index_lag: Option<u64>,
}

impl HealthService {
    /// Checks `store` and `index`.
    pub fn new(store: Arc<dyn Store>, index: SearchIndex) -> Self {
        Self { store, index }
    }

    /// Every check, in a fixed order: `database`, `search`.
    pub async fn checks(&self) -> Vec<Check> {
        let database = self.store.check().await.map_err(|e| e.to_string());
        let search = match self.index.readiness() {
            Readiness::Ready => Ok(()),
            Readiness::Rebuilding(p) => Err(format!("rebuilding ({p}% done)")),
        };
        vec![("database", database), ("search", search)]
    }

    /// The storage's sizes and how far the search index trails the change log.
    pub async fn storage(&self) -> StorageFigures {
        let store = self.store.clone();
        let index = self.index.clone();
        let sizes =
            tokio::task::spawn_blocking(move || (store.size_bytes(), index.size_bytes().ok()))
                .await
                .unwrap_or_default();
        let lag = self
            .store
            .last_seq()
            .await
            .ok()
            .map(|last| last.saturating_sub(self.index.indexed_seq()));
        StorageFigures {
            database_bytes: sizes.0,
            search_index_bytes: sizes.1,
            search_index_lag: lag,
        }
    }
}

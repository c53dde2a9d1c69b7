//! Readiness: whether the store takes reads and writes and the search index is ready, for
//! `/readyz` (and later the metrics and `nexus check`).

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
}

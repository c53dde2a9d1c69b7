//! `nexus reindex`: rebuilds the search index from the database, on a stopped server's data
//! directory. (A running server rebuilds by itself when its index folder is missing.)

use std::sync::Arc;

use crate::StartError;
use crate::config::Config;
use crate::events::EventBus;
use crate::search::SearchIndex;
use crate::store::Store;
use crate::store::redb::RedbStore;

/// Deletes and rebuilds the index; returns how many objects it holds.
pub async fn run(config: &Config) -> Result<usize, StartError> {
    let data_dir = config.server.data_dir.clone();
    if !data_dir.join(crate::store::redb::DB_FILE).exists() {
        return Err(StartError::DataDir {
            dir: data_dir.display().to_string(),
            reason: "holds no Nexus database".into(),
        });
    }
    let store = {
        let dir = data_dir.clone();
        tokio::task::spawn_blocking(move || RedbStore::open(&dir, EventBus::new()))
            .await
            .map_err(|e| StartError::Bootstrap(e.to_string()))??
    };
    let index_dir = SearchIndex::path(&data_dir);
    if index_dir.exists() {
        std::fs::remove_dir_all(&index_dir).map_err(|e| StartError::DataDir {
            dir: index_dir.display().to_string(),
            reason: format!("cannot remove the old index: {e}"),
        })?;
    }
    let (index, _) =
        SearchIndex::open(&data_dir).map_err(|e| StartError::Bootstrap(e.to_string()))?;
    let store: Arc<dyn Store> = Arc::new(store.clone());
    let total = store
        .searchable_count()
        .await
        .map_err(|e| StartError::Bootstrap(e.to_string()))?;
    eprintln!("reindexing {total} objects…");
    let started = std::time::Instant::now();
    index
        .rebuild(store.as_ref())
        .await
        .map_err(|e| StartError::Bootstrap(e.to_string()))?;
    eprintln!(
        "reindexed {total} objects in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(total)
}

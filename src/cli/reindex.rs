//! `nexus reindex`: rebuilds the search index from the database, on a stopped server's data
//! directory. (A running server rebuilds by itself when its index folder is missing.)

use crate::config::Config;
use crate::{App, StartError};

/// Rebuilds the index; returns how many objects it holds.
pub async fn run(config: &Config) -> Result<usize, StartError> {
    let app = App::open_existing(config).await?;
    eprintln!("reindexing…");
    let started = std::time::Instant::now();
    let rebuilt = app.rebuild_search().await;
    app.close().await;
    let total = rebuilt?;
    eprintln!(
        "reindexed {total} objects in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(total)
}

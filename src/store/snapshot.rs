//! Consistent copies of the whole database, for backups: taken while the server runs and
//! writes go on, and checked on their own before anything trusts them.

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;

use super::StoreError;

/// Rows per table, by table name.
pub type TableCounts = BTreeMap<String, u64>;

/// Told the name and row count of each table as it is copied.
pub type CopyProgress = std::sync::Arc<dyn Fn(&str, u64) + Send + Sync>;

/// Copies of the database as of one moment.
#[async_trait]
pub trait SnapshotStore: Send + Sync {
    /// Copies every table, as one read transaction sees them, into a new database file at
    /// `dest` (which must not exist), and returns the rows per table of the source. Writes go
    /// on meanwhile; none of them is in the copy. Fails when the copy's rows differ from the
    /// source's, so a table the copy does not know cannot go missing silently.
    async fn snapshot(
        &self,
        dest: &Path,
        progress: CopyProgress,
    ) -> Result<TableCounts, StoreError>;

    /// Up to `limit` stored objects of `kind` (one of `EXPORTED`) with ids after `after`, in
    /// id order, as the JSON the store keeps: for exports, which page through every object.
    async fn exported_rows(
        &self,
        kind: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, serde_json::Value)>, StoreError>;
}

/// The object kinds an export holds, in the order it writes them.
pub const EXPORTED: [&str; 14] = [
    "users",
    "projects",
    "activities",
    "updates",
    "notifications",
    "messages",
    "audit",
    "assets",
    "shifts",
    "downtime_reasons",
    "downtime",
    "production",
    "handovers",
    "andon",
];

/// Checks a database file that no store has open, as a restore must before trusting it: the
/// backend's own integrity check, then its rows per table.
pub fn verify_file(path: &Path) -> Result<TableCounts, String> {
    super::redb::snapshot::verify_file(path)
}

/// The database file's name inside a data directory (and inside a backup archive).
pub const DB_FILE: &str = super::redb::DB_FILE;

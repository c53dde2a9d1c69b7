//! The change log, and what its followers (search) read beside it.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::change::{ChangeEntry, ObjectKind};
use crate::domain::time::Timestamp;

/// The change log.
#[async_trait]
pub trait ChangeLog: Send + Sync {
    /// Entries with `seq > after`, oldest first, at most `limit`.
    async fn changes_after(&self, after: u64, limit: usize)
    -> Result<Vec<ChangeEntry>, StoreError>;
    /// One object's entries still in the log, newest first, at most `limit`: its history.
    async fn object_changes(
        &self,
        kind: ObjectKind,
        id: u64,
        limit: usize,
    ) -> Result<Vec<ChangeEntry>, StoreError>;
    /// The newest committed `seq` (0 when the log is empty).
    async fn last_seq(&self) -> Result<u64, StoreError>;
    /// The oldest `seq` still in the log, if any.
    async fn first_seq(&self) -> Result<Option<u64>, StoreError>;
    /// Removes entries older than both limits (beyond the newest `keep_entries` and before
    /// `keep_since`) and not after `floor` (what followers still need); at most `max` per call.
    /// Returns how many were removed.
    async fn compact_changes(
        &self,
        keep_entries: u64,
        keep_since: Timestamp,
        floor: u64,
        max: usize,
    ) -> Result<usize, StoreError>;
}

/// The objects a search index is built from, for a full rebuild.
#[async_trait]
pub trait SearchSource: Send + Sync {
    /// How many searchable objects (activities, projects, updates, messages) exist.
    async fn searchable_count(&self) -> Result<usize, StoreError>;
    /// Searchable objects of `kind` (`ObjectKind::SEARCHABLE`) with ids above `after`, in id
    /// order, as "created" change entries carrying their REST form and visibility keys.
    async fn searchable_objects(
        &self,
        kind: ObjectKind,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ChangeEntry>, StoreError>;
}

//! Shift handovers. Writes go through `Changeset`s; these are the reads: the list paged in the
//! store from an index of (created, id), and the handovers whose acknowledgement timeout is due
//! from an index of the submitted, unacknowledged, not yet reported ones by submission time.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::handover::{Handover, HandoverStatus};
use crate::domain::time::Timestamp;
use crate::domain::{AssetId, HandoverId, UserId};

/// Filters of the handover list (newest first).
#[derive(Clone, Debug, Default)]
pub struct HandoverFilter {
    /// Only handovers of these assets (a subtree); `None` for every asset.
    pub assets: Option<Vec<AssetId>>,
    /// Only this status.
    pub status: Option<HandoverStatus>,
    /// Only those written by this user.
    pub written_by: Option<UserId>,
    /// Only those created at or after this time.
    pub from: Option<Timestamp>,
    /// Only those created before this time.
    pub to: Option<Timestamp>,
}

/// Reads of shift handovers.
#[async_trait]
pub trait HandoverStore: Send + Sync {
    /// One handover.
    async fn handover(&self, id: HandoverId) -> Result<Option<Handover>, StoreError>;
    /// One page of the handovers matching `filter`, newest first (by creation, then id), and
    /// how many match in all.
    async fn handover_page(
        &self,
        filter: &HandoverFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Handover>), StoreError>;
    /// Up to `limit` submitted handovers, neither acknowledged nor yet reported overdue, that
    /// were submitted at or before `submitted_by`, oldest first.
    async fn handovers_due(
        &self,
        submitted_by: Timestamp,
        limit: usize,
    ) -> Result<Vec<Handover>, StoreError>;
}

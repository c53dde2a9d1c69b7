//! Andon calls: the list, paged in the store from an index by raise time, and the open calls
//! the escalation sweep reads from an index of its own (never the whole table).

use async_trait::async_trait;

use super::StoreError;
use crate::domain::andon::{AndonCall, AndonKind, AndonStatus};
use crate::domain::time::Timestamp;
use crate::domain::{AndonId, AssetId};

/// Filters of the andon list (newest raise first).
#[derive(Clone, Debug, Default)]
pub struct AndonFilter {
    /// Only calls at these assets (a subtree); `None` for every asset.
    pub assets: Option<Vec<AssetId>>,
    /// Only calls in this status.
    pub status: Option<AndonStatus>,
    /// Only calls not resolved (`true`: open or acknowledged) or resolved (`false`).
    pub open: Option<bool>,
    /// Only calls at this level.
    pub level: Option<u8>,
    /// Only calls of this kind.
    pub kind: Option<AndonKind>,
}

/// A call still `open`, as the escalation sweep reads it from its index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenCall {
    /// The call.
    pub id: AndonId,
    /// When it was raised.
    pub raised_at: Timestamp,
    /// The level it has reached.
    pub level: u8,
}

/// Reads of andon calls.
#[async_trait]
pub trait AndonStore: Send + Sync {
    /// One call.
    async fn andon(&self, id: AndonId) -> Result<Option<AndonCall>, StoreError>;
    /// One page of the calls matching `filter`, newest raise first (then id, newest first),
    /// and how many match in all.
    async fn andon_page(
        &self,
        filter: &AndonFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<AndonCall>), StoreError>;
    /// The calls still `open` that were raised at or before `raised_by`, oldest first.
    async fn open_andon_calls(&self, raised_by: Timestamp) -> Result<Vec<OpenCall>, StoreError>;
}

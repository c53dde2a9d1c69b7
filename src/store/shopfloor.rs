//! The shop floor: assets, shifts, downtime reasons, downtime events and production counts.
//! Writes go through `Changeset`s; these are the reads, every list paged in the store and every
//! time range answered from an index of (asset, start).

use async_trait::async_trait;

use super::StoreError;
use crate::domain::shopfloor::{
    Asset, AssetKind, DowntimeEvent, DowntimeReason, ProductionCount, Shift,
};
use crate::domain::time::Timestamp;
use crate::domain::{AssetId, DowntimeId, ProductionId, ReasonId, ShiftId};

/// Filters of the asset list (ordered by code).
#[derive(Clone, Debug, Default)]
pub struct AssetFilter {
    /// Only this kind.
    pub kind: Option<AssetKind>,
    /// Only direct children of this asset.
    pub parent: Option<AssetId>,
    /// Only assets whose code or name contains this, case-insensitively.
    pub q: Option<String>,
}

/// Filters of the downtime event list (newest start first).
#[derive(Clone, Debug, Default)]
pub struct DowntimeFilter {
    /// Only events of these assets (a subtree); `None` for every asset.
    pub assets: Option<Vec<AssetId>>,
    /// Only events with this reason.
    pub reason: Option<ReasonId>,
    /// Only open (`true`) or ended (`false`) events.
    pub open: Option<bool>,
    /// Only events still going at or after this time (ending after it, or open).
    pub from: Option<Timestamp>,
    /// Only events started before this time.
    pub to: Option<Timestamp>,
}

/// Filters of the production count list (newest start first).
#[derive(Clone, Debug, Default)]
pub struct ProductionFilter {
    /// Only counts of these assets (a subtree); `None` for every asset.
    pub assets: Option<Vec<AssetId>>,
    /// Only counts ending after this time.
    pub from: Option<Timestamp>,
    /// Only counts starting before this time.
    pub to: Option<Timestamp>,
}

/// A downtime event as the OEE needs it: read from the index, without decoding rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopSpan {
    /// The event.
    pub id: DowntimeId,
    /// Start, unix seconds.
    pub start: i64,
    /// End, unix seconds; `None` while open.
    pub end: Option<i64>,
    /// Its reason, if classified.
    pub reason: Option<ReasonId>,
}

/// A production count as the OEE needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountSpan {
    /// Start, unix seconds.
    pub start: i64,
    /// End, unix seconds.
    pub end: i64,
    /// Units made.
    pub total: u64,
    /// Good units.
    pub good: u64,
}

/// Reads of the shop-floor objects.
#[async_trait]
pub trait ShopfloorStore: Send + Sync {
    /// One asset, its state derived from its open downtime event.
    async fn asset(&self, id: AssetId) -> Result<Option<Asset>, StoreError>;
    /// One page of the assets matching `filter`, by code, and how many match in all.
    async fn asset_page(
        &self,
        filter: &AssetFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Asset>), StoreError>;
    /// The ids of `id` and every asset below it, parents before children.
    async fn asset_subtree(&self, id: AssetId) -> Result<Vec<AssetId>, StoreError>;
    /// Whether the asset has children.
    async fn asset_has_children(&self, id: AssetId) -> Result<bool, StoreError>;
    /// Every shift (a plant has a handful), by id.
    async fn shifts(&self) -> Result<Vec<Shift>, StoreError>;
    /// One shift.
    async fn shift(&self, id: ShiftId) -> Result<Option<Shift>, StoreError>;
    /// One downtime reason.
    async fn reason(&self, id: ReasonId) -> Result<Option<DowntimeReason>, StoreError>;
    /// One page of the downtime reasons, by code, and how many there are.
    async fn reason_page(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<DowntimeReason>), StoreError>;
    /// One downtime event.
    async fn downtime(&self, id: DowntimeId) -> Result<Option<DowntimeEvent>, StoreError>;
    /// One page of the downtime events matching `filter`, newest start first (then id, newest
    /// first), and how many match in all.
    async fn downtime_page(
        &self,
        filter: &DowntimeFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<DowntimeEvent>), StoreError>;
    /// The events of `asset` overlapping `[from, to)` (unix seconds), by start.
    async fn stops_between(
        &self,
        asset: AssetId,
        from: i64,
        to: i64,
    ) -> Result<Vec<StopSpan>, StoreError>;
    /// One production count.
    async fn production(&self, id: ProductionId) -> Result<Option<ProductionCount>, StoreError>;
    /// One page of the production counts matching `filter`, newest start first, and how many
    /// match in all.
    async fn production_page(
        &self,
        filter: &ProductionFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<ProductionCount>), StoreError>;
    /// The counts of `asset` overlapping `[from, to)` (unix seconds), by start.
    async fn counts_between(
        &self,
        asset: AssetId,
        from: i64,
        to: i64,
    ) -> Result<Vec<CountSpan>, StoreError>;
}

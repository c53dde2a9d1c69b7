//! The shop floor in redb: rows, the tree and code indexes, and the (asset, start) indexes that
//! the overlap check, the lists and the OEE read. Every index entry is written in the row's
//! transaction; every rule that involves other rows (code taken, cycle, leaf reason, overlap)
//! is checked inside the write transaction, so two concurrent writes cannot both pass it.

use std::collections::HashSet;

use async_trait::async_trait;
use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::changeset::raise_high;
use super::lists::{count_of, newest_first_page, rows_of};
use super::tables::*;
use super::{Batch, RedbStore, storage_err};
use crate::domain::change::ChangeOp;
use crate::domain::shopfloor::{
    Asset, AssetState, DowntimeEvent, DowntimeReason, ProductionCount, Shift,
};
use crate::domain::visibility::Visible;
use crate::domain::{AssetId, DowntimeId, ProductionId, ReasonId, ShiftId};
use crate::store::shopfloor::{
    AssetFilter, CountSpan, DowntimeFilter, ProductionFilter, ShopfloorStore, StopSpan,
};
use crate::store::{Expect, IdKind, StoreError, Write};

/// An open event's end in the index keys.
const OPEN: i64 = i64::MAX;

pub(super) fn create_tables(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(ASSETS).map_err(storage_err)?;
    txn.open_table(ASSETS_BY_CODE).map_err(storage_err)?;
    txn.open_table(ASSETS_BY_PARENT).map_err(storage_err)?;
    txn.open_table(ASSETS_DOWN).map_err(storage_err)?;
    txn.open_table(SHIFTS).map_err(storage_err)?;
    txn.open_table(REASONS).map_err(storage_err)?;
    txn.open_table(REASONS_BY_CODE).map_err(storage_err)?;
    txn.open_table(REASONS_BY_PARENT).map_err(storage_err)?;
    txn.open_table(DOWNTIME).map_err(storage_err)?;
    txn.open_table(DOWNTIME_BY_ASSET).map_err(storage_err)?;
    txn.open_table(DOWNTIME_BY_START).map_err(storage_err)?;
    txn.open_table(DOWNTIME_BY_REASON).map_err(storage_err)?;
    txn.open_table(PRODUCTION).map_err(storage_err)?;
    txn.open_table(PRODUCTION_BY_ASSET).map_err(storage_err)?;
    txn.open_table(PRODUCTION_BY_START).map_err(storage_err)?;
    txn.open_table(PRODUCTION_SPAN).map_err(storage_err)?;
    Ok(())
}

fn secs(t: time::OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

fn row<T: DeserializeOwned>(
    txn: &WriteTransaction,
    table: redb::TableDefinition<u64, &[u8]>,
    id: u64,
) -> Result<Option<T>, StoreError> {
    get_json(&txn.open_table(table).map_err(storage_err)?, id)
}

fn read_row<T: DeserializeOwned>(
    txn: &ReadTransaction,
    table: redb::TableDefinition<u64, &[u8]>,
    id: u64,
) -> Result<Option<T>, StoreError> {
    get_json(&txn.open_table(table).map_err(storage_err)?, id)
}

/// Whether `(key, 0..)` has any entry in a `(u64, u64)` table.
fn any_under<T: ReadableTable<(u64, u64), ()>>(table: &T, key: u64) -> Result<bool, StoreError> {
    Ok(table
        .range((key, 0u64)..=(key, u64::MAX))
        .map_err(storage_err)?
        .next()
        .is_some())
}

/// Walks up from `parent` through `parent_of`; `Err` when `id` is met (a cycle) or the parent
/// does not exist.
fn check_parent(
    id: u64,
    parent: Option<u64>,
    mut parent_of: impl FnMut(u64) -> Result<Option<Option<u64>>, StoreError>,
    what: &'static str,
) -> Result<(), StoreError> {
    let Some(mut at) = parent else {
        return Ok(());
    };
    if parent_of(at)?.is_none() {
        return Err(StoreError::Invalid {
            field: "parent_id",
            message: what,
        });
    }
    // The tree is acyclic before this write, so the walk ends at a root within its size.
    loop {
        if at == id {
            return Err(StoreError::Invalid {
                field: "parent_id",
                message: "would make the tree a cycle",
            });
        }
        match parent_of(at)? {
            Some(Some(up)) => at = up,
            _ => return Ok(()),
        }
    }
}

/// Checks one shop-floor write's preconditions, writing nothing.
pub(super) fn check(txn: &WriteTransaction, write: &Write) -> Result<(), StoreError> {
    match write {
        Write::PutAsset(a, expect) => {
            let old: Option<Asset> = row(txn, ASSETS, a.id.0)?;
            expect.check_version(old.as_ref().map(|o| o.version), "asset")?;
            let codes = txn.open_table(ASSETS_BY_CODE).map_err(storage_err)?;
            if let Some(g) = codes
                .get(a.code.to_lowercase().as_str())
                .map_err(storage_err)?
                && g.value().0 != a.id.0
            {
                return Err(StoreError::Conflict(format!(
                    "asset code {:?} is taken",
                    a.code
                )));
            }
            let rows = txn.open_table(ASSETS).map_err(storage_err)?;
            check_parent(
                a.id.0,
                a.parent_id.map(|p| p.0),
                |id| Ok(get_json::<u64, Asset, _>(&rows, id)?.map(|p| p.parent_id.map(|x| x.0))),
                "must name an existing asset",
            )
        }
        Write::DeleteAsset(id) => {
            if row::<Asset>(txn, ASSETS, id.0)?.is_none() {
                return Err(StoreError::NotFound);
            }
            if any_under(
                &txn.open_table(ASSETS_BY_PARENT).map_err(storage_err)?,
                id.0,
            )? {
                return Err(StoreError::Conflict(
                    "the asset has children; move or delete them first".into(),
                ));
            }
            let stops = txn.open_table(DOWNTIME_BY_ASSET).map_err(storage_err)?;
            let counts = txn.open_table(PRODUCTION_BY_ASSET).map_err(storage_err)?;
            let lo = (id.0, i64::MIN, 0u64);
            let hi = (id.0, i64::MAX, u64::MAX);
            if stops.range(lo..=hi).map_err(storage_err)?.next().is_some()
                || counts.range(lo..=hi).map_err(storage_err)?.next().is_some()
                || super::handovers::asset_has_handovers(txn, id.0)?
            {
                return Err(StoreError::Conflict(
                    "the asset has downtime events, production counts or handovers; make it inactive instead"
                        .into(),
                ));
            }
            Ok(())
        }
        Write::PutShift(s, expect) => {
            let old: Option<Shift> = row(txn, SHIFTS, s.id.0)?;
            expect.check_version(old.map(|o| o.version), "shift")
        }
        Write::DeleteShift(id) => match row::<Shift>(txn, SHIFTS, id.0)? {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound),
        },
        Write::PutReason(r, expect) => {
            let old: Option<DowntimeReason> = row(txn, REASONS, r.id.0)?;
            expect.check_version(old.as_ref().map(|o| o.version), "downtime reason")?;
            let codes = txn.open_table(REASONS_BY_CODE).map_err(storage_err)?;
            if let Some(g) = codes
                .get(r.code.to_lowercase().as_str())
                .map_err(storage_err)?
                && g.value() != r.id.0
            {
                return Err(StoreError::Conflict(format!(
                    "downtime reason code {:?} is taken",
                    r.code
                )));
            }
            let rows = txn.open_table(REASONS).map_err(storage_err)?;
            check_parent(
                r.id.0,
                r.parent_id.map(|p| p.0),
                |id| {
                    Ok(get_json::<u64, DowntimeReason, _>(&rows, id)?
                        .map(|p| p.parent_id.map(|x| x.0)))
                },
                "must name an existing downtime reason",
            )?;
            if let Some(parent) = r.parent_id
                && old.as_ref().and_then(|o| o.parent_id) != Some(parent)
                && any_under(
                    &txn.open_table(DOWNTIME_BY_REASON).map_err(storage_err)?,
                    parent.0,
                )?
            {
                return Err(StoreError::Conflict(format!(
                    "downtime reason {parent} is on downtime events, so it must stay a leaf"
                )));
            }
            Ok(())
        }
        Write::DeleteReason(id) => {
            if row::<DowntimeReason>(txn, REASONS, id.0)?.is_none() {
                return Err(StoreError::NotFound);
            }
            if any_under(
                &txn.open_table(REASONS_BY_PARENT).map_err(storage_err)?,
                id.0,
            )? || any_under(
                &txn.open_table(DOWNTIME_BY_REASON).map_err(storage_err)?,
                id.0,
            )? {
                return Err(StoreError::Conflict(
                    "the reason has children or is on downtime events".into(),
                ));
            }
            Ok(())
        }
        Write::PutDowntime(e, expect) => check_downtime(txn, e, *expect),
        Write::DeleteDowntime(id) => match row::<DowntimeEvent>(txn, DOWNTIME, id.0)? {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound),
        },
        Write::PutProduction(c, expect) => {
            let old: Option<ProductionCount> = row(txn, PRODUCTION, c.id.0)?;
            expect.check_version(old.map(|o| o.version), "production count")?;
            require_asset(txn, c.asset_id)
        }
        Write::DeleteProduction(id) => match row::<ProductionCount>(txn, PRODUCTION, id.0)? {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound),
        },
        _ => Ok(()),
    }
}

fn require_asset(txn: &WriteTransaction, id: AssetId) -> Result<(), StoreError> {
    match row::<Asset>(txn, ASSETS, id.0)? {
        Some(_) => Ok(()),
        None => Err(StoreError::Invalid {
            field: "asset_id",
            message: "must name an existing asset",
        }),
    }
}

fn check_downtime(
    txn: &WriteTransaction,
    e: &DowntimeEvent,
    expect: Expect,
) -> Result<(), StoreError> {
    let old: Option<DowntimeEvent> = row(txn, DOWNTIME, e.id.0)?;
    expect.check_version(old.map(|o| o.version), "downtime event")?;
    require_asset(txn, e.asset_id)?;
    if let Some(reason) = e.reason_id {
        if row::<DowntimeReason>(txn, REASONS, reason.0)?.is_none() {
            return Err(StoreError::Invalid {
                field: "reason_id",
                message: "must name an existing downtime reason",
            });
        }
        if any_under(
            &txn.open_table(REASONS_BY_PARENT).map_err(storage_err)?,
            reason.0,
        )? {
            return Err(StoreError::Invalid {
                field: "reason_id",
                message: "must name a leaf reason (one without children)",
            });
        }
    }
    // The asset's other events do not overlap each other, so ordered by start their ends
    // grow too: the one that starts last before this one ends is the only one to look at.
    let (start, end) = (secs(e.started_at), e.ended_at.map_or(OPEN, secs));
    let by_asset = txn.open_table(DOWNTIME_BY_ASSET).map_err(storage_err)?;
    let a = e.asset_id.0;
    for entry in by_asset
        .range((a, i64::MIN, 0u64)..(a, end, 0u64))
        .map_err(storage_err)?
        .rev()
    {
        let (key, value) = entry.map_err(storage_err)?;
        let (_, _, other) = key.value();
        if other == e.id.0 {
            continue;
        }
        let (other_end, _) = value.value();
        if other_end > start {
            return Err(StoreError::Conflict(format!(
                "overlaps downtime event {other} of asset {a}; events of one asset never overlap"
            )));
        }
        break;
    }
    Ok(())
}

fn record<T: Visible + Serialize>(
    batch: &mut Batch<'_>,
    object: &T,
    existed: bool,
) -> Result<(), StoreError> {
    let op = if existed {
        ChangeOp::Updated
    } else {
        ChangeOp::Created
    };
    batch.record(object, op).map(|_| ())
}

fn down(txn: &WriteTransaction, asset: u64) -> Result<bool, StoreError> {
    any_under(&txn.open_table(ASSETS_DOWN).map_err(storage_err)?, asset)
}

/// Logs `asset` as updated when its derived state is no longer `was_down`.
fn record_state(batch: &mut Batch<'_>, asset: u64, was_down: bool) -> Result<(), StoreError> {
    let txn = batch.txn();
    let is_down = down(txn, asset)?;
    if is_down == was_down {
        return Ok(());
    }
    if let Some(mut a) = row::<Asset>(txn, ASSETS, asset)? {
        a.state = if is_down {
            AssetState::Down
        } else {
            AssetState::Running
        };
        batch.record(&a, ChangeOp::Updated)?;
    }
    Ok(())
}

/// Performs one (already checked) shop-floor write.
pub(super) fn perform(batch: &mut Batch<'_>, write: &Write) -> Result<(), StoreError> {
    let txn = batch.txn();
    match write {
        Write::PutAsset(a, expect) => {
            if *expect == Expect::New {
                raise_high(txn, IdKind::Asset, a.id.0)?;
            }
            let old: Option<Asset> = row(txn, ASSETS, a.id.0)?;
            if let Some(old) = &old {
                index_asset(txn, old, false)?;
            }
            put_json(&mut txn.open_table(ASSETS).map_err(storage_err)?, a.id.0, a)?;
            index_asset(txn, a, true)?;
            let mut shown = a.clone();
            shown.state = state_in(txn, a.id.0)?;
            record(batch, &shown, old.is_some())
        }
        Write::DeleteAsset(id) => {
            let old: Asset = row(txn, ASSETS, id.0)?.ok_or(StoreError::NotFound)?;
            txn.open_table(ASSETS)
                .map_err(storage_err)?
                .remove(id.0)
                .map_err(storage_err)?;
            index_asset(txn, &old, false)?;
            batch.record(&old, ChangeOp::Deleted).map(|_| ())
        }
        Write::PutShift(s, expect) => {
            if *expect == Expect::New {
                raise_high(txn, IdKind::Shift, s.id.0)?;
            }
            let existed = row::<Shift>(txn, SHIFTS, s.id.0)?.is_some();
            put_json(&mut txn.open_table(SHIFTS).map_err(storage_err)?, s.id.0, s)?;
            record(batch, s, existed)
        }
        Write::DeleteShift(id) => {
            let old: Shift = row(txn, SHIFTS, id.0)?.ok_or(StoreError::NotFound)?;
            txn.open_table(SHIFTS)
                .map_err(storage_err)?
                .remove(id.0)
                .map_err(storage_err)?;
            batch.record(&old, ChangeOp::Deleted).map(|_| ())
        }
        Write::PutReason(r, expect) => {
            if *expect == Expect::New {
                raise_high(txn, IdKind::Reason, r.id.0)?;
            }
            let old: Option<DowntimeReason> = row(txn, REASONS, r.id.0)?;
            if let Some(old) = &old {
                index_reason(txn, old, false)?;
            }
            put_json(
                &mut txn.open_table(REASONS).map_err(storage_err)?,
                r.id.0,
                r,
            )?;
            index_reason(txn, r, true)?;
            record(batch, r, old.is_some())
        }
        Write::DeleteReason(id) => {
            let old: DowntimeReason = row(txn, REASONS, id.0)?.ok_or(StoreError::NotFound)?;
            txn.open_table(REASONS)
                .map_err(storage_err)?
                .remove(id.0)
                .map_err(storage_err)?;
            index_reason(txn, &old, false)?;
            batch.record(&old, ChangeOp::Deleted).map(|_| ())
        }
        Write::PutDowntime(e, expect) => {
            if *expect == Expect::New {
                raise_high(txn, IdKind::Downtime, e.id.0)?;
            }
            let old: Option<DowntimeEvent> = row(txn, DOWNTIME, e.id.0)?;
            let mut assets = vec![e.asset_id.0];
            assets.extend(old.as_ref().map(|o| o.asset_id.0));
            assets.dedup();
            let was: Vec<bool> = assets
                .iter()
                .map(|a| down(txn, *a))
                .collect::<Result<_, _>>()?;
            if let Some(old) = &old {
                index_downtime(txn, old, false)?;
            }
            put_json(
                &mut txn.open_table(DOWNTIME).map_err(storage_err)?,
                e.id.0,
                e,
            )?;
            index_downtime(txn, e, true)?;
            record(batch, e, old.is_some())?;
            for (asset, was_down) in assets.into_iter().zip(was) {
                record_state(batch, asset, was_down)?;
            }
            Ok(())
        }
        Write::DeleteDowntime(id) => {
            let old: DowntimeEvent = row(txn, DOWNTIME, id.0)?.ok_or(StoreError::NotFound)?;
            let was_down = down(txn, old.asset_id.0)?;
            txn.open_table(DOWNTIME)
                .map_err(storage_err)?
                .remove(id.0)
                .map_err(storage_err)?;
            index_downtime(txn, &old, false)?;
            batch.record(&old, ChangeOp::Deleted)?;
            record_state(batch, old.asset_id.0, was_down)
        }
        Write::PutProduction(c, expect) => {
            if *expect == Expect::New {
                raise_high(txn, IdKind::Production, c.id.0)?;
            }
            let old: Option<ProductionCount> = row(txn, PRODUCTION, c.id.0)?;
            if let Some(old) = &old {
                index_production(txn, old, false)?;
            }
            put_json(
                &mut txn.open_table(PRODUCTION).map_err(storage_err)?,
                c.id.0,
                c,
            )?;
            index_production(txn, c, true)?;
            record(batch, c, old.is_some())
        }
        Write::DeleteProduction(id) => {
            let old: ProductionCount = row(txn, PRODUCTION, id.0)?.ok_or(StoreError::NotFound)?;
            txn.open_table(PRODUCTION)
                .map_err(storage_err)?
                .remove(id.0)
                .map_err(storage_err)?;
            index_production(txn, &old, false)?;
            batch.record(&old, ChangeOp::Deleted).map(|_| ())
        }
        _ => Ok(()),
    }
}

fn state_in(txn: &WriteTransaction, asset: u64) -> Result<AssetState, StoreError> {
    Ok(if down(txn, asset)? {
        AssetState::Down
    } else {
        AssetState::Running
    })
}

fn index_asset(txn: &WriteTransaction, a: &Asset, insert: bool) -> Result<(), StoreError> {
    let code = a.code.to_lowercase();
    let parent = a.parent_id.map_or(0, |p| p.0);
    let mut codes = txn.open_table(ASSETS_BY_CODE).map_err(storage_err)?;
    let mut tree = txn.open_table(ASSETS_BY_PARENT).map_err(storage_err)?;
    if insert {
        codes
            .insert(code.as_str(), (a.id.0, a.kind.code(), parent))
            .map_err(storage_err)?;
        tree.insert((parent, a.id.0), ()).map_err(storage_err)?;
    } else {
        codes.remove(code.as_str()).map_err(storage_err)?;
        tree.remove((parent, a.id.0)).map_err(storage_err)?;
    }
    Ok(())
}

fn index_reason(
    txn: &WriteTransaction,
    r: &DowntimeReason,
    insert: bool,
) -> Result<(), StoreError> {
    let code = r.code.to_lowercase();
    let parent = r.parent_id.map_or(0, |p| p.0);
    let mut codes = txn.open_table(REASONS_BY_CODE).map_err(storage_err)?;
    let mut tree = txn.open_table(REASONS_BY_PARENT).map_err(storage_err)?;
    if insert {
        codes.insert(code.as_str(), r.id.0).map_err(storage_err)?;
        tree.insert((parent, r.id.0), ()).map_err(storage_err)?;
    } else {
        codes.remove(code.as_str()).map_err(storage_err)?;
        tree.remove((parent, r.id.0)).map_err(storage_err)?;
    }
    Ok(())
}

fn index_downtime(
    txn: &WriteTransaction,
    e: &DowntimeEvent,
    insert: bool,
) -> Result<(), StoreError> {
    let (id, asset) = (e.id.0, e.asset_id.0);
    let (start, end) = (secs(e.started_at), e.ended_at.map_or(OPEN, secs));
    let reason = e.reason_id.map_or(0, |r| r.0);
    let mut by_asset = txn.open_table(DOWNTIME_BY_ASSET).map_err(storage_err)?;
    let mut by_start = txn.open_table(DOWNTIME_BY_START).map_err(storage_err)?;
    let mut by_reason = txn.open_table(DOWNTIME_BY_REASON).map_err(storage_err)?;
    let mut open = txn.open_table(ASSETS_DOWN).map_err(storage_err)?;
    if insert {
        by_asset
            .insert((asset, start, id), (end, reason))
            .map_err(storage_err)?;
        by_start
            .insert((start, id), (asset, end, reason))
            .map_err(storage_err)?;
        if reason != 0 {
            by_reason.insert((reason, id), ()).map_err(storage_err)?;
        }
        if end == OPEN {
            open.insert((asset, id), ()).map_err(storage_err)?;
        }
    } else {
        by_asset.remove((asset, start, id)).map_err(storage_err)?;
        by_start.remove((start, id)).map_err(storage_err)?;
        by_reason.remove((reason, id)).map_err(storage_err)?;
        open.remove((asset, id)).map_err(storage_err)?;
    }
    Ok(())
}

fn index_production(
    txn: &WriteTransaction,
    c: &ProductionCount,
    insert: bool,
) -> Result<(), StoreError> {
    let (id, asset) = (c.id.0, c.asset_id.0);
    let (start, end) = (secs(c.started_at), secs(c.ended_at));
    let mut by_asset = txn.open_table(PRODUCTION_BY_ASSET).map_err(storage_err)?;
    let mut by_start = txn.open_table(PRODUCTION_BY_START).map_err(storage_err)?;
    if insert {
        by_asset
            .insert((asset, start, id), (end, c.total_count, c.good_count))
            .map_err(storage_err)?;
        by_start
            .insert((start, id), (asset, end))
            .map_err(storage_err)?;
        let mut span = txn.open_table(PRODUCTION_SPAN).map_err(storage_err)?;
        let longest = span
            .get(asset)
            .map_err(storage_err)?
            .map_or(0, |g| g.value());
        if end - start > longest {
            span.insert(asset, end - start).map_err(storage_err)?;
        }
    } else {
        by_asset.remove((asset, start, id)).map_err(storage_err)?;
        by_start.remove((start, id)).map_err(storage_err)?;
    }
    Ok(())
}

// ---- reads ----

fn with_state(txn: &ReadTransaction, mut a: Asset) -> Result<Asset, StoreError> {
    let open = txn.open_table(ASSETS_DOWN).map_err(storage_err)?;
    a.state = if any_under(&open, a.id.0)? {
        AssetState::Down
    } else {
        AssetState::Running
    };
    Ok(a)
}

#[async_trait]
impl ShopfloorStore for RedbStore {
    async fn asset(&self, id: AssetId) -> Result<Option<Asset>, StoreError> {
        let txn = self.read()?;
        match read_row(&txn, ASSETS, id.0)? {
            Some(a) => with_state(&txn, a).map(Some),
            None => Ok(None),
        }
    }

    async fn asset_page(
        &self,
        filter: &AssetFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Asset>), StoreError> {
        let txn = self.read()?;
        let codes = txn.open_table(ASSETS_BY_CODE).map_err(storage_err)?;
        let rows = txn.open_table(ASSETS).map_err(storage_err)?;
        let q = filter.q.as_ref().map(|q| q.to_lowercase());
        let kind = filter.kind.map(|k| k.code());
        let parent = filter.parent.map(|p| p.0);
        // Kind and parent are in the index value; only `q` needs the row.
        let mut matched = Vec::new();
        let mut count = 0usize;
        for entry in codes.iter().map_err(storage_err)? {
            let (code, value) = entry.map_err(storage_err)?;
            let (id, k, p) = value.value();
            if kind.is_some_and(|want| want != k) || parent.is_some_and(|want| want != p) {
                continue;
            }
            if let Some(q) = &q
                && !code.value().contains(q.as_str())
            {
                let a: Option<Asset> = get_json(&rows, id)?;
                if !a.is_some_and(|a| a.name.to_lowercase().contains(q.as_str())) {
                    continue;
                }
            }
            if count >= offset && matched.len() < limit {
                matched.push(id);
            }
            count += 1;
        }
        let mut out = Vec::with_capacity(matched.len());
        for a in rows_of::<Asset>(&txn, ASSETS, matched)? {
            out.push(with_state(&txn, a)?);
        }
        Ok((count, out))
    }

    async fn asset_subtree(&self, id: AssetId) -> Result<Vec<AssetId>, StoreError> {
        let txn = self.read()?;
        let tree = txn.open_table(ASSETS_BY_PARENT).map_err(storage_err)?;
        let mut out = vec![id];
        let mut seen = HashSet::from([id.0]);
        let mut i = 0;
        while let Some(at) = out.get(i).copied() {
            i += 1;
            for entry in tree
                .range((at.0, 0u64)..=(at.0, u64::MAX))
                .map_err(storage_err)?
            {
                let (key, _) = entry.map_err(storage_err)?;
                let child = key.value().1;
                if seen.insert(child) {
                    out.push(AssetId(child));
                }
            }
        }
        Ok(out)
    }

    async fn asset_has_children(&self, id: AssetId) -> Result<bool, StoreError> {
        let txn = self.read()?;
        any_under(
            &txn.open_table(ASSETS_BY_PARENT).map_err(storage_err)?,
            id.0,
        )
    }

    async fn shifts(&self) -> Result<Vec<Shift>, StoreError> {
        let txn = self.read()?;
        let rows = txn.open_table(SHIFTS).map_err(storage_err)?;
        let mut out = Vec::new();
        for entry in rows.iter().map_err(storage_err)? {
            let (_, value) = entry.map_err(storage_err)?;
            out.push(decode(value.value())?);
        }
        Ok(out)
    }

    async fn shift(&self, id: ShiftId) -> Result<Option<Shift>, StoreError> {
        read_row(&self.read()?, SHIFTS, id.0)
    }

    async fn reason(&self, id: ReasonId) -> Result<Option<DowntimeReason>, StoreError> {
        read_row(&self.read()?, REASONS, id.0)
    }

    async fn reason_page(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<DowntimeReason>), StoreError> {
        let txn = self.read()?;
        let codes = txn.open_table(REASONS_BY_CODE).map_err(storage_err)?;
        let count = count_of(codes.len().map_err(storage_err)?);
        let mut ids = Vec::new();
        for entry in codes.iter().map_err(storage_err)?.skip(offset).take(limit) {
            ids.push(entry.map_err(storage_err)?.1.value());
        }
        Ok((count, rows_of(&txn, REASONS, ids)?))
    }

    async fn downtime(&self, id: DowntimeId) -> Result<Option<DowntimeEvent>, StoreError> {
        read_row(&self.read()?, DOWNTIME, id.0)
    }

    async fn downtime_page(
        &self,
        filter: &DowntimeFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<DowntimeEvent>), StoreError> {
        let txn = self.read()?;
        let by_start = txn.open_table(DOWNTIME_BY_START).map_err(storage_err)?;
        let assets: Option<HashSet<u64>> = filter
            .assets
            .as_ref()
            .map(|a| a.iter().map(|a| a.0).collect());
        let from = filter.from.map(secs);
        let to = filter.to.map_or(i64::MAX, secs);
        let reason = filter.reason.map(|r| r.0);
        let unfiltered = assets.is_none()
            && from.is_none()
            && reason.is_none()
            && filter.open.is_none()
            && filter.to.is_none();
        let known = if unfiltered {
            Some(count_of(by_start.len().map_err(storage_err)?))
        } else {
            None
        };
        let range = by_start
            .range((i64::MIN, 0u64)..(to, 0u64))
            .map_err(storage_err)?;
        let (count, ids) = newest_first_page(range, known, offset, limit, |(asset, end, r)| {
            assets.as_ref().is_none_or(|a| a.contains(&asset))
                && reason.is_none_or(|want| want == r)
                && filter.open.is_none_or(|open| open == (end == OPEN))
                && from.is_none_or(|from| end > from)
        })?;
        Ok((count, rows_of(&txn, DOWNTIME, ids)?))
    }

    async fn stops_between(
        &self,
        asset: AssetId,
        from: i64,
        to: i64,
    ) -> Result<Vec<StopSpan>, StoreError> {
        let txn = self.read()?;
        let by_asset = txn.open_table(DOWNTIME_BY_ASSET).map_err(storage_err)?;
        let a = asset.0;
        let span = |key: (u64, i64, u64), value: (i64, u64)| StopSpan {
            id: DowntimeId(key.2),
            start: key.1,
            end: (value.0 != OPEN).then_some(value.0),
            reason: (value.1 != 0).then_some(ReasonId(value.1)),
        };
        let mut out = Vec::new();
        // Events never overlap, so of those starting before the window only the last can reach
        // into it.
        if let Some(entry) = by_asset
            .range((a, i64::MIN, 0u64)..(a, from, 0u64))
            .map_err(storage_err)?
            .next_back()
        {
            let (key, value) = entry.map_err(storage_err)?;
            if value.value().0 > from {
                out.push(span(key.value(), value.value()));
            }
        }
        for entry in by_asset
            .range((a, from, 0u64)..(a, to, 0u64))
            .map_err(storage_err)?
        {
            let (key, value) = entry.map_err(storage_err)?;
            out.push(span(key.value(), value.value()));
        }
        Ok(out)
    }

    async fn production(&self, id: ProductionId) -> Result<Option<ProductionCount>, StoreError> {
        read_row(&self.read()?, PRODUCTION, id.0)
    }

    async fn production_page(
        &self,
        filter: &ProductionFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<ProductionCount>), StoreError> {
        let txn = self.read()?;
        let by_start = txn.open_table(PRODUCTION_BY_START).map_err(storage_err)?;
        let assets: Option<HashSet<u64>> = filter
            .assets
            .as_ref()
            .map(|a| a.iter().map(|a| a.0).collect());
        let from = filter.from.map(secs);
        let to = filter.to.map_or(i64::MAX, secs);
        let unfiltered = assets.is_none() && from.is_none() && filter.to.is_none();
        let known = if unfiltered {
            Some(count_of(by_start.len().map_err(storage_err)?))
        } else {
            None
        };
        let range = by_start
            .range((i64::MIN, 0u64)..(to, 0u64))
            .map_err(storage_err)?;
        let (count, ids) = newest_first_page(range, known, offset, limit, |(asset, end)| {
            assets.as_ref().is_none_or(|a| a.contains(&asset)) && from.is_none_or(|from| end > from)
        })?;
        Ok((count, rows_of(&txn, PRODUCTION, ids)?))
    }

    async fn counts_between(
        &self,
        asset: AssetId,
        from: i64,
        to: i64,
    ) -> Result<Vec<CountSpan>, StoreError> {
        let txn = self.read()?;
        let a = asset.0;
        let longest = txn
            .open_table(PRODUCTION_SPAN)
            .map_err(storage_err)?
            .get(a)
            .map_err(storage_err)?
            .map_or(0, |g| g.value());
        let by_asset = txn.open_table(PRODUCTION_BY_ASSET).map_err(storage_err)?;
        let mut out = Vec::new();
        for entry in by_asset
            .range((a, from.saturating_sub(longest), 0u64)..(a, to, 0u64))
            .map_err(storage_err)?
        {
            let (key, value) = entry.map_err(storage_err)?;
            let (end, total, good) = value.value();
            if end > from {
                out.push(CountSpan {
                    start: key.value().1,
                    end,
                    total,
                    good,
                });
            }
        }
        Ok(out)
    }
}

//! Shift handovers in redb: rows, the (created, id) index the list pages through, the index of
//! handovers whose acknowledgement timeout is still to be reported, and the asset index. Every
//! index entry is written in the row's transaction, so the sweep that reports a timeout and
//! an acknowledgement racing it cannot both win (the loser's version is stale).

use std::collections::HashSet;

use async_trait::async_trait;
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::changeset::raise_high;
use super::lists::{count_of, newest_first_page, rows_of};
use super::tables::*;
use super::{Batch, RedbStore, storage_err};
use crate::domain::HandoverId;
use crate::domain::change::ChangeOp;
use crate::domain::handover::Handover;
use crate::domain::shopfloor::{Asset, Shift};
use crate::domain::time::Timestamp;
use crate::store::handovers::{HandoverFilter, HandoverStore};
use crate::store::{Expect, IdKind, StoreError, Write};

pub(super) fn create_tables(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(HANDOVERS).map_err(storage_err)?;
    txn.open_table(HANDOVERS_BY_CREATED).map_err(storage_err)?;
    txn.open_table(HANDOVERS_DUE).map_err(storage_err)?;
    txn.open_table(HANDOVERS_BY_ASSET).map_err(storage_err)?;
    Ok(())
}

fn load(txn: &WriteTransaction, id: u64) -> Result<Option<Handover>, StoreError> {
    get_json(&txn.open_table(HANDOVERS).map_err(storage_err)?, id)
}

/// Whether `asset` has handovers (an asset with history is made inactive, not deleted).
pub(super) fn asset_has_handovers(txn: &WriteTransaction, asset: u64) -> Result<bool, StoreError> {
    Ok(txn
        .open_table(HANDOVERS_BY_ASSET)
        .map_err(storage_err)?
        .range((asset, 0u64)..=(asset, u64::MAX))
        .map_err(storage_err)?
        .next()
        .is_some())
}

/// Checks one handover write's preconditions, writing nothing.
pub(super) fn check(txn: &WriteTransaction, write: &Write) -> Result<(), StoreError> {
    match write {
        Write::PutHandover(h, expect) => {
            let old = load(txn, h.id.0)?;
            expect.check_version(old.map(|o| o.version), "handover")?;
            let assets = txn.open_table(ASSETS).map_err(storage_err)?;
            if get_json::<u64, Asset, _>(&assets, h.asset_id.0)?.is_none() {
                return Err(StoreError::Invalid {
                    field: "asset_id",
                    message: "must name an existing asset",
                });
            }
            let shifts = txn.open_table(SHIFTS).map_err(storage_err)?;
            if get_json::<u64, Shift, _>(&shifts, h.shift_id.0)?.is_none() {
                return Err(StoreError::Invalid {
                    field: "shift_id",
                    message: "must name an existing shift",
                });
            }
            let activities = txn.open_table(ACTIVITIES).map_err(storage_err)?;
            for a in &h.activity_ids {
                if activities.get(a.0).map_err(storage_err)?.is_none() {
                    return Err(StoreError::Invalid {
                        field: "activity_ids",
                        message: "must name existing activities",
                    });
                }
            }
            Ok(())
        }
        Write::DeleteHandover(id) => match load(txn, id.0)? {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound),
        },
        _ => Ok(()),
    }
}

/// Performs one (already checked) handover write.
pub(super) fn perform(batch: &mut Batch<'_>, write: &Write) -> Result<(), StoreError> {
    let txn = batch.txn();
    match write {
        Write::PutHandover(h, expect) => {
            if *expect == Expect::New {
                raise_high(txn, IdKind::Handover, h.id.0)?;
            }
            let old = load(txn, h.id.0)?;
            if let Some(old) = &old {
                index(txn, old, false)?;
            }
            put_json(
                &mut txn.open_table(HANDOVERS).map_err(storage_err)?,
                h.id.0,
                h,
            )?;
            index(txn, h, true)?;
            let op = if old.is_some() {
                ChangeOp::Updated
            } else {
                ChangeOp::Created
            };
            batch.record(h, op).map(|_| ())
        }
        Write::DeleteHandover(id) => {
            let old = load(txn, id.0)?.ok_or(StoreError::NotFound)?;
            txn.open_table(HANDOVERS)
                .map_err(storage_err)?
                .remove(id.0)
                .map_err(storage_err)?;
            index(txn, &old, false)?;
            batch.record(&old, ChangeOp::Deleted).map(|_| ())
        }
        _ => Ok(()),
    }
}

fn index(txn: &WriteTransaction, h: &Handover, insert: bool) -> Result<(), StoreError> {
    let (id, asset) = (h.id.0, h.asset_id.0);
    let created = h.created_at.unix_timestamp();
    let mut by_created = txn.open_table(HANDOVERS_BY_CREATED).map_err(storage_err)?;
    let mut by_asset = txn.open_table(HANDOVERS_BY_ASSET).map_err(storage_err)?;
    let mut due = txn.open_table(HANDOVERS_DUE).map_err(storage_err)?;
    let submitted = h.submitted_at.map(|t| t.unix_timestamp());
    if insert {
        by_created
            .insert((created, id), (asset, h.status.code(), h.written_by.0))
            .map_err(storage_err)?;
        by_asset.insert((asset, id), ()).map_err(storage_err)?;
        if let Some(at) = submitted
            && h.awaiting_timeout()
        {
            due.insert((at, id), ()).map_err(storage_err)?;
        }
    } else {
        by_created.remove((created, id)).map_err(storage_err)?;
        by_asset.remove((asset, id)).map_err(storage_err)?;
        if let Some(at) = submitted {
            due.remove((at, id)).map_err(storage_err)?;
        }
    }
    Ok(())
}

#[async_trait]
impl HandoverStore for RedbStore {
    async fn handover(&self, id: HandoverId) -> Result<Option<Handover>, StoreError> {
        let txn = self.read()?;
        get_json(&txn.open_table(HANDOVERS).map_err(storage_err)?, id.0)
    }

    async fn handover_page(
        &self,
        filter: &HandoverFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Handover>), StoreError> {
        let txn = self.read()?;
        let by_created = txn.open_table(HANDOVERS_BY_CREATED).map_err(storage_err)?;
        let assets: Option<HashSet<u64>> = filter
            .assets
            .as_ref()
            .map(|a| a.iter().map(|a| a.0).collect());
        let from = filter.from.map_or(i64::MIN, |t| t.unix_timestamp());
        let to = filter.to.map_or(i64::MAX, |t| t.unix_timestamp());
        let status = filter.status.map(|s| s.code());
        let writer = filter.written_by.map(|u| u.0);
        let unfiltered = assets.is_none()
            && status.is_none()
            && writer.is_none()
            && filter.from.is_none()
            && filter.to.is_none();
        let known = if unfiltered {
            Some(count_of(by_created.len().map_err(storage_err)?))
        } else {
            None
        };
        let range = by_created
            .range((from, 0u64)..(to, 0u64))
            .map_err(storage_err)?;
        let (count, ids) = newest_first_page(range, known, offset, limit, |(asset, s, w)| {
            assets.as_ref().is_none_or(|a| a.contains(&asset))
                && status.is_none_or(|want| want == s)
                && writer.is_none_or(|want| want == w)
        })?;
        Ok((count, rows_of(&txn, HANDOVERS, ids)?))
    }

    async fn handovers_due(
        &self,
        submitted_by: Timestamp,
        limit: usize,
    ) -> Result<Vec<Handover>, StoreError> {
        let txn = self.read()?;
        let due = txn.open_table(HANDOVERS_DUE).map_err(storage_err)?;
        let rows = txn.open_table(HANDOVERS).map_err(storage_err)?;
        let by = submitted_by.unix_timestamp();
        let mut out = Vec::new();
        for entry in due
            .range((i64::MIN, 0u64)..=(by, u64::MAX))
            .map_err(storage_err)?
            .take(limit)
        {
            let (key, _) = entry.map_err(storage_err)?;
            if let Some(h) = get_json(&rows, key.value().1)? {
                out.push(h);
            }
        }
        Ok(out)
    }
}

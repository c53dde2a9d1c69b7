//! Andon calls in redb: rows, the list index by raise time and the index of calls still
//! `open` that the escalation sweep reads. Every index entry is written in the row's
//! transaction.

use std::collections::HashSet;

use async_trait::async_trait;
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::changeset::raise_high;
use super::lists::{count_of, newest_first_page, rows_of};
use super::tables::*;
use super::{Batch, RedbStore, storage_err};
use crate::domain::andon::{AndonCall, AndonStatus};
use crate::domain::change::ChangeOp;
use crate::domain::shopfloor::Asset;
use crate::domain::time::Timestamp;
use crate::domain::{AndonId, AssetId};
use crate::store::andon::{AndonFilter, AndonStore, OpenCall};
use crate::store::{Expect, IdKind, StoreError};

pub(super) fn create_tables(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(ANDON).map_err(storage_err)?;
    txn.open_table(ANDON_BY_RAISED).map_err(storage_err)?;
    txn.open_table(ANDON_OPEN).map_err(storage_err)?;
    Ok(())
}

fn load(txn: &WriteTransaction, id: u64) -> Result<Option<AndonCall>, StoreError> {
    get_json(&txn.open_table(ANDON).map_err(storage_err)?, id)
}

/// Checks a put's preconditions: presence and version, and that its asset exists.
pub(super) fn check(
    txn: &WriteTransaction,
    call: &AndonCall,
    expect: Expect,
) -> Result<(), StoreError> {
    let old = load(txn, call.id.0)?;
    expect.check_version(old.map(|o| o.version), "andon call")?;
    let assets = txn.open_table(ASSETS).map_err(storage_err)?;
    if get_json::<u64, Asset, _>(&assets, call.asset_id.0)?.is_none() {
        return Err(StoreError::Invalid {
            field: "asset_id",
            message: "must name an existing asset",
        });
    }
    Ok(())
}

/// Writes an (already checked) call with its index entries and change-log entry.
pub(super) fn put(
    batch: &mut Batch<'_>,
    call: &AndonCall,
    expect: Expect,
) -> Result<(), StoreError> {
    let txn = batch.txn();
    if expect == Expect::New {
        raise_high(txn, IdKind::Andon, call.id.0)?;
    }
    let old = load(txn, call.id.0)?;
    if let Some(old) = &old {
        index(txn, old, false)?;
    }
    put_json(
        &mut txn.open_table(ANDON).map_err(storage_err)?,
        call.id.0,
        call,
    )?;
    index(txn, call, true)?;
    let op = if old.is_some() {
        ChangeOp::Updated
    } else {
        ChangeOp::Created
    };
    batch.record(call, op).map(|_| ())
}

fn index(txn: &WriteTransaction, c: &AndonCall, insert: bool) -> Result<(), StoreError> {
    let key = (c.raised_at.unix_timestamp(), c.id.0);
    let mut by_raised = txn.open_table(ANDON_BY_RAISED).map_err(storage_err)?;
    let mut open = txn.open_table(ANDON_OPEN).map_err(storage_err)?;
    if insert {
        by_raised
            .insert(key, (c.asset_id.0, c.status.code(), c.level, c.kind.code()))
            .map_err(storage_err)?;
        if c.status == AndonStatus::Open {
            open.insert(key, c.level).map_err(storage_err)?;
        }
    } else {
        by_raised.remove(key).map_err(storage_err)?;
        open.remove(key).map_err(storage_err)?;
    }
    Ok(())
}

#[async_trait]
impl AndonStore for RedbStore {
    async fn andon(&self, id: AndonId) -> Result<Option<AndonCall>, StoreError> {
        let txn = self.read()?;
        get_json(&txn.open_table(ANDON).map_err(storage_err)?, id.0)
    }

    async fn andon_page(
        &self,
        filter: &AndonFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<AndonCall>), StoreError> {
        let txn = self.read()?;
        let by_raised = txn.open_table(ANDON_BY_RAISED).map_err(storage_err)?;
        let assets: Option<HashSet<u64>> = filter
            .assets
            .as_ref()
            .map(|a| a.iter().map(|a: &AssetId| a.0).collect());
        let status = filter.status.map(|s| s.code());
        let resolved = AndonStatus::Resolved.code();
        let kind = filter.kind.map(|k| k.code());
        let unfiltered = assets.is_none()
            && status.is_none()
            && filter.open.is_none()
            && filter.level.is_none()
            && kind.is_none();
        let known = if unfiltered {
            Some(count_of(by_raised.len().map_err(storage_err)?))
        } else {
            None
        };
        let range = by_raised.iter().map_err(storage_err)?;
        let (count, ids) =
            newest_first_page(range, known, offset, limit, |(asset, s, level, k)| {
                assets.as_ref().is_none_or(|a| a.contains(&asset))
                    && status.is_none_or(|want| want == s)
                    && filter.open.is_none_or(|open| open == (s != resolved))
                    && filter.level.is_none_or(|want| want == level)
                    && kind.is_none_or(|want| want == k)
            })?;
        Ok((count, rows_of(&txn, ANDON, ids)?))
    }

    async fn open_andon_calls(&self, raised_by: Timestamp) -> Result<Vec<OpenCall>, StoreError> {
        let txn = self.read()?;
        let open = txn.open_table(ANDON_OPEN).map_err(storage_err)?;
        let mut out = Vec::new();
        for entry in open
            .range(..=(raised_by.unix_timestamp(), u64::MAX))
            .map_err(storage_err)?
        {
            let (key, level) = entry.map_err(storage_err)?;
            let (secs, id) = key.value();
            let raised_at = Timestamp::from_unix_timestamp(secs)
                .map_err(|e| StoreError::Corrupt(format!("andon {id} raised at {secs}: {e}")))?;
            out.push(OpenCall {
                id: AndonId(id),
                raised_at,
                level: level.value(),
            });
        }
        Ok(out)
    }
}

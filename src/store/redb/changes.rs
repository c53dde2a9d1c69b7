//! Reading the change log.

use async_trait::async_trait;
use redb::ReadableTable;

use super::tables::*;
use super::{RedbStore, storage_err};
use crate::domain::change::ChangeEntry;
use crate::domain::time::Timestamp;
use crate::store::{ChangeLog, StoreError};

#[async_trait]
impl ChangeLog for RedbStore {
    async fn changes_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ChangeEntry>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(CHANGES).map_err(storage_err)?;
        let mut entries = Vec::new();
        for row in table
            .range(after.saturating_add(1)..)
            .map_err(storage_err)?
        {
            if entries.len() >= limit {
                break;
            }
            let (_, value) = row.map_err(storage_err)?;
            entries.push(decode(value.value())?);
        }
        Ok(entries)
    }

    async fn first_seq(&self) -> Result<Option<u64>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(CHANGES).map_err(storage_err)?;
        Ok(table.first().map_err(storage_err)?.map(|(k, _)| k.value()))
    }

    async fn compact_changes(
        &self,
        keep_entries: u64,
        keep_since: Timestamp,
        floor: u64,
        max: usize,
    ) -> Result<usize, StoreError> {
        self.write(move |batch| {
            let mut table = batch.txn().open_table(CHANGES).map_err(storage_err)?;
            let Some(last) = table.last().map_err(storage_err)?.map(|(k, _)| k.value()) else {
                return Ok(0);
            };
            // The newest entry always stays: it carries the sequence across restarts, so ids
            // never repeat and a replay can tell "nothing missed" from "too old".
            let count_cutoff = last.saturating_sub(keep_entries.max(1)).min(floor);
            let mut doomed = Vec::new();
            for row in table.range(..=count_cutoff).map_err(storage_err)? {
                if doomed.len() >= max {
                    break;
                }
                let (key, value) = row.map_err(storage_err)?;
                let entry: ChangeEntry = decode(value.value())?;
                if entry.ts >= keep_since {
                    break;
                }
                doomed.push(key.value());
            }
            for seq in &doomed {
                table.remove(*seq).map_err(storage_err)?;
            }
            Ok(doomed.len())
        })
        .await
    }

    async fn last_seq(&self) -> Result<u64, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(CHANGES).map_err(storage_err)?;
        Ok(table
            .last()
            .map_err(storage_err)?
            .map(|(k, _)| k.value())
            .unwrap_or(0))
    }
}

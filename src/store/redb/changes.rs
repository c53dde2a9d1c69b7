//! Reading the change log.

use async_trait::async_trait;
use redb::ReadableTable;

use super::tables::*;
use super::{RedbStore, storage_err};
use crate::domain::change::ChangeEntry;
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

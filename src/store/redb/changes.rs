//! Reading the change log, and the objects a search rebuild reads beside it.

use async_trait::async_trait;
use redb::{ReadableTable, ReadableTableMetadata};

use super::tables::*;
use super::{RedbStore, storage_err};
use crate::domain::activity::Activity;
use crate::domain::change::{ChangeEntry, ObjectKind};
use crate::domain::chat::Message;
use crate::domain::handover::Handover;
use crate::domain::project::Project;
use crate::domain::shopfloor::{Asset, DowntimeEvent};
use crate::domain::time::Timestamp;
use crate::domain::update::Update;
use crate::domain::visibility::Visible;
use crate::store::{ChangeLog, SearchSource, StoreError};

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
                doomed.push((key.value(), entry.kind, entry.id));
            }
            let mut by_object = batch
                .txn()
                .open_table(CHANGES_BY_OBJECT)
                .map_err(storage_err)?;
            for (seq, kind, id) in &doomed {
                table.remove(*seq).map_err(storage_err)?;
                by_object
                    .remove((kind.as_str(), *id, *seq))
                    .map_err(storage_err)?;
            }
            Ok(doomed.len())
        })
        .await
    }

    async fn object_changes(
        &self,
        kind: ObjectKind,
        id: u64,
        limit: usize,
    ) -> Result<Vec<ChangeEntry>, StoreError> {
        let txn = self.read()?;
        let index = txn.open_table(CHANGES_BY_OBJECT).map_err(storage_err)?;
        let changes = txn.open_table(CHANGES).map_err(storage_err)?;
        let mut out = Vec::new();
        let range = (kind.as_str(), id, 0)..=(kind.as_str(), id, u64::MAX);
        for row in index.range(range).map_err(storage_err)?.rev().take(limit) {
            let (key, _) = row.map_err(storage_err)?;
            let (_, _, seq) = key.value();
            if let Some(value) = changes.get(seq).map_err(storage_err)? {
                out.push(decode(value.value())?);
            }
        }
        Ok(out)
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

#[async_trait]
impl SearchSource for RedbStore {
    async fn searchable_count(&self) -> Result<usize, StoreError> {
        let txn = self.read()?;
        let mut total = 0u64;
        for table in [
            ACTIVITIES, PROJECTS, UPDATES, MESSAGES, ASSETS, DOWNTIME, HANDOVERS, ANDON,
        ] {
            total += txn
                .open_table(table)
                .map_err(storage_err)?
                .len()
                .map_err(storage_err)?;
        }
        Ok(usize::try_from(total).unwrap_or(usize::MAX))
    }

    async fn searchable_objects(
        &self,
        kind: ObjectKind,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ChangeEntry>, StoreError> {
        let txn = self.read()?;
        match kind {
            ObjectKind::Activity => as_created::<Activity>(&txn, ACTIVITIES, after, limit),
            ObjectKind::Project => as_created::<Project>(&txn, PROJECTS, after, limit),
            ObjectKind::Update => as_created::<Update>(&txn, UPDATES, after, limit),
            ObjectKind::Andon => {
                as_created::<crate::domain::andon::AndonCall>(&txn, ANDON, after, limit)
            }
            ObjectKind::Message => as_created::<Message>(&txn, MESSAGES, after, limit),
            ObjectKind::Asset => as_created::<Asset>(&txn, ASSETS, after, limit),
            ObjectKind::Downtime => as_created::<DowntimeEvent>(&txn, DOWNTIME, after, limit),
            ObjectKind::Handover => as_created::<Handover>(&txn, HANDOVERS, after, limit),
            ObjectKind::User
            | ObjectKind::Notification
            | ObjectKind::Shift
            | ObjectKind::DowntimeReason
            | ObjectKind::Production
            | ObjectKind::MachineKey
            | ObjectKind::UpdateAck => Ok(Vec::new()),
        }
    }
}

/// Rows of `table` with ids above `after`, in id order, as "created" change entries with their
/// visibility keys (what a search rebuild indexes).
fn as_created<T>(
    txn: &redb::ReadTransaction,
    table: redb::TableDefinition<u64, &[u8]>,
    after: u64,
    limit: usize,
) -> Result<Vec<ChangeEntry>, StoreError>
where
    T: Visible + serde::Serialize + serde::de::DeserializeOwned,
{
    let rows = txn.open_table(table).map_err(storage_err)?;
    let mut out = Vec::new();
    for row in rows
        .range(after.saturating_add(1)..)
        .map_err(storage_err)?
        .take(limit)
    {
        let (_, value) = row.map_err(storage_err)?;
        let object: T = decode(value.value())?;
        out.push(ChangeEntry {
            seq: 0,
            kind: T::KIND,
            id: object.object_id(),
            op: crate::domain::change::ChangeOp::Created,
            keys: object.visibility_keys(),
            ts: crate::domain::time::now(),
            data: serde_json::to_value(&object).map_err(|e| StoreError::Backend(e.to_string()))?,
            actor: None,
        });
    }
    Ok(out)
}

/// Indexes the change log by object, once, for a log written before the index existed.
pub(super) fn backfill_changes_by_object(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    backfill_once(
        txn,
        "indexed.changes_by_object",
        CHANGES,
        |entry: &ChangeEntry| {
            txn.open_table(CHANGES_BY_OBJECT)
                .map_err(storage_err)?
                .insert((entry.kind.as_str(), entry.id, entry.seq), ())
                .map_err(storage_err)?;
            Ok(())
        },
    )
}

//! Machine keys in redb: the rows, and the index from a secret's hash to its key.

use async_trait::async_trait;
use redb::{ReadableTable, ReadableTableMetadata, TableError, WriteTransaction};
use serde_json::json;

use super::tables::*;
use super::{Batch, RedbStore, storage_err};
use crate::domain::KeyId;
use crate::domain::change::ChangeOp;
use crate::domain::machine_key::MachineKey;
use crate::domain::time::Timestamp;
use crate::domain::visibility::Visible;
use crate::store::{Expect, MachineKeyStore, StoreError};

pub(super) fn create_tables(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(MACHINE_KEYS).map_err(storage_err)?;
    txn.open_table(MACHINE_KEYS_BY_HASH).map_err(storage_err)?;
    Ok(())
}

/// The precondition of `Write::PutMachineKey`: presence as expected, and a secret no other key
/// has (256 random bits never collide; this guards against a bug, not chance).
pub(super) fn check(
    txn: &WriteTransaction,
    key: &MachineKey,
    expect: Expect,
) -> Result<(), StoreError> {
    let rows = txn.open_table(MACHINE_KEYS).map_err(storage_err)?;
    let found: Option<MachineKey> = get_json(&rows, key.id.0)?;
    expect.check_presence(found.is_some(), "machine key")?;
    let hashes = txn.open_table(MACHINE_KEYS_BY_HASH).map_err(storage_err)?;
    if let Some(owner) = hashes.get(key.secret_hash.as_str()).map_err(storage_err)?
        && owner.value() != key.id.0
    {
        return Err(StoreError::Conflict("machine key secret is taken".into()));
    }
    Ok(())
}

/// Writes a checked key and logs it, without its secret's hash.
pub(super) fn put(batch: &mut Batch<'_>, key: &MachineKey) -> Result<(), StoreError> {
    let txn = batch.txn();
    let existed = {
        let mut rows = txn.open_table(MACHINE_KEYS).map_err(storage_err)?;
        let old: Option<MachineKey> = get_json(&rows, key.id.0)?;
        put_json(&mut rows, key.id.0, key)?;
        old.is_some()
    };
    txn.open_table(MACHINE_KEYS_BY_HASH)
        .map_err(storage_err)?
        .insert(key.secret_hash.as_str(), key.id.0)
        .map_err(storage_err)?;
    let op = if existed {
        ChangeOp::Updated
    } else {
        ChangeOp::Created
    };
    let logged = json!({
        "id": key.id,
        "name": key.name,
        "scopes": key.scopes,
        "revoked": key.revoked_at.is_some(),
    });
    batch
        .record_change(
            <MachineKey as Visible>::KIND,
            key.id.0,
            op,
            key.visibility_keys(),
            &logged,
        )
        .map(|_| ())
}

#[async_trait]
impl MachineKeyStore for RedbStore {
    async fn machine_key(&self, id: KeyId) -> Result<Option<MachineKey>, StoreError> {
        let txn = self.read()?;
        match txn.open_table(MACHINE_KEYS) {
            Ok(rows) => get_json(&rows, id.0),
            Err(TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(storage_err(e)),
        }
    }

    async fn machine_key_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<MachineKey>, StoreError> {
        let txn = self.read()?;
        let id = match txn.open_table(MACHINE_KEYS_BY_HASH) {
            Ok(hashes) => hashes
                .get(secret_hash)
                .map_err(storage_err)?
                .map(|g| g.value()),
            Err(TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(storage_err(e)),
        };
        let Some(id) = id else {
            return Ok(None);
        };
        get_json(&txn.open_table(MACHINE_KEYS).map_err(storage_err)?, id)
    }

    async fn machine_key_page(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<MachineKey>, usize), StoreError> {
        let txn = self.read()?;
        let rows = match txn.open_table(MACHINE_KEYS) {
            Ok(rows) => rows,
            Err(TableError::TableDoesNotExist(_)) => return Ok((Vec::new(), 0)),
            Err(e) => return Err(storage_err(e)),
        };
        let count = usize::try_from(rows.len().map_err(storage_err)?).unwrap_or(usize::MAX);
        let mut page = Vec::new();
        // Ids grow, so the newest come last: walk backwards and stop at the page's end.
        for entry in rows
            .iter()
            .map_err(storage_err)?
            .rev()
            .skip(offset)
            .take(limit)
        {
            let (_, value) = entry.map_err(storage_err)?;
            page.push(decode(value.value())?);
        }
        Ok((page, count))
    }

    async fn touch_machine_keys(&self, used: Vec<(KeyId, Timestamp)>) -> Result<(), StoreError> {
        self.write(move |batch| {
            let mut rows = batch.txn().open_table(MACHINE_KEYS).map_err(storage_err)?;
            for (id, at) in used {
                let key: Option<MachineKey> = get_json(&rows, id.0)?;
                if let Some(mut key) = key
                    && key.last_used_at.is_none_or(|t| t < at)
                {
                    key.last_used_at = Some(at);
                    put_json(&mut rows, id.0, &key)?;
                }
            }
            Ok(())
        })
        .await
    }
}

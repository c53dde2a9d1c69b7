//! The audit log in redb.

use async_trait::async_trait;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::tables::*;
use super::{RedbStore, storage_err};
use crate::domain::audit::AuditEntry;
use crate::store::{AuditStore, StoreError};

// ---- updates ----

pub(super) fn add_audit(txn: &WriteTransaction, e: &AuditEntry) -> Result<(), StoreError> {
    put_json(&mut txn.open_table(AUDIT).map_err(storage_err)?, e.id.0, e)
}

pub(super) fn audit_entries(txn: &ReadTransaction) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = txn.open_table(AUDIT).map_err(storage_err)?;
    let mut out = Vec::new();
    for row in rows.iter().map_err(storage_err)?.rev() {
        out.push(decode(row.map_err(storage_err)?.1.value())?);
    }
    Ok(out)
}

#[async_trait]
impl AuditStore for RedbStore {
    async fn audit_entries(&self) -> Result<Vec<AuditEntry>, StoreError> {
        audit_entries(&self.read()?)
    }
}

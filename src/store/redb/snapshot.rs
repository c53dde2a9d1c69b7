//! `SnapshotStore` for redb. redb has no backup API and its file must not be copied while it
//! is open, so a snapshot walks every table inside one read transaction and writes the rows
//! into a fresh database.

use std::path::Path;

use async_trait::async_trait;
use redb::{
    Database, Key, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition, TableError, TableHandle, Value, WriteTransaction,
};

use super::tables::*;
use super::{RedbStore, storage_err};
use crate::store::StoreError;
use crate::store::snapshot::{CopyProgress, SnapshotStore, TableCounts};

/// Rows written per transaction of the copy, so a large table never sits in memory whole.
const ROWS_PER_COMMIT: usize = 50_000;

#[async_trait]
impl SnapshotStore for RedbStore {
    async fn snapshot(
        &self,
        dest: &Path,
        progress: CopyProgress,
    ) -> Result<TableCounts, StoreError> {
        let source = self.read()?;
        let dest = dest.to_path_buf();
        tokio::task::spawn_blocking(move || copy_database(&source, &dest, &progress))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    async fn exported_rows(
        &self,
        kind: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, serde_json::Value)>, StoreError> {
        let table = match kind {
            "users" => USERS,
            "projects" => PROJECTS,
            "activities" => ACTIVITIES,
            "updates" => UPDATES,
            "notifications" => NOTIFICATIONS,
            "messages" => MESSAGES,
            "audit" => AUDIT,
            "assets" => ASSETS,
            "shifts" => SHIFTS,
            "downtime_reasons" => REASONS,
            "downtime" => DOWNTIME,
            "production" => PRODUCTION,
            "andon" => ANDON,
            "handovers" => HANDOVERS,
            other => return Err(StoreError::Backend(format!("no exported kind {other}"))),
        };
        let txn = self.read()?;
        let rows = match txn.open_table(table) {
            Ok(rows) => rows,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(storage_err(e)),
        };
        let mut page = Vec::new();
        let start = after.saturating_add(1);
        for row in rows.range(start..).map_err(storage_err)?.take(limit) {
            let (id, bytes) = row.map_err(storage_err)?;
            let value = serde_json::from_slice(bytes.value())
                .map_err(|e| StoreError::Corrupt(format!("{kind} {}: {e}", id.value())))?;
            page.push((id.value(), value));
        }
        Ok(page)
    }
}

fn copy_database(
    source: &ReadTransaction,
    dest: &Path,
    progress: &CopyProgress,
) -> Result<TableCounts, StoreError> {
    if dest.exists() {
        return Err(StoreError::Backend(format!(
            "{} already exists",
            dest.display()
        )));
    }
    let expected = count_rows(source)?;
    let copy = Database::create(dest).map_err(storage_err)?;
    let mut copier = Copier {
        source,
        copy: &copy,
        progress,
    };
    copier.every_table()?;
    let txn = copy.begin_read().map_err(storage_err)?;
    let copied = count_rows(&txn)?;
    drop(txn);
    drop(copy);
    if copied != expected {
        let missing: Vec<&str> = expected
            .iter()
            .filter(|(name, rows)| copied.get(*name) != Some(rows))
            .map(|(name, _)| name.as_str())
            .collect();
        return Err(StoreError::Backend(format!(
            "the copy differs from the database in table(s) {}: a table the backup does not list \
             (add it to store/redb/snapshot.rs)",
            missing.join(", ")
        )));
    }
    Ok(expected)
}

/// Rows per table of everything `txn` sees.
fn count_rows(txn: &ReadTransaction) -> Result<TableCounts, StoreError> {
    let mut counts = TableCounts::new();
    for handle in txn.list_tables().map_err(storage_err)? {
        let name = handle.name().to_string();
        let table = txn.open_untyped_table(handle).map_err(storage_err)?;
        counts.insert(name, table.len().map_err(storage_err)?);
    }
    Ok(counts)
}

struct Copier<'a> {
    source: &'a ReadTransaction,
    copy: &'a Database,
    progress: &'a CopyProgress,
}

impl Copier<'_> {
    /// Every table of `tables.rs`. One missing here is caught by the row counts afterwards.
    fn every_table(&mut self) -> Result<(), StoreError> {
        self.table(META)?;
        self.table(CHANGES)?;
        self.table(CHANGES_BY_OBJECT)?;
        self.table(USERS)?;
        self.table(USERS_BY_USERNAME)?;
        self.table(USERS_BY_EMAIL)?;
        self.table(SESSIONS)?;
        self.table(SESSIONS_BY_USER)?;
        self.table(ACTIVITIES)?;
        self.table(ACT_BY_STATUS)?;
        self.table(ACT_BY_TYPE)?;
        self.table(ACT_BY_PRIORITY)?;
        self.table(ACT_BY_ASSIGNEE)?;
        self.table(ACT_BY_CREATOR)?;
        self.table(ACT_BY_PROJECT)?;
        self.table(ACT_BY_START)?;
        self.table(PROJECTS)?;
        self.table(PROJECTS_BY_NAME)?;
        self.table(PROJECTS_BY_PERSON)?;
        self.table(UPDATES)?;
        self.table(NOTIFICATIONS)?;
        self.table(NOTIFICATIONS_BY_USER)?;
        self.table(MESSAGES)?;
        self.table(MESSAGES_BY_CONVERSATION)?;
        self.table(CHAT_PEERS)?;
        self.table(CHAT_READ)?;
        self.table(AUDIT)?;
        self.table(CHAT_RANK)?;
        self.table(AUDIT_BY_TS)?;
        self.table(AUDIT_TS_BY_ID)?;
        self.table(AUDIT_BY_ACTION)?;
        self.table(AUDIT_BY_ACTOR)?;
        self.table(AUDIT_BY_ACTOR_ACTION)?;
        self.table(AUDIT_COUNTS)?;
        self.table(NOTIFICATIONS_UNREAD)?;
        self.table(NOTIFICATIONS_READ_BY_CREATED)?;
        self.table(NOTIFICATION_COUNTS)?;
        self.table(UPDATES_BY_CREATED)?;
        self.table(UPDATES_BY_PRIORITY)?;
        self.table(UPDATE_COUNTS)?;
        self.table(USERS_BY_NAME)?;
        self.table(USERS_BY_CREATED)?;
        self.table(USERS_Q_BY_NAME)?;
        self.table(USERS_Q_BY_CREATED)?;
        self.table(USER_COUNTS)?;
        self.table(USERS_GRAMS)?;
        self.table(USER_GRAM_COUNTS)?;
        self.table(USERS_Q_BY_ID)?;
        self.table(PROJECTS_BY_LNAME)?;
        self.table(PROJECTS_BY_START)?;
        self.table(PROJECTS_BY_END)?;
        self.table(PROJECTS_BY_CREATED)?;
        self.table(PROJECTS_BY_MEMBER)?;
        self.table(PROJECT_COUNTS)?;
        self.table(ASSETS)?;
        self.table(ASSETS_BY_CODE)?;
        self.table(ASSETS_BY_PARENT)?;
        self.table(ASSETS_DOWN)?;
        self.table(SHIFTS)?;
        self.table(REASONS)?;
        self.table(REASONS_BY_CODE)?;
        self.table(REASONS_BY_PARENT)?;
        self.table(DOWNTIME)?;
        self.table(DOWNTIME_BY_ASSET)?;
        self.table(DOWNTIME_BY_START)?;
        self.table(DOWNTIME_BY_REASON)?;
        self.table(PRODUCTION)?;
        self.table(PRODUCTION_BY_ASSET)?;
        self.table(PRODUCTION_BY_START)?;
        self.table(ANDON)?;
        self.table(ANDON_BY_RAISED)?;
        self.table(ANDON_OPEN)?;
        self.table(PRODUCTION_SPAN)?;
        self.table(MACHINE_KEYS)?;
        self.table(MACHINE_KEYS_BY_HASH)?;
        self.table(UPDATE_ACKS)?;
        self.table(UPDATE_ACK_COUNTS)?;
        self.table(UPDATE_ACK_REMINDERS)?;
        self.table(UPDATE_ACK_REMINDERS_DUE)?;
        self.table(HANDOVERS)?;
        self.table(HANDOVERS_BY_CREATED)?;
        self.table(HANDOVERS_DUE)?;
        self.table(HANDOVERS_BY_ASSET)?;
        Ok(())
    }

    /// Copies one table in key order, committing every `ROWS_PER_COMMIT` rows.
    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        definition: TableDefinition<K, V>,
    ) -> Result<(), StoreError> {
        let from = match self.source.open_table(definition) {
            Ok(table) => table,
            // Never written to in this database: nothing to copy.
            Err(TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(storage_err(e)),
        };
        let mut rows = from.iter().map_err(storage_err)?;
        let mut copied = 0u64;
        loop {
            let txn = self.copy.begin_write().map_err(storage_err)?;
            let more = fill(&txn, definition, &mut rows, &mut copied)?;
            txn.commit().map_err(storage_err)?;
            (self.progress)(definition.name(), copied);
            if !more {
                return Ok(());
            }
        }
    }
}

/// Writes up to `ROWS_PER_COMMIT` rows of `rows` into `txn`; whether rows remain.
fn fill<K: Key + 'static, V: Value + 'static>(
    txn: &WriteTransaction,
    definition: TableDefinition<K, V>,
    rows: &mut redb::Range<'_, K, V>,
    copied: &mut u64,
) -> Result<bool, StoreError> {
    let mut to = txn.open_table(definition).map_err(storage_err)?;
    for _ in 0..ROWS_PER_COMMIT {
        let Some(row) = rows.next() else {
            return Ok(false);
        };
        let (key, value) = row.map_err(storage_err)?;
        to.insert(key.value(), value.value()).map_err(storage_err)?;
        *copied += 1;
    }
    Ok(true)
}

/// See `store::snapshot::verify_file`.
pub fn verify_file(path: &Path) -> Result<TableCounts, String> {
    let mut db = match Database::open(path) {
        Ok(db) => db,
        Err(e) => return Err(format!("the database does not open: {e}")),
    };
    match db.check_integrity() {
        Ok(true) => {}
        Ok(false) => {
            return Err("the database failed its integrity check (it needed repair)".into());
        }
        Err(e) => return Err(format!("the database failed its integrity check: {e}")),
    }
    let txn = db.begin_read().map_err(|e| e.to_string())?;
    count_rows(&txn).map_err(|e| e.to_string())
}

//! The redb backend: one database file in the data directory, one writer thread that commits
//! batches of requests with their change-log entries, and MVCC read transactions for reads.
//!
//! Reads run inline on the async workers: they are bounded point lookups or short scans served
//! from redb's page cache, cheaper than a hop to the blocking pool. Writes never do: they go to
//! the writer thread, which owns every fsync.

mod activities;
mod andon;
mod audit;
mod auth_cache;
mod changes;
mod changeset;
mod chat;
mod disk;
mod facets;
mod handovers;
mod lists;
mod machine_keys;
mod projects;
mod sessions;
mod shopfloor;
pub mod snapshot;
pub mod tables;
mod updates;
mod user_search;
mod users;
mod writer;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable};

use crate::config::ServerConfig;
use crate::domain::change::{ChangeEntry, ObjectKind};
use crate::events::EventBus;
use crate::store::{Lifecycle, OpenError, StoreError};
use tables::*;
use writer::Writer;
pub use writer::{Batch, MAX_BATCH};

/// The schema this build writes; older files are migrated on open.
pub const SCHEMA_VERSION: u64 = 1;

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "nexus.redb";

/// How the store is tuned.
#[derive(Clone, Copy, Debug)]
pub struct OpenOptions {
    /// Requests committed per transaction at most (1 turns group commit off, for measuring it).
    pub max_batch: usize,
    /// redb's own page cache, in bytes.
    pub cache_bytes: usize,
    /// Free disk space below which writes are refused (0: never refused).
    pub min_free_bytes: u64,
    /// Save the allocator state with every commit, so a restart after a crash is quick.
    pub quick_repair: bool,
}

impl OpenOptions {
    /// The tuning `server` configures.
    pub fn of(server: &ServerConfig) -> Self {
        OpenOptions {
            max_batch: if server.group_commit { MAX_BATCH } else { 1 },
            cache_bytes: server.db_cache_mb.saturating_mul(1 << 20),
            min_free_bytes: server.min_free_disk_mb.saturating_mul(1 << 20),
            quick_repair: server.quick_repair,
        }
    }
}

impl Default for OpenOptions {
    /// The configuration's defaults, so the two cannot drift apart.
    fn default() -> Self {
        OpenOptions::of(&ServerConfig::default())
    }
}

/// The redb store; cheap to clone.
#[derive(Clone)]
pub struct RedbStore {
    db: Arc<Database>,
    writer: Writer,
    ids: Arc<changeset::IdCounters>,
    facets: Arc<facets::Facets>,
    auth_cache: Arc<auth_cache::AuthCache>,
    disk: Arc<disk::DiskGuard>,
    /// The database file, for its size.
    file: Arc<std::path::PathBuf>,
}

impl RedbStore {
    /// Opens (or creates) the database in `data_dir`, migrates it, and starts the writer, which
    /// publishes every committed batch's changes on `bus`.
    pub fn open(data_dir: &Path, bus: EventBus) -> Result<RedbStore, OpenError> {
        Self::open_with(data_dir, bus, OpenOptions::default())
    }

    /// Like `open`, with the given tuning.
    pub fn open_with(
        data_dir: &Path,
        bus: EventBus,
        options: OpenOptions,
    ) -> Result<RedbStore, OpenError> {
        let path = data_dir.join(DB_FILE);
        let shown = path.display().to_string();
        let other = |reason: String| OpenError::Other {
            path: shown.clone(),
            reason,
        };
        let db = match redb::Builder::new()
            .set_cache_size(options.cache_bytes)
            .create(&path)
        {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(OpenError::Locked(data_dir.display().to_string()));
            }
            Err(e) => return Err(other(e.to_string())),
        };
        migrate(&db, data_dir, options.quick_repair).map_err(|e| match e {
            MigrateError::TooNew(found) => OpenError::TooNew {
                dir: data_dir.display().to_string(),
                found,
                supported: SCHEMA_VERSION,
            },
            MigrateError::Store(e) => other(e.to_string()),
        })?;
        let ids = Arc::new(changeset::IdCounters::load(&db).map_err(|e| other(e.to_string()))?);
        let db = Arc::new(db);
        let facets = facets::Facets::load_in_background(db.clone());
        let follower = facets.clone();
        let on_commit = Box::new(move |db: &Database, changes: &[ChangeEntry]| {
            refresh_facets(db, &follower, changes);
        });
        let disk = Arc::new(disk::DiskGuard::new(data_dir, options.min_free_bytes));
        let writer = Writer::start(db.clone(), bus, on_commit, options, disk.clone())
            .map_err(|e| other(e.to_string()))?;
        Ok(RedbStore {
            db,
            writer,
            ids,
            facets,
            auth_cache: Arc::default(),
            disk,
            file: Arc::new(path),
        })
    }

    /// Runs `f` inside the next write batch and returns its result once the batch is durable.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.writer.write(f).await
    }

    /// Like `write`, for writes to sessions or users: clears the authentication cache once the
    /// batch has committed (or failed), before the caller is answered.
    pub async fn write_clearing_auth<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let result = self.writer.write(f).await;
        self.auth_cache.clear();
        result
    }

    /// A read transaction: a consistent snapshot that never waits for the writer.
    pub fn read(&self) -> Result<ReadTransaction, StoreError> {
        self.db.begin_read().map_err(storage_err)
    }

    /// Stops the writer after it has committed everything queued, and waits for it.
    pub async fn close(&self) {
        self.writer.close().await;
        let facets = self.facets.clone();
        let _ = tokio::task::spawn_blocking(move || facets.stop_loading()).await;
    }
}

#[async_trait]
impl Lifecycle for RedbStore {
    async fn close(&self) {
        RedbStore::close(self).await;
    }

    fn size_bytes(&self) -> Option<u64> {
        std::fs::metadata(self.file.as_ref()).ok().map(|m| m.len())
    }

    async fn check(&self) -> Result<(), StoreError> {
        let txn = self.read()?;
        let meta = txn.open_table(META).map_err(storage_err)?;
        meta.get("schema_version").map_err(storage_err)?;
        self.disk.check()?;
        if self.writer.is_running() {
            Ok(())
        } else {
            Err(StoreError::Unavailable(
                "the database writer has stopped".into(),
            ))
        }
    }
}

/// Brings the facets of the activities a batch changed up to date, before the batch is answered.
fn refresh_facets(db: &Database, facets: &facets::Facets, changes: &[ChangeEntry]) {
    let changed: Vec<u64> = changes
        .iter()
        .filter(|c| c.kind == ObjectKind::Activity)
        .map(|c| c.id)
        .collect();
    if changed.is_empty() {
        return;
    }
    let refreshed = (|| -> Result<(), StoreError> {
        let txn = db.begin_read().map_err(storage_err)?;
        let table = txn.open_table(ACTIVITIES).map_err(storage_err)?;
        for id in changed {
            let row: Option<crate::domain::activity::Activity> = get_json(&table, id)?;
            facets.update(id, row.as_ref());
        }
        Ok(())
    })();
    if let Err(e) = refreshed {
        tracing::error!(error = %e, "could not refresh activity facets after a commit");
    }
}

/// Maps any redb error to a `StoreError`; a full disk is `Unavailable`, not a bug.
pub fn storage_err(e: impl Into<redb::Error>) -> StoreError {
    let e: redb::Error = e.into();
    if let redb::Error::Io(io) = &e
        && (io.raw_os_error() == Some(28) || io.kind() == std::io::ErrorKind::StorageFull)
    {
        return StoreError::Unavailable("disk full".into());
    }
    StoreError::Backend(e.to_string())
}

enum MigrateError {
    TooNew(u64),
    Store(StoreError),
}

impl From<StoreError> for MigrateError {
    fn from(e: StoreError) -> Self {
        MigrateError::Store(e)
    }
}

/// Brings the file to `SCHEMA_VERSION`: creates every table on a new file, runs each step
/// `from → from + 1` on an old one, and refuses a file from a newer build.
fn migrate(db: &Database, data_dir: &Path, quick_repair: bool) -> Result<(), MigrateError> {
    let txn = writer::begin(db, quick_repair)?;
    let found = {
        let meta = txn.open_table(META).map_err(storage_err)?;
        let v = meta.get("schema_version").map_err(storage_err)?;
        v.map(|g| g.value())
    };
    match found {
        Some(v) if v > SCHEMA_VERSION => return Err(MigrateError::TooNew(v)),
        Some(v) if v == SCHEMA_VERSION => {}
        Some(v) => {
            for from in v..SCHEMA_VERSION {
                tracing::info!(from, to = from + 1, dir = %data_dir.display(), "migrating database");
                migration_step(&txn, from)?;
            }
        }
        None => {}
    }
    create_tables(&txn)?;
    chat::backfill_chat(&txn)?;
    changes::backfill_changes_by_object(&txn)?;
    audit::backfill_audit(&txn).and_then(|()| updates::backfill_notifications(&txn))?;
    updates::backfill_updates(&txn)?;
    users::backfill_users(&txn)?;
    projects::backfill_projects(&txn)?;
    txn.open_table(META)
        .map_err(storage_err)?
        .insert("schema_version", SCHEMA_VERSION)
        .map_err(storage_err)?;
    txn.commit().map_err(storage_err)?;
    Ok(())
}

/// One schema step from version `from` to `from + 1`. None exist yet: version 1 is the first.
fn migration_step(_txn: &redb::WriteTransaction, from: u64) -> Result<(), StoreError> {
    Err(StoreError::Backend(format!(
        "no migration from schema version {from}"
    )))
}

fn create_tables(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(META).map_err(storage_err)?;
    txn.open_table(CHANGES).map_err(storage_err)?;
    txn.open_table(CHANGES_BY_OBJECT).map_err(storage_err)?;
    txn.open_table(USERS).map_err(storage_err)?;
    txn.open_table(USERS_BY_USERNAME).map_err(storage_err)?;
    txn.open_table(USERS_BY_EMAIL).map_err(storage_err)?;
    txn.open_table(SESSIONS).map_err(storage_err)?;
    txn.open_table(SESSIONS_BY_USER).map_err(storage_err)?;
    txn.open_table(ACTIVITIES).map_err(storage_err)?;
    txn.open_table(ACT_BY_STATUS).map_err(storage_err)?;
    txn.open_table(ACT_BY_TYPE).map_err(storage_err)?;
    txn.open_table(ACT_BY_PRIORITY).map_err(storage_err)?;
    txn.open_table(ACT_BY_ASSIGNEE).map_err(storage_err)?;
    txn.open_table(ACT_BY_CREATOR).map_err(storage_err)?;
    txn.open_table(ACT_BY_PROJECT).map_err(storage_err)?;
    txn.open_table(ACT_BY_START).map_err(storage_err)?;
    txn.open_table(PROJECTS).map_err(storage_err)?;
    txn.open_table(PROJECTS_BY_NAME).map_err(storage_err)?;
    txn.open_table(PROJECTS_BY_PERSON).map_err(storage_err)?;
    txn.open_table(UPDATES).map_err(storage_err)?;
    txn.open_table(NOTIFICATIONS).map_err(storage_err)?;
    txn.open_table(NOTIFICATIONS_BY_USER).map_err(storage_err)?;
    txn.open_table(MESSAGES).map_err(storage_err)?;
    txn.open_table(MESSAGES_BY_CONVERSATION)
        .map_err(storage_err)?;
    txn.open_table(CHAT_PEERS).map_err(storage_err)?;
    txn.open_table(CHAT_READ).map_err(storage_err)?;
    andon::create_tables(txn)?;
    txn.open_table(AUDIT).map_err(storage_err)?;
    shopfloor::create_tables(txn)?;
    machine_keys::create_tables(txn)?;
    handovers::create_tables(txn)?;
    Ok(())
}

/// Takes the next id of `kind` from its counter; ids are never reused, even after deletes.
pub fn next_id(txn: &redb::WriteTransaction, kind: &str) -> Result<u64, StoreError> {
    let key = format!("next_id.{kind}");
    let mut meta = txn.open_table(META).map_err(storage_err)?;
    let last = meta
        .get(key.as_str())
        .map_err(storage_err)?
        .map(|g| g.value())
        .unwrap_or(0);
    let id = last + 1;
    meta.insert(key.as_str(), id).map_err(storage_err)?;
    Ok(id)
}

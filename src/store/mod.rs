//! Storage behind small traits, split by capability. Services name only these traits; the redb
//! backend lives in `store/redb/`, and another (PostgreSQL) would live beside it.

pub mod activities;
pub mod andon;
pub mod audit;
pub mod changes;
pub mod changeset;
pub mod chat;
pub mod handovers;
pub mod machine_keys;
pub mod projects;
pub mod redb;
pub mod shopfloor;
pub mod snapshot;
pub mod updates;
pub mod users;

pub use activities::{ActivityFilter, ActivityOrder, ActivityStore};
pub use andon::{AndonFilter, AndonStore, OpenCall};
pub use audit::{AuditFilter, AuditStore};
pub use changes::{ChangeLog, SearchSource};
pub use changeset::{Changeset, ChangesetStore, Expect, IdKind, Write};
pub use chat::{ChatStore, ConversationSummary, MessagePage, Rooms};
pub use handovers::{HandoverFilter, HandoverStore};
pub use machine_keys::MachineKeyStore;
pub use projects::{ProjectFilter, ProjectOrder, ProjectStore};
pub use shopfloor::{
    AssetFilter, CountSpan, DowntimeFilter, ProductionFilter, ShopfloorStore, StopSpan,
};
pub use snapshot::SnapshotStore;
pub use updates::{UpdateFilter, UpdateOrder, UpdateStore};
pub use users::{
    NewUser, RefreshOutcome, Session, SessionStore, UserChanges, UserFilter, UserOrder, UserStore,
};

pub use crate::domain::visibility::Viewer;

use async_trait::async_trait;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process holds the database.
    #[error("data directory {0} is in use by another running Nexus")]
    Locked(String),
    /// The database was written by a newer Nexus.
    #[error(
        "data directory {dir} holds schema version {found}, newer than this build's {supported}; upgrade Nexus"
    )]
    TooNew {
        /// The directory.
        dir: String,
        /// The version found.
        found: u64,
        /// The newest version this build reads.
        supported: u64,
    },
    /// Anything else: permissions, damage, I/O.
    #[error("cannot open database {path}: {reason}")]
    Other {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Opens (or creates) the store of `data_dir` with the tuning of `server`; committed changes
/// are published on `bus`. The one place a backend is chosen (redb, the embedded default).
/// Blocking: call it off the async workers.
pub fn open(
    data_dir: &std::path::Path,
    server: &crate::config::ServerConfig,
    bus: crate::events::EventBus,
) -> Result<std::sync::Arc<dyn Store>, OpenError> {
    let store = redb::RedbStore::open_with(data_dir, bus, redb::OpenOptions::of(server))?;
    Ok(std::sync::Arc::new(store))
}

/// Whether `data_dir` holds a Nexus database.
pub fn exists(data_dir: &std::path::Path) -> bool {
    data_dir.join(redb::DB_FILE).exists()
}

/// Why a store call failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the message names it for clients.
    #[error("{0}")]
    Conflict(String),
    /// The object to change does not exist.
    #[error("not found")]
    NotFound,
    /// The object changed since it was read (its version moved on).
    #[error("changed since read")]
    Stale,
    /// A referenced object does not exist; names the request field.
    #[error("{field} {message}")]
    Invalid {
        /// The request field.
        field: &'static str,
        /// What is wrong.
        message: &'static str,
    },
    /// The disk is full or refuses writes; reads may still work.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Stored bytes did not decode: a bug or a damaged file.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// Any other storage failure.
    #[error("storage error: {0}")]
    Backend(String),
    /// The store is shutting down.
    #[error("store closed")]
    Closed,
}

/// Health and shutdown of the storage.
#[async_trait]
pub trait Lifecycle: Send + Sync {
    /// `Ok` when the database can be read and written.
    async fn check(&self) -> Result<(), StoreError>;
    /// Commits everything queued, then stops taking writes; waits until done.
    async fn close(&self);
    /// The size of the database on disk, in bytes, if the backend can tell.
    fn size_bytes(&self) -> Option<u64> {
        None
    }
}

/// Everything the services need from storage, one trait per capability.
pub trait Store:
    UserStore
    + SessionStore
    + ChangesetStore
    + ActivityStore
    + ProjectStore
    + UpdateStore
    + AndonStore
    + ChatStore
    + ShopfloorStore
    + MachineKeyStore
    + HandoverStore
    + AuditStore
    + ChangeLog
    + SearchSource
    + SnapshotStore
    + Lifecycle
{
}
impl<T> Store for T where
    T: UserStore
        + SessionStore
        + ChangesetStore
        + ActivityStore
        + AndonStore
        + ProjectStore
        + UpdateStore
        + ChatStore
        + ShopfloorStore
        + MachineKeyStore
        + HandoverStore
        + AuditStore
        + ChangeLog
        + SearchSource
        + SnapshotStore
        + Lifecycle
{
}

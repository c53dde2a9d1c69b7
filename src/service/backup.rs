//! Taking backups, for an admin over HTTP, for the command line and on a schedule: the one
//! place that checks who may, audits it and remembers the last success for the metrics.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::json;

use super::Principal;
use super::audit::AuditLog;
use crate::backup::{self, BackupError, Manifest, Progress};
use crate::domain::DomainError;
use crate::domain::visibility::is_admin;
use crate::store::Store;

/// Who asked for a backup.
pub enum Requester<'a> {
    /// An admin, through the API.
    User(&'a Principal),
    /// Whoever runs `nexus backup` on this machine (the data directory's owner).
    CommandLine,
    /// The `backup.every` schedule.
    Schedule,
}

impl Requester<'_> {
    fn via(&self) -> &'static str {
        match self {
            Requester::User(_) => "api",
            Requester::CommandLine => "cli",
            Requester::Schedule => "schedule",
        }
    }
}

/// Backups of the data directory; cheap to clone.
#[derive(Clone)]
pub struct BackupService {
    store: Arc<dyn Store>,
    data_dir: PathBuf,
    audit: AuditLog,
    /// Unix seconds of the last backup that completed, 0 if none since start.
    last_success: Arc<AtomicI64>,
}

impl BackupService {
    /// Builds the service over `store`, whose data directory is `data_dir`.
    pub fn new(store: Arc<dyn Store>, data_dir: PathBuf, audit: AuditLog) -> Self {
        Self {
            store,
            data_dir,
            audit,
            last_success: Arc::default(),
        }
    }

    /// Whether `principal` may take a backup (admins only): asked before a download starts
    /// streaming, as `write` asks again.
    pub fn may_take(principal: &Principal) -> Result<(), DomainError> {
        if is_admin(&principal.user) {
            Ok(())
        } else {
            Err(DomainError::Forbidden(
                "only an admin may take a backup".into(),
            ))
        }
    }

    /// Writes a fresh archive to `sink` (admin only when asked by a user).
    pub async fn write(
        &self,
        requester: Requester<'_>,
        sink: impl Write + Send + 'static,
        progress: Progress,
    ) -> Result<Manifest, DomainError> {
        if let Requester::User(principal) = &requester {
            Self::may_take(principal)?;
        }
        let made = backup::create(&self.store, &self.data_dir, sink, progress).await;
        self.finish(&requester, None, made).await
    }

    /// Writes a fresh archive to the file `path`: to a temporary name beside it first, renamed
    /// into place once complete and on disk, so `path` never holds half an archive.
    pub async fn write_file(
        &self,
        requester: Requester<'_>,
        path: &Path,
        progress: Progress,
    ) -> Result<Manifest, DomainError> {
        let made = write_file(&self.store, &self.data_dir, path, progress).await;
        self.finish(&requester, Some(path), made).await
    }

    async fn finish(
        &self,
        requester: &Requester<'_>,
        path: Option<&Path>,
        made: Result<Manifest, BackupError>,
    ) -> Result<Manifest, DomainError> {
        let manifest = made.map_err(|e| {
            tracing::error!(error = %e, via = requester.via(), "backup failed");
            DomainError::Internal(e.to_string())
        })?;
        let now = crate::domain::time::now().unix_timestamp();
        self.last_success.store(now, Ordering::Relaxed);
        crate::metrics::record_backup(u64::try_from(now).unwrap_or(0));
        let target = match path {
            Some(path) => format!("file:{}", path.display()),
            None => "download".to_string(),
        };
        let detail = json!({
            "via": requester.via(),
            "rows": manifest.total_rows(),
            "bytes": manifest.total_bytes(),
        });
        let entry = match requester {
            Requester::User(principal) => self.audit.by(principal, "backup", target, detail),
            _ => self.audit.entry(None, None, "backup", target, detail),
        };
        // Recorded before answering: a command-line backup closes the store right after.
        self.audit.record(entry).await;
        Ok(manifest)
    }

    /// Unix seconds of the last completed backup since start, if any.
    pub fn last_success(&self) -> Option<i64> {
        match self.last_success.load(Ordering::Relaxed) {
            0 => None,
            t => Some(t),
        }
    }
}

async fn write_file(
    store: &Arc<dyn Store>,
    data_dir: &Path,
    path: &Path,
    progress: Progress,
) -> Result<Manifest, BackupError> {
    let io = |what: &str, e: std::io::Error| BackupError(format!("{what} {}: {e}", path.display()));
    let partial = PathBuf::from(format!("{}.partial", path.display()));
    let file = std::fs::File::create(&partial).map_err(|e| io("cannot create", e))?;
    let kept = file.try_clone().map_err(|e| io("cannot write", e))?;
    let made = backup::create(store, data_dir, file, progress).await;
    let finished = made.and_then(|manifest| {
        kept.sync_all().map_err(|e| io("cannot write", e))?;
        std::fs::rename(&partial, path).map_err(|e| io("cannot rename into", e))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(dir) = std::fs::File::open(dir)
        {
            let _ = dir.sync_all();
        }
        Ok(manifest)
    });
    if finished.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    finished
}

//! Scheduled backups (`backup.every`): one archive per interval into `backup.dir`, the newest
//! `backup.keep` kept. The first is taken one interval after start, so restarts in a loop do not
//! fill the disk.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::BackupConfig;
use crate::service::backup::{BackupService, Requester};

/// Scheduled archives are named `nexus-backup-<UTC time>.tar.gz`, so their names sort by age.
const PREFIX: &str = "nexus-backup-";
const SUFFIX: &str = ".tar.gz";

/// Takes a backup every `interval` until `stopping` turns true.
pub async fn run(
    service: BackupService,
    config: BackupConfig,
    data_dir: PathBuf,
    interval: Duration,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let dir = config.directory(&data_dir);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            () = stopped(&mut stopping) => return,
        }
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::error!(dir = %dir.display(), error = %e, "scheduled backup: cannot create the backup directory");
            continue;
        }
        let name = format!("{PREFIX}{}{SUFFIX}", stamp());
        let path = dir.join(&name);
        match service
            .write_file(Requester::Schedule, &path, crate::backup::quiet())
            .await
        {
            Ok(manifest) => {
                tracing::info!(file = %path.display(), rows = manifest.total_rows(), "scheduled backup written");
                prune(&dir, config.keep as usize);
            }
            Err(e) => tracing::error!(error = %e, "scheduled backup failed"),
        }
    }
}

fn stamp() -> String {
    let now = crate::domain::time::now();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Removes the oldest scheduled archives of `dir` beyond `keep`; other files are left alone.
pub fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut archives: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
        })
        .collect();
    archives.sort();
    let excess = archives.len().saturating_sub(keep);
    for old in archives.into_iter().take(excess) {
        if let Err(e) = std::fs::remove_file(&old) {
            tracing::warn!(file = %old.display(), error = %e, "cannot remove an old scheduled backup");
        }
    }
}

/// Completes once `stopping` turns true (or its sender is gone).
async fn stopped(stopping: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stopping.wait_for(|s| *s).await;
}

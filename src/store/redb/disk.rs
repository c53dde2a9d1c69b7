//! Free space on the data directory's filesystem, checked before every write batch. redb treats
//! a failed write as fatal for the open database (every later read fails too, until it is
//! reopened), so writes are refused while the disk is nearly full instead of letting one fail:
//! reads go on, and writes resume by themselves once space is freed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::store::StoreError;

/// Refuses writes while less than `reserve` bytes are free under `dir`.
pub struct DiskGuard {
    dir: PathBuf,
    reserve: u64,
    full: AtomicBool,
}

impl DiskGuard {
    /// A guard for the filesystem holding `dir`.
    pub fn new(dir: &Path, reserve: u64) -> DiskGuard {
        DiskGuard {
            dir: dir.to_path_buf(),
            reserve,
            full: AtomicBool::new(false),
        }
    }

    /// `Unavailable` (a `503` for the client) while the disk is nearly full. A failure to ask
    /// the filesystem lets the write go ahead: the write itself will tell.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.reserve == 0 {
            return Ok(());
        }
        let Some(free) = free_bytes(&self.dir) else {
            return Ok(());
        };
        let full = free < self.reserve;
        let was_full = self.full.swap(full, Ordering::Relaxed);
        if full {
            let message = format!(
                "the disk holding the data directory is full ({} MiB free, {} MiB kept in reserve \
                 by server.min_free_disk_mb); reads go on, writes resume once space is freed",
                free >> 20,
                self.reserve >> 20
            );
            if !was_full {
                tracing::error!(free_bytes = free, "refusing writes: {message}");
            }
            return Err(StoreError::Unavailable(message));
        }
        if was_full {
            tracing::info!(free_bytes = free, "disk space is back: writes resume");
        }
        Ok(())
    }
}

/// Bytes an unprivileged process may still write on the filesystem holding `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserve_larger_than_the_disk_refuses_and_no_reserve_allows() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_bytes(dir.path()).expect("statvfs");
        assert!(free > 0);
        let refused = DiskGuard::new(dir.path(), u64::MAX).check();
        assert!(
            matches!(refused, Err(StoreError::Unavailable(_))),
            "{refused:?}"
        );
        assert!(DiskGuard::new(dir.path(), 0).check().is_ok());
        assert!(DiskGuard::new(dir.path(), 1).check().is_ok());
    }
}

//! The audit log.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::UserId;
use crate::domain::audit::AuditEntry;
use crate::domain::time::Timestamp;

/// Filters of the audit log; every field narrows the result.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only this action.
    pub action: Option<String>,
    /// Only by this user.
    pub actor: Option<UserId>,
    /// Only at or after.
    pub since: Option<Timestamp>,
}

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// One page (`offset` rows skipped, at most `limit` taken) of the entries matching
    /// `filter`, newest first (by time, then id), and how many match in all.
    async fn audit_page(
        &self,
        filter: &AuditFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<AuditEntry>), StoreError>;
    /// Removes at most `max` of the oldest entries written before `before`; returns how many went.
    async fn prune_audit(&self, before: Timestamp, max: usize) -> Result<usize, StoreError>;
}

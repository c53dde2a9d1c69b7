//! The audit log.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::audit::AuditEntry;

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Audit entries, newest first.
    async fn audit_entries(&self) -> Result<Vec<AuditEntry>, StoreError>;
}

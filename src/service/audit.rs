//! The audit log: who did what, from where. Entries are written in the same changeset as the
//! action they record, or on their own for sign-in events.

use std::sync::Arc;

use serde_json::Value;

use super::Principal;
use super::pagination::{Page, PageRequest};
use crate::domain::audit::AuditEntry;
use crate::domain::time;
use crate::domain::visibility::is_admin;
use crate::domain::{AuditId, DomainError, UserId};
use crate::store::{AuditFilter, Changeset, IdKind, Store, Write};

/// Filters of `GET /api/audit/`: the store's, which answers them from its indexes.
pub type AuditQuery = AuditFilter;

/// Builds and records audit entries; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    store: Arc<dyn Store>,
}

impl AuditLog {
    /// Builds the log over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// A new entry, to put in the changeset of the action it records.
    pub fn entry(
        &self,
        actor: Option<UserId>,
        ip: Option<&str>,
        action: &str,
        target: String,
        detail: Value,
    ) -> Write {
        Write::Audit(AuditEntry {
            id: AuditId(self.store.allocate_id(IdKind::Audit)),
            ts: time::now(),
            actor_id: actor,
            ip: ip.map(str::to_string),
            action: action.to_string(),
            target,
            detail,
        })
    }

    /// An entry for what `principal` did to `target`.
    /// A machine key is named in the detail (`machine_key`), with no actor: no person acted.
    pub fn by(&self, principal: &Principal, action: &str, target: String, detail: Value) -> Write {
        if let Some(grant) = &principal.key {
            let mut detail = match detail {
                Value::Object(map) => map,
                Value::Null => serde_json::Map::new(),
                other => serde_json::Map::from_iter([("detail".to_string(), other)]),
            };
            detail.insert("machine_key".into(), serde_json::json!(grant.id));
            return self.entry(
                None,
                principal.ip.as_deref(),
                action,
                target,
                Value::Object(detail),
            );
        }
        self.entry(
            Some(principal.user.id),
            principal.ip.as_deref(),
            action,
            target,
            detail,
        )
    }

    /// Records an entry on its own. A failure is logged, not returned: the action it records
    /// has already happened (or been refused) and its answer must not change.
    pub async fn record(&self, write: Write) {
        let mut changeset = Changeset::new();
        changeset.push(write);
        if let Err(e) = self.store.apply(changeset).await {
            tracing::error!(error = %e, "could not write audit entry");
        }
    }

    /// The log, newest first (admin only).
    pub async fn list(
        &self,
        principal: &Principal,
        query: AuditQuery,
        page: PageRequest,
    ) -> Result<Page<AuditEntry>, DomainError> {
        if !is_admin(&principal.user) {
            return Err(DomainError::Forbidden(
                "only an admin may read the audit log".into(),
            ));
        }
        let (count, results) = self
            .store
            .audit_page(&query, page.offset(), page.page_size)
            .await?;
        Ok(Page {
            count,
            results,
            request: page,
        })
    }
}

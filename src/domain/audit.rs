//! Audit entries: who did what, when and from where. Append only.

use serde::{Deserialize, Serialize};

use super::ids::{AuditId, UserId};
use super::time::rfc3339;
use ::time::OffsetDateTime;

/// One audited action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Server-assigned id.
    pub id: AuditId,
    /// When.
    #[serde(with = "rfc3339")]
    pub ts: OffsetDateTime,
    /// Who (`null` for failed logins of unknown users).
    #[schema(required = true)]
    pub actor_id: Option<UserId>,
    /// From which client address.
    #[schema(required = true)]
    pub ip: Option<String>,
    /// e.g. `login.success`, `user.deactivate`, `activity.delete`.
    pub action: String,
    /// What it was done to, e.g. `user:12`.
    pub target: String,
    /// Extra facts, e.g. the username tried.
    pub detail: serde_json::Value,
}

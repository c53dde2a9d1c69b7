//! The one error type of the domain and service layers.

use std::collections::BTreeMap;
use std::time::Duration;

/// Validation messages by field name.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// Why a use case did not go through. Adapters map each variant to their own answer.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Input failed validation.
    #[error("{message}")]
    Validation {
        /// Summary for people.
        message: String,
        /// Messages per field.
        fields: FieldErrors,
    },
    /// Malformed request that is not about one field.
    #[error("{0}")]
    BadRequest(String),
    /// No credentials, or they are bad, expired or revoked.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller may see this but not do it.
    #[error("{0}")]
    Forbidden(String),
    /// No such object, or one the caller may not see.
    #[error("{0}")]
    NotFound(String),
    /// Duplicate, illegal transition or stale version.
    #[error("{0}")]
    Conflict(String),
    /// Too many failed logins for that username.
    #[error("account locked; try again later")]
    AccountLocked {
        /// When to try again.
        retry_after: Duration,
    },
    /// Too many requests from that client.
    #[error("too many requests; slow down")]
    RateLimited {
        /// When to try again.
        retry_after: Duration,
    },
    /// Storage is unavailable (full disk, I/O error); reads may still work.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; the detail is logged, never shown.
    #[error("internal error")]
    Internal(String),
}

impl DomainError {
    /// A validation error on one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut fields = FieldErrors::new();
        fields.insert(field.to_string(), vec![message.clone()]);
        DomainError::Validation {
            message: format!("{field} {message}"),
            fields,
        }
    }

    /// A validation error from collected field messages; `Ok` when there are none.
    pub fn check(fields: FieldErrors) -> Result<(), DomainError> {
        match fields.iter().next() {
            None => Ok(()),
            Some((field, messages)) => {
                let first = messages.first().map(String::as_str).unwrap_or("is invalid");
                Err(DomainError::Validation {
                    message: format!("{field} {first}"),
                    fields,
                })
            }
        }
    }
}

/// Adds a message for `field` to `fields`.
pub fn push_field(fields: &mut FieldErrors, field: &str, message: impl Into<String>) {
    fields
        .entry(field.to_string())
        .or_default()
        .push(message.into());
}

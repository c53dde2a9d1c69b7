//! Timestamps: stored and shown as RFC 3339 in UTC.

use time::OffsetDateTime;

/// A point in time, serialised as RFC 3339 in UTC with whole seconds.
pub type Timestamp = OffsetDateTime;

/// The current time, truncated to whole seconds so what is stored equals what is shown.
pub fn now() -> Timestamp {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// Serde helpers writing `2026-11-28T09:30:00Z`.
pub mod rfc3339 {
    pub use time::serde::rfc3339::*;
}

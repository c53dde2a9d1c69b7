//! Timestamps: stored and shown as RFC 3339 in UTC.

use time::{OffsetDateTime, UtcOffset};

/// A point in time, serialised as RFC 3339 in UTC with whole seconds.
pub type Timestamp = OffsetDateTime;

/// The current time, truncated to whole seconds so what is stored equals what is shown.
pub fn now() -> Timestamp {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// `t` in UTC, if it is a time the API can store and show: RFC 3339 has four-digit years, so
/// UTC years 0 to 9999. `None` otherwise, e.g. for `9999-12-31T23:00:00-05:00` (year 10000 in
/// UTC, where `to_offset` panics) or `0000-01-01T00:00:00+01:00` (year -1, which the store then
/// failed to format).
pub fn to_utc(t: OffsetDateTime) -> Option<Timestamp> {
    t.checked_to_offset(UtcOffset::UTC)
        .filter(|u| (0..=9999).contains(&u.year()))
}

/// The message for a time `to_utc` refuses.
pub const OUT_OF_RANGE: &str = "must be between 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z";

/// Serde helpers writing `2026-11-28T09:30:00Z`.
pub mod rfc3339 {
    pub use time::serde::rfc3339::*;
}

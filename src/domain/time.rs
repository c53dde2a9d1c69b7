//! Timestamps: stored and shown as RFC 3339 in UTC.

use time::{OffsetDateTime, UtcOffset};

/// A point in time, serialised as RFC 3339 in UTC with whole seconds.
pub type Timestamp = OffsetDateTime;

/// The current time, truncated to whole seconds so what is stored equals what is shown.
pub fn now() -> Timestamp {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// `t` in UTC, or `None` when its UTC form cannot be written back as RFC 3339 (years 0000 to
/// 9999). A client may send `9999-12-31T23:59:59-23:59` (the year 10000 in UTC, on which
/// `to_offset` panics) or `0000-01-01T00:00:00+23:59` (the year -1, which then fails to
/// serialise when the write is committed, failing the whole batch).
pub fn to_utc(t: OffsetDateTime) -> Option<Timestamp> {
    t.checked_to_offset(UtcOffset::UTC)
        .filter(|t| (0..=9999).contains(&t.year()))
}

/// Serde helpers writing `2026-11-28T09:30:00Z`.
pub mod rfc3339 {
    pub use time::serde::rfc3339::*;
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    #[test]
    fn to_utc_converts_and_refuses_what_would_overflow() {
        assert_eq!(
            super::to_utc(datetime!(2026-11-28 10:30 +01:00)),
            Some(datetime!(2026-11-28 09:30 UTC))
        );
        assert_eq!(super::to_utc(datetime!(9999-12-31 23:59:59 -23:59)), None);
        assert_eq!(super::to_utc(datetime!(0000-01-01 00:00 +23:59)), None);
        assert_eq!(super::to_utc(datetime!(-9999-01-01 00:00 +23:59)), None);
        assert_eq!(
            super::to_utc(datetime!(0000-01-01 00:00 UTC)),
            Some(datetime!(0000-01-01 00:00 UTC))
        );
    }
}

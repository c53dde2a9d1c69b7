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

/// The clock deadlines are measured by: escalations, reminders and timeouts compare stored
/// times with `now()`. It is the system clock, moved forward by `advance` in tests, so a test
/// can reach a deadline of minutes at once against a real server. Cheap to clone; clones share
/// the offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    inner: std::sync::Arc<ClockInner>,
}

#[derive(Debug, Default)]
struct ClockInner {
    /// Seconds added to the system clock.
    offset_secs: std::sync::atomic::AtomicI64,
    /// Woken on `advance`, so whoever waits for a deadline looks again at once.
    advanced: tokio::sync::Notify,
}

impl Clock {
    /// The current time on this clock, in whole seconds.
    pub fn now(&self) -> Timestamp {
        let offset = self
            .inner
            .offset_secs
            .load(std::sync::atomic::Ordering::Relaxed);
        now()
            .checked_add(time::Duration::seconds(offset))
            .unwrap_or_else(now)
    }

    /// Moves this clock (and every clone) `secs` seconds forward, and wakes `advanced`.
    pub fn advance(&self, secs: i64) {
        self.inner
            .offset_secs
            .fetch_add(secs, std::sync::atomic::Ordering::Relaxed);
        self.inner.advanced.notify_waiters();
    }

    /// Completes when `advance` is next called.
    pub async fn advanced(&self) {
        self.inner.advanced.notified().await;
    }
}

#[cfg(test)]
mod clock_tests {
    use super::Clock;

    #[tokio::test]
    async fn advance_moves_every_clone_and_wakes_waiters() {
        let clock = Clock::default();
        let other = clock.clone();
        let before = clock.now();
        let waiter = tokio::spawn({
            let clock = clock.clone();
            async move { clock.advanced().await }
        });
        tokio::task::yield_now().await;
        other.advance(3600);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .expect("joined");
        let moved = clock.now() - before;
        assert!(moved >= time::Duration::seconds(3600), "{moved}");
        assert!(moved < time::Duration::seconds(3660), "{moved}");
    }
}

//! Per-username lockout after repeated failed logins, whether or not the username exists.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept before old ones are swept, so a spray of usernames cannot grow memory forever.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

/// Counts failed logins per lower-cased username.
pub struct Lockout {
    limit: u32,
    window: Duration,
    entries: Mutex<HashMap<String, Failures>>,
}

impl Lockout {
    /// Locks a username for `window` after `limit` failures within `window`.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `Err(time left)` while `username` is locked.
    pub fn check(&self, username: &str) -> Result<(), Duration> {
        let now = Instant::now();
        match self.entries().get(&username.to_lowercase()) {
            Some(Failures {
                locked_until: Some(until),
                ..
            }) if *until > now => Err(*until - now),
            _ => Ok(()),
        }
    }

    /// Counts a failure; returns `true` if it locked the username.
    pub fn record_failure(&self, username: &str) -> bool {
        let now = Instant::now();
        let mut entries = self.entries();
        if entries.len() > SWEEP_ABOVE {
            let window = self.window;
            entries.retain(|_, f| {
                f.locked_until.is_some_and(|u| u > now) || now - f.window_start < window
            });
        }
        let entry = entries.entry(username.to_lowercase()).or_insert(Failures {
            count: 0,
            window_start: now,
            locked_until: None,
        });
        if now - entry.window_start >= self.window {
            *entry = Failures {
                count: 0,
                window_start: now,
                locked_until: None,
            };
        }
        entry.count += 1;
        if entry.count >= self.limit {
            entry.locked_until = Some(now + self.window);
            entry.count = 0;
            entry.window_start = now;
            return true;
        }
        false
    }

    /// Forgets the failures of `username` after a successful login.
    pub fn clear(&self, username: &str) {
        self.entries().remove(&username.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_limit_failures_case_insensitively() {
        let lockout = Lockout::new(3, Duration::from_secs(60));
        assert!(!lockout.record_failure("Bob"));
        assert!(!lockout.record_failure("bob"));
        assert!(lockout.check("BOB").is_ok());
        assert!(lockout.record_failure("bOb"));
        let left = lockout.check("bob").expect_err("locked");
        assert!(left <= Duration::from_secs(60) && left > Duration::from_secs(55));
    }

    #[test]
    fn success_clears_failures() {
        let lockout = Lockout::new(2, Duration::from_secs(60));
        lockout.record_failure("amy");
        lockout.clear("amy");
        assert!(!lockout.record_failure("amy"));
    }
}

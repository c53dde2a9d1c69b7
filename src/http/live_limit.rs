//! A cap on the live connections (WebSocket and SSE together) each user holds, so one client
//! looping on reconnects cannot pin thousands of sockets and their subscriptions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::domain::DomainError;

/// How long a refused client is told to wait before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Counts of open live connections per user.
#[derive(Clone)]
pub struct LiveConnections {
    per_user: usize,
    open: Arc<Mutex<HashMap<u64, usize>>>,
}

/// One open live connection; the count drops when it does.
pub struct LiveSlot {
    user: u64,
    open: Arc<Mutex<HashMap<u64, usize>>>,
}

impl LiveConnections {
    /// At most `per_user` open connections per user.
    pub fn new(per_user: usize) -> Self {
        LiveConnections {
            per_user,
            open: Arc::default(),
        }
    }

    /// Takes a slot for `user`, or refuses with `429` when they hold the maximum already.
    pub fn open(&self, user: u64) -> Result<LiveSlot, DomainError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(user).or_insert(0);
        if *count >= self.per_user {
            return Err(DomainError::RateLimited {
                retry_after: RETRY_AFTER,
            });
        }
        *count += 1;
        Ok(LiveSlot {
            user,
            open: self.open.clone(),
        })
    }
}

impl Drop for LiveSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_gets_a_slot_back_when_a_connection_closes() {
        let live = LiveConnections::new(2);
        let first = live.open(7).expect("first");
        let _second = live.open(7).expect("second");
        assert!(live.open(7).is_err(), "a third is refused");
        assert!(live.open(8).is_ok(), "other users are not affected");
        drop(first);
        assert!(live.open(7).is_ok(), "a closed connection frees its slot");
    }
}

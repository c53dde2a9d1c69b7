//! A cap on the live connections (WebSocket and SSE together) each user holds, so one client
//! looping on reconnects cannot pin thousands of sockets and their subscriptions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::domain::DomainError;

/// How long a refused client is told to wait before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// How a live connection reaches its client, for the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `/ws`, or GraphQL's subscriptions socket.
    WebSocket,
    /// `/api/events/`.
    Sse,
}

/// Counts of open live connections per user, and per transport for the metrics.
#[derive(Clone)]
pub struct LiveConnections {
    per_user: usize,
    open: Arc<Mutex<HashMap<u64, usize>>>,
    by_transport: Arc<[AtomicUsize; 2]>,
}

/// One open live connection; the count drops when it does.
pub struct LiveSlot {
    user: u64,
    transport: Transport,
    open: Arc<Mutex<HashMap<u64, usize>>>,
    by_transport: Arc<[AtomicUsize; 2]>,
}

impl LiveConnections {
    /// At most `per_user` open connections per user.
    pub fn new(per_user: usize) -> Self {
        LiveConnections {
            per_user,
            open: Arc::default(),
            by_transport: Arc::default(),
        }
    }

    /// Open connections over `transport`, every user's together.
    pub fn count(&self, transport: Transport) -> usize {
        self.by_transport[transport as usize].load(Ordering::Relaxed)
    }

    /// Takes a slot for `user`, or refuses with `429` when they hold the maximum already.
    pub fn open(&self, user: u64, transport: Transport) -> Result<LiveSlot, DomainError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(user).or_insert(0);
        if *count >= self.per_user {
            return Err(DomainError::RateLimited {
                retry_after: RETRY_AFTER,
            });
        }
        *count += 1;
        self.by_transport[transport as usize].fetch_add(1, Ordering::Relaxed);
        Ok(LiveSlot {
            user,
            transport,
            open: self.open.clone(),
            by_transport: self.by_transport.clone(),
        })
    }
}

impl Drop for LiveSlot {
    fn drop(&mut self) {
        self.by_transport[self.transport as usize].fetch_sub(1, Ordering::Relaxed);
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
        let first = live.open(7, Transport::WebSocket).expect("first");
        let _second = live.open(7, Transport::Sse).expect("second");
        assert!(live.open(7, Transport::Sse).is_err(), "a third is refused");
        assert!(
            live.open(8, Transport::Sse).is_ok(),
            "other users are not affected"
        );
        drop(first);
        assert!(
            live.open(7, Transport::WebSocket).is_ok(),
            "a closed connection frees its slot"
        );
    }

    #[test]
    fn open_connections_are_counted_per_transport() {
        let live = LiveConnections::new(4);
        let socket = live.open(1, Transport::WebSocket).expect("socket");
        let stream = live.open(2, Transport::Sse).expect("stream");
        let _held = live.open(1, Transport::Sse).expect("a second of that user");
        assert_eq!(live.count(Transport::WebSocket), 1);
        assert_eq!(live.count(Transport::Sse), 2);
        drop(socket);
        drop(stream);
        assert_eq!(live.count(Transport::WebSocket), 0);
        assert_eq!(live.count(Transport::Sse), 1);
    }
}

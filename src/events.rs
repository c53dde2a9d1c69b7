//! The in-process event bus: committed change-log entries, published in sequence order after
//! their transaction is durable. A bounded broadcast channel, so a slow reader loses old entries
//! (and is told how many) instead of slowing the writer.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::domain::change::ChangeEntry;

/// Entries a subscriber may fall behind by before it lags.
const CAPACITY: usize = 4096;

/// Handle to the bus; cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<ChangeEntry>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    /// A bus with no subscribers yet.
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(CAPACITY);
        Self { sender }
    }

    /// Publishes one committed batch's entries, in order. Called only after the commit.
    pub fn publish(&self, entries: Vec<ChangeEntry>) {
        for entry in entries {
            // No subscriber is not an error: nothing is listening yet.
            let _ = self.sender.send(Arc::new(entry));
        }
    }

    /// A new subscriber that sees entries published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ChangeEntry>> {
        self.sender.subscribe()
    }
}

//! The in-process event bus: committed change-log entries, published in sequence order after
//! their transaction is durable. A bounded broadcast channel, so a slow reader loses old entries
//! (and is told how many) instead of slowing the writer.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use tokio::sync::broadcast;

use crate::domain::change::ChangeEntry;

/// Entries a subscriber may fall behind by before it lags.
const CAPACITY: usize = 4096;

/// Handle to the bus; cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<Published>>,
}

/// A committed entry on its way to live connections, with room for its rendered forms (per
/// topic slot, per encoding), so a change fanned out to thousands of connections is
/// serialised once per topic, not once each.
#[derive(Debug)]
pub struct Published {
    entry: ChangeEntry,
    rendered: [[OnceLock<Bytes>; 2]; 2],
}

impl Published {
    /// Wraps an entry (from the writer, or read back from the log for a replay).
    pub fn new(entry: ChangeEntry) -> Self {
        Self {
            entry,
            rendered: Default::default(),
        }
    }

    /// Encoding `form` (0 or 1) for `slot` (0 or 1: the entry's topics), made by `render`
    /// once.
    pub fn rendered(&self, slot: usize, form: usize, render: impl FnOnce() -> Bytes) -> Bytes {
        match self.rendered.get(slot).and_then(|forms| forms.get(form)) {
            Some(cell) => cell.get_or_init(render).clone(),
            None => render(),
        }
    }
}

impl std::ops::Deref for Published {
    type Target = ChangeEntry;

    fn deref(&self) -> &ChangeEntry {
        &self.entry
    }
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
        crate::metrics::record_published(entries.len());
        for entry in entries {
            // No subscriber is not an error: nothing is listening yet.
            let _ = self.sender.send(Arc::new(Published::new(entry)));
        }
    }

    /// A new subscriber that sees entries published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.sender.subscribe()
    }
}

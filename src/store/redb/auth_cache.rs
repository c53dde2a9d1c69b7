//! Sessions and their users, remembered between requests so authenticating one costs no read
//! transaction. Every write to a session or user clears it after its commit, and a read that
//! raced with such a write never stores what it read (a generation check), so a revoked
//! session or a deactivated user is never served from memory.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::domain::user::User;
use crate::store::Session;

/// Sessions kept at most; past this the cache starts over.
const CAPACITY: usize = 100_000;

/// The cache; one per store.
#[derive(Default)]
pub struct AuthCache {
    entries: RwLock<HashMap<u64, (Session, User)>>,
    generation: AtomicU64,
}

impl AuthCache {
    /// A cached session and user.
    pub fn get(&self, sid: u64) -> Option<(Session, User)> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.get(&sid).cloned()
    }

    /// The generation to pass to `insert` after reading the database.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Remembers what was read at `generation`, unless a write has cleared the cache since.
    pub fn insert(&self, generation: u64, sid: u64, value: (Session, User)) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(sid, value);
    }

    /// Forgets everything; called after every committed session or user write.
    pub fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time;
    use crate::domain::user::Role;
    use crate::domain::{SessionId, UserId};

    fn entry() -> (Session, User) {
        let now = time::now();
        let session = Session {
            id: SessionId(1),
            user_id: UserId(1),
            refresh_generation: 0,
            created_at: now,
            expires_at: now,
        };
        let user = User {
            id: UserId(1),
            username: "op".into(),
            email: "op@plant.test".into(),
            display_name: "Op".into(),
            role: Role::User,
            is_active: true,
            profile: Default::default(),
            password_hash: String::new(),
            created_at: now,
            updated_at: now,
        };
        (session, user)
    }

    #[test]
    fn a_read_that_raced_with_a_write_is_not_remembered() {
        let cache = AuthCache::default();
        let seen = cache.generation();
        // A revocation commits and clears while the read was in flight.
        cache.clear();
        cache.insert(seen, 1, entry());
        assert!(cache.get(1).is_none(), "the stale read must not be served");
        let now = cache.generation();
        cache.insert(now, 1, entry());
        assert!(cache.get(1).is_some());
        cache.clear();
        assert!(cache.get(1).is_none(), "a write forgets everything");
    }
}

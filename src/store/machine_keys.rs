//! Machine keys: looked up by the hash of their secret on every request they make.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::KeyId;
use crate::domain::machine_key::MachineKey;
use crate::domain::time::Timestamp;

/// Reading machine keys; they are written with `Write::PutMachineKey`.
#[async_trait]
pub trait MachineKeyStore: Send + Sync {
    /// The key `id`, revoked or not.
    async fn machine_key(&self, id: KeyId) -> Result<Option<MachineKey>, StoreError>;
    /// The key whose secret hashes to `secret_hash`, revoked or not.
    async fn machine_key_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<MachineKey>, StoreError>;
    /// One page of keys, newest first, and how many there are.
    async fn machine_key_page(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<MachineKey>, usize), StoreError>;
    /// Moves each key's `last_used_at` forward to the time given (never back). Bookkeeping, not
    /// a change: nothing is written to the change log.
    async fn touch_machine_keys(&self, used: Vec<(KeyId, Timestamp)>) -> Result<(), StoreError>;
}

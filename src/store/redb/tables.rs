//! Every redb table of Nexus, and the helpers that read and write their values.
//!
//! Values are JSON bytes behind `get_json`/`put_json`, so a damaged record is a `StoreError`
//! rather than a panic, and a field added later with a serde default reads old records.

use redb::{ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::storage_err;
use crate::store::StoreError;

/// Named counters and settings: `schema_version`, `next_id.<kind>`.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// The change log: seq → `ChangeEntry`.
pub const CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("changes");
/// Users by id.
pub const USERS: TableDefinition<u64, &[u8]> = TableDefinition::new("users");
/// Lower-cased username → user id.
pub const USERS_BY_USERNAME: TableDefinition<&str, u64> = TableDefinition::new("users_by_username");
/// Lower-cased email → user id.
pub const USERS_BY_EMAIL: TableDefinition<&str, u64> = TableDefinition::new("users_by_email");
/// Sessions by id.
pub const SESSIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("sessions");
/// (user id, session id) → (): a user's sessions, for revoking them together.
pub const SESSIONS_BY_USER: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("sessions_by_user");

/// Reads and decodes the JSON value at `key`.
pub fn get_json<K, T, Tbl>(table: &Tbl, key: K::SelfType<'_>) -> Result<Option<T>, StoreError>
where
    K: redb::Key + 'static,
    T: DeserializeOwned,
    Tbl: ReadableTable<K, &'static [u8]>,
{
    match table.get(key).map_err(storage_err)? {
        None => Ok(None),
        Some(guard) => decode(guard.value()).map(Some),
    }
}

/// Decodes one stored JSON value.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Encodes and writes `value` at `key`.
pub fn put_json<K, T>(
    table: &mut redb::Table<'_, K, &'static [u8]>,
    key: K::SelfType<'_>,
    value: &T,
) -> Result<(), StoreError>
where
    K: redb::Key + 'static,
    T: Serialize,
{
    let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Backend(e.to_string()))?;
    table.insert(key, bytes.as_slice()).map_err(storage_err)?;
    Ok(())
}

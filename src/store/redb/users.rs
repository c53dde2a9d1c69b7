//! Users in redb: the `users` table and its unique username and email indexes.

use async_trait::async_trait;
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::tables::*;
use super::{RedbStore, next_id, storage_err};
use crate::domain::UserId;
use crate::domain::change::{ChangeOp, ObjectKind, VisibilityKeys};
use crate::domain::time;
use crate::domain::user::{User, unique_key};
use crate::store::{NewUser, StoreError, UserChanges, UserStore};

fn load(txn: &WriteTransaction, id: u64) -> Result<Option<User>, StoreError> {
    let table = txn.open_table(USERS).map_err(storage_err)?;
    get_json(&table, id)
}

fn taken(
    txn: &WriteTransaction,
    index: redb::TableDefinition<&str, u64>,
    key: &str,
) -> Result<Option<u64>, StoreError> {
    let table = txn.open_table(index).map_err(storage_err)?;
    Ok(table.get(key).map_err(storage_err)?.map(|g| g.value()))
}

fn insert_user(batch: &mut super::Batch<'_>, new: NewUser) -> Result<User, StoreError> {
    let txn = batch.txn();
    let username_key = unique_key(&new.username);
    let email_key = unique_key(&new.email);
    if taken(txn, USERS_BY_USERNAME, &username_key)?.is_some() {
        return Err(StoreError::Conflict("username is already taken".into()));
    }
    if taken(txn, USERS_BY_EMAIL, &email_key)?.is_some() {
        return Err(StoreError::Conflict("email is already in use".into()));
    }
    let id = next_id(txn, "user")?;
    let now = time::now();
    let user = User {
        id: UserId(id),
        username: new.username,
        email: new.email,
        display_name: new.display_name,
        role: new.role,
        is_active: true,
        profile: Default::default(),
        password_hash: new.password_hash,
        created_at: now,
        updated_at: now,
    };
    put_json(&mut txn.open_table(USERS).map_err(storage_err)?, id, &user)?;
    txn.open_table(USERS_BY_USERNAME)
        .map_err(storage_err)?
        .insert(username_key.as_str(), id)
        .map_err(storage_err)?;
    txn.open_table(USERS_BY_EMAIL)
        .map_err(storage_err)?
        .insert(email_key.as_str(), id)
        .map_err(storage_err)?;
    batch.record_change(
        ObjectKind::User,
        id,
        ChangeOp::Created,
        VisibilityKeys::default(),
        &serde_json::Value::Null,
    )?;
    Ok(user)
}

#[async_trait]
impl UserStore for RedbStore {
    async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        self.write(move |batch| insert_user(batch, new)).await
    }

    async fn create_first_user(&self, new: NewUser) -> Result<Option<User>, StoreError> {
        self.write(move |batch| {
            let empty = batch
                .txn()
                .open_table(USERS)
                .map_err(storage_err)?
                .is_empty()
                .map_err(storage_err)?;
            if !empty {
                return Ok(None);
            }
            insert_user(batch, new).map(Some)
        })
        .await
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(USERS).map_err(storage_err)?;
        get_json(&table, id.0)
    }

    async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(USERS).map_err(storage_err)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(user) = get_json(&table, id.0)? {
                out.push(user);
            }
        }
        Ok(out)
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let txn = self.read()?;
        let index = txn.open_table(USERS_BY_USERNAME).map_err(storage_err)?;
        let Some(id) = index
            .get(unique_key(username).as_str())
            .map_err(storage_err)?
            .map(|g| g.value())
        else {
            return Ok(None);
        };
        let table = txn.open_table(USERS).map_err(storage_err)?;
        get_json(&table, id)
    }

    async fn users(&self) -> Result<Vec<User>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(USERS).map_err(storage_err)?;
        let mut users = Vec::new();
        for row in table.iter().map_err(storage_err)? {
            let (_, value) = row.map_err(storage_err)?;
            users.push(decode(value.value())?);
        }
        Ok(users)
    }

    async fn update_user(&self, id: UserId, changes: UserChanges) -> Result<User, StoreError> {
        self.write_clearing_auth(move |batch| {
            let txn = batch.txn();
            let mut user = load(txn, id.0)?.ok_or(StoreError::NotFound)?;
            let new_email_key = match &changes.email {
                Some(email) if unique_key(email) != unique_key(&user.email) => {
                    let key = unique_key(email);
                    if taken(txn, USERS_BY_EMAIL, &key)?.is_some() {
                        return Err(StoreError::Conflict("email is already in use".into()));
                    }
                    Some(key)
                }
                _ => None,
            };
            if let Some(key) = new_email_key {
                let mut index = txn.open_table(USERS_BY_EMAIL).map_err(storage_err)?;
                index
                    .remove(unique_key(&user.email).as_str())
                    .map_err(storage_err)?;
                index.insert(key.as_str(), id.0).map_err(storage_err)?;
            }
            if let Some(email) = changes.email {
                user.email = email;
            }
            if let Some(name) = changes.display_name {
                user.display_name = name;
            }
            if let Some(role) = changes.role {
                user.role = role;
            }
            if let Some(profile) = changes.profile {
                user.profile = profile;
            }
            if let Some(hash) = changes.password_hash {
                user.password_hash = hash;
            }
            if let Some(active) = changes.is_active {
                if !active {
                    super::sessions::revoke_all(txn, id.0, None)?;
                }
                user.is_active = active;
            }
            user.updated_at = time::now();
            put_json(
                &mut txn.open_table(USERS).map_err(storage_err)?,
                id.0,
                &user,
            )?;
            batch.record_change(
                ObjectKind::User,
                id.0,
                ChangeOp::Updated,
                VisibilityKeys::default(),
                &serde_json::Value::Null,
            )?;
            Ok(user)
        })
        .await
    }
}

//! Users in redb: the `users` table and its unique username and email indexes.

use async_trait::async_trait;
use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::audit::nanos;
use super::lists::{Pager, bump, counted, directed};
use super::tables::*;
use super::user_search::{self, Needle};
use super::{RedbStore, next_id, storage_err};
use crate::domain::UserId;
use crate::domain::change::{ChangeOp, ObjectKind, VisibilityKeys};
use crate::domain::time;
use crate::domain::user::{User, unique_key};
use crate::store::{NewUser, StoreError, UserChanges, UserFilter, UserOrder, UserStore};

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
    index_user_lists(txn, &user, true)?;
    user_search::reindex_user_text(txn, None, &user)?;
    batch.record_change(
        ObjectKind::User,
        id,
        ChangeOp::Created,
        VisibilityKeys::default(),
        &serde_json::Value::Null,
    )?;
    Ok(user)
}

// ---- the directory list ----
//
// Every user is in `USERS_BY_NAME` and `USERS_BY_CREATED` under four prefixes (all, its role,
// active or not, both) and counted per prefix in `USER_COUNTS`, in the row's transaction: a
// role or activity filter picks the prefix, its count is a counter, a page a range walk of
// `offset + limit` keys. `q` is a substring match, which no ordered index answers: its
// candidates come from the trigram index (`user_search.rs`); a `q` too short or too common for
// that walks `USERS_Q_BY_NAME` or `USERS_Q_BY_CREATED` (one small entry per user, never the
// rows) in the page's order to the end, as the count needs every match.

/// The META key that says every user is in the list indexes and counters.
const USERS_INDEXED: &str = "indexed.users";

/// The META key that says every user is in the trigram index.
const USERS_TEXT_INDEXED: &str = "indexed.users_text";

/// The prefixes a user is listed under.
fn prefixes(u: &User) -> [String; 4] {
    let (r, a) = (u.role.as_str(), u.is_active);
    [
        String::new(),
        format!("r:{r}"),
        format!("a:{a}"),
        format!("ra:{r}:{a}"),
    ]
}

/// The prefix that holds exactly the users of `filter`'s role and activity.
fn filter_prefix(filter: &UserFilter) -> String {
    match (filter.role, filter.is_active) {
        (None, None) => String::new(),
        (Some(r), None) => format!("r:{}", r.as_str()),
        (None, Some(a)) => format!("a:{a}"),
        (Some(r), Some(a)) => format!("ra:{}:{a}", r.as_str()),
    }
}

/// Adds (or removes) `u`'s list index entries and counts.
fn index_user_lists(txn: &WriteTransaction, u: &User, insert: bool) -> Result<(), StoreError> {
    let (id, ts) = (u.id.0, nanos(u.created_at));
    let name = u.username.to_lowercase();
    let keys = prefixes(u);
    {
        let mut by_name = txn.open_table(USERS_BY_NAME).map_err(storage_err)?;
        let mut by_created = txn.open_table(USERS_BY_CREATED).map_err(storage_err)?;
        for p in &keys {
            let p = p.as_str();
            if insert {
                by_name
                    .insert((p, name.as_str(), id), ())
                    .map_err(storage_err)?;
                by_created.insert((p, ts, id), ()).map_err(storage_err)?;
            } else {
                by_name
                    .remove((p, name.as_str(), id))
                    .map_err(storage_err)?;
                by_created.remove((p, ts, id)).map_err(storage_err)?;
            }
        }
    }
    {
        let (role, active) = (u.role.as_str(), u.is_active);
        let display = u.display_name.to_lowercase();
        let email = u.email.to_lowercase();
        let mut q_name = txn.open_table(USERS_Q_BY_NAME).map_err(storage_err)?;
        let mut q_created = txn.open_table(USERS_Q_BY_CREATED).map_err(storage_err)?;
        if insert {
            q_name
                .insert(
                    (name.as_str(), id),
                    (role, active, display.as_str(), email.as_str()),
                )
                .map_err(storage_err)?;
            q_created
                .insert(
                    (ts, id),
                    (
                        role,
                        active,
                        name.as_str(),
                        display.as_str(),
                        email.as_str(),
                    ),
                )
                .map_err(storage_err)?;
        } else {
            q_name.remove((name.as_str(), id)).map_err(storage_err)?;
            q_created.remove((ts, id)).map_err(storage_err)?;
        }
    }
    bump(txn, USER_COUNTS, &keys, insert)
}

/// Fills the list indexes and counters from the users written before they existed.
pub(super) fn backfill_users(txn: &WriteTransaction) -> Result<(), StoreError> {
    // Readers open these tables, so they must exist even before the first user.
    txn.open_table(USERS_BY_NAME).map_err(storage_err)?;
    txn.open_table(USERS_BY_CREATED).map_err(storage_err)?;
    txn.open_table(USERS_Q_BY_NAME).map_err(storage_err)?;
    txn.open_table(USERS_Q_BY_CREATED).map_err(storage_err)?;
    txn.open_table(USER_COUNTS).map_err(storage_err)?;
    txn.open_table(USERS_GRAMS).map_err(storage_err)?;
    txn.open_table(USER_GRAM_COUNTS).map_err(storage_err)?;
    txn.open_table(USERS_Q_BY_ID).map_err(storage_err)?;
    backfill_once(txn, USERS_INDEXED, USERS, |u: &User| {
        index_user_lists(txn, u, true)
    })?;
    // Apart, so a directory listed before the trigram index existed gains only that.
    backfill_once(txn, USERS_TEXT_INDEXED, USERS, |u: &User| {
        user_search::reindex_user_text(txn, None, u)
    })
}

/// The page and count of a `q` filter: from the trigram index, or else the whole walk of the
/// compact `q` index in order.
fn matching_ids(
    txn: &ReadTransaction,
    needle: &Needle,
    order: UserOrder,
    descending: bool,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<u64>), StoreError> {
    let users = counted(txn, USER_COUNTS, "")?;
    if let Some(candidates) = user_search::candidates(txn, needle, users)? {
        let by_name = order == UserOrder::Username;
        return user_search::page(txn, needle, candidates, by_name, descending, offset, limit);
    }
    let mut count = 0usize;
    let mut ids = Vec::with_capacity(limit.min(1024));
    let end = offset.saturating_add(limit);
    let mut take = |id: u64| {
        if count >= offset && count < end {
            ids.push(id);
        }
        count += 1;
    };
    match order {
        UserOrder::Username => {
            let t = txn.open_table(USERS_Q_BY_NAME).map_err(storage_err)?;
            for row in directed(t.iter().map_err(storage_err)?, descending) {
                let (key, value) = row.map_err(storage_err)?;
                let ((name, id), (role, active, display, email)) = (key.value(), value.value());
                if needle.matches(role, active, name, display, email) {
                    take(id);
                }
            }
        }
        UserOrder::CreatedAt => {
            let t = txn.open_table(USERS_Q_BY_CREATED).map_err(storage_err)?;
            for row in directed(t.iter().map_err(storage_err)?, descending) {
                let (key, value) = row.map_err(storage_err)?;
                let ((_, id), (role, active, name, display, email)) = (key.value(), value.value());
                if needle.matches(role, active, name, display, email) {
                    take(id);
                }
            }
        }
    }
    Ok((count, ids))
}

/// The ids of one page and the count of everything matching.
fn user_ids(
    txn: &ReadTransaction,
    filter: &UserFilter,
    order: UserOrder,
    descending: bool,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<u64>), StoreError> {
    let q = filter
        .q
        .as_deref()
        .map(str::to_lowercase)
        .filter(|q| !q.is_empty());
    if let Some(q) = q {
        let needle = Needle {
            q,
            email: filter.q_email,
            role: filter.role.map(|r| r.as_str()),
            active: filter.is_active,
        };
        return matching_ids(txn, &needle, order, descending, offset, limit);
    }
    let prefix = filter_prefix(filter);
    let p = prefix.as_str();
    let count = counted(txn, USER_COUNTS, p)?;
    // Past the end: nothing to walk.
    if offset >= count || limit == 0 {
        return Ok((count, Vec::new()));
    }
    let mut pager = Pager::new(count, offset, limit);
    match order {
        UserOrder::Username => {
            let t = txn.open_table(USERS_BY_NAME).map_err(storage_err)?;
            // Names have no greatest value: the prefix's keys end where the next prefix
            // (`p` and a zero byte, the least longer string) begins.
            let next = format!("{p}\0");
            let range = t
                .range((p, "", 0u64)..(next.as_str(), "", 0u64))
                .map_err(storage_err)?;
            for row in directed(range, descending) {
                if !pager.take(row.map_err(storage_err)?.0.value().2) {
                    break;
                }
            }
        }
        UserOrder::CreatedAt => {
            let t = txn.open_table(USERS_BY_CREATED).map_err(storage_err)?;
            let range = t
                .range((p, i64::MIN, 0u64)..=(p, i64::MAX, u64::MAX))
                .map_err(storage_err)?;
            for row in directed(range, descending) {
                if !pager.take(row.map_err(storage_err)?.0.value().2) {
                    break;
                }
            }
        }
    }
    Ok((count, pager.ids))
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

    async fn user_page(
        &self,
        filter: &UserFilter,
        order: UserOrder,
        descending: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<User>), StoreError> {
        let txn = self.read()?;
        let (count, ids) = user_ids(&txn, filter, order, descending, offset, limit)?;
        let table = txn.open_table(USERS).map_err(storage_err)?;
        let mut users = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(user) = get_json(&table, id)? {
                users.push(user);
            }
        }
        Ok((count, users))
    }

    async fn user_ids(&self, filter: &UserFilter) -> Result<Vec<UserId>, StoreError> {
        let txn = self.read()?;
        let (_, mut ids) = user_ids(&txn, filter, UserOrder::CreatedAt, false, 0, usize::MAX)?;
        ids.sort_unstable();
        Ok(ids.into_iter().map(UserId).collect())
    }

    async fn update_user(&self, id: UserId, changes: UserChanges) -> Result<User, StoreError> {
        self.write_clearing_auth(move |batch| {
            let txn = batch.txn();
            let mut user = load(txn, id.0)?.ok_or(StoreError::NotFound)?;
            let old = user.clone();
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
            index_user_lists(txn, &old, false)?;
            index_user_lists(txn, &user, true)?;
            user_search::reindex_user_text(txn, Some(&old), &user)?;
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

//! Sign-in sessions in redb, and the per-user index used to revoke them together.

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};

use super::tables::*;
use super::{RedbStore, next_id, storage_err};
use crate::domain::time::{self, Timestamp};
use crate::domain::user::User;
use crate::domain::{SessionId, UserId};
use crate::store::{RefreshOutcome, Session, SessionStore, StoreError};

/// Deletes one session and its index entry; `false` if it did not exist.
fn remove(txn: &WriteTransaction, id: u64) -> Result<bool, StoreError> {
    let mut sessions = txn.open_table(SESSIONS).map_err(storage_err)?;
    let session: Option<Session> = get_json(&sessions, id)?;
    let Some(session) = session else {
        return Ok(false);
    };
    sessions.remove(id).map_err(storage_err)?;
    txn.open_table(SESSIONS_BY_USER)
        .map_err(storage_err)?
        .remove((session.user_id.0, id))
        .map_err(storage_err)?;
    Ok(true)
}

/// Deletes every session of `user_id` except `keep`; returns how many.
pub(super) fn revoke_all(
    txn: &WriteTransaction,
    user_id: u64,
    keep: Option<u64>,
) -> Result<usize, StoreError> {
    let ids: Vec<u64> = {
        let index = txn.open_table(SESSIONS_BY_USER).map_err(storage_err)?;
        let mut ids = Vec::new();
        for row in index
            .range((user_id, 0)..=(user_id, u64::MAX))
            .map_err(storage_err)?
        {
            let (key, _) = row.map_err(storage_err)?;
            let (_, sid) = key.value();
            if Some(sid) != keep {
                ids.push(sid);
            }
        }
        ids
    };
    for sid in &ids {
        remove(txn, *sid)?;
    }
    Ok(ids.len())
}

#[async_trait]
impl SessionStore for RedbStore {
    async fn create_session(
        &self,
        user_id: UserId,
        expires_at: Timestamp,
    ) -> Result<Session, StoreError> {
        self.write(move |batch| {
            let txn = batch.txn();
            let id = next_id(txn, "session")?;
            let session = Session {
                id: SessionId(id),
                user_id,
                refresh_generation: 0,
                created_at: time::now(),
                expires_at,
            };
            put_json(
                &mut txn.open_table(SESSIONS).map_err(storage_err)?,
                id,
                &session,
            )?;
            txn.open_table(SESSIONS_BY_USER)
                .map_err(storage_err)?
                .insert((user_id.0, id), ())
                .map_err(storage_err)?;
            Ok(session)
        })
        .await
    }

    async fn session_with_user(
        &self,
        id: SessionId,
    ) -> Result<Option<(Session, User)>, StoreError> {
        if let Some(hit) = self.auth_cache.get(id.0) {
            return Ok(Some(hit));
        }
        let generation = self.auth_cache.generation();
        let txn = self.read()?;
        let sessions = txn.open_table(SESSIONS).map_err(storage_err)?;
        let session: Option<Session> = get_json(&sessions, id.0)?;
        let Some(session) = session else {
            return Ok(None);
        };
        let users = txn.open_table(USERS).map_err(storage_err)?;
        let user: Option<User> = get_json(&users, session.user_id.0)?;
        Ok(user.map(|u| {
            self.auth_cache
                .insert(generation, id.0, (session.clone(), u.clone()));
            (session, u)
        }))
    }

    async fn rotate_refresh(
        &self,
        id: SessionId,
        generation: u64,
        expires_at: Timestamp,
    ) -> Result<RefreshOutcome, StoreError> {
        self.write_clearing_auth(move |batch| {
            let txn = batch.txn();
            let mut sessions = txn.open_table(SESSIONS).map_err(storage_err)?;
            let session: Option<Session> = get_json(&sessions, id.0)?;
            let Some(mut session) = session else {
                return Ok(RefreshOutcome::Missing);
            };
            if generation != session.refresh_generation || session.expires_at <= time::now() {
                drop(sessions);
                remove(txn, id.0)?;
                return Ok(if generation < session.refresh_generation {
                    RefreshOutcome::Reused
                } else {
                    RefreshOutcome::Missing
                });
            }
            session.refresh_generation += 1;
            session.expires_at = expires_at;
            put_json(&mut sessions, id.0, &session)?;
            Ok(RefreshOutcome::Rotated(session))
        })
        .await
    }

    async fn extend_session(
        &self,
        id: SessionId,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.write_clearing_auth(move |batch| {
            let mut sessions = batch.txn().open_table(SESSIONS).map_err(storage_err)?;
            let session: Option<Session> = get_json(&sessions, id.0)?;
            match session {
                Some(mut session) if session.expires_at > time::now() => {
                    session.expires_at = expires_at;
                    put_json(&mut sessions, id.0, &session)?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
        .await
    }

    async fn revoke_session(&self, id: SessionId) -> Result<bool, StoreError> {
        self.write_clearing_auth(move |batch| remove(batch.txn(), id.0))
            .await
    }

    async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
    ) -> Result<usize, StoreError> {
        self.write_clearing_auth(move |batch| revoke_all(batch.txn(), user_id.0, keep.map(|k| k.0)))
            .await
    }
}

//! Updates and notifications in redb: rows, the per-recipient index, read marks.

use async_trait::async_trait;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::tables::*;
use super::{Batch, RedbStore, storage_err};
use crate::domain::change::{ChangeOp, ObjectKind};
use crate::domain::update::{Notification, NotificationView, Update};
use crate::domain::visibility::Visible;
use crate::domain::{NotificationId, UpdateId, UserId};
use crate::store::{Expect, StoreError, UpdateStore};

// ---- updates ----

pub(super) fn put_update(
    batch: &mut Batch<'_>,
    u: &Update,
    expect: Expect,
) -> Result<(), StoreError> {
    let txn = batch.txn();
    let mut rows = txn.open_table(UPDATES).map_err(storage_err)?;
    let exists = rows.get(u.id.0).map_err(storage_err)?.is_some();
    match (expect, exists) {
        (Expect::New, true) => return Err(StoreError::Conflict("update already exists".into())),
        (Expect::Exists | Expect::Version(_), false) => return Err(StoreError::NotFound),
        _ => {}
    }
    put_json(&mut rows, u.id.0, u)?;
    drop(rows);
    let op = if exists {
        ChangeOp::Updated
    } else {
        ChangeOp::Created
    };
    batch.record(u, op)?;
    Ok(())
}

pub(super) fn delete_update(batch: &mut Batch<'_>, id: UpdateId) -> Result<(), StoreError> {
    let txn = batch.txn();
    let old: Update = {
        let rows = txn.open_table(UPDATES).map_err(storage_err)?;
        get_json(&rows, id.0)?.ok_or(StoreError::NotFound)?
    };
    txn.open_table(UPDATES)
        .map_err(storage_err)?
        .remove(id.0)
        .map_err(storage_err)?;
    batch.record(&old, ChangeOp::Deleted)?;
    Ok(())
}

pub(super) fn get_update(
    txn: &ReadTransaction,
    id: UpdateId,
) -> Result<Option<Update>, StoreError> {
    get_json(&txn.open_table(UPDATES).map_err(storage_err)?, id.0)
}

pub(super) fn all_updates(txn: &ReadTransaction) -> Result<Vec<Update>, StoreError> {
    let rows = txn.open_table(UPDATES).map_err(storage_err)?;
    let mut out = Vec::new();
    for row in rows.iter().map_err(storage_err)? {
        out.push(decode(row.map_err(storage_err)?.1.value())?);
    }
    Ok(out)
}

// ---- notifications ----

pub(super) fn add_notification(batch: &mut Batch<'_>, n: &Notification) -> Result<(), StoreError> {
    let txn = batch.txn();
    put_json(
        &mut txn.open_table(NOTIFICATIONS).map_err(storage_err)?,
        n.id.0,
        n,
    )?;
    txn.open_table(NOTIFICATIONS_BY_USER)
        .map_err(storage_err)?
        .insert((n.recipient.0, n.id.0), ())
        .map_err(storage_err)?;
    // Clients are sent the notification's REST form, with the keys of the notification.
    batch.record_change(
        ObjectKind::Notification,
        n.id.0,
        ChangeOp::Created,
        n.visibility_keys(),
        &NotificationView::from(n.clone()),
    )?;
    Ok(())
}

pub(super) fn read_notification(
    txn: &WriteTransaction,
    user: UserId,
    id: NotificationId,
) -> Result<(), StoreError> {
    let mut rows = txn.open_table(NOTIFICATIONS).map_err(storage_err)?;
    let n: Option<Notification> = get_json(&rows, id.0)?;
    match n {
        Some(mut n) if n.recipient == user => {
            if !n.read {
                n.read = true;
                put_json(&mut rows, id.0, &n)?;
            }
            Ok(())
        }
        _ => Err(StoreError::NotFound),
    }
}

pub(super) fn read_all_notifications(
    txn: &WriteTransaction,
    user: UserId,
) -> Result<(), StoreError> {
    let ids = notification_ids(
        &txn.open_table(NOTIFICATIONS_BY_USER).map_err(storage_err)?,
        user,
    )?;
    let mut rows = txn.open_table(NOTIFICATIONS).map_err(storage_err)?;
    for id in ids {
        let n: Option<Notification> = get_json(&rows, id)?;
        if let Some(mut n) = n
            && !n.read
        {
            n.read = true;
            put_json(&mut rows, id, &n)?;
        }
    }
    Ok(())
}

fn notification_ids(
    index: &impl ReadableTable<(u64, u64), ()>,
    user: UserId,
) -> Result<Vec<u64>, StoreError> {
    let mut ids = Vec::new();
    for row in index
        .range((user.0, 0)..=(user.0, u64::MAX))
        .map_err(storage_err)?
    {
        ids.push(row.map_err(storage_err)?.0.value().1);
    }
    Ok(ids)
}

pub(super) fn notifications_of(
    txn: &ReadTransaction,
    user: UserId,
) -> Result<Vec<Notification>, StoreError> {
    let ids = notification_ids(
        &txn.open_table(NOTIFICATIONS_BY_USER).map_err(storage_err)?,
        user,
    )?;
    let rows = txn.open_table(NOTIFICATIONS).map_err(storage_err)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids.into_iter().rev() {
        if let Some(n) = get_json(&rows, id)? {
            out.push(n);
        }
    }
    Ok(out)
}

// ---- chat ----

#[async_trait]
impl UpdateStore for RedbStore {
    async fn update(&self, id: UpdateId) -> Result<Option<Update>, StoreError> {
        get_update(&self.read()?, id)
    }

    async fn updates(&self) -> Result<Vec<Update>, StoreError> {
        all_updates(&self.read()?)
    }

    async fn notifications(&self, user: UserId) -> Result<Vec<Notification>, StoreError> {
        notifications_of(&self.read()?, user)
    }
}

//! Updates, notifications, chat and audit entries in redb.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::tables::*;
use super::{Batch, storage_err};
use crate::domain::audit::AuditEntry;
use crate::domain::change::{ChangeOp, ObjectKind};
use crate::domain::chat::{Conversation, Message};
use crate::domain::update::{Notification, NotificationView, Update};
use crate::domain::visibility::Visible;
use crate::domain::{MessageId, NotificationId, ProjectId, UpdateId, UserId};
use crate::store::{ConversationSummary, Expect, StoreError};

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

/// The index key of a conversation: a direct one is (lower user id, higher user id), a
/// project room (0, project id); user ids start at 1, so the two never meet.
pub fn conversation_key(m: &Message) -> (u64, u64) {
    match (m.receiver_id, m.project_id) {
        (Some(r), _) => direct_key(m.sender_id, r),
        (None, Some(p)) => (0, p.0),
        (None, None) => (0, 0),
    }
}

fn direct_key(a: UserId, b: UserId) -> (u64, u64) {
    (a.0.min(b.0), a.0.max(b.0))
}

fn key_of(user: UserId, c: Conversation) -> (u64, u64) {
    match c {
        Conversation::Direct(peer) => direct_key(user, peer),
        Conversation::Project(p) => (0, p.0),
    }
}

pub(super) fn add_message(batch: &mut Batch<'_>, m: &Message) -> Result<(), StoreError> {
    let txn = batch.txn();
    put_json(
        &mut txn.open_table(MESSAGES).map_err(storage_err)?,
        m.id.0,
        m,
    )?;
    let (hi, lo) = conversation_key(m);
    txn.open_table(MESSAGES_BY_CONVERSATION)
        .map_err(storage_err)?
        .insert((hi, lo, m.id.0), ())
        .map_err(storage_err)?;
    if let Some(r) = m.receiver_id {
        let mut peers = txn.open_table(CHAT_PEERS).map_err(storage_err)?;
        peers
            .insert((m.sender_id.0, r.0), ())
            .map_err(storage_err)?;
        peers
            .insert((r.0, m.sender_id.0), ())
            .map_err(storage_err)?;
    }
    // The sender has read their own conversation up to here.
    txn.open_table(CHAT_READ)
        .map_err(storage_err)?
        .insert((m.sender_id.0, hi, lo), m.id.0)
        .map_err(storage_err)?;
    batch.record(m, ChangeOp::Created)?;
    Ok(())
}

pub(super) fn delete_message(batch: &mut Batch<'_>, id: MessageId) -> Result<(), StoreError> {
    let txn = batch.txn();
    let m: Message = get_json(&txn.open_table(MESSAGES).map_err(storage_err)?, id.0)?
        .ok_or(StoreError::NotFound)?;
    txn.open_table(MESSAGES)
        .map_err(storage_err)?
        .remove(id.0)
        .map_err(storage_err)?;
    let (hi, lo) = conversation_key(&m);
    txn.open_table(MESSAGES_BY_CONVERSATION)
        .map_err(storage_err)?
        .remove((hi, lo, id.0))
        .map_err(storage_err)?;
    batch.record(&m, ChangeOp::Deleted)?;
    Ok(())
}

pub(super) fn read_conversation(
    txn: &WriteTransaction,
    user: UserId,
    c: Conversation,
    up_to: MessageId,
) -> Result<(), StoreError> {
    let (hi, lo) = key_of(user, c);
    let mut marks = txn.open_table(CHAT_READ).map_err(storage_err)?;
    let current = marks
        .get((user.0, hi, lo))
        .map_err(storage_err)?
        .map(|g| g.value())
        .unwrap_or(0);
    if up_to.0 > current {
        marks
            .insert((user.0, hi, lo), up_to.0)
            .map_err(storage_err)?;
    }
    Ok(())
}

pub(super) fn get_message(
    txn: &ReadTransaction,
    id: MessageId,
) -> Result<Option<Message>, StoreError> {
    get_json(&txn.open_table(MESSAGES).map_err(storage_err)?, id.0)
}

pub(super) fn messages_of(
    txn: &ReadTransaction,
    user: UserId,
    c: Conversation,
    before: Option<MessageId>,
) -> Result<Vec<Message>, StoreError> {
    let (hi, lo) = key_of(user, c);
    let end = before.map_or(u64::MAX, |b| b.0.saturating_sub(1));
    let index = txn
        .open_table(MESSAGES_BY_CONVERSATION)
        .map_err(storage_err)?;
    let rows = txn.open_table(MESSAGES).map_err(storage_err)?;
    let mut out = Vec::new();
    if before.is_some_and(|b| b.0 == 0) {
        return Ok(out);
    }
    for row in index
        .range((hi, lo, 0)..=(hi, lo, end))
        .map_err(storage_err)?
        .rev()
    {
        let id = row.map_err(storage_err)?.0.value().2;
        if let Some(m) = get_json(&rows, id)? {
            out.push(m);
        }
    }
    Ok(out)
}

fn summary(
    txn: &ReadTransaction,
    user: UserId,
    c: Conversation,
) -> Result<Option<ConversationSummary>, StoreError> {
    let (hi, lo) = key_of(user, c);
    let index = txn
        .open_table(MESSAGES_BY_CONVERSATION)
        .map_err(storage_err)?;
    let rows = txn.open_table(MESSAGES).map_err(storage_err)?;
    let read_up_to = txn
        .open_table(CHAT_READ)
        .map_err(storage_err)?
        .get((user.0, hi, lo))
        .map_err(storage_err)?
        .map(|g| g.value())
        .unwrap_or(0);
    let mut last: Option<Message> = None;
    let mut unread = 0;
    for row in index
        .range((hi, lo, 0)..=(hi, lo, u64::MAX))
        .map_err(storage_err)?
        .rev()
    {
        let id = row.map_err(storage_err)?.0.value().2;
        if last.is_some() && id <= read_up_to {
            break;
        }
        let Some(m) = get_json::<u64, Message, _>(&rows, id)? else {
            continue;
        };
        if id > read_up_to && m.sender_id != user {
            unread += 1;
        }
        if last.is_none() {
            last = Some(m);
        }
    }
    Ok(last.map(|last_message| ConversationSummary {
        conversation: c,
        last_message,
        unread,
    }))
}

pub(super) fn conversations_of(
    txn: &ReadTransaction,
    user: UserId,
    rooms: &[ProjectId],
) -> Result<Vec<ConversationSummary>, StoreError> {
    let mut peers = Vec::new();
    {
        let t = txn.open_table(CHAT_PEERS).map_err(storage_err)?;
        for row in t
            .range((user.0, 0)..=(user.0, u64::MAX))
            .map_err(storage_err)?
        {
            peers.push(UserId(row.map_err(storage_err)?.0.value().1));
        }
    }
    let mut out = Vec::new();
    for c in peers
        .into_iter()
        .map(Conversation::Direct)
        .chain(rooms.iter().copied().map(Conversation::Project))
    {
        if let Some(s) = summary(txn, user, c)? {
            out.push(s);
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.last_message.id));
    Ok(out)
}

// ---- audit ----

pub(super) fn add_audit(txn: &WriteTransaction, e: &AuditEntry) -> Result<(), StoreError> {
    put_json(&mut txn.open_table(AUDIT).map_err(storage_err)?, e.id.0, e)
}

pub(super) fn audit_entries(txn: &ReadTransaction) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = txn.open_table(AUDIT).map_err(storage_err)?;
    let mut out = Vec::new();
    for row in rows.iter().map_err(storage_err)?.rev() {
        out.push(decode(row.map_err(storage_err)?.1.value())?);
    }
    Ok(out)
}

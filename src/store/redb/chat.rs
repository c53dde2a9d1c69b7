//! Chat in redb: messages, the per-conversation index, peers and read markers.

use async_trait::async_trait;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::tables::*;
use super::{Batch, RedbStore, storage_err};
use crate::domain::change::ChangeOp;
use crate::domain::chat::{Conversation, Message};
use crate::domain::{MessageId, ProjectId, UserId};
use crate::store::{ChatStore, ConversationSummary, StoreError};

// ---- updates ----

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

#[async_trait]
impl ChatStore for RedbStore {
    async fn message(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        get_message(&self.read()?, id)
    }

    async fn messages(
        &self,
        user: UserId,
        conversation: Conversation,
        before: Option<MessageId>,
    ) -> Result<Vec<Message>, StoreError> {
        messages_of(&self.read()?, user, conversation, before)
    }

    async fn conversations(
        &self,
        user: UserId,
        rooms: &[ProjectId],
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        conversations_of(&self.read()?, user, rooms)
    }
}

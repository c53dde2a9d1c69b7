//! Chat in redb: messages, the per-conversation index, peers and read markers.

use async_trait::async_trait;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::tables::*;
use super::{Batch, RedbStore, storage_err};
use crate::domain::change::ChangeOp;
use crate::domain::chat::{Conversation, Message};
use crate::domain::{MessageId, ProjectId, UserId};
use crate::store::{ChatStore, ConversationSummary, MessagePage, Rooms, StoreError};

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

/// A conversation's messages counted by the units of `CHAT_RANK`: `who` 0 for everyone's,
/// a sender's id for theirs. Counting below an id, or finding the n-th id below one, reads at
/// most 256 rows per level instead of every message in between.
struct Rank {
    hi: u64,
    lo: u64,
    who: u64,
}

/// Bits of the id each level drops: level `l` counts the ids sharing `id >> SHIFTS[l]`.
const SHIFTS: [u32; 5] = [0, 8, 16, 24, 32];
const TOP: usize = SHIFTS.len() - 1;

type RankKey = (u64, u64, u64, u8, u64);

impl Rank {
    fn key(&self, level: usize, unit: u64) -> RankKey {
        // SHIFTS has five levels, so `level` always fits a u8.
        (self.hi, self.lo, self.who, level as u8, unit)
    }

    /// The units of `level` in `first..=last`, highest first.
    fn units<'t, T: ReadableTable<RankKey, u64>>(
        &self,
        t: &'t T,
        level: usize,
        first: u64,
        last: u64,
    ) -> Result<impl Iterator<Item = Result<(u64, u64), StoreError>> + 't, StoreError> {
        let range = if first <= last {
            Some(
                t.range(self.key(level, first)..=self.key(level, last))
                    .map_err(storage_err)?,
            )
        } else {
            None
        };
        Ok(range.into_iter().flat_map(|range| {
            range.rev().map(|row| {
                let (k, v) = row.map_err(storage_err)?;
                Ok((k.value().4, v.value()))
            })
        }))
    }

    /// Counts `id` in (`add`) or out at every level; a second add or remove of the same id
    /// changes nothing, so a backfill may run over rows already counted.
    fn change(
        &self,
        t: &mut redb::Table<'_, RankKey, u64>,
        id: u64,
        add: bool,
    ) -> Result<(), StoreError> {
        let present = t.get(self.key(0, id)).map_err(storage_err)?.is_some();
        if present == add {
            return Ok(());
        }
        for (level, shift) in SHIFTS.iter().enumerate() {
            let key = self.key(level, id >> shift);
            let n = t
                .get(key)
                .map_err(storage_err)?
                .map(|g| g.value())
                .unwrap_or(0);
            let n = if add { n + 1 } else { n.saturating_sub(1) };
            if n == 0 {
                t.remove(key).map_err(storage_err)?;
            } else {
                t.insert(key, n).map_err(storage_err)?;
            }
        }
        Ok(())
    }

    /// How many ids lie below `bound`.
    fn below<T: ReadableTable<RankKey, u64>>(&self, t: &T, bound: u64) -> Result<u64, StoreError> {
        let mut n = 0;
        // Every level sums the units between `cur` and the next level's unit boundary below
        // it, then moves `cur` down to that boundary.
        let mut cur = bound;
        for level in 0..=TOP {
            let shift = SHIFTS[level];
            let first = if level == TOP {
                0
            } else {
                (cur >> SHIFTS[level + 1]) << (SHIFTS[level + 1] - shift)
            };
            if let Some(last) = (cur >> shift).checked_sub(1) {
                for unit in self.units(t, level, first, last)? {
                    n += unit?.1;
                }
            }
            cur = first << shift;
        }
        Ok(n)
    }

    /// Every id counted.
    fn total<T: ReadableTable<RankKey, u64>>(&self, t: &T) -> Result<u64, StoreError> {
        let mut n = 0;
        for unit in self.units(t, TOP, 0, u64::MAX)? {
            n += unit?.1;
        }
        Ok(n)
    }

    /// The id `skip` places below the highest id under `bound` (`skip` 0: that highest id).
    fn nth_below<T: ReadableTable<RankKey, u64>>(
        &self,
        t: &T,
        bound: u64,
        mut skip: u64,
    ) -> Result<Option<u64>, StoreError> {
        let mut cur = bound;
        for level in 0..=TOP {
            let shift = SHIFTS[level];
            let first = if level == TOP {
                0
            } else {
                (cur >> SHIFTS[level + 1]) << (SHIFTS[level + 1] - shift)
            };
            if let Some(last) = (cur >> shift).checked_sub(1) {
                for unit in self.units(t, level, first, last)? {
                    let (unit, n) = unit?;
                    if n > skip {
                        return self.descend(t, level, unit, skip).map(Some);
                    }
                    skip -= n;
                }
            }
            cur = first << shift;
        }
        Ok(None)
    }

    /// The id `skip` places below the highest inside `unit` of `level`, which holds more than
    /// `skip` ids.
    fn descend<T: ReadableTable<RankKey, u64>>(
        &self,
        t: &T,
        mut level: usize,
        mut unit: u64,
        mut skip: u64,
    ) -> Result<u64, StoreError> {
        'levels: while level > 0 {
            let span = SHIFTS[level] - SHIFTS[level - 1];
            let first = unit << span;
            let last = first | ((1u64 << span) - 1);
            level -= 1;
            for sub in self.units(t, level, first, last)? {
                let (sub, n) = sub?;
                if n > skip {
                    unit = sub;
                    continue 'levels;
                }
                skip -= n;
            }
            return Err(StoreError::Corrupt(
                "chat_rank: a unit counts more messages than it holds".into(),
            ));
        }
        Ok(unit)
    }
}

fn rank_of(hi: u64, lo: u64, who: u64) -> Rank {
    Rank { hi, lo, who }
}

/// Counts `m` in or out of its conversation's ranks: everyone's and its sender's.
fn rank_message(
    t: &mut redb::Table<'_, RankKey, u64>,
    m: &Message,
    add: bool,
) -> Result<(), StoreError> {
    let (hi, lo) = conversation_key(m);
    rank_of(hi, lo, 0).change(t, m.id.0, add)?;
    rank_of(hi, lo, m.sender_id.0).change(t, m.id.0, add)
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
    rank_message(
        &mut txn.open_table(CHAT_RANK).map_err(storage_err)?,
        m,
        true,
    )?;
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
    rank_message(
        &mut txn.open_table(CHAT_RANK).map_err(storage_err)?,
        &m,
        false,
    )?;
    batch.record(&m, ChangeOp::Deleted)?;
    Ok(())
}

/// Counts the messages written before `CHAT_RANK` existed; once per database (META
/// `indexed.chat_rank`), and a no-op for messages already counted.
pub(super) fn backfill_chat(txn: &WriteTransaction) -> Result<(), StoreError> {
    let mut rank = txn.open_table(CHAT_RANK).map_err(storage_err)?;
    backfill_once(txn, "indexed.chat_rank", MESSAGES, |m: &Message| {
        rank_message(&mut rank, m, true)
    })
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

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

pub(super) fn messages_of(
    txn: &ReadTransaction,
    user: UserId,
    c: Conversation,
    before: Option<MessageId>,
    offset: usize,
    limit: usize,
) -> Result<MessagePage, StoreError> {
    let (hi, lo) = key_of(user, c);
    let bound = before.map_or(u64::MAX, |b| b.0);
    let rank_table = txn.open_table(CHAT_RANK).map_err(storage_err)?;
    let rank = rank_of(hi, lo, 0);
    let count = to_usize(rank.below(&rank_table, bound)?);
    let mut page = MessagePage {
        count,
        messages: Vec::new(),
    };
    if offset >= count || limit == 0 {
        return Ok(page);
    }
    let Some(first) = rank.nth_below(&rank_table, bound, offset as u64)? else {
        return Ok(page);
    };
    let index = txn
        .open_table(MESSAGES_BY_CONVERSATION)
        .map_err(storage_err)?;
    let rows = txn.open_table(MESSAGES).map_err(storage_err)?;
    for row in index
        .range((hi, lo, 0)..=(hi, lo, first))
        .map_err(storage_err)?
        .rev()
        .take(limit)
    {
        let id = row.map_err(storage_err)?.0.value().2;
        if let Some(m) = get_json(&rows, id)? {
            page.messages.push(m);
        }
    }
    Ok(page)
}

fn summary(
    txn: &ReadTransaction,
    user: UserId,
    c: Conversation,
) -> Result<Option<ConversationSummary>, StoreError> {
    let (hi, lo) = key_of(user, c);
    let newest = txn
        .open_table(MESSAGES_BY_CONVERSATION)
        .map_err(storage_err)?
        .range((hi, lo, 0)..=(hi, lo, u64::MAX))
        .map_err(storage_err)?
        .next_back()
        .transpose()
        .map_err(storage_err)?
        .map(|(k, _)| k.value().2);
    let Some(newest) = newest else {
        return Ok(None);
    };
    let Some(last_message) = get_message(txn, MessageId(newest))? else {
        return Ok(None);
    };
    let read_up_to = txn
        .open_table(CHAT_READ)
        .map_err(storage_err)?
        .get((user.0, hi, lo))
        .map_err(storage_err)?
        .map(|g| g.value())
        .unwrap_or(0);
    let rank_table = txn.open_table(CHAT_RANK).map_err(storage_err)?;
    let after_mark = |who: u64| -> Result<u64, StoreError> {
        let rank = rank_of(hi, lo, who);
        let upto = match read_up_to.checked_add(1) {
            Some(bound) => rank.below(&rank_table, bound)?,
            None => rank.total(&rank_table)?,
        };
        Ok(rank.total(&rank_table)?.saturating_sub(upto))
    };
    let unread = after_mark(0)?.saturating_sub(after_mark(user.0)?);
    Ok(Some(ConversationSummary {
        conversation: c,
        last_message,
        unread: to_usize(unread),
    }))
}

/// The ids of every existing project whose room has messages, one seek per room.
fn rooms_with_messages(txn: &ReadTransaction) -> Result<Vec<ProjectId>, StoreError> {
    let index = txn
        .open_table(MESSAGES_BY_CONVERSATION)
        .map_err(storage_err)?;
    let projects = txn.open_table(PROJECTS).map_err(storage_err)?;
    let mut out = Vec::new();
    // Room keys are (0, project id); (0, 0) holds only malformed messages.
    let mut next = 1u64;
    loop {
        let found = index
            .range((0, next, 0)..=(0, u64::MAX, u64::MAX))
            .map_err(storage_err)?
            .next()
            .transpose()
            .map_err(storage_err)?
            .map(|(k, _)| k.value().1);
        let Some(project) = found else { break };
        if projects.get(project).map_err(storage_err)?.is_some() {
            out.push(ProjectId(project));
        }
        match project.checked_add(1) {
            Some(n) => next = n,
            None => break,
        }
    }
    Ok(out)
}

pub(super) fn conversations_of(
    txn: &ReadTransaction,
    user: UserId,
    rooms: Rooms<'_>,
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
    let all_rooms;
    let rooms = match rooms {
        Rooms::All => {
            all_rooms = rooms_with_messages(txn)?;
            &all_rooms[..]
        }
        Rooms::These(ids) => ids,
    };
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
        offset: usize,
        limit: usize,
    ) -> Result<MessagePage, StoreError> {
        messages_of(&self.read()?, user, conversation, before, offset, limit)
    }

    async fn conversations(
        &self,
        user: UserId,
        rooms: Rooms<'_>,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        conversations_of(&self.read()?, user, rooms)
    }
}

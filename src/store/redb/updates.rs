//! Updates and notifications in redb: rows, the per-recipient index, read marks.

use async_trait::async_trait;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::audit::nanos;
use super::lists::{Pager, bump_days, counted_days, day_end, day_of, directed};
use super::tables::*;
use super::{Batch, RedbStore, storage_err};
use crate::domain::change::{ChangeOp, ObjectKind, VisibilityKeys};
use crate::domain::time::Timestamp;
use crate::domain::update::{Notification, NotificationView, Update, UpdateAck};
use crate::domain::visibility::Visible;
use crate::domain::{NotificationId, UpdateId, UserId};
use crate::store::{Expect, StoreError, UpdateFilter, UpdateOrder, UpdateStore};

// ---- updates ----

pub(super) fn put_update(
    batch: &mut Batch<'_>,
    u: &Update,
    expect: Expect,
) -> Result<(), StoreError> {
    // The caller's acknowledgement is filled in per answer, never stored.
    let u = &Update {
        acknowledged_at: None,
        ..u.clone()
    };
    let txn = batch.txn();
    let mut rows = txn.open_table(UPDATES).map_err(storage_err)?;
    let old: Option<Update> = get_json(&rows, u.id.0)?;
    let exists = old.is_some();
    expect.check_presence(exists, "update")?;
    put_json(&mut rows, u.id.0, u)?;
    drop(rows);
    if let Some(old) = &old {
        index_update(txn, old, false)?;
    }
    index_update(txn, u, true)?;
    let op = if exists {
        ChangeOp::Updated
    } else {
        ChangeOp::Created
    };
    batch.record(u, op)?;
    let required = old.as_ref().is_some_and(|o| o.requires_ack);
    if u.requires_ack && !required {
        start_requiring_ack(batch, u)?;
    } else if required && !u.requires_ack {
        stop_requiring_ack(txn, u.id)?;
    }
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
    index_update(txn, &old, false)?;
    batch.record(&old, ChangeOp::Deleted)?;
    if old.requires_ack {
        stop_requiring_ack(txn, id)?;
    }
    let ackers = ackers(txn, id.0)?;
    let mut acks = txn.open_table(UPDATE_ACKS).map_err(storage_err)?;
    for user in ackers {
        acks.remove((id.0, user)).map_err(storage_err)?;
    }
    drop(acks);
    txn.open_table(UPDATE_ACK_REMINDERS)
        .map_err(storage_err)?
        .remove(id.0)
        .map_err(storage_err)?;
    Ok(())
}

// ---- acknowledgements ----
//
// `UPDATE_ACKS` keeps every acknowledgement while its update exists; `UPDATE_ACK_COUNTS`
// counts, per user, those on updates that require acknowledgement now, so it moves when an
// update starts or stops requiring it. The reminder of an update is due from when it began
// requiring acknowledgement until it is sent; once sent it stays sent.

/// Unix seconds of a time; the API's times are whole seconds.
fn secs(t: Timestamp) -> i64 {
    t.unix_timestamp()
}

fn from_secs(s: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_unix_timestamp(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The users who acknowledged update `id`, ascending.
fn ackers(txn: &WriteTransaction, id: u64) -> Result<Vec<u64>, StoreError> {
    let acks = txn.open_table(UPDATE_ACKS).map_err(storage_err)?;
    let mut users = Vec::new();
    for row in acks
        .range((id, 0u64)..=(id, u64::MAX))
        .map_err(storage_err)?
    {
        users.push(row.map_err(storage_err)?.0.value().1);
    }
    Ok(users)
}

/// Counts one acknowledgement more (or less) for `user`.
fn bump_acked(txn: &WriteTransaction, user: u64, up: bool) -> Result<(), StoreError> {
    let mut counts = txn.open_table(UPDATE_ACK_COUNTS).map_err(storage_err)?;
    let old = counts
        .get(user)
        .map_err(storage_err)?
        .map_or(0, |g| g.value());
    let new = if up {
        old.saturating_add(1)
    } else {
        old.saturating_sub(1)
    };
    if new == 0 {
        counts.remove(user).map_err(storage_err)?;
    } else {
        counts.insert(user, new).map_err(storage_err)?;
    }
    Ok(())
}

/// `u` began requiring acknowledgement: the acknowledgements it kept count again, its author's
/// is recorded, and its reminder falls due (unless it was sent before).
fn start_requiring_ack(batch: &mut Batch<'_>, u: &Update) -> Result<(), StoreError> {
    let txn = batch.txn();
    let kept = ackers(txn, u.id.0)?;
    for user in &kept {
        bump_acked(txn, *user, true)?;
    }
    if !kept.contains(&u.created_by.0) {
        add_ack(batch, u, u.created_by, u.updated_at)?;
    }
    let txn = batch.txn();
    let mut reminders = txn.open_table(UPDATE_ACK_REMINDERS).map_err(storage_err)?;
    if reminders.get(u.id.0).map_err(storage_err)?.is_none() {
        let since = secs(u.updated_at);
        reminders
            .insert(u.id.0, (since, false))
            .map_err(storage_err)?;
        txn.open_table(UPDATE_ACK_REMINDERS_DUE)
            .map_err(storage_err)?
            .insert((since, u.id.0), ())
            .map_err(storage_err)?;
    }
    Ok(())
}

/// Update `id` stopped requiring acknowledgement (or is deleted): its acknowledgements no longer
/// count, and a reminder not yet sent is no longer due.
fn stop_requiring_ack(txn: &WriteTransaction, id: UpdateId) -> Result<(), StoreError> {
    for user in ackers(txn, id.0)? {
        bump_acked(txn, user, false)?;
    }
    let mut reminders = txn.open_table(UPDATE_ACK_REMINDERS).map_err(storage_err)?;
    let state = reminders.get(id.0).map_err(storage_err)?.map(|g| g.value());
    if let Some((since, false)) = state {
        reminders.remove(id.0).map_err(storage_err)?;
        txn.open_table(UPDATE_ACK_REMINDERS_DUE)
            .map_err(storage_err)?
            .remove((since, id.0))
            .map_err(storage_err)?;
    }
    Ok(())
}

/// Records `user`'s acknowledgement of `u` (which requires it) at `at`, unless there is one.
fn add_ack(
    batch: &mut Batch<'_>,
    u: &Update,
    user: UserId,
    at: Timestamp,
) -> Result<(), StoreError> {
    let txn = batch.txn();
    {
        let mut acks = txn.open_table(UPDATE_ACKS).map_err(storage_err)?;
        if acks.get((u.id.0, user.0)).map_err(storage_err)?.is_some() {
            return Ok(());
        }
        acks.insert((u.id.0, user.0), secs(at))
            .map_err(storage_err)?;
    }
    bump_acked(txn, user.0, true)?;
    let ack = UpdateAck {
        update_id: u.id,
        user_id: user,
        at,
    };
    // The author, staff and admin may see who acknowledged, and so may the one who did.
    let keys = VisibilityKeys {
        creator: Some(u.created_by.0),
        parties: vec![user.0],
        ..VisibilityKeys::default()
    };
    batch.record_change(ObjectKind::UpdateAck, u.id.0, ChangeOp::Created, keys, &ack)?;
    Ok(())
}

/// Checks `Write::AckUpdate`: the update exists and requires acknowledgement.
pub(super) fn check_ack(txn: &WriteTransaction, id: UpdateId) -> Result<(), StoreError> {
    let rows = txn.open_table(UPDATES).map_err(storage_err)?;
    let u: Update = get_json(&rows, id.0)?.ok_or(StoreError::NotFound)?;
    if u.requires_ack {
        Ok(())
    } else {
        Err(StoreError::Conflict(
            "this update does not require acknowledgement".into(),
        ))
    }
}

pub(super) fn ack_update(
    batch: &mut Batch<'_>,
    id: UpdateId,
    user: UserId,
    at: Timestamp,
) -> Result<(), StoreError> {
    let u: Update = {
        let rows = batch.txn().open_table(UPDATES).map_err(storage_err)?;
        get_json(&rows, id.0)?.ok_or(StoreError::NotFound)?
    };
    add_ack(batch, &u, user, at)
}

/// Checks `Write::AckReminderSent`: the reminder is still due.
pub(super) fn check_reminder(txn: &WriteTransaction, id: UpdateId) -> Result<(), StoreError> {
    let reminders = txn.open_table(UPDATE_ACK_REMINDERS).map_err(storage_err)?;
    match reminders.get(id.0).map_err(storage_err)?.map(|g| g.value()) {
        Some((_, false)) => Ok(()),
        _ => Err(StoreError::Conflict(
            "this update's reminder is not due".into(),
        )),
    }
}

pub(super) fn reminder_sent(txn: &WriteTransaction, id: UpdateId) -> Result<(), StoreError> {
    let mut reminders = txn.open_table(UPDATE_ACK_REMINDERS).map_err(storage_err)?;
    let state = reminders.get(id.0).map_err(storage_err)?.map(|g| g.value());
    if let Some((since, false)) = state {
        reminders.insert(id.0, (since, true)).map_err(storage_err)?;
        txn.open_table(UPDATE_ACK_REMINDERS_DUE)
            .map_err(storage_err)?
            .remove((since, id.0))
            .map_err(storage_err)?;
    }
    Ok(())
}

fn update_acks(
    txn: &ReadTransaction,
    id: UpdateId,
) -> Result<Vec<(UserId, Timestamp)>, StoreError> {
    let acks = txn.open_table(UPDATE_ACKS).map_err(storage_err)?;
    let mut out = Vec::new();
    for row in acks
        .range((id.0, 0u64)..=(id.0, u64::MAX))
        .map_err(storage_err)?
    {
        let (key, at) = row.map_err(storage_err)?;
        out.push((UserId(key.value().1), from_secs(at.value())?));
    }
    Ok(out)
}

fn acked_at(
    txn: &ReadTransaction,
    user: UserId,
    updates: &[UpdateId],
) -> Result<Vec<Option<Timestamp>>, StoreError> {
    let acks = txn.open_table(UPDATE_ACKS).map_err(storage_err)?;
    let mut out = Vec::with_capacity(updates.len());
    for id in updates {
        let at = acks.get((id.0, user.0)).map_err(storage_err)?;
        out.push(at.map(|g| from_secs(g.value())).transpose()?);
    }
    Ok(out)
}

/// The `ack` prefix's walk, newest first, skipping what `user` acknowledged: it reads at most
/// the page's end plus the user's acknowledgements, never the other updates.
fn pending_ack_page(
    txn: &ReadTransaction,
    user: UserId,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<Update>), StoreError> {
    let required = counted_days(txn, UPDATE_COUNTS, ACK_PREFIX, None)?;
    let acked = txn
        .open_table(UPDATE_ACK_COUNTS)
        .map_err(storage_err)?
        .get(user.0)
        .map_err(storage_err)?
        .map_or(0, |g| g.value());
    let count = usize::try_from(required.saturating_sub(acked)).unwrap_or(usize::MAX);
    if offset >= count || limit == 0 {
        return Ok((count, Vec::new()));
    }
    let mut pager = Pager::new(count, offset, limit);
    let acks = txn.open_table(UPDATE_ACKS).map_err(storage_err)?;
    let by_created = txn.open_table(UPDATES_BY_CREATED).map_err(storage_err)?;
    for row in by_created
        .range((ACK_PREFIX, i64::MIN, 0u64)..=(ACK_PREFIX, i64::MAX, u64::MAX))
        .map_err(storage_err)?
        .rev()
    {
        let id = row.map_err(storage_err)?.0.value().2;
        if acks.get((id, user.0)).map_err(storage_err)?.is_some() {
            continue;
        }
        if !pager.take(id) {
            break;
        }
    }
    let rows = txn.open_table(UPDATES).map_err(storage_err)?;
    let mut out = Vec::with_capacity(pager.ids.len());
    for id in pager.ids {
        if let Some(u) = get_json(&rows, id)? {
            out.push(u);
        }
    }
    Ok((count, out))
}

fn ack_reminders_due(
    txn: &ReadTransaction,
    required_since: Timestamp,
    max: usize,
) -> Result<Vec<UpdateId>, StoreError> {
    let due = txn
        .open_table(UPDATE_ACK_REMINDERS_DUE)
        .map_err(storage_err)?;
    let mut out = Vec::new();
    for row in due
        .range(..=(secs(required_since), u64::MAX))
        .map_err(storage_err)?
        .take(max)
    {
        out.push(UpdateId(row.map_err(storage_err)?.0.value().1));
    }
    Ok(out)
}

pub(super) fn get_update(
    txn: &ReadTransaction,
    id: UpdateId,
) -> Result<Option<Update>, StoreError> {
    get_json(&txn.open_table(UPDATES).map_err(storage_err)?, id.0)
}

// ---- the update list ----
//
// Every update is in `UPDATES_BY_CREATED` and `UPDATES_BY_PRIORITY` under four prefixes (all,
// its type, its priority, both) and counted per prefix and UTC day in `UPDATE_COUNTS`, all in
// the row's transaction. Type and priority filters pick the prefix, so without `since` a count
// is one counter and a page one range walk of `offset + limit` keys. `since` is a range bound
// of the created-at order; its count adds the day counters after `since`'s day to a walk of
// that one day's keys, and under the priority order the page walk skips keys older than
// `since` (bounded by the matches the count promises, not by the page).

/// The META key that says every update is in the list indexes and counters.
const UPDATES_INDEXED: &str = "indexed.updates";

/// The prefix of the updates that require acknowledgement (no filter of the list picks it).
const ACK_PREFIX: &str = "ack";

/// The prefixes an update is listed under.
fn prefixes(u: &Update) -> Vec<String> {
    let (t, p) = (u.update_type.as_str(), u.priority.as_str());
    let mut keys = vec![
        String::new(),
        format!("t:{t}"),
        format!("p:{p}"),
        format!("tp:{t}:{p}"),
    ];
    if u.requires_ack {
        keys.push(ACK_PREFIX.to_string());
    }
    keys
}

/// The prefix that holds exactly the updates of `filter`'s type and priority.
fn filter_prefix(filter: &UpdateFilter) -> String {
    match (filter.update_type, filter.priority) {
        (None, None) => String::new(),
        (Some(t), None) => format!("t:{}", t.as_str()),
        (None, Some(p)) => format!("p:{}", p.as_str()),
        (Some(t), Some(p)) => format!("tp:{}:{}", t.as_str(), p.as_str()),
    }
}

/// Adds (or removes) `u`'s list index entries and counts.
fn index_update(txn: &WriteTransaction, u: &Update, insert: bool) -> Result<(), StoreError> {
    let (id, ts, priority) = (u.id.0, nanos(u.created_at), u.priority.code());
    let keys = prefixes(u);
    {
        let mut by_created = txn.open_table(UPDATES_BY_CREATED).map_err(storage_err)?;
        let mut by_priority = txn.open_table(UPDATES_BY_PRIORITY).map_err(storage_err)?;
        for p in &keys {
            let p = p.as_str();
            if insert {
                by_created.insert((p, ts, id), ()).map_err(storage_err)?;
                by_priority
                    .insert((p, priority, id), ts)
                    .map_err(storage_err)?;
            } else {
                by_created.remove((p, ts, id)).map_err(storage_err)?;
                by_priority.remove((p, priority, id)).map_err(storage_err)?;
            }
        }
    }
    bump_days(txn, UPDATE_COUNTS, &keys, day_of(ts), insert)
}

/// Fills the list indexes and counters from the updates written before they existed.
pub(super) fn backfill_updates(txn: &WriteTransaction) -> Result<(), StoreError> {
    // Readers open these tables, so they must exist even before the first update.
    txn.open_table(UPDATES_BY_CREATED).map_err(storage_err)?;
    txn.open_table(UPDATES_BY_PRIORITY).map_err(storage_err)?;
    txn.open_table(UPDATE_COUNTS).map_err(storage_err)?;
    // Acknowledgements came later; updates stored before them require none, so there is
    // nothing to fill.
    txn.open_table(UPDATE_ACKS).map_err(storage_err)?;
    txn.open_table(UPDATE_ACK_COUNTS).map_err(storage_err)?;
    txn.open_table(UPDATE_ACK_REMINDERS).map_err(storage_err)?;
    txn.open_table(UPDATE_ACK_REMINDERS_DUE)
        .map_err(storage_err)?;
    backfill_once(txn, UPDATES_INDEXED, UPDATES, |u: &Update| {
        index_update(txn, u, true)
    })
}

/// How many updates match `filter`: a counter, or under `since` the day counters after its
/// day and a walk of that day's keys.
fn update_count(
    txn: &ReadTransaction,
    prefix: &str,
    since: Option<i64>,
) -> Result<usize, StoreError> {
    let Some(since) = since else {
        let n = counted_days(txn, UPDATE_COUNTS, prefix, None)?;
        return Ok(usize::try_from(n).unwrap_or(usize::MAX));
    };
    let day = day_of(since);
    let mut n = counted_days(txn, UPDATE_COUNTS, prefix, Some(day))?;
    let by_created = txn.open_table(UPDATES_BY_CREATED).map_err(storage_err)?;
    for row in by_created
        .range((prefix, since, 0u64)..=(prefix, day_end(day), u64::MAX))
        .map_err(storage_err)?
    {
        row.map_err(storage_err)?;
        n = n.saturating_add(1);
    }
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// The ids of one page and the count of everything matching.
fn update_ids(
    txn: &ReadTransaction,
    filter: &UpdateFilter,
    order: UpdateOrder,
    descending: bool,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<u64>), StoreError> {
    let prefix = filter_prefix(filter);
    let p = prefix.as_str();
    let since = filter.since.map(nanos);
    let count = update_count(txn, p, since)?;
    // Past the end: nothing to walk.
    if offset >= count || limit == 0 {
        return Ok((count, Vec::new()));
    }
    let since = since.unwrap_or(i64::MIN);
    let mut pager = Pager::new(count, offset, limit);
    match order {
        UpdateOrder::CreatedAt => {
            let t = txn.open_table(UPDATES_BY_CREATED).map_err(storage_err)?;
            let range = t
                .range((p, since, 0u64)..=(p, i64::MAX, u64::MAX))
                .map_err(storage_err)?;
            for row in directed(range, descending) {
                if !pager.take(row.map_err(storage_err)?.0.value().2) {
                    break;
                }
            }
        }
        UpdateOrder::Priority => {
            let t = txn.open_table(UPDATES_BY_PRIORITY).map_err(storage_err)?;
            let range = t
                .range((p, 0u8, 0u64)..=(p, u8::MAX, u64::MAX))
                .map_err(storage_err)?;
            for row in directed(range, descending) {
                let (key, ts) = row.map_err(storage_err)?;
                if ts.value() >= since && !pager.take(key.value().2) {
                    break;
                }
            }
        }
    }
    Ok((count, pager.ids))
}

pub(super) fn update_page(
    txn: &ReadTransaction,
    filter: &UpdateFilter,
    order: UpdateOrder,
    descending: bool,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<Update>), StoreError> {
    let (count, ids) = update_ids(txn, filter, order, descending, offset, limit)?;
    let rows = txn.open_table(UPDATES).map_err(storage_err)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(u) = get_json(&rows, id)? {
            out.push(u);
        }
    }
    Ok((count, out))
}

// ---- notifications ----
//
// Beside the rows: `NOTIFICATIONS_BY_USER` (every notification of a recipient),
// `NOTIFICATIONS_UNREAD` (the unread ones), `NOTIFICATIONS_READ_BY_CREATED` (the read ones by
// age, what retention may remove) and `NOTIFICATION_COUNTS`, all kept in the row's transaction.

/// The META key that says every notification is in the indexes and counters.
const INDEXED: &str = "indexed.notifications";
const ALL: u8 = 0;
const UNREAD: u8 = 1;

fn bump(txn: &WriteTransaction, user: u64, which: u8, delta: i64) -> Result<(), StoreError> {
    let mut counts = txn.open_table(NOTIFICATION_COUNTS).map_err(storage_err)?;
    let old = counts
        .get((user, which))
        .map_err(storage_err)?
        .map(|g| g.value())
        .unwrap_or(0);
    let new = old.saturating_add_signed(delta);
    if new == 0 {
        counts.remove((user, which)).map_err(storage_err)?;
    } else {
        counts.insert((user, which), new).map_err(storage_err)?;
    }
    Ok(())
}

/// Puts `n` into the unread index or the read-by-age index, whichever its state says.
fn index_state(txn: &WriteTransaction, n: &Notification) -> Result<(), StoreError> {
    if n.read {
        txn.open_table(NOTIFICATIONS_READ_BY_CREATED)
            .map_err(storage_err)?
            .insert((nanos(n.created_at), n.id.0), n.recipient.0)
            .map_err(storage_err)?;
    } else {
        txn.open_table(NOTIFICATIONS_UNREAD)
            .map_err(storage_err)?
            .insert((n.recipient.0, n.id.0), ())
            .map_err(storage_err)?;
        bump(txn, n.recipient.0, UNREAD, 1)?;
    }
    Ok(())
}

pub(super) fn add_notification(batch: &mut Batch<'_>, n: &Notification) -> Result<(), StoreError> {
    let txn = batch.txn();
    let old: Option<Notification> = {
        let mut rows = txn.open_table(NOTIFICATIONS).map_err(storage_err)?;
        let old = get_json(&rows, n.id.0)?;
        put_json(&mut rows, n.id.0, n)?;
        old
    };
    // Ids are never reused; a rewrite of the same id must not be counted twice.
    if let Some(old) = old {
        unindex(txn, &old)?;
    }
    txn.open_table(NOTIFICATIONS_BY_USER)
        .map_err(storage_err)?
        .insert((n.recipient.0, n.id.0), ())
        .map_err(storage_err)?;
    bump(txn, n.recipient.0, ALL, 1)?;
    index_state(txn, n)?;
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

/// Removes every index entry and count of `n` (whose row is gone or being replaced).
fn unindex(txn: &WriteTransaction, n: &Notification) -> Result<(), StoreError> {
    let (user, id) = (n.recipient.0, n.id.0);
    txn.open_table(NOTIFICATIONS_BY_USER)
        .map_err(storage_err)?
        .remove((user, id))
        .map_err(storage_err)?;
    bump(txn, user, ALL, -1)?;
    if n.read {
        txn.open_table(NOTIFICATIONS_READ_BY_CREATED)
            .map_err(storage_err)?
            .remove((nanos(n.created_at), id))
            .map_err(storage_err)?;
    } else {
        txn.open_table(NOTIFICATIONS_UNREAD)
            .map_err(storage_err)?
            .remove((user, id))
            .map_err(storage_err)?;
        bump(txn, user, UNREAD, -1)?;
    }
    Ok(())
}

/// Marks the unread `n` read, in its row and its indexes.
fn mark_read(
    txn: &WriteTransaction,
    rows: &mut redb::Table<'_, u64, &'static [u8]>,
    mut n: Notification,
) -> Result<(), StoreError> {
    txn.open_table(NOTIFICATIONS_UNREAD)
        .map_err(storage_err)?
        .remove((n.recipient.0, n.id.0))
        .map_err(storage_err)?;
    bump(txn, n.recipient.0, UNREAD, -1)?;
    n.read = true;
    put_json(rows, n.id.0, &n)?;
    index_state(txn, &n)
}

pub(super) fn read_notification(
    txn: &WriteTransaction,
    user: UserId,
    id: NotificationId,
) -> Result<(), StoreError> {
    let mut rows = txn.open_table(NOTIFICATIONS).map_err(storage_err)?;
    let n: Option<Notification> = get_json(&rows, id.0)?;
    match n {
        Some(n) if n.recipient == user => {
            if !n.read {
                mark_read(txn, &mut rows, n)?;
            }
            Ok(())
        }
        _ => Err(StoreError::NotFound),
    }
}

/// Marks every unread notification of `user` read: reads only the unread ones.
pub(super) fn read_all_notifications(
    txn: &WriteTransaction,
    user: UserId,
) -> Result<(), StoreError> {
    let ids = {
        let unread = txn.open_table(NOTIFICATIONS_UNREAD).map_err(storage_err)?;
        let mut ids = Vec::new();
        for row in unread
            .range((user.0, 0u64)..=(user.0, u64::MAX))
            .map_err(storage_err)?
        {
            ids.push(row.map_err(storage_err)?.0.value().1);
        }
        ids
    };
    let mut rows = txn.open_table(NOTIFICATIONS).map_err(storage_err)?;
    for id in ids {
        let n: Option<Notification> = get_json(&rows, id)?;
        if let Some(n) = n
            && !n.read
        {
            mark_read(txn, &mut rows, n)?;
        }
    }
    Ok(())
}

/// Fills the indexes and counters from the rows written before they existed; a no-op once done.
pub(super) fn backfill_notifications(txn: &WriteTransaction) -> Result<(), StoreError> {
    // Readers open these tables, so they must exist even before the first notification.
    txn.open_table(NOTIFICATIONS_UNREAD).map_err(storage_err)?;
    txn.open_table(NOTIFICATIONS_READ_BY_CREATED)
        .map_err(storage_err)?;
    txn.open_table(NOTIFICATION_COUNTS).map_err(storage_err)?;
    backfill_once(txn, INDEXED, NOTIFICATIONS, |n: &Notification| {
        // The per-user index predates this one and is already filled.
        bump(txn, n.recipient.0, ALL, 1)?;
        index_state(txn, n)
    })
}

/// Ids of one page of a (user, id) index, newest first.
fn page_ids(
    index: &impl ReadableTable<(u64, u64), ()>,
    user: UserId,
    offset: usize,
    limit: usize,
) -> Result<Vec<u64>, StoreError> {
    let mut ids = Vec::with_capacity(limit.min(1024));
    for row in index
        .range((user.0, 0u64)..=(user.0, u64::MAX))
        .map_err(storage_err)?
        .rev()
        .skip(offset)
        .take(limit)
    {
        ids.push(row.map_err(storage_err)?.0.value().1);
    }
    Ok(ids)
}

pub(super) fn notification_page(
    txn: &ReadTransaction,
    user: UserId,
    unread_only: bool,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<Notification>), StoreError> {
    let (index, which) = if unread_only {
        (NOTIFICATIONS_UNREAD, UNREAD)
    } else {
        (NOTIFICATIONS_BY_USER, ALL)
    };
    let count = txn
        .open_table(NOTIFICATION_COUNTS)
        .map_err(storage_err)?
        .get((user.0, which))
        .map_err(storage_err)?
        .map(|g| g.value())
        .unwrap_or(0);
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    // Past the end: nothing to walk.
    if offset >= count {
        return Ok((count, Vec::new()));
    }
    let ids = page_ids(
        &txn.open_table(index).map_err(storage_err)?,
        user,
        offset,
        limit,
    )?;
    let rows = txn.open_table(NOTIFICATIONS).map_err(storage_err)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(n) = get_json(&rows, id)? {
            out.push(n);
        }
    }
    Ok((count, out))
}

/// Removes at most `max` read notifications created before `before`, oldest first.
pub(super) fn prune_notifications(
    txn: &WriteTransaction,
    before: Timestamp,
    max: usize,
) -> Result<usize, StoreError> {
    let doomed = {
        let read = txn
            .open_table(NOTIFICATIONS_READ_BY_CREATED)
            .map_err(storage_err)?;
        let mut doomed = Vec::new();
        for row in read.range(..(nanos(before), 0u64)).map_err(storage_err)? {
            if doomed.len() >= max {
                break;
            }
            doomed.push(row.map_err(storage_err)?.0.value());
        }
        doomed
    };
    let mut removed = 0;
    for (created, id) in doomed {
        let n: Option<Notification> = {
            let mut rows = txn.open_table(NOTIFICATIONS).map_err(storage_err)?;
            let n: Option<Notification> = get_json(&rows, id)?;
            // Only what the index says is read goes; a row found unread is left alone.
            if matches!(&n, Some(n) if n.read) {
                rows.remove(id).map_err(storage_err)?;
            }
            n
        };
        match n {
            Some(n) if n.read => {
                unindex(txn, &n)?;
                removed += 1;
            }
            // A stale entry would be found again by every pass.
            _ => {
                txn.open_table(NOTIFICATIONS_READ_BY_CREATED)
                    .map_err(storage_err)?
                    .remove((created, id))
                    .map_err(storage_err)?;
            }
        }
    }
    Ok(removed)
}

// ---- chat ----

#[async_trait]
impl UpdateStore for RedbStore {
    async fn update(&self, id: UpdateId) -> Result<Option<Update>, StoreError> {
        get_update(&self.read()?, id)
    }

    async fn update_page(
        &self,
        filter: &UpdateFilter,
        order: UpdateOrder,
        descending: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Update>), StoreError> {
        update_page(&self.read()?, filter, order, descending, offset, limit)
    }

    async fn notification_page(
        &self,
        user: UserId,
        unread_only: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Notification>), StoreError> {
        notification_page(&self.read()?, user, unread_only, offset, limit)
    }

    async fn update_acks(&self, update: UpdateId) -> Result<Vec<(UserId, Timestamp)>, StoreError> {
        update_acks(&self.read()?, update)
    }

    async fn acked_at(
        &self,
        user: UserId,
        updates: &[UpdateId],
    ) -> Result<Vec<Option<Timestamp>>, StoreError> {
        acked_at(&self.read()?, user, updates)
    }

    async fn pending_ack_page(
        &self,
        user: UserId,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Update>), StoreError> {
        pending_ack_page(&self.read()?, user, offset, limit)
    }

    async fn ack_reminders_due(
        &self,
        required_since: Timestamp,
        max: usize,
    ) -> Result<Vec<UpdateId>, StoreError> {
        ack_reminders_due(&self.read()?, required_since, max)
    }

    async fn prune_notifications(
        &self,
        before: Timestamp,
        max: usize,
    ) -> Result<usize, StoreError> {
        self.write(move |batch| prune_notifications(batch.txn(), before, max))
            .await
    }
}

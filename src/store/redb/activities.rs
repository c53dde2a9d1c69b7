//! Activities in redb: the row, its secondary indexes, and the indexed list query.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::tables::*;
use super::{Batch, storage_err};
use crate::domain::ActivityId;
use crate::domain::activity::Activity;
use crate::domain::change::{ChangeOp, VisibilityKeys};
use crate::domain::visibility::can_see_activity;
use crate::store::{ActivityFilter, ActivityOrder, Expect, StoreError, Viewer};

/// Who may see an activity's changes.
pub fn visibility_keys(a: &Activity) -> VisibilityKeys {
    VisibilityKeys {
        project: a.project_id.map(|p| p.0),
        creator: Some(a.created_by.0),
        assignee: a.assigned_to.map(|u| u.0),
        parties: Vec::new(),
    }
}

pub(super) fn load(txn: &WriteTransaction, id: u64) -> Result<Option<Activity>, StoreError> {
    let table = txn.open_table(ACTIVITIES).map_err(storage_err)?;
    get_json(&table, id)
}

fn start_key(a: &Activity) -> Option<i64> {
    a.start_time.map(|t| t.unix_timestamp())
}

/// Adds (`insert`) or removes the index entries of `a`.
fn index(txn: &WriteTransaction, a: &Activity, insert: bool) -> Result<(), StoreError> {
    let id = a.id.0;
    macro_rules! entry {
        ($table:expr, $key:expr) => {{
            let mut t = txn.open_table($table).map_err(storage_err)?;
            if insert {
                t.insert($key, ()).map_err(storage_err)?;
            } else {
                t.remove($key).map_err(storage_err)?;
            }
        }};
    }
    entry!(ACT_BY_STATUS, (a.status.code(), id));
    entry!(ACT_BY_TYPE, (a.activity_type.code(), id));
    entry!(ACT_BY_PRIORITY, (a.priority.code(), id));
    entry!(ACT_BY_ASSIGNEE, (a.assigned_to.map_or(0, |u| u.0), id));
    entry!(ACT_BY_CREATOR, (a.created_by.0, id));
    entry!(ACT_BY_PROJECT, (a.project_id.map_or(0, |p| p.0), id));
    if let Some(start) = start_key(a) {
        entry!(ACT_BY_START, (start, id));
    }
    Ok(())
}

/// Checks `expect` against the stored row; returns the stored row.
pub(super) fn check(
    txn: &WriteTransaction,
    id: u64,
    expect: Expect,
) -> Result<Option<Activity>, StoreError> {
    let stored = load(txn, id)?;
    match (expect, &stored) {
        (Expect::New, Some(_)) => Err(StoreError::Conflict("activity already exists".into())),
        (Expect::Exists | Expect::Version(_), None) => Err(StoreError::NotFound),
        (Expect::Version(v), Some(s)) if s.version != v => Err(StoreError::Stale),
        _ => Ok(stored),
    }
}

/// Writes `a`, replacing `old` (if any) and its index entries, and logs the change.
pub(super) fn put(
    batch: &mut Batch<'_>,
    a: &Activity,
    old: Option<&Activity>,
) -> Result<(), StoreError> {
    let txn = batch.txn();
    if let Some(old) = old {
        index(txn, old, false)?;
    }
    put_json(
        &mut txn.open_table(ACTIVITIES).map_err(storage_err)?,
        a.id.0,
        a,
    )?;
    index(txn, a, true)?;
    let op = if old.is_some() {
        ChangeOp::Updated
    } else {
        ChangeOp::Created
    };
    batch.record_change("activity", a.id.0, op, visibility_keys(a))?;
    Ok(())
}

/// Deletes an activity and its index entries, and logs the change.
pub(super) fn delete(batch: &mut Batch<'_>, id: u64) -> Result<(), StoreError> {
    let txn = batch.txn();
    let old = load(txn, id)?.ok_or(StoreError::NotFound)?;
    index(txn, &old, false)?;
    txn.open_table(ACTIVITIES)
        .map_err(storage_err)?
        .remove(id)
        .map_err(storage_err)?;
    batch.record_change("activity", id, ChangeOp::Deleted, visibility_keys(&old))?;
    Ok(())
}

/// Ids of the activities in a project (for detaching them when it is deleted).
pub(super) fn ids_in_project(txn: &WriteTransaction, project: u64) -> Result<Vec<u64>, StoreError> {
    let table = txn.open_table(ACT_BY_PROJECT).map_err(storage_err)?;
    let mut ids = Vec::new();
    for row in table
        .range((project, 0)..=(project, u64::MAX))
        .map_err(storage_err)?
    {
        ids.push(row.map_err(storage_err)?.0.value().1);
    }
    Ok(ids)
}

/// One equality index: which table and which key.
#[derive(Clone, Copy)]
enum EqIndex {
    Small(redb::TableDefinition<'static, (u8, u64), ()>, u8),
    Wide(redb::TableDefinition<'static, (u64, u64), ()>, u64),
}

/// The equality filters that have an index, most selective first.
fn eq_indexes(filter: &ActivityFilter) -> Vec<EqIndex> {
    let mut out = Vec::new();
    if let Some(u) = filter.assigned_to {
        out.push(EqIndex::Wide(ACT_BY_ASSIGNEE, u.0));
    }
    if let Some(u) = filter.created_by {
        out.push(EqIndex::Wide(ACT_BY_CREATOR, u.0));
    }
    if let Some(p) = filter.project {
        out.push(EqIndex::Wide(ACT_BY_PROJECT, p.0));
    }
    if let Some(s) = filter.status {
        out.push(EqIndex::Small(ACT_BY_STATUS, s.code()));
    }
    if let Some(t) = filter.activity_type {
        out.push(EqIndex::Small(ACT_BY_TYPE, t.code()));
    }
    if let Some(p) = filter.priority {
        out.push(EqIndex::Small(ACT_BY_PRIORITY, p.code()));
    }
    out
}

/// Ids under one index key, newest first.
fn ids_desc(txn: &ReadTransaction, index: EqIndex) -> Result<Vec<u64>, StoreError> {
    let mut ids = Vec::new();
    match index {
        EqIndex::Small(def, key) => {
            let t = txn.open_table(def).map_err(storage_err)?;
            for row in t
                .range((key, 0)..=(key, u64::MAX))
                .map_err(storage_err)?
                .rev()
            {
                ids.push(row.map_err(storage_err)?.0.value().1);
            }
        }
        EqIndex::Wide(def, key) => {
            let t = txn.open_table(def).map_err(storage_err)?;
            for row in t
                .range((key, 0)..=(key, u64::MAX))
                .map_err(storage_err)?
                .rev()
            {
                ids.push(row.map_err(storage_err)?.0.value().1);
            }
        }
    }
    Ok(ids)
}

/// Ids of every activity `viewer` (a member) may see, newest first: the union of what they
/// created, are assigned, and what is in their projects or in none.
fn visible_ids_desc(
    txn: &ReadTransaction,
    user: u64,
    projects: &[crate::domain::ProjectId],
) -> Result<Vec<u64>, StoreError> {
    let mut ids = ids_desc(txn, EqIndex::Wide(ACT_BY_CREATOR, user))?;
    ids.extend(ids_desc(txn, EqIndex::Wide(ACT_BY_ASSIGNEE, user))?);
    ids.extend(ids_desc(txn, EqIndex::Wide(ACT_BY_PROJECT, 0))?);
    for p in projects {
        ids.extend(ids_desc(txn, EqIndex::Wide(ACT_BY_PROJECT, p.0))?);
    }
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.dedup();
    Ok(ids)
}

fn matches(filter: &ActivityFilter, a: &Activity) -> bool {
    filter.status.is_none_or(|s| a.status == s)
        && filter.activity_type.is_none_or(|t| a.activity_type == t)
        && filter.priority.is_none_or(|p| a.priority == p)
        && filter.assigned_to.is_none_or(|u| a.assigned_to == Some(u))
        && filter.created_by.is_none_or(|u| a.created_by == u)
        && filter.project.is_none_or(|p| a.project_id == Some(p))
        && filter
            .start_after
            .is_none_or(|t| a.start_time.is_some_and(|s| s >= t))
        && filter
            .start_before
            .is_none_or(|t| a.start_time.is_some_and(|s| s <= t))
}

/// A sort key that orders like the API's `ordering`: unset times after set ones.
fn sort_key(order: ActivityOrder, a: &Activity) -> (u8, i128, String) {
    let time = |t: Option<crate::domain::time::Timestamp>| match t {
        Some(t) => (0, t.unix_timestamp_nanos(), String::new()),
        None => (1, 0, String::new()),
    };
    match order {
        ActivityOrder::StartTime => time(a.start_time),
        ActivityOrder::EndTime => time(a.end_time),
        ActivityOrder::Priority => (0, i128::from(a.priority.code()), String::new()),
        ActivityOrder::CreatedAt => time(Some(a.created_at)),
        ActivityOrder::UpdatedAt => time(Some(a.updated_at)),
        ActivityOrder::Title => (0, 0, a.title.to_lowercase()),
    }
}

/// The list query: candidates from the most selective index (or, for a member with no
/// indexed filter, the union of what they may see), then the remaining filters and
/// visibility, then the order. Only ids and sort keys are kept, so a long result costs little
/// memory.
pub(super) fn matching_ids(
    txn: &ReadTransaction,
    viewer: &Viewer,
    filter: &ActivityFilter,
    order: ActivityOrder,
    descending: bool,
) -> Result<Vec<u64>, StoreError> {
    let rows = txn.open_table(ACTIVITIES).map_err(storage_err)?;
    let indexes = eq_indexes(filter);
    let candidates: Option<Vec<u64>> = if let Some(ids) = &filter.ids {
        let mut ids: Vec<u64> = ids.iter().map(|i| i.0).collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.dedup();
        Some(ids)
    } else if let Some(first) = indexes.first() {
        Some(ids_desc(txn, *first)?)
    } else if let Viewer::Member { user, projects } = viewer {
        Some(visible_ids_desc(txn, user.0, projects)?)
    } else {
        None
    };
    let by_id = order == ActivityOrder::CreatedAt;
    let mut keyed: Vec<((u8, i128, String), u64)> = Vec::new();
    let mut keep = |a: Activity| {
        if matches(filter, &a) && can_see_activity(viewer, &a) {
            let key = if by_id {
                (0, 0, String::new())
            } else {
                sort_key(order, &a)
            };
            keyed.push((key, a.id.0));
        }
    };
    match candidates {
        Some(ids) => {
            for id in ids {
                if let Some(a) = get_json::<u64, Activity, _>(&rows, id)? {
                    keep(a);
                }
            }
        }
        None => {
            for row in rows.iter().map_err(storage_err)?.rev() {
                let (_, value) = row.map_err(storage_err)?;
                keep(decode(value.value())?);
            }
        }
    }
    // Candidates come newest first; ids grow with creation, so id order is creation order.
    if by_id {
        if !descending {
            keyed.reverse();
        }
    } else {
        keyed.sort_by(|a, b| {
            let o = a.0.cmp(&b.0).then(a.1.cmp(&b.1));
            if descending { o.reverse() } else { o }
        });
    }
    Ok(keyed.into_iter().map(|(_, id)| id).collect())
}

/// Reads the rows of `ids`, in order, skipping any deleted meanwhile.
pub(super) fn by_ids(txn: &ReadTransaction, ids: &[u64]) -> Result<Vec<Activity>, StoreError> {
    let rows = txn.open_table(ACTIVITIES).map_err(storage_err)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(a) = get_json::<u64, Activity, _>(&rows, *id)? {
            out.push(a);
        }
    }
    Ok(out)
}

/// One page of the list query, and the total count.
pub(super) fn list(
    txn: &ReadTransaction,
    viewer: &Viewer,
    filter: &ActivityFilter,
    order: ActivityOrder,
    descending: bool,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<Activity>), StoreError> {
    let indexes = eq_indexes(filter);
    let only_one_index = indexes.len() == 1
        && filter.start_after.is_none()
        && filter.start_before.is_none()
        && filter.ids.is_none();
    // Fast path: one indexed filter, everything visible, by creation. The count is the index
    // range's length and only the page's rows are read.
    let ids =
        if only_one_index && order == ActivityOrder::CreatedAt && matches!(viewer, Viewer::All) {
            let mut ids = ids_desc(txn, indexes[0])?;
            if !descending {
                ids.reverse();
            }
            ids
        } else {
            matching_ids(txn, viewer, filter, order, descending)?
        };
    let count = ids.len();
    let page: Vec<u64> = ids.into_iter().skip(offset).take(limit).collect();
    Ok((count, by_ids(txn, &page)?))
}

/// One activity by id.
pub(super) fn get(txn: &ReadTransaction, id: ActivityId) -> Result<Option<Activity>, StoreError> {
    let rows = txn.open_table(ACTIVITIES).map_err(storage_err)?;
    get_json(&rows, id.0)
}

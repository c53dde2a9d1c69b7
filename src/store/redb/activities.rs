//! Activities in redb: the row, its secondary indexes, and the indexed list query.

use async_trait::async_trait;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::facets::{CountKey, Facet, Facets};
use super::tables::*;
use super::{Batch, RedbStore, storage_err};
use crate::domain::ActivityId;
use crate::domain::activity::Activity;
use crate::domain::change::ChangeOp;
use crate::store::{ActivityFilter, ActivityOrder, ActivityStore, Expect, StoreError, Viewer};

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
    expect.check_version(stored.as_ref().map(|s| s.version), "activity")?;
    Ok(stored)
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
    batch.record(a, op)?;
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
    batch.record(&old, ChangeOp::Deleted)?;
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

/// The equality filters that have an index, most selective first, each with the key of its
/// in-memory count.
fn eq_indexes(filter: &ActivityFilter) -> Vec<(EqIndex, CountKey)> {
    let mut out = Vec::new();
    if let Some(u) = filter.assigned_to {
        out.push((EqIndex::Wide(ACT_BY_ASSIGNEE, u.0), CountKey::Assignee(u.0)));
    }
    if let Some(u) = filter.created_by {
        out.push((EqIndex::Wide(ACT_BY_CREATOR, u.0), CountKey::Creator(u.0)));
    }
    if let Some(p) = filter.project {
        out.push((EqIndex::Wide(ACT_BY_PROJECT, p.0), CountKey::Project(p.0)));
    }
    if let Some(s) = filter.status {
        out.push((
            EqIndex::Small(ACT_BY_STATUS, s.code()),
            CountKey::Status(s.code()),
        ));
    }
    if let Some(t) = filter.activity_type {
        out.push((
            EqIndex::Small(ACT_BY_TYPE, t.code()),
            CountKey::Type(t.code()),
        ));
    }
    if let Some(p) = filter.priority {
        out.push((
            EqIndex::Small(ACT_BY_PRIORITY, p.code()),
            CountKey::Priority(p.code()),
        ));
    }
    out
}

/// One page of the ids under one index key, newest first (or oldest first), reading only the
/// page's index entries and those it skips.
fn ids_page(
    txn: &ReadTransaction,
    index: EqIndex,
    descending: bool,
    (offset, limit): (usize, usize),
) -> Result<Vec<u64>, StoreError> {
    macro_rules! page {
        ($def:expr, $key:expr) => {{
            let t = txn.open_table($def).map_err(storage_err)?;
            let range = t.range(($key, 0)..=($key, u64::MAX)).map_err(storage_err)?;
            let rows: Box<dyn Iterator<Item = _>> = if descending {
                Box::new(range.rev())
            } else {
                Box::new(range)
            };
            let mut ids = Vec::with_capacity(limit.min(1024));
            for row in rows.skip(offset).take(limit) {
                ids.push(row.map_err(storage_err)?.0.value().1);
            }
            ids
        }};
    }
    Ok(match index {
        EqIndex::Small(def, key) => page!(def, key),
        EqIndex::Wide(def, key) => page!(def, key),
    })
}

/// Ids under one index key, newest first.
fn ids_desc(txn: &ReadTransaction, index: EqIndex) -> Result<Vec<u64>, StoreError> {
    ids_page(txn, index, true, (0, usize::MAX))
}

/// Ids of every activity `viewer` (a member) may see, newest first: the union of what they
/// created, are assigned, and what is in their projects or in none.
///
/// Only a plan for which index ranges to read: every candidate is still checked against
/// `Viewer::may_see` (in `Facet::passes`), the one statement of the rule.
fn visible_ids_desc(txn: &ReadTransaction, viewer: &Viewer) -> Result<Vec<u64>, StoreError> {
    let user = viewer.user().0;
    let mut ids = ids_desc(txn, EqIndex::Wide(ACT_BY_CREATOR, user))?;
    ids.extend(ids_desc(txn, EqIndex::Wide(ACT_BY_ASSIGNEE, user))?);
    ids.extend(ids_desc(txn, EqIndex::Wide(ACT_BY_PROJECT, 0))?);
    for p in viewer.projects() {
        ids.extend(ids_desc(txn, EqIndex::Wide(ACT_BY_PROJECT, p.0))?);
    }
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.dedup();
    Ok(ids)
}

/// A sort key from the row, for orders the facets do not hold (`updated_at`, `title`).
fn row_sort_key(order: ActivityOrder, a: &Activity) -> (u8, i128, String) {
    match order {
        ActivityOrder::UpdatedAt => (0, a.updated_at.unix_timestamp_nanos(), String::new()),
        _ => (0, 0, a.title.to_lowercase()),
    }
}

/// Ids of the candidates, newest first: the most selective indexed filter's range, or for a
/// member the union of what they may see, or every activity.
fn candidates(
    txn: &ReadTransaction,
    facets: &Facets,
    viewer: &Viewer,
    filter: &ActivityFilter,
) -> Result<Vec<u64>, StoreError> {
    if let Some(ids) = &filter.ids {
        let mut ids: Vec<u64> = ids.iter().map(|i| i.0).collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.dedup();
        return Ok(ids);
    }
    if let Some((first, _)) = eq_indexes(filter).first() {
        return ids_desc(txn, *first);
    }
    if !viewer.sees_all() {
        return visible_ids_desc(txn, viewer);
    }
    let in_memory = facets.with(|rows| {
        rows.iter()
            .enumerate()
            .rev()
            .filter(|(_, f)| f.is_some())
            .map(|(id, _)| id as u64)
            .collect()
    });
    match in_memory {
        Some(ids) => Ok(ids),
        // The facets are still loading after start-up: every stored id, from the table.
        None => {
            let rows = txn.open_table(ACTIVITIES).map_err(storage_err)?;
            let mut ids = Vec::new();
            for row in rows.iter().map_err(storage_err)?.rev() {
                ids.push(row.map_err(storage_err)?.0.value());
            }
            Ok(ids)
        }
    }
}

/// The list query: candidates from the secondary indexes, checked against the remaining
/// filters and visibility on their in-memory facets (no row is decoded), then ordered.
pub(super) fn matching_ids(
    txn: &ReadTransaction,
    facets: &Facets,
    viewer: &Viewer,
    filter: &ActivityFilter,
    order: ActivityOrder,
    descending: bool,
) -> Result<Vec<u64>, StoreError> {
    let candidates = candidates(txn, facets, viewer, filter)?;
    let keep = |id: u64, facet: Facet| {
        facet
            .passes(viewer, filter)
            .then(|| (facet.sort_key(order, id).unwrap_or((0, 0)), id))
    };
    let in_memory = facets.with(|rows| {
        candidates
            .iter()
            .filter_map(|&id| keep(id, rows.get(usize::try_from(id).ok()?).copied().flatten()?))
            .collect()
    });
    let mut keyed: Vec<((u8, i128), u64)> = match in_memory {
        Some(keyed) => keyed,
        // The facets are still loading after start-up: the same checks on the decoded rows.
        None => {
            let rows = txn.open_table(ACTIVITIES).map_err(storage_err)?;
            let mut keyed = Vec::new();
            for &id in &candidates {
                if let Some(a) = get_json::<u64, Activity, _>(&rows, id)?
                    && let Some(k) = keep(id, Facet::of(&a))
                {
                    keyed.push(k);
                }
            }
            keyed
        }
    };
    match order {
        // Candidates come newest first, and ids grow with creation.
        ActivityOrder::CreatedAt => {
            if !descending {
                keyed.reverse();
            }
            Ok(keyed.into_iter().map(|(_, id)| id).collect())
        }
        ActivityOrder::UpdatedAt | ActivityOrder::Title => {
            let rows = txn.open_table(ACTIVITIES).map_err(storage_err)?;
            let mut with_rows = Vec::with_capacity(keyed.len());
            for (_, id) in keyed {
                if let Some(a) = get_json::<u64, Activity, _>(&rows, id)? {
                    with_rows.push((row_sort_key(order, &a), id));
                }
            }
            with_rows.sort_by(|a, b| {
                let o = a.cmp(b);
                if descending { o.reverse() } else { o }
            });
            Ok(with_rows.into_iter().map(|(_, id)| id).collect())
        }
        _ => {
            keyed.sort_by(|a, b| {
                let o = a.cmp(b);
                if descending { o.reverse() } else { o }
            });
            Ok(keyed.into_iter().map(|(_, id)| id).collect())
        }
    }
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

/// One page (`window`: rows to skip, rows to take) of the list query, and the total count.
pub(super) fn list(
    txn: &ReadTransaction,
    facets: &Facets,
    viewer: &Viewer,
    filter: &ActivityFilter,
    (order, descending): (ActivityOrder, bool),
    (offset, limit): (usize, usize),
) -> Result<(usize, Vec<Activity>), StoreError> {
    let indexes = eq_indexes(filter);
    let only_one_index = indexes.len() == 1
        && filter.start_after.is_none()
        && filter.start_before.is_none()
        && filter.ids.is_none();
    let fast = only_one_index && order == ActivityOrder::CreatedAt && viewer.sees_all();
    // Fastest path: the count kept in memory, and only the page's index entries and rows read,
    // so the cost does not grow with the data.
    if fast && let Some(count) = facets.count(indexes[0].1) {
        let page = ids_page(txn, indexes[0].0, descending, (offset, limit))?;
        return Ok((count, by_ids(txn, &page)?));
    }
    // Fast path while the facets load: the count is the index range's length and only the
    // page's rows are read.
    let ids = if fast {
        let mut ids = ids_desc(txn, indexes[0].0)?;
        if !descending {
            ids.reverse();
        }
        ids
    } else {
        matching_ids(txn, facets, viewer, filter, order, descending)?
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

#[async_trait]
impl ActivityStore for RedbStore {
    async fn activity(&self, id: ActivityId) -> Result<Option<Activity>, StoreError> {
        get(&self.read()?, id)
    }

    async fn activities(
        &self,
        viewer: &Viewer,
        filter: &ActivityFilter,
        order: ActivityOrder,
        descending: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Activity>), StoreError> {
        list(
            &self.read()?,
            &self.facets,
            viewer,
            filter,
            (order, descending),
            (offset, limit),
        )
    }

    async fn activity_ids(
        &self,
        viewer: &Viewer,
        filter: &ActivityFilter,
        order: ActivityOrder,
        descending: bool,
    ) -> Result<Vec<ActivityId>, StoreError> {
        let ids = matching_ids(
            &self.read()?,
            &self.facets,
            viewer,
            filter,
            order,
            descending,
        )?;
        Ok(ids.into_iter().map(ActivityId).collect())
    }

    async fn activities_by_ids(&self, ids: &[ActivityId]) -> Result<Vec<Activity>, StoreError> {
        let ids: Vec<u64> = ids.iter().map(|i| i.0).collect();
        by_ids(&self.read()?, &ids)
    }
}

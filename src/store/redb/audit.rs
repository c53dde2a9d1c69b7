//! The audit log in redb: rows by id, an index per filter combination, one by time, and counters.
//!
//! The log reads newest first by id. Each filter combination has an index in id order whose
//! values are the entries' times, and a counter per UTC day (plus one for all days), all kept in
//! the row's transaction. A page reads only its index entries and those it skips; a count is a
//! counter. Under `since`, the count adds the day counters after `since`'s day to a walk of
//! that one day's entries, and the page walk stops once it has every match the count promises.

use async_trait::async_trait;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::lists::{bump_days, counted_days, day_end, day_of};
use super::tables::*;
use super::{RedbStore, storage_err};
use crate::domain::audit::AuditEntry;
use crate::domain::time::Timestamp;
use crate::store::{AuditFilter, AuditStore, StoreError};

/// The META key that says every entry is in the indexes and counters.
const INDEXED: &str = "indexed.audit";

/// A time as an index key: unix nanoseconds, clamped to what an `i64` holds (years 1677–2262).
pub(super) fn nanos(t: Timestamp) -> i64 {
    i64::try_from(t.unix_timestamp_nanos()).unwrap_or(if t.unix_timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// The counter keys an entry is counted under.
fn count_keys(action: &str, actor: Option<u64>) -> Vec<String> {
    let mut keys = vec!["all".to_string(), format!("action:{action}")];
    if let Some(actor) = actor {
        keys.push(format!("actor:{actor}"));
        keys.push(format!("both:{actor}:{action}"));
    }
    keys
}

/// The counter key of a filter's action and actor.
fn filter_count_key(filter: &AuditFilter) -> String {
    match (&filter.action, filter.actor) {
        (None, None) => "all".to_string(),
        (Some(a), None) => format!("action:{a}"),
        (None, Some(u)) => format!("actor:{}", u.0),
        (Some(a), Some(u)) => format!("both:{}:{a}", u.0),
    }
}

/// Adds (or removes) `e`'s index entries and counts.
fn index(txn: &WriteTransaction, e: &AuditEntry, insert: bool) -> Result<(), StoreError> {
    let (id, ts, action) = (e.id.0, nanos(e.ts), e.action.as_str());
    let actor = e.actor_id.map(|u| u.0);
    macro_rules! apply {
        ($def:expr, $key:expr, $value:expr) => {{
            let mut t = txn.open_table($def).map_err(storage_err)?;
            if insert {
                t.insert($key, $value).map_err(storage_err)?;
            } else {
                t.remove($key).map_err(storage_err)?;
            }
        }};
    }
    apply!(AUDIT_BY_TS, (ts, id), ());
    apply!(AUDIT_TS_BY_ID, id, ts);
    apply!(AUDIT_BY_ACTION, (action, id), ts);
    if let Some(actor) = actor {
        apply!(AUDIT_BY_ACTOR, (actor, id), ts);
        apply!(AUDIT_BY_ACTOR_ACTION, (actor, action, id), ts);
    }
    bump_days(
        txn,
        AUDIT_COUNTS,
        &count_keys(action, actor),
        day_of(ts),
        insert,
    )
}

pub(super) fn add_audit(txn: &WriteTransaction, e: &AuditEntry) -> Result<(), StoreError> {
    let mut rows = txn.open_table(AUDIT).map_err(storage_err)?;
    let old: Option<AuditEntry> = get_json(&rows, e.id.0)?;
    put_json(&mut rows, e.id.0, e)?;
    drop(rows);
    // Ids are never reused; a rewrite of the same id would otherwise be counted twice.
    if let Some(old) = old {
        index(txn, &old, false)?;
    }
    index(txn, e, true)
}

/// Fills the indexes and counters from the rows written before they existed; a no-op once done.
pub(super) fn backfill_audit(txn: &WriteTransaction) -> Result<(), StoreError> {
    // Readers open these tables, so they must exist even on a log with no entries yet.
    txn.open_table(AUDIT_BY_TS).map_err(storage_err)?;
    txn.open_table(AUDIT_TS_BY_ID).map_err(storage_err)?;
    txn.open_table(AUDIT_BY_ACTION).map_err(storage_err)?;
    txn.open_table(AUDIT_BY_ACTOR).map_err(storage_err)?;
    txn.open_table(AUDIT_BY_ACTOR_ACTION).map_err(storage_err)?;
    txn.open_table(AUDIT_COUNTS).map_err(storage_err)?;
    backfill_once(txn, INDEXED, AUDIT, |e: &AuditEntry| index(txn, e, true))
}

/// Whether entry `id` matches the action and actor of `filter`, by point lookups.
struct Membership {
    by_action: redb::ReadOnlyTable<(&'static str, u64), i64>,
    by_actor: redb::ReadOnlyTable<(u64, u64), i64>,
    by_both: redb::ReadOnlyTable<(u64, &'static str, u64), i64>,
}

impl Membership {
    fn open(txn: &ReadTransaction) -> Result<Self, StoreError> {
        Ok(Self {
            by_action: txn.open_table(AUDIT_BY_ACTION).map_err(storage_err)?,
            by_actor: txn.open_table(AUDIT_BY_ACTOR).map_err(storage_err)?,
            by_both: txn.open_table(AUDIT_BY_ACTOR_ACTION).map_err(storage_err)?,
        })
    }

    fn matches(&self, filter: &AuditFilter, id: u64) -> Result<bool, StoreError> {
        Ok(match (&filter.action, filter.actor) {
            (None, None) => true,
            (Some(a), None) => self
                .by_action
                .get((a.as_str(), id))
                .map_err(storage_err)?
                .is_some(),
            (None, Some(u)) => self.by_actor.get((u.0, id)).map_err(storage_err)?.is_some(),
            (Some(a), Some(u)) => self
                .by_both
                .get((u.0, a.as_str(), id))
                .map_err(storage_err)?
                .is_some(),
        })
    }
}

/// How many entries match `filter`: a counter without `since`; under it, the day counters after
/// `since`'s day and a walk of the entries of that day from `since` on.
fn count(txn: &ReadTransaction, filter: &AuditFilter) -> Result<usize, StoreError> {
    let key = filter_count_key(filter);
    let Some(since) = filter.since.map(nanos) else {
        let n = counted_days(txn, AUDIT_COUNTS, &key, None)?;
        return Ok(usize::try_from(n).unwrap_or(usize::MAX));
    };
    let day = day_of(since);
    let mut n = counted_days(txn, AUDIT_COUNTS, &key, Some(day))?;
    let by_ts = txn.open_table(AUDIT_BY_TS).map_err(storage_err)?;
    let members = Membership::open(txn)?;
    for row in by_ts
        .range((since, 0u64)..=(day_end(day), u64::MAX))
        .map_err(storage_err)?
    {
        if members.matches(filter, row.map_err(storage_err)?.0.value().1)? {
            n = n.saturating_add(1);
        }
    }
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Ids of one page under `filter`, newest first, and the count of everything matching.
fn ids_page(
    txn: &ReadTransaction,
    filter: &AuditFilter,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<u64>), StoreError> {
    let count = count(txn, filter)?;
    // Past the end: nothing to walk.
    if offset >= count || limit == 0 {
        return Ok((count, Vec::new()));
    }
    let since = filter.since.map_or(i64::MIN, nanos);
    // The walk ends with the page, or with the last match the count promises.
    let wanted = count.min(offset.saturating_add(limit));
    let mut ids = Vec::with_capacity(limit.min(1024));
    let mut matched = 0usize;
    let mut take = |id: u64, ts: i64| {
        if ts >= since {
            if matched >= offset {
                ids.push(id);
            }
            matched += 1;
        }
        matched < wanted
    };
    macro_rules! walk {
        ($def:expr, $range:expr, $id:expr) => {{
            let t = txn.open_table($def).map_err(storage_err)?;
            for row in t.range($range).map_err(storage_err)?.rev() {
                let (key, ts) = row.map_err(storage_err)?;
                if !take($id(key.value()), ts.value()) {
                    break;
                }
            }
        }};
    }
    match (&filter.action, filter.actor) {
        (None, None) => walk!(AUDIT_TS_BY_ID, 0u64.., |k: u64| k),
        (Some(a), None) => walk!(
            AUDIT_BY_ACTION,
            (a.as_str(), 0u64)..=(a.as_str(), u64::MAX),
            |k: (&str, u64)| k.1
        ),
        (None, Some(u)) => walk!(AUDIT_BY_ACTOR, (u.0, 0u64)..=(u.0, u64::MAX), |k: (
            u64,
            u64
        )| k
            .1),
        (Some(a), Some(u)) => walk!(
            AUDIT_BY_ACTOR_ACTION,
            (u.0, a.as_str(), 0u64)..=(u.0, a.as_str(), u64::MAX),
            |k: (u64, &str, u64)| k.2
        ),
    }
    Ok((count, ids))
}

pub(super) fn audit_page(
    txn: &ReadTransaction,
    filter: &AuditFilter,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<AuditEntry>), StoreError> {
    let (count, ids) = ids_page(txn, filter, offset, limit)?;
    let rows = txn.open_table(AUDIT).map_err(storage_err)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(e) = get_json(&rows, id)? {
            out.push(e);
        }
    }
    Ok((count, out))
}

/// Removes at most `max` of the oldest entries before `before`.
pub(super) fn prune_audit(
    txn: &WriteTransaction,
    before: Timestamp,
    max: usize,
) -> Result<usize, StoreError> {
    let cutoff = nanos(before);
    let mut doomed = Vec::new();
    {
        let by_ts = txn.open_table(AUDIT_BY_TS).map_err(storage_err)?;
        for row in by_ts.range(..(cutoff, 0u64)).map_err(storage_err)? {
            if doomed.len() >= max {
                break;
            }
            doomed.push(row.map_err(storage_err)?.0.value());
        }
    }
    for (ts, id) in &doomed {
        let old: Option<AuditEntry> = {
            let mut rows = txn.open_table(AUDIT).map_err(storage_err)?;
            let old = get_json(&rows, *id)?;
            rows.remove(*id).map_err(storage_err)?;
            old
        };
        match old {
            Some(old) => index(txn, &old, false)?,
            // A stale entry would be found again by every pass.
            None => {
                txn.open_table(AUDIT_BY_TS)
                    .map_err(storage_err)?
                    .remove((*ts, *id))
                    .map_err(storage_err)?;
            }
        }
    }
    Ok(doomed.len())
}

#[async_trait]
impl AuditStore for RedbStore {
    async fn audit_page(
        &self,
        filter: &AuditFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<AuditEntry>), StoreError> {
        audit_page(&self.read()?, filter, offset, limit)
    }

    async fn prune_audit(&self, before: Timestamp, max: usize) -> Result<usize, StoreError> {
        self.write(move |batch| prune_audit(batch.txn(), before, max))
            .await
    }
}

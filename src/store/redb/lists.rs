//! What the list indexes share: counters kept in the row's transaction (in all, and per UTC
//! day for lists filtered by `since`), and walking an index range in either direction.

use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};

use serde::de::DeserializeOwned;

use super::storage_err;
use crate::store::StoreError;

/// The day key of a counter over all days.
pub const ALL_DAYS: i64 = i64::MIN;
/// Nanoseconds in a UTC day.
pub const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// The UTC day of a time in unix nanoseconds; never `ALL_DAYS`.
pub fn day_of(nanos: i64) -> i64 {
    nanos.div_euclid(NANOS_PER_DAY).max(ALL_DAYS + 1)
}

/// The last nanosecond of `day`.
pub fn day_end(day: i64) -> i64 {
    day.saturating_add(1)
        .saturating_mul(NANOS_PER_DAY)
        .saturating_sub(1)
}

/// Counts one row more (or less) under each of `keys`, in all days and on `day`.
pub fn bump_days(
    txn: &WriteTransaction,
    table: TableDefinition<(&str, i64), u64>,
    keys: &[String],
    day: i64,
    up: bool,
) -> Result<(), StoreError> {
    let mut counts = txn.open_table(table).map_err(storage_err)?;
    for key in keys {
        for d in [ALL_DAYS, day] {
            let k = (key.as_str(), d);
            let old = counts.get(k).map_err(storage_err)?.map(|g| g.value());
            let new = step(old.unwrap_or(0), up);
            if new == 0 {
                counts.remove(k).map_err(storage_err)?;
            } else {
                counts.insert(k, new).map_err(storage_err)?;
            }
        }
    }
    Ok(())
}

/// Counts one row more (or less) under each of `keys`.
pub fn bump(
    txn: &WriteTransaction,
    table: TableDefinition<&str, u64>,
    keys: &[String],
    up: bool,
) -> Result<(), StoreError> {
    let mut counts = txn.open_table(table).map_err(storage_err)?;
    for key in keys {
        let old = counts
            .get(key.as_str())
            .map_err(storage_err)?
            .map(|g| g.value());
        let new = step(old.unwrap_or(0), up);
        if new == 0 {
            counts.remove(key.as_str()).map_err(storage_err)?;
        } else {
            counts.insert(key.as_str(), new).map_err(storage_err)?;
        }
    }
    Ok(())
}

fn step(n: u64, up: bool) -> u64 {
    if up {
        n.saturating_add(1)
    } else {
        n.saturating_sub(1)
    }
}

/// The counter of `key`.
pub fn counted(
    txn: &ReadTransaction,
    table: TableDefinition<&str, u64>,
    key: &str,
) -> Result<usize, StoreError> {
    let n = txn
        .open_table(table)
        .map_err(storage_err)?
        .get(key)
        .map_err(storage_err)?
        .map_or(0, |g| g.value());
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// The day counters of `key`: over all days when `after_day` is `None`, else summed over the
/// days after it (at most one row per day, not per entry).
pub fn counted_days(
    txn: &ReadTransaction,
    table: TableDefinition<(&str, i64), u64>,
    key: &str,
    after_day: Option<i64>,
) -> Result<u64, StoreError> {
    let counts = txn.open_table(table).map_err(storage_err)?;
    let Some(day) = after_day else {
        return Ok(counts
            .get((key, ALL_DAYS))
            .map_err(storage_err)?
            .map_or(0, |g| g.value()));
    };
    let mut n: u64 = 0;
    if let Some(next_day) = day.checked_add(1) {
        for row in counts
            .range((key, next_day)..=(key, i64::MAX))
            .map_err(storage_err)?
        {
            n = n.saturating_add(row.map_err(storage_err)?.1.value());
        }
    }
    Ok(n)
}

/// `range` forwards, or backwards when `descending`.
pub fn directed<'a, I>(range: I, descending: bool) -> Box<dyn Iterator<Item = I::Item> + 'a>
where
    I: DoubleEndedIterator + 'a,
{
    if descending {
        Box::new(range.rev())
    } else {
        Box::new(range)
    }
}

/// One page of a `(time, id)` index walked newest first, keeping the entries whose value
/// `keep` accepts. `known` is the count when nothing is filtered (the index's length): the
/// walk then ends with the page. Otherwise it runs to the end, counting every kept entry.
pub fn newest_first_page<V: redb::Value + 'static>(
    range: redb::Range<'_, (i64, u64), V>,
    known: Option<usize>,
    offset: usize,
    limit: usize,
    mut keep: impl for<'v> FnMut(V::SelfType<'v>) -> bool,
) -> Result<(usize, Vec<u64>), StoreError> {
    let mut pager = Pager::new(known.unwrap_or(usize::MAX), offset, limit);
    let mut matched = 0usize;
    for entry in range.rev() {
        let (key, value) = entry.map_err(storage_err)?;
        if !keep(value.value()) {
            continue;
        }
        matched += 1;
        if !pager.done() {
            pager.take(key.value().1);
        } else if known.is_some() {
            break;
        }
    }
    Ok((known.unwrap_or(matched), pager.ids))
}

/// A table's length as a count.
pub fn count_of(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The JSON rows of `ids` in `table`, in that order, skipping any that are gone.
pub fn rows_of<T: DeserializeOwned>(
    txn: &ReadTransaction,
    table: TableDefinition<u64, &[u8]>,
    ids: Vec<u64>,
) -> Result<Vec<T>, StoreError> {
    let rows = txn.open_table(table).map_err(storage_err)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(r) = super::tables::get_json(&rows, id)? {
            out.push(r);
        }
    }
    Ok(out)
}

/// Takes the page `offset..offset + limit` of the ids a walk yields in order; `wanted` (the
/// end of the page, or the last match a count promises) ends the walk early.
pub struct Pager {
    offset: usize,
    wanted: usize,
    matched: usize,
    /// The ids of the page, in order.
    pub ids: Vec<u64>,
}

impl Pager {
    /// A pager of `limit` rows after `offset` of `count` matches.
    pub fn new(count: usize, offset: usize, limit: usize) -> Self {
        Self {
            offset,
            wanted: count.min(offset.saturating_add(limit)),
            matched: 0,
            ids: Vec::with_capacity(limit.min(1024)),
        }
    }

    /// Whether the walk is over.
    pub fn done(&self) -> bool {
        self.matched >= self.wanted
    }

    /// Takes one matching id; `false` once the walk is over.
    pub fn take(&mut self, id: u64) -> bool {
        if self.matched >= self.offset {
            self.ids.push(id);
        }
        self.matched += 1;
        !self.done()
    }
}

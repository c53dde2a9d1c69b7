//! Activity facets in memory: the few fixed-width fields that filters, visibility and most
//! orderings look at, for every activity, so a list query checks its candidates without decoding
//! their rows. The redb tables stay the truth: the facets are loaded from them at open and
//! updated by the writer after each commit, and the page's rows are read from redb.

use std::sync::RwLock;

use redb::{Database, ReadableDatabase, ReadableTable};

use super::storage_err;
use super::tables::{ACTIVITIES, decode};
use crate::domain::activity::Activity;
use crate::domain::visibility::{Viewer, member_sees_activity};
use crate::store::{ActivityFilter, ActivityOrder, StoreError};

/// What a list query needs of one activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facet {
    status: u8,
    kind: u8,
    priority: u8,
    project: u64,
    assignee: u64,
    creator: u64,
    start: Option<i128>,
    end: Option<i128>,
}

impl Facet {
    fn of(a: &Activity) -> Facet {
        Facet {
            status: a.status.code(),
            kind: a.activity_type.code(),
            priority: a.priority.code(),
            project: a.project_id.map_or(0, |p| p.0),
            assignee: a.assigned_to.map_or(0, |u| u.0),
            creator: a.created_by.0,
            start: a.start_time.map(|t| t.unix_timestamp_nanos()),
            end: a.end_time.map(|t| t.unix_timestamp_nanos()),
        }
    }

    /// Whether the activity passes `filter` (all but `ids`) and `viewer` may see it.
    pub fn passes(&self, viewer: &Viewer, filter: &ActivityFilter) -> bool {
        let visible = match viewer {
            Viewer::All => true,
            Viewer::Member { user, projects } => member_sees_activity(
                user.0,
                self.creator,
                Some(self.assignee).filter(|a| *a != 0),
                Some(self.project).filter(|p| *p != 0),
                |p| projects.iter().any(|mine| mine.0 == p),
            ),
        };
        visible
            && filter.status.is_none_or(|s| self.status == s.code())
            && filter.activity_type.is_none_or(|t| self.kind == t.code())
            && filter.priority.is_none_or(|p| self.priority == p.code())
            && filter.assigned_to.is_none_or(|u| self.assignee == u.0)
            && filter.created_by.is_none_or(|u| self.creator == u.0)
            && filter.project.is_none_or(|p| self.project == p.0)
            && filter
                .start_after
                .is_none_or(|t| self.start.is_some_and(|s| s >= t.unix_timestamp_nanos()))
            && filter
                .start_before
                .is_none_or(|t| self.start.is_some_and(|s| s <= t.unix_timestamp_nanos()))
    }

    /// The sort key for `order`, if the facet holds it: unset times sort after set ones.
    pub fn sort_key(&self, order: ActivityOrder, id: u64) -> Option<(u8, i128)> {
        let time = |t: Option<i128>| match t {
            Some(t) => (0, t),
            None => (1, 0),
        };
        match order {
            ActivityOrder::StartTime => Some(time(self.start)),
            ActivityOrder::EndTime => Some(time(self.end)),
            ActivityOrder::Priority => Some((0, i128::from(self.priority))),
            ActivityOrder::CreatedAt => Some((0, i128::from(id))),
            ActivityOrder::UpdatedAt | ActivityOrder::Title => None,
        }
    }
}

/// Every activity's facet, by id.
pub struct Facets {
    rows: RwLock<Vec<Option<Facet>>>,
}

impl Facets {
    /// Loads the facets of every stored activity.
    pub fn load(db: &Database) -> Result<Facets, StoreError> {
        let txn = db.begin_read().map_err(storage_err)?;
        let table = txn.open_table(ACTIVITIES).map_err(storage_err)?;
        let mut rows = Vec::new();
        for row in table.iter().map_err(storage_err)? {
            let (key, value) = row.map_err(storage_err)?;
            let activity: Activity = decode(value.value())?;
            set(&mut rows, key.value(), Some(Facet::of(&activity)));
        }
        Ok(Facets {
            rows: RwLock::new(rows),
        })
    }

    /// Records the committed state of activity `id` (`None`: deleted).
    pub fn update(&self, id: u64, activity: Option<&Activity>) {
        let mut rows = self.rows.write().unwrap_or_else(|p| p.into_inner());
        set(&mut rows, id, activity.map(Facet::of));
    }

    /// Runs `f` over the facets under a read lock.
    pub fn with<T>(&self, f: impl FnOnce(&[Option<Facet>]) -> T) -> T {
        let rows = self.rows.read().unwrap_or_else(|p| p.into_inner());
        f(&rows)
    }
}

fn set(rows: &mut Vec<Option<Facet>>, id: u64, facet: Option<Facet>) {
    let Ok(i) = usize::try_from(id) else { return };
    if i >= rows.len() {
        if facet.is_none() {
            return;
        }
        rows.resize(i + 1, None);
    }
    rows[i] = facet;
}

//! Activity facets in memory: the few fixed-width fields that filters, visibility and most
//! orderings look at, for every activity, so a list query checks its candidates without decoding
//! their rows. The redb tables stay the truth: the facets are loaded from them in the background
//! after open and updated by the writer after each commit, and the page's rows are read from
//! redb.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use redb::{Database, ReadableDatabase, ReadableTable};

use super::storage_err;
use super::tables::{ACTIVITIES, decode};
use crate::domain::activity::Activity;
use crate::domain::change::{ObjectKind, VisibilityKeys};
use crate::domain::visibility::Viewer;
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
    pub fn of(a: &Activity) -> Facet {
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
        let keys = VisibilityKeys {
            project: Some(self.project).filter(|p| *p != 0),
            creator: Some(self.creator),
            assignee: Some(self.assignee).filter(|a| *a != 0),
            parties: Vec::new(),
        };
        viewer.may_see(ObjectKind::Activity, &keys)
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

/// Every activity's facet, by id; loaded in the background after open so that start-up does not
/// grow with the data. Until the load is done, lists read facets from the rows instead.
pub struct Facets {
    state: RwLock<State>,
    /// Asks the loading thread to give up (the store is closing).
    stop: AtomicBool,
    loader: Mutex<Option<std::thread::JoinHandle<()>>>,
}

enum State {
    /// The background load is running; these are the facets the writer refreshed meanwhile
    /// (`None`: deleted), which win over the load's older snapshot.
    Loading(HashMap<u64, Option<Facet>>),
    /// Every activity's facet, indexed by id, and how many activities hold each indexed value.
    Ready(Vec<Option<Facet>>, Counts),
}

/// An indexed field's value, as the list counts know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CountKey {
    /// `status` code.
    Status(u8),
    /// `type` code.
    Type(u8),
    /// `priority` code.
    Priority(u8),
    /// `assigned_to` (0: nobody).
    Assignee(u64),
    /// `created_by`.
    Creator(u64),
    /// `project_id` (0: none).
    Project(u64),
}

/// Activities per indexed value, so a list filtered on one field knows its count without
/// walking the whole index range (which grows with the data).
type Counts = HashMap<CountKey, usize>;

fn count_keys(f: &Facet) -> [CountKey; 6] {
    [
        CountKey::Status(f.status),
        CountKey::Type(f.kind),
        CountKey::Priority(f.priority),
        CountKey::Assignee(f.assignee),
        CountKey::Creator(f.creator),
        CountKey::Project(f.project),
    ]
}

fn tally(counts: &mut Counts, facet: Option<&Facet>, up: bool) {
    let Some(facet) = facet else { return };
    for key in count_keys(facet) {
        let n = counts.entry(key).or_insert(0);
        *n = if up { *n + 1 } else { n.saturating_sub(1) };
    }
}

impl Facets {
    /// Starts loading the facets of every stored activity on a thread of its own.
    pub fn load_in_background(db: Arc<Database>) -> Arc<Facets> {
        let facets = Arc::new(Facets::never_loaded());
        let loading = facets.clone();
        let spawned = std::thread::Builder::new()
            .name("nexus-facets".into())
            .spawn(move || {
                let started = std::time::Instant::now();
                match read_all(&db, &loading.stop) {
                    Ok(None) => {}
                    Ok(Some(rows)) => {
                        let count = rows.iter().flatten().count();
                        loading.finish(rows);
                        tracing::debug!(
                            activities = count,
                            ms = started.elapsed().as_millis() as u64,
                            "activity facets loaded"
                        );
                    }
                    // Lists stay correct without facets, only slower: they read the rows.
                    Err(e) => tracing::error!(error = %e, "could not load activity facets"),
                }
            });
        match spawned {
            Ok(handle) => {
                *facets.loader.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
            }
            Err(e) => tracing::error!(error = %e, "could not start loading activity facets"),
        }
        facets
    }

    /// Stops a load still running and waits for its thread, so it no longer holds the
    /// database: a database still open at exit is not closed cleanly, and the next start
    /// would have to repair it.
    pub fn stop_loading(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let handle = self.loader.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    /// Facets with no load behind them (yet): lists read the rows.
    pub fn never_loaded() -> Facets {
        Facets {
            state: RwLock::new(State::Loading(HashMap::new())),
            stop: AtomicBool::new(false),
            loader: Mutex::new(None),
        }
    }

    fn finish(&self, mut rows: Vec<Option<Facet>>) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        if let State::Loading(refreshed) = &mut *state {
            for (id, facet) in refreshed.drain() {
                set(&mut rows, id, facet);
            }
        }
        let mut counts = Counts::new();
        for facet in rows.iter().flatten() {
            tally(&mut counts, Some(facet), true);
        }
        *state = State::Ready(rows, counts);
    }

    /// Records the committed state of activity `id` (`None`: deleted).
    pub fn update(&self, id: u64, activity: Option<&Activity>) {
        let facet = activity.map(Facet::of);
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        match &mut *state {
            State::Loading(refreshed) => {
                refreshed.insert(id, facet);
            }
            State::Ready(rows, counts) => {
                let old = usize::try_from(id)
                    .ok()
                    .and_then(|i| rows.get(i).copied().flatten());
                tally(counts, old.as_ref(), false);
                tally(counts, facet.as_ref(), true);
                set(rows, id, facet);
            }
        }
    }

    /// How many activities hold `key`, or `None` while the facets are loading.
    pub fn count(&self, key: CountKey) -> Option<usize> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        match &*state {
            State::Ready(_, counts) => Some(counts.get(&key).copied().unwrap_or(0)),
            State::Loading(_) => None,
        }
    }

    /// Runs `f` over the facets under a read lock, or returns `None` while they are loading.
    pub fn with<T>(&self, f: impl FnOnce(&[Option<Facet>]) -> T) -> Option<T> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        match &*state {
            State::Ready(rows, _) => Some(f(rows)),
            State::Loading(_) => None,
        }
    }
}

/// Decodes every stored activity's facet from one snapshot; `None` if asked to stop.
fn read_all(db: &Database, stop: &AtomicBool) -> Result<Option<Vec<Option<Facet>>>, StoreError> {
    let txn = db.begin_read().map_err(storage_err)?;
    let table = txn.open_table(ACTIVITIES).map_err(storage_err)?;
    let mut rows = Vec::new();
    for (n, row) in table.iter().map_err(storage_err)?.enumerate() {
        if n % 4096 == 0 && stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let (key, value) = row.map_err(storage_err)?;
        let activity: Activity = decode(value.value())?;
        set(&mut rows, key.value(), Some(Facet::of(&activity)));
    }
    Ok(Some(rows))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn facet(status: u8) -> Facet {
        Facet {
            status,
            kind: 0,
            priority: 0,
            project: 0,
            assignee: 0,
            creator: 1,
            start: None,
            end: None,
        }
    }

    #[test]
    fn writes_committed_while_loading_win_over_the_loads_snapshot() {
        let facets = Facets::never_loaded();
        assert!(facets.with(|_| ()).is_none(), "no facets while loading");
        // While the load reads its snapshot, the writer refreshes 2 and deletes 3, and 9 is new.
        let refresh = |id: u64, f: Option<Facet>| {
            let mut state = facets.state.write().unwrap_or_else(|p| p.into_inner());
            if let State::Loading(m) = &mut *state {
                m.insert(id, f);
            }
        };
        refresh(2, Some(facet(4)));
        refresh(3, None);
        refresh(9, Some(facet(2)));
        facets.finish(vec![None, Some(facet(1)), Some(facet(1)), Some(facet(1))]);
        let rows = facets.with(|rows| rows.to_vec()).expect("loaded");
        assert_eq!(rows[1], Some(facet(1)), "untouched rows come from the load");
        assert_eq!(rows[2], Some(facet(4)), "a later refresh wins");
        assert_eq!(rows[3], None, "a delete during the load stays deleted");
        assert_eq!(rows[9], Some(facet(2)), "a create during the load is kept");
        assert_eq!(
            facets.count(CountKey::Status(1)),
            Some(1),
            "only 1 is left at status 1"
        );
        assert_eq!(facets.count(CountKey::Status(4)), Some(1));
        assert_eq!(facets.count(CountKey::Creator(1)), Some(3));
    }
}

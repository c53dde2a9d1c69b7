//! Projects in redb: the row, the unique-name index of projects not archived, and the
//! person → projects index used for visibility.

use async_trait::async_trait;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::audit::nanos;
use super::lists::{Pager, bump, counted, directed};
use super::tables::*;
use super::{Batch, RedbStore, activities, storage_err};
use crate::domain::change::ChangeOp;
use crate::domain::project::{Project, ProjectStatus, name_key};
use crate::domain::time;
use crate::domain::visibility::Viewer;
use crate::domain::{ProjectId, UserId};
use crate::store::{ProjectFilter, ProjectOrder, ProjectStore, StoreError};

pub(super) fn load(txn: &WriteTransaction, id: u64) -> Result<Option<Project>, StoreError> {
    let table = txn.open_table(PROJECTS).map_err(storage_err)?;
    get_json(&table, id)
}

fn index(txn: &WriteTransaction, p: &Project, insert: bool) -> Result<(), StoreError> {
    {
        let mut people = txn.open_table(PROJECTS_BY_PERSON).map_err(storage_err)?;
        for person in p.people() {
            if insert {
                people.insert((person.0, p.id.0), ()).map_err(storage_err)?;
            } else {
                people.remove((person.0, p.id.0)).map_err(storage_err)?;
            }
        }
    }
    if p.status != ProjectStatus::Archived {
        let mut names = txn.open_table(PROJECTS_BY_NAME).map_err(storage_err)?;
        let key = name_key(&p.name);
        if insert {
            names.insert(key.as_str(), p.id.0).map_err(storage_err)?;
        } else {
            names.remove(key.as_str()).map_err(storage_err)?;
        }
    }
    index_list(txn, p, insert)
}

/// `Conflict` if another project not archived holds `p`'s name.
pub(super) fn check_name(txn: &WriteTransaction, p: &Project) -> Result<(), StoreError> {
    if p.status == ProjectStatus::Archived {
        return Ok(());
    }
    let names = txn.open_table(PROJECTS_BY_NAME).map_err(storage_err)?;
    let holder = names
        .get(name_key(&p.name).as_str())
        .map_err(storage_err)?
        .map(|g| g.value());
    if holder.is_some_and(|id| id != p.id.0) {
        return Err(StoreError::Conflict(
            "a project with this name already exists".into(),
        ));
    }
    Ok(())
}

/// Writes `p` (its changeset's checks have passed: see `changeset::check`); logs the change.
pub(super) fn put(
    batch: &mut Batch<'_>,
    p: &Project,
    team_changed: bool,
) -> Result<(), StoreError> {
    let txn = batch.txn();
    let old = load(txn, p.id.0)?;
    if let Some(old) = &old {
        index(txn, old, false)?;
    }
    put_json(
        &mut txn.open_table(PROJECTS).map_err(storage_err)?,
        p.id.0,
        p,
    )?;
    index(txn, p, true)?;
    let op = match (&old, team_changed) {
        (None, _) => ChangeOp::Created,
        (Some(_), true) => ChangeOp::TeamChanged,
        (Some(_), false) => ChangeOp::Updated,
    };
    batch.record(p, op)?;
    Ok(())
}

/// Deletes a project and detaches its activities (each logged as updated).
pub(super) fn delete(batch: &mut Batch<'_>, id: u64) -> Result<(), StoreError> {
    let txn = batch.txn();
    let old = load(txn, id)?.ok_or(StoreError::NotFound)?;
    for activity_id in activities::ids_in_project(txn, id)? {
        if let Some(old_activity) = activities::load(txn, activity_id)? {
            let mut detached = old_activity.clone();
            detached.project_id = None;
            detached.version += 1;
            detached.updated_at = time::now();
            activities::put(batch, &detached, Some(&old_activity))?;
        }
    }
    let txn = batch.txn();
    index(txn, &old, false)?;
    txn.open_table(PROJECTS)
        .map_err(storage_err)?
        .remove(id)
        .map_err(storage_err)?;
    batch.record(&old, ChangeOp::Deleted)?;
    Ok(())
}

pub(super) fn get(txn: &ReadTransaction, id: ProjectId) -> Result<Option<Project>, StoreError> {
    let rows = txn.open_table(PROJECTS).map_err(storage_err)?;
    get_json(&rows, id.0)
}

pub(super) fn of_person(txn: &ReadTransaction, user: UserId) -> Result<Vec<ProjectId>, StoreError> {
    let t = txn.open_table(PROJECTS_BY_PERSON).map_err(storage_err)?;
    let mut out = Vec::new();
    for row in t
        .range((user.0, 0)..=(user.0, u64::MAX))
        .map_err(storage_err)?
    {
        out.push(ProjectId(row.map_err(storage_err)?.0.value().1));
    }
    Ok(out)
}

// ---- the project list ----
//
// Every project is in the four order tables (`PROJECTS_BY_LNAME`, `_START`, `_END`,
// `_CREATED`) under the prefixes "" (all), its status, and each of its people (manager and
// team, "u:{id}": exactly whom the visibility rule lets see it), each entry carrying its
// status and manager; `PROJECTS_BY_MEMBER` holds the team alone; `PROJECT_COUNTS` counts each
// prefix. All are kept in the row's transaction.
//
// A page walks one prefix in the asked order: a plain user's own ("u:{me}"), else the
// member's or manager's, else the status's, else all. When the prefix is the whole filter, the
// count is its counter and the walk stops with the page; when filters remain (status or
// manager from the entry, member by a point lookup), the walk goes to the end of the prefix
// to count, bounded by one person's projects. A full-text `q` arrives as ids: those rows are
// read, filtered and sorted in memory, bounded by the search hits.

/// The META key that says every project is in the list indexes and counters.
const PROJECTS_INDEXED: &str = "indexed.projects";

/// The prefixes a project is listed under.
fn prefixes(p: &Project) -> Vec<String> {
    let mut keys = vec![String::new(), format!("s:{}", p.status.as_str())];
    keys.extend(p.people().into_iter().map(|u| format!("u:{}", u.0)));
    keys
}

/// A date as an order key: unset sorts after every date.
fn date_key(d: Option<::time::Date>) -> i64 {
    d.map_or(i64::MAX, |d| i64::from(d.to_julian_day()))
}

/// Adds (or removes) `p`'s list index entries and counts.
fn index_list(txn: &WriteTransaction, p: &Project, insert: bool) -> Result<(), StoreError> {
    let id = p.id.0;
    let value = (p.status.code(), p.manager_id.0);
    let name = p.name.to_lowercase();
    let (start, end, created) = (
        date_key(p.start_date),
        date_key(p.end_date),
        nanos(p.created_at),
    );
    let keys = prefixes(p);
    {
        let mut by_name = txn.open_table(PROJECTS_BY_LNAME).map_err(storage_err)?;
        let mut by_start = txn.open_table(PROJECTS_BY_START).map_err(storage_err)?;
        let mut by_end = txn.open_table(PROJECTS_BY_END).map_err(storage_err)?;
        let mut by_created = txn.open_table(PROJECTS_BY_CREATED).map_err(storage_err)?;
        for k in &keys {
            let k = k.as_str();
            if insert {
                by_name
                    .insert((k, name.as_str(), id), value)
                    .map_err(storage_err)?;
                by_start
                    .insert((k, start, id), value)
                    .map_err(storage_err)?;
                by_end.insert((k, end, id), value).map_err(storage_err)?;
                by_created
                    .insert((k, created, id), value)
                    .map_err(storage_err)?;
            } else {
                by_name
                    .remove((k, name.as_str(), id))
                    .map_err(storage_err)?;
                by_start.remove((k, start, id)).map_err(storage_err)?;
                by_end.remove((k, end, id)).map_err(storage_err)?;
                by_created.remove((k, created, id)).map_err(storage_err)?;
            }
        }
        let mut members = txn.open_table(PROJECTS_BY_MEMBER).map_err(storage_err)?;
        for m in &p.team_members {
            if insert {
                members.insert((m.0, id), ()).map_err(storage_err)?;
            } else {
                members.remove((m.0, id)).map_err(storage_err)?;
            }
        }
    }
    bump(txn, PROJECT_COUNTS, &keys, insert)
}

/// Fills the list indexes and counters from the projects written before they existed.
pub(super) fn backfill_projects(txn: &WriteTransaction) -> Result<(), StoreError> {
    // Readers open these tables, so they must exist even before the first project.
    txn.open_table(PROJECTS_BY_LNAME).map_err(storage_err)?;
    txn.open_table(PROJECTS_BY_START).map_err(storage_err)?;
    txn.open_table(PROJECTS_BY_END).map_err(storage_err)?;
    txn.open_table(PROJECTS_BY_CREATED).map_err(storage_err)?;
    txn.open_table(PROJECTS_BY_MEMBER).map_err(storage_err)?;
    txn.open_table(PROJECT_COUNTS).map_err(storage_err)?;
    // The person and name indexes predate these and are already filled.
    backfill_once(txn, PROJECTS_INDEXED, PROJECTS, |p: &Project| {
        index_list(txn, p, true)
    })
}

/// The filters a walk of one prefix still has to check.
struct Rest {
    status: Option<u8>,
    manager: Option<u64>,
    member: Option<u64>,
    members: redb::ReadOnlyTable<(u64, u64), ()>,
}

impl Rest {
    fn is_empty(&self) -> bool {
        self.status.is_none() && self.manager.is_none() && self.member.is_none()
    }

    fn matches(&self, id: u64, (status, manager): (u8, u64)) -> Result<bool, StoreError> {
        if self.status.is_some_and(|s| s != status) || self.manager.is_some_and(|m| m != manager) {
            return Ok(false);
        }
        match self.member {
            None => Ok(true),
            Some(m) => Ok(self.members.get((m, id)).map_err(storage_err)?.is_some()),
        }
    }
}

/// The ids of one page and the count of everything matching, from the indexes.
fn project_ids(
    txn: &ReadTransaction,
    viewer: &Viewer,
    filter: &ProjectFilter,
    order: ProjectOrder,
    descending: bool,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<u64>), StoreError> {
    let mut rest = Rest {
        status: filter.status.map(|s| s.code()),
        manager: filter.manager.map(|m| m.0),
        member: filter.member.map(|m| m.0),
        members: txn.open_table(PROJECTS_BY_MEMBER).map_err(storage_err)?,
    };
    let prefix = if !viewer.sees_all() {
        format!("u:{}", viewer.user().0)
    } else if let Some(m) = filter.member {
        format!("u:{}", m.0)
    } else if let Some(m) = filter.manager {
        format!("u:{}", m.0)
    } else if let Some(s) = filter.status {
        rest.status = None;
        format!("s:{}", s.as_str())
    } else {
        String::new()
    };
    let p = prefix.as_str();
    let exact = rest.is_empty();
    // Not known before the walk unless the prefix is the whole filter.
    let count = if exact {
        counted(txn, PROJECT_COUNTS, p)?
    } else {
        usize::MAX
    };
    // Past the end: nothing to walk.
    if offset >= count || (limit == 0 && exact) {
        return Ok((count, Vec::new()));
    }
    let mut pager = Pager::new(count, offset, limit);
    let mut matched = 0usize;
    let end = offset.saturating_add(limit);
    // Exact: every key matches and the pager ends the walk. Otherwise: to the end, counting.
    let mut step = |id: u64, value: (u8, u64)| -> Result<bool, StoreError> {
        if exact {
            return Ok(pager.take(id));
        }
        if rest.matches(id, value)? {
            if matched >= offset && matched < end {
                pager.ids.push(id);
            }
            matched += 1;
        }
        Ok(true)
    };
    macro_rules! walk {
        ($def:expr, $range:expr) => {{
            let t = txn.open_table($def).map_err(storage_err)?;
            for row in directed(t.range($range).map_err(storage_err)?, descending) {
                let (key, value) = row.map_err(storage_err)?;
                if !step(key.value().2, value.value())? {
                    break;
                }
            }
        }};
    }
    match order {
        ProjectOrder::Name => {
            // Names have no greatest value: the prefix's keys end where the next prefix (`p`
            // and a zero byte, the least longer string) begins.
            let next = format!("{p}\0");
            walk!(PROJECTS_BY_LNAME, (p, "", 0u64)..(next.as_str(), "", 0u64))
        }
        ProjectOrder::StartDate => {
            walk!(
                PROJECTS_BY_START,
                (p, i64::MIN, 0u64)..=(p, i64::MAX, u64::MAX)
            )
        }
        ProjectOrder::EndDate => {
            walk!(
                PROJECTS_BY_END,
                (p, i64::MIN, 0u64)..=(p, i64::MAX, u64::MAX)
            )
        }
        ProjectOrder::CreatedAt => {
            walk!(
                PROJECTS_BY_CREATED,
                (p, i64::MIN, 0u64)..=(p, i64::MAX, u64::MAX)
            )
        }
    }
    let ids = std::mem::take(&mut pager.ids);
    Ok((if exact { count } else { matched }, ids))
}

/// Whether `p` passes `filter`'s status, manager and member.
fn passes(filter: &ProjectFilter, p: &Project) -> bool {
    filter.status.is_none_or(|s| p.status == s)
        && filter.manager.is_none_or(|m| p.manager_id == m)
        && filter.member.is_none_or(|m| p.team_members.contains(&m))
}

/// `order` of two projects, ties by id.
fn compare(order: ProjectOrder, a: &Project, b: &Project) -> std::cmp::Ordering {
    match order {
        ProjectOrder::StartDate => date_key(a.start_date).cmp(&date_key(b.start_date)),
        ProjectOrder::EndDate => date_key(a.end_date).cmp(&date_key(b.end_date)),
        ProjectOrder::CreatedAt => a.created_at.cmp(&b.created_at),
        ProjectOrder::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
    }
    .then(a.id.cmp(&b.id))
}

pub(super) fn project_page(
    txn: &ReadTransaction,
    viewer: &Viewer,
    filter: &ProjectFilter,
    order: ProjectOrder,
    descending: bool,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<Project>), StoreError> {
    let rows = txn.open_table(PROJECTS).map_err(storage_err)?;
    if let Some(ids) = &filter.ids {
        let mut ids: Vec<u64> = ids.iter().map(|p| p.0).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut found: Vec<Project> = Vec::new();
        for id in ids {
            if let Some(p) = get_json::<u64, Project, _>(&rows, id)?
                && viewer.sees(&p)
                && passes(filter, &p)
            {
                found.push(p);
            }
        }
        found.sort_by(|a, b| {
            let o = compare(order, a, b);
            if descending { o.reverse() } else { o }
        });
        let count = found.len();
        let page = found.into_iter().skip(offset).take(limit).collect();
        return Ok((count, page));
    }
    let (count, ids) = project_ids(txn, viewer, filter, order, descending, offset, limit)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        // The walked prefix is the rule's own set; the rule still has the last word on a row.
        if let Some(p) = get_json::<u64, Project, _>(&rows, id)?
            && viewer.sees(&p)
        {
            out.push(p);
        }
    }
    Ok((count, out))
}

#[async_trait]
impl ProjectStore for RedbStore {
    async fn project(&self, id: ProjectId) -> Result<Option<Project>, StoreError> {
        get(&self.read()?, id)
    }

    async fn project_page(
        &self,
        viewer: &Viewer,
        filter: &ProjectFilter,
        order: ProjectOrder,
        descending: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Project>), StoreError> {
        project_page(
            &self.read()?,
            viewer,
            filter,
            order,
            descending,
            offset,
            limit,
        )
    }

    async fn projects_of(&self, user: UserId) -> Result<Vec<ProjectId>, StoreError> {
        of_person(&self.read()?, user)
    }

    async fn projects_by_ids(&self, ids: &[ProjectId]) -> Result<Vec<Project>, StoreError> {
        let txn = self.read()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(get(&txn, *id)?);
        }
        Ok(out)
    }
}

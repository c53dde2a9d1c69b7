//! Projects in redb: the row, the unique-name index of projects not archived, and the
//! person → projects index used for visibility.

use async_trait::async_trait;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::tables::*;
use super::{Batch, RedbStore, activities, storage_err};
use crate::domain::change::ChangeOp;
use crate::domain::project::{Project, ProjectStatus, name_key};
use crate::domain::time;
use crate::domain::{ProjectId, UserId};
use crate::store::{ProjectStore, StoreError};

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
    Ok(())
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

pub(super) fn all(txn: &ReadTransaction) -> Result<Vec<Project>, StoreError> {
    let rows = txn.open_table(PROJECTS).map_err(storage_err)?;
    let mut out = Vec::new();
    for row in rows.iter().map_err(storage_err)? {
        out.push(decode(row.map_err(storage_err)?.1.value())?);
    }
    Ok(out)
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

#[async_trait]
impl ProjectStore for RedbStore {
    async fn project(&self, id: ProjectId) -> Result<Option<Project>, StoreError> {
        get(&self.read()?, id)
    }

    async fn projects(&self) -> Result<Vec<Project>, StoreError> {
        all(&self.read()?)
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

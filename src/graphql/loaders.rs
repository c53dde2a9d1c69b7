//! Batched relations: the users and projects a response refers to are read in one service call
//! (one store read) per batch, whatever the page size. A page reads its rows' relations ahead,
//! in one batch per kind, for the relations the query selects (`prefetch_*`); a relation then
//! answers from the request's cache. The cache belongs to one request and one caller, so what
//! it holds is what that caller may see; a subscription clears it before every event.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use super::error::from_domain;
use crate::domain::activity::Activity;
use crate::domain::project::Project;
use crate::domain::{ProjectId, UserId};
use crate::service::users::VisibleUser;
use crate::service::{Principal, Services};

/// Loads users and projects for one caller.
pub struct Loaders {
    services: Services,
    principal: Principal,
}

/// The request's loader, with its cache.
pub(crate) type Relations = DataLoader<Loaders, HashMapCache>;

/// A loader for one request.
pub(crate) fn new(services: Services, principal: Principal) -> Arc<Relations> {
    Arc::new(DataLoader::with_cache(
        Loaders {
            services,
            principal,
        },
        tokio::spawn,
        HashMapCache::default(),
    ))
}

/// The loader of the request `ctx` belongs to.
pub(crate) fn relations<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Arc<Relations>> {
    ctx.data::<Arc<Relations>>()
}

/// Forgets what was loaded (a subscription does, before each event, so nothing it shows is
/// older than the event).
pub(crate) fn forget(relations: &Relations) {
    relations.clear::<UserId>();
    relations.clear::<ProjectId>();
}

// Every key gets an answer, `None` for one that does not exist or may not be seen, so the
// cache remembers those too and a page never asks for them again row by row.

impl Loader<UserId> for Loaders {
    type Value = Option<VisibleUser>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, Self::Value>, Self::Error> {
        let mut found: HashMap<UserId, Self::Value> = keys.iter().map(|k| (*k, None)).collect();
        let users = self
            .services
            .users
            .get_many(&self.principal, keys)
            .await
            .map_err(from_domain)?;
        found.extend(users.into_iter().map(|u| (u.id, Some(u))));
        Ok(found)
    }
}

impl Loader<ProjectId> for Loaders {
    type Value = Option<Project>;
    type Error = async_graphql::Error;

    /// Projects the caller may not see are `None`, so a relation to one is null.
    async fn load(
        &self,
        keys: &[ProjectId],
    ) -> Result<HashMap<ProjectId, Self::Value>, Self::Error> {
        let mut found: HashMap<ProjectId, Self::Value> = keys.iter().map(|k| (*k, None)).collect();
        let projects = self
            .services
            .projects
            .get_many(&self.principal, keys)
            .await
            .map_err(from_domain)?;
        found.extend(projects.into_iter().map(|p| (p.id, Some(p))));
        Ok(found)
    }
}

/// One user, from the cache or a batch.
pub(crate) async fn user(
    ctx: &Context<'_>,
    id: UserId,
) -> async_graphql::Result<Option<VisibleUser>> {
    Ok(relations(ctx)?.load_one(id).await?.flatten())
}

/// One project the caller may see, from the cache or a batch.
pub(crate) async fn project(
    ctx: &Context<'_>,
    id: ProjectId,
) -> async_graphql::Result<Option<Project>> {
    Ok(relations(ctx)?.load_one(id).await?.flatten())
}

/// Reads `keys` in one batch now, puts the answers in the cache and returns them. The page
/// knows every key already, so this skips the loader's wait for more keys to join a batch
/// (which a page would otherwise pay once per level of relations).
async fn read_ahead<K>(
    relations: &Relations,
    mut keys: Vec<K>,
) -> async_graphql::Result<HashMap<K, <Loaders as Loader<K>>::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + Ord + 'static,
    Loaders: Loader<K, Error = async_graphql::Error>,
{
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let found = relations.loader().load(&keys).await?;
    relations.feed_many(found.clone()).await;
    Ok(found)
}

/// Reads ahead what the rows of an activity page (the field of `ctx`) will ask for: their
/// projects, then their assignees with those projects' managers and teams, each in one batch.
pub(crate) async fn prefetch_activities(
    ctx: &Context<'_>,
    rows: &[Activity],
) -> async_graphql::Result<()> {
    let results = ctx.look_ahead().field("results");
    let project = results.field("project");
    let relations = relations(ctx)?;
    let mut people: Vec<UserId> = Vec::new();
    if project.exists() {
        let projects = read_ahead(
            relations,
            rows.iter().filter_map(|a| a.project_id).collect(),
        )
        .await?;
        people.extend(people_of(projects.values().flatten(), &project));
    }
    if results.field("assignee").exists() {
        people.extend(rows.iter().filter_map(|a| a.assigned_to));
    }
    read_ahead(relations, people).await?;
    Ok(())
}

/// Reads ahead the managers and teams of a project page (the field of `ctx`), in one batch.
pub(crate) async fn prefetch_projects(
    ctx: &Context<'_>,
    rows: &[Project],
) -> async_graphql::Result<()> {
    let results = ctx.look_ahead().field("results");
    read_ahead(relations(ctx)?, people_of(rows.iter(), &results)).await?;
    Ok(())
}

/// The managers and team members of `projects` that `selection` (a project's) asks for.
fn people_of<'a>(
    projects: impl Iterator<Item = &'a Project>,
    selection: &async_graphql::Lookahead<'_>,
) -> Vec<UserId> {
    let (manager, team) = (
        selection.field("manager").exists(),
        selection.field("team").exists(),
    );
    let mut people = Vec::new();
    for p in projects {
        if manager {
            people.push(p.manager_id);
        }
        if team {
            people.extend(p.team_members.iter().copied());
        }
    }
    people
}

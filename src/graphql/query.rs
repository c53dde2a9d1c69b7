//! The query root: the REST reads, each through the service REST calls.

use async_graphql::{Context, InputObject, Object};

use super::caller;
use super::error::{OrGql, from_domain, snake};
use super::types::{
    Activity, ActivityStatus, ActivityType, ChatMessage, Notification, Page, Priority, Project,
    ProjectStatus, Role, SearchHit, SearchResult, Update, UpdateAcks, UpdateType, User, page_cost,
};
use crate::domain::time::Timestamp;
use crate::domain::{ActivityId, DomainError, MessageId, ProjectId, UpdateId, UserId};
use crate::service::activities::{ActivityQuery, parse_ordering};
use crate::service::pagination::PageRequest;
use crate::service::projects::ProjectQuery;
use crate::service::updates::UpdateQuery;
use crate::service::users::UserQuery;

/// The query root.
#[derive(Default)]
pub struct Query;

/// `page` and `pageSize` as REST checks them (`pageSize` capped at 200, below 1 refused).
pub(crate) fn page_request(
    page: Option<i64>,
    page_size: Option<i64>,
) -> async_graphql::Result<PageRequest> {
    PageRequest::parse(
        page.map(|p| p.to_string()).as_deref(),
        page_size.map(|p| p.to_string()).as_deref(),
    )
    .gql()
}

/// An RFC 3339 time (or a `YYYY-MM-DD` date meaning its midnight UTC), as REST reads one;
/// otherwise a validation error on `field`.
pub(crate) fn time_arg(field: &str, raw: Option<&str>) -> async_graphql::Result<Option<Timestamp>> {
    match raw.filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(raw) => crate::http::extract::parse_time(raw)
            .map(Some)
            .ok_or_else(|| {
                from_domain(DomainError::field(
                    field,
                    "must be an RFC 3339 time such as 2026-11-28T09:30:00Z, or a date",
                ))
            }),
    }
}

/// Filters of an activity list (REST's query parameters).
#[derive(InputObject, Default, Clone)]
pub struct ActivityFilter {
    /// Only this status.
    pub status: Option<ActivityStatus>,
    /// Only this type.
    #[graphql(name = "type")]
    pub activity_type: Option<ActivityType>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Only assigned to this user.
    pub assigned_to: Option<u64>,
    /// Only created by this user.
    pub created_by: Option<u64>,
    /// Only in this project.
    pub project: Option<u64>,
    /// Only starting at or after (RFC 3339, or a date).
    pub start_after: Option<String>,
    /// Only starting at or before (RFC 3339, or a date).
    pub start_before: Option<String>,
    /// Words that must all match (the search box's language).
    pub q: Option<String>,
}

/// A page of the activities the caller may see.
pub(crate) async fn activity_page(
    ctx: &Context<'_>,
    filter: ActivityFilter,
    page: Option<i64>,
    page_size: Option<i64>,
    ordering: Option<String>,
) -> async_graphql::Result<Page<Activity>> {
    let caller = caller(ctx)?;
    let mut query = ActivityQuery::default();
    let f = &mut query.filter;
    f.status = filter.status.map(Into::into);
    f.activity_type = filter.activity_type.map(Into::into);
    f.priority = filter.priority.map(Into::into);
    f.assigned_to = filter.assigned_to.map(UserId);
    f.created_by = filter.created_by.map(UserId);
    f.project = filter.project.map(ProjectId);
    f.start_after = time_arg("start_after", filter.start_after.as_deref())?;
    f.start_before = time_arg("start_before", filter.start_before.as_deref())?;
    query.q = filter.q;
    if let Some(raw) = ordering.filter(|o| !o.is_empty()) {
        let (order, descending) = parse_ordering(&snake(&raw)).gql()?;
        query.order = order;
        query.descending = descending;
    }
    let page = caller
        .services
        .activities
        .list(&caller.principal, &query, page_request(page, page_size)?)
        .await
        .gql()?;
    super::loaders::prefetch_activities(ctx, &page.results).await?;
    Ok(Page::of(page, Activity))
}

/// Filters of the user directory.
#[derive(InputObject, Default)]
pub struct UserFilter {
    /// Only this role.
    pub role: Option<Role>,
    /// Only active (or inactive) users.
    pub is_active: Option<bool>,
    /// In username, display name or (for admins) email.
    pub q: Option<String>,
}

/// Filters of the project list.
#[derive(InputObject, Default)]
pub struct ProjectFilter {
    /// Only this status.
    pub status: Option<ProjectStatus>,
    /// Only managed by this user.
    pub manager: Option<u64>,
    /// Only with this team member.
    pub member: Option<u64>,
    /// Words that must all match.
    pub q: Option<String>,
}

/// Filters of the update list.
#[derive(InputObject, Default)]
pub struct UpdateFilter {
    /// Only this type.
    #[graphql(name = "type")]
    pub update_type: Option<UpdateType>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Only posted at or after (inclusive; RFC 3339, or a date).
    pub since: Option<String>,
}

fn ordering_of(ordering: Option<String>) -> Option<String> {
    ordering.filter(|o| !o.is_empty()).map(|o| snake(&o))
}

// Merged into the root `Query` (`graphql::QueryRoot`), so it needs a name of its own.
#[Object(name = "CoreQuery")]
impl Query {
    /// The caller.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        Ok(User(caller(ctx)?.principal.own_view()))
    }

    /// The user directory; ordering `username` (default), `createdAt`, `-` for descending.
    #[graphql(complexity = "page_cost(page_size, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        filter: Option<UserFilter>,
        page: Option<i64>,
        page_size: Option<i64>,
        ordering: Option<String>,
    ) -> async_graphql::Result<Page<User>> {
        let caller = caller(ctx)?;
        let filter = filter.unwrap_or_default();
        let query = UserQuery {
            role: filter.role.map(Into::into),
            is_active: filter.is_active,
            q: filter.q,
            ordering: ordering_of(ordering),
        };
        let page = caller
            .services
            .users
            .list(&caller.principal, query, page_request(page, page_size)?)
            .await
            .gql()?;
        Ok(Page::of(page, User))
    }

    /// One user.
    async fn user(&self, ctx: &Context<'_>, id: u64) -> async_graphql::Result<Option<User>> {
        let caller = caller(ctx)?;
        let user = caller
            .services
            .users
            .get(&caller.principal, UserId(id))
            .await
            .gql()?;
        Ok(Some(User(user)))
    }

    /// The activities the caller may see; ordering `startTime`, `endTime`, `priority`,
    /// `createdAt`, `updatedAt`, `title` (default `-createdAt`).
    #[graphql(complexity = "page_cost(page_size, child_complexity)")]
    async fn activities(
        &self,
        ctx: &Context<'_>,
        filter: Option<ActivityFilter>,
        page: Option<i64>,
        page_size: Option<i64>,
        ordering: Option<String>,
    ) -> async_graphql::Result<Page<Activity>> {
        activity_page(ctx, filter.unwrap_or_default(), page, page_size, ordering).await
    }

    /// One activity; null with a `not_found` error when there is none the caller may see.
    async fn activity(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> async_graphql::Result<Option<Activity>> {
        let caller = caller(ctx)?;
        let activity = caller
            .services
            .activities
            .get(&caller.principal, ActivityId(id))
            .await
            .gql()?;
        Ok(Some(Activity(activity)))
    }

    /// The projects the caller may see; ordering `name` (default), `startDate`, `endDate`,
    /// `createdAt`.
    #[graphql(complexity = "page_cost(page_size, child_complexity)")]
    async fn projects(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProjectFilter>,
        page: Option<i64>,
        page_size: Option<i64>,
        ordering: Option<String>,
    ) -> async_graphql::Result<Page<Project>> {
        let caller = caller(ctx)?;
        let filter = filter.unwrap_or_default();
        let query = ProjectQuery {
            status: filter.status.map(Into::into),
            manager: filter.manager.map(UserId),
            member: filter.member.map(UserId),
            q: filter.q,
            ordering: ordering_of(ordering),
        };
        let page = caller
            .services
            .projects
            .list(&caller.principal, query, page_request(page, page_size)?)
            .await
            .gql()?;
        super::loaders::prefetch_projects(ctx, &page.results).await?;
        Ok(Page::of(page, Project))
    }

    /// One project; null with a `not_found` error when there is none the caller may see.
    async fn project(&self, ctx: &Context<'_>, id: u64) -> async_graphql::Result<Option<Project>> {
        let caller = caller(ctx)?;
        let project = caller
            .services
            .projects
            .get(&caller.principal, ProjectId(id))
            .await
            .gql()?;
        Ok(Some(Project(project)))
    }

    /// Updates (announcements); ordering `createdAt`, `priority` (default `-createdAt`).
    /// `pendingAck: true`: only those the caller has yet to acknowledge, newest first (no
    /// filter or ordering with it).
    #[graphql(complexity = "page_cost(page_size, child_complexity)")]
    async fn updates(
        &self,
        ctx: &Context<'_>,
        filter: Option<UpdateFilter>,
        page: Option<i64>,
        page_size: Option<i64>,
        ordering: Option<String>,
        pending_ack: Option<bool>,
    ) -> async_graphql::Result<Page<Update>> {
        let caller = caller(ctx)?;
        let filter = filter.unwrap_or_default();
        let query = UpdateQuery {
            update_type: filter.update_type.map(Into::into),
            priority: filter.priority.map(Into::into),
            since: time_arg("since", filter.since.as_deref())?,
            ordering: ordering_of(ordering),
            pending_ack: pending_ack.unwrap_or(false),
        };
        let page = caller
            .services
            .updates
            .list(&caller.principal, query, page_request(page, page_size)?)
            .await
            .gql()?;
        Ok(Page::of(page, Update::from))
    }

    /// Who acknowledged an update and who has yet to, over the active users (its author,
    /// staff and admin).
    async fn update_acks(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> async_graphql::Result<Option<UpdateAcks>> {
        let caller = caller(ctx)?;
        let acks = caller
            .services
            .updates
            .acknowledgements(&caller.principal, UpdateId(id))
            .await
            .gql()?;
        Ok(Some(acks.into()))
    }

    /// One update.
    async fn update(&self, ctx: &Context<'_>, id: u64) -> async_graphql::Result<Option<Update>> {
        let caller = caller(ctx)?;
        let update = caller
            .services
            .updates
            .get(&caller.principal, UpdateId(id))
            .await
            .gql()?;
        Ok(Some(update.into()))
    }

    /// The caller's notifications, newest first; only unread ones with `unread: true`.
    #[graphql(complexity = "page_cost(page_size, child_complexity)")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        unread: Option<bool>,
        page: Option<i64>,
        page_size: Option<i64>,
    ) -> async_graphql::Result<Page<Notification>> {
        let caller = caller(ctx)?;
        let page = caller
            .services
            .updates
            .notifications(
                &caller.principal,
                unread.unwrap_or(false),
                page_request(page, page_size)?,
            )
            .await
            .gql()?;
        Ok(Page::of(page, Notification::from))
    }

    /// A conversation, newest first: the direct one with `withUserId`, or the room of
    /// `projectId` (exactly one); `before` a message id for older ones.
    #[graphql(complexity = "page_cost(page_size, child_complexity)")]
    async fn messages(
        &self,
        ctx: &Context<'_>,
        with_user_id: Option<u64>,
        project_id: Option<u64>,
        before: Option<u64>,
        page: Option<i64>,
        page_size: Option<i64>,
    ) -> async_graphql::Result<Page<ChatMessage>> {
        let caller = caller(ctx)?;
        let chat = &caller.services.chat;
        let conversation = chat
            .conversation(
                &caller.principal,
                with_user_id.map(UserId),
                project_id.map(ProjectId),
            )
            .await
            .gql()?;
        let page = chat
            .messages(
                &caller.principal,
                conversation,
                before.map(MessageId),
                page_request(page, page_size)?,
            )
            .await
            .gql()?;
        Ok(Page::of(page, ChatMessage::from))
    }

    /// Full-text search over what the caller may see; `kinds` among `activity`, `project`,
    /// `update`, `chat` (all when empty).
    #[graphql(complexity = "page_cost(page_size, child_complexity)")]
    async fn search(
        &self,
        ctx: &Context<'_>,
        q: String,
        kinds: Option<Vec<String>>,
        page: Option<i64>,
        page_size: Option<i64>,
    ) -> async_graphql::Result<SearchResult> {
        let caller = caller(ctx)?;
        let answer = caller
            .services
            .search
            .search(
                &caller.principal,
                &q,
                &kinds.unwrap_or_default(),
                page_request(page, page_size)?,
            )
            .await
            .gql()?;
        Ok(SearchResult {
            count: u64::try_from(answer.hits.count).unwrap_or(u64::MAX),
            took_ms: answer.took_ms,
            results: answer
                .hits
                .results
                .into_iter()
                .map(|h| SearchHit {
                    kind: h.kind,
                    id: h.id,
                    title: h.title,
                    snippet: h.snippet,
                    score: h.score,
                })
                .collect(),
        })
    }
}

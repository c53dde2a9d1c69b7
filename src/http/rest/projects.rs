//! `/api/projects/`: projects, their teams and their activities.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;

use super::ListBody;
use crate::http::openapi::ErrorBody;

use super::activities::{activity_query, list_for};
use super::users::UserView;
use crate::domain::activity::{Activity, ActivityStatus, ActivityType, Priority};
use crate::domain::project::{Project, ProjectStatus};
use crate::domain::{ProjectId, UserId};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, AuthUser, PathId, QueryMap};
use crate::service::activities::NewActivity;
use crate::service::projects::{NewProject, ProjectPatch, ProjectQuery};

/// Routes under `/api/projects`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(create))
        .route("/{id}", get(read).patch(update).delete(remove))
        .route("/{id}/team", get(team).post(add_member))
        .route("/{id}/team/{user_id}", delete(remove_member))
        .route("/{id}/activities", get(activities).post(create_activity))
}

#[utoipa::path(
    get,
    path = "/api/projects/",
    operation_id = "projects_list",
    tag = "projects",
    summary = "Projects you may see",
    params(("status" = Option<ProjectStatus>, Query), ("manager" = Option<u64>, Query, minimum = 1), ("member" = Option<u64>, Query, minimum = 1), ("q" = Option<String>, Query), ("ordering" = Option<String>, Query, pattern = r"^-?(name|start_date|end_date|created_at)$", description = "name, start_date, end_date or created_at; a leading - sorts descending"), ("page" = Option<u64>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u64>, Query, minimum = 1, description = "Rows per page (default 50; more than 200 is capped at 200)")),
    responses((status = 200, description = "A page of projects", body = ListBody<Project>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Json<ListBody<Project>>, ApiError> {
    let filter = ProjectQuery {
        status: query.parsed(
            "status",
            ProjectStatus::parse,
            &format!("one of {}", ProjectStatus::choices()),
        )?,
        manager: query.id("manager")?.map(UserId),
        member: query.id("member")?.map(UserId),
        q: query.get("q").map(str::to_string),
        ordering: query.get("ordering").map(str::to_string),
    };
    let page = state
        .services
        .projects
        .list(&me, filter, query.page()?)
        .await?;
    Ok(Json(ListBody::new(page, "/api/projects/", &query.0)))
}

#[utoipa::path(
    post,
    path = "/api/projects/",
    operation_id = "projects_create",
    tag = "projects",
    summary = "Create a project (admin or staff)",
    request_body = NewProject,
    responses((status = 201, description = "The created project", body = Project), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<NewProject>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.services.projects.create(&me, input).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/api/projects/{id}/",
    operation_id = "projects_read",
    tag = "projects",
    summary = "One project",
    params(("id" = u64, Path, minimum = 1, description = "The project's id")),
    responses((status = 200, description = "The project", body = Project), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<Project>, ApiError> {
    Ok(Json(state.services.projects.get(&me, ProjectId(id)).await?))
}

#[utoipa::path(
    patch,
    path = "/api/projects/{id}/",
    operation_id = "projects_update",
    tag = "projects",
    summary = "Change a project (admin or manager)",
    params(("id" = u64, Path, minimum = 1, description = "The project's id")),
    request_body = ProjectPatch,
    responses((status = 200, description = "The changed project", body = Project), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
    ApiJson(patch): ApiJson<ProjectPatch>,
) -> Result<Json<Project>, ApiError> {
    Ok(Json(
        state
            .services
            .projects
            .update(&me, ProjectId(id), patch)
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/projects/{id}/",
    operation_id = "projects_remove",
    tag = "projects",
    summary = "Delete a project (admin); its activities stay",
    params(("id" = u64, Path, minimum = 1, description = "The project's id")),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn remove(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state.services.projects.delete(&me, ProjectId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/projects/{id}/team/",
    operation_id = "projects_team",
    tag = "projects",
    summary = "The team",
    params(("id" = u64, Path, minimum = 1, description = "The project's id")),
    responses((status = 200, description = "The team, in directory form", body = Vec<UserView>), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn team(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let team = state.services.projects.team(&me, ProjectId(id)).await?;
    Ok(Json(team))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct MemberInput {
    user_id: UserId,
}

#[utoipa::path(
    post,
    path = "/api/projects/{id}/team/",
    operation_id = "projects_add_member",
    tag = "projects",
    summary = "Add a team member (admin or manager)",
    params(("id" = u64, Path, minimum = 1, description = "The project's id")),
    request_body = MemberInput,
    responses((status = 201, description = "The team after the addition", body = Vec<UserView>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn add_member(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
    ApiJson(input): ApiJson<MemberInput>,
) -> Result<(StatusCode, Json<Vec<UserView>>), ApiError> {
    let team = state
        .services
        .projects
        .add_member(&me, ProjectId(id), input.user_id)
        .await?;
    Ok((StatusCode::CREATED, Json(team)))
}

#[utoipa::path(
    delete,
    path = "/api/projects/{id}/team/{user_id}/",
    operation_id = "projects_remove_member",
    tag = "projects",
    summary = "Remove a team member (admin or manager)",
    params(("id" = u64, Path, minimum = 1, description = "The project's id"), ("user_id" = u64, Path, minimum = 1, description = "The user's id")),
    responses((status = 204, description = "Removed"), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn remove_member(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    path: Result<Path<(u64, u64)>, axum::extract::rejection::PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path((id, user_id)) = path?;
    state
        .services
        .projects
        .remove_member(&me, ProjectId(id), UserId(user_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/projects/{id}/activities/",
    operation_id = "projects_activities",
    tag = "projects",
    summary = "The project's activities",
    params(("id" = u64, Path, minimum = 1, description = "The project's id"), ("status" = Option<ActivityStatus>, Query), ("type" = Option<ActivityType>, Query), ("priority" = Option<Priority>, Query), ("assigned_to" = Option<u64>, Query, minimum = 1), ("created_by" = Option<u64>, Query, minimum = 1), ("project" = Option<u64>, Query, minimum = 1), ("start_after" = Option<String>, Query, format = DateTime, description = "RFC 3339 time, or a YYYY-MM-DD date meaning its midnight UTC; inclusive"), ("start_before" = Option<String>, Query, format = DateTime, description = "RFC 3339 time, or a YYYY-MM-DD date meaning its midnight UTC; inclusive"), ("q" = Option<String>, Query, description = "Words that must all match"), ("ordering" = Option<String>, Query, pattern = r"^-?(start_time|end_time|priority|created_at|updated_at|title)$", description = "start_time, end_time, priority, created_at, updated_at or title; a leading - sorts descending"), ("page" = Option<u64>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u64>, Query, minimum = 1, description = "Rows per page (default 50; more than 200 is capped at 200)")),
    responses((status = 200, description = "A page of the project's activities", body = ListBody<Activity>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn activities(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
    query: QueryMap,
) -> Result<Json<ListBody<Activity>>, ApiError> {
    let project = state.services.projects.get(&me, ProjectId(id)).await?;
    let mut activity_query = activity_query(&query)?;
    activity_query.filter.project = Some(project.id);
    list_for(
        &state,
        &me,
        &query,
        activity_query,
        &format!("/api/projects/{id}/activities/"),
    )
    .await
}

#[utoipa::path(
    post,
    path = "/api/projects/{id}/activities/",
    operation_id = "projects_create_activity",
    tag = "projects",
    summary = "Create an activity in the project",
    params(("id" = u64, Path, minimum = 1, description = "The project's id")),
    request_body = NewActivity,
    responses((status = 201, description = "The created activity", body = Activity), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn create_activity(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
    ApiJson(mut input): ApiJson<NewActivity>,
) -> Result<(StatusCode, Json<Activity>), ApiError> {
    let project = state.services.projects.get(&me, ProjectId(id)).await?;
    input.project_id = Some(project.id);
    Ok((
        StatusCode::CREATED,
        Json(state.services.activities.create(&me, input).await?),
    ))
}

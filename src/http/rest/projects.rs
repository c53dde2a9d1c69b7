//! `/api/projects/`: projects, their teams and their activities.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;

use super::ListBody;
use super::activities::{activity_query, list_for};
use super::users::UserView;
use crate::domain::activity::Activity;
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

async fn list(
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

async fn create(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<NewProject>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.services.projects.create(&me, input).await?),
    ))
}

async fn read(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<Project>, ApiError> {
    Ok(Json(state.services.projects.get(&me, ProjectId(id)).await?))
}

async fn update(
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

async fn remove(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state.services.projects.delete(&me, ProjectId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn team(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let team = state.services.projects.team(&me, ProjectId(id)).await?;
    Ok(Json(
        team.into_iter()
            .map(|u| UserView::new(u, &me.user))
            .collect(),
    ))
}

#[derive(Deserialize)]
struct MemberInput {
    user_id: UserId,
}

async fn add_member(
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
    Ok((
        StatusCode::CREATED,
        Json(
            team.into_iter()
                .map(|u| UserView::new(u, &me.user))
                .collect(),
        ),
    ))
}

async fn remove_member(
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

async fn activities(
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

async fn create_activity(
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

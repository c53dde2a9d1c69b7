//! `/api/activities/`: list, create, read, change, delete, types, statuses and CSV export.

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::ListBody;
use crate::domain::activity::{Activity, ActivityStatus, ActivityType, Priority};
use crate::domain::time::Timestamp;
use crate::domain::{ActivityId, ProjectId, UserId};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, AuthUser, PathId, QueryMap};
use crate::http::openapi::{Choice, ErrorBody, StatusChoice};
use crate::service::Principal;
use crate::service::activities::{ActivityPatch, ActivityQuery, NewActivity, parse_ordering};

/// Routes under `/api/activities`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(create))
        .route("/types", get(types))
        .route("/statuses", get(statuses))
        .route("/export.csv", get(export))
        .route("/{id}", get(read).patch(update).delete(remove))
}

/// Parses the filters, `q` and `ordering` shared by lists and the export.
pub fn activity_query(query: &QueryMap) -> Result<ActivityQuery, ApiError> {
    let mut q = ActivityQuery::default();
    let f = &mut q.filter;
    f.status = query.parsed(
        "status",
        ActivityStatus::parse,
        &format!("one of {}", ActivityStatus::choices()),
    )?;
    f.activity_type = query.parsed(
        "type",
        ActivityType::parse,
        &format!("one of {}", ActivityType::choices()),
    )?;
    f.priority = query.parsed(
        "priority",
        Priority::parse,
        &format!("one of {}", Priority::choices()),
    )?;
    f.assigned_to = query.id("assigned_to")?.map(UserId);
    f.created_by = query.id("created_by")?.map(UserId);
    f.project = query.id("project")?.map(ProjectId);
    f.start_after = query.time("start_after")?;
    f.start_before = query.time("start_before")?;
    q.q = query.get("q").map(str::to_string);
    if let Some(raw) = query.get("ordering") {
        let (order, descending) = parse_ordering(raw)?;
        q.order = order;
        q.descending = descending;
    }
    Ok(q)
}

/// A page of activities for `path`, shaped as a list body.
pub async fn list_for(
    state: &AppState,
    me: &Principal,
    query: &QueryMap,
    activity_query: ActivityQuery,
    path: &str,
) -> Result<Json<ListBody<Activity>>, ApiError> {
    let page = state
        .services
        .activities
        .list(me, &activity_query, query.page()?)
        .await?;
    Ok(Json(ListBody::new(page, path, &query.0)))
}

#[utoipa::path(
    get,
    path = "/api/activities/",
    operation_id = "activities_list",
    tag = "activities",
    summary = "Activities you may see",
    params(("status" = Option<ActivityStatus>, Query), ("type" = Option<ActivityType>, Query), ("priority" = Option<Priority>, Query), ("assigned_to" = Option<u64>, Query, minimum = 1), ("created_by" = Option<u64>, Query, minimum = 1), ("project" = Option<u64>, Query, minimum = 1), ("start_after" = Option<String>, Query, format = DateTime, description = "RFC 3339 time, or a YYYY-MM-DD date meaning its midnight UTC; inclusive"), ("start_before" = Option<String>, Query, format = DateTime, description = "RFC 3339 time, or a YYYY-MM-DD date meaning its midnight UTC; inclusive"), ("q" = Option<String>, Query, description = "Words that must all match"), ("ordering" = Option<String>, Query, pattern = r"^-?(start_time|end_time|priority|created_at|updated_at|title)$", description = "start_time, end_time, priority, created_at, updated_at or title; a leading - sorts descending"), ("page" = Option<u64>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u64>, Query, minimum = 1, description = "Rows per page (default 50; more than 200 is capped at 200)")),
    responses((status = 200, description = "A page of activities", body = ListBody<Activity>), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Json<ListBody<Activity>>, ApiError> {
    let activity_query = activity_query(&query)?;
    list_for(&state, &me, &query, activity_query, "/api/activities/").await
}

#[utoipa::path(
    post,
    path = "/api/activities/",
    operation_id = "activities_create",
    tag = "activities",
    summary = "Create an activity",
    request_body = NewActivity,
    responses((status = 201, description = "The created activity", body = Activity), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(input): ApiJson<NewActivity>,
) -> Result<(StatusCode, Json<Activity>), ApiError> {
    let activity = state.services.activities.create(&me, input).await?;
    Ok((StatusCode::CREATED, Json(activity)))
}

#[utoipa::path(
    get,
    path = "/api/activities/{id}/",
    operation_id = "activities_read",
    tag = "activities",
    summary = "One activity",
    params(("id" = u64, Path, minimum = 1, description = "The activity's id")),
    responses((status = 200, description = "The activity", body = Activity), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<Json<Activity>, ApiError> {
    Ok(Json(
        state.services.activities.get(&me, ActivityId(id)).await?,
    ))
}

#[utoipa::path(
    patch,
    path = "/api/activities/{id}/",
    operation_id = "activities_update",
    tag = "activities",
    summary = "Change an activity",
    params(("id" = u64, Path, minimum = 1, description = "The activity's id")),
    request_body = ActivityPatch,
    responses((status = 200, description = "The changed activity", body = Activity), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 409, description = "Conflict", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Body is not JSON", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
    ApiJson(patch): ApiJson<ActivityPatch>,
) -> Result<Json<Activity>, ApiError> {
    Ok(Json(
        state
            .services
            .activities
            .update(&me, ActivityId(id), patch)
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/activities/{id}/",
    operation_id = "activities_remove",
    tag = "activities",
    summary = "Delete an activity",
    params(("id" = u64, Path, minimum = 1, description = "The activity's id")),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 404, description = "No such object, or not visible", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn remove(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state
        .services
        .activities
        .delete(&me, ActivityId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/activities/types/",
    operation_id = "activities_types",
    tag = "activities",
    summary = "Activity types",
    responses((status = 200, description = "Every activity type", body = Vec<Choice>), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn types(AuthUser(_me): AuthUser) -> Json<Vec<Value>> {
    Json(
        ActivityType::ALL
            .iter()
            .map(|t| json!({"value": t.as_str(), "label": t.label()}))
            .collect(),
    )
}

#[utoipa::path(
    get,
    path = "/api/activities/statuses/",
    operation_id = "activities_statuses",
    tag = "activities",
    summary = "Activity statuses",
    responses((status = 200, description = "Every activity status", body = Vec<StatusChoice>), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn statuses(AuthUser(_me): AuthUser) -> Json<Vec<Value>> {
    Json(
        ActivityStatus::ALL
            .iter()
            .map(|s| json!({"value": s.as_str(), "label": s.label(), "terminal": s.is_terminal()}))
            .collect(),
    )
}

/// The CSV columns, in order: the activity's JSON fields.
const CSV_HEADER: &str = "id,title,description,type,status,priority,start_time,end_time,assigned_to,created_by,project_id,created_at,updated_at,version\r\n";
/// Rows read per chunk of the streamed export.
const CSV_CHUNK: usize = 500;

/// Quotes a CSV field when it holds a comma, quote or line break (RFC 4180).
pub fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

fn csv_time(t: Option<Timestamp>) -> String {
    t.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
    .unwrap_or_default()
}

fn opt_id<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// One activity as a CSV line.
pub fn csv_row(a: &Activity) -> String {
    let fields = [
        a.id.to_string(),
        csv_field(&a.title),
        csv_field(&a.description),
        a.activity_type.as_str().to_string(),
        a.status.as_str().to_string(),
        a.priority.as_str().to_string(),
        csv_time(a.start_time),
        csv_time(a.end_time),
        opt_id(a.assigned_to),
        a.created_by.to_string(),
        opt_id(a.project_id),
        csv_time(Some(a.created_at)),
        csv_time(Some(a.updated_at)),
        a.version.to_string(),
    ];
    let mut line = fields.join(",");
    line.push_str("\r\n");
    line
}

/// Streams the filtered list as CSV, reading rows in chunks so a large export does not sit in
/// memory.
#[utoipa::path(
    get,
    path = "/api/activities/export.csv",
    operation_id = "activities_export",
    tag = "activities",
    summary = "The filtered list as CSV",
    params(("status" = Option<ActivityStatus>, Query), ("type" = Option<ActivityType>, Query), ("priority" = Option<Priority>, Query), ("assigned_to" = Option<u64>, Query, minimum = 1), ("created_by" = Option<u64>, Query, minimum = 1), ("project" = Option<u64>, Query, minimum = 1), ("start_after" = Option<String>, Query, format = DateTime, description = "RFC 3339 time, or a YYYY-MM-DD date meaning its midnight UTC; inclusive"), ("start_before" = Option<String>, Query, format = DateTime, description = "RFC 3339 time, or a YYYY-MM-DD date meaning its midnight UTC; inclusive"), ("q" = Option<String>, Query, description = "Words that must all match"), ("ordering" = Option<String>, Query, pattern = r"^-?(start_time|end_time|priority|created_at|updated_at|title)$", description = "start_time, end_time, priority, created_at, updated_at or title; a leading - sorts descending")),
    responses((status = 200, description = "CSV, header row first", content_type = "text/csv", body = String), (status = 400, description = "Invalid input", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn export(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    query: QueryMap,
) -> Result<Response, ApiError> {
    let activity_query = activity_query(&query)?;
    let ids = state
        .services
        .activities
        .export_ids(&me, &activity_query)
        .await?;
    let service = state.services.activities.clone();
    let chunks =
        futures_util::stream::unfold((ids, 0usize, false), move |(ids, at, header_sent)| {
            let service = service.clone();
            async move {
                if !header_sent {
                    return Some((
                        Ok::<_, std::io::Error>(CSV_HEADER.to_string()),
                        (ids, at, true),
                    ));
                }
                if at >= ids.len() {
                    return None;
                }
                let end = (at + CSV_CHUNK).min(ids.len());
                match service.export_rows(&ids[at..end]).await {
                    Ok(rows) => {
                        let text: String = rows.iter().map(csv_row).collect();
                        Some((Ok(text), (ids, end, true)))
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "CSV export failed part-way");
                        Some((
                            Err(std::io::Error::other("export failed")),
                            (ids, usize::MAX, true),
                        ))
                    }
                }
            }
        });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"activities.csv\"",
            ),
        ],
        Body::from_stream(chunks),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }
}

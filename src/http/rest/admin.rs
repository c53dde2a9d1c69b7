//! `/api/admin/`: operations for admins over HTTP, such as downloading a fresh backup.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::backup::ChannelWriter;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::http::openapi::ErrorBody;
use crate::service::backup::{BackupService, Requester};

/// Routes under `/api/admin`.
pub fn router() -> Router<AppState> {
    Router::new().route("/backup", get(backup))
}

#[utoipa::path(
    get,
    path = "/api/admin/backup/",
    operation_id = "admin_backup",
    tag = "admin",
    summary = "Download a fresh backup archive (admin)",
    description = "A consistent copy of the database taken now, as `nexus backup` makes it (sent as `application/octet-stream`): a gzip'd tar holding `manifest.json`, the database and the signing key. Restore it with `nexus restore FILE`. The body streams while the copy is packed; if packing fails midway the connection is cut, so a partial download never passes `nexus backup verify`.",
    responses((status = 200, description = "The archive", content_type = "application/octet-stream", body = Vec<u8>), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Not allowed", body = ErrorBody), (status = 429, description = "Rate limited", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until a request may succeed")))),
    security(("bearer" = []))
)]
pub async fn backup(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
) -> Result<Response, ApiError> {
    BackupService::may_take(&me)?;
    let (writer, mut chunks) = ChannelWriter::new();
    let (failed_tx, mut failed) = tokio::sync::oneshot::channel();
    let service = state.services.backup.clone();
    tokio::spawn(async move {
        let made = service
            .write(Requester::User(&me), writer, crate::backup::quiet())
            .await;
        let _ = failed_tx.send(made.is_err());
    });
    let stream = async_stream::stream! {
        while let Some(chunk) = chunks.recv().await {
            yield Ok::<_, std::io::Error>(chunk);
        }
        // The writer is gone: either the archive is complete or the backup failed, and then
        // the body must end in an error, not look complete.
        if !matches!((&mut failed).await, Ok(false)) {
            yield Err(std::io::Error::other("the backup failed"));
        }
    };
    let name = format!(
        "attachment; filename=\"nexus-backup-{}.tar.gz\"",
        crate::domain::time::now().unix_timestamp()
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

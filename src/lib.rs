//! Nexus: shop-floor operations for a small plant, as one self-contained server.
//!
//! `run` is the whole server; `main` and the integration tests both call it, the tests on
//! port 0 with a temporary data directory.

pub mod cli;
pub mod config;
pub mod domain;
pub mod events;
pub mod http;
pub mod search;
pub mod service;
pub mod signing_key;
pub mod store;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tower::Layer as _;
use tower_http::normalize_path::NormalizePathLayer;

use config::Config;
use events::EventBus;
use service::Services;
use store::redb::RedbStore;

/// How long in-flight requests may run on after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory is unusable.
    #[error("data directory {dir}: {reason}")]
    DataDir {
        /// The directory.
        dir: String,
        /// Why.
        reason: String,
    },
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] store::redb::OpenError),
    /// The signing key could not be read or made.
    #[error(transparent)]
    Key(#[from] signing_key::KeyError),
    /// First-start setup failed.
    #[error("first-start setup failed: {0}")]
    Bootstrap(String),
    /// Serving failed.
    #[error("server error: {0}")]
    Serve(String),
}

/// Makes sure `dir` exists and is a directory, creating it (owner-only) if needed.
fn prepare_data_dir(dir: &Path) -> Result<(), StartError> {
    let fail = |reason: String| StartError::DataDir {
        dir: dir.display().to_string(),
        reason,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(fail("exists but is not a directory".into()));
    }
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create it: {e}")))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| fail(format!("cannot restrict its permissions: {e}")))?;
        }
    }
    Ok(())
}

/// Opens the data directory, prepares first start, and serves on `listener` until `shutdown`
/// completes; then drains in-flight requests (up to 10 s), commits what is queued and returns.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let data_dir = config.server.data_dir.clone();
    prepare_data_dir(&data_dir)?;
    let key = signing_key::load_or_create(&data_dir, config.jwt_secret.as_ref())?;
    let bus = EventBus::new();
    let store = {
        let dir = data_dir.clone();
        let bus = bus.clone();
        let options = store::redb::OpenOptions::of(&config.server);
        tokio::task::spawn_blocking(move || RedbStore::open_with(&dir, bus, options))
            .await
            .map_err(|e| StartError::Bootstrap(e.to_string()))??
    };
    let (index, needs_rebuild) = {
        let dir = data_dir.clone();
        tokio::task::spawn_blocking(move || search::SearchIndex::open(&dir))
            .await
            .map_err(|e| StartError::Bootstrap(e.to_string()))?
            .map_err(|e| StartError::Bootstrap(e.to_string()))?
    };
    let services = Services::new(&config, Arc::new(store.clone()), &key, index.clone())
        .map_err(|e| StartError::Bootstrap(e.to_string()))?;
    let admin_password = config.admin_password.as_ref().map(|s| s.expose());
    match services.users.bootstrap_admin(admin_password).await {
        Ok(Some((user, Some(generated)))) => {
            println!(
                "First start: created user '{}' with password: {generated}\n\
                 This password is shown only once; change it after signing in.",
                user.username
            );
        }
        Ok(Some((user, None))) => {
            tracing::info!(username = %user.username, "first start: created admin user from NEXUS_ADMIN_PASSWORD");
        }
        Ok(None) => {}
        Err(e) => return Err(StartError::Bootstrap(e.to_string())),
    }
    let mut needs_rebuild = needs_rebuild;
    if needs_rebuild && matches!(services.store.searchable_count().await, Ok(0)) {
        // Nothing to index: the new index is ready before the first request.
        services
            .search
            .index()
            .rebuild(services.store.as_ref())
            .await
            .map_err(|e| StartError::Bootstrap(e.to_string()))?;
        needs_rebuild = false;
    }
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
    let follower = tokio::spawn(index.clone().follow(
        services.store.clone(),
        bus.clone(),
        needs_rebuild,
        stopping_rx.clone(),
    ));
    let floor = index.clone();
    tokio::spawn(service::retention::run(
        services.store.clone(),
        config.changes.clone(),
        move || floor.indexed_seq(),
        stopping_rx.clone(),
    ));
    let state = http::AppState::new(&config, services, bus.clone(), stopping_rx);
    let app = NormalizePathLayer::trim_trailing_slash().layer(http::router(&config, state));
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, data_dir = %data_dir.display(), "nexus serving");
    }

    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: no new requests, draining in-flight ones");
        // Live connections close with a going-away message.
        let _ = stopping_tx.send(true);
    };
    http::serve::serve(
        listener,
        app,
        http::serve::ConnectionLimits::of(&config.server),
        signal,
        DRAIN_TIMEOUT,
    )
    .await;
    // The search index flushes what it has not committed yet.
    let _ = tokio::time::timeout(Duration::from_secs(10), follower).await;
    store.close().await;
    tracing::info!("nexus stopped");
    Ok(())
}
